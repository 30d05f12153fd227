//! Both ingestion routes held to one contract (docs/CONTRACTS.md), against real MySQL and Redis.
//! Every test runs against route "grpc" (grpc-client -> grpc-server) and route "rest" (rest-api).

// Test helpers may panic: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use grades_domain::Route;
use grades_testkit::eventually;
use redis::AsyncCommands;
use route_tests::{grade, spawn_app, TestApp};
use serde_json::{json, Value};

async fn body(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

fn assert_problem(response: &reqwest::Response, status: u16) {
    assert_eq!(response.status().as_u16(), status, "status");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

fn assert_created(response: &reqwest::Response, route: Route) {
    assert_eq!(response.status().as_u16(), 201, "route {route}: {:?}", response.headers());
}

async fn redis_total(app: &TestApp) -> Option<u64> {
    app.live_field("total").await.map(|total| total.parse().expect("numeric total"))
}

/// Each contract case is a function of the route, run as one test per route (`rest::case`,
/// `grpc::case`), so a failing route does not hide the other.
macro_rules! per_route {
    ($($case:ident),* $(,)?) => {
        mod rest {
            $( #[tokio::test] async fn $case() { super::$case(grades_domain::Route::Rest).await } )*
        }
        mod grpc {
            $( #[tokio::test] async fn $case() { super::$case(grades_domain::Route::Grpc).await } )*
        }
    };
}

per_route!(
    a_grade_lands_in_mysql_and_redis,
    every_validation_rule_is_enforced_and_reported_per_field,
    numeric_strings_and_extra_fields_are_accepted,
    malformed_requests_get_problem_details,
    idempotent_replays_return_the_original_id,
    concurrent_replays_store_exactly_one_grade,
    two_hundred_concurrent_posts_give_exactly_two_hundred_rows,
    redis_down_still_accepts_grades_and_counts_the_failure,
    live_state_lost_by_redis_is_rebuilt_from_mysql,
    mysql_down_gives_503_with_retry_after_and_recovers,
    health_readiness_and_metrics_are_served,
    shutdown_finishes_in_flight_requests,
);

async fn a_grade_lands_in_mysql_and_redis(route: Route) {
    let app = spawn_app(route).await;
    let response = app.post_grade(&grade(201900123, "so1", 90)).await;
    assert_created(&response, route);
    assert_eq!(response.headers()["x-route"], route.as_str());
    let created = body(response).await;
    assert_eq!(created["route"], route.as_str());
    let id = created["id"].as_u64().expect("numeric id");

    let row: (u64, String, String, u8, String, u16, String) =
        sqlx::query_as("SELECT carnet, nombre, curso, nota, semestre, year, CAST(route AS CHAR) FROM grades WHERE id = ?")
            .bind(id)
            .fetch_one(app.db.pool())
            .await
            .expect("stored row");
    assert_eq!(row, (201900123, "Alumno 201900123".into(), "SO1".into(), 90, "2S".into(), 2023, route.as_str().into()));

    let total = eventually(Duration::from_secs(5), || async { redis_total(&app).await.filter(|t| *t == 1) }).await;
    assert_eq!(total, Some(1), "redis total for route {route}");
    assert_eq!(app.live_field("students:SO1:2S:2023").await.as_deref(), Some("1"), "distinct students of the course term");
    assert_eq!(app.live_field(&format!("route:{route}")).await.as_deref(), Some("1"));
    let recent: Value = serde_json::from_str(&app.live_field("recent").await.expect("recent feed")).unwrap();
    let recent = &recent[0];
    assert_eq!(recent["id"].as_u64(), Some(id));
    assert_eq!(recent["route"], route.as_str());
    app.stop().await;
}

async fn every_validation_rule_is_enforced_and_reported_per_field(route: Route) {
    let cases: Vec<(&str, Value)> = vec![
        ("carnet", json!(0)),
        ("carnet", json!(-5)),
        ("carnet", json!(1_000_000_000_000_u64)),
        ("carnet", json!("12a")),
        ("carnet", json!(1.5)),
        ("nombre", json!("   ")),
        ("nombre", json!("x".repeat(101))),
        ("nombre", json!(42)),
        ("curso", json!("XYZ")),
        ("curso", json!("")),
        ("nota", json!(101)),
        ("nota", json!(-1)),
        ("nota", json!("ochenta")),
        ("semestre", json!("3S")),
        ("semestre", json!(1)),
        ("year", json!(1989)),
        ("year", json!(2101)),
        ("year", Value::Null),
    ];
    let app = spawn_app(route).await;
    for (field, value) in &cases {
        let mut body_json = grade(1, "SO1", 80);
        body_json[*field] = value.clone();
        let response = app.post_grade(&body_json).await;
        assert_problem(&response, 422);
        let problem = body(response).await;
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, [*field], "route {route}, {field} = {value}");
        assert!(problem["detail"].as_str().unwrap().contains(field));
    }
    // Every bad field at once, and a missing one, are all listed.
    let response = app.post_grade(&json!({"carnet": 0, "nombre": "", "curso": "NOPE", "nota": 500, "semestre": "X"})).await;
    assert_problem(&response, 422);
    let problem = body(response).await;
    let fields: HashSet<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, HashSet::from(["carnet", "nombre", "curso", "nota", "semestre", "year"]), "route {route}");
    assert!(problem["errors"].to_string().contains("SO1"), "unknown course lists the known ones");

    // Passing mark boundaries and case-insensitive course codes are accepted.
    for (curso, nota) in [("bd1", 0), ("Lfp", 100), ("sa", 61), ("AYD1", 60)] {
        let response = app.post_grade(&grade(7, curso, nota)).await;
        assert_eq!(response.status().as_u16(), 201, "route {route} {curso} {nota}");
    }
    assert_eq!(app.db.count("SELECT COUNT(*) FROM grades").await, 4, "rejected grades store nothing");
    let codes: Vec<String> = sqlx::query_scalar("SELECT curso FROM grades ORDER BY id").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(codes, ["BD1", "LFP", "SA", "AYD1"]);
    app.stop().await;
}

async fn numeric_strings_and_extra_fields_are_accepted(route: Route) {
    let app = spawn_app(route).await;
    let response = app
        .post_grade(&json!({"carnet": "237527", "nombre": "Alumno 3", "curso": "SA", "nota": "80",
                            "semestre": "1S", "year": "2022", "extra": {"ignored": true}}))
        .await;
    assert_eq!(response.status().as_u16(), 201, "route {route}");
    let row: (u64, u8, u16) = sqlx::query_as("SELECT carnet, nota, year FROM grades").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(row, (237527, 80, 2022));
    app.stop().await;
}

async fn malformed_requests_get_problem_details(route: Route) {
    let app = spawn_app(route).await;
    let response = app.post_raw(Some("application/json"), "{\"carnet\": ", None).await;
    assert_problem(&response, 400);
    assert!(body(response).await["detail"].as_str().unwrap().contains("not valid JSON"));

    let response = app.post_raw(Some("text/plain"), grade(1, "SO1", 80).to_string(), None).await;
    assert_problem(&response, 415);
    let response = app.post_raw(None, grade(1, "SO1", 80).to_string(), None).await;
    assert_problem(&response, 415);
    let response = app.post_raw(Some("application/json; charset=utf-8"), grade(1, "SO1", 80).to_string(), None).await;
    assert_eq!(response.status().as_u16(), 201, "charset parameter is fine");
    // JSON is UTF-8 (RFC 8259): another charset is refused, not decoded as UTF-8 anyway.
    let response = app.post_raw(Some("application/json; charset=latin1"), grade(2, "SO1", 80).to_string(), None).await;
    assert_problem(&response, 415);
    let mut padded = grade(3, "SO1", 80);
    padded["nota"] = json!(" 90 ");
    let response = app.post_raw(Some("application/json"), padded.to_string(), None).await;
    assert_problem(&response, 422);

    let mut big = grade(1, "SO1", 80);
    big["padding"] = json!("x".repeat(17 * 1024));
    let response = app.post_raw(Some("application/json"), big.to_string(), None).await;
    assert_problem(&response, 413);

    let response = app.post_raw(Some("application/json"), "[1, 2]", None).await;
    assert_problem(&response, 422);

    let response = app.post_raw(Some("application/json"), grade(1, "SO1", 80).to_string(), Some("bad key with spaces")).await;
    assert_problem(&response, 422);
    assert_eq!(app.db.count("SELECT COUNT(*) FROM grades").await, 1, "route {route}");
    app.stop().await;
}

async fn idempotent_replays_return_the_original_id(route: Route) {
    let app = spawn_app(route).await;
    let body_text = grade(42, "SO1", 75).to_string();
    let first = app.post_raw(Some("application/json"), body_text.clone(), Some("key-1")).await;
    assert_eq!(first.status().as_u16(), 201);
    let id = body(first).await["id"].as_u64().unwrap();

    let replay = app.post_raw(Some("application/json"), body_text.clone(), Some("key-1")).await;
    assert_eq!(replay.status().as_u16(), 200, "route {route}");
    assert_eq!(body(replay).await["id"].as_u64(), Some(id));

    let conflict = app.post_raw(Some("application/json"), grade(42, "SO1", 76).to_string(), Some("key-1")).await;
    assert_problem(&conflict, 409);

    assert_eq!(app.db.count("SELECT COUNT(*) FROM grades").await, 1);
    // Summaries count the grade once.
    app.wait_folded().await;
    assert_eq!(app.db.count("SELECT CAST(passed + failed AS SIGNED) FROM course_term_stats WHERE year = 2023").await, 1);
    app.stop().await;
}

async fn concurrent_replays_store_exactly_one_grade(route: Route) {
    let app = spawn_app(route).await;
    let body_text = grade(43, "BD1", 88).to_string();
    let responses = join_all((0..25).map(|_| app.post_raw(Some("application/json"), body_text.clone(), Some("race-key")))).await;
    let mut created = 0;
    let mut ids = HashSet::new();
    for response in responses {
        match response.status().as_u16() {
            201 => created += 1,
            200 => {}
            other => panic!("unexpected status {other} on route {route}: {}", response.text().await.unwrap()),
        }
        ids.insert(body(response).await["id"].as_u64().unwrap());
    }
    assert_eq!(created, 1, "exactly one request creates the grade (route {route})");
    assert_eq!(ids.len(), 1, "every replay returns the same id");
    assert_eq!(app.db.count("SELECT COUNT(*) FROM grades").await, 1);
    app.stop().await;
}

async fn two_hundred_concurrent_posts_give_exactly_two_hundred_rows(route: Route) {
    let app = spawn_app(route).await;
    let bodies: Vec<Value> = (1..=200_u64).map(|i| grade(1000 + i, ["SO1", "BD1", "LFP", "SA", "AYD1"][i as usize % 5], i % 101)).collect();
    let responses = join_all(bodies.iter().map(|body| app.post_grade(body))).await;
    let mut ids = HashSet::new();
    for response in responses {
        assert_eq!(response.status().as_u16(), 201, "route {route}");
        ids.insert(body(response).await["id"].as_u64().unwrap());
    }
    assert_eq!(ids.len(), 200, "distinct ids");
    assert_eq!(app.db.count("SELECT COUNT(*) FROM grades").await, 200);
    assert_eq!(app.db.count("SELECT COUNT(DISTINCT id) FROM grades").await, 200);
    app.wait_folded().await;
    assert_eq!(app.db.count("SELECT CAST(SUM(students) AS SIGNED) FROM course_term_stats WHERE year = 2023").await, 200);
    assert_eq!(app.db.count("SELECT CAST(grades AS SIGNED) FROM route_stats").await, 200);
    let total = eventually(Duration::from_secs(5), || async { redis_total(&app).await.filter(|t| *t == 200) }).await;
    assert_eq!(total, Some(200), "redis total (route {route})");
    app.stop().await;
}

async fn redis_down_still_accepts_grades_and_counts_the_failure(route: Route) {
    let app = spawn_app(route).await;
    assert_eq!(app.post_grade(&grade(1, "SO1", 70)).await.status().as_u16(), 201);
    app.redis_proxy.stop();
    let response = app.post_grade(&grade(2, "SO1", 71)).await;
    assert_eq!(response.status().as_u16(), 201, "route {route}: MySQL is the source of truth");
    assert_eq!(app.db.count("SELECT COUNT(*) FROM grades").await, 2);

    let ready = if route == Route::Rest {
        app.get("/readyz").await
    } else {
        app.http.get(format!("{}/readyz", app.grpc_admin_url.as_ref().unwrap())).send().await.unwrap()
    };
    assert_eq!(ready.status().as_u16(), 200, "redis is optional for readiness");
    assert!(body(ready).await["dependencies"]["redis"].as_str().unwrap().starts_with("degraded"));

    let metrics_url = app.grpc_admin_url.clone().unwrap_or_else(|| app.base_url.clone());
    let failures = eventually(Duration::from_secs(10), || async {
        let text = app.http.get(format!("{metrics_url}/metrics")).send().await.ok()?.text().await.ok()?;
        let line = text.lines().find(|l| l.starts_with("grades_live_sync_failures_total"))?.to_owned();
        (line.split_whitespace().nth(1)?.parse::<f64>().ok()? >= 1.0).then_some(line)
    })
    .await;
    assert!(failures.is_some(), "redis failure counted in metrics (route {route})");

    // Redis comes back: the live figures catch up with MySQL, including the grades it missed,
    // without waiting for traffic; and keep counting afterwards.
    app.redis_proxy.resume().await;
    let caught_up = eventually(Duration::from_secs(10), || async { redis_total(&app).await.filter(|t| *t == 2) }).await;
    assert!(caught_up.is_some(), "route {route}: redis total equals MySQL after the outage");
    assert_eq!(app.post_grade(&grade(3, "SO1", 72)).await.status().as_u16(), 201);
    let counting = eventually(Duration::from_secs(10), || async { redis_total(&app).await.filter(|t| *t == 3) }).await;
    assert!(counting.is_some(), "route {route}: redis counts new grades again");
    app.stop().await;
}

async fn live_state_lost_by_redis_is_rebuilt_from_mysql(route: Route) {
    let app = spawn_app(route).await;
    for carnet in 1..=3 {
        assert_eq!(app.post_grade(&grade(carnet, "SO1", 80)).await.status().as_u16(), 201);
    }
    assert_eq!(eventually(Duration::from_secs(5), || async { redis_total(&app).await.filter(|t| *t == 3) }).await, Some(3));

    // Redis loses everything (restart without persistence, eviction, failover to an empty replica).
    let mut connection = app.redis.connection().await;
    let keys: Vec<String> = connection.keys(format!("{}*", app.redis.prefix())).await.unwrap();
    let _: () = connection.del(keys).await.unwrap();

    // Rebuilt from the summaries without waiting for traffic.
    let total = eventually(Duration::from_secs(10), || async { redis_total(&app).await.filter(|t| *t == 3) }).await;
    assert_eq!(total, Some(3), "route {route}: the live state returns with no new grade");

    assert_eq!(app.post_grade(&grade(4, "SO1", 50)).await.status().as_u16(), 201);
    let total = eventually(Duration::from_secs(10), || async { redis_total(&app).await.filter(|t| *t == 4) }).await;
    assert_eq!(total, Some(4), "route {route}: every acknowledged grade is counted again, none twice");
    assert_eq!(app.live_field("students:SO1:2S:2023").await.as_deref(), Some("4"));
    assert_eq!(app.live_field(&format!("route:{route}")).await.as_deref(), Some("4"));
    let recent: Vec<Value> = serde_json::from_str(&app.live_field("recent").await.expect("recent feed")).unwrap();
    let ids: Vec<u64> = recent.iter().map(|g| g["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 4, "the live feed is rebuilt without duplicates: {ids:?}");

    // Counting resumes normally after the rebuild.
    assert_eq!(app.post_grade(&grade(5, "BD1", 90)).await.status().as_u16(), 201);
    assert_eq!(eventually(Duration::from_secs(5), || async { redis_total(&app).await.filter(|t| *t == 5) }).await, Some(5));
    app.stop().await;
}

async fn mysql_down_gives_503_with_retry_after_and_recovers(route: Route) {
    let app = spawn_app(route).await;
    assert_eq!(app.post_grade(&grade(1, "SO1", 70)).await.status().as_u16(), 201);
    app.mysql_proxy.stop();
    let response = app.post_grade(&grade(2, "SO1", 71)).await;
    assert_problem(&response, 503);
    assert!(response.headers().contains_key("retry-after"), "route {route}");
    let ready_url = app.grpc_admin_url.clone().unwrap_or_else(|| app.base_url.clone());
    let ready = app.http.get(format!("{ready_url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503, "not ready without MySQL");

    app.mysql_proxy.resume().await;
    let recovered = eventually(Duration::from_secs(10), || async {
        (app.post_grade(&grade(3, "SO1", 72)).await.status().as_u16() == 201).then_some(())
    })
    .await;
    assert!(recovered.is_some(), "route {route} recovers when MySQL is back");
    assert_eq!(app.db.count("SELECT COUNT(*) FROM grades WHERE carnet = 2").await, 0, "a 503 stored nothing");
    app.stop().await;
}

async fn health_readiness_and_metrics_are_served(route: Route) {
    let app = spawn_app(route).await;
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status().as_u16(), 200, "route {route}");
    app.post_grade(&grade(1, "SO1", 70)).await;
    app.post_raw(Some("text/plain"), "x", None).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(&format!("grades_http_requests_total{{route=\"{route}\",status=\"201\"}} 1")), "{metrics}");
    assert!(metrics.contains(&format!("grades_http_requests_total{{route=\"{route}\",status=\"415\"}} 1")));
    assert!(metrics.contains("grades_http_request_duration_seconds_bucket"));
    app.stop().await;
}

#[tokio::test]
async fn grpc_server_speaks_standard_health_and_grpc_client_needs_it() {
    let app = spawn_app(Route::Grpc).await;
    let channel = tonic::transport::Endpoint::from_shared(app.grpc_url.clone().unwrap()).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "grades.v1.GradeIngestion".into() })
        .await
        .unwrap()
        .into_inner()
        .status();
    assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving);

    // Direct gRPC callers get the same validation, as INVALID_ARGUMENT with field details.
    let mut client = grades_proto::v1::grade_ingestion_client::GradeIngestionClient::new(channel);
    let error = client
        .submit_grade(grades_proto::v1::SubmitGradeRequest {
            grade: Some(grades_proto::v1::Grade {
                carnet: 1,
                nombre: "A".into(),
                curso: "XX".into(),
                nota: 300,
                semestre: "2S".into(),
                year: 2023,
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    match grades_proto::error_from_status(&error) {
        grades_domain::IngestError::Validation(errors) => assert_eq!(errors.fields().collect::<Vec<_>>(), ["curso", "nota"]),
        other => panic!("expected validation error, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn grpc_route_answers_503_when_grpc_server_is_gone() {
    let rest = spawn_app(Route::Rest).await; // only for its database
    let config: grpc_client::Config = grades_testkit::flags(&[
        "--port",
        "0",
        "--bind-address",
        "127.0.0.1",
        "--grpc-server-url",
        "http://127.0.0.1:1",
        "--redis-url",
        rest.redis.url(),
        "--redis-prefix",
        rest.redis.prefix(),
        "--grpc-timeout-ms",
        "2000",
    ]);
    let client = grpc_client::Application::build(config).await.unwrap();
    let url = format!("http://{}", client.local_addr());
    let shutdown = grades_kit::Shutdown::new();
    let task = tokio::spawn(client.run(shutdown.clone()));
    let response = rest.http.post(format!("{url}/grades")).json(&grade(1, "SO1", 80)).send().await.unwrap();
    assert_problem(&response, 503);
    assert!(response.headers().contains_key("retry-after"));
    let ready = rest.http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    shutdown.trigger();
    task.await.unwrap().unwrap();
    rest.stop().await;
}

async fn shutdown_finishes_in_flight_requests(route: Route) {
    let app = spawn_app(route).await;
    let requests = (1..=100_u64).map(|i| {
        let (http, url) = (app.http.clone(), format!("{}/grades", app.base_url));
        tokio::spawn(async move { http.post(url).json(&grade(5000 + i, "SO1", 90)).send().await.map(|r| r.status().as_u16()) })
    });
    let requests: Vec<_> = requests.collect();
    // Shut down once grades are being stored, while most requests are still in flight.
    let started =
        eventually(Duration::from_secs(10), || async { (app.db.count("SELECT COUNT(*) FROM grades").await > 0).then_some(()) }).await;
    assert!(started.is_some(), "route {route}: no grade stored before shutdown");
    app.trigger_shutdown();
    let mut created = 0;
    for request in requests {
        match request.await.unwrap() {
            Ok(201) => created += 1,
            Ok(other) => panic!("route {route}: in-flight request answered {other} during shutdown"),
            Err(error) => assert!(error.is_connect() || error.is_request(), "refused, not cut mid-request: {error}"),
        }
    }
    let rows = app.db.count("SELECT COUNT(*) FROM grades").await;
    assert!(created > 0, "route {route}: some requests were in flight");
    assert_eq!(rows, created, "route {route}: every 201 is stored, nothing else");
    app.stop().await;
}

/// Random concurrent load through both routes at once (two writing processes, two projectors),
/// with idempotent replays and reused keys: every summary table equals the GROUP BY over
/// `grades`, and the Redis live state equals the summaries.
#[tokio::test]
async fn summaries_and_live_state_equal_the_grades_after_concurrent_load_with_replays() {
    use rand::{Rng, SeedableRng};
    let routes = route_tests::spawn_both_routes().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let courses = ["SO1", "BD1", "LFP", "SA", "AYD1"];
    let mut requests = Vec::new();
    for i in 0..600_u64 {
        let carnet = rng.random_range(1..=40_u64);
        let (curso, semestre) = (courses[rng.random_range(0..5)], ["1S", "2S"][rng.random_range(0..2)]);
        let body = json!({"carnet": carnet, "nombre": format!("Alumno {carnet}"), "curso": curso,
                          "nota": rng.random_range(0..=100_u64), "semestre": semestre, "year": rng.random_range(2021..=2023_u64)});
        // Keys: 0-69 each sent twice with the same grade (a replay), 70-79 reused with another grade (409).
        let key = match i {
            0..=139 => Some(format!("replay-{}", i / 2)),
            140..=159 => Some(format!("reused-{}", i / 2)),
            _ => None,
        };
        requests.push((Route::ALL[rng.random_range(0..2)], key, body));
    }
    // Reused keys: the second use carries a different grade.
    for pair in requests[140..160].chunks_mut(2) {
        let mut changed = pair[0].2.clone();
        changed["nota"] = json!((changed["nota"].as_u64().unwrap() + 1) % 101);
        pair[1].2 = changed;
    }
    // Replays: the second use carries the same grade.
    for pair in requests[..140].chunks_mut(2) {
        pair[1].2 = pair[0].2.clone();
    }

    let sends = requests.iter().map(|(route, key, body)| {
        let mut request = routes.http.post(format!("{}/grades", routes.url(*route))).json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        async move { request.send().await.expect("POST /grades").status().as_u16() }
    });
    let statuses = join_all(sends).await;
    let created = statuses.iter().filter(|s| **s == 201).count() as i64;
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert!(statuses.iter().all(|s| matches!(s, 200 | 201 | 409)), "{statuses:?}");
    assert_eq!(conflicts, 10, "one of each pair of reused keys conflicts");
    assert_eq!(created, 600 - 70 - 10, "replays and conflicts store nothing");
    assert_eq!(routes.db.count("SELECT COUNT(*) FROM grades").await, created);

    route_tests::wait_folded(&routes.db).await;
    let mismatches = grades_testkit::summary_mismatches(routes.db.pool()).await;
    assert!(mismatches.is_empty(), "{mismatches:#?}");

    let live_matches = eventually(Duration::from_secs(10), || async {
        let total: u64 = route_tests::live_field(&routes.redis, "total").await?.parse().ok()?;
        (total == created as u64).then_some(())
    })
    .await;
    assert!(live_matches.is_some(), "redis total equals the grades stored");
    for route in Route::ALL {
        let stored = routes.db.count(&format!("SELECT COUNT(*) FROM grades WHERE route = '{route}'")).await;
        let live = route_tests::live_field(&routes.redis, &format!("route:{route}")).await;
        assert_eq!(live, Some(stored.to_string()), "route {route}");
    }
    let terms: Vec<(String, String, u16, i64)> =
        sqlx::query_as("SELECT curso, semestre, year, COUNT(DISTINCT carnet) FROM grades GROUP BY curso, semestre, year")
            .fetch_all(routes.db.pool())
            .await
            .unwrap();
    for (curso, semestre, year, students) in terms {
        let live = route_tests::live_field(&routes.redis, &format!("students:{curso}:{semestre}:{year}")).await;
        assert_eq!(live, Some(students.to_string()), "{curso} {semestre} {year}");
    }
    routes.stop().await;
}
