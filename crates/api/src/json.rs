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
}

/// An ordered object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Obj(pub Vec<(String, Json)>);

impl Obj {
    pub fn new() -> Self {
        Obj(Vec::new())
    }

    pub fn push(&mut self, key: &str, v: Json) -> &mut Self {
        self.0.push((key.to_string(), v));
        self
    }

    pub fn prepend(&mut self, key: &str, v: Json) -> &mut Self {
        self.0.insert(0, (key.to_string(), v));
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

    /// Writes the value; `ascii` escapes every non-ASCII character as `\uXXXX` (formatversion 1).
    pub fn write(&self, out: &mut String, ascii: bool) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Str(s) => write_str(out, s, ascii),
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
        let mut s = String::new();
        self.write(&mut s, ascii);
        s
    }
}

fn write_str(out: &mut String, s: &str, ascii: bool) {
    use std::fmt::Write;
    out.push('"');
    // Runs of characters written as they are go in one copy.
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            c if (c as u32) < 0x20 || (ascii && !c.is_ascii()) => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        plain = i + c.len_utf8();
        if escaped.is_empty() {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push_str(escaped);
        }
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_json_encode_rules() {
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
}
