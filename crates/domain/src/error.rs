use crate::ValidationErrors;

/// Everything that can stop a grade from being stored. Each transport maps it once: HTTP to a
/// status and problem+json (`grades-front`), gRPC to a status code (`grades-proto`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

impl IngestError {
    /// A validation failure of one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::default();
        errors.push(field, message);
        Self::Validation(errors)
    }
}
