//! Importing Wikimedia SQL table dumps: `page`, `linktarget`, `pagelinks` (old
//! `pl_namespace`/`pl_title` and current `pl_target_id` schemas), `templatelinks`,
//! `imagelinks`, `categorylinks` and `redirect`. The rows are MediaWiki's own link tables,
//! so titles are taken as they are.

use crate::decompress;
use crate::progress::Progress;
use crate::sql::{int_values, read_dump, BadRow, Value, Visitor};
use crate::summary::Summary;
use crate::temp::TempKv;
use crate::xml::Skipped;
use crate::{ImportError, Options};
use inlink_model::{LinkKind, PageId, PageRecord, Title, NS_CATEGORY, NS_FILE};
use inlink_store::{Batch, BulkLoad, LinkStore, Op, RedirectRow};
use std::path::Path;
use std::time::Instant;

/// The order tables must be read in: pages before links, link targets before the tables
/// that point into them.
pub(crate) fn table_rank(table: &str) -> Option<u8> {
    Some(match table {
        "page" => 0,
        "linktarget" => 1,
        "pagelinks" => 2,
        "templatelinks" => 3,
        "imagelinks" => 4,
        "categorylinks" => 5,
        "redirect" => 6,
        _ => return None,
    })
}

/// What a table's rows are, found once per table rather than by its name every row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    Page,
    LinkTarget,
    Links(LinkKind),
    Redirect,
    /// A table not imported: its rows are counted and passed over.
    Other,
}

impl Table {
    fn of(name: &str) -> Self {
        match name {
            "page" => Table::Page,
            "linktarget" => Table::LinkTarget,
            "pagelinks" => Table::Links(LinkKind::Page),
            "templatelinks" => Table::Links(LinkKind::Template),
            "imagelinks" => Table::Links(LinkKind::Image),
            "categorylinks" => Table::Links(LinkKind::Category),
            "redirect" => Table::Redirect,
            _ => Table::Other,
        }
    }
}

/// The columns a table's rows are read by, found by name in its `CREATE TABLE` once rather
/// than for every row.
struct Cols {
    names: [&'static str; 5],
    at: [Option<usize>; 5],
}

impl Cols {
    fn new(columns: &[String], names: [&'static str; 5]) -> Self {
        let at = names.map(|n| columns.iter().position(|c| c == n));
        Cols { names, at }
    }

    fn get<'r, 'v>(&self, row: &'r [Value<'v>], i: usize) -> Option<&'r Value<'v>> {
        self.at[i].and_then(|at| row.get(at))
    }

    fn int(&self, row: &[Value<'_>], i: usize) -> Result<i64, String> {
        self.get(row, i)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("{} is missing or not a number", self.names[i]))
    }

    fn text(&self, row: &[Value<'_>], i: usize) -> Result<String, String> {
        self.get(row, i)
            .and_then(Value::as_str)
            .map(|s| s.into_owned())
            .ok_or_else(|| format!("{} is missing or not a string", self.names[i]))
    }
}

/// The columns read from each table, in the order `handle` reads them.
fn columns_of(table: &str) -> [&'static str; 5] {
    match table {
        "page" => [
            "page_id",
            "page_namespace",
            "page_title",
            "page_is_redirect",
            "",
        ],
        "linktarget" => ["lt_id", "lt_namespace", "lt_title", "", ""],
        "pagelinks" => [
            "pl_from",
            "pl_from_namespace",
            "pl_target_id",
            "pl_title",
            "pl_namespace",
        ],
        "templatelinks" => [
            "tl_from",
            "tl_from_namespace",
            "tl_target_id",
            "tl_title",
            "tl_namespace",
        ],
        "imagelinks" => [
            "il_from",
            "il_from_namespace",
            "il_target_id",
            "il_title",
            "il_namespace",
        ],
        "categorylinks" => [
            "cl_from",
            "cl_from_namespace",
            "cl_target_id",
            "cl_title",
            "cl_namespace",
        ],
        "redirect" => [
            "rd_from",
            "rd_namespace",
            "rd_title",
            "rd_interwiki",
            "rd_fragment",
        ],
        _ => [""; 5],
    }
}

fn target_key(id: i64) -> [u8; 8] {
    id.to_be_bytes()
}

fn encode_title(ns: i32, dbkey: &str) -> Vec<u8> {
    let mut v = ns.to_le_bytes().to_vec();
    v.extend_from_slice(dbkey.as_bytes());
    v
}

fn decode_title(v: &[u8]) -> Option<Title> {
    let ns = i32::from_le_bytes(v.get(..4)?.try_into().ok()?);
    Some(Title::new(
        ns,
        String::from_utf8_lossy(&v[4..]).into_owned(),
    ))
}

/// State shared by the files of one SQL import.
pub(crate) struct SqlImport<'s> {
    store: &'s dyn LinkStore,
    /// The store's loader, when it takes the rows instead of batches (then `linktargets`
    /// stays empty: the loader keeps the targets).
    loader: Option<Box<dyn BulkLoad + Send + 's>>,
    linktargets: TempKv,
    opts: Options,
}

impl<'s> SqlImport<'s> {
    pub fn new(
        store: &'s dyn LinkStore,
        loader: Option<Box<dyn BulkLoad + Send + 's>>,
        opts: &Options,
    ) -> Result<Self, ImportError> {
        Ok(SqlImport {
            store,
            loader,
            linktargets: TempKv::new(opts.memory_budget / 2)?,
            opts: opts.clone(),
        })
    }

    /// Ends the import: the loader, if any, builds the index.
    pub fn finish(self) -> Result<(), ImportError> {
        match self.loader {
            Some(l) => Ok(l.finish()?),
            None => Ok(()),
        }
    }

    pub fn import_file(&mut self, path: &Path) -> Result<Summary, ImportError> {
        let started = Instant::now();
        let opened = decompress::open(path)?;
        let progress = Progress::new(
            &path.file_name().unwrap_or_default().to_string_lossy(),
            opened.total,
            opened.consumed.clone(),
            self.opts.progress,
        );
        let mut summary = Summary {
            source: path.display().to_string(),
            format: "mediawiki-sql",
            input_bytes: opened.total,
            ..Summary::default()
        };
        // Reading (inflate, tokenise) and index writes overlap: batches go to a writer
        // thread, two at most in flight; rows for the loader go to a thread of their own.
        let store = self.store;
        let failed: std::sync::Mutex<Option<inlink_store::StoreError>> = Default::default();
        let mut loader = self.loader.take();
        let result = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
            let failed = &failed;
            scope.spawn(move || {
                for batch in rx {
                    if failed.lock().map(|f| f.is_some()).unwrap_or(true) {
                        continue;
                    }
                    if let Err(e) = store.apply(&batch) {
                        if let Ok(mut f) = failed.lock() {
                            *f = Some(e);
                        }
                    }
                }
            });
            let (calls_tx, calls_rx) = std::sync::mpsc::sync_channel::<Vec<Call>>(32);
            let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<LinkRow>>();
            let loading = loader
                .as_mut()
                .map(|l| scope.spawn(move || load_calls(l.as_mut(), calls_rx, spent_tx)));
            let mut handler = Handler {
                imp: self,
                cols: None,
                to: None,
                table: String::new(),
                kind: Table::Other,
                batch: Batch::new(),
                calls: Vec::new(),
                links: vec![LinkRow::default(); LINK_ROWS],
                linked: 0,
                links_kind: LinkKind::Page,
                spent: spent_rx,
                rows: 0,
                summary: &mut summary,
                error: None,
                progress: &progress,
                writer: Some(tx),
                loader: loading.is_some().then_some(calls_tx),
                failed,
            };
            let result = read_dump(opened.reader, &mut handler);
            let _ = handler.flush();
            // Closing the channels lets the threads finish; the scope waits for them.
            handler.writer = None;
            handler.loader = None;
            let mut error = handler.error.take();
            if let Some(done) = loading.map(|h| h.join().expect("loader thread")) {
                for (kind, n) in done.links.iter().enumerate() {
                    summary.links[kind] += n;
                }
                summary.skip_many(done.unknown, done.examples);
                if let Some(e) = done.error {
                    // The loader's own error is the one to report.
                    error = Some(ImportError::Store(e));
                }
            }
            (result, error)
        });
        self.loader = loader;
        let (result, error) = result;
        if let Some(e) = failed.into_inner().ok().flatten() {
            return Err(ImportError::Store(e));
        }
        if let Some(e) = error {
            return Err(e);
        }
        result.map_err(|e| ImportError::io(path, e))?;
        progress.finish();
        summary.elapsed = started.elapsed();
        Ok(summary)
    }
}

struct Handler<'a, 's> {
    imp: &'a mut SqlImport<'s>,
    cols: Option<Cols>,
    /// Where `il_to` / `cl_to` is, in the old image and category link schemas.
    to: Option<usize>,
    table: String,
    kind: Table,
    batch: Batch,
    /// Loader calls waiting to go to the loader thread.
    calls: Vec<Call>,
    /// Link rows by target key (the first `linked`, of kind `links_kind`) waiting to go as
    /// one call. Written in place: pushed, each row was built on the stack and then
    /// loaded whole into the chunk, a stall (store forwarding) that was most of reading a
    /// row.
    links: Vec<LinkRow>,
    linked: usize,
    links_kind: LinkKind,
    /// Link row chunks the loader thread is done with.
    spent: std::sync::mpsc::Receiver<Vec<LinkRow>>,
    rows: u64,
    summary: &'a mut Summary,
    /// A store error ends the import; it is kept here because the tokenizer's callbacks
    /// report row problems, not fatal ones.
    error: Option<ImportError>,
    progress: &'a Progress,
    /// Where full batches go (the writer thread); `None` once reading is over.
    writer: Option<std::sync::mpsc::SyncSender<Batch>>,
    /// Where loader calls go (the loader thread), when the store is bulk loaded.
    loader: Option<std::sync::mpsc::SyncSender<Vec<Call>>>,
    /// The writer's error, if a batch failed.
    failed: &'a std::sync::Mutex<Option<inlink_store::StoreError>>,
}

impl Visitor for Handler<'_, '_> {
    fn table(&mut self, name: &str, columns: &[String]) {
        self.start_table(name, columns);
    }

    fn row(&mut self, row: &[Value<'_>], position: u64) -> Result<(), String> {
        let r = self.handle(row, position);
        self.tick();
        r
    }

    #[inline(always)]
    fn int_row(&mut self, row: &[i64], position: u64) -> Result<(), String> {
        // A link row for the loader, its columns read straight from the integers: the
        // rows of the link tables are most of a dump's, and most of reading them was
        // making and looking through their values.
        if let (Table::Links(kind), true, Some(cols), None) =
            (self.kind, self.loader.is_some(), &self.cols, &self.error)
        {
            let at = |i: usize| cols.at[i].and_then(|at| row.get(at)).copied();
            if let (Some(from), Some(target)) = (at(0), at(2)) {
                let from_ns = at(1);
                self.rows += 1;
                let r = self.link_call(kind, from, from_ns, target, position);
                self.tick();
                return r;
            }
        }
        self.row(&int_values(row), position)
    }

    fn bad(&mut self, b: BadRow) {
        self.summary.skip(Skipped {
            position: b.position,
            reason: b.reason,
        });
    }
}

const BATCH_ROWS: usize = 50_000;

impl Handler<'_, '_> {
    fn start_table(&mut self, name: &str, cols: &[String]) {
        let _ = self.flush();
        self.table = name.to_string();
        self.kind = Table::of(name);
        self.cols = Some(Cols::new(cols, columns_of(name)));
        // The old schemas' own columns for a target, `il_to` and `cl_to`.
        self.to = cols.iter().position(|c| c == "il_to" || c == "cl_to");
    }

    fn flush(&mut self) -> Result<(), String> {
        if let Some(e) = self
            .failed
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|e| e.to_string()))
        {
            // Stops the reading too; the writer's own error is what the import returns.
            self.error = Some(ImportError::Temp(format!("index writes failed: {e}")));
            return Err(e);
        }
        self.take_links();
        if self.error.is_none() && !self.calls.is_empty() {
            // A chunk's room at once: grown by doublings, it was copied on the way.
            let calls = std::mem::replace(&mut self.calls, Vec::with_capacity(CALLS));
            let sent = self.loader.as_ref().map(|l| l.send(calls));
            if !matches!(sent, Some(Ok(()))) {
                self.error = Some(ImportError::Temp("the bulk loader stopped".into()));
            }
        }
        if self.error.is_none() && !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            let sent = self.writer.as_ref().map(|w| w.send(batch));
            if !matches!(sent, Some(Ok(()))) {
                self.error = Some(ImportError::Temp("the index writer stopped".into()));
            }
        }
        match &self.error {
            Some(e) => Err(e.to_string()),
            None => Ok(()),
        }
    }

    fn push(&mut self, op: Op) {
        // Consecutive rows of one page and table become one operation.
        if let (
            Some(Op::AddLinks {
                from,
                kind,
                targets,
                ..
            }),
            Op::AddLinks {
                from: f2,
                kind: k2,
                targets: t2,
                ..
            },
        ) = (self.batch.ops.last_mut(), &op)
        {
            if from == f2 && kind == k2 {
                targets.extend(t2.iter().cloned());
                return;
            }
        }
        self.batch.push(op);
    }

    /// Hands a call to the loader thread, a chunk at a time, after the link rows before it.
    fn call(&mut self, call: Call) -> Result<(), String> {
        self.take_links();
        self.calls.push(call);
        if self.calls.len() >= CALLS {
            self.flush()?;
        }
        Ok(())
    }

    fn tick(&self) {
        if self.rows.is_multiple_of(100_000) {
            self.progress.tick(self.rows);
        }
    }

    /// A link row by target key for the loader thread, which counts it once it knows
    /// whether the key is there.
    #[inline(always)]
    fn link_call(
        &mut self,
        kind: LinkKind,
        from: i64,
        from_ns: Option<i64>,
        target: i64,
        position: u64,
    ) -> Result<(), String> {
        let from = u32::try_from(from).map_err(|_| format!("page id {from} out of range"))?;
        let from_ns = from_ns
            .map(|v| i32::try_from(v).map_err(|_| format!("namespace {v} out of range")))
            .transpose()?
            .unwrap_or(0);
        let Ok(key) = u64::try_from(target) else {
            return Err(format!("link target {target} is not in linktarget"));
        };
        if self.linked == self.links.len() || kind != self.links_kind {
            if self.linked > 0 {
                self.flush()?;
            }
            self.links_kind = kind;
        }
        self.links[self.linked] = LinkRow {
            from,
            from_ns,
            key,
            position,
        };
        self.linked += 1;
        Ok(())
    }

    /// The link rows waiting, as one call after those before them.
    fn take_links(&mut self) {
        if self.linked == 0 {
            return;
        }
        let fresh = match self.spent.try_recv() {
            Ok(mut rows) => {
                rows.resize(LINK_ROWS, LinkRow::default());
                rows
            }
            Err(_) => vec![LinkRow::default(); LINK_ROWS],
        };
        let mut rows = std::mem::replace(&mut self.links, fresh);
        rows.truncate(self.linked);
        self.linked = 0;
        self.calls.push(Call::Links(self.links_kind, rows));
    }

    fn handle(&mut self, row: &[Value<'_>], position: u64) -> Result<(), String> {
        if self.error.is_some() {
            return Err("import stopped".into());
        }
        let Some(cols) = &self.cols else {
            return Err("row before CREATE TABLE".into());
        };
        let int = |i: usize| cols.int(row, i);
        let text = |i: usize| cols.text(row, i);
        let ns_of = |v: i64| i32::try_from(v).map_err(|_| format!("namespace {v} out of range"));
        let page_id = |v: i64| u32::try_from(v).map_err(|_| format!("page id {v} out of range"));
        self.rows += 1;
        match self.kind {
            Table::Page => {
                let page = PageRecord {
                    id: PageId(page_id(int(0)?)?),
                    title: Title::new(ns_of(int(1)?)?, text(2)?),
                    is_redirect: int(3).unwrap_or(0) != 0,
                };
                self.summary.pages += 1;
                if self.loader.is_some() {
                    return self.call(Call::Page(Box::new(page)));
                }
                self.push(Op::PutPage(page));
            }
            Table::LinkTarget => {
                let id = int(0)?;
                let ns = ns_of(int(1)?)?;
                if self.loader.is_some() {
                    let key = u64::try_from(id).map_err(|_| format!("lt_id {id} out of range"))?;
                    let title = Title::new(ns, text(2)?);
                    return self.call(Call::Target(key, Box::new(title)));
                }
                let key = target_key(id);
                let value = encode_title(ns, &text(2)?);
                self.imp
                    .linktargets
                    .put(key.to_vec(), value)
                    .map_err(|e| e.to_string())?;
            }
            Table::Links(kind) => {
                let (c_from, c_from_ns, c_target, c_title, c_ns) = (0, 1, 2, 3, 4);
                if let (true, Ok(tid)) = (self.loader.is_some(), int(c_target)) {
                    let from_ns = int(c_from_ns).ok();
                    return self.link_call(kind, int(c_from)?, from_ns, tid, position);
                }
                let from = page_id(int(c_from)?)?;
                let from_ns = int(c_from_ns).ok().map(ns_of).transpose()?.unwrap_or(0);
                let target = if let Ok(tid) = int(c_target) {
                    let v = self
                        .imp
                        .linktargets
                        .get(&target_key(tid))
                        .ok_or_else(|| format!("link target {tid} is not in linktarget"))?;
                    decode_title(&v).ok_or("bad linktarget entry")?
                } else if let Ok(title) = text(c_title) {
                    Title::new(ns_of(int(c_ns)?)?, title)
                } else if let Some(to) = self.to.and_then(|at| row.get(at)).and_then(Value::as_str)
                {
                    let ns = if kind == LinkKind::Image {
                        NS_FILE
                    } else {
                        NS_CATEGORY
                    };
                    Title::new(ns, to.into_owned())
                } else {
                    return Err(format!("{} row without a target", self.table));
                };
                self.summary.links[kind as usize] += 1;
                if self.loader.is_some() {
                    return self.call(Call::LinkTitle(
                        PageId(from),
                        from_ns,
                        kind,
                        Box::new(target),
                    ));
                }
                self.push(Op::AddLinks {
                    from: PageId(from),
                    from_ns,
                    kind,
                    targets: vec![target],
                });
            }
            Table::Redirect => {
                let from = PageId(page_id(int(0)?)?);
                let target = Title::new(ns_of(int(1)?)?, text(2)?);
                let interwiki = text(3).unwrap_or_default();
                let fragment = text(4).unwrap_or_default();
                self.summary.redirects += 1;
                let row = RedirectRow {
                    target,
                    fragment,
                    interwiki,
                };
                if self.loader.is_some() {
                    return self.call(Call::Redirect(from, Box::new(row)));
                }
                self.push(Op::SetRedirect {
                    from,
                    redirect: Some(row),
                });
            }
            Table::Other => {}
        }
        if self.batch.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }
}

/// Unknown-target rows kept to show (a summary shows fewer).
const UNKNOWN_EXAMPLES: usize = 20;

/// Rows handed to the loader thread, in chunks of this many.
const CALLS: usize = 4096;

/// Link rows handed over as one call: at 4 K, the hand-offs (a thread woken for each)
/// kept a fifth of the two cores idle while the link rows were read.
const LINK_ROWS: usize = 1 << 15;

/// A row for the store's bulk loader. All but link rows are boxed: nearly every call is a
/// link row, and each chunk of calls is written by one thread and read by another.
enum Call {
    Page(Box<PageRecord>),
    Target(u64, Box<Title>),
    /// Link rows of one kind by target key, in their order.
    Links(LinkKind, Vec<LinkRow>),
    LinkTitle(PageId, i32, LinkKind, Box<Title>),
    Redirect(PageId, Box<RedirectRow>),
}

const _: () = assert!(std::mem::size_of::<Call>() <= 32);

/// A link row by target key for the loader thread.
#[derive(Clone, Copy, Default)]
struct LinkRow {
    from: u32,
    from_ns: i32,
    key: u64,
    /// Where the row is in the file, to report it if its target is unknown.
    position: u64,
}

/// What the loader thread did with a file's rows.
#[derive(Default)]
struct Loaded {
    /// Link rows taken, by kind (rows by target key are counted here).
    links: [u64; 4],
    /// Link rows whose target key no linktarget row named, and the first of them.
    unknown: u64,
    examples: Vec<Skipped>,
    /// The loader's error, which ends the import.
    error: Option<inlink_store::StoreError>,
}

/// Feeds the loader on a thread of its own, so that tokenising the next rows and sorting
/// these share the cores. Stops at the loader's first error.
fn load_calls(
    l: &mut (dyn BulkLoad + Send),
    calls: std::sync::mpsc::Receiver<Vec<Call>>,
    spent: std::sync::mpsc::Sender<Vec<LinkRow>>,
) -> Loaded {
    let mut done = Loaded::default();
    for chunk in calls {
        for call in chunk {
            let r = match call {
                Call::Page(ref p) => l.page(p),
                Call::Target(key, ref title) => l.target(key, title),
                Call::Links(kind, rows) => {
                    let r = load_links(l, kind, &rows, &mut done);
                    // Back to the reading thread, to be filled again.
                    let _ = spent.send(rows);
                    r
                }
                Call::LinkTitle(from, from_ns, kind, ref title) => {
                    l.link_title(from, from_ns, kind, title)
                }
                Call::Redirect(from, ref row) => l.redirect(from, row),
            };
            if let Err(e) = r {
                done.error = Some(e);
                // Dropping the receiver stops the reading thread at its next chunk.
                return done;
            }
        }
    }
    done
}

fn load_links(
    l: &mut (dyn BulkLoad + Send),
    kind: LinkKind,
    rows: &[LinkRow],
    done: &mut Loaded,
) -> Result<(), inlink_store::StoreError> {
    // Link rows name their targets by keys spread over a large table: each is asked for a
    // few rows ahead of its turn.
    const AHEAD: usize = 16;
    for r in rows.iter().take(AHEAD) {
        l.prefetch_link(r.key);
    }
    for (i, r) in rows.iter().enumerate() {
        if let Some(next) = rows.get(i + AHEAD) {
            l.prefetch_link(next.key);
        }
        if l.link(PageId(r.from), r.from_ns, kind, r.key)? {
            done.links[kind as usize] += 1;
        } else {
            done.unknown += 1;
            if done.examples.len() < UNKNOWN_EXAMPLES {
                done.examples.push(Skipped {
                    position: r.position,
                    reason: format!("link target {} is not in linktarget", r.key),
                });
            }
        }
    }
    Ok(())
}
