//! The SiYuan dialect on the real SiYuan user guide (`../shared/data/siyuan-guide`): every
//! answer is checked against facts this test finds by its own walk of the `.sy` JSON, and
//! against the worked examples of `expected-backlinks.json` (spec §11).

use inlink_api::siyuan::SiYuan;
use inlink_import::{import, Format, Options};
use inlink_store::{LinkStore, RedbStore};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

#[path = "../../../tests/support/shared_data.rs"]
mod shared_data;
use shared_data::data;

/// What this test knows of the guide from the JSON alone.
#[derive(Default)]
struct Walk {
    /// block id → (document id, type, own text without block-ref anchors)
    blocks: BTreeMap<String, (String, String, String)>,
    /// block id → its whole text, anchors included
    full: BTreeMap<String, String>,
    /// (referencing document, referencing block, def block)
    refs: BTreeSet<(String, String, String)>,
    /// document id → (title, notebook id)
    docs: BTreeMap<String, (String, String)>,
    /// documents with a named or aliased block
    named: BTreeSet<String>,
}

const BLOCK_TYPES: [&str; 21] = [
    "NodeDocument",
    "NodeParagraph",
    "NodeHeading",
    "NodeList",
    "NodeListItem",
    "NodeBlockquote",
    "NodeSuperBlock",
    "NodeCallout",
    "NodeCodeBlock",
    "NodeMathBlock",
    "NodeTable",
    "NodeHTMLBlock",
    "NodeBlockQueryEmbed",
    "NodeAttributeView",
    "NodeIFrame",
    "NodeVideo",
    "NodeAudio",
    "NodeWidget",
    "NodeThematicBreak",
    "NodeCustomBlock",
    "NodeGitConflict",
];

impl Walk {
    /// Returns the node's own text (block-ref anchors left out) and its whole text.
    fn node(&mut self, n: &Value, doc: &str, enclosing: &str) -> (String, String) {
        let ty = n["Type"].as_str().unwrap_or("");
        let id = n["ID"].as_str().unwrap_or("");
        let is_block = BLOCK_TYPES.contains(&ty) && id.len() == 22;
        let here = if is_block { id } else { enclosing };
        let props = &n["Properties"];
        if is_block
            && (props["name"].as_str().is_some_and(|s| !s.is_empty())
                || props["alias"].as_str().is_some_and(|s| !s.is_empty()))
        {
            self.named.insert(doc.to_string());
        }
        let mut text = String::new();
        let mut full = String::new();
        match ty {
            "NodeText" | "NodeCodeSpanContent" => text.push_str(n["Data"].as_str().unwrap_or("")),
            "NodeTextMark" => {
                let marks = n["TextMarkType"].as_str().unwrap_or("");
                if marks.split(' ').any(|m| m == "block-ref") {
                    let def = n["TextMarkBlockRefID"].as_str().unwrap_or("");
                    self.refs.insert((doc.into(), here.into(), def.into()));
                    full.push_str(n["TextMarkTextContent"].as_str().unwrap_or(""));
                } else if !marks.contains("inline-math") {
                    text.push_str(n["TextMarkTextContent"].as_str().unwrap_or(""));
                }
            }
            "NodeBlockQueryEmbedScript" => {
                let s = n["Data"].as_str().unwrap_or("").trim().to_lowercase();
                if let Some(def) = s
                    .strip_prefix("select * from blocks where id='")
                    .and_then(|r| r.strip_suffix('\''))
                {
                    self.refs.insert((doc.into(), here.into(), def.into()));
                }
            }
            _ => {}
        }
        full.push_str(&text);
        for c in n["Children"].as_array().into_iter().flatten() {
            let (t, f) = self.node(c, doc, here);
            let child_block = BLOCK_TYPES.contains(&c["Type"].as_str().unwrap_or(""));
            if child_block && !text.is_empty() && !t.is_empty() {
                text.push(' ');
            }
            text.push_str(&t);
            if child_block && !full.is_empty() && !f.is_empty() {
                full.push(' ');
            }
            full.push_str(&f);
        }
        if is_block {
            self.blocks
                .insert(id.into(), (doc.into(), ty.into(), text.clone()));
            self.full.insert(id.into(), full.clone());
        }
        (text, full)
    }
}

struct Guide {
    store: Arc<dyn LinkStore>,
    api: SiYuan,
    walk: Walk,
}

fn guide() -> Option<&'static Guide> {
    static G: OnceLock<Option<Guide>> = OnceLock::new();
    G.get_or_init(|| {
        let root = data("siyuan-guide")?;
        // A static is never dropped, so a temporary directory here would stay behind every
        // run: the index goes to a place of its own under the target directory instead,
        // emptied first.
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("siyuan-guide-index");
        let _ = std::fs::remove_dir_all(&dir);
        let store: Arc<dyn LinkStore> = Arc::new(RedbStore::open(&dir).unwrap());
        import(
            store.as_ref(),
            std::slice::from_ref(&root),
            Format::Siyuan,
            &Options::default(),
        )
        .unwrap();
        let mut walk = Walk::default();
        for book in std::fs::read_dir(&root).unwrap().flatten() {
            if !book.path().join(".siyuan/conf.json").exists() {
                continue;
            }
            let box_id = book.file_name().to_string_lossy().into_owned();
            let mut stack = vec![book.path()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|x| x == "sy") {
                        let v: Value =
                            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                        let id = v["ID"].as_str().unwrap().to_string();
                        let title = v["Properties"]["title"].as_str().unwrap_or("").to_string();
                        walk.docs.insert(id.clone(), (title, box_id.clone()));
                        walk.node(&v, &id, &id);
                    }
                }
            }
        }
        Some(Guide {
            api: SiYuan::new(store.clone()),
            store,
            walk,
        })
    })
    .as_ref()
}

fn call(g: &Guide, endpoint: &str, body: Value) -> Value {
    let r = g
        .api
        .handle(endpoint, body.to_string().as_bytes())
        .expect("known endpoint");
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], 0, "{endpoint} {body}: {v}");
    v["data"].clone()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_referenced_document_lists_exactly_its_referencing_documents() {
    let Some(g) = guide() else { return };
    // Per def document: the documents holding a reference to any of its blocks.
    let mut expected: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut refs_per_doc: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for (from_doc, from_block, def) in &g.walk.refs {
        let Some((def_doc, _, _)) = g.walk.blocks.get(def) else {
            continue;
        };
        expected.entry(def_doc).or_default().insert(from_doc);
        refs_per_doc
            .entry((def_doc, from_doc))
            .or_default()
            .insert(from_block);
    }
    assert!(
        expected.len() > 250,
        "{} referenced documents",
        expected.len()
    );
    let mut self_refs = 0;
    for (def_doc, froms) in &expected {
        let d = call(g, "getBacklinkDoc", json!({"defID": def_doc}));
        let got: BTreeSet<String> = ids(&d["backlinks"]).into_iter().collect();
        let want: BTreeSet<String> = froms.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "referencing documents of {def_doc}");
        assert_eq!(d["docCount"], want.len());
        let mut total = 0;
        for item in d["backlinks"].as_array().unwrap() {
            let from = item["id"].as_str().unwrap();
            assert_eq!(item["rootID"], from);
            assert_eq!(item["title"], g.walk.docs[from].0.as_str());
            assert!(item["path"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{from}.sy")));
            // blockIDs are referencing blocks of that document.
            let blocks: BTreeSet<&str> = item["blockIDs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_str().unwrap())
                .collect();
            assert_eq!(
                blocks,
                refs_per_doc[&(*def_doc, from)],
                "blocks of {from} referencing {def_doc}"
            );
            total += blocks.len();
            if from == *def_doc {
                self_refs += 1;
            }
        }
        assert_eq!(d["refCount"], total);
    }
    assert!(
        self_refs > 0,
        "a document's references to itself are listed"
    );
}

#[test]
fn the_worked_examples() {
    let Some(g) = guide() else { return };
    let path = data("siyuan-guide/expected-backlinks.json").unwrap();
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    for ex in expected["examples"].as_array().unwrap() {
        let def = ex["def"].as_str().unwrap();
        for v in ex["variants"].as_array().unwrap() {
            let cc = v["containChildren"].as_bool().unwrap();
            let d = call(
                g,
                "getBacklink2",
                json!({"id": def, "k": "", "mk": "", "sort": "3", "mSort": "3", "containChildren": cc}),
            );
            assert_eq!(d["linkRefsCount"], v["linkRefsCount"], "{def} cc={cc}");
            assert_eq!(d["box"], v["def"]["box"]);
            let got = d["backlinks"].as_array().unwrap();
            let want = v["backlinks"].as_array().unwrap();
            assert_eq!(ids(&d["backlinks"]), ids(&v["backlinks"]), "{def} cc={cc}");
            for (a, b) in got.iter().zip(want) {
                for f in [
                    "box", "name", "hPath", "type", "nodeType", "subType", "depth", "count",
                    "folded", "updated", "created",
                ] {
                    // The examples were written by Python's html.escape (`&#x27;`); the
                    // kernel's Go escaper writes `&#39;`, and so do we.
                    let want = match &b[f] {
                        Value::String(s) => Value::String(s.replace("&#x27;", "&#39;")),
                        v => v.clone(),
                    };
                    assert_eq!(a[f], want, "{def} cc={cc} {f} of {}", b["id"]);
                }
                // The contexts of that document, in document order.
                let doc = call(
                    g,
                    "getBacklinkDoc",
                    json!({"defID": def, "refTreeID": b["id"], "keyword": "", "containChildren": cc}),
                );
                let items = doc["backlinks"].as_array().unwrap();
                assert_eq!(items.len(), 1);
                let ctx = items[0]["contexts"].as_array().unwrap();
                let want_ctx = b["_getBacklinkDocContexts"].as_array().unwrap();
                assert_eq!(ctx.len(), want_ctx.len(), "{def} in {}", b["id"]);
                for (c, w) in ctx.iter().zip(want_ctx) {
                    assert_eq!(c["id"], w["id"]);
                    assert_eq!(c["type"], w["type"]);
                    assert_eq!(c["expand"], w["expand"], "expand of {}", w["id"]);
                    assert!(c["refBlockIDs"]
                        .as_array()
                        .unwrap()
                        .contains(&w["refBlockID"]));
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "{checked} documents checked");
}

#[test]
fn keyword_filters_and_sort_orders() {
    let Some(g) = guide() else { return };
    let def = "20201204184532-3qm9l8n"; // "Template snippet": 8 referencing documents
    let all = call(g, "getBacklink2", json!({"id": def, "k": "", "mk": ""}));
    let n = all["backlinks"].as_array().unwrap().len();
    assert_eq!(n, 8);
    // A keyword kept only where the context's text, or the document's title, has it.
    let kw = "database";
    let some = call(
        g,
        "getBacklink2",
        json!({"id": def, "k": kw.to_uppercase(), "mk": ""}),
    );
    let kept = ids(&some["backlinks"]);
    assert!(!kept.is_empty() && kept.len() < n, "{kept:?}");
    assert_eq!(some["k"], kw.to_uppercase(), "k is echoed as sent");
    for item in all["backlinks"].as_array().unwrap() {
        let doc = item["id"].as_str().unwrap();
        let d = call(
            g,
            "getBacklinkDoc",
            json!({"defID": def, "refTreeID": doc, "keyword": ""}),
        );
        let matches = d["backlinks"][0]["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| {
                let id = c["id"].as_str().unwrap();
                g.walk.full[id].to_lowercase().contains(kw)
                    || g.walk.docs[doc].0.to_lowercase().contains(kw)
            });
        assert_eq!(kept.contains(&doc.to_string()), matches, "{doc}");
    }
    // Two keywords: either one.
    let two = call(
        g,
        "getBacklink2",
        json!({"id": def, "k": "database FAQ", "mk": ""}),
    );
    assert!(ids(&two["backlinks"]).len() > kept.len());
    // Sort orders with the kernel's meanings.
    let field = |d: &Value, f: &str| -> Vec<String> {
        d["backlinks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[f].as_str().unwrap().to_lowercase())
            .collect()
    };
    let sorted = |v: &[String], asc: bool| {
        v.windows(2)
            .all(|w| if asc { w[0] <= w[1] } else { w[0] >= w[1] })
    };
    for (mode, f, asc) in [
        ("0", "name", true),
        ("1", "name", false),
        ("2", "updated", true),
        ("3", "updated", false),
        ("9", "created", true),
        ("10", "created", false),
        ("7", "id", false),
    ] {
        let d = call(
            g,
            "getBacklink2",
            json!({"id": def, "k": "", "mk": "", "sort": mode}),
        );
        let v = field(&d, f);
        assert_eq!(v.len(), n);
        assert!(sorted(&v, asc), "sort {mode}: {v:?}");
    }
    let default = call(g, "getBacklink2", json!({"id": def}));
    assert_eq!(
        ids(&default["backlinks"]),
        ids(&all["backlinks"]),
        "sort 3 by default"
    );
    assert!(sorted(&field(&default, "updated"), false));
}

/// Brute force: the h/p/t blocks outside `doc` whose own text contains `title` (case-
/// insensitive; a title that starts or ends with a letter or digit must not continue a word).
fn brute_mentions(g: &Guide, doc: &str, title: &str) -> BTreeSet<String> {
    let t = title.to_lowercase();
    let word = |c: char| c.is_alphanumeric() && !is_cjk(c);
    let (first, last) = (
        t.chars().next().is_some_and(word),
        t.chars().next_back().is_some_and(word),
    );
    let mut out = BTreeSet::new();
    for (id, (d, ty, text)) in &g.walk.blocks {
        if d == doc || !["NodeHeading", "NodeParagraph", "NodeTable"].contains(&ty.as_str()) {
            continue;
        }
        let text = text.to_lowercase();
        let found = text.match_indices(&t).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + t.len()..].chars().next();
            !(first && before.is_some_and(word) || last && after.is_some_and(word))
        });
        if found {
            out.insert(id.clone());
        }
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

#[test]
fn mentions_equal_a_brute_force_scan() {
    let Some(g) = guide() else { return };
    let referenced: BTreeSet<&str> = g
        .walk
        .refs
        .iter()
        .filter_map(|(_, _, def)| g.walk.blocks.get(def).map(|b| b.0.as_str()))
        .collect();
    let mut checked = BTreeMap::new();
    for (doc, (title, box_id)) in &g.walk.docs {
        // Documents whose only mention term is the title: no references in (whose anchor
        // texts would be terms too) and no named or aliased blocks.
        if referenced.contains(doc.as_str()) || g.walk.named.contains(doc) || title.is_empty() {
            continue;
        }
        let want = brute_mentions(g, doc, title);
        let d = call(g, "getBackmentionDoc", json!({"defID": doc, "pageSize": 0}));
        let got: BTreeSet<String> = ids(&d["backmentions"]).into_iter().collect();
        assert_eq!(got, want, "mentions of {title:?} ({doc})");
        let two = call(g, "getBacklink2", json!({"id": doc, "k": "", "mk": ""}));
        assert_eq!(two["mentionsCount"], want.len(), "{title}");
        let per_doc: usize = two["backmentions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["count"].as_u64().unwrap() as usize)
            .sum();
        assert_eq!(per_doc, want.len());
        *checked.entry(box_id.as_str()).or_insert(0) += usize::from(!want.is_empty());
    }
    // Titles with mentions in the English and in the Simplified Chinese notebooks.
    assert!(checked["20210808180117-6v0mkxr"] >= 5, "{checked:?}");
    assert!(checked["20210808180117-czj9bvb"] >= 5, "{checked:?}");
}

#[test]
fn mentions_are_paginated_and_filtered() {
    let Some(g) = guide() else { return };
    // "Content Block Type" in the English guide: many mentions in several documents.
    let id = "20200924101225-k254i8g";
    let all = call(g, "getBacklink2", json!({"id": id, "k": "", "mk": ""}));
    let docs = ids(&all["backmentions"]);
    let total = all["mentionsCount"].as_u64().unwrap();
    assert!(docs.len() >= 3, "{docs:?}");
    let mut paged = Vec::new();
    for page in 1..=docs.len() {
        let d = call(
            g,
            "getBacklink2",
            json!({"id": id, "k": "", "mk": "", "mPage": page, "mPageSize": 2}),
        );
        assert_eq!(d["mentionsCount"].as_u64().unwrap(), total);
        paged.extend(ids(&d["backmentions"]));
    }
    assert_eq!(paged, docs, "pages of 2 documents cover the list in order");
    // mk keeps the mention blocks whose text holds it.
    let mk = "shortcut";
    let some = call(g, "getBacklink2", json!({"id": id, "k": "", "mk": mk}));
    let n = some["mentionsCount"].as_u64().unwrap();
    assert!(n < total, "{n} of {total}");
    let blocks = call(g, "getBackmentionDoc", json!({"defID": id, "keyword": mk}));
    for b in blocks["backmentions"].as_array().unwrap() {
        let bid = b["id"].as_str().unwrap();
        assert!(
            g.walk.blocks[bid].2.to_lowercase().contains(mk)
                || g.store
                    .block(bid)
                    .unwrap()
                    .unwrap()
                    .content
                    .to_lowercase()
                    .contains(mk)
        );
    }
    assert_eq!(blocks["mentionsCount"].as_u64().unwrap(), n);
}

#[test]
fn errors_and_unknown_ids() {
    let Some(g) = guide() else { return };
    let raw = |endpoint: &str, body: &str| -> Value {
        let r = g.api.handle(endpoint, body.as_bytes()).unwrap();
        assert_eq!(r.status, 200);
        serde_json::from_str(&r.body).unwrap()
    };
    assert_eq!(
        raw("getBacklink2", r#"{"k":""}"#),
        json!({"code": -1, "msg": "JSON arg [id] is required", "data": null})
    );
    assert_eq!(
        raw("getBacklinkDoc", r#"{"keyword":"x"}"#),
        json!({"code": -1, "msg": "JSON arg [defID] is required", "data": null})
    );
    let typed = raw("getBacklink2", r#"{"id":5}"#);
    assert_eq!(typed["code"], -1);
    assert!(typed["msg"]
        .as_str()
        .unwrap()
        .starts_with("JSON arg [id] is required"));
    let bad = raw("getBacklink2", "{nope");
    assert_eq!(bad["code"], -1);
    assert!(bad["msg"]
        .as_str()
        .unwrap()
        .starts_with("Parses request [/api/ref/getBacklink2] failed: "));
    assert_eq!(
        raw("getBacklink2", "")["msg"],
        "Parses request [/api/ref/getBacklink2] failed: the request body is empty or truncated (EOF)"
    );
    assert_eq!(raw("getBacklink2", "[1]")["code"], -1);
    assert!(g.api.handle("getNothing", b"{}").is_none());
    // An unknown id: the success shape with empty lists, k and mk echoed.
    let none = call(
        g,
        "getBacklink2",
        json!({"id": "20990101000000-zzzzzzz", "k": "a", "mk": "b"}),
    );
    assert_eq!(
        none,
        json!({"backlinks": [], "linkRefsCount": 0, "backmentions": [], "mentionsCount": 0, "k": "a", "mk": "b", "box": ""})
    );
    assert_eq!(
        call(
            g,
            "refreshBacklink",
            json!({"id": "20200924101225-k254i8g"})
        ),
        Value::Null
    );
    // refID must be a block of defID.
    let wrong = raw(
        "getBacklinkDoc",
        r#"{"defID":"20200924101225-k254i8g","refID":"20201204184532-3qm9l8n"}"#,
    );
    assert_eq!(wrong["code"], -1);
}

#[test]
fn ref_id_narrows_to_one_block_and_legacy_get_backlink_agrees() {
    let Some(g) = guide() else { return };
    // "Content Block Type": the heading 20200925102736-x94e40g is referenced 9 times from
    // its own document; the document itself from four others.
    let doc = "20200924101225-k254i8g";
    let heading = "20200925102736-x94e40g";
    let d = call(g, "getBacklinkDoc", json!({"defID": doc, "refID": heading}));
    assert_eq!(ids(&d["backlinks"]), [doc]);
    assert_eq!(d["refCount"], 9);
    let whole = call(g, "getBacklinkDoc", json!({"defID": doc}));
    assert!(whole["docCount"].as_u64().unwrap() >= 5);
    let legacy = call(
        g,
        "getBacklink",
        json!({"id": heading, "k": "", "mk": "", "beforeLen": 12}),
    );
    assert_eq!(legacy["linkRefsCount"], 9);
    let items = legacy["backlinks"].as_array().unwrap();
    assert_eq!(ids(&legacy["backlinks"]), [doc]);
    assert!(!items[0]["blocks"].as_array().unwrap().is_empty());
}
