use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use grades_domain::{Catalog, IdempotencyKey, NewGrade, Route};
use grades_kit::{ReadinessCheck, ReadyReport};
use grades_storage::mysql::{self, PoolConfig};
use grades_storage::{GradeWriter, LiveState, StorageMetrics, StoreOutcome, StoreRequest, WriterConfig};
use sqlx::MySqlPool;
use tokio::sync::RwLock;
use tokio::task::JoinHandle;

use crate::IngestError;

/// A stored grade as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub id: u64,
    /// True for an idempotent replay: the grade was stored earlier, nothing new was stored now.
    pub replayed: bool,
}

/// Where the HTTP front sends a validated grade: straight to the ingestion service (rest-api) or
/// over gRPC to it (grpc-client). Both answer identically, so the front is written once.
pub trait GradeSink: Send + Sync + 'static {
    fn route(&self) -> Route;
    fn catalog(&self) -> impl Future<Output = Result<Arc<Catalog>, IngestError>> + Send;
    fn submit(&self, grade: NewGrade, key: Option<IdempotencyKey>) -> impl Future<Output = Result<Accepted, IngestError>> + Send;
}

/// Settings of the storing services (grpc-server, rest-api), read from flags or the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// MySQL (or MariaDB) URL including the database name.
    #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306/grades")]
    pub mysql_url: String,
    /// Redis URL for live counters and events.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "REDIS_PREFIX", default_value = "grades:")]
    pub redis_prefix: String,
    /// Apply pending migrations at startup.
    #[arg(long, env = "MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,
    /// Most connections in the MySQL pool.
    #[arg(long, env = "MYSQL_MAX_CONNECTIONS", default_value_t = 10)]
    pub mysql_max_connections: u32,
}

/// The running storage side: pool, Redis, writer task. Built once per process.
pub struct StorageRuntime {
    pub pool: MySqlPool,
    pub live: LiveState,
    pub writer: GradeWriter,
    pub writer_task: JoinHandle<()>,
}

impl StorageRuntime {
    /// Connects (lazily, so the service starts while a database is down), migrates if asked, and
    /// starts the group-commit writer.
    pub async fn start(args: &StorageArgs, metrics: StorageMetrics) -> Result<Self, String> {
        let pool_config = PoolConfig { max_connections: args.mysql_max_connections, ..PoolConfig::default() };
        let pool = mysql::lazy_pool(&args.mysql_url, &pool_config).map_err(|e| format!("MYSQL_URL is not valid: {e}"))?;
        let live = LiveState::new(&args.redis_url, args.redis_prefix.clone()).map_err(|e| format!("REDIS_URL is not valid: {e}"))?;
        if args.migrate {
            mysql::create_database_if_missing(&args.mysql_url).await.map_err(|e| {
                format!("could not reach MySQL at {} ({e}); is it running? (see README: Quick start)", redact(&args.mysql_url))
            })?;
            mysql::migrate(&pool).await.map_err(|e| {
                format!("could not apply migrations to {} ({e}); is MySQL running? (see README: Quick start)", redact(&args.mysql_url))
            })?;
            tracing::info!("migrations applied");
        }
        let (writer, writer_task) = GradeWriter::spawn(pool.clone(), Some(live.clone()), metrics, WriterConfig::default());
        Ok(Self { pool, live, writer, writer_task })
    }
}

impl StorageArgs {
    /// Applies pending migrations and returns (the `migrate` subcommand).
    pub async fn migrate_only(&self) -> Result<(), String> {
        let pool = mysql::lazy_pool(&self.mysql_url, &PoolConfig::default()).map_err(|e| format!("MYSQL_URL is not valid: {e}"))?;
        mysql::create_database_if_missing(&self.mysql_url)
            .await
            .map_err(|e| format!("could not reach MySQL at {}: {e}", redact(&self.mysql_url)))?;
        mysql::migrate(&pool).await.map_err(|e| format!("could not apply migrations to {}: {e}", redact(&self.mysql_url)))
    }
}

impl StorageRuntime {
    /// Ready when MySQL answers; Redis is reported but optional (grades are accepted without it).
    pub fn readiness(&self) -> ReadinessCheck {
        let (pool, live) = (self.pool.clone(), self.live.clone());
        Arc::new(move || {
            let (pool, live) = (pool.clone(), live.clone());
            async move {
                let mut report = ReadyReport::new();
                report.require("mysql", mysql::ping(&pool).await.map_err(|e| e.to_string()));
                report.optional("redis", live.ping().await.map_err(|e| e.to_string()));
                report
            }
            .boxed()
        })
    }
}

/// Removes a password from a URL before it is logged.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// How long a loaded catalog is trusted before it is read again.
const CATALOG_TTL: Duration = Duration::from_secs(30);

/// The one ingestion service: catalog-aware validation and group-committed storage.
#[derive(Clone)]
pub struct IngestService {
    route: Route,
    pool: MySqlPool,
    writer: GradeWriter,
    catalog: Arc<RwLock<Option<(Arc<Catalog>, Instant)>>>,
}

impl IngestService {
    pub fn new(route: Route, pool: MySqlPool, writer: GradeWriter) -> Self {
        Self { route, pool, writer, catalog: Arc::new(RwLock::new(None)) }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The course catalog, re-read every 30 s; a stale copy is used while MySQL is unreachable.
    pub async fn catalog(&self) -> Result<Arc<Catalog>, IngestError> {
        if let Some((catalog, loaded)) = self.catalog.read().await.as_ref() {
            if loaded.elapsed() < CATALOG_TTL {
                return Ok(catalog.clone());
            }
        }
        let mut slot = self.catalog.write().await;
        match mysql::load_catalog(&self.pool).await {
            Ok(catalog) => {
                let catalog = Arc::new(catalog);
                *slot = Some((catalog.clone(), Instant::now()));
                Ok(catalog)
            }
            Err(error) => match slot.as_ref() {
                Some((stale, _)) => {
                    tracing::warn!(%error, "course catalog not refreshed; using the previous copy");
                    Ok(stale.clone())
                }
                None if mysql::is_unavailable(&error) => Err(IngestError::Unavailable(error.to_string())),
                None => Err(IngestError::Internal(format!("could not read the course catalog: {error}"))),
            },
        }
    }

    /// Validates typed fields (from gRPC) with the same rules as the HTTP front.
    pub async fn validate_parts(
        &self,
        carnet: u64,
        nombre: &str,
        curso: &str,
        nota: u64,
        semestre: &str,
        year: u64,
    ) -> Result<NewGrade, IngestError> {
        let catalog = self.catalog().await?;
        NewGrade::from_parts(carnet, nombre, curso, nota, semestre, year, &catalog).map_err(IngestError::Validation)
    }

    pub async fn ingest(&self, grade: NewGrade, key: Option<IdempotencyKey>) -> Result<Accepted, IngestError> {
        let outcome = self.writer.store(StoreRequest { grade, route: self.route, idempotency_key: key }).await?;
        Ok(Accepted { id: outcome.id(), replayed: matches!(outcome, StoreOutcome::Replayed { .. }) })
    }
}

impl GradeSink for IngestService {
    fn route(&self) -> Route {
        self.route
    }

    async fn catalog(&self) -> Result<Arc<Catalog>, IngestError> {
        IngestService::catalog(self).await
    }

    async fn submit(&self, grade: NewGrade, key: Option<IdempotencyKey>) -> Result<Accepted, IngestError> {
        self.ingest(grade, key).await
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("mysql://app:s3cret@db:3306/grades"), "mysql://app:***@db:3306/grades");
        assert_eq!(redact("mysql://root@127.0.0.1/grades"), "mysql://root@127.0.0.1/grades");
    }
}
