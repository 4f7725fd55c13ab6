use crate::page::PageId;
use serde::{Deserialize, Serialize};

/// A block of a note (SiYuan's block tree; a paragraph, heading or list item of Markdown).
/// Blocks belong to a page (the document) and carry what backlink panels show and filter on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlockRecord {
    /// The source's block id (`20240101000000-abcdefg` in SiYuan).
    pub id: String,
    pub page: PageId,
    /// The parent block (heading sections count as parents); `None` for the document block.
    pub parent: Option<String>,
    /// SiYuan's type abbreviation (`d`, `h`, `p`, `i`, `l`, …).
    pub kind: String,
    pub subtype: String,
    /// Plain text.
    pub content: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub memo: String,
    /// 14-digit timestamps.
    pub created: String,
    pub updated: String,
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
