//! Per-route request latency, bucketed per second in Redis so every replica of a route adds to
//! the same histogram and the dashboard reads one figure per route, not one per pod.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use grades_domain::Route;
use redis::RedisError;
use serde::Serialize;

use crate::store::LiveStore;

/// Upper bounds of the histogram buckets in milliseconds; one more bucket catches everything above.
pub const BUCKET_BOUNDS_MS: [f64; 20] =
    [1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 500.0, 750.0, 1000.0, 2000.0, 5000.0];
/// Buckets in all, the open-ended one included.
pub const BUCKETS: usize = BUCKET_BOUNDS_MS.len() + 1;
/// Buckets outlive the dashboard's one-minute window with room for clock skew between pods.
pub const BUCKET_TTL_SECONDS: i64 = 180;

/// Request latencies of one route, bucketed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Requests per bucket (see [`BUCKET_BOUNDS_MS`]).
    pub buckets: [u64; BUCKETS],
    /// Requests in all.
    pub count: u64,
    /// Sum of their latencies, in microseconds (for the mean).
    pub sum_us: u64,
}

impl Histogram {
    /// Adds one request.
    pub fn record(&mut self, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        let index = BUCKET_BOUNDS_MS.iter().position(|bound| ms <= *bound).unwrap_or(BUCKETS - 1);
        self.buckets[index] += 1;
        self.count += 1;
        self.sum_us += elapsed.as_micros() as u64;
    }

    /// Adds another histogram's requests (another second, or another replica).
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_us += other.sum_us;
    }

    /// A 95 % confidence interval of the median: the latencies at ranks n/2 ± 1.96·√n/2 (the
    /// normal approximation of the binomial order statistics), read from the buckets. Two routes
    /// whose intervals do not overlap have different medians at that confidence.
    pub fn median_interval_ms(&self) -> Option<(f64, f64)> {
        let n = self.buckets.iter().sum::<u64>();
        if n < 2 {
            return None;
        }
        let half_width = 0.98 / (n as f64).sqrt();
        Some((self.quantile_ms(0.5 - half_width)?, self.quantile_ms(0.5 + half_width)?))
    }

    /// Quantile in milliseconds, interpolated linearly inside the bucket that holds it.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0_u64;
        for (index, &count) in self.buckets.iter().enumerate() {
            if count == 0 {
                continue;
            }
            if (seen + count) as f64 >= rank {
                let lower = if index == 0 { 0.0 } else { BUCKET_BOUNDS_MS[index - 1] };
                let Some(&upper) = BUCKET_BOUNDS_MS.get(index) else {
                    return Some(lower); // open-ended top bucket: report its floor
                };
                let within = (rank - seen as f64) / count as f64;
                return Some(lower + (upper - lower) * within);
            }
            seen += count;
        }
        None
    }
}

/// Process-local accumulator, flushed to Redis once a second by [`LatencyRecorder::run_flusher`].
#[derive(Clone, Default)]
pub struct LatencyRecorder {
    pending: Arc<Mutex<HashMap<(Route, u64), Histogram>>>,
}

impl LatencyRecorder {
    /// Adds one request of `route` to the current second.
    pub fn record(&self, route: Route, elapsed: Duration) {
        let second = unix_now();
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entry((route, second)).or_default().record(elapsed);
    }

    fn take(&self) -> HashMap<(Route, u64), Histogram> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Adds what was recorded since the last flush to the shared buckets in Redis.
    pub async fn flush(&self, live: &LiveStore) -> Result<(), RedisError> {
        let pending = self.take();
        if pending.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for ((route, second), histogram) in &pending {
            let key = live.keys().latency(*route, *second);
            for (index, count) in histogram.buckets.iter().enumerate().filter(|(_, c)| **c > 0) {
                pipe.hincr(&key, index, *count).ignore();
            }
            pipe.hincr(&key, "count", histogram.count).ignore();
            pipe.hincr(&key, "sum_us", histogram.sum_us).ignore();
            pipe.expire(&key, BUCKET_TTL_SECONDS).ignore();
        }
        let mut connection = live.connection().await?;
        pipe.query_async::<()>(&mut connection).await
    }

    /// Flushes every second until `shutdown` resolves, then once more so no sample is lost.
    pub async fn run_flusher(self, live: LiveStore, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = &mut shutdown => break,
            }
            if let Err(error) = self.flush(&live).await {
                tracing::debug!(%error, "latency samples not flushed to redis");
            }
        }
        let _ = self.flush(&live).await;
    }
}

/// One route's figures over the last `window_seconds`, across all replicas.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RouteWindow {
    /// The route.
    pub route: Route,
    /// Requests answered in the window.
    pub requests: u64,
    /// Requests per second over the window.
    pub throughput_per_sec: f64,
    /// Median latency (`None` without requests).
    pub p50_ms: Option<f64>,
    /// A 95 % confidence interval of the median (`None` with fewer than 2 requests).
    pub p50_interval_ms: Option<(f64, f64)>,
    /// 99th percentile latency.
    pub p99_ms: Option<f64>,
    /// Mean latency.
    pub mean_ms: Option<f64>,
}

/// One route's figures over the last `window_seconds`, every replica included.
pub async fn read_window(live: &LiveStore, route: Route, window_seconds: u64) -> Result<RouteWindow, RedisError> {
    let now = unix_now();
    let mut pipe = redis::pipe();
    for second in (now + 1 - window_seconds)..=now {
        pipe.hgetall(live.keys().latency(route, second));
    }
    let mut connection = live.connection().await?;
    let seconds: Vec<HashMap<String, u64>> = pipe.query_async(&mut connection).await?;
    let mut total = Histogram::default();
    for fields in seconds {
        let mut histogram = Histogram::default();
        for (field, value) in fields {
            match field.as_str() {
                "count" => histogram.count = value,
                "sum_us" => histogram.sum_us = value,
                index => {
                    if let Some(slot) = index.parse::<usize>().ok().and_then(|i| histogram.buckets.get_mut(i)) {
                        *slot = value;
                    }
                }
            }
        }
        total.merge(&histogram);
    }
    Ok(RouteWindow {
        route,
        requests: total.count,
        throughput_per_sec: total.count as f64 / window_seconds as f64,
        p50_ms: total.quantile_ms(0.50),
        p50_interval_ms: total.median_interval_ms(),
        p99_ms: total.quantile_ms(0.99),
        mean_ms: (total.count > 0).then(|| total.sum_us as f64 / total.count as f64 / 1000.0),
    })
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile_ms(0.5), None);
        for _ in 0..99 {
            h.record(Duration::from_micros(1500)); // bucket (1, 2]
        }
        h.record(Duration::from_millis(400)); // bucket (300, 500]
        let p50 = h.quantile_ms(0.5).unwrap();
        assert!((1.0..=2.0).contains(&p50), "p50 {p50}");
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((1.0..=2.0).contains(&p99), "p99 {p99}");
        let p100 = h.quantile_ms(1.0).unwrap();
        assert!((300.0..=500.0).contains(&p100), "max {p100}");
        assert_eq!(h.count, 100);
    }

    #[test]
    fn the_median_interval_narrows_with_more_samples() {
        let mut few = Histogram::default();
        let mut many = Histogram::default();
        for i in 0..20 {
            few.record(Duration::from_micros(1000 + i * 200));
        }
        for i in 0..2000 {
            many.record(Duration::from_micros(1000 + (i % 20) * 200));
        }
        let (low, high) = few.median_interval_ms().unwrap();
        let (many_low, many_high) = many.median_interval_ms().unwrap();
        assert!(low <= many_low && many_high <= high, "{low}-{high} vs {many_low}-{many_high}");
        assert!(many_low <= many.quantile_ms(0.5).unwrap() && many.quantile_ms(0.5).unwrap() <= many_high);
        assert_eq!(Histogram::default().median_interval_ms(), None);
    }

    #[test]
    fn slow_requests_land_in_the_open_bucket() {
        let mut h = Histogram::default();
        h.record(Duration::from_secs(9));
        assert_eq!(h.buckets[BUCKETS - 1], 1);
        assert_eq!(h.quantile_ms(0.99), Some(5000.0));
    }
}
