//! `grades-bench seed N`: N realistic grades with every summary table exactly as the routes and
//! the projector would have built it, and the Redis live state rebuilt from them.
//!
//! Into an empty database (the usual case) nothing is read back: the grades are generated in
//! chunks from a seed number ([`generate`]), counted in memory while generated, and every table
//! is written once, in primary-key order, with multi-row INSERTs ([`bulk`]) on three connections
//! at once: `grades`; `enrollments`, `course_term_stats` and `route_stats`; `student_stats`. Each
//! loads in one transaction with `unique_checks` and `foreign_key_checks` off (session settings:
//! the server is shared), which spares InnoDB the checks and, on MariaDB 10.7+, the undo record
//! of each row inserted into an empty table. `student_stats`' secondary index, in another order
//! than its rows, is dropped for the load and added back (one sort). The projector watermarks
//! and `id_sequence` move last, in one transaction, once every table is loaded; a load that
//! fails empties the tables again. No service may use the database meanwhile (its projector
//! would fold the grades a second time).
//!
//! A share of the grades of the last idempotency-key retention window carries a key
//! (`idempotency_keys`, loaded on a fourth connection): the keys the services would still hold,
//! their sweeper having deleted older ones ([`KeyPlan`]).
//!
//! With `--append` into a database that already holds grades, the grades are inserted the same
//! way (in ordinary transactions of [`APPEND_CHUNK`] grades) and folded by the projector's own
//! statements, the only way to add to existing summaries exactly.

mod bulk;
mod generate;

use std::io::{IsTerminal, Write};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grades_domain::PASSING_NOTA;
use grades_live::RedisArgs;
use grades_storage::idempotency::KeyRetentionArgs;
use grades_storage::live_sync;
use grades_storage::mysql::{self, MysqlArgs};
use grades_storage::projector::{fold_students, fold_terms, FoldConnection};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::types::chrono::NaiveDateTime;
use sqlx::{ConnectOptions, Connection, MySqlPool};
use tokio::sync::mpsc;

use self::bulk::{KeyShape, LoaderGone, Statement};
use self::generate::{Aggregates, Shape};

#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Grades to add.
    count: u64,
    /// Add to a database that already holds grades (without it, a non-empty database is refused).
    #[arg(long)]
    append: bool,
    /// Distinct students (carnets 201000001 upwards, each always with the same name).
    #[arg(long, default_value_t = 200_000)]
    students: u32,
    #[arg(long, default_value_t = 2000)]
    year_min: u16,
    #[arg(long, default_value_t = 2025)]
    year_max: u16,
    /// Seed of the random grades: the same seed and sizes give the same grades.
    #[arg(long, default_value_t = 1)]
    random_seed: u64,
    /// Grades per second stored during the last retention window, the traffic whose keys the
    /// services still hold: 500, the rate `just scale` ingests at (the grades of that window are
    /// the newest `rate x window` of the seed, at most all of them).
    #[arg(long, default_value_t = 500.0)]
    key_rate: f64,
    /// Share of those grades that carries an Idempotency-Key: 0.1, as Locust, grades-bench and
    /// wrk send one with 10 % of their requests.
    #[arg(long, default_value_t = 0.1)]
    key_share: f64,
    /// The window the services keep keys for (the same setting as theirs).
    #[command(flatten)]
    retention: KeyRetentionArgs,
    /// The MySQL database (created and migrated if needed), as the services read it.
    #[command(flatten)]
    mysql: MysqlArgs,
    /// The Redis whose live state is rebuilt afterwards, as the services read it.
    #[command(flatten)]
    redis: RedisArgs,
}

/// Grades per transaction when appending (ordinary inserts: undo grows with the transaction).
const APPEND_CHUNK: u64 = 250_000;
/// Grades per projector fold when appending (large folds share each student's rows).
const FOLD_CHUNK: u32 = 1_000_000;
/// Statements queued between a generator thread and its loader.
const QUEUE: usize = 3;

pub async fn seed(args: SeedArgs) -> Result<(), String> {
    if args.students == 0 || args.year_max < args.year_min {
        return Err("--students must be at least 1 and --year-max at least --year-min".into());
    }
    if !(args.key_rate >= 0.0 && args.key_rate.is_finite() && (0.0..=1.0).contains(&args.key_share)) {
        return Err("--key-rate must be a rate of at least 0 and --key-share between 0 and 1".into());
    }
    let years = args.year_max - args.year_min + 1;
    // Per student, semester and year: a grade count and sum in memory (12 bytes).
    let cells = u64::from(args.students) * 2 * u64::from(years);
    if cells > 400_000_000 {
        return Err(format!(
            "--students {} over {years} years needs {} GiB for the summaries; use fewer students or years",
            args.students,
            (cells * 12) >> 30
        ));
    }
    let overall = Instant::now();
    mysql::create_database_if_missing(&args.mysql.mysql_url).await.map_err(|e| format!("cannot reach MySQL: {e}"))?;
    let pool = args.mysql.pool()?;
    mysql::migrate(&pool).await.map_err(|e| e.to_string())?;
    let (existing, summaries, next_id): (i64, i64, u64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM grades), \
                (SELECT COUNT(*) FROM enrollments) + (SELECT COUNT(*) FROM course_term_stats) + (SELECT COUNT(*) FROM student_stats) \
                + (SELECT COUNT(*) FROM route_stats) + (SELECT COUNT(*) FROM projection_state WHERE applied_id > 0) \
                + (SELECT COUNT(*) FROM idempotency_keys), \
                (SELECT next_id FROM id_sequence WHERE name = 'grade_ids')",
    )
    .fetch_one(&pool)
    .await
    .map_err(|e| format!("reading what the database holds: {e}"))?;
    if existing > 0 && !args.append {
        return Err(format!("the database already holds {existing} grades; pass --append to add {} more to them", args.count));
    }
    let shape =
        Shape { first_id: next_id, count: args.count, students: args.students, year_min: args.year_min, years, seed: args.random_seed };
    let keys = KeyPlan { rate: args.key_rate, share: args.key_share, window: args.retention.config().window };
    let board = Board::start(args.count);
    let outcome = if existing == 0 && summaries == 0 && next_id == 1 {
        load_empty(&args.mysql.mysql_url, shape, keys, &board).await
    } else {
        append(&pool, &args.mysql.mysql_url, shape, keys, &board).await
    };
    board.stop();
    outcome?;

    let started = Instant::now();
    let live = args.redis.store()?;
    let synced = live_sync::rebuild_now(&pool, &live).await.map_err(|e| format!("rebuilding the Redis live state: {e}"))?;
    board.note(&format!("Redis live state rebuilt at grade {synced}"), started);
    eprintln!("{} grades added in {:.1} s", args.count, overall.elapsed().as_secs_f64());
    Ok(())
}

/// Which seeded grades carry an idempotency key. The services keep a key for their retention
/// window and then delete it, so a database that has served traffic holds the keys of that
/// window's keyed grades and none older: the seed writes keys only for the grades of the last
/// window (`rate x window` grades, the newest of the load), to a `share` of them, with
/// `created_at` spread evenly over the window in id order. Its grades all carry the load's
/// time; only the keys are spread.
#[derive(Debug, Clone, Copy)]
struct KeyPlan {
    /// Grades per second stored during the window.
    rate: f64,
    /// Share of them that carries a key.
    share: f64,
    /// The retention window.
    window: Duration,
}

impl KeyPlan {
    /// The keys of `shape`'s grades, the window ending at `now`.
    fn shape(&self, shape: &Shape, now: NaiveDateTime) -> KeyShape {
        let grades = ((self.rate * self.window.as_secs_f64()) as u64).min(shape.count);
        let window = self.window;
        KeyShape {
            first_id: shape.first_id + shape.count - grades,
            grades,
            share: self.share,
            from: now - window,
            window,
            seed: shape.seed,
        }
    }
}

/// Loads the keys of `keys` on `connection` in one transaction, and says how many and why.
async fn load_keys(connection: &mut MySqlConnection, keys: KeyShape, board: &Board) -> Result<(), String> {
    let loaded = Arc::new(AtomicU64::new(0));
    load_table(connection, "idempotency_keys", loaded.clone(), board, move |out| bulk::keys(&keys, out)).await?;
    eprintln!(
        "{} idempotency keys: {:.0} % of the {} grades of the last {} h, stored {} .. {}",
        loaded.load(Ordering::Relaxed),
        keys.share * 100.0,
        keys.grades,
        keys.window.as_secs() / 3_600,
        keys.from.format("%Y-%m-%d %H:%M"),
        (keys.from + keys.window).format("%Y-%m-%d %H:%M"),
    );
    Ok(())
}

/// The fast path: every table written once, nothing read back (see the module docs).
async fn load_empty(url: &str, shape: Shape, keys: KeyPlan, board: &Arc<Board>) -> Result<(), String> {
    // student_stats' secondary index is in another order than its rows (by average): built row by
    // row it is a random write per row into an index far larger than the buffer pool at 10 M
    // grades. Dropped for the load, then added back with its own definition: one sort.
    let deferred = secondary_indexes(&mut loader_connection(url).await?, "student_stats").await?;
    let Err(failure) = load_tables(url, shape, keys, board, &deferred).await else { return Ok(()) };
    // Back to the empty database it was: half-loaded summaries must never meet a projector.
    match empty_tables(url, &deferred).await {
        Ok(()) => Err(format!("{failure}; the tables were emptied again")),
        Err(e) => Err(format!("{failure}; emptying the tables afterwards failed too ({e}): drop the database")),
    }
}

async fn load_tables(url: &str, shape: Shape, keys: KeyPlan, board: &Arc<Board>, deferred: &[(String, String)]) -> Result<(), String> {
    let mut grades_connection = loader_connection(url).await?;
    let (created_at,): (NaiveDateTime,) = sqlx::query_as("SELECT UTC_TIMESTAMP(3)")
        .fetch_one(&mut grades_connection)
        .await
        .map_err(|e| format!("reading the server's clock: {e}"))?;
    let mut terms_connection = loader_connection(url).await?;
    let mut students_connection = loader_connection(url).await?;
    for (name, _) in deferred {
        execute(&mut students_connection, &format!("ALTER TABLE student_stats DROP INDEX `{name}`"), "dropping an index for the load")
            .await?;
    }

    let mut keys_connection = loader_connection(url).await?;
    let grades = async {
        let grades = load_table(&mut grades_connection, "grades", board.grades.clone(), board, move |out| {
            bulk::grades(&shape, &datetime_literal(created_at), out)
        });
        let (grades, keys) = tokio::join!(grades, load_keys(&mut keys_connection, keys.shape(&shape, created_at), board));
        grades.and(keys)
    };
    let summaries = async {
        let counting = board.clone();
        let aggregates = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let aggregates = Aggregates::count(shape, PASSING_NOTA);
            counting.summaries_total.store(bulk::summary_rows(&aggregates), Ordering::Relaxed);
            counting.note("grades counted into summaries (in memory)", started);
            aggregates
        })
        .await
        .map_err(|e| format!("counting the summaries: {e}"))?;
        let aggregates = Arc::new(aggregates);
        let for_terms = aggregates.clone();
        let terms =
            load_table(&mut terms_connection, "enrollments, course_term_stats, route_stats", board.summaries.clone(), board, move |out| {
                bulk::terms(&for_terms, out)
            });
        let students = load_table(&mut students_connection, "student_stats", board.summaries.clone(), board, move |out| {
            bulk::students(&aggregates, out)
        });
        let (terms, students) = tokio::join!(terms, students);
        terms.and(students)
    };
    let (grades, summaries) = tokio::join!(grades, summaries);
    grades.and(summaries)?;

    let started = Instant::now();
    for (_, definition) in deferred {
        execute(&mut students_connection, &format!("ALTER TABLE student_stats ADD {definition}"), "adding back an index").await?;
    }
    if !deferred.is_empty() {
        board.note("student_stats index added back", started);
    }
    // Last, the watermarks and the id sequence: until they move, the summaries are not in use.
    move_watermarks(&mut grades_connection, shape.first_id + shape.count - 1, created_at)
        .await
        .map_err(|e| format!("setting the projector watermarks: {e}"))
}

/// Every projection folded up to `last` (stored at `created_at`), and ids handed out after it.
async fn move_watermarks(connection: &mut MySqlConnection, last: u64, created_at: NaiveDateTime) -> Result<(), sqlx::Error> {
    let mut tx = connection.begin().await?;
    sqlx::query("UPDATE projection_state SET applied_id = ?, applied_at = ?, updated_at = UTC_TIMESTAMP(3)")
        .bind(last)
        .bind(created_at)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE id_sequence SET next_id = ? WHERE name = 'grade_ids'").bind(last + 1).execute(&mut *tx).await?;
    tx.commit().await
}

/// Loads one table family on `connection` in one transaction: statements built by `generate`
/// on a blocking thread, rows counted into `loaded`.
async fn load_table(
    connection: &mut MySqlConnection,
    what: &'static str,
    loaded: Arc<AtomicU64>,
    board: &Board,
    generate: impl FnOnce(&mpsc::Sender<Statement>) -> Result<(), LoaderGone> + Send + 'static,
) -> Result<(), String> {
    let started = Instant::now();
    // Session settings only (the server is shared). With both checks off, InnoDB (MariaDB 10.7+)
    // loads an empty table in bulk: no undo record per row.
    execute(connection, "SET SESSION unique_checks = 0, foreign_key_checks = 0; START TRANSACTION", "starting the load").await?;
    let (statements, received) = mpsc::channel(QUEUE);
    let generator = tokio::task::spawn_blocking(move || generate(&statements));
    let sent = bulk::load(connection, received, loaded).await;
    let generated = generator.await;
    sent.map_err(|e| format!("inserting into {what}: {e}"))?;
    match generated {
        Ok(Ok(())) => {}
        _ => return Err(format!("the generator of {what} stopped")),
    }
    execute(connection, "COMMIT", "committing").await.map_err(|e| format!("{what}: {e}"))?;
    board.note(&format!("{what} loaded"), started);
    Ok(())
}

/// The non-unique secondary indexes of `table`: name and definition as SHOW CREATE TABLE
/// gives it (`KEY `name` (...)`).
async fn secondary_indexes(connection: &mut MySqlConnection, table: &str) -> Result<Vec<(String, String)>, String> {
    let (_, create): (String, String) = sqlx::query_as(&format!("SHOW CREATE TABLE `{table}`"))
        .fetch_one(&mut *connection)
        .await
        .map_err(|e| format!("reading the definition of {table}: {e}"))?;
    Ok(create
        .lines()
        .map(|line| line.trim().trim_end_matches(','))
        .filter(|line| line.starts_with("KEY `"))
        .filter_map(|line| Some((line.split('`').nth(1)?.to_owned(), line.to_owned())))
        .collect())
}

/// Every table the load writes emptied, and student_stats' `deferred` indexes back (after a
/// failed load).
async fn empty_tables(url: &str, deferred: &[(String, String)]) -> Result<(), String> {
    let mut connection = loader_connection(url).await?;
    for table in ["grades", "idempotency_keys", "enrollments", "course_term_stats", "route_stats", "student_stats"] {
        execute(&mut connection, &format!("TRUNCATE TABLE {table}"), "emptying a table").await?;
    }
    let present = secondary_indexes(&mut connection, "student_stats").await?;
    for (name, definition) in deferred {
        if !present.iter().any(|(present, _)| present == name) {
            execute(&mut connection, &format!("ALTER TABLE student_stats ADD {definition}"), "adding back an index").await?;
        }
    }
    Ok(())
}

async fn execute(connection: &mut MySqlConnection, sql: &str, what: &str) -> Result<(), String> {
    sqlx::raw_sql(sql).execute(connection).await.map(|_| ()).map_err(|e| format!("{what}: {e}"))
}

/// Appending to a database that holds grades: insert, then fold with the projector.
async fn append(pool: &MySqlPool, url: &str, shape: Shape, keys: KeyPlan, board: &Arc<Board>) -> Result<(), String> {
    board.note("the database already holds grades or summaries: inserting, then folding with the projector", Instant::now());
    let started = Instant::now();
    let mut connection = loader_connection(url).await?;
    let mut done = 0;
    while done < shape.count {
        let part = APPEND_CHUNK.min(shape.count - done);
        append_part(&mut connection, shape, done / APPEND_CHUNK, part, board).await.map_err(|e| format!("inserting grades: {e}"))?;
        done += part;
    }
    board.note("grades inserted", started);
    // The appended grades are the newest: the window's keys are theirs (their ids follow `next`).
    let (now,): (NaiveDateTime,) = sqlx::query_as("SELECT UTC_TIMESTAMP(3)").fetch_one(&mut connection).await.map_err(|e| e.to_string())?;
    let (next,): (u64,) = sqlx::query_as("SELECT next_id FROM id_sequence WHERE name = 'grade_ids'")
        .fetch_one(&mut connection)
        .await
        .map_err(|e| e.to_string())?;
    load_keys(&mut connection, keys.shape(&Shape { first_id: next - shape.count, ..shape }, now), board).await?;
    let _ = connection.close().await;

    let connection = pool.acquire().await.map_err(|e| e.to_string())?.detach();
    let mut connection = FoldConnection::new(connection).await.map_err(|e| e.to_string())?;
    for (what, terms) in [("terms projection folded", true), ("students projection folded", false)] {
        let started = Instant::now();
        loop {
            let grades = if terms {
                fold_terms(&mut connection, FOLD_CHUNK).await.map_err(|e| format!("{what}: {e}"))?.map(|f| f.grades)
            } else {
                fold_students(&mut connection, FOLD_CHUNK).await.map_err(|e| format!("{what}: {e}"))?
            };
            let Some(grades) = grades else { break };
            board.summaries.fetch_add(grades, Ordering::Relaxed);
        }
        board.note(what, started);
    }
    let _ = connection.close().await;
    Ok(())
}

/// `count` grades after the last id, ids taken from the sequence under its lock as the writer
/// takes them.
async fn append_part(connection: &mut MySqlConnection, shape: Shape, part: u64, count: u64, board: &Arc<Board>) -> Result<(), String> {
    let mut tx = connection.begin().await.map_err(|e| e.to_string())?;
    let (next,): (u64,) = sqlx::query_as("SELECT next_id FROM id_sequence WHERE name = 'grade_ids' FOR UPDATE")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    let (created_at,): (NaiveDateTime,) = sqlx::query_as("SELECT UTC_TIMESTAMP(3)").fetch_one(&mut *tx).await.map_err(|e| e.to_string())?;
    let part_shape = Shape { first_id: next, count, seed: shape.seed ^ part.wrapping_mul(0xD1B5_4A32_D192_ED03), ..shape };
    let (statements, received) = mpsc::channel(QUEUE);
    let generator = tokio::task::spawn_blocking(move || bulk::grades(&part_shape, &datetime_literal(created_at), &statements));
    let loaded = bulk::load(&mut tx, received, board.grades.clone()).await;
    let generated = generator.await;
    loaded.map_err(|e| e.to_string())?;
    if !matches!(generated, Ok(Ok(()))) {
        return Err("the grades generator stopped".to_owned());
    }
    sqlx::query("UPDATE id_sequence SET next_id = ? WHERE name = 'grade_ids'")
        .bind(next + count)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// `at` as a quoted SQL DATETIME(3) literal.
fn datetime_literal(at: NaiveDateTime) -> String {
    at.format("'%Y-%m-%d %H:%M:%S%.3f'").to_string()
}

/// A connection for large statements: without sqlx's statement logging (a 4 MiB statement
/// would be formatted for nothing).
async fn loader_connection(url: &str) -> Result<MySqlConnection, String> {
    let options = MySqlConnectOptions::from_str(url).map_err(|e| format!("MYSQL_URL is not valid: {e}"))?;
    options.disable_statement_logging().connect().await.map_err(|e| format!("cannot connect to MySQL: {e}"))
}

/// Progress on a terminal (one line redrawn), and a line per finished phase with its time.
struct Board {
    grades_total: u64,
    grades: Arc<AtomicU64>,
    summaries: Arc<AtomicU64>,
    summaries_total: AtomicU64,
    started: Instant,
    terminal: bool,
    stopped: AtomicBool,
}

impl Board {
    fn start(grades_total: u64) -> Arc<Self> {
        let board = Arc::new(Self {
            grades_total,
            grades: Arc::default(),
            summaries: Arc::default(),
            summaries_total: AtomicU64::new(0),
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            stopped: AtomicBool::new(false),
        });
        if board.terminal {
            let ticking = board.clone();
            tokio::spawn(async move {
                while !ticking.stopped.load(Ordering::Relaxed) {
                    eprint!("\r\x1b[K{}", ticking.line());
                    let _ = std::io::stderr().flush();
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            });
        }
        board
    }

    fn line(&self) -> String {
        let summaries_total = self.summaries_total.load(Ordering::Relaxed);
        let summaries = if summaries_total == 0 {
            format!("summaries {}", self.summaries.load(Ordering::Relaxed))
        } else {
            format!("summary rows {} / {summaries_total}", self.summaries.load(Ordering::Relaxed))
        };
        format!(
            "grades {} / {}   {summaries}   {:.1} s",
            self.grades.load(Ordering::Relaxed),
            self.grades_total,
            self.started.elapsed().as_secs_f64()
        )
    }

    /// A finished phase and how long it took.
    fn note(&self, what: &str, started: Instant) {
        let clear = if self.terminal { "\r\x1b[K" } else { "" };
        eprintln!("{clear}{what}: {:.1} s (at {:.1} s)", started.elapsed().as_secs_f64(), self.started.elapsed().as_secs_f64());
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        if self.terminal {
            eprint!("\r\x1b[K");
        }
    }
}

#[cfg(test)]
mod tests {
    use grades_live::LiveStore;
    use grades_storage::mysql::PoolConfig;
    use grades_testkit::{all_folded, summary_mismatches, TestDatabase, TestRedis};

    use super::*;

    fn args(db: &TestDatabase, redis: &TestRedis, count: u64, append: bool) -> SeedArgs {
        SeedArgs {
            count,
            append,
            // A small pool over few years: students repeat within terms and rollups.
            students: 3_000,
            year_min: 2021,
            year_max: 2023,
            random_seed: 5,
            // 8,640 grades in the day's window (of the 20,000 first seeded), half of them keyed.
            key_rate: 0.1,
            key_share: 0.5,
            retention: KeyRetentionArgs { idempotency_key_retention_hours: 24 },
            mysql: MysqlArgs { mysql_url: db.url(), mysql_max_connections: PoolConfig::DEFAULT_MAX_CONNECTIONS },
            redis: RedisArgs { redis_url: redis.url().to_owned(), redis_prefix: redis.prefix().to_owned() },
        }
    }

    #[test]
    fn seed_reads_mysql_and_redis_as_the_services_do() {
        let args: SeedArgs =
            grades_testkit::flags(&["10", "--mysql-url=mysql://u@db/g", "--redis-url=redis://cache:6379", "--redis-prefix=p:"]);
        assert_eq!((args.count, args.mysql.mysql_url.as_str()), (10, "mysql://u@db/g"));
        assert_eq!((args.redis.redis_url.as_str(), args.redis.redis_prefix.as_str()), ("redis://cache:6379", "p:"));
        assert_eq!(args.mysql.mysql_max_connections, PoolConfig::DEFAULT_MAX_CONNECTIONS);
    }

    async fn nothing_left_to_fold(db: &TestDatabase) {
        assert_eq!(summary_mismatches(db.pool()).await, Vec::<String>::new());
        assert!(all_folded(db.pool()).await, "a projection is behind the grades");
        let mut connection = FoldConnection::new(db.pool().acquire().await.expect("connection").detach()).await.expect("fold connection");
        assert!(fold_terms(&mut connection, 1000).await.expect("terms fold").is_none());
        assert!(fold_students(&mut connection, 1000).await.expect("students fold").is_none());
    }

    #[tokio::test]
    async fn a_seed_is_what_the_routes_and_the_projector_would_have_built() {
        let db = TestDatabase::create().await;
        let redis = TestRedis::new().await;
        seed(args(&db, &redis, 20_000, false)).await.expect("seed into an empty database");
        nothing_left_to_fold(&db).await;
        assert_eq!(db.count("SELECT CAST(next_id AS SIGNED) FROM id_sequence WHERE name = 'grade_ids'").await, 20_001);
        assert_eq!(db.count("SELECT COUNT(DISTINCT carnet) - COUNT(DISTINCT carnet, nombre) FROM grades").await, 0, "one name per student");
        let live = LiveStore::new(redis.url(), redis.prefix()).expect("live store");
        let (total, routes) = live.totals().await.expect("live totals");
        assert_eq!((total, routes.grpc + routes.rest), (20_000, 20_000));
        let students = db
            .count("SELECT CAST(students AS SIGNED) FROM course_term_stats WHERE curso = 'SO1' AND semestre = '2S' AND year = 2022")
            .await;
        assert_eq!(live.students("SO1", "2S", 2022).await.expect("live students"), students as u64);

        keys_are_the_windows(&db, 11_361..=20_000).await;

        let refused = seed(args(&db, &redis, 10, false)).await.expect_err("a non-empty database is refused");
        assert!(refused.contains("--append"), "{refused}");

        seed(args(&db, &redis, 5_000, true)).await.expect("seed with --append");
        nothing_left_to_fold(&db).await;
        assert_eq!(db.count("SELECT COUNT(*) FROM grades").await, 25_000);
        assert_eq!(db.count("SELECT CAST(next_id AS SIGNED) FROM id_sequence WHERE name = 'grade_ids'").await, 25_001);
        assert_eq!(live.totals().await.expect("live totals").0, 25_000);
        // The appended grades are the newest: all 5,000 are in the window.
        keys_are_the_windows(&db, 20_001..=25_000).await;
    }

    /// The keys of the grades in `ids`: about half of them keyed, each grade once, stored
    /// within the last day in id order.
    async fn keys_are_the_windows(db: &TestDatabase, ids: std::ops::RangeInclusive<u64>) {
        let (first, last) = (*ids.start() as i64, *ids.end() as i64);
        let window = format!("FROM idempotency_keys WHERE grade_id BETWEEN {first} AND {last}");
        let keys = db.count(&format!("SELECT COUNT(*) {window}")).await;
        let grades = last - first + 1;
        assert!((grades * 45 / 100..=grades * 55 / 100).contains(&keys), "{keys} keys for {grades} grades");
        assert_eq!(db.count(&format!("SELECT COUNT(DISTINCT grade_id) {window}")).await, keys, "one key per keyed grade");
        assert_eq!(db.count("SELECT COUNT(*) FROM idempotency_keys WHERE grade_id < 11361 OR grade_id > 25000").await, 0);
        let outside = format!(
            "SELECT COUNT(*) {window} AND (created_at < UTC_TIMESTAMP(3) - INTERVAL 1441 MINUTE OR created_at > UTC_TIMESTAMP(3) \
             OR LENGTH(idem_key) <> 36)"
        );
        assert_eq!(db.count(&outside).await, 0, "keys are UUID-like and stored within the last day");
        let spread = db.count(&format!("SELECT TIMESTAMPDIFF(HOUR, MIN(created_at), MAX(created_at)) {window}")).await;
        assert!(spread >= 23, "keys spread over the window: {spread} h");
        let out_of_order = format!(
            "SELECT COUNT(*) FROM (SELECT created_at, LAG(created_at) OVER (ORDER BY grade_id) AS previous {window}) k \
             WHERE created_at < previous"
        );
        assert_eq!(db.count(&out_of_order).await, 0, "created_at rises with the grade id");
    }
}
