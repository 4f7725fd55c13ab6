//! A generated wiki for `inlink serve --demo` and for benchmarks: articles in several
//! namespaces, redirects, templates with parameters, files and categories, with a skewed
//! (Zipf-like) link distribution. Deterministic from its seed; written as a MediaWiki XML
//! export so that it goes through the same import path as a real dump.

use std::io::{self, Write};

/// splitmix64: small, fast and good enough to shape test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A skewed pick in `0..n`: small indexes are much more likely (roughly Zipf, s≈1).
    pub fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (((n as f64 + 1.0).powf(u) - 1.0) as u64).min(n.saturating_sub(1))
    }
}

const WORDS: &[&str] = &[
    "river",
    "mountain",
    "city",
    "history",
    "music",
    "science",
    "garden",
    "harbour",
    "bridge",
    "library",
    "festival",
    "railway",
    "island",
    "castle",
    "forest",
    "market",
    "theatre",
    "museum",
    "valley",
    "school",
    "Zürich",
    "Łódź",
    "São Paulo",
    "Ελλάδα",
    "東京",
    "Москва",
];

/// One generated page.
pub struct DemoPage {
    pub id: u32,
    pub ns: i32,
    /// Full title with namespace prefix.
    pub title: String,
    pub text: String,
    pub redirect: Option<String>,
}

fn article_title(i: u64) -> String {
    let w = WORDS[(i as usize * 7) % WORDS.len()];
    let v = WORDS[(i as usize * 13 + 5) % WORDS.len()];
    format!("{} {} {}", capitalise(w), v, i)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Generates a wiki of about `articles` articles.
pub fn generate(articles: u64, seed: u64) -> Vec<DemoPage> {
    let mut rng = Rng::new(seed);
    let mut pages = Vec::new();
    let mut id = 0u32;
    let mut next = |ns: i32, title: String, text: String, redirect: Option<String>| {
        id += 1;
        DemoPage {
            id,
            ns,
            title,
            text,
            redirect,
        }
    };
    pages.push(next(10, "Template:Infobox".into(), "{| class=\"infobox\"\n| Country: [[{{{country|Nowhere}}}]]\n| Capital: [[{{{capital}}}]]\n|}<noinclude>Documentation: [[Help:Infoboxes]]</noinclude>".into(), None));
    pages.push(next(
        10,
        "Template:Stub".into(),
        "''This article is a stub.'' [[Category:Stubs]]".into(),
        None,
    ));
    pages.push(next(
        10,
        "Template:Nav".into(),
        format!(
            "Navigation: [[{}]] · [[{}]] · {{{{Stub}}}}",
            article_title(0),
            article_title(1)
        ),
        None,
    ));
    pages.push(next(
        10,
        "Template:Sub".into(),
        "#REDIRECT [[Template:Stub]]".into(),
        Some("Template:Stub".into()),
    ));
    pages.push(next(
        14,
        "Category:Stubs".into(),
        "Pages that are stubs.".into(),
        None,
    ));
    pages.push(next(6, "File:Map.png".into(), "A map.".into(), None));
    for i in 0..articles {
        let title = article_title(i);
        if i > 10 && rng.below(100) < 15 {
            // ~15 % redirects, as on Wikipedia.
            let to = article_title(rng.skewed(i));
            pages.push(next(0, title, format!("#REDIRECT [[{to}]]"), Some(to)));
            continue;
        }
        let mut text = String::new();
        if rng.below(4) == 0 {
            text.push_str(&format!(
                "{{{{Infobox|country={}|capital={}}}}}\n",
                article_title(rng.skewed(articles)),
                article_title(rng.skewed(articles))
            ));
        }
        text.push_str(&format!("'''{title}''' is a page of the demo wiki.\n"));
        let links = 3 + rng.below(20);
        for _ in 0..links {
            let t = article_title(rng.skewed(articles));
            match rng.below(10) {
                0 => text.push_str(&format!("See [[{t}|the {}]]. ", t.to_lowercase())),
                1 => text.push_str(&format!("[[{t}#History]] ")),
                _ => text.push_str(&format!("[[{t}]] ")),
            }
        }
        if rng.below(8) == 0 {
            text.push_str("[[File:Map.png|thumb|A map of [[Geography]]]]\n");
        }
        if rng.below(5) == 0 {
            text.push_str("{{Nav}}\n");
        } else if rng.below(5) == 0 {
            text.push_str("{{Sub}}\n");
        }
        text.push_str(&format!(
            "<!-- [[Hidden link]] --><nowiki>[[Not a link]]</nowiki>\n[[Category:{}]]\n",
            capitalise(WORDS[(i % 5) as usize])
        ));
        pages.push(next(0, title.clone(), text, None));
        if rng.below(10) == 0 {
            pages.push(next(
                1,
                format!("Talk:{title}"),
                format!(
                    "Discussion about [[{title}]] and [[{}]].",
                    article_title(rng.skewed(articles))
                ),
                None,
            ));
        }
        if rng.below(30) == 0 {
            pages.push(next(
                2,
                format!("User:Editor{i}"),
                format!("I edit [[{title}]]. {{{{Stub}}}}"),
                None,
            ));
        }
    }
    pages
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes `pages` as a MediaWiki XML export (schema 0.11).
pub fn write_xml(out: &mut impl Write, sitename: &str, pages: &[DemoPage]) -> io::Result<()> {
    writeln!(
        out,
        r#"<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="en">"#
    )?;
    writeln!(out, "  <siteinfo>\n    <sitename>{}</sitename>\n    <dbname>demowiki</dbname>\n    <generator>inlink demo</generator>\n    <case>first-letter</case>\n    <namespaces>", escape(sitename))?;
    let names = [
        (-2, "Media"),
        (-1, "Special"),
        (0, ""),
        (1, "Talk"),
        (2, "User"),
        (3, "User talk"),
        (4, sitename),
        (6, "File"),
        (7, "File talk"),
        (8, "MediaWiki"),
        (10, "Template"),
        (11, "Template talk"),
        (12, "Help"),
        (13, "Help talk"),
        (14, "Category"),
        (15, "Category talk"),
    ];
    for (k, n) in names {
        if n.is_empty() {
            writeln!(out, r#"      <namespace key="{k}" case="first-letter" />"#)?;
        } else {
            writeln!(
                out,
                r#"      <namespace key="{k}" case="first-letter">{}</namespace>"#,
                escape(n)
            )?;
        }
    }
    writeln!(out, "    </namespaces>\n  </siteinfo>")?;
    for p in pages {
        write_page(out, p)?;
    }
    writeln!(out, "</mediawiki>")
}

pub fn write_page(out: &mut impl Write, p: &DemoPage) -> io::Result<()> {
    writeln!(
        out,
        "  <page>\n    <title>{}</title>\n    <ns>{}</ns>\n    <id>{}</id>",
        escape(&p.title),
        p.ns,
        p.id
    )?;
    if let Some(r) = &p.redirect {
        writeln!(out, r#"    <redirect title="{}" />"#, escape(r))?;
    }
    writeln!(
        out,
        "    <revision>\n      <id>{}</id>\n      <timestamp>2024-01-01T00:00:00Z</timestamp>\n      <text bytes=\"{}\" xml:space=\"preserve\">{}</text>\n    </revision>\n  </page>",
        p.id,
        p.text.len(),
        escape(&p.text)
    )
}

/// Hand-written pages that exercise the title and link rules one by one (spec §5, §12), for
/// the golden comparison with MediaWiki. Titles are unique; ids follow `first_id`.
pub fn edge_cases(first_id: u32) -> Vec<DemoPage> {
    let cases: &[(i32, &str, &str)] = &[
        (10, "Template:Edge plain", "plain template [[Edge from template]]"),
        (10, "Template:Edge param", "[[{{{1}}}]] [[{{{target|Edge default target}}}]] [[{{{missing|}}}]] {{{unused|}}}"),
        (10, "Template:Edge outer", "outer {{Edge plain}} [[Edge outer link]]"),
        (10, "Template:Edge redirect", "#REDIRECT [[Template:Edge plain]]"),
        (10, "Template:Edge doc", "shown [[Edge shown]]<noinclude>[[Edge doc only]] {{Edge doc template}}</noinclude><includeonly>[[Edge included only]]</includeonly>"),
        (10, "Template:Edge only", "[[Edge outside]]<onlyinclude>[[Edge inside]]</onlyinclude>"),
        (10, "Template:Edge loop", "[[Edge loop link]] {{Edge loop}}"),
        (10, "Template:Edge box", "<div>{{{1}}}</div>"),
        (10, "Template:Edge pagename", "[[{{PAGENAME}}/sub]] [[{{FULLPAGENAME}} extra]]"),
        (0, "Edge hub", "The hub."),
        (0, "Edge spellings", "[[Edge hub]] [[edge hub]] [[ Edge hub ]] [[Edge_hub_]] [[:Edge hub]] [[Edge hub|label]] [[Edge hub]]s [[Edge hub#Section]]"),
        (0, "Edge decoding", "[[Edge target (disambiguation)|Edge target]] [[Edge%20Pct]] [[Edge&amp;Amp]] [[Edge foo|bar|baz]] [[Edge&eacute;t&eacute;]]"),
        (0, "Edge namespaces", "[[Help:Edge target]] [[TestWiki:Edge target]] [[Project:Edge target2]] [[Main:Edge target]] [[w:Edge target]] [[wikipedia:Edge target]] [[:wikipedia:Edge target]] [[mw:Edge target]] [[talk:edge talk]] [[User talk:Edge user]] [[Image talk:Edge image talk]]"),
        (0, "Edge files and categories", "[[Category:Edge cat]] [[Category:Edge cat2|sort]] [[:Category:Edge cat3]] [[File:Edge.png]] [[Image:Edge2.png|thumb|caption [[Edge caption link]]]] [[:File:Edge3.png]] [[Media:Edge4.png]] [[File:Edge5.png|link=Edge link param]]"),
        (0, "Edge special and self", "[[Special:Edge]] [[#Top]] [[Edge special and self]] [[Edge special and self#frag]]"),
        (0, "Edge hidden", "<nowiki>[[Edge hidden 1]]</nowiki> <pre>[[Edge hidden 2]]</pre> <!-- [[Edge hidden 3]] --> [[Edge visible]] <nowiki>[[Edge unclosed"),
        (0, "Edge invalid", "[[http://example.com]] [https://example.org/wiki/Target ext] [[Talk:]] [[:]] [[Edge[bad]] [[Edge\nnewline]] [[Edge<lt]] [[../Edge up]]"),
        (0, "Edge unicode", "[[ßedge]] [[éedge]] [[ǆedge]] [[Zürich edge]] [[東京 edge]] [[Edge\u{00A0}nbsp]] [[Edge\u{200E}mark]]"),
        (1, "Talk:Edge subpages", "[[/Sub]] [[/Trail/]] [[../Edge up]]"),
        (1, "Talk:Edge subpages/A/B", "[[../Up]] [[../../Top]]"),
        (0, "Edge templates", "{{Edge plain}} {{edge plain|a=1}} {{Edge missing}} {{:Edge hub}} {{Template:Edge plain}} {{msgnw:Edge outer}} {{Edge outer}} {{Edge redirect}}"),
        (0, "Edge params", "{{Edge param|Edge first| target = Edge named |unused={{Edge unused}}}} {{Edge box|[[Edge piped|label]]}}"),
        (0, "Edge inclusion", "{{Edge doc}} {{Edge only}} <noinclude>{{Edge noinclude}}</noinclude> <includeonly>{{Edge includeonly}}</includeonly>"),
        (0, "Edge loops", "{{Edge loop}}"),
        (0, "Edge magic", "{{Edge pagename}} [[{{lc:EDGE LOWER}}]] [[Edge {{!}} pipe]] [[Edge{{=}}eq]]"),
        (0, "Edge gallery", "<gallery>\nEdge gallery1.png|caption [[Edge gallery link]]\nFile:Edge gallery2.jpg\n</gallery>"),
        (0, "Edge refs", "text<ref>[[Edge ref link]] {{Edge plain}}</ref> <references />"),
        (0, "Edge redirect plain", "#REDIRECT [[Edge hub]] also [[Edge also linked]]"),
        (0, "Edge redirect self", "#redirect:[[edge redirect self#Frag]]"),
        (0, "Edge redirect fragment", "#REDIRECT [[Edge hub#Part]]"),
        (1, "Talk:Edge redirect talk", "#REDIRECT [[Edge hub]]"),
        (0, "Edge redirect to redirect", "#REDIRECT [[Edge redirect plain]]"),
        (0, "Edge links redirect", "[[Edge redirect plain]] [[Talk:Edge redirect talk]]"),
        (2, "User:127.0.0.1", "[[User:127.0.0.001]] [[User talk:::1]]"),
        (0, "Edge nested", "{{Edge box|{{Edge param|Edge deep}}}} {{{{Edge plain}}}} {{Edge box|[[Edge a]] [[Edge b|{{Edge plain}}]]}}"),
    ];
    cases
        .iter()
        .enumerate()
        .map(|(i, &(ns, title, text))| DemoPage {
            id: first_id + i as u32,
            ns,
            title: title.to_string(),
            text: text.to_string(),
            redirect: text
                .strip_prefix("#REDIRECT [[")
                .or_else(|| text.strip_prefix("#redirect:[["))
                .and_then(|r| r.split(&['|', ']', '#'][..]).next())
                .map(|t| {
                    let mut c = t.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default()
                }),
        })
        .collect()
}

/// The wiki recorded against MediaWiki for golden tests: a "Main Page" with id 1 (a fresh
/// MediaWiki install has one, so importing this dump there gives every page the same id as
/// here), the generated articles, then the edge cases.
pub fn golden_wiki(articles: u64, seed: u64) -> Vec<DemoPage> {
    let mut pages = vec![DemoPage {
        id: 1,
        ns: 0,
        title: "Main Page".into(),
        text: "Welcome.".into(),
        redirect: None,
    }];
    pages.extend(generate(articles, seed).into_iter().map(|mut p| {
        p.id += 1;
        p
    }));
    let next = pages.iter().map(|p| p.id).max().unwrap_or(0) + 1;
    pages.extend(edge_cases(next));
    pages
}
