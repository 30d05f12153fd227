//! The dashboard backend: a read-only HTTP API over MySQL's summary tables, and Socket.IO pushes
//! fed by the Redis events channel. It never writes MySQL, never migrates, and nothing a client
//! sends changes any data. Names and shapes: docs/CONTRACTS.md.

pub mod api;
pub mod catalog;
pub mod compare;
pub mod cors;
pub mod error;
pub mod live;
pub mod metrics;
pub mod params;
pub mod socket;
#[cfg(test)]
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use grades_kit::{health_router, within_a_second, HttpArgs, HttpServer, MetricsRegistry, ReadinessCheck, ReadyReport, Shutdown, Tasks};
use grades_live::{LiveStore, RedisArgs};
use grades_storage::mysql::{self, MysqlArgs};
use socketioxide::SocketIo;
use sqlx::MySqlPool;

pub use catalog::CatalogCache;
pub use error::ApiError;
pub use live::Hub;
pub use metrics::RealtimeMetrics;

/// Settings of the realtime service: its flags, each with an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "realtime", version, about = "Dashboard backend: read-only HTTP API and Socket.IO live pushes")]
pub struct Config {
    /// HTTP port for the API, Socket.IO (/socket.io), /healthz, /readyz and /metrics.
    #[arg(long, env = "PORT", default_value_t = 8003)]
    pub port: u16,
    /// MySQL, only read.
    #[command(flatten)]
    pub mysql: MysqlArgs,
    /// Redis: the live state and the events channel.
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Browser origins allowed to call the API (the dashboard's), comma-separated: exact
    /// (`https://grades.example.com`) or any port of a host (`http://localhost:*`).
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = cors::DEFAULT_ALLOWED_ORIGINS)]
    pub cors_allowed_origins: String,
    /// Listen address, HTTP timeouts, connection limit and drain deadline.
    #[command(flatten)]
    pub http: HttpArgs,
    /// The published route comparison served at `GET /api/compare` (written by `just compare`).
    #[arg(long, env = "COMPARE_JSON", default_value = "docs/compare.json")]
    pub compare_json: std::path::PathBuf,
}

/// What handlers, Socket.IO and the background tasks share.
#[derive(Clone)]
pub struct AppState {
    /// MySQL, read only: the summary tables and the newest grades.
    pub pool: MySqlPool,
    /// Redis: live counters, latency buckets and the events channel.
    pub live: LiveStore,
    /// Course codes `curso` parameters are checked against.
    pub catalog: CatalogCache,
    /// The service's own metrics.
    pub metrics: RealtimeMetrics,
    /// Pending pushes and subscription state.
    pub hub: Arc<Hub>,
    /// The published route comparison (`GET /api/compare`).
    pub compare: compare::PublishedComparison,
}

/// The `realtime` process.
pub async fn main(config: Config) -> std::process::ExitCode {
    let deadline = config.http.limits().drain_deadline;
    let serve = |shutdown| async move { Application::build(config).await?.run(shutdown).await.map_err(|e| e.to_string()) };
    grades_kit::service_main("realtime", deadline, serve).await
}

/// The realtime service, bound and ready to [`run`](Self::run).
pub struct Application {
    http: HttpServer,
    router: axum::Router,
    state: AppState,
    io: SocketIo,
    /// The background tasks: readiness fails once one failed.
    tasks: Tasks,
}

impl Application {
    /// Binds the port and wires everything; connects lazily, so it starts while MySQL or Redis
    /// is down (and reports not-ready until they answer).
    pub async fn build(config: Config) -> Result<Self, String> {
        let mut registry = MetricsRegistry::new();
        let metrics = RealtimeMetrics::register(&mut registry);
        let pool = config.mysql.pool()?;
        let live = config.redis.store()?;
        let state = AppState {
            catalog: CatalogCache::new(pool.clone()),
            pool,
            live,
            metrics,
            hub: Arc::new(Hub::default()),
            compare: compare::PublishedComparison::new(config.compare_json),
        };

        // Limits (docs/CONTRACTS.md): a client that stops answering pings is dropped after
        // 25 + 20 s, one that never joins the namespace after 10 s; one packet is at most 16 KiB
        // on either transport (`max_payload` only bounds long-polling bodies: a WebSocket message
        // would otherwise be buffered up to 64 MiB); Socket.IO connections count against the
        // HTTP connection limit like any other.
        const MAX_PACKET_BYTES: usize = 16 * 1024;
        let (socket_layer, io) = SocketIo::builder()
            .ping_interval(Duration::from_secs(25))
            .ping_timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(10))
            .max_payload(MAX_PACKET_BYTES as u64)
            .ws_max_message_size(MAX_PACKET_BYTES)
            .ws_max_frame_size(MAX_PACKET_BYTES)
            .with_state(state.clone())
            .build_layer();
        socket::register(&io);

        // The dashboard is served from another origin; only its origin gets CORS answers.
        let cors = cors::AllowedOrigins::parse(&config.cors_allowed_origins)?.layer();
        let tasks = Tasks::new();
        let health = health_router(readiness(&state, &tasks), registry.freeze());
        let router = api::router(state.clone()).merge(health).layer(socket_layer).layer(cors);

        let http = HttpServer::bind(&config.http, config.port).await?;
        Ok(Self { http, router, state, io, tasks })
    }

    /// Serves until `shutdown`: then disconnects Socket.IO clients, stops accepting, finishes
    /// in-flight requests and ends the background tasks.
    pub async fn run(self, shutdown: Shutdown) -> std::io::Result<()> {
        let Self { http, router, state, io, tasks } = self;
        tasks.spawn("events-subscriber", live::run_subscriber(state.clone(), io.clone(), shutdown.wait()));
        tasks.spawn("push-flusher", live::run_flusher(state.clone(), io.clone(), shutdown.wait()));
        tasks.spawn("routes-ticker", live::run_routes_ticker(state.clone(), io.clone(), shutdown.wait()));
        // Long-polling requests and WebSockets would otherwise hold the graceful shutdown open.
        let (closing, stop) = (io.clone(), shutdown.wait());
        tasks.spawn("socket-closer", async move {
            stop.await;
            closing.close().await;
        });
        let served = http.serve("realtime", router, shutdown.wait()).await;
        shutdown.trigger();
        tasks.join_all().await;
        tracing::info!("realtime stopped");
        served
    }

    /// The address it listens on (the actual port when built with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }
}

/// Ready when MySQL and Redis both answer and no background task failed; the events
/// subscription is reported alongside.
fn readiness(state: &AppState, tasks: &Tasks) -> ReadinessCheck {
    let (state, tasks) = (state.clone(), tasks.clone());
    Arc::new(move || {
        let (state, tasks) = (state.clone(), tasks.clone());
        async move {
            let mut report = ReadyReport::new();
            let (mysql, redis) = tokio::join!(within_a_second(mysql::ping(&state.pool)), within_a_second(state.live.ping()));
            report.require("mysql", mysql);
            report.require("redis", redis);
            let events = if state.hub.subscribed() { Ok(()) } else { Err("not subscribed to the events channel".to_owned()) };
            report.optional("redis_events", events);
            tasks.check(&mut report);
            report
        }
        .boxed()
    })
}
