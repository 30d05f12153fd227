//! The Redis live state equals the summaries, returns on its own after Redis loses it, and
//! replaces the previous layout.

use std::time::Duration;

use grades_domain::Route;
use grades_live::LiveStore;
use grades_testkit::{eventually, TestDatabase, TestRedis};
use redis::AsyncCommands;

use crate::helpers::{insert_grades, quick, wait_folded, Projector};

async fn live_equals_grades(live: &LiveStore, db: &TestDatabase) -> bool {
    let Ok((total, routes)) = live.totals().await else { return false };
    let stored = db.count("SELECT COUNT(*) FROM grades").await as u64;
    let grpc = db.count("SELECT COUNT(*) FROM grades WHERE route = 'grpc'").await as u64;
    if total != stored || routes.get(Route::Grpc) != grpc || routes.get(Route::Rest) != stored - grpc {
        return false;
    }
    let terms: Vec<(String, String, u16, i64)> =
        sqlx::query_as("SELECT curso, semestre, year, COUNT(DISTINCT carnet) FROM grades GROUP BY curso, semestre, year")
            .fetch_all(db.pool())
            .await
            .unwrap();
    for (curso, semestre, year, students) in terms {
        if live.students(&curso, &semestre, year).await.ok() != Some(students as u64) {
            return false;
        }
    }
    let newest = db.count("SELECT CAST(MAX(id) AS SIGNED) FROM grades").await as u64;
    live.recent(1).await.ok().and_then(|recent| recent.first().map(|g| g.id)) == Some(newest)
}

#[tokio::test]
async fn the_live_state_equals_the_summaries_and_returns_without_traffic_after_a_flush() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::new().await;
    let live = LiveStore::new(redis.url(), redis.prefix()).unwrap();
    let projector = Projector::start(&db.url(), Some(live.clone()), quick());
    for _ in 0..3 {
        insert_grades(db.pool(), 1_500, 200).await;
    }
    wait_folded(&db, Duration::from_secs(20)).await;
    let equal = eventually(Duration::from_secs(10), || async { live_equals_grades(&live, &db).await.then_some(()) }).await;
    assert!(equal.is_some(), "the live state equals the grades");

    // Redis restarts empty; no grade arrives.
    let mut connection = redis.connection().await;
    let _: () = connection.del(live.keys().state()).await.unwrap();
    let back = eventually(Duration::from_secs(10), || async { live_equals_grades(&live, &db).await.then_some(()) }).await;
    assert!(back.is_some(), "the live state is rebuilt from the summaries within 10 s, without traffic");
    assert!(projector.metrics.live_sync.rebuilds.get() >= 2);
    projector.stop().await;
}

#[tokio::test]
async fn the_first_rebuild_removes_the_previous_layout() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::new().await;
    let live = LiveStore::new(redis.url(), redis.prefix()).unwrap();
    let mut connection = redis.connection().await;
    let prefix = redis.prefix();
    // What the previous release kept: a set of carnets per course term and loose counters.
    for term in 0..1_200 {
        let _: () = connection.sadd(format!("{prefix}students:SO1:2S:{term}"), &[1, 2, 3]).await.unwrap();
    }
    let _: () = connection.set(format!("{prefix}total"), 3).await.unwrap();
    let _: () = connection.set(format!("{prefix}synced_id"), 3).await.unwrap();

    let projector = Projector::start(&db.url(), Some(live.clone()), quick());
    insert_grades(db.pool(), 500, 50).await;
    let equal = eventually(Duration::from_secs(15), || async { live_equals_grades(&live, &db).await.then_some(()) }).await;
    assert!(equal.is_some(), "the live state is built");
    let left: Vec<String> = connection.keys(format!("{prefix}*")).await.unwrap();
    assert_eq!(left, [live.keys().state()], "only the live-state hash is left");
    projector.stop().await;
}
