//! Retention of idempotency keys: each key is kept for a stated window, long enough for any
//! client's retries, then deleted by a background sweeper, off the request path.
//!
//! Without it every keyed grade leaves a row in `idempotency_keys` forever, and the writer checks
//! that random-key index on every keyed insert: at 100 M grades the index, not the grades, is
//! what stops fitting in memory. The window (24 h by default, `IDEMPOTENCY_KEY_RETENTION_HOURS`)
//! and why it is long enough are in docs/CONTRACTS.md ("Idempotency keys: retention").
//!
//! Every storing process runs a sweeper; none leads. Deleting an expired key is idempotent, so
//! two replicas sweeping at once cost only lock waits, never a wrong answer; to keep even those
//! rare, each sweeper starts at a random point of its interval and draws every next wait at
//! random around it, and each delete is a small batch in key-age order
//! (`DELETE ... ORDER BY created_at, idem_key LIMIT n` on the `created_at` index, MySQL and
//! MariaDB alike), committed on its own: two sweepers meeting queue on one batch of rows for
//! milliseconds, and the writer's inserts (at the newest end of that index) never wait on them.
//!
//! A key is answered as a replay for at least the window; once older, it is deleted within about
//! one sweep interval, and a retry after that stores a new grade.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use grades_kit::Tasks;
use prometheus_client::metrics::counter::Counter;
use sqlx::MySqlPool;

use crate::mysql::{is_unavailable, mysql_code};

/// How long keys are kept and how the sweeper deletes older ones.
#[derive(Debug, Clone)]
pub struct KeyRetention {
    /// A key is kept (and its replays answered) at least this long after it was stored.
    pub window: Duration,
    /// Average time between two sweeps of one process (each wait is drawn from half to one and a
    /// half of it, the first from zero to it).
    pub interval: Duration,
    /// Keys one DELETE removes: a short statement, so replicas and writers barely wait on it.
    pub batch: u32,
    /// Pause between two batches of a sweep that found more to delete, so a sweep after an
    /// outage spreads its deletes instead of occupying a connection and the purge thread.
    pub pause: Duration,
}

impl KeyRetention {
    /// Default of the window in hours (and of `IDEMPOTENCY_KEY_RETENTION_HOURS`).
    pub const DEFAULT_HOURS: u32 = 24;
}

impl Default for KeyRetention {
    fn default() -> Self {
        Self { window: hours(Self::DEFAULT_HOURS), interval: Duration::from_secs(60), batch: 1_000, pause: Duration::from_millis(20) }
    }
}

fn hours(hours: u32) -> Duration {
    Duration::from_secs(u64::from(hours) * 3_600)
}

/// The retention setting a storing service reads from flags or the environment; the others keep
/// their [`KeyRetention`] defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyRetentionArgs {
    /// Hours an Idempotency-Key is kept: a retry with it within this window is answered with the
    /// first grade's id; after it (once swept) it stores a new grade. At most 90 days.
    #[arg(long, env = "IDEMPOTENCY_KEY_RETENTION_HOURS", default_value_t = KeyRetention::DEFAULT_HOURS,
          value_parser = clap::value_parser!(u32).range(1..=2160))]
    pub idempotency_key_retention_hours: u32,
}

impl KeyRetentionArgs {
    /// The retention these flags set.
    pub fn config(&self) -> KeyRetention {
        KeyRetention { window: hours(self.idempotency_key_retention_hours), ..KeyRetention::default() }
    }
}

/// The sweeper's metrics.
#[derive(Clone, Default)]
pub struct RetentionMetrics {
    /// Keys deleted because they were older than the window.
    pub expired: Counter,
    /// Sweeps that stopped on an error (retried at the next sweep).
    pub failures: Counter,
}

/// One DELETE of at most `batch` expired keys, oldest first. The cutoff is the server's clock,
/// the one that stamped `created_at`. Ordered by the whole `created_at` index entry (the primary
/// key is its suffix), so the rows are the same on every server: safe for any binlog format.
const DELETE_EXPIRED: &str = "DELETE FROM idempotency_keys WHERE created_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND \
                              ORDER BY created_at, idem_key LIMIT ?";

/// MySQL's "command denied to user": the account has no DELETE on `idempotency_keys`.
const DENIED: u16 = 1142;

/// Deletes the keys older than `retention.window`, in batches, until none is left or `stop`
/// resolves (checked between batches and while one runs: a DELETE waiting on a lock is
/// abandoned, its connection closed). Returns how many it deleted.
pub async fn sweep(pool: &MySqlPool, retention: &KeyRetention, stop: impl Future<Output = ()>) -> Result<u64, sqlx::Error> {
    tokio::pin!(stop);
    let mut connection = pool.acquire().await?;
    let mut deleted = 0;
    loop {
        let statement = sqlx::query(DELETE_EXPIRED).bind(retention.window.as_secs()).bind(retention.batch).execute(&mut *connection);
        let done = tokio::select! {
            done = statement => done?,
            _ = &mut stop => {
                // The statement may still run on the server: this session is not reused.
                connection.close_on_drop();
                return Ok(deleted);
            }
        };
        deleted += done.rows_affected();
        if done.rows_affected() < u64::from(retention.batch) {
            return Ok(deleted);
        }
        tokio::select! {
            _ = tokio::time::sleep(retention.pause) => {}
            _ = &mut stop => return Ok(deleted),
        }
    }
}

/// Starts this process's sweeper (`idempotency-sweeper`) in `tasks`; it ends when `shutdown`
/// resolves, within a statement's cancellation. A failed sweep is logged and counted, never fatal:
/// keys live a little longer, and readiness is not the sweeper's to fail.
pub fn spawn(
    tasks: &Tasks,
    pool: MySqlPool,
    metrics: RetentionMetrics,
    retention: KeyRetention,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    tasks.spawn("idempotency-sweeper", run(pool, metrics, retention, shutdown));
}

async fn run(pool: MySqlPool, metrics: RetentionMetrics, retention: KeyRetention, shutdown: impl Future<Output = ()> + Send + 'static) {
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let mut wait = retention.interval.mul_f64(random_unit());
    let mut warned_denied = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.clone() => return,
        }
        wait = retention.interval.mul_f64(0.5 + random_unit());
        let started = Instant::now();
        match sweep(&pool, &retention, shutdown.clone()).await {
            Ok(0) => {}
            Ok(deleted) => {
                metrics.expired.inc_by(deleted);
                let window_hours = retention.window.as_secs() / 3_600;
                tracing::info!(deleted, window_hours, took_ms = started.elapsed().as_millis() as u64, "expired idempotency keys deleted");
            }
            Err(error) => {
                metrics.failures.inc();
                report_failure(&error, &mut warned_denied);
            }
        }
    }
}

/// A failed sweep in the log: a missing DELETE grant once, as a warning saying which; MySQL down
/// at debug (the writer and readiness already say so); anything else as a warning.
fn report_failure(error: &sqlx::Error, warned_denied: &mut bool) {
    let denied = matches!(error, sqlx::Error::Database(db) if mysql_code(db.as_ref()) == Some(DENIED));
    if denied {
        if !*warned_denied {
            *warned_denied = true;
            tracing::warn!(%error, "expired idempotency keys cannot be deleted: grant DELETE on idempotency_keys to this MySQL user \
                                    (scripts/sql/users.sql); keys are kept until then");
        }
    } else if is_unavailable(error) {
        tracing::debug!(%error, "idempotency key sweep skipped: MySQL is unreachable");
    } else {
        tracing::warn!(%error, "idempotency key sweep failed; retried at the next sweep");
    }
}

/// A number in [0, 1), different in every process and call: std's hasher keys are random, which
/// is all the spreading of sweeps needs.
fn random_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_window_is_a_day_and_flags_set_hours() {
        assert_eq!(KeyRetention::default().window, Duration::from_secs(86_400));
        let args = KeyRetentionArgs { idempotency_key_retention_hours: 48 };
        assert_eq!(args.config().window, Duration::from_secs(172_800));
        assert_eq!(args.config().batch, KeyRetention::default().batch);
    }

    #[test]
    fn waits_are_spread() {
        let draws: Vec<f64> = (0..64).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!(draws.iter().any(|d| *d < 0.5) && draws.iter().any(|d| *d >= 0.5), "{draws:?}");
    }
}
