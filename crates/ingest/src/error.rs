use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use grades_domain::ValidationErrors;
use grades_kit::Problem;
use grades_storage::StoreError;

/// Everything that can stop a grade from being stored, with the HTTP status each one means.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("the grade is invalid: {0}")]
    Validation(ValidationErrors),
    #[error("Idempotency-Key {0} was already used for a different grade; use a new key for a new grade")]
    IdempotencyConflict(String),
    #[error("the grade store is unavailable ({0}); retry in a few seconds")]
    Unavailable(String),
    #[error("the grade could not be stored: {0}")]
    Internal(String),
    #[error("the service is shutting down; retry against another replica")]
    ShuttingDown,
}

/// Seconds a client should wait before retrying while MySQL is unreachable.
pub const RETRY_AFTER_SECONDS: u32 = 2;

impl From<StoreError> for IngestError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(reason) => Self::Unavailable(reason),
            StoreError::IdempotencyConflict(key) => Self::IdempotencyConflict(format!("{key:?}")),
            StoreError::Internal(reason) => Self::Internal(reason),
            StoreError::ShuttingDown => Self::ShuttingDown,
        }
    }
}

impl IngestError {
    pub fn to_problem(&self) -> Problem {
        match self {
            Self::Validation(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("The grade has {} invalid field(s): {errors}.", errors.0.len()),
            )
            .with_errors(errors),
            Self::IdempotencyConflict(_) => Problem::new(StatusCode::CONFLICT, self.to_string()),
            Self::Unavailable(_) | Self::ShuttingDown => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, self.to_string()).retry_after(RETRY_AFTER_SECONDS)
            }
            Self::Internal(_) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, self.to_string()),
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        self.to_problem().into_response()
    }
}
