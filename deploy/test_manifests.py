"""Checks the Helm chart and the kustomize base without a cluster.

Needs helm and kubectl (scripts/tools.sh builds them into a cache it names with `bin-dir`;
HELM and KUBECTL override) and PyYAML; a missing tool fails the tests with how to get it.

    pytest deploy
"""

import os
import pathlib
import shutil
import subprocess

import pytest
import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent
REPO = DEPLOY.parent
CHART = DEPLOY / "helm" / "recommender-operator"
BASE = DEPLOY / "manifests"
CRD = REPO / "crds" / "recommendermodel.yaml"
# scripts/test.sh sets RECOMMENDER_TOOLS_BIN; otherwise the tools script names its keyed cache.
TOOLS = pathlib.Path(
    os.environ.get("RECOMMENDER_TOOLS_BIN")
    or subprocess.run(
        ["bash", str(REPO / "scripts" / "tools.sh"), "bin-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
)
RELEASE = NAMESPACE = "recommender-operator"
# Labels that only say which tool rendered an object.
TOOL_LABELS = {"helm.sh/chart", "app.kubernetes.io/managed-by"}


def tool(name):
    path = os.environ.get(name.upper()) or shutil.which(name) or str(TOOLS / name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} not found: run `bash scripts/tools.sh` (or set {name.upper()})")
    return path


def helm(*args, check=True):
    return subprocess.run([tool("helm"), *args], capture_output=True, text=True, check=check)


# What a cluster that serves MutatingAdmissionPolicy (Kubernetes 1.36+) tells Helm; offline,
# `helm template` assumes an old cluster without it.
MAP_API = "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy"
FINALIZER = "pinpoint.recommenders.dev/configuration"


def render(*args, api_versions=(MAP_API,)):
    extra = [a for v in api_versions for a in ("--api-versions", v)]
    out = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *extra, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_key(docs):
    return {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")): d for d in docs}


def strip_tool_labels(obj):
    if isinstance(obj, dict):
        return {
            k: strip_tool_labels({lk: lv for lk, lv in v.items() if lk not in TOOL_LABELS} if k == "labels" else v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [strip_tool_labels(v) for v in obj]
    return obj


def test_crd_copies_are_identical():
    text = CRD.read_bytes()
    assert (CHART / "files" / "recommendermodel.yaml").read_bytes() == text, "cp crds/recommendermodel.yaml into the chart's files/"
    assert (BASE / "recommendermodel.yaml").read_bytes() == text, "cp crds/recommendermodel.yaml into deploy/manifests/"


def test_lint():
    result = helm("lint", "--strict", str(CHART), check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "foo=bar"],
        ["--set", "image.foo=bar"],
        ["--set", "metrics.serviceMonitor.bogus=1"],
        ["--set", "tolerations[0].bogus=1"],
        ["--set", "logFormat=xml"],
    ],
    ids=lambda a: a[-1],
)
def test_schema_rejects(args):
    result = helm("template", "r", str(CHART), *args, check=False)
    assert result.returncode != 0
    assert "schema" in result.stderr


def test_default_render_matches_kustomize_base():
    out = subprocess.run([tool("kubectl"), "kustomize", str(BASE)], capture_output=True, text=True, check=True).stdout
    base = by_key(strip_tool_labels(d) for d in yaml.safe_load_all(out) if d)
    namespace = base.pop(("Namespace", NAMESPACE, None))
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    chart = by_key(strip_tool_labels(d) for d in render())
    assert sorted(chart, key=str) == sorted(base, key=str)
    for key, obj in chart.items():
        assert obj == base[key], f"{key} differs between the chart and deploy/manifests"


def test_crd_is_kept_and_unchanged():
    (crd,) = [d for d in render() if d["kind"] == "CustomResourceDefinition"]
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crd["spec"] == yaml.safe_load(CRD.read_text())["spec"]
    assert not [d for d in render("--set", "crds.install=false") if d["kind"] == "CustomResourceDefinition"]


def test_deployment_is_locked_down():
    (deploy,) = [d for d in render() if d["kind"] == "Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "ghcr.io/recommender-operator/recommender-operator:0.1.0"
    assert c["args"][0] == "run" and "--log-format=json" in c["args"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = c["securityContext"]
    assert sc["runAsUser"] == 65532 and sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 8080, "probes": 8081}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    # Leader election, with the Lease in the pod's namespace and the holder named after the pod.
    assert "--leader-elect" in c["args"]
    assert [e["name"] for e in c["env"]] == ["POD_NAMESPACE", "POD_NAME"]
    assert c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert deploy["spec"]["replicas"] == 1
    assert [d for d in render("--set", "replicaCount=3") if d["kind"] == "Deployment"][0]["spec"]["replicas"] == 3


def rules(role):
    return {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}


REQUIRED = {
    ("pinpoint.recommenders.dev", "recommendermodels"): {"get", "list", "watch", "patch", "update"},
    ("pinpoint.recommenders.dev", "recommendermodels/status"): {"patch", "update"},
    ("pinpoint.recommenders.dev", "recommendermodels/finalizers"): {"patch", "update"},
    ("events.k8s.io", "events"): {"create", "patch"},
}
LEASES = {("coordination.k8s.io", "leases"): {"get", "create", "patch"}}


def test_rbac_cluster_wide_by_default():
    docs = by_key(render())
    assert rules(docs[("ClusterRole", RELEASE, None)]) == REQUIRED
    binding = docs[("ClusterRoleBinding", RELEASE, None)]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
    assert rules(docs[("Role", f"{RELEASE}-leader-election", NAMESPACE)]) == LEASES


def test_rbac_scoped_to_watch_namespace():
    docs = render("--set", "watchNamespace=shop")
    kinds = {d["kind"] for d in docs}
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    docs = by_key(docs)
    assert rules(docs[("Role", RELEASE, "shop")]) == REQUIRED
    assert docs[("RoleBinding", RELEASE, "shop")]["subjects"][0]["namespace"] == NAMESPACE
    (deploy,) = [d for k, d in docs.items() if k[0] == "Deployment"]
    assert "--namespace=shop" in deploy["spec"]["template"]["spec"]["containers"][0]["args"]


def test_irsa_and_region():
    arn = "arn:aws:iam::123456789012:role/recommender-operator"
    docs = by_key(render("--set", f"aws.roleArn={arn}", "--set", "aws.region=eu-west-1"))
    sa = docs[("ServiceAccount", RELEASE, NAMESPACE)]
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": arn}
    (deploy,) = [d for k, d in docs.items() if k[0] == "Deployment"]
    env = deploy["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "AWS_REGION", "value": "eu-west-1"} in env
    sa = by_key(render("--set", f"serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={arn}"))[
        ("ServiceAccount", RELEASE, NAMESPACE)
    ]
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": arn}


def test_optional_objects_off_by_default_and_renderable():
    kinds = {d["kind"] for d in render()}
    assert "ServiceMonitor" not in kinds and "PodDisruptionBudget" not in kinds
    docs = render("--set", "metrics.serviceMonitor.enabled=true", "--set", "podDisruptionBudget.enabled=true")
    (sm,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["spec"]["endpoints"][0]["port"] == "metrics"
    (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == 1


def test_service_exposes_metrics():
    (svc,) = [d for d in render() if d["kind"] == "Service"]
    assert svc["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]


def test_finalizer_policy_adds_the_operators_finalizer_at_create():
    docs = by_key(render())
    policy = docs[("MutatingAdmissionPolicy", RELEASE, None)]
    assert policy["spec"]["failurePolicy"] == "Ignore"
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule["operations"] == ["CREATE"] and rule["resources"] == ["recommendermodels"]
    (mutation,) = policy["spec"]["mutations"]
    assert f'value: "{FINALIZER}"' in mutation["jsonPatch"]["expression"]
    assert "matchConditions" not in policy["spec"], "a matchCondition costs every create"
    binding = docs[("MutatingAdmissionPolicyBinding", RELEASE, None)]
    assert binding["spec"] == {"policyName": RELEASE}


def test_finalizer_policy_binds_to_the_watched_namespace_only():
    docs = by_key(render("--set", "watchNamespace=shop"))
    binding = docs[("MutatingAdmissionPolicyBinding", RELEASE, None)]
    selector = binding["spec"]["matchResources"]["namespaceSelector"]
    assert selector == {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}


def test_finalizer_policy_left_out_where_not_served_or_turned_off():
    for docs in (render(api_versions=()), render("--set", "finalizerPolicy.enabled=false")):
        kinds = {d["kind"] for d in docs}
        assert not kinds & {"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}
        assert "Deployment" in kinds
