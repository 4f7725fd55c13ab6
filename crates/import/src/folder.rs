//! A folder of notes that the index follows and that the write API writes into, as SiYuan's
//! kernel writes `.sy` files and Obsidian writes Markdown: a batch of note changes becomes
//! files in the folder, then the index is synced with the folder (`crate::sync`), so the
//! index after any batch equals a fresh import of the folder.
//!
//! A batch must not be half-applied to the folder by a crash. It is first written whole into
//! a journal directory (outside the folder) and fsynced; renaming `batch.tmp` to `batch` is
//! the commit point. Replaying a committed journal is idempotent: it holds each touched
//! path's final content (or its absence), never the operations. A journal found on opening
//! is replayed; an uncommitted one is dropped.

use crate::sync::{sync_folder, SyncSummary};
use crate::{Format, ImportError};
use inlink_model::PageId;
use inlink_parse::siyuan::parse_document;
use inlink_store::LinkStore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The largest note a batch may write (SiYuan's own documents stay far below it).
pub const MAX_NOTE_BYTES: usize = 8 << 20;
/// The longest path of a note under the folder, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// One change to the folder.
#[derive(Debug, Clone)]
pub enum NoteChange {
    /// Creates or replaces the note at `path` (a `.md` file of a vault, a `.sy` file of a
    /// notebook).
    Put { path: String, text: String },
    /// Removes the note at `path`.
    Delete { path: String },
    /// Moves a note (for a SiYuan document, with its child documents).
    Move { from: String, to: String },
}

/// What one change did, after the sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteResult {
    pub path: String,
    /// The note's page after the batch (`None` for a deleted note).
    pub page: Option<PageId>,
}

/// What the folder holds: a Markdown vault or SiYuan notebooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Markdown,
    /// The folder is one notebook.
    Notebook,
    /// The folder holds notebooks (a workspace's `data`).
    Workspace,
}

#[derive(Debug)]
pub struct NotesFolder {
    root: PathBuf,
    journal: PathBuf,
    /// Every change to the index made while this folder is followed goes through this lock:
    /// syncs, note batches and wiki batches plan against the index's state and its next id.
    lock: Mutex<()>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    version: u32,
    /// Path under the folder → the name of its content file in the journal, or `None` when
    /// the path must not exist.
    files: BTreeMap<String, Option<String>>,
}

const MANIFEST_VERSION: u32 = 1;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |e| ImportError::io(path, e)
}

fn bad_path(path: &str, why: impl Into<String>) -> ImportError {
    ImportError::BadNote {
        path: path.to_string(),
        why: why.into(),
    }
}

/// fsync of a directory, so that renames and creations in it are durable.
fn sync_dir(dir: &Path) -> Result<(), ImportError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), ImportError> {
    let mut f = fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

impl NotesFolder {
    /// Follows `root`, keeping the batch journal in `journal` (created if missing). The
    /// journal may lie inside `root` (an index kept in the vault it follows): note paths
    /// never lead into it. A committed batch left by a crash is finished here.
    pub fn open(root: &Path, journal: &Path) -> Result<Self, ImportError> {
        let root = root.canonicalize().map_err(io(root))?;
        fs::create_dir_all(journal).map_err(io(journal))?;
        let journal = journal.canonicalize().map_err(io(journal))?;
        if root.starts_with(&journal) {
            return Err(bad_path(
                &root.display().to_string(),
                "the folder of notes cannot lie inside its own journal",
            ));
        }
        let f = NotesFolder {
            root,
            journal,
            lock: Mutex::new(()),
        };
        let uncommitted = f.journal.join("batch.tmp");
        if uncommitted.exists() {
            fs::remove_dir_all(&uncommitted).map_err(io(&uncommitted))?;
        }
        f.replay()?;
        Ok(f)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The lock every writer of the index takes while the folder is followed.
    pub fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the index equal a fresh import of the folder.
    pub fn sync(&self, store: &dyn LinkStore) -> Result<SyncSummary, ImportError> {
        let _g = self.lock();
        self.replay()?;
        sync_folder(store, &self.root, Format::Auto)
    }

    fn kind(&self) -> Kind {
        if crate::siyuan::is_notebook(&self.root) {
            Kind::Notebook
        } else if !crate::siyuan::notebooks(&self.root).is_empty() {
            Kind::Workspace
        } else {
            Kind::Markdown
        }
    }

    /// Writes `changes` to the folder as one batch and syncs the index with it. Every change
    /// is checked first, against the folder as the earlier changes leave it; a refusal
    /// (`ImportError::BadNote`, `NoNote`, `NoteExists`) writes nothing.
    pub fn apply(
        &self,
        store: &dyn LinkStore,
        changes: &[NoteChange],
    ) -> Result<(SyncSummary, Vec<NoteResult>), ImportError> {
        let _g = self.lock();
        self.replay()?;
        let kind = self.kind();
        let mut plan = Plan {
            folder: self,
            kind,
            files: BTreeMap::new(),
        };
        for (i, c) in changes.iter().enumerate() {
            plan.change(c).map_err(|e| ImportError::InBatch {
                op: i,
                source: Box::new(e),
            })?;
        }
        self.commit(&plan.files)?;
        self.replay()?;
        let summary = sync_folder(store, &self.root, Format::Auto)?;
        let results = changes
            .iter()
            .map(|c| {
                let path = match c {
                    NoteChange::Put { path, .. } => path,
                    NoteChange::Delete { path } => path,
                    NoteChange::Move { to, .. } => to,
                };
                let path = normalise(path);
                NoteResult {
                    page: summary.pages.get(&path).copied(),
                    path,
                }
            })
            .collect();
        Ok((summary, results))
    }

    /// Writes the journal of a planned batch and commits it (the rename).
    fn commit(&self, files: &BTreeMap<String, Option<Vec<u8>>>) -> Result<(), ImportError> {
        let tmp = self.journal.join("batch.tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        fs::create_dir(&tmp).map_err(io(&tmp))?;
        let mut manifest = Manifest {
            version: MANIFEST_VERSION,
            files: BTreeMap::new(),
        };
        for (n, (path, content)) in files.iter().enumerate() {
            let name = match content {
                Some(bytes) => {
                    write_durably(&tmp.join(n.to_string()), bytes)?;
                    Some(n.to_string())
                }
                None => None,
            };
            manifest.files.insert(path.clone(), name);
        }
        let m = tmp.join("manifest.json");
        write_durably(
            &m,
            &serde_json::to_vec(&manifest).expect("a manifest serialises"),
        )?;
        sync_dir(&tmp)?;
        let done = self.journal.join("batch");
        fs::rename(&tmp, &done).map_err(io(&done))?;
        sync_dir(&self.journal)
    }

    /// Finishes a committed batch: every path gets its final content, then the journal goes.
    fn replay(&self) -> Result<(), ImportError> {
        let dir = self.journal.join("batch");
        if !dir.exists() {
            return Ok(());
        }
        let m = dir.join("manifest.json");
        let manifest: Manifest =
            serde_json::from_slice(&fs::read(&m).map_err(io(&m))?).map_err(|e| {
                ImportError::Malformed {
                    path: m.display().to_string(),
                    position: 0,
                    message: format!(
                        "a damaged notes journal ({e}); remove {} to drop the batch it holds",
                        dir.display()
                    ),
                }
            })?;
        if manifest.version != MANIFEST_VERSION {
            return Err(ImportError::Malformed {
                path: m.display().to_string(),
                position: 0,
                message: format!(
                    "notes journal version {}, this inlink writes {MANIFEST_VERSION}",
                    manifest.version
                ),
            });
        }
        let mut touched_dirs = Vec::new();
        for (path, content) in &manifest.files {
            // The journal is bytes on disk too: its paths are checked again.
            let target = self.resolve(path)?;
            let parent = target
                .parent()
                .expect("a note path has a parent")
                .to_path_buf();
            match content {
                Some(name) => {
                    if name.contains(['/', '\\']) || name.starts_with('.') {
                        return Err(bad_path(name, "not a journal file name"));
                    }
                    let bytes = fs::read(dir.join(name)).map_err(io(&dir.join(name)))?;
                    fs::create_dir_all(&parent).map_err(io(&parent))?;
                    // Created directories must not have become links meanwhile.
                    self.resolve(path)?;
                    let tmp = parent.join(format!(
                        ".{}.inlink-tmp",
                        target.file_name().unwrap_or_default().to_string_lossy()
                    ));
                    write_durably(&tmp, &bytes)?;
                    fs::rename(&tmp, &target).map_err(io(&target))?;
                }
                None => match fs::remove_file(&target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(ImportError::io(&target, e)),
                },
            }
            touched_dirs.push(parent);
        }
        touched_dirs.sort();
        touched_dirs.dedup();
        for d in &touched_dirs {
            if d.exists() {
                sync_dir(d)?;
            }
        }
        fs::remove_dir_all(&dir).map_err(io(&dir))?;
        sync_dir(&self.journal)
    }

    /// The file of note `path`: inside the folder, through real directories only.
    fn resolve(&self, path: &str) -> Result<PathBuf, ImportError> {
        self.resolve_as(path, true)
    }

    /// `path` under the folder, through real directories only, naming a file (or a
    /// directory) if it exists.
    fn resolve_as(&self, path: &str, file: bool) -> Result<PathBuf, ImportError> {
        check_path(path)?;
        let mut at = self.root.clone();
        let parts: Vec<&str> = path.split('/').collect();
        if self.root.join(path).starts_with(&self.journal) {
            return Err(bad_path(path, "inside the notes journal"));
        }
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(bad_path(path, "leads through a symbolic link"))
                }
                Ok(m) if i + 1 < parts.len() && !m.is_dir() => {
                    return Err(bad_path(path, "a part of the path is a file"))
                }
                Ok(m) if i + 1 == parts.len() && file && !m.is_file() => {
                    return Err(bad_path(path, "not a file"))
                }
                Ok(m) if i + 1 == parts.len() && !file && !m.is_dir() => {
                    return Err(bad_path(path, "not a folder"))
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ImportError::io(&at, e)),
            }
        }
        Ok(at)
    }
}

/// `a//b/` → `a/b`: the key a path is known by.
fn normalise(path: &str) -> String {
    path.split('/')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// A relative `/`-separated path that stays inside the folder and names no hidden file.
fn check_path(path: &str) -> Result<(), ImportError> {
    if path.is_empty() || path.len() > MAX_PATH_BYTES {
        return Err(bad_path(
            path,
            format!("a note path has 1 to {MAX_PATH_BYTES} bytes"),
        ));
    }
    if path.contains(['\\', '\0']) || path.starts_with('/') {
        return Err(bad_path(path, "a relative path with / between its parts"));
    }
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) if !s.to_string_lossy().starts_with('.') => {}
            _ => {
                return Err(bad_path(
                    path,
                    "no empty, ., .. or hidden parts: notes lie inside the folder",
                ))
            }
        }
    }
    if path.split('/').any(str::is_empty) {
        return Err(bad_path(path, "an empty part"));
    }
    // File systems name files in at most 255 bytes.
    if path.split('/').any(|p| p.len() > 255) {
        return Err(bad_path(path, "a part longer than 255 bytes"));
    }
    Ok(())
}

struct Plan<'a> {
    folder: &'a NotesFolder,
    kind: Kind,
    /// Final content of every path the batch touches (`None`: absent).
    files: BTreeMap<String, Option<Vec<u8>>>,
}

impl Plan<'_> {
    fn content(&self, path: &str) -> Result<Option<Vec<u8>>, ImportError> {
        if let Some(c) = self.files.get(path) {
            return Ok(c.clone());
        }
        let f = self.folder.resolve(path)?;
        match fs::read(&f) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImportError::io(&f, e)),
        }
    }

    /// Checks that `path` names a note this folder's import reads.
    fn check_note_path(&self, path: &str) -> Result<(), ImportError> {
        self.folder.resolve(path)?;
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        match self.kind {
            Kind::Markdown => {
                if !matches!(ext.as_deref(), Some("md" | "markdown")) {
                    return Err(bad_path(path, "notes of a Markdown vault are .md files"));
                }
                if crate::markdown::is_logseq_graph(&self.folder.root)
                    && !(path.starts_with("pages/") || path.starts_with("journals/"))
                {
                    return Err(bad_path(
                        path,
                        "Logseq reads notes under pages/ and journals/ only",
                    ));
                }
            }
            Kind::Notebook | Kind::Workspace => {
                if ext.as_deref() != Some("sy") {
                    return Err(bad_path(path, "SiYuan documents are .sy files"));
                }
                if self.kind == Kind::Workspace {
                    let book = path.split('/').next().unwrap_or_default();
                    if !path.contains('/')
                        || !crate::siyuan::is_notebook(&self.folder.root.join(book))
                    {
                        return Err(bad_path(
                            path,
                            "a document's path starts with its notebook's folder",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The SiYuan document files under `dir` (a document's children), as the batch leaves them.
    fn children(&self, dir: &str) -> Result<Vec<String>, ImportError> {
        let prefix = format!("{dir}/");
        let mut out: Vec<String> = Vec::new();
        let root = self.folder.resolve_as(dir, false)?;
        if root.is_dir() {
            let mut stack = vec![root];
            while let Some(d) = stack.pop() {
                for e in fs::read_dir(&d).map_err(io(&d))? {
                    let e = e.map_err(io(&d))?;
                    let t = e.file_type().map_err(io(&d))?;
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with('.') || t.is_symlink() {
                        continue;
                    }
                    if t.is_dir() {
                        stack.push(e.path());
                    } else if name.ends_with(".sy") {
                        let rel = e
                            .path()
                            .strip_prefix(&self.folder.root)
                            .expect("under the folder")
                            .iter()
                            .map(|s| s.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join("/");
                        out.push(rel);
                    }
                }
            }
        }
        out.retain(|p| !self.files.contains_key(p));
        out.extend(
            self.files
                .iter()
                .filter(|(p, c)| p.starts_with(&prefix) && c.is_some())
                .map(|(p, _)| p.clone()),
        );
        out.sort();
        Ok(out)
    }

    fn change(&mut self, c: &NoteChange) -> Result<(), ImportError> {
        match c {
            NoteChange::Put { path, text } => {
                let path = normalise(path);
                self.check_note_path(&path)?;
                if text.len() > MAX_NOTE_BYTES {
                    return Err(bad_path(
                        &path,
                        format!("a note has at most {MAX_NOTE_BYTES} bytes"),
                    ));
                }
                if self.kind != Kind::Markdown {
                    let doc = parse_document(text)
                        .map_err(|e| bad_path(&path, format!("not a SiYuan document: {}", e.0)))?;
                    let stem = path.rsplit('/').next().unwrap_or(&path);
                    if stem.strip_suffix(".sy") != Some(doc.id.as_str()) {
                        return Err(bad_path(
                            &path,
                            format!(
                                "SiYuan names a document's file after its id ({}.sy)",
                                doc.id
                            ),
                        ));
                    }
                }
                self.files.insert(path, Some(text.clone().into_bytes()));
            }
            NoteChange::Delete { path } => {
                let path = normalise(path);
                self.check_note_path(&path)?;
                if self.content(&path)?.is_none() {
                    return Err(ImportError::NoNote { path });
                }
                self.files.insert(path, None);
            }
            NoteChange::Move { from, to } => {
                let (from, to) = (normalise(from), normalise(to));
                self.check_note_path(&from)?;
                self.check_note_path(&to)?;
                if from == to {
                    return Err(bad_path(&to, "a note cannot move onto itself"));
                }
                let Some(content) = self.content(&from)? else {
                    return Err(ImportError::NoNote { path: from });
                };
                if self.content(&to)?.is_some() {
                    return Err(ImportError::NoteExists { path: to });
                }
                let mut moves = vec![(from.clone(), to.clone(), content)];
                if self.kind != Kind::Markdown {
                    // A document's children live in the folder named after it, and move with it.
                    let (fdir, tdir) = (
                        from.trim_end_matches(".sy").to_string(),
                        to.trim_end_matches(".sy").to_string(),
                    );
                    if tdir.starts_with(&format!("{fdir}/")) {
                        return Err(bad_path(&to, "a document cannot move under itself"));
                    }
                    if from.rsplit('/').next() != to.rsplit('/').next() {
                        return Err(bad_path(
                            &to,
                            "a document keeps its file name (its id) when it moves",
                        ));
                    }
                    for child in self.children(&fdir)? {
                        let dest = format!("{tdir}{}", &child[fdir.len()..]);
                        self.folder.resolve(&dest)?;
                        if self.content(&dest)?.is_some() {
                            return Err(ImportError::NoteExists { path: dest });
                        }
                        let c = self.content(&child)?.expect("listed");
                        moves.push((child, dest, c));
                    }
                }
                for (f, _, _) in &moves {
                    self.files.insert(f.clone(), None);
                }
                for (_, t, c) in moves {
                    self.files.insert(t, Some(c));
                }
            }
        }
        Ok(())
    }
}
