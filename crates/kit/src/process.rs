//! The standard Prometheus process metrics (`process_cpu_seconds_total`, memory, file descriptors,
//! threads, start time), read from `/proc/self` at every scrape. The dashboards divide the CPU
//! counter by the grade counters: CPU-seconds per 1,000 grades per route, live.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

/// Encodes the process metrics of this process; names as every Prometheus client library gives them.
#[derive(Debug, Default)]
pub struct ProcessCollector;

impl ProcessCollector {
    fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, unit: Option<&Unit>, value: f64) -> std::fmt::Result {
        ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?)
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let process = match procfs::process::Process::myself() {
            Ok(process) => process,
            // Not Linux, or /proc is not mounted: no process metrics rather than a failed scrape.
            Err(_) => return Ok(()),
        };
        let Ok(stat) = process.stat() else { return Ok(()) };
        let ticks = procfs::ticks_per_second() as f64;
        let cpu = ConstCounter::new((stat.utime + stat.stime) as f64 / ticks);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu",
            "Total user and system CPU time spent in seconds",
            Some(&Unit::Seconds),
            MetricType::Counter,
        )?)?;
        let page = procfs::page_size() as f64;
        Self::gauge(&mut encoder, "process_resident_memory", "Resident memory size in bytes", Some(&Unit::Bytes), stat.rss as f64 * page)?;
        Self::gauge(&mut encoder, "process_virtual_memory", "Virtual memory size in bytes", Some(&Unit::Bytes), stat.vsize as f64)?;
        Self::gauge(&mut encoder, "process_threads", "Number of OS threads in the process", None, stat.num_threads as f64)?;
        if let Ok(boot) = procfs::boot_time_secs() {
            let started = boot as f64 + stat.starttime as f64 / ticks;
            Self::gauge(
                &mut encoder,
                "process_start_time",
                "Start time of the process since the Unix epoch",
                Some(&Unit::Seconds),
                started,
            )?;
        }
        if let Ok(open) = process.fd_count() {
            Self::gauge(&mut encoder, "process_open_fds", "Number of open file descriptors", None, open as f64)?;
        }
        if let Ok(limits) = process.limits() {
            if let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit {
                Self::gauge(&mut encoder, "process_max_fds", "Maximum number of open file descriptors", None, max as f64)?;
            }
        }
        Ok(())
    }
}
