//! The installed operator running with nothing but the rights its ServiceAccount gets.
//!
//! There is no kubelet, so no pod ever runs. Instead the test mints a token for the chart's
//! ServiceAccount and runs the operator binary on the host with a kubeconfig holding only that
//! token, with the arguments of the Deployment the chart installed. Every API call it makes is
//! then checked by RBAC exactly as in a cluster. The release and the token are `deploy.rs`.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{
    admin::{EmulatorAdmin, start_emulator_process},
    cluster::{ControlPlane, Process},
    deploy::Release,
};

/// Credentials only the emulator and the operator know; the logs, events and statuses must
/// never show them.
pub const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
pub const SECRET_ACCESS_KEY: &str = "s3cr3t-Xyz";

/// The emulator, with the secret credentials.
pub fn start_emulator(plane: &ControlPlane, name: &str) -> (Process, EmulatorAdmin) {
    start_emulator_process(
        &plane.dir.join(format!("{name}-emulator.log")),
        &[
            "--credentials".into(),
            format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"),
        ],
    )
}

/// The operator binary with the arguments and environment of the release's Deployment, plus the
/// emulator's endpoint and loopback addresses, authenticated by `kubeconfig`, logging at debug
/// level (the AWS SDK's debug logs included).
pub fn start_operator(
    plane: &ControlPlane,
    name: &str,
    release: &Release,
    kubeconfig: &Path,
    emulator_url: &str,
) -> Process {
    let chart_args = release.operator_args();
    assert_eq!(
        chart_args.first().map(String::as_str),
        Some("run"),
        "{chart_args:?}"
    );
    // The chart's ConfigMap volumes (the tenancy file), where the kubelet would have put them.
    let mut args = plane.mount_config_maps(&release.namespace, &release.pod(), &chart_args);
    // After the chart's own bind addresses, which they replace (the last of a repeated flag wins).
    args.extend([
        format!("--aws-endpoint-url={emulator_url}"),
        "--metrics-bind-address=127.0.0.1:0".into(),
        "--health-probe-bind-address=127.0.0.1:0".into(),
    ]);
    let chart_env = release.operator_env();
    let mut envs: Vec<(&str, String)> = chart_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    envs.extend([
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("RUST_LOG", "debug".into()),
    ]);
    let mut operator = Process::start(
        "recommender-operator",
        Path::new(env!("CARGO_BIN_EXE_recommender-operator")),
        &args,
        &envs,
        plane.dir.join(format!("{name}-operator.log")),
    );
    // With --leader-elect (the chart's default) the controller starts once the Lease is held;
    // a refused call on the way fails at once, with the refusals.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = operator.output();
        if log.contains("controller started") {
            return operator;
        }
        let forbidden: Vec<&str> = log
            .lines()
            .filter(|l| l.to_lowercase().contains("forbidden"))
            .collect();
        assert!(
            forbidden.is_empty(),
            "the operator was refused on its way to starting:\n{}",
            forbidden.join("\n")
        );
        assert!(
            operator.is_running() && Instant::now() < deadline,
            "the operator did not start in 60 s:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Lines of a JSON log that are not what a log collector expects of controller-runtime's zap
/// layout: one JSON object per line with a lowercase `level`, an RFC 3339 `ts`, and string
/// `logger` and `msg`, the fields beside them rather than nested.
pub fn malformed_json_log_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|line| {
            let Ok(entry) = serde_json::from_str::<Value>(line) else {
                return true;
            };
            let level_ok = entry["level"]
                .as_str()
                .is_some_and(|l| ["trace", "debug", "info", "warn", "error"].contains(&l));
            let ts_ok = entry["ts"]
                .as_str()
                .is_some_and(|ts| humantime::parse_rfc3339(ts).is_ok());
            let strings = ["logger", "msg"].iter().all(|k| entry[k].is_string());
            let flat = !["fields", "span", "spans", "message"]
                .iter()
                .any(|k| entry.get(k).is_some());
            !(level_ok && ts_ok && strings && flat)
        })
        .map(str::to_owned)
        .collect()
}
