//! Which Pinpoint calls the emulator admits: SigV4 with known, configured or session
//! credentials, percent-encoded paths, and AWS errors for unsigned calls and unknown routes.

mod common;

use std::collections::HashMap;

use aws_sdk_pinpoint::{
    Client,
    config::{BehaviorVersion, Credentials, Region},
    error::ProvideErrorMetadata,
};
use common::{
    CAMPAIGN, ROLE, assert_refused, configuration as basic,
    recommenders::{ClientOptions, client, client_with, create, raw, start_default, stored},
    start,
};
use pinpoint_emulator::Settings;
use serde_json::json;

#[tokio::test]
async fn unsigned_request_is_forbidden() {
    let addr = start_default().await;
    let body = json!({
        "RecommendationProviderUri": CAMPAIGN,
        "RecommendationProviderRoleArn": ROLE,
        "RecommendationsDisplayName": "Picks",
    })
    .to_string();
    let response = raw(addr, "POST", "/v1/recommenders", Some(&body)).await;
    assert_eq!(response.status, 403, "{response:?}");
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException")
    );
    assert!(response.json()["Message"].is_string(), "{response:?}");
    assert!(
        stored(addr).await.is_empty(),
        "an unsigned create stores nothing"
    );
}

#[tokio::test]
async fn wrong_secret_is_an_invalid_signature() {
    let addr = start_default().await;
    let client = client_with(
        addr,
        ClientOptions {
            secret: "wrong",
            ..Default::default()
        },
    );
    let err = client
        .create_recommender_configuration()
        .create_recommender_configuration(basic("signed-badly").build())
        .send()
        .await
        .expect_err("a bad signature is refused");
    assert_refused(&err, 403, "InvalidSignatureException");
    assert!(stored(addr).await.is_empty());
}

#[tokio::test]
async fn unknown_access_key_is_forbidden() {
    let addr = start_default().await;
    let client = client_with(
        addr,
        ClientOptions {
            access_key: "nobody",
            ..Default::default()
        },
    );
    let err = client
        .get_recommender_configurations()
        .send()
        .await
        .expect_err("an unknown key is refused");
    assert_refused(&err, 403, "UnrecognizedClientException");
}

#[tokio::test]
async fn configured_credentials_are_accepted() {
    let settings = Settings {
        credentials: HashMap::from([("AKIDEXAMPLE".to_owned(), "s3cr3t/with+chars".to_owned())]),
        ..Default::default()
    };
    let addr = start(settings).await;
    let custom = client_with(
        addr,
        ClientOptions {
            access_key: "AKIDEXAMPLE",
            secret: "s3cr3t/with+chars",
            ..Default::default()
        },
    );
    create(&custom, basic("custom-credentials")).await;
    // The default test:test pair is not configured on this emulator.
    let err = client(addr)
        .get_recommender_configurations()
        .send()
        .await
        .expect_err("test:test is unknown here");
    assert_eq!(err.code(), Some("UnrecognizedClientException"), "{err:?}");
}

#[tokio::test]
async fn session_credentials_are_accepted() {
    let addr = start_default().await;
    let config = aws_sdk_pinpoint::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            Some("session-token".into()),
            None,
            "test",
        ))
        .endpoint_url(format!("http://{addr}"))
        .build();
    create(&Client::from_conf(config), basic("with-session-token")).await;
}

#[tokio::test]
async fn ids_that_need_percent_encoding_are_signed_correctly() {
    let addr = start_default().await;
    let client = client(addr);
    for id in ["has space", "a+b=c", "ünï", "x%2Fy"] {
        let err = client
            .get_recommender_configuration()
            .recommender_id(id)
            .send()
            .await
            .expect_err("no such configuration");
        assert_eq!(err.code(), Some("NotFoundException"), "id {id:?}: {err:?}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_with_aws_errors() {
    let addr = start_default().await;
    let response = raw(addr, "PATCH", "/v1/recommenders/abc", Some("{}")).await;
    assert_eq!(response.status, 405, "{response:?}");
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("MethodNotAllowedException")
    );
    assert!(response.json()["Message"].is_string(), "{response:?}");

    let response = raw(addr, "GET", "/v1/no-such-thing", None).await;
    assert_eq!(response.status, 404, "{response:?}");
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("NotFoundException")
    );
}
