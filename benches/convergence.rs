//! The convergence benchmark (issue 7): the operator against the real API server and the
//! emulator, measured side by side with the limit, a minimal client that does only the
//! unavoidable work per model.
//!
//! ```sh
//! cargo bench --bench convergence -- --smoke                 # 20 models, 5 s idle
//! cargo bench --bench convergence -- --models 100,1000,5000  # the issue's sizes
//! ```
//!
//! Options: `--models N,N,...` (default 100,1000), `--concurrency C` (default 8, for the
//! operator and the limit), `--idle-seconds S` (default 120), `--json PATH` (default
//! `target/convergence.json`), `--smoke` (20 models, 5 s idle).
//!
//! It builds the release binaries itself (`cargo build --release --workspace --bins`) and needs
//! the pinned tools of `scripts/tools.sh`. One control plane is shared by every size; each size
//! gets fresh namespaces, a fresh emulator (its quota raised above N) for the operator and
//! another for the limit, and its own operator process. Every process runs under the test
//! harness's watchdog, so nothing outlives the benchmark.

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::{
    api::core::v1::Namespace,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Client,
    api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    core::GroupVersionKind,
    runtime::{WatchStreamExt, watcher},
};
use recommender_operator::lock::lock;
use serde::Serialize;
use serde_json::{Value, json};
use support::cluster::{ControlPlane, Process, control_plane, tail};

const GROUP: &str = "pinpoint.recommenders.dev";
const VERSION: &str = "v1alpha1";
const KIND: &str = "RecommenderModel";
const PLURAL: &str = "recommendermodels";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/PinpointPersonalize";
const CAMPAIGN_ARN: &str = "arn:aws:personalize:us-east-1:123456789012:campaign/movies";
const REGION: &str = "us-east-1";
/// Field manager of the benchmark's own applies.
const BENCH_MANAGER: &str = "convergence-bench";
/// Field manager of the limit's status patches.
const LIMIT_MANAGER: &str = "convergence-limit";
/// Requests in flight while the benchmark applies the models.
const APPLY_PARALLELISM: usize = 16;
/// The label on the operator runs' namespaces, which the finalizer policy's binding selects: the
/// limit's models get no finalizer, as they need none.
const OPERATOR_NAMESPACE_LABEL: &[(&str, &str)] = &[("convergence-bench/operator", "true")];
const BINARY_TARGET_BYTES: u64 = 40_000_000;
const RSS_TARGET_MIB: f64 = 64.0;

const CREATE: &str = "CreateRecommenderConfiguration";
const GET: &str = "GetRecommenderConfiguration";
const LIST: &str = "GetRecommenderConfigurations";
const UPDATE: &str = "UpdateRecommenderConfiguration";
const DELETE: &str = "DeleteRecommenderConfiguration";

#[derive(Parser, Debug)]
#[command(about = "Convergence benchmark: the operator against the limit")]
struct Args {
    /// Model counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    models: Vec<usize>,
    /// Concurrency of the operator (`--concurrency`) and of the limit.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Where to write the JSON report (default: TARGET_DIR/convergence.json).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seconds to watch the converged models sit idle.
    #[arg(long, default_value_t = 120)]
    idle_seconds: u64,
    /// A quick run: 20 models, 5 s idle, 5 edits.
    #[arg(long)]
    smoke: bool,
    /// Runs per size; the report gives the median ratio and its spread.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Single edits timed one at a time, apply to Ready, with every model Ready and idle.
    #[arg(long, default_value_t = 50)]
    edits: usize,
    /// An extra argument for the operator (repeatable), e.g. `--operator-arg=--pinpoint-rate=1000`
    /// to see what a setting costs. The report names them.
    #[arg(long = "operator-arg", allow_hyphen_values = true)]
    operator_args: Vec<String>,
    /// Run this operator binary instead of the release build's (a `--profile profiling` build
    /// under `perf record`, say).
    #[arg(long)]
    operator_bin: Option<PathBuf>,
    /// Leave out the install's admission policy that adds the finalizer when a model is created,
    /// so the operator adds it with a write of its own (as on a cluster without the policy).
    #[arg(long)]
    no_finalizer_policy: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Everything one size's runs share.
struct Bench {
    plane: &'static ControlPlane,
    client: Client,
    http: reqwest::Client,
    operator_bin: PathBuf,
    emulator_bin: PathBuf,
    concurrency: usize,
    operator_args: Vec<String>,
    idle: Duration,
    /// Single edits timed under load.
    edits: usize,
    resync: Duration,
    clk_tck: f64,
    /// etcd and kube-apiserver, to measure what each side costs the control plane.
    plane_pids: Vec<u32>,
    /// Whether the install's finalizer policy is bound to the operator runs' namespaces.
    finalizer_policy: bool,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("convergence benchmark failed: {e:#}");
        std::process::exit(1);
    }
}

fn run(mut args: Args) -> Result<()> {
    if args.smoke {
        args.models = vec![20];
        args.idle_seconds = 5;
        args.edits = 5;
    }
    ensure!(args.runs > 0, "--runs must be at least 1");
    ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    ensure!(
        args.models.iter().all(|&n| n > 0),
        "--models takes positive counts"
    );

    build_release()?;
    let release = release_dir()?;
    let operator_bin = args
        .operator_bin
        .clone()
        .unwrap_or_else(|| release.join("recommender-operator"));
    let emulator_bin = release.join("pinpoint-emulator");
    let target_dir = release
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    let json_path = args
        .json
        .clone()
        .unwrap_or_else(|| target_dir.join("convergence.json"));

    let machine = machine();
    let binary = binary_size(&operator_bin)?;
    eprintln!(
        "machine: {} CPUs, {}, {:.1} GiB",
        machine.cpus, machine.cpu_model, machine.memory_gib
    );

    // Blocking harness code (reqwest::blocking) must run outside the async runtime.
    eprintln!("starting the control plane");
    let plane = control_plane();
    plane.install_crd();
    if !args.no_finalizer_policy {
        // The install's policy, bound to the operator runs' namespaces only.
        let (key, value) = OPERATOR_NAMESPACE_LABEL[0];
        support::deploy::bind_finalizer_policy(
            plane,
            "convergence-bench",
            json!({"matchLabels": {key: value}}),
        );
    }
    eprintln!(
        "control plane up: {} (logs in {})",
        plane.server,
        plane.dir.display()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    // The idle phase needs at least one resync; 60 s when there are two minutes to watch.
    let resync = Duration::from_secs((args.idle_seconds / 2).clamp(1, 60));
    let results = runtime.block_on(async {
        let client = kube_client(plane).await?;
        let bench = Bench {
            plane,
            client,
            http: reqwest::Client::new(),
            operator_bin,
            emulator_bin,
            concurrency: args.concurrency,
            operator_args: args.operator_args.clone(),
            idle: Duration::from_secs(args.idle_seconds),
            edits: args.edits,
            resync,
            clk_tck: clk_tck(),
            plane_pids: control_plane_pids(plane),
            finalizer_policy: !args.no_finalizer_policy,
        };
        let mut results = Vec::new();
        for &n in &args.models {
            let mut runs = Vec::new();
            for run in 1..=args.runs {
                eprintln!("\n== {n} models, run {run} of {} ==", args.runs);
                let operator = bench.operator_run(n, run).await?;
                let limit = bench.limit_run(n, run).await?;
                let ratio = operator.converge_s / limit.seconds;
                eprintln!(
                    "{n} models: operator {:.2} s, limit {:.2} s, ratio {ratio:.2}",
                    operator.converge_s, limit.seconds
                );
                runs.push(RunResult {
                    ratio,
                    operator,
                    limit,
                });
            }
            results.push(SizeResult::of(n, runs));
        }
        anyhow::Ok(results)
    })?;
    runtime.shutdown_timeout(Duration::from_secs(5));

    let report = Report {
        machine,
        binary,
        concurrency: args.concurrency,
        operator_args: args.operator_args.clone(),
        idle_seconds: args.idle_seconds,
        resync_seconds: resync.as_secs(),
        apply_parallelism: APPLY_PARALLELISM,
        runs: args.runs,
        finalizer_policy: !args.no_finalizer_policy,
        results,
    };
    println!("{}", report.markdown());
    if let Some(dir) = json_path.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("write {}", json_path.display()))?;
    println!("JSON: {}", json_path.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Building and finding the binaries

fn build_release() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building: cargo build --release --workspace --bins");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--workspace", "--bins"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => bail!(
            "`cargo build --release --workspace --bins` failed ({s}); run it yourself and fix the build first"
        ),
        Err(e) => {
            bail!("cannot run cargo ({e}); run `cargo build --release --workspace --bins` first")
        }
    }
}

/// `target/release`, found from this benchmark's own path (`target/release/deps/convergence-*`).
fn release_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locate the benchmark executable")?;
    let has_bins = |dir: &Path| {
        dir.join("recommender-operator").is_file() && dir.join("pinpoint-emulator").is_file()
    };
    for ancestor in exe.ancestors().skip(1) {
        if ancestor.file_name().is_some_and(|n| n == "release") && has_bins(ancestor) {
            return Ok(ancestor.to_path_buf());
        }
        let release = ancestor.join("release");
        if has_bins(&release) {
            return Ok(release);
        }
    }
    bail!(
        "no release build of recommender-operator and pinpoint-emulator next to {}: run `cargo build --release --workspace --bins` first",
        exe.display()
    )
}

// ---------------------------------------------------------------------------------------------
// The operator's run

#[derive(Serialize, Debug)]
struct OperatorResult {
    /// From the first apply to the last model Ready.
    converge_s: f64,
    /// From the first apply to the last apply answered.
    apply_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    pinpoint_calls: BTreeMap<String, u64>,
    pinpoint_calls_per_model: f64,
    pinpoint_writes_per_model: f64,
    /// Changes to the model objects after their creation (MODIFIED watch events).
    writes: u64,
    writes_per_model: f64,
    max_writes_one_model: u32,
    /// Write requests on the API server during convergence (apiserver_request_total deltas),
    /// the benchmark's own N creates taken out of `recommendermodels APPLY`.
    write_requests: BTreeMap<String, i64>,
    cpu_s_converge: f64,
    cpu_s_total: f64,
    peak_rss_mib: f64,
    idle_seconds: f64,
    idle_writes: u64,
    idle_pinpoint_calls: BTreeMap<String, u64>,
    idle_resyncs: f64,
    idle_reads_per_resync: f64,
    idle_cpu_s: f64,
    /// Single edits with every model Ready and idle, apply to Ready.
    edit: EditTimes,
    edit_pinpoint_calls: BTreeMap<String, u64>,
    restart_s: f64,
    restart_pinpoint_calls: BTreeMap<String, u64>,
    restart_writes: u64,
    restart_peak_rss_mib: f64,
    restart_cpu_s: f64,
    /// CPU seconds of etcd + kube-apiserver from the first apply to all Ready.
    control_plane_cpu_s_converge: f64,
    /// CPU seconds of this benchmark process (applies, watch) from the first apply to all Ready.
    bench_cpu_s_converge: f64,
}

impl Bench {
    async fn operator_run(&self, n: usize, run: usize) -> Result<OperatorResult> {
        let namespace = format!("bench-operator-{n}-{run}");
        self.create_namespace(&namespace, OPERATOR_NAMESPACE_LABEL)
            .await?;
        if self.finalizer_policy {
            // So that every measured model gets the finalizer from the policy.
            let probe = model(&namespace, "policy-probe");
            tokio::task::block_in_place(|| {
                support::deploy::wait_for_finalizer_policy(self.plane, &namespace, &probe)
            });
        }
        let (mut emulator, emulator_url) = self.start_emulator(&namespace, n)?;
        let api = self.models(&namespace);

        let (tracker, watch) = synced_watch(&api).await?;

        let (mut operator, pid) = self.start_operator(&namespace, &emulator_url, None)?;
        let names = model_names(n);
        let metrics_before = tokio::task::block_in_place(|| apiserver_writes(self.plane))?;
        let calls_before = self.calls(&emulator_url).await?;

        // Apply everything and wait for Ready.
        eprintln!("applying {n} models");
        let plane_cpu0 = self.control_plane_cpu();
        let bench_cpu0 = proc_stats(std::process::id(), self.clk_tck)?.cpu_s;
        let t0 = Instant::now();
        let (applied, apply_done) = tokio::join!(
            apply_models(&api, &namespace, &names, APPLY_PARALLELISM, None),
            async {
                // Watch the operator while the applies run.
                wait_all_ready(&tracker, n, &mut operator, t0).await
            }
        );
        let apply_starts = applied?;
        apply_done?;
        let last_apply = apply_starts.values().map(|(_, end)| *end).max();
        let apply_s = last_apply.map_or(0.0, |e| (e - t0).as_secs_f64());
        let converge = {
            let t = lock(&tracker);
            let last_ready = t.ready_at.values().max().copied().unwrap_or(t0);
            let mut latencies: Vec<f64> = names
                .iter()
                .filter_map(|name| {
                    let ready = t.ready_at.get(name)?;
                    let (start, _) = apply_starts.get(name)?;
                    Some(ready.saturating_duration_since(*start).as_secs_f64() * 1000.0)
                })
                .collect();
            latencies.sort_by(f64::total_cmp);
            (
                (last_ready - t0).as_secs_f64(),
                percentile(&latencies, 0.50),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or(0.0),
            )
        };
        let cpu_converge = proc_stats(pid, self.clk_tck)?.cpu_s;
        let plane_cpu_converge = self.control_plane_cpu() - plane_cpu0;
        let bench_cpu_converge = proc_stats(std::process::id(), self.clk_tck)?.cpu_s - bench_cpu0;
        let calls_ready = self.calls(&emulator_url).await?;
        eprintln!(
            "all {n} Ready after {:.2} s (applies answered after {apply_s:.2} s)",
            converge.0
        );

        // Let the last writes land before counting.
        settle(&tracker, Duration::from_secs(3), Duration::from_secs(30)).await;
        let metrics_converged = tokio::task::block_in_place(|| apiserver_writes(self.plane))?;
        let (writes, max_writes_one_model) = {
            let t = lock(&tracker);
            (
                t.total_writes,
                t.writes.values().max().copied().unwrap_or(0),
            )
        };
        let pinpoint_calls = delta(&calls_before, &calls_ready);
        let mut write_requests = delta_i64(&metrics_before, &metrics_converged);
        if let Some(v) = write_requests.get_mut("recommendermodels APPLY") {
            *v -= n as i64;
        }
        write_requests.retain(|_, v| *v != 0);

        // Single edits under load: every model Ready and idle, one edit at a time.
        eprintln!("{} single edits, one at a time", self.edits);
        let edit_calls0 = self.calls(&emulator_url).await?;
        let edit_ms = edit_each(&api, &namespace, &names, self.edits, &tracker, |_| async {
            Ok(())
        })
        .await?;
        let edit_calls = delta(&edit_calls0, &self.calls(&emulator_url).await?);
        settle(&tracker, Duration::from_secs(3), Duration::from_secs(30)).await;
        let calls_converged = self.calls(&emulator_url).await?;

        // Idle.
        eprintln!("idle for {} s", self.idle.as_secs());
        let idle_cpu0 = proc_stats(pid, self.clk_tck)?.cpu_s;
        let idle_writes0 = lock(&tracker).total_writes;
        let idle_start = Instant::now();
        tokio::time::sleep(self.idle).await;
        ensure!(
            operator.is_running(),
            "the operator exited while idle:\n{}",
            tail(&operator.output(), 60)
        );
        let idle_seconds = idle_start.elapsed().as_secs_f64();
        let calls_idle = self.calls(&emulator_url).await?;
        let idle_writes = lock(&tracker).total_writes - idle_writes0;
        let idle_calls = delta(&calls_converged, &calls_idle);
        let idle_resyncs = idle_seconds / self.resync.as_secs_f64();
        let idle_reads = reads(&idle_calls) as f64;
        let stats = proc_stats(pid, self.clk_tck)?;
        let idle_cpu_s = stats.cpu_s - idle_cpu0;

        // Restart.
        eprintln!("restarting the operator");
        let stats_before_restart = proc_stats(pid, self.clk_tck)?;
        tokio::task::block_in_place(|| operator.stop());
        let restart_writes0 = lock(&tracker).total_writes;
        let calls_before_restart = self.calls(&emulator_url).await?;
        let restart_t0 = Instant::now();
        let (mut restarted, restarted_pid) =
            self.start_operator(&namespace, &emulator_url, Some(pid))?;
        let restart_deadline = Duration::from_secs(60) + Duration::from_millis(300 * n as u64);
        loop {
            let reconciled = count_reconciled(&restarted.output());
            if reconciled >= n {
                break;
            }
            ensure!(
                restarted.is_running(),
                "the restarted operator exited:\n{}",
                tail(&restarted.output(), 60)
            );
            ensure!(
                restart_t0.elapsed() < restart_deadline,
                "after {restart_deadline:?} the restarted operator logged {reconciled} reconciles of {n} models"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let restart_s = restart_t0.elapsed().as_secs_f64();
        let calls_after_restart = self.calls(&emulator_url).await?;
        let restart_stats = proc_stats(restarted_pid, self.clk_tck)?;
        let restart_writes = lock(&tracker).total_writes - restart_writes0;
        tokio::task::block_in_place(|| {
            restarted.stop();
            emulator.stop();
        });
        watch.abort();

        let per = |x: f64| x / n as f64;
        let total_calls: u64 = pinpoint_calls.values().sum();
        let pinpoint_writes: u64 = [CREATE, UPDATE, DELETE]
            .iter()
            .map(|op| pinpoint_calls.get(*op).copied().unwrap_or(0))
            .sum();
        Ok(OperatorResult {
            converge_s: converge.0,
            apply_s,
            p50_ms: converge.1,
            p99_ms: converge.2,
            max_ms: converge.3,
            pinpoint_calls_per_model: per(total_calls as f64),
            pinpoint_writes_per_model: per(pinpoint_writes as f64),
            pinpoint_calls,
            writes,
            writes_per_model: per(writes as f64),
            max_writes_one_model,
            write_requests,
            cpu_s_converge: cpu_converge,
            cpu_s_total: stats_before_restart.cpu_s,
            peak_rss_mib: stats_before_restart.hwm_kib as f64 / 1024.0,
            idle_seconds,
            idle_writes,
            idle_pinpoint_calls: idle_calls,
            idle_resyncs,
            idle_reads_per_resync: idle_reads / idle_resyncs,
            idle_cpu_s,
            edit: EditTimes::of(edit_ms),
            edit_pinpoint_calls: edit_calls,
            restart_s,
            restart_pinpoint_calls: delta(&calls_before_restart, &calls_after_restart),
            restart_writes,
            restart_peak_rss_mib: restart_stats.hwm_kib as f64 / 1024.0,
            restart_cpu_s: restart_stats.cpu_s,
            control_plane_cpu_s_converge: plane_cpu_converge,
            bench_cpu_s_converge: bench_cpu_converge,
        })
    }

    /// Starts the operator for `namespace`; returns it and the PID of the operator itself (the
    /// `Process` is its watchdog).
    fn start_operator(
        &self,
        namespace: &str,
        emulator_url: &str,
        previous_pid: Option<u32>,
    ) -> Result<(Process, u32)> {
        let namespace_arg = format!("--namespace={namespace}");
        let mut args = vec![
            "run".to_owned(),
            namespace_arg.clone(),
            format!("--aws-endpoint-url={emulator_url}"),
            "--metrics-bind-address=127.0.0.1:0".into(),
            "--health-probe-bind-address=127.0.0.1:0".into(),
            format!("--resync={}s", self.resync.as_secs()),
            format!("--concurrency={}", self.concurrency),
        ];
        args.extend(self.operator_args.iter().cloned());
        let log = self.plane.dir.join(format!(
            "{namespace}-operator-{}.log",
            if previous_pid.is_some() {
                "restart"
            } else {
                "first"
            }
        ));
        let mut operator = Process::start(
            "recommender-operator",
            &self.operator_bin,
            &args,
            &[
                ("KUBECONFIG", self.plane.kubeconfig.display().to_string()),
                ("AWS_ACCESS_KEY_ID", "test".into()),
                ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ("AWS_REGION", REGION.into()),
                ("AWS_EC2_METADATA_DISABLED", "true".into()),
                ("RUST_LOG", "info,recommender_operator=debug".into()),
            ],
            log,
        );
        tokio::task::block_in_place(|| {
            operator.wait_for_log("controller started", Duration::from_secs(60))
        });
        let pid = find_pid(&self.operator_bin, &namespace_arg, previous_pid)
            .ok_or_else(|| anyhow!("cannot find the operator's PID in /proc"))?;
        Ok((operator, pid))
    }
}

/// Counts the distinct objects in the operator's `reconciled` debug lines.
fn count_reconciled(log: &str) -> usize {
    log.lines()
        .filter_map(|l| l.split(" reconciled object=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

// ---------------------------------------------------------------------------------------------
// The limit

#[derive(Serialize, Debug)]
struct LimitResult {
    /// From the first apply to the last Ready, as the operator is timed.
    seconds: f64,
    /// The Creates and status patches alone, on models applied beforehand.
    work_seconds: f64,
    /// CPU seconds of etcd + kube-apiserver during the timed part.
    control_plane_cpu_s: f64,
    pinpoint_calls: BTreeMap<String, u64>,
    /// The same single edits: the Update and status patch alone after each apply.
    edit: EditTimes,
}

impl Bench {
    /// The limit, timed like the operator: from the first apply until the benchmark's watch sees
    /// the last model Ready. As each apply is answered, one of `concurrency` workers makes the
    /// model's one Create on a fresh emulator and its one status patch; nothing else. The same
    /// applies and the same watch run in both timings, so the ratio compares like with like.
    /// `work_seconds` also times the Creates and patches alone, on models applied beforehand.
    async fn limit_run(&self, n: usize, run: usize) -> Result<LimitResult> {
        let namespace = format!("bench-limit-{n}-{run}");
        self.create_namespace(&namespace, &[]).await?;
        let (mut emulator, emulator_url) = self.start_emulator(&namespace, n)?;
        let api = self.models(&namespace);
        let names = model_names(n);
        let (tracker, watch) = synced_watch(&api).await?;

        let pinpoint = pinpoint_client(&emulator_url);
        eprintln!(
            "limit: applying {n} models, each then created and patched at concurrency {}",
            self.concurrency
        );
        let plane_cpu0 = self.control_plane_cpu();
        let t0 = Instant::now();
        let (applied_tx, applied_rx) = futures::channel::mpsc::unbounded();
        let work = limit_each(applied_rx, &pinpoint, &api, self.concurrency);
        let deadline = Duration::from_secs(60) + Duration::from_millis(200 * n as u64);
        let (applied, done) = tokio::time::timeout(deadline, async {
            tokio::join!(
                apply_models(
                    &api,
                    &namespace,
                    &names,
                    APPLY_PARALLELISM,
                    Some(applied_tx)
                ),
                work
            )
        })
        .await
        .map_err(|_| anyhow!("the limit did not finish {n} models in {deadline:?}"))?;
        applied?;
        let failures: Vec<String> = done
            .into_iter()
            .filter_map(|r| r.err().map(|e| format!("{e:#}")))
            .collect();
        ensure!(
            failures.is_empty(),
            "{} of {n} limit tasks failed, first: {}",
            failures.len(),
            failures[0]
        );
        wait_for(deadline, "the limit's models are all Ready", || {
            lock(&tracker).ready_at.len() >= n
        })
        .await?;
        let seconds = {
            let t = lock(&tracker);
            let last_ready = t.ready_at.values().max().copied().unwrap_or(t0);
            (last_ready - t0).as_secs_f64()
        };
        let control_plane_cpu_s = self.control_plane_cpu() - plane_cpu0;
        let pinpoint_calls = self.calls(&emulator_url).await?;
        // The same single edits: one Update and one status patch each, timed the same way.
        let edit_ms = edit_each(&api, &namespace, &names, self.edits, &tracker, |edit| {
            limit_edit(&pinpoint, &api, &tracker, edit)
        })
        .await?;
        watch.abort();
        tokio::task::block_in_place(|| emulator.stop());
        eprintln!("limit: {seconds:.2} s");

        let work_seconds = self.limit_work_only(n, run).await?;
        Ok(LimitResult {
            seconds,
            edit: EditTimes::of(edit_ms),
            work_seconds,
            control_plane_cpu_s,
            pinpoint_calls,
        })
    }

    /// The Creates and status patches alone, `concurrency` at a time, on models applied
    /// beforehand (untimed) and with no watch running.
    async fn limit_work_only(&self, n: usize, run: usize) -> Result<f64> {
        let namespace = format!("bench-limit-work-{n}-{run}");
        self.create_namespace(&namespace, &[]).await?;
        let (mut emulator, emulator_url) = self.start_emulator(&namespace, n)?;
        let api = self.models(&namespace);
        let names = model_names(n);
        apply_models(&api, &namespace, &names, APPLY_PARALLELISM, None).await?;
        let pinpoint = pinpoint_client(&emulator_url);
        let t0 = Instant::now();
        let results = limit_each(
            futures::stream::iter(names),
            &pinpoint,
            &api,
            self.concurrency,
        )
        .await;
        let seconds = t0.elapsed().as_secs_f64();
        tokio::task::block_in_place(|| emulator.stop());
        for result in results {
            result?;
        }
        eprintln!("limit, work only: {seconds:.2} s");
        Ok(seconds)
    }
}

/// The limit's work for each name the stream yields, `concurrency` at a time.
async fn limit_each(
    names: impl futures::Stream<Item = String>,
    pinpoint: &aws_sdk_pinpoint::Client,
    api: &Api<DynamicObject>,
    concurrency: usize,
) -> Vec<Result<()>> {
    names
        .map(|name| async move { limit_one(pinpoint, api, &name).await })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// A Pinpoint SDK client for the emulator at `url`.
fn pinpoint_client(url: &str) -> aws_sdk_pinpoint::Client {
    let sdk = support::emulator::sdk_config(1);
    aws_sdk_pinpoint::Client::from_conf(
        aws_sdk_pinpoint::config::Builder::from(&sdk)
            .endpoint_url(url)
            .build(),
    )
}

async fn limit_one(
    pinpoint: &aws_sdk_pinpoint::Client,
    api: &Api<DynamicObject>,
    name: &str,
) -> Result<()> {
    use aws_sdk_pinpoint::types::CreateRecommenderConfigurationShape;
    let shape = CreateRecommenderConfigurationShape::builder()
        .name(name)
        .description("Weekly picks")
        .recommendation_provider_uri(CAMPAIGN_ARN)
        .recommendation_provider_role_arn(ROLE_ARN)
        .recommendation_provider_id_type("PINPOINT_ENDPOINT_ID")
        .recommendations_display_name("Top movies")
        .recommendations_per_message(3)
        .build();
    let output = pinpoint
        .create_recommender_configuration()
        .create_recommender_configuration(shape)
        .send()
        .await
        .with_context(|| format!("create the configuration of {name}"))?;
    let published = output
        .recommender_configuration_response()
        .ok_or_else(|| anyhow!("Create returned no configuration for {name}"))?;
    let status = limit_status(
        published.id().unwrap_or_default(),
        1,
        published.creation_date(),
        published.last_modified_date(),
    );
    api.patch_status(
        name,
        &PatchParams::apply(LIMIT_MANAGER).force(),
        &Patch::Apply(&status),
    )
    .await
    .with_context(|| format!("patch the status of {name}"))?;
    Ok(())
}

/// The limit's edit: the one Update and the one status patch an edit needs, nothing else.
async fn limit_edit(
    pinpoint: &aws_sdk_pinpoint::Client,
    api: &Api<DynamicObject>,
    tracker: &Mutex<Tracker>,
    edit: Edit,
) -> Result<()> {
    use aws_sdk_pinpoint::types::UpdateRecommenderConfigurationShape;
    let id = lock(tracker)
        .ids
        .get(&edit.name)
        .cloned()
        .ok_or_else(|| anyhow!("no configuration ID seen for {}", edit.name))?;
    let shape = UpdateRecommenderConfigurationShape::builder()
        .name(&edit.name)
        .description(&edit.description)
        .recommendation_provider_uri(CAMPAIGN_ARN)
        .recommendation_provider_role_arn(ROLE_ARN)
        .recommendation_provider_id_type("PINPOINT_ENDPOINT_ID")
        .recommendations_display_name("Top movies")
        .recommendations_per_message(3)
        .build();
    let output = pinpoint
        .update_recommender_configuration()
        .recommender_id(&id)
        .update_recommender_configuration(shape)
        .send()
        .await
        .with_context(|| format!("update the configuration of {}", edit.name))?;
    let published = output
        .recommender_configuration_response()
        .ok_or_else(|| anyhow!("Update returned no configuration for {}", edit.name))?;
    let status = limit_status(
        &id,
        edit.generation,
        published.creation_date(),
        published.last_modified_date(),
    );
    api.patch_status(
        &edit.name,
        &PatchParams::apply(LIMIT_MANAGER).force(),
        &Patch::Apply(&status),
    )
    .await
    .with_context(|| format!("patch the status of {}", edit.name))?;
    Ok(())
}

/// The status the limit writes: what the operator's says of a published model.
fn limit_status(
    id: &str,
    generation: i64,
    creation_date: Option<&str>,
    last_modified_date: Option<&str>,
) -> Value {
    let now = Time(Timestamp::now());
    let condition = |type_: &str, reason: &str, message: String| Condition {
        type_: type_.to_owned(),
        status: "True".to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: Some(generation),
        last_transition_time: now.clone(),
    };
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": KIND,
        "status": {
            "observedGeneration": generation,
            "configurationId": id,
            "region": REGION,
            "roleArn": ROLE_ARN,
            "creationDate": creation_date,
            "lastModifiedDate": last_modified_date,
            "conditions": [
                condition("Validated", "Valid", "the spec passed every check".into()),
                condition(
                    "Published",
                    "Published",
                    format!("recommender configuration {id} is published in {REGION}"),
                ),
                condition(
                    "Ready",
                    "Ready",
                    "the recommender model is ready to use in messages".into(),
                ),
            ],
        },
    })
}

/// One single edit: the model, its new generation and description.
struct Edit {
    name: String,
    generation: i64,
    description: String,
}

/// `count` single edits one at a time, spread over `names`: each applies a new description, runs
/// `work` (nothing for the operator, which does its own; the limit's Update and status patch),
/// and is timed from the apply until the watch sees the model Ready at the new generation.
async fn edit_each<F, Fut>(
    api: &Api<DynamicObject>,
    namespace: &str,
    names: &[String],
    count: usize,
    tracker: &Mutex<Tracker>,
    work: F,
) -> Result<Vec<f64>>
where
    F: Fn(Edit) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let params = PatchParams::apply(BENCH_MANAGER);
    let mut times = Vec::new();
    let count = count.min(names.len());
    for k in 0..count {
        let name = &names[k * names.len() / count];
        let description = format!("Edited picks {k}");
        let mut object = model(namespace, name);
        object["spec"]["description"] = json!(description);
        let start = Instant::now();
        let applied = api
            .patch(name, &params, &Patch::Apply(&object))
            .await
            .with_context(|| format!("edit {name}"))?;
        let generation = applied.metadata.generation.unwrap_or(0);
        work(Edit {
            name: name.clone(),
            generation,
            description,
        })
        .await?;
        let mut seen = None;
        wait_for(
            Duration::from_secs(120),
            &format!("{name} is Ready at generation {generation}"),
            || {
                seen = lock(tracker)
                    .ready_generation
                    .get(name)
                    .filter(|(g, _)| *g >= generation)
                    .map(|(_, at)| *at);
                seen.is_some()
            },
        )
        .await?;
        let ready = seen.unwrap_or_else(Instant::now);
        times.push(ready.saturating_duration_since(start).as_secs_f64() * 1000.0);
    }
    Ok(times)
}

/// Percentiles of single edits, apply to Ready.
#[derive(Serialize, Debug, Clone, Copy, Default)]
struct EditTimes {
    count: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl EditTimes {
    fn of(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Self {
            count: ms.len(),
            p50_ms: percentile(&ms, 0.50),
            p99_ms: percentile(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// Pinpoint reads: single `Get`s and list pages.
fn reads(calls: &BTreeMap<String, u64>) -> u64 {
    [GET, LIST]
        .iter()
        .map(|op| calls.get(*op).copied().unwrap_or(0))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

async fn kube_client(plane: &ControlPlane) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(&plane.kubeconfig).context("read the kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("load the kubeconfig")?;
    Client::try_from(config).context("build the Kubernetes client")
}

impl Bench {
    fn models(&self, namespace: &str) -> Api<DynamicObject> {
        let gvk = GroupVersionKind::gvk(GROUP, VERSION, KIND);
        let resource = ApiResource::from_gvk_with_plural(&gvk, PLURAL);
        Api::namespaced_with(self.client.clone(), namespace, &resource)
    }

    async fn create_namespace(&self, name: &str, labels: &[(&str, &str)]) -> Result<()> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))?;
        match api.create(&PostParams::default(), &namespace).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                bail!("namespace {name} already exists on this fresh control plane")
            }
            Err(e) => Err(e).with_context(|| format!("create namespace {name}")),
        }
    }

    /// A fresh emulator whose quota fits `n` models.
    fn start_emulator(&self, label: &str, n: usize) -> Result<(Process, String)> {
        let mut emulator = Process::start(
            "pinpoint-emulator",
            &self.emulator_bin,
            &[
                "--listen".into(),
                "127.0.0.1:0".into(),
                format!("--max-configurations={}", n + 100),
                "--seed".into(),
                format!(
                    "{}/examples/emulator/account.json",
                    env!("CARGO_MANIFEST_DIR")
                ),
            ],
            &[],
            self.plane.dir.join(format!("{label}-emulator.log")),
        );
        let line = tokio::task::block_in_place(|| {
            emulator.wait_for_log("listening on http://", Duration::from_secs(30))
        });
        let url = line.trim().trim_start_matches("listening on ").to_owned();
        Ok((emulator, url))
    }

    /// The emulator's call counts per operation.
    async fn calls(&self, url: &str) -> Result<BTreeMap<String, u64>> {
        let response = self
            .http
            .get(format!("{url}/_emulator/calls"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .context("ask the emulator for its calls")?;
        response
            .json()
            .await
            .context("the emulator's calls are JSON")
    }
}

fn model_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("model-{i:05}")).collect()
}

/// A valid model, the README's example.
fn model(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "description": "Weekly picks",
            "role": {"arn": ROLE_ARN},
            "campaignArn": CAMPAIGN_ARN,
            "identifier": "EndpointId",
            "recommendationsPerMessage": 3,
            "processing": {"modelValue": {"displayName": "Top movies"}},
            "deletionPolicy": "Delete",
        },
    })
}

/// Server-side applies every model, `parallel` requests at a time; returns when each apply was
/// sent and answered.
async fn apply_models(
    api: &Api<DynamicObject>,
    namespace: &str,
    names: &[String],
    parallel: usize,
    applied: Option<futures::channel::mpsc::UnboundedSender<String>>,
) -> Result<HashMap<String, (Instant, Instant)>> {
    let params = PatchParams::apply(BENCH_MANAGER);
    let results: Vec<_> = futures::stream::iter(names.iter().cloned())
        .map(|name| {
            let object = model(namespace, &name);
            let (api, params, applied) = (api.clone(), params.clone(), applied.clone());
            async move {
                let start = Instant::now();
                let result = api.patch(&name, &params, &Patch::Apply(&object)).await;
                if let (Ok(_), Some(applied)) = (&result, &applied) {
                    // The receiver lives until every apply is answered.
                    let _ = applied.unbounded_send(name.clone());
                }
                (name, start, Instant::now(), result)
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut times = HashMap::new();
    let mut failures = Vec::new();
    for (name, start, end, result) in results {
        match result {
            Ok(_) => {
                times.insert(name, (start, end));
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    ensure!(
        failures.is_empty(),
        "{} of {} applies failed, first: {}",
        failures.len(),
        names.len(),
        failures[0]
    );
    Ok(times)
}

/// What the benchmark's watch saw.
#[derive(Default)]
struct Tracker {
    synced: bool,
    /// The last resourceVersion of each object; a new one is one write.
    versions: HashMap<String, String>,
    writes: HashMap<String, u32>,
    total_writes: u64,
    last_write: Option<Instant>,
    /// When each object was first seen Ready.
    ready_at: HashMap<String, Instant>,
    /// The newest generation each object was seen Ready at, and when.
    ready_generation: HashMap<String, (i64, Instant)>,
    /// Each object's configuration ID, from its status.
    ids: HashMap<String, String>,
    watch_errors: u64,
}

fn spawn_watch(
    api: Api<DynamicObject>,
    tracker: Arc<Mutex<Tracker>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let now = Instant::now();
            match event {
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    observe(&mut lock(&tracker), &object, now);
                }
                Ok(watcher::Event::InitDone) => lock(&tracker).synced = true,
                Ok(_) => {}
                Err(e) => {
                    lock(&tracker).watch_errors += 1;
                    eprintln!("watch error (retrying): {e}");
                }
            }
        }
    })
}

/// The benchmark's watch on `api`, once it has listed what is there.
async fn synced_watch(
    api: &Api<DynamicObject>,
) -> Result<(Arc<Mutex<Tracker>>, tokio::task::JoinHandle<()>)> {
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    let watch = spawn_watch(api.clone(), tracker.clone());
    wait_for(
        Duration::from_secs(30),
        "the benchmark's watch is synced",
        || lock(&tracker).synced,
    )
    .await?;
    Ok((tracker, watch))
}

fn observe(t: &mut Tracker, object: &DynamicObject, now: Instant) {
    let name = object.metadata.name.clone().unwrap_or_default();
    let version = object.metadata.resource_version.clone().unwrap_or_default();
    // A relist repeats objects with their current version: not a write.
    if let Some(previous) = t.versions.insert(name.clone(), version.clone())
        && previous != version
    {
        *t.writes.entry(name.clone()).or_default() += 1;
        t.total_writes += 1;
        t.last_write = Some(now);
    }
    if let Some(id) = object.data["status"]["configurationId"].as_str() {
        t.ids.insert(name.clone(), id.to_owned());
    }
    if is_ready(&object.data) {
        let generation = object.data["status"]["observedGeneration"]
            .as_i64()
            .unwrap_or(0);
        let newer = t
            .ready_generation
            .get(&name)
            .is_none_or(|(g, _)| *g < generation);
        if newer {
            t.ready_generation.insert(name.clone(), (generation, now));
        }
        t.ready_at.entry(name).or_insert(now);
    }
}

fn is_ready(data: &Value) -> bool {
    data["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

async fn wait_all_ready(
    tracker: &Mutex<Tracker>,
    n: usize,
    operator: &mut Process,
    t0: Instant,
) -> Result<()> {
    let timeout = Duration::from_secs(120) + Duration::from_millis(500 * n as u64);
    let mut reported = Instant::now();
    loop {
        let ready = lock(tracker).ready_at.len();
        if ready >= n {
            return Ok(());
        }
        ensure!(
            operator.is_running(),
            "the operator exited with {ready} of {n} Ready:\n{}",
            tail(&operator.output(), 60)
        );
        ensure!(
            t0.elapsed() < timeout,
            "only {ready} of {n} models Ready after {timeout:?}"
        );
        if reported.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {ready}/{n} Ready after {:.0} s",
                t0.elapsed().as_secs_f64()
            );
            reported = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no write has been seen for `quiet`, at most `limit`.
async fn settle(tracker: &Mutex<Tracker>, quiet: Duration, limit: Duration) {
    let start = Instant::now();
    loop {
        let last = lock(tracker).last_write;
        let quiet_since = last.map_or(start, |l| l.max(start));
        if quiet_since.elapsed() >= quiet || start.elapsed() >= limit {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_for(timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !ready() {
        ensure!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Write requests per `RESOURCE[/SUBRESOURCE] VERB` from the API server's
/// `apiserver_request_total`, for the models and events.
fn apiserver_writes(plane: &ControlPlane) -> Result<BTreeMap<String, i64>> {
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

// ---------------------------------------------------------------------------------------------
// Processes and the machine

/// The PID of the process running `program` with `marker` among its arguments (not the
/// watchdog, whose argv[0] is bash), other than `exclude`.
fn find_pid(program: &Path, marker: &str, exclude: Option<u32>) -> Option<u32> {
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

struct ProcStats {
    cpu_s: f64,
    hwm_kib: u64,
}

/// CPU seconds (utime + stime) and peak RSS (VmHWM) of a live process.
fn proc_stats(pid: u32, clk_tck: f64) -> Result<ProcStats> {
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
fn control_plane_pids(plane: &ControlPlane) -> Vec<u32> {
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
    fn control_plane_cpu(&self) -> f64 {
        self.plane_pids
            .iter()
            .filter_map(|pid| proc_stats(*pid, self.clk_tck).ok())
            .map(|s| s.cpu_s)
            .sum()
    }
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[derive(Serialize, Debug)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    memory_gib: f64,
    kernel: String,
}

fn machine() -> Machine {
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
struct Binary {
    path: String,
    bytes: u64,
    target_bytes: u64,
}

fn binary_size(path: &Path) -> Result<Binary> {
    let bytes = std::fs::metadata(path)
        .with_context(|| format!("stat {}", path.display()))?
        .len();
    Ok(Binary {
        path: path.display().to_string(),
        bytes,
        target_bytes: BINARY_TARGET_BYTES,
    })
}

// ---------------------------------------------------------------------------------------------
// Numbers and the report

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0).min(*v)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn delta_i64(
    before: &BTreeMap<String, i64>,
    after: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .collect()
}

/// `Create 1.00, Get 0.02` (per model when `per` is N, totals when 1).
fn breakdown(calls: &BTreeMap<String, u64>, per: f64) -> String {
    if calls.is_empty() {
        return "none".into();
    }
    calls
        .iter()
        .map(|(op, v)| {
            let short = op
                .trim_end_matches("RecommenderConfigurations")
                .trim_end_matches("RecommenderConfiguration");
            let short = if op.ends_with("Configurations") {
                format!("{short}All")
            } else {
                short.to_owned()
            };
            if per == 1.0 {
                format!("{short} {v}")
            } else {
                format!("{short} {:.2}", *v as f64 / per)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Serialize, Debug)]
struct RunResult {
    /// Operator convergence / limit.
    ratio: f64,
    operator: OperatorResult,
    limit: LimitResult,
}

#[derive(Serialize, Debug)]
struct SizeResult {
    models: usize,
    median_ratio: f64,
    min_ratio: f64,
    max_ratio: f64,
    /// The run with the median ratio, whose numbers fill the table.
    median_run: usize,
    runs: Vec<RunResult>,
}

impl SizeResult {
    fn of(models: usize, runs: Vec<RunResult>) -> Self {
        let mut order: Vec<usize> = (0..runs.len()).collect();
        order.sort_by(|a, b| runs[*a].ratio.total_cmp(&runs[*b].ratio));
        let median_run = order[(order.len() - 1) / 2];
        let ratio = |i: usize| runs[order[i]].ratio;
        Self {
            models,
            median_ratio: runs[median_run].ratio,
            min_ratio: ratio(0),
            max_ratio: ratio(order.len() - 1),
            median_run,
            runs,
        }
    }

    fn median(&self) -> &RunResult {
        &self.runs[self.median_run]
    }
}

#[derive(Serialize, Debug)]
struct Report {
    machine: Machine,
    binary: Binary,
    concurrency: usize,
    /// Extra operator arguments (none: the defaults, as shipped).
    operator_args: Vec<String>,
    idle_seconds: u64,
    resync_seconds: u64,
    apply_parallelism: usize,
    runs: usize,
    finalizer_policy: bool,
    results: Vec<SizeResult>,
}

impl Report {
    fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "\nMachine: {} CPUs ({}), {:.1} GiB RAM, Linux {}. Operator and limit concurrency {}; operator --resync={}s{}; idle {} s.\n\n",
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.memory_gib,
            self.machine.kernel,
            self.concurrency,
            self.resync_seconds,
            if self.operator_args.is_empty() {
                String::new()
            } else {
                format!(" {}", self.operator_args.join(" "))
            },
            self.idle_seconds,
        ));
        out.push_str(&format!(
            "Each size ran {} time(s); the ratio is the median (min-max), and the other columns are the median run's. One emulator account per run, its quota raised to the model count plus 100 (Pinpoint's is 100 per Region).\n\n",
            self.runs
        ));
        out.push_str("| models | ratio median (spread) | converge s | limit s | p50 / p99 ms | Pinpoint writes/model | API writes/model | peak RSS MiB | CPU s | idle writes | idle reads/resync | restart reads | restart s | edit p50 / p99 ms | limit edit p50 / p99 ms |\n");
        out.push_str(
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.results {
            let m = r.median();
            let o = &m.operator;
            out.push_str(&format!(
                "| {} | {:.2} ({:.2}-{:.2}) | {:.2} | {:.2} | {:.0} / {:.0} | {:.2} | {:.2} (max {}) | {:.1} | {:.2} | {} | {:.1} | {} | {:.2} | {:.0} / {:.0} | {:.0} / {:.0} |\n",
                r.models,
                r.median_ratio,
                r.min_ratio,
                r.max_ratio,
                o.converge_s,
                m.limit.seconds,
                o.p50_ms,
                o.p99_ms,
                o.pinpoint_writes_per_model,
                o.writes_per_model,
                o.max_writes_one_model,
                o.peak_rss_mib,
                o.cpu_s_converge,
                o.idle_writes,
                o.idle_reads_per_resync,
                reads(&o.restart_pinpoint_calls),
                o.restart_s,
                o.edit.p50_ms,
                o.edit.p99_ms,
                m.limit.edit.p50_ms,
                m.limit.edit.p99_ms,
            ));
        }
        out.push_str(
            "\nratio: operator convergence / the limit's; converge: first apply to last Ready (includes the benchmark's own applies); limit: the same applies, then one Create and one status patch per model as each apply is answered, nothing else, timed the same way; p50/p99: per model, apply to Ready; writes: changes to the model objects after creation (watch MODIFIED); CPU s: operator CPU until all Ready; peak RSS: VmHWM through convergence, edits and idle; idle reads/resync: Pinpoint reads (single Gets plus list pages) per resync period while idle; restart reads: the same for a restart until every model is reconciled; edit: single edits one at a time with every model Ready and idle, apply to Ready at the new generation; limit edit: the same edits with one Update and one status patch each.\n",
        );
        for r in &self.results {
            let ratios: Vec<String> = r
                .runs
                .iter()
                .map(|run| format!("{:.2}", run.ratio))
                .collect();
            let m = r.median();
            let o = &m.operator;
            let requests: Vec<String> = o
                .write_requests
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            out.push_str(&format!(
                "\n{} models: ratios {}; Pinpoint calls/model {:.2} ({}); idle calls {}; restart calls {}; edit calls {}; applies answered after {:.2} s; API write requests during convergence (besides the benchmark's creates): {}; CPU s incl. idle {:.2}; restarted operator peak RSS {:.1} MiB, CPU {:.2} s; writes during restart {}; etcd + kube-apiserver CPU s: {:.2} during convergence, {:.2} during the limit; the benchmark's own CPU s during convergence {:.2}; the limit's Creates and patches alone (models applied beforehand, no watch) {:.2} s.",
                r.models,
                ratios.join(", "),
                o.pinpoint_calls_per_model,
                breakdown(&o.pinpoint_calls, r.models as f64),
                breakdown(&o.idle_pinpoint_calls, 1.0),
                breakdown(&o.restart_pinpoint_calls, 1.0),
                breakdown(&o.edit_pinpoint_calls, 1.0),
                o.apply_s,
                if requests.is_empty() { "none".into() } else { requests.join(", ") },
                o.cpu_s_total,
                o.restart_peak_rss_mib,
                o.restart_cpu_s,
                o.restart_writes,
                o.control_plane_cpu_s_converge,
                m.limit.control_plane_cpu_s,
                o.bench_cpu_s_converge,
                m.limit.work_seconds,
            ));
        }
        out.push('\n');

        let binary_mb = self.binary.bytes as f64 / 1e6;
        out.push_str(&format!(
            "\nStripped release binary: {:.1} MB ({} bytes, {:.1} MiB), target at most {:.0} MB: {}.\n",
            binary_mb,
            self.binary.bytes,
            self.binary.bytes as f64 / 1024.0 / 1024.0,
            self.binary.target_bytes as f64 / 1e6,
            if self.binary.bytes <= self.binary.target_bytes {
                "met"
            } else {
                "MISSED"
            }
        ));

        out.push_str("\nTargets:\n");
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let api_writes = if self.finalizer_policy { 1 } else { 2 };
        for r in &self.results {
            let m = r.median();
            let o = &m.operator;
            let n = r.models as f64;
            let ratio_target = if r.models >= 10_000 { 1.3 } else { 1.2 };
            let reads_target = n / 50.0 + 5.0;
            let restart_reads = reads(&o.restart_pinpoint_calls) as f64;
            out.push_str(&format!(
                "- {} models: median ratio {:.2} (≤ {ratio_target}) {}; Pinpoint writes/model {:.2} (1) {}; API writes for one model at most {} (≤ {api_writes}) {}; idle writes {} (0) {}; idle reads/resync {:.1} (≤ {reads_target:.0}) {}; restart reads {restart_reads:.0} (≤ {reads_target:.0}) {}; peak RSS {:.1} MiB (≤ {RSS_TARGET_MIB}) {}; edit p50 {:.0} ms (≤ 300) {}; edit p99 {:.0} ms (≤ 2 x the limit's {:.0}) {}\n",
                r.models,
                r.median_ratio,
                verdict(r.median_ratio <= ratio_target),
                o.pinpoint_writes_per_model,
                verdict(o.pinpoint_writes_per_model == 1.0),
                o.max_writes_one_model,
                verdict(o.max_writes_one_model <= api_writes),
                o.idle_writes,
                verdict(o.idle_writes == 0),
                o.idle_reads_per_resync,
                verdict(o.idle_reads_per_resync <= reads_target),
                verdict(restart_reads <= reads_target),
                o.peak_rss_mib,
                verdict(o.peak_rss_mib <= RSS_TARGET_MIB),
                o.edit.p50_ms,
                verdict(o.edit.p50_ms <= 300.0),
                o.edit.p99_ms,
                m.limit.edit.p99_ms,
                verdict(o.edit.p99_ms <= 2.0 * m.limit.edit.p99_ms),
            ));
        }
        out
    }
}
