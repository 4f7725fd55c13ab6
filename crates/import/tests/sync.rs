//! `sync_folder` after random file operations on a vault equals a fresh import of it.

use inlink_import::sync::sync_folder;
use inlink_import::{import, Format, Options};
use inlink_model::{LinkKind, PageId};
use inlink_store::{LinkStore, MemStore, RedbStore};
use std::collections::BTreeMap;

#[path = "../../../tests/support/shared_data.rs"]
mod shared_data;
use shared_data::data;
#[path = "../../../tests/support/kill9.rs"]
mod kill9;

struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Everything a page holds, keyed by title, with page ids replaced by titles.
fn snapshot(store: &dyn LinkStore) -> BTreeMap<String, String> {
    let pages = store.pages(PageId(0), usize::MAX).unwrap();
    let title_of: BTreeMap<PageId, String> = pages
        .iter()
        .map(|p| (p.id, format!("{}:{}", p.title.ns, p.title.dbkey)))
        .collect();
    let mut out = BTreeMap::new();
    for p in &pages {
        let mut s = format!("redirect={}\n", p.is_redirect);
        for kind in LinkKind::ALL {
            for t in store.outgoing(p.id, kind).unwrap() {
                s.push_str(&format!("link {kind:?} {}:{}\n", t.ns, t.dbkey));
            }
        }
        for mut b in store.blocks_of(p.id).unwrap() {
            b.page = PageId(0);
            s.push_str(&format!("block {b:?}\n"));
        }
        for r in store.block_refs_from(p.id).unwrap() {
            s.push_str(&format!(
                "ref {} {} {} {:?}\n",
                r.block, r.def, r.anchor, r.kind
            ));
            if let Some(def) = store.block(&r.def).unwrap() {
                s.push_str(&format!("  to {}\n", title_of[&def.page]));
            }
        }
        out.insert(title_of[&p.id].clone(), s);
    }
    out
}

fn note(rng: &mut Lcg, names: &[&str]) -> String {
    let mut s = String::from("# Title\n\n");
    for _ in 0..rng.below(5) {
        let to = names[rng.below(names.len() as u64) as usize];
        match rng.below(4) {
            0 => s.push_str(&format!("See [[{to}]].\n\n")),
            1 => s.push_str(&format!("Part [[{to}#^b1|there]].\n\n")),
            2 => s.push_str(&format!("Embed ![[{to}]]\n\n")),
            _ => s.push_str(&format!("Words about {to} without a link.\n\n")),
        }
    }
    if rng.below(2) == 0 {
        s.push_str("A block with an id ^b1\n");
    }
    s
}

#[test]
fn random_file_operations_then_sync_equal_a_fresh_import() {
    let vault = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.md"), "[[n1]] outside\n").unwrap();
    let root = vault.path();
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::create_dir_all(root.join("b")).unwrap();
    let names = ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"];
    let mut rng = Lcg(11);
    let file = |rng: &mut Lcg| {
        let dir = if rng.below(2) == 0 { "a" } else { "b" };
        root.join(dir)
            .join(format!("{}.md", names[rng.below(8) as usize]))
    };
    for _ in 0..4 {
        let p = file(&mut rng);
        std::fs::write(&p, note(&mut rng, &names)).unwrap();
    }
    // A link out of the vault is not followed.
    std::os::unix::fs::symlink(outside.path(), root.join("b/elsewhere")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.md"), root.join("a/s.md")).unwrap();

    let live_dir = tempfile::tempdir().unwrap();
    let live = RedbStore::open(live_dir.path()).unwrap();
    let mut synced_writes = 0;
    for step in 0..40 {
        let existing: Vec<_> = ["a", "b"]
            .iter()
            .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "md") && !p.is_symlink())
            .collect();
        for _ in 0..1 + rng.below(3) {
            match rng.below(6) {
                0 | 1 => {
                    let p = file(&mut rng);
                    std::fs::write(&p, note(&mut rng, &names)).unwrap();
                }
                2 if !existing.is_empty() => {
                    let p = &existing[rng.below(existing.len() as u64) as usize];
                    let _ = std::fs::remove_file(p);
                }
                3 if !existing.is_empty() => {
                    let p = &existing[rng.below(existing.len() as u64) as usize];
                    let to = file(&mut rng);
                    if !to.exists() {
                        let _ = std::fs::rename(p, to);
                    }
                }
                _ if !existing.is_empty() => {
                    let p = &existing[rng.below(existing.len() as u64) as usize];
                    if p.exists() {
                        let mut t = std::fs::read_to_string(p).unwrap();
                        t.push_str(&format!(
                            "\nEdit {step}: [[{}]]\n",
                            names[rng.below(8) as usize]
                        ));
                        std::fs::write(p, t).unwrap();
                    }
                }
                _ => {}
            }
        }
        let has_notes = ["a", "b"].iter().any(|d| {
            std::fs::read_dir(root.join(d))
                .unwrap()
                .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "md"))
        });
        if !has_notes {
            continue;
        }
        let s = sync_folder(&live, root, Format::Markdown).unwrap();
        synced_writes += s.written + s.deleted;
        let fresh = MemStore::new();
        import(
            &fresh,
            &[root.to_path_buf()],
            Format::Markdown,
            &Options::default(),
        )
        .unwrap();
        let (a, b) = (snapshot(&live), snapshot(&fresh));
        assert_eq!(a, b, "step {step}");
        assert!(!a.values().any(|s| s.contains("outside")));
        // Nothing changed: nothing written.
        let again = sync_folder(&live, root, Format::Markdown).unwrap();
        assert_eq!((again.written, again.deleted), (0, 0), "step {step}");
    }
    assert!(synced_writes > 30, "writes: {synced_writes}");
    assert_eq!(live.verify(10).unwrap(), Vec::<String>::new());
}

#[test]
fn sync_of_an_unchanged_folder_writes_nothing() {
    let vault = tempfile::tempdir().unwrap();
    std::fs::write(vault.path().join("a.md"), "[[b]]\n").unwrap();
    std::fs::write(vault.path().join("b.md"), "[[a]] ^x\n").unwrap();
    let store = MemStore::new();
    let first = sync_folder(&store, vault.path(), Format::Auto).unwrap();
    assert_eq!((first.notes, first.written, first.deleted), (2, 2, 0));
    let gen = store.generation();
    let second = sync_folder(&store, vault.path(), Format::Auto).unwrap();
    assert_eq!((second.written, second.deleted), (0, 0));
    assert_eq!(store.generation(), gen, "no batch applied");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The SiYuan user guide: documents removed and edited, then synced, equal a fresh import.
#[test]
fn siyuan_workspace_sync_equals_a_fresh_import() {
    let Some(guide) = data("siyuan-guide") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    copy_dir(&guide, work.path());
    let root = work.path();
    let live = MemStore::new();
    let first = sync_folder(&live, root, Format::Auto).unwrap();
    assert_eq!(first.notes, 294);
    let mut sy = Vec::new();
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else if p.extension().is_some_and(|x| x == "sy") {
                out.push(p)
            }
        }
    }
    walk(root, &mut sy);
    sy.sort();
    // Leaf documents only (a parent's folder holds its children): remove some, edit others.
    let leaves: Vec<_> = sy
        .iter()
        .filter(|p| !p.with_extension("").is_dir())
        .cloned()
        .collect();
    for p in leaves.iter().step_by(17) {
        std::fs::remove_file(p).unwrap();
    }
    for p in leaves.iter().skip(3).step_by(23) {
        if p.exists() {
            let t = std::fs::read_to_string(p).unwrap();
            // Drop the document's last top-level block: its references go with it.
            let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
            if let Some(children) = v["Children"].as_array_mut() {
                children.pop();
            }
            std::fs::write(p, v.to_string()).unwrap();
        }
    }
    let s = sync_folder(&live, root, Format::Auto).unwrap();
    assert!(s.deleted > 5 && s.written > 5, "{s:?}");
    let fresh = MemStore::new();
    import(
        &fresh,
        &[root.to_path_buf()],
        Format::Auto,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(snapshot(&live), snapshot(&fresh));
}

use inlink_import::folder::{NoteChange, NotesFolder};
use inlink_import::ImportError;

/// Every file under `root`, with its bytes.
fn files(root: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &std::path::Path, d: &std::path::Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(root, &e.path(), out)
            } else if t.is_file() {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Batches of note changes through the folder leave the index equal to a fresh import of the
/// folder after each one; refused batches change neither the folder nor the index.
#[test]
fn note_batches_equal_a_fresh_import_and_refusals_write_nothing() {
    let vault = tempfile::tempdir().unwrap();
    let journal = tempfile::tempdir().unwrap();
    std::fs::write(vault.path().join("seed.md"), "[[n1]]\n").unwrap();
    let folder = NotesFolder::open(vault.path(), journal.path()).unwrap();
    let root = folder.root().to_path_buf();
    let live_dir = tempfile::tempdir().unwrap();
    let live = RedbStore::open(live_dir.path()).unwrap();
    folder.sync(&live).unwrap();
    let names = ["n0", "n1", "n2", "n3", "n4", "n5"];
    let mut rng = Lcg(5);
    let path = |rng: &mut Lcg| {
        let dir = ["", "a/", "b/c/"][rng.below(3) as usize];
        format!("{dir}{}.md", names[rng.below(6) as usize])
    };
    let (mut applied, mut refused) = (0, 0);
    for step in 0..60 {
        let mut changes = Vec::new();
        for _ in 0..1 + rng.below(4) {
            changes.push(match rng.below(7) {
                0..=2 => NoteChange::Put {
                    path: path(&mut rng),
                    text: note(&mut rng, &names),
                },
                3 | 4 => NoteChange::Move {
                    from: path(&mut rng),
                    to: path(&mut rng),
                },
                5 => NoteChange::Delete {
                    path: path(&mut rng),
                },
                // Never accepted: outside the folder, hidden, or not a note.
                _ => NoteChange::Put {
                    path: [
                        "../out.md",
                        "a/../../x.md",
                        ".obsidian/x.md",
                        "a/x.txt",
                        "/abs.md",
                    ][rng.below(5) as usize]
                        .into(),
                    text: "[[n0]]".into(),
                },
            });
        }
        let before = (files(&root), snapshot(&live), live.generation());
        match folder.apply(&live, &changes) {
            Ok((_, results)) => {
                applied += 1;
                assert_eq!(results.len(), changes.len());
                for (c, r) in changes.iter().zip(&results) {
                    let exists = root.join(&r.path).is_file();
                    assert_eq!(r.page.is_some(), exists, "step {step}: {c:?} {r:?}");
                }
            }
            Err(ImportError::InBatch { op, source }) => {
                refused += 1;
                assert!(
                    matches!(
                        *source,
                        ImportError::BadNote { .. }
                            | ImportError::NoNote { .. }
                            | ImportError::NoteExists { .. }
                    ),
                    "step {step}: change {op}: {source}"
                );
                assert_eq!(
                    before,
                    (files(&root), snapshot(&live), live.generation()),
                    "step {step}: a refused batch changed something"
                );
            }
            Err(e) => panic!("step {step}: {e}"),
        }
        let fresh = MemStore::new();
        if files(&root).keys().any(|k| k.ends_with(".md")) {
            import(
                &fresh,
                std::slice::from_ref(&root),
                Format::Markdown,
                &Options::default(),
            )
            .unwrap();
        }
        assert_eq!(snapshot(&live), snapshot(&fresh), "step {step}");
        assert!(!journal.path().join("batch").exists());
    }
    assert!(
        applied > 15 && refused > 15,
        "{applied} applied, {refused} refused"
    );
    assert!(!root.parent().unwrap().join("out.md").exists());
    assert_eq!(live.verify(10).unwrap(), Vec::<String>::new());
}

#[test]
fn note_paths_through_links_are_refused() {
    let vault = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(vault.path().join("a.md"), "x\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), vault.path().join("out")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("t.md"), vault.path().join("t.md")).unwrap();
    let journal = tempfile::tempdir().unwrap();
    let folder = NotesFolder::open(vault.path(), journal.path()).unwrap();
    let store = MemStore::new();
    for path in ["out/x.md", "t.md", "a.md/b.md"] {
        let e = folder
            .apply(
                &store,
                &[NoteChange::Put {
                    path: path.into(),
                    text: "[[a]]".into(),
                }],
            )
            .unwrap_err();
        assert!(e.to_string().contains(path), "{e}");
    }
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    // A journal inside the folder (an index kept in the vault it follows) is never written to
    // through a note path.
    let inner = NotesFolder::open(vault.path(), &vault.path().join("inlink-data/journal")).unwrap();
    let e = inner
        .apply(
            &store,
            &[NoteChange::Put {
                path: "inlink-data/journal/batch/x.md".into(),
                text: "x".into(),
            }],
        )
        .unwrap_err();
    assert!(e.to_string().contains("journal"), "{e}");
}

/// A committed journal (a crash after the commit point) is finished on opening; an
/// uncommitted one is dropped. The journal's layout is the one `folder.rs` documents.
#[test]
fn a_committed_journal_is_replayed_and_an_uncommitted_one_dropped() {
    let vault = tempfile::tempdir().unwrap();
    let journal = tempfile::tempdir().unwrap();
    std::fs::write(vault.path().join("gone.md"), "old\n").unwrap();
    std::fs::write(vault.path().join("kept.md"), "kept\n").unwrap();
    let batch = journal.path().join("batch");
    std::fs::create_dir(&batch).unwrap();
    std::fs::write(batch.join("0"), "[[kept]] new\n").unwrap();
    std::fs::write(
        batch.join("manifest.json"),
        r#"{"version":1,"files":{"d/new.md":"0","gone.md":null}}"#,
    )
    .unwrap();
    let tmp = journal.path().join("batch.tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(
        tmp.join("manifest.json"),
        r#"{"version":1,"files":{"x.md":null}}"#,
    )
    .unwrap();
    let folder = NotesFolder::open(vault.path(), journal.path()).unwrap();
    let got = files(folder.root());
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        ["d/new.md", "kept.md"]
    );
    assert_eq!(got["d/new.md"], b"[[kept]] new\n");
    assert!(!batch.exists() && !tmp.exists());
    // A journal that escapes the folder is refused, not followed.
    std::fs::create_dir(&batch).unwrap();
    std::fs::write(
        batch.join("manifest.json"),
        r#"{"version":1,"files":{"../escape.md":null}}"#,
    )
    .unwrap();
    assert!(NotesFolder::open(vault.path(), journal.path()).is_err());
}

/// SiYuan documents: put, and moved with their children.
#[test]
fn siyuan_documents_through_the_folder() {
    let ws = tempfile::tempdir().unwrap();
    let book = ws.path().join("20240101000000-book001");
    std::fs::create_dir_all(book.join(".siyuan")).unwrap();
    std::fs::write(book.join(".siyuan/conf.json"), r#"{"name":"Book"}"#).unwrap();
    let doc = |id: &str, title: &str, refs: &[&str]| {
        let children: Vec<serde_json::Value> = refs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                serde_json::json!({
                    "ID": format!("{}{i}", &id[..id.len() - 1]),
                    "Type": "NodeParagraph",
                    "Properties": {"id": format!("{}{i}", &id[..id.len() - 1])},
                    "Children": [{
                        "Type": "NodeTextMark",
                        "TextMarkType": "block-ref",
                        "TextMarkBlockRefID": r,
                        "TextMarkBlockRefSubtype": "s",
                        "TextMarkTextContent": "x"
                    }]
                })
            })
            .collect();
        serde_json::json!({
            "ID": id, "Type": "NodeDocument",
            "Properties": {"id": id, "title": title},
            "Children": children
        })
    };
    let journal = tempfile::tempdir().unwrap();
    let folder = NotesFolder::open(ws.path(), journal.path()).unwrap();
    let store = MemStore::new();
    let b = "20240101000000-book001";
    let (p, c, o) = (
        "20240101000001-parentx",
        "20240101000002-childxx",
        "20240101000003-otherxx",
    );
    let (_, r) = folder
        .apply(
            &store,
            &[
                NoteChange::Put {
                    path: format!("{b}/{p}.sy"),
                    text: doc(p, "Parent", &[]).to_string(),
                },
                NoteChange::Put {
                    path: format!("{b}/{p}/{c}.sy"),
                    text: doc(c, "Child", &[o]).to_string(),
                },
                NoteChange::Put {
                    path: format!("{b}/{o}.sy"),
                    text: doc(o, "Other", &[c]).to_string(),
                },
            ],
        )
        .unwrap();
    assert!(r.iter().all(|r| r.page.is_some()), "{r:?}");
    let child_page = r[1].page.unwrap();
    // A file named other than its document's id is refused.
    assert!(folder
        .apply(
            &store,
            &[NoteChange::Put {
                path: format!("{b}/20240101000009-wrongid.sy"),
                text: doc(o, "Other", &[]).to_string(),
            }]
        )
        .is_err());
    // The parent moves under Other; its child goes with it and keeps its page.
    let (_, r) = folder
        .apply(
            &store,
            &[NoteChange::Move {
                from: format!("{b}/{p}.sy"),
                to: format!("{b}/{o}/{p}.sy"),
            }],
        )
        .unwrap();
    assert!(r[0].page.is_some());
    assert!(ws.path().join(format!("{b}/{o}/{p}/{c}.sy")).is_file());
    assert!(!ws
        .path()
        .join(format!("{b}/{p}"))
        .join(format!("{c}.sy"))
        .exists());
    let child = store.block(c).unwrap().unwrap();
    assert_eq!(child.page, child_page);
    assert_eq!(child.attr("hpath"), "/Other/Parent/Child");
    let fresh = MemStore::new();
    import(
        &fresh,
        &[ws.path().to_path_buf()],
        Format::Auto,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(snapshot(&store), snapshot(&fresh));
}

const FOLDER_CHILD_ENV: &str = "INLINK_FOLDER_CRASH_DIR";

/// The writer killed by `note_batches_survive_kill_9`: batch k writes note `n{k}` (linking
/// to `n{k-1}`) and sets `index.md` to k, then prints `ACK k`.
#[test]
#[ignore = "run by note_batches_survive_kill_9"]
fn folder_crash_child() {
    use std::io::Write;
    let Ok(dir) = std::env::var(FOLDER_CHILD_ENV) else {
        return;
    };
    let dir = std::path::Path::new(&dir);
    let store = RedbStore::open(dir.join("store")).unwrap();
    let folder = NotesFolder::open(&dir.join("vault"), &dir.join("journal")).unwrap();
    folder.sync(&store).unwrap();
    let mut k: u32 = std::fs::read_to_string(dir.join("vault/index.md"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut out = std::io::stdout();
    loop {
        k += 1;
        folder
            .apply(
                &store,
                &[
                    NoteChange::Put {
                        path: format!("d{}/n{k}.md", k % 7),
                        text: format!("[[n{}]] {}\n", k - 1, "words ".repeat(k as usize % 50)),
                    },
                    NoteChange::Put {
                        path: "index.md".into(),
                        text: k.to_string(),
                    },
                ],
            )
            .unwrap();
        writeln!(out, "ACK {k}").unwrap();
        out.flush().unwrap();
    }
}

/// Note batches under SIGKILL: every acknowledged batch is in the folder and the index, no
/// batch is half-applied, and the index equals a fresh import of the folder.
#[test]
fn note_batches_survive_kill_9() {
    let trials = kill9::trials();
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("vault")).unwrap();
    std::fs::write(d.path().join("vault/index.md"), "0").unwrap();
    let mut acked = 0u32;
    for trial in 0..trials {
        let (seen, a) = kill9::kill_after(
            "folder_crash_child",
            FOLDER_CHILD_ENV,
            d.path(),
            1 + (trial * 7919) % 9,
        );
        acked = acked.max(a);
        assert!(seen > 0, "trial {trial}: the child acknowledged nothing");

        let store = RedbStore::open(d.path().join("store")).unwrap();
        // Before any replay or sync, the index holds every acknowledged batch.
        let in_index = store
            .pages(PageId(0), usize::MAX)
            .unwrap()
            .iter()
            .filter(|p| p.title.dbkey.starts_with('d'))
            .count() as u32;
        assert!(
            in_index >= acked,
            "trial {trial}: {acked} acknowledged, {in_index} indexed"
        );
        let folder = NotesFolder::open(&d.path().join("vault"), &d.path().join("journal")).unwrap();
        let root = folder.root().to_path_buf();
        let k: u32 = std::fs::read_to_string(root.join("index.md"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let notes = files(&root).keys().filter(|p| p.contains("/n")).count() as u32;
        assert_eq!(
            notes, k,
            "trial {trial}: a batch was half applied to the folder"
        );
        assert!(
            k >= acked,
            "trial {trial}: {acked} acknowledged, {k} in the folder"
        );
        folder.sync(&store).unwrap();
        let fresh = MemStore::new();
        import(
            &fresh,
            std::slice::from_ref(&root),
            Format::Markdown,
            &Options::default(),
        )
        .unwrap();
        assert_eq!(snapshot(&store), snapshot(&fresh), "trial {trial}");
    }
    assert!(
        acked >= trials,
        "{acked} batches acknowledged in {trials} trials"
    );
    eprintln!("{trials} kills, {acked} note batches acknowledged: all present, none half-applied");
}
