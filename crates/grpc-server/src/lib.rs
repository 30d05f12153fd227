//! Route 1 ("grpc"), server side: the `GradeIngestion` gRPC service over the shared ingestion
//! service, plus the standard gRPC health and server reflection services. `/healthz`, `/readyz`,
//! `/metrics` are served over HTTP on a separate port.

use std::net::SocketAddr;
use std::time::Instant;

use grades_domain::{IngestError, Route};
use grades_front::GradeSink;
use grades_ingest::runtime::MysqlProbe;
use grades_ingest::{IngestService, StorageRuntime, StoringArgs};
use grades_kit::{health_router, HttpLimits, HttpServer, IngestAuthArgs, IngestToken, MetricsRegistry, Shutdown};
use grades_proto::v1::grade_ingestion_server::{GradeIngestion, GradeIngestionServer};
use grades_proto::v1::{ListCoursesRequest, ListCoursesResponse, SubmitGradeRequest, SubmitGradeResponse};
use grades_proto::{courses_response, grade_from_request, status_from_error};
use grades_storage::StorageMetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// Settings of the grpc-server service: its flags, each with an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "grpc-server", version, about = "Route 1 (grpc), server side: stores grades received over gRPC")]
pub struct Config {
    /// gRPC port (GradeIngestion, grpc.health.v1.Health and server reflection).
    #[arg(long, env = "GRPC_PORT", default_value_t = 50051)]
    pub grpc_port: u16,
    /// HTTP port for /healthz, /readyz and /metrics.
    #[arg(long, env = "PORT", default_value_t = 8011)]
    pub port: u16,
    /// The optional token every GradeIngestion call must carry in its `authorization` metadata.
    #[command(flatten)]
    pub auth: IngestAuthArgs,
    /// Storage and HTTP settings every storing service shares.
    #[command(flatten)]
    pub shared: StoringArgs,
}

/// The `grpc-server` process: serve, or run one of its subcommands.
pub async fn main(config: Config) -> std::process::ExitCode {
    let shared = config.shared.clone();
    grades_ingest::runtime::storing_main("grpc-server", &shared, |shutdown| async move {
        Application::build(config).await?.run(shutdown).await.map_err(|e| e.to_string())
    })
    .await
}

/// The gRPC face of a grade sink: the ingestion service in grpc-server; any other [`GradeSink`]
/// (one that stores nothing, one that fails on purpose) where only the protocol is measured or
/// tested.
pub struct GrpcIngestion<S> {
    sink: S,
    metrics: GrpcMetrics,
}

/// Labels of the handled-calls counter, named as the gRPC ecosystem's Prometheus interceptors name them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `SubmitGrade` or `ListCourses`.
    pub grpc_method: &'static str,
    /// The status code answered (`OK`, `InvalidArgument`, `Unavailable`, ...).
    pub grpc_code: String,
}

/// Label of the handling-time histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    /// `SubmitGrade` or `ListCourses`.
    pub grpc_method: &'static str,
}

/// grpc-server's side of route 1: its calls by method and status, and their handling time, so the
/// gRPC hop can be told apart from grpc-client's end-to-end latency.
#[derive(Clone)]
pub struct GrpcMetrics {
    handled: Family<CallLabels, Counter>,
    handling: Family<MethodLabel, Histogram>,
}

impl GrpcMetrics {
    /// Registers `grades_grpc_server_handled_total` and `grades_grpc_server_handling_seconds`.
    pub fn register(registry: &mut MetricsRegistry) -> Self {
        let metrics =
            Self { handled: Family::default(), handling: Family::new_with_constructor(grades_kit::metrics::request_seconds_histogram) };
        let registry = registry.registry_mut().sub_registry_with_prefix("grades_grpc_server");
        registry.register("handled", "GradeIngestion calls answered, by method and status code", metrics.handled.clone());
        registry.register("handling_seconds", "Time grpc-server took to answer a GradeIngestion call", metrics.handling.clone());
        metrics
    }

    fn observe<T>(&self, method: &'static str, started: Instant, result: &Result<T, Status>) {
        let code = match result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        self.handled.get_or_create(&CallLabels { grpc_method: method, grpc_code: format!("{code:?}") }).inc();
        self.handling.get_or_create(&MethodLabel { grpc_method: method }).observe(started.elapsed().as_secs_f64());
    }
}

impl<S: GradeSink> GrpcIngestion<S> {
    /// The gRPC face of `sink`, counting its calls in `metrics`.
    pub fn new(sink: S, metrics: GrpcMetrics) -> Self {
        Self { sink, metrics }
    }

    async fn submit(&self, request: &SubmitGradeRequest) -> Result<SubmitGradeResponse, IngestError> {
        let catalog = self.sink.catalog().await?;
        let (grade, key) = grade_from_request(request, &catalog)?;
        let accepted = self.sink.submit(grade, key).await?;
        Ok(SubmitGradeResponse { id: accepted.id, replayed: accepted.replayed })
    }
}

#[tonic::async_trait]
impl<S: GradeSink> GradeIngestion for GrpcIngestion<S> {
    async fn submit_grade(&self, request: Request<SubmitGradeRequest>) -> Result<Response<SubmitGradeResponse>, Status> {
        let started = Instant::now();
        let answer = self.submit(request.get_ref()).await.map(Response::new).map_err(|error| status_from_error(&error));
        self.metrics.observe("SubmitGrade", started, &answer);
        answer
    }

    async fn list_courses(&self, _request: Request<ListCoursesRequest>) -> Result<Response<ListCoursesResponse>, Status> {
        let started = Instant::now();
        let answer = match self.sink.catalog().await {
            Ok(catalog) => Ok(Response::new(courses_response(&catalog))),
            Err(error) => Err(status_from_error(&error)),
        };
        self.metrics.observe("ListCourses", started, &answer);
        answer
    }
}

/// Refuses a GradeIngestion call without the configured token in its `authorization` metadata
/// (`Bearer <token>`) with UNAUTHENTICATED; without a token configured, lets every call through.
/// The gRPC health service stays open, like `/healthz`.
#[derive(Clone)]
pub struct CheckToken(Option<IngestToken>);

impl tonic::service::Interceptor for CheckToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(token) = &self.0 else { return Ok(request) };
        match token.check(request.metadata().get("authorization").map(|value| value.as_bytes())) {
            Ok(()) => Ok(request),
            Err(failure) => Err(Status::unauthenticated(failure.message())),
        }
    }
}

/// Accepted gRPC connections with Nagle's algorithm off. `serve_with_incoming` takes the sockets
/// as they are (tonic's own `tcp_nodelay` only applies to listeners it binds), and a small
/// response held back until the client's delayed ACK costs ~40 ms: it showed as a 40 ms p99.
fn incoming_without_delay(listener: TcpListener) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|accepted| {
        let stream = accepted?;
        stream.set_nodelay(true)?;
        Ok(stream)
    })
}

/// The gRPC health status follows MySQL: SERVING while it answers, NOT_SERVING while it does not,
/// so grpc-client's readiness (which asks this service) turns 503 when every grade would.
async fn follow_mysql(
    reporter: tonic_health::server::HealthReporter,
    mysql: MysqlProbe,
    mut serving: bool,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = &mut shutdown => return,
        }
        serving = report_mysql(&reporter, mysql.answers().await, Some(serving)).await;
    }
}

async fn report_mysql(reporter: &tonic_health::server::HealthReporter, up: bool, was: Option<bool>) -> bool {
    if was != Some(up) {
        if up {
            reporter.set_serving::<GradeIngestionServer<GrpcIngestion<IngestService>>>().await;
        } else {
            tracing::warn!("MySQL does not answer; reporting NOT_SERVING");
            reporter.set_not_serving::<GradeIngestionServer<GrpcIngestion<IngestService>>>().await;
        }
    }
    up
}

/// gRPC server reflection over `grades.v1` and the health service, in both versions of the
/// protocol (v1, and v1alpha that older grpcurl and Postman still ask first), so people can list
/// and call the services with their own tools without the proto file. Like health it carries no
/// token check: it only describes.
#[allow(clippy::type_complexity)]
fn reflection_services() -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>,
        tonic_reflection::server::v1alpha::ServerReflectionServer<impl tonic_reflection::server::v1alpha::ServerReflection>,
    ),
    tonic_reflection::server::Error,
> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(grades_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok((builder().build_v1()?, builder().build_v1alpha()?))
}

/// The grpc-server service, both ports bound, ready to [`run`](Self::run).
pub struct Application {
    grpc_listener: TcpListener,
    /// The gRPC listener's address, read once when bound.
    grpc_addr: SocketAddr,
    http: HttpServer,
    http_router: axum::Router,
    storage: StorageRuntime,
    service: IngestService,
    metrics: GrpcMetrics,
    token: Option<IngestToken>,
    limits: HttpLimits,
}

impl Application {
    /// Starts the storage runtime (migrating if configured) and binds both ports.
    pub async fn build(config: Config) -> Result<Self, String> {
        let token = config.auth.token()?;
        let mut registry = MetricsRegistry::new();
        registry.route_info(Route::Grpc.as_str());
        let metrics = GrpcMetrics::register(&mut registry);
        let storage_metrics = StorageMetrics::new();
        storage_metrics.register(registry.registry_mut(), Route::Grpc);
        let storage = StorageRuntime::start(&config.shared.storage, storage_metrics).await?;
        let service = IngestService::new(Route::Grpc, storage.pool.clone(), storage.writer.clone());
        let service = service.discard_grades(config.shared.discard_grades);
        let http_router = health_router(storage.readiness(), registry.freeze());
        let grpc_address = format!("{}:{}", config.shared.http.bind_address, config.grpc_port);
        let grpc_listener = TcpListener::bind(&grpc_address).await.map_err(|e| format!("cannot listen on {grpc_address}: {e}"))?;
        let grpc_addr = grpc_listener.local_addr().map_err(|e| format!("cannot read the address bound for {grpc_address}: {e}"))?;
        let http = HttpServer::bind(&config.shared.http, config.port).await?;
        Ok(Self { grpc_listener, grpc_addr, http, http_router, storage, service, metrics, token, limits: config.shared.http.limits() })
    }

    /// Serves until `shutdown`, then finishes in-flight calls, drains the writer and exits.
    pub async fn run(self, shutdown: Shutdown) -> std::io::Result<()> {
        let Self { grpc_listener, grpc_addr, http, http_router, storage, service, metrics, token, limits } = self;
        let (reflection_v1, reflection_v1alpha) = match reflection_services() {
            Ok(services) => services,
            Err(error) => {
                storage.stop().await;
                return Err(std::io::Error::other(format!("gRPC reflection: {error}")));
            }
        };
        tracing::info!(grpc = %grpc_addr, "grpc-server listening for gRPC");
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        // The first status is set before serving, so no caller ever sees the service unknown.
        let mysql = storage.mysql_probe();
        let serving = report_mysql(&health_reporter, mysql.answers().await, None).await;
        storage.tasks.spawn("grpc-health", follow_mysql(health_reporter, mysql, serving, shutdown.wait()));
        // Keepalive pings find dead clients; a call has the same deadline as an HTTP request.
        let grpc = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(limits.header_read_timeout))
            .http2_keepalive_timeout(Some(limits.header_read_timeout))
            .max_concurrent_streams(Some(1024))
            .timeout(limits.header_read_timeout + limits.body_timeout)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(GradeIngestionServer::with_interceptor(GrpcIngestion::new(service, metrics), CheckToken(token)))
            .serve_with_incoming_shutdown(incoming_without_delay(grpc_listener), shutdown.wait());
        let http = http.serve("grpc-server", http_router, shutdown.wait());
        let (grpc, http) = tokio::join!(grpc, http);
        storage.stop().await;
        tracing::info!("grpc-server stopped");
        grpc.map_err(std::io::Error::other)?;
        http
    }

    /// The gRPC address (the actual port when built with port 0).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The HTTP address of `/healthz`, `/readyz` and `/metrics`.
    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }
}
