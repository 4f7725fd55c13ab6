//! One function per fuzz target: untrusted bytes in, no panic out. `fuzz/` wraps each in a
//! libFuzzer target (`cargo fuzz run <name>`); `tests/corpus.rs` replays the checked-in
//! corpora (`fuzz/corpus/<name>/`) through the same functions on every `cargo test`.

use inlink_api::mediawiki::{Caller, MediaWiki};
use inlink_api::native::{Native, NotesFolder};
use inlink_api::siyuan::SiYuan;
use inlink_model::{
    LinkKind, PageId, PageRecord, SiteInfo, Title, TitleCodec, NS_MAIN, NS_TEMPLATE,
};
use inlink_parse::markdown::{parse_note, Flavour};
use inlink_parse::wikitext::{Extractor, TemplateSource};
use inlink_store::{Batch, LinkStore, MemStore, Op, PageUpdate};
use std::sync::{Arc, OnceLock};

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target, by name (the folder of its corpus).
pub const TARGETS: &[(&str, Target)] = &[
    ("wikitext", wikitext),
    ("title", title),
    ("markdown", markdown),
    ("siyuan_sy", siyuan_sy),
    ("sql_dump", sql_dump),
    ("xml_dump", xml_dump),
    ("mediawiki_params", mediawiki_params),
    ("siyuan_api", siyuan_api),
    ("native_batch", native_batch),
    ("notes_folder", notes_folder),
    ("postings", postings),
    ("segment", segment),
    ("dictionary", dictionary),
    ("store_values", store_values),
];

fn codec() -> &'static TitleCodec {
    static C: OnceLock<TitleCodec> = OnceLock::new();
    C.get_or_init(|| TitleCodec::new(SiteInfo::mediawiki_default("Wiki")))
}

/// Every transclusion finds the input's own text: expansion recurses as deep as it may.
struct Echo<'a>(&'a str);

impl TemplateSource for Echo<'_> {
    fn text(&self, _: &Title) -> Option<String> {
        Some(self.0.to_string())
    }
}

pub fn wikitext(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let ex = Extractor::new(codec().clone());
    let page = Title::new(NS_TEMPLATE, "Fuzz");
    let _ = ex.extract(&page, &text, &inlink_parse::NoTemplates);
    // Self-transclusion must stop at MediaWiki's loop check, not overflow the stack.
    let _ = ex.extract(&page, &text, &Echo(&text));
}

pub fn title(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for ns in [NS_MAIN, NS_TEMPLATE, -1] {
        if let Ok(t) = codec().parse(&text, ns) {
            // A parsed title prints and parses back to itself — when the printed text is in
            // NFC: upper-casing a first letter can leave a decomposed sequence ("ŉ\u{301}"
            // → "ʼN\u{301}"), which MediaWiki's request normalisation composes into another
            // title too.
            // Nor when upper-casing the first letter took the title past the length limit,
            // which MediaWiki checks before it ("ŉ" → "ʼN" is a byte longer).
            let max = if t.ns == -1 { 512 } else { 255 };
            let full = codec().full_text(&t.title());
            if t.is_local()
                && !t.dbkey.is_empty()
                && t.dbkey.len() <= max
                && unicode_normalization::is_nfc(&full)
            {
                let again = codec().parse(&full, 0).expect("a printed title parses");
                assert_eq!((again.ns, again.dbkey), (t.ns, t.dbkey.clone()), "{full}");
            }
        }
    }
}

pub fn markdown(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for f in [Flavour::Obsidian, Flavour::Dendron, Flavour::Logseq] {
        let _ = parse_note(&text, f);
    }
}

pub fn siyuan_sy(data: &[u8]) {
    let _ = inlink_parse::siyuan::parse_document(&String::from_utf8_lossy(data));
}

struct Rows(usize);

impl inlink_import::sql::Visitor for Rows {
    fn table(&mut self, _: &str, _: &[String]) {}
    fn row(&mut self, row: &[inlink_import::sql::Value<'_>], _: u64) -> Result<(), String> {
        for v in row {
            let _ = (v.as_i64(), v.as_str());
        }
        self.0 += 1;
        Ok(())
    }
    fn bad(&mut self, _: inlink_import::sql::BadRow) {}
}

pub fn sql_dump(data: &[u8]) {
    let _ = inlink_import::sql::read_dump(data, &mut Rows(0));
}

pub fn xml_dump(data: &[u8]) {
    if let Ok(mut dump) = inlink_import::xml::XmlDump::new(data) {
        let mut n = 0;
        while let Some(p) = dump.next_page() {
            n += 1;
            if p.is_err() && n > 10_000 {
                break;
            }
        }
    }
}

/// A small wiki: pages linking to each other, a redirect, a template.
fn wiki() -> Arc<dyn LinkStore> {
    let store = MemStore::new();
    let mut b = Batch::new();
    for i in 1..=12u32 {
        let title = Title::new(if i % 5 == 0 { 1 } else { NS_MAIN }, format!("P{i}"));
        let mut links = vec![
            (LinkKind::Page, Title::new(NS_MAIN, "P1")),
            (
                LinkKind::Page,
                Title::new(NS_MAIN, format!("P{}", (i * 7) % 12 + 1)),
            ),
            (LinkKind::Template, Title::new(NS_TEMPLATE, "T")),
        ];
        links.dedup();
        let redirect = (i == 12).then(|| inlink_store::RedirectRow {
            target: Title::new(NS_MAIN, "P1"),
            fragment: String::new(),
            interwiki: String::new(),
        });
        b.push(Op::Upsert(PageUpdate {
            page: PageRecord {
                id: PageId(i),
                title,
                is_redirect: redirect.is_some(),
            },
            links,
            redirect,
        }));
    }
    store.apply(&b).expect("memory store");
    Arc::new(store)
}

/// Query-string-like pairs: `&`-separated, first `=` splits; values stay bytes.
fn pairs(data: &[u8]) -> Vec<(String, Vec<u8>, bool)> {
    data.split(|&b| b == b'&')
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(e) => (
                String::from_utf8_lossy(&p[..e]).into_owned(),
                p[e + 1..].to_vec(),
                p.len() % 2 == 0,
            ),
            None => (String::from_utf8_lossy(p).into_owned(), Vec::new(), true),
        })
        .collect()
}

pub fn mediawiki_params(data: &[u8]) {
    static MW: OnceLock<MediaWiki> = OnceLock::new();
    let mw = MW.get_or_init(|| MediaWiki::new(wiki(), "http://fuzz").expect("memory store"));
    let mut raw = pairs(data);
    if !raw.iter().any(|(k, _, _)| k == "action") {
        raw.insert(0, ("action".into(), b"query".to_vec(), true));
    }
    let r = mw.handle_bytes(
        raw,
        Caller {
            high_limits: data.len().is_multiple_of(3),
        },
    );
    assert!(r.status < 500, "{}", r.body);
}

pub fn siyuan_api(data: &[u8]) {
    static SY: OnceLock<SiYuan> = OnceLock::new();
    let sy = SY.get_or_init(|| SiYuan::new(wiki()));
    const ENDPOINTS: &[&str] = &[
        "getBacklinkDoc",
        "getBacklink2",
        "getBacklink",
        "getBackmentionDoc",
        "refreshBacklink",
    ];
    let (first, body) = data.split_first().unwrap_or((&0, &[]));
    let endpoint = ENDPOINTS[*first as usize % ENDPOINTS.len()];
    if let Some(r) = sy.handle(endpoint, body) {
        assert!(r.status < 500, "{}", r.body);
    }
}

pub fn native_batch(data: &[u8]) {
    let native = Native::new(wiki(), None);
    let r = native.batch(data);
    assert!(r.status != 500, "{}", r.body);
}

/// A followed folder of notes: note batches through the write API (odd first byte), or a
/// committed journal with these manifest bytes found on opening (even). Whatever the bytes:
/// no panic, no `500`, nothing written outside the folder and its journal.
pub fn notes_folder(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let d = tempfile::tempdir().expect("a temporary folder");
    let (root, journal, outside) = (
        d.path().join("vault"),
        d.path().join("journal"),
        d.path().join("outside"),
    );
    std::fs::create_dir_all(root.join("a")).expect("vault");
    std::fs::create_dir_all(&outside).expect("outside");
    std::fs::write(root.join("a/n.md"), "[[m]] ^b\n").expect("a note");
    std::os::unix::fs::symlink(&outside, root.join("link")).expect("a link");
    if mode % 2 == 0 {
        let batch = journal.join("batch");
        std::fs::create_dir_all(&batch).expect("journal");
        std::fs::write(batch.join("manifest.json"), rest).expect("manifest");
        std::fs::write(batch.join("0"), "[[n]]").expect("content");
        let _ = NotesFolder::open(&root, &journal);
    } else {
        let folder = NotesFolder::open(&root, &journal).expect("opens");
        let store: Arc<dyn LinkStore> = Arc::new(MemStore::new());
        let r = Native::new(store, Some(Arc::new(folder))).batch(rest);
        assert!(r.status != 500, "{}", r.body);
    }
    assert_eq!(
        std::fs::read_dir(&outside).expect("outside").count(),
        0,
        "a note was written outside the folder"
    );
    for e in std::fs::read_dir(d.path()).expect("the temporary folder") {
        let name = e.expect("an entry").file_name();
        assert!(
            ["vault", "journal", "outside"].contains(&name.to_string_lossy().as_ref()),
            "{name:?} written beside the folder"
        );
    }
}

pub fn postings(data: &[u8]) {
    use inlink_store::postings::{Postings, BLOCK};
    let start = data.first().map_or(0, |&b| u32::from(b) * 1000);
    // A block read up to a wanted id is the start of the block read whole.
    let upto_is_a_start = |p: &Postings| {
        let (mut part, mut whole) = (Vec::new(), Vec::new());
        for b in 0..p.blocks().min(8) {
            if let (Ok(_), Ok(())) = (p.block_upto(b, start, 3, &mut part), p.block(b, &mut whole))
            {
                assert!(whole.starts_with(&part), "a block's start");
            }
        }
    };
    if let Ok(p) = Postings::new(data) {
        if let Ok(all) = p.all() {
            assert!(all.windows(2).all(|w| w[0] < w[1]), "ids ascend");
        }
        let _ = p.from(start, 50);
        upto_is_a_start(&p);
    }
    // The same bytes as a list in a universe (short lists then have no first id).
    let universe = data.last().map_or(0, |&b| (u64::from(b) + 1) << 16);
    if let Ok(p) = Postings::new_in(data, universe) {
        if let Ok(all) = p.all() {
            assert!(all.windows(2).all(|w| w[0] < w[1]), "ids ascend");
            if all.len() <= BLOCK {
                assert!(
                    all.iter().all(|&id| u64::from(id) < universe),
                    "ids in the universe"
                );
            }
        }
        let _ = p.from(start, 50);
        upto_is_a_start(&p);
    }
    // And as a list centred on an id of that universe (a small target's, around its page).
    let centre = u32::try_from((u64::from(start) * 7919) % universe.max(1)).unwrap_or(0);
    let mut ids = Vec::new();
    if inlink_store::postings::decode_centred(data, universe, centre, &mut ids).is_ok() {
        assert!(ids.len() <= BLOCK, "a short list");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
        assert!(
            ids.iter().all(|&id| u64::from(id) < universe),
            "ids in the universe"
        );
    }
    // And as a list split in two universes (a small target's heavy and other pages).
    use inlink_store::postings::{decode_split, Part};
    let heavy = universe / 5;
    for centred in [false, true] {
        let part = |u: u64| Part {
            ids: &[],
            universe: u,
            centre: centred.then(|| centre.min(u.saturating_sub(1) as u32)),
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        if decode_split(
            data,
            [part(heavy), part(universe - heavy)],
            [&mut a, &mut b],
        )
        .is_ok()
        {
            assert!(a.len() + b.len() <= BLOCK, "a short list");
            for (ids, u) in [(&a, heavy), (&b, universe - heavy)] {
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
                assert!(
                    ids.iter().all(|&id| u64::from(id) < u),
                    "ids in the universe"
                );
            }
        }
    }
}

pub fn segment(data: &[u8]) {
    let mut bytes = data.to_vec();
    inlink_store::segment::reseal(&mut bytes);
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("links-1.seg");
    if std::fs::write(&path, &bytes).is_err() {
        return;
    }
    let Ok(seg) = inlink_store::segment::Segment::open(&path, 1) else {
        return;
    };
    let _ = seg.breakdown();
    let _ = seg.forward_bytes();
    let _ = seg.check_shared();
    for t in seg.target_titles().take(64).flatten() {
        let _ = seg.target_id(t.0, &t.1);
        let _ = seg.target_name(t.2);
    }
    for t in seg.page_titles().take(64).flatten() {
        let _ = seg.page_id(t.0, &t.1);
        let _ = seg.page(t.2);
    }
    for id in 0..8 {
        let _ = seg.target_name(id);
        let _ = seg.page(id);
        let _ = seg.page_is_redirect(id);
        let _ = seg.redirect(id);
        let _ = seg.has_redirect(id);
        let _ = seg.redirects_to(id);
    }
    let _ = seg.redirects().take(300).count();
    let _ = (seg.redirect_count(), seg.redirect_bytes());
    let _ = seg.page_ids(0, false).take(300).count();
    let _ = seg.page_ids(u32::MAX, true).take(300).count();
    let _ = (seg.target_title_bytes(), seg.page_title_bytes());
    for (n, entry) in seg.forward_entries().enumerate() {
        if n > 64 {
            break;
        }
        if let Ok((page, stored)) = entry {
            let _ = inlink_store::decoders::forward_links(&stored.to_vec());
            let _ = seg.forward(page);
        }
    }
    for kind in 0..inlink_store::segment::KINDS as u8 {
        for (n, entry) in seg.targets(kind).enumerate() {
            if n > 64 {
                break;
            }
            let _ = entry;
        }
        for tid in 0..8 {
            if let Ok(t) = seg.target(kind, tid) {
                for (ns, list) in &t.lists {
                    let _ = t.contains(*ns, 1);
                    let _ = list.all();
                    let mut c = inlink_store::segment::Cursor::new(list, Some(3), tid % 2 == 0);
                    for _ in 0..300 {
                        match c.next_id() {
                            Ok(Some(_)) => {}
                            _ => break,
                        }
                    }
                }
            }
        }
    }
}

pub fn dictionary(data: &[u8]) {
    if let Ok(d) = inlink_store::dictionary::Dictionary::new(data) {
        let _ = d.len();
        let _ = d.get(0, "P1");
        let _ = d.get(10, &String::from_utf8_lossy(data));
        let mut buf = Vec::new();
        for p in 0..d.len().min(40) {
            let at = d.entry_at(p);
            let ok = at.as_ref().map(|(ns, t, v)| (*ns, t.as_str(), *v));
            assert_eq!(d.entry_in(p, &mut buf), ok, "entry_in and entry_at agree");
        }
        let _ = d.iter().take(200).count();
    }
}

pub fn store_values(data: &[u8]) {
    let _ = inlink_store::decoders::forward_links(data);
    let _ = inlink_store::decoders::blocks(data);
    let _ = inlink_store::decoders::term_postings(data);
}
