//! The wikitext spec file and property tests of link extraction.

use inlink_model::{LinkKind, SiteInfo, Title, TitleCodec};
use inlink_parse::{Extracted, Extractor};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

fn codec() -> TitleCodec {
    TitleCodec::new(SiteInfo::mediawiki_default("TestWiki"))
}

fn rows(e: &Extracted) -> BTreeSet<String> {
    let mut s: BTreeSet<String> = e
        .links
        .iter()
        .map(|(k, t)| {
            let k = match k {
                LinkKind::Page => "page",
                LinkKind::Template => "template",
                LinkKind::Image => "image",
                LinkKind::Category => "category",
            };
            format!("{k} {} {}", t.ns, t.dbkey)
        })
        .collect();
    if let Some(r) = &e.redirect {
        let frag = if r.fragment.is_empty() {
            String::new()
        } else {
            format!("#{}", r.fragment)
        };
        s.insert(format!("redirect {} {}{frag}", r.title.ns, r.title.dbkey));
    }
    if e.unexpanded > 0 {
        s.insert(format!("unexpanded {}", e.unexpanded));
    }
    s
}

#[test]
fn wikitext_spec_file() {
    let spec = include_str!("../specs/wikitext.txt");
    let codec = codec();
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut lines = spec.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("@case ") else {
            continue;
        };
        let mut templates: HashMap<Title, String> = HashMap::new();
        let mut page: Option<(Title, String)> = None;
        let mut expect = BTreeSet::new();
        let mut section: Option<(String, String)> = None; // (kind, title)
        let mut body = Vec::new();
        let mut finish = |section: &mut Option<(String, String)>, body: &mut Vec<&str>| {
            if let Some((kind, title)) = section.take() {
                let t = codec.parse_local(&title, 0).expect("valid title in spec");
                let text = body.join("\n");
                if kind == "template" {
                    templates.insert(t, text);
                } else {
                    page = Some((t, text));
                }
            }
            body.clear();
        };
        for l in lines.by_ref() {
            if l == "@end" {
                break;
            } else if let Some(t) = l.strip_prefix("@template ") {
                finish(&mut section, &mut body);
                section = Some(("template".into(), t.into()));
            } else if let Some(t) = l.strip_prefix("@page ") {
                finish(&mut section, &mut body);
                section = Some(("page".into(), t.into()));
            } else if l == "@expect" {
                finish(&mut section, &mut body);
                section = Some(("expect".into(), String::new()));
            } else if matches!(&section, Some((k, _)) if k == "expect") {
                expect.insert(l.to_string());
            } else {
                body.push(l);
            }
        }
        let _ = section;
        let (title, text) = page.expect("case has a page");
        let ex = Extractor::new(codec.clone());
        let source = |t: &Title| templates.get(t).cloned();
        let got = rows(&ex.extract(&title, &text, &source));
        if got != expect {
            failures.push(format!("{name}\n  expected {expect:?}\n  got      {got:?}"));
        }
        cases += 1;
    }
    assert!(cases >= 25, "only {cases} cases");
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn extraction_never_panics(text in "([\\[\\]{}|=<>/:#!a-zA-Z _\\n-]|<nowiki>|</nowiki>|<!--|-->|<noinclude>|<includeonly>|<gallery>|</gallery>|\\{\\{\\{|\\}\\}\\}|#REDIRECT ){0,60}") {
        let ex = Extractor::new(codec());
        let title = Title::new(0, "P");
        let tpl = |t: &Title| (t.dbkey.len() < 3).then(|| "{{{1|[[x]]}}} {{A}} {{B|{{{1}}}}}".to_string());
        let _ = ex.extract(&title, &text, &tpl);
    }
}

/// Extraction time must grow linearly: 16× the input may not take more than ~40× the time
/// (a quadratic parser would take 256×).
#[test]
fn extraction_is_linear() {
    let unit = "[[Link]] {{Tpl|a=[[B|c]]}} text <nowiki>[[x]]</nowiki> {{{{x}} [[Unclosed {{ ";
    let ex = Extractor::new(codec());
    let title = Title::new(0, "P");
    let tpl = |_: &Title| Some("[[{{{a}}}]]".to_string());
    let time = |n: usize| {
        let text = unit.repeat(n);
        let start = Instant::now();
        for _ in 0..3 {
            let _ = ex.extract(&title, &text, &tpl);
        }
        start.elapsed().as_secs_f64()
    };
    time(200);
    let small = time(1_000);
    let large = time(16_000);
    assert!(
        large < small * 40.0,
        "1k units {small:.4}s, 16k units {large:.4}s"
    );
}

#[path = "../../../tests/support/shared_data.rs"]
mod shared_data;
use shared_data::data;

fn sy_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sy_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "sy") {
            out.push(p);
        }
    }
}

/// The SiYuan user guide parses into the documents, blocks and reference rows its STATS.md
/// counts (computed independently from the JSON).
#[test]
fn siyuan_guide_matches_its_statistics() {
    use inlink_parse::siyuan::{parse_document, RefKind};
    let Some(dir) = data("siyuan-guide") else {
        return;
    };
    let mut files = Vec::new();
    sy_files(&dir, &mut files);
    let stats = std::fs::read_to_string(dir.join("STATS.md")).unwrap();
    let stat = |name: &str| -> usize {
        let line = stats
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("{name} in STATS.md"));
        line.split('|').nth(2).unwrap().trim().parse().unwrap()
    };
    let docs: Vec<_> = files
        .iter()
        .map(|f| {
            parse_document(&std::fs::read_to_string(f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        })
        .collect();
    assert_eq!(docs.len(), stat("documents"));
    assert_eq!(
        docs.iter().map(|d| d.blocks.len()).sum::<usize>(),
        stat("blocks")
    );
    let rows: usize = docs.iter().map(|d| d.refs.len()).sum();
    assert_eq!(rows, stat("refRows"));
    let embeds = docs
        .iter()
        .flat_map(|d| &d.refs)
        .filter(|r| r.kind == RefKind::Embed)
        .count();
    assert_eq!(embeds, stat("embedRefRows"));
    let ids: std::collections::HashMap<&str, &str> = docs
        .iter()
        .flat_map(|d| d.blocks.iter().map(move |b| (b.id.as_str(), d.id.as_str())))
        .collect();
    let same = docs
        .iter()
        .flat_map(|d| d.refs.iter().map(move |r| (d, r)))
        .filter(|(d, r)| ids.get(r.def.as_str()) == Some(&d.id.as_str()))
        .count();
    assert_eq!(same, stat("sameDocumentRefRows"));
    let dangling = docs
        .iter()
        .flat_map(|d| &d.refs)
        .filter(|r| !ids.contains_key(r.def.as_str()))
        .count();
    assert_eq!(dangling, stat("danglingRefRows"));
    // Every document's first block is the document, whose content is its title.
    assert!(docs.iter().all(|d| d.blocks[0].id == d.id
        && d.blocks[0].kind == "d"
        && d.blocks[0].content == d.title));
}

fn arb_node() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::json!({"Type": "NodeText", "Data": "x"})),
        Just(
            serde_json::json!({"Type": "NodeTextMark", "TextMarkType": "block-ref", "TextMarkBlockRefID": "20240101000000-aaaaaaa", "TextMarkTextContent": "a"})
        ),
        Just(
            serde_json::json!({"Type": "NodeBlockQueryEmbedScript", "Data": "select * from blocks where id='20240101000000-aaaaaaa'"})
        ),
        Just(serde_json::json!({"Type": 3, "ID": null})),
        Just(serde_json::json!("string")),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        (
            prop::sample::select(vec!["NodeParagraph", "NodeHeading", "NodeList", "NodeListItem", "NodeBlockQueryEmbed", "NodeSuperBlock", "NodeBlockRef", "NodeText"]),
            prop::sample::select(vec!["20240101000001-bbbbbbb", "20240101000002-c", "bad", ""]),
            prop::collection::vec(inner, 0..5),
            0u64..8,
        )
            .prop_map(|(ty, id, children, level)| serde_json::json!({"Type": ty, "ID": id, "HeadingLevel": level, "Properties": {"alias": "a,b"}, "Children": children}))
    })
}

proptest! {
    /// Whatever JSON a `.sy` file holds, parsing returns a document or an error.
    #[test]
    fn sy_parsing_never_panics(children in prop::collection::vec(arb_node(), 0..6), junk in "\\PC{0,30}") {
        let doc = serde_json::json!({"ID": "20240101000000-aaaaaaa", "Type": "NodeDocument", "Properties": {"title": "T"}, "Children": children});
        let parsed = inlink_parse::siyuan::parse_document(&doc.to_string());
        prop_assert!(parsed.is_ok());
        let _ = inlink_parse::siyuan::parse_document(&junk);
    }
}

mod markdown {
    use inlink_parse::markdown::{parse_note, split_wikilink, Flavour, Target};
    use proptest::prelude::*;

    fn targets(src: &str, f: Flavour) -> Vec<(String, Option<String>, bool)> {
        parse_note(src, f)
            .links
            .into_iter()
            .map(|l| match l.target {
                Target::Note { name, fragment } => (name, fragment, l.embed),
                Target::Block(id) => (format!("(({id}))"), None, l.embed),
            })
            .collect()
    }

    #[test]
    fn wikilink_forms() {
        let t = targets(
            "[[Note]] [[Note|label]] [[Note#Heading]] [[Note#^blk]] ![[Embed]] [[#Local]]",
            Flavour::Obsidian,
        );
        assert_eq!(
            t,
            [
                ("Note".into(), None, false),
                ("Note".into(), None, false),
                ("Note".into(), Some("Heading".into()), false),
                ("Note".into(), Some("^blk".into()), false),
                ("Embed".into(), None, true),
                ("".into(), Some("Local".into()), false),
            ]
        );
        assert_eq!(
            split_wikilink("label|note.path", Flavour::Dendron),
            ("note.path".into(), "label".into())
        );
        assert_eq!(
            split_wikilink("x|dendron://vault/a.b#c", Flavour::Dendron).0,
            "a.b#c"
        );
        assert_eq!(
            split_wikilink("Note|label", Flavour::Obsidian),
            ("Note".into(), "label".into())
        );
    }

    #[test]
    fn code_is_not_scanned_and_html_is() {
        let t = targets(
            "```\n[[A]]\n```\n\n    [[B]] indented code\n\nx `[[C]]` y\n\n<details>\n[[D]]\n<!-- [[E]] -->\n</details>\n",
            Flavour::Obsidian,
        );
        assert_eq!(t, [("D".into(), None, false)]);
    }

    #[test]
    fn blocks_ids_and_properties() {
        let n = parse_note(
            "---\ntitle: T\naliases:\n  - One\n  - Two\n---\n# H\n\npara ^p1\n\n- item\n  - sub\n\n> quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nx\n{: id=\"20240101000000-abcdefg\"}\n",
            Flavour::Obsidian,
        );
        assert_eq!(n.title.as_deref(), Some("T"));
        assert_eq!(n.aliases, ["One", "Two"]);
        let kinds: Vec<&str> = n.blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            ["h", "p", "l", "i", "p", "l", "i", "p", "b", "p", "t", "p"]
        );
        assert_eq!(n.blocks[1].id.as_deref(), Some("^p1"));
        assert_eq!(n.blocks[1].text, "para");
        assert_eq!(n.blocks[1].parent, Some(0), "under the heading");
        assert_eq!(n.blocks[11].id.as_deref(), Some("20240101000000-abcdefg"));
        assert_eq!(n.blocks[10].text, "a b 1 2");
        let l = parse_note(
            "- a\n  id:: 11111111-2222\n  - b ((11111111-2222))\n",
            Flavour::Logseq,
        );
        assert_eq!(l.blocks[0].id.as_deref(), Some("11111111-2222"), "the item");
        assert_eq!(l.links.len(), 1);
        assert_eq!(l.links[0].target, Target::Block("11111111-2222".into()));
        let s = parse_note(
            "see ((20240101000000-abcdefg 'dyn')) now",
            Flavour::Obsidian,
        );
        assert_eq!(s.links[0].label, "dyn");
    }

    proptest! {
        #[test]
        fn markdown_parsing_never_panics(
            src in "(\\PC|\\n|\\t|\\[\\[|\\]\\]|\\(\\(|\\)\\)|```|- |#|\\^|::|\\{: id=\"|<!--|-->|\\|){0,80}",
            flavour in prop::sample::select(vec![Flavour::Obsidian, Flavour::Dendron, Flavour::Logseq]),
        ) {
            let n = parse_note(&src, flavour);
            for l in &n.links {
                prop_assert!(l.block < n.blocks.len());
            }
            for (i, b) in n.blocks.iter().enumerate() {
                prop_assert!(b.parent.is_none_or(|p| p < i), "parents come first");
            }
        }
    }
}
