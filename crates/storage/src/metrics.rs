//! Storage-side metrics, registered into the process registry by the service that owns them.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use grades_domain::Route;

use crate::idempotency::RetentionMetrics;
use crate::projection::{Projection, ProjectionStatus};

/// Every storage metric of a writing process: the writer's, the projector's, the live sync's, the
/// idempotency key sweeper's.
#[derive(Clone)]
pub struct StorageMetrics {
    /// Grades per committed batch.
    pub batch_size: Histogram,
    /// Time to write and commit one batch.
    pub batch_commit_seconds: Histogram,
    /// Batches run again after a deadlock, lock wait timeout, key race or stale connection.
    pub batch_retries: Counter,
    /// The projector's metrics.
    pub projector: ProjectorMetrics,
    /// The Redis live sync's metrics.
    pub live_sync: LiveSyncMetrics,
    /// The idempotency key sweeper's metrics.
    pub retention: RetentionMetrics,
}

/// The label of per-projection metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProjectionLabel {
    /// [`Projection::name`].
    pub projection: &'static str,
}

/// The projector's metrics, per projection where labelled.
#[derive(Clone)]
pub struct ProjectorMetrics {
    /// 1 while this process folds the projection, else 0.
    pub leader: Family<ProjectionLabel, Gauge>,
    /// The projection's watermark: highest grade id folded.
    pub applied_id: Family<ProjectionLabel, Gauge>,
    /// Committed grades not folded yet.
    pub lag_ids: Family<ProjectionLabel, Gauge>,
    /// Age of the oldest grade not folded yet.
    pub lag_seconds: Family<ProjectionLabel, Gauge<f64, AtomicU64>>,
    /// Grades per fold.
    pub fold_grades: Family<ProjectionLabel, Histogram>,
    /// Time of one fold transaction.
    pub fold_seconds: Family<ProjectionLabel, Histogram>,
    /// Folds rolled back (connection lost, database error).
    pub failures: Family<ProjectionLabel, Counter>,
    /// Fold notices the live sync's queue could not take (it rebuilds instead).
    pub live_notices_dropped: Counter,
}

impl ProjectorMetrics {
    /// Records one committed fold of `projection`.
    pub fn observe_fold(&self, projection: Projection, grades: u64, took: Duration) {
        let label = ProjectionLabel { projection: projection.name() };
        self.fold_grades.get_or_create(&label).observe(grades as f64);
        self.fold_seconds.get_or_create(&label).observe(took.as_secs_f64());
    }

    /// Sets the watermark and lag gauges from a status read.
    pub fn record_lag(&self, status: &ProjectionStatus) {
        let label = ProjectionLabel { projection: status.projection.name() };
        self.applied_id.get_or_create(&label).set(status.applied_id as i64);
        self.lag_ids.get_or_create(&label).set(status.lag_ids as i64);
        self.lag_seconds.get_or_create(&label).set(status.lag_seconds);
    }

    /// This process no longer folds `projection`: only the leader reads the lag, so the figures
    /// this one last read go (a stale lag would hide, or fake, the leader's in a `max`).
    pub fn stepped_down(&self, projection: Projection) {
        let label = ProjectionLabel { projection: projection.name() };
        self.leader.get_or_create(&label).set(0);
        self.lag_ids.remove(&label);
        self.lag_seconds.remove(&label);
    }
}

/// The Redis live sync's metrics.
#[derive(Clone)]
pub struct LiveSyncMetrics {
    /// The projector watermark the Redis live state equals.
    pub synced_id: Gauge,
    /// Live state rebuilt from the summary tables.
    pub rebuilds: Counter,
    /// Redis writes that failed (a rebuild follows).
    pub failures: Counter,
}

/// A commit or a fold takes 1-20 ms under load (BENCHMARKS.md): fine buckets there, wide ones
/// for a MySQL that stalls.
fn seconds() -> Histogram {
    Histogram::new([0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0])
}

/// Grades per batch: at most WRITER_MAX_BATCH (512 by default), powers of two up to it; a fold
/// can take far more after an outage.
fn sizes() -> Histogram {
    Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0, 65536.0])
}

impl StorageMetrics {
    /// Metrics at zero, not registered yet.
    pub fn new() -> Self {
        Self {
            batch_size: sizes(),
            batch_commit_seconds: seconds(),
            batch_retries: Counter::default(),
            projector: ProjectorMetrics {
                leader: Family::default(),
                applied_id: Family::default(),
                lag_ids: Family::default(),
                lag_seconds: Family::default(),
                fold_grades: Family::new_with_constructor(sizes),
                fold_seconds: Family::new_with_constructor(seconds),
                failures: Family::default(),
                live_notices_dropped: Counter::default(),
            },
            live_sync: LiveSyncMetrics { synced_id: Gauge::default(), rebuilds: Counter::default(), failures: Counter::default() },
            retention: RetentionMetrics::default(),
        }
    }

    /// Adds every storage metric to the process registry; the writer's carry `route`, the route
    /// whose grades this process stores (the projector and the live sync fold every route's).
    pub fn register(&self, registry: &mut Registry, route: Route) {
        let writer = registry.sub_registry_with_prefix("grades_writer").sub_registry_with_label(("route".into(), route.as_str().into()));
        writer.register("batch_grades", "Grades committed per MySQL transaction", self.batch_size.clone());
        writer.register("commit_duration_seconds", "Time to write and commit one batch of grades", self.batch_commit_seconds.clone());
        writer.register(
            "batch_retries",
            "Batches run again after a deadlock, a lock wait timeout or a key race",
            self.batch_retries.clone(),
        );
        let (p, projector) = (&self.projector, registry.sub_registry_with_prefix("grades_projector"));
        projector.register("leader", "1 while this process folds the projection", p.leader.clone());
        projector.register("applied_id", "Highest grade id folded into the projection's tables", p.applied_id.clone());
        projector.register("lag_ids", "Committed grades the projection has not folded yet (leader only)", p.lag_ids.clone());
        projector.register("lag_seconds", "Age of the oldest grade the projection has not folded yet (leader only)", p.lag_seconds.clone());
        projector.register("fold_grades", "Grades per fold, per projection", p.fold_grades.clone());
        projector.register("fold_duration_seconds", "Time of one fold transaction, per projection", p.fold_seconds.clone());
        projector.register("fold_failures", "Folds rolled back (connection lost, database error)", p.failures.clone());
        projector.register(
            "live_notices_dropped",
            "Fold notices the Redis sync could not take (it rebuilds)",
            p.live_notices_dropped.clone(),
        );
        let (l, live) = (&self.live_sync, registry.sub_registry_with_prefix("grades_live"));
        live.register("synced_id", "Projector watermark the Redis live state equals", l.synced_id.clone());
        live.register("rebuilds", "Redis live state rebuilt from the summary tables", l.rebuilds.clone());
        live.register("sync_failures", "Redis live-state writes that failed (retried by a rebuild)", l.failures.clone());
        let (r, keys) = (&self.retention, registry.sub_registry_with_prefix("grades_idempotency"));
        keys.register("keys_expired", "Idempotency keys deleted because they were older than the retention window", r.expired.clone());
        keys.register("sweep_failures", "Idempotency key sweeps that stopped on an error (retried at the next sweep)", r.failures.clone());
    }
}

impl Default for StorageMetrics {
    fn default() -> Self {
        Self::new()
    }
}
