//! The course catalog, read from MySQL at most every 30 s, used to check `curso` parameters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use grades_domain::Catalog;
use sqlx::MySqlPool;
use tokio::sync::RwLock;

use crate::error::ApiError;

/// How long a loaded catalog is trusted before it is read again.
pub const CATALOG_TTL: Duration = Duration::from_secs(30);

/// A catalog and when it was read.
type Loaded = (Arc<Catalog>, Instant);

#[derive(Clone)]
pub struct CatalogCache {
    pool: MySqlPool,
    slot: Arc<RwLock<Option<Loaded>>>,
}

impl CatalogCache {
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool, slot: Arc::new(RwLock::new(None)) }
    }

    /// The catalog; a stale copy is served while MySQL is unreachable.
    pub async fn get(&self) -> Result<Arc<Catalog>, ApiError> {
        if let Some((catalog, loaded)) = self.slot.read().await.as_ref() {
            if loaded.elapsed() < CATALOG_TTL {
                return Ok(catalog.clone());
            }
        }
        let mut slot = self.slot.write().await;
        // Another request may have refreshed it while this one waited for the lock.
        if let Some((catalog, loaded)) = slot.as_ref() {
            if loaded.elapsed() < CATALOG_TTL {
                return Ok(catalog.clone());
            }
        }
        match grades_storage::mysql::load_catalog(&self.pool).await {
            Ok(catalog) => {
                let catalog = Arc::new(catalog);
                *slot = Some((catalog.clone(), Instant::now()));
                Ok(catalog)
            }
            Err(error) => match slot.as_ref() {
                Some((stale, _)) => {
                    tracing::warn!(%error, "course catalog not refreshed; using the last copy");
                    Ok(stale.clone())
                }
                None => Err(error.into()),
            },
        }
    }
}
