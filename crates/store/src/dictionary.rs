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

/// Builds a dictionary from `(namespace, dbkey, id)` entries in any order; of entries with
/// the same title, the first is kept.
pub fn build(entries: impl IntoIterator<Item = (i32, String, u64)>) -> Result<Vec<u8>, Malformed> {
    let mut keyed: Vec<(Vec<u8>, u64)> = entries
        .into_iter()
        .map(|(ns, t, id)| (key(ns, &t), id))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    let mut out = Vec::new();
    let mut offsets: Vec<u32> = Vec::with_capacity(keyed.len().div_ceil(BLOCK));
    let mut prev: &[u8] = &[];
    for (i, (k, id)) in keyed.iter().enumerate() {
        if i % BLOCK == 0 {
            offsets.push(
                u32::try_from(out.len())
                    .map_err(|_| Malformed("a dictionary holds at most 4 GiB".into()))?,
            );
            put_varint(&mut out, k.len() as u64);
            out.extend_from_slice(k);
        } else {
            let shared = prev.iter().zip(k).take_while(|(a, b)| a == b).count();
            put_varint(&mut out, shared as u64);
            put_varint(&mut out, (k.len() - shared) as u64);
            out.extend_from_slice(&k[shared..]);
        }
        put_varint(&mut out, *id);
        prev = k;
    }
    for o in &offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&(keyed.len() as u64).to_le_bytes());
    out.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(MAGIC);
    Ok(out)
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
        if crc32fast::hash(&b[..t + 16]) != le_u32(b, t + 16) {
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
        let (start, end) = self.block_range(lo);
        let b = &self.bytes.as_ref()[..end];
        let mut pos = start;
        let mut cur: Vec<u8> = Vec::with_capacity(want.len() + 16);
        for n in 0..BLOCK {
            if pos >= end {
                break;
            }
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
            let value = get_varint(b, &mut pos).ok()?;
            match cur.as_slice().cmp(want.as_slice()) {
                std::cmp::Ordering::Equal => return Some(value),
                std::cmp::Ordering::Greater => return None,
                std::cmp::Ordering::Less => {}
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
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
            }
        }
    }
}
