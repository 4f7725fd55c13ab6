//! A link segment's redirects (from `inlink-segment 14`, `docs/format.md`): which target
//! each redirect page names, and the pages redirecting to each target, read in place.
//! Most redirects are local and plain: the target's id is all they need (its title is in
//! the segment's target table), a few bits in a packed column beside a rank set of the
//! redirect pages. The few with a fragment or another wiki keep their whole row apart.
//!
//! ```text
//! redirects := ranked(froms) u8(tw) packed(tid)[ones] u8[8]
//!              ranked(targets) u8(sw) packed(start)[ones + 1] u8[8]
//!              u8(fw) packed(from)[pairs] u8[8]
//!              u64le(extras) (u32le from, u32le offset)[extras] u64le(bytes) extra*
//! extra     := zigzag(ns) varint(len) dbkey varint(len) fragment varint(len) interwiki
//! ```
//!
//! `froms`: the pages with a local redirect; the k-th one's target id is the k-th `tid`.
//! `targets`: the target ids local redirects name; the k-th one's redirect pages are
//! `from[start[k]..start[k + 1]]`, ascending. `extras`: by page id, every redirect with a
//! fragment or an interwiki prefix, its row at `offset` in the bytes after the list (an
//! interwiki redirect is there alone; a local one with a fragment is in `froms` too).
//! Packed values are `w` bits each, LSB first, with eight zero bytes after so that a value
//! is read as one 8-byte word.

use crate::postings::{get_varint, put_varint, Malformed};
use crate::ranked::{Ranked, RankedWriter};
use std::io;

/// A redirect's target as a segment holds it apart: (namespace, dbkey, fragment, interwiki).
pub type RedirectTarget<'a> = (i32, &'a str, &'a str, &'a str);

/// Builds the section; pages come in ascending order.
#[derive(Default)]
pub struct RedirectsWriter {
    froms: RankedWriter,
    /// (target id << 32 | from) per local redirect, in page order until written.
    pairs: Vec<u64>,
    extras: Vec<(u32, u32)>,
    extra_bytes: Vec<u8>,
    last: Option<u32>,
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

fn zigzag(v: i32) -> u64 {
    (i64::from(v) << 1 ^ i64::from(v) >> 63) as u64
}

fn width(max: u64) -> u32 {
    u64::BITS - max.leading_zeros()
}

impl RedirectsWriter {
    /// Page `from` redirects to target `tid` (a local redirect), and `extra` holds its row
    /// when it has a fragment or names another wiki (then `tid` is `None`).
    pub fn push(
        &mut self,
        from: u32,
        tid: Option<u32>,
        extra: Option<RedirectTarget<'_>>,
    ) -> io::Result<()> {
        if self.last.is_some_and(|l| l >= from) {
            return Err(invalid("redirects out of page order"));
        }
        if tid.is_none() && extra.is_none() {
            return Err(invalid("a redirect with neither a target id nor a row"));
        }
        self.last = Some(from);
        if let Some(tid) = tid {
            self.froms.insert(from);
            self.pairs.push(u64::from(tid) << 32 | u64::from(from));
        }
        if let Some((ns, dbkey, fragment, interwiki)) = extra {
            let offset = u32::try_from(self.extra_bytes.len())
                .map_err(|_| invalid("redirect rows past 4 GiB"))?;
            self.extras.push((from, offset));
            put_varint(&mut self.extra_bytes, zigzag(ns));
            for s in [dbkey, fragment, interwiki] {
                put_varint(&mut self.extra_bytes, s.len() as u64);
                self.extra_bytes.extend_from_slice(s.as_bytes());
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    /// The section's bytes, appended to `out`.
    pub fn write(mut self, out: &mut Vec<u8>) {
        self.froms.write(out);
        let max_tid = self.pairs.iter().map(|p| p >> 32).max().unwrap_or(0);
        put_column(out, self.pairs.iter().map(|p| p >> 32), width(max_tid));
        self.pairs.sort_unstable();
        let mut targets = RankedWriter::default();
        let mut starts = Vec::new();
        for (i, p) in self.pairs.iter().enumerate() {
            let tid = (p >> 32) as u32;
            if !targets.contains(tid) {
                targets.insert(tid);
                starts.push(i as u64);
            }
        }
        starts.push(self.pairs.len() as u64);
        targets.write(out);
        put_column(out, starts.into_iter(), width(self.pairs.len() as u64));
        let max_from = self.pairs.iter().map(|&p| p as u32).max().unwrap_or(0);
        put_column(
            out,
            self.pairs.iter().map(|&p| u64::from(p as u32)),
            width(u64::from(max_from)),
        );
        out.extend_from_slice(&(self.extras.len() as u64).to_le_bytes());
        for (from, offset) in &self.extras {
            out.extend_from_slice(&from.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
        }
        out.extend_from_slice(&(self.extra_bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.extra_bytes);
    }
}

/// `u8(width) packed u8[8]`.
fn put_column(out: &mut Vec<u8>, values: impl Iterator<Item = u64>, width: u32) {
    out.push(width as u8);
    crate::postings::put_packed(out, values, width);
    out.extend_from_slice(&[0; 8]);
}

/// A packed column within the section.
#[derive(Clone, Copy, Debug, Default)]
struct Column {
    width: u32,
    at: usize,
    len: u64,
}

impl Column {
    fn parse(bytes: &[u8], pos: &mut usize, len: u64) -> Result<Column, Malformed> {
        let width = u32::from(*bytes.get(*pos).ok_or(Malformed("redirects past the end"))?);
        if width > 32 {
            return Err(Malformed("redirects: a column wider than 32 bits"));
        }
        let at = *pos + 1;
        let packed = len.checked_mul(u64::from(width)).map(|b| b.div_ceil(8) + 8);
        *pos = span_end(bytes, at, packed)?;
        Ok(Column { width, at, len })
    }

    fn get(&self, bytes: &[u8], i: u64) -> Result<u64, Malformed> {
        if i >= self.len {
            return Err(Malformed("redirects: an index past its column"));
        }
        if self.width == 0 {
            return Ok(0);
        }
        let bit = i * u64::from(self.width);
        let at = self.at + (bit / 8) as usize;
        // Checked when parsed: eight bytes follow every value's first byte.
        let word = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Ok((word >> (bit % 8)) & ((1u64 << self.width) - 1))
    }
}

/// The section, found in a segment's bytes (given to each call, so that it can sit in a
/// mapping held elsewhere).
#[derive(Clone, Copy, Debug, Default)]
pub struct Redirects {
    froms: Ranked,
    tids: Column,
    targets: Ranked,
    starts: Column,
    from_pages: Column,
    extras: u64,
    extras_at: usize,
    extra_bytes: (usize, usize),
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64, Malformed> {
    let b = bytes
        .get(
            at..at
                .checked_add(8)
                .ok_or(Malformed("redirects past the end"))?,
        )
        .ok_or(Malformed("redirects past the end"))?;
    Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// Where `len` bytes from `at` end, checked to lie within `bytes` (`None`: an overflow).
fn span_end(bytes: &[u8], at: usize, len: Option<u64>) -> Result<usize, Malformed> {
    len.and_then(|l| usize::try_from(l).ok())
        .and_then(|l| at.checked_add(l))
        .filter(|&e| e <= bytes.len())
        .ok_or(Malformed("redirects past the end"))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

impl Redirects {
    /// Reads the section at `at` of `bytes`, checking that its parts lie within them.
    pub fn parse(bytes: &[u8], at: usize) -> Result<Redirects, Malformed> {
        let (froms, mut pos) = Ranked::parse(bytes, at)?;
        let tids = Column::parse(bytes, &mut pos, froms.len())?;
        let (targets, end) = Ranked::parse(bytes, pos)?;
        pos = end;
        let starts = Column::parse(bytes, &mut pos, targets.len() + 1)?;
        let from_pages = Column::parse(bytes, &mut pos, froms.len())?;
        let extras = u64_at(bytes, pos)?;
        let extras_at = pos + 8;
        let list_end = span_end(bytes, extras_at, extras.checked_mul(8))?;
        let start = list_end + 8;
        let end = span_end(bytes, start, Some(u64_at(bytes, list_end)?))?;
        Ok(Redirects {
            froms,
            tids,
            targets,
            starts,
            from_pages,
            extras,
            extras_at,
            extra_bytes: (start, end),
        })
    }

    /// Redirects here: the local ones and those to other wikis.
    pub fn count(&self, bytes: &[u8]) -> u64 {
        let apart = (0..self.extras)
            .filter(|&i| !self.froms.contains(bytes, self.extra_entry(bytes, i).0))
            .count();
        self.froms.len() + apart as u64
    }

    /// The target id page `from` redirects to, when it is a local redirect here.
    pub fn target_of(&self, bytes: &[u8], from: u32) -> Result<Option<u32>, Malformed> {
        if !self.froms.contains(bytes, from) {
            return Ok(None);
        }
        let k = self.froms.rank(bytes, from);
        Ok(Some(self.tids.get(bytes, k)? as u32))
    }

    /// The pages redirecting to target `tid`, ascending.
    pub fn pages_to(&self, bytes: &[u8], tid: u32) -> Result<Vec<u32>, Malformed> {
        if !self.targets.contains(bytes, tid) {
            return Ok(Vec::new());
        }
        let k = self.targets.rank(bytes, tid);
        let (start, end) = (self.starts.get(bytes, k)?, self.starts.get(bytes, k + 1)?);
        if start >= end {
            return Err(Malformed("redirects: an empty target"));
        }
        (start..end)
            .map(|i| self.from_pages.get(bytes, i).map(|p| p as u32))
            .collect()
    }

    /// The row kept apart for page `from`: a redirect with a fragment or an interwiki
    /// prefix.
    pub fn extra<'b>(
        &self,
        bytes: &'b [u8],
        from: u32,
    ) -> Result<Option<RedirectTarget<'b>>, Malformed> {
        let (mut lo, mut hi) = (0u64, self.extras);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (page, _) = self.extra_entry(bytes, mid);
            if page < from {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == self.extras || self.extra_entry(bytes, lo).0 != from {
            return Ok(None);
        }
        self.extra_at(bytes, self.extra_entry(bytes, lo).1)
            .map(Some)
    }

    fn extra_entry(&self, bytes: &[u8], i: u64) -> (u32, u32) {
        let at = self.extras_at + i as usize * 8;
        (u32_at(bytes, at), u32_at(bytes, at + 4))
    }

    fn extra_at<'b>(&self, bytes: &'b [u8], offset: u32) -> Result<RedirectTarget<'b>, Malformed> {
        let rows = &bytes[self.extra_bytes.0..self.extra_bytes.1];
        let mut pos = offset as usize;
        let z = get_varint(rows, &mut pos)?;
        let ns = i32::try_from(((z >> 1) as i64) ^ -((z & 1) as i64))
            .map_err(|_| Malformed("redirects: a namespace past i32"))?;
        let mut text = [""; 3];
        for t in &mut text {
            let len = get_varint(rows, &mut pos)?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| pos.checked_add(l))
                .filter(|&e| e <= rows.len())
                .ok_or(Malformed("redirects: a row past the end"))?;
            *t = std::str::from_utf8(&rows[pos..end])
                .map_err(|_| Malformed("redirects: a row not UTF-8"))?;
            pos = end;
        }
        Ok((ns, text[0], text[1], text[2]))
    }

    /// Every redirect in page order: (page, local target id, row kept apart).
    pub fn iter<'b>(
        &self,
        bytes: &'b [u8],
    ) -> impl Iterator<Item = Result<(u32, Option<u32>, Option<RedirectTarget<'b>>), Malformed>> + 'b
    {
        let this = *self;
        let (mut next_local, mut k, mut e) = (this.froms.next_from(bytes, 0), 0u64, 0u64);
        std::iter::from_fn(move || {
            let extra = (e < this.extras).then(|| this.extra_entry(bytes, e));
            let from = match (next_local, extra) {
                (None, None) => return None,
                (Some(l), Some((x, _))) => l.min(x),
                (Some(l), None) => l,
                (None, Some((x, _))) => x,
            };
            let mut tid = None;
            if next_local == Some(from) {
                tid = match this.tids.get(bytes, k) {
                    Ok(t) => Some(t as u32),
                    Err(m) => return Some(Err(m)),
                };
                k += 1;
                next_local = this.froms.next_from(bytes, u64::from(from) + 1);
            }
            let mut row = None;
            if let Some((_, offset)) = extra.filter(|&(x, _)| x == from) {
                row = match this.extra_at(bytes, offset) {
                    Ok(r) => Some(r),
                    Err(m) => return Some(Err(m)),
                };
                e += 1;
            }
            Some(Ok((from, tid, row)))
        })
    }

    /// Bytes of the section.
    pub fn bytes(&self, at: usize) -> u64 {
        (self.extra_bytes.1 - at) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    type Row = (Option<u32>, Option<(i32, String, String, String)>);

    fn rows() -> impl Strategy<Value = BTreeMap<u32, Row>> {
        let extra = (-2i32..20, "[a-z_]{0,12}", "[a-z ]{0,6}", "[a-z]{0,3}")
            .prop_map(|(n, d, f, i)| (n, d, f, i));
        let row = (
            proptest::option::of(0u32..5_000),
            proptest::option::of(extra),
        )
            .prop_filter("a target id or a row", |(t, x)| t.is_some() || x.is_some());
        proptest::collection::btree_map(0u32..100_000, row, 0..300)
    }

    fn build(rows: &BTreeMap<u32, Row>) -> Vec<u8> {
        let mut w = RedirectsWriter::default();
        for (&from, (tid, extra)) in rows {
            let extra = extra
                .as_ref()
                .map(|(n, d, f, i)| (*n, d.as_str(), f.as_str(), i.as_str()));
            w.push(from, *tid, extra).unwrap();
        }
        assert_eq!(w.is_empty(), rows.is_empty());
        // Something before the section, as in a segment.
        let mut out = vec![7u8; 5];
        w.write(&mut out);
        out
    }

    proptest! {
        #[test]
        fn redirects_read_back(rows in rows()) {
            let bytes = build(&rows);
            let r = Redirects::parse(&bytes, 5).unwrap();
            prop_assert_eq!(r.bytes(5), bytes.len() as u64 - 5);
            let mut by_target: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            for (&from, (tid, extra)) in &rows {
                prop_assert_eq!(r.target_of(&bytes, from).unwrap(), *tid);
                let got = r.extra(&bytes, from).unwrap();
                let want = extra.as_ref().map(|(n, d, f, i)| (*n, d.as_str(), f.as_str(), i.as_str()));
                prop_assert_eq!(got, want);
                if let Some(t) = tid {
                    by_target.entry(*t).or_default().push(from);
                }
                prop_assert_eq!(r.target_of(&bytes, from + 1).unwrap(), rows.get(&(from + 1)).and_then(|r| r.0));
            }
            for t in 0..5_001 {
                prop_assert_eq!(r.pages_to(&bytes, t).unwrap(), by_target.get(&t).cloned().unwrap_or_default());
            }
            let walked: Vec<_> = r.iter(&bytes).collect::<Result<_, _>>().unwrap();
            let want: Vec<_> = rows
                .iter()
                .map(|(&f, (t, x))| (f, *t, x.as_ref().map(|(n, d, fr, i)| (*n, d.as_str(), fr.as_str(), i.as_str()))))
                .collect();
            prop_assert_eq!(walked, want);
        }

        #[test]
        fn damaged_sections_never_panic(rows in rows(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
            let mut bytes = build(&rows);
            let i = flip.0.index(bytes.len());
            bytes[i] ^= flip.1;
            let bytes = &bytes[..cut.index(bytes.len() + 1)];
            if let Ok(r) = Redirects::parse(bytes, 5) {
                for (&from, _) in rows.iter().take(20) {
                    let _ = r.target_of(bytes, from);
                    let _ = r.extra(bytes, from);
                }
                for t in 0..50 {
                    let _ = r.pages_to(bytes, t);
                }
                let _ = r.iter(bytes).take(400).count();
            }
        }
    }

    #[test]
    fn pages_come_in_order() {
        let mut w = RedirectsWriter::default();
        w.push(5, Some(1), None).unwrap();
        assert!(w.push(5, Some(2), None).is_err());
        assert!(w.push(9, None, None).is_err());
        // Only the first is in.
        let mut bytes = Vec::new();
        w.write(&mut bytes);
        let r = Redirects::parse(&bytes, 0).unwrap();
        assert_eq!(r.iter(&bytes).count(), 1);
    }
}
