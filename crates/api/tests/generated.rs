//! The golden wiki, imported from the XML dump our generator writes, answers every recorded
//! query byte for byte as MediaWiki 1.39 did (`tests/golden/generated-*.txt`).

use inlink_api::mediawiki::{Caller, MediaWiki};
use inlink_import::{import, Format, Options};
use inlink_store::{LinkStore, RedbStore};
use std::sync::Arc;

/// The oracle's address when the answers were recorded: it appears in error doc references.
const RECORDED_AT: &str = "http://127.0.0.1:8090";

fn golden_store() -> (tempfile::TempDir, Arc<dyn LinkStore>) {
    let d = tempfile::tempdir().unwrap();
    let xml = d.path().join("golden.xml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&xml).unwrap());
    inlink_import::demo::write_xml(
        &mut f,
        "TestWiki",
        &inlink_import::demo::golden_wiki(150, 5),
    )
    .unwrap();
    drop(f);
    let store = RedbStore::open(d.path().join("index")).unwrap();
    import(&store, &[xml], Format::MediaWikiXml, &Options::default()).unwrap();
    (d, Arc::new(store))
}

/// The same wiki from MediaWiki's own tables, as Wikimedia-style SQL dumps (`tool:
/// mediawiki-tables-to-sql.py`), in the 1.39 schema or the current `linktarget` one.
fn sql_store(dir: &str) -> (tempfile::TempDir, Arc<dyn LinkStore>) {
    let d = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(dir);
    let files: Vec<_> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let store = RedbStore::open(d.path().join("index")).unwrap();
    import(&store, &files, Format::Auto, &Options::default()).unwrap();
    (d, Arc::new(store))
}

#[test]
fn generated_wiki_answers_like_mediawiki() {
    let (_d, store) = golden_store();
    answers_like_mediawiki(store);
}

#[test]
fn sql_dumps_of_1_39_tables_answer_like_mediawiki() {
    let (_d, store) = sql_store("sql-1.39");
    answers_like_mediawiki(store);
}

#[test]
fn sql_dumps_of_current_tables_answer_like_mediawiki() {
    let (_d, store) = sql_store("sql-current");
    answers_like_mediawiki(store);
}

fn answers_like_mediawiki(store: Arc<dyn LinkStore>) {
    let mw = MediaWiki::new(store, RECORDED_AT).unwrap();
    let golden = include_str!("golden/generated-answers.txt");
    let mut lines = golden.lines().filter(|l| !l.starts_with('#'));
    let (mut n, mut failures) = (0, Vec::new());
    while let Some(req) = lines.next() {
        let query = req.strip_prefix("> ").expect("request line");
        let expected = lines.next().expect("answer line");
        let params = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let got = mw.handle(params, Caller::default()).body;
        if got != expected {
            failures.push(format!(
                "{query}\n  MediaWiki {expected}\n  inlink    {got}"
            ));
        }
        n += 1;
    }
    assert!(n > 100, "{n} answers read");
    assert!(
        failures.is_empty(),
        "{} of {n} answers differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
