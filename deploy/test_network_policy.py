"""Checks the chart's NetworkPolicy, without a cluster: off by default, its defaults when enabled,
and every peer and port the values can name.

Needs helm (see chart.py).

    pytest deploy/test_network_policy.py
"""

import yaml

from chart import RELEASE, render, values_file


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
