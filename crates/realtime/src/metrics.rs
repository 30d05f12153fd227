//! The service's own Prometheus metrics (served on `/metrics` with the process registry).

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use grades_kit::MetricsRegistry;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

/// Label of the push counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabel {
    /// Socket.IO event name (`total`, `students`, `recent_grades`, `routes`).
    pub event: String,
}

/// Labels of the API request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// Request path (one of the API's fixed routes).
    pub path: String,
    /// HTTP status answered.
    pub status: u16,
}

/// Label of the API latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PathLabel {
    /// Request path (one of the API's fixed routes).
    pub path: String,
}

/// The realtime service's metrics; clones share the same series.
#[derive(Clone)]
pub struct RealtimeMetrics {
    /// Socket.IO clients connected.
    pub clients: Gauge<i64, AtomicI64>,
    /// Batch events received on the Redis channel.
    pub events_received: Counter,
    /// Channel messages that were not a batch event.
    pub events_invalid: Counter,
    /// Times the events subscription was lost and made again.
    pub subscription_reconnects: Counter,
    /// Socket.IO broadcasts, by event.
    pub pushes: Family<EventLabel, Counter>,
    api_requests: Family<ApiLabels, Counter>,
    api_duration: Family<PathLabel, Histogram>,
}

impl RealtimeMetrics {
    /// Creates the metrics and adds them to the process registry.
    pub fn register(registry: &mut MetricsRegistry) -> Self {
        let metrics = Self {
            clients: Gauge::default(),
            events_received: Counter::default(),
            events_invalid: Counter::default(),
            subscription_reconnects: Counter::default(),
            pushes: Family::default(),
            api_requests: Family::default(),
            api_duration: Family::new_with_constructor(grades_kit::metrics::request_seconds_histogram),
        };
        let registry = registry.registry_mut().sub_registry_with_prefix("grades_realtime");
        registry.register("socket_clients", "Socket.IO clients connected", metrics.clients.clone());
        registry.register("events_received", "Live events received on the Redis channel", metrics.events_received.clone());
        registry.register("events_invalid", "Redis channel messages that were not a live event", metrics.events_invalid.clone());
        registry.register(
            "subscription_reconnects",
            "Redis event subscriptions lost and made again",
            metrics.subscription_reconnects.clone(),
        );
        registry.register("pushes", "Socket.IO broadcasts by event", metrics.pushes.clone());
        registry.register("api_requests", "HTTP API requests by path and status", metrics.api_requests.clone());
        registry.register("api_request_duration_seconds", "HTTP API latency by path", metrics.api_duration.clone());
        metrics
    }

    /// Counts one broadcast of `event`.
    pub fn pushed(&self, event: &str) {
        self.pushes.get_or_create(&EventLabel { event: event.to_owned() }).inc();
    }

    /// Records one API request: its path, status and duration.
    pub fn observe_api(&self, path: &str, status: u16, elapsed: Duration) {
        self.api_requests.get_or_create(&ApiLabels { path: path.to_owned(), status }).inc();
        self.api_duration.get_or_create(&PathLabel { path: path.to_owned() }).observe(elapsed.as_secs_f64());
    }
}
