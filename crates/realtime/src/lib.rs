//! The dashboard backend: a read-only HTTP API over MySQL's summary tables, and Socket.IO pushes
//! fed by the Redis events channel. It never writes MySQL, never migrates, and nothing a client
//! sends changes any data. Names and shapes: docs/CONTRACTS.md.

pub mod api;
pub mod catalog;
pub mod error;
pub mod live;
pub mod metrics;
pub mod params;
pub mod socket;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::Method;
use futures::FutureExt;
use grades_kit::{health_router, within_a_second, HttpArgs, HttpLimits, MetricsRegistry, ReadinessCheck, ReadyReport, Shutdown};
use grades_live::LiveStore;
use grades_storage::mysql::{self, PoolConfig};
use socketioxide::SocketIo;
use sqlx::MySqlPool;
use tokio::net::TcpListener;
use tower_http::cors::{Any, CorsLayer};

pub use catalog::CatalogCache;
pub use error::ApiError;
pub use live::Hub;
pub use metrics::RealtimeMetrics;

/// Command-line flags and environment of the `realtime` binary.
#[derive(Debug, clap::Parser)]
#[command(name = "realtime", version, about = "Dashboard backend: read-only HTTP API and Socket.IO live pushes")]
pub struct Cli {
    /// The service settings.
    #[command(flatten)]
    pub config: Config,
}

/// Settings of the realtime service.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// HTTP port for the API, Socket.IO (/socket.io), /healthz, /readyz and /metrics.
    #[arg(long, env = "PORT", default_value_t = 8003)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: String,
    /// MySQL (or MariaDB) URL including the database name; only read.
    #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306/grades")]
    pub mysql_url: String,
    /// Redis URL for live counters and the events channel.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "REDIS_PREFIX", default_value = "grades:")]
    pub redis_prefix: String,
    /// Most connections in the MySQL pool.
    #[arg(long, env = "MYSQL_MAX_CONNECTIONS", default_value_t = 10)]
    pub mysql_max_connections: u32,
    /// HTTP timeouts, connection limit and drain deadline.
    #[command(flatten)]
    pub http: HttpArgs,
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
}

/// The `realtime` process.
pub async fn main(cli: Cli) -> std::process::ExitCode {
    let deadline = cli.config.http.limits().drain_deadline;
    let serve = |shutdown| async move { Application::build(cli.config).await?.run(shutdown).await.map_err(|e| e.to_string()) };
    grades_kit::service_main("realtime", deadline, serve).await
}

/// The realtime service, bound and ready to [`run`](Self::run).
pub struct Application {
    listener: TcpListener,
    /// The listener's address, read once when bound.
    local_addr: SocketAddr,
    router: axum::Router,
    state: AppState,
    io: SocketIo,
    limits: HttpLimits,
}

impl Application {
    /// Binds the port and wires everything; connects lazily, so it starts while MySQL or Redis
    /// is down (and reports not-ready until they answer).
    pub async fn build(config: Config) -> Result<Self, String> {
        let mut registry = MetricsRegistry::new();
        let metrics = RealtimeMetrics::register(&mut registry);
        let pool_config = PoolConfig { max_connections: config.mysql_max_connections, ..PoolConfig::default() };
        let pool = mysql::lazy_pool(&config.mysql_url, &pool_config).map_err(|e| format!("MYSQL_URL is not valid: {e}"))?;
        let live = LiveStore::new(&config.redis_url, config.redis_prefix.clone()).map_err(|e| format!("REDIS_URL is not valid: {e}"))?;
        let state = AppState { catalog: CatalogCache::new(pool.clone()), pool, live, metrics, hub: Arc::new(Hub::default()) };

        let (socket_layer, io) = SocketIo::builder().with_state(state.clone()).build_layer();
        socket::register(&io);

        // Open CORS: the dashboard is served from another origin. POST is for Socket.IO long-polling.
        let cors = CorsLayer::new().allow_origin(Any).allow_methods([Method::GET, Method::POST]).allow_headers(Any);
        let router = api::router(state.clone()).merge(health_router(readiness(&state), registry.freeze())).layer(socket_layer).layer(cors);

        let address = format!("{}:{}", config.bind_address, config.port);
        let listener = TcpListener::bind(&address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let local_addr = listener.local_addr().map_err(|e| format!("cannot read the address bound for {address}: {e}"))?;
        Ok(Self { listener, local_addr, router, state, io, limits: config.http.limits() })
    }

    /// The address it listens on (the actual port when built with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown`: then disconnects Socket.IO clients, stops accepting, finishes
    /// in-flight requests and ends the background tasks.
    pub async fn run(self, shutdown: Shutdown) -> std::io::Result<()> {
        let Self { listener, local_addr, router, state, io, limits } = self;
        tracing::info!(address = %local_addr, "realtime listening");
        let tasks = [
            tokio::spawn(live::run_subscriber(state.clone(), io.clone(), shutdown.wait())),
            tokio::spawn(live::run_flusher(state.clone(), io.clone(), shutdown.wait())),
            tokio::spawn(live::run_routes_ticker(state.clone(), io.clone(), shutdown.wait())),
        ];
        // Long-polling requests and WebSockets would otherwise hold the graceful shutdown open.
        let closer = tokio::spawn({
            let (io, stop) = (io.clone(), shutdown.wait());
            async move {
                stop.await;
                io.close().await;
            }
        });
        let served = grades_kit::serve_http(listener, router, limits, shutdown.wait()).await;
        shutdown.trigger();
        for task in tasks {
            let _ = task.await;
        }
        let _ = closer.await;
        tracing::info!("realtime stopped");
        served
    }
}

/// Ready when MySQL and Redis both answer; the events subscription is reported alongside.
fn readiness(state: &AppState) -> ReadinessCheck {
    let state = state.clone();
    Arc::new(move || {
        let state = state.clone();
        async move {
            let mut report = ReadyReport::new();
            let (mysql, redis) = tokio::join!(within_a_second(mysql::ping(&state.pool)), within_a_second(state.live.ping()));
            report.require("mysql", mysql);
            report.require("redis", redis);
            let events = if state.hub.subscribed() { Ok(()) } else { Err("not subscribed to the events channel".to_owned()) };
            report.optional("redis_events", events);
            report
        }
        .boxed()
    })
}
