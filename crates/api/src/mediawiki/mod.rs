//! The MediaWiki Action API dialect (`api.php`), byte-compatible with MediaWiki 1.39.
//! `docs/api-mediawiki.md` lists what is served and the quirks kept on purpose.
//!
//! Everything MediaWiki-specific about requests and responses lives here: parameter
//! decoding and validation, the result envelope (warnings, continuation, key order), the
//! bc error format; the modules (`backlinks`) only ask the store and fill the result.

mod backlinks;
mod params;
mod result;

use crate::json::{Json, Obj};
use crate::Response;
use inlink_model::{SiteInfo, TitleCodec};
use inlink_store::LinkStore;
use params::Params;
use result::{ApiError, ApiResult};
use std::sync::Arc;

/// Who is asking: bots (a valid token) get `apihighlimits`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller {
    pub high_limits: bool,
}

/// The dialect, bound to one index.
pub struct MediaWiki {
    store: Arc<dyn LinkStore>,
    codec: TitleCodec,
    /// `$wgServer$wgScriptPath`, for the doc reference in errors.
    base_url: String,
}

impl MediaWiki {
    pub fn new(
        store: Arc<dyn LinkStore>,
        base_url: impl Into<String>,
    ) -> Result<Self, inlink_store::StoreError> {
        let site = store
            .site_info()?
            .unwrap_or_else(|| SiteInfo::mediawiki_default("Wiki"));
        Ok(MediaWiki {
            store,
            codec: TitleCodec::new(site),
            base_url: base_url.into(),
        })
    }

    pub fn codec(&self) -> &TitleCodec {
        &self.codec
    }

    /// Answers one request. `raw` are the decoded query-string or form pairs, in order.
    pub fn handle(&self, raw: Vec<(String, String)>, caller: Caller) -> Response {
        let mut p = Params::new(raw);
        let fv2 = matches!(
            p.get("formatversion").as_deref(),
            Some("2") | Some("latest")
        );
        let ascii = if fv2 { p.has("ascii") } else { !p.has("utf8") };
        p.get("format");
        p.get("maxlag");
        p.get("errorformat");
        let mut res = ApiResult::new(fv2);
        let outcome = self.run(&mut p, &mut res, caller);
        let mut headers = vec![(
            "Content-Type",
            "application/json; charset=utf-8".to_string(),
        )];
        let body = match outcome {
            Ok(()) => {
                let unknown = p.unused();
                if !unknown.is_empty() {
                    let s = if unknown.len() == 1 { "" } else { "s" };
                    res.warn_main(&format!(
                        "Unrecognized parameter{s}: {}.",
                        unknown.join(", ")
                    ));
                }
                res.finish()
            }
            Err(e) => {
                headers.push(("MediaWiki-API-Error", e.code.to_string()));
                res.error(e, &self.docref())
            }
        };
        Response {
            status: 200,
            headers,
            body: body.to_string(ascii),
        }
    }

    fn docref(&self) -> String {
        format!(
            "See {}/api.php for API usage. Subscribe to the mediawiki-api-announce mailing list at &lt;https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce.lists.wikimedia.org/&gt; for notice of API deprecations and breaking changes.",
            self.base_url
        )
    }

    fn run(&self, p: &mut Params, res: &mut ApiResult, caller: Caller) -> Result<(), ApiError> {
        let action = p.single("action")?;
        match action.as_deref() {
            Some("query") => {}
            Some(other) => {
                return Err(ApiError::new(
                    "badvalue",
                    format!("Unrecognized value for parameter \"action\": {other}."),
                ))
            }
            None => {
                return Err(ApiError::new(
                    "badvalue",
                    "Unrecognized value for parameter \"action\": .".to_string(),
                ))
            }
        }
        let rawcontinue = p.has("rawcontinue");
        if let Some(c) = p.single("continue")? {
            if !c.is_empty() && c.split("||").count() != 2 {
                return Err(ApiError::badcontinue());
            }
        }
        let lists = p.multi("list")?;
        let mut unknown = Vec::new();
        let mut query = Obj::new();
        let mut continuation: Vec<(String, String)> = Vec::new();
        let mut finished: Vec<&str> = Vec::new();
        for l in &lists {
            match l.as_str() {
                "backlinks" => {
                    let out = backlinks::run(self, p, res, caller)?;
                    query.push("backlinks", Json::Arr(out.items));
                    match out.cont {
                        Some(c) => continuation.push(("blcontinue".into(), c)),
                        None => finished.push("backlinks"),
                    }
                }
                other => unknown.push(other.to_string()),
            }
        }
        if !unknown.is_empty() {
            let s = if unknown.len() == 1 { "" } else { "s" };
            res.warn(
                "query",
                &format!(
                    "Unrecognized value{s} for parameter \"list\": {}",
                    unknown.join(", ")
                ),
            );
        }
        res.set_query(query);
        if rawcontinue {
            if !continuation.is_empty() {
                let mut inner = Obj::new();
                for (k, v) in continuation {
                    inner.push(&k, Json::Str(v));
                }
                let mut qc = Obj::new();
                qc.push("backlinks", Json::Obj(inner));
                res.prepend("query-continue", Json::Obj(qc));
            }
        } else {
            if !continuation.is_empty() {
                let mut c = Obj::new();
                for (k, v) in continuation {
                    c.push(&k, Json::Str(v));
                }
                // Lists that finished are named only while another one continues.
                let done: Vec<&str> = lists
                    .iter()
                    .map(String::as_str)
                    .filter(|l| finished.contains(l))
                    .collect();
                c.push("continue", Json::Str(format!("-||{}", done.join("|"))));
                res.prepend("continue", Json::Obj(c));
            }
            res.batchcomplete();
        }
        Ok(())
    }
}

/// English digit grouping, as MediaWiki formats numbers in messages (`5,000`).
pub(crate) fn format_num(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}
