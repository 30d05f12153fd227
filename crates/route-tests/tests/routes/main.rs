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

mod describe;
mod errors;

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
    let metrics = app.http.get(format!("{ready_url}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "grades_ready 0"), "a scrape sees it too: {metrics}");
    assert!(metrics.contains("grades_dependency_up{dependency=\"mysql\",required=\"true\"} 0"), "{metrics}");

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
    assert!(metrics.contains(&format!("grades_http_request_duration_seconds_bucket{{le=\"0.02\",route=\"{route}\"}}")), "{metrics}");
    // What the dashboards and alerts read (observability/): the route a process serves, its CPU
    // counter, and its readiness at scrape time.
    for line in [format!("grades_route_info{{route=\"{route}\"}} 1"), "grades_ready 1".to_owned()] {
        assert!(metrics.lines().any(|l| l == line), "/metrics lacks {line}:\n{metrics}");
    }
    assert!(metrics.lines().any(|l| l.starts_with("process_cpu_seconds_total ")), "{metrics}");
    assert!(metrics.contains("grades_dependency_up{dependency=\"redis\",required=\"false\"} 1"), "{metrics}");
    // The storing process: rest-api itself, or grpc-server behind grpc-client.
    let storing_url = app.grpc_admin_url.clone().unwrap_or_else(|| app.base_url.clone());
    let storing = app.http.get(format!("{storing_url}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(storing.contains(&format!("grades_writer_batch_grades_count{{route=\"{route}\"}} 1")), "{storing}");
    assert!(storing.contains("grades_dependency_up{dependency=\"mysql\",required=\"true\"} 1"), "{storing}");
    assert!(storing.contains("grades_projector_leader{projection=\"terms\"}"), "{storing}");
    if route == Route::Grpc {
        assert!(storing.contains("grades_grpc_server_handled_total{grpc_method=\"SubmitGrade\",grpc_code=\"Ok\"} 1"), "{storing}");
        assert!(storing.contains(&format!("grades_route_info{{route=\"{route}\"}} 1")), "{storing}");
    }
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

/// Every way grpc-client can reach grpc-server (the comparison's variants) stores each grade once.
#[tokio::test]
async fn grpc_client_stores_over_several_channels_or_a_connection_per_request() {
    let app = spawn_app(Route::Grpc).await;
    let server = app.grpc_url.clone().unwrap();
    for (round, channels) in ["3", "per-request"].into_iter().enumerate() {
        let config: grpc_client::Config = grades_testkit::flags(&[
            "--port",
            "0",
            "--bind-address",
            "127.0.0.1",
            "--grpc-server-url",
            &server,
            "--grpc-channels",
            channels,
            "--redis-url",
            app.redis.url(),
            "--redis-prefix",
            app.redis.prefix(),
        ]);
        let client = grpc_client::Application::build(config).await.unwrap();
        let url = format!("http://{}/grades", client.local_addr());
        let shutdown = grades_kit::Shutdown::new();
        let task = tokio::spawn(client.run(shutdown.clone()));
        let posts = (0..12_u64).map(|i| app.http.post(&url).json(&grade(7000 + 100 * round as u64 + i, "SO1", 70)).send());
        for response in join_all(posts).await {
            assert_created(&response.unwrap(), Route::Grpc);
        }
        shutdown.trigger();
        task.await.unwrap().unwrap();
    }
    assert_eq!(app.db.count("SELECT COUNT(*) FROM grades").await, 24);
    app.stop().await;
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

// ---------------------------------------------------------------------------------------------
// Security (docs/security.md): the optional INGEST_TOKEN on both routes and on grpc-server's
// gRPC metadata, and the separate MySQL users (scripts/sql/users.sql). Self-contained: the
// services are started here with the flags under test.
// ---------------------------------------------------------------------------------------------

const SECURITY_TOKEN: &str = "h4-ingest-token_0123456789abcdef";

/// One route's services started with extra flags; `stop` ends them.
struct SecuredRoute {
    base_url: String,
    grpc_url: Option<String>,
    shutdown: grades_kit::Shutdown,
    tasks: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl SecuredRoute {
    /// `route` against `mysql_url` (migrated beforehand: the services do not migrate) and
    /// `redis`, every service given `--ingest-token token` when there is one.
    async fn start(route: Route, mysql_url: &str, redis: &grades_testkit::TestRedis, token: Option<&str>) -> Self {
        let mut common = vec!["--port", "0", "--bind-address", "127.0.0.1", "--redis-url", redis.url(), "--redis-prefix", redis.prefix()];
        if let Some(token) = token {
            common.extend(["--ingest-token", token]);
        }
        let storing = [common.clone(), vec!["--mysql-url", mysql_url, "--mysql-max-connections", "3", "--migrate", "false"]].concat();
        let shutdown = grades_kit::Shutdown::new();
        let mut tasks = Vec::new();
        let (base_url, grpc_url) = match route {
            Route::Rest => {
                let app = rest_api::Application::build(grades_testkit::flags(&storing)).await.expect("build rest-api");
                let url = format!("http://{}", app.local_addr());
                tasks.push(tokio::spawn(app.run(shutdown.clone())));
                (url, None)
            }
            Route::Grpc => {
                let server_flags = [storing, vec!["--grpc-port", "0"]].concat();
                let server = grpc_server::Application::build(grades_testkit::flags(&server_flags)).await.expect("build grpc-server");
                let grpc_url = format!("http://{}", server.grpc_addr());
                tasks.push(tokio::spawn(server.run(shutdown.clone())));
                let client_flags = [common, vec!["--grpc-server-url", &grpc_url]].concat();
                let client = grpc_client::Application::build(grades_testkit::flags(&client_flags)).await.expect("build grpc-client");
                let url = format!("http://{}", client.local_addr());
                tasks.push(tokio::spawn(client.run(shutdown.clone())));
                (url, Some(grpc_url))
            }
        };
        Self { base_url, grpc_url, shutdown, tasks }
    }

    async fn post(&self, http: &reqwest::Client, authorization: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = http.post(format!("{}/grades", self.base_url)).json(body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        request.send().await.expect("POST /grades")
    }

    async fn stop(self) {
        self.shutdown.trigger();
        for task in self.tasks {
            tokio::time::timeout(Duration::from_secs(20), task).await.expect("stops within 20 s").unwrap().unwrap();
        }
    }
}

#[tokio::test]
async fn with_an_ingest_token_only_its_bearer_gets_in_on_both_routes() {
    let http = reqwest::Client::new();
    for route in Route::ALL {
        let db = grades_testkit::TestDatabase::create().await;
        let redis = grades_testkit::TestRedis::new().await;
        let app = SecuredRoute::start(route, &db.url(), &redis, Some(SECURITY_TOKEN)).await;
        let refused = [
            (None, "no header"),
            (Some("Bearer not-the-token"), "wrong token"),
            (Some("Bearer h4-ingest-token_0123456789abcde"), "a prefix of the token"),
            (Some(&*format!("Basic {SECURITY_TOKEN}")), "wrong scheme"),
            (Some(SECURITY_TOKEN), "no scheme"),
        ];
        for (authorization, case) in refused {
            let response = app.post(&http, authorization, &grade(201900123, "SO1", 90)).await;
            assert_problem(&response, 401);
            assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"), "route {route}, {case}");
            let problem = body(response).await;
            assert_eq!(problem["status"], 401, "route {route}, {case}");
            assert!(problem["detail"].as_str().unwrap().contains("Bearer"), "route {route}, {case}: {problem}");
        }
        // Checked before the body: an invalid grade without the token is a 401 too, not a 422.
        assert_problem(&app.post(&http, None, &json!({"nota": 500})).await, 401);
        assert_eq!(db.count("SELECT COUNT(*) FROM grades").await, 0, "route {route}: a refused request stores nothing");

        let bearer = format!("Bearer {SECURITY_TOKEN}");
        let response = app.post(&http, Some(&bearer), &grade(201900123, "SO1", 90)).await;
        assert_created(&response, route);
        assert_eq!(body(response).await["route"], route.as_str());
        assert_eq!(db.count("SELECT COUNT(*) FROM grades").await, 1, "route {route}");
        // Probes and Prometheus need no token.
        for path in ["/healthz", "/readyz", "/metrics"] {
            let status = http.get(format!("{}{path}", app.base_url)).send().await.unwrap().status();
            assert_eq!(status.as_u16(), 200, "route {route} {path}");
        }

        if let Some(grpc_url) = &app.grpc_url {
            use grades_proto::v1::grade_ingestion_client::GradeIngestionClient;
            use grades_proto::v1::{Grade, ListCoursesRequest, SubmitGradeRequest};
            let channel = tonic::transport::Endpoint::from_shared(grpc_url.clone()).unwrap().connect().await.unwrap();
            let submit = |authorization: Option<&str>| {
                let mut request = tonic::Request::new(SubmitGradeRequest {
                    grade: Some(Grade {
                        carnet: 7,
                        nombre: "Alumno 7".into(),
                        curso: "SO1".into(),
                        nota: 80,
                        semestre: "2S".into(),
                        year: 2023,
                    }),
                    idempotency_key: String::new(),
                });
                if let Some(authorization) = authorization {
                    request.metadata_mut().insert("authorization", authorization.parse().unwrap());
                }
                request
            };
            let mut client = GradeIngestionClient::new(channel.clone());
            for authorization in [None, Some("Bearer wrong"), Some("Basic abc")] {
                let status = client.submit_grade(submit(authorization)).await.unwrap_err();
                assert_eq!(status.code(), tonic::Code::Unauthenticated, "gRPC with {authorization:?}: {status:?}");
            }
            let status = client.list_courses(ListCoursesRequest {}).await.unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "ListCourses without metadata");
            assert_eq!(db.count("SELECT COUNT(*) FROM grades").await, 1, "refused gRPC calls store nothing");
            let stored = client.submit_grade(submit(Some(&bearer))).await.expect("the token's call is served");
            assert!(stored.into_inner().id > 0);
            // The standard health service stays open (probes carry no token).
            let health = tonic_health::pb::health_client::HealthClient::new(channel)
                .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
                .await;
            assert!(health.is_ok(), "{health:?}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_grpc_client_whose_token_grpc_server_refuses_answers_500_naming_the_setting() {
    let db = grades_testkit::TestDatabase::create().await;
    let redis = grades_testkit::TestRedis::new().await;
    let server = SecuredRoute::start(Route::Grpc, &db.url(), &redis, Some(SECURITY_TOKEN)).await;
    let client_flags = [
        "--port",
        "0",
        "--bind-address",
        "127.0.0.1",
        "--redis-url",
        redis.url(),
        "--redis-prefix",
        redis.prefix(),
        "--grpc-server-url",
        server.grpc_url.as_deref().unwrap(),
        "--ingest-token",
        "another-token",
    ];
    let client = grpc_client::Application::build(grades_testkit::flags(&client_flags)).await.unwrap();
    let url = format!("http://{}", client.local_addr());
    let shutdown = grades_kit::Shutdown::new();
    let task = tokio::spawn(client.run(shutdown.clone()));
    let response = reqwest::Client::new()
        .post(format!("{url}/grades"))
        .header("authorization", "Bearer another-token")
        .json(&grade(1, "SO1", 80))
        .send()
        .await
        .unwrap();
    assert_problem(&response, 500);
    assert!(body(response).await["detail"].as_str().unwrap().contains("INGEST_TOKEN"));
    assert_eq!(db.count("SELECT COUNT(*) FROM grades").await, 0);
    shutdown.trigger();
    task.await.unwrap().unwrap();
    server.stop().await;
}

#[tokio::test]
async fn without_an_ingest_token_no_header_is_needed_and_any_is_ignored() {
    let http = reqwest::Client::new();
    for route in Route::ALL {
        let db = grades_testkit::TestDatabase::create().await;
        let redis = grades_testkit::TestRedis::new().await;
        let app = SecuredRoute::start(route, &db.url(), &redis, None).await;
        assert_created(&app.post(&http, None, &grade(1, "SO1", 80)).await, route);
        assert_created(&app.post(&http, Some("Bearer anything"), &grade(2, "SO1", 80)).await, route);
        assert_eq!(db.count("SELECT COUNT(*) FROM grades").await, 2, "route {route}");
        app.stop().await;
    }
    // An empty INGEST_TOKEN (as compose passes an unset one) means none.
    let db = grades_testkit::TestDatabase::create().await;
    let redis = grades_testkit::TestRedis::new().await;
    let app = SecuredRoute::start(Route::Rest, &db.url(), &redis, Some("")).await;
    assert_created(&app.post(&http, None, &grade(3, "SO1", 80)).await, Route::Rest);
    app.stop().await;
}

/// The URL of `user` on the test's MySQL server and database.
fn mysql_url_as(db: &grades_testkit::TestDatabase, user: &str, password: &str) -> String {
    let server = db.server_url();
    let (scheme, rest) = server.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}/{}", db.name())
}

/// The MySQL error number of a failed statement.
fn mysql_error_number(error: &sqlx::Error) -> Option<u16> {
    match error {
        sqlx::Error::Database(db) => db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|e| e.number()),
        _ => None,
    }
}

#[tokio::test]
async fn each_service_gets_a_mysql_user_with_only_the_privileges_it_needs() {
    use sqlx::{Connection, Executor};
    // A database without the schema: the migrator user must be able to create it.
    let db = grades_testkit::TestDatabase::create_at_migration(0).await;
    let suffix = db.name().rsplit('_').next().unwrap().to_owned();
    let (migrator, app_user, reader) = (format!("h4m_{suffix}"), format!("h4a_{suffix}"), format!("h4r_{suffix}"));
    let setup = format!(
        "SET @grades_database = '{}', @migrator_user = '{migrator}', @migrator_password = 'pw-m-{suffix}', \
         @app_user = '{app_user}', @app_password = 'pw-a-{suffix}', @reader_user = '{reader}', @reader_password = 'pw-r-{suffix}';\n{}",
        db.name(),
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/sql/users.sql")).unwrap()
    );
    let mut admin = db.pool().acquire().await.unwrap();
    sqlx::raw_sql(&setup).execute(&mut *admin).await.expect("scripts/sql/users.sql");
    // Twice: re-running it is harmless.
    sqlx::raw_sql(&setup).execute(&mut *admin).await.expect("scripts/sql/users.sql again");
    drop(admin);
    let migrator_url = mysql_url_as(&db, &migrator, &format!("pw-m-{suffix}"));
    let app_url = mysql_url_as(&db, &app_user, &format!("pw-a-{suffix}"));
    let reader_url = mysql_url_as(&db, &reader, &format!("pw-r-{suffix}"));

    // The app user cannot migrate; the migrator can (`rest-api migrate` with its URL).
    let migrate_as = |url: &str| grades_testkit::flags::<grades_ingest::config::StorageArgs>(&["--mysql-url", url]);
    let refused = grades_ingest::runtime::StorageCommand::Migrate.run(&migrate_as(&app_url)).await.unwrap_err();
    assert!(refused.contains("denied"), "{refused}");
    grades_ingest::runtime::StorageCommand::Migrate.run(&migrate_as(&migrator_url)).await.expect("the migrator migrates");
    // The key sweeper's DELETE on idempotency_keys: a table grant, so it takes the script run
    // again once the migrations have made the table.
    let mut admin = db.pool().acquire().await.unwrap();
    sqlx::raw_sql(&setup).execute(&mut *admin).await.expect("scripts/sql/users.sql after migrating");
    drop(admin);

    // The app user: rows yes, schema no.
    let mut app = sqlx::MySqlConnection::connect(&app_url).await.unwrap();
    for ddl in ["CREATE TABLE h4_probe (id INT)", "DROP TABLE grades", "ALTER TABLE grades ADD COLUMN h4 INT", "TRUNCATE TABLE grades"] {
        let error = app.execute(ddl).await.expect_err(ddl);
        assert!(matches!(mysql_error_number(&error), Some(1142 | 1044)), "{ddl}: {error}");
    }
    for delete in ["DELETE FROM courses", "DELETE FROM grades"] {
        let error = app.execute(delete).await.expect_err(delete);
        assert_eq!(mysql_error_number(&error), Some(1142), "{delete}: {error}");
    }
    app.execute("DELETE FROM idempotency_keys WHERE created_at < '2000-01-01'").await.expect("the sweeper's DELETE");
    app.close().await.unwrap();

    // The reader: SELECT only.
    let mut read_only = sqlx::MySqlConnection::connect(&reader_url).await.unwrap();
    assert!(read_only.execute("SELECT COUNT(*) FROM grades").await.is_ok());
    for write in [
        "INSERT INTO courses (code, name) VALUES ('H4', 'h4')",
        "UPDATE courses SET name = 'x'",
        "DELETE FROM grades",
        "CREATE TEMPORARY TABLE h4_scratch (id INT)",
        "CREATE TABLE h4_probe (id INT)",
        "DROP TABLE grades",
    ] {
        let error = read_only.execute(write).await.expect_err(write);
        assert!(matches!(mysql_error_number(&error), Some(1142 | 1044)), "{write}: {error}");
    }
    read_only.close().await.unwrap();

    // Both routes run as the app user (writer, projector with its scratch table, live sync).
    let redis = grades_testkit::TestRedis::new().await;
    let http = reqwest::Client::new();
    let rest = SecuredRoute::start(Route::Rest, &app_url, &redis, None).await;
    let grpc = SecuredRoute::start(Route::Grpc, &app_url, &redis, None).await;
    assert_created(&rest.post(&http, None, &grade(201900123, "SO1", 90)).await, Route::Rest);
    assert_created(&grpc.post(&http, None, &grade(201900124, "SO1", 50)).await, Route::Grpc);
    route_tests::wait_folded(&db).await;
    assert_eq!(db.count("SELECT CAST(SUM(grades) AS SIGNED) FROM route_stats").await, 2, "both grades folded by the app user");
    assert_eq!(db.count("SELECT CAST(students AS SIGNED) FROM course_term_stats WHERE curso = 'SO1' AND year = 2023").await, 2);
    rest.stop().await;
    grpc.stop().await;

    db.pool().execute(format!("DROP USER '{migrator}'@'%', '{app_user}'@'%', '{reader}'@'%'").as_str()).await.unwrap();
}

#[tokio::test]
async fn wait_for_schema_holds_until_every_migration_of_the_build_is_applied() {
    use grades_ingest::runtime::StorageCommand;
    let wait_once = StorageCommand::WaitForSchema { timeout_seconds: 0 };

    // No schema at all, then only the first migration: both keep a pod waiting, and say why.
    let db = grades_testkit::TestDatabase::create_at_migration(0).await;
    sqlx::query("DROP TABLE _sqlx_migrations").execute(db.pool()).await.unwrap();
    let args = grades_testkit::flags::<grades_ingest::config::StorageArgs>(&["--mysql-url", &db.url()]);
    let refused = wait_once.run(&args).await.unwrap_err();
    assert!(refused.contains("not ready") && refused.contains("_sqlx_migrations does not exist"), "{refused}");
    let partial = grades_testkit::TestDatabase::create_at_migration(1).await;
    let partial_args = grades_testkit::flags::<grades_ingest::config::StorageArgs>(&["--mysql-url", &partial.url()]);
    let refused = wait_once.run(&partial_args).await.unwrap_err();
    assert!(refused.contains("migrations not applied yet") && !refused.contains("20261127000001,"), "{refused}");

    // After the migrations Job has run, it exits at once.
    StorageCommand::Migrate.run(&args).await.expect("migrate");
    wait_once.run(&args).await.expect("every migration applied");

    // A failed migration keeps the pods waiting (they would start against a half-built schema).
    sqlx::query("UPDATE _sqlx_migrations SET success = FALSE ORDER BY version DESC LIMIT 1").execute(db.pool()).await.unwrap();
    let refused = wait_once.run(&args).await.unwrap_err();
    assert!(refused.contains("failed"), "{refused}");

    // It waits (polls) rather than failing at the first look: repaired within the timeout, it succeeds.
    let repair = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sqlx::query("UPDATE _sqlx_migrations SET success = TRUE").execute(db.pool()).await.unwrap();
    };
    let (waited, ()) = tokio::join!(StorageCommand::WaitForSchema { timeout_seconds: 30 }.run(&args), repair);
    waited.expect("ready once the failed migration is repaired");
}
