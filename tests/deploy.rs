//! The install paths, against a real kube-apiserver with RBAC on: the Helm chart installs an
//! operator that works with exactly the rights its ServiceAccount gets and no more, logs JSON
//! without credentials, can be scoped to one namespace, keeps the CRD on uninstall; the kustomize
//! base is accepted by the server and holds the same objects as the chart.
//!
//! Needs the tools from `bash scripts/tools.sh` and `cargo build --workspace --bins`. The tests
//! share cluster-scoped state, so they take turns (`cluster_turn`, in `tests/support/deploy.rs`).

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    cluster::{control_plane, text},
    deploy::{
        CRD, DEFAULT_RELEASE, KUSTOMIZE_BASE, MODELS, Release,
        Scope::{AllNamespaces, Namespace},
        ScratchNamespace, assert_rights, chart, cluster_turn, ensure_crd, helm_ok, kinds_and_names,
        kubectl_as, yaml_objects,
    },
    installed::{SECRET_ACCESS_KEY, malformed_json_log_lines, start_emulator, start_operator},
    table::cases,
};

const MODEL_STATUS: &str = "recommendermodels.pinpoint.recommenders.dev/status";
const MODEL_FINALIZERS: &str = "recommendermodels.pinpoint.recommenders.dev/finalizers";

/// A valid model from the validation table, named `name` in `namespace`.
fn model(name: &str, namespace: &str) -> Value {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "model value, every field set")
        .expect("the table has the case");
    assert!(case.is_valid());
    let mut object = case.object;
    object["metadata"]["name"] = json!(name);
    object["metadata"]["namespace"] = json!(namespace);
    object
}

/// `kubectl apply`, tried again while the API server answers that the model's kind is not yet
/// known to admission: for the first seconds after the chart installs the CRD, the finalizer
/// policy cannot mutate models (503), and clients such as Argo CD and Flux retry.
fn apply(object: &Value) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = control_plane().kubectl_stdin(&["apply", "-f", "-"], &object.to_string());
        if out.status.success() {
            return;
        }
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(CRD_NOT_YET_KNOWN) && Instant::now() < deadline,
            "kubectl apply failed:\n{}{stderr}",
            text(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What the API server says while admission does not yet know a new CRD's kind.
const CRD_NOT_YET_KNOWN: &str =
    "There can be a delay between when CustomResourceDefinitions are created";

fn wait_ready(namespace: &str, name: &str) {
    let plane = control_plane();
    let out = plane.kubectl(&[
        "wait",
        "-n",
        namespace,
        "--for=condition=Ready",
        &format!("recommendermodel/{name}"),
        "--timeout=120s",
    ]);
    assert!(
        out.status.success(),
        "{namespace}/{name} never became Ready:\n{}{}\n{:#}",
        text(&out.stdout),
        text(&out.stderr),
        plane.get_json(&["-n", namespace, "recommendermodel", name])
    );
}

fn log_lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    let needle = needle.to_lowercase();
    log.lines()
        .filter(|l| l.to_lowercase().contains(&needle))
        .collect()
}

/// Installs the chart as the README says and runs the operator as its ServiceAccount: a model
/// goes Ready and its deletion completes (the finalizer is removed by the ServiceAccount), and
/// nothing is forbidden. Then the ServiceAccount's rights, one by one: what it needs, and none
/// of what it doesn't. The same run's log is checked for format and credentials
/// (`logs_are_json_and_never_hold_credentials`, which needs this very run).
#[test]
fn helm_install_gives_the_operator_exactly_the_rights_it_needs() {
    let plane = control_plane();
    let turn = cluster_turn();
    // Installs the CRD too (crds.install defaults to true), or adopts the one a previous
    // uninstall of this release kept.
    let release = Release::install(plane, &turn, DEFAULT_RELEASE, DEFAULT_RELEASE, &[]);
    plane.kubectl_ok(&["wait", "--for=condition=Established", CRD, "--timeout=60s"]);
    let crd = plane.get_json(&[CRD]);
    assert_eq!(
        crd["metadata"]["annotations"]["meta.helm.sh/release-name"], DEFAULT_RELEASE,
        "the release owns the CRD: {:#}",
        crd["metadata"]
    );

    // This operator watches every namespace: another test's models would get in the way.
    let strays = plane.kubectl_ok(&["get", MODELS, "-A", "-o", "name"]);
    assert_eq!(strays.trim(), "", "models left by another test");

    let subject = release.subject();
    let (kubeconfig, token) = release.token_kubeconfig();
    // The token is really limited: the admin's rights did not leak into the file.
    let denied = kubectl_as(&kubeconfig, &["get", "secrets", "-n", DEFAULT_RELEASE]);
    assert!(
        !denied.status.success() && text(&denied.stderr).contains("forbidden"),
        "the ServiceAccount reads secrets: {}{}",
        text(&denied.stdout),
        text(&denied.stderr)
    );

    let chart_args = release.operator_args();
    assert!(
        chart_args.iter().any(|a| a == "--log-format=json"),
        "the chart logs JSON by default: {chart_args:?}"
    );
    let (_emulator, emulator) = start_emulator(plane, "helm");
    let operator = start_operator(plane, "helm", &release, &kubeconfig, &emulator.url);

    // One refused call first, so the error paths (status message, Warning event, warn log) run
    // too: they are where credentials would leak. 403 without the word "forbidden", which the
    // log must not hold for RBAC reasons.
    emulator.fault(json!({
        "operation": "CreateRecommenderConfiguration",
        "status": 403,
        "count": 1,
        "errorType": "AccessDeniedException",
        "message": "not authorized to perform mobiletargeting:CreateRecommenderConfiguration",
    }));
    let scratch = ScratchNamespace::new(plane, &turn, "deploy-helm");
    let namespace = scratch.name.as_str();
    apply(&model("movie-recs", namespace));
    wait_ready(namespace, "movie-recs");
    let object = plane.get_json(&["-n", namespace, "recommendermodel", "movie-recs"]);
    let id = object["status"]["configurationId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| panic!("no configurationId: {object:#}"))
        .to_owned();
    assert_eq!(
        object["metadata"]["finalizers"],
        json!(["pinpoint.recommenders.dev/configuration"]),
        "the finalizer is in place (from the chart's admission policy, or the ServiceAccount)"
    );
    let stored = emulator.configurations();
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(stored[0]["id"], json!(id));
    assert_eq!(
        emulator.calls("CreateRecommenderConfiguration"),
        2,
        "the refused call and the one that worked"
    );
    // The ServiceAccount wrote events (events.k8s.io), Warning and Normal.
    let events = plane.get_json(&[
        "events",
        "-n",
        namespace,
        "--field-selector",
        "involvedObject.name=movie-recs",
    ]);
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|e| e["reason"].as_str()).collect())
        .unwrap_or_default();
    assert!(reasons.contains(&"AccessDenied"), "events: {reasons:?}");

    // Deletion: the finalizer holds the object until the ServiceAccount's operator deleted the
    // configuration and removed the finalizer.
    plane.kubectl_ok(&[
        "delete",
        "-n",
        namespace,
        "recommendermodel",
        "movie-recs",
        "--timeout=120s",
    ]);
    let gone = plane.kubectl(&["get", "-n", namespace, "recommendermodel", "movie-recs"]);
    assert!(
        !gone.status.success() && text(&gone.stderr).contains("NotFound"),
        "the model is gone: {}{}",
        text(&gone.stdout),
        text(&gone.stderr)
    );
    assert!(emulator.configurations().is_empty());

    let log = operator.output();
    let forbidden = log_lines_with(&log, "forbidden");
    assert!(
        forbidden.is_empty(),
        "the operator was refused something:\n{}",
        forbidden.join("\n")
    );

    // Least privilege, asked of the API server's authorizer.
    let ns = Namespace(namespace);
    let own = Namespace(DEFAULT_RELEASE);
    assert_rights(
        plane,
        &subject,
        &[
            // What the operator does.
            (true, "list", MODELS, AllNamespaces),
            (true, "watch", MODELS, AllNamespaces),
            (true, "get", MODELS, ns),
            (true, "patch", MODELS, ns),
            (true, "patch", MODEL_STATUS, ns),
            (true, "update", MODEL_FINALIZERS, ns),
            (true, "create", "events.events.k8s.io", ns),
            (true, "patch", "events.events.k8s.io", ns),
            // Leader election (kube-lease-manager): its Lease, in its own namespace.
            (true, "get", "leases.coordination.k8s.io", own),
            (true, "create", "leases.coordination.k8s.io", own),
            (true, "patch", "leases.coordination.k8s.io", own),
            // Nothing else.
            (false, "create", MODELS, ns),
            (false, "delete", MODELS, ns),
            (false, "deletecollection", MODELS, ns),
            (false, "get", "secrets", own),
            (false, "get", "secrets", ns),
            (false, "list", "secrets", AllNamespaces),
            (false, "list", "configmaps", AllNamespaces),
            (false, "create", "deployments.apps", own),
            (false, "create", "pods", own),
            (
                false,
                "update",
                "customresourcedefinitions.apiextensions.k8s.io",
                AllNamespaces,
            ),
            (
                false,
                "get",
                "leases.coordination.k8s.io",
                Namespace("kube-system"),
            ),
            (
                false,
                "create",
                "leases.coordination.k8s.io",
                Namespace("kube-system"),
            ),
            (false, "create", "serviceaccounts/token", own),
        ],
    );

    logs_are_json_and_never_hold_credentials(&log, &token, &object);
}

/// Part of the run above (one operator log): every line is a JSON object a collector can read,
/// and neither the log nor what the operator writes to the API (events, status) holds the AWS
/// secret, a SigV4 signature or the ServiceAccount token.
fn logs_are_json_and_never_hold_credentials(log: &str, token: &str, model: &Value) {
    let malformed = malformed_json_log_lines(log);
    assert!(
        malformed.is_empty(),
        "log lines that are not flat JSON objects with level, ts, logger and msg:\n{}",
        malformed.join("\n")
    );
    let entries: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    assert!(
        entries.iter().any(|e| e["msg"] == "controller started"
            && e["logger"] == "recommender_operator::controller"),
        "the messages are in msg, the tracing target in logger"
    );
    // Inside a reconcile, every line carries the model and the reconcile's ID, as
    // controller-runtime's do; the AWS SDK's lines too (they are logged inside it).
    let in_reconcile: Vec<&Value> = entries
        .iter()
        .filter(|e| e["reconcileID"].is_string())
        .collect();
    assert!(
        in_reconcile
            .iter()
            .all(|e| e["namespace"] == model["metadata"]["namespace"]
                && e["name"] == model["metadata"]["name"]),
        "lines of a reconcile without the model's namespace and name:\n{in_reconcile:#?}"
    );
    assert!(
        in_reconcile.iter().any(|e| e["logger"]
            .as_str()
            .is_some_and(|l| l.starts_with("aws_smithy_runtime"))),
        "the AWS SDK's lines inside a reconcile carry the reconcile's fields"
    );
    assert!(
        entries.iter().any(|e| e["level"] == "debug"
            && e["logger"]
                .as_str()
                .is_some_and(|l| l.starts_with("aws_smithy_runtime"))),
        "RUST_LOG=debug includes the AWS SDK's debug logs, which the check below covers"
    );

    let events = control_plane().kubectl_ok(&["get", "events", "-A", "-o", "json"]);
    for (what, haystack) in [
        ("the operator's log", log.to_owned()),
        ("the events", events),
        ("the model's status", model["status"].to_string()),
    ] {
        for secret in [SECRET_ACCESS_KEY, "Signature=", "AWS4-HMAC-SHA256", token] {
            let lines = log_lines_with(&haystack, secret);
            assert!(
                lines.is_empty(),
                "{what} hold {:?}:\n{}",
                if secret == token {
                    "the ServiceAccount token"
                } else {
                    secret
                },
                lines.join("\n")
            );
        }
    }
}

/// `watchNamespace=team-a`: the rights are a Role in team-a, nothing cluster-wide, and the
/// operator, run with the chart's arguments (`--namespace=team-a`), publishes team-a's models
/// with them.
#[test]
fn watch_namespace_install_is_namespace_scoped() {
    let plane = control_plane();
    let turn = cluster_turn();
    // `kubectl auth can-i` needs the CRD to resolve the resource's group.
    ensure_crd(plane, &turn);
    let _team_a = ScratchNamespace::new(plane, &turn, "team-a");
    let _team_b = ScratchNamespace::new(plane, &turn, "team-b");
    let release = Release::install(
        plane,
        &turn,
        "team-a-operator",
        "team-a-operator",
        &["--set", "crds.install=false,watchNamespace=team-a"],
    );
    let selector = "app.kubernetes.io/instance=team-a-operator";
    // Cluster-wide, the ServiceAccount is bound only to the token and access reviews of secure
    // metrics, which cannot be namespaced; its rights on models are asked below.
    let cluster_wide =
        plane.kubectl_ok(&["get", "clusterrolebindings", "-l", selector, "-o", "name"]);
    assert_eq!(
        cluster_wide.trim(),
        "clusterrolebinding.rbac.authorization.k8s.io/team-a-operator-recommender-operator-metrics-auth",
        "nothing else cluster-wide"
    );
    let roles = plane.kubectl_ok(&[
        "get",
        "roles,rolebindings",
        "-n",
        "team-a",
        "-l",
        selector,
        "-o",
        "name",
    ]);
    assert_eq!(
        roles.lines().count(),
        2,
        "a Role and its binding in team-a: {roles}"
    );

    let subject = release.subject();
    let a = Namespace("team-a");
    let b = Namespace("team-b");
    assert_rights(
        plane,
        &subject,
        &[
            (true, "list", MODELS, a),
            (true, "watch", MODELS, a),
            (true, "patch", MODELS, a),
            (true, "patch", MODEL_STATUS, a),
            (true, "update", MODEL_FINALIZERS, a),
            (true, "create", "events.events.k8s.io", a),
            (
                true,
                "patch",
                "leases.coordination.k8s.io",
                Namespace("team-a-operator"),
            ),
            (false, "list", MODELS, b),
            (false, "watch", MODELS, b),
            (false, "patch", MODEL_STATUS, b),
            (false, "create", "events.events.k8s.io", b),
            (false, "list", MODELS, AllNamespaces),
            (false, "list", MODELS, Namespace(DEFAULT_RELEASE)),
            (false, "get", "secrets", a),
            (false, "patch", "leases.coordination.k8s.io", a),
        ],
    );

    // The operator with the Deployment's arguments and only this token.
    let chart_args = release.operator_args();
    assert!(
        chart_args.iter().any(|a| a == "--namespace=team-a"),
        "{chart_args:?}"
    );
    let (kubeconfig, _) = release.token_kubeconfig();
    let (_emulator, emulator) = start_emulator(plane, "team-a");
    let operator = start_operator(plane, "team-a", &release, &kubeconfig, &emulator.url);
    apply(&model("outside", "team-b"));
    apply(&model("inside", "team-a"));
    wait_ready("team-a", "inside");
    plane.kubectl_ok(&[
        "delete",
        "-n",
        "team-a",
        "recommendermodel",
        "inside",
        "--timeout=120s",
    ]);
    assert!(emulator.configurations().is_empty());
    // The model in team-b was never touched: no finalizer (the chart's policy binds to team-a
    // alone), no status written (it was applied before the one in team-a, whose whole life is
    // over): only the CRD's default, generation 0 observed.
    let outside = plane.get_json(&["-n", "team-b", "recommendermodel", "outside"]);
    assert!(
        outside["metadata"]["finalizers"].is_null()
            && outside["status"] == json!({"observedGeneration": 0}),
        "{outside:#}"
    );
    let log = operator.output();
    let forbidden = log_lines_with(&log, "forbidden");
    assert!(forbidden.is_empty(), "{}", forbidden.join("\n"));
}

/// The kustomize base is accepted by the real API server (server-side dry run: admission,
/// schema and CRD structural checks, nothing persisted) and holds the same objects as the
/// chart's defaults, but for the Namespace (Helm's `--create-namespace` makes that one).
/// `deploy/test_rendering.py` compares them field by field.
#[test]
fn kustomize_base_applies_to_the_real_api_server() {
    let plane = control_plane();
    let _turn = cluster_turn();
    // A server-side dry run does not persist the Namespace, so the namespaced objects of the
    // same apply would be refused (namespace not found) in a fresh cluster: the namespace has
    // to exist first, as it does after any install. (Helm's --create-namespace accepts an
    // existing one, so the Helm tests don't mind.)
    if !plane
        .kubectl(&["get", "namespace", DEFAULT_RELEASE])
        .status
        .success()
    {
        plane.kubectl_ok(&["create", "namespace", DEFAULT_RELEASE]);
    }
    let applied = plane.kubectl_ok(&["apply", "-k", KUSTOMIZE_BASE, "--dry-run=server"]);

    let base = yaml_objects(&plane.kubectl_ok(&["kustomize", KUSTOMIZE_BASE]));
    // kubectl prints `RESOURCE[.GROUP]/NAME created|configured (server dry run)` per object.
    let mut done = std::collections::BTreeSet::new();
    for line in applied.lines() {
        assert!(line.ends_with("(server dry run)"), "{line}");
        let (type_, rest) = line.split_once('/').expect("RESOURCE/NAME");
        let resource = type_.split('.').next().unwrap_or_default();
        let name = rest.split_whitespace().next().unwrap_or_default();
        done.insert((resource.to_owned(), name.to_owned()));
    }
    let expected: std::collections::BTreeSet<(String, String)> = kinds_and_names(&base)
        .into_iter()
        .map(|(kind, name, _)| (kind.to_lowercase(), name))
        .collect();
    assert_eq!(done, expected, "applied:\n{applied}");

    let chart = yaml_objects(&helm_ok(
        plane,
        &[
            "template",
            DEFAULT_RELEASE,
            &chart(),
            "--namespace",
            DEFAULT_RELEASE,
            // Render for this cluster (it serves the finalizer policy's API), as an install does.
            "--validate",
        ],
    ));
    let mut base_names = kinds_and_names(&base);
    base_names.retain(|(kind, _, _)| kind != "Namespace");
    assert_eq!(base_names, kinds_and_names(&chart));
}

/// `helm upgrade` works over an installed release (the CRD, rendered from templates/, is
/// upgraded in place) and `helm uninstall` removes everything but the CRD, so the models live
/// on; installing again adopts the kept CRD.
#[test]
fn helm_upgrade_keeps_the_crd_on_uninstall() {
    let plane = control_plane();
    let turn = cluster_turn();
    let release = Release::install(plane, &turn, DEFAULT_RELEASE, DEFAULT_RELEASE, &[]);
    plane.kubectl_ok(&["wait", "--for=condition=Established", CRD, "--timeout=60s"]);
    let scratch = ScratchNamespace::new(plane, &turn, "deploy-keep");
    let namespace = scratch.name.as_str();
    // No operator runs, so only the CRD's deletion could remove the model.
    apply(&model("survivor", namespace));
    let uid = plane.get_json(&["-n", namespace, "recommendermodel", "survivor"])["metadata"]["uid"]
        .clone();

    helm_ok(
        plane,
        &[
            "upgrade",
            DEFAULT_RELEASE,
            &chart(),
            "--namespace",
            DEFAULT_RELEASE,
            "--reuse-values",
            "--set",
            "logFormat=text",
            "--wait=false",
        ],
    );
    let status: Value = serde_json::from_str(&helm_ok(
        plane,
        &[
            "status",
            DEFAULT_RELEASE,
            "--namespace",
            DEFAULT_RELEASE,
            "-o",
            "json",
        ],
    ))
    .expect("helm status prints JSON");
    assert_eq!(status["version"], 2, "the upgrade made revision 2");
    assert_eq!(status["info"]["status"], "deployed");
    assert!(
        release
            .operator_args()
            .iter()
            .any(|a| a == "--log-format=text"),
        "the upgrade reached the Deployment"
    );
    let crd = plane.get_json(&[CRD]);
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
        "{:#}",
        crd["metadata"]
    );

    let uninstalled = release.uninstall();
    assert!(
        uninstalled.contains("kept due to the resource policy")
            && uninstalled.contains("recommendermodels.pinpoint.recommenders.dev"),
        "helm reports the kept CRD:\n{uninstalled}"
    );
    // Everything else is gone...
    for object in [
        "clusterrole/recommender-operator",
        "clusterrolebinding/recommender-operator",
    ] {
        let out = plane.kubectl(&["get", object]);
        assert!(!out.status.success(), "{object} was left behind");
    }
    let left = plane.kubectl_ok(&[
        "get",
        "deployments,serviceaccounts,services,roles,rolebindings",
        "-n",
        DEFAULT_RELEASE,
        "-l",
        "app.kubernetes.io/instance=recommender-operator",
        "-o",
        "name",
    ]);
    assert_eq!(left.trim(), "", "left behind after uninstall");
    // ...but the CRD, still established, and the model with it.
    plane.kubectl_ok(&["wait", "--for=condition=Established", CRD, "--timeout=10s"]);
    let survivor = plane.get_json(&["-n", namespace, "recommendermodel", "survivor"]);
    assert_eq!(survivor["metadata"]["uid"], uid, "the same object");

    // Installing again adopts the kept CRD instead of refusing it.
    let again = Release::install(plane, &turn, DEFAULT_RELEASE, DEFAULT_RELEASE, &[]);
    let manifest = helm_ok(
        plane,
        &[
            "get",
            "manifest",
            DEFAULT_RELEASE,
            "--namespace",
            DEFAULT_RELEASE,
        ],
    );
    assert!(
        manifest.contains("kind: CustomResourceDefinition"),
        "the new release owns the CRD"
    );
    again.uninstall();
}
