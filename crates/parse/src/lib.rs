//! Link extraction. `siyuan` reads SiYuan's `.sy` block trees into blocks and block
//! references; `wikitext` turns a page's wikitext into the rows MediaWiki 1.39 writes
//! to `pagelinks`, `templatelinks`, `imagelinks`, `categorylinks` and `redirect`, expanding
//! templates found through a [`TemplateSource`].

pub mod markdown;
pub mod siyuan;
pub mod wikitext;

pub use wikitext::{
    Expanded, Extracted, Extractor, LinkFinder, NoTemplates, Redirect, TemplateSource,
};
