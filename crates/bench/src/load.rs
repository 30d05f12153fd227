//! One open-loop run: requests leave on a fixed schedule whatever the server does (a Poisson
//! process at the offered rate), and each latency is measured from the request's *intended* send
//! time. A server that stalls therefore shows its stall in every request scheduled behind it,
//! instead of slowing the generator down and hiding it (coordinated omission, as wrk2 corrects).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use crate::payload::{self, PayloadConfig};

#[derive(Debug, Clone)]
pub struct RunSpec {
    pub url: String,
    /// Requests per second, on average.
    pub rate: f64,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Sent at the same rate but not measured: connections open, caches warm.
    pub warmup: Duration,
    /// Requests in flight beyond which the generator stops sending and counts the rest as
    /// not sent: the server is far past saturation.
    pub max_in_flight: usize,
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
    pub duration_seconds: f64,
    /// Requests scheduled in the measured window.
    pub scheduled: u64,
    /// Of those, not sent because `max_in_flight` requests were already waiting.
    pub not_sent: u64,
    /// Every response of the measured window.
    pub total: Summary,
    /// By the `X-Route` header of the answer (the route behind an ingress), "-" when absent.
    pub routes: BTreeMap<String, Summary>,
    /// CPU and memory of the watched processes over the measured window.
    pub processes: BTreeMap<String, crate::procs::Usage>,
}

impl RunResult {
    pub fn errors(&self) -> u64 {
        self.total.errors.values().sum::<u64>() + self.not_sent
    }

    pub fn error_ratio(&self) -> f64 {
        if self.scheduled == 0 {
            0.0
        } else {
            self.errors() as f64 / self.scheduled as f64
        }
    }
}

struct Outcome {
    measured: bool,
    route: String,
    /// Status code or error kind; `None` for 2xx.
    error: Option<String>,
    latency_us: u64,
}

/// One client for every run: connections are kept alive between requests, and new ones opened
/// while all are busy (an open-loop generator must never queue behind its own connections).
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(4096).pool_idle_timeout(Duration::from_secs(30)).build(connector)
}

pub async fn run(client: &Client<HttpConnector, Full<Bytes>>, spec: &RunSpec) -> RunResult {
    let uri: hyper::Uri = spec.url.parse().expect("a valid URL");
    let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
    let in_flight = Arc::new(Semaphore::new(spec.max_in_flight));
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let start = Instant::now() + Duration::from_millis(10);
    let measured_from = start + spec.warmup;
    let end = measured_from + spec.duration;
    let mut intended = start;
    let (mut scheduled, mut not_sent, mut sequence) = (0_u64, 0_u64, 0_u64);

    let collector = tokio::spawn(async move {
        let mut total = Group::new();
        let mut routes: BTreeMap<String, Group> = BTreeMap::new();
        while let Some(outcome) = rx.recv().await {
            if !outcome.measured {
                continue;
            }
            total.add(&outcome);
            routes.entry(outcome.route.clone()).or_insert_with(Group::new).add(&outcome);
        }
        (total, routes)
    });

    let watch = {
        let names = spec.watch.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(measured_from).await;
            let watch = crate::procs::Watch::start(&names);
            tokio::time::sleep_until(end).await;
            watch.finish()
        })
    };
    while intended < end {
        let now = Instant::now();
        if intended > now {
            tokio::time::sleep_until(intended).await;
        }
        // Everything due is sent now; the timer's granularity does not bend the schedule.
        let now = Instant::now();
        while intended <= now && intended < end {
            let measured = intended >= measured_from;
            sequence += 1;
            if measured {
                scheduled += 1;
            }
            match in_flight.clone().try_acquire_owned() {
                Ok(permit) => {
                    let (body, key) = payload::grade(&mut rng, &spec.payload, sequence);
                    let mut request = Request::builder().method(Method::POST).uri(uri.clone()).header(CONTENT_TYPE, "application/json");
                    if let Some(key) = key {
                        request = request.header("idempotency-key", key);
                    }
                    let request = request.body(Full::new(Bytes::from(body))).expect("request");
                    let (client, tx, sent_for) = (client.clone(), tx.clone(), intended);
                    tokio::spawn(async move {
                        let outcome = match client.request(request).await {
                            Ok(response) => {
                                let status = response.status();
                                let route = response.headers().get("x-route").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
                                let read = response.into_body().collect().await;
                                let error = match read {
                                    Err(error) => Some(format!("body: {error}")),
                                    Ok(_) if status.is_success() => None,
                                    Ok(_) => Some(status.as_u16().to_string()),
                                };
                                (route, error)
                            }
                            Err(error) => ("-".to_owned(), Some(if error.is_connect() { "connect".to_owned() } else { "io".to_owned() })),
                        };
                        let latency_us = Instant::now().duration_since(sent_for).as_micros() as u64;
                        let _ = tx.send(Outcome { measured, route: outcome.0, error: outcome.1, latency_us });
                        drop(permit);
                    });
                }
                Err(_) if measured => not_sent += 1,
                Err(_) => {}
            }
            intended += Duration::from_secs_f64(next_gap(&mut rng, spec.rate));
        }
    }
    drop(tx);
    let processes = watch.await.unwrap_or_default();
    // Wait for the stragglers (bounded: a request still open after 30 s counts as failed).
    let (total, routes) =
        tokio::time::timeout(Duration::from_secs(60), collector).await.expect("responses within 60 s").expect("collector");
    let seconds = spec.duration.as_secs_f64();
    RunResult {
        url: spec.url.clone(),
        offered_rate: spec.rate,
        duration_seconds: seconds,
        scheduled,
        not_sent,
        total: total.summary(seconds),
        routes: routes.into_iter().map(|(route, group)| (route, group.summary(seconds))).collect(),
        processes,
    }
}

/// Exponential gaps: a Poisson arrival process at `rate`.
fn next_gap(rng: &mut impl Rng, rate: f64) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    -u.ln() / rate
}

struct Group {
    histogram: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl Group {
    fn new() -> Self {
        // Microseconds, 1 µs to 60 s, 3 significant digits.
        Self { histogram: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"), ok: 0, errors: BTreeMap::new() }
    }

    fn add(&mut self, outcome: &Outcome) {
        self.histogram.saturating_record(outcome.latency_us.max(1));
        match &outcome.error {
            None => self.ok += 1,
            Some(error) => *self.errors.entry(error.clone()).or_default() += 1,
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
