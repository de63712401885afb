"""Checks the tenancy file the chart renders, without a cluster: mounted as a directory and passed
to the operator, open by default, closed on a shared cluster, the allowed roles, adoption rules and
account bindings as written, and the schema's refusal of bad bindings.

Needs helm (see chart.py).

    pytest deploy/test_tenancy.py
"""

import yaml

from chart import NAMESPACE, RELEASE, assert_rejected_by_schema, by_key, render, values_file

TENANCY_DIR = "/etc/recommender-operator/tenancy"


def tenancy(docs):
    """The tenancy file the chart renders, parsed."""
    cm = by_key(docs)[("ConfigMap", f"{RELEASE}-tenancy", NAMESPACE)]
    assert list(cm["data"]) == ["tenancy.yaml"]
    return yaml.safe_load(cm["data"]["tenancy.yaml"])


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
