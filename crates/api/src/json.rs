//! A JSON value that keeps key order (and lets keys be put in front, as MediaWiki's
//! `ApiResult` does), written byte for byte like PHP's `json_encode` with unescaped slashes.

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Obj),
    /// JSON text written already, with the escaping of the answer it goes into: long
    /// lists are written row by row straight into text, not built as a tree first.
    Raw(String),
}

/// An object key: most are literals, so they are borrowed, not allocated per row.
pub type Key = std::borrow::Cow<'static, str>;

/// An ordered object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Obj(pub Vec<(Key, Json)>);

impl Obj {
    pub fn new() -> Self {
        Obj(Vec::new())
    }

    pub fn push(&mut self, key: impl Into<Key>, v: Json) -> &mut Self {
        self.0.push((key.into(), v));
        self
    }

    pub fn prepend(&mut self, key: impl Into<Key>, v: Json) -> &mut Self {
        self.0.insert(0, (key.into(), v));
        self
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

impl Json {
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// The bytes of the `Raw` texts inside.
    fn raw_len(&self) -> usize {
        match self {
            Json::Raw(text) => text.len(),
            Json::Arr(a) => a.iter().map(Json::raw_len).sum(),
            Json::Obj(o) => o.0.iter().map(|(_, v)| v.raw_len()).sum(),
            _ => 0,
        }
    }

    /// Writes the value; `ascii` escapes every non-ASCII character as `\uXXXX` (formatversion 1).
    pub fn write(&self, out: &mut String, ascii: bool) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Json::Str(s) => write_str(out, s, ascii),
            Json::Raw(text) => out.push_str(text),
            Json::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out, ascii);
                }
                out.push(']');
            }
            Json::Obj(o) => {
                out.push('{');
                for (i, (k, v)) in o.0.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k, ascii);
                    out.push(':');
                    v.write(out, ascii);
                }
                out.push('}');
            }
        }
    }

    pub fn to_string(&self, ascii: bool) -> String {
        // Room for the rows written already: growing a 500-row answer's text by doubling
        // copied it several times over.
        let mut s = String::with_capacity(1024 + self.raw_len());
        self.write(&mut s, ascii);
        s
    }
}

/// What a byte becomes in a JSON string: 0 = itself, `u` = `\u00XX`, else `\` + that byte.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[8] = b'b';
    t[12] = b'f';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_unit(out: &mut String, unit: u16) {
    let d = |shift: u16| HEX[((unit >> shift) & 0xf) as usize] as char;
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(d(shift));
    }
}

pub(crate) fn write_str(out: &mut String, s: &str, ascii: bool) {
    out.push('"');
    write_escaped::<false>(out, s, ascii);
    out.push('"');
}

/// Writes a title as MediaWiki prints it, as a JSON string: `prefix:dbkey` (no colon for
/// an empty prefix), the dbkey's underscores as spaces, escaped in the same pass.
pub(crate) fn write_title(out: &mut String, prefix: &str, dbkey: &str, ascii: bool) {
    out.push('"');
    if !prefix.is_empty() {
        write_escaped::<false>(out, prefix, ascii);
        out.push(':');
    }
    write_escaped::<true>(out, dbkey, ascii);
    out.push('"');
}

/// The body of a JSON string; with `SPACES`, underscores are written as spaces.
#[inline]
fn write_escaped<const SPACES: bool>(out: &mut String, s: &str, ascii: bool) {
    let bytes = s.as_bytes();
    // Runs of bytes written as they are go in one copy; a byte ≥ 0x80 only matters in
    // `ascii` mode, where its whole character is escaped.
    let mut plain = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time up to the first that needs escaping: titles seldom do. A
        // short tail is padded with a letter, which needs none.
        let rest = &bytes[i..];
        let word = match rest.get(..8) {
            Some(w) => u64::from_le_bytes(w.try_into().expect("8 bytes")),
            None => tail_word(bytes, rest.len()),
        };
        let flagged = needs_escape(word, ascii) | if SPACES { equal(word, b'_') } else { 0 };
        if flagged == 0 {
            i += rest.len().min(8);
            continue;
        }
        i += (flagged.trailing_zeros() / 8) as usize;
        let b = bytes[i];
        let esc = ESCAPE[b as usize];
        if SPACES && b == b'_' {
            out.push_str(&s[plain..i]);
            out.push(' ');
            i += 1;
            plain = i;
            continue;
        }
        if esc == 0 && (b < 0x80 || !ascii) {
            i += 1;
            continue;
        }
        out.push_str(&s[plain..i]);
        if b >= 0x80 {
            let c = s[i..].chars().next().expect("a character starts here");
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                push_unit(out, *unit);
            }
            i += c.len_utf8();
        } else {
            if esc == b'u' {
                push_unit(out, b as u16);
            } else {
                out.push('\\');
                out.push(esc as char);
            }
            i += 1;
        }
        plain = i;
    }
    out.push_str(&s[plain..]);
}

/// The last `n` (1 to 7) bytes of `bytes` as a little-endian word, padded with `A`s: built
/// in registers, since a copy into a buffer read back as a word stalls the load.
fn tail_word(bytes: &[u8], n: usize) -> u64 {
    const PAD: u64 = 0x4141_4141_4141_4141;
    let keep = PAD << (8 * n);
    match bytes.len().checked_sub(8) {
        Some(at) => {
            let last = u64::from_le_bytes(bytes[at..].try_into().expect("8 bytes"));
            (last >> (8 * (8 - n))) | keep
        }
        None => {
            bytes[bytes.len() - n..]
                .iter()
                .rev()
                .fold(0u64, |w, &b| (w << 8) | u64::from(b))
                | keep
        }
    }
}

/// A high bit in each byte of `w` (little-endian) that is a control character, `"`, `\`
/// or, with `ascii`, not ASCII. Bytes above a flagged one may be flagged falsely (a borrow
/// runs up); the lowest flag is exact, and that is the one used.
fn needs_escape(w: u64, ascii: bool) -> u64 {
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    below | equal(w, b'"') | equal(w, b'\\') | if ascii { w & HIGHS } else { 0 }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A high bit in each byte of `w` equal to `c`, exact up to the lowest (as above).
fn equal(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    x.wrapping_sub(ONES) & !x & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_json_encode_rules() {
        // Long enough that the special bytes fall in words read eight at a time.
        let long = "plain words, then \"quotes\", a tab\t, é and \\ at the end of it";
        assert_eq!(
            Json::str(long).to_string(true),
            r#""plain words, then \"quotes\", a tab\t, \u00e9 and \\ at the end of it""#
        );
        assert_eq!(
            Json::str(long).to_string(false),
            serde_json::to_string(long).unwrap()
        );
        let s = Json::str("A&B \"q\" 'a' é/x\\y");
        assert_eq!(s.to_string(true), r#""A&B \"q\" 'a' \u00e9/x\\y""#);
        assert_eq!(s.to_string(false), r#""A&B \"q\" 'a' é/x\\y""#);
        assert_eq!(
            Json::str("𝄞\u{1}").to_string(true),
            r#""\ud834\udd1e\u0001""#
        );
        let mut o = Obj::new();
        o.push("b", Json::Int(1))
            .prepend("a", Json::Arr(vec![Json::Bool(true), Json::Null]));
        assert_eq!(Json::Obj(o).to_string(false), r#"{"a":[true,null],"b":1}"#);
    }

    #[test]
    fn tail_words() {
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
        let bytes = b"0123456789";
        for n in 1..8 {
            let mut want = [b'A'; 8];
            want[..n].copy_from_slice(&bytes[bytes.len() - n..]);
            assert_eq!(tail_word(bytes, n), word(&want));
            let short = &bytes[..n];
            want = [b'A'; 8];
            want[..n].copy_from_slice(short);
            assert_eq!(tail_word(short, n), word(&want));
        }
    }

    proptest::proptest! {
        /// Without `ascii` the bytes are serde_json's (both follow RFC 8259 with lower-case
        /// hex and unescaped slashes); with it, pure ASCII that reads back as the same text.
        #[test]
        fn strings_round_trip(s in "\\PC*|[\\x00-\\x7f]*|.*|[a-z \"\\\\\\x00-\\x1f\\x7fé𝄞]{0,40}") {
            let utf8 = Json::str(s.clone()).to_string(false);
            proptest::prop_assert_eq!(&utf8, &serde_json::to_string(&s).unwrap());
            let ascii = Json::str(s.clone()).to_string(true);
            proptest::prop_assert!(ascii.is_ascii());
            proptest::prop_assert_eq!(serde_json::from_str::<String>(&ascii).unwrap(), s);
        }

        #[test]
        fn titles_are_their_full_text(prefix in "|[A-Za-zé ]{1,12}", dbkey in "[a-z_\"\\\x00-\x1fé𝄞]{0,40}", ascii: bool) {
            let mut got = String::new();
            write_title(&mut got, &prefix, &dbkey, ascii);
            let full = if prefix.is_empty() { dbkey.replace('_', " ") } else { format!("{prefix}:{}", dbkey.replace('_', " ")) };
            proptest::prop_assert_eq!(got, Json::str(full).to_string(ascii));
        }
    }
}
