//! The wizard's AWS side through the pipeline (`sync`, `delete_created_roles`) against the
//! emulator's IAM, Personalize and Lambda, with the real SDK clients and no cluster: the role the
//! operator creates, and each check before publishing. `account_e2e.rs` shows the same through
//! the operator and a real API server.

mod support;

use k8s_openapi::jiff::Timestamp;
use recommender_operator::{
    api::{DeletionPolicy, RecommenderModel, RoleCreate},
    domain::conditions::{PUBLISHED, READY, VALIDATED, find},
    pipeline::{
        Guards, Outcome, deletion::delete_created_roles, error::Error, services::AccountServices,
        sync,
    },
};
use serde_json::{Value, json};
use support::emulator::Emulator;

const CAMPAIGN: &str = "arn:aws:personalize:us-east-1:123456789012:campaign/movies";

fn model(base: &str) -> RecommenderModel {
    support::table::typed(base)
}

fn creating_role(name: &str) -> RecommenderModel {
    let mut m = model("model value, every field set");
    m.spec.role.arn = None;
    m.spec.role.create = Some(RoleCreate { name: name.into() });
    m
}

/// The emulator holding the examples' account.
async fn emulator() -> Emulator {
    let emulator = Emulator::start().await;
    let seed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/emulator/account.json"
    ))
    .expect("read examples/emulator/account.json");
    emulator
        .seed(serde_json::from_str(&seed).expect("the seed is JSON"))
        .await;
    emulator
}

async fn run(model: &RecommenderModel, emulator: &Emulator, account: &AccountServices) -> Outcome {
    let guards = Guards {
        claims: &|_| None,
        tenancy: &Default::default(),
        account,
        target: Ok(None),
    };
    sync(model, &emulator.pinpoint(1), Timestamp::now(), &guards).await
}

fn reason(outcome: &Outcome, type_: &str) -> String {
    find(&outcome.status.conditions, type_)
        .map(|c| c.reason.clone())
        .unwrap_or_default()
}

fn role<'a>(roles: &'a [Value], name: &str) -> Option<&'a Value> {
    roles.iter().find(|r| r["roleName"] == name)
}

#[tokio::test]
async fn creates_the_role_with_pinpoints_trust_and_least_privilege_then_publishes_with_it() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    let m = creating_role("PinpointMovieRecs");

    let outcome = run(&m, &emulator, &account).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    let arn = "arn:aws:iam::123456789012:role/recommender-operator/PinpointMovieRecs";
    assert_eq!(outcome.status.role_arn.as_deref(), Some(arn));
    assert_eq!(outcome.status.created_role_arns, [arn]);
    let reasons: Vec<&str> = outcome.notes.iter().map(|n| n.reason).collect();
    assert_eq!(reasons, ["RoleCreated", "Created"]);

    let roles = emulator.roles().await;
    let created = role(&roles, "PinpointMovieRecs").expect("the role exists");
    let trust = &created["assumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "pinpoint.amazonaws.com");
    assert_eq!(trust["Action"], "sts:AssumeRole");
    assert_eq!(
        trust["Condition"]["StringEquals"]["AWS:SourceAccount"],
        "123456789012"
    );
    assert_eq!(
        trust["Condition"]["ArnLike"]["AWS:SourceArn"][0],
        "arn:aws:mobiletargeting:*:123456789012:apps/*"
    );
    assert_eq!(created["path"], "/recommender-operator/");
    assert_eq!(
        created["tags"]["pinpoint.recommenders.dev/owner"],
        "marketing/movie-recs"
    );
    let policy = &created["inlinePolicies"]["recommender-operator-personalize"];
    let statements = policy["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 2, "{policy:#}");
    assert!(
        statements[0]["Resource"]
            .as_str()
            .is_some_and(|r| r.starts_with("arn:aws:personalize:us-east-1:123456789012:solution/")),
        "{policy:#}"
    );
    assert_eq!(statements[1]["Resource"], CAMPAIGN);

    let published = emulator.configurations().await;
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0]["configuration"]["RecommendationProviderRoleArn"],
        arn
    );
}

#[tokio::test]
async fn a_created_role_is_reused_not_made_twice() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    let mut m = creating_role("PinpointMovieRecs");
    let first = run(&m, &emulator, &account).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    m.status = Some(first.status);

    // Unchanged: nothing asked of IAM at all.
    let get_roles = emulator.calls("GetRole").await;
    let again = run(&m, &emulator, &account).await;
    assert!(again.result.is_ok(), "{:?}", again.result);
    assert!(again.notes.is_empty(), "{:?}", again.notes);
    assert_eq!(emulator.calls("GetRole").await, get_roles);

    // A spec change looks again and refreshes the policy (here: for the campaign in another
    // Region), but makes no second role; nor does a model that lost its status (re-applied
    // after a Retain) with the same name.
    m.metadata.generation = Some(2);
    m.spec.campaign_arn = "arn:aws:personalize:eu-west-1:123456789012:campaign/movies".into();
    let changed = run(&m, &emulator, &account).await;
    assert!(changed.result.is_ok(), "{:?}", changed.result);
    let roles = emulator.roles().await;
    let policy = &role(&roles, "PinpointMovieRecs").expect("role")["inlinePolicies"]["recommender-operator-personalize"];
    assert_eq!(
        policy["Statement"][1]["Resource"],
        "arn:aws:personalize:eu-west-1:123456789012:campaign/movies"
    );
    m.status = None;
    let fresh = run(&m, &emulator, &account).await;
    assert!(fresh.result.is_ok(), "{:?}", fresh.result);
    assert_eq!(emulator.calls("CreateRole").await, 1);
    assert_eq!(
        emulator.roles().await.len(),
        3,
        "two seeded and one created"
    );
}

#[tokio::test]
async fn a_role_the_operator_did_not_create_is_not_taken_over() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    // PinpointPersonalize is the account's own (seeded, untagged).
    let m = creating_role("PinpointPersonalize");
    let outcome = run(&m, &emulator, &account).await;
    assert!(
        matches!(outcome.result, Err(Error::RoleNotOwned(_))),
        "{:?}",
        outcome.result
    );
    assert_eq!(reason(&outcome, READY), "RoleNotOwned");
    assert_eq!(outcome.status.validation_errors.len(), 1);
    assert_eq!(
        outcome.status.validation_errors[0].field,
        "spec.role.create.name"
    );
    assert!(
        outcome.status.validation_errors[0]
            .message
            .contains("spec.role.arn")
    );
    assert_eq!(emulator.calls("CreateRole").await, 0);
    assert_eq!(emulator.calls("PutRolePolicy").await, 0);
    assert!(emulator.configurations().await.is_empty());

    // Nor deleted with the model.
    let notes = delete_created_roles(&m, &account).await.expect("delete");
    assert!(notes.is_empty(), "{notes:?}");
    assert!(role(&emulator.roles().await, "PinpointPersonalize").is_some());
}

#[tokio::test]
async fn deleting_the_model_deletes_its_role_under_delete_and_keeps_it_under_retain() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    for (name, policy, kept) in [
        ("DeletedWithModel", DeletionPolicy::Delete, false),
        ("RetainedWithModel", DeletionPolicy::Retain, true),
    ] {
        let mut m = creating_role(name);
        m.spec.name = Some(name.into());
        m.metadata.name = Some(name.to_lowercase());
        m.spec.deletion_policy = policy;
        let outcome = run(&m, &emulator, &account).await;
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        m.status = Some(outcome.status);
        let notes = delete_created_roles(&m, &account).await.expect("delete");
        assert_eq!(
            role(&emulator.roles().await, name).is_some(),
            kept,
            "{name}"
        );
        let reasons: Vec<&str> = notes.iter().map(|n| n.reason).collect();
        assert_eq!(reasons, if kept { vec![] } else { vec!["RoleDeleted"] });
    }
}

#[tokio::test]
async fn switching_roles_deletes_the_one_the_operator_made_once_the_new_one_is_published() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    let mut m = creating_role("FirstRole");
    let first = run(&m, &emulator, &account).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    m.status = Some(first.status);

    m.metadata.generation = Some(2);
    m.spec.role.create = None;
    m.spec.role.arn = Some("arn:aws:iam::123456789012:role/PinpointPersonalize".into());
    let switched = run(&m, &emulator, &account).await;
    assert!(switched.result.is_ok(), "{:?}", switched.result);
    assert!(switched.status.created_role_arns.is_empty());
    let reasons: Vec<&str> = switched.notes.iter().map(|n| n.reason).collect();
    assert!(reasons.contains(&"RoleDeleted"), "{reasons:?}");
    assert!(role(&emulator.roles().await, "FirstRole").is_none());
    assert_eq!(
        emulator.configurations().await[0]["configuration"]["RecommendationProviderRoleArn"],
        "arn:aws:iam::123456789012:role/PinpointPersonalize"
    );
}

/// Runs the checks on `m` after seeding `seed`, and returns the outcome.
async fn checked(m: &RecommenderModel, seed: Value) -> (Outcome, Emulator) {
    let emulator = emulator().await;
    emulator.seed(seed).await;
    let outcome = run(m, &emulator, &emulator.account(true)).await;
    (outcome, emulator)
}

#[tokio::test]
async fn each_failed_check_is_its_own_reason_field_and_message() {
    let lambda = |function: &str| {
        let mut m = model("lambda by ARN");
        m.spec.processing.lambda.as_mut().expect("lambda").function = function.into();
        m
    };
    let mut missing_campaign = model("model value, every field set");
    missing_campaign.spec.campaign_arn =
        "arn:aws:personalize:us-east-1:123456789012:campaign/series".into();
    let mut missing_role = model("model value, every field set");
    missing_role.spec.role.arn = Some("arn:aws:iam::123456789012:role/Missing".into());
    let mut untrusted_role = model("model value, every field set");
    untrusted_role.spec.role.arn = Some("arn:aws:iam::123456789012:role/ForEc2".into());

    let ec2_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let cases = [
        (
            missing_campaign,
            json!({}),
            "CampaignNotFound",
            "spec.campaignArn",
            "does not exist in us-east-1",
        ),
        (
            model("model value, every field set"),
            json!({"campaigns": [{"arn": CAMPAIGN, "status": "CREATE IN_PROGRESS"}]}),
            "CampaignNotActive",
            "spec.campaignArn",
            "CREATE IN_PROGRESS, not ACTIVE",
        ),
        (
            lambda("arn:aws:lambda:us-east-1:123456789012:function:absent"),
            json!({}),
            "LambdaNotFound",
            "spec.processing.lambda.function",
            "does not exist in us-east-1",
        ),
        (
            lambda("arn:aws:lambda:us-east-1:123456789012:function:private"),
            json!({"functions": [{"arn": "arn:aws:lambda:us-east-1:123456789012:function:private"}]}),
            "LambdaNotInvokable",
            "spec.processing.lambda.function",
            "aws lambda add-permission --region us-east-1",
        ),
        (
            missing_role,
            json!({}),
            "RoleNotFound",
            "spec.role.arn",
            "role Missing does not exist",
        ),
        (
            untrusted_role,
            json!({"roles": [{"arn": "arn:aws:iam::123456789012:role/ForEc2", "assumeRolePolicyDocument": ec2_trust}]}),
            "RoleNotTrusted",
            "spec.role.arn",
            "does not trust Pinpoint",
        ),
    ];
    for (m, seed, expected, field, message) in cases {
        let (outcome, emulator) = checked(&m, seed).await;
        let error = outcome.result.as_ref().expect_err("an error");
        assert_eq!(error.reason(), expected);
        assert!(!error.waits_for_change(), "{expected}: must retry");
        assert_eq!(reason(&outcome, READY), expected);
        assert_eq!(reason(&outcome, VALIDATED), expected);
        assert_eq!(reason(&outcome, PUBLISHED), "NotValidated");
        let errors = &outcome.status.validation_errors;
        assert_eq!(errors.len(), 1, "{expected}: {errors:?}");
        assert_eq!(errors[0].field, field, "{expected}");
        assert!(
            errors[0].message.contains(message),
            "{expected}: {}",
            errors[0].message
        );
        assert!(
            emulator.configurations().await.is_empty(),
            "{expected}: published anyway"
        );
    }
}

#[tokio::test]
async fn every_failed_check_is_listed_at_once() {
    let mut m = model("lambda by ARN");
    m.spec.campaign_arn = "arn:aws:personalize:us-east-1:123456789012:campaign/series".into();
    m.spec.role.arn = Some("arn:aws:iam::123456789012:role/Missing".into());
    m.spec.processing.lambda.as_mut().expect("lambda").function =
        "arn:aws:lambda:us-east-1:123456789012:function:absent".into();
    let (outcome, _emulator) = checked(&m, json!({})).await;
    let fields: Vec<&str> = outcome
        .status
        .validation_errors
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.role.arn",
            "spec.campaignArn",
            "spec.processing.lambda.function"
        ]
    );
    assert_eq!(reason(&outcome, READY), "RoleNotFound");
}

#[tokio::test]
async fn a_fixed_problem_is_seen_on_the_next_pass() {
    let m = model("model value, every field set");
    let (outcome, emulator) = checked(
        &m,
        json!({"campaigns": [{"arn": CAMPAIGN, "status": "CREATE PENDING"}]}),
    )
    .await;
    assert_eq!(reason(&outcome, READY), "CampaignNotActive");
    let account = emulator.account(true);
    let mut m = m;
    m.status = Some(outcome.status);
    emulator
        .seed(json!({"campaigns": [{"arn": CAMPAIGN, "status": "ACTIVE"}]}))
        .await;
    let fixed = run(&m, &emulator, &account).await;
    assert!(fixed.result.is_ok(), "{:?}", fixed.result);
    assert!(fixed.status.validation_errors.is_empty());
    assert_eq!(reason(&fixed, VALIDATED), "Valid");
}

#[tokio::test]
async fn with_the_checks_turned_off_nothing_is_asked_and_the_model_is_published() {
    let emulator = emulator().await;
    let account = emulator.account(false);
    let mut m = model("lambda by ARN");
    m.spec.campaign_arn = "arn:aws:personalize:us-east-1:123456789012:campaign/series".into();
    let outcome = run(&m, &emulator, &account).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    for operation in ["DescribeCampaign", "GetFunction", "GetPolicy", "GetRole"] {
        assert_eq!(emulator.calls(operation).await, 0, "{operation}");
    }
    assert_eq!(emulator.configurations().await.len(), 1);
}

#[tokio::test]
async fn many_models_of_one_campaign_look_it_up_once() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    for i in 0..5 {
        let mut m = model("model value, every field set");
        m.spec.name = Some(format!("movies-{i}"));
        let outcome = run(&m, &emulator, &account).await;
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    }
    assert_eq!(emulator.calls("DescribeCampaign").await, 1);
    assert_eq!(emulator.calls("GetRole").await, 1);
}

#[tokio::test]
async fn an_unavailable_service_is_retried_not_reported_as_a_bad_spec() {
    let emulator = emulator().await;
    emulator
        .fault(json!({"operation": "DescribeCampaign", "status": 503}))
        .await;
    let outcome = run(
        &model("model value, every field set"),
        &emulator,
        &emulator.account(true),
    )
    .await;
    assert!(
        matches!(outcome.result, Err(Error::AwsUnavailable(_))),
        "{:?}",
        outcome.result
    );
    assert!(outcome.status.validation_errors.is_empty());
    assert_eq!(reason(&outcome, VALIDATED), "Valid");
    assert_eq!(reason(&outcome, READY), "AwsUnavailable");
}

#[tokio::test]
async fn switching_from_create_to_the_same_role_by_arn_keeps_the_role() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    let mut m = creating_role("Shared");
    let first = run(&m, &emulator, &account).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    let arn = first.status.role_arn.clone().expect("role ARN");
    m.status = Some(first.status);
    m.metadata.generation = Some(2);
    m.spec.role.create = None;
    m.spec.role.arn = Some(arn.clone());
    let switched = run(&m, &emulator, &account).await;
    assert!(switched.result.is_ok(), "{:?}", switched.result);
    assert!(
        role(&emulator.roles().await, "Shared").is_some(),
        "the role in use stays"
    );
    assert_eq!(switched.status.created_role_arns, [arn]);
    assert_eq!(emulator.calls("DeleteRole").await, 0);
}

#[tokio::test]
async fn a_role_made_before_a_failed_check_is_not_orphaned_by_a_rename() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    let mut m = model("lambda by ARN");
    m.spec.role.arn = None;
    m.spec.role.create = Some(RoleCreate {
        name: "Before".into(),
    });
    m.spec.processing.lambda.as_mut().expect("lambda").function =
        "arn:aws:lambda:us-east-1:123456789012:function:absent".into();
    let failed = run(&m, &emulator, &account).await;
    assert_eq!(reason(&failed, READY), "LambdaNotFound");
    assert_eq!(failed.status.created_role_arns.len(), 1, "recorded at once");
    m.status = Some(failed.status);

    m.metadata.generation = Some(2);
    m.spec.role.create = Some(RoleCreate {
        name: "After".into(),
    });
    m.spec.processing.lambda.as_mut().expect("lambda").function =
        "arn:aws:lambda:us-east-1:123456789012:function:enrich".into();
    let published = run(&m, &emulator, &account).await;
    assert!(published.result.is_ok(), "{:?}", published.result);
    let roles = emulator.roles().await;
    assert!(
        role(&roles, "Before").is_none(),
        "the unused role was deleted"
    );
    assert!(role(&roles, "After").is_some());
    assert_eq!(published.status.created_role_arns.len(), 1);
}

#[tokio::test]
async fn a_role_made_for_another_model_is_named_in_the_refusal() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    let first = creating_role("Taken");
    assert!(run(&first, &emulator, &account).await.result.is_ok());
    let mut second = creating_role("Taken");
    second.metadata.name = Some("rival".into());
    second.spec.name = Some("rival".into());
    let refused = run(&second, &emulator, &account).await;
    assert_eq!(reason(&refused, READY), "RoleNotOwned");
    let message = &refused.status.validation_errors[0].message;
    assert!(message.contains("marketing/movie-recs"), "{message}");
}

#[tokio::test]
async fn the_role_needs_the_campaign_to_exist_first() {
    let emulator = emulator().await;
    let mut m = creating_role("NoCampaignYet");
    m.spec.campaign_arn = "arn:aws:personalize:us-east-1:123456789012:campaign/series".into();
    let outcome = run(&m, &emulator, &emulator.account(false)).await;
    assert_eq!(reason(&outcome, READY), "CampaignNotFound");
    assert_eq!(emulator.calls("CreateRole").await, 0);
}

#[tokio::test]
async fn the_checks_also_guard_an_update() {
    let emulator = emulator().await;
    let account = emulator.account(true);
    let mut m = model("lambda by ARN");
    let first = run(&m, &emulator, &account).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    m.status = Some(first.status);
    m.metadata.generation = Some(2);
    m.spec.processing.lambda.as_mut().expect("lambda").function =
        "arn:aws:lambda:us-east-1:123456789012:function:absent".into();
    let update = run(&m, &emulator, &account).await;
    assert_eq!(reason(&update, READY), "LambdaNotFound");
    assert_eq!(emulator.calls("UpdateRecommenderConfiguration").await, 0);
}
