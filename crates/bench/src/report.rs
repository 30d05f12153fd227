//! `step` results as Markdown (ratios first), an SVG chart of latency against offered rate, and a
//! small JSON summary (docs/compare.json) that the dashboard shows as the published comparison.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::StepReport;

const COLOURS: [&str; 4] = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"];

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn markdown(reports: &[StepReport]) -> String {
    let mut out = String::new();
    let Some(first) = reports.first() else { return out };
    let base = first.max_sustainable.unwrap_or(0.0);
    let _ = writeln!(
        out,
        "Maximum sustainable throughput: the highest offered rate whose p99 stayed at or under {} ms with under 0.1 % errors \
         and at least 95 % of the offered rate served; a rate that fails is tried once more, and fails only if it fails twice \
         (student pool: {}).\n",
        first.slo_p99_ms, first.students
    );
    let _ = writeln!(out, "| route | max sustainable grades/s | vs {} | p50 at half of it | p99 at half of it | CPU-seconds per 1,000 grades (at half) | RSS MiB idle → peak |", first.label);
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for report in reports {
        let max = report.max_sustainable.unwrap_or(0.0);
        let ratio = if base > 0.0 { format!("{:.2}", max / base) } else { "-".into() };
        let (p50, p99, cpu, rss) = match &report.half_load {
            Some(half) => {
                let ok = half.total.ok.max(1) as f64;
                let cpu: Vec<String> = half
                    .processes
                    .iter()
                    .filter(|(_, u)| u.cpu_seconds > 0.0)
                    .map(|(name, u)| format!("{name} {:.3}", u.cpu_seconds / ok * 1000.0))
                    .collect();
                let rss: Vec<String> = half
                    .processes
                    .iter()
                    .filter(|(_, u)| u.cpu_seconds > 0.0)
                    .map(|(name, u)| {
                        format!("{name} {:.0} → {:.0}", report.rss_idle_mib.get(name).copied().unwrap_or(u.rss_before_mib), u.rss_peak_mib)
                    })
                    .collect();
                (format!("{:.2} ms", half.total.p50_ms), format!("{:.2} ms", half.total.p99_ms), cpu.join(", "), rss.join(", "))
            }
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(out, "| {} | {} | {ratio} | {p50} | {p99} | {cpu} | {rss} |", report.label, thousands(max));
    }
    let _ = writeln!(out, "\nEvery step (open loop, Poisson arrivals, latency from the intended send time):\n");
    let _ = writeln!(out, "| route | offered/s | served/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | held |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for report in reports {
        for step in &report.steps {
            let t = &step.result.total;
            let errors = t.errors.values().sum::<u64>();
            let held = if step.held { "yes".to_owned() } else { format!("no: {}", step.reason.clone().unwrap_or_default()) };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {errors} | {held} |",
                report.label,
                thousands(step.rate),
                thousands(t.throughput_per_sec),
                t.p50_ms,
                t.p99_ms,
                t.p999_ms,
                t.max_ms
            );
        }
    }
    out
}

/// p50 (dashed) and p99 (solid) against offered rate, one colour per route, latency on a log scale.
pub fn svg(reports: &[StepReport]) -> String {
    let (width, height, left, right, top, bottom) = (860.0, 460.0, 70.0, 180.0, 30.0, 50.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max_rate = reports.iter().flat_map(|r| r.steps.iter().map(|s| s.rate)).fold(1.0_f64, f64::max);
    let max_latency = reports.iter().flat_map(|r| r.steps.iter().map(|s| s.result.total.p99_ms)).fold(1.0_f64, f64::max);
    let (y_min, y_max) = (0.1_f64, 10f64.powf(max_latency.max(1.0).log10().ceil()).min(100_000.0));
    let x = |rate: f64| left + rate / max_rate * plot_w;
    let y = |ms: f64| top + plot_h - (ms.clamp(y_min, y_max).log10() - y_min.log10()) / (y_max.log10() - y_min.log10()) * plot_h;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(out, r#"<text x="{}" y="18" font-size="14" font-weight="bold">Latency against offered rate (open loop)</text>"#, left);
    // Axes and grid.
    let mut decade = y_min;
    while decade <= y_max * 1.0001 {
        let yy = y(decade);
        let _ = writeln!(out, r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e5e7eb"/>"##, left + plot_w);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 6.0,
            yy + 4.0,
            if decade < 1.0 { format!("{decade:.1}") } else { format!("{decade:.0}") }
        );
        decade *= 10.0;
    }
    for i in 0..=5 {
        let rate = max_rate * f64::from(i) / 5.0;
        let xx = x(rate);
        let _ = writeln!(out, r##"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{:.1}" stroke="#f3f4f6"/>"##, top + plot_h);
        let _ = writeln!(out, r#"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, top + plot_h + 18.0, thousands(rate));
    }
    let _ = writeln!(out, r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#6b7280"/>"##);
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">offered rate (grades/s)</text>"#,
        left + plot_w / 2.0,
        height - 10.0
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>"#,
        top + plot_h / 2.0
    );
    for (index, report) in reports.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        for (quantile, dash) in [("p99", ""), ("p50", r#" stroke-dasharray="6 4""#)] {
            let points: Vec<String> = report
                .steps
                .iter()
                .map(|s| {
                    let ms = if quantile == "p99" { s.result.total.p99_ms } else { s.result.total.p50_ms };
                    format!("{:.1},{:.1}", x(s.rate), y(ms))
                })
                .collect();
            let _ = writeln!(out, r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#, points.join(" "));
        }
        let ly = top + 20.0 + index as f64 * 40.0;
        let lx = left + plot_w + 16.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{} p99</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            report.label
        );
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{colour}" stroke-width="2" stroke-dasharray="6 4"/><text x="{}" y="{}">{} p50</text>"#,
            ly + 16.0,
            lx + 24.0,
            ly + 16.0,
            lx + 30.0,
            ly + 20.0,
            report.label
        );
    }
    out.push_str("</svg>\n");
    out
}

/// The published comparison: what the dashboard shows beside its live figures. Small on purpose
/// (no per-step rows: those are in BENCHMARKS.md), and only ever written from `step` results.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// When the results were reported, as given by the caller (RFC 3339, UTC).
    pub measured_at: String,
    /// Cores, CPU, OS and server versions of the machine that ran it.
    pub machine: String,
    /// The command (and its settings) that produced it.
    pub command: String,
    /// A step holds when its p99 is at most this.
    pub slo_p99_ms: f64,
    /// Student pool of the load.
    pub students: u64,
    /// Measured seconds per step.
    pub step_seconds: f64,
    /// One entry per route, in the order given.
    pub routes: Vec<RouteSummary>,
}

/// One route's figures in [`Summary`].
#[derive(Debug, Serialize)]
pub struct RouteSummary {
    /// The route's name (`rest`, `grpc`).
    pub route: String,
    /// Highest throughput of a step that held, in grades/s; `None` when no step held.
    pub max_sustainable_per_sec: Option<f64>,
    /// The run at half of the maximum; `None` when no step held.
    pub half_load: Option<HalfLoad>,
}

/// Latency and cost at half of a route's maximum sustainable throughput (equal, comfortable load).
#[derive(Debug, Serialize)]
pub struct HalfLoad {
    /// Offered grades/s.
    pub offered_per_sec: f64,
    /// Served grades/s.
    pub served_per_sec: f64,
    /// Median latency from the intended send time.
    pub p50_ms: f64,
    /// 99th percentile latency from the intended send time.
    pub p99_ms: f64,
    /// CPU-seconds per 1,000 stored grades, summed over the processes below.
    pub cpu_seconds_per_1000: f64,
    /// Per process that used CPU during the run.
    pub processes: BTreeMap<String, ProcessCost>,
}

/// CPU and memory of one process during the half-load run.
#[derive(Debug, Serialize)]
pub struct ProcessCost {
    /// CPU-seconds per 1,000 stored grades.
    pub cpu_seconds_per_1000: f64,
    /// Resident memory before any load, in MiB.
    pub rss_idle_mib: f64,
    /// Most resident memory seen during the run, in MiB.
    pub rss_peak_mib: f64,
}

/// Rounds to 3 decimals: the file is committed and read by people, and the measurements are not
/// more precise than that.
fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// The summary of `reports`; `measured_at`, `machine` and `command` describe the run.
pub fn summary(reports: &[StepReport], measured_at: &str, machine: &str, command: &str) -> Summary {
    let first = reports.first();
    let routes = reports
        .iter()
        .map(|report| {
            let half_load = report.half_load.as_ref().map(|half| {
                let thousands_ok = half.total.ok.max(1) as f64 / 1000.0;
                let processes: BTreeMap<String, ProcessCost> = half
                    .processes
                    .iter()
                    .filter(|(_, usage)| usage.cpu_seconds > 0.0)
                    .map(|(name, usage)| {
                        let cost = ProcessCost {
                            cpu_seconds_per_1000: round3(usage.cpu_seconds / thousands_ok),
                            rss_idle_mib: round3(report.rss_idle_mib.get(name).copied().unwrap_or(usage.rss_before_mib)),
                            rss_peak_mib: round3(usage.rss_peak_mib),
                        };
                        (name.clone(), cost)
                    })
                    .collect();
                let cpu: f64 = half.processes.values().map(|usage| usage.cpu_seconds).sum();
                HalfLoad {
                    offered_per_sec: round3(half.offered_rate),
                    served_per_sec: round3(half.total.throughput_per_sec),
                    p50_ms: round3(half.total.p50_ms),
                    p99_ms: round3(half.total.p99_ms),
                    cpu_seconds_per_1000: round3(cpu / thousands_ok),
                    processes,
                }
            });
            RouteSummary { route: report.label.clone(), max_sustainable_per_sec: report.max_sustainable.map(round3), half_load }
        })
        .collect();
    Summary {
        measured_at: measured_at.to_owned(),
        machine: machine.to_owned(),
        command: command.to_owned(),
        slo_p99_ms: first.map_or(0.0, |r| r.slo_p99_ms),
        students: first.map_or(0, |r| r.students),
        step_seconds: first.and_then(|r| r.steps.first()).map_or(0.0, |s| s.result.duration_seconds),
        routes,
    }
}
