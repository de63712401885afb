//! What the emulator's tests share: two accounts, the SDK clients of every service with chosen
//! credentials, AssumeRole, the checks of a refused call, and HTTP/1.1 by hand (the admin API,
//! and calls signed as the SDKs sign them). `recommenders` holds the harness of the Pinpoint
//! recommender-configuration tests, `services` the seeded world of the IAM, Personalize and
//! Lambda tests.

#![allow(dead_code, reason = "each test file uses its own share of the helpers")]

pub mod recommenders;
pub mod services;

use std::net::SocketAddr;

use aws_credential_types::Credentials;
use aws_sdk_iam::config::{BehaviorVersion, retry::RetryConfig};
use aws_sdk_pinpoint::types::{
    CreateRecommenderConfigurationShape, builders::CreateRecommenderConfigurationShapeBuilder,
};
use aws_sdk_sts::{
    error::{ProvideErrorMetadata, SdkError},
    operation::{
        assume_role::{AssumeRoleError, AssumeRoleOutput},
        get_caller_identity::{GetCallerIdentityError, GetCallerIdentityOutput},
    },
};
use pinpoint_emulator::{Account, Settings};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

pub const DEFAULT: &str = "123456789012";
pub const OTHER: &str = "210987654321";
pub const OTHER_KEY: &str = "AKIDOTHER";
pub const OTHER_SECRET: &str = "other/secret+1";
pub const EXTERNAL_ID: &str = "ext-1";
/// Trusts the default account's root, with the external ID.
pub const CROSS_ROLE: &str = "arn:aws:iam::210987654321:role/CrossAccount";
/// Trusts the default account by its ID, for up to two hours.
pub const OPEN_ROLE: &str = "arn:aws:iam::210987654321:role/ops/Open";
/// Trusts another account only.
pub const STRANGER_ROLE: &str = "arn:aws:iam::210987654321:role/Stranger";
/// Seeded without a trust policy: Pinpoint's service principal only.
pub const SERVICE_ROLE: &str = "arn:aws:iam::210987654321:role/PinpointOnly";
/// Trusts sessions of CrossAccount (role chaining).
pub const CHAINED_ROLE: &str = "arn:aws:iam::210987654321:role/Chained";
pub const CAMPAIGN: &str = "arn:aws:personalize:us-east-1:123456789012:campaign/movies";
pub const OTHER_CAMPAIGN: &str = "arn:aws:personalize:us-east-1:210987654321:campaign/shows";
pub const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:enrich";
pub const OTHER_FUNCTION: &str = "arn:aws:lambda:us-east-1:210987654321:function:enrich";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/PinpointPersonalize";

fn trust(principal: Value, condition: Option<Value>) -> Value {
    let mut statement = json!({
        "Effect": "Allow", "Principal": { "AWS": principal }, "Action": "sts:AssumeRole",
    });
    if let Some(condition) = condition {
        statement["Condition"] = condition;
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] })
}

/// The other account's roles, campaign and function.
pub fn other_seed() -> Value {
    let external = json!({ "StringEquals": { "sts:ExternalId": EXTERNAL_ID } });
    json!({
        "roles": [
            { "arn": CROSS_ROLE,
              "assumeRolePolicyDocument": trust(json!("arn:aws:iam::123456789012:root"), Some(external)) },
            { "arn": OPEN_ROLE, "maxSessionDuration": 7200,
              "assumeRolePolicyDocument": trust(json!(DEFAULT), None) },
            { "arn": STRANGER_ROLE,
              "assumeRolePolicyDocument": trust(json!("arn:aws:iam::111111111111:root"), None) },
            { "arn": SERVICE_ROLE },
            { "arn": CHAINED_ROLE, "assumeRolePolicyDocument": trust(json!(CROSS_ROLE), None) },
        ],
        "campaigns": [{ "arn": OTHER_CAMPAIGN }],
        "functions": [{ "arn": OTHER_FUNCTION }],
    })
}

/// The default account (seeded with a campaign, a function and a role) and the other one.
pub fn settings() -> Settings {
    Settings {
        seed: Some(json!({
            "campaigns": [{ "arn": CAMPAIGN }],
            "functions": [{ "arn": FUNCTION }],
            "roles": [{ "arn": ROLE }],
        })),
        accounts: vec![Account {
            seed: Some(other_seed()),
            ..Account::new(OTHER, OTHER_KEY, OTHER_SECRET)
        }],
        ..Default::default()
    }
}

pub async fn start(settings: Settings) -> SocketAddr {
    pinpoint_emulator::spawn("127.0.0.1:0".parse().expect("address"), settings)
        .await
        .expect("emulator binds")
}

/// The default account's long-term credentials.
pub fn default_credentials() -> Credentials {
    Credentials::new("test", "test", None, None, "test")
}

/// The other account's long-term credentials.
pub fn other_credentials() -> Credentials {
    Credentials::new(OTHER_KEY, OTHER_SECRET, None, None, "test")
}

/// Temporary credentials as AssumeRole answered them.
pub fn temporary(credentials: &aws_sdk_sts::types::Credentials) -> Credentials {
    Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        Some(credentials.session_token().to_owned()),
        None,
        "sts",
    )
}

macro_rules! client {
    ($name:ident, $name_in:ident, $sdk:ident) => {
        /// A client of the emulator in us-east-1 with `credentials`, without retries.
        pub fn $name(addr: SocketAddr, credentials: Credentials) -> $sdk::Client {
            $name_in(addr, "us-east-1", credentials)
        }

        /// A client of the emulator in `region` with `credentials`, without retries.
        pub fn $name_in(addr: SocketAddr, region: &str, credentials: Credentials) -> $sdk::Client {
            let config = $sdk::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region($sdk::config::Region::new(region.to_owned()))
                .credentials_provider(credentials)
                .endpoint_url(format!("http://{addr}"))
                .retry_config(RetryConfig::disabled())
                .build();
            $sdk::Client::from_conf(config)
        }
    };
}

client!(sts, sts_in, aws_sdk_sts);
client!(pinpoint, pinpoint_in, aws_sdk_pinpoint);
client!(iam, iam_in, aws_sdk_iam);
client!(personalize, personalize_in, aws_sdk_personalize);
client!(lambda, lambda_in, aws_sdk_lambda);

/// Asserts that a call was refused with HTTP `status` and the error code `code`.
#[track_caller]
pub fn assert_refused<E: ProvideErrorMetadata + std::fmt::Debug>(
    err: &SdkError<E>,
    status: u16,
    code: &str,
) {
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(status),
        "{err:?}"
    );
    assert_eq!(err.code(), Some(code), "{err:?}");
}

/// A valid configuration without a transformer.
pub fn configuration(name: &str) -> CreateRecommenderConfigurationShapeBuilder {
    CreateRecommenderConfigurationShape::builder()
        .name(name)
        .recommendation_provider_uri(CAMPAIGN)
        .recommendation_provider_role_arn(ROLE)
        .recommendations_display_name("Top picks")
}

/// Creates a configuration named `name`; its ID, or the SDK's error.
pub async fn create(
    client: &aws_sdk_pinpoint::Client,
    name: &str,
) -> Result<
    String,
    aws_sdk_pinpoint::error::SdkError<
        aws_sdk_pinpoint::operation::create_recommender_configuration::CreateRecommenderConfigurationError,
    >,
>{
    let created = client
        .create_recommender_configuration()
        .create_recommender_configuration(configuration(name).build())
        .send()
        .await?;
    Ok(created
        .recommender_configuration_response()
        .and_then(|r| r.id())
        .expect("the created configuration has an ID")
        .to_owned())
}

/// What AssumeRole answers.
pub type Assumed = Result<AssumeRoleOutput, SdkError<AssumeRoleError>>;

/// AssumeRole of `role` by `credentials`' caller, as `session-1`, with `external_id`.
pub async fn assume(
    addr: SocketAddr,
    credentials: Credentials,
    role: &str,
    external_id: Option<&str>,
) -> Assumed {
    assume_role(
        &sts(addr, credentials),
        role,
        "session-1",
        external_id,
        None,
    )
    .await
}

/// AssumeRole with every parameter chosen.
pub async fn assume_role(
    client: &aws_sdk_sts::Client,
    role: &str,
    session: &str,
    external_id: Option<&str>,
    duration: Option<i32>,
) -> Assumed {
    client
        .assume_role()
        .role_arn(role)
        .role_session_name(session)
        .set_external_id(external_id.map(str::to_owned))
        .set_duration_seconds(duration)
        .send()
        .await
}

/// The temporary credentials of a session `role` trusts the default account to open.
pub async fn role_session(addr: SocketAddr, role: &str, external_id: Option<&str>) -> Credentials {
    let assumed = assume(addr, default_credentials(), role, external_id)
        .await
        .expect("assumed");
    temporary(assumed.credentials().expect("credentials"))
}

/// GetCallerIdentity with `credentials`.
pub async fn caller_identity(
    addr: SocketAddr,
    credentials: Credentials,
) -> Result<GetCallerIdentityOutput, SdkError<GetCallerIdentityError>> {
    sts(addr, credentials).get_caller_identity().send().await
}

/// An answer read over a plain HTTP/1.1 connection.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body {:?} is not JSON: {e}", self.body))
    }
}

/// One unsigned HTTP/1.1 call of the admin API.
pub async fn admin(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Answer {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    raw(
        addr,
        method,
        path,
        "Content-Type: application/json\r\n",
        &body,
    )
    .await
}

/// One HTTP/1.1 call with the given header lines (each ending in `\r\n`).
pub async fn raw(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("read");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("header section");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let answer = Answer {
        status,
        headers,
        body: body.to_owned(),
    };
    assert!(
        answer.header("transfer-encoding").is_none(),
        "chunked answers are not decoded here: {answer:?}"
    );
    answer
}

/// The header lines (each ending in `\r\n`) of a request signed as the SDKs sign it, with the
/// default account's key for `service` in us-east-1: `Content-Type`, the `extra` headers, and
/// the signature's.
pub fn signed_headers(
    service: &str,
    method: &str,
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> String {
    use aws_sigv4::{
        http_request::{SignableBody, SignableRequest, SigningSettings, sign},
        sign::v4,
    };
    let identity = default_credentials().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing parameters")
        .into();
    let host = addr.to_string();
    let mut headers = vec![("host", host.as_str()), ("content-type", content_type)];
    headers.extend_from_slice(extra);
    let request = SignableRequest::new(
        method,
        format!("http://{addr}{path}"),
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .expect("a signable request");
    let (instructions, _) = sign(request, &params).expect("signed").into_parts();
    let mut lines = format!("Content-Type: {content_type}\r\n");
    for (name, value) in extra {
        lines.push_str(&format!("{name}: {value}\r\n"));
    }
    for (name, value) in instructions.headers() {
        lines.push_str(&format!("{name}: {value}\r\n"));
    }
    lines
}

/// The headers of an STS query call with `body`, signed with the default account's key.
pub fn signed_form(addr: SocketAddr, body: &str) -> String {
    let content_type = "application/x-www-form-urlencoded";
    signed_headers("sts", "POST", addr, "/", content_type, &[], body)
}

/// `GET` of an admin path that answers 200 with JSON.
pub async fn admin_get(addr: SocketAddr, path: &str) -> Value {
    let answer = admin(addr, "GET", path, None).await;
    assert_eq!(answer.status, 200, "{path}: {answer:?}");
    answer.json()
}

/// `POST` of an admin path that answers 204.
pub async fn admin_post(addr: SocketAddr, path: &str, body: Value) {
    let answer = admin(addr, "POST", path, Some(body.clone())).await;
    assert_eq!(answer.status, 204, "{path} {body}: {answer:?}");
}

/// The names of the configurations the admin API lists at `path`.
pub async fn names(addr: SocketAddr, path: &str) -> Vec<String> {
    let listed = admin_get(addr, path).await;
    listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            c["configuration"]["Name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}
