//! The report: each size's runs, the median run, and the markdown table and targets printed at
//! the end (the JSON report is the same structures).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{
    accounts::{each, models_cell, models_phrase},
    limit::LimitResult,
    measure::{Binary, Machine},
    numbers::reads,
    operator::OperatorResult,
};

const RSS_TARGET_MIB: f64 = 64.0;

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
pub struct RunResult {
    /// Operator convergence / limit.
    pub ratio: f64,
    pub operator: OperatorResult,
    pub limit: LimitResult,
}

#[derive(Serialize, Debug)]
pub struct SizeResult {
    models: usize,
    median_ratio: f64,
    min_ratio: f64,
    max_ratio: f64,
    /// The run with the median ratio, whose numbers fill the table.
    median_run: usize,
    runs: Vec<RunResult>,
}

impl SizeResult {
    pub fn of(models: usize, runs: Vec<RunResult>) -> Self {
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
pub struct Report {
    pub machine: Machine,
    pub binary: Binary,
    pub concurrency: usize,
    /// Extra operator arguments (none: the defaults, as shipped).
    pub operator_args: Vec<String>,
    pub idle_seconds: u64,
    pub resync_seconds: u64,
    pub apply_parallelism: usize,
    pub runs: usize,
    pub finalizer_policy: bool,
    /// The accounts each size's models were spread over (1: the default account alone).
    pub accounts: usize,
    pub results: Vec<SizeResult>,
}

impl Report {
    pub fn markdown(&self) -> String {
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
            "Each size ran {} time(s); the ratio is the median (min-max), and the other columns are the median run's. {}\n\n",
            self.runs,
            self.accounts_sentence(),
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
                models_cell(r.models, self.accounts),
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
                "\n{}: ratios {}; Pinpoint calls/model {:.2} ({}); idle calls {}; restart calls {}; edit calls {}; applies answered after {:.2} s; API write requests during convergence (besides the benchmark's creates): {}; CPU s incl. idle {:.2}; restarted operator peak RSS {:.1} MiB, CPU {:.2} s; writes during restart {}; etcd + kube-apiserver CPU s: {:.2} during convergence, {:.2} during the limit; the benchmark's own CPU s during convergence {:.2}; the limit's Creates and patches alone (models applied beforehand, no watch) {:.2} s.",
                models_phrase(r.models, self.accounts),
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
                "- {}: median ratio {:.2} (≤ {ratio_target}) {}; Pinpoint writes/model {:.2} (1) {}; API writes for one model at most {} (≤ {api_writes}) {}; idle writes {} (0) {}; idle reads/resync {:.1} (≤ {reads_target:.0}) {}; restart reads {restart_reads:.0} (≤ {reads_target:.0}) {}; peak RSS {:.1} MiB (≤ {RSS_TARGET_MIB}) {}; edit p50 {:.0} ms (≤ 300) {}; edit p99 {:.0} ms (≤ 2 x the limit's {:.0}) {}\n",
                models_phrase(r.models, self.accounts),
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

    /// How each size's models were spread over accounts.
    fn accounts_sentence(&self) -> String {
        if self.accounts == 1 {
            return "One emulator account per run, its quota raised to the model count plus 100 (Pinpoint's is 100 per Region).".into();
        }
        let sizes: Vec<String> = self
            .results
            .iter()
            .map(|r| {
                format!(
                    "{} per account at {} models",
                    each(r.models, self.accounts),
                    r.models
                )
            })
            .collect();
        format!(
            "The models spread over {} emulator accounts per run ({}), dealt round-robin over one namespace per account, each namespace bound to its account's role in the operator's tenancy file (--tenancy-config; the operator assumes the role with STS); each account keeps Pinpoint's quota of 100 configurations per Region. The limit creates each account's configurations with that account's own key.",
            self.accounts,
            sizes.join("; "),
        )
    }
}
