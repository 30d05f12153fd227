//! Group commit, the request path: concurrent requests queue, a batch of them is committed in one
//! short transaction, and each request is answered only after that transaction commits.
//!
//! The transaction does only what makes a grade durable and ordered: it takes an id range from
//! the `id_sequence` row (one statement, which also locks the row until commit), inserts the
//! grades and their idempotency keys, and commits. Summaries are folded later by the projector
//! ([`crate::projector`]), off this path.
//!
//! The row lock means batches from every replica commit one at a time, in id order, so every
//! reader sees a gap-free prefix of ids: the projector can follow an id watermark and never miss
//! a late commit. Up to `pipeline_depth` batches are in flight per process: the next one is
//! already waiting on the lock inside MySQL while the current one commits, so no round trip is
//! lost between them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use grades_domain::{IdempotencyKey, NewGrade, Route};
use grades_kit::{Shutdown, Tasks};
use sqlx::mysql::MySqlConnection;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, MySql, MySqlPool, QueryBuilder};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinSet;

use crate::batch::{batch_sql, BatchRow, KEYS_STATEMENT, SEQUENCE_STATEMENT};
use crate::metrics::StorageMetrics;
use crate::mysql::{is_retryable, is_unavailable, mysql_code};
use crate::plan::{assign_ids, inserts, plan_batch, Plan};

/// One grade to store, as a route received it.
#[derive(Debug, Clone)]
pub struct StoreRequest {
    /// The validated grade.
    pub grade: NewGrade,
    /// The ingestion route it came through (counted per route).
    pub route: Route,
    /// The client's `Idempotency-Key`: a retry with it is answered with the first outcome.
    pub idempotency_key: Option<IdempotencyKey>,
}

/// What storing a grade did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Newly committed under this id.
    Created(u64),
    /// The idempotency key had already stored this grade under this id; nothing new was stored.
    Replayed(u64),
}

impl StoreOutcome {
    /// The grade's id, new or replayed.
    pub fn id(self) -> u64 {
        match self {
            Self::Created(id) | Self::Replayed(id) => id,
        }
    }
}

/// Why a grade was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// MySQL cannot be reached, or the outcome is unknown: the client may retry (same key).
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    /// The idempotency key (carried) already stored a different grade.
    #[error("Idempotency-Key {:?} was already used for a different grade", .0.as_str())]
    IdempotencyConflict(IdempotencyKey),
    /// MySQL refused the batch for another reason (a bug, a bad statement).
    #[error("the grade could not be stored: {0}")]
    Internal(String),
    /// The writer has stopped taking requests.
    #[error("the service is shutting down")]
    ShuttingDown,
}

/// Batch sizes, queue length, retries and pipelining of the writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Most grades in one transaction (9 placeholders each: far under MySQL's 65,535).
    pub max_batch: usize,
    /// Requests that may wait for a batch before new ones are refused (back-pressure).
    pub queue_capacity: usize,
    /// Retries of a batch after a deadlock, a lock wait timeout or an idempotency race (never
    /// after the connection failed with the batch sent: its outcome is unknown).
    pub max_retries: u32,
    /// Batch transactions in flight at once in this process.
    pub pipeline_depth: usize,
    /// Smallest batch sent while another is in flight; a smaller one waits for it (see `run`).
    pub min_pipelined: usize,
}

impl WriterConfig {
    /// Default of [`max_batch`](Self::max_batch) (and of `WRITER_MAX_BATCH`).
    pub const DEFAULT_MAX_BATCH: u16 = 512;
    /// Default of [`pipeline_depth`](Self::pipeline_depth) (and of `WRITER_PIPELINE_DEPTH`).
    pub const DEFAULT_PIPELINE_DEPTH: u8 = 2;
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            max_batch: usize::from(Self::DEFAULT_MAX_BATCH),
            queue_capacity: 16_384,
            max_retries: 3,
            pipeline_depth: usize::from(Self::DEFAULT_PIPELINE_DEPTH),
            min_pipelined: 64,
        }
    }
}

/// The writer settings a storing service reads from flags or the environment; the others keep
/// their [`WriterConfig`] defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct WriterArgs {
    /// Most grades committed in one transaction.
    #[arg(long, env = "WRITER_MAX_BATCH", default_value_t = WriterConfig::DEFAULT_MAX_BATCH, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub writer_max_batch: u16,
    /// Batch transactions in flight at once: the next waits on the id lock inside MySQL while the
    /// current one commits.
    #[arg(long, env = "WRITER_PIPELINE_DEPTH", default_value_t = WriterConfig::DEFAULT_PIPELINE_DEPTH, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub writer_pipeline_depth: u8,
}

impl WriterArgs {
    /// The writer settings these flags set.
    pub fn config(&self) -> WriterConfig {
        WriterConfig {
            max_batch: usize::from(self.writer_max_batch),
            pipeline_depth: usize::from(self.writer_pipeline_depth),
            ..WriterConfig::default()
        }
    }
}

struct Pending {
    request: StoreRequest,
    reply: oneshot::Sender<Result<StoreOutcome, StoreError>>,
}

/// Handle to the group-commit writer. Cloning is cheap; the writer task stops after the last
/// handle is dropped and every queued request has been answered (graceful shutdown drains it).
#[derive(Clone)]
pub struct GradeWriter {
    queue: mpsc::Sender<Pending>,
}

/// The highest grade id this process has committed (0 before the first): the projector in the
/// same process wakes on it instead of waiting for its next poll.
pub type CommittedIds = watch::Receiver<u64>;

impl GradeWriter {
    /// Starts the writer task (`writer`, with its batches and its MySQL probe) in `tasks`: its
    /// handle and the committed-id watch. Join `tasks` after dropping every handle to wait until
    /// every queued request is answered.
    pub fn spawn(tasks: &Tasks, pool: MySqlPool, metrics: StorageMetrics, config: WriterConfig) -> (Self, CommittedIds) {
        let (queue, rx) = mpsc::channel(config.queue_capacity);
        let (committed, committed_ids) = watch::channel(0);
        let committer = Arc::new(Committer {
            connections: Connections::new(pool),
            metrics,
            committed: Arc::new(committed),
            max_retries: config.max_retries,
            mysql_down: watch::Sender::new(false),
            tasks: tasks.clone(),
            stopped: Shutdown::new(),
        });
        tasks.spawn("writer", run(committer, rx, config));
        (Self { queue }, committed_ids)
    }

    /// Queues one grade and waits until its batch commits (or fails).
    pub async fn store(&self, request: StoreRequest) -> Result<StoreOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Pending { request, reply }).await.map_err(|_| StoreError::ShuttingDown)?;
        answer.await.map_err(|_| StoreError::ShuttingDown)?
    }
}

async fn run(committer: Arc<Committer>, mut rx: mpsc::Receiver<Pending>, config: WriterConfig) {
    let depth = Arc::new(Semaphore::new(config.pipeline_depth.max(1)));
    // Batches are supervised (a panic is logged and fails readiness, see `Tasks`), so joining one
    // yields nothing to look at.
    let mut in_flight = JoinSet::new();
    loop {
        let Ok(slot) = depth.clone().acquire_owned().await else { break };
        while in_flight.try_join_next().is_some() {}
        let mut batch = Vec::with_capacity(config.max_batch);
        if rx.recv_many(&mut batch, config.max_batch).await == 0 {
            break;
        }
        // Commits are serialized by the id lock, so a small batch sent next to one in flight
        // would only wait for it inside MySQL and then pay a commit of its own. Below
        // `min_pipelined` it gathers more requests until the batch in flight is done instead.
        while !in_flight.is_empty() && batch.len() < config.min_pipelined.min(config.max_batch) {
            let room = config.max_batch - batch.len();
            tokio::select! {
                _ = in_flight.join_next() => break,
                received = rx.recv_many(&mut batch, room) => if received == 0 { break },
            }
        }
        let batch_committer = committer.clone();
        in_flight.spawn(committer.tasks.supervise("writer-batch", async move {
            batch_committer.commit_and_reply(batch).await;
            drop(slot);
        }));
    }
    while in_flight.join_next().await.is_some() {}
    committer.stopped.trigger();
    tracing::debug!("grade writer stopped");
}

/// Connections kept by the writer between batches, so a busy writer does not pay the pool's
/// liveness ping per batch. One idle for a while is pinged before use: a batch is sent in one
/// go, and a connection that died while idle must be found out before, not after, sending it.
struct Connections {
    pool: MySqlPool,
    idle: Mutex<Vec<(PoolConnection<MySql>, Instant)>>,
}

/// Idle longer than this, a kept connection is pinged before a batch goes out on it.
const TRUSTED_IDLE: Duration = Duration::from_secs(1);

impl Connections {
    fn new(pool: MySqlPool) -> Self {
        Self { pool, idle: Mutex::new(Vec::new()) }
    }

    async fn take(&self) -> Result<PoolConnection<MySql>, sqlx::Error> {
        loop {
            let kept = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
            let Some((mut connection, since)) = kept else { return self.pool.acquire().await };
            if since.elapsed() < TRUSTED_IDLE || connection.ping().await.is_ok() {
                return Ok(connection);
            }
            connection.close_on_drop();
        }
    }

    fn keep(&self, connection: PoolConnection<MySql>) {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((connection, Instant::now()));
    }
}

struct Committer {
    connections: Connections,
    metrics: StorageMetrics,
    committed: Arc<watch::Sender<u64>>,
    max_retries: u32,
    /// The last batch found MySQL unreachable. Batches in flight would otherwise each wait out
    /// the pool's acquire timeout one after another, so a grade arriving behind them would get
    /// its 503 only after two or more timeouts: the first batch to find it down releases the
    /// others still waiting for a connection.
    mysql_down: watch::Sender<bool>,
    /// The writer's tasks: its batches are supervised as its, and the MySQL probe runs in it.
    tasks: Tasks,
    /// Triggered when the writer stopped: a MySQL probe still waiting ends then.
    stopped: Shutdown,
}

/// While MySQL is down, how often it is checked for being back.
const DOWN_PROBE: Duration = Duration::from_millis(250);

type Outcomes = Vec<Result<StoreOutcome, StoreError>>;

impl Committer {
    async fn commit_and_reply(self: &Arc<Self>, batch: Vec<Pending>) {
        self.metrics.batch_size.observe(batch.len() as f64);
        let started = Instant::now();
        let result = self.commit_with_retries(&batch).await;
        self.metrics.batch_commit_seconds.observe(started.elapsed().as_secs_f64());
        match result {
            Ok((outcomes, last_id)) => {
                if let Some(last_id) = last_id {
                    self.committed.send_if_modified(|highest| {
                        let newer = last_id > *highest;
                        if newer {
                            *highest = last_id;
                        }
                        newer
                    });
                }
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = pending.reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, grades = batch.len(), "batch could not be committed");
                for pending in batch {
                    let _ = pending.reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// A connection for a batch, failing fast while MySQL is known to be down (see `mysql_down`).
    async fn connection(self: &Arc<Self>) -> Result<PoolConnection<MySql>, StoreError> {
        let mut down = self.mysql_down.subscribe();
        if *down.borrow_and_update() {
            return Err(StoreError::Unavailable("MySQL is unreachable; checking again every quarter second".into()));
        }
        let taken = tokio::select! {
            taken = self.connections.take() => taken,
            _ = down.wait_for(|down| *down) => Err(sqlx::Error::PoolTimedOut),
        };
        if let Err(error) = &taken {
            if is_unavailable(error) && !self.mysql_down.send_replace(true) {
                self.tasks.spawn("writer-mysql-probe", self.clone().probe_until_back());
            }
        }
        taken.map_err(|e| store_error(&e))
    }

    /// While MySQL is down, checks every [`DOWN_PROBE`] whether it answers again, off the
    /// request path: batches meanwhile get their 503 at once instead of each waiting for the
    /// pool's acquire timeout.
    async fn probe_until_back(self: Arc<Self>) {
        tracing::warn!("MySQL is unreachable: answering 503 at once until it is back");
        let stopped = self.stopped.wait();
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(DOWN_PROBE) => {}
                // The writer stopped: nothing will ask for a connection again.
                _ = &mut stopped => return,
            }
            match self.connections.take().await {
                Ok(connection) => {
                    self.connections.keep(connection);
                    self.mysql_down.send_replace(false);
                    tracing::info!("MySQL answers again");
                    return;
                }
                // Shutting down: nothing will ask for a connection again.
                Err(sqlx::Error::PoolClosed) => return,
                Err(_) => {}
            }
        }
    }

    async fn commit_with_retries(self: &Arc<Self>, batch: &[Pending]) -> Result<(Outcomes, Option<u64>), StoreError> {
        let mut attempt = 0;
        loop {
            let mut connection = self.connection().await?;
            let failure = match commit_batch(&mut connection, batch).await {
                Ok(done) => {
                    self.connections.keep(connection);
                    return Ok(done);
                }
                Err(failure) => failure,
            };
            // Whatever state the session is in now, do not reuse it.
            connection.close_on_drop();
            drop(connection);
            let (error, raced) = match failure {
                Failure::BeforeCommit(error) => (error, false),
                Failure::KeyRace(error) => (error, true),
                Failure::AtCommit(error) => {
                    return Err(StoreError::Unavailable(format!(
                        "the connection to MySQL failed while the batch was being committed, so whether it was stored is \
                         unknown ({error}); retry with the same Idempotency-Key"
                    )))
                }
            };
            if (raced || is_retryable(&error)) && attempt < self.max_retries {
                attempt += 1;
                self.metrics.batch_retries.inc();
                tracing::warn!(%error, attempt, "retrying batch");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                continue;
            }
            return Err(store_error(&error));
        }
    }
}

fn store_error(error: &sqlx::Error) -> StoreError {
    if is_unavailable(error) {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Internal(error.to_string())
    }
}

/// MySQL's "Duplicate entry" error.
const DUPLICATE_KEY: u16 = 1062;

enum Failure {
    /// MySQL refused a statement: the batch stopped there and nothing was committed.
    BeforeCommit(sqlx::Error),
    /// Another batch (of this process or another replica) stored one of this batch's idempotency
    /// keys between the key lookup and the key insert. Nothing was committed; running the batch
    /// again finds the key and answers a replay.
    KeyRace(sqlx::Error),
    /// The connection failed with the batch sent: it may or may not be stored.
    AtCommit(sqlx::Error),
}

/// Runs a batch's statements (one round trip); answers the id the sequence row handed out, which
/// is one past the batch's last id.
async fn execute_batch(connection: &mut MySqlConnection, sql: &str) -> Result<Option<u64>, Failure> {
    let mut results = sqlx::raw_sql(sql).execute_many(&mut *connection);
    let mut answered = 0;
    let mut next_id = None;
    while let Some(result) = results.next().await {
        match result {
            Ok(done) => {
                if answered == SEQUENCE_STATEMENT {
                    next_id = (done.rows_affected() == 1).then(|| done.last_insert_id());
                }
                answered += 1;
            }
            // MySQL stops at the first failing statement: COMMIT never ran.
            Err(error @ sqlx::Error::Database(_)) => {
                let raced = answered == KEYS_STATEMENT
                    && matches!(&error, sqlx::Error::Database(db) if mysql_code(db.as_ref()) == Some(DUPLICATE_KEY));
                return Err(if raced { Failure::KeyRace(error) } else { Failure::BeforeCommit(error) });
            }
            // The connection failed with the statements sent: they may all have run.
            Err(error) => return Err(Failure::AtCommit(error)),
        }
    }
    Ok(next_id)
}

/// One batch: its outcomes in order, and the highest id it committed.
async fn commit_batch(connection: &mut MySqlConnection, batch: &[Pending]) -> Result<(Outcomes, Option<u64>), Failure> {
    let keyed: Vec<Option<(&str, u64)>> =
        batch.iter().map(|p| p.request.idempotency_key.as_ref().map(|key| (key.as_str(), p.request.grade.fingerprint()))).collect();
    // Read without locks, before the id lock is taken: a key stored meanwhile by another replica
    // makes the key insert below fail, and the retry reads it.
    let known = known_keys(connection, &keyed).await.map_err(Failure::BeforeCommit)?;
    let plans = plan_batch(&keyed, &known);
    let count = inserts(&plans);

    let mut first_id = 0;
    if count > 0 {
        let rows: Vec<BatchRow> = batch
            .iter()
            .zip(&plans)
            .zip(&keyed)
            .filter(|((_, plan), _)| matches!(plan, Plan::Insert))
            .map(|((pending, _), key)| BatchRow { grade: &pending.request.grade, route: pending.request.route, key: *key })
            .collect();
        let next_id = execute_batch(connection, &batch_sql(&rows)).await?;
        // Without its sequence row every id would have been out of range and failed above.
        first_id = next_id.ok_or(Failure::BeforeCommit(sqlx::Error::RowNotFound))? - count;
    }

    let ids = assign_ids(&plans, first_id);
    let outcomes = plans
        .iter()
        .enumerate()
        .map(|(index, plan)| match *plan {
            Plan::Insert => Ok(StoreOutcome::Created(ids[index])),
            Plan::SameAsEarlier(first) => Ok(StoreOutcome::Replayed(ids[first])),
            Plan::Replay(id) => Ok(StoreOutcome::Replayed(id)),
            Plan::Conflict => match &batch[index].request.idempotency_key {
                Some(key) => Err(StoreError::IdempotencyConflict(key.clone())),
                None => Err(StoreError::Internal("a grade without an Idempotency-Key was planned as a key conflict".into())),
            },
        })
        .collect();
    Ok((outcomes, (count > 0).then(|| first_id + count - 1)))
}

async fn known_keys(connection: &mut MySqlConnection, keyed: &[Option<(&str, u64)>]) -> Result<HashMap<String, (u64, u64)>, sqlx::Error> {
    let keys: Vec<&str> = keyed.iter().flatten().map(|(key, _)| *key).collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = QueryBuilder::<MySql>::new("SELECT idem_key, grade_id, request_hash FROM idempotency_keys WHERE idem_key IN (");
    let mut list = query.separated(", ");
    for key in keys {
        list.push_bind(key);
    }
    query.push(")");
    let rows: Vec<(String, u64, u64)> = query.build_query_as().fetch_all(&mut *connection).await?;
    Ok(rows.into_iter().map(|(key, id, hash)| (key, (id, hash))).collect())
}
