//! A set of ids as a bit set with a rank directory, read in place from a mapped segment
//! (`docs/format.md`): whether an id is in it, how many ids below it are (rank), and which
//! id is the k-th (select). The title tables pair a target's id with its page's through
//! two of these: the k-th target id and the k-th page id name the same title. A segment's
//! heavy pages are one too (select among them, and among the ids not in it), and each
//! class of its namespace map is an [`EliasFano`] list whose upper bits are one.
//!
//! ```text
//! ranked := u64le bits  u64le ones  u64le word[ceil(bits / 64)]  u32le rank[ceil(bits / 512)]
//! ```
//!
//! Bit `i` is bit `i % 64` of word `i / 64`; bits from `bits` on are zero. `rank[j]` is the
//! number of ones in the words before word `8j`. Select searches `rank`, galloping out from
//! the entry at k's share of it, then counts ones through at most eight words.
//!
//! No crate reads such a set in place (those that do rank and select hold their own words
//! in memory, built when opened); reading the mapping keeps a segment's open free of work
//! and its pages file-backed.

use crate::postings::Malformed;

/// Bits a `rank` entry covers: eight words.
const SUPER: u64 = 512;

/// Builds a set; ids may come in any order.
#[derive(Default, Clone)]
pub struct RankedWriter {
    words: Vec<u64>,
    bits: u64,
}

impl RankedWriter {
    pub fn insert(&mut self, id: u32) {
        let w = (id / 64) as usize;
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (id % 64);
        self.bits = self.bits.max(u64::from(id) + 1);
    }

    /// Makes the set's ids those below `bits` (at least), so that the ids past its last
    /// one count as not in it.
    pub fn extend_to(&mut self, bits: u64) {
        debug_assert!(bits <= 1 << 32);
        if bits > self.bits {
            self.bits = bits;
            self.words.resize(bits.div_ceil(64) as usize, 0);
        }
    }

    /// The set's words so far: id `i` is bit `i % 64` of word `i / 64`.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub fn contains(&self, id: u32) -> bool {
        self.words
            .get((id / 64) as usize)
            .is_some_and(|w| w >> (id % 64) & 1 == 1)
    }

    /// The set's bytes, appended to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let ones: u64 = self.words.iter().map(|w| u64::from(w.count_ones())).sum();
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&ones.to_le_bytes());
        let words = self.bits.div_ceil(64) as usize;
        for w in &self.words[..words] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let mut before = 0u32;
        for chunk in self.words[..words].chunks((SUPER / 64) as usize) {
            out.extend_from_slice(&before.to_le_bytes());
            // Ids are u32: at most 2^32 − 512 ones lie before the last entry.
            before = before.wrapping_add(chunk.iter().map(|w| w.count_ones()).sum::<u32>());
        }
    }
}

/// A set within a byte slice (the slice is given to each call, so that the set can sit in
/// a mapping held elsewhere).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ranked {
    bits: u64,
    ones: u64,
    words: usize,
    rank: usize,
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

impl Ranked {
    /// Reads the header of a set at `at`, checking that it lies within `bytes`; returns the
    /// set and where its bytes end. Its words and directory are checked as read.
    pub fn parse(bytes: &[u8], at: usize) -> Result<(Ranked, usize), Malformed> {
        let header = at.checked_add(16).filter(|&e| e <= bytes.len());
        let Some(words) = header else {
            return Err(Malformed("rank set past the end"));
        };
        let (bits, ones) = (u64_at(bytes, at), u64_at(bytes, at + 8));
        if bits > 1 << 32 || ones > bits {
            return Err(Malformed("rank set bigger than its ids"));
        }
        let rank = words + (bits.div_ceil(64) * 8) as usize;
        let end = rank + (bits.div_ceil(SUPER) * 4) as usize;
        if end > bytes.len() {
            return Err(Malformed("rank set past the end"));
        }
        Ok((
            Ranked {
                bits,
                ones,
                words,
                rank,
            },
            end,
        ))
    }

    /// Ids in the set.
    pub fn len(&self) -> u64 {
        self.ones
    }

    fn word(&self, bytes: &[u8], w: u64) -> u64 {
        u64_at(bytes, self.words + w as usize * 8)
    }

    pub fn contains(&self, bytes: &[u8], id: u32) -> bool {
        let id = u64::from(id);
        id < self.bits && self.word(bytes, id / 64) >> (id % 64) & 1 == 1
    }

    /// Ids in the set below `id`.
    pub fn rank(&self, bytes: &[u8], id: u32) -> u64 {
        let id = u64::from(id).min(self.bits);
        let sb = id / SUPER;
        let mut r = if sb < self.bits.div_ceil(SUPER) {
            u64::from(u32_at(bytes, self.rank + sb as usize * 4))
        } else {
            self.ones
        };
        for w in sb * (SUPER / 64)..id / 64 {
            r += u64::from(self.word(bytes, w).count_ones());
        }
        if id % 64 != 0 {
            r += u64::from((self.word(bytes, id / 64) & ((1 << (id % 64)) - 1)).count_ones());
        }
        r
    }

    /// The id `n` ≥ 1 places after id `from` (which is in the set) among the set's ids.
    #[inline(always)]
    fn nth_one_after(&self, bytes: &[u8], from: u64, n: u64) -> Result<u64, Malformed> {
        let words = self.bits.div_ceil(64);
        let mut left = n;
        let mut w = (from + 1) / 64;
        let mut word = if w < words {
            self.word(bytes, w) & (u64::MAX << ((from + 1) % 64))
        } else {
            0
        };
        loop {
            let ones = u64::from(word.count_ones());
            if left <= ones {
                for _ in 1..left {
                    word &= word - 1;
                }
                return Ok(w * 64 + u64::from(word.trailing_zeros()));
            }
            left -= ones;
            w += 1;
            if w >= words {
                return Err(Malformed("rank past the ids"));
            }
            word = self.word(bytes, w);
        }
    }

    /// The least id of the set at or after `from`: a walk in order steps through the
    /// words, where `select` would search the directory for each.
    pub fn next_from(&self, bytes: &[u8], from: u64) -> Option<u32> {
        let words = self.bits.div_ceil(64);
        let mut w = from / 64;
        let mut word = if w < words {
            self.word(bytes, w) & (u64::MAX << (from % 64))
        } else {
            0
        };
        loop {
            if word != 0 {
                return Some((w * 64 + u64::from(word.trailing_zeros())) as u32);
            }
            w += 1;
            if w >= words {
                return None;
            }
            word = self.word(bytes, w);
        }
    }

    /// The `k`-th id of the set (from 0).
    pub fn select(&self, bytes: &[u8], k: u64) -> Result<Option<u32>, Malformed> {
        self.select_in(bytes, k, false)
    }

    /// The `k`-th id below the set's `bits` that is not in it (from 0).
    #[cfg(test)]
    pub fn select_zero(&self, bytes: &[u8], k: u64) -> Result<Option<u32>, Malformed> {
        self.select_in(bytes, k, true)
    }

    /// Ids below `bits` in all, in the set and not.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// Each of `ranks` turned into the id of that rank in the set, or not in it (`zeros`):
    /// the ids of a short list's ranks among a segment's heavy pages and the others.
    pub fn select_each(
        &self,
        bytes: &[u8],
        ranks: &mut [u32],
        zeros: bool,
    ) -> Result<(), Malformed> {
        // Compiled a second time with POPCNT, as `EliasFano::select_ascending`.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU was just found to have POPCNT.
            return unsafe { self.select_each_popcnt(bytes, ranks, zeros) };
        }
        self.select_each_in(bytes, ranks, zeros)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn select_each_popcnt(
        &self,
        bytes: &[u8],
        ranks: &mut [u32],
        zeros: bool,
    ) -> Result<(), Malformed> {
        self.select_each_in(bytes, ranks, zeros)
    }

    #[inline(always)]
    fn select_each_in(
        &self,
        bytes: &[u8],
        ranks: &mut [u32],
        zeros: bool,
    ) -> Result<(), Malformed> {
        for r in ranks {
            *r = self
                .select_in(bytes, u64::from(*r), zeros)?
                .ok_or(Malformed("rank past the set"))?;
        }
        Ok(())
    }

    /// The `k`-th id in the set, or not in it (`zeros`).
    #[inline(always)]
    fn select_in(&self, bytes: &[u8], k: u64, zeros: bool) -> Result<Option<u32>, Malformed> {
        let total = if zeros {
            self.bits - self.ones
        } else {
            self.ones
        };
        if k >= total {
            return Ok(None);
        }
        // The last directory entry at most `k`: its words hold the id. The sets' ids are
        // spread about evenly (pages, and targets in page-id order), so it lies near k's
        // share of the directory: a search galloping out from there reads a page or two
        // of it, where one from the middle read a dozen (each a fault when cold).
        let supers = self.bits.div_ceil(SUPER);
        let dir = |j: u64| {
            let ones = u64::from(u32_at(bytes, self.rank + j as usize * 4));
            // A bad directory may count more ones than there are bits.
            if zeros {
                (j * SUPER).saturating_sub(ones)
            } else {
                ones
            }
        };
        // (In 64 bits: k and the directory's length are below 2³² each, and a division of
        // 128 bits is a call of its own.)
        let guess = (k * supers / total).min(supers - 1);
        // dir(lo) <= k < dir(hi), hi = supers standing for past the end.
        let (mut lo, mut hi);
        let mut step = 1;
        if dir(guess) <= k {
            lo = guess;
            loop {
                let next = lo.saturating_add(step);
                if next >= supers {
                    hi = supers;
                    break;
                }
                if dir(next) > k {
                    hi = next;
                    break;
                }
                lo = next;
                step *= 2;
            }
        } else {
            hi = guess;
            loop {
                let Some(next) = hi.checked_sub(step) else {
                    lo = 0;
                    break;
                };
                if dir(next) <= k {
                    lo = next;
                    break;
                }
                hi = next;
                step *= 2;
            }
        }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if dir(mid) <= k {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut left = k - dir(lo).min(k);
        let words = self.bits.div_ceil(64);
        for w in lo * (SUPER / 64)..((lo + 1) * (SUPER / 64)).min(words) {
            let mut word = self.word(bytes, w);
            if zeros {
                // The bits past `bits` are no ids: never counted, as ones come before them.
                word = !word;
            }
            let n = u64::from(word.count_ones());
            if left < n {
                for _ in 0..left {
                    word &= word - 1;
                }
                return Ok(Some((w * 64 + u64::from(word.trailing_zeros())) as u32));
            }
            left -= n;
        }
        Err(Malformed("rank directory disagrees with its words"))
    }

    /// Checks every directory entry and the count against the words (for `inlink check`,
    /// which reads them all; lookups check only what they read).
    pub fn check(&self, bytes: &[u8]) -> Result<(), Malformed> {
        let mut before = 0u64;
        for w in 0..self.bits.div_ceil(64) {
            if w % (SUPER / 64) == 0
                && u64::from(u32_at(bytes, self.rank + (w / (SUPER / 64)) as usize * 4))
                    != before & u64::from(u32::MAX)
            {
                return Err(Malformed("rank directory disagrees with its words"));
            }
            let word = self.word(bytes, w);
            if w == self.bits / 64 && !self.bits.is_multiple_of(64) && word >> (self.bits % 64) != 0
            {
                return Err(Malformed("rank set has ids past its end"));
            }
            before += u64::from(word.count_ones());
        }
        if before != self.ones {
            return Err(Malformed("rank set's count disagrees with its words"));
        }
        Ok(())
    }
}

/// Ascending ids below a universe in Elias–Fano form, read in place: the `k`-th id at the
/// cost of a select in a [`Ranked`] set and a few bits read. A segment keeps one per class
/// of its namespace map, to turn a list's ranks among a class's pages back into page ids
/// without reading the map across the other classes' pages.
///
/// ```text
/// elias_fano := u8(l) packed(id & (2^l − 1))[n] u8[8] ranked(upper)
/// ```
/// `n` and the universe `u` are the reader's to know; `l = ⌊log₂(u / n)⌋` (0 when `n` is 0);
/// the `k`-th id sets bit `(id >> l) + k` of `upper`, a set of `n + (u >> l) + 1` bits.
/// Packed: `l` bits a value, LSB first.
#[derive(Clone, Copy, Debug)]
pub struct EliasFano {
    n: u64,
    l: u32,
    low: usize,
    upper: Ranked,
}

/// The low bits' width for `n` ids below `universe`.
fn low_width(n: u64, universe: u64) -> u32 {
    universe.checked_div(n).map_or(0, |q| q.max(1).ilog2())
}

/// Appends the Elias–Fano form of `ids` (ascending, distinct, below `universe`) to `out`.
#[cfg(test)]
pub fn write_elias_fano(ids: &[u32], universe: u64, out: &mut Vec<u8>) {
    let mut w = EliasFanoWriter::new(ids.len() as u64, universe);
    for &id in ids {
        w.push(id);
    }
    w.write(out);
}

/// Builds an [`EliasFano`] list an id at a time, its count known first: a segment writes
/// every class's in one walk of its namespace map.
pub struct EliasFanoWriter {
    n: u64,
    universe: u64,
    l: u32,
    k: u64,
    low: Vec<u64>,
    upper: RankedWriter,
}

impl EliasFanoWriter {
    pub fn new(n: u64, universe: u64) -> Self {
        let l = low_width(n, universe);
        EliasFanoWriter {
            n,
            universe,
            l,
            k: 0,
            low: vec![0; (n * u64::from(l)).div_ceil(64) as usize],
            upper: RankedWriter::default(),
        }
    }

    /// Adds the next id (ascending, below the universe; `n` of them in all).
    pub fn push(&mut self, id: u32) {
        debug_assert!(self.k < self.n && u64::from(id) < self.universe);
        let (l, k) = (self.l, self.k);
        if l > 0 {
            let v = u64::from(id) & ((1u64 << l) - 1);
            let bit = k * u64::from(l);
            let (w, b) = ((bit / 64) as usize, (bit % 64) as u32);
            self.low[w] |= v << b;
            if b + l > 64 {
                self.low[w + 1] |= v >> (64 - b);
            }
        }
        self.upper.insert(((u64::from(id) >> l) + k) as u32);
        self.k += 1;
    }

    /// The list's bytes, appended to `out`.
    pub fn write(mut self, out: &mut Vec<u8>) {
        debug_assert_eq!(self.k, self.n, "as many ids as said");
        out.push(self.l as u8);
        let bytes = (self.n * u64::from(self.l)).div_ceil(8) as usize;
        let at = out.len();
        for w in &self.low {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.truncate(at + bytes);
        out.extend_from_slice(&[0; 8]);
        self.upper.extend_to(self.n + (self.universe >> self.l) + 1);
        self.upper.write(out);
    }
}

impl EliasFano {
    /// Reads the header of `n` ids below `universe` at `at`; returns where its bytes end.
    pub fn parse(
        bytes: &[u8],
        at: usize,
        n: u64,
        universe: u64,
    ) -> Result<(Self, usize), Malformed> {
        let l = u32::from(*bytes.get(at).ok_or(Malformed("Elias-Fano past the end"))?);
        if n > universe || l != low_width(n, universe) {
            return Err(Malformed("Elias-Fano: width"));
        }
        let low = at + 1;
        let upper_at = (n * u64::from(l)).div_ceil(8) + 8 + low as u64;
        let upper_at =
            usize::try_from(upper_at).map_err(|_| Malformed("Elias-Fano past the end"))?;
        if upper_at > bytes.len() {
            return Err(Malformed("Elias-Fano past the end"));
        }
        let (upper, end) = Ranked::parse(bytes, upper_at)?;
        if upper.len() != n || upper.bits() != n + (universe >> l) + 1 {
            return Err(Malformed("Elias-Fano: upper bits"));
        }
        Ok((EliasFano { n, l, low, upper }, end))
    }

    #[inline(always)]
    fn low(&self, bytes: &[u8], k: u64) -> u64 {
        if self.l == 0 {
            return 0;
        }
        let bit = k * u64::from(self.l);
        // `l` ≤ 32 and eight zero bytes follow the values: one unaligned word holds it.
        let at = self.low + (bit / 8) as usize;
        u64_at(bytes, at) >> (bit % 8) & ((1u64 << self.l) - 1)
    }

    /// The `k`-th id (from 0).
    #[cfg(test)]
    pub fn select(&self, bytes: &[u8], k: u64) -> Result<u32, Malformed> {
        let pos = self.upper_bit(bytes, k)?;
        self.id(bytes, k, pos)
    }

    /// Where the `k`-th id's bit is in `upper`.
    #[inline(always)]
    fn upper_bit(&self, bytes: &[u8], k: u64) -> Result<u64, Malformed> {
        let pos = self.upper.select_in(bytes, k, false)?;
        pos.map(u64::from).ok_or(Malformed("rank past the ids"))
    }

    #[inline(always)]
    fn id(&self, bytes: &[u8], k: u64, pos: u64) -> Result<u32, Malformed> {
        let high = pos
            .checked_sub(k)
            .ok_or(Malformed("Elias-Fano: upper bits"))?;
        u32::try_from(high << self.l | self.low(bytes, k)).map_err(|_| Malformed("id past u32"))
    }

    /// The ids of ascending ranks `ranks`, in place. Ranks close together (a dense list's)
    /// are found by walking on from the one before through the upper bits' words, those
    /// far apart by a select each.
    pub fn select_ascending(&self, bytes: &[u8], ranks: &mut [u32]) -> Result<(), Malformed> {
        // A word's ones are counted by a popcount; the build's baseline CPU has no
        // instruction for it, and a dozen others in its place slowed a deep cursor.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU was just found to have POPCNT.
            return unsafe { self.select_ascending_popcnt(bytes, ranks) };
        }
        self.select_ascending_in(bytes, ranks)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn select_ascending_popcnt(
        &self,
        bytes: &[u8],
        ranks: &mut [u32],
    ) -> Result<(), Malformed> {
        self.select_ascending_in(bytes, ranks)
    }

    #[inline(always)]
    fn select_ascending_in(&self, bytes: &[u8], ranks: &mut [u32]) -> Result<(), Malformed> {
        // The last rank found and where its bit is.
        let mut last: Option<(u64, u64)> = None;
        for r in ranks {
            let k = u64::from(*r);
            if k >= self.n {
                return Err(Malformed("rank past the ids"));
            }
            let pos = match last {
                Some((lk, lp)) if k > lk && k - lk <= 64 => {
                    self.upper.nth_one_after(bytes, lp, k - lk)?
                }
                _ => self.upper_bit(bytes, k)?,
            };
            last = Some((k, pos));
            *r = self.id(bytes, k, pos)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn written(ids: &BTreeSet<u32>) -> Vec<u8> {
        let mut w = RankedWriter::default();
        // Not in order: the writer takes any.
        for &id in ids.iter().rev() {
            w.insert(id);
        }
        let mut out = vec![0xaa; 3];
        w.write(&mut out);
        out
    }

    proptest! {
        /// Membership, rank and select agree with a sorted set, for dense and sparse sets
        /// and at every id near one in it.
        #[test]
        fn answers_as_a_sorted_set_does(
            ids in prop_oneof![
                prop::collection::btree_set(0u32..2000, 0..1500),
                prop::collection::btree_set(0u32..1 << 22, 0..40),
                // Clusters far apart: a select's first guess lands far from its id.
                (prop::collection::btree_set(0u32..600, 0..300), prop::collection::btree_set(3_000_000u32..3_000_600, 0..300))
                    .prop_map(|(a, b)| a.union(&b).copied().collect()),
            ],
        ) {
            let bytes = written(&ids);
            let (set, end) = Ranked::parse(&bytes, 3).unwrap();
            prop_assert_eq!(end, bytes.len());
            prop_assert_eq!(set.len(), ids.len() as u64);
            set.check(&bytes).unwrap();
            let sorted: Vec<u32> = ids.iter().copied().collect();
            for (k, &id) in sorted.iter().enumerate() {
                prop_assert_eq!(set.select(&bytes, k as u64).unwrap(), Some(id));
                for probe in [id.saturating_sub(1), id, id.saturating_add(1)] {
                    let below = sorted.partition_point(|&x| x < probe) as u64;
                    prop_assert_eq!(set.rank(&bytes, probe), below);
                    prop_assert_eq!(set.contains(&bytes, probe), ids.contains(&probe));
                }
            }
            prop_assert_eq!(set.select(&bytes, ids.len() as u64).unwrap(), None);
            prop_assert_eq!(set.rank(&bytes, u32::MAX), ids.len() as u64);
            let mut ranks: Vec<u32> = (0..ids.len() as u32).collect();
            set.select_each(&bytes, &mut ranks, false).unwrap();
            prop_assert_eq!(&ranks, &sorted);
            // And the ids below its end that are not in it: the k-th is the id with k such
            // ids below it.
            let bits = ids.last().map_or(0, |&l| u64::from(l) + 1);
            prop_assert_eq!(set.bits(), bits);
            for &id in &sorted {
                for probe in [0, id.saturating_sub(1), id.saturating_add(1)] {
                    if u64::from(probe) < bits && !ids.contains(&probe) {
                        let k = u64::from(probe) - set.rank(&bytes, probe);
                        prop_assert_eq!(set.select_zero(&bytes, k).unwrap(), Some(probe));
                    }
                }
            }
            prop_assert_eq!(set.select_zero(&bytes, bits - ids.len() as u64).unwrap(), None);
        }

        /// Damaged bytes give wrong answers or errors, never a panic or a read out of
        /// bounds.
        #[test]
        fn damaged_sets_do_not_panic(
            ids in prop::collection::btree_set(0u32..3000, 1..300),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = written(&ids);
            for (i, b) in flips {
                let i = i.index(bytes.len());
                bytes[i] ^= b;
            }
            for bytes in [&bytes[..], &bytes[..cut.index(bytes.len())]] {
                if let Ok((set, _)) = Ranked::parse(bytes, 3) {
                    let _ = set.check(bytes);
                    for k in 0..set.len().min(400) {
                        let _ = (set.select(bytes, k), set.select_zero(bytes, k));
                    }
                    for id in (0..3100).step_by(7) {
                        let _ = (set.rank(bytes, id), set.contains(bytes, id));
                    }
                }
            }
        }
    }

    #[test]
    fn an_empty_set_is_sixteen_bytes() {
        let bytes = written(&BTreeSet::new());
        assert_eq!(bytes.len(), 3 + 16);
        let (set, _) = Ranked::parse(&bytes, 3).unwrap();
        assert_eq!(set.len(), 0);
        assert_eq!(set.rank(&bytes, 5), 0);
        assert_eq!(set.select(&bytes, 0).unwrap(), None);
        assert!(!set.contains(&bytes, 0));
    }
}

#[cfg(test)]
mod elias_fano_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every rank gives its id, one at a time and ascending runs of them, for sets
        /// dense and sparse in their universe.
        #[test]
        fn selects_as_a_sorted_list_does(
            (universe, ids) in (1u64..=(1 << 32)).prop_flat_map(|u| {
                let cap = u.min(1 << 20);
                (Just(u), prop::collection::btree_set(0..cap, 0..(cap.min(600) as usize)))
            }),
            spread in any::<bool>(),
            pick in prop::collection::vec(any::<prop::sample::Index>(), 0..50),
        ) {
            // Ids spread over the universe, or packed at its start.
            let ids: Vec<u32> = ids
                .iter()
                .map(|&i| if spread { (i * (universe / (1 << 20)).max(1)).min(universe - 1) } else { i } as u32)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let mut bytes = vec![0x55; 5];
            write_elias_fano(&ids, universe, &mut bytes);
            let (ef, end) = EliasFano::parse(&bytes, 5, ids.len() as u64, universe).unwrap();
            prop_assert_eq!(end, bytes.len());
            for (k, &id) in ids.iter().enumerate() {
                prop_assert_eq!(ef.select(&bytes, k as u64).unwrap(), id);
            }
            prop_assert!(ef.select(&bytes, ids.len() as u64).is_err());
            if !ids.is_empty() {
                let mut ranks: Vec<u32> = pick.iter().map(|i| i.index(ids.len()) as u32).collect();
                ranks.sort_unstable();
                ranks.dedup();
                let want: Vec<u32> = ranks.iter().map(|&r| ids[r as usize]).collect();
                ef.select_ascending(&bytes, &mut ranks).unwrap();
                prop_assert_eq!(ranks, want);
                let mut all: Vec<u32> = (0..ids.len() as u32).collect();
                ef.select_ascending(&bytes, &mut all).unwrap();
                prop_assert_eq!(all, ids);
            }
        }

        /// Damaged bytes give wrong ids or errors, never a panic.
        #[test]
        fn damaged_ones_do_not_panic(
            ids in prop::collection::btree_set(0u32..5000, 1..300),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let ids: Vec<u32> = ids.into_iter().collect();
            let mut bytes = Vec::new();
            write_elias_fano(&ids, 5000, &mut bytes);
            for (i, b) in flips {
                let i = i.index(bytes.len());
                bytes[i] ^= b;
            }
            if let Ok((ef, _)) = EliasFano::parse(&bytes, 0, ids.len() as u64, 5000) {
                for k in 0..ids.len() as u64 + 2 {
                    let _ = ef.select(&bytes, k);
                }
                let mut all: Vec<u32> = (0..ids.len() as u32).collect();
                let _ = ef.select_ascending(&bytes, &mut all);
            }
        }
    }
}
