//! The `realtime` binary: flags and environment in, [`realtime::main`] out.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    realtime::main(clap::Parser::parse()).await
}
