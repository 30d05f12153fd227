//! The `grpc-server` binary: flags and environment in, [`grpc_server::main`] out.

// mimalloc, set by the executable (a library never chooses the allocator), as in `grades`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    grpc_server::main(clap::Parser::parse()).await
}
