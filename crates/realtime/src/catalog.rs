//! The course catalog, read from MySQL at most every 30 s, used to check `curso` parameters.

use std::sync::Arc;

use grades_domain::Catalog;
use grades_kit::Refreshed;
use sqlx::MySqlPool;

use crate::error::ApiError;

/// The catalog shared by every handler; clones share one cached copy.
#[derive(Clone)]
pub struct CatalogCache {
    pool: MySqlPool,
    cached: Arc<Refreshed<Catalog>>,
}

impl CatalogCache {
    /// An empty cache: the first [`get`](Self::get) reads MySQL.
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool, cached: Arc::new(Refreshed::new(Catalog::REFRESH)) }
    }

    /// The catalog; a stale copy is served while MySQL is unreachable.
    pub async fn get(&self) -> Result<Arc<Catalog>, ApiError> {
        self.cached.get(|| async { grades_storage::mysql::load_catalog(&self.pool).await.map_err(ApiError::from) }).await
    }
}
