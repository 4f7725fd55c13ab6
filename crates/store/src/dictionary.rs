//! The dictionary of a title table: titles → ids, front coded in blocks of 8 sorted keys
//! (16 before version 5; each key stored as the length of the prefix it shares with the one
//! before and the rest), with an offset per block so that a lookup binary searches the
//! blocks' first keys and decodes one block. Read in place, from bytes that may be
//! memory-mapped. Format `inlink-dictionary 5` (`docs/format.md`); versions 2 to 4 are
//! still read. Since version 4 a block's values (ids) lead it, packed to the width its
//! largest needs, where each key had its value behind it as a varint: ids of millions take
//! 22 to 26 bits, not three or four bytes.
//!
//! Keys are the namespace as four big-endian bytes with the sign bit flipped (so keys sort
//! by namespace number), then the dbkey's UTF-8 — the order MediaWiki's `(namespace, title)`
//! indexes use. Since version 3 a key is stored with its dbkey compressed by a static
//! symbol table (FSST: up to 255 symbols of 1–8 bytes, a byte each; 255 then a byte
//! stands for that byte), learned from the first titles written: wiki titles repeat their
//! words and syllables, and front coding alone leaves most of each title's bytes. The
//! table is trained by the `fsst-rs` crate; decoding is ours, bounds-checked, and the
//! writer checks that every key decodes to itself.
//!
//! Version 1 was an `fst` transducer; the `dictionary` fuzz target found bytes with a valid
//! checksum on which `fst` panics, and every read here is bounds-checked instead.

use crate::postings::{get_varint, put_packed, put_varint};
use std::cmp::Ordering;

/// Bytes that are not a dictionary.
#[derive(Debug)]
pub struct Malformed(pub String);

/// Keys per block since version 5: a page's title is decoded by walking the keys of its
/// block up to it, which cost a 500-row `list=backlinks` answer a third of its time with
/// sixteen (3.6 M generated pages: the index 382 → 386 MB, 3.87 → 3.90 bytes per link).
pub const BLOCK: usize = 8;
/// Keys per block before version 5.
const BLOCK_V4: usize = 16;

fn block_keys(version: u32) -> usize {
    if version >= 5 {
        BLOCK
    } else {
        BLOCK_V4
    }
}
pub const VERSION: u32 = 5;
/// The oldest version read: segments `inlink-segment` 4–8 hold version 2.
const OLDEST_READ: u32 = 2;
const MAGIC: &[u8; 8] = b"inlnkDIC";
/// `[u32le symbol table bytes]` (from version 3) `u64le entries, u32le blocks, u32le
/// version, u32le crc32, magic`.
const TRAILER: usize = 4 + 8 + 4 + 4 + 4 + 8;
const TRAILER_V2: usize = TRAILER - 4;
/// The titles a symbol table is learned from: the first ones written, held until then. A
/// prefix of the sorted titles codes the rest within a few percent of a table learned from
/// all of them (measured on generated and on English Wikipedia titles).
const LEARN_FROM: usize = 1 << 16;
/// The code of a byte that no symbol holds: the byte follows.
const ESCAPE: u8 = 255;
/// A version-3 key header: the shared length in the high nibble, the suffix length in the
/// low one; `NIBBLE_MORE` in either says a varint of that length follows.
const NIBBLE_MORE: u8 = 15;

/// A key and eight zero bytes, for comparisons a word at a time (`Dictionary::cmp_key`).
fn padded_key(ns: i32, dbkey: &str) -> Vec<u8> {
    key_padded_by(ns, dbkey, 8)
}

fn key(ns: i32, dbkey: &str) -> Vec<u8> {
    key_padded_by(ns, dbkey, 0)
}

fn key_padded_by(ns: i32, dbkey: &str, pad: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + dbkey.len() + pad);
    k.extend_from_slice(&ns_bytes(ns));
    k.extend_from_slice(dbkey.as_bytes());
    k.resize(k.len() + pad, 0);
    k
}

/// The (namespace, dbkey) of a key; `None` when the bytes are not one.
fn unkey(k: &[u8]) -> Option<(i32, String)> {
    let (ns, dbkey) = k.split_first_chunk::<4>()?;
    let ns = (u32::from_be_bytes(*ns) ^ 0x8000_0000) as i32;
    Some((ns, String::from_utf8(dbkey.to_vec()).ok()?))
}

fn ns_bytes(ns: i32) -> [u8; 4] {
    ((ns as u32) ^ 0x8000_0000).to_be_bytes()
}

/// Builds a dictionary from `(namespace, dbkey, id)` entries in any order; of entries with
/// the same title, the first is kept.
pub fn build(entries: impl IntoIterator<Item = (i32, String, u64)>) -> Result<Vec<u8>, Malformed> {
    build_with(Writer::default(), entries)
}

fn build_with(
    mut w: Writer,
    entries: impl IntoIterator<Item = (i32, String, u64)>,
) -> Result<Vec<u8>, Malformed> {
    let mut keyed: Vec<(i32, String, u64)> = entries.into_iter().collect();
    keyed.sort_by_cached_key(|a| key(a.0, &a.1));
    keyed.dedup_by(|a, b| (a.0, &a.1) == (b.0, &b.1));
    let mut out = Vec::new();
    for (ns, t, id) in keyed {
        w.push(&mut out, ns, &t, id)
            .map_err(|e| Malformed(e.to_string()))?;
    }
    w.finish(&mut out).map_err(|e| Malformed(e.to_string()))?;
    Ok(out)
}

/// A symbol table: each code's bytes and length, by code (length 0: no symbol; the
/// escape's is 1, its byte read from the codes). `None` in a dictionary: dbkeys are
/// stored as they are (version 2, or titles the table would not make smaller).
#[derive(Clone)]
struct Symbols {
    bytes: Box<[[u8; 8]; 256]>,
    lens: [u8; 256],
    count: usize,
}

impl Symbols {
    fn new(syms: &[([u8; 8], u8)]) -> Self {
        let mut t = Symbols {
            bytes: Box::new([[0; 8]; 256]),
            lens: [0; 256],
            count: syms.len(),
        };
        for (c, (s, len)) in syms.iter().enumerate() {
            t.bytes[c] = *s;
            t.lens[c] = *len;
        }
        t.lens[usize::from(ESCAPE)] = 1;
        t
    }

    /// `u8 count, u8 length[count], the symbols' bytes`; count 0 is `None`.
    fn parse(b: &[u8]) -> Option<Option<Self>> {
        let (&count, rest) = b.split_first()?;
        let count = usize::from(count);
        if count == 0 {
            return b.len().eq(&1).then_some(None);
        }
        let (lens, mut bytes) = rest.split_at_checked(count)?;
        let mut syms = Vec::with_capacity(count);
        for &len in lens {
            if !(1..=8).contains(&len) {
                return None;
            }
            let (sym, more) = bytes.split_at_checked(usize::from(len))?;
            let mut s = [0u8; 8];
            s[..sym.len()].copy_from_slice(sym);
            syms.push((s, len));
            bytes = more;
        }
        bytes.is_empty().then(|| Some(Symbols::new(&syms)))
    }

    fn write(table: Option<&Self>, out: &mut Vec<u8>) {
        let count = table.map_or(0, |t| t.count);
        out.push(count as u8);
        if let Some(t) = table {
            out.extend_from_slice(&t.lens[..count]);
            for c in 0..count {
                out.extend_from_slice(&t.bytes[c][..usize::from(t.lens[c])]);
            }
        }
    }

    /// Appends what `codes` stand for; `None` at a code with no symbol or an escape at
    /// the end.
    fn decode_into(&self, codes: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let at = out.len();
        let end = self.decode_at(codes, out, at)?;
        out.truncate(end);
        Some(())
    }

    /// Writes what `codes` stand for at `out[at..]` and returns where it ends. `out` is
    /// grown to room for eight bytes a code (each symbol is copied as one eight-byte word
    /// and the write position moved by its length), never shrunk: a buffer kept by the
    /// caller is zeroed once, not for every title.
    fn decode_at(&self, codes: &[u8], out: &mut Vec<u8>, at: usize) -> Option<usize> {
        let room = at + codes.len() * 8 + 8;
        if out.len() < room {
            out.resize(room, 0);
        }
        let mut w = at;
        let mut codes = codes.iter();
        while let Some(&c) = codes.next() {
            if c == ESCAPE {
                out[w] = *codes.next()?;
                w += 1;
                continue;
            }
            let len = usize::from(self.lens[usize::from(c)]);
            if len == 0 {
                return None;
            }
            out[w..w + 8].copy_from_slice(&self.bytes[usize::from(c)]);
            w += len;
        }
        Some(w)
    }

    /// Compares what `codes` stand for with `want[..len]`, a symbol at a time as one
    /// word: `want` has eight bytes of padding past `len`, so every read is whole.
    fn cmp(&self, codes: &[u8], want: &[u8], len: usize) -> Option<Ordering> {
        let mut at = 0;
        let mut codes = codes.iter();
        while let Some(&c) = codes.next() {
            let (sym, n) = if c == ESCAPE {
                (u64::from(*codes.next()?), 1)
            } else {
                let n = usize::from(self.lens[usize::from(c)]);
                if n == 0 {
                    return None;
                }
                (u64::from_le_bytes(self.bytes[usize::from(c)]), n)
            };
            let w = u64::from_le_bytes(want.get(at..at + 8)?.try_into().ok()?);
            let mask = u64::MAX >> (64 - 8 * n);
            let diff = (sym ^ w) & mask;
            if diff != 0 {
                let k = diff.trailing_zeros() as usize / 8;
                if at + k >= len {
                    return Some(Ordering::Greater);
                }
                return Some(((sym >> (8 * k)) as u8).cmp(&((w >> (8 * k)) as u8)));
            }
            at += n;
            if at > len {
                return Some(Ordering::Greater);
            }
        }
        Some(at.cmp(&len))
    }
}

/// The writer's side of a symbol table.
struct Codec {
    fsst: fsst::Compressor,
    table: Symbols,
    scratch: Vec<u8>,
}

impl Codec {
    /// A table learned from `sample`, if it codes the sample smaller, table included.
    fn learn(sample: &[&[u8]], always: bool) -> Option<Self> {
        let fsst = fsst::Compressor::train(&sample.to_vec());
        let syms: Vec<([u8; 8], u8)> = fsst
            .symbol_table()
            .iter()
            .zip(fsst.symbol_lengths())
            .map(|(s, &len)| (s.to_u64().to_le_bytes(), len))
            .collect();
        if syms.is_empty()
            || syms.len() > usize::from(ESCAPE)
            || syms.iter().any(|s| !(1..=8).contains(&s.1))
        {
            return None;
        }
        let table = Symbols::new(&syms);
        let mut codec = Codec {
            fsst,
            table,
            scratch: Vec::new(),
        };
        let mut coded = 1 + syms.iter().map(|s| 1 + usize::from(s.1)).sum::<usize>();
        let mut out = Vec::new();
        for d in sample {
            out.clear();
            codec.encode(d, &mut out);
            coded += out.len();
        }
        (always || coded < sample.iter().map(|d| d.len()).sum()).then_some(codec)
    }

    /// Appends `dbkey`'s codes. A coding that does not decode to `dbkey` (not seen; the
    /// trainer is another crate's) is replaced by escapes, which always do.
    fn encode(&mut self, dbkey: &[u8], out: &mut Vec<u8>) {
        let codes = self.fsst.compress(dbkey);
        self.scratch.clear();
        if self.table.decode_into(&codes, &mut self.scratch).is_some() && self.scratch == dbkey {
            out.extend_from_slice(&codes);
        } else {
            for &b in dbkey {
                out.extend_from_slice(&[ESCAPE, b]);
            }
        }
    }
}

/// Writes a dictionary to a byte sink, keys given strictly ascending, in one pass: only
/// the block offsets, and the first `LEARN_FROM` titles until the symbol table is
/// learned from them, stay in memory.
pub struct Writer {
    written: u64,
    offsets: Vec<u32>,
    /// The last key pushed, and the last one stored (dbkey coded).
    prev: Vec<u8>,
    prev_stored: Vec<u8>,
    stored: Vec<u8>,
    /// Entries written.
    entries: u64,
    crc: crc32fast::Hasher,
    /// Keys and values held until the symbol table is learned; `None` once it is.
    held: Option<Vec<(Vec<u8>, u64)>>,
    codec: Option<Codec>,
    version: u32,
    /// Writes the table learned even when it does not pay (tests).
    always_code: bool,
    /// From version 4, the open block's keys and values, written when it is full.
    block: Vec<u8>,
    values: Vec<u64>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            written: 0,
            offsets: Vec::new(),
            prev: Vec::new(),
            prev_stored: Vec::new(),
            stored: Vec::new(),
            entries: 0,
            crc: crc32fast::Hasher::new(),
            held: Some(Vec::new()),
            codec: None,
            version: VERSION,
            always_code: false,
            block: Vec::new(),
            values: Vec::with_capacity(BLOCK),
        }
    }
}

impl Writer {
    /// A writer of version 2 (varint key headers, no symbol table), to test that it is
    /// still read.
    #[cfg(test)]
    pub(crate) fn version_2() -> Self {
        Writer {
            held: None,
            version: 2,
            ..Writer::default()
        }
    }

    /// A writer of version 3 (values as varints behind their keys).
    #[cfg(test)]
    pub(crate) fn version_3() -> Self {
        Writer {
            version: 3,
            ..Writer::default()
        }
    }

    /// A writer of version 4 (sixteen keys a block).
    #[cfg(test)]
    pub(crate) fn version_4() -> Self {
        Writer {
            version: 4,
            ..Writer::default()
        }
    }

    fn block_keys(&self) -> usize {
        block_keys(self.version)
    }

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
        if !self.is_empty() && k <= self.prev {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("dictionary keys out of order at ({ns}, {dbkey:?})"),
            ));
        }
        self.prev.clone_from(&k);
        match &mut self.held {
            Some(held) => {
                held.push((k, value));
                if held.len() >= LEARN_FROM {
                    self.learn(out)?;
                }
                Ok(())
            }
            None => self.write_entry(out, &k, value),
        }
    }

    /// Learns the symbol table from the titles held, and writes them.
    fn learn(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        let sample: Vec<&[u8]> = held.iter().map(|(k, _)| &k[4..]).collect();
        self.codec = if sample.is_empty() {
            None
        } else {
            Codec::learn(&sample, self.always_code)
        };
        for (k, v) in &held {
            self.write_entry(out, k, *v)?;
        }
        Ok(())
    }

    fn write_entry(
        &mut self,
        out: &mut impl std::io::Write,
        k: &[u8],
        value: u64,
    ) -> std::io::Result<()> {
        let mut stored = std::mem::take(&mut self.stored);
        stored.clear();
        match &mut self.codec {
            Some(codec) => {
                stored.extend_from_slice(&k[..4]);
                codec.encode(&k[4..], &mut stored);
            }
            None => stored.extend_from_slice(k),
        }
        let mut head = Vec::with_capacity(24);
        let first = self.entries.is_multiple_of(self.block_keys() as u64);
        if first && self.version < 4 {
            self.offsets.push(self.offset()?);
        }
        if self.version >= 4 {
            if first {
                put_varint(&mut self.block, stored.len() as u64);
                self.block.extend_from_slice(&stored);
            } else {
                let shared = common_prefix(&self.prev_stored, &stored);
                push_head(&mut self.block, shared, stored.len() - shared);
                self.block.extend_from_slice(&stored[shared..]);
            }
            self.values.push(value);
            self.stored = std::mem::replace(&mut self.prev_stored, stored);
            self.entries += 1;
            return self.write_block_if_full(out);
        }
        if first {
            put_varint(&mut head, stored.len() as u64);
            self.put(out, &head)?;
            self.put(out, &stored)?;
        } else {
            let shared = common_prefix(&self.prev_stored, &stored);
            let len = stored.len() - shared;
            if self.version >= 3 {
                push_head(&mut head, shared, len);
            } else {
                put_varint(&mut head, shared as u64);
                put_varint(&mut head, len as u64);
            }
            self.put(out, &head)?;
            self.put(out, &stored[shared..])?;
        }
        head.clear();
        put_varint(&mut head, value);
        self.put(out, &head)?;
        // The old key's buffer is the next one's.
        self.stored = std::mem::replace(&mut self.prev_stored, stored);
        self.entries += 1;
        Ok(())
    }

    /// Where the next block starts.
    fn offset(&self) -> std::io::Result<u32> {
        u32::try_from(self.written).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a dictionary holds at most 4 GiB",
            )
        })
    }

    /// Writes the open block (version 4) once it holds its keys, or at the end.
    fn write_block_if_full(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        if self.values.len() < self.block_keys() {
            return Ok(());
        }
        self.write_block(out)
    }

    fn write_block(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        if self.values.is_empty() {
            return Ok(());
        }
        self.offsets.push(self.offset()?);
        let max = self.values.iter().copied().max().unwrap_or(0);
        let width = u64::BITS - max.leading_zeros();
        let mut head = vec![width as u8];
        put_packed(&mut head, self.values.iter().copied(), width);
        let block = std::mem::take(&mut self.block);
        self.put(out, &head)?;
        self.put(out, &block)?;
        self.block = block;
        self.block.clear();
        self.values.clear();
        Ok(())
    }

    /// Writes the titles still held, the symbol table, the block offsets and the trailer;
    /// returns the dictionary's bytes.
    pub fn finish(mut self, out: &mut impl std::io::Write) -> std::io::Result<u64> {
        self.learn(out)?;
        self.write_block(out)?;
        let mut tail = Vec::with_capacity(self.offsets.len() * 4 + TRAILER + 2048);
        let mut symbols_len = 0;
        if self.version >= 3 {
            Symbols::write(self.codec.as_ref().map(|c| &c.table), &mut tail);
            symbols_len = tail.len() as u32;
        }
        for o in &self.offsets {
            tail.extend_from_slice(&o.to_le_bytes());
        }
        if self.version >= 3 {
            tail.extend_from_slice(&symbols_len.to_le_bytes());
        }
        tail.extend_from_slice(&self.entries.to_le_bytes());
        tail.extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        tail.extend_from_slice(&self.version.to_le_bytes());
        self.put(out, &tail)?;
        let crc = self.crc.clone().finalize();
        self.put(out, &crc.to_le_bytes())?;
        self.put(out, MAGIC)?;
        Ok(self.written)
    }

    /// Entries pushed so far: the position the next one gets.
    pub fn len(&self) -> u64 {
        self.entries + self.held.as_ref().map_or(0, |h| h.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A version-3 key header: the two lengths in nibbles, each 15 or more followed by its
/// varint.
fn push_head(out: &mut Vec<u8>, shared: usize, len: usize) {
    // Capped before narrowing: a coded suffix can pass 255 bytes (escapes).
    let nibble = |n: usize| n.min(usize::from(NIBBLE_MORE)) as u8;
    out.push(nibble(shared) << 4 | nibble(len));
    for n in [shared, len] {
        if n >= usize::from(NIBBLE_MORE) {
            put_varint(out, n as u64);
        }
    }
}

/// Value `i` of those packed at `at` (`width` bits each), reading no byte at or past `end`.
fn unpack(b: &[u8], at: usize, end: usize, width: u32, i: usize) -> Option<u64> {
    if width == 0 {
        return Some(0);
    }
    let bit = i.checked_mul(width as usize)?;
    let first = at.checked_add(bit / 8)?;
    let last = at.checked_add((bit + width as usize).div_ceil(8))?;
    let bytes = b.get(first..last.min(end))?;
    if last > end {
        return None;
    }
    let mut acc = 0u128;
    for (k, &x) in bytes.iter().enumerate() {
        acc |= u128::from(x) << (8 * k);
    }
    let v = acc >> (bit % 8);
    Some(if width == 64 {
        v as u64
    } else {
        (v as u64) & ((1u64 << width) - 1)
    })
}

/// A dictionary read in place.
pub struct Dictionary<B: AsRef<[u8]>> {
    bytes: B,
    entries: usize,
    blocks: usize,
    /// Where the blocks end, and where their offsets start.
    blocks_end: usize,
    index: usize,
    symbols: Option<Symbols>,
    /// Key headers in nibbles (version 3), not varints.
    nibbles: bool,
    /// Values packed ahead of their block's keys (version 4), not behind each key.
    packed: bool,
    /// Keys per block: `BLOCK` from version 5, `BLOCK_V4` before.
    block_keys: usize,
}

/// An entry's value, as a walk of its block meets it.
#[derive(Clone, Copy)]
enum Value {
    Read(u64),
    Packed(Block, usize),
}

/// Where a block's parts lie: its values (packed from version 4) and its keys.
#[derive(Clone, Copy)]
struct Block {
    /// The first key's header, and the end of the block.
    keys: usize,
    end: usize,
    /// Version 4: the values' width and where they start.
    width: u32,
    values: usize,
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

impl<B: AsRef<[u8]>> Dictionary<B> {
    /// Checks the trailer, checksum, symbol table and block offsets; every later read is
    /// bounds-checked as well, so damaged bytes give `None` or a wrong-but-safe answer,
    /// never a panic.
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
        if b.len() < TRAILER_V2 || &b[b.len() - 8..] != MAGIC {
            return Err(bad("not an inlink dictionary (no trailer)"));
        }
        let version = le_u32(b, b.len() - 16);
        if !(OLDEST_READ..=VERSION).contains(&version) {
            return Err(Malformed(format!(
                "dictionary version {version}; this inlink reads {OLDEST_READ} to {VERSION}: rebuild it with `inlink import`"
            )));
        }
        let trailer = if version >= 3 { TRAILER } else { TRAILER_V2 };
        let t = b
            .len()
            .checked_sub(trailer)
            .ok_or_else(|| bad("not an inlink dictionary (no trailer)"))?;
        // The entry count starts the common part of both trailers.
        let c = b.len() - TRAILER_V2;
        if check_crc && crc32fast::hash(&b[..c + 16]) != le_u32(b, c + 16) {
            return Err(bad("dictionary checksum mismatch"));
        }
        let entries = u64::from_le_bytes(b[c..c + 8].try_into().expect("eight bytes"));
        let blocks = le_u32(b, c + 8) as usize;
        let index = t
            .checked_sub(blocks * 4)
            .ok_or_else(|| bad("block offsets past the start"))?;
        let (blocks_end, symbols) = if version >= 3 {
            let len = le_u32(b, t) as usize;
            let at = index
                .checked_sub(len)
                .ok_or_else(|| bad("symbol table past the start"))?;
            let symbols =
                Symbols::parse(&b[at..index]).ok_or_else(|| bad("damaged symbol table"))?;
            (at, symbols)
        } else {
            (index, None)
        };
        let entries = usize::try_from(entries).map_err(|_| bad("entry count"))?;
        let block_keys = block_keys(version);
        if entries.div_ceil(block_keys) != blocks {
            return Err(bad("entry and block counts disagree"));
        }
        let mut last = None;
        for i in 0..blocks {
            let o = le_u32(b, index + i * 4) as usize;
            if o >= blocks_end || last.is_some_and(|l| o <= l) || (i == 0 && o != 0) {
                return Err(bad("block offsets out of order or out of bounds"));
            }
            last = Some(o);
        }
        Ok(Dictionary {
            bytes,
            entries,
            blocks,
            blocks_end,
            index,
            symbols,
            nibbles: version >= 3,
            packed: version >= 4,
            block_keys,
        })
    }

    /// Block `i`'s parts; `None` when its values run past its end.
    #[inline]
    fn block(&self, i: usize) -> Option<Block> {
        let (start, end) = self.block_range(i);
        if !self.packed {
            return Some(Block {
                keys: start,
                end,
                width: 0,
                values: start,
            });
        }
        let b = self.bytes.as_ref();
        let width = u32::from(*b.get(start).filter(|_| start < end)?);
        if width > 64 {
            return None;
        }
        let n = self
            .block_keys
            .min(self.entries.checked_sub(i * self.block_keys)?);
        let keys = (start + 1).checked_add((n * width as usize).div_ceil(8))?;
        (keys <= end).then_some(Block {
            keys,
            end,
            width,
            values: start + 1,
        })
    }

    /// Value `n` of a block as a walk of its keys meets it: read from behind its key
    /// (before version 4, which `pos` then passes), or left packed until asked for — a
    /// lookup wants the value of one key of the block.
    fn meet_value(&self, b: &[u8], block: Block, n: usize, pos: &mut usize) -> Option<Value> {
        if self.packed {
            return Some(Value::Packed(block, n));
        }
        get_varint(b, pos).ok().map(Value::Read)
    }

    fn value_of(&self, v: Value) -> Option<u64> {
        match v {
            Value::Read(v) => Some(v),
            Value::Packed(block, n) => unpack(
                self.bytes.as_ref(),
                block.values,
                block.keys,
                block.width,
                n,
            ),
        }
    }

    fn block_range(&self, i: usize) -> (usize, usize) {
        let b = self.bytes.as_ref();
        let start = le_u32(b, self.index + i * 4) as usize;
        let end = if i + 1 < self.blocks {
            le_u32(b, self.index + (i + 1) * 4) as usize
        } else {
            self.blocks_end
        };
        (start, end)
    }

    /// The header of entry `n` of a block at `pos`: (shared length, suffix length).
    #[inline(always)]
    fn head(&self, b: &[u8], pos: &mut usize, n: usize) -> Option<(usize, usize)> {
        let varint = |pos: &mut usize| usize::try_from(get_varint(b, pos).ok()?).ok();
        if n == 0 {
            return Some((0, varint(pos)?));
        }
        if !self.nibbles {
            return Some((varint(pos)?, varint(pos)?));
        }
        let h = *b.get(*pos)?;
        *pos += 1;
        let mut part = |nibble: u8| {
            if nibble == NIBBLE_MORE {
                varint(pos)
            } else {
                Some(usize::from(nibble))
            }
        };
        Some((part(h >> 4)?, part(h & 15)?))
    }

    /// Compares a stored key with a wanted one: `want` is the namespace bytes and plain
    /// dbkey, then eight bytes of padding ([`padded_key`]).
    fn cmp_key(&self, stored: &[u8], want: &[u8]) -> Option<Ordering> {
        let len = want.len() - 8;
        let Some(s) = &self.symbols else {
            return Some(stored.cmp(&want[..len]));
        };
        let (ns, codes) = stored.split_first_chunk::<4>()?;
        match ns[..].cmp(&want[..4]) {
            Ordering::Equal => s.cmp(codes, &want[4..], len - 4),
            o => Some(o),
        }
    }

    /// The first key of block `i`, as stored.
    fn first_key(&self, i: usize) -> Option<&[u8]> {
        let Block { keys, end, .. } = self.block(i)?;
        let b = &self.bytes.as_ref()[..end];
        let mut pos = keys;
        let len = usize::try_from(get_varint(b, &mut pos).ok()?).ok()?;
        b.get(pos..pos.checked_add(len)?)
    }

    pub fn get(&self, ns: i32, dbkey: &str) -> Option<u64> {
        if self.blocks == 0 {
            return None;
        }
        let want = padded_key(ns, dbkey);
        // The last block whose first key is ≤ the wanted key.
        let (mut lo, mut hi) = (0, self.blocks);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.cmp_key(self.first_key(mid)?, &want)? != Ordering::Greater {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut found = None;
        self.stored_entries(lo, |k, _, v| match self.cmp_key(k, &want) {
            Some(Ordering::Equal) => {
                found = self.value_of(v);
                false
            }
            Some(Ordering::Less) => true,
            _ => false,
        });
        found
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The entries of block `i`: (stored key, bytes it shares with the key before, value),
    /// in order; stops at damaged bytes (a damaged block gives fewer entries, never a
    /// panic) or when `f` says so.
    fn stored_entries(&self, i: usize, mut f: impl FnMut(&[u8], usize, Value) -> bool) {
        let Some(block) = self.block(i) else {
            return;
        };
        let end = block.end;
        let b = &self.bytes.as_ref()[..end];
        let mut pos = block.keys;
        let mut cur: Vec<u8> = Vec::with_capacity(64);
        for n in 0..self.block_keys {
            if pos >= end {
                return;
            }
            let mut entry = || -> Option<(usize, Value)> {
                let (shared, len) = self.head(b, &mut pos, n)?;
                if shared > cur.len() {
                    return None;
                }
                cur.truncate(shared);
                cur.extend_from_slice(b.get(pos..pos.checked_add(len)?)?);
                pos += len;
                Some((shared, self.meet_value(b, block, n, &mut pos)?))
            };
            match entry() {
                Some((shared, value)) if f(&cur, shared, value) => {}
                _ => return,
            }
        }
    }

    /// The entries of block `i`: (key, value), in order, keys plain (namespace bytes and
    /// dbkey), as `stored_entries` gives them. A coded key is decoded from the last code
    /// boundary it shares with the key before.
    fn block_entries(&self, i: usize, mut f: impl FnMut(&[u8], u64) -> bool) {
        let Some(s) = &self.symbols else {
            return self.stored_entries(i, |k, _, v| self.value_of(v).is_some_and(|v| f(k, v)));
        };
        let mut plain: Vec<u8> = Vec::with_capacity(128);
        // Per position in the stored key, the plain bytes before it; `INSIDE` between an
        // escape and its byte.
        const INSIDE: u32 = u32::MAX;
        let mut marks: Vec<u32> = vec![0];
        self.stored_entries(i, |cur, shared, value| {
            let mut at = shared;
            while marks[at] == INSIDE {
                at -= 1;
            }
            plain.truncate(marks[at] as usize);
            marks.truncate(at + 1);
            while at < cur.len() {
                let c = cur[at];
                if at < 4 {
                    plain.push(c);
                    at += 1;
                } else if c == ESCAPE {
                    let Some(&b) = cur.get(at + 1) else {
                        return false;
                    };
                    plain.push(b);
                    marks.push(INSIDE);
                    at += 2;
                } else {
                    let len = usize::from(s.lens[usize::from(c)]);
                    if len == 0 {
                        return false;
                    }
                    let end = plain.len() + len;
                    plain.extend_from_slice(&s.bytes[usize::from(c)]);
                    plain.truncate(end);
                    at += 1;
                }
                marks.push(plain.len() as u32);
            }
            self.value_of(value).is_some_and(|v| f(&plain, v))
        })
    }

    /// The entry at position `p` (0-based, in key order): (namespace, dbkey, value).
    pub fn entry_at(&self, p: usize) -> Option<(i32, String, u64)> {
        let mut buf = Vec::new();
        let (ns, len, value) = self.entry_raw(p, &mut buf)?;
        buf.truncate(len);
        Some((ns, String::from_utf8(buf).ok()?, value))
    }

    /// [`Dictionary::entry_at`] with the dbkey decoded into a buffer the caller keeps: a
    /// long answer reads its rows' titles with no allocation each.
    pub fn entry_in<'b>(&self, p: usize, buf: &'b mut Vec<u8>) -> Option<(i32, &'b str, u64)> {
        let (ns, len, value) = self.entry_raw(p, buf)?;
        Some((ns, std::str::from_utf8(&buf[..len]).ok()?, value))
    }

    /// The entry at `p` with its dbkey's bytes (not yet checked as UTF-8) at `buf[..len]`:
    /// (namespace, len, value). `buf` may be left longer. The keys before it in its block
    /// are stepped over, not rebuilt: the wanted key's bytes are gathered backwards from
    /// the suffixes that hold them.
    fn entry_raw(&self, p: usize, buf: &mut Vec<u8>) -> Option<(i32, usize, u64)> {
        // Compiled for each block size: a constant divides by a shift and sizes the arrays
        // below, which are zeroed on every call.
        if self.block_keys == BLOCK {
            self.entry_raw_by::<BLOCK>(p, buf)
        } else {
            self.entry_raw_by::<BLOCK_V4>(p, buf)
        }
    }

    #[inline(always)]
    fn entry_raw_by<const N: usize>(
        &self,
        p: usize,
        buf: &mut Vec<u8>,
    ) -> Option<(i32, usize, u64)> {
        if p >= self.entries {
            return None;
        }
        let block = self.block(p / N)?;
        let end = block.end;
        let b = &self.bytes.as_ref()[..end];
        let mut pos = block.keys;
        // (shared, suffix start, suffix length) of each key up to the wanted one.
        let mut parts = [(0u32, 0u32, 0u32); N];
        let last = p % N;
        let mut value = 0;
        // The length of the key before: a damaged block can claim a longer shared prefix,
        // and the key is gathered from these lengths.
        let mut prev_len = 0usize;
        for (n, part) in parts.iter_mut().enumerate().take(last + 1) {
            let (shared, len) = self.head(b, &mut pos, n)?;
            if shared > prev_len {
                return None;
            }
            prev_len = shared.checked_add(len)?;
            let suffix = pos;
            pos = pos.checked_add(len).filter(|&e| e <= end)?;
            if n == last {
                value = self.value_of(self.meet_value(b, block, n, &mut pos)?)?;
            } else if !self.packed {
                // Only the wanted key's value is needed: step over the others' bytes.
                pos += b.get(pos..)?.iter().position(|&x| x < 0x80)? + 1;
            }
            // Offsets and lengths fit in u32: `block_range` reads them as such.
            *part = (shared as u32, suffix as u32, len as u32);
        }
        if prev_len < 4 {
            return None;
        }
        // The key's pieces, found last first: (start in the key, suffix start, length).
        let mut pieces = [(0u32, 0u32, 0u32); N];
        let mut count = 0;
        let mut need = prev_len;
        for &(shared, suffix, len) in parts[..=last].iter().rev() {
            if need == 0 {
                break;
            }
            let at = shared as usize;
            if at >= need {
                continue;
            }
            // A damaged block can claim a shared prefix longer than the key before it.
            let take = need - at;
            if take > len as usize {
                return None;
            }
            pieces[count] = (at as u32, suffix, take as u32);
            count += 1;
            need = at;
        }
        if need > 0 {
            return None;
        }
        // The key gathered (on the stack when short), first piece first: a short piece is
        // copied as sixteen bytes, the excess overwritten by the pieces after it, where a
        // copy of its length would be a call.
        let mut stack = [0u8; 128 + 16];
        let mut heap = Vec::new();
        let key: &mut [u8] = if prev_len + 16 <= stack.len() {
            &mut stack
        } else {
            heap.resize(prev_len + 16, 0);
            &mut heap
        };
        for &(at, suffix, take) in pieces[..count].iter().rev() {
            let (at, suffix, take) = (at as usize, suffix as usize, take as usize);
            match b.get(suffix..suffix + 16) {
                Some(from) if take <= 16 => key[at..at + 16].copy_from_slice(from),
                _ => key[at..at + take].copy_from_slice(&b[suffix..suffix + take]),
            }
        }
        // The namespace is the stored key's first four bytes; the rest is the dbkey, or its
        // codes.
        let ns: [u8; 4] = key[..4].try_into().ok()?;
        let coded = prev_len - 4;
        let rest = &key[4..prev_len];
        let len = match &self.symbols {
            None => {
                if buf.len() < coded {
                    buf.resize(coded, 0);
                }
                buf[..coded].copy_from_slice(rest);
                coded
            }
            Some(s) => s.decode_at(rest, buf, 0)?,
        };
        let ns = (u32::from_be_bytes(ns) ^ 0x8000_0000) as i32;
        Some((ns, len, value))
    }

    /// Every entry in key order: (namespace, dbkey, value), `Err` at damaged bytes.
    pub fn iter(&self) -> impl Iterator<Item = Result<(i32, String, u64), Malformed>> + '_ {
        (0..self.blocks).flat_map(move |i| {
            let mut block = Vec::with_capacity(self.block_keys);
            let mut bad = false;
            self.block_entries(i, |k, v| {
                match unkey(k) {
                    Some((ns, t)) => block.push(Ok((ns, t, v))),
                    None => bad = true,
                }
                !bad
            });
            let want = self.block_keys.min(self.entries - i * self.block_keys);
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
        for version in [1u32, VERSION + 1] {
            let mut bytes = build([(0, "A".to_string(), 1)]).unwrap();
            let at = bytes.len() - 16;
            bytes[at..at + 4].copy_from_slice(&version.to_le_bytes());
            let e = Dictionary::new(&bytes[..]).err().unwrap();
            assert!(e.0.contains("rebuild"), "{}", e.0);
        }
    }

    /// Titles of a few syllables, as wiki titles repeat their words.
    fn syllable_titles(n: usize) -> Vec<(i32, String, u64)> {
        const S: [&str; 12] = [
            "an", "bel", "cor", "dri", "el", "fen", "gor", "han", "is", "jon", "kal", "mar",
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|i| {
                let mut t = String::new();
                for w in 0..1 + i % 3 {
                    if w > 0 {
                        t.push('_');
                    }
                    for _ in 0..1 + (i + w) % 3 {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        t.push_str(S[(x >> 33) as usize % S.len()]);
                    }
                }
                let mut c = t.chars();
                let t = c
                    .next()
                    .unwrap()
                    .to_uppercase()
                    .chain(c)
                    .collect::<String>();
                ((i % 3) as i32 * 2, format!("{t}_{i}"), i as u64 * 7)
            })
            .collect()
    }

    #[test]
    fn titles_are_coded_smaller_and_read_back() {
        // More titles than the table is learned from, so that some are coded after it.
        let titles = syllable_titles(LEARN_FROM + 5_000);
        let v5 = build(titles.clone()).unwrap();
        let v4 = build_with(Writer::version_4(), titles.clone()).unwrap();
        let v3 = build_with(Writer::version_3(), titles.clone()).unwrap();
        let v2 = build_with(Writer::version_2(), titles.clone()).unwrap();
        assert!(
            (v3.len() as f64) < 0.8 * v2.len() as f64,
            "{} bytes against {} uncoded",
            v3.len(),
            v2.len()
        );
        // Values of 19 bits: 2.4 bytes packed, where a varint took 3.
        assert!(
            v4.len() + titles.len() / 4 < v3.len(),
            "{} against {}",
            v4.len(),
            v3.len()
        );
        // Half the keys a block: more first keys stored whole, a few percent more bytes.
        assert!(
            v4.len() < v5.len() && (v5.len() as f64) < 1.1 * v4.len() as f64,
            "{} against {}",
            v5.len(),
            v4.len()
        );
        for bytes in [&v5, &v4, &v3, &v2] {
            let d = Dictionary::new(&bytes[..]).unwrap();
            assert_eq!(d.symbols.is_some(), !std::ptr::eq(bytes, &v2));
            assert_eq!(
                d.packed,
                std::ptr::eq(bytes, &v4) || std::ptr::eq(bytes, &v5)
            );
            assert_eq!(d.block_keys, if std::ptr::eq(bytes, &v5) { 8 } else { 16 });
            let mut sorted = titles.clone();
            sorted.sort_by_cached_key(|a| key(a.0, &a.1));
            for (p, (ns, t, id)) in sorted.iter().enumerate().step_by(97) {
                assert_eq!(d.get(*ns, t), Some(*id));
                assert_eq!(d.entry_at(p), Some((*ns, t.clone(), *id)));
                assert_eq!(d.get(*ns, &format!("{t}x")), None);
            }
            assert_eq!(d.iter().count(), titles.len());
        }
    }

    /// Keys whose stored suffix, or the prefix they share with the key before, pass 255
    /// bytes (a dbkey is at most 255 bytes, but escaped bytes take two codes each). Their
    /// header lengths were once cut to a byte before being capped at 15, which broke the
    /// block (found by `inlink check` on a real wiki: a Dhivehi interwiki link).
    #[test]
    fn keys_past_255_bytes_read_back() {
        // Every length from 250 to 290 bytes, as a suffix and as a shared prefix.
        let mut titles = Vec::new();
        for len in 250..=290u64 {
            let y = "y".repeat(len as usize);
            titles.push((0, format!("{y}a"), len));
            titles.push((0, format!("{y}b"), 1_000 + len));
            titles.push((1, "z".repeat(len as usize), 2_000 + len));
        }
        titles.sort_by_cached_key(|a| key(a.0, &a.1));
        // Keys stored as they are (no table learned), then coded by one that must be.
        let plain = Writer {
            held: None,
            ..Writer::default()
        };
        let coded = Writer {
            always_code: true,
            ..Writer::default()
        };
        for w in [plain, coded] {
            let bytes = build_with(w, titles.clone()).unwrap();
            let d = Dictionary::new(&bytes[..]).unwrap();
            for (p, (ns, t, id)) in titles.iter().enumerate() {
                assert_eq!(d.get(*ns, t), Some(*id), "{} bytes", t.len());
                assert_eq!(d.entry_at(p), Some((*ns, t.clone(), *id)));
            }
            let all: Vec<_> = d.iter().map(|e| e.unwrap()).collect();
            assert_eq!(all, titles);
        }
    }

    #[test]
    fn a_table_that_would_not_pay_is_not_written() {
        let bytes = build([(0, "Main_Page".to_string(), 1), (2, "É".to_string(), 2)]).unwrap();
        let d = Dictionary::new(&bytes[..]).unwrap();
        assert!(d.symbols.is_none());
        assert_eq!(d.get(2, "É"), Some(2));
    }

    #[test]
    fn symbol_tables_are_checked() {
        let table = |b: &[u8]| Symbols::parse(b).map(|t| t.map(|t| t.count));
        assert_eq!(table(&[0]), Some(None));
        assert_eq!(table(&[0, 1]), None, "bytes after an empty table");
        assert_eq!(table(&[1, 2, b'a', b'b']), Some(Some(1)));
        assert_eq!(table(&[1, 2, b'a']), None, "a short symbol");
        assert_eq!(
            table(&[1, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            None,
            "a symbol past 8 bytes"
        );
        assert_eq!(table(&[1, 0]), None, "an empty symbol");
        assert_eq!(table(&[]), None);
        let s = Symbols::new(&[(*b"ab\0\0\0\0\0\0", 2)]);
        let mut out = Vec::new();
        assert_eq!(s.decode_into(&[0, ESCAPE, b'c', 0], &mut out), Some(()));
        assert_eq!(out, b"abcab");
        assert_eq!(s.decode_into(&[1], &mut out), None, "a code with no symbol");
        assert_eq!(
            s.decode_into(&[ESCAPE], &mut out),
            None,
            "an escape at the end"
        );
    }

    proptest! {
        #[test]
        fn every_title_is_found_and_no_other(
            titles in proptest::collection::btree_map((-2i32..20, "\\PC{0,12}"), any::<u64>(), 0..300),
            others in proptest::collection::vec((-2i32..20, "\\PC{0,12}"), 0..50),
            sixteen in any::<bool>(),
        ) {
            // Blocks of both sizes: version 5's eight keys, version 4's sixteen.
            let w = if sixteen { Writer::version_4() } else { Writer::default() };
            let bytes = build_with(w, titles.iter().map(|((ns, t), id)| (*ns, t.clone(), *id))).unwrap();
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
            let mut buf = Vec::new();
            for (p, e) in sorted.iter().enumerate().rev() {
                prop_assert_eq!(d.entry_at(p), Some(e.clone()));
                prop_assert_eq!(d.entry_in(p, &mut buf), Some((e.0, e.1.as_str(), e.2)));
            }
            prop_assert_eq!(d.entry_at(sorted.len()), None);
            prop_assert_eq!(d.entry_in(sorted.len(), &mut buf), None);
            for (ns, t) in &others {
                prop_assert_eq!(d.get(*ns, t), titles.get(&(*ns, t.clone())).copied());
            }
        }

        /// Codes decode to the plain bytes, and compare as they do, whatever the table.
        #[test]
        fn codes_decode_to_the_plain_bytes(
            syms in proptest::collection::vec(proptest::collection::vec(0u8..4, 1..=8), 1..20),
            text in proptest::collection::vec(0u8..5, 0..24),
            want in proptest::collection::vec(0u8..5, 0..24),
        ) {
            let list: Vec<([u8; 8], u8)> = syms.iter().map(|s| {
                let mut b = [0u8; 8];
                b[..s.len()].copy_from_slice(s);
                (b, s.len() as u8)
            }).collect();
            let table = Symbols::new(&list);
            // Greedy longest match, else an escape.
            let mut codes = Vec::new();
            let mut i = 0;
            while i < text.len() {
                let best = list.iter().enumerate()
                    .filter(|(_, (b, l))| text[i..].starts_with(&b[..usize::from(*l)]))
                    .max_by_key(|(_, (_, l))| *l);
                match best {
                    Some((c, (_, l))) => { codes.push(c as u8); i += usize::from(*l); }
                    None => { codes.extend([ESCAPE, text[i]]); i += 1; }
                }
            }
            let mut out = Vec::new();
            prop_assert_eq!(table.decode_into(&codes, &mut out), Some(()));
            prop_assert_eq!(&out, &text);
            // Compared a word at a time against a key padded with zero bytes, as lookups do.
            let mut padded = want.clone();
            padded.extend_from_slice(&[0; 8]);
            prop_assert_eq!(table.cmp(&codes, &padded, want.len()), Some(text.cmp(&want)));
            // Against its own prefixes and extensions, where the words agree longest.
            for k in 0..=text.len() + 1 {
                let mut other = text[..k.min(text.len())].to_vec();
                if k > text.len() {
                    other.push(0);
                }
                let n = other.len();
                other.extend_from_slice(&[0; 8]);
                prop_assert_eq!(table.cmp(&codes, &other, n), Some(text.as_slice().cmp(&other[..n])));
            }
            // Appended to what is there.
            let mut more = b"x".to_vec();
            prop_assert_eq!(table.decode_into(&codes, &mut more), Some(()));
            prop_assert_eq!(&more[1..], &text[..]);
        }

        /// Every title is found through a table learned from titles of every kind (one
        /// that pays is not needed here; a few titles may teach no symbol).
        #[test]
        fn every_title_is_found_through_a_table(
            // Some long enough that their codes pass 255 bytes (escapes take two each).
            titles in proptest::collection::btree_map((-2i32..20, prop_oneof![6 => "(an|bel|_|x|é|\\PC){0,10}", 1 => "(an|\\PC){60,130}"]), any::<u64>(), 1..300),
            others in proptest::collection::vec((-2i32..20, "(an|bel|_|x|é){0,6}"), 0..50),
        ) {
            let w = Writer { always_code: true, ..Writer::default() };
            let bytes = build_with(w, titles.iter().map(|((ns, t), id)| (*ns, t.clone(), *id))).unwrap();
            let d = Dictionary::new(bytes).unwrap();
            let mut sorted: Vec<(i32, String, u64)> = titles.iter().map(|((ns, t), id)| (*ns, t.clone(), *id)).collect();
            sorted.sort_by_cached_key(|a| key(a.0, &a.1));
            // One buffer for all, as a long answer keeps it: what a longer title left in it
            // must not show in a shorter one. Backwards too, so that short follows long.
            let mut buf = Vec::new();
            for (p, e) in sorted.iter().enumerate() {
                prop_assert_eq!(d.get(e.0, &e.1), Some(e.2));
                prop_assert_eq!(d.entry_at(p), Some(e.clone()));
                prop_assert_eq!(d.entry_in(p, &mut buf), Some((e.0, e.1.as_str(), e.2)));
            }
            for (p, e) in sorted.iter().enumerate().rev() {
                prop_assert_eq!(d.entry_in(p, &mut buf), Some((e.0, e.1.as_str(), e.2)));
            }
            let got: Vec<(i32, String, u64)> = d.iter().map(|e| e.unwrap()).collect();
            prop_assert_eq!(&got, &sorted);
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
            coded in any::<bool>(),
            version in 2u32..=5,
        ) {
            let mut w = match version {
                5 => Writer::default(),
                4 => Writer::version_4(),
                3 => Writer::version_3(),
                _ => Writer::version_2(),
            };
            let coded = coded && version >= 3;
            w.always_code = coded;
            let mut bytes = build_with(w, titles.iter().enumerate().map(|(i, (ns, t))| (*ns, t.clone(), i as u64))).unwrap();
            let n = bytes.len();
            for (at, v) in flips {
                bytes[at.index(n)] ^= v;
            }
            if fix_crc && n >= TRAILER && &bytes[n - 8..] == MAGIC {
                let crc = crc32fast::hash(&bytes[..n - 12]);
                bytes[n - 12..n - 8].copy_from_slice(&crc.to_le_bytes());
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
