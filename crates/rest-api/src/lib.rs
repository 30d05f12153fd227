//! Route 2 ("rest"): `POST /grades` stored directly through the shared ingestion service.

use std::net::SocketAddr;
use std::sync::Arc;

use grades_domain::Route;
use grades_front::grades_router;
use grades_ingest::{IngestService, StorageRuntime, StoringArgs};
use grades_kit::{health_router, require_token, HttpMetrics, HttpServer, IngestAuthArgs, MetricsRegistry, Shutdown};
use grades_live::latency::LatencyRecorder;
use grades_storage::StorageMetrics;

/// Settings of the rest-api service: its flags, each with an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "rest-api", version, about = "Route 2 (rest): stores POST /grades directly in MySQL and Redis")]
pub struct Config {
    /// HTTP port for POST /grades, /healthz, /readyz and /metrics.
    #[arg(long, env = "PORT", default_value_t = 8002)]
    pub port: u16,
    /// The optional token POST /grades requires.
    #[command(flatten)]
    pub auth: IngestAuthArgs,
    /// Storage and HTTP settings every storing service shares.
    #[command(flatten)]
    pub shared: StoringArgs,
}

/// The `rest-api` process: serve, or run one of its subcommands.
pub async fn main(config: Config) -> std::process::ExitCode {
    let shared = config.shared.clone();
    grades_ingest::runtime::storing_main("rest-api", &shared, |shutdown| async move {
        Application::build(config).await?.run(shutdown).await.map_err(|e| e.to_string())
    })
    .await
}

/// The rest-api service, bound and ready to [`run`](Self::run).
pub struct Application {
    http: HttpServer,
    router: axum::Router,
    storage: StorageRuntime,
    latency: LatencyRecorder,
}

impl Application {
    /// Starts the storage runtime (migrating if configured) and binds the port.
    pub async fn build(config: Config) -> Result<Self, String> {
        let token = config.auth.token()?;
        let mut registry = MetricsRegistry::new();
        registry.route_info(Route::Rest.as_str());
        let http_metrics = HttpMetrics::register(&mut registry);
        let storage_metrics = StorageMetrics::new();
        storage_metrics.register(registry.registry_mut(), Route::Rest);
        let storage = StorageRuntime::start(&config.shared.storage, storage_metrics).await?;
        let service = IngestService::new(Route::Rest, storage.pool.clone(), storage.writer.clone());
        let service = Arc::new(service.discard_grades(config.shared.discard_grades));
        let latency = LatencyRecorder::default();
        // Only POST /grades needs the token: probes and Prometheus keep reaching /healthz, /readyz, /metrics.
        let grades = require_token(grades_router(service, http_metrics, latency.clone()), token);
        let router = grades.merge(health_router(storage.readiness(), registry.freeze()));
        let http = HttpServer::bind(&config.shared.http, config.port).await?;
        Ok(Self { http, router, storage, latency })
    }

    /// Serves until `shutdown`, then finishes in-flight requests, drains the writer and exits.
    pub async fn run(self, shutdown: Shutdown) -> std::io::Result<()> {
        let Self { http, router, storage, latency } = self;
        storage.tasks.spawn("latency-flusher", latency.run_flusher(storage.live.clone(), shutdown.wait()));
        let served = http.serve("rest-api", router, shutdown.wait()).await;
        // Serving may also end on an error: the flusher ends on `shutdown`, and `stop` joins it.
        shutdown.trigger();
        storage.stop().await;
        tracing::info!("rest-api stopped");
        served
    }

    /// The address it listens on (the actual port when built with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }
}
