//! The one error type of the service: every failure a handler can meet, answered as problem+json.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use grades_kit::Problem;
use grades_storage::mysql::mysql_code;
use serde::Serialize;

/// Seconds a client is told to wait before retrying while a dependency is down.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Why a request (or a Socket.IO subscription) could not be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// A query parameter (or Socket.IO field) broke a rule: 422 naming the field.
    InvalidParameter {
        /// The parameter's name.
        field: &'static str,
        /// What was wrong and what would be accepted.
        message: String,
    },
    /// MySQL or Redis cannot be reached right now: 503 with `Retry-After`.
    Unavailable {
        /// `mysql` or `redis`.
        dependency: &'static str,
        /// The underlying error; logged, never sent to the client.
        detail: String,
    },
    /// A bug or an unexpected database answer: 500; details are logged, not sent.
    Internal(String),
}

#[derive(Serialize)]
struct FieldError<'a> {
    field: &'a str,
    message: &'a str,
}

impl ApiError {
    /// `field` broke a rule; `message` follows the field name in the sentence shown.
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        Self::InvalidParameter { field, message: message.to_string() }
    }

    /// `field` is missing.
    pub fn required(field: &'static str) -> Self {
        Self::invalid(field, "is required")
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidParameter { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The sentence shown to a person (HTTP `detail`, Socket.IO `error.message`).
    pub fn message(&self) -> String {
        match self {
            Self::InvalidParameter { field, message } => format!("{field} {message}"),
            Self::Unavailable { dependency, .. } => {
                format!("{dependency} is unavailable right now; retry in a few seconds")
            }
            Self::Internal(_) => "unexpected error while reading the data; it has been logged".to_owned(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable { dependency, detail } => write!(f, "{dependency} unavailable: {detail}"),
            Self::Internal(detail) => write!(f, "internal error: {detail}"),
            other => f.write_str(&other.message()),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if grades_storage::mysql::is_unavailable(&error) || schema_missing(&error) {
            Self::Unavailable { dependency: "mysql", detail: error.to_string() }
        } else {
            Self::Internal(format!("mysql: {error}"))
        }
    }
}

/// Unknown database (1049) or table (1146): the storing services have not migrated it yet (they
/// own the schema), which is a wait-and-retry condition for this read-only service, not a bug.
fn schema_missing(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => matches!(mysql_code(db.as_ref()), Some(1049 | 1146)),
        _ => false,
    }
}

impl From<redis::RedisError> for ApiError {
    /// Redis only holds derived live state read with plain commands, so any failure is treated
    /// as "not reachable right now".
    fn from(error: redis::RedisError) -> Self {
        Self::Unavailable { dependency: "redis", detail: error.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(detail) => tracing::error!(%detail, "request failed"),
            Self::Unavailable { dependency, detail } => tracing::warn!(dependency, %detail, "dependency unavailable"),
            Self::InvalidParameter { .. } => {}
        }
        let mut problem = Problem::new(self.status(), self.message());
        match &self {
            Self::InvalidParameter { field, message } => {
                problem = problem.with_errors([FieldError { field, message }]);
            }
            Self::Unavailable { .. } => problem = problem.retry_after(RETRY_AFTER_SECONDS),
            Self::Internal(_) => {}
        }
        problem.into_response()
    }
}
