//! Link extraction. `wikitext` turns a page's wikitext into the rows MediaWiki 1.39 writes
//! to `pagelinks`, `templatelinks`, `imagelinks`, `categorylinks` and `redirect`, expanding
//! templates found through a [`TemplateSource`].

pub mod wikitext;

pub use wikitext::{Extracted, Extractor, NoTemplates, Redirect, TemplateSource};
