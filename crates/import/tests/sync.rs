//! `sync_folder` after random file operations on a vault equals a fresh import of it.

use inlink_import::sync::sync_folder;
use inlink_import::{import, Format, Options};
use inlink_model::{LinkKind, PageId};
use inlink_store::{LinkStore, MemStore, RedbStore};
use std::collections::BTreeMap;

#[path = "../../../tests/support/shared_data.rs"]
mod shared_data;
use shared_data::data;

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
