//! `inlink bench`: benchmarks on generated data, each printing a ratio against a baseline
//! measured in the same run (these machines are shared and noisy; absolute numbers are not
//! comparable between runs, ratios are).

use anyhow::{Context, Result};
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
    /// HTTP throughput of `list=backlinks` against `/healthz` of the same server (and,
    /// given `--mediawiki`, against MediaWiki serving the same golden wiki).
    Http {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// A MediaWiki `api.php` base (e.g. http://127.0.0.1:8090) serving the golden wiki
        /// (`inlink bench generate --articles 150 --seed 5 --edge-cases`).
        #[arg(long)]
        mediawiki: Option<String>,
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
        } => http(seconds, connections, mediawiki),
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
        inlink_import::import(
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

fn http(seconds: u64, connections: usize, mediawiki: Option<String>) -> Result<()> {
    use std::sync::Arc;
    let dir = tempfile::tempdir()?;
    let xml = dir.path().join("golden.xml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&xml)?);
    demo::write_xml(&mut f, "TestWiki", &demo::golden_wiki(150, 5))?;
    drop(f);
    let store = RedbStore::open(dir.path().join("index"))?;
    inlink_import::import(&store, &[xml], Format::MediaWikiXml, &Options::default())?;
    let store: Arc<dyn inlink_store::LinkStore> = Arc::new(store);
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || -> Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(inlink_server::serve(
            store,
            inlink_server::Config {
                listen: "127.0.0.1:0".into(),
                token: None,
            },
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
    let query = "/w/api.php?action=query&list=backlinks&bltitle=River_science_0&format=json";
    let d = Duration::from_secs(seconds);
    let health = crate::loadgen::run(&addr, "/healthz", connections, d)?;
    let default = crate::loadgen::run(&addr, query, connections, d)?;
    let big = crate::loadgen::run(&addr, &format!("{query}&bllimit=500"), connections, d)?;
    println!("{connections} connections, {seconds} s each, loopback");
    println!("/healthz:                     {:>9.0} req/s", health.rps);
    println!(
        "list=backlinks (limit 10):    {:>9.0} req/s  ({} B)  ratio to /healthz {:.2}",
        default.rps,
        default.body_bytes,
        default.rps / health.rps
    );
    println!(
        "list=backlinks&bllimit=500:   {:>9.0} req/s  ({} B)  ratio to /healthz {:.2}",
        big.rps,
        big.body_bytes,
        big.rps / health.rps
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
            "MediaWiki list=backlinks (10):  {:>7.1} req/s  ({} B)  inlink / MediaWiki {:.0}",
            mw_default.rps,
            mw_default.body_bytes,
            default.rps / mw_default.rps
        );
        println!(
            "MediaWiki bllimit=500:          {:>7.1} req/s  ({} B)  inlink / MediaWiki {:.0}",
            mw_big.rps,
            mw_big.body_bytes,
            big.rps / mw_big.rps
        );
    }
    let _ = stop_tx.send(());
    server.join().expect("server thread")?;
    Ok(())
}
