//! The target dictionary of the compressed index: link-target titles → target ids, front
//! coded in blocks of 16 sorted keys (each key stored as the length of the prefix it shares
//! with the one before and the rest), with an offset per block so that a lookup binary
//! searches the blocks' first keys and decodes one block. Read in place, from bytes that may
//! be memory-mapped. Format `inlink-dictionary 2` (`docs/format.md`).
//!
//! Keys are the namespace as four big-endian bytes with the sign bit flipped (so keys sort
//! by namespace number), then the dbkey's UTF-8 — the order MediaWiki's `(namespace, title)`
//! indexes use.
//!
//! Version 1 was an `fst` transducer; the `dictionary` fuzz target found bytes with a valid
//! checksum on which `fst` panics, and every read here is bounds-checked instead.

use crate::postings::{get_varint, put_varint};

/// Bytes that are not a dictionary.
#[derive(Debug)]
pub struct Malformed(pub String);

/// Keys per block.
pub const BLOCK: usize = 16;
pub const VERSION: u32 = 2;
const MAGIC: &[u8; 8] = b"inlnkDIC";
/// `u64le entries, u32le blocks, u32le version, u32le crc32, magic`.
const TRAILER: usize = 8 + 4 + 4 + 4 + 8;

fn key(ns: i32, dbkey: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + dbkey.len());
    k.extend_from_slice(&((ns as u32) ^ 0x8000_0000).to_be_bytes());
    k.extend_from_slice(dbkey.as_bytes());
    k
}

/// The (namespace, dbkey) of a key; `None` when the bytes are not one.
fn unkey(k: &[u8]) -> Option<(i32, String)> {
    let ns = (u32::from_be_bytes(k.get(..4)?.try_into().ok()?) ^ 0x8000_0000) as i32;
    Some((ns, String::from_utf8(k[4..].to_vec()).ok()?))
}

/// Builds a dictionary from `(namespace, dbkey, id)` entries in any order; of entries with
/// the same title, the first is kept.
pub fn build(entries: impl IntoIterator<Item = (i32, String, u64)>) -> Result<Vec<u8>, Malformed> {
    let mut keyed: Vec<(i32, String, u64)> = entries.into_iter().collect();
    keyed.sort_by_cached_key(|a| key(a.0, &a.1));
    keyed.dedup_by(|a, b| (a.0, &a.1) == (b.0, &b.1));
    let mut out = Vec::new();
    let mut w = Writer::default();
    for (ns, t, id) in keyed {
        w.push(&mut out, ns, &t, id)
            .map_err(|e| Malformed(e.to_string()))?;
    }
    w.finish(&mut out).map_err(|e| Malformed(e.to_string()))?;
    Ok(out)
}

/// Writes a dictionary to a byte sink, keys given strictly ascending, in one pass: only
/// the block offsets stay in memory.
#[derive(Default)]
pub struct Writer {
    written: u64,
    offsets: Vec<u32>,
    prev: Vec<u8>,
    entries: u64,
    crc: crc32fast::Hasher,
}

impl Writer {
    fn put(&mut self, out: &mut impl std::io::Write, bytes: &[u8]) -> std::io::Result<()> {
        self.crc.update(bytes);
        self.written += bytes.len() as u64;
        out.write_all(bytes)
    }

    /// Adds a title and its value; titles must come in key order (namespace, then dbkey
    /// bytes), each once.
    pub fn push(
        &mut self,
        out: &mut impl std::io::Write,
        ns: i32,
        dbkey: &str,
        value: u64,
    ) -> std::io::Result<()> {
        let k = key(ns, dbkey);
        if self.entries > 0 && k <= self.prev {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("dictionary keys out of order at ({ns}, {dbkey:?})"),
            ));
        }
        let mut head = Vec::with_capacity(24);
        if self.entries.is_multiple_of(BLOCK as u64) {
            let at = u32::try_from(self.written).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a dictionary holds at most 4 GiB",
                )
            })?;
            self.offsets.push(at);
            put_varint(&mut head, k.len() as u64);
            self.put(out, &head)?;
            self.put(out, &k)?;
        } else {
            let shared = self.prev.iter().zip(&k).take_while(|(a, b)| a == b).count();
            put_varint(&mut head, shared as u64);
            put_varint(&mut head, (k.len() - shared) as u64);
            self.put(out, &head)?;
            self.put(out, &k[shared..])?;
        }
        head.clear();
        put_varint(&mut head, value);
        self.put(out, &head)?;
        self.prev = k;
        self.entries += 1;
        Ok(())
    }

    /// Writes the block offsets and the trailer; returns the dictionary's bytes.
    pub fn finish(mut self, out: &mut impl std::io::Write) -> std::io::Result<u64> {
        let mut tail = Vec::with_capacity(self.offsets.len() * 4 + TRAILER);
        for o in &self.offsets {
            tail.extend_from_slice(&o.to_le_bytes());
        }
        tail.extend_from_slice(&self.entries.to_le_bytes());
        tail.extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        tail.extend_from_slice(&VERSION.to_le_bytes());
        self.put(out, &tail)?;
        let crc = self.crc.clone().finalize();
        self.put(out, &crc.to_le_bytes())?;
        self.put(out, MAGIC)?;
        Ok(self.written)
    }

    /// Entries pushed so far: the position the next one gets.
    pub fn len(&self) -> u64 {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

/// A dictionary read in place.
pub struct Dictionary<B: AsRef<[u8]>> {
    bytes: B,
    entries: usize,
    blocks: usize,
    /// Where the block offsets start (and the blocks end).
    index: usize,
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

impl<B: AsRef<[u8]>> Dictionary<B> {
    /// Checks the trailer, checksum and block offsets; every later read is bounds-checked
    /// as well, so damaged bytes give `None` or a wrong-but-safe answer, never a panic.
    pub fn new(bytes: B) -> Result<Self, Malformed> {
        Self::open(bytes, true)
    }

    /// `new` without the checksum pass, for bytes a larger checksum already covers (a link
    /// segment's): reading every byte would fault the whole mapping into memory.
    pub fn new_checked_elsewhere(bytes: B) -> Result<Self, Malformed> {
        Self::open(bytes, false)
    }

    fn open(bytes: B, check_crc: bool) -> Result<Self, Malformed> {
        let b = bytes.as_ref();
        let bad = |why: &str| Malformed(why.to_string());
        if b.len() < TRAILER || &b[b.len() - 8..] != MAGIC {
            return Err(bad("not an inlink dictionary (no trailer)"));
        }
        let t = b.len() - TRAILER;
        let version = le_u32(b, t + 12);
        if version != VERSION {
            return Err(Malformed(format!(
                "dictionary version {version}; this inlink reads {VERSION}: rebuild it with `inlink import`"
            )));
        }
        if check_crc && crc32fast::hash(&b[..t + 16]) != le_u32(b, t + 16) {
            return Err(bad("dictionary checksum mismatch"));
        }
        let entries = u64::from_le_bytes(b[t..t + 8].try_into().expect("eight bytes"));
        let blocks = le_u32(b, t + 8) as usize;
        let index = t
            .checked_sub(blocks * 4)
            .ok_or_else(|| bad("block offsets past the start"))?;
        let entries = usize::try_from(entries).map_err(|_| bad("entry count"))?;
        if entries.div_ceil(BLOCK) != blocks {
            return Err(bad("entry and block counts disagree"));
        }
        let mut last = None;
        for i in 0..blocks {
            let o = le_u32(b, index + i * 4) as usize;
            if o >= index || last.is_some_and(|l| o <= l) || (i == 0 && o != 0) {
                return Err(bad("block offsets out of order or out of bounds"));
            }
            last = Some(o);
        }
        Ok(Dictionary {
            bytes,
            entries,
            blocks,
            index,
        })
    }

    fn block_range(&self, i: usize) -> (usize, usize) {
        let b = self.bytes.as_ref();
        let start = le_u32(b, self.index + i * 4) as usize;
        let end = if i + 1 < self.blocks {
            le_u32(b, self.index + (i + 1) * 4) as usize
        } else {
            self.index
        };
        (start, end)
    }

    /// The first key of block `i`.
    fn first_key(&self, i: usize) -> Option<&[u8]> {
        let (start, end) = self.block_range(i);
        let b = &self.bytes.as_ref()[..end];
        let mut pos = start;
        let len = usize::try_from(get_varint(b, &mut pos).ok()?).ok()?;
        b.get(pos..pos.checked_add(len)?)
    }

    pub fn get(&self, ns: i32, dbkey: &str) -> Option<u64> {
        if self.blocks == 0 {
            return None;
        }
        let want = key(ns, dbkey);
        // The last block whose first key is ≤ the wanted key.
        let (mut lo, mut hi) = (0, self.blocks);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.first_key(mid)? <= want.as_slice() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut found = None;
        self.block_entries(lo, |k, v| match k.cmp(want.as_slice()) {
            std::cmp::Ordering::Equal => {
                found = Some(v);
                false
            }
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Less => true,
        });
        found
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The entries of block `i`: (key, value), in order; stops at damaged bytes (a
    /// damaged block gives fewer entries, never a panic).
    fn block_entries(&self, i: usize, mut f: impl FnMut(&[u8], u64) -> bool) {
        let (start, end) = self.block_range(i);
        let b = &self.bytes.as_ref()[..end];
        let mut pos = start;
        let mut cur: Vec<u8> = Vec::with_capacity(64);
        for n in 0..BLOCK {
            if pos >= end {
                return;
            }
            let mut entry = || -> Option<u64> {
                let shared = if n == 0 {
                    0
                } else {
                    usize::try_from(get_varint(b, &mut pos).ok()?).ok()?
                };
                let len = usize::try_from(get_varint(b, &mut pos).ok()?).ok()?;
                if shared > cur.len() {
                    return None;
                }
                cur.truncate(shared);
                cur.extend_from_slice(b.get(pos..pos.checked_add(len)?)?);
                pos += len;
                get_varint(b, &mut pos).ok()
            };
            match entry() {
                Some(value) if f(&cur, value) => {}
                _ => return,
            }
        }
    }

    /// The entry at position `p` (0-based, in key order): (namespace, dbkey, value). The
    /// keys before it in its block are stepped over, not rebuilt: the wanted key's bytes
    /// are gathered backwards from the suffixes that hold them.
    pub fn entry_at(&self, p: usize) -> Option<(i32, String, u64)> {
        if p >= self.entries {
            return None;
        }
        let (start, end) = self.block_range(p / BLOCK);
        let b = &self.bytes.as_ref()[..end];
        let mut pos = start;
        // (shared, suffix start, suffix length) of each key up to the wanted one.
        let mut parts = [(0u32, 0u32, 0u32); BLOCK];
        let last = p % BLOCK;
        let mut value = 0;
        // The length of the key before: a damaged block can claim a longer shared prefix,
        // and the key is gathered from these lengths.
        let mut prev_len = 0usize;
        for (n, part) in parts.iter_mut().enumerate().take(last + 1) {
            let shared = if n == 0 {
                0
            } else {
                usize::try_from(get_varint(b, &mut pos).ok()?).ok()?
            };
            if shared > prev_len {
                return None;
            }
            let len = usize::try_from(get_varint(b, &mut pos).ok()?).ok()?;
            prev_len = shared.checked_add(len)?;
            let suffix = pos;
            pos = pos.checked_add(len).filter(|&e| e <= end)?;
            if n == last {
                value = get_varint(b, &mut pos).ok()?;
            } else {
                // Only the wanted key's value is needed: step over the others' bytes.
                pos += b.get(pos..)?.iter().position(|&x| x < 0x80)? + 1;
            }
            // Offsets and lengths fit in u32: `block_range` reads them as such.
            *part = (shared as u32, suffix as u32, len as u32);
        }
        // The key's pieces, last first: (start in the key, suffix start, length).
        let mut pieces = [(0u32, 0u32, 0u32); BLOCK];
        let mut count = 0;
        let mut need = prev_len;
        for &(shared, suffix, len) in parts[..=last].iter().rev() {
            if need == 0 {
                break;
            }
            let shared = shared as usize;
            if shared < need {
                // A damaged block can claim a shared prefix longer than the key before it.
                let take = need - shared;
                if take > len as usize {
                    return None;
                }
                pieces[count] = (shared as u32, suffix, take as u32);
                count += 1;
                need = shared;
            }
        }
        if need > 0 || prev_len < 4 {
            return None;
        }
        // Written forward into the dbkey's own allocation: the first four bytes of the key
        // are the namespace.
        let mut ns = [0u8; 4];
        let mut dbkey = Vec::with_capacity(prev_len - 4);
        for &(at, suffix, len) in pieces[..count].iter().rev() {
            let (at, suffix, len) = (at as usize, suffix as usize, len as usize);
            let bytes = &b[suffix..suffix + len];
            let in_ns = 4usize.saturating_sub(at).min(len);
            ns[at.min(4)..at.min(4) + in_ns].copy_from_slice(&bytes[..in_ns]);
            dbkey.extend_from_slice(&bytes[in_ns..]);
        }
        let ns = (u32::from_be_bytes(ns) ^ 0x8000_0000) as i32;
        let dbkey = String::from_utf8(dbkey).ok()?;
        Some((ns, dbkey, value))
    }

    /// Every entry in key order: (namespace, dbkey, value), `Err` at damaged bytes.
    pub fn iter(&self) -> impl Iterator<Item = Result<(i32, String, u64), Malformed>> + '_ {
        (0..self.blocks).flat_map(move |i| {
            let mut block = Vec::with_capacity(BLOCK);
            let mut bad = false;
            self.block_entries(i, |k, v| {
                match unkey(k) {
                    Some((ns, t)) => block.push(Ok((ns, t, v))),
                    None => bad = true,
                }
                !bad
            });
            let want = BLOCK.min(self.entries - i * BLOCK);
            if block.len() < want {
                block.push(Err(Malformed(format!("dictionary block {i} is damaged"))));
            }
            block
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn namespaces_order_and_lookups() {
        let bytes = build([
            (0, "Main_Page".to_string(), 1),
            (-1, "Search".to_string(), 9),
            (10, "Infobox".to_string(), 2),
            (0, "Main_Page".to_string(), 7),
        ])
        .unwrap();
        let d = Dictionary::new(&bytes[..]).unwrap();
        assert_eq!(d.len(), 3, "one entry per title");
        assert_eq!(d.get(0, "Main_Page"), Some(1), "the first of equal titles");
        assert_eq!(d.get(-1, "Search"), Some(9));
        assert_eq!(d.get(10, "Infobox"), Some(2));
        assert_eq!(d.get(1, "Main_Page"), None);
        assert!(key(-1, "") < key(0, "") && key(0, "zz") < key(1, ""));
        let empty = build([]).unwrap();
        assert_eq!(Dictionary::new(&empty[..]).unwrap().get(0, ""), None);
    }

    #[test]
    fn the_writer_refuses_keys_out_of_order() {
        let mut w = Writer::default();
        let mut out = Vec::new();
        w.push(&mut out, 0, "B", 1).unwrap();
        assert!(w.push(&mut out, 0, "B", 2).is_err());
        assert!(w.push(&mut out, 0, "A", 2).is_err());
        w.push(&mut out, 1, "A", 3).unwrap();
        let n = w.finish(&mut out).unwrap();
        assert_eq!(n, out.len() as u64);
        let d = Dictionary::new(&out[..]).unwrap();
        assert_eq!(d.entry_at(1), Some((1, "A".to_string(), 3)));
    }

    #[test]
    fn other_versions_are_refused_with_what_to_do() {
        let mut bytes = build([(0, "A".to_string(), 1)]).unwrap();
        let t = bytes.len() - TRAILER;
        bytes[t + 12] = 1;
        let e = Dictionary::new(&bytes[..]).err().unwrap();
        assert!(e.0.contains("rebuild"), "{}", e.0);
    }

    proptest! {
        #[test]
        fn every_title_is_found_and_no_other(
            titles in proptest::collection::btree_map((-2i32..20, "\\PC{0,12}"), any::<u64>(), 0..300),
            others in proptest::collection::vec((-2i32..20, "\\PC{0,12}"), 0..50),
        ) {
            let bytes = build(titles.iter().map(|((ns, t), id)| (*ns, t.clone(), *id))).unwrap();
            let d = Dictionary::new(bytes).unwrap();
            prop_assert_eq!(d.len(), titles.len());
            for ((ns, t), id) in &titles {
                prop_assert_eq!(d.get(*ns, t), Some(*id));
            }
            // In key order, by position and by iteration.
            let mut sorted: Vec<(i32, String, u64)> = titles.iter().map(|((ns, t), id)| (*ns, t.clone(), *id)).collect();
            sorted.sort_by_cached_key(|a| key(a.0, &a.1));
            let got: Vec<(i32, String, u64)> = d.iter().map(|e| e.unwrap()).collect();
            prop_assert_eq!(&got, &sorted);
            for (p, e) in sorted.iter().enumerate() {
                prop_assert_eq!(d.entry_at(p), Some(e.clone()));
            }
            prop_assert_eq!(d.entry_at(sorted.len()), None);
            for (ns, t) in &others {
                prop_assert_eq!(d.get(*ns, t), titles.get(&(*ns, t.clone())).copied());
            }
        }

        /// Damaged bytes — even with the checksum made to match, as a fuzzer does — are
        /// refused or read without a panic.
        #[test]
        fn damaged_bytes_never_panic(
            titles in proptest::collection::vec((0i32..3, "[a-c]{0,6}"), 1..60),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            fix_crc in any::<bool>(),
        ) {
            let mut bytes = build(titles.iter().enumerate().map(|(i, (ns, t))| (*ns, t.clone(), i as u64))).unwrap();
            let n = bytes.len();
            for (at, v) in flips {
                bytes[at.index(n)] ^= v;
            }
            if fix_crc && n >= TRAILER && &bytes[n - 8..] == MAGIC {
                let t = n - TRAILER;
                let crc = crc32fast::hash(&bytes[..t + 16]);
                bytes[t + 16..t + 20].copy_from_slice(&crc.to_le_bytes());
            }
            if let Ok(d) = Dictionary::new(&bytes[..]) {
                for (ns, t) in &titles {
                    let _ = d.get(*ns, t);
                }
                let _ = d.get(0, "zzzz");
                for p in 0..titles.len() + 1 {
                    let _ = d.entry_at(p);
                }
                let _ = d.iter().count();
            }
        }
    }
}
