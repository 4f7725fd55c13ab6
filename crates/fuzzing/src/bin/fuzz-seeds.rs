//! Writes starting inputs for every fuzz target into `fuzz/corpus/<target>/`, made by
//! inlink's own generators and encoders (nothing fetched): `cargo run -p inlink-fuzzing
//! --bin fuzz-seeds -- fuzz/corpus`.

use std::path::Path;

fn put(root: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> std::io::Result<()> {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".to_string());
    let root = Path::new(&root);
    let tmp = tempfile::tempdir()?;

    let pages = inlink_import::demo::golden_wiki(6, 3);
    for (i, p) in pages.iter().take(12).enumerate() {
        put(root, "wikitext", &format!("page-{i}"), p.text.as_bytes())?;
        put(root, "title", &format!("title-{i}"), p.title.as_bytes())?;
    }
    for t in [
        "Talk:Foo#bar",
        "w:en:Main Page",
        "Category:A/b c",
        "&amp;x;",
        "::a",
        "Ab%41",
    ] {
        put(root, "title", &format!("t-{}", t.len()), t.as_bytes())?;
    }
    let mut xml = Vec::new();
    inlink_import::demo::write_xml(&mut xml, "Wiki", &pages[..pages.len().min(8)])?;
    put(root, "xml_dump", "golden-8", &xml)?;

    let g = tmp.path().join("sql");
    inlink_import::demo_enwiki::write_sql(&g, "fuzzwiki", 30, 1)?;
    for e in std::fs::read_dir(&g)? {
        let path = e?.path();
        let raw = std::fs::read(&path)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let text = if name.ends_with(".gz") {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)?;
            out
        } else {
            raw
        };
        if name.contains(".sql") {
            // The head and a few rows are enough to start from.
            let cut = text.len().min(6000);
            put(root, "sql_dump", &name.replace(".gz", ""), &text[..cut])?;
        }
    }

    let vault = tmp.path().join("vault");
    inlink_import::demo_notes::write_vault(&vault, 8, 600, 2)?;
    let mut n = 0;
    for e in std::fs::read_dir(&vault)? {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == "md") && n < 8 {
            put(
                root,
                "markdown",
                &format!("note-{n}"),
                &std::fs::read(&path)?,
            )?;
            n += 1;
        }
    }
    put(
        root,
        "markdown",
        "forms",
        "---\nalias: [x]\n---\n# H {: id=\"20200101000000-abcdefg\"}\n- a [[B|c]] ((20200101000000-abcdefg)) #[[T]] ^blk\n  id:: 6400aaaa-0000-0000-0000-000000000000\n> [[dendron://v/a.b]] ![[E#^blk]]\n".as_bytes(),
    )?;
    put(
        root,
        "siyuan_sy",
        "doc",
        br#"{"ID":"20200101000000-aaaaaaa","Type":"NodeDocument","Properties":{"id":"20200101000000-aaaaaaa","title":"Doc","updated":"20200101000000"},"Children":[{"ID":"20200101000001-bbbbbbb","Type":"NodeParagraph","Properties":{"id":"20200101000001-bbbbbbb"},"Children":[{"Type":"NodeText","Data":"see "},{"Type":"NodeTextMark","TextMarkType":"block-ref","TextMarkBlockRefID":"20200101000002-ccccccc","TextMarkBlockRefSubtype":"s","TextMarkTextContent":"it"}]},{"ID":"20200101000002-ccccccc","Type":"NodeHeading","HeadingLevel":2,"Properties":{"id":"20200101000002-ccccccc","name":"n","alias":"a,b"},"Children":[{"Type":"NodeText","Data":"Head"}]}]}"#,
    )?;

    for (i, q) in [
        "action=query&list=backlinks&bltitle=P1&bllimit=3&blredirect=1&format=json",
        "action=query&list=backlinks&bltitle=P1&blnamespace=0|1&blcontinue=0|5&bldir=descending",
        "action=query&generator=backlinks&gbltitle=P1&prop=linkshere|info&lhnamespace=1",
        "action=query&list=embeddedin&eititle=Template:T&eilimit=max&formatversion=2&errorformat=html",
        "action=query&prop=links|linkshere&titles=P1|P2|Talk:P5&meta=siteinfo&siprop=general|namespaces|statistics",
        "action=paraminfo&modules=query+backlinks",
    ]
    .iter()
    .enumerate()
    {
        put(root, "mediawiki_params", &format!("q-{i}"), q.as_bytes())?;
    }
    for (i, b) in [
        r#"{"id":"20200101000000-aaaaaaa","k":"","mk":"","sort":3,"mSort":1,"containChildren":true}"#,
        r#"{"defID":"20200101000000-aaaaaaa","refTreeID":"x","keyword":"a b"}"#,
        r#"{"id":"20200101000000-aaaaaaa","mPage":2,"mPageSize":5}"#,
    ]
    .iter()
    .enumerate()
    {
        for e in 0u8..5 {
            let mut v = vec![e];
            v.extend_from_slice(b.as_bytes());
            put(root, "siyuan_api", &format!("b-{i}-{e}"), &v)?;
        }
    }
    for (i, b) in [
        r#"{"ops":[{"op":"upsert","title":"New","wikitext":"[[P1]] {{T}} #REDIRECT [[P2]]"},{"op":"move","from":"P3","to":"Q","redirect":true},{"op":"delete","id":4}]}"#,
        r#"{"ops":[{"op":"upsert","title":"X","id":7,"links":{"page":["P1"],"template":["T"],"image":["File:A.png"],"category":["Category:C"]},"redirect":"P1"}]}"#,
    ]
    .iter()
    .enumerate()
    {
        put(root, "native_batch", &format!("b-{i}"), b.as_bytes())?;
    }

    for (i, b) in [
        r#"{"ops":[{"op":"put_note","path":"b/m.md","markdown":"[[n]] ![[n#^b]]"},{"op":"move_note","from":"a/n.md","to":"c.md"}]}"#,
        r#"{"ops":[{"op":"delete_note","path":"a/n.md"},{"op":"put_note","path":"a/n.md","markdown":"x"}]}"#,
        r#"{"ops":[{"op":"put_note","path":"link/x.md","markdown":"x"}]}"#,
        r#"{"ops":[{"op":"put_note","path":"../x.md","markdown":"x"}]}"#,
    ]
    .iter()
    .enumerate()
    {
        put(root, "notes_folder", &format!("b-{i}"), &[&[1u8][..], b.as_bytes()].concat())?;
    }
    for (i, m) in [
        r#"{"version":1,"files":{"d/new.md":"0","a/n.md":null}}"#,
        r#"{"version":1,"files":{"../x.md":"0"}}"#,
        r#"{"version":1,"files":{"link/x.md":"0"}}"#,
        r#"{"version":1,"files":{"x.md":"../../etc/passwd"}}"#,
    ]
    .iter()
    .enumerate()
    {
        put(
            root,
            "notes_folder",
            &format!("j-{i}"),
            &[&[0u8][..], m.as_bytes()].concat(),
        )?;
    }

    for (i, ids) in [
        (1..40u32).collect::<Vec<_>>(),
        (0..700u32).map(|i| i * 37 + (i % 5)).collect(),
        vec![4_000_000_000],
    ]
    .iter()
    .enumerate()
    {
        put(
            root,
            "postings",
            &format!("p-{i}"),
            &inlink_store::postings::encode(ids),
        )?;
        // In the universe the fuzz target takes from the last byte, 255: 2^24 ids.
        let small: Vec<u32> = ids.iter().copied().filter(|&id| id < 1 << 24).collect();
        let mut bytes = inlink_store::postings::encode_in(&small, 1 << 24);
        bytes.push(255);
        put(root, "postings", &format!("u-{i}"), &bytes)?;
    }
    // Clustered ids with long jumps: interpolative blocks.
    let mut clustered: Vec<u32> = (0..300u32)
        .map(|i| (i / 20) * 100_000 + i % 20 * 3)
        .collect();
    clustered.dedup();
    put(
        root,
        "postings",
        "p-clustered",
        &inlink_store::postings::encode(&clustered),
    )?;
    // Ten linkers around a centre: the fuzz target's for a first byte (the count) of 10 and
    // a last of 255.
    let centre = (10_000 * 7919) % (1u32 << 24);
    let mut near: Vec<u32> = [9u32, 17, 600, 3_000_000, 16_000_000]
        .into_iter()
        .chain([
            centre - 900,
            centre - 3,
            centre + 1,
            centre + 40,
            centre + 1000,
        ])
        .collect();
    near.sort_unstable();
    let mut bytes = Vec::new();
    inlink_store::postings::encode_centred_into(&mut bytes, &near, 1 << 24, centre);
    bytes.push(255);
    put(root, "postings", "centred", &bytes)?;
    // A small list split in two universes, as the fuzz target reads it: a fifth of 2^24
    // and the rest (the last byte, 255, gives 2^24).
    let heavy = (1u64 << 24) / 5;
    let (a, b) = ([5u32, 900, 70_000], [3u32, 4, 5, 6_000_000]);
    let part = |ids, universe| inlink_store::postings::Part {
        ids,
        universe,
        centre: None,
    };
    let mut bytes = Vec::new();
    inlink_store::postings::encode_split_into(
        &mut bytes,
        [part(&a, heavy), part(&b, (1 << 24) - heavy)],
    );
    bytes.push(255);
    put(root, "postings", "split", &bytes)?;
    // A segment as the store writes it (forward entries included): the conformance
    // suite's hub fixture, folded.
    {
        use inlink_store::LinkStore;
        let dir = tmp.path().join("store");
        let store = inlink_store::RedbStore::open(&dir).map_err(std::io::Error::other)?;
        store
            .apply(&inlink_store::conformance::hub_fixture())
            .map_err(std::io::Error::other)?;
        // Redirects with a fragment and to another wiki: the rows kept apart.
        let apart = |from: u32, fragment: &str, interwiki: &str| inlink_store::Op::SetRedirect {
            from: inlink_model::PageId(from),
            redirect: Some(inlink_store::RedirectRow {
                target: inlink_model::Title::new(0, "Hub"),
                fragment: fragment.into(),
                interwiki: interwiki.into(),
            }),
        };
        store
            .apply(&inlink_store::Batch {
                ops: vec![apart(28, "Far", "wikipedia"), apart(30, "Near", "")],
            })
            .map_err(std::io::Error::other)?;
        store.fold().map_err(std::io::Error::other)?;
        drop(store);
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|x| x == "seg") {
                put(root, "segment", "hub", &std::fs::read(&path)?)?;
            }
        }
    }
    // A segment whose small lists are centred on their targets' pages: targets 1–8, each
    // the title of page 4000 + 10t, linked from the pages a few ids around it.
    {
        use inlink_store::segment::{SegmentWriter, TitleTablesApart};
        let path = tmp.path().join("centred.seg");
        let mut w = SegmentWriter::create(&path)?;
        w.set_forward_universe(9);
        let near = |t: u32| {
            [3u32, 2, 1]
                .map(|d| 4000 + 10 * t - d)
                .into_iter()
                .chain([1, 2, 3].map(|d| 4000 + 10 * t + d))
        };
        let mut linkers: Vec<u32> = (1..=8).flat_map(near).collect();
        linkers.sort_unstable();
        for &from in &linkers {
            w.push_forward(from, &[1], 1, Some(0))?;
        }
        let mut tables = TitleTablesApart::create(tmp.path(), 9, 110)?;
        for page in 3990..4100u32 {
            let title = format!("P{page}");
            tables.push_page(0, &title, page, false)?;
            if page % 10 == 0 && (4010..=4080).contains(&page) {
                tables.push_target(0, &title, (page - 4000) / 10)?;
            }
        }
        let (targets, pages) = tables.finish()?;
        w.centre_on(&targets)?;
        for t in 1..=8 {
            for from in near(t) {
                w.push(0, t, 0, from)?;
            }
        }
        w.splice_titles(targets)?;
        w.splice_pages(pages)?;
        w.finish(1)?;
        put(root, "segment", "centred", &std::fs::read(&path)?)?;
    }
    // A segment with long lists in ranks among their classes' pages (version 19): target 1
    // linked from 300 pages of namespace 0 and 20 of namespace 4, every fifth page heavy
    // (48 link rows), so that each namespace's rows are two lists; target 2 from 30 of
    // them, a small list split into its heavy pages and the others.
    {
        use inlink_store::segment::SegmentWriter;
        let path = tmp.path().join("ranked.seg");
        let mut w = SegmentWriter::create(&path)?;
        let ns = |p: u32| if p.is_multiple_of(16) { 4 } else { 0 };
        for from in 0..320u32 {
            let rows = if from.is_multiple_of(5) { 48 } else { 1 };
            w.push_forward(from, &[1], rows, Some(ns(from)))?;
        }
        for n in [0, 4] {
            let from: Vec<u32> = (0..320).filter(|&p| ns(p) == n).collect();
            w.push_list(0, 1, n, &from)?;
        }
        for n in [0, 4] {
            let from: Vec<u32> = (0..320).step_by(11).filter(|&p| ns(p) == n).collect();
            w.push_list(0, 2, n, &from)?;
        }
        w.finish(1)?;
        put(root, "segment", "ranked", &std::fs::read(&path)?)?;
    }
    let dict = inlink_store::dictionary::build([
        (0, "P1".to_string(), 1),
        (0, "P2".into(), 2),
        (10, "T".into(), 3),
    ])
    .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    put(root, "dictionary", "three", &dict)?;
    // Enough titles of repeated words for a symbol table to pay, so that coded keys are seeded.
    let coded = inlink_store::dictionary::build((0..2000u64).map(|i| {
        let w = ["River", "science", "Soak", "Battle_of"][i as usize % 4];
        (i as i32 % 3, format!("{w}_{}_{w}", i * 7), i)
    }))
    .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    put(root, "dictionary", "coded", &coded)?;
    put(root, "store_values", "postings", &[3, 2, 5, 1, 0x81, 1])?;
    put(
        root,
        "store_values",
        "blocks",
        br#"[{"id":"b1","page":1,"parent":null,"kind":"d","text":"x"}]"#,
    )?;
    println!("seeds written under {}", root.display());
    Ok(())
}
