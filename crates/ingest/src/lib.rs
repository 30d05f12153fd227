//! The ingestion service shared by both routes (validation and storage live here, once), and the
//! HTTP front of `POST /grades` that both HTTP services (grpc-client, rest-api) serve.

mod error;
pub mod http;
mod service;

pub use error::IngestError;
pub use service::{Accepted, GradeSink, IngestService, StorageArgs, StorageRuntime};
