//! Route 1 ("grpc"), HTTP side: serves `POST /grades` with the shared HTTP front and forwards each
//! validated grade over one long-lived gRPC channel to grpc-server.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use grades_domain::{Catalog, IdempotencyKey, IngestError, NewGrade, Route};
use grades_front::{grades_router, Accepted, GradeSink};
use grades_kit::{
    health_router, require_token, within_a_second, HttpArgs, HttpMetrics, HttpServer, IngestAuthArgs, IngestToken, MetricsRegistry,
    ReadyReport, Refreshed, Shutdown, Tasks,
};
use grades_live::latency::LatencyRecorder;
use grades_live::{LiveStore, RedisArgs};
use grades_proto::v1::grade_ingestion_client::GradeIngestionClient;
use grades_proto::v1::ListCoursesRequest;
use grades_proto::{catalog_from_response, error_from_status, request_from_grade};
use tonic::metadata::AsciiMetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// Settings of the grpc-client service: its flags, each with an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "grpc-client", version, about = "Route 1 (grpc), HTTP side: forwards POST /grades over gRPC to grpc-server")]
pub struct Config {
    /// HTTP port for POST /grades, /healthz, /readyz and /metrics.
    #[arg(long, env = "PORT", default_value_t = 8001)]
    pub port: u16,
    /// How grades are forwarded to grpc-server.
    #[command(flatten)]
    pub grpc: GrpcArgs,
    /// Redis, for the route's shared latency figures.
    #[command(flatten)]
    pub redis: RedisArgs,
    /// The optional token POST /grades requires; also sent to grpc-server with every call.
    #[command(flatten)]
    pub auth: IngestAuthArgs,
    /// Listen address, HTTP timeouts, connection limit and drain deadline.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Where and how grpc-client reaches grpc-server.
#[derive(Debug, Clone, clap::Args)]
pub struct GrpcArgs {
    /// grpc-server address.
    #[arg(long, env = "GRPC_SERVER_URL", default_value = "http://127.0.0.1:50051")]
    pub grpc_server_url: String,
    /// Deadline of one forwarded call, in milliseconds.
    #[arg(long, env = "GRPC_TIMEOUT_MS", default_value_t = 10_000)]
    pub grpc_timeout_ms: u64,
    /// Spread calls over every address GRPC_SERVER_URL's host resolves to, re-resolved every 10 s
    /// (point it at a headless Kubernetes Service so new grpc-server replicas get traffic).
    #[arg(long, env = "GRPC_BALANCE_DNS", default_value_t = false, action = clap::ArgAction::Set)]
    pub grpc_balance_dns: bool,
    /// Connections to grpc-server: N long-lived HTTP/2 channels taken in turn (h2 serialises a
    /// connection's streams behind one lock, so more than one can help at high rates), or
    /// `per-request`, a new connection for every grade (the original course project's style,
    /// kept to measure what it costs; never for serving).
    #[arg(long, env = "GRPC_CHANNELS", default_value = "1")]
    pub grpc_channels: Connections,
}

/// How many connections grpc-client keeps to grpc-server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// This many long-lived channels, used in turn.
    Shared(std::num::NonZeroUsize),
    /// A new connection for each call.
    PerRequest,
}

impl std::str::FromStr for Connections {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "per-request" => Ok(Self::PerRequest),
            number => number
                .parse()
                .map(Self::Shared)
                .map_err(|_| format!("GRPC_CHANNELS must be a number of channels from 1 up, or per-request (got {number:?})")),
        }
    }
}

const GRADE_SERVICE: &str = "grades.v1.GradeIngestion";

type Client = GradeIngestionClient<InterceptedService<Channel, SendToken>>;

/// Forwards to grpc-server. Channels are created once and cloned per call (HTTP/2 multiplexing,
/// reconnects on their own); a connection per request only when asked for, to measure it.
pub struct GrpcSink {
    /// The long-lived channels, taken in turn (the first also serves the catalog).
    clients: Vec<Client>,
    next: AtomicUsize,
    /// Set with `GRPC_CHANNELS=per-request`: where each call connects anew.
    per_request: Option<(Endpoint, SendToken)>,
    health: HealthClient<Channel>,
    catalog: Refreshed<Catalog>,
    /// The DNS resolver of a balanced channel, aborted with the sink (its failure fails readiness).
    _resolver: Tasks,
}

impl GrpcSink {
    /// A sink for the grpc-server `args` name, connecting lazily. With a `token`, every
    /// GradeIngestion call carries it as `authorization: Bearer <token>`. The resolver of a
    /// balanced channel runs in a group of `tasks`.
    pub fn new(args: &GrpcArgs, token: Option<&IngestToken>, tasks: &Tasks) -> Result<Self, String> {
        let resolver = tasks.group();
        let send_token = SendToken::new(token)?;
        let timeout = Duration::from_millis(args.grpc_timeout_ms);
        let endpoint = move |url: &str| {
            Endpoint::from_shared(url.to_owned()).map(|e| {
                e.connect_timeout(Duration::from_secs(2))
                    .timeout(timeout)
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_while_idle(true)
            })
        };
        let url = &args.grpc_server_url;
        let template = endpoint(url).map_err(|e| format!("GRPC_SERVER_URL {url:?} is not a valid URL: {e}"))?;
        let channels = match (args.grpc_channels, args.grpc_balance_dns) {
            (Connections::Shared(n), false) => (0..n.get()).map(|_| template.connect_lazy()).collect(),
            (Connections::PerRequest, false) => vec![template.connect_lazy()],
            (Connections::Shared(n), true) if n.get() == 1 => {
                let (channel, changes) = Channel::balance_channel(64);
                let uri = template.uri().clone();
                let host = uri.host().ok_or_else(|| format!("GRPC_SERVER_URL {url:?} has no host"))?.to_owned();
                let port = uri.port_u16().unwrap_or(50051);
                let scheme = uri.scheme_str().unwrap_or("http").to_owned();
                let endpoint = move |address| endpoint(&format!("{scheme}://{address}")).ok();
                resolver.spawn("grpc-resolver", resolve_forever(host, port, changes, endpoint));
                vec![channel]
            }
            _ => return Err("GRPC_BALANCE_DNS takes one channel (it opens one connection per address): leave GRPC_CHANNELS at 1".into()),
        };
        let per_request = (args.grpc_channels == Connections::PerRequest).then(|| (template.clone(), send_token.clone()));
        Ok(Self {
            health: HealthClient::new(channels[0].clone()),
            clients: channels.into_iter().map(|channel| GradeIngestionClient::with_interceptor(channel, send_token.clone())).collect(),
            next: AtomicUsize::new(0),
            per_request,
            catalog: Refreshed::new(Catalog::REFRESH),
            _resolver: resolver,
        })
    }

    /// The client for the next call: the next channel in turn, or a new connection.
    async fn client(&self) -> Result<Client, IngestError> {
        if let Some((endpoint, token)) = &self.per_request {
            let channel = endpoint.connect().await.map_err(|e| IngestError::unavailable(format_args!("grpc-server: {e}")))?;
            return Ok(GradeIngestionClient::with_interceptor(channel, token.clone()));
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        Ok(self.clients[turn].clone())
    }

    async fn check_server(&self) -> Result<(), String> {
        let mut request = tonic::Request::new(HealthCheckRequest { service: GRADE_SERVICE.to_owned() });
        request.set_timeout(Duration::from_secs(1));
        let response = self.health.clone().check(request).await.map_err(|status| format!("{:?}: {}", status.code(), status.message()))?;
        match response.into_inner().status() {
            ServingStatus::Serving => Ok(()),
            other => Err(format!("grpc-server reports {other:?}")),
        }
    }
}

/// Adds grpc-client's own `INGEST_TOKEN` to every GradeIngestion call (grpc-server checks it).
#[derive(Clone)]
pub struct SendToken(Option<AsciiMetadataValue>);

impl SendToken {
    fn new(token: Option<&IngestToken>) -> Result<Self, String> {
        let value = token
            .map(|token| format!("Bearer {}", token.secret()).parse::<AsciiMetadataValue>())
            .transpose()
            .map_err(|_| "INGEST_TOKEN cannot be sent as gRPC metadata; use letters, digits and -._~+/".to_owned())?;
        Ok(Self(value))
    }
}

impl Interceptor for SendToken {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Keeps the balanced channel's endpoints equal to what `host` resolves to (grpc-server pods
/// behind a headless Service), so replicas added by the autoscaler start taking calls.
async fn resolve_forever(
    host: String,
    port: u16,
    changes: tokio::sync::mpsc::Sender<Change<SocketAddr, Endpoint>>,
    endpoint: impl Fn(SocketAddr) -> Option<Endpoint> + Send + 'static,
) {
    let mut current: HashSet<SocketAddr> = HashSet::new();
    loop {
        match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(addresses) => {
                let resolved: HashSet<SocketAddr> = addresses.collect();
                for gone in current.difference(&resolved) {
                    let _ = changes.send(Change::Remove(*gone)).await;
                }
                for new in resolved.difference(&current) {
                    if let Some(endpoint) = endpoint(*new) {
                        let _ = changes.send(Change::Insert(*new, endpoint)).await;
                    }
                }
                if resolved != current {
                    tracing::info!(servers = resolved.len(), %host, "grpc-server addresses updated");
                }
                current = resolved;
            }
            Err(error) => tracing::warn!(%error, %host, "cannot resolve grpc-server; keeping the known addresses"),
        }
        if changes.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

impl GradeSink for GrpcSink {
    fn route(&self) -> Route {
        Route::Grpc
    }

    async fn catalog(&self) -> Result<Arc<Catalog>, IngestError> {
        self.catalog
            .get(|| async {
                let response =
                    self.clients[0].clone().list_courses(ListCoursesRequest {}).await.map_err(|status| error_from_status(&status))?;
                Ok(catalog_from_response(response.into_inner()))
            })
            .await
    }

    async fn submit(&self, grade: NewGrade, key: Option<IdempotencyKey>) -> Result<Accepted, IngestError> {
        let request = request_from_grade(&grade, key.as_ref());
        let response = self.client().await?.submit_grade(request).await.map_err(|status| error_from_status(&status))?.into_inner();
        Ok(Accepted { id: response.id, replayed: response.replayed })
    }
}

/// The `grpc-client` process.
pub async fn main(config: Config) -> std::process::ExitCode {
    let deadline = config.http.limits().drain_deadline;
    let serve = |shutdown| async move { Application::build(config).await?.run(shutdown).await.map_err(|e| e.to_string()) };
    grades_kit::service_main("grpc-client", deadline, serve).await
}

/// The grpc-client service, bound and ready to [`run`](Self::run).
pub struct Application {
    http: HttpServer,
    router: axum::Router,
    live: LiveStore,
    latency: LatencyRecorder,
    tasks: Tasks,
}

impl Application {
    /// Sets up the gRPC channel (connected lazily) and Redis, and binds the port.
    pub async fn build(config: Config) -> Result<Self, String> {
        let token = config.auth.token()?;
        let mut registry = MetricsRegistry::new();
        registry.route_info(Route::Grpc.as_str());
        let http_metrics = HttpMetrics::register(&mut registry);
        let tasks = Tasks::new();
        let sink = Arc::new(GrpcSink::new(&config.grpc, token.as_ref(), &tasks)?);
        let live = config.redis.store()?;
        let latency = LatencyRecorder::default();

        let (probe, redis, watched) = (sink.clone(), live.clone(), tasks.clone());
        let readiness = Arc::new(move || {
            let (probe, redis, watched) = (probe.clone(), redis.clone(), watched.clone());
            async move {
                let mut report = ReadyReport::new();
                report.require("grpc-server", probe.check_server().await);
                report.optional("redis", within_a_second(redis.ping()).await);
                watched.check(&mut report);
                report
            }
            .boxed()
        });
        // Only POST /grades needs the token: probes and Prometheus keep reaching /healthz, /readyz, /metrics.
        let grades = require_token(grades_router(sink, http_metrics, latency.clone()), token);
        let router = grades.merge(health_router(readiness, registry.freeze()));
        let http = HttpServer::bind(&config.http, config.port).await?;
        Ok(Self { http, router, live, latency, tasks })
    }

    /// Serves until `shutdown`, then finishes in-flight requests and flushes the latency figures.
    pub async fn run(self, shutdown: Shutdown) -> std::io::Result<()> {
        let Self { http, router, live, latency, tasks } = self;
        tasks.spawn("latency-flusher", latency.run_flusher(live, shutdown.wait()));
        let served = http.serve("grpc-client", router, shutdown.wait()).await;
        // Serving may also end on an error: the flusher ends on `shutdown`.
        shutdown.trigger();
        tasks.join_all().await;
        tracing::info!("grpc-client stopped");
        served
    }

    /// The address it listens on (the actual port when built with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::Connections;

    #[test]
    fn grpc_channels_is_a_count_from_one_or_per_request() {
        assert_eq!("per-request".parse::<Connections>(), Ok(Connections::PerRequest));
        assert_eq!("4".parse::<Connections>(), Ok(Connections::Shared(4.try_into().unwrap())));
        for bad in ["0", "-1", "many", ""] {
            assert!(bad.parse::<Connections>().unwrap_err().contains("GRPC_CHANNELS"), "{bad:?}");
        }
    }
}
