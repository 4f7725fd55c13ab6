//! Compressed posting lists: ascending `u32` page ids in blocks of 128, each block's gaps
//! bit-packed at the block's own width, with a skip table so that a reader starts at any id
//! in O(log n) without decoding what comes before (a `blcontinue` cursor deep into a
//! million-row target). Format `inlink-postings 1`, specified in `docs/format.md`; the
//! building block of the compressed reverse index (the scale issue).
//!
//! ```text
//! list   := varint(count) (short | long)
//! short  := varint(first id) block                          when count <= 128
//! long   := skip[blocks] block[blocks]                      blocks = ceil(count / 128)
//! skip   := u32le(first id of the block) u32le(byte offset of the block from the first block)
//! block  := u8(width) packed((n-1) gaps - 1, width bits each, LSB first)   n = ids in block
//!         | u8(0x80 | k) rice((n-1) gaps - 1, parameter k)                 when smaller
//! rice   := per value v: (v >> k) one bits, a zero bit, then the k low bits of v, LSB first
//! ```
//! A block's first id is in the skip table (or, for a short list, before its only block);
//! gaps are at least 1 (ids are distinct), stored minus 1, so a run of consecutive ids costs
//! 0 bits each. Most targets have few links: a short list has no skip table.

/// Ids per block.
pub const BLOCK: usize = 128;

/// Bytes that are not a well-formed posting list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// LEB128, as every varint of the store's formats.
pub(crate) fn put_varint(out: &mut Vec<u8>, v: u64) {
    put_varint128(out, u128::from(v));
}

/// LEB128 of a 128-bit value (the external sort's key differences).
pub(crate) fn put_varint128(out: &mut Vec<u8>, mut v: u128) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[inline]
pub(crate) fn get_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, Malformed> {
    // Most varints here (lengths, small gaps) are one byte.
    if let Some(&b) = bytes.get(*pos) {
        if b < 0x80 {
            *pos += 1;
            return Ok(u64::from(b));
        }
    }
    get_long_varint(bytes, pos)
}

fn get_long_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, Malformed> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos).ok_or(Malformed("truncated varint"))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(Malformed("varint too long"))
}

/// Encodes ascending, distinct ids. Panics in debug builds if they are not.
pub fn encode(ids: &[u32]) -> Vec<u8> {
    debug_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending, distinct");
    let blocks = ids.len().div_ceil(BLOCK);
    let mut out = Vec::with_capacity(16 + blocks * 8 + ids.len() * 2);
    put_varint(&mut out, ids.len() as u64);
    if ids.is_empty() {
        return out;
    }
    if blocks == 1 {
        put_varint(&mut out, u64::from(ids[0]));
        pack_block(ids, &mut out);
        return out;
    }
    let skip_at = out.len();
    out.resize(skip_at + blocks * 8, 0);
    let body_at = out.len();
    for (b, chunk) in ids.chunks(BLOCK).enumerate() {
        let offset = (out.len() - body_at) as u32;
        let s = skip_at + b * 8;
        out[s..s + 4].copy_from_slice(&chunk[0].to_le_bytes());
        out[s + 4..s + 8].copy_from_slice(&offset.to_le_bytes());
        pack_block(chunk, &mut out);
    }
    out
}

/// Marks a Rice-coded block in the header byte.
const RICE: u8 = 0x80;

/// Appends bits LSB first.
struct BitWriter<'o> {
    out: &'o mut Vec<u8>,
    acc: u64,
    bits: u32,
}

impl BitWriter<'_> {
    fn put(&mut self, value: u64, width: u32) {
        // Callers keep `width` ≤ 32, so the accumulator never overflows.
        self.acc |= value << self.bits;
        self.bits += width;
        while self.bits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.bits -= 8;
        }
    }

    fn finish(self) {
        if self.bits > 0 {
            self.out.push(self.acc as u8);
        }
    }
}

/// A block's header byte and coded gaps (its first id is stored elsewhere): bit-packed at the
/// widest gap's width, or Rice-coded when that is smaller (gaps of random-looking lists are
/// about geometric, where Rice codes come within a bit of the entropy).
fn pack_block(chunk: &[u32], out: &mut Vec<u8>) {
    let gaps: Vec<u32> = chunk.windows(2).map(|w| w[1] - w[0] - 1).collect();
    let max_gap = gaps.iter().copied().max().unwrap_or(0);
    let width = 32 - max_gap.leading_zeros();
    let packed_bits = u64::from(width) * gaps.len() as u64;
    let rice_bits = |k: u32| -> u64 {
        gaps.iter()
            .map(|&g| u64::from(g >> k) + 1 + u64::from(k))
            .sum()
    };
    let mean = gaps.iter().map(|&g| u64::from(g)).sum::<u64>() / gaps.len().max(1) as u64;
    let k0 = 63 - (mean.max(1)).leading_zeros();
    // Unary runs are capped (q < 64) so a decoder never reads unbounded ones.
    let best = [k0.saturating_sub(1), k0, k0 + 1, k0 + 2]
        .into_iter()
        .filter(|&k| k <= 31 && max_gap >> k < 64)
        .map(|k| (rice_bits(k), k))
        .min();
    let mut w = BitWriter {
        out,
        acc: 0,
        bits: 0,
    };
    match best {
        Some((bits, k)) if bits < packed_bits => {
            w.out.push(RICE | k as u8);
            for &g in &gaps {
                let q = g >> k;
                // q ones (q < 64), then a zero.
                let mut ones = q;
                while ones > 0 {
                    let m = ones.min(32);
                    w.put((1u64 << m) - 1, m);
                    ones -= m;
                }
                w.put(0, 1);
                w.put(u64::from(g) & ((1u64 << k) - 1), k);
            }
        }
        _ => {
            w.out.push(width as u8);
            for &g in &gaps {
                w.put(u64::from(g), width);
            }
        }
    }
    w.finish();
}

/// Reads bits LSB first.
struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    acc: u64,
    bits: u32,
}

impl BitReader<'_> {
    /// A unary count: the ones before the next zero (which is consumed too), read a word
    /// at a time rather than a bit at a time; 64 ones or more are malformed.
    fn unary(&mut self) -> Result<u32, Malformed> {
        let mut q = 0u32;
        loop {
            if self.bits == 0 {
                let byte = *self
                    .bytes
                    .get(self.pos)
                    .ok_or(Malformed("block cut short"))?;
                self.acc = u64::from(byte);
                self.bits = 8;
                self.pos += 1;
            }
            // Bits above `bits` are zero, so this never counts past them.
            let ones = self.acc.trailing_ones();
            if q + ones >= 64 {
                return Err(Malformed("unary run too long"));
            }
            if ones < self.bits {
                self.acc >>= ones + 1;
                self.bits -= ones + 1;
                return Ok(q + ones);
            }
            q += ones;
            self.acc = 0;
            self.bits = 0;
        }
    }

    /// The next `width` (≤ 32) bits.
    fn get(&mut self, width: u32) -> Result<u64, Malformed> {
        while self.bits < width {
            let byte = *self
                .bytes
                .get(self.pos)
                .ok_or(Malformed("block cut short"))?;
            self.acc |= u64::from(byte) << self.bits;
            self.bits += 8;
            self.pos += 1;
        }
        let v = if width == 0 {
            0
        } else {
            self.acc & (u64::MAX >> (64 - width))
        };
        self.acc = if width == 64 { 0 } else { self.acc >> width };
        self.bits -= width;
        Ok(v)
    }
}

/// A posting list read in place.
#[derive(Debug, Clone, Copy)]
pub struct Postings<'a> {
    bytes: &'a [u8],
    count: usize,
    blocks: usize,
    skip_at: usize,
    body_at: usize,
    /// A short list's first id (it has no skip table).
    short_first: Option<u32>,
}

impl<'a> Postings<'a> {
    /// Checks the header and the skip table (not every block: those are checked as read).
    pub fn new(bytes: &'a [u8]) -> Result<Self, Malformed> {
        let mut pos = 0;
        let count = get_varint(bytes, &mut pos)?;
        let count = usize::try_from(count)
            .ok()
            .filter(|&c| c <= bytes.len().saturating_mul(BLOCK))
            .ok_or(Malformed("count larger than the bytes can hold"))?;
        let blocks = count.div_ceil(BLOCK);
        if blocks == 1 {
            let first = get_varint(bytes, &mut pos)?;
            let first = u32::try_from(first).map_err(|_| Malformed("id past u32"))?;
            if pos >= bytes.len() {
                return Err(Malformed("block past the end"));
            }
            return Ok(Postings {
                bytes,
                count,
                blocks,
                skip_at: pos,
                body_at: pos,
                short_first: Some(first),
            });
        }
        let skip_at = pos;
        let body_at = blocks
            .checked_mul(8)
            .and_then(|n| n.checked_add(skip_at))
            .filter(|&end| end <= bytes.len())
            .ok_or(Malformed("skip table past the end"))?;
        let p = Postings {
            bytes,
            count,
            blocks,
            skip_at,
            body_at,
            short_first: None,
        };
        for b in 0..blocks {
            let (first, offset) = p.skip(b);
            if body_at + offset as usize >= bytes.len() {
                return Err(Malformed("block offset past the end"));
            }
            if b > 0 && p.skip(b - 1).0 >= first {
                return Err(Malformed("blocks out of order"));
            }
        }
        Ok(p)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    /// The list's encoded size.
    pub fn bytes_len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn skip(&self, b: usize) -> (u32, u32) {
        if let Some(first) = self.short_first {
            return (first, 0);
        }
        let s = self.skip_at + b * 8;
        let word = |i: usize| u32::from_le_bytes(self.bytes[i..i + 4].try_into().expect("4 bytes"));
        (word(s), word(s + 4))
    }

    /// The ids of block `b`.
    pub fn block(&self, b: usize, out: &mut Vec<u32>) -> Result<(), Malformed> {
        out.clear();
        let (first, offset) = self.skip(b);
        let n = if b + 1 == self.blocks {
            self.count - b * BLOCK
        } else {
            BLOCK
        };
        let mut pos = self.body_at + offset as usize;
        let header = *self.bytes.get(pos).ok_or(Malformed("block past the end"))?;
        pos += 1;
        let mut r = BitReader {
            bytes: self.bytes,
            pos,
            acc: 0,
            bits: 0,
        };
        out.push(first);
        let mut cur = first;
        let rice = header & RICE != 0;
        let width = u32::from(header & !RICE);
        if width > 32 || (rice && width > 31) {
            return Err(Malformed("gap width over 32 bits"));
        }
        for _ in 1..n {
            let gap = if rice {
                let q = r.unary()?;
                let low = r.get(width)?;
                u32::try_from((u64::from(q) << width) | low)
                    .map_err(|_| Malformed("gap past u32"))?
            } else {
                r.get(width)? as u32
            };
            cur = cur
                .checked_add(gap)
                .and_then(|c| c.checked_add(1))
                .ok_or(Malformed("ids overflow"))?;
            out.push(cur);
        }
        // Damaged gaps could run past the next block's first id (found by the `postings`
        // fuzz target): ids must ascend across blocks too, or merges go wrong silently.
        if b + 1 < self.blocks && cur >= self.skip(b + 1).0 {
            return Err(Malformed("block runs into the next"));
        }
        Ok(())
    }

    /// The index of the first block that may hold an id ≥ `start`: a binary search of the
    /// skip table.
    pub fn seek_block(&self, start: u32) -> usize {
        let (mut lo, mut hi) = (0, self.blocks);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.skip(mid).0 <= start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.saturating_sub(1)
    }

    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// Up to `limit` ids ≥ `start`, decoding only the blocks they lie in.
    pub fn from(&self, start: u32, limit: usize) -> Result<Vec<u32>, Malformed> {
        let mut out = Vec::new();
        let mut buf = Vec::with_capacity(BLOCK);
        let mut b = self.seek_block(start);
        while b < self.blocks && out.len() < limit {
            self.block(b, &mut buf)?;
            out.extend(
                buf.iter()
                    .copied()
                    .filter(|&id| id >= start)
                    .take(limit - out.len()),
            );
            b += 1;
        }
        Ok(out)
    }

    /// Every id.
    pub fn all(&self) -> Result<Vec<u32>, Malformed> {
        self.from(0, usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted(v: Vec<u32>) -> Vec<u32> {
        let mut v = v;
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn small_cases() {
        for ids in [
            vec![],
            vec![0],
            vec![u32::MAX],
            vec![1, 2, 3],
            vec![0, u32::MAX],
        ] {
            let bytes = encode(&ids);
            assert_eq!(Postings::new(&bytes).unwrap().all().unwrap(), ids);
        }
        // Consecutive ids cost no bits past the block header.
        let run: Vec<u32> = (1000..1000 + BLOCK as u32 * 8).collect();
        let bytes = encode(&run);
        assert!(bytes.len() < 8 * (8 + 1) + 8, "{} bytes", bytes.len());
        // A short list: count, first id, width, gaps.
        assert_eq!(encode(&[5, 9]), [2, 5, 2, 3]);
        // Mostly consecutive ids with a few long jumps: Rice-coded, long unary runs.
        let mut ids: Vec<u32> = (0..120).collect();
        ids.extend([170, 171, 240, 241, 242, 300, 301, 302]);
        let bytes = encode(&ids);
        // count (2 bytes), first id, then the header.
        assert_eq!(bytes[3] & RICE, RICE, "{bytes:?}");
        assert_eq!(Postings::new(&bytes).unwrap().all().unwrap(), ids);
    }

    #[test]
    fn deep_starts_read_one_block() {
        let ids: Vec<u32> = (0..1_000_000).map(|i| i * 3 + 7).collect();
        let bytes = encode(&ids);
        let p = Postings::new(&bytes).unwrap();
        assert_eq!(
            p.from(1_500_000, 3).unwrap(),
            [1_500_001, 1_500_004, 1_500_007]
        );
        let bits = bytes.len() as f64 * 8.0 / ids.len() as f64;
        // 2 bits per gap, plus 8 skip bytes and a width byte per 128 ids.
        assert!(bits < 2.6, "{bits} bits per id for gaps of 3");
    }

    proptest! {
        #[test]
        fn round_trip_and_starts(ids in proptest::collection::vec(any::<u32>(), 0..2000).prop_map(sorted),
                                 start in any::<u32>(), limit in 0usize..300) {
            let bytes = encode(&ids);
            let p = Postings::new(&bytes).unwrap();
            prop_assert_eq!(p.len(), ids.len());
            prop_assert_eq!(p.all().unwrap(), ids.clone());
            let want: Vec<u32> = ids.iter().copied().filter(|&i| i >= start).take(limit).collect();
            prop_assert_eq!(p.from(start, limit).unwrap(), want);
        }

        #[test]
        fn dense_lists(base in any::<u32>(), n in 0usize..3000, step in 1u32..64) {
            let ids: Vec<u32> = (0..n as u64)
                .map(|i| base as u64 + i * step as u64)
                .take_while(|&v| v <= u32::MAX as u64)
                .map(|v| v as u32)
                .collect();
            let p_bytes = encode(&ids);
            prop_assert_eq!(Postings::new(&p_bytes).unwrap().all().unwrap(), ids);
        }

        #[test]
        fn skewed_gaps(gaps in proptest::collection::vec((0u32..8, 0u32..2000, 0u8..10), 0..1500)) {
            // Mostly small gaps, sometimes a long one: Rice blocks with long unary runs.
            let mut ids = Vec::new();
            let mut cur = 0u32;
            for (small, big, pick) in gaps {
                cur = cur.saturating_add(1 + if pick == 0 { big } else { small });
                if ids.last() != Some(&cur) {
                    ids.push(cur);
                }
            }
            let bytes = encode(&ids);
            prop_assert_eq!(Postings::new(&bytes).unwrap().all().unwrap(), ids);
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = Postings::new(&bytes) {
                let _ = p.all();
                let _ = p.from(12345, 10);
            }
        }

        #[test]
        fn flipped_bytes_never_panic(ids in proptest::collection::vec(any::<u32>(), 1..600).prop_map(sorted),
                                     at in any::<usize>(), flip in 1u8..=255) {
            let mut bytes = encode(&ids);
            let i = at % bytes.len();
            bytes[i] ^= flip;
            if let Ok(p) = Postings::new(&bytes) {
                let _ = p.all();
            }
        }
    }
}
