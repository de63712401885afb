"""Checks the chart's RBAC without a cluster: the operator's rights cluster-wide by default or only
in the watched namespaces, the leader-election Lease, the roles aggregated into Kubernetes' admin,
edit and view, and no RBAC at all when asked. (The rights of secure metrics are
test_metrics_security.py's.)

Needs helm (see chart.py).

    pytest deploy/test_rbac.py
"""

import pytest

from chart import CHART, NAMESPACE, RELEASE, args_of, by_key, helm, operator_bindings, render, rules

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
