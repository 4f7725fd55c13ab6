//! MediaWiki 1.39's title rules (`MediaWikiTitleCodec::splitTitleString` and
//! `Title::newFromText`); `docs/titles.md` lists them with the reasons.

use crate::entities::decode_char_references;
use crate::error::TitleError;
use crate::ip::sanitize_ip;
use crate::namespace::{
    CaseRule, NamespaceId, NS_MAIN, NS_SPECIAL, NS_TALK, NS_USER, NS_USER_TALK,
};
use crate::page::Title;
use crate::siteinfo::SiteInfo;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// A parsed title: a local title or an interwiki one, with the fragment after `#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTitle {
    pub ns: NamespaceId,
    pub dbkey: String,
    /// Text after `#`, with spaces; empty when there is none.
    pub fragment: String,
    /// Lower-cased interwiki prefix; empty for a local title.
    pub interwiki: String,
}

impl ParsedTitle {
    pub fn is_local(&self) -> bool {
        self.interwiki.is_empty()
    }

    pub fn title(&self) -> Title {
        Title::new(self.ns, self.dbkey.clone())
    }
}

/// Parses and formats titles under one wiki's configuration.
#[derive(Debug, Clone)]
pub struct TitleCodec {
    site: SiteInfo,
}

fn is_space_like(c: char) -> bool {
    matches!(
        c,
        ' ' | '_' | '\u{A0}' | '\u{1680}' | '\u{180E}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}')
}

/// `$wgLegalTitleChars`: printable ASCII except `#<>[]{}|`, and anything non-ASCII.
fn is_legal_char(c: char) -> bool {
    if !c.is_ascii() {
        return true;
    }
    matches!(c, ' '..='~') && !matches!(c, '#' | '<' | '>' | '[' | ']' | '{' | '}' | '|')
}

/// Splits `^(.+?)_*:_*(.*)$`: the prefix before the first colon (at least one
/// character) with underscores around the colon trimmed.
fn split_prefix(s: &str) -> Option<(&str, &str)> {
    // `.+?` needs one character before the colon, so search from the second one.
    let first_len = s.chars().next()?.len_utf8();
    let colon = s[first_len..].find(':')? + first_len;
    Some((
        s[..colon].trim_end_matches('_'),
        s[colon + 1..].trim_start_matches('_'),
    ))
}

impl TitleCodec {
    pub fn new(site: SiteInfo) -> Self {
        TitleCodec { site }
    }

    pub fn site(&self) -> &SiteInfo {
        &self.site
    }

    /// `Title::newFromText(text, default_ns)`.
    pub fn parse(&self, text: &str, default_ns: NamespaceId) -> Result<ParsedTitle, TitleError> {
        let decoded = decode_char_references(text);
        // ASCII is always in NFC.
        if decoded.is_ascii() || is_nfc_quick(decoded.chars()) == IsNormalized::Yes {
            return self.split(&decoded, default_ns);
        }
        let normalized: String = decoded.nfc().collect();
        self.split(&normalized, default_ns)
    }

    /// Parses a title that must be local (not interwiki).
    pub fn parse_local(&self, text: &str, default_ns: NamespaceId) -> Option<Title> {
        self.parse(text, default_ns)
            .ok()
            .filter(ParsedTitle::is_local)
            .map(|p| p.title())
    }

    fn split(&self, text: &str, default_ns: NamespaceId) -> Result<ParsedTitle, TitleError> {
        let mut ns = default_ns;
        let mut interwiki = String::new();
        // Spaces → `_`, bidi marks removed, whitespace runs collapsed, `_` trimmed.
        let mut in_space = false;
        let key = if text.is_ascii() {
            // The same, a byte at a time: neither bidi marks nor U+FFFD are ASCII.
            let mut bytes = Vec::with_capacity(text.len());
            for &b in text.as_bytes() {
                if b == b' ' || b == b'_' {
                    in_space = true;
                    continue;
                }
                if in_space && !bytes.is_empty() {
                    bytes.push(b'_');
                }
                in_space = false;
                bytes.push(b);
            }
            String::from_utf8(bytes).expect("ASCII")
        } else {
            let mut key = String::with_capacity(text.len());
            for c in text.chars() {
                if is_bidi_override(c) {
                    continue;
                }
                if is_space_like(c) {
                    in_space = true;
                    continue;
                }
                if in_space && !key.is_empty() {
                    key.push('_');
                }
                in_space = false;
                key.push(c);
            }
            if key.contains('\u{FFFD}') {
                return Err(TitleError::Utf8);
            }
            key
        };
        let mut dbkey: &str = &key;
        if let Some(rest) = dbkey.strip_prefix(':') {
            ns = NS_MAIN;
            dbkey = rest.trim_matches('_');
        }
        if dbkey.is_empty() {
            return Err(TitleError::Empty);
        }
        // Local interwiki prefixes are stripped and the split runs again; anything else ends it.
        while let Some((prefix, rest)) = split_prefix(dbkey) {
            if let Some(found) = self.site.namespaces.lookup(prefix) {
                dbkey = rest;
                ns = found;
                if found == NS_TALK {
                    if let Some((p2, _)) = split_prefix(dbkey) {
                        if self.site.namespaces.lookup(p2).is_some_and(|id| id != 0) {
                            return Err(TitleError::TalkNamespace);
                        }
                        if self.site.interwiki(p2).is_some() {
                            return Err(TitleError::TalkNamespace);
                        }
                    }
                }
            } else if let Some(local) = self.site.interwiki(prefix) {
                dbkey = rest;
                if local {
                    // A redundant prefix to this wiki: behave like a leading colon and split again.
                    if dbkey.is_empty() {
                        return Ok(ParsedTitle {
                            ns: NS_MAIN,
                            dbkey: "Main_Page".into(),
                            fragment: String::new(),
                            interwiki,
                        });
                    }
                    ns = NS_MAIN;
                    continue;
                }
                interwiki = prefix.to_lowercase();
                if let Some(r) = dbkey.strip_prefix(':') {
                    ns = NS_MAIN;
                    dbkey = r.trim_matches('_');
                }
            }
            break;
        }
        let mut fragment = String::new();
        if let Some(hash) = dbkey.find('#') {
            fragment = dbkey[hash + 1..].replace('_', " ");
            dbkey = dbkey[..hash].trim_end_matches('_');
        }
        check_characters(dbkey)?;
        if dbkey.contains('.')
            && (dbkey == "."
                || dbkey == ".."
                || dbkey.starts_with("./")
                || dbkey.starts_with("../")
                || dbkey.contains("/./")
                || dbkey.contains("/../")
                || dbkey.ends_with("/.")
                || dbkey.ends_with("/.."))
        {
            return Err(TitleError::Relative);
        }
        if dbkey.contains("~~~") {
            return Err(TitleError::Magic);
        }
        let max = if ns == NS_SPECIAL { 512 } else { 255 };
        if dbkey.len() > max {
            return Err(TitleError::TooLong { max });
        }
        let mut dbkey = if interwiki.is_empty() {
            self.capitalize(dbkey, ns)
        } else {
            dbkey.to_string()
        };
        if dbkey.is_empty() && interwiki.is_empty() && ns != NS_MAIN {
            return Err(TitleError::EmptyInNamespace);
        }
        if ns == NS_USER || ns == NS_USER_TALK {
            if let Some(ip) = sanitize_ip(&dbkey) {
                dbkey = ip;
            }
        }
        if dbkey.starts_with(':') {
            return Err(TitleError::LeadingColon);
        }
        Ok(ParsedTitle {
            ns,
            dbkey,
            fragment,
            interwiki,
        })
    }

    /// Upper-cases the first character when the namespace's case rule asks for it
    /// (`Language::ucfirst`: full Unicode mapping, which may expand, e.g. `ß` → `SS`).
    pub fn capitalize(&self, dbkey: &str, ns: NamespaceId) -> String {
        if self.site.namespaces.case(ns) == CaseRule::CaseSensitive {
            return dbkey.to_string();
        }
        ucfirst(dbkey)
    }

    /// The full text of a title as MediaWiki prints it: `Talk:Foo bar`.
    pub fn full_text(&self, title: &Title) -> String {
        let prefix = self.site.namespaces.prefix(title.ns);
        // One allocation: this runs for every row of every answer.
        let mut out = String::with_capacity(prefix.len() + 1 + title.dbkey.len());
        if !prefix.is_empty() {
            out.push_str(prefix);
            out.push(':');
        }
        let mut rest = title.dbkey.as_str();
        while let Some(i) = rest.bytes().position(|b| b == b'_') {
            out.push_str(&rest[..i]);
            out.push(' ');
            rest = &rest[i + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// MediaWiki's `Language::ucfirst`.
pub(crate) fn ucfirst(s: &str) -> String {
    let Some(first) = s.chars().next() else {
        return String::new();
    };
    let b = first as u32;
    if b < 0x60 {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    if b < 0x80 {
        out.push(first.to_ascii_uppercase());
    } else {
        out.extend(first.to_uppercase());
    }
    out.push_str(&s[first.len_utf8()..]);
    out
}

fn check_characters(dbkey: &str) -> Result<(), TitleError> {
    let bad = || Err(TitleError::Characters(dbkey.to_string()));
    if !dbkey.chars().all(is_legal_char) {
        return bad();
    }
    let b = dbkey.as_bytes();
    for i in 0..b.len() {
        match b[i] {
            b'%' if i + 2 < b.len()
                && b[i + 1].is_ascii_hexdigit()
                && b[i + 2].is_ascii_hexdigit() =>
            {
                return bad()
            }
            b'&' => {
                let n = b[i + 1..]
                    .iter()
                    .take_while(|&&c| c.is_ascii_alphanumeric() || c >= 0x80)
                    .count();
                if n > 0 && b.get(i + 1 + n) == Some(&b';') {
                    return bad();
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> TitleCodec {
        TitleCodec::new(SiteInfo::mediawiki_default("TestWiki"))
    }

    #[test]
    fn ucfirst_matches_php() {
        assert_eq!(ucfirst("ßtest"), "SStest");
        assert_eq!(ucfirst("ǆx"), "Ǆx");
        assert_eq!(ucfirst("ᾳx"), "ΑΙx");
        assert_eq!(ucfirst("été"), "Été");
        assert_eq!(ucfirst("_x"), "_x");
    }

    #[test]
    fn percent_escape_at_end() {
        let c = codec();
        assert!(c.parse("A%41", 0).is_err());
        assert!(c.parse("A%4", 0).is_ok());
    }
}
