"""Checks what the chart renders by default, without a cluster: the same objects as the kustomize
base, the CRD (kept, and the repository's), a locked-down Deployment and pod security context,
IRSA and the Region, the Service, the optional objects, and the finalizer admission policy.

Needs helm and kubectl (see chart.py).

    pytest deploy/test_rendering.py
"""

import subprocess

import yaml

from chart import BASE, CHART, CRD, NAMESPACE, RELEASE, by_key, helm, render, tool, values_file

# Labels that only say which tool rendered an object.
TOOL_LABELS = {"helm.sh/chart", "app.kubernetes.io/managed-by"}
FINALIZER = "pinpoint.recommenders.dev/configuration"


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
    # controller-runtime's flag names, on the container's ports.
    assert {"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081"} <= set(c["args"])
    assert not [a for a in c["args"] if a.startswith(("--metrics-addr", "--probe-addr"))]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
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


def test_no_fixed_uid_unless_asked(tmp_path):
    def contexts(*args):
        (deploy,) = [d for d in render(*args) if d["kind"] == "Deployment"]
        pod = deploy["spec"]["template"]["spec"]
        return pod["securityContext"], pod["containers"][0]["securityContext"]

    for sc in contexts():
        assert not {"runAsUser", "runAsGroup"} & set(sc), "OpenShift's restricted-v2 assigns the UID"
        assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    _, container = contexts()
    assert container["allowPrivilegeEscalation"] is False and container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
    for sc in contexts("--set", "securityContext.runAsUser=65532,securityContext.runAsGroup=65532"):
        assert (sc["runAsUser"], sc["runAsGroup"]) == (65532, 65532)
    # A UID from a values file is a float to Helm; it must still render as an integer.
    for sc in contexts(*values_file(tmp_path, "securityContext: {runAsUser: 1000680000}\n")):
        assert sc["runAsUser"] == 1000680000 and "runAsGroup" not in sc


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


def test_finalizer_policy_left_out_where_not_served_or_turned_off():
    for docs in (render(api_versions=()), render("--set", "finalizerPolicy.enabled=false")):
        kinds = {d["kind"] for d in docs}
        assert not kinds & {"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}
        assert "Deployment" in kinds
