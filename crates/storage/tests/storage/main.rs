//! The storage layers against real MySQL and Redis: the projector folds exactly once whatever
//! happens to it, and the live state follows the summaries.

// Test helpers may panic: a failed setup step fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod listing;
mod live;
mod projector;
mod retention;
