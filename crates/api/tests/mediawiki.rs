//! The MediaWiki dialect against MediaWiki's own answers (golden files) and its error
//! catalogue, on the spec's fixture wiki.

use inlink_api::mediawiki::{Caller, MediaWiki};
use inlink_model::{LinkKind, NamespaceId, PageId, PageRecord, SiteInfo, Title};
use inlink_store::{Batch, LinkStore, MemStore, Op, PageUpdate, RedirectRow};
use proptest::prelude::*;
use std::sync::Arc;

fn page(
    id: u32,
    ns: NamespaceId,
    key: &str,
    redirect_to: Option<(NamespaceId, &str)>,
    links: &[(NamespaceId, &str)],
) -> Op {
    let mut all: Vec<(LinkKind, Title)> = links
        .iter()
        .map(|&(n, k)| (LinkKind::Page, Title::new(n, k)))
        .collect();
    if let Some((n, k)) = redirect_to {
        all.push((LinkKind::Page, Title::new(n, k)));
    }
    Op::Upsert(PageUpdate {
        page: PageRecord {
            id: PageId(id),
            title: Title::new(ns, key),
            is_redirect: redirect_to.is_some(),
        },
        links: all,
        redirect: redirect_to.map(|(n, k)| RedirectRow {
            target: Title::new(n, k),
            fragment: String::new(),
            interwiki: String::new(),
        }),
    })
}

/// The fixture of spec §15: the "Target" pages (ids 2–25) and the "Hub" pages (26–41).
fn fixture() -> Arc<dyn LinkStore> {
    let t = (0, "Target");
    let r1 = (0, "R1");
    let hub = (0, "Hub");
    let mut ops = vec![
        Op::SetSiteInfo(Box::new(SiteInfo::mediawiki_default("TestWiki"))),
        page(2, 0, "A1", None, &[t]),
        page(3, 1, "T1", None, &[t]),
        page(4, 0, "A2", None, &[t]),
        page(5, 2, "U1", None, &[t]),
        page(6, 0, "R1", Some(t), &[]),
        page(7, 0, "A3", None, &[t]),
        page(8, 0, "Target", None, &[]),
        page(9, 0, "L1", None, &[r1]),
        page(10, 1, "R3", Some(t), &[]),
        page(11, 0, "L2", None, &[r1]),
        page(12, 1, "L4", None, &[r1]),
        page(13, 0, "R2", Some(t), &[]),
        page(16, 0, "A5", None, &[t]),
        page(17, 0, "R4", Some(r1), &[]),
        page(18, 4, "P1", None, &[t]),
    ];
    for (i, id) in (20..=25).enumerate() {
        ops.push(page(id, 0, &format!("A{}", 7 + i), None, &[t]));
    }
    ops.extend([
        page(26, 0, "Hub", None, &[]),
        page(27, 0, "HR2", Some(hub), &[]),
        page(28, 0, "D1", None, &[hub]),
        page(29, 0, "X1", None, &[(0, "HR1")]),
        page(30, 0, "HR1", Some(hub), &[]),
        page(31, 0, "Y1", None, &[(0, "HR2")]),
        page(32, 1, "HR3", Some(hub), &[]),
        page(33, 0, "X2", None, &[(0, "HR1")]),
        page(34, 1, "Z2", None, &[(1, "HR3")]),
        page(35, 0, "D2", None, &[hub, (0, "HR1")]),
        page(36, 0, "Y2", None, &[(0, "HR2")]),
        page(37, 0, "Z1", None, &[(1, "HR3")]),
        page(38, 0, "X3", None, &[(0, "HR1")]),
        page(39, 1, "D3", None, &[hub]),
        page(40, 0, "Y3", None, &[(0, "HR2")]),
        page(41, 0, "X4", None, &[(0, "HR1")]),
    ]);
    // The embeddedin fixture (ids 42–55) with the templatelinks MediaWiki recorded (§12, §15).
    let stub = Title::new(10, "Stub");
    let one_stub = [stub.clone()];
    let uses = |id: u32, ns: NamespaceId, key: &str, templates: &[Title]| {
        Op::Upsert(PageUpdate {
            page: PageRecord {
                id: PageId(id),
                title: Title::new(ns, key),
                is_redirect: false,
            },
            links: templates
                .iter()
                .map(|t| (LinkKind::Template, t.clone()))
                .collect(),
            redirect: None,
        })
    };
    ops.extend([
        uses(42, 10, "Stub", &[]),
        page(43, 10, "StubRedirect", Some((10, "Stub")), &[]),
        uses(44, 10, "Outer", &one_stub),
        uses(45, 0, "E1", &one_stub),
        uses(46, 0, "E2", &one_stub),
        uses(47, 0, "E3", &one_stub),
        uses(48, 0, "E4", &[Title::new(10, "StubRedirect"), stub.clone()]),
        uses(49, 0, "E5", &[Title::new(10, "Outer"), stub.clone()]),
        uses(50, 0, "E6", &[Title::new(0, "Hub")]),
        uses(51, 0, "E7", &one_stub),
        uses(52, 1, "E8", &one_stub),
        uses(53, 0, "E9", &one_stub),
        uses(54, 0, "E10", &[]),
        uses(55, 0, "E11", &[]),
    ]);
    let store = MemStore::new();
    store.apply(&Batch { ops }).unwrap();
    Arc::new(store)
}

fn request(query: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![("action".into(), "query".into())];
    if !query.contains("list=") && !query.contains("generator=") && !query.contains("prop=") {
        v.push(("list".into(), "backlinks".into()));
    }
    v.push(("format".into(), "json".into()));
    v.extend(
        form_urlencoded::parse(query.replace('|', "%7C").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    v
}

#[test]
fn golden_backlinks() {
    let mw = MediaWiki::new(fixture(), "http://wiki.test").unwrap();
    let golden = include_str!("golden/backlinks.txt");
    let mut lines = golden
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let mut n = 0;
    let mut failures = Vec::new();
    while let Some(req) = lines.next() {
        let (bot, q) = match req.strip_prefix(">bot ") {
            Some(q) => (true, q),
            None => (false, req.strip_prefix("> ").expect("request line")),
        };
        let expected = lines.next().expect("response line");
        let resp = mw.handle(request(q), Caller { high_limits: bot });
        if resp.body != expected {
            failures.push(format!(
                "{q}\n  expected {expected}\n  got      {}",
                resp.body
            ));
        }
        let error = resp
            .headers
            .iter()
            .find(|(k, _)| *k == "MediaWiki-API-Error")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            error.is_some(),
            expected.starts_with("{\"error"),
            "{q}: MediaWiki-API-Error header ({})",
            resp.body
        );
        n += 1;
    }
    assert!(n >= 20);
    assert!(
        failures.is_empty(),
        "{} of {n} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn answer(q: &str) -> String {
    let mw = MediaWiki::new(fixture(), "http://wiki.test").unwrap();
    mw.handle(request(q), Caller::default()).body
}

fn code(q: &str) -> String {
    let body = answer(q);
    let start = body
        .find("\"code\":\"")
        .map(|i| i + 8)
        .unwrap_or_else(|| panic!("no error for {q}: {body}"));
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

#[test]
fn error_catalogue() {
    assert_eq!(code("bllimit=5"), "missingparam");
    assert!(answer("bllimit=5")
        .contains(r#""info":"One of the parameters \"bltitle\" and \"blpageid\" is required.""#));
    assert_eq!(code("bltitle=&blpageid=1"), "invalidparammix");
    assert_eq!(code("bltitle=wikipedia:Foo"), "invalidtitle");
    assert_eq!(code("bltitle=Talk:"), "invalidtitle");
    assert_eq!(code("blpageid=999"), "nosuchpageid");
    assert!(answer("blpageid=%2B999").contains("There is no page with ID 999."));
    for bad in ["", "1.5", "%202", "2abc", "MAX", "99999999999999999999"] {
        assert_eq!(
            code(&format!("bltitle=Hub&bllimit={bad}")),
            "badinteger",
            "{bad:?}"
        );
    }
    assert_eq!(code("blpageid=x"), "badinteger");
    assert_eq!(code("bltitle=Hub&bldir=up"), "badvalue");
    assert_eq!(code("bltitle=Hub&bldir=Descending"), "badvalue");
    assert_eq!(code("bltitle=Hub&blfilterredir=none"), "badvalue");
    assert_eq!(code("bltitle=%1FHub"), "badvalue");
    let many: Vec<String> = (0..51).map(|i| (i % 16).to_string()).collect();
    let body = answer(&format!("bltitle=Hub&blnamespace={}", many.join("|")));
    assert!(body.starts_with(r#"{"error":{"code":"toomanyvalues","info":"Too many values supplied for parameter \"blnamespace\". The limit is 50.","limit":50,"lowlimit":50,"highlimit":500,"*":"#), "{body}");
    for bad in [
        "",
        "1",
        "0|1|2",
        "0|1|2|3|4",
        "01|2",
        "+1|2",
        "0|1.0",
        "0|x",
        "0|1|2|3|4|5|6|7|8",
        "-0|1",
    ] {
        assert_eq!(
            code(&format!("bltitle=Hub&blcontinue={bad}")),
            "badcontinue",
            "{bad:?}"
        );
    }
    assert_eq!(code("bltitle=Hub&continue=x"), "badcontinue");
    assert_eq!(code("bltitle=Hub&action=foo"), "badvalue");
    assert_eq!(code("list=imageusage&iutitle=Hub"), "bad_image_title");
    assert!(answer("list=imageusage&iutitle=Hub")
        .contains(r#""info":"The title for \"imageusage\" must be a file.""#));
    assert_eq!(code("list=embeddedin&eilimit=5"), "missingparam");
    assert!(answer("list=embeddedin")
        .contains(r#"One of the parameters \"eititle\" and \"eipageid\" is required."#));
    assert_eq!(code("generator=backlinks&gbllimit=x"), "badinteger");
    assert!(answer("generator=backlinks&gbllimit=x").contains(r#"integer parameter \"gbllimit\"."#));
    assert_eq!(code("generator=nothing"), "badgenerator");
    // Writes answer as a read-only wiki.
    let mw = MediaWiki::new(fixture(), "http://wiki.test").unwrap();
    let edit = mw.handle(
        vec![
            ("action".into(), "edit".into()),
            ("title".into(), "Hub".into()),
            ("text".into(), "x".into()),
        ],
        Caller::default(),
    );
    assert!(edit.body.starts_with(r#"{"error":{"code":"readonly","info":"The wiki is currently in read-only mode.","readonlyreason":"#), "{}", edit.body);
    assert!(answer("meta=tokens&list=").contains(r#""tokens":{"csrftoken":"+\\"}"#));
}

#[test]
fn quirks() {
    // A presence flag is true whatever its value.
    for v in ["", "0", "false", "1"] {
        assert!(
            answer(&format!("bltitle=Hub&blredirect={v}")).contains("redirlinks"),
            "{v:?}"
        );
    }
    // Continuation part 0 is ignored without a multi-namespace filter.
    assert_eq!(
        answer("bltitle=Hub&blcontinue=5|30"),
        answer("bltitle=Hub&blcontinue=0|30")
    );
    // Limits: two warnings with blredirect, digit grouping, `max` gives `limits`.
    assert!(answer("bltitle=Hub&bllimit=600&blredirect").contains(r#"The value \"600\" for parameter \"bllimit\" must be between 1 and 500.\nThe value \"500\" for parameter \"bllimit\" must be between 1 and 250."#));
    let mw = MediaWiki::new(fixture(), "http://wiki.test").unwrap();
    let bot = mw
        .handle(
            request("bltitle=Hub&bllimit=6000&blredirect"),
            Caller { high_limits: true },
        )
        .body;
    assert!(bot.contains(r#"between 1 and 5,000.\nThe value \"5000\" for parameter \"bllimit\" must be between 1 and 2,500."#), "{bot}");
    assert!(answer("bltitle=Hub&bllimit=max&blredirect&blnamespace=99")
        .starts_with(r#"{"batchcomplete":"","warnings":{"backlinks":"#));
    assert!(answer("bltitle=Hub&bllimit=max&blredirect")
        .contains(r#""limits":{"backlinks":250},"query""#));
    // paraminfo describes every module served.
    for m in [
        "main",
        "query",
        "query+backlinks",
        "query+embeddedin",
        "query+imageusage",
        "query+linkshere",
        "query+links",
        "query+info",
        "query+siteinfo",
        "query+userinfo",
    ] {
        let body = answer(&format!(
            "action=paraminfo&modules={}&list=",
            m.replace('+', "%2B")
        ));
        assert!(body.contains(&format!(r#""path":"{m}""#)), "{m}: {body}");
        assert!(!body.contains(r#""missing""#), "{m}: {body}");
    }
    // Titles: case of the first letter, fragments, special pages.
    assert_eq!(answer("bltitle=hub#Section"), answer("bltitle=Hub"));
    assert!(answer("bltitle=Special:Foo").contains(r#""backlinks":[]"#));
    // embeddedin has no level 2: eiredirect is an unknown parameter, and the limit is not halved.
    let ei = answer("list=embeddedin&eititle=Template:Stub&eiredirect&eilimit=max");
    assert!(ei.starts_with(r#"{"warnings":{"main":{"*":"Unrecognized parameter: eiredirect."}},"batchcomplete":"","limits":{"embeddedin":500}"#), "{ei}");
    // A generator without results has no `query` key.
    assert_eq!(
        answer("generator=backlinks&gbltitle=Nothing"),
        r#"{"batchcomplete":""}"#
    );
    // Invalid UTF-8 in a query string is read as windows-1252, with the badutf8 warning.
    assert_eq!(inlink_api::mediawiki::decode_value(&[0xFF], true), "ÿ");
    assert_eq!(
        inlink_api::mediawiki::decode_value(&[0x80, b'x'], true),
        "€x"
    );
    assert_eq!(
        inlink_api::mediawiki::decode_value(&[0xFF], false),
        "\u{FFFD}"
    );
    assert_eq!(
        inlink_api::mediawiki::decode_value(b"a\x01b\tc", false),
        "a\u{FFFD}b\tc"
    );
    let raw = |k: &str, v: &[u8]| (k.to_string(), v.to_vec(), true);
    let r = MediaWiki::new(fixture(), "http://wiki.test")
        .unwrap()
        .handle_bytes(
            vec![
                raw("action", b"query"),
                raw("list", b"backlinks"),
                raw("format", b"json"),
                raw("bltitle", &[0xFF]),
            ],
            Caller::default(),
        );
    assert!(
        r.body.starts_with(r#"{"batchcomplete":"","warnings":{"backlinks":{"*":"The value passed for \"bltitle\" contains invalid or non-normalized data."#),
        "{}",
        r.body
    );
    // An unknown parameter alone puts warnings before batchcomplete.
    assert!(answer("bltitle=Hub&blfoo=1&blbar=2").starts_with(
        r#"{"warnings":{"main":{"*":"Unrecognized parameters: blfoo, blbar."}},"batchcomplete":"""#
    ));
}

proptest! {
    /// No combination of parameters makes the dialect panic; errors come with the header.
    #[test]
    fn random_parameters_never_panic(params in prop::collection::vec((
        prop::sample::select(vec!["bltitle", "blpageid", "blcontinue", "blnamespace", "bldir", "blfilterredir", "bllimit", "blredirect", "formatversion", "list", "action", "continue", "rawcontinue", "utf8", "blfoo"]),
        "[0-9|a-zA-Z:*#\\x1f -]{0,12}",
    ), 0..8)) {
        let mw = MediaWiki::new(fixture(), "http://wiki.test").unwrap();
        let mut raw: Vec<(String, String)> = vec![("action".into(), "query".into()), ("list".into(), "backlinks".into())];
        raw.extend(params.into_iter().map(|(k, v)| (k.to_string(), v)));
        let r = mw.handle(raw, Caller::default());
        prop_assert_eq!(r.status, 200);
        let framed = r.body.starts_with('{') && r.body.ends_with('}');
        prop_assert!(framed, "not a JSON object: {}", r.body);
        let is_error = r.body.starts_with("{\"error\"");
        prop_assert_eq!(is_error, r.headers.iter().any(|(k, _)| *k == "MediaWiki-API-Error"));
    }
}

/// `prop=linkshere` writes each row as text as the store hands it over: its items say what
/// `list=backlinks` says of the same rows (ids, titles escaped alike, redirect flags), in
/// both format versions, with and without `utf8`, for every `lhprop`.
#[test]
fn linkshere_items_match_backlinks_rows() {
    let store = MemStore::new();
    let hub = (0, "Hub");
    store
        .apply(&Batch {
            ops: vec![
                Op::SetSiteInfo(Box::new(SiteInfo::mediawiki_default("TestWiki"))),
                page(1, 0, "Hub", None, &[]),
                page(2, 0, "Łódź_1", None, &[hub]),
                page(3, 1, "Ä_talk", None, &[hub]),
                page(4, 0, "R", Some(hub), &[]),
                page(5, 0, "Q\"uote/slash", None, &[hub]),
                page(6, 4, "Über", None, &[hub]),
            ],
        })
        .unwrap();
    let mw = MediaWiki::new(Arc::new(store), "http://wiki.test").unwrap();
    let ask = |q: &str| mw.handle(request(q), Caller::default()).body;
    for extra in [
        "",
        "&utf8=1",
        "&formatversion=2",
        "&formatversion=2&ascii=1",
    ] {
        let fv2 = extra.contains("formatversion=2");
        let bl = ask(&format!("list=backlinks&bltitle=Hub&bllimit=500{extra}"));
        let rows: serde_json::Value = serde_json::from_str(&bl).unwrap();
        let rows = rows["query"]["backlinks"].as_array().unwrap().clone();
        assert_eq!(rows.len(), 5, "{bl}");
        for props in [
            "pageid|title|redirect",
            "pageid",
            "title",
            "redirect",
            "",
            "bogus",
        ] {
            let body = ask(&format!(
                "prop=linkshere&titles=Hub&lhlimit=500&lhprop={props}{extra}"
            ));
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let pages = &v["query"]["pages"];
            let page = if fv2 { &pages[0] } else { &pages["1"] };
            let items = page["linkshere"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"));
            let want: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut o = serde_json::Map::new();
                    if props.contains("pageid") {
                        o.insert("pageid".into(), r["pageid"].clone());
                    }
                    if props.contains("title") {
                        o.insert("ns".into(), r["ns"].clone());
                        o.insert("title".into(), r["title"].clone());
                    }
                    let redirect = !r["redirect"].is_null();
                    if props.contains("redirect") {
                        if fv2 {
                            o.insert("redirect".into(), serde_json::Value::Bool(redirect));
                        } else if redirect {
                            o.insert("redirect".into(), "".into());
                        }
                    }
                    if o.is_empty() {
                        serde_json::Value::Array(Vec::new())
                    } else {
                        serde_json::Value::Object(o)
                    }
                })
                .collect();
            assert_eq!(items, &want, "lhprop={props}{extra}: {body}");
            if props.contains("title") {
                // Escaped byte for byte as list=backlinks escapes them.
                for r in &rows {
                    let row = &bl[bl.find(&format!("\"pageid\":{}", r["pageid"])).unwrap()..];
                    let raw = string_literal(&row[row.find("\"title\":").unwrap() + 8..]);
                    assert!(
                        body.contains(&format!("\"title\":{raw}")),
                        "{raw} in {body}"
                    );
                }
            }
        }
    }
}

/// The JSON string literal `s` starts with, quotes included.
fn string_literal(s: &str) -> &str {
    let b = s.as_bytes();
    assert_eq!(b[0], b'"');
    let mut i = 1;
    while b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    &s[..=i]
}
