"""Checks the Helm chart and the kustomize base without a cluster.

Needs helm and kubectl (scripts/tools.sh builds them into a cache it names with `bin-dir`;
HELM and KUBECTL override) and PyYAML; a missing tool fails the tests with how to get it.
The alert rules are checked by promtool (`check rules`, and `test rules` with series that must and
must not fire them); the rules' and the dashboard's queries are read by a PromQL lexer here for the
metric names and matchers they use.

    pytest deploy
"""

import functools
import json
import os
import pathlib
import re
import shutil
import subprocess
import tarfile

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
        # The older top-level list moved to tenancy.allowedRoles, as objects.
        ["--set", "allowedRoles[0]=team-a=arn:aws:iam::123456789012:role/x"],
        ["--set", "tenancy.allowedRoles[0]=team-a=arn:aws:iam::123456789012:role/x"],
        ["--set", "tenancy.allowedRole[0].namespace=team-a"],
        ["--set", "tenancy.adoption[0].namespace=team-a,tenancy.adoption[0].configurationId=x"],
        ["--set", "tenancy.shared=true"],
        ["--set", "watchNamespaces[0]=Team_A"],
        ["--set", "metrics.secured=false"],
        ["--set", "metrics.readers[0].name=prometheus"],
        ["--set", "metrics.serviceMonitor.tlsConfig.insecure=true"],
        ["--set", "securityContext.runAsUser=0"],
        ["--set", "securityContext.fsGroup=1"],
        ["--set", "rbac.aggregateToDefault=false"],
        ["--set", "networkPolicy.enable=true"],
        ["--set", "networkPolicy.metricsFrom[0].namespaceselector.matchLabels.a=b"],
        ["--set", "networkPolicy.apiServer[0].ports[0]=443"],
        ["--set", "networkPolicy.awsEgress[0].cidr=0.0.0.0/0,networkPolicy.awsEgress[0].peers[0].podSelector.matchLabels.a=b"],
        ["--set", "image.digest=latest"],
        ["--set", "pinpointRate=0"],
        ["--set", "pinpointBurst=fast"],
        ["--set", "leaderElection.leaseDuraton=30s"],
        ["--set", "leaderElection.leaseDuration=soon"],
        ["--set", "logLevel=info debug"],
        ["--set", "extraArgs[0]="],
        ["--set", "extraVolumes[0].name=ca"],
        ["--set", "extraVolumeMounts[0].name=ca,extraVolumeMounts[0].mountPath=/ca,extraVolumeMounts[0].readonly=true"],
        ["--set", "topologySpreadConstraints[0].maxSkew=1,topologySpreadConstraints[0].topologyKey=zone"],
        ["--set", "extraVolume[0].name=ca"],
        ["--set", "tracing.otlpEndpoint=otel-collector:4318"],
        ["--set", "tracing.endpoint=http://otel-collector:4318"],
    ],
    ids=lambda a: a[-1],
)
def test_schema_rejects(args):
    assert_rejected_by_schema(args)


def assert_rejected_by_schema(args):
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


def rules(role):
    return {
        (g, r): set(rule["verbs"])
        for rule in role["rules"]
        for g in rule.get("apiGroups", [])
        for r in rule.get("resources", [])
    }


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


def operator_bindings(docs):
    """(kind, name) of every binding whose subject is the operator's ServiceAccount."""
    sa = {"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}
    return {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"].endswith("Binding") and sa in d.get("subjects", [])}


def args_of(docs):
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    return deploy["spec"]["template"]["spec"]["containers"][0]["args"]


@pytest.mark.parametrize(
    "args,namespaces",
    [
        (["--set", "watchNamespace=shop"], ["shop"]),
        (["--set", "watchNamespaces={shop}"], ["shop"]),
        (["--set", "watchNamespaces={shop,books,music}"], ["shop", "books", "music"]),
    ],
    ids=["older string", "one-element list", "three namespaces"],
)
def test_rbac_scoped_to_watched_namespaces(args, namespaces):
    docs = render(*args)
    # The rights on models: a Role and its binding in each watched namespace, nothing cluster-wide.
    assert {(d["kind"], d["metadata"].get("namespace")) for d in docs if d["metadata"]["name"] == RELEASE and "Role" in d["kind"]} == {
        (kind, ns) for ns in namespaces for kind in ("Role", "RoleBinding")
    }
    keyed = by_key(docs)
    for ns in namespaces:
        assert rules(keyed[("Role", RELEASE, ns)]) == REQUIRED
        binding = keyed[("RoleBinding", RELEASE, ns)]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": RELEASE}
        assert binding["subjects"][0]["namespace"] == NAMESPACE
    # Cluster-wide, the operator keeps only the token and access reviews of secure metrics.
    assert {b for b in operator_bindings(docs) if b[0] == "ClusterRoleBinding"} == {("ClusterRoleBinding", f"{RELEASE}-metrics-auth")}
    assert f"--namespace={','.join(namespaces)}" in args_of(docs)
    binding = keyed[("MutatingAdmissionPolicyBinding", RELEASE, None)]
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {
        "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}]
    }


def test_watch_namespace_forms_are_exclusive():
    result = helm("template", "r", str(CHART), "--set", "watchNamespace=a", "--set", "watchNamespaces={b}", check=False)
    assert result.returncode != 0 and "not both" in result.stderr
    assert not [a for a in args_of(render()) if a.startswith("--namespace")], "all namespaces by default"


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


TENANCY_DIR = "/etc/recommender-operator/tenancy"


def tenancy(docs):
    """The tenancy file the chart renders, parsed."""
    cm = by_key(docs)[("ConfigMap", f"{RELEASE}-tenancy", NAMESPACE)]
    assert list(cm["data"]) == ["tenancy.yaml"]
    return yaml.safe_load(cm["data"]["tenancy.yaml"])


def values_file(tmp_path, text):
    path = tmp_path / "values.yaml"
    path.write_text(text)
    return ["-f", str(path)]


def test_tenancy_file_is_mounted_as_a_directory_and_passed():
    docs = render()
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert f"--tenancy-config={TENANCY_DIR}/tenancy.yaml" in c["args"]
    assert not [a for a in c["args"] if a.startswith("--allowed-roles")], "the flag conflicts with --tenancy-config"
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == "tenancy"]
    # A subPath mount would never see an update; the operator re-reads the file instead of restarting.
    assert mount == {"name": "tenancy", "mountPath": TENANCY_DIR, "readOnly": True}
    (volume,) = [v for v in pod["volumes"] if v["name"] == "tenancy"]
    assert volume == {"name": "tenancy", "configMap": {"name": f"{RELEASE}-tenancy"}}
    assert not [k for k in deploy["spec"]["template"]["metadata"].get("annotations", {}) if "checksum" in k]


def test_tenancy_open_by_default():
    assert tenancy(render()) == {}, "no key: every role, and adoption of any unmanaged configuration"


def test_tenancy_shared_cluster_renders_both_keys_closed():
    assert tenancy(render("--set", "tenancy.sharedCluster=true")) == {"allowedRoles": [], "adoption": []}


RULES = """
tenancy:
  allowedRoles:
    - namespace: team-a
      roleArn: arn:aws:iam::123456789012:role/team-a-*
    - namespace: "team-*"
      roleArn: arn:aws:iam::123456789012:role/shared
  adoption:
    - namespace: team-a
      configurationIds: ["*"]
"""


def test_tenancy_rules_as_written(tmp_path):
    rules_ = yaml.safe_load(RULES)["tenancy"]
    assert tenancy(render(*values_file(tmp_path, RULES))) == rules_
    assert tenancy(render(*values_file(tmp_path, RULES), "--set", "tenancy.sharedCluster=true")) == rules_
    # Not shared: a key is written only when it has rules, so the other one stays open.
    only_roles = render(*values_file(tmp_path, RULES), "--set", "tenancy.adoption=null")
    assert tenancy(only_roles) == {"allowedRoles": rules_["allowedRoles"]}
    shared = render(*values_file(tmp_path, RULES), "--set", "tenancy.adoption=null", "--set", "tenancy.sharedCluster=true")
    assert tenancy(shared) == {"allowedRoles": rules_["allowedRoles"], "adoption": []}


ACCOUNTS = """
tenancy:
  accounts:
    bindings:
      - namespace: team-a
        roleArn: arn:aws:iam::111111111111:role/recommender-operator-target
        externalId: team-a-7f3c
      - namespace: "team-*"
        roleArn: arn:aws:iam::222222222222:role/recommender-operator-target
    unbound: refuse
"""


def test_account_bindings_as_written(tmp_path):
    written = tenancy(render(*values_file(tmp_path, ACCOUNTS)))
    assert written == {"accounts": yaml.safe_load(ACCOUNTS)["tenancy"]["accounts"]}
    assert "accounts" not in tenancy(render()), "no bindings unless asked for"
    for bad in [
        "tenancy.accounts.bindings[0].namespace=a,tenancy.accounts.bindings[0].roleArn=arn:aws:iam::1:role/x",
        "tenancy.accounts.unbound=sometimes",
        "tenancy.accounts.bindings[0].namespace=a,tenancy.accounts.bindings[0].roleArn=arn:aws:iam::111111111111:role/x,tenancy.accounts.bindings[0].externalId=a b",
    ]:
        assert_rejected_by_schema(["--set", bad])


METRICS_AUTH = {
    ("authentication.k8s.io", "tokenreviews"): {"create"},
    ("authorization.k8s.io", "subjectaccessreviews"): {"create"},
}
METRICS_READER = [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def service_monitor(*args):
    (sm,) = [d for d in render("--set", "metrics.serviceMonitor.enabled=true", *args) if d["kind"] == "ServiceMonitor"]
    (endpoint,) = sm["spec"]["endpoints"]
    return endpoint


def test_secure_metrics_by_default():
    docs = render()
    keyed = by_key(docs)
    assert keyed[("ClusterRole", f"{RELEASE}-metrics-reader", None)]["rules"] == METRICS_READER
    assert rules(keyed[("ClusterRole", f"{RELEASE}-metrics-auth", None)]) == METRICS_AUTH
    assert keyed[("ClusterRoleBinding", f"{RELEASE}-metrics-auth", None)]["roleRef"]["name"] == f"{RELEASE}-metrics-auth"
    assert ("ClusterRoleBinding", f"{RELEASE}-metrics-auth") in operator_bindings(docs)
    # Nobody is bound to the reader unless named in metrics.readers.
    assert ("ClusterRoleBinding", f"{RELEASE}-metrics-reader", None) not in keyed
    args = args_of(docs)
    assert "--metrics-secure=true" in args
    assert not [a for a in args if a.startswith("--metrics-cert-path")], "self-signed by default"
    endpoint = service_monitor()
    assert endpoint["scheme"] == "https"
    assert endpoint["bearerTokenFile"] == TOKEN_FILE, "Prometheus sends its own ServiceAccount token"
    assert endpoint["tlsConfig"] == {"insecureSkipVerify": True}


def test_secure_metrics_with_a_certificate_secret():
    docs = render("--set", "metrics.certSecret=operator-metrics-tls")
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    cert_dir = "/etc/recommender-operator/metrics-certs"
    assert f"--metrics-cert-path={cert_dir}" in c["args"]
    assert {"name": "metrics-certs", "mountPath": cert_dir, "readOnly": True} in c["volumeMounts"]
    assert {"name": "metrics-certs", "secret": {"secretName": "operator-metrics-tls"}} in pod["volumes"]
    endpoint = service_monitor("--set", "metrics.certSecret=operator-metrics-tls")
    assert endpoint["tlsConfig"] == {
        "ca": {"secret": {"name": "operator-metrics-tls", "key": "ca.crt"}},
        "serverName": f"{RELEASE}-metrics.{NAMESPACE}.svc",
    }
    # A tlsConfig of one's own wins.
    endpoint = service_monitor("--set", "metrics.serviceMonitor.tlsConfig.serverName=metrics.example")
    assert endpoint["tlsConfig"] == {"serverName": "metrics.example"}


def test_service_monitor_token_from_a_secret():
    endpoint = service_monitor("--set", "metrics.serviceMonitor.tokenSecret.name=scraper-token")
    assert "bearerTokenFile" not in endpoint
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": {"name": "scraper-token", "key": "token"}}


def test_insecure_metrics_render_no_auth_rules_and_plain_http():
    docs = render("--set", "metrics.secure=false")
    keyed = by_key(docs)
    assert not [k for k in keyed if k[1] == f"{RELEASE}-metrics-auth"]
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "Role") and set(rules(d)) & set(METRICS_AUTH)]
    assert "--metrics-secure=false" in args_of(docs)
    endpoint = service_monitor("--set", "metrics.secure=false")
    assert endpoint["scheme"] == "http"
    assert not {"bearerTokenFile", "authorization", "tlsConfig"} & set(endpoint)
    # The certificate is for the HTTPS server only.
    docs = render("--set", "metrics.secure=false", "--set", "metrics.certSecret=operator-metrics-tls")
    assert not [a for a in args_of(docs) if a.startswith("--metrics-cert-path")]


def test_metrics_readers_are_bound():
    docs = by_key(render("--set", "metrics.readers[0].name=prometheus,metrics.readers[0].namespace=monitoring"))
    binding = docs[("ClusterRoleBinding", f"{RELEASE}-metrics-reader", None)]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{RELEASE}-metrics-reader"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"}]


AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def test_aggregated_roles_for_admin_edit_and_view():
    docs = by_key(render())
    edit = docs[("ClusterRole", f"{RELEASE}-edit", None)]
    view = docs[("ClusterRole", f"{RELEASE}-view", None)]
    assert {k for k, v in edit["metadata"]["labels"].items() if k.startswith(AGGREGATE) and v == "true"} == {
        AGGREGATE + "admin",
        AGGREGATE + "edit",
    }
    assert {k for k in view["metadata"]["labels"] if k.startswith(AGGREGATE)} == {AGGREGATE + "view"}
    assert view["metadata"]["labels"][AGGREGATE + "view"] == "true"
    models = ("pinpoint.recommenders.dev", "recommendermodels")
    status = ("pinpoint.recommenders.dev", "recommendermodels/status")
    assert rules(edit) == {
        models: {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
        status: {"get"},
    }
    assert rules(view) == {models: {"get", "list", "watch"}, status: {"get"}}
    off = by_key(render("--set", "rbac.aggregateToDefaultRoles=false"))
    assert ("ClusterRole", f"{RELEASE}-edit", None) not in off and ("ClusterRole", f"{RELEASE}-view", None) not in off


def test_rbac_create_false_renders_no_rbac():
    kinds = {d["kind"] for d in render("--set", "rbac.create=false")}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


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


def network_policy(*args):
    (policy,) = [d for d in render("--set", "networkPolicy.enabled=true", *args) if d["kind"] == "NetworkPolicy"]
    return policy["spec"]


def test_network_policy_off_by_default():
    assert "NetworkPolicy" not in {d["kind"] for d in render()}


def test_network_policy_defaults_when_enabled():
    spec = network_policy()
    assert spec["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "recommender-operator", "app.kubernetes.io/instance": RELEASE}
    }
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [], "nothing may reach the pod until metricsFrom names a scraper"
    dns, api, aws = spec["egress"]
    assert dns == {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    assert api == {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
    }
    assert aws == {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "protocol": "TCP"}]}


NETWORK = """
networkPolicy:
  metricsFrom:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
  probesFrom:
    - ipBlock: {cidr: 10.0.0.0/16}
  dnsTo:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
  apiServer:
    - cidr: 10.1.2.3/32
      ports: [6443]
    - peers: [{ipBlock: {cidr: 10.9.0.0/16}}]
      ports: [443]
  awsEgress:
    - cidr: 10.20.0.0/16
      except: [10.20.1.0/24]
      ports: [443]
  extraEgress:
    - to: [{ipBlock: {cidr: 169.254.170.23/32}}]
      ports: [{port: 80, protocol: TCP}]
"""


def test_network_policy_from_values(tmp_path):
    spec = network_policy(*values_file(tmp_path, NETWORK))
    given = yaml.safe_load(NETWORK)["networkPolicy"]
    assert spec["ingress"] == [
        {"from": given["metricsFrom"], "ports": [{"port": "metrics", "protocol": "TCP"}]},
        {"from": given["probesFrom"], "ports": [{"port": "probes", "protocol": "TCP"}]},
    ]
    dns, api, api_peers, aws, extra = spec["egress"]
    assert dns["to"] == given["dnsTo"]
    assert api == {"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}], "ports": [{"port": 6443, "protocol": "TCP"}]}
    assert api_peers["to"] == [{"ipBlock": {"cidr": "10.9.0.0/16"}}]
    assert aws["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16", "except": ["10.20.1.0/24"]}}]
    assert extra == given["extraEgress"][0]


DIGEST = "sha256:" + "0123456789abcdef" * 4

EVERY_NEW_VALUE = f"""
image:
  tag: "9.9.9"
  digest: {DIGEST}
pinpointRate: 200
pinpointBurst: 400
leaderElection:
  enabled: true
  leaseDuration: 30s
  leaseName: shop-operator
logLevel: info,recommender_operator=debug
logFormat: text
tracing:
  otlpEndpoint: http://otel-collector.observability:4318
extraArgs: ["--resync=5m", "--concurrency=2"]
extraEnv:
  - name: SSL_CERT_FILE
    value: /etc/ssl/custom/ca.crt
extraVolumes:
  - name: ca-bundle
    configMap:
      name: corporate-ca
extraVolumeMounts:
  - name: ca-bundle
    mountPath: /etc/ssl/custom
    readOnly: true
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
  - maxSkew: 2
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: DoNotSchedule
    labelSelector:
      matchLabels: {{app: other}}
priorityClassName: system-cluster-critical
replicaCount: 2
"""


def deployment(*args):
    (deploy,) = [d for d in render(*args) if d["kind"] == "Deployment"]
    return deploy["spec"]["template"]["spec"]


def test_every_new_value_renders_and_passes_the_schema(tmp_path):
    pod = deployment(*values_file(tmp_path, EVERY_NEW_VALUE))
    (c,) = pod["containers"]
    assert c["image"] == f"ghcr.io/recommender-operator/recommender-operator@{DIGEST}", "the digest wins over the tag"
    for arg in [
        "--pinpoint-rate=200",
        "--pinpoint-burst=400",
        "--leader-elect",
        "--lease-duration=30s",
        "--leader-election-lease=shop-operator",
        "--zap-log-level=info,recommender_operator=debug",
        "--log-format=text",
        "--otlp-endpoint=http://otel-collector.observability:4318",
    ]:
        assert arg in c["args"], arg
    assert c["args"][-2:] == ["--resync=5m", "--concurrency=2"], "extraArgs come last, so they win"
    assert {"name": "SSL_CERT_FILE", "value": "/etc/ssl/custom/ca.crt"} in c["env"]
    assert c["volumeMounts"][-1] == {"name": "ca-bundle", "mountPath": "/etc/ssl/custom", "readOnly": True}
    assert pod["volumes"][-1] == {"name": "ca-bundle", "configMap": {"name": "corporate-ca"}}
    own, other = pod["topologySpreadConstraints"]
    assert own["labelSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "recommender-operator", "app.kubernetes.io/instance": RELEASE}
    }, "a constraint without a selector counts the operator's own pods"
    assert own["topologyKey"] == "topology.kubernetes.io/zone" and own["maxSkew"] == 1
    assert other["labelSelector"] == {"matchLabels": {"app": "other"}}
    assert pod["priorityClassName"] == "system-cluster-critical"
    # The strict lint with the same values: the templates render them without warnings.
    lint = helm("lint", "--strict", str(CHART), *values_file(tmp_path, EVERY_NEW_VALUE), check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_image_digest_wins_over_the_tag():
    (c,) = deployment("--set", f"image.digest={DIGEST}")["containers"]
    assert c["image"] == f"ghcr.io/recommender-operator/recommender-operator@{DIGEST}"
    (c,) = deployment("--set", "image.tag=1.2.3")["containers"]
    assert c["image"] == "ghcr.io/recommender-operator/recommender-operator:1.2.3"


def test_extra_args_come_after_the_charts_args():
    default = args_of(render())
    args = args_of(render("--set", "extraArgs={--pinpoint-rate=7,--resync=1h}"))
    assert args == default + ["--pinpoint-rate=7", "--resync=1h"]


def test_defaults_pass_every_tunable_flag():
    args = args_of(render())
    for arg in ["--pinpoint-rate=50", "--pinpoint-burst=100", "--lease-duration=15s", "--zap-log-level=info"]:
        assert arg in args, arg
    assert not [a for a in args if a.startswith("--leader-election-lease")], "the operator's own default"
    assert not [a for a in args if a.startswith("--otlp-endpoint")], "no tracing unless asked for"
    pod = deployment()
    assert "topologySpreadConstraints" not in pod and "priorityClassName" not in pod


def test_leader_election_off_only_for_a_single_replica():
    args = args_of(render("--set", "leaderElection.enabled=false"))
    assert not [a for a in args if a.startswith(("--leader-elect", "--lease-duration"))]
    result = helm("template", "r", str(CHART), "--set", "leaderElection.enabled=false,replicaCount=2", check=False)
    assert result.returncode != 0 and "needs leaderElection.enabled" in result.stderr


# --- Alerts and the dashboard: the metrics they read are the ones the operator exports ---

SRC = REPO / "src"
# Prometheus' own series, and the kubelet's cAdvisor ones (the container's CPU and memory).
NOT_THE_OPERATORS = {"up", "container_cpu_usage_seconds_total", "container_memory_working_set_bytes"}
# What prometheus-client's OpenMetrics text encoder writes for each metric type it registers.
SUFFIXES = {"Counter": ["_total"], "Gauge": [""], "Histogram": ["_bucket", "_sum", "_count"], "Info": ["_info"]}
REGISTER = re.compile(r"\.register(_with_unit)?\s*\(")


def call_args(text, start):
    """The top-level, comma-separated arguments of the call whose `(` is at text[start - 1]."""
    args, depth, current, i = [], 0, "", start
    while i < len(text):
        ch = text[i]
        if ch == '"':
            end = text.index('"', i + 1)
            while text[end - 1] == "\\":
                end = text.index('"', end + 1)
            current += text[i : end + 1]
            i = end + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return [a.strip() for a in [*args, current] if a.strip()]
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(current)
            current = ""
            i += 1
            continue
        current += ch
        i += 1
    raise AssertionError(f"unclosed call at {text[start - 40 : start]!r}")


def metric_type(text, arg):
    """The prometheus-client type of a metric argument: named in the expression, else in the
    `let` that binds its variable, else in the struct field of that name."""
    kinds = "|".join(SUFFIXES)
    found = re.search(rf"\b({kinds})\b", arg)
    if not found:
        # `x`, `self.x`, `queue.x.clone()`: the variable or field is the last name of the path.
        var = re.sub(r"\.clone\(\)$", "", arg.strip("& ")).split(".")[-1]
        found = re.search(rf"\blet\s+(?:mut\s+)?{var}\b[^;]*?\b({kinds})\b", text, re.S) or re.search(
            rf"\b{var}\s*:\s*[^;=\n]*?\b({kinds})\b", text
        )
    assert found, f"cannot tell the metric type of {arg!r}"
    return found.group(1)


@functools.cache
def registered_metrics():
    """{family name: type} for every metric src/ registers with prometheus-client."""
    families = {}
    for path in sorted(SRC.rglob("*.rs")):
        text = path.read_text()
        assert "sub_registry_with_prefix" not in text, f"{path}: prefixes are not understood here; teach registered_metrics()"
        for m in REGISTER.finditer(text):
            args = call_args(text, m.end())
            if not args or not args[0].startswith('"'):
                continue  # some other register()
            name = args[0].strip('"')
            if m.group(1):  # register_with_unit(name, help, unit, metric): the unit is appended
                unit = re.fullmatch(r"Unit::(\w+)(?:\(\s*\"(\w+)\"\s*\))?", args[2])
                assert unit, f"{path}: unit {args[2]!r}"
                name += "_" + (unit.group(2) or unit.group(1).lower())
            families[name] = metric_type(text, args[-1])
    return families


@functools.cache
def exported_metrics():
    """Every sample name the operator's /metrics can carry."""
    return {name + suffix for name, kind in registered_metrics().items() for suffix in SUFFIXES[kind]}


def test_registered_metrics_are_read_as_scrapes_see_them():
    families = registered_metrics()
    assert families["controller_runtime_reconcile"] == "Counter"
    assert families["controller_runtime_reconcile_time_seconds"] == "Histogram"
    assert families["recommender_operator_models"] == "Gauge"
    # Every metric the end-to-end tests read off a real /metrics is one this parser finds.
    scraped = set()
    for path in (REPO / "tests").rglob("*.rs"):
        scraped |= set(re.findall(r"\b((?:recommender_operator|controller_runtime|leader_election|workqueue|rest_client)_\w+)[{ ]", path.read_text()))
    assert scraped, "the end-to-end tests no longer read any metric by name"
    assert scraped <= exported_metrics(), scraped - exported_metrics()


PROMQL_FUNCTIONS = set(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max
    clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv exp
    floor histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
    histogram_sum holt_winters double_exponential_smoothing hour idelta increase irate label_join label_replace
    last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
    present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
    sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp
    vector year""".split()
)
PROMQL_AGGREGATIONS = set("sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio".split())
PROMQL_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
PROMQL_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|(?P<number>[0-9][0-9a-zA-Z_.]*)"""
    r"""|(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)|(?P<var>\$\w+|\$\{\w+\})"""
    r"""|(?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>(){}\[\],:@=]))"""
)


def promql_selectors(expr):
    """[(metric name, label matchers)] of every vector selector in a PromQL expression, after
    checking what a lexer can: known functions and keywords, balanced brackets, well-formed label
    matchers and ranges. promtool checks the alert rules' grammar fully; this finds the names."""
    tokens, pos, expr = [], 0, expr.strip()
    while pos < len(expr):
        m = PROMQL_TOKEN.match(expr, pos)
        assert m and m.end() > pos, f"cannot read {expr[pos:]!r} in {expr!r}"
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    selectors, depth, i = [], 0, 0

    def matchers(i):
        """Reads `{a="x", b!~"y"}` from tokens[i] (the `{`); returns the text and the next index."""
        assert tokens[i] == ("op", "{")
        i += 1
        out = []
        while tokens[i] != ("op", "}"):
            (k1, label), (k2, op), (k3, value) = tokens[i : i + 3]
            assert k1 == "ident" and op in ("=", "!=", "=~", "!~") and k3 == "string", f"bad matcher in {expr!r}"
            out.append(f"{label}{op}{value}")
            i += 3
            if tokens[i] == ("op", ","):
                i += 1
        return out, i + 1

    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else (None, None)
        if kind == "ident" and text in PROMQL_GROUPING:
            i += 1
            if following == ("op", "("):  # a list of label names
                i += 1
                while tokens[i] != ("op", ")"):
                    assert tokens[i][0] == "ident" or tokens[i] == ("op", ","), f"bad label list in {expr!r}"
                    i += 1
                i += 1
            continue
        if kind == "ident" and text in PROMQL_AGGREGATIONS and following in (("ident", "by"), ("ident", "without")):
            pass  # sum by (a) (...): the grouping comes first
        elif kind == "ident" and following == ("op", "("):
            assert text in PROMQL_FUNCTIONS | PROMQL_AGGREGATIONS, f"unknown function {text}() in {expr!r}"
        elif kind == "ident" and text.lower() not in PROMQL_WORDS:
            i += 1
            labels = []
            if i < len(tokens) and tokens[i] == ("op", "{"):
                labels, i = matchers(i)
            selectors.append((text, labels))
            continue
        elif kind == "op" and text == "{":  # a selector without a name
            labels, i = matchers(i)
            selectors.append((None, labels))
            continue
        elif kind == "op" and text == "[":  # a range or subquery: durations and variables only
            i += 1
            while tokens[i] != ("op", "]"):
                assert tokens[i][0] in ("number", "var") or tokens[i] == ("op", ":"), f"bad range in {expr!r}"
                i += 1
        elif kind == "op" and text == "(":
            depth += 1
        elif kind == "op" and text == ")":
            depth -= 1
            assert depth >= 0, f"unbalanced ) in {expr!r}"
        elif kind == "var":
            raise AssertionError(f"a variable outside a range or string in {expr!r}")
        i += 1
    assert depth == 0, f"unbalanced ( in {expr!r}"
    return selectors


def test_promql_reader():
    assert promql_selectors('sum by (a) (rate(x_total{job="j",o=~"a|b"}[5m])) / ignoring(o) group_left sum(y) > 0.1') == [
        ("x_total", ['job="j"', 'o=~"a|b"']),
        ("y", []),
    ]
    assert promql_selectors('absent(up{job="j"} == 1) unless on() vector(0) or z offset 5m') == [("up", ['job="j"']), ("z", [])]
    for bad in ["sum(x", "rat(x[5m])", 'x{job=j}', "x[5 m]", "x $y"]:
        with pytest.raises(AssertionError):
            promql_selectors(bad)


def check_metrics_exported(expr, required_matchers):
    """Every metric the expression reads is exported (or Prometheus' or the kubelet's), and every
    selector of an operator metric carries the matchers that keep other operators' series out."""
    exported = exported_metrics()
    selectors = promql_selectors(expr)
    assert selectors, expr
    for name, labels in selectors:
        assert name in exported | NOT_THE_OPERATORS, f"{name} is not a metric the operator exports (src/telemetry.rs): {expr}"
        if name in exported or name == "up":
            missing = [m for m in required_matchers if m not in labels]
            assert not missing, f"{name} lacks {missing} in {expr}"


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
ALERTS = {
    "RecommenderOperatorDown",
    "RecommenderOperatorReplicaDown",
    "RecommenderOperatorNoLeader",
    "RecommenderModelsNotReady",
    "RecommenderModelsQuotaExceeded",
    "RecommenderModelsNearPinpointQuota",
    "RecommenderOperatorPinpointErrors",
    "RecommenderOperatorPinpointThrottled",
    "RecommenderOperatorReconcileErrors",
}
DEFAULT_SELECTOR = [f'job="{RELEASE}-metrics"', f'namespace="{NAMESPACE}"']
DURATION = re.compile(r"([0-9]+(ms|s|m|h|d|w|y))+")


def prometheus_rule(*args):
    (rule,) = [d for d in render("--set", "metrics.prometheusRule.enabled=true", *args) if d["kind"] == "PrometheusRule"]
    return rule


def alerts(rule):
    (group,) = rule["spec"]["groups"]
    return {r["alert"]: r for r in group["rules"]}


def test_monitoring_objects_off_by_default():
    docs = render()
    assert not [d for d in docs if d["kind"] == "PrometheusRule"]
    assert not [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]


def test_alert_rules_are_complete_and_read_exported_metrics():
    rule = prometheus_rule()
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == NAMESPACE
    rules = alerts(rule)
    assert set(rules) == ALERTS
    for name, r in rules.items():
        assert set(r) == {"alert", "expr", "for", "labels", "annotations"}, name
        assert DURATION.fullmatch(r["for"]), name
        assert r["labels"]["severity"] in ("critical", "warning"), name
        notes = r["annotations"]
        assert notes["summary"].strip() and notes["description"].strip(), name
        assert notes["runbook_url"].startswith("https://"), name
        for text in notes.values():
            # Prometheus' templates survived Helm; Helm's left nothing behind.
            assert "<no value>" not in text and "%!" not in text, (name, text)
            opened = len(re.findall(r"\{\{-? *(?:if|with|range)\b", text))
            assert opened == len(re.findall(r"\{\{-? *end *-?\}\}", text)), (name, text)
            assert text.count("{{") == text.count("}}"), (name, text)
        check_metrics_exported(r["expr"], DEFAULT_SELECTOR)
    assert rules["RecommenderOperatorDown"]["labels"]["severity"] == "critical"
    assert rules["RecommenderOperatorNoLeader"]["labels"]["severity"] == "critical"
    # Each hint names the condition reasons it is about.
    description = rules["RecommenderModelsNotReady"]["annotations"]["description"]
    for reason in ["InvalidSpec", "AccessDenied", "Throttled", "QuotaExceeded", "PinpointUnavailable", "RoleNotAllowed"]:
        assert f'"{reason}"' in description, reason
    assert "QuotaExceeded" in rules["RecommenderModelsQuotaExceeded"]["annotations"]["description"]
    assert 'reason="QuotaExceeded"' in rules["RecommenderModelsQuotaExceeded"]["expr"]
    assert 'outcome="throttled"' in rules["RecommenderOperatorPinpointThrottled"]["expr"]


def test_alert_rules_take_their_tunables(tmp_path):
    rule = [d for d in render(*values_file(tmp_path, RULE_VALUES)) if d["kind"] == "PrometheusRule"][0]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules = alerts(rule)
    selector = ['job="recommender-operator"', 'namespace="operators"']
    for name, r in rules.items():
        assert r["labels"]["team"] == "platform", name
        assert r["annotations"]["runbook_url"] == "https://wiki.example.com/recommender-operator"
        check_metrics_exported(r["expr"], selector)
    fors = {name: r["for"] for name, r in rules.items()}
    assert fors == {
        "RecommenderOperatorDown": "2m",
        "RecommenderOperatorReplicaDown": "2m",
        "RecommenderOperatorNoLeader": "3m",
        "RecommenderModelsNotReady": "30m",
        "RecommenderModelsQuotaExceeded": "10m",
        "RecommenderModelsNearPinpointQuota": "1h",
        "RecommenderOperatorPinpointErrors": "20m",
        "RecommenderOperatorPinpointThrottled": "30m",
        "RecommenderOperatorReconcileErrors": "45m",
    }
    assert rules["RecommenderModelsNearPinpointQuota"]["expr"].endswith(">= 80")
    assert rules["RecommenderOperatorPinpointErrors"]["expr"].endswith("> 0.25")
    assert rules["RecommenderOperatorPinpointThrottled"]["expr"].endswith("> 0.02")
    assert rules["RecommenderOperatorReconcileErrors"]["expr"].endswith("> 0.3")
    # The one alert that can be turned off, and the runbook link.
    rules = alerts(prometheus_rule("--set", "metrics.prometheusRule.quotaWarningModels=0,metrics.prometheusRule.runbookUrl="))
    assert set(rules) == ALERTS - {"RecommenderModelsNearPinpointQuota"}
    assert not [r for r in rules.values() if "runbook_url" in r["annotations"]]
    # additionalLabels cannot take severity from the alerts.
    result = helm("template", "r", str(CHART), "--set", "metrics.prometheusRule.additionalLabels.severity=page", check=False)
    assert result.returncode != 0 and "schema" in result.stderr


def promtool(*args, cwd):
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, cwd=cwd)


def test_alert_rules_pass_promtool(tmp_path):
    for name, args in [("default", []), ("tuned", values_file(tmp_path, RULE_VALUES))]:
        path = tmp_path / f"{name}.rules.yaml"
        path.write_text(yaml.safe_dump(prometheus_rule(*args)["spec"]))
        result = promtool("check", "rules", path.name, cwd=tmp_path)
        assert result.returncode == 0, f"promtool check rules ({name} values):\n{result.stdout}{result.stderr}"
        assert "SUCCESS: 9 rules found" in result.stdout, result.stdout


# promtool's rule unit tests: series the operator would export, and the alerts that must (and must
# not) fire on them with the chart's default thresholds. The rules are tested without their
# annotations (promtool would compare every rendered description word for word).
SERIES = 'job="recommender-operator-metrics",namespace="recommender-operator",pod="op-0"'
RULE_TESTS = f"""
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'recommender_operator_models{{{SERIES},reason="Throttled",ready="False"}}'
        values: '3x40'
      - series: 'recommender_operator_models{{{SERIES},reason="Published",ready="True"}}'
        values: '10x40'
      - series: 'leader_election_master_status{{{SERIES},name="recommender-operator"}}'
        values: '0x40'
      - series: 'up{{{SERIES}}}'
        values: '1x40'
    alert_rule_test:
      - {{alertname: RecommenderModelsNotReady, eval_time: 10m, exp_alerts: []}}
      - alertname: RecommenderModelsNotReady
        eval_time: 20m
        exp_alerts: [{{exp_labels: {{severity: warning, reason: Throttled}}}}]
      - alertname: RecommenderOperatorNoLeader
        eval_time: 20m
        exp_alerts: [{{exp_labels: {{severity: critical}}}}]
      - {{alertname: RecommenderOperatorDown, eval_time: 20m, exp_alerts: []}}
      - {{alertname: RecommenderModelsQuotaExceeded, eval_time: 20m, exp_alerts: []}}
  - interval: 1m
    input_series:
      - series: 'recommender_operator_models{{{SERIES},reason="Published",ready="True"}}'
        values: '10x40'
      - series: 'leader_election_master_status{{{SERIES},name="recommender-operator"}}'
        values: '1x40'
      - series: 'up{{{SERIES}}}'
        values: '0x40'
    alert_rule_test:
      - alertname: RecommenderOperatorDown
        eval_time: 20m
        exp_alerts: [{{exp_labels: {{severity: critical}}}}]
      - {{alertname: RecommenderModelsNotReady, eval_time: 20m, exp_alerts: []}}
"""


def test_alert_rules_fire_on_series(tmp_path):
    spec = prometheus_rule()["spec"]
    for group in spec["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "tests.yaml").write_text(RULE_TESTS)
    result = promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode == 0, f"promtool test rules:\n{result.stdout}{result.stderr}"


DASHBOARD = CHART / "files" / "dashboards" / "recommender-operator.json"


def dashboard_targets(dashboard):
    """(panel title, query) of every panel, rows' panels included; Grafana's $__rate_interval
    read as 5m, so that the query is plain PromQL."""
    found = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    found.append((p["title"], t["expr"].replace("$__rate_interval", "5m")))
            walk(p.get("panels", []))

    walk(dashboard["panels"])
    return found


def test_dashboard_config_map_for_the_grafana_sidecar():
    docs = render(
        "--set", "metrics.grafanaDashboard.enabled=true",
        "--set", "metrics.grafanaDashboard.namespace=monitoring",
        "--set", "metrics.grafanaDashboard.annotations.grafana_folder=Operators",
    )
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Operators"}
    assert json.loads(cm["data"]["recommender-operator.json"]) == json.loads(DASHBOARD.read_text())


def test_dashboard_reads_exported_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "recommender-operator"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "job"):
        (metric, _), *_ = promql_selectors(re.fullmatch(r"label_values\((.*), \w+\)", variables[name]["definition"]).group(1))
        assert metric in exported_metrics(), name
    ids = []

    def walk(ps):
        for p in ps:
            ids.append(p["id"])
            if p["type"] != "row":
                assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
                assert p["targets"], p["title"]
            walk(p.get("panels", []))

    walk(dashboard["panels"])
    assert len(ids) == len(set(ids)), "panel ids are unique"
    read = set()
    for title, expr in dashboard_targets(dashboard):
        check_metrics_exported(expr, ['namespace="$namespace"', 'job="$job"'])
        read |= {name for name, _ in promql_selectors(expr)}
    # The panels the dashboard is for: models by reason, reconciles (rate, errors, duration),
    # Pinpoint calls by operation and outcome, throttling, leader, CPU and memory.
    assert {
        "recommender_operator_models",
        "controller_runtime_reconcile_total",
        "recommender_operator_reconcile_errors_by_reason_total",
        "controller_runtime_reconcile_time_seconds_bucket",
        "recommender_operator_pinpoint_requests_total",
        "recommender_operator_pinpoint_request_duration_seconds_bucket",
        "recommender_operator_aws_attempts_total",
        "leader_election_master_status",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    } <= read


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "metrics.prometheusRule.bogus=1"],
        ["--set", "metrics.prometheusRule.enable=true"],
        ["--set", "metrics.prometheusRule.notReadyFor=15 minutes"],
        ["--set", "metrics.prometheusRule.notReadyFor=15"],
        ["--set", "metrics.prometheusRule.pinpointErrorRatio=2"],
        ["--set", "metrics.prometheusRule.pinpointThrottledRatio=1"],
        ["--set", "metrics.prometheusRule.reconcileErrorRatio=0"],
        ["--set", "metrics.prometheusRule.quotaWarningModels=-1"],
        ["--set", "metrics.prometheusRule.additionalLabels.team=1"],
        ["--set-string", "metrics.prometheusRule.selector=job=recommender-operator"],
        ["--set", "metrics.prometheusRule.runbookUrl=wiki/recommender"],
        ["--set", "metrics.prometheusRule.labels.release.name=x"],
        ["--set", "metrics.grafanaDashboard.bogus=1"],
        ["--set", "metrics.grafanaDashboard.labelValue=true"],
        ["--set", "metrics.grafanaDashboard.label="],
        ["--set", "metrics.grafanaDashboard.namespace=Monitoring"],
        ["--set", "metrics.grafanaDashboard.annotations.grafana_folder.name=x"],
        ["--set", "metrics.grafanaDashboard.folder=Operators"],
    ],
    ids=lambda a: a[-1],
)
def test_schema_rejects_monitoring_values(args):
    assert_rejected_by_schema(args)


def test_monitoring_values_lint_strictly(tmp_path):
    lint = helm("lint", "--strict", str(CHART), *values_file(tmp_path, RULE_VALUES), check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


# --- The packaged chart and its Artifact Hub metadata ---

ARTIFACTHUB_CHANGE_KINDS = {"added", "changed", "deprecated", "removed", "fixed", "security"}


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    helm("package", str(CHART), "--destination", str(out))
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    (tgz,) = out.glob("*.tgz")
    assert tgz.name == f"{chart['name']}-{chart['version']}.tgz"
    return tgz


def test_package_holds_the_chart(package):
    with tarfile.open(package) as tar:
        names = set(tar.getnames())
    root = "recommender-operator/"
    for path in ["Chart.yaml", "values.yaml", "values.schema.json", "files/recommendermodel.yaml", "files/dashboards/recommender-operator.json"]:
        assert root + path in names, path
    templates = {root + "templates/" + p.name for p in (CHART / "templates").iterdir()}
    assert templates <= names, templates - names
    assert root + "templates/crd.yaml" in names
    # Nothing but the chart's own files (.helmignore keeps editor and OS leftovers out).
    own = {root + str(p.relative_to(CHART)) for p in CHART.rglob("*") if p.is_file()}
    assert names - {root + ".helmignore"} <= own, names - own


def test_package_lints_and_renders(package, tmp_path):
    lint = helm("lint", "--strict", str(package), check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    kinds = {d["kind"] for d in yaml.safe_load_all(helm("template", RELEASE, str(package), "--namespace", NAMESPACE).stdout) if d}
    assert {"CustomResourceDefinition", "Deployment", "ServiceAccount"} <= kinds
    out = helm("template", RELEASE, str(package), "--namespace", NAMESPACE, *values_file(tmp_path, RULE_VALUES)).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(out) if d}
    assert {"PrometheusRule", "ConfigMap"} <= kinds
    # The package's CRD is the repository's.
    (crd,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "CustomResourceDefinition"]
    assert crd["spec"] == yaml.safe_load(CRD.read_text())["spec"]


def test_artifact_hub_annotations(package):
    chart = yaml.safe_load(helm("show", "chart", str(package)).stdout)
    notes = chart["annotations"]
    crd = yaml.safe_load(CRD.read_text())
    (listed,) = yaml.safe_load(notes["artifacthub.io/crds"])
    assert set(listed) == {"kind", "version", "name", "displayName", "description"}
    assert listed["kind"] == crd["spec"]["names"]["kind"]
    assert listed["name"] == crd["metadata"]["name"]
    assert listed["version"] in [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]
    assert listed["description"].strip()
    # The example is examples/movie-recs.yaml, so it stays one the operator accepts.
    (example,) = yaml.safe_load(notes["artifacthub.io/crdsExamples"])
    assert example == yaml.safe_load((REPO / "examples" / "movie-recs.yaml").read_text())
    assert example["apiVersion"] == f"{crd['spec']['group']}/{listed['version']}"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    (image,) = yaml.safe_load(notes["artifacthub.io/images"])
    assert image["image"] == f"{values['image']['repository']}:{chart['appVersion']}"
    license = re.search(r'^license\s*=\s*"([^"]+)"', (REPO / "Cargo.toml").read_text(), re.M).group(1)
    assert notes["artifacthub.io/license"] == license == "Apache-2.0"
    links = yaml.safe_load(notes["artifacthub.io/links"])
    assert {link["name"] for link in links} >= {"Source", "Documentation"}
    assert all(link["url"].startswith("https://") for link in links)
    changes = yaml.safe_load(notes["artifacthub.io/changes"])
    assert changes and all(c["kind"] in ARTIFACTHUB_CHANGE_KINDS and c["description"] for c in changes)
    assert notes["artifacthub.io/operator"] == "true"
    assert chart["maintainers"] and chart["home"].startswith("https://") and chart["sources"]
    assert "icon" not in chart or chart["icon"].startswith("https://")
