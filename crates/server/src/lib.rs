//! The HTTP server. It owns the listener, the router and shutdown; the API dialects (next
//! issues) plug their routes in here and reach the index only through [`LinkStore`].

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
use std::sync::Arc;
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
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn LinkStore>,
    pub config: Arc<Config>,
    pub mediawiki: Arc<MediaWiki>,
    pub siyuan: Arc<SiYuan>,
    pub native: Arc<Native>,
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
        Ok(AppState {
            mediawiki: Arc::new(mediawiki),
            siyuan: Arc::new(SiYuan::new(store.clone())),
            native: Arc::new(Native::new(store.clone())),
            store,
            config: Arc::new(config),
        })
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
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
        .with_state(state)
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
            native::error(401, "unauthorized", &format!("a valid token is required ({what})"))
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
    match tokio::task::spawn_blocking(move || native.batch(&body)).await {
        Ok(r) => dialect_response(r),
        Err(_) => dialect_response(native::error(500, "internal", "the write failed")),
    }
}

fn dialect_response(r: inlink_api::Response) -> Response {
    let mut resp = (
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
        r.body,
    )
        .into_response();
    for (k, v) in r.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
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
    match state.siyuan.handle(&endpoint, &body) {
        Some(r) => dialect_response(r),
        None => not_found().await.into_response(),
    }
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
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    let caller = Caller {
        high_limits: authorised(&state.config, &headers),
    };
    dialect_response(state.mediawiki.handle_bytes(params, caller))
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    // Ready means the index answers a read.
    match state.store.site_info() {
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
    tokio::task::spawn_blocking(move || match siyuan.warm() {
        Ok(n) => tracing::info!(documents = n, "note documents described"),
        Err(e) => tracing::warn!(error = %e, "describing note documents failed"),
    });
    let app = router(state);
    ready(addr);
    tracing::info!(%addr, "listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
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
