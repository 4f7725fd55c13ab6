//! The SiYuan kernel API dialect: `/api/ref/*` (`docs/api-siyuan.md`). Answers have the
//! users' contract shape (`../shared/spec/siyuan-backlinks.md` §9) inside the kernel's
//! `{code, msg, data}` envelope; the kernel's request forms are accepted too.

mod mentions;
mod refs;
mod sort;

use crate::json::{Json, Obj};
use crate::Response;
use inlink_model::{BlockRecord, PageId};
use inlink_store::{LinkStore, StoreError};
use refs::{Context, Def, LinkRefs, PageData, Pages};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The endpoints under `/api/ref/`.
pub const ENDPOINTS: [&str; 5] = [
    "getBacklinkDoc",
    "getBacklink2",
    "getBacklink",
    "getBackmentionDoc",
    "refreshBacklink",
];

/// The dialect over one store.
pub struct SiYuan {
    store: Arc<dyn LinkStore>,
    /// Documents' descriptions by page, for the store generation they were read at.
    docs: Mutex<(u64, DocCache)>,
}

type DocCache = HashMap<PageId, Option<Arc<DocInfo>>>;

/// A request's failure, answered with `code: -1`.
struct Failure(String);

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure(format!("index error: {e}"))
    }
}

type Out = Result<Json, Failure>;

fn envelope(code: i64, msg: &str, data: Json) -> Response {
    let mut o = Obj::new();
    o.push("code", Json::Int(code))
        .push("msg", Json::str(msg))
        .push("data", data);
    Response {
        status: 200,
        headers: vec![("Content-Type", "application/json; charset=utf-8".into())],
        body: Json::Obj(o).to_string(false),
    }
}

/// HTTP 401 with the kernel's body (no `data` key); `what` names the credential that failed
/// (`header: Authorization`, `query: token`).
pub fn auth_failed(what: &str) -> Response {
    let mut o = Obj::new();
    o.push("code", Json::Int(-1))
        .push("msg", Json::str(format!("Auth failed [{what}]")));
    Response {
        status: 401,
        headers: vec![("Content-Type", "application/json; charset=utf-8".into())],
        body: Json::Obj(o).to_string(false),
    }
}

/// The JSON arguments of one request.
struct Args<'a> {
    obj: &'a serde_json::Map<String, Value>,
}

impl Args<'_> {
    /// The argument, unless absent or `null`.
    fn get(&self, key: &str) -> Option<&Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    fn required_str(&self, key: &str) -> Result<String, Failure> {
        match self.get(key) {
            None => Err(Failure(format!("JSON arg [{key}] is required"))),
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(Failure(format!(
                "JSON arg [{key}] is required: an empty string was given"
            ))),
            Some(v) => Err(mistyped(key, "a string", v)),
        }
    }

    fn str(&self, key: &str) -> Result<Option<String>, Failure> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(mistyped(key, "a string", v)),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, Failure> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(mistyped(key, "a boolean", v)),
        }
    }

    /// A sort mode: the kernel's string (`"3"`), or a number as in-process callers send it.
    /// A string that is not a number means 0, as the kernel's `Atoi` leaves it.
    fn sort(&self, key: &str) -> Result<i64, Failure> {
        match self.get(key) {
            None => Ok(3),
            Some(Value::String(s)) => Ok(s.trim().parse().unwrap_or(0)),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| mistyped(key, "a sort mode like \"3\"", v)),
        }
    }

    /// A non-negative count (pagination), as a number or a numeric string.
    fn count(&self, key: &str) -> Result<Option<usize>, Failure> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n = match v {
            Value::String(s) => s.trim().parse().ok(),
            v => v.as_u64(),
        };
        n.map(|n| Some(n as usize))
            .ok_or_else(|| mistyped(key, "a whole number ≥ 0", v))
    }
}

/// The contract's message for a missing argument, with what was wrong.
fn mistyped(key: &str, want: &str, got: &Value) -> Failure {
    Failure(format!(
        "JSON arg [{key}] is required: {want}, not {}",
        type_name(got)
    ))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `&`, `<`, `>`, `'` and `"` escaped as the kernel escapes names and paths.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            c => out.push(c),
        }
    }
    out
}

/// SiYuan's `Node…` type name of a block-type abbreviation.
pub fn node_type(kind: &str) -> &'static str {
    match kind {
        "d" => "NodeDocument",
        "h" => "NodeHeading",
        "l" => "NodeList",
        "i" => "NodeListItem",
        "c" => "NodeCodeBlock",
        "m" => "NodeMathBlock",
        "t" => "NodeTable",
        "b" => "NodeBlockquote",
        "s" => "NodeSuperBlock",
        "p" => "NodeParagraph",
        "html" => "NodeHTMLBlock",
        "query_embed" => "NodeBlockQueryEmbed",
        "av" => "NodeAttributeView",
        "iframe" => "NodeIFrame",
        "widget" => "NodeWidget",
        "tb" => "NodeThematicBreak",
        "video" => "NodeVideo",
        "audio" => "NodeAudio",
        "callout" => "NodeCallout",
        "custom" => "NodeCustomBlock",
        "git_conflict" => "NodeGitConflict",
        _ => "NodeParagraph",
    }
}

/// A document as the answers describe it.
struct DocInfo {
    id: String,
    box_id: String,
    title: String,
    /// `/`-separated titles from the notebook root, with a leading `/`.
    hpath: String,
    notebook: String,
    path: String,
    updated: String,
    created: String,
}

impl DocInfo {
    fn of(page: &PageData) -> Option<DocInfo> {
        DocInfo::from_block(page.doc()?)
    }

    fn from_block(d: &BlockRecord) -> Option<DocInfo> {
        if d.parent.is_some() {
            return None;
        }
        let hpath = match d.attr("hpath") {
            "" => format!("/{}", d.content),
            h => h.to_string(),
        };
        Some(DocInfo {
            id: d.id.clone(),
            box_id: d.attr("box").to_string(),
            title: d.content.clone(),
            hpath,
            notebook: d.attr("notebook").to_string(),
            path: d.attr("path").to_string(),
            updated: d.updated.clone(),
            created: d.created.clone(),
        })
    }

    /// `name`: the title, HTML-escaped.
    fn name(&self) -> String {
        escape_html(&self.title)
    }

    /// `hPath`: the notebook name and the escaped path, without a leading `/`.
    fn full_hpath(&self) -> String {
        let path = escape_html(&self.hpath);
        match self.notebook.as_str() {
            "" => path,
            nb => format!("{nb}{path}"),
        }
    }
}

/// A document item of getBacklink2 (`Path`, plus the users' contract's fields).
struct Item {
    page: PageId,
    doc: Arc<DocInfo>,
    count: usize,
    /// A snippet of the first block shown for this document.
    content: String,
    /// The blocks shown for this document, in document order.
    blocks: Vec<String>,
}

impl sort::Sortable for Item {
    fn id(&self) -> &str {
        &self.doc.id
    }
    fn name(&self) -> &str {
        &self.doc.title
    }
    fn updated(&self) -> &str {
        &self.doc.updated
    }
    fn created(&self) -> &str {
        &self.doc.created
    }
}

impl Item {
    fn json(&self) -> Json {
        Json::Obj(self.obj())
    }

    fn obj(&self) -> Obj {
        let mut o = Obj::new();
        o.push("id", Json::str(&self.doc.id))
            .push("box", Json::str(&self.doc.box_id))
            .push("name", Json::str(self.doc.name()))
            .push("hPath", Json::str(self.doc.full_hpath()))
            .push("content", Json::str(&self.content))
            .push("type", Json::str("backlink"))
            .push("nodeType", Json::str("NodeDocument"))
            .push("subType", Json::str(""))
            .push("depth", Json::Int(0))
            .push("count", Json::Int(self.count as i64))
            .push("folded", Json::Bool(false))
            .push("updated", Json::str(&self.doc.updated))
            .push("created", Json::str(&self.doc.created));
        o
    }
}

/// Snippets are cut to this many characters.
const SNIPPET_CHARS: usize = 256;

fn snippet(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(SNIPPET_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A block shown for a document: by id (backlink contexts) or by position (mentions).
enum Shown {
    Id(String),
    Pos(u32),
}

/// Which documents of a sorted list to answer with: page `page` (from 1) of `size`.
#[derive(Clone, Copy)]
struct Paging {
    page: usize,
    size: Option<usize>,
}

const ALL: Paging = Paging {
    page: 1,
    size: None,
};

/// Mention documents per answer unless `mPageSize` says otherwise.
const MENTION_PAGE: usize = 100;

impl SiYuan {
    /// A document's description, cached until the index changes: sorting thousands of
    /// mention documents needs their titles and times, not their blocks.
    fn doc_info(&self, page: PageId) -> Result<Option<Arc<DocInfo>>, Failure> {
        let generation = self.store.generation();
        {
            let mut cache = self.docs.lock().unwrap_or_else(|e| e.into_inner());
            if cache.0 != generation {
                *cache = (generation, HashMap::new());
            }
            if let Some(d) = cache.1.get(&page) {
                return Ok(d.clone());
            }
        }
        let info = self
            .store
            .first_block(page)?
            .and_then(|b| DocInfo::from_block(&b))
            .map(Arc::new);
        let mut cache = self.docs.lock().unwrap_or_else(|e| e.into_inner());
        if cache.0 == generation {
            cache.1.insert(page, info.clone());
        }
        Ok(info)
    }

    /// Describes every document of the index ahead of requests (a server calls it when it
    /// starts): a mention list spanning thousands of documents is then sorted from memory.
    /// Returns how many documents there are.
    pub fn warm(&self) -> Result<usize, StoreError> {
        let generation = self.store.generation();
        let mut docs = DocCache::new();
        let mut start = PageId(0);
        loop {
            let batch = self.store.pages(start, 10_000)?;
            let Some(last) = batch.last().map(|p| p.id) else {
                break;
            };
            for p in &batch {
                let info = self
                    .store
                    .first_block(p.id)?
                    .and_then(|b| DocInfo::from_block(&b))
                    .map(Arc::new);
                if info.is_some() {
                    docs.insert(p.id, info);
                }
            }
            match last.0.checked_add(1) {
                Some(n) => start = PageId(n),
                None => break,
            }
        }
        let n = docs.len();
        let mut cache = self.docs.lock().unwrap_or_else(|e| e.into_inner());
        if self.store.generation() == generation {
            *cache = (generation, docs);
        }
        Ok(n)
    }

    /// Groups shown blocks by document into items sorted by `mode`; only the items of
    /// `paging` get their blocks read (for `content` and `blocks`).
    fn group(
        &self,
        pages: &mut Pages,
        shown: impl IntoIterator<Item = (PageId, Shown)>,
        mode: i64,
        paging: Paging,
    ) -> Result<Vec<Item>, Failure> {
        let mut by_page: BTreeMap<PageId, Vec<Shown>> = BTreeMap::new();
        for (p, b) in shown {
            by_page.entry(p).or_default().push(b);
        }
        let mut items = Vec::with_capacity(by_page.len());
        let mut held: HashMap<PageId, Vec<Shown>> = HashMap::with_capacity(by_page.len());
        for (p, list) in by_page {
            let Some(doc) = self.doc_info(p)? else {
                continue;
            };
            items.push(Item {
                page: p,
                doc,
                count: list.len(),
                content: String::new(),
                blocks: Vec::new(),
            });
            held.insert(p, list);
        }
        sort::sort_items(&mut items, mode);
        if let Some(size) = paging.size {
            let skip = (paging.page.max(1) - 1).saturating_mul(size);
            items = items.into_iter().skip(skip).take(size).collect();
        }
        for item in &mut items {
            let page = pages.get(item.page)?;
            let mut ids: Vec<String> = held
                .remove(&item.page)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|b| match b {
                    Shown::Id(id) => Some(id),
                    Shown::Pos(i) => page.blocks.get(i as usize).map(|b| b.id.clone()),
                })
                .collect();
            ids.sort_by_key(|id| page.position(id));
            item.content = ids
                .first()
                .and_then(|id| page.get(id))
                .map(|b| snippet(&b.content))
                .unwrap_or_default();
            item.blocks = ids;
        }
        Ok(items)
    }
}

/// Backlinks of `def` with the request's options.
fn backlinks_of(
    pages: &mut Pages,
    def: &Def,
    contain_children: bool,
    only: Option<PageId>,
    keywords: &[String],
) -> Result<LinkRefs, Failure> {
    let ids = refs::def_ids(def, contain_children);
    let rows = refs::ref_rows(pages, &ids, only)?;
    Ok(refs::link_refs(pages, rows, keywords)?)
}

impl SiYuan {
    pub fn new(store: Arc<dyn LinkStore>) -> Self {
        SiYuan {
            store,
            docs: Mutex::new((u64::MAX, HashMap::new())),
        }
    }

    /// Answers `POST /api/ref/<endpoint>` with body `body`; `None` for an unknown endpoint
    /// (the server answers 404 as the kernel's router does).
    pub fn handle(&self, endpoint: &str, body: &[u8]) -> Option<Response> {
        if !ENDPOINTS.contains(&endpoint) {
            return None;
        }
        let parsed: Result<Value, String> = if body.iter().all(u8::is_ascii_whitespace) {
            Err("the request body is empty or truncated (EOF)".into())
        } else {
            serde_json::from_slice(body).map_err(|e| e.to_string())
        };
        let obj = match parsed {
            Ok(Value::Object(o)) => o,
            Ok(other) => {
                return Some(envelope(
                    -1,
                    &format!(
                        "Parses request [/api/ref/{endpoint}] failed: the body is {}, not a JSON object",
                        type_name(&other)
                    ),
                    Json::Null,
                ))
            }
            Err(e) => {
                return Some(envelope(
                    -1,
                    &format!("Parses request [/api/ref/{endpoint}] failed: {e}"),
                    Json::Null,
                ))
            }
        };
        let args = Args { obj: &obj };
        let mut pages = Pages::new(self.store.as_ref());
        let out = match endpoint {
            "getBacklinkDoc" => self.backlink_doc(&mut pages, &args),
            "getBacklink2" => self.backlink2(&mut pages, &args),
            "getBacklink" => self.backlink_legacy(&mut pages, &args),
            "getBackmentionDoc" => self.backmention_doc(&mut pages, &args),
            // The index is current when a write is acknowledged: nothing to refresh.
            _ => args.required_str("id").map(|_| Json::Null),
        };
        Some(match out {
            Ok(data) => envelope(0, "", data),
            Err(Failure(msg)) => envelope(-1, &msg, Json::Null),
        })
    }

    /// The page of document `id` (a document id, not any block's).
    fn doc_page(&self, id: &str) -> Result<Option<PageId>, Failure> {
        Ok(self
            .store
            .block(id)?
            .filter(|b| b.parent.is_none())
            .map(|b| b.page))
    }

    /// getBacklinkDoc, users' contract: the documents referencing `defID` (or its block
    /// `refID`), each with its referencing blocks.
    fn backlink_doc(&self, pages: &mut Pages, args: &Args) -> Out {
        let def_id = args.required_str("defID")?;
        let ref_id = args.str("refID")?.filter(|s| !s.is_empty());
        let ref_tree = args.str("refTreeID")?.filter(|s| !s.is_empty());
        let keyword = args.str("keyword")?.unwrap_or_default();
        let contain_children = args.bool("containChildren", true)?;
        args.bool("highlight", true)?;
        let mode = args.sort("sort")?;
        let kw = refs::keywords(&keyword);
        let mut data = Obj::new();
        let empty = |data: &mut Obj, kw: &[String]| {
            data.push("backlinks", Json::Arr(vec![]))
                .push("refCount", Json::Int(0))
                .push("docCount", Json::Int(0))
                .push("keywords", keywords_json(kw));
        };
        let Some(def) = refs::load_def(pages, &def_id)? else {
            empty(&mut data, &kw);
            return Ok(Json::Obj(data));
        };
        let (def, contain_children) = match ref_id {
            Some(r) => {
                if !def.page.index.contains_key(&r) {
                    return Err(Failure(format!(
                        "JSON arg [refID] is not a block of [{def_id}]: {r}"
                    )));
                }
                let block = def.page.get(&r).cloned().expect("checked");
                (
                    Def {
                        block,
                        page: def.page.clone(),
                    },
                    false,
                )
            }
            None => (def, contain_children),
        };
        let only = match &ref_tree {
            Some(t) => match self.doc_page(t)? {
                Some(p) => Some(p),
                None => {
                    empty(&mut data, &kw);
                    return Ok(Json::Obj(data));
                }
            },
            None => None,
        };
        let links = backlinks_of(pages, &def, contain_children, only, &kw)?;
        let shown = links
            .contexts
            .iter()
            .map(|c| (c.page, Shown::Id(c.id.clone())));
        let items = self.group(pages, shown, mode, ALL)?;
        let mut list = Vec::new();
        let mut ref_count = 0;
        for item in &items {
            let page = pages.get(item.page)?;
            let mine: Vec<&Context> = links
                .contexts
                .iter()
                .filter(|c| c.page == item.page)
                .collect();
            let mut block_ids: Vec<String> = mine.iter().flat_map(|c| c.refs.clone()).collect();
            block_ids.sort_by_key(|id| page.position(id));
            block_ids.dedup();
            ref_count += block_ids.len();
            let mut contexts: Vec<&Context> = mine.clone();
            contexts.sort_by_key(|c| page.position(&c.id));
            let mut o = Obj::new();
            o.push("id", Json::str(&item.doc.id))
                .push("rootID", Json::str(&item.doc.id))
                .push("title", Json::str(&item.doc.title))
                .push("path", Json::str(&item.doc.path))
                .push("box", Json::str(&item.doc.box_id))
                .push("hPath", Json::str(item.doc.full_hpath()))
                .push(
                    "blockIDs",
                    Json::Arr(block_ids.iter().map(Json::str).collect()),
                )
                .push(
                    "contexts",
                    Json::Arr(
                        contexts
                            .iter()
                            .filter_map(|c| page.get(&c.id).map(|b| (c, b)))
                            .map(|(c, b)| {
                                let mut o = Obj::new();
                                o.push("id", Json::str(&c.id))
                                    .push("type", Json::str(node_type(&b.kind)))
                                    .push("subType", Json::str(&b.subtype))
                                    .push("content", Json::str(snippet(&b.content)))
                                    .push(
                                        "refBlockIDs",
                                        Json::Arr(c.refs.iter().map(Json::str).collect()),
                                    )
                                    .push(
                                        "expand",
                                        Json::Bool(refs::expand(&page, &c.id, &links.original)),
                                    );
                                Json::Obj(o)
                            })
                            .collect(),
                    ),
                );
            list.push(Json::Obj(o));
        }
        data.push("backlinks", Json::Arr(list))
            .push("refCount", Json::Int(ref_count as i64))
            .push("docCount", Json::Int(items.len() as i64))
            .push("keywords", keywords_json(&kw));
        Ok(Json::Obj(data))
    }

    /// getBacklink2: documents with backlinks and documents with mentions.
    fn backlink2(&self, pages: &mut Pages, args: &Args) -> Out {
        let id = args.required_str("id")?;
        let k = args.str("k")?.unwrap_or_default();
        let mk = args.str("mk")?.unwrap_or_default();
        let sort = args.sort("sort")?;
        let msort = args.sort("mSort")?;
        let contain_children = args.bool("containChildren", true)?;
        let m_paging = mention_paging(args)?;
        let Some(def) = refs::load_def(pages, &id)? else {
            return Ok(panel(Panel::default(), k, mk));
        };
        let kw = refs::keywords(&k);
        let links = backlinks_of(pages, &def, contain_children, None, &kw)?;
        let shown = links
            .contexts
            .iter()
            .map(|c| (c.page, Shown::Id(c.id.clone())));
        let items = self.group(pages, shown, sort, ALL)?;
        let terms = mentions::terms(&def, &links.rows);
        let found = mentions::search(pages, &def, &links.rows, &terms, &mk)?;
        let mentions_count = found.len();
        let shown = found.into_iter().map(|(p, i)| (p, Shown::Pos(i)));
        let mitems = self.group(pages, shown, msort, m_paging)?;
        let doc = DocInfo::of(&def.page);
        Ok(panel(
            Panel {
                backlinks: items.iter().map(Item::json).collect(),
                link_refs: links.count,
                backmentions: mitems.iter().map(Item::json).collect(),
                mentions: mentions_count,
                box_id: doc.map(|d| d.box_id).unwrap_or_default(),
            },
            k,
            mk,
        ))
    }

    /// getBackmentionDoc: the mention blocks of one document (or of all, without
    /// `refTreeID`), in document order.
    fn backmention_doc(&self, pages: &mut Pages, args: &Args) -> Out {
        let def_id = args.required_str("defID")?;
        let ref_tree = args.str("refTreeID")?.filter(|s| !s.is_empty());
        let keyword = args.str("keyword")?.unwrap_or_default();
        let contain_children = args.bool("containChildren", true)?;
        args.bool("highlight", true)?;
        let mut data = Obj::new();
        let kw = refs::keywords(&keyword);
        let Some(def) = refs::load_def(pages, &def_id)? else {
            data.push("backmentions", Json::Arr(vec![]))
                .push("mentionsCount", Json::Int(0))
                .push("keywords", keywords_json(&kw));
            return Ok(Json::Obj(data));
        };
        // Mentions need the references (to leave them out, and for their anchor texts), not
        // the backlink panel's contexts.
        let rows = refs::raw_ref_rows(pages, &refs::def_ids(&def, contain_children), None)?;
        let terms = mentions::terms(&def, &rows);
        let only = match &ref_tree {
            Some(t) => Some(self.doc_page(t)?.unwrap_or(PageId(u32::MAX))),
            None => None,
        };
        let found: Vec<mentions::Mention> = mentions::search(pages, &def, &rows, &terms, &keyword)?
            .into_iter()
            .filter(|m| only.is_none_or(|p| m.0 == p))
            .collect();
        // Blocks in document order, a page of them.
        let size = args.count("pageSize")?.unwrap_or(MENTION_PAGE);
        let page_no = args.count("page")?.unwrap_or(1).max(1);
        let shown: Vec<&mentions::Mention> = if size == 0 {
            found.iter().collect()
        } else {
            found
                .iter()
                .skip((page_no - 1).saturating_mul(size))
                .take(size)
                .collect()
        };
        let mut list = Vec::new();
        for &&(p, pos) in &shown {
            let page = pages.get(p)?;
            let Some(b) = page.blocks.get(pos as usize) else {
                continue;
            };
            let mut o = Obj::new();
            o.push("id", Json::str(&b.id))
                .push(
                    "rootID",
                    Json::str(page.doc().map(|d| d.id.as_str()).unwrap_or("")),
                )
                .push("type", Json::str(node_type(&b.kind)))
                .push("subType", Json::str(&b.subtype))
                .push("content", Json::str(snippet(&b.content)));
            list.push(Json::Obj(o));
        }
        let mut all: Vec<String> = kw.clone();
        for t in terms {
            if !all.contains(&t) {
                all.push(t);
            }
        }
        data.push("backmentions", Json::Arr(list))
            .push("mentionsCount", Json::Int(found.len() as i64))
            .push("keywords", keywords_json(&all));
        Ok(Json::Obj(data))
    }

    /// getBacklink (legacy, mobile): documents by id descending with their blocks.
    fn backlink_legacy(&self, pages: &mut Pages, args: &Args) -> Out {
        let id = args.required_str("id")?;
        let k = args.str("k")?.unwrap_or_default();
        let mk = args.str("mk")?.unwrap_or_default();
        let contain_children = args.bool("containChildren", true)?;
        if let Some(v) = args.get("beforeLen").filter(|v| !v.is_number()) {
            return Err(mistyped("beforeLen", "a number", v));
        }
        let Some(def) = refs::load_def(pages, &id)? else {
            return Ok(panel(Panel::default(), k, mk));
        };
        let ids = refs::def_ids(&def, contain_children);
        let rows = refs::ref_rows(pages, &ids, None)?;
        let count = rows.len();
        // The legacy context: a paragraph under a list item or a heading shows that parent.
        let mut shown: Vec<(PageId, String)> = Vec::new();
        let mut seen = HashSet::new();
        let kw = refs::keywords(&k);
        for r in &rows {
            let page = pages.get(r.page)?;
            let b = page.get(&r.block).expect("existing");
            let ctx = match b.parent.as_deref().and_then(|p| page.get(p)) {
                Some(p) if b.kind == "p" && matches!(p.kind.as_str(), "i" | "h") => p,
                _ => b,
            };
            let title = page.doc().map(|d| d.content.as_str()).unwrap_or("");
            if !refs::matches(ctx, title, &kw) {
                continue;
            }
            if seen.insert(ctx.id.clone()) {
                shown.push((r.page, ctx.id.clone()));
            }
        }
        let links = refs::link_refs(pages, rows, &[])?;
        let shown = shown.into_iter().map(|(p, id)| (p, Shown::Id(id)));
        let items = self.group(pages, shown, -1, ALL)?;
        let terms = mentions::terms(&def, &links.rows);
        let found = mentions::search(pages, &def, &links.rows, &terms, &mk)?;
        let mentions_count = found.len();
        let shown = found.into_iter().map(|(p, i)| (p, Shown::Pos(i)));
        let mitems = self.group(pages, shown, -1, mention_paging(args)?)?;
        let render = |pages: &mut Pages,
                      items: &[Item],
                      with_notebook: bool|
         -> Result<Vec<Json>, Failure> {
            let mut list = Vec::new();
            for item in items {
                let page = pages.get(item.page)?;
                let mut o = item.obj();
                if !with_notebook {
                    if let Some(v) = o.get_mut("hPath") {
                        *v = Json::str(escape_html(&item.doc.hpath));
                    }
                }
                let blocks = item
                    .blocks
                    .iter()
                    .filter_map(|id| page.get(id))
                    .map(|b| block_json(b, &item.doc))
                    .collect();
                o.push("blocks", Json::Arr(blocks));
                list.push(Json::Obj(o));
            }
            Ok(list)
        };
        let backlinks = render(pages, &items, true)?;
        let backmentions = render(pages, &mitems, false)?;
        let doc = DocInfo::of(&def.page);
        let box_id = doc.map(|d| d.box_id).unwrap_or_default();
        Ok(panel(
            Panel {
                backlinks,
                link_refs: count as i64,
                backmentions,
                mentions: mentions_count,
                box_id,
            },
            k,
            mk,
        ))
    }
}

/// What the backlinks-and-mentions answers (getBacklink2, getBacklink) hold.
#[derive(Default)]
struct Panel {
    backlinks: Vec<Json>,
    link_refs: i64,
    backmentions: Vec<Json>,
    mentions: usize,
    box_id: String,
}

/// `{backlinks, linkRefsCount, backmentions, mentionsCount, k, mk, box}`, `k` and `mk` as sent.
fn panel(p: Panel, k: String, mk: String) -> Json {
    let mut o = Obj::new();
    o.push("backlinks", Json::Arr(p.backlinks))
        .push("linkRefsCount", Json::Int(p.link_refs))
        .push("backmentions", Json::Arr(p.backmentions))
        .push("mentionsCount", Json::Int(p.mentions as i64))
        .push("k", Json::str(k))
        .push("mk", Json::str(mk))
        .push("box", Json::str(p.box_id));
    Json::Obj(o)
}

/// `mPage` (from 1) and `mPageSize` (documents; 0 = all; 100 by default).
fn mention_paging(args: &Args) -> Result<Paging, Failure> {
    let size = args.count("mPageSize")?.unwrap_or(MENTION_PAGE);
    Ok(Paging {
        page: args.count("mPage")?.unwrap_or(1).max(1),
        size: (size > 0).then_some(size),
    })
}

fn keywords_json(kw: &[String]) -> Json {
    Json::Arr(kw.iter().map(Json::str).collect())
}

/// The kernel's `Block` object (getBacklink's `blocks`).
fn block_json(b: &BlockRecord, doc: &DocInfo) -> Json {
    let mut o = Obj::new();
    o.push("box", Json::str(&doc.box_id))
        .push("path", Json::str(&doc.path))
        .push("hPath", Json::str(""))
        .push("id", Json::str(&b.id))
        .push("rootID", Json::str(&doc.id))
        .push("parentID", Json::str(b.parent.clone().unwrap_or_default()))
        .push("name", Json::str(&b.name))
        .push("alias", Json::str(b.aliases.join(",")))
        .push("memo", Json::str(&b.memo))
        .push("tag", Json::str(b.attr("tags")))
        .push("content", Json::str(&b.content))
        .push("type", Json::str(node_type(&b.kind)))
        .push("subType", Json::str(&b.subtype))
        .push("created", Json::str(&b.created))
        .push("updated", Json::str(&b.updated));
    Json::Obj(o)
}
