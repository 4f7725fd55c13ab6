//! Link segments, format `inlink-segment 20` (`docs/format.md`): the link rows of a whole
//! snapshot in one immutable, memory-mapped, checksummed file, both ways, and the titles
//! of their targets and of the pages. For every (kind,
//! target) it holds one posting list ([`crate::postings`]) per namespace of the linking
//! pages, so that both MediaWiki orders (page id; namespace then page id) and namespace
//! filters read only the lists they need, and a cursor resumes in O(log n) by the lists'
//! skip tables. For every linking page it holds the page's own rows (the forward table,
//! whose entries the store encodes and decodes), so the forward links need no B-tree. Two
//! title tables ([`crate::titles`]) map target titles to target ids and page titles to
//! page ids (with the redirect flag), and back; a target whose title is a page's is
//! written in the page table alone, paired with the page in the `shared` section. The
//! redirects ([`crate::redirects`]) name their targets by id.
//!
//! ```text
//! file    := group* titles(targets) titles(pages) redirects? shared? nsmap table[5]
//!            funiverse nsmap_at shared_at redirects_at trailer
//!                                          tables 0-3: reverse, by kind; 4: forward
//! group   := varint(len)[128] entry*       one per 128 consecutive ids (target ids, or page
//!                                          ids in the forward table); len = bytes of the
//!                                          id's entry, 0 when it has none
//!          | u128le(present) varint(len)[ones] entry*
//!                                          sparse, from version 13 (its offset has bit 62
//!                                          set): bit i says id 128g + i has an entry, and
//!                                          only those have a length
//!                                          from version 16 each len is (bytes << 2 | h):
//!                                          h < 3 says the entry's first byte is its
//!                                          table's HEADS[h], left out of the body (bytes
//!                                          then count the rest, at least 1); h = 3: the
//!                                          entry is whole
//! entry   := varint(0) postings            a target with at most 128 rows, each from a
//!                                          page whose namespace `nsmap` holds (from
//!                                          version 7); the postings run to the entry's end
//!          | varint(1) centred             the same, coded around the target's page (its
//!                                          `shared` pair) where that is smaller: from
//!                                          version 12 (`postings::encode_centred_into`)
//!                                          from version 19 both are split: the rows from
//!                                          `heavy` pages and the rest, each in ranks
//!                                          among its kind of pages
//!                                          (`postings::encode_split_into`)
//!          | varint(lists << 1) list+      namespaces ascending
//!          | varint(k << 1 | 1) zigzag(ns - previous ns)[k] varint(bytes) postings nsidx
//!                                          a target with at most 128 rows from k >= 2
//!                                          namespaces: one list, each row's namespace
//!                                          by index, ceil(log2 k) bits each, LSB first
//! list    := zigzag(ns - previous ns) varint(bytes) postings    (the first ns from 0)
//!          | zigzag(ns - previous ns) varint(bytes << 1 | ranked) postings
//!                                          from version 18: ranked = 1 says the postings
//!                                          are ranks among the pages `nsmap` files under
//!                                          ns (its universe: their count), not page ids
//!          | zigzag(ns - previous ns) varint(bytes << 2 | k) postings
//!                                          from version 19: k = 0 page ids, 1 ranks among
//!                                          the pages of the namespace's one class in
//!                                          `nsmap`, 2 and 3 of its first (light) and
//!                                          second (heavy) class; a namespace comes twice
//!                                          only as k = 2 then 3
//! fentry  := the page's link rows, as the store writes them (opaque here) but for the
//!            compact form's namespace: u8(0x80 | kinds) zigzag(ns) rest, or from version
//!            15 u8(0xC0 | kinds) rest where `nsmap` holds the page's namespace
//! titles  := a title table (`crate::titles`); its dictionary `inlink-dictionary 5` from
//!            version 20, 4 from version 17, 3 from version 9, 2 before; its ids' groups
//!            packed from version 11
//! shared  := the target ids paired with page ids of the same title (`crate::titles`,
//!            `Shared`); from version 10
//! redirects := the local redirects by page and by target id, and those with a fragment or
//!            to another wiki apart (`crate::redirects`); from version 14
//! table   := u64le[groups]                 byte offset of each group (bit 62: sparse),
//!                                          u64::MAX when empty
//! funiverse := u64le                       the forward entries' universe (the store's),
//!                                          u64::MAX: none; from version 6
//! nsmap   := varint(n) zigzag(ns - previous ns)[n] u8(width) packed u8[8] counts heavy
//!            elias_fano[n]
//!                                          from version 7: per page id below the reverse
//!                                          lists' universe, the rank of its namespace
//!                                          among the n (ascending), width bits LSB first;
//!                                          2^width - 1: none (no forward entry, or rows
//!                                          filed under several namespaces). From version
//!                                          19 the n are classes: a namespace may come
//!                                          twice, its pages with fewer than HEAVY_ROWS
//!                                          link rows, then those with more
//! counts  := (u32le[n])[ceil(ids / 512) + 1]  from version 18: per class, its pages
//!                                          with ids below 512 b (the last: all of them)
//! heavy   := ranked(pages with HEAVY_ROWS link rows or more), bits = ids; from version 19
//! elias_fano := each class's page ids (`crate::ranked`), for ranks back to ids; from 19
//! nsmap_at := u64le                        the offset of `nsmap`; from version 7
//! shared_at := u64le                       the offset of `shared`, u64::MAX: none; from
//!                                          version 10
//! redirects_at := u64le                    the offset of `redirects`, u64::MAX: none;
//!                                          from version 14
//! trailer := (u64le table offset, u32le groups, u64le links)[5 tables]
//!            place(targets) place(pages)  u64le seq  u32le version
//!            u32le crc32(every byte before it)  "inlnkSEG"
//! ```

use crate::postings::{self, get_varint, put_packed, put_varint, Malformed, Part, Postings};
use crate::ranked::{EliasFano, EliasFanoWriter, Ranked, RankedWriter};
use crate::redirects::{RedirectTarget, Redirects};
use crate::titles::{PagesByTarget, Shared, Titles, TitlesWriter, PLACE};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

pub const VERSION: u32 = 20;
/// Page ids between two rows of the namespace map's `counts` (from version 18).
const NS_BLOCK: u64 = 512;
/// Version 18 coded a list in ranks among its namespace's pages when they were at least
/// this share (1 / n) of the page ids (from 19 every class's lists are ranked).
const RANKED_SHARE: u64 = 4;
/// A page with at least this many link rows is heavy (from version 19): it is in many
/// lists, so lists code their heavy pages apart from the rest (a short list in two parts,
/// a long one in ranks among each class of its namespace). (Tests build small segments: a
/// few rows make a page heavy there, so that both classes fill.)
const HEAVY_ROWS: u64 = if cfg!(test) { 3 } else { 48 };
/// Version 4 differs only in its short lists (a varint first id and a block; no universe),
/// which the posting reader still decodes.
const OLDEST_READ: u32 = 4;
const MAGIC: &[u8; 8] = b"inlnkSEG";
/// Reverse tables, one per link kind.
pub const KINDS: usize = 4;
/// The forward table: entries by linking page id.
const FORWARD: usize = KINDS;
const TABLES: usize = KINDS + 1;
/// Targets with at most this many rows keep one list with the rows' namespaces beside it:
/// a list per namespace costs about 7 bytes before its first id, and reading one block of
/// rows to filter by namespace costs a few microseconds.
pub const MIXED_MAX: usize = 128;
const GROUP: u32 = 128;
const EMPTY: u64 = u64::MAX;
/// Set in a group's offset when the group is in the sparse form (from version 13).
const SPARSE: u64 = 1 << 62;
/// Trailer fields after the tables: the places of the two title tables.
const SEQ_AT: usize = TABLES * 20 + 2 * PLACE;
const VERSION_AT: usize = SEQ_AT + 8;
const CRC_AT: usize = VERSION_AT + 4;
const TRAILER: usize = CRC_AT + 4 + 8;
/// Version 6 puts the forward entries' universe (`u64le`, `u64::MAX`: none) before the
/// trailer of version 5.
const FORWARD_UNIVERSE: usize = 8;
const NO_UNIVERSE: u64 = u64::MAX;

/// Version 7 puts the offset of the page namespace map (`u64le`) after the forward universe.
const NSMAP_AT: usize = 8;
/// From version 16 an entry whose first byte is one of the three its table's entries most
/// begin with is stored without it, the group's header saying which (`Stored`): a reverse
/// entry's form (its list alone, centred, one list), a forward entry's compact first byte
/// (pagelinks; and templatelinks; and templatelinks and categorylinks, the namespace left
/// to the map). At 3.6 M generated pages, a byte of most entries: 5.6 MB.
const HEADS: [[u8; 3]; 2] = [
    [0x00, 0x01, 0x02],
    [
        COMPACT | IMPLIED | 0b0001,
        COMPACT | IMPLIED | 0b0011,
        COMPACT | IMPLIED | 0b1011,
    ],
];

fn heads(table: usize) -> &'static [u8; 3] {
    &HEADS[usize::from(table == FORWARD)]
}

/// An entry as a segment holds it: its first byte when the group's header stands for it
/// (from version 16), and the bytes after; or the whole entry in `rest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored<'a> {
    pub head: Option<u8>,
    pub rest: &'a [u8],
}

impl<'a> Stored<'a> {
    /// An entry held whole.
    pub fn whole(bytes: &'a [u8]) -> Self {
        Stored {
            head: None,
            rest: bytes,
        }
    }

    /// The entry's bytes, the first one put back.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.rest.len() + 1);
        v.extend(self.head);
        v.extend_from_slice(self.rest);
        v
    }

    /// The entry's bytes, the first one counted where it is left out.
    pub fn len(&self) -> usize {
        self.rest.len() + usize::from(self.head.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry's first byte.
    pub fn first(&self) -> Option<u8> {
        self.head.or(self.rest.first().copied())
    }

    /// The bytes after the first.
    pub fn after_first(&self) -> &'a [u8] {
        match self.head {
            Some(_) => self.rest,
            None => self.rest.get(1..).unwrap_or_default(),
        }
    }
}

/// A page with no namespace in the map being built.
const NO_NS: u8 = u8::MAX;
/// A forward entry's first byte: the compact form (one namespace), and from version 15 the
/// namespace left out, `nsmap` holding it.
pub const COMPACT: u8 = 0x80;
pub const IMPLIED: u8 = 0x40;

/// Version 10 puts the offset of the shared titles (`u64le`, `u64::MAX`: none) after the
/// namespace map's.
const SHARED_AT: usize = 8;
const NO_SHARED: u64 = u64::MAX;

/// Version 14 puts the offset of the redirects (`u64le`, `u64::MAX`: none) after the shared
/// titles'.
const REDIRECTS_AT: usize = 8;
const NO_REDIRECTS: u64 = u64::MAX;

/// The bytes after the last table: the trailer, the forward universe from version 6 and the
/// namespace map's offset from version 7.
fn tail_len(version: u32) -> usize {
    TRAILER
        + if version >= 6 { FORWARD_UNIVERSE } else { 0 }
        + if version >= 7 { NSMAP_AT } else { 0 }
        + if version >= 10 { SHARED_AT } else { 0 }
        + if version >= 14 { REDIRECTS_AT } else { 0 }
}
/// Title tables: targets, then pages.
const TARGET_TITLES: usize = 0;
const PAGE_TITLES: usize = 1;

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Writes a segment: first the forward entries in page order (`push_forward`), then the
/// reverse rows in (kind, target, ns, from) order (`push`), then the targets' titles
/// and the pages' ([`TitleTablesApart`], spliced in), each in dictionary order.
pub struct SegmentWriter {
    w: BufWriter<File>,
    crc: crc32fast::Hasher,
    pos: u64,
    tables: [Vec<u64>; TABLES],
    links: [u64; TABLES],
    /// The open group: (table, group number), and a forward group's entries' lengths and
    /// bytes.
    group: Option<(u8, u32)>,
    lens: [u64; GROUP as usize],
    body: Vec<u8>,
    /// The open target, and the rows of the open reverse group's targets.
    target: Option<(u8, u32)>,
    job: GroupJob,
    /// The thread coding the reverse groups, from the first; whether the parts of a group
    /// it coded are being kept in `lens` and `body`.
    coding: Option<Coding>,
    parted: bool,
    last: Option<(u8, u32, i32, u32)>,
    last_forward: Option<u32>,
    /// The title table being written (`TARGET_TITLES`, `PAGE_TITLES`), and the places of
    /// those written.
    titles: Option<(usize, TitlesWriter)>,
    places: Vec<[u8; PLACE]>,
    /// The target table's shared titles (`Shared`), written after the page table.
    shared: Vec<u8>,
    /// Where the redirects were written (`put_redirects`).
    redirects_at: Option<u64>,
    version: u32,
    forward_universe: Option<u64>,
    /// Per page id with a forward entry, its class's index in `ns_names` (`NO_NS`: none),
    /// and the classes in the order they came: a namespace, and from version 19 whether
    /// the pages are heavy (`HEAVY_ROWS`).
    page_ns: Arc<Vec<u8>>,
    ns_names: Vec<(i32, bool)>,
    /// The pages with at least `HEAVY_ROWS` link rows (from version 19).
    heavy: RankedWriter,
    /// The target titles' shared section and a walk of it, when small lists are centred
    /// on their targets' pages (`centre_on`).
    centres: Option<(Vec<u8>, PagesByTarget)>,
}

impl Write for SegmentWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl SegmentWriter {
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(SegmentWriter {
            w: BufWriter::with_capacity(1 << 20, File::create(path)?),
            crc: crc32fast::Hasher::new(),
            pos: 0,
            tables: Default::default(),
            links: [0; TABLES],
            group: None,
            lens: [0; GROUP as usize],
            body: Vec::new(),
            target: None,
            job: GroupJob::default(),
            coding: None,
            parted: false,
            last: None,
            last_forward: None,
            titles: None,
            places: Vec::new(),
            shared: Vec::new(),
            redirects_at: None,
            version: VERSION,
            forward_universe: None,
            page_ns: Arc::default(),
            ns_names: Vec::new(),
            heavy: RankedWriter::default(),
            centres: None,
        })
    }

    /// Codes each small reverse list around its target's page where that is smaller (the
    /// `centred` form), the pairs read from `titles`, the target table written apart that
    /// is to be spliced in after the link rows. Called before the first link row.
    pub fn centre_on(&mut self, titles: &TitlesWritten) -> io::Result<()> {
        if self.version < 12 || titles.shared.is_empty() {
            return Ok(());
        }
        if self.target.is_some() || self.last.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "lists are centred from the first link row",
            ));
        }
        let bytes = titles.shared.clone();
        let walk = Shared::parse(&bytes, 0)
            .map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m.0))?
            .walk();
        self.centres = Some((bytes, walk));
        Ok(())
    }

    /// Adds a target's title; titles come in dictionary order (namespace, then dbkey
    /// bytes), after every link row, each target id once. Written in line, no title is
    /// shared and the tables take the writer's version: the store writes both tables
    /// apart ([`TitleTablesApart`]); tests write older versions this way.
    #[cfg(test)]
    pub fn push_title(&mut self, ns: i32, dbkey: &str, tid: u32) -> io::Result<()> {
        self.push_titled(TARGET_TITLES, ns, dbkey, tid, false)
    }

    /// Adds a page's title; pages come in dictionary order, after every target title,
    /// each page id once (in line, as `push_title`).
    #[cfg(test)]
    pub fn push_page(&mut self, ns: i32, dbkey: &str, id: u32, redirect: bool) -> io::Result<()> {
        self.push_titled(PAGE_TITLES, ns, dbkey, id, redirect)
    }

    #[cfg(test)]
    fn push_titled(
        &mut self,
        k: usize,
        ns: i32,
        dbkey: &str,
        id: u32,
        flag: bool,
    ) -> io::Result<()> {
        self.open_titles(k)?;
        let (_, mut w) = self.titles.take().expect("opened");
        let pushed = w.push(self, ns, dbkey, id, flag);
        self.titles = Some((k, w));
        pushed
    }

    /// Makes title table `k` the open one, writing out those before it.
    fn open_titles(&mut self, k: usize) -> io::Result<()> {
        if self.titles.as_ref().is_some_and(|t| t.0 == k) {
            return Ok(());
        }
        if self.places.len() > k {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "target titles come before page titles",
            ));
        }
        if self.titles.is_none() && self.places.is_empty() {
            self.end_target()?;
            self.end_group()?;
            self.drain_coding()?;
            // No link row may follow.
            self.last = Some((u8::MAX, u32::MAX, i32::MAX, u32::MAX));
        }
        loop {
            if let Some((_, w)) = self.titles.take() {
                self.finish_titles(w)?;
            }
            let next = self.places.len();
            #[allow(unused_mut)]
            let mut table = TitlesWriter::new(self.pos);
            #[cfg(test)]
            if self.version < 9 {
                table = table.with_dictionary_version_2();
            } else if self.version < 20 {
                table = table.with_dictionary_version_4();
            }
            #[cfg(test)]
            if self.version < 11 {
                table = table.with_unpacked_groups();
            }
            self.titles = Some((next, table));
            if next >= k {
                return Ok(());
            }
        }
    }

    fn finish_titles(&mut self, w: TitlesWriter) -> io::Result<()> {
        let (place, shared) = w.finish(self)?;
        self.places.push(place);
        self.keep_shared(shared)
    }

    fn keep_shared(&mut self, shared: Vec<u8>) -> io::Result<()> {
        if shared.is_empty() {
            return Ok(());
        }
        if self.version < 10 || self.places.len() != TARGET_TITLES + 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only a target table of version 10 shares titles",
            ));
        }
        self.shared = shared;
        Ok(())
    }

    /// Puts in the target titles written apart by [`TitlesApart`] (on another thread, while
    /// this writer took the link rows), after the link rows.
    pub fn splice_titles(&mut self, titles: TitlesWritten) -> io::Result<()> {
        // The lists were centred on this table's pairs: another table's would misread them.
        if let Some((centres, _)) = self.centres.take() {
            if centres != titles.shared {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the target titles spliced in are not those the lists were centred on",
                ));
            }
        }
        self.splice(TARGET_TITLES, titles)
    }

    /// Puts in the page titles written apart, after the target titles.
    pub fn splice_pages(&mut self, pages: TitlesWritten) -> io::Result<()> {
        self.splice(PAGE_TITLES, pages)
    }

    fn splice(&mut self, k: usize, written: TitlesWritten) -> io::Result<()> {
        // Table `k` opens here (those before it end), and the written one takes its place.
        self.open_titles(k)?;
        self.titles = None;
        let base = self.pos;
        let le = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("eight bytes"));
        let mut place = written.place;
        let gtable = le(&place[16..24]);
        let groups = u64::from(u32::from_le_bytes(place[24..].try_into().expect("four")));
        // The group table ends the table: it alone holds file offsets, which move by where
        // the table lands.
        if gtable.checked_add(groups * 8) != Some(written.len) {
            return Err(io::Error::other("a title table written apart is not whole"));
        }
        // All but the group table as it is, copied file to file (in the kernel where it
        // can: `copy_file_range` on Linux), its checksum taken by the thread that wrote it.
        let mut file = File::open(&written.file.0)?;
        self.w.flush()?;
        let copied = io::copy(&mut io::Read::take(&mut file, gtable), self.w.get_mut())?;
        if copied != gtable {
            return Err(io::Error::other("a title table written apart is cut short"));
        }
        self.crc.combine(&written.crc);
        self.pos += gtable;
        let mut table = vec![0u8; (groups * 8) as usize];
        io::Read::read_exact(&mut file, &mut table)?;
        for entry in table.chunks_exact_mut(8) {
            let v = le(entry);
            if v != EMPTY {
                entry.copy_from_slice(&(v + base).to_le_bytes());
            }
        }
        self.put(&table)?;
        let dict = le(&place[..8]) + base;
        place[..8].copy_from_slice(&dict.to_le_bytes());
        place[16..24].copy_from_slice(&(gtable + base).to_le_bytes());
        self.places.push(place);
        self.keep_shared(written.shared)
    }

    /// Adds the forward entry of page `from` (`rows` link rows, counted in the trailer, all
    /// filed under namespace `ns` if it is given); pages must come strictly ascending, and
    /// before any reverse row. A small target whose rows are all from pages given a
    /// namespace here, each under it, keeps no namespaces of its own: they are read from
    /// the segment's map of page namespaces.
    pub fn push_forward(
        &mut self,
        from: u32,
        entry: &[u8],
        rows: u64,
        ns: Option<i32>,
    ) -> io::Result<()> {
        if self.last.is_some() || entry.is_empty() || self.last_forward.is_some_and(|l| l >= from) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("forward entry of page {from} out of order or empty"),
            ));
        }
        self.last_forward = Some(from);
        let heavy = rows >= HEAVY_ROWS && self.version >= 19;
        if heavy {
            self.heavy.insert(from);
        }
        let g = (FORWARD as u8, from / GROUP);
        if self.group != Some(g) {
            self.end_group()?;
            self.group = Some(g);
        }
        let mut mapped = false;
        if let Some(ns) = ns.filter(|_| self.version >= 7) {
            let rank = match self.ns_names.iter().position(|&n| n == (ns, heavy)) {
                Some(r) => r as u8,
                // More classes than a byte holds: the rest keep theirs in the entries.
                None if self.ns_names.len() < usize::from(NO_NS) => {
                    self.ns_names.push((ns, heavy));
                    (self.ns_names.len() - 1) as u8
                }
                None => NO_NS,
            };
            let at = from as usize;
            // No reverse row has come, so no coding thread holds the map yet.
            let page_ns = Arc::make_mut(&mut self.page_ns);
            if page_ns.len() <= at {
                page_ns.resize(at + 1, NO_NS);
            }
            page_ns[at] = rank;
            mapped = rank != NO_NS;
        }
        // The compact form leaves out a namespace the map holds (from version 15), and
        // has it back where it moves to a segment whose map does not.
        let start = self.body.len();
        match entry[0] & (COMPACT | IMPLIED) {
            COMPACT if mapped && self.version >= 15 => {
                let mut pos = 1;
                get_varint(entry, &mut pos)
                    .map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m.0))?;
                self.body.push(entry[0] | IMPLIED);
                self.body.extend_from_slice(&entry[pos..]);
            }
            f if f == COMPACT | IMPLIED && !mapped => {
                let ns = ns.ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "a compact entry with no namespace given",
                    )
                })?;
                self.body.push(entry[0] & !IMPLIED);
                put_varint(&mut self.body, zigzag(i64::from(ns)));
                self.body.extend_from_slice(&entry[1..]);
            }
            _ => self.body.extend_from_slice(entry),
        }
        self.lens[(from % GROUP) as usize] = (self.body.len() - start) as u64;
        self.links[FORWARD] += rows;
        Ok(())
    }

    /// The `nsmap` section: the classes' namespaces ascending (light before heavy), then
    /// each page id's rank among the classes.
    fn namespace_map(&self) -> Vec<u8> {
        let mut names = self.ns_names.clone();
        names.sort_unstable();
        let width = u32::BITS - (names.len() as u32).leading_zeros();
        let none = (1u64 << width) - 1;
        // Ranks in arrival order → ranks in namespace order.
        let rank: Vec<u64> = self
            .ns_names
            .iter()
            .map(|n| names.binary_search(n).expect("a name of the list") as u64)
            .collect();
        let mut out = Vec::new();
        put_varint(&mut out, names.len() as u64);
        let mut prev = 0i64;
        for &(ns, _) in &names {
            put_varint(&mut out, zigzag(i64::from(ns) - prev));
            prev = i64::from(ns);
        }
        out.push(width as u8);
        let ids = if self.page_ns.is_empty() {
            0
        } else {
            self.universe().unwrap_or(0)
        };
        let ranks = (0..ids).map(|id| {
            self.page_ns
                .get(id as usize)
                .and_then(|&r| rank.get(usize::from(r)))
                .copied()
                .unwrap_or(none)
        });
        // Each class's pages in all, counted on the way.
        let mut totals = vec![0u32; names.len()];
        let counted = ranks.clone().inspect(|&r| {
            if let Some(c) = totals.get_mut(r as usize) {
                *c += 1;
            }
        });
        put_packed(&mut out, counted, width);
        // A reader takes eight bytes at once wherever a rank starts.
        out.extend_from_slice(&[0; 8]);
        // From version 19, each class's pages, for turning ranks among them back into
        // page ids: written in the walk that counts them (below), put after the counts.
        let mut lists: Vec<EliasFanoWriter> = totals
            .iter()
            .filter(|_| self.version >= 19)
            .map(|&n| EliasFanoWriter::new(u64::from(n), ids))
            .collect();
        if self.version >= 18 {
            // Each class's pages below every block boundary, and in all.
            let mut seen = vec![0u32; names.len()];
            let mut put = |seen: &[u32]| {
                for c in seen {
                    out.extend_from_slice(&c.to_le_bytes());
                }
            };
            for (id, r) in ranks.enumerate() {
                if (id as u64).is_multiple_of(NS_BLOCK) {
                    put(&seen);
                }
                if let Some(c) = seen.get_mut(r as usize) {
                    *c += 1;
                }
                if let Some(w) = lists.get_mut(r as usize) {
                    w.push(id as u32);
                }
            }
            put(&seen);
        }
        if self.version >= 19 {
            // With no map, no list is coded split: an empty set.
            let mut heavy = if ids == 0 {
                RankedWriter::default()
            } else {
                self.heavy.clone()
            };
            heavy.extend_to(ids);
            heavy.write(&mut out);
            for w in lists {
                w.write(&mut out);
            }
        }
        out
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.pos += bytes.len() as u64;
        self.w.write_all(bytes)
    }

    /// The page ids reverse rows may hold, once the forward entries are in (see `universe`).
    fn universe(&self) -> Option<u64> {
        (self.version > OLDEST_READ)
            .then(|| universe(self.last_forward.map_or(0, |f| f / GROUP + 1)))
    }

    /// Records the universe the forward entries' lists were written in (opaque here: the
    /// store writes and reads the entries), for [`Segment::forward_universe`].
    pub fn set_forward_universe(&mut self, universe: u64) {
        self.forward_universe = Some(universe);
    }

    /// Writes an older version, to test that it is still read.
    #[cfg(test)]
    fn with_version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Adds one link row; rows must come strictly ascending, each from a page with a
    /// forward entry (or with none at all in the segment).
    pub fn push(&mut self, kind: u8, tid: u32, ns: i32, from: u32) -> io::Result<()> {
        self.push_list(kind, tid, ns, &[from])
    }

    /// Adds the link rows from pages `from` (strictly ascending) to one target in one
    /// namespace, as [`push`](Self::push) of each would: a bulk build hands them over a
    /// list at a time, and its checks made a sixth of the reverse index's time by row.
    pub fn push_list(&mut self, kind: u8, tid: u32, ns: i32, from: &[u32]) -> io::Result<()> {
        let (Some(&first), Some(&last)) = (from.first(), from.last()) else {
            return Ok(());
        };
        if self.universe().is_some_and(|u| u64::from(last) >= u) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "link row {:?} from past the last forward entry's group",
                    (kind, tid, ns, last)
                ),
            ));
        }
        let row = (kind, tid, ns, first);
        if usize::from(kind) >= KINDS
            || self.last.is_some_and(|l| l >= row)
            || !from.windows(2).all(|w| w[0] < w[1])
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("link rows out of order at {row:?}"),
            ));
        }
        self.last = Some((kind, tid, ns, last));
        if self.target != Some((kind, tid)) {
            self.end_target()?;
            // A group ends when a target of the next one begins: its rows are then the
            // next group's, not the open one's.
            let g = (kind, tid / GROUP);
            if self.group != Some(g) {
                self.end_group()?;
                self.group = Some(g);
            }
            self.target = Some((kind, tid));
        }
        let job = &mut self.job;
        if job.lists.len() == job.open_lists() || job.lists.last().is_some_and(|&(n, _)| n != ns) {
            job.lists.push((ns, job.ids.len()));
        }
        job.ids.extend_from_slice(from);
        self.links[usize::from(kind)] += from.len() as u64;
        Ok(())
    }

    /// Files the open target's rows with its group's, to be coded with them.
    fn end_target(&mut self) -> io::Result<()> {
        let Some((_, tid)) = self.target.take() else {
            return Ok(());
        };
        let job = &mut self.job;
        // A small list may be centred on its target's page; the walk to it goes by target
        // id, so it is taken here, in order, and not by the threads coding the groups.
        let centre = match &mut self.centres {
            Some((bytes, walk)) if job.ids.len() - job.open_ids() <= MIXED_MAX => walk
                .page_of(bytes, tid)
                .map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m.0))?,
            _ => None,
        };
        job.targets.push(TargetRows {
            at: (tid % GROUP) as u8,
            lists_end: job.lists.len(),
            ids_end: job.ids.len(),
            centre,
        });
        if job.ids.len() >= PART_ROWS {
            let (kind, g) = self.group.expect("a target's group is open");
            self.send_part(kind, g, false)?;
        }
        Ok(())
    }

    fn end_group(&mut self) -> io::Result<()> {
        let Some((kind, g)) = self.group.take() else {
            return Ok(());
        };
        if usize::from(kind) == FORWARD {
            return self.write_kept(kind, g);
        }
        self.send_part(kind, g, true)
    }

    /// Writes the group kept in `lens` and `body` (a forward group, or a reverse group's
    /// parts coded apart).
    fn write_kept(&mut self, kind: u8, g: u32) -> io::Result<()> {
        let lens = std::mem::replace(&mut self.lens, [0; GROUP as usize]);
        let body = std::mem::take(&mut self.body);
        self.write_group(kind, g, &lens, &body)?;
        self.body = body;
        self.body.clear();
        // After the parts of a group of the most linked targets, tens of MB.
        self.body.shrink_to(1 << 20);
        Ok(())
    }

    /// Hands the rows of the open reverse group's targets ended so far to the coding
    /// thread: all its rows (`last`), or a part of them when they are many — the first
    /// groups hold the most linked targets, hundreds of millions of rows at full size.
    fn send_part(&mut self, kind: u8, g: u32, last: bool) -> io::Result<()> {
        let fresh = match &mut self.coding {
            Some(c) => c.spare.pop().unwrap_or_default(),
            None => GroupJob::default(),
        };
        let mut job = std::mem::replace(&mut self.job, fresh);
        (job.kind, job.group, job.last) = (kind, g, last);
        self.code(job)
    }

    /// Hands a reverse group to the coding threads (started with the first), and writes
    /// those they have coded, in order; it waits while too many rows are in their hands.
    fn code(&mut self, job: GroupJob) -> io::Result<()> {
        if self.coding.is_none() {
            let coder = EntryCoder {
                page_ns: self.page_ns.clone(),
                ns_names: self.ns_names.clone(),
                universe: self.universe(),
                ranks: (self.version >= 18 && !self.page_ns.is_empty())
                    .then(|| Arc::new(PageRanks::new(self.page_ns.clone(), self.ns_names.len()))),
                flags: match self.version {
                    19.. => 2,
                    18 => 1,
                    _ => 0,
                },
                parts: Vec::new(),
                heavy: (self.version >= 19 && !self.page_ns.is_empty()).then(|| {
                    Arc::new(HeavyRanks::new(
                        self.heavy.words(),
                        self.universe().unwrap_or(0),
                    ))
                }),
                split: [Vec::new(), Vec::new()],
                ranked: Vec::new(),
                coded: Vec::new(),
                rows: Vec::new(),
            };
            self.coding = Some(Coding::start(coder)?);
        }
        self.coding.as_mut().expect("started").send(job)?;
        loop {
            let c = self.coding.as_mut().expect("started");
            let waited = c.in_flight >= MAX_BATCHES_CODING || c.rows > MAX_ROWS_CODING;
            let Some(done) = c.take(waited)? else {
                return Ok(());
            };
            self.write_coded(done)?;
        }
    }

    /// Waits for the coding threads to code every group they were given, and writes them.
    fn drain_coding(&mut self) -> io::Result<()> {
        while let Some(done) = match &mut self.coding {
            Some(c) => c.take(true)?,
            _ => None,
        } {
            self.write_coded(done)?;
        }
        if let Some(c) = self.coding.take() {
            c.stop()?;
        }
        Ok(())
    }

    fn write_coded(&mut self, mut done: GroupJob) -> io::Result<()> {
        if done.last && !self.parted {
            self.write_group(done.kind, done.group, &done.lens, &done.body)?;
        } else {
            // A part: its entries are kept until the group's last part is in.
            for (l, &d) in self.lens.iter_mut().zip(&done.lens) {
                *l += d;
            }
            self.body.extend_from_slice(&done.body);
            self.parted = !done.last;
            if done.last {
                self.write_kept(done.kind, done.group)?;
            }
        }
        if let Some(c) = &mut self.coding {
            c.rows -= done.rows;
            done.clear();
            c.spare.push(done);
        }
        Ok(())
    }

    /// Writes group `g` of table `kind`: its header (the entries' lengths), then `body`.
    fn write_group(
        &mut self,
        kind: u8,
        g: u32,
        lens: &[u64; GROUP as usize],
        body: &[u8],
    ) -> io::Result<()> {
        // The header's values, and whether each entry's first byte is left out.
        let mut values = [0u64; GROUP as usize];
        let mut cut = [false; GROUP as usize];
        let mut at = 0usize;
        for i in 0..GROUP as usize {
            let l = lens[i];
            if l == 0 {
                continue;
            }
            values[i] = if self.version >= 16 {
                let h = (l >= 2)
                    .then(|| body.get(at))
                    .flatten()
                    .and_then(|b| heads(usize::from(kind)).iter().position(|h| h == b));
                cut[i] = h.is_some();
                match h {
                    Some(h) => (l - 1) << 2 | h as u64,
                    None => l << 2 | 3,
                }
            } else {
                l
            };
            at += l as usize;
        }
        let values = &values;
        let mut head = Vec::with_capacity(GROUP as usize);
        for &l in values {
            put_varint(&mut head, l);
        }
        let mut offset = self.pos;
        if self.version >= 13 {
            // A kind whose targets are few (templates, categories) has a few in a group of
            // 128 ids: a bitmap of those present and their lengths alone, not 128 lengths.
            let present = (0..GROUP as usize)
                .filter(|&i| lens[i] > 0)
                .fold(0u128, |m, i| m | 1 << i);
            let mut sparse = present.to_le_bytes().to_vec();
            for &l in values.iter().filter(|&&l| l > 0) {
                put_varint(&mut sparse, l);
            }
            if sparse.len() < head.len() {
                head = sparse;
                offset |= SPARSE;
            }
        }
        let table = &mut self.tables[usize::from(kind)];
        table.resize(g as usize, EMPTY);
        table.push(offset);
        self.put(&head)?;
        if !cut.contains(&true) {
            return self.put(body);
        }
        let mut at = 0usize;
        for i in 0..GROUP as usize {
            let l = lens[i] as usize;
            if l > 0 {
                let from = at + usize::from(cut[i]);
                self.put(&body[from..at + l])?;
            }
            at += l;
        }
        Ok(())
    }

    /// Writes the tables and the trailer and syncs the file; `seq` is recorded in it.
    /// Adds the redirects section ([`crate::redirects::RedirectsWriter::write`]'s bytes),
    /// after the title tables and before `finish`.
    pub fn put_redirects(&mut self, section: &[u8]) -> io::Result<()> {
        if self.redirects_at.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "redirects given twice",
            ));
        }
        self.redirects_at = Some(self.pos);
        self.put(section)
    }

    pub fn finish(mut self, seq: u64) -> io::Result<()> {
        if self.places.len() <= PAGE_TITLES {
            self.open_titles(PAGE_TITLES)?;
            let (_, w) = self.titles.take().expect("opened");
            self.finish_titles(w)?;
        }
        let shared_at = if self.shared.is_empty() {
            NO_SHARED
        } else {
            let (at, shared) = (self.pos, std::mem::take(&mut self.shared));
            self.put(&shared)?;
            at
        };
        if self.redirects_at.is_some() && self.version < 14 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "redirects need version 14",
            ));
        }
        let nsmap_at = self.pos;
        if self.version >= 7 {
            let map = self.namespace_map();
            self.put(&map)?;
        }
        let mut trailer = Vec::with_capacity(tail_len(self.version));
        if self.version >= 6 {
            let u = self.forward_universe.unwrap_or(NO_UNIVERSE);
            trailer.extend_from_slice(&u.to_le_bytes());
        } else if self.forward_universe.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a forward universe needs version 6",
            ));
        }
        if self.version >= 7 {
            trailer.extend_from_slice(&nsmap_at.to_le_bytes());
        }
        if self.version >= 10 {
            trailer.extend_from_slice(&shared_at.to_le_bytes());
        }
        if self.version >= 14 {
            let at = self.redirects_at.unwrap_or(NO_REDIRECTS);
            trailer.extend_from_slice(&at.to_le_bytes());
        }
        let tables = std::mem::take(&mut self.tables);
        let mut placed = Vec::new();
        for table in &tables {
            let at = self.pos;
            let mut bytes = Vec::with_capacity(table.len() * 8);
            for &o in table {
                bytes.extend_from_slice(&o.to_le_bytes());
            }
            self.put(&bytes)?;
            placed.push((at, table.len() as u32));
        }
        for (k, (at, groups)) in placed.into_iter().enumerate() {
            trailer.extend_from_slice(&at.to_le_bytes());
            trailer.extend_from_slice(&groups.to_le_bytes());
            trailer.extend_from_slice(&self.links[k].to_le_bytes());
        }
        for place in &self.places {
            trailer.extend_from_slice(place);
        }
        trailer.extend_from_slice(&seq.to_le_bytes());
        trailer.extend_from_slice(&self.version.to_le_bytes());
        self.put(&trailer)?;
        let crc = self.crc.clone().finalize();
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.write_all(MAGIC)?;
        let file = self.w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    }
}

/// A title table written to a scratch file of its own, so that another thread can write
/// it while the segment takes its link rows; [`SegmentWriter::splice_titles`] and
/// [`SegmentWriter::splice_pages`] put it in. Titles come as `push_title`'s do.
pub struct TitlesApart {
    w: BufWriter<File>,
    file: ScratchFile,
    table: TitlesWriter,
    len: u64,
    crc: crc32fast::Hasher,
}

/// A title table written apart, waiting to be spliced in.
pub struct TitlesWritten {
    file: ScratchFile,
    len: u64,
    place: [u8; PLACE],
    /// The checksum of all but the group table.
    crc: crc32fast::Hasher,
    /// The shared titles' section (targets only; empty when none).
    shared: Vec<u8>,
}

/// A scratch file, removed when dropped.
struct ScratchFile(std::path::PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

static APART: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts and checksums what goes through, so that the table knows its length and the
/// splice need not read it.
struct Counted<'a> {
    w: &'a mut BufWriter<File>,
    n: &'a mut u64,
    crc: &'a mut crc32fast::Hasher,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        *self.n += n as u64;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl TitlesApart {
    /// A table written into a scratch file in `dir`, with room for `titles` titles.
    pub fn create(dir: &Path, titles: u64) -> io::Result<Self> {
        let n = APART.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("titles-{}-{n}.tmp", std::process::id()));
        let file = ScratchFile(path);
        Ok(TitlesApart {
            w: BufWriter::with_capacity(1 << 20, File::create(&file.0)?),
            file,
            // Offsets from the table's start; the splice moves them.
            table: TitlesWriter::with_capacity(0, titles),
            len: 0,
            crc: crc32fast::Hasher::new(),
        })
    }

    pub fn push(&mut self, ns: i32, dbkey: &str, id: u32, flag: bool) -> io::Result<()> {
        let mut out = Counted {
            w: &mut self.w,
            n: &mut self.len,
            crc: &mut self.crc,
        };
        self.table.push(&mut out, ns, dbkey, id, flag)
    }

    pub fn finish(mut self) -> io::Result<TitlesWritten> {
        let mut out = Counted {
            w: &mut self.w,
            n: &mut self.len,
            crc: &mut self.crc,
        };
        let finished = self.table.finish_but_table(&mut out)?;
        // Not in the checksum: the splice rewrites it.
        self.w.write_all(&finished.table)?;
        self.len += finished.table.len() as u64;
        self.w.flush()?;
        Ok(TitlesWritten {
            file: self.file,
            len: self.len,
            place: finished.place,
            crc: self.crc,
            shared: finished.shared,
        })
    }
}

/// Both title tables of a segment written apart, given in one walk in dictionary order:
/// a target whose title is the page's given just before it shares the page's title (it
/// is written once, in the page table). [`SegmentWriter::splice_titles`] and
/// [`SegmentWriter::splice_pages`] put them in.
pub struct TitleTablesApart {
    targets: TitlesApart,
    /// `None`: the pages are given only to pair the targets with; another writer writes
    /// their table (`targets_only`).
    pages: Option<TitlesApart>,
    /// The last page given: its title and id.
    page: Option<(i32, String, u32)>,
    /// The last target given, to keep targets in order (a shared one is not checked by
    /// the target dictionary).
    target: Option<(i32, String)>,
}

impl TitleTablesApart {
    /// Tables written into scratch files in `dir`, with room for `targets` and `pages`
    /// titles.
    pub fn create(dir: &Path, targets: u64, pages: u64) -> io::Result<Self> {
        let mut t = TitlesApart::create(dir, targets)?;
        t.table = t.table.sharing();
        Ok(TitleTablesApart {
            targets: t,
            pages: Some(TitlesApart::create(dir, pages)?),
            page: None,
            target: None,
        })
    }

    /// The target table alone, the pages given only to pair targets with: a bulk load
    /// writes the page table on another thread, so that the target table's pairs (which
    /// centre the reverse lists) are ready sooner.
    pub fn targets_only(dir: &Path, targets: u64) -> io::Result<Self> {
        let mut t = TitlesApart::create(dir, targets)?;
        t.table = t.table.sharing();
        Ok(TitleTablesApart {
            targets: t,
            pages: None,
            page: None,
            target: None,
        })
    }

    /// Lists the shared titles of target ids below `tid` rather than keeping them in the
    /// rank sets: ids given out of their pages' order.
    pub fn list_shared_below(&mut self, tid: u32) {
        self.targets.table.list_shared_below(tid);
    }

    /// Adds a page; pages come in dictionary order.
    pub fn push_page(&mut self, ns: i32, dbkey: &str, id: u32, redirect: bool) -> io::Result<()> {
        if let Some(pages) = &mut self.pages {
            pages.push(ns, dbkey, id, redirect)?;
        }
        let page = self.page.get_or_insert_with(|| (ns, String::new(), id));
        page.0 = ns;
        page.1.clear();
        page.1.push_str(dbkey);
        page.2 = id;
        Ok(())
    }

    /// Adds a target; targets come in dictionary order, each after the pages before it or
    /// of its title.
    pub fn push_target(&mut self, ns: i32, dbkey: &str, tid: u32) -> io::Result<()> {
        if let Some((n, t)) = &mut self.target {
            if (*n, t.as_bytes()) >= (ns, dbkey.as_bytes()) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("target ({ns}, {dbkey:?}) out of order"),
                ));
            }
            *n = ns;
            t.clear();
            t.push_str(dbkey);
        } else {
            self.target = Some((ns, dbkey.to_string()));
        }
        match &self.page {
            Some((n, t, id)) if *n == ns && t == dbkey && crate::titles::shareable(*id) => {
                self.targets.table.push_shared(tid, *id)
            }
            _ => self.targets.push(ns, dbkey, tid, false),
        }
    }

    /// The two tables: targets, then pages.
    pub fn finish(self) -> io::Result<(TitlesWritten, TitlesWritten)> {
        let pages = self
            .pages
            .ok_or_else(|| io::Error::other("a target table written alone has no page table"))?;
        Ok((self.targets.finish()?, pages.finish()?))
    }

    /// The target table (of `targets_only`).
    pub fn finish_targets(self) -> io::Result<TitlesWritten> {
        self.targets.finish()
    }
}

/// Two iterators of titles in dictionary order, merged (no title is in both).
struct MergeTitles<A: Iterator, B: Iterator> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

type TitleRow = Result<(i32, String, u32), Malformed>;

impl<A, B> Iterator for MergeTitles<A, B>
where
    A: Iterator<Item = TitleRow>,
    B: Iterator<Item = TitleRow>,
{
    type Item = TitleRow;

    fn next(&mut self) -> Option<TitleRow> {
        let a_first = match (self.a.peek(), self.b.peek()) {
            (Some(Ok(x)), Some(Ok(y))) => (x.0, x.1.as_bytes()) < (y.0, y.1.as_bytes()),
            (Some(Err(_)), _) | (_, None) => true,
            _ => false,
        };
        if a_first {
            self.a.next()
        } else {
            self.b.next()
        }
    }
}

/// Why a segment file cannot be used.
#[derive(Debug)]
pub enum SegmentError {
    Io(io::Error),
    /// Written by another format version.
    Version(u32),
    Corrupted(String),
}

impl From<io::Error> for SegmentError {
    fn from(e: io::Error) -> Self {
        SegmentError::Io(e)
    }
}

impl From<Malformed> for SegmentError {
    fn from(m: Malformed) -> Self {
        SegmentError::Corrupted(m.0.to_string())
    }
}

/// An open segment.
pub struct Segment {
    id: u64,
    map: Arc<memmap2::Mmap>,
    targets: Titles,
    pages: Titles,
    /// The target titles written in the page table (from version 10).
    shared: Shared,
    /// The redirects and where they start (from version 14; none when not written).
    redirects: Option<(Redirects, usize)>,
    /// Whether group headers stand for entries' first bytes (from version 16).
    heads: bool,
    /// The low bits of a list's length that say what it holds: ranks among its
    /// namespace's pages (one bit, version 18), or among one of its classes' (two, from
    /// version 19).
    flags: u32,
    tables: [(usize, u32); TABLES],
    links: [u64; TABLES],
    seq: u64,
    /// The page ids that reverse lists may hold (none in version 4).
    universe: Option<u64>,
    forward_universe: Option<u64>,
    /// The linking pages' namespaces (from version 7).
    nsmap: Option<NsMap>,
    /// Where the groups, titles and tables end.
    body_end: usize,
}

/// Where a segment's map of page namespaces lies (`nsmap`).
#[derive(Debug)]
struct NsMap {
    names: Vec<i32>,
    width: u32,
    /// The packed ranks: their offset, and how many page ids they cover.
    at: usize,
    ids: u64,
    /// Where the counts of each namespace's pages before every `NS_BLOCK` ids lie, from
    /// version 18 (`counts`).
    counts: Option<usize>,
    /// The pages with many link rows (`heavy`, from version 19), and each class's pages
    /// (`select`).
    heavy: Option<Ranked>,
    select: Vec<EliasFano>,
    /// [`Namespaces`]' constants for reading a word of ranks at a time.
    fits: [u8; 8],
    low: u64,
    over_w: u32,
}

/// A segment's map of page namespaces, borrowed for reading entries.
#[derive(Clone, Copy)]
pub struct Namespaces<'a> {
    names: &'a [i32],
    width: u32,
    packed: &'a [u8],
    ids: u64,
    /// `counts` (from version 18): u32le per namespace for each block boundary; empty
    /// before.
    counts: &'a [u8],
    /// The heavy pages and each class's pages (from version 19), read in `body`.
    heavy: Option<Ranked>,
    select: &'a [EliasFano],
    body: &'a [u8],
    /// For reading ranks a word at a time: the fields a word holds after a shift of 0 to
    /// 7 bits, a one at each field's lowest bit, and 2^16 / width rounded up.
    fits: [u8; 8],
    low: u64,
    over_w: u32,
}

impl std::fmt::Debug for Namespaces<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespaces")
            .field("names", &self.names)
            .field("ids", &self.ids)
            .finish()
    }
}

impl Namespaces<'_> {
    /// The ids of a short list coded in two parts (`postings::encode_split_into`, from
    /// version 19), ascending: ranks among the heavy pages and among the rest, centred on
    /// the target's page when `centre` is given.
    fn split_list(
        &self,
        bytes: &[u8],
        universe: u64,
        centre: Option<impl FnOnce() -> Result<u32, Malformed>>,
    ) -> Result<Vec<u32>, Malformed> {
        let (set, body) = (self.heavy.ok_or(Malformed("no heavy pages"))?, self.body);
        let heavy = set.len();
        let universes = [heavy, set.bits() - heavy];
        let centres = match centre {
            Some(c) => {
                let page = c()?;
                if u64::from(page) >= universe {
                    return Err(Malformed("centre past the universe"));
                }
                // As the writer's `HeavyRanks::centres`.
                let r = set.rank(body, page);
                let last = |u: u64| u.saturating_sub(1);
                Some([
                    r.min(last(universes[0])),
                    // (A damaged directory may count more pages below it than it has.)
                    u64::from(page).saturating_sub(r).min(last(universes[1])),
                ])
            }
            None => None,
        };
        let part = |i: usize| Part {
            ids: &[],
            universe: universes[i],
            centre: centres.map(|c| c[i] as u32),
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        postings::decode_split(bytes, [part(0), part(1)], [&mut a, &mut b])?;
        set.select_each(body, &mut a, false)?;
        set.select_each(body, &mut b, true)?;
        // Two ascending runs of distinct pages.
        let mut ids = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i] < b[j] {
                ids.push(a[i]);
                i += 1;
            } else {
                ids.push(b[j]);
                j += 1;
            }
        }
        ids.extend_from_slice(&a[i..]);
        ids.extend_from_slice(&b[j..]);
        Ok(ids)
    }

    /// The pages of namespace index `j` among those of block boundaries `b` (ids below
    /// `b * NS_BLOCK`; the last boundary counts them all).
    fn count_at(&self, b: u64, j: usize) -> u32 {
        let at = (b as usize * self.names.len() + j) * 4;
        self.counts
            .get(at..at + 4)
            .map_or(0, |c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
    }

    /// Block boundaries in `counts`: one per `NS_BLOCK` ids and one past the last.
    fn boundaries(&self) -> u64 {
        self.ids.div_ceil(NS_BLOCK) + 1
    }

    /// The pages of namespace index `j`: a ranked list's universe.
    pub fn pages_in(&self, j: usize) -> u32 {
        self.count_at(self.boundaries() - 1, j)
    }

    /// The page ids of `[from, to)` that one word read at `from` holds (at least one, at
    /// most `to - from`), and which of them are of namespace index `j`: the highest bit of
    /// each such id's field is set.
    #[inline(always)]
    fn chunk(&self, from: u64, to: u64, j: usize) -> (u64, u64) {
        let w = u64::from(self.width);
        if w == 0 {
            return (to - from, 0);
        }
        let bit = from * w;
        let at = (bit / 8) as usize;
        // Checked at open: eight bytes follow every rank's first byte.
        let word = self
            .packed
            .get(at..at + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            >> (bit % 8);
        let k = u64::from(self.fits[(bit % 8) as usize]).min(to - from);
        let fields = if k * w >= 64 {
            u64::MAX
        } else {
            (1u64 << (k * w)) - 1
        };
        // Ones at every field's lowest bit, then its highest: a field of `x` is zero
        // exactly when its highest bit stays clear in `(x & !high) + !high | x`.
        let low = self.low & fields;
        let high = low << (w - 1);
        let x = (word ^ (low * j as u64)) & fields;
        let nonzero = (((x & !high) + (!high & fields)) | x) & high;
        (k, high & !nonzero)
    }

    /// The index in `names` of page `id`'s namespace; `None` when the map has none.
    fn rank(&self, id: u32) -> Option<usize> {
        if u64::from(id) >= self.ids || self.width == 0 {
            return None;
        }
        let bit = u64::from(id) * u64::from(self.width);
        let at = (bit / 8) as usize;
        // Checked at open: eight bytes follow every rank's first byte.
        let word = u64::from_le_bytes(self.packed.get(at..at + 8)?.try_into().ok()?);
        let r = (word >> (bit % 8)) & ((1u64 << self.width) - 1);
        Some(r as usize).filter(|&r| r < self.names.len())
    }

    /// The pages of namespace index `j` with ids below `id` (a ranked list's rank of the
    /// first such page at or after `id`).
    pub fn rank_below(&self, j: usize, id: u64) -> u32 {
        let id = id.min(self.ids);
        let b = id / NS_BLOCK;
        let mut n = self.count_at(b, j);
        let mut at = b * NS_BLOCK;
        while at < id {
            let (k, m) = self.chunk(at, id, j);
            n += m.count_ones();
            at += k;
        }
        n
    }

    /// The last block boundary with at most `rank` pages of namespace index `j` below it,
    /// at or after `from`. It gallops out from where the rank would fall were the pages
    /// spread evenly (or from `from`), so that it reads a few neighbouring rows of
    /// `counts`, not a dozen spread over them: each a cache miss, the first time.
    fn boundary_of(&self, j: usize, rank: u32, from: Option<u64>) -> u64 {
        let last = self.boundaries() - 1;
        let below = |b: u64| self.count_at(b, j) <= rank;
        let guess = from.unwrap_or_else(|| {
            let pages = u64::from(self.pages_in(j)).max(1);
            u64::from(rank) * last / pages
        });
        let (mut lo, mut hi) = (guess.min(last), last + 1);
        if below(lo) {
            let mut step = 1;
            while lo + step <= last && below(lo + step) {
                lo += step;
                step *= 2;
            }
            hi = hi.min(lo + step);
        } else {
            let floor = from.unwrap_or(0);
            let mut step = 1;
            hi = lo;
            lo = hi.saturating_sub(step).max(floor);
            while lo > floor && !below(lo) {
                hi = lo;
                step *= 2;
                lo = lo.saturating_sub(step).max(floor);
            }
        }
        // `lo` qualifies (or is the floor) and `hi` does not (or is past the last).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if below(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Turns `ranks` (ascending, among the pages of namespace index `j`) into those
    /// pages' ids, in place: a word of the map at a time, each word's pages of `j` found
    /// by their bits, a jump by `counts` where the next rank is past the next block.
    pub fn ids_of_ranks(&self, j: usize, ranks: &mut [u32]) -> Result<(), Malformed> {
        if let Some(ef) = self.select.get(j) {
            return ef.select_ascending(self.body, ranks);
        }
        // A word's matches are counted by a popcount; without the instruction it is a
        // dozen others, a quarter of a query's conversions (`perf`).
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU was just found to have POPCNT.
            return unsafe { self.ids_of_ranks_popcnt(j, ranks) };
        }
        self.convert(j, ranks)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn ids_of_ranks_popcnt(&self, j: usize, ranks: &mut [u32]) -> Result<(), Malformed> {
        self.convert(j, ranks)
    }

    #[inline(always)]
    fn convert(&self, j: usize, ranks: &mut [u32]) -> Result<(), Malformed> {
        let last = self.boundaries() - 1;
        // `at`: the next id to look at; `seen`: the pages of `j` below it.
        let (mut at, mut seen) = (u64::MAX, 0u32);
        let mut i = 0;
        while let Some(&want) = ranks.get(i) {
            let b = at / NS_BLOCK;
            if at == u64::MAX || want < seen || b + 2 <= last && self.count_at(b + 2, j) <= want {
                // Far ahead (or the first): the last boundary at or below it.
                let lo = self.boundary_of(j, want, if at == u64::MAX { None } else { Some(b) });
                (at, seen) = (lo * NS_BLOCK, self.count_at(lo, j));
                if seen > want {
                    return Err(Malformed("namespace counts out of order"));
                }
            }
            if at >= self.ids {
                return Err(Malformed("a rank past its namespace's pages"));
            }
            let (k, mut m) = self.chunk(at, self.ids, j);
            let c = m.count_ones();
            // Every rank that falls in this word, by its bit among the word's matches.
            let mut taken = 0;
            while let Some(&r) = ranks.get(i).filter(|&&r| r >= seen && r - seen < c) {
                for _ in taken..r - seen {
                    m &= m - 1;
                }
                taken = r - seen;
                // The field of the bit: its index over `w`, by a multiply (w <= 8).
                let field = (m.trailing_zeros() * self.over_w) >> 16;
                ranks[i] = (at + u64::from(field)) as u32;
                i += 1;
            }
            seen += c;
            at += k;
        }
        Ok(())
    }
}

impl NsMap {
    /// Reads the `nsmap` section at `at`, for the `ids` page ids below the reverse lists'
    /// universe, within the segment's body.
    fn parse(body: &[u8], at: usize, ids: u64, version: u32) -> Result<Self, Malformed> {
        let counted = version >= 18;
        let mut pos = at;
        let n = get_varint(body, &mut pos)?;
        if n > u64::from(NO_NS) {
            return Err(Malformed("namespace map: too many namespaces"));
        }
        // From version 19 a namespace may name two classes: its pages with few links,
        // then those with many.
        let names = read_namespaces(body, &mut pos, n as usize, version >= 19)?;
        let width = u32::from(
            *body
                .get(pos)
                .ok_or(Malformed("namespace map past the end"))?,
        );
        pos += 1;
        if width != u32::BITS - (n as u32).leading_zeros() {
            return Err(Malformed("namespace map: width"));
        }
        let ids = if width == 0 { 0 } else { ids };
        let packed = (ids * u64::from(width)).div_ceil(8) + 8;
        let end = (pos as u64).saturating_add(packed);
        let counts_len = (ids.div_ceil(NS_BLOCK) + 1) * n * 4;
        if end.saturating_add(if counted { counts_len } else { 0 }) > body.len() as u64 {
            return Err(Malformed("namespace map past the end"));
        }
        let (mut heavy, mut select) = (None, Vec::new());
        if version >= 19 {
            let at = end + counts_len;
            let (set, mut at) = Ranked::parse(body, at as usize)?;
            if set.bits() != ids {
                return Err(Malformed("heavy pages: not the map's ids"));
            }
            heavy = Some(set);
            // Each class's pages, as many as the last row of `counts` says.
            let totals = end + counts_len - n * 4;
            for j in 0..n {
                let c = (totals + j * 4) as usize;
                let pages = u32::from_le_bytes(body[c..c + 4].try_into().expect("4 bytes"));
                let (ef, next) = EliasFano::parse(body, at, u64::from(pages), ids)?;
                select.push(ef);
                at = next;
            }
        }
        let w = width.max(1);
        let (mut low, mut bit) = (0u64, 0);
        while bit < 64 {
            low |= 1 << bit;
            bit += w;
        }
        Ok(NsMap {
            names,
            width,
            at: pos,
            ids,
            counts: counted.then_some(end as usize),
            heavy,
            select,
            fits: std::array::from_fn(|shift| ((64 - shift as u32) / w) as u8),
            low,
            over_w: (1u32 << 16).div_ceil(w),
        })
    }
}

/// `n` strictly ascending namespaces, each as `zigzag(ns - previous ns)` (the first from 0);
/// with `twice`, each may come twice (a namespace map's classes).
fn read_namespaces(
    bytes: &[u8],
    pos: &mut usize,
    n: usize,
    twice: bool,
) -> Result<Vec<i32>, Malformed> {
    let mut names: Vec<i32> = Vec::with_capacity(n.min(bytes.len()));
    let mut ns = 0i64;
    for _ in 0..n {
        ns = ns
            .checked_add(unzigzag(get_varint(bytes, pos)?))
            .ok_or(Malformed("namespace past i32"))?;
        let ns32 = i32::try_from(ns).map_err(|_| Malformed("namespace past i32"))?;
        let k = names.len();
        let again = twice && k > 0 && names[k - 1] == ns32 && (k < 2 || names[k - 2] != ns32);
        if names.last().is_some_and(|&prev| prev >= ns32) && !again {
            return Err(Malformed("namespaces out of order"));
        }
        names.push(ns32);
    }
    Ok(names)
}

/// The page ids a segment's reverse lists hold: below the forward table's last group's end
/// (every linking page has a forward entry), or any `u32` when it has none.
fn universe(forward_groups: u32) -> u64 {
    match forward_groups {
        0 => 1 << 32,
        g => u64::from(g) * u64::from(GROUP),
    }
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("id", &self.id)
            .field("bytes", &self.map.len())
            .field("links", &self.links)
            .finish()
    }
}

/// Writes the current version and a fresh checksum into a segment image's trailer, so that
/// tests and fuzzers can reach the decoders past the checksum with damaged bytes.
#[doc(hidden)]
pub fn reseal(bytes: &mut [u8]) {
    if bytes.len() < TRAILER {
        return;
    }
    let at = bytes.len() - TRAILER + VERSION_AT;
    bytes[at..at + 4].copy_from_slice(&VERSION.to_le_bytes());
    let n = bytes.len();
    bytes[n - 8..].copy_from_slice(MAGIC);
    let crc = crc32fast::hash(&bytes[..n - 12]);
    bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
}

impl Segment {
    /// Maps a segment file and checks its trailer, version and checksum.
    pub fn open(path: &Path, id: u64) -> Result<Self, SegmentError> {
        Self::open_checked(path, id, true)
    }

    /// Maps a segment file this process has just written and synced, checking its trailer
    /// and version but not reading it all again for its checksum: the bytes hashed would
    /// be the page cache's copy of what was just hashed while writing (at full size,
    /// about 10 GB read at the end of an import).
    pub fn open_written(path: &Path, id: u64) -> Result<Self, SegmentError> {
        Self::open_checked(path, id, false)
    }

    fn open_checked(path: &Path, id: u64, verify: bool) -> Result<Self, SegmentError> {
        let file = File::open(path)?;
        // SAFETY: segment files are written once, synced, then only read or unlinked; no
        // one truncates or rewrites a published file while it is mapped.
        let map = Arc::new(unsafe { memmap2::Mmap::map(&file)? });
        let bytes: &[u8] = &map;
        if bytes.len() < TRAILER || &bytes[bytes.len() - 8..] != MAGIC {
            return Err(SegmentError::Corrupted("no segment trailer".into()));
        }
        let t = &bytes[bytes.len() - TRAILER..];
        let u64_at = |i: usize| u64::from_le_bytes(t[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(t[i..i + 4].try_into().expect("4 bytes"));
        let version = u32_at(VERSION_AT);
        if !(OLDEST_READ..=VERSION).contains(&version) {
            return Err(SegmentError::Version(version));
        }
        let crc = u32_at(CRC_AT);
        if verify {
            // Read through the file, not the mapping: hashing the mapping would fault
            // every page of a many-gigabyte segment into this process's memory.
            let mut hasher = crc32fast::Hasher::new();
            let mut reader = io::BufReader::with_capacity(1 << 20, &file);
            let mut left = bytes.len() - 12;
            let mut buf = vec![0u8; 1 << 20];
            while left > 0 {
                let n = left.min(buf.len());
                io::Read::read_exact(&mut reader, &mut buf[..n])?;
                hasher.update(&buf[..n]);
                left -= n;
            }
            if hasher.finalize() != crc {
                return Err(SegmentError::Corrupted("checksum mismatch".into()));
            }
        }
        if bytes.len() < tail_len(version) {
            return Err(SegmentError::Corrupted("no segment trailer".into()));
        }
        let body_end = bytes.len() - tail_len(version);
        let forward_universe = (version >= 6)
            .then(|| u64::from_le_bytes(bytes[body_end..body_end + 8].try_into().expect("8 bytes")))
            .filter(|&u| u != NO_UNIVERSE);
        let nsmap_at = (version >= 7).then(|| {
            let at = body_end + FORWARD_UNIVERSE;
            u64::from_le_bytes(bytes[at..at + NSMAP_AT].try_into().expect("8 bytes"))
        });
        let shared = match (version >= 10).then(|| {
            let at = body_end + FORWARD_UNIVERSE + NSMAP_AT;
            u64::from_le_bytes(bytes[at..at + SHARED_AT].try_into().expect("8 bytes"))
        }) {
            Some(at) if at != NO_SHARED => match usize::try_from(at) {
                Ok(at) if at < body_end => Shared::parse(&bytes[..body_end], at)
                    .map_err(|m| SegmentError::Corrupted(m.0.into()))?,
                _ => return Err(SegmentError::Corrupted("shared titles past the end".into())),
            },
            _ => Shared::default(),
        };
        let redirects = match (version >= 14).then(|| {
            let at = body_end + FORWARD_UNIVERSE + NSMAP_AT + SHARED_AT;
            u64::from_le_bytes(bytes[at..at + REDIRECTS_AT].try_into().expect("8 bytes"))
        }) {
            Some(at) if at != NO_REDIRECTS => match usize::try_from(at) {
                Ok(at) if at < body_end => Some((
                    Redirects::parse(&bytes[..body_end], at)
                        .map_err(|m| SegmentError::Corrupted(m.0.into()))?,
                    at,
                )),
                _ => return Err(SegmentError::Corrupted("redirects past the end".into())),
            },
            _ => None,
        };
        let mut tables = [(0usize, 0u32); TABLES];
        let mut links = [0u64; TABLES];
        for (k, table) in tables.iter_mut().enumerate() {
            let at = u64_at(k * 20);
            let groups = u32_at(k * 20 + 8);
            let end = at.checked_add(u64::from(groups) * 8);
            if end.is_none_or(|e| e > body_end as u64) {
                return Err(SegmentError::Corrupted("group table past the end".into()));
            }
            *table = (at as usize, groups);
            links[k] = u64_at(k * 20 + 12);
        }
        let titles = |k: usize| {
            let at = bytes.len() - TRAILER + TABLES * 20 + k * PLACE;
            Titles::open(&map, &bytes[at..at + PLACE], body_end, version >= 11)
                .map_err(SegmentError::Corrupted)
        };
        let (targets, pages) = (titles(TARGET_TITLES)?, titles(PAGE_TITLES)?);
        let nsmap = match nsmap_at {
            Some(at) if at < body_end as u64 => Some(
                NsMap::parse(
                    &bytes[..body_end],
                    at as usize,
                    universe(tables[FORWARD].1),
                    version,
                )
                .map_err(|m| SegmentError::Corrupted(m.0.into()))?,
            ),
            Some(_) => return Err(SegmentError::Corrupted("namespace map past the end".into())),
            None => None,
        };
        Ok(Segment {
            universe: (version > OLDEST_READ).then(|| universe(tables[FORWARD].1)),
            forward_universe,
            nsmap,
            body_end,
            id,
            seq: u64_at(SEQ_AT),
            map: Arc::clone(&map),
            targets,
            pages,
            shared,
            redirects,
            heads: version >= 16,
            flags: match version {
                19.. => 2,
                18 => 1,
                _ => 0,
            },
            tables,
            links,
        })
    }

    /// Maps the segment's title tables and the rest after them (redirects, the map of
    /// page classes, the tables of groups) into this process, read from disk if need be:
    /// every answer's rows look up titles there at random, and in a fresh mapping each
    /// first touch of a page is a fault. The groups before them (posting lists, forward
    /// entries) are left to be mapped as queries reach them. Returns the bytes asked for.
    /// On a kernel without `MADV_POPULATE_READ` (before 5.14) the bytes are only read
    /// ahead into the page cache.
    pub fn warm(&self) -> io::Result<u64> {
        let start = self
            .targets
            .start()
            .min(self.pages.start())
            .min(self.map.len());
        let len = self.map.len() - start;
        if len == 0 {
            return Ok(0);
        }
        if self
            .map
            .advise_range(memmap2::Advice::PopulateRead, start, len)
            .is_err()
        {
            self.map
                .advise_range(memmap2::Advice::WillNeed, start, len)?;
        }
        Ok(len as u64)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The delta sequence number the segment was built at.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Link rows per kind.
    pub fn links(&self) -> [u64; KINDS] {
        let mut l = [0; KINDS];
        l.copy_from_slice(&self.links[..KINDS]);
        l
    }

    /// The id of a target title: a page's title is looked up in the page table (where a
    /// shared one is written), then in the target table.
    pub fn target_id(&self, ns: i32, dbkey: &str) -> Result<Option<u32>, Malformed> {
        Ok(self.target_and_page(ns, dbkey)?.map(|t| t.0))
    }

    /// [`target_id`](Self::target_id), and the page whose title the target shares, if
    /// any: the centre of its centred lists, which [`target_at`](Self::target_at) then
    /// need not look up again.
    pub fn target_and_page(
        &self,
        ns: i32,
        dbkey: &str,
    ) -> Result<Option<(u32, Option<u32>)>, Malformed> {
        if !self.shared.is_empty() {
            if let Some(page) = self.pages.id(ns, dbkey) {
                if let Some(tid) = self.shared.target_of(&self.map, page)? {
                    return Ok(Some((tid, Some(page))));
                }
            }
        }
        Ok(self.targets.id(ns, dbkey).map(|tid| (tid, None)))
    }

    /// The title of target id `tid`: (namespace, dbkey).
    pub fn target_name(&self, tid: u32) -> Result<Option<(i32, String)>, Malformed> {
        if let Some(page) = self.shared.page_of(&self.map, tid)? {
            return match self.pages.name(page)? {
                Some((ns, t, _)) => Ok(Some((ns, t))),
                None => Err(Malformed("a shared title's page is missing")),
            };
        }
        Ok(self.targets.name(tid)?.map(|(ns, t, _)| (ns, t)))
    }

    /// Every target title in dictionary order: (namespace, dbkey, target id).
    pub fn target_titles(
        &self,
    ) -> impl Iterator<Item = Result<(i32, String, u32), Malformed>> + '_ {
        // Pages are read only when some share their titles.
        let pages = self.pages.iter().take(if self.shared.is_empty() {
            0
        } else {
            usize::MAX
        });
        let shared = pages.filter_map(|p| {
            let (ns, t, page) = match p {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            self.shared
                .target_of(&self.map, page)
                .transpose()
                .map(|tid| tid.map(|tid| (ns, t, tid)))
        });
        MergeTitles {
            a: shared.peekable(),
            b: self.targets.iter().peekable(),
        }
    }

    /// Target titles here.
    pub fn targets_len(&self) -> usize {
        self.targets.len() + self.shared.len() as usize
    }

    /// Bytes of the target title table, with the shared titles' section.
    pub fn target_title_bytes(&self) -> u64 {
        self.targets.bytes() + self.shared.bytes()
    }

    /// Target titles written in the page table.
    pub fn shared_titles(&self) -> u64 {
        self.shared.len()
    }

    /// The target ids below which shared titles are listed, as the writer was told
    /// ([`TitleTablesApart::list_shared_below`]) or found: the first id in the rank sets.
    pub fn shared_listed_below(&self) -> Result<u32, Malformed> {
        Ok(self.shared.first_ranked_target(&self.map)?.unwrap_or(0))
    }

    /// Checks all of the shared titles' section and the set of heavy pages (lookups check
    /// only what they read).
    pub fn check_shared(&self) -> Result<(), Malformed> {
        if let Some(m) = self.namespaces() {
            if let Some(set) = m.heavy {
                set.check(m.body)?;
            }
        }
        self.shared.check(&self.map)
    }

    /// The page with a title.
    pub fn page_id(&self, ns: i32, dbkey: &str) -> Option<u32> {
        self.pages.id(ns, dbkey)
    }

    /// A page: (namespace, dbkey, is redirect).
    pub fn page(&self, id: u32) -> Result<Option<(i32, String, bool)>, Malformed> {
        self.pages.name(id)
    }

    /// [`Segment::page`] with the dbkey decoded into a buffer the caller keeps.
    pub fn page_in<'b>(
        &self,
        id: u32,
        buf: &'b mut Vec<u8>,
    ) -> Result<Option<(i32, &'b str, bool)>, Malformed> {
        self.pages.name_in(id, buf)
    }

    /// Whether page `id` is here.
    pub fn has_page(&self, id: u32) -> Result<bool, Malformed> {
        self.pages.contains(id)
    }

    /// Whether page `id` is a redirect (false when it is not here).
    pub fn page_is_redirect(&self, id: u32) -> Result<bool, Malformed> {
        self.pages.flag(id)
    }

    /// Every page in title order: (namespace, dbkey, page id).
    pub fn page_titles(&self) -> impl Iterator<Item = Result<(i32, String, u32), Malformed>> + '_ {
        self.pages.iter()
    }

    /// Page ids from `start`, ascending or descending.
    pub fn page_ids(
        &self,
        start: u32,
        desc: bool,
    ) -> impl Iterator<Item = Result<u32, Malformed>> + '_ {
        self.pages.ids(start, desc)
    }

    /// Pages here.
    pub fn pages_len(&self) -> usize {
        self.pages.len()
    }

    /// Bytes of the page title table.
    pub fn page_title_bytes(&self) -> u64 {
        self.pages.bytes()
    }

    /// Page `from`'s redirect: (namespace, dbkey, fragment, interwiki).
    pub fn redirect(&self, from: u32) -> Result<Option<(i32, String, String, String)>, Malformed> {
        let Some((r, _)) = &self.redirects else {
            return Ok(None);
        };
        if let Some((ns, dbkey, fragment, interwiki)) = r.extra(&self.map, from)? {
            return Ok(Some((ns, dbkey.into(), fragment.into(), interwiki.into())));
        }
        let Some(tid) = r.target_of(&self.map, from)? else {
            return Ok(None);
        };
        match self.target_name(tid)? {
            Some((ns, dbkey)) => Ok(Some((ns, dbkey, String::new(), String::new()))),
            None => Err(Malformed("a redirect's target has no title")),
        }
    }

    /// The target id page `from` redirects to, when it is a local redirect here.
    pub fn redirect_target(&self, from: u32) -> Result<Option<u32>, Malformed> {
        match &self.redirects {
            Some((r, _)) => r.target_of(&self.map, from),
            None => Ok(None),
        }
    }

    /// The pages redirecting to target `tid` here, ascending.
    pub fn redirects_to(&self, tid: u32) -> Result<Vec<u32>, Malformed> {
        match &self.redirects {
            Some((r, _)) => r.pages_to(&self.map, tid),
            None => Ok(Vec::new()),
        }
    }

    /// Every redirect in page order: (page, local target id, row kept apart: a redirect
    /// with a fragment or an interwiki prefix).
    pub fn redirects(
        &self,
    ) -> impl Iterator<Item = Result<(u32, Option<u32>, Option<RedirectTarget<'_>>), Malformed>> + '_
    {
        self.redirects.iter().flat_map(|(r, _)| r.iter(&self.map))
    }

    /// Whether page `from` is a redirect here.
    pub fn has_redirect(&self, from: u32) -> Result<bool, Malformed> {
        Ok(self.redirect_target(from)?.is_some()
            || match &self.redirects {
                Some((r, _)) => r.extra(&self.map, from)?.is_some(),
                None => false,
            })
    }

    /// Redirects here.
    pub fn redirect_count(&self) -> u64 {
        self.redirects
            .as_ref()
            .map_or(0, |(r, _)| r.count(&self.map))
    }

    /// Bytes of the redirects section.
    pub fn redirect_bytes(&self) -> u64 {
        self.redirects.as_ref().map_or(0, |(r, at)| r.bytes(*at))
    }

    /// Link rows in the forward table (equal to the reverse tables' in a sound segment).
    pub fn forward_links(&self) -> u64 {
        self.links[FORWARD]
    }

    /// What the writer gave `SegmentWriter::set_forward_universe` (none before version 6).
    pub fn forward_universe(&self) -> Option<u64> {
        self.forward_universe
    }

    pub fn bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// Where group `g` of `table` starts, and whether it is sparse.
    fn group_offset(&self, table: usize, g: u32) -> Option<(usize, bool)> {
        let (at, groups) = *self.tables.get(table)?;
        if g >= groups {
            return None;
        }
        let i = at + g as usize * 8;
        let o = u64::from_le_bytes(self.map[i..i + 8].try_into().expect("8 bytes"));
        (o != EMPTY).then_some(((o & !SPARSE) as usize, o & SPARSE != 0))
    }

    /// A group's ids present (bit i: id 128g + i) and how many, its bitmap read at `pos`
    /// when it is sparse (which `pos` then moves past); every id of a dense one.
    fn present(&self, pos: &mut usize, sparse: bool) -> Result<(u128, usize), Malformed> {
        if !sparse {
            return Ok((u128::MAX, GROUP as usize));
        }
        let b = self
            .map
            .get(*pos..pos.saturating_add(16))
            .filter(|_| pos.saturating_add(16) <= self.body_end)
            .ok_or(Malformed("group past the end"))?;
        *pos += 16;
        let present = u128::from_le_bytes(b.try_into().expect("16 bytes"));
        Ok((present, present.count_ones() as usize))
    }

    /// The lists of one target, empty when it has no links here.
    pub fn target(&self, kind: u8, tid: u32) -> Result<TargetLists<'_>, Malformed> {
        self.target_at(kind, tid, None)
    }

    /// [`target`](Self::target), told the page target `tid` shares its title with when
    /// [`target_and_page`](Self::target_and_page) found it: a query found the target by
    /// its title, and looking the pair up again reached memory the first lookup had not.
    pub fn target_at(
        &self,
        kind: u8,
        tid: u32,
        page: Option<u32>,
    ) -> Result<TargetLists<'_>, Malformed> {
        if usize::from(kind) >= KINDS {
            return Ok(TargetLists::default());
        }
        match self.entry(usize::from(kind), tid)? {
            Some(entry) => {
                TargetLists::parse(entry, self.universe, self.namespaces(), self.flags, || {
                    page.map_or_else(|| self.centre(tid), Ok)
                })
            }
            None => Ok(TargetLists::default()),
        }
    }

    /// The page a centred list of target `tid` is coded around: the target's own page.
    fn centre(&self, tid: u32) -> Result<u32, Malformed> {
        self.shared
            .page_of(&self.map, tid)?
            .ok_or(Malformed("a centred list of a target that is no page"))
    }

    fn namespaces(&self) -> Option<Namespaces<'_>> {
        let m = self.nsmap.as_ref()?;
        let counts = match m.counts {
            Some(at) => {
                let len = (m.ids.div_ceil(NS_BLOCK) + 1) as usize * m.names.len() * 4;
                &self.map[at..at + len]
            }
            None => &[],
        };
        Some(Namespaces {
            names: &m.names,
            width: m.width,
            packed: &self.map[m.at..self.body_end],
            ids: m.ids,
            counts,
            heavy: m.heavy,
            body: &self.map[..self.body_end],
            select: &m.select,
            fits: m.fits,
            low: m.low,
            over_w: m.over_w,
        })
    }

    /// The first byte of the entry of target `tid` of `kind`: its form (tests).
    #[cfg(test)]
    fn entry_form(&self, kind: u8, tid: u32) -> u8 {
        let e = self.entry(usize::from(kind), tid).unwrap().unwrap();
        e.first().expect("entries are never empty")
    }

    /// The forward entry of page `from`, `None` when it has no links here.
    pub fn forward(&self, from: u32) -> Result<Option<Stored<'_>>, Malformed> {
        self.entry(FORWARD, from)
    }

    /// Page `from`'s namespace, as the map of those with a forward entry holds it (a
    /// compact forward entry from version 15 leaves it to the map).
    pub fn page_namespace(&self, from: u32) -> Option<i32> {
        let m = self.namespaces()?;
        m.rank(from).map(|r| m.names[r])
    }

    /// Every forward entry, by page id.
    pub fn forward_entries(&self) -> impl Iterator<Item = RawEntry<'_>> {
        self.entries(FORWARD)
    }

    /// Bytes of the forward table: entries, their groups' length headers and the group
    /// offsets.
    pub fn forward_bytes(&self) -> Result<u64, Malformed> {
        let bytes: &[u8] = &self.map[..self.body_end];
        let mut total = u64::from(self.tables[FORWARD].1) * 8;
        for g in 0..self.tables[FORWARD].1 {
            let Some((mut pos, sparse)) = self.group_offset(FORWARD, g) else {
                continue;
            };
            let start = pos;
            let (_, n) = self.present(&mut pos, sparse)?;
            let mut sum = 0u64;
            for _ in 0..n {
                let (len, _) = self.stored_len(FORWARD, get_varint(bytes, &mut pos)?)?;
                sum = sum.saturating_add(len as u64);
            }
            total = total
                .saturating_add((pos - start) as u64)
                .saturating_add(sum);
        }
        Ok(total)
    }

    /// A header value read as (bytes stored, the first byte left out).
    #[inline]
    fn stored_len(&self, table: usize, value: u64) -> Result<(usize, Option<u8>), Malformed> {
        let (len, head) = match (self.heads, value & 3) {
            (false, _) => (value, None),
            (true, 3) => (value >> 2, None),
            (true, h) => (value >> 2, Some(heads(table)[h as usize])),
        };
        let len = usize::try_from(len).map_err(|_| Malformed("entry length"))?;
        if len == 0 && value != 0 {
            return Err(Malformed("entry length"));
        }
        Ok((len, head))
    }

    /// Id `id`'s entry in `table`.
    fn entry(&self, table: usize, id: u32) -> Result<Option<Stored<'_>>, Malformed> {
        let Some((mut pos, sparse)) = self.group_offset(table, id / GROUP) else {
            return Ok(None);
        };
        let bytes: &[u8] = &self.map[..self.body_end];
        let (present, n) = self.present(&mut pos, sparse)?;
        let slot = (id % GROUP) as usize;
        if present >> slot & 1 == 0 {
            return Ok(None);
        }
        // The entry's index among the group's lengths.
        let slot = (present & ((1u128 << slot) - 1)).count_ones() as usize;
        let mut before = 0usize;
        let mut value = 0u64;
        let mut i = 0;
        // From version 16 a value's low two bits are no length.
        let (shift, mask) = if self.heads {
            (2, 0x3f3f_3f3f_3f3f_3f3f)
        } else {
            (0, u64::MAX)
        };
        while i < n {
            // Eight one-byte lengths at once: most entries are under 128 bytes, and every
            // lookup reads its group's lengths.
            if let Some(w) = bytes.get(pos..pos.saturating_add(8)).filter(|_| i + 8 <= n) {
                let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
                if w & 0x8080_8080_8080_8080 == 0 {
                    if slot >= i + 8 {
                        before += sum_bytes((w >> shift) & mask);
                    } else if slot >= i {
                        let k = 8 * (slot - i);
                        before += sum_bytes(((w & ((1u64 << k) - 1)) >> shift) & mask);
                        value = w >> k & 0xff;
                    }
                    pos += 8;
                    i += 8;
                    continue;
                }
            }
            let v = get_varint(bytes, &mut pos)?;
            match i.cmp(&slot) {
                std::cmp::Ordering::Less => {
                    before = before.saturating_add(self.stored_len(table, v)?.0);
                }
                std::cmp::Ordering::Equal => value = v,
                std::cmp::Ordering::Greater => {}
            }
            i += 1;
        }
        if value == 0 {
            return Ok(None);
        }
        let (len, head) = self.stored_len(table, value)?;
        let start = pos.saturating_add(before);
        let end = start.saturating_add(len);
        let rest = bytes
            .get(start..end)
            .ok_or(Malformed("entry past the end"))?;
        Ok(Some(Stored { head, rest }))
    }

    /// Where the reverse tables' bytes go: (targets, lists, ids, bytes of posting lists,
    /// bytes of list and entry headers, bytes of group headers and tables and the
    /// trailer). The forward table's are `forward_bytes`, the title tables'
    /// `target_title_bytes` and `page_title_bytes`.
    /// What the reverse index's lists would take at the least, in bits, were each one any
    /// set of its size drawn from `universe` page ids, coded with nothing else known
    /// (Σ log₂ C(universe, k) over the lists) — the bar a code blind to the graph's
    /// structure cannot pass.
    pub fn list_bound_bits(&self, universe: u64) -> Result<f64, Malformed> {
        let mut bits = 0.0;
        for kind in 0..KINDS as u8 {
            for t in self.targets(kind) {
                let (_, lists) = t?;
                // A namespace's rows as one set, though its classes' lists are two.
                for c in lists.lists.chunk_by(|a, b| a.0 == b.0) {
                    let rows = c.iter().map(|(_, p)| p.len() as u64).sum();
                    bits += log2_binomial(universe, rows);
                }
            }
        }
        Ok(bits)
    }

    pub fn breakdown(&self) -> Result<[u64; 6], Malformed> {
        let mut b = [0u64; 6];
        for kind in 0..KINDS as u8 {
            for t in self.targets(kind) {
                let (_, lists) = t?;
                b[0] += 1;
                for (_, p) in &lists.lists {
                    b[1] += 1;
                    b[2] += p.len() as u64;
                }
                b[3] += lists.posting_len as u64;
                b[4] += lists.entry_len as u64;
            }
        }
        b[4] -= b[3];
        b[5] = self
            .bytes()
            .saturating_sub(b[3] + b[4])
            .saturating_sub(self.forward_bytes()?)
            .saturating_sub(self.target_title_bytes() + self.page_title_bytes())
            .saturating_sub(self.redirect_bytes());
        Ok(b)
    }

    /// Every (target, lists) of one kind, by target id.
    pub fn targets(&self, kind: u8) -> impl Iterator<Item = Entry<'_>> {
        let table = if usize::from(kind) < KINDS {
            usize::from(kind)
        } else {
            TABLES
        };
        let mut walk = self.shared.walk();
        self.entries(table).map(move |e| {
            e.and_then(|(id, b)| {
                let centre = || {
                    walk.page_of(&self.map, id)?
                        .ok_or(Malformed("a centred list of a target that is no page"))
                };
                Ok((
                    id,
                    TargetLists::parse(b, self.universe, self.namespaces(), self.flags, centre)?,
                ))
            })
        })
    }

    /// Every (id, entry bytes) of a table, by id.
    fn entries(&self, table: usize) -> impl Iterator<Item = RawEntry<'_>> {
        let groups = self.tables.get(table).map_or(0, |t| t.1);
        (0..groups)
            .filter_map(move |g| self.group_offset(table, g).map(|at| (g, at)))
            .flat_map(
                move |(g, (at, sparse))| match self.group(table, g, at, sparse) {
                    Ok(v) => v,
                    Err(e) => vec![Err(e)],
                },
            )
    }

    /// The entries of the group at byte `at`.
    fn group(
        &self,
        table: usize,
        g: u32,
        mut pos: usize,
        sparse: bool,
    ) -> Result<Vec<RawEntry<'_>>, Malformed> {
        let bytes: &[u8] = &self.map[..self.body_end];
        let (present, n) = self.present(&mut pos, sparse)?;
        let mut lens = [(0usize, None); GROUP as usize];
        for l in &mut lens[..n] {
            *l = self.stored_len(table, get_varint(bytes, &mut pos)?)?;
        }
        let ids = (0..GROUP as usize).filter(|&i| present >> i & 1 == 1);
        let mut out = Vec::new();
        for (i, &(len, head)) in ids.zip(&lens[..n]) {
            if len == 0 {
                continue;
            }
            let end = pos.saturating_add(len);
            let rest = bytes.get(pos..end).ok_or(Malformed("entry past the end"))?;
            pos = end;
            out.push(Ok((g * GROUP + i as u32, Stored { head, rest })));
        }
        Ok(out)
    }
}

/// Bits of a namespace index among `k` namespaces.
/// ln n!, exactly for small n and by Stirling's series beyond (error below 1e-9).
fn ln_factorial(n: u64) -> f64 {
    if n < 16 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x * x)
}

/// log₂ C(n, k); 0 when k > n.
pub fn log2_binomial(n: u64, k: u64) -> f64 {
    if k > n {
        return 0.0;
    }
    (ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)) / std::f64::consts::LN_2
}

/// Batches of reverse groups in the coding threads' hands at most, and the rows of the
/// groups given them and not yet written: enough to keep them busy while the writer takes
/// rows, few enough that a run of large targets holds little. (Tests wait for the threads
/// often, to show their groups still land in order.)
const MAX_BATCHES_CODING: usize = if cfg!(test) { 4 } else { 16 };
const MAX_ROWS_CODING: usize = if cfg!(test) { 256 } else { 1 << 22 };
/// A reverse group is handed over in parts of about this many rows.
const PART_ROWS: usize = if cfg!(test) { 100 } else { 1 << 20 };

/// A target's rows in a [`GroupJob`]: its index in the group, where its lists and ids end,
/// and the page its small list may be centred on.
#[derive(Clone, Copy)]
struct TargetRows {
    at: u8,
    lists_end: usize,
    ids_end: usize,
    centre: Option<u32>,
}

/// A reverse group's rows, then, once coded, its entries' lengths and bytes (buffers that
/// go back and forth between the writer and the coding threads, not allocated for each).
struct GroupJob {
    kind: u8,
    group: u32,
    targets: Vec<TargetRows>,
    /// Each list's namespace and where its ids start in `ids`.
    lists: Vec<(i32, usize)>,
    ids: Vec<u32>,
    /// The rows it had, for the writer's count of those being coded.
    rows: usize,
    /// Whether it ends its group (else more parts of the group follow).
    last: bool,
    lens: [u64; GROUP as usize],
    body: Vec<u8>,
}

impl Default for GroupJob {
    fn default() -> Self {
        GroupJob {
            kind: 0,
            group: 0,
            targets: Vec::new(),
            lists: Vec::new(),
            ids: Vec::new(),
            rows: 0,
            last: false,
            lens: [0; GROUP as usize],
            body: Vec::new(),
        }
    }
}

impl GroupJob {
    /// Where the open target's lists and ids start.
    fn open_lists(&self) -> usize {
        self.targets.last().map_or(0, |t| t.lists_end)
    }

    fn open_ids(&self) -> usize {
        self.targets.last().map_or(0, |t| t.ids_end)
    }

    fn clear(&mut self) {
        self.targets.clear();
        self.lists.clear();
        self.ids.clear();
        self.rows = 0;
        self.lens = [0; GROUP as usize];
        self.body.clear();
        // A group of the most linked targets (millions of rows) leaves its buffers to
        // the next groups, who need a few thousand.
        self.ids.shrink_to(1 << 16);
        self.body.shrink_to(1 << 18);
    }
}

/// The threads that code the reverse groups while the writer takes the rows: coding the
/// lists was most of the writer's time. At full size one coding thread was the reverse
/// index's bottleneck, waiting on cache misses (the page tables are hundreds of MB) while
/// the other core had half its time to spare, so two share the groups, and the writer
/// takes them back in the order it gave them.
struct Coding {
    jobs: Option<std::sync::mpsc::SyncSender<(u64, Vec<GroupJob>)>>,
    done: std::sync::mpsc::Receiver<(u64, Vec<GroupJob>)>,
    workers: Vec<std::thread::JoinHandle<()>>,
    /// Sequence numbers: of the next batch given, and of the next one to hand back.
    sent: u64,
    next: u64,
    /// Batches coded ahead of one given before them.
    early: std::collections::BTreeMap<u64, Vec<GroupJob>>,
    /// Batches in the threads' hands, and the rows of those and of `pending`.
    in_flight: usize,
    rows: usize,
    /// Jobs not yet handed over, and their rows: most groups hold a few thousand rows, and
    /// handed over one at a time, the hand-offs (a wake-up each way) left a quarter of
    /// the cores idle.
    pending: Vec<GroupJob>,
    pending_rows: usize,
    /// The jobs of the batch handed back last, in order.
    ready: std::collections::VecDeque<GroupJob>,
    spare: Vec<GroupJob>,
    spare_batches: Vec<Vec<GroupJob>>,
}

/// Rows and jobs that make a batch handed to the coding threads.
const BATCH_ROWS: usize = if cfg!(test) { 64 } else { 1 << 16 };
const BATCH_JOBS: usize = 64;

/// Threads coding the reverse groups.
const CODERS: usize = 2;

impl Coding {
    fn start(coder: EntryCoder) -> io::Result<Self> {
        let (jobs, jobs_rx) =
            std::sync::mpsc::sync_channel::<(u64, Vec<GroupJob>)>(MAX_BATCHES_CODING);
        let jobs_rx = Arc::new(std::sync::Mutex::new(jobs_rx));
        let (done_tx, done) = std::sync::mpsc::channel();
        let mut coders = vec![coder];
        while coders.len() < CODERS {
            coders.push(coders[0].fresh());
        }
        let mut workers = Vec::new();
        for mut coder in coders {
            let (jobs_rx, done_tx) = (jobs_rx.clone(), done_tx.clone());
            workers.push(
                std::thread::Builder::new()
                    .name("segment-coder".into())
                    .spawn(move || loop {
                        // The lock is held only to take a job, never while coding one.
                        let job = match jobs_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((seq, mut batch)) = job else {
                            return;
                        };
                        for job in &mut batch {
                            coder.code_group(job);
                        }
                        if done_tx.send((seq, batch)).is_err() {
                            return;
                        }
                    })?,
            );
        }
        Ok(Coding {
            jobs: Some(jobs),
            done,
            workers,
            sent: 0,
            next: 0,
            early: std::collections::BTreeMap::new(),
            in_flight: 0,
            rows: 0,
            pending: Vec::new(),
            pending_rows: 0,
            ready: std::collections::VecDeque::new(),
            spare: Vec::new(),
            spare_batches: Vec::new(),
        })
    }

    fn stopped() -> io::Error {
        io::Error::other("the thread coding the reverse groups stopped")
    }

    /// Takes `job` to be coded: it is handed over with others once they make a batch.
    fn send(&mut self, mut job: GroupJob) -> io::Result<()> {
        job.rows = job.ids.len();
        self.rows += job.rows;
        self.pending_rows += job.rows;
        self.pending.push(job);
        if self.pending_rows >= BATCH_ROWS || self.pending.len() >= BATCH_JOBS {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Hands the pending jobs to the threads as one batch.
    fn hand_over(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let next = self.spare_batches.pop().unwrap_or_default();
        let batch = std::mem::replace(&mut self.pending, next);
        self.pending_rows = 0;
        let jobs = self.jobs.as_ref().ok_or_else(Self::stopped)?;
        jobs.send((self.sent, batch)).map_err(|_| Self::stopped())?;
        self.sent += 1;
        self.in_flight += 1;
        Ok(())
    }

    /// The next job coded, in the order given, waiting for it if `wait` (the jobs pending
    /// are handed over first); none if none is in the threads' hands.
    fn take(&mut self, wait: bool) -> io::Result<Option<GroupJob>> {
        loop {
            if let Some(job) = self.ready.pop_front() {
                return Ok(Some(job));
            }
            if wait {
                self.hand_over()?;
            }
            let Some(mut batch) = self.take_batch(wait)? else {
                return Ok(None);
            };
            self.ready.extend(batch.drain(..));
            self.spare_batches.push(batch);
        }
    }

    /// The next batch coded, in the order given, waiting for it if `wait`; none if none
    /// is in flight.
    fn take_batch(&mut self, wait: bool) -> io::Result<Option<Vec<GroupJob>>> {
        if self.in_flight == 0 {
            return Ok(None);
        }
        loop {
            if let Some(batch) = self.early.remove(&self.next) {
                self.next += 1;
                self.in_flight -= 1;
                return Ok(Some(batch));
            }
            let got = if wait {
                self.done.recv().map_err(|_| Self::stopped())?
            } else {
                match self.done.try_recv() {
                    Ok(got) => got,
                    Err(std::sync::mpsc::TryRecvError::Empty) => return Ok(None),
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return Err(Self::stopped()),
                }
            };
            self.early.insert(got.0, got.1);
        }
    }

    fn stop(mut self) -> io::Result<()> {
        self.jobs = None;
        let mut ok = true;
        for w in self.workers.drain(..) {
            ok &= w.join().is_ok();
        }
        if ok {
            Ok(())
        } else {
            Err(Self::stopped())
        }
    }
}

impl Drop for Coding {
    fn drop(&mut self) {
        // A writer dropped midway (an error) ends the threads too: they find no more jobs.
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// What coding a reverse entry needs of the writer, fixed once the reverse rows begin.
struct EntryCoder {
    /// Per page id, its class's index in `ns_names`, as [`SegmentWriter`] keeps it.
    page_ns: Arc<Vec<u8>>,
    ns_names: Vec<(i32, bool)>,
    universe: Option<u64>,
    /// Ranks of pages among their class's, for lists coded in them (from version 18), and
    /// the low bits of a list's length that say what it holds (1 in version 18, 2 from 19).
    ranks: Option<Arc<PageRanks>>,
    flags: u32,
    /// A long entry's lists as coded into `coded`: (namespace, what the list holds, where
    /// its bytes end).
    parts: Vec<(i32, u64, usize)>,
    /// Ranks in the heavy class and out of it, for short lists coded split (from version
    /// 19), and a short list's two parts before they are coded.
    heavy: Option<Arc<HeavyRanks>>,
    split: [Vec<u32>; 2],
    /// A list's ranks before they are coded.
    ranked: Vec<u32>,
    /// A list's bytes before they go into the body behind their length.
    coded: Vec<u8>,
    rows: Vec<(u32, u64)>,
}

/// Ids asked for ahead of the one read, in a reverse group's lists.
const FETCH_AHEAD: usize = 16;

impl EntryCoder {
    /// Asks for what coding page `id` in a list reads: its class, and its word of the
    /// heavy set.
    fn fetch(&self, id: u32) {
        if let Some(c) = self.page_ns.get(id as usize) {
            crate::prefetch(c);
        }
        if let Some(h) = &self.heavy {
            h.fetch(id);
        }
    }

    /// Another coder of the same lists, with buffers of its own.
    fn fresh(&self) -> Self {
        EntryCoder {
            page_ns: self.page_ns.clone(),
            ns_names: self.ns_names.clone(),
            universe: self.universe,
            ranks: self.ranks.clone(),
            flags: self.flags,
            parts: Vec::new(),
            heavy: self.heavy.clone(),
            split: [Vec::new(), Vec::new()],
            ranked: Vec::new(),
            coded: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Whether page `from` is in the namespace map, under `ns`.
    fn mapped(&self, from: u32, ns: i32) -> bool {
        self.page_ns
            .get(from as usize)
            .and_then(|&r| self.ns_names.get(usize::from(r)))
            .map(|c| c.0)
            == Some(ns)
    }

    /// Codes each target of `job` into its body, and their lengths.
    fn code_group(&mut self, job: &mut GroupJob) {
        job.body.clear();
        job.lens = [0; GROUP as usize];
        let (mut lists_at, mut ids_at) = (0, 0);
        // The ids below this one have been asked for (see `fetch`).
        let mut fetched = 0;
        for &t in &job.targets {
            // A short list's ids, and the next lists' first ones, are asked for before they
            // are read: each is a cache miss in tables of hundreds of MB at full size (over
            // a third of the coding thread's time went there), and most lists are a few ids long,
            // too short to look ahead within. A long list looks ahead as it goes.
            let look = if t.ids_end - ids_at <= MIXED_MAX {
                t.ids_end
            } else {
                ids_at
            };
            let until = (look + FETCH_AHEAD).min(job.ids.len());
            if fetched < until {
                for &id in &job.ids[fetched.max(ids_at)..until] {
                    self.fetch(id);
                }
                fetched = until;
            }
            let start = job.body.len();
            self.code_entry(
                &mut job.body,
                &job.lists[lists_at..t.lists_end],
                ids_at,
                &mut job.ids[ids_at..t.ids_end],
                t.centre,
            );
            job.lens[usize::from(t.at)] = (job.body.len() - start) as u64;
            (lists_at, ids_at) = (t.lists_end, t.ids_end);
        }
    }

    /// Appends a target's entry to `body`: its lists are `lists` (namespace, where the ids
    /// start, less `base`, in `ids`).
    fn code_entry(
        &mut self,
        body: &mut Vec<u8>,
        lists: &[(i32, usize)],
        base: usize,
        ids: &mut [u32],
        centre: Option<u32>,
    ) {
        let total = ids.len();
        // List `i`'s ids.
        let bounds = |i: usize| {
            let end = lists.get(i + 1).map_or(total, |l| l.1 - base);
            lists[i].1 - base..end
        };
        if total <= MIXED_MAX
            && !self.page_ns.is_empty()
            && (0..lists.len()).all(|i| {
                let ns = lists[i].0;
                ids[bounds(i)].iter().all(|&id| self.mapped(id, ns))
            })
        {
            // Each page has one namespace, so the lists share no id.
            put_varint(body, 0);
            let plain = body.len();
            ids.sort_unstable();
            let centre = centre
                .zip(self.universe)
                .filter(|&(p, u)| u64::from(p) < u && postings::centring_may_pay(ids, p));
            if let (Some(h), Some(_)) = (&self.heavy, self.universe) {
                h.split(ids, &mut self.split);
                let parts = |centres: Option<[u32; 2]>| {
                    let part = |i: usize| Part {
                        ids: &self.split[i],
                        universe: h.universe(i),
                        centre: centres.map(|c| c[i]),
                    };
                    [part(0), part(1)]
                };
                postings::encode_split_into(body, parts(None));
                if let Some((page, _)) = centre {
                    self.coded.clear();
                    postings::encode_split_into(&mut self.coded, parts(Some(h.centres(page))));
                    if self.coded.len() < body.len() - plain {
                        body.truncate(plain - 1);
                        put_varint(body, 1);
                        body.extend_from_slice(&self.coded);
                    }
                }
                return;
            }
            postings::encode_into(body, ids, self.universe);
            if let Some((page, u)) = centre {
                self.coded.clear();
                postings::encode_centred_into(&mut self.coded, ids, u, page);
                if self.coded.len() < body.len() - plain {
                    body.truncate(plain - 1);
                    put_varint(body, 1);
                    body.extend_from_slice(&self.coded);
                }
            }
            return;
        }
        if lists.len() > 1 && total <= MIXED_MAX {
            let rows = &mut self.rows;
            rows.clear();
            for i in 0..lists.len() {
                rows.extend(ids[bounds(i)].iter().map(|&id| (id, i as u64)));
            }
            rows.sort_unstable();
            // A page filed under two namespaces of one target cannot happen; keep the
            // general form if it ever does.
            if rows.windows(2).all(|w| w[0].0 < w[1].0) {
                let k = lists.len() as u64;
                put_varint(body, (k << 1) | 1);
                let mut prev = 0i64;
                for &(ns, _) in lists {
                    put_varint(body, zigzag(i64::from(ns) - prev));
                    prev = i64::from(ns);
                }
                for (id, r) in ids.iter_mut().zip(rows.iter()) {
                    *id = r.0;
                }
                self.coded.clear();
                postings::encode_into(&mut self.coded, ids, self.universe);
                put_varint(body, self.coded.len() as u64);
                body.extend_from_slice(&self.coded);
                put_packed(body, rows.iter().map(|r| r.1), index_width(k as usize));
                return;
            }
        }
        self.coded.clear();
        self.parts.clear();
        for i in 0..lists.len() {
            self.code_list(lists[i].0, &ids[bounds(i)]);
        }
        put_varint(body, (self.parts.len() as u64) << 1);
        let (mut prev, mut at) = (0i64, 0);
        for &(ns, kind, end) in &self.parts {
            put_varint(body, zigzag(i64::from(ns) - prev));
            prev = i64::from(ns);
            put_varint(body, ((end - at) as u64) << self.flags | kind);
            body.extend_from_slice(&self.coded[at..end]);
            at = end;
        }
    }

    /// Codes the rows of one namespace of a long entry into `coded` as one list or two,
    /// noting each in `parts`.
    fn code_list(&mut self, ns: i32, ids: &[u32]) {
        let mut put = |coded: &mut Vec<u8>, kind: u64, ids: &[u32], universe: Option<u64>| {
            postings::encode_into(coded, ids, universe);
            self.parts.push((ns, kind, coded.len()));
        };
        let class = |heavy: bool| self.ns_names.iter().position(|&n| n == (ns, heavy));
        let Some(r) = &self.ranks else {
            return put(&mut self.coded, 0, ids, self.universe);
        };
        if self.flags >= 2 {
            // Ranks among the namespace's pages, or apart among its heavy pages and the
            // rest: a page with many links is in many lists.
            match (class(false), class(true)) {
                (Some(c), None) | (None, Some(c)) => {
                    if r.ranks(ids, c, &mut self.ranked) {
                        let pages = Some(u64::from(r.pages(c)));
                        return put(&mut self.coded, 1, &self.ranked, pages);
                    }
                }
                (Some(light), Some(heavy)) => {
                    let [l, h] = &mut self.split;
                    l.clear();
                    h.clear();
                    for (i, &id) in ids.iter().enumerate() {
                        if let Some(c) = ids
                            .get(i + FETCH_AHEAD)
                            .and_then(|&n| self.page_ns.get(n as usize))
                        {
                            crate::prefetch(c);
                        }
                        match self.page_ns.get(id as usize).map(|&x| usize::from(x)) {
                            Some(x) if x == light => l.push(id),
                            Some(x) if x == heavy => h.push(id),
                            _ => return put(&mut self.coded, 0, ids, self.universe),
                        }
                    }
                    for (kind, c, part) in [(2, light, &self.split[0]), (3, heavy, &self.split[1])]
                    {
                        if !part.is_empty() {
                            r.ranks(part, c, &mut self.ranked);
                            let pages = Some(u64::from(r.pages(c)));
                            put(&mut self.coded, kind, &self.ranked, pages);
                        }
                    }
                    return;
                }
                (None, None) => {}
            }
            return put(&mut self.coded, 0, ids, self.universe);
        }
        // Version 18: ranks among the namespace's pages where the map holds every page's,
        // in a namespace with a large share of the ids (a reader turned ranks back into
        // ids by reading the map across the other namespaces' pages; with a sixteenth,
        // queries took a quarter more time).
        match class(false) {
            Some(c)
                if u64::from(r.pages(c)) * RANKED_SHARE >= self.universe.unwrap_or(u64::MAX)
                    && r.ranks(ids, c, &mut self.ranked) =>
            {
                let pages = Some(u64::from(r.pages(c)));
                put(&mut self.coded, 1, &self.ranked, pages)
            }
            _ => put(&mut self.coded, 0, ids, self.universe),
        }
    }
}

/// Each page's rank among the pages of its class in a [`SegmentWriter`]'s map, for the
/// coding threads: a rank per page id (4 bytes a page). The count per class every 64 ids
/// it replaces took 4 bytes a class every 64 pages, but its scan of the ids since was a
/// fifth of the coding thread's time at full size.
struct PageRanks {
    page_ns: Arc<Vec<u8>>,
    /// Per page id, its rank in its class.
    rank: Vec<u32>,
    /// Per class, its pages.
    pages: Vec<u32>,
}

impl PageRanks {
    fn new(page_ns: Arc<Vec<u8>>, classes: usize) -> Self {
        let mut pages = vec![0u32; classes];
        let rank = page_ns
            .iter()
            .map(|&c| match pages.get_mut(usize::from(c)) {
                Some(n) => {
                    *n += 1;
                    *n - 1
                }
                None => 0,
            })
            .collect();
        PageRanks {
            page_ns,
            rank,
            pages,
        }
    }

    /// The ranks among the pages of class `c` of `ids` (ascending) into `out`, if every
    /// one is of class `c`. A long list's ids lie far apart in the two tables, so each
    /// is asked for a few ids ahead: at 60 M generated pages that took the import's
    /// reverse index and titles from 153 to 91 s.
    fn ranks(&self, ids: &[u32], c: usize, out: &mut Vec<u32>) -> bool {
        const AHEAD: usize = 16;
        out.clear();
        for (i, &id) in ids.iter().enumerate() {
            if let Some(&next) = ids.get(i + AHEAD) {
                if let Some(x) = self.page_ns.get(next as usize) {
                    crate::prefetch(x);
                }
                if let Some(r) = self.rank.get(next as usize) {
                    crate::prefetch(r);
                }
            }
            let id = id as usize;
            if self.page_ns.get(id).map(|&x| usize::from(x)) != Some(c) {
                return false;
            }
            out.push(self.rank[id]);
        }
        true
    }

    /// The pages of class `c`.
    fn pages(&self, c: usize) -> u32 {
        self.pages[c]
    }
}

/// Each page id's rank among the heavy pages and among the rest, for the coding threads.
struct HeavyRanks {
    /// Per 64 page ids, their word of the set and the heavy pages before them: one cache
    /// line holds both (the ids of a short list lie far apart).
    words: Vec<(u64, u32)>,
    /// The page ids, and the heavy ones among them.
    ids: u64,
    heavy: u64,
}

impl HeavyRanks {
    fn new(set: &[u64], ids: u64) -> Self {
        let mut words = Vec::with_capacity(ids.div_ceil(64) as usize);
        let mut n = 0u32;
        for w in 0..ids.div_ceil(64) as usize {
            let word = set.get(w).copied().unwrap_or(0);
            words.push((word, n));
            n += word.count_ones();
        }
        HeavyRanks {
            words,
            ids,
            heavy: u64::from(n),
        }
    }

    /// Asks for `id`'s word.
    fn fetch(&self, id: u32) {
        if let Some(w) = self.words.get(id as usize / 64) {
            crate::prefetch(w);
        }
    }

    /// The heavy pages below `id`, and whether `id` is one.
    fn rank(&self, id: u32) -> (u32, bool) {
        let (w, b) = ((id / 64) as usize, id % 64);
        match self.words.get(w) {
            Some(&(word, before)) => (
                before + (word & ((1u64 << b) - 1)).count_ones(),
                word >> b & 1 == 1,
            ),
            None => (self.heavy as u32, false),
        }
    }

    /// Class `i`'s pages: 0 heavy, 1 the rest.
    fn universe(&self, i: usize) -> u64 {
        if i == 0 {
            self.heavy
        } else {
            self.ids - self.heavy
        }
    }

    /// The ranks of `ids` (ascending) in their classes, into `out[0]` (heavy) and
    /// `out[1]`.
    fn split(&self, ids: &[u32], out: &mut [Vec<u32>; 2]) {
        out[0].clear();
        out[1].clear();
        const AHEAD: usize = 8;
        for (i, &id) in ids.iter().enumerate() {
            if let Some(w) = ids
                .get(i + AHEAD)
                .and_then(|&n| self.words.get(n as usize / 64))
            {
                crate::prefetch(w);
            }
            match self.rank(id) {
                (r, true) => out[0].push(r),
                (r, false) => out[1].push(id - r),
            }
        }
    }

    /// Where page `page` falls among each class's pages: the rank of the first at or after
    /// it, the last when none is.
    fn centres(&self, page: u32) -> [u32; 2] {
        let (r, _) = self.rank(page);
        let last = |u: u64| u.saturating_sub(1) as u32;
        [
            r.min(last(self.heavy)),
            (page - r).min(last(self.ids - self.heavy)),
        ]
    }
}

fn index_width(k: usize) -> u32 {
    usize::BITS - (k - 1).leading_zeros()
}

/// One namespace's rows of a target: a posting list read in place, or the rows of a small
/// target's single list that fall in the namespace.
#[derive(Debug, Clone)]
pub enum List<'a> {
    Packed(Postings<'a>),
    Ids(Vec<u32>),
    /// Ranks among the pages of namespace index `.2` of the map (from version 18).
    Ranked(Postings<'a>, Namespaces<'a>, usize),
}

impl List<'_> {
    pub fn len(&self) -> usize {
        match self {
            List::Packed(p) | List::Ranked(p, ..) => p.len(),
            List::Ids(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every id.
    pub fn all(&self) -> Result<Vec<u32>, Malformed> {
        match self {
            List::Packed(p) => p.all(),
            List::Ids(v) => Ok(v.clone()),
            List::Ranked(p, map, j) => {
                let mut ids = p.all()?;
                map.ids_of_ranks(*j, &mut ids)?;
                Ok(ids)
            }
        }
    }

    /// The posting list read in place (of ids, or of ranks); none for ids already decoded.
    fn postings(&self) -> Option<&Postings<'_>> {
        match self {
            List::Packed(p) | List::Ranked(p, ..) => Some(p),
            List::Ids(_) => None,
        }
    }

    /// What a start id is in the list's terms: itself, or for ranks, the rank of the first
    /// page of the namespace at or after it (`after`, ranks only: the first after it).
    fn start_of(&self, id: u32, after: bool) -> u32 {
        match self {
            List::Ranked(_, map, j) => map.rank_below(*j, u64::from(id) + u64::from(after)),
            _ => id,
        }
    }
}

/// An id and the bytes of its entry, or why they could not be read.
pub type RawEntry<'a> = Result<(u32, Stored<'a>), Malformed>;

/// The sum of a word's eight bytes, each below 128.
fn sum_bytes(w: u64) -> usize {
    const LOW: u64 = 0x00ff_00ff_00ff_00ff;
    let pairs = (w & LOW) + (w >> 8 & LOW);
    (pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48) as usize
}

/// A target id and its lists, or why they could not be read.
pub type Entry<'a> = Result<(u32, TargetLists<'a>), Malformed>;

/// One target's posting lists, by namespace of the linking pages.
#[derive(Debug, Default, Clone)]
pub struct TargetLists<'a> {
    pub lists: Vec<(i32, List<'a>)>,
    /// Bytes of the whole entry, and of its posting lists.
    pub entry_len: usize,
    pub posting_len: usize,
}

impl<'a> TargetLists<'a> {
    fn parse(
        stored: Stored<'a>,
        universe: Option<u64>,
        namespaces: Option<Namespaces<'a>>,
        flags: u32,
        centre: impl FnOnce() -> Result<u32, Malformed>,
    ) -> Result<Self, Malformed> {
        // `entry`: the bytes stored, the tag's among them unless the header stands for it.
        let entry = stored.rest;
        let mut pos = 0;
        let tag = match stored.head {
            Some(h) => u64::from(h),
            None => get_varint(entry, &mut pos)?,
        };
        match (tag, namespaces, universe) {
            (0 | 1, Some(map), Some(u)) if map.heavy.is_some() => {
                let ids = map.split_list(&entry[pos..], u, (tag == 1).then_some(centre))?;
                if ids.is_empty() {
                    return Err(Malformed("single list empty"));
                }
                return Self::parse_mapped(entry, pos, ids, map);
            }
            (0, Some(map), _) => {
                let p = Postings::parse(&entry[pos..], universe)?;
                if p.is_empty() || p.len() > MIXED_MAX {
                    return Err(Malformed("single list too long or empty"));
                }
                return Self::parse_mapped(entry, pos, p.all()?, map);
            }
            (1, Some(map), Some(u)) => {
                let mut ids = Vec::new();
                postings::decode_centred(&entry[pos..], u, centre()?, &mut ids)?;
                if ids.is_empty() {
                    return Err(Malformed("single list empty"));
                }
                return Self::parse_mapped(entry, pos, ids, map);
            }
            _ => {}
        }
        let n = tag >> 1;
        if n == 0 || n > entry.len() as u64 {
            return Err(Malformed("list count"));
        }
        if tag & 1 == 1 {
            return Self::parse_mixed(entry, pos, n as usize, universe);
        }
        let mut lists = Vec::with_capacity(n as usize);
        let mut posting_len = 0;
        let mut ns = 0i64;
        let mut prev_kind = 0;
        for _ in 0..n {
            ns = ns
                .checked_add(unzigzag(get_varint(entry, &mut pos)?))
                .ok_or(Malformed("namespace past i32"))?;
            let ns32 = i32::try_from(ns).map_err(|_| Malformed("namespace past i32"))?;
            let len = get_varint(entry, &mut pos)?;
            // From version 18 the length's low bits say what the list holds: 0 page ids,
            // 1 ranks among the namespace's pages (its only class, from version 19), 2 and
            // 3 ranks among its first and second class's pages.
            let kind = len & ((1 << flags) - 1);
            let len = len >> flags;
            // Namespaces ascend; one comes twice only for its two classes' lists.
            let again = kind == 3 && prev_kind == 2;
            if lists
                .last()
                .is_some_and(|&(prev, _)| prev > ns32 || (prev == ns32 && !again))
            {
                return Err(Malformed("namespaces out of order"));
            }
            prev_kind = kind;
            let len = usize::try_from(len).map_err(|_| Malformed("list length"))?;
            let bytes = entry
                .get(pos..pos.saturating_add(len))
                .ok_or(Malformed("list past the end"))?;
            pos += len;
            posting_len += len;
            let list = match namespaces.filter(|_| kind > 0) {
                Some(map) => {
                    // The namespace's classes in the map: one, or two (from version 19).
                    let first = map.names.partition_point(|&n| n < ns32);
                    let classes = map.names[first..]
                        .iter()
                        .take_while(|&&n| n == ns32)
                        .count();
                    let j = match (kind, classes) {
                        (1, 1) => first,
                        (2, 2) => first,
                        (3, 2) => first + 1,
                        _ => return Err(Malformed("ranks in a class the map has not")),
                    };
                    let pages = u64::from(map.pages_in(j));
                    List::Ranked(Postings::parse(bytes, Some(pages))?, map, j)
                }
                None if kind > 0 => return Err(Malformed("ranks with no namespace map")),
                None => List::Packed(Postings::parse(bytes, universe)?),
            };
            lists.push((ns32, list));
        }
        if pos != entry.len() {
            return Err(Malformed("bytes after the last list"));
        }
        Ok(TargetLists {
            lists,
            entry_len: entry.len(),
            posting_len,
        })
    }

    /// A small target's single list, split by the namespaces of its pages in the map.
    fn parse_mapped(
        entry: &'a [u8],
        pos: usize,
        ids: Vec<u32>,
        map: Namespaces<'_>,
    ) -> Result<Self, Malformed> {
        let bytes = &entry[pos..];
        let mut rows: Vec<(usize, u32)> = Vec::with_capacity(ids.len());
        for id in ids {
            let rank = map
                .rank(id)
                .ok_or(Malformed("a row from a page with no namespace"))?;
            rows.push((rank, id));
        }
        // By namespace (a namespace's classes are next to each other in the map): ids
        // ascend within one, and a stable sort keeps them so.
        for r in &mut rows {
            r.0 = map.names.partition_point(|&n| n < map.names[r.0]);
        }
        rows.sort_by_key(|r| r.0);
        let lists = rows
            .chunk_by(|a, b| a.0 == b.0)
            .map(|c| {
                (
                    map.names[c[0].0],
                    List::Ids(c.iter().map(|r| r.1).collect()),
                )
            })
            .collect();
        Ok(TargetLists {
            lists,
            entry_len: entry.len(),
            posting_len: bytes.len(),
        })
    }

    /// A small target's single list, split by namespace.
    fn parse_mixed(
        entry: &'a [u8],
        mut pos: usize,
        k: usize,
        universe: Option<u64>,
    ) -> Result<Self, Malformed> {
        if k < 2 {
            return Err(Malformed("a single-list entry with one namespace"));
        }
        let names = read_namespaces(entry, &mut pos, k, false)?;
        let len =
            usize::try_from(get_varint(entry, &mut pos)?).map_err(|_| Malformed("list length"))?;
        let bytes = entry
            .get(pos..pos.saturating_add(len))
            .ok_or(Malformed("list past the end"))?;
        pos += len;
        let p = Postings::parse(bytes, universe)?;
        if p.len() > MIXED_MAX {
            return Err(Malformed("single list too long"));
        }
        let ids = p.all()?;
        let width = index_width(k);
        let need = (ids.len() * width as usize).div_ceil(8);
        let idx = entry
            .get(pos..)
            .filter(|rest| rest.len() == need)
            .ok_or(Malformed("namespace indexes"))?;
        let mut split: Vec<Vec<u32>> = vec![Vec::new(); k];
        let (mut acc, mut bits, mut at) = (0u64, 0u32, 0usize);
        for id in ids {
            while bits < width {
                acc |= u64::from(idx[at]) << bits;
                at += 1;
                bits += 8;
            }
            let i = (acc & ((1u64 << width) - 1)) as usize;
            acc >>= width;
            bits -= width;
            split
                .get_mut(i)
                .ok_or(Malformed("namespace index out of range"))?
                .push(id);
        }
        Ok(TargetLists {
            lists: names
                .into_iter()
                .zip(split)
                .filter(|(_, ids)| !ids.is_empty())
                .map(|(ns, ids)| (ns, List::Ids(ids)))
                .collect(),
            entry_len: entry.len(),
            posting_len: len,
        })
    }

    /// Whether `from` is in the list of namespace `ns`.
    pub fn contains(&self, ns: i32, from: u32) -> Result<bool, Malformed> {
        // A namespace may have two lists (its classes', from version 19).
        for (_, p) in self.lists.iter().filter(|(n, _)| *n == ns) {
            // One id is wanted: its block is decoded only up to it.
            let mut c = Cursor::new(p, Some(from), false).with_want(1);
            if c.next_id()? == Some(from) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Reads a posting list forwards or backwards from a start id (inclusive), a block at a
/// time.
pub struct Cursor<'a> {
    p: &'a List<'a>,
    /// The start in the list's terms (`List::start_of`): for ranks, the rank of the first
    /// page at or after it, or descending after it.
    key: Option<u32>,
    /// The block in `buf`; `None` when done.
    block: Option<usize>,
    buf: Vec<u32>,
    /// Ascending: the next index to yield; descending: one past it.
    i: usize,
    desc: bool,
    primed: Option<u32>,
    /// The ids the caller expects to take (`with_want`), and those taken so far.
    want: usize,
    yielded: usize,
    /// `buf` holds only the first ids of its block.
    partial: bool,
}

impl<'a> Cursor<'a> {
    pub fn new(p: &'a List<'a>, start: Option<u32>, desc: bool) -> Self {
        let key = start.map(|s| p.start_of(s, desc));
        let block = match p.postings() {
            _ if p.is_empty() => None,
            None => Some(0),
            Some(q) => Some(match (key, desc) {
                // The block of the first id at or after it; descending, of the last at
                // or before it.
                (Some(k), false) => q.seek_block(k),
                (Some(k), true) => match p {
                    List::Ranked(..) => q.seek_block(k.saturating_sub(1)),
                    _ => q.seek_block(k),
                },
                (None, false) => 0,
                (None, true) => q.blocks() - 1,
            }),
        };
        Cursor {
            p,
            key,
            block,
            buf: Vec::new(),
            i: usize::MAX,
            desc,
            primed: start,
            want: usize::MAX,
            yielded: 0,
            partial: false,
        }
    }

    /// Says that about `want` ids will be taken: an ascending cursor then decodes a block
    /// only up to them (a 10-row page of a long list reads a few ids of its first block,
    /// not 128), and the rest of the block only if more are asked for.
    pub fn with_want(mut self, want: usize) -> Self {
        self.want = want;
        self
    }

    pub fn next_id(&mut self) -> Result<Option<u32>, Malformed> {
        loop {
            let Some(b) = self.block else { return Ok(None) };
            if self.i == usize::MAX {
                let need = self.want.saturating_sub(self.yielded);
                self.partial = false;
                match self.p {
                    List::Packed(p) | List::Ranked(p, ..)
                        if !self.desc && need > 0 && need < postings::BLOCK =>
                    {
                        let start = self.primed.and(self.key).unwrap_or(0);
                        self.partial = !p.block_upto(b, start, need, &mut self.buf)?;
                    }
                    List::Packed(p) | List::Ranked(p, ..) => p.block(b, &mut self.buf)?,
                    List::Ids(ids) => {
                        self.buf.clear();
                        self.buf.extend_from_slice(ids);
                    }
                }
                if let List::Ranked(_, map, j) = self.p {
                    // Only the ranks from the start on (descending, up to it) are turned
                    // into ids: a deep cursor reads a block of each of a target's lists.
                    if let Some(k) = self.primed.and(self.key) {
                        let at = self.buf.partition_point(|&r| r < k);
                        if self.desc {
                            self.buf.truncate(at);
                        } else {
                            self.buf.drain(..at);
                        }
                    }
                    map.ids_of_ranks(*j, &mut self.buf)?;
                }
                self.i = match (self.primed.take(), self.desc) {
                    (Some(s), false) => self.buf.partition_point(|&x| x < s),
                    (Some(s), true) => self.buf.partition_point(|&x| x <= s),
                    (None, false) => 0,
                    (None, true) => self.buf.len(),
                };
            }
            if self.desc {
                if self.i > 0 {
                    self.i -= 1;
                    return Ok(Some(self.buf[self.i]));
                }
                self.block = b.checked_sub(1);
            } else {
                if self.i < self.buf.len() {
                    self.i += 1;
                    self.yielded += 1;
                    return Ok(Some(self.buf[self.i - 1]));
                }
                if self.partial {
                    // More than wanted: the rest of the block, after the last id given.
                    // (A partial block holds a wanted id, so one was given from it.)
                    let last = self.buf[self.i - 1];
                    if let Some(p) = self.p.postings() {
                        p.block(b, &mut self.buf)?;
                    }
                    if let List::Ranked(_, map, j) = self.p {
                        // The ranks after the last id given only.
                        let after = self.p.start_of(last, true);
                        let at = self.buf.partition_point(|&r| r < after);
                        self.buf.drain(..at);
                        map.ids_of_ranks(*j, &mut self.buf)?;
                    }
                    self.partial = false;
                    self.i = self.buf.partition_point(|&x| x <= last);
                    continue;
                }
                let blocks = self.p.postings().map_or(1, |p| p.blocks());
                self.block = Some(b + 1).filter(|&n| n < blocks);
            }
            self.i = usize::MAX;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// A stand-in forward entry of a page with `n` rows (the store's encoding is its own).
    fn fentry(from: u32, n: u64) -> Vec<u8> {
        // Not the compact form (a first byte below 0x80), which the writer may change.
        let mut v = vec![0u8];
        v.extend_from_slice(&from.to_le_bytes());
        v.extend(std::iter::repeat_n(7u8, n as usize));
        v
    }

    /// The forward entries of the rows' pages, when all are below 2^20; none otherwise (the
    /// table has 8 bytes per 128 page ids up to the largest, so random `u32` ids would make
    /// it huge), which leaves the reverse lists every `u32` for their universe.
    /// Each page's rows, and the namespace they are all filed under if they share one.
    fn forward(rows: &BTreeSet<(u8, u32, i32, u32)>) -> BTreeMap<u32, (u64, Option<i32>)> {
        let mut by_page = BTreeMap::new();
        if rows.iter().any(|r| r.3 >= 1 << 20) {
            return by_page;
        }
        for r in rows {
            let e = by_page.entry(r.3).or_insert((0, Some(r.2)));
            e.0 += 1;
            if e.1 != Some(r.2) {
                e.1 = None;
            }
        }
        by_page
    }

    fn build(rows: &BTreeSet<(u8, u32, i32, u32)>) -> (tempfile::TempDir, Segment) {
        build_version(rows, VERSION)
    }

    fn build_version(
        rows: &BTreeSet<(u8, u32, i32, u32)>,
        version: u32,
    ) -> (tempfile::TempDir, Segment) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.seg");
        let mut w = SegmentWriter::create(&path).unwrap();
        w = w.with_version(version);
        if version >= 6 {
            w.set_forward_universe(u64::from(version) * 1000);
        }
        for (&from, &(n, ns)) in &forward(rows) {
            w.push_forward(from, &fentry(from, n), n, ns).unwrap();
        }
        for &(k, t, n, f) in rows {
            w.push(k, t, n, f).unwrap();
        }
        for (ns, t, tid) in titles(rows) {
            w.push_title(ns, &t, tid).unwrap();
        }
        for (ns, t, id, redirect) in page_titles(rows) {
            w.push_page(ns, &t, id, redirect).unwrap();
        }
        w.finish(7).unwrap();
        let s = Segment::open(&path, 1).unwrap();
        (dir, s)
    }

    /// A page for every linking page of the forward table, in dictionary order.
    fn page_titles(rows: &BTreeSet<(u8, u32, i32, u32)>) -> Vec<(i32, String, u32, bool)> {
        let mut t: Vec<(i32, String, u32, bool)> = forward(rows)
            .into_keys()
            .map(|id| ((id % 4) as i32, format!("P{id}"), id, id % 3 == 0))
            .collect();
        t.sort();
        t
    }

    /// A title for every target of the rows, in dictionary order (namespace, then bytes).
    fn titles(rows: &BTreeSet<(u8, u32, i32, u32)>) -> Vec<(i32, String, u32)> {
        let tids: BTreeSet<u32> = rows.iter().map(|r| r.1).collect();
        let mut t: Vec<(i32, String, u32)> = tids
            .into_iter()
            .map(|tid| ((tid % 3) as i32 - 1, format!("T{tid}"), tid))
            .collect();
        t.sort();
        t
    }

    /// Rows from pages of small ids (with forward entries), or of any ids (without); in
    /// half the cases each page's rows share its namespace, as a store's do.
    /// Every id a cursor over `list` gives from `start`, told it would take `want`.
    fn read_from(list: &List<'_>, start: u32, desc: bool, want: Option<usize>) -> Vec<u32> {
        let mut c = Cursor::new(list, Some(start), desc);
        if let Some(w) = want {
            c = c.with_want(w);
        }
        let mut got = Vec::new();
        while let Some(x) = c.next_id().unwrap() {
            got.push(x);
        }
        got
    }

    /// The ids of `ids` (ascending) a cursor from `start` should give, in its direction.
    fn expected_from(ids: &[u32], start: u32, desc: bool) -> Vec<u32> {
        if desc {
            ids.iter().rev().copied().filter(|&x| x <= start).collect()
        } else {
            ids.iter().copied().filter(|&x| x >= start).collect()
        }
    }

    fn rows() -> impl Strategy<Value = BTreeSet<(u8, u32, i32, u32)>> {
        (any::<bool>(), any::<bool>()).prop_flat_map(|(wide, one_ns)| {
            let from = if wide {
                prop_oneof![0u32..1000, any::<u32>()].boxed()
            } else {
                prop_oneof![0u32..1000, 0u32..1 << 20].boxed()
            };
            proptest::collection::btree_set(
                (
                    0u8..4,
                    prop_oneof![0u32..300, 0u32..100_000],
                    -2i32..4,
                    from,
                ),
                0..600,
            )
            .prop_map(move |rows| {
                if !one_ns {
                    return rows;
                }
                rows.into_iter()
                    .map(|(k, t, _, f)| (k, t, (f % 7) as i32 * 3 - 2, f))
                    .collect()
            })
        })
    }

    /// Title tables written apart and spliced in make the same file, byte for byte, as
    /// those pushed in line; `which` picks the tables written apart.
    fn spliced_bytes(rows: &BTreeSet<(u8, u32, i32, u32)>, which: u8) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.seg");
        let mut w = SegmentWriter::create(&path).unwrap();
        w.set_forward_universe(1 << 20);
        for (&from, &(n, ns)) in &forward(rows) {
            w.push_forward(from, &fentry(from, n), n, ns).unwrap();
        }
        let mut targets = TitlesApart::create(dir.path(), 0).unwrap();
        let mut pages = TitlesApart::create(dir.path(), 10).unwrap();
        for (ns, t, tid) in titles(rows) {
            targets.push(ns, &t, tid, false).unwrap();
        }
        for (ns, t, id, redirect) in page_titles(rows) {
            pages.push(ns, &t, id, redirect).unwrap();
        }
        for &(k, t, n, f) in rows {
            w.push(k, t, n, f).unwrap();
        }
        if which & 1 != 0 {
            w.splice_titles(targets.finish().unwrap()).unwrap();
        } else {
            drop(targets);
            for (ns, t, tid) in titles(rows) {
                w.push_title(ns, &t, tid).unwrap();
            }
        }
        if which & 2 != 0 {
            w.splice_pages(pages.finish().unwrap()).unwrap();
        } else {
            drop(pages);
            for (ns, t, id, redirect) in page_titles(rows) {
                w.push_page(ns, &t, id, redirect).unwrap();
            }
        }
        w.finish(7).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        Segment::open(&path, 1).unwrap();
        // Only the segment is left: the scratch files went with their tables.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        bytes
    }

    proptest! {
        /// Eight lengths summed at once are their sum.
        #[test]
        fn bytes_are_summed_a_word_at_a_time(b in prop::array::uniform8(0u8..128)) {
            let sum: usize = b.iter().map(|&x| usize::from(x)).sum();
            prop_assert_eq!(sum_bytes(u64::from_le_bytes(b)), sum);
        }

        #[test]
        fn titles_written_apart_splice_in_unchanged(rows in rows().prop_filter("forward entries", |r| !forward(r).is_empty() || r.is_empty())) {
            let inline = spliced_bytes(&rows, 0);
            for which in 1..4 {
                prop_assert!(spliced_bytes(&rows, which) == inline, "tables apart: {which}");
            }
        }

        #[test]
        fn every_row_comes_back(rows in rows(), version in prop_oneof![3 => Just(VERSION), 1 => Just(19u32), 1 => Just(12u32), 1 => Just(11u32), 1 => Just(10u32), 1 => Just(9u32), 1 => Just(8u32), 1 => Just(7u32), 1 => Just(6u32), 1 => Just(5u32), 1 => Just(OLDEST_READ)]) {
            let (_d, s) = build_version(&rows, version);
            prop_assert_eq!(s.forward_universe(), (version >= 6).then_some(u64::from(version) * 1000));
            prop_assert_eq!(s.seq(), 7);
            let mut got = BTreeSet::new();
            for k in 0..4u8 {
                for t in s.targets(k) {
                    let (tid, lists) = t.unwrap();
                    for (ns, p) in &lists.lists {
                        for f in p.all().unwrap() {
                            got.insert((k, tid, *ns, f));
                        }
                    }
                }
            }
            prop_assert_eq!(&got, &rows);
            for k in 0..4u8 {
                prop_assert_eq!(s.links()[k as usize], rows.iter().filter(|r| r.0 == k).count() as u64);
            }
            // The forward table: every page's entry, by id and by lookup.
            let fwd = forward(&rows);
            let got: Vec<(u32, Vec<u8>)> = s.forward_entries().map(|e| {
                let (id, b) = e.unwrap();
                (id, b.to_vec())
            }).collect();
            let want: Vec<(u32, Vec<u8>)> = fwd.iter().map(|(&f, &(n, _))| (f, fentry(f, n))).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(s.forward_links(), fwd.values().map(|v| v.0).sum::<u64>());
            for (&f, &(n, _)) in fwd.iter().take(50) {
                let e = fentry(f, n);
                prop_assert_eq!(s.forward(f).unwrap().map(|e| e.to_vec()), Some(e.clone()));
                if !fwd.contains_key(&f.wrapping_add(1)) {
                    prop_assert_eq!(s.forward(f.wrapping_add(1)).unwrap(), None);
                }
            }
            let [.., tables] = s.breakdown().unwrap();
            prop_assert!(tables >= TRAILER as u64);
            // Titles both ways.
            let names = titles(&rows);
            prop_assert_eq!(s.targets_len(), names.len());
            let listed: Vec<(i32, String, u32)> = s.target_titles().map(|t| t.unwrap()).collect();
            prop_assert_eq!(&listed, &names);
            for (ns, t, tid) in names.iter().take(50) {
                prop_assert_eq!(s.target_id(*ns, t).unwrap(), Some(*tid));
                prop_assert_eq!(s.target_name(*tid).unwrap(), Some((*ns, t.clone())));
                prop_assert_eq!(s.target_id(*ns + 7, t).unwrap(), None);
            }
            prop_assert_eq!(s.target_name(u32::MAX).unwrap(), None);
            // Pages both ways, and by id in either direction from any start.
            let pages = page_titles(&rows);
            prop_assert_eq!(s.pages_len(), pages.len());
            let listed: Vec<(i32, String, u32)> = s.page_titles().map(|t| t.unwrap()).collect();
            let want: Vec<(i32, String, u32)> = pages.iter().map(|(n, t, id, _)| (*n, t.clone(), *id)).collect();
            prop_assert_eq!(listed, want);
            for (ns, t, id, redirect) in pages.iter().take(50) {
                prop_assert_eq!(s.page_id(*ns, t), Some(*id));
                prop_assert_eq!(s.page(*id).unwrap(), Some((*ns, t.clone(), *redirect)));
                prop_assert_eq!(s.page_is_redirect(*id).unwrap(), *redirect);
                prop_assert!(s.has_page(*id).unwrap());
            }
            let ids: BTreeSet<u32> = pages.iter().map(|p| p.2).collect();
            for start in [0u32, 1, 127, 128, 500, 1 << 19, u32::MAX] {
                let up: Vec<u32> = s.page_ids(start, false).map(|i| i.unwrap()).collect();
                prop_assert_eq!(up, ids.range(start..).copied().collect::<Vec<_>>());
                let down: Vec<u32> = s.page_ids(start, true).map(|i| i.unwrap()).collect();
                prop_assert_eq!(down, ids.range(..=start).rev().copied().collect::<Vec<_>>());
                prop_assert_eq!(s.has_page(start).unwrap(), ids.contains(&start));
            }
            // Point lookups, including targets with nothing.
            for &(k, t, n, f) in rows.iter().take(50) {
                let lists = s.target(k, t).unwrap();
                prop_assert!(lists.contains(n, f).unwrap());
                prop_assert!(s.target(k, t.wrapping_add(1)).unwrap().lists.iter().all(|(_, p)| !p.is_empty()));
            }
        }

        #[test]
        fn cursors_resume_both_ways(ids in proptest::collection::btree_set(0u32..5000, 1..700),
                                    start in 0u32..5100, desc in any::<bool>(),
                                    want in proptest::option::of(0usize..300)) {
            let ids: Vec<u32> = ids.into_iter().collect();
            let bytes = postings::encode(&ids);
            let list = if ids.len() <= MIXED_MAX && start % 2 == 0 {
                List::Ids(ids.clone())
            } else {
                List::Packed(Postings::new(&bytes).unwrap())
            };
            // However many ids it was told would be taken, a cursor gives them all.
            prop_assert_eq!(read_from(&list, start, desc, want), expected_from(&ids, start, desc));
        }

        /// The namespace map's ranks and their inverse agree with a count by hand, for
        /// every width a map may have (1 to 8 bits).
        #[test]
        fn namespace_ranks_count_and_select(
            pages in proptest::collection::btree_map(0u32..3000, any::<u8>(), 1..1200),
            names in 1u32..=254,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.seg");
            let mut w = SegmentWriter::create(&path).unwrap();
            let ns_of = |x: u8| (u32::from(x) % names) as i32 * 2 - 3;
            for (&from, &x) in &pages {
                w.push_forward(from, &fentry(from, 1), 1, Some(ns_of(x))).unwrap();
            }
            w.finish(1).unwrap();
            let s = Segment::open(&path, 1).unwrap();
            let map = s.namespaces().unwrap();
            for (j, &ns) in map.names.iter().enumerate() {
                let members: Vec<u32> = pages
                    .iter()
                    .filter(|&(_, &x)| ns_of(x) == ns)
                    .map(|(&f, _)| f)
                    .collect();
                prop_assert_eq!(map.pages_in(j) as usize, members.len());
                for id in (0..3100u64).step_by(37).chain([0, map.ids, map.ids + 5]) {
                    let below = members.iter().filter(|&&m| u64::from(m) < id).count();
                    prop_assert_eq!(map.rank_below(j, id) as usize, below);
                }
                let mut ranks: Vec<u32> = (0..members.len() as u32).collect();
                map.ids_of_ranks(j, &mut ranks).unwrap();
                prop_assert_eq!(&ranks, &members);
                // Every other rank, and the last alone: far jumps and short steps.
                let mut some: Vec<u32> = (0..members.len() as u32).step_by(2).collect();
                map.ids_of_ranks(j, &mut some).unwrap();
                prop_assert!(some.iter().zip(members.iter().step_by(2)).all(|(a, b)| a == b));
                let mut last = [members.len() as u32 - 1];
                map.ids_of_ranks(j, &mut last).unwrap();
                prop_assert_eq!(last[0], *members.last().unwrap());
                prop_assert!(map.ids_of_ranks(j, &mut [members.len() as u32]).is_err());
            }
        }

        /// Long lists of pages whose namespaces the map holds are coded in ranks among
        /// their namespace's pages (version 18), or its light and heavy pages' (19); a
        /// page with rows under two namespaces keeps a list in page ids. Every list reads
        /// back whole and from any start, both ways, however many ids a cursor is told
        /// will be taken.
        #[test]
        fn ranked_lists_resume_both_ways(
            pages in proptest::collection::btree_map(0u32..2000, 0i32..5, 1000..1800),
            two_ns in proptest::option::of(0u32..2000),
            starts in proptest::collection::vec((0u32..2100, any::<bool>(), proptest::option::of(0usize..300)), 8),
        ) {
            let mut rows = BTreeSet::new();
            for (&from, &ns) in &pages {
                // Namespace 0 holds most pages; a few targets take most rows.
                let ns = [0, 2, 0, -1, 0][ns as usize];
                rows.insert((0u8, 1u32, ns, from));
                if from % 3 == 0 {
                    rows.insert((0u8, 2, ns, from));
                }
                if from % 11 == 0 {
                    rows.insert((2u8, 40, ns, from));
                }
            }
            if let Some(f) = two_ns {
                rows.insert((0u8, 1, 7, f));
                rows.insert((0u8, 3, 8, f));
            }
            for version in [18, VERSION] {
            let (_d, s) = build_version(&rows, version);
            let mut ranked = 0;
            for &(k, t) in &[(0u8, 1u32), (0, 2), (0, 3), (2, 40)] {
                let lists = s.target(k, t).unwrap();
                // A namespace's rows: one list, or from version 19 two (its light and its
                // heavy pages, each in ranks among their class).
                for group in lists.lists.chunk_by(|a, b| a.0 == b.0) {
                    let ns = group[0].0;
                    let ids: Vec<u32> = rows
                        .iter()
                        .filter(|r| (r.0, r.1, r.2) == (k, t, ns))
                        .map(|r| r.3)
                        .collect();
                    let mut all = Vec::new();
                    for (_, list) in group {
                        ranked += usize::from(matches!(list, List::Ranked(..)));
                        let mine = list.all().unwrap();
                        for &(start, desc, want) in &starts {
                            let got = read_from(list, start, desc, want);
                            let expect = expected_from(&mine, start, desc);
                            prop_assert_eq!(got, expect, "from {} desc {}", start, desc);
                        }
                        all.extend(mine);
                    }
                    all.sort_unstable();
                    prop_assert_eq!(all, ids.clone());
                    for &(start, ..) in &starts {
                        prop_assert_eq!(lists.contains(ns, start).unwrap(), ids.contains(&start));
                    }
                }
            }
            // Target 1 has more than 128 rows: its list of namespace 0 (three in five pages,
            // over the quarter of the ids that ranks need) is ranked, unless the page with
            // rows under two namespaces, which the map does not hold, is in it.
            let spoiled = two_ns.is_some_and(|f| pages.get(&f).is_some_and(|&x| x % 2 == 0));
            prop_assert!(ranked > 0 || spoiled);
            }
        }

        #[test]
        fn damaged_files_are_refused(rows in rows(), at in any::<usize>(), bit in 0u8..8) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.seg");
            let mut w = SegmentWriter::create(&path).unwrap();
            for &(k, t, n, f) in &rows {
                w.push(k, t, n, f).unwrap();
            }
            w.finish(1).unwrap();
            // Just written, it opens alike without the second reading for its checksum.
            let whole = Segment::open(&path, 1).unwrap();
            let written = Segment::open_written(&path, 1).unwrap();
            prop_assert_eq!(whole.links(), written.links());
            let mut bytes = std::fs::read(&path).unwrap();
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
            std::fs::write(&path, &bytes).unwrap();
            prop_assert!(Segment::open(&path, 1).is_err());
        }
    }

    /// Titles of pages, of targets or of both (`kind` 0, 1, 2), in dictionary order, with
    /// their page ids and target ids: in the same order both ways when `ordered` (as the
    /// bulk load gives them), else at random.
    type Named = Vec<(i32, String, Option<u32>, Option<u32>)>;

    fn named(titles: BTreeMap<(i32, String), (u8, u16, u16)>, ordered: bool) -> Named {
        (0u32..)
            .zip(titles)
            .map(|(i, ((ns, t), (kind, pk, tk)))| {
                let (page, tid) = if ordered {
                    (2 * i + 1, i + 1)
                } else {
                    (u32::from(pk) * 512 + i, u32::from(tk) * 512 + i)
                };
                (
                    ns,
                    t,
                    (kind != 1).then_some(page),
                    (kind != 0).then_some(tid),
                )
            })
            .collect()
    }

    /// A segment of `named`'s titles (no link rows), both tables written in one walk.
    fn shared_segment(named: &Named, listed_below: u32) -> (tempfile::TempDir, Segment) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.seg");
        let mut w = SegmentWriter::create(&path).unwrap();
        let mut tables = TitleTablesApart::create(dir.path(), 0, 0).unwrap();
        tables.list_shared_below(listed_below);
        for (ns, t, page, tid) in named {
            if let Some(p) = page {
                tables.push_page(*ns, t, *p, p % 3 == 0).unwrap();
            }
            if let Some(tid) = tid {
                tables.push_target(*ns, t, *tid).unwrap();
            }
        }
        let (targets, pages) = tables.finish().unwrap();
        w.splice_titles(targets).unwrap();
        w.splice_pages(pages).unwrap();
        w.finish(3).unwrap();
        let s = Segment::open(&path, 1).unwrap();
        (dir, s)
    }

    #[test]
    fn sparse_groups_keep_the_lengths_of_their_ids_alone() {
        // Targets of kind 1 at every 64th id: two in each group of 128 ids.
        let rows: BTreeSet<(u8, u32, i32, u32)> =
            (1..200u32).map(|i| (1u8, i * 64, 10, i % 50 + 1)).collect();
        let (_a, dense) = build_version(&rows, 12);
        let (_b, sparse) = build_version(&rows, VERSION);
        for &(k, t, n, f) in &rows {
            assert!(sparse.target(k, t).unwrap().contains(n, f).unwrap());
            assert!(sparse.target(k, t + 1).unwrap().lists.is_empty());
        }
        let all: Vec<u32> = sparse.targets(1).map(|t| t.unwrap().0).collect();
        assert_eq!(all, (1..200u32).map(|i| i * 64).collect::<Vec<_>>());
        // 100 groups: 128 length bytes each against a 16-byte bitmap and two lengths.
        assert!(
            dense.bytes() >= sparse.bytes() + 100 * 100,
            "{} vs {} bytes",
            dense.bytes(),
            sparse.bytes()
        );
        // The forward table's one group holds 50 pages: sparse too.
        assert_eq!(
            dense.forward_bytes().unwrap(),
            sparse.forward_bytes().unwrap() + 128 - (16 + 50)
        );
    }

    /// A segment of pages 1..=`pages` (namespace 0, each with a forward entry), targets
    /// `1..` named as page `2 * tid` where that is a page and red otherwise, and `rows`
    /// (kind, target, from) of namespace 0, its small lists centred when `centred`.
    fn centred_segment(
        pages: u32,
        rows: &BTreeSet<(u8, u32, u32)>,
        centred: bool,
        version: u32,
    ) -> (tempfile::TempDir, Segment) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.seg");
        let mut w = SegmentWriter::create(&path).unwrap().with_version(version);
        w.set_forward_universe(1000);
        for from in 1..=pages {
            // Every fifth page heavy (in tests, from three rows), so that lists are split.
            let n = if from % 5 == 0 { 3 } else { 1 };
            w.push_forward(from, &fentry(from, n), n, Some(0)).unwrap();
        }
        let tids: BTreeSet<u32> = rows.iter().map(|r| r.1).collect();
        let mut tables = TitleTablesApart::create(dir.path(), 0, 0).unwrap();
        let mut named: Vec<(String, Option<u32>, Option<u32>)> = (1..=pages)
            .map(|p| {
                (
                    format!("P{p:06}"),
                    Some(p),
                    (p % 2 == 0 && tids.contains(&(p / 2))).then_some(p / 2),
                )
            })
            .collect();
        named.extend(
            tids.iter()
                .filter(|&&t| 2 * t > pages)
                .map(|&t| (format!("R{t:06}"), None, Some(t))),
        );
        named.sort();
        for (title, page, tid) in &named {
            if let Some(p) = page {
                tables.push_page(0, title, *p, false).unwrap();
            }
            if let Some(t) = tid {
                tables.push_target(0, title, *t).unwrap();
            }
        }
        let (targets, page_table) = tables.finish().unwrap();
        if centred {
            w.centre_on(&targets).unwrap();
        }
        for &(k, t, f) in rows {
            w.push(k, t, 0, f).unwrap();
        }
        w.splice_titles(targets).unwrap();
        w.splice_pages(page_table).unwrap();
        w.finish(3).unwrap();
        let s = Segment::open(&path, 1).unwrap();
        (dir, s)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Small lists whose linkers lie near their target's page are coded around it where
        /// that is smaller, and read back the same, one target at a time or all in order.
        #[test]
        fn small_lists_are_centred_on_their_pages(
            lists in prop::collection::btree_map(1u32..2000, (prop::collection::vec((any::<bool>(), 1u32..300), 1..40), prop::collection::vec(1u32..20_000, 0..4)), 1..60),
        ) {
            let pages = 20_000;
            let mut rows = BTreeSet::new();
            for (&tid, (near, far)) in &lists {
                let kind = (tid % 2) as u8;
                for &(below, d) in near {
                    let from = if below { (2 * tid).saturating_sub(d).max(1) } else { 2 * tid + d }.min(pages);
                    rows.insert((kind, tid, from));
                }
                rows.extend(far.iter().map(|&f| (kind, tid, f)));
            }
            let (_a, plain) = centred_segment(pages, &rows, false, VERSION);
            let (_b, old) = centred_segment(pages, &rows, true, 11);
            let (_c, s) = centred_segment(pages, &rows, true, VERSION);
            let (_d, unsplit) = centred_segment(pages, &rows, true, 18);
            prop_assert_eq!(s.namespaces().unwrap().heavy.unwrap().len(), u64::from(pages / 5));
            let mut centred = 0;
            for &tid in lists.keys() {
                let kind = (tid % 2) as u8;
                let want: Vec<u32> = rows.iter().filter(|r| r.0 == kind && r.1 == tid).map(|r| r.2).collect();
                for seg in [&plain, &old, &s, &unsplit] {
                    let t = seg.target(kind, tid).unwrap();
                    prop_assert_eq!(t.lists.len(), 1);
                    prop_assert_eq!(t.lists[0].0, 0);
                    prop_assert_eq!(t.lists[0].1.all().unwrap(), want.clone());
                }
                // Found by title, the target comes with the page its lists are centred on.
                let title = if 2 * tid <= pages { format!("P{:06}", 2 * tid) } else { format!("R{tid:06}") };
                let (t, page) = s.target_and_page(0, &title).unwrap().unwrap();
                prop_assert_eq!(t, tid);
                prop_assert_eq!(page, (2 * tid <= pages).then_some(2 * tid));
                prop_assert_eq!(s.target_at(kind, tid, page).unwrap().lists[0].1.all().unwrap(), want.clone());
                let entry = s.entry(usize::from(kind), tid).unwrap().unwrap();
                if entry.first() == Some(1) {
                    centred += 1;
                    prop_assert!(2 * tid <= pages, "a red target's list centred");
                    prop_assert!(entry.len() < plain.entry(usize::from(kind), tid).unwrap().unwrap().len());
                }
                prop_assert_ne!(old.entry(usize::from(kind), tid).unwrap().unwrap().first(), Some(1));
            }
            // Lists of a few near linkers and no far ones are centred.
            let close = lists.iter().filter(|(&t, (near, far))| 2 * t <= pages && far.is_empty() && near.len() >= 3).count();
            prop_assert!(centred >= close / 2, "{} of {} centred", centred, close);
            for kind in 0..2u8 {
                let all: Vec<(u32, Vec<u32>)> = s.targets(kind).map(|t| {
                    let (tid, l) = t.unwrap();
                    (tid, l.lists[0].1.all().unwrap())
                }).collect();
                let want: Vec<(u32, Vec<u32>)> = lists.keys().filter(|&&t| (t % 2) as u8 == kind).map(|&t| {
                    (t, rows.iter().filter(|r| r.0 == kind && r.1 == t).map(|r| r.2).collect())
                }).collect();
                prop_assert_eq!(all, want);
            }
            prop_assert!(s.bytes() <= plain.bytes());
        }
    }

    proptest! {
        /// Targets that are pages share the pages' titles, whatever the pairing of their
        /// ids: each is found both ways and listed in dictionary order, and the page table
        /// reads as it would alone. Pairs of target ids below `listed_below` stay out of
        /// the rank sets.
        #[test]
        fn shared_titles_are_found_both_ways(
            titles in prop::collection::btree_map((-1i32..3, "[A-Z][a-z]{0,3}"), (0u8..3, any::<u16>(), any::<u16>()), 0..300),
            ordered in any::<bool>(),
            listed_below in prop_oneof![Just(0u32), 0u32..400],
        ) {
            let named = named(titles, ordered);
            let (_d, s) = shared_segment(&named, listed_below);
            s.check_shared().unwrap();
            let below = s.shared_listed_below().unwrap();
            prop_assert!(below == 0 || below >= listed_below, "{} ranked, below {}", below, listed_below);
            let targets: Vec<(i32, String, u32)> = named.iter()
                .filter_map(|(ns, t, _, tid)| tid.map(|tid| (*ns, t.clone(), tid)))
                .collect();
            let both = named.iter().filter(|n| n.2.is_some() && n.3.is_some()).count();
            prop_assert_eq!(s.shared_titles(), both as u64);
            prop_assert_eq!(s.targets_len(), targets.len());
            let listed: Vec<(i32, String, u32)> = s.target_titles().map(|t| t.unwrap()).collect();
            prop_assert_eq!(&listed, &targets);
            for (ns, t, page, tid) in &named {
                prop_assert_eq!(s.target_id(*ns, t).unwrap(), *tid);
                prop_assert_eq!(s.page_id(*ns, t), *page);
                if let Some(tid) = tid {
                    prop_assert_eq!(s.target_name(*tid).unwrap(), Some((*ns, t.clone())));
                    prop_assert_eq!(s.target_name(tid + 1).unwrap().is_some(), targets.iter().any(|x| x.2 == tid + 1));
                }
                if let Some(p) = page {
                    prop_assert_eq!(s.page(*p).unwrap(), Some((*ns, t.clone(), p % 3 == 0)));
                }
            }
            prop_assert_eq!(s.pages_len(), named.iter().filter(|n| n.2.is_some()).count());
            // A walk by target id answers as the lookups do, and starts over when asked
            // an id below the last.
            let mut asked: Vec<u32> = named.iter().filter_map(|n| n.3).flat_map(|t| [t, t + 1]).collect();
            asked.extend([0, 1]);
            asked.sort_unstable();
            asked.dedup();
            let most = asked.last().copied().unwrap_or(0);
            let mut walk = s.shared.walk();
            for tid in asked.into_iter().chain([most / 2, most + 1]) {
                prop_assert_eq!(walk.page_of(&s.map, tid).unwrap(), s.shared.page_of(&s.map, tid).unwrap());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Damaged title tables and shared titles (the checksum forged to match) give
        /// errors or wrong answers, never a panic.
        #[test]
        fn damaged_titles_do_not_panic(
            titles in prop::collection::btree_map((-1i32..3, "[A-Z][a-z]{0,3}"), (0u8..3, any::<u16>(), any::<u16>()), 1..120),
            ordered in any::<bool>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let named = named(titles, ordered);
            let (d, s) = shared_segment(&named, 0);
            drop(s);
            let path = d.path().join("s.seg");
            let mut bytes = std::fs::read(&path).unwrap();
            // Past the trailer's tables, checksum and magic, anywhere.
            let body = bytes.len() - 12;
            for (i, b) in flips {
                bytes[i.index(body)] ^= b;
            }
            reseal(&mut bytes);
            std::fs::write(&path, &bytes).unwrap();
            let Ok(s) = Segment::open(&path, 1) else {
                return Ok(());
            };
            let _ = s.check_shared();
            let _ = s.target_titles().take(200).count();
            let _ = s.page_titles().take(200).count();
            for (ns, t, page, tid) in &named {
                let _ = s.target_id(*ns, t);
                let _ = s.page_id(*ns, t);
                if let Some(tid) = tid {
                    let _ = s.target_name(*tid);
                }
                if let Some(p) = page {
                    let _ = (s.page(*p), s.page_is_redirect(*p), s.has_page(*p));
                }
            }
            let _ = s.page_ids(0, false).take(300).count();
            let _ = s.page_ids(u32::MAX, true).take(300).count();
            let _ = (s.target_title_bytes(), s.page_title_bytes(), s.targets_len());
        }
    }

    #[test]
    fn titles_shared_in_page_order_cost_bits() {
        let titles: BTreeMap<(i32, String), (u8, u16, u16)> = (0..20_000u32)
            // Titles of no page get the last target ids, as in a bulk load.
            .map(|i| {
                (
                    (0, format!("Title_{i:05}")),
                    (
                        if i >= 18_000 { 1 } else { 2 },
                        (i * 40_503) as u16,
                        (i * 7_919) as u16,
                    ),
                )
            })
            .collect();
        let (_d, s) = shared_segment(&named(titles.clone(), true), 0);
        assert_eq!(s.shared_titles(), 18_000);
        // Two rank sets: a bit per target id and per page id (the page ids here are odd:
        // two bits a title), and their directories.
        let per_title = s.target_title_bytes() as f64 / 20_000.0;
        assert!(per_title < 2.0, "{per_title} bytes a target");
        // A page id far past the others is listed, not given a rank set of its bits.
        let mut far = named(titles.clone(), true);
        far[0].2 = Some(1 << 22);
        let (_d, s) = shared_segment(&far, 0);
        assert_eq!(s.shared_titles(), 18_000);
        assert_eq!(s.target_name(1).unwrap(), Some((0, "Title_00000".into())));
        assert!(s.target_title_bytes() as f64 / 20_000.0 < per_title + 0.01);
        // 200 targets from the middle given the first ids, as the bulk load gives the
        // most linked: told so, the writer lists those 200 and keeps the rest in the
        // sets; not told, the first pair's page, far on, shuts out the 9,000 before it.
        let mut first = named(titles.clone(), true);
        for n in &mut first {
            n.3 = n.3.map(|t| match t {
                ..=9_000 => t + 200,
                9_001..=9_200 => t - 9_000,
                _ => t,
            });
        }
        let (_d, s) = shared_segment(&first, 201);
        assert_eq!(s.shared_titles(), 18_000);
        assert_eq!(s.shared_listed_below().unwrap(), 201);
        assert!(s.target_title_bytes() as f64 / 20_000.0 < per_title + 0.2);
        s.check_shared().unwrap();
        let (_d, s) = shared_segment(&first, 0);
        assert!(s.target_title_bytes() > 16 * 8_000);
        // As many first ids as at full size (a quarter of a million there), past the slack
        // the rank sets allow for ids far on: the pairs after them still go in the sets.
        let mut far_first = named(titles.clone(), true);
        for n in &mut far_first {
            n.3 = n.3.map(|t| t + 100_000);
        }
        let (_d, s) = shared_segment(&far_first, 100_001);
        assert_eq!(s.shared_titles(), 18_000);
        assert!(s.target_title_bytes() as f64 / 20_000.0 < per_title + 1.0);
        // Paired at random, most are listed both ways instead: 16 bytes a pair.
        let (_d, s) = shared_segment(&named(titles, false), 0);
        assert_eq!(s.shared_titles(), 18_000);
        assert!(s.target_title_bytes() > 16 * 17_000);
        s.check_shared().unwrap();
    }

    #[test]
    fn a_page_shares_its_title_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut tables = TitleTablesApart::create(dir.path(), 0, 0).unwrap();
        tables.push_page(0, "A", 5, false).unwrap();
        tables.push_target(0, "A", 1).unwrap();
        assert!(
            tables.push_target(0, "A", 2).is_err(),
            "the same title twice"
        );
        // A target before its page does not share it, and is written as any other.
        let mut tables = TitleTablesApart::create(dir.path(), 0, 0).unwrap();
        tables.push_target(0, "B", 1).unwrap();
        tables.push_page(0, "B", 5, false).unwrap();
        let (targets, pages) = tables.finish().unwrap();
        assert!(targets.shared.is_empty() && pages.shared.is_empty());
        // Pages past 2^31 cannot share.
        let mut w = TitlesWriter::new(0).sharing();
        assert!(w.push_shared(1, 1 << 31).is_err());
        assert!(
            w.push(&mut Vec::new(), 0, "C", 2, true).is_err(),
            "targets have no flag"
        );
    }

    #[test]
    fn large_and_small_targets_both_forms() {
        // Target 1 is past MIXED_MAX (a list per namespace), target 2 under it (one list
        // with namespace indexes), target 3 has one namespace.
        let mut rows = BTreeSet::new();
        for from in 0..3000u32 {
            rows.insert((0u8, 1u32, (from % 3) as i32 - 1, from * 7));
        }
        for from in 0..100u32 {
            rows.insert((0, 2, (from % 5) as i32 * 2, from * 3 + 1));
        }
        for from in 0..10u32 {
            rows.insert((0, 3, 4, from));
        }
        let (_d, s) = build(&rows);
        for tid in 1..=3u32 {
            let lists = s.target(0, tid).unwrap();
            let mut got = BTreeSet::new();
            for (ns, l) in &lists.lists {
                for from in l.all().unwrap() {
                    got.insert((0u8, tid, *ns, from));
                }
            }
            let want: BTreeSet<_> = rows.iter().copied().filter(|r| r.1 == tid).collect();
            assert_eq!(got, want, "target {tid}");
            // Pages here have rows in several namespaces, so none is in the namespace map.
            let mixed = matches!(lists.lists[0].1, List::Ids(_));
            assert_eq!(mixed, tid == 2, "target {tid}: the form");
        }
        let [targets, lists, ids, ..] = s.breakdown().unwrap();
        assert_eq!((targets, lists, ids), (3, 9, 3110));
    }

    #[test]
    fn compact_entries_leave_their_namespace_to_the_map() {
        let compact = |ns: i32, rest: &[u8]| {
            let mut e = vec![COMPACT | 1];
            put_varint(&mut e, zigzag(i64::from(ns)));
            e.extend_from_slice(rest);
            e
        };
        let write = |version: u32, entries: &[(u32, Vec<u8>, Option<i32>)]| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.seg");
            let mut w = SegmentWriter::create(&path).unwrap().with_version(version);
            w.set_forward_universe(1000);
            for (from, e, ns) in entries {
                w.push_forward(*from, e, 1, *ns).unwrap();
            }
            w.finish(1).unwrap();
            (Segment::open(&path, 1).unwrap(), dir)
        };
        let entries = [
            (3, compact(-2, &[9, 9]), Some(-2)),
            (200, compact(300, &[5]), Some(300)),
            // Rows under several namespaces: no namespace in the map, the entry kept.
            (201, compact(4, &[6]), None),
            (202, vec![0, 1, 2], None),
        ];
        let (s, _d) = write(VERSION, &entries);
        let at = |s: &Segment, from: u32| s.forward(from).unwrap().unwrap().to_vec();
        assert_eq!(at(&s, 3), [COMPACT | IMPLIED | 1, 9, 9]);
        assert_eq!(at(&s, 200), [COMPACT | IMPLIED | 1, 5]);
        assert_eq!(at(&s, 201), entries[2].1);
        assert_eq!(at(&s, 202), [0, 1, 2]);
        // The group's header stands for the first byte of the first two (version 16).
        let heads = [3, 200, 201, 202].map(|p| s.forward(p).unwrap().unwrap().head);
        let first = Some(COMPACT | IMPLIED | 1);
        assert_eq!(heads, [first, first, None, None]);
        assert_eq!(
            [3, 200, 201, 202].map(|p| s.page_namespace(p)),
            [Some(-2), Some(300), None, None]
        );
        // Copied into a segment whose map holds no namespace, they have theirs back.
        let moved: Vec<_> = entries
            .iter()
            .map(|(from, _, ns)| (*from, at(&s, *from), *ns))
            .collect();
        let (old, _d6) = write(6, &moved);
        for (from, e, _) in &entries {
            assert_eq!(&at(&old, *from), e);
            assert_eq!(old.page_namespace(*from), None);
        }
        // An entry leaving its namespace out, with none given, is refused.
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(&dir.path().join("s.seg")).unwrap();
        assert!(w
            .push_forward(1, &[COMPACT | IMPLIED | 1, 5], 1, None)
            .is_err());
    }

    #[test]
    fn small_targets_read_namespaces_from_the_map() {
        // Page p is in namespace p % 4 * 2 - 2, except page 3, whose rows disagree.
        let ns = |from: u32| (from % 4) as i32 * 2 - 2;
        let mut rows = BTreeSet::new();
        for from in 0..40u32 {
            rows.insert((0u8, 1u32, ns(from), from));
            if from % 3 == 0 {
                rows.insert((1, 2, ns(from), from));
            }
        }
        rows.insert((0, 9, 7, 3));
        rows.insert((0, 8, ns(5), 5));
        let (_d, s) = build(&rows);
        let (_d6, s6) = build_version(&rows, 6);
        let entry = |s: &Segment, k: u8, t: u32| s.entry(usize::from(k), t).unwrap().unwrap().len();
        for (k, tid) in [(0u8, 1u32), (1, 2), (0, 8), (0, 9)] {
            let lists = s.target(k, tid).unwrap();
            let got: BTreeSet<_> = lists
                .lists
                .iter()
                .flat_map(|(n, l)| l.all().unwrap().into_iter().map(move |f| (k, tid, *n, f)))
                .collect();
            let want: BTreeSet<_> = rows
                .iter()
                .copied()
                .filter(|r| (r.0, r.1) == (k, tid))
                .collect();
            assert_eq!(got, want, "target {tid}");
            assert!(lists.lists.windows(2).all(|w| w[0].0 < w[1].0));
            // Page 3 is in target 1 and 9 (and 2): those keep their namespaces.
            let mapped = s.entry_form(k, tid) == 0;
            assert_eq!(mapped, tid == 8, "target {tid}: the form");
            if mapped {
                assert!(entry(&s, k, tid) < entry(&s6, k, tid));
            }
        }
        // Without page 3's stray row, every small target takes the map.
        rows.remove(&(0, 9, 7, 3));
        let (_d, s) = build(&rows);
        for (k, tid) in [(0u8, 1u32), (1, 2), (0, 8)] {
            assert_eq!(s.entry_form(k, tid), 0, "target {tid}");
            assert!(entry(&s, k, tid) + 1 < entry(&s6, k, tid), "target {tid}");
        }
        let back: BTreeSet<_> = (0..4u8)
            .flat_map(|k| s.targets(k).collect::<Vec<_>>())
            .flat_map(|t| {
                let (tid, lists) = t.unwrap();
                let k = if tid == 2 { 1 } else { 0 };
                lists
                    .lists
                    .into_iter()
                    .flat_map(move |(n, l)| {
                        l.all().unwrap().into_iter().map(move |f| (k, tid, n, f))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(back, rows);
    }

    #[test]
    fn a_mapped_entry_from_a_page_without_a_namespace_is_malformed() {
        let rows: BTreeSet<_> = (0..10u32).map(|f| (0u8, 1u32, 0i32, f)).collect();
        let (d, s) = build(&rows);
        assert_eq!(s.entry_form(0, 1), 0);
        let path = d.path().join("s.seg");
        let mut bytes = std::fs::read(&path).unwrap();
        // Every rank of the map set to "none".
        let m = s.nsmap.as_ref().unwrap();
        let (start, n) = (m.at, (m.ids * u64::from(m.width)).div_ceil(8) as usize);
        drop(s);
        bytes[start..start + n].fill(0xff);
        reseal(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let s = Segment::open(&path, 1).unwrap();
        assert!(s.target(0, 1).is_err());
    }

    #[test]
    fn namespaces_past_i32_are_malformed_not_an_overflow() {
        let mut b = Vec::new();
        for v in [5i64, -3, i64::MAX, i64::MAX] {
            put_varint(&mut b, zigzag(v));
        }
        let mut pos = 0;
        assert!(
            read_namespaces(&b, &mut pos, 2, false).is_err(),
            "descending"
        );
        let mut b = Vec::new();
        put_varint(&mut b, zigzag(1));
        put_varint(&mut b, zigzag(i64::MAX));
        let mut pos = 0;
        assert!(read_namespaces(&b, &mut pos, 2, false).is_err(), "past i64");
        let mut b = Vec::new();
        for v in [-2i64, 2, 10] {
            put_varint(&mut b, zigzag(v));
        }
        let mut pos = 0;
        assert_eq!(
            read_namespaces(&b, &mut pos, 3, false).unwrap(),
            vec![-2, 0, 10]
        );
        assert_eq!(pos, b.len());
    }

    #[test]
    fn log2_binomial_matches_the_product() {
        for (n, k) in [(10u64, 3u64), (40, 20), (1000, 7), (100_000, 300), (17, 17)] {
            let exact: f64 = (0..k)
                .map(|i| ((n - i) as f64 / (k - i) as f64).log2())
                .sum();
            let got = log2_binomial(n, k);
            assert!(
                (got - exact).abs() < 1e-6 * exact.max(1.0),
                "C({n},{k}): {got} vs {exact}"
            );
        }
        assert_eq!(log2_binomial(3, 5), 0.0);
    }

    #[test]
    fn groups_coded_apart_come_back_in_order() {
        // Hundreds of groups, some waiting on the coding threads for their count and some
        // for their rows (one target has thousands), in three kinds.
        let mut rows = BTreeSet::new();
        for k in 0..3u8 {
            for t in (0..40_000u32).step_by(37 + usize::from(k)) {
                let n = if t == 8_029 { 3_000 } else { t % 9 + 1 };
                rows.extend((0..n).map(|i| (k, t, (t % 3) as i32, (t + i * 11) % 9_000)));
            }
        }
        let (_d, s) = build(&rows);
        let mut got = BTreeSet::new();
        for k in 0..3u8 {
            for t in s.targets(k) {
                let (tid, lists) = t.unwrap();
                for (ns, p) in &lists.lists {
                    got.extend(p.all().unwrap().into_iter().map(|f| (k, tid, *ns, f)));
                }
            }
        }
        assert_eq!(got, rows);
    }

    #[test]
    fn a_list_writes_what_its_rows_would() {
        let rows = [
            (0u8, 1u32, 0i32, 3u32),
            (0, 1, 0, 9),
            (0, 1, 2, 4),
            (0, 7, 0, 1),
            (1, 2, -1, 5),
            (1, 2, -1, 6),
            (1, 2, 4, 2),
        ];
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, lists: bool| {
            let path = dir.path().join(name);
            let mut w = SegmentWriter::create(&path).unwrap();
            if lists {
                for group in rows.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
                    let from: Vec<u32> = group.iter().map(|r| r.3).collect();
                    let (k, t, n, _) = group[0];
                    w.push_list(k, t, n, &from).unwrap();
                }
            } else {
                for &(k, t, n, f) in &rows {
                    w.push(k, t, n, f).unwrap();
                }
            }
            w.finish(1).unwrap();
            std::fs::read(path).unwrap()
        };
        assert_eq!(write("lists", true), write("rows", false));
        let mut w = SegmentWriter::create(&dir.path().join("bad")).unwrap();
        w.push_list(0, 5, 0, &[]).unwrap();
        assert!(w.push_list(0, 5, 0, &[2, 2]).is_err(), "a page twice");
        assert!(w.push_list(0, 5, 0, &[3, 2]).is_err(), "pages descending");
        w.push_list(0, 5, 0, &[2, 3]).unwrap();
        assert!(
            w.push_list(0, 5, 0, &[3, 4]).is_err(),
            "a page before again"
        );
        w.push_list(0, 5, 0, &[4, 8]).unwrap();
    }

    #[test]
    fn out_of_order_rows_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(&dir.path().join("s")).unwrap();
        w.push(0, 5, 0, 9).unwrap();
        assert!(w.push(0, 5, 0, 9).is_err());
        assert!(w.push(0, 4, 0, 10).is_err());
        assert!(w.push(4, 0, 0, 0).is_err());
        // Forward entries come first, ascending, never empty.
        let mut w = SegmentWriter::create(&dir.path().join("f")).unwrap();
        w.push_forward(3, b"x", 1, None).unwrap();
        assert!(w.push_forward(3, b"y", 1, None).is_err());
        assert!(w.push_forward(4, b"", 0, None).is_err());
        w.push(0, 1, 0, 3).unwrap();
        assert!(w.push_forward(9, b"z", 1, None).is_err());
        // A reverse row from a page past the forward table's last group: its lists could
        // not hold it.
        w.push(0, 1, 0, 127).unwrap();
        assert!(w.push(0, 1, 0, 128).is_err());
        // Titles come last, in dictionary order, a title per target id.
        w.push_title(0, "B", 1).unwrap();
        assert!(w.push_title(0, "A", 2).is_err());
        w.push_title(0, "C", 2).unwrap();
        assert!(w.push(0, 9, 0, 1).is_err());
        w.push_page(0, "P", 7, true).unwrap();
        assert!(w.push_title(0, "D", 3).is_err(), "targets after pages");
        w.finish(1).unwrap();
        let s = Segment::open(&dir.path().join("f"), 1).unwrap();
        assert_eq!(s.target_name(2).unwrap(), Some((0, "C".into())));
        assert_eq!(s.target_name(0).unwrap(), None);
        assert_eq!(s.page(7).unwrap(), Some((0, "P".into(), true)));
        assert_eq!(s.page_id(0, "P"), Some(7));
        // An id with two titles is refused, when given or when the table is written.
        let mut w = SegmentWriter::create(&dir.path().join("g")).unwrap();
        w.push_title(0, "A", 1).unwrap();
        assert!(w.push_title(0, "B", 1).is_err() || w.finish(1).is_err());
    }
}
