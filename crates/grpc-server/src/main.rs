//! The `grpc-server` binary: flags and environment in, [`grpc_server::main`] out.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    grpc_server::main(clap::Parser::parse()).await
}
