//! Plumbing shared by every grades process, so each binary is a thin `main` over its library.

pub mod cache;
pub mod health;
pub mod metrics;
pub mod problem;
pub mod serve;
pub mod shutdown;
pub mod telemetry;

pub use cache::Refreshed;
pub use health::{health_router, within_a_second, ReadinessCheck, ReadyReport};
pub use metrics::{HttpMetrics, MetricsRegistry};
pub use problem::Problem;
pub use serve::{serve_http, HttpArgs, HttpLimits};
pub use shutdown::{shutdown_signal, Shutdown};

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
