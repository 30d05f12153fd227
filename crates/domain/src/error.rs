use crate::ValidationErrors;

/// Everything that can stop a grade from being stored. Each transport maps it once: HTTP to a
/// status and problem+json (`grades-front`), gRPC to a status code (`grades-proto`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Fields broke their rules (every broken rule is listed).
    #[error("the grade is invalid: {0}")]
    Validation(ValidationErrors),
    #[error("Idempotency-Key {0} was already used for a different grade; use a new key for a new grade")]
    /// The key stored a different grade before.
    IdempotencyConflict(String),
    /// MySQL (or grpc-server) cannot be reached now: retry later.
    #[error("the grade store is unavailable ({0}); retry in a few seconds")]
    Unavailable(String),
    /// A bug or an unexpected answer: retrying will not help.
    #[error("the grade could not be stored: {0}")]
    Internal(String),
    /// This process stopped taking grades.
    #[error("the service is shutting down; retry against another replica")]
    ShuttingDown,
}

impl IngestError {
    /// A validation failure of one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::default();
        errors.push(field, message);
        Self::Validation(errors)
    }
}
