//! Integration tests of the model crate: the title spec file and property tests.

use inlink_model::{SiteInfo, TitleCodec, TitleError};
use proptest::prelude::*;

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('s') => out.push(' '),
            Some('u') => {
                assert_eq!(it.next(), Some('{'));
                let hex: String = it.by_ref().take_while(|&c| c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            other => panic!("bad escape \\{other:?}"),
        }
    }
    out
}

fn variant(e: &TitleError) -> &'static str {
    match e {
        TitleError::Empty => "Empty",
        TitleError::Utf8 => "Utf8",
        TitleError::Characters(_) => "Characters",
        TitleError::Relative => "Relative",
        TitleError::Magic => "Magic",
        TitleError::TooLong { .. } => "TooLong",
        TitleError::TalkNamespace => "TalkNamespace",
        TitleError::LeadingColon => "LeadingColon",
        TitleError::EmptyInNamespace => "EmptyInNamespace",
    }
}

#[test]
fn title_spec_file() {
    let codec = TitleCodec::new(SiteInfo::mediawiki_default("TestWiki"));
    let spec = include_str!("../specs/titles.txt");
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, line) in spec.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (input, expected) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("line {}: no tab", n + 1));
        let input = unescape(input);
        let got = match codec.parse(&input, 0) {
            Ok(p) => {
                let mut s = String::new();
                if !p.interwiki.is_empty() {
                    s.push_str(&format!("iw:{}|", p.interwiki));
                }
                s.push_str(&format!("{}|{}", p.ns, p.dbkey));
                if !p.fragment.is_empty() {
                    s.push_str(&format!("|{}", p.fragment));
                }
                s
            }
            Err(e) => format!("error:{}", variant(&e)),
        };
        if got != expected {
            failures.push(format!(
                "line {}: {input:?}: expected {expected}, got {got}",
                n + 1
            ));
        }
        checked += 1;
    }
    assert!(checked > 80, "only {checked} cases read");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        let codec = TitleCodec::new(SiteInfo::mediawiki_default("W"));
        let _ = codec.parse(&s, 0);
        let _ = codec.parse(&s, 10);
    }

    /// A normalised title printed as text parses back to itself.
    #[test]
    fn normalisation_is_idempotent(s in "[a-zA-Z0-9 _:#éßǆ.\\-/]{1,30}", ns in prop::sample::select(vec![0, 1, 2, 4, 10, 14])) {
        let codec = TitleCodec::new(SiteInfo::mediawiki_default("W"));
        if let Ok(p) = codec.parse(&s, ns) {
            if p.is_local() && !p.dbkey.is_empty() && p.ns >= 0 {
                let text = codec.full_text(&p.title());
                let again = codec.parse(&text, 0).expect("printed title must parse");
                prop_assert_eq!((again.ns, again.dbkey), (p.ns, p.dbkey));
            }
        }
    }
}
