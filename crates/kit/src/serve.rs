//! The HTTP server every service runs: axum's router on hyper, with the limits a public server
//! needs and a shutdown with a deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Limits of one HTTP server, from the service's flags (see [`HttpArgs`]).
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// A client must send a request's whole header within this; an idle keep-alive connection is
    /// closed after it too. Slow or stuck clients cannot hold a connection (or a shutdown) open.
    pub header_read_timeout: Duration,
    /// A request's body must arrive within this.
    pub body_timeout: Duration,
    /// Connections open at once; beyond it new ones are closed at once.
    pub max_connections: usize,
    /// On shutdown, how long in-flight requests get to finish before their connections are cut.
    pub drain_deadline: Duration,
}

/// Where an HTTP server listens and its limits, as flags and environment variables shared by
/// every service (each has its own `PORT`).
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: String,
    /// Seconds a client has to send a request header (and an idle keep-alive connection stays open).
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECONDS", default_value_t = 10)]
    pub http_header_timeout_seconds: u64,
    /// Seconds a client has to send a request body.
    #[arg(long, env = "HTTP_BODY_TIMEOUT_SECONDS", default_value_t = 10)]
    pub http_body_timeout_seconds: u64,
    /// Most HTTP connections open at once.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub http_max_connections: usize,
    /// Seconds in-flight work gets to finish on SIGTERM or Ctrl-C before the process exits anyway
    /// (under Kubernetes' 30 s grace period).
    #[arg(long, env = "DRAIN_DEADLINE_SECONDS", default_value_t = 10)]
    pub drain_deadline_seconds: u64,
}

impl HttpArgs {
    /// The limits these flags set.
    pub fn limits(&self) -> HttpLimits {
        HttpLimits {
            header_read_timeout: Duration::from_secs(self.http_header_timeout_seconds.max(1)),
            body_timeout: Duration::from_secs(self.http_body_timeout_seconds.max(1)),
            max_connections: self.http_max_connections.max(1),
            drain_deadline: Duration::from_secs(self.drain_deadline_seconds),
        }
    }
}

/// A bound HTTP listener and the limits it will serve with.
pub struct HttpServer {
    listener: TcpListener,
    address: SocketAddr,
    limits: HttpLimits,
}

impl HttpServer {
    /// Binds `args.bind_address:port` (port 0: any free port); the error names the address.
    pub async fn bind(args: &HttpArgs, port: u16) -> Result<Self, String> {
        let wanted = format!("{}:{port}", args.bind_address);
        let listener = TcpListener::bind(&wanted).await.map_err(|e| format!("cannot listen on {wanted}: {e}"))?;
        let address = listener.local_addr().map_err(|e| format!("cannot read the address bound for {wanted}: {e}"))?;
        Ok(Self { listener, address, limits: args.limits() })
    }

    /// The address it listens on (the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Serves `router` until `shutdown` (see [`serve_http`]).
    pub async fn serve(
        self,
        service: &'static str,
        router: Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(address = %self.address, "{service} listening");
        serve_http(self.listener, router, self.limits, shutdown).await
    }
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish and
/// closes idle connections; whatever is still open after the drain deadline is cut.
pub async fn serve_http(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = with_limits(router, &limits);
    let builder = connection_builder(&limits);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // Tells connections still waiting for their first byte that the server is stopping: they hold
    // no request, so they close at once instead of holding the drain for the header timeout.
    let (stopping, stopping_seen) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(limit = limits.max_connections, "connection limit reached; closing a new connection");
            continue;
        };
        // Small responses go out at once instead of waiting on the client's delayed ACK (Nagle).
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            builder: builder.clone(),
            router: router.clone(),
            watcher: graceful.watcher(),
            first_byte_timeout: limits.header_read_timeout,
            stopping: stopping_seen.clone(),
            _permit: permit,
        };
        // The graceful shutdown below waits for it through its watcher; a panic is logged.
        crate::spawn_logged("http-connection", connection.serve(stream));
    }
    drop(listener);
    let _ = stopping.send(true);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.drain_deadline) => {
            tracing::warn!(deadline_seconds = limits.drain_deadline.as_secs(), "connections still open at the drain deadline; closing them");
        }
    }
    Ok(())
}

/// The router with the body timeout and request tracing (at debug level).
fn with_limits(router: Router, limits: &HttpLimits) -> Router {
    router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_timeout)).layer(
        tower_http::trace::TraceLayer::new_for_http()
            .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::DEBUG))
            .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG)),
    )
}

/// HTTP/1 and HTTP/2 with the header timeout, keep-alive pings and a stream limit.
fn connection_builder(limits: &HttpLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout)
        .max_concurrent_streams(256);
    builder
}

/// One accepted connection, holding its slot of the connection limit until it ends.
struct Connection {
    builder: Builder<TokioExecutor>,
    router: Router,
    watcher: Watcher,
    first_byte_timeout: Duration,
    stopping: tokio::sync::watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream) {
        // hyper picks HTTP/1 or HTTP/2 from the first bytes and waits for them with no timeout
        // (its header timeout starts at the first byte): a client that connects and sends
        // nothing would hold its connection, and a slot of the limit, forever.
        let mut first = [0u8; 1];
        let has_request = tokio::select! {
            peeked = tokio::time::timeout(self.first_byte_timeout, stream.peek(&mut first)) => matches!(peeked, Ok(Ok(1..))),
            _ = self.stopping.wait_for(|stopping| *stopping) => false,
        };
        if !has_request {
            return;
        }
        let connection = self.builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(self.router));
        let _ = self.watcher.watch(connection.into_owned()).await;
    }
}
