use std::str::FromStr;
use std::time::Duration;

use grades_domain::{Catalog, Course, CourseCode};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::ConnectOptions;

/// Migrations embedded from the workspace `migrations/` folder.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub max_connections: u32,
    /// How long a request may wait for a connection before it is answered 503.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: Duration::from_secs(3) }
    }
}

/// Prepared statements kept per connection: one per multi-row INSERT shape the writer uses
/// (grades and idempotency keys, 1..=512 rows each), plus the fixed queries.
const STATEMENT_CACHE: usize = 1100;

/// Builds a pool without connecting: services start (and report not-ready) while MySQL is down.
pub fn lazy_pool(url: &str, config: &PoolConfig) -> Result<MySqlPool, sqlx::Error> {
    let options = MySqlConnectOptions::from_str(url)?
        // Every batch size the writer sends is its own prepared statement; keep them all.
        .statement_cache_capacity(STATEMENT_CACHE)
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    Ok(MySqlPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(true)
        .connect_lazy_with(options))
}

/// Creates the database named in the URL when it does not exist yet (first run, `just dev`).
pub async fn create_database_if_missing(url: &str) -> Result<(), sqlx::Error> {
    use sqlx::migrate::MigrateDatabase;
    if !sqlx::MySql::database_exists(url).await? {
        sqlx::MySql::create_database(url).await?;
        tracing::info!("created the database");
    }
    Ok(())
}

pub async fn migrate(pool: &MySqlPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

pub async fn ping(pool: &MySqlPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

pub async fn load_catalog(pool: &MySqlPool) -> Result<Catalog, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT code, name FROM courses ORDER BY code").fetch_all(pool).await?;
    Ok(Catalog::new(rows.into_iter().filter_map(|(code, name)| {
        // The column only ever holds codes the application wrote, so parse cannot fail in practice.
        CourseCode::parse(&code).ok().map(|code| Course { code, name })
    })))
}

/// True when the error means "MySQL cannot be reached right now" (the client should retry later),
/// as opposed to a bug or a bad statement.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => matches!(
            mysql_code(db.as_ref()),
            // too many connections, shutdown in progress, server gone/lost, read-only, killed
            Some(1040 | 1053 | 2006 | 2013 | 1290 | 1836 | 1927 | 4031)
        ),
        _ => false,
    }
}

/// Deadlocks and lock wait timeouts: the transaction did nothing and can be run again.
pub fn is_retryable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => matches!(mysql_code(db.as_ref()), Some(1205 | 1213)),
        _ => false,
    }
}

/// The MySQL error number of a database error.
pub fn mysql_code(db: &dyn sqlx::error::DatabaseError) -> Option<u16> {
    db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|e| e.number())
}
