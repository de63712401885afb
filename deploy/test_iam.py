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


def actions_of(name):
    return sorted(
        a
        for s in load(name)["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )


def test_prepublish_checks_only_read():
    assert actions_of("prepublish-checks-policy.json") == sorted(
        ["personalize:DescribeCampaign", "lambda:GetFunction", "lambda:GetPolicy", "iam:GetRole"]
    )


def test_role_creation_writes_only_roles_tagged_as_the_operators():
    statements = load("role-creation-policy.json")["Statement"]
    assert actions_of("role-creation-policy.json") == sorted(
        [
            "iam:GetRole",
            "personalize:DescribeCampaign",
            "iam:CreateRole",
            "iam:TagRole",
            "iam:PutRolePolicy",
            "iam:ListRolePolicies",
            "iam:DeleteRolePolicy",
            "iam:DeleteRole",
        ]
    )
    for s in statements:
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        writes = [a for a in actions if a not in ("iam:GetRole", "personalize:DescribeCampaign")]
        if writes:
            # Only under the operator's path, so it cannot tag its way into other roles.
            assert s["Resource"] == "arn:aws:iam::ACCOUNT_ID:role/recommender-operator/*", s["Sid"]
            tag = s["Condition"]["StringEquals"]
            assert list(tag.values()) == ["recommender-operator"], s["Sid"]
            assert list(tag)[0].endswith("Tag/app.kubernetes.io/managed-by"), s["Sid"]
    (create,) = [s for s in statements if "iam:CreateRole" in s["Action"]]
    assert create["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == [
        "app.kubernetes.io/managed-by",
        "pinpoint.recommenders.dev/owner",
    ]


def test_the_tags_and_path_the_policy_relies_on_are_the_operators():
    root = IAM.parent.parent
    role = (root / "src" / "pipeline" / "role.rs").read_text()
    assert 'pub const OWNER_TAG: &str = "pinpoint.recommenders.dev/owner";' in role
    assert '"app.kubernetes.io/managed-by".to_owned(),\n                        "recommender-operator".to_owned(),' in role
    assert 'role_path: "/recommender-operator/".to_owned()' in (root / "src" / "pipeline" / "services.rs").read_text()


def test_the_operator_may_assume_only_the_bound_target_roles():
    statements = load("assume-target-roles-policy.json")["Statement"]
    assert actions_of("assume-target-roles-policy.json") == ["sts:AssumeRole", "sts:GetCallerIdentity"]
    (assume,) = [s for s in statements if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] and all(
        r.startswith("arn:aws:iam::TARGET_ACCOUNT_ID:role/") and "*" not in r for r in assume["Resource"]
    ), "named roles only, no wildcard"


def test_a_target_role_trusts_the_operators_role_with_the_external_id():
    (trust,) = load("target-role-trust-policy.json")["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": "arn:aws:iam::OPERATOR_ACCOUNT_ID:role/recommender-operator"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "EXTERNAL_ID"}}


def test_a_target_role_gets_the_same_permissions_as_the_operators_own():
    """In the target account, the operator does what it does in its own: the same three policies
    are attached to the target role (the README's "Many accounts" says so)."""
    for name in ["operator-policy.json", "prepublish-checks-policy.json", "role-creation-policy.json"]:
        text = (IAM / name).read_text()
        assert "ACCOUNT_ID" in text and "TARGET" not in text, f"{name} is written for any one account"
