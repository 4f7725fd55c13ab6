//! The vocabulary every other inlink crate speaks: page ids, link kinds, namespaces, site
//! configuration and MediaWiki's title rules (`docs/titles.md`). Pure functions, no I/O.

mod block;
mod entities;
mod entities_table;
mod error;
mod ip;
mod namespace;
mod page;
mod siteinfo;
pub mod text;
mod title;

pub use block::{BlockRecord, BlockRef, BlockRefKind};
pub use entities::decode_char_references;
pub use error::{ModelError, TitleError};
pub use namespace::{
    CaseRule, Namespace, NamespaceId, Namespaces, NS_CATEGORY, NS_FILE, NS_MAIN, NS_MEDIA,
    NS_SPECIAL, NS_TALK, NS_TEMPLATE, NS_USER, NS_USER_TALK,
};
pub use page::{LinkKind, PageId, PageRecord, Title};
pub use siteinfo::{Interwiki, SiteInfo};
pub use title::{ParsedTitle, TitleCodec};
