//! `prop=linkshere` (MediaWiki's `ApiQueryBacklinksprop`): backlinks of every page of the
//! page set in one ordered scan, attached to each page (spec §9).

use super::pageset::{Member, PageSet};
use super::params::parse_int;
use super::result::{prop_limit, store_err, ApiError, ApiResult};
use super::{Caller, MediaWiki, Params};
use crate::json::Json;
use inlink_model::{LinkKind, NamespaceId, PageId, Title};
use inlink_store::{BacklinkQuery, BacklinkRef, NamespaceFilter, Order, RedirectFilter, Start};
use std::collections::{BTreeSet, HashMap};

const MODULE: &str = "linkshere";

use super::links::PropOut as Linkshere;

/// PHP 8's loose `(int) $v == $v`: `01`, `+30`, ` 30`, `30.0` pass, `x` does not.
fn loose_int(v: &str) -> Option<i64> {
    let f: f64 = v.trim().parse().ok()?;
    (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
}

impl MediaWiki {
    pub(crate) fn linkshere(
        &self,
        set: &PageSet,
        p: &mut Params,
        res: &mut ApiResult,
        caller: Caller,
    ) -> Result<Linkshere, ApiError> {
        let mut out = Linkshere {
            rows: HashMap::new(),
            cont: None,
            limits: None,
        };
        let mut props = p.multi("lhprop")?;
        if p.get("lhprop").is_none() {
            props = vec!["pageid".into(), "title".into(), "redirect".into()];
        }
        let bad: Vec<String> = props
            .iter()
            .filter(|v| !matches!(v.as_str(), "pageid" | "title" | "redirect"))
            .cloned()
            .collect();
        if !bad.is_empty() {
            let s = if bad.len() == 1 { "" } else { "s" };
            res.warn_with(
                MODULE,
                "unrecognizedvalues",
                &format!(
                    "Unrecognized value{s} for parameter \"lhprop\": {}",
                    bad.join(", ")
                ),
                super::backlinks::values_data(&bad),
            );
        }
        let has = |x: &str| props.iter().any(|v| v == x);
        let (want_id, want_title, want_redirect) = (has("pageid"), has("title"), has("redirect"));
        let ns_given = p.get("lhnamespace").is_some();
        let ns_values = p.multi("lhnamespace")?;
        let valid: Vec<NamespaceId> = self.codec.site().namespaces.valid_filter_ids().collect();
        let mut namespaces: Vec<NamespaceId> = if ns_values.len() == 1 && ns_values[0] == "*" {
            valid.clone()
        } else {
            let (ok, rejected): (Vec<_>, Vec<_>) = ns_values.iter().partition(|v| {
                parse_int(v)
                    .and_then(|n| NamespaceId::try_from(n).ok())
                    .is_some_and(|n| valid.contains(&n))
            });
            if !rejected.is_empty() {
                let s = if rejected.len() == 1 { "" } else { "s" };
                let list: Vec<String> = rejected.iter().map(|s| s.to_string()).collect();
                res.warn_with(
                    MODULE,
                    "unrecognizedvalues",
                    &format!(
                        "Unrecognized value{s} for parameter \"lhnamespace\": {}",
                        list.join(", ")
                    ),
                    super::backlinks::values_data(&list),
                );
            }
            ok.iter()
                .filter_map(|v| parse_int(v).and_then(|n| NamespaceId::try_from(n).ok()))
                .collect()
        };
        namespaces.sort_unstable();
        namespaces.dedup();
        let show = p.multi("lhshow")?;
        let filter = match (
            show.iter().any(|s| s == "redirect"),
            show.iter().any(|s| s == "!redirect"),
        ) {
            (true, true) => {
                return Err(ApiError::new(
                    "show",
                    "Incorrect parameter - mutually exclusive values may not be supplied.".into(),
                ))
            }
            (true, false) => RedirectFilter::Redirects,
            (false, true) => RedirectFilter::NonRedirects,
            _ => RedirectFilter::All,
        };
        let (limit, limits) = prop_limit(p, res, MODULE, "lhlimit", caller.high_limits)?;
        out.limits = limits;
        let cont = p.single("lhcontinue")?;
        // An explicit namespace list that resolves to nothing selects nothing (unlike list=backlinks).
        if ns_given && namespaces.is_empty() {
            return Ok(out);
        }
        let targets: BTreeSet<Title> = set
            .members
            .iter()
            .filter_map(|m| match m {
                Member::Page(pg) => Some(pg.title.clone()),
                Member::Missing(t) | Member::Special(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        let active_ns = targets.iter().map(|t| t.ns).collect::<BTreeSet<_>>().len() >= 2;
        let active_title = targets
            .iter()
            .map(|t| t.dbkey.as_str())
            .collect::<BTreeSet<_>>()
            .len()
            >= 2;
        let active_from_ns = namespaces.len() >= 2;
        let columns = active_ns as usize + active_title as usize + active_from_ns as usize + 1;
        // The cursor: (target ns, target dbkey, from ns, from id) over the active columns.
        let cursor = match &cont {
            None => None,
            Some(c) => {
                let parts: Vec<&str> = c.split('|').collect();
                if parts.len() != columns {
                    return Err(ApiError::badcontinue());
                }
                let mut it = parts.into_iter();
                let int = |v: Option<&str>| v.and_then(loose_int).ok_or_else(ApiError::badcontinue);
                let ns = if active_ns { int(it.next())? } else { 0 };
                let title = if active_title {
                    it.next().unwrap_or("").to_string()
                } else {
                    String::new()
                };
                let from_ns = if active_from_ns { int(it.next())? } else { 0 };
                let from = int(it.next())?;
                Some((ns, title, from_ns, from))
            }
        };
        let group_key = |t: &Title| {
            (
                if active_ns { t.ns as i64 } else { 0 },
                if active_title {
                    t.dbkey.clone()
                } else {
                    String::new()
                },
            )
        };
        // Each row written as JSON text as the store hands it over: (target, item).
        let mut rows: Vec<(Title, Json)> = Vec::new();
        let namespaces_of = &self.codec.site().namespaces;
        let (fv2, ascii) = (res.fv2(), res.ascii());
        for t in &targets {
            if out.cont.is_some() {
                break;
            }
            let mut q = BacklinkQuery::new(LinkKind::Page, t.clone());
            q.namespaces = if namespaces.is_empty() {
                NamespaceFilter::All
            } else {
                NamespaceFilter::only(namespaces.clone())
            };
            q.redirects = filter;
            q.order = if active_from_ns {
                Order::NamespaceThenPageId
            } else {
                Order::PageId
            };
            q.limit = limit + 1 - rows.len();
            if let Some((ns, title, from_ns, from)) = &cursor {
                match group_key(t).cmp(&(*ns, title.clone())) {
                    std::cmp::Ordering::Less => continue,
                    std::cmp::Ordering::Equal => {
                        if *from > u32::MAX as i64 {
                            continue;
                        }
                        q.start = Some(Start {
                            ns: (*from_ns).clamp(i32::MIN as i64, i32::MAX as i64) as i32,
                            id: PageId((*from).max(0) as u32),
                        });
                    }
                    std::cmp::Ordering::Greater => {}
                }
            }
            let mut write = |r: BacklinkRef<'_>| {
                if rows.len() == limit {
                    // One row past the limit: where the next request resumes.
                    let mut parts = Vec::new();
                    if active_ns {
                        parts.push(t.ns.to_string());
                    }
                    if active_title {
                        parts.push(t.dbkey.clone());
                    }
                    if active_from_ns {
                        parts.push(r.ns.to_string());
                    }
                    parts.push(r.id.0.to_string());
                    out.cont = Some(parts.join("|"));
                    return;
                }
                // formatversion 1 writes an item with no members as an empty array.
                if !(want_id || want_title || (want_redirect && (fv2 || r.is_redirect))) {
                    rows.push((t.clone(), Json::Arr(Vec::new())));
                    return;
                }
                let mut item = String::with_capacity(64);
                let mut sep = '{';
                if want_id {
                    item.push(sep);
                    item.push_str("\"pageid\":");
                    item.push_str(itoa::Buffer::new().format(r.id.0));
                    sep = ',';
                }
                if want_title {
                    item.push(sep);
                    item.push_str("\"ns\":");
                    item.push_str(itoa::Buffer::new().format(r.ns));
                    item.push_str(",\"title\":");
                    crate::json::write_title(&mut item, namespaces_of.prefix(r.ns), r.dbkey, ascii);
                    sep = ',';
                }
                if want_redirect && (fv2 || r.is_redirect) {
                    item.push(sep);
                    item.push_str("\"redirect\":");
                    item.push_str(match (fv2, r.is_redirect) {
                        (false, _) => "\"\"",
                        (true, true) => "true",
                        (true, false) => "false",
                    });
                }
                item.push('}');
                rows.push((t.clone(), Json::Raw(item)));
            };
            self.store
                .backlinks_each(&q, &mut write)
                .map_err(store_err)?;
        }
        for (t, item) in rows {
            out.rows.entry(t).or_default().push(item);
        }
        Ok(out)
    }
}
