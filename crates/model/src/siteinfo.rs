use crate::error::ModelError;
use crate::namespace::{CaseRule, Namespace, NamespaceId, Namespaces};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One interwiki prefix. Titles with a non-local prefix are not local links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interwiki {
    pub prefix: String,
    /// A local interwiki points back at this wiki; MediaWiki strips it and goes on.
    pub local: bool,
    pub url: String,
}

/// What a wiki's configuration decides about titles: its name, language, case rule,
/// namespaces and interwiki map. Read from a dump's `<siteinfo>` or from
/// `siteinfo-namespaces.json`; MediaWiki's defaults otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    pub sitename: String,
    pub dbname: String,
    pub lang: String,
    pub base: String,
    /// The generator string of the source (`MediaWiki 1.39.17`), when known.
    pub generator: String,
    pub case: CaseRule,
    pub namespaces: Namespaces,
    /// MediaWiki's default interwiki table applies when this is `None`.
    pub interwiki: Option<Vec<Interwiki>>,
}

/// Prefixes of a default MediaWiki 1.39 install's `interwiki` table (maintenance/interwiki.list).
const DEFAULT_INTERWIKI: &[&str] = &[
    "acronym",
    "advogato",
    "arxiv",
    "c2find",
    "cache",
    "commons",
    "dictionary",
    "doi",
    "drumcorpsdictwiki",
    "elibre",
    "emacswiki",
    "foldoc",
    "foxwiki",
    "freebsdman",
    "gentoo-wiki",
    "google",
    "googlegroups",
    "hammondwiki",
    "hrwiki",
    "imdb",
    "kmwiki",
    "linuxwiki",
    "lojban",
    "lqwiki",
    "meatball",
    "mediawikiwiki",
    "memoryalpha",
    "metawiki",
    "metawikimedia",
    "mozillawiki",
    "mw",
    "oeis",
    "openwiki",
    "pmid",
    "pythoninfo",
    "rfc",
    "s23wiki",
    "seattlewireless",
    "senseislibrary",
    "shoutwiki",
    "squeak",
    "theopedia",
    "tmbw",
    "tmnet",
    "twiki",
    "uncyclopedia",
    "unreal",
    "usemod",
    "wiki",
    "wikia",
    "wikibooks",
    "wikidata",
    "wikif1",
    "wikihow",
    "wikimedia",
    "wikinews",
    "wikinfo",
    "wikipedia",
    "wikiquote",
    "wikisource",
    "wikispecies",
    "wikiversity",
    "wikivoyage",
    "wikt",
    "wiktionary",
];

impl SiteInfo {
    /// A default English MediaWiki called `sitename`.
    pub fn mediawiki_default(sitename: &str) -> Self {
        SiteInfo {
            sitename: sitename.to_string(),
            dbname: String::new(),
            lang: "en".into(),
            base: String::new(),
            generator: String::new(),
            case: CaseRule::FirstLetter,
            namespaces: Namespaces::mediawiki_default(sitename),
            interwiki: None,
        }
    }

    /// Is `prefix` (any case) an interwiki prefix, and if so is it local?
    pub fn interwiki(&self, prefix: &str) -> Option<bool> {
        let lc = prefix.replace(' ', "_").to_lowercase();
        match &self.interwiki {
            Some(map) => map
                .iter()
                .find(|iw| iw.prefix.to_lowercase() == lc)
                .map(|iw| iw.local),
            None => DEFAULT_INTERWIKI
                .binary_search(&lc.as_str())
                .ok()
                .map(|_| false),
        }
    }

    /// Reads the answer of `action=query&meta=siteinfo` (formatversion 1 or 2), as
    /// Wikimedia publishes it beside its dumps in `siteinfo-namespaces.json`.
    pub fn from_api_json(text: &str) -> Result<Self, ModelError> {
        let v: Value = serde_json::from_str(text)?;
        let q = v.get("query").unwrap_or(&v);
        let general = q.get("general");
        let gstr = |k: &str| {
            general
                .and_then(|g| g.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let sitename = match gstr("sitename") {
            s if s.is_empty() => "Wiki".to_string(),
            s => s,
        };
        let case = CaseRule::parse(&gstr("case")).unwrap_or_default();
        let nsv = q
            .get("namespaces")
            .and_then(Value::as_object)
            .ok_or_else(|| ModelError::SiteInfo("no query.namespaces object".into()))?;
        let mut list = Vec::new();
        for (key, ns) in nsv {
            let id = ns
                .get("id")
                .and_then(Value::as_i64)
                .or_else(|| key.parse().ok())
                .ok_or_else(|| ModelError::SiteInfo(format!("namespace {key} has no id")))?;
            let id = NamespaceId::try_from(id)
                .map_err(|_| ModelError::SiteInfo(format!("namespace id {id}")))?;
            let name = ns
                .get("name")
                .or_else(|| ns.get("*"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let flag = |k: &str| match ns.get(k) {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(_)) => true, // formatversion 1 writes flags as ""
                _ => false,
            };
            list.push(Namespace {
                id,
                name,
                canonical: ns
                    .get("canonical")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                case: ns
                    .get("case")
                    .and_then(Value::as_str)
                    .and_then(CaseRule::parse)
                    .unwrap_or(case),
                subpages: flag("subpages"),
                content: flag("content"),
            });
        }
        let mut aliases = Vec::new();
        if let Some(arr) = q.get("namespacealiases").and_then(Value::as_array) {
            for a in arr {
                let id = a
                    .get("id")
                    .and_then(Value::as_i64)
                    .and_then(|i| NamespaceId::try_from(i).ok());
                let name = a
                    .get("alias")
                    .or_else(|| a.get("*"))
                    .and_then(Value::as_str);
                if let (Some(id), Some(name)) = (id, name) {
                    aliases.push((name.to_string(), id));
                }
            }
        }
        let interwiki = q.get("interwikimap").and_then(Value::as_array).map(|arr| {
            arr.iter()
                .filter_map(|iw| {
                    let prefix = iw.get("prefix")?.as_str()?.to_string();
                    let local = match iw.get("local") {
                        Some(Value::Bool(b)) => *b,
                        Some(Value::String(_)) => true,
                        _ => false,
                    };
                    let url = iw
                        .get("url")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    Some(Interwiki { prefix, local, url })
                })
                .collect()
        });
        Ok(SiteInfo {
            sitename,
            dbname: gstr("wikiid"),
            lang: match gstr("lang") {
                l if l.is_empty() => "en".into(),
                l => l,
            },
            base: gstr("base"),
            generator: gstr("generator"),
            case,
            namespaces: Namespaces::new(list, aliases),
            interwiki,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_interwiki_list_is_sorted_for_binary_search() {
        let mut sorted = DEFAULT_INTERWIKI.to_vec();
        sorted.sort();
        assert_eq!(sorted, DEFAULT_INTERWIKI);
        let s = SiteInfo::mediawiki_default("W");
        assert_eq!(s.interwiki("WikiPedia"), Some(false));
        assert_eq!(s.interwiki("w"), None);
    }

    #[test]
    fn reads_formatversion_1_and_2() {
        let fv1 = r#"{"batchcomplete":"","query":{"general":{"sitename":"Wikipedia","lang":"zu","case":"first-letter"},
          "namespaces":{"0":{"id":0,"case":"first-letter","*":"","content":""},
                        "1":{"id":1,"case":"first-letter","canonical":"Talk","*":"Ingxoxo","subpages":""},
                        "828":{"id":828,"case":"case-sensitive","canonical":"Module","*":"Module"}},
          "namespacealiases":[{"id":6,"*":"Image"}],
          "interwikimap":[{"prefix":"zu","local":"","url":"https://zu.wikipedia.org/wiki/$1"},{"prefix":"en","url":"x"}]}}"#;
        let s = SiteInfo::from_api_json(fv1).unwrap();
        assert_eq!(s.namespaces.lookup("ingxoxo"), Some(1));
        assert_eq!(s.namespaces.lookup("talk"), Some(1));
        assert_eq!(s.namespaces.lookup("image"), Some(6));
        assert!(s.namespaces.has_subpages(1));
        assert_eq!(s.namespaces.case(828), CaseRule::CaseSensitive);
        assert_eq!(s.interwiki("ZU"), Some(true));
        assert_eq!(s.interwiki("en"), Some(false));
        assert_eq!(s.interwiki("wikipedia"), None);
        let fv2 = r#"{"query":{"namespaces":{"4":{"id":4,"case":"first-letter","name":"Wikipedia","canonical":"Project","subpages":true,"content":false}}}}"#;
        let s = SiteInfo::from_api_json(fv2).unwrap();
        assert_eq!(s.namespaces.lookup("project"), Some(4));
        assert!(s.namespaces.has_subpages(4));
    }
}
