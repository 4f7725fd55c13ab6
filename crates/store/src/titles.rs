//! Title tables of a link segment (`docs/format.md`): titles ↔ ids, with one flag bit per
//! id. A segment has two: link targets (target ids) and pages (page ids; the flag says
//! redirect). Titles → ids is a front-coded dictionary ([`crate::dictionary`]); ids →
//! titles is a names table of the ids' positions in it, in groups of 128 ids so that
//! sparse ids cost a group-table slot, not four bytes each.
//!
//! ```text
//! titles := dictionary group* gtable
//! group  := u32le[128]       per id: position in the dictionary | flag << 31; u32::MAX: none
//! gtable := u64le[groups]    byte offset of group g (of ids 128g..128g+127); u64::MAX: none
//! place  := u64le dictionary offset  u64le dictionary bytes  u64le gtable offset  u32le groups
//! ```

use crate::dictionary::{self, Dictionary};
use crate::postings::Malformed;
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
        }
    }

    /// The same, writing its dictionary in version 2, to test that it is still read.
    #[cfg(test)]
    pub(crate) fn with_dictionary_version_2(mut self) -> Self {
        self.dict = dictionary::Writer::version_2();
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
        let position = u32::try_from(self.dict.len())
            .ok()
            .filter(|&p| p < FLAG)
            .ok_or_else(|| invalid("a title table holds at most 2^31 titles".into()))?;
        self.dict.push(out, ns, dbkey, u64::from(id))?;
        let v = position | if flag { FLAG } else { 0 };
        let dense_up_to = 2 * self.expected.max(u64::from(position)) + (1 << 16);
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

    /// Writes the dictionary's tail, the groups and the group table; returns the `place`.
    pub fn finish(self, out: &mut impl Write) -> io::Result<[u8; PLACE]> {
        let (place, table) = self.finish_but_table(out)?;
        out.write_all(&table)?;
        Ok(place)
    }

    /// [`TitlesWriter::finish`] but for the group table, which is given back to be written
    /// next: the one part holding file offsets, which a splice moves.
    pub fn finish_but_table(mut self, out: &mut impl Write) -> io::Result<([u8; PLACE], Vec<u8>)> {
        let dict_len = self.dict.finish(out)?;
        let mut pos = self.start + dict_len;
        let mut bytes = Vec::with_capacity(GROUP as usize * 4);
        let mut put = |gtable: &mut [u64], g: usize, group: &[u32]| -> io::Result<()> {
            bytes.clear();
            for &v in group {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            // The last group of a dense table may be short.
            bytes.resize(GROUP as usize * 4, 0xff);
            out.write_all(&bytes)?;
            gtable[g] = pos;
            pos += bytes.len() as u64;
            Ok(())
        };
        self.slots.settle_all()?;
        let gtable = match &mut self.slots {
            Slots::Dense { by_id, .. } => {
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
        Ok((place, table))
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
    dict_len: u64,
    gtable: usize,
    groups: u32,
    /// Where the segment's body ends (groups must lie before it).
    end: usize,
}

impl Titles {
    /// Reads a `place` and checks the dictionary (its trailer and block offsets; the
    /// segment's checksum covers its bytes) and the group table's bounds.
    pub fn open(map: &Arc<memmap2::Mmap>, place: &[u8], end: usize) -> Result<Self, String> {
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
            dict_len,
            gtable: gtable as usize,
            groups,
            end,
        })
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
        match usize::try_from(o) {
            Ok(o)
                if o.checked_add(GROUP as usize * 4)
                    .is_some_and(|e| e <= self.end) =>
            {
                Ok(Some(o))
            }
            _ => Err(Malformed("title group past the end")),
        }
    }

    fn slot(&self, id: u32) -> Result<Option<u32>, Malformed> {
        let Some(at) = self.group_at(id / GROUP)? else {
            return Ok(None);
        };
        let i = at + (id % GROUP) as usize * 4;
        let v = u32::from_le_bytes(self.map[i..i + 4].try_into().expect("4 bytes"));
        Ok((v != NONE).then_some(v))
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
                .filter(|&i| {
                    let o = at + i as usize * 4;
                    u32::from_le_bytes(self.map[o..o + 4].try_into().expect("4 bytes")) != NONE
                })
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
        let groups = (0..self.groups)
            .filter(|&g| self.group_at(g).ok().flatten().is_some())
            .count() as u64;
        self.dict_len + groups * u64::from(GROUP) * 4 + u64::from(self.groups) * 8
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
        let place = w.finish(&mut out)?;
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
