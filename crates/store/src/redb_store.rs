//! The embedded default backend: a redb file holding redirects, blocks and small deltas of
//! what changed since the segment was built (pages, link rows both ways, new link targets),
//! beside an immutable link segment (`crate::segment`) holding a snapshot's link rows both
//! ways and its titles. Readers lay the deltas over the segment; folding them into a new
//! segment happens in the background and never blocks them. Layout and versioning:
//! `docs/format.md`.

use crate::postings::{get_varint, put_varint};
use crate::query::{
    Backlink, BacklinkQuery, BacklinkRef, Batch, Direction, Op, Order, PageUpdate, RedirectRow,
    StoreStats,
};
use crate::redirects::RedirectsWriter;
use crate::segment::{
    Cursor, Segment, SegmentError, SegmentWriter, Stored, TargetLists, TitleTablesApart, COMPACT,
    IMPLIED,
};
use crate::sorter::{Sorter, DEFAULT_BUDGET};
use crate::{LinkStore, Result, StoreError};
use inlink_model::{
    BlockRecord, BlockRef, BlockRefKind, LinkKind, PageId, PageRecord, SiteInfo, Title,
};
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, RwLock};

mod forward;
mod load;

/// The format this code writes and reads; see the version log in `docs/format.md`.
pub const FORMAT_VERSION: u32 = 6;
const FORMAT_KEY: &str = "format";
const FORMAT_NAME: &str = "inlink-redb";
const SITE_KEY: &str = "siteinfo";
const NEXT_TARGET_KEY: &str = "next_target";
/// The number of the last committed batch (`u64` LE).
const SEQ_KEY: &str = "seq";
/// The id of the link segment in use (`u64` LE; absent: none).
const SEGMENT_KEY: &str = "segment";
/// The number of the last batch applied in bulk (`u64` LE): until a segment built at or
/// after it is in place, the reverse index is stale and is rebuilt when opened.
const STALE_KEY: &str = "stale";

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// page id → (batch number, present, namespace, is redirect, dbkey): pages changed since
/// the segment was built (written, or deleted when not `present`); they override its pages.
const PAGES: TableDefinition<u32, PageRow> = TableDefinition::new("page_delta");
type PageRow = (u64, bool, i32, bool, &'static str);
/// (namespace, dbkey) → (batch number, present, page id, is redirect): titles whose page
/// changed since the segment was built; they override its page titles.
const TITLES: TableDefinition<(i32, &str), TitleRow> = TableDefinition::new("title_delta");
type TitleRow = (u64, bool, u32, bool);
/// (namespace, dbkey) → target id: titles that became link or redirect targets since the
/// segment was built (the segment's dictionary holds the others; a target id never changes)
const TARGETS: TableDefinition<(i32, &str), u32> = TableDefinition::new("targets");
/// target id → (namespace, dbkey), for the same titles
const TARGET_NAMES: TableDefinition<u32, (i32, &str)> = TableDefinition::new("target_names");
/// from page → (batch number, its link rows compressed by `encode_links`; empty: none):
/// the forward rows of pages changed since the segment was built; they override the
/// segment's forward entries.
const FWD: TableDefinition<u32, (u64, &[u8])> = TableDefinition::new("fwd_delta");
/// (kind, target id, from page) → (filed namespace, present, batch number): link rows
/// changed since the segment was built; they override the segment's.
const DELTA: TableDefinition<(u8, u32, u32), (i32, bool, u64)> = TableDefinition::new("link_delta");
/// page id → (batch number, present, target namespace, target dbkey, fragment, interwiki):
/// MediaWiki's `redirect` rows set (`present`) or cleared since the segment was built;
/// they override the segment's redirects.
const REDIR: TableDefinition<u32, RedirRow> = TableDefinition::new("redirect_delta");
type RedirRow = (u64, bool, i32, &'static str, &'static str, &'static str);
/// (target id, from page) → (batch number, present): local redirects by target, set or
/// cleared since the segment was built.
const REDIR_TO: TableDefinition<(u32, u32), (u64, bool)> =
    TableDefinition::new("redirect_to_delta");
/// page id → JSON array of the page's `BlockRecord`s, in document order
const PAGE_BLOCKS: TableDefinition<u32, &[u8]> = TableDefinition::new("page_blocks");
/// block id → page id
const BLOCK_PAGE: TableDefinition<&str, u32> = TableDefinition::new("block_page");
/// page id → JSON array of the `BlockRef`s made from the page
const PAGE_REFS: TableDefinition<u32, &[u8]> = TableDefinition::new("page_refs");
/// (def block id, referencing page, referencing block) → (anchor, kind)
/// Mention index: token → ascending block positions `page << 24 | position`, delta +
/// LEB128 (`docs/format.md`).
const TERMS: TableDefinition<&str, &[u8]> = TableDefinition::new("block_terms");
/// A page-level index of an earlier build, dropped when found.
const OLD_TERMS: TableDefinition<&str, &[u8]> = TableDefinition::new("terms");
/// Set once `block_terms` covers every page's blocks (indexes made before it get it built).
const TERMS_READY_KEY: &str = "block_terms_ready";
/// Positions inside a page take the low 24 bits of a posting.
const POS_BITS: u32 = 24;
const REFS_BY_DEF: TableDefinition<(&str, u32, &str), (&str, u8)> =
    TableDefinition::new("refs_by_def");

/// The embedded, durable [`LinkStore`]. Every committed batch survives `kill -9`.
pub struct RedbStore {
    core: Arc<Core>,
    /// The background fold, if one was started.
    folder: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What readers, writers and the background fold share.
pub struct Core {
    db: Database,
    path: PathBuf,
    dir: PathBuf,
    generation: AtomicU64,
    /// The segment in use and up to two before it, newest last: a reader whose transaction
    /// began just before a fold committed still finds the segment that transaction names.
    segments: RwLock<Vec<Arc<Segment>>>,
    /// The segment alone answers link and page reads while `generation` is still the
    /// value it had when a snapshot found every delta table empty: those reads then open
    /// no transaction (`read_snapshot`).
    clean: RwLock<Option<(u64, Arc<Segment>)>>,
    /// The `generation` at which a snapshot last found a delta table in use: until a batch
    /// or a fold, reads need not look again (`u64::MAX`: look).
    unclean_at: AtomicU64,
    /// Batches applied in bulk leave the delta alone (`set_bulk`).
    bulk: AtomicBool,
    /// A batch was committed in bulk mode, without an fsync, since the last synced commit.
    bulk_unsynced: AtomicBool,
    folding: AtomicBool,
    fold_lock: Mutex<()>,
    /// Delta rows past which a batch starts a background fold; 0 = by segment size.
    fold_threshold: AtomicU64,
    fold_error: Mutex<Option<String>>,
    /// Titles → target ids, committed ones only (`Writer::tids`).
    tids: Mutex<TidMap>,
    /// Folds completed since the store was opened.
    folds: AtomicU64,
    /// Segments are warmed as they come (`LinkStore::warm` was called).
    warm: AtomicBool,
}

/// Titles → target ids; foldhash, as SipHash showed in import profiles.
type TidMap = std::collections::HashMap<Title, u32, foldhash::fast::RandomState>;

/// Bytes of redb's page cache.
const REDB_CACHE: usize = 512 << 20;

/// Titles the target-id cache holds at most (about 100 MB) before it starts over.
const TID_CACHE_MAX: usize = 1 << 20;

impl std::ops::Deref for RedbStore {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        self.join_fold();
        // Nobody is left to hear of a failure: the index then opens at its last synced
        // commit, consistent.
        let _ = self.persist_bulk();
    }
}

fn engine<E: Into<redb::Error>>(path: &Path) -> impl Fn(E) -> StoreError + '_ {
    move |e| {
        let e: redb::Error = e.into();
        let p = path.display().to_string();
        match e {
            redb::Error::Corrupted(detail) => StoreError::Corrupted { path: p, detail },
            redb::Error::UpgradeRequired(v) => StoreError::IncompatibleFormat {
                path: p,
                found: format!("redb file format {v}"),
                expected: FORMAT_VERSION,
            },
            redb::Error::DatabaseAlreadyOpen => StoreError::Locked { path: p },
            redb::Error::Io(io) => StoreError::Io(io),
            other => StoreError::Engine(other.to_string()),
        }
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("links-{id}.seg"))
}

fn meta_u64(meta: &impl ReadableTable<&'static str, &'static [u8]>, key: &str) -> R<Option<u64>> {
    Ok(meta
        .get(key)?
        .map(|v| u64::from_le_bytes(v.value().try_into().unwrap_or([0; 8]))))
}

impl RedbStore {
    /// Opens the index in directory `dir`, creating it when absent.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        let path = dir.join("index.redb");
        if !path.exists() {
            // A new index file is made under another name and renamed once redb has written
            // it whole: a process killed while redb writes its first header must not leave
            // an `index.redb` that is not a database (found by the kill-an-import test).
            let fresh = dir.join("index.redb.new");
            match std::fs::remove_file(&fresh) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            drop(Database::create(&fresh).map_err(engine(&fresh))?);
            std::fs::File::open(&fresh)?.sync_all()?;
            std::fs::rename(&fresh, &path)?;
            std::fs::File::open(dir)?.sync_all()?;
        }
        // Queries read the segment, so redb's cache (1 GiB by default) mostly serves
        // imports and the deltas; a smaller one keeps a large import under 2 GB.
        let db = Database::builder()
            .set_cache_size(REDB_CACHE)
            .create(&path)
            .map_err(engine(&path))?;
        let store = RedbStore {
            core: Arc::new(Core {
                db,
                path,
                dir: dir.to_path_buf(),
                generation: Default::default(),
                segments: RwLock::new(Vec::new()),
                clean: RwLock::new(None),
                unclean_at: AtomicU64::new(u64::MAX),
                bulk: AtomicBool::new(false),
                bulk_unsynced: AtomicBool::new(false),
                folding: AtomicBool::new(false),
                fold_lock: Mutex::new(()),
                fold_threshold: AtomicU64::new(0),
                fold_error: Mutex::new(None),
                tids: Mutex::new(Default::default()),
                folds: AtomicU64::new(0),
                warm: AtomicBool::new(false),
            }),
            folder: Mutex::new(None),
        };
        store.init()?;
        store.load_segment()?;
        store.build_terms_if_missing()?;
        Ok(store)
    }

    /// Bulk mode, for imports: batches skip the delta (leaving the reverse index stale
    /// until the mode ends), and ending it builds the segment from the forward links by an
    /// external sort — far cheaper than filing every row twice. An index left stale by a
    /// crash is rebuilt when next opened.
    ///
    /// Batches in bulk mode are committed without an fsync: they become durable together
    /// when bulk mode ends (or the store is closed), so a crash during an import takes the
    /// index back to where the import began (never to a half-applied batch). Syncing each
    /// batch of a large import made redb write its rewritten B-tree pages to the disk again
    /// and again: 126 GB written in the first 8 minutes of a 60-million-page import.
    pub fn set_bulk(&self, on: bool) -> Result<()> {
        self.bulk.store(on, AtomicOrdering::SeqCst);
        if !on {
            self.persist_bulk()?;
            let stale = {
                let txn = self.db.begin_read().map_err(self.err())?;
                let meta = txn.open_table(META).map_err(self.err())?;
                meta_u64(&meta, STALE_KEY).map_err(self.err())?.is_some()
            };
            if stale {
                self.fold()?;
            }
        }
        Ok(())
    }

    /// Makes the batches committed in bulk mode durable (one synced, empty commit).
    fn persist_bulk(&self) -> Result<()> {
        if !self.bulk_unsynced.load(AtomicOrdering::SeqCst) {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(self.err())?;
        // Cleared while no other batch can commit: one that commits after ours sets it again.
        self.bulk_unsynced.store(false, AtomicOrdering::SeqCst);
        txn.commit().map_err(|e| {
            self.bulk_unsynced.store(true, AtomicOrdering::SeqCst);
            self.err()(e)
        })
    }

    /// Delta rows past which a batch starts a background fold (default: an eighth of the
    /// segment's rows, at least 10,000: a query reads its target's delta rows from a
    /// B-tree, so the delta is kept small).
    pub fn set_fold_threshold(&self, rows: u64) {
        self.fold_threshold.store(rows, AtomicOrdering::SeqCst);
    }

    /// Waits for a background fold; returns the error of the last one that failed.
    pub fn join_fold(&self) -> Option<String> {
        let handle = self.folder.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.fold_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn maybe_fold(&self, delta_rows: u64) {
        if self.bulk.load(AtomicOrdering::SeqCst) {
            return;
        }
        let threshold = match self.fold_threshold.load(AtomicOrdering::SeqCst) {
            0 => {
                let links: u64 = self.current_segment().map_or(0, |s| s.links().iter().sum());
                (links / 8).max(10_000)
            }
            n => n,
        };
        if delta_rows < threshold || self.folding.swap(true, AtomicOrdering::SeqCst) {
            return;
        }
        let mut slot = self.folder.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = slot.take() {
            let _ = h.join();
        }
        let core = Arc::clone(&self.core);
        *slot = Some(std::thread::spawn(move || {
            if let Err(e) = core.fold() {
                *core.fold_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            }
            core.folding.store(false, AtomicOrdering::SeqCst);
        }));
    }

    /// Gives the file's free pages back (after a bulk import, whose rewritten postings leave
    /// many behind). Returns whether anything was compacted.
    pub fn compact(&mut self) -> Result<bool> {
        self.join_fold();
        let path = self.path.clone();
        let core = Arc::get_mut(&mut self.core).ok_or_else(|| StoreError::Locked {
            path: path.display().to_string(),
        })?;
        core.db.compact().map_err(engine(&path))
    }

    /// Runs redb's own integrity check (checksums of every page) and re-reads the segment's
    /// checksum. Returns whether redb had to repair anything.
    pub fn check(&mut self) -> Result<bool> {
        self.join_fold();
        let path = self.path.clone();
        if let Some(seg) = self.current_segment() {
            self.open_segment(seg.id())?;
        }
        let core = Arc::get_mut(&mut self.core).ok_or_else(|| StoreError::Locked {
            path: path.display().to_string(),
        })?;
        core.db.check_integrity().map_err(engine(&path))
    }
}

impl Core {
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err<E: Into<redb::Error>>(&self) -> impl Fn(E) -> StoreError + '_ {
        engine(&self.path)
    }

    fn init(&self) -> Result<()> {
        let txn = self.db.begin_write().map_err(self.err())?;
        {
            let mut meta = txn.open_table(META).map_err(self.err())?;
            let expected = format!("{FORMAT_NAME} {FORMAT_VERSION}");
            let found = meta
                .get(FORMAT_KEY)
                .map_err(self.err())?
                .map(|v| String::from_utf8_lossy(v.value()).into_owned());
            match found {
                Some(f) if f != expected => {
                    return Err(StoreError::IncompatibleFormat {
                        path: self.path.display().to_string(),
                        found: f,
                        expected: FORMAT_VERSION,
                    })
                }
                Some(_) => {}
                None => {
                    meta.insert(FORMAT_KEY, expected.as_bytes())
                        .map_err(self.err())?;
                }
            }
            txn.open_table(PAGES).map_err(self.err())?;
            txn.open_table(TITLES).map_err(self.err())?;
            txn.open_table(TARGETS).map_err(self.err())?;
            txn.open_table(TARGET_NAMES).map_err(self.err())?;
            txn.open_table(FWD).map_err(self.err())?;
            txn.open_table(DELTA).map_err(self.err())?;
            txn.open_table(REDIR).map_err(self.err())?;
            txn.open_table(REDIR_TO).map_err(self.err())?;
            txn.open_table(PAGE_BLOCKS).map_err(self.err())?;
            txn.open_table(BLOCK_PAGE).map_err(self.err())?;
            txn.open_table(PAGE_REFS).map_err(self.err())?;
            txn.open_table(REFS_BY_DEF).map_err(self.err())?;
            txn.open_table(TERMS).map_err(self.err())?;
        }
        txn.commit().map_err(self.err())
    }

    fn open_segment(&self, id: u64) -> Result<Segment> {
        self.open_segment_as(id, Segment::open)
    }

    /// A segment this process has just written and synced ([`Segment::open_written`]).
    fn open_written_segment(&self, id: u64) -> Result<Segment> {
        self.open_segment_as(id, Segment::open_written)
    }

    fn open_segment_as(
        &self,
        id: u64,
        open: fn(&Path, u64) -> std::result::Result<Segment, SegmentError>,
    ) -> Result<Segment> {
        let p = segment_path(&self.dir, id);
        open(&p, id).map_err(|e| match e {
            SegmentError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                StoreError::Corrupted {
                    path: p.display().to_string(),
                    detail: "the link segment named in the index is missing".into(),
                }
            }
            SegmentError::Io(io) => StoreError::Io(io),
            SegmentError::Version(v) => StoreError::IncompatibleFormat {
                path: p.display().to_string(),
                found: format!("inlink-segment {v}"),
                expected: crate::segment::VERSION,
            },
            SegmentError::Corrupted(detail) => StoreError::Corrupted {
                path: p.display().to_string(),
                detail,
            },
        })
    }

    /// Maps the segment the index names, removes files no commit names (a fold or a sort
    /// cut short), and rebuilds a reverse index left stale by an unfinished bulk import.
    fn load_segment(&self) -> Result<()> {
        let (id, stale) = {
            let txn = self.db.begin_read().map_err(self.err())?;
            let meta = txn.open_table(META).map_err(self.err())?;
            (
                meta_u64(&meta, SEGMENT_KEY).map_err(self.err())?,
                meta_u64(&meta, STALE_KEY).map_err(self.err())?,
            )
        };
        if let Some(id) = id {
            let seg = self.open_segment(id)?;
            self.segments
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .push(Arc::new(seg));
        }
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            // Segments not named, and the scratch files of sorts and loads a crash left.
            let ours = [
                "links-",
                "sort-",
                "records-",
                "load-",
                "titles-",
                "transpose-",
            ]
            .iter()
            .any(|p| name.starts_with(p));
            let current = id.is_some_and(|id| name == format!("links-{id}.seg"));
            if ours && !current {
                std::fs::remove_file(self.dir.join(name.as_ref()))?;
            }
        }
        if stale.is_some() {
            self.fold()?;
        }
        Ok(())
    }

    fn current_segment(&self) -> Option<Arc<Segment>> {
        self.segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .cloned()
    }

    /// The mapped segment with id `id`, if it is still mapped.
    fn mapped(&self, id: u64) -> Option<Arc<Segment>> {
        self.segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|s| s.id() == id)
            .cloned()
    }

    /// A read transaction and the segment it names.
    fn snapshot(&self) -> R<(ReadTransaction, Option<Arc<Segment>>)> {
        for _ in 0..1000 {
            let txn = self.db.begin_read()?;
            let id = meta_u64(&txn.open_table(META)?, SEGMENT_KEY)?;
            let Some(id) = id else { return Ok((txn, None)) };
            if let Some(seg) = self.mapped(id) {
                return Ok((txn, Some(seg)));
            }
            // Folds in quick succession retired it: a new transaction names a newer one.
            std::thread::yield_now();
        }
        Err(redb::Error::Corrupted(
            "no link segment for the snapshot".into(),
        ))
    }

    /// A snapshot for reads of links and pages: no transaction when the segment alone
    /// holds the index. Every committed batch moves `generation` before it is acknowledged,
    /// and the value is read before the transaction begins, so the segment is only taken
    /// alone while no batch acknowledged since has been missed. A fold moves rows from the
    /// deltas into a new segment without changing what reads see, so it needs no new value.
    fn read_snapshot(&self) -> R<(Option<ReadTransaction>, Option<Arc<Segment>>)> {
        let generation = self.generation.load(AtomicOrdering::Acquire);
        if let Some((g, seg)) = &*self.clean.read().unwrap_or_else(|e| e.into_inner()) {
            if *g == generation {
                return Ok((None, Some(seg.clone())));
            }
        }
        let (txn, seg) = self.snapshot()?;
        let unclean = self.unclean_at.load(AtomicOrdering::Acquire) == generation;
        if let (Some(seg), false) = (&seg, unclean) {
            let stale = meta_u64(&txn.open_table(META)?, STALE_KEY)?.is_some();
            if !stale
                && txn.open_table(DELTA)?.is_empty()?
                && txn.open_table(FWD)?.is_empty()?
                && txn.open_table(PAGES)?.is_empty()?
                && txn.open_table(TARGETS)?.is_empty()?
            {
                *self.clean.write().unwrap_or_else(|e| e.into_inner()) =
                    Some((generation, seg.clone()));
            } else {
                self.unclean_at.store(generation, AtomicOrdering::Release);
            }
        }
        Ok((Some(txn), seg))
    }

    /// Builds a segment from the forward links of a snapshot (the segment's forward entries
    /// with `fwd_delta` over them) and makes it current, dropping the delta rows it covers.
    /// Readers go on meanwhile; batches committed during the build stay in the deltas.
    /// Returns whether a segment was built.
    pub fn fold(&self) -> Result<bool> {
        let _only = self.fold_lock.lock().unwrap_or_else(|e| e.into_inner());
        // Folds are serialised, so the segment the snapshot names is the current one.
        let (txn, old) = self.snapshot().map_err(self.err())?;
        let (seq, id, stale, covered) = {
            let meta = txn.open_table(META).map_err(self.err())?;
            (
                meta_u64(&meta, SEQ_KEY).map_err(self.err())?.unwrap_or(0),
                meta_u64(&meta, SEGMENT_KEY).map_err(self.err())?,
                meta_u64(&meta, STALE_KEY).map_err(self.err())?,
                next_target(&meta).map_err(self.err())?,
            )
        };
        let delta = txn.open_table(DELTA).map_err(self.err())?;
        let fwd = txn.open_table(FWD).map_err(self.err())?;
        let pages = txn.open_table(PAGES).map_err(self.err())?;
        let redir = txn.open_table(REDIR).map_err(self.err())?;
        let unchanged = delta.is_empty().map_err(self.err())?
            && fwd.is_empty().map_err(self.err())?
            && pages.is_empty().map_err(self.err())?
            && redir.is_empty().map_err(self.err())?
            && stale.is_none();
        drop((delta, fwd, pages, redir));
        if unchanged {
            return Ok(false);
        }
        let new_id = id.map_or(1, |i| i + 1);
        let tmp = self.dir.join(format!("links-{new_id}.tmp"));
        let built = (|| -> R<()> {
            let io = redb::Error::Io;
            let mut sorter = Sorter::new(&self.dir, DEFAULT_BUDGET);
            let mut w = SegmentWriter::create(&tmp).map_err(io)?;
            // Every target id of the snapshot is below its `next_target`.
            let universe = u64::from(covered);
            w.set_forward_universe(universe);
            for_each_forward(&txn, old.as_deref(), |from, entry, was| {
                let rows = decode_links(entry, was)?;
                if let Some(&(_, tid, _)) = rows.iter().find(|r| u64::from(r.1) >= universe) {
                    return Err(redb::Error::Corrupted(format!(
                        "page {from} links target {tid}, past the next target id {universe}"
                    )));
                }
                // An entry of the old segment in the same universe is copied as it is.
                let entry = if was.universe == Some(universe) {
                    entry.to_vec()
                } else {
                    encode_links(&rows, Some(universe))
                };
                w.push_forward(from, &entry, rows.len() as u64, one_namespace(&rows))
                    .map_err(io)?;
                for (kind, tid, ns) in rows {
                    sorter.push(pack(kind, tid, ns, from)).map_err(io)?;
                }
                Ok(())
            })?;
            // Targets and pages in one walk by title (a target that is a page shares its
            // title), each table into a scratch file, spliced in after the link rows; the
            // target table's pairs first centre the small lists on their pages.
            let titles = txn.open_table(TITLES)?;
            let mut pages = page_titles(&titles, old.as_deref())?;
            let mut page = pages()?;
            let (targets_hint, pages_hint) = old
                .as_deref()
                .map_or((0, 0), |s| (s.targets_len() as u64, s.pages_len() as u64));
            let mut tables =
                TitleTablesApart::create(&self.dir, targets_hint, pages_hint).map_err(io)?;
            // The old segment's listed pairs ahead of its rank sets (a bulk load's most
            // linked targets) stay listed.
            if let Some(old) = old.as_deref() {
                let below = old.shared_listed_below().map_err(corrupt("link segment"))?;
                tables.list_shared_below(below);
            }
            for_each_target(&txn, old.as_deref(), |ns, dbkey, tid| {
                while let Some((pn, pt, id, redirect)) = &page {
                    if (*pn, pt.as_bytes()) > (ns, dbkey.as_bytes()) {
                        break;
                    }
                    tables.push_page(*pn, pt, *id, *redirect).map_err(io)?;
                    page = pages()?;
                }
                tables.push_target(ns, dbkey, tid).map_err(io)
            })?;
            while let Some((ns, dbkey, id, redirect)) = page {
                tables.push_page(ns, &dbkey, id, redirect).map_err(io)?;
                page = pages()?;
            }
            let (targets, pages) = tables.finish().map_err(io)?;
            w.centre_on(&targets).map_err(io)?;
            push_reverse(&mut w, sorter.finish().map_err(io)?.ahead()).map_err(io)?;
            w.splice_titles(targets).map_err(io)?;
            w.splice_pages(pages).map_err(io)?;
            let redirects = fold_redirects(&txn, old.as_deref())?;
            if !redirects.is_empty() {
                let mut section = Vec::new();
                redirects.write(&mut section);
                w.put_redirects(&section).map_err(io)?;
            }
            w.finish(seq).map_err(io)?;
            Ok(())
        })();
        drop((old, txn));
        if let Err(e) = built {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.err()(e));
        }
        let path = segment_path(&self.dir, new_id);
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        let seg = Arc::new(self.open_written_segment(new_id)?);
        if self.warm.load(AtomicOrdering::Relaxed) {
            // On the fold's thread, before readers turn to it; a failure only leaves it
            // to be mapped as queries reach it.
            let _ = seg.warm();
        }
        self.segments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&seg));
        let committed = (|| -> R<()> {
            let txn = self.db.begin_write()?;
            {
                let mut meta = txn.open_table(META)?;
                meta.insert(SEGMENT_KEY, new_id.to_le_bytes().as_slice())?;
                if meta_u64(&meta, STALE_KEY)?.is_some_and(|s| s <= seq) {
                    meta.remove(STALE_KEY)?;
                }
                let mut delta = txn.open_table(DELTA)?;
                delta.retain(|_, (_, _, at)| at > seq)?;
                let mut fwd = txn.open_table(FWD)?;
                fwd.retain(|_, (at, _)| at > seq)?;
                // Targets made before the snapshot are in the new segment's dictionary.
                txn.open_table(TARGETS)?.retain(|_, tid| tid >= covered)?;
                txn.open_table(TARGET_NAMES)?
                    .retain(|tid, _| tid >= covered)?;
                txn.open_table(PAGES)?.retain(|_, row| row.0 > seq)?;
                txn.open_table(TITLES)?.retain(|_, row| row.0 > seq)?;
                txn.open_table(REDIR)?.retain(|_, row| row.0 > seq)?;
                txn.open_table(REDIR_TO)?.retain(|_, (at, _)| at > seq)?;
            }
            txn.commit()?;
            Ok(())
        })();
        let mut segs = self.segments.write().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = committed {
            segs.retain(|s| s.id() != new_id);
            let _ = std::fs::remove_file(&path);
            return Err(self.err()(e));
        }
        while segs.len() > 3 {
            segs.remove(0);
        }
        drop(segs);
        if let Some(old) = id {
            // Mapped copies stay readable after the unlink.
            let _ = std::fs::remove_file(segment_path(&self.dir, old));
        }
        // The deltas may be empty now; and a segment kept for reads alone from before
        // would hold the file just unlinked until the next read replaced it.
        self.unclean_at.store(u64::MAX, AtomicOrdering::Release);
        *self.clean.write().unwrap_or_else(|e| e.into_inner()) = None;
        self.folds.fetch_add(1, AtomicOrdering::Relaxed);
        Ok(true)
    }

    /// Files every page's blocks in `terms` when the index predates that table.
    fn build_terms_if_missing(&self) -> Result<()> {
        let txn = self.db.begin_write().map_err(self.err())?;
        let ready = txn
            .open_table(META)
            .and_then(|m| Ok(m.get(TERMS_READY_KEY)?.is_some()))
            .map_err(self.err())?;
        if ready {
            return Ok(());
        }
        txn.delete_table(OLD_TERMS).map_err(self.err())?;
        {
            let seg = self.writer_segment(&txn).map_err(self.err())?;
            let mut w = Writer::open(&txn, false, Default::default(), seg).map_err(self.err())?;
            let pages: Vec<u32> = w
                .page_blocks
                .iter()
                .map_err(self.err())?
                .map(|r| r.map(|(k, _)| k.value()))
                .collect::<std::result::Result<_, _>>()
                .map_err(self.err())?;
            for p in pages {
                let blocks = w.blocks_of(p).map_err(self.err())?;
                let refs = w.refs_of(p).map_err(self.err())?;
                let new = page_terms(&blocks, &refs);
                w.retoken(p, &BTreeSet::new(), &new);
            }
            w.meta
                .insert(TERMS_READY_KEY, [1u8].as_slice())
                .map_err(self.err())?;
            w.finish().map_err(self.err())?;
        }
        txn.commit().map_err(self.err())
    }

    fn read(&self) -> Result<ReadTransaction> {
        self.db.begin_read().map_err(self.err())
    }

    /// The segment a write transaction's `meta.segment` names. Write transactions are
    /// serialised and a fold maps its segment before committing the name, so it is mapped.
    fn writer_segment(&self, txn: &WriteTransaction) -> R<Option<Arc<Segment>>> {
        let Some(id) = meta_u64(&txn.open_table(META)?, SEGMENT_KEY)? else {
            return Ok(None);
        };
        self.mapped(id)
            .map(Some)
            .ok_or_else(|| redb::Error::Corrupted(format!("link segment {id} is not mapped")))
    }
}

/// The next target id to give out (`meta.next_target`).
/// The redirects of a snapshot: the old segment's, except those of pages with a
/// `redirect_delta` row, plus the `present` rows, each local one by its target's id.
fn fold_redirects(txn: &ReadTransaction, old: Option<&Segment>) -> R<RedirectsWriter> {
    let mut w = RedirectsWriter::default();
    let io = redb::Error::Io;
    let delta = txn.open_table(REDIR)?;
    let mut rows = delta.iter()?.peekable();
    let mut segment = old.into_iter().flat_map(|s| s.redirects()).peekable();
    loop {
        let next_delta = match rows.peek() {
            Some(Ok((k, _))) => Some(k.value()),
            Some(Err(_)) => {
                return Err(rows.next().expect("peeked").err().expect("an error").into())
            }
            None => None,
        };
        let next_old = match segment.peek() {
            Some(Ok((from, _, _))) => Some(*from),
            Some(Err(m)) => return Err(corrupt("link segment")(m.clone())),
            None => None,
        };
        match (next_delta, next_old) {
            (None, None) => break,
            (Some(d), o) if o.is_none_or(|o| d <= o) => {
                if o == Some(d) {
                    segment.next();
                }
                let (_, v) = rows.next().expect("peeked")?;
                let (_, present, ns, dbkey, fragment, interwiki) = v.value();
                if !present {
                    continue;
                }
                let tid = if interwiki.is_empty() {
                    let t = Title::new(ns, dbkey);
                    Some(target_id(Some(txn), old, &t)?.ok_or_else(|| {
                        redb::Error::Corrupted(format!(
                            "page {d} redirects to {t:?}, a title with no target id"
                        ))
                    })?)
                } else {
                    None
                };
                let apart = !(fragment.is_empty() && interwiki.is_empty());
                let extra = apart.then_some((ns, dbkey, fragment, interwiki));
                w.push(d, tid, extra).map_err(io)?;
            }
            _ => {
                let (from, tid, extra) = segment
                    .next()
                    .expect("peeked")
                    .map_err(corrupt("link segment"))?;
                w.push(from, tid, extra).map_err(io)?;
            }
        }
    }
    Ok(w)
}

fn next_target(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> R<u32> {
    Ok(meta
        .get(NEXT_TARGET_KEY)?
        .map(|v| u32::from_le_bytes(v.value().try_into().unwrap_or([0; 4])))
        .unwrap_or(1))
}

/// Merges a delta's rows over a segment's, both ascending by `cmp`: a delta row replaces
/// the segment's row it compares equal to (`replaced` is told of it first). Calls `f` with
/// each row that stands, in order, until it returns `false`.
fn merge_delta<T>(
    delta: impl FnMut() -> R<Option<T>>,
    base: impl FnMut() -> R<Option<T>>,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    replaced: impl Fn(&T) -> R<()>,
    mut f: impl FnMut(T) -> R<bool>,
) -> R<()> {
    let mut rows = Merged::new(delta, base, cmp, replaced)?;
    while let Some(row) = rows.next()? {
        if !f(row)? {
            break;
        }
    }
    Ok(())
}

/// [`merge_delta`]'s rows, pulled one at a time.
struct Merged<T, D, B, C, X> {
    delta: D,
    base: B,
    cmp: C,
    replaced: X,
    d: Option<T>,
    b: Option<T>,
}

impl<T, D, B, C, X> Merged<T, D, B, C, X>
where
    D: FnMut() -> R<Option<T>>,
    B: FnMut() -> R<Option<T>>,
    C: Fn(&T, &T) -> std::cmp::Ordering,
    X: Fn(&T) -> R<()>,
{
    fn new(mut delta: D, mut base: B, cmp: C, replaced: X) -> R<Self> {
        let (d, b) = (delta()?, base()?);
        Ok(Merged {
            delta,
            base,
            cmp,
            replaced,
            d,
            b,
        })
    }

    fn next(&mut self) -> R<Option<T>> {
        let from_delta = match (&self.d, &self.b) {
            (None, None) => return Ok(None),
            (Some(x), Some(y)) => match (self.cmp)(x, y) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Greater => false,
                std::cmp::Ordering::Equal => {
                    (self.replaced)(y)?;
                    self.b = (self.base)()?;
                    true
                }
            },
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        Ok(if from_delta {
            std::mem::replace(&mut self.d, (self.delta)()?)
        } else {
            std::mem::replace(&mut self.b, (self.base)()?)
        })
    }
}

/// Rows keyed by title compare as the dictionary orders them (namespace, then dbkey bytes —
/// redb's order of `(i32, &str)` keys too).
fn by_title<A, B>(x: &(i32, String, A), y: &(i32, String, B)) -> std::cmp::Ordering {
    (x.0, x.1.as_bytes()).cmp(&(y.0, y.1.as_bytes()))
}

/// The next row of a redb range, mapped.
fn next_row<K: redb::Key + 'static, V: redb::Value + 'static, T>(
    rows: &mut redb::Range<'_, K, V>,
    map: impl Fn(K::SelfType<'_>, V::SelfType<'_>) -> T,
) -> R<Option<T>> {
    match rows.next() {
        Some(row) => {
            let (k, v) = row?;
            Ok(Some(map(k.value(), v.value())))
        }
        None => Ok(None),
    }
}

/// Calls `f` with every page of a snapshot from page id `start` up, by id (the `page_delta`
/// rows over the segment's pages), until it returns `false`.
fn for_each_page(
    txn: &ReadTransaction,
    seg: Option<&Segment>,
    start: u32,
    mut f: impl FnMut(PageRecord) -> R<bool>,
) -> R<()> {
    let pages = txn.open_table(PAGES)?;
    let mut over = pages.range(start..)?;
    let mut base = seg.into_iter().flat_map(|s| s.page_ids(start, false));
    merge_delta(
        || {
            next_row(&mut over, |id, (_, present, ns, is_redirect, dbkey)| {
                let page = present.then(|| PageRecord {
                    id: PageId(id),
                    title: Title::new(ns, dbkey),
                    is_redirect,
                });
                (id, page)
            })
        },
        || match base.next().transpose().map_err(corrupt("link segment"))? {
            Some(id) => Ok(Some((
                id,
                page_in::<redb::ReadOnlyTable<u32, PageRow>>(None, seg, id)?,
            ))),
            None => Ok(None),
        },
        |x, y| x.0.cmp(&y.0),
        |_| Ok(()),
        |(_, page)| match page {
            Some(p) => f(p),
            None => Ok(true),
        },
    )
}

/// Calls `f` with every page title of a snapshot in dictionary order: (namespace,
/// dbkey, page id, is redirect).
fn for_each_page_title(
    txn: &ReadTransaction,
    seg: Option<&Segment>,
    mut f: impl FnMut(i32, &str, u32, bool) -> R<()>,
) -> R<()> {
    let titles = txn.open_table(TITLES)?;
    let mut rows = page_titles(&titles, seg)?;
    while let Some((ns, dbkey, id, redirect)) = rows()? {
        f(ns, &dbkey, id, redirect)?;
    }
    Ok(())
}

/// A page's title: (namespace, dbkey, page id, is redirect).
type PageTitle = (i32, String, u32, bool);

/// The page titles of a snapshot in dictionary order, pulled one at a time: the
/// `title_delta` rows (`titles`) over the segment's page table.
fn page_titles<'a>(
    titles: &'a redb::ReadOnlyTable<(i32, &'static str), TitleRow>,
    seg: Option<&'a Segment>,
) -> R<impl FnMut() -> R<Option<PageTitle>> + 'a> {
    let mut over = titles.iter()?;
    let mut base = seg.into_iter().flat_map(|s| s.page_titles());
    let mut rows = Merged::new(
        move || {
            next_row(&mut over, |(ns, dbkey), (_, present, id, redirect)| {
                (ns, dbkey.to_string(), present.then_some((id, redirect)))
            })
        },
        move || match base.next().transpose().map_err(corrupt("link segment"))? {
            Some((ns, dbkey, id)) => {
                let redirect = match seg {
                    Some(s) => s.page_is_redirect(id).map_err(corrupt("link segment"))?,
                    None => false,
                };
                Ok(Some((ns, dbkey, Some((id, redirect)))))
            }
            None => Ok(None),
        },
        by_title,
        |_| Ok(()),
    )?;
    // A row that is not `present` takes the title away.
    Ok(move || loop {
        match rows.next()? {
            Some((ns, dbkey, Some((id, redirect)))) => return Ok(Some((ns, dbkey, id, redirect))),
            Some((_, _, None)) => {}
            None => return Ok(None),
        }
    })
}

/// Calls `f` with every target title of a snapshot in dictionary order: the segment's
/// dictionary merged with the `targets` rows made since (never the same title in both).
fn for_each_target(
    txn: &ReadTransaction,
    seg: Option<&Segment>,
    mut f: impl FnMut(i32, &str, u32) -> R<()>,
) -> R<()> {
    let targets = txn.open_table(TARGETS)?;
    let mut over = targets.iter()?;
    let mut base = seg.into_iter().flat_map(|s| s.target_titles());
    merge_delta(
        || next_row(&mut over, |(ns, dbkey), tid| (ns, dbkey.to_string(), tid)),
        || base.next().transpose().map_err(corrupt("link segment")),
        by_title,
        |(ns, dbkey, _)| {
            Err(redb::Error::Corrupted(format!(
                "target ({ns}, {dbkey:?}) both in the segment and in `targets`"
            )))
        },
        |(ns, dbkey, tid)| {
            f(ns, &dbkey, tid)?;
            Ok(true)
        },
    )
}

/// Calls `f` with every page's forward entry in a snapshot, by page id, and the universe
/// it was written in: the `fwd_delta` row where there is one (pages whose row is empty
/// left out), else the segment's.
fn for_each_forward(
    txn: &ReadTransaction,
    seg: Option<&Segment>,
    mut f: impl FnMut(u32, Stored<'_>, Held) -> R<()>,
) -> R<()> {
    /// An entry of the delta, or of the segment.
    enum Src<'s> {
        Delta(Vec<u8>),
        Segment(Stored<'s>),
    }
    let fwd = txn.open_table(FWD)?;
    let mut over = fwd.iter()?;
    let mut base = seg.into_iter().flat_map(|s| s.forward_entries());
    merge_delta(
        || {
            next_row(&mut over, |from, (_, entry)| {
                (from, Src::Delta(entry.to_vec()))
            })
        },
        || match base.next().transpose().map_err(corrupt("link segment"))? {
            Some((from, entry)) => Ok(Some((from, Src::Segment(entry)))),
            None => Ok(None),
        },
        |x, y| x.0.cmp(&y.0),
        |_| Ok(()),
        |(from, entry)| {
            match (entry, seg) {
                (Src::Delta(v), _) if v.is_empty() => {}
                (Src::Delta(v), _) => f(from, Stored::whole(&v), Held::default())?,
                (Src::Segment(e), Some(seg)) => f(from, e, Held::in_segment(seg, from))?,
                (Src::Segment(_), None) => unreachable!("segment entries come from a segment"),
            }
            Ok(true)
        },
    )
}

impl RedbStore {
    /// Where the link segment's bytes go (`Segment::breakdown`, then the forward table's
    /// bytes); `None` without a segment.
    pub fn segment_breakdown(&self) -> Result<Option<[u64; 7]>> {
        let Some(seg) = self.current_segment() else {
            return Ok(None);
        };
        seg.breakdown()
            .and_then(|[a, b, c, d, e, f]| Ok(Some([a, b, c, d, e, f, seg.forward_bytes()?])))
            .map_err(|m| self.segment_corrupt(m))
    }

    fn segment_corrupt(&self, m: crate::postings::Malformed) -> StoreError {
        StoreError::Corrupted {
            path: self.path.display().to_string(),
            detail: format!("link segment: {}", m.0),
        }
    }

    /// [`Segment::list_bound_bits`] of the segment, over the page ids up to the highest in
    /// use; `None` without a segment.
    pub fn segment_list_bound(&self) -> Result<Option<f64>> {
        let Some(seg) = self.current_segment() else {
            return Ok(None);
        };
        let universe = u64::from(self.last_page_id()?.map_or(0, |p| p.0));
        seg.list_bound_bits(universe)
            .map(Some)
            .map_err(|m| self.segment_corrupt(m))
    }

    /// The segment's title tables: target titles and their bytes, page titles and theirs,
    /// and the target titles written in the page table; `None` without a segment.
    pub fn segment_titles(&self) -> Result<Option<[u64; 5]>> {
        Ok(self.current_segment().map(|s| {
            [
                s.targets_len() as u64,
                s.target_title_bytes(),
                s.pages_len() as u64,
                s.page_title_bytes(),
                s.shared_titles(),
            ]
        }))
    }

    /// Bytes stored per table (keys, values and their B-tree pages), for benchmarks.
    pub fn table_sizes(&self) -> Result<Vec<(String, u64)>> {
        use redb::{ReadableTableMetadata, TableHandle};
        let run = || -> R<Vec<(String, u64)>> {
            let txn = self.db.begin_read()?;
            let mut out = Vec::new();
            for handle in txn.list_tables()? {
                let name = handle.name().to_string();
                let stats = match txn.open_untyped_table(handle) {
                    Ok(t) => t.stats()?,
                    Err(_) => continue,
                };
                out.push((
                    name,
                    stats.stored_bytes() + stats.metadata_bytes() + stats.fragmented_bytes(),
                ));
            }
            if let Some(seg) = self.current_segment() {
                out.push(("links segment".into(), seg.bytes()));
            }
            out.sort_by_key(|t| std::cmp::Reverse(t.1));
            Ok(out)
        };
        run().map_err(self.err())
    }

    /// Checks the invariants of `docs/format.md` across tables: the link rows of `fwd` and
    /// of the segment with the delta over it agree, `titles` and `pages` agree, every block is in `block_page`,
    /// and `block_terms` holds exactly what the blocks make. Returns the problems found
    /// (at most `max`), empty when the index is sound.
    pub fn verify(&self, max: usize) -> Result<Vec<String>> {
        let run = || -> R<Vec<String>> {
            let mut problems = Vec::new();
            let mut say = |p: String| {
                if problems.len() < max {
                    problems.push(p);
                }
            };
            // Link rows: the segment with the delta laid over it holds exactly the forward
            // rows, each under the namespace its forward entry files it under.
            let (txn, seg) = self.snapshot()?;
            let io = |e: std::io::Error| redb::Error::Io(e);
            let mut forward = Sorter::new(&self.dir, DEFAULT_BUDGET / 2);
            for_each_forward(&txn, seg.as_deref(), |from, entry, held| {
                for (kind, tid, ns) in decode_links(entry, held)? {
                    forward.push(pack(kind, tid, ns, from)).map_err(io)?;
                }
                Ok(())
            })?;
            if let Some(seg) = &seg {
                let mut n = 0u64;
                for e in seg.forward_entries() {
                    let (from, entry) = e.map_err(corrupt("link segment"))?;
                    n += decode_links(entry, Held::in_segment(seg, from))?.len() as u64;
                }
                if n != seg.forward_links() {
                    say(format!(
                        "the segment's forward entries hold {n} rows, its trailer says {}",
                        seg.forward_links()
                    ));
                }
            }
            let mut delta = BTreeMap::new();
            for row in txn.open_table(DELTA)?.iter()? {
                let (k, v) = row?;
                delta.insert(k.value(), v.value());
            }
            let mut reverse = Sorter::new(&self.dir, DEFAULT_BUDGET / 2);
            if let Some(seg) = &seg {
                for kind in 0..crate::segment::KINDS as u8 {
                    for t in seg.targets(kind) {
                        let (tid, lists) = t.map_err(corrupt("link segment"))?;
                        for (ns, p) in &lists.lists {
                            for from in p.all().map_err(corrupt("link segment"))? {
                                if !delta.contains_key(&(kind, tid, from)) {
                                    reverse.push(pack(kind, tid, *ns, from)).map_err(io)?;
                                }
                            }
                        }
                    }
                }
            }
            for (&(kind, tid, from), &(ns, present, _)) in &delta {
                if present {
                    reverse.push(pack(kind, tid, ns, from)).map_err(io)?;
                }
            }
            let mut fw = forward.finish().map_err(io)?.peekable();
            let mut rv = reverse.finish().map_err(io)?.peekable();
            loop {
                let (f, r) = match (fw.peek(), rv.peek()) {
                    (None, None) => break,
                    (Some(Err(_)), _) | (_, Some(Err(_))) => {
                        return Err(redb::Error::Corrupted("sorting link rows failed".into()))
                    }
                    (f, r) => (
                        f.map(|k| *k.as_ref().expect("ok")),
                        r.map(|k| *k.as_ref().expect("ok")),
                    ),
                };
                if f == r {
                    fw.next();
                    rv.next();
                } else if r.is_none() || f.is_some_and(|f| Some(f) < r) {
                    let (kind, tid, ns, from) = unpack(f.expect("some"));
                    say(format!("link {from} → target {tid} (kind {kind}, ns {ns}) missing from the reverse index"));
                    fw.next();
                } else {
                    let (kind, tid, ns, from) = unpack(r.expect("some"));
                    say(format!("reverse row {from} → target {tid} (kind {kind}, ns {ns}) has no forward row"));
                    rv.next();
                }
            }
            // Target titles: each id once, named the same both ways, in the segment or in
            // `targets` (never both).
            let names = txn.open_table(TARGET_NAMES)?;
            let mut seen = 0u64;
            if let Some(Err(m)) = seg.as_deref().map(Segment::check_shared) {
                say(format!("the segment's shared titles: {}", m.0));
            }
            for_each_target(&txn, seg.as_deref(), |ns, dbkey, tid| {
                seen += 1;
                let found = target_id(Some(&txn), seg.as_deref(), &Title::new(ns, dbkey))?;
                if found != Some(tid) {
                    say(format!(
                        "target {tid} ({ns}, {dbkey:?}) is found as {found:?}"
                    ));
                }
                let named = match names.get(tid)? {
                    Some(v) => Some((v.value().0, v.value().1.to_string())),
                    None => match &seg {
                        Some(s) => s.target_name(tid).map_err(corrupt("link segment"))?,
                        None => None,
                    },
                };
                if named.as_ref().map(|(n, t)| (*n, t.as_str())) != Some((ns, dbkey)) {
                    say(format!("target {tid} ({ns}, {dbkey:?}) is named {named:?}"));
                }
                Ok(())
            })?;
            let made = u64::from(next_target(&txn.open_table(META)?)?.saturating_sub(1));
            if seen != made {
                say(format!("{seen} target titles for {made} target ids"));
            }
            // Titles and pages: each page found by its title, as many titles as pages.
            let view = PageView::open(Some(&txn), seg.as_deref())?;
            let title_delta = txn.open_table(TITLES)?;
            let mut pages = 0u64;
            for_each_page(&txn, seg.as_deref(), 0, |p| {
                pages += 1;
                if title_in(&title_delta, seg.as_deref(), &p.title)? != Some(p.id.0) {
                    say(format!("page {} is not found by its title", p.id.0));
                }
                Ok(true)
            })?;
            let mut titles = 0u64;
            for_each_page_title(&txn, seg.as_deref(), |ns, dbkey, id, redirect| {
                titles += 1;
                let p = view.page(id)?;
                if p.as_ref()
                    .is_none_or(|p| p.title != Title::new(ns, dbkey) || p.is_redirect != redirect)
                {
                    say(format!(
                        "title ({ns}, {dbkey:?}) names page {id}, which is {p:?}"
                    ));
                }
                Ok(())
            })?;
            if titles != pages {
                say(format!("{titles} page titles for {pages} pages"));
            }
            // Local redirects: by page and by target (each the segment's with its delta
            // laid over it), the same pairs, each target titled.
            let mut seg_pairs = Vec::new();
            if let Some(seg) = &seg {
                for r in seg.redirects() {
                    if let (from, Some(tid), _) = r.map_err(corrupt("link segment"))? {
                        seg_pairs.push((tid, from));
                    }
                }
                seg_pairs.sort_unstable();
                for same in seg_pairs.chunk_by(|a, b| a.0 == b.0) {
                    let tid = same[0].0;
                    let froms: Vec<u32> = same.iter().map(|p| p.1).collect();
                    if seg.redirects_to(tid).map_err(corrupt("link segment"))? != froms {
                        say(format!(
                            "the segment's redirects to target {tid} are not those naming it"
                        ));
                    }
                    if seg
                        .target_name(tid)
                        .map_err(corrupt("link segment"))?
                        .is_none()
                    {
                        say(format!(
                            "the segment's redirects name target {tid}, which has no title"
                        ));
                    }
                }
            }
            let redir = txn.open_table(REDIR)?;
            let mut by_page: BTreeSet<(u32, u32)> = seg_pairs
                .iter()
                .copied()
                .filter(|&(_, from)| redir.get(from).is_ok_and(|v| v.is_none()))
                .collect();
            for row in redir.iter()? {
                let (from, v) = row?;
                let (_, present, ns, dbkey, _, interwiki) = v.value();
                if present && interwiki.is_empty() {
                    let t = Title::new(ns, dbkey);
                    match target_id(Some(&txn), seg.as_deref(), &t)? {
                        Some(tid) => {
                            by_page.insert((tid, from.value()));
                        }
                        None => say(format!(
                            "page {} redirects to {t:?}, which has no target id",
                            from.value()
                        )),
                    }
                }
            }
            let mut by_target: BTreeSet<(u32, u32)> = seg_pairs.into_iter().collect();
            for row in txn.open_table(REDIR_TO)?.iter()? {
                let (k, v) = row?;
                if v.value().1 {
                    by_target.insert(k.value());
                } else {
                    by_target.remove(&k.value());
                }
            }
            if by_page != by_target {
                let (tid, from) = by_page
                    .symmetric_difference(&by_target)
                    .next()
                    .copied()
                    .expect("the sets differ");
                say(format!(
                    "redirect {from} → target {tid} is in one of redirect_delta and redirect_to_delta, not both"
                ));
            }
            // Blocks and the mention index.
            let block_page = txn.open_table(BLOCK_PAGE)?;
            let page_refs = txn.open_table(PAGE_REFS)?;
            let mut want: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
            for row in txn.open_table(PAGE_BLOCKS)?.iter()? {
                let (page, v) = row?;
                let page = page.value();
                let blocks = decode_blocks(v.value(), page)?;
                for b in &blocks {
                    if block_page.get(b.id.as_str())?.map(|v| v.value()) != Some(page) {
                        say(format!(
                            "block {} of page {page} is not in block_page",
                            b.id
                        ));
                    }
                }
                let refs: Vec<BlockRef> = match page_refs.get(page)? {
                    Some(v) => serde_json::from_slice(v.value())
                        .map_err(|e| redb::Error::Corrupted(format!("refs of page {page}: {e}")))?,
                    None => Vec::new(),
                };
                for (token, pos) in page_terms(&blocks, &refs) {
                    want.entry(token)
                        .or_default()
                        .insert((u64::from(page) << POS_BITS) | u64::from(pos));
                }
            }
            let terms = txn.open_table(TERMS)?;
            let mut stored = 0u64;
            for row in terms.iter()? {
                let (token, v) = row?;
                stored += 1;
                let got = decode_postings(v.value()).ok_or_else(|| {
                    redb::Error::Corrupted(format!("postings of {:?}", token.value()))
                })?;
                let expected: Vec<u64> = want
                    .get(token.value())
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default();
                if got != expected {
                    say(format!(
                        "mention postings of {:?} differ from the blocks",
                        token.value()
                    ));
                }
            }
            if stored != want.len() as u64 {
                say(format!(
                    "{stored} tokens in block_terms, the blocks make {}",
                    want.len()
                ));
            }
            Ok(problems)
        };
        run().map_err(self.err())
    }
}

/// The tables of one write transaction.
struct Writer<'t> {
    meta: redb::Table<'t, &'static str, &'static [u8]>,
    pages: redb::Table<'t, u32, PageRow>,
    titles: redb::Table<'t, (i32, &'static str), TitleRow>,
    targets: redb::Table<'t, (i32, &'static str), u32>,
    target_names: redb::Table<'t, u32, (i32, &'static str)>,
    fwd: redb::Table<'t, u32, (u64, &'static [u8])>,
    delta: redb::Table<'t, (u8, u32, u32), (i32, bool, u64)>,
    redir: redb::Table<'t, u32, RedirRow>,
    redir_to: redb::Table<'t, (u32, u32), (u64, bool)>,
    page_blocks: redb::Table<'t, u32, &'static [u8]>,
    block_page: redb::Table<'t, &'static str, u32>,
    page_refs: redb::Table<'t, u32, &'static [u8]>,
    refs_by_def: redb::Table<'t, (&'static str, u32, &'static str), (&'static str, u8)>,
    terms: redb::Table<'t, &'static str, &'static [u8]>,
    next_target: u32,
    /// The segment the transaction's `meta.segment` names: forward entries of pages with
    /// no `fwd_delta` row.
    seg: Option<Arc<Segment>>,
    /// This batch's number.
    seq: u64,
    /// Titles → target ids known to this batch: the committed ones from the shared cache
    /// (`Core::tids`; an id never changes once committed), and those looked up or made
    /// here, given back to the cache after the commit.
    tids: TidMap,
    /// Link rows (kind, target, from) filed (`true`) or unfiled in this batch, under a
    /// namespace; written to the delta at the end, in key order.
    changes: BTreeMap<(u8, u32, u32), (i32, bool)>,
    bulk: bool,
    /// In bulk mode only whether any link row changed is kept.
    bulk_changed: bool,
    /// (token, block position) → whether the block holds the token now; written to
    /// `block_terms` at the end.
    term_changes: BTreeMap<String, BTreeMap<u64, bool>>,
}

type R<T> = std::result::Result<T, redb::Error>;

impl<'t> Writer<'t> {
    fn open(
        txn: &'t WriteTransaction,
        bulk: bool,
        tids: TidMap,
        seg: Option<Arc<Segment>>,
    ) -> R<Self> {
        let meta = txn.open_table(META)?;
        let seq = meta_u64(&meta, SEQ_KEY)?.unwrap_or(0) + 1;
        let next_target = next_target(&meta)?;
        Ok(Writer {
            meta,
            pages: txn.open_table(PAGES)?,
            titles: txn.open_table(TITLES)?,
            targets: txn.open_table(TARGETS)?,
            target_names: txn.open_table(TARGET_NAMES)?,
            fwd: txn.open_table(FWD)?,
            delta: txn.open_table(DELTA)?,
            redir: txn.open_table(REDIR)?,
            redir_to: txn.open_table(REDIR_TO)?,
            page_blocks: txn.open_table(PAGE_BLOCKS)?,
            block_page: txn.open_table(BLOCK_PAGE)?,
            page_refs: txn.open_table(PAGE_REFS)?,
            refs_by_def: txn.open_table(REFS_BY_DEF)?,
            terms: txn.open_table(TERMS)?,
            next_target,
            seg,
            seq,
            tids,
            changes: BTreeMap::new(),
            bulk,
            bulk_changed: false,
            term_changes: BTreeMap::new(),
        })
    }

    /// Writes what the batch gathered; returns the rows now in the link and page deltas and
    /// the titles → target ids the batch knew.
    fn finish(mut self) -> R<(u64, TidMap)> {
        let seq = self.seq;
        self.meta.insert(SEQ_KEY, seq.to_le_bytes().as_slice())?;
        let changes = std::mem::take(&mut self.changes);
        if self.bulk {
            if self.bulk_changed {
                self.meta.insert(STALE_KEY, seq.to_le_bytes().as_slice())?;
            }
        } else {
            for (k, (ns, present)) in changes {
                self.delta.insert(k, (ns, present, seq))?;
            }
        }
        self.meta
            .insert(NEXT_TARGET_KEY, self.next_target.to_le_bytes().as_slice())?;
        for (token, changes) in std::mem::take(&mut self.term_changes) {
            let mut pages: BTreeSet<u64> = match self.terms.get(token.as_str())? {
                Some(v) => decode_postings(v.value())
                    .ok_or_else(|| redb::Error::Corrupted(format!("postings of {token:?}")))?
                    .into_iter()
                    .collect(),
                None => BTreeSet::new(),
            };
            for (page, present) in changes {
                if present {
                    pages.insert(page);
                } else {
                    pages.remove(&page);
                }
            }
            if pages.is_empty() {
                self.terms.remove(token.as_str())?;
            } else {
                self.terms
                    .insert(token.as_str(), encode_postings(&pages).as_slice())?;
            }
        }
        // Page changes count too: a stream of moves with no link changes would otherwise
        // grow `page_delta` (read by every query row) without a fold.
        let rows = self.delta.len()? + self.pages.len()?;
        Ok((rows, std::mem::take(&mut self.tids)))
    }

    /// Records the token changes of `page` going from the (token, position) set `old` to
    /// `new`.
    fn retoken(&mut self, page: u32, old: &BTreeSet<(String, u32)>, new: &BTreeSet<(String, u32)>) {
        let key = |pos: u32| (u64::from(page) << POS_BITS) | u64::from(pos);
        for (t, pos) in old.difference(new) {
            self.term_changes
                .entry(t.clone())
                .or_default()
                .insert(key(*pos), false);
        }
        for (t, pos) in new.difference(old) {
            self.term_changes
                .entry(t.clone())
                .or_default()
                .insert(key(*pos), true);
        }
    }

    /// A title's target id, if it has one.
    fn known_target(&self, t: &Title) -> R<Option<u32>> {
        if let Some(id) = self.targets.get((t.ns, t.dbkey.as_str()))? {
            return Ok(Some(id.value()));
        }
        match &self.seg {
            Some(s) => s.target_id(t.ns, &t.dbkey).map_err(corrupt("link segment")),
            None => Ok(None),
        }
    }

    fn target_id(&mut self, t: &Title) -> R<u32> {
        if let Some(&id) = self.tids.get(t) {
            return Ok(id);
        }
        if let Some(id) = self.known_target(t)? {
            self.tids.insert(t.clone(), id);
            return Ok(id);
        }
        let id = self.next_target;
        self.next_target = self
            .next_target
            .checked_add(1)
            .ok_or_else(|| redb::Error::Corrupted("target ids exhausted".into()))?;
        self.targets.insert((t.ns, t.dbkey.as_str()), id)?;
        self.target_names.insert(id, (t.ns, t.dbkey.as_str()))?;
        self.tids.insert(t.clone(), id);
        Ok(id)
    }

    fn page(&self, id: u32) -> R<Option<PageRecord>> {
        page_in(Some(&self.pages), self.seg.as_deref(), id)
    }

    /// The page a title names.
    fn title_holder(&self, t: &Title) -> R<Option<u32>> {
        title_in(&self.titles, self.seg.as_deref(), t)
    }

    /// Writes page `id`'s row, or its deletion. A deletion is a row too while the
    /// segment or an earlier row has the page (see `set_links`).
    fn set_page(&mut self, id: u32, p: Option<&PageRecord>) -> R<()> {
        let row = match p {
            Some(p) => (
                self.seq,
                true,
                p.title.ns,
                p.is_redirect,
                p.title.dbkey.as_str(),
            ),
            None => {
                let known = self.pages.get(id)?.is_some()
                    || match &self.seg {
                        Some(s) => s.has_page(id).map_err(corrupt("link segment"))?,
                        None => false,
                    };
                if !known {
                    return Ok(());
                }
                (self.seq, false, 0, false, "")
            }
        };
        self.pages.insert(id, row)?;
        Ok(())
    }

    /// Writes which page title `t` names now, if any.
    fn set_title(&mut self, t: &Title, page: Option<(u32, bool)>) -> R<()> {
        let key = (t.ns, t.dbkey.as_str());
        let row = match page {
            Some((id, redirect)) => (self.seq, true, id, redirect),
            None => {
                let known = self.titles.get(key)?.is_some()
                    || self
                        .seg
                        .as_ref()
                        .is_some_and(|s| s.page_id(t.ns, &t.dbkey).is_some());
                if !known {
                    return Ok(());
                }
                (self.seq, false, 0, false)
            }
        };
        self.titles.insert(key, row)?;
        Ok(())
    }

    fn segment_forward(&self, from: u32) -> R<Option<Stored<'_>>> {
        match &self.seg {
            Some(s) => s.forward(from).map_err(corrupt("link segment")),
            None => Ok(None),
        }
    }

    /// (kind, target id, filed namespace) of every link row of `from`, sorted.
    fn links_of(&self, from: u32) -> R<Vec<(u8, u32, i32)>> {
        if let Some(v) = self.fwd.get(from)? {
            return decode_links(Stored::whole(v.value().1), Held::default());
        }
        match (self.segment_forward(from)?, &self.seg) {
            (Some(entry), Some(seg)) => decode_links(entry, Held::in_segment(seg, from)),
            _ => Ok(Vec::new()),
        }
    }

    /// An empty row is written too (it overrides the segment's entry): removing the row
    /// instead would bring back rows that a fold under way is putting in its segment.
    fn set_links(&mut self, from: u32, links: &[(u8, u32, i32)]) -> R<()> {
        if links.is_empty()
            && self.fwd.get(from)?.is_none()
            && self.segment_forward(from)?.is_none()
        {
            return Ok(());
        }
        self.fwd
            .insert(from, (self.seq, encode_links(links, None).as_slice()))?;
        Ok(())
    }

    fn unfile(&mut self, from: u32, kind: u8, tid: u32, ns: i32) -> R<()> {
        if self.bulk {
            self.bulk_changed = true;
        } else {
            self.changes.insert((kind, tid, from), (ns, false));
        }
        Ok(())
    }

    /// Delta rows are written at the end of the batch in key order: far fewer B-tree pages
    /// are touched than by inserting them in arrival order.
    fn file(&mut self, from: u32, kind: u8, tid: u32, ns: i32) -> R<()> {
        if self.bulk {
            self.bulk_changed = true;
        } else {
            self.changes.insert((kind, tid, from), (ns, true));
        }
        Ok(())
    }

    /// Makes `from`'s link rows exactly `new` (kind, target id), filed under `ns`.
    fn replace_links(&mut self, from: u32, ns: i32, new: BTreeSet<(u8, u32)>) -> R<()> {
        let old = self.links_of(from)?;
        self.replace_links_from(from, ns, &old, new)
    }

    /// `replace_links` with `from`'s current rows already read.
    fn replace_links_from(
        &mut self,
        from: u32,
        ns: i32,
        old: &[(u8, u32, i32)],
        new: BTreeSet<(u8, u32)>,
    ) -> R<()> {
        let mut keep = BTreeSet::new();
        for &(kind, tid, old_ns) in old {
            if new.contains(&(kind, tid)) && old_ns == ns {
                keep.insert((kind, tid));
            } else {
                self.unfile(from, kind, tid, old_ns)?;
            }
        }
        let mut rows = Vec::with_capacity(new.len());
        for (kind, tid) in new {
            if !keep.contains(&(kind, tid)) {
                self.file(from, kind, tid, ns)?;
            }
            rows.push((kind, tid, ns));
        }
        self.set_links(from, &rows)
    }

    /// Clears page `from`'s redirect, if it has one, by rows saying so (a fold under way
    /// may be putting the old one into its segment).
    fn clear_redirect(&mut self, from: u32) -> R<()> {
        let delta = self.redir.get(from)?.map(|v| {
            let (_, present, ns, dbkey, _, iw) = v.value();
            present.then(|| (Title::new(ns, dbkey), iw.is_empty()))
        });
        let (had, tid) = match delta {
            Some(None) => return Ok(()),
            Some(Some((t, local))) => (true, if local { self.known_target(&t)? } else { None }),
            None => match &self.seg {
                Some(s) => {
                    let had = s.has_redirect(from).map_err(corrupt("link segment"))?;
                    let tid = s.redirect_target(from).map_err(corrupt("link segment"))?;
                    (had, tid)
                }
                None => (false, None),
            },
        };
        if had {
            self.redir.insert(from, (self.seq, false, 0, "", "", ""))?;
        }
        if let Some(tid) = tid {
            self.redir_to.insert((tid, from), (self.seq, false))?;
        }
        Ok(())
    }

    fn set_redirect(&mut self, from: u32, r: Option<&RedirectRow>) -> R<()> {
        self.clear_redirect(from)?;
        if let Some(r) = r {
            self.redir.insert(
                from,
                (
                    self.seq,
                    true,
                    r.target.ns,
                    r.target.dbkey.as_str(),
                    r.fragment.as_str(),
                    r.interwiki.as_str(),
                ),
            )?;
            if r.interwiki.is_empty() {
                let tid = self.target_id(&r.target)?;
                self.redir_to.insert((tid, from), (self.seq, true))?;
            }
        }
        Ok(())
    }

    fn blocks_of(&self, page: u32) -> R<Vec<BlockRecord>> {
        match self.page_blocks.get(page)? {
            Some(v) => decode_blocks(v.value(), page),
            None => Ok(Vec::new()),
        }
    }

    fn refs_of(&self, page: u32) -> R<Vec<BlockRef>> {
        match self.page_refs.get(page)? {
            Some(v) => serde_json::from_slice(v.value())
                .map_err(|e| redb::Error::Corrupted(format!("refs of page {page}: {e}"))),
            None => Ok(Vec::new()),
        }
    }

    fn put_blocks(&mut self, page: u32, blocks: &[BlockRecord]) -> R<()> {
        if blocks.is_empty() {
            self.page_blocks.remove(page)?;
        } else {
            let json =
                serde_json::to_vec(blocks).map_err(|e| redb::Error::Corrupted(e.to_string()))?;
            self.page_blocks.insert(page, json.as_slice())?;
        }
        Ok(())
    }

    /// Removes a page's blocks and the references made from it.
    fn clear_blocks(&mut self, page: u32) -> R<()> {
        let old = self.blocks_of(page)?;
        let terms = page_terms(&old, &self.refs_of(page)?);
        self.retoken(page, &terms, &BTreeSet::new());
        for b in old {
            if self.block_page.get(b.id.as_str())?.map(|v| v.value()) == Some(page) {
                self.block_page.remove(b.id.as_str())?;
            }
        }
        self.page_blocks.remove(page)?;
        for r in self.refs_of(page)? {
            self.refs_by_def
                .remove((r.def.as_str(), page, r.block.as_str()))?;
        }
        self.page_refs.remove(page)?;
        Ok(())
    }

    fn set_blocks(&mut self, page: PageId, blocks: &[BlockRecord], refs: &[BlockRef]) -> R<()> {
        let p = page.0;
        self.clear_blocks(p)?;
        let mut mine: Vec<BlockRecord> = Vec::new();
        for b in blocks {
            match mine.iter_mut().find(|m| m.id == b.id) {
                Some(m) => *m = BlockRecord { page, ..b.clone() },
                None => mine.push(BlockRecord { page, ..b.clone() }),
            }
        }
        for b in &mine {
            // A block id belongs to one page: take it from its previous page.
            let owner = self.block_page.get(b.id.as_str())?.map(|v| v.value());
            if let Some(q) = owner.filter(|&q| q != p) {
                let before = self.blocks_of(q)?;
                let rest: Vec<BlockRecord> =
                    before.iter().filter(|x| x.id != b.id).cloned().collect();
                let q_refs = self.refs_of(q)?;
                let (old, new) = (page_terms(&before, &q_refs), page_terms(&rest, &q_refs));
                self.retoken(q, &old, &new);
                self.put_blocks(q, &rest)?;
            }
            self.block_page.insert(b.id.as_str(), p)?;
        }
        self.put_blocks(p, &mine)?;
        let mut seen = BTreeSet::new();
        let rows: Vec<BlockRef> = refs
            .iter()
            .filter(|r| seen.insert((r.def.clone(), r.block.clone())))
            .map(|r| BlockRef { page, ..r.clone() })
            .collect();
        for r in &rows {
            self.refs_by_def.insert(
                (r.def.as_str(), p, r.block.as_str()),
                (r.anchor.as_str(), r.kind as u8),
            )?;
        }
        if !rows.is_empty() {
            let json =
                serde_json::to_vec(&rows).map_err(|e| redb::Error::Corrupted(e.to_string()))?;
            self.page_refs.insert(p, json.as_slice())?;
        }
        let terms = page_terms(&mine, &rows);
        self.retoken(p, &BTreeSet::new(), &terms);
        Ok(())
    }

    fn delete(&mut self, id: u32) -> R<()> {
        self.clear_blocks(id)?;
        for (kind, tid, ns) in self.links_of(id)? {
            self.unfile(id, kind, tid, ns)?;
        }
        self.set_links(id, &[])?;
        self.clear_redirect(id)?;
        if let Some(old) = self.page(id)? {
            self.set_title(&old.title, None)?;
        }
        self.set_page(id, None)
    }

    /// Writes a page row; evicts another page holding the title; re-files the page's link
    /// rows under its namespace if that changed.
    fn put_page(&mut self, p: &PageRecord) -> R<()> {
        let id = p.id.0;
        if let Some(other) = self.title_holder(&p.title)? {
            if other != id {
                self.delete(other)?;
            }
        }
        if let Some(old) = self.page(id)? {
            if old.title != p.title {
                self.set_title(&old.title, None)?;
            }
        }
        self.set_page(id, Some(p))?;
        self.set_title(&p.title, Some((id, p.is_redirect)))?;
        let links = self.links_of(id)?;
        if links.iter().any(|&(_, _, ns)| ns != p.title.ns) {
            let set = links.iter().map(|&(k, t, _)| (k, t)).collect();
            self.replace_links(id, p.title.ns, set)?;
        }
        Ok(())
    }

    fn upsert(&mut self, u: &PageUpdate) -> R<()> {
        let id = u.page.id.0;
        self.put_page(&u.page)?;
        let mut new = BTreeSet::new();
        for (kind, t) in &u.links {
            new.insert((*kind as u8, self.target_id(t)?));
        }
        self.replace_links(id, u.page.title.ns, new)?;
        self.set_redirect(id, u.redirect.as_ref())
    }

    fn apply(&mut self, op: &Op) -> R<()> {
        match op {
            Op::Upsert(u) => self.upsert(u),
            Op::PutPage(p) => self.put_page(p),
            Op::AddLinks {
                from,
                from_ns,
                kind,
                targets,
            } => {
                let ns = self.page(from.0)?.map(|p| p.title.ns).unwrap_or(*from_ns);
                let old = self.links_of(from.0)?;
                let mut set: BTreeSet<(u8, u32)> = old.iter().map(|&(k, t, _)| (k, t)).collect();
                for t in targets {
                    set.insert((*kind as u8, self.target_id(t)?));
                }
                self.replace_links_from(from.0, ns, &old, set)
            }
            Op::SetRedirect { from, redirect } => self.set_redirect(from.0, redirect.as_ref()),
            Op::Delete(id) => self.delete(id.0),
            Op::SetBlocks { page, blocks, refs } => self.set_blocks(*page, blocks, refs),
            Op::SetSiteInfo(s) => {
                let json =
                    serde_json::to_vec(s).map_err(|e| redb::Error::Corrupted(e.to_string()))?;
                self.meta.insert(SITE_KEY, json.as_slice())?;
                Ok(())
            }
        }
    }
}

/// A page's link rows as a forward entry (`fwd_delta`, the segment's forward table): groups by (kind, namespace), each
/// `varint(kind) zigzag(ns) varint(bytes)` and then the group's ascending target ids as an
/// `inlink-postings 2` list — under 2 bytes per link instead of 9. In a segment the lists
/// are in the universe of the target ids below its snapshot's `next_target`
/// (`Segment::forward_universe`), which every row's target is (checked by the caller);
/// in `fwd_delta`, in none.
fn encode_links(rows: &[(u8, u32, i32)], universe: Option<u64>) -> Vec<u8> {
    LinkCoder::default().encode(rows, universe).to_vec()
}

/// Codes forward entries one after another in buffers it keeps: a bulk load codes one a
/// page, and their allocations showed in its profile.
#[derive(Default)]
struct LinkCoder {
    sorted: Vec<(u8, i32, u32)>,
    ids: Vec<u32>,
    list: Vec<u8>,
    out: Vec<u8>,
}

/// The first byte of a forward entry in the compact form: this bit, and a bit per kind.
impl LinkCoder {
    /// `rows` as `encode_links` codes them, lent until the next call.
    fn encode(&mut self, rows: &[(u8, u32, i32)], universe: Option<u64>) -> &[u8] {
        self.sorted.clear();
        self.sorted.extend(rows.iter().map(|&(k, t, n)| (k, n, t)));
        self.sorted.sort_unstable();
        self.sorted.dedup();
        self.out.clear();
        // In a segment, a page whose rows share a namespace (every page that exists) gets
        // the compact form: the namespace once, a bit per kind, no length for the last list.
        let one_ns = self.sorted.first().map(|r| r.1).filter(|&ns| {
            self.sorted
                .iter()
                .all(|r| r.1 == ns && usize::from(r.0) < crate::segment::KINDS)
        });
        let compact = one_ns.filter(|_| universe.is_some());
        let mut groups = 0;
        if let Some(ns) = compact {
            let mask = self.sorted.iter().fold(0u8, |m, r| m | 1 << r.0);
            self.out.push(COMPACT | mask);
            put_varint(&mut self.out, zigzag(ns));
            groups = mask.count_ones() as usize;
        }
        for (i, group) in self
            .sorted
            .chunk_by(|a, b| (a.0, a.1) == (b.0, b.1))
            .enumerate()
        {
            let (kind, ns, _) = group[0];
            if compact.is_none() {
                put_varint(&mut self.out, u64::from(kind));
                put_varint(&mut self.out, zigzag(ns));
            }
            self.ids.clear();
            self.ids.extend(group.iter().map(|r| r.2));
            self.list.clear();
            crate::postings::encode_into(&mut self.list, &self.ids, universe);
            if compact.is_none() || i + 1 < groups {
                put_varint(&mut self.out, self.list.len() as u64);
            }
            self.out.extend_from_slice(&self.list);
        }
        &self.out
    }
}

/// Where a forward entry was read: the universe its lists were written in, and the page's
/// namespace when the segment's map holds it (a compact entry may leave it out).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Held {
    universe: Option<u64>,
    ns: Option<i32>,
}

impl Held {
    /// A forward entry of segment `seg`, page `from`'s.
    fn in_segment(seg: &Segment, from: u32) -> Self {
        Held {
            universe: seg.forward_universe(),
            ns: seg.page_namespace(from),
        }
    }
}

/// Decodes a forward entry (held as `held` says) into (kind, target, namespace) rows
/// sorted by kind and target.
fn decode_links(entry: Stored<'_>, held: Held) -> R<Vec<(u8, u32, i32)>> {
    let universe = held.universe;
    let bad = |what: &str| redb::Error::Corrupted(format!("forward links: {what}"));
    let compact = entry.first().filter(|&f| f & COMPACT != 0);
    if compact.is_none() && entry.head.is_some() {
        return Err(bad("a first byte left out of no compact entry"));
    }
    // Positions are in `b`: the bytes after the first of a compact entry, else all.
    let b = match compact {
        Some(_) => entry.after_first(),
        None => entry.rest,
    };
    let mut out = Vec::new();
    let mut pos = 0;
    let get = |pos: &mut usize| get_varint(b, pos).map_err(|m| bad(m.0));
    // The ids of the `len` bytes of list at `pos`, which moves past them.
    let take_list = |pos: &mut usize, len: usize| {
        let list = b
            .get(*pos..pos.saturating_add(len))
            .ok_or_else(|| bad("list past the end"))?;
        *pos += len;
        crate::postings::Postings::parse(list, universe)
            .and_then(|p| p.all())
            .map_err(|m| bad(m.0))
    };
    if let Some(first) = compact {
        let mask = first & !(COMPACT | IMPLIED);
        if mask == 0 || mask >> crate::segment::KINDS != 0 {
            return Err(bad("kinds"));
        }
        let ns = if first & IMPLIED != 0 {
            held.ns
                .ok_or_else(|| bad("no namespace for a compact entry"))?
        } else {
            i32::try_from(unzigzag(get(&mut pos)?)).map_err(|_| bad("namespace"))?
        };
        let mut left = mask.count_ones();
        for kind in (0..crate::segment::KINDS as u8).filter(|k| mask & 1 << k != 0) {
            left -= 1;
            let len = if left == 0 {
                b.len().saturating_sub(pos)
            } else {
                usize::try_from(get(&mut pos)?).map_err(|_| bad("length"))?
            };
            out.extend(
                take_list(&mut pos, len)?
                    .into_iter()
                    .map(|tid| (kind, tid, ns)),
            );
        }
        out.sort_unstable();
        return Ok(out);
    }
    while pos < b.len() {
        let kind = u8::try_from(get(&mut pos)?).map_err(|_| bad("kind"))?;
        let ns = i32::try_from(unzigzag(get(&mut pos)?)).map_err(|_| bad("namespace"))?;
        let len = usize::try_from(get(&mut pos)?).map_err(|_| bad("length"))?;
        out.extend(
            take_list(&mut pos, len)?
                .into_iter()
                .map(|tid| (kind, tid, ns)),
        );
    }
    out.sort_unstable();
    Ok(out)
}

fn zigzag(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// The namespace every one of a page's link rows is filed under, if they share one.
fn one_namespace(rows: &[(u8, u32, i32)]) -> Option<i32> {
    let ns = rows.first()?.2;
    rows.iter().all(|r| r.2 == ns).then_some(ns)
}

/// A link row as one sortable key: (kind, target, namespace, from page).
fn pack(kind: u8, tid: u32, ns: i32, from: u32) -> u128 {
    (u128::from(kind) << 96)
        | (u128::from(tid) << 64)
        | (u128::from(ns as u32 ^ 0x8000_0000) << 32)
        | u128::from(from)
}

/// Hands `w` the reverse rows of `keys` (ascending, [`pack`]ed) a list at a time: the rows
/// of one target and namespace differ in their low 32 bits only.
fn push_reverse(
    w: &mut SegmentWriter,
    keys: impl Iterator<Item = std::io::Result<u128>>,
) -> std::io::Result<()> {
    let mut list: Option<u128> = None;
    let mut from: Vec<u32> = Vec::new();
    let mut put = |list: u128, from: &mut Vec<u32>| -> std::io::Result<()> {
        let (kind, tid, ns, _) = unpack(list << 32);
        w.push_list(kind, tid, ns, from)?;
        from.clear();
        Ok(())
    };
    for k in keys {
        let k = k?;
        if list != Some(k >> 32) {
            if let Some(l) = list {
                put(l, &mut from)?;
            }
            list = Some(k >> 32);
        }
        from.push(k as u32);
    }
    match list {
        Some(l) => put(l, &mut from),
        None => Ok(()),
    }
}

fn unpack(k: u128) -> (u8, u32, i32, u32) {
    (
        (k >> 96) as u8,
        (k >> 64) as u32,
        ((k >> 32) as u32 ^ 0x8000_0000) as i32,
        k as u32,
    )
}

fn corrupt(what: &'static str) -> impl Fn(crate::postings::Malformed) -> redb::Error {
    move |m| redb::Error::Corrupted(format!("{what}: {}", m.0))
}

fn read_blocks(txn: &ReadTransaction, page: u32) -> R<Vec<BlockRecord>> {
    let t = txn.open_table(PAGE_BLOCKS)?;
    match t.get(page)? {
        Some(v) => decode_blocks(v.value(), page),
        None => Ok(Vec::new()),
    }
}

/// A page's blocks; the page is the row's key, not part of each record.
fn decode_blocks(bytes: &[u8], page: u32) -> R<Vec<BlockRecord>> {
    let mut blocks: Vec<BlockRecord> = serde_json::from_slice(bytes)
        .map_err(|e| redb::Error::Corrupted(format!("blocks of page {page}: {e}")))?;
    for b in &mut blocks {
        b.page = PageId(page);
    }
    Ok(blocks)
}

/// The first element of a JSON array, the rest skipped without being built.
fn first_of_array<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<Option<T>> {
    struct First<T>(std::marker::PhantomData<T>);
    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for First<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let first = seq.next_element()?;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = serde::Deserializer::deserialize_seq(&mut de, First(std::marker::PhantomData))?;
    de.end()?;
    Ok(v)
}

/// The link rows of one (kind, target) in a snapshot: the segment's lists with the delta
/// rows laid over them.
struct Rows<'s> {
    lists: TargetLists<'s>,
    /// from page → (namespace, present)
    delta: BTreeMap<u32, (i32, bool)>,
}

impl<'s> Rows<'s> {
    /// (`txn`: `None` when the segment alone holds the rows.)
    /// (`page`: the page the segment pairs the target with, when known.)
    fn load(
        txn: Option<&ReadTransaction>,
        seg: Option<&'s Segment>,
        kind: u8,
        (tid, page): (u32, Option<u32>),
    ) -> R<Self> {
        let lists = match seg {
            Some(s) => s
                .target_at(kind, tid, page)
                .map_err(corrupt("link segment"))?,
            None => TargetLists::default(),
        };
        let mut delta = BTreeMap::new();
        if let Some(txn) = txn {
            for row in txn
                .open_table(DELTA)?
                .range((kind, tid, 0u32)..=(kind, tid, u32::MAX))?
            {
                let (k, v) = row?;
                let (ns, present, _) = v.value();
                delta.insert(k.value().2, (ns, present));
            }
        }
        Ok(Rows { lists, delta })
    }

    /// The rows `q` asks for (order, direction, start, namespaces), as (namespace, from).
    fn iter(&self, q: &BacklinkQuery) -> Merge<'_> {
        let desc = q.direction == Direction::Descending;
        let by_ns = q.order == Order::NamespaceThenPageId;
        let mut heads = Vec::new();
        for (ns, p) in &self.lists.lists {
            if !q.namespaces.accepts(*ns) {
                continue;
            }
            let start = match (q.start, by_ns) {
                (None, _) => None,
                (Some(s), false) => Some(s.id.0),
                (Some(s), true) if *ns == s.ns => Some(s.id.0),
                // Namespaces before the start's (in the query's direction) are done.
                (Some(s), true) if (*ns < s.ns) != desc => continue,
                (Some(_), true) => None,
            };
            let cursor = Cursor::new(p, start, desc).with_want(q.limit);
            heads.push((None, Src::List(*ns, cursor)));
        }
        let mut extra: Vec<(i32, u32)> = self
            .delta
            .iter()
            .filter(|(&from, &(ns, present))| {
                present && q.namespaces.accepts(ns) && q.after_start(ns, PageId(from))
            })
            .map(|(&from, &(ns, _))| (ns, from))
            .collect();
        extra.sort_unstable_by_key(|&(ns, from)| if by_ns { (ns, from) } else { (0, from) });
        if desc {
            extra.reverse();
        }
        heads.push((None, Src::Delta(extra.into_iter())));
        Merge {
            heads,
            delta: &self.delta,
            by_ns,
            desc,
            primed: false,
        }
    }
}

enum Src<'a> {
    List(i32, Cursor<'a>),
    Delta(std::vec::IntoIter<(i32, u32)>),
}

/// A merge of a target's lists and its delta rows in the query's order.
struct Merge<'a> {
    heads: Vec<(Option<(i32, u32)>, Src<'a>)>,
    delta: &'a BTreeMap<u32, (i32, bool)>,
    by_ns: bool,
    desc: bool,
    primed: bool,
}

impl Merge<'_> {
    fn pull(src: &mut Src<'_>, delta: &BTreeMap<u32, (i32, bool)>) -> R<Option<(i32, u32)>> {
        match src {
            Src::List(ns, cursor) => loop {
                match cursor.next_id().map_err(corrupt("link segment"))? {
                    // The delta's row for this page overrides the segment's.
                    Some(from) if delta.contains_key(&from) => continue,
                    Some(from) => return Ok(Some((*ns, from))),
                    None => return Ok(None),
                }
            },
            Src::Delta(it) => Ok(it.next()),
        }
    }

    fn next(&mut self) -> R<Option<(i32, u32)>> {
        if !self.primed {
            self.primed = true;
            for (head, src) in &mut self.heads {
                *head = Self::pull(src, self.delta)?;
            }
        }
        let key = |&(ns, from): &(i32, u32)| if self.by_ns { (ns, from) } else { (0, from) };
        let mut best: Option<usize> = None;
        for (i, (head, _)) in self.heads.iter().enumerate() {
            let Some(h) = head else { continue };
            let better = match best.and_then(|b| self.heads[b].0.as_ref()) {
                None => true,
                Some(b) if self.desc => key(h) > key(b),
                Some(b) => key(h) < key(b),
            };
            if better {
                best = Some(i);
            }
        }
        let Some(i) = best else { return Ok(None) };
        let (head, src) = &mut self.heads[i];
        let row = head.take();
        *head = Self::pull(src, self.delta)?;
        Ok(row)
    }
}

/// Page `id` as of a snapshot: its `page_delta` row (`pages`; `None`: the table is known
/// to be empty), else the segment's page.
fn page_in<T: ReadableTable<u32, PageRow>>(
    pages: Option<&T>,
    seg: Option<&Segment>,
    id: u32,
) -> R<Option<PageRecord>> {
    if let Some(v) = pages.map(|p| p.get(id)).transpose()?.flatten() {
        let (_, present, ns, is_redirect, dbkey) = v.value();
        return Ok(present.then(|| PageRecord {
            id: PageId(id),
            title: Title::new(ns, dbkey),
            is_redirect,
        }));
    }
    let Some(seg) = seg else { return Ok(None) };
    Ok(seg
        .page(id)
        .map_err(corrupt("link segment"))?
        .map(|(ns, dbkey, is_redirect)| PageRecord {
            id: PageId(id),
            title: Title::new(ns, dbkey),
            is_redirect,
        }))
}

/// The page title `t` names as of a snapshot.
fn title_in(
    titles: &impl ReadableTable<(i32, &'static str), TitleRow>,
    seg: Option<&Segment>,
    t: &Title,
) -> R<Option<u32>> {
    if let Some(v) = titles.get((t.ns, t.dbkey.as_str()))? {
        let (_, present, id, _) = v.value();
        return Ok(present.then_some(id));
    }
    Ok(seg.and_then(|s| s.page_id(t.ns, &t.dbkey)))
}

/// The pages of a read snapshot, by id (titles: `title_in`).
struct PageView<'s> {
    /// `None`: no page changed since the segment was built, so the B-tree is skipped.
    pages: Option<redb::ReadOnlyTable<u32, PageRow>>,
    seg: Option<&'s Segment>,
}

impl<'s> PageView<'s> {
    /// The pages of a snapshot (`txn`: `None` when the segment alone holds them).
    fn open(txn: Option<&ReadTransaction>, seg: Option<&'s Segment>) -> R<Self> {
        let pages = match txn {
            Some(txn) => Some(txn.open_table(PAGES)?),
            None => None,
        };
        Ok(PageView {
            pages: match pages {
                Some(p) if !p.is_empty()? => Some(p),
                _ => None,
            },
            seg,
        })
    }

    fn page(&self, id: u32) -> R<Option<PageRecord>> {
        page_in(self.pages.as_ref(), self.seg, id)
    }

    /// [`PageView::page`] with the title in `buf`, which is kept from row to row. Apart
    /// from `page_in`, which makes an owned record: built on this one, it made a 500-row
    /// answer 4 % slower (83 against 86.5 µs in process, alternating runs).
    fn page_in<'b>(&self, id: u32, buf: &'b mut Vec<u8>) -> R<Option<BacklinkRef<'b>>> {
        if let Some(pages) = &self.pages {
            if let Some(v) = pages.get(id)? {
                let (_, present, ns, is_redirect, dbkey) = v.value();
                if !present {
                    return Ok(None);
                }
                buf.clear();
                buf.extend_from_slice(dbkey.as_bytes());
                // A copy of a `&str`: always UTF-8.
                let dbkey = std::str::from_utf8(buf)
                    .map_err(|_| redb::Error::Corrupted("page row: not UTF-8".into()))?;
                return Ok(Some(BacklinkRef {
                    id: PageId(id),
                    ns,
                    dbkey,
                    is_redirect,
                }));
            }
        }
        let Some(seg) = self.seg else { return Ok(None) };
        Ok(seg.page_in(id, buf).map_err(corrupt("link segment"))?.map(
            |(ns, dbkey, is_redirect)| BacklinkRef {
                id: PageId(id),
                ns,
                dbkey,
                is_redirect,
            },
        ))
    }

    fn exists(&self, id: u32) -> R<bool> {
        if let Some(pages) = &self.pages {
            if let Some(v) = pages.get(id)? {
                return Ok(v.value().1);
            }
        }
        match self.seg {
            Some(s) => s.has_page(id).map_err(corrupt("link segment")),
            None => Ok(false),
        }
    }
}

/// The target id of a title in a snapshot (`txn`: `None` when the segment alone holds them).
fn target_id(txn: Option<&ReadTransaction>, seg: Option<&Segment>, t: &Title) -> R<Option<u32>> {
    Ok(target_and_page(txn, seg, t)?.map(|t| t.0))
}

/// [`target_id`], and the page the segment pairs the target with, when it does
/// ([`Segment::target_and_page`]).
fn target_and_page(
    txn: Option<&ReadTransaction>,
    seg: Option<&Segment>,
    t: &Title,
) -> R<Option<(u32, Option<u32>)>> {
    if let Some(txn) = txn {
        let targets = txn.open_table(TARGETS)?;
        if let Some(v) = targets.get((t.ns, t.dbkey.as_str()))? {
            return Ok(Some((v.value(), None)));
        }
    }
    match seg {
        Some(s) => s
            .target_and_page(t.ns, &t.dbkey)
            .map_err(corrupt("link segment")),
        None => Ok(None),
    }
}

impl Core {
    fn backlinks_inner(&self, q: &BacklinkQuery) -> R<Vec<Backlink>> {
        // A full page is the common answer; capped, since internal callers ask for all.
        let mut out = Vec::with_capacity(q.limit.min(1024));
        self.backlinks_walk(q, &mut |p| out.push(p.to_record()))?;
        Ok(out)
    }

    /// The rows of a backlinks query, each handed over as it is read, every title decoded
    /// into one buffer.
    fn backlinks_walk(&self, q: &BacklinkQuery, row: &mut dyn FnMut(BacklinkRef<'_>)) -> R<()> {
        if q.limit == 0 {
            return Ok(());
        }
        let (txn, seg) = self.read_snapshot()?;
        let Some(target) = target_and_page(txn.as_ref(), seg.as_deref(), &q.target)? else {
            return Ok(());
        };
        let pages = PageView::open(txn.as_ref(), seg.as_deref())?;
        let rows = Rows::load(txn.as_ref(), seg.as_deref(), q.kind as u8, target)?;
        let mut it = rows.iter(q);
        let mut buf = Vec::new();
        let mut given = 0;
        while let Some((_, from)) = it.next()? {
            if let Some(p) = pages.page_in(from, &mut buf)? {
                if q.accepts_page(p.ns, p.is_redirect) {
                    row(p);
                    given += 1;
                    if given >= q.limit {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    fn count_inner(&self, kind: LinkKind, target: &Title) -> R<u64> {
        let (txn, seg) = self.read_snapshot()?;
        let Some(found) = target_and_page(txn.as_ref(), seg.as_deref(), target)? else {
            return Ok(0);
        };
        let pages = PageView::open(txn.as_ref(), seg.as_deref())?;
        let rows = Rows::load(txn.as_ref(), seg.as_deref(), kind as u8, found)?;
        let q = BacklinkQuery::new(kind, target.clone());
        let mut it = rows.iter(&q);
        let mut n = 0;
        while let Some((_, from)) = it.next()? {
            if pages.exists(from)? {
                n += 1;
            }
        }
        Ok(n)
    }
}

impl LinkStore for RedbStore {
    /// On an empty index: a loader that builds the segment by sorting.
    fn bulk_loader(&self) -> Result<Option<Box<dyn crate::BulkLoad + Send + '_>>> {
        let txn = self.db.begin_write().map_err(self.err())?;
        if !load::index_is_empty(&txn).map_err(self.err())? {
            return Ok(None);
        }
        drop(txn);
        Ok(Some(Box::new(load::Loader::new(self))))
    }

    fn apply(&self, batch: &Batch) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(self.err())?;
        let bulk = self.bulk.load(AtomicOrdering::SeqCst);
        if bulk {
            txn.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Engine(e.to_string()))?;
        }
        // Write transactions are serialised, so the cache is this batch's alone until it
        // is given back; a batch that fails drops it (it may hold ids never committed).
        let cache = std::mem::take(&mut *self.tids.lock().unwrap_or_else(|e| e.into_inner()));
        let (delta_rows, mut cache) = {
            let seg = self.writer_segment(&txn).map_err(self.err())?;
            let mut w = Writer::open(&txn, bulk, cache, seg).map_err(self.err())?;
            for op in &batch.ops {
                w.apply(op).map_err(self.err())?;
            }
            w.finish().map_err(self.err())?
        };
        txn.commit().map_err(self.err())?;
        if bulk {
            self.bulk_unsynced.store(true, AtomicOrdering::SeqCst);
        }
        if cache.len() > TID_CACHE_MAX {
            cache.clear();
        }
        *self.tids.lock().unwrap_or_else(|e| e.into_inner()) = cache;
        self.generation.fetch_add(1, AtomicOrdering::AcqRel);
        self.maybe_fold(delta_rows);
        Ok(())
    }

    fn page(&self, id: PageId) -> Result<Option<PageRecord>> {
        let run = || -> R<Option<PageRecord>> {
            let (txn, seg) = self.read_snapshot()?;
            PageView::open(txn.as_ref(), seg.as_deref())?.page(id.0)
        };
        run().map_err(self.err())
    }

    fn page_by_title(&self, title: &Title) -> Result<Option<PageRecord>> {
        let run = || -> R<Option<PageRecord>> {
            let (txn, seg) = self.snapshot()?;
            match title_in(&txn.open_table(TITLES)?, seg.as_deref(), title)? {
                Some(id) => PageView::open(Some(&txn), seg.as_deref())?.page(id),
                None => Ok(None),
            }
        };
        run().map_err(self.err())
    }

    fn backlinks(&self, q: &BacklinkQuery) -> Result<Vec<Backlink>> {
        self.backlinks_inner(q).map_err(self.err())
    }

    fn backlinks_each(
        &self,
        q: &BacklinkQuery,
        row: &mut dyn FnMut(BacklinkRef<'_>),
    ) -> Result<()> {
        self.backlinks_walk(q, row).map_err(self.err())
    }

    fn count_backlinks(&self, kind: LinkKind, target: &Title) -> Result<u64> {
        self.count_inner(kind, target).map_err(self.err())
    }

    fn warm(&self) -> Result<u64> {
        self.warm.store(true, AtomicOrdering::Relaxed);
        let newest = self
            .segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .cloned();
        match newest {
            Some(seg) => seg.warm().map_err(StoreError::Io),
            None => Ok(0),
        }
    }

    fn outgoing(&self, id: PageId, kind: LinkKind) -> Result<Vec<Title>> {
        let run = || -> R<Vec<Title>> {
            let (txn, seg) = self.snapshot()?;
            let fwd = txn.open_table(FWD)?;
            let names = txn.open_table(TARGET_NAMES)?;
            let k = kind as u8;
            let mut out = Vec::new();
            let rows = match (fwd.get(id.0)?, &seg) {
                (Some(v), _) => decode_links(Stored::whole(v.value().1), Held::default())?,
                (None, Some(s)) => match s.forward(id.0).map_err(corrupt("link segment"))? {
                    Some(entry) => decode_links(entry, Held::in_segment(s, id.0))?,
                    None => Vec::new(),
                },
                (None, None) => Vec::new(),
            };
            for (_, tid, _) in rows.into_iter().filter(|r| r.0 == k) {
                if let Some(v) = names.get(tid)? {
                    let (ns, dbkey) = v.value();
                    out.push(Title::new(ns, dbkey));
                } else if let Some(s) = &seg {
                    if let Some((ns, dbkey)) =
                        s.target_name(tid).map_err(corrupt("link segment"))?
                    {
                        out.push(Title::new(ns, dbkey));
                    }
                }
            }
            out.sort();
            Ok(out)
        };
        run().map_err(self.err())
    }

    fn redirect(&self, id: PageId) -> Result<Option<RedirectRow>> {
        let run = || -> R<Option<RedirectRow>> {
            let (txn, seg) = self.snapshot()?;
            let redir = txn.open_table(REDIR)?;
            if let Some(v) = redir.get(id.0)? {
                let (_, present, ns, dbkey, fragment, interwiki) = v.value();
                return Ok(present.then(|| RedirectRow {
                    target: Title::new(ns, dbkey),
                    fragment: fragment.into(),
                    interwiki: interwiki.into(),
                }));
            }
            let Some(seg) = seg else {
                return Ok(None);
            };
            let row = seg.redirect(id.0).map_err(corrupt("link segment"))?;
            Ok(row.map(|(ns, dbkey, fragment, interwiki)| RedirectRow {
                target: Title::new(ns, &dbkey),
                fragment,
                interwiki,
            }))
        };
        run().map_err(self.err())
    }

    fn redirects_to(&self, target: &Title) -> Result<Vec<PageRecord>> {
        let run = || -> R<Vec<PageRecord>> {
            let (txn, seg) = self.snapshot()?;
            let Some(tid) = target_id(Some(&txn), seg.as_deref(), target)? else {
                return Ok(Vec::new());
            };
            let mut from: BTreeSet<u32> = match &seg {
                Some(s) => s
                    .redirects_to(tid)
                    .map_err(corrupt("link segment"))?
                    .into_iter()
                    .collect(),
                None => BTreeSet::new(),
            };
            for row in txn
                .open_table(REDIR_TO)?
                .range((tid, 0u32)..=(tid, u32::MAX))?
            {
                let (k, v) = row?;
                let page = k.value().1;
                if v.value().1 {
                    from.insert(page);
                } else {
                    from.remove(&page);
                }
            }
            let pages = PageView::open(Some(&txn), seg.as_deref())?;
            let mut out = Vec::new();
            for page in from {
                if let Some(p) = pages.page(page)? {
                    out.push(p);
                }
            }
            Ok(out)
        };
        run().map_err(self.err())
    }

    fn pages(&self, start: PageId, limit: usize) -> Result<Vec<PageRecord>> {
        let run = || -> R<Vec<PageRecord>> {
            let (txn, seg) = self.snapshot()?;
            let mut out = Vec::new();
            if limit > 0 {
                for_each_page(&txn, seg.as_deref(), start.0, |p| {
                    out.push(p);
                    Ok(out.len() < limit)
                })?;
            }
            Ok(out)
        };
        run().map_err(self.err())
    }

    fn last_page_id(&self) -> Result<Option<PageId>> {
        let run = || -> R<Option<PageId>> {
            let (txn, seg) = self.snapshot()?;
            let pages = txn.open_table(PAGES)?;
            let mut last = None;
            for row in pages.iter()?.rev() {
                let (k, v) = row?;
                if v.value().1 {
                    last = Some(k.value());
                    break;
                }
            }
            // The segment's last page that no `page_delta` row deletes.
            if let Some(seg) = &seg {
                for id in seg.page_ids(u32::MAX, true) {
                    let id = id.map_err(corrupt("link segment"))?;
                    if last.is_some_and(|l| l >= id) {
                        break;
                    }
                    if pages.get(id)?.is_none_or(|v| v.value().1) {
                        last = Some(id);
                        break;
                    }
                }
            }
            Ok(last.map(PageId))
        };
        run().map_err(self.err())
    }

    fn site_info(&self) -> Result<Option<SiteInfo>> {
        let txn = self.read()?;
        let meta = txn.open_table(META).map_err(self.err())?;
        let Some(v) = meta.get(SITE_KEY).map_err(self.err())? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|e| StoreError::Corrupted {
                path: self.path.display().to_string(),
                detail: format!("siteinfo: {e}"),
            })
    }

    fn block(&self, id: &str) -> Result<Option<BlockRecord>> {
        let run = || -> R<Option<BlockRecord>> {
            let txn = self.db.begin_read()?;
            let Some(page) = txn.open_table(BLOCK_PAGE)?.get(id)?.map(|v| v.value()) else {
                return Ok(None);
            };
            Ok(read_blocks(&txn, page)?.into_iter().find(|b| b.id == id))
        };
        run().map_err(self.err())
    }

    fn blocks_of(&self, page: PageId) -> Result<Vec<BlockRecord>> {
        let run = || -> R<Vec<BlockRecord>> { read_blocks(&self.db.begin_read()?, page.0) };
        run().map_err(self.err())
    }

    fn first_block(&self, page: PageId) -> Result<Option<BlockRecord>> {
        let run = || -> R<Option<BlockRecord>> {
            let txn = self.db.begin_read()?;
            let t = txn.open_table(PAGE_BLOCKS)?;
            match t.get(page.0)? {
                Some(v) => first_of_array::<BlockRecord>(v.value())
                    .map(|b| {
                        b.map(|mut b| {
                            b.page = page;
                            b
                        })
                    })
                    .map_err(|e| redb::Error::Corrupted(format!("blocks of page {}: {e}", page.0))),
                None => Ok(None),
            }
        };
        run().map_err(self.err())
    }

    fn block_refs_to(&self, def: &str) -> Result<Vec<BlockRef>> {
        let run = || -> R<Vec<BlockRef>> {
            let txn = self.db.begin_read()?;
            let t = txn.open_table(REFS_BY_DEF)?;
            let mut out = Vec::new();
            for row in t.range((def, 0u32, "")..=(def, u32::MAX, "\u{10FFFF}"))? {
                let (k, v) = row?;
                let (d, page, block) = k.value();
                let (anchor, kind) = v.value();
                out.push(BlockRef {
                    page: PageId(page),
                    block: block.to_string(),
                    def: d.to_string(),
                    anchor: anchor.to_string(),
                    kind: BlockRefKind::from_u8(kind).unwrap_or(BlockRefKind::Static),
                });
            }
            Ok(out)
        };
        run().map_err(self.err())
    }

    fn block_refs_from(&self, page: PageId) -> Result<Vec<BlockRef>> {
        let run = || -> R<Vec<BlockRef>> {
            let txn = self.db.begin_read()?;
            let t = txn.open_table(PAGE_REFS)?;
            match t.get(page.0)? {
                Some(v) => serde_json::from_slice(v.value())
                    .map_err(|e| redb::Error::Corrupted(format!("refs of page {}: {e}", page.0))),
                None => Ok(Vec::new()),
            }
        };
        run().map_err(self.err())
    }

    fn blocks_with_tokens(&self, tokens: &[String]) -> Result<Vec<(PageId, u32)>> {
        let run = || -> R<Vec<(PageId, u32)>> {
            if tokens.is_empty() {
                return Ok(Vec::new());
            }
            let txn = self.db.begin_read()?;
            let t = txn.open_table(TERMS)?;
            let mut lists = Vec::with_capacity(tokens.len());
            for token in tokens {
                match t.get(token.as_str())? {
                    Some(v) => lists.push(v.value().to_vec()),
                    None => return Ok(Vec::new()),
                }
            }
            // Shortest list first; the others are only probed.
            lists.sort_by_key(Vec::len);
            let mut acc = decode_postings(&lists[0])
                .ok_or_else(|| redb::Error::Corrupted("postings".into()))?;
            for l in &lists[1..] {
                let other =
                    decode_postings(l).ok_or_else(|| redb::Error::Corrupted("postings".into()))?;
                acc = intersect(&acc, &other);
                if acc.is_empty() {
                    break;
                }
            }
            let mask = (1u64 << POS_BITS) - 1;
            Ok(acc
                .into_iter()
                .map(|k| (PageId((k >> POS_BITS) as u32), (k & mask) as u32))
                .collect())
        };
        run().map_err(self.err())
    }

    fn generation(&self) -> u64 {
        self.generation.load(AtomicOrdering::Acquire)
    }

    fn stats(&self) -> Result<StoreStats> {
        let run = || -> R<StoreStats> {
            let (txn, seg) = self.snapshot()?;
            let mut links = seg.as_ref().map_or([0u64; 4], |s| s.links());
            // The delta's rows change the segment's counts where they differ from it.
            let mut lists: Option<((u8, u32), TargetLists<'_>)> = None;
            let delta = txn.open_table(DELTA)?;
            for row in delta.iter()? {
                let (k, v) = row?;
                let (kind, tid, from) = k.value();
                let (_, present, _) = v.value();
                if lists.as_ref().is_none_or(|(key, _)| *key != (kind, tid)) {
                    let l = match &seg {
                        Some(s) => s.target(kind, tid).map_err(corrupt("link segment"))?,
                        None => TargetLists::default(),
                    };
                    lists = Some(((kind, tid), l));
                }
                let l = &lists.as_ref().expect("set above").1;
                let mut before = false;
                for (n, _) in &l.lists {
                    before |= l.contains(*n, from).map_err(corrupt("link segment"))?;
                }
                let slot = &mut links[usize::from(kind).min(3)];
                match (before, present) {
                    (false, true) => *slot += 1,
                    (true, false) => *slot = slot.saturating_sub(1),
                    _ => {}
                }
            }
            let mut pages = seg.as_ref().map_or(0, |s| s.pages_len() as u64);
            for row in txn.open_table(PAGES)?.iter()? {
                let (id, v) = row?;
                let before = match &seg {
                    Some(s) => s.has_page(id.value()).map_err(corrupt("link segment"))?,
                    None => false,
                };
                match (before, v.value().1) {
                    (false, true) => pages += 1,
                    (true, false) => pages = pages.saturating_sub(1),
                    _ => {}
                }
            }
            let mut redirects = seg.as_ref().map_or(0, |s| s.redirect_count());
            for row in txn.open_table(REDIR)?.iter()? {
                let (id, v) = row?;
                let before = match &seg {
                    Some(s) => s
                        .has_redirect(id.value())
                        .map_err(corrupt("link segment"))?,
                    None => false,
                };
                match (before, v.value().1) {
                    (false, true) => redirects += 1,
                    (true, false) => redirects = redirects.saturating_sub(1),
                    _ => {}
                }
            }
            Ok(StoreStats {
                pages,
                redirects,
                links,
                targets: u64::from(next_target(&txn.open_table(META)?)?.saturating_sub(1)),
                pending_links: delta.len()?,
                folds: self.folds.load(AtomicOrdering::Relaxed),
                disk_bytes: std::fs::metadata(&self.path).map_or(0, |m| m.len())
                    + seg.as_ref().map_or(0, |s| s.bytes()),
            })
        };
        run().map_err(self.err())
    }
}

/// The (token, position) pairs the mention index files a page's blocks under.
fn page_terms(blocks: &[BlockRecord], refs: &[BlockRef]) -> BTreeSet<(String, u32)> {
    let mut set = BTreeSet::new();
    for (pos, b) in blocks.iter().enumerate() {
        let anchors = refs
            .iter()
            .filter(|r| r.block == b.id)
            .map(|r| r.anchor.as_str());
        inlink_model::text::block_tokens(b, anchors, |t| {
            set.insert((t.to_string(), pos as u32));
        });
    }
    set
}

/// Ascending postings as LEB128 deltas (the first from 0).
fn encode_postings(pages: &BTreeSet<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(pages.len() * 3);
    let mut prev = 0u64;
    for &p in pages {
        crate::postings::put_varint(&mut out, p - prev);
        prev = p;
    }
    out
}

/// `None` when the bytes are not a well-formed ascending list.
fn decode_postings(bytes: &[u8]) -> Option<Vec<u64>> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut cur, mut shift, mut prev) = (0u64, 0u32, 0u64);
    for (i, &b) in bytes.iter().enumerate() {
        if shift > 63 {
            return None;
        }
        let bits = u64::from(b & 0x7f);
        if shift > 0 && bits.leading_zeros() < shift {
            return None;
        }
        cur |= bits << shift;
        if b & 0x80 == 0 {
            if i > 0 && cur == 0 && !out.is_empty() {
                return None;
            }
            prev = prev.checked_add(cur)?;
            out.push(prev);
            cur = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    (shift == 0).then_some(out)
}

fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small
        .iter()
        .copied()
        .filter(|x| large.binary_search(x).is_ok())
        .collect()
}

#[cfg(test)]
mod postings_tests {
    use super::*;
    use proptest::prelude::*;

    fn link_rows() -> impl Strategy<Value = Vec<(u8, u32, i32)>> {
        (any::<bool>(), -3i32..3).prop_flat_map(|(one_ns, ns)| {
            proptest::collection::vec((0u8..4, 0u32..5000, -3i32..3), 0..300).prop_map(
                move |rows| {
                    let mut rows: Vec<_> = rows
                        .into_iter()
                        .map(|(k, t, n)| (k, t, if one_ns { ns } else { n }))
                        .collect();
                    // A (kind, target) once, as a page's rows are.
                    rows.sort_unstable();
                    rows.dedup_by_key(|r| (r.0, r.1));
                    rows
                },
            )
        })
    }

    proptest! {
        #[test]
        fn forward_entries_round_trip(rows in link_rows(), in_universe in any::<bool>()) {
            let universe = in_universe.then_some(5000);
            let b = encode_links(&rows, universe);
            let held = Held { universe, ns: None };
            prop_assert_eq!(decode_links(Stored::whole(&b), held).unwrap(), rows.clone());
            // The compact form exactly where a segment's page has one namespace.
            let compact = b.first().is_some_and(|&f| f & COMPACT != 0);
            prop_assert_eq!(compact, in_universe && one_namespace(&rows).is_some());
        }


        #[test]
        fn postings_round_trip(pages in proptest::collection::btree_set(any::<u64>(), 0..200)) {
            let bytes = encode_postings(&pages);
            let back = decode_postings(&bytes).unwrap();
            prop_assert_eq!(back, pages.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_postings(&bytes);
        }
    }
}

/// The decoders of our values inside the redb file, for fuzzing: each must turn any bytes
/// into a value or an error, never a panic.
#[doc(hidden)]
pub mod decoders {
    /// A forward entry (a page's forward link groups).
    pub fn forward_links(b: &[u8]) -> bool {
        // As in `fwd_delta`, and as in a segment of 2^20 targets.
        use super::{decode_links, Held, Stored};
        let plain = decode_links(Stored::whole(b), Held::default()).is_ok();
        let segment = Held {
            universe: Some(1 << 20),
            ns: Some(0),
        };
        let _ = decode_links(Stored::whole(b), segment);
        // As a segment holds it with its first byte left out.
        let cut = Stored {
            head: b.first().copied(),
            rest: b.get(1..).unwrap_or_default(),
        };
        let _ = decode_links(cut, segment);
        plain
    }

    /// A `page_blocks` value (a page's blocks as JSON), and its first block alone.
    pub fn blocks(b: &[u8]) -> bool {
        let all = super::decode_blocks(b, 1).is_ok();
        let first = super::first_of_array::<inlink_model::BlockRecord>(b).is_ok();
        all || first
    }

    /// A `block_terms` value (the mention index's postings).
    pub fn term_postings(b: &[u8]) -> bool {
        super::decode_postings(b).is_some()
    }
}
