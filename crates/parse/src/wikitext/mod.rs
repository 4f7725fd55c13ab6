//! Wikitext → link rows, following MediaWiki 1.39 (`docs/titles.md` has the rules and what
//! is not expanded).
//!
//! The pipeline per page: redirect detection on the raw text; the preprocessor's tag pass
//! (`strip`); the brace tree (`tree`); template expansion (`expand`), which records
//! `templatelinks`; and finally `[[…]]` link extraction on the expanded text (`links`).

mod expand;
mod links;
mod strip;
mod tree;

use inlink_model::{LinkKind, Title, TitleCodec, NS_SPECIAL};
use std::cell::RefCell;
use std::collections::BTreeSet;

/// Where template texts come from during expansion (the dump being imported, a store…).
pub trait TemplateSource {
    /// The current wikitext of the page `title`, if it exists and is known.
    fn text(&self, title: &Title) -> Option<String>;

    /// Whether `title` exists although [`TemplateSource::text`] cannot give its text. Such a
    /// transclusion is counted as unexpanded instead of becoming a red link.
    fn exists(&self, _title: &Title) -> bool {
        false
    }
}

/// A source without any page: every template is missing.
pub struct NoTemplates;

impl TemplateSource for NoTemplates {
    fn text(&self, _: &Title) -> Option<String> {
        None
    }
}

impl<F: Fn(&Title) -> Option<String>> TemplateSource for F {
    fn text(&self, title: &Title) -> Option<String> {
        self(title)
    }
}

/// A page's redirect target (MediaWiki's `redirect` table row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub title: Title,
    pub fragment: String,
    /// Non-empty for a redirect to another wiki.
    pub interwiki: String,
}

/// Everything one page contributes to the link tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub redirect: Option<Redirect>,
    /// Distinct (table, target) rows.
    pub links: BTreeSet<(LinkKind, Title)>,
    /// Parser-function and Lua calls left unexpanded.
    pub unexpanded: u32,
}

impl Extracted {
    pub fn of_kind(&self, kind: LinkKind) -> impl Iterator<Item = &Title> {
        self.links
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, t)| t)
    }
}

#[derive(Default)]
pub(crate) struct Sink {
    links: BTreeSet<(LinkKind, Title)>,
    unexpanded: u32,
}

impl Sink {
    fn add(&mut self, kind: LinkKind, title: Title) {
        self.links.insert((kind, title));
    }
}

/// Extracts links from wikitext under one wiki's title rules. Keeps a cache of parsed
/// templates between pages, so reuse one extractor for a whole import.
pub struct Extractor {
    codec: TitleCodec,
    redirect_words: Vec<String>,
    cache: RefCell<expand::Cache>,
    titles: RefCell<links::TitleMemo>,
}

/// Localised `#REDIRECT` magic words of the languages we have met. The English one always
/// applies, as in MediaWiki.
fn redirect_words_for(lang: &str) -> Vec<String> {
    let mut words = vec!["#REDIRECT".to_string()];
    let extra: &[&str] = match lang {
        "de" => &["#WEITERLEITUNG"],
        "fr" => &["#REDIRECTION"],
        "es" => &["#REDIRECCIÓN"],
        "it" => &["#RINVIA", "#RINVIO"],
        "nl" => &["#DOORVERWIJZING"],
        "pl" => &["#PATRZ", "#PRZEKIERUJ", "#TAM"],
        "pt" => &["#REDIRECIONAMENTO"],
        "ru" => &["#ПЕРЕНАПРАВЛЕНИЕ", "#ПЕРЕНАПР"],
        "lv" | "ltg" => &["#PĀRADRESĀCIJA", "#PARADRESACIJA"],
        "lt" => &["#PERADRESAVIMAS"],
        _ => &[],
    };
    words.extend(extra.iter().map(|w| w.to_string()));
    words
}

/// `#REDIRECT [[Target]]` at the start of `text` (MediaWiki's `WikitextContent::getRedirectTarget`).
pub(crate) fn redirect_target(
    text: &str,
    words: &[String],
    codec: &TitleCodec,
) -> Option<Redirect> {
    let t = text.trim_start();
    let rest = words.iter().find_map(|w| {
        let head = t.get(..w.len())?;
        (head.to_lowercase() == w.to_lowercase()).then(|| &t[w.len()..])
    })?;
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    let inner = rest.strip_prefix("[[")?;
    let end = inner.find("]]")?;
    let mut target = &inner[..end];
    if let Some(p) = target.find('|') {
        target = &target[..p];
    }
    let decoded;
    if target.contains('%') {
        decoded = links::raw_url_decode(target.trim_start_matches(':'));
        target = &decoded;
    }
    let p = codec.parse(target, 0).ok()?;
    if p.is_local()
        && (p.dbkey.is_empty()
            || (p.ns == NS_SPECIAL && p.dbkey.eq_ignore_ascii_case("Userlogout")))
    {
        return None;
    }
    Some(Redirect {
        title: Title::new(p.ns, p.dbkey),
        fragment: p.fragment,
        interwiki: p.interwiki,
    })
}

impl Extractor {
    pub fn new(codec: TitleCodec) -> Self {
        let redirect_words = redirect_words_for(&codec.site().lang);
        Extractor {
            codec,
            redirect_words,
            cache: RefCell::new(expand::Cache::default()),
            titles: RefCell::default(),
        }
    }

    pub fn codec(&self) -> &TitleCodec {
        &self.codec
    }

    /// Forgets cached templates (call after a template changed).
    pub fn clear_cache(&self) {
        *self.cache.borrow_mut() = expand::Cache::default();
    }

    /// The redirect target of `text`, if it is a redirect.
    pub fn redirect(&self, text: &str) -> Option<Redirect> {
        redirect_target(text, &self.redirect_words, &self.codec)
    }

    /// All link rows of page `page` whose current wikitext is `text`.
    pub fn extract(&self, page: &Title, text: &str, templates: &dyn TemplateSource) -> Extracted {
        let expanded = self.expand(page, text, templates);
        expanded.links_in(&self.codec, &mut self.titles.borrow_mut())
    }

    /// The half of [`Extractor::extract`] that needs the templates: the redirect, the
    /// preprocessor and template expansion. [`LinkFinder::links`] does the rest, on any
    /// thread.
    pub fn expand(&self, page: &Title, text: &str, templates: &dyn TemplateSource) -> Expanded {
        let mut sink = Sink::default();
        let redirect = self.redirect(text);
        if let Some(r) = &redirect {
            // The redirect target is always a page link, even when it is the page itself.
            if r.interwiki.is_empty() && r.title.ns >= 0 {
                sink.add(LinkKind::Page, r.title.clone());
            }
        }
        let pre = strip::preprocess(text, strip::Mode::Page, &self.codec);
        let text = {
            let mut ex = expand::Expander::new(
                &self.codec,
                templates,
                page,
                &mut sink,
                &self.cache,
                &self.redirect_words,
            );
            ex.expand_page(&pre)
        };
        Expanded {
            page: page.clone(),
            redirect,
            text,
            sink,
        }
    }
}

/// A page with its templates expanded: what [`LinkFinder::links`] needs, and nothing that
/// depends on other pages.
pub struct Expanded {
    page: Title,
    redirect: Option<Redirect>,
    text: String,
    sink: Sink,
}

impl Expanded {
    fn links_in(mut self, codec: &TitleCodec, memo: &mut links::TitleMemo) -> Extracted {
        links::extract(&self.text, &self.page, codec, memo, &mut self.sink);
        Extracted {
            redirect: self.redirect,
            links: self.sink.links,
            unexpanded: self.sink.unexpanded,
        }
    }
}

/// Finds the `[[…]]` links of expanded pages; one per thread, each with its own memo of
/// titles.
pub struct LinkFinder {
    codec: TitleCodec,
    memo: links::TitleMemo,
}

impl LinkFinder {
    pub fn new(codec: TitleCodec) -> Self {
        LinkFinder {
            codec,
            memo: links::TitleMemo::default(),
        }
    }

    /// The page's link rows: those its expansion found and those of its expanded text. The
    /// codec must be the extractor's.
    pub fn links(&mut self, page: Expanded) -> Extracted {
        page.links_in(&self.codec, &mut self.memo)
    }
}
