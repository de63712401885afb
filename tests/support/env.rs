//! One test's world on the shared control plane: its namespace, its emulator (the real
//! `pinpoint-emulator` binary) and its operator (watching only that namespace).

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use recommender_operator::{
    aws::pinpoint::{Pinpoint, SdkPinpoint},
    domain::desired::RecommenderConfig,
};
use serde_json::{Value, json};

use super::{
    admin::{EmulatorAdmin, start_emulator_process},
    cluster::{ControlPlane, Process, control_plane, text},
    emulator::sdk_config,
};

/// One test's world: its namespace, its emulator and its operator (watching only that
/// namespace), on the shared control plane.
pub struct TestEnv {
    pub plane: &'static ControlPlane,
    pub namespace: String,
    pub emulator: Process,
    pub emulator_url: String,
    /// The emulator's admin API.
    pub admin: EmulatorAdmin,
    pub operator: Option<Process>,
    http: reqwest::blocking::Client,
}

impl TestEnv {
    /// `name` must be a valid namespace name, unique per test.
    pub fn new(name: &str) -> Self {
        Self::create(name, true)
    }

    /// Like `without_operator`, with extra arguments for the emulator.
    pub fn with_emulator_args(name: &str, emulator_args: &[&str]) -> Self {
        Self::create_with(name, false, emulator_args)
    }

    fn create(name: &str, with_operator: bool) -> Self {
        Self::create_with(name, with_operator, &[])
    }

    fn create_with(name: &str, with_operator: bool, emulator_args: &[&str]) -> Self {
        let plane = control_plane();
        plane.install_crd();
        let namespace = format!("e2e-{name}");
        plane.fresh_namespace(&namespace);

        let (emulator, admin) = start_emulator_process(
            &plane.dir.join(format!("{namespace}-emulator.log")),
            &emulator_args
                .iter()
                .map(|a| (*a).to_owned())
                .collect::<Vec<_>>(),
        );
        let mut env = Self {
            plane,
            namespace,
            emulator,
            emulator_url: admin.url.clone(),
            admin,
            operator: None,
            http: reqwest::blocking::Client::new(),
        };
        if with_operator {
            env.start_operator();
        }
        env
    }

    /// Starts (or restarts) the operator for this namespace.
    pub fn start_operator(&mut self) {
        if let Some(mut old) = self.operator.take() {
            old.stop();
        }
        let mut operator = self.spawn_operator(&[]);
        operator.wait_for_log("controller started", Duration::from_secs(60));
        self.operator = Some(operator);
    }

    /// Starts another operator process for this namespace with `extra` arguments, without
    /// waiting for it; the caller owns it.
    pub fn spawn_operator(&self, extra: &[&str]) -> Process {
        self.spawn_operator_with_env(extra, &[])
    }

    /// `spawn_operator` with extra environment variables.
    pub fn spawn_operator_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Process {
        let log = self
            .plane
            .dir
            .join(format!("{}-operator-{}.log", self.namespace, now_millis()));
        let mut args = vec![
            "run".to_owned(),
            format!("--namespace={}", self.namespace),
            format!("--aws-endpoint-url={}", self.emulator_url),
            "--metrics-bind-address=127.0.0.1:0".into(),
            "--health-probe-bind-address=127.0.0.1:0".into(),
        ];
        if !extra.iter().any(|a| a.starts_with("--resync")) {
            args.push("--resync=10m".into());
        }
        // Plain HTTP, read by the tests without a token; tests of the secure endpoint set it.
        if !extra.iter().any(|a| a.starts_with("--metrics-secure")) {
            args.push("--metrics-secure=false".into());
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        Process::start(
            "recommender-operator",
            Path::new(env!("CARGO_BIN_EXE_recommender-operator")),
            &args,
            &[
                ("KUBECONFIG", self.plane.kubeconfig.display().to_string()),
                ("AWS_ACCESS_KEY_ID", "test".into()),
                ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ("AWS_REGION", "us-east-1".into()),
                ("AWS_EC2_METADATA_DISABLED", "true".into()),
                ("RUST_LOG", "info,recommender_operator=debug".into()),
            ]
            .into_iter()
            .chain(env.iter().map(|(k, v)| (*k, (*v).to_owned())))
            .collect::<Vec<_>>(),
            log,
        )
    }

    /// Like `new`, without starting an operator.
    pub fn without_operator(name: &str) -> Self {
        Self::create(name, false)
    }

    /// An HTTP endpoint of the operator, `metrics` or `probes`, from its startup log line.
    pub fn operator_addr(&mut self, which: &str) -> String {
        endpoint_of(self.operator(), which)
    }

    /// Writes this test's tenancy file (replacing it in one rename, as the kubelet does) and
    /// returns its path, for `--tenancy-config`.
    pub fn write_tenancy(&self, text: &str) -> PathBuf {
        let path = self
            .plane
            .dir
            .join(format!("{}-tenancy.yaml", self.namespace));
        let scratch = path.with_extension("new");
        std::fs::write(&scratch, text).expect("write the tenancy file");
        std::fs::rename(&scratch, &path).expect("replace the tenancy file");
        path
    }

    /// GET a path of the operator's HTTP endpoints.
    pub fn operator_get(&mut self, which: &str, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", self.operator_addr(which));
        self.get_url(&url)
    }

    /// GET a path of the HTTP endpoints (`metrics` or `probes`) of an operator the test started.
    pub fn get_from(&self, operator: &mut Process, which: &str, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", endpoint_of(operator, which));
        self.get_url(&url)
    }

    fn get_url(&self, url: &str) -> (u16, String) {
        let response = self
            .http
            .get(url)
            .send()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        (
            response.status().as_u16(),
            response.text().unwrap_or_default(),
        )
    }

    pub fn operator(&mut self) -> &mut Process {
        self.operator.as_mut().expect("the operator runs")
    }

    /// kubectl in this test's namespace.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        let mut all = vec!["-n", self.namespace.as_str()];
        all.extend_from_slice(args);
        self.plane.kubectl(&all)
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.namespace.as_str()];
        all.extend_from_slice(args);
        self.plane.kubectl_ok(&all)
    }

    /// `kubectl apply` of one object given as JSON.
    pub fn apply(&self, object: &Value) -> Output {
        self.plane.kubectl_stdin(
            &["-n", &self.namespace, "apply", "-f", "-"],
            &object.to_string(),
        )
    }

    pub fn apply_ok(&self, object: &Value) {
        let out = self.apply(object);
        assert!(
            out.status.success(),
            "kubectl apply failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    pub fn model(&self, name: &str) -> Value {
        self.plane
            .get_json(&["-n", &self.namespace, "recommendermodel", name])
    }

    /// `kubectl wait` on a condition of a model.
    pub fn wait_condition(&self, name: &str, condition: &str, timeout_secs: u64) {
        let out = self.kubectl(&[
            "wait",
            &format!("--for=condition={condition}"),
            &format!("recommendermodel/{name}"),
            &format!("--timeout={timeout_secs}s"),
        ]);
        assert!(
            out.status.success(),
            "condition {condition} never held for {name}:\n{}{}\nobject: {:#}",
            text(&out.stdout),
            text(&out.stderr),
            self.model(name)
        );
    }

    /// `kubectl wait` until the `condition_type` condition of a model has `reason`.
    pub fn wait_reason(&self, name: &str, condition_type: &str, reason: &str, timeout_secs: u64) {
        let out = self.kubectl(&[
            "wait",
            &format!("--for=jsonpath={{.status.conditions[?(@.type==\"{condition_type}\")].reason}}={reason}"),
            &format!("recommendermodel/{name}"),
            &format!("--timeout={timeout_secs}s"),
        ]);
        assert!(
            out.status.success(),
            "{condition_type} never had reason {reason}:\n{}\n{:#}",
            text(&out.stderr),
            self.model(name)
        );
    }

    /// Installs the chart's finalizer policy, bound to this namespace only so the other tests'
    /// models keep taking the operator's own path, and waits until it applies to `probe`.
    pub fn bind_finalizer_policy(&self, probe: &Value) {
        super::deploy::bind_finalizer_policy(
            self.plane,
            &format!("finalizer-policy-{}", self.namespace),
            json!({"matchLabels": {"kubernetes.io/metadata.name": self.namespace}}),
        );
        super::deploy::wait_for_finalizer_policy(self.plane, &self.namespace, probe);
    }

    /// The reasons of this namespace's events matching a field selector (`None`: all).
    pub fn event_reasons(&self, selector: Option<&str>) -> String {
        let mut args = vec!["get", "events", "-o", "jsonpath={.items[*].reason}"];
        if let Some(selector) = selector {
            args.extend(["--field-selector", selector]);
        }
        self.kubectl_ok(&args)
    }

    /// Every configuration the emulator holds.
    pub fn configurations(&self) -> Vec<Value> {
        self.admin.configurations()
    }

    pub fn calls(&self, operation: &str) -> u64 {
        self.admin.calls(operation)
    }

    pub fn fault(&self, fault: Value) {
        self.admin.fault(fault)
    }

    pub fn clear_faults(&self) {
        self.admin.clear_faults()
    }

    /// Adds or replaces campaigns, roles and functions in the emulated account.
    pub fn seed(&self, seed: Value) {
        self.admin.seed(seed)
    }

    /// Every IAM role in the emulated account.
    pub fn roles(&self) -> Vec<Value> {
        self.admin.roles()
    }

    /// Someone edits configuration `id` (in us-east-1) in the console, through the SDK.
    pub fn edit_outside(&self, id: &str, edit: impl FnOnce(&mut RecommenderConfig)) {
        let console = self.console();
        block_on(async {
            let mut config = console
                .get("us-east-1", id)
                .await
                .expect("get")
                .expect("the configuration exists")
                .config;
            edit(&mut config);
            console
                .update("us-east-1", id, &config)
                .await
                .expect("out-of-band edit");
        });
    }

    /// Someone makes a configuration in the console, through the SDK; returns its ID.
    pub fn create_outside(&self, region: &str, config: &RecommenderConfig) -> String {
        let console = self.console();
        block_on(console.create(region, config))
            .expect("out-of-band create")
            .id
    }

    /// Someone deletes configuration `id` (in us-east-1) in the console, through the SDK.
    pub fn delete_outside(&self, id: &str) {
        let console = self.console();
        block_on(console.delete("us-east-1", id)).expect("out-of-band delete");
    }

    fn console(&self) -> SdkPinpoint {
        SdkPinpoint::new(sdk_config(1), Some(self.emulator_url.clone()))
    }
}

fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(work)
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // Leave the namespace on failure, to look at; clean up after success.
            let _ = self
                .plane
                .kubectl(&["delete", "namespace", &self.namespace, "--wait=false"]);
        }
    }
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// An HTTP endpoint of an operator process, `metrics` or `probes`, from its startup log line.
fn endpoint_of(operator: &mut Process, which: &str) -> String {
    let line = operator.wait_for_log("serving HTTP endpoints", Duration::from_secs(30));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{which}=")))
        .unwrap_or_else(|| panic!("no {which} address in {line:?}"))
        .to_owned()
}

/// A field of a model object's status, as `TestEnv::model` returns it (`Null` when missing).
pub fn status<'a>(object: &'a Value, field: &str) -> &'a Value {
    &object["status"][field]
}

/// The `type_` condition of a model object (`Null` when it has none).
pub fn condition<'a>(object: &'a Value, type_: &str) -> &'a Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}
