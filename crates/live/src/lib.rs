//! Redis live state: derived from MySQL and allowed to lag or vanish (MySQL is the source of
//! truth). No MySQL here, so a process that only needs Redis (grpc-client) does not link sqlx.
//!
//! - [`keys`]: every Redis name, defined once.
//! - [`figures`]: what the live state holds and what each event announces.
//! - [`store`]: the connection, the atomic writes the projector makes, the reads the dashboard makes.
//! - [`latency`]: per-route latency histograms bucketed per second, shared by replicas.

pub mod figures;
pub mod keys;
pub mod latency;
pub mod store;

pub use figures::{LiveEvent, LiveFigures, RouteCounts, StudentCount, RECENT_LEN};
pub use keys::LiveKeys;
pub use store::{LiveError, LiveStore, RedisArgs};
