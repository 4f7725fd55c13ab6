//! Importing real corpora from `../shared/data` and checking the index against counts made
//! independently here, plus bad-record handling on generated input.

use inlink_import::{import, Format, Options};
use inlink_model::{LinkKind, PageId, Title};
use inlink_store::{BacklinkQuery, LinkStore, MemStore, RedbStore};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

#[path = "../../../tests/support/shared_data.rs"]
mod shared_data;
use shared_data::data;

fn read_all(p: &Path) -> String {
    let mut raw = Vec::new();
    std::fs::File::open(p)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    if raw.starts_with(b"BZh") {
        let mut out = String::new();
        bzip2::read::MultiBzDecoder::new(&raw[..])
            .read_to_string(&mut out)
            .unwrap();
        out
    } else {
        String::from_utf8(raw).unwrap()
    }
}

/// (title, text) of every page, split with plain string search.
fn pages_of(xml: &str) -> Vec<(String, String)> {
    xml.split("<page>")
        .skip(1)
        .map(|p| {
            let between = |a: &str, b: &str| {
                p.split_once(a)
                    .and_then(|(_, r)| r.split_once(b))
                    .map(|(x, _)| x.to_string())
                    .unwrap_or_default()
            };
            let text = p
                .split_once("<text")
                .and_then(|(_, r)| r.split_once('>'))
                .map(|(_, r)| r.split("</text>").next().unwrap_or("").to_string())
                .unwrap_or_default();
            (
                between("<title>", "</title>")
                    .replace("&amp;", "&")
                    .replace("&quot;", "\""),
                text,
            )
        })
        .collect()
}

fn import_into(paths: &[PathBuf]) -> (tempfile::TempDir, RedbStore, Vec<inlink_import::Summary>) {
    let d = tempfile::tempdir().unwrap();
    let store = RedbStore::open(d.path()).unwrap();
    let s = import(&store, paths, Format::Auto, &Options::default()).unwrap();
    // The index the import leaves holds its invariants (what `inlink check` reads), titles
    // found both ways included: real titles reach what generated ones do not.
    let problems = store.verify(10).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    (d, store, s)
}

fn backlink_titles(store: &impl LinkStore, target: Title) -> BTreeSet<String> {
    let site = store.site_info().unwrap().unwrap();
    let codec = inlink_model::TitleCodec::new(site);
    store
        .backlinks(&BacklinkQuery::new(LinkKind::Page, target))
        .unwrap()
        .iter()
        .map(|p| codec.full_text(&p.title))
        .collect()
}

#[test]
fn ltgwiki_xml() {
    let Some(p) = data("ltgwiki-2017-09-pages-articles/ltgwiki-latest-pages-articles.xml") else {
        return;
    };
    let xml = read_all(&p);
    let pages = pages_of(&xml);
    let (_d, store, s) = import_into(&[p]);
    assert_eq!(s[0].skipped, 0, "{}", s[0]);
    let st = store.stats().unwrap();
    assert_eq!(st.pages, pages.len() as u64);
    assert_eq!(st.redirects, xml.matches("<redirect title=").count() as u64);
    // Every page whose own text links [[Latgola]] is among its backlinks (templates add more).
    let direct: BTreeSet<String> = pages
        .iter()
        .filter(|(_, t)| {
            t.contains("[[Latgola]]")
                || t.contains("[[Latgola|")
                || t.contains("[[latgola]]")
                || t.contains("[[latgola|")
        })
        .map(|(title, _)| title.clone())
        .collect();
    let stored = backlink_titles(&store, Title::new(0, "Latgola"));
    assert!(direct.len() > 50, "{}", direct.len());
    let missing: Vec<_> = direct.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "pages linking Latgola directly but not indexed: {missing:?}"
    );
    // Namespaces come from the dump's siteinfo: Taiss is its Template namespace.
    let site = store.site_info().unwrap().unwrap();
    assert_eq!(site.namespaces.lookup("taiss"), Some(10));
}

#[test]
fn enwiki_bz2_excerpt() {
    let Some(p) = data("enwiki-gensim-excerpt/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2") else { return };
    let xml = read_all(&p);
    let pages = pages_of(&xml);
    let (_d, store, s) = import_into(&[p]);
    assert_eq!(s[0].skipped, 0, "{}", s[0]);
    let st = store.stats().unwrap();
    assert_eq!(st.pages, pages.len() as u64);
    assert_eq!(st.redirects, xml.matches("<redirect title=").count() as u64);
    let direct: BTreeSet<String> = pages
        .iter()
        .filter(|(_, t)| t.contains("[[Aristotle]]") || t.contains("[[Aristotle|"))
        .map(|(t, _)| t.clone())
        .collect();
    assert!(direct.len() >= 5);
    assert!(direct.is_subset(&backlink_titles(&store, Title::new(0, "Aristotle"))));
}

#[test]
fn freecad_export_in_six_files() {
    let Some(dir) = data("freecad-wiki-2014-export") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    let all: Vec<String> = files.iter().map(|f| read_all(f)).collect();
    let n_pages: usize = all.iter().map(|x| pages_of(x).len()).sum();
    let n_redirects: usize = all.iter().map(|x| x.matches("<redirect").count()).sum();
    let (_d, store, s) = import_into(&files);
    assert_eq!(s.len(), 1, "one wiki, one summary");
    let st = store.stats().unwrap();
    assert_eq!(
        (st.pages, st.redirects),
        (n_pages as u64, n_redirects as u64)
    );
    // Templates from pages-ns-10.xml expand into the main-namespace pages of the other file.
    assert!(st.links[LinkKind::Template as usize] > 1000);
    let arch = backlink_titles(&store, Title::new(0, "Arch_Module"));
    assert!(arch.len() >= 106, "{}", arch.len());
}

/// An independent reading of a mysqldump: quote-aware tuple split.
fn sql_rows(sql: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in sql.lines().filter(|l| l.starts_with("INSERT INTO")) {
        let body = &line[line.find("VALUES ").unwrap() + 7..];
        let (mut row, mut field, mut in_str, mut esc, mut depth) =
            (Vec::new(), String::new(), false, false, 0);
        for c in body.chars() {
            if in_str {
                if esc {
                    field.push(c);
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == '\'' {
                    in_str = false;
                } else {
                    field.push(c);
                }
                continue;
            }
            match c {
                '\'' => in_str = true,
                '(' => depth += 1,
                ',' if depth == 1 => row.push(std::mem::take(&mut field)),
                ')' => {
                    depth -= 1;
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                _ if depth == 1 => field.push(c),
                _ => {}
            }
        }
    }
    rows
}

#[test]
fn zuwiki_sql_counts_match_raw_rows() {
    let Some(dir) = data("zuwiki-20160111-sql") else {
        return;
    };
    let files =
        ["page", "pagelinks", "redirect"].map(|t| dir.join(format!("zuwiki-20160111-{t}.sql")));
    // Given in reverse order on purpose: the importer orders tables itself.
    let rev: Vec<PathBuf> = files.iter().rev().cloned().collect();
    let (_d, store, s) = import_into(&rev);
    assert!(s.iter().all(|s| s.skipped == 0));
    let pages = sql_rows(&std::fs::read_to_string(&files[0]).unwrap());
    let existing: BTreeSet<u32> = pages.iter().map(|r| r[0].parse().unwrap()).collect();
    let links = sql_rows(&std::fs::read_to_string(&files[1]).unwrap());
    // pagelinks(pl_from, pl_namespace, pl_title, pl_from_namespace)
    let mut expected: BTreeMap<(i32, String), BTreeSet<u32>> = BTreeMap::new();
    for r in &links {
        let from: u32 = r[0].parse().unwrap();
        if existing.contains(&from) {
            expected
                .entry((r[1].parse().unwrap(), r[2].clone()))
                .or_default()
                .insert(from);
        }
    }
    assert_eq!(links.len(), 24_879);
    assert_eq!(expected.len(), 10_027);
    for ((ns, title), froms) in &expected {
        let t = Title::new(*ns, title.clone());
        assert_eq!(
            store.count_backlinks(LinkKind::Page, &t).unwrap(),
            froms.len() as u64,
            "{t:?}"
        );
    }
    let top = store
        .backlinks(&BacklinkQuery::new(LinkKind::Page, Title::new(4, "Babel")))
        .unwrap();
    assert_eq!(
        top.iter().map(|p| p.id.0).collect::<BTreeSet<_>>(),
        expected[&(4, "Babel".to_string())]
    );
    let st = store.stats().unwrap();
    assert_eq!(st.pages, pages.len() as u64);
    assert_eq!(st.redirects, 371);
    let redirect_rows = sql_rows(&std::fs::read_to_string(&files[2]).unwrap());
    let r = &redirect_rows[0];
    let row = store
        .redirect(PageId(r[0].parse().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.target.ns, row.target.dbkey.as_str()),
        (r[1].parse().unwrap(), r[2].as_str())
    );
}

#[test]
fn bad_records_are_reported_and_skipped() {
    let d = tempfile::tempdir().unwrap();
    let xml = d.path().join("bad.xml");
    std::fs::write(
        &xml,
        r#"<mediawiki><siteinfo><sitename>W</sitename></siteinfo>
<page><title>Good</title><ns>0</ns><id>1</id><revision><text>[[Target]]</text></revision></page>
<page><title>No id</title><ns>0</ns><revision><text>[[Target]]</text></revision></page>
<page><title>Bad[title</title><ns>0</ns><id>3</id><revision><text>[[Target]]</text></revision></page>
<page><title>Talk:Wrong ns</title><ns>0</ns><id>4</id><revision><text>[[Target]]</text></revision></page>
<page><title>Also good</title><ns>0</ns><id>5</id><revision><text>[[Target]] {{Later}}</text></revision></page>
<page><title>Template:Later</title><ns>10</ns><id>6</id><revision><text>[[From template]]</text></revision></page>
</mediawiki>"#,
    )
    .unwrap();
    let sql = d.path().join("page.sql");
    std::fs::write(
        &sql,
        "CREATE TABLE `pagelinks` (\n  `pl_from` int,\n  `pl_namespace` int,\n  `pl_title` varbinary(255),\n  `pl_from_namespace` int\n) ENGINE=InnoDB;\nINSERT INTO `pagelinks` VALUES (1,0,'Sql_target',0),(2,0,broken,0),(5,0,'Sql_target',0),(99999999999,0,'X',0);\n",
    )
    .unwrap();
    let store = MemStore::new();
    let s = import(&store, &[xml], Format::Auto, &Options::default()).unwrap();
    let xml_summary = &s[0];
    // SQL link rows added later keep the links the XML import wrote.
    let s = import(&store, &[sql], Format::Auto, &Options::default()).unwrap();
    let sql_summary = &s[0];
    assert_eq!(xml_summary.skipped, 3, "{xml_summary}");
    assert!(xml_summary.skipped_examples.iter().all(|e| e.position > 0));
    assert_eq!(sql_summary.skipped, 2, "{sql_summary}");
    let ids = |t: &str| {
        store
            .backlinks(&BacklinkQuery::new(LinkKind::Page, Title::new(0, t)))
            .unwrap()
            .iter()
            .map(|p| p.id.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("Target"), [1, 5]);
    assert_eq!(ids("Sql_target"), [1, 5]);
    // A template that comes later in the dump still expands into the page.
    assert_eq!(ids("From_template"), [5, 6]);
}

/// Loaded in bulk (an empty index), a link row to a target key no `linktarget` row names is
/// reported where it is, and the rest load.
#[test]
fn bulk_load_reports_unknown_targets_where_they_are() {
    let d = tempfile::tempdir().unwrap();
    let write = |name: &str, sql: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, sql).unwrap();
        p
    };
    let page = write("page.sql", "CREATE TABLE `page` (\n  `page_id` int,\n  `page_namespace` int,\n  `page_title` varbinary(255),\n  `page_is_redirect` tinyint\n) ENGINE=InnoDB;\nINSERT INTO `page` VALUES (1,0,'A',0),(2,0,'B',0);\n");
    let lt = write("linktarget.sql", "CREATE TABLE `linktarget` (\n  `lt_id` bigint,\n  `lt_namespace` int,\n  `lt_title` varbinary(255)\n) ENGINE=InnoDB;\nINSERT INTO `linktarget` VALUES (10,0,'B'),(11,0,'Red');\n");
    let pl_sql = "CREATE TABLE `pagelinks` (\n  `pl_from` int,\n  `pl_from_namespace` int,\n  `pl_target_id` bigint\n) ENGINE=InnoDB;\nINSERT INTO `pagelinks` VALUES (1,0,10),(1,0,99),(2,0,11),(2,0,10);\n";
    let pl = write("pagelinks.sql", pl_sql);
    let store = RedbStore::open(d.path().join("index")).unwrap();
    assert!(store.bulk_loader().unwrap().is_some());
    let s = import(&store, &[page, lt, pl], Format::Auto, &Options::default()).unwrap();
    let links = s
        .iter()
        .find(|s| s.source.ends_with("pagelinks.sql"))
        .unwrap();
    assert_eq!(links.skipped, 1, "{links}");
    assert_eq!(links.links[LinkKind::Page as usize], 3, "{links}");
    let pos = links.skipped_examples[0].position as usize;
    assert!(
        pl_sql[pos..].starts_with("(1,0,99)"),
        "{:?}",
        &pl_sql[pos..]
    );
    assert_eq!(store.stats().unwrap().links[LinkKind::Page as usize], 3);
    let from = |t: &str| -> Vec<u32> {
        store
            .backlinks(&BacklinkQuery::new(LinkKind::Page, Title::new(0, t)))
            .unwrap()
            .iter()
            .map(|p| p.id.0)
            .collect()
    };
    assert_eq!(from("B"), [1, 2]);
    assert_eq!(from("Red"), [2]);
}

/// The old image and category link schemas name their targets in `il_to` and `cl_to`; a
/// row without a target column is reported, not guessed.
#[test]
fn old_image_and_category_schemas() {
    let d = tempfile::tempdir().unwrap();
    let il = d.path().join("imagelinks.sql");
    std::fs::write(
        &il,
        "CREATE TABLE `imagelinks` (\n  `il_from` int,\n  `il_to` varbinary(255),\n  `il_from_namespace` int\n) ENGINE=InnoDB;\nINSERT INTO `imagelinks` VALUES (1,'Pic.png',0),(2,'Pic.png',4);\n",
    )
    .unwrap();
    let cl = d.path().join("categorylinks.sql");
    std::fs::write(
        &cl,
        "CREATE TABLE `categorylinks` (\n  `cl_from` int,\n  `cl_to` varbinary(255),\n  `cl_sortkey` varbinary(230)\n) ENGINE=InnoDB;\nINSERT INTO `categorylinks` VALUES (3,'Birds','X'),(1,'Birds','Y');\n",
    )
    .unwrap();
    let tl = d.path().join("templatelinks.sql");
    std::fs::write(
        &tl,
        "CREATE TABLE `templatelinks` (\n  `tl_from` int,\n  `tl_to` varbinary(255)\n) ENGINE=InnoDB;\nINSERT INTO `templatelinks` VALUES (1,'Infobox');\n",
    )
    .unwrap();
    let page = d.path().join("page.sql");
    std::fs::write(
        &page,
        "CREATE TABLE `page` (\n  `page_id` int,\n  `page_namespace` int,\n  `page_title` varbinary(255),\n  `page_is_redirect` tinyint\n) ENGINE=InnoDB;\nINSERT INTO `page` VALUES (1,0,'A',0),(2,4,'B',0),(3,0,'C',0);\n",
    )
    .unwrap();
    let store = MemStore::new();
    let s = import(
        &store,
        &[page, il, cl, tl],
        Format::Auto,
        &Options::default(),
    )
    .unwrap();
    let total = |f: fn(&inlink_import::Summary) -> u64| s.iter().map(f).sum::<u64>();
    assert_eq!(total(|x| x.links[LinkKind::Image as usize]), 2);
    assert_eq!(total(|x| x.links[LinkKind::Category as usize]), 2);
    assert_eq!(total(|x| x.skipped), 1, "{s:?}");
    let ids = |kind, t: Title| {
        store
            .backlinks(&BacklinkQuery::new(kind, t))
            .unwrap()
            .iter()
            .map(|p| p.id.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(LinkKind::Image, Title::new(6, "Pic.png")), [1, 2]);
    assert_eq!(ids(LinkKind::Category, Title::new(14, "Birds")), [1, 3]);
}

#[test]
fn unsupported_formats_say_so() {
    let store = MemStore::new();
    let err = import(
        &store,
        &[PathBuf::from("x")],
        Format::Markdown,
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("a Markdown vault is a folder"),
        "{err}"
    );
    let d = tempfile::tempdir().unwrap();
    let err = import(
        &store,
        &[d.path().to_path_buf()],
        Format::Markdown,
        &Options::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no Markdown notes"), "{err}");
    let junk = d.path().join("junk.txt");
    std::fs::write(&junk, "hello").unwrap();
    let err = import(&store, &[junk], Format::Auto, &Options::default()).unwrap_err();
    assert!(err.to_string().contains("not a format"), "{err}");
}

/// Our link rows for the generated golden wiki equal the ones MediaWiki 1.39 itself built
/// (`tests/golden/mediawiki-1.39/README.md`).
#[test]
fn golden_mediawiki_link_tables() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mediawiki-1.39");
    let pages = inlink_import::demo::golden_wiki(150, 5);
    let d = tempfile::tempdir().unwrap();
    let xml = d.path().join("golden.xml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&xml).unwrap());
    inlink_import::demo::write_xml(&mut f, "TestWiki", &pages).unwrap();
    drop(f);
    let store = RedbStore::open(d.path().join("index")).unwrap();
    import(&store, &[xml], Format::Auto, &Options::default()).unwrap();

    let all = store.pages(PageId(0), usize::MAX).unwrap();
    let mut ours: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    // MediaWiki's installer made its own Main Page; the recording leaves it out.
    for p in all.iter().filter(|p| p.title != Title::new(0, "Main_Page")) {
        let from = format!("{}\t{}", p.title.ns, p.title.dbkey);
        ours.entry("page.tsv")
            .or_default()
            .insert(format!("{from}\t{}", p.is_redirect as u8));
        for (file, kind) in [
            ("pagelinks.tsv", LinkKind::Page),
            ("templatelinks.tsv", LinkKind::Template),
            ("imagelinks.tsv", LinkKind::Image),
        ] {
            for t in store.outgoing(p.id, kind).unwrap() {
                ours.entry(file)
                    .or_default()
                    .insert(format!("{from}\t{}\t{}", t.ns, t.dbkey));
            }
        }
        if let Some(r) = store.redirect(p.id).unwrap() {
            let row = format!(
                "{from}\t{}\t{}\t{}\t{}",
                r.target.ns, r.target.dbkey, r.interwiki, r.fragment
            );
            ours.entry("redirect.tsv").or_default().insert(row);
        }
    }
    let mut report = String::new();
    for file in [
        "page.tsv",
        "pagelinks.tsv",
        "templatelinks.tsv",
        "imagelinks.tsv",
        "redirect.tsv",
    ] {
        let theirs: BTreeSet<String> = std::fs::read_to_string(golden.join(file))
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let mine = ours.remove(file).unwrap_or_default();
        assert!(theirs.len() > 10, "{file} is empty");
        for l in theirs.difference(&mine) {
            report.push_str(&format!("{file} only in MediaWiki: {l}\n"));
        }
        for l in mine.difference(&theirs) {
            report.push_str(&format!("{file} only in inlink:    {l}\n"));
        }
    }
    assert!(
        report.is_empty(),
        "differences from MediaWiki 1.39:\n{report}"
    );
}

#[test]
fn siyuan_guide_workspace() {
    let Some(dir) = data("siyuan-guide") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let store = RedbStore::open(d.path()).unwrap();
    let s = import(
        &store,
        std::slice::from_ref(&dir),
        Format::Auto,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].pages, s[0].blocks, s[0].block_refs, s[0].skipped),
        (294, 13_450, 782, 0),
        "{}",
        s[0]
    );
    assert_eq!(store.stats().unwrap().pages, 294);
    // The worked example of expected-backlinks.json: the "Template snippet" document is
    // referenced from seven documents, once each.
    let def = "20201204184532-3qm9l8n";
    let refs = store.block_refs_to(def).unwrap();
    let docs: BTreeSet<u32> = refs.iter().map(|r| r.page.0).collect();
    assert_eq!((refs.len(), docs.len()), (7, 7));
    let page = store.block(def).unwrap().unwrap().page;
    let title = store.page(page).unwrap().unwrap().title;
    assert!(
        title.dbkey.starts_with("SiYuan_User_Guide/") && title.dbkey.ends_with("/Template_snippet"),
        "notebook name and hPath: {}",
        title.dbkey
    );
    // At page level (for the MediaWiki dialect) a document links to every document one of
    // whose blocks it references, itself included (SiYuan lists references to the same
    // document as backlinks).
    let mut linking = BTreeSet::new();
    for b in store.blocks_of(page).unwrap() {
        linking.extend(store.block_refs_to(&b.id).unwrap().iter().map(|r| r.page.0));
    }
    assert!(linking.len() >= 7);
    assert_eq!(
        store.count_backlinks(LinkKind::Page, &title).unwrap(),
        linking.len() as u64
    );
    // Importing again keeps page ids and replaces, not duplicates.
    import(&store, &[dir], Format::Siyuan, &Options::default()).unwrap();
    assert_eq!(store.stats().unwrap().pages, 294);
    assert_eq!(store.block(def).unwrap().unwrap().page, page);
    assert_eq!(store.block_refs_to(def).unwrap().len(), 7);
}

/// How a test reads a vault: which files, how notes are named, how `[[a|b]]` splits.
#[derive(Clone, Copy, PartialEq)]
enum Vault {
    Obsidian,
    Dendron,
    Logseq,
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// Text without front matter, HTML comments, fenced code and inline code. Comments go
/// first: a comment opened at the start of a line runs to its `-->` (a CommonMark HTML
/// block), fences inside it included.
fn visible_text(text: &str) -> String {
    let mut body = text;
    if let Some(rest) = body.strip_prefix("---\n") {
        if let Some(end) = rest.find("\n---") {
            body = &rest[end + 4..];
        }
    }
    let mut no_comments = String::new();
    let mut rest = body;
    while let Some(s) = rest.find("<!--") {
        no_comments.push_str(&rest[..s]);
        rest = rest[s..].find("-->").map_or("", |e| &rest[s + e + 3..]);
    }
    no_comments.push_str(rest);
    let mut out = String::new();
    // An open fence: its character and length; it closes with at least as many.
    let mut fence: Option<(char, usize)> = None;
    for line in no_comments.lines() {
        let t = line.trim_start();
        // A fence may open a list item's text: `- ```clojure`.
        let t = t.strip_prefix("- ").unwrap_or(t);
        let marker = ['`', '~'].into_iter().find_map(|c| {
            let n = t.chars().take_while(|&x| x == c).count();
            (n >= 3).then_some((c, n))
        });
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some((c, n)), Some((mc, mn))) if c == mc && mn >= n && t.trim_end().len() == mn => {
                fence = None
            }
            (None, None) => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {}
        }
    }
    // Inline code spans on one line.
    out.lines()
        .map(|l| {
            let parts: Vec<&str> = l.split('`').collect();
            if parts.len() < 3 {
                return l.to_string();
            }
            let mut s = String::new();
            for (i, p) in parts.iter().enumerate() {
                // Odd parts are code, unless the last backtick has no partner.
                if i % 2 == 0 || (i == parts.len() - 1 && parts.len().is_multiple_of(2)) {
                    s.push_str(p);
                }
                s.push(' ');
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Link targets named in a note, by the vault's rules.
fn brute_targets(text: &str, vault: Vault) -> Vec<String> {
    let text = visible_text(text);
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(s) = rest.find("[[") {
        let after = &rest[s + 2..];
        let Some(e) = after.find("]]") else { break };
        let inner = &after[..e];
        if inner.contains('\n') || inner.contains("[[") {
            // Not a wikilink (`[[Bug] text](url)`): look again after this `[[`.
            rest = after;
            continue;
        }
        {
            let target = match (inner.split_once('|'), vault) {
                (Some((_, b)), Vault::Dendron) => b,
                (Some((a, _)), _) => a,
                (None, _) => inner,
            };
            let target = match target.strip_prefix("dendron://") {
                Some(r) => r.split_once('/').map_or(r, |(_, t)| t),
                None => target,
            };
            out.push(target.split('#').next().unwrap().trim().to_string());
        }
        rest = &after[e + 2..];
    }
    if vault == Vault::Logseq {
        for line in text.lines() {
            let chars: Vec<char> = line.chars().collect();
            for (i, &c) in chars.iter().enumerate() {
                if c != '#' || (i > 0 && !chars[i - 1].is_whitespace()) {
                    continue;
                }
                let tag: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| !c.is_whitespace() && !",;!?()[]{}\"'`".contains(**c))
                    .collect();
                let tag = tag.trim_end_matches(['.', ':']);
                if !tag.is_empty()
                    && !tag.starts_with('#')
                    && !tag.chars().all(|c| c.is_ascii_digit())
                {
                    out.push(tag.to_string());
                }
            }
            let l = line.trim_start().trim_start_matches("- ");
            if let Some(v) = l.strip_prefix("tags:: ") {
                for t in v.split(',').map(str::trim) {
                    if !t.is_empty() && !t.starts_with("[[") && !t.starts_with('#') {
                        out.push(t.to_string());
                    }
                }
            }
        }
    }
    out.into_iter().filter(|t| !t.is_empty()).collect()
}

/// (note name, aliases) by the vault's rules.
fn brute_name(rel: &str, text: &str, vault: Vault) -> (String, Vec<String>) {
    let stem_path = rel.strip_suffix(".md").unwrap_or(rel);
    let stem = stem_path.rsplit('/').next().unwrap();
    let mut aliases = Vec::new();
    match vault {
        Vault::Logseq => {
            let mut name = None;
            for line in text.lines() {
                let l = line.trim_start_matches("- ").trim();
                let Some((k, v)) = l.split_once(":: ") else {
                    break;
                };
                match k {
                    "title" => name = Some(v.trim().to_string()),
                    "alias" => aliases.extend(v.split(',').map(|a| {
                        a.trim()
                            .trim_start_matches("[[")
                            .trim_end_matches("]]")
                            .to_string()
                    })),
                    _ => {}
                }
            }
            // Logseq reads YAML front matter too.
            if let Some(fm) = text
                .strip_prefix("---\n")
                .and_then(|r| r.split("\n---").next())
            {
                for line in fm.lines() {
                    if let Some(v) = line.strip_prefix("title:") {
                        name = Some(v.trim().trim_matches(['"', '\'']).to_string());
                    }
                }
            }
            let decoded = stem
                .replace("___", "/")
                .replace("%2F", "/")
                .replace("%3F", "?");
            (name.unwrap_or(decoded), aliases)
        }
        Vault::Obsidian | Vault::Dendron => {
            if let Some(fm) = text
                .strip_prefix("---\n")
                .and_then(|r| r.split("\n---").next())
            {
                let mut in_list = false;
                for line in fm.lines() {
                    if let Some(v) = line
                        .strip_prefix("aliases:")
                        .or(line.strip_prefix("alias:"))
                    {
                        let v = v.trim();
                        in_list = v.is_empty();
                        aliases.extend(
                            v.trim_matches(['[', ']'])
                                .split(',')
                                .map(|a| a.trim().trim_matches('"').to_string())
                                .filter(|a| !a.is_empty()),
                        );
                    } else if in_list && line.trim_start().starts_with("- ") {
                        aliases.push(line.trim_start()[2..].trim().trim_matches('"').to_string());
                    } else {
                        in_list = false;
                    }
                }
            }
            let name = if vault == Vault::Dendron {
                stem
            } else {
                stem_path
            };
            (name.to_string(), aliases)
        }
    }
}

/// For every note of a vault (by path inside it): the notes linking to it.
fn brute_backlinks(root: &Path, vault: Vault) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    let dirs: Vec<PathBuf> = match vault {
        Vault::Logseq => vec![root.join("pages"), root.join("journals")],
        _ => vec![root.to_path_buf()],
    };
    for d in dirs {
        let mut stack = vec![d];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "md") {
                    let rel = p
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    files.push((rel, std::fs::read_to_string(&p).unwrap()));
                }
            }
        }
    }
    let names: Vec<(String, Vec<String>)> =
        files.iter().map(|(r, t)| brute_name(r, t, vault)).collect();
    let resolve = |t: &str| -> Option<usize> {
        let t = lower(t.trim_start_matches('/').trim_end_matches(".md"));
        if let Some(i) = names.iter().position(|(n, _)| lower(n) == t) {
            return Some(i);
        }
        if vault == Vault::Obsidian {
            let mut best: Option<usize> = None;
            for (i, (n, _)) in names.iter().enumerate() {
                let n = lower(n);
                let hit = if t.contains('/') {
                    n.ends_with(&format!("/{t}"))
                } else {
                    n.rsplit('/').next() == Some(t.as_str())
                };
                if hit && best.is_none_or(|b| names[b].0.len() > n.len()) {
                    best = Some(i);
                }
            }
            if best.is_some() {
                return best;
            }
        }
        names
            .iter()
            .position(|(_, aliases)| aliases.iter().any(|a| lower(a) == t))
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .map(|(r, _)| (r.clone(), BTreeSet::new()))
        .collect();
    // Logseq block ids (`id:: <uuid>`) and the files holding them: `((uuid))` links there.
    let mut block_ids: BTreeMap<String, usize> = BTreeMap::new();
    if vault == Vault::Logseq {
        for (i, (_, text)) in files.iter().enumerate() {
            for line in text.lines() {
                let l = line.trim().trim_start_matches("- ");
                if let Some(id) = l.strip_prefix("id:: ") {
                    block_ids.entry(id.trim().to_string()).or_insert(i);
                }
            }
        }
    }
    for (rel, text) in &files {
        for t in brute_targets(text, vault) {
            if let Some(i) = resolve(&t) {
                out.get_mut(&files[i].0).unwrap().insert(rel.clone());
            }
        }
        let visible = visible_text(text);
        for (id, &i) in &block_ids {
            if visible.contains(&format!("(({id}))")) {
                out.get_mut(&files[i].0).unwrap().insert(rel.clone());
            }
        }
    }
    out
}

fn check_vault(rel: &str, vault: Vault, min_linked: usize) {
    let Some(root) = data(rel) else { return };
    let d = tempfile::tempdir().unwrap();
    let store = RedbStore::open(d.path()).unwrap();
    let s = import(
        &store,
        std::slice::from_ref(&root),
        Format::Auto,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(s[0].skipped, 0, "{}", s[0]);
    let want = brute_backlinks(&root, vault);
    assert_eq!(s[0].pages, want.len() as u64, "every note is a page");
    let path_of = |page: PageId| -> String {
        store.blocks_of(page).unwrap()[0]
            .attr("path")
            .trim_start_matches('/')
            .to_string()
    };
    let mut linked = 0;
    let mut pages = store.pages(PageId(0), usize::MAX).unwrap();
    pages.retain(|p| !store.blocks_of(p.id).unwrap().is_empty());
    assert_eq!(pages.len(), want.len());
    for p in pages {
        let rel = path_of(p.id);
        let got: BTreeSet<String> = store
            .backlinks(&BacklinkQuery::new(LinkKind::Page, p.title.clone()))
            .unwrap()
            .iter()
            .map(|b| path_of(b.id))
            .collect();
        assert_eq!(&got, &want[&rel], "notes linking to {rel}");
        assert_eq!(
            store.count_backlinks(LinkKind::Page, &p.title).unwrap(),
            want[&rel].len() as u64
        );
        linked += usize::from(!got.is_empty());
    }
    assert!(linked >= min_linked, "{linked} notes have backlinks");
}

#[test]
fn silverbullet_vault_backlinks_equal_a_brute_force_count() {
    check_vault("silverbullet-docs/docs", Vault::Obsidian, 190);
    // And the ten most linked notes of PROVENANCE.md, counted there by another program.
    let Some(root) = data("silverbullet-docs") else {
        return;
    };
    let prov = std::fs::read_to_string(root.join("PROVENANCE.md")).unwrap();
    let want = brute_backlinks(&root.join("docs"), Vault::Obsidian);
    let mut checked = 0;
    for line in prov.lines() {
        // "  1. `Space Lua` — 39 / 53"
        let t = line.trim_start();
        if !(t.starts_with(|c: char| c.is_ascii_digit()) && t.contains(". `")) {
            continue;
        }
        let Some((name, counts)) = line.split_once('`').and_then(|(_, r)| r.split_once("` — "))
        else {
            continue;
        };
        let distinct: usize = counts.split(" / ").next().unwrap().trim().parse().unwrap();
        assert_eq!(want[&format!("{name}.md")].len(), distinct, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 10);
}

#[test]
fn dendron_vault_backlinks_equal_a_brute_force_count() {
    check_vault("dendron-site-vault/vault", Vault::Dendron, 500);
}

#[test]
fn logseq_graph_backlinks_equal_a_brute_force_count() {
    check_vault("logseq-docs-graph", Vault::Logseq, 150);
}

/// SQL dumps into an empty index go through the store's bulk loader; into a store without
/// one, through batches. Both answer every query alike.
#[test]
fn bulk_loaded_sql_answers_like_batches() {
    let d = tempfile::tempdir().unwrap();
    let g = inlink_import::demo_enwiki::write_sql(d.path(), "gen", 300, 3).unwrap();
    let loaded = RedbStore::open(d.path().join("index")).unwrap();
    assert!(
        loaded.bulk_loader().unwrap().is_some(),
        "an empty index loads in bulk"
    );
    import(&loaded, &g.files, Format::Auto, &Options::default()).unwrap();
    let batched = MemStore::new();
    assert!(batched.bulk_loader().unwrap().is_none());
    import(&batched, &g.files, Format::Auto, &Options::default()).unwrap();
    assert_eq!(loaded.stats().unwrap().pages, 300);
    inlink_store::conformance::assert_same_answers(&loaded, &batched, &[]);
    assert_eq!(loaded.verify(10).unwrap(), Vec::<String>::new());
}

/// A page parked for a template later in the dump is read again at the end, when every
/// page is known: a transclusion of a page that exists (its text not kept) is counted as
/// unexpanded, one of a missing page is a red link — alike in batches and in a bulk load,
/// which is asked which pages exist (and expands only the pages that ask it twice).
#[test]
fn parked_pages_see_every_page_in_batches_and_in_bulk() {
    let d = tempfile::tempdir().unwrap();
    let xml = d.path().join("parked.xml");
    std::fs::write(
        &xml,
        r#"<mediawiki><siteinfo><sitename>W</sitename></siteinfo>
<page><title>Earlier</title><ns>0</ns><id>1</id><revision><text>[[Somewhere]]</text></revision></page>
<page><title>Parked</title><ns>0</ns><id>2</id><revision><text>{{Later}} {{:Earlier}} {{:Nowhere}} [[Plain]]</text></revision></page>
<page><title>Parked too</title><ns>0</ns><id>5</id><revision><text>{{Later}} [[Other]]</text></revision></page>
<page><title>Template:Later</title><ns>10</ns><id>3</id><revision><text>[[From template]]</text></revision></page>
<page><title>Dup</title><ns>0</ns><id>4</id><revision><text>[[First try]]</text></revision></page>
<page><title>Dup</title><ns>0</ns><id>4</id><revision><text>#REDIRECT [[Second try]]</text></revision></page>
</mediawiki>"#,
    )
    .unwrap();
    let mut answers = Vec::new();
    for bulk_load in [true, false] {
        let store = RedbStore::open(d.path().join(format!("index-{bulk_load}"))).unwrap();
        let opts = Options {
            bulk_load,
            ..Options::default()
        };
        let s = import(&store, std::slice::from_ref(&xml), Format::Auto, &opts).unwrap();
        assert_eq!(s[0].deferred, 2, "{}", s[0]);
        let out = |id: u32, kind: LinkKind| -> Vec<String> {
            store
                .outgoing(PageId(id), kind)
                .unwrap()
                .into_iter()
                .map(|t| format!("{}:{}", t.ns, t.dbkey))
                .collect()
        };
        let parked = (out(2, LinkKind::Page), out(2, LinkKind::Template));
        assert_eq!(
            parked.0,
            ["0:From_template", "0:Nowhere", "0:Plain"],
            "bulk load: {bulk_load}"
        );
        assert_eq!(parked.1, ["0:Earlier", "0:Nowhere", "10:Later"]);
        // A parked page that asks about no page: a bulk load takes its first look's rows.
        assert_eq!(out(5, LinkKind::Page), ["0:From_template", "0:Other"]);
        assert_eq!(out(5, LinkKind::Template), ["10:Later"]);
        // The page's second row wins, with its redirect and without the first row's links.
        let dup = store.page(PageId(4)).unwrap().unwrap();
        assert!(dup.is_redirect);
        assert_eq!(out(4, LinkKind::Page), ["0:Second_try"]);
        answers.push((parked, store.stats().unwrap().links));
    }
    assert_eq!(answers[0], answers[1]);
}

/// Links are found on several threads and written in batches, or sorted by the bulk
/// loader into an empty index: neither the way nor the batch size changes a row, and a
/// summary counts every page once.
#[test]
fn xml_rows_do_not_depend_on_batches() {
    let d = tempfile::tempdir().unwrap();
    let (xml, _) = inlink_import::demo_enwiki::write_xml_bz2(d.path(), "gen", 3_000, 7).unwrap();
    let mut rows = Vec::new();
    for (bulk_load, batch_pages) in [(true, 10_000), (false, 10_000), (false, 7), (false, 1)] {
        let store =
            RedbStore::open(d.path().join(format!("index-{bulk_load}-{batch_pages}"))).unwrap();
        let opts = Options {
            batch_pages,
            bulk_load,
            ..Options::default()
        };
        let s = import(&store, std::slice::from_ref(&xml), Format::Auto, &opts).unwrap();
        let st = store.stats().unwrap();
        assert_eq!(s[0].pages, st.pages, "{}", s[0]);
        assert_eq!(s[0].links, st.links, "{}", s[0]);
        assert!(
            s[0].deferred > 0,
            "parked pages are part of the test: {}",
            s[0]
        );
        let mut all = Vec::new();
        for p in store.pages(PageId(0), usize::MAX).unwrap() {
            let links: Vec<_> = LinkKind::ALL
                .iter()
                .map(|&k| store.outgoing(p.id, k).unwrap())
                .collect();
            let redirect = store.redirect(p.id).unwrap();
            all.push((p, links, redirect));
        }
        rows.push(all);
    }
    assert!(rows[0].len() > 2_000);
    assert!(rows.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn enwiki_shaped_sql_dumps_import_exactly() {
    let d = tempfile::tempdir().unwrap();
    let g = inlink_import::demo_enwiki::write_sql(d.path(), "gen", 4_000, 11).unwrap();
    let store = RedbStore::open(d.path().join("index")).unwrap();
    import(&store, &g.files, Format::Auto, &Options::default()).unwrap();
    let st = store.stats().unwrap();
    assert_eq!(st.pages, g.pages);
    assert_eq!(st.redirects, g.redirects);
    assert_eq!(st.links[LinkKind::Page as usize], g.pagelinks);
    assert_eq!(st.links[LinkKind::Template as usize], g.templatelinks);
    let top = store.page(PageId(g.top_target.0 as u32)).unwrap().unwrap();
    assert_eq!(
        store.count_backlinks(LinkKind::Page, &top.title).unwrap(),
        g.top_target.1,
        "the most linked page"
    );
    // The same graph as a multistream XML dump with wikitext gives the same rows.
    let (xml, _) = inlink_import::demo_enwiki::write_xml_bz2(d.path(), "gen", 4_000, 11).unwrap();
    let from_xml = RedbStore::open(d.path().join("index-xml")).unwrap();
    import(&from_xml, &[xml], Format::Auto, &Options::default()).unwrap();
    let sx = from_xml.stats().unwrap();
    assert_eq!(
        (sx.pages, sx.redirects, sx.links),
        (st.pages, st.redirects, st.links),
        "XML and SQL of one graph"
    );
    assert_eq!(
        from_xml
            .count_backlinks(LinkKind::Page, &top.title)
            .unwrap(),
        g.top_target.1
    );
}
