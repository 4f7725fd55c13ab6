//! Importing a folder of Markdown notes (an Obsidian or SilverBullet vault, a Logseq graph,
//! a Dendron vault; `docs/markdown.md`). Each note becomes a page named as its app names it,
//! with its blocks; each resolved link becomes a page link (so the MediaWiki dialect answers
//! "what links here" for notes) and a block reference from the block it is in to the note,
//! heading or block it names (so the SiYuan dialect does too).

use crate::summary::Summary;
use crate::xml::Skipped;
use crate::ImportError;
use inlink_model::{
    text::fold, BlockRecord, BlockRef, BlockRefKind, LinkKind, PageId, Title, TitleCodec,
};
use inlink_parse::markdown::{parse_note, Flavour, Note, Target};
use inlink_store::{Batch, LinkStore, Op};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Markdown files under `dir`, sorted; hidden entries and symlinks are not followed.
fn md_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p)?;
        if meta.is_dir() {
            md_files(&p, out)?;
        } else if meta.is_file()
            && p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("md") || x.eq_ignore_ascii_case("markdown"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Whether `dir` holds Markdown notes.
pub(crate) fn is_vault(dir: &Path) -> bool {
    let mut v = Vec::new();
    dir.is_dir() && md_files(dir, &mut v).is_ok() && !v.is_empty()
}

pub(crate) fn is_logseq_graph(root: &Path) -> bool {
    root.join("logseq").is_dir() || (root.join("pages").is_dir() && root.join("journals").is_dir())
}

fn detect_flavour(root: &Path, texts: &[(PathBuf, String)]) -> Flavour {
    if is_logseq_graph(root) {
        return Flavour::Logseq;
    }
    if root.join("dendron.yml").is_file() {
        return Flavour::Dendron;
    }
    // Dendron writes `id`, `title`, `updated` and `created` into every note's front matter.
    let dendron = texts
        .iter()
        .filter(|(_, t)| {
            let head = t.get(..t.len().min(600)).unwrap_or(t);
            head.starts_with("---")
                && ["\nid:", "\ntitle:", "\nupdated:", "\ncreated:"]
                    .iter()
                    .all(|k| head.contains(k))
        })
        .count();
    if !texts.is_empty() && dendron * 2 > texts.len() {
        Flavour::Dendron
    } else {
        Flavour::Obsidian
    }
}

/// FNV-1a: stable ids from paths, whatever the platform or release.
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Unix seconds → `yyyyMMddHHmmss` (UTC).
fn timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Logseq file names: `___` stands for `/`, and `%XX` escapes a byte.
fn logseq_name(stem: &str) -> String {
    let s = stem.replace("___", "/");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or(s)
}

struct Parsed {
    rel: String,
    /// The name links use.
    name: String,
    /// What the note is called on screen (the document's title).
    title: String,
    note: Note,
    doc_id: String,
    /// Global block ids, parallel to `note.blocks`.
    block_ids: Vec<String>,
    time: String,
}

pub(crate) fn import(store: &dyn LinkStore, root: &Path) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let mut summary = Summary {
        source: root.display().to_string(),
        format: "markdown",
        ..Summary::default()
    };
    if !root.is_dir() {
        return Err(ImportError::UnknownFormat {
            path: root.display().to_string(),
            why: "a Markdown vault is a folder of notes, not a file".into(),
        });
    }
    let mut files = Vec::new();
    if is_logseq_graph(root) {
        // Logseq reads its pages and journals, nothing else of the graph folder.
        for sub in ["pages", "journals"] {
            let d = root.join(sub);
            if d.is_dir() {
                md_files(&d, &mut files).map_err(|e| ImportError::io(&d, e))?;
            }
        }
    } else {
        md_files(root, &mut files).map_err(|e| ImportError::io(root, e))?;
    }
    if files.is_empty() {
        return Err(ImportError::UnknownFormat {
            path: root.display().to_string(),
            why: "no Markdown notes (*.md) in this folder".into(),
        });
    }
    let mut texts = Vec::with_capacity(files.len());
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| ImportError::io(&f, e))?;
        summary.input_bytes += bytes.len() as u64;
        match String::from_utf8(bytes) {
            Ok(t) => texts.push((f, t)),
            Err(_) => summary.skip(Skipped {
                position: 0,
                reason: format!("{}: not UTF-8", f.display()),
            }),
        }
    }
    let flavour = detect_flavour(root, &texts);
    let vault = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "vault".into());

    let mut notes: Vec<Parsed> = Vec::with_capacity(texts.len());
    let mut taken_ids: HashSet<String> = HashSet::new();
    for (path, text) in &texts {
        let rel_path = path.strip_prefix(root).unwrap_or(path);
        let rel: String = rel_path
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let stem_path = rel
            .rsplit_once('.')
            .map_or(rel.as_str(), |(s, _)| s)
            .to_string();
        let stem = stem_path
            .rsplit('/')
            .next()
            .unwrap_or(&stem_path)
            .to_string();
        let note = parse_note(text, flavour);
        let (name, title) = match flavour {
            Flavour::Obsidian => (stem_path.clone(), stem.clone()),
            Flavour::Dendron => (
                stem.clone(),
                note.title.clone().unwrap_or_else(|| stem.clone()),
            ),
            Flavour::Logseq => {
                let n = note.title.clone().unwrap_or_else(|| logseq_name(&stem));
                (n.clone(), n)
            }
        };
        let mut doc_id = match (&note.id, flavour) {
            (Some(id), Flavour::Dendron) => id.clone(),
            _ => format!("md-{:016x}", fnv(&rel)),
        };
        if !taken_ids.insert(doc_id.clone()) {
            doc_id = format!("md-{:016x}", fnv(&rel));
            taken_ids.insert(doc_id.clone());
        }
        let time = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| timestamp(d.as_secs() as i64))
            .unwrap_or_default();
        let mut block_ids = Vec::with_capacity(note.blocks.len());
        for (i, b) in note.blocks.iter().enumerate() {
            let explicit = match &b.id {
                Some(local) if local.starts_with('^') => Some(format!("{doc_id}{local}")),
                Some(global) => Some(global.clone()),
                None => None,
            };
            let id = match explicit {
                Some(id) if taken_ids.insert(id.clone()) => id,
                _ => {
                    let id = format!("{doc_id}-{i}");
                    taken_ids.insert(id.clone());
                    id
                }
            };
            block_ids.push(id);
        }
        notes.push(Parsed {
            rel,
            name,
            title,
            note,
            doc_id,
            block_ids,
            time,
        });
    }

    // Names links may use, case-insensitively as the apps resolve them.
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut by_base: HashMap<String, usize> = HashMap::new();
    let mut by_alias: HashMap<String, usize> = HashMap::new();
    let mut by_block: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, n) in notes.iter().enumerate() {
        by_name.entry(fold(&n.name)).or_insert(i);
        let base = n.name.rsplit('/').next().unwrap_or(&n.name);
        // The shortest path wins a shared base name, as in Obsidian.
        by_base
            .entry(fold(base))
            .and_modify(|j| {
                if notes[*j].name.len() > n.name.len() {
                    *j = i
                }
            })
            .or_insert(i);
        for a in &n.note.aliases {
            by_alias.entry(fold(a)).or_insert(i);
        }
        for (b, id) in n.block_ids.iter().enumerate() {
            by_block.insert(id.as_str(), (i, b));
        }
    }
    let resolve = |target: &str, from: usize| -> Option<usize> {
        let t = target.trim().trim_start_matches('/');
        if t.is_empty() {
            return Some(from);
        }
        let t = t
            .strip_suffix(".md")
            .or_else(|| t.strip_suffix(".MD"))
            .unwrap_or(t);
        let key = fold(t);
        if let Some(&i) = by_name.get(&key) {
            return Some(i);
        }
        if flavour == Flavour::Obsidian {
            if !key.contains('/') {
                if let Some(&i) = by_base.get(&key) {
                    return Some(i);
                }
            } else {
                let suffix = format!("/{key}");
                if let Some(i) = notes.iter().position(|n| fold(&n.name).ends_with(&suffix)) {
                    return Some(i);
                }
            }
        }
        by_alias.get(&key).copied()
    };

    // Titles: the note's name; unresolved names keep the first spelling seen.
    let site = crate::siyuan::notes_site(store)?;
    let codec = TitleCodec::new(site.clone());
    let to_title = |name: &str| -> Title {
        codec
            .parse_local(name, 0)
            .filter(|t| t.ns == 0)
            .unwrap_or_else(|| Title::new(0, name.trim().replace(' ', "_")))
    };
    let mut titles: Vec<Title> = Vec::with_capacity(notes.len());
    let mut used: HashSet<Title> = HashSet::new();
    for n in &notes {
        let mut t = to_title(&n.name);
        if !used.insert(t.clone()) {
            t = to_title(&format!("{} ({})", n.name, n.rel));
            used.insert(t.clone());
        }
        titles.push(t);
    }
    let mut red: HashMap<String, Title> = HashMap::new();

    let mut next_id = store.last_page_id()?.map(|p| p.0 + 1).unwrap_or(1);
    let mut batch = Batch::new();
    if store.site_info()?.is_none() {
        batch.push(Op::SetSiteInfo(Box::new(site.clone())));
    }
    for (i, n) in notes.iter().enumerate() {
        let page = match store.block(&n.doc_id)? {
            Some(b) => b.page,
            None => {
                next_id += 1;
                PageId(next_id - 1)
            }
        };
        let mut doc = BlockRecord {
            id: n.doc_id.clone(),
            page,
            parent: None,
            kind: "d".into(),
            subtype: String::new(),
            content: n.title.clone(),
            name: String::new(),
            aliases: n.note.aliases.clone(),
            memo: String::new(),
            created: n.time.clone(),
            updated: n.time.clone(),
            attrs: Vec::new(),
        };
        doc.set_attr("box", vault.as_str());
        doc.set_attr("notebook", vault.as_str());
        doc.set_attr("path", format!("/{}", n.rel));
        doc.set_attr("hpath", format!("/{}", n.name));
        let mut blocks = vec![doc];
        for (b, mb) in n.note.blocks.iter().enumerate() {
            blocks.push(BlockRecord {
                id: n.block_ids[b].clone(),
                page,
                parent: Some(
                    mb.parent
                        .map_or_else(|| n.doc_id.clone(), |p| n.block_ids[p].clone()),
                ),
                kind: mb.kind.into(),
                subtype: mb.subtype.clone(),
                content: mb.text.clone(),
                name: String::new(),
                aliases: Vec::new(),
                memo: String::new(),
                // Blocks share their document's times; the document carries them.
                created: String::new(),
                updated: String::new(),
                attrs: Vec::new(),
            });
        }
        let mut links: Vec<(LinkKind, Title)> = Vec::new();
        let mut refs: Vec<BlockRef> = Vec::new();
        // A note's links to itself are kept: Obsidian and SilverBullet count a note among
        // its own backlinks, and SiYuan lists a document's references to itself.
        let mut link_to = |t: Title| {
            if !links.iter().any(|(_, x)| *x == t) {
                links.push((LinkKind::Page, t));
            }
        };
        for l in &n.note.links {
            let from_block = n.block_ids[l.block].clone();
            let kind = if l.embed {
                BlockRefKind::Embed
            } else {
                BlockRefKind::Static
            };
            // `[[#Heading]]` points inside the note itself: a block reference only.
            let same_note =
                matches!(&l.target, Target::Note { name, .. } if name.trim().is_empty());
            let (to_note, def) = match &l.target {
                Target::Note { name, fragment } => {
                    let Some(t) = resolve(name, i) else {
                        if !name.trim().is_empty() {
                            let key = fold(name.trim());
                            let title = red
                                .entry(key)
                                .or_insert_with(|| to_title(name.trim()))
                                .clone();
                            link_to(title);
                        }
                        continue;
                    };
                    let target = &notes[t];
                    let def = match fragment.as_deref() {
                        Some(f) if f.starts_with('^') => target
                            .block_ids
                            .iter()
                            .find(|id| id.strip_prefix(target.doc_id.as_str()) == Some(f))
                            .cloned(),
                        Some(f) => {
                            // Dendron adds a range: `#heading,1:#*`.
                            let h = fold(f.split(',').next().unwrap_or(f).trim());
                            target
                                .note
                                .blocks
                                .iter()
                                .position(|b| b.kind == "h" && fold(b.text.trim()) == h)
                                .map(|b| target.block_ids[b].clone())
                        }
                        None => None,
                    };
                    (t, def.unwrap_or_else(|| target.doc_id.clone()))
                }
                Target::Block(id) => match by_block.get(id.as_str()) {
                    Some(&(t, _)) => (t, id.clone()),
                    None => continue,
                },
            };
            if !same_note {
                link_to(titles[to_note].clone());
            }
            refs.push(BlockRef {
                page,
                block: from_block,
                def,
                anchor: l.label.clone(),
                kind,
            });
        }
        crate::siyuan::write_note(
            store,
            &mut batch,
            &mut summary,
            crate::siyuan::Note {
                page,
                title: titles[i].clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_names() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(1_700_000_000), "20231114221320");
        assert_eq!(logseq_name("foo___bar%3F"), "foo/bar?");
        assert_eq!(logseq_name("100%"), "100%");
    }
}
