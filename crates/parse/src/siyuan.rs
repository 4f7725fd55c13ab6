//! SiYuan `.sy` documents (a Lute AST in JSON, `Spec` "2") into the facts a backlinks index
//! needs: the blocks with their text and attributes, and the block references between them,
//! derived as SiYuan's kernel derives its `blocks` and `refs` tables
//! (`../shared/spec/siyuan-backlinks.md` §2).

use inlink_model::PageId;
use serde_json::Value;
use std::collections::BTreeSet;

/// Blocks and references come out in the model's types. Their `page` is `PageId(0)`: a
/// document learns its page id when it is stored, and the store files blocks and references
/// under the page they are set on.
pub use inlink_model::{BlockRecord as Block, BlockRef, BlockRefKind as RefKind};

const UNSTORED: PageId = PageId(0);

/// A parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub title: String,
    pub tags: Vec<String>,
    /// All blocks, the document block first, in document order.
    pub blocks: Vec<Block>,
    /// Deduplicated on (def, block), in document order.
    pub refs: Vec<BlockRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyError(pub String);

impl std::fmt::Display for SyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a SiYuan document: {}", self.0)
    }
}

impl std::error::Error for SyError {}

/// Lute node types that are blocks (inline nodes may carry an `ID` in old files; they are not).
fn block_kind(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "NodeDocument" => "d",
        "NodeHeading" => "h",
        "NodeList" => "l",
        "NodeListItem" => "i",
        "NodeCodeBlock" => "c",
        "NodeMathBlock" => "m",
        "NodeTable" => "t",
        "NodeBlockquote" => "b",
        "NodeSuperBlock" => "s",
        "NodeParagraph" => "p",
        "NodeHTMLBlock" => "html",
        "NodeBlockQueryEmbed" => "query_embed",
        "NodeAttributeView" => "av",
        "NodeIFrame" => "iframe",
        "NodeWidget" => "widget",
        "NodeThematicBreak" => "tb",
        "NodeVideo" => "video",
        "NodeAudio" => "audio",
        "NodeCallout" => "callout",
        "NodeCustomBlock" => "custom",
        "NodeGitConflict" => "git_conflict",
        _ => return None,
    })
}

/// Is `s` a SiYuan id: 14 digits, `-`, 7 of `[a-z0-9]`.
pub fn is_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 22
        && b[..14].iter().all(u8::is_ascii_digit)
        && b[14] == b'-'
        && b[15..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

/// Block ids in real files may be longer than SiYuan generates (`…-twstore1`); what counts
/// is the 14-digit time, `-`, and lower-case letters and digits.
fn is_block_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 15
        && b[..14].iter().all(u8::is_ascii_digit)
        && b[14] == b'-'
        && b[15..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn prop<'a>(node: &'a Value, key: &str) -> &'a str {
    node.get("Properties")
        .and_then(|p| p.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The definition id an embed's SQL names, when its whole `WHERE` is one `id = '…'`.
pub fn embed_target(sql: &str) -> Option<String> {
    let lower = sql.trim().trim_end_matches(';').trim().to_ascii_lowercase();
    if !lower.starts_with("select") {
        return None;
    }
    let at = lower.find(" where ")?;
    let mut cond = lower[at + 7..].trim();
    while let Some(inner) = cond.strip_prefix('(').and_then(|c| c.strip_suffix(')')) {
        cond = inner.trim();
    }
    let rest = cond
        .strip_prefix("id")?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quoted = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\''))?;
    is_id(quoted).then(|| quoted.to_string())
}

struct Walker {
    blocks: Vec<Block>,
    refs: Vec<BlockRef>,
    seen: BTreeSet<(String, String)>,
}

impl Walker {
    fn add_ref(&mut self, block: &str, def: &str, anchor: String, kind: RefKind) {
        if self.seen.insert((def.to_string(), block.to_string())) {
            self.refs.push(BlockRef {
                page: UNSTORED,
                block: block.to_string(),
                def: def.to_string(),
                anchor,
                kind,
            });
        }
    }

    /// Walks `node`; `enclosing` is the id of the innermost block around it. Returns the
    /// node's text.
    fn walk(&mut self, node: &Value, enclosing: &str, parent: Option<&str>) -> String {
        let ty = node.get("Type").and_then(Value::as_str).unwrap_or("");
        let id = node
            .get("ID")
            .and_then(Value::as_str)
            .filter(|i| is_block_id(i));
        if let (Some(kind), Some(id)) = (block_kind(ty), id) {
            return self.walk_block(node, ty, kind, id, parent);
        }
        let mut text = String::new();
        match ty {
            "NodeText"
            | "NodeCodeSpanContent"
            | "NodeCodeBlockCode"
            | "NodeMathBlockContent"
            | "NodeInlineMathContent" => {
                text.push_str(node.get("Data").and_then(Value::as_str).unwrap_or(""));
            }
            "NodeTextMark" => {
                let content = node
                    .get("TextMarkTextContent")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let marks = node
                    .get("TextMarkType")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if marks.split(' ').any(|m| m == "block-ref") {
                    if let Some(def) = node.get("TextMarkBlockRefID").and_then(Value::as_str) {
                        let kind = match node.get("TextMarkBlockRefSubtype").and_then(Value::as_str)
                        {
                            Some("d") => RefKind::Dynamic,
                            _ => RefKind::Static,
                        };
                        self.add_ref(enclosing, def, content.to_string(), kind);
                    }
                }
                if !marks.split(' ').any(|m| m == "inline-math") {
                    text.push_str(content);
                }
            }
            "NodeBlockRef" => {
                // The legacy form: children carry the id and the anchor text.
                let children = node
                    .get("Children")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let data = |t: &str| {
                    children
                        .iter()
                        .find(|c| c.get("Type").and_then(Value::as_str) == Some(t))
                        .and_then(|c| c.get("Data"))
                        .and_then(Value::as_str)
                };
                if let Some(def) = data("NodeBlockRefID") {
                    let (anchor, kind) =
                        match (data("NodeBlockRefText"), data("NodeBlockRefDynamicText")) {
                            (Some(a), _) => (a, RefKind::Static),
                            (None, Some(a)) => (a, RefKind::Dynamic),
                            _ => ("", RefKind::Static),
                        };
                    self.add_ref(enclosing, def, anchor.to_string(), kind);
                    text.push_str(anchor);
                }
                return text;
            }
            _ => {}
        }
        for c in node
            .get("Children")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            text.push_str(&self.walk(c, enclosing, parent));
        }
        text
    }

    fn walk_block(
        &mut self,
        node: &Value,
        ty: &str,
        kind: &str,
        id: &str,
        parent: Option<&str>,
    ) -> String {
        let subtype = match ty {
            "NodeHeading" => format!(
                "h{}",
                node.get("HeadingLevel")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
            ),
            "NodeList" | "NodeListItem" => match node
                .get("ListData")
                .and_then(|l| l.get("Typ"))
                .and_then(Value::as_u64)
            {
                Some(1) => "o".into(),
                Some(3) => "t".into(),
                _ => "u".into(),
            },
            "NodeCallout" => node
                .get("CalloutType")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        let index = self.blocks.len();
        self.blocks.push(Block {
            id: id.to_string(),
            page: UNSTORED,
            parent: parent.map(str::to_string),
            kind: kind.to_string(),
            subtype,
            content: String::new(),
            name: unescape(prop(node, "name")),
            aliases: unescape(prop(node, "alias"))
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
            memo: unescape(prop(node, "memo")),
            created: id[..14].to_string(),
            updated: prop(node, "updated").to_string(),
            attrs: Vec::new(),
        });
        if ty == "NodeBlockQueryEmbed" {
            let script = node
                .get("Children")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|c| {
                    c.get("Type").and_then(Value::as_str) == Some("NodeBlockQueryEmbedScript")
                })
                .and_then(|c| c.get("Data"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if let Some(def) = embed_target(script) {
                self.add_ref(id, &def, String::new(), RefKind::Embed);
            }
            return String::new();
        }
        // Children: a heading among the siblings becomes the parent of what follows it
        // (blocks "under" a heading belong to it), per the kernel's parent rule.
        let mut text = String::new();
        let mut headings: Vec<(u64, String)> = Vec::new();
        for c in node
            .get("Children")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let cty = c.get("Type").and_then(Value::as_str).unwrap_or("");
            let level = if cty == "NodeHeading" {
                c.get("HeadingLevel").and_then(Value::as_u64).unwrap_or(1)
            } else {
                16
            };
            let is_block = block_kind(cty).is_some()
                && c.get("ID").and_then(Value::as_str).is_some_and(is_block_id);
            let section_parent = headings
                .iter()
                .rev()
                .find(|(l, _)| *l < level)
                .map(|(_, h)| h.clone());
            let child_parent = section_parent.as_deref().unwrap_or(id);
            let t = self.walk(c, id, Some(child_parent));
            if is_block && cty == "NodeHeading" {
                headings.push((
                    level,
                    c.get("ID")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ));
            }
            if !t.is_empty() && is_block && !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&t);
        }
        self.blocks[index].content = text.clone();
        text
    }
}

/// Parses one `.sy` file.
pub fn parse_document(json: &str) -> Result<Document, SyError> {
    let root: Value = serde_json::from_str(json).map_err(|e| SyError(e.to_string()))?;
    if root.get("Type").and_then(Value::as_str) != Some("NodeDocument") {
        return Err(SyError("the root is not a NodeDocument".into()));
    }
    let id = root
        .get("ID")
        .and_then(Value::as_str)
        .filter(|i| is_block_id(i))
        .ok_or_else(|| SyError("the document has no valid ID".into()))?
        .to_string();
    let title = unescape(prop(&root, "title"));
    let tags: Vec<String> = unescape(prop(&root, "tags"))
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let mut w = Walker {
        blocks: Vec::new(),
        refs: Vec::new(),
        seen: BTreeSet::new(),
    };
    w.walk_block(&root, "NodeDocument", "d", &id, None);
    // A document's content is its title.
    w.blocks[0].content = title.clone();
    if !tags.is_empty() {
        w.blocks[0].set_attr("tags", tags.join(","));
    }
    Ok(Document {
        id,
        title,
        tags,
        blocks: w.blocks,
        refs: w.refs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_refs_parents_and_embeds() {
        let doc = r#"{"ID":"20240101000000-aaaaaaa","Spec":"2","Type":"NodeDocument","Properties":{"id":"20240101000000-aaaaaaa","title":"Doc &amp; more","updated":"20240102000000"},"Children":[
          {"ID":"20240101000001-bbbbbbb","Type":"NodeHeading","HeadingLevel":2,"Properties":{"name":"Sec","alias":"a1, a2"},"Children":[{"Type":"NodeText","Data":"Section"}]},
          {"ID":"20240101000002-ccccccc","Type":"NodeParagraph","Properties":{},"Children":[
             {"Type":"NodeText","Data":"see "},
             {"Type":"NodeTextMark","TextMarkType":"block-ref strong","TextMarkBlockRefID":"20240101000009-zzzzzzz","TextMarkBlockRefSubtype":"d","TextMarkTextContent":"Target"},
             {"Type":"NodeTextMark","TextMarkType":"block-ref","TextMarkBlockRefID":"20240101000009-zzzzzzz","TextMarkBlockRefSubtype":"s","TextMarkTextContent":"again"},
             {"Type":"NodeTextMark","TextMarkType":"a","TextMarkAHref":"siyuan://blocks/20240101000008-yyyyyyy","TextMarkTextContent":"link"}]},
          {"ID":"20240101000003-ddddddd","Type":"NodeList","ListData":{"Typ":1},"Children":[
             {"ID":"20240101000004-eeeeeee","Type":"NodeListItem","ListData":{"Typ":1},"Children":[
               {"ID":"20240101000005-fffffff","Type":"NodeParagraph","Children":[{"Type":"NodeTextMark","TextMarkType":"block-ref","TextMarkBlockRefID":"20240101000001-bbbbbbb","TextMarkBlockRefSubtype":"s","TextMarkTextContent":"up"}]}]}]},
          {"ID":"20240101000006-ggggggg","Type":"NodeBlockQueryEmbed","Children":[{"Type":"NodeOpenBrace"},{"Type":"NodeOpenBrace"},{"Type":"NodeBlockQueryEmbedScript","Data":"select * from blocks where (id='20240101000009-zzzzzzz')"},{"Type":"NodeCloseBrace"},{"Type":"NodeCloseBrace"}]},
          {"ID":"20240101000007-hhhhhhh","Type":"NodeBlockQueryEmbed","Children":[{"Type":"NodeBlockQueryEmbedScript","Data":"select * from blocks where id='20240101000009-zzzzzzz' and 1=1"}]}
        ]}"#;
        let d = parse_document(doc).unwrap();
        assert_eq!(d.title, "Doc & more");
        assert_eq!(d.blocks.len(), 8);
        let b = |id: &str| d.blocks.iter().find(|b| b.id.starts_with(id)).unwrap();
        assert_eq!(b("20240101000000").content, "Doc & more");
        assert_eq!(b("20240101000001").subtype, "h2");
        assert_eq!(b("20240101000001").aliases, ["a1", "a2"]);
        // Blocks after a heading belong to it.
        assert_eq!(
            b("20240101000002").parent.as_deref(),
            Some("20240101000001-bbbbbbb")
        );
        assert_eq!(
            b("20240101000003").parent.as_deref(),
            Some("20240101000001-bbbbbbb")
        );
        assert_eq!(
            b("20240101000005").parent.as_deref(),
            Some("20240101000004-eeeeeee")
        );
        assert_eq!(b("20240101000003").subtype, "o");
        assert_eq!(b("20240101000002").content, "see Targetagainlink");
        assert_eq!(b("20240101000003").content, "up");
        // Two refs from one block to one def are one row; the hyperlink is none; one embed counts.
        let refs: Vec<_> = d
            .refs
            .iter()
            .map(|r| (r.block.as_str(), r.def.as_str(), r.kind))
            .collect();
        assert_eq!(
            refs,
            [
                (
                    "20240101000002-ccccccc",
                    "20240101000009-zzzzzzz",
                    RefKind::Dynamic
                ),
                (
                    "20240101000005-fffffff",
                    "20240101000001-bbbbbbb",
                    RefKind::Static
                ),
                (
                    "20240101000006-ggggggg",
                    "20240101000009-zzzzzzz",
                    RefKind::Embed
                ),
            ]
        );
    }

    #[test]
    fn rejects_what_is_not_a_document() {
        assert!(parse_document("{}").is_err());
        assert!(parse_document("not json").is_err());
        assert!(parse_document(r#"{"Type":"NodeDocument","ID":"x"}"#).is_err());
    }
}
