//! `action=paraminfo`: the parameter descriptions clients such as pywikibot read before
//! they build requests. Only the modules inlink serves are described.

use super::result::ApiResult;
use super::{MediaWiki, Params};
use crate::json::{Json, Obj};

/// How a parameter is described.
enum Ty {
    Str,
    Int,
    Bool,
    Limit,
    Namespace,
    Enum(&'static [&'static str]),
    /// A module selector: the listed module names, with the path prefix of their submodules.
    Modules(&'static [&'static str], &'static str),
}

struct P {
    name: &'static str,
    ty: Ty,
    multi: bool,
    default: Option<&'static str>,
}

const fn p(name: &'static str, ty: Ty) -> P {
    P {
        name,
        ty,
        multi: false,
        default: None,
    }
}

const fn multi(name: &'static str, ty: Ty) -> P {
    P {
        name,
        ty,
        multi: true,
        default: None,
    }
}

const fn dflt(name: &'static str, ty: Ty, default: &'static str) -> P {
    P {
        name,
        ty,
        multi: false,
        default: Some(default),
    }
}

const PROPS: &[&str] = &[
    "categoryinfo",
    "imageinfo",
    "info",
    "pageprops",
    "revisions",
];
const LISTS: &[&str] = &["backlinks", "embeddedin", "imageusage"];
const METAS: &[&str] = &["siteinfo", "userinfo"];
const ACTIONS: &[&str] = &["paraminfo", "query"];

/// (path, group, prefix, can generate, parameters)
fn module(path: &str) -> Option<(&'static str, &'static str, bool, Vec<P>)> {
    let backlinks = |redirect: bool| {
        let mut v = vec![
            p("title", Ty::Str),
            p("pageid", Ty::Int),
            p("continue", Ty::Str),
            multi("namespace", Ty::Namespace),
            dflt("dir", Ty::Enum(&["ascending", "descending"]), "ascending"),
            dflt(
                "filterredir",
                Ty::Enum(&["all", "nonredirects", "redirects"]),
                "all",
            ),
            dflt("limit", Ty::Limit, "10"),
        ];
        if redirect {
            v.push(dflt("redirect", Ty::Bool, ""));
        }
        v
    };
    Some(match path {
        "main" => (
            "",
            "",
            false,
            vec![
                dflt("action", Ty::Modules(ACTIONS, ""), "help"),
                dflt("format", Ty::Enum(&["json"]), "jsonfm"),
                p("maxlag", Ty::Int),
                p("requestid", Ty::Str),
                dflt("servedby", Ty::Bool, ""),
                dflt("curtimestamp", Ty::Bool, ""),
                p("origin", Ty::Str),
                p("uselang", Ty::Str),
                dflt(
                    "errorformat",
                    Ty::Enum(&["bc", "html", "none", "plaintext", "raw", "wikitext"]),
                    "bc",
                ),
                p("assert", Ty::Enum(&["anon", "bot", "user"])),
            ],
        ),
        "paraminfo" => (
            "",
            "",
            false,
            vec![
                multi("modules", Ty::Str),
                dflt(
                    "helpformat",
                    Ty::Enum(&["html", "none", "raw", "wikitext"]),
                    "none",
                ),
            ],
        ),
        "query" => (
            "",
            "action",
            false,
            vec![
                multi("prop", Ty::Modules(PROPS, "query+")),
                multi("list", Ty::Modules(LISTS, "query+")),
                multi("meta", Ty::Modules(METAS, "query+")),
                dflt("indexpageids", Ty::Bool, ""),
                dflt("export", Ty::Bool, ""),
                dflt("iwurl", Ty::Bool, ""),
                p("continue", Ty::Str),
                dflt("rawcontinue", Ty::Bool, ""),
                multi("titles", Ty::Str),
                multi("pageids", Ty::Int),
                multi("revids", Ty::Int),
                p(
                    "generator",
                    Ty::Modules(&["backlinks", "embeddedin", "imageusage"], "query+"),
                ),
                dflt("redirects", Ty::Bool, ""),
                dflt("converttitles", Ty::Bool, ""),
            ],
        ),
        "query+backlinks" => ("bl", "list", true, backlinks(true)),
        "query+embeddedin" => ("ei", "list", true, backlinks(false)),
        "query+imageusage" => ("iu", "list", true, backlinks(true)),
        "query+info" => (
            "in",
            "prop",
            false,
            vec![
                multi(
                    "prop",
                    Ty::Enum(&["protection", "talkid", "watched", "url", "displaytitle"]),
                ),
                p("continue", Ty::Str),
            ],
        ),
        "query+imageinfo" => (
            "ii",
            "prop",
            false,
            vec![multi("prop", Ty::Str), dflt("limit", Ty::Limit, "1")],
        ),
        "query+linkshere" => (
            "lh",
            "prop",
            false,
            vec![
                dflt(
                    "prop",
                    Ty::Enum(&["pageid", "redirect", "title"]),
                    "pageid|title|redirect",
                ),
                multi("namespace", Ty::Namespace),
                multi("show", Ty::Enum(&["!redirect", "redirect"])),
                dflt("limit", Ty::Limit, "10"),
                p("continue", Ty::Str),
            ],
        ),
        "query+links" => (
            "pl",
            "prop",
            false,
            vec![
                multi("namespace", Ty::Namespace),
                dflt("limit", Ty::Limit, "10"),
                p("continue", Ty::Str),
                multi("titles", Ty::Str),
                dflt("dir", Ty::Enum(&["ascending", "descending"]), "ascending"),
            ],
        ),
        "query+categoryinfo" => ("ci", "prop", false, vec![p("continue", Ty::Str)]),
        "query+pageprops" => ("pp", "prop", false, vec![multi("prop", Ty::Str)]),
        "query+revisions" => (
            "rv",
            "prop",
            false,
            vec![
                multi("prop", Ty::Str),
                multi("slots", Ty::Str),
                dflt("limit", Ty::Limit, ""),
            ],
        ),
        "query+siteinfo" => (
            "si",
            "meta",
            false,
            vec![multi(
                "prop",
                Ty::Enum(&[
                    "extensions",
                    "general",
                    "interwikimap",
                    "namespacealiases",
                    "namespaces",
                    "statistics",
                ]),
            )],
        ),
        "query+userinfo" => (
            "ui",
            "meta",
            false,
            vec![multi(
                "prop",
                Ty::Enum(&["blockinfo", "groups", "hasmsg", "ratelimits", "rights"]),
            )],
        ),
        _ => return None,
    })
}

impl MediaWiki {
    pub(crate) fn paraminfo(&self, p: &mut Params, res: &mut ApiResult) {
        let flag = res.flag();
        let wanted = p.multi("modules").unwrap_or_default();
        let mut modules = Vec::new();
        for path in wanted {
            let Some((prefix, group, generator, params)) = module(&path) else {
                let mut m = Obj::new();
                m.push("name", Json::Str(path.clone()))
                    .push("missing", flag.clone());
                modules.push(Json::Obj(m));
                continue;
            };
            let name = path.rsplit('+').next().unwrap_or(&path).to_string();
            let mut m = Obj::new();
            m.push("name", Json::Str(name))
                .push("path", Json::Str(path.clone()))
                .push("group", Json::str(group))
                .push("prefix", Json::str(prefix));
            m.push("source", Json::str("MediaWiki"))
                .push("sourcename", Json::str("MediaWiki"));
            if generator {
                m.push("generator", flag.clone());
            }
            m.push("helpurls", Json::Arr(Vec::new()));
            let list = params
                .iter()
                .enumerate()
                .map(|(i, prm)| self.param_json(i + 1, prm, res))
                .collect();
            m.push("parameters", Json::Arr(list));
            if path == "main" || path == "query" || path == "query+backlinks" {
                m.push("dynamicparameters", Json::Bool(false));
            }
            modules.push(Json::Obj(m));
        }
        let mut pi = Obj::new();
        pi.push("helpformat", Json::str("none"))
            .push("modules", Json::Arr(modules));
        res.push("paraminfo", Json::Obj(pi));
    }

    fn param_json(&self, index: usize, prm: &P, res: &ApiResult) -> Json {
        let flag = res.flag();
        let strs = |v: &[&str]| Json::Arr(v.iter().map(|s| Json::str(*s)).collect());
        let mut o = Obj::new();
        o.push("index", Json::Int(index as i64))
            .push("name", Json::str(prm.name));
        match &prm.ty {
            Ty::Str => {
                o.push("type", Json::str("string"));
            }
            Ty::Int => {
                o.push("type", Json::str("integer"));
            }
            Ty::Bool => {
                o.push("type", Json::str("boolean"));
            }
            Ty::Limit => {
                o.push("type", Json::str("limit"))
                    .push("max", Json::Int(500))
                    .push("highmax", Json::Int(5000))
                    .push("min", Json::Int(1));
            }
            Ty::Namespace => {
                let ids = self
                    .codec
                    .site()
                    .namespaces
                    .valid_filter_ids()
                    .map(|n| Json::Int(n as i64))
                    .collect();
                o.push("type", Json::str("namespace"))
                    .push("allspecifier", Json::str("*"))
                    .push("extranamespaces", Json::Arr(Vec::new()));
                o.push("namespaces", Json::Arr(ids));
            }
            Ty::Enum(values) => {
                o.push("type", strs(values));
            }
            Ty::Modules(names, prefix) => {
                o.push("type", strs(names));
                let mut sub = Obj::new();
                for n in names.iter() {
                    sub.push(*n, Json::Str(format!("{prefix}{n}")));
                }
                o.push("submodules", Json::Obj(sub));
                if !prefix.is_empty() {
                    o.push("submoduleparamprefix", Json::str("g"));
                }
            }
        }
        if let Some(d) = prm.default {
            o.push("default", Json::str(d));
        }
        if prm.multi {
            o.push("multi", flag.clone())
                .push("limit", Json::Int(50))
                .push("lowlimit", Json::Int(50))
                .push("highlimit", Json::Int(500));
        }
        Json::Obj(o)
    }
}
