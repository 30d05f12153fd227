//! MySQL storage of grades, in layers that depend one way:
//!
//! writer (request path) -> committed `grades` rows -> projector (summary tables) -> live sync (Redis)
//!
//! - [`mysql`]: connection pool, migrations, error classification, the course catalog.
//! - [`writer`]: the group-commit writer both ingestion routes store through.
//! - [`idempotency`]: how long idempotency keys are kept, and the sweeper that deletes older ones.
//! - [`summary`]: what a run of grades changes in the summary tables (pure).
//! - [`projection`]: the projections, their watermarks and how far each lags.
//! - [`projector`]: folds committed grades into the summaries, exactly once, one replica at a time.
//! - [`live_sync`]: keeps the Redis live state equal to the summaries.
//! - [`stats`]: the dashboard's read queries.

mod batch;
pub mod idempotency;
pub mod live_sync;
pub mod metrics;
pub mod mysql;
mod plan;
pub mod projection;
pub mod projector;
mod rows;
pub mod stats;
pub mod summary;
pub mod writer;

pub use metrics::StorageMetrics;
pub use writer::{CommittedIds, GradeWriter, StoreError, StoreOutcome, StoreRequest, WriterArgs, WriterConfig};
