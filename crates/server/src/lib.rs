//! The HTTP server. It owns the listener, the router, limits, metrics and shutdown; the API
//! dialects plug their routes in here and reach the index only through [`LinkStore`].

pub mod cache;
pub mod metrics;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use inlink_api::mediawiki::{Caller, MediaWiki};
use inlink_api::native::{self, Native};
use inlink_api::siyuan::{self, SiYuan};
use inlink_store::LinkStore;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    /// The bearer / API token, when one is configured.
    pub token: Option<String>,
    pub limits: Limits,
    /// The folder of notes the index follows (`serve --watch`), which note writes go into.
    pub notes: Option<Arc<native::NotesFolder>>,
    /// Bytes of MediaWiki answers kept for repeated requests (`cache`); 0 keeps none.
    pub answer_cache_bytes: usize,
}

impl Config {
    /// Listening on `listen` with the default limits.
    pub fn new(listen: impl Into<String>, token: Option<String>) -> Self {
        Config {
            listen: listen.into(),
            token,
            limits: Limits::default(),
            notes: None,
            answer_cache_bytes: 64 << 20,
        }
    }
}

/// What one client may take of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Time to send a request's head (slow-loris clients are cut off after it).
    pub header_timeout: Duration,
    /// Time from a request's head to its answer, body upload included (`408` after it).
    pub request_timeout: Duration,
    /// Time in-flight requests get to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Origins whose pages may call the APIs from a browser (`*` for any). Empty: CORS is
    /// off, so browsers keep other sites' pages from reading answers.
    pub cors_origins: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            cors_origins: Vec::new(),
        }
    }
}

/// What every handler shares, behind one `Arc`: axum clones the state for each
/// middleware and handler a request passes, and with one count per part that was some
/// twenty atomic updates a request on counters both cores write.
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

pub struct Parts {
    pub store: Arc<dyn LinkStore>,
    pub config: Arc<Config>,
    pub mediawiki: Arc<MediaWiki>,
    pub siyuan: Arc<SiYuan>,
    pub native: Arc<Native>,
    pub metrics: Arc<metrics::Metrics>,
    pub answers: Arc<cache::AnswerCache>,
}

impl std::ops::Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl AppState {
    /// The dialects over `store`; `base_url` is where the server is reached (MediaWiki's
    /// `server` in siteinfo).
    pub fn new(
        store: Arc<dyn LinkStore>,
        config: Config,
        base_url: &str,
    ) -> Result<Self, ServerError> {
        let mediawiki = MediaWiki::new(store.clone(), base_url.to_string())
            .map_err(|e| ServerError::Io(std::io::Error::other(e)))?;
        Ok(AppState(Arc::new(Parts {
            mediawiki: Arc::new(mediawiki),
            siyuan: Arc::new(SiYuan::new(store.clone())),
            native: Arc::new(Native::new(store.clone(), config.notes.clone())),
            metrics: Arc::new(metrics::Metrics::new()),
            answers: Arc::new(cache::AnswerCache::new(config.answer_cache_bytes)),
            store,
            config: Arc::new(config),
        })))
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/w/api.php", get(api_php).post(api_php))
        .route("/api.php", get(api_php).post(api_php))
        .route(
            "/api/ref/{endpoint}",
            // Other methods get the kernel router's plain 404.
            axum::routing::post(siyuan_ref).fallback(not_found),
        )
        .route("/v1/openapi.json", get(openapi))
        .route(
            "/v1/batch",
            axum::routing::post(v1_batch)
                .layer(axum::extract::DefaultBodyLimit::max(WRITE_BODY_LIMIT)),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// CORS for the configured origins only: the allow header on their requests, and answers
/// to their preflights. Writes still need the token; a browser never sends it by itself.
async fn cors(
    State(state): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let allowed = &state.config.limits.cors_origins;
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| {
            allowed
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(o))
        })
        .and_then(|o| HeaderValue::from_str(o).ok());
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let preflight = req.method() == axum::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type, Api-User-Agent, X-Request-Id"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

/// The module a response answered, for metrics (a bounded set of names).
#[derive(Clone)]
struct Module(&'static str);

/// MediaWiki modules that get their own metrics label; others count as `other`.
const MW_MODULES: &[&str] = &[
    "backlinks",
    "embeddedin",
    "imageusage",
    "linkshere",
    "links",
    "info",
    "siteinfo",
    "userinfo",
    "paraminfo",
    "query",
    "help",
];

fn mw_module(params: &[(String, Vec<u8>, bool)]) -> &'static str {
    let get = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(n, _, _)| n == k)
            .map(|(_, v, _)| String::from_utf8_lossy(v).into_owned())
    };
    let name = match get("action").as_deref() {
        None => "help".to_string(),
        Some("query") => ["list", "prop", "meta", "generator"]
            .iter()
            .find_map(|k| get(k))
            .map(|v| v.split('|').next().unwrap_or("").to_string())
            .unwrap_or_else(|| "query".into()),
        Some(a) => a.to_string(),
    };
    MW_MODULES
        .iter()
        .find(|m| **m == name)
        .copied()
        .unwrap_or("other")
}

static NEXT_REQUEST: AtomicU64 = AtomicU64::new(1);

/// Every request: an id (the client's `X-Request-Id` when it is short and printable), a
/// tracing span carrying it, the request timeout, and its count and latency in `/metrics`.
async fn observe(
    State(state): State<AppState>,
    mut req: Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:016x}", NEXT_REQUEST.fetch_add(1, Ordering::Relaxed)));
    let path = req.uri().path().to_string();
    let dialect = match path.as_str() {
        "/w/api.php" | "/api.php" => "mediawiki",
        p if p.starts_with("/api/ref/") => "siyuan",
        p if p.starts_with("/v1/") => "native",
        "/healthz" | "/metrics" => "ops",
        _ => "other",
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    // At the level of the one event it carries ("answered"): an info span's fields were
    // formatted for every request, a tenth of a small answer's time, with nothing to show.
    let span = tracing::debug_span!("request", id = %id, method = %req.method(), path = %path);
    let timeout = state.config.limits.request_timeout;
    let mut resp = {
        use tracing::Instrument;
        match tokio::time::timeout(timeout, next.run(req).instrument(span.clone())).await {
            Ok(r) => r,
            Err(_) => (StatusCode::REQUEST_TIMEOUT, "request timed out\n").into_response(),
        }
    };
    let status = resp.status().as_u16();
    let module = match resp.extensions().get::<Module>() {
        Some(m) => m.0,
        None if path == "/metrics" => "metrics",
        None if path == "/healthz" => "healthz",
        None => "other",
    };
    let elapsed = started.elapsed();
    state
        .metrics
        .requests
        .get_or_create(&metrics::RequestLabels {
            dialect,
            module: module.to_string(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&metrics::DialectLabel { dialect })
        .observe(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::debug!(
            status,
            module,
            micros = elapsed.as_micros() as u64,
            "answered"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// The id `observe` gave a request.
#[derive(Clone)]
pub struct RequestId(pub String);

async fn metrics_text(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let m = state.metrics.clone();
    match tokio::task::spawn_blocking(move || m.render(store.as_ref())).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The largest write batch body; bigger jobs are imports.
pub const WRITE_BODY_LIMIT: usize = 64 << 20;

async fn openapi(State(state): State<AppState>) -> Response {
    dialect_response(state.native.openapi())
}

/// `POST /v1/batch`: the token, or loopback only when none is configured (as SiYuan's
/// `CheckAuth`, which also keeps browser pages of other sites out).
async fn v1_batch(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if let Err(what) = siyuan_auth(&state.config, peer, req.headers(), query.as_deref()) {
        return dialect_response(if state.config.token.is_some() {
            native::error(
                401,
                "unauthorized",
                &format!("a valid token is required ({what})"),
            )
        } else {
            native::error(403, "forbidden", what)
        });
    }
    let body = match axum::body::to_bytes(req.into_body(), WRITE_BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return dialect_response(native::error(
                413,
                "toolarge",
                &format!("the body is over {WRITE_BODY_LIMIT} bytes"),
            ))
        }
    };
    let native = state.native.clone();
    let mut resp = match tokio::task::spawn_blocking(move || native.batch(&body)).await {
        Ok(r) => dialect_response(r),
        Err(_) => dialect_response(native::error(500, "internal", "the write failed")),
    };
    resp.extensions_mut().insert(Module("batch"));
    resp
}

fn dialect_response(r: inlink_api::Response) -> Response {
    dialect_parts(r).into_response()
}

fn dialect_parts(r: inlink_api::Response) -> (StatusCode, HeaderMap, String) {
    let mut headers = HeaderMap::new();
    for (k, v) in r.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            headers.insert(name, value);
        }
    }
    (
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
        headers,
        r.body,
    )
}

/// Whether a host name or `host:port` names this machine.
fn local_host(h: &str) -> bool {
    let host = h
        .strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .unwrap_or_else(|| h.rsplit_once(':').map_or(h, |(a, _)| a));
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// SiYuan's `CheckAuth`: with a token configured, `Authorization: Token <t>` (or `Bearer`)
/// or `?token=<t>`; without one, loopback clients only (address, `Host`, `Origin` and
/// `X-Forwarded-Host` all local), which keeps a browser page elsewhere from reading notes.
fn siyuan_auth(
    config: &Config,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), &'static str> {
    let Some(token) = &config.token else {
        let header_local = |name: HeaderName| {
            headers.get(name).is_none_or(|v| {
                v.to_str().is_ok_and(|s| {
                    let s = s.split("://").nth(1).unwrap_or(s);
                    local_host(s.split('/').next().unwrap_or(s))
                })
            })
        };
        let ok = peer.is_some_and(|p| p.ip().is_loopback())
            && header_local(header::HOST)
            && header_local(header::ORIGIN)
            && header_local(HeaderName::from_static("x-forwarded-host"));
        return if ok {
            Ok(())
        } else {
            Err("loopback only: start the server with --token to serve other hosts")
        };
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            ["Token ", "token ", "Bearer ", "bearer "]
                .iter()
                .find_map(|p| v.strip_prefix(p))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(t) = given {
        return if t.as_bytes() == token.as_bytes() {
            Ok(())
        } else {
            Err("header: Authorization")
        };
    }
    let from_query = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    match from_query {
        Some(t) if t.as_bytes() == token.as_bytes() => Ok(()),
        Some(_) => Err("query: token"),
        None => Err("header: Authorization"),
    }
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "404 page not found")
}

const SIYUAN_ENDPOINTS: &[&str] = &[
    "getBacklinkDoc",
    "getBacklink2",
    "getBacklink",
    "getBackmentionDoc",
    "refreshBacklink",
];

/// `POST /api/ref/<endpoint>`: the SiYuan dialect.
async fn siyuan_ref(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if let Err(what) = siyuan_auth(&state.config, peer, req.headers(), query.as_deref()) {
        return dialect_response(siyuan::auth_failed(what));
    }
    // The kernel reads the body as JSON whatever its type; bodies are small.
    let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response()
        }
    };
    let module = SIYUAN_ENDPOINTS
        .iter()
        .find(|e| **e == endpoint)
        .copied()
        .unwrap_or("other");
    let mut resp = match state.siyuan.handle(&endpoint, &body) {
        Some(r) => dialect_response(r),
        None => not_found().await.into_response(),
    };
    resp.extensions_mut().insert(Module(module));
    resp
}

/// Whether the request carries the configured secret (`Authorization: Bearer <token>`).
fn authorised(config: &Config, headers: &HeaderMap) -> bool {
    let Some(token) = &config.token else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| given.as_bytes() == token.as_bytes())
}

/// `application/x-www-form-urlencoded` pairs with values left as bytes: the dialect decides
/// what invalid UTF-8 means.
fn raw_pairs(b: &[u8], from_query: bool) -> Vec<(String, Vec<u8>, bool)> {
    let decode = |s: &[u8]| -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    match std::str::from_utf8(&s[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(v) => {
                            out.push(v);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        out
    };
    b.split(|&c| c == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = match p.iter().position(|&c| c == b'=') {
                Some(e) => (&p[..e], &p[e + 1..]),
                None => (p, &p[p.len()..]),
            };
            (
                String::from_utf8_lossy(&decode(k)).into_owned(),
                decode(v),
                from_query,
            )
        })
        .collect()
}

/// `api.php`: query-string parameters, then form-body parameters (which win, as `$_POST`
/// wins over `$_GET` in MediaWiki's `WebRequest`).
async fn api_php(
    State(state): State<AppState>,
    method: axum::http::Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let high_limits = authorised(&state.config, &headers);
    // A GET's answer is its query string's (and the caller's); one with a body is odd
    // enough to answer afresh.
    let cache_key = (method == axum::http::Method::GET && body.is_empty())
        .then(|| query.as_deref().unwrap_or(""));
    let generation = state.store.generation();
    if let Some(key) = cache_key {
        if let Some(answer) = state.answers.get(generation, high_limits, key) {
            state.metrics.answers_kept_served.inc();
            let module = Module(answer.module);
            let mut resp = answer.into_response();
            resp.extensions_mut().insert(module);
            return resp;
        }
    }
    let mut params = query
        .as_deref()
        .map(|q| raw_pairs(q.as_bytes(), true))
        .unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let form = content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form {
        params.extend(raw_pairs(&body, false));
    } else if let Some(boundary) = content_type
        .as_deref()
        .and_then(|ct| multer::parse_boundary(ct).ok())
    {
        // multipart/form-data, as clients send file uploads (and some send everything).
        let stream =
            futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
        let mut parts = multer::Multipart::new(stream, boundary);
        while let Ok(Some(field)) = parts.next_field().await {
            let name = field.name().unwrap_or("").to_string();
            match field.bytes().await {
                Ok(value) => params.push((name, value.to_vec(), false)),
                Err(_) => break,
            }
        }
    }
    let caller = Caller { high_limits };
    let module = mw_module(&params);
    let answer = state.mediawiki.handle_bytes(params, caller);
    // Errors of the index itself (I/O, damage) may not come again; other answers,
    // MediaWiki's own errors included, are the request's.
    let internal = answer
        .headers
        .iter()
        .any(|(k, v)| *k == "MediaWiki-API-Error" && v.starts_with("internal_api_error"));
    let (status, headers, body) = dialect_parts(answer);
    let answer = cache::Answer {
        status,
        headers,
        body: Bytes::from(body),
        module,
    };
    if let (Some(key), false) = (cache_key, internal) {
        let after = state.store.generation();
        state
            .answers
            .put(generation, after, high_limits, key, &answer);
    }
    let mut resp = answer.into_response();
    resp.extensions_mut().insert(Module(module));
    resp
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    // Ready means the index answers a read: the cheapest there is, since this is also the
    // trivial endpoint `bench http` measures the queries against (the site information
    // is a JSON document parsed afresh).
    match state.store.last_page_id() {
        Ok(_) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "index unavailable\n"),
    }
}

/// Binds `config.listen` and serves until `shutdown` resolves. Calls `ready` with the
/// bound address once the listener is up.
pub async fn serve(
    store: Arc<dyn LinkStore>,
    config: Config,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr()?;
    let state = AppState::new(store, config, &format!("http://{addr}"))?;
    let siyuan = state.siyuan.clone();
    let index = state.store.clone();
    tokio::task::spawn_blocking(move || {
        // The index's title tables first: every answer's rows read them at random.
        let started = Instant::now();
        match index.warm() {
            Ok(bytes) => tracing::info!(
                bytes,
                secs = started.elapsed().as_secs_f64(),
                "index title tables mapped"
            ),
            Err(e) => tracing::warn!(error = %e, "mapping the index's title tables failed"),
        }
        match siyuan.warm() {
            Ok(n) => tracing::info!(documents = n, "note documents described"),
            Err(e) => tracing::warn!(error = %e, "describing note documents failed"),
        }
    });
    let metrics = state.metrics.clone();
    let limits = state.config.limits.clone();
    let app = router(state);
    ready(addr);
    tracing::info!(%addr, "listening");
    accept_loop(listener, app, metrics, limits, shutdown).await;
    Ok(())
}

/// Serves connections until `shutdown`: at most `max_connections` at once (more are closed
/// when accepted), each cut off if its request head takes longer than `header_timeout`;
/// then stops accepting and gives in-flight requests `shutdown_grace` to finish.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    metrics: Arc<metrics::Metrics>,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.connections_refused.inc();
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let metrics = metrics.clone();
        metrics.connections_open.inc();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
            metrics.connections_open.dec();
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("in-flight requests finished"),
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("shutdown grace period over; closing the remaining connections")
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
