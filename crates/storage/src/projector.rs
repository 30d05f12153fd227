//! The projector: folds committed grades into the summary tables, exactly once, off the request
//! path.
//!
//! Each [`Projection`] (a family of summary tables) follows its own id watermark, a row of
//! `projection_state`. A fold reads the grades after the watermark, adds what they change to the
//! tables and moves the watermark, all in one transaction: a fold that fails leaves nothing
//! behind, and one that commits can never be applied again. Ids commit in order (see
//! [`crate::writer`]), so "after the watermark" never skips a late commit.
//!
//! - [`Projection::Terms`]: distinct students, pass/fail per course term, grades per route. Folded
//!   often (every [`ProjectorConfig::terms_interval`]): it feeds the Redis live state.
//! - [`Projection::Students`]: per-student averages with their rollups, four index-moving rows
//!   per student and grade. Folded less often, so that a student's grades collapse into one row
//!   change per rollup ([`ProjectorConfig::students_interval`]).
//!
//! Every writing process runs a projector; one folds at a time. Leadership is a MySQL session
//! lock (`GET_LOCK`) held on the leader's own connection: when that process dies or its
//! connection drops, the server frees the lock and another replica takes over within
//! [`ProjectorConfig::leader_retry`]. Exactness does not depend on the lock: the watermark row
//! is read `FOR UPDATE`, so two folds of one projection could only run one after the other.
//!
//! After each terms fold the leader hands the new figures to the Redis live-state sync
//! ([`crate::live_sync`]), which keeps its own watermark.

use std::future::Future;
use std::time::{Duration, Instant};

use grades_kit::Tasks;
use sqlx::mysql::MySqlConnection;
use sqlx::{Connection, MySql, MySqlPool};

use crate::live_sync::{LiveSync, SyncCommand};
use crate::metrics::{ProjectionLabel, ProjectorMetrics};
use crate::projection::{read_status, Folded, Projection};
use crate::summary::{self, IdRange};
use crate::writer::CommittedIds;

/// How often and how much the projector folds.
#[derive(Debug, Clone)]
pub struct ProjectorConfig {
    /// Most grades one fold reads (bounds its memory and transaction size).
    pub max_fold: u32,
    /// Shortest time between two terms folds under load: it bounds how fresh the live figures are.
    pub terms_interval: Duration,
    /// Shortest time between two students folds under load: longer gathers more grades per
    /// student into one row change.
    pub students_interval: Duration,
    /// How often an idle leader looks for grades other replicas committed.
    pub idle_poll: Duration,
    /// How often a replica that is not the leader tries to become it.
    pub leader_retry: Duration,
    /// How often the leader checks that Redis still holds the live state.
    pub reconcile_interval: Duration,
}

impl ProjectorConfig {
    /// Default of [`terms_interval`](Self::terms_interval) in milliseconds (and of
    /// `PROJECTOR_TERMS_INTERVAL_MS`).
    pub const DEFAULT_TERMS_INTERVAL_MS: u64 = 50;
    /// Default of [`students_interval`](Self::students_interval) in milliseconds (and of
    /// `PROJECTOR_STUDENTS_INTERVAL_MS`).
    pub const DEFAULT_STUDENTS_INTERVAL_MS: u64 = 400;
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        Self {
            max_fold: 20_000,
            terms_interval: Duration::from_millis(Self::DEFAULT_TERMS_INTERVAL_MS),
            students_interval: Duration::from_millis(Self::DEFAULT_STUDENTS_INTERVAL_MS),
            idle_poll: Duration::from_millis(100),
            leader_retry: Duration::from_secs(1),
            reconcile_interval: Duration::from_secs(2),
        }
    }
}

/// The projector settings a storing service reads from flags or the environment; the others
/// keep their [`ProjectorConfig`] defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectorArgs {
    /// Shortest time between two folds of the terms projection (counts, distinct students, live
    /// state), in milliseconds.
    #[arg(long, env = "PROJECTOR_TERMS_INTERVAL_MS", default_value_t = ProjectorConfig::DEFAULT_TERMS_INTERVAL_MS)]
    pub projector_terms_interval_ms: u64,
    /// Shortest time between two folds of the students projection (averages), in milliseconds:
    /// longer gathers more of a student's grades into one row change.
    #[arg(long, env = "PROJECTOR_STUDENTS_INTERVAL_MS", default_value_t = ProjectorConfig::DEFAULT_STUDENTS_INTERVAL_MS)]
    pub projector_students_interval_ms: u64,
}

impl ProjectorArgs {
    /// The projector settings these flags set.
    pub fn config(&self) -> ProjectorConfig {
        ProjectorConfig {
            terms_interval: Duration::from_millis(self.projector_terms_interval_ms),
            students_interval: Duration::from_millis(self.projector_students_interval_ms),
            ..ProjectorConfig::default()
        }
    }
}

/// Runs the projections of this process until `shutdown` resolves: one task per projection in
/// `tasks` (`projector-terms`, `projector-students`), each leading (folding) only while it holds
/// that projection's lock, and the Redis sync (`live-sync`), which ends after them. Join `tasks`
/// after `shutdown` to wait for them.
pub fn spawn(
    tasks: &Tasks,
    pool: MySqlPool,
    sync: Option<LiveSync>,
    commits: CommittedIds,
    metrics: ProjectorMetrics,
    config: ProjectorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    // The sync task ends once every runner (each holding a sender) has ended.
    let sync = sync.map(|sync| sync.spawn(tasks, pool.clone()));
    for projection in Projection::ALL {
        let runner = Runner {
            projection,
            pool: pool.clone(),
            // The live state follows the terms projection.
            sync: if projection == Projection::Terms { sync.clone() } else { None },
            commits: commits.clone(),
            metrics: metrics.clone(),
            config: config.clone(),
        };
        tasks.spawn(format!("projector-{}", projection.name()), runner.run(shutdown.clone()));
    }
}

/// One projection's loop: become its leader, then fold while leader.
struct Runner {
    projection: Projection,
    pool: MySqlPool,
    sync: Option<tokio::sync::mpsc::Sender<SyncCommand>>,
    commits: CommittedIds,
    metrics: ProjectorMetrics,
    config: ProjectorConfig,
}

impl Runner {
    async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures = 0_u32;
        // Every writing process says whether it leads, so "no leader anywhere" shows as all zeros,
        // and counts failed folds from zero, so a first failure is a rise and not a new series.
        self.metrics.leader.get_or_create(&self.label()).set(0);
        let _ = self.metrics.failures.get_or_create(&self.label());
        loop {
            let attempt = tokio::select! {
                leader = self.become_leader() => leader,
                _ = &mut shutdown => return,
            };
            let connection = match attempt {
                Ok(Some(connection)) => connection,
                Ok(None) => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.leader_retry) => continue,
                        _ = &mut shutdown => return,
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, projection = self.projection.name(), "projector cannot reach MySQL; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.leader_retry) => continue,
                        _ = &mut shutdown => return,
                    }
                }
            };
            tracing::info!(projection = self.projection.name(), "projector: this process folds this projection now");
            self.metrics.leader.get_or_create(&self.label()).set(1);
            let outcome = self.lead(connection, &mut shutdown).await;
            self.metrics.stepped_down(self.projection);
            self.send(SyncCommand::Forget);
            match outcome {
                Ok(()) => return,
                Err(error) => {
                    failures += 1;
                    self.metrics.failures.get_or_create(&self.label()).inc();
                    tracing::warn!(%error, projection = self.projection.name(), "projector lost its connection or failed a fold; nothing of that fold was applied");
                    let backoff = Duration::from_millis(100 * u64::from(failures.min(20)));
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut shutdown => return,
                    }
                }
            }
        }
    }

    fn label(&self) -> ProjectionLabel {
        ProjectionLabel { projection: self.projection.name() }
    }

    /// A connection of its own holding this projection's lock, or `None` when another replica
    /// holds it.
    async fn become_leader(&self) -> Result<Option<MySqlConnection>, sqlx::Error> {
        // Detached from the pool: the session lock must never be handed to another user of the pool.
        let mut connection = self.pool.acquire().await?.detach();
        let (got,): (Option<i64>,) = sqlx::query_as(LOCK).bind(self.projection.name()).fetch_one(&mut connection).await?;
        if got == Some(1) {
            Ok(Some(connection))
        } else {
            let _ = connection.close().await;
            Ok(None)
        }
    }

    fn interval(&self) -> Duration {
        match self.projection {
            Projection::Terms => self.config.terms_interval,
            Projection::Students => self.config.students_interval,
        }
    }

    /// Folds while leader; returns Ok on shutdown, Err when the connection or a fold failed.
    async fn lead(&mut self, connection: MySqlConnection, shutdown: &mut (impl Future<Output = ()> + Unpin)) -> Result<(), sqlx::Error> {
        let mut connection = FoldConnection::new(connection).await?;
        let mut last_reconcile = Instant::now();
        loop {
            let started = Instant::now();
            let folded = match self.projection {
                Projection::Terms => fold_terms(&mut connection, self.config.max_fold).await?.map(|folded| {
                    let count = folded.grades;
                    self.send(SyncCommand::Folded(Box::new(folded)));
                    count
                }),
                Projection::Students => fold_students(&mut connection, self.config.max_fold).await?,
            };
            self.record_lag(&mut connection.0).await?;
            match folded {
                Some(count) => {
                    self.metrics.observe_fold(self.projection, count, started.elapsed());
                    if count >= u64::from(self.config.max_fold) {
                        continue; // behind by a whole fold or more: go on at once
                    }
                    // Let grades gather, so the next fold's fixed cost is shared by more of them.
                    tokio::select! {
                        _ = tokio::time::sleep_until((started + self.interval()).into()) => {}
                        _ = &mut *shutdown => return release(connection, self.projection).await,
                    }
                }
                None => {
                    if last_reconcile.elapsed() >= self.config.reconcile_interval {
                        last_reconcile = Instant::now();
                        self.send(SyncCommand::Reconcile);
                    }
                    // Nothing new: wait for a commit in this process, or poll for other replicas'.
                    tokio::select! {
                        _ = self.commits.changed() => {}
                        _ = tokio::time::sleep(self.config.idle_poll) => {}
                        _ = &mut *shutdown => return release(connection, self.projection).await,
                    }
                }
            }
        }
    }

    fn send(&self, command: SyncCommand) {
        if let Some(sync) = &self.sync {
            // A full queue means Redis is far behind: dropping the notice is safe, the sync task
            // sees the gap in watermarks and rebuilds.
            if sync.try_send(command).is_err() {
                self.metrics.live_notices_dropped.inc();
            }
        }
    }

    async fn record_lag(&self, connection: &mut MySqlConnection) -> Result<(), sqlx::Error> {
        let status = read_status(connection).await?;
        if let Some(projection) = status.get(self.projection) {
            self.metrics.record_lag(projection);
        }
        Ok(())
    }
}

/// The session lock that makes a process the leader of one projection. Lock names are
/// server-wide, so the database name is part of it.
const LOCK: &str = "SELECT GET_LOCK(LEFT(CONCAT('grades.projector.', ?, '.', DATABASE()), 64), 0)";
const UNLOCK: &str = "SELECT RELEASE_LOCK(LEFT(CONCAT('grades.projector.', ?, '.', DATABASE()), 64))";

async fn release(connection: FoldConnection, projection: Projection) -> Result<(), sqlx::Error> {
    let mut connection = connection.0;
    let _ = sqlx::query(UNLOCK).bind(projection.name()).execute(&mut connection).await;
    let _ = connection.close().await;
    tracing::info!(projection = projection.name(), "projector stopped");
    Ok(())
}

/// The next range of `projection` (at most `max` ids after its watermark), with the watermark
/// row locked until the transaction ends. `None` when every committed grade is folded.
async fn next_range(tx: &mut MySqlConnection, projection: Projection, max: u32) -> Result<Option<IdRange>, sqlx::Error> {
    let (applied,): (u64,) = sqlx::query_as("SELECT applied_id FROM projection_state WHERE name = ? FOR UPDATE")
        .bind(projection.name())
        .fetch_one(&mut *tx)
        .await?;
    // Ids are handed out under a lock and committed in order: every id up to this one is committed.
    let (last,): (Option<u64>,) = sqlx::query_as("SELECT MAX(id) FROM grades WHERE id > ? AND id <= ?")
        .bind(applied)
        .bind(applied + u64::from(max))
        .fetch_one(&mut *tx)
        .await?;
    Ok(last.map(|last| IdRange { first: applied + 1, last }))
}

async fn move_watermark(tx: &mut MySqlConnection, projection: Projection, range: IdRange) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_state SET applied_id = ?, applied_at = (SELECT created_at FROM grades WHERE id = ?), \
         updated_at = UTC_TIMESTAMP(3) WHERE name = ?",
    )
    .bind(range.last)
    .bind(range.last)
    .bind(projection.name())
    .execute(tx)
    .await
    .map(|_| ())
}

/// Begins a fold transaction. READ COMMITTED: reading a grade range then takes no gap locks
/// (which would hold up the writers' inserts), and the range is final, so every statement sees
/// the same rows.
async fn begin_fold(connection: &mut MySqlConnection) -> Result<sqlx::Transaction<'_, MySql>, sqlx::Error> {
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED").execute(&mut *connection).await?;
    connection.begin().await
}

/// A connection that folds. The terms fold keeps its scratch table on the connection (a
/// temporary table is the session's own), made here once and outside any transaction: made in
/// every fold, it drew a note from the server each time after the first.
pub struct FoldConnection(MySqlConnection);

impl FoldConnection {
    /// Prepares `connection` for folding.
    pub async fn new(mut connection: MySqlConnection) -> Result<Self, sqlx::Error> {
        summary::create_scratch_table(&mut connection).await?;
        Ok(Self(connection))
    }

    /// Closes the connection (its scratch table goes with it).
    pub async fn close(self) -> Result<(), sqlx::Error> {
        self.0.close().await
    }
}

/// One terms fold (see [`Projection::Terms`]). `None` when there was nothing to fold.
pub async fn fold_terms(connection: &mut FoldConnection, max: u32) -> Result<Option<Folded>, sqlx::Error> {
    let mut tx = begin_fold(&mut connection.0).await?;
    let Some(range) = next_range(&mut tx, Projection::Terms, max).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    let folded = summary::fold_terms(&mut tx, range).await?;
    move_watermark(&mut tx, Projection::Terms, range).await?;
    tx.commit().await?;
    Ok(Some(Folded {
        previous: range.first - 1,
        applied: range.last,
        grades: range.len(),
        newest: folded.newest,
        route_count: folded.route_count,
        students: folded.students,
    }))
}

/// One students fold (see [`Projection::Students`]): how many grades it folded, `None` when
/// there was nothing to fold.
pub async fn fold_students(connection: &mut FoldConnection, max: u32) -> Result<Option<u64>, sqlx::Error> {
    let mut tx = begin_fold(&mut connection.0).await?;
    let Some(range) = next_range(&mut tx, Projection::Students, max).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    summary::fold_students(&mut tx, range).await?;
    move_watermark(&mut tx, Projection::Students, range).await?;
    tx.commit().await?;
    Ok(Some(range.len()))
}
