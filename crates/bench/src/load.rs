//! One open-loop run, in the wrk2 manner: every connection has its own fixed schedule (a Poisson
//! process at its share of the offered rate), drawn whatever the server does, and each latency is
//! measured from the request's *intended* send time. A server that stalls therefore shows its
//! stall in every request scheduled behind it, instead of slowing the generator down and hiding
//! it (coordinated omission).
//!
//! Each connection is one HTTP/1.1 keep-alive connection driven by its own task, recording into
//! its own histograms: no shared pool, lock or channel per request, so the generator costs little
//! of the CPU it shares with the services it measures.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::payload::{self, PayloadConfig};

#[derive(Debug, Clone)]
pub struct RunSpec {
    pub url: String,
    /// Requests per second, on average, over all connections.
    pub rate: f64,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Sent at the same rate but not measured: connections open, caches warm.
    pub warmup: Duration,
    /// Connections, each with its own schedule at `rate / connections`.
    pub connections: usize,
    pub payload: PayloadConfig,
    pub seed: u64,
    /// Processes (by name) whose CPU and memory are measured over the measured window.
    pub watch: Vec<String>,
}

/// Latency figures of one group of responses (a route, or all of them), in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// 2xx answers.
    pub ok: u64,
    /// Answers that were not 2xx, and requests that failed, by status or error.
    pub errors: BTreeMap<String, u64>,
    pub throughput_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub url: String,
    pub offered_rate: f64,
    pub connections: usize,
    pub duration_seconds: f64,
    /// Requests scheduled in the measured window.
    pub scheduled: u64,
    /// Every response of the measured window.
    pub total: Summary,
    /// By the `X-Route` header of the answer (the route behind an ingress), "-" when absent.
    pub routes: BTreeMap<String, Summary>,
    /// CPU and memory of the watched processes over the measured window.
    pub processes: BTreeMap<String, crate::procs::Usage>,
}

impl RunResult {
    pub fn errors(&self) -> u64 {
        self.total.errors.values().sum::<u64>()
    }

    pub fn error_ratio(&self) -> f64 {
        if self.scheduled == 0 {
            0.0
        } else {
            self.errors() as f64 / self.scheduled as f64
        }
    }
}

/// `url`, its authority (`host:port`) and the address it resolves to.
async fn resolve(url: &str) -> Result<(hyper::Uri, String, SocketAddr), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("--url {url:?} is not a URL: {e}"))?;
    let authority = uri.authority().ok_or_else(|| format!("--url {url:?} has no host"))?.to_string();
    let address = tokio::net::lookup_host(&authority)
        .await
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| format!("cannot resolve {authority}"))?;
    Ok((uri, authority, address))
}

/// Runs `spec`; fails only when the URL cannot be used.
pub async fn run(spec: &RunSpec) -> Result<RunResult, String> {
    let (uri, authority, address) = resolve(&spec.url).await?;
    let start = Instant::now() + Duration::from_millis(50);
    let measured_from = start + spec.warmup;
    let end = measured_from + spec.duration;
    let connections = spec.connections.max(1);
    let per_connection = spec.rate / connections as f64;

    let watch = {
        let names = spec.watch.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(measured_from).await;
            let watch = crate::procs::Watch::start(&names);
            tokio::time::sleep_until(end).await;
            watch.finish()
        })
    };
    let workers: Vec<_> = (0..connections)
        .map(|index| {
            let worker = Worker {
                address,
                authority: authority.clone(),
                path: uri.path().to_owned(),
                payload: spec.payload.clone(),
                rate: per_connection,
                rng: StdRng::seed_from_u64(spec.seed.wrapping_mul(1_000_003).wrapping_add(index as u64)),
                index: index as u64,
                start,
                measured_from,
                end,
            };
            tokio::spawn(worker.run())
        })
        .collect();
    let mut total = Group::new();
    let mut routes: BTreeMap<String, Group> = BTreeMap::new();
    let mut scheduled = 0;
    for worker in workers {
        let Ok(done) = worker.await else { continue };
        scheduled += done.scheduled;
        for (route, group) in done.routes {
            total.merge(&group);
            routes.entry(route).or_insert_with(Group::new).merge(&group);
        }
    }
    let processes = watch.await.unwrap_or_default();
    let seconds = spec.duration.as_secs_f64();
    Ok(RunResult {
        url: spec.url.clone(),
        offered_rate: spec.rate,
        connections,
        duration_seconds: seconds,
        scheduled,
        total: total.summary(seconds),
        routes: routes.into_iter().map(|(route, group)| (route, group.summary(seconds))).collect(),
        processes,
    })
}

struct Worker {
    address: SocketAddr,
    authority: String,
    path: String,
    payload: PayloadConfig,
    rate: f64,
    rng: StdRng,
    index: u64,
    start: Instant,
    measured_from: Instant,
    end: Instant,
}

struct WorkerResult {
    scheduled: u64,
    routes: BTreeMap<String, Group>,
}

impl Worker {
    async fn run(mut self) -> WorkerResult {
        let mut result = WorkerResult { scheduled: 0, routes: BTreeMap::new() };
        let mut connection: Option<SendRequest<Full<Bytes>>> = None;
        let mut intended = self.start + self.gap();
        let mut sequence = 0_u64;
        while intended < self.end {
            tokio::time::sleep_until(intended).await;
            let measured = intended >= self.measured_from;
            sequence += 1;
            let (route, error) = self.send(&mut connection, sequence).await;
            if measured {
                result.scheduled += 1;
                let latency_us = Instant::now().duration_since(intended).as_micros() as u64;
                result.routes.entry(route).or_insert_with(Group::new).add(latency_us, error);
            }
            intended += self.gap();
        }
        result
    }

    /// Exponential gaps: a Poisson arrival process at this connection's share of the rate.
    fn gap(&mut self) -> Duration {
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        Duration::from_secs_f64(-u.ln() / self.rate)
    }

    /// One request on the kept connection (opened, or opened again after a failure).
    async fn send(&mut self, connection: &mut Option<SendRequest<Full<Bytes>>>, sequence: u64) -> (String, Option<String>) {
        if connection.as_ref().is_none_or(|c| c.is_closed()) {
            match self.connect().await {
                Ok(sender) => *connection = Some(sender),
                Err(error) => return ("-".to_owned(), Some(error)),
            }
        }
        let Some(sender) = connection.as_mut() else { return ("-".to_owned(), Some("connect".to_owned())) };
        let (body, key) = payload::grade(&mut self.rng, &self.payload, self.index << 32 | sequence);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.path.as_str())
            .header(HOST, self.authority.as_str())
            .header(CONTENT_TYPE, "application/json");
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let Ok(request) = request.body(Full::new(Bytes::from(body))) else { return ("-".to_owned(), Some("request".to_owned())) };
        if sender.ready().await.is_err() {
            *connection = None;
            return ("-".to_owned(), Some("io".to_owned()));
        }
        match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let route = response.headers().get("x-route").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
                match response.into_body().collect().await {
                    Err(_) => {
                        *connection = None;
                        (route, Some("io".to_owned()))
                    }
                    Ok(_) if status.is_success() => (route, None),
                    Ok(_) => (route, Some(status.as_u16().to_string())),
                }
            }
            Err(_) => {
                *connection = None;
                ("-".to_owned(), Some("io".to_owned()))
            }
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = TcpStream::connect(self.address).await.map_err(|_| "connect".to_owned())?;
        let _ = stream.set_nodelay(true);
        let (sender, driver) = http1::handshake(TokioIo::new(stream)).await.map_err(|_| "connect".to_owned())?;
        tokio::spawn(async move {
            let _ = driver.await;
        });
        Ok(sender)
    }
}

struct Group {
    histogram: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl Group {
    fn new() -> Self {
        // Microseconds, 1 µs to 60 s, 3 significant digits: constant bounds hdrhistogram accepts.
        #[allow(clippy::expect_used)]
        let histogram = Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid");
        Self { histogram, ok: 0, errors: BTreeMap::new() }
    }

    fn add(&mut self, latency_us: u64, error: Option<String>) {
        self.histogram.saturating_record(latency_us.max(1));
        match error {
            None => self.ok += 1,
            Some(error) => *self.errors.entry(error).or_default() += 1,
        }
    }

    fn merge(&mut self, other: &Group) {
        let _ = self.histogram.add(&other.histogram);
        self.ok += other.ok;
        for (error, count) in &other.errors {
            *self.errors.entry(error.clone()).or_default() += count;
        }
    }

    fn summary(&self, seconds: f64) -> Summary {
        let ms = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        Summary {
            ok: self.ok,
            errors: self.errors.clone(),
            throughput_per_sec: self.ok as f64 / seconds,
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: self.histogram.max() as f64 / 1000.0,
            mean_ms: self.histogram.mean() / 1000.0,
        }
    }
}
