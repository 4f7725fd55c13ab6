//! `[[…]]` links in expanded wikitext, as MediaWiki's `handleInternalLinks2` finds them.

use super::Sink;
use inlink_model::{
    LinkKind, ParsedTitle, Title, TitleCodec, NS_CATEGORY, NS_FILE, NS_MEDIA, NS_SPECIAL,
};
use std::borrow::Cow;
use std::collections::HashMap;

/// URL protocols (`$wgUrlProtocols`); `[[http://x]]` is not an internal link.
const URL_PROTOCOLS: &[&str] = &[
    "bitcoin:",
    "ftp://",
    "ftps://",
    "geo:",
    "git://",
    "gopher://",
    "http://",
    "https://",
    "irc://",
    "ircs://",
    "magnet:",
    "mailto:",
    "matrix:",
    "mms://",
    "news:",
    "nntp://",
    "redis://",
    "sftp://",
    "sip:",
    "sips:",
    "sms:",
    "ssh://",
    "svn://",
    "tel:",
    "telnet://",
    "urn:",
    "worldwind://",
    "xmpp:",
    "//",
];

fn starts_with_protocol(s: &str) -> bool {
    let b = s.as_bytes();
    if b.starts_with(b"//") {
        return true;
    }
    // Every other protocol has its colon within ten bytes (`worldwind:`), and only those
    // with the colon where the text has its first one can match: namespaced titles
    // (`Category:…`) end here.
    let head = &b[..b.len().min(10)];
    let Some(colon) = head.iter().position(|&c| c == b':') else {
        return false;
    };
    URL_PROTOCOLS.iter().any(|p| {
        let p = p.as_bytes();
        p.get(colon) == Some(&b':') && b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p)
    })
}

/// The characters a link target may hold: legal title characters plus `#` and `%`.
fn is_target_char(c: char) -> bool {
    if !c.is_ascii() {
        return true;
    }
    matches!(c, ' '..='~') && !matches!(c, '<' | '>' | '[' | ']' | '{' | '}' | '|')
}

/// PHP's `rawurldecode`: `%XX` → byte; invalid UTF-8 becomes U+FFFD (an invalid title).
/// `<` and `>` come out as entities, as in MediaWiki's link code; both are invalid in titles.
pub(crate) fn raw_url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("ascii");
            out.push(u8::from_str_radix(hex, 16).expect("hex digits"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out)
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Resolves `[[/Sub]]` and `[[../Up]]` against the page when its namespace has subpages.
/// `None` means the link is plain text (climbing above the root).
fn subpage_link<'t>(codec: &TitleCodec, page: &Title, target: &'t str) -> Option<Cow<'t, str>> {
    if !(target.starts_with('/') || target.starts_with("../"))
        || !codec.site().namespaces.has_subpages(page.ns)
    {
        return Some(Cow::Borrowed(target));
    }
    let base = codec.full_text(page);
    if let Some(rest) = target.strip_prefix('/') {
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        return Some(Cow::Owned(format!("{base}/{rest}")));
    }
    let mut rest = target;
    let mut parts: Vec<&str> = base.split('/').collect();
    while let Some(r) = rest.strip_prefix("../") {
        rest = r;
        parts.pop();
        if parts.is_empty() {
            return None;
        }
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut s = parts.join("/");
    if !rest.is_empty() {
        s.push('/');
        s.push_str(rest);
    }
    Some(Cow::Owned(s))
}

/// Link targets already parsed, by their text. A wiki's pages name the same popular titles
/// over and over, and a lookup costs a fraction of the title rules. Emptied when full.
#[derive(Default)]
pub(crate) struct TitleMemo {
    parsed: HashMap<Box<str>, Option<ParsedTitle>, foldhash::fast::RandomState>,
}

/// Entries a memo holds before it starts again (a few MB).
const MEMO_ENTRIES: usize = 1 << 16;

impl TitleMemo {
    /// `codec.parse(text, 0)`, remembered. A memo serves one codec only.
    fn parse(&mut self, codec: &TitleCodec, text: &str) -> Option<ParsedTitle> {
        if let Some(known) = self.parsed.get(text) {
            return known.clone();
        }
        let parsed = codec.parse(text, 0).ok();
        if self.parsed.len() >= MEMO_ENTRIES {
            self.parsed.clear();
        }
        self.parsed.insert(text.into(), parsed.clone());
        parsed
    }
}

pub(crate) fn extract(
    text: &str,
    page: &Title,
    codec: &TitleCodec,
    memo: &mut TitleMemo,
    sink: &mut Sink,
) {
    let starts: Vec<usize> = memchr::memmem::find_iter(text.as_bytes(), b"[[").collect();
    for (n, &start) in starts.iter().enumerate() {
        // MediaWiki splits the text on `[[`; a piece runs to the next one.
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        let piece = &text[start + 2..end];
        let target_len = piece
            .char_indices()
            .find(|&(_, c)| !is_target_char(c))
            .map(|(i, _)| i)
            .unwrap_or(piece.len());
        if target_len == 0 {
            continue;
        }
        let rest = &piece[target_len..];
        let (might_be_img, options) = if rest.starts_with("]]") {
            (false, "")
        } else if let Some(after) = rest.strip_prefix('|') {
            // `[[X|label]]` needs a non-empty label before `]]`; `[[X|]]` (the pipe trick,
            // already expanded when MediaWiki saved the page) counts as a link to X.
            let closed = after.find("]]").is_some();
            (!closed, after)
        } else {
            continue;
        };
        let mut target = Cow::Borrowed(&piece[..target_len]);
        if target.contains('%') {
            target = Cow::Owned(raw_url_decode(&target));
        }
        let orig = target.trim_start_matches(' ');
        if starts_with_protocol(orig) {
            continue;
        }
        let forced = orig.starts_with(':');
        let Some(link) = subpage_link(codec, page, orig) else {
            continue;
        };
        let Some(t) = memo.parse(codec, &link) else {
            continue;
        };
        if !t.is_local() {
            continue;
        }
        if t.ns == NS_FILE && !forced {
            if !t.dbkey.is_empty() {
                sink.add(LinkKind::Image, Title::new(NS_FILE, t.dbkey.clone()));
            }
            image_link_option(options, page, codec, sink);
            continue;
        }
        if might_be_img {
            continue;
        }
        match t.ns {
            NS_CATEGORY if !forced => sink.add(LinkKind::Category, Title::new(t.ns, t.dbkey)),
            NS_MEDIA => sink.add(LinkKind::Image, Title::new(NS_FILE, t.dbkey)),
            NS_SPECIAL => {}
            _ if t.dbkey.is_empty() => {}
            _ => {
                if t.ns == page.ns && t.dbkey == page.dbkey && t.fragment.is_empty() {
                    continue;
                }
                sink.add(LinkKind::Page, Title::new(t.ns, t.dbkey));
            }
        }
    }
}

/// `[[File:X|link=Target]]` links the image to a page, which MediaWiki records.
fn image_link_option(options: &str, page: &Title, codec: &TitleCodec, sink: &mut Sink) {
    let end = options.find("]]").unwrap_or(options.len());
    for opt in options[..end].split('|') {
        let Some(v) = opt.trim_start().strip_prefix("link=") else {
            continue;
        };
        let v = v.trim();
        if v.is_empty() || starts_with_protocol(v) {
            continue;
        }
        if let Some(t) = codec.parse_local(v, 0) {
            if t.ns >= 0 && !t.dbkey.is_empty() && t != *page {
                sink.add(LinkKind::Page, t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlink_model::SiteInfo;

    /// The memo answers as the title rules do, for texts seen once, again, and after it
    /// filled up and started again.
    #[test]
    fn memo_answers_as_the_title_rules() {
        let codec = TitleCodec::new(SiteInfo::mediawiki_default("W"));
        let mut memo = TitleMemo::default();
        let texts = [
            "foo bar",
            "Foo_bar",
            "talk:x",
            "Talk:X#Part",
            "w:en:Y",
            "A[b",
            "",
            " : ",
            "ß x",
            "Category:Birds",
            "..",
            "User:127.0.0.1",
            "a&amp;b",
            "e\u{301}",
        ];
        let spread = (0..MEMO_ENTRIES + 10).map(|i| format!("Page {i}"));
        let all: Vec<String> = texts
            .iter()
            .map(|t| t.to_string())
            .chain(spread)
            .chain(texts.iter().map(|t| t.to_string()))
            .collect();
        for text in &all {
            assert_eq!(
                memo.parse(&codec, text),
                codec.parse(text, 0).ok(),
                "{text:?}"
            );
        }
        assert!(memo.parsed.len() <= MEMO_ENTRIES);
    }

    #[test]
    fn protocols_need_their_colon_or_slashes() {
        for yes in [
            "http://x",
            "HTTPS://x",
            "//x",
            "worldwind://x",
            "mailto:a",
            "urn:x",
        ] {
            assert!(starts_with_protocol(yes), "{yes}");
        }
        for no in [
            "http",
            "Foo:bar",
            "/x",
            "worldwind:/x",
            "Talk:http://x",
            "a//b",
        ] {
            assert!(!starts_with_protocol(no), "{no}");
        }
    }
}
