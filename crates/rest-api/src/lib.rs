//! Route 2 ("rest"): `POST /grades` stored directly through the shared ingestion service.

use std::net::SocketAddr;
use std::sync::Arc;

use grades_domain::Route;
use grades_front::grades_router;
use grades_ingest::{IngestService, StorageArgs, StorageRuntime};
use grades_kit::{health_router, HttpArgs, HttpLimits, HttpMetrics, MetricsRegistry, Shutdown};
use grades_live::latency::LatencyRecorder;
use grades_storage::StorageMetrics;
use tokio::net::TcpListener;

/// Command-line flags and environment of the `rest-api` binary.
#[derive(Debug, clap::Parser)]
#[command(name = "rest-api", version, about = "Route 2 (rest): stores POST /grades directly in MySQL and Redis")]
pub struct Cli {
    /// A one-shot task instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The service settings.
    #[command(flatten)]
    pub config: Config,
}

/// One-shot maintenance tasks.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Apply pending MySQL migrations and exit (for a Kubernetes Job or a compose one-shot).
    Migrate,
    /// Rebuild the Redis live state from the summary tables and exit (`just reconcile`).
    Reconcile,
}

/// Settings of the rest-api service.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// HTTP port for POST /grades, /healthz, /readyz and /metrics.
    #[arg(long, env = "PORT", default_value_t = 8002)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: String,
    /// MySQL, Redis, writer and projector settings.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// HTTP timeouts, connection limit and drain deadline.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// The `rest-api` process: serve, or run one of its subcommands.
pub async fn main(cli: Cli) -> std::process::ExitCode {
    let deadline = cli.config.http.limits().drain_deadline;
    grades_kit::service_main("rest-api", deadline, |shutdown| async move {
        match cli.command {
            Some(Command::Migrate) => grades_ingest::runtime::migrate_only(&cli.config.storage).await,
            Some(Command::Reconcile) => grades_ingest::runtime::reconcile_only(&cli.config.storage).await,
            None => Application::build(cli.config).await?.run(shutdown).await.map_err(|e| e.to_string()),
        }
    })
    .await
}

/// The rest-api service, bound and ready to [`run`](Self::run).
pub struct Application {
    listener: TcpListener,
    /// The listener's address, read once when bound.
    local_addr: SocketAddr,
    router: axum::Router,
    storage: StorageRuntime,
    latency: LatencyRecorder,
    limits: HttpLimits,
}

impl Application {
    /// Starts the storage runtime (migrating if configured) and binds the port.
    pub async fn build(config: Config) -> Result<Self, String> {
        let mut registry = MetricsRegistry::new();
        let http_metrics = HttpMetrics::register(&mut registry);
        let storage_metrics = StorageMetrics::new();
        storage_metrics.register(registry.registry_mut());
        let storage = StorageRuntime::start(&config.storage, storage_metrics).await?;
        let service = Arc::new(IngestService::new(Route::Rest, storage.pool.clone(), storage.writer.clone()));
        let latency = LatencyRecorder::default();

        let readiness = storage.readiness();
        let router = grades_router(service, http_metrics, latency.clone()).merge(health_router(readiness, registry.freeze()));
        let address = format!("{}:{}", config.bind_address, config.port);
        let listener = TcpListener::bind(&address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let local_addr = listener.local_addr().map_err(|e| format!("cannot read the address bound for {address}: {e}"))?;
        Ok(Self { listener, local_addr, router, storage, latency, limits: config.http.limits() })
    }

    /// The address it listens on (the actual port when built with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown`, then finishes in-flight requests, drains the writer and exits.
    pub async fn run(self, shutdown: Shutdown) -> std::io::Result<()> {
        let Self { listener, local_addr, router, storage, latency, limits } = self;
        tracing::info!(address = %local_addr, "rest-api listening");
        let flusher = tokio::spawn(latency.run_flusher(storage.live.clone(), shutdown.wait()));
        let served = grades_kit::serve_http(listener, router, limits, shutdown.wait()).await;
        storage.stop().await;
        let _ = flusher.await;
        tracing::info!("rest-api stopped");
        served
    }
}
