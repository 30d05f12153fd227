//! CORS is limited to the configured origins (`CORS_ALLOWED_ORIGINS`): the dashboard's origin gets
//! preflights and cross-origin answers, any other origin gets none.

use grades_kit::Shutdown;
use grades_testkit::{TestDatabase, TestRedis};

use crate::helpers::build_realtime_with;

async fn preflight(http: &reqwest::Client, url: &str, origin: &str) -> reqwest::Response {
    http.request(reqwest::Method::OPTIONS, format!("{url}/api/grades"))
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_configured_origins_get_cors_answers() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::new().await;
    let origins = ["--cors-allowed-origins", "https://dashboard.example, http://localhost:*"];
    let app = build_realtime_with(&db.url(), redis.url(), redis.prefix(), &origins).await;
    let url = format!("http://{}", app.local_addr());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(app.run(shutdown.clone()));
    let http = reqwest::Client::new();

    for allowed in ["https://dashboard.example", "http://localhost:3000"] {
        let response = preflight(&http, &url, allowed).await;
        assert!(response.status().is_success(), "preflight from {allowed}: {}", response.status());
        assert_eq!(response.headers()["access-control-allow-origin"], allowed);
        assert!(response.headers()["access-control-allow-methods"].to_str().unwrap().contains("GET"));
        let get = http.get(format!("{url}/api/courses")).header("origin", allowed).send().await.unwrap();
        assert_eq!(get.status(), 200);
        assert_eq!(get.headers()["access-control-allow-origin"], allowed);
    }
    for refused in ["https://evil.example", "http://dashboard.example", "https://dashboard.example.evil.test", "null"] {
        let response = preflight(&http, &url, refused).await;
        assert!(response.headers().get("access-control-allow-origin").is_none(), "preflight from {refused} allowed");
        let get = http.get(format!("{url}/api/courses")).header("origin", refused).send().await.unwrap();
        assert!(get.headers().get("access-control-allow-origin").is_none(), "GET from {refused} allowed");
        let polling = http.get(format!("{url}/socket.io/?EIO=4&transport=polling")).header("origin", refused).send().await.unwrap();
        assert!(polling.headers().get("access-control-allow-origin").is_none(), "Socket.IO polling from {refused} allowed");
    }

    // The read-only API has no write method to offer cross-origin.
    let delete = http
        .request(reqwest::Method::OPTIONS, format!("{url}/api/grades"))
        .header("origin", "https://dashboard.example")
        .header("access-control-request-method", "DELETE")
        .send()
        .await
        .unwrap();
    let methods = delete.headers().get("access-control-allow-methods").map(|m| m.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(!methods.contains("DELETE"), "DELETE offered: {methods}");

    shutdown.trigger();
    task.await.unwrap().unwrap();
}
