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
    pod = deployment()
    assert "topologySpreadConstraints" not in pod and "priorityClassName" not in pod


def test_leader_election_off_only_for_a_single_replica():
    args = args_of(render("--set", "leaderElection.enabled=false"))
    assert not [a for a in args if a.startswith(("--leader-elect", "--lease-duration"))]
    result = helm("template", "r", str(CHART), "--set", "leaderElection.enabled=false,replicaCount=2", check=False)
    assert result.returncode != 0 and "needs leaderElection.enabled" in result.stderr
