//! Markdown notes as Obsidian, SilverBullet, Logseq and Dendron write them, into blocks and
//! links (`docs/markdown.md`). CommonMark structure comes from `pulldown-cmark`; the note
//! syntaxes on top of it are read here:
//!
//! - wikilinks `[[Note]]`, `[[Note|label]]` (Dendron: `[[label|note]]`), `[[Note#Heading]]`,
//!   `[[Note#^block]]`, `[[#Heading]]` in the same note, embeds `![[Note]]`;
//! - block ids: Obsidian `^id` at the end of a block, Logseq `id:: <uuid>` properties,
//!   SiYuan/kramdown attribute lists `{: id="…"}`; block references `((id))` and SiYuan's
//!   `((id "anchor"))` / `((id 'anchor'))`;
//! - Logseq tags `#tag` and `#[[tag]]`, page properties `title::` and `alias::`;
//! - YAML front matter `title`, `aliases`/`alias`, `id`.
//!
//! Code (fenced, indented, inline) is never scanned for links. Each paragraph, heading,
//! list item, quote, table and code block is a block; a list item's text is a paragraph
//! inside it, as in SiYuan. Blocks after a heading belong to it (SiYuan's parent rule).

use pulldown_cmark::{Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

/// How a vault writes its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Obsidian, SilverBullet and most Markdown vaults: `[[target|label]]`.
    Obsidian,
    /// Dendron: `[[label|target]]`, `dendron://vault/` prefixes, dotted hierarchies.
    Dendron,
    /// Logseq: outlines, `#tag`, `((uuid))`, `key:: value` properties.
    Logseq,
}

/// One block of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdBlock {
    /// SiYuan's type abbreviation: `h`, `p`, `l`, `i`, `b`, `c`, `t`.
    pub kind: &'static str,
    pub subtype: String,
    /// Index of the parent block; `None` for a block of the document itself.
    pub parent: Option<usize>,
    /// Plain text (link labels included).
    pub text: String,
    /// An id the note gives the block (`^id`, `id::`, `{: id}`), referencable from others.
    pub id: Option<String>,
}

/// Where a link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A note by name (`""` for the note itself), with an optional `#heading` or `#^block`.
    Note {
        name: String,
        fragment: Option<String>,
    },
    /// A block by id (`((id))`).
    Block(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdLink {
    /// The block the link is in.
    pub block: usize,
    pub target: Target,
    /// The text shown for it.
    pub label: String,
    pub embed: bool,
}

/// A parsed note.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Note {
    /// A title the note declares (front matter `title`, Logseq `title::`).
    pub title: Option<String>,
    pub aliases: Vec<String>,
    /// Front matter `id` (Dendron gives every note one).
    pub id: Option<String>,
    pub blocks: Vec<MdBlock>,
    pub links: Vec<MdLink>,
}

struct Builder<'a> {
    src: &'a str,
    flavour: Flavour,
    note: Note,
    /// Open blocks, innermost last.
    open: Vec<usize>,
    /// Per open container (and the document, at the bottom): the headings among its
    /// children so far, as (level, block).
    sections: Vec<Vec<(u8, usize)>>,
    /// Inside a link or image: its text goes to the label.
    in_link: Option<usize>,
    /// Text of the current leaf outside links and code, for `((ref))` and `#tag`.
    scan: String,
    in_metadata: bool,
    metadata: String,
    /// The list kind of each open list.
    lists: Vec<&'static str>,
    /// Paragraphs opened for text that came straight into a container.
    implicit: Vec<usize>,
    /// Inside an HTML comment that began in an earlier HTML event.
    in_comment: bool,
}

fn heading_level(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

impl Builder<'_> {
    fn current(&self) -> Option<usize> {
        self.open.last().copied()
    }

    fn is_leaf(kind: &str) -> bool {
        matches!(kind, "p" | "h" | "c" | "t")
    }

    /// Opens a block under the innermost open container, with the heading-section rule.
    fn open_block(&mut self, kind: &'static str, subtype: String, level: u8) -> usize {
        let container = self.current();
        let siblings = self
            .sections
            .last_mut()
            .expect("the document level is never popped");
        while siblings.last().is_some_and(|&(l, _)| l >= level) {
            siblings.pop();
        }
        let parent = siblings.last().map(|&(_, h)| h).or(container);
        let idx = self.note.blocks.len();
        self.note.blocks.push(MdBlock {
            kind,
            subtype,
            parent,
            text: String::new(),
            id: None,
        });
        if kind == "h" {
            self.sections
                .last_mut()
                .expect("document level")
                .push((level, idx));
        }
        self.open.push(idx);
        if !Self::is_leaf(kind) {
            self.sections.push(Vec::new());
        }
        self.scan.clear();
        idx
    }

    fn close_block(&mut self) {
        let Some(idx) = self.open.pop() else {
            return;
        };
        let kind = self.note.blocks[idx].kind;
        if Self::is_leaf(kind) {
            self.finish_leaf(idx);
        } else {
            self.sections.pop();
        }
    }

    /// Text arriving directly in a container (a tight list item) goes to an implicit
    /// paragraph.
    fn leaf(&mut self) -> usize {
        match self.current() {
            Some(i) if Self::is_leaf(self.note.blocks[i].kind) => i,
            _ => {
                let i = self.open_block("p", String::new(), 16);
                self.implicit.push(i);
                i
            }
        }
    }

    fn close_implicit(&mut self) {
        if let Some(i) = self.current() {
            if self.note.blocks[i].kind == "p" && self.implicit.contains(&i) {
                self.close_block();
            }
        }
    }

    fn text(&mut self, t: &str, scan: bool) {
        let i = self.leaf();
        self.note.blocks[i].text.push_str(t);
        if scan && self.in_link.is_none() {
            self.scan.push_str(t);
        } else {
            // Keep offsets of words apart in the scan text.
            self.scan.push(' ');
        }
    }

    fn link(&mut self, range: std::ops::Range<usize>, embed: bool) {
        let i = self.leaf();
        let raw = &self.src[range];
        let inner = raw
            .trim_start_matches('!')
            .trim_start_matches("[[")
            .trim_end_matches("]]");
        let (target, label) = split_wikilink(inner, self.flavour);
        self.in_link = Some(self.note.links.len());
        self.note.links.push(MdLink {
            block: i,
            target: note_target(&target),
            label,
            embed,
        });
    }

    /// Wikilinks written inside raw HTML, which CommonMark leaves unparsed (not those in
    /// `<!-- comments -->`: commented out is not linked).
    fn html_links(&mut self, html: &str) {
        let i = self.leaf();
        // HTML blocks come a line at a time: a comment may span events.
        let mut visible = String::with_capacity(html.len());
        let mut rest = html;
        loop {
            if self.in_comment {
                match rest.find("-->") {
                    Some(end) => {
                        rest = &rest[end + 3..];
                        self.in_comment = false;
                    }
                    None => break,
                }
            } else {
                match rest.find("<!--") {
                    Some(start) => {
                        visible.push_str(&rest[..start]);
                        rest = &rest[start + 4..];
                        self.in_comment = true;
                    }
                    None => {
                        visible.push_str(rest);
                        break;
                    }
                }
            }
        }
        self.loose_wikilinks(i, &visible);
    }

    /// `[[…]]` in text the CommonMark parser left as text (HTML, or forms it does not take
    /// for a wikilink, like Dendron's `![[|target]]`).
    fn loose_wikilinks(&mut self, block: usize, text: &str) {
        let mut rest = text;
        while let Some(start) = rest.find("[[") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("]]") else { break };
            let inner = &after[..end];
            if inner.contains('\n') || inner.contains("[[") {
                rest = after;
                continue;
            }
            let (target, label) = split_wikilink(inner, self.flavour);
            if !target.is_empty() {
                self.note.links.push(MdLink {
                    block,
                    target: note_target(&target),
                    label,
                    embed: rest[..start].ends_with('!'),
                });
            }
            rest = &after[end + 2..];
        }
    }

    /// Properties, ids, references and tags of a finished leaf block.
    fn finish_leaf(&mut self, idx: usize) {
        let scan = std::mem::take(&mut self.scan);
        // Property and attribute-list lines: `key:: value`, `{: id="…"}`.
        let text = std::mem::take(&mut self.note.blocks[idx].text);
        let mut kept: Vec<&str> = Vec::new();
        for line in text.split('\n') {
            let t = line.trim();
            if let Some(id) = ial_id(t) {
                // An attribute list on its own names the block before it.
                let target = if kept.is_empty() && idx > 0 {
                    self.owner_of(idx - 1)
                } else {
                    self.owner_of(idx)
                };
                self.note.blocks[target].id = Some(id);
                continue;
            }
            if let Some((k, v)) = property(t) {
                if self.flavour == Flavour::Logseq || k == "id" {
                    match k.as_str() {
                        "id" => {
                            let owner = self.owner_of(idx);
                            self.note.blocks[owner].id = Some(v.to_string());
                        }
                        "title" if self.first_text_block(idx) => {
                            self.note.title = Some(v.to_string())
                        }
                        "alias" if self.first_text_block(idx) => {
                            self.note.aliases.extend(split_list(v));
                        }
                        // Plain values of `tags::` are page references in Logseq
                        // (bracketed and `#` ones are links already).
                        "tags" => {
                            for t in v.split(',').map(str::trim) {
                                if !t.is_empty() && !t.starts_with("[[") && !t.starts_with('#') {
                                    self.note.links.push(MdLink {
                                        block: idx,
                                        target: Target::Note {
                                            name: t.to_string(),
                                            fragment: None,
                                        },
                                        label: t.to_string(),
                                        embed: false,
                                    });
                                }
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
            }
            kept.push(line);
        }
        let mut text = kept.join("\n").trim().to_string();
        // Obsidian's `^block-id` at the end of a block.
        if let Some(pos) = text
            .rfind(" ^")
            .or_else(|| text.starts_with('^').then_some(0))
        {
            let id = text[pos..].trim().trim_start_matches('^');
            if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                let owner = self.owner_of(idx);
                self.note.blocks[owner].id = Some(format!("^{id}"));
                text.truncate(pos);
            }
        }
        self.note.blocks[idx].text = text;
        self.loose_wikilinks(idx, &scan);
        for (id, anchor) in block_refs(&scan) {
            self.note.links.push(MdLink {
                block: idx,
                target: Target::Block(id),
                label: anchor,
                embed: false,
            });
        }
        if self.flavour == Flavour::Logseq {
            for tag in hashtags(&scan) {
                self.note.links.push(MdLink {
                    block: idx,
                    target: Target::Note {
                        name: tag.clone(),
                        fragment: None,
                    },
                    label: format!("#{tag}"),
                    embed: false,
                });
            }
        }
    }

    /// A paragraph that is a list item's text stands for the item.
    fn owner_of(&self, idx: usize) -> usize {
        let b = &self.note.blocks[idx];
        match b.parent {
            Some(p) if b.kind == "p" && self.note.blocks[p].kind == "i" => p,
            _ => idx,
        }
    }

    /// Page properties live in the note's first text block.
    fn first_text_block(&self, idx: usize) -> bool {
        !self.note.blocks[..idx]
            .iter()
            .any(|b| Self::is_leaf(b.kind) && !b.text.is_empty())
    }
}

/// `key:: value` (Logseq), with a key of letters, digits, `-` and `_`.
fn property(line: &str) -> Option<(String, &str)> {
    let (k, v) = line
        .split_once(":: ")
        .or_else(|| line.strip_suffix("::").map(|k| (k, "")))?;
    let k = k.trim();
    (!k.is_empty()
        && k.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_'))
    .then(|| (k.to_lowercase(), v.trim()))
}

/// `{: id="…" …}` → the id.
fn ial_id(line: &str) -> Option<String> {
    let inner = line.strip_prefix("{:")?.strip_suffix('}')?;
    let at = inner.find("id=\"")?;
    if at > 0 && !inner[..at].ends_with(' ') {
        return None;
    }
    let rest = &inner[at + 4..];
    let end = rest.find('"')?;
    Some(rest[..end].to_string()).filter(|s| !s.is_empty())
}

/// `a, b` or `[a, b]` or `[[a]], [[b]]` → names.
fn split_list(v: &str) -> Vec<String> {
    v.trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| {
            s.trim()
                .trim_start_matches("[[")
                .trim_end_matches("]]")
                .trim_matches('"')
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Splits the inside of `[[…]]` into (target, label) by the flavour's order.
pub fn split_wikilink(inner: &str, flavour: Flavour) -> (String, String) {
    let (target, label) = match inner.split_once('|') {
        Some((a, b)) if flavour == Flavour::Dendron => (b, a),
        Some((a, b)) => (a, b),
        None => (inner, inner),
    };
    let mut target = target.trim();
    if flavour == Flavour::Dendron {
        if let Some(rest) = target.strip_prefix("dendron://") {
            target = rest.split_once('/').map_or(rest, |(_, t)| t);
        }
    }
    (target.to_string(), label.trim().to_string())
}

fn note_target(target: &str) -> Target {
    let (name, fragment) = match target.split_once('#') {
        Some((n, f)) => (n, Some(f.trim().to_string()).filter(|f| !f.is_empty())),
        None => (target, None),
    };
    Target::Note {
        name: name.trim().to_string(),
        fragment,
    }
}

/// `((id))`, `((id "anchor"))`, `((id 'anchor'))` in text.
fn block_refs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("((") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("))") else { break };
        let inner = after[..end].trim();
        let (id, anchor) = match inner.split_once(' ') {
            Some((id, a)) => {
                let a = a.trim();
                let unq = a
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .or_else(|| a.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')));
                match unq {
                    Some(a) => (id, a.to_string()),
                    None => ("", String::new()),
                }
            }
            None => (inner, String::new()),
        };
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && id.contains('-');
        if ok {
            out.push((id.to_string(), anchor));
        }
        rest = &after[end + 2..];
    }
    out
}

/// Logseq `#tag` (a `#` at the start or after a space, up to a space or punctuation).
fn hashtags(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (n, &(i, c)) in chars.iter().enumerate() {
        if c != '#' || (n > 0 && !chars[n - 1].1.is_whitespace()) {
            continue;
        }
        let rest = &text[i + 1..];
        if rest.starts_with("[[") || rest.starts_with('#') {
            continue; // #[[tag]] is a wikilink, ## is not a tag.
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || ",;!?()[]{}\"'`".contains(c))
            .unwrap_or(rest.len());
        let tag = rest[..end].trim_end_matches(['.', ':']);
        if !tag.is_empty() && !tag.chars().all(|c| c.is_ascii_digit()) {
            out.push(tag.to_string());
        }
    }
    out
}

/// Front matter: `title`, `aliases`/`alias`, `id`.
fn front_matter(yaml: &str, note: &mut Note) {
    let Ok(docs) = yaml_rust2::YamlLoader::load_from_str(yaml) else {
        return;
    };
    let Some(doc) = docs.first() else { return };
    let scalar = |y: &yaml_rust2::Yaml| -> Option<String> {
        match y {
            yaml_rust2::Yaml::String(s) => Some(s.clone()),
            yaml_rust2::Yaml::Integer(i) => Some(i.to_string()),
            yaml_rust2::Yaml::Real(r) => Some(r.clone()),
            _ => None,
        }
    };
    if let Some(t) = scalar(&doc["title"]) {
        note.title = Some(t);
    }
    if let Some(id) = scalar(&doc["id"]) {
        note.id = Some(id);
    }
    for key in ["aliases", "alias"] {
        match &doc[key] {
            yaml_rust2::Yaml::Array(a) => note.aliases.extend(a.iter().filter_map(scalar)),
            y => {
                if let Some(s) = scalar(y) {
                    note.aliases.extend(split_list(&s));
                }
            }
        }
    }
}

/// Parses one note.
pub fn parse_note(src: &str, flavour: Flavour) -> Note {
    match flavour {
        Flavour::Logseq => parse_outline(src),
        _ => parse_commonmark(src, flavour),
    }
}

/// Width of leading whitespace, a tab counting as four columns.
fn indent_width(line: &str) -> (usize, usize) {
    let mut w = 0;
    let mut bytes = 0;
    for c in line.chars() {
        match c {
            ' ' => w += 1,
            '\t' => w += 4,
            _ => break,
        }
        bytes += 1;
    }
    (w, bytes)
}

/// A Logseq page is an outline: every `- ` line starts a block, nested by indentation, and
/// the lines under it continue it. (Read as CommonMark, a tab-indented item after a heading
/// would be a code block.) Each block's text is read as Markdown on its own.
fn parse_outline(src: &str) -> Note {
    // (indent, content) per item; the preamble (page properties before the first bullet)
    // is an item at indent 0 when present.
    let mut items: Vec<(usize, String)> = Vec::new();
    let mut preamble = String::new();
    let mut content_indent = 0usize;
    let mut in_fence = false;
    for line in src.lines() {
        let (w, b) = indent_width(line);
        let rest = &line[b..];
        let bullet = !in_fence
            && (rest.starts_with("- ") || rest.starts_with("* ") || rest == "-" || rest == "*");
        let body = if bullet {
            rest.get(2..).unwrap_or("")
        } else {
            rest
        };
        // A fence may open on a bullet line (`- ```clojure`); bullets inside it are code.
        let fence = body.trim_start().starts_with("```") || body.trim_start().starts_with("~~~");
        if bullet {
            let text = body;
            items.push((w, text.to_string()));
            content_indent = w + 2;
        } else if let Some((_, text)) = items.last_mut() {
            // A continuation line: drop the item's indentation.
            let mut cut = 0;
            let mut width = 0;
            for (i, c) in line.char_indices() {
                if width >= content_indent || !(c == ' ' || c == '\t') {
                    break;
                }
                width += if c == '\t' { 4 } else { 1 };
                cut = i + c.len_utf8();
            }
            text.push('\n');
            text.push_str(&line[cut..]);
        } else {
            preamble.push_str(line);
            preamble.push('\n');
        }
        if fence {
            in_fence = !in_fence;
        }
    }
    let mut note = Note::default();
    let graft = |note: &mut Note, parent: Option<usize>, text: &str, first: bool| {
        let sub = parse_commonmark(text, Flavour::Logseq);
        let offset = note.blocks.len();
        if first {
            note.title = sub.title.clone();
            note.aliases = sub.aliases.clone();
        }
        for mut b in sub.blocks {
            let top = b.parent.is_none();
            b.parent = b.parent.map(|p| p + offset).or(parent);
            // An `id::` in the item's text names the item.
            if let (true, Some(item)) = (top, parent) {
                if note.blocks[item].id.is_none() {
                    note.blocks[item].id = b.id.take();
                }
            }
            note.blocks.push(b);
        }
        for mut l in sub.links {
            l.block += offset;
            note.links.push(l);
        }
    };
    if !preamble.trim().is_empty() {
        graft(&mut note, None, &preamble, true);
    }
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for (n, (w, text)) in items.iter().enumerate() {
        while stack.last().is_some_and(|&(sw, _)| sw >= *w) {
            stack.pop();
        }
        let parent = stack.last().map(|&(_, i)| i);
        let idx = note.blocks.len();
        note.blocks.push(MdBlock {
            kind: "i",
            subtype: "u".into(),
            parent,
            text: String::new(),
            id: None,
        });
        stack.push((*w, idx));
        let first = n == 0 && preamble.trim().is_empty();
        graft(&mut note, Some(idx), text, first);
    }
    note
}

fn parse_commonmark(src: &str, flavour: Flavour) -> Note {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_WIKILINKS);
    opts.insert(Options::ENABLE_YAML_STYLE_METADATA_BLOCKS);
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut b = Builder {
        src,
        flavour,
        note: Note::default(),
        open: Vec::new(),
        sections: vec![Vec::new()],
        in_link: None,
        scan: String::new(),
        in_metadata: false,
        metadata: String::new(),
        lists: Vec::new(),
        implicit: Vec::new(),
        in_comment: false,
    };
    for (event, range) in Parser::new_ext(src, opts).into_offset_iter() {
        match event {
            Event::Start(tag) => match tag {
                Tag::MetadataBlock(_) => b.in_metadata = true,
                Tag::Paragraph => {
                    b.close_implicit();
                    b.open_block("p", String::new(), 16);
                }
                Tag::Heading { level, .. } => {
                    b.close_implicit();
                    let l = heading_level(level);
                    b.open_block("h", format!("h{l}"), l);
                }
                Tag::CodeBlock(_) => {
                    b.close_implicit();
                    b.open_block("c", String::new(), 16);
                }
                Tag::Table(_) => {
                    b.close_implicit();
                    b.open_block("t", String::new(), 16);
                }
                Tag::BlockQuote(_) => {
                    b.close_implicit();
                    b.open_block("b", String::new(), 16);
                }
                Tag::List(start) => {
                    b.close_implicit();
                    let kind = if start.is_some() { "o" } else { "u" };
                    b.lists.push(kind);
                    b.open_block("l", kind.to_string(), 16);
                }
                Tag::Item => {
                    b.close_implicit();
                    let kind = b.lists.last().copied().unwrap_or("u");
                    b.open_block("i", kind.to_string(), 16);
                }
                Tag::Link {
                    link_type: LinkType::WikiLink { .. },
                    ..
                } => b.link(range, false),
                Tag::Image {
                    link_type: LinkType::WikiLink { .. },
                    ..
                } => b.link(range, true),
                // Logseq's labelled page reference: `[label]([[page]])`.
                Tag::Link { dest_url, .. }
                    if dest_url.starts_with("[[") && dest_url.ends_with("]]") =>
                {
                    let i = b.leaf();
                    let inner = &dest_url[2..dest_url.len() - 2];
                    let (target, _) = split_wikilink(inner, b.flavour);
                    b.in_link = Some(b.note.links.len());
                    b.note.links.push(MdLink {
                        block: i,
                        target: note_target(&target),
                        label: String::new(),
                        embed: false,
                    });
                }
                // Logseq's labelled block reference: `[label](((uuid)))`.
                Tag::Link { dest_url, .. }
                    if dest_url.starts_with("((") && dest_url.ends_with("))") =>
                {
                    let i = b.leaf();
                    if let Some((id, _)) = block_refs(&dest_url).into_iter().next() {
                        b.in_link = Some(b.note.links.len());
                        b.note.links.push(MdLink {
                            block: i,
                            target: Target::Block(id),
                            label: String::new(),
                            embed: false,
                        });
                    }
                }
                Tag::TableCell => {
                    let i = b.leaf();
                    if !b.note.blocks[i].text.is_empty() {
                        b.note.blocks[i].text.push(' ');
                    }
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::MetadataBlock(_) => {
                    b.in_metadata = false;
                    let yaml = std::mem::take(&mut b.metadata);
                    front_matter(&yaml, &mut b.note);
                }
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::CodeBlock
                | TagEnd::Table
                | TagEnd::BlockQuote(_)
                | TagEnd::Item => {
                    b.close_implicit();
                    b.close_block();
                }
                TagEnd::List(_) => {
                    b.close_implicit();
                    b.close_block();
                    b.lists.pop();
                }
                TagEnd::Link | TagEnd::Image => b.in_link = None,
                _ => {}
            },
            Event::Text(t) => {
                if b.in_metadata {
                    b.metadata.push_str(&t);
                } else {
                    let code = b.current().is_some_and(|i| b.note.blocks[i].kind == "c");
                    b.text(&t, !code);
                }
            }
            Event::Code(t) => b.text(&t, false),
            Event::InlineMath(t) | Event::DisplayMath(t) => b.text(&t, false),
            Event::SoftBreak | Event::HardBreak => b.text("\n", true),
            Event::TaskListMarker(_) => {
                if let Some(i) = b.open.iter().rev().find(|&&i| b.note.blocks[i].kind == "i") {
                    b.note.blocks[*i].subtype = "t".into();
                }
            }
            Event::Html(t) => {
                // SilverBullet renders Markdown inside HTML blocks: their wikilinks count.
                b.text(&t, false);
                b.html_links(&t);
            }
            Event::InlineHtml(t) => b.text(&t, false),
            _ => {}
        }
    }
    while !b.open.is_empty() {
        b.close_block();
    }
    b.note
}
