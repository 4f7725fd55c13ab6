//! Backlinks of a block as the kernel derives them (spec §4.3, `buildLinkRefs`): the ref
//! blocks of a def (and of its descendants with `containChildren`), their context blocks,
//! the keyword filter and the quirky `linkRefsCount`. Everything is read through the store.

use inlink_model::{BlockRecord, BlockRef, PageId};
use inlink_store::{LinkStore, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

/// One page's blocks, indexed.
pub(crate) struct PageData {
    pub blocks: Vec<BlockRecord>,
    pub index: HashMap<String, usize>,
    pub refs: Vec<BlockRef>,
    /// Child blocks by parent id, in document order.
    pub children: HashMap<String, Vec<usize>>,
}

impl PageData {
    pub fn get(&self, id: &str) -> Option<&BlockRecord> {
        self.index.get(id).map(|&i| &self.blocks[i])
    }

    /// The document block.
    pub fn doc(&self) -> Option<&BlockRecord> {
        self.blocks.first().filter(|b| b.parent.is_none())
    }

    pub fn position(&self, id: &str) -> usize {
        self.index.get(id).copied().unwrap_or(usize::MAX)
    }

    /// The block's own words: its text without the anchor texts of its references.
    pub fn own_text(&self, b: &BlockRecord) -> String {
        inlink_model::text::own_text(
            &b.content,
            self.refs
                .iter()
                .filter(|r| r.block == b.id)
                .map(|r| r.anchor.as_str()),
        )
    }

    /// Ids of `id` and every block under it (by the parent rule, so a heading's section).
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_string()];
        let mut i = 0;
        while i < out.len() {
            if let Some(kids) = self.children.get(&out[i]) {
                out.extend(kids.iter().map(|&k| self.blocks[k].id.clone()));
            }
            i += 1;
        }
        out
    }

    /// The first block without children under `id`, in document order.
    fn first_leaf<'a>(&'a self, id: &'a str) -> Option<&'a str> {
        let mut cur = id;
        while let Some(kids) = self.children.get(cur) {
            cur = &self.blocks[*kids.first()?].id;
        }
        (cur != id).then_some(cur)
    }
}

/// Pages read once per request.
pub(crate) struct Pages<'s> {
    store: &'s dyn LinkStore,
    cache: HashMap<PageId, Rc<PageData>>,
}

impl<'s> Pages<'s> {
    pub fn new(store: &'s dyn LinkStore) -> Self {
        Pages {
            store,
            cache: HashMap::new(),
        }
    }

    pub fn store(&self) -> &'s dyn LinkStore {
        self.store
    }

    pub fn get(&mut self, page: PageId) -> Result<Rc<PageData>> {
        if let Some(p) = self.cache.get(&page) {
            return Ok(p.clone());
        }
        let blocks = self.store.blocks_of(page)?;
        let refs = self.store.block_refs_from(page)?;
        let index = blocks
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id.clone(), i))
            .collect();
        let mut children: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, b) in blocks.iter().enumerate() {
            if let Some(p) = &b.parent {
                children.entry(p.clone()).or_default().push(i);
            }
        }
        let data = Rc::new(PageData {
            blocks,
            index,
            refs,
            children,
        });
        self.cache.insert(page, data.clone());
        Ok(data)
    }
}

/// The def of a request and its document.
pub(crate) struct Def {
    pub block: BlockRecord,
    pub page: Rc<PageData>,
}

pub(crate) fn load_def(pages: &mut Pages, id: &str) -> Result<Option<Def>> {
    let Some(block) = pages.store().block(id)? else {
        return Ok(None);
    };
    let page = pages.get(block.page)?;
    Ok(Some(Def { block, page }))
}

/// What the panel shows for one or more ref blocks.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub page: PageId,
    /// The context block.
    pub id: String,
    /// The ref blocks it stands for, in document order.
    pub refs: Vec<String>,
}

/// The backlinks of a def.
pub(crate) struct LinkRefs {
    pub contexts: Vec<Context>,
    /// `linkRefsCount`, with the kernel's corrections.
    pub count: i64,
    /// Ref rows (one per ref block) that point at existing blocks.
    pub rows: Vec<BlockRef>,
    /// For a container context: the ref paragraph that decided it.
    pub original: HashMap<String, String>,
}

/// Case-insensitive keyword test on a block's text, title, name, alias, memo and tags.
pub(crate) fn matches(b: &BlockRecord, title: &str, keywords: &[String]) -> bool {
    if keywords.is_empty() {
        return true;
    }
    let fields = [
        b.content.to_lowercase(),
        title.to_lowercase(),
        b.name.to_lowercase(),
        b.aliases.join(",").to_lowercase(),
        b.memo.to_lowercase(),
        b.attr("tags").to_lowercase(),
    ];
    keywords.iter().any(|k| {
        let k = k.to_lowercase();
        fields.iter().any(|f| f.contains(&k))
    })
}

/// `k` as the kernel splits it: trimmed, on single spaces (so two spaces make an empty
/// keyword, which matches everything).
pub(crate) fn keywords(k: &str) -> Vec<String> {
    let k = k.trim();
    if k.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for w in k.split(' ') {
        if !out.iter().any(|x| x == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// The ids a request's def stands for: the def, and with `contain_children` every block
/// under it.
pub(crate) fn def_ids(def: &Def, contain_children: bool) -> Vec<String> {
    if contain_children {
        def.page.subtree(&def.block.id)
    } else {
        vec![def.block.id.clone()]
    }
}

/// Ref rows to any of `defs`, one per ref block (the first), whose ref block exists;
/// only from page `only` when given.
pub(crate) fn ref_rows(
    pages: &mut Pages,
    defs: &[String],
    only: Option<PageId>,
) -> Result<Vec<BlockRef>> {
    let mut out = Vec::new();
    for r in raw_ref_rows(pages, defs, only)? {
        if pages.get(r.page)?.get(&r.block).is_some() {
            out.push(r);
        }
    }
    Ok(out)
}

/// Ref rows to any of `defs`, one per ref block (the first), read from the index alone.
pub(crate) fn raw_ref_rows(
    pages: &mut Pages,
    defs: &[String],
    only: Option<PageId>,
) -> Result<Vec<BlockRef>> {
    let mut rows: Vec<BlockRef> = Vec::new();
    for d in defs {
        rows.extend(
            pages
                .store()
                .block_refs_to(d)?
                .into_iter()
                .filter(|r| only.is_none_or(|p| r.page == p)),
        );
    }
    rows.sort_by(|a, b| (a.page, &a.block).cmp(&(b.page, &b.block)));
    let mut seen = HashSet::new();
    rows.retain(|r| seen.insert(r.block.clone()));
    Ok(rows)
}

fn title_of(p: &PageData) -> &str {
    p.doc().map(|d| d.content.as_str()).unwrap_or("")
}

/// `buildLinkRefs`.
pub(crate) fn link_refs(
    pages: &mut Pages,
    rows: Vec<BlockRef>,
    keywords: &[String],
) -> Result<LinkRefs> {
    let mut count = rows.len() as i64;
    // Paragraph ref blocks by parent: the last one decides for its parent.
    let mut para_parent: BTreeMap<(PageId, String), String> = BTreeMap::new();
    let mut parent_order: Vec<(PageId, String)> = Vec::new();
    let mut paragraphs = 0i64;
    for r in &rows {
        let page = pages.get(r.page)?;
        let b = page.get(&r.block).expect("ref_rows keeps existing blocks");
        if b.kind == "p" {
            if let Some(parent) = &b.parent {
                paragraphs += 1;
                let key = (r.page, parent.clone());
                if !para_parent.contains_key(&key) {
                    parent_order.push(key.clone());
                }
                para_parent.insert(key, r.block.clone());
            }
        }
    }
    count -= paragraphs - parent_order.len() as i64;

    let mut contexts: Vec<Context> = Vec::new();
    let mut processed: HashSet<(PageId, String)> = HashSet::new();
    let mut original = HashMap::new();
    for key in &parent_order {
        let page = pages.get(key.0)?;
        let Some(parent) = page.get(&key.1) else {
            continue;
        };
        if !matches!(parent.kind.as_str(), "i" | "b" | "s" | "callout") {
            continue;
        }
        let para_id = &para_parent[key];
        let para = page.get(para_id).expect("existing");
        let mut use_parent = true;
        if parent.kind == "i" && page.first_leaf(&parent.id) != Some(para_id.as_str()) {
            use_parent = page.own_text(para).trim().is_empty();
        }
        if use_parent {
            processed.insert(key.clone());
        }
        original.insert(parent.id.clone(), para_id.clone());
        if !matches(parent, title_of(&page), keywords) {
            count -= 1;
            continue;
        }
        if use_parent {
            let refs = rows
                .iter()
                .filter(|r| {
                    r.page == key.0
                        && page.get(&r.block).is_some_and(|b| {
                            b.kind == "p" && b.parent.as_deref() == Some(key.1.as_str())
                        })
                })
                .map(|r| r.block.clone())
                .collect();
            contexts.push(Context {
                page: key.0,
                id: parent.id.clone(),
                refs,
            });
        }
    }
    for r in &rows {
        let page = pages.get(r.page)?;
        let b = page.get(&r.block).expect("existing");
        if b.kind == "p" {
            if let Some(parent) = &b.parent {
                if processed.contains(&(r.page, parent.clone())) {
                    continue;
                }
            }
        }
        if !matches(b, title_of(&page), keywords) {
            count -= 1;
            continue;
        }
        contexts.push(Context {
            page: r.page,
            id: r.block.clone(),
            refs: vec![r.block.clone()],
        });
    }
    if !keywords.is_empty() {
        // A ref heading whose section matches is shown too (siyuan#14929).
        for r in &rows {
            let page = pages.get(r.page)?;
            let b = page.get(&r.block).expect("existing");
            if b.kind != "h" || contexts.iter().any(|c| c.id == b.id) {
                continue;
            }
            let hit = page
                .children
                .get(&b.id)
                .into_iter()
                .flatten()
                .any(|&k| matches(&page.blocks[k], title_of(&page), keywords));
            if hit {
                contexts.push(Context {
                    page: r.page,
                    id: b.id.clone(),
                    refs: vec![b.id.clone()],
                });
            }
        }
    }
    // Document order within each page.
    for c in &mut contexts {
        let page = pages.get(c.page)?;
        c.refs.sort_by_key(|id| page.position(id));
    }
    Ok(LinkRefs {
        contexts,
        count,
        rows,
        original,
    })
}

/// The panel's `expand` hint for a context (`getBacklinkRenderNodes`).
pub(crate) fn expand(page: &PageData, ctx: &str, original: &HashMap<String, String>) -> bool {
    let Some(b) = page.get(ctx) else {
        return true;
    };
    match b.kind.as_str() {
        "i" => {
            let kids = page.children.get(ctx).map_or(0, Vec::len);
            if kids <= 1 {
                return true;
            }
            match original.get(ctx).and_then(|p| page.get(p)) {
                Some(para) => page.own_text(para).trim().is_empty(),
                None => true,
            }
        }
        "h" => page.own_text(b).trim().is_empty(),
        _ => true,
    }
}
