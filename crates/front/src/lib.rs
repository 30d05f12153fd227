//! The HTTP front of `POST /grades`, written once and served by both HTTP services: rest-api
//! (which stores in-process) and grpc-client (which forwards over gRPC). What differs is only
//! the [`GradeSink`] behind it, so both routes answer every request identically.

mod http;
pub mod openapi;

use std::future::Future;
use std::sync::Arc;

use axum::http::StatusCode;
use grades_domain::{Catalog, IdempotencyKey, IngestError, NewGrade, Route};
use grades_kit::Problem;

pub use http::{grades_router, MAX_BODY_BYTES};

/// Seconds a client should wait before retrying while the grade store is unreachable.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// A stored grade as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The grade's id.
    pub id: u64,
    /// True for an idempotent replay: the grade was stored earlier, nothing new was stored now.
    pub replayed: bool,
}

/// Where the HTTP front sends a validated grade: straight to the ingestion service (rest-api) or
/// over gRPC to it (grpc-client).
pub trait GradeSink: Send + Sync + 'static {
    /// The route this sink stores for (the `x-route` header, metrics, latency figures).
    fn route(&self) -> Route;
    /// The course catalog grades are validated against.
    fn catalog(&self) -> impl Future<Output = Result<Arc<Catalog>, IngestError>> + Send;
    /// Stores a validated grade; answers once it is committed.
    fn submit(&self, grade: NewGrade, key: Option<IdempotencyKey>) -> impl Future<Output = Result<Accepted, IngestError>> + Send;
}

/// The HTTP answer to an ingestion error: its status, and the error's sentence as the detail.
pub fn problem(error: &IngestError) -> Problem {
    let problem = |status| Problem::new(status, error.to_string());
    match error {
        IngestError::Validation(errors) => problem(StatusCode::UNPROCESSABLE_ENTITY).with_errors(errors),
        IngestError::IdempotencyConflict(_) => problem(StatusCode::CONFLICT),
        IngestError::Unavailable { .. } | IngestError::ShuttingDown => {
            problem(StatusCode::SERVICE_UNAVAILABLE).retry_after(RETRY_AFTER_SECONDS)
        }
        IngestError::Internal { .. } => problem(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
