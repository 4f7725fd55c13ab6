//! `[[…]]` links in expanded wikitext, as MediaWiki's `handleInternalLinks2` finds them.

use super::Sink;
use inlink_model::{LinkKind, Title, TitleCodec, NS_CATEGORY, NS_FILE, NS_MEDIA, NS_SPECIAL};

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
    URL_PROTOCOLS
        .iter()
        .any(|p| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
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
fn subpage_link(codec: &TitleCodec, page: &Title, target: &str) -> Option<String> {
    if !codec.site().namespaces.has_subpages(page.ns) {
        return Some(target.to_string());
    }
    let base = codec.full_text(page);
    if let Some(rest) = target.strip_prefix('/') {
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        return Some(format!("{base}/{rest}"));
    }
    if target.starts_with("../") {
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
        return Some(s);
    }
    Some(target.to_string())
}

pub(crate) fn extract(text: &str, page: &Title, codec: &TitleCodec, sink: &mut Sink) {
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
        let mut target = piece[..target_len].to_string();
        if target.contains('%') {
            target = raw_url_decode(&target);
        }
        let orig = target.trim_start_matches(' ');
        if starts_with_protocol(orig) {
            continue;
        }
        let forced = orig.starts_with(':');
        let Some(link) = subpage_link(codec, page, orig) else {
            continue;
        };
        let Ok(t) = codec.parse(&link, 0) else {
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
            NS_CATEGORY if !forced => sink.add(LinkKind::Category, t.title()),
            NS_MEDIA => sink.add(LinkKind::Image, Title::new(NS_FILE, t.dbkey)),
            NS_SPECIAL => {}
            _ if t.dbkey.is_empty() => {}
            _ => {
                if t.ns == page.ns && t.dbkey == page.dbkey && t.fragment.is_empty() {
                    continue;
                }
                sink.add(LinkKind::Page, t.title());
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
