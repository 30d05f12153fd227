//! Keeps the Redis live state equal to the summary tables at the terms projection's watermark.
//!
//! Redis holds counters, not raw data: grades per route, distinct students per course term (the
//! projector already counted them exactly), and the newest grades. Its watermark (`synced_id`)
//! says which fold it equals. After each fold the sync task applies the fold's figures only if
//! Redis holds the fold's starting watermark; otherwise (Redis restarted empty, an update was
//! missed, another replica led meanwhile) it rebuilds from MySQL: a few hundred summary rows and
//! the newest grades, read at one watermark, written in one atomic replace. It never touches the
//! id lock and never reads the grades table beyond the newest [`RECENT_LEN`] rows.
//!
//! It runs in a task of its own, so a slow or dead Redis never holds up folding.

use std::time::Duration;

use grades_domain::StoredGrade;
use grades_kit::Tasks;
use grades_live::{LiveError, LiveEvent, LiveFigures, LiveStore, RECENT_LEN};
use sqlx::mysql::MySqlConnection;
use sqlx::{Connection, MySqlPool};
use tokio::sync::mpsc;

use crate::metrics::LiveSyncMetrics;
use crate::projection::{read_status, Folded, Projection};
use crate::rows::{into_grades, GradeRow, GRADE_COLUMNS};
use crate::summary::{read_route_counts, read_student_counts};

/// Most notices waiting for the sync task; beyond it they are dropped and the gap is rebuilt.
const QUEUE: usize = 256;
/// Longest a Redis write may take before the state is treated as unknown (rebuilt next time).
const REDIS_DEADLINE: Duration = Duration::from_secs(3);

/// What the projector tells the sync task.
#[derive(Debug)]
pub enum SyncCommand {
    /// A fold committed.
    Folded(Box<Folded>),
    /// Check that Redis still holds the live state (the projector is idle).
    Reconcile,
    /// This process stopped leading: what it knew about Redis may be stale.
    Forget,
}

/// The Redis side of the projector (absent when a process has no Redis configured).
pub struct LiveSync {
    live: LiveStore,
    metrics: LiveSyncMetrics,
}

impl LiveSync {
    /// A sync writing to `live`; it starts with the projector ([`crate::projector::spawn`]).
    pub fn new(live: LiveStore, metrics: LiveSyncMetrics) -> Self {
        Self { live, metrics }
    }

    /// Starts the sync task (`live-sync`) in `tasks`; it ends once every sender is dropped.
    pub(crate) fn spawn(self, tasks: &Tasks, pool: MySqlPool) -> mpsc::Sender<SyncCommand> {
        let (tx, mut rx) = mpsc::channel(QUEUE);
        let mut state = SyncState { live: self.live, metrics: self.metrics, pool, synced: None, recent: Vec::new() };
        tasks.spawn("live-sync", async move {
            while let Some(command) = rx.recv().await {
                match command {
                    SyncCommand::Folded(folded) => state.after_fold(&folded).await,
                    SyncCommand::Reconcile => state.reconcile().await,
                    SyncCommand::Forget => state.synced = None,
                }
            }
        });
        tx
    }
}

struct SyncState {
    live: LiveStore,
    metrics: LiveSyncMetrics,
    pool: MySqlPool,
    /// The watermark Redis holds as far as this task knows; `None` when unknown.
    synced: Option<u64>,
    /// The feed Redis holds (newest first), valid while `synced` is known.
    recent: Vec<StoredGrade>,
}

impl SyncState {
    async fn after_fold(&mut self, folded: &Folded) {
        // A rebuild reads the summaries as they are when it runs, so it may already cover folds
        // whose notices are still queued: those were announced with it.
        if self.synced.is_some_and(|synced| synced >= folded.applied) {
            return;
        }
        if self.synced == Some(folded.previous) {
            let mut recent = folded.newest.clone();
            recent.extend(self.recent.iter().take(RECENT_LEN.saturating_sub(recent.len())).cloned());
            let figures =
                LiveFigures { synced_id: folded.applied, route_count: folded.route_count, students: folded.students.clone(), recent };
            let event = LiveEvent::of(&figures, folded.grades, folded.newest.clone());
            let live = self.live.clone();
            match self.write(live.advance(folded.previous, &figures, &event)).await {
                Some(true) => {
                    self.synced = Some(figures.synced_id);
                    self.metrics.synced_id.set(figures.synced_id as i64);
                    self.recent = figures.recent;
                    return;
                }
                // Redis does not hold where this fold started: rebuild below.
                Some(false) => {
                    tracing::info!(previous = folded.previous, "redis live state is not where the last fold left it; rebuilding")
                }
                None => return,
            }
        }
        self.rebuild(Some(folded)).await;
    }

    async fn reconcile(&mut self) {
        let held = match tokio::time::timeout(REDIS_DEADLINE, self.live.synced_id()).await {
            Ok(Ok(held)) => held,
            Ok(Err(error)) => return self.failed(&error.to_string()),
            Err(_) => return self.failed("timed out"),
        };
        if held.is_none() || held != self.synced {
            tracing::info!(redis = ?held, expected = ?self.synced, "redis live state differs from the summaries; rebuilding");
            self.rebuild(None).await;
        }
    }

    /// Replaces the live state with the summaries at the current watermark.
    async fn rebuild(&mut self, trigger: Option<&Folded>) {
        let snapshot = match self.read_snapshot().await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                self.synced = None;
                tracing::warn!(%error, "cannot read the summaries to rebuild the redis live state; retrying later");
                return;
            }
        };
        // Announce every grade from the triggering fold's start to the snapshot's watermark (the
        // snapshot may be ahead of the fold): the newest carried, the rest counted, so a client
        // that needs every grade reads them back. A rebuild without a fold announces none again.
        let announced = trigger.map(|f| f.previous).unwrap_or(snapshot.figures.synced_id);
        let grades: Vec<StoredGrade> = snapshot.figures.recent.iter().filter(|g| g.id > announced).cloned().collect();
        let event = LiveEvent::of(&snapshot.figures, snapshot.figures.synced_id.saturating_sub(announced), grades);
        let live = self.live.clone();
        if self.write(live.replace(&snapshot.figures, &event, snapshot.latest_id)).await.is_some() {
            self.metrics.rebuilds.inc();
            self.metrics.synced_id.set(snapshot.figures.synced_id as i64);
            tracing::info!(
                synced_id = snapshot.figures.synced_id,
                terms = snapshot.figures.students.len(),
                "redis live state rebuilt from the summaries"
            );
            self.synced = Some(snapshot.figures.synced_id);
            self.recent = snapshot.figures.recent;
        }
    }

    async fn read_snapshot(&self) -> Result<Snapshot, sqlx::Error> {
        let mut connection = self.pool.acquire().await?;
        read_snapshot(&mut connection).await
    }

    /// Runs a Redis write with a deadline: its value, or `None` when it failed. A failure is
    /// handled here (logged, counted, the state marked unknown and so rebuilt later), so the
    /// caller only learns that there is nothing to go on with.
    async fn write<T>(&mut self, write: impl std::future::Future<Output = Result<T, LiveError>>) -> Option<T> {
        match tokio::time::timeout(REDIS_DEADLINE, write).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                self.failed(&error.to_string());
                None
            }
            Err(_) => {
                self.failed("timed out");
                None
            }
        }
    }

    fn failed(&mut self, error: &str) {
        if self.synced.is_some() {
            tracing::warn!(%error, "redis live state not updated; it is rebuilt from MySQL when redis answers");
        }
        self.synced = None;
        self.metrics.failures.inc();
    }
}

/// Why [`rebuild_now`] could not rebuild the live state.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The summaries could not be read.
    #[error("reading the summaries from MySQL: {0}")]
    Summaries(#[from] sqlx::Error),
    /// Redis did not take the new state.
    #[error("writing the live state to Redis: {0}")]
    Redis(#[from] LiveError),
}

/// Rebuilds the live state from the summary tables now (`just reconcile`, and after a bulk
/// load); returns the watermark it was rebuilt at.
pub async fn rebuild_now(pool: &MySqlPool, live: &LiveStore) -> Result<u64, RebuildError> {
    let mut connection = pool.acquire().await?;
    let snapshot = read_snapshot(&mut connection).await?;
    let event = LiveEvent::of(&snapshot.figures, 0, Vec::new());
    live.replace(&snapshot.figures, &event, snapshot.latest_id).await?;
    Ok(snapshot.figures.synced_id)
}

struct Snapshot {
    figures: LiveFigures,
    latest_id: u64,
}

/// Every live figure at one watermark: one read view (REPEATABLE READ, set explicitly because a
/// server may default to READ COMMITTED, where each statement would see a different moment).
async fn read_snapshot(connection: &mut MySqlConnection) -> Result<Snapshot, sqlx::Error> {
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *connection).await?;
    let mut tx = connection.begin().await?;
    let status = read_status(&mut *tx).await?;
    let applied_id = status.get(Projection::Terms).map_or(0, |terms| terms.applied_id);
    let route_count = read_route_counts(&mut tx).await?;
    let students = read_student_counts(&mut tx, &[]).await?;
    let rows: Vec<GradeRow> = sqlx::query_as(&format!("SELECT {GRADE_COLUMNS} FROM grades WHERE id <= ? ORDER BY id DESC LIMIT ?"))
        .bind(applied_id)
        .bind(RECENT_LEN as u32)
        .fetch_all(&mut *tx)
        .await?;
    tx.rollback().await?;
    let recent = into_grades(rows)?;
    Ok(Snapshot { figures: LiveFigures { synced_id: applied_id, route_count, students, recent }, latest_id: status.latest_id })
}
