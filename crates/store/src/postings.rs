//! Compressed posting lists: ascending `u32` page ids in blocks of 128, each block's gaps
//! bit-packed at the block's own width, Rice-coded or in binary interpolative coding, with
//! a skip table so that a reader starts at any id in O(log n) without decoding what comes
//! before (a `blcontinue` cursor deep into a million-row target). Format
//! `inlink-postings 2`, specified in `docs/format.md`; the building block of the compressed
//! reverse index (the scale issue).
//!
//! ```text
//! list   := varint(count) (short | long)
//! short  := varint(first id) block                          when count <= 128
//!         | span(every id + 1; 0, universe + 1)             the same, in a known universe
//! long   := skip[blocks] block[blocks]                      blocks = ceil(count / 128)
//! skip   := u32le(first id of the block) u32le(byte offset of the block from the first block)
//! block  := u8(width) packed((n-1) gaps - 1, width bits each, LSB first)   n = ids in block
//!         | u8(0x80 | k) rice((n-1) gaps - 1, parameter k)                 when smaller
//!         | u8(0x40) gamma(last - first - (n-1)) span(ids between; first, last)   or that
//! rice   := per value v: (v >> k) one bits, a zero bit, then the k low bits of v, LSB first
//! span   := the middle id in truncated binary within what its bounds leave, then each half
//! ```
//! A block's first id is in the skip table (or, for a short list, before its only block);
//! gaps are at least 1 (ids are distinct), stored minus 1, so a run of consecutive ids costs
//! 0 bits each. Most targets have few links: a short list has no skip table, and in a
//! universe (the reverse lists of a segment) no first id or header either.

/// Ids per block.
pub const BLOCK: usize = 128;

/// Bytes that are not a well-formed posting list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// LEB128, as every varint of the store's formats.
pub(crate) fn put_varint(out: &mut Vec<u8>, v: u64) {
    put_varint128(out, u128::from(v));
}

/// Appends `values`, each in `width` bits (at most 64), LSB first, the last byte padded.
pub(crate) fn put_packed(out: &mut Vec<u8>, values: impl IntoIterator<Item = u64>, width: u32) {
    let (mut acc, mut bits) = (0u128, 0u32);
    for v in values {
        acc |= u128::from(v) << bits;
        bits += width;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
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
    encode_with(ids, None)
}

/// Encodes ascending, distinct ids all below `universe` (at most 2³²), for a reader that
/// knows it ([`Postings::new_in`]): a short list is then one interpolative code of every
/// id, the first among them, with no varint and no header byte.
pub fn encode_in(ids: &[u32], universe: u64) -> Vec<u8> {
    debug_assert!(ids.last().is_none_or(|&l| u64::from(l) < universe));
    encode_with(ids, Some(universe))
}

/// [`encode_in`] when given a universe, [`encode`] otherwise.
pub fn encode_with(ids: &[u32], universe: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + ids.len().div_ceil(BLOCK) * 8 + ids.len() * 2);
    encode_into(&mut out, ids, universe);
    out
}

/// [`encode_with`], appended to `out`: the segment build codes a list per target and per
/// page, and an allocation each showed in its profile.
pub fn encode_into(out: &mut Vec<u8>, ids: &[u32], universe: Option<u64>) {
    debug_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending, distinct");
    let blocks = ids.len().div_ceil(BLOCK);
    put_varint(out, ids.len() as u64);
    if ids.is_empty() {
        return;
    }
    if blocks == 1 {
        match universe {
            Some(u) => {
                let mut w = BitWriter {
                    out,
                    acc: 0,
                    bits: 0,
                };
                put_span(&mut w, ids, 1, 0, u + 1);
                w.finish();
            }
            None => {
                put_varint(out, u64::from(ids[0]));
                pack_block(ids, out);
            }
        }
        return;
    }
    let skip_at = out.len();
    out.resize(skip_at + blocks * 8, 0);
    let body_at = out.len();
    for (b, chunk) in ids.chunks(BLOCK).enumerate() {
        let offset = (out.len() - body_at) as u32;
        let s = skip_at + b * 8;
        out[s..s + 4].copy_from_slice(&chunk[0].to_le_bytes());
        out[s + 4..s + 8].copy_from_slice(&offset.to_le_bytes());
        pack_block(chunk, out);
    }
}

/// Marks a Rice-coded block in the header byte.
const RICE: u8 = 0x80;
/// The header byte of a block in binary interpolative coding.
const INTERPOLATIVE: u8 = 0x40;

/// Appends bits LSB first.
struct BitWriter<'o> {
    out: &'o mut Vec<u8>,
    acc: u64,
    bits: u32,
}

impl BitWriter<'_> {
    fn put(&mut self, value: u64, width: u32) {
        // Callers keep `width` ≤ 32 and fewer than 32 bits are held, so the accumulator
        // never overflows; four bytes go out at once rather than a push a byte (the
        // bit writer was most of coding a list).
        self.acc |= value << self.bits;
        self.bits += width;
        if self.bits >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.bits -= 32;
        }
    }

    fn finish(self) {
        let bytes = self.bits.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
    }
}

/// A block's header byte and coded gaps (its first id is stored elsewhere): bit-packed at the
/// widest gap's width, or Rice-coded when that is smaller (gaps of random-looking lists are
/// about geometric, where Rice codes come within a bit of the entropy).
fn pack_block(chunk: &[u32], out: &mut Vec<u8>) {
    let mut room = [0u32; BLOCK];
    let gaps = &mut room[..chunk.len().saturating_sub(1)];
    for (g, w) in gaps.iter_mut().zip(chunk.windows(2)) {
        *g = w[1] - w[0] - 1;
    }
    let gaps = &*gaps;
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
    let interpolative_bits = interpolative_bits(chunk);
    let mut w = BitWriter {
        out,
        acc: 0,
        bits: 0,
    };
    match best {
        Some((bits, k)) if bits < packed_bits && bits <= interpolative_bits => {
            w.out.push(RICE | k as u8);
            for &g in gaps {
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
        _ if interpolative_bits < packed_bits => {
            w.out.push(INTERPOLATIVE);
            put_interpolative(&mut w, chunk);
        }
        _ => {
            w.out.push(width as u8);
            for &g in gaps {
                w.put(u64::from(g), width);
            }
        }
    }
    w.finish();
}

/// A block in binary interpolative coding (Moffat and Stuiver): the last id's distance from
/// the first as an Elias gamma code, then the ids between, each the middle one of its
/// span coded in the few bits its bounds leave. Pages of one topic made together link
/// the same targets, so reverse lists have dense clusters among long jumps: no single
/// Rice parameter fits both, and a run of consecutive ids costs nothing here.
fn put_interpolative(w: &mut BitWriter, chunk: &[u32]) {
    let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
    if chunk.len() < 2 {
        return;
    }
    put_gamma(w, u64::from(last - first) - (chunk.len() as u64 - 1));
    put_span(w, &chunk[1..chunk.len() - 1], 0, first.into(), last.into());
}

fn interpolative_bits(chunk: &[u32]) -> u64 {
    if chunk.len() < 2 {
        return 0;
    }
    let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
    gamma_bits(u64::from(last - first) - (chunk.len() as u64 - 1))
        + span_bits(&chunk[1..chunk.len() - 1], first.into(), last.into())
}

/// `v + 1` in Elias gamma: its bit length less one in unary (ones, then a zero), then its
/// bits below the top one.
fn put_gamma(w: &mut BitWriter, v: u64) {
    let x = v + 1;
    let z = 63 - x.leading_zeros();
    w.put((1u64 << z) - 1, z);
    w.put(0, 1);
    w.put(x & ((1u64 << z) - 1), z);
}

fn gamma_bits(v: u64) -> u64 {
    2 * u64::from(63 - (v + 1).leading_zeros()) + 1
}

/// Ids strictly between `lo` and `hi` once `shift` is added to each (a span that holds id
/// 0 starts below it): the middle one, then each half.
fn put_span(w: &mut BitWriter, ids: &[u32], shift: u64, lo: u64, hi: u64) {
    if ids.is_empty() {
        return;
    }
    let mid = ids.len() / 2;
    let x = u64::from(ids[mid]) + shift;
    put_bounded(w, x - (lo + 1 + mid as u64), hi - lo - ids.len() as u64);
    put_span(w, &ids[..mid], shift, lo, x);
    put_span(w, &ids[mid + 1..], shift, x, hi);
}

fn span_bits(ids: &[u32], lo: u64, hi: u64) -> u64 {
    if ids.is_empty() {
        return 0;
    }
    let mid = ids.len() / 2;
    let least = lo + 1 + mid as u64;
    bounded_bits(u64::from(ids[mid]) - least, hi - lo - ids.len() as u64)
        + span_bits(&ids[..mid], lo, ids[mid].into())
        + span_bits(&ids[mid + 1..], ids[mid].into(), hi)
}

/// The widths of a truncated binary code of `0..range`: `b`, and the count `u` of values
/// that take one bit less.
fn truncated(range: u64) -> (u32, u64) {
    let b = 64 - (range - 1).leading_zeros();
    (b, (1u64 << b) - range)
}

/// `v` in `0..range` in truncated binary (nothing when `range` is 1). The short codes come
/// first, so a reader takes `b - 1` bits and one more only if they are not below `u`.
#[inline]
fn put_bounded(w: &mut BitWriter, v: u64, range: u64) {
    if range <= 1 {
        return;
    }
    let (b, u) = truncated(range);
    if v < u {
        w.put(v, b - 1);
    } else if b <= 32 {
        // The b - 1 bits above the last, then the last, in one write.
        let x = v + u;
        w.put((x >> 1) | ((x & 1) << (b - 1)), b);
    } else {
        let x = v + u;
        w.put(x >> 1, b - 1);
        w.put(x & 1, 1);
    }
}

fn bounded_bits(v: u64, range: u64) -> u64 {
    if range <= 1 {
        return 0;
    }
    let (b, u) = truncated(range);
    u64::from(b) - u64::from(v < u)
}

/// Reads bits LSB first.
struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    acc: u64,
    bits: u32,
}

impl<'a> BitReader<'a> {
    /// Reads `bytes` from byte `pos` on.
    fn at(bytes: &'a [u8], pos: usize) -> Self {
        BitReader {
            bytes,
            pos,
            acc: 0,
            bits: 0,
        }
    }

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

    /// An Elias gamma code, less one (see `put_gamma`).
    fn gamma(&mut self) -> Result<u64, Malformed> {
        let z = self.unary()?;
        if z > 32 {
            return Err(Malformed("gamma code past 33 bits"));
        }
        Ok(((1u64 << z) | self.get(z)?) - 1)
    }

    /// A value of `0..range` in truncated binary (see `put_bounded`).
    fn bounded(&mut self, range: u64) -> Result<u64, Malformed> {
        if range <= 1 {
            return Ok(0);
        }
        let (b, u) = truncated(range);
        let x = self.get(b - 1)?;
        if x < u {
            return Ok(x);
        }
        Ok(((x << 1) | self.get(1)?) - u)
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

/// The ids of a span (see `put_span`: its middle id, then each half) in order, into `out`
/// until `stop` says enough: the bits of the ids after the stop are left unread.
/// `Ok(false)`: stopped.
fn get_span_upto(
    r: &mut BitReader,
    m: usize,
    shift: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<u32>,
    stop: &mut impl FnMut(u32) -> bool,
) -> Result<bool, Malformed> {
    if m == 0 {
        return Ok(true);
    }
    let mid = m / 2;
    // The span's bounds leave room for its ids unless the bytes are bad (a gamma-coded
    // last id too small, a count past the universe).
    let range = (hi - lo)
        .checked_sub(m as u64)
        .filter(|&r| r >= 1)
        .ok_or(Malformed("ids overflow their span"))?;
    let x = lo + 1 + mid as u64 + r.bounded(range)?;
    let id = u32::try_from(x - shift).map_err(|_| Malformed("id past u32"))?;
    if !get_span_upto(r, mid, shift, lo, x, out, stop)? {
        return Ok(false);
    }
    out.push(id);
    if stop(id) {
        return Ok(false);
    }
    get_span_upto(r, m - mid - 1, shift, x, hi, out, stop)
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
    /// The universe of a list written by `encode_in`.
    universe: Option<u64>,
}

impl<'a> Postings<'a> {
    /// Checks the header and the skip table (not every block: those are checked as read).
    pub fn new(bytes: &'a [u8]) -> Result<Self, Malformed> {
        Self::parse(bytes, None)
    }

    /// A list written by [`encode_in`] with this `universe`.
    pub fn new_in(bytes: &'a [u8], universe: u64) -> Result<Self, Malformed> {
        Self::parse(bytes, Some(universe))
    }

    pub(crate) fn parse(bytes: &'a [u8], universe: Option<u64>) -> Result<Self, Malformed> {
        let mut pos = 0;
        let count = get_varint(bytes, &mut pos)?;
        let count = usize::try_from(count)
            .ok()
            .filter(|&c| c <= bytes.len().saturating_mul(BLOCK))
            .ok_or(Malformed("count larger than the bytes can hold"))?;
        let blocks = count.div_ceil(BLOCK);
        if blocks == 1 {
            let short_first = match universe {
                Some(u) if count as u64 > u => {
                    return Err(Malformed("more ids than the universe holds"))
                }
                // No first id; dense enough, the body may even be empty.
                Some(_) => None,
                None => {
                    let first = get_varint(bytes, &mut pos)?;
                    if pos >= bytes.len() {
                        return Err(Malformed("block past the end"));
                    }
                    Some(u32::try_from(first).map_err(|_| Malformed("id past u32"))?)
                }
            };
            return Ok(Postings {
                bytes,
                count,
                blocks,
                skip_at: pos,
                body_at: pos,
                short_first,
                universe,
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
            universe,
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
        self.block_upto(b, 0, usize::MAX, out).map(|_| ())
    }

    /// The ids of block `b` in order, up to and including the `want`-th one at or after
    /// `start` (all of them when the block holds fewer): a short page of a long list
    /// decodes a few ids, not the block. `Ok(true)`: the block was read whole.
    pub fn block_upto(
        &self,
        b: usize,
        start: u32,
        want: usize,
        out: &mut Vec<u32>,
    ) -> Result<bool, Malformed> {
        out.clear();
        // An empty list has no block 0 (found by the proptest below with `[0]`).
        if b >= self.blocks {
            return Err(Malformed("no such block"));
        }
        let mut found = 0;
        // Damaged gaps could run past the next block's first id (found by the `postings`
        // fuzz target): ids must ascend across blocks too, or merges go wrong silently.
        let end = if b + 1 < self.blocks {
            self.skip(b + 1).0
        } else {
            u32::MAX
        };
        let mut stop = |id: u32| {
            found += usize::from(id >= start);
            found >= want
        };
        if let (1, Some(u)) = (self.blocks, self.universe) {
            let mut r = BitReader::at(self.bytes, self.body_at);
            // A stop at the list's last id leaves nothing unread.
            let complete = get_span_upto(&mut r, self.count, 1, 0, u + 1, out, &mut stop)?;
            return Ok(complete || out.len() == self.count);
        }
        let (first, offset) = self.skip(b);
        let n = if b + 1 == self.blocks {
            self.count - b * BLOCK
        } else {
            BLOCK
        };
        let mut pos = self.body_at + offset as usize;
        let header = *self.bytes.get(pos).ok_or(Malformed("block past the end"))?;
        pos += 1;
        let mut r = BitReader::at(self.bytes, pos);
        out.push(first);
        if stop(first) {
            return Ok(n == 1);
        }
        if header == INTERPOLATIVE {
            if n < 2 {
                return Ok(true);
            }
            let last = u64::from(first) + r.gamma()? + (n as u64 - 1);
            let last = u32::try_from(last).map_err(|_| Malformed("ids overflow"))?;
            if b + 1 < self.blocks && last >= end {
                return Err(Malformed("block runs into the next"));
            }
            if !get_span_upto(&mut r, n - 2, 0, first.into(), last.into(), out, &mut stop)? {
                return Ok(false);
            }
            out.push(last);
            return Ok(true);
        }
        let mut cur = first;
        let rice = header & RICE != 0;
        let width = u32::from(header & !RICE);
        if width > 32 || (rice && width > 31) {
            return Err(Malformed("gap width over 32 bits"));
        }
        for k in 1..n {
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
            if cur >= end && b + 1 < self.blocks {
                return Err(Malformed("block runs into the next"));
            }
            out.push(cur);
            if stop(cur) {
                return Ok(k + 1 == n);
            }
        }
        Ok(true)
    }

    /// The index of the first block that may hold an id ≥ `start`: a binary search of the
    /// skip table.
    pub fn seek_block(&self, start: u32) -> usize {
        if self.blocks <= 1 {
            // A short list in a universe has no first id outside its code.
            return 0;
        }
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

/// The windows of a centred list, innermost first: ids within this distance of the centre.
pub const CENTRED: [u64; 2] = [64, 1024];

/// A list's parts around a centre: part `p` < 2 holds the ids in window `p` that are not in
/// window `p - 1`, part 2 the rest of the universe, and each part numbers its ids densely
/// from 0, skipping the windows inside it.
struct Rings {
    /// Each window's first and last id, clipped to the universe.
    windows: [(u64, u64); 2],
    universe: u64,
}

impl Rings {
    fn new(universe: u64, centre: u32) -> Self {
        let c = u64::from(centre);
        let window = |w: u64| (c.saturating_sub(w), (c + w).min(universe - 1));
        Rings {
            windows: [window(CENTRED[0]), window(CENTRED[1])],
            universe,
        }
    }

    /// Part `p`'s bounds (first and last id) and the hole inside it.
    fn bounds(&self, p: usize) -> ((u64, u64), Option<(u64, u64)>) {
        match p {
            0 => (self.windows[0], None),
            1 => (self.windows[1], Some(self.windows[0])),
            _ => ((0, self.universe - 1), Some(self.windows[1])),
        }
    }

    /// How many ids part `p` numbers.
    fn len(&self, p: usize) -> u64 {
        let ((lo, hi), hole) = self.bounds(p);
        (hi - lo + 1) - hole.map_or(0, |(a, b)| b - a + 1)
    }

    /// The id at `position` of part `p`.
    fn id(&self, p: usize, position: u64) -> u64 {
        let ((lo, _), hole) = self.bounds(p);
        match hole {
            Some((a, b)) if lo + position >= a => lo + position + (b - a + 1),
            _ => lo + position,
        }
    }
}

/// Codes a short list (at most [`BLOCK`] ids, all below `universe`) around `centre`, an id
/// of the universe that the reader knows too: in a reverse list, the page of the target
/// itself. Pages made together link each other, so many linkers lie a few ids from it, and
/// a window around it codes them in the few bits of the window, not of the universe.
///
/// ```text
/// centred := varint(count) (bounded(n; left + 1) span(positions + 1; 0, len + 1)) per window
///            span(positions + 1; 0, len + 1) of the rest
/// ```
/// `left` is the count less the ids of the windows before; a part's `len` and positions
/// are those of `Rings`.
pub fn encode_centred_into(out: &mut Vec<u8>, ids: &[u32], universe: u64, centre: u32) {
    put_varint(out, ids.len() as u64);
    let mut w = BitWriter {
        out,
        acc: 0,
        bits: 0,
    };
    put_centred(&mut w, ids, universe, centre);
    w.finish();
}

/// The bits of a centred list after its count (see [`encode_centred_into`]).
fn put_centred(w: &mut BitWriter, ids: &[u32], universe: u64, centre: u32) {
    debug_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending, distinct");
    debug_assert!(ids.len() <= BLOCK && u64::from(centre) < universe);
    debug_assert!(ids.last().is_none_or(|&l| u64::from(l) < universe));
    let rings = Rings::new(universe, centre);
    // The parts are runs of the sorted ids: a window's ids lie together, those below it
    // and those above it on either side. Their positions go out a part at a time from a
    // buffer on the stack (a build codes a list so for nearly every target).
    let [(lo0, hi0), (lo1, hi1)] = rings.windows;
    let at = |bound: u64| ids.partition_point(|&id| u64::from(id) < bound);
    let (a, b, c, d) = (at(lo1), at(lo0), at(hi0 + 1), at(hi1 + 1));
    let (w0, w1) = (hi0 - lo0 + 1, hi1 - lo1 + 1);
    let mut positions = [0u32; BLOCK];
    let mut left = ids.len() as u64;
    for p in 0..3 {
        let mut n = 0;
        let mut put = |run: &[u32], less: u64| {
            for &id in run {
                positions[n] = (u64::from(id) - less) as u32;
                n += 1;
            }
        };
        match p {
            0 => put(&ids[b..c], lo0),
            1 => {
                put(&ids[a..b], lo1);
                put(&ids[c..d], lo1 + w0);
            }
            _ => {
                put(&ids[..a], 0);
                put(&ids[d..], w1);
            }
        }
        if p < 2 {
            put_bounded(w, n as u64, left + 1);
            left -= n as u64;
        }
        put_span(w, &positions[..n], 1, 0, rings.len(p) + 1);
    }
}

/// Whether any of `ids` (ascending) lies within the outer window of `centre`: if none
/// does, a centred code saves at most the bits that window takes from the universe,
/// nothing to code the list a second time for.
pub fn centring_may_pay(ids: &[u32], centre: u32) -> bool {
    let c = u64::from(centre);
    let at = ids.partition_point(|&id| u64::from(id) + CENTRED[1] < c);
    ids.get(at)
        .is_some_and(|&id| u64::from(id) <= c + CENTRED[1])
}

/// The ids of a list [`encode_centred_into`] coded, ascending, into `out`.
pub fn decode_centred(
    bytes: &[u8],
    universe: u64,
    centre: u32,
    out: &mut Vec<u32>,
) -> Result<(), Malformed> {
    out.clear();
    let mut pos = 0;
    let count = get_varint(bytes, &mut pos)?;
    if count > BLOCK as u64 {
        return Err(Malformed("centred list too long"));
    }
    let mut r = BitReader::at(bytes, pos);
    get_centred(&mut r, count, universe, centre, out)
}

/// The `count` ids of a centred list's bits (see `put_centred`), appended to `out`, which
/// is then sorted from where they begin.
fn get_centred(
    r: &mut BitReader,
    count: u64,
    universe: u64,
    centre: u32,
    out: &mut Vec<u32>,
) -> Result<(), Malformed> {
    if u64::from(centre) >= universe {
        return Err(Malformed("centre past the universe"));
    }
    let rings = Rings::new(universe, centre);
    let mut left = count;
    let start = out.len();
    out.reserve(count as usize);
    for p in 0..3 {
        let n = if p < 2 { r.bounded(left + 1)? } else { left };
        if n > left {
            return Err(Malformed("centred list's parts past its count"));
        }
        left -= n;
        let at = out.len();
        get_span_upto(r, n as usize, 1, 0, rings.len(p) + 1, out, &mut |_| false)?;
        for x in &mut out[at..] {
            // Positions are below the part's length: the span's bounds saw to it.
            *x = rings.id(p, u64::from(*x)) as u32;
        }
    }
    out[start..].sort_unstable();
    Ok(())
}

/// One class of a split list (see [`encode_split_into`]): its ids (ranks among the
/// class's pages), the class's size, and where the target's page falls among them when
/// the list is centred.
#[derive(Debug, Clone, Copy)]
pub struct Part<'i> {
    pub ids: &'i [u32],
    pub universe: u64,
    pub centre: Option<u32>,
}

/// Codes a short list (at most [`BLOCK`] ids in all) as two parts, each in the universe of
/// its own class of pages: in a reverse list, ranks among the pages with many link rows
/// and among the rest. A page with many links shows up in many lists, so coding those
/// few pages apart takes bits from every list they are in.
///
/// ```text
/// split := varint(count) bounded(n₀; count + 1) part₀ part₁     n₁ = count − n₀
/// part  := span(ids + 1; 0, universe + 1)                       plain
///        | the bits of a centred list after its count           when given a centre
/// ```
/// A part of no ids has no bits. Either both parts are centred or neither is.
pub fn encode_split_into(out: &mut Vec<u8>, parts: [Part; 2]) {
    let count = parts[0].ids.len() + parts[1].ids.len();
    debug_assert!(count <= BLOCK);
    put_varint(out, count as u64);
    let mut w = BitWriter {
        out,
        acc: 0,
        bits: 0,
    };
    put_bounded(&mut w, parts[0].ids.len() as u64, count as u64 + 1);
    for p in parts {
        if p.ids.is_empty() {
            continue;
        }
        match p.centre {
            Some(c) => put_centred(&mut w, p.ids, p.universe, c),
            None => put_span(&mut w, p.ids, 1, 0, p.universe + 1),
        }
    }
    w.finish();
}

/// The parts of a list [`encode_split_into`] coded, each ascending, into `outs`; `parts`
/// gives each class's universe and centre, its `ids` unused.
pub fn decode_split(
    bytes: &[u8],
    parts: [Part; 2],
    outs: [&mut Vec<u32>; 2],
) -> Result<(), Malformed> {
    let mut pos = 0;
    let count = get_varint(bytes, &mut pos)?;
    if count > BLOCK as u64 {
        return Err(Malformed("split list too long"));
    }
    let mut r = BitReader::at(bytes, pos);
    let first = r.bounded(count + 1)?;
    for (i, (p, out)) in parts.into_iter().zip(outs).enumerate() {
        out.clear();
        let n = if i == 0 { first } else { count - first };
        if n == 0 {
            continue;
        }
        if n > p.universe {
            return Err(Malformed("split list's part past its universe"));
        }
        match p.centre {
            Some(c) => get_centred(&mut r, n, p.universe, c, out)?,
            None => {
                get_span_upto(&mut r, n as usize, 1, 0, p.universe + 1, out, &mut |_| {
                    false
                })?;
            }
        }
    }
    Ok(())
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
        // Mostly consecutive ids with a few long jumps: interpolative, the runs free.
        let mut ids: Vec<u32> = (0..120).collect();
        ids.extend([170, 171, 240, 241, 242, 300, 301, 302]);
        let bytes = encode(&ids);
        // count (2 bytes), first id, then the header.
        assert_eq!(bytes[3], INTERPOLATIVE, "{bytes:?}");
        assert!(bytes.len() <= 16, "{bytes:?}");
        assert_eq!(Postings::new(&bytes).unwrap().all().unwrap(), ids);
        // In a universe, a full one costs nothing past its count, and one id its bits.
        let all: Vec<u32> = (0..100).collect();
        assert_eq!(encode_in(&all, 100), [100]);
        assert_eq!(encode_in(&[700], 1024), [1, 94, 1]);
        assert_eq!(
            Postings::new_in(&[1, 94, 1], 1024).unwrap().all().unwrap(),
            [700]
        );
        // Random-looking gaps: Rice.
        let mut x = 1u64;
        let ids = sorted(
            (0..128)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 40) as u32
                })
                .collect(),
        );
        // count (2 bytes), first id (3 bytes), then the header.
        assert_eq!(encode(&ids)[5] & RICE, RICE, "{:?}", encode(&ids));
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

    #[test]
    fn linkers_near_the_centre_cost_the_bits_of_the_windows() {
        let universe = 4_000_000;
        let centre = 2_345_678u32;
        // Nine linkers within a thousand ids of the centre, two far off: enwiki's short list.
        let mut ids = vec![17, 3_900_001];
        ids.extend(
            [-900i64, -300, -40, -7, -1, 2, 9, 60, 700].map(|d| (i64::from(centre) + d) as u32),
        );
        ids.sort_unstable();
        let mut centred = Vec::new();
        encode_centred_into(&mut centred, &ids, universe, centre);
        let plain = encode_in(&ids, universe);
        assert!(
            centred.len() * 4 < plain.len() * 3,
            "{} vs {} bytes",
            centred.len(),
            plain.len()
        );
        let mut out = Vec::new();
        decode_centred(&centred, universe, centre, &mut out).unwrap();
        assert_eq!(out, ids);
        // The windows are clipped to the universe at either end.
        for (universe, centre) in [(1u64, 0u32), (10, 0), (10, 9), (5000, 4999)] {
            let ids: Vec<u32> = (0..universe.min(128) as u32).collect();
            let mut b = Vec::new();
            encode_centred_into(&mut b, &ids, universe, centre);
            decode_centred(&b, universe, centre, &mut out).unwrap();
            assert_eq!(out, ids);
        }
        assert!(decode_centred(&centred, u64::from(centre), centre, &mut out).is_err());
        assert!(centring_may_pay(&ids, centre));
        assert!(centring_may_pay(&[centre + 1024], centre));
        assert!(centring_may_pay(&[centre - 1024], centre));
        assert!(!centring_may_pay(
            &[17, centre - 1025, centre + 1025, 3_900_001],
            centre
        ));
        assert!(!centring_may_pay(&[], centre));
        assert!(centring_may_pay(&[0], 3));
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

        /// Appending a list to bytes already there leaves them and adds what coding the
        /// list alone gives: the segment build codes its lists into buffers it reuses.
        #[test]
        fn coding_into_a_buffer_appends(ids in proptest::collection::vec(any::<u32>(), 0..400).prop_map(sorted),
                                        before in proptest::collection::vec(any::<u8>(), 0..20),
                                        in_universe in any::<bool>()) {
            let universe = in_universe.then(|| ids.last().map_or(1, |&l| u64::from(l) + 1));
            let mut out = before.clone();
            encode_into(&mut out, &ids, universe);
            prop_assert_eq!(&out[..before.len()], &before[..]);
            prop_assert_eq!(&out[before.len()..], &encode_with(&ids, universe)[..]);
        }

        #[test]
        fn round_trip_in_a_universe(ids in proptest::collection::vec(any::<u32>(), 0..400).prop_map(sorted),
                                    extra in 0u64..1000, start in any::<u32>(), limit in 0usize..300) {
            let universe = (ids.last().map_or(0, |&l| u64::from(l) + 1) + extra).min(1 << 32);
            let bytes = encode_in(&ids, universe);
            let p = Postings::new_in(&bytes, universe).unwrap();
            prop_assert_eq!(p.len(), ids.len());
            prop_assert_eq!(p.all().unwrap(), ids.clone());
            let want: Vec<u32> = ids.iter().copied().filter(|&i| i >= start).take(limit).collect();
            prop_assert_eq!(p.from(start, limit).unwrap(), want);
        }

        #[test]
        fn garbage_in_a_universe_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                                          universe in 0u64..=(1 << 32)) {
            if let Ok(p) = Postings::new_in(&bytes, universe) {
                let mut out = Vec::new();
                if p.block_upto(0, 0, 4, &mut out).is_ok() {
                    prop_assert!(out.windows(2).all(|w| w[0] < w[1]));
                }
                if let Ok(ids) = p.all() {
                    prop_assert!(ids.windows(2).all(|w| w[0] < w[1]));
                    prop_assert!(ids.len() > BLOCK || ids.iter().all(|&i| u64::from(i) < universe));
                }
            }
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

        /// A block read up to a wanted id is the start of the block read whole, and holds
        /// the wanted ids (or all of the block); every coding, in a universe or not.
        #[test]
        fn blocks_read_up_to_a_wanted_id(ids in prop_oneof![
                                             proptest::collection::vec(any::<u32>(), 1..700).prop_map(sorted),
                                             (any::<u32>(), 1usize..700, 1u32..40).prop_map(|(b, n, step)| {
                                                 (0..n as u64).map(|i| b as u64 + i * step as u64)
                                                     .take_while(|&v| v <= u32::MAX as u64).map(|v| v as u32).collect()
                                             }),
                                         ],
                                         in_universe in any::<bool>(), at in any::<usize>(),
                                         start in any::<u32>(), want in 1usize..200) {
            let universe = ids.last().map_or(0, |&l| u64::from(l) + 1);
            let bytes = if in_universe { encode_in(&ids, universe) } else { encode(&ids) };
            let p = if in_universe {
                Postings::new_in(&bytes, universe).unwrap()
            } else {
                Postings::new(&bytes).unwrap()
            };
            let b = at % p.blocks();
            // A start in the block or before it, most of the time.
            let start = if at % 3 == 0 { start } else { ids[(at / 3) % ids.len()] };
            let mut whole = Vec::new();
            p.block(b, &mut whole).unwrap();
            let mut part = Vec::new();
            let complete = p.block_upto(b, start, want, &mut part).unwrap();
            prop_assert!(whole.starts_with(&part));
            prop_assert_eq!(complete, part.len() == whole.len());
            let found = part.iter().filter(|&&id| id >= start).count();
            prop_assert!(complete || found == want);
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = Postings::new(&bytes) {
                let _ = p.all();
                let _ = p.from(12345, 10);
                let mut out = Vec::new();
                for b in 0..p.blocks() {
                    let _ = p.block_upto(b, 0, 3, &mut out);
                }
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
                let mut out = Vec::new();
                for b in 0..p.blocks() {
                    // Read up to a wanted id, a damaged block still ascends below the next.
                    if p.block_upto(b, 0, 5, &mut out).is_ok() {
                        prop_assert!(out.windows(2).all(|w| w[0] < w[1]));
                        if b + 1 < p.blocks() {
                            prop_assert!(out.iter().all(|&id| id < p.skip(b + 1).0));
                        }
                    }
                }
            }
        }
        #[test]
        fn centred_lists_round_trip(universe in 1u64..=(1 << 32), centre in any::<u64>(),
                                    near in proptest::collection::vec((any::<bool>(), 0u64..3000), 0..100),
                                    far in proptest::collection::vec(any::<u64>(), 0..28)) {
            let centre = centre % universe;
            let mut ids: Vec<u32> = near
                .iter()
                .map(|&(below, d)| if below { centre.saturating_sub(d) } else { (centre + d).min(universe - 1) })
                .chain(far.iter().map(|&x| x % universe))
                .map(|x| x as u32)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let mut bytes = Vec::new();
            encode_centred_into(&mut bytes, &ids, universe, centre as u32);
            let mut out = vec![7];
            decode_centred(&bytes, universe, centre as u32, &mut out).unwrap();
            prop_assert_eq!(out, ids);
        }

        #[test]
        fn split_lists_round_trip(universes in (0u64..=(1 << 32), 0u64..=(1 << 32)),
                                  raw in (proptest::collection::vec(any::<u64>(), 0..70),
                                          proptest::collection::vec(any::<u64>(), 0..58)),
                                  centres in proptest::option::of((any::<u64>(), any::<u64>()))) {
            let part = |raw: &[u64], u: u64| -> Vec<u32> {
                if u == 0 {
                    return Vec::new();
                }
                // Half the ids a few from the centre's neighbourhood, half anywhere.
                let mut v: Vec<u32> = raw.iter().enumerate()
                    .map(|(i, &x)| if i % 2 == 0 { (x % u.min(3000)) as u32 } else { (x % u) as u32 })
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            let ids = [part(&raw.0, universes.0), part(&raw.1, universes.1)];
            let centre = |c: u64, u: u64| (u > 0).then(|| (c % u) as u32);
            let cs = centres.map(|(a, b)| (centre(a, universes.0), centre(b, universes.1)));
            let parts = [
                Part { ids: &ids[0], universe: universes.0, centre: cs.and_then(|c| c.0) },
                Part { ids: &ids[1], universe: universes.1, centre: cs.and_then(|c| c.1) },
            ];
            // A part with no universe has no ids and no centre; with a centre, both have one.
            prop_assume!(cs.is_none() || (parts[0].centre.is_some() && parts[1].centre.is_some()));
            let mut bytes = Vec::new();
            encode_split_into(&mut bytes, parts);
            let (mut a, mut b) = (vec![9], vec![9]);
            decode_split(&bytes, parts, [&mut a, &mut b]).unwrap();
            prop_assert_eq!(&a, &ids[0]);
            prop_assert_eq!(&b, &ids[1]);
        }

        #[test]
        fn split_garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                                 universes in (0u64..=(1 << 32), 0u64..=(1 << 32)),
                                                 centres in proptest::option::of((any::<u32>(), any::<u32>()))) {
            let parts = [
                Part { ids: &[], universe: universes.0, centre: centres.map(|c| c.0) },
                Part { ids: &[], universe: universes.1, centre: centres.map(|c| c.1) },
            ];
            let (mut a, mut b) = (Vec::new(), Vec::new());
            if decode_split(&bytes, parts, [&mut a, &mut b]).is_ok() {
                prop_assert!(a.len() + b.len() <= BLOCK);
                for (out, u) in [(&a, universes.0), (&b, universes.1)] {
                    prop_assert!(out.windows(2).all(|w| w[0] < w[1]));
                    prop_assert!(out.iter().all(|&i| u64::from(i) < u));
                }
            }
        }

        #[test]
        fn centred_garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                                   universe in 1u64..=(1 << 32), centre in any::<u32>()) {
            let mut out = Vec::new();
            if decode_centred(&bytes, universe, centre, &mut out).is_ok() {
                prop_assert!(out.len() <= BLOCK);
                prop_assert!(out.windows(2).all(|w| w[0] < w[1]));
                prop_assert!(out.iter().all(|&i| u64::from(i) < universe));
            }
        }
    }
}
