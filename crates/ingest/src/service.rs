//! The one ingestion service: catalog-aware validation and group-committed storage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use grades_domain::{Catalog, IdempotencyKey, IngestError, NewGrade, Route};
use grades_front::{Accepted, GradeSink};
use grades_kit::Refreshed;
use grades_storage::mysql;
use grades_storage::{GradeWriter, StoreError, StoreOutcome, StoreRequest};
use sqlx::MySqlPool;

/// Validates and stores grades for one route; clones share the writer and the catalog cache.
#[derive(Clone)]
pub struct IngestService {
    route: Route,
    pool: MySqlPool,
    writer: GradeWriter,
    catalog: Arc<Refreshed<Catalog>>,
    /// Set when grades are acknowledged without being stored: the last id handed out.
    discarded: Option<Arc<AtomicU64>>,
}

impl IngestService {
    /// The service of `route`, storing through `writer` and reading the catalog from `pool`.
    pub fn new(route: Route, pool: MySqlPool, writer: GradeWriter) -> Self {
        Self { route, pool, writer, catalog: Arc::new(Refreshed::new(Catalog::REFRESH)), discarded: None }
    }

    /// With `discard`, grades are validated as always, then acknowledged with a made-up id and
    /// never stored (`DISCARD_GRADES`): what is left is what the route's protocols cost.
    pub fn discard_grades(mut self, discard: bool) -> Self {
        if discard {
            tracing::warn!(route = self.route.as_str(), "DISCARD_GRADES is on: grades are acknowledged and never stored");
            self.discarded = Some(Arc::new(AtomicU64::new(0)));
        }
        self
    }

    /// The course catalog, re-read every 30 s; a stale copy is used while MySQL is unreachable.
    pub async fn catalog(&self) -> Result<Arc<Catalog>, IngestError> {
        self.catalog
            .get(|| async {
                mysql::load_catalog(&self.pool).await.map_err(|error| {
                    if mysql::is_unavailable(&error) {
                        IngestError::unavailable(error)
                    } else {
                        IngestError::internal(format_args!("could not read the course catalog: {error}"))
                    }
                })
            })
            .await
    }

    /// Stores a validated grade and waits until it is committed (or replayed by its key).
    pub async fn ingest(&self, grade: NewGrade, key: Option<IdempotencyKey>) -> Result<Accepted, IngestError> {
        if let Some(last_id) = &self.discarded {
            return Ok(Accepted { id: last_id.fetch_add(1, Ordering::Relaxed) + 1, replayed: false });
        }
        let outcome = self.writer.store(StoreRequest { grade, route: self.route, idempotency_key: key }).await.map_err(ingest_error)?;
        Ok(Accepted { id: outcome.id(), replayed: matches!(outcome, StoreOutcome::Replayed(_)) })
    }
}

fn ingest_error(error: StoreError) -> IngestError {
    match error {
        StoreError::Unavailable(cause) => IngestError::Unavailable { cause },
        StoreError::IdempotencyConflict(key) => IngestError::IdempotencyConflict(key),
        StoreError::Internal(cause) => IngestError::Internal { cause },
        StoreError::ShuttingDown => IngestError::ShuttingDown,
    }
}

impl GradeSink for IngestService {
    fn route(&self) -> Route {
        self.route
    }

    async fn catalog(&self) -> Result<Arc<Catalog>, IngestError> {
        IngestService::catalog(self).await
    }

    async fn submit(&self, grade: NewGrade, key: Option<IdempotencyKey>) -> Result<Accepted, IngestError> {
        self.ingest(grade, key).await
    }
}
