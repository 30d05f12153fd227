//! Idempotency keys are kept for the retention window and then deleted by the sweeper, off the
//! request path: expired keys go and fresh ones stay, a replay within the window answers the
//! original id (and one after expiry stores a new grade), and the sweeper stops at once on
//! shutdown, even with a DELETE waiting on a lock.

use std::time::Duration;

use grades_domain::{Catalog, Course, CourseCode, GradeParts, IdempotencyKey, NewGrade, Route};
use grades_kit::{Shutdown, Tasks};
use grades_storage::idempotency::{self, KeyRetention, RetentionMetrics};
use grades_storage::{GradeWriter, StorageMetrics, StoreOutcome, StoreRequest, WriterConfig};
use grades_testkit::{eventually, TestDatabase};
use sqlx::Connection;

/// A day's window, swept every few milliseconds in small batches (several per sweep).
fn quick_retention() -> KeyRetention {
    KeyRetention { window: Duration::from_secs(86_400), interval: Duration::from_millis(20), batch: 100, pause: Duration::from_millis(1) }
}

/// `count` keys stored `hours_ago` hours ago (a millisecond apart), named `prefix-n`.
async fn insert_keys(db: &TestDatabase, prefix: &str, count: u32, hours_ago: u32) {
    sqlx::query(
        "INSERT INTO idempotency_keys (idem_key, grade_id, request_hash, created_at) \
         SELECT CONCAT(?, '-', n), n, n, UTC_TIMESTAMP(3) - INTERVAL ? HOUR - INTERVAL n * 1000 MICROSECOND \
         FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS n FROM \
               (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 \
                UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a, \
               (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 \
                UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b, \
               (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 \
                UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c, \
               (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 \
                UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) e) seq WHERE n < ?",
    )
    .bind(prefix)
    .bind(hours_ago)
    .bind(count)
    .execute(db.pool())
    .await
    .unwrap();
}

async fn keys_like(db: &TestDatabase, prefix: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key LIKE CONCAT(?, '-%')")
        .bind(prefix)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

/// The sweeper of one process: its tasks, its metrics and its shutdown.
struct Sweeper {
    tasks: Tasks,
    metrics: RetentionMetrics,
    stop: Shutdown,
}

impl Sweeper {
    fn start(db: &TestDatabase, retention: KeyRetention) -> Self {
        let (tasks, metrics, stop) = (Tasks::new(), RetentionMetrics::default(), Shutdown::new());
        idempotency::spawn(&tasks, db.pool().clone(), metrics.clone(), retention, stop.wait());
        Self { tasks, metrics, stop }
    }

    /// Triggers the shutdown and asserts the sweeper ended within `deadline`, having failed nothing.
    async fn stop_within(self, deadline: Duration) {
        self.stop.trigger();
        let joined = tokio::time::timeout(deadline, self.tasks.join_all()).await;
        assert!(joined.is_ok(), "the sweeper did not stop within {deadline:?}");
        assert_eq!(self.tasks.failures(), Vec::<String>::new());
    }
}

#[tokio::test]
async fn expired_keys_are_deleted_and_fresh_ones_kept() {
    let db = TestDatabase::create().await;
    insert_keys(&db, "expired", 2_345, 25).await;
    insert_keys(&db, "fresh", 300, 23).await;
    insert_keys(&db, "new", 50, 0).await;

    let sweeper = Sweeper::start(&db, quick_retention());
    // The sweeper counts a batch after its DELETE commits: wait for the count too, not just the rows.
    let swept = eventually(Duration::from_secs(20), || async {
        (keys_like(&db, "expired").await == 0 && sweeper.metrics.expired.get() >= 2_345).then_some(())
    })
    .await;
    assert!(swept.is_some(), "expired keys are still there: {}", keys_like(&db, "expired").await);
    assert_eq!(sweeper.metrics.expired.get(), 2_345, "every deleted key is counted, once");
    assert_eq!((keys_like(&db, "fresh").await, keys_like(&db, "new").await), (300, 50), "keys inside the window are kept");
    assert_eq!(sweeper.metrics.failures.get(), 0);
    sweeper.stop_within(Duration::from_secs(1)).await;

    // A sweep with nothing expired deletes nothing.
    let deleted = idempotency::sweep(db.pool(), &quick_retention(), std::future::pending()).await.unwrap();
    assert_eq!(deleted, 0);
}

fn grade(nota: u64) -> NewGrade {
    let catalog = Catalog::new([Course { code: CourseCode::parse("SO1").unwrap(), name: "Sistemas Operativos 1".into() }]);
    let parts = GradeParts { carnet: 201_900_123, nombre: "Alumno 7", curso: "SO1", nota, semestre: "2S", year: 2023 };
    NewGrade::from_parts(&parts, &catalog).unwrap()
}

#[tokio::test]
async fn a_replay_within_the_window_answers_the_original_id_and_after_expiry_stores_a_new_grade() {
    let db = TestDatabase::create().await;
    let tasks = Tasks::new();
    let (writer, _committed) = GradeWriter::spawn(&tasks, db.pool().clone(), StorageMetrics::new(), WriterConfig::default());
    let request =
        StoreRequest { grade: grade(90), route: Route::Rest, idempotency_key: Some(IdempotencyKey::parse("teacher-7-so1").unwrap()) };
    let first = writer.store(request.clone()).await.unwrap();
    let StoreOutcome::Created(first_id) = first else { panic!("the first store creates: {first:?}") };

    // Within the window (a sweep ran meanwhile, and the key is almost a day old): a replay.
    let retention = quick_retention();
    sqlx::query("UPDATE idempotency_keys SET created_at = created_at - INTERVAL 23 HOUR").execute(db.pool()).await.unwrap();
    assert_eq!(idempotency::sweep(db.pool(), &retention, std::future::pending()).await.unwrap(), 0);
    assert_eq!(writer.store(request.clone()).await.unwrap(), StoreOutcome::Replayed(first_id));

    // Past the window and swept: the same key stores a new grade, which later retries replay.
    sqlx::query("UPDATE idempotency_keys SET created_at = created_at - INTERVAL 2 HOUR").execute(db.pool()).await.unwrap();
    assert_eq!(idempotency::sweep(db.pool(), &retention, std::future::pending()).await.unwrap(), 1);
    let again = writer.store(request.clone()).await.unwrap();
    let StoreOutcome::Created(second_id) = again else { panic!("an expired key stores a new grade: {again:?}") };
    assert!(second_id > first_id);
    assert_eq!(writer.store(request).await.unwrap(), StoreOutcome::Replayed(second_id));
    assert_eq!(db.count("SELECT COUNT(*) FROM grades").await, 2);

    drop(writer);
    tasks.join_all().await;
    assert_eq!(tasks.failures(), Vec::<String>::new());
}

#[tokio::test]
async fn the_sweeper_stops_within_its_deadline_on_shutdown() {
    let db = TestDatabase::create().await;
    // Idle between sweeps (the first one up to an hour away).
    let idle = Sweeper::start(&db, KeyRetention { interval: Duration::from_secs(3_600), ..quick_retention() });
    idle.stop_within(Duration::from_secs(1)).await;

    // In a sweep, its DELETE waiting on a row another transaction holds (up to
    // innodb_lock_wait_timeout, 50 s by default): the sweeper does not wait for it.
    insert_keys(&db, "expired", 500, 25).await;
    let mut holder = sqlx::MySqlConnection::connect(&db.url()).await.unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::query("SELECT idem_key FROM idempotency_keys FOR UPDATE").fetch_all(&mut *held).await.unwrap();
    let sweeper = Sweeper::start(&db, quick_retention());
    let waiting = eventually(Duration::from_secs(20), || async { (deletes_running(&db).await > 0).then_some(()) }).await;
    assert!(waiting.is_some(), "the sweeper's DELETE was never seen");
    sweeper.stop_within(Duration::from_secs(1)).await;
    held.rollback().await.unwrap();
    // The abandoned DELETE may still run once the rows are free (deleting is idempotent), but
    // nothing more: at most one batch went.
    let ended = eventually(Duration::from_secs(20), || async { (deletes_running(&db).await == 0).then_some(()) }).await;
    assert!(ended.is_some(), "the abandoned DELETE never ended");
    let left = keys_like(&db, "expired").await;
    assert!(left == 500 || left == 400, "{left} expired keys left");
}

/// The sweeper's DELETEs on this test's database, running or waiting.
async fn deletes_running(db: &TestDatabase) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'DELETE FROM idempotency_keys%'")
        .bind(db.name())
        .fetch_one(db.pool())
        .await
        .unwrap()
}
