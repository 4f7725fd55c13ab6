//! The naive in-memory model every backend is compared with. Obviously correct, not fast.

use crate::query::{Backlink, BacklinkQuery, Batch, Direction, Op, Order, RedirectRow, StoreStats};
use crate::{LinkStore, Result};
use inlink_model::{BlockRecord, BlockRef, LinkKind, PageId, PageRecord, SiteInfo, Title};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;

#[derive(Debug, Default, Clone)]
struct State {
    pages: BTreeMap<PageId, PageRecord>,
    links: BTreeMap<PageId, BTreeSet<(LinkKind, Title)>>,
    /// `links` turned around, and `pages` by title: kept so that model-based tests over
    /// thousands of pages (the crash trials) do not scan every page per query.
    rev: BTreeMap<(LinkKind, Title), BTreeSet<PageId>>,
    by_title: BTreeMap<Title, PageId>,
    redirects: BTreeMap<PageId, RedirectRow>,
    site: Option<SiteInfo>,
    blocks: BTreeMap<PageId, Vec<BlockRecord>>,
    block_refs: BTreeMap<PageId, Vec<BlockRef>>,
}

/// A [`LinkStore`] in plain `BTreeMap`s: the reference for model-based tests.
#[derive(Debug, Default)]
pub struct MemStore {
    state: RwLock<State>,
    generation: std::sync::atomic::AtomicU64,
}

impl MemStore {
    pub fn new() -> Self {
        MemStore::default()
    }
}

impl State {
    /// A title names at most one page: another page holding it is removed.
    fn evict_title(&mut self, page: &PageRecord) {
        if let Some(&o) = self.by_title.get(&page.title) {
            if o != page.id {
                self.delete(o);
            }
        }
    }

    fn put_page(&mut self, page: PageRecord) {
        self.evict_title(&page);
        if let Some(old) = self.pages.get(&page.id) {
            self.by_title.remove(&old.title);
        }
        self.by_title.insert(page.title.clone(), page.id);
        self.pages.insert(page.id, page);
    }

    fn set_links(&mut self, id: PageId, links: Option<BTreeSet<(LinkKind, Title)>>) {
        for key in self.links.remove(&id).into_iter().flatten() {
            if let Some(set) = self.rev.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    self.rev.remove(&key);
                }
            }
        }
        if let Some(links) = links {
            for key in &links {
                self.rev.entry(key.clone()).or_default().insert(id);
            }
            self.links.insert(id, links);
        }
    }

    fn delete(&mut self, id: PageId) {
        if let Some(p) = self.pages.remove(&id) {
            self.by_title.remove(&p.title);
        }
        self.set_links(id, None);
        self.redirects.remove(&id);
        self.blocks.remove(&id);
        self.block_refs.remove(&id);
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Upsert(u) => {
                self.put_page(u.page.clone());
                self.set_links(u.page.id, Some(u.links.iter().cloned().collect()));
                match &u.redirect {
                    Some(r) => self.redirects.insert(u.page.id, r.clone()),
                    None => self.redirects.remove(&u.page.id),
                };
            }
            Op::PutPage(p) => self.put_page(p.clone()),
            Op::AddLinks {
                from,
                kind,
                targets,
                ..
            } => {
                let mut set = self.links.get(from).cloned().unwrap_or_default();
                set.extend(targets.iter().map(|t| (*kind, t.clone())));
                self.set_links(*from, Some(set));
            }
            Op::SetRedirect { from, redirect } => match redirect {
                Some(r) => {
                    self.redirects.insert(*from, r.clone());
                }
                None => {
                    self.redirects.remove(from);
                }
            },
            Op::Delete(id) => self.delete(*id),
            Op::SetSiteInfo(s) => self.site = Some((**s).clone()),
            Op::SetBlocks { page, blocks, refs } => {
                let ids: BTreeSet<&str> = blocks.iter().map(|b| b.id.as_str()).collect();
                for list in self.blocks.values_mut() {
                    list.retain(|b| !ids.contains(b.id.as_str()));
                }
                let mut mine: Vec<BlockRecord> = Vec::new();
                for b in blocks {
                    // A repeated id keeps its last record, at its first position.
                    match mine.iter_mut().find(|m| m.id == b.id) {
                        Some(m) => {
                            *m = BlockRecord {
                                page: *page,
                                ..b.clone()
                            }
                        }
                        None => mine.push(BlockRecord {
                            page: *page,
                            ..b.clone()
                        }),
                    }
                }
                self.blocks.insert(*page, mine);
                // One row per (def, block), the first one given.
                let mut seen = BTreeSet::new();
                let rows: Vec<BlockRef> = refs
                    .iter()
                    .filter(|r| seen.insert((r.def.clone(), r.block.clone())))
                    .map(|r| BlockRef {
                        page: *page,
                        ..r.clone()
                    })
                    .collect();
                self.block_refs.insert(*page, rows);
                self.blocks.retain(|_, v| !v.is_empty());
                self.block_refs.retain(|_, v| !v.is_empty());
            }
        }
    }
}

impl LinkStore for MemStore {
    fn apply(&self, batch: &Batch) -> Result<()> {
        let mut st = self.state.write().expect("lock");
        // Atomic: work on a copy, swap it in at the end.
        let mut next = st.clone();
        for op in &batch.ops {
            next.apply(op);
        }
        *st = next;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    fn page(&self, id: PageId) -> Result<Option<PageRecord>> {
        Ok(self.state.read().expect("lock").pages.get(&id).cloned())
    }

    fn page_by_title(&self, title: &Title) -> Result<Option<PageRecord>> {
        let st = self.state.read().expect("lock");
        Ok(st
            .by_title
            .get(title)
            .and_then(|id| st.pages.get(id))
            .cloned())
    }

    fn backlinks(&self, q: &BacklinkQuery) -> Result<Vec<Backlink>> {
        let st = self.state.read().expect("lock");
        let key = (q.kind, q.target.clone());
        let mut rows: Vec<PageRecord> = st
            .rev
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|id| st.pages.get(id))
            .filter(|p| q.accepts(p) && q.after_start(p.title.ns, p.id))
            .cloned()
            .collect();
        match q.order {
            Order::PageId => rows.sort_by_key(|p| p.id),
            Order::NamespaceThenPageId => rows.sort_by_key(|p| (p.title.ns, p.id)),
        }
        if q.direction == Direction::Descending {
            rows.reverse();
        }
        rows.truncate(q.limit);
        Ok(rows)
    }

    fn count_backlinks(&self, kind: LinkKind, target: &Title) -> Result<u64> {
        let mut q = BacklinkQuery::new(kind, target.clone());
        q.limit = usize::MAX;
        Ok(self.backlinks(&q)?.len() as u64)
    }

    fn outgoing(&self, id: PageId, kind: LinkKind) -> Result<Vec<Title>> {
        let st = self.state.read().expect("lock");
        Ok(st
            .links
            .get(&id)
            .map(|s| {
                s.iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, t)| t.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn redirect(&self, id: PageId) -> Result<Option<RedirectRow>> {
        Ok(self.state.read().expect("lock").redirects.get(&id).cloned())
    }

    fn redirects_to(&self, target: &Title) -> Result<Vec<PageRecord>> {
        let st = self.state.read().expect("lock");
        Ok(st
            .redirects
            .iter()
            .filter(|(_, r)| r.interwiki.is_empty() && r.target == *target)
            .filter_map(|(id, _)| st.pages.get(id).cloned())
            .collect())
    }

    fn pages(&self, start: PageId, limit: usize) -> Result<Vec<PageRecord>> {
        let st = self.state.read().expect("lock");
        Ok(st
            .pages
            .range(start..)
            .take(limit)
            .map(|(_, p)| p.clone())
            .collect())
    }

    fn last_page_id(&self) -> Result<Option<PageId>> {
        Ok(self
            .state
            .read()
            .expect("lock")
            .pages
            .keys()
            .next_back()
            .copied())
    }

    fn site_info(&self) -> Result<Option<SiteInfo>> {
        Ok(self.state.read().expect("lock").site.clone())
    }

    fn block(&self, id: &str) -> Result<Option<BlockRecord>> {
        let st = self.state.read().expect("lock");
        Ok(st.blocks.values().flatten().find(|b| b.id == id).cloned())
    }

    fn blocks_of(&self, page: PageId) -> Result<Vec<BlockRecord>> {
        Ok(self
            .state
            .read()
            .expect("lock")
            .blocks
            .get(&page)
            .cloned()
            .unwrap_or_default())
    }

    fn first_block(&self, page: PageId) -> Result<Option<BlockRecord>> {
        let st = self.state.read().expect("lock");
        Ok(st.blocks.get(&page).and_then(|b| b.first().cloned()))
    }

    fn block_refs_to(&self, def: &str) -> Result<Vec<BlockRef>> {
        let st = self.state.read().expect("lock");
        let mut rows: Vec<BlockRef> = st
            .block_refs
            .values()
            .flatten()
            .filter(|r| r.def == def)
            .cloned()
            .collect();
        rows.sort_by(|a, b| (a.page, &a.block).cmp(&(b.page, &b.block)));
        Ok(rows)
    }

    fn block_refs_from(&self, page: PageId) -> Result<Vec<BlockRef>> {
        Ok(self
            .state
            .read()
            .expect("lock")
            .block_refs
            .get(&page)
            .cloned()
            .unwrap_or_default())
    }

    fn blocks_with_tokens(&self, tokens: &[String]) -> Result<Vec<(PageId, u32)>> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        // The reference model tokenises every block on every query.
        let st = self.state.read().expect("lock");
        let mut out = Vec::new();
        for (page, blocks) in &st.blocks {
            let refs = st.block_refs.get(page).cloned().unwrap_or_default();
            for (i, b) in blocks.iter().enumerate() {
                let mut have = BTreeSet::new();
                let anchors = refs
                    .iter()
                    .filter(|r| r.block == b.id)
                    .map(|r| r.anchor.as_str());
                inlink_model::text::block_tokens(b, anchors, |t| {
                    have.insert(t.to_string());
                });
                if tokens.iter().all(|t| have.contains(t)) {
                    out.push((*page, i as u32));
                }
            }
        }
        Ok(out)
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn stats(&self) -> Result<StoreStats> {
        let st = self.state.read().expect("lock");
        let mut links = [0u64; 4];
        let mut targets = BTreeSet::new();
        for set in st.links.values() {
            for (k, t) in set {
                links[*k as usize] += 1;
                targets.insert((*k, t));
            }
        }
        Ok(StoreStats {
            pages: st.pages.len() as u64,
            redirects: st.redirects.len() as u64,
            links,
            targets: targets.len() as u64,
            ..StoreStats::default()
        })
    }
}
