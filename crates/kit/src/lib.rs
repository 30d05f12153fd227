//! Plumbing shared by every grades process, so each binary is a thin `main` over its library.

pub mod auth;
pub mod cache;
pub mod health;
pub mod metrics;
pub mod problem;
pub mod process;
pub mod serve;
pub mod shutdown;
pub mod tasks;
pub mod telemetry;

pub use auth::{require_token, IngestAuthArgs, IngestToken};
pub use cache::Refreshed;
pub use health::{health_router, within_a_second, ReadinessCheck, ReadyReport};
pub use metrics::{HttpMetrics, MetricsRegistry};
pub use problem::Problem;
pub use serve::{serve_http, HttpArgs, HttpLimits, HttpServer};
pub use shutdown::{shutdown_signal, Shutdown};
pub use tasks::{spawn_logged, TaskOutcome, Tasks};

/// The life of a service process: structured logs, then `serve` until SIGTERM or Ctrl-C (after
/// which the process has `drain_deadline` to stop), then the exit status.
pub async fn service_main<F, Fut>(service: &str, drain_deadline: std::time::Duration, serve: F) -> std::process::ExitCode
where
    F: FnOnce(Shutdown) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let _logs = telemetry::init(service);
    let shutdown = Shutdown::new().on_signal().exit_after(drain_deadline);
    exit_code(service, serve(shutdown).await)
}

/// Turns a service's result into its exit status, printing a failure as one line on stderr.
pub fn exit_code(service: &str, result: Result<(), String>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Not eprintln!: it panics when stderr is a broken pipe.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{service}: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
