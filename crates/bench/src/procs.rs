//! CPU time and resident memory of named processes, read from /proc (Linux).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on every Linux this runs on).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    cpu_ticks: u64,
    rss_kib: u64,
}

/// Per process name, summed over every process of that name.
fn read(names: &[String]) -> BTreeMap<String, Reading> {
    let mut readings: BTreeMap<String, Reading> = names.iter().map(|n| (n.clone(), Reading::default())).collect();
    let Ok(entries) = std::fs::read_dir("/proc") else { return readings };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else { continue };
        let Some(reading) = readings.get_mut(comm.trim()) else { continue };
        if let Ok(stat) = std::fs::read_to_string(path.join("stat")) {
            // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
            if let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) {
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
                reading.cpu_ticks += ticks(11) + ticks(12);
            }
        }
        if let Ok(status) = std::fs::read_to_string(path.join("status")) {
            if let Some(line) = status.lines().find(|l| l.starts_with("VmRSS:")) {
                reading.rss_kib += line.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    readings
}

/// What one process (by name) used during a measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Usage {
    /// CPU time (user + system) in seconds.
    pub cpu_seconds: f64,
    /// Average cores busy.
    pub cores: f64,
    /// Resident memory before the measurement and the most seen during it, in MiB.
    pub rss_before_mib: f64,
    pub rss_peak_mib: f64,
}

/// Samples the named processes while a measurement runs.
pub struct Watch {
    names: Vec<String>,
    before: BTreeMap<String, Reading>,
    peak: Arc<Mutex<BTreeMap<String, u64>>>,
    sampler: tokio::task::JoinHandle<()>,
    started: std::time::Instant,
}

impl Watch {
    pub fn start(names: &[String]) -> Self {
        let names = names.to_vec();
        let before = read(&names);
        let peak = Arc::new(Mutex::new(before.iter().map(|(n, r)| (n.clone(), r.rss_kib)).collect::<BTreeMap<_, _>>()));
        let sampler = tokio::spawn({
            let (names, peak) = (names.clone(), peak.clone());
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let now = read(&names);
                    let mut peak = peak.lock().unwrap_or_else(|p| p.into_inner());
                    for (name, reading) in now {
                        let seen = peak.entry(name).or_default();
                        *seen = (*seen).max(reading.rss_kib);
                    }
                }
            }
        });
        Self { names, before, peak, sampler, started: std::time::Instant::now() }
    }

    pub fn finish(self) -> BTreeMap<String, Usage> {
        self.sampler.abort();
        let elapsed = self.started.elapsed().as_secs_f64();
        let after = read(&self.names);
        let peak = self.peak.lock().unwrap_or_else(|p| p.into_inner()).clone();
        after
            .into_iter()
            .map(|(name, reading)| {
                let before = self.before.get(&name).copied().unwrap_or_default();
                let cpu_seconds = reading.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / TICKS_PER_SECOND;
                let usage = Usage {
                    cpu_seconds,
                    cores: cpu_seconds / elapsed,
                    rss_before_mib: before.rss_kib as f64 / 1024.0,
                    rss_peak_mib: peak.get(&name).copied().unwrap_or(reading.rss_kib).max(reading.rss_kib) as f64 / 1024.0,
                };
                (name, usage)
            })
            .collect()
    }
}

/// Resident memory of each named process now, in MiB.
pub fn rss_mib(names: &[String]) -> BTreeMap<String, f64> {
    read(names).into_iter().map(|(name, reading)| (name, reading.rss_kib as f64 / 1024.0)).collect()
}
