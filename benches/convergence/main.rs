//! The convergence benchmark (issue 7): the operator against the real API server and the
//! emulator, measured side by side with the limit, a minimal client that does only the
//! unavoidable work per model.
//!
//! ```sh
//! cargo bench --bench convergence -- --smoke                 # 20 models, 5 s idle
//! cargo bench --bench convergence -- --models 100,1000,5000  # the issue's sizes
//! cargo bench --bench convergence -- --models 5000 --accounts 50  # 100 models per account
//! ```
//!
//! Options: `--models N,N,...` (default 100,1000), `--concurrency C` (default 8, for the
//! operator and the limit), `--idle-seconds S` (default 120), `--json PATH` (default
//! `target/convergence.json`), `--smoke` (20 models, 5 s idle), `--accounts N` (default 1).
//!
//! It builds the release binaries itself (`cargo build --release --workspace --bins`) and needs
//! the pinned tools of `scripts/tools.sh`. One control plane is shared by every size; each size
//! gets fresh namespaces, a fresh emulator for the operator and another for the limit, and its
//! own operator process. Every process runs under the test harness's watchdog, so nothing
//! outlives the benchmark.
//!
//! Accounts (issue 18). With `--accounts 1` (the default) every model is in one namespace and
//! one emulator account, whose quota is raised to the model count plus 100. With `--accounts N`
//! the emulator holds N further accounts, each seeded with the examples' campaigns and roles and
//! a role the operator may assume, and keeps Pinpoint's quota of 100 configurations per account
//! and Region; the models are dealt round-robin over N namespaces, one per account, each bound to
//! its account's role in the operator's tenancy file (`--tenancy-config`). A size that would put
//! more than 100 models in an account is refused. The limit publishes into the same accounts,
//! each with the account's own key.
//!
//! The operator's default client-side rate (50 Pinpoint calls a second per account) is what it
//! ships with, not what the emulator needs: to compare with the limit, raise it, as the README's
//! table was made (`--operator-arg=--pinpoint-rate=100000 --operator-arg=--pinpoint-burst=100000`).
//!
//! The modules: `workload` (the models, their namespaces and accounts, the applies), `accounts`
//! (the emulator's accounts, their seeds and the tenancy file), `emulator`, `watch` (the
//! benchmark's own watch, which marks models Ready), `operator` and `limit` (the two runs),
//! `edits` (single edits timed one at a time), `measure` (processes, RSS and CPU, the API
//! server's write counts, the machine), `numbers`, `report` and `binaries` (the release build).

#[path = "../../tests/support/mod.rs"]
mod support;

mod accounts;
mod bench;
mod binaries;
mod edits;
mod emulator;
mod limit;
mod measure;
mod numbers;
mod operator;
mod report;
mod watch;
mod workload;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result, ensure};
use clap::Parser;
use serde_json::json;

use crate::{
    bench::Bench,
    report::{Report, RunResult, SizeResult},
    support::cluster::control_plane,
    workload::{APPLY_PARALLELISM, OPERATOR_NAMESPACE_LABEL},
};

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
    /// Spread each size's models over this many emulator accounts, one namespace per account
    /// bound to the account's role in the operator's tenancy file; each account keeps Pinpoint's
    /// quota of 100 configurations per Region. 1: one account, its quota raised above the count.
    #[arg(long, default_value_t = 1)]
    accounts: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
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
    accounts::check_spread(&args.models, args.accounts)?;

    binaries::build_release()?;
    let release = binaries::release_dir()?;
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

    let machine = measure::machine();
    let binary = measure::binary_size(&operator_bin)?;
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
    let accounts = accounts::make(&plane.dir, args.accounts)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    // The idle phase needs at least one resync; 60 s when there are two minutes to watch.
    let resync = Duration::from_secs((args.idle_seconds / 2).clamp(1, 60));
    let results = runtime.block_on(async {
        let client = workload::kube_client(plane).await?;
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
            clk_tck: measure::clk_tck(),
            plane_pids: measure::control_plane_pids(plane),
            finalizer_policy: !args.no_finalizer_policy,
            accounts,
        };
        let mut results = Vec::new();
        for &n in &args.models {
            let mut runs = Vec::new();
            for run in 1..=args.runs {
                eprintln!(
                    "\n== {}, run {run} of {} ==",
                    accounts::models_phrase(n, args.accounts),
                    args.runs
                );
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
        accounts: args.accounts,
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
