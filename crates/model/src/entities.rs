use crate::entities_table::ENTITIES;
use std::borrow::Cow;

/// Decodes HTML character references the way MediaWiki's `Sanitizer::decodeCharReferences`
/// does: named references from the HTML 4 set (plus `&apos;`), `&#NNN;` and `&#xHHH;`.
/// Unknown names stay as they are; numeric references to code points that are not
/// allowed in XML become U+FFFD (which later makes a title invalid, as in MediaWiki).
pub fn decode_char_references(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        match decode_one(after) {
            Some((ch, consumed)) => {
                out.push_str(&ch);
                rest = &after[consumed..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `s` starts right after `&`. Returns the replacement and how many bytes of `s` it used.
fn decode_one(s: &str) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.first() == Some(&b'#') {
        let (digits, radix, start) = match b.get(1) {
            Some(b'x') | Some(b'X') => (&s[2..], 16, 2),
            _ => (&s[1..], 10, 1),
        };
        let len = digits
            .bytes()
            .take_while(|c| {
                if radix == 16 {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
            })
            .count();
        if len == 0 || digits.as_bytes().get(len) != Some(&b';') {
            return None;
        }
        let cp = u32::from_str_radix(&digits[..len], radix).ok();
        let ch = cp
            .filter(|&c| valid_codepoint(c))
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}');
        return Some((ch.to_string(), start + len + 1));
    }
    // `[A-Za-z0-9\x80-\xff]+;`
    let len = b
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || c >= 0x80)
        .count();
    if len == 0 || b.get(len) != Some(&b';') {
        return None;
    }
    let name = &s[..len];
    let name = match name {
        "רלמ" | "رلم" => "rlm",
        n => n,
    };
    let idx = ENTITIES.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
    let ch = char::from_u32(ENTITIES[idx].1)?;
    Some((ch.to_string(), len + 1))
}

fn valid_codepoint(c: u32) -> bool {
    c == 0x09
        || c == 0x0a
        || c == 0x0d
        || (0x20..=0xd7ff).contains(&c)
        || (0xe000..=0xfffd).contains(&c)
        || (0x10000..=0x10ffff).contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_numeric_and_unknown() {
        assert_eq!(decode_char_references("Foo&amp;bar"), "Foo&bar");
        assert_eq!(decode_char_references("&#x54;&#101;st"), "Test");
        assert_eq!(decode_char_references("&eacute;t&eacute;"), "été");
        assert_eq!(decode_char_references("&bogus; &amp"), "&bogus; &amp");
        assert_eq!(decode_char_references("&#0;"), "\u{FFFD}");
        assert_eq!(decode_char_references("&apos;&nbsp;"), "'\u{a0}");
    }
}
