//! The `process_*` family every Prometheus client exports (read from /proc by `metrics-process`,
//! a port of client_golang's collector), and the async runtime's counterparts of Go's
//! `go_goroutines` and `go_threads`, read at each scrape.

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, gauge::ConstGauge},
};

#[derive(Debug, Default)]
pub struct ProcessCollector;

/// Writes one unlabelled metric.
fn write(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: &impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let p = metrics_process::collector::collect();
        if let Some(v) = p.cpu_seconds_total {
            // Counters are written with the `_total` suffix.
            let help = "Total user and system CPU time spent in seconds.";
            write(
                &mut encoder,
                "process_cpu_seconds",
                help,
                &ConstCounter::new(v),
            )?;
        }
        let gauges = [
            (
                "process_open_fds",
                "Number of open file descriptors.",
                p.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                p.max_fds,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                p.virtual_memory_bytes,
            ),
            (
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
                p.virtual_memory_max_bytes,
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                p.resident_memory_bytes,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                p.start_time_seconds,
            ),
            (
                "process_threads",
                "Number of OS threads in the process.",
                p.threads,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                // Prometheus values are floats; these stay exact far beyond any real count.
                #[allow(clippy::cast_precision_loss)]
                write(&mut encoder, name, help, &ConstGauge::new(v as f64))?;
            }
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let m = runtime.metrics();
            let runtime_gauges = [
                (
                    "tokio_alive_tasks",
                    "Tasks alive in the async runtime (what go_goroutines counts in a Go operator).",
                    m.num_alive_tasks(),
                ),
                (
                    "tokio_workers",
                    "Worker threads of the async runtime.",
                    m.num_workers(),
                ),
                (
                    "tokio_global_queue_depth",
                    "Tasks waiting in the async runtime's global queue.",
                    m.global_queue_depth(),
                ),
            ];
            for (name, help, value) in runtime_gauges {
                #[allow(clippy::cast_possible_wrap)]
                write(&mut encoder, name, help, &ConstGauge::new(value as i64))?;
            }
        }
        Ok(())
    }
}
