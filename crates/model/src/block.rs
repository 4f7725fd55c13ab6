use crate::page::PageId;
use serde::{Deserialize, Serialize};

/// A block of a note (SiYuan's block tree; a paragraph, heading or list item of Markdown).
/// Blocks belong to a page (the document) and carry what backlink panels show and filter on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlockRecord {
    /// The source's block id (`20240101000000-abcdefg` in SiYuan).
    pub id: String,
    /// Not stored with the block: a store files blocks under their page.
    #[serde(skip)]
    pub page: PageId,
    /// The parent block (heading sections count as parents); `None` for the document block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// SiYuan's type abbreviation (`d`, `h`, `p`, `i`, `l`, …).
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subtype: String,
    /// Plain text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub memo: String,
    /// 14-digit timestamps.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated: String,
    /// Other attributes, sorted by key: on documents the importer's `box` (notebook id),
    /// `notebook` (its name), `path` (the source file inside the notebook), `hpath` and
    /// `tags`; on any block what the source's attribute list carries that matters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attrs: Vec<(String, String)>,
}

impl BlockRecord {
    /// The value of attribute `key`, `""` when absent.
    pub fn attr(&self, key: &str) -> &str {
        self.attrs
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .map(|i| self.attrs[i].1.as_str())
            .unwrap_or("")
    }

    /// Sets attribute `key`, keeping the list sorted.
    pub fn set_attr(&mut self, key: &str, value: impl Into<String>) {
        match self.attrs.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
            Ok(i) => self.attrs[i].1 = value.into(),
            Err(i) => self.attrs.insert(i, (key.to_string(), value.into())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum BlockRefKind {
    /// Anchor text typed by the user.
    Static = 0,
    /// Anchor text that follows the referenced block.
    Dynamic = 1,
    /// An embed of the block.
    Embed = 2,
}

impl BlockRefKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        [
            BlockRefKind::Static,
            BlockRefKind::Dynamic,
            BlockRefKind::Embed,
        ]
        .get(v as usize)
        .copied()
    }
}

/// A reference from a block to a block: one row of SiYuan's `refs` table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlockRef {
    /// The page (document) of the referencing block.
    pub page: PageId,
    /// The referencing block.
    pub block: String,
    /// The referenced (definition) block.
    pub def: String,
    pub anchor: String,
    pub kind: BlockRefKind,
}
