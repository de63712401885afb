"""The IAM documents in deploy/iam: least privilege for the operator's role."""

import json
import pathlib

IAM = pathlib.Path(__file__).resolve().parent / "iam"


def load(name):
    return json.loads((IAM / name).read_text())


def test_operator_policy_grants_the_recommender_calls_and_nothing_else():
    statements = load("operator-policy.json")["Statement"]
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == sorted(
        [f"mobiletargeting:{op}RecommenderConfiguration" for op in ("Create", "Get", "Update", "Delete")]
        + ["mobiletargeting:GetRecommenderConfigurations", "iam:PassRole"]
    )
    assert all(s["Effect"] == "Allow" and "*" not in str(s["Action"]) for s in statements)


def test_pass_role_only_to_pinpoint():
    (passrole,) = [s for s in load("operator-policy.json")["Statement"] if s["Action"] == "iam:PassRole"]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "mobiletargeting.amazonaws.com"}}


def test_trust_policies_name_the_chart_service_account_and_pod_identity():
    irsa = load("irsa-trust-policy.json")["Statement"][0]
    assert irsa["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert irsa["Condition"]["StringEquals"]["OIDC_PROVIDER:sub"] == (
        "system:serviceaccount:recommender-operator:recommender-operator"
    )
    pod_identity = load("pod-identity-trust-policy.json")["Statement"][0]
    assert pod_identity["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert set(pod_identity["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
