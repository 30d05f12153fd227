//! The Prometheus registry of a process, and the request metrics both HTTP routes share.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::process::ProcessCollector;

/// Upper bounds (seconds) of the request latency histograms. Every route answers in 1-15 ms
/// (BENCHMARKS.md) and the SLO is a p99 of 20 ms, so most boundaries sit between 0.5 and 30 ms,
/// 20 ms is one of them, and the same as the per-route buckets the dashboard reads from Redis
/// (`grades_live::latency`), so the two views agree; a few wide ones catch stalls.
pub const REQUEST_SECONDS_BUCKETS: [f64; 21] =
    [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0];

/// A latency histogram with [`REQUEST_SECONDS_BUCKETS`].
pub fn request_seconds_histogram() -> Histogram {
    Histogram::new(REQUEST_SECONDS_BUCKETS)
}

/// The process registry: metrics are registered while the service is built, then it is frozen
/// and shared with the `/metrics` handler.
pub struct MetricsRegistry {
    registry: Registry,
}

impl MetricsRegistry {
    /// A registry holding the process metrics (CPU, memory, file descriptors, threads).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ProcessCollector));
        Self { registry }
    }

    /// Says which ingestion route this process serves: `grades_route_info{route="grpc"} 1`, so
    /// a query can give a process's CPU to its route (`* ignoring (route) group_left (route)
    /// grades_route_info`) whatever labels the scraper adds.
    pub fn route_info(&mut self, route: &str) {
        // A gauge at 1, the classic text format's way to carry an info metric (OpenMetrics' `info`
        // type is unknown to the text format and to promtool).
        let info = Family::<RouteLabel, Gauge>::default();
        info.get_or_create(&RouteLabel { route: route.to_owned() }).set(1);
        self.registry.register("grades_route_info", "The ingestion route this process serves", info);
    }

    /// Where metrics are registered while the service is built.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The finished registry, for `/metrics`.
    pub fn freeze(self) -> Arc<Registry> {
        Arc::new(self.registry)
    }
}

impl Default for MetricsRegistry {
    fn default() -> Self {
        Self::new()
    }
}

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `grpc` or `rest`.
    pub route: String,
    /// HTTP status answered.
    pub status: u16,
}

/// The route label alone.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    /// `grpc` or `rest`.
    pub route: String,
}

/// Requests by route and status, and a latency histogram by route.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabel, Histogram>,
}

impl HttpMetrics {
    /// Registers `grades_http_requests_total` and `grades_http_request_duration_seconds`.
    pub fn register(registry: &mut MetricsRegistry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<RouteLabel, Histogram>::new_with_constructor(request_seconds_histogram);
        let registry = registry.registry_mut();
        registry.register("grades_http_requests", "POST /grades requests by route and status", requests.clone());
        registry.register("grades_http_request_duration_seconds", "POST /grades latency by route", duration.clone());
        Self { requests, duration }
    }

    /// Exports `route`'s latency histogram at zero before its first request, so a route with no
    /// traffic shows a rate of 0 (which an alert can see) instead of no series at all.
    pub fn serve_route(&self, route: &str) {
        let _ = self.duration.get_or_create(&RouteLabel { route: route.to_owned() });
    }

    /// Counts one answered request and its latency.
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests.get_or_create(&RequestLabels { route: route.to_owned(), status }).inc();
        self.duration.get_or_create(&RouteLabel { route: route.to_owned() }).observe(elapsed.as_secs_f64());
    }
}
