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
use inlink_parse::{Extracted, Extractor, TemplateSource};
use inlink_store::{Batch, LinkStore, Op, PageUpdate, RedirectRow};
use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::sync_channel;
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

/// The template source of the final pass: the dump is complete, the store knows every page.
struct Final<'a> {
    texts: &'a Texts,
    store: &'a dyn LinkStore,
}

impl TemplateSource for Final<'_> {
    fn text(&self, title: &Title) -> Option<String> {
        self.texts
            .kv
            .get(&title_key(title))
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    fn exists(&self, title: &Title) -> bool {
        matches!(self.store.page_by_title(title), Ok(Some(_)))
    }
}

enum ToWriter {
    Batch(Batch),
    /// Answered once every batch sent before it is applied.
    Barrier(std::sync::mpsc::SyncSender<()>),
}

/// Parked pages, written to a scratch file.
struct Parked {
    file: BufWriter<tempfile::NamedTempFile>,
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

/// Builds the store update of one page from its extracted links.
pub(crate) fn update(
    codec: &TitleCodec,
    id: u32,
    title: Title,
    dump_redirect: Option<&str>,
    ex: Extracted,
) -> PageUpdate {
    // The dump's `<redirect title>` is MediaWiki's own verdict; the text's fragment is kept.
    let mut redirect = ex.redirect.map(|r| RedirectRow {
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

fn count(summary: &mut Summary, u: &PageUpdate, unexpanded: u32) {
    summary.pages += 1;
    if u.redirect.is_some() {
        summary.redirects += 1;
    }
    for (k, _) in &u.links {
        summary.links[*k as usize] += 1;
    }
    if unexpanded > 0 {
        summary.pages_with_unexpanded += 1;
    }
}

/// Imports the XML files of one wiki (all namespaces of an export may come in several
/// files): one pass over every file, then the parked pages.
pub(crate) fn import(
    store: &dyn LinkStore,
    paths: &[PathBuf],
    opts: &Options,
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
    let mut texts = Texts {
        kv: TempKv::new(opts.memory_budget / 4)?,
        wanted: HashSet::new(),
    };
    let tmp = tempfile::NamedTempFile::new().map_err(|e| ImportError::Temp(e.to_string()))?;
    let mut parked = Parked {
        file: BufWriter::new(tmp),
        count: 0,
    };
    let io = |e: std::io::Error| ImportError::Temp(e.to_string());

    std::thread::scope(|scope| -> Result<(), ImportError> {
        let (tx, rx) = sync_channel::<ToWriter>(4);
        let writer = scope.spawn(move || -> Result<Duration, ImportError> {
            let mut busy = Duration::ZERO;
            for m in rx {
                match m {
                    ToWriter::Batch(b) => {
                        let t = Instant::now();
                        store.apply(&b)?;
                        busy += t.elapsed();
                    }
                    ToWriter::Barrier(done) => {
                        let _ = done.send(());
                    }
                }
            }
            Ok(busy)
        });
        let stopped = || ImportError::Temp("the store writer stopped".into());
        let send = |b: Batch| tx.send(ToWriter::Batch(b)).map_err(|_| stopped());
        let mut batch = Batch::new();
        if dump_site.is_some() {
            batch.push(Op::SetSiteInfo(Box::new(site.clone())));
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
                let ex = extractor.extract(&title, &p.text, &source);
                let misses = source.misses.into_inner();
                if misses.is_empty() {
                    let unexpanded = ex.unexpanded;
                    let u = update(&codec, p.id, title, p.redirect.as_deref(), ex);
                    count(&mut summary, &u, unexpanded);
                    batch.push(Op::Upsert(u));
                } else {
                    for m in misses {
                        if m.ns != NS_TEMPLATE {
                            texts.wanted.insert(m);
                        }
                    }
                    parked.park(&p, &title).map_err(io)?;
                    // The row exists now, so that later transclusions of it are not red links.
                    batch.push(Op::PutPage(PageRecord {
                        id: PageId(p.id),
                        title,
                        is_redirect: p.redirect.is_some(),
                    }));
                }
                if batch.len() >= opts.batch_pages {
                    send(std::mem::take(&mut batch))?;
                    progress.tick(summary.pages + parked.count);
                }
            }
            progress.finish();
        }
        send(std::mem::take(&mut batch))?;
        // The parked pages' rows must be in the store before the second look asks it
        // which pages exist.
        let (done_tx, done_rx) = sync_channel(1);
        tx.send(ToWriter::Barrier(done_tx)).map_err(|_| stopped())?;
        if done_rx.recv().is_err() {
            drop(tx);
            writer.join().expect("writer thread")?;
            return Err(stopped());
        }

        // Second look at parked pages: every template of the dump is known now.
        summary.deferred = parked.count;
        let file = std::mem::replace(
            &mut parked.file,
            BufWriter::new(tempfile::NamedTempFile::new().map_err(io)?),
        )
        .into_inner()
        .map_err(|e| ImportError::Temp(e.to_string()))?;
        let mut r = BufReader::new(file.reopen().map_err(io)?);
        let source = Final {
            texts: &texts,
            store,
        };
        while let Some((id, title, redirect, text)) = read_parked(&mut r).map_err(io)? {
            let ex = extractor.extract(&title, &text, &source);
            let unexpanded = ex.unexpanded;
            let u = update(&codec, id, title, redirect.as_deref(), ex);
            count(&mut summary, &u, unexpanded);
            batch.push(Op::Upsert(u));
            if batch.len() >= opts.batch_pages {
                send(std::mem::take(&mut batch))?;
            }
        }
        send(std::mem::take(&mut batch))?;
        drop(tx);
        summary.store_time += writer.join().expect("writer thread")?;
        Ok(())
    })?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}
