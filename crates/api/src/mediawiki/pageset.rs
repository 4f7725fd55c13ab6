//! The page set of `action=query` (`titles=`, `pageids=`, or a generator), `redirects=`
//! resolution, and what `prop=info` and `meta=siteinfo|userinfo` say about them.
//!
//! Fields inlink does not keep (revision ids, touch times, lengths) are left out rather than
//! invented; clients read them as optional.

use super::result::{store_err, ApiError, ApiResult};
use super::{params::parse_int, Caller, MediaWiki, Params};
use crate::json::{Json, Obj};
use inlink_model::{PageId, PageRecord, Title, NS_MEDIA, NS_SPECIAL};

/// One member of the page set.
pub(crate) enum Member {
    Page(PageRecord),
    Missing(Title),
    MissingId(i64),
    Special(Title),
    Invalid { title: String, reason: String },
}

pub(crate) struct PageSet {
    pub members: Vec<Member>,
    pub normalized: Vec<(String, String)>,
    pub redirects: Vec<(String, String, String)>,
}

impl PageSet {
    /// The existing pages of the set, in set order.
    pub fn pages(&self) -> Vec<PageRecord> {
        self.members
            .iter()
            .filter_map(|m| {
                if let Member::Page(pg) = m {
                    Some(pg.clone())
                } else {
                    None
                }
            })
            .collect()
    }
}

impl MediaWiki {
    pub(crate) fn page_set(
        &self,
        p: &mut Params,
        caller: Caller,
        generated: Vec<PageRecord>,
    ) -> Result<PageSet, ApiError> {
        let max = if caller.high_limits { 500 } else { 50 };
        let mut set = PageSet {
            members: Vec::new(),
            normalized: Vec::new(),
            redirects: Vec::new(),
        };
        for (name, values) in [
            ("titles", p.multi("titles")?),
            ("pageids", p.multi("pageids")?),
        ] {
            if values.len() > max {
                let mut e = ApiError::new(
                    "toomanyvalues",
                    format!(
                        "Too many values supplied for parameter \"{name}\". The limit is {max}."
                    ),
                );
                e.extra = vec![
                    ("limit", Json::Int(max as i64)),
                    ("lowlimit", Json::Int(50)),
                    ("highlimit", Json::Int(500)),
                ];
                return Err(e);
            }
        }
        for raw in p.multi("titles")? {
            match self.codec.parse(&raw, 0) {
                Ok(t) if t.is_local() => {
                    let title = t.title();
                    let full = self.codec.full_text(&title);
                    if full != raw {
                        set.normalized.push((raw.clone(), full));
                    }
                    if title.ns == NS_SPECIAL || title.ns == NS_MEDIA {
                        set.members.push(Member::Special(title));
                    } else {
                        match self.store.page_by_title(&title).map_err(store_err)? {
                            Some(pg) => set.members.push(Member::Page(pg)),
                            None => set.members.push(Member::Missing(title)),
                        }
                    }
                }
                Ok(_) => set.members.push(Member::Invalid {
                    title: raw,
                    reason: "Interwiki titles are not served by this wiki.".into(),
                }),
                Err(e) => set.members.push(Member::Invalid {
                    reason: invalid_reason(&e),
                    title: raw,
                }),
            }
        }
        // Pages found by title come back from the database in (namespace, title) order.
        let mut found = set.pages();
        found.sort_by(|a, b| a.title.cmp(&b.title));
        let mut found = found.into_iter();
        for m in &mut set.members {
            if let Member::Page(pg) = m {
                *pg = found.next().expect("as many pages as were collected");
            }
        }
        for raw in p.multi("pageids")? {
            let Some(id) = parse_int(&raw) else {
                return Err(ApiError::new(
                    "badinteger",
                    format!("Invalid value \"{raw}\" for integer parameter \"pageids\"."),
                ));
            };
            match u32::try_from(id)
                .ok()
                .map(|i| self.store.page(PageId(i)))
                .transpose()
                .map_err(store_err)?
                .flatten()
            {
                Some(pg) => set.members.push(Member::Page(pg)),
                None => set.members.push(Member::MissingId(id)),
            }
        }
        set.members.extend(generated.into_iter().map(Member::Page));
        if p.has("redirects") {
            for m in &mut set.members {
                let Member::Page(pg) = m else { continue };
                if !pg.is_redirect {
                    continue;
                }
                let Some(r) = self.store.redirect(pg.id).map_err(store_err)? else {
                    continue;
                };
                if !r.interwiki.is_empty() {
                    continue;
                }
                set.redirects.push((
                    self.codec.full_text(&pg.title),
                    self.codec.full_text(&r.target),
                    r.fragment.clone(),
                ));
                *m = match self.store.page_by_title(&r.target).map_err(store_err)? {
                    Some(t) => Member::Page(t),
                    None => Member::Missing(r.target),
                };
            }
        }
        Ok(set)
    }

    /// Writes `normalized`, `redirects`, `pageids` and `pages` into `query`.
    pub(crate) fn output_page_set(
        &self,
        set: PageSet,
        p: &mut Params,
        res: &ApiResult,
        query: &mut Obj,
        extra: &mut [(&'static str, std::collections::HashMap<Title, Vec<Json>>)],
    ) {
        if set.members.is_empty() {
            return;
        }
        let props = p.multi("prop").unwrap_or_default();
        let info = props.iter().any(|x| x == "info");
        let inprop = p.multi("inprop").unwrap_or_default();
        let protection = info && inprop.iter().any(|x| x == "protection");
        let flag = res.flag();
        if !set.normalized.is_empty() {
            let list = set
                .normalized
                .iter()
                .map(|(from, to)| {
                    let mut o = Obj::new();
                    if res.fv2() {
                        o.push("fromencoded", Json::Bool(false));
                    }
                    o.push("from", Json::str(from)).push("to", Json::str(to));
                    Json::Obj(o)
                })
                .collect();
            query.push("normalized", Json::Arr(list));
        }
        if !set.redirects.is_empty() {
            let list = set
                .redirects
                .iter()
                .map(|(from, to, frag)| {
                    let mut o = Obj::new();
                    o.push("from", Json::str(from)).push("to", Json::str(to));
                    if !frag.is_empty() {
                        o.push("tofragment", Json::str(frag));
                    }
                    Json::Obj(o)
                })
                .collect();
            query.push("redirects", Json::Arr(list));
        }
        let lang = self.codec.site().lang.clone();
        // Fake ids as MediaWiki hands them out: invalid titles first, then special pages,
        // then missing pages, each group in request order.
        let mut fake_ids = vec![0i64; set.members.len()];
        let mut next = 0i64;
        for group in 0..3 {
            for (i, m) in set.members.iter().enumerate() {
                let g = match m {
                    Member::Invalid { .. } => 0,
                    Member::Special(_) => 1,
                    Member::Missing(_) => 2,
                    _ => continue,
                };
                if g == group {
                    next -= 1;
                    fake_ids[i] = next;
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        // MediaWiki lists missing pages, then invalid ones, then special ones, then the rest.
        let mut missing: Vec<(i64, Obj)> = Vec::new();
        let mut invalid: Vec<(i64, Obj)> = Vec::new();
        let mut special: Vec<(i64, Obj)> = Vec::new();
        let mut existing: Vec<(i64, Obj)> = Vec::new();
        for (m, fake_id) in set.members.into_iter().zip(fake_ids) {
            let mut o = Obj::new();
            let title = match &m {
                Member::Page(pg) => {
                    if !seen.insert(pg.id) {
                        continue;
                    }
                    o.push("pageid", Json::Int(pg.id.0 as i64))
                        .push("ns", Json::Int(pg.title.ns as i64))
                        .push("title", Json::Str(self.codec.full_text(&pg.title)));
                    Some(pg.title.clone())
                }
                Member::Missing(t) | Member::Special(t) => {
                    o.push("ns", Json::Int(t.ns as i64))
                        .push("title", Json::Str(self.codec.full_text(t)));
                    if matches!(m, Member::Special(_)) {
                        o.push("special", flag.clone());
                    }
                    o.push("missing", flag.clone());
                    Some(t.clone())
                }
                Member::MissingId(id) => {
                    o.push("pageid", Json::Int(*id))
                        .push("missing", flag.clone());
                    None
                }
                Member::Invalid { title, reason } => {
                    o.push("title", Json::str(title))
                        .push("invalidreason", Json::str(reason))
                        .push("invalid", flag.clone());
                    None
                }
            };
            if info && title.is_some() {
                o.push("contentmodel", Json::str("wikitext"))
                    .push("pagelanguage", Json::str(&lang))
                    .push("pagelanguagehtmlcode", Json::str(&lang))
                    .push("pagelanguagedir", Json::str("ltr"));
                if let Member::Page(pg) = &m {
                    if pg.is_redirect {
                        o.push("redirect", flag.clone());
                    }
                }
                if protection {
                    o.push("protection", Json::Arr(Vec::new()));
                    let types: &[&str] = if matches!(m, Member::Page(_)) {
                        &["edit", "move"]
                    } else {
                        &["create"]
                    };
                    o.push(
                        "restrictiontypes",
                        Json::Arr(types.iter().map(|t| Json::str(*t)).collect()),
                    );
                }
            }
            if let Some(t) = &title {
                for (name, rows) in extra.iter_mut() {
                    if let Some(rows) = rows.remove(t) {
                        o.push(*name, Json::Arr(rows));
                    }
                }
            }
            match m {
                Member::Page(pg) => existing.push((pg.id.0 as i64, o)),
                Member::MissingId(id) => missing.push((id, o)),
                Member::Missing(_) | Member::Special(_) | Member::Invalid { .. } => {
                    let group = match m {
                        Member::Missing(_) => &mut missing,
                        Member::Special(_) => &mut special,
                        _ => &mut invalid,
                    };
                    group.push((fake_id, o));
                }
            }
        }
        let mut entries: Vec<(i64, Obj)> = missing
            .into_iter()
            .chain(invalid)
            .chain(special)
            .chain(existing)
            .collect();
        if p.has("indexpageids") {
            query.push(
                "pageids",
                Json::Arr(
                    entries
                        .iter()
                        .map(|(k, _)| Json::Str(k.to_string()))
                        .collect(),
                ),
            );
        }
        if res.fv2() {
            // formatversion 2 sorts pages by key.
            entries.sort_by_key(|(k, _)| *k);
            query.push(
                "pages",
                Json::Arr(entries.into_iter().map(|(_, o)| Json::Obj(o)).collect()),
            );
        } else {
            let mut pages = Obj::new();
            for (k, o) in entries {
                pages.push(k.to_string(), Json::Obj(o));
            }
            query.push("pages", Json::Obj(pages));
        }
    }

    /// `meta=userinfo`: the anonymous user, or the bot behind the configured token.
    pub(crate) fn userinfo(&self, p: &mut Params, res: &ApiResult, caller: Caller) -> Json {
        let props = p.multi("uiprop").unwrap_or_default();
        let mut o = Obj::new();
        let (groups, rights): (Vec<&str>, Vec<&str>) = if caller.high_limits {
            o.push("id", Json::Int(1))
                .push("name", Json::str("InlinkBot"));
            (
                vec!["bot", "*", "user", "autoconfirmed"],
                vec!["read", "apihighlimits", "bot", "highvolume", "writeapi"],
            )
        } else {
            o.push("id", Json::Int(0))
                .push("name", Json::str("127.0.0.1"))
                .push("anon", res.flag());
            (vec!["*"], vec!["read", "writeapi"])
        };
        let strs = |v: &[&str]| Json::Arr(v.iter().map(|s| Json::str(*s)).collect());
        for prop in &props {
            match prop.as_str() {
                "groups" => {
                    o.push("groups", strs(&groups));
                }
                "rights" => {
                    o.push("rights", strs(&rights));
                }
                "ratelimits" => {
                    o.push("ratelimits", Json::Obj(Obj::new()));
                }
                _ => {}
            }
        }
        Json::Obj(o)
    }

    /// `meta=siteinfo` with `siprop=general|namespaces|namespacealiases|extensions|statistics|interwikimap`.
    pub(crate) fn siteinfo(
        &self,
        p: &mut Params,
        res: &ApiResult,
        query: &mut Obj,
    ) -> Result<(), ApiError> {
        let mut props = p.multi("siprop")?;
        if props.is_empty() {
            props.push("general".into());
        }
        let site = self.codec.site();
        let flag = res.flag();
        for prop in props {
            match prop.as_str() {
                "general" => {
                    let mut g = Obj::new();
                    let main = "Main Page";
                    g.push("mainpage", Json::str(main))
                        .push(
                            "base",
                            Json::Str(format!("{}/index.php?title=Main_Page", self.base_url)),
                        )
                        .push("sitename", Json::str(&site.sitename))
                        .push("generator", Json::str("MediaWiki 1.39.17 (inlink)"))
                        .push("case", Json::str(site.case.as_str()))
                        .push("lang", Json::str(&site.lang))
                        .push("fallback", Json::Arr(Vec::new()))
                        .push("writeapi", flag.clone())
                        .push("articlepath", Json::str("/index.php?title=$1"))
                        .push("scriptpath", Json::str(""))
                        .push("script", Json::str("/index.php"))
                        .push("server", Json::str(&self.base_url))
                        .push(
                            "wikiid",
                            Json::str(if site.dbname.is_empty() {
                                "inlink"
                            } else {
                                &site.dbname
                            }),
                        )
                        .push("readonly", flag.clone())
                        .push("readonlyreason", Json::str(super::READ_ONLY_REASON));
                    let limits = |sizes: &[i64]| {
                        Json::Obj(Obj(sizes
                            .iter()
                            .enumerate()
                            .map(|(i, s)| (i.to_string().into(), Json::Int(*s)))
                            .collect()))
                    };
                    g.push(
                        "thumblimits",
                        limits(&[120, 150, 180, 200, 220, 250, 300, 400]),
                    );
                    let mut im = Obj::new();
                    for (i, (w, h)) in [
                        (320, 240),
                        (640, 480),
                        (800, 600),
                        (1024, 768),
                        (1280, 1024),
                        (2560, 2048),
                    ]
                    .iter()
                    .enumerate()
                    {
                        let mut d = Obj::new();
                        d.push("width", Json::Int(*w)).push("height", Json::Int(*h));
                        im.push(i.to_string(), Json::Obj(d));
                    }
                    g.push("imagelimits", Json::Obj(im));
                    let mut magic = Obj::new();
                    magic
                        .push("ISBN", Json::Bool(false))
                        .push("PMID", Json::Bool(false))
                        .push("RFC", Json::Bool(false));
                    g.push("magiclinks", Json::Obj(magic));
                    query.push("general", Json::Obj(g));
                }
                "namespaces" => {
                    let mut ns = Obj::new();
                    for n in site.namespaces.iter() {
                        let mut o = Obj::new();
                        o.push("id", Json::Int(n.id as i64))
                            .push("case", Json::str(n.case.as_str()));
                        if !res.fv2() {
                            o.push("*", Json::str(&n.name));
                        } else {
                            o.push("name", Json::str(&n.name));
                        }
                        if n.subpages {
                            o.push("subpages", flag.clone());
                        } else if res.fv2() {
                            o.push("subpages", Json::Bool(false));
                        }
                        if let Some(c) = &n.canonical {
                            o.push("canonical", Json::str(c));
                        }
                        if n.content {
                            o.push("content", flag.clone());
                        } else if res.fv2() {
                            o.push("content", Json::Bool(false));
                        }
                        if res.fv2() {
                            o.push("nonincludable", Json::Bool(false));
                        }
                        ns.push(n.id.to_string(), Json::Obj(o));
                    }
                    query.push("namespaces", Json::Obj(ns));
                }
                "namespacealiases" => {
                    let list = site
                        .namespaces
                        .aliases()
                        .iter()
                        .map(|(alias, id)| {
                            let mut o = Obj::new();
                            o.push("id", Json::Int(*id as i64))
                                .push(if res.fv2() { "alias" } else { "*" }, Json::str(alias));
                            Json::Obj(o)
                        })
                        .collect();
                    query.push("namespacealiases", Json::Arr(list));
                }
                "extensions" => {
                    query.push("extensions", Json::Arr(Vec::new()));
                }
                "interwikimap" => {
                    let list = site
                        .interwiki
                        .iter()
                        .flatten()
                        .map(|iw| {
                            let mut o = Obj::new();
                            o.push("prefix", Json::str(&iw.prefix));
                            if iw.local {
                                o.push("local", flag.clone());
                            }
                            o.push("url", Json::str(&iw.url));
                            Json::Obj(o)
                        })
                        .collect();
                    query.push("interwikimap", Json::Arr(list));
                }
                "statistics" => {
                    let st = self.store.stats().map_err(store_err)?;
                    let mut o = Obj::new();
                    o.push("pages", Json::Int(st.pages as i64))
                        .push(
                            "articles",
                            Json::Int(st.pages.saturating_sub(st.redirects) as i64),
                        )
                        .push("edits", Json::Int(0))
                        .push("images", Json::Int(0))
                        .push("users", Json::Int(0))
                        .push("activeusers", Json::Int(0))
                        .push("admins", Json::Int(0))
                        .push("jobs", Json::Int(0));
                    query.push("statistics", Json::Obj(o));
                }
                other => {
                    return Err(ApiError::new(
                        "badvalue",
                        format!("Unrecognized value for parameter \"siprop\": {other}."),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// MediaWiki's text for a title that does not parse (the `title-invalid-*` messages).
fn invalid_reason(e: &inlink_model::TitleError) -> String {
    use inlink_model::TitleError as E;
    match e {
        E::Empty | E::EmptyInNamespace => "The requested page title is empty or contains only the name of a namespace.".into(),
        E::Utf8 => "The requested page title contains invalid UTF-8 sequence.".into(),
        E::Characters(key) => {
            let bad: String = key
                .chars()
                .find(|c| matches!(c, '#' | '<' | '>' | '[' | ']' | '{' | '}' | '|') || (c.is_ascii_control()))
                .map(String::from)
                .unwrap_or_else(|| key.clone());
            format!("The requested page title contains invalid characters: \"{bad}\".")
        }
        E::Relative => "Title has relative path. Relative page titles (./, ../) are invalid, because they will often be unreachable when handled by user's browser.".into(),
        E::Magic => "The requested page title contains invalid magic tilde sequence (~~~).".into(),
        E::TooLong { max } => format!("The requested page title is too long. It must be no longer than {max} bytes in UTF-8 encoding."),
        E::TalkNamespace => "The requested page title contains an invalid talk namespace prefix.".into(),
        E::LeadingColon => "The requested page title contains an invalid colon at the beginning.".into(),
    }
}
