#[tokio::main]
async fn main() -> std::process::ExitCode {
    rest_api::main(clap::Parser::parse()).await
}
