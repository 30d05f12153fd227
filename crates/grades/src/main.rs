//! `grades`: grpc-client, grpc-server, rest-api and realtime in one executable, for the
//! container image. It runs the service its own name says (the image links the four names to
//! it), or the one its first argument names (`grades rest-api --port 8002`); the other arguments
//! go to that service as to its own binary, subcommands included (`grpc-server migrate`).
//!
//! Why one executable: a release build links the whole dependency graph (tokio, sqlx, tonic,
//! axum, ...) into each binary with link-time optimisation, the longest step of an image build;
//! one executable does that once instead of four times, and the image carries one copy of it.
//! Natively each service keeps its own binary (`cargo run --bin rest-api`).

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

// mimalloc, set by the executable (a library never chooses the allocator): the request path
// allocates a little per grade, and the system allocator showed ~8% of the services' CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SERVICES: [&str; 4] = ["grpc-client", "grpc-server", "rest-api", "realtime"];

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if !args.first().is_some_and(|own| SERVICES.contains(&file_name(own).as_str())) && args.len() > 1 {
        // `grades SERVICE ARGS...`: the service's name stands first, as if it had been invoked.
        args.remove(0);
    }
    let service = args.first().map(file_name).unwrap_or_default();
    match service.as_str() {
        "grpc-client" => grpc_client::main(Parser::parse_from(args)).await,
        "grpc-server" => grpc_server::main(Parser::parse_from(args)).await,
        "rest-api" => rest_api::main(Parser::parse_from(args)).await,
        "realtime" => realtime::main(Parser::parse_from(args)).await,
        _ => {
            eprintln!("grades: no service {service:?}: run it as one of {SERVICES:?} (a link of that name), or `grades SERVICE [ARGS...]`");
            ExitCode::from(64)
        }
    }
}

fn file_name(arg: &OsString) -> String {
    Path::new(arg).file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}
