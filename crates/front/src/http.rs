//! `POST /grades`, served identically by both routes.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use grades_domain::{IdempotencyKey, IngestError, InvalidValue, NewGrade, ValidationErrors};
use grades_kit::{HttpMetrics, Problem};
use grades_live::latency::LatencyRecorder;
use serde_json::Value;

use crate::openapi::{openapi_json_text, Created};
use crate::{problem, GradeSink};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

struct Front<S> {
    sink: Arc<S>,
    metrics: HttpMetrics,
    latency: LatencyRecorder,
}

/// `POST /grades` over `sink`, with request metrics and per-route latency recording, and
/// `GET /openapi.json`, its description: both routes serve this router, so they describe
/// themselves alike.
pub fn grades_router<S: GradeSink>(sink: Arc<S>, metrics: HttpMetrics, latency: LatencyRecorder) -> Router {
    metrics.serve_route(sink.route().as_str());
    let document: Arc<str> = openapi_json_text().into();
    let openapi = move || {
        let document = document.clone();
        async move { ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document.to_string()) }
    };
    Router::new().route("/grades", post(post_grade::<S>)).route("/openapi.json", get(openapi)).with_state(Arc::new(Front {
        sink,
        metrics,
        latency,
    }))
}

async fn post_grade<S: GradeSink>(State(front): State<Arc<Front<S>>>, request: Request) -> Response {
    let started = Instant::now();
    let route = front.sink.route();
    let mut response = match store(&*front.sink, request).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    };
    response.headers_mut().insert("x-route", HeaderValue::from_static(route.as_str()));
    let elapsed = started.elapsed();
    front.metrics.observe(route.as_str(), response.status().as_u16(), elapsed);
    front.latency.record(route, elapsed);
    response
}

async fn store<S: GradeSink>(sink: &S, request: Request) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    require_json(&parts.headers)?;
    let object = read_object(body).await?;
    let key = idempotency_key(&parts.headers);
    let catalog = sink.catalog().await.map_err(|e| problem(&e))?;

    let mut errors = ValidationErrors::default();
    if let Err(message) = &key {
        errors.push("Idempotency-Key", message.clone());
    }
    let grade = match NewGrade::from_json(&object, &catalog) {
        Ok(grade) => Some(grade),
        Err(field_errors) => {
            errors.0.extend(field_errors.0);
            None
        }
    };
    let (Some(grade), Ok(key)) = (grade, key) else {
        return Err(problem(&IngestError::Validation(errors)));
    };

    let accepted = sink.submit(grade, key).await.map_err(|e| problem(&e))?;
    let status = if accepted.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(Created { id: accepted.id, route: sink.route().into() })).into_response())
}

/// JSON is UTF-8 (RFC 8259): `application/json` or `application/*+json`, with no charset or
/// `charset=utf-8`; anything else is 415.
fn require_json(headers: &HeaderMap) -> Result<(), Problem> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let utf8 = parts.all(|parameter| match parameter.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let value = value.trim().trim_matches('"');
            value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    });
    if !utf8 {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("JSON must be UTF-8 (RFC 8259); send Content-Type: application/json (got {content_type:?})."),
        ));
    }
    if essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")) {
        Ok(())
    } else {
        let got = if content_type.is_empty() { "no Content-Type".to_owned() } else { format!("Content-Type {content_type:?}") };
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Send the grade as JSON with Content-Type: application/json (got {got})."),
        ))
    }
}

async fn read_object(body: Body) -> Result<serde_json::Map<String, Value>, Problem> {
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The body is larger than {} KiB; send one grade per request.", MAX_BODY_BYTES / 1024),
        )
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(problem(&IngestError::invalid(
            "body",
            "must be a JSON object like {\"carnet\": 201900123, \"nombre\": \"Ana\", \"curso\": \"SO1\", \"nota\": 90, \"semestre\": \"2S\", \"year\": 2023}",
        ))),
        Err(error) => Err(Problem::new(StatusCode::BAD_REQUEST, format!("The body is not valid JSON: {error}."))),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, InvalidValue> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map_err(|_| InvalidValue::NotAnIdempotencyKey { max: IdempotencyKey::MAX_LEN })
            .and_then(IdempotencyKey::parse)
            .map(Some),
    }
}
