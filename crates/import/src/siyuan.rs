//! Importing SiYuan notebooks: a workspace `data/` folder (every sub-folder with
//! `.siyuan/conf.json` is a notebook) or one notebook folder. Each `.sy` document becomes a
//! page titled `<notebook name>/<hPath>`, with its blocks and block references, and page
//! links to the documents it references (so the MediaWiki dialect sees notes too).

use crate::summary::Summary;
use crate::xml::Skipped;
use crate::ImportError;
use inlink_model::{CaseRule, LinkKind, PageId, PageRecord, SiteInfo, Title, TitleCodec};
use inlink_parse::siyuan::{parse_document, Document};
use inlink_store::{Batch, LinkStore, Op, PageUpdate};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The index's site, or for a new index of notes one whose titles keep their case.
pub(crate) fn notes_site(store: &dyn LinkStore) -> Result<SiteInfo, ImportError> {
    Ok(match store.site_info()? {
        Some(s) => s,
        None => {
            let mut s = SiteInfo::mediawiki_default("Notes");
            s.case = CaseRule::CaseSensitive;
            let list = s
                .namespaces
                .iter()
                .map(|n| inlink_model::Namespace {
                    case: CaseRule::CaseSensitive,
                    ..n.clone()
                })
                .collect();
            s.namespaces = inlink_model::Namespaces::new(list, s.namespaces.aliases().to_vec());
            s
        }
    })
}

/// A folder is a notebook when it has `.siyuan/conf.json`.
pub(crate) fn is_notebook(dir: &Path) -> bool {
    dir.join(".siyuan").join("conf.json").is_file()
}

/// Notebook folders under `root` (or `root` itself).
pub(crate) fn notebooks(root: &Path) -> Vec<PathBuf> {
    if is_notebook(root) {
        return vec![root.to_path_buf()];
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_notebook(p))
        .collect();
    v.sort();
    v
}

fn sy_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        // Symlinks are not followed: a notebook is what lies inside its folder.
        let meta = std::fs::symlink_metadata(&p)?;
        if meta.is_dir()
            && !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            sy_files(&p, out)?;
        } else if meta.is_file() && p.extension().is_some_and(|x| x == "sy") {
            out.push(p);
        }
    }
    Ok(())
}

struct Doc {
    notebook: String,
    /// The notebook's folder name (its id).
    box_id: String,
    /// The `.sy` file inside the notebook, `/`-separated with a leading `/`.
    path: String,
    /// Document ids of the ancestors, from the path.
    ancestors: Vec<String>,
    doc: Document,
}

pub(crate) fn import(store: &dyn LinkStore, root: &Path) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let mut summary = Summary {
        source: root.display().to_string(),
        format: "siyuan",
        ..Summary::default()
    };
    let books = notebooks(root);
    if books.is_empty() {
        return Err(ImportError::UnknownFormat {
            path: root.display().to_string(),
            why: "no SiYuan notebook (a folder with .siyuan/conf.json)".into(),
        });
    }
    let mut docs: Vec<Doc> = Vec::new();
    for book in &books {
        let conf = std::fs::read_to_string(book.join(".siyuan/conf.json"))
            .map_err(|e| ImportError::io(book, e))?;
        let name = serde_json::from_str::<serde_json::Value>(&conf)
            .ok()
            .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
            .unwrap_or_else(|| {
                book.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            });
        let mut files = Vec::new();
        sy_files(book, &mut files).map_err(|e| ImportError::io(book, e))?;
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| ImportError::io(&f, e))?;
            summary.input_bytes += text.len() as u64;
            match parse_document(&text) {
                Ok(doc) => {
                    let rel = f.strip_prefix(book).unwrap_or(&f);
                    let ancestors = rel
                        .parent()
                        .into_iter()
                        .flat_map(|p| p.iter())
                        .map(|s| s.to_string_lossy().into_owned())
                        .collect();
                    let path = rel
                        .iter()
                        .map(|s| s.to_string_lossy())
                        .fold(String::new(), |acc, s| acc + "/" + &s);
                    docs.push(Doc {
                        notebook: name.clone(),
                        box_id: book
                            .file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned(),
                        path,
                        ancestors,
                        doc,
                    });
                }
                Err(e) => summary.skip(Skipped {
                    position: 0,
                    reason: format!("{}: {e}", f.display()),
                }),
            }
        }
    }

    let site = notes_site(store)?;
    let codec = TitleCodec::new(site.clone());
    let titles: HashMap<&str, &str> = docs
        .iter()
        .map(|d| (d.doc.id.as_str(), d.doc.title.as_str()))
        .collect();
    let mut next_id = store.last_page_id()?.map(|p| p.0 + 1).unwrap_or(1);
    // Document → (page id, title): the page of a document imported before is kept.
    let mut pages: HashMap<String, (PageId, Title)> = HashMap::new();
    let mut hpaths: HashMap<String, String> = HashMap::new();
    for d in &docs {
        let hpath: Vec<&str> = d
            .ancestors
            .iter()
            .map(|a| titles.get(a.as_str()).copied().unwrap_or(a.as_str()))
            .chain(std::iter::once(d.doc.title.as_str()))
            .collect();
        let text = format!("{}/{}", d.notebook, hpath.join("/"));
        hpaths.insert(d.doc.id.clone(), format!("/{}", hpath.join("/")));
        let title = codec
            .parse_local(&text, 0)
            .filter(|t| t.ns == 0)
            .unwrap_or_else(|| {
                Title::new(0, format!("{}/{}", d.notebook.replace(' ', "_"), d.doc.id))
            });
        let id = match store.block(&d.doc.id)? {
            Some(b) => b.page,
            None => {
                next_id += 1;
                PageId(next_id - 1)
            }
        };
        pages.insert(d.doc.id.clone(), (id, title));
    }
    let block_doc: HashMap<&str, &str> = docs
        .iter()
        .flat_map(|d| {
            d.doc
                .blocks
                .iter()
                .map(move |b| (b.id.as_str(), d.doc.id.as_str()))
        })
        .collect();
    let mut batch = Batch::new();
    if store.site_info()?.is_none() {
        batch.push(Op::SetSiteInfo(Box::new(site)));
    }
    for d in &docs {
        let (page, title) = pages[&d.doc.id].clone();
        let mut links: Vec<(LinkKind, Title)> = Vec::new();
        for r in &d.doc.refs {
            let target_doc = block_doc.get(r.def.as_str()).copied();
            if let Some((_, t)) = target_doc.and_then(|td| pages.get(td)) {
                if !links.iter().any(|(_, x)| x == t) {
                    links.push((LinkKind::Page, t.clone()));
                }
            }
        }
        // The store files the parsed blocks and references under `page`.
        let (mut blocks, refs) = (d.doc.blocks.clone(), d.doc.refs.clone());
        let doc_block = &mut blocks[0];
        doc_block.set_attr("box", d.box_id.as_str());
        doc_block.set_attr("notebook", d.notebook.as_str());
        doc_block.set_attr("path", d.path.as_str());
        doc_block.set_attr("hpath", hpaths[&d.doc.id].as_str());
        write_note(
            store,
            &mut batch,
            &mut summary,
            Note {
                page,
                title,
                links,
                blocks,
                refs,
            },
        )?;
    }
    store.apply(&batch)?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// One note as the index takes it: a page with its page links, blocks and references.
pub(crate) struct Note {
    pub page: PageId,
    pub title: Title,
    pub links: Vec<(LinkKind, Title)>,
    pub blocks: Vec<inlink_model::BlockRecord>,
    pub refs: Vec<inlink_model::BlockRef>,
}

/// Adds a note to `batch` (counted in `summary`), applying the batch when it is full.
pub(crate) fn write_note(
    store: &dyn LinkStore,
    batch: &mut Batch,
    summary: &mut Summary,
    n: Note,
) -> Result<(), ImportError> {
    summary.pages += 1;
    summary.links[LinkKind::Page as usize] += n.links.len() as u64;
    summary.blocks += n.blocks.len() as u64;
    summary.block_refs += n.refs.len() as u64;
    batch.push(Op::Upsert(PageUpdate {
        page: PageRecord {
            id: n.page,
            title: n.title,
            is_redirect: false,
        },
        links: n.links,
        redirect: None,
    }));
    batch.push(Op::SetBlocks {
        page: n.page,
        blocks: n.blocks,
        refs: n.refs,
    });
    if batch.len() >= 2_000 {
        store.apply(&std::mem::take(batch))?;
    }
    Ok(())
}
