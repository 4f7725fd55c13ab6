//! The reverse index's transpose of rows given in page order: each row `(bucket, key,
//! page)` comes back by bucket, then key, then page. The caller cuts its lists into
//! buckets of a few million rows, in list order, so that a bucket is sorted in memory by
//! counting: its rows are written to the bucket as they come (a varint of the page's
//! difference from the row before, a varint of the key), and a bucket read back is
//! counted by key and scattered into place. Pages come in order, so the rows of one key
//! land in page order with no comparison made; no run is sorted and no runs are merged,
//! where an external sort did both for every row.
//!
//! A key's low `minor_bits` are a minor part (the reverse index's namespace rank): rows
//! are counted by the rest, and the rare group of one major part that mixes minor parts
//! is sorted. A bucket larger than the memory budget is sorted externally instead.
//!
//! Buckets fill buffers of [`CHUNK`] bytes; a full one is appended to one scratch file
//! under the index directory, unnamed (so that it goes however the process ends), and
//! remembered by its place.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::postings::{get_varint, put_varint};
use crate::sorter::Sorter;

/// Bytes a bucket holds in memory before they go to the scratch file.
const CHUNK: usize = 32 << 10;

pub struct Transpose {
    dir: PathBuf,
    scratch: Option<BufWriter<File>>,
    written: u64,
    buckets: Vec<Bucket>,
    minor_bits: u32,
    /// Bytes a bucket may take to be sorted in memory.
    budget: usize,
}

#[derive(Default)]
struct Bucket {
    /// Rows not yet written, coded.
    buf: Vec<u8>,
    /// The page of the last row in `buf` (each chunk starts from 0).
    last_page: u32,
    rows: u64,
    max_key: u32,
    /// Where its full chunks are in the scratch file.
    chunks: Vec<(u64, u32)>,
}

impl Transpose {
    /// `buckets` buckets, rows sorted in memory within `budget` bytes a bucket.
    pub fn new(dir: &Path, buckets: usize, minor_bits: u32, budget: usize) -> Self {
        let mut all = Vec::with_capacity(buckets);
        all.resize_with(buckets, Bucket::default);
        Transpose {
            dir: dir.to_path_buf(),
            scratch: None,
            written: 0,
            buckets: all,
            minor_bits: minor_bits.min(31),
            budget,
        }
    }

    /// Fetches the end of bucket `bucket`'s buffer, where its next row goes.
    #[inline(always)]
    pub fn prefetch(&self, bucket: usize) {
        if let Some(b) = self.buckets.get(bucket) {
            if let Some(end) = b.buf.last() {
                crate::prefetch(end);
            }
        }
    }

    /// A row. A bucket's rows must come with pages that never go down, and be distinct (a
    /// row given twice comes back twice from a bucket sorted in memory, once from one
    /// sorted externally).
    #[inline]
    pub fn push(&mut self, bucket: usize, key: u32, page: u32) -> io::Result<()> {
        let b = &mut self.buckets[bucket];
        let Some(step) = page.checked_sub(b.last_page) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "transpose: rows of a bucket given out of page order",
            ));
        };
        if b.buf.capacity() == 0 {
            b.buf.reserve_exact(CHUNK + 16);
        }
        put_varint(&mut b.buf, u64::from(step));
        put_varint(&mut b.buf, u64::from(key));
        b.last_page = page;
        b.rows += 1;
        b.max_key = b.max_key.max(key);
        if b.buf.len() >= CHUNK {
            self.spill(bucket)?;
        }
        Ok(())
    }

    fn spill(&mut self, bucket: usize) -> io::Result<()> {
        if self.scratch.is_none() {
            // Read back once every row is in. A named one was left behind by a kill.
            let file = tempfile::tempfile_in(&self.dir)?;
            self.scratch = Some(BufWriter::with_capacity(1 << 20, file));
        }
        let w = self.scratch.as_mut().expect("made above");
        let b = &mut self.buckets[bucket];
        w.write_all(&b.buf)?;
        b.chunks.push((self.written, b.buf.len() as u32));
        self.written += b.buf.len() as u64;
        b.buf.clear();
        b.last_page = 0;
        Ok(())
    }

    /// Every row, by bucket, key and page.
    pub fn finish(mut self) -> io::Result<Transposed> {
        let file = match self.scratch.take() {
            Some(w) => Some(w.into_inner().map_err(|e| e.into_error())?),
            None => None,
        };
        Ok(Transposed {
            dir: std::mem::take(&mut self.dir),
            file,
            buckets: std::mem::take(&mut self.buckets),
            minor_bits: self.minor_bits,
            budget: self.budget,
            next: 0,
            sorted: Vec::new(),
            at: 0,
            bucket: 0,
            external: None,
            coded: Vec::new(),
            rows: Vec::new(),
            counts: Vec::new(),
        })
    }
}

/// [`Transpose::finish`]'s rows: `(bucket, key, page)`.
pub struct Transposed {
    dir: PathBuf,
    file: Option<File>,
    buckets: Vec<Bucket>,
    minor_bits: u32,
    budget: usize,
    /// The bucket to read next.
    next: usize,
    /// The bucket at hand, sorted: `key << 32 | page`.
    sorted: Vec<u64>,
    at: usize,
    bucket: usize,
    /// The bucket at hand when it was too large to sort in memory.
    external: Option<crate::sorter::Sorted<u64>>,
    /// Buffers reused bucket after bucket.
    coded: Vec<u8>,
    rows: Vec<u64>,
    counts: Vec<u32>,
}

impl Transposed {
    /// Reads bucket `i` into `sorted` (or `external`).
    fn load(&mut self, i: usize) -> io::Result<()> {
        let mut b = std::mem::take(&mut self.buckets[i]);
        self.sorted.clear();
        self.at = 0;
        self.bucket = i;
        let big = b.rows.saturating_mul(16) > self.budget as u64;
        let mut rows = std::mem::take(&mut self.rows);
        rows.clear();
        if !big {
            rows.reserve(b.rows as usize);
        }
        let mut sorter = big.then(|| Sorter::<u64>::new(&self.dir, self.budget));
        let mut take = |bytes: &[u8]| -> io::Result<()> {
            let mut page = 0u32;
            let mut i = 0;
            while i < bytes.len() {
                let step = varint(bytes, &mut i)?;
                let key = varint(bytes, &mut i)?;
                page = page
                    .checked_add(step)
                    .ok_or_else(|| malformed("a page past 2³²"))?;
                let row = u64::from(key) << 32 | u64::from(page);
                match sorter.as_mut() {
                    Some(s) => s.push(row)?,
                    None => rows.push(row),
                }
            }
            Ok(())
        };
        for &(offset, len) in &b.chunks {
            let Some(s) = self.file.as_mut() else {
                return Err(malformed("a chunk with no scratch file"));
            };
            s.seek(SeekFrom::Start(offset))?;
            self.coded.resize(len as usize, 0);
            s.read_exact(&mut self.coded)?;
            take(&self.coded)?;
        }
        take(&b.buf)?;
        b.buf = Vec::new();
        if let Some(s) = sorter {
            self.external = Some(s.finish()?);
            return Ok(());
        }
        // Counted by key, then scattered: each key's rows stay in page order. Where there
        // are many more keys than rows (the many targets of a few rows each), by major part,
        // and then the groups of several minor parts are sorted: the few rows of a target
        // linked from several namespaces.
        let whole = u64::from(b.max_key) < b.rows.max(1 << 16);
        let shift = 32 + if whole { 0 } else { self.minor_bits };
        let span = (b.max_key >> (shift - 32)) as usize + 1;
        self.counts.clear();
        self.counts.resize(span + 1, 0);
        for &r in &rows {
            self.counts[(r >> shift) as usize + 1] += 1;
        }
        for k in 1..self.counts.len() {
            self.counts[k] += self.counts[k - 1];
        }
        self.sorted.resize(rows.len(), 0);
        for &r in &rows {
            let slot = &mut self.counts[(r >> shift) as usize];
            self.sorted[*slot as usize] = r;
            *slot += 1;
        }
        self.rows = rows;
        if !whole && self.minor_bits > 0 {
            // A major part's rows of several minor parts: by minor part, then page.
            for group in self
                .sorted
                .chunk_by_mut(|a, b| (a >> 32) >> self.minor_bits == (b >> 32) >> self.minor_bits)
            {
                if !group.is_sorted() {
                    group.sort_unstable();
                }
            }
        }
        Ok(())
    }
}

impl Iterator for Transposed {
    type Item = io::Result<(usize, u32, u32)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(ext) = self.external.as_mut() {
                match ext.next() {
                    Some(Ok(r)) => return Some(Ok((self.bucket, (r >> 32) as u32, r as u32))),
                    Some(Err(e)) => return Some(Err(e)),
                    None => self.external = None,
                }
            }
            if let Some(&r) = self.sorted.get(self.at) {
                self.at += 1;
                return Some(Ok((self.bucket, (r >> 32) as u32, r as u32)));
            }
            if self.next >= self.buckets.len() {
                return None;
            }
            let i = self.next;
            self.next += 1;
            if let Err(e) = self.load(i) {
                self.next = self.buckets.len();
                return Some(Err(e));
            }
        }
    }
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("transpose scratch: {what}"),
    )
}

/// A varint of at most 32 bits at `*i`.
#[inline(always)]
fn varint(b: &[u8], i: &mut usize) -> io::Result<u32> {
    let v = get_varint(b, i).map_err(|m| malformed(m.0))?;
    u32::try_from(v).map_err(|_| malformed("a value past 32 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the transpose must give: the rows sorted.
    fn transposed(rows: &[(usize, u32, u32)], minor: u32, budget: usize) -> Vec<(usize, u32, u32)> {
        let dir = tempfile::tempdir().unwrap();
        let buckets = rows.iter().map(|r| r.0 + 1).max().unwrap_or(0);
        let mut t = Transpose::new(dir.path(), buckets, minor, budget);
        for &(b, k, p) in rows {
            t.push(b, k, p).unwrap();
        }
        let out: Vec<_> = t.finish().unwrap().map(Result::unwrap).collect();
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn rows_come_back_sorted(
            steps in proptest::collection::vec((0usize..5, 0u32..3000, 0u32..3), 0..20000),
            minor in 0u32..3,
            small_budget in any::<bool>(),
            sparse in any::<bool>(),
        ) {
            // Pages never go down; rows are unique, as the reverse index's are.
            let mut page = 0u32;
            let mut rows = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for (b, k, up) in steps {
                page += up;
                // Sparse keys are counted by their major part, dense ones whole.
                let k = if sparse { k * 7919 } else { k };
                if seen.insert((b, k, page)) {
                    rows.push((b, k, page));
                }
            }
            let budget = if small_budget { 1024 } else { 64 << 20 };
            let mut want = rows.clone();
            want.sort_unstable();
            prop_assert_eq!(transposed(&rows, minor, budget), want);
        }
    }

    #[test]
    fn pages_out_of_order_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Transpose::new(dir.path(), 1, 0, 1 << 20);
        t.push(0, 1, 5).unwrap();
        assert!(t.push(0, 1, 4).is_err());
    }

    #[test]
    fn chunks_spill_and_the_scratch_file_goes() {
        for budget in [64 << 20, 1 << 20] {
            chunks_spill(budget);
        }
    }

    fn chunks_spill(budget: usize) {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Transpose::new(dir.path(), 3, 1, budget);
        let mut want = Vec::new();
        for page in 0..100_000u32 {
            for b in 0..3 {
                let k = (page * 7 + b as u32) % 5000;
                t.push(b, k, page).unwrap();
                want.push((b, k, page));
            }
        }
        let got = t.finish().unwrap();
        assert!(got.file.is_some(), "chunks spilled");
        // Unnamed: nothing for a kill to leave.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let got: Vec<_> = got.map(Result::unwrap).collect();
        want.sort_unstable();
        assert_eq!(got, want);
    }
}
