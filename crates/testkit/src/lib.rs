//! Test support shared by every crate's integration tests.
//!
//! Servers come from `TEST_MYSQL_URL` / `TEST_REDIS_URL` when set (`just test` sets them for its
//! MariaDB run), otherwise from containers on a reachable Docker engine: one MySQL and one Redis
//! per test run, shared by its processes and removed when it ends ([`containers`]). With neither,
//! tests fail with a message saying how to provide one: a test never passes by skipping.

// Test support: a failure here is a failing test, reported by its panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod containers;
mod proxy;
mod summaries;

use std::time::Duration;

use rand::Rng;
use sqlx::mysql::MySqlPool;
use sqlx::Executor;
use tokio::sync::OnceCell;

use containers::Server;
pub use proxy::TcpProxy;
pub use summaries::{all_folded, summary_mismatches};

const HOW_TO: &str = "Integration tests need a real MySQL/MariaDB and Redis. Either set \
TEST_MYSQL_URL=mysql://root@127.0.0.1:3306 and TEST_REDIS_URL=redis://127.0.0.1:6379 (any MySQL 8 / \
MariaDB 10.11+ user allowed to CREATE DATABASE; `just test` does this for its MariaDB run), or run a \
Docker engine (DOCKER_HOST, the current docker context or /var/run/docker.sock) so the tests start \
containers from TEST_MYSQL_IMAGE / TEST_REDIS_IMAGE (default mysql:8.4 and redis:7.4-alpine; \
`just base-images` builds local ones where nothing can be pulled).";

/// Server-level MySQL URL (no database), from the environment or this run's container.
pub async fn mysql_server_url() -> String {
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_init(|| async {
        if let Some(url) = from_env("TEST_MYSQL_URL") {
            return url;
        }
        let (host, port) =
            containers::address(Server::Mysql).await.unwrap_or_else(|e| panic!("TEST_MYSQL_URL is not set and {e}. {HOW_TO}"));
        let url = format!("mysql://root@{host}:{port}");
        containers::wait_until_ready("the MySQL container", || async {
            let pool = MySqlPool::connect(&url).await.map_err(|e| e.to_string())?;
            let answered = pool.execute("SELECT 1").await.map(|_| ()).map_err(|e| e.to_string());
            pool.close().await;
            answered
        })
        .await
        .unwrap_or_else(|e| panic!("{e}. {HOW_TO}"));
        url
    })
    .await
    .trim_end_matches('/')
    .to_owned()
}

/// Redis URL, from the environment or this run's container.
pub async fn redis_url() -> String {
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_init(|| async {
        if let Some(url) = from_env("TEST_REDIS_URL") {
            return url;
        }
        let (host, port) =
            containers::address(Server::Redis).await.unwrap_or_else(|e| panic!("TEST_REDIS_URL is not set and {e}. {HOW_TO}"));
        let url = format!("redis://{host}:{port}");
        containers::wait_until_ready("the Redis container", || async {
            let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
            let mut connection = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
            redis::cmd("PING").query_async::<String>(&mut connection).await.map(|_| ()).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}. {HOW_TO}"));
        url
    })
    .await
    .clone()
}

fn from_env(variable: &str) -> Option<String> {
    std::env::var(variable).ok().filter(|value| !value.trim().is_empty())
}

fn unique_suffix() -> String {
    let mut rng = rand::rng();
    (0..12).map(|_| char::from(b'a' + rng.random_range(0..26))).collect()
}

/// A freshly created, fully migrated database that only one test uses; dropped afterwards.
pub struct TestDatabase {
    server_url: String,
    name: String,
    pool: MySqlPool,
}

/// The project's migrations, embedded here too so that test support does not depend on the
/// crates it tests.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

impl TestDatabase {
    async fn create_empty() -> Self {
        let server_url = mysql_server_url().await;
        let name = format!("grades_test_{}", unique_suffix());
        let admin =
            MySqlPool::connect(&server_url).await.unwrap_or_else(|e| panic!("cannot connect to MySQL at {server_url}: {e}. {HOW_TO}"));
        admin.execute(format!("CREATE DATABASE `{name}`").as_str()).await.expect("create test database");
        admin.close().await;
        let url = format!("{server_url}/{name}");
        let pool = MySqlPool::connect(&url).await.expect("connect to test database");
        Self { server_url, name, pool }
    }

    /// A fresh database with every migration applied.
    pub async fn create() -> Self {
        let db = Self::create_empty().await;
        MIGRATOR.run(&db.pool).await.expect("migrate test database");
        db
    }

    /// A fresh database with only the first `count` migrations applied (to test upgrades).
    pub async fn create_at_migration(count: usize) -> Self {
        let db = Self::create_empty().await;
        let migrator = sqlx::migrate::Migrator { migrations: MIGRATOR.migrations[..count].to_vec().into(), ..MIGRATOR };
        migrator.run(&db.pool).await.expect("migrate test database");
        db
    }

    /// URL of this test's database (for the services under test).
    pub fn url(&self) -> String {
        format!("{}/{}", self.server_url, self.name)
    }

    /// The server URL without a database (to build a proxied URL).
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pool for the test's own assertions.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The single integer `sql` selects (a `COUNT(*)` or a signed cast).
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&self.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.server_url.clone(), self.name.clone());
        // Async work cannot run in Drop; a short-lived runtime on its own thread drops the database.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let admin = MySqlPool::connect(&url).await.ok()?;
                // Services of a test that failed may still hold transactions open (their runtime is
                // no longer polled): end their sessions so DROP does not wait on their locks.
                let sessions: Vec<u64> = sqlx::query_scalar("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ?")
                    .bind(&name)
                    .fetch_all(&admin)
                    .await
                    .unwrap_or_default();
                for id in sessions {
                    let _ = admin.execute(format!("KILL CONNECTION {id}").as_str()).await;
                }
                admin.execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str()).await.ok()?;
                admin.close().await;
                Some(())
            })
        })
        .join();
    }
}

/// A Redis key space (prefix) that only one test uses; its keys are deleted afterwards.
pub struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    /// A fresh prefix on the test Redis, which must answer.
    pub async fn new() -> Self {
        let url = redis_url().await;
        let client = redis::Client::open(url.as_str()).expect("valid TEST_REDIS_URL");
        let mut connection = tokio::time::timeout(Duration::from_secs(5), client.get_multiplexed_async_connection())
            .await
            .unwrap_or_else(|_| panic!("timed out connecting to Redis at {url}. {HOW_TO}"))
            .unwrap_or_else(|e| panic!("cannot connect to Redis at {url}: {e}. {HOW_TO}"));
        let _: String = redis::cmd("PING").query_async(&mut connection).await.expect("redis PING");
        Self { url, prefix: format!("test:{}:", unique_suffix()) }
    }

    /// The Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// This test's key prefix (`REDIS_PREFIX`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A connection for the test's own reads and writes.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str()).expect("redis url").get_multiplexed_async_connection().await.expect("redis connection")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let (url, pattern) = (self.url.clone(), format!("{}*", self.prefix));
        let _ = std::thread::spawn(move || {
            let client = redis::Client::open(url.as_str()).ok()?;
            let mut connection = client.get_connection_with_timeout(Duration::from_secs(2)).ok()?;
            let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut connection).ok()?;
            if !keys.is_empty() {
                let _: i64 = redis::cmd("DEL").arg(keys).query(&mut connection).ok()?;
            }
            Some(())
        })
        .join();
    }
}

/// A service's configuration read from command-line flags, as its binary would read them:
/// settings a test does not name keep their defaults.
pub fn flags<T: clap::Args + clap::FromArgMatches>(args: &[&str]) -> T {
    let command = T::augment_args(clap::Command::new("test"));
    let matches = command.try_get_matches_from(std::iter::once("test").chain(args.iter().copied())).expect("valid flags");
    T::from_arg_matches(&matches).expect("configuration")
}

/// Polls `check` until it returns `Some` or `timeout` passes (for effects that land after the
/// response, like Redis updates).
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
