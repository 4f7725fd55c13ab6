//! The link index. [`LinkStore`] is the contract every backend meets, written in terms of
//! the queries the API dialects need (never bytes); [`conformance`] checks a backend against
//! it, [`MemStore`] is the naive reference model, and [`RedbStore`] the embedded, durable
//! default backend (`docs/format.md`), whose reverse index lives in link segments
//! ([`segment`]).

pub mod conformance;
pub mod dictionary;
mod error;
mod mem;
pub mod postings;
mod query;
mod ranked;
mod redb_store;
pub mod redirects;
pub mod segment;
mod sorter;
pub mod titles;
mod transpose;

pub use error::StoreError;
pub use mem::MemStore;
pub use query::{
    Backlink, BacklinkQuery, BacklinkRef, Batch, Direction, NamespaceFilter, Op, Order, PageUpdate,
    RedirectFilter, RedirectRow, Start, StoreStats,
};
pub use redb_store::{decoders, RedbStore};

use inlink_model::{
    BlockRecord, BlockRef, LinkKind, NamespaceId, PageId, PageRecord, SiteInfo, Title,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A link index. Writes come in atomic batches; an `Ok` from [`LinkStore::apply`] means the
/// batch is durable and visible to every later read.
pub trait LinkStore: Send + Sync {
    /// Applies every operation of `batch` atomically and durably.
    fn apply(&self, batch: &Batch) -> Result<()>;

    fn page(&self, id: PageId) -> Result<Option<PageRecord>>;

    fn page_by_title(&self, title: &Title) -> Result<Option<PageRecord>>;

    /// Pages linking to `q.target` through `q.kind`, in the order the query asks, starting at
    /// `q.start` (inclusive), at most `q.limit` rows. Link rows whose source page does not
    /// exist are not returned (MediaWiki joins `page`).
    fn backlinks(&self, q: &BacklinkQuery) -> Result<Vec<Backlink>>;

    /// The rows of [`LinkStore::backlinks`], each handed to `row` as it is read and none
    /// kept: a long answer is written out with no allocation a row.
    fn backlinks_each(
        &self,
        q: &BacklinkQuery,
        row: &mut dyn FnMut(BacklinkRef<'_>),
    ) -> Result<()> {
        for p in self.backlinks(q)? {
            row(BacklinkRef::of(&p));
        }
        Ok(())
    }

    /// Maps the parts of the index that every answer reads at random into memory ahead of
    /// the queries, and keeps doing so for the parts a later fold writes (a server calls
    /// it when it starts). Returns the bytes asked for now; backends with nothing to warm
    /// return 0.
    fn warm(&self) -> Result<u64> {
        Ok(0)
    }

    /// How many existing pages link to `target` through `kind`.
    fn count_backlinks(&self, kind: LinkKind, target: &Title) -> Result<u64>;

    /// Outgoing links of page `id` in one table, sorted by (namespace, dbkey).
    fn outgoing(&self, id: PageId, kind: LinkKind) -> Result<Vec<Title>>;

    /// The redirect row of page `id`.
    fn redirect(&self, id: PageId) -> Result<Option<RedirectRow>>;

    /// Existing pages whose redirect row points at `target`, by page id.
    fn redirects_to(&self, target: &Title) -> Result<Vec<PageRecord>>;

    /// All pages in page-id order from `start`, at most `limit` (for rebuilds and checks).
    fn pages(&self, start: PageId, limit: usize) -> Result<Vec<PageRecord>>;

    /// The highest page id in use, if any (importers allocate ids after it).
    fn last_page_id(&self) -> Result<Option<PageId>>;

    fn site_info(&self) -> Result<Option<SiteInfo>>;

    /// A block by id.
    fn block(&self, id: &str) -> Result<Option<BlockRecord>>;

    /// The blocks of a page, in document order.
    fn blocks_of(&self, page: PageId) -> Result<Vec<BlockRecord>>;

    /// The first block of a page (a note's document block), read without the others.
    fn first_block(&self, page: PageId) -> Result<Option<BlockRecord>>;

    /// Block references to block `def`, ordered by referencing page, then block id.
    fn block_refs_to(&self, def: &str) -> Result<Vec<BlockRef>>;

    /// Block references made from a page, in the order they were given.
    fn block_refs_from(&self, page: PageId) -> Result<Vec<BlockRef>>;

    /// Blocks filed under every one of `tokens` (as [`inlink_model::text::block_tokens`]
    /// makes them: the own words of headings, paragraphs and tables), as (page, position in
    /// [`LinkStore::blocks_of`]), ascending; no tokens, no blocks. The mention index.
    fn blocks_with_tokens(&self, tokens: &[String]) -> Result<Vec<(PageId, u32)>>;

    /// A number that changes whenever a batch is applied (in this process), so callers can
    /// cache what they derive from the index.
    fn generation(&self) -> u64;

    fn stats(&self) -> Result<StoreStats>;

    /// A [`BulkLoad`] filling this store, when it is empty and can load faster that way
    /// than through batches; `None` otherwise (the caller applies batches).
    fn bulk_loader(&self) -> Result<Option<Box<dyn BulkLoad + Send + '_>>> {
        Ok(None)
    }
}

/// Loads an empty store from table rows (a dump's `page`, `linktarget`, link and `redirect`
/// tables) by sorting instead of updating an index row by row. Rows come in that order:
/// every page row before anything else, every link target before the first link row. The
/// result is what applying the rows as [`Op::PutPage`], [`Op::AddLinks`] and
/// [`Op::SetRedirect`] in that order would give: a later page row wins over an earlier one
/// with the same id or title; a link row is filed under its page's namespace, or `from_ns`
/// when the page does not exist. Nothing is visible, or durable, before [`BulkLoad::finish`];
/// a loader dropped without it leaves the store as it was.
pub trait BulkLoad {
    fn page(&mut self, page: &PageRecord) -> Result<()>;

    /// Names link target `key` (the caller's number for it, such as a dump's `lt_id`).
    fn target(&mut self, key: u64, title: &Title) -> Result<()>;

    /// A hint that a `link` to `key` comes soon, so that a loader which maps keys through
    /// a table too large for the caches can fetch the entry meanwhile. The default does
    /// nothing.
    fn prefetch_link(&self, key: u64) {
        let _ = key;
    }

    /// A link row to the target named `key`; `false` if no target has that key.
    fn link(
        &mut self,
        from: PageId,
        from_ns: NamespaceId,
        kind: LinkKind,
        key: u64,
    ) -> Result<bool>;

    /// A link row to a target given by its title.
    fn link_title(
        &mut self,
        from: PageId,
        from_ns: NamespaceId,
        kind: LinkKind,
        title: &Title,
    ) -> Result<()>;

    /// Sets page `from`'s redirect row (a later row for the same page wins).
    fn redirect(&mut self, from: PageId, redirect: &RedirectRow) -> Result<()>;

    /// A page row with its link rows (targets by title, filed under the page's namespace)
    /// and redirect, as a dump of page texts gives them: it comes among the page rows. The
    /// rows belong to this page row and go with it when a later row takes its id or title,
    /// as an upsert in batches would drop them.
    fn page_with_links(
        &mut self,
        page: &PageRecord,
        links: &[(LinkKind, Title)],
        redirect: Option<&RedirectRow>,
    ) -> Result<()>;

    /// Whether the page rows given so far leave a page with each title, in `titles`' order.
    /// Ends the page rows.
    fn existing(&mut self, titles: &[Title]) -> Result<Vec<bool>>;

    /// Builds the index from every row given and commits it, durably.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Asks the CPU to bring `cell` into the cache, for an access to come a few rows later.
pub(crate) fn prefetch<T: ?Sized>(cell: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is in every x86-64 CPU, and a prefetch of an address in a live
        // value changes nothing the program can observe.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((cell as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = cell;
}
