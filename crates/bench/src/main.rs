//! `grades-bench`: the open-loop load generator of `just compare` and `just bench`.
//!
//! - `run`: one fixed rate for a while; latency percentiles per route.
//! - `step`: raises the rate until p99 passes the SLO, errors appear or the server falls behind
//!   the offered rate; the highest rate that held is the route's maximum sustainable throughput,
//!   and one more run at half of it gives the latency at equal, comfortable load.
//! - `watch`: CPU and memory of named processes over a while (beside another load tool).
//! - `seed`: N realistic grades with their summaries, for measurements at scale.
//! - `report`: step results of several routes as a Markdown table, an SVG chart and a JSON summary.

// mimalloc: the generator allocates per request and shares the cores with what it measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod load;
mod payload;
mod procs;
mod report;
mod seed;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};

use crate::load::{RunResult, RunSpec};
use crate::payload::PayloadConfig;

#[derive(Parser)]
#[command(name = "grades-bench", version, about = "Open-loop load generator for the grades routes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The processes measured by default: every service, MariaDB and Redis (scripts/lib/benchmark.sh
/// names the server's own process in BENCH_WATCH: `mysqld` for MySQL).
const WATCHED: &str = "rest-api,grpc-client,grpc-server,realtime,mariadbd,redis-server";

#[derive(clap::Args, Clone)]
struct Target {
    /// POST /grades URL of a route (or of the ingress: results are split by X-Route).
    #[arg(long)]
    url: String,
    /// Measured seconds per rate.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Unmeasured seconds before each measurement, at the same rate.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Connections, each sending on its own schedule at its share of the rate (as wrk2).
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// Process names whose CPU and memory are measured (comma separated).
    #[arg(long, env = "BENCH_WATCH", value_delimiter = ',', default_value = WATCHED)]
    watch: Vec<String>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    payload: PayloadConfig,
}

impl Target {
    fn spec(&self, rate: f64) -> RunSpec {
        RunSpec {
            url: self.url.clone(),
            rate,
            duration: Duration::from_secs(self.duration),
            warmup: Duration::from_secs(self.warmup),
            connections: self.connections,
            payload: self.payload.clone(),
            seed: self.seed,
            watch: self.watch.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// One fixed arrival rate.
    Run {
        #[command(flatten)]
        target: Target,
        /// Requests per second (Poisson arrivals).
        #[arg(long)]
        rate: f64,
        /// Write the result as JSON here (it is always printed).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Raise the rate step by step to the maximum sustainable throughput.
    Step {
        #[command(flatten)]
        target: Target,
        /// Name of what is measured (the route), used in reports.
        #[arg(long)]
        label: String,
        #[arg(long, default_value_t = 1000.0)]
        start: f64,
        /// Each step offers this many times the previous rate.
        #[arg(long, default_value_t = 1.25)]
        factor: f64,
        #[arg(long, default_value_t = 200_000.0)]
        max_rate: f64,
        /// A step holds when its p99 is at most this.
        #[arg(long, default_value_t = 20.0)]
        slo_p99_ms: f64,
        #[arg(long)]
        json: PathBuf,
    },
    /// CPU and memory of named processes over a while (to go with another load tool).
    Watch {
        #[arg(long)]
        seconds: f64,
        #[arg(long, env = "BENCH_WATCH", value_delimiter = ',', default_value = WATCHED)]
        watch: Vec<String>,
    },
    /// Load N realistic grades into MYSQL_URL with their summaries, and rebuild the live state.
    Seed(seed::SeedArgs),
    /// Markdown table, SVG chart and JSON summary from `step` results.
    Report {
        /// `step` JSON files, one per route.
        inputs: Vec<PathBuf>,
        #[arg(long)]
        markdown: PathBuf,
        #[arg(long)]
        svg: PathBuf,
        /// Also write the small summary the dashboard shows (docs/compare.json) here.
        #[arg(long, requires_all = ["measured_at", "machine", "command"])]
        json: Option<PathBuf>,
        /// When the run was measured (RFC 3339, UTC), for the summary.
        #[arg(long)]
        measured_at: Option<String>,
        /// The machine it ran on, for the summary.
        #[arg(long)]
        machine: Option<String>,
        /// The command and settings that produced it, for the summary.
        #[arg(long)]
        command: Option<String>,
    },
}

/// One rate of a step run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// Offered requests per second.
    pub rate: f64,
    /// Whether the route sustained it (see `judge`).
    pub held: bool,
    /// Why it did not hold.
    pub reason: Option<String>,
    /// What was measured.
    pub result: RunResult,
}

/// The result of `step` for one route.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    /// The route's name in reports.
    pub label: String,
    /// Where the load went.
    pub url: String,
    /// The p99 a step must stay under.
    pub slo_p99_ms: f64,
    /// Student pool of the load.
    pub students: u64,
    /// Every rate tried, in order.
    pub steps: Vec<Step>,
    /// Highest throughput of a step that held.
    pub max_sustainable: Option<f64>,
    /// A run at half of `max_sustainable`.
    pub half_load: Option<RunResult>,
    /// Memory of the watched processes before any load, in MiB.
    pub rss_idle_mib: std::collections::BTreeMap<String, f64>,
}

fn judge(result: &RunResult, rate: f64, slo: f64) -> Option<String> {
    if result.error_ratio() > 0.001 {
        Some(format!("{:.2}% errors", result.error_ratio() * 100.0))
    } else if result.total.p99_ms > slo {
        Some(format!("p99 {:.1} ms over {slo} ms", result.total.p99_ms))
    } else if result.total.throughput_per_sec < 0.95 * rate {
        Some(format!("served {:.0}/s of {rate:.0}/s offered", result.total.throughput_per_sec))
    } else {
        None
    }
}

fn print(result: &RunResult) {
    let t = &result.total;
    eprintln!(
        "offered {:>8.0}/s  served {:>8.0}/s  p50 {:>7.2} ms  p99 {:>8.2} ms  max {:>8.1} ms  errors {}",
        result.offered_rate,
        t.throughput_per_sec,
        t.p50_ms,
        t.p99_ms,
        t.max_ms,
        t.errors.values().sum::<u64>(),
    );
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match execute(Cli::parse().command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("grades-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn to_json(value: &impl Serialize) -> Result<String, String> {
    serde_json::to_string_pretty(value).map_err(|e| format!("encoding the result: {e}"))
}

fn write(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Offers `start`, then each `factor` times the rate before, up to `max_rate`, until a rate does
/// not hold (p99 over the SLO, errors, or the served rate falling behind).
async fn climb(target: &Target, start: f64, factor: f64, max_rate: f64, slo_p99_ms: f64) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut rate = start;
    while rate <= max_rate {
        let mut result = load::run(&target.spec(rate)).await?;
        print(&result);
        let mut reason = judge(&result, rate, slo_p99_ms);
        if let Some(first) = reason.take() {
            // A machine shared with other work stalls now and then; a rate fails only when it
            // fails twice in a row. Both attempts are reported.
            eprintln!("  did not hold ({first}); trying this rate once more");
            steps.push(Step { rate, held: false, reason: Some(format!("{first}; tried again")), result });
            result = load::run(&target.spec(rate)).await?;
            print(&result);
            reason = judge(&result, rate, slo_p99_ms);
        }
        let held = reason.is_none();
        steps.push(Step { rate, held, reason, result });
        if !held {
            break;
        }
        rate *= factor;
    }
    Ok(steps)
}

/// One more run at half the maximum sustainable throughput: the route's latency under
/// comfortable load.
async fn half_load(target: &Target, max_sustainable: f64) -> Result<RunResult, String> {
    eprintln!("half of the maximum sustainable throughput:");
    let result = load::run(&target.spec(max_sustainable / 2.0)).await?;
    print(&result);
    Ok(result)
}

/// The `step` results named on the command line.
fn read_step_reports(inputs: &[PathBuf]) -> Result<Vec<StepReport>, String> {
    inputs
        .iter()
        .map(|input| {
            let text = std::fs::read_to_string(input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
            serde_json::from_str::<StepReport>(&text).map_err(|e| format!("{} is not a step result: {e}", input.display()))
        })
        .collect()
}

async fn execute(command: Command) -> Result<(), String> {
    match command {
        Command::Run { target, rate, json } => {
            let result = load::run(&target.spec(rate)).await?;
            print(&result);
            let text = to_json(&result)?;
            println!("{text}");
            if let Some(path) = json {
                write(&path, &text)?;
            }
        }
        Command::Step { target, label, start, factor, max_rate, slo_p99_ms, json } => {
            let rss_idle_mib = procs::rss_mib(&target.watch);
            let steps = climb(&target, start, factor, max_rate, slo_p99_ms).await?;
            let max_sustainable = steps.iter().filter(|s| s.held).map(|s| s.result.total.throughput_per_sec).reduce(f64::max);
            let half_load = match max_sustainable {
                Some(max) => Some(half_load(&target, max).await?),
                None => None,
            };
            let report = StepReport {
                label,
                url: target.url,
                slo_p99_ms,
                students: target.payload.students,
                steps,
                max_sustainable,
                half_load,
                rss_idle_mib,
            };
            write(&json, &to_json(&report)?)?;
        }
        Command::Watch { seconds, watch } => {
            let sampling = procs::Watch::start(&watch);
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            println!("{}", to_json(&sampling.finish())?);
        }
        Command::Seed(args) => seed::seed(args).await?,
        Command::Report { inputs, markdown, svg, json, measured_at, machine, command } => {
            let reports = read_step_reports(&inputs)?;
            write(&markdown, &report::markdown(&reports))?;
            write(&svg, &report::svg(&reports))?;
            if let Some(path) = json {
                let summary = report::summary(
                    &reports,
                    measured_at.as_deref().unwrap_or_default(),
                    machine.as_deref().unwrap_or_default(),
                    command.as_deref().unwrap_or_default(),
                );
                write(&path, &format!("{}\n", to_json(&summary)?))?;
            }
        }
    }
    Ok(())
}
