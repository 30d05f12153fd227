use crate::{IdempotencyKey, ValidationErrors};

/// Everything that can stop a grade from being stored. Variants carry data; the one sentence a
/// person reads is this type's `Display`, written here once. Each transport maps the variant once:
/// HTTP to a status and problem+json (`grades-front`), gRPC to a status code with the data in its
/// details (`grades-proto`), so a grade refused on either route reads the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Fields broke their rules (every broken rule is listed).
    #[error("The grade has {count} invalid field(s): {fields}.", count = .0.0.len(), fields = .0)]
    Validation(ValidationErrors),
    /// The key stored a different grade before.
    #[error("Idempotency-Key {:?} was already used for a different grade; use a new key for a new grade.", .0.as_str())]
    IdempotencyConflict(IdempotencyKey),
    /// The grade store (MySQL, or grpc-server on the grpc route) cannot be reached now: retry later.
    #[error("The grade store is unavailable ({cause}); retry in a few seconds.")]
    Unavailable {
        /// What failed, as the failing component reported it.
        cause: String,
    },
    /// A bug or an unexpected answer: retrying will not help.
    #[error("The grade could not be stored ({cause}); retrying will not help, report it to the operators.")]
    Internal {
        /// What failed, as the failing component reported it.
        cause: String,
    },
    /// This process stopped taking grades.
    #[error("The service is shutting down; retry against another replica.")]
    ShuttingDown,
}

impl IngestError {
    /// A validation failure of one field.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        let mut errors = ValidationErrors::default();
        errors.push(field, message);
        Self::Validation(errors)
    }

    /// The store cannot be reached because of `cause`.
    pub fn unavailable(cause: impl ToString) -> Self {
        Self::Unavailable { cause: cause.to_string() }
    }

    /// An unexpected failure, `cause`.
    pub fn internal(cause: impl ToString) -> Self {
        Self::Internal { cause: cause.to_string() }
    }
}
