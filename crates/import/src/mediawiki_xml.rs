//! Importing a MediaWiki XML dump in one pass. Templates are kept on a scratch map as they
//! stream by; a page whose expansion misses a template is parked and parsed again once the
//! whole dump has been read, so templates that come later in the dump still count.

use crate::decompress;
use crate::progress::Progress;
use crate::summary::Summary;
use crate::temp::TempKv;
use crate::xml::{DumpPage, Skipped, XmlDump};
use crate::{ImportError, Options};
use inlink_model::{LinkKind, PageId, PageRecord, SiteInfo, Title, TitleCodec, NS_TEMPLATE};
use inlink_parse::{Expanded, Extracted, Extractor, LinkFinder, Redirect, TemplateSource};
use inlink_store::{Batch, BulkLoad, LinkStore, Op, PageUpdate, RedirectRow};
use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn title_key(t: &Title) -> Vec<u8> {
    let mut k = (t.ns as u32 ^ 0x8000_0000).to_be_bytes().to_vec();
    k.extend_from_slice(t.dbkey.as_bytes());
    k
}

/// Texts of pages that may be transcluded.
struct Texts {
    kv: TempKv,
    /// Titles outside the Template namespace that some page transcluded.
    wanted: HashSet<Title>,
}

/// The template source of the main pass: records every miss.
struct Recording<'a> {
    texts: &'a Texts,
    misses: RefCell<Vec<Title>>,
}

impl TemplateSource for Recording<'_> {
    fn text(&self, title: &Title) -> Option<String> {
        let t = self
            .texts
            .kv
            .get(&title_key(title))
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        if t.is_none() {
            self.misses.borrow_mut().push(title.clone());
        }
        t
    }
}

/// The template source of the final pass: the dump is complete, and every page is known —
/// to the store, or (in a bulk load, which shows nothing before it ends) by the titles the
/// loader was asked about.
struct Final<'a> {
    texts: &'a Texts,
    pages: Pages<'a>,
}

enum Pages<'a> {
    Store(&'a dyn LinkStore),
    Known(HashSet<Title>),
    /// Answers no, and notes what was asked and how often.
    Asking(RefCell<HashSet<Title>>, std::cell::Cell<u64>),
}

impl TemplateSource for Final<'_> {
    fn text(&self, title: &Title) -> Option<String> {
        self.texts
            .kv
            .get(&title_key(title))
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    fn exists(&self, title: &Title) -> bool {
        match &self.pages {
            Pages::Store(store) => matches!(store.page_by_title(title), Ok(Some(_))),
            Pages::Known(titles) => titles.contains(title),
            Pages::Asking(asked, calls) => {
                calls.set(calls.get() + 1);
                asked.borrow_mut().insert(title.clone());
                false
            }
        }
    }
}

/// One page's part after its templates are expanded, or an operation that needs no more.
enum Item {
    Page {
        id: u32,
        title: Title,
        dump_redirect: Option<String>,
        expanded: Expanded,
    },
    Op(Op),
}

/// Pages read (or operations made) before a chunk goes to the link workers: enough to pay
/// for the hand-over, few enough to keep every core busy.
const CHUNK_ITEMS: usize = 64;

/// A chunk's operations, in the order of its items, and what they add to the summary.
#[derive(Default)]
struct Done {
    ops: Vec<Op>,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    pages: u64,
    redirects: u64,
    links: [u64; 4],
    pages_with_unexpanded: u64,
}

impl Counts {
    fn count(&mut self, u: &PageUpdate, unexpanded: u32) {
        self.pages += 1;
        if u.redirect.is_some() {
            self.redirects += 1;
        }
        for (k, _) in &u.links {
            self.links[*k as usize] += 1;
        }
        if unexpanded > 0 {
            self.pages_with_unexpanded += 1;
        }
    }

    fn add(&mut self, c: &Counts) {
        self.pages += c.pages;
        self.redirects += c.redirects;
        for (s, l) in self.links.iter_mut().zip(c.links) {
            *s += l;
        }
        self.pages_with_unexpanded += c.pages_with_unexpanded;
    }

    fn add_to(&self, summary: &mut Summary) {
        summary.pages += self.pages;
        summary.redirects += self.redirects;
        for (s, l) in summary.links.iter_mut().zip(self.links) {
            *s += l;
        }
        summary.pages_with_unexpanded += self.pages_with_unexpanded;
    }
}

/// What the writer thread takes, in the order of the dump.
enum ToWriter {
    /// A chunk the link workers are on.
    Chunk(Receiver<Done>),
    /// Answered once every operation sent before it is applied.
    Barrier(SyncSender<()>),
    /// Which of these titles the pages sent hold: asked of the bulk loader, which takes no
    /// page row after it.
    Existing(Vec<Title>, SyncSender<Vec<bool>>),
}

/// Finds the links of expanded pages on every core (the link rules are most of a page's
/// cost, and need no other page), each chunk answered on its own channel so that the
/// writer takes the answers in dump order.
struct LinkWorkers {
    jobs: SyncSender<(Vec<Item>, SyncSender<Done>)>,
}

impl LinkWorkers {
    fn start<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        codec: &TitleCodec,
        n: usize,
    ) -> Self {
        let (jobs, rx) = sync_channel::<(Vec<Item>, SyncSender<Done>)>(n);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..n {
            let rx = rx.clone();
            let codec = codec.clone();
            scope.spawn(move || {
                let mut finder = LinkFinder::new(codec.clone());
                loop {
                    let job = rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|r| r.recv().map_err(|_| ()));
                    let Ok((items, reply)) = job else { return };
                    let mut done = Done {
                        ops: Vec::with_capacity(items.len()),
                        counts: Counts::default(),
                    };
                    for item in items {
                        match item {
                            Item::Op(op) => done.ops.push(op),
                            Item::Page {
                                id,
                                title,
                                dump_redirect,
                                expanded,
                            } => {
                                let ex = finder.links(expanded);
                                let unexpanded = ex.unexpanded;
                                let u = update(&codec, id, title, dump_redirect.as_deref(), ex);
                                done.counts.count(&u, unexpanded);
                                done.ops.push(Op::Upsert(u));
                            }
                        }
                    }
                    let _ = reply.send(done);
                }
            });
        }
        LinkWorkers { jobs }
    }

    /// Hands a chunk over; its answer comes on the returned channel.
    fn submit(&self, items: Vec<Item>) -> Option<Receiver<Done>> {
        let (tx, rx) = sync_channel(1);
        self.jobs.send((items, tx)).ok()?;
        Some(rx)
    }
}

/// The way from the reading thread to the index: link workers, then the writer.
struct Pipe {
    links: LinkWorkers,
    tx: SyncSender<ToWriter>,
}

type Writer<'scope> =
    std::thread::ScopedJoinHandle<'scope, Result<(Counts, Duration), ImportError>>;

impl Pipe {
    /// False when the writer or the workers stopped.
    fn send(&self, items: Vec<Item>) -> bool {
        match self.links.submit(items) {
            Some(done) => self.tx.send(ToWriter::Chunk(done)).is_ok(),
            None => false,
        }
    }

    /// Adds `item` to `chunk`, sending the chunk once it is full; false when the writer or
    /// the workers stopped.
    fn push(&self, chunk: &mut Vec<Item>, item: Item) -> bool {
        chunk.push(item);
        chunk.len() < CHUNK_ITEMS
            || self.send(std::mem::replace(chunk, Vec::with_capacity(CHUNK_ITEMS)))
    }

    /// Waits until everything sent is in the store; false when the writer stopped.
    fn barrier(&self) -> bool {
        let (ack, acked) = sync_channel(1);
        self.tx.send(ToWriter::Barrier(ack)).is_ok() && acked.recv().is_ok()
    }

    /// Which of `titles` the pages sent so far hold (the bulk loader's answer).
    fn existing(&self, titles: Vec<Title>) -> Option<Vec<bool>> {
        let (answer, answered) = sync_channel(1);
        self.tx.send(ToWriter::Existing(titles, answer)).ok()?;
        answered.recv().ok()
    }

    /// Why the pipe broke: the writer's own error, if it has one.
    fn fail(self, writer: Writer<'_>) -> ImportError {
        // Closed first, so that a writer still waiting for work ends.
        drop(self);
        match writer.join().expect("writer thread") {
            Err(e) => e,
            Ok(_) => ImportError::Temp("the index writer or a link worker stopped".into()),
        }
    }
}

/// Parked pages, written to a scratch file.
struct Parked {
    file: BufWriter<std::fs::File>,
    count: u64,
}

fn put_str(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn get_str(r: &mut impl Read) -> std::io::Result<String> {
    let mut n = [0u8; 8];
    r.read_exact(&mut n)?;
    let mut b = vec![0u8; u64::from_le_bytes(n) as usize];
    r.read_exact(&mut b)?;
    String::from_utf8(b).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

impl Parked {
    fn park(&mut self, p: &DumpPage, title: &Title) -> std::io::Result<()> {
        self.count += 1;
        let w = &mut self.file;
        w.write_all(&p.id.to_le_bytes())?;
        w.write_all(&title.ns.to_le_bytes())?;
        put_str(w, &title.dbkey)?;
        put_str(w, p.redirect.as_deref().unwrap_or("\u{0}"))?;
        put_str(w, &p.text)
    }
}

/// A parked page: id, title, the dump's redirect title, text.
type ParkedPage = (u32, Title, Option<String>, String);

fn read_parked(r: &mut impl Read) -> std::io::Result<Option<ParkedPage>> {
    let mut id = [0u8; 4];
    match r.read_exact(&mut id) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut ns = [0u8; 4];
    r.read_exact(&mut ns)?;
    let dbkey = get_str(r)?;
    let redirect = get_str(r)?;
    let text = get_str(r)?;
    let redirect = (redirect != "\u{0}").then_some(redirect);
    Ok(Some((
        u32::from_le_bytes(id),
        Title::new(i32::from_le_bytes(ns), dbkey),
        redirect,
        text,
    )))
}

/// A page's redirect row: the dump's `<redirect title>` is MediaWiki's own verdict; the
/// text's fragment is kept.
fn redirect_row(
    codec: &TitleCodec,
    text: Option<Redirect>,
    dump_redirect: Option<&str>,
) -> Option<RedirectRow> {
    let mut redirect = text.map(|r| RedirectRow {
        target: r.title,
        fragment: r.fragment,
        interwiki: r.interwiki,
    });
    if let Some(t) = dump_redirect.and_then(|t| codec.parse(t, 0).ok()) {
        let same = redirect
            .as_ref()
            .is_some_and(|r| r.target.ns == t.ns && r.target.dbkey == t.dbkey);
        if !same {
            redirect = Some(RedirectRow {
                target: Title::new(t.ns, t.dbkey),
                fragment: t.fragment,
                interwiki: t.interwiki,
            });
        }
    }
    redirect
}

/// Builds the store update of one page from its extracted links.
pub(crate) fn update(
    codec: &TitleCodec,
    id: u32,
    title: Title,
    dump_redirect: Option<&str>,
    ex: Extracted,
) -> PageUpdate {
    let redirect = redirect_row(codec, ex.redirect, dump_redirect);
    let mut links: Vec<(LinkKind, Title)> = ex.links.into_iter().collect();
    if let Some(r) = &redirect {
        if r.interwiki.is_empty()
            && r.target.ns >= 0
            && !links.contains(&(LinkKind::Page, r.target.clone()))
        {
            links.push((LinkKind::Page, r.target.clone()));
        }
    }
    PageUpdate {
        page: PageRecord {
            id: PageId(id),
            title,
            is_redirect: redirect.is_some(),
        },
        links,
        redirect,
    }
}

/// Hands one operation to the bulk loader: a page with its rows, or a parked page's row.
/// Once the page rows are `closed`, a parked page's links and redirect come on their own.
fn load(l: &mut (dyn BulkLoad + Send), op: Op, closed: bool) -> Result<(), ImportError> {
    match op {
        Op::Upsert(u) if closed => {
            for (kind, t) in &u.links {
                l.link_title(u.page.id, u.page.title.ns, *kind, t)?;
            }
            if let Some(r) = &u.redirect {
                l.redirect(u.page.id, r)?;
            }
        }
        Op::Upsert(u) => l.page_with_links(&u.page, &u.links, u.redirect.as_ref())?,
        Op::PutPage(p) => l.page(&p)?,
        other => return Err(ImportError::Temp(format!("no bulk load for {other:?}"))),
    }
    Ok(())
}

/// Imports the XML files of one wiki (all namespaces of an export may come in several
/// files): one pass over every file, then the parked pages.
pub(crate) fn import(
    store: &dyn LinkStore,
    paths: &[PathBuf],
    opts: &Options,
    bulk: bool,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let mut dumps = Vec::new();
    for path in paths {
        let opened = decompress::open(path)?;
        let label = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let progress = Progress::new(&label, opened.total, opened.consumed.clone(), opts.progress);
        let total = opened.total;
        let dump = XmlDump::new(opened.reader).map_err(|s| ImportError::UnknownFormat {
            path: path.display().to_string(),
            why: s.reason,
        })?;
        dumps.push((dump, progress, total));
    }
    let sources: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut summary = Summary {
        source: sources.join(" + "),
        format: "mediawiki-xml",
        input_bytes: dumps.iter().map(|d| d.2).sum(),
        ..Summary::default()
    };
    let dump_site = dumps.iter().find_map(|d| d.0.siteinfo.clone());
    let site = match (&dump_site, store.site_info()?) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => s,
        (None, None) => SiteInfo::mediawiki_default("Wiki"),
    };
    let codec = TitleCodec::new(site.clone());
    let extractor = Extractor::new(codec.clone());
    // An empty index is loaded by sorting, not batch by batch; the site goes first.
    let loader = if bulk {
        if dump_site.is_some() {
            let mut b = Batch::new();
            b.push(Op::SetSiteInfo(Box::new(site.clone())));
            store.apply(&b)?;
        }
        store.bulk_loader()?
    } else {
        None
    };
    let loading = loader.is_some();
    let mut texts = Texts {
        kv: TempKv::new(opts.memory_budget / 4)?,
        wanted: HashSet::new(),
    };
    let tmp = crate::temp::scratch_file().map_err(|e| ImportError::Temp(e.to_string()))?;
    let mut parked = Parked {
        file: BufWriter::new(tmp),
        count: 0,
    };
    let io = |e: std::io::Error| ImportError::Temp(e.to_string());

    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let batch_pages = opts.batch_pages.max(1);
    let written = std::thread::scope(|scope| -> Result<(Counts, Duration), ImportError> {
        let links = LinkWorkers::start(scope, &codec, workers);
        // Room for two batches' chunks: reading and finding links go on while the writer
        // applies a batch.
        let (tx, rx) = sync_channel::<ToWriter>((2 * batch_pages / CHUNK_ITEMS).max(workers * 4));
        // Applies the operations in dump order, in batches of `batch_pages`.
        let writer = scope.spawn(move || -> Result<(Counts, Duration), ImportError> {
            let mut busy = Duration::ZERO;
            let mut counts = Counts::default();
            let mut batch = Batch::new();
            let mut loader = loader;
            // Once the page rows are closed (`existing`), a parked page's rows come alone.
            let mut closed = false;
            let mut apply = |batch: &mut Batch| -> Result<(), ImportError> {
                if !batch.is_empty() {
                    let t = Instant::now();
                    store.apply(batch)?;
                    busy += t.elapsed();
                    *batch = Batch::new();
                }
                Ok(())
            };
            for m in rx {
                match m {
                    ToWriter::Chunk(done) => {
                        let done = done
                            .recv()
                            .map_err(|_| ImportError::Temp("a link worker stopped".into()))?;
                        for op in done.ops {
                            if let Some(l) = loader.as_mut() {
                                load(l.as_mut(), op, closed)?;
                                continue;
                            }
                            batch.push(op);
                            if batch.len() >= batch_pages {
                                apply(&mut batch)?;
                            }
                        }
                        counts.add(&done.counts);
                    }
                    ToWriter::Barrier(ack) => {
                        apply(&mut batch)?;
                        let _ = ack.send(());
                    }
                    ToWriter::Existing(titles, answer) => {
                        let found = match loader.as_mut() {
                            Some(l) => l.existing(&titles)?,
                            None => vec![false; titles.len()],
                        };
                        closed = true;
                        let _ = answer.send(found);
                    }
                }
            }
            apply(&mut batch)?;
            if let Some(l) = loader {
                let t = Instant::now();
                l.finish()?;
                busy += t.elapsed();
            }
            Ok((counts, busy))
        });
        let pipe = Pipe { links, tx };
        let mut chunk: Vec<Item> = Vec::with_capacity(CHUNK_ITEMS);
        let mut read = 0u64;
        if dump_site.is_some() && !loading {
            chunk.push(Item::Op(Op::SetSiteInfo(Box::new(site.clone()))));
        }
        for (dump, progress, _) in dumps.iter_mut() {
            while let Some(next) = dump.next_page() {
                let p = match next {
                    Ok(p) => p,
                    Err(s) => {
                        summary.skip(s);
                        continue;
                    }
                };
                let title = match codec.parse(&p.title, 0) {
                    Ok(t) if t.is_local() && t.ns == p.ns && !t.dbkey.is_empty() => t.title(),
                    Ok(t) => {
                        summary.skip(Skipped {
                            position: p.position,
                            reason: format!(
                                "title {:?} is in namespace {}, <ns> says {}",
                                p.title, t.ns, p.ns
                            ),
                        });
                        continue;
                    }
                    Err(e) => {
                        summary.skip(Skipped {
                            position: p.position,
                            reason: format!("invalid title {:?}: {e}", p.title),
                        });
                        continue;
                    }
                };
                if title.ns == NS_TEMPLATE || texts.wanted.remove(&title) {
                    texts
                        .kv
                        .put(title_key(&title), p.text.clone().into_bytes())?;
                }
                let source = Recording {
                    texts: &texts,
                    misses: RefCell::new(Vec::new()),
                };
                let expanded = extractor.expand(&title, &p.text, &source);
                let misses = source.misses.into_inner();
                read += 1;
                if misses.is_empty() {
                    chunk.push(Item::Page {
                        id: p.id,
                        title,
                        dump_redirect: p.redirect,
                        expanded,
                    });
                } else {
                    for m in misses {
                        if m.ns != NS_TEMPLATE {
                            texts.wanted.insert(m);
                        }
                    }
                    parked.park(&p, &title).map_err(io)?;
                    // The row exists now, so that later transclusions of it are not red links.
                    // A bulk load takes no page row after the pages, so this one is final.
                    let redirect =
                        redirect_row(&codec, extractor.redirect(&p.text), p.redirect.as_deref());
                    chunk.push(Item::Op(Op::PutPage(PageRecord {
                        id: PageId(p.id),
                        title,
                        is_redirect: redirect.is_some(),
                    })));
                }
                if chunk.len() >= CHUNK_ITEMS {
                    if !pipe.send(std::mem::replace(
                        &mut chunk,
                        Vec::with_capacity(CHUNK_ITEMS),
                    )) {
                        return Err(pipe.fail(writer));
                    }
                    progress.tick(read);
                }
            }
            progress.finish();
        }
        // The parked pages' rows must be in the store before the second look asks it
        // which pages exist.
        if !pipe.send(std::mem::take(&mut chunk)) || !pipe.barrier() {
            return Err(pipe.fail(writer));
        }

        // Second look at parked pages: every template of the dump is known now.
        summary.deferred = parked.count;
        let file = parked
            .file
            .into_inner()
            .map_err(|e| ImportError::Temp(e.to_string()))?;
        // Each look reads the file from its start, through a handle of its own.
        let from_start = || -> std::io::Result<std::fs::File> {
            let mut f = file.try_clone()?;
            f.rewind()?;
            Ok(f)
        };
        // Which parked pages to expand (again) now: all, or in a bulk load those whose
        // first look asked which pages exist (ascending places in the parked file).
        let mut again: Option<Vec<u64>> = None;
        let pages = if loading {
            // The loader answers for the pages only when asked, so a first look finds what
            // the expansions ask (an answer never changes what else is asked). A page that
            // asks nothing is expanded for good by it; its rows go at once, and the pages
            // are closed first so that they come as a parked page's rows.
            if pipe.existing(Vec::new()).is_none() {
                return Err(pipe.fail(writer));
            }
            let asking = Final {
                texts: &texts,
                pages: Pages::Asking(RefCell::default(), std::cell::Cell::new(0)),
            };
            let Pages::Asking(_, calls) = &asking.pages else {
                unreachable!("made above")
            };
            let mut asked_by = Vec::new();
            let mut r = BufReader::new(from_start().map_err(io)?);
            let mut at = 0u64;
            while let Some((id, title, redirect, text)) = read_parked(&mut r).map_err(io)? {
                let before = calls.get();
                let expanded = extractor.expand(&title, &text, &asking);
                if calls.get() != before {
                    asked_by.push(at);
                } else if !pipe.push(
                    &mut chunk,
                    Item::Page {
                        id,
                        title,
                        dump_redirect: redirect,
                        expanded,
                    },
                ) {
                    return Err(pipe.fail(writer));
                }
                at += 1;
            }
            tracing::info!(
                parked = at,
                asking = asked_by.len(),
                "parked pages looked at; those asking which pages exist are expanded again"
            );
            again = Some(asked_by);
            let Pages::Asking(asked, _) = asking.pages else {
                unreachable!("made above")
            };
            let asked: Vec<Title> = asked.into_inner().into_iter().collect();
            let Some(found) = pipe.existing(asked.clone()) else {
                return Err(pipe.fail(writer));
            };
            Pages::Known(
                asked
                    .into_iter()
                    .zip(found)
                    .filter_map(|(t, f)| f.then_some(t))
                    .collect(),
            )
        } else {
            Pages::Store(store)
        };
        let mut r = BufReader::new(from_start().map_err(io)?);
        let source = Final {
            texts: &texts,
            pages,
        };
        let mut wanted = again.as_deref().map(|a| a.iter().copied().peekable());
        for at in 0u64.. {
            let Some((id, title, redirect, text)) = read_parked(&mut r).map_err(io)? else {
                break;
            };
            if wanted.as_mut().is_some_and(|w| w.next_if_eq(&at).is_none()) {
                continue;
            }
            let expanded = extractor.expand(&title, &text, &source);
            let item = Item::Page {
                id,
                title,
                dump_redirect: redirect,
                expanded,
            };
            if !pipe.push(&mut chunk, item) {
                return Err(pipe.fail(writer));
            }
        }
        if !pipe.send(std::mem::take(&mut chunk)) {
            return Err(pipe.fail(writer));
        }
        drop(pipe);
        writer.join().expect("writer thread")
    })?;
    let (counts, busy) = written;
    counts.add_to(&mut summary);
    summary.store_time += busy;
    summary.elapsed = started.elapsed();
    Ok(summary)
}
