//! Template expansion: `{{Name|args}}` replaced by the template's text with `{{{param|default}}}`
//! substituted, recursively, recording every template used. Arguments are expanded lazily,
//! as in MediaWiki, so templates inside unused arguments are not recorded.

use super::strip::{preprocess, Mode};
use super::tree::{self, Node, Part};
use super::{Sink, TemplateSource};
use inlink_model::{LinkKind, Title, TitleCodec, NS_MAIN, NS_SPECIAL, NS_TEMPLATE};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// MediaWiki's `$wgMaxTemplateDepth` default.
const MAX_DEPTH: usize = 40;
/// Stop expanding once a page's expansion grows past this (MediaWiki's include size limit is 2 MB).
const MAX_OUTPUT: usize = 4 << 20;
/// Stop after this many template expansions on one page (a template bomb guard).
const MAX_EXPANSIONS: usize = 20_000;

/// Core and extension parser functions written `{{name:…}}`. Names starting with `#` are
/// parser functions too.
const FUNCTIONS: &[&str] = &[
    "anchorencode",
    "basepagename",
    "basepagenamee",
    "bidi",
    "canonicalurl",
    "canonicalurle",
    "cascadingsources",
    "defaultcategorysort",
    "defaultsort",
    "defaultsortkey",
    "displaytitle",
    "filepath",
    "formatdate",
    "formatnum",
    "fullpagename",
    "fullpagenamee",
    "fullurl",
    "fullurle",
    "gender",
    "grammar",
    "int",
    "interlanguagelink",
    "interwikilink",
    "lc",
    "lcfirst",
    "localurl",
    "localurle",
    "namespace",
    "namespacee",
    "namespacenumber",
    "ns",
    "nse",
    "numberingroup",
    "numberofactiveusers",
    "numberofadmins",
    "numberofarticles",
    "numberofedits",
    "numberoffiles",
    "numberofpages",
    "numberofusers",
    "padleft",
    "padright",
    "pageid",
    "pagename",
    "pagenamee",
    "pagesincategory",
    "pagesize",
    "plural",
    "protectionexpiry",
    "protectionlevel",
    "revisionday",
    "revisionday2",
    "revisionid",
    "revisionmonth",
    "revisionmonth1",
    "revisiontimestamp",
    "revisionuser",
    "revisionyear",
    "rootpagename",
    "rootpagenamee",
    "special",
    "speciale",
    "subjectpagename",
    "subjectpagenamee",
    "subjectspace",
    "subjectspacee",
    "subpagename",
    "subpagenamee",
    "talkpagename",
    "talkpagenamee",
    "talkspace",
    "talkspacee",
    "uc",
    "ucfirst",
    "urlencode",
];

/// A template's text prepared for transclusion, parsed once and cached.
pub(crate) struct Prepared {
    src: String,
    tree: Vec<Node>,
}

/// A template found: its prepared text and the redirects passed through to reach it.
type Found = (Rc<Prepared>, Vec<Title>);

/// Per-extractor cache of prepared templates. Only hits are cached: a template missing now
/// may arrive later in a dump.
#[derive(Default)]
pub(crate) struct Cache {
    map: HashMap<Title, Found>,
}

const CACHE_LIMIT: usize = 4096;

/// An argument value: nodes from the caller, expanded in the caller's frame on first use.
struct Arg<'a> {
    nodes: Vec<Node>,
    src: &'a str,
    frame: &'a Frame<'a>,
    trim: bool,
    value: RefCell<Option<Rc<str>>>,
}

pub(crate) struct Frame<'a> {
    args: HashMap<String, Arg<'a>>,
    depth: usize,
    /// Templates being expanded, outermost first, for loop detection.
    chain: Vec<Title>,
}

pub(crate) struct Expander<'c> {
    pub codec: &'c TitleCodec,
    pub source: &'c dyn TemplateSource,
    pub page: &'c Title,
    pub sink: &'c mut Sink,
    pub cache: &'c RefCell<Cache>,
    pub redirect_words: &'c [String],
    expansions: usize,
}

impl<'c> Expander<'c> {
    pub fn new(
        codec: &'c TitleCodec,
        source: &'c dyn TemplateSource,
        page: &'c Title,
        sink: &'c mut Sink,
        cache: &'c RefCell<Cache>,
        redirect_words: &'c [String],
    ) -> Self {
        Expander {
            codec,
            source,
            page,
            sink,
            cache,
            redirect_words,
            expansions: 0,
        }
    }

    /// Expands the page's own (already preprocessed) text.
    pub fn expand_page(&mut self, src: &str) -> String {
        let nodes = tree::parse(src);
        let frame = Frame {
            args: HashMap::new(),
            depth: 0,
            chain: Vec::new(),
        };
        let mut out = String::with_capacity(src.len());
        self.expand_nodes(&nodes, src, &frame, &mut out);
        out
    }

    fn expand_nodes(&mut self, nodes: &[Node], src: &str, frame: &Frame<'_>, out: &mut String) {
        for n in nodes {
            if out.len() > MAX_OUTPUT {
                return;
            }
            match n {
                Node::Text(r) => out.push_str(&src[r.clone()]),
                Node::Param(parts) => self.expand_param(parts, src, frame, out),
                Node::Template(parts) => self.expand_template(parts, src, frame, out),
            }
        }
    }

    fn expand_to_string(&mut self, nodes: &[Node], src: &str, frame: &Frame<'_>) -> String {
        let mut s = String::new();
        self.expand_nodes(nodes, src, frame, &mut s);
        s
    }

    fn expand_param(&mut self, parts: &[Part], src: &str, frame: &Frame<'_>, out: &mut String) {
        let name = self.expand_to_string(&parts[0].nodes, src, frame);
        let name = name.trim();
        if let Some(arg) = frame.args.get(name) {
            let cached = arg.value.borrow().clone();
            let v = match cached {
                Some(v) => v,
                None => {
                    let s = self.expand_to_string(&arg.nodes, arg.src, arg.frame);
                    let v: Rc<str> = if arg.trim { s.trim().into() } else { s.into() };
                    *arg.value.borrow_mut() = Some(v.clone());
                    v
                }
            };
            out.push_str(&v);
        } else if let Some(default) = parts.get(1) {
            self.expand_nodes(&default.nodes, src, frame, out);
        } else {
            out.push_str("{{{");
            out.push_str(name);
            out.push_str("}}}");
        }
    }

    fn expand_template(&mut self, parts: &[Part], src: &str, frame: &Frame<'_>, out: &mut String) {
        let raw_name = self.expand_to_string(&parts[0].nodes, src, frame);
        let mut name = raw_name.trim();
        let lower = name.to_ascii_lowercase();
        let mut nowiki = false;
        if lower.starts_with("subst:") {
            // Substitution happens when a page is saved; an unsaved one renders literally.
            return;
        }
        for prefix in ["safesubst:", "msgnw:", "msg:", "raw:"] {
            if lower.starts_with(prefix) {
                nowiki = prefix == "msgnw:";
                name = name[prefix.len()..].trim_start();
                break;
            }
        }
        if let Some(v) = self.variable(name) {
            out.push_str(&v);
            return;
        }
        if let Some(colon) = name.find(':') {
            let func = name[..colon].trim().to_lowercase();
            if func.starts_with('#') || FUNCTIONS.binary_search(&func.as_str()).is_ok() {
                self.function(&func, name[colon + 1..].trim(), parts, src, frame, out);
                return;
            }
        } else if name.starts_with('#') {
            self.sink.unexpanded += 1;
            return;
        }
        let Some(title) = self.codec.parse_local(name, NS_TEMPLATE) else {
            return;
        };
        if title.ns < NS_MAIN
            || (title.ns == NS_MAIN && title.dbkey.is_empty())
            || title.ns == NS_SPECIAL
        {
            return;
        }
        self.sink.add(LinkKind::Template, title.clone());
        let Some((prepared, via)) = self.prepared(&title) else {
            if self.source.exists(&title) {
                self.sink.unexpanded += 1;
            } else {
                // A missing template renders as a red link to it.
                self.sink.add(LinkKind::Page, title);
            }
            return;
        };
        for t in via {
            self.sink.add(LinkKind::Template, t);
        }
        if frame.chain.contains(&title) {
            // MediaWiki renders "Template loop detected: [[:Template:X]]": a page link, except
            // on the template's own page, where it is a self-link.
            out.push_str("[[:");
            out.push_str(&self.codec.full_text(&title));
            out.push_str("]]");
            return;
        }
        if nowiki || frame.depth >= MAX_DEPTH || self.expansions >= MAX_EXPANSIONS {
            return;
        }
        self.expansions += 1;
        let mut args = HashMap::new();
        let mut position = 0;
        for part in &parts[1..] {
            match part.eq {
                Some(eq) => {
                    let key = self
                        .expand_to_string(&part.nodes[..eq], src, frame)
                        .trim()
                        .to_string();
                    let mut nodes = part.nodes[eq..].to_vec();
                    if let Some(Node::Text(r)) = nodes.first_mut() {
                        r.start += 1; // the `=`
                    }
                    args.insert(
                        key,
                        Arg {
                            nodes,
                            src,
                            frame,
                            trim: true,
                            value: RefCell::new(None),
                        },
                    );
                }
                None => {
                    position += 1;
                    args.insert(
                        position.to_string(),
                        Arg {
                            nodes: part.nodes.clone(),
                            src,
                            frame,
                            trim: false,
                            value: RefCell::new(None),
                        },
                    );
                }
            }
        }
        let mut chain = frame.chain.clone();
        chain.push(title);
        let inner = Frame {
            args,
            depth: frame.depth + 1,
            chain,
        };
        self.expand_nodes(&prepared.tree, &prepared.src, &inner, out);
    }

    /// Looks up a template's text, following up to two redirects as MediaWiki does.
    /// Returns the prepared text and the redirect targets passed through.
    fn prepared(&mut self, title: &Title) -> Option<Found> {
        if let Some(hit) = self.cache.borrow().map.get(title) {
            return Some(hit.clone());
        }
        let mut via = Vec::new();
        let mut current = title.clone();
        let mut text = self.source.text(&current)?;
        for _ in 0..2 {
            match super::redirect_target(&text, self.redirect_words, self.codec) {
                Some(r) if r.interwiki.is_empty() && r.title.ns >= 0 => {
                    current = r.title;
                    via.push(current.clone());
                    match self.source.text(&current) {
                        Some(t) => text = t,
                        None => break,
                    }
                }
                _ => break,
            }
        }
        let src = preprocess(&text, Mode::Transclusion, self.codec);
        let tree = tree::parse(&src);
        let value = (Rc::new(Prepared { src, tree }), via);
        let mut cache = self.cache.borrow_mut();
        if cache.map.len() >= CACHE_LIMIT {
            cache.map.clear();
        }
        cache.map.insert(title.clone(), value.clone());
        Some(value)
    }

    fn variable(&self, name: &str) -> Option<String> {
        let page = self.page;
        let text = page.text();
        Some(match name {
            "!" => "|".into(),
            "=" => "=".into(),
            "PAGENAME" => text,
            "FULLPAGENAME" => self.codec.full_text(page),
            "NAMESPACE" => self.codec.site().namespaces.prefix(page.ns).to_string(),
            "NAMESPACENUMBER" => page.ns.to_string(),
            "SITENAME" => self.codec.site().sitename.clone(),
            "BASEPAGENAME" => text
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(text),
            "ROOTPAGENAME" => text.split('/').next().unwrap_or("").to_string(),
            "SUBPAGENAME" => text.rsplit('/').next().unwrap_or("").to_string(),
            "CURRENTYEAR" | "CURRENTMONTH" | "CURRENTDAY" | "CURRENTDAY2" | "CURRENTTIME"
            | "CURRENTTIMESTAMP" | "LOCALYEAR" | "LOCALMONTH" | "LOCALDAY" | "LOCALTIME"
            | "REVISIONID" | "REVISIONDAY" | "REVISIONMONTH" | "REVISIONYEAR" | "REVISIONUSER"
            | "PAGEID" | "SERVER" | "SERVERNAME" | "SCRIPTPATH" | "STYLEPATH"
            | "CONTENTLANGUAGE" | "DIRECTIONMARK" | "NUMBEROFARTICLES" | "NUMBEROFPAGES"
            | "NUMBEROFFILES" | "NUMBEROFUSERS" | "NUMBEROFEDITS" => String::new(),
            _ => return None,
        })
    }

    /// The few core functions that shape link targets are evaluated; the others (and every
    /// `#…` extension function, including Lua's `#invoke`) are counted as unexpanded.
    fn function(
        &mut self,
        func: &str,
        first: &str,
        parts: &[Part],
        src: &str,
        frame: &Frame<'_>,
        out: &mut String,
    ) {
        let _ = (parts, src, frame);
        match func {
            "lc" => out.push_str(&first.to_lowercase()),
            "uc" => out.push_str(&first.to_uppercase()),
            "lcfirst" => {
                let mut c = first.chars();
                if let Some(f) = c.next() {
                    out.extend(f.to_lowercase());
                    out.push_str(c.as_str());
                }
            }
            "ucfirst" => {
                let mut c = first.chars();
                if let Some(f) = c.next() {
                    out.extend(f.to_uppercase());
                    out.push_str(c.as_str());
                }
            }
            "ns" => {
                let id = first
                    .parse::<i32>()
                    .ok()
                    .or_else(|| self.codec.site().namespaces.lookup(first));
                if let Some(id) = id {
                    out.push_str(self.codec.site().namespaces.prefix(id));
                }
            }
            "defaultsort" | "displaytitle" | "defaultsortkey" | "defaultcategorysort" => {}
            _ => self.sink.unexpanded += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FUNCTIONS;

    #[test]
    fn functions_sorted() {
        let mut s = FUNCTIONS.to_vec();
        s.sort();
        assert_eq!(s, FUNCTIONS);
    }
}
