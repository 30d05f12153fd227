#[tokio::main]
async fn main() -> std::process::ExitCode {
    grpc_client::main(clap::Parser::parse()).await
}
