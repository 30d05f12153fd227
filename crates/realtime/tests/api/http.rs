//! The HTTP API: health, readiness, metrics and CORS; every `/api/*` endpoint against the seed
//! data; bad parameters; MySQL or Redis down.

use std::collections::HashSet;
use std::time::Duration;

use grades_kit::Shutdown;
use grades_testkit::{eventually, TestRedis};
use serde_json::{json, Value};

use crate::helpers::{build_realtime, build_realtime_with, carnets, ids, Env, SEED, SEED_GRPC, SEED_REST, SEED_TOTAL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_cors() {
    let env = Env::start().await;
    assert_eq!(env.get("/healthz").await.status(), 200);
    let (status, body) = env.ready().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dependencies"], json!({"mysql": "up", "redis": "up", "redis_events": "up", "tasks": "up"}));

    // The default CORS_ALLOWED_ORIGINS: the dashboard on a loopback host, any port (cors.rs tests the rest).
    let response = env.http.get(format!("{}/api/courses", env.url)).header("origin", "http://localhost:3000").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "http://localhost:3000", "CORS for the dashboard's GET");
    let preflight = env
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/api/grades", env.url))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "preflight: {}", preflight.status());
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("GET"));

    // Socket.IO long-polling is served on the same port, also cross-origin.
    let polling = env
        .http
        .get(format!("{}/socket.io/?EIO=4&transport=polling", env.url))
        .header("origin", "http://127.0.0.1:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(polling.status(), 200);
    assert_eq!(polling.headers()["access-control-allow-origin"], "http://127.0.0.1:5173");
    let open = polling.text().await.unwrap();
    assert!(open.starts_with("0{") && open.contains("\"sid\""), "Engine.IO open packet: {open}");

    let metrics = env.get("/metrics").await.text().await.unwrap();
    for name in [
        "grades_realtime_socket_clients",
        "grades_realtime_events_received_total",
        "grades_realtime_api_requests_total{path=\"/api/courses\",status=\"200\"} 1",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "grades_ready 1",
        "grades_dependency_up{dependency=\"mysql\",required=\"true\"} 1",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn courses_are_the_catalog() {
    let env = Env::start().await;
    let courses = env.json("/api/courses").await;
    assert_eq!(
        courses,
        json!([
            {"code": "AYD1", "name": "Analisis y Diseno 1"},
            {"code": "BD1", "name": "Sistemas de Bases de Datos 1"},
            {"code": "LFP", "name": "Lenguajes Formales y de Programacion"},
            {"code": "SA", "name": "Software Avanzado"},
            {"code": "SO1", "name": "Sistemas Operativos 1"},
        ])
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grades_page_newest_first_with_cursor_and_filters() {
    let env = Env::seeded().await;

    let all = env.json("/api/grades?limit=100").await;
    assert_eq!(all["next_cursor"], Value::Null);
    let all_ids = ids(&all["items"]);
    assert_eq!(all_ids.len(), SEED.len());
    assert!(all_ids.windows(2).all(|w| w[0] > w[1]), "newest first: {all_ids:?}");
    let expected: Vec<u64> = SEED.iter().rev().map(|s| s.0).collect();
    assert_eq!(carnets(&all["items"]), expected, "same order as posted, reversed");
    let newest = &all["items"][0];
    assert_eq!(newest["nombre"], "Alumno 113");
    assert_eq!(newest["curso"], "SO1");
    assert_eq!(newest["nota"], 65);
    assert_eq!(newest["semestre"], "2S");
    assert_eq!(newest["year"], 2022);
    assert_eq!(newest["route"], "grpc");
    assert!(newest["created_at"].as_str().is_some_and(|s| s.ends_with('Z')), "created_at: {}", newest["created_at"]);
    assert_eq!(all["items"][SEED.len() - 1]["route"], "rest");

    // Default page size is 20 (all 17 fit).
    assert_eq!(ids(&env.json("/api/grades").await["items"]), all_ids);

    // Walk the pages with the cursor: 5 + 5 + 5 + 2, no gap, no repeat.
    let mut walked: Vec<u64> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/grades?limit=5&cursor={c}"),
            None => "/api/grades?limit=5&cursor=".to_owned(),
        };
        let page = env.json(&path).await;
        let page_ids = ids(&page["items"]);
        pages.push(page_ids.len());
        walked.extend(&page_ids);
        match &page["next_cursor"] {
            Value::Null => break,
            Value::String(next) => {
                assert_eq!(next, &page_ids.last().unwrap().to_string(), "cursor is the last id of the page");
                cursor = Some(next.clone());
            }
            other => panic!("next_cursor must be a string or null: {other}"),
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages, [5, 5, 5, 2]);
    assert_eq!(walked, all_ids);

    // Filters, alone and together (course codes are case-insensitive, empty values are no filter).
    let so1 = env.json("/api/grades?curso=SO1&semestre=&year=").await;
    assert_eq!(carnets(&so1["items"]), [113, 106, 109, 101, 104, 103, 102, 101]);
    let term = env.json("/api/grades?curso=so1&semestre=2S&year=2023").await;
    assert_eq!(carnets(&term["items"]), [104, 103, 102, 101]);
    assert!(term["items"].as_array().unwrap().iter().all(|g| g["curso"] == "SO1" && g["semestre"] == "2S" && g["year"] == 2023));
    assert_eq!(carnets(&env.json("/api/grades?semestre=1S").await["items"]), [106, 109, 101]);
    let y2022 = env.json("/api/grades?year=2022").await;
    assert_eq!(carnets(&y2022["items"]), [113, 112, 111, 110]);
    assert!(y2022["items"].as_array().unwrap().iter().all(|g| g["route"] == "grpc"));
    assert_eq!(env.json("/api/grades?curso=AYD1&year=2023").await, json!({"items": [], "next_cursor": null}));

    // Filtered paging: 8 SO1 grades in pages of 3.
    let first = env.json("/api/grades?curso=SO1&limit=3").await;
    assert_eq!(carnets(&first["items"]), [113, 106, 109]);
    let cursor = first["next_cursor"].as_str().expect("more SO1 pages").to_owned();
    let second = env.json(&format!("/api/grades?curso=SO1&limit=3&cursor={cursor}")).await;
    assert_eq!(carnets(&second["items"]), [101, 104, 103]);
    let cursor = second["next_cursor"].as_str().expect("a last SO1 page").to_owned();
    let third = env.json(&format!("/api/grades?curso=SO1&limit=3&cursor={cursor}")).await;
    assert_eq!(carnets(&third["items"]), [102, 101]);
    assert_eq!(third["next_cursor"], Value::Null);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_fail_counts_a_term_or_all_years() {
    let env = Env::seeded().await;
    // 60 fails and 61 passes.
    assert_eq!(
        env.json("/api/stats/pass-fail?curso=SO1&semestre=2S&year=2023").await,
        json!({"curso": "SO1", "semestre": "2S", "year": 2023, "passed": 3, "failed": 1})
    );
    assert_eq!(
        env.json("/api/stats/pass-fail?curso=so1&semestre=2s").await,
        json!({"curso": "SO1", "semestre": "2S", "year": null, "passed": 4, "failed": 1})
    );
    assert_eq!(
        env.json("/api/stats/pass-fail?curso=SO1&semestre=1S&year=2023").await,
        json!({"curso": "SO1", "semestre": "1S", "year": 2023, "passed": 3, "failed": 0})
    );
    assert_eq!(
        env.json("/api/stats/pass-fail?curso=BD1&semestre=2S&year=2023").await,
        json!({"curso": "BD1", "semestre": "2S", "year": 2023, "passed": 2, "failed": 1})
    );
    assert_eq!(
        env.json("/api/stats/pass-fail?curso=AYD1&semestre=1S&year=2023").await,
        json!({"curso": "AYD1", "semestre": "1S", "year": 2023, "passed": 0, "failed": 0})
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_courses_rank_by_distinct_students() {
    let env = Env::seeded().await;
    let top = env.json("/api/stats/top-courses?semestre=2S&year=2023").await;
    assert_eq!(
        top,
        json!({"semestre": "2S", "year": 2023, "items": [
            {"curso": "SO1", "name": "Sistemas Operativos 1", "students": 4},
            {"curso": "BD1", "name": "Sistemas de Bases de Datos 1", "students": 3},
            {"curso": "LFP", "name": "Lenguajes Formales y de Programacion", "students": 2},
        ]})
    );
    let five = env.json("/api/stats/top-courses?semestre=2S&year=2023&limit=5").await;
    let order: Vec<&str> = five["items"].as_array().unwrap().iter().map(|c| c["curso"].as_str().unwrap()).collect();
    assert_eq!(order, ["SO1", "BD1", "LFP", "SA"], "courses without students in the term are absent");

    // All years of 2S: SO1 has 5 distinct students; AYD1 and BD1 tie at 3 and are ordered by code.
    let all_years = env.json("/api/stats/top-courses?semestre=2S").await;
    assert_eq!(all_years["year"], Value::Null);
    let ranked: Vec<(String, u64)> = all_years["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["curso"].as_str().unwrap().to_owned(), c["students"].as_u64().unwrap()))
        .collect();
    assert_eq!(ranked, [("SO1".to_owned(), 5), ("AYD1".to_owned(), 3), ("BD1".to_owned(), 3)]);
    // A student with two grades in one course term counts once.
    assert_eq!(env.json("/api/stats/top-courses?semestre=1S&year=2023&limit=1").await["items"][0]["students"], 3);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_students_rank_by_average() {
    let env = Env::seeded().await;
    let ranking = |body: &Value| -> Vec<(u64, f64, u64)> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["carnet"].as_u64().unwrap(), s["average"].as_f64().unwrap(), s["grades"].as_u64().unwrap()))
            .collect()
    };

    let overall = env.json("/api/stats/top-students").await;
    assert_eq!(overall["semestre"], Value::Null);
    assert_eq!(overall["year"], Value::Null);
    assert_eq!(overall["items"][2]["nombre"], "Alumno 106");
    assert_eq!(ranking(&overall), [(104, 100.0, 1), (109, 100.0, 1), (106, 95.5, 2), (110, 85.0, 1), (111, 85.0, 1)]);

    // 2S over all years: 101 averages 85 over two grades, so it ranks ahead of 110 and 111.
    let second = env.json("/api/stats/top-students?semestre=2S").await;
    assert_eq!(second["semestre"], "2S");
    assert_eq!(ranking(&second), [(104, 100.0, 1), (106, 95.0, 1), (101, 85.0, 2), (110, 85.0, 1), (111, 85.0, 1)]);

    let term = env.json("/api/stats/top-students?semestre=2S&year=2023&limit=5").await;
    assert_eq!(ranking(&term), [(104, 100.0, 1), (106, 95.0, 1), (101, 85.0, 2), (105, 70.0, 1), (103, 61.0, 1)]);

    let year = env.json("/api/stats/top-students?year=2023&limit=4").await;
    assert_eq!(year["year"], 2023);
    assert_eq!(ranking(&year), [(104, 100.0, 1), (109, 100.0, 1), (106, 95.5, 2), (101, 80.0, 3)]);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_report_stored_grades_and_the_last_minute() {
    let env = Env::seeded().await;
    // Latency buckets reach Redis within about a second of each request.
    let stats = eventually(Duration::from_secs(10), || async {
        let stats = env.json("/api/stats/routes").await;
        (stats["routes"][0]["requests"] == SEED_GRPC && stats["routes"][1]["requests"] == SEED_REST).then_some(stats)
    })
    .await;
    let Some(stats) = stats else {
        panic!("request counts never reached {SEED_GRPC}/{SEED_REST}: {}", env.json("/api/stats/routes").await);
    };
    assert_eq!(stats["window_seconds"], 60);
    let routes = stats["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 2);
    for (route, name, stored, throughput) in [(&routes[0], "grpc", SEED_GRPC, 0.067), (&routes[1], "rest", SEED_REST, 0.217)] {
        assert_eq!(route["route"], name);
        assert_eq!(route["stored"], stored, "{route}");
        assert_eq!(route["throughput_per_sec"].as_f64(), Some(throughput), "{route}");
        let p50 = route["p50_ms"].as_f64().unwrap_or_else(|| panic!("p50 of {name}: {route}"));
        let p99 = route["p99_ms"].as_f64().unwrap_or_else(|| panic!("p99 of {name}: {route}"));
        assert!(p50 > 0.0 && p50 <= p99, "{route}");
        let interval: Vec<f64> = route["p50_interval_ms"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(interval[0] <= p50 && p50 <= interval[1], "the median lies in its interval: {route}");
        let keys: HashSet<&str> = route.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, HashSet::from(["route", "stored", "requests", "throughput_per_sec", "p50_ms", "p50_interval_ms", "p99_ms"]));
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_without_traffic_have_no_percentiles() {
    let env = Env::start().await;
    let stats = env.json("/api/stats/routes").await;
    assert_eq!(
        stats,
        json!({"window_seconds": 60, "routes": [
            {"route": "grpc", "stored": 0, "requests": 0, "throughput_per_sec": 0.0, "p50_ms": null, "p50_interval_ms": null, "p99_ms": null},
            {"route": "rest", "stored": 0, "requests": 0, "throughput_per_sec": 0.0, "p50_ms": null, "p50_interval_ms": null, "p99_ms": null},
        ]})
    );
    assert_eq!(env.json("/api/live").await, json!({"total": 0, "route_count": {"grpc": 0, "rest": 0}}));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_reports_totals_per_route() {
    let env = Env::seeded().await;
    assert_eq!(env.json("/api/live").await, json!({"total": SEED_TOTAL, "route_count": {"grpc": SEED_GRPC, "rest": SEED_REST}}));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_422_problems() {
    let env = Env::start().await;
    let cases = [
        ("/api/grades?curso=XX9", "curso", "known courses: AYD1, BD1, LFP, SA, SO1"),
        ("/api/grades?curso=S%20O1", "curso", "letters and digits"),
        ("/api/grades?semestre=3S", "semestre", "1S or 2S"),
        ("/api/grades?year=1800", "year", "between 1990 and 2100"),
        ("/api/grades?year=2101", "year", "between 1990 and 2100"),
        ("/api/grades?year=dos-mil", "year", "a year like 2023"),
        ("/api/grades?limit=0", "limit", "from 1 to 100"),
        ("/api/grades?limit=101", "limit", "from 1 to 100"),
        ("/api/grades?limit=ten", "limit", "from 1 to 100"),
        ("/api/grades?cursor=abc", "cursor", "next_cursor"),
        ("/api/grades?cursor=-4", "cursor", "next_cursor"),
        ("/api/stats/pass-fail?semestre=2S", "curso", "is required"),
        ("/api/stats/pass-fail?curso=SO1", "semestre", "is required"),
        ("/api/stats/pass-fail?curso=NOPE&semestre=2S", "curso", "unknown course NOPE"),
        ("/api/stats/pass-fail?curso=SO1&semestre=2S&year=0", "year", "between 1990 and 2100"),
        ("/api/stats/top-courses", "semestre", "is required"),
        ("/api/stats/top-courses?semestre=X", "semestre", "1S or 2S"),
        ("/api/stats/top-courses?semestre=2S&limit=500", "limit", "from 1 to 100"),
        ("/api/stats/top-students?limit=0", "limit", "from 1 to 100"),
        ("/api/stats/top-students?semestre=3S", "semestre", "1S or 2S"),
        ("/api/stats/top-students?year=1989", "year", "between 1990 and 2100"),
    ];
    for (path, field, hint) in cases {
        let response = env.get(path).await;
        assert_eq!(response.status(), 422, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 422, "{path}: {problem}");
        assert_eq!(problem["title"], "Unprocessable Entity", "{path}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with(field) && detail.contains(hint), "{path}: detail {detail:?} should name {field} and say {hint:?}");
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_down_is_503_with_retry_after_and_not_ready() {
    let env = Env::seeded().await;
    env.json("/api/courses").await; // loads the catalog while MySQL is up
    env.mysql_proxy.stop();

    let response = env.get("/api/grades").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 503);
    assert!(problem["detail"].as_str().unwrap().contains("mysql"), "{problem}");
    // Each waits out the pool's acquire timeout (3 s) before answering.
    for path in ["/api/stats/pass-fail?curso=SO1&semestre=2S", "/api/stats/top-students", "/api/stats/routes"] {
        assert_eq!(env.get(path).await.status(), 503, "{path}");
    }
    // The last catalog keeps validating parameters, and Redis-only answers still work.
    assert_eq!(env.get("/api/grades?curso=XX9").await.status(), 422);
    assert_eq!(env.json("/api/live").await["total"], SEED_TOTAL);

    let (status, body) = env.ready().await;
    assert_eq!(status, 503, "{body}");
    assert!(body["dependencies"]["mysql"].as_str().unwrap().starts_with("down"), "{body}");
    assert_eq!(body["dependencies"]["redis"], "up");

    env.mysql_proxy.resume().await;
    let back = eventually(Duration::from_secs(15), || async { (env.get("/api/grades").await.status() == 200).then_some(()) }).await;
    assert!(back.is_some(), "API did not recover after MySQL came back");
    assert_eq!(env.ready().await.0, 200);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_503_and_not_ready() {
    let env = Env::seeded().await;
    env.redis_proxy.stop();
    let response = env.get("/api/live").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("redis"), "{problem}");
    let (status, body) = env.ready().await;
    assert_eq!(status, 503, "realtime needs Redis: {body}");
    assert!(body["dependencies"]["redis"].as_str().unwrap().starts_with("down"), "{body}");
    // MySQL-backed answers do not need Redis.
    assert_eq!(env.json("/api/stats/pass-fail?curso=SO1&semestre=2S&year=2023").await["passed"], 3);
    env.redis_proxy.resume().await;
    env.wait_subscribed().await;
    assert_eq!(env.ready().await.0, 200);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_not_migrated_yet_is_503_not_500() {
    // Realtime never migrates: until a storing service has created the schema, it waits.
    let redis = TestRedis::new().await;
    let missing = format!("{}/grades_never_created_{}", grades_testkit::mysql_server_url().await, std::process::id());
    let app = build_realtime(&missing, redis.url(), redis.prefix()).await;
    let url = format!("http://{}", app.local_addr());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(app.run(shutdown.clone()));
    let http = reqwest::Client::new();

    for path in ["/api/courses", "/api/grades", "/api/stats/top-students", "/api/stats/pass-fail?curso=SO1&semestre=2S"] {
        let response = http.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 503, "{path}");
        assert_eq!(response.headers()["retry-after"], "5", "{path}");
    }
    // Parameters that need no catalog are still checked first.
    assert_eq!(http.get(format!("{url}/api/grades?semestre=3S")).send().await.unwrap().status(), 422);
    assert_eq!(http.get(format!("{url}/api/stats/pass-fail?semestre=2S")).send().await.unwrap().status(), 422);
    assert_eq!(http.get(format!("{url}/api/grades?curso=S-O1")).send().await.unwrap().status(), 422);
    let ready = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(20), task).await.expect("stops").expect("task").expect("exits cleanly");
}

/// `GET /api/compare` serves the file `--compare-json` names (the published `just compare`
/// result), re-read on every request; 404 problem+json saying to run `just compare` without it,
/// 500 when it is not JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_comparison_from_compare_json() {
    let default: realtime::Config = grades_testkit::flags(&[]);
    assert_eq!(default.compare_json, std::path::PathBuf::from("docs/compare.json"), "the repository's file by default");

    let redis = TestRedis::new().await;
    let mysql = format!("{}/grades_compare_unused", grades_testkit::mysql_server_url().await);
    let file = std::env::temp_dir().join(format!("grades-compare-{}-{}.json", std::process::id(), redis.prefix().trim_end_matches(':')));
    let _ = std::fs::remove_file(&file);
    let app = build_realtime_with(&mysql, redis.url(), redis.prefix(), &["--compare-json", file.to_str().unwrap()]).await;
    let url = format!("http://{}/api/compare", app.local_addr());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(app.run(shutdown.clone()));
    let http = reqwest::Client::new();

    // Not measured yet: 404 that says what to do.
    let missing = http.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    let problem: Value = missing.json().await.unwrap();
    assert_eq!(problem["status"], 404);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("just compare") && detail.contains(file.to_str().unwrap()), "{detail}");

    // Published: served as written.
    let published = json!({
        "measured_at": "2026-11-28T00:10:42Z",
        "machine": "2 cores (test)",
        "command": "just compare (COMPARE_SECONDS=3)",
        "slo_p99_ms": 20.0,
        "students": 500,
        "step_seconds": 3.0,
        "routes": [
            {"route": "rest", "max_sustainable_per_sec": 12000.5, "half_load": {"p50_ms": 2.25, "p99_ms": 9.71, "cpu_seconds_per_1000": 0.215}},
            {"route": "grpc", "max_sustainable_per_sec": null, "half_load": null}
        ]
    });
    std::fs::write(&file, serde_json::to_vec_pretty(&published).unwrap()).unwrap();
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.json::<Value>().await.unwrap(), published);

    // A new run shows up without a restart.
    let mut rerun = published.clone();
    rerun["measured_at"] = json!("2026-11-29T08:00:00Z");
    std::fs::write(&file, serde_json::to_vec(&rerun).unwrap()).unwrap();
    assert_eq!(http.get(&url).send().await.unwrap().json::<Value>().await.unwrap()["measured_at"], "2026-11-29T08:00:00Z");

    // Not JSON (a half-written or hand-broken file): 500 naming the file and the fix.
    std::fs::write(&file, b"{\"routes\": [").unwrap();
    let broken = http.get(&url).send().await.unwrap();
    assert_eq!(broken.status(), 500);
    let problem: Value = broken.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("not valid JSON") && detail.contains("just compare"), "{detail}");

    let _ = std::fs::remove_file(&file);
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(20), task).await.expect("stops").expect("task").expect("exits cleanly");
}

/// No statement of the system draws a warning from the server: MySQL warns before it removes
/// (`VALUES()` in an upsert is deprecated since 8.0.20, for one), and Cloud SQL runs MySQL.
/// Both routes take grades (with an idempotent replay and a conflict), the projector folds,
/// every dashboard endpoint and an `all_grades` read-back run; then MySQL's performance_schema
/// must show no warning for this test's database, in two places: the statement digests (warnings
/// of an execution, with the statement's text) and the per-connection error summaries (which
/// also count what a statement draws when it is prepared, as a deprecated syntax does: sqlx
/// prepares every statement, and a prepare's warnings appear in no digest). MySQL keeps both by
/// default; MariaDB only with performance_schema on (off by default), so there the check has
/// nothing to read and the MySQL run of the suite (`just test-rust-containers`) proves it.
/// One statement is not ours: sqlx's `CREATE TABLE IF NOT EXISTS _sqlx_migrations`, which every
/// migrating process runs and which draws the note "already exists" (1050) from the second one on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_statement_draws_a_warning_from_the_server() {
    use grades_domain::Route;

    let env = Env::seeded().await;
    let pool = env.routes.db.pool();
    let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(pool).await.unwrap();
    let digests_kept: i64 = sqlx::query_scalar("SELECT @@performance_schema").fetch_one(pool).await.unwrap();
    if version.contains("MariaDB") && digests_kept == 0 {
        eprintln!("MariaDB {version} without performance_schema: no statement digests to read; the MySQL run checks this");
        env.stop().await;
        return;
    }
    assert_eq!(digests_kept, 1, "MySQL {version} keeps statement digests (performance_schema) unless it was turned off");

    let mut all = env.connect().await;
    all.send(r#"421["subscribe_all_grades"]"#).await;
    let key = format!("warnings-{}", std::process::id());
    for route in [Route::Rest, Route::Grpc] {
        let body = json!({"carnet": 201900777, "nombre": "Alumno 777", "curso": "SO1", "nota": 61, "semestre": "2S", "year": 2024});
        let url = format!("{}/grades", env.routes.url(route));
        let key = format!("{key}-{route}");
        for expected in [201, 200] {
            let response = env.http.post(&url).header("idempotency-key", &key).json(&body).send().await.unwrap();
            assert_eq!(response.status(), expected, "{route}: {}", response.text().await.unwrap());
        }
        let other = json!({"carnet": 201900778, "nombre": "Alumno 778", "curso": "BD1", "nota": 40, "semestre": "1S", "year": 2024});
        assert_eq!(env.http.post(&url).header("idempotency-key", &key).json(&other).send().await.unwrap().status(), 409);
    }
    let posts = (0..120).map(|i| env.post([Route::Rest, Route::Grpc][i % 2], 7000 + i as u64, "LFP", (i % 101) as u64, "1S", 2022));
    futures::future::join_all(posts).await;
    env.wait_folded().await;
    for path in [
        "/api/courses",
        "/api/grades?limit=5",
        "/api/grades?curso=SO1&semestre=2S&year=2023&limit=2",
        "/api/grades?semestre=1S&limit=3&cursor=50",
        "/api/grades?curso=LFP&limit=3",
        "/api/grades?year=2022&limit=3",
        "/api/stats/pass-fail?curso=SO1&semestre=2S&year=2023",
        "/api/stats/pass-fail?curso=SO1&semestre=2S",
        "/api/stats/top-courses?semestre=2S&year=2023&limit=3",
        "/api/stats/top-courses?semestre=1S&limit=3",
        "/api/stats/top-students?limit=5",
        "/api/stats/top-students?semestre=2S&year=2023&limit=5",
        "/api/stats/routes",
        "/api/stats/projector",
        "/api/live",
    ] {
        assert_eq!(env.get(path).await.status(), 200, "GET {path}");
    }
    // The all_grades subscriber's read-back of what the events did not carry.
    let pushed = all.collect(Duration::from_millis(1500)).await;
    assert!(pushed.iter().any(|(name, _)| name == "all_grades"), "all_grades pushes arrived");

    let warned: Vec<(String, u64)> = sqlx::query_as(
        "SELECT DIGEST_TEXT, CAST(SUM_WARNINGS AS UNSIGNED) FROM performance_schema.events_statements_summary_by_digest \
         WHERE SCHEMA_NAME = ? AND SUM_WARNINGS > 0 AND DIGEST_TEXT NOT LIKE 'CREATE TABLE IF NOT EXISTS `_sqlx_migrations`%'",
    )
    .bind(env.routes.db.name())
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(warned.is_empty(), "statements that drew warnings on {version}:\n{warned:#?}");
    // Every connection to this database is still open (the services' pools, the projector's
    // leader, realtime's pool): what each raised, prepares included.
    let raised: Vec<(u64, String, u64)> = sqlx::query_as(
        "SELECT CAST(e.ERROR_NUMBER AS UNSIGNED), e.ERROR_NAME, CAST(SUM(e.SUM_ERROR_RAISED) AS UNSIGNED) \
         FROM performance_schema.events_errors_summary_by_thread_by_error e \
         JOIN performance_schema.threads t ON t.THREAD_ID = e.THREAD_ID \
         WHERE t.PROCESSLIST_DB = ? AND e.SUM_ERROR_RAISED > 0 AND e.ERROR_NUMBER <> 1050 GROUP BY e.ERROR_NUMBER, e.ERROR_NAME",
    )
    .bind(env.routes.db.name())
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(raised.is_empty(), "warnings or errors raised on {version} (number, name, times):\n{raised:#?}");
    env.stop().await;
}
