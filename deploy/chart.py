"""What the chart's tests share: the paths, the pinned tools, rendering the chart with Helm, and
reading what it renders (objects by key, RBAC rules, the operator's arguments), values files, the
schema's refusals, and the values that turn every monitoring object on.

Needs helm, kubectl and promtool (scripts/tools.sh builds them into a cache it names with `bin-dir`;
HELM, KUBECTL and PROMTOOL override) and PyYAML; a missing tool fails the tests with how to get it.
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


def render(*args, api_versions=(MAP_API,)):
    extra = [a for v in api_versions for a in ("--api-versions", v)]
    out = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *extra, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_key(docs):
    return {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")): d for d in docs}


def values_file(tmp_path, text):
    path = tmp_path / "values.yaml"
    path.write_text(text)
    return ["-f", str(path)]


def assert_rejected_by_schema(args):
    result = helm("template", "r", str(CHART), *args, check=False)
    assert result.returncode != 0
    assert "schema" in result.stderr


def rules(role):
    return {
        (g, r): set(rule["verbs"])
        for rule in role["rules"]
        for g in rule.get("apiGroups", [])
        for r in rule.get("resources", [])
    }


def operator_bindings(docs):
    """(kind, name) of every binding whose subject is the operator's ServiceAccount."""
    sa = {"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}
    return {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"].endswith("Binding") and sa in d.get("subjects", [])}


def args_of(docs):
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    return deploy["spec"]["template"]["spec"]["containers"][0]["args"]


# Every monitoring object on, each tunable set (test_monitoring.py and test_packaging.py).
RULE_VALUES = """
metrics:
  prometheusRule:
    enabled: true
    labels: {release: kube-prometheus-stack}
    additionalLabels: {team: platform}
    selector: 'job="recommender-operator",namespace="operators"'
    runbookUrl: https://wiki.example.com/recommender-operator
    notReadyFor: 30m
    quotaExceededFor: 10m
    quotaWarningModels: 80
    pinpointErrorRatio: 0.25
    pinpointErrorsFor: 20m
    pinpointThrottledRatio: 0.02
    pinpointThrottledFor: 30m
    reconcileErrorRatio: 0.3
    reconcileErrorsFor: 45m
    downFor: 2m
    noLeaderFor: 3m
  grafanaDashboard:
    enabled: true
    label: grafana_dashboard
    labelValue: "true"
    namespace: monitoring
    annotations: {grafana_folder: Operators}
"""
