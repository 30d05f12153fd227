//! The `rest-api` binary: flags and environment in, [`rest_api::main`] out.

// mimalloc, set by the executable (a library never chooses the allocator): the request path
// allocates a little per grade, and the system allocator showed ~8% of the services' CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rest_api::main(clap::Parser::parse()).await
}
