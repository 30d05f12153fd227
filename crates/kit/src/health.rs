//! `/healthz`, `/readyz` and `/metrics`, the same in every process.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

/// Result of a readiness probe: each dependency's state, and whether traffic may be sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadyReport {
    /// True when every required dependency answered.
    pub ready: bool,
    /// Each dependency: `up`, `down: ...` (required) or `degraded: ...` (optional).
    pub dependencies: BTreeMap<String, String>,
    /// The dependencies the process serves without (for the `required` label of the metrics).
    #[serde(skip)]
    optional: std::collections::BTreeSet<String>,
}

impl ReadyReport {
    /// A required dependency: the process is not ready without it.
    pub fn require(&mut self, name: &str, result: Result<(), String>) {
        self.ready &= result.is_ok();
        self.dependencies.insert(name.to_owned(), result.err().map_or("up".into(), |e| format!("down: {e}")));
    }

    /// An optional dependency: reported, but the process serves without it.
    pub fn optional(&mut self, name: &str, result: Result<(), String>) {
        self.optional.insert(name.to_owned());
        self.dependencies.insert(name.to_owned(), result.err().map_or("up".into(), |e| format!("degraded: {e}")));
    }

    /// Ready, until a required dependency says otherwise.
    pub fn new() -> Self {
        Self { ready: true, dependencies: BTreeMap::new(), optional: Default::default() }
    }
}

/// A dependency check that answers within a second whatever the dependency does, so `/readyz`
/// (and everything that asks it) never hangs on a server that stopped answering.
pub async fn within_a_second<E: std::fmt::Display>(check: impl std::future::Future<Output = Result<(), E>>) -> Result<(), String> {
    match tokio::time::timeout(std::time::Duration::from_secs(1), check).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("no answer within 1 s".to_owned()),
    }
}

/// How a service checks its dependencies for `/readyz`.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, ReadyReport> + Send + Sync>;

#[derive(Clone)]
struct HealthState {
    readiness: ReadinessCheck,
    registry: Arc<Registry>,
}

/// `/healthz` (alive), `/readyz` (dependencies answer) and `/metrics` (Prometheus text).
pub fn health_router(readiness: ReadinessCheck, registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(HealthState { readiness, registry })
}

async fn readyz(State(state): State<HealthState>) -> Response {
    let report = (state.readiness)().await;
    let status = if report.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report)).into_response()
}

async fn metrics(State(state): State<HealthState>) -> Response {
    // Readiness is asked at every scrape (each check answers within a second), so Prometheus sees
    // a process that is up but not ready even where nothing else calls /readyz.
    let report = (state.readiness)().await;
    let mut body = String::new();
    let encoded = prometheus_client::encoding::text::encode_registry(&mut body, &state.registry)
        .and_then(|()| prometheus_client::encoding::text::encode_registry(&mut body, &readiness_registry(&report)))
        .and_then(|()| prometheus_client::encoding::text::encode_eof(&mut body));
    match encoded {
        Ok(()) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// Labels of `grades_dependency_up`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DependencyLabels {
    dependency: String,
    /// `true` when the process is not ready without it.
    required: String,
}

/// `grades_ready` (1 when /readyz would answer 200) and `grades_dependency_up` per dependency.
fn readiness_registry(report: &ReadyReport) -> Registry {
    let mut registry = Registry::default();
    let ready = Gauge::<i64>::default();
    ready.set(i64::from(report.ready));
    registry.register("grades_ready", "1 when every required dependency answers (/readyz answers 200)", ready);
    let dependencies = Family::<DependencyLabels, Gauge>::default();
    for (name, state) in &report.dependencies {
        let required = if report.optional.contains(name) { "false" } else { "true" };
        let labels = DependencyLabels { dependency: name.clone(), required: required.to_owned() };
        dependencies.get_or_create(&labels).set(i64::from(state == "up"));
    }
    registry.register("grades_dependency_up", "1 while the dependency answers its readiness check", dependencies);
    registry
}
