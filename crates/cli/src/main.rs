//! `inlink`: import dumps, serve the APIs, query from the shell, run benchmarks.

mod bench;
mod loadgen;

/// glibc's allocator spends much of a 500-row answer freeing its small strings; mimalloc
/// does not (measured with `inlink bench http`, docs/benchmarks.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use inlink_import::{Format, Options};
use inlink_model::{LinkKind, SiteInfo, TitleCodec};
use inlink_store::{BacklinkQuery, LinkStore, NamespaceFilter, Order, RedbStore};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "inlink",
    version,
    about = "A backlinks engine and server: what links here, complete, exact and instant."
)]
struct Cli {
    /// Directory of the index.
    #[arg(
        long,
        global = true,
        env = "INLINK_DATA",
        default_value = "./inlink-data"
    )]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import dumps or notes into the index.
    Import {
        /// What the sources are; `auto` looks at their content.
        #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
        format: FormatArg,
        /// Files to import (.xml, .sql, .json, optionally .gz, .bz2 or .zst).
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// Memory for scratch data before it spills to disk, in MiB.
        #[arg(long, default_value_t = 256)]
        memory_mib: usize,
    },
    /// Serve the index over HTTP.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8686")]
        listen: String,
        /// Secret that clients present to get write access and bot limits.
        #[arg(long, env = "INLINK_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Fill an empty index with a generated demo wiki first.
        #[arg(long)]
        demo: bool,
        /// Connections served at once; more are closed when accepted.
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Seconds a client gets to send a request head.
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Seconds from a request head to its answer, upload included.
        #[arg(long, default_value_t = 60)]
        request_timeout: u64,
        /// An origin whose web pages may call the APIs (CORS; repeat it, or `*` for any).
        /// Without it, CORS is off.
        #[arg(long = "cors-origin", value_name = "ORIGIN")]
        cors_origins: Vec<String>,
        /// MiB of MediaWiki answers kept for requests that come again (the same GET query
        /// while the index is unchanged); 0 answers every request afresh.
        #[arg(long, default_value_t = 64)]
        answer_cache_mib: usize,
        /// Keep the index equal to this folder of notes (a Markdown vault or SiYuan
        /// notebooks) as its files change.
        #[arg(long, value_name = "DIR")]
        watch: Option<PathBuf>,
    },
    /// Ask the index from the shell.
    Query {
        #[command(subcommand)]
        query: QueryCommand,
    },
    /// Verify the index: redb's checksums and structure, then the invariants between
    /// tables (`docs/format.md`). Exits with 1 when anything is wrong.
    Check,
    /// What the index holds: pages, links, targets, and the bytes of each table.
    Stats,
    /// Benchmarks with their own generated data; they print ratios measured in one run.
    Bench {
        #[command(subcommand)]
        bench: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum QueryCommand {
    /// Pages linking to TITLE, in MediaWiki's order.
    Backlinks {
        /// The target title, as a wiki user writes it (`Talk:Foo bar`).
        title: String,
        /// Only linking pages in this namespace (repeatable).
        #[arg(long = "namespace", short = 'n')]
        namespaces: Vec<i32>,
        /// At most this many rows.
        #[arg(long, default_value_t = 500)]
        limit: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Auto,
    MediawikiXml,
    MediawikiSql,
    Siyuan,
    Markdown,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Auto => Format::Auto,
            FormatArg::MediawikiXml => Format::MediaWikiXml,
            FormatArg::MediawikiSql => Format::MediaWikiSql,
            FormatArg::Siyuan => Format::Siyuan,
            FormatArg::Markdown => Format::Markdown,
        }
    }
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INLINK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Import {
            format,
            sources,
            memory_mib,
        } => import(&cli.data, format.into(), &sources, memory_mib),
        Command::Serve {
            listen,
            token,
            demo,
            max_connections,
            header_timeout,
            request_timeout,
            cors_origins,
            answer_cache_mib,
            watch,
        } => {
            let mut config = inlink_server::Config::new(listen, token);
            config.limits.max_connections = max_connections.max(1);
            config.limits.header_timeout = std::time::Duration::from_secs(header_timeout.max(1));
            config.limits.request_timeout = std::time::Duration::from_secs(request_timeout.max(1));
            config.limits.cors_origins = cors_origins;
            config.answer_cache_bytes = answer_cache_mib.saturating_mul(1 << 20);
            serve(&cli.data, config, demo, watch)
        }
        Command::Query {
            query:
                QueryCommand::Backlinks {
                    title,
                    namespaces,
                    limit,
                    json,
                },
        } => backlinks(&cli.data, &title, namespaces, limit, json),
        Command::Check => check(&cli.data),
        Command::Stats => stats(&cli.data),
        Command::Bench { bench } => bench::run(bench),
    }
}

fn check(data: &Path) -> Result<()> {
    let mut store = open_store(data)?;
    if !store.check()? {
        bail!("{}: redb found damaged pages (the index was repaired in memory; rebuild it with `inlink import`)", data.display());
    }
    let problems = store.verify(50)?;
    if problems.is_empty() {
        println!("{}: checksums and invariants are sound", data.display());
        return Ok(());
    }
    for p in &problems {
        println!("{p}");
    }
    bail!(
        "{}: {} problem(s) found; rebuild the index with `inlink import`",
        data.display(),
        problems.len()
    )
}

fn stats(data: &Path) -> Result<()> {
    let store = open_store(data)?;
    let st = store.stats()?;
    println!(
        "{}: {} pages, {} redirects, {} targets; pagelinks {}, templatelinks {}, imagelinks {}, categorylinks {}",
        data.display(),
        st.pages,
        st.redirects,
        st.targets,
        st.links[0],
        st.links[1],
        st.links[2],
        st.links[3]
    );
    for (table, bytes) in store.table_sizes()? {
        println!("  {table:<14} {:>12.1} MB", bytes as f64 / 1e6);
    }
    Ok(())
}

/// Imports with the index in bulk mode: link rows are filed once, by the segment build at
/// the end, not row by row (`RedbStore::set_bulk`).
pub(crate) fn import_bulk(
    store: &RedbStore,
    sources: &[PathBuf],
    format: Format,
    opts: &Options,
) -> Result<Vec<inlink_import::Summary>> {
    store.set_bulk(true)?;
    let result = inlink_import::import(store, sources, format, opts);
    // The segment is built even after a failed import: what was imported is answered.
    store.set_bulk(false)?;
    Ok(result?)
}

fn open_store(data: &Path) -> Result<RedbStore> {
    RedbStore::open(data).with_context(|| format!("opening the index in {}", data.display()))
}

/// Starts a new peak for [`peak_rss_mib`] at the current resident memory (Linux), so that
/// a benchmark reports each step's own peak.
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Resident memory now (Linux): (anonymous — the heap —, file-backed — mapped files such as
/// the link segment, reclaimable by the kernel), in MiB.
pub(crate) fn rss_split_mib() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((kb("RssAnon:")? / 1024.0, kb("RssFile:")? / 1024.0))
}

/// Peak resident memory of this process so far (Linux), for the import summary.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn import(data: &Path, format: Format, sources: &[PathBuf], memory_mib: usize) -> Result<()> {
    let mut store = open_store(data)?;
    let opts = Options {
        memory_budget: memory_mib << 20,
        progress: std::io::stderr().is_terminal(),
        ..Options::default()
    };
    let summaries = import_bulk(&store, sources, format, &opts)?;
    // Rewritten postings leave free pages behind; give them back once, at the end.
    store.compact()?;
    for s in &summaries {
        println!("{s}");
    }
    let st = store.stats()?;
    println!(
        "index {}: {} pages, {} redirects, {} pagelinks, {} templatelinks, {} imagelinks, {} categorylinks",
        data.display(),
        st.pages,
        st.redirects,
        st.links[0],
        st.links[1],
        st.links[2],
        st.links[3]
    );
    if let Some(rss) = peak_rss_mib() {
        println!("peak RSS {rss:.1} MiB");
    }
    Ok(())
}

fn serve(
    data: &Path,
    mut config: inlink_server::Config,
    demo: bool,
    watch: Option<PathBuf>,
) -> Result<()> {
    let store = Arc::new(open_store(data)?);
    let _watcher = match &watch {
        Some(dir) => {
            // Kept beside the index: note batches survive a crash with it.
            let folder = Arc::new(
                inlink_import::folder::NotesFolder::open(dir, &data.join("notes-journal"))
                    .with_context(|| format!("following {}", dir.display()))?,
            );
            config.notes = Some(folder.clone());
            Some(watch_folder(store.clone(), folder, data)?)
        }
        None => None,
    };
    if demo && store.stats()?.pages == 0 {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("demo.xml");
        let pages = inlink_import::demo::generate(2_000, 42);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        inlink_import::demo::write_xml(&mut f, "Demo Wiki", &pages)?;
        drop(f);
        let summaries = import_bulk(&store, &[path], Format::MediaWikiXml, &Options::default())?;
        for s in &summaries {
            eprintln!(
                "demo wiki generated: {} pages, {} redirects",
                s.pages, s.redirects
            );
        }
        // Notes too, for the SiYuan dialect (and the MediaWiki one over notes).
        let vault = dir.path().join("Demo Notes");
        let g = inlink_import::demo_notes::write_vault(&vault, 1_000, 800, 42)?;
        import_bulk(&store, &[vault], Format::Markdown, &Options::default())?;
        eprintln!("demo notes generated: {} notes", g.titles.len());
    }
    // A well-referenced note for the example requests.
    let demo_note = if demo {
        let codec = TitleCodec::new(
            store
                .site_info()?
                .unwrap_or_else(|| SiteInfo::mediawiki_default("Wiki")),
        );
        let mut best: Option<(usize, String, String)> = None;
        for p in store.pages(inlink_model::PageId(0), usize::MAX)? {
            let Some(doc) = store.first_block(p.id)?.filter(|b| b.parent.is_none()) else {
                continue;
            };
            let n = store.block_refs_to(&doc.id)?.len();
            if best.as_ref().is_none_or(|b| n > b.0) {
                best = Some((n, doc.id, codec.full_text(&p.title)));
            }
        }
        best.map(|(_, id, title)| (id, title))
    } else {
        None
    };
    let store: Arc<dyn LinkStore> = store;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(inlink_server::serve(
        store,
        config,
        |addr| {
            // A closed stdout must not stop the server.
            let say = |line: String| {
                let _ = writeln!(std::io::stdout(), "{line}");
            };
            say(format!("inlink is serving on http://{addr}"));
            say(format!("  try: curl http://{addr}/healthz"));
            if demo {
                let api = format!("http://{addr}/w/api.php?action=query&list=backlinks&format=json&formatversion=2");
                say(format!("  try: curl '{api}&bltitle=River_science_0&bllimit=5'"));
                say(format!("  try: curl '{api}&bltitle=River_science_0&blredirect&blnamespace=0|1&bllimit=3'"));
                say(format!("  try: curl '{api}&bltitle=Geography&blfilterredir=nonredirects&bldir=descending'"));
            }
            if let Some((id, title)) = &demo_note {
                say(format!(
                    "  try: curl -X POST http://{addr}/api/ref/getBacklink2 -d '{{\"id\":\"{id}\",\"k\":\"\",\"mk\":\"\"}}'"
                ));
                say(format!(
                    "  try: curl -X POST http://{addr}/api/ref/getBacklinkDoc -d '{{\"defID\":\"{id}\"}}'"
                ));
                let api = format!("http://{addr}/w/api.php?action=query&list=backlinks&format=json&formatversion=2");
                say(format!("  try: curl '{api}&bltitle={}'", title.replace(' ', "_")));
            }
        },
        inlink_server::shutdown_signal(),
    ))?;
    Ok(())
}

fn backlinks(
    data: &Path,
    title: &str,
    namespaces: Vec<i32>,
    limit: usize,
    json: bool,
) -> Result<()> {
    let store = open_store(data)?;
    let site = store
        .site_info()?
        .unwrap_or_else(|| SiteInfo::mediawiki_default("Wiki"));
    let codec = TitleCodec::new(site);
    let parsed = codec
        .parse(title, 0)
        .map_err(|e| anyhow::anyhow!("invalid title {title:?}: {e}"))?;
    if !parsed.is_local() {
        bail!("{title:?} is an interwiki title");
    }
    let mut q = BacklinkQuery::new(LinkKind::Page, parsed.title());
    q.limit = limit;
    if !namespaces.is_empty() {
        // MediaWiki sorts by namespace first when more than one namespace is asked for.
        q.order = if namespaces.len() > 1 {
            Order::NamespaceThenPageId
        } else {
            Order::PageId
        };
        q.namespaces = NamespaceFilter::only(namespaces);
    }
    let rows = store.backlinks(&q)?;
    let mut out = std::io::stdout().lock();
    let result = if json {
        let v: Vec<_> = rows
            .iter()
            .map(|p| serde_json::json!({"pageid": p.id.0, "ns": p.title.ns, "title": codec.full_text(&p.title), "redirect": p.is_redirect}))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)
    } else {
        rows.iter().try_for_each(|p| {
            let redirect = if p.is_redirect { "\t(redirect)" } else { "" };
            writeln!(
                out,
                "{}\t{}\t{}{redirect}",
                p.id.0,
                p.title.ns,
                codec.full_text(&p.title)
            )
        })
    };
    match result {
        // `inlink query … | head` is fine.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Syncs the index with the folder now, then again whenever its files have changed and
/// been quiet for 200 ms. The watcher stops when the returned value is dropped.
fn watch_folder(
    store: Arc<RedbStore>,
    folder: Arc<inlink_import::folder::NotesFolder>,
    data: &Path,
) -> Result<notify_debouncer_mini::Debouncer<notify_debouncer_mini::notify::RecommendedWatcher>> {
    use notify_debouncer_mini::notify::RecursiveMode;
    let dir = folder.root().to_path_buf();
    let data = data.canonicalize().unwrap_or_else(|_| data.to_path_buf());
    let sync = move |store: &RedbStore| match folder.sync(store) {
        Ok(s) => tracing::info!(
            notes = s.notes,
            written = s.written,
            deleted = s.deleted,
            "folder synced"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "folder sync failed; the index keeps its last state")
        }
    };
    sync(&store);
    let (tx, rx) = std::sync::mpsc::channel();
    let mut debouncer =
        notify_debouncer_mini::new_debouncer(std::time::Duration::from_millis(200), tx)?;
    debouncer.watcher().watch(&dir, RecursiveMode::Recursive)?;
    std::thread::spawn(move || {
        while let Ok(events) = rx.recv() {
            match &events {
                // The index's own files, when it lies inside the folder it follows.
                Ok(ev) if ev.iter().all(|e| e.path.starts_with(&data)) => continue,
                Ok(_) => {}
                Err(_) => tracing::warn!("file watching reported an error; syncing anyway"),
            }
            // Changes that came in while syncing are taken in the same pass.
            while rx.try_recv().is_ok() {}
            sync(&store);
        }
    });
    Ok(debouncer)
}
