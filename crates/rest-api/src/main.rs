//! The `rest-api` binary: flags and environment in, [`rest_api::main`] out.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rest_api::main(clap::Parser::parse()).await
}
