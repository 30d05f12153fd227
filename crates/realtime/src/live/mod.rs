//! Live pushes: one subscription to the Redis events channel feeds a coalescing buffer that a
//! ticker flushes to Socket.IO at most every [`FLUSH_INTERVAL`], plus the `routes` push.
//!
//! Nothing here polls Redis counters for changes: every new value arrives in a batch event.
//!
//! The `recent_grades` feed is a sample at high rates: an event carries at most
//! [`grades_live::RECENT_LEN`] of its fold's grades, and one push at most [`RECENT_PUSH_MAX`].
//! Clients that need every grade join [`ALL_GRADES_ROOM`] (`subscribe_all_grades`): they get
//! `all_grades` pushes holding each grade once, in id order, the grades an event did not carry
//! read back from MySQL (one primary-key range per event, only while someone is in the room).
//!
//! - [`hub`]: the coalescing buffer, pure (no I/O): events go in, the next flush takes them out;
//! - [`subscriber`]: the Redis subscription, with backoff, and the resync after a lost one;
//! - [`push`]: the tickers that flush the hub to Socket.IO, and the MySQL backfill of `all_grades`.

mod hub;
mod push;
mod subscriber;

use std::time::Duration;

pub use hub::Hub;
pub use push::{run_flusher, run_routes_ticker};
pub use subscriber::run_subscriber;

/// Shortest time between two pushes of the same event (≈10 pushes per second at most).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// How often `routes` is pushed while clients are connected.
pub const ROUTES_INTERVAL: Duration = Duration::from_secs(1);
/// Most grades in one `recent_grades` push (and on connect).
pub const RECENT_PUSH_MAX: usize = 20;
/// Room of the clients that asked for every grade (`all_grades` pushes).
pub const ALL_GRADES_ROOM: &str = "grades:all";
