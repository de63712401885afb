//! Faults injected through the admin API: statuses, error types, latency, dropped connections
//! and answers, counts and shares, as Pinpoint's client and those of IAM, Personalize and Lambda
//! see them; and the faults the admin API refuses.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_pinpoint::error::{ProvideErrorMetadata, SdkError};
use common::{
    CAMPAIGN, admin, configuration as basic,
    recommenders::{add_fault, calls, client, client_no_retry, create, raw, start_default, stored},
    services::{iam, lambda, personalize, start_seeded, trust},
    start,
};
use pinpoint_emulator::Settings;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Pinpoint
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn injected_429_fails_one_create_then_clears() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    add_fault(
        addr,
        json!({"operation": "CreateRecommenderConfiguration", "status": 429, "count": 1}),
    )
    .await;

    // Another operation does not consume the fault.
    client
        .get_recommender_configurations()
        .send()
        .await
        .expect("list is not affected");

    let err = client
        .create_recommender_configuration()
        .create_recommender_configuration(basic("throttled").build())
        .send()
        .await
        .expect_err("the injected 429 reaches the caller");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(429));
    let err = err.into_service_error();
    assert!(err.is_too_many_requests_exception(), "{err:?}");

    create(&client, basic("after-throttle")).await;
    assert_eq!(
        stored(addr).await.len(),
        1,
        "the throttled create stored nothing"
    );
    let calls = calls(addr).await;
    assert_eq!(calls["CreateRecommenderConfiguration"], 2, "{calls}");
    assert_eq!(calls["GetRecommenderConfigurations"], 1, "{calls}");
}

#[tokio::test]
async fn the_sdk_retries_an_injected_429_by_default() {
    let addr = start_default().await;
    add_fault(
        addr,
        json!({"operation": "CreateRecommenderConfiguration", "status": 429, "count": 1}),
    )
    .await;
    create(&client(addr), basic("retried")).await;
    assert_eq!(
        calls(addr).await["CreateRecommenderConfiguration"],
        2,
        "one throttled attempt, one retry"
    );
}

#[tokio::test]
async fn injected_500_is_an_internal_server_error() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    add_fault(
        addr,
        json!({"operation": "CreateRecommenderConfiguration", "status": 500, "count": 1}),
    )
    .await;
    let err = client
        .create_recommender_configuration()
        .create_recommender_configuration(basic("broken").build())
        .send()
        .await
        .expect_err("the injected 500 reaches the caller")
        .into_service_error();
    assert!(err.is_internal_server_error_exception(), "{err:?}");
    create(&client, basic("recovered")).await;
}

#[tokio::test]
async fn injected_error_type_and_message_are_used() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    add_fault(
        addr,
        json!({"operation": "GetRecommenderConfigurations", "status": 403, "errorType": "ForbiddenException",
               "message": "nope", "count": 1}),
    )
    .await;
    let err = client
        .get_recommender_configurations()
        .send()
        .await
        .expect_err("fault")
        .into_service_error();
    assert!(err.is_forbidden_exception(), "{err:?}");
    assert_eq!(err.message(), Some("nope"));
}

#[tokio::test]
async fn injected_latency_delays_one_call() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    add_fault(
        addr,
        json!({"operation": "*", "latencyMs": 300, "count": 1}),
    )
    .await;
    let started = Instant::now();
    client
        .get_recommender_configurations()
        .send()
        .await
        .expect("a slow call still succeeds");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");

    let pending = raw(addr, "GET", "/_emulator/faults", None).await.json();
    assert_eq!(
        pending,
        json!([]),
        "a count-1 fault is used up after one call"
    );
}

#[tokio::test]
async fn dropped_connection_is_not_a_service_error() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    add_fault(addr, json!({"drop": true, "count": 1})).await;
    let err = client
        .create_recommender_configuration()
        .create_recommender_configuration(basic("dropped").build())
        .send()
        .await
        .expect_err("a dropped connection fails the call");
    assert!(
        matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "expected a dispatch or response error, got {err:?}"
    );
    // The next call goes through.
    create(&client, basic("after-drop")).await;
}

#[tokio::test]
async fn faults_are_listed_and_cleared() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    // No count: the fault applies until cleared.
    add_fault(
        addr,
        json!({"operation": "GetRecommenderConfigurations", "status": 500}),
    )
    .await;
    for _ in 0..2 {
        let err = client
            .get_recommender_configurations()
            .send()
            .await
            .expect_err("fault")
            .into_service_error();
        assert!(err.is_internal_server_error_exception(), "{err:?}");
    }
    let pending = raw(addr, "GET", "/_emulator/faults", None).await.json();
    assert_eq!(pending.as_array().map(Vec::len), Some(1), "{pending}");
    assert_eq!(pending[0]["operation"], "GetRecommenderConfigurations");

    let cleared = raw(addr, "DELETE", "/_emulator/faults", None).await;
    assert_eq!(cleared.status, 204, "{cleared:?}");
    client
        .get_recommender_configurations()
        .send()
        .await
        .expect("no fault after clearing");
    assert_eq!(
        raw(addr, "GET", "/_emulator/faults", None).await.json(),
        json!([])
    );
}

#[tokio::test]
async fn a_malformed_fault_is_rejected() {
    let addr = start_default().await;
    let response = raw(
        addr,
        "POST",
        "/_emulator/faults",
        Some(r#"{"status": "teapot"}"#),
    )
    .await;
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(
        raw(addr, "GET", "/_emulator/faults", None).await.json(),
        json!([])
    );
}

#[tokio::test]
async fn faults_that_could_never_fire_as_asked_are_rejected() {
    let addr = start_default().await;
    for fault in [
        json!({"status": 0}),
        json!({"status": 200}),
        json!({"status": 1000}),
        json!({"status": 500, "count": 0}),
        json!({"operation": "CreateRecommenderConfigurations", "status": 500}),
        json!({"operation": "*", "count": 1}),
    ] {
        let response = raw(addr, "POST", "/_emulator/faults", Some(&fault.to_string())).await;
        assert_eq!(response.status, 400, "fault {fault}: {response:?}");
    }
    assert_eq!(
        raw(addr, "GET", "/_emulator/faults", None).await.json(),
        json!([])
    );
}

#[tokio::test]
async fn an_every_fault_hits_exactly_that_share_of_calls() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    add_fault(addr, json!({"operation": "*", "status": 429, "every": 2})).await;
    let mut throttled = 0;
    for i in 0..6 {
        match client
            .create_recommender_configuration()
            .create_recommender_configuration(basic(&format!("every-{i}")).build())
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => {
                assert!(e.into_service_error().is_too_many_requests_exception());
                throttled += 1;
            }
        }
    }
    assert_eq!(throttled, 3, "every second call");
    assert_eq!(stored(addr).await.len(), 3);
}

#[tokio::test]
async fn a_dropped_response_still_takes_effect() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    add_fault(
        addr,
        json!({"operation": "CreateRecommenderConfiguration", "dropResponse": true, "count": 1}),
    )
    .await;
    let err = client
        .create_recommender_configuration()
        .create_recommender_configuration(basic("lost").build())
        .send()
        .await
        .expect_err("the answer is lost");
    assert!(
        err.as_service_error().is_none(),
        "not a service error: {err:?}"
    );
    assert_eq!(
        stored(addr).await.len(),
        1,
        "but the configuration was made"
    );
}

// ---------------------------------------------------------------------------------------------
// IAM, Personalize and Lambda
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn throttling_faults_speak_each_protocol() {
    let addr = start_seeded().await;
    for operation in ["GetRole", "DescribeCampaign", "GetFunction"] {
        let response = admin(
            addr,
            "POST",
            "/_emulator/faults",
            Some(json!({ "operation": operation, "status": 429, "count": 1 })),
        )
        .await;
        assert_eq!(response.status, 204, "{response:?}");
    }

    let iam = iam(addr);
    let err = iam
        .get_role()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("Throttling"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    iam.get_role()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect("the fault was for one call");

    let personalize = personalize(addr, "us-east-1");
    let err = personalize
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    personalize
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect("the fault was for one call");

    let lambda = lambda(addr, "us-east-1");
    let err = lambda
        .get_function()
        .function_name("enrich")
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("TooManyRequestsException"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(429));
    lambda
        .get_function()
        .function_name("enrich")
        .send()
        .await
        .expect("the fault was for one call");

    // Explicit error types, and "*" for every operation.
    admin(
        addr,
        "POST",
        "/_emulator/faults",
        Some(json!({ "operation": "*", "status": 500, "errorType": "ServiceFailure", "count": 3 })),
    )
    .await;
    let err = iam
        .list_role_policies()
        .role_name("PinpointPersonalize")
        .send()
        .await
        .expect_err("a server error");
    assert_eq!(err.code(), Some("ServiceFailure"));
    let err = lambda
        .get_policy()
        .function_name("enrich")
        .send()
        .await
        .expect_err("a server error");
    assert_eq!(err.code(), Some("ServiceFailure"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    let err = personalize
        .describe_campaign()
        .campaign_arn(CAMPAIGN)
        .send()
        .await
        .expect_err("a server error");
    assert_eq!(err.code(), Some("ServiceFailure"));

    let calls = admin(addr, "GET", "/_emulator/calls", None).await.json();
    assert_eq!(calls["GetRole"], 2, "{calls}");
    assert_eq!(calls["ListRolePolicies"], 1, "{calls}");
    assert_eq!(calls["DescribeCampaign"], 3, "{calls}");
    assert_eq!(calls["GetFunction"], 2, "{calls}");
    assert_eq!(calls["GetPolicy"], 1, "{calls}");
}

#[tokio::test]
async fn drop_response_faults_apply_to_post_root_calls() {
    let addr = start(Settings::default()).await;
    admin(
        addr,
        "POST",
        "/_emulator/faults",
        Some(json!({ "operation": "CreateRole", "dropResponse": true, "count": 1 })),
    )
    .await;
    let client = iam(addr);
    client
        .create_role()
        .role_name("Lost")
        .assume_role_policy_document(trust().to_string())
        .send()
        .await
        .expect_err("the answer is lost");
    // The call took effect all the same.
    client
        .get_role()
        .role_name("Lost")
        .send()
        .await
        .expect("the role exists");
}
