//! Storage for grades: MySQL is the source of truth, Redis holds derived live state.
//!
//! - [`mysql`]: connection, migrations, the course catalog.
//! - [`writer`]: the group-commit writer every ingestion route stores through.
//! - [`live`]: Redis keys, the atomic per-batch update script and pub/sub events.
//! - [`latency`]: per-route latency histograms bucketed per second in Redis, shared by replicas.
//! - [`stats`]: the dashboard's read queries.

pub mod latency;
pub mod live;
pub mod metrics;
pub mod mysql;
pub mod stats;
pub mod writer;

pub use live::{LiveKeys, LiveState};
pub use metrics::StorageMetrics;
pub use writer::{GradeWriter, StoreError, StoreOutcome, StoreRequest, StoredGrade, WriterConfig};
