//! The `inlink` binary end to end: import, query, serve over real HTTP on loopback, and an
//! import killed with SIGKILL part-way.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_inlink");

fn inlink(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .env("INLINK_LOG", "warn")
        .output()
        .unwrap()
}

fn write_dump(path: &Path, pages: u64, seed: u64) {
    let pages = inlink_import::demo::generate(pages, seed);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    inlink_import::demo::write_xml(&mut f, "Test Wiki", &pages).unwrap();
}

#[test]
fn help_on_every_command() {
    for args in [
        &["--help"][..],
        &["import", "--help"],
        &["serve", "--help"],
        &["query", "backlinks", "--help"],
        &["bench", "--help"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn import_then_query() {
    let d = tempfile::tempdir().unwrap();
    let dump = d.path().join("wiki.xml");
    std::fs::write(
        &dump,
        r#"<mediawiki><siteinfo><sitename>W</sitename></siteinfo>
<page><title>Hub</title><ns>0</ns><id>1</id><revision><text>hub</text></revision></page>
<page><title>A</title><ns>0</ns><id>2</id><revision><text>[[hub]]</text></revision></page>
<page><title>Talk:B</title><ns>1</ns><id>3</id><revision><text>[[Hub#x|see]]</text></revision></page>
<page><title>R</title><ns>0</ns><id>4</id><redirect title="Hub" /><revision><text>#REDIRECT [[Hub]]</text></revision></page>
</mediawiki>"#,
    )
    .unwrap();
    let data = d.path().join("data");
    let out = inlink(&data, &["import", dump.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pages 4") && text.contains("redirects 1"),
        "{text}"
    );
    let out = inlink(&data, &["query", "backlinks", " hub "]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2\t0\tA\n3\t1\tTalk:B\n4\t0\tR\t(redirect)\n"
    );
    let out = inlink(
        &data,
        &["query", "backlinks", "Hub", "-n", "1", "-n", "0", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pageid"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids,
        [2, 4, 3],
        "namespace first when two namespaces are asked for"
    );
    let out = inlink(&data, &["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("checksums and invariants are sound"));
    let out = inlink(&data, &["stats"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(" pages, "));
    let out = inlink(&data, &["query", "backlinks", "Foo[bar"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid title"));
    let out = inlink(
        &data,
        &["import", "--format", "markdown", dump.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a Markdown vault is a folder"));
}

fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    Some(r)
}

fn http_post_form(addr: &str, path: &str, body: &str) -> Option<String> {
    http_post(addr, path, "application/x-www-form-urlencoded", body)
}

fn http_post(addr: &str, path: &str, content_type: &str, body: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    Some(r)
}

/// One request with extra header lines; the whole reply.
fn http_raw(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let host = if headers.contains("Host:") {
        String::new()
    } else {
        format!("Host: {addr}\r\n")
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\n{host}{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    r
}

fn body_of(reply: &str) -> &str {
    reply.split("\r\n\r\n").nth(1).unwrap_or("")
}

/// Starts `inlink serve --demo` with extra arguments; returns the child and its address.
fn serve_demo(d: &Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(d)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("INLINK_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.rsplit("http://").next().unwrap().trim().to_string();
    (child, addr)
}

#[test]
fn siyuan_endpoints_need_the_token_or_a_loopback_client() {
    let d = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve_demo(d.path(), &["--token", "s3cret"]);
    let ask = r#"{"id":"20200101000000-aaaaaaa","k":"","mk":""}"#;
    let path = "/api/ref/getBacklink2";
    let denied = r#"{"code":-1,"msg":"Auth failed [header: Authorization]"}"#;
    let r = http_raw(&addr, "POST", path, "", ask);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    assert_eq!(body_of(&r), denied);
    let r = http_raw(&addr, "POST", path, "Authorization: Token nope\r\n", ask);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    assert_eq!(body_of(&r), denied);
    let ok = r#"{"code":0,"msg":"","data":{"backlinks":[],"linkRefsCount":0,"backmentions":[],"mentionsCount":0,"k":"","mk":"","box":""}}"#;
    for auth in [
        "Authorization: Token s3cret\r\n",
        "Authorization: Bearer s3cret\r\n",
    ] {
        let r = http_raw(&addr, "POST", path, auth, ask);
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert_eq!(body_of(&r), ok);
    }
    let r = http_raw(&addr, "POST", &format!("{path}?token=s3cret"), "", ask);
    assert_eq!(body_of(&r), ok);
    let r = http_raw(&addr, "POST", &format!("{path}?token=bad"), "", ask);
    assert_eq!(
        body_of(&r),
        r#"{"code":-1,"msg":"Auth failed [query: token]"}"#
    );
    // Arguments and bodies are answered in the envelope, never with a 5xx.
    let auth = "Authorization: Token s3cret\r\n";
    let r = http_raw(&addr, "POST", path, auth, "{}");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(
        body_of(&r),
        r#"{"code":-1,"msg":"JSON arg [id] is required","data":null}"#
    );
    let r = http_raw(&addr, "POST", path, auth, "not json");
    assert!(
        body_of(&r)
            .starts_with(r#"{"code":-1,"msg":"Parses request [/api/ref/getBacklink2] failed: "#),
        "{r}"
    );
    let r = http_raw(&addr, "GET", path, auth, "");
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    let r = http_raw(&addr, "POST", "/api/ref/getNothing", auth, "{}");
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    child.kill().unwrap();
    child.wait().unwrap();

    // Without a token: loopback clients only, judged by address and by Host/Origin.
    let d = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve_demo(d.path(), &[]);
    let r = http_raw(&addr, "POST", path, "", ask);
    assert_eq!(body_of(&r), ok, "{r}");
    let r = http_raw(&addr, "POST", path, "Host: notes.example.com\r\n", ask);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = http_raw(&addr, "POST", path, "Origin: https://evil.example\r\n", ask);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = http_raw(
        &addr,
        "POST",
        path,
        "Origin: http://localhost:6806\r\n",
        ask,
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_demo_answers_healthz_and_stops_on_sigterm() {
    let d = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve_demo(d.path(), &[]);
    let reply = http_get(&addr, "/healthz").expect("server answers");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let api = http_get(&addr, "/w/api.php?action=query&list=backlinks&bltitle=River_science_0&bllimit=2&format=json&formatversion=2").unwrap();
    assert!(api.starts_with("HTTP/1.1 200"), "{api}");
    assert!(
        api.contains(r#"{"batchcomplete":true,"continue":{"blcontinue":"#),
        "{api}"
    );
    let err = http_get(&addr, "/api.php?action=query&list=backlinks&format=json").unwrap();
    assert!(
        err.to_ascii_lowercase()
            .contains("mediawiki-api-error: missingparam"),
        "{err}"
    );
    let post = http_post_form(
        &addr,
        "/w/api.php",
        "action=query&list=backlinks&bltitle=River%20science%200&format=json",
    )
    .unwrap();
    assert!(post.contains(r#""backlinks":[{"pageid":"#), "{post}");
    let mut multipart = String::new();
    for (k, v) in [
        ("action", "query"),
        ("list", "backlinks"),
        ("bltitle", "River science 0"),
        ("format", "json"),
        ("formatversion", "2"),
    ] {
        multipart.push_str(&format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    multipart.push_str("--XyZ--\r\n");
    let mp = http_post(
        &addr,
        "/w/api.php",
        "multipart/form-data; boundary=XyZ",
        &multipart,
    )
    .unwrap();
    assert!(
        mp.contains(r#"{"batchcomplete":true,"#) && mp.contains(r#""backlinks":[{"pageid":"#),
        "{mp}"
    );
    let missing = http_get(&addr, "/nope").unwrap();
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    let out = inlink(d.path(), &["query", "backlinks", "Template:Stub"]);
    // The store is locked by the server; a second process says so instead of failing silently.
    assert!(!out.status.success());
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful exit after SIGTERM: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The demo wiki is in the index.
    let out = inlink(
        d.path(),
        &["query", "backlinks", "Template:Infobox", "--json"],
    );
    assert!(out.status.success());
}

#[test]
fn import_killed_mid_way_leaves_a_usable_index() {
    let d = tempfile::tempdir().unwrap();
    let dump = d.path().join("big.xml");
    write_dump(&dump, 20_000, 3);
    let data: PathBuf = d.path().join("data");
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .arg("import")
        .arg(&dump)
        .env("INLINK_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    // The index opens, answers, and a fresh import over it completes and is complete.
    let out = inlink(&data, &["query", "backlinks", "River science 0"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = inlink(&data, &["import", dump.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = d.path().join("fresh");
    inlink(&fresh, &["import", dump.to_str().unwrap()]);
    for t in ["River science 0", "Geography", "Help:Infoboxes"] {
        let a = inlink(&data, &["query", "backlinks", t, "--limit", "100000"]).stdout;
        let b = inlink(&fresh, &["query", "backlinks", t, "--limit", "100000"]).stdout;
        assert!(!b.is_empty(), "{t} has backlinks");
        assert_eq!(a, b, "{t}");
    }
}

/// The benchmarks run at a smoke size: they work and print their ratios.
#[test]
fn bench_commands_run_at_smoke_size() {
    let runs: [(&[&str], &str); 5] = [
        (
            &[
                "bench",
                "scale",
                "--pages",
                "3000",
                "--samples",
                "20",
                "--xml",
            ],
            "cursor resumed at row",
        ),
        (
            &[
                "bench",
                "notes",
                "--notes",
                "300",
                "--samples",
                "20",
                "--scans",
                "2",
            ],
            "ratio scan / mentions",
        ),
        (
            &["bench", "extract", "--articles", "300", "--passes", "1"],
            "ratio extraction / scan",
        ),
        (
            &["bench", "xml-import", "--articles", "300"],
            "ratio import(.bz2) / bzip2 -dc",
        ),
        (
            &["bench", "http", "--seconds", "1", "--connections", "2"],
            "ratio to /healthz",
        ),
    ];
    for (args, expected) in runs {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(expected),
            "{args:?}"
        );
    }
}
