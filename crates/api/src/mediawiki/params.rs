//! Request parameters as MediaWiki's `WebRequest` and `ParamValidator` see them.

use super::result::ApiError;
use std::collections::BTreeSet;
use unicode_normalization::UnicodeNormalization;

/// Parameters every request may carry (ApiMain and ApiQuery), so never "unrecognized".
const KNOWN: &[&str] = &[
    "action",
    "format",
    "formatversion",
    "utf8",
    "ascii",
    "maxlag",
    "smaxage",
    "maxage",
    "assert",
    "assertuser",
    "requestid",
    "servedby",
    "curtimestamp",
    "responselanginfo",
    "origin",
    "uselang",
    "variant",
    "errorformat",
    "errorlang",
    "errorsuppresslocalize",
    "callback",
    "list",
    "prop",
    "meta",
    "generator",
    "titles",
    "pageids",
    "revids",
    "redirects",
    "converttitles",
    "indexpageids",
    "export",
    "exportnowrap",
    "exportschema",
    "iwurl",
    "continue",
    "rawcontinue",
];

pub(crate) struct Params {
    /// The last value of each name wins, as in PHP; order of first appearance is kept.
    values: Vec<(String, String)>,
    /// Whether each of `values` was read (a name never given needs no mark).
    used: Vec<bool>,
    /// Names whose value was changed by decoding (NFC), for the `badutf8` warning.
    pub changed: BTreeSet<String>,
}

/// windows-1252 code points of bytes 0x80–0x9F (the rest is Latin-1).
const CP1252: [u16; 32] = [
    0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
];

/// A raw parameter value as MediaWiki's `WebRequest` decodes it: invalid UTF-8 is read as
/// the content language's legacy encoding (windows-1252 for English) when it came in a
/// query string, else replaced; C0 controls other than tab and newlines become U+FFFD.
pub fn decode_value(raw: &[u8], legacy: bool) -> String {
    let s = match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) if legacy => raw
            .iter()
            .map(|&b| match b {
                0x80..=0x9F => {
                    char::from_u32(CP1252[(b - 0x80) as usize] as u32).unwrap_or('\u{FFFD}')
                }
                _ => b as char,
            })
            .collect(),
        Err(_) => String::from_utf8_lossy(raw).into_owned(),
    };
    let control = |c: char| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r');
    // Most values have no control character: kept as they are, not rebuilt.
    if !s.chars().any(control) {
        return s;
    }
    s.chars()
        .map(|c| if control(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// A parameter's name: whole, or a module's prefix and the rest, matched without joining
/// them (a module reads about ten names for every request).
pub(crate) trait ParamName: std::fmt::Display {
    fn is(&self, name: &str) -> bool;
}

impl ParamName for str {
    fn is(&self, name: &str) -> bool {
        self == name
    }
}

/// `prefix` then `rest`, as in `bl` + `title`.
#[derive(Clone, Copy)]
pub(crate) struct Prefixed<'a>(pub &'a str, pub &'a str);

impl ParamName for Prefixed<'_> {
    fn is(&self, name: &str) -> bool {
        name.len() == self.0.len() + self.1.len()
            && name.starts_with(self.0)
            && name.ends_with(self.1)
    }
}

impl std::fmt::Display for Prefixed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)?;
        f.write_str(self.1)
    }
}

impl Params {
    /// Parameters from raw bytes, each with its `legacy` flag (true for a GET query string;
    /// see [`decode_value`]).
    pub fn from_bytes(raw: Vec<(String, Vec<u8>, bool)>) -> Self {
        let mut changed = BTreeSet::new();
        let decoded = raw
            .into_iter()
            .map(|(k, v, legacy)| {
                let d = decode_value(&v, legacy);
                if d.as_bytes() != v.as_slice() {
                    changed.insert(k.clone());
                }
                (k, d)
            })
            .collect();
        let mut p = Params::new(decoded);
        p.changed.extend(changed);
        p
    }

    pub fn new(raw: Vec<(String, String)>) -> Self {
        let mut values: Vec<(String, String)> = Vec::new();
        let mut changed = BTreeSet::new();
        for (k, v) in raw {
            let nfc = if v.is_ascii() {
                v
            } else {
                let nfc: String = v.nfc().collect();
                if nfc != v {
                    changed.insert(k.clone());
                }
                nfc
            };
            match values.iter_mut().find(|(n, _)| *n == k) {
                Some(slot) => slot.1 = nfc,
                None => values.push((k, nfc)),
            }
        }
        Params {
            used: vec![false; values.len()],
            values,
            changed,
        }
    }

    pub fn get<N: ParamName + ?Sized>(&mut self, name: &N) -> Option<String> {
        let i = self.values.iter().position(|(n, _)| name.is(n))?;
        self.used[i] = true;
        Some(self.values[i].1.clone())
    }

    /// The value of `name` without marking it as read.
    pub fn values_of(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has<N: ParamName + ?Sized>(&mut self, name: &N) -> bool {
        self.get(name).is_some()
    }

    /// A single-valued parameter: U+001F at the start is refused.
    pub fn single<N: ParamName + ?Sized>(&mut self, name: &N) -> Result<Option<String>, ApiError> {
        let v = self.get(name);
        if v.as_deref().is_some_and(|v| v.starts_with('\u{1f}')) {
            return Err(ApiError::new(
                "badvalue",
                format!("Parameter \"{name}\" accepts only a single value. U+001F multi-value separation may only be used for multi-valued parameters."),
            ));
        }
        Ok(v)
    }

    /// A multi-valued parameter: `a|b`, or U+001F-separated when it starts with U+001F.
    pub fn multi<N: ParamName + ?Sized>(&mut self, name: &N) -> Result<Vec<String>, ApiError> {
        Ok(match self.get(name) {
            None => Vec::new(),
            Some(v) if v.is_empty() => Vec::new(),
            Some(v) => match v.strip_prefix('\u{1f}') {
                Some(rest) => rest.split('\u{1f}').map(str::to_string).collect(),
                None => v.split('|').map(str::to_string).collect(),
            },
        })
    }

    /// Marks every parameter of a module whose prefix is `prefix` as read (modules inlink
    /// accepts but has no data for).
    pub fn use_prefix(&mut self, prefix: &str) {
        for ((n, _), used) in self.values.iter().zip(&mut self.used) {
            *used |= n.starts_with(prefix);
        }
    }

    /// Names given but never read by the modules that ran, in request order.
    pub fn unused(&self) -> Vec<String> {
        self.values
            .iter()
            .zip(&self.used)
            .filter(|((n, _), used)| !**used && !KNOWN.contains(&n.as_str()))
            .map(|((n, _), _)| n.clone())
            .collect()
    }
}

/// `^[+-]?\d+$` that fits a PHP integer.
pub(crate) fn parse_int(v: &str) -> Option<i64> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.strip_prefix('+').unwrap_or(v).parse().ok()
}
