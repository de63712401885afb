//! The reconciler's pipeline (`sync_unguarded` and `delete_configuration`) against the Pinpoint emulator,
//! through the real SDK, without a cluster. The same behaviour against a real API server is in
//! `e2e.rs`.

mod support;

use k8s_openapi::jiff::Timestamp;
use recommender_operator::{
    api::{DeletionPolicy, RecommenderModel},
    domain::conditions::{PUBLISHED, READY, VALIDATED, find},
    pipeline::{
        deletion::delete_configuration, error::Error, services::AccountServices, sync_unguarded,
    },
};
use serde_json::{Value, json};
use support::emulator::Emulator;

fn model(base: &str) -> RecommenderModel {
    support::table::typed(base)
}

fn condition(
    model_status: &recommender_operator::api::RecommenderModelStatus,
    type_: &str,
) -> (String, String, String) {
    let c = find(&model_status.conditions, type_).unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// Runs `sync` and stores the resulting status on the model, as the controller would.
async fn reconcile(
    model: &mut RecommenderModel,
    pinpoint: &impl recommender_operator::aws::pinpoint::Pinpoint,
) -> Result<(), Error> {
    let outcome = sync_unguarded(model, pinpoint, Timestamp::now()).await;
    model.status = Some(outcome.status);
    outcome.result
}

#[tokio::test]
async fn creates_once_then_costs_nothing_while_unchanged() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let mut m = model("model value, every field set");

    let first = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    assert_eq!(first.notes.len(), 1);
    assert_eq!(first.notes[0].reason, "Created");
    let status = first.status.clone();
    let id = status
        .configuration_id
        .clone()
        .expect("configuration ID recorded");
    assert_eq!(status.region.as_deref(), Some("us-east-1"));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        status.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/PinpointPersonalize")
    );
    assert!(status.creation_date.is_some() && status.last_modified_date.is_some());
    for type_ in [VALIDATED, PUBLISHED, READY] {
        assert_eq!(condition(&status, type_).0, "True", "{type_}");
    }

    // Exactly the fields the spec implies, and nothing else.
    let stored = emulator.configurations().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], json!(id));
    assert_eq!(
        stored[0]["configuration"],
        support::table::model_value_wire_body()
    );

    m.status = Some(status.clone());
    let second = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(second.result.is_ok());
    assert_eq!(
        second.status, status,
        "an unchanged object gives an identical status: no write"
    );
    assert!(second.notes.is_empty());
    assert_eq!(emulator.calls("CreateRecommenderConfiguration").await, 1);
    assert_eq!(emulator.calls("UpdateRecommenderConfiguration").await, 0);
    assert_eq!(emulator.calls("GetRecommenderConfiguration").await, 1);
}

#[tokio::test]
async fn a_changed_spec_updates_the_same_configuration_in_place() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let mut m = model("lambda by ARN");
    reconcile(&mut m, &pinpoint).await.expect("created");
    let id = m
        .status
        .as_ref()
        .and_then(|s| s.configuration_id.clone())
        .expect("id");

    m.spec.description = Some("Now with posters".into());
    m.spec
        .processing
        .lambda
        .as_mut()
        .expect("lambda")
        .attributes
        .pop();
    m.metadata.generation = Some(2);
    let outcome = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(
        outcome.status.configuration_id.as_deref(),
        Some(id.as_str())
    );
    assert_eq!(outcome.status.observed_generation, Some(2));
    assert_eq!(outcome.notes[0].reason, "Updated");
    assert!(
        outcome.notes[0].message.contains("Description")
            && outcome.notes[0].message.contains("Attributes")
    );

    let stored = emulator.configurations().await;
    assert_eq!(stored.len(), 1, "no second configuration");
    assert_eq!(
        stored[0]["configuration"]["Description"],
        json!("Now with posters")
    );
    assert_eq!(
        stored[0]["configuration"]["Attributes"],
        json!({"Recommendations.Title": "Movie title"}),
        "update is a full replace"
    );
    assert_eq!(emulator.calls("CreateRecommenderConfiguration").await, 1);
    assert_eq!(emulator.calls("UpdateRecommenderConfiguration").await, 1);
}

#[tokio::test]
async fn a_configuration_deleted_behind_our_back_is_recreated() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let mut m = model("model value, every field set");
    reconcile(&mut m, &pinpoint).await.expect("created");
    let old = m
        .status
        .as_ref()
        .and_then(|s| s.configuration_id.clone())
        .expect("id");
    // Someone deletes it in the console.
    let mut gone = m.clone();
    gone.spec.deletion_policy = DeletionPolicy::Delete;
    delete_configuration(&gone, &pinpoint)
        .await
        .expect("deleted");

    let outcome = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(outcome.result.is_ok());
    let new = outcome.status.configuration_id.clone().expect("new id");
    assert_ne!(new, old);
    assert_eq!(outcome.notes[0].reason, "Recreated");
    assert!(outcome.notes[0].warning);
    assert_eq!(condition(&outcome.status, PUBLISHED).1, "Recreated");
    assert_eq!(emulator.configurations().await.len(), 1);
}

#[tokio::test]
async fn an_invalid_spec_reports_every_error_and_calls_nothing() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let m = model("every error at once");
    let outcome = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    let Err(error) = &outcome.result else {
        panic!("invalid spec accepted")
    };
    assert!(error.waits_for_change(), "no retry loop for a bad spec");
    assert_eq!(outcome.status.validation_errors.len(), 5);
    let (status, reason, message) = condition(&outcome.status, VALIDATED);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "InvalidSpec"));
    for e in &outcome.status.validation_errors {
        assert!(message.contains(&e.field), "the message names {}", e.field);
    }
    assert_eq!(condition(&outcome.status, READY).1, "InvalidSpec");
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.warning && n.reason == "InvalidSpec")
    );
    assert_eq!(emulator.calls("CreateRecommenderConfiguration").await, 0);

    // The same problem again: no second warning event.
    let mut again = m.clone();
    again.status = Some(outcome.status.clone());
    let repeat = sync_unguarded(&again, &pinpoint, Timestamp::now()).await;
    assert!(repeat.notes.is_empty());
    assert_eq!(repeat.status, outcome.status);
}

async fn failing_create(fault: Value) -> (Result<(), Error>, String, String) {
    let emulator = Emulator::start().await;
    emulator.fault(fault).await;
    let m = model("model value, every field set");
    let outcome = sync_unguarded(&m, &emulator.pinpoint(1), Timestamp::now()).await;
    let (_, reason, message) = condition(&outcome.status, READY);
    assert_eq!(condition(&outcome.status, PUBLISHED).1, reason);
    assert!(outcome.status.configuration_id.is_none());
    (outcome.result, reason, message)
}

#[tokio::test]
async fn each_pinpoint_error_becomes_its_condition_reason_with_pinpoints_message() {
    for (status, reason) in [
        (400, "Rejected"),
        (403, "AccessDenied"),
        (429, "Throttled"),
        (500, "PinpointUnavailable"),
        (503, "PinpointUnavailable"),
    ] {
        let message = format!("injected {status} for the test");
        let (result, got, got_message) =
            failing_create(json!({"operation": "CreateRecommenderConfiguration", "status": status, "message": message})).await;
        let error = result.expect_err("the call failed");
        assert!(!error.waits_for_change(), "{reason} is retried");
        assert_eq!(got, reason, "HTTP {status}");
        assert!(
            got_message.contains(&message),
            "Pinpoint's message is kept: {got_message}"
        );
    }
}

#[tokio::test]
async fn dropped_connections_and_refused_ones_are_unavailability() {
    let (result, reason, _) = failing_create(json!({"drop": true})).await;
    assert!(result.is_err());
    assert_eq!(reason, "PinpointUnavailable");

    // Nothing listens on the endpoint at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let pinpoint = recommender_operator::aws::pinpoint::SdkPinpoint::new(
        support::emulator::sdk_config(1),
        Some(url),
    );
    let outcome = sync_unguarded(
        &model("model value, every field set"),
        &pinpoint,
        Timestamp::now(),
    )
    .await;
    assert!(
        matches!(outcome.result, Err(Error::PinpointUnavailable(_))),
        "{:?}",
        outcome.result
    );
}

#[tokio::test]
async fn the_sdk_retries_reads_but_never_a_create() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(3);

    // A Create is not idempotent: even a throttled one is left to the reconciler, which looks
    // for an earlier attempt's result before trying again.
    emulator
        .fault(json!({"operation": "CreateRecommenderConfiguration", "status": 429, "count": 1}))
        .await;
    let mut m = model("model value, every field set");
    let throttled = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(
        matches!(throttled.result, Err(Error::Throttled(_))),
        "{:?}",
        throttled.result
    );
    assert_eq!(emulator.calls("CreateRecommenderConfiguration").await, 1);
    reconcile(&mut m, &pinpoint)
        .await
        .expect("created on the next pass");

    // A read is retried by the SDK itself.
    emulator
        .fault(json!({"operation": "GetRecommenderConfiguration", "status": 429, "count": 1}))
        .await;
    let outcome = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(emulator.calls("GetRecommenderConfiguration").await, 2);
    assert_eq!(emulator.calls("CreateRecommenderConfiguration").await, 2);
    assert_eq!(emulator.configurations().await.len(), 1);
}

#[tokio::test]
async fn a_model_recovers_once_the_fault_clears() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    emulator.fault(json!({"status": 500})).await;
    let mut m = model("model value, every field set");
    assert!(reconcile(&mut m, &pinpoint).await.is_err());
    assert_eq!(
        condition(m.status.as_ref().expect("status"), READY).1,
        "PinpointUnavailable"
    );
    emulator.clear_faults().await;
    reconcile(&mut m, &pinpoint).await.expect("recovered");
    assert_eq!(
        condition(m.status.as_ref().expect("status"), READY).0,
        "True"
    );
}

#[tokio::test]
async fn delete_policy_deletes_and_retain_keeps() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);

    let mut deleted = model("model value, every field set");
    reconcile(&mut deleted, &pinpoint).await.expect("created");
    let mut retained = model("lambda by name");
    retained.spec.deletion_policy = DeletionPolicy::Retain;
    reconcile(&mut retained, &pinpoint).await.expect("created");
    assert_eq!(emulator.configurations().await.len(), 2);

    let note = delete_configuration(&deleted, &pinpoint)
        .await
        .expect("deleted");
    assert_eq!(note.reason, "Deleted");
    let note = delete_configuration(&retained, &pinpoint)
        .await
        .expect("retained");
    assert_eq!(note.reason, "Retained");
    let left = emulator.configurations().await;
    assert_eq!(left.len(), 1);
    assert_eq!(
        Some(left[0]["id"].as_str().unwrap_or_default()),
        retained
            .status
            .as_ref()
            .and_then(|s| s.configuration_id.as_deref())
    );

    // Already gone counts as done, and a spec gone bad does not block deletion.
    deleted.spec.campaign_arn = "not an ARN".into();
    deleted.spec.processing.model_value = None;
    let note = delete_configuration(&deleted, &pinpoint)
        .await
        .expect("already gone is done");
    assert!(note.message.contains("already gone"), "{}", note.message);
}

#[tokio::test]
async fn deletion_waits_while_pinpoint_fails() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let mut m = model("model value, every field set");
    reconcile(&mut m, &pinpoint).await.expect("created");
    emulator
        .fault(json!({"operation": "DeleteRecommenderConfiguration", "status": 500, "count": 1}))
        .await;
    assert!(matches!(
        delete_configuration(&m, &pinpoint).await,
        Err(Error::PinpointUnavailable(_))
    ));
    assert_eq!(emulator.configurations().await.len(), 1);
    delete_configuration(&m, &pinpoint)
        .await
        .expect("deleted on retry");
    assert!(emulator.configurations().await.is_empty());
}

#[tokio::test]
async fn a_campaign_moving_region_moves_the_configuration() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let mut m = model("model value, every field set");
    reconcile(&mut m, &pinpoint).await.expect("created");
    m.spec.campaign_arn = "arn:aws:personalize:eu-west-1:123456789012:campaign/movies".into();
    m.metadata.generation = Some(2);
    let outcome = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(outcome.status.region.as_deref(), Some("eu-west-1"));
    let stored = emulator.configurations().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["region"], json!("eu-west-1"));
    assert_eq!(
        outcome.notes.iter().map(|n| n.reason).collect::<Vec<_>>(),
        ["Moved", "Created"]
    );
}

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

#[tokio::test]
async fn drift_is_put_back_and_said_so_then_costs_nothing() {
    let emulator = Emulator::start().await;
    let pinpoint = emulator.pinpoint(1);
    let mut m = model("model value, every field set");
    reconcile(&mut m, &pinpoint).await.expect("created");
    let status = m.status.clone().expect("status");
    let id = status.configuration_id.clone().expect("id");

    // Someone edits the configuration in the console.
    let desired = recommender_operator::domain::desired::desired_configuration(
        &m.spec,
        "movie-recs",
        m.spec.role.arn.as_deref().expect("role"),
    );
    let mut edited = desired.clone();
    edited.display_name = Some("Edited by hand".into());
    recommender_operator::aws::pinpoint::Pinpoint::update(&pinpoint, "us-east-1", &id, &edited)
        .await
        .expect("out-of-band edit");

    let outcome = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(outcome.notes.len(), 1);
    assert_eq!(outcome.notes[0].reason, "DriftCorrected");
    assert!(outcome.notes[0].warning);
    assert!(
        outcome.notes[0]
            .message
            .contains("RecommendationsDisplayName")
    );
    let (published, reason, _) = condition(&outcome.status, PUBLISHED);
    assert_eq!(
        (published.as_str(), reason.as_str()),
        ("True", "DriftCorrected")
    );
    assert_eq!(condition(&outcome.status, READY).0, "True");
    let stored = emulator.configurations().await;
    assert_eq!(
        stored[0]["configuration"]["RecommendationsDisplayName"],
        json!("Top movies")
    );

    // The next resync finds it in line: no write of any kind, the reason stays.
    m.status = Some(outcome.status.clone());
    let quiet = sync_unguarded(&m, &pinpoint, Timestamp::now()).await;
    assert!(quiet.notes.is_empty());
    assert_eq!(quiet.status, outcome.status);
    assert_eq!(emulator.calls("UpdateRecommenderConfiguration").await, 2);
}

#[tokio::test]
async fn the_quota_is_a_condition_of_its_own_and_a_freed_slot_lets_the_model_proceed() {
    let emulator = Emulator::start_with(pinpoint_emulator::Settings {
        max_configurations: 1,
        ..Default::default()
    })
    .await;
    let pinpoint = emulator.pinpoint(1);
    let mut first = model("model value, every field set");
    reconcile(&mut first, &pinpoint).await.expect("created");

    let mut waiting = model("lambda by name");
    let err = reconcile(&mut waiting, &pinpoint)
        .await
        .expect_err("over the quota");
    assert!(matches!(err, Error::QuotaExceeded(_)), "{err:?}");
    assert!(!err.waits_for_change(), "retried with backoff");
    let (_, reason, message) = condition(waiting.status.as_ref().expect("status"), READY);
    assert_eq!(reason, "QuotaExceeded");
    assert!(
        message.contains("100 recommender configurations"),
        "{message}"
    );

    delete_configuration(&first, &pinpoint)
        .await
        .expect("slot freed");
    reconcile(&mut waiting, &pinpoint).await.expect("proceeds");
    assert_eq!(
        condition(waiting.status.as_ref().expect("status"), READY).0,
        "True"
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
