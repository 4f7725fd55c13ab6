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
    serve(d, &[&["--demo"], extra].concat())
}

/// Starts `inlink serve` on loopback with extra arguments; returns the child and its address.
fn serve(d: &Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(d)
        .args(["serve", "--listen", "127.0.0.1:0"])
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
    // CORS is off unless configured.
    let r = http_raw(
        &addr,
        "GET",
        "/healthz",
        "Origin: https://app.example\r\n",
        "",
    );
    assert!(!r.to_ascii_lowercase().contains("access-control"), "{r}");
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

/// SQL dumps into an empty index go through the bulk load, which commits once at the end:
/// killed part-way (while reading the tables, and later, while sorting or building the
/// segment), the index opens sound with all of the load or none of it, no scratch file is
/// left (in the index or the temporary directory), and a new import over it gives what a
/// fresh one gives.
#[test]
fn sql_bulk_load_killed_mid_way_leaves_an_empty_sound_index() {
    let d = tempfile::tempdir().unwrap();
    let g =
        inlink_import::demo_enwiki::write_sql(&d.path().join("dumps"), "w", 150_000, 4).unwrap();
    let want = format!("150000 pages, {} redirects", g.redirects);
    // The whole import takes several seconds in a debug build.
    killed_bulk_loads(d.path(), &g.files, &want, g.pagelinks, &[900, 5000]);
}

/// The same for an XML dump, which is bulk loaded page by page with its link rows.
#[test]
fn xml_bulk_load_killed_mid_way_leaves_an_empty_sound_index() {
    let d = tempfile::tempdir().unwrap();
    let dumps = d.path().join("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    let (xml, _) = inlink_import::demo_enwiki::write_xml_bz2(&dumps, "w", 8_000, 4).unwrap();
    let g = inlink_import::demo_enwiki::write_sql(&dumps, "w", 8_000, 4).unwrap();
    let want = format!("8000 pages, {} redirects", g.redirects);
    killed_bulk_loads(d.path(), &[xml], &want, g.pagelinks, &[250, 800]);
}

/// Imports `files` fresh, then again killed after each of `kills_ms` milliseconds; the
/// fresh index's counts start with `want` and hold `pagelinks` page links.
fn killed_bulk_loads(dir: &Path, files: &[PathBuf], want: &str, pagelinks: u64, kills_ms: &[u64]) {
    let files: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    let import_args: Vec<&str> = ["import"]
        .into_iter()
        .chain(files.iter().copied())
        .collect();
    // The counts line: "<dir>: N pages, N redirects, N targets; pagelinks N, …".
    let counts = |dir: &Path| {
        let out = String::from_utf8_lossy(&inlink(dir, &["stats"]).stdout).into_owned();
        let first = out.lines().next().unwrap_or_default().to_string();
        first
            .split_once(": ")
            .map(|(_, c)| c.to_string())
            .unwrap_or(first)
    };
    let fresh = dir.join("fresh");
    inlink(&fresh, &import_args);
    let full = counts(&fresh);
    assert!(full.starts_with(want), "{full}");
    assert!(full.contains(&format!("pagelinks {pagelinks}")), "{full}");
    for (i, &ms) in kills_ms.iter().enumerate() {
        let data: PathBuf = dir.join(format!("data-{i}"));
        // The import's own scratch space, to see what a kill leaves in it.
        let tmp = dir.join(format!("tmp-{i}"));
        std::fs::create_dir_all(&tmp).unwrap();
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(&data)
            .args(&import_args)
            .env("INLINK_LOG", "warn")
            .env("TMPDIR", &tmp)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(
            left.is_empty(),
            "killed after {ms} ms, left in TMPDIR: {left:?}"
        );
        let out = inlink(&data, &["check"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let scratch: Vec<String> = std::fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(scratch.is_empty(), "{scratch:?}");
        let after_kill = counts(&data);
        assert!(
            after_kill.starts_with("0 pages,") || after_kill == full,
            "killed after {ms} ms: {after_kill}"
        );
        let out = inlink(&data, &import_args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(counts(&data), full);
    }
}

/// The benchmarks run at a smoke size: they work and print their ratios.
#[test]
fn bench_commands_run_at_smoke_size() {
    let runs: [(&[&str], &str); 6] = [
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
            &[
                "bench",
                "http",
                "--seconds",
                "1",
                "--connections",
                "2",
                "--rounds",
                "1",
            ],
            "ratio to /healthz",
        ),
        (
            &[
                "bench",
                "soak",
                "--seconds",
                "2",
                "--every",
                "1",
                "--articles",
                "200",
            ],
            "5xx 0, connection errors 0",
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

/// `bench scale --reuse-index` asks the index an earlier run left in `--dir`, without
/// importing it again, and says so when there is none.
#[test]
fn bench_scale_reuses_an_index_left_in_its_dir() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let scale = |reuse: bool| {
        let mut args = vec![
            "bench",
            "scale",
            "--pages",
            "2000",
            "--samples",
            "10",
            "--dir",
            d,
        ];
        if reuse {
            args.push("--reuse-index");
        }
        let out = Command::new(BIN).args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            out.status.success(),
            stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err_out, err) = scale(true);
    assert!(!ok, "{err_out}");
    assert!(err.contains("no index in"), "{err}");
    let (ok, first, err) = scale(false);
    assert!(ok, "{err}");
    assert!(first.contains("SQL import:"), "{first}");
    let (ok, again, err) = scale(true);
    assert!(ok, "{err}");
    assert!(again.contains("index: reused"), "{again}");
    assert!(!again.contains("SQL import:"), "{again}");
    assert!(again.contains("cursor resumed at row"), "{again}");
    // The same segment, read again: its tally of targets, lists and rows.
    let segment = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("links segment:"))
            .map(str::to_string)
    };
    assert!(segment(&first).is_some(), "{first}");
    assert_eq!(segment(&first), segment(&again));
}

/// Kills the server when a test ends, panicking or not (an orphan would hold the test's
/// output pipe open).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A small deterministic generator (the tests need no `rand`).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn json_of(reply: &str) -> serde_json::Value {
    serde_json::from_str(body_of(reply)).unwrap_or_else(|e| panic!("{e}: {reply}"))
}

/// The titles of `title`'s backlinks (the first page of them), sorted.
fn backlink_titles(addr: &str, title: &str) -> Vec<String> {
    let q = format!(
        "/w/api.php?action=query&list=backlinks&bltitle={title}&format=json&formatversion=2"
    );
    let v = json_of(&http_get(addr, &q).unwrap());
    let mut t: Vec<String> = v["query"]["backlinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

/// A MediaWiki answer kept for a repeated request is served again only while the index is
/// unchanged: every write shows in the next answer, and repeats are served from memory.
#[test]
fn kept_answers_follow_writes() {
    let live = tempfile::tempdir().unwrap();
    let (child, addr) = serve(live.path(), &["--token", "k-token"]);
    let _child = KillOnDrop(child);
    let auth = "Authorization: Bearer k-token\r\nContent-Type: application/json\r\n";
    let url = "/w/api.php?action=query&list=backlinks&bltitle=Hub&format=json";
    let linkers = || -> Vec<String> {
        let v = json_of(&http_get(&addr, url).unwrap());
        v["query"]["backlinks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_string())
            .collect()
    };
    let kept_served = || -> u64 {
        let m = http_get(&addr, "/metrics").unwrap();
        m.lines()
            .find_map(|l| l.strip_prefix("inlink_answers_kept_served_total "))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    for i in 0..6 {
        let before = kept_served();
        let first = linkers();
        assert_eq!(first.len(), i, "{first:?}");
        // The same request again, unchanged index: the kept answer.
        assert_eq!(linkers(), first);
        assert_eq!(kept_served(), before + 1);
        let op = if i % 2 == 0 {
            serde_json::json!({"op": "upsert", "title": format!("L{i}"), "wikitext": "[[Hub]]"})
        } else {
            // A move renames a linker: the kept answer's titles are stale now.
            serde_json::json!({"op": "move", "from": format!("L{}", i - 1), "to": format!("M{i}"), "redirect": false})
        };
        let mut ops = vec![op];
        if i % 2 == 1 {
            ops.push(serde_json::json!({"op": "upsert", "title": format!("L{i}"), "wikitext": "[[Hub]]"}));
        }
        let body = serde_json::json!({ "ops": ops }).to_string();
        let r = http_raw(&addr, "POST", "/v1/batch", auth, &body);
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
    let last = linkers();
    assert!(
        last.contains(&"M5".to_string()) && !last.contains(&"L4".to_string()),
        "{last:?}"
    );
}

/// Random batches of upserts, deletions and moves through `POST /v1/batch`, some refused
/// whole; then every backlinks answer equals that of a fresh import of the pages as they
/// ended (an XML dump written from the test's own model, with the ids the server gave).
#[test]
fn write_api_batches_equal_a_fresh_import() {
    use std::collections::BTreeMap;
    let live = tempfile::tempdir().unwrap();
    let (child, addr) = serve(live.path(), &["--token", "w-token"]);
    let _child = KillOnDrop(child);
    let auth = "Authorization: Bearer w-token\r\nContent-Type: application/json\r\n";
    let mut rng = Lcg(7);
    // id → (title, wikitext)
    let mut model: BTreeMap<u64, (String, String)> = BTreeMap::new();
    let pool = |i: u64| format!("P{i}");
    let mut refused = 0;
    for round in 0..120 {
        // Built against the titles as the batch leaves them; the model follows the answer.
        let mut titles: std::collections::BTreeSet<String> =
            model.values().map(|(t, _)| t.clone()).collect();
        let mut ops = Vec::new();
        let mut expect_refusal = false;
        for _ in 0..1 + rng.below(4) {
            let existing: Vec<String> = titles.iter().cloned().collect();
            match rng.below(10) {
                0..=5 => {
                    let title = pool(rng.below(30));
                    let mut text = String::new();
                    if rng.below(8) == 0 {
                        text.push_str(&format!("#REDIRECT [[{}]]\n", pool(rng.below(30))));
                    }
                    for _ in 0..rng.below(6) {
                        text.push_str(&format!("[[{}|x]] ", pool(rng.below(30))));
                    }
                    if rng.below(3) == 0 {
                        text.push_str(&format!("[[Category:C{}]]", rng.below(3)));
                    }
                    titles.insert(title.clone());
                    ops.push(serde_json::json!({"op": "upsert", "title": title, "wikitext": text}));
                }
                6 | 7 if !existing.is_empty() => {
                    let title = existing[rng.below(existing.len() as u64) as usize].clone();
                    titles.remove(&title);
                    ops.push(serde_json::json!({"op": "delete", "title": title}));
                }
                8 if !existing.is_empty() => {
                    let from = existing[rng.below(existing.len() as u64) as usize].clone();
                    let to = pool(30 + rng.below(10));
                    if titles.contains(&to) {
                        continue;
                    }
                    let redirect = rng.below(2) == 0;
                    if !redirect {
                        titles.remove(&from);
                    }
                    titles.insert(to.clone());
                    ops.push(serde_json::json!({"op": "move", "from": from, "to": to, "redirect": redirect}));
                }
                _ => {
                    // Refused: the whole batch must leave no trace.
                    ops.push(
                        serde_json::json!({"op": "delete", "title": format!("Absent {round}")}),
                    );
                    expect_refusal = true;
                }
            }
        }
        if ops.is_empty() {
            continue;
        }
        let body = serde_json::json!({ "ops": ops }).to_string();
        let r = http_raw(&addr, "POST", "/v1/batch", auth, &body);
        let v = json_of(&r);
        if expect_refusal {
            assert!(r.starts_with("HTTP/1.1 404"), "{r}");
            assert_eq!(v["error"]["code"], "missingtitle", "{r}");
            refused += 1;
            continue;
        }
        assert!(r.starts_with("HTTP/1.1 200"), "{body}\n{r}");
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), ops.len());
        for (op, res) in ops.iter().zip(results) {
            let id = res["pageid"].as_u64().unwrap();
            let holder = |m: &BTreeMap<u64, (String, String)>, t: &str| {
                m.iter().find(|(_, (title, _))| title == t).map(|(k, _)| *k)
            };
            match op["op"].as_str().unwrap() {
                "upsert" => {
                    let title = op["title"].as_str().unwrap().to_string();
                    if let Some(h) = holder(&model, &title) {
                        assert_eq!(h, id, "an edit keeps the page id");
                    }
                    let text = op["wikitext"].as_str().unwrap().to_string();
                    model.insert(id, (title, text));
                }
                "delete" => {
                    assert_eq!(model.remove(&id).unwrap().0, op["title"].as_str().unwrap());
                }
                _ => {
                    let (from, to) = (op["from"].as_str().unwrap(), op["to"].as_str().unwrap());
                    let page = model.get_mut(&id).unwrap();
                    assert_eq!(page.0, from);
                    page.0 = to.to_string();
                    if let Some(r) = res["redirectid"].as_u64() {
                        model.insert(r, (from.to_string(), format!("#REDIRECT [[{to}]]")));
                    }
                }
            }
        }
    }
    assert!(refused > 3, "some batches were refused ({refused})");
    assert!(model.len() > 10, "pages left: {}", model.len());

    // The same pages, imported fresh.
    let fresh = tempfile::tempdir().unwrap();
    let dump = fresh.path().join("final.xml");
    let pages: Vec<inlink_import::demo::DemoPage> = model
        .iter()
        .map(|(id, (title, text))| inlink_import::demo::DemoPage {
            id: *id as u32,
            ns: 0,
            title: title.clone(),
            text: text.clone(),
            redirect: text
                .strip_prefix("#REDIRECT [[")
                .and_then(|r| r.split("]]").next())
                .map(str::to_string),
        })
        .collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&dump).unwrap());
    inlink_import::demo::write_xml(&mut f, "Wiki", &pages).unwrap();
    drop(f);
    let index = fresh.path().join("index");
    let out = inlink(&index, &["import", dump.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let (other, fresh_addr) = serve(&index, &[]);
    let _other = KillOnDrop(other);
    let mut compared = 0;
    let targets: Vec<String> = (0..40)
        .map(pool)
        .chain((0..3).map(|i| format!("Category:C{i}")))
        .collect();
    for t in &targets {
        for extra in [
            "",
            "&blredirect=1",
            "&blfilterredir=redirects",
            "&bldir=descending",
        ] {
            let q = format!(
                "/w/api.php?action=query&list=backlinks&bltitle={t}&bllimit=max&format=json{extra}"
            );
            let a = body_of(&http_get(&addr, &q).unwrap()).to_string();
            let b = body_of(&http_get(&fresh_addr, &q).unwrap()).to_string();
            assert_eq!(a, b, "{q}");
            compared += a.matches("pageid").count();
        }
        let q = format!(
            "/w/api.php?action=query&list=categorymembers&cmtitle={t}&format=json&prop=linkshere&titles={t}&lhlimit=max"
        );
        assert_eq!(
            body_of(&http_get(&addr, &q).unwrap()),
            body_of(&http_get(&fresh_addr, &q).unwrap()),
            "{q}"
        );
    }
    assert!(compared > 100, "rows compared: {compared}");
}

#[test]
fn write_api_needs_the_token_and_refuses_bad_batches_whole() {
    let d = tempfile::tempdir().unwrap();
    let (child, addr) = serve(d.path(), &["--token", "t0k"]);
    let _child = KillOnDrop(child);
    let json = "Content-Type: application/json\r\n";
    let batch = r#"{"ops":[{"op":"upsert","title":"a","links":{"page":["B"],"category":["Category:K"]},"redirect":"B"}]}"#;
    let r = http_raw(&addr, "POST", "/v1/batch", json, batch);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    assert_eq!(json_of(&r)["error"]["code"], "unauthorized");
    let r = http_raw(
        &addr,
        "POST",
        "/v1/batch",
        &format!("{json}Authorization: Bearer wrong\r\n"),
        batch,
    );
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let auth = format!("{json}Authorization: Bearer t0k\r\n");
    let r = http_raw(&addr, "POST", "/v1/batch", &auth, batch);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let v = json_of(&r);
    assert_eq!(v["results"][0]["title"], "A");
    assert_eq!(v["results"][0]["created"], true);
    let q = "/w/api.php?action=query&list=backlinks&bltitle=B&format=json&formatversion=2";
    assert_eq!(
        body_of(&http_get(&addr, q).unwrap()),
        r#"{"batchcomplete":true,"query":{"backlinks":[{"pageid":1,"ns":0,"title":"A","redirect":true}]}}"#
    );
    for (bad, status, code) in [
        ("not json", 400, "badjson"),
        (
            r#"{"ops":[{"op":"upsert","title":"X","colour":"red"}]}"#,
            400,
            "badjson",
        ),
        (
            r#"{"ops":[{"op":"upsert","title":"[bad]","wikitext":""}]}"#,
            400,
            "badtitle",
        ),
        (
            r#"{"ops":[{"op":"upsert","title":"X","wikitext":"","links":{}}]}"#,
            400,
            "badparams",
        ),
        (
            r#"{"ops":[{"op":"upsert","title":"X","links":{"image":["Category:Not a file"]}}]}"#,
            400,
            "badtitle",
        ),
        (
            r#"{"ops":[{"op":"upsert","title":"Y","wikitext":"[[B]]"},{"op":"move","from":"A","to":"Y"}]}"#,
            409,
            "articleexists",
        ),
        (
            r#"{"ops":[{"op":"upsert","title":"Z","wikitext":"[[B]]"},{"op":"delete","id":999}]}"#,
            404,
            "missingtitle",
        ),
        (
            r#"{"ops":[{"op":"upsert","title":"A","id":2,"wikitext":""}]}"#,
            409,
            "articleexists",
        ),
    ] {
        let r = http_raw(&addr, "POST", "/v1/batch", &auth, bad);
        assert!(r.starts_with(&format!("HTTP/1.1 {status}")), "{bad}: {r}");
        assert_eq!(json_of(&r)["error"]["code"], code, "{bad}: {r}");
    }
    // Nothing of the refused batches was written.
    assert_eq!(
        body_of(&http_get(&addr, q).unwrap()),
        r#"{"batchcomplete":true,"query":{"backlinks":[{"pageid":1,"ns":0,"title":"A","redirect":true}]}}"#
    );
    let big = format!(
        r#"{{"ops":[{{"op":"upsert","title":"Big","wikitext":"{}"}}]}}"#,
        "x".repeat(3 << 20)
    );
    let r = http_raw(&addr, "POST", "/v1/batch", &auth, &big);
    assert!(r.starts_with("HTTP/1.1 413"), "{}", &r[..200.min(r.len())]);
    let spec = http_get(&addr, "/v1/openapi.json").unwrap();
    let spec = json_of(&spec);
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/v1/batch"]["post"].is_object());
}

/// Connection and head-time limits, request ids, and `/metrics` counting what was asked.
#[test]
fn serve_limits_request_ids_and_metrics() {
    let d = tempfile::tempdir().unwrap();
    let (child, addr) = serve_demo(
        d.path(),
        &[
            "--max-connections",
            "2",
            "--header-timeout",
            "1",
            "--cors-origin",
            "https://app.example",
        ],
    );
    let _child = KillOnDrop(child);
    // CORS only for the configured origin.
    let r = http_raw(
        &addr,
        "GET",
        "/healthz",
        "Origin: https://app.example\r\n",
        "",
    );
    assert!(
        r.to_ascii_lowercase()
            .contains("access-control-allow-origin: https://app.example"),
        "{r}"
    );
    let r = http_raw(
        &addr,
        "GET",
        "/healthz",
        "Origin: https://evil.example\r\n",
        "",
    );
    assert!(
        !r.to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{r}"
    );
    let r = http_raw(
        &addr,
        "OPTIONS",
        "/v1/batch",
        "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n",
        "",
    );
    assert!(r.starts_with("HTTP/1.1 204"), "{r}");
    assert!(
        r.to_ascii_lowercase()
            .contains("access-control-allow-headers: authorization"),
        "{r}"
    );
    let q = "/w/api.php?action=query&list=backlinks&bltitle=River_science_0&format=json";
    for _ in 0..3 {
        assert!(http_get(&addr, q).unwrap().starts_with("HTTP/1.1 200"));
    }
    let r = http_raw(&addr, "GET", q, "X-Request-Id: trace-42\r\n", "");
    assert!(
        r.to_ascii_lowercase().contains("x-request-id: trace-42"),
        "{r}"
    );
    let r = http_raw(
        &addr,
        "GET",
        "/w/api.php?action=query&list=nothing&format=json",
        "",
        "",
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");

    // A client that never finishes its request head is cut off.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 64];
    let n = slow.read(&mut buf).unwrap_or(0);
    assert!(
        n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
        "slow head answered: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "cut off after the header timeout"
    );

    // Two connections open (one idle in keep-alive): a third is closed at once.
    let mut a = TcpStream::connect(&addr).unwrap();
    a.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let _ = a.read(&mut buf).unwrap();
    let mut b = TcpStream::connect(&addr).unwrap();
    b.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let _ = b.read(&mut buf).unwrap();
    let mut c = TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = c.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0, "third connection refused");
    drop((a, b));
    std::thread::sleep(Duration::from_millis(200));

    let m = http_get(&addr, "/metrics").unwrap();
    assert!(m.starts_with("HTTP/1.1 200"), "{m}");
    let value = |series: &str| -> f64 {
        m.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} missing:\n{m}"))
    };
    assert_eq!(
        value(r#"inlink_http_requests_total{dialect="mediawiki",module="backlinks",status="200"}"#),
        4.0
    );
    assert_eq!(
        value(r#"inlink_http_requests_total{dialect="mediawiki",module="other",status="200"}"#),
        1.0
    );
    assert!(value("inlink_connections_refused_total") >= 1.0);
    assert_eq!(
        value(r#"inlink_http_request_duration_seconds_count{dialect="mediawiki"}"#),
        5.0
    );
    assert!(value("inlink_index_pages") > 1000.0);
    assert!(value(r#"inlink_index_links{table="pagelinks"}"#) > 1000.0);
    assert!(value("inlink_index_disk_bytes") > 0.0);
}

/// `serve --watch`: creations, edits, renames and deletions of notes reach the answers
/// (note titles keep their case, as the note apps do).
#[test]
fn serve_watch_follows_the_folder() {
    let vault = tempfile::tempdir().unwrap();
    let v = vault.path();
    std::fs::write(v.join("a.md"), "Links to [[b]].\n").unwrap();
    std::fs::write(v.join("b.md"), "# B\nNothing here.\n").unwrap();
    let d = tempfile::tempdir().unwrap();
    let (child, addr) = serve(d.path(), &["--watch", v.to_str().unwrap()]);
    let _child = KillOnDrop(child);
    let linkers = |title: &str| backlink_titles(&addr, title);
    let wait_for = |title: &str, want: &[&str]| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = linkers(title);
            if got == want {
                return;
            }
            assert!(Instant::now() < deadline, "{title}: {got:?}, want {want:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("b", &["a"]);
    std::fs::write(v.join("c.md"), "Also [[b]] and [[a]].\n").unwrap();
    wait_for("b", &["a", "c"]);
    wait_for("a", &["c"]);
    std::fs::write(v.join("a.md"), "No link now.\n").unwrap();
    wait_for("b", &["c"]);
    std::fs::create_dir(v.join("sub")).unwrap();
    std::fs::rename(v.join("c.md"), v.join("sub/c2.md")).unwrap();
    wait_for("b", &["sub/c2"]);
    std::fs::remove_file(v.join("sub/c2.md")).unwrap();
    wait_for("b", &[]);
    wait_for("a", &[]);
}

/// Notes written through `/v1/batch` land in the followed folder and are answered for as
/// soon as the batch is acknowledged.
#[test]
fn note_batches_write_the_folder_and_the_index() {
    let vault = tempfile::tempdir().unwrap();
    let v = vault.path();
    std::fs::write(v.join("a.md"), "Links to [[b]].\n").unwrap();
    let d = tempfile::tempdir().unwrap();
    let (child, addr) = serve(d.path(), &["--watch", v.to_str().unwrap()]);
    let _child = KillOnDrop(child);
    let post = |body: &str| -> (u16, serde_json::Value) {
        let r = http_raw(&addr, "POST", "/v1/batch", "", body);
        let status = r[9..12].parse().unwrap();
        (status, json_of(&r))
    };
    let linkers = |title: &str| backlink_titles(&addr, title);
    let (status, r) = post(
        r#"{"ops":[{"op":"put_note","path":"b.md","markdown":"Back to [[a]]."},
                   {"op":"put_note","path":"sub/c.md","markdown":"Also [[b]]."}]}"#,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["results"][0]["title"], "b", "{r}");
    assert!(r["results"][1]["pageid"].as_u64().is_some(), "{r}");
    assert_eq!(
        std::fs::read_to_string(v.join("sub/c.md")).unwrap(),
        "Also [[b]]."
    );
    assert_eq!(linkers("b"), ["a", "sub/c"]);
    assert_eq!(linkers("a"), ["b"]);
    let (status, r) = post(r#"{"ops":[{"op":"move_note","from":"sub/c.md","to":"d.md"}]}"#);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["results"][0]["from"], "sub/c.md");
    assert_eq!(linkers("b"), ["a", "d"]);
    let (status, r) = post(r#"{"ops":[{"op":"delete_note","path":"a.md"}]}"#);
    assert_eq!(status, 200, "{r}");
    assert!(r["results"][0]["pageid"].is_null(), "{r}");
    assert!(!v.join("a.md").exists());
    assert_eq!(linkers("b"), ["d"]);
    // Refusals: whole batches, in the native error format, nothing written.
    for (body, status, code) in [
        (
            r#"{"ops":[{"op":"put_note","path":"e.md","markdown":"[[d]]"},{"op":"put_note","path":"../x.md","markdown":"x"}]}"#,
            400,
            "badnote",
        ),
        (
            r#"{"ops":[{"op":"delete_note","path":"nothere.md"}]}"#,
            404,
            "missingnote",
        ),
        (
            r#"{"ops":[{"op":"move_note","from":"b.md","to":"d.md"}]}"#,
            409,
            "noteexists",
        ),
        (
            r#"{"ops":[{"op":"put_note","path":"e.md","markdown":"x"},{"op":"delete","title":"b"}]}"#,
            400,
            "badparams",
        ),
    ] {
        let (s, r) = post(body);
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (status, Some(code)),
            "{r}"
        );
    }
    assert!(!v.join("e.md").exists());
    assert!(!v.parent().unwrap().join("x.md").exists());
    assert_eq!(linkers("b"), ["d"]);

    // An index kept inside the vault it follows (`inlink serve --watch .`).
    let vault2 = tempfile::tempdir().unwrap();
    let v2 = vault2.path();
    std::fs::write(v2.join("x.md"), "[[y]]\n").unwrap();
    let (child3, addr3) = serve(&v2.join("inlink-data"), &["--watch", v2.to_str().unwrap()]);
    let _child3 = KillOnDrop(child3);
    let r = http_raw(
        &addr3,
        "POST",
        "/v1/batch",
        "",
        r#"{"ops":[{"op":"put_note","path":"y.md","markdown":"[[x]]"}]}"#,
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(backlink_titles(&addr3, "y"), ["x"]);
    assert_eq!(backlink_titles(&addr3, "x"), ["y"]);

    // SiYuan documents as `sy` objects, answered through the SiYuan dialect.
    let ws = tempfile::tempdir().unwrap();
    let book = ws.path().join("20240101000000-book001");
    std::fs::create_dir_all(book.join(".siyuan")).unwrap();
    std::fs::write(book.join(".siyuan/conf.json"), r#"{"name":"Book"}"#).unwrap();
    let d4 = tempfile::tempdir().unwrap();
    let (child4, addr4) = serve(d4.path(), &["--watch", ws.path().to_str().unwrap()]);
    let _child4 = KillOnDrop(child4);
    let body = r#"{"ops":[
      {"op":"put_note","path":"20240101000000-book001/20240101000001-aaaaaaa.sy","sy":{"ID":"20240101000001-aaaaaaa","Type":"NodeDocument","Properties":{"id":"20240101000001-aaaaaaa","title":"Alpha"},"Children":[
        {"ID":"20240101000003-ccccccc","Type":"NodeParagraph","Properties":{"id":"20240101000003-ccccccc"},"Children":[
          {"Type":"NodeTextMark","TextMarkType":"block-ref","TextMarkBlockRefID":"20240101000002-bbbbbbb","TextMarkBlockRefSubtype":"s","TextMarkTextContent":"Beta"}]}]}},
      {"op":"put_note","path":"20240101000000-book001/20240101000002-bbbbbbb.sy","sy":{"ID":"20240101000002-bbbbbbb","Type":"NodeDocument","Properties":{"id":"20240101000002-bbbbbbb","title":"Beta"},"Children":[]}}]}"#;
    let r = http_raw(&addr4, "POST", "/v1/batch", "", body);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(json_of(&r)["results"][1]["title"], "Book/Beta", "{r}");
    let r = http_raw(
        &addr4,
        "POST",
        "/api/ref/getBacklinkDoc",
        "",
        r#"{"defID":"20240101000002-bbbbbbb"}"#,
    );
    let v = json_of(&r);
    assert_eq!(
        v["data"]["backlinks"][0]["id"], "20240101000001-aaaaaaa",
        "{r}"
    );

    // Without a followed folder, note operations have nowhere to go.
    let d2 = tempfile::tempdir().unwrap();
    let (child2, addr2) = serve(d2.path(), &[]);
    let _child2 = KillOnDrop(child2);
    let r = http_raw(
        &addr2,
        "POST",
        "/v1/batch",
        "",
        r#"{"ops":[{"op":"put_note","path":"e.md","markdown":"x"}]}"#,
    );
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert_eq!(json_of(&r)["error"]["code"], "nonotesfolder");
}

/// The README's main command is `cargo run --release -- serve --demo`: at the workspace root
/// `cargo run` must find exactly one binary, `inlink`.
#[test]
fn cargo_run_at_the_root_runs_inlink() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let defaults: Vec<&str> = meta["workspace_default_members"]
        .as_array()
        .expect("cargo reports default members")
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let bins: Vec<&str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| defaults.contains(&p["id"].as_str().unwrap()))
        .flat_map(|p| p["targets"].as_array().unwrap())
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(bins, ["inlink"]);
}
