"""Checks how the chart secures /metrics, without a cluster: HTTPS with token and access reviews by
default, a certificate from a Secret, the ServiceMonitor's scheme, token and TLS settings, plain
HTTP when turned off, and the readers bound to the metrics-reader role.

Needs helm (see chart.py).

    pytest deploy/test_metrics_security.py
"""

from chart import NAMESPACE, RELEASE, args_of, by_key, operator_bindings, render, rules

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
