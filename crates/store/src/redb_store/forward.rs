//! The bulk load's forward rows, kept by page as they come. A dump gives each link table
//! ordered by source page, so each kind's rows are written as they arrive, a record a page
//! — `varint(from step) zigzag(ns) varint(n)` and the page's `n` ascending target ids as
//! varints of their gaps — to an unnamed scratch file of that kind, and read back in order
//! with no sort and no merge of runs. Rows that come out of page order (and rows pushed
//! whole, as the titled ones are) go through an external sort. Reading back gives every
//! row of a page together, pages ascending; within a page, in no set order.
//!
//! At full size these rows went through an external sort of 128-bit keys, which took an
//! eighth of the import's CPU time: pushing a key, sorting a page's keys, a varint of up
//! to 19 bytes each way and a heap merge per row.

use super::{unzigzag, zigzag};
use crate::postings::put_varint;
use crate::sorter::Sorter;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, Write};
use std::path::Path;

/// A forward row as a sort key: by page, then namespace (one per page but for rows of a
/// missing page), kind and target — so that a run's consecutive keys differ by little.
fn pack_forward(from: u32, kind: u8, tid: u32, ns: i32) -> u128 {
    (u128::from(from) << 72)
        | (u128::from(ns as u32 ^ 0x8000_0000) << 40)
        | (u128::from(kind) << 32)
        | u128::from(tid)
}

pub(super) fn unpack_forward(k: u128) -> (u32, u8, u32, i32) {
    (
        (k >> 72) as u32,
        (k >> 32) as u8,
        k as u32,
        ((k >> 40) as u32 ^ 0x8000_0000) as i32,
    )
}

/// Bytes of records held before they are written.
const CHUNK: usize = 1 << 20;

pub(super) struct ForwardRows {
    dir: std::path::PathBuf,
    kinds: Vec<Kind>,
    sorted: Sorter,
}

/// One kind's records.
#[derive(Default)]
struct Kind {
    /// The page and namespace of the record being gathered, and its targets.
    open: Option<(u32, i32)>,
    tids: Vec<u32>,
    /// Those of the last record written: every later one must come after.
    last: Option<(u32, i32)>,
    out: Vec<u8>,
    file: Option<File>,
}

impl ForwardRows {
    /// Rows of `kinds` kinds; `budget` bytes for the sort of the others.
    pub(super) fn new(dir: &Path, kinds: usize, budget: usize) -> Self {
        let mut all = Vec::with_capacity(kinds);
        all.resize_with(kinds, Kind::default);
        ForwardRows {
            dir: dir.to_path_buf(),
            kinds: all,
            sorted: Sorter::new(dir, budget),
        }
    }

    /// A row as a dump gives it.
    #[inline]
    pub(super) fn push(&mut self, from: u32, kind: u8, tid: u32, ns: i32) -> io::Result<()> {
        let Some(k) = self.kinds.get_mut(usize::from(kind)) else {
            return self.sorted.push(pack_forward(from, kind, tid, ns));
        };
        if k.open == Some((from, ns)) {
            k.tids.push(tid);
            return Ok(());
        }
        if k.open.is_some() {
            k.close(&self.dir)?;
        }
        if k.last.is_some_and(|last| (from, ns) <= last) {
            return self.sorted.push(pack_forward(from, kind, tid, ns));
        }
        k.open = Some((from, ns));
        k.tids.push(tid);
        Ok(())
    }

    /// A row in no particular order.
    pub(super) fn push_any(&mut self, from: u32, kind: u8, tid: u32, ns: i32) -> io::Result<()> {
        self.sorted.push(pack_forward(from, kind, tid, ns))
    }

    /// Every row, page by page (duplicates may remain, and a page's rows are in no order).
    pub(super) fn finish(mut self) -> io::Result<Pages> {
        let mut kinds = Vec::new();
        for k in &mut self.kinds {
            if k.open.is_some() {
                k.close(&self.dir)?;
            }
            let file = match k.file.take() {
                Some(mut f) => {
                    f.write_all(&k.out)?;
                    f.rewind()?;
                    Source::File(BufReader::with_capacity(1 << 16, f))
                }
                None => Source::Memory(std::mem::take(&mut k.out), 0),
            };
            let mut records = Records {
                source: file,
                from: 0,
                head: None,
                tids: Vec::new(),
            };
            records.advance()?;
            kinds.push(records);
        }
        let mut sorted = self.sorted.finish()?;
        let head = sorted.next().transpose()?;
        Ok(Pages {
            kinds,
            sorted,
            head,
        })
    }
}

impl Kind {
    /// Codes the record gathered.
    fn close(&mut self, dir: &Path) -> io::Result<()> {
        let Some((from, ns)) = self.open.take() else {
            return Ok(());
        };
        self.tids.sort_unstable();
        self.tids.dedup();
        let step = from - self.last.map_or(0, |l| l.0);
        put_varint(&mut self.out, u64::from(step));
        put_varint(&mut self.out, zigzag(ns));
        put_varint(&mut self.out, self.tids.len() as u64);
        let mut prev = 0;
        for (i, &t) in self.tids.iter().enumerate() {
            put_varint(&mut self.out, u64::from(t - prev - u32::from(i > 0)));
            prev = t;
        }
        self.tids.clear();
        self.last = Some((from, ns));
        if self.out.len() >= CHUNK {
            let file = match &mut self.file {
                Some(f) => f,
                None => self.file.insert(tempfile::tempfile_in(dir)?),
            };
            file.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }
}

enum Source {
    File(BufReader<File>),
    Memory(Vec<u8>, usize),
}

impl Source {
    /// The next varint; `None` at the end of the records (and only between two).
    fn varint(&mut self, first: bool) -> io::Result<Option<u64>> {
        match self {
            Source::File(r) => {
                let buf = r.buffer();
                // Straight from the reader's buffer when a whole varint is surely in it.
                if buf.len() >= 10 {
                    let mut pos = 0;
                    let v = crate::postings::get_varint(buf, &mut pos).map_err(|m| bad(m.0))?;
                    r.consume(pos);
                    return Ok(Some(v));
                }
                match crate::sorter::read_varint(r)? {
                    None if !first => Err(bad("a record cut short")),
                    v => Ok(v),
                }
            }
            Source::Memory(b, pos) => {
                if *pos == b.len() {
                    return if first {
                        Ok(None)
                    } else {
                        Err(bad("a record cut short"))
                    };
                }
                crate::postings::get_varint(b, pos)
                    .map(Some)
                    .map_err(|m| bad(m.0))
            }
        }
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("forward rows: {what}"))
}

/// One kind's records read back.
struct Records {
    source: Source,
    from: u32,
    /// The record at hand: its page and namespace (its targets in `tids`).
    head: Option<(u32, i32)>,
    tids: Vec<u32>,
}

impl Records {
    fn advance(&mut self) -> io::Result<()> {
        self.tids.clear();
        let Some(step) = self.source.varint(true)? else {
            self.head = None;
            return Ok(());
        };
        let next = |source: &mut Source| -> io::Result<u32> {
            let v = source.varint(false)?.unwrap_or(0);
            u32::try_from(v).map_err(|_| bad("a field past 32 bits"))
        };
        let step = u32::try_from(step).map_err(|_| bad("a page past 2³²"))?;
        self.from = self
            .from
            .checked_add(step)
            .ok_or_else(|| bad("a page past 2³²"))?;
        let ns = i32::try_from(unzigzag(u64::from(next(&mut self.source)?)))
            .map_err(|_| bad("a namespace past 32 bits"))?;
        let n = next(&mut self.source)?;
        // A record's gaps straight from the reader's buffer when they surely lie in it
        // (a varint call a row was a third of reading the records back).
        if let Source::File(r) = &mut self.source {
            let buf = r.buffer();
            if buf.len() >= n as usize * 5 {
                let used = gaps(buf, n, &mut self.tids)?;
                r.consume(used);
                self.head = Some((self.from, ns));
                return Ok(());
            }
        }
        let mut tid = 0u32;
        for i in 0..n {
            tid = after_gap(tid, next(&mut self.source)?, i)?;
            self.tids.push(tid);
        }
        self.head = Some((self.from, ns));
        Ok(())
    }
}

/// The `n` targets whose gaps start `buf` (which holds at least `n` varints of 5 bytes)
/// into `tids`; the bytes they took.
fn gaps(buf: &[u8], n: u32, tids: &mut Vec<u32>) -> io::Result<usize> {
    let mut pos = 0;
    let mut tid = 0u32;
    for i in 0..n {
        let mut gap = 0u32;
        let mut shift = 0;
        loop {
            let byte = buf[pos];
            pos += 1;
            if shift == 28 && byte & 0x70 != 0 {
                return Err(bad("a gap past 32 bits"));
            }
            gap |= u32::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return Err(bad("a gap past 32 bits"));
            }
        }
        tid = after_gap(tid, gap, i)?;
        tids.push(tid);
    }
    Ok(pos)
}

/// Target `i` of a record, `gap` after `tid` (the first, `gap` itself).
fn after_gap(tid: u32, gap: u32, i: u32) -> io::Result<u32> {
    tid.checked_add(gap)
        .and_then(|t| t.checked_add(u32::from(i > 0)))
        .ok_or_else(|| bad("a target past 2³²"))
}

/// [`ForwardRows::finish`]'s rows.
pub(super) struct Pages {
    kinds: Vec<Records>,
    sorted: crate::sorter::Sorted,
    head: Option<u128>,
}

impl Pages {
    /// Appends the rows of the next page (every one of its rows, packed as
    /// [`pack_forward`] packs them) to `out`; `false` once there are no more.
    pub(super) fn next_page(&mut self, out: &mut Vec<u128>) -> io::Result<bool> {
        let from = self
            .kinds
            .iter()
            .filter_map(|k| k.head.map(|h| h.0))
            .chain(self.head.map(|k| (k >> 72) as u32))
            .min();
        let Some(from) = from else {
            return Ok(false);
        };
        for (kind, k) in self.kinds.iter_mut().enumerate() {
            while let Some((f, ns)) = k.head.filter(|h| h.0 == from) {
                out.extend(k.tids.iter().map(|&t| pack_forward(f, kind as u8, t, ns)));
                k.advance()?;
            }
        }
        while let Some(key) = self.head.filter(|&k| (k >> 72) as u32 == from) {
            out.push(key);
            self.head = self.sorted.next().transpose()?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_all(rows: ForwardRows) -> Vec<Vec<u128>> {
        let mut pages = rows.finish().unwrap();
        let mut out = Vec::new();
        let mut page = Vec::new();
        while pages.next_page(&mut page).unwrap() {
            out.push(std::mem::take(&mut page));
        }
        out
    }

    proptest! {
        /// Rows come back page by page, pages ascending, each page with its rows (once
        /// each), whatever order they came in and however they were pushed: in order,
        /// out of it, whole, past a chunk, spilled by the sort of the others.
        #[test]
        fn rows_come_back_by_page(
            rows in proptest::collection::vec((0u32..40, 0u8..5, 0u32..5000, -2i32..3, any::<bool>()), 0..3000),
            in_order in any::<bool>(),
            small in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut rows = rows;
            if in_order {
                rows.sort_by_key(|r| (r.0, r.3));
            }
            let mut fwd = ForwardRows::new(dir.path(), 4, if small { 0 } else { 1 << 20 });
            for &(from, kind, tid, ns, whole) in &rows {
                if whole {
                    fwd.push_any(from, kind, tid, ns).unwrap();
                } else {
                    fwd.push(from, kind, tid, ns).unwrap();
                }
            }
            let pages = read_all(fwd);
            let mut want: Vec<u128> = rows.iter().map(|&(f, k, t, n, _)| pack_forward(f, k, t, n)).collect();
            want.sort_unstable();
            want.dedup();
            let mut froms = Vec::new();
            let mut got = Vec::new();
            for page in pages {
                let from = (page[0] >> 72) as u32;
                prop_assert!(page.iter().all(|&k| (k >> 72) as u32 == from));
                froms.push(from);
                got.extend(page);
            }
            prop_assert!(froms.windows(2).all(|w| w[0] < w[1]));
            got.sort_unstable();
            got.dedup();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn forward_keys_unpack(from in any::<u32>(), kind in 0u8..8, tid in any::<u32>(), ns in any::<i32>()) {
            prop_assert_eq!(unpack_forward(pack_forward(from, kind, tid, ns)), (from, kind, tid, ns));
        }
    }

    /// Records past a chunk go to the scratch file and come back from it.
    #[test]
    fn records_past_a_chunk_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut fwd = ForwardRows::new(dir.path(), 2, 1 << 20);
        let pages = 200_000u32;
        for from in 1..=pages {
            for t in [from * 7 % 1000, from, 1 << 30] {
                fwd.push(from, (from % 2) as u8, t, 0).unwrap();
            }
        }
        assert!(fwd.kinds.iter().all(|k| k.file.is_some()));
        let got = read_all(fwd);
        assert_eq!(got.len(), pages as usize);
        for (i, page) in got.iter().enumerate() {
            let from = i as u32 + 1;
            let mut tids: Vec<u32> = page.iter().map(|&k| unpack_forward(k).2).collect();
            tids.sort_unstable();
            let mut want = vec![from * 7 % 1000, from, 1 << 30];
            want.sort_unstable();
            want.dedup();
            assert_eq!(tids, want);
        }
        // Nothing named is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
