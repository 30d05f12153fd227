//! Structured logging.

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Structured logs: JSON lines by default (for collectors), readable lines on a terminal or with
/// `LOG_FORMAT=pretty`. Level from `RUST_LOG` (default `info`).
///
/// Lines go to stderr through a background writer that drops lines rather than wait: a full pipe
/// (a slow log reader) never blocks a request or a shutdown, and a broken one (a reader that died)
/// is ignored. Write errors are not reported with `eprintln!`, which panics on a broken pipe and
/// once took the signal handler (and so every shutdown) down with it. Keep the guard until exit:
/// dropping it flushes what is queued.
pub fn init(service: &str) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("pretty") => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).log_internal_errors(false);
    let result = if json { builder.json().flatten_event(true).with_current_span(false).try_init() } else { builder.compact().try_init() };
    // A second init (tests start several services in one process) keeps the first subscriber.
    if result.is_ok() {
        tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "starting");
        Some(guard)
    } else {
        None
    }
}
