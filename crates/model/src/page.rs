use crate::namespace::NamespaceId;
use serde::{Deserialize, Serialize};

/// A page id as MediaWiki assigns it (`page_id`, an unsigned 32-bit integer).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct PageId(pub u32);

/// A local title: namespace and database key (underscores, first letter folded per the
/// namespace's case rule). Titles compare as bytes, as in MediaWiki's binary columns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Title {
    pub ns: NamespaceId,
    pub dbkey: String,
}

impl Title {
    pub fn new(ns: NamespaceId, dbkey: impl Into<String>) -> Self {
        Title {
            ns,
            dbkey: dbkey.into(),
        }
    }

    /// The title text without namespace prefix, with spaces.
    pub fn text(&self) -> String {
        self.dbkey.replace('_', " ")
    }
}

/// Which link table a link belongs to; MediaWiki keeps them apart and so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum LinkKind {
    /// `pagelinks`: `[[Target]]`.
    Page = 0,
    /// `templatelinks`: `{{Target}}`, transclusion.
    Template = 1,
    /// `imagelinks`: `[[File:X]]`, `[[Media:X]]` (stored as a File-namespace title).
    Image = 2,
    /// `categorylinks`: `[[Category:X]]`.
    Category = 3,
}

impl LinkKind {
    pub const ALL: [LinkKind; 4] = [
        LinkKind::Page,
        LinkKind::Template,
        LinkKind::Image,
        LinkKind::Category,
    ];

    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(v as usize).copied()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Page => "pagelinks",
            LinkKind::Template => "templatelinks",
            LinkKind::Image => "imagelinks",
            LinkKind::Category => "categorylinks",
        }
    }
}

/// An existing page as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PageRecord {
    pub id: PageId,
    pub title: Title,
    pub is_redirect: bool,
}
