//! `spawn_app(route)`: the real services of one route, in-process on port 0, against a fresh
//! database and Redis key space of their own.

// Test support: a failure here is a failing test, reported by its panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use grades_domain::Route;
use grades_kit::Shutdown;
use grades_testkit::{TcpProxy, TestDatabase, TestRedis};
use tokio::task::JoinHandle;

/// One route's services, running in this test process.
pub struct TestApp {
    /// The route.
    pub route: Route,
    /// Base URL of the HTTP service taking POST /grades for this route.
    pub base_url: String,
    /// grpc-server addresses (route grpc only).
    pub grpc_url: Option<String>,
    /// grpc-server's HTTP port (health, metrics), route grpc only.
    pub grpc_admin_url: Option<String>,
    /// The test's own database.
    pub db: TestDatabase,
    /// The test's own Redis key space.
    pub redis: TestRedis,
    /// MySQL and Redis as the services see them, through proxies a test can stop.
    pub mysql_proxy: TcpProxy,
    /// Redis as the services see it, through a proxy a test can stop.
    pub redis_proxy: TcpProxy,
    /// A client for the test's requests.
    pub http: reqwest::Client,
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

/// Starts `route` (rest: rest-api; grpc: grpc-server and grpc-client) on port 0.
pub async fn spawn_app(route: Route) -> TestApp {
    let db = TestDatabase::create().await;
    let redis = TestRedis::new().await;
    let mysql_proxy = TcpProxy::for_url(&db.url()).await;
    let redis_proxy = TcpProxy::for_url(redis.url()).await;
    let stores = Stores {
        mysql_url: mysql_proxy.rewrite(&db.url()),
        redis_url: redis_proxy.rewrite(redis.url()),
        prefix: redis.prefix().to_owned(),
    };
    let shutdown = Shutdown::new();
    let mut tasks = Vec::new();
    let started = start_route(route, &stores, &shutdown, &mut tasks).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
    TestApp {
        route,
        base_url: started.base_url,
        grpc_url: started.grpc_url,
        grpc_admin_url: started.grpc_admin_url,
        db,
        redis,
        mysql_proxy,
        redis_proxy,
        http,
        shutdown,
        tasks,
    }
}

/// Both routes at once on one database and Redis key space: two writing processes, two
/// projectors competing to lead, as in production.
pub struct BothRoutes {
    /// rest-api's base URL.
    pub rest_url: String,
    /// grpc-client's base URL.
    pub grpc_url: String,
    /// The shared database.
    pub db: TestDatabase,
    /// The shared Redis key space.
    pub redis: TestRedis,
    /// A client for the test's requests.
    pub http: reqwest::Client,
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

/// Starts both routes on one database and key space.
pub async fn spawn_both_routes() -> BothRoutes {
    let db = TestDatabase::create().await;
    let redis = TestRedis::new().await;
    let stores = Stores { mysql_url: db.url(), redis_url: redis.url().to_owned(), prefix: redis.prefix().to_owned() };
    let shutdown = Shutdown::new();
    let mut tasks = Vec::new();
    let rest = start_route(Route::Rest, &stores, &shutdown, &mut tasks).await;
    let grpc = start_route(Route::Grpc, &stores, &shutdown, &mut tasks).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
    BothRoutes { rest_url: rest.base_url, grpc_url: grpc.base_url, db, redis, http, shutdown, tasks }
}

impl BothRoutes {
    /// The base URL taking `POST /grades` for `route`.
    pub fn url(&self, route: Route) -> &str {
        match route {
            Route::Rest => &self.rest_url,
            Route::Grpc => &self.grpc_url,
        }
    }

    /// Triggers shutdown and waits for every service to exit cleanly.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        join_services(self.tasks.drain(..)).await;
    }
}

/// Where the services of a test store: its database and Redis key space (through proxies or not).
#[derive(Clone)]
struct Stores {
    mysql_url: String,
    redis_url: String,
    prefix: String,
}

impl Stores {
    /// The flags every service of the test gets: its stores, local port 0, a small pool.
    fn flags<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut flags = vec!["--port", "0", "--bind-address", "127.0.0.1", "--redis-url", &self.redis_url, "--redis-prefix", &self.prefix];
        flags.extend_from_slice(extra);
        flags
    }

    fn storing<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut flags = self.flags(&["--mysql-url", &self.mysql_url, "--mysql-max-connections", "5"]);
        flags.extend_from_slice(extra);
        flags
    }
}

struct Started {
    base_url: String,
    grpc_url: Option<String>,
    grpc_admin_url: Option<String>,
}

/// Starts one route's services, configured through their flags as their binaries would be.
async fn start_route(route: Route, stores: &Stores, shutdown: &Shutdown, tasks: &mut Vec<JoinHandle<std::io::Result<()>>>) -> Started {
    use grades_testkit::flags;
    match route {
        Route::Rest => {
            let app = rest_api::Application::build(flags(&stores.storing(&[]))).await.expect("build rest-api");
            let base_url = format!("http://{}", app.local_addr());
            tasks.push(tokio::spawn(app.run(shutdown.clone())));
            Started { base_url, grpc_url: None, grpc_admin_url: None }
        }
        Route::Grpc => {
            let server = grpc_server::Application::build(flags(&stores.storing(&["--grpc-port", "0"]))).await.expect("build grpc-server");
            let grpc_url = format!("http://{}", server.grpc_addr());
            let admin_url = format!("http://{}", server.http_addr());
            tasks.push(tokio::spawn(server.run(shutdown.clone())));
            // Through the re-resolving balancer, as behind a headless Service.
            let client_flags = stores.flags(&["--grpc-server-url", &grpc_url, "--grpc-balance-dns", "true"]);
            let client = grpc_client::Application::build(flags(&client_flags)).await.expect("build grpc-client");
            let base_url = format!("http://{}", client.local_addr());
            tasks.push(tokio::spawn(client.run(shutdown.clone())));
            Started { base_url, grpc_url: Some(grpc_url), grpc_admin_url: Some(admin_url) }
        }
    }
}

async fn join_services(tasks: impl Iterator<Item = JoinHandle<std::io::Result<()>>>) {
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("service stops within 20 s")
            .expect("service task")
            .expect("service exits cleanly");
    }
}

impl TestApp {
    /// `POST /grades` with a JSON body.
    pub async fn post_grade(&self, body: &serde_json::Value) -> reqwest::Response {
        self.http.post(format!("{}/grades", self.base_url)).json(body).send().await.expect("POST /grades")
    }

    /// `POST /grades` with any content type, body and Idempotency-Key.
    pub async fn post_raw(&self, content_type: Option<&str>, body: impl Into<reqwest::Body>, key: Option<&str>) -> reqwest::Response {
        let mut request = self.http.post(format!("{}/grades", self.base_url)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.expect("POST /grades")
    }

    /// `GET` a path of the route's HTTP service.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base_url)).send().await.expect("GET")
    }

    /// Starts the services' shutdown without waiting for it.
    pub fn trigger_shutdown(&self) {
        self.shutdown.trigger();
    }

    /// Triggers shutdown and waits for every service of the route to exit cleanly.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        join_services(self.tasks.drain(..)).await;
    }

    /// Waits until the projector has folded every committed grade into the summary tables.
    pub async fn wait_folded(&self) {
        wait_folded(&self.db).await;
    }

    /// A field of the Redis live-state hash.
    pub async fn live_field(&self, field: &str) -> Option<String> {
        live_field(&self.redis, field).await
    }
}

/// A valid grade; tests change one field at a time.
pub fn grade(carnet: u64, curso: &str, nota: u64) -> serde_json::Value {
    serde_json::json!({"carnet": carnet, "nombre": format!("Alumno {carnet}"), "curso": curso, "nota": nota,
                       "semestre": "2S", "year": 2023})
}

/// Waits (at most 15 s) until the projector has folded every committed grade.
pub async fn wait_folded(db: &TestDatabase) {
    let folded =
        grades_testkit::eventually(Duration::from_secs(15), || async { grades_testkit::all_folded(db.pool()).await.then_some(()) }).await;
    assert!(folded.is_some(), "the projector did not fold every grade within 15 s");
}

/// A field of the Redis live-state hash (`{prefix}live`).
pub async fn live_field(redis: &TestRedis, field: &str) -> Option<String> {
    let mut connection = redis.connection().await;
    redis::cmd("HGET").arg(format!("{}live", redis.prefix())).arg(field).query_async(&mut connection).await.expect("HGET live state")
}
