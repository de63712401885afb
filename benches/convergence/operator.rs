//! The operator's run: apply every model and wait for all Ready, single edits, an idle period
//! and a restart, each measured.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, ensure};
use recommender_operator::lock::lock;
use serde::Serialize;

use crate::{
    accounts::{self, REGION},
    bench::Bench,
    edits::edit_each,
    measure::{apiserver_writes, find_pid, proc_stats},
    numbers::{CREATE, DELETE, EditTimes, UPDATE, delta, delta_i64, percentile, reads},
    support::{
        self,
        cluster::{Process, tail},
    },
    watch::{settle, synced_watch, wait_all_ready},
    workload::{APPLY_PARALLELISM, OPERATOR_NAMESPACE_LABEL, Spread, apply_models, model},
};

#[derive(Serialize, Debug)]
pub struct OperatorResult {
    /// From the first apply to the last model Ready.
    pub converge_s: f64,
    /// From the first apply to the last apply answered.
    pub apply_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub pinpoint_calls: BTreeMap<String, u64>,
    pub pinpoint_calls_per_model: f64,
    pub pinpoint_writes_per_model: f64,
    /// Changes to the model objects after their creation (MODIFIED watch events).
    pub writes: u64,
    pub writes_per_model: f64,
    pub max_writes_one_model: u32,
    /// Write requests on the API server during convergence (apiserver_request_total deltas),
    /// the benchmark's own N creates taken out of `recommendermodels APPLY`.
    pub write_requests: BTreeMap<String, i64>,
    pub cpu_s_converge: f64,
    pub cpu_s_total: f64,
    pub peak_rss_mib: f64,
    pub idle_seconds: f64,
    pub idle_writes: u64,
    pub idle_pinpoint_calls: BTreeMap<String, u64>,
    pub idle_resyncs: f64,
    pub idle_reads_per_resync: f64,
    pub idle_cpu_s: f64,
    /// Single edits with every model Ready and idle, apply to Ready.
    pub edit: EditTimes,
    pub edit_pinpoint_calls: BTreeMap<String, u64>,
    pub restart_s: f64,
    pub restart_pinpoint_calls: BTreeMap<String, u64>,
    pub restart_writes: u64,
    pub restart_peak_rss_mib: f64,
    pub restart_cpu_s: f64,
    /// CPU seconds of etcd + kube-apiserver from the first apply to all Ready.
    pub control_plane_cpu_s_converge: f64,
    /// CPU seconds of this benchmark process (applies, watch) from the first apply to all Ready.
    pub bench_cpu_s_converge: f64,
}

impl Bench {
    pub async fn operator_run(&self, n: usize, run: usize) -> Result<OperatorResult> {
        let label = format!("bench-operator-{n}-{run}");
        let spread = self.spread(&label, n, OPERATOR_NAMESPACE_LABEL).await?;
        if self.finalizer_policy {
            // So that every measured model gets the finalizer from the policy.
            for tenant in &spread.tenants {
                let probe = model(&tenant.namespace, "policy-probe", tenant.account_id());
                tokio::task::block_in_place(|| {
                    support::deploy::wait_for_finalizer_policy(
                        self.plane,
                        &tenant.namespace,
                        &probe,
                    )
                });
            }
        }
        let (mut emulator, emulator_url) = self.start_emulator(&label, n)?;
        let tenancy = self.write_tenancy(&spread)?;

        let (tracker, watch) = synced_watch(spread.tenants.iter().map(|t| &t.api)).await?;

        let (mut operator, pid) =
            self.start_operator(&spread, &emulator_url, tenancy.as_deref(), None)?;
        let metrics_before = tokio::task::block_in_place(|| apiserver_writes(self.plane))?;
        let calls_before = self.calls(&emulator_url).await?;

        // Apply everything and wait for Ready.
        eprintln!(
            "applying {}",
            accounts::models_phrase(n, spread.tenants.len())
        );
        let plane_cpu0 = self.control_plane_cpu();
        let bench_cpu0 = proc_stats(std::process::id(), self.clk_tck)?.cpu_s;
        let t0 = Instant::now();
        let (applied, apply_done) =
            tokio::join!(apply_models(&spread, APPLY_PARALLELISM, None), async {
                // Watch the operator while the applies run.
                wait_all_ready(&tracker, n, &mut operator, t0).await
            });
        let apply_starts = applied?;
        apply_done?;
        let last_apply = apply_starts.values().map(|(_, end)| *end).max();
        let apply_s = last_apply.map_or(0.0, |e| (e - t0).as_secs_f64());
        let converge = {
            let t = lock(&tracker);
            let last_ready = t.ready_at.values().max().copied().unwrap_or(t0);
            let mut latencies: Vec<f64> = spread
                .models
                .iter()
                .filter_map(|placed| {
                    let ready = t.ready_at.get(&placed.name)?;
                    let (start, _) = apply_starts.get(&placed.name)?;
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
        let edit_ms = edit_each(&spread, self.edits, &tracker, |_| async { Ok(()) }).await?;
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
            self.start_operator(&spread, &emulator_url, tenancy.as_deref(), Some(pid))?;
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

    /// The operator's tenancy file for `spread`, binding each namespace to its account's role;
    /// none when every model is in the operator's own account.
    fn write_tenancy(&self, spread: &Spread) -> Result<Option<PathBuf>> {
        let bindings: Vec<_> = spread
            .tenants
            .iter()
            .filter_map(|t| Some((t.namespace.as_str(), t.account.as_ref()?)))
            .collect();
        if bindings.is_empty() {
            return Ok(None);
        }
        let path = self
            .plane
            .dir
            .join(format!("{}-tenancy.yaml", spread.label));
        std::fs::write(&path, accounts::tenancy_file(bindings))
            .with_context(|| format!("write {}", path.display()))?;
        Ok(Some(path))
    }

    /// Starts the operator for the namespaces of `spread`; returns it and the PID of the
    /// operator itself (the `Process` is its watchdog).
    fn start_operator(
        &self,
        spread: &Spread,
        emulator_url: &str,
        tenancy: Option<&Path>,
        previous_pid: Option<u32>,
    ) -> Result<(Process, u32)> {
        let namespaces: Vec<&str> = spread
            .tenants
            .iter()
            .map(|t| t.namespace.as_str())
            .collect();
        let namespace_arg = format!("--namespace={}", namespaces.join(","));
        let mut args = vec![
            "run".to_owned(),
            namespace_arg.clone(),
            format!("--aws-endpoint-url={emulator_url}"),
            "--metrics-bind-address=127.0.0.1:0".into(),
            "--health-probe-bind-address=127.0.0.1:0".into(),
            format!("--resync={}s", self.resync.as_secs()),
            format!("--concurrency={}", self.concurrency),
        ];
        if let Some(path) = tenancy {
            args.push(format!("--tenancy-config={}", path.display()));
        }
        args.extend(self.operator_args.iter().cloned());
        let log = self.plane.dir.join(format!(
            "{}-operator-{}.log",
            spread.label,
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
