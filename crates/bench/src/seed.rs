//! `grades-bench seed N`: N realistic grades loaded straight into MySQL, then folded into the
//! summary tables by the projector's own statements, so every summary is exactly what the routes
//! would have built; then the Redis live state is rebuilt from them.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use grades_live::LiveStore;
use grades_storage::live_sync;
use grades_storage::mysql::{self, PoolConfig};
use grades_storage::projector::{fold_students, fold_terms};
use sqlx::{Connection, MySqlPool};

#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Grades to add.
    count: u64,
    /// Add to a database that already holds grades (without it, a non-empty database is refused).
    #[arg(long)]
    append: bool,
    /// Distinct students (carnets 201000001 upwards, each always with the same name).
    #[arg(long, default_value_t = 200_000)]
    students: u64,
    #[arg(long, default_value_t = 2000)]
    year_min: u16,
    #[arg(long, default_value_t = 2025)]
    year_max: u16,
    /// MySQL (or MariaDB) URL including the database name; created and migrated if needed.
    #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306/grades")]
    mysql_url: String,
    /// Redis whose live state is rebuilt afterwards.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    #[arg(long, env = "REDIS_PREFIX", default_value = "grades:")]
    redis_prefix: String,
}

/// Grades per insert transaction, and per projector fold (large folds share each student's
/// rows across many grades).
const INSERT_CHUNK: u64 = 250_000;
const FOLD_CHUNK: u32 = 1_000_000;

/// Digits 0-9, cross-joined six times: a million row numbers without a helper table.
const DIGITS: &str = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
                       UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";

struct Progress {
    what: &'static str,
    total: u64,
    started: Instant,
    terminal: bool,
}

impl Progress {
    fn new(what: &'static str, total: u64) -> Self {
        Self { what, total, started: Instant::now(), terminal: std::io::stderr().is_terminal() }
    }

    fn show(&self, done: u64) {
        let seconds = self.started.elapsed().as_secs_f64();
        let line = format!("{:<28} {done:>12} / {:<12} {:>5.1} s", self.what, self.total, seconds);
        if self.terminal {
            eprint!("\r{line}");
            let _ = std::io::stderr().flush();
        } else if done == self.total {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

pub async fn seed(args: SeedArgs) -> Result<(), String> {
    if args.students == 0 || args.year_max < args.year_min {
        return Err("--students must be at least 1 and --year-max at least --year-min".into());
    }
    let overall = Instant::now();
    mysql::create_database_if_missing(&args.mysql_url).await.map_err(|e| format!("cannot reach MySQL: {e}"))?;
    let pool = mysql::lazy_pool(&args.mysql_url, &PoolConfig::default()).map_err(|e| format!("MYSQL_URL is not valid: {e}"))?;
    mysql::migrate(&pool).await.map_err(|e| e.to_string())?;
    let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM grades").fetch_one(&pool).await.map_err(|e| e.to_string())?;
    if existing > 0 && !args.append {
        return Err(format!("the database already holds {existing} grades; pass --append to add {} more to them", args.count));
    }

    let progress = Progress::new("grades inserted", args.count);
    let mut done = 0;
    while done < args.count {
        let chunk = INSERT_CHUNK.min(args.count - done);
        insert_chunk(&pool, chunk, &args).await.map_err(|e| format!("inserting grades: {e}"))?;
        done += chunk;
        progress.show(done);
    }
    progress.finish();

    let mut connection = pool.acquire().await.map_err(|e| e.to_string())?.detach();
    for (what, terms) in [("terms projection folded", true), ("students projection folded", false)] {
        let progress = Progress::new(what, args.count);
        let mut folded = 0;
        loop {
            let grades = if terms {
                fold_terms(&mut connection, FOLD_CHUNK).await.map_err(|e| format!("{what}: {e}"))?.map(|f| f.grades)
            } else {
                fold_students(&mut connection, FOLD_CHUNK).await.map_err(|e| format!("{what}: {e}"))?
            };
            let Some(grades) = grades else { break };
            folded += grades;
            progress.show(folded.min(args.count));
        }
        progress.finish();
    }
    let _ = connection.close().await;

    let live = LiveStore::new(&args.redis_url, args.redis_prefix.clone()).map_err(|e| format!("REDIS_URL is not valid: {e}"))?;
    let synced = live_sync::rebuild_now(&pool, &live).await.map_err(|e| format!("rebuilding the Redis live state: {e}"))?;
    eprintln!("live state rebuilt at grade {synced}; {} grades added in {:.1} s", args.count, overall.elapsed().as_secs_f64());
    Ok(())
}

/// `count` grades after the last id, ids taken from the sequence as the writer takes them.
async fn insert_chunk(pool: &MySqlPool, count: u64, args: &SeedArgs) -> Result<(), sqlx::Error> {
    let mut connection = pool.acquire().await?;
    let mut tx = connection.begin().await?;
    let (next,): (u64,) = sqlx::query_as("SELECT next_id FROM id_sequence WHERE name = 'grade_ids' FOR UPDATE").fetch_one(&mut *tx).await?;
    // RAND() per row, drawn once in the inner query so a carnet and its name agree.
    sqlx::query(&format!(
        "INSERT INTO grades (id, carnet, nombre, curso, nota, semestre, year, route, created_at) \
         SELECT ? + r.n, 201000001 + r.student, CONCAT('Alumno ', r.student + 1), ELT(1 + r.course, 'SO1', 'BD1', 'LFP', 'SA', 'AYD1'), \
                r.nota, IF(r.second, '2S', '1S'), ? + r.year, IF(r.grpc, 'grpc', 'rest'), UTC_TIMESTAMP(3) \
         FROM (SELECT seq.n, FLOOR(RAND() * ?) AS student, FLOOR(RAND() * 5) AS course, FLOOR(RAND() * 101) AS nota, \
                      RAND() < 0.5 AS second, FLOOR(RAND() * ?) AS year, RAND() < 0.5 AS grpc \
               FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * g.d AS n \
                     FROM {DIGITS} a, {DIGITS} b, {DIGITS} c, {DIGITS} e, {DIGITS} f, {DIGITS} g) seq \
               WHERE seq.n < ?) r"
    ))
    .bind(next)
    .bind(args.year_min)
    .bind(args.students)
    .bind(u64::from(args.year_max - args.year_min) + 1)
    .bind(count)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE id_sequence SET next_id = ? WHERE name = 'grade_ids'").bind(next + count).execute(&mut *tx).await?;
    tx.commit().await
}
