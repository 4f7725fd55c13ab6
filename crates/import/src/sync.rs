//! Keeping an index equal to a folder of notes (a Markdown vault or SiYuan notebooks) as the
//! folder changes: the folder is read again as a fresh import would read it, into a scratch
//! store, and only the pages that differ from the index are written — in one batch, so
//! readers never see half a change. Pages keep their ids through their document block, as
//! re-imports do; notes whose document is gone are deleted.

use crate::{import, Format, ImportError, Options};
use inlink_model::{BlockRecord, BlockRef, LinkKind, PageId, PageRecord, Title};
use inlink_store::{Batch, LinkStore, MemStore, Op, PageUpdate, RedirectRow};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// What a sync changed.
#[derive(Debug, Clone, Default)]
pub struct SyncSummary {
    pub notes: u64,
    pub written: u64,
    pub deleted: u64,
    /// Each note's page, by its file's path under the folder (`/`-separated).
    pub pages: HashMap<String, PageId>,
}

/// A page as the index holds it: everything a fresh import decides.
#[derive(PartialEq)]
struct PageState {
    page: PageRecord,
    links: BTreeSet<(LinkKind, Title)>,
    redirect: Option<RedirectRow>,
    blocks: Vec<BlockRecord>,
    refs: Vec<BlockRef>,
}

fn state(store: &dyn LinkStore, page: PageRecord) -> Result<PageState, ImportError> {
    let id = page.id;
    let mut links = BTreeSet::new();
    for kind in LinkKind::ALL {
        for t in store.outgoing(id, kind)? {
            links.insert((kind, t));
        }
    }
    Ok(PageState {
        page,
        links,
        redirect: store.redirect(id)?,
        blocks: store.blocks_of(id)?,
        refs: store.block_refs_from(id)?,
    })
}

fn all_pages(store: &dyn LinkStore) -> Result<Vec<PageRecord>, ImportError> {
    let mut out = Vec::new();
    let mut start = PageId(0);
    loop {
        let chunk = store.pages(start, 10_000)?;
        let Some(last) = chunk.last() else { break };
        start = PageId(last.id.0.saturating_add(1));
        let done = chunk.len() < 10_000 || last.id.0 == u32::MAX;
        out.extend(chunk);
        if done {
            break;
        }
    }
    Ok(out)
}

/// Makes the notes in `store` what a fresh import of `root` would make them.
pub fn sync_folder(
    store: &dyn LinkStore,
    root: &Path,
    format: Format,
) -> Result<SyncSummary, ImportError> {
    let scratch = MemStore::new();
    if let Some(site) = store.site_info()? {
        let mut b = Batch::new();
        b.push(Op::SetSiteInfo(Box::new(site)));
        scratch.apply(&b)?;
    }
    if !root.is_dir() {
        return Err(ImportError::UnknownFormat {
            path: root.display().to_string(),
            why: "a folder of notes is a folder".into(),
        });
    }
    let books = crate::siyuan::notebooks(root);
    // A folder without notes (every note deleted) holds no notes; a fresh import refuses it.
    if !books.is_empty() || crate::markdown::is_vault(root) {
        import(&scratch, &[root.to_path_buf()], format, &Options::default())?;
    }
    let root_is_book = crate::siyuan::is_notebook(root);
    let mut batch = Batch::new();
    if store.site_info()?.is_none() {
        if let Some(site) = scratch.site_info()? {
            batch.push(Op::SetSiteInfo(Box::new(site)));
        }
    }
    let mut next_id = store.last_page_id()?.map_or(1, |p| p.0 + 1);
    let mut summary = SyncSummary::default();
    // Scratch page id → the index's, by document block.
    let mut ids: HashMap<PageId, PageId> = HashMap::new();
    let scratch_pages = all_pages(&scratch)?;
    for p in &scratch_pages {
        let doc = scratch.first_block(p.id)?;
        let live = match &doc {
            Some(d) => store.block(&d.id)?.map(|b| b.page),
            None => store.page_by_title(&p.title)?.map(|q| q.id),
        };
        let id = live.unwrap_or_else(|| {
            next_id += 1;
            PageId(next_id - 1)
        });
        ids.insert(p.id, id);
        if let Some(d) = &doc {
            let path = d.attr("path").trim_start_matches('/');
            let key = if books.is_empty() || root_is_book {
                path.to_string()
            } else {
                format!("{}/{path}", d.attr("box"))
            };
            summary.pages.insert(key, id);
        }
    }
    let kept: BTreeSet<PageId> = ids.values().copied().collect();
    // Notes whose document is gone; pages without blocks (wiki pages) are not the folder's.
    for p in all_pages(store)? {
        if !kept.contains(&p.id) && store.first_block(p.id)?.is_some() {
            batch.push(Op::Delete(p.id));
            summary.deleted += 1;
        }
    }
    for p in scratch_pages {
        summary.notes += 1;
        let id = ids[&p.id];
        let mut want = state(&scratch, p)?;
        want.page.id = id;
        for b in &mut want.blocks {
            b.page = id;
        }
        for r in &mut want.refs {
            r.page = id;
        }
        let have = match store.page(id)? {
            Some(rec) => Some(state(store, rec)?),
            None => None,
        };
        if have.as_ref() == Some(&want) {
            continue;
        }
        summary.written += 1;
        batch.push(Op::Upsert(PageUpdate {
            page: want.page,
            links: want.links.into_iter().collect(),
            redirect: want.redirect,
        }));
        batch.push(Op::SetBlocks {
            page: id,
            blocks: want.blocks,
            refs: want.refs,
        });
    }
    if !batch.is_empty() {
        store.apply(&batch)?;
    }
    Ok(summary)
}
