//! The realtime service against real MySQL and Redis: known grades are stored through the real
//! ingestion services (rest-api, and grpc-client + grpc-server) running in-process, then every
//! HTTP endpoint (`http`) and the Socket.IO pushes, including under a flood of connections and
//! malformed packets (`socket`), are checked against that data.
//!
//! Needs TEST_MYSQL_URL and TEST_REDIS_URL (see grades-testkit); without them every test fails.

// Test helpers may panic: a failed setup step fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cors;
mod helpers;
mod http;
mod socket;
