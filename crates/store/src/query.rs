use inlink_model::{
    BlockRecord, BlockRef, LinkKind, NamespaceId, PageId, PageRecord, SiteInfo, Title,
};

/// Sort order of backlinks, as MediaWiki chooses it: by linking page id, or by linking
/// page namespace and then page id (when two or more namespaces are asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    PageId,
    NamespaceThenPageId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Ascending,
    Descending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedirectFilter {
    #[default]
    All,
    /// Only linking pages that are redirects.
    Redirects,
    /// Only linking pages that are not redirects.
    NonRedirects,
}

/// Which namespaces of linking pages to return.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NamespaceFilter {
    #[default]
    All,
    /// Only these (sorted, deduplicated by the constructor).
    Only(Vec<NamespaceId>),
}

impl NamespaceFilter {
    pub fn only(mut ids: Vec<NamespaceId>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        NamespaceFilter::Only(ids)
    }

    pub fn accepts(&self, ns: NamespaceId) -> bool {
        match self {
            NamespaceFilter::All => true,
            NamespaceFilter::Only(ids) => ids.binary_search(&ns).is_ok(),
        }
    }
}

/// Where a page of results starts (inclusive): the linking page's namespace and id. With
/// [`Order::PageId`] the namespace is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    pub ns: NamespaceId,
    pub id: PageId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacklinkQuery {
    pub kind: LinkKind,
    pub target: Title,
    pub namespaces: NamespaceFilter,
    pub redirects: RedirectFilter,
    pub order: Order,
    pub direction: Direction,
    pub start: Option<Start>,
    pub limit: usize,
}

impl BacklinkQuery {
    /// All pages linking to `target` through `kind`, by page id.
    pub fn new(kind: LinkKind, target: Title) -> Self {
        BacklinkQuery {
            kind,
            target,
            namespaces: NamespaceFilter::All,
            redirects: RedirectFilter::All,
            order: Order::PageId,
            direction: Direction::Ascending,
            start: None,
            limit: usize::MAX,
        }
    }

    /// Whether a row at (ns, id) lies at or after the start in this query's order.
    pub fn after_start(&self, ns: NamespaceId, id: PageId) -> bool {
        let Some(s) = self.start else { return true };
        let key = match self.order {
            Order::PageId => (0, id),
            Order::NamespaceThenPageId => (ns, id),
        };
        let start = match self.order {
            Order::PageId => (0, s.id),
            Order::NamespaceThenPageId => (s.ns, s.id),
        };
        match self.direction {
            Direction::Ascending => key >= start,
            Direction::Descending => key <= start,
        }
    }

    /// Whether a linking page passes the namespace and redirect filters.
    pub fn accepts(&self, page: &PageRecord) -> bool {
        self.accepts_page(page.title.ns, page.is_redirect)
    }

    /// [`BacklinkQuery::accepts`] a page of namespace `ns`, a redirect or not.
    pub fn accepts_page(&self, ns: NamespaceId, is_redirect: bool) -> bool {
        self.namespaces.accepts(ns)
            && match self.redirects {
                RedirectFilter::All => true,
                RedirectFilter::Redirects => is_redirect,
                RedirectFilter::NonRedirects => !is_redirect,
            }
    }
}

/// One linking page.
pub type Backlink = PageRecord;

/// One linking page as [`crate::LinkStore::backlinks_each`] hands it over, its title
/// borrowed from the store's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklinkRef<'a> {
    pub id: PageId,
    pub ns: NamespaceId,
    pub dbkey: &'a str,
    pub is_redirect: bool,
}

impl<'a> BacklinkRef<'a> {
    pub fn of(p: &'a PageRecord) -> Self {
        BacklinkRef {
            id: p.id,
            ns: p.title.ns,
            dbkey: &p.title.dbkey,
            is_redirect: p.is_redirect,
        }
    }

    pub fn to_record(&self) -> PageRecord {
        PageRecord {
            id: self.id,
            title: Title::new(self.ns, self.dbkey),
            is_redirect: self.is_redirect,
        }
    }
}

/// A page's redirect row: where it points.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectRow {
    pub target: Title,
    pub fragment: String,
    pub interwiki: String,
}

/// A page with everything it links to. Upserting replaces the page's row, all its
/// outgoing links and its redirect row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUpdate {
    pub page: PageRecord,
    pub links: Vec<(LinkKind, Title)>,
    pub redirect: Option<RedirectRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace a page with all its links (an edit, a rename, a creation).
    Upsert(PageUpdate),
    /// Insert or replace only a page's row, keeping its links (SQL `page` rows).
    PutPage(PageRecord),
    /// Add link rows from a page, keeping the others (SQL link-table rows). The page need
    /// not exist yet; its rows are returned once it does.
    /// `from_ns` is the linking page's namespace (`pl_from_namespace`).
    AddLinks {
        from: PageId,
        from_ns: NamespaceId,
        kind: LinkKind,
        targets: Vec<Title>,
    },
    /// Set or clear a page's redirect row (SQL `redirect` rows).
    SetRedirect {
        from: PageId,
        redirect: Option<RedirectRow>,
    },
    /// Remove a page, its links and its redirect row.
    Delete(PageId),
    /// Replace the site configuration.
    SetSiteInfo(Box<SiteInfo>),
    /// Replace the blocks of a page (a note's block tree, in document order) and the block
    /// references made from it. A block id belongs to one page: listing it here takes it
    /// from any other page. Deleting the page removes both.
    SetBlocks {
        page: PageId,
        blocks: Vec<BlockRecord>,
        refs: Vec<BlockRef>,
    },
}

/// An atomic group of operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn new() -> Self {
        Batch::default()
    }

    pub fn push(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Sizes of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    pub pages: u64,
    pub redirects: u64,
    /// Link rows per [`LinkKind`], in `LinkKind::ALL` order.
    pub links: [u64; 4],
    pub targets: u64,
    /// Link changes not yet folded into the compressed index (0 where a backend has none).
    pub pending_links: u64,
    /// Folds of those changes into a new compressed index since the store was opened.
    pub folds: u64,
    /// Bytes on disk (0 in memory).
    pub disk_bytes: u64,
}
