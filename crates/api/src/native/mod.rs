//! inlink's own write API (`/v1/`, `docs/api-native.md`): atomic batches of page upserts
//! (wikitext or explicit link rows), deletions and moves with MediaWiki's semantics. A batch
//! is checked whole before anything is written, then applied as one store batch, so readers
//! see all of it or none, and an `ok` answer means it is durable.

use inlink_import::folder::NoteChange;
pub use inlink_import::folder::NotesFolder;
use inlink_import::live::wikitext_update;
use inlink_import::ImportError;
use inlink_model::{
    LinkKind, NamespaceId, PageId, PageRecord, SiteInfo, Title, TitleCodec, NS_CATEGORY, NS_FILE,
    NS_MAIN, NS_TEMPLATE,
};
use inlink_store::{Batch, LinkStore, Op, PageUpdate, RedirectRow};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::Response;

/// The OpenAPI 3.1 description served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Operations per batch; larger jobs are imports.
pub const MAX_OPS: usize = 10_000;
/// MediaWiki's `$wgMaxArticleSize` default (2048 KiB).
pub const MAX_TEXT_BYTES: usize = 2048 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    ops: Vec<OpRequest>,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum OpRequest {
    Upsert {
        title: String,
        id: Option<u32>,
        wikitext: Option<String>,
        links: Option<LinkRows>,
        redirect: Option<String>,
    },
    Delete {
        title: Option<String>,
        id: Option<u32>,
    },
    Move {
        from: String,
        to: String,
        #[serde(default)]
        redirect: bool,
    },
    #[serde(rename = "put_note")]
    PutNote {
        path: String,
        markdown: Option<String>,
        /// A SiYuan document: its JSON, as an object or as the text of a `.sy` file.
        sy: Option<Value>,
    },
    #[serde(rename = "delete_note")]
    DeleteNote { path: String },
    #[serde(rename = "move_note")]
    MoveNote { from: String, to: String },
}

impl OpRequest {
    fn is_note(&self) -> bool {
        matches!(
            self,
            OpRequest::PutNote { .. } | OpRequest::DeleteNote { .. } | OpRequest::MoveNote { .. }
        )
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct LinkRows {
    #[serde(default)]
    page: Vec<String>,
    #[serde(default)]
    template: Vec<String>,
    #[serde(default)]
    image: Vec<String>,
    #[serde(default)]
    category: Vec<String>,
}

/// A rejected request: HTTP status, stable code, message, and the failing operation.
#[derive(Debug)]
struct Rejected {
    status: u16,
    code: &'static str,
    info: String,
    op: Option<usize>,
}

fn bad(code: &'static str, info: impl Into<String>) -> Rejected {
    Rejected {
        status: 400,
        code,
        info: info.into(),
        op: None,
    }
}

/// The native dialect over a store.
pub struct Native {
    store: Arc<dyn LinkStore>,
    /// Batches are planned against the store's state, so one is planned and applied at a time
    /// (under the notes folder's lock when there is one: its syncs plan against it too).
    write: Mutex<()>,
    /// The folder of notes the index follows, which note operations write into.
    notes: Option<Arc<NotesFolder>>,
}

/// What the batch has done so far to titles and ids, over the store's state.
struct Plan<'a> {
    store: &'a dyn LinkStore,
    codec: &'a TitleCodec,
    by_title: HashMap<Title, Option<PageId>>,
    by_id: HashMap<PageId, Option<PageUpdate>>,
    next_id: u32,
    batch: Batch,
}

impl Plan<'_> {
    fn id_of(&self, t: &Title) -> Result<Option<PageId>, Rejected> {
        match self.by_title.get(t) {
            Some(v) => Ok(*v),
            None => Ok(self.store.page_by_title(t).map_err(internal)?.map(|p| p.id)),
        }
    }

    fn title_of(&self, id: PageId) -> Result<Option<Title>, Rejected> {
        match self.by_id.get(&id) {
            Some(u) => Ok(u.as_ref().map(|u| u.page.title.clone())),
            None => Ok(self.store.page(id).map_err(internal)?.map(|p| p.title)),
        }
    }

    /// The page's current rows: as this batch left them, else as stored.
    fn current(&self, id: PageId, title: Title) -> Result<PageUpdate, Rejected> {
        if let Some(Some(u)) = self.by_id.get(&id) {
            return Ok(u.clone());
        }
        let mut links = Vec::new();
        for kind in LinkKind::ALL {
            for t in self.store.outgoing(id, kind).map_err(internal)? {
                links.push((kind, t));
            }
        }
        let redirect = self.store.redirect(id).map_err(internal)?;
        Ok(PageUpdate {
            page: PageRecord {
                id,
                title,
                is_redirect: redirect.is_some(),
            },
            links,
            redirect,
        })
    }

    fn new_id(&mut self) -> Result<PageId, Rejected> {
        let id = self.next_id;
        self.next_id = id
            .checked_add(1)
            .ok_or_else(|| bad("toomanypages", "no page ids left"))?;
        Ok(PageId(id))
    }

    fn title(&self, field: &str, text: &str, default_ns: NamespaceId) -> Result<Title, Rejected> {
        match self.codec.parse(text, default_ns) {
            Ok(p) if p.is_local() && !p.dbkey.is_empty() && p.ns >= 0 => Ok(p.title()),
            Ok(_) => Err(bad(
                "badtitle",
                format!("{field}: \"{text}\" is not a page title of this wiki"),
            )),
            Err(e) => Err(bad("badtitle", format!("{field}: \"{text}\": {e}"))),
        }
    }

    fn put(&mut self, u: PageUpdate) -> Result<(), Rejected> {
        let id = u.page.id;
        if let Some(old) = self.title_of(id)? {
            if old != u.page.title {
                self.by_title.insert(old, None);
            }
        }
        self.by_title.insert(u.page.title.clone(), Some(id));
        self.by_id.insert(id, Some(u.clone()));
        self.batch.push(Op::Upsert(u));
        Ok(())
    }

    fn upsert(
        &mut self,
        title: &str,
        id: Option<u32>,
        wikitext: Option<&str>,
        links: Option<&LinkRows>,
        redirect: Option<&str>,
    ) -> Result<Value, Rejected> {
        let title = self.title("title", title, NS_MAIN)?;
        let holder = self.id_of(&title)?;
        let id = match (id, holder) {
            (Some(id), Some(h)) if h.0 != id => {
                return Err(Rejected {
                    status: 409,
                    code: "articleexists",
                    info: format!(
                        "\"{}\" is page {}, not page {id}",
                        self.codec.full_text(&title),
                        h.0
                    ),
                    op: None,
                })
            }
            (Some(0), _) => return Err(bad("badid", "page ids start at 1")),
            (Some(id), _) => PageId(id),
            (None, Some(h)) => h,
            (None, None) => self.new_id()?,
        };
        if id.0 >= self.next_id {
            self.next_id = id.0.saturating_add(1);
        }
        let created = self.title_of(id)?.is_none();
        let update = match (wikitext, links) {
            (Some(_), Some(_)) => {
                return Err(bad("badparams", "give \"wikitext\" or \"links\", not both"))
            }
            (Some(text), None) => {
                if redirect.is_some() {
                    return Err(bad(
                        "badparams",
                        "\"redirect\" goes with \"links\"; wikitext says it with #REDIRECT",
                    ));
                }
                if text.len() > MAX_TEXT_BYTES {
                    return Err(Rejected {
                        status: 413,
                        code: "contenttoobig",
                        info: format!("wikitext over {MAX_TEXT_BYTES} bytes"),
                        op: None,
                    });
                }
                wikitext_update(self.codec, self.store, id, title.clone(), text)
            }
            (None, rows) => {
                let rows = rows.cloned().unwrap_or_default();
                let mut links = Vec::new();
                for (kind, field, list, ns) in [
                    (LinkKind::Page, "links.page", &rows.page, NS_MAIN),
                    (
                        LinkKind::Template,
                        "links.template",
                        &rows.template,
                        NS_TEMPLATE,
                    ),
                    (LinkKind::Image, "links.image", &rows.image, NS_FILE),
                    (
                        LinkKind::Category,
                        "links.category",
                        &rows.category,
                        NS_CATEGORY,
                    ),
                ] {
                    for t in list {
                        let t = self.title(field, t, ns)?;
                        if (kind == LinkKind::Image && t.ns != NS_FILE)
                            || (kind == LinkKind::Category && t.ns != NS_CATEGORY)
                        {
                            return Err(bad(
                                "badtitle",
                                format!(
                                    "{field}: \"{}\" is not in the namespace of that table",
                                    self.codec.full_text(&t)
                                ),
                            ));
                        }
                        if !links.contains(&(kind, t.clone())) {
                            links.push((kind, t));
                        }
                    }
                }
                let redirect = match redirect {
                    Some(r) => {
                        let t = self.title("redirect", r, NS_MAIN)?;
                        if !links.contains(&(LinkKind::Page, t.clone())) {
                            links.push((LinkKind::Page, t.clone()));
                        }
                        Some(RedirectRow {
                            target: t,
                            fragment: String::new(),
                            interwiki: String::new(),
                        })
                    }
                    None => None,
                };
                PageUpdate {
                    page: PageRecord {
                        id,
                        title: title.clone(),
                        is_redirect: redirect.is_some(),
                    },
                    links,
                    redirect,
                }
            }
        };
        self.put(update)?;
        Ok(json!({
            "op": "upsert",
            "title": self.codec.full_text(&title),
            "pageid": id.0,
            "created": created,
        }))
    }

    fn delete(&mut self, title: Option<&str>, id: Option<u32>) -> Result<Value, Rejected> {
        let missing = |what: String| Rejected {
            status: 404,
            code: "missingtitle",
            info: format!("{what} does not exist"),
            op: None,
        };
        let (id, title) = match (title, id) {
            (Some(t), None) => {
                let t = self.title("title", t, NS_MAIN)?;
                match self.id_of(&t)? {
                    Some(id) => (id, t),
                    None => return Err(missing(format!("\"{}\"", self.codec.full_text(&t)))),
                }
            }
            (None, Some(id)) => match self.title_of(PageId(id))? {
                Some(t) => (PageId(id), t),
                None => return Err(missing(format!("page {id}"))),
            },
            _ => return Err(bad("badparams", "give \"title\" or \"id\"")),
        };
        self.by_title.insert(title.clone(), None);
        self.by_id.insert(id, None);
        self.batch.push(Op::Delete(id));
        Ok(json!({"op": "delete", "title": self.codec.full_text(&title), "pageid": id.0}))
    }

    /// MediaWiki's move: the page keeps its id and its links; links to the old title stay
    /// links to the old title; the redirect left behind is a new page.
    fn move_page(&mut self, from: &str, to: &str, redirect: bool) -> Result<Value, Rejected> {
        let from = self.title("from", from, NS_MAIN)?;
        let to = self.title("to", to, NS_MAIN)?;
        let Some(id) = self.id_of(&from)? else {
            return Err(Rejected {
                status: 404,
                code: "missingtitle",
                info: format!("\"{}\" does not exist", self.codec.full_text(&from)),
                op: None,
            });
        };
        if from == to {
            return Err(bad("selfmove", "the title is unchanged"));
        }
        if self.id_of(&to)?.is_some() {
            return Err(Rejected {
                status: 409,
                code: "articleexists",
                info: format!("\"{}\" already exists", self.codec.full_text(&to)),
                op: None,
            });
        }
        let mut u = self.current(id, from.clone())?;
        u.page.title = to.clone();
        self.put(u)?;
        let mut redirect_id = None;
        if redirect {
            let rid = self.new_id()?;
            self.put(PageUpdate {
                page: PageRecord {
                    id: rid,
                    title: from.clone(),
                    is_redirect: true,
                },
                links: vec![(LinkKind::Page, to.clone())],
                redirect: Some(RedirectRow {
                    target: to.clone(),
                    fragment: String::new(),
                    interwiki: String::new(),
                }),
            })?;
            redirect_id = Some(rid.0);
        }
        Ok(json!({
            "op": "move",
            "from": self.codec.full_text(&from),
            "to": self.codec.full_text(&to),
            "pageid": id.0,
            "redirectid": redirect_id,
        }))
    }
}

fn internal(e: inlink_store::StoreError) -> Rejected {
    Rejected {
        status: 500,
        code: "internal",
        info: format!("the index failed: {e}"),
        op: None,
    }
}

fn answer(status: u16, body: Value) -> Response {
    Response {
        status,
        headers: vec![("Content-Type", "application/json; charset=utf-8".into())],
        body: body.to_string(),
    }
}

/// An error answer in the native format (`{"error":{"code","info"}}`).
pub fn error(status: u16, code: &str, info: &str) -> Response {
    answer(status, json!({"error": {"code": code, "info": info}}))
}

impl Native {
    pub fn new(store: Arc<dyn LinkStore>, notes: Option<Arc<NotesFolder>>) -> Self {
        Native {
            store,
            write: Mutex::new(()),
            notes,
        }
    }

    /// The wiki's title rules (MediaWiki's defaults for an index without site info).
    fn codec(&self) -> Result<TitleCodec, Rejected> {
        let site = self
            .store
            .site_info()
            .map_err(internal)?
            .unwrap_or_else(|| SiteInfo::mediawiki_default("Wiki"));
        Ok(TitleCodec::new(site))
    }

    /// `GET /v1/openapi.json`.
    pub fn openapi(&self) -> Response {
        Response {
            status: 200,
            headers: vec![("Content-Type", "application/json; charset=utf-8".into())],
            body: OPENAPI.to_string(),
        }
    }

    /// `POST /v1/batch`: plans every operation, then applies them as one atomic batch.
    pub fn batch(&self, body: &[u8]) -> Response {
        match self.batch_inner(body) {
            Ok(v) => answer(200, v),
            Err(r) => {
                let mut e = json!({"code": r.code, "info": r.info});
                if let Some(i) = r.op {
                    e["op"] = json!(i);
                }
                answer(r.status, json!({ "error": e }))
            }
        }
    }

    fn batch_inner(&self, body: &[u8]) -> Result<Value, Rejected> {
        let req: BatchRequest = serde_json::from_slice(body)
            .map_err(|e| bad("badjson", format!("the body is not a batch: {e}")))?;
        if req.ops.len() > MAX_OPS {
            return Err(bad(
                "toomanyops",
                format!("{} operations; at most {MAX_OPS} per batch", req.ops.len()),
            ));
        }
        match req.ops.iter().filter(|o| o.is_note()).count() {
            0 => {}
            n if n == req.ops.len() => return self.note_batch(&req.ops),
            _ => {
                return Err(bad(
                    "badparams",
                    "a batch holds page operations or note operations, not both",
                ))
            }
        }
        let _guard = match &self.notes {
            Some(f) => f.lock(),
            None => self.write.lock().unwrap_or_else(|e| e.into_inner()),
        };
        let codec = self.codec()?;
        let next_id = self
            .store
            .last_page_id()
            .map_err(internal)?
            .map_or(1, |p| p.0.saturating_add(1));
        let mut plan = Plan {
            store: self.store.as_ref(),
            codec: &codec,
            by_title: HashMap::new(),
            by_id: HashMap::new(),
            next_id,
            batch: Batch::new(),
        };
        let mut results = Vec::with_capacity(req.ops.len());
        for (i, op) in req.ops.iter().enumerate() {
            let r = match op {
                OpRequest::Upsert {
                    title,
                    id,
                    wikitext,
                    links,
                    redirect,
                } => plan.upsert(
                    title,
                    *id,
                    wikitext.as_deref(),
                    links.as_ref(),
                    redirect.as_deref(),
                ),
                OpRequest::Delete { title, id } => plan.delete(title.as_deref(), *id),
                OpRequest::Move { from, to, redirect } => plan.move_page(from, to, *redirect),
                _ => unreachable!("note operations are batched apart"),
            };
            results.push(r.map_err(|mut e| {
                e.op = Some(i);
                e
            })?);
        }
        if !plan.batch.is_empty() {
            self.store.apply(&plan.batch).map_err(internal)?;
        }
        Ok(json!({
            "ok": true,
            "generation": self.store.generation(),
            "results": results,
        }))
    }

    /// A batch of note operations: written into the notes folder, then the index synced.
    fn note_batch(&self, ops: &[OpRequest]) -> Result<Value, Rejected> {
        let Some(folder) = &self.notes else {
            return Err(bad(
                "nonotesfolder",
                "note operations write into the folder the server follows: start it with --watch DIR",
            ));
        };
        let mut changes = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let at = |mut e: Rejected| {
                e.op = Some(i);
                e
            };
            changes.push(match op {
                OpRequest::PutNote { path, markdown, sy } => {
                    let text = match (markdown, sy) {
                        (Some(m), None) => m.clone(),
                        (None, Some(Value::String(s))) => s.clone(),
                        (None, Some(v @ Value::Object(_))) => v.to_string(),
                        (None, Some(_)) => {
                            return Err(at(bad(
                                "badparams",
                                "\"sy\" is a document object or its text",
                            )))
                        }
                        _ => {
                            return Err(at(bad(
                                "badparams",
                                "put_note takes \"markdown\" or \"sy\", one of them",
                            )))
                        }
                    };
                    NoteChange::Put {
                        path: path.clone(),
                        text,
                    }
                }
                OpRequest::DeleteNote { path } => NoteChange::Delete { path: path.clone() },
                OpRequest::MoveNote { from, to } => NoteChange::Move {
                    from: from.clone(),
                    to: to.clone(),
                },
                _ => unreachable!("page operations are batched apart"),
            });
        }
        let (_, done) = folder
            .apply(self.store.as_ref(), &changes)
            .map_err(note_rejection)?;
        let codec = self.codec()?;
        let mut results = Vec::with_capacity(done.len());
        for (r, op) in done.iter().zip(ops) {
            let mut v = match op {
                OpRequest::MoveNote { from, .. } => json!({"op": "move_note", "from": from}),
                OpRequest::DeleteNote { .. } => json!({"op": "delete_note"}),
                _ => json!({"op": "put_note"}),
            };
            v["path"] = json!(r.path);
            v["pageid"] = json!(r.page.map(|p| p.0));
            if let Some(p) = r.page {
                if let Some(rec) = self.store.page(p).map_err(internal)? {
                    v["title"] = json!(codec.full_text(&rec.title));
                }
            }
            results.push(v);
        }
        Ok(json!({
            "ok": true,
            "generation": self.store.generation(),
            "results": results,
        }))
    }
}

fn note_rejection(e: ImportError) -> Rejected {
    let (op, e) = match e {
        ImportError::InBatch { op, source } => (Some(op), *source),
        e => (None, e),
    };
    let (status, code) = match &e {
        ImportError::BadNote { .. } => (400, "badnote"),
        ImportError::NoNote { .. } => (404, "missingnote"),
        ImportError::NoteExists { .. } => (409, "noteexists"),
        _ => (500, "internal"),
    };
    Rejected {
        status,
        code,
        info: e.to_string(),
        op,
    }
}
