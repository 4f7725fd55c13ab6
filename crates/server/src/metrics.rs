//! `/metrics` in the Prometheus text format: requests by dialect, module and status, latency
//! histograms by dialect, connections, and the index's sizes read at scrape time.

use inlink_store::LinkStore;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub dialect: &'static str,
    pub module: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DialectLabel {
    pub dialect: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabel {
    table: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<DialectLabel, Histogram>,
    pub connections_open: Gauge,
    pub connections_refused: Counter,
    pub answers_kept_served: Counter,
    pages: Gauge,
    links: Family<TableLabel, Gauge>,
    pending: Gauge,
    folds: Gauge,
    bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("inlink");
        let requests = Family::<RequestLabels, Counter>::default();
        // 25 µs … ~13 s in doublings: answers are microseconds, imports through /v1 seconds.
        let latency = Family::<DialectLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(25e-6, 2.0, 20))
        });
        let m = Metrics {
            requests,
            latency,
            connections_open: Gauge::default(),
            connections_refused: Counter::default(),
            answers_kept_served: Counter::default(),
            pages: Gauge::default(),
            links: Family::default(),
            pending: Gauge::default(),
            folds: Gauge::default(),
            bytes: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by dialect, module and status",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request head to response head, by dialect",
            m.latency.clone(),
        );
        registry.register(
            "connections_open",
            "Client connections being served",
            m.connections_open.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed at once because --max-connections were open",
            m.connections_refused.clone(),
        );
        registry.register(
            "answers_kept_served",
            "MediaWiki answers served from those kept for repeated requests",
            m.answers_kept_served.clone(),
        );
        registry.register("index_pages", "Pages in the index", m.pages.clone());
        registry.register(
            "index_links",
            "Link rows in the index, by table",
            m.links.clone(),
        );
        registry.register(
            "index_pending_links",
            "Link changes not yet folded into the compressed index (the delta)",
            m.pending.clone(),
        );
        registry.register(
            "index_folds",
            "Folds of the delta into a new compressed index since start",
            m.folds.clone(),
        );
        registry.register(
            "index_disk_bytes",
            "Bytes of the index on disk",
            m.bytes.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition, with the index gauges read now.
    pub fn render(&self, store: &dyn LinkStore) -> String {
        if let Ok(st) = store.stats() {
            self.pages.set(st.pages as i64);
            for (kind, n) in inlink_model::LinkKind::ALL.iter().zip(st.links) {
                self.links
                    .get_or_create(&TableLabel {
                        table: kind.as_str(),
                    })
                    .set(n as i64);
            }
            self.pending.set(st.pending_links as i64);
            self.folds.set(st.folds as i64);
            self.bytes.set(st.disk_bytes as i64);
        }
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
