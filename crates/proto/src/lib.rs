//! Generated gRPC code for `proto/grades.proto`, plus the one mapping between ingestion errors and
//! gRPC status codes (used in both directions, so the two ends cannot drift apart).

use grades_domain::{IngestError, ValidationErrors};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Code generated from `proto/grades.proto` (package `grades.v1`); its documentation is the
/// comments of the proto file.
pub mod v1 {
    #![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
    tonic::include_proto!("grades.v1");
}

/// grpc-server side: an ingestion error as a gRPC status.
pub fn status_from_error(error: &IngestError) -> Status {
    match error {
        IngestError::Validation(errors) => {
            let mut details = ErrorDetails::new();
            for e in &errors.0 {
                details.add_bad_request_violation(e.field.clone(), e.message.clone());
            }
            Status::with_error_details(Code::InvalidArgument, errors.to_string(), details)
        }
        IngestError::IdempotencyConflict(_) => Status::already_exists(error.to_string()),
        IngestError::Unavailable(_) | IngestError::ShuttingDown => Status::unavailable(error.to_string()),
        IngestError::Internal(_) => Status::internal(error.to_string()),
    }
}

/// grpc-client side: a gRPC status back into the ingestion error the HTTP front answers with.
pub fn error_from_status(status: &Status) -> IngestError {
    match status.code() {
        Code::InvalidArgument => {
            let mut errors = ValidationErrors::default();
            if let Some(bad_request) = status.get_details_bad_request() {
                for violation in bad_request.field_violations {
                    errors.push(&violation.field, violation.description);
                }
            }
            if errors.is_empty() {
                errors.push("body", status.message());
            }
            IngestError::Validation(errors)
        }
        Code::AlreadyExists => IngestError::IdempotencyConflict(status.message().to_owned()),
        // grpc-server never answers Unknown itself: it is how a failed connection to it surfaces
        // (reset, refused, killed mid-call). Like the others here, retry later: 503.
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Cancelled | Code::Unknown => {
            IngestError::Unavailable(format!("grpc-server: {}", status.message()))
        }
        // A deployment mistake, not the client's: grpc-client's INGEST_TOKEN is not grpc-server's.
        Code::Unauthenticated => IngestError::Internal(format!(
            "grpc-server refused grpc-client's token ({}); give both the same INGEST_TOKEN",
            status.message()
        )),
        _ => IngestError::Internal(format!("grpc-server answered {:?}: {}", status.code(), status.message())),
    }
}
