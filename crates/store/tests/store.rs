//! The store's integration tests: the conformance suite on every backend, the model-based
//! test against `MemStore` and a rebuild, and crash safety under `kill -9`.

use inlink_model::{BlockRefKind, LinkKind, PageId, PageRecord, Title};
use inlink_store::conformance::{self, assert_same_answers};
use inlink_store::{Batch, LinkStore, MemStore, Op, PageUpdate, RedbStore, RedirectRow};
use proptest::prelude::*;
use std::io::Write;

#[path = "../../../tests/support/kill9.rs"]
mod kill9;

#[test]
fn conformance_mem() {
    conformance::run_all(MemStore::new);
}

#[test]
fn conformance_redb() {
    let dirs = std::cell::RefCell::new(Vec::new());
    conformance::run_all(|| {
        let d = tempfile::tempdir().unwrap();
        let s = RedbStore::open(d.path()).unwrap();
        dirs.borrow_mut().push(d);
        s
    });
}

#[test]
fn a_new_index_left_half_made_is_made_again() {
    // What a process killed while redb wrote a new index's first header leaves behind.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("index.redb.new"), [0u8; 100]).unwrap();
    let s = RedbStore::open(d.path()).unwrap();
    s.apply(&conformance::hub_fixture()).unwrap();
    assert_eq!(
        s.count_backlinks(LinkKind::Page, &Title::new(0, "Hub"))
            .unwrap(),
        6
    );
    assert!(!d.path().join("index.redb.new").exists());
}

#[test]
fn redb_reopens_with_its_data_and_refuses_other_formats() {
    let d = tempfile::tempdir().unwrap();
    {
        let s = RedbStore::open(d.path()).unwrap();
        s.apply(&conformance::hub_fixture()).unwrap();
    }
    let s = RedbStore::open(d.path()).unwrap();
    assert_eq!(
        s.count_backlinks(LinkKind::Page, &Title::new(0, "Hub"))
            .unwrap(),
        6
    );
    drop(s);
    // Garbage where the index should be is reported, not a panic.
    std::fs::write(
        d.path().join("index.redb"),
        b"not a database at all, just bytes",
    )
    .unwrap();
    let err = RedbStore::open(d.path())
        .err()
        .expect("garbage must not open");
    let msg = err.to_string();
    assert!(msg.contains("index"), "{msg}");
}

/// The store's newest segment file, opened apart from the store.
fn newest_segment(dir: &std::path::Path) -> inlink_store::segment::Segment {
    let (id, path) = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let id: u64 = name
                .strip_prefix("links-")?
                .strip_suffix(".seg")?
                .parse()
                .ok()?;
            Some((id, p))
        })
        .max()
        .expect("a segment");
    inlink_store::segment::Segment::open(&path, id).unwrap()
}

/// Warming maps the title tables and what follows them, no more, and changes no answer;
/// a store warmed before it has a segment warms the ones its folds write.
#[test]
fn warming_maps_the_title_tables_and_changes_no_answer() {
    let d = tempfile::tempdir().unwrap();
    let redb = RedbStore::open(d.path()).unwrap();
    let model = MemStore::new();
    assert_eq!(redb.warm().unwrap(), 0, "no segment yet");
    let batch = conformance::hub_fixture();
    redb.apply(&batch).unwrap();
    model.apply(&batch).unwrap();
    assert!(redb.fold().unwrap());
    assert_same_answers(&redb, &model, &[]);
    let seg = newest_segment(d.path());
    let file = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let len = std::fs::metadata(&file).unwrap().len();
    let warmed = redb.warm().unwrap();
    assert_eq!(warmed, seg.warm().unwrap(), "the newest segment's tables");
    assert!(
        warmed > 0 && warmed < len,
        "{warmed} of {len} bytes: the groups before the titles are left alone"
    );
    assert_same_answers(&redb, &model, &[]);
}

#[test]
fn a_target_that_is_a_page_has_its_title_written_once() {
    let d = tempfile::tempdir().unwrap();
    let redb = RedbStore::open(d.path()).unwrap();
    let mut loader = redb
        .bulk_loader()
        .unwrap()
        .expect("an empty index has a loader");
    let page = |i: u32| PageRecord {
        id: PageId(i),
        title: Title::new(0, format!("Page_{i}")),
        is_redirect: false,
    };
    for i in 1..=40 {
        loader.page(&page(i)).unwrap();
    }
    // Every page links the next five, pages 41 to 44 not made yet (red links).
    for i in 1..=40u32 {
        for j in i + 1..=i + 4 {
            loader
                .link_title(
                    PageId(i),
                    0,
                    LinkKind::Page,
                    &Title::new(0, format!("Page_{j}")),
                )
                .unwrap();
        }
    }
    loader.finish().unwrap();
    let seg = newest_segment(d.path());
    // Pages 2 to 40 are targets; 41 to 44 are titles of no page.
    assert_eq!((seg.targets_len(), seg.shared_titles()), (43, 39));
    drop(seg);
    // A red link's page made, and a link to page 1: a fold shares both titles.
    let mut batch = Batch::new();
    batch.push(Op::PutPage(page(42)));
    batch.push(Op::AddLinks {
        from: PageId(42),
        from_ns: 0,
        kind: LinkKind::Page,
        targets: vec![Title::new(0, "Page_1")],
    });
    redb.apply(&batch).unwrap();
    redb.fold().unwrap();
    let seg = newest_segment(d.path());
    assert_eq!((seg.targets_len(), seg.shared_titles()), (44, 41));
    seg.check_shared().unwrap();
    // Page 42's target id follows the others in page-id order; page 1's does not.
    for i in [1, 42] {
        let title = format!("Page_{i}");
        let tid = seg.target_id(0, &title).unwrap().expect("a target");
        assert_eq!(seg.target_name(tid).unwrap(), Some((0, title)));
    }
    let problems = redb.verify(10).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        redb.count_backlinks(LinkKind::Page, &Title::new(0, "Page_1"))
            .unwrap(),
        1
    );
    assert_eq!(
        redb.count_backlinks(LinkKind::Page, &Title::new(0, "Page_44"))
            .unwrap(),
        1
    );
}

/// Redirects loaded in bulk go into the segment (the local ones by target id, those with a
/// fragment or to another wiki as rows apart); later changes lie over them in the delta
/// until a fold writes them into the next segment, and every read agrees all along.
#[test]
fn redirects_move_from_the_delta_into_segments() {
    let d = tempfile::tempdir().unwrap();
    let redb = RedbStore::open(d.path()).unwrap();
    let model = MemStore::new();
    let page = |i: u32, redirect: bool| PageRecord {
        id: PageId(i),
        title: Title::new(0, format!("Page_{i}")),
        is_redirect: redirect,
    };
    let row = |to: &str, fragment: &str, interwiki: &str| RedirectRow {
        target: Title::new(0, to),
        fragment: fragment.into(),
        interwiki: interwiki.into(),
    };
    let mut loader = redb
        .bulk_loader()
        .unwrap()
        .expect("an empty index has a loader");
    let mut first = Batch::new();
    for i in 1..=30 {
        loader.page(&page(i, i > 10)).unwrap();
        first.push(Op::PutPage(page(i, i > 10)));
    }
    // Pages 11 to 30 redirect: to page 1 or 2, to a title of no page, with a fragment, or
    // to another wiki.
    let initial = |i: u32| match i % 4 {
        0 => row(&format!("Page_{}", i % 2 + 1), "", ""),
        1 => row("Nowhere", "", ""),
        2 => row("Page_3", "Section", ""),
        _ => row("Elsewhere", "", "wikipedia"),
    };
    for i in 11..=30 {
        loader.redirect(PageId(i), &initial(i)).unwrap();
        first.push(Op::SetRedirect {
            from: PageId(i),
            redirect: Some(initial(i)),
        });
    }
    loader.finish().unwrap();
    model.apply(&first).unwrap();
    let seg = newest_segment(d.path());
    assert_eq!(seg.redirect_count(), 20);
    assert!(seg.redirect_bytes() > 0);
    drop(seg);
    let titles: Vec<Title> = [
        "Page_1",
        "Page_2",
        "Page_3",
        "Nowhere",
        "Elsewhere",
        "Page_9",
    ]
    .into_iter()
    .map(|t| Title::new(0, t))
    .collect();
    let same = |what: &str| {
        assert_same_answers(&redb, &model, &titles);
        for t in &titles {
            assert_eq!(
                redb.redirects_to(t).unwrap(),
                model.redirects_to(t).unwrap(),
                "{what}: redirects to {t:?}"
            );
        }
        assert_eq!(
            redb.stats().unwrap().redirects,
            model.stats().unwrap().redirects,
            "{what}"
        );
        let problems = redb.verify(10).unwrap();
        assert!(problems.is_empty(), "{what}: {problems:?}");
    };
    same("loaded");
    // Retarget, clear, to another wiki, a page made a redirect anew with a fragment, and
    // a redirect page deleted.
    let set = |from: u32, redirect: Option<RedirectRow>| Op::SetRedirect {
        from: PageId(from),
        redirect,
    };
    let second = Batch {
        ops: vec![
            set(12, Some(row("Page_9", "", ""))),
            set(16, None),
            set(17, Some(row("Page_1", "", "wikipedia"))),
            set(14, Some(row("Page_3", "", ""))),
            set(5, Some(row("Page_1", "Top", ""))),
            Op::Delete(PageId(20)),
        ],
    };
    redb.apply(&second).unwrap();
    model.apply(&second).unwrap();
    same("changed");
    assert!(redb.fold().unwrap());
    same("folded");
    let third = Batch {
        ops: vec![set(5, None), set(12, Some(row("Page_2", "", "")))],
    };
    redb.apply(&third).unwrap();
    model.apply(&third).unwrap();
    same("changed again");
    assert!(redb.fold().unwrap());
    same("folded again");
    drop(redb);
    let redb = RedbStore::open(d.path()).unwrap();
    assert_same_answers(&redb, &model, &titles);
}

fn arb_title() -> impl Strategy<Value = Title> {
    (
        prop::sample::select(vec![0, 1, 2, 10]),
        prop::sample::select(vec!["A", "B", "C", "D", "E", "F"]),
    )
        .prop_map(|(ns, k)| Title::new(ns, k))
}

fn arb_page() -> impl Strategy<Value = PageRecord> {
    (1u32..10, arb_title(), any::<bool>()).prop_map(|(id, title, is_redirect)| PageRecord {
        id: PageId(id),
        title,
        is_redirect,
    })
}

fn arb_kind() -> impl Strategy<Value = LinkKind> {
    prop::sample::select(LinkKind::ALL.to_vec())
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (arb_page(), prop::collection::vec((arb_kind(), arb_title()), 0..5), prop::option::of(arb_title())).prop_map(
            |(page, links, redirect)| Op::Upsert(PageUpdate {
                page,
                links,
                redirect: redirect.map(|t| RedirectRow { target: t, fragment: String::new(), interwiki: String::new() }),
            })
        ),
        1 => arb_page().prop_map(Op::PutPage),
        1 => (1u32..12, prop::sample::select(vec![0, 1, 2]), arb_kind(), prop::collection::vec(arb_title(), 1..3))
            .prop_map(|(from, from_ns, kind, targets)| Op::AddLinks { from: PageId(from), from_ns, kind, targets }),
        1 => (1u32..10, prop::option::of(arb_title())).prop_map(|(from, t)| Op::SetRedirect {
            from: PageId(from),
            redirect: t.map(|t| RedirectRow { target: t, fragment: "f".into(), interwiki: String::new() }),
        }),
        1 => (1u32..12).prop_map(|id| Op::Delete(PageId(id))),
        2 => (1u32..6, prop::collection::vec((0usize..6, prop::option::of(0usize..6)), 0..5), prop::collection::vec((0usize..6, 0usize..6, 0u8..3), 0..5)).prop_map(
            |(page, blocks, refs)| {
                let id = |i: usize| format!("b{i}");
                Op::SetBlocks {
                    page: PageId(page),
                    blocks: blocks.into_iter().map(|(i, parent)| conformance::block(&id(i), page, parent.map(id).as_deref())).collect(),
                    refs: refs
                        .into_iter()
                        .map(|(from, def, kind)| conformance::block_ref(page, &id(from), &id(def), BlockRefKind::from_u8(kind).unwrap()))
                        .collect(),
                }
            }
        ),
    ]
}

/// Rebuilds a store from scratch out of what `s` answers.
fn rebuild_into(s: &impl LinkStore, fresh: &impl LinkStore) {
    let mut batch = Batch::new();
    for p in s.pages(PageId(0), usize::MAX).unwrap() {
        let mut links = Vec::new();
        for kind in LinkKind::ALL {
            links.extend(
                s.outgoing(p.id, kind)
                    .unwrap()
                    .into_iter()
                    .map(|t| (kind, t)),
            );
        }
        let redirect = s.redirect(p.id).unwrap();
        batch.push(Op::Upsert(PageUpdate {
            page: p,
            links,
            redirect,
        }));
    }
    fresh.apply(&batch).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Random sequences of batches answer exactly like the naive model, and like a store
    /// rebuilt from scratch out of the final state. Batches go through the delta, through bulk mode (then the segment is rebuilt), and
    /// folds happen between them, in the background too.
    #[test]
    fn redb_matches_model_and_rebuild(batches in prop::collection::vec((prop::collection::vec(arb_op(), 1..5), 0u8..5), 1..12),
                                      threshold in prop::sample::select(vec![0u64, 1, 4])) {
        let d = tempfile::tempdir().unwrap();
        let mut redb = RedbStore::open(d.path()).unwrap();
        redb.set_fold_threshold(threshold);
        let model = MemStore::new();
        let probe = probe_titles();
        for (ops, how) in &batches {
            let b = Batch { ops: ops.clone() };
            match how {
                0 => redb.set_bulk(true).unwrap(),
                1 => { redb.fold().unwrap(); }
                _ => {}
            }
            redb.apply(&b).unwrap();
            if *how == 0 {
                redb.set_bulk(false).unwrap();
            }
            if *how == 3 {
                // Every delta folded away: the reads below may take the segment alone.
                redb.fold().unwrap();
            }
            model.apply(&b).unwrap();
            // Read between batches too: a read after a fold may take the segment alone,
            // and the next batch must be seen all the same.
            assert_same_answers(&redb, &model, &probe);
            if *how == 4 {
                // Reopening maps the segment again and lays the delta over it.
                drop(redb);
                redb = RedbStore::open(d.path()).unwrap();
                redb.set_fold_threshold(threshold);
            }
        }
        prop_assert_eq!(redb.join_fold(), None);
        assert_same_answers(&redb, &model, &probe);
        let pages: Vec<PageId> = (0..13).map(PageId).collect();
        let ids: Vec<String> = (0..6).map(|i| format!("b{i}")).collect();
        conformance::assert_same_blocks(&redb, &model, &pages, &ids);
        let problems = redb.verify(10).unwrap();
        prop_assert!(problems.is_empty(), "{problems:?}");
        let d2 = tempfile::tempdir().unwrap();
        let rebuilt = RedbStore::open(d2.path()).unwrap();
        rebuild_into(&model, &rebuilt);
        assert_same_answers(&redb, &rebuilt, &probe);
    }
}

/// A link-table row for the bulk loader: by target key, or by title.
#[derive(Debug, Clone)]
enum LoadRow {
    Keyed(u32, LinkKind, u64),
    Titled(u32, LinkKind, Title),
}

fn arb_load_row() -> impl Strategy<Value = LoadRow> {
    prop_oneof![
        3 => (1u32..12, arb_kind(), 0u64..10).prop_map(|(f, k, key)| LoadRow::Keyed(f, k, key)),
        1 => (1u32..12, arb_kind(), arb_title()).prop_map(|(f, k, t)| LoadRow::Titled(f, k, t)),
    ]
}

/// Every title the generated rows can name.
fn probe_titles() -> Vec<Title> {
    ["A", "B", "C", "D", "E", "F"]
        .iter()
        .flat_map(|k| [0, 1, 2, 10].map(|ns| Title::new(ns, *k)))
        .collect()
}

/// `pl_from_namespace` as a dump has it: one per linking page.
fn from_ns(from: u32) -> i32 {
    [0, 1, 2][from as usize % 3]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// A store filled by its bulk loader answers like the model given the same rows as
    /// batches (pages, then targets, links and redirects), and takes batches afterwards.
    #[test]
    fn bulk_load_matches_batches(pages in prop::collection::vec(arb_page(), 0..12),
                                 targets in prop::collection::vec((0u64..8, arb_title()), 0..10),
                                 rows in prop::collection::vec(arb_load_row(), 0..30),
                                 redirects in prop::collection::vec((1u32..12, arb_title(), any::<bool>()), 0..6),
                                 after in prop::collection::vec(arb_op(), 0..6)) {
        let d = tempfile::tempdir().unwrap();
        let redb = RedbStore::open(d.path()).unwrap();
        let model = MemStore::new();
        let mut batch = Batch::new();
        let mut loader = redb.bulk_loader().unwrap().expect("an empty index has a loader");
        for p in &pages {
            loader.page(p).unwrap();
            batch.push(Op::PutPage(p.clone()));
        }
        let mut named = std::collections::HashMap::new();
        for (key, t) in &targets {
            loader.target(*key, t).unwrap();
            named.insert(*key, t.clone());
        }
        for r in &rows {
            let (from, kind, title) = match r {
                LoadRow::Keyed(from, kind, key) => {
                    let known = loader.link(PageId(*from), from_ns(*from), *kind, *key).unwrap();
                    prop_assert_eq!(known, named.contains_key(key));
                    match named.get(key) {
                        Some(t) => (*from, *kind, t.clone()),
                        None => continue,
                    }
                }
                LoadRow::Titled(from, kind, t) => {
                    loader.link_title(PageId(*from), from_ns(*from), *kind, t).unwrap();
                    (*from, *kind, t.clone())
                }
            };
            batch.push(Op::AddLinks { from: PageId(from), from_ns: from_ns(from), kind, targets: vec![title] });
        }
        for (from, t, interwiki) in &redirects {
            let row = RedirectRow {
                target: t.clone(),
                fragment: "f".into(),
                interwiki: if *interwiki { "meta".into() } else { String::new() },
            };
            loader.redirect(PageId(*from), &row).unwrap();
            batch.push(Op::SetRedirect { from: PageId(*from), redirect: Some(row) });
        }
        // Rows out of order are refused and change nothing.
        if !(targets.is_empty() && rows.is_empty() && redirects.is_empty()) {
            let late = PageRecord { id: PageId(1), title: Title::new(0, "Late"), is_redirect: false };
            prop_assert!(loader.page(&late).is_err(), "a page row after the links");
        }
        // Nothing is visible before the load ends.
        prop_assert_eq!(redb.pages(PageId(0), usize::MAX).unwrap(), vec![]);
        loader.finish().unwrap();
        model.apply(&batch).unwrap();
        let probe = probe_titles();
        assert_same_answers(&redb, &model, &probe);
        let problems = redb.verify(10).unwrap();
        prop_assert!(problems.is_empty(), "{problems:?}");
        prop_assert!(redb.bulk_loader().unwrap().is_none(), "a loaded index is not empty");
        let b = Batch { ops: after };
        redb.apply(&b).unwrap();
        model.apply(&b).unwrap();
        assert_same_answers(&redb, &model, &probe);
        redb.fold().unwrap();
        assert_same_answers(&redb, &model, &probe);
        drop(redb);
        let redb = RedbStore::open(d.path()).unwrap();
        assert_same_answers(&redb, &model, &probe);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Pages given with their links, as a dump of page texts gives them, load like upserts
    /// in batches — a later row for a page's id or title takes its links with it — and
    /// `existing` answers as the batches leave the pages; rows given after it load like
    /// the model's added links and redirects.
    #[test]
    fn pages_with_links_load_like_upserts(
        pages in prop::collection::vec((arb_page(),
                                        prop::collection::vec((arb_kind(), arb_title()), 0..4),
                                        prop::option::of(arb_title())), 0..12),
        asked in prop::collection::vec(arb_title(), 0..8),
        later in prop::collection::vec((1u32..12, arb_kind(), arb_title()), 0..6),
        later_redirects in prop::collection::vec((1u32..12, arb_title()), 0..3),
    ) {
        let d = tempfile::tempdir().unwrap();
        let redb = RedbStore::open(d.path()).unwrap();
        let model = MemStore::new();
        let mut loader = redb.bulk_loader().unwrap().expect("an empty index has a loader");
        for (page, links, redirect) in &pages {
            let redirect = redirect.as_ref().map(|t| RedirectRow {
                target: t.clone(),
                fragment: String::new(),
                interwiki: String::new(),
            });
            let mut links = links.clone();
            links.sort();
            links.dedup();
            loader.page_with_links(page, &links, redirect.as_ref()).unwrap();
            model.apply(&Batch { ops: vec![Op::Upsert(PageUpdate {
                page: page.clone(),
                links,
                redirect,
            })] }).unwrap();
        }
        let found = loader.existing(&asked).unwrap();
        for (t, f) in asked.iter().zip(&found) {
            prop_assert_eq!(*f, model.page_by_title(t).unwrap().is_some(), "{:?}", t);
        }
        prop_assert!(loader.page(&PageRecord { id: PageId(1), title: Title::new(0, "Late"), is_redirect: false }).is_err(),
                     "a page row after `existing`");
        let mut batch = Batch::new();
        for (from, kind, t) in &later {
            loader.link_title(PageId(*from), from_ns(*from), *kind, t).unwrap();
            batch.push(Op::AddLinks { from: PageId(*from), from_ns: from_ns(*from), kind: *kind, targets: vec![t.clone()] });
        }
        for (from, t) in &later_redirects {
            let row = RedirectRow { target: t.clone(), fragment: "f".into(), interwiki: String::new() };
            loader.redirect(PageId(*from), &row).unwrap();
            batch.push(Op::SetRedirect { from: PageId(*from), redirect: Some(row) });
        }
        loader.finish().unwrap();
        model.apply(&batch).unwrap();
        let probe = probe_titles();
        assert_same_answers(&redb, &model, &probe);
        let problems = redb.verify(10).unwrap();
        prop_assert!(problems.is_empty(), "{problems:?}");
    }
}

const CHILD_ENV: &str = "INLINK_CRASH_CHILD_DIR";

fn crash_batch(i: u32) -> Batch {
    // Two pages per batch: after a crash both exist or neither does.
    let mut b = Batch::new();
    for id in [i, i + 1_000_000] {
        b.push(Op::Upsert(PageUpdate {
            page: PageRecord {
                id: PageId(id),
                title: Title::new(0, format!("P{id}")),
                is_redirect: false,
            },
            links: (0..20)
                .map(|k| (LinkKind::Page, Title::new(0, format!("T{}", (id + k) % 97))))
                .collect(),
            redirect: None,
        }));
    }
    b
}

/// The writer half of `crash_safety`: writes batches forever, printing each acknowledgement.
#[test]
#[ignore = "child process of crash_safety; it runs only when that test spawns it"]
fn crash_child() {
    let dir = std::env::var(CHILD_ENV).expect("spawned by crash_safety");
    let store = RedbStore::open(&dir).unwrap();
    // Folds in the background, and now and then a batch in bulk mode (its segment rebuilt
    // at once), so that kills land in those too.
    store.set_fold_threshold(100);
    let start = store
        .pages(PageId(0), usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|p| p.id.0 < 1_000_000)
        .count() as u32;
    let mut out = std::io::stdout().lock();
    for i in start + 1.. {
        let bulk = i % 7 == 0;
        store.set_bulk(bulk).unwrap();
        store.apply(&crash_batch(i)).unwrap();
        store.set_bulk(false).unwrap();
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn crash_safety_under_kill_9() {
    let trials = kill9::trials();
    let d = tempfile::tempdir().unwrap();
    let mut acked = 0u32;
    for trial in 0..trials {
        // Kill at a different instant each trial: after a varying number of acknowledgements.
        let (seen, a) =
            kill9::kill_after("crash_child", CHILD_ENV, d.path(), 3 + (trial * 7919) % 23);
        acked = acked.max(a);
        assert!(seen > 0, "trial {trial}: the child acknowledged nothing");

        let store = RedbStore::open(d.path()).expect("reopens after kill -9");
        assert_eq!(
            store.verify(10).unwrap(),
            Vec::<String>::new(),
            "invariants after kill -9"
        );
        let pages = store.pages(PageId(0), usize::MAX).unwrap();
        let low: Vec<u32> = pages
            .iter()
            .map(|p| p.id.0)
            .filter(|&i| i < 1_000_000)
            .collect();
        let high: Vec<u32> = pages
            .iter()
            .map(|p| p.id.0)
            .filter(|&i| i >= 1_000_000)
            .map(|i| i - 1_000_000)
            .collect();
        assert_eq!(low, high, "a batch was half applied");
        assert_eq!(
            low,
            (1..=low.len() as u32).collect::<Vec<_>>(),
            "batches are applied in order without gaps"
        );
        assert!(
            low.len() as u32 >= acked,
            "trial {trial}: {acked} acknowledged, {} present",
            low.len()
        );
        let model = MemStore::new();
        rebuild_into(&store, &model);
        assert_same_answers(&store, &model, &[]);
    }
    eprintln!(
        "{trials} kills, {acked} batches acknowledged: all present, none half-applied, every answer equal to a rebuild"
    );
}
