//! The storage runtime of a writing process against a test MySQL and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic, its helpers too

use std::time::Duration;

use axum::body::Body;
use grades_ingest::{StorageArgs, StorageRuntime};
use grades_kit::{health_router, MetricsRegistry};
use grades_storage::StorageMetrics;
use grades_testkit::{TestDatabase, TestRedis};
use tower::ServiceExt;

async fn readyz(router: &axum::Router) -> (u16, String) {
    let request = axum::http::Request::get("/readyz").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn lose_its_mind() {
    panic!("lost its mind")
}

#[tokio::test]
async fn a_background_task_that_panics_makes_readyz_answer_503() {
    let (db, redis) = (TestDatabase::create().await, TestRedis::new().await);
    let url = db.url();
    let args: StorageArgs =
        grades_testkit::flags(&["--mysql-url", &url, "--redis-url", redis.url(), "--redis-prefix", redis.prefix(), "--migrate", "false"]);
    let runtime = StorageRuntime::start(&args, StorageMetrics::new()).await.unwrap();
    let router = health_router(runtime.readiness(), MetricsRegistry::new().freeze());
    let (status, body) = readyz(&router).await;
    assert_eq!(status, 200, "{body}");

    runtime.tasks.spawn("doomed", async { lose_its_mind() });
    let failed = grades_testkit::eventually(Duration::from_secs(5), || async {
        let (status, body) = readyz(&router).await;
        (status == 503).then_some(body)
    })
    .await;
    let body = failed.expect("/readyz still answers 200 after a task panicked");
    assert!(body.contains("doomed: panicked: lost its mind"), "{body}");
    assert!(runtime.tasks.failed());

    tokio::time::timeout(Duration::from_secs(20), runtime.stop()).await.expect("the runtime stops");
}

#[tokio::test]
async fn the_runtime_stops_with_every_task_joined_and_none_failed() {
    let (db, redis) = (TestDatabase::create().await, TestRedis::new().await);
    let url = db.url();
    let args: StorageArgs =
        grades_testkit::flags(&["--mysql-url", &url, "--redis-url", redis.url(), "--redis-prefix", redis.prefix(), "--migrate", "false"]);
    let runtime = StorageRuntime::start(&args, StorageMetrics::new()).await.unwrap();
    let tasks = runtime.tasks.clone();
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::time::timeout(Duration::from_secs(20), runtime.stop()).await.expect("the runtime stops");
    assert_eq!(tasks.failures(), Vec::<String>::new());
}
