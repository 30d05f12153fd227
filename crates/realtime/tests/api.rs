//! The realtime service against real MySQL and Redis: known grades are stored through the real
//! ingestion services (rest-api, and grpc-client + grpc-server) running in-process, then every
//! HTTP endpoint and the Socket.IO pushes are checked against that data.
//!
//! Needs TEST_MYSQL_URL and TEST_REDIS_URL (see grades-testkit); without them every test fails.

// Test helpers may panic: a failed setup step fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use grades_kit::Shutdown;
use grades_testkit::{eventually, TcpProxy, TestDatabase, TestRedis};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Rest,
    Grpc,
}

/// The known data: (carnet, curso, nota, semestre, year, route). Posted in this order, one at a
/// time, so ids increase down the list.
const SEED: &[(u64, &str, u64, &str, u16, Via)] = &[
    // 2S 2023
    (101, "SO1", 90, "2S", 2023, Via::Rest),
    (102, "SO1", 60, "2S", 2023, Via::Rest),
    (103, "SO1", 61, "2S", 2023, Via::Rest),
    (104, "SO1", 100, "2S", 2023, Via::Rest),
    (101, "BD1", 80, "2S", 2023, Via::Rest),
    (102, "BD1", 40, "2S", 2023, Via::Rest),
    (105, "BD1", 70, "2S", 2023, Via::Rest),
    (106, "LFP", 95, "2S", 2023, Via::Rest),
    (107, "LFP", 55, "2S", 2023, Via::Rest),
    (108, "SA", 30, "2S", 2023, Via::Rest),
    // 1S 2023
    (101, "SO1", 70, "1S", 2023, Via::Rest),
    (109, "SO1", 100, "1S", 2023, Via::Rest),
    (106, "SO1", 96, "1S", 2023, Via::Rest),
    // 2S 2022, through the grpc route
    (110, "AYD1", 85, "2S", 2022, Via::Grpc),
    (111, "AYD1", 85, "2S", 2022, Via::Grpc),
    (112, "AYD1", 20, "2S", 2022, Via::Grpc),
    (113, "SO1", 65, "2S", 2022, Via::Grpc),
];
const SEED_TOTAL: u64 = 17;
const SEED_GRPC: u64 = 4;
const SEED_REST: u64 = 13;

type ServiceTask = JoinHandle<std::io::Result<()>>;

/// A service's configuration read from command-line flags, as its binary would: settings this
/// test does not name keep their defaults.
use grades_testkit::flags as config;

struct Env {
    _db: TestDatabase,
    _redis: TestRedis,
    /// Base URL and address of the realtime service under test.
    url: String,
    addr: SocketAddr,
    rest_url: String,
    grpc_url: String,
    /// MySQL and Redis as the realtime service sees them (the ingestion services connect directly).
    mysql_proxy: TcpProxy,
    redis_proxy: TcpProxy,
    http: reqwest::Client,
    realtime_shutdown: Shutdown,
    realtime_task: Option<ServiceTask>,
    ingest_shutdown: Shutdown,
    ingest_tasks: Vec<ServiceTask>,
}

impl Env {
    async fn start() -> Self {
        let db = TestDatabase::create().await;
        let redis = TestRedis::new().await;
        let (mysql_url, redis_url, prefix) = (db.url(), redis.url().to_owned(), redis.prefix().to_owned());
        let storage = [
            "--mysql-url",
            &mysql_url,
            "--redis-url",
            &redis_url,
            "--redis-prefix",
            &prefix,
            "--migrate",
            "false",
            "--mysql-max-connections",
            "3",
        ];
        let ingest_shutdown = Shutdown::new();
        let mut ingest_tasks = Vec::new();

        let rest = rest_api::Application::build(config(&[&["--port", "0", "--bind-address", "127.0.0.1"][..], &storage].concat()))
            .await
            .expect("build rest-api");
        let rest_url = format!("http://{}", rest.local_addr());
        ingest_tasks.push(tokio::spawn(rest.run(ingest_shutdown.clone())));

        let server = grpc_server::Application::build(config(
            &[&["--grpc-port", "0", "--port", "0", "--bind-address", "127.0.0.1"][..], &storage].concat(),
        ))
        .await
        .expect("build grpc-server");
        let grpc_server_url = format!("http://{}", server.grpc_addr());
        ingest_tasks.push(tokio::spawn(server.run(ingest_shutdown.clone())));
        let client = grpc_client::Application::build(config(&[
            "--port",
            "0",
            "--bind-address",
            "127.0.0.1",
            "--grpc-server-url",
            &grpc_server_url,
            "--redis-url",
            &redis_url,
            "--redis-prefix",
            &prefix,
            "--grpc-timeout-ms",
            "10000",
        ]))
        .await
        .expect("build grpc-client");
        let grpc_url = format!("http://{}", client.local_addr());
        ingest_tasks.push(tokio::spawn(client.run(ingest_shutdown.clone())));

        let mysql_proxy = TcpProxy::for_url(&db.url()).await;
        let redis_proxy = TcpProxy::for_url(redis.url()).await;
        let (realtime_mysql, realtime_redis) = (mysql_proxy.rewrite(&db.url()), redis_proxy.rewrite(redis.url()));
        let realtime = realtime::Application::build(config(&[
            "--port",
            "0",
            "--bind-address",
            "127.0.0.1",
            "--mysql-url",
            &realtime_mysql,
            "--redis-url",
            &realtime_redis,
            "--redis-prefix",
            redis.prefix(),
            "--mysql-max-connections",
            "3",
        ]))
        .await
        .expect("build realtime");
        let addr = realtime.local_addr();
        let realtime_shutdown = Shutdown::new();
        let realtime_task = Some(tokio::spawn(realtime.run(realtime_shutdown.clone())));

        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
        let env = Self {
            _db: db,
            _redis: redis,
            url: format!("http://{addr}"),
            addr,
            rest_url,
            grpc_url,
            mysql_proxy,
            redis_proxy,
            http,
            realtime_shutdown,
            realtime_task,
            ingest_shutdown,
            ingest_tasks,
        };
        env.wait_subscribed().await;
        env
    }

    /// A started environment holding the [`SEED`] grades, visible in MySQL and Redis.
    async fn seeded() -> Self {
        let env = Self::start().await;
        for &(carnet, curso, nota, semestre, year, via) in SEED {
            env.post(via, carnet, curso, nota, semestre, year).await;
        }
        env.wait_live_total(SEED_TOTAL).await;
        env.wait_folded().await;
        // Let the last seed pushes go out before a test connects, so what it sees is its own.
        tokio::time::sleep(Duration::from_millis(300)).await;
        env
    }

    async fn post(&self, via: Via, carnet: u64, curso: &str, nota: u64, semestre: &str, year: u16) -> u64 {
        let base = match via {
            Via::Rest => &self.rest_url,
            Via::Grpc => &self.grpc_url,
        };
        let body = json!({"carnet": carnet, "nombre": format!("Alumno {carnet}"), "curso": curso, "nota": nota,
                          "semestre": semestre, "year": year});
        let response = self.http.post(format!("{base}/grades")).json(&body).send().await.expect("POST /grades");
        let status = response.status();
        let answer: Value = response.json().await.expect("POST /grades answer");
        assert_eq!(status, 201, "POST {body} via {via:?}: {answer}");
        answer["id"].as_u64().expect("id")
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http.get(format!("{}{path_and_query}", self.url)).send().await.unwrap_or_else(|e| panic!("GET {path_and_query}: {e}"))
    }

    /// GET expecting 200 and a JSON body.
    async fn json(&self, path_and_query: &str) -> Value {
        let response = self.get(path_and_query).await;
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, 200, "GET {path_and_query}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path_and_query} is not JSON ({e}): {body}"))
    }

    async fn ready(&self) -> (u16, Value) {
        let response = self.get("/readyz").await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("readyz body"))
    }

    /// Until realtime's subscription to the events channel is up (events before it are not seen).
    async fn wait_subscribed(&self) {
        let ok = eventually(Duration::from_secs(20), || async {
            let (_, body) = self.ready().await;
            (body["dependencies"]["redis_events"] == "up").then_some(())
        })
        .await;
        assert!(ok.is_some(), "realtime never subscribed to the events channel: {:?}", self.ready().await);
    }

    /// Until every projection has folded every grade (the projector's lag, through the API).
    async fn wait_folded(&self) {
        let folded = eventually(Duration::from_secs(10), || async {
            let status = self.json("/api/stats/projector").await;
            let projections = status["projections"].as_array()?;
            (projections.len() == 2 && projections.iter().all(|p| p["lag_ids"] == 0 && p["applied_id"] == status["latest_id"]))
                .then_some(())
        })
        .await;
        assert!(folded.is_some(), "projector lag: {}", self.json("/api/stats/projector").await);
    }

    async fn wait_live_total(&self, total: u64) {
        let seen = eventually(Duration::from_secs(10), || async {
            let live = self.json("/api/live").await;
            (live["total"] == total).then_some(live)
        })
        .await;
        assert!(seen.is_some(), "GET /api/live never reached total {total}: {}", self.json("/api/live").await);
    }

    async fn metric(&self, series: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.expect("metrics");
        text.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
    }

    async fn connect(&self) -> SocketClient {
        SocketClient::connect(self.addr).await
    }

    /// Stops realtime and waits for it to exit cleanly; returns how long that took.
    async fn stop_realtime(&mut self) -> Duration {
        let started = Instant::now();
        self.realtime_shutdown.trigger();
        let task = self.realtime_task.take().expect("realtime still running");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("realtime stops within 20 s")
            .expect("realtime task")
            .expect("realtime exits cleanly");
        started.elapsed()
    }

    async fn stop(mut self) {
        if self.realtime_task.is_some() {
            self.stop_realtime().await;
        }
        self.ingest_shutdown.trigger();
        for task in self.ingest_tasks.drain(..) {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("ingestion service stops within 20 s")
                .expect("ingestion task")
                .expect("ingestion service exits cleanly");
        }
    }
}

/// A minimal Socket.IO v5 (Engine.IO v4) client over WebSocket, default namespace.
struct SocketClient {
    ws: WebSocketStream<TcpStream>,
}

impl SocketClient {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("TCP connect to realtime");
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::client_async(url, stream).await.expect("WebSocket handshake on /socket.io");
        let mut client = Self { ws };
        let deadline = Instant::now() + Duration::from_secs(10);
        let open = client.next_packet(deadline).await.expect("Engine.IO open packet");
        assert!(open.starts_with("0{"), "expected an Engine.IO open packet, got {open:?}");
        client.send("40").await;
        loop {
            let packet = client.next_packet(deadline).await.expect("Socket.IO connect answer");
            if packet.starts_with("40") {
                return client;
            }
            assert!(!packet.starts_with("44"), "namespace connection refused: {packet}");
        }
    }

    async fn send(&mut self, packet: &str) {
        self.ws.send(Message::text(packet)).await.expect("send on the WebSocket");
    }

    async fn emit(&mut self, event: &str, data: Value) {
        self.send(&format!("42{}", json!([event, data]))).await;
    }

    /// The next Engine.IO packet (answering pings on the way); `None` at the deadline or on close.
    async fn next_packet(&mut self, deadline: Instant) -> Option<String> {
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??.ok()?;
            match message {
                Message::Text(text) if text.as_str() == "2" => self.send("3").await,
                Message::Text(text) => return Some(text.as_str().to_owned()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// True when the server closes the connection within `timeout` (events still buffered are skipped).
    async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.next_packet(deadline).await.is_some() {}
        Instant::now() < deadline
    }

    /// The next Socket.IO event as (name, first argument).
    async fn next_event(&mut self, deadline: Instant) -> Option<(String, Value)> {
        loop {
            let packet = self.next_packet(deadline).await?;
            if let Some(payload) = packet.strip_prefix("42") {
                let mut args: Vec<Value> = serde_json::from_str(payload).unwrap_or_else(|e| panic!("bad event packet {packet}: {e}"));
                assert!(!args.is_empty(), "event packet without a name: {packet}");
                let name = args.remove(0).as_str().expect("event name").to_owned();
                assert!(args.len() <= 1, "event {name} has {} arguments, expected one: {packet}", args.len());
                return Some((name, args.pop().unwrap_or(Value::Null)));
            }
        }
    }

    /// Waits for the first event that `matches`, skipping others; fails listing what came instead.
    async fn expect(&mut self, what: &str, matches: impl Fn(&str, &Value) -> bool) -> Value {
        let timeout = Duration::from_secs(10);
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        while let Some((name, data)) = self.next_event(deadline).await {
            if matches(&name, &data) {
                return data;
            }
            skipped.push(format!("{name} {data}"));
        }
        panic!("no {what} within {timeout:?}; received instead: {skipped:#?}");
    }

    /// Every event received during `window`.
    async fn collect(&mut self, window: Duration) -> Vec<(String, Value)> {
        let deadline = Instant::now() + window;
        let mut events = Vec::new();
        while let Some(event) = self.next_event(deadline).await {
            events.push(event);
        }
        events
    }
}

fn is_total(total: u64) -> impl Fn(&str, &Value) -> bool {
    move |name, data| name == "total" && data["total"] == total
}

fn carnets(items: &Value) -> Vec<u64> {
    items.as_array().expect("array").iter().map(|g| g["carnet"].as_u64().expect("carnet")).collect()
}

fn ids(items: &Value) -> Vec<u64> {
    items.as_array().expect("array").iter().map(|g| g["id"].as_u64().expect("id")).collect()
}

// ---------------------------------------------------------------------------------------------
// HTTP API
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_cors() {
    let env = Env::start().await;
    assert_eq!(env.get("/healthz").await.status(), 200);
    let (status, body) = env.ready().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dependencies"], json!({"mysql": "up", "redis": "up", "redis_events": "up"}));

    let response = env.http.get(format!("{}/api/courses", env.url)).header("origin", "http://dashboard.example").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*", "CORS open for GET");
    let preflight = env
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/api/grades", env.url))
        .header("origin", "http://dashboard.example")
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
        .header("origin", "http://dashboard.example")
        .send()
        .await
        .unwrap();
    assert_eq!(polling.status(), 200);
    assert_eq!(polling.headers()["access-control-allow-origin"], "*");
    let open = polling.text().await.unwrap();
    assert!(open.starts_with("0{") && open.contains("\"sid\""), "Engine.IO open packet: {open}");

    let metrics = env.get("/metrics").await.text().await.unwrap();
    for name in
        ["realtime_socket_clients", "realtime_events_received_total", "realtime_api_requests_total{path=\"/api/courses\",status=\"200\"} 1"]
    {
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

// ---------------------------------------------------------------------------------------------
// Socket.IO
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_gets_state_on_connect_and_live_updates() {
    let env = Env::seeded().await;
    let mut client = env.connect().await;

    // On connect: total, the last grades (newest first) and the route figures.
    let total = client.expect("initial total", is_total(SEED_TOTAL)).await;
    assert_eq!(total, json!({"total": SEED_TOTAL, "route_count": {"grpc": SEED_GRPC, "rest": SEED_REST}}));
    let recent = client.expect("initial recent_grades", |name, _| name == "recent_grades").await;
    let expected: Vec<u64> = SEED.iter().rev().map(|s| s.0).collect();
    assert_eq!(carnets(&recent), expected);
    assert_eq!(recent[0]["nombre"], "Alumno 113");
    assert_eq!(recent[0]["route"], "grpc");
    let routes = client.expect("initial routes", |name, _| name == "routes").await;
    assert_eq!(routes["window_seconds"], 60);
    assert_eq!(routes["routes"][0]["stored"], SEED_GRPC);
    assert_eq!(routes["routes"][1]["stored"], SEED_REST);

    // Subscribing answers at once with the room's count.
    client.emit("subscribe_students", json!({"curso": "SO1", "semestre": "2S", "year": 2023})).await;
    let students = client.expect("students for SO1 2S 2023", |name, _| name == "students").await;
    assert_eq!(students, json!({"curso": "SO1", "semestre": "2S", "year": 2023, "students": 4}));

    // Invalid selections get an `error` event and change nothing.
    for (bad, hint) in [
        (json!({"curso": "XX9", "semestre": "2S", "year": 2023}), "unknown course XX9"),
        (json!({"curso": "SO1", "semestre": "5S", "year": 2023}), "1S or 2S"),
        (json!({"curso": "SO1", "semestre": "2S", "year": 1492}), "between 1990 and 2100"),
        (json!({"curso": "SO1", "semestre": "2S"}), "year is required"),
        (json!("SO1"), "must be an object"),
    ] {
        client.emit("subscribe_students", bad.clone()).await;
        let error = client.expect("error event", |name, _| name == "error").await;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(hint), "{bad} -> {error}");
    }
    // Events a client sends never write anything.
    client.emit("grade", json!({"carnet": 1, "nombre": "X", "curso": "SO1", "nota": 100, "semestre": "2S", "year": 2023})).await;

    // A new student in the subscribed room: new total, new count, the grade in the feed.
    env.post(Via::Rest, 120, "SO1", 77, "2S", 2023).await;
    let total = client.expect("total 18", is_total(18)).await;
    assert_eq!(total["route_count"], json!({"grpc": SEED_GRPC, "rest": SEED_REST + 1}));
    let students = client.expect("students 5", |name, _| name == "students").await;
    assert_eq!(students, json!({"curso": "SO1", "semestre": "2S", "year": 2023, "students": 5}));
    let recent = client.expect("recent_grades with the new grade", |name, _| name == "recent_grades").await;
    assert_eq!(recent[0]["carnet"], 120);
    assert_eq!(recent[0]["nota"], 77);

    // Another room changes: the total comes, no `students` for a room this client is not in.
    env.post(Via::Grpc, 121, "BD1", 88, "2S", 2023).await;
    client.expect("total 19", is_total(19)).await;
    let after: Vec<_> = client.collect(Duration::from_millis(500)).await;
    assert!(after.iter().all(|(name, _)| name != "students"), "students pushed for another room: {after:?}");

    // Same room, a student already counted: the count did not change, so nothing is pushed.
    env.post(Via::Rest, 120, "SO1", 50, "2S", 2023).await;
    client.expect("total 20", is_total(20)).await;
    let after = client.collect(Duration::from_millis(500)).await;
    assert!(after.iter().all(|(name, _)| name != "students"), "unchanged count pushed: {after:?}");

    // Switching selection leaves the previous room.
    client.emit("subscribe_students", json!({"curso": "BD1", "semestre": "2S", "year": "2023"})).await;
    let students = client.expect("students for BD1", |name, _| name == "students").await;
    assert_eq!(students, json!({"curso": "BD1", "semestre": "2S", "year": 2023, "students": 4}));
    env.post(Via::Rest, 122, "SO1", 90, "2S", 2023).await;
    client.expect("total 21", is_total(21)).await;
    let after = client.collect(Duration::from_millis(500)).await;
    assert!(after.iter().all(|(name, _)| name != "students"), "still in the SO1 room: {after:?}");
    env.post(Via::Rest, 123, "BD1", 90, "2S", 2023).await;
    let students = client.expect("students for BD1 after a new student", |name, _| name == "students").await;
    assert_eq!(students["students"], 5);

    assert_eq!(env.json("/api/live").await["total"], 22, "only the POSTed grades were stored");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_are_pushed_every_second_while_clients_are_connected() {
    let env = Env::seeded().await;
    let mut client = env.connect().await;
    let started = Instant::now();
    let events = client.collect(Duration::from_millis(4500)).await;
    let routes: Vec<&Value> = events.iter().filter(|(name, _)| name == "routes").map(|(_, data)| data).collect();
    // One on connect, then one a second.
    assert!((3..=7).contains(&routes.len()), "{} routes pushes in {:?}", routes.len(), started.elapsed());
    let http = env.json("/api/stats/routes").await;
    let last = routes.last().unwrap();
    assert_eq!(last["window_seconds"], http["window_seconds"]);
    for i in 0..2 {
        assert_eq!(last["routes"][i]["route"], http["routes"][i]["route"]);
        assert_eq!(last["routes"][i]["stored"], http["routes"][i]["stored"]);
    }

    // With nobody connected, nothing is computed or pushed.
    drop(client);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let series = "realtime_pushes_total{event=\"routes\"}";
    let before = env.metric(series).await;
    assert!(before >= 2.0, "routes pushes counted: {before}");
    assert_eq!(env.metric("realtime_socket_clients").await, 0.0);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.metric(series).await, before, "routes pushed with no client connected");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_are_coalesced_to_about_ten_pushes_a_second() {
    let env = Env::seeded().await;
    let mut client = env.connect().await;
    client.expect("initial total", is_total(SEED_TOTAL)).await;

    // Two clients posting one grade after another: every grade is its own commit and its own
    // event, far more than ten a second.
    const EACH: u64 = 40;
    let events_before = env.metric("realtime_events_received_total").await;
    let started = Instant::now();
    let stream = |via: Via, first: u64| {
        let env = &env;
        async move {
            for carnet in first..first + EACH {
                env.post(via, carnet, "SA", 70, "1S", 2024).await;
            }
        }
    };
    let final_total = SEED_TOTAL + 2 * EACH;
    let (_, _, totals) = tokio::join!(stream(Via::Rest, 500), stream(Via::Grpc, 600), async {
        let mut totals = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some((name, data)) = client.next_event(deadline).await {
            let total = data["total"].as_u64().unwrap_or(0);
            if name == "total" && total > SEED_TOTAL {
                totals.push(total);
                if total == final_total {
                    break;
                }
            }
        }
        totals
    });
    let elapsed = started.elapsed();
    let events = env.metric("realtime_events_received_total").await - events_before;
    assert_eq!(totals.last().copied(), Some(final_total), "final total never pushed: {totals:?}");
    assert!(totals.windows(2).all(|w| w[0] < w[1]), "totals go up: {totals:?}");
    let flushes = elapsed.as_millis() as usize / 100 + 2;
    assert!(
        totals.len() <= flushes,
        "{} total pushes for {events} events in {elapsed:?}: more than one per 100 ms ({flushes})",
        totals.len()
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_subscription_recovers_from_a_redis_outage() {
    let env = Env::seeded().await;
    let mut client = env.connect().await;
    client.expect("initial total", is_total(SEED_TOTAL)).await;
    client.emit("subscribe_students", json!({"curso": "SO1", "semestre": "2S", "year": 2023})).await;
    client.expect("students", |name, data| name == "students" && data["students"] == 4).await;

    env.redis_proxy.stop();
    let down = eventually(Duration::from_secs(10), || async {
        let (_, body) = env.ready().await;
        (body["dependencies"]["redis_events"] != "up").then_some(())
    })
    .await;
    assert!(down.is_some(), "lost subscription not noticed");

    // Stored while realtime cannot hear the events channel.
    env.post(Via::Rest, 130, "SO1", 99, "2S", 2023).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.redis_proxy.resume().await;
    env.wait_subscribed().await;

    // After resubscribing, the missed changes are read once and pushed.
    client.expect("total caught up after the outage", is_total(SEED_TOTAL + 1)).await;
    client.expect("students caught up after the outage", |name, data| name == "students" && data["students"] == 5).await;
    assert!(env.metric("realtime_subscription_reconnects_total").await >= 1.0);

    // And live events flow again.
    env.post(Via::Grpc, 131, "SO1", 45, "2S", 2023).await;
    client.expect("total after the outage", is_total(SEED_TOTAL + 2)).await;
    client.expect("students after the outage", |name, data| name == "students" && data["students"] == 6).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_prompt_with_clients_connected() {
    let mut env = Env::start().await;
    let mut ws = env.connect().await;
    ws.expect("initial total", is_total(0)).await;

    // A long-polling client too, with a poll waiting for data.
    let base = format!("{}/socket.io/?EIO=4&transport=polling", env.url);
    let open = env.http.get(&base).send().await.unwrap().text().await.unwrap();
    let handshake: Value = serde_json::from_str(open.strip_prefix('0').expect("open packet")).unwrap();
    let sid = handshake["sid"].as_str().unwrap().to_owned();
    let session = format!("{base}&sid={sid}");
    assert_eq!(env.http.post(&session).body("40").send().await.unwrap().status(), 200);
    let mut received = Vec::new();
    while !received.iter().any(|p: &String| p.starts_with("40")) {
        assert!(received.len() < 20, "no namespace connect over polling: {received:?}");
        let payload = env.http.get(&session).send().await.unwrap().text().await.unwrap();
        for packet in payload.split('\u{1e}') {
            if packet == "2" {
                env.http.post(&session).body("3").send().await.unwrap();
            }
            received.push(packet.to_owned());
        }
    }
    let http = env.http.clone();
    let waiting = tokio::spawn(async move { http.get(&session).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let took = env.stop_realtime().await;
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    let _ = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("pending poll answered");
    assert!(ws.closed_within(Duration::from_secs(5)).await, "WebSocket not closed by the shutdown");
    assert!(TcpStream::connect(env.addr).await.is_err(), "port closed after shutdown");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_not_migrated_yet_is_503_not_500() {
    // Realtime never migrates: until a storing service has created the schema, it waits.
    let redis = TestRedis::new().await;
    let missing = format!("{}/grades_never_created_{}", grades_testkit::mysql_server_url().await, std::process::id());
    let app = realtime::Application::build(config(&[
        "--port",
        "0",
        "--bind-address",
        "127.0.0.1",
        "--mysql-url",
        &missing,
        "--redis-url",
        redis.url(),
        "--redis-prefix",
        redis.prefix(),
        "--mysql-max-connections",
        "2",
    ]))
    .await
    .expect("build realtime");
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
