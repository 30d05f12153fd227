//! `GET /api/compare`: the published route comparison (`just compare` writes docs/compare.json),
//! served as it is so the dashboard can show it beside the live figures.
//!
//! The file is read on every request: it is small, asked for once per page load, and a new
//! `just compare` run then shows up without restarting the service.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use grades_kit::Problem;

use crate::AppState;

/// Where the published comparison is read from.
#[derive(Debug, Clone)]
pub struct PublishedComparison {
    path: Arc<PathBuf>,
}

impl PublishedComparison {
    /// The comparison at `path` (`--compare-json`).
    pub fn new(path: PathBuf) -> Self {
        Self { path: Arc::new(path) }
    }

    /// Reads and parses the file; the error is the problem+json answer to give.
    pub async fn read(&self) -> Result<serde_json::Value, Problem> {
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || std::fs::read(path.as_path())).await;
        let shown = self.path.display();
        let bytes = match read {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no published comparison: {shown} does not exist; run `just compare` to measure both routes and \
                         write it, or point --compare-json (COMPARE_JSON) at an existing file"
                    ),
                ));
            }
            Ok(Err(error)) => {
                tracing::error!(path = %shown, %error, "cannot read the published comparison");
                return Err(Problem::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read {shown}: {error}")));
            }
            Err(error) => {
                tracing::error!(%error, "reading the published comparison did not finish");
                return Err(Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "reading the published comparison failed; it has been logged"));
            }
        };
        serde_json::from_slice(&bytes).map_err(|error| {
            tracing::error!(path = %shown, %error, "the published comparison is not JSON");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{shown} is not valid JSON ({error}); regenerate it with `just compare`"),
            )
        })
    }
}

/// The handler of `GET /api/compare`.
pub async fn published(State(state): State<AppState>) -> Response {
    match state.compare.read().await {
        Ok(value) => Json(value).into_response(),
        Err(problem) => problem.into_response(),
    }
}
