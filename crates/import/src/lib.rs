//! Importers: sources → link extraction → batches for a [`LinkStore`]. Each importer reads
//! its input in a stream with bounded memory (scratch data goes to temporary files),
//! reports bad records with their position and goes on, and returns a [`Summary`].

mod decompress;
pub mod demo;
pub mod demo_enwiki;
pub mod demo_notes;
mod error;
pub mod folder;
pub mod live;
mod markdown;
mod mediawiki_sql;
mod mediawiki_xml;
mod progress;
mod siyuan;
pub mod sql;
mod summary;
pub mod sync;
mod temp;
pub mod xml;

pub use decompress::{open as open_decompressed, Compression, ParallelBz2};
pub use error::ImportError;
pub use summary::Summary;

use inlink_model::SiteInfo;
use inlink_store::{Batch, LinkStore, Op};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The kinds of input `inlink import --format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Auto,
    MediaWikiXml,
    MediaWikiSql,
    Siyuan,
    Markdown,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Pages per store transaction.
    pub batch_pages: usize,
    /// Fill an empty index by sorting (the store's bulk loader, when it has one) rather
    /// than batch by batch.
    pub bulk_load: bool,
    /// Memory for scratch maps before they spill to disk, in bytes.
    pub memory_budget: usize,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_pages: 10_000,
            bulk_load: true,
            memory_budget: 256 << 20,
            progress: false,
        }
    }
}

/// What a file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Detected {
    Xml,
    SqlTable(String),
    SiteInfoJson,
}

fn detect(path: &Path) -> Result<Detected, ImportError> {
    let opened = decompress::open(path)?;
    let mut head = Vec::new();
    opened
        .reader
        .take(256 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| ImportError::io(path, e))?;
    let text = String::from_utf8_lossy(&head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let unknown = |why: &str| ImportError::UnknownFormat {
        path: path.display().to_string(),
        why: why.into(),
    };
    if trimmed.starts_with('{') {
        return Ok(Detected::SiteInfoJson);
    }
    if trimmed.starts_with('<') && text.contains("<mediawiki") {
        return Ok(Detected::Xml);
    }
    if let Some(p) = text.find("CREATE TABLE `") {
        let rest = &text[p + 14..];
        if let Some(end) = rest.find('`') {
            return Ok(Detected::SqlTable(rest[..end].to_string()));
        }
    }
    Err(unknown(
        "neither a MediaWiki XML export, a MySQL table dump nor a siteinfo JSON file",
    ))
}

/// Imports `sources` into `store`. SQL table dumps given together are read in dependency
/// order (siteinfo, page, linktarget, link tables, redirect), whatever order they come in.
pub fn import(
    store: &dyn LinkStore,
    sources: &[PathBuf],
    format: Format,
    opts: &Options,
) -> Result<Vec<Summary>, ImportError> {
    if format == Format::Markdown
        || (format == Format::Auto
            && sources
                .iter()
                .all(|p| p.is_dir() && siyuan::notebooks(p).is_empty() && markdown::is_vault(p)))
    {
        return sources.iter().map(|p| markdown::import(store, p)).collect();
    }
    // SiYuan notebooks are folders.
    if format == Format::Siyuan
        || (format == Format::Auto
            && sources
                .iter()
                .all(|p| p.is_dir() && !siyuan::notebooks(p).is_empty()))
    {
        return sources.iter().map(|p| siyuan::import(store, p)).collect();
    }
    let mut xml = Vec::new();
    let mut sql = Vec::new();
    let mut json = Vec::new();
    for p in sources {
        let d = detect(p)?;
        match (format, d) {
            (Format::Auto | Format::MediaWikiXml, Detected::Xml) => xml.push(p.clone()),
            (Format::Auto | Format::MediaWikiSql, Detected::SqlTable(t)) => {
                match mediawiki_sql::table_rank(&t) {
                    Some(rank) => sql.push((rank, p.clone())),
                    None => {
                        return Err(ImportError::UnknownFormat {
                            path: p.display().to_string(),
                            why: format!("table `{t}` holds no links inlink reads"),
                        })
                    }
                }
            }
            (
                Format::Auto | Format::MediaWikiSql | Format::MediaWikiXml,
                Detected::SiteInfoJson,
            ) => json.push(p.clone()),
            (f, d) => {
                return Err(ImportError::UnknownFormat {
                    path: p.display().to_string(),
                    why: format!("asked for {f:?}, found {d:?}"),
                })
            }
        }
    }
    let mut summaries = Vec::new();
    for p in &json {
        summaries.push(import_siteinfo(store, p)?);
    }
    sql.sort_by_key(|(rank, _)| *rank);
    if !sql.is_empty() {
        // An empty index with SQL tables alone is loaded by sorting, not batch by batch.
        let loader = if xml.is_empty() && opts.bulk_load {
            store.bulk_loader()?
        } else {
            None
        };
        let mut imp = mediawiki_sql::SqlImport::new(store, loader, opts)?;
        let mut failed = None;
        for (_, p) in &sql {
            match imp.import_file(p) {
                Ok(s) => summaries.push(s),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // What was read before a failure is loaded, as batches would have left it; the
        // failure is what the import reports.
        let finished = imp.finish();
        if let Some(e) = failed {
            return Err(e);
        }
        finished?;
    }
    if !xml.is_empty() {
        // An empty index with XML dumps alone is loaded by sorting too.
        let bulk = sql.is_empty() && opts.bulk_load;
        summaries.push(mediawiki_xml::import(store, &xml, opts, bulk)?);
    }
    Ok(summaries)
}

fn import_siteinfo(store: &dyn LinkStore, path: &Path) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let opened = decompress::open(path)?;
    let mut text = String::new();
    opened
        .reader
        .take(64 << 20)
        .read_to_string(&mut text)
        .map_err(|e| ImportError::io(path, e))?;
    let site = SiteInfo::from_api_json(&text)?;
    let mut b = Batch::new();
    b.push(Op::SetSiteInfo(Box::new(site)));
    store.apply(&b)?;
    Ok(Summary {
        source: path.display().to_string(),
        format: "siteinfo-json",
        input_bytes: opened.total,
        elapsed: started.elapsed(),
        ..Summary::default()
    })
}
