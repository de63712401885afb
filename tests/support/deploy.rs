//! The install paths against the real API server: Helm, the kustomize base and the install's
//! finalizer policy; a Helm release a test installs, and the rights RBAC gives its
//! ServiceAccount or anyone else (a kubeconfig holding only the ServiceAccount's token, and
//! `kubectl auth can-i`); the CRD the releases share, and the turns the tests of one binary take
//! on that cluster-scoped state. Running the installed operator is `installed.rs`.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use serde_json::{Value, json};

use super::cluster::{ControlPlane, succeeded, text, tool, wait_until};

/// The chart under test: `deploy/helm/recommender-operator`, or `RECOMMENDER_TEST_CHART` (a
/// packaged `.tgz`, or a copy with a change to try) when set.
pub fn chart() -> String {
    std::env::var("RECOMMENDER_TEST_CHART").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/helm/recommender-operator"
        )
        .to_owned()
    })
}
pub const KUSTOMIZE_BASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/manifests");
pub const CRD: &str = "customresourcedefinition/recommendermodels.pinpoint.recommenders.dev";
/// The chart's default release name, which is also the namespace the README installs it in.
pub const DEFAULT_RELEASE: &str = "recommender-operator";
pub const MODELS: &str = "recommendermodels.pinpoint.recommenders.dev";

/// The tests of this binary run in parallel threads on one control plane, but they share
/// cluster-scoped state: the CRD (one Helm release at a time can own it), the ClusterRole and
/// ClusterRoleBinding names of the default install (which the kustomize base uses too), and a
/// cluster-wide operator sees the models of every namespace. So each test holds this lock for its
/// whole run: they take turns, and each still runs alone or in any order.
static CLUSTER: Mutex<()> = Mutex::new(());

/// Proof that the caller holds the cluster lock.
pub struct ClusterTurn(#[allow(dead_code)] MutexGuard<'static, ()>);

pub fn cluster_turn() -> ClusterTurn {
    // A test that panicked holding the lock poisons it; the next one still gets its turn.
    ClusterTurn(recommender_operator::lock::lock(&CLUSTER))
}

/// Runs the pinned helm against the control plane, with its own config, cache and data
/// directories (nothing of the user's is read or written).
pub fn helm(plane: &ControlPlane, args: &[&str]) -> Output {
    let home = plane.dir.join("helm");
    Command::new(tool("helm"))
        .args(args)
        .arg(format!("--kubeconfig={}", plane.kubeconfig.display()))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("run helm")
}

pub fn helm_ok(plane: &ControlPlane, args: &[&str]) -> String {
    succeeded("helm", args, helm(plane, args))
}

/// Every object of a multi-document YAML stream (empty documents dropped).
pub fn yaml_objects(yaml: &str) -> Vec<Value> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(yaml).expect("valid YAML");
    documents.into_iter().filter(|d| d.is_object()).collect()
}

/// The install's finalizer policy (`deploy/manifests/finalizer-policy.yaml`) with a binding of
/// its own, `binding`, for the namespaces `namespace_selector` selects: tests and the benchmark
/// scope it so that every other model keeps taking the operator's own path.
pub fn bind_finalizer_policy(plane: &ControlPlane, binding: &str, namespace_selector: Value) {
    let file = format!("{KUSTOMIZE_BASE}/finalizer-policy.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {file}: {e}"));
    let policy = yaml_objects(&yaml)
        .into_iter()
        .find(|d| d["kind"] == "MutatingAdmissionPolicy")
        .expect("the file holds the policy");
    let binding = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": binding},
        "spec": {
            "policyName": policy["metadata"]["name"],
            "matchResources": {"namespaceSelector": namespace_selector},
        },
    });
    for object in [&policy, &binding] {
        let out = plane.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &object.to_string());
        assert!(
            out.status.success(),
            "apply the policy: {}",
            text(&out.stderr)
        );
    }
}

/// Waits until the API server applies the finalizer policy to new models in `namespace`:
/// `probe`, a valid model, is created with a server-side dry run until it comes back with the
/// finalizer. (Policies reach admission through an informer, and until admission knows a new
/// CRD's kind the create is refused.)
pub fn wait_for_finalizer_policy(plane: &ControlPlane, namespace: &str, probe: &Value) {
    wait_until(
        Duration::from_secs(60),
        "the finalizer policy applies",
        || {
            let out = plane.kubectl_stdin(
                &[
                    "-n",
                    namespace,
                    "create",
                    "--dry-run=server",
                    "-o",
                    "json",
                    "-f",
                    "-",
                ],
                &probe.to_string(),
            );
            serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|o| {
                o["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty())
            })
        },
    );
}

/// (kind, name, namespace) of each object.
pub fn kinds_and_names(objects: &[Value]) -> std::collections::BTreeSet<(String, String, String)> {
    objects
        .iter()
        .map(|o| {
            let s = |p: &str| {
                o.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            (s("/kind"), s("/metadata/name"), s("/metadata/namespace"))
        })
        .collect()
}

/// A Helm release installed by a test; uninstalled when dropped (also after a panic, so the next
/// test can install the same release name).
pub struct Release {
    plane: &'static ControlPlane,
    pub name: String,
    pub namespace: String,
}

impl Release {
    /// `helm install NAME CHART -n NAMESPACE --create-namespace --wait=false EXTRA...`.
    pub fn install(
        plane: &'static ControlPlane,
        _turn: &ClusterTurn,
        name: &str,
        namespace: &str,
        extra: &[&str],
    ) -> Self {
        let chart = chart();
        let mut args = vec![
            "install",
            name,
            &chart,
            "--namespace",
            namespace,
            "--create-namespace",
            "--wait=false",
        ];
        args.extend_from_slice(extra);
        helm_ok(plane, &args);
        Self {
            plane,
            name: name.to_owned(),
            namespace: namespace.to_owned(),
        }
    }

    /// The one ServiceAccount the release created.
    pub fn service_account(&self) -> String {
        let selector = format!("app.kubernetes.io/instance={}", self.name);
        let list = self.plane.kubectl_ok(&[
            "get",
            "serviceaccounts",
            "-n",
            &self.namespace,
            "-l",
            &selector,
            "-o",
            "name",
        ]);
        let names: Vec<&str> = list
            .lines()
            .filter_map(|l| l.strip_prefix("serviceaccount/"))
            .collect();
        assert_eq!(
            names.len(),
            1,
            "release {} should create exactly one ServiceAccount: {names:?}",
            self.name
        );
        names[0].to_owned()
    }

    /// `system:serviceaccount:NAMESPACE:NAME` of the release's ServiceAccount.
    pub fn subject(&self) -> String {
        let sa = self.service_account();
        format!("system:serviceaccount:{}:{sa}", self.namespace)
    }

    /// The pod spec of the one Deployment the release installed, which has one container.
    pub fn pod(&self) -> Value {
        let selector = format!("app.kubernetes.io/instance={}", self.name);
        let list = self
            .plane
            .get_json(&["deployments", "-n", &self.namespace, "-l", &selector]);
        let items = list["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 1, "one Deployment per release: {list:#}");
        let pod = items[0]["spec"]["template"]["spec"].clone();
        let containers = pod["containers"].as_array().map(Vec::len);
        assert_eq!(containers, Some(1), "one container: {pod:#}");
        pod
    }

    fn container(&self) -> Value {
        self.pod()["containers"][0].clone()
    }

    /// The container's arguments.
    pub fn operator_args(&self) -> Vec<String> {
        self.container()["args"]
            .as_array()
            .expect("the container has args")
            .iter()
            .map(|a| a.as_str().expect("string args").to_owned())
            .collect()
    }

    /// The container's environment, the downward API resolved as the kubelet would for a pod
    /// of this release.
    pub fn operator_env(&self) -> Vec<(String, String)> {
        let container = self.container();
        let Some(env) = container["env"].as_array() else {
            return Vec::new();
        };
        env.iter()
            .map(|var| {
                let name = var["name"].as_str().expect("env name").to_owned();
                let value = if let Some(value) = var["value"].as_str() {
                    value.to_owned()
                } else {
                    match var
                        .pointer("/valueFrom/fieldRef/fieldPath")
                        .and_then(Value::as_str)
                    {
                        Some("metadata.namespace") => self.namespace.clone(),
                        Some("metadata.name") => format!("{}-0", self.name),
                        _ => panic!("the test cannot resolve env var {var}"),
                    }
                };
                (name, value)
            })
            .collect()
    }

    /// A kubeconfig that authenticates as the release's ServiceAccount with a fresh token, and
    /// only as it; returns the path and the token.
    pub fn token_kubeconfig(&self) -> (PathBuf, String) {
        let sa = self.service_account();
        let token = self
            .plane
            .kubectl_ok(&[
                "create",
                "token",
                &sa,
                "-n",
                &self.namespace,
                "--duration=1h",
            ])
            .trim()
            .to_owned();
        assert!(!token.is_empty(), "kubectl create token printed a token");
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {
                "server": self.plane.server,
                "certificate-authority": self.plane.dir.join("ca.crt"),
            }}],
            "users": [{"name": sa, "user": {"token": token}}],
            "contexts": [{"name": "sa", "context": {"cluster": "test", "user": sa, "namespace": "default"}}],
            "current-context": "sa",
        });
        let path = self
            .plane
            .dir
            .join(format!("{}-{}-token.kubeconfig", self.namespace, sa));
        std::fs::write(&path, config.to_string()).expect("write the token kubeconfig");

        // The file really authenticates as the ServiceAccount, not as anyone else.
        let out = kubectl_as(&path, &["auth", "whoami", "-o", "json"]);
        assert!(out.status.success(), "whoami: {}", text(&out.stderr));
        let review: Value = serde_json::from_slice(&out.stdout).expect("whoami prints JSON");
        assert_eq!(
            review["status"]["userInfo"]["username"],
            json!(self.subject()),
            "{review:#}"
        );
        (path, token)
    }

    pub fn uninstall(&self) -> String {
        helm_ok(
            self.plane,
            &["uninstall", &self.name, "--namespace", &self.namespace],
        )
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let _ = helm(
            self.plane,
            &[
                "uninstall",
                &self.name,
                "--namespace",
                &self.namespace,
                "--ignore-not-found",
            ],
        );
    }
}

/// kubectl with another kubeconfig.
pub fn kubectl_as(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(tool("kubectl"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .output()
        .expect("run kubectl")
}

/// Where a `kubectl auth can-i` question is asked.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    Namespace(&'a str),
    AllNamespaces,
}

/// One `kubectl auth can-i` question about `subject`, asked with the admin's kubeconfig.
/// `resource` may carry a subresource (`recommendermodels.pinpoint.recommenders.dev/status`).
/// Fails when kubectl does not know the resource: it would then ask about a resource of that
/// name in the core group and answer "no" for the wrong reason.
pub fn can_i(
    plane: &ControlPlane,
    subject: &str,
    verb: &str,
    resource: &str,
    scope: Scope<'_>,
) -> bool {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (resource, None),
    };
    let mut args = vec![
        "auth".to_owned(),
        "can-i".to_owned(),
        verb.to_owned(),
        resource.to_owned(),
        format!("--as={subject}"),
    ];
    if let Some(s) = subresource {
        args.push(format!("--subresource={s}"));
    }
    match scope {
        Scope::Namespace(ns) => args.push(format!("--namespace={ns}")),
        Scope::AllNamespaces => args.push("--all-namespaces".to_owned()),
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = plane.kubectl(&args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !stderr.contains("doesn't have a resource type"),
        "kubectl {}: {stderr}",
        args.join(" ")
    );
    let answer = stdout.lines().next().unwrap_or("").trim();
    match (answer, out.status.code()) {
        ("yes", Some(0)) => true,
        ("no", Some(1)) => false,
        _ => panic!(
            "kubectl {} answered neither yes nor no:\n{stdout}{stderr}",
            args.join(" ")
        ),
    }
}

/// Asks every question of `expected` and fails with the whole list of wrong answers.
pub fn assert_rights(
    plane: &ControlPlane,
    subject: &str,
    expected: &[(bool, &str, &str, Scope<'_>)],
) {
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(allowed, verb, resource, scope)| {
            can_i(plane, subject, verb, resource, *scope) != *allowed
        })
        .map(|(allowed, verb, resource, scope)| {
            format!(
                "{verb} {resource} ({scope:?}): expected {}",
                if *allowed { "yes" } else { "no" }
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{subject} has the wrong rights:\n{}",
        wrong.join("\n")
    );
}

/// The CRD exists and is served. Only the chart's default release ever creates it in this test
/// binary: a CRD created by `kubectl apply` has no Helm ownership metadata, and `helm install`
/// refuses to adopt it ("invalid ownership metadata"). The chart keeps it on uninstall
/// (`helm.sh/resource-policy: keep`) with its ownership metadata, which a later install of the
/// same release name and namespace adopts. So when it is missing, install the default release
/// and uninstall it again: what is left is exactly what a user has after `helm uninstall`.
pub fn ensure_crd(plane: &'static ControlPlane, turn: &ClusterTurn) {
    if !plane.kubectl(&["get", CRD]).status.success() {
        let release = Release::install(plane, turn, DEFAULT_RELEASE, DEFAULT_RELEASE, &[]);
        release.uninstall();
    }
    plane.kubectl_ok(&["wait", "--for=condition=Established", CRD, "--timeout=60s"]);
}

/// A namespace for a test's models. The control plane has no controller manager, so a deleted
/// namespace would stay Terminating with its models in it, and a cluster-wide operator of a later
/// test would find them. So when dropped (also after a panic) it deletes the models themselves,
/// finalizers first: an operator that handled them has been checked by then, or is gone.
pub struct ScratchNamespace {
    plane: &'static ControlPlane,
    pub name: String,
}

impl ScratchNamespace {
    pub fn new(plane: &'static ControlPlane, _turn: &ClusterTurn, name: &str) -> Self {
        if !plane.kubectl(&["get", "namespace", name]).status.success() {
            plane.kubectl_ok(&["create", "namespace", name]);
        }
        Self {
            plane,
            name: name.to_owned(),
        }
    }
}

impl Drop for ScratchNamespace {
    fn drop(&mut self) {
        let out = self
            .plane
            .kubectl(&["get", MODELS, "-n", &self.name, "-o", "name"]);
        for model in text(&out.stdout).lines() {
            let _ = self.plane.kubectl(&[
                "patch",
                "-n",
                &self.name,
                model,
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ]);
        }
        let _ = self.plane.kubectl(&[
            "delete",
            MODELS,
            "--all",
            "-n",
            &self.name,
            "--ignore-not-found",
            "--timeout=60s",
        ]);
    }
}
