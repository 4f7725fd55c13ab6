//! A Markdown vault written here with every link form the importer reads, imported into the
//! embedded store, then asked through both dialects: MediaWiki's `list=backlinks` and
//! SiYuan's `getBacklink2` / `getBacklinkDoc` answer for the same notes.

use inlink_api::mediawiki::{Caller, MediaWiki};
use inlink_api::siyuan::SiYuan;
use inlink_import::{import, Format, Options};
use inlink_store::{LinkStore, RedbStore};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

struct Vault {
    store: Arc<dyn LinkStore>,
    _dir: tempfile::TempDir,
}

fn vault(files: &[(&str, &str)]) -> Vault {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("My Vault");
    for (rel, text) in files {
        write(&notes, rel, text);
    }
    let store: Arc<dyn LinkStore> = Arc::new(RedbStore::open(dir.path().join("index")).unwrap());
    let s = import(store.as_ref(), &[notes], Format::Auto, &Options::default()).unwrap();
    assert_eq!(s[0].format, "markdown");
    Vault { store, _dir: dir }
}

fn mw(v: &Vault, query: &str) -> Value {
    let api = MediaWiki::new(v.store.clone(), "http://notes.test".to_string()).unwrap();
    let params: Vec<(String, Vec<u8>, bool)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned().into_bytes(), true))
        .collect();
    let r = api.handle_bytes(params, Caller::default());
    serde_json::from_str(&r.body).unwrap()
}

fn siyuan(v: &Vault, endpoint: &str, body: Value) -> Value {
    let r = SiYuan::new(v.store.clone())
        .handle(endpoint, body.to_string().as_bytes())
        .unwrap();
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], 0, "{v}");
    v["data"].clone()
}

fn titles(v: &Value) -> Vec<String> {
    v["query"]["backlinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap().to_string())
        .collect()
}

fn doc_id(v: &Vault, title: &str) -> String {
    let t = inlink_model::Title::new(0, title.replace(' ', "_"));
    let page = v.store.page_by_title(&t).unwrap().expect(title);
    v.store.blocks_of(page.id).unwrap()[0].id.clone()
}

#[test]
fn obsidian_forms_through_both_dialects() {
    let v = vault(&[
        (
            "Projects/Alpha.md",
            "---\naliases: [The First, Project A]\n---\n# Alpha\n\nIntro paragraph.\n\n## Goals\n\nShip it. ^goal1\n\n- a list item about Alpha\n",
        ),
        (
            "Notes/Daily.md",
            "Met about [[Alpha]] today.\n\n- [[alpha|lower-case works]]\n- see [[Alpha#Goals]] and [[Projects/Alpha#^goal1]]\n\n![[Alpha]]\n\n```\n[[Alpha]] in code is not a link\n```\n\nInline `[[Beta]]` is not one either. [[Ghost note]] is red.\n",
        ),
        ("Beta.md", "Called [[The First]] by its alias, and [[Beta]] itself.\n"),
        ("Gamma.md", "Nothing links here, but Alpha is mentioned by name.\n"),
    ]);
    // MediaWiki: what links to the note, by title; redlinks too.
    let alpha = mw(
        &v,
        "action=query&list=backlinks&bltitle=Projects/Alpha&format=json&formatversion=2",
    );
    assert_eq!(
        titles(&alpha),
        ["Beta", "Notes/Daily"],
        "by page id: files in path order"
    );
    let ghost = mw(
        &v,
        "action=query&list=backlinks&bltitle=Ghost_note&format=json&formatversion=2",
    );
    assert_eq!(titles(&ghost), ["Notes/Daily"]);
    let beta = mw(
        &v,
        "action=query&list=backlinks&bltitle=Beta&format=json&formatversion=2",
    );
    assert_eq!(
        titles(&beta),
        ["Beta"],
        "code is not scanned; self-links count"
    );

    // SiYuan: the referencing blocks, per document.
    let id = doc_id(&v, "Projects/Alpha");
    let d = siyuan(&v, "getBacklinkDoc", json!({"defID": id}));
    let docs: Vec<&str> = d["backlinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{d}");
    assert!(docs.contains(&"Daily") && docs.contains(&"Beta"));
    let daily = d["backlinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["title"] == "Daily")
        .unwrap();
    // Four blocks of Daily reference Alpha or its blocks (paragraph, two items, the embed).
    assert_eq!(daily["blockIDs"].as_array().unwrap().len(), 4, "{daily}");
    assert_eq!(daily["path"], "/Notes/Daily.md");
    // Only the heading, and only the ^block.
    let page = v
        .store
        .page_by_title(&inlink_model::Title::new(0, "Projects/Alpha"))
        .unwrap()
        .unwrap();
    let blocks = v.store.blocks_of(page.id).unwrap();
    let goals = blocks
        .iter()
        .find(|b| b.kind == "h" && b.content == "Goals")
        .unwrap();
    let goal1 = blocks.iter().find(|b| b.content == "Ship it.").unwrap();
    assert!(goal1.id.ends_with("^goal1"), "{}", goal1.id);
    assert_eq!(
        goal1.parent.as_deref(),
        Some(goals.id.as_str()),
        "blocks after a heading are its"
    );
    let h = siyuan(
        &v,
        "getBacklinkDoc",
        json!({"defID": id, "refID": goals.id}),
    );
    assert_eq!(h["refCount"], 1);
    let b = siyuan(
        &v,
        "getBacklinkDoc",
        json!({"defID": id, "refID": goal1.id}),
    );
    assert_eq!(b["refCount"], 1);
    // With children: the heading's section holds ^goal1, so both references count.
    let sec = siyuan(
        &v,
        "getBacklink2",
        json!({"id": goals.id, "containChildren": true}),
    );
    assert_eq!(sec["linkRefsCount"], 1, "one list item holds both: {sec}");
    // Mentions: Gamma names Alpha without linking.
    let two = siyuan(&v, "getBacklink2", json!({"id": id}));
    let m: Vec<&str> = two["backmentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(m, ["Gamma"], "{two}");
    assert_eq!(two["backlinks"].as_array().unwrap().len(), 2);
}

#[test]
fn logseq_dendron_and_siyuan_markdown_forms() {
    // Logseq: an outline with page and block references.
    let v = vault(&[
        (
            "pages/Topic.md",
            "title:: Main Topic\nalias:: MT\n\n- first block\n  id:: 6412ab00-0000-4000-8000-000000000001\n- second with #tag and #[[Other Tag]]\n\t- child [[MT]]\n",
        ),
        (
            "journals/2024_01_02.md",
            "- read ((6412ab00-0000-4000-8000-000000000001)) again\n- [[main topic]] and [label]([[Main Topic]])\n- tags:: plain, [[Main Topic]]\n",
        ),
    ]);
    let t = mw(
        &v,
        "action=query&list=backlinks&bltitle=Main_Topic&format=json&formatversion=2",
    );
    assert_eq!(
        titles(&t),
        ["Main Topic", "2024 01 02"],
        "alias self-link, then the journal"
    );
    let tag = mw(
        &v,
        "action=query&list=backlinks&bltitle=tag&format=json&formatversion=2",
    );
    assert_eq!(titles(&tag), ["Main Topic"]);
    let plain = mw(
        &v,
        "action=query&list=backlinks&bltitle=plain&format=json&formatversion=2",
    );
    assert_eq!(
        titles(&plain),
        ["2024 01 02"],
        "tags:: values are references"
    );
    // The ((uuid)) reference reaches the list item that carries the id.
    let item = v
        .store
        .block("6412ab00-0000-4000-8000-000000000001")
        .unwrap()
        .unwrap();
    assert_eq!(item.kind, "i");
    let refs = v.store.block_refs_to(&item.id).unwrap();
    assert_eq!(refs.len(), 1);

    // Dendron: alias first, `dendron://` prefixes, note references with ranges.
    let d = vault(&[
        (
            "dendron.topic.lookup.md",
            "---\nid: abc123\ntitle: Lookup\ndesc: ''\nupdated: 1\ncreated: 1\n---\n\n## Summary\n\nFind notes.\n",
        ),
        (
            "root.md",
            "---\nid: root1\ntitle: Root\ndesc: ''\nupdated: 1\ncreated: 1\n---\n\nSee [[the lookup|dendron.topic.lookup]], [[x|dendron://vault/dendron.topic.lookup#summary]] and ![[dendron.topic.lookup#summary,1:#*]].\n",
        ),
    ]);
    let l = mw(
        &d,
        "action=query&list=backlinks&bltitle=dendron.topic.lookup&format=json&formatversion=2",
    );
    assert_eq!(
        titles(&l),
        ["root"],
        "note names are file stems, case kept: {l}"
    );
    assert!(
        d.store.block("abc123").unwrap().is_some(),
        "front matter id is the document id"
    );
    let refs = d.store.block_refs_to("abc123").unwrap();
    assert_eq!(refs.len(), 1, "the plain link points at the note");

    // SiYuan's own Markdown: ((id "anchor")) and {: id="…"} attribute lists.
    let s = vault(&[
        (
            "A.md",
            "A paragraph with an id.\n{: id=\"20240101120000-abcdefg\"}\n\nAnother one.\n",
        ),
        (
            "B.md",
            "Refers to ((20240101120000-abcdefg \"that paragraph\")).\n",
        ),
    ]);
    let refs = s.store.block_refs_to("20240101120000-abcdefg").unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].anchor, "that paragraph");
    let a = mw(
        &s,
        "action=query&list=backlinks&bltitle=A&format=json&formatversion=2",
    );
    assert_eq!(titles(&a), ["B"]);
}
