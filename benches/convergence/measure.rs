//! Measurements outside the benchmark's watch: the processes' CPU and peak RSS from /proc, the
//! API server's write requests from its metrics, the machine and the binary's size.

use std::{
    collections::BTreeMap,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, ensure};
use serde::Serialize;

use crate::{
    bench::Bench,
    support::{self, cluster::ControlPlane},
};

const BINARY_TARGET_BYTES: u64 = 40_000_000;

/// Write requests per `RESOURCE[/SUBRESOURCE] VERB` from the API server's
/// `apiserver_request_total`, for the models and events.
pub fn apiserver_writes(plane: &ControlPlane) -> Result<BTreeMap<String, i64>> {
    let out = plane.kubectl(&["get", "--raw", "/metrics"]);
    ensure!(
        out.status.success(),
        "kubectl get --raw /metrics failed: {}",
        support::cluster::text(&out.stderr)
    );
    let text = support::cluster::text(&out.stdout);
    let mut totals = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |key: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        let resource = label("resource");
        let verb = label("verb");
        if !matches!(resource.as_str(), "recommendermodels" | "events")
            || !matches!(verb.as_str(), "POST" | "PUT" | "PATCH" | "APPLY" | "DELETE")
        {
            continue;
        }
        let subresource = label("subresource");
        let mut key = if subresource.is_empty() {
            format!("{resource} {verb}")
        } else {
            format!("{resource}/{subresource} {verb}")
        };
        // Refused requests (conflicts, throttling) count apart: they cost, but wrote nothing.
        let code = label("code");
        if !code.starts_with('2') {
            key = format!("{key} {code}");
        }
        let value: f64 = value.trim().parse().unwrap_or(0.0);
        *totals.entry(key).or_insert(0) += value as i64;
    }
    Ok(totals)
}

/// The PID of the process running `program` with `marker` among its arguments (not the
/// watchdog, whose argv[0] is bash), other than `exclude`.
pub fn find_pid(program: &Path, marker: &str, exclude: Option<u32>) -> Option<u32> {
    let program = program.to_str()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if Some(pid) == exclude {
                continue;
            }
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.first() == Some(&program.as_bytes()) && args.contains(&marker.as_bytes()) {
                return Some(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

pub struct ProcStats {
    pub cpu_s: f64,
    pub hwm_kib: u64,
}

/// CPU seconds (utime + stime) and peak RSS (VmHWM) of a live process.
pub fn proc_stats(pid: u32, clk_tck: f64) -> Result<ProcStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    let after_comm = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("odd /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); the first field after the command is field 3.
    let ticks = |i: usize| -> f64 {
        fields
            .get(i - 3)
            .and_then(|f| f.parse().ok())
            .unwrap_or(0.0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let hwm_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(ProcStats {
        cpu_s: (ticks(14) + ticks(15)) / clk_tck,
        hwm_kib,
    })
}

/// The PIDs of the control plane's etcd and kube-apiserver.
pub fn control_plane_pids(plane: &ControlPlane) -> Vec<u32> {
    let port = plane.server.rsplit(':').next().unwrap_or_default();
    let etcd_data = format!("--data-dir={}", plane.dir.join("etcd").display());
    let apiserver_port = format!("--secure-port={port}");
    let found: Vec<u32> = [
        (support::cluster::tool("etcd"), etcd_data),
        (support::cluster::tool("kube-apiserver"), apiserver_port),
    ]
    .iter()
    .filter_map(|(program, marker)| find_pid(program, marker, None))
    .collect();
    if found.len() != 2 {
        eprintln!(
            "warning: could not find etcd and kube-apiserver in /proc; their CPU is not measured"
        );
    }
    found
}

impl Bench {
    /// CPU seconds used so far by etcd and kube-apiserver together.
    pub fn control_plane_cpu(&self) -> f64 {
        self.plane_pids
            .iter()
            .filter_map(|pid| proc_stats(*pid, self.clk_tck).ok())
            .map(|s| s.cpu_s)
            .sum()
    }
}

pub fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[derive(Serialize, Debug)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        memory_gib: mem_kib / 1024.0 / 1024.0,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

#[derive(Serialize, Debug)]
pub struct Binary {
    pub path: String,
    pub bytes: u64,
    pub target_bytes: u64,
}

pub fn binary_size(path: &Path) -> Result<Binary> {
    let bytes = std::fs::metadata(path)
        .with_context(|| format!("stat {}", path.display()))?
        .len();
    Ok(Binary {
        path: path.display().to_string(),
        bytes,
        target_bytes: BINARY_TARGET_BYTES,
    })
}
