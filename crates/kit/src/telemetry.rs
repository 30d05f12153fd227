use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Structured logs: JSON lines by default (for collectors), readable lines on a terminal or with
/// `LOG_FORMAT=pretty`. Level from `RUST_LOG` (default `info`).
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("pretty") => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if json { builder.json().flatten_event(true).with_current_span(false).try_init() } else { builder.compact().try_init() };
    // A second init (tests start several services in one process) keeps the first subscriber.
    if result.is_ok() {
        tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "starting");
    }
}
