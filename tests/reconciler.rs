//! The reconciler's pipeline (`sync_unguarded` and `delete_configuration`) against the Pinpoint emulator,
//! through the real SDK, without a cluster: creating, updating, recreating and deleting a
//! configuration, invalid specs, Pinpoint's errors and the SDK's retries, drift and the quota.
//! Adoption and the checks before any call are in `reconciler_adoption.rs`. The same behaviour
//! against a real API server is in `e2e.rs` and `e2e_recovery.rs`.

mod support;

use k8s_openapi::jiff::Timestamp;
use recommender_operator::{
    api::DeletionPolicy,
    domain::conditions::{PUBLISHED, READY, VALIDATED},
    pipeline::{deletion::delete_configuration, error::Error, sync_unguarded},
};
use serde_json::{Value, json};
use support::{
    emulator::Emulator,
    pipeline::{condition, reconcile},
    table::typed as model,
};

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
