//! `grades-bench seed N`: N realistic grades with every summary table exactly as the routes and
//! the projector would have built it, and the Redis live state rebuilt from them.
//!
//! Into an empty database (the usual case) nothing is read back: the grades are generated in
//! chunks from a seed number ([`generate`]), counted in memory while generated, and every table
//! is written in primary-key order with multi-row INSERTs ([`bulk`]) on two connections at once:
//! one for `grades`, one for the summaries and the projector watermarks. Each connection loads
//! in one transaction with `unique_checks` and `foreign_key_checks` off, which lets InnoDB
//! (MariaDB 10.7+) treat an insert into an empty table as a bulk load: no undo record per row,
//! every index sorted and built page by page at the end instead of row by row through a small
//! buffer pool. The summaries commit only after the grades did, so the database is never left
//! with summaries of grades it lacks; if the summaries fail after the grades committed, the
//! watermarks are still 0 and the projector folds the grades itself.
//!
//! With `--append` into a database that already holds grades, the grades are inserted the same
//! way (in ordinary transactions of [`APPEND_CHUNK`]) and folded by the projector's own
//! statements, the only way to add to existing summaries exactly.

mod bulk;
mod generate;

use std::io::{IsTerminal, Write};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use grades_domain::PASSING_NOTA;
use grades_live::LiveStore;
use grades_storage::live_sync;
use grades_storage::mysql::{self, PoolConfig};
use grades_storage::projector::{fold_students, fold_terms};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{ConnectOptions, Connection, MySqlPool};
use tokio::sync::mpsc;

use self::bulk::{LoaderGone, Statement};
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
    /// MySQL (or MariaDB) URL including the database name; created and migrated if needed.
    #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306/grades")]
    mysql_url: String,
    /// Redis whose live state is rebuilt afterwards.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    #[arg(long, env = "REDIS_PREFIX", default_value = "grades:")]
    redis_prefix: String,
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
    mysql::create_database_if_missing(&args.mysql_url).await.map_err(|e| format!("cannot reach MySQL: {e}"))?;
    let pool = mysql::lazy_pool(&args.mysql_url, &PoolConfig::default()).map_err(|e| format!("MYSQL_URL is not valid: {e}"))?;
    mysql::migrate(&pool).await.map_err(|e| e.to_string())?;
    let (existing, summaries, next_id): (i64, i64, u64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM grades), \
                (SELECT COUNT(*) FROM enrollments) + (SELECT COUNT(*) FROM course_term_stats) + (SELECT COUNT(*) FROM student_stats) \
                + (SELECT COUNT(*) FROM route_stats) + (SELECT COUNT(*) FROM projection_state WHERE applied_id > 0), \
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
    let board = Board::start(args.count);
    let outcome = if existing == 0 && summaries == 0 && next_id == 1 {
        load_empty(&args.mysql_url, shape, &board).await
    } else {
        append(&pool, &args.mysql_url, shape, &board).await
    };
    board.stop();
    outcome?;

    let started = Instant::now();
    let live = LiveStore::new(&args.redis_url, args.redis_prefix.clone()).map_err(|e| format!("REDIS_URL is not valid: {e}"))?;
    let synced = live_sync::rebuild_now(&pool, &live).await.map_err(|e| format!("rebuilding the Redis live state: {e}"))?;
    board.note(&format!("Redis live state rebuilt at grade {synced}"), started);
    eprintln!("{} grades added in {:.1} s", args.count, overall.elapsed().as_secs_f64());
    Ok(())
}

/// The fast path: every table written once, nothing read back (see the module docs).
async fn load_empty(url: &str, shape: Shape, board: &Arc<Board>) -> Result<(), String> {
    let mut grades_connection = bulk_connection(url).await?;
    let mut summaries_connection = bulk_connection(url).await?;
    let (created_at,): (String,) = sqlx::query_as("SELECT CAST(UTC_TIMESTAMP(3) AS CHAR)")
        .fetch_one(&mut grades_connection)
        .await
        .map_err(|e| format!("reading the server's clock: {e}"))?;

    // Grades: generated on a thread of their own, loaded on their own connection.
    let grades = async {
        let (statements, received) = mpsc::channel(QUEUE);
        let created_at = format!("'{created_at}'");
        let generator = std::thread::spawn(move || bulk::grades(&shape, &created_at, &statements));
        let started = Instant::now();
        let loaded = bulk::load(&mut grades_connection, received, board.grades.clone()).await;
        let generated = join(generator).await;
        loaded.map_err(|e| format!("inserting grades: {e}"))?;
        generated.map_err(|_| "the grades generator stopped".to_owned())?;
        board.note("grades sent", started);
        let started = Instant::now();
        commit_bulk(&mut grades_connection).await.map_err(|e| format!("committing the grades: {e}"))?;
        board.note("grades committed (their indexes built)", started);
        Ok::<_, String>(())
    };

    // Summaries: counted in memory while generating the same grades again, then written, on the
    // other connection at the same time.
    let summaries = async {
        let started = Instant::now();
        let (statements, received) = mpsc::channel::<Statement>(QUEUE);
        let generator_board = board.clone();
        let generator = std::thread::spawn(move || {
            let started = Instant::now();
            let aggregates = Aggregates::count(shape, PASSING_NOTA);
            generator_board.summaries_total.store(bulk::summary_rows(&aggregates), Ordering::Relaxed);
            generator_board.note("grades counted into summaries (in memory)", started);
            bulk::terms(&aggregates, &statements)?;
            bulk::students(&aggregates, &statements)
        });
        let loaded = bulk::load(&mut summaries_connection, received, board.summaries.clone()).await;
        let generated = join(generator).await;
        loaded.map_err(|e| format!("inserting summaries: {e}"))?;
        generated.map_err(|_| "the summaries generator stopped".to_owned())?;
        board.note("summaries sent", started);
        let started = Instant::now();
        // The watermarks and the id sequence, in the summaries' transaction. This first
        // statement that is not an insert also makes InnoDB build the summaries' indexes.
        let last = shape.first_id + shape.count - 1;
        sqlx::raw_sql(&format!(
            "UPDATE projection_state SET applied_id = {last}, applied_at = '{created_at}', updated_at = UTC_TIMESTAMP(3); \
             UPDATE id_sequence SET next_id = {} WHERE name = 'grade_ids'",
            last + 1
        ))
        .execute(&mut summaries_connection)
        .await
        .map_err(|e| format!("setting the projector watermarks: {e}"))?;
        board.note("summaries' indexes built, watermarks set", started);
        Ok::<_, String>(())
    };
    let (grades, summaries) = tokio::join!(grades, summaries);
    match (grades, summaries) {
        (Ok(()), Ok(())) => {
            let started = Instant::now();
            commit_bulk(&mut summaries_connection).await.map_err(|e| {
                format!(
                    "committing the summaries: {e}. The grades are stored and the watermarks at 0: the services' projector will fold them"
                )
            })?;
            board.note("summaries committed", started);
            Ok(())
        }
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(format!("{e}. The grades are stored and the watermarks at 0: the services' projector will fold them")),
    }
}

/// Appending to a database that holds grades: insert, then fold with the projector.
async fn append(pool: &MySqlPool, url: &str, shape: Shape, board: &Arc<Board>) -> Result<(), String> {
    board.note("the database already holds grades or summaries: inserting, then folding with the projector", Instant::now());
    let started = Instant::now();
    let mut connection = loader_connection(url).await?;
    let mut done = 0;
    while done < shape.count {
        let part = APPEND_CHUNK.min(shape.count - done);
        append_part(&mut connection, shape, done / APPEND_CHUNK, part, board).await.map_err(|e| format!("inserting grades: {e}"))?;
        done += part;
    }
    let _ = connection.close().await;
    board.note("grades inserted", started);

    let mut connection = pool.acquire().await.map_err(|e| e.to_string())?.detach();
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
    let part_shape = Shape { first_id: next, count, seed: shape.seed ^ part.wrapping_mul(0xD1B5_4A32_D192_ED03), ..shape };
    let (statements, received) = mpsc::channel(QUEUE);
    let generator = std::thread::spawn(move || bulk::grades(&part_shape, "UTC_TIMESTAMP(3)", &statements));
    let loaded = bulk::load(&mut *tx, received, board.grades.clone()).await;
    let generated = join(generator).await;
    loaded.map_err(|e| e.to_string())?;
    generated.map_err(|_| "the grades generator stopped".to_owned())?;
    sqlx::query("UPDATE id_sequence SET next_id = ? WHERE name = 'grade_ids'")
        .bind(next + count)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

async fn join(generator: std::thread::JoinHandle<Result<(), LoaderGone>>) -> Result<(), LoaderGone> {
    tokio::task::spawn_blocking(move || generator.join().map_err(|_| LoaderGone).and_then(|r| r)).await.map_err(|_| LoaderGone)?
}

/// A connection for large statements: without sqlx's statement logging (a 4 MiB statement
/// would be formatted for nothing).
async fn loader_connection(url: &str) -> Result<MySqlConnection, String> {
    let options = MySqlConnectOptions::from_str(url).map_err(|e| format!("MYSQL_URL is not valid: {e}"))?;
    options.disable_statement_logging().connect().await.map_err(|e| format!("cannot connect to MySQL: {e}"))
}

/// A loader connection inside a transaction that InnoDB may bulk-load empty tables in (session
/// settings only: the server is shared).
async fn bulk_connection(url: &str) -> Result<MySqlConnection, String> {
    let mut connection = loader_connection(url).await?;
    sqlx::raw_sql("SET SESSION unique_checks = 0, foreign_key_checks = 0; START TRANSACTION")
        .execute(&mut connection)
        .await
        .map_err(|e| format!("starting the load: {e}"))?;
    Ok(connection)
}

/// Ends a [`bulk_connection`]'s transaction (its bulk-loaded indexes are built by then).
async fn commit_bulk(connection: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("COMMIT").execute(connection).await.map(|_| ())
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
            mysql_url: db.url(),
            redis_url: redis.url().to_owned(),
            redis_prefix: redis.prefix().to_owned(),
        }
    }

    async fn nothing_left_to_fold(db: &TestDatabase) {
        assert_eq!(summary_mismatches(db.pool()).await, Vec::<String>::new());
        assert!(all_folded(db.pool()).await, "a projection is behind the grades");
        let mut connection = db.pool().acquire().await.expect("connection").detach();
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

        let refused = seed(args(&db, &redis, 10, false)).await.expect_err("a non-empty database is refused");
        assert!(refused.contains("--append"), "{refused}");

        seed(args(&db, &redis, 5_000, true)).await.expect("seed with --append");
        nothing_left_to_fold(&db).await;
        assert_eq!(db.count("SELECT COUNT(*) FROM grades").await, 25_000);
        assert_eq!(db.count("SELECT CAST(next_id AS SIGNED) FROM id_sequence WHERE name = 'grade_ids'").await, 25_001);
        assert_eq!(live.totals().await.expect("live totals").0, 25_000);
    }
}
