//! Real MediaWiki clients from PyPI (mwclient) against `inlink serve` on loopback. The
//! clients live in the venv that `scripts/test` creates (`$INLINK_CLIENTS_VENV`).

use inlink_import::demo::{write_xml, DemoPage};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_inlink");

fn venv_python() -> Option<PathBuf> {
    let python =
        std::env::var_os("INLINK_CLIENTS_VENV").map(|v| PathBuf::from(v).join("bin/python"));
    match python {
        Some(p) if p.exists() => Some(p),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("INLINK_CLIENTS_VENV is not set up (CI=true); scripts/test creates it")
        }
        _ => {
            eprintln!(
                "skipping: no client venv (run scripts/test, which sets INLINK_CLIENTS_VENV)"
            );
            None
        }
    }
}

fn fixture() -> Vec<DemoPage> {
    let mut pages = Vec::new();
    let mut add = |id: u32, ns: i32, title: &str, text: &str| {
        let redirect = text
            .strip_prefix("#REDIRECT [[")
            .and_then(|r| r.strip_suffix("]]"))
            .map(str::to_string);
        pages.push(DemoPage {
            id,
            ns,
            title: title.into(),
            text: text.into(),
            redirect,
        });
    };
    // The "Hub" fixture of the MediaWiki spec, §15.
    for (id, ns, title, text) in [
        (26, 0, "Hub", "hub page"),
        (27, 0, "HR2", "#REDIRECT [[Hub]]"),
        (28, 0, "D1", "[[Hub]]"),
        (29, 0, "X1", "[[HR1]]"),
        (30, 0, "HR1", "#REDIRECT [[Hub]]"),
        (31, 0, "Y1", "[[HR2]]"),
        (32, 1, "Talk:HR3", "#REDIRECT [[Hub]]"),
        (33, 0, "X2", "[[HR1]]"),
        (34, 1, "Talk:Z2", "[[Talk:HR3]]"),
        (35, 0, "D2", "[[Hub]] [[HR1]]"),
        (36, 0, "Y2", "[[HR2]]"),
        (37, 0, "Z1", "[[Talk:HR3]]"),
        (38, 0, "X3", "[[HR1]]"),
        (39, 1, "Talk:D3", "[[Hub]]"),
        (40, 0, "Y3", "[[HR2]]"),
        (41, 0, "X4", "[[HR1]]"),
        (100, 0, "Big hub", "big"),
        (101, 0, "Über/Sub", "[[Zürich]]"),
        (102, 0, "Zürich", "[[über/Sub]]"),
        (103, 0, "東京", "[[Über/Sub|sub]]"),
    ] {
        add(id, ns, title, text);
    }
    for i in 0..1200u32 {
        add(1000 + i, 0, &format!("Big {i}"), "[[Big hub]]");
    }
    pages
}

#[test]
fn mwclient_iterates_backlinks() {
    run_client("mwclient_check.py");
}

#[test]
fn pywikibot_iterates_backlinks() {
    run_client("pywikibot_check.py");
}

fn run_client(script: &str) {
    let Some(python) = venv_python() else { return };
    let d = tempfile::tempdir().unwrap();
    let xml = d.path().join("clients.xml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&xml).unwrap());
    write_xml(&mut f, "TestWiki", &fixture()).unwrap();
    drop(f);
    let data = d.path().join("data");
    let out = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .arg("import")
        .arg(&xml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut server = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("INLINK_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let first = BufReader::new(server.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let addr = first.rsplit("http://").next().unwrap().trim().to_string();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/clients")
        .join(script);
    // pywikibot writes `apicache/` and `throttle.ctrl` into its working directory.
    let run = Command::new(python)
        .arg(&script)
        .arg(&addr)
        .current_dir(d.path())
        .output()
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        run.status.success(),
        "{} failed:\n{}\n{}",
        script.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("all checks passed"));
}
