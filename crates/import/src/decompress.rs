//! Opening dump files: plain, gzip, zstd and bzip2 (multistream files decoded on several
//! threads), with a byte counter on the compressed input for progress reporting.

use crate::ImportError;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread;

/// Counts bytes read from the underlying (compressed) file.
pub struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Zstd,
}

pub fn sniff_compression(head: &[u8]) -> Compression {
    match head {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [b'B', b'Z', b'h', ..] => Compression::Bzip2,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        _ => Compression::None,
    }
}

/// An opened dump: decompressed bytes, and a counter of compressed bytes consumed.
pub struct Opened {
    pub reader: Box<dyn BufRead + Send>,
    pub consumed: Arc<AtomicU64>,
    pub total: u64,
    pub compression: Compression,
}

pub fn open(path: &Path) -> Result<Opened, ImportError> {
    let mut file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = [0u8; 4];
    let n = file.read(&mut head).map_err(|e| ImportError::io(path, e))?;
    let compression = sniff_compression(&head[..n]);
    let consumed = Arc::new(AtomicU64::new(0));
    let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let counted = Counting {
        inner: file,
        count: consumed.clone(),
    };
    const BUF: usize = 1 << 20;
    let reader: Box<dyn BufRead + Send> = match compression {
        Compression::None => Box::new(BufReader::with_capacity(BUF, counted)),
        // Inflating on a thread of its own, ahead of the reader: the parse and the index
        // build get the other core.
        // Its chunks are read where they lie (it is a `BufRead`): a `BufReader` over it
        // copied every byte once more.
        Compression::Gzip => Box::new(ReadAhead::new(flate2::read::MultiGzDecoder::new(
            BufReader::new(counted),
        ))),
        Compression::Zstd => {
            let d =
                zstd::stream::read::Decoder::new(counted).map_err(|e| ImportError::io(path, e))?;
            Box::new(ReadAhead::new(d))
        }
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            BUF,
            ParallelBz2::new(counted, workers()),
        )),
    };
    Ok(Opened {
        reader,
        consumed,
        total,
        compression,
    })
}

fn workers() -> usize {
    thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
}

/// Reads another reader on a thread of its own, a few chunks ahead.
pub struct ReadAhead {
    full: Receiver<io::Result<Vec<u8>>>,
    /// Chunks read out go back to the thread, so the same few buffers serve the whole file.
    empty: std::sync::mpsc::SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

/// Chunks in flight, and their size: several of a SQL dump's `INSERT` lines (about 1 MB),
/// so that most lines are read whole where they lie, not pieced together.
const AHEAD: usize = 6;
const AHEAD_CHUNK: usize = 4 << 20;

impl ReadAhead {
    pub fn new<R: Read + Send + 'static>(mut inner: R) -> Self {
        let (full_tx, full) = sync_channel::<io::Result<Vec<u8>>>(AHEAD);
        let (empty, empty_rx) = sync_channel::<Vec<u8>>(AHEAD + 2);
        thread::spawn(move || loop {
            let mut buf = empty_rx
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(AHEAD_CHUNK));
            buf.resize(AHEAD_CHUNK, 0);
            let mut n = 0;
            // Fill the chunk (a decoder returns little at a time) or reach the end.
            let r = loop {
                match inner.read(&mut buf[n..]) {
                    Ok(0) => break Ok(()),
                    Ok(k) => {
                        n += k;
                        if n == buf.len() {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            buf.truncate(n);
            let done = n == 0 || r.is_err();
            let sent = match r {
                Ok(()) if n == 0 => true,
                Ok(()) => full_tx.send(Ok(buf)).is_ok(),
                Err(e) => {
                    if n > 0 {
                        let _ = full_tx.send(Ok(buf));
                    }
                    full_tx.send(Err(e)).is_ok()
                }
            };
            if done || !sent {
                return;
            }
        });
        ReadAhead {
            full,
            empty,
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.fill_buf()?;
        let n = buf.len().min(chunk.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ReadAhead {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.current.len() {
            let Ok(next) = self.full.recv() else {
                return Ok(&[]);
            };
            let chunk = next?;
            let old = std::mem::replace(&mut self.current, chunk);
            let _ = self.empty.try_send(old);
            self.pos = 0;
        }
        Ok(&self.current[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.current.len());
    }
}

/// bzip2 stream header followed by the first block's magic. Wikimedia's multistream dumps
/// are concatenated bzip2 streams, each starting byte-aligned with these bytes; inside a
/// stream the bytes occur byte-aligned only by a 1-in-2^80 chance.
fn is_stream_start(b: &[u8]) -> bool {
    b.len() >= 10
        && &b[..3] == b"BZh"
        && (b'1'..=b'9').contains(&b[3])
        && b[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
}

/// Decodes a bzip2 file whose streams can be told apart on several threads, in order.
/// A single-stream file decodes on one thread, like any bzip2 reader.
pub struct ParallelBz2 {
    results: Receiver<Receiver<io::Result<Vec<u8>>>>,
    current: Vec<u8>,
    pos: usize,
    /// Buffers read out, for the workers to decode into again: fresh memory costs the
    /// kernel a page fault and a zeroed page for every 4 KiB.
    spare: Spare,
}

/// Output buffers going back to the bzip2 workers.
type Spare = Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

/// Compressed bytes gathered before a chunk is handed to a worker (a Wikimedia stream
/// holds 100 pages, some tens of KB).
const CHUNK: usize = 1 << 20;

impl ParallelBz2 {
    pub fn new<R: Read + Send + 'static>(mut input: R, workers: usize) -> Self {
        // Each chunk gets its own one-shot channel; the queue of those keeps output in order
        // and bounds how far reading runs ahead of the consumer.
        let (order_tx, order_rx) = sync_channel::<Receiver<io::Result<Vec<u8>>>>(workers * 2);
        let spare: Spare = Default::default();
        let pool_spare = spare.clone();
        thread::spawn(move || {
            let ready = |r: io::Result<Vec<u8>>| {
                let (tx, rx) = sync_channel(1);
                let _ = tx.send(r);
                order_tx.send(rx).is_ok()
            };
            let mut pending: Vec<u8> = Vec::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut eof = false;
            // A multistream file shows a second stream start early on.
            // Appends one read to `pending`; false on a read error (already reported).
            let mut fill = |pending: &mut Vec<u8>, eof: &mut bool| match input.read(&mut buf) {
                Ok(0) => {
                    *eof = true;
                    true
                }
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    true
                }
                Err(e) => {
                    ready(Err(e));
                    false
                }
            };
            while pending.len() < 2 * CHUNK && !eof {
                if !fill(&mut pending, &mut eof) {
                    return;
                }
            }
            if pending.len() < 2 || first_stream_start(&pending[1..]).is_none() {
                // One stream: decode as it streams in, so parsing overlaps decoding.
                let mut dec =
                    bzip2::read::MultiBzDecoder::new(io::Cursor::new(pending).chain(input));
                loop {
                    let mut block = vec![0u8; 1 << 20];
                    let mut filled = 0;
                    while filled < block.len() {
                        match dec.read(&mut block[filled..]) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) => {
                                ready(Err(e));
                                return;
                            }
                        }
                    }
                    if filled == 0 {
                        return;
                    }
                    block.truncate(filled);
                    if !ready(Ok(block)) {
                        return;
                    }
                }
            }
            let pool = Pool::new(workers, pool_spare);
            loop {
                while pending.len() >= CHUNK || (eof && !pending.is_empty()) {
                    // Cut at the last stream start past CHUNK/2, else take everything when at EOF.
                    let cut = if eof && pending.len() < CHUNK * 2 {
                        pending.len()
                    } else {
                        match last_stream_start(&pending[CHUNK / 2..]) {
                            Some(p) => p + CHUNK / 2,
                            None if eof => pending.len(),
                            None => break, // one long stream: read more
                        }
                    };
                    let chunk: Vec<u8> = pending.drain(..cut).collect();
                    if order_tx.send(pool.decode(chunk)).is_err() {
                        return;
                    }
                }
                if eof || !fill(&mut pending, &mut eof) {
                    return;
                }
            }
        });
        ParallelBz2 {
            results: order_rx,
            current: Vec::new(),
            pos: 0,
            spare,
        }
    }
}

fn first_stream_start(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'B', &b[from..]) {
        if is_stream_start(&b[from + p..]) {
            return Some(from + p);
        }
        from += p + 1;
    }
    None
}

fn last_stream_start(b: &[u8]) -> Option<usize> {
    let mut end = b.len();
    while let Some(p) = memchr::memrchr(b'B', &b[..end]) {
        if is_stream_start(&b[p..]) && p > 0 {
            return Some(p);
        }
        end = p;
    }
    None
}

/// A compressed chunk and where to send its decoded bytes.
type Job = (Vec<u8>, std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>);

struct Pool {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl Pool {
    fn new(n: usize, spare: Spare) -> Self {
        let (tx, rx) =
            sync_channel::<(Vec<u8>, std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>)>(n);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for _ in 0..n {
            let rx = rx.clone();
            let spare = spare.clone();
            thread::spawn(move || loop {
                let job = rx.lock().expect("job queue").recv();
                let Ok((chunk, reply)) = job else { return };
                let mut out = spare
                    .lock()
                    .ok()
                    .and_then(|mut s| s.pop())
                    .unwrap_or_default();
                out.clear();
                // Wikitext compresses about sixfold; a buffer that grows copies what it holds.
                out.reserve(chunk.len() * 8);
                let r = bzip2::read::MultiBzDecoder::new(&chunk[..])
                    .read_to_end(&mut out)
                    .map(|_| out);
                let _ = reply.send(r);
            });
        }
        Pool { jobs: tx }
    }

    fn decode(&self, chunk: Vec<u8>) -> Receiver<io::Result<Vec<u8>>> {
        let (tx, rx) = sync_channel(1);
        let _ = self.jobs.send((chunk, tx));
        rx
    }
}

impl Read for ParallelBz2 {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.current.len() {
            let Ok(next) = self.results.recv() else {
                return Ok(0);
            };
            let data = next
                .recv()
                .map_err(|_| io::Error::other("bzip2 worker stopped"))??;
            let old = std::mem::replace(&mut self.current, data);
            if old.capacity() > 0 {
                if let Ok(mut s) = self.spare.lock() {
                    // As many as can be in flight at once; more would only hold memory.
                    if s.len() < 16 {
                        s.push(old);
                    }
                }
            }
            self.pos = 0;
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn bz(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Byte for byte what the reader gives, read in odd sizes, and its error at the end.
    #[test]
    fn read_ahead_passes_bytes_and_errors_through() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = Vec::new();
        let mut r = ReadAhead::new(std::io::Cursor::new(data.clone()));
        let mut buf = vec![0u8; 777];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, data);
        let failing = std::io::Cursor::new(vec![1u8; 10]).chain(Failing);
        let mut r = ReadAhead::new(failing);
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(got, vec![1u8; 10]);
    }

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::InvalidData, "broken"))
        }
    }

    #[test]
    fn multistream_decodes_in_order() {
        let mut compressed = Vec::new();
        let mut expected = Vec::new();
        for i in 0..300 {
            let part = format!("<page>{i} {}</page>\n", "x".repeat(i * 97 % 5000)).repeat(40);
            compressed.extend(bz(part.as_bytes()));
            expected.extend(part.into_bytes());
        }
        let mut out = Vec::new();
        ParallelBz2::new(std::io::Cursor::new(compressed), 3)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), expected.len());
        assert!(out == expected);
    }

    #[test]
    fn single_stream_decodes_while_streaming() {
        let data: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut out = Vec::new();
        ParallelBz2::new(std::io::Cursor::new(bz(&data)), 2)
            .read_to_end(&mut out)
            .unwrap();
        assert!(out == data);
    }

    #[test]
    fn open_sniffs_every_compression() {
        let data = b"<mediawiki>hello</mediawiki>".repeat(1000);
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let files = [
            ("plain.xml", data.clone(), Compression::None),
            ("x.xml.gz", gz.finish().unwrap(), Compression::Gzip),
            (
                "x.xml.zst",
                zstd::encode_all(&data[..], 1).unwrap(),
                Compression::Zstd,
            ),
            ("x.xml.bz2", bz(&data), Compression::Bzip2),
        ];
        for (name, bytes, kind) in files {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let mut o = open(&p).unwrap();
            assert_eq!(o.compression, kind, "{name}");
            let mut out = Vec::new();
            o.reader.read_to_end(&mut out).unwrap();
            assert!(out == data, "{name}");
        }
    }

    #[test]
    fn corrupt_input_is_an_error() {
        let mut c = bz(b"hello world");
        let n = c.len();
        c[n / 2] ^= 0xff;
        let mut out = Vec::new();
        assert!(ParallelBz2::new(std::io::Cursor::new(c), 2)
            .read_to_end(&mut out)
            .is_err());
    }
}
