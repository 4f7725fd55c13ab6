//! The kernel's sort modes (`kernel/util/sort.go`; spec §3): name order by GB18030 bytes
//! (pinyin order for common Chinese), natural order, updated and created times; every other
//! mode keeps the document-id-descending order the list starts in.

use std::cmp::Ordering;

/// A document item as the sorts see it.
pub(crate) trait Sortable {
    fn id(&self) -> &str;
    fn name(&self) -> &str;
    fn updated(&self) -> &str;
    fn created(&self) -> &str;
}

/// Sorts by document id descending, then stably by `mode`.
pub(crate) fn sort_items<T: Sortable>(items: &mut [T], mode: i64) {
    items.sort_by(|a, b| b.id().cmp(a.id()));
    match mode {
        0 => items.sort_by(|a, b| pinyin_cmp(a.name(), b.name())),
        1 => items.sort_by(|a, b| pinyin_cmp(b.name(), a.name())),
        2 => items.sort_by(|a, b| a.updated().cmp(b.updated())),
        3 => items.sort_by(|a, b| b.updated().cmp(a.updated())),
        4 => items.sort_by(|a, b| natural_cmp(a.name(), b.name())),
        5 => items.sort_by(|a, b| natural_cmp(b.name(), a.name())),
        9 => items.sort_by(|a, b| a.created().cmp(b.created())),
        10 => items.sort_by(|a, b| b.created().cmp(a.created())),
        _ => {}
    }
}

/// Emoji, private-use and invisible characters do not take part in name orders.
fn visible(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            let u = c as u32;
            !(c.is_control()
                || matches!(u, 0x200B..=0x200F | 0x2060..=0x206F | 0xFE00..=0xFE0F | 0xFEFF)
                || matches!(u, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
                || matches!(u, 0x1F000..=0x1FAFF | 0x2600..=0x27BF))
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// `PinYinCompare`: lower-cased GB18030 bytes.
pub(crate) fn pinyin_cmp(a: &str, b: &str) -> Ordering {
    let enc = |s: &str| {
        let v = visible(s);
        encoding_rs::GB18030.encode(&v).0.into_owned()
    };
    enc(a).cmp(&enc(b))
}

/// Natural order: runs of digits compare by value, other characters one by one.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (visible(a), visible(b));
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars>| {
                    let mut s = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        s.push(c);
                        it.next();
                    }
                    s
                };
                let (m, n) = (take(&mut x), take(&mut y));
                let (mt, nt) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let o = mt
                    .len()
                    .cmp(&nt.len())
                    .then(mt.cmp(nt))
                    .then(m.len().cmp(&n.len()));
                if o != Ordering::Equal {
                    return o;
                }
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                x.next();
                y.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_and_pinyin() {
        assert_eq!(natural_cmp("file2", "file10"), Ordering::Less);
        assert_eq!(natural_cmp("a", "B"), Ordering::Less, "case-insensitive");
        assert_eq!(natural_cmp("x", "x1"), Ordering::Less);
        // 安 (an) < 北 (bei) < 中 (zhong) in pinyin, and GB18030 agrees.
        assert_eq!(pinyin_cmp("安装", "北京"), Ordering::Less);
        assert_eq!(pinyin_cmp("中文", "北京"), Ordering::Greater);
        assert_eq!(pinyin_cmp("📌Abc", "abd"), Ordering::Less, "emoji ignored");
    }
}
