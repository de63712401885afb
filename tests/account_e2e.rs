//! The wizard's AWS side end to end: the operator process against a real kube-apiserver and etcd
//! (RBAC on) and the emulator's IAM, Personalize and Lambda. Role creation, reuse and deletion
//! under both policies, each failed check, and the checks turned off.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::env::TestEnv;

fn model(name: &str, case: &str) -> Value {
    let mut object = support::table::named(name, case);
    object["spec"]["name"] = json!(name);
    object
}

fn creating_role(name: &str, role: &str, policy: &str) -> Value {
    let mut object = model(name, "model value, every field set");
    object["spec"]["role"] = json!({"create": {"name": role}});
    object["spec"]["deletionPolicy"] = json!(policy);
    object
}

fn role(env: &TestEnv, name: &str) -> Option<Value> {
    env.roles().into_iter().find(|r| r["roleName"] == name)
}

#[test]
fn the_operator_creates_reuses_and_deletes_the_roles_it_makes() {
    let mut env = TestEnv::new("roles");
    env.apply_ok(&creating_role("deleted", "RecsDeleted", "Delete"));
    env.apply_ok(&creating_role("retained", "RecsRetained", "Retain"));
    env.wait_condition("deleted", "Ready", 120);
    env.wait_condition("retained", "Ready", 120);

    let object = env.model("deleted");
    let arn = "arn:aws:iam::123456789012:role/recommender-operator/RecsDeleted";
    assert_eq!(object["status"]["roleArn"], arn);
    assert_eq!(object["status"]["createdRoleArns"], json!([arn]));
    let made = role(&env, "RecsDeleted").expect("the role was created");
    assert_eq!(
        made["tags"]["pinpoint.recommenders.dev/owner"],
        "e2e-roles/deleted"
    );
    assert_eq!(
        made["assumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "pinpoint.amazonaws.com"
    );
    let published: Vec<Value> = env
        .configurations()
        .into_iter()
        .filter(|c| c["configuration"]["RecommendationProviderRoleArn"] == arn)
        .collect();
    assert_eq!(published.len(), 1);
    assert!(
        env.event_reasons(Some("involvedObject.name=deleted"))
            .contains("RoleCreated")
    );
    let (_, metrics) = env.operator_get("metrics", "/metrics");
    for line in [
        r#"recommender_operator_aws_attempts_total{service="IAM",operation="CreateRole",status="200"} 2"#,
        r#"recommender_operator_aws_attempts_total{service="Personalize",operation="DescribeCampaign",status="200"}"#,
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }

    // Delete: the configuration and the role go with the model.
    env.kubectl_ok(&["delete", "recmodel", "deleted", "--timeout=120s"]);
    assert!(role(&env, "RecsDeleted").is_none(), "the role was deleted");
    // Retain: both stay.
    env.kubectl_ok(&["delete", "recmodel", "retained", "--timeout=120s"]);
    assert!(role(&env, "RecsRetained").is_some(), "the role was kept");
    assert_eq!(env.calls("CreateRole"), 2);

    // Applied again, the model takes its retained role back instead of making another.
    env.apply_ok(&creating_role("retained", "RecsRetained", "Retain"));
    env.wait_condition("retained", "Ready", 120);
    assert_eq!(env.calls("CreateRole"), 2, "the role was reused");
    assert_eq!(
        env.model("retained")["status"]["createdRoleArns"],
        json!(["arn:aws:iam::123456789012:role/recommender-operator/RecsRetained"])
    );

    // A role the operator did not make is neither taken over nor deleted.
    env.apply_ok(&creating_role("squatter", "PinpointPersonalize", "Delete"));
    env.wait_reason("squatter", "Ready", "RoleNotOwned", 120);
    let object = env.model("squatter");
    assert_eq!(
        object["status"]["validationErrors"][0]["field"],
        "spec.role.create.name"
    );
    env.kubectl_ok(&["delete", "recmodel", "squatter", "--timeout=120s"]);
    assert!(role(&env, "PinpointPersonalize").is_some());
}

#[test]
fn each_failed_check_is_a_reason_with_the_field_and_a_fix_is_picked_up() {
    let env = TestEnv::new("checks");
    let series = "arn:aws:personalize:us-east-1:123456789012:campaign/series";
    let private = "arn:aws:lambda:us-east-1:123456789012:function:private";
    env.seed(json!({
        "campaigns": [{"arn": series, "status": "CREATE IN_PROGRESS"}],
        "functions": [{"arn": private}],
        "roles": [{"arn": "arn:aws:iam::123456789012:role/ForEc2", "assumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}],
    }));

    // Not active yet: reported, then published by itself once the campaign is ACTIVE.
    let mut pending = model("pending", "model value, every field set");
    pending["spec"]["campaignArn"] = json!(series);
    env.apply_ok(&pending);
    env.wait_reason("pending", "Ready", "CampaignNotActive", 60);
    let object = env.model("pending");
    assert_eq!(
        object["status"]["validationErrors"][0]["field"],
        "spec.campaignArn"
    );
    assert!(env.configurations().is_empty());
    env.seed(json!({"campaigns": [{"arn": series, "status": "ACTIVE"}]}));
    env.wait_condition("pending", "Ready", 120);

    let mut cases: Vec<(Value, &str, &str)> = Vec::new();
    let mut missing = model("missing-campaign", "model value, every field set");
    missing["spec"]["campaignArn"] =
        json!("arn:aws:personalize:us-east-1:123456789012:campaign/absent");
    cases.push((missing, "CampaignNotFound", "spec.campaignArn"));
    let mut no_function = model("missing-function", "lambda by ARN");
    no_function["spec"]["processing"]["lambda"]["function"] =
        json!("arn:aws:lambda:us-east-1:123456789012:function:absent");
    cases.push((
        no_function,
        "LambdaNotFound",
        "spec.processing.lambda.function",
    ));
    let mut closed = model("private-function", "lambda by ARN");
    closed["spec"]["processing"]["lambda"]["function"] = json!(private);
    cases.push((
        closed,
        "LambdaNotInvokable",
        "spec.processing.lambda.function",
    ));
    let mut no_role = model("missing-role", "model value, every field set");
    no_role["spec"]["role"]["arn"] = json!("arn:aws:iam::123456789012:role/Absent");
    cases.push((no_role, "RoleNotFound", "spec.role.arn"));
    let mut untrusted = model("untrusted-role", "model value, every field set");
    untrusted["spec"]["role"]["arn"] = json!("arn:aws:iam::123456789012:role/ForEc2");
    cases.push((untrusted, "RoleNotTrusted", "spec.role.arn"));

    for (object, _, _) in &cases {
        env.apply_ok(object);
    }
    for (object, reason, field) in &cases {
        let name = object["metadata"]["name"].as_str().expect("name");
        env.wait_reason(name, "Ready", reason, 120);
        let object = env.model(name);
        assert_eq!(object["status"]["validationErrors"][0]["field"], *field);
        let validated = object["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Validated"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(validated["status"], "False", "{name}");
        assert_eq!(validated["reason"], *reason, "{name}");
    }
    assert_eq!(
        env.configurations().len(),
        1,
        "only the fixed model was published"
    );
}

#[test]
fn with_the_checks_turned_off_the_operator_publishes_without_asking() {
    let env = TestEnv::without_operator("unchecked");
    let mut operator = env.spawn_operator(&["--prepublish-checks=false"]);
    operator.wait_for_log("controller started", Duration::from_secs(60));
    let mut object = model("unchecked", "model value, every field set");
    object["spec"]["campaignArn"] =
        json!("arn:aws:personalize:us-east-1:123456789012:campaign/elsewhere");
    env.apply_ok(&object);
    env.wait_condition("unchecked", "Ready", 120);
    for operation in ["DescribeCampaign", "GetRole", "GetFunction", "GetPolicy"] {
        assert_eq!(env.calls(operation), 0, "{operation}");
    }
}
