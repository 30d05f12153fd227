//! The ingestion service shared by both routes: validation against the course catalog and
//! storage through the group-commit writer, written once. rest-api calls it in-process,
//! grpc-server behind gRPC.
//!
//! - [`config`]: the storage settings of the writing services.
//! - [`runtime`]: the pool, writer, projector and Redis sync of one process, started and stopped.
//! - [`service`]: the service itself.

pub mod config;
pub mod runtime;
pub mod service;

pub use config::{StorageArgs, StoringArgs};
pub use runtime::{StorageCommand, StorageRuntime};
pub use service::IngestService;
