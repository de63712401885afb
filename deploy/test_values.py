"""Checks the chart's values against its schema and what they render, without a cluster: the values
the schema refuses, every tunable value rendered into the Deployment (image digest, rate limits,
leader election, logging, tracing, extra arguments, environment and volumes, topology spread,
priority), and the defaults.

Needs helm (see chart.py).

    pytest deploy/test_values.py
"""

import pytest

from chart import CHART, RELEASE, args_of, assert_rejected_by_schema, helm, render, values_file


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
