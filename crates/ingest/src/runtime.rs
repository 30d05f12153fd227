//! The storage side of a writing process: the pool, the group-commit writer, the projector, the
//! Redis live-state sync and the idempotency key sweeper. Built once per process, stopped in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use grades_kit::{within_a_second, ReadinessCheck, ReadyReport, Shutdown, Tasks};
use grades_live::LiveStore;
use grades_storage::idempotency;
use grades_storage::live_sync::LiveSync;
use grades_storage::mysql;
use grades_storage::projector;
use grades_storage::{GradeWriter, StorageMetrics};
use sqlx::MySqlPool;

pub use crate::config::StorageCommand;
use crate::config::{redact, StorageArgs, StoringArgs};

/// The running storage of a writing process; [`stop`](Self::stop) it after the servers stop.
pub struct StorageRuntime {
    /// The MySQL pool, shared with readiness and the catalog.
    pub pool: MySqlPool,
    /// The Redis live state (latency buckets are flushed to it too).
    pub live: LiveStore,
    /// The group-commit writer every grade is stored through.
    pub writer: GradeWriter,
    /// The process's background tasks: [`readiness`](Self::readiness) fails once one of them
    /// (or of the writer's or the projector's) failed. Spawn the process's other tasks here;
    /// [`stop`](Self::stop) joins them last, so they should end on the process's shutdown.
    pub tasks: Tasks,
    writer_tasks: Tasks,
    projector_stop: Shutdown,
    projector_tasks: Tasks,
    /// Stops the idempotency key sweeper, first: it is maintenance, nothing waits on it.
    sweeper_stop: Shutdown,
}

impl StorageRuntime {
    /// Connects (lazily, so the service starts while a database is down), migrates if asked, and
    /// starts the writer, the projector and the idempotency key sweeper.
    pub async fn start(args: &StorageArgs, metrics: StorageMetrics) -> Result<Self, String> {
        let pool = args.mysql.pool()?;
        let live = args.redis.store()?;
        if args.migrate {
            migrate(args, &pool).await?;
        }
        let tasks = Tasks::new();
        let writer_tasks = tasks.group();
        let (writer, committed) = GradeWriter::spawn(&writer_tasks, pool.clone(), metrics.clone(), args.writer.config());
        let (projector_stop, projector_tasks) = (Shutdown::new(), tasks.group());
        let sync = LiveSync::new(live.clone(), metrics.live_sync.clone());
        projector::spawn(
            &projector_tasks,
            pool.clone(),
            Some(sync),
            committed,
            metrics.projector.clone(),
            args.projector.config(),
            projector_stop.wait(),
        );
        // Off the request path; it ends at `stop` and is joined with the process's other tasks.
        let sweeper_stop = Shutdown::new();
        idempotency::spawn(&tasks, pool.clone(), metrics.retention.clone(), args.idempotency.config(), sweeper_stop.wait());
        Ok(Self { pool, live, writer, tasks, writer_tasks, projector_stop, projector_tasks, sweeper_stop })
    }

    /// Whether MySQL answers (within a second).
    pub fn mysql_probe(&self) -> MysqlProbe {
        MysqlProbe { pool: self.pool.clone() }
    }

    /// Ready when MySQL answers and no background task failed; Redis is reported but optional
    /// (grades are accepted without it).
    pub fn readiness(&self) -> ReadinessCheck {
        let (pool, live, tasks) = (self.pool.clone(), self.live.clone(), self.tasks.clone());
        Arc::new(move || {
            let (pool, live, tasks) = (pool.clone(), live.clone(), tasks.clone());
            async move {
                let mut report = ReadyReport::new();
                let (mysql, redis) = tokio::join!(within_a_second(mysql::ping(&pool)), within_a_second(live.ping()));
                report.require("mysql", mysql);
                report.optional("redis", redis);
                tasks.check(&mut report);
                report
            }
            .boxed()
        })
    }

    /// After the servers stopped taking requests (and dropped their handles to the writer):
    /// stops the idempotency key sweeper (a sweep cut short is finished by the next one), commits
    /// and answers every queued grade, then stops the projector (another replica, or the next
    /// start, folds what it leaves), then waits for the process's other tasks. A task that failed
    /// was logged when it did, and is logged again here.
    pub async fn stop(self) {
        self.sweeper_stop.trigger();
        drop(self.writer);
        self.writer_tasks.join_all().await;
        self.projector_stop.trigger();
        self.projector_tasks.join_all().await;
        self.tasks.join_all().await;
    }
}

/// Asks MySQL whether it answers.
#[derive(Clone)]
pub struct MysqlProbe {
    pool: MySqlPool,
}

impl MysqlProbe {
    /// True when MySQL answers a ping within a second.
    pub async fn answers(&self) -> bool {
        within_a_second(mysql::ping(&self.pool)).await.is_ok()
    }
}

/// The life of a storing service (rest-api, grpc-server): run the subcommand when one was given,
/// otherwise `serve` until SIGTERM or Ctrl-C (see [`grades_kit::service_main`]).
pub async fn storing_main<Serve, Fut>(service: &str, shared: &StoringArgs, serve: Serve) -> std::process::ExitCode
where
    Serve: FnOnce(Shutdown) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    grades_kit::service_main(service, shared.http.limits().drain_deadline, |shutdown| async move {
        match shared.command {
            Some(command) => command.run(&shared.storage).await,
            None => serve(shutdown).await,
        }
    })
    .await
}

impl StorageCommand {
    /// Runs the command against `args`' MySQL and Redis.
    pub async fn run(self, args: &StorageArgs) -> Result<(), String> {
        let pool = args.mysql.pool()?;
        match self {
            Self::Migrate => migrate(args, &pool).await,
            Self::WaitForSchema { timeout_seconds } => wait_for_schema(args, &pool, Duration::from_secs(timeout_seconds)).await,
            Self::Reconcile => {
                let synced = grades_storage::live_sync::rebuild_now(&pool, &args.redis.store()?).await.map_err(|e| e.to_string())?;
                tracing::info!(synced_id = synced, "redis live state rebuilt from the summary tables");
                Ok(())
            }
        }
    }
}

/// How often `wait-for-schema` asks again.
const SCHEMA_POLL_INTERVAL: Duration = Duration::from_secs(2);

async fn wait_for_schema(args: &StorageArgs, pool: &MySqlPool, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match schema_gap(pool).await {
            None => {
                tracing::info!("schema ready: every migration of this build is applied");
                return Ok(());
            }
            Some(reason) if Instant::now() >= deadline => {
                let url = redact(&args.mysql.mysql_url);
                return Err(format!("the schema of {url} is not ready after {} s: {reason}", timeout.as_secs()));
            }
            Some(reason) => {
                tracing::info!(%reason, "waiting for the schema");
                tokio::time::sleep(SCHEMA_POLL_INTERVAL).await;
            }
        }
    }
}

/// What keeps the database from holding this build's schema, or `None` when every migration the
/// binary carries is applied and none failed.
pub async fn schema_gap(pool: &MySqlPool) -> Option<String> {
    let applied: Vec<(i64, bool)> = match sqlx::query_as("SELECT version, success FROM _sqlx_migrations").fetch_all(pool).await {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(e)) if mysql::mysql_code(e.as_ref()) == Some(1146) => {
            return Some("no migration applied yet (_sqlx_migrations does not exist)".to_owned())
        }
        Err(e) => return Some(format!("could not read the applied migrations: {e}")),
    };
    if let Some((version, _)) = applied.iter().find(|(_, success)| !success) {
        return Some(format!("migration {version} failed; fix it and run the migrations again"));
    }
    let missing: Vec<String> = mysql::MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.iter().any(|(version, _)| *version == m.version))
        .map(|m| m.version.to_string())
        .collect();
    (!missing.is_empty()).then(|| format!("migrations not applied yet: {}", missing.join(", ")))
}

async fn migrate(args: &StorageArgs, pool: &MySqlPool) -> Result<(), String> {
    let url = redact(&args.mysql.mysql_url);
    mysql::create_database_if_missing(&args.mysql.mysql_url).await.map_err(|e| {
        if mysql::is_unavailable(&e) {
            format!("could not reach MySQL at {url} ({e}); is it running? (see README: Quick start)")
        } else {
            format!("could not create the database of {url}: {e}")
        }
    })?;
    mysql::migrate(pool).await.map_err(|e| format!("could not apply migrations to {url}: {e}"))?;
    tracing::info!("migrations applied");
    Ok(())
}
