//! The reconciler's pipeline against the Pinpoint emulator, through the real SDK, without a
//! cluster: adoption (of a configuration whose Create answer was lost, only after the create
//! marker, and by ID) and the guards that stop it before any call (another model's claim, the
//! namespace's allowed roles, its account). Creating, updating and deleting are in
//! `reconciler.rs`.

mod support;

use k8s_openapi::jiff::Timestamp;
use recommender_operator::{
    api::RecommenderModel,
    domain::conditions::{PUBLISHED, READY},
    pipeline::{error::Error, services::AccountServices, sync_unguarded},
};
use serde_json::json;
use support::{
    emulator::Emulator,
    pipeline::{condition, reconcile},
    table::typed as model,
};

fn with_create_marker(mut m: RecommenderModel, at: Timestamp) -> RecommenderModel {
    m.metadata.annotations = Some(
        [(
            recommender_operator::api::CREATE_REQUESTED_AT.to_owned(),
            at.to_string(),
        )]
        .into(),
    );
    m
}

#[tokio::test]
async fn a_lost_create_response_is_adopted_not_repeated() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(3);
    // Pinpoint creates the configuration, but the answer never arrives.
    emulator
        .fault(json!({"operation": "CreateRecommenderConfiguration", "dropResponse": true, "count": 1}))
        .await;
    let mut m = with_create_marker(model("model value, every field set"), Timestamp::now());
    let first = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(
        matches!(first.result, Err(Error::PinpointUnavailable(_))),
        "{:?}",
        first.result
    );
    assert_eq!(
        emulator.calls("CreateRecommenderConfiguration").await,
        1,
        "the SDK must not retry a Create"
    );
    let stored = emulator.configurations().await;
    assert_eq!(stored.len(), 1, "the lost Create took effect");

    m.status = Some(first.status);
    let second = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(second.result.is_ok(), "{:?}", second.result);
    assert_eq!(
        second.status.configuration_id.as_deref(),
        stored[0]["id"].as_str()
    );
    assert_eq!(second.notes[0].reason, "Adopted");
    assert_eq!(emulator.calls("CreateRecommenderConfiguration").await, 1);
    assert_eq!(emulator.configurations().await.len(), 1);
}

#[tokio::test]
async fn only_configurations_created_after_the_marker_are_adopted() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    // An identical configuration made long before this model asked for one (say, in the
    // console) is not this model's to take.
    let mut older = model("model value, every field set");
    reconcile(&mut older, &pinpoint).await.expect("created");
    let later = Timestamp::now() + std::time::Duration::from_secs(3600);
    let m = with_create_marker(model("model value, every field set"), later);
    let outcome = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(outcome.notes[0].reason, "Created");
    assert_ne!(
        outcome.status.configuration_id,
        older.status.and_then(|s| s.configuration_id)
    );
    assert_eq!(emulator.configurations().await.len(), 2);
    assert_eq!(
        emulator.calls("GetRecommenderConfigurations").await,
        1,
        "looked first"
    );
}

fn adopting(mut m: RecommenderModel, id: &str) -> RecommenderModel {
    m.metadata.annotations = Some(
        [(
            recommender_operator::api::ADOPT_CONFIGURATION_ID.to_owned(),
            id.to_owned(),
        )]
        .into(),
    );
    m
}

#[tokio::test]
async fn a_configuration_made_in_the_console_is_taken_over_by_id() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let m = model("model value, every field set");
    let mut console = recommender_operator::domain::desired::desired_configuration(
        &m.spec,
        "console-made",
        m.spec.role.arn.as_deref().expect("role"),
    );
    console.display_name = Some("From the console".into());
    let made =
        recommender_operator::aws::pinpoint::Pinpoint::create(&pinpoint, "us-east-1", &console)
            .await
            .expect("made in the console");

    let outcome = sync_unguarded(&adopting(m, &made.id), &pinpoint, Timestamp::now()).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(
        outcome.status.configuration_id.as_deref(),
        Some(made.id.as_str())
    );
    assert_eq!(outcome.notes[0].reason, "Adopted");
    let stored = emulator.configurations().await;
    assert_eq!(stored.len(), 1, "taken over, not created");
    assert_eq!(
        stored[0]["configuration"]["Name"],
        json!("movie-recs"),
        "brought in line with the spec"
    );
    assert_eq!(emulator.calls("CreateRecommenderConfiguration").await, 1);
}

#[tokio::test]
async fn adoption_fails_clearly_for_a_missing_or_taken_configuration() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let missing = sync_unguarded(
        &adopting(model("model value, every field set"), "0123456789abcdef"),
        &pinpoint,
        Timestamp::now(),
    )
    .await;
    assert!(
        matches!(missing.result, Err(Error::ConfigurationNotFound(_))),
        "{:?}",
        missing.result
    );
    assert_eq!(
        condition(&missing.status, PUBLISHED).1,
        "ConfigurationNotFound"
    );

    let mut first = model("model value, every field set");
    reconcile(&mut first, &pinpoint).await.expect("created");
    let id = first
        .status
        .as_ref()
        .and_then(|s| s.configuration_id.clone())
        .expect("id");
    let claims = |claimed: &str| (claimed == id).then(|| "marketing/first".to_owned());
    let guards = recommender_operator::pipeline::Guards {
        claims: &claims,
        tenancy: &Default::default(),
        account: &AccountServices::unconfigured(),
        target: Ok(None),
    };
    let taken = recommender_operator::pipeline::sync(
        &adopting(model("lambda by name"), &id),
        &pinpoint,
        Timestamp::now(),
        &guards,
    )
    .await;
    assert!(
        matches!(taken.result, Err(Error::ConfigurationInUse(_))),
        "{:?}",
        taken.result
    );
    let (_, reason, message) = condition(&taken.status, PUBLISHED);
    assert_eq!(reason, "ConfigurationInUse");
    assert!(message.contains("marketing/first"), "{message}");
    assert_eq!(emulator.configurations().await.len(), 1);
}

#[tokio::test]
async fn a_role_outside_the_namespace_allow_list_is_refused_before_any_call() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let tenancy = recommender_operator::domain::tenancy::Tenancy::from_role_flags(vec![
        "marketing=arn:aws:iam::123456789012:role/marketing-*"
            .parse()
            .expect("rule"),
    ]);
    let guards = recommender_operator::pipeline::Guards {
        claims: &|_| None,
        tenancy: &tenancy,
        account: &AccountServices::unconfigured(),
        target: Ok(None),
    };
    let m = model("model value, every field set"); // namespace marketing, role PinpointPersonalize
    let refused =
        recommender_operator::pipeline::sync(&m, &pinpoint, Timestamp::now(), &guards).await;
    assert!(
        matches!(refused.result, Err(Error::RoleNotAllowed(_))),
        "{:?}",
        refused.result
    );
    assert!(refused.result.as_ref().is_err_and(|e| e.waits_for_change()));
    let (_, reason, message) = condition(&refused.status, PUBLISHED);
    assert_eq!(reason, "RoleNotAllowed");
    assert!(message.contains("PinpointPersonalize"), "{message}");
    assert_eq!(emulator.calls("CreateRecommenderConfiguration").await, 0);
    assert_eq!(emulator.calls("GetRecommenderConfigurations").await, 0);

    let mut allowed = m.clone();
    allowed.spec.role.arn = Some("arn:aws:iam::123456789012:role/marketing-recs".into());
    let ok =
        recommender_operator::pipeline::sync(&allowed, &pinpoint, Timestamp::now(), &guards).await;
    assert!(ok.result.is_ok(), "{:?}", ok.result);
}

/// The account a namespace publishes into is decided before the pipeline: a campaign of another
/// account, a namespace without a binding, or a role that cannot be assumed stop it before any
/// call, each with its own reason; a matching account is recorded in the status.
#[tokio::test]
async fn the_account_is_checked_before_anything_is_called() {
    use recommender_operator::pipeline::accounts::AccountRefusal;
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let m = model("model value, every field set"); // its campaign is in 123456789012
    let run = |target: Result<Option<String>, AccountRefusal>| {
        let (m, pinpoint) = (&m, &pinpoint);
        async move {
            let guards = recommender_operator::pipeline::Guards {
                claims: &|_| None,
                tenancy: &Default::default(),
                account: &AccountServices::unconfigured(),
                target,
            };
            recommender_operator::pipeline::sync(m, pinpoint, Timestamp::now(), &guards).await
        }
    };
    let mismatch = run(Ok(Some("111111111111".to_owned()))).await;
    assert!(
        matches!(&mismatch.result, Err(Error::AccountMismatch(m)) if m.contains("111111111111") && m.contains("123456789012")),
        "{:?}",
        mismatch.result
    );
    let (_, reason, _) = condition(&mismatch.status, "Stalled");
    assert_eq!(reason, "AccountMismatch");
    for (refusal, expected) in [
        (
            AccountRefusal::NotBound("no binding".into()),
            "AccountNotBound",
        ),
        (
            AccountRefusal::Unavailable("STS said no".into()),
            "AccountUnavailable",
        ),
    ] {
        let refused = run(Err(refusal)).await;
        let (_, reason, message) = condition(&refused.status, READY);
        assert_eq!(reason, expected);
        assert!(!message.is_empty());
    }
    for operation in [
        "CreateRecommenderConfiguration",
        "GetRecommenderConfigurations",
    ] {
        assert_eq!(emulator.calls(operation).await, 0, "{operation} was called");
    }

    let published = run(Ok(Some("123456789012".to_owned()))).await;
    assert!(published.result.is_ok(), "{:?}", published.result);
    assert_eq!(published.status.account_id.as_deref(), Some("123456789012"));
}
