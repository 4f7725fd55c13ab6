//! The router under random requests: whatever a client sends, no panic and no 5xx.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use inlink_model::SiteInfo;
use inlink_server::{router, AppState, Config};
use inlink_store::{Batch, LinkStore, MemStore, Op};
use proptest::prelude::*;
use std::sync::Arc;
use tower::ServiceExt;

fn app() -> axum::Router {
    let store = MemStore::new();
    let mut b = Batch::new();
    b.push(Op::SetSiteInfo(Box::new(SiteInfo::mediawiki_default("W"))));
    b.push(inlink_store::conformance::upsert(1, 0, "Hub", &[]));
    b.push(inlink_store::conformance::upsert(2, 0, "A", &[(0, "Hub")]));
    store.apply(&b).unwrap();
    let store: Arc<dyn LinkStore> = Arc::new(store);
    router(
        AppState::new(
            store,
            Config::new("127.0.0.1:0", Some("s3cret".into())),
            "http://test",
        )
        .unwrap(),
    )
}

fn param() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "action",
            "list",
            "prop",
            "meta",
            "generator",
            "titles",
            "pageids",
            "bltitle",
            "blpageid",
            "blnamespace",
            "bllimit",
            "blcontinue",
            "blredirect",
            "bldir",
            "gbltitle",
            "lhlimit",
            "lhcontinue",
            "eititle",
            "iutitle",
            "format",
            "formatversion",
            "errorformat",
            "callback",
            "continue",
            "rawcontinue",
            "modules",
            "siprop",
            "x",
        ]),
        prop::sample::select(vec![
            "query",
            "backlinks",
            "embeddedin",
            "imageusage",
            "linkshere",
            "links",
            "info",
            "siteinfo",
            "userinfo",
            "paraminfo",
            "Hub",
            "A|Hub",
            "*",
            "max",
            "0",
            "-1",
            "99999999999999999999",
            "0|1",
            "0|1|0|Hub|0|2",
            "%FF",
            "%00",
            "%1F",
            "",
            "2",
            "plaintext",
            "edit",
            "a%7Cb",
            "%E2%82%AC",
            "Foo[bar",
        ]),
    )
        .prop_map(|(k, v)| format!("{k}={v}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn no_request_panics_or_fails(
        path in prop::sample::select(vec!["/w/api.php", "/api.php", "/healthz", "/nope", "/w/api.php/x", "/v1/batch", "/metrics", "/api/ref/getBacklink2"]),
        post in any::<bool>(),
        params in prop::collection::vec(param(), 0..8),
        content_type in prop::sample::select(vec!["application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "text/plain", ""]),
        body in prop::collection::vec(any::<u8>(), 0..64),
        bearer in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let query = params.join("&");
        let mut req = Request::builder().uri(format!("{path}?{query}")).method(if post { "POST" } else { "GET" });
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        if bearer {
            req = req.header("authorization", "Bearer s3cret");
        }
        let req = req.body(Body::from(body)).unwrap();
        let resp = rt.block_on(app().oneshot(req)).unwrap();
        prop_assert!(resp.status() != StatusCode::INTERNAL_SERVER_ERROR, "{path}?{query}");
        prop_assert!(!resp.status().is_server_error(), "{path}?{query}");
    }
}
