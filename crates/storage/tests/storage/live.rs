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

/// Every grade is announced on the events channel exactly once, also when a fold finds the live
/// state gone and rebuilds it (the rebuild may read the summaries past the fold that triggered
/// it): the events' `new_grades` ranges, each ending at its newest carried grade, tile the ids.
/// A client that needs every grade (realtime's `all_grades`) relies on this.
#[tokio::test]
async fn every_grade_is_announced_once_across_a_rebuild() {
    use futures::StreamExt;
    use grades_live::LiveEvent;
    use grades_storage::projector::ProjectorConfig;

    let db = TestDatabase::create().await;
    let redis = TestRedis::new().await;
    let live = LiveStore::new(redis.url(), redis.prefix()).unwrap();
    let mut pubsub = redis::Client::open(redis.url()).unwrap().get_async_pubsub().await.unwrap();
    pubsub.subscribe(live.keys().events()).await.unwrap();
    let mut events = pubsub.into_on_message();

    // No reconcile while the test runs: the fold after the loss must find the state gone itself.
    let config = ProjectorConfig { reconcile_interval: Duration::from_secs(600), ..quick() };
    let projector = Projector::start(&db.url(), Some(live.clone()), config);
    insert_grades(db.pool(), 100, 40).await;
    wait_folded(&db, Duration::from_secs(20)).await;
    let built = eventually(Duration::from_secs(10), || async { live_equals_grades(&live, &db).await.then_some(()) }).await;
    assert!(built.is_some(), "the live state is built");

    // Redis loses the state; grades keep coming in several commits, so folds queue behind the rebuild.
    let mut connection = redis.connection().await;
    let _: () = connection.del(live.keys().state()).await.unwrap();
    for _ in 0..6 {
        insert_grades(db.pool(), 50, 40).await;
    }
    wait_folded(&db, Duration::from_secs(20)).await;
    let rebuilt = eventually(Duration::from_secs(10), || async { live_equals_grades(&live, &db).await.then_some(()) }).await;
    assert!(rebuilt.is_some(), "the live state is rebuilt");
    assert!(projector.metrics.live_sync.rebuilds.get() >= 2, "the fold after the loss rebuilt the state");
    projector.stop().await;

    let total = db.count("SELECT COUNT(*) FROM grades").await as u64;
    let mut covered = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(500), events.next()).await {
        let event: LiveEvent = serde_json::from_slice(message.get_payload_bytes()).unwrap();
        if let Some(newest) = event.grades.first() {
            assert!(event.new_grades >= event.grades.len() as u64, "an event counts at least what it carries: {event:?}");
            covered.push((newest.id + 1 - event.new_grades, newest.id));
        }
    }
    covered.sort_unstable();
    let mut next = 1;
    for &(first, last) in &covered {
        assert_eq!(first, next, "announced ranges {covered:?} must tile 1..={total} once");
        next = last + 1;
    }
    assert_eq!(next, total + 1, "announced ranges {covered:?} must reach {total}");
}
