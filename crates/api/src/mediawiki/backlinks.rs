//! `list=backlinks` (MediaWiki's `ApiQueryBacklinks`): two levels with `blredirect`, the
//! 2/6/7/8-part continuation, MediaWiki's limits and warnings (spec §2–§7).

use super::params::parse_int;
use super::result::{store_err, ApiError, ApiResult};
use super::{format_num, Caller, MediaWiki};
use crate::json::{Json, Obj};
use inlink_model::{LinkKind, NamespaceId, PageId, PageRecord, Title, NS_FILE};
use inlink_store::{
    BacklinkQuery, BacklinkRef, Direction, NamespaceFilter, Order, RedirectFilter, Start,
};

/// One of the three list modules of MediaWiki's `ApiQueryBacklinks`.
pub(crate) struct Module {
    pub name: &'static str,
    pub prefix: &'static str,
    pub kind: LinkKind,
    /// Whether `<prefix>redirect` (level 2) exists.
    pub redirect: bool,
}

pub(crate) const BACKLINKS: Module = Module {
    name: "backlinks",
    prefix: "bl",
    kind: LinkKind::Page,
    redirect: true,
};
pub(crate) const EMBEDDEDIN: Module = Module {
    name: "embeddedin",
    prefix: "ei",
    kind: LinkKind::Template,
    redirect: false,
};
pub(crate) const IMAGEUSAGE: Module = Module {
    name: "imageusage",
    prefix: "iu",
    kind: LinkKind::Image,
    redirect: true,
};

pub(crate) struct Out {
    /// List-mode items: a JSON array (`Null` in generator mode).
    pub items: Json,
    /// Generator mode: the pages in generator order (level 1, then level 2).
    pub pages: Vec<PageRecord>,
    pub cont: Option<String>,
}

/// The raw target parameters and the validated rest.
struct Read {
    title: Option<String>,
    pageid: Option<i64>,
    cont: Option<String>,
    bl: Bl,
}

/// Validated parameters.
struct Bl {
    namespaces: Vec<NamespaceId>,
    descending: bool,
    filter: RedirectFilter,
    limit: usize,
    redirect: bool,
}

/// A parsed `blcontinue`.
struct Cont {
    raw: Vec<String>,
    l1: (i64, i64),
    l2: Option<(i64, String, i64, i64)>,
}

fn parse_continue(v: &str) -> Result<Cont, ApiError> {
    let parts: Vec<&str> = v.split('|').collect();
    if ![2, 6, 7, 8].contains(&parts.len()) {
        return Err(ApiError::badcontinue());
    }
    let mut ints = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i == 3 {
            ints.push(0);
            continue;
        }
        // Strict: the part must be the canonical form of its integer (`01`, `+1` are refused).
        match part.parse::<i64>() {
            Ok(n) if n.to_string() == *part => ints.push(n),
            _ => return Err(ApiError::badcontinue()),
        }
    }
    let l2 = (parts.len() >= 6).then(|| (ints[2], parts[3].to_string(), ints[4], ints[5]));
    Ok(Cont {
        raw: parts.iter().map(|s| s.to_string()).collect(),
        l1: (ints[0], ints[1]),
        l2,
    })
}

fn clamp_limit(
    res: &mut ApiResult,
    module: &str,
    name: &dyn std::fmt::Display,
    value: &str,
    n: i64,
    (max, user_max, high_max): (i64, i64, i64),
) -> i64 {
    if n < 1 || n > max {
        let mut data = Obj::new();
        data.push("min", Json::Int(1))
            .push("curmax", Json::Int(max))
            .push("max", Json::Int(user_max))
            .push("highmax", Json::Int(high_max));
        res.warn_with(
            module,
            "outofrange",
            &format!(
                "The value \"{value}\" for parameter \"{name}\" must be between 1 and {}.",
                format_num(max)
            ),
            Some(Json::Obj(data)),
        );
    }
    n.clamp(1, max)
}

/// `data` of an `unrecognizedvalues` warning.
pub(crate) fn values_data(values: &[String]) -> Option<Json> {
    let mut data = Obj::new();
    data.push(
        "values",
        Json::Arr(values.iter().map(|v| Json::str(v.as_str())).collect()),
    );
    Some(Json::Obj(data))
}

fn read_params(
    mw: &MediaWiki,
    m: &Module,
    pre: &str,
    p: &mut super::Params,
    res: &mut ApiResult,
    caller: Caller,
) -> Result<Read, ApiError> {
    let name = |s| super::params::Prefixed(pre, s);
    let title = p.single(&name("title"))?;
    let pageid = match p.single(&name("pageid"))? {
        None => None,
        Some(v) => Some(parse_int(&v).ok_or_else(|| {
            ApiError::new(
                "badinteger",
                format!(
                    "Invalid value \"{v}\" for integer parameter \"{}\".",
                    name("pageid")
                ),
            )
        })?),
    };
    let cont = p.single(&name("continue"))?;
    let ns_values = p.multi(&name("namespace"))?;
    let (low, high) = (50, 500);
    let max_values = if caller.high_limits { high } else { low };
    if ns_values.len() > max_values {
        let mut e = ApiError::new(
            "toomanyvalues",
            format!(
                "Too many values supplied for parameter \"{}\". The limit is {max_values}.",
                name("namespace")
            ),
        );
        e.extra = vec![
            ("limit", Json::Int(max_values as i64)),
            ("lowlimit", Json::Int(low as i64)),
            ("highlimit", Json::Int(high as i64)),
        ];
        return Err(e);
    }
    let valid: Vec<NamespaceId> = mw.codec.site().namespaces.valid_filter_ids().collect();
    let mut namespaces = Vec::new();
    let mut rejected = Vec::new();
    if ns_values.len() == 1 && ns_values[0] == "*" {
        namespaces = valid.clone();
    } else {
        for v in &ns_values {
            match parse_int(v)
                .and_then(|n| NamespaceId::try_from(n).ok())
                .filter(|n| valid.contains(n))
            {
                Some(n) => namespaces.push(n),
                None => rejected.push(v.clone()),
            }
        }
    }
    namespaces.sort_unstable();
    namespaces.dedup();
    if !rejected.is_empty() {
        let s = if rejected.len() == 1 { "" } else { "s" };
        res.warn_with(
            m.name,
            "unrecognizedvalues",
            &format!(
                "Unrecognized value{s} for parameter \"{}\": {}",
                name("namespace"),
                rejected.join(", ")
            ),
            values_data(&rejected),
        );
    }
    let descending = match p.single(&name("dir"))?.as_deref() {
        None | Some("ascending") => false,
        Some("descending") => true,
        Some(v) => {
            return Err(ApiError::new(
                "badvalue",
                format!("Unrecognized value for parameter \"{}\": {v}.", name("dir")),
            ))
        }
    };
    let filter = match p.single(&name("filterredir"))?.as_deref() {
        None | Some("all") => RedirectFilter::All,
        Some("redirects") => RedirectFilter::Redirects,
        Some("nonredirects") => RedirectFilter::NonRedirects,
        Some(v) => {
            return Err(ApiError::new(
                "badvalue",
                format!(
                    "Unrecognized value for parameter \"{}\": {v}.",
                    name("filterredir")
                ),
            ))
        }
    };
    let (user_max, bot_max) = (500i64, 5000i64);
    let stage1_max = if caller.high_limits {
        bot_max
    } else {
        user_max
    };
    let limit_raw = p.single(&name("limit"))?;
    let limit_stage1 = match limit_raw.as_deref() {
        None => Some(10),
        Some("max") => None,
        Some(v) => {
            let n = parse_int(v).ok_or_else(|| {
                ApiError::new(
                    "badinteger",
                    format!(
                        "Invalid value \"{v}\" for integer parameter \"{}\".",
                        name("limit")
                    ),
                )
            })?;
            Some(clamp_limit(
                res,
                m.name,
                &name("limit"),
                v,
                n,
                (stage1_max, user_max, bot_max),
            ))
        }
    };
    let redirect = m.redirect && p.has(&name("redirect"));
    let halve = |m: i64| if redirect { m / 2 } else { m };
    let limit = match limit_stage1 {
        None => {
            let n = halve(stage1_max);
            let mut limits = Obj::new();
            limits.push(m.name, Json::Int(n));
            res.push("limits", Json::Obj(limits));
            n
        }
        Some(n) => {
            let max = halve(stage1_max);
            clamp_limit(
                res,
                m.name,
                &name("limit"),
                &n.to_string(),
                n,
                (max, halve(user_max), halve(bot_max)),
            )
        }
    };
    if let Some(v) = p.changed.iter().find(|n| n.starts_with(pre)).cloned() {
        res.warn_with(m.name, "badutf8", &format!("The value passed for <var>{v}</var> contains invalid or non-normalized data. Textual data should be valid, NFC-normalized Unicode without C0 control characters other than HT (\\t), LF (\\n), and CR (\\r)."), None);
    }
    Ok(Read {
        title,
        pageid,
        cont,
        bl: Bl {
            namespaces,
            descending,
            filter,
            limit: limit as usize,
            redirect,
        },
    })
}

/// Writes one row as JSON text up to its closing brace, which the caller writes after any
/// `redirlinks`: `{"pageid":…,"ns":…,"title":…[,"redirect":…]`.
fn open_item(out: &mut String, prefix: &str, res: &ApiResult, p: &BacklinkRef<'_>) {
    out.push_str("{\"pageid\":");
    out.push_str(itoa::Buffer::new().format(p.id.0));
    out.push_str(",\"ns\":");
    out.push_str(itoa::Buffer::new().format(p.ns));
    out.push_str(",\"title\":");
    crate::json::write_title(out, prefix, p.dbkey, res.ascii());
    if p.is_redirect {
        out.push_str(",\"redirect\":");
        res.flag().write(out, res.ascii());
    }
}

/// The list's rows as JSON text, each redirect's own backlinks (level 2: `(row index,
/// page)`, a row's pages together) inside it as `redirlinks`. Written straight into text:
/// a 500-row answer built as a tree spent most of its time allocating and freeing it.
fn write_items(
    mw: &MediaWiki,
    res: &ApiResult,
    rows: &[PageRecord],
    level2: &[(usize, PageRecord)],
) -> Json {
    let mut out = String::with_capacity(64 * (rows.len() + level2.len()) + 2);
    let namespaces = &mw.codec.site().namespaces;
    let mut below: Vec<Vec<&PageRecord>> =
        vec![Vec::new(); if level2.is_empty() { 0 } else { rows.len() }];
    for (idx, r) in level2 {
        below[*idx].push(r);
    }
    out.push('[');
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let r = BacklinkRef::of(r);
        open_item(&mut out, namespaces.prefix(r.ns), res, &r);
        if let Some(list) = below.get(i).filter(|l| !l.is_empty()) {
            out.push_str(",\"redirlinks\":[");
            for (j, r2) in list.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                let r2 = BacklinkRef::of(r2);
                open_item(&mut out, namespaces.prefix(r2.ns), res, &r2);
                out.push('}');
            }
            out.push(']');
        }
        out.push('}');
    }
    out.push(']');
    Json::Raw(out)
}

/// Maps a continuation's (namespace, page id) onto the store's cursor; `None` when it lies
/// beyond every possible row in the query's direction.
fn start_of(ns: i64, id: i64, descending: bool) -> Option<Start> {
    let ns = ns.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    if descending {
        if id < 0 {
            return None;
        }
        Some(Start {
            ns,
            id: PageId(id.min(u32::MAX as i64) as u32),
        })
    } else {
        if id > u32::MAX as i64 {
            return None;
        }
        Some(Start {
            ns,
            id: PageId(id.max(0) as u32),
        })
    }
}

/// Runs module `m`, as a list or (`generator`) as the generator of `action=query`.
pub(crate) fn run(
    mw: &MediaWiki,
    m: &Module,
    generator: bool,
    p: &mut super::Params,
    res: &mut ApiResult,
    caller: Caller,
) -> Result<Out, ApiError> {
    let pre = format!("{}{}", if generator { "g" } else { "" }, m.prefix);
    let Read {
        title,
        pageid,
        cont: cont_raw,
        bl,
    } = read_params(mw, m, &pre, p, res, caller)?;
    let target: Title = match (title, pageid) {
        (None, None) => {
            return Err(ApiError::new(
                "missingparam",
                format!("One of the parameters <var>{pre}title</var> and <var>{pre}pageid</var> is required."),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                "invalidparammix",
                format!(
                    "The parameters <var>{pre}title</var> and <var>{pre}pageid</var> can not be used together."
                ),
            ))
        }
        (Some(t), None) => match mw.codec.parse(&t, 0) {
            Ok(pt) if pt.is_local() => pt.title(),
            _ => {
                let shown: String = t
                    .chars()
                    .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
                    .collect();
                return Err(ApiError::new(
                    "invalidtitle",
                    format!("Bad title \"{}\".", super::result::escape_wikitext(&shown)),
                ));
            }
        },
        (None, Some(id)) => {
            let page = u32::try_from(id)
                .ok()
                .map(|i| mw.store.page(PageId(i)))
                .transpose()
                .map_err(store_err)?
                .flatten();
            match page {
                Some(pg) => pg.title,
                None => {
                    return Err(ApiError::new(
                        "nosuchpageid",
                        format!("There is no page with ID {id}."),
                    ))
                }
            }
        }
    };
    if m.kind == LinkKind::Image && target.ns != NS_FILE {
        return Err(ApiError::new(
            "bad_image_title",
            format!("The title for <kbd>{}</kbd> must be a file.", m.name),
        ));
    }
    let cont = cont_raw.as_deref().map(parse_continue).transpose()?;
    let direction = if bl.descending {
        Direction::Descending
    } else {
        Direction::Ascending
    };
    let multi_ns = bl.namespaces.len() >= 2;
    let ns_filter = if bl.namespaces.is_empty() {
        NamespaceFilter::All
    } else {
        NamespaceFilter::only(bl.namespaces.clone())
    };
    let order = if multi_ns {
        Order::NamespaceThenPageId
    } else {
        Order::PageId
    };

    // Level 1.
    let mut q = BacklinkQuery::new(m.kind, target);
    q.namespaces = ns_filter.clone();
    q.redirects = if bl.redirect && bl.filter == RedirectFilter::NonRedirects {
        RedirectFilter::All
    } else {
        bl.filter
    };
    q.order = order;
    q.direction = direction;
    q.limit = bl.limit + 1;
    // A cursor past every row: nothing to ask.
    let mut past = false;
    if let Some(c) = &cont {
        match start_of(c.l1.0, c.l1.1, bl.descending) {
            Some(s) => q.start = Some(s),
            None => past = true,
        }
    }
    if !generator && !bl.redirect {
        // The common answer: rows written as the store reads them, none kept.
        let mut out = String::with_capacity(64 * bl.limit.min(5000) + 2);
        let mut cont_out = None;
        let mut written = 0;
        out.push('[');
        if !past {
            let namespaces = &mw.codec.site().namespaces;
            // The namespace of the row before and its prefix: rows come a namespace at a
            // time, or most of them from one.
            let mut prefix: (Option<NamespaceId>, &str) = (None, "");
            let mut write = |r: BacklinkRef<'_>| {
                if written == bl.limit {
                    cont_out = Some(format!("{}|{}", r.ns, r.id.0));
                    return;
                }
                if written > 0 {
                    out.push(',');
                }
                if prefix.0 != Some(r.ns) {
                    prefix = (Some(r.ns), namespaces.prefix(r.ns));
                }
                open_item(&mut out, prefix.1, res, &r);
                out.push('}');
                written += 1;
            };
            mw.store.backlinks_each(&q, &mut write).map_err(store_err)?;
        }
        out.push(']');
        return Ok(Out {
            items: Json::Raw(out),
            pages: Vec::new(),
            cont: cont_out,
        });
    }
    let mut rows = if past {
        Vec::new()
    } else {
        mw.store.backlinks(&q).map_err(store_err)?
    };
    let extra = (rows.len() > bl.limit).then(|| rows.pop()).flatten();
    let mut cont_out = extra.map(|e| format!("{}|{}", e.title.ns, e.id.0));

    // Level 2: pages linking to the redirects among the returned rows.
    let mut level2_pages = Vec::new();
    if bl.redirect {
        let mut redirects: Vec<(Title, usize)> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_redirect)
            // imageusage looks for uses of the redirect's name as a file (§10).
            .map(|(i, r)| match m.kind {
                LinkKind::Image => (Title::new(NS_FILE, r.title.dbkey.clone()), i),
                _ => (r.title.clone(), i),
            })
            .collect();
        redirects.sort();
        if bl.descending {
            redirects.reverse();
        }
        let active_ns = redirects
            .iter()
            .map(|(t, _)| t.ns)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            >= 2;
        let active_title = redirects
            .iter()
            .map(|(t, _)| t.dbkey.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            >= 2;
        // Level 2 always applies the redirect filter (§6.3).
        let l2_filter = bl.filter;
        let mut level2: Vec<(usize, Title, PageRecord)> = Vec::new();
        let want = bl.limit + 1;
        for (rt, idx) in &redirects {
            if level2.len() >= want {
                break;
            }
            let mut q2 = BacklinkQuery::new(m.kind, rt.clone());
            q2.namespaces = ns_filter.clone();
            q2.redirects = l2_filter;
            q2.order = order;
            q2.direction = direction;
            q2.limit = want - level2.len();
            if let Some((c2, c3, c4, c5)) = cont.as_ref().and_then(|c| c.l2.clone()) {
                // Lexicographic over the active group columns: groups before the cursor are
                // skipped, the cursor's group starts at its row, later groups from the top.
                let key = |ns: i64, title: &str| {
                    (
                        if active_ns { ns } else { 0 },
                        if active_title {
                            title.to_string()
                        } else {
                            String::new()
                        },
                    )
                };
                let here = key(rt.ns as i64, &rt.dbkey);
                let at = key(c2, &c3);
                let cmp = if bl.descending {
                    at.cmp(&here)
                } else {
                    here.cmp(&at)
                };
                match cmp {
                    std::cmp::Ordering::Less => continue,
                    std::cmp::Ordering::Equal => match start_of(c4, c5, bl.descending) {
                        Some(s) => q2.start = Some(s),
                        None => continue,
                    },
                    std::cmp::Ordering::Greater => {}
                }
            }
            for r in mw.store.backlinks(&q2).map_err(store_err)? {
                level2.push((*idx, rt.clone(), r));
            }
        }
        if level2.len() > bl.limit {
            let (_, rt, r) = level2.pop().expect("longer than the limit");
            let (c0, c1) = match &cont {
                Some(c) => (c.raw[0].clone(), c.raw[1].clone()),
                None => rows
                    .first()
                    .map(|f| (f.title.ns.to_string(), f.id.0.to_string()))
                    .unwrap_or_default(),
            };
            cont_out = Some(format!(
                "{c0}|{c1}|{}|{}|{}|{}",
                rt.ns, rt.dbkey, r.title.ns, r.id.0
            ));
        }
        level2_pages = level2.into_iter().map(|(idx, _, r)| (idx, r)).collect();
    }
    let items = if generator {
        Json::Null
    } else {
        write_items(mw, res, &rows, &level2_pages)
    };
    let mut pages = rows;
    pages.extend(level2_pages.into_iter().map(|(_, r)| r));
    Ok(Out {
        items,
        pages,
        cont: cont_out,
    })
}
