use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A MediaWiki namespace number. Negative ids are the virtual namespaces (Media, Special).
pub type NamespaceId = i32;

pub const NS_MEDIA: NamespaceId = -2;
pub const NS_SPECIAL: NamespaceId = -1;
pub const NS_MAIN: NamespaceId = 0;
pub const NS_TALK: NamespaceId = 1;
pub const NS_USER: NamespaceId = 2;
pub const NS_USER_TALK: NamespaceId = 3;
pub const NS_FILE: NamespaceId = 6;
pub const NS_TEMPLATE: NamespaceId = 10;
pub const NS_CATEGORY: NamespaceId = 14;

/// MediaWiki's per-namespace `case` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CaseRule {
    /// The first character of a title is upper-cased (`$wgCapitalLinks`, the default).
    #[default]
    FirstLetter,
    /// Titles are kept exactly as written.
    CaseSensitive,
}

impl CaseRule {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseRule::FirstLetter => "first-letter",
            CaseRule::CaseSensitive => "case-sensitive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "first-letter" => Some(CaseRule::FirstLetter),
            "case-sensitive" => Some(CaseRule::CaseSensitive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub id: NamespaceId,
    /// The local name as shown in titles, with spaces (`"User talk"`); empty for ns 0.
    pub name: String,
    /// The language-independent name (`"Project"`), absent for ns 0.
    pub canonical: Option<String>,
    pub case: CaseRule,
    pub subpages: bool,
    pub content: bool,
}

/// The namespaces of one wiki with their names and aliases, and the case-insensitive
/// prefix lookup MediaWiki's `Language::getNsIndex` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "NamespacesRepr", into = "NamespacesRepr")]
pub struct Namespaces {
    by_id: BTreeMap<NamespaceId, Namespace>,
    aliases: Vec<(String, NamespaceId)>,
    index: HashMap<String, NamespaceId>,
}

#[derive(Serialize, Deserialize)]
struct NamespacesRepr {
    namespaces: Vec<Namespace>,
    aliases: Vec<(String, NamespaceId)>,
}

impl From<NamespacesRepr> for Namespaces {
    fn from(r: NamespacesRepr) -> Self {
        Namespaces::new(r.namespaces, r.aliases)
    }
}

impl From<Namespaces> for NamespacesRepr {
    fn from(n: Namespaces) -> Self {
        NamespacesRepr {
            namespaces: n.by_id.into_values().collect(),
            aliases: n.aliases,
        }
    }
}

/// The lookup key of a namespace name: lower-cased, underscores for spaces.
pub(crate) fn ns_key(name: &str) -> String {
    name.replace(' ', "_").to_lowercase()
}

impl Namespaces {
    pub fn new(list: Vec<Namespace>, aliases: Vec<(String, NamespaceId)>) -> Self {
        let mut index = HashMap::new();
        for ns in &list {
            if let Some(c) = &ns.canonical {
                index.insert(ns_key(c), ns.id);
            }
        }
        for (alias, id) in &aliases {
            index.insert(ns_key(alias), *id);
        }
        // Local names win over aliases and canonical names that happen to collide.
        for ns in &list {
            if !ns.name.is_empty() {
                index.insert(ns_key(&ns.name), ns.id);
            }
        }
        let aliases = aliases
            .into_iter()
            .map(|(a, id)| (a.replace('_', " "), id))
            .collect();
        Namespaces {
            by_id: list.into_iter().map(|n| (n.id, n)).collect(),
            aliases,
            index,
        }
    }

    /// MediaWiki's default namespaces for an English wiki called `site_name`.
    pub fn mediawiki_default(site_name: &str) -> Self {
        let site = site_name.replace('_', " ");
        let defs: [(NamespaceId, &str, Option<&str>, bool); 18] = [
            (-2, "Media", Some("Media"), false),
            (-1, "Special", Some("Special"), false),
            (0, "", None, false),
            (1, "Talk", Some("Talk"), true),
            (2, "User", Some("User"), true),
            (3, "User talk", Some("User talk"), true),
            (4, &site, Some("Project"), true),
            (5, "", Some("Project talk"), true),
            (6, "File", Some("File"), false),
            (7, "File talk", Some("File talk"), true),
            (8, "MediaWiki", Some("MediaWiki"), true),
            (9, "MediaWiki talk", Some("MediaWiki talk"), true),
            (10, "Template", Some("Template"), true),
            (11, "Template talk", Some("Template talk"), true),
            (12, "Help", Some("Help"), true),
            (13, "Help talk", Some("Help talk"), true),
            (14, "Category", Some("Category"), false),
            (15, "Category talk", Some("Category talk"), true),
        ];
        let list = defs
            .iter()
            .map(|&(id, name, canonical, subpages)| Namespace {
                id,
                name: if id == 5 {
                    format!("{site} talk")
                } else {
                    name.to_string()
                },
                canonical: canonical.map(str::to_string),
                case: CaseRule::FirstLetter,
                subpages,
                content: id == 0,
            })
            .collect();
        Namespaces::new(list, vec![("Image".into(), 6), ("Image talk".into(), 7)])
    }

    pub fn get(&self, id: NamespaceId) -> Option<&Namespace> {
        self.by_id.get(&id)
    }

    /// The namespace a prefix names, case-insensitively, by local name, canonical name or alias.
    pub fn lookup(&self, prefix: &str) -> Option<NamespaceId> {
        self.index.get(&ns_key(prefix)).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Namespace> {
        self.by_id.values()
    }

    pub fn aliases(&self) -> &[(String, NamespaceId)] {
        &self.aliases
    }

    /// Ids that a namespace filter accepts: every non-negative namespace.
    pub fn valid_filter_ids(&self) -> impl Iterator<Item = NamespaceId> + '_ {
        self.by_id.keys().copied().filter(|&id| id >= 0)
    }

    /// The text before the colon of a full title in this namespace (`"User talk"`).
    pub fn prefix(&self, id: NamespaceId) -> &str {
        self.by_id.get(&id).map(|n| n.name.as_str()).unwrap_or("")
    }

    pub fn case(&self, id: NamespaceId) -> CaseRule {
        self.by_id.get(&id).map(|n| n.case).unwrap_or_default()
    }

    pub fn has_subpages(&self, id: NamespaceId) -> bool {
        self.by_id.get(&id).is_some_and(|n| n.subpages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_lookup_is_case_insensitive_and_knows_aliases() {
        let ns = Namespaces::mediawiki_default("TestWiki");
        assert_eq!(ns.lookup("TALK"), Some(1));
        assert_eq!(ns.lookup("project"), Some(4));
        assert_eq!(ns.lookup("Project_talk"), Some(5));
        assert_eq!(ns.lookup("testwiki"), Some(4));
        assert_eq!(ns.lookup("TestWiki talk"), Some(5));
        assert_eq!(ns.lookup("image"), Some(6));
        assert_eq!(ns.lookup("Image_talk"), Some(7));
        assert_eq!(ns.lookup("Main"), None);
        assert_eq!(ns.prefix(5), "TestWiki talk");
    }

    #[test]
    fn serde_round_trip_rebuilds_the_index() {
        let ns = Namespaces::mediawiki_default("W");
        let json = serde_json::to_string(&ns).unwrap();
        let back: Namespaces = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ns);
        assert_eq!(back.lookup("image"), Some(6));
    }
}
