//! Group commit: concurrent requests are queued, drained into one multi-row transaction, and each
//! is answered only after that transaction commits.
//!
//! Every batch transaction first locks the `id_sequence` row, so batches from all replicas commit
//! one at a time and in id order. That makes the read-then-write maintenance of the summary tables
//! (distinct students, idempotency keys) race-free, and ids a stable newest-first cursor.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use grades_domain::{IdempotencyKey, NewGrade, Route};
use serde::Serialize;
use sqlx::{MySql, MySqlPool, QueryBuilder, Transaction};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::live::LiveState;
use crate::metrics::StorageMetrics;
use crate::mysql::{is_retryable, is_unavailable};

#[derive(Debug, Clone)]
pub struct StoreRequest {
    pub grade: NewGrade,
    pub route: Route,
    pub idempotency_key: Option<IdempotencyKey>,
}

/// A grade as committed to MySQL; also the shape announced on the Redis events channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredGrade {
    pub id: u64,
    #[serde(flatten)]
    pub grade: NewGrade,
    pub route: Route,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StoreOutcome {
    /// Newly committed.
    Created(StoredGrade),
    /// The idempotency key had already stored this grade under `id`; nothing new was stored.
    Replayed { id: u64 },
}

impl StoreOutcome {
    pub fn id(&self) -> u64 {
        match self {
            Self::Created(stored) => stored.id,
            Self::Replayed { id } => *id,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    #[error("Idempotency-Key {0:?} was already used for a different grade")]
    IdempotencyConflict(String),
    #[error("the grade could not be stored: {0}")]
    Internal(String),
    #[error("the service is shutting down")]
    ShuttingDown,
}

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Most grades in one transaction; keeps statements well under MySQL's placeholder limit.
    pub max_batch: usize,
    /// Requests that may wait for a batch before new ones are refused (back-pressure).
    pub queue_capacity: usize,
    pub max_retries: u32,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self { max_batch: 256, queue_capacity: 8192, max_retries: 3 }
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

impl GradeWriter {
    pub fn spawn(pool: MySqlPool, live: Option<LiveState>, metrics: StorageMetrics, config: WriterConfig) -> (Self, JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(config.queue_capacity);
        let redis_updates = live.map(|live| spawn_live_updater(live, pool.clone(), metrics.clone()));
        let task = tokio::spawn(run(pool, rx, redis_updates, metrics, config));
        (Self { queue }, task)
    }

    pub async fn store(&self, request: StoreRequest) -> Result<StoreOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Pending { request, reply }).await.map_err(|_| StoreError::ShuttingDown)?;
        answer.await.map_err(|_| StoreError::ShuttingDown)?
    }
}

async fn run(
    pool: MySqlPool,
    mut rx: mpsc::Receiver<Pending>,
    redis_updates: Option<LiveUpdates>,
    metrics: StorageMetrics,
    config: WriterConfig,
) {
    let mut batch = Vec::with_capacity(config.max_batch);
    while rx.recv_many(&mut batch, config.max_batch).await > 0 {
        metrics.batch_size.observe(batch.len() as f64);
        let started = Instant::now();
        let result = commit_with_retries(&pool, &batch, &metrics, config.max_retries).await;
        metrics.batch_commit_seconds.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(outcomes) => {
                let created: Vec<StoredGrade> = outcomes
                    .iter()
                    .filter_map(|o| match o {
                        Ok(StoreOutcome::Created(stored)) => Some(stored.clone()),
                        _ => None,
                    })
                    .collect();
                for (pending, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = pending.reply.send(outcome);
                }
                // Redis after the commit, off the request path: a slow or dead Redis never delays
                // or fails an acknowledged grade.
                if let (Some(updates), false) = (&redis_updates, created.is_empty()) {
                    let count = created.len() as u64;
                    // A full queue means Redis is far behind; dropping is safe because the next
                    // update then rebuilds the live state from MySQL.
                    if updates.queue.try_send(created).is_err() {
                        updates.missed.store(true, Ordering::Release);
                        metrics.redis_failures.inc_by(count);
                        tracing::warn!(grades = count, "redis live-state queue is full; update dropped");
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, grades = batch.len(), "batch could not be committed");
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(error.clone()));
                }
            }
        }
    }
    if let Some(LiveUpdates { queue, task, .. }) = redis_updates {
        drop(queue);
        let _ = task.await;
    }
    tracing::debug!("grade writer stopped");
}

/// Queue of committed batches for the Redis updater, and the flag saying Redis missed some.
struct LiveUpdates {
    queue: mpsc::Sender<Vec<StoredGrade>>,
    missed: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

fn spawn_live_updater(live: LiveState, pool: MySqlPool, metrics: StorageMetrics) -> LiveUpdates {
    let (queue, mut rx) = mpsc::channel::<Vec<StoredGrade>>(1024);
    let missed = Arc::new(AtomicBool::new(false));
    let flag = missed.clone();
    let task = tokio::spawn(async move {
        // After a failed update Redis misses some grades: the next update starts with a rebuild
        // from MySQL, so an outage leaves no lasting drift in the live figures.
        while let Some(grades) = rx.recv().await {
            let update = async {
                if missed.load(Ordering::Acquire) {
                    live.invalidate().await?;
                    missed.store(false, Ordering::Release);
                }
                live.record_batch(&pool, &grades).await
            };
            // Generous: a rebuild reads every enrollment.
            let failure = match tokio::time::timeout(Duration::from_secs(60), update).await {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error.to_string()),
                Err(_) => Some("timed out".to_owned()),
            };
            if let Some(error) = failure {
                missed.store(true, Ordering::Release);
                metrics.redis_failures.inc_by(grades.len() as u64);
                tracing::warn!(%error, grades = grades.len(), "redis live-state update failed; MySQL has the grades");
            }
        }
    });
    LiveUpdates { queue, missed: flag, task }
}

type Outcomes = Vec<Result<StoreOutcome, StoreError>>;

async fn commit_with_retries(pool: &MySqlPool, batch: &[Pending], metrics: &StorageMetrics, max_retries: u32) -> Result<Outcomes, StoreError> {
    let mut attempt = 0;
    loop {
        match commit_batch(pool, batch).await {
            Ok(outcomes) => return Ok(outcomes),
            Err(error) if is_retryable(&error) && attempt < max_retries => {
                attempt += 1;
                metrics.batch_retries.inc();
                tracing::warn!(%error, attempt, "retrying batch");
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(error) if is_unavailable(&error) => return Err(StoreError::Unavailable(error.to_string())),
            Err(error) => return Err(StoreError::Internal(error.to_string())),
        }
    }
}

/// What the batch decided for one request before the insert.
enum Plan {
    Insert,
    /// Same key seen earlier in this batch (index into the batch) with the same grade.
    SameAsEarlier(usize),
    Replay(u64),
    Conflict,
}

async fn commit_batch(pool: &MySqlPool, batch: &[Pending]) -> Result<Outcomes, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (mut next_id,): (u64,) = sqlx::query_as("SELECT next_id FROM id_sequence WHERE name = 'grades' FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;

    let plans = plan_idempotency(&mut tx, batch).await?;
    let created_at = Utc::now().trunc_subsecs(3);
    let mut ids = vec![0_u64; batch.len()];
    let mut inserted = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        if matches!(plan, Plan::Insert) {
            ids[index] = next_id;
            next_id += 1;
            inserted.push(index);
        }
    }

    if !inserted.is_empty() {
        sqlx::query("UPDATE id_sequence SET next_id = ? WHERE name = 'grades'").bind(next_id).execute(&mut *tx).await?;
        insert_grades(&mut tx, batch, &inserted, &ids, created_at).await?;
        insert_idempotency_keys(&mut tx, batch, &inserted, &ids, created_at).await?;
        let grades: Vec<&NewGrade> = inserted.iter().map(|&i| &batch[i].request.grade).collect();
        update_summaries(&mut tx, &grades).await?;
        update_route_stats(&mut tx, inserted.iter().map(|&i| batch[i].request.route)).await?;
    }
    tx.commit().await?;

    Ok(plans
        .iter()
        .enumerate()
        .map(|(index, plan)| match plan {
            Plan::Insert => Ok(StoreOutcome::Created(StoredGrade {
                id: ids[index],
                grade: batch[index].request.grade.clone(),
                route: batch[index].request.route,
                created_at,
            })),
            Plan::SameAsEarlier(first) => Ok(StoreOutcome::Replayed { id: ids[*first] }),
            Plan::Replay(id) => Ok(StoreOutcome::Replayed { id: *id }),
            Plan::Conflict => Err(StoreError::IdempotencyConflict(
                batch[index].request.idempotency_key.as_ref().map(|k| k.as_str().to_owned()).unwrap_or_default(),
            )),
        })
        .collect())
}

async fn plan_idempotency(tx: &mut Transaction<'_, MySql>, batch: &[Pending]) -> Result<Vec<Plan>, sqlx::Error> {
    let keys: Vec<&str> = batch.iter().filter_map(|p| p.request.idempotency_key.as_ref().map(|k| k.as_str())).collect();
    let mut known: HashMap<String, (u64, u64)> = HashMap::new();
    if !keys.is_empty() {
        let mut query = QueryBuilder::<MySql>::new("SELECT idem_key, grade_id, request_hash FROM idempotency_keys WHERE idem_key IN (");
        let mut list = query.separated(", ");
        for key in &keys {
            list.push_bind(*key);
        }
        query.push(")");
        let rows: Vec<(String, u64, u64)> = query.build_query_as().fetch_all(&mut **tx).await?;
        known = rows.into_iter().map(|(key, id, hash)| (key, (id, hash))).collect();
    }

    let mut first_in_batch: HashMap<&str, (usize, u64)> = HashMap::new();
    Ok(batch
        .iter()
        .enumerate()
        .map(|(index, pending)| {
            let Some(key) = pending.request.idempotency_key.as_ref().map(|k| k.as_str()) else {
                return Plan::Insert;
            };
            let hash = pending.request.grade.fingerprint();
            if let Some(&(id, stored_hash)) = known.get(key) {
                return if stored_hash == hash { Plan::Replay(id) } else { Plan::Conflict };
            }
            match first_in_batch.get(key) {
                Some(&(first, first_hash)) if first_hash == hash => Plan::SameAsEarlier(first),
                Some(_) => Plan::Conflict,
                None => {
                    first_in_batch.insert(key, (index, hash));
                    Plan::Insert
                }
            }
        })
        .collect())
}

async fn insert_grades(
    tx: &mut Transaction<'_, MySql>,
    batch: &[Pending],
    inserted: &[usize],
    ids: &[u64],
    created_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut query = QueryBuilder::<MySql>::new("INSERT INTO grades (id, carnet, nombre, curso, nota, semestre, year, route, created_at) ");
    query.push_values(inserted, |mut row, &index| {
        let request = &batch[index].request;
        let grade = &request.grade;
        row.push_bind(ids[index])
            .push_bind(grade.carnet.get())
            .push_bind(grade.nombre.as_str())
            .push_bind(grade.curso.as_str())
            .push_bind(grade.nota.get())
            .push_bind(grade.semestre.as_str())
            .push_bind(grade.year.get())
            .push_bind(request.route.as_str())
            .push_bind(created_at.naive_utc());
    });
    query.build().execute(&mut **tx).await.map(|_| ())
}

async fn insert_idempotency_keys(
    tx: &mut Transaction<'_, MySql>,
    batch: &[Pending],
    inserted: &[usize],
    ids: &[u64],
    created_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let keyed: Vec<usize> = inserted.iter().copied().filter(|&i| batch[i].request.idempotency_key.is_some()).collect();
    if keyed.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::<MySql>::new("INSERT INTO idempotency_keys (idem_key, grade_id, request_hash, created_at) ");
    query.push_values(&keyed, |mut row, &index| {
        let request = &batch[index].request;
        row.push_bind(request.idempotency_key.as_ref().map(|k| k.as_str()))
            .push_bind(ids[index])
            .push_bind(request.grade.fingerprint())
            .push_bind(created_at.naive_utc());
    });
    query.build().execute(&mut **tx).await.map(|_| ())
}

/// Year 0 and semester "*" are the rollup rows (see the migration).
const ALL_YEARS: u16 = 0;
const ALL_SEMESTERS: &str = "*";

#[derive(Default)]
struct CourseTermDelta {
    students: u32,
    passed: u32,
    failed: u32,
}

#[derive(Default)]
struct StudentDelta<'a> {
    nombre: &'a str,
    count: u32,
    sum: u64,
}

async fn update_summaries(tx: &mut Transaction<'_, MySql>, grades: &[&NewGrade]) -> Result<(), sqlx::Error> {
    // Enrollment tuples this batch touches, per term and per all-years rollup.
    let mut enrollments: HashSet<(&str, &str, u16, u64)> = HashSet::new();
    let mut course_terms: BTreeMap<(&str, &str, u16), CourseTermDelta> = BTreeMap::new();
    let mut students: BTreeMap<(&str, u16, u64), StudentDelta> = BTreeMap::new();
    for grade in grades {
        let (curso, semestre, year, carnet) = (grade.curso.as_str(), grade.semestre.as_str(), grade.year.get(), grade.carnet.get());
        for y in [year, ALL_YEARS] {
            enrollments.insert((curso, semestre, y, carnet));
            let delta = course_terms.entry((curso, semestre, y)).or_default();
            if grade.nota.passed() {
                delta.passed += 1;
            } else {
                delta.failed += 1;
            }
        }
        for (s, y) in [(semestre, year), (semestre, ALL_YEARS), (ALL_SEMESTERS, year), (ALL_SEMESTERS, ALL_YEARS)] {
            let delta = students.entry((s, y, carnet)).or_default();
            delta.nombre = grade.nombre.as_str();
            delta.count += 1;
            delta.sum += u64::from(grade.nota.get());
        }
    }

    let candidates: Vec<_> = enrollments.into_iter().collect();
    let mut existing: HashSet<(String, String, u16, u64)> = HashSet::new();
    for chunk in candidates.chunks(1000) {
        let mut query = QueryBuilder::<MySql>::new("SELECT curso, semestre, year, carnet FROM enrollments WHERE (curso, semestre, year, carnet) IN (");
        let mut list = query.separated(", ");
        for (curso, semestre, year, carnet) in chunk {
            list.push("(");
            list.push_bind_unseparated(*curso)
                .push_unseparated(", ")
                .push_bind_unseparated(*semestre)
                .push_unseparated(", ")
                .push_bind_unseparated(*year)
                .push_unseparated(", ")
                .push_bind_unseparated(*carnet)
                .push_unseparated(")");
        }
        query.push(")");
        let rows: Vec<(String, String, u16, u64)> = query.build_query_as().fetch_all(&mut **tx).await?;
        existing.extend(rows);
    }
    let new_enrollments: Vec<_> = candidates
        .into_iter()
        .filter(|(c, s, y, k)| !existing.contains(&((*c).to_owned(), (*s).to_owned(), *y, *k)))
        .collect();
    for (curso, semestre, year, _) in &new_enrollments {
        course_terms.entry((curso, semestre, *year)).or_default().students += 1;
    }
    for chunk in new_enrollments.chunks(1000) {
        let mut query = QueryBuilder::<MySql>::new("INSERT INTO enrollments (curso, semestre, year, carnet) ");
        query.push_values(chunk, |mut row, (curso, semestre, year, carnet)| {
            row.push_bind(*curso).push_bind(*semestre).push_bind(*year).push_bind(*carnet);
        });
        query.build().execute(&mut **tx).await?;
    }

    let mut query = QueryBuilder::<MySql>::new("INSERT INTO course_term_stats (curso, semestre, year, students, passed, failed) ");
    query.push_values(&course_terms, |mut row, ((curso, semestre, year), delta)| {
        row.push_bind(*curso).push_bind(*semestre).push_bind(*year).push_bind(delta.students).push_bind(delta.passed).push_bind(delta.failed);
    });
    query.push(
        " ON DUPLICATE KEY UPDATE students = students + VALUES(students), passed = passed + VALUES(passed), \
         failed = failed + VALUES(failed)",
    );
    query.build().execute(&mut **tx).await?;

    let rows: Vec<_> = students.into_iter().collect();
    for chunk in rows.chunks(1000) {
        let mut query = QueryBuilder::<MySql>::new("INSERT INTO student_stats (semestre, year, carnet, nombre, grade_count, grade_sum) ");
        query.push_values(chunk, |mut row, ((semestre, year, carnet), delta)| {
            row.push_bind(*semestre).push_bind(*year).push_bind(*carnet).push_bind(delta.nombre).push_bind(delta.count).push_bind(delta.sum);
        });
        query.push(
            " ON DUPLICATE KEY UPDATE nombre = VALUES(nombre), grade_count = grade_count + VALUES(grade_count), \
             grade_sum = grade_sum + VALUES(grade_sum)",
        );
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn update_route_stats(tx: &mut Transaction<'_, MySql>, routes: impl Iterator<Item = Route>) -> Result<(), sqlx::Error> {
    let mut counts: BTreeMap<Route, u64> = BTreeMap::new();
    for route in routes {
        *counts.entry(route).or_default() += 1;
    }
    let mut query = QueryBuilder::<MySql>::new("INSERT INTO route_stats (route, grades) ");
    query.push_values(&counts, |mut row, (route, count)| {
        row.push_bind(route.as_str()).push_bind(*count);
    });
    query.push(" ON DUPLICATE KEY UPDATE grades = grades + VALUES(grades)");
    query.build().execute(&mut **tx).await.map(|_| ())
}
