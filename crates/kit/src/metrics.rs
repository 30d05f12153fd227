//! The Prometheus registry of a process, and the request metrics both HTTP routes share.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The process registry: metrics are registered while the service is built, then it is frozen
/// and shared with the `/metrics` handler.
pub struct MetricsRegistry {
    registry: Registry,
}

impl MetricsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self { registry: Registry::default() }
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
    /// Registers `grades_http_requests` and `grades_http_request_duration_seconds`.
    pub fn register(registry: &mut MetricsRegistry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0])
        });
        let registry = registry.registry_mut();
        registry.register("grades_http_requests", "POST /grades requests by route and status", requests.clone());
        registry.register("grades_http_request_duration_seconds", "POST /grades latency by route", duration.clone());
        Self { requests, duration }
    }

    /// Counts one answered request and its latency.
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests.get_or_create(&RequestLabels { route: route.to_owned(), status }).inc();
        self.duration.get_or_create(&RouteLabel { route: route.to_owned() }).observe(elapsed.as_secs_f64());
    }
}
