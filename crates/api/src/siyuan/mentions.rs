//! Unlinked mentions (spec §4.5, with our differences in `docs/api-siyuan.md`): text blocks
//! that name the def in their own words without referencing it. The store's mention index
//! files every heading, paragraph and table under the tokens of its own words; a term of one
//! word (or one or two CJK characters) is answered by its posting list alone, longer terms
//! by the blocks holding all their tokens, each checked on its text.

use super::refs::{Def, Pages};
use inlink_model::text::{contains_folded, fold, query_tokens, tokens_are_exact, NAME_MARK};
use inlink_model::BlockRef;
use inlink_model::PageId;
use inlink_store::Result;
use std::collections::HashSet;

/// The terms that name `def`, longest first; `rows` are the references to it (their anchor
/// texts name it too).
pub(crate) fn terms(def: &Def, rows: &[BlockRef]) -> Vec<String> {
    // Matching folds case, so terms that differ only in case are one term.
    let mut set: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        let s = s.trim();
        if !s.is_empty() && s != "*" && !set.iter().any(|x| fold(x) == fold(s)) {
            set.push(s.to_string());
        }
    };
    if def.block.parent.is_none() {
        // A document: its title, its aliases, and the names of its named blocks.
        add(&def.block.content);
        for a in &def.block.aliases {
            add(a);
        }
        for b in &def.page.blocks {
            add(&b.name);
        }
    } else {
        add(&def.block.name);
        for a in &def.block.aliases {
            add(a);
        }
    }
    for r in rows {
        add(&r.anchor);
    }
    set.sort_by_key(|s| std::cmp::Reverse(s.len()));
    set
}

/// A mention block: its page and its position in the page's blocks.
pub(crate) type Mention = (PageId, u32);

/// Mention blocks outside the def's document, filtered by `mk`, in (page, position) order.
pub(crate) fn search(
    pages: &mut Pages,
    def: &Def,
    rows: &[BlockRef],
    terms: &[String],
    mk: &str,
) -> Result<Vec<Mention>> {
    let store = pages.store();
    let mut found: Vec<Mention> = Vec::new();
    for t in terms {
        let tokens = query_tokens(t);
        if tokens.is_empty() {
            continue;
        }
        let folded = fold(t);
        let exact = tokens_are_exact(t);
        let hits = store.blocks_with_tokens(&tokens)?;
        if exact {
            found.extend(hits.into_iter().filter(|&(p, _)| p != def.block.page));
            continue;
        }
        for (page, pos) in hits {
            if page == def.block.page {
                continue;
            }
            let hit = {
                let data = pages.get(page)?;
                data.blocks
                    .get(pos as usize)
                    .is_some_and(|b| contains_folded(&fold(&data.own_text(b)), &folded))
            };
            if hit {
                found.push((page, pos));
            }
        }
        // A block whose name, alias or memo is the term (siyuan#7639).
        let marked: Vec<String> = tokens.iter().map(|x| format!("{NAME_MARK}{x}")).collect();
        for (page, pos) in store.blocks_with_tokens(&marked)? {
            if page == def.block.page {
                continue;
            }
            let data = pages.get(page)?;
            let Some(b) = data.blocks.get(pos as usize) else {
                continue;
            };
            let eq = |s: &str| fold(s.trim()) == folded;
            if eq(&b.name) || b.aliases.iter().any(|a| eq(a)) || eq(&b.memo) {
                found.push((page, pos));
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    // Referencing blocks are backlinks, not mentions: only pages that hold both are read.
    let ref_pages: HashSet<PageId> = rows.iter().map(|r| r.page).collect();
    let mut excluded: HashSet<Mention> = HashSet::new();
    let mut checked: HashSet<PageId> = HashSet::new();
    for &(p, _) in &found {
        if ref_pages.contains(&p) && checked.insert(p) {
            let data = pages.get(p)?;
            for r in rows.iter().filter(|r| r.page == p) {
                if let Some(&i) = data.index.get(&r.block) {
                    excluded.insert((p, i as u32));
                }
            }
        }
    }
    let mk = fold(mk.trim());
    let mut out = Vec::with_capacity(found.len());
    for m in found {
        if excluded.contains(&m) {
            continue;
        }
        if !mk.is_empty() {
            let data = pages.get(m.0)?;
            let keep = data
                .blocks
                .get(m.1 as usize)
                .is_some_and(|b| fold(&b.content).contains(&mk));
            if !keep {
                continue;
            }
        }
        out.push(m);
    }
    Ok(out)
}
