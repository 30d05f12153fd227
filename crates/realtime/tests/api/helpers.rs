//! The harness: the ingestion routes started by `route_tests::spawn_both_routes` (the one
//! in-process spawner the route contract tests use too), realtime in front of the same database
//! and Redis key space through proxies a test can stop, the known seed data, and a minimal
//! Socket.IO client.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use grades_domain::Route;
use grades_kit::Shutdown;
use grades_testkit::{eventually, TcpProxy};
use route_tests::BothRoutes;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The known data: (carnet, curso, nota, semestre, year, route). Posted in this order, one at a
/// time, so ids increase down the list.
pub const SEED: &[(u64, &str, u64, &str, u16, Route)] = &[
    // 2S 2023
    (101, "SO1", 90, "2S", 2023, Route::Rest),
    (102, "SO1", 60, "2S", 2023, Route::Rest),
    (103, "SO1", 61, "2S", 2023, Route::Rest),
    (104, "SO1", 100, "2S", 2023, Route::Rest),
    (101, "BD1", 80, "2S", 2023, Route::Rest),
    (102, "BD1", 40, "2S", 2023, Route::Rest),
    (105, "BD1", 70, "2S", 2023, Route::Rest),
    (106, "LFP", 95, "2S", 2023, Route::Rest),
    (107, "LFP", 55, "2S", 2023, Route::Rest),
    (108, "SA", 30, "2S", 2023, Route::Rest),
    // 1S 2023
    (101, "SO1", 70, "1S", 2023, Route::Rest),
    (109, "SO1", 100, "1S", 2023, Route::Rest),
    (106, "SO1", 96, "1S", 2023, Route::Rest),
    // 2S 2022, through the grpc route
    (110, "AYD1", 85, "2S", 2022, Route::Grpc),
    (111, "AYD1", 85, "2S", 2022, Route::Grpc),
    (112, "AYD1", 20, "2S", 2022, Route::Grpc),
    (113, "SO1", 65, "2S", 2022, Route::Grpc),
];
pub const SEED_TOTAL: u64 = 17;
pub const SEED_GRPC: u64 = 4;
pub const SEED_REST: u64 = 13;

pub type ServiceTask = JoinHandle<std::io::Result<()>>;

/// A realtime service built from flags, as its binary would be, on a local port 0.
pub async fn build_realtime(mysql_url: &str, redis_url: &str, prefix: &str) -> realtime::Application {
    build_realtime_with(mysql_url, redis_url, prefix, &[]).await
}

/// [`build_realtime`] with more flags.
pub async fn build_realtime_with(mysql_url: &str, redis_url: &str, prefix: &str, more: &[&str]) -> realtime::Application {
    let mut flags = vec![
        "--port",
        "0",
        "--bind-address",
        "127.0.0.1",
        "--mysql-url",
        mysql_url,
        "--redis-url",
        redis_url,
        "--redis-prefix",
        prefix,
        "--mysql-max-connections",
        "3",
    ];
    flags.extend_from_slice(more);
    realtime::Application::build(grades_testkit::flags(&flags)).await.expect("build realtime")
}

/// Both ingestion routes and realtime, on one fresh database and Redis key space.
pub struct Env {
    /// The ingestion services (rest-api; grpc-client + grpc-server), which own the test's
    /// database and key space and connect to them directly.
    pub routes: BothRoutes,
    /// Base URL and address of the realtime service under test.
    pub url: String,
    pub addr: SocketAddr,
    /// MySQL and Redis as the realtime service sees them.
    pub mysql_proxy: TcpProxy,
    pub redis_proxy: TcpProxy,
    pub http: reqwest::Client,
    realtime_shutdown: Shutdown,
    realtime_task: Option<ServiceTask>,
}

impl Env {
    pub async fn start() -> Self {
        let routes = route_tests::spawn_both_routes().await;
        let (db, redis) = (&routes.db, &routes.redis);
        let mysql_proxy = TcpProxy::for_url(&db.url()).await;
        let redis_proxy = TcpProxy::for_url(redis.url()).await;
        let realtime = build_realtime(&mysql_proxy.rewrite(&db.url()), &redis_proxy.rewrite(redis.url()), redis.prefix()).await;
        let addr = realtime.local_addr();
        let realtime_shutdown = Shutdown::new();
        let realtime_task = Some(tokio::spawn(realtime.run(realtime_shutdown.clone())));

        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
        let env = Self { routes, url: format!("http://{addr}"), addr, mysql_proxy, redis_proxy, http, realtime_shutdown, realtime_task };
        env.wait_subscribed().await;
        env
    }

    /// A started environment holding the [`SEED`] grades, visible in MySQL and Redis.
    pub async fn seeded() -> Self {
        let env = Self::start().await;
        for &(carnet, curso, nota, semestre, year, route) in SEED {
            env.post(route, carnet, curso, nota, semestre, year).await;
        }
        env.wait_live_total(SEED_TOTAL).await;
        env.wait_folded().await;
        // Let the last seed pushes go out before a test connects, so what it sees is its own.
        tokio::time::sleep(Duration::from_millis(300)).await;
        env
    }

    /// POSTs one grade through `route`, expecting 201; returns its id.
    pub async fn post(&self, route: Route, carnet: u64, curso: &str, nota: u64, semestre: &str, year: u16) -> u64 {
        let body = json!({"carnet": carnet, "nombre": format!("Alumno {carnet}"), "curso": curso, "nota": nota,
                          "semestre": semestre, "year": year});
        let response = self.http.post(format!("{}/grades", self.routes.url(route))).json(&body).send().await.expect("POST /grades");
        let status = response.status();
        let answer: Value = response.json().await.expect("POST /grades answer");
        assert_eq!(status, 201, "POST {body} via {route}: {answer}");
        answer["id"].as_u64().expect("id")
    }

    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http.get(format!("{}{path_and_query}", self.url)).send().await.unwrap_or_else(|e| panic!("GET {path_and_query}: {e}"))
    }

    /// GET expecting 200 and a JSON body.
    pub async fn json(&self, path_and_query: &str) -> Value {
        let response = self.get(path_and_query).await;
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, 200, "GET {path_and_query}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path_and_query} is not JSON ({e}): {body}"))
    }

    pub async fn ready(&self) -> (u16, Value) {
        let response = self.get("/readyz").await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("readyz body"))
    }

    /// Until realtime's subscription to the events channel is up (events before it are not seen).
    pub async fn wait_subscribed(&self) {
        let ok = eventually(Duration::from_secs(20), || async {
            let (_, body) = self.ready().await;
            (body["dependencies"]["redis_events"] == "up").then_some(())
        })
        .await;
        assert!(ok.is_some(), "realtime never subscribed to the events channel: {:?}", self.ready().await);
    }

    /// Until every projection has folded every grade (the projector's lag, through the API).
    pub async fn wait_folded(&self) {
        let folded = eventually(Duration::from_secs(10), || async {
            let status = self.json("/api/stats/projector").await;
            let projections = status["projections"].as_array()?;
            (projections.len() == 2 && projections.iter().all(|p| p["lag_ids"] == 0 && p["applied_id"] == status["latest_id"]))
                .then_some(())
        })
        .await;
        assert!(folded.is_some(), "projector lag: {}", self.json("/api/stats/projector").await);
    }

    pub async fn wait_live_total(&self, total: u64) {
        let seen = eventually(Duration::from_secs(10), || async {
            let live = self.json("/api/live").await;
            (live["total"] == total).then_some(live)
        })
        .await;
        assert!(seen.is_some(), "GET /api/live never reached total {total}: {}", self.json("/api/live").await);
    }

    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.expect("metrics");
        text.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
    }

    pub async fn connect(&self) -> SocketClient {
        SocketClient::connect(self.addr).await
    }

    /// Stops realtime and waits for it to exit cleanly; returns how long that took.
    pub async fn stop_realtime(&mut self) -> Duration {
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

    pub async fn stop(mut self) {
        if self.realtime_task.is_some() {
            self.stop_realtime().await;
        }
        self.routes.stop().await;
    }
}

/// A minimal Socket.IO v5 (Engine.IO v4) client over WebSocket, default namespace.
pub struct SocketClient {
    ws: WebSocketStream<TcpStream>,
}

impl SocketClient {
    /// A client connected to the default namespace.
    pub async fn connect(addr: SocketAddr) -> Self {
        let mut client = Self::open(addr).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        client.send("40").await;
        loop {
            let packet = client.next_packet(deadline).await.expect("Socket.IO connect answer");
            if packet.starts_with("40") {
                return client;
            }
            assert!(!packet.starts_with("44"), "namespace connection refused: {packet}");
        }
    }

    /// An Engine.IO session over WebSocket that has not joined any namespace yet.
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("TCP connect to realtime");
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::client_async(url, stream).await.expect("WebSocket handshake on /socket.io");
        let mut client = Self { ws };
        let open = client.next_packet(Instant::now() + Duration::from_secs(10)).await.expect("Engine.IO open packet");
        assert!(open.starts_with("0{"), "expected an Engine.IO open packet, got {open:?}");
        client
    }

    pub async fn send(&mut self, packet: &str) {
        self.ws.send(Message::text(packet)).await.expect("send on the WebSocket");
    }

    /// Sends any WebSocket message; false when the server has already closed the connection.
    pub async fn send_message(&mut self, message: Message) -> bool {
        self.ws.send(message).await.is_ok()
    }

    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send(&format!("42{}", json!([event, data]))).await;
    }

    /// The next Engine.IO packet (answering pings on the way); `None` at the deadline or on close.
    pub async fn next_packet(&mut self, deadline: Instant) -> Option<String> {
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??.ok()?;
            match message {
                // The server may have closed the connection since its ping: that is the close.
                Message::Text(text) if text.as_str() == "2" => {
                    let answered = self.send_message(Message::text("3")).await;
                    if !answered {
                        return None;
                    }
                }
                Message::Text(text) => return Some(text.as_str().to_owned()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// True when the server closes the connection within `timeout` (events still buffered are skipped).
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.next_packet(deadline).await.is_some() {}
        Instant::now() < deadline
    }

    /// The next Socket.IO event as (name, first argument).
    pub async fn next_event(&mut self, deadline: Instant) -> Option<(String, Value)> {
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
    pub async fn expect(&mut self, what: &str, matches: impl Fn(&str, &Value) -> bool) -> Value {
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
    pub async fn collect(&mut self, window: Duration) -> Vec<(String, Value)> {
        let deadline = Instant::now() + window;
        let mut events = Vec::new();
        while let Some(event) = self.next_event(deadline).await {
            events.push(event);
        }
        events
    }
}

pub fn is_total(total: u64) -> impl Fn(&str, &Value) -> bool {
    move |name, data| name == "total" && data["total"] == total
}

pub fn carnets(items: &Value) -> Vec<u64> {
    items.as_array().expect("array").iter().map(|g| g["carnet"].as_u64().expect("carnet")).collect()
}

pub fn ids(items: &Value) -> Vec<u64> {
    items.as_array().expect("array").iter().map(|g| g["id"].as_u64().expect("id")).collect()
}
