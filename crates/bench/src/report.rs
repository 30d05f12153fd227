//! `step` results as Markdown (ratios first), an SVG chart of latency against offered rate, and a
//! small JSON summary (docs/compare.json) that the dashboard shows as the published comparison.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::{Step, StepReport};

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
    markdown_steps(&mut out, reports);
    out
}

/// The table of every step tried, retries included (the chart draws each rate once).
fn markdown_steps(out: &mut String, reports: &[StepReport]) {
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
}

/// Round axis ticks from 0 to at least `max`: the step is 1, 2, 2.5 or 5 × 10^n, the smallest that
/// needs at most `most` intervals, and the last tick is the first multiple of it at or past `max`.
pub fn round_ticks(max: f64, most: usize) -> Vec<f64> {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let most = most.max(1) as f64;
    let magnitude = 10f64.powf((max / most).log10().floor());
    // Intervals a step needs, with a little slack so that 10,000 / 2,000 is 5 and not 5.000001.
    let intervals = |step: f64| (max / step * (1.0 - 1e-9)).ceil();
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|&s| intervals(s) <= most).unwrap_or(10.0 * magnitude);
    (0..=intervals(step) as usize).map(|i| i as f64 * step).collect()
}

/// The steps to draw: each offered rate once. A rate that failed is tried once more and both
/// attempts are reported; only the last one (the one the run judged the rate by) is kept.
pub fn accepted_steps(steps: &[Step]) -> Vec<&Step> {
    steps
        .iter()
        .enumerate()
        .filter(|(i, step)| steps.get(i + 1).is_none_or(|next| next.rate.total_cmp(&step.rate).is_ne()))
        .map(|(_, step)| step)
        .collect()
}

/// Where the plot is drawn, and its two scales: offered rate (linear, from 0) and latency (log).
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    rate_ticks: Vec<f64>,
    y_min: f64,
    y_max: f64,
}

impl Plot {
    fn new(reports: &[StepReport], slo_ms: f64) -> Self {
        let max_rate = reports.iter().flat_map(|r| r.steps.iter().map(|s| s.rate)).fold(1.0_f64, f64::max);
        // The range of what is drawn: a first attempt that was retried does not stretch the scale.
        let max_latency = reports.iter().flat_map(|r| accepted_steps(&r.steps)).map(|s| s.result.total.p99_ms).fold(slo_ms, f64::max);
        let y_max = 10f64.powf(max_latency.max(1.0).log10().ceil()).min(100_000.0);
        Plot { left: 70.0, top: 30.0, width: 610.0, height: 380.0, rate_ticks: round_ticks(max_rate, 6), y_min: 0.1, y_max }
    }

    fn right(&self) -> f64 {
        self.left + self.width
    }

    fn bottom(&self) -> f64 {
        self.top + self.height
    }

    fn x(&self, rate: f64) -> f64 {
        let x_max = self.rate_ticks.last().copied().unwrap_or(1.0).max(1.0);
        self.left + rate / x_max * self.width
    }

    fn y(&self, ms: f64) -> f64 {
        let (low, high) = (self.y_min.log10(), self.y_max.log10());
        self.bottom() - (ms.clamp(self.y_min, self.y_max).log10() - low) / (high - low) * self.height
    }
}

/// Grid, tick labels, frame and axis titles.
fn svg_axes(out: &mut String, plot: &Plot) {
    let (left, top, right, bottom) = (plot.left, plot.top, plot.right(), plot.bottom());
    let mut decade = plot.y_min;
    while decade <= plot.y_max * 1.0001 {
        let yy = plot.y(decade);
        let label = if decade < 1.0 { format!("{decade:.1}") } else { thousands(decade) };
        let _ = writeln!(out, r##"<line x1="{left}" y1="{yy:.1}" x2="{right:.1}" y2="{yy:.1}" stroke="#e5e7eb"/>"##);
        let _ = writeln!(out, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#, left - 6.0, yy + 4.0);
        decade *= 10.0;
    }
    for &rate in &plot.rate_ticks {
        let xx = plot.x(rate);
        let _ = writeln!(out, r##"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{bottom:.1}" stroke="#f3f4f6"/>"##);
        let _ = writeln!(out, r#"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, bottom + 18.0, thousands(rate));
    }
    let _ = writeln!(out, r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="#6b7280"/>"##, plot.width, plot.height);
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">offered rate (grades/s)</text>"#,
        left + plot.width / 2.0,
        bottom + 40.0
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>"#,
        top + plot.height / 2.0
    );
}

/// The latency objective: a horizontal line across the plot at `slo_ms`, labelled above its left
/// end (the rates below the first step, where no route is drawn).
fn svg_objective(out: &mut String, plot: &Plot, slo_ms: f64) {
    let yy = plot.y(slo_ms);
    let _ = writeln!(
        out,
        r##"<line x1="{}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#111827" stroke-width="1.5" stroke-dasharray="2 3"/>"##,
        plot.left,
        plot.right()
    );
    let _ = writeln!(out, r##"<text x="{:.1}" y="{:.1}" fill="#111827">p99 objective {} ms</text>"##, plot.left + 6.0, yy - 6.0, slo_ms);
}

/// One route: p99 (solid, a dot per step: filled when the step held) and p50 (dashed), then its
/// legend entries beside the plot.
fn svg_route(out: &mut String, plot: &Plot, report: &StepReport, index: usize) {
    let colour = COLOURS[index % COLOURS.len()];
    let steps = accepted_steps(&report.steps);
    for (quantile, dash) in [("p99", ""), ("p50", r#" stroke-dasharray="6 4""#)] {
        let points: Vec<String> = steps
            .iter()
            .map(|s| {
                let ms = if quantile == "p99" { s.result.total.p99_ms } else { s.result.total.p50_ms };
                format!("{:.1},{:.1}", plot.x(s.rate), plot.y(ms))
            })
            .collect();
        let _ = writeln!(out, r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#, points.join(" "));
    }
    for s in &steps {
        let fill = if s.held { colour } else { "white" };
        let (cx, cy) = (plot.x(s.rate), plot.y(s.result.total.p99_ms));
        let _ = writeln!(out, r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="3.5" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>"#);
    }
    let (lx, ly) = (plot.right() + 16.0, plot.top + 20.0 + index as f64 * 40.0);
    for (row, (quantile, dash)) in [("p99", ""), ("p50", r#" stroke-dasharray="6 4""#)].into_iter().enumerate() {
        let yy = ly + row as f64 * 16.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{yy}" x2="{}" y2="{yy}" stroke="{colour}" stroke-width="2"{dash}/><text x="{}" y="{}">{} {quantile}</text>"#,
            lx + 24.0,
            lx + 30.0,
            yy + 4.0,
            report.label
        );
    }
}

/// What the dots mean, under the routes' legend entries.
fn svg_dot_legend(out: &mut String, plot: &Plot, routes: usize) {
    let (lx, ly) = (plot.right() + 16.0, plot.top + 20.0 + routes as f64 * 40.0);
    let _ = writeln!(out, r##"<circle cx="{}" cy="{ly}" r="3.5" fill="#6b7280" stroke="#6b7280" stroke-width="1.5"/>"##, lx + 12.0);
    let _ = writeln!(out, r#"<text x="{}" y="{}">step held</text>"#, lx + 30.0, ly + 4.0);
    let _ = writeln!(out, r##"<circle cx="{}" cy="{}" r="3.5" fill="white" stroke="#6b7280" stroke-width="1.5"/>"##, lx + 12.0, ly + 16.0);
    let _ = writeln!(out, r#"<text x="{}" y="{}">step failed</text>"#, lx + 30.0, ly + 20.0);
}

/// p50 (dashed) and p99 (solid) against offered rate, one colour per route, latency on a log scale,
/// the p99 objective as a labelled horizontal line; each offered rate once (its last attempt).
pub fn svg(reports: &[StepReport]) -> String {
    let (width, height) = (860.0, 470.0);
    let slo_ms = reports.first().map_or(20.0, |r| r.slo_p99_ms);
    let plot = Plot::new(reports, slo_ms);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="18" font-size="14" font-weight="bold">Latency against offered rate (open loop)</text>"#,
        plot.left
    );
    svg_axes(&mut out, &plot);
    svg_objective(&mut out, &plot, slo_ms);
    for (index, report) in reports.iter().enumerate() {
        svg_route(&mut out, &plot, report, index);
    }
    svg_dot_legend(&mut out, &plot, reports.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A step at `rate` with the given p50/p99, held or not.
    fn step(rate: f64, p50_ms: f64, p99_ms: f64, held: bool) -> Step {
        let result = serde_json::json!({
            "url": "http://127.0.0.1:1/grades", "offered_rate": rate, "connections": 256, "duration_seconds": 8.0,
            "scheduled": 1, "routes": {}, "processes": {},
            "total": { "ok": 1, "errors": {}, "throughput_per_sec": rate, "p50_ms": p50_ms, "p90_ms": p99_ms,
                       "p99_ms": p99_ms, "p999_ms": p99_ms, "max_ms": p99_ms, "mean_ms": p50_ms },
        });
        Step { rate, held, reason: None, result: serde_json::from_value(result).unwrap() }
    }

    fn report(label: &str, steps: Vec<Step>) -> StepReport {
        StepReport {
            label: label.into(),
            url: String::new(),
            slo_p99_ms: 20.0,
            students: 500,
            steps,
            max_sustainable: None,
            half_load: None,
            rss_idle_mib: BTreeMap::new(),
        }
    }

    fn close(got: &[f64], want: &[f64]) -> bool {
        got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-9 * w.abs().max(1.0))
    }

    #[test]
    fn ticks_are_round_steps_from_zero_past_the_maximum() {
        let cases: [(f64, usize, &[f64]); 6] = [
            (9_536.743, 6, &[0.0, 2_000.0, 4_000.0, 6_000.0, 8_000.0, 10_000.0]),
            (3_906.25, 6, &[0.0, 1_000.0, 2_000.0, 3_000.0, 4_000.0]),
            (12_000.0, 5, &[0.0, 2_500.0, 5_000.0, 7_500.0, 10_000.0, 12_500.0]),
            (10_000.0, 5, &[0.0, 2_000.0, 4_000.0, 6_000.0, 8_000.0, 10_000.0]),
            (0.7, 5, &[0.0, 0.2, 0.4, 0.6, 0.8]),
            (0.0, 5, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        ];
        for (max, most, want) in cases {
            let got = round_ticks(max, most);
            assert!(close(&got, want), "round_ticks({max}, {most}) = {got:?}, want {want:?}");
        }
    }

    #[test]
    fn every_tick_step_is_1_2_2_5_or_5_times_a_power_of_ten() {
        let mut max = 0.37;
        while max < 1e7 {
            for most in [4, 5, 6, 8] {
                let ticks = round_ticks(max, most);
                let step = ticks[1] - ticks[0];
                let mantissa = step / 10f64.powf(step.log10().floor());
                assert!([1.0, 2.0, 2.5, 5.0].iter().any(|m| (m - mantissa).abs() < 1e-6), "step {step} for {max}");
                assert!(ticks.len() - 1 <= most, "{} intervals for {max} (at most {most})", ticks.len() - 1);
                assert!(*ticks.last().unwrap() >= max * (1.0 - 1e-9), "last tick {:?} under {max}", ticks.last());
                assert!(*ticks.last().unwrap() - step < max, "a tick too many past {max}: {ticks:?}");
            }
            max *= 1.37;
        }
    }

    #[test]
    fn a_retried_step_is_drawn_once_with_its_last_attempt() {
        let steps = vec![
            step(2_000.0, 3.4, 12.8, true),
            step(3_125.0, 3.9, 131.5, false),
            step(3_125.0, 3.8, 16.0, true),
            step(3_906.25, 4.4, 28.8, false),
            step(3_906.25, 5.0, 28.1, false),
        ];
        let kept: Vec<(f64, f64)> = accepted_steps(&steps).iter().map(|s| (s.rate, s.result.total.p99_ms)).collect();
        assert_eq!(kept, [(2_000.0, 12.8), (3_125.0, 16.0), (3_906.25, 28.1)]);
        assert!(accepted_steps(&[]).is_empty());
    }

    #[test]
    fn the_chart_has_one_point_per_step_round_ticks_and_the_objective() {
        let grpc = report("grpc", vec![step(2_000.0, 3.4, 12.8, true), step(2_500.0, 3.5, 131.5, false), step(2_500.0, 3.4, 13.1, true)]);
        let rest = report("rest", vec![step(2_000.0, 2.1, 6.7, true), step(9_536.743, 4.7, 21.3, false)]);
        let chart = svg(&[rest, grpc]);
        let lines: Vec<&str> = chart.lines().filter(|l| l.starts_with("<polyline")).collect();
        let points = |line: &str| line.split('"').nth(1).unwrap().split(' ').count();
        assert_eq!(lines.iter().map(|l| points(l)).collect::<Vec<_>>(), [2, 2, 2, 2], "{chart}");
        assert_eq!(chart.matches("<circle").count(), 4 + 2, "a dot per step and two in the legend");
        for label in ["0", "2,000", "4,000", "6,000", "8,000", "10,000"] {
            assert!(chart.contains(&format!(r#"text-anchor="middle">{label}</text>"#)), "no tick {label}: {chart}");
        }
        assert!(chart.contains("p99 objective 20 ms"), "{chart}");
        assert!(!chart.contains("1,907"), "{chart}");
        // The retried attempt's 131.5 ms is not drawn, so it does not stretch the latency scale.
        assert!(chart.contains(r#"text-anchor="end">100</text>"#) && !chart.contains(">1,000</text>"), "{chart}");
    }
}
