//! The MediaWiki Action API dialect (`api.php`), byte-compatible with MediaWiki 1.39.
//! `docs/api-mediawiki.md` lists what is served and the quirks kept on purpose.
//!
//! Everything MediaWiki-specific about requests and responses lives here: parameter
//! decoding and validation, the result envelope (warnings, continuation, key order), the
//! bc error format; the modules (`backlinks`) only ask the store and fill the result.

mod backlinks;
mod links;
mod linkshere;
mod pageset;
mod paraminfo;
mod params;

pub use params::decode_value;
mod result;

use crate::json::{Json, Obj};
use crate::Response;
use inlink_model::{SiteInfo, TitleCodec};
use inlink_store::LinkStore;
use params::Params;
use result::{ApiError, ApiResult};
use std::sync::Arc;

/// Modules that change the wiki: inlink's index is read-only through this API, so they
/// answer as a read-only MediaWiki does.
const WRITE_ACTIONS: &[&str] = &[
    "block",
    "changecontentmodel",
    "createaccount",
    "delete",
    "edit",
    "filerevert",
    "import",
    "managetags",
    "mergehistory",
    "move",
    "options",
    "patrol",
    "protect",
    "purge",
    "revisiondelete",
    "rollback",
    "setpagelanguage",
    "stashedit",
    "tag",
    "unblock",
    "undelete",
    "upload",
    "userrights",
    "watch",
];

const READ_ONLY_REASON: &str = "inlink serves a read-only index of links.";

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
        self.answer(Params::new(raw), caller)
    }

    /// Answers a request whose values are raw bytes after percent-decoding, each flagged
    /// when it came from the query string (MediaWiki then reads invalid UTF-8 as the content
    /// language's legacy encoding).
    pub fn handle_bytes(&self, raw: Vec<(String, Vec<u8>, bool)>, caller: Caller) -> Response {
        self.answer(Params::from_bytes(raw), caller)
    }

    fn answer(&self, mut p: Params, mut caller: Caller) -> Response {
        let fv2 = matches!(
            p.get("formatversion").as_deref(),
            Some("2") | Some("latest")
        );
        let ascii = if fv2 { p.has("ascii") } else { !p.has("utf8") };
        p.get("format");
        p.get("maxlag");
        let format = match p.get("errorformat").as_deref() {
            Some("plaintext" | "raw") => result::ErrorFormat::Plain,
            Some("wikitext") => result::ErrorFormat::Wikitext,
            Some("html") => result::ErrorFormat::Html,
            Some("none") => result::ErrorFormat::None,
            _ => result::ErrorFormat::Bc,
        };
        // JSONP: the callback name keeps only `][.'"_A-Za-z0-9`, and the request is served as
        // anonymous (no credentials cross origins), as in MediaWiki.
        let callback = p.get("callback").map(|c| {
            c.chars()
                .filter(|c| c.is_ascii_alphanumeric() || "][.'\"_".contains(*c))
                .collect::<String>()
        });
        if callback.is_some() {
            caller.high_limits = false;
        }
        // No action: MediaWiki's default module is `help`, an HTML page.
        if p.values_of("action").is_none() {
            let name = &self.codec.site().sitename;
            let body = format!(
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"UTF-8\"/><title>MediaWiki API help - {name}</title></head><body><h1>MediaWiki API help</h1><p>This is an inlink server speaking the MediaWiki Action API. See <a href=\"https://www.mediawiki.org/wiki/API:Main_page\">the API documentation</a>; this server answers <code>action=query</code> with <code>list=backlinks|embeddedin|imageusage</code>, <code>prop=linkshere|links|info</code>, <code>meta=siteinfo|userinfo</code>, and <code>action=paraminfo</code>.</p></body></html>\n"
            );
            return Response {
                status: 200,
                headers: vec![("Content-Type", "text/html; charset=utf-8".to_string())],
                body,
            };
        }
        let mut res = ApiResult::new(fv2, ascii);
        res.set_format(format);
        let outcome = self.run(&mut p, &mut res, caller);
        let content_type = if callback.is_some() {
            "text/javascript; charset=utf-8"
        } else {
            "application/json; charset=utf-8"
        };
        let mut headers = vec![("Content-Type", content_type.to_string())];
        if callback.is_some() {
            headers.push(("MediaWiki-Login-Suppressed", "true".to_string()));
        }
        let body = match outcome {
            Ok(()) => {
                let unknown = p.unused();
                if !unknown.is_empty() {
                    let s = if unknown.len() == 1 { "" } else { "s" };
                    let text = format!("Unrecognized parameter{s}: {}.", unknown.join(", "));
                    res.warn_with("main", "unrecognizedparams", &text, None);
                }
                res.finish()
            }
            Err(e) => {
                headers.push(("MediaWiki-API-Error", e.code.to_string()));
                res.error(e, &self.docref())
            }
        };
        let json = body.to_string(ascii);
        let body = match callback {
            Some(cb) => format!("/**/{cb}({json})"),
            None => json,
        };
        Response {
            status: 200,
            headers,
            body,
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
            Some("paraminfo") => {
                self.paraminfo(p, res);
                return Ok(());
            }
            Some(write) if WRITE_ACTIONS.contains(&write) => {
                let mut e = ApiError::new(
                    "readonly",
                    "The wiki is currently in read-only mode.".into(),
                );
                e.extra = vec![("readonlyreason", Json::str(READ_ONLY_REASON))];
                return Err(e);
            }
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
        self.query(p, res, caller).map_err(|e| e.in_module("query"))
    }

    /// `action=query`: the page set, list, prop and meta modules, and the envelope.
    fn query(&self, p: &mut Params, res: &mut ApiResult, caller: Caller) -> Result<(), ApiError> {
        let rawcontinue = p.has("rawcontinue");
        // `continue` = "<generator part>||<finished modules>": those are skipped now.
        let mut skip: Vec<String> = Vec::new();
        if let Some(c) = p.single("continue")? {
            if !c.is_empty() {
                let parts: Vec<&str> = c.split("||").collect();
                if parts.len() != 2 {
                    return Err(ApiError::badcontinue());
                }
                skip = parts[1]
                    .split('|')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
            }
        }
        let module_of = |name: &str| match name {
            "backlinks" => Some(&backlinks::BACKLINKS),
            "embeddedin" => Some(&backlinks::EMBEDDEDIN),
            "imageusage" => Some(&backlinks::IMAGEUSAGE),
            _ => None,
        };
        let generator = p.single("generator")?;
        let gen_module = match generator.as_deref() {
            None => None,
            Some(g) => match module_of(g) {
                Some(m) => Some(m),
                None => {
                    return Err(ApiError::new(
                        "badgenerator",
                        format!("Unknown <kbd>generator={g}</kbd>."),
                    ))
                }
            },
        };
        let lists = p.multi("list")?;
        let metas = p.multi("meta")?;
        let props = p.multi("prop")?;
        let mut unknown: Vec<(&str, String)> = Vec::new();
        let mut query = Obj::new();
        // (module name, parameter, value) of every module with more to give.
        let mut continuation: Vec<(&str, String, String)> = Vec::new();
        let mut finished: Vec<&str> = Vec::new();
        let mut gen_cont = None;
        let mut gen_pages = Vec::new();
        if let Some(m) = gen_module {
            let out = backlinks::run(self, m, true, p, res, caller)
                .map_err(|e| e.in_module(&format!("query+{}", m.name)))?;
            gen_pages = out.pages;
            gen_cont = out.cont.map(|c| (format!("g{}continue", m.prefix), c));
        }
        for prop in &props {
            // Properties inlink has no data for are accepted and add nothing.
            match prop.as_str() {
                "info" => p.use_prefix("in"),
                "imageinfo" => p.use_prefix("ii"),
                "categoryinfo" => p.use_prefix("ci"),
                "revisions" => p.use_prefix("rv"),
                "pageprops" => p.use_prefix("pp"),
                "linkshere" | "links" => {}
                _ => unknown.push(("prop", prop.clone())),
            }
        }
        let set = self.page_set(p, caller, gen_pages)?;
        // Prop modules that add to each page, in the order asked for.
        let mut prop_outs: Vec<(&'static str, &'static str, links::PropOut)> = Vec::new();
        for prop in &props {
            match prop.as_str() {
                "linkshere" => {
                    let out = self
                        .linkshere(&set, p, res, caller)
                        .map_err(|e| e.in_module("query+linkshere"))?;
                    prop_outs.push(("linkshere", "lhcontinue", out));
                }
                "links" => {
                    let out = self
                        .links(&set, p, res, caller)
                        .map_err(|e| e.in_module("query+links"))?;
                    prop_outs.push(("links", "plcontinue", out));
                }
                _ => {}
            }
        }
        let mut extra: Vec<(
            &'static str,
            std::collections::HashMap<inlink_model::Title, Vec<Json>>,
        )> = prop_outs
            .iter_mut()
            .map(|(name, _, out)| (*name, std::mem::take(&mut out.rows)))
            .collect();
        self.output_page_set(set, p, res, &mut query, &mut extra);
        for l in &lists {
            if skip.contains(l) {
                // Finished in an earlier batch: stays finished for the client, and its
                // parameters are not "unrecognized".
                if let Some(m) = module_of(l) {
                    p.use_prefix(m.prefix);
                    finished.push(m.name);
                }
                continue;
            }
            match module_of(l) {
                Some(m) => {
                    let out = backlinks::run(self, m, false, p, res, caller)
                        .map_err(|e| e.in_module(&format!("query+{}", m.name)))?;
                    query.push(m.name, out.items);
                    match out.cont {
                        Some(c) => continuation.push((m.name, format!("{}continue", m.prefix), c)),
                        None => finished.push(m.name),
                    }
                }
                None => unknown.push(("list", l.to_string())),
            }
        }
        for meta in &metas {
            match meta.as_str() {
                "siteinfo" => self.siteinfo(p, res, &mut query)?,
                "tokens" => {
                    // Tokens of an anonymous session; every write answers `readonly` anyway.
                    let mut t = Obj::new();
                    for ty in p
                        .multi("type")?
                        .into_iter()
                        .chain(std::iter::once("csrf".to_string()))
                        .collect::<std::collections::BTreeSet<_>>()
                    {
                        t.push(format!("{ty}token"), Json::str("+\\"));
                    }
                    query.push("tokens", Json::Obj(t));
                }
                "userinfo" => {
                    p.use_prefix("ui");
                    let ui = self.userinfo(p, res, caller);
                    query.push("userinfo", ui);
                }
                other => unknown.push(("meta", other.to_string())),
            }
        }
        for param in ["prop", "list", "meta"] {
            let values: Vec<&str> = unknown
                .iter()
                .filter(|(k, _)| *k == param)
                .map(|(_, v)| v.as_str())
                .collect();
            if !values.is_empty() {
                let s = if values.len() == 1 { "" } else { "s" };
                let list: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                res.warn_with(
                    "query",
                    "unrecognizedvalues",
                    &format!(
                        "Unrecognized value{s} for parameter \"{param}\": {}",
                        values.join(", ")
                    ),
                    backlinks::values_data(&list),
                );
            }
        }
        // Nothing to report (a generator that yields nothing, only unknown modules): no
        // `query` key at all.
        if !query.0.is_empty() {
            res.set_query(query);
        }
        // A prop module reads its limit after `query` exists, so its `limits` comes after it.
        let mut limits = Obj::new();
        for (name, _, out) in &prop_outs {
            if let Some(n) = out.limits {
                limits.push(*name, Json::Int(n));
            }
        }
        if !limits.0.is_empty() {
            res.push("limits", Json::Obj(limits));
        }
        let mut prop_cont = None;
        for (name, key, out) in prop_outs {
            if let Some(v) = out.cont {
                continuation.push((name, key.to_string(), v.clone()));
                prop_cont = Some(v);
            }
        }
        if rawcontinue {
            let mut qc = Obj::new();
            let generator_row = gen_module
                .zip(gen_cont.clone())
                .map(|(m, (k, v))| (m.name, k, v));
            for (module, k, v) in continuation.iter().cloned().chain(generator_row) {
                let mut inner = Obj::new();
                inner.push(k, Json::Str(v));
                qc.push(module, Json::Obj(inner));
            }
            if !qc.0.is_empty() {
                res.prepend("query-continue", Json::Obj(qc));
            }
        } else {
            if !continuation.is_empty() || gen_cont.is_some() {
                let mut c = Obj::new();
                for (_, k, v) in &continuation {
                    c.push(k.clone(), Json::Str(v.clone()));
                }
                let gen_part = match &gen_cont {
                    Some((k, v)) => {
                        c.push(k.clone(), Json::Str(v.clone()));
                        k.clone()
                    }
                    // While a prop module continues, the generator part is not "done".
                    None if prop_cont.is_some() => String::new(),
                    None => "-".to_string(),
                };
                // Lists that finished are named only while another module continues.
                let done: Vec<&str> = lists
                    .iter()
                    .map(String::as_str)
                    .filter(|l| finished.contains(l))
                    .collect();
                c.push(
                    "continue",
                    Json::Str(format!("{gen_part}||{}", done.join("|"))),
                );
                res.prepend("continue", Json::Obj(c));
            }
            // Pages whose prop data continues are not complete.
            if prop_cont.is_none() {
                res.batchcomplete();
            }
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
