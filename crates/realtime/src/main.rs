#[tokio::main]
async fn main() -> std::process::ExitCode {
    realtime::main(clap::Parser::parse()).await
}
