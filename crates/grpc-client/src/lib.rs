//! Route 1 ("grpc"), HTTP side: serves `POST /grades` with the shared HTTP front and forwards each
//! validated grade over one long-lived gRPC channel to grpc-server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use grades_domain::{Catalog, Course, CourseCode, IdempotencyKey, NewGrade, Route};
use grades_ingest::{http::grades_router, Accepted, GradeSink, IngestError};
use grades_kit::{health_router, HttpMetrics, MetricsRegistry, ReadyReport, Shutdown};
use grades_proto::error_from_status;
use grades_proto::v1::grade_ingestion_client::GradeIngestionClient;
use grades_proto::v1::{Grade, ListCoursesRequest, SubmitGradeRequest};
use grades_storage::latency::LatencyRecorder;
use grades_storage::LiveState;
use tokio::net::TcpListener;
use tokio::sync::RwLock;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[derive(Debug, clap::Parser)]
#[command(name = "grpc-client", version, about = "Route 1 (grpc), HTTP side: forwards POST /grades over gRPC to grpc-server")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// HTTP port for POST /grades, /healthz, /readyz and /metrics.
    #[arg(long, env = "PORT", default_value_t = 8001)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: String,
    /// grpc-server address.
    #[arg(long, env = "GRPC_SERVER_URL", default_value = "http://127.0.0.1:50051")]
    pub grpc_server_url: String,
    /// Redis URL, for the route's shared latency figures.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key.
    #[arg(long, env = "REDIS_PREFIX", default_value = "grades:")]
    pub redis_prefix: String,
    /// Deadline of one forwarded call, in milliseconds.
    #[arg(long, env = "GRPC_TIMEOUT_MS", default_value_t = 10_000)]
    pub grpc_timeout_ms: u64,
}

const CATALOG_TTL: Duration = Duration::from_secs(30);
const GRADE_SERVICE: &str = "grades.v1.GradeIngestion";

/// Forwards to grpc-server. The channel is created once and cloned per call (HTTP/2 multiplexing,
/// reconnects on its own): never a connection per request.
pub struct GrpcSink {
    client: GradeIngestionClient<Channel>,
    health: HealthClient<Channel>,
    catalog: RwLock<Option<(Arc<Catalog>, Instant)>>,
}

impl GrpcSink {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let channel = Endpoint::from_shared(url.to_owned())
            .map_err(|e| format!("GRPC_SERVER_URL {url:?} is not a valid URL: {e}"))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true)
            .connect_lazy();
        Ok(Self { client: GradeIngestionClient::new(channel.clone()), health: HealthClient::new(channel), catalog: RwLock::new(None) })
    }

    async fn check_server(&self) -> Result<(), String> {
        let response = self
            .health
            .clone()
            .check(HealthCheckRequest { service: GRADE_SERVICE.to_owned() })
            .await
            .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?;
        match response.into_inner().status() {
            ServingStatus::Serving => Ok(()),
            other => Err(format!("grpc-server reports {other:?}")),
        }
    }
}

impl GradeSink for GrpcSink {
    fn route(&self) -> Route {
        Route::Grpc
    }

    async fn catalog(&self) -> Result<Arc<Catalog>, IngestError> {
        if let Some((catalog, loaded)) = self.catalog.read().await.as_ref() {
            if loaded.elapsed() < CATALOG_TTL {
                return Ok(catalog.clone());
            }
        }
        let mut slot = self.catalog.write().await;
        match self.client.clone().list_courses(ListCoursesRequest {}).await {
            Ok(response) => {
                let courses = response.into_inner().courses.into_iter().filter_map(|c| {
                    CourseCode::parse(&c.code).ok().map(|code| Course { code, name: c.name })
                });
                let catalog = Arc::new(Catalog::new(courses));
                *slot = Some((catalog.clone(), Instant::now()));
                Ok(catalog)
            }
            Err(status) => match slot.as_ref() {
                Some((stale, _)) => Ok(stale.clone()),
                None => Err(error_from_status(&status)),
            },
        }
    }

    async fn submit(&self, grade: NewGrade, key: Option<IdempotencyKey>) -> Result<Accepted, IngestError> {
        let request = SubmitGradeRequest {
            grade: Some(Grade {
                carnet: grade.carnet.get(),
                nombre: grade.nombre.as_str().to_owned(),
                curso: grade.curso.as_str().to_owned(),
                nota: u32::from(grade.nota.get()),
                semestre: grade.semestre.as_str().to_owned(),
                year: u32::from(grade.year.get()),
            }),
            idempotency_key: key.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        };
        match self.client.clone().submit_grade(request).await {
            Ok(response) => {
                let response = response.into_inner();
                Ok(Accepted { id: response.id, replayed: response.replayed })
            }
            Err(status) => Err(error_from_status(&status)),
        }
    }
}

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    live: LiveState,
    latency: LatencyRecorder,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, String> {
        let mut registry = MetricsRegistry::new();
        let http_metrics = HttpMetrics::register(&mut registry);
        let sink = Arc::new(GrpcSink::new(&config.grpc_server_url, Duration::from_millis(config.grpc_timeout_ms))?);
        let live = LiveState::new(&config.redis_url, config.redis_prefix.clone()).map_err(|e| format!("REDIS_URL is not valid: {e}"))?;
        let latency = LatencyRecorder::default();

        let (probe, redis) = (sink.clone(), live.clone());
        let readiness = Arc::new(move || {
            let (probe, redis) = (probe.clone(), redis.clone());
            async move {
                let mut report = ReadyReport::new();
                report.require("grpc-server", probe.check_server().await);
                report.optional("redis", redis.ping().await.map_err(|e| e.to_string()));
                report
            }
            .boxed()
        });
        let router = grades_router(sink, http_metrics, latency.clone()).merge(health_router(readiness, registry.freeze()));
        let address = format!("{}:{}", config.bind_address, config.port);
        let listener = TcpListener::bind(&address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
        Ok(Self { listener, router, live, latency })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub async fn run(self, shutdown: Shutdown) -> std::io::Result<()> {
        let Self { listener, router, live, latency } = self;
        tracing::info!(address = %listener.local_addr()?, "grpc-client listening");
        let flusher = tokio::spawn(latency.run_flusher(live, shutdown.wait()));
        let served = grades_kit::serve_http(listener, router, shutdown.wait()).await;
        let _ = flusher.await;
        tracing::info!("grpc-client stopped");
        served
    }
}
