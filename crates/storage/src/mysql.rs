//! The MySQL side every service shares: the pool, migrations, error classification, the catalog.

use std::str::FromStr;
use std::time::Duration;

use grades_domain::{Catalog, Course, CourseCode};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::ConnectOptions;

/// Migrations embedded from the workspace `migrations/` folder.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// How a service's MySQL pool is sized and how long a request waits on it.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a request may wait for a connection before it is answered 503.
    pub acquire_timeout: Duration,
}

impl PoolConfig {
    /// Default of [`max_connections`](Self::max_connections) (and of `MYSQL_MAX_CONNECTIONS`).
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
}

impl Default for PoolConfig {
    fn default() -> Self {
        // A request waits at most a second for a connection: with MySQL down it gets its 503 fast.
        Self { max_connections: Self::DEFAULT_MAX_CONNECTIONS, acquire_timeout: Duration::from_secs(1) }
    }
}

/// Where MySQL is: the settings of every service that reads or writes it.
#[derive(Debug, Clone, clap::Args)]
pub struct MysqlArgs {
    /// MySQL (or MariaDB) URL including the database name.
    #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306/grades")]
    pub mysql_url: String,
    /// Most connections in the MySQL pool.
    #[arg(long, env = "MYSQL_MAX_CONNECTIONS", default_value_t = PoolConfig::DEFAULT_MAX_CONNECTIONS)]
    pub mysql_max_connections: u32,
}

impl MysqlArgs {
    /// A pool for these settings (it connects on first use).
    pub fn pool(&self) -> Result<MySqlPool, String> {
        let config = PoolConfig { max_connections: self.mysql_max_connections, ..PoolConfig::default() };
        lazy_pool(&self.mysql_url, &config).map_err(|e| format!("MYSQL_URL is not valid: {e}"))
    }
}

/// Builds a pool without connecting: services start (and report not-ready) while MySQL is down.
pub fn lazy_pool(url: &str, config: &PoolConfig) -> Result<MySqlPool, sqlx::Error> {
    let options = MySqlConnectOptions::from_str(url)?
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    Ok(MySqlPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(true)
        .connect_lazy_with(options))
}

/// Creates the database named in the URL when it does not exist yet (first run, `just dev`).
/// Several processes may start at once: one that finds it just created by another is fine.
pub async fn create_database_if_missing(url: &str) -> Result<(), sqlx::Error> {
    use sqlx::migrate::MigrateDatabase;
    if sqlx::MySql::database_exists(url).await? {
        return Ok(());
    }
    match sqlx::MySql::create_database(url).await {
        Ok(()) => {
            tracing::info!("created the database");
            Ok(())
        }
        // ER_DB_CREATE_EXISTS: another process created it in between.
        Err(sqlx::Error::Database(db)) if mysql_code(db.as_ref()) == Some(1007) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Seconds a process waits for another one's migrations to finish.
const MIGRATION_LOCK_WAIT_SECONDS: u64 = 120;

/// Why migrations could not be applied, worded for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// MySQL did not answer: not running, wrong address, or refusing connections.
    #[error("MySQL cannot be reached ({0}); is it running? (see README: Quick start)")]
    Unreachable(sqlx::Error),
    /// Another process held the migration lock for longer than this one waits.
    #[error(
        "another process has held this database's migration lock for {MIGRATION_LOCK_WAIT_SECONDS} s; if none is migrating, \
         end the MySQL session that holds it (SHOW PROCESSLIST, then KILL <id>)"
    )]
    LockTimeout,
    /// A migration stopped halfway and is marked dirty; it needs fixing by hand.
    #[error(
        "migration {version} was interrupted and is partially applied (MySQL cannot roll back schema changes). Compare the \
         schema with migrations/{version}_*.sql, finish or undo it by hand, then let it run again with: \
         DELETE FROM _sqlx_migrations WHERE version = {version} AND success = 0;"
    )]
    Interrupted {
        /// The dirty migration's version (its file name prefix).
        version: i64,
    },
    /// Any other migration failure (a bad statement, a checksum mismatch).
    #[error("{0}")]
    Failed(sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for MigrationError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            Self::Unreachable(error)
        } else {
            Self::Failed(error.into())
        }
    }
}

/// Applies pending migrations, one process at a time, whatever number start together: a MySQL
/// session lock is held around the whole run. (sqlx's own lock asks for an endless wait with a
/// timeout of -1, which MariaDB answers with NULL at once, so concurrent starts raced and one
/// died on a duplicate key or a half-applied migration.)
pub async fn migrate(pool: &MySqlPool) -> Result<(), MigrationError> {
    let mut connection = pool.acquire().await?.detach();
    let (locked,): (Option<i64>,) = sqlx::query_as("SELECT GET_LOCK(LEFT(CONCAT('grades.migrate.', DATABASE()), 64), ?)")
        .bind(MIGRATION_LOCK_WAIT_SECONDS)
        .fetch_one(&mut connection)
        .await?;
    if locked != Some(1) {
        let _ = sqlx::Connection::close(connection).await;
        return Err(MigrationError::LockTimeout);
    }
    let result = MIGRATOR.run_direct(&mut connection).await;
    // Ending the session releases the lock.
    let _ = sqlx::Connection::close(connection).await;
    result.map_err(|error| match error {
        sqlx::migrate::MigrateError::Dirty(version) => MigrationError::Interrupted { version },
        sqlx::migrate::MigrateError::Execute(error) if is_unavailable(&error) => MigrationError::Unreachable(error),
        other => MigrationError::Failed(other),
    })
}

/// Runs a trivial query: succeeds only when MySQL answers (readiness checks).
pub async fn ping(pool: &MySqlPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// The course catalog, read once at start-up.
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
