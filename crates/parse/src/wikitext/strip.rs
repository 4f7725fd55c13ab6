//! The preprocessor's first step: comments, inclusion control tags and extension tags whose
//! content is not wikitext. Works on raw text before braces are parsed.

use inlink_model::{TitleCodec, NS_FILE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The page itself is being rendered.
    Page,
    /// The text is transcluded into another page.
    Transclusion,
}

/// Extension tags whose content never yields links. Their content is dropped.
const OPAQUE_TAGS: &[&str] = &[
    "nowiki",
    "pre",
    "math",
    "syntaxhighlight",
    "source",
    "score",
    "timeline",
    "hiero",
    "graph",
    "templatedata",
    "chem",
    "ce",
    "mapframe",
    "maplink",
    "charinsert",
    "inputbox",
    "categorytree",
    "templatestyles",
    "indicator-none",
    "imagemap",
];

/// ASCII case-insensitive search for `needle` (given in lower case) from `from`.
pub(crate) fn find_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    let mut i = from;
    while i + n.len() <= h.len() {
        let pos = memchr::memchr(n[0], &h[i..]).map(|p| p + i)?;
        if pos + n.len() > h.len() {
            return None;
        }
        if h[pos..pos + n.len()]
            .iter()
            .zip(n)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
        {
            return Some(pos);
        }
        i = pos + 1;
    }
    None
}

/// Parses `<name ...>` or `</name>` at `pos` (which holds `<`). Returns (closing, name in
/// lower case, end of the tag, self-closing).
fn read_tag(text: &str, pos: usize) -> Option<(bool, String, usize, bool)> {
    let b = text.as_bytes();
    let mut i = pos + 1;
    let closing = b.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
        i += 1;
    }
    if i == start {
        return None;
    }
    let name = text[start..i].to_ascii_lowercase();
    match b.get(i) {
        Some(b'>') | Some(b'/') | Some(b' ') | Some(b'\t') | Some(b'\n') | Some(b'\r') => {}
        _ => return None,
    }
    let end = memchr::memchr(b'>', &b[i..]).map(|p| p + i)?;
    let self_closing = end > 0 && b[end - 1] == b'/';
    Some((closing, name, end + 1, self_closing))
}

/// Only the parts inside `<onlyinclude>` blocks, when the text has any.
fn onlyinclude_parts(text: &str) -> Option<String> {
    let mut pos = find_ci(text, 0, "<onlyinclude>")?;
    let mut out = String::new();
    loop {
        let start = pos + "<onlyinclude>".len();
        match find_ci(text, start, "</onlyinclude>") {
            Some(end) => {
                out.push_str(&text[start..end]);
                match find_ci(text, end, "<onlyinclude>") {
                    Some(p) => pos = p,
                    None => break,
                }
            }
            None => {
                out.push_str(&text[start..]);
                break;
            }
        }
    }
    Some(out)
}

/// Applies comments, `<includeonly>`/`<noinclude>`/`<onlyinclude>` and opaque extension
/// tags for `mode`. `<gallery>` lines become `[[File:…|…]]` so that images and caption
/// links are found like any other link.
pub(crate) fn preprocess(text: &str, mode: Mode, codec: &TitleCodec) -> String {
    let only;
    let text = match mode {
        Mode::Transclusion => match onlyinclude_parts(text) {
            Some(s) => {
                only = s;
                only.as_str()
            }
            None => text,
        },
        Mode::Page => text,
    };
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'<', &b[i..]) {
        let pos = i + p;
        i = pos + 1;
        if text[pos..].starts_with("<!--") {
            out.push_str(&text[last..pos]);
            last = match text[pos + 4..].find("-->") {
                Some(e) => pos + 4 + e + 3,
                None => text.len(),
            };
            i = last;
            continue;
        }
        let Some((closing, name, tag_end, self_closing)) = read_tag(text, pos) else {
            continue;
        };
        let drop_content = |close: &str| -> usize {
            find_ci(text, tag_end, close)
                .map(|e| e + close.len())
                .unwrap_or(text.len())
        };
        let (skip_to, replacement): (usize, Option<String>) = match (name.as_str(), mode, closing) {
            ("includeonly", Mode::Page, false) if !self_closing => {
                (drop_content("</includeonly>"), None)
            }
            ("noinclude", Mode::Transclusion, false) if !self_closing => {
                (drop_content("</noinclude>"), None)
            }
            ("includeonly" | "noinclude" | "onlyinclude", _, _) => (tag_end, None),
            (n, _, false) if OPAQUE_TAGS.contains(&n) => {
                if self_closing {
                    (tag_end, None)
                } else {
                    let close = format!("</{n}");
                    match find_ci(text, tag_end, &close) {
                        Some(e) => {
                            let end = text[e..].find('>').map(|g| e + g + 1).unwrap_or(text.len());
                            (end, None)
                        }
                        // An unclosed extension tag is plain text, as in MediaWiki.
                        None => continue,
                    }
                }
            }
            ("gallery", _, false) if !self_closing => match find_ci(text, tag_end, "</gallery") {
                Some(e) => {
                    let end = text[e..].find('>').map(|g| e + g + 1).unwrap_or(text.len());
                    (end, Some(gallery_links(&text[tag_end..e], codec)))
                }
                None => continue,
            },
            _ => continue,
        };
        out.push_str(&text[last..pos]);
        if let Some(r) = replacement {
            out.push_str(&r);
        }
        last = skip_to;
        i = skip_to;
    }
    out.push_str(&text[last..]);
    out
}

/// `<gallery>` content: one image per line, `File name|caption`, namespace File by default.
fn gallery_links(content: &str, codec: &TitleCodec) -> String {
    let mut out = String::new();
    for line in content.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (name, caption) = match line.split_once('|') {
            Some((n, c)) => (n, Some(c)),
            None => (line, None),
        };
        let Some(t) = codec.parse_local(name, NS_FILE) else {
            continue;
        };
        if t.ns != NS_FILE {
            continue;
        }
        out.push_str("[[File:");
        out.push_str(&t.dbkey);
        if let Some(c) = caption {
            out.push('|');
            out.push_str(c);
        }
        out.push_str("]]\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlink_model::SiteInfo;

    fn pre(t: &str, mode: Mode) -> String {
        preprocess(t, mode, &TitleCodec::new(SiteInfo::mediawiki_default("W")))
    }

    #[test]
    fn comments_and_opaque_tags() {
        assert_eq!(pre("a<!-- [[X]] -->b<!-- open", Mode::Page), "ab");
        assert_eq!(pre("a<nowiki>[[X]]</nowiki>b<NoWiki/>c", Mode::Page), "abc");
        assert_eq!(pre("a<pre class=x>[[X]]</PRE >b", Mode::Page), "ab");
        assert_eq!(pre("a<nowiki>[[X]]", Mode::Page), "a<nowiki>[[X]]");
        assert_eq!(
            pre("<ref name=x>[[Y]]</ref>", Mode::Page),
            "<ref name=x>[[Y]]</ref>"
        );
    }

    #[test]
    fn inclusion_control() {
        let t = "A<noinclude>N</noinclude>B<includeonly>I</includeonly>C";
        assert_eq!(pre(t, Mode::Page), "ANBC");
        assert_eq!(pre(t, Mode::Transclusion), "ABIC");
        let o = "x<onlyinclude>1</onlyinclude>y<onlyinclude>2</onlyinclude>z";
        assert_eq!(pre(o, Mode::Transclusion), "12");
        assert_eq!(pre(o, Mode::Page), "x1y2z");
    }

    #[test]
    fn gallery_becomes_file_links() {
        let g = "<gallery>\nFoo.png|A [[Link]]\nImage:bar.jpg\n\n</gallery>";
        assert_eq!(
            pre(g, Mode::Page),
            "[[File:Foo.png|A [[Link]]]]\n[[File:Bar.jpg]]\n"
        );
    }
}
