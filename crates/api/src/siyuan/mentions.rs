//! Unlinked mentions (spec §4.5, with our differences in `docs/api-siyuan.md`): blocks that
//! name the def in their own text without referencing it. Candidates come from the store's
//! mention index (pages holding every token of a term); each candidate block is then checked
//! on its own words: case-insensitive, word boundaries for words, none inside CJK text.

use super::refs::{Def, LinkRefs, Pages};
use inlink_model::text::{contains_folded, fold, query_tokens};
use inlink_model::PageId;
use inlink_store::Result;
use std::collections::BTreeSet;

/// Block types that can be mentions: headings, paragraphs and tables (the kernel also
/// searches documents, whose Markdown is empty, so they never qualify).
const MENTION_KINDS: [&str; 3] = ["h", "p", "t"];

/// The terms that name `def`, longest first.
pub(crate) fn terms(pages: &mut Pages, def: &Def, links: &LinkRefs) -> Result<Vec<String>> {
    let mut set: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        let s = s.trim();
        if !s.is_empty() && s != "*" && !set.iter().any(|x| x == s) {
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
    // The anchor texts others use for it, from the contexts that are ref blocks.
    for c in &links.contexts {
        if c.refs.len() == 1 && c.refs[0] == c.id {
            let page = pages.get(c.page)?;
            for r in page.refs.iter().filter(|r| r.block == c.id) {
                if links
                    .rows
                    .iter()
                    .any(|x| x.block == r.block && x.def == r.def)
                {
                    add(&r.anchor);
                }
            }
        }
    }
    set.sort_by_key(|s| std::cmp::Reverse(s.len()));
    Ok(set)
}

/// A mention block.
#[derive(Debug, Clone)]
pub(crate) struct Mention {
    pub page: PageId,
    pub id: String,
}

/// Mention blocks outside the def's document, filtered by `mk`, by block id descending.
pub(crate) fn search(
    pages: &mut Pages,
    def: &Def,
    links: &LinkRefs,
    terms: &[String],
    mk: &str,
) -> Result<Vec<Mention>> {
    let folded: Vec<String> = terms.iter().map(|t| fold(t)).collect();
    let mk = fold(mk.trim());
    let mut candidates: BTreeSet<PageId> = BTreeSet::new();
    for t in terms {
        let tokens = query_tokens(t);
        if tokens.is_empty() {
            continue;
        }
        candidates.extend(pages.store().pages_with_tokens(&tokens)?);
    }
    candidates.remove(&def.block.page);
    let mut out = Vec::new();
    for page_id in candidates {
        let page = pages.get(page_id)?;
        for b in &page.blocks {
            if !MENTION_KINDS.contains(&b.kind.as_str()) || links.exclude.contains(&b.id) {
                continue;
            }
            let content = fold(&b.content);
            if !mk.is_empty() && !content.contains(&mk) {
                continue;
            }
            let hit = folded.iter().any(|t| contains_folded(&content, t)) && {
                // Confirm on the block's own words (anchor texts of its references are not).
                let own = fold(&page.own_text(b));
                folded.iter().any(|t| contains_folded(&own, t))
            };
            let named = || {
                let eq = |s: &str| folded.iter().any(|t| fold(s) == *t);
                eq(&b.name) || b.aliases.iter().any(|a| eq(a)) || eq(&b.memo)
            };
            if hit || named() {
                out.push(Mention {
                    page: page_id,
                    id: b.id.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(out)
}
