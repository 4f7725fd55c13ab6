//! `RedbStore`'s [`BulkLoad`]: an empty index filled from table rows by external sorts,
//! with no B-tree updated per row. Page rows are sorted by title (a later row wins over an
//! earlier one with its id or title), link targets by title (target ids are given out in
//! title order, and a dense array maps the caller's keys to them), link rows by source page
//! (the forward entries) and then by target (the posting lists), and the segment is written
//! straight from those streams. The redirect rows go to `index.redb` in the commit that
//! names the segment, so nothing is visible before `finish`. A dump of page texts gives
//! pages with their link rows by title (`page_with_links`): those rows name their page row
//! as owner and are dropped with it when a later row takes its id or title.

use super::forward::{unpack_forward, ForwardRows};
use super::*;
use crate::segment::{TitleTablesApart, TitlesApart, TitlesWritten, KINDS};
use crate::sorter::RecordSorter;
use crate::transpose::Transpose;
use crate::{prefetch, BulkLoad};
use inlink_model::NamespaceId;
use memmap2::MmapMut;
use std::io::{BufReader, BufWriter, Read, Write};

/// Where the loader is: every page row comes first, then every link target, then links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Pages,
    Targets,
    Links,
}

/// The owner of a row given on its own, not with a page row.
const NO_OWNER: u64 = u64::MAX;

/// Whether a row owned by page row `owner` stays: it is nobody's, or its page row held its
/// page when the pages were settled.
fn owner_stays(survived: &[u64], owner: u64) -> bool {
    owner == NO_OWNER
        || survived
            .get((owner / 64) as usize)
            .is_some_and(|w| w & (1 << (owner % 64)) != 0)
}

/// Sort budgets: the page and target sorts run one after the other, the link sorts beside
/// the titled rows and redirects.
const TITLES_BUDGET: usize = 128 << 20;
const SMALL_BUDGET: usize = 32 << 20;

/// A scratch file under the index directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

static SCRATCH: AtomicU64 = AtomicU64::new(0);

fn scratch(dir: &Path, what: &str) -> Scratch {
    Scratch(dir.join(format!(
        "load-{}-{}-{what}.tmp",
        std::process::id(),
        SCRATCH.fetch_add(1, AtomicOrdering::Relaxed)
    )))
}

/// Dictionary order, bytewise: (namespace, then dbkey bytes).
fn title_key(ns: i32, dbkey: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + dbkey.len());
    title_key_into(&mut k, ns, dbkey);
    k
}

/// `title_key` into a buffer reused: a key is made for every row, a link's among them.
fn title_key_into(k: &mut Vec<u8>, ns: i32, dbkey: &str) {
    k.clear();
    k.extend_from_slice(&(ns as u32 ^ 0x8000_0000).to_be_bytes());
    k.extend_from_slice(dbkey.as_bytes());
}

fn split_title_key(k: &[u8]) -> R<(i32, &str)> {
    let dbkey = std::str::from_utf8(k.get(4..).ok_or_else(malformed)?).map_err(|_| malformed())?;
    Ok((title_ns(k)?, dbkey))
}

/// A title key's namespace, its dbkey left unread.
fn title_ns(k: &[u8]) -> R<i32> {
    let ns: [u8; 4] = k
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(malformed)?;
    Ok((u32::from_be_bytes(ns) ^ 0x8000_0000) as i32)
}

fn malformed() -> redb::Error {
    redb::Error::Corrupted("bulk load: a scratch title is malformed".into())
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

/// Cell `i` of an array of little-endian `u32` cells (the load's dense id arrays).
fn cell(cells: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(cells[i * 4..i * 4 + 4].try_into().expect("four bytes"))
}

/// Bytes of a link target key's cell: its target id and the link rows naming it, each a
/// little-endian u32.
const KEY_CELL: usize = 8;

fn key_cell(tid: u32, links: u32) -> [u8; KEY_CELL] {
    let mut c = [0; KEY_CELL];
    c[..4].copy_from_slice(&tid.to_le_bytes());
    c[4..].copy_from_slice(&links.to_le_bytes());
    c
}

fn split_key_cell(c: &[u8]) -> (u32, u32) {
    (
        u32::from_le_bytes(c[..4].try_into().expect("four bytes")),
        u32::from_le_bytes(c[4..8].try_into().expect("four bytes")),
    )
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("eight bytes"))
}

/// The namespaces and page ids of the forward rows, noted as they are pushed, so that the
/// reverse rows can be packed into the bits they need.
#[derive(Default)]
struct Seen {
    /// Every namespace a forward row has (a handful), unordered.
    ns: Vec<i32>,
    /// The one noted last: a page's rows come together and share it.
    last_ns: Option<i32>,
    max_from: u32,
}

impl Seen {
    fn note(&mut self, from: u32, ns: i32) {
        self.max_from = self.max_from.max(from);
        if self.last_ns != Some(ns) {
            self.last_ns = Some(ns);
            if !self.ns.contains(&ns) {
                self.ns.push(ns);
            }
        }
    }
}

/// Reverse rows as 64-bit sort keys, where their fields fit (a dump of all of Wikipedia
/// needs about 60 bits): kind (two bits, for the four kinds), target, the namespace's rank
/// among those seen, page. A `u64` sorts in about two thirds of a `u128`'s time, and a run
/// of the same memory holds twice the rows.
struct NarrowKeys {
    /// Namespaces in order, a rank each.
    ns: Vec<i32>,
    at_ns: u32,
    at_tid: u32,
    at_kind: u32,
    /// The namespace ranked last, and its rank.
    last: (i32, u64),
}

impl NarrowKeys {
    fn new(seen: &Seen, next_tid: u32) -> Option<Self> {
        let bits = |max: u64| u64::BITS - max.leading_zeros();
        let mut ns = seen.ns.clone();
        ns.sort_unstable();
        let at_ns = bits(u64::from(seen.max_from));
        let at_tid = at_ns + bits(ns.len().saturating_sub(1) as u64);
        let at_kind = at_tid + bits(u64::from(next_tid));
        (at_kind + bits(KINDS as u64 - 1) <= u64::BITS).then(|| NarrowKeys {
            last: (ns.first().copied().unwrap_or(0), 0),
            ns,
            at_ns,
            at_tid,
            at_kind,
        })
    }

    fn pack(&mut self, kind: u8, tid: u32, ns: i32, from: u32) -> u64 {
        debug_assert!(usize::from(kind) < KINDS, "kinds are the four of LinkKind");
        if self.last.0 != ns {
            let rank = self
                .ns
                .binary_search(&ns)
                .expect("every forward row's namespace is noted");
            self.last = (ns, rank as u64);
        }
        let rank = self.last.1;
        (u64::from(kind) << self.at_kind)
            | (u64::from(tid) << self.at_tid)
            | (rank << self.at_ns)
            | u64::from(from)
    }

    /// The key as [`pack`] makes it of the same row.
    fn widen(&self, k: u64) -> u128 {
        let field = |at: u32, to: u32| (k >> at) & ((1 << (to - at)) - 1);
        pack(
            (k >> self.at_kind) as u8,
            field(self.at_tid, self.at_kind) as u32,
            self.ns[field(self.at_ns, self.at_tid) as usize],
            field(0, self.at_ns) as u32,
        )
    }
}

/// Rows a bucket of the reverse rows' transpose is cut for, by the counts kept for
/// [`FirstIds`]: sorted by counting, a bucket's rows and its sorted copy stay about the
/// size of the cache.
const BUCKET_ROWS: u32 = 1 << 21;

/// Target ids a bucket spans at most (its counts: 4 MB).
const BUCKET_SPAN: u32 = 1 << 20;

/// Where each reverse row goes in the transpose ([`Transpose`]): target ids cut into
/// ranges of about [`BUCKET_ROWS`] rows, a set of ranges per kind; within its bucket, a
/// row's key is its target's place in the range and its namespace's rank.
struct ReverseBuckets {
    first: u32,
    /// The bucket of each of the most linked ids (`0..=first`).
    heavy: Vec<u32>,
    /// The bucket of each block of 64 ids after them: buckets there start on a block.
    light: Vec<u32>,
    /// The first target id of each bucket of a kind.
    starts: Vec<u32>,
    /// Namespaces in order, a rank each, in `ns_bits` bits.
    ns: Vec<i32>,
    ns_bits: u32,
    /// The namespace ranked last, and its rank.
    last: (i32, u32),
    /// A page's rows placed, reused page after page.
    places: Vec<(usize, u32)>,
}

impl ReverseBuckets {
    /// `None` when the keys would not fit 32 bits (namespaces by the thousand).
    fn new(
        links_to: &[u16],
        given: impl Fn(u32) -> u32,
        first: &FirstIds,
        seen: &Seen,
    ) -> Option<Self> {
        let mut ns = seen.ns.clone();
        ns.sort_unstable();
        let ns_bits = u32::BITS - (ns.len().saturating_sub(1) as u32).leading_zeros();
        if ns_bits + BUCKET_SPAN.trailing_zeros() > 32 {
            return None;
        }
        let end = links_to.len().max(1) as u32;
        let f = first.first;
        // Rows by final id: each of the most linked alone (one whose count saturated is
        // taken for a bucket's worth, and so has a bucket of its own), the others by blocks
        // of 64.
        let mut heavy_rows = vec![0u32; f as usize + 1];
        let mut light_rows = vec![0u32; (end - f.min(end)).div_ceil(64) as usize];
        for tid in 1..end {
            let id = first.id(given(tid));
            let n = links_to[tid as usize];
            if id <= f {
                heavy_rows[id as usize] = if n == u16::MAX {
                    BUCKET_ROWS
                } else {
                    u32::from(n)
                };
            } else if let Some(r) = light_rows.get_mut(((id - f - 1) / 64) as usize) {
                *r += u32::from(n);
            }
        }
        let mut starts = vec![0u32];
        let mut rows = 0u32;
        let mut cut = |at: u32, n: u32, starts: &mut Vec<u32>| {
            let start = *starts.last().expect("one at least");
            if rows > 0 && (rows.saturating_add(n) > BUCKET_ROWS || at - start >= BUCKET_SPAN - 64)
            {
                starts.push(at);
                rows = 0;
            }
            rows = rows.saturating_add(n);
            starts.len() as u32 - 1
        };
        let heavy = (0..=f)
            .map(|id| cut(id, heavy_rows[id as usize], &mut starts))
            .collect();
        let light = light_rows
            .iter()
            .enumerate()
            .map(|(block, &n)| cut(f + 1 + 64 * block as u32, n, &mut starts))
            .collect();
        Some(ReverseBuckets {
            first: f,
            heavy,
            light,
            starts,
            last: (ns.first().copied().unwrap_or(0), 0),
            ns,
            ns_bits,
            places: Vec::new(),
        })
    }

    fn buckets(&self) -> usize {
        self.starts.len() * KINDS
    }

    /// Fetches the cell that says the bucket of `tid`: the most linked's too (1 MB at
    /// full size, and most rows name one of them).
    #[inline(always)]
    fn prefetch(&self, tid: u32) {
        let cell = match tid.checked_sub(self.first + 1) {
            Some(light) => self.light.get((light / 64) as usize),
            None => self.heavy.get(tid as usize),
        };
        if let Some(cell) = cell {
            crate::prefetch(cell);
        }
    }

    /// A row's bucket and its key there.
    #[inline(always)]
    fn place(&mut self, kind: u8, tid: u32, ns: i32) -> (usize, u32) {
        let b = if tid <= self.first {
            self.heavy[tid as usize]
        } else {
            self.light[((tid - self.first - 1) / 64) as usize]
        };
        if self.last.0 != ns {
            let rank = self
                .ns
                .binary_search(&ns)
                .expect("every forward row's namespace is noted");
            self.last = (ns, rank as u32);
        }
        let key = ((tid - self.starts[b as usize]) << self.ns_bits) | self.last.1;
        (usize::from(kind) * self.starts.len() + b as usize, key)
    }

    /// The wide keys ([`pack`]) of the rows the transpose gives back.
    fn widen(self) -> impl FnMut(usize, u32, u32) -> u128 {
        // A bucket's kind and first target, worked out once for its rows.
        let mut at = (usize::MAX, 0u8, 0u32);
        move |bucket, key, page| {
            if at.0 != bucket {
                let (kind, b) = (bucket / self.starts.len(), bucket % self.starts.len());
                at = (bucket, kind as u8, self.starts[b]);
            }
            let tid = at.2 + (key >> self.ns_bits);
            let rank = key & ((1 << self.ns_bits) - 1);
            pack(at.1, tid, self.ns[rank as usize], page)
        }
    }
}

/// The reverse rows' sort: a transpose where the rows' keys fit, else an external sort of
/// narrow keys where the rows' fields fit, else of wide ones.
enum ReverseSort {
    Transpose(Transpose, ReverseBuckets),
    Narrow(Sorter<u64>, NarrowKeys),
    Wide(Sorter<u128>),
}

impl ReverseSort {
    /// A page's rows. Into the transpose, in three passes: at full size, the cells of the
    /// buckets' table (4 MB) and the ends of the buckets' buffers were each a cache miss
    /// a row, on the thread that holds up the phase, so each pass fetches what the next
    /// needs.
    fn push_page(&mut self, from: u32, rows: &[(u8, u32, i32)]) -> std::io::Result<()> {
        match self {
            ReverseSort::Transpose(t, buckets) => {
                for &(_, tid, _) in rows {
                    buckets.prefetch(tid);
                }
                let mut places = std::mem::take(&mut buckets.places);
                places.clear();
                for &(kind, tid, ns) in rows {
                    let (bucket, key) = buckets.place(kind, tid, ns);
                    t.prefetch(bucket);
                    places.push((bucket, key));
                }
                for &(bucket, key) in &places {
                    t.push(bucket, key, from)?;
                }
                buckets.places = places;
                Ok(())
            }
            ReverseSort::Narrow(s, keys) => rows
                .iter()
                .try_for_each(|&(kind, tid, ns)| s.push(keys.pack(kind, tid, ns, from))),
            ReverseSort::Wide(s) => rows
                .iter()
                .try_for_each(|&(kind, tid, ns)| s.push(pack(kind, tid, ns, from))),
        }
    }
}

/// A page's forward rows put in (kind, target) order. They come by kind (a page's rows share
/// its namespace) with their targets' ids as given, and the map to final ids keeps the
/// order of all but the most linked (`1..=first`), which go before the rest: so each
/// kind's most linked are sorted and put before its others, and the page is sorted whole
/// only when that does not give the order (rows of a missing page in several namespaces).
/// At full size, sorting every page was a sixth of the thread that holds up the phase.
fn order_page(rows: &mut Vec<(u8, u32, i32)>, ordered: &mut Vec<(u8, u32, i32)>, first: u32) {
    ordered.clear();
    for kind in rows.chunk_by(|a, b| a.0 == b.0) {
        let at = ordered.len();
        ordered.extend(kind.iter().filter(|r| r.1 <= first));
        ordered[at..].sort_unstable_by_key(|r| r.1);
        ordered.extend(kind.iter().filter(|r| r.1 > first));
    }
    if ordered.is_sorted_by_key(|&(k, t, _)| (k, t)) {
        std::mem::swap(rows, ordered);
    } else {
        rows.sort_unstable_by_key(|&(k, t, _)| (k, t));
    }
}

/// The id order kept for target ids given from `base` on (`final_of`), the others as they
/// are.
fn given_id(final_of: &[u32], base: u32, tid: u32) -> u32 {
    match tid.checked_sub(base) {
        Some(new) => final_of[new as usize],
        None => tid,
    }
}

/// Sorted title lists between the passes: `varint(shared) varint(rest len) rest
/// varint(id << 1 | flag)`, each key sharing its first `shared` bytes with the one before.
/// Titles in order share much (their namespace, most of a prefix): front-coded they are
/// about half the bytes, and each byte of scratch written costs (at full size, these files
/// held several GB).
struct TitleFile {
    w: BufWriter<File>,
    file: Scratch,
    /// A row's varints, in a buffer reused (not allocated a title).
    head: Vec<u8>,
    prev: Vec<u8>,
}

impl TitleFile {
    fn create(dir: &Path, what: &str) -> R<Self> {
        let file = scratch(dir, what);
        let w = BufWriter::with_capacity(1 << 20, File::create(&file.0)?);
        Ok(TitleFile {
            w,
            file,
            head: Vec::with_capacity(16),
            prev: Vec::new(),
        })
    }

    fn push(&mut self, key: &[u8], id: u32, flag: bool) -> R<()> {
        let shared = crate::sorter::common_prefix(&self.prev, key);
        let head = &mut self.head;
        head.clear();
        put_varint(head, shared as u64);
        put_varint(head, (key.len() - shared) as u64);
        self.w.write_all(head)?;
        self.w.write_all(&key[shared..])?;
        head.clear();
        put_varint(head, u64::from(id) << 1 | u64::from(flag));
        self.w.write_all(head)?;
        self.prev.truncate(shared);
        self.prev.extend_from_slice(&key[shared..]);
        Ok(())
    }

    fn done(mut self) -> R<Scratch> {
        self.w.flush()?;
        Ok(self.file)
    }
}

/// Reads a [`TitleFile`].
struct TitleReader {
    r: BufReader<File>,
    /// The title read last.
    prev: Vec<u8>,
}

impl TitleReader {
    fn open(s: &Scratch) -> R<Self> {
        Ok(TitleReader {
            r: BufReader::with_capacity(1 << 20, File::open(&s.0)?),
            prev: Vec::new(),
        })
    }

    fn varint(&mut self) -> R<Option<u64>> {
        Ok(crate::sorter::read_varint(&mut self.r)?)
    }

    /// The next title into `key` (its buffer reused), with its id and flag.
    fn read(&mut self, key: &mut Vec<u8>) -> R<Option<(u32, bool)>> {
        let Some(shared) = self.varint()? else {
            return Ok(None);
        };
        let cut = || redb::Error::Corrupted("bulk load: scratch file cut".into());
        let rest = self.varint()?.ok_or_else(cut)?;
        let shared = usize::try_from(shared)
            .ok()
            .filter(|&s| s <= self.prev.len())
            .ok_or_else(malformed)?;
        let len = usize::try_from(rest)
            .ok()
            .and_then(|r| r.checked_add(shared))
            .ok_or_else(malformed)?;
        self.prev.resize(len, 0);
        self.r.read_exact(&mut self.prev[shared..])?;
        key.clear();
        key.extend_from_slice(&self.prev);
        let v = self.varint()?.ok_or_else(cut)?;
        Ok(Some(((v >> 1) as u32, v & 1 != 0)))
    }
}

/// The pages titles name, for titles asked in dictionary order: a merge with the sorted
/// page titles.
struct PageNames {
    read: Option<TitleReader>,
    /// The page title read last and its page, if any is left.
    title: Vec<u8>,
    page: Option<u32>,
}

impl PageNames {
    fn open(page_titles: Option<&Scratch>) -> R<Self> {
        let mut names = PageNames {
            read: page_titles.map(TitleReader::open).transpose()?,
            title: Vec::new(),
            page: None,
        };
        names.step()?;
        Ok(names)
    }

    fn step(&mut self) -> R<()> {
        self.page = match self.read.as_mut() {
            Some(r) => r.read(&mut self.title)?.map(|(id, _)| id),
            None => None,
        };
        Ok(())
    }

    /// The id of the page titled `title` (a title key), if any; titles come ascending.
    fn page_of(&mut self, title: &[u8]) -> R<Option<u32>> {
        while self.page.is_some() && self.title.as_slice() < title {
            self.step()?;
        }
        Ok(self.page.filter(|_| self.title.as_slice() == title))
    }
}

/// Which rows name an id (a page id, a target key: below 2³²) that a later row names
/// again: the last row to name an id wins. A bit per id, in memory touched only where ids
/// fall, and the ids named twice with the row that named them last: no sort of the rows
/// by id.
#[derive(Default)]
struct LastRows {
    seen: Option<MmapMut>,
    twice: HashMap<u32, u64>,
}

impl LastRows {
    /// Row `seq` names `id`.
    fn note(&mut self, id: u32, seq: u64) -> R<()> {
        if self.seen.is_none() {
            self.seen = Some(cells(1 << 29)?);
        }
        let seen = self.seen.as_mut().expect("made");
        let (byte, bit) = ((id / 8) as usize, 1u8 << (id % 8));
        if seen[byte] & bit != 0 {
            self.twice.insert(id, seq);
        }
        seen[byte] |= bit;
        Ok(())
    }

    /// Frees the bits; what `is_last` answers stays.
    fn seal(&mut self) {
        self.seen = None;
    }

    /// Whether row `seq`, naming `id`, is the last row to name it.
    fn is_last(&self, id: u32, seq: u64) -> bool {
        self.twice.is_empty() || self.twice.get(&id).is_none_or(|&last| last == seq)
    }
}

/// Writes of `N`-byte cells at random places in a large array, each made [`AHEAD`] writes
/// after it is asked for, its cell prefetched meanwhile. Written at once, each waited on a
/// cache miss: at 10 M pages that was 1.4 s of the link targets' 5 s settle, and 0.8 s of
/// the pages' 2.5 s.
struct Scatter<const N: usize> {
    pending: [(usize, [u8; N]); AHEAD],
    asked: usize,
}

/// Writes a [`Scatter`] holds back.
const AHEAD: usize = 16;

impl<const N: usize> Scatter<N> {
    fn new() -> Self {
        Scatter {
            pending: [(0, [0; N]); AHEAD],
            asked: 0,
        }
    }

    /// Sets cell `i` (bytes `i * N ..` of `cells`) to `value`, soon.
    fn set(&mut self, cells: &mut [u8], i: usize, value: [u8; N]) {
        let at = i * N;
        prefetch(&cells[at..at + N]);
        let slot = &mut self.pending[self.asked % AHEAD];
        if self.asked >= AHEAD {
            let (at, value) = *slot;
            cells[at..at + N].copy_from_slice(&value);
        }
        *slot = (at, value);
        self.asked += 1;
    }

    /// Makes the writes still pending, in the order they were asked for.
    fn finish(self, cells: &mut [u8]) {
        for i in self.asked.saturating_sub(AHEAD)..self.asked {
            let (at, value) = self.pending[i % AHEAD];
            cells[at..at + N].copy_from_slice(&value);
        }
    }
}

/// A load this loader cannot take (its input, not the index, is at fault): reported as
/// `StoreError::Invalid`.
/// One more link row naming `tid` (ids given after the counts were sized grow them).
fn count_link(links_to: &mut Vec<u16>, tid: u32) {
    let at = tid as usize;
    if at >= links_to.len() {
        links_to.resize(at + 1, 0);
    }
    links_to[at] = links_to[at].saturating_add(1);
}

/// Target ids with the most linked targets first. A page's forward list holds, besides
/// its neighbours (close in the order targets are given: page-id order), links drawn by
/// popularity from anywhere: with the few most linked targets together at the start they
/// cost about a bit less a link (13.85 → 12.93 bits a forward link at 3.6 M generated
/// pages, with 1 in 256 targets first; 1 in 64 gained 0.07 bits more, and all in
/// popularity order lost the neighbours: 14.60). Every link row's id is mapped as it
/// leaves the forward sort, at random: the map is a bit per id, in cache lines that each
/// hold the count of ones before them, so that an id costs one line.
struct FirstIds {
    /// How many ids go to the most linked: 1 to `first`.
    first: u32,
    /// By id as given: whether it is one of the most linked.
    lines: Vec<RankLine>,
    /// The final ids of the most linked, in the order of their ids as given.
    ids: Vec<u32>,
}

/// 448 ids' bits and the ones before them: one cache line.
#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct RankLine {
    before: u32,
    words: [u64; 7],
}

const LINE_IDS: u32 = 7 * 64;

impl FirstIds {
    /// From the link rows of each id as it was first given (`links_to`, ids from 1) and
    /// the id it is given by the order kept otherwise (`given`, a permutation).
    fn new(links_to: &[u16], given: impl Fn(u32) -> u32) -> Self {
        use std::cmp::Reverse;
        let end = links_to.len().max(1) as u32;
        let first = (end - 1) / 256;
        // The `first` most linked (ties: the earlier id), by a min-heap of the best so far.
        let mut best = std::collections::BinaryHeap::with_capacity(first as usize + 1);
        if first > 0 {
            for tid in 1..end {
                let entry = Reverse((links_to[tid as usize], Reverse(given(tid))));
                if best.len() < first as usize {
                    best.push(entry);
                } else if best.peek().is_some_and(|least| entry < *least) {
                    best.pop();
                    best.push(entry);
                }
            }
        }
        // The most linked first (`Reverse`s sorted ascending).
        let top: Vec<u32> = best
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse((_, Reverse(id)))| id)
            .collect();
        let mut lines = vec![RankLine::default(); end.div_ceil(LINE_IDS) as usize];
        for &id in &top {
            let (line, at) = ((id / LINE_IDS) as usize, id % LINE_IDS);
            lines[line].words[at as usize / 64] |= 1 << (at % 64);
        }
        let mut ones = 0u32;
        for line in &mut lines {
            line.before = ones;
            ones += line.words.iter().map(|w| w.count_ones()).sum::<u32>();
        }
        let mut map = FirstIds {
            first,
            lines,
            ids: vec![0; top.len()],
        };
        for (i, &id) in top.iter().enumerate() {
            let (_, at) = map.passed(id);
            map.ids[at as usize] = 1 + i as u32;
        }
        map
    }

    /// The final ids of `ids` (as given), in place. Asked in the order of the forward
    /// rows, the ids fall at random over the map (9 MB at full size), so each line is
    /// fetched some ids ahead; a popcount without the instruction is a dozen others.
    /// `heavy` is scratch: the places of the most linked, whose final ids are read in a
    /// second pass, each fetched in the first (read at once, they were two fifths of
    /// the map's time at full size).
    fn map_all(&self, ids: &mut [u32], heavy: &mut Vec<u32>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU was just found to have POPCNT.
            return unsafe { self.map_all_popcnt(ids, heavy) };
        }
        self.map_all_in(ids, heavy)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn map_all_popcnt(&self, ids: &mut [u32], heavy: &mut Vec<u32>) {
        self.map_all_in(ids, heavy)
    }

    #[inline(always)]
    fn map_all_in(&self, ids: &mut [u32], heavy: &mut Vec<u32>) {
        const AHEAD: usize = 16;
        heavy.clear();
        for i in 0..ids.len() {
            if let Some(line) = ids
                .get(i + AHEAD)
                .and_then(|&n| self.lines.get((n / LINE_IDS) as usize))
            {
                crate::prefetch(line);
            }
            ids[i] = match self.passed(ids[i]) {
                (true, at) => {
                    if let Some(cell) = self.ids.get(at as usize) {
                        crate::prefetch(cell);
                    }
                    heavy.push(i as u32);
                    at
                }
                (false, passed) => ids[i] + self.first - passed,
            };
        }
        for &i in heavy.iter() {
            let id = &mut ids[i as usize];
            *id = self.ids[*id as usize];
        }
    }

    /// Whether `id` (as given) is one of the most linked, and how many of those come
    /// before it.
    #[inline(always)]
    fn passed(&self, id: u32) -> (bool, u32) {
        let line = &self.lines[(id / LINE_IDS) as usize];
        let at = id % LINE_IDS;
        let (w, bit) = (at as usize / 64, at % 64);
        // Every word counted, masked: a loop over the words before took as many turns as
        // the id's place in the line, a branch mispredicted about once an id.
        let mut below = line.before;
        for (j, &word) in line.words.iter().enumerate() {
            let mask = match j.cmp(&w) {
                std::cmp::Ordering::Less => u64::MAX,
                std::cmp::Ordering::Equal => (1u64 << bit) - 1,
                std::cmp::Ordering::Greater => 0,
            };
            below += (word & mask).count_ones();
        }
        (line.words[w] >> bit & 1 != 0, below)
    }

    /// The final id of `id` (as given): the others keep their order, after the first.
    #[inline(always)]
    fn id(&self, id: u32) -> u32 {
        match self.passed(id) {
            (true, at) => self.ids[at as usize],
            (false, passed) => id + self.first - passed,
        }
    }
}

fn refuse(why: &str) -> redb::Error {
    redb::Error::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("bulk load: {why}"),
    ))
}

/// Zeroed memory the kernel hands out as it is touched: arrays indexed by page id and by
/// target key stay small when those are sparse.
fn cells(len: u64) -> R<MmapMut> {
    let len = usize::try_from(len.max(1)).map_err(|_| refuse("ids out of range"))?;
    Ok(MmapMut::map_anon(len)?)
}

/// [`cells`] for an array that `used` bytes of fill about evenly (ids given densely, as
/// dumps give them): in huge pages where the kernel has them, as each 4 KiB page would be
/// touched anyway. Its cells are read and written at random, one a link row: at the full
/// size the key → target id array is 264 MB, 64 K small pages, and nearly every look in it
/// missed the TLB.
fn dense_cells(len: u64, used: u64) -> R<MmapMut> {
    let m = cells(len)?;
    // A hint: where it is refused (no transparent huge pages), small pages do.
    #[cfg(target_os = "linux")]
    if used.saturating_mul(64) >= len {
        let _ = m.advise(memmap2::Advice::HugePage);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = used;
    Ok(m)
}

pub(super) struct Loader<'s> {
    store: &'s RedbStore,
    phase: Phase,
    /// Page rows by title: value = seq (8) ‖ id (4) ‖ redirect (1).
    pages: Option<RecordSorter>,
    /// The page rows that give their id last.
    page_ids: LastRows,
    page_rows: u64,
    max_page: u32,
    /// Link targets by title: value = key (8) ‖ seq (8).
    targets: Option<RecordSorter>,
    target_rows: u64,
    max_key: u64,
    /// The target rows that name their key last.
    keys: LastRows,
    /// After the pages: each page id's namespace as an index into `namespaces`, plus one
    /// (0: no page).
    page_ns: Option<MmapMut>,
    namespaces: Vec<i32>,
    page_titles: Option<Scratch>,
    /// After the targets: each key's cell ([`KEY_CELL`]): its target id (0: none) and the
    /// link rows naming it so far, so that the most linked get the first ids
    /// ([`FirstIds`]). One cell, fetched once a row: apart, the two were a cache miss each
    /// (at full size 264 and 132 MB, the key random in both).
    tids: Option<MmapMut>,
    /// After the targets: their titles in order, each with its rank, and each rank's
    /// target id (little-endian u32).
    target_titles: Option<(Scratch, MmapMut)>,
    next_tid: u32,
    /// The link rows naming each target by id, for rows naming their target by title (by
    /// key, they are counted in `tids`). Saturating: past 65,535 rows (at full size the
    /// first 1,400 or so) only the order kept tells targets apart.
    links_to: Vec<u16>,
    forward: ForwardRows,
    /// What the forward rows hold, for packing the reverse ones.
    seen: Seen,
    /// Rows needing a title looked up: key = the title, value = a [`Titled`] row.
    titled: RecordSorter,
    /// Redirect rows by page: key = from (4) ‖ seq (8), value = owner (8) ‖ the row.
    redirects: RecordSorter,
    /// The page rows (by seq) that hold their page when the pages are settled: rows given
    /// with a page row (`page_with_links`) name it as their owner and go if it did not.
    survived: Vec<u64>,
    /// Whether any row came with a page row (else `survived` is not kept: nothing asks).
    owned: bool,
    redirect_rows: u64,
    /// The budgets of the sorts made at the end: small ones, and the reverse index's.
    small: usize,
    big: usize,
    /// A title key's bytes, reused row after row.
    key: Vec<u8>,
}

use std::collections::HashMap;
use std::fs::File;

impl<'s> Loader<'s> {
    pub(super) fn new(store: &'s RedbStore) -> Self {
        Self::with_budgets(store, TITLES_BUDGET, SMALL_BUDGET, DEFAULT_BUDGET)
    }

    fn with_budgets(store: &'s RedbStore, titles: usize, small: usize, big: usize) -> Self {
        let dir = &store.dir;
        Loader {
            store,
            phase: Phase::Pages,
            pages: Some(RecordSorter::new(dir, titles)),
            page_ids: LastRows::default(),
            page_rows: 0,
            max_page: 0,
            targets: Some(RecordSorter::new(dir, titles)),
            target_rows: 0,
            max_key: 0,
            keys: LastRows::default(),
            page_ns: None,
            namespaces: Vec::new(),
            page_titles: None,
            tids: None,
            target_titles: None,
            next_tid: 1,
            links_to: Vec::new(),
            forward: ForwardRows::new(dir, KINDS, big),
            seen: Seen::default(),
            // Every link row of a dump of page texts, which has no link target ids.
            titled: RecordSorter::new(dir, titles),
            redirects: RecordSorter::new(dir, small),
            survived: Vec::new(),
            owned: false,
            redirect_rows: 0,
            small,
            big,
            key: Vec::new(),
        }
    }

    fn err<E: Into<redb::Error>>(&self) -> impl Fn(E) -> StoreError + '_ {
        |e| match e.into() {
            redb::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidInput => {
                StoreError::Invalid(io.to_string())
            }
            e => self.store.err()(e),
        }
    }

    /// Moves on to `phase`, settling the pages and then the targets on the way.
    fn reach(&mut self, phase: Phase) -> R<()> {
        if self.phase < Phase::Targets && phase >= Phase::Targets {
            self.settle_pages()?;
            self.phase = Phase::Targets;
        }
        if self.phase < Phase::Links && phase >= Phase::Links {
            self.settle_targets()?;
            self.phase = Phase::Links;
        }
        Ok(())
    }

    /// Keeps each page's last row, unless a later row of another page took its title; files
    /// the survivors' titles (in dictionary order) and namespaces.
    fn settle_pages(&mut self) -> R<()> {
        let Some(pages) = self.pages.take() else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        self.page_ids.seal();
        let page_ids = std::mem::take(&mut self.page_ids);
        // A bit per page row, set at random (rows come by title): at full size, a quarter
        // of the settle waited on its cache misses. Only owned rows ask for it.
        let owned = self.owned;
        let mut survived = vec![
            0u64;
            if owned {
                (self.page_rows as usize).div_ceil(64)
            } else {
                0
            }
        ];
        let mut page_ns = dense_cells(u64::from(self.max_page) + 1, self.page_rows)?;
        let mut out = TitleFile::create(&self.store.dir, "pages")?;
        let namespaces = &mut self.namespaces;
        let mut ns_of = Scatter::new();
        // A title's last row, if it is also its id's last, holds the title.
        let mut keep = |key: &[u8], value: &[u8]| -> R<()> {
            let (seq, id, redirect) = (be64(value, 0), be32(value, 8), value[12] != 0);
            if !page_ids.is_last(id, seq) {
                return Ok(());
            }
            if owned {
                survived[(seq / 64) as usize] |= 1 << (seq % 64);
            }
            let ns = title_ns(key)?;
            let idx = match namespaces.iter().position(|&n| n == ns) {
                Some(i) => i,
                None if namespaces.len() < 255 => {
                    namespaces.push(ns);
                    namespaces.len() - 1
                }
                None => return Err(refuse("pages in more than 255 namespaces")),
            };
            ns_of.set(&mut page_ns, id as usize, [idx as u8 + 1]);
            out.push(key, id, redirect)
        };
        // Each row is held (in buffers reused, not allocated a row) until the next shows
        // whether it was its title's last.
        let mut sorted = pages.finish()?.ahead();
        let (mut key, mut value) = (Vec::new(), Vec::new());
        let mut held = false;
        loop {
            let next = sorted.next_ref().transpose()?;
            let same_title = next.is_some_and(|(k, _)| held && k == key.as_slice());
            if held && !same_title {
                keep(&key, &value)?;
            }
            let Some((k, v)) = next else { break };
            key.clear();
            key.extend_from_slice(k);
            value.clear();
            value.extend_from_slice(v);
            held = true;
        }
        ns_of.finish(&mut page_ns);
        self.page_ns = Some(page_ns);
        self.survived = survived;
        self.page_titles = Some(out.done()?);
        tracing::info!(
            rows = self.page_rows,
            secs = started.elapsed().as_secs_f64(),
            "bulk load: page titles sorted"
        );
        Ok(())
    }

    /// Gives each distinct target title an id and maps keys to them. Ids follow the ids of
    /// the pages the titles name (titles naming no page come after, in title order): pages
    /// made together link each other, so a page's targets then lie close together in
    /// target ids, as its links do in page ids, and its forward lists code small.
    fn settle_targets(&mut self) -> R<()> {
        let Some(targets) = self.targets.take() else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        self.keys.seal();
        let dir = self.store.dir.clone();
        // In title order: each title's rank (from 1), by key; and by page, the rank of the
        // title naming it (a page has one title, so the pages' order is had by counting,
        // with no sort).
        let mut ranks = dense_cells(
            (self.max_key + 1) * KEY_CELL as u64,
            self.target_rows * KEY_CELL as u64,
        )?;
        let mut rank_of_page = dense_cells((u64::from(self.max_page) + 1) * 4, self.page_rows * 4)?;
        let mut by_title = TitleFile::create(&dir, "targets-ranked")?;
        let mut pages = PageNames::open(self.page_titles.as_ref())?;
        let mut rank = 0u32;
        let (mut scatter, mut by_page) = (Scatter::new(), Scatter::new());
        // The title before, in a buffer reused (`rank` 0: none yet).
        let mut last = Vec::new();
        let mut sorted = targets.finish()?.ahead();
        while let Some(rec) = sorted.next_ref() {
            let (title, value) = rec?;
            if rank == 0 || last != title {
                rank = rank
                    .checked_add(1)
                    .filter(|&r| r < u32::MAX)
                    .ok_or_else(|| refuse("more link targets than ids"))?;
                // Not namespace first: that keeps a link kind's targets (templates,
                // categories) in fewer groups of the reverse tables, but splits a page's
                // neighbours by namespace (at 1 M generated pages, 4.4 MB more in all).
                if let Some(pid) = pages.page_of(title)? {
                    by_page.set(&mut rank_of_page, pid as usize, rank.to_le_bytes());
                }
                by_title.push(title, rank, false)?;
                last.clear();
                last.extend_from_slice(title);
            }
            let (key, seq) = (be64(value, 0), be64(value, 8));
            if !self.keys.is_last(key as u32, seq) {
                continue;
            }
            scatter.set(&mut ranks, key as usize, key_cell(rank, 0));
        }
        scatter.finish(&mut ranks);
        by_page.finish(&mut rank_of_page);
        drop((sorted, pages));
        // Ids: to the titles naming pages, by page; then to the others, by rank.
        let mut tid_of = dense_cells((u64::from(rank) + 1) * 4, u64::from(rank) * 4)?;
        let mut next_tid = self.next_tid;
        let mut give = || -> R<u32> {
            let tid = next_tid;
            next_tid = tid
                .checked_add(1)
                .filter(|&t| t < u32::MAX)
                .ok_or_else(|| refuse("more link targets than ids"))?;
            Ok(tid)
        };
        let mut scatter = Scatter::new();
        for page in 0..rank_of_page.len() / 4 {
            let rank = cell(&rank_of_page, page);
            if rank != 0 {
                scatter.set(&mut tid_of, rank as usize, give()?.to_le_bytes());
            }
        }
        scatter.finish(&mut tid_of);
        drop(rank_of_page);
        for r in 1..=rank as usize {
            if cell(&tid_of, r) == 0 {
                tid_of[r * 4..r * 4 + 4].copy_from_slice(&give()?.to_le_bytes());
            }
        }
        self.next_tid = next_tid;
        for key in ranks.chunks_exact_mut(KEY_CELL) {
            let rank = u32::from_le_bytes(key[..4].try_into().expect("four bytes"));
            if rank != 0 {
                key[..4].copy_from_slice(&cell(&tid_of, rank as usize).to_le_bytes());
            }
        }
        self.keys = LastRows::default();
        self.tids = Some(ranks);
        // The titles stay by rank, read once more (by the titled rows) through `tid_of`:
        // no rewrite of them all with their ids.
        self.target_titles = Some((by_title.done()?, tid_of));
        tracing::info!(
            rows = self.target_rows,
            secs = started.elapsed().as_secs_f64(),
            "bulk load: link target titles sorted"
        );
        Ok(())
    }

    fn push_titled(
        &mut self,
        from: PageId,
        ns: NamespaceId,
        kind: LinkKind,
        title: &Title,
        owner: u64,
    ) -> Result<()> {
        title_key_into(&mut self.key, title.ns, &title.dbkey);
        self.titled
            .push(
                &self.key,
                &Titled::Link {
                    from: from.0,
                    kind: kind as u8,
                    ns,
                    owner,
                }
                .encode(),
            )
            .map_err(StoreError::Io)
    }

    fn push_redirect(&mut self, from: PageId, redirect: &RedirectRow, owner: u64) -> Result<()> {
        let mut key = [0u8; 12];
        key[..4].copy_from_slice(&from.0.to_be_bytes());
        key[4..].copy_from_slice(&self.redirect_rows.to_be_bytes());
        self.redirect_rows += 1;
        let mut value = owner.to_be_bytes().to_vec();
        value.extend_from_slice(&encode_redirect(redirect));
        self.redirects.push(&key, &value).map_err(StoreError::Io)
    }

    /// The namespace a link row from `from` is filed under.
    fn ns_of(&self, from: u32, from_ns: i32) -> i32 {
        match self.page_ns.as_ref().and_then(|m| m.get(from as usize)) {
            Some(&i) if i > 0 => self.namespaces[usize::from(i - 1)],
            _ => from_ns,
        }
    }

    fn run_finish(&mut self) -> R<()> {
        self.reach(Phase::Links)?;
        let started = std::time::Instant::now();
        tracing::info!("bulk load: redirects and titled rows");
        let store = self.store;
        let dir = store.dir.clone();
        let mut txn = store.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(|e| redb::Error::Io(std::io::Error::other(e.to_string())))?;
        if !index_is_empty(&txn)? {
            return Err(refuse("the index was written to during the load"));
        }
        let seq = meta_u64(&txn.open_table(META)?, SEQ_KEY)?.unwrap_or(0) + 1;

        // Redirect rows (a page's last one that stays) look up their targets with the
        // titled rows; those with a fragment or to another wiki keep their rows, in page
        // order, for the segment's redirects (in memory, some 70 bytes each: section
        // redirects are a minority of a wiki's, and the generator makes none).
        let mut apart: Vec<(u32, Box<[u8]>)> = Vec::new();
        {
            let redirects = std::mem::replace(&mut self.redirects, RecordSorter::new(&dir, 0));
            let survived = &self.survived;
            let mut sorted = redirects
                .finish()?
                .filter(|rec| {
                    rec.as_ref()
                        .map_or(true, |(_, v)| owner_stays(survived, be64(v, 0)))
                })
                .peekable();
            while let Some(rec) = sorted.next() {
                let (key, value) = rec?;
                let from = be32(&key, 0);
                if let Some(Ok((next, _))) = sorted.peek() {
                    if be32(next, 0) == from {
                        continue;
                    }
                }
                let (ns, dbkey, fragment, interwiki) = decode_redirect(&value[8..])?;
                if interwiki.is_empty() {
                    let v = Titled::Redirect { from }.encode();
                    self.titled.push(&title_key(ns, dbkey), &v)?;
                }
                if !(fragment.is_empty() && interwiki.is_empty()) {
                    apart.push((from, value[8..].into()));
                }
            }
        }

        // Rows named by title meet the targets' titles; titles not among them get ids.
        // Local redirects: from << 32 | target id (as given here; mapped when written).
        let mut redirect_from = Sorter::new(&dir, self.small);
        let (targets, tid_of) = self.target_titles.take().expect("settled");
        let mut known = TitleReader::open(&targets)?;
        // The next known title into the buffer given, and its id (the closure owns the
        // reader and the ids, so that dropping it lets them go).
        let mut read_known = move |title: &mut Vec<u8>| -> R<Option<u32>> {
            Ok(known
                .read(title)?
                .map(|(rank, _)| cell(&tid_of, rank as usize)))
        };
        let mut out = TitleFile::create(&dir, "all-targets")?;
        // The known title read last (in a buffer reused) and its id, if any is left.
        let mut known_title = Vec::new();
        let mut known_tid = read_known(&mut known_title)?;
        let titled = std::mem::replace(&mut self.titled, RecordSorter::new(&dir, 0));
        // The title of the rows before and its id (`None`: no row yet).
        let mut current_title = Vec::new();
        let mut current_tid: Option<u32> = None;
        // New titles take ids from `base` on in title order for now; once all are known
        // they are given the order of the page ids of the pages they name, as keyed
        // targets are (`settle_targets`), and every row's id is mapped on the way out.
        let base = self.next_tid;
        let mut order = Sorter::new(&dir, self.small);
        let mut pages = PageNames::open(self.page_titles.as_ref())?;
        let mut sorted = titled.finish()?.ahead();
        while let Some(rec) = sorted.next_ref() {
            let (title, value) = rec?;
            let tid = match current_tid {
                Some(tid) if current_title == title => tid,
                _ => {
                    while let Some(tid) = known_tid.filter(|_| known_title.as_slice() < title) {
                        out.push(&known_title, tid, false)?;
                        known_tid = read_known(&mut known_title)?;
                    }
                    let tid = match known_tid.filter(|_| known_title.as_slice() == title) {
                        Some(tid) => {
                            out.push(&known_title, tid, false)?;
                            known_tid = read_known(&mut known_title)?;
                            tid
                        }
                        None => {
                            let tid = self.next_tid;
                            self.next_tid = tid
                                .checked_add(1)
                                .ok_or_else(|| refuse("more link targets than ids"))?;
                            let pid = pages.page_of(title)?.unwrap_or(u32::MAX);
                            order.push((u128::from(pid) << 32) | u128::from(tid - base))?;
                            out.push(title, tid, false)?;
                            tid
                        }
                    };
                    current_title.clear();
                    current_title.extend_from_slice(title);
                    current_tid = Some(tid);
                    tid
                }
            };
            match Titled::decode(value)? {
                Titled::Link {
                    from,
                    kind,
                    ns,
                    owner,
                } => {
                    if owner_stays(&self.survived, owner) {
                        self.seen.note(from, ns);
                        self.forward.push_any(from, kind, tid, ns)?;
                        count_link(&mut self.links_to, tid);
                    }
                }
                Titled::Redirect { from } => {
                    redirect_from.push((u128::from(from) << 32) | u128::from(tid))?;
                }
            }
        }
        while let Some(tid) = known_tid {
            out.push(&known_title, tid, false)?;
            known_tid = read_known(&mut known_title)?;
        }
        // The titled runs go before the big sorts.
        drop((sorted, read_known, targets, pages));
        let all_targets = out.done()?;
        let mut final_of = vec![0u32; (self.next_tid - base) as usize];
        for (i, k) in order.finish()?.enumerate() {
            final_of[k? as u32 as usize] = base + i as u32;
        }
        let final_arc = Arc::new(final_of);
        let final_of = &*final_arc;
        let given = move |tid: u32| given_id(final_of, base, tid);
        // The most linked targets first, the rest in the order given above.
        let mut links_to = std::mem::take(&mut self.links_to);
        links_to.resize(self.next_tid as usize, 0);
        if let Some(tids) = &self.tids {
            for key in tids.chunks_exact(KEY_CELL) {
                let (tid, n) = split_key_cell(key);
                if n > 0 {
                    let n = u16::try_from(n).unwrap_or(u16::MAX);
                    links_to[tid as usize] = links_to[tid as usize].saturating_add(n);
                }
            }
        }
        let first_arc = Arc::new(FirstIds::new(&links_to, given));
        let first = &*first_arc;
        let buckets = ReverseBuckets::new(&links_to, given, first, &self.seen);
        drop(links_to);
        let remap = move |tid: u32| first.id(given(tid));
        // No row comes any more: the arrays from keys and page ids go before the big sorts.
        self.tids = None;
        self.page_ns = None;

        tracing::info!(
            secs = started.elapsed().as_secs_f64(),
            "bulk load: forward entries and the reverse sort"
        );
        // The segment: forward entries by page, posting lists by target, then the titles.
        let new_id = 1;
        let tmp = dir.join(format!("links-{new_id}.tmp"));
        let page_titles = self.page_titles.take().expect("settled");
        let built = std::thread::scope(|scope| -> R<()> {
            // The title tables need nothing of the link rows: another thread writes them
            // meanwhile, and they are spliced in after the reverse index. Their slots get
            // room at once (a title per target id, per page row at most), not by doublings
            // that hold the old buffer and the new.
            let (target_ids, page_rows) = (u64::from(self.next_tid), self.page_rows);
            let (dir, all_targets, page_titles) = (&dir, &all_targets, &page_titles);
            // Nor do the redirects, written while the reverse index is (below).
            let write_redirects = move || -> R<Vec<u8>> {
                let mut w = RedirectsWriter::default();
                let mut next = 0;
                for k in redirect_from.finish()? {
                    let k = k?;
                    let from = (k >> 32) as u32;
                    // Those to other wikis, before this page.
                    while let Some(&(other, _)) = apart.get(next).filter(|a| a.0 < from) {
                        push_redirect(&mut w, &apart, &mut next, other, None)?;
                    }
                    push_redirect(&mut w, &apart, &mut next, from, Some(remap(k as u32)))?;
                }
                while let Some(&(other, _)) = apart.get(next) {
                    push_redirect(&mut w, &apart, &mut next, other, None)?;
                }
                let mut section = Vec::new();
                if !w.is_empty() {
                    w.write(&mut section);
                }
                Ok(section)
            };
            // The page table on a thread of its own, and the target table on another, in one
            // walk by title with the pages: a target that is a page comes just after it,
            // and shares its title. The target table's pairs centre the reverse lists, so
            // they are wanted before the reverse index. The pages' dictionary, most of the
            // titles' work, is written while the reverse index is: that phase leaves a third
            // of a core idle, where the forward entries' phase before it leaves none.
            let write_pages = move || -> R<TitlesWritten> {
                let mut table = TitlesApart::create(dir, page_rows)?;
                let mut pages = TitleReader::open(page_titles)?;
                let mut pk = Vec::new();
                while let Some((id, redirect)) = pages.read(&mut pk)? {
                    let (ns, dbkey) = split_title_key(&pk)?;
                    table.push(ns, dbkey, id, redirect)?;
                }
                Ok(table.finish()?)
            };
            let titles = scope.spawn(move || -> R<TitlesWritten> {
                let mut tables = TitleTablesApart::targets_only(dir, target_ids)?;
                // Their titles are pages' anywhere in page-id order.
                tables.list_shared_below(1 + first.first);
                let mut targets = TitleReader::open(all_targets)?;
                let mut pages = TitleReader::open(page_titles)?;
                let (mut tk, mut pk) = (Vec::new(), Vec::new());
                let mut target = targets.read(&mut tk)?;
                let mut page = pages.read(&mut pk)?;
                loop {
                    match (target, page) {
                        (Some((tid, _)), p) if p.is_none() || tk < pk => {
                            let (ns, dbkey) = split_title_key(&tk)?;
                            tables.push_target(ns, dbkey, remap(tid))?;
                            target = targets.read(&mut tk)?;
                        }
                        (_, Some((id, redirect))) => {
                            let (ns, dbkey) = split_title_key(&pk)?;
                            tables.push_page(ns, dbkey, id, redirect)?;
                            page = pages.read(&mut pk)?;
                        }
                        _ => break,
                    }
                }
                Ok(tables.finish_targets()?)
            });
            let mut w = SegmentWriter::create(&tmp)?;
            // Every target id is given out by now.
            let universe = u64::from(self.next_tid);
            w.set_forward_universe(universe);
            let mut reverse = match (buckets, NarrowKeys::new(&self.seen, self.next_tid)) {
                (Some(b), _) => {
                    ReverseSort::Transpose(Transpose::new(dir, b.buckets(), b.ns_bits, self.big), b)
                }
                (None, Some(keys)) => ReverseSort::Narrow(Sorter::new(dir, self.big), keys),
                (None, None) => ReverseSort::Wide(Sorter::new(dir, self.big)),
            };
            let forward = std::mem::replace(&mut self.forward, ForwardRows::new(dir, 0, 0));
            // The forward entries are coded (and written) on a thread of their own, given
            // the rows a batch of pages at a time, while this one streams them into the
            // reverse sort: coding them was most of this thread's time, and it held up
            // the phase.
            type Rows = Vec<(u32, u8, u32, i32)>;
            let (batches, batches_rx) = std::sync::mpsc::sync_channel::<Rows>(2);
            let (spare_tx, spare) = std::sync::mpsc::channel::<Rows>();
            let coding = scope.spawn(move || -> R<SegmentWriter> {
                let mut coder = LinkCoder::default();
                let mut rows = Vec::new();
                for mut batch in batches_rx {
                    for page in batch.chunk_by(|a, b| a.0 == b.0) {
                        rows.clear();
                        rows.extend(page.iter().map(|&(_, k, t, n)| (k, t, n)));
                        let entry = coder.encode(&rows, Some(universe));
                        let ns = super::one_namespace(&rows);
                        w.push_forward(page[0].0, entry, rows.len() as u64, ns)?;
                    }
                    batch.clear();
                    let _ = spare_tx.send(batch);
                }
                Ok(w)
            });
            let coded = || refuse("the thread coding the forward entries stopped");
            let mut batch: Rows = Vec::new();
            let mut rows: Vec<(u8, u32, i32)> = Vec::new();
            let mut page: Option<u32> = None;
            let most_linked = first.first;
            let mut ordered = Vec::new();
            let mut flush = |from: u32, rows: &mut Vec<(u8, u32, i32)>, last: bool| -> R<()> {
                order_page(rows, &mut ordered, most_linked);
                // One row per (kind, target): rows of a missing page may disagree on `ns`.
                rows.dedup_by_key(|&mut (k, t, _)| (k, t));
                reverse.push_page(from, rows)?;
                batch.extend(rows.iter().map(|&(kind, tid, ns)| (from, kind, tid, ns)));
                rows.clear();
                if batch.len() >= 1 << 16 || last {
                    let next = spare.try_recv().unwrap_or_default();
                    let full = std::mem::replace(&mut batch, next);
                    batches.send(full).map_err(|_| coded())?;
                }
                Ok(())
            };
            let streamed = (|| -> R<()> {
                // A chunk's ids mapped at once, each looked up some rows ahead, on the
                // merging thread: at full size this one held up the phase (busy 97 of
                // its 108 s), the ids' map a fifth of that.
                let (first, final_of) = (first_arc.clone(), final_arc.clone());
                let (mut tids, mut heavy) = (Vec::new(), Vec::new());
                let mut pages = forward.finish()?;
                let fill = move |out: &mut Vec<u128>| pages.next_page(out);
                let mut keys = crate::sorter::ahead_filled(fill, move |chunk: &mut [u128]| {
                    tids.clear();
                    tids.extend(chunk.iter().map(|&k| given_id(&final_of, base, k as u32)));
                    first.map_all(&mut tids, &mut heavy);
                    for (k, &tid) in chunk.iter_mut().zip(&tids) {
                        *k = (*k & !u128::from(u32::MAX)) | u128::from(tid);
                    }
                });
                while let Some(chunk) = keys.next_chunk() {
                    for &k in chunk?.iter() {
                        let (from, kind, tid, ns) = unpack_forward(k);
                        if page != Some(from) {
                            if let Some(p) = page {
                                flush(p, &mut rows, false)?;
                            }
                            page = Some(from);
                        }
                        rows.push((kind, tid, ns));
                    }
                }
                if let Some(p) = page {
                    flush(p, &mut rows, true)?;
                }
                Ok(())
            })();
            // No more batches: the coding thread ends.
            drop(batches);
            // The coding thread's own error, if it stopped, says more than ours.
            let mut w = coding.join().map_err(|_| coded())??;
            streamed?;
            // The target table's pairs centre the small lists on their pages.
            let targets = titles
                .join()
                .map_err(|_| refuse("the thread writing the target titles panicked"))??;
            w.centre_on(&targets)?;
            let page_table = scope.spawn(write_pages);
            let redirects = scope.spawn(write_redirects);
            tracing::info!(
                secs = started.elapsed().as_secs_f64(),
                "bulk load: reverse index"
            );
            match reverse {
                ReverseSort::Transpose(t, buckets) => {
                    let rows = t.finish()?;
                    let mut widen = buckets.widen();
                    let wide = crate::sorter::ahead(
                        rows.map(move |r| r.map(|(b, key, page)| widen(b, key, page))),
                        |_| {},
                    );
                    push_reverse(&mut w, wide)?;
                }
                ReverseSort::Narrow(sort, keys) => {
                    let wide = sort.finish()?.ahead().map(|k| k.map(|k| keys.widen(k)));
                    push_reverse(&mut w, wide)?;
                }
                ReverseSort::Wide(sort) => push_reverse(&mut w, sort.finish()?.ahead())?,
            }
            tracing::info!(secs = started.elapsed().as_secs_f64(), "bulk load: titles");
            let pages = page_table
                .join()
                .map_err(|_| refuse("the thread writing the page titles panicked"))??;
            let redirects = redirects
                .join()
                .map_err(|_| refuse("the thread writing the redirects panicked"))??;
            w.splice_titles(targets)?;
            w.splice_pages(pages)?;
            if !redirects.is_empty() {
                w.put_redirects(&redirects)?;
            }
            w.finish(seq)?;
            Ok(())
        });
        if let Err(e) = built {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let path = segment_path(&dir, new_id);
        std::fs::rename(&tmp, &path)?;
        File::open(&dir)?.sync_all()?;
        let seg = match store.open_written_segment(new_id) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(redb::Error::Corrupted(e.to_string()));
            }
        };
        store
            .segments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(seg);
        let committed = (|| -> R<()> {
            {
                let mut meta = txn.open_table(META)?;
                meta.insert(SEGMENT_KEY, new_id.to_le_bytes().as_slice())?;
                meta.insert(SEQ_KEY, seq.to_le_bytes().as_slice())?;
                meta.insert(NEXT_TARGET_KEY, self.next_tid.to_le_bytes().as_slice())?;
            }
            txn.commit()?;
            Ok(())
        })();
        if let Err(e) = committed {
            store
                .segments
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|s| s.id() != new_id);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        store.generation.fetch_add(1, AtomicOrdering::AcqRel);
        tracing::info!(
            secs = started.elapsed().as_secs_f64(),
            "bulk load: committed"
        );
        Ok(())
    }
}

/// A row that names its target by title, as the titled sort holds it beside the title:
/// varints, so that with the sort's front-coded keys a row takes a dozen bytes of scratch.
enum Titled {
    /// A link row of page row `owner` ([`NO_OWNER`]: nobody's).
    Link {
        from: u32,
        kind: u8,
        ns: i32,
        owner: u64,
    },
    /// Page `from` redirects to the title.
    Redirect { from: u32 },
}

impl Titled {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16);
        match *self {
            Titled::Link {
                from,
                kind,
                ns,
                owner,
            } => {
                v.push(0);
                put_varint(&mut v, u64::from(from));
                v.push(kind);
                put_varint(&mut v, u64::from((ns << 1) as u32 ^ (ns >> 31) as u32));
                // NO_OWNER as 0, one byte.
                put_varint(&mut v, owner.wrapping_add(1));
            }
            Titled::Redirect { from } => {
                v.push(1);
                put_varint(&mut v, u64::from(from));
            }
        }
        v
    }

    fn decode(v: &[u8]) -> R<Titled> {
        let bad = || redb::Error::Corrupted("bulk load: a scratch titled row is malformed".into());
        let mut pos = 1;
        let int = |pos: &mut usize| get_varint(v, pos).map_err(|_| bad());
        let from = u32::try_from(int(&mut pos)?).map_err(|_| bad())?;
        match v.first() {
            Some(0) => {
                let kind = *v.get(pos).ok_or_else(bad)?;
                pos += 1;
                let zz = u32::try_from(int(&mut pos)?).map_err(|_| bad())?;
                let ns = (zz >> 1) as i32 ^ -((zz & 1) as i32);
                let owner = int(&mut pos)?.wrapping_sub(1);
                Ok(Titled::Link {
                    from,
                    kind,
                    ns,
                    owner,
                })
            }
            Some(1) => Ok(Titled::Redirect { from }),
            _ => Err(bad()),
        }
    }
}

/// Page `from`'s redirect, to target `tid` when local, with its row when it is the next
/// of those kept `apart` (which `next` then passes).
fn push_redirect(
    w: &mut RedirectsWriter,
    apart: &[(u32, Box<[u8]>)],
    next: &mut usize,
    from: u32,
    tid: Option<u32>,
) -> R<()> {
    let row = match apart.get(*next).filter(|a| a.0 == from) {
        Some((_, row)) => {
            *next += 1;
            Some(decode_redirect(row)?)
        }
        None => None,
    };
    w.push(from, tid, row).map_err(redb::Error::Io)
}

fn encode_redirect(r: &RedirectRow) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&r.target.ns.to_le_bytes());
    for s in [&r.target.dbkey, &r.fragment, &r.interwiki] {
        put_varint(&mut v, s.len() as u64);
        v.extend_from_slice(s.as_bytes());
    }
    v
}

fn decode_redirect(v: &[u8]) -> R<(i32, &str, &str, &str)> {
    let bad = || redb::Error::Corrupted("bulk load: a scratch redirect is malformed".into());
    let ns = i32::from_le_bytes(v.get(..4).and_then(|b| b.try_into().ok()).ok_or_else(bad)?);
    let mut pos = 4;
    let mut next = || -> R<&str> {
        let len = get_varint(v, &mut pos).map_err(|_| bad())? as usize;
        let s = v.get(pos..pos + len).ok_or_else(bad)?;
        pos += len;
        std::str::from_utf8(s).map_err(|_| bad())
    };
    Ok((ns, next()?, next()?, next()?))
}

/// Whether a write transaction sees an index with no pages, links, redirects or blocks.
pub(super) fn index_is_empty(txn: &WriteTransaction) -> R<bool> {
    Ok(meta_u64(&txn.open_table(META)?, SEGMENT_KEY)?.is_none()
        && txn.open_table(PAGES)?.is_empty()?
        && txn.open_table(TITLES)?.is_empty()?
        && txn.open_table(TARGETS)?.is_empty()?
        && txn.open_table(FWD)?.is_empty()?
        && txn.open_table(DELTA)?.is_empty()?
        && txn.open_table(REDIR)?.is_empty()?
        && txn.open_table(PAGE_BLOCKS)?.is_empty()?
        && txn.open_table(PAGE_REFS)?.is_empty()?)
}

fn order(what: &str) -> StoreError {
    StoreError::Invalid(format!("bulk load: {what}"))
}

impl BulkLoad for Loader<'_> {
    fn page(&mut self, page: &PageRecord) -> Result<()> {
        if self.phase != Phase::Pages {
            return Err(order(
                "page rows come before link targets, links and redirects",
            ));
        }
        let seq = self.page_rows;
        self.page_rows += 1;
        self.max_page = self.max_page.max(page.id.0);
        let mut v = [0u8; 13];
        v[..8].copy_from_slice(&seq.to_be_bytes());
        v[8..12].copy_from_slice(&page.id.0.to_be_bytes());
        v[12] = u8::from(page.is_redirect);
        title_key_into(&mut self.key, page.title.ns, &page.title.dbkey);
        self.page_ids.note(page.id.0, seq).map_err(self.err())?;
        self.pages
            .as_mut()
            .expect("pages phase")
            .push(&self.key, &v)
            .map_err(StoreError::Io)
    }

    fn target(&mut self, key: u64, title: &Title) -> Result<()> {
        if self.phase > Phase::Targets {
            return Err(order("link targets come before links and redirects"));
        }
        if key >= 1 << 32 {
            return Err(StoreError::Invalid(format!(
                "bulk load: link target key {key} is too large"
            )));
        }
        self.reach(Phase::Targets).map_err(self.err())?;
        let seq = self.target_rows;
        self.target_rows += 1;
        self.max_key = self.max_key.max(key);
        // Below 2³², checked above.
        self.keys.note(key as u32, seq).map_err(self.err())?;
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&key.to_be_bytes());
        v[8..].copy_from_slice(&seq.to_be_bytes());
        title_key_into(&mut self.key, title.ns, &title.dbkey);
        self.targets
            .as_mut()
            .expect("targets phase")
            .push(&self.key, &v)
            .map_err(StoreError::Io)
    }

    fn prefetch_link(&self, key: u64) {
        // The key → target id table is tens of MB, each row's key random in it: a row
        // waited on a cache miss for most of its time here (6 % of a 10 M-page import).
        if let (Some(t), Ok(k)) = (self.tids.as_ref(), usize::try_from(key)) {
            if let Some(cell) = k
                .checked_mul(KEY_CELL)
                .and_then(|at| t.get(at..at.checked_add(KEY_CELL)?))
            {
                prefetch(cell);
            }
        }
    }

    fn link(
        &mut self,
        from: PageId,
        from_ns: NamespaceId,
        kind: LinkKind,
        key: u64,
    ) -> Result<bool> {
        self.reach(Phase::Links).map_err(self.err())?;
        let tid = match (self.tids.as_mut(), usize::try_from(key)) {
            (Some(t), Ok(k)) if k <= self.max_key as usize => {
                let at = k * KEY_CELL;
                let c = &mut t[at..at + KEY_CELL];
                let (tid, n) = split_key_cell(c);
                if tid != 0 {
                    c.copy_from_slice(&key_cell(tid, n.saturating_add(1)));
                }
                tid
            }
            _ => 0,
        };
        if tid == 0 {
            return Ok(false);
        }
        let ns = self.ns_of(from.0, from_ns);
        self.seen.note(from.0, ns);
        self.forward.push(from.0, kind as u8, tid, ns)?;
        Ok(true)
    }

    fn link_title(
        &mut self,
        from: PageId,
        from_ns: NamespaceId,
        kind: LinkKind,
        title: &Title,
    ) -> Result<()> {
        self.reach(Phase::Links).map_err(self.err())?;
        let ns = self.ns_of(from.0, from_ns);
        self.push_titled(from, ns, kind, title, NO_OWNER)
    }

    fn redirect(&mut self, from: PageId, redirect: &RedirectRow) -> Result<()> {
        self.reach(Phase::Targets).map_err(self.err())?;
        self.push_redirect(from, redirect, NO_OWNER)
    }

    fn page_with_links(
        &mut self,
        page: &PageRecord,
        links: &[(LinkKind, Title)],
        redirect: Option<&RedirectRow>,
    ) -> Result<()> {
        let owner = self.page_rows;
        self.page(page)?;
        self.owned = true;
        for (kind, title) in links {
            self.push_titled(page.id, page.title.ns, *kind, title, owner)?;
        }
        if let Some(r) = redirect {
            self.push_redirect(page.id, r, owner)?;
        }
        Ok(())
    }

    fn existing(&mut self, titles: &[Title]) -> Result<Vec<bool>> {
        self.reach(Phase::Targets).map_err(self.err())?;
        let mut asked: Vec<(Vec<u8>, usize)> = titles
            .iter()
            .enumerate()
            .map(|(i, t)| (title_key(t.ns, &t.dbkey), i))
            .collect();
        asked.sort_unstable();
        let mut found = vec![false; titles.len()];
        let mut run = || -> R<()> {
            let mut pages = PageNames::open(self.page_titles.as_ref())?;
            for (key, i) in &asked {
                found[*i] = pages.page_of(key)?.is_some();
            }
            Ok(())
        };
        run().map_err(self.err())?;
        Ok(found)
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let done = self.run_finish();
        done.map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::assert_same_answers;
    use crate::{Batch, MemStore, Op};
    use inlink_model::PageId;
    use proptest::strategy::Strategy;

    /// A prefetch hint for any key, known or not, before or after the targets are
    /// settled, changes nothing and never panics.
    #[test]
    fn prefetching_any_key_is_harmless() {
        let d = tempfile::tempdir().unwrap();
        let redb = RedbStore::open(d.path()).unwrap();
        let mut l = redb.bulk_loader().unwrap().expect("empty");
        let keys = [0, 1, 7, 1 << 40, u64::MAX / 4, u64::MAX];
        for &k in &keys {
            l.prefetch_link(k);
        }
        l.target(7, &Title::new(0, "T")).unwrap();
        assert!(l.link(PageId(1), 0, LinkKind::Page, 7).unwrap());
        for &k in &keys {
            l.prefetch_link(k);
        }
        assert!(!l.link(PageId(1), 0, LinkKind::Page, u64::MAX).unwrap());
    }

    proptest::proptest! {
        /// The final target ids are a permutation of the ids given: the most linked
        /// (1 in 256) get the first ones, most linked first (ties: the earlier id in the
        /// order kept), and the rest keep that order after them.
        #[test]
        fn the_most_linked_targets_get_the_first_ids(
            (links, order) in proptest::collection::vec(proptest::prop_oneof![0u16..4, proptest::prelude::any::<u16>()], 0..3_000)
                .prop_flat_map(|links| {
                    let ids: Vec<u32> = (1..=links.len() as u32).collect();
                    (proptest::strategy::Just(links), proptest::strategy::Just(ids).prop_shuffle())
                }),
        ) {
            let end = links.len() as u32 + 1;
            let mut links_to = vec![0];
            links_to.extend(&links);
            // The order kept otherwise: any permutation of the ids.
            let given = |tid: u32| order[tid as usize - 1];
            let first = FirstIds::new(&links_to, given);
            proptest::prop_assert_eq!(first.first, (end - 1) / 256);
            let mut final_ids: Vec<(u32, u32)> =
                (1..end).map(|t| (first.id(given(t)), t)).collect();
            final_ids.sort_unstable();
            proptest::prop_assert!(final_ids.iter().map(|p| p.0).eq(1..end), "a permutation");
            let tops = &final_ids[..first.first as usize];
            let rest = &final_ids[first.first as usize..];
            for w in tops.windows(2) {
                let (a, b) = (w[0].1, w[1].1);
                proptest::prop_assert!((links_to[a as usize], std::cmp::Reverse(given(a))) > (links_to[b as usize], std::cmp::Reverse(given(b))));
            }
            if let Some(least) = tops.last() {
                let least = (links_to[least.1 as usize], std::cmp::Reverse(given(least.1)));
                for r in rest {
                    proptest::prop_assert!((links_to[r.1 as usize], std::cmp::Reverse(given(r.1))) < least);
                }
            }
            for w in rest.windows(2) {
                proptest::prop_assert!(given(w[0].1) < given(w[1].1));
            }
            // Mapped a chunk at a time, as the forward rows are, ids come out as one by one.
            let mut chunk: Vec<u32> = (1..end).map(given).collect();
            let mut heavy = vec![7];
            first.map_all(&mut chunk, &mut heavy);
            proptest::prop_assert!(chunk.into_iter().eq((1..end).map(|t| first.id(given(t)))));
            proptest::prop_assert!(heavy.len() <= first.first as usize);
        }

        /// A page's rows come out in (kind, target) order, the same rows, whatever order
        /// they came in.
        #[test]
        fn a_pages_rows_come_out_ordered(
            mut rows in proptest::collection::vec((0u8..4, 0u32..100, 0i32..3), 0..60),
            first in 0u32..100,
            by_kind in proptest::bool::ANY,
        ) {
            if by_kind {
                // As pages' rows come: by kind.
                rows.sort_by_key(|r| r.0);
            }
            let mut want = rows.clone();
            want.sort_unstable();
            order_page(&mut rows, &mut Vec::new(), first);
            proptest::prop_assert!(rows.is_sorted_by_key(|&(k, t, _)| (k, t)));
            rows.sort_unstable();
            proptest::prop_assert_eq!(rows, want);
        }

        /// Title keys sort bytewise as (namespace, dbkey) pairs do, negative namespaces
        /// among them, and split back into the pair.
        #[test]
        fn title_keys_sort_as_their_titles_and_split_back(
            a in (proptest::prop_oneof![-5i32..260, proptest::prelude::any::<i32>()], "[a-zA-Z_ä]{0,6}"),
            b in (proptest::prop_oneof![-5i32..260, proptest::prelude::any::<i32>()], "[a-zA-Z_ä]{0,6}"),
        ) {
            let (ka, kb) = (title_key(a.0, &a.1), title_key(b.0, &b.1));
            proptest::prop_assert_eq!(ka.cmp(&kb), (a.0, a.1.as_bytes()).cmp(&(b.0, b.1.as_bytes())));
            let (ns, dbkey) = split_title_key(&ka).unwrap();
            proptest::prop_assert_eq!((ns, dbkey), (a.0, a.1.as_str()));
            proptest::prop_assert_eq!(title_ns(&kb).unwrap(), b.0);
        }

        /// Narrow keys sort rows as wide ones do and widen to them; rows whose fields
        /// do not fit 64 bits get none.
        #[test]
        fn narrow_keys_order_rows_as_wide_ones(
            rows in proptest::collection::vec(
                (0u8..4, 0u32..1 << 20, proptest::sample::select(vec![-2, 0, 1, 14, 2600]), 0u32..1 << 24),
                1..60,
            ),
            wide_ids in proptest::prelude::any::<bool>(),
        ) {
            let mut seen = Seen::default();
            for &(_, _, ns, from) in &rows {
                seen.note(from, ns);
            }
            let next_tid = rows.iter().map(|r| r.1).max().unwrap() + 1;
            if wide_ids {
                seen.note(u32::MAX, 0);
                proptest::prop_assert!(NarrowKeys::new(&seen, u32::MAX).is_none());
                return Ok(());
            }
            let mut keys = NarrowKeys::new(&seen, next_tid).expect("fits");
            let mut narrow: Vec<u64> = rows.iter().map(|&(k, t, n, f)| keys.pack(k, t, n, f)).collect();
            narrow.sort_unstable();
            let mut wide: Vec<u128> = rows.iter().map(|&(k, t, n, f)| pack(k, t, n, f)).collect();
            wide.sort_unstable();
            let widened: Vec<u128> = narrow.iter().map(|&k| keys.widen(k)).collect();
            proptest::prop_assert_eq!(widened, wide);
        }

        /// Scattered writes, held back and prefetched, leave what writing each at once
        /// would, a cell written twice included.
        #[test]
        fn scattered_writes_land_as_direct_ones(
            writes in proptest::collection::vec((0usize..40, proptest::prelude::any::<u16>()), 0..100)
        ) {
            let (mut direct, mut scattered) = (vec![0u8; 80], vec![0u8; 80]);
            let mut scatter = Scatter::new();
            for &(i, v) in &writes {
                direct[i * 2..i * 2 + 2].copy_from_slice(&v.to_le_bytes());
                scatter.set(&mut scattered, i, v.to_le_bytes());
            }
            scatter.finish(&mut scattered);
            proptest::prop_assert_eq!(direct, scattered);
        }

        /// A title file gives back its titles, ids and flags as they went in (sorted, as
        /// the loader writes them, or not), each key front-coded against the one before.
        #[test]
        fn title_files_read_back_what_was_written(
            mut rows in proptest::collection::vec(
                (proptest::collection::vec(proptest::sample::select(vec![0u8, 1, b'A', b'B', 0xff]), 0..12),
                 proptest::prelude::any::<u32>(), proptest::prelude::any::<bool>()),
                0..80),
            sorted in proptest::prelude::any::<bool>(),
        ) {
            if sorted {
                rows.sort();
            }
            let dir = tempfile::tempdir().unwrap();
            let mut w = TitleFile::create(dir.path(), "t").unwrap();
            for (key, id, flag) in &rows {
                w.push(key, *id, *flag).unwrap();
            }
            let file = w.done().unwrap();
            let mut r = TitleReader::open(&file).unwrap();
            let mut key = Vec::new();
            let mut back = Vec::new();
            while let Some((id, flag)) = r.read(&mut key).unwrap() {
                back.push((key.clone(), id, flag));
            }
            proptest::prop_assert_eq!(back, rows);
        }
    }

    /// Titled rows come back from their scratch bytes as they went in, the extremes too.
    #[test]
    fn titled_rows_round_trip() {
        for from in [0, 1, 127, 128, u32::MAX] {
            for ns in [0, 1, -1, -2, 14, 2600, i32::MIN, i32::MAX] {
                for owner in [0, 5, 1 << 40, NO_OWNER - 1, NO_OWNER] {
                    let row = Titled::Link {
                        from,
                        kind: 3,
                        ns,
                        owner,
                    };
                    match Titled::decode(&row.encode()).unwrap() {
                        Titled::Link {
                            from: f,
                            kind,
                            ns: n,
                            owner: o,
                        } => assert_eq!((f, kind, n, o), (from, 3, ns, owner)),
                        Titled::Redirect { .. } => panic!("a link came back a redirect"),
                    }
                }
            }
            assert!(matches!(
                Titled::decode(&Titled::Redirect { from }.encode()).unwrap(),
                Titled::Redirect { from: f } if f == from
            ));
        }
        assert!(Titled::decode(&[]).is_err());
        assert!(Titled::decode(&[0, 0x80]).is_err());
        assert!(Titled::decode(&[2, 1]).is_err());
    }

    /// A batch committed while the load runs makes `finish` refuse, changing nothing.
    #[test]
    fn a_write_during_the_load_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let redb = RedbStore::open(d.path()).unwrap();
        let mut l = redb.bulk_loader().unwrap().expect("empty");
        l.page(&PageRecord {
            id: PageId(1),
            title: Title::new(0, "A"),
            is_redirect: false,
        })
        .unwrap();
        let mut b = Batch::new();
        b.push(Op::PutPage(PageRecord {
            id: PageId(2),
            title: Title::new(0, "B"),
            is_redirect: false,
        }));
        redb.apply(&b).unwrap();
        let err = l.finish().unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        assert_eq!(redb.pages(PageId(0), 10).unwrap().len(), 1);
        assert!(redb.page_by_title(&Title::new(0, "A")).unwrap().is_none());
    }

    /// Of 1,300 targets the 5 most linked get the first ids; the index answers like
    /// batches of the same rows, and a fold keeps those ids and their listed titles.
    #[test]
    fn the_most_linked_targets_are_loaded_first() {
        let d = tempfile::tempdir().unwrap();
        let redb = RedbStore::open(d.path()).unwrap();
        let model = MemStore::new();
        let mut batch = Batch::new();
        let mut l = Loader::new(&redb);
        let title = |i: u64| Title::new(0, format!("P{i}"));
        let pages = 1_200u64;
        for id in 1..=pages {
            let p = PageRecord {
                id: PageId(id as u32),
                title: title(id),
                is_redirect: false,
            };
            l.page(&p).unwrap();
            batch.push(Op::PutPage(p));
        }
        // 100 red links after the pages' titles.
        for key in 1..=pages + 100 {
            l.target(key, &title(key)).unwrap();
        }
        // Every page links its neighbour, and popular targets: the j-th from 1 in j + 1
        // pages.
        let popular = |j: u64| (j * 37) % pages + 1;
        for from in 1..=pages {
            let mut keys = vec![from % (pages + 100) + 1];
            keys.extend((0..10).filter(|j| from % (j + 1) == 0).map(popular));
            keys.sort_unstable();
            keys.dedup();
            keys.retain(|&k| k != from);
            for &key in &keys {
                assert!(l.link(PageId(from as u32), 0, LinkKind::Page, key).unwrap());
            }
            batch.push(Op::AddLinks {
                from: PageId(from as u32),
                from_ns: 0,
                kind: LinkKind::Page,
                targets: keys.iter().map(|&k| title(k)).collect(),
            });
        }
        Box::new(l).finish().unwrap();
        model.apply(&batch).unwrap();
        let probe: Vec<Title> = (1..=pages + 100)
            .step_by(7)
            .chain((0..10).map(popular))
            .map(title)
            .collect();
        assert_same_answers(&redb, &model, &probe);
        assert_eq!(redb.verify(10).unwrap(), Vec::<String>::new());
        // 1,300 targets: the 5 most linked get ids 1 to 5, most linked first; their titles'
        // pairs are listed, the rest (in page-id order) in the rank sets.
        let check = |redb: &RedbStore| {
            let seg = redb.current_segment().unwrap();
            for j in 0..5 {
                let t = title(popular(j));
                assert_eq!(seg.target_id(0, &t.dbkey).unwrap(), Some(j as u32 + 1));
            }
            assert_eq!(seg.shared_listed_below().unwrap(), 6);
        };
        check(&redb);
        // A fold keeps the ids, and keeps those pairs listed.
        let mut more = Batch::new();
        more.push(Op::AddLinks {
            from: PageId(3),
            from_ns: 0,
            kind: LinkKind::Page,
            targets: vec![title(pages + 50)],
        });
        redb.apply(&more).unwrap();
        model.apply(&more).unwrap();
        assert!(redb.fold().unwrap());
        check(&redb);
        assert_same_answers(&redb, &model, &probe);
        assert_eq!(redb.verify(10).unwrap(), Vec::<String>::new());
    }

    /// With budgets of nothing every sort spills a run per row and merges them: the loaded
    /// index still answers like batches of the same rows.
    #[test]
    fn spilling_sorts_load_like_batches() {
        let d = tempfile::tempdir().unwrap();
        let redb = RedbStore::open(d.path()).unwrap();
        let model = MemStore::new();
        let mut batch = Batch::new();
        let mut l = Loader::with_budgets(&redb, 0, 0, 0);
        let title = |i: u64| Title::new([0, 1, 10][i as usize % 3], format!("T{}", i % 70));
        for id in 1..=60u32 {
            let p = PageRecord {
                id: PageId(id),
                title: title(u64::from(id) * 7),
                is_redirect: id % 5 == 0,
            };
            l.page(&p).unwrap();
            batch.push(Op::PutPage(p));
        }
        let mut named = HashMap::new();
        for key in 0..50u64 {
            l.target(key * 3, &title(key)).unwrap();
            named.insert(key * 3, title(key));
        }
        for i in 0..400u64 {
            let from = (i * 13 % 70) as u32 + 1;
            let kind = LinkKind::ALL[(i % 4) as usize];
            let key = i * 11 % 160;
            let ns = (from % 2) as i32;
            assert_eq!(
                l.link(PageId(from), ns, kind, key).unwrap(),
                named.contains_key(&key)
            );
            if let Some(t) = named.get(&key) {
                batch.push(Op::AddLinks {
                    from: PageId(from),
                    from_ns: ns,
                    kind,
                    targets: vec![t.clone()],
                });
            }
            if i % 9 == 0 {
                let t = title(i + 100);
                l.link_title(PageId(from), ns, kind, &t).unwrap();
                batch.push(Op::AddLinks {
                    from: PageId(from),
                    from_ns: ns,
                    kind,
                    targets: vec![t],
                });
            }
        }
        for from in (1..60u32).step_by(4) {
            let row = RedirectRow {
                target: title(u64::from(from) * 5),
                fragment: String::new(),
                interwiki: String::new(),
            };
            l.redirect(PageId(from), &row).unwrap();
            batch.push(Op::SetRedirect {
                from: PageId(from),
                redirect: Some(row),
            });
        }
        Box::new(l).finish().unwrap();
        model.apply(&batch).unwrap();
        let probe: Vec<Title> = (0..200).map(title).collect();
        assert_same_answers(&redb, &model, &probe);
        assert_eq!(redb.verify(10).unwrap(), Vec::<String>::new());
        // The scratch files are gone.
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    /// Rows from pages of thousands of namespaces (rows of missing pages keep the
    /// namespace they were given) do not fit the transpose's keys: they are sorted
    /// externally, and load as batches do.
    #[test]
    fn rows_of_thousands_of_namespaces_load_like_batches() {
        let d = tempfile::tempdir().unwrap();
        let redb = RedbStore::open(d.path()).unwrap();
        let model = MemStore::new();
        let mut batch = Batch::new();
        let mut l = Loader::new(&redb);
        let title = |i: u64| Title::new(0, format!("T{i}"));
        for key in 0..20u64 {
            l.target(key, &title(key)).unwrap();
        }
        for from in 1..6000u32 {
            let (ns, key) = (from as i32, u64::from(from) % 20);
            assert!(l.link(PageId(from), ns, LinkKind::Page, key).unwrap());
            batch.push(Op::AddLinks {
                from: PageId(from),
                from_ns: ns,
                kind: LinkKind::Page,
                targets: vec![title(key)],
            });
        }
        Box::new(l).finish().unwrap();
        model.apply(&batch).unwrap();
        let probe: Vec<Title> = (0..20).map(title).collect();
        assert_same_answers(&redb, &model, &probe);
        assert_eq!(redb.verify(10).unwrap(), Vec::<String>::new());
    }
}
