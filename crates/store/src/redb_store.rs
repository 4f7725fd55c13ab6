//! The embedded default backend: one redb file holding the page table, a target dictionary
//! and the forward and two reverse link indexes. Layout and versioning: `docs/format.md`.

use crate::query::{
    Backlink, BacklinkQuery, Batch, Direction, NamespaceFilter, Op, Order, PageUpdate, RedirectRow,
    StoreStats,
};
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

/// The format this code writes and reads; see the version log in `docs/format.md`.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_KEY: &str = "format";
const FORMAT_NAME: &str = "inlink-redb";
const SITE_KEY: &str = "siteinfo";
const NEXT_TARGET_KEY: &str = "next_target";

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// page id → (namespace, is redirect, dbkey)
const PAGES: TableDefinition<u32, (i32, bool, &str)> = TableDefinition::new("pages");
/// (namespace, dbkey) → page id
const TITLES: TableDefinition<(i32, &str), u32> = TableDefinition::new("titles");
/// (namespace, dbkey) → target id: every title that is or was a link target
const TARGETS: TableDefinition<(i32, &str), u32> = TableDefinition::new("targets");
/// target id → (namespace, dbkey)
const TARGET_NAMES: TableDefinition<u32, (i32, &str)> = TableDefinition::new("target_names");
/// from page → its link rows: (kind u8, target id u32 LE, filed namespace i32 LE)*, sorted
const FWD: TableDefinition<u32, &[u8]> = TableDefinition::new("fwd");
/// (kind, target id, from page) → from namespace: backlinks by page id
const REV: TableDefinition<(u8, u32, u32), i32> = TableDefinition::new("rev");
/// (kind, target id, from namespace, from page): backlinks by namespace, then page id
const REV_NS: TableDefinition<(u8, u32, i32, u32), ()> = TableDefinition::new("rev_ns");
/// page id → (target namespace, target dbkey, fragment, interwiki)
const REDIR: TableDefinition<u32, (i32, &str, &str, &str)> = TableDefinition::new("redirect");
/// (target id, from page) for local redirect targets
const REDIR_TO: TableDefinition<(u32, u32), ()> = TableDefinition::new("redirect_to");
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
    db: Database,
    path: PathBuf,
    generation: std::sync::atomic::AtomicU64,
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

impl RedbStore {
    /// Opens the index in directory `dir`, creating it when absent.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        let path = dir.join("index.redb");
        let db = Database::builder().create(&path).map_err(engine(&path))?;
        let store = RedbStore {
            db,
            path,
            generation: Default::default(),
        };
        store.init()?;
        Ok(store)
    }

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
            txn.open_table(REV).map_err(self.err())?;
            txn.open_table(REV_NS).map_err(self.err())?;
            txn.open_table(REDIR).map_err(self.err())?;
            txn.open_table(REDIR_TO).map_err(self.err())?;
            txn.open_table(PAGE_BLOCKS).map_err(self.err())?;
            txn.open_table(BLOCK_PAGE).map_err(self.err())?;
            txn.open_table(PAGE_REFS).map_err(self.err())?;
            txn.open_table(REFS_BY_DEF).map_err(self.err())?;
            txn.open_table(TERMS).map_err(self.err())?;
        }
        txn.commit().map_err(self.err())?;
        self.build_terms_if_missing()
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
            let mut w = Writer::open(&txn).map_err(self.err())?;
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

    /// Gives the file's free pages back (after a bulk import, whose rewritten postings leave
    /// many behind). Returns whether anything was compacted.
    pub fn compact(&mut self) -> Result<bool> {
        self.db.compact().map_err(self.err())
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
            out.sort_by_key(|t| std::cmp::Reverse(t.1));
            Ok(out)
        };
        run().map_err(self.err())
    }

    /// Checks the invariants of `docs/format.md` across tables: the link rows of `fwd`,
    /// `rev` and `rev_ns` agree, `titles` and `pages` agree, every block is in `block_page`,
    /// and `block_terms` holds exactly what the blocks make. Returns the problems found
    /// (at most `max`), empty when the index is sound.
    pub fn verify(&self, max: usize) -> Result<Vec<String>> {
        let run = || -> R<Vec<String>> {
            let txn = self.db.begin_read()?;
            let mut problems = Vec::new();
            let mut say = |p: String| {
                if problems.len() < max {
                    problems.push(p);
                }
            };
            // Link rows: every forward row is in both reverse tables, and as many rows.
            let (rev, rev_ns) = (txn.open_table(REV)?, txn.open_table(REV_NS)?);
            let mut forward = 0u64;
            for row in txn.open_table(FWD)?.iter()? {
                let (from, v) = row?;
                let from = from.value();
                for (kind, tid, ns) in decode_links(v.value()) {
                    forward += 1;
                    if rev.get((kind, tid, from))?.map(|v| v.value()) != Some(ns) {
                        say(format!(
                            "link {from} → target {tid} (kind {kind}) missing from rev"
                        ));
                    }
                    if rev_ns.get((kind, tid, ns, from))?.is_none() {
                        say(format!(
                            "link {from} → target {tid} (kind {kind}) missing from rev_ns"
                        ));
                    }
                }
            }
            let (nrev, nrev_ns) = (rev.len()?, rev_ns.len()?);
            if nrev != forward || nrev_ns != forward {
                say(format!(
                    "{forward} forward link rows, {nrev} in rev, {nrev_ns} in rev_ns"
                ));
            }
            // Titles and pages.
            let titles = txn.open_table(TITLES)?;
            let pages = txn.open_table(PAGES)?;
            for row in pages.iter()? {
                let (id, v) = row?;
                let (ns, _, dbkey) = v.value();
                if titles.get((ns, dbkey))?.map(|v| v.value()) != Some(id.value()) {
                    say(format!("page {} has no titles row", id.value()));
                }
            }
            if titles.len()? != pages.len()? {
                say(format!(
                    "{} titles rows for {} pages",
                    titles.len()?,
                    pages.len()?
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

    /// Verifies the file's checksums and structure (redb's integrity check).
    pub fn check(&mut self) -> Result<bool> {
        self.db.check_integrity().map_err(self.err())
    }
}

/// The tables of one write transaction.
struct Writer<'t> {
    meta: redb::Table<'t, &'static str, &'static [u8]>,
    pages: redb::Table<'t, u32, (i32, bool, &'static str)>,
    titles: redb::Table<'t, (i32, &'static str), u32>,
    targets: redb::Table<'t, (i32, &'static str), u32>,
    target_names: redb::Table<'t, u32, (i32, &'static str)>,
    fwd: redb::Table<'t, u32, &'static [u8]>,
    rev: redb::Table<'t, (u8, u32, u32), i32>,
    rev_ns: redb::Table<'t, (u8, u32, i32, u32), ()>,
    redir: redb::Table<'t, u32, (i32, &'static str, &'static str, &'static str)>,
    redir_to: redb::Table<'t, (u32, u32), ()>,
    page_blocks: redb::Table<'t, u32, &'static [u8]>,
    block_page: redb::Table<'t, &'static str, u32>,
    page_refs: redb::Table<'t, u32, &'static [u8]>,
    refs_by_def: redb::Table<'t, (&'static str, u32, &'static str), (&'static str, u8)>,
    terms: redb::Table<'t, &'static str, &'static [u8]>,
    next_target: u32,
    /// Reverse rows filed in this batch, not yet in `rev` / `rev_ns`.
    new_rev: BTreeMap<(u8, u32, u32), i32>,
    new_rev_ns: BTreeSet<(u8, u32, i32, u32)>,
    /// (token, block position) → whether the block holds the token now; written to
    /// `block_terms` at the end.
    term_changes: BTreeMap<String, BTreeMap<u64, bool>>,
}

type R<T> = std::result::Result<T, redb::Error>;

impl<'t> Writer<'t> {
    fn open(txn: &'t WriteTransaction) -> R<Self> {
        let meta = txn.open_table(META)?;
        let next_target = meta
            .get(NEXT_TARGET_KEY)?
            .map(|v| u32::from_le_bytes(v.value().try_into().unwrap_or([0; 4])))
            .unwrap_or(1);
        Ok(Writer {
            meta,
            pages: txn.open_table(PAGES)?,
            titles: txn.open_table(TITLES)?,
            targets: txn.open_table(TARGETS)?,
            target_names: txn.open_table(TARGET_NAMES)?,
            fwd: txn.open_table(FWD)?,
            rev: txn.open_table(REV)?,
            rev_ns: txn.open_table(REV_NS)?,
            redir: txn.open_table(REDIR)?,
            redir_to: txn.open_table(REDIR_TO)?,
            page_blocks: txn.open_table(PAGE_BLOCKS)?,
            block_page: txn.open_table(BLOCK_PAGE)?,
            page_refs: txn.open_table(PAGE_REFS)?,
            refs_by_def: txn.open_table(REFS_BY_DEF)?,
            terms: txn.open_table(TERMS)?,
            next_target,
            new_rev: BTreeMap::new(),
            new_rev_ns: BTreeSet::new(),
            term_changes: BTreeMap::new(),
        })
    }

    fn finish(mut self) -> R<()> {
        for (k, ns) in std::mem::take(&mut self.new_rev) {
            self.rev.insert(k, ns)?;
        }
        for k in std::mem::take(&mut self.new_rev_ns) {
            self.rev_ns.insert(k, ())?;
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
        Ok(())
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

    fn target_id(&mut self, t: &Title) -> R<u32> {
        if let Some(id) = self.targets.get((t.ns, t.dbkey.as_str()))? {
            return Ok(id.value());
        }
        let id = self.next_target;
        self.next_target = self
            .next_target
            .checked_add(1)
            .ok_or_else(|| redb::Error::Corrupted("target ids exhausted".into()))?;
        self.targets.insert((t.ns, t.dbkey.as_str()), id)?;
        self.target_names.insert(id, (t.ns, t.dbkey.as_str()))?;
        Ok(id)
    }

    fn page(&self, id: u32) -> R<Option<PageRecord>> {
        Ok(self.pages.get(id)?.map(|v| {
            let (ns, is_redirect, dbkey) = v.value();
            PageRecord {
                id: PageId(id),
                title: Title::new(ns, dbkey),
                is_redirect,
            }
        }))
    }

    /// (kind, target id, filed namespace) of every link row of `from`, sorted.
    fn links_of(&self, from: u32) -> R<Vec<(u8, u32, i32)>> {
        Ok(self
            .fwd
            .get(from)?
            .map(|v| decode_links(v.value()))
            .unwrap_or_default())
    }

    fn set_links(&mut self, from: u32, links: &[(u8, u32, i32)]) -> R<()> {
        if links.is_empty() {
            self.fwd.remove(from)?;
        } else {
            self.fwd.insert(from, encode_links(links).as_slice())?;
        }
        Ok(())
    }

    fn unfile(&mut self, from: u32, kind: u8, tid: u32, ns: i32) -> R<()> {
        if self.new_rev.remove(&(kind, tid, from)).is_none() {
            self.rev.remove((kind, tid, from))?;
        }
        if !self.new_rev_ns.remove(&(kind, tid, ns, from)) {
            self.rev_ns.remove((kind, tid, ns, from))?;
        }
        Ok(())
    }

    /// Reverse rows are inserted at the end of the batch in key order: far fewer B-tree
    /// pages are touched than by inserting them in arrival order.
    fn file(&mut self, from: u32, kind: u8, tid: u32, ns: i32) -> R<()> {
        self.new_rev.insert((kind, tid, from), ns);
        self.new_rev_ns.insert((kind, tid, ns, from));
        Ok(())
    }

    /// Makes `from`'s link rows exactly `new` (kind, target id), filed under `ns`.
    fn replace_links(&mut self, from: u32, ns: i32, new: BTreeSet<(u8, u32)>) -> R<()> {
        let old = self.links_of(from)?;
        let mut keep = BTreeSet::new();
        for &(kind, tid, old_ns) in &old {
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

    fn clear_redirect(&mut self, from: u32) -> R<()> {
        let old = self.redir.remove(from)?.map(|v| {
            let (ns, dbkey, _, iw) = v.value();
            (Title::new(ns, dbkey), iw.is_empty())
        });
        if let Some((t, true)) = old {
            if let Some(tid) = self
                .targets
                .get((t.ns, t.dbkey.as_str()))?
                .map(|v| v.value())
            {
                self.redir_to.remove((tid, from))?;
            }
        }
        Ok(())
    }

    fn set_redirect(&mut self, from: u32, r: Option<&RedirectRow>) -> R<()> {
        self.clear_redirect(from)?;
        if let Some(r) = r {
            self.redir.insert(
                from,
                (
                    r.target.ns,
                    r.target.dbkey.as_str(),
                    r.fragment.as_str(),
                    r.interwiki.as_str(),
                ),
            )?;
            if r.interwiki.is_empty() {
                let tid = self.target_id(&r.target)?;
                self.redir_to.insert((tid, from), ())?;
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
        self.fwd.remove(id)?;
        self.clear_redirect(id)?;
        if let Some(old) = self.page(id)? {
            self.titles
                .remove((old.title.ns, old.title.dbkey.as_str()))?;
        }
        self.pages.remove(id)?;
        Ok(())
    }

    /// Writes a page row; evicts another page holding the title; re-files the page's link
    /// rows under its namespace if that changed.
    fn put_page(&mut self, p: &PageRecord) -> R<()> {
        let id = p.id.0;
        let key = (p.title.ns, p.title.dbkey.as_str());
        let holder = self.titles.get(key)?.map(|v| v.value());
        if let Some(other) = holder {
            if other != id {
                self.delete(other)?;
            }
        }
        if let Some(old) = self.page(id)? {
            if old.title != p.title {
                self.titles
                    .remove((old.title.ns, old.title.dbkey.as_str()))?;
            }
        }
        self.pages
            .insert(id, (p.title.ns, p.is_redirect, p.title.dbkey.as_str()))?;
        self.titles.insert(key, id)?;
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
                let mut set: BTreeSet<(u8, u32)> = self
                    .links_of(from.0)?
                    .iter()
                    .map(|&(k, t, _)| (k, t))
                    .collect();
                for t in targets {
                    set.insert((*kind as u8, self.target_id(t)?));
                }
                self.replace_links(from.0, ns, set)?;
                Ok(())
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

const LINK_ROW: usize = 9;

fn encode_links(rows: &[(u8, u32, i32)]) -> Vec<u8> {
    let mut v = Vec::with_capacity(rows.len() * LINK_ROW);
    for &(kind, tid, ns) in rows {
        v.push(kind);
        v.extend_from_slice(&tid.to_le_bytes());
        v.extend_from_slice(&ns.to_le_bytes());
    }
    v
}

/// Decodes a `fwd` value; a trailing partial row (impossible unless the file is damaged
/// in a way redb's checksums missed) is ignored.
fn decode_links(b: &[u8]) -> Vec<(u8, u32, i32)> {
    b.chunks_exact(LINK_ROW)
        .map(|c| {
            let tid = u32::from_le_bytes([c[1], c[2], c[3], c[4]]);
            let ns = i32::from_le_bytes([c[5], c[6], c[7], c[8]]);
            (c[0], tid, ns)
        })
        .collect()
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

/// Read-side helpers over one read transaction.
struct Reader {
    txn: ReadTransaction,
}

impl Reader {
    fn target_id(&self, t: &Title) -> R<Option<u32>> {
        let targets = self.txn.open_table(TARGETS)?;
        Ok(targets.get((t.ns, t.dbkey.as_str()))?.map(|v| v.value()))
    }
}

fn page_of(
    pages: &redb::ReadOnlyTable<u32, (i32, bool, &'static str)>,
    id: u32,
) -> R<Option<PageRecord>> {
    Ok(pages.get(id)?.map(|v| {
        let (ns, is_redirect, dbkey) = v.value();
        PageRecord {
            id: PageId(id),
            title: Title::new(ns, dbkey),
            is_redirect,
        }
    }))
}

impl RedbStore {
    fn backlinks_inner(&self, q: &BacklinkQuery) -> R<Vec<Backlink>> {
        let r = Reader {
            txn: self.db.begin_read().map_err(redb::Error::from)?,
        };
        let Some(tid) = r.target_id(&q.target)? else {
            return Ok(Vec::new());
        };
        let pages = r.txn.open_table(PAGES)?;
        let kind = q.kind as u8;
        let mut out = Vec::new();
        let desc = q.direction == Direction::Descending;
        // Pushes a row if it passes the filters; returns false once the limit is reached.
        let take = |id: u32, out: &mut Vec<Backlink>| -> R<bool> {
            if out.len() >= q.limit {
                return Ok(false);
            }
            if let Some(p) = page_of(&pages, id)? {
                if q.accepts(&p) {
                    out.push(p);
                }
            }
            Ok(out.len() < q.limit)
        };
        if q.limit == 0 {
            return Ok(out);
        }
        match q.order {
            Order::PageId => {
                let rev = r.txn.open_table(REV)?;
                let (lo, hi) = match (q.start, desc) {
                    (Some(s), false) => (s.id.0, u32::MAX),
                    (Some(s), true) => (0, s.id.0),
                    (None, _) => (0, u32::MAX),
                };
                let range = rev.range((kind, tid, lo)..=(kind, tid, hi))?;
                let iter: Box<dyn Iterator<Item = _>> = if desc {
                    Box::new(range.rev())
                } else {
                    Box::new(range)
                };
                for row in iter {
                    let (k, v) = row?;
                    if !q.namespaces.accepts(v.value()) {
                        continue;
                    }
                    if !take(k.value().2, &mut out)? {
                        break;
                    }
                }
            }
            Order::NamespaceThenPageId => {
                let rev_ns = r.txn.open_table(REV_NS)?;
                let lo = (i32::MIN, 0u32);
                let hi = (i32::MAX, u32::MAX);
                let (lo, hi) = match (q.start, desc) {
                    (Some(s), false) => ((s.ns, s.id.0), hi),
                    (Some(s), true) => (lo, (s.ns, s.id.0)),
                    (None, _) => (lo, hi),
                };
                // One range per requested namespace keeps a narrow filter from scanning the rest.
                let spans: Vec<((i32, u32), (i32, u32))> = match &q.namespaces {
                    NamespaceFilter::All => vec![(lo, hi)],
                    NamespaceFilter::Only(ids) => {
                        let mut v: Vec<_> = ids
                            .iter()
                            .filter(|&&ns| ns >= lo.0 && ns <= hi.0)
                            .map(|&ns| {
                                let a = if ns == lo.0 { lo } else { (ns, 0) };
                                let b = if ns == hi.0 { hi } else { (ns, u32::MAX) };
                                (a, b)
                            })
                            .collect();
                        if desc {
                            v.reverse();
                        }
                        v
                    }
                };
                'spans: for (a, b) in spans {
                    let range = rev_ns.range((kind, tid, a.0, a.1)..=(kind, tid, b.0, b.1))?;
                    let iter: Box<dyn Iterator<Item = _>> = if desc {
                        Box::new(range.rev())
                    } else {
                        Box::new(range)
                    };
                    for row in iter {
                        let (k, _) = row?;
                        if !take(k.value().3, &mut out)? {
                            break 'spans;
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

impl LinkStore for RedbStore {
    fn apply(&self, batch: &Batch) -> Result<()> {
        let txn = self.db.begin_write().map_err(self.err())?;
        {
            let mut w = Writer::open(&txn).map_err(self.err())?;
            for op in &batch.ops {
                w.apply(op).map_err(self.err())?;
            }
            w.finish().map_err(self.err())?;
        }
        txn.commit().map_err(self.err())?;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    fn page(&self, id: PageId) -> Result<Option<PageRecord>> {
        let txn = self.read()?;
        let pages = txn.open_table(PAGES).map_err(self.err())?;
        page_of(&pages, id.0).map_err(self.err())
    }

    fn page_by_title(&self, title: &Title) -> Result<Option<PageRecord>> {
        let txn = self.read()?;
        let titles = txn.open_table(TITLES).map_err(self.err())?;
        let Some(id) = titles
            .get((title.ns, title.dbkey.as_str()))
            .map_err(self.err())?
            .map(|v| v.value())
        else {
            return Ok(None);
        };
        let pages = txn.open_table(PAGES).map_err(self.err())?;
        page_of(&pages, id).map_err(self.err())
    }

    fn backlinks(&self, q: &BacklinkQuery) -> Result<Vec<Backlink>> {
        self.backlinks_inner(q).map_err(self.err())
    }

    fn count_backlinks(&self, kind: LinkKind, target: &Title) -> Result<u64> {
        let run = || -> R<u64> {
            let r = Reader {
                txn: self.db.begin_read()?,
            };
            let Some(tid) = r.target_id(target)? else {
                return Ok(0);
            };
            let rev = r.txn.open_table(REV)?;
            let pages = r.txn.open_table(PAGES)?;
            let mut n = 0;
            for row in rev.range((kind as u8, tid, 0u32)..=(kind as u8, tid, u32::MAX))? {
                let (k, _) = row?;
                if pages.get(k.value().2)?.is_some() {
                    n += 1;
                }
            }
            Ok(n)
        };
        run().map_err(self.err())
    }

    fn outgoing(&self, id: PageId, kind: LinkKind) -> Result<Vec<Title>> {
        let run = || -> R<Vec<Title>> {
            let txn = self.db.begin_read()?;
            let fwd = txn.open_table(FWD)?;
            let names = txn.open_table(TARGET_NAMES)?;
            let k = kind as u8;
            let mut out = Vec::new();
            let rows = fwd
                .get(id.0)?
                .map(|v| decode_links(v.value()))
                .unwrap_or_default();
            for (_, tid, _) in rows.into_iter().filter(|r| r.0 == k) {
                if let Some(v) = names.get(tid)? {
                    let (ns, dbkey) = v.value();
                    out.push(Title::new(ns, dbkey));
                }
            }
            out.sort();
            Ok(out)
        };
        run().map_err(self.err())
    }

    fn redirect(&self, id: PageId) -> Result<Option<RedirectRow>> {
        let txn = self.read()?;
        let redir = txn.open_table(REDIR).map_err(self.err())?;
        Ok(redir.get(id.0).map_err(self.err())?.map(|v| {
            let (ns, dbkey, fragment, interwiki) = v.value();
            RedirectRow {
                target: Title::new(ns, dbkey),
                fragment: fragment.into(),
                interwiki: interwiki.into(),
            }
        }))
    }

    fn redirects_to(&self, target: &Title) -> Result<Vec<PageRecord>> {
        let run = || -> R<Vec<PageRecord>> {
            let r = Reader {
                txn: self.db.begin_read()?,
            };
            let Some(tid) = r.target_id(target)? else {
                return Ok(Vec::new());
            };
            let to = r.txn.open_table(REDIR_TO)?;
            let pages = r.txn.open_table(PAGES)?;
            let mut out = Vec::new();
            for row in to.range((tid, 0u32)..=(tid, u32::MAX))? {
                let (k, _) = row?;
                if let Some(p) = page_of(&pages, k.value().1)? {
                    out.push(p);
                }
            }
            Ok(out)
        };
        run().map_err(self.err())
    }

    fn pages(&self, start: PageId, limit: usize) -> Result<Vec<PageRecord>> {
        let run = || -> R<Vec<PageRecord>> {
            let txn = self.db.begin_read()?;
            let pages = txn.open_table(PAGES)?;
            let mut out = Vec::new();
            for row in pages.range(start.0..)?.take(limit) {
                let (k, v) = row?;
                let (ns, is_redirect, dbkey) = v.value();
                out.push(PageRecord {
                    id: PageId(k.value()),
                    title: Title::new(ns, dbkey),
                    is_redirect,
                });
            }
            Ok(out)
        };
        run().map_err(self.err())
    }

    fn last_page_id(&self) -> Result<Option<PageId>> {
        let run = || -> R<Option<PageId>> {
            let txn = self.db.begin_read()?;
            let pages = txn.open_table(PAGES)?;
            let last = pages.last()?.map(|(k, _)| PageId(k.value()));
            Ok(last)
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
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn stats(&self) -> Result<StoreStats> {
        let run = || -> R<StoreStats> {
            let txn = self.db.begin_read()?;
            let rev = txn.open_table(REV)?;
            let mut links = [0u64; 4];
            for kind in LinkKind::ALL {
                let k = kind as u8;
                links[kind as usize] = rev
                    .range((k, 0u32, 0u32)..=(k, u32::MAX, u32::MAX))?
                    .count() as u64;
            }
            Ok(StoreStats {
                pages: txn.open_table(PAGES)?.len()?,
                redirects: txn.open_table(REDIR)?.len()?,
                links,
                targets: txn.open_table(TARGET_NAMES)?.len()?,
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

    proptest! {
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
