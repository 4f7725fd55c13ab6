//! A streaming reader of MediaWiki XML dumps (export schema 0.10/0.11): `<siteinfo>` and
//! then one [`DumpPage`] per `<page>`, keeping the latest revision only.

use inlink_model::{CaseRule, Namespace, Namespaces, SiteInfo};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::io::BufRead;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpPage {
    pub title: String,
    pub ns: i32,
    pub id: u32,
    /// `<redirect title="…"/>`, present on redirect pages.
    pub redirect: Option<String>,
    pub text: String,
    /// Byte offset of the `<page>` element in the decompressed XML.
    pub position: u64,
}

/// A page that could not be read, with where it is and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub position: u64,
    pub reason: String,
}

pub struct XmlDump<R: BufRead> {
    reader: Reader<R>,
    buf: Vec<u8>,
    pub siteinfo: Option<SiteInfo>,
    /// A `<page>` start already consumed while looking for `<siteinfo>`.
    pending_page: Option<u64>,
    done: bool,
}

#[derive(Default)]
struct PageState {
    title: Option<String>,
    ns: Option<String>,
    id: Option<String>,
    redirect: Option<String>,
    text: Option<String>,
    timestamp: String,
    rev_text: Option<String>,
    rev_timestamp: String,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().and_then(|a| {
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.into_owned())
    })
}

/// Reads text content up to the end of the current element, resolving entity references.
fn read_text<R: BufRead>(reader: &mut Reader<R>, buf: &mut Vec<u8>) -> Result<String, String> {
    let mut s = String::new();
    let mut depth = 0;
    loop {
        buf.clear();
        match reader.read_event_into(buf).map_err(|e| e.to_string())? {
            Event::Text(t) => s.push_str(&t.xml10_content()),
            Event::CData(c) => s.push_str(&c),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    s.push(c);
                } else {
                    match &*r {
                        "amp" => s.push('&'),
                        "lt" => s.push('<'),
                        "gt" => s.push('>'),
                        "quot" => s.push('"'),
                        "apos" => s.push('\''),
                        other => return Err(format!("unknown entity &{other};")),
                    }
                }
            }
            Event::Start(_) => depth += 1,
            Event::End(_) if depth == 0 => return Ok(s),
            Event::End(_) => depth -= 1,
            Event::Eof => return Err("unexpected end of file".into()),
            _ => {}
        }
    }
}

/// Canonical names of the default namespaces; dumps give only local names.
fn canonical(id: i32) -> Option<&'static str> {
    Some(match id {
        -2 => "Media",
        -1 => "Special",
        1 => "Talk",
        2 => "User",
        3 => "User talk",
        4 => "Project",
        5 => "Project talk",
        6 => "File",
        7 => "File talk",
        8 => "MediaWiki",
        9 => "MediaWiki talk",
        10 => "Template",
        11 => "Template talk",
        12 => "Help",
        13 => "Help talk",
        14 => "Category",
        15 => "Category talk",
        _ => return None,
    })
}

/// The language code of a wiki from its database name (`ltgwiki` → `ltg`).
fn lang_of(dbname: &str) -> String {
    for suffix in [
        "wiki",
        "wiktionary",
        "wikibooks",
        "wikinews",
        "wikiquote",
        "wikisource",
        "wikiversity",
        "wikivoyage",
    ] {
        if let Some(l) = dbname.strip_suffix(suffix) {
            if !l.is_empty() && l.len() <= 12 {
                return l.replace('_', "-");
            }
        }
    }
    "en".into()
}

impl<R: BufRead> XmlDump<R> {
    pub fn new(input: R) -> Result<Self, Skipped> {
        let mut reader = Reader::from_reader(input);
        reader.config_mut().check_end_names = false;
        let mut d = XmlDump {
            reader,
            buf: Vec::new(),
            siteinfo: None,
            pending_page: None,
            done: false,
        };
        d.read_header()?;
        Ok(d)
    }

    pub fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn read_header(&mut self) -> Result<(), Skipped> {
        let mut saw_root = false;
        loop {
            self.buf.clear();
            let pos = self.reader.buffer_position();
            let ev = self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|e| Skipped {
                    position: pos,
                    reason: e.to_string(),
                })?;
            match ev {
                Event::Start(e) if e.local_name().as_ref() == "mediawiki" => saw_root = true,
                Event::Start(e) if e.local_name().as_ref() == "siteinfo" => {
                    self.siteinfo = Some(self.read_siteinfo().map_err(|r| Skipped {
                        position: pos,
                        reason: r,
                    })?);
                }
                Event::Start(e) if e.local_name().as_ref() == "page" => {
                    self.pending_page = Some(pos);
                    return Ok(());
                }
                Event::Eof => {
                    self.done = true;
                    return if saw_root {
                        Ok(())
                    } else {
                        Err(Skipped {
                            position: pos,
                            reason: "no <mediawiki> element".into(),
                        })
                    };
                }
                _ => {}
            }
        }
    }

    fn read_siteinfo(&mut self) -> Result<SiteInfo, String> {
        let mut sitename = String::from("Wiki");
        let mut dbname = String::new();
        let mut base = String::new();
        let mut generator = String::new();
        let mut case = CaseRule::FirstLetter;
        let mut list = Vec::new();
        loop {
            self.buf.clear();
            let ev = self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|e| e.to_string())?
                .into_owned();
            match ev {
                Event::Start(e) => {
                    let name = e.local_name().as_ref().to_string();
                    match name.as_str() {
                        "namespace" => {
                            let id: i32 = attr(&e, "key")
                                .and_then(|k| k.parse().ok())
                                .ok_or("namespace without key")?;
                            let ns_case = attr(&e, "case").and_then(|c| CaseRule::parse(&c));
                            let name = read_text(&mut self.reader, &mut self.buf)?;
                            list.push((id, name, ns_case));
                        }
                        "namespaces" => {}
                        _ => {
                            let text = read_text(&mut self.reader, &mut self.buf)?;
                            match name.as_str() {
                                "sitename" => sitename = text,
                                "dbname" => dbname = text,
                                "base" => base = text,
                                "generator" => generator = text,
                                "case" => case = CaseRule::parse(&text).unwrap_or(case),
                                _ => {}
                            }
                        }
                    }
                }
                Event::Empty(e) if e.local_name().as_ref() == "namespace" => {
                    let id: i32 = attr(&e, "key")
                        .and_then(|k| k.parse().ok())
                        .ok_or("namespace without key")?;
                    list.push((
                        id,
                        String::new(),
                        attr(&e, "case").and_then(|c| CaseRule::parse(&c)),
                    ));
                }
                Event::End(e) if e.local_name().as_ref() == "siteinfo" => break,
                Event::Eof => return Err("unexpected end of file in <siteinfo>".into()),
                _ => {}
            }
        }
        let defaults = Namespaces::mediawiki_default(&sitename);
        let namespaces = if list.is_empty() {
            defaults
        } else {
            let spaces = list
                .into_iter()
                .map(|(id, name, ns_case)| Namespace {
                    id,
                    name,
                    canonical: canonical(id).map(str::to_string),
                    case: ns_case.unwrap_or(case),
                    subpages: defaults
                        .get(id)
                        .map(|d| d.subpages)
                        .unwrap_or(id > 0 && id % 2 == 1 || id >= 100),
                    content: id == 0,
                })
                .collect();
            Namespaces::new(spaces, vec![("Image".into(), 6), ("Image talk".into(), 7)])
        };
        Ok(SiteInfo {
            lang: lang_of(&dbname),
            sitename,
            dbname,
            base,
            generator,
            case,
            namespaces,
            interwiki: None,
        })
    }

    /// The next page, a page that could not be read, or `None` at the end.
    pub fn next_page(&mut self) -> Option<Result<DumpPage, Skipped>> {
        if self.done {
            return None;
        }
        let start = match self.pending_page.take() {
            Some(p) => p,
            None => loop {
                self.buf.clear();
                let pos = self.reader.buffer_position();
                match self.reader.read_event_into(&mut self.buf) {
                    Ok(Event::Start(e)) if e.local_name().as_ref() == "page" => break pos,
                    Ok(Event::Eof) => {
                        self.done = true;
                        return None;
                    }
                    Ok(_) => {}
                    Err(e) => return Some(Err(self.fail(pos, e.to_string()))),
                }
            },
        };
        Some(self.read_page(start))
    }

    /// A syntax error: reported, and reading stops if it cannot move past it.
    fn fail(&mut self, position: u64, reason: String) -> Skipped {
        if self.reader.buffer_position() <= position {
            self.done = true;
        }
        Skipped { position, reason }
    }

    fn read_page(&mut self, position: u64) -> Result<DumpPage, Skipped> {
        let mut st = PageState::default();
        let mut in_revision = false;
        loop {
            self.buf.clear();
            let pos = self.reader.buffer_position();
            let ev = match self.reader.read_event_into(&mut self.buf) {
                Ok(ev) => ev.into_owned(),
                Err(e) => return Err(self.fail(pos, e.to_string())),
            };
            let err = |r: String| Skipped {
                position,
                reason: r,
            };
            match ev {
                Event::Start(e) => {
                    let name = e.local_name().as_ref().to_string();
                    match (name.as_str(), in_revision) {
                        ("revision", _) => {
                            in_revision = true;
                            st.rev_text = None;
                            st.rev_timestamp.clear();
                        }
                        ("title", false) => {
                            st.title =
                                Some(read_text(&mut self.reader, &mut self.buf).map_err(err)?)
                        }
                        ("ns", false) => {
                            st.ns = Some(read_text(&mut self.reader, &mut self.buf).map_err(err)?)
                        }
                        ("id", false) => {
                            st.id = Some(read_text(&mut self.reader, &mut self.buf).map_err(err)?)
                        }
                        ("redirect", false) => {
                            st.redirect = attr(&e, "title");
                            read_text(&mut self.reader, &mut self.buf).map_err(err)?;
                        }
                        ("text", true) => {
                            st.rev_text =
                                Some(read_text(&mut self.reader, &mut self.buf).map_err(err)?)
                        }
                        ("timestamp", true) => {
                            st.rev_timestamp =
                                read_text(&mut self.reader, &mut self.buf).map_err(err)?
                        }
                        ("contributor", true) => {
                            read_text(&mut self.reader, &mut self.buf).map_err(err)?;
                        }
                        _ => {}
                    }
                }
                Event::Empty(e) => match e.local_name().as_ref() {
                    "redirect" if !in_revision => st.redirect = attr(&e, "title"),
                    "text" if in_revision => st.rev_text = Some(String::new()),
                    _ => {}
                },
                Event::End(e) => match e.local_name().as_ref() {
                    "revision" => {
                        in_revision = false;
                        // Only the latest revision counts; dumps list them oldest first.
                        if st.text.is_none() || st.rev_timestamp >= st.timestamp {
                            st.text = st.rev_text.take().or(Some(String::new()));
                            st.timestamp = std::mem::take(&mut st.rev_timestamp);
                        }
                    }
                    "page" => break,
                    _ => {}
                },
                Event::Eof => {
                    self.done = true;
                    return Err(Skipped {
                        position,
                        reason: "unexpected end of file inside <page>".into(),
                    });
                }
                _ => {}
            }
        }
        let bad = |r: &str| {
            Err(Skipped {
                position,
                reason: r.to_string(),
            })
        };
        let Some(title) = st.title else {
            return bad("page without <title>");
        };
        let Some(ns) = st
            .ns
            .as_deref()
            .map(str::trim)
            .and_then(|n| n.parse().ok())
            .or(if st.ns.is_none() { Some(0) } else { None })
        else {
            return bad("page with an invalid <ns>");
        };
        let Some(id) = st.id.as_deref().and_then(|i| i.trim().parse().ok()) else {
            return bad("page without a valid <id>");
        };
        Ok(DumpPage {
            title,
            ns,
            id,
            redirect: st.redirect,
            text: st.text.unwrap_or_default(),
            position,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = r#"<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="en">
  <siteinfo>
    <sitename>TestWiki</sitename>
    <dbname>testwiki</dbname>
    <generator>MediaWiki 1.39.17</generator>
    <case>first-letter</case>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="1" case="first-letter">Talk</namespace>
      <namespace key="4" case="first-letter">TestWiki</namespace>
      <namespace key="100" case="case-sensitive">Portal</namespace>
    </namespaces>
  </siteinfo>
  <page>
    <title>Hub &amp; more</title>
    <ns>0</ns>
    <id>26</id>
    <revision><id>1</id><timestamp>2020-01-01T00:00:00Z</timestamp><contributor><username>A</username><id>5</id></contributor><text bytes="3">old [[Old]]</text></revision>
    <revision><id>2</id><timestamp>2021-01-01T00:00:00Z</timestamp><text bytes="3" xml:space="preserve">new [[New]] &lt;nowiki&gt;&#x41;</text></revision>
  </page>
  <page>
    <title>R</title><ns>0</ns><id>27</id><redirect title="Hub &amp; more" />
    <revision><id>3</id><text>#REDIRECT [[Hub &amp; more]]</text></revision>
  </page>
  <page><title>No id</title><ns>0</ns><revision><text>x</text></revision></page>
  <page><title>Empty</title><ns>0</ns><id>30</id><revision><id>4</id><text bytes="0" /></revision></page>
</mediawiki>"#;

    #[test]
    fn reads_siteinfo_pages_latest_revision_and_bad_pages() {
        let mut d = XmlDump::new(DUMP.as_bytes()).unwrap();
        let site = d.siteinfo.clone().unwrap();
        assert_eq!(site.sitename, "TestWiki");
        assert_eq!(site.lang, "test");
        assert_eq!(site.namespaces.lookup("portal"), Some(100));
        assert_eq!(site.namespaces.lookup("project"), Some(4));
        assert_eq!(site.namespaces.case(100), CaseRule::CaseSensitive);
        let p = d.next_page().unwrap().unwrap();
        assert_eq!((p.title.as_str(), p.ns, p.id), ("Hub & more", 0, 26));
        assert_eq!(p.text, "new [[New]] <nowiki>A");
        let r = d.next_page().unwrap().unwrap();
        assert_eq!(r.redirect.as_deref(), Some("Hub & more"));
        let bad = d.next_page().unwrap().unwrap_err();
        assert!(bad.reason.contains("<id>"), "{bad:?}");
        let e = d.next_page().unwrap().unwrap();
        assert_eq!((e.id, e.text.as_str()), (30, ""));
        assert!(d.next_page().is_none());
    }
}
