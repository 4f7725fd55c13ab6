//! Title tables of a link segment (`docs/format.md`): titles ↔ ids, with one flag bit per
//! id. A segment has two: link targets (target ids) and pages (page ids; the flag says
//! redirect). Titles → ids is a front-coded dictionary ([`crate::dictionary`]); ids →
//! titles is a names table of the ids' positions in it, in groups of 128 ids so that
//! sparse ids cost a group-table slot, not four bytes each.
//!
//! Most link targets are pages: their titles are written once, in the page table, and a
//! [`Shared`] section pairs their target ids with the pages' ids. Where the pairs keep both
//! orders (the bulk load gives target ids in page-id order), two rank sets hold them, a
//! few bits a pair; the others are listed both ways.
//!
//! ```text
//! titles := dictionary group* gtable
//! group  := u8(w) packed[128] u8[8]   from segment version 11: per id, w bits LSB first,
//!                            ((position in the dictionary) << 1 | flag) + 1; 0: none; eight
//!                            zero bytes after them (a slot is read as one 8-byte word)
//!          | u32le[128]      before version 11: position | flag << 31; u32::MAX: none
//! gtable := u64le[groups]    byte offset of group g (of ids 128g..128g+127); u64::MAX: none
//! place  := u64le dictionary offset  u64le dictionary bytes  u64le gtable offset  u32le groups
//! shared := ranked(target ids) ranked(page ids)  u64le n  (u32le tid, u32le page)[n] by tid
//!           (u32le page, u32le tid)[n] by page
//! ```

use crate::dictionary::{self, Dictionary};
use crate::postings::Malformed;
use crate::ranked::{Ranked, RankedWriter};
use std::io::{self, Write};
use std::sync::Arc;

const GROUP: u32 = 128;
/// Writes of dense slots held back.
const AHEAD: usize = 16;
const NONE: u32 = u32::MAX;
const FLAG: u32 = 1 << 31;
const EMPTY: u64 = u64::MAX;
/// Bytes of a `place` in the segment's trailer.
pub const PLACE: usize = 28;

/// Whether a target can share page `page`'s title (a slot holds the page id beside a flag).
pub fn shareable(page: u32) -> bool {
    page < FLAG
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

/// Writes one title table in one pass over titles given in dictionary order; the ids'
/// positions are held in memory until `finish` writes them by id.
pub struct TitlesWriter {
    dict: dictionary::Writer,
    start: u64,
    slots: Slots,
    /// The titles expected (ids up to about as many keep the slots dense).
    expected: u64,
    /// Titles taken so far, shared ones included.
    taken: u64,
    /// Whether titles may be shared with the page table ([`TitlesWriter::push_shared`]):
    /// then a slot's flag marks a shared title, the rest of it the page id.
    shares: bool,
    /// Shared titles of target ids below this are listed, not put in the rank sets.
    listed_below: u32,
    /// Groups packed (segment version 11), or of `u32`s.
    packed: bool,
}

/// The titles' positions in the dictionary (with their flags), waiting to be written by id.
enum Slots {
    /// By id (`NONE`: no title yet), while ids stay about as dense as the titles: four
    /// bytes an id, and no sort (at full size, sorting the pairs took seconds of a core).
    /// Titles come in dictionary order, their ids at random: each write is made
    /// [`AHEAD`] titles later, its slot prefetched meanwhile, not waited on a cache miss.
    Dense {
        by_id: Vec<u32>,
        pending: [(u32, u32); AHEAD],
        asked: usize,
    },
    /// (id, position) pairs, sorted at the end: for ids spread far apart.
    Sparse(Vec<(u32, u32)>),
}

impl TitlesWriter {
    /// A table whose first byte goes to file offset `start`.
    pub fn new(start: u64) -> Self {
        Self::with_capacity(start, 0)
    }

    /// The same, with room for `titles` titles' slots.
    pub fn with_capacity(start: u64, titles: u64) -> Self {
        TitlesWriter {
            dict: dictionary::Writer::default(),
            start,
            // A hint: past 2^28 titles (1 GiB of slots) the vector grows as it must.
            slots: Slots::Dense {
                by_id: Vec::with_capacity(titles.min(1 << 28) as usize),
                pending: [(0, 0); AHEAD],
                asked: 0,
            },
            expected: titles,
            taken: 0,
            shares: false,
            listed_below: 0,
            packed: true,
        }
    }

    /// The same, with groups of `u32`s (before segment version 11), to test that they are
    /// still read.
    #[cfg(test)]
    pub(crate) fn with_unpacked_groups(mut self) -> Self {
        self.packed = false;
        self
    }

    /// A target table whose titles may be shared with the page table (their flags are
    /// then not given: a target has none).
    pub fn sharing(mut self) -> Self {
        self.shares = true;
        self
    }

    /// Lists the shared titles of target ids below `tid` (given out of their pages' order,
    /// as the bulk load gives its most linked targets): kept in the rank sets, the first
    /// with a page id far on would shut out the pairs after it, which keep both orders.
    pub fn list_shared_below(&mut self, tid: u32) {
        self.listed_below = tid;
    }

    /// The same, writing its dictionary in version 2, to test that it is still read.
    #[cfg(test)]
    pub(crate) fn with_dictionary_version_2(mut self) -> Self {
        self.dict = dictionary::Writer::version_2();
        self
    }

    /// The same, writing its dictionary in version 4 (sixteen keys a block), as segments
    /// before version 20 hold them.
    #[cfg(test)]
    pub(crate) fn with_dictionary_version_4(mut self) -> Self {
        self.dict = dictionary::Writer::version_4();
        self
    }

    /// Adds a title: in dictionary order (namespace, then dbkey bytes), each id once (the
    /// latter is checked by `finish`).
    pub fn push(
        &mut self,
        out: &mut impl Write,
        ns: i32,
        dbkey: &str,
        id: u32,
        flag: bool,
    ) -> io::Result<()> {
        if flag && self.shares {
            return Err(invalid("a target table's titles have no flag".into()));
        }
        let position = u32::try_from(self.dict.len())
            .ok()
            .filter(|&p| p < FLAG)
            .ok_or_else(|| invalid("a title table holds at most 2^31 titles".into()))?;
        self.dict.push(out, ns, dbkey, u64::from(id))?;
        self.record(id, position | if flag { FLAG } else { 0 })
    }

    /// Adds a target whose title is page `page`'s, in the page table of the same segment:
    /// its id is paired with the page's, its title not written here. Pages from 2^31 on
    /// cannot be paired (their titles are written with [`TitlesWriter::push`]).
    pub fn push_shared(&mut self, id: u32, page: u32) -> io::Result<()> {
        if !self.shares || !shareable(page) {
            return Err(invalid(format!(
                "target {id} cannot share page {page}'s title"
            )));
        }
        self.record(id, page | FLAG)
    }

    fn record(&mut self, id: u32, v: u32) -> io::Result<()> {
        let dense_up_to = 2 * self.expected.max(self.taken) + (1 << 16);
        self.taken += 1;
        match &mut self.slots {
            Slots::Dense {
                by_id,
                pending,
                asked,
            } if u64::from(id) < dense_up_to => {
                let at = id as usize;
                if at >= by_id.len() {
                    by_id.resize(at + 1, NONE);
                }
                crate::prefetch(&by_id[at]);
                let slot = &mut pending[*asked % AHEAD];
                if *asked >= AHEAD {
                    settle(by_id, *slot)?;
                }
                *slot = (id, v);
                *asked += 1;
            }
            Slots::Dense { .. } => {
                let mut pairs = self.slots.take_pairs()?;
                pairs.push((id, v));
                self.slots = Slots::Sparse(pairs);
            }
            Slots::Sparse(pairs) => pairs.push((id, v)),
        }
        Ok(())
    }

    /// Writes the dictionary's tail, the groups and the group table; returns the `place`
    /// and the [`Shared`] section's bytes (empty when no title is shared), which go
    /// elsewhere in the segment.
    pub fn finish(self, out: &mut impl Write) -> io::Result<([u8; PLACE], Vec<u8>)> {
        let f = self.finish_but_table(out)?;
        out.write_all(&f.table)?;
        Ok((f.place, f.shared))
    }

    /// [`TitlesWriter::finish`] but for the group table, which is given back to be written
    /// next: the one part holding file offsets, which a splice moves.
    pub fn finish_but_table(mut self, out: &mut impl Write) -> io::Result<Finished> {
        let dict_len = self.dict.finish(out)?;
        let mut pos = self.start + dict_len;
        let mut bytes = Vec::with_capacity(GROUP as usize * 4 + 9);
        let packed = self.packed;
        let mut put = |gtable: &mut [u64], g: usize, group: &[u32]| -> io::Result<()> {
            bytes.clear();
            if packed {
                pack_group(group, &mut bytes);
            } else {
                for &v in group {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                // The last group of a dense table may be short.
                bytes.resize(GROUP as usize * 4, 0xff);
            }
            out.write_all(&bytes)?;
            gtable[g] = pos;
            pos += bytes.len() as u64;
            Ok(())
        };
        self.slots.settle_all()?;
        let listed_below = self.listed_below;
        let mut shared = self.shares.then(|| SharedWriter {
            listed_below,
            ..SharedWriter::default()
        });
        // A shared title's slot holds its page, not a position: it leaves the groups.
        let mut unshare = |id: u32, v: &mut u32| -> io::Result<()> {
            if let Some(shared) = &mut shared {
                if *v != NONE && *v & FLAG != 0 {
                    shared.push(id, *v & !FLAG)?;
                    *v = NONE;
                }
            }
            Ok(())
        };
        let gtable = match &mut self.slots {
            Slots::Dense { by_id, .. } => {
                for (id, v) in (0..).zip(by_id.iter_mut()) {
                    unshare(id, v)?;
                }
                let mut gtable = vec![EMPTY; by_id.len().div_ceil(GROUP as usize)];
                for (g, group) in by_id.chunks(GROUP as usize).enumerate() {
                    if group.iter().any(|&v| v != NONE) {
                        put(&mut gtable, g, group)?;
                    }
                }
                gtable
            }
            Slots::Sparse(pairs) => {
                pairs.sort_unstable();
                if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
                    return Err(invalid(format!("id {} has two titles", w[0].0)));
                }
                for (id, v) in pairs.iter_mut() {
                    unshare(*id, v)?;
                }
                pairs.retain(|p| p.1 != NONE);
                let groups = pairs.last().map_or(0, |s| s.0 / GROUP + 1);
                let mut gtable = vec![EMPTY; groups as usize];
                let mut group = [NONE; GROUP as usize];
                let mut i = 0;
                while i < pairs.len() {
                    let g = pairs[i].0 / GROUP;
                    group.fill(NONE);
                    while i < pairs.len() && pairs[i].0 / GROUP == g {
                        let (id, v) = pairs[i];
                        group[(id % GROUP) as usize] = v;
                        i += 1;
                    }
                    put(&mut gtable, g as usize, &group)?;
                }
                gtable
            }
        };
        let groups = gtable.len() as u32;
        let gtable_at = pos;
        let mut table = Vec::with_capacity(gtable.len() * 8);
        for o in gtable {
            table.extend_from_slice(&o.to_le_bytes());
        }
        let mut place = [0u8; PLACE];
        place[..8].copy_from_slice(&self.start.to_le_bytes());
        place[8..16].copy_from_slice(&dict_len.to_le_bytes());
        place[16..24].copy_from_slice(&gtable_at.to_le_bytes());
        place[24..].copy_from_slice(&groups.to_le_bytes());
        let shared = match shared {
            Some(s) if !s.is_empty() => s.finish()?,
            _ => Vec::new(),
        };
        Ok(Finished {
            place,
            table,
            shared,
        })
    }
}

/// A title table's ends: its `place`, its group table (to be written after the rest) and
/// its [`Shared`] section's bytes (empty when it shares no title).
pub struct Finished {
    pub place: [u8; PLACE],
    pub table: Vec<u8>,
    pub shared: Vec<u8>,
}

/// A slot as a packed group holds it: 0 for none, else (position << 1 | flag) + 1.
fn packed_value(v: u32) -> u64 {
    if v == NONE {
        0
    } else {
        (u64::from(v & !FLAG) << 1 | u64::from(v >> 31)) + 1
    }
}

/// A packed group of slots (`group` may be short: the rest have none).
fn pack_group(group: &[u32], out: &mut Vec<u8>) {
    let max = group.iter().map(|&v| packed_value(v)).max().unwrap_or(0);
    let w = (64 - max.leading_zeros()).max(1);
    out.push(w as u8);
    let start = out.len();
    out.resize(start + (GROUP * w).div_ceil(8) as usize + 8, 0);
    for (i, &v) in (0u32..).zip(group) {
        let bit = i * w;
        let at = start + (bit / 8) as usize;
        let word = packed_value(v) << (bit % 8);
        for (k, b) in word.to_le_bytes().iter().enumerate() {
            out[at + k] |= b;
        }
    }
}

impl Slots {
    /// Makes the dense slots' writes still held back.
    fn settle_all(&mut self) -> io::Result<()> {
        if let Slots::Dense {
            by_id,
            pending,
            asked,
        } = self
        {
            for i in asked.saturating_sub(AHEAD)..*asked {
                settle(by_id, pending[i % AHEAD])?;
            }
            *asked = 0;
        }
        Ok(())
    }

    /// The slots as (id, position) pairs, unsorted.
    fn take_pairs(&mut self) -> io::Result<Vec<(u32, u32)>> {
        self.settle_all()?;
        Ok(match std::mem::replace(self, Slots::Sparse(Vec::new())) {
            Slots::Dense { by_id, .. } => (0..).zip(by_id).filter(|&(_, v)| v != NONE).collect(),
            Slots::Sparse(pairs) => pairs,
        })
    }
}

/// Writes a dense slot held back: (id, position).
fn settle(by_id: &mut [u32], (id, v): (u32, u32)) -> io::Result<()> {
    let slot = &mut by_id[id as usize];
    if *slot != NONE {
        return Err(invalid(format!("id {id} has two titles")));
    }
    *slot = v;
    Ok(())
}

/// Builds a [`Shared`] section from (target id, page id) pairs given by ascending target
/// id. A pair whose page id is above every paired page so far joins the rank sets (all of
/// them, when target ids were given in page-id order), unless its ids are so far out that
/// the sets would cost more bits a pair than listing it; any other is listed.
#[derive(Default)]
struct SharedWriter {
    targets: RankedWriter,
    pages: RankedWriter,
    /// The last target id given, and the last page id in the rank sets.
    last_target: Option<u32>,
    last_page: Option<u32>,
    ranked: u64,
    listed: Vec<(u32, u32)>,
    /// Pairs of target ids below this are listed.
    listed_below: u32,
}

/// Ids in the rank sets stay below `RANKED_BITS × (pairs + 1) + RANKED_SLACK` (past the
/// ids listed first): at most 64 bits a pair in each set, against 128 for a listed pair
/// both ways.
const RANKED_BITS: u64 = 64;
const RANKED_SLACK: u64 = 1 << 16;

impl SharedWriter {
    fn push(&mut self, tid: u32, page: u32) -> io::Result<()> {
        if self.last_target.is_some_and(|t| t >= tid) {
            return Err(invalid(format!("shared target {tid} out of order")));
        }
        self.last_target = Some(tid);
        // The ids listed below `listed_below` are zeros at the start of the target set.
        let bound = RANKED_BITS * (self.ranked + 1) + RANKED_SLACK + u64::from(self.listed_below);
        if tid < self.listed_below
            || self.last_page.is_some_and(|p| p >= page)
            || u64::from(tid.max(page)) >= bound
        {
            self.listed.push((tid, page));
        } else {
            self.targets.insert(tid);
            self.pages.insert(page);
            self.ranked += 1;
            self.last_page = Some(page);
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.last_target.is_none()
    }

    fn finish(mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.targets.write(&mut out);
        self.pages.write(&mut out);
        out.extend_from_slice(&(self.listed.len() as u64).to_le_bytes());
        for &(t, p) in &self.listed {
            out.extend_from_slice(&t.to_le_bytes());
            out.extend_from_slice(&p.to_le_bytes());
        }
        self.listed.sort_unstable_by_key(|&(t, p)| (p, t));
        for (i, &(t, p)) in self.listed.iter().enumerate() {
            let twice = self.pages.contains(p) || i > 0 && self.listed[i - 1].1 == p;
            if twice {
                return Err(invalid(format!(
                    "page {p} shares its title with two targets"
                )));
            }
            out.extend_from_slice(&p.to_le_bytes());
            out.extend_from_slice(&t.to_le_bytes());
        }
        Ok(out)
    }
}

/// [`Shared::page_of`] for target ids asked in ascending order, a step at a time: a
/// segment build asks it of every target, and a lookup each searched the rank directory.
#[derive(Clone, Debug)]
pub struct PagesByTarget {
    shared: Shared,
    /// The ranked pair at or after the last id asked.
    ranked: Option<(u32, u32)>,
    /// Where the next ranked pair's ids are sought in the two sets.
    from: (u64, u64),
    /// The index of the listed pair at or after the last id asked.
    listed: u64,
    last: Option<u32>,
}

impl PagesByTarget {
    /// The page whose title target `tid` has, if it shares one; an id below the last asked
    /// starts the walk over.
    pub fn page_of(&mut self, bytes: &[u8], tid: u32) -> Result<Option<u32>, Malformed> {
        if self.last.is_some_and(|l| tid < l) {
            *self = self.shared.walk();
        }
        self.last = Some(tid);
        let s = &self.shared;
        loop {
            match self.ranked {
                Some((t, p)) if t >= tid => {
                    if t == tid {
                        return Ok(Some(p));
                    }
                    break;
                }
                _ => {
                    let t = s.targets.next_from(bytes, self.from.0);
                    let p = s.pages.next_from(bytes, self.from.1);
                    match (t, p) {
                        (Some(t), Some(p)) => {
                            self.ranked = Some((t, p));
                            self.from = (u64::from(t) + 1, u64::from(p) + 1);
                        }
                        (None, None) => break,
                        _ => return Err(Malformed("shared titles' rank sets disagree")),
                    }
                }
            }
        }
        let pair = |i: u64, half: usize| {
            let o = s.by_target + i as usize * 8 + half;
            u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"))
        };
        while self.listed < s.listed && pair(self.listed, 0) < tid {
            self.listed += 1;
        }
        Ok((self.listed < s.listed && pair(self.listed, 0) == tid).then(|| pair(self.listed, 4)))
    }
}

/// The titles a segment's target table shares with its page table: each target id paired
/// with a page id, the title read from the page table.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shared {
    targets: Ranked,
    pages: Ranked,
    listed: u64,
    by_target: usize,
    by_page: usize,
    start: usize,
    end: usize,
}

impl Shared {
    /// Reads a section at `at` of `bytes`, checking its bounds and that its rank sets
    /// hold as many ids each.
    pub fn parse(bytes: &[u8], start: usize) -> Result<Shared, Malformed> {
        let (targets, at) = Ranked::parse(bytes, start)?;
        let (pages, at) = Ranked::parse(bytes, at)?;
        if targets.len() != pages.len() {
            return Err(Malformed("shared titles' rank sets disagree"));
        }
        let Some(listed) = bytes.get(at..at + 8) else {
            return Err(Malformed("shared titles past the end"));
        };
        let listed = u64::from_le_bytes(listed.try_into().expect("8 bytes"));
        let by_target = at + 8;
        let end = listed
            .checked_mul(16)
            .and_then(|b| usize::try_from(b).ok())
            .and_then(|b| by_target.checked_add(b))
            .filter(|&e| e <= bytes.len())
            .ok_or(Malformed("shared titles past the end"))?;
        Ok(Shared {
            targets,
            pages,
            listed,
            by_target,
            by_page: by_target + listed as usize * 8,
            start,
            end,
        })
    }

    /// Pairs in the section.
    pub fn len(&self) -> u64 {
        self.targets.len() + self.listed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id paired with `id` in one of the section's lists (by target or by page).
    fn listed(&self, bytes: &[u8], list: usize, id: u32) -> Option<u32> {
        let at = |i: u64, half: usize| {
            let o = list + i as usize * 8 + half;
            u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"))
        };
        let (mut lo, mut hi) = (0, self.listed);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match at(mid, 0).cmp(&id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(at(mid, 4)),
            }
        }
        None
    }

    /// The first target id in the rank sets (those below were listed), if any.
    pub fn first_ranked_target(&self, bytes: &[u8]) -> Result<Option<u32>, Malformed> {
        self.targets.select(bytes, 0)
    }

    /// The page whose title target `tid` has, if it shares one.
    pub fn page_of(&self, bytes: &[u8], tid: u32) -> Result<Option<u32>, Malformed> {
        self.paired(bytes, (&self.targets, &self.pages), self.by_target, tid)
    }

    /// The target whose title page `page` has, if it shares one.
    pub fn target_of(&self, bytes: &[u8], page: u32) -> Result<Option<u32>, Malformed> {
        self.paired(bytes, (&self.pages, &self.targets), self.by_page, page)
    }

    /// A walk of the pairs by target id, for `page_of` of ascending target ids.
    pub fn walk(&self) -> PagesByTarget {
        PagesByTarget {
            shared: *self,
            ranked: None,
            from: (0, 0),
            listed: 0,
            last: None,
        }
    }

    /// The id paired with `id`: the k-th of `to` for the k-th of `from`, else in `list`.
    fn paired(
        &self,
        bytes: &[u8],
        (from, to): (&Ranked, &Ranked),
        list: usize,
        id: u32,
    ) -> Result<Option<u32>, Malformed> {
        if !from.contains(bytes, id) {
            return Ok(self.listed(bytes, list, id));
        }
        match to.select(bytes, from.rank(bytes, id))? {
            Some(other) => Ok(Some(other)),
            None => Err(Malformed("shared titles' rank sets disagree")),
        }
    }

    /// Checks all of the section: the rank sets against their words, both lists sorted,
    /// each the other's pairs, none of them in the rank sets.
    pub fn check(&self, bytes: &[u8]) -> Result<(), Malformed> {
        self.targets.check(bytes)?;
        self.pages.check(bytes)?;
        let pair = |list: usize, i: u64| {
            let o = list + i as usize * 8;
            let u = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
            (u(o), u(o + 4))
        };
        for i in 0..self.listed {
            let (t, p) = pair(self.by_target, i);
            let (q, u) = pair(self.by_page, i);
            let sorted =
                i == 0 || (pair(self.by_target, i - 1).0 < t && pair(self.by_page, i - 1).0 < q);
            if !sorted
                || self.listed(bytes, self.by_page, p) != Some(t)
                || self.listed(bytes, self.by_target, u) != Some(q)
                || self.targets.contains(bytes, t)
                || self.pages.contains(bytes, p)
            {
                return Err(Malformed("shared titles' lists disagree"));
            }
        }
        Ok(())
    }

    /// Bytes of the section.
    pub fn bytes(&self) -> u64 {
        (self.end - self.start) as u64
    }
}

/// A byte range of a mapped segment, so that a dictionary can be read in place.
#[derive(Clone)]
pub struct Slice {
    map: Arc<memmap2::Mmap>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        &self.map[self.start..self.end]
    }
}

/// One title table of a mapped segment.
pub struct Titles {
    map: Arc<memmap2::Mmap>,
    dict: Dictionary<Slice>,
    /// Where the dictionary starts: the table's first byte.
    dict_at: usize,
    dict_len: u64,
    gtable: usize,
    groups: u32,
    /// Where the segment's body ends (groups must lie before it).
    end: usize,
    /// Groups packed (segment version 11), or of `u32`s.
    packed: bool,
}

impl Titles {
    /// Reads a `place` and checks the dictionary (its trailer and block offsets; the
    /// segment's checksum covers its bytes) and the group table's bounds.
    pub fn open(
        map: &Arc<memmap2::Mmap>,
        place: &[u8],
        end: usize,
        packed: bool,
    ) -> Result<Self, String> {
        let u64_at = |i: usize| u64::from_le_bytes(place[i..i + 8].try_into().expect("8 bytes"));
        let (dict_at, dict_len, gtable) = (u64_at(0), u64_at(8), u64_at(16));
        let groups = u32::from_le_bytes(place[24..28].try_into().expect("4 bytes"));
        let dict_end = dict_at.checked_add(dict_len);
        let gtable_end = gtable.checked_add(u64::from(groups) * 8);
        if dict_end.is_none_or(|e| e > gtable) || gtable_end.is_none_or(|e| e > end as u64) {
            return Err("title table past the end".into());
        }
        let dict = Dictionary::new_checked_elsewhere(Slice {
            map: Arc::clone(map),
            start: dict_at as usize,
            end: dict_end.unwrap_or(0) as usize,
        })
        .map_err(|m| m.0)?;
        Ok(Titles {
            map: Arc::clone(map),
            dict,
            dict_at: dict_at as usize,
            dict_len,
            gtable: gtable as usize,
            groups,
            end,
            packed,
        })
    }

    /// Where the table starts in its segment.
    pub fn start(&self) -> usize {
        self.dict_at
    }

    /// The id of a title.
    pub fn id(&self, ns: i32, dbkey: &str) -> Option<u32> {
        self.dict.get(ns, dbkey).and_then(|v| u32::try_from(v).ok())
    }

    fn group_at(&self, g: u32) -> Result<Option<usize>, Malformed> {
        if g >= self.groups {
            return Ok(None);
        }
        let i = self.gtable + g as usize * 8;
        let o = u64::from_le_bytes(self.map[i..i + 8].try_into().expect("8 bytes"));
        if o == EMPTY {
            return Ok(None);
        }
        let len = |o: usize| {
            if !self.packed {
                return Some(GROUP as usize * 4);
            }
            // A width of at most 33 bits: a position below 2^31, a flag, plus one.
            let w = *self.map.get(o).filter(|&&w| (1..=33).contains(&w))?;
            Some(1 + (GROUP as usize * usize::from(w)).div_ceil(8) + 8)
        };
        match usize::try_from(o) {
            Ok(o)
                if o < self.end
                    && len(o)
                        .and_then(|l| o.checked_add(l))
                        .is_some_and(|e| e <= self.end) =>
            {
                Ok(Some(o))
            }
            _ => Err(Malformed("title group past the end")),
        }
    }

    /// Slot `i` of the group at `at` (checked by `group_at`), as `position | flag << 31`.
    fn slot_in(&self, at: usize, i: u32) -> Option<u32> {
        if !self.packed {
            let o = at + i as usize * 4;
            let v = u32::from_le_bytes(self.map[o..o + 4].try_into().expect("4 bytes"));
            return (v != NONE).then_some(v);
        }
        let w = u32::from(self.map[at]);
        let bit = i * w;
        let o = at + 1 + (bit / 8) as usize;
        let word = u64::from_le_bytes(self.map[o..o + 8].try_into().expect("8 bytes"));
        let v = (word >> (bit % 8)) & ((1u64 << w) - 1);
        let v = v.checked_sub(1)?;
        Some((v >> 1) as u32 | ((v & 1) as u32) << 31)
    }

    fn slot(&self, id: u32) -> Result<Option<u32>, Malformed> {
        let Some(at) = self.group_at(id / GROUP)? else {
            return Ok(None);
        };
        Ok(self.slot_in(at, id % GROUP))
    }

    /// Whether `id` has a title here.
    pub fn contains(&self, id: u32) -> Result<bool, Malformed> {
        Ok(self.slot(id)?.is_some())
    }

    /// The title of `id` and its flag.
    pub fn name(&self, id: u32) -> Result<Option<(i32, String, bool)>, Malformed> {
        let Some(v) = self.slot(id)? else {
            return Ok(None);
        };
        match self.dict.entry_at((v & !FLAG) as usize) {
            Some((ns, t, got)) if got == u64::from(id) => Ok(Some((ns, t, v & FLAG != 0))),
            _ => Err(Malformed("names table and dictionary disagree")),
        }
    }

    /// [`Titles::name`] with the dbkey decoded into a buffer the caller keeps.
    pub fn name_in<'b>(
        &self,
        id: u32,
        buf: &'b mut Vec<u8>,
    ) -> Result<Option<(i32, &'b str, bool)>, Malformed> {
        let Some(v) = self.slot(id)? else {
            return Ok(None);
        };
        match self.dict.entry_in((v & !FLAG) as usize, buf) {
            Some((ns, t, got)) if got == u64::from(id) => Ok(Some((ns, t, v & FLAG != 0))),
            _ => Err(Malformed("names table and dictionary disagree")),
        }
    }

    /// The flag of `id` (false when it has no title here).
    pub fn flag(&self, id: u32) -> Result<bool, Malformed> {
        Ok(self.slot(id)?.is_some_and(|v| v & FLAG != 0))
    }

    /// Every title in dictionary order: (namespace, dbkey, id).
    pub fn iter(&self) -> impl Iterator<Item = Result<(i32, String, u32), Malformed>> + '_ {
        self.dict.iter().map(|e| match e {
            Ok((ns, t, v)) => u32::try_from(v)
                .map(|v| (ns, t, v))
                .map_err(|_| Malformed("id past u32")),
            Err(_) => Err(Malformed("damaged dictionary block")),
        })
    }

    /// The ids with a title, ascending from `start` (or descending from it).
    pub fn ids(&self, start: u32, desc: bool) -> impl Iterator<Item = Result<u32, Malformed>> + '_ {
        let first = start / GROUP;
        let groups: Box<dyn Iterator<Item = u32>> = if desc {
            Box::new((0..=first.min(self.groups.saturating_sub(1))).rev())
        } else {
            Box::new(first..self.groups)
        };
        groups.flat_map(move |g| {
            let at = match self.group_at(g) {
                Ok(Some(at)) => at,
                Ok(None) => return Vec::new(),
                Err(e) => return vec![Err(e)],
            };
            let mut ids: Vec<Result<u32, Malformed>> = (0..GROUP)
                .filter(|&i| self.slot_in(at, i).is_some())
                .map(|i| g * GROUP + i)
                .filter(|&id| if desc { id <= start } else { id >= start })
                .map(Ok)
                .collect();
            if desc {
                ids.reverse();
            }
            ids
        })
    }

    /// Titles in the table.
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Bytes of the dictionary, the groups and the group table.
    pub fn bytes(&self) -> u64 {
        let groups: u64 = (0..self.groups)
            .filter_map(|g| self.group_at(g).ok().flatten())
            .map(|at| match self.packed {
                true => 1 + u64::from(GROUP * u32::from(self.map[at])).div_ceil(8) + 8,
                false => u64::from(GROUP) * 4,
            })
            .sum();
        self.dict_len + groups + u64::from(self.groups) * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The bytes of a table of `titles`, its slots kept by id or as sorted pairs.
    fn written(titles: &[(i32, String, u32, bool)], sparse: bool) -> io::Result<Vec<u8>> {
        let mut w = TitlesWriter::with_capacity(5, titles.len() as u64);
        if sparse {
            w.slots = Slots::Sparse(Vec::new());
        }
        let mut out = Vec::new();
        for (ns, dbkey, id, flag) in titles {
            w.push(&mut out, *ns, dbkey, *id, *flag)?;
        }
        let (place, shared) = w.finish(&mut out)?;
        assert!(shared.is_empty());
        out.extend_from_slice(&place);
        Ok(out)
    }

    proptest! {
        /// Slots by id and slots as pairs make the same table, whatever the ids' spread
        /// (ids far past the titles turn a table's slots into pairs on the way; not past
        /// 2^24, as each 128 ids below the last cost a group-table slot).
        #[test]
        fn slots_by_id_write_what_pairs_would(
            named in prop::collection::btree_map((-1i32..3, "[A-Z][a-z]{0,3}"),
                                                 (prop_oneof![0u32..300, 0u32..1 << 17, 0u32..1 << 24], any::<bool>()),
                                                 0..200),
        ) {
            // One title an id: the first title to take it keeps it.
            let mut taken = std::collections::HashSet::new();
            let titles: Vec<(i32, String, u32, bool)> = named
                .into_iter()
                .filter(|(_, (id, _))| taken.insert(*id))
                .map(|((ns, t), (id, flag))| (ns, t, id, flag))
                .collect();
            prop_assert_eq!(written(&titles, false).unwrap(), written(&titles, true).unwrap());
        }
    }

    #[test]
    fn an_id_with_two_titles_is_refused_either_way() {
        let twice = [
            (0, "A".to_string(), 7, false),
            (0, "B".to_string(), 7, true),
        ];
        assert!(written(&twice, false).is_err());
        assert!(written(&twice, true).is_err());
        let far = [
            (0, "A".to_string(), u32::MAX - 1, false),
            (0, "B".to_string(), u32::MAX - 1, true),
        ];
        assert!(written(&far, false).is_err());
    }
}
