//! The one ingestion service: catalog-aware validation and group-committed storage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use grades_domain::{Catalog, IdempotencyKey, IngestError, NewGrade, Route};
use grades_front::{Accepted, GradeSink};
use grades_storage::mysql;
use grades_storage::{GradeWriter, StoreError, StoreOutcome, StoreRequest};
use sqlx::MySqlPool;
use tokio::sync::RwLock;

/// How long a loaded catalog is trusted before it is read again.
const CATALOG_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct IngestService {
    route: Route,
    pool: MySqlPool,
    writer: GradeWriter,
    catalog: Arc<RwLock<Option<(Arc<Catalog>, Instant)>>>,
}

impl IngestService {
    pub fn new(route: Route, pool: MySqlPool, writer: GradeWriter) -> Self {
        Self { route, pool, writer, catalog: Arc::new(RwLock::new(None)) }
    }

    /// The course catalog, re-read every 30 s; a stale copy is used while MySQL is unreachable.
    pub async fn catalog(&self) -> Result<Arc<Catalog>, IngestError> {
        if let Some((catalog, loaded)) = self.catalog.read().await.as_ref() {
            if loaded.elapsed() < CATALOG_TTL {
                return Ok(catalog.clone());
            }
        }
        let mut slot = self.catalog.write().await;
        match mysql::load_catalog(&self.pool).await {
            Ok(catalog) => {
                let catalog = Arc::new(catalog);
                *slot = Some((catalog.clone(), Instant::now()));
                Ok(catalog)
            }
            Err(error) => match slot.as_ref() {
                Some((stale, _)) => {
                    tracing::warn!(%error, "course catalog not refreshed; using the previous copy");
                    Ok(stale.clone())
                }
                None if mysql::is_unavailable(&error) => Err(IngestError::Unavailable(error.to_string())),
                None => Err(IngestError::Internal(format!("could not read the course catalog: {error}"))),
            },
        }
    }

    /// Validates typed fields (from gRPC) with the same rules as the HTTP front.
    pub async fn validate_parts(
        &self,
        carnet: u64,
        nombre: &str,
        curso: &str,
        nota: u64,
        semestre: &str,
        year: u64,
    ) -> Result<NewGrade, IngestError> {
        let catalog = self.catalog().await?;
        NewGrade::from_parts(carnet, nombre, curso, nota, semestre, year, &catalog).map_err(IngestError::Validation)
    }

    pub async fn ingest(&self, grade: NewGrade, key: Option<IdempotencyKey>) -> Result<Accepted, IngestError> {
        let outcome = self.writer.store(StoreRequest { grade, route: self.route, idempotency_key: key }).await.map_err(ingest_error)?;
        Ok(Accepted { id: outcome.id(), replayed: matches!(outcome, StoreOutcome::Replayed(_)) })
    }
}

fn ingest_error(error: StoreError) -> IngestError {
    match error {
        StoreError::Unavailable(reason) => IngestError::Unavailable(reason),
        StoreError::IdempotencyConflict(key) => IngestError::IdempotencyConflict(format!("{key:?}")),
        StoreError::Internal(reason) => IngestError::Internal(reason),
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
