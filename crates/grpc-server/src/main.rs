#[tokio::main]
async fn main() -> std::process::ExitCode {
    grpc_server::main(clap::Parser::parse()).await
}
