//! The `grpc-client` binary: flags and environment in, [`grpc_client::main`] out.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    grpc_client::main(clap::Parser::parse()).await
}
