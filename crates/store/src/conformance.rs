//! The backend-agnostic conformance suite. Every [`LinkStore`] backend runs [`run_all`]
//! against fresh instances; [`assert_same_answers`] compares any two stores query by query
//! (the model-based tests compare a backend with [`crate::MemStore`]).

use crate::query::{
    BacklinkQuery, Batch, Direction, NamespaceFilter, Op, Order, PageUpdate, RedirectFilter,
    RedirectRow, Start,
};
use crate::LinkStore;
use inlink_model::{
    BlockRecord, BlockRef, BlockRefKind, LinkKind, NamespaceId, PageId, PageRecord, SiteInfo, Title,
};

pub fn page(id: u32, ns: NamespaceId, dbkey: &str, is_redirect: bool) -> PageRecord {
    PageRecord {
        id: PageId(id),
        title: Title::new(ns, dbkey),
        is_redirect,
    }
}

pub fn upsert(id: u32, ns: NamespaceId, dbkey: &str, links: &[(NamespaceId, &str)]) -> Op {
    Op::Upsert(PageUpdate {
        page: page(id, ns, dbkey, false),
        links: links
            .iter()
            .map(|&(n, t)| (LinkKind::Page, Title::new(n, t)))
            .collect(),
        redirect: None,
    })
}

pub fn redirect(id: u32, ns: NamespaceId, dbkey: &str, to: (NamespaceId, &str)) -> Op {
    Op::Upsert(PageUpdate {
        page: page(id, ns, dbkey, true),
        links: vec![(LinkKind::Page, Title::new(to.0, to.1))],
        redirect: Some(RedirectRow {
            target: Title::new(to.0, to.1),
            fragment: String::new(),
            interwiki: String::new(),
        }),
    })
}

fn batch(ops: Vec<Op>) -> Batch {
    Batch { ops }
}

fn ids(rows: &[PageRecord]) -> Vec<u32> {
    rows.iter().map(|p| p.id.0).collect()
}

fn q(target: (NamespaceId, &str)) -> BacklinkQuery {
    BacklinkQuery::new(LinkKind::Page, Title::new(target.0, target.1))
}

/// The "Hub" fixture of the MediaWiki spec (§15): ids, namespaces and links as there.
pub fn hub_fixture() -> Batch {
    batch(vec![
        upsert(26, 0, "Hub", &[]),
        redirect(27, 0, "HR2", (0, "Hub")),
        upsert(28, 0, "D1", &[(0, "Hub")]),
        upsert(29, 0, "X1", &[(0, "HR1")]),
        redirect(30, 0, "HR1", (0, "Hub")),
        upsert(31, 0, "Y1", &[(0, "HR2")]),
        redirect(32, 1, "HR3", (0, "Hub")),
        upsert(33, 0, "X2", &[(0, "HR1")]),
        upsert(34, 1, "Z2", &[(1, "HR3")]),
        upsert(35, 0, "D2", &[(0, "Hub"), (0, "HR1")]),
        upsert(36, 0, "Y2", &[(0, "HR2")]),
        upsert(37, 0, "Z1", &[(1, "HR3")]),
        upsert(38, 0, "X3", &[(0, "HR1")]),
        upsert(39, 1, "D3", &[(0, "Hub")]),
        upsert(40, 0, "Y3", &[(0, "HR2")]),
        upsert(41, 0, "X4", &[(0, "HR1")]),
    ])
}

/// Runs every check, each against a fresh store from `make`.
pub fn run_all<S: LinkStore>(make: impl Fn() -> S) {
    orders_and_starts(&make());
    filters(&make());
    limits(&make());
    edits_renames_deletes(&make());
    sql_style_rows(&make());
    redirects_and_outgoing(&make());
    templates_are_a_separate_table(&make());
    site_info_round_trip(&make());
    stats(&make());
    blocks_and_block_refs(&make());
    mention_index(&make());
}

pub fn block(id: &str, page: u32, parent: Option<&str>) -> BlockRecord {
    BlockRecord {
        id: id.into(),
        page: PageId(page),
        parent: parent.map(str::to_string),
        kind: if parent.is_none() {
            "d".into()
        } else {
            "p".into()
        },
        subtype: String::new(),
        content: format!("text of {id}"),
        name: String::new(),
        aliases: vec![],
        memo: String::new(),
        created: "20240101000000".into(),
        updated: "20240102000000".into(),
        attrs: vec![],
    }
}

pub fn block_ref(page: u32, from: &str, def: &str, kind: BlockRefKind) -> BlockRef {
    BlockRef {
        page: PageId(page),
        block: from.into(),
        def: def.into(),
        anchor: format!("to {def}"),
        kind,
    }
}

pub fn blocks_and_block_refs(s: &impl LinkStore) {
    let set = |page: u32, blocks: Vec<BlockRecord>, refs: Vec<BlockRef>| {
        batch(vec![Op::SetBlocks {
            page: PageId(page),
            blocks,
            refs,
        }])
    };
    s.apply(&set(
        1,
        vec![block("a", 1, None), block("b", 1, Some("a"))],
        vec![
            block_ref(1, "b", "x", BlockRefKind::Static),
            block_ref(1, "b", "x", BlockRefKind::Dynamic),
            block_ref(1, "b", "y", BlockRefKind::Dynamic),
        ],
    ))
    .unwrap();
    s.apply(&set(
        2,
        vec![block("c", 2, None)],
        vec![block_ref(2, "c", "x", BlockRefKind::Embed)],
    ))
    .unwrap();
    assert_eq!(s.block("b").unwrap(), Some(block("b", 1, Some("a"))));
    assert_eq!(s.block("nope").unwrap(), None);
    assert_eq!(
        s.blocks_of(PageId(1)).unwrap(),
        [block("a", 1, None), block("b", 1, Some("a"))],
        "document order"
    );
    assert_eq!(s.first_block(PageId(1)).unwrap(), Some(block("a", 1, None)));
    assert_eq!(s.first_block(PageId(99)).unwrap(), None);
    let to_x = s.block_refs_to("x").unwrap();
    assert_eq!(
        to_x.iter()
            .map(|r| (r.page.0, r.block.as_str(), r.kind))
            .collect::<Vec<_>>(),
        [
            (1, "b", BlockRefKind::Static),
            (2, "c", BlockRefKind::Embed)
        ],
        "one row per (def, block), the first given"
    );
    assert_eq!(s.block_refs_from(PageId(1)).unwrap().len(), 2);
    // Replacing a page's blocks replaces its references too.
    s.apply(&set(
        1,
        vec![block("a", 1, None)],
        vec![block_ref(1, "a", "y", BlockRefKind::Static)],
    ))
    .unwrap();
    assert_eq!(s.block("b").unwrap(), None);
    assert_eq!(s.block_refs_to("x").unwrap().len(), 1);
    assert_eq!(
        s.block_refs_to("y")
            .unwrap()
            .iter()
            .map(|r| r.block.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    // A block id belongs to one page; references stay with the page that made them.
    s.apply(&set(
        1,
        vec![block("a", 1, None), block("c", 7, Some("a"))],
        vec![],
    ))
    .unwrap();
    assert_eq!(
        s.block("c").unwrap().map(|b| b.page),
        Some(PageId(1)),
        "the record's page is the page it is set on"
    );
    assert!(s.blocks_of(PageId(2)).unwrap().is_empty());
    assert_eq!(s.block_refs_to("x").unwrap().len(), 1);
    assert!(s.block_refs_to("y").unwrap().is_empty());
    // Deleting a page removes its blocks and references.
    s.apply(&batch(vec![Op::Delete(PageId(2)), Op::Delete(PageId(1))]))
        .unwrap();
    assert!(s.block_refs_to("x").unwrap().is_empty());
    assert_eq!(s.block("a").unwrap(), None);
}

/// The mention index follows every change of a page's blocks.
pub fn mention_index(s: &impl LinkStore) {
    let with = |page: u32, id: &str, text: &str| {
        let mut b = block(id, page, Some("doc"));
        b.content = text.into();
        b
    };
    let set = |page: u32, blocks: Vec<BlockRecord>, refs: Vec<BlockRef>| {
        batch(vec![Op::SetBlocks {
            page: PageId(page),
            blocks,
            refs,
        }])
    };
    let find = |phrase: &str| -> Vec<(u32, u32)> {
        s.blocks_with_tokens(&inlink_model::text::query_tokens(phrase))
            .unwrap()
            .into_iter()
            .map(|(p, i)| (p.0, i))
            .collect()
    };
    let generation = s.generation();
    s.apply(&set(
        1,
        vec![
            block("d1", 1, None),
            with(1, "a1", "The Content Block is here"),
            with(1, "a2", "Content elsewhere"),
        ],
        vec![],
    ))
    .unwrap();
    assert_ne!(s.generation(), generation, "a write changes the generation");
    s.apply(&set(
        2,
        vec![with(2, "b1", "content blocks, 内容块说明")],
        vec![],
    ))
    .unwrap();
    let mut named = with(3, "c1", "nothing");
    named.name = "Content".into();
    named.aliases = vec!["Block".into()];
    let mut code = with(3, "c2", "content block in code");
    code.kind = "c".into();
    s.apply(&set(3, vec![named, code], vec![])).unwrap();
    assert_eq!(find("content block"), [(1, 1)], "words of one block");
    assert_eq!(
        find("CONTENT"),
        [(1, 1), (1, 2), (2, 0)],
        "case-insensitive"
    );
    assert_eq!(find("内容块"), [(2, 0)], "CJK pairs");
    assert_eq!(find("容"), [(2, 0)], "one CJK character");
    assert!(find("missing words").is_empty());
    assert!(find("...").is_empty(), "no tokens, no blocks");
    assert!(find("code").is_empty(), "code blocks are not text");
    let mark = |w: &str| format!("{}{w}", inlink_model::text::NAME_MARK);
    let by_name = s
        .blocks_with_tokens(&[mark("content"), mark("block")])
        .unwrap();
    assert_eq!(
        by_name,
        [(PageId(3), 0)],
        "names and aliases are filed apart"
    );
    // The anchor texts of a block's references are not its own words.
    let mut r = block_ref(4, "r1", "a1", BlockRefKind::Static);
    r.anchor = "Content Block".into();
    s.apply(&set(
        4,
        vec![with(4, "r1", "see Content Block today")],
        vec![r],
    ))
    .unwrap();
    assert_eq!(find("content block"), [(1, 1)]);
    assert_eq!(find("today"), [(4, 0)]);
    // Replacing blocks, moving a block to another page and deleting pages.
    s.apply(&set(1, vec![with(1, "a1", "other words")], vec![]))
        .unwrap();
    assert!(find("content block").is_empty());
    s.apply(&set(5, vec![with(5, "b1", "moved away")], vec![]))
        .unwrap();
    assert!(find("内容块").is_empty(), "the block left page 2");
    assert_eq!(find("moved"), [(5, 0)]);
    s.apply(&batch(vec![Op::Delete(PageId(3)), Op::Delete(PageId(5))]))
        .unwrap();
    assert!(s.blocks_with_tokens(&[mark("content")]).unwrap().is_empty());
    assert_eq!(find("other"), [(1, 0)]);
}

/// Compares the block facts of two stores on the given pages and block ids.
pub fn assert_same_blocks(
    a: &impl LinkStore,
    b: &impl LinkStore,
    pages: &[PageId],
    ids: &[String],
) {
    for p in pages {
        assert_eq!(
            a.blocks_of(*p).unwrap(),
            b.blocks_of(*p).unwrap(),
            "blocks of {p:?}"
        );
        assert_eq!(a.first_block(*p).unwrap(), b.first_block(*p).unwrap());
        assert_eq!(
            a.block_refs_from(*p).unwrap(),
            b.block_refs_from(*p).unwrap(),
            "refs from {p:?}"
        );
    }
    let tok = |t: &str| inlink_model::text::query_tokens(t);
    assert_eq!(
        a.blocks_with_tokens(&tok("text of")).unwrap(),
        b.blocks_with_tokens(&tok("text of")).unwrap(),
        "blocks with tokens"
    );
    for id in ids {
        assert_eq!(
            a.blocks_with_tokens(&tok(id)).unwrap(),
            b.blocks_with_tokens(&tok(id)).unwrap(),
            "blocks with the tokens of {id}"
        );
        assert_eq!(a.block(id).unwrap(), b.block(id).unwrap(), "block {id}");
        assert_eq!(
            a.block_refs_to(id).unwrap(),
            b.block_refs_to(id).unwrap(),
            "refs to {id}"
        );
    }
}

pub fn orders_and_starts(s: &impl LinkStore) {
    s.apply(&hub_fixture()).unwrap();
    let hub = (0, "Hub");
    assert_eq!(
        ids(&s.backlinks(&q(hub)).unwrap()),
        [27, 28, 30, 32, 35, 39],
        "by page id, namespaces interleaved"
    );
    let mut by_ns = q(hub);
    by_ns.order = Order::NamespaceThenPageId;
    assert_eq!(
        ids(&s.backlinks(&by_ns).unwrap()),
        [27, 28, 30, 35, 32, 39],
        "namespace first"
    );
    by_ns.direction = Direction::Descending;
    assert_eq!(ids(&s.backlinks(&by_ns).unwrap()), [39, 32, 35, 30, 28, 27]);
    by_ns.start = Some(Start {
        ns: 0,
        id: PageId(35),
    });
    assert_eq!(
        ids(&s.backlinks(&by_ns).unwrap()),
        [35, 30, 28, 27],
        "start is inclusive, descending"
    );
    by_ns.direction = Direction::Ascending;
    by_ns.start = Some(Start {
        ns: 1,
        id: PageId(32),
    });
    assert_eq!(ids(&s.backlinks(&by_ns).unwrap()), [32, 39]);
    let mut by_id = q(hub);
    by_id.start = Some(Start {
        ns: 5,
        id: PageId(30),
    });
    assert_eq!(
        ids(&s.backlinks(&by_id).unwrap()),
        [30, 32, 35, 39],
        "the namespace of a page-id start is ignored"
    );
    by_id.direction = Direction::Descending;
    assert_eq!(ids(&s.backlinks(&by_id).unwrap()), [30, 28, 27]);
    assert!(s
        .backlinks(&q((0, "Nothing links here")))
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(&s.backlinks(&q((0, "HR1"))).unwrap()),
        [29, 33, 35, 38, 41]
    );
    assert_eq!(
        s.count_backlinks(LinkKind::Page, &Title::new(0, "Hub"))
            .unwrap(),
        6
    );
}

pub fn filters(s: &impl LinkStore) {
    s.apply(&hub_fixture()).unwrap();
    let hub = (0, "Hub");
    let mut one = q(hub);
    one.namespaces = NamespaceFilter::only(vec![1]);
    assert_eq!(ids(&s.backlinks(&one).unwrap()), [32, 39]);
    one.order = Order::NamespaceThenPageId;
    assert_eq!(ids(&s.backlinks(&one).unwrap()), [32, 39]);
    let mut two = q(hub);
    two.namespaces = NamespaceFilter::only(vec![1, 0, 1]);
    two.order = Order::NamespaceThenPageId;
    two.direction = Direction::Descending;
    assert_eq!(ids(&s.backlinks(&two).unwrap()), [39, 32, 35, 30, 28, 27]);
    let mut none = q(hub);
    none.namespaces = NamespaceFilter::only(vec![4]);
    assert!(s.backlinks(&none).unwrap().is_empty());
    let mut redirects = q(hub);
    redirects.redirects = RedirectFilter::Redirects;
    assert_eq!(ids(&s.backlinks(&redirects).unwrap()), [27, 30, 32]);
    redirects.redirects = RedirectFilter::NonRedirects;
    assert_eq!(ids(&s.backlinks(&redirects).unwrap()), [28, 35, 39]);
    redirects.order = Order::NamespaceThenPageId;
    redirects.namespaces = NamespaceFilter::only(vec![0, 1]);
    assert_eq!(ids(&s.backlinks(&redirects).unwrap()), [28, 35, 39]);
}

pub fn limits(s: &impl LinkStore) {
    s.apply(&hub_fixture()).unwrap();
    let mut l = q((0, "Hub"));
    l.limit = 0;
    assert!(s.backlinks(&l).unwrap().is_empty());
    l.limit = 2;
    assert_eq!(ids(&s.backlinks(&l).unwrap()), [27, 28]);
    l.redirects = RedirectFilter::NonRedirects;
    assert_eq!(
        ids(&s.backlinks(&l).unwrap()),
        [28, 35],
        "the limit counts rows after filtering"
    );
    assert_eq!(ids(&rows_each(s, &l)), [28, 35], "rows handed over alike");
    l.order = Order::NamespaceThenPageId;
    l.namespaces = NamespaceFilter::only(vec![0, 1]);
    l.limit = 3;
    assert_eq!(ids(&s.backlinks(&l).unwrap()), [28, 35, 39]);
    assert_eq!(ids(&rows_each(s, &l)), [28, 35, 39]);
    l.limit = 0;
    assert!(rows_each(s, &l).is_empty());
}

pub fn edits_renames_deletes(s: &impl LinkStore) {
    s.apply(&batch(vec![
        upsert(1, 0, "A", &[(0, "T"), (0, "U")]),
        upsert(2, 0, "B", &[(0, "T")]),
    ]))
    .unwrap();
    // An edit replaces every link of the page.
    s.apply(&batch(vec![upsert(1, 0, "A", &[(0, "U"), (0, "V")])]))
        .unwrap();
    assert_eq!(ids(&s.backlinks(&q((0, "T"))).unwrap()), [2]);
    assert_eq!(ids(&s.backlinks(&q((0, "V"))).unwrap()), [1]);
    // A rename (same id, new title) keeps links to the old title as they are.
    s.apply(&batch(vec![upsert(2, 1, "B renamed", &[(0, "T")])]))
        .unwrap();
    assert!(s.page_by_title(&Title::new(0, "B")).unwrap().is_none());
    assert_eq!(
        s.page_by_title(&Title::new(1, "B renamed"))
            .unwrap()
            .unwrap()
            .id,
        PageId(2)
    );
    let mut by_ns = q((0, "T"));
    by_ns.order = Order::NamespaceThenPageId;
    by_ns.namespaces = NamespaceFilter::only(vec![1]);
    assert_eq!(
        ids(&s.backlinks(&by_ns).unwrap()),
        [2],
        "the reverse index follows the new namespace"
    );
    by_ns.namespaces = NamespaceFilter::only(vec![0]);
    assert!(s.backlinks(&by_ns).unwrap().is_empty());
    // A title names one page: taking it over removes the old holder.
    s.apply(&batch(vec![upsert(3, 0, "A", &[(0, "T")])]))
        .unwrap();
    assert!(s.page(PageId(1)).unwrap().is_none());
    assert!(s.backlinks(&q((0, "V"))).unwrap().is_empty());
    assert_eq!(ids(&s.backlinks(&q((0, "T"))).unwrap()), [2, 3]);
    s.apply(&batch(vec![Op::Delete(PageId(2)), Op::Delete(PageId(99))]))
        .unwrap();
    assert_eq!(ids(&s.backlinks(&q((0, "T"))).unwrap()), [3]);
    assert!(s.outgoing(PageId(2), LinkKind::Page).unwrap().is_empty());
}

pub fn sql_style_rows(s: &impl LinkStore) {
    // Link rows may arrive before their page: they are invisible until it exists.
    s.apply(&batch(vec![Op::AddLinks {
        from: PageId(5),
        from_ns: 0,
        kind: LinkKind::Page,
        targets: vec![Title::new(0, "T"), Title::new(0, "U")],
    }]))
    .unwrap();
    assert!(s.backlinks(&q((0, "T"))).unwrap().is_empty());
    assert_eq!(
        s.count_backlinks(LinkKind::Page, &Title::new(0, "T"))
            .unwrap(),
        0
    );
    s.apply(&batch(vec![Op::PutPage(page(5, 2, "Five", false))]))
        .unwrap();
    assert_eq!(ids(&s.backlinks(&q((0, "T"))).unwrap()), [5]);
    let mut by_ns = q((0, "T"));
    by_ns.order = Order::NamespaceThenPageId;
    by_ns.namespaces = NamespaceFilter::only(vec![2]);
    assert_eq!(
        ids(&s.backlinks(&by_ns).unwrap()),
        [5],
        "rows are re-filed under the page's real namespace"
    );
    // Adding more rows keeps the others; a page row alone keeps the links.
    s.apply(&batch(vec![
        Op::AddLinks {
            from: PageId(5),
            from_ns: 2,
            kind: LinkKind::Page,
            targets: vec![Title::new(0, "V")],
        },
        Op::PutPage(page(5, 2, "Five", true)),
    ]))
    .unwrap();
    assert_eq!(
        s.outgoing(PageId(5), LinkKind::Page).unwrap(),
        [Title::new(0, "T"), Title::new(0, "U"), Title::new(0, "V")]
    );
    let mut r = q((0, "U"));
    r.redirects = RedirectFilter::Redirects;
    assert_eq!(ids(&s.backlinks(&r).unwrap()), [5]);
}

pub fn redirects_and_outgoing(s: &impl LinkStore) {
    s.apply(&hub_fixture()).unwrap();
    assert_eq!(
        ids(&s.redirects_to(&Title::new(0, "Hub")).unwrap()),
        [27, 30, 32]
    );
    let r = s.redirect(PageId(27)).unwrap().unwrap();
    assert_eq!(r.target, Title::new(0, "Hub"));
    assert!(s.redirect(PageId(28)).unwrap().is_none());
    // Turning a redirect into an article clears its redirect row.
    s.apply(&batch(vec![upsert(27, 0, "HR2", &[(0, "Elsewhere")])]))
        .unwrap();
    assert!(s.redirect(PageId(27)).unwrap().is_none());
    assert_eq!(
        ids(&s.redirects_to(&Title::new(0, "Hub")).unwrap()),
        [30, 32]
    );
    assert_eq!(
        s.outgoing(PageId(35), LinkKind::Page).unwrap(),
        [Title::new(0, "HR1"), Title::new(0, "Hub")]
    );
    // Redirect rows to other wikis are kept but never answer redirects_to.
    s.apply(&batch(vec![Op::SetRedirect {
        from: PageId(28),
        redirect: Some(RedirectRow {
            target: Title::new(0, "Hub"),
            fragment: "x".into(),
            interwiki: "wikipedia".into(),
        }),
    }]))
    .unwrap();
    assert_eq!(
        s.redirect(PageId(28)).unwrap().unwrap().interwiki,
        "wikipedia"
    );
    assert_eq!(
        ids(&s.redirects_to(&Title::new(0, "Hub")).unwrap()),
        [30, 32]
    );
    let all = s.pages(PageId(0), 100).unwrap();
    assert_eq!(all.len(), 16);
    assert_eq!(s.last_page_id().unwrap(), Some(PageId(41)));
    assert_eq!(ids(&s.pages(PageId(40), 100).unwrap()), [40, 41]);
}

pub fn templates_are_a_separate_table(s: &impl LinkStore) {
    let t = Title::new(10, "Stub");
    s.apply(&batch(vec![
        Op::Upsert(PageUpdate {
            page: page(1, 0, "E1", false),
            links: vec![
                (LinkKind::Template, t.clone()),
                (LinkKind::Category, Title::new(14, "C")),
            ],
            redirect: None,
        }),
        upsert(2, 0, "L", &[(10, "Stub")]),
    ]))
    .unwrap();
    let mut tq = BacklinkQuery::new(LinkKind::Template, t.clone());
    assert_eq!(ids(&s.backlinks(&tq).unwrap()), [1]);
    tq.kind = LinkKind::Page;
    assert_eq!(ids(&s.backlinks(&tq).unwrap()), [2]);
    assert_eq!(
        s.outgoing(PageId(1), LinkKind::Category).unwrap(),
        [Title::new(14, "C")]
    );
    assert!(s.outgoing(PageId(1), LinkKind::Page).unwrap().is_empty());
}

pub fn site_info_round_trip(s: &impl LinkStore) {
    assert!(s.site_info().unwrap().is_none());
    assert_eq!(s.last_page_id().unwrap(), None);
    let site = SiteInfo::mediawiki_default("Testwiki");
    s.apply(&batch(vec![Op::SetSiteInfo(Box::new(site.clone()))]))
        .unwrap();
    assert_eq!(s.site_info().unwrap(), Some(site));
}

pub fn stats(s: &impl LinkStore) {
    s.apply(&hub_fixture()).unwrap();
    let st = s.stats().unwrap();
    assert_eq!(st.pages, 16);
    assert_eq!(st.redirects, 3);
    assert_eq!(st.links[LinkKind::Page as usize], 16);
}

/// Every title any query could ask about in `a` or `b`: all link targets and page titles.
fn titles_of(s: &impl LinkStore) -> Vec<Title> {
    let mut v = Vec::new();
    for p in s.pages(PageId(0), usize::MAX).unwrap() {
        v.push(p.title.clone());
        for kind in LinkKind::ALL {
            v.extend(s.outgoing(p.id, kind).unwrap());
        }
    }
    v.sort();
    v.dedup();
    v
}

/// The rows `backlinks_each` hands over, kept.
fn rows_each(s: &impl LinkStore, q: &BacklinkQuery) -> Vec<PageRecord> {
    let mut rows = Vec::new();
    s.backlinks_each(q, &mut |r| rows.push(r.to_record()))
        .unwrap();
    rows
}

/// Compares two stores on every page, every target in every order, direction, filter
/// and a spread of starts (every row of answers up to 64 rows) and limits. Panics with the
/// first difference.
pub fn assert_same_answers(a: &impl LinkStore, b: &impl LinkStore, extra_titles: &[Title]) {
    let pa = a.pages(PageId(0), usize::MAX).unwrap();
    assert_eq!(
        pa,
        b.pages(PageId(0), usize::MAX).unwrap(),
        "page tables differ"
    );
    for p in &pa {
        assert_eq!(
            a.page_by_title(&p.title).unwrap(),
            b.page_by_title(&p.title).unwrap()
        );
        assert_eq!(
            a.redirect(p.id).unwrap(),
            b.redirect(p.id).unwrap(),
            "redirect of {p:?}"
        );
        for kind in LinkKind::ALL {
            assert_eq!(
                a.outgoing(p.id, kind).unwrap(),
                b.outgoing(p.id, kind).unwrap(),
                "outgoing {kind:?} of {p:?}"
            );
        }
    }
    let mut titles = titles_of(a);
    titles.extend(titles_of(b));
    titles.extend(extra_titles.iter().cloned());
    titles.sort();
    titles.dedup();
    let filters = [
        NamespaceFilter::All,
        NamespaceFilter::only(vec![0]),
        NamespaceFilter::only(vec![0, 1, 2]),
    ];
    for t in &titles {
        assert_eq!(
            a.redirects_to(t).unwrap(),
            b.redirects_to(t).unwrap(),
            "redirects to {t:?}"
        );
        for kind in LinkKind::ALL {
            assert_eq!(
                a.count_backlinks(kind, t).unwrap(),
                b.count_backlinks(kind, t).unwrap(),
                "count {kind:?} {t:?}"
            );
            for order in [Order::PageId, Order::NamespaceThenPageId] {
                for direction in [Direction::Ascending, Direction::Descending] {
                    for namespaces in &filters {
                        for redirects in [
                            RedirectFilter::All,
                            RedirectFilter::Redirects,
                            RedirectFilter::NonRedirects,
                        ] {
                            let mut query = BacklinkQuery {
                                kind,
                                target: t.clone(),
                                namespaces: namespaces.clone(),
                                redirects,
                                order,
                                direction,
                                start: None,
                                limit: usize::MAX,
                            };
                            let full = a.backlinks(&query).unwrap();
                            assert_eq!(full, b.backlinks(&query).unwrap(), "{query:?}");
                            assert_eq!(full, rows_each(a, &query), "each: {query:?}");
                            assert_eq!(full, rows_each(b, &query), "each: {query:?}");
                            // Resume from every row of the full answer (from 64 spread
                            // over it when longer, so that large stores stay linear), with
                            // small limits.
                            let step = full.len().div_ceil(64).max(1);
                            for (i, row) in full
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| i % step == 0 || *i + 1 == full.len())
                            {
                                query.start = Some(Start {
                                    ns: row.title.ns,
                                    id: row.id,
                                });
                                query.limit = 1 + i % 3;
                                assert_eq!(
                                    a.backlinks(&query).unwrap(),
                                    b.backlinks(&query).unwrap(),
                                    "{query:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
