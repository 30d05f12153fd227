// mimalloc: the request path allocates a little per grade; the system allocator showed ~8% of CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use realtime::{Application, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let drain_deadline = cli.config.http.limits().drain_deadline;
    let _logs = grades_kit::telemetry::init("realtime");
    let result = match Application::build(cli.config).await {
        Ok(app) => app.run(grades_kit::Shutdown::new().on_signal().exit_after(drain_deadline)).await.map_err(|e| e.to_string()),
        Err(error) => Err(error),
    };
    grades_kit::exit_code("realtime", result)
}
