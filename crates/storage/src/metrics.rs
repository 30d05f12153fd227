use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Storage-side metrics, registered into the process registry by the service that owns them.
#[derive(Clone)]
pub struct StorageMetrics {
    pub batch_size: Histogram,
    pub batch_commit_seconds: Histogram,
    pub batch_retries: Counter,
    pub redis_failures: Counter,
}

impl StorageMetrics {
    pub fn new() -> Self {
        Self {
            batch_size: Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0]),
            batch_commit_seconds: Histogram::new([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]),
            batch_retries: Counter::default(),
            redis_failures: Counter::default(),
        }
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register("grades_batch_size", "Grades committed per MySQL transaction", self.batch_size.clone());
        registry.register(
            "grades_batch_commit_seconds",
            "Time to write and commit one batch of grades",
            self.batch_commit_seconds.clone(),
        );
        registry.register(
            "grades_batch_retries",
            "Batches retried after a deadlock or lock wait timeout",
            self.batch_retries.clone(),
        );
        registry.register(
            "grades_redis_failures",
            "Grades committed to MySQL whose Redis live-state update failed",
            self.redis_failures.clone(),
        );
    }
}

impl Default for StorageMetrics {
    fn default() -> Self {
        Self::new()
    }
}
