//! Drives the emulator with the real `aws-sdk-pinpoint` client: the wire protocol, SigV4, the
//! service's rules, the quota, and the admin API's state and fault injection.

mod common;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_sdk_pinpoint::{
    Client,
    config::{
        BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
        interceptors::BeforeDeserializationInterceptorContextRef, retry::RetryConfig,
    },
    error::{BoxError, ProvideErrorMetadata, SdkError},
    types::{
        CreateRecommenderConfigurationShape, RecommenderConfigurationResponse,
        UpdateRecommenderConfigurationShape, builders::CreateRecommenderConfigurationShapeBuilder,
    },
};
use common::{Answer, assert_refused, start};
use pinpoint_emulator::Settings;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/PinpointPersonalize";
const CAMPAIGN: &str = "arn:aws:personalize:us-east-1:123456789012:campaign/movies";
const CAMPAIGN_WEST: &str = "arn:aws:personalize:us-west-2:123456789012:campaign/movies";
const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:transform";
const LAMBDA_WEST: &str = "arn:aws:lambda:us-west-2:123456789012:function:transform";

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

async fn start_default() -> SocketAddr {
    start(Settings::default()).await
}

/// Records the HTTP status of every response the SDK receives.
#[derive(Clone, Debug, Default)]
struct Statuses(Arc<Mutex<Vec<u16>>>);

impl Statuses {
    fn take(&self) -> Vec<u16> {
        std::mem::take(&mut *self.0.lock().expect("status lock"))
    }
}

impl Intercept for Statuses {
    fn name(&self) -> &'static str {
        "Statuses"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let status = context.response().status().as_u16();
        self.0.lock().expect("status lock").push(status);
        Ok(())
    }
}

struct ClientOptions<'a> {
    region: &'a str,
    access_key: &'a str,
    secret: &'a str,
    /// `Some(1)` turns retries off so an injected error reaches the caller.
    max_attempts: Option<u32>,
    statuses: Option<Statuses>,
}

impl Default for ClientOptions<'_> {
    fn default() -> Self {
        Self {
            region: "us-east-1",
            access_key: "test",
            secret: "test",
            max_attempts: None,
            statuses: None,
        }
    }
}

fn client_with(addr: SocketAddr, options: ClientOptions<'_>) -> Client {
    let mut builder = aws_sdk_pinpoint::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(options.region.to_owned()))
        .credentials_provider(Credentials::new(
            options.access_key,
            options.secret,
            None,
            None,
            "test",
        ))
        .endpoint_url(format!("http://{addr}"));
    if let Some(attempts) = options.max_attempts {
        builder = builder.retry_config(RetryConfig::standard().with_max_attempts(attempts));
    }
    if let Some(statuses) = options.statuses {
        builder = builder.interceptor(statuses);
    }
    Client::from_conf(builder.build())
}

fn client(addr: SocketAddr) -> Client {
    client_with(addr, ClientOptions::default())
}

/// A client that makes exactly one attempt per call.
fn client_no_retry(addr: SocketAddr) -> Client {
    client_with(
        addr,
        ClientOptions {
            max_attempts: Some(1),
            ..Default::default()
        },
    )
}

/// A valid configuration without a transformer.
fn basic(name: &str) -> CreateRecommenderConfigurationShapeBuilder {
    CreateRecommenderConfigurationShape::builder()
        .name(name)
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendations_display_name("Top picks")
}

/// A valid configuration with a Lambda transformer and attributes.
fn with_transformer(name: &str) -> CreateRecommenderConfigurationShapeBuilder {
    CreateRecommenderConfigurationShape::builder()
        .name(name)
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendation_transformer_uri(LAMBDA)
        .attributes("Recommendations.Title", "Title")
        .attributes("Price", "Price")
}

async fn create(
    client: &Client,
    shape: CreateRecommenderConfigurationShapeBuilder,
) -> RecommenderConfigurationResponse {
    client
        .create_recommender_configuration()
        .create_recommender_configuration(shape.build())
        .send()
        .await
        .expect("create succeeds")
        .recommender_configuration_response
        .expect("create returns the configuration")
}

/// Creates `shape`, expects a 400 BadRequestException, and returns its message.
async fn rejected(client: &Client, shape: CreateRecommenderConfigurationShapeBuilder) -> String {
    let err = client
        .create_recommender_configuration()
        .create_recommender_configuration(shape.build())
        .send()
        .await
        .expect_err("create is rejected");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(400), "status of {err:?}");
    let err = err.into_service_error();
    assert!(
        err.is_bad_request_exception(),
        "expected BadRequestException, got {err:?}"
    );
    err.message().expect("the error has a message").to_owned()
}

fn id_of(response: &RecommenderConfigurationResponse) -> String {
    response.id().expect("response has an Id").to_owned()
}

fn assert_iso8601(value: Option<&str>, what: &str) {
    let value = value.unwrap_or_else(|| panic!("{what} is missing"));
    chrono::DateTime::parse_from_rfc3339(value)
        .unwrap_or_else(|e| panic!("{what} {value:?} is not ISO 8601: {e}"));
}

/// One unsigned HTTP/1.1 request with a JSON body (admin API, or a Pinpoint call without a
/// signature).
async fn raw(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Answer {
    let content_type = "Content-Type: application/json\r\n";
    common::raw(addr, method, path, content_type, body.unwrap_or("")).await
}

async fn add_fault(addr: SocketAddr, fault: Value) {
    let response = raw(addr, "POST", "/_emulator/faults", Some(&fault.to_string())).await;
    assert_eq!(response.status, 204, "adding fault {fault}: {response:?}");
}

async fn calls(addr: SocketAddr) -> Value {
    let response = raw(addr, "GET", "/_emulator/calls", None).await;
    assert_eq!(response.status, 200, "{response:?}");
    response.json()
}

async fn stored(addr: SocketAddr) -> Vec<Value> {
    let response = raw(addr, "GET", "/_emulator/configurations", None).await;
    assert_eq!(response.status, 200, "{response:?}");
    match response.json() {
        Value::Array(items) => items,
        other => panic!("configurations is not an array: {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. CRUD over the wire
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_returns_201_and_get_returns_the_same_configuration() {
    let addr = start_default().await;
    let statuses = Statuses::default();
    let client = client_with(
        addr,
        ClientOptions {
            statuses: Some(statuses.clone()),
            ..Default::default()
        },
    );

    let created = create(
        &client,
        basic("movies")
            .description("Movie picks (daily), v1")
            .recommendations_per_message(3)
            .recommendation_provider_id_type("PINPOINT_USER_ID"),
    )
    .await;
    assert_eq!(statuses.take(), vec![201], "create answers 201 Created");
    let id = id_of(&created);
    assert!(!id.is_empty());
    assert_iso8601(created.creation_date(), "CreationDate");
    assert_iso8601(created.last_modified_date(), "LastModifiedDate");
    assert_eq!(created.name(), Some("movies"));
    assert_eq!(created.description(), Some("Movie picks (daily), v1"));
    assert_eq!(created.recommendation_provider_uri(), Some(CAMPAIGN));
    assert_eq!(created.recommendation_provider_role_arn(), Some(ROLE));
    assert_eq!(created.recommendations_display_name(), Some("Top picks"));
    assert_eq!(created.recommendations_per_message(), Some(3));
    assert_eq!(
        created.recommendation_provider_id_type(),
        Some("PINPOINT_USER_ID")
    );

    let got = client
        .get_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect("get succeeds")
        .recommender_configuration_response
        .expect("get returns the configuration");
    assert_eq!(statuses.take(), vec![200]);
    assert_eq!(got, created, "get returns exactly what create returned");
}

#[tokio::test]
async fn create_fills_in_the_documented_defaults() {
    let addr = start_default().await;
    let created = create(&client(addr), basic("defaults")).await;
    assert_eq!(
        created.recommendation_provider_id_type(),
        Some("PINPOINT_ENDPOINT_ID")
    );
    assert_eq!(created.recommendations_per_message(), Some(5));
}

#[tokio::test]
async fn list_pages_with_next_token() {
    let addr = start_default().await;
    let client = client(addr);
    let mut created = Vec::new();
    for name in ["one", "two", "three"] {
        created.push(id_of(&create(&client, basic(name)).await));
    }

    let mut seen = Vec::new();
    let mut tokens = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 10, "pagination does not terminate");
        let page = client
            .get_recommender_configurations()
            .page_size("1")
            .set_token(token.clone())
            .send()
            .await
            .expect("list succeeds")
            .list_recommender_configurations_response
            .expect("list returns a page");
        assert_eq!(
            page.item().len(),
            1,
            "page size 1 returns one item per page"
        );
        seen.extend(page.item().iter().map(id_of));
        token = page.next_token().map(str::to_owned);
        match &token {
            Some(t) => tokens.push(t.clone()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        tokens.len(),
        2,
        "the first two pages carry a NextToken, the last does not"
    );
    assert_eq!(seen, created, "every configuration once, in creation order");

    // Without a page size, everything fits on one page.
    let all = client
        .get_recommender_configurations()
        .send()
        .await
        .expect("list succeeds")
        .list_recommender_configurations_response
        .expect("list returns a page");
    assert_eq!(all.item().len(), 3);
    assert_eq!(all.next_token(), None);
}

#[tokio::test]
async fn list_rejects_a_bad_page_size_and_token() {
    let addr = start_default().await;
    let client = client(addr);
    let err = client
        .get_recommender_configurations()
        .page_size("0")
        .send()
        .await
        .expect_err("page size 0 is rejected")
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    let err = client
        .get_recommender_configurations()
        .token("not-a-token")
        .send()
        .await
        .expect_err("a made-up token is rejected")
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
}

#[tokio::test]
async fn a_token_past_the_end_is_an_empty_page() {
    let addr = start_default().await;
    let client = client_no_retry(addr);
    create(&client, basic("only")).await;
    for token in ["5", "18446744073709551615"] {
        let page = client
            .get_recommender_configurations()
            .page_size("100")
            .token(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("list with token {token} fails: {e:?}"))
            .list_recommender_configurations_response
            .expect("list returns a page");
        assert!(page.item().is_empty(), "token {token}: {page:?}");
        assert_eq!(page.next_token(), None, "token {token}");
    }
}

#[tokio::test]
async fn update_is_a_full_replace() {
    let addr = start_default().await;
    let client = client(addr);
    let created = create(
        &client,
        basic("replace-me")
            .description("Will be dropped")
            .recommendations_per_message(2),
    )
    .await;
    let id = id_of(&created);
    assert_eq!(created.description(), Some("Will be dropped"));

    // Let the clock move so the modification date can differ (millisecond precision).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let shape = UpdateRecommenderConfigurationShape::builder()
        .name("replaced")
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendations_display_name("New picks")
        .build();
    let updated = client
        .update_recommender_configuration()
        .recommender_id(&id)
        .update_recommender_configuration(shape)
        .send()
        .await
        .expect("update succeeds")
        .recommender_configuration_response
        .expect("update returns the configuration");
    assert_eq!(updated.id(), Some(id.as_str()));
    assert_eq!(updated.name(), Some("replaced"));
    assert_eq!(updated.recommendations_display_name(), Some("New picks"));
    assert_eq!(
        updated.description(),
        None,
        "a field omitted on update disappears"
    );
    assert_eq!(
        updated.recommendations_per_message(),
        Some(5),
        "an omitted field falls back to its default"
    );
    assert_eq!(
        updated.creation_date(),
        created.creation_date(),
        "CreationDate does not change"
    );
    assert_ne!(
        updated.last_modified_date(),
        created.last_modified_date(),
        "LastModifiedDate moves"
    );

    let got = client
        .get_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect("get succeeds")
        .recommender_configuration_response
        .expect("get returns the configuration");
    assert_eq!(got, updated, "the replacement is what is stored");
}

#[tokio::test]
async fn update_of_a_missing_id_is_not_found_and_update_applies_the_rules() {
    let addr = start_default().await;
    let client = client(addr);
    let shape = UpdateRecommenderConfigurationShape::builder()
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendations_display_name("Picks")
        .build();
    let err = client
        .update_recommender_configuration()
        .recommender_id("does-not-exist")
        .update_recommender_configuration(shape)
        .send()
        .await
        .expect_err("update of a missing id fails")
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");

    let id = id_of(&create(&client, basic("rules-on-update")).await);
    let invalid = UpdateRecommenderConfigurationShape::builder()
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendations_per_message(6)
        .recommendations_display_name("Picks")
        .build();
    let err = client
        .update_recommender_configuration()
        .recommender_id(&id)
        .update_recommender_configuration(invalid)
        .send()
        .await
        .expect_err("an invalid update is rejected")
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("RecommendationsPerMessage"),
        "{err:?}"
    );
}

#[tokio::test]
async fn delete_returns_the_object_and_then_it_is_gone() {
    let addr = start_default().await;
    let client = client(addr);
    let created = create(&client, basic("short-lived")).await;
    let id = id_of(&created);

    let deleted = client
        .delete_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect("delete succeeds")
        .recommender_configuration_response
        .expect("delete returns the deleted configuration");
    assert_eq!(deleted, created, "delete returns the object it removed");

    let err = client
        .get_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect_err("get after delete fails");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert!(err.into_service_error().is_not_found_exception());

    let err = client
        .delete_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect_err("a second delete fails")
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");

    let err = client
        .delete_recommender_configuration()
        .recommender_id("never-existed")
        .send()
        .await
        .expect_err("delete of a missing id fails")
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");
    assert!(stored(addr).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// 2. Authentication
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 3. The service's rules
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn display_name_is_required_without_a_transformer() {
    let addr = start_default().await;
    let shape = CreateRecommenderConfigurationShape::builder()
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE);
    let message = rejected(&client(addr), shape).await;
    assert!(message.contains("RecommendationsDisplayName"), "{message}");
}

#[tokio::test]
async fn attributes_need_a_transformer() {
    let addr = start_default().await;
    let message = rejected(&client(addr), basic("attrs").attributes("Title", "Title")).await;
    assert!(message.contains("Attributes"), "{message}");
}

#[tokio::test]
async fn a_transformer_needs_attributes() {
    let addr = start_default().await;
    let shape = CreateRecommenderConfigurationShape::builder()
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendation_transformer_uri(LAMBDA);
    let message = rejected(&client(addr), shape).await;
    assert!(message.contains("Attributes"), "{message}");
}

#[tokio::test]
async fn at_most_ten_attributes() {
    let addr = start_default().await;
    let client = client(addr);
    let mut ten = with_transformer("ten").set_attributes(None);
    for i in 0..10 {
        ten = ten.attributes(format!("Attr{i}"), format!("Attribute {i}"));
    }
    let created = create(&client, ten.clone()).await;
    assert_eq!(
        created.attributes().map(HashMap::len),
        Some(10),
        "ten attributes are fine"
    );

    let eleven = ten.attributes("Attr10", "Attribute 10");
    let message = rejected(&client, eleven).await;
    assert!(message.contains("Attributes"), "{message}");
    assert!(message.contains("11"), "{message}");
}

#[tokio::test]
async fn attribute_names_are_unique_with_or_without_the_prefix() {
    let addr = start_default().await;
    let client = client(addr);
    // The prefix is optional: prefixed and bare names mix freely while they differ.
    let created = create(&client, with_transformer("prefixes")).await;
    let attributes = created.attributes().expect("attributes are returned");
    assert_eq!(
        attributes.get("Recommendations.Title").map(String::as_str),
        Some("Title")
    );
    assert_eq!(attributes.get("Price").map(String::as_str), Some("Price"));

    let duplicate = with_transformer("duplicates").attributes("Title", "Also title");
    let message = rejected(&client, duplicate).await;
    assert!(message.contains("Attribute name"), "{message}");
    assert!(message.contains("Title"), "{message}");
    assert!(message.contains("not unique"), "{message}");
}

#[tokio::test]
async fn campaign_must_be_in_the_callers_region() {
    let addr = start_default().await;
    let message = rejected(
        &client(addr),
        basic("west").recommendation_provider_uri(CAMPAIGN_WEST),
    )
    .await;
    assert!(message.contains("RecommendationProviderUri"), "{message}");
    assert!(message.contains("us-east-1"), "{message}");

    // The same campaign is fine for a client in its own Region.
    let west = client_with(
        addr,
        ClientOptions {
            region: "us-west-2",
            ..Default::default()
        },
    );
    let created = create(
        &west,
        basic("west").recommendation_provider_uri(CAMPAIGN_WEST),
    )
    .await;
    assert_eq!(created.recommendation_provider_uri(), Some(CAMPAIGN_WEST));
}

#[tokio::test]
async fn lambda_must_be_in_the_callers_region() {
    let addr = start_default().await;
    let client = client(addr);
    let message = rejected(
        &client,
        with_transformer("west-lambda").recommendation_transformer_uri(LAMBDA_WEST),
    )
    .await;
    assert!(
        message.contains("RecommendationTransformerUri"),
        "{message}"
    );

    // A bare function name has no Region and is accepted.
    create(
        &client,
        with_transformer("by-name").recommendation_transformer_uri("transform"),
    )
    .await;
}

#[tokio::test]
async fn recommendations_per_message_is_one_to_five() {
    let addr = start_default().await;
    let client = client(addr);
    for bad in [0, 6] {
        let message = rejected(
            &client,
            basic("per-message").recommendations_per_message(bad),
        )
        .await;
        assert!(message.contains("RecommendationsPerMessage"), "{message}");
    }
    for good in [1, 5] {
        let created = create(
            &client,
            basic("per-message").recommendations_per_message(good),
        )
        .await;
        assert_eq!(created.recommendations_per_message(), Some(good));
    }
}

#[tokio::test]
async fn a_name_with_a_space_is_accepted() {
    // The API reference allows spaces in Name (the console guide does not); the emulator follows
    // the service's API.
    let addr = start_default().await;
    let created = create(&client(addr), basic("Movie picks")).await;
    assert_eq!(created.name(), Some("Movie picks"));
}

#[tokio::test]
async fn rules_report_every_problem_and_store_nothing() {
    let addr = start_default().await;
    let shape = CreateRecommenderConfigurationShape::builder()
        .name("-starts-with-hyphen")
        .recommendation_provider_uri("arn:aws:personalize:us-east-1:123456789012:recommender/r")
        .recommendation_provider_role_arn("arn:aws:iam::123456789012:user/me")
        .recommendation_provider_id_type("EMAIL")
        .recommendations_display_name("Picks");
    let message = rejected(&client(addr), shape).await;
    for field in [
        "Name",
        "RecommendationProviderUri",
        "RecommendationProviderRoleArn",
        "RecommendationProviderIdType",
    ] {
        assert!(message.contains(field), "{field} in {message}");
    }
    assert!(stored(addr).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// 4. The quota
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn quota_limits_creates_until_a_delete() {
    let addr = start(Settings {
        max_configurations: 2,
        ..Default::default()
    })
    .await;
    let client = client(addr);
    let first = id_of(&create(&client, basic("one")).await);
    create(&client, basic("two")).await;

    let message = rejected(&client, basic("three")).await;
    assert!(message.contains("limit"), "{message}");
    assert!(message.contains('2'), "{message}");
    assert_eq!(stored(addr).await.len(), 2);

    client
        .delete_recommender_configuration()
        .recommender_id(&first)
        .send()
        .await
        .expect("delete succeeds");
    create(&client, basic("three")).await;
    assert_eq!(stored(addr).await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 5. The admin API: faults, calls, state
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
async fn calls_are_counted_by_operation() {
    let addr = start_default().await;
    let client = client(addr);
    let id = id_of(&create(&client, basic("counted")).await);
    for _ in 0..2 {
        client
            .get_recommender_configuration()
            .recommender_id(&id)
            .send()
            .await
            .expect("get");
    }
    client
        .get_recommender_configurations()
        .send()
        .await
        .expect("list");
    client
        .delete_recommender_configuration()
        .recommender_id(&id)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        calls(addr).await,
        json!({
            "CreateRecommenderConfiguration": 1,
            "GetRecommenderConfiguration": 2,
            "GetRecommenderConfigurations": 1,
            "DeleteRecommenderConfiguration": 1,
        })
    );
}

#[tokio::test]
async fn reset_empties_state() {
    let addr = start_default().await;
    let client = client(addr);
    create(&client, basic("doomed")).await;
    add_fault(
        addr,
        json!({"operation": "GetRecommenderConfiguration", "status": 500}),
    )
    .await;

    let response = raw(addr, "POST", "/_emulator/reset", None).await;
    assert_eq!(response.status, 204, "{response:?}");
    assert!(stored(addr).await.is_empty());
    assert_eq!(
        raw(addr, "GET", "/_emulator/faults", None).await.json(),
        json!([])
    );
    assert_eq!(calls(addr).await, json!({}));
    let page = client
        .get_recommender_configurations()
        .send()
        .await
        .expect("list")
        .list_recommender_configurations_response
        .expect("page");
    assert!(page.item().is_empty());
}

#[tokio::test]
async fn configurations_are_kept_per_region() {
    let addr = start_default().await;
    let east = client(addr);
    let west = client_with(
        addr,
        ClientOptions {
            region: "us-west-2",
            ..Default::default()
        },
    );
    let east_id = id_of(&create(&east, basic("east")).await);
    let west_id = id_of(
        &create(
            &west,
            basic("west").recommendation_provider_uri(CAMPAIGN_WEST),
        )
        .await,
    );

    let items = stored(addr).await;
    assert_eq!(items.len(), 2, "{items:?}");
    let region_of = |id: &str| {
        items
            .iter()
            .find(|item| item["id"] == id)
            .map(|item| item["region"].clone())
            .unwrap_or_else(|| panic!("{id} is not stored: {items:?}"))
    };
    assert_eq!(region_of(&east_id), "us-east-1");
    assert_eq!(region_of(&west_id), "us-west-2");
    assert_eq!(items[0]["configuration"]["Name"], "east", "{items:?}");

    // Each Region sees only its own configurations.
    let east_page = east
        .get_recommender_configurations()
        .send()
        .await
        .expect("list")
        .list_recommender_configurations_response
        .expect("page");
    assert_eq!(
        east_page.item().iter().map(id_of).collect::<Vec<_>>(),
        vec![east_id.clone()]
    );
    let err = west
        .get_recommender_configuration()
        .recommender_id(&east_id)
        .send()
        .await
        .expect_err("another Region's id is not found")
        .into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");
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
