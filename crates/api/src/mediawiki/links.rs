//! `prop=links`: the outgoing page links of the pages in the page set, from the same index.

use super::pageset::PageSet;
use super::params::parse_int;
use super::result::{prop_limit, store_err, ApiError, ApiResult};
use super::{Caller, MediaWiki, Params};
use crate::json::{Json, Obj};
use inlink_model::{LinkKind, NamespaceId, Title};
use std::collections::HashMap;

/// What a prop module adds to the pages, and where it stopped.
pub(crate) struct PropOut {
    pub rows: HashMap<Title, Vec<Json>>,
    pub cont: Option<String>,
    /// `…limit=max`: the value for `limits`, which goes after `query`.
    pub limits: Option<i64>,
}

impl MediaWiki {
    pub(crate) fn links(
        &self,
        set: &PageSet,
        p: &mut Params,
        res: &mut ApiResult,
        caller: Caller,
    ) -> Result<PropOut, ApiError> {
        let mut out = PropOut {
            rows: HashMap::new(),
            cont: None,
            limits: None,
        };
        let namespaces: Vec<NamespaceId> = p
            .multi("plnamespace")?
            .iter()
            .filter_map(|v| parse_int(v))
            .filter_map(|n| NamespaceId::try_from(n).ok())
            .collect();
        let only: Vec<Title> = p
            .multi("pltitles")?
            .iter()
            .filter_map(|t| self.codec.parse_local(t, 0))
            .collect();
        let descending = match p.single("pldir")?.as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(v) => {
                return Err(ApiError::new(
                    "badvalue",
                    format!("Unrecognized value for parameter \"pldir\": {v}."),
                ))
            }
        };
        let (limit, limits) = prop_limit(p, res, "links", "pllimit", caller.high_limits)?;
        out.limits = limits;
        // `plcontinue` = "<page id>|<ns>|<dbkey>" of the next row.
        let cursor = match p.single("plcontinue")? {
            None => None,
            Some(c) => {
                let parts: Vec<&str> = c.splitn(3, '|').collect();
                let (Some(id), Some(ns), Some(key)) = (
                    parts.first().and_then(|v| parse_int(v)),
                    parts.get(1).and_then(|v| parse_int(v)),
                    parts.get(2),
                ) else {
                    return Err(ApiError::badcontinue());
                };
                Some((id, ns, key.to_string()))
            }
        };
        let mut pages = set.pages();
        pages.sort_by_key(|pg| pg.id);
        pages.dedup_by_key(|pg| pg.id);
        if descending {
            pages.reverse();
        }
        let mut n = 0;
        'pages: for pg in pages {
            let mut links = self
                .store
                .outgoing(pg.id, LinkKind::Page)
                .map_err(store_err)?;
            if descending {
                links.reverse();
            }
            for t in links {
                if !namespaces.is_empty() && !namespaces.contains(&t.ns)
                    || !only.is_empty() && !only.contains(&t)
                {
                    continue;
                }
                let key = (pg.id.0 as i64, t.ns as i64, t.dbkey.clone());
                if let Some(c) = &cursor {
                    let before = if descending { key > *c } else { key < *c };
                    if before {
                        continue;
                    }
                }
                if n == limit {
                    out.cont = Some(format!("{}|{}|{}", pg.id.0, t.ns, t.dbkey));
                    break 'pages;
                }
                let mut o = Obj::new();
                o.push("ns", Json::Int(t.ns as i64))
                    .push("title", Json::Str(self.codec.full_text(&t)));
                out.rows
                    .entry(pg.title.clone())
                    .or_default()
                    .push(Json::Obj(o));
                n += 1;
            }
        }
        Ok(out)
    }
}
