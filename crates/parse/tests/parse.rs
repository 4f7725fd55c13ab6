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
