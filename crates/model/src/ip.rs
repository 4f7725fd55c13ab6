//! IP address canonicalisation for User / User talk titles (MediaWiki's `IPUtils::sanitizeIP`).

/// Returns the canonical form of `s` if it is an IPv4 or IPv6 address, else `None`.
pub(crate) fn sanitize_ip(s: &str) -> Option<String> {
    if s.contains(':') {
        sanitize_v6(s)
    } else {
        sanitize_v4(s)
    }
}

fn sanitize_v4(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = Vec::with_capacity(4);
    for p in parts {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u32 = p.parse().ok()?;
        if v > 255 {
            return None;
        }
        out.push(v.to_string());
    }
    Some(out.join("."))
}

fn sanitize_v6(s: &str) -> Option<String> {
    let groups_of = |part: &str| -> Option<Vec<u16>> {
        if part.is_empty() {
            return Some(Vec::new());
        }
        part.split(':')
            .map(|g| {
                if g.is_empty() || g.len() > 4 {
                    None
                } else {
                    u16::from_str_radix(g, 16).ok()
                }
            })
            .collect()
    };
    let groups: Vec<u16> = match s.find("::") {
        Some(pos) => {
            if s[pos + 2..].contains("::") {
                return None;
            }
            let head = groups_of(&s[..pos])?;
            let tail = groups_of(&s[pos + 2..])?;
            if head.len() + tail.len() > 7 {
                return None;
            }
            let mut g = head;
            g.resize(8 - tail.len(), 0);
            g.extend(tail);
            g
        }
        None => groups_of(s)?,
    };
    if groups.len() != 8 {
        return None;
    }
    Some(
        groups
            .iter()
            .map(|g| format!("{g:X}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(sanitize_ip("127.0.0.001").as_deref(), Some("127.0.0.1"));
        assert_eq!(sanitize_ip("::1").as_deref(), Some("0:0:0:0:0:0:0:1"));
        assert_eq!(
            sanitize_ip("2001:db8::ff00:42:8329").as_deref(),
            Some("2001:DB8:0:0:0:FF00:42:8329")
        );
        assert_eq!(sanitize_ip("Foo"), None);
        assert_eq!(sanitize_ip("1.2.3"), None);
        assert_eq!(sanitize_ip("1::2::3"), None);
    }
}
