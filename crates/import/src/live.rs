//! Live edits of a wiki: one page's wikitext → the row MediaWiki's `LinksUpdate` would write,
//! for the native write API. The store keeps no page texts, so templates are not expanded
//! here: a transclusion files its `templatelinks` row, and links that only a template's own
//! text would add are not found (a client that needs them sends explicit link rows).

use inlink_model::{PageId, Title, TitleCodec};
use inlink_parse::wikitext::{Extractor, TemplateSource};
use inlink_store::{LinkStore, PageUpdate};

/// Templates as the store knows them: which exist, never their text.
struct Known<'a>(&'a dyn LinkStore);

impl TemplateSource for Known<'_> {
    fn text(&self, _: &Title) -> Option<String> {
        None
    }

    fn exists(&self, title: &Title) -> bool {
        matches!(self.0.page_by_title(title), Ok(Some(_)))
    }
}

/// The page row, link rows and redirect of page `id` titled `title` with text `wikitext`.
pub fn wikitext_update(
    codec: &TitleCodec,
    store: &dyn LinkStore,
    id: PageId,
    title: Title,
    wikitext: &str,
) -> PageUpdate {
    let ex = Extractor::new(codec.clone()).extract(&title, wikitext, &Known(store));
    crate::mediawiki_xml::update(codec, id.0, title, None, ex)
}
