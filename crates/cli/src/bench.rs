//! `inlink bench`: benchmarks on generated data, each printing a ratio against a baseline
//! measured in the same run (these machines are shared and noisy; absolute numbers are not
//! comparable between runs, ratios are).

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use inlink_import::demo::{self, DemoPage};
use inlink_import::{Format, Options};
use inlink_model::{SiteInfo, Title, TitleCodec};
use inlink_parse::Extractor;
use inlink_store::RedbStore;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Wikitext link extraction (with template expansion) in MB/s, against a memchr scan
    /// for `[[` over the same text.
    Extract {
        /// Generated articles.
        #[arg(long, default_value_t = 20_000)]
        articles: u64,
        /// Passes over the text.
        #[arg(long, default_value_t = 3)]
        passes: u32,
    },
    /// Reads and writes at saturation for a while (10 minutes by default): errors by
    /// status and the RSS curve.
    Soak {
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        /// Reading connections (one more writes).
        #[arg(long, default_value_t = 3)]
        readers: usize,
        #[arg(long, default_value_t = 1000)]
        articles: u64,
        /// Seconds between RSS samples.
        #[arg(long, default_value_t = 30)]
        every: u64,
    },
    /// HTTP throughput of `list=backlinks` against `/healthz` of the same server (and,
    /// given `--mediawiki`, against MediaWiki serving the same golden wiki).
    Http {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// A MediaWiki `api.php` base (e.g. http://127.0.0.1:8090) serving the same wiki
        /// (`inlink bench generate --articles N --seed 5 --edge-cases`).
        #[arg(long)]
        mediawiki: Option<String>,
        /// Articles of the generated wiki (at 1,000 the target has 668 backlinks, so
        /// `bllimit=500` answers 500 rows; the MediaWiki golden wiki has 150).
        #[arg(long, default_value_t = 1000)]
        articles: u64,
        /// Rounds of the loads, one after another in each: every ratio is the median of
        /// the rounds' ratios, each taken between loads run a few seconds apart.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// A generated Markdown vault: import time, then in-process `getBacklink2` and mention
    /// latencies (p50/p99) against an exhaustive scan of the same files for the same title
    /// (and `rg -F -i -l` when ripgrep is installed), measured in the same run.
    Notes {
        /// Generated notes.
        #[arg(long, default_value_t = 100_000)]
        notes: usize,
        /// Approximate bytes of Markdown per note.
        #[arg(long, default_value_t = 1_000)]
        note_bytes: usize,
        /// Notes asked about (chosen uniformly).
        #[arg(long, default_value_t = 300)]
        samples: usize,
        /// Titles searched by the exhaustive scan (each reads every file).
        #[arg(long, default_value_t = 20)]
        scans: usize,
        #[arg(long, default_value_t = 3)]
        seed: u64,
    },
    /// An enwiki-shaped graph as Wikimedia SQL dumps: import against `zcat` of the same
    /// files, index size per link, and in-process `list=backlinks` latencies (default limit,
    /// 500 rows, a cursor resumed halfway into the most linked page).
    Scale {
        /// Generated pages.
        #[arg(long, default_value_t = 200_000)]
        pages: u64,
        /// Targets asked about (chosen as links choose them: Zipf).
        #[arg(long, default_value_t = 500)]
        samples: usize,
        #[arg(long, default_value_t = 5)]
        seed: u64,
        /// Keep the dumps and the index here instead of a temporary folder.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// Also write the graph as a multistream `.xml.bz2` dump and import it, against
        /// `lbzip2 -d -n 2` (or `bzip2 -dc`) of the same file.
        #[arg(long)]
        xml: bool,
        /// Ask the index an earlier run left in `--dir` instead of importing afresh: the
        /// queries of two builds (or two formats) alternated on the same host, and a cold
        /// run after the page cache is dropped.
        #[arg(long, requires = "dir", conflicts_with = "xml")]
        reuse_index: bool,
    },
    /// Write a generated wiki as a MediaWiki XML export.
    Generate {
        /// Generated articles.
        #[arg(long, default_value_t = 1_000)]
        articles: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Add the hand-written pages that exercise every link rule.
        #[arg(long)]
        edge_cases: bool,
        /// The wiki's name (namespace 4).
        #[arg(long, default_value = "TestWiki")]
        sitename: String,
        /// Output file.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Import of a generated multistream .xml.bz2 dump, against `bzip2 -dc` of the same file.
    XmlImport {
        /// Generated articles.
        #[arg(long, default_value_t = 50_000)]
        articles: u64,
        /// Measure on this .xml.bz2 dump instead of a generated one.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Extract { articles, passes } => extract(articles, passes),
        BenchCommand::XmlImport { articles, file } => xml_import(articles, file),
        BenchCommand::Http {
            seconds,
            connections,
            mediawiki,
            articles,
            rounds,
        } => http(seconds, connections, mediawiki, articles, rounds),
        BenchCommand::Soak {
            seconds,
            readers,
            articles,
            every,
        } => soak(seconds, readers, articles, every),
        BenchCommand::Notes {
            notes,
            note_bytes,
            samples,
            scans,
            seed,
        } => notes_bench(notes, note_bytes, samples, scans, seed),
        BenchCommand::Scale {
            pages,
            samples,
            seed,
            dir,
            xml,
            reuse_index,
        } => scale_bench(pages, samples, seed, dir, xml, reuse_index),
        BenchCommand::Generate {
            articles,
            seed,
            edge_cases,
            sitename,
            out,
        } => {
            let pages = generated_wiki(articles, seed, edge_cases);
            let mut f = std::io::BufWriter::new(std::fs::File::create(&out)?);
            demo::write_xml(&mut f, &sitename, &pages)?;
            f.flush()?;
            println!("{}: {} pages", out.display(), pages.len());
            Ok(())
        }
    }
}

/// The generated wiki, optionally with the edge-case pages after it.
pub fn generated_wiki(articles: u64, seed: u64, edge_cases: bool) -> Vec<DemoPage> {
    if edge_cases {
        demo::golden_wiki(articles, seed)
    } else {
        demo::generate(articles, seed)
    }
}

fn codec_for(pages: &[DemoPage]) -> (TitleCodec, HashMap<Title, String>) {
    let codec = TitleCodec::new(SiteInfo::mediawiki_default("Demo Wiki"));
    let templates = pages
        .iter()
        .filter(|p| p.ns == 10)
        .filter_map(|p| codec.parse_local(&p.title, 0).map(|t| (t, p.text.clone())))
        .collect();
    (codec, templates)
}

fn extract(articles: u64, passes: u32) -> Result<()> {
    let pages = demo::generate(articles, 7);
    let (codec, templates) = codec_for(&pages);
    let titled: Vec<(Title, &str)> = pages
        .iter()
        .filter_map(|p| codec.parse_local(&p.title, 0).map(|t| (t, p.text.as_str())))
        .collect();
    let bytes: usize = titled.iter().map(|(_, t)| t.len()).sum();
    let source = |t: &Title| templates.get(t).cloned();
    let extractor = Extractor::new(codec);
    let start = Instant::now();
    let mut links = 0usize;
    for _ in 0..passes {
        for (title, text) in &titled {
            links += extractor.extract(title, text, &source).links.len();
        }
    }
    let ours = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut brackets = 0usize;
    for _ in 0..passes {
        for (_, text) in &titled {
            brackets += memchr::memmem::find_iter(text.as_bytes(), b"[[").count();
        }
    }
    let scan = start.elapsed().as_secs_f64().max(1e-9);
    let mb = (bytes as f64 * passes as f64) / 1e6;
    println!(
        "wikitext: {} pages, {:.1} MB × {passes} passes, {} link rows, {} `[[`",
        titled.len(),
        bytes as f64 / 1e6,
        links / passes as usize,
        brackets / passes as usize
    );
    println!("extraction (templates expanded): {:.1} MB/s", mb / ours);
    println!("memchr scan for `[[` (baseline):  {:.1} MB/s", mb / scan);
    println!("ratio extraction / scan: {:.3}", scan / ours);
    Ok(())
}

fn xml_import(articles: u64, file: Option<std::path::PathBuf>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let xml_path = dir.path().join("bench.xml");
    let bz_path = match file {
        Some(f) => {
            let mut xml = Vec::new();
            bzip2::read::MultiBzDecoder::new(std::fs::File::open(&f)?).read_to_end(&mut xml)?;
            std::fs::write(&xml_path, &xml)?;
            println!("dump {}", f.display());
            f
        }
        None => generated_bz2(articles, dir.path(), &xml_path)?,
    };
    measure_xml_import(&xml_path, &bz_path)
}

/// Writes a generated dump as plain XML and as multistream bzip2; returns the latter.
fn generated_bz2(
    articles: u64,
    dir: &std::path::Path,
    xml_path: &std::path::Path,
) -> Result<std::path::PathBuf> {
    let pages = demo::generate(articles, 11);
    let bz_path = dir.join("bench.xml.bz2");
    {
        let mut xml = Vec::new();
        demo::write_xml(&mut xml, "Bench Wiki", &pages)?;
        std::fs::write(xml_path, &xml)?;
        // Multistream like Wikimedia's: the header, then 100 pages per bzip2 stream.
        let mut out = std::io::BufWriter::new(std::fs::File::create(&bz_path)?);
        let first_page = memchr::memmem::find(&xml, b"  <page>").unwrap_or(xml.len());
        let mut cut = vec![0, first_page];
        let mut n = 0;
        for (i, _) in
            memchr::memmem::find_iter(&xml[first_page..], b"  <page>").map(|p| (p + first_page, ()))
        {
            n += 1;
            if n % 100 == 0 {
                cut.push(i);
            }
        }
        cut.push(xml.len());
        cut.dedup();
        for w in cut.windows(2) {
            let mut e = bzip2::write::BzEncoder::new(&mut out, bzip2::Compression::best());
            e.write_all(&xml[w[0]..w[1]])?;
            e.finish()?;
        }
    }
    println!("generated dump: {} pages, multistream bzip2", pages.len());
    Ok(bz_path)
}

fn measure_xml_import(xml_path: &std::path::Path, bz_path: &std::path::Path) -> Result<()> {
    let xml_mb = std::fs::metadata(xml_path)?.len() as f64 / 1e6;
    let bz_mb = std::fs::metadata(bz_path)?.len() as f64 / 1e6;
    println!("{xml_mb:.1} MB XML, {bz_mb:.1} MB bzip2");

    let start = Instant::now();
    let status = Command::new("bzip2")
        .arg("-dc")
        .arg(bz_path)
        .stdout(Stdio::null())
        .status()
        .context("running bzip2 -dc")?;
    anyhow::ensure!(status.success(), "bzip2 -dc failed");
    let bzcat = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut opened = inlink_import::open_decompressed(bz_path)?;
    let decoded = std::io::copy(&mut opened.reader, &mut std::io::sink())?;
    let ours_decode = start.elapsed().as_secs_f64();
    anyhow::ensure!(decoded as f64 / 1e6 - xml_mb < 0.01, "decoded size differs");

    let import = |path: &std::path::Path| -> Result<f64> {
        let store_dir = tempfile::tempdir()?;
        let store = RedbStore::open(store_dir.path())?;
        let start = Instant::now();
        crate::import_bulk(
            &store,
            &[path.to_path_buf()],
            Format::MediaWikiXml,
            &Options::default(),
        )?;
        Ok(start.elapsed().as_secs_f64())
    };
    let ours_bz = import(bz_path)?;
    let ours_xml = import(xml_path)?;
    println!(
        "bzip2 -dc (1 core):            {bzcat:.2} s  {:.1} MB/s of XML",
        xml_mb / bzcat
    );
    println!(
        "inlink import of .xml.bz2:     {ours_bz:.2} s  {:.1} MB/s of XML",
        xml_mb / ours_bz
    );
    println!(
        "inlink import of plain .xml:   {ours_xml:.2} s  {:.1} MB/s of XML",
        xml_mb / ours_xml
    );
    println!(
        "inlink's decoder alone:        {ours_decode:.2} s  {:.1} MB/s of XML",
        xml_mb / ours_decode
    );
    println!("ratio import(.bz2) / bzip2 -dc: {:.2}", ours_bz / bzcat);
    if let Some(rss) = crate::peak_rss_mib() {
        println!("peak RSS {rss:.1} MiB");
    }
    Ok(())
}

fn http(
    seconds: u64,
    connections: usize,
    mediawiki: Option<String>,
    articles: u64,
    rounds: usize,
) -> Result<()> {
    use std::sync::Arc;
    let dir = tempfile::tempdir()?;
    let xml = dir.path().join("golden.xml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&xml)?);
    demo::write_xml(&mut f, "TestWiki", &demo::golden_wiki(articles, 5))?;
    drop(f);
    let store = RedbStore::open(dir.path().join("index"))?;
    crate::import_bulk(&store, &[xml], Format::MediaWikiXml, &Options::default())?;
    let store: Arc<dyn inlink_store::LinkStore> = Arc::new(store);
    let in_process = answer_times(store.clone())?;
    let (addr, stop_tx, server) = spawn_server(
        store.clone(),
        inlink_server::Config::new("127.0.0.1:0", None),
    )?;
    // The same index behind a server that keeps no answers: every request answered afresh.
    let mut afresh = inlink_server::Config::new("127.0.0.1:0", None);
    afresh.answer_cache_bytes = 0;
    let (addr_afresh, stop_afresh, server_afresh) = spawn_server(store, afresh)?;
    let query = "/w/api.php?action=query&list=backlinks&bltitle=River_science_0&format=json";
    let big_query = format!("{query}&bllimit=500");
    let d = Duration::from_secs(seconds);
    // wrk when installed (one event-loop thread); else our own closed-loop generator.
    let load = move |addr: &str, path: &str| -> Result<(f64, &'static str)> {
        Ok(match crate::loadgen::wrk(addr, path, connections, d)? {
            Some(rps) => (rps, "wrk"),
            None => (
                crate::loadgen::run(addr, path, connections, d)?.rps,
                "inlink-loadgen",
            ),
        })
    };
    let default_body = crate::loadgen::fetch(&addr, query)?;
    let big_body = crate::loadgen::fetch(&addr, &big_query)?;
    anyhow::ensure!(
        crate::loadgen::fetch(&addr_afresh, &big_query)? == big_body,
        "the servers with and without kept answers answer alike"
    );
    let nginx = Nginx::start(&big_body, &big_query)?;
    // The loads to be compared run next to each other in every round, so that a change of
    // the machine's pace between rounds moves both sides of a ratio.
    let targets: Vec<(&str, &str)> = [
        (addr.as_str(), "/healthz"),
        (addr_afresh.as_str(), query),
        (addr.as_str(), query),
        (addr_afresh.as_str(), big_query.as_str()),
        (addr.as_str(), big_query.as_str()),
    ]
    .into_iter()
    .chain(
        nginx
            .as_ref()
            .map(|n| (n.addr.as_str(), big_query.as_str())),
    )
    .collect();
    let mut rps = vec![Vec::new(); targets.len()];
    let mut tool = "";
    for _ in 0..rounds.max(1) {
        for (i, (a, path)) in targets.iter().enumerate() {
            let (r, t) = load(a, path)?;
            rps[i].push(r);
            tool = t;
        }
    }
    drop(nginx);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    };
    let ratio = |a: usize, b: usize| {
        median(
            &rps[a]
                .iter()
                .zip(&rps[b])
                .map(|(x, y)| x / y)
                .collect::<Vec<_>>(),
        )
    };
    let m: Vec<f64> = rps.iter().map(|v| median(v)).collect();
    let (health, default_afresh, default, big_afresh, big) = (m[0], m[1], m[2], m[3], m[4]);
    println!(
        "{connections} connections, {seconds} s each, {} rounds, loopback, load by {tool}; medians of the rounds",
        rounds.max(1)
    );
    println!("/healthz:                     {health:>9.0} req/s");
    println!(
        "list=backlinks (limit 10):    {default:>9.0} req/s  ({} B)  ratio to /healthz {:.2}; answered afresh each time {default_afresh:.0} req/s, {:.2}",
        default_body.len(),
        ratio(2, 0),
        ratio(1, 0)
    );
    println!(
        "list=backlinks&bllimit=500:   {big:>9.0} req/s  ({} B)  ratio to /healthz {:.2}; answered afresh each time {big_afresh:.0} req/s, {:.2}",
        big_body.len(),
        ratio(4, 0),
        ratio(3, 0)
    );
    println!(
        "in process, answered afresh: limit 10 p50 {:.1} µs; bllimit=500 p50 {:.1} µs, p99 {:.1} µs ({:.0} ns a row)",
        in_process.0 * 1e6,
        in_process.1 * 1e6,
        in_process.2 * 1e6,
        in_process.1 * 1e9 / 500.0
    );
    if m.len() > 5 {
        println!(
            "nginx, the same {} B as a static file: {:>9.0} req/s  bllimit=500 / nginx {:.2} (afresh {:.2})",
            big_body.len(),
            m[5],
            ratio(4, 5),
            ratio(3, 5)
        );
    } else {
        println!("nginx: not installed (Debian package nginx), comparison skipped");
    }
    let (default, big) = (
        crate::loadgen::Load {
            rps: default,
            body_bytes: default_body.len(),
        },
        crate::loadgen::Load {
            rps: big,
            body_bytes: big_body.len(),
        },
    );
    if let Some(mw) = mediawiki {
        let host = mw
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let mw_default = crate::loadgen::run(
            &host,
            &query.replace("/w/api.php", "/api.php"),
            connections,
            d,
        )?;
        let mw_big = crate::loadgen::run(
            &host,
            &format!("{}&bllimit=500", query.replace("/w/api.php", "/api.php")),
            connections,
            d,
        )?;
        println!(
            "MediaWiki list=backlinks (10):  {:>7.1} req/s  ({} B)  inlink / MediaWiki {:.0} (afresh {:.0})",
            mw_default.rps,
            mw_default.body_bytes,
            default.rps / mw_default.rps,
            default_afresh / mw_default.rps
        );
        println!(
            "MediaWiki bllimit=500:          {:>7.1} req/s  ({} B)  inlink / MediaWiki {:.0} (afresh {:.0})",
            mw_big.rps,
            mw_big.body_bytes,
            big.rps / mw_big.rps,
            big_afresh / mw_big.rps
        );
    }
    let _ = stop_tx.send(());
    let _ = stop_afresh.send(());
    server.join().expect("server thread")?;
    server_afresh.join().expect("server thread")?;
    Ok(())
}

/// The time the MediaWiki dialect takes to answer `bench http`'s queries with no HTTP in
/// between, answered afresh: limit 10 at p50, then `bllimit=500` at p50 and p99 (seconds).
fn answer_times(store: std::sync::Arc<dyn inlink_store::LinkStore>) -> Result<(f64, f64, f64)> {
    use inlink_api::mediawiki::{Caller, MediaWiki};
    let api = MediaWiki::new(store, "http://bench".to_string())?;
    let time = |limit: u32, rounds: usize| -> Vec<f64> {
        let query = format!("bltitle=River_science_0&bllimit={limit}");
        let mut times: Vec<f64> = (0..rounds)
            .map(|_| {
                let mut params: Vec<(String, String)> = [
                    ("action", "query"),
                    ("list", "backlinks"),
                    ("format", "json"),
                ]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
                params.extend(
                    form_urlencoded::parse(query.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned())),
                );
                let t = Instant::now();
                let r = api.handle(params, Caller { high_limits: false });
                let took = t.elapsed().as_secs_f64();
                std::hint::black_box(r);
                took
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times
    };
    let small = time(10, 20_000);
    let big = time(500, 4_000);
    Ok((
        percentile(&small, 0.5),
        percentile(&big, 0.5),
        percentile(&big, 0.99),
    ))
}

/// A server on a free loopback port in a thread of its own: its address, the sender that
/// stops it, and the thread.
#[allow(clippy::type_complexity)]
fn spawn_server(
    store: std::sync::Arc<dyn inlink_store::LinkStore>,
    config: inlink_server::Config,
) -> Result<(
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<Result<()>>,
)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || -> Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(inlink_server::serve(
            store,
            config,
            move |addr| {
                let _ = tx.send(addr);
            },
            async {
                let _ = stop_rx.await;
            },
        ))?;
        Ok(())
    });
    let addr = rx.recv()?.to_string();
    Ok((addr, stop_tx, server))
}

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Reads and writes at saturation against one server for `seconds`: readers loop over
/// backlinks queries (limits 10 and 500, continuations, namespaces, redirects,
/// `prop=linkshere`, `/metrics`), one writer posts `/v1/batch` edits (upserts with fresh
/// links, moves, deletions). Prints the RSS every `every` seconds and the totals by status.
fn soak(seconds: u64, readers: usize, articles: u64, every: u64) -> Result<()> {
    use std::sync::Arc;
    let dir = tempfile::tempdir()?;
    let xml = dir.path().join("golden.xml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&xml)?);
    demo::write_xml(&mut f, "TestWiki", &demo::golden_wiki(articles, 5))?;
    drop(f);
    let store = RedbStore::open(dir.path().join("index"))?;
    crate::import_bulk(&store, &[xml], Format::MediaWikiXml, &Options::default())?;
    let store: Arc<dyn inlink_store::LinkStore> = Arc::new(store);
    let (addr, stop_tx, server) =
        spawn_server(store, inlink_server::Config::new("127.0.0.1:0", None))?;
    let host = addr.as_str();
    let get = move |path: String| -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: inlink-soak\r\n\r\n")
            .into_bytes()
    };
    let reads = [
        "/w/api.php?action=query&list=backlinks&bltitle=River_science_{i}&format=json",
        "/w/api.php?action=query&list=backlinks&bltitle=River_science_0&bllimit=500&format=json",
        "/w/api.php?action=query&list=backlinks&bltitle=River_science_0&bllimit=20&blcontinue=0|{i}&format=json",
        "/w/api.php?action=query&list=backlinks&bltitle=River_science_{i}&blnamespace=0|1|10&blredirect=1&format=json&formatversion=2",
        "/w/api.php?action=query&prop=linkshere&titles=River_science_{i}|Soak_{i}&lhlimit=50&format=json",
        "/w/api.php?action=query&list=embeddedin&eititle=Template:Nav&eilimit=100&format=json",
        "/metrics",
    ];
    let reader = move |n: u64| -> Vec<u8> {
        let path = reads[(n % reads.len() as u64) as usize].replace("{i}", &(n % 97).to_string());
        get(path)
    };
    let writer = move |n: u64| -> Vec<u8> {
        let i = n % 500;
        let body = match n % 10 {
            // Moves and deletions of the soak's own pages; refusals (404/409) count as 4xx.
            7 => format!(
                r#"{{"ops":[{{"op":"move","from":"Soak {i}","to":"Soak moved {i}","redirect":true}}]}}"#
            ),
            8 => format!(
                r#"{{"ops":[{{"op":"delete","title":"Soak moved {i}"}},{{"op":"delete","title":"Soak {i}"}}]}}"#
            ),
            _ => {
                let ops: Vec<String> = (0..10)
                    .map(|k| {
                        format!(
                            r#"{{"op":"upsert","title":"Soak {}","wikitext":"[[River science {}]] [[River science {}]] {{{{Nav}}}} [[Category:Soak]]"}}"#,
                            (i + k) % 500,
                            (n + k) % 97,
                            (n * 7 + k) % 1000
                        )
                    })
                    .collect();
                format!(r#"{{"ops":[{}]}}"#, ops.join(","))
            }
        };
        format!(
            "POST /v1/batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let mut loops: Vec<&(dyn Fn(u64) -> Vec<u8> + Sync)> = vec![&writer];
    for _ in 0..readers {
        loops.push(&reader);
    }
    println!(
        "soak: {readers} readers + 1 writer, {seconds} s, loopback; RSS every {every} s (MiB):"
    );
    let start = Instant::now();
    let mut rss = vec![rss_mib().unwrap_or(0.0)];
    let mut total = crate::loadgen::Mixed::default();
    let mut left = seconds;
    while left > 0 {
        let step = left.min(every.max(1));
        let m = crate::loadgen::mixed(&addr, &loops, Duration::from_secs(step));
        left -= step;
        total.requests += m.requests;
        total.errors += m.errors;
        for (t, c) in total.by_class.iter_mut().zip(m.by_class) {
            *t += c;
        }
        let now = rss_mib().unwrap_or(0.0);
        rss.push(now);
        println!(
            "  {:>5.0} s  {:>8.1} MiB  {:>8} requests ({:.0}/s)",
            start.elapsed().as_secs_f64(),
            now,
            m.requests,
            m.requests as f64 / step as f64
        );
    }
    let _ = stop_tx.send(());
    server.join().expect("server thread")?;
    // Flat: after the first tenth (caches filling), the curve ends where it settled.
    let settled = rss[(rss.len() / 10).max(1).min(rss.len() - 1)];
    let last = *rss.last().unwrap_or(&0.0);
    let max = rss.iter().copied().fold(0.0, f64::max);
    println!(
        "totals: {} requests, 2xx {}, 4xx {} (refused moves/deletes of the writer), 5xx {}, connection errors {}",
        total.requests, total.by_class[2], total.by_class[4], total.by_class[5], total.errors
    );
    println!(
        "RSS: start {:.1}, settled {settled:.1}, max {max:.1}, end {last:.1} MiB; end / settled {:.2}",
        rss[0],
        last / settled.max(1.0)
    );
    if total.by_class[5] > 0 || total.errors > 0 || total.by_class[2] == 0 {
        bail!("the soak saw 5xx answers or connection errors");
    }
    Ok(())
}

/// Measures requests per second of (address, path), naming the load generator.
/// nginx (Debian's package) started here on a free loopback port with a configuration of
/// our own (one worker per core, no access log), serving the bytes of an answer as a static
/// file at the answer's path: the cost of shipping those bytes over HTTP on this machine.
/// Stopped when dropped.
struct Nginx {
    addr: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// `None` when nginx is not installed.
    fn start(body: &[u8], path: &str) -> Result<Option<Nginx>> {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(nginx) = nginx else { return Ok(None) };
        let dir = tempfile::tempdir()?;
        let file_path = path.split('?').next().unwrap_or(path);
        let file = dir
            .path()
            .join("www")
            .join(file_path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().expect("a parent"))?;
        std::fs::write(&file, body)?;
        std::fs::create_dir_all(dir.path().join("tmp"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let conf = dir.path().join("nginx.conf");
        let d = dir.path().display();
        std::fs::write(
            &conf,
            format!(
                "worker_processes auto;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{ access_log off; types {{ }} default_type application/json;\n\
                 client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n\
                 uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
                 server {{ listen 127.0.0.1:{port}; root {d}/www; }} }}\n"
            ),
        )?;
        let child = Command::new(nginx)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx")?;
        let nginx = Nginx {
            addr: format!("127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match crate::loadgen::fetch(&nginx.addr, path) {
                Ok(got) if got == body => return Ok(Some(nginx)),
                Ok(_) => bail!("nginx served other bytes"),
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => return Err(e.context("nginx did not come up")),
            }
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM to the master stops its workers too (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn notes_bench(
    notes: usize,
    note_bytes: usize,
    samples: usize,
    scans: usize,
    seed: u64,
) -> Result<()> {
    use inlink_api::siyuan::SiYuan;
    use inlink_store::LinkStore;
    let dir = tempfile::tempdir()?;
    let vault = dir.path().join("vault");
    let t = Instant::now();
    let g = inlink_import::demo_notes::write_vault(&vault, notes, note_bytes, seed)?;
    println!(
        "vault: {} notes, {:.1} MB, {} links, {} plain-text mentions (generated in {:.1} s)",
        g.titles.len(),
        g.bytes as f64 / 1e6,
        g.links,
        g.mentions,
        t.elapsed().as_secs_f64()
    );
    let index = dir.path().join("index");
    let mut store = RedbStore::open(&index)?;
    let t = Instant::now();
    let s = crate::import_bulk(
        &store,
        std::slice::from_ref(&vault),
        Format::Markdown,
        &Options::default(),
    )?;
    let import_s = t.elapsed().as_secs_f64();
    let before = dir_bytes(&index);
    let t = Instant::now();
    store.compact()?;
    println!(
        "compaction: {:.0} MB → {:.0} MB in {:.1} s",
        before as f64 / 1e6,
        dir_bytes(&index) as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let sizes: Vec<String> = store
        .table_sizes()?
        .into_iter()
        .map(|(t, b)| format!("{t} {:.1}", b as f64 / 1e6))
        .collect();
    println!("tables (MB): {}", sizes.join(", "));
    let store = std::sync::Arc::new(store);
    println!(
        "import: {:.1} s ({:.0} notes/s, {:.1} MB/s), {} blocks, {} block references, index {:.0} MB, peak RSS {:.0} MiB",
        import_s,
        notes as f64 / import_s,
        g.bytes as f64 / 1e6 / import_s,
        s[0].blocks,
        s[0].block_refs,
        dir_bytes(&index) as f64 / 1e6,
        crate::peak_rss_mib().unwrap_or(0.0)
    );
    let site = store.site_info()?.context("the import wrote a site")?;
    let codec = TitleCodec::new(site);
    let mut rng = demo::Rng::new(seed ^ 0x5eed);
    let picks: Vec<usize> = (0..samples)
        .map(|_| rng.below(g.titles.len() as u64) as usize)
        .collect();
    let mut ids = Vec::new();
    for &i in &picks {
        let title = codec
            .parse_local(&g.titles[i], 0)
            .context("generated titles are valid")?;
        let page = store
            .page_by_title(&title)?
            .context("every note is a page")?;
        ids.push((i, store.blocks_of(page.id)?[0].id.clone()));
    }
    let api = SiYuan::new(store.clone());
    let t = Instant::now();
    let docs = api.warm()?;
    println!(
        "document cache: {docs} documents described in {:.2} s (a server does it when it starts)",
        t.elapsed().as_secs_f64()
    );
    let ask = |endpoint: &str, body: String| -> Result<(f64, serde_json::Value)> {
        let t = Instant::now();
        let r = api
            .handle(endpoint, body.as_bytes())
            .context("known endpoint")?;
        let secs = t.elapsed().as_secs_f64();
        Ok((secs, serde_json::from_str(&r.body)?))
    };
    // Warm the page cache once, as a server that has been up a while.
    for (_, id) in ids.iter().take(20) {
        ask("getBacklink2", format!(r#"{{"id":"{id}"}}"#))?;
    }
    let (mut bl2, mut men) = (Vec::new(), Vec::new());
    let (mut total_mentions, mut total_backlinks) = (0u64, 0u64);
    let mut slowest: Vec<(f64, f64, usize, u64, u64)> = Vec::new();
    for (i, id) in &ids {
        let (b_secs, v) = ask("getBacklink2", format!(r#"{{"id":"{id}","k":"","mk":""}}"#))?;
        bl2.push(b_secs);
        let refs = v["data"]["linkRefsCount"].as_u64().unwrap_or(0);
        total_backlinks += refs;
        let (m_secs, v) = ask("getBackmentionDoc", format!(r#"{{"defID":"{id}"}}"#))?;
        men.push(m_secs);
        let mentions = v["data"]["mentionsCount"].as_u64().unwrap_or(0);
        total_mentions += mentions;
        slowest.push((b_secs, m_secs, *i, refs, mentions));
    }
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (b, m, i, refs, mentions) in slowest.iter().take(3) {
        println!(
            "  slow: {:?} (popularity rank {i}): getBacklink2 {:.1} ms, mentions {:.1} ms; {refs} backlinks, {mentions} mentions",
            g.titles[*i],
            b * 1e3,
            m * 1e3
        );
    }
    bl2.sort_by(f64::total_cmp);
    men.sort_by(f64::total_cmp);
    let ms = |x: f64| x * 1e3;
    println!(
        "getBacklink2 (backlinks + mentions), {} notes: p50 {:.2} ms, p99 {:.2} ms; {:.1} backlinks per note",
        ids.len(),
        ms(percentile(&bl2, 0.5)),
        ms(percentile(&bl2, 0.99)),
        total_backlinks as f64 / ids.len().max(1) as f64
    );
    println!(
        "mentions (getBackmentionDoc): p50 {:.2} ms, p99 {:.2} ms; {:.1} mention blocks per note",
        ms(percentile(&men, 0.5)),
        ms(percentile(&men, 0.99)),
        total_mentions as f64 / ids.len().max(1) as f64
    );
    // The baseline: every file read and searched for the title, case-insensitively.
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&vault)?
        .flatten()
        .map(|e| e.path())
        .collect();
    let mut scan = Vec::new();
    let mut rg = Vec::new();
    let have_rg = Command::new("rg").arg("--version").output().is_ok();
    for &(i, _) in ids.iter().take(scans) {
        let needle = g.titles[i].to_lowercase();
        let t = Instant::now();
        let mut hits = 0;
        for f in &files {
            let text = std::fs::read_to_string(f)?;
            hits += usize::from(text.to_lowercase().contains(&needle));
        }
        scan.push(t.elapsed().as_secs_f64());
        std::hint::black_box(hits);
        if have_rg {
            let t = Instant::now();
            Command::new("rg")
                .args(["-F", "-i", "-l", "--", &g.titles[i]])
                .arg(&vault)
                .stdout(Stdio::null())
                .status()?;
            rg.push(t.elapsed().as_secs_f64());
        }
    }
    scan.sort_by(f64::total_cmp);
    rg.sort_by(f64::total_cmp);
    let base = percentile(&scan, 0.5);
    println!(
        "exhaustive scan of the vault for a title ({} titles): p50 {:.1} ms",
        scan.len(),
        ms(base)
    );
    println!(
        "ratio scan / mentions: {:.0}× at p50, {:.0}× scan p50 / mentions p99",
        base / percentile(&men, 0.5).max(1e-9),
        base / percentile(&men, 0.99).max(1e-9)
    );
    if have_rg {
        let r = percentile(&rg, 0.5);
        println!(
            "rg -F -i -l ({} titles): p50 {:.1} ms; ratio rg / mentions: {:.0}× at p50, {:.0}× rg p50 / mentions p99",
            rg.len(),
            ms(r),
            r / percentile(&men, 0.5).max(1e-9),
            r / percentile(&men, 0.99).max(1e-9)
        );
    } else {
        println!("rg: not installed (apt install ripgrep), the in-process scan is the baseline");
    }
    Ok(())
}

fn scale_bench(
    pages: u64,
    samples: usize,
    seed: u64,
    keep: Option<std::path::PathBuf>,
    xml: bool,
    reuse_index: bool,
) -> Result<()> {
    use inlink_api::mediawiki::{Caller, MediaWiki};
    use inlink_store::LinkStore;
    let tmp = tempfile::tempdir()?;
    let dir = keep.unwrap_or_else(|| tmp.path().to_path_buf());
    let dumps = dir.join("dumps");
    let t = Instant::now();
    let (g, made) =
        match inlink_import::demo_enwiki::written_sql(&dumps, "enwiki-shaped", pages, seed) {
            Some(g) => (g, "found from an earlier run".to_string()),
            None => {
                let g =
                    inlink_import::demo_enwiki::write_sql(&dumps, "enwiki-shaped", pages, seed)?;
                (
                    g,
                    format!("generated in {:.1} s", t.elapsed().as_secs_f64()),
                )
            }
        };
    let links = g.pagelinks + g.templatelinks;
    println!(
        "graph: {} pages ({} redirects), {} pagelinks ({} red), {} templatelinks; dumps {:.1} MB gzip ({made})",
        g.pages,
        g.redirects,
        g.pagelinks,
        g.red_links,
        g.templatelinks,
        g.bytes as f64 / 1e6,
    );
    let index = dir.join("index");
    let store = if reuse_index {
        anyhow::ensure!(
            index.join("index.redb").exists(),
            "no index in {} to reuse: run once without --reuse-index",
            index.display()
        );
        let store = RedbStore::open(&index)?;
        println!("index: reused from an earlier run (no import)");
        store
    } else {
        import_scale(&dir, &index, pages, seed, &g, xml)?
    };
    let total = dir_bytes(&index);
    println!(
        "index: {:.1} MB = {:.2} bytes per link",
        total as f64 / 1e6,
        total as f64 / links.max(1) as f64,
    );
    let store = std::sync::Arc::new(store);
    crate::reset_peak_rss();
    let site = store.site_info()?.context("the import wrote a site")?;
    let codec = TitleCodec::new(site);
    let title_in = |store: &RedbStore, id: u64| -> Result<String> {
        let p = store
            .page(inlink_model::PageId(id as u32))?
            .context("a generated page")?;
        Ok(codec.full_text(&p.title))
    };
    let ask = |api: &MediaWiki, query: &str| -> (f64, String) {
        let params = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let t = Instant::now();
        let r = api.handle(params, Caller { high_limits: true });
        (t.elapsed().as_secs_f64(), r.body)
    };
    // Targets as links choose them: by popularity.
    let n = pages.max(1);
    let mut rng = demo::Rng::new(seed ^ 0xA5);
    let popularity = inlink_import::demo_enwiki::Popularity::new(pages);
    let mut titles = Vec::with_capacity(samples);
    for _ in 0..samples {
        let id = popularity.page(rng.skewed(n));
        titles.push(title_in(&store, id)?);
    }
    let enc = |t: &str| form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>();
    let latencies = |store: &std::sync::Arc<RedbStore>, when: &str| -> Result<()> {
        let api = MediaWiki::new(store.clone(), "http://bench".to_string())?;
        for (label, limit) in [("limit 10", 10), ("limit 500", 500)] {
            let mut times: Vec<f64> = titles
                .iter()
                .map(|t| {
                    ask(&api, &format!(
                        "action=query&list=backlinks&format=json&formatversion=2&bllimit={limit}&bltitle={}",
                        enc(t)
                    ))
                    .0
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!(
                "list=backlinks {label}{when}: p50 {:.3} ms, p99 {:.3} ms ({} targets)",
                percentile(&times, 0.5) * 1e3,
                percentile(&times, 0.99) * 1e3,
                times.len()
            );
        }
        Ok(())
    };
    // As a one-shot `inlink query` runs: each page of the index mapped as a query first
    // touches it.
    latencies(&store, "")?;
    // The same targets once more, on the index opened again (a mapping of its own, the
    // page cache as warm as before), warmed first as `serve` warms it at its start.
    let store = {
        drop(store);
        std::sync::Arc::new(RedbStore::open(&index)?)
    };
    let started = Instant::now();
    let warmed = store.warm()?;
    latencies(
        &store,
        &format!(
            ", the index opened again and warmed as `serve` warms it ({:.1} MB in {:.2} s)",
            warmed as f64 / 1e6,
            started.elapsed().as_secs_f64()
        ),
    )?;
    let api = MediaWiki::new(store.clone(), "http://bench".to_string())?;
    let title = |id: u64| title_in(&store, id);
    let ask = |query: &str| ask(&api, query);
    // A cursor halfway into the most linked page: walk there, then resume it.
    let top = title(g.top_target.0)?;
    let mut cont = String::new();
    let mut seen = 0u64;
    while seen < g.top_target.1 / 2 {
        let q = format!(
            "action=query&list=backlinks&format=json&formatversion=2&bllimit=5000&bltitle={}{}",
            enc(&top),
            cont
        );
        let (_, body) = ask(&q);
        let v: serde_json::Value = serde_json::from_str(&body)?;
        seen += v["query"]["backlinks"]
            .as_array()
            .map_or(0, |a| a.len() as u64);
        match v["continue"]["blcontinue"].as_str() {
            Some(c) => cont = format!("&blcontinue={}", enc(c)),
            None => break,
        }
    }
    let q = format!(
        "action=query&list=backlinks&format=json&formatversion=2&bllimit=10&bltitle={}{}",
        enc(&top),
        cont
    );
    let cold = ask(&q).0;
    // A thousand resumes: with fifty, the first ones' warm-up moved the p50 twofold
    // between builds that run the same resume in the same time.
    let mut warm: Vec<f64> = (0..1000).map(|_| ask(&q).0).collect();
    warm.sort_by(f64::total_cmp);
    println!(
        "cursor resumed at row {seen} of {} ({}): first {:.3} ms, then p50 {:.3} ms, p99 {:.3} ms",
        g.top_target.1,
        top,
        cold * 1e3,
        percentile(&warm, 0.5) * 1e3,
        percentile(&warm, 0.99) * 1e3
    );
    let (anon, file) = crate::rss_split_mib().unwrap_or_default();
    println!(
        "queries: peak RSS {:.0} MiB (at the end {anon:.0} MiB anonymous, {file:.0} MiB of mapped files)",
        crate::peak_rss_mib().unwrap_or(0.0)
    );
    // Last: reading every list and entry maps the whole segment in.
    crate::reset_peak_rss();
    if let Some([targets, lists, ids, posting, headers, groups, forward]) =
        store.segment_breakdown()?
    {
        let bits = |b: u64| b as f64 * 8.0 / ids.max(1) as f64;
        println!(
            "links segment: reverse index {:.2} bits per link ({targets} targets, {lists} lists, {ids} rows; posting lists {:.2}, entry headers {:.2}, group headers, tables and trailer {:.2}); forward entries {:.2} bits per link",
            bits(posting + headers + groups),
            bits(posting),
            bits(headers),
            bits(groups),
            bits(forward)
        );
        if let Some(bound) = store.segment_list_bound()? {
            println!(
                "  the least any code blind to the graph's structure needs for those lists (each a set of its size among the page ids): {:.2} bits per link; the posting lists take {:.2} × that",
                bound / ids.max(1) as f64,
                (posting * 8) as f64 / bound.max(1.0)
            );
        }
    }
    if let Some([targets, target_bytes, pages, page_bytes, shared]) = store.segment_titles()? {
        println!(
            "titles in the segment (front-coded dictionaries and id tables): {targets} targets, {:.1} bytes each ({shared} of them pages' titles, written once, in the page table); {pages} pages, {:.1} bytes each",
            target_bytes as f64 / targets.max(1) as f64,
            page_bytes as f64 / pages.max(1) as f64
        );
    }
    println!(
        "statistics pass over the whole segment (its pages mapped in, file-backed): peak RSS {:.0} MiB",
        crate::peak_rss_mib().unwrap_or(0.0)
    );
    Ok(())
}

/// The import half of `bench scale`: `zcat` of the dumps, then a fresh import into `index`.
fn import_scale(
    dir: &std::path::Path,
    index: &std::path::Path,
    pages: u64,
    seed: u64,
    g: &inlink_import::demo_enwiki::GeneratedGraph,
    xml: bool,
) -> Result<RedbStore> {
    let gz: Vec<&std::path::PathBuf> = g
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|x| x == "gz"))
        .collect();
    let t = Instant::now();
    let status = Command::new("gzip")
        .arg("-dc")
        .args(&gz)
        .stdout(Stdio::null())
        .status()
        .context("running gzip -dc (zcat)")?;
    anyhow::ensure!(status.success(), "gzip -dc failed");
    let zcat = t.elapsed().as_secs_f64();
    // Always a fresh import: an index left by an earlier run would keep its rows.
    if index.exists() {
        std::fs::remove_dir_all(index)?;
    }
    let mut store = RedbStore::open(index)?;
    let t = Instant::now();
    crate::import_bulk(&store, &g.files, Format::Auto, &Options::default())?;
    store.compact()?;
    let import_s = t.elapsed().as_secs_f64();
    println!(
        "SQL import: {import_s:.1} s vs zcat of the same files {zcat:.2} s: ratio {:.2}; peak RSS {:.0} MiB",
        import_s / zcat.max(1e-9),
        crate::peak_rss_mib().unwrap_or(0.0)
    );
    if xml {
        xml_scale(dir, pages, seed, g)?;
    }
    Ok(store)
}

/// The XML path of `bench scale`: the same graph as wikitext in a multistream `.xml.bz2`.
fn xml_scale(
    dir: &std::path::Path,
    pages: u64,
    seed: u64,
    g: &inlink_import::demo_enwiki::GeneratedGraph,
) -> Result<()> {
    let t = Instant::now();
    let (bz, size) = inlink_import::demo_enwiki::write_xml_bz2(
        &dir.join("dumps"),
        "enwiki-shaped",
        pages,
        seed,
    )?;
    println!(
        "XML dump: {:.1} MB multistream bzip2 (written in {:.1} s)",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let lbzip2 = Command::new("lbzip2").arg("--version").output().is_ok();
    let (tool, args): (&str, &[&str]) = if lbzip2 {
        ("lbzip2 -d -n 2", &["-d", "-c", "-n", "2"])
    } else {
        ("bzip2 -dc", &["-dc"])
    };
    let t = Instant::now();
    let status = Command::new(if lbzip2 { "lbzip2" } else { "bzip2" })
        .args(args)
        .arg(&bz)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {tool}"))?;
    anyhow::ensure!(status.success(), "{tool} failed");
    let base = t.elapsed().as_secs_f64();
    if dir.join("index-xml").exists() {
        std::fs::remove_dir_all(dir.join("index-xml"))?;
    }
    let store = RedbStore::open(dir.join("index-xml"))?;
    let t = Instant::now();
    crate::import_bulk(&store, &[bz], Format::MediaWikiXml, &Options::default())?;
    let ours = t.elapsed().as_secs_f64();
    let st = inlink_store::LinkStore::stats(&store)?;
    anyhow::ensure!(
        st.links[inlink_model::LinkKind::Page as usize] == g.pagelinks,
        "the XML import found {} pagelinks, the SQL dumps hold {}",
        st.links[inlink_model::LinkKind::Page as usize],
        g.pagelinks
    );
    println!(
        ".bz2 XML import: {ours:.1} s vs {tool} of the same file {base:.2} s: ratio {:.2} (same rows as the SQL import)",
        ours / base.max(1e-9)
    );
    Ok(())
}
