//! The Pinpoint recommender-configuration tests' harness: `aws-sdk-pinpoint` clients with chosen
//! Region, credentials, retries and a record of statuses; configurations to create or see
//! rejected; and the admin API's faults, call counts and stored configurations.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use aws_sdk_pinpoint::{
    Client,
    config::{
        BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
        interceptors::BeforeDeserializationInterceptorContextRef, retry::RetryConfig,
    },
    error::{BoxError, ProvideErrorMetadata},
    types::{
        CreateRecommenderConfigurationShape, RecommenderConfigurationResponse,
        builders::CreateRecommenderConfigurationShapeBuilder,
    },
};
use pinpoint_emulator::Settings;
use serde_json::Value;

use super::{Answer, CAMPAIGN, ROLE, start};

pub const CAMPAIGN_WEST: &str = "arn:aws:personalize:us-west-2:123456789012:campaign/movies";
pub const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:transform";
pub const LAMBDA_WEST: &str = "arn:aws:lambda:us-west-2:123456789012:function:transform";

pub async fn start_default() -> SocketAddr {
    start(Settings::default()).await
}

/// Records the HTTP status of every response the SDK receives.
#[derive(Clone, Debug, Default)]
pub struct Statuses(Arc<Mutex<Vec<u16>>>);

impl Statuses {
    pub fn take(&self) -> Vec<u16> {
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

pub struct ClientOptions<'a> {
    pub region: &'a str,
    pub access_key: &'a str,
    pub secret: &'a str,
    /// `Some(1)` turns retries off so an injected error reaches the caller.
    pub max_attempts: Option<u32>,
    pub statuses: Option<Statuses>,
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

pub fn client_with(addr: SocketAddr, options: ClientOptions<'_>) -> Client {
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

pub fn client(addr: SocketAddr) -> Client {
    client_with(addr, ClientOptions::default())
}

/// A client that makes exactly one attempt per call.
pub fn client_no_retry(addr: SocketAddr) -> Client {
    client_with(
        addr,
        ClientOptions {
            max_attempts: Some(1),
            ..Default::default()
        },
    )
}

/// A valid configuration with a Lambda transformer and attributes.
pub fn with_transformer(name: &str) -> CreateRecommenderConfigurationShapeBuilder {
    CreateRecommenderConfigurationShape::builder()
        .name(name)
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendation_transformer_uri(LAMBDA)
        .attributes("Recommendations.Title", "Title")
        .attributes("Price", "Price")
}

pub async fn create(
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
pub async fn rejected(
    client: &Client,
    shape: CreateRecommenderConfigurationShapeBuilder,
) -> String {
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

pub fn id_of(response: &RecommenderConfigurationResponse) -> String {
    response.id().expect("response has an Id").to_owned()
}

pub fn assert_iso8601(value: Option<&str>, what: &str) {
    let value = value.unwrap_or_else(|| panic!("{what} is missing"));
    chrono::DateTime::parse_from_rfc3339(value)
        .unwrap_or_else(|e| panic!("{what} {value:?} is not ISO 8601: {e}"));
}

/// One unsigned HTTP/1.1 request with a JSON body (admin API, or a Pinpoint call without a
/// signature).
pub async fn raw(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Answer {
    let content_type = "Content-Type: application/json\r\n";
    super::raw(addr, method, path, content_type, body.unwrap_or("")).await
}

pub async fn add_fault(addr: SocketAddr, fault: Value) {
    let response = raw(addr, "POST", "/_emulator/faults", Some(&fault.to_string())).await;
    assert_eq!(response.status, 204, "adding fault {fault}: {response:?}");
}

pub async fn calls(addr: SocketAddr) -> Value {
    let response = raw(addr, "GET", "/_emulator/calls", None).await;
    assert_eq!(response.status, 200, "{response:?}");
    response.json()
}

pub async fn stored(addr: SocketAddr) -> Vec<Value> {
    let response = raw(addr, "GET", "/_emulator/configurations", None).await;
    assert_eq!(response.status, 200, "{response:?}");
    match response.json() {
        Value::Array(items) => items,
        other => panic!("configurations is not an array: {other}"),
    }
}
