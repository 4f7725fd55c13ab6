//! External sort of integer keys (`u128`, or `u64` where a key's fields fit) under a memory budget: keys gather in memory, each full
//! buffer is sorted and spilled to a run file on a thread of its own (each key the LEB128 varint of its
//! difference from the previous one, so sorted runs of link rows take a few bytes per key),
//! and the runs are merged. A run whose keys all follow the run before goes onto its end,
//! so that keys given nearly in order (a dump's link rows, page by page) merge from a few
//! runs, not hundreds. The segment build swaps link rows from (from page → target)
//! to (target → from page) with it, as webgraph-rs builds a transpose. Run files are
//! scratch: written under the index directory and removed when the sorter is dropped.
//! `RecordSorter` does the same for byte records (the bulk loader's titles).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::postings::put_varint128;

/// Bytes of keys held in memory before a run is spilled.
pub const DEFAULT_BUDGET: usize = 256 << 20;

/// Numbers the sorters of this process, so that two at once (a fold and `verify`, or
/// `verify`'s two) never share a run file name.
static SORTERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A key the sorter sorts: an unsigned integer, `u128` (the default) or `u64` (a quarter
/// less to sort, and twice the keys a run for the same memory, where the fields fit).
pub trait Key: Copy + Ord + Send + 'static {
    const ZERO: Self;
    /// The key's high half (see [`Sorter`]).
    fn high(self) -> u64;
    fn to_u128(self) -> u128;
    /// The key of a run's difference (the bits past the width dropped).
    fn from_u128(v: u128) -> Self;
    fn wrapping_add(self, other: Self) -> Self;
    fn wrapping_sub(self, other: Self) -> Self;
}

impl Key for u128 {
    const ZERO: Self = 0;
    fn high(self) -> u64 {
        (self >> 64) as u64
    }
    fn to_u128(self) -> u128 {
        self
    }
    fn from_u128(v: u128) -> Self {
        v
    }
    fn wrapping_add(self, other: Self) -> Self {
        u128::wrapping_add(self, other)
    }
    fn wrapping_sub(self, other: Self) -> Self {
        u128::wrapping_sub(self, other)
    }
}

impl Key for u64 {
    const ZERO: Self = 0;
    fn high(self) -> u64 {
        self >> 32
    }
    fn to_u128(self) -> u128 {
        u128::from(self)
    }
    fn from_u128(v: u128) -> Self {
        v as u64
    }
    fn wrapping_add(self, other: Self) -> Self {
        u64::wrapping_add(self, other)
    }
    fn wrapping_sub(self, other: Self) -> Self {
        u64::wrapping_sub(self, other)
    }
}

pub struct Sorter<K: Key = u128> {
    dir: PathBuf,
    /// This sorter's number in the process.
    id: u64,
    buf: Vec<K>,
    cap: usize,
    runs: Vec<PathBuf>,
    /// The last key of the last run, once one is written.
    last: Option<K>,
    /// The run being sorted and written on another thread, so that the caller goes on
    /// filling the other buffer meanwhile; joining it gives its buffer back, emptied.
    writing: Option<std::thread::JoinHandle<io::Result<Written<K>>>>,
}

/// What the thread writing a run gives back.
struct Written<K> {
    buf: Vec<K>,
    /// The run's last key (none if it was empty).
    last: Option<K>,
    /// Its keys went onto the end of the run before.
    appended: bool,
}

impl<K: Key> Sorter<K> {
    /// A sorter spilling runs into `dir`, holding at most `budget` bytes of keys (in two
    /// buffers: one filling, one being written).
    pub fn new(dir: &Path, budget: usize) -> Self {
        let cap = (budget / 2 / std::mem::size_of::<K>()).max(1024);
        Sorter {
            dir: dir.to_path_buf(),
            id: SORTERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            buf: Vec::new(),
            cap,
            runs: Vec::new(),
            last: None,
            writing: None,
        }
    }

    pub fn push(&mut self, key: K) -> io::Result<()> {
        if self.buf.len() >= self.cap {
            self.spill(false)?;
        }
        if self.buf.capacity() == 0 {
            // Once, rather than doubling its way there (each step a copy into fresh pages).
            self.buf.reserve_exact(self.cap);
        }
        self.buf.push(key);
        Ok(())
    }

    /// Waits for the run being written; returns its buffer.
    fn wait(&mut self) -> io::Result<Vec<K>> {
        let Some(h) = self.writing.take() else {
            return Ok(Vec::new());
        };
        let written = h
            .join()
            .map_err(|_| io::Error::other("the thread writing a sort run panicked"))??;
        if written.appended {
            // Its own file was never made.
            self.runs.pop();
        }
        self.last = written.last.or(self.last);
        Ok(written.buf)
    }

    /// Writes the full buffer as a run; `last`: no key comes after.
    fn spill(&mut self, last: bool) -> io::Result<()> {
        let mut spare = self.wait()?;
        // Keys often come ordered by their high half (a bulk load's forward rows, page by
        // page), and then each run can go onto the end of the one before, leaving one run
        // to merge, not hundreds: the keys of the last high half may have more to come,
        // so they wait for the next run.
        let held = match self.buf.last() {
            // All of one high half: nothing to hold.
            Some(&k) if !last => self
                .buf
                .iter()
                .rposition(|&x| x.high() != k.high())
                .map_or(self.buf.len(), |i| i + 1),
            _ => self.buf.len(),
        };
        if spare.capacity() == 0 && !last {
            spare.reserve_exact(self.cap);
        }
        spare.extend_from_slice(&self.buf[held..]);
        self.buf.truncate(held);
        let full = std::mem::replace(&mut self.buf, spare);
        let path = self.dir.join(format!(
            "sort-{}-{}-{}.tmp",
            std::process::id(),
            self.id,
            self.runs.len()
        ));
        let after = self.last.zip(self.runs.last().cloned());
        // Registered before writing so that a failed write is still cleaned up.
        self.runs.push(path.clone());
        self.writing = Some(std::thread::spawn(move || write_run(&path, full, after)));
        Ok(())
    }

    /// Every key pushed, ascending, duplicates removed.
    pub fn finish(mut self) -> io::Result<Sorted<K>> {
        if self.runs.is_empty() {
            let mut buf = std::mem::take(&mut self.buf);
            sort_keys(&mut buf);
            buf.dedup();
            return Ok(Sorted {
                inner: Inner::Memory(buf.into_iter()),
                _sorter: self,
            });
        }
        if !self.buf.is_empty() {
            self.spill(true)?;
        }
        self.wait()?;
        self.buf = Vec::new();
        self.narrow_runs()?;
        Ok(Sorted {
            inner: Inner::Merge(Box::new(Merge::open(&self.runs)?)),
            _sorter: self,
        })
    }
}

impl<K: Key> Sorter<K> {
    /// Merges runs into bigger ones until at most [`FAN_IN`] are left, so the final merge
    /// never holds more files open than a default descriptor limit (1,024) allows.
    fn narrow_runs(&mut self) -> io::Result<()> {
        let (dir, id) = (self.dir.clone(), self.id);
        merge_in_stages(
            &mut self.runs,
            |n| dir.join(format!("sort-{}-{id}-m{n}.tmp", std::process::id())),
            |group, w| {
                let mut run = KeyRunWriter::new(w);
                for k in Merge::<K>::open(group)? {
                    run.push(k?)?;
                }
                run.finish()
            },
        )
    }
}

/// Merges runs, [`FAN_IN`] at a time, into bigger ones (named by `name` from the count of
/// runs) until at most [`FAN_IN`] are left, so the final merge never holds more files open
/// than a default descriptor limit (1,024) allows. `merge` writes a group's keys or records.
fn merge_in_stages(
    runs: &mut Vec<PathBuf>,
    name: impl Fn(usize) -> PathBuf,
    merge: impl Fn(&[PathBuf], &mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    while runs.len() > FAN_IN {
        let group: Vec<PathBuf> = runs.drain(..FAN_IN).collect();
        let path = name(runs.len() + group.len());
        // Registered before writing so that a failed write is still cleaned up.
        runs.push(path.clone());
        let merged = (|| -> io::Result<()> {
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
            merge(&group, &mut w)?;
            w.flush()
        })();
        for p in &group {
            let _ = std::fs::remove_file(p);
        }
        merged?;
    }
    Ok(())
}

/// Runs merged at once at most.
const FAN_IN: usize = 256;

/// The keys of several runs, ascending, duplicates removed (runs are deduplicated each; a
/// key in two runs comes out once).
struct Merge<K> {
    runs: Vec<Run<K>>,
    heap: BinaryHeap<Reverse<(K, usize)>>,
    last: Option<K>,
}

impl<K: Key> Merge<K> {
    fn open(paths: &[PathBuf]) -> io::Result<Self> {
        let mut runs = Vec::with_capacity(paths.len());
        let mut heap = BinaryHeap::new();
        for (i, path) in paths.iter().enumerate() {
            let mut r = Run {
                reader: BufReader::with_capacity(1 << 16, File::open(path)?),
                prev: K::ZERO,
            };
            if let Some(k) = r.next()? {
                heap.push(Reverse((k, i)));
            }
            runs.push(r);
        }
        Ok(Merge {
            runs,
            heap,
            last: None,
        })
    }
}

impl<K: Key> Iterator for Merge<K> {
    type Item = io::Result<K>;

    fn next(&mut self) -> Option<io::Result<K>> {
        loop {
            // The run's next key takes the top's place: one sift instead of a pop and a push.
            let mut top = self.heap.peek_mut()?;
            let Reverse((k, i)) = *top;
            match self.runs[i].next() {
                Ok(Some(n)) => *top = Reverse((n, i)),
                Ok(None) => {
                    std::collections::binary_heap::PeekMut::pop(top);
                }
                Err(e) => return Some(Err(e)),
            }
            if self.last != Some(k) {
                self.last = Some(k);
                return Some(Ok(k));
            }
        }
    }
}

/// Sorts keys that often come already ordered by their high half (a bulk load's forward
/// rows arrive page by page), then only each group of equal high halves needs sorting.
fn sort_keys<K: Key>(buf: &mut [K]) {
    if !buf.windows(2).all(|w| w[0].high() <= w[1].high()) {
        buf.sort_unstable();
        return;
    }
    for group in buf.chunk_by_mut(|a, b| a.high() == b.high()) {
        group.sort_unstable();
    }
}

/// Sorts a full buffer and writes it as a run — onto the end of the run before, `after`
/// (its last key and file), if its keys all come after that one; gives the buffer back,
/// emptied.
fn write_run<K: Key>(
    path: &Path,
    mut buf: Vec<K>,
    after: Option<(K, PathBuf)>,
) -> io::Result<Written<K>> {
    sort_keys(&mut buf);
    buf.dedup();
    let last = buf.last().copied();
    let (mut run, appended) = match after {
        Some((prev, before)) if buf.first().is_some_and(|&k| k > prev) => {
            let file = std::fs::OpenOptions::new().append(true).open(before)?;
            let mut run = KeyRunWriter::new(file);
            run.prev = prev;
            (run, true)
        }
        _ => (KeyRunWriter::new(File::create(path)?), false),
    };
    for &k in &buf {
        run.push(k)?;
    }
    run.finish()?;
    buf.clear();
    Ok(Written {
        buf,
        last,
        appended,
    })
}

/// Writes a run of ascending keys, each the varint of its difference from the one before,
/// coded straight into a buffer written a megabyte at a time: a `write_all` of each key's
/// few bytes was a call to copy them, 2 % of a bulk load.
struct KeyRunWriter<W: Write, K> {
    w: W,
    out: Vec<u8>,
    prev: K,
}

impl<W: Write, K: Key> KeyRunWriter<W, K> {
    const CHUNK: usize = 1 << 20;

    fn new(w: W) -> Self {
        KeyRunWriter {
            w,
            out: Vec::with_capacity(Self::CHUNK + 19),
            prev: K::ZERO,
        }
    }

    fn push(&mut self, k: K) -> io::Result<()> {
        put_varint128(&mut self.out, k.wrapping_sub(self.prev).to_u128());
        self.prev = k;
        if self.out.len() >= Self::CHUNK {
            self.w.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.w.write_all(&self.out)?;
        self.w.flush()
    }
}

impl<K: Key> Drop for Sorter<K> {
    fn drop(&mut self) {
        let _ = self.wait();
        for p in &self.runs {
            let _ = std::fs::remove_file(p);
        }
    }
}

struct Run<K> {
    reader: BufReader<File>,
    prev: K,
}

impl<K: Key> Run<K> {
    fn next(&mut self) -> io::Result<Option<K>> {
        // Straight from the reader's buffer when a whole varint is surely in it.
        let buffered = self.reader.buffer();
        if buffered.len() >= 19 {
            let mut v = 0u128;
            for (n, &byte) in buffered[..19].iter().enumerate() {
                v |= u128::from(byte & 0x7f) << (7 * n);
                if byte & 0x80 == 0 {
                    self.reader.consume(n + 1);
                    self.prev = self.prev.wrapping_add(K::from_u128(v));
                    return Ok(Some(self.prev));
                }
            }
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "varint too long",
            ));
        }
        let mut v = 0u128;
        let mut shift = 0;
        let mut byte = [0u8];
        loop {
            match self.reader.read(&mut byte)? {
                0 if shift == 0 => return Ok(None),
                0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "run cut")),
                _ => {}
            }
            if shift >= 128 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "varint too long",
                ));
            }
            v |= u128::from(byte[0] & 0x7f) << shift;
            shift += 7;
            if byte[0] & 0x80 == 0 {
                break;
            }
        }
        self.prev = self.prev.wrapping_add(K::from_u128(v));
        Ok(Some(self.prev))
    }
}

enum Inner<K> {
    /// Sorted and deduplicated: nothing was spilled.
    Memory(std::vec::IntoIter<K>),
    /// Boxed: the variant was told from the other by a niche in the last key, loaded whole
    /// just after it was stored in halves (a stall at every key, on the store forwarding).
    Merge(Box<Merge<K>>),
}

/// The sorted keys; holds the run files until dropped.
pub struct Sorted<K: Key = u128> {
    inner: Inner<K>,
    _sorter: Sorter<K>,
}

impl<K: Key> Iterator for Sorted<K> {
    type Item = io::Result<K>;

    fn next(&mut self) -> Option<io::Result<K>> {
        match &mut self.inner {
            Inner::Memory(it) => it.next().map(Ok),
            Inner::Merge(m) => m.next(),
        }
    }
}

impl<K: Key> Sorted<K> {
    /// The same keys, merged on a thread of its own a few thousand ahead of the caller, so
    /// that merging and what the caller does with each key share the cores.
    pub fn ahead(self) -> Ahead<K> {
        ahead(self, |_| {})
    }
}

/// `keys`, made on a thread of their own a few thousand ahead of the caller, each chunk
/// passed through `each` there.
pub(crate) fn ahead<K: Key>(
    mut keys: impl Iterator<Item = io::Result<K>> + Send + 'static,
    each: impl FnMut(&mut [K]) + Send + 'static,
) -> Ahead<K> {
    ahead_filled(
        move |chunk| match keys.next() {
            Some(Ok(k)) => {
                chunk.push(k);
                Ok(true)
            }
            Some(Err(e)) => Err(e),
            None => Ok(false),
        },
        each,
    )
}

/// Keys made on a thread of their own a few thousand ahead of the caller: `fill` appends
/// some each call (`false`: there are no more), and each chunk passes through `each`
/// there.
pub(crate) fn ahead_filled<K: Key>(
    mut fill: impl FnMut(&mut Vec<K>) -> io::Result<bool> + Send + 'static,
    mut each: impl FnMut(&mut [K]) + Send + 'static,
) -> Ahead<K> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Option<Vec<K>>>>(4);
    std::thread::spawn(move || {
        let mut chunk = Vec::with_capacity(AHEAD_CHUNK);
        loop {
            match fill(&mut chunk) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
            if chunk.len() >= AHEAD_CHUNK {
                each(&mut chunk);
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(AHEAD_CHUNK));
                if tx.send(Ok(Some(full))).is_err() {
                    return;
                }
            }
        }
        // What it holds (run files, say) goes before the caller hears the end.
        drop(fill);
        if !chunk.is_empty() {
            each(&mut chunk);
            if tx.send(Ok(Some(chunk))).is_err() {
                return;
            }
        }
        let _ = tx.send(Ok(None));
    });
    Ahead {
        batches: Batches::new(rx),
        chunk: Vec::new().into_iter(),
    }
}

/// Keys a chunk sent ahead holds: at 16 K, the hand-offs kept the forward phase's three
/// threads waiting on each other a tenth of the time.
const AHEAD_CHUNK: usize = 1 << 16;

/// The receiving end of a thread that works ahead of its reader: batches, then word that
/// there are no more.
struct Batches<T> {
    rx: std::sync::mpsc::Receiver<io::Result<Option<T>>>,
    done: bool,
}

impl<T> Batches<T> {
    fn new(rx: std::sync::mpsc::Receiver<io::Result<Option<T>>>) -> Self {
        Batches { rx, done: false }
    }

    /// The next batch; `None` once the thread said it was done.
    fn next(&mut self) -> Option<io::Result<T>> {
        if self.done {
            return None;
        }
        let next = match self.rx.recv() {
            Ok(Ok(Some(batch))) => return Some(Ok(batch)),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => Some(Err(e)),
            // Gone without saying it was done: it panicked, and what it sent must not look
            // like all there was.
            Err(_) => Some(Err(io::Error::other(
                "the thread working ahead (merging or transposing) stopped",
            ))),
        };
        self.done = true;
        next
    }
}

/// [`Sorted::ahead`]'s keys. Dropping it early stops the merging thread at its next chunk;
/// the run files go when that thread ends.
pub struct Ahead<K: Key = u128> {
    batches: Batches<Vec<K>>,
    chunk: std::vec::IntoIter<K>,
}

impl<K: Key> Ahead<K> {
    /// The keys not yet taken of the chunk at hand, or else the next chunk: for callers
    /// that look some keys ahead (to fetch what each will need).
    pub fn next_chunk(&mut self) -> Option<io::Result<Vec<K>>> {
        if self.chunk.len() > 0 {
            let rest = std::mem::replace(&mut self.chunk, Vec::new().into_iter());
            return Some(Ok(rest.collect()));
        }
        self.batches.next()
    }
}

impl<K: Key> Iterator for Ahead<K> {
    type Item = io::Result<K>;

    fn next(&mut self) -> Option<io::Result<K>> {
        loop {
            if let Some(k) = self.chunk.next() {
                return Some(Ok(k));
            }
            match self.batches.next()? {
                Ok(c) => self.chunk = c.into_iter(),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// External sort of byte records `(key, value)` by key, then value (neither
/// deduplicated): the bulk loader's titles. Runs hold each key front coded against the
/// one before it ([`RunWriter`]).
pub struct RecordSorter {
    dir: PathBuf,
    id: u64,
    /// The records' bytes, key then value, one after another: two allocations a record
    /// showed in import profiles.
    arena: Vec<u8>,
    entries: Vec<Entry>,
    budget: usize,
    runs: Vec<PathBuf>,
    /// The run being sorted and written on another thread, as [`Sorter`] does; joining it
    /// gives its buffers back, emptied.
    writing: Option<std::thread::JoinHandle<io::Result<Spare>>>,
}

/// A record buffer's arena and entries.
type Spare = (Vec<u8>, Vec<Entry>);

/// A record in the arena, with its key's first bytes as a number: most comparisons end
/// there. Sixteen, not eight: titles sharing their first bytes are common, and each tie was
/// a look into the arena at random and a `memcmp`, 9 % of a 10 M-page import's samples
/// while it read the dumps.
#[derive(Clone, Copy)]
struct Entry {
    prefix: u128,
    at: usize,
    key_len: u32,
    value_len: u32,
}

impl Entry {
    fn key<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        &arena[self.at..self.at + self.key_len as usize]
    }

    fn value<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        let v = self.at + self.key_len as usize;
        &arena[v..v + self.value_len as usize]
    }
}

/// A key's first sixteen bytes, big-endian, zero-padded: ordered as the keys are, up to
/// ties.
fn prefix(key: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let n = key.len().min(16);
    b[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(b)
}

/// A record: its key and its value.
pub type Record = (Box<[u8]>, Box<[u8]>);

/// Bytes a record costs in memory beyond its own (its entry).
const RECORD_OVERHEAD: usize = std::mem::size_of::<Entry>();

impl RecordSorter {
    /// A sorter holding at most `budget` bytes of records and their entries, in two
    /// buffers: one filling, one being sorted and written.
    pub fn new(dir: &Path, budget: usize) -> Self {
        RecordSorter {
            dir: dir.to_path_buf(),
            id: SORTERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            arena: Vec::new(),
            entries: Vec::new(),
            budget,
            runs: Vec::new(),
            writing: None,
        }
    }

    fn held(&self) -> usize {
        self.arena.len() + self.entries.len() * RECORD_OVERHEAD
    }

    pub fn push(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        if self.held() >= self.budget / 2 && !self.entries.is_empty() {
            self.spill()?;
        }
        let (key_len, value_len) = match (u32::try_from(key.len()), u32::try_from(value.len())) {
            (Ok(k), Ok(v)) => (k, v),
            _ => return Err(io::Error::other("a record of 4 GiB or more")),
        };
        self.entries.push(Entry {
            prefix: prefix(key),
            at: self.arena.len(),
            key_len,
            value_len,
        });
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        Ok(())
    }

    /// Waits for the run being written; returns its buffers.
    fn wait(&mut self) -> io::Result<Spare> {
        match self.writing.take() {
            Some(h) => h
                .join()
                .map_err(|_| io::Error::other("the thread writing a sort run panicked"))?,
            None => Ok((Vec::new(), Vec::new())),
        }
    }

    /// Hands the held records to a thread that sorts and writes them as a run, so that
    /// the caller goes on filling the other buffer meanwhile.
    fn spill(&mut self) -> io::Result<()> {
        let (arena, entries) = self.wait()?;
        let arena = std::mem::replace(&mut self.arena, arena);
        let entries = std::mem::replace(&mut self.entries, entries);
        let path = self.dir.join(format!(
            "records-{}-{}-{}.tmp",
            std::process::id(),
            self.id,
            self.runs.len()
        ));
        // Registered before writing so that a failed write is still cleaned up.
        self.runs.push(path.clone());
        self.writing = Some(std::thread::spawn(move || {
            write_records(&path, arena, entries)
        }));
        Ok(())
    }

    /// Every record pushed, ascending.
    pub fn finish(mut self) -> io::Result<SortedRecords> {
        if self.runs.is_empty() {
            sort_entries(&self.arena, &mut self.entries);
            return Ok(SortedRecords {
                memory: MemoryRecords {
                    arena: std::mem::take(&mut self.arena),
                    entries: std::mem::take(&mut self.entries).into_iter(),
                },
                merge: None,
                _sorter: self,
            });
        }
        if !self.entries.is_empty() {
            self.spill()?;
        }
        self.wait()?;
        // As many runs as a merge takes at once: more are merged in stages first.
        let (dir, id) = (self.dir.clone(), self.id);
        merge_in_stages(
            &mut self.runs,
            |n| dir.join(format!("records-{}-{id}-m{n}.tmp", std::process::id())),
            |group, w| {
                let mut w = RunWriter::new(w);
                let mut merge = RecordMerge::open(group)?;
                while let Some(rec) = merge.next_ref() {
                    let (k, v) = rec?;
                    w.push(k, v)?;
                }
                Ok(())
            },
        )?;
        Ok(SortedRecords {
            memory: MemoryRecords {
                arena: Vec::new(),
                entries: Vec::new().into_iter(),
            },
            merge: Some(RecordMerge::open(&self.runs)?),
            _sorter: self,
        })
    }
}

/// Sorts records by key, then value.
fn sort_entries(arena: &[u8], entries: &mut [Entry]) {
    entries.sort_unstable_by(|a, b| {
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| tied_keys(arena, a, b))
            .then_with(|| {
                let (va, vb) = (a.at + a.key_len as usize, b.at + b.key_len as usize);
                cmp_short(arena, va, a.value_len as usize, vb, b.value_len as usize)
            })
    });
}

/// `arena[a..a + la].cmp(&arena[b..b + lb])`, without a call to `memcmp` where both are
/// at most sixteen bytes with sixteen to read: each read as a number, the bytes past its
/// end masked off (then the shorter of two equal-looking ones is the other's start). The
/// values of records whose keys tie — a title's links — are that short.
fn cmp_short(arena: &[u8], a: usize, la: usize, b: usize, lb: usize) -> std::cmp::Ordering {
    let word = |at: usize, len: usize| -> Option<u128> {
        let bytes: [u8; 16] = arena.get(at..at.checked_add(16)?)?.try_into().ok()?;
        let mask = match len {
            0 => 0,
            1..=16 => u128::MAX << (128 - 8 * len),
            _ => return None,
        };
        Some(u128::from_be_bytes(bytes) & mask)
    };
    match (word(a, la), word(b, lb)) {
        (Some(x), Some(y)) => x.cmp(&y).then(la.cmp(&lb)),
        _ => arena[a..a + la].cmp(&arena[b..b + lb]),
    }
}

/// The order of two keys whose prefixes are equal. Most such keys are equal — a title that
/// many links name — and where either fits its prefix the lengths tell (the shorter is the
/// other's start, the padding being zeros): no look into the arena. Otherwise only the
/// bytes past the prefix are compared.
fn tied_keys(arena: &[u8], a: &Entry, b: &Entry) -> std::cmp::Ordering {
    const P: u32 = std::mem::size_of::<u128>() as u32;
    if a.key_len.min(b.key_len) <= P {
        a.key_len.cmp(&b.key_len)
    } else {
        let (la, lb) = ((a.key_len - P) as usize, (b.key_len - P) as usize);
        cmp_short(arena, a.at + P as usize, la, b.at + P as usize, lb)
    }
}

/// Sorts a full buffer of records and writes it as a run; gives the buffers back, emptied.
fn write_records(path: &Path, mut arena: Vec<u8>, mut entries: Vec<Entry>) -> io::Result<Spare> {
    sort_entries(&arena, &mut entries);
    let mut w = RunWriter::new(BufWriter::with_capacity(1 << 20, File::create(path)?));
    for e in &entries {
        w.push(e.key(&arena), e.value(&arena))?;
    }
    w.into_inner().flush()?;
    arena.clear();
    entries.clear();
    Ok((arena, entries))
}

impl Drop for RecordSorter {
    fn drop(&mut self) {
        let _ = self.wait();
        for p in &self.runs {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A LEB128 varint from a reader; `None` at the end, an error if cut inside one.
pub(crate) fn read_varint(r: &mut impl Read) -> io::Result<Option<u64>> {
    let (mut v, mut shift, mut byte) = (0u64, 0u32, [0u8]);
    loop {
        if r.read(&mut byte)? == 0 {
            return if shift == 0 {
                Ok(None)
            } else {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "run cut"))
            };
        }
        if shift >= 64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "varint too long",
            ));
        }
        v |= u64::from(byte[0] & 0x7f) << shift;
        shift += 7;
        if byte[0] & 0x80 == 0 {
            return Ok(Some(v));
        }
    }
}

/// Writes a run of sorted records, each key front coded against the one before it:
/// `varint(shared prefix) varint(suffix len) varint(value len) suffix value`. A title that
/// many link rows name comes once per run and then as three bytes a row, and neighbours
/// in title order share most of their bytes: an XML bulk load's scratch was 45 bytes a
/// link with whole keys.
struct RunWriter<W> {
    w: W,
    prev: Vec<u8>,
    head: Vec<u8>,
}

impl<W: Write> RunWriter<W> {
    fn new(w: W) -> Self {
        RunWriter {
            w,
            prev: Vec::new(),
            head: Vec::with_capacity(30),
        }
    }

    fn push(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let shared = common_prefix(&self.prev, key);
        self.head.clear();
        crate::postings::put_varint(&mut self.head, shared as u64);
        crate::postings::put_varint(&mut self.head, (key.len() - shared) as u64);
        crate::postings::put_varint(&mut self.head, value.len() as u64);
        self.w.write_all(&self.head)?;
        self.w.write_all(&key[shared..])?;
        self.w.write_all(value)?;
        self.prev.truncate(shared);
        self.prev.extend_from_slice(&key[shared..]);
        Ok(())
    }

    fn into_inner(self) -> W {
        self.w
    }
}

/// The length of the longest common prefix of `a` and `b`, eight bytes at a time.
pub(crate) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes"))
            ^ u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + a[i..n]
        .iter()
        .zip(&b[i..n])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Reads a run that [`RunWriter`] wrote.
struct RunReader {
    r: BufReader<File>,
}

impl RunReader {
    fn open(path: &Path) -> io::Result<Self> {
        Ok(RunReader {
            r: BufReader::with_capacity(1 << 16, File::open(path)?),
        })
    }

    /// A varint straight from the reader's buffer when a whole one is surely in it.
    fn varint(&mut self) -> io::Result<Option<u64>> {
        let buffered = self.r.buffer();
        if buffered.len() >= 10 {
            let mut pos = 0;
            let v = crate::postings::get_varint(buffered, &mut pos)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "varint too long"))?;
            self.r.consume(pos);
            return Ok(Some(v));
        }
        read_varint(&mut self.r)
    }

    /// The next record into `key` and `value`, their buffers reused; `key` must hold this
    /// run's record before (empty at its start), as its prefix is shared. False at the end.
    fn read(&mut self, key: &mut Vec<u8>, value: &mut Vec<u8>) -> io::Result<bool> {
        let Some(shared) = self.varint()? else {
            return Ok(false);
        };
        let cut = || io::Error::new(io::ErrorKind::UnexpectedEof, "run cut");
        let suffix = self.varint()?.ok_or_else(cut)?;
        let vlen = self.varint()?.ok_or_else(cut)?;
        let shared = usize::try_from(shared)
            .ok()
            .filter(|&s| s <= key.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "run damaged"))?;
        key.truncate(shared);
        key.resize(shared + suffix as usize, 0);
        self.r.read_exact(&mut key[shared..])?;
        value.clear();
        value.resize(vlen as usize, 0);
        self.r.read_exact(value)?;
        Ok(true)
    }
}

/// A run's current record in a merge, compared by its key's first sixteen bytes as a
/// number first: most comparisons end there, without a call to compare bytes.
struct Head {
    prefix: u128,
    key: Vec<u8>,
    value: Vec<u8>,
    run: usize,
}

impl Head {
    fn order(&self) -> (u128, &[u8], &[u8], usize) {
        (self.prefix, &self.key, &self.value, self.run)
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

/// The records of several runs, ascending, each lent until the next is asked for: a
/// record's buffers are its run's, refilled in place.
struct RecordMerge {
    runs: Vec<RunReader>,
    heap: BinaryHeap<Reverse<Head>>,
    /// The top was lent out: its run moves on before the next record.
    lent: bool,
}

impl RecordMerge {
    fn open(paths: &[PathBuf]) -> io::Result<Self> {
        let mut runs = Vec::with_capacity(paths.len());
        let mut heap = BinaryHeap::with_capacity(paths.len());
        for (run, path) in paths.iter().enumerate() {
            let mut r = RunReader::open(path)?;
            let (mut key, mut value) = (Vec::new(), Vec::new());
            if r.read(&mut key, &mut value)? {
                heap.push(Reverse(Head {
                    prefix: prefix(&key),
                    key,
                    value,
                    run,
                }));
            }
            runs.push(r);
        }
        Ok(RecordMerge {
            runs,
            heap,
            lent: false,
        })
    }

    fn next_ref(&mut self) -> Option<io::Result<(&[u8], &[u8])>> {
        if std::mem::take(&mut self.lent) {
            // The top's run moves on in place: one sift, no allocation.
            let mut top = self.heap.peek_mut()?;
            let Reverse(h) = &mut *top;
            match self.runs[h.run].read(&mut h.key, &mut h.value) {
                Ok(true) => h.prefix = prefix(&h.key),
                Ok(false) => {
                    std::collections::binary_heap::PeekMut::pop(top);
                }
                Err(e) => return Some(Err(e)),
            }
        }
        let Reverse(h) = self.heap.peek()?;
        self.lent = true;
        Some(Ok((&h.key, &h.value)))
    }
}

/// Records sorted in memory, none spilled.
struct MemoryRecords {
    arena: Vec<u8>,
    entries: std::vec::IntoIter<Entry>,
}

/// The sorted records; holds the run files until dropped.
pub struct SortedRecords {
    memory: MemoryRecords,
    merge: Option<RecordMerge>,
    _sorter: RecordSorter,
}

impl SortedRecords {
    /// The next record, lent until the next call: no allocation per record.
    pub fn next_ref(&mut self) -> Option<io::Result<(&[u8], &[u8])>> {
        match &mut self.merge {
            Some(m) => m.next_ref(),
            None => {
                let e = self.memory.entries.next()?;
                let arena = &self.memory.arena;
                Some(Ok((e.key(arena), e.value(arena))))
            }
        }
    }

    /// The same records, merged on a thread of its own a batch ahead of the caller, as
    /// [`Sorted::ahead`] does for keys: a bulk load's settles then merge on one core and
    /// file what they read on the other.
    pub fn ahead(mut self) -> RecordsAhead {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Option<RecordBatch>>>(4);
        let (back, spare) = std::sync::mpsc::sync_channel::<RecordBatch>(4);
        std::thread::spawn(move || {
            let mut batch = RecordBatch::default();
            loop {
                match self.next_ref() {
                    Some(Ok((k, v))) => {
                        batch.bytes.extend_from_slice(k);
                        let key_end = batch.bytes.len();
                        batch.bytes.extend_from_slice(v);
                        batch.ends.push((key_end, batch.bytes.len()));
                        if batch.bytes.len() >= RECORDS_AHEAD || batch.ends.len() >= AHEAD_CHUNK {
                            let mut next = spare.try_recv().unwrap_or_default();
                            next.bytes.clear();
                            next.ends.clear();
                            if tx
                                .send(Ok(Some(std::mem::replace(&mut batch, next))))
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    None => {
                        if !batch.ends.is_empty() && tx.send(Ok(Some(batch))).is_err() {
                            return;
                        }
                        let _ = tx.send(Ok(None));
                        return;
                    }
                }
            }
        });
        RecordsAhead {
            batches: Batches::new(rx),
            back,
            batch: RecordBatch::default(),
            at: 0,
        }
    }
}

/// Bytes of records a batch of [`RecordsAhead`] holds, at most (give or take a record).
const RECORDS_AHEAD: usize = if cfg!(test) { 64 } else { 1 << 20 };

/// Records one after another: each one's key and value end in `bytes` (the next one
/// starts where the value before ends).
#[derive(Default)]
struct RecordBatch {
    bytes: Vec<u8>,
    ends: Vec<(usize, usize)>,
}

/// [`SortedRecords::ahead`]'s records. Dropping it early stops the merging thread at its
/// next batch; the run files go when that thread ends.
pub struct RecordsAhead {
    batches: Batches<RecordBatch>,
    /// Batches read, handed back to be filled again.
    back: std::sync::mpsc::SyncSender<RecordBatch>,
    batch: RecordBatch,
    at: usize,
}

impl RecordsAhead {
    /// The next record, lent until the next call.
    pub fn next_ref(&mut self) -> Option<io::Result<(&[u8], &[u8])>> {
        while self.at == self.batch.ends.len() {
            match self.batches.next()? {
                Ok(b) => {
                    let read = std::mem::replace(&mut self.batch, b);
                    let _ = self.back.try_send(read);
                    self.at = 0;
                }
                Err(e) => return Some(Err(e)),
            }
        }
        let start = match self.at {
            0 => 0,
            n => self.batch.ends[n - 1].1,
        };
        let (key_end, end) = self.batch.ends[self.at];
        self.at += 1;
        Some(Ok((
            &self.batch.bytes[start..key_end],
            &self.batch.bytes[key_end..end],
        )))
    }
}

impl Iterator for SortedRecords {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<io::Result<Record>> {
        Some(self.next_ref()?.map(|(k, v)| (k.into(), v.into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Two sorters spilling into one directory at once keep their runs apart (they once
    /// shared run file names, and `verify` found rows missing that were not).
    #[test]
    fn two_sorters_at_once_keep_their_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Sorter::new(dir.path(), 0);
        let mut b = Sorter::new(dir.path(), 0);
        for k in 0..5000u128 {
            a.push(k * 2).unwrap();
            b.push(k * 2 + 1).unwrap();
        }
        let a: Vec<u128> = a.finish().unwrap().map(|k| k.unwrap()).collect();
        let b: Vec<u128> = b.finish().unwrap().map(|k| k.unwrap()).collect();
        assert_eq!(a, (0..5000u128).map(|k| k * 2).collect::<Vec<_>>());
        assert_eq!(b, (0..5000u128).map(|k| k * 2 + 1).collect::<Vec<_>>());
    }

    /// More runs than one merge takes are merged in stages, with every key once.
    #[test]
    fn keys_ordered_by_their_high_half_make_a_run_a_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path(), 0);
        // Groups of a few keys by high half (pages' forward rows), unordered within, that
        // straddle the runs' ends; then a second such sequence (another link table).
        let keys: Vec<u128> = (0..2u128)
            .flat_map(|table| {
                (0..10_000u128).map(move |i| ((i / 7) << 64) | ((i * 7919 + table) % 1000))
            })
            .collect();
        for &k in &keys {
            s.push(k).unwrap();
        }
        let sorted = s.finish().unwrap();
        let runs = std::fs::read_dir(dir.path()).unwrap().count();
        // One run per ordered sequence, and one of the buffer where they meet.
        assert_eq!(runs, 3);
        let got: Vec<u128> = sorted.map(|k| k.unwrap()).collect();
        let want: Vec<u128> = keys
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn many_runs_merge_in_stages() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path(), 0);
        let n = 1024 * (FAN_IN as u128 + 40);
        for k in 0..n {
            // Each run's keys spread over the whole range, so every run meets every other.
            s.push((k * 7919) % n).unwrap();
            s.push((k * 7919) % n).unwrap();
        }
        let got: Vec<u128> = s.finish().unwrap().map(|k| k.unwrap()).collect();
        assert_eq!(got, (0..n).collect::<Vec<_>>());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// More record runs than one merge takes are merged in stages, every record kept.
    #[test]
    fn many_record_runs_merge_in_stages() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = RecordSorter::new(dir.path(), 0);
        let n = FAN_IN as u32 + 40;
        for k in 0..n {
            // A budget of nothing: a run per record.
            s.push(&((k * 7919) % n).to_be_bytes(), &[k as u8]).unwrap();
        }
        let got: Vec<u32> = s
            .finish()
            .unwrap()
            .map(|r| u32::from_be_bytes(r.unwrap().0[..].try_into().unwrap()))
            .collect();
        assert_eq!(got, (0..n).collect::<Vec<_>>());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// A run repeats a key in three bytes a record, not the key's length.
    #[test]
    fn record_runs_front_code_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let key = [b'k'; 40];
        let mut w = RunWriter::new(Vec::new());
        for v in 0..1000u16 {
            w.push(&key, &v.to_be_bytes()).unwrap();
        }
        let run = w.into_inner();
        assert!(run.len() < 1000 * 6, "{} bytes", run.len());
        std::fs::write(dir.path().join("run"), &run).unwrap();
        let mut r = RunReader::open(&dir.path().join("run")).unwrap();
        let (mut k, mut val) = (Vec::new(), Vec::new());
        for v in 0..1000u16 {
            assert!(r.read(&mut k, &mut val).unwrap());
            assert_eq!((&k[..], &val[..]), (&key[..], &v.to_be_bytes()[..]));
        }
        assert!(!r.read(&mut k, &mut val).unwrap());
    }

    /// A thread working ahead that stops without saying it is done (it panicked) gives an
    /// error after what it sent, not an end that would pass for all of it.
    #[test]
    fn a_thread_gone_silent_is_an_error() {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        tx.send(Ok(Some(vec![1u128, 2]))).unwrap();
        drop(tx);
        let mut ahead = Ahead {
            batches: Batches::new(rx),
            chunk: Vec::new().into_iter(),
        };
        assert_eq!(ahead.next().unwrap().unwrap(), 1);
        assert_eq!(ahead.next().unwrap().unwrap(), 2);
        assert!(ahead.next().unwrap().is_err());
        assert!(ahead.next().is_none());
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        tx.send(Ok(Some(vec![3u128]))).unwrap();
        tx.send(Ok(None)).unwrap();
        let mut ahead = Ahead {
            batches: Batches::new(rx),
            chunk: Vec::new().into_iter(),
        };
        assert_eq!(ahead.next().unwrap().unwrap(), 3);
        assert!(ahead.next().is_none());
    }

    #[test]
    fn common_prefixes() {
        for (a, b, n) in [
            (&b""[..], &b"abc"[..], 0),
            (b"abcdefghij", b"abcdefghij", 10),
            (b"abcdefghij", b"abcdefghIj", 8),
            (b"abcdefgh", b"abcdefgx", 7),
            (b"abcdefghijklmnopq", b"abcdefghijklmnopqrs", 17),
            (b"x", b"y", 0),
        ] {
            assert_eq!(common_prefix(a, b), n);
            assert_eq!(common_prefix(b, a), n);
        }
    }

    proptest! {
        /// Short byte strings compared as masked numbers order as slices do, wherever they
        /// lie in the arena (at its end, read as slices).
        #[test]
        fn short_compares_order_as_slices(
            arena in proptest::collection::vec(prop_oneof![Just(0u8), Just(1), any::<u8>()], 1..48),
            a in (0usize..48, 0usize..20),
            b in (0usize..48, 0usize..20),
        ) {
            let fit = |(at, len): (usize, usize)| {
                let at = at % arena.len();
                (at, len.min(arena.len() - at))
            };
            let ((a, la), (b, lb)) = (fit(a), fit(b));
            prop_assert_eq!(
                cmp_short(&arena, a, la, b, lb),
                arena[a..a + la].cmp(&arena[b..b + lb])
            );
        }

        #[test]
        fn records_sort_like_a_sorted_vec(recs in proptest::collection::vec(
            // Keys of random bytes, or sharing a long run of one byte (past the 16 bytes
            // an entry compares as a number) before a short tail of small ones.
            (prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..12),
                (0usize..20, proptest::collection::vec(0u8..3, 0..4)).prop_map(|(n, tail)| {
                    let mut k = vec![7u8; n];
                    k.extend(tail);
                    k
                }),
            ], proptest::collection::vec(any::<u8>(), 0..3)), 0..600),
                                          budget in prop_oneof![Just(0), Just(400), Just(DEFAULT_BUDGET)],
                                          ahead in any::<bool>()) {
            let dir = tempfile::tempdir().unwrap();
            // No budget: a run per record; a small one: runs of a few records, front coded.
            let mut s = RecordSorter::new(dir.path(), budget);
            for (k, v) in &recs {
                s.push(k, v).unwrap();
            }
            let mut want = recs.clone();
            want.sort();
            if ahead {
                // Merged by another thread, in batches of a few records here.
                let mut sorted = s.finish().unwrap().ahead();
                let mut got = Vec::new();
                while let Some(r) = sorted.next_ref() {
                    let (k, v) = r.unwrap();
                    got.push((k.to_vec(), v.to_vec()));
                }
                prop_assert!(sorted.next_ref().is_none());
                prop_assert_eq!(got, want);
            } else {
                let got: Vec<(Vec<u8>, Vec<u8>)> = s.finish().unwrap()
                    .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
                prop_assert_eq!(got, want);
                prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
            }
        }

        #[test]
        fn sorts_like_a_btree_set(mut keys in proptest::collection::vec(any::<u128>(), 0..3000),
                                  small in any::<bool>(), presorted in any::<bool>(),
                                  few_highs in any::<bool>(), taken in 0usize..40) {
            if few_highs {
                // Many keys share a high half, as a page's forward rows do.
                for k in keys.iter_mut() {
                    *k = (((*k >> 64) % 7) << 64) | (*k & u128::from(u64::MAX));
                }
            }
            if presorted {
                // Ordered by the high half only: the grouped sort's case.
                keys.sort_by_key(|k| k >> 64);
            }
            let dir = tempfile::tempdir().unwrap();
            // A tiny budget forces several runs and the merge.
            let mut s = Sorter::new(dir.path(), if small { 0 } else { DEFAULT_BUDGET });
            for &k in &keys {
                s.push(k).unwrap();
            }
            let got: Vec<u128> = if small {
                // Some keys one at a time, then the rest a chunk at a time.
                let mut ahead = s.finish().unwrap().ahead();
                let mut got: Vec<u128> = ahead.by_ref().take(taken).map(|k| k.unwrap()).collect();
                while let Some(chunk) = ahead.next_chunk() {
                    got.extend(chunk.unwrap());
                }
                got
            } else {
                s.finish().unwrap().map(|k| k.unwrap()).collect()
            };
            let want: Vec<u128> = keys.iter().copied().collect::<std::collections::BTreeSet<_>>()
                .into_iter().collect();
            prop_assert_eq!(got, want);
            // The run files are gone with the sorted stream.
            prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }

        /// A buffer sorts alike whether its stretches come ordered by their high halves
        /// (one stretch: the grouped sort) or not.
        #[test]
        fn buffers_sort_in_stretches_or_none(keys in proptest::collection::vec(any::<u128>(), 0..2000),
                                             stretches in 1usize..14, few_highs in any::<bool>()) {
            let keys: Vec<u128> = if few_highs {
                keys.iter().map(|k| (((k >> 64) % 5) << 64) | (k & 0xff)).collect()
            } else {
                keys
            };
            let chunk = keys.len().div_ceil(stretches).max(1);
            let mut wide = keys.clone();
            for part in wide.chunks_mut(chunk) {
                part.sort_by_key(|k| k >> 64);
            }
            let mut narrow: Vec<u64> = wide.iter().map(|&k| ((k >> 64) as u64) << 32 | k as u32 as u64).collect();
            let mut want_narrow = narrow.clone();
            want_narrow.sort_unstable();
            sort_keys(&mut narrow);
            prop_assert_eq!(narrow, want_narrow);
            let mut want = wide.clone();
            want.sort_unstable();
            sort_keys(&mut wide);
            prop_assert_eq!(wide, want);
        }

        /// Narrow keys sort alike, their high half the upper 32 bits.
        #[test]
        fn sorts_narrow_keys_like_a_btree_set(mut keys in proptest::collection::vec(any::<u64>(), 0..3000),
                                              few_highs in any::<bool>(), presorted in any::<bool>()) {
            if few_highs {
                for k in keys.iter_mut() {
                    *k = (((*k >> 32) % 7) << 32) | (*k & u64::from(u32::MAX));
                }
            }
            if presorted {
                keys.sort_by_key(|k| k >> 32);
            }
            let dir = tempfile::tempdir().unwrap();
            let mut s = Sorter::<u64>::new(dir.path(), 0);
            for &k in &keys {
                s.push(k).unwrap();
            }
            let got: Vec<u64> = s.finish().unwrap().ahead().map(|k| k.unwrap()).collect();
            let want: Vec<u64> = keys.iter().copied().collect::<std::collections::BTreeSet<_>>()
                .into_iter().collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }
}
