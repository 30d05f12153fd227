//! RFC 9457 problem details: every HTTP error of every service.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An RFC 9457 problem detail: what went wrong, in words a person can act on.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Problem {
    /// URI of the problem type; `about:blank` (the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong and what to do, for a person.
    pub detail: String,
    /// Per-field errors of a 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "{ field: string; message: string }[]"))]
    pub errors: Option<serde_json::Value>,
    /// Sent as `Retry-After` (503s).
    #[serde(skip)]
    pub retry_after_seconds: Option<u32>,
}

impl Problem {
    /// A problem with this status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
            retry_after_seconds: None,
        }
    }

    /// Adds the per-field errors.
    pub fn with_errors(mut self, errors: impl Serialize) -> Self {
        self.errors = serde_json::to_value(errors).ok();
        self
    }

    /// Tells the client when to retry.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// The status as an HTTP status code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after_seconds;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"))], body).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
