use std::time::Duration;

use grades_kit::Tasks;
use grades_live::LiveStore;
use grades_storage::live_sync::LiveSync;
use grades_storage::metrics::ProjectionLabel;
use grades_storage::mysql::{lazy_pool, PoolConfig};
use grades_storage::projection::Projection;
use grades_storage::projector::{self, ProjectorConfig};
use grades_storage::StorageMetrics;
use grades_testkit::TestDatabase;
use sqlx::MySqlPool;
use tokio::sync::watch;

/// Digits 0-9 as a derived table, to generate rows in plain SQL (MySQL 8 limits recursive CTEs).
const DIGITS: &str = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
                       UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";

/// Commits `count` grades after the current last id, the way the writer does (ids from the
/// sequence row), with `students` distinct carnets: many grades quickly, without HTTP.
pub async fn insert_grades(pool: &MySqlPool, count: u64, students: u64) {
    assert!(count <= 100_000);
    let mut tx = pool.begin().await.unwrap();
    let (next,): (u64,) =
        sqlx::query_as("SELECT next_id FROM id_sequence WHERE name = 'grade_ids' FOR UPDATE").fetch_one(&mut *tx).await.unwrap();
    sqlx::query(&format!(
        "INSERT INTO grades (id, carnet, nombre, curso, nota, semestre, year, route, created_at) \
         SELECT ? + n, 1 + (n * 7919) % ?, CONCAT('Alumno ', 1 + (n * 7919) % ?), \
                ELT(1 + n % 5, 'SO1', 'BD1', 'LFP', 'SA', 'AYD1'), (n * 37) % 101, IF(n % 3 = 0, '1S', '2S'), 2019 + n % 5, \
                IF(n % 2 = 0, 'rest', 'grpc'), UTC_TIMESTAMP(3) \
         FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n \
               FROM {DIGITS} a, {DIGITS} b, {DIGITS} c, {DIGITS} e, {DIGITS} f) seq WHERE n < ?"
    ))
    .bind(next)
    .bind(students)
    .bind(students)
    .bind(count)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("UPDATE id_sequence SET next_id = ? WHERE name = 'grade_ids'").bind(next + count).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// A projector process: its own pool (to `mysql_url`), optionally with a Redis live state.
pub struct Projector {
    pub metrics: StorageMetrics,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    tasks: Tasks,
    _commits: watch::Sender<u64>,
}

impl Projector {
    pub fn start(mysql_url: &str, live: Option<LiveStore>, config: ProjectorConfig) -> Self {
        let pool = lazy_pool(mysql_url, &PoolConfig::default()).expect("pool");
        let metrics = StorageMetrics::new();
        let sync = live.map(|live| LiveSync::new(live, metrics.live_sync.clone()));
        let (commits, committed) = watch::channel(0);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let tasks = Tasks::new();
        projector::spawn(&tasks, pool, sync, committed, metrics.projector.clone(), config, async move {
            let _ = stopped.await;
        });
        Self { metrics, stop: Some(stop), tasks, _commits: commits }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), self.tasks.join_all()).await.expect("projector stops");
        assert_eq!(self.tasks.failures(), Vec::<String>::new(), "no projector task failed");
    }

    /// Folds rolled back, every projection's.
    pub fn failures(&self) -> u64 {
        Projection::ALL
            .into_iter()
            .map(|projection| self.metrics.projector.failures.get_or_create(&ProjectionLabel { projection: projection.name() }).get())
            .sum()
    }
}

/// Quick settings, so tests do not wait on production intervals.
pub fn quick() -> ProjectorConfig {
    ProjectorConfig {
        terms_interval: Duration::from_millis(10),
        students_interval: Duration::from_millis(20),
        idle_poll: Duration::from_millis(20),
        leader_retry: Duration::from_millis(100),
        reconcile_interval: Duration::from_millis(200),
        ..ProjectorConfig::default()
    }
}

pub async fn wait_folded(db: &TestDatabase, within: Duration) {
    let folded = grades_testkit::eventually(within, || async { grades_testkit::all_folded(db.pool()).await.then_some(()) }).await;
    assert!(folded.is_some(), "not every grade was folded within {within:?}");
}

pub async fn assert_summaries_exact(db: &TestDatabase) {
    let mismatches = grades_testkit::summary_mismatches(db.pool()).await;
    assert!(mismatches.is_empty(), "summaries differ from the GROUP BYs over grades:\n{mismatches:#?}");
}
