//! An in-memory Amazon Pinpoint that speaks the recommender-configuration API on the real wire
//! protocol (SigV4-signed restJson1), applies the service's rules with its own code, and injects
//! faults on request. Tests and the local demo point the operator at it.
//!
//! The same listener serves the few IAM, Personalize and Lambda operations the operator uses,
//! each on its own wire protocol:
//!
//! - IAM (query protocol, XML): `POST /` with a form body `Action=CreateRole&...`: CreateRole,
//!   GetRole, DeleteRole, PutRolePolicy, GetRolePolicy, DeleteRolePolicy, ListRolePolicies.
//! - Personalize (awsJson1_1): `POST /` with `X-Amz-Target: AmazonPersonalize.DescribeCampaign`.
//! - Lambda (restJson1): `GET /2015-03-31/functions/{name}` (GetFunction) and
//!   `GET /2015-03-31/functions/{name}/policy` (GetPolicy).
//!
//! Campaigns, functions and roles are seeded with `POST /_emulator/seed` (or `Settings::seed`):
//!
//! ```json
//! {"campaigns": [{"arn": "arn:aws:personalize:us-east-1:123456789012:campaign/movies",
//!                 "status": "ACTIVE", "solutionVersionArn": "...", "minProvisionedTPS": 1,
//!                 "failureReason": "..."}],
//!  "functions": [{"arn": "arn:aws:lambda:us-east-1:123456789012:function:enrich",
//!                 "policy": {"Version": "2012-10-17", "Statement": []},
//!                 "runtime": "python3.12", "handler": "...", "role": "arn:aws:iam::..."}],
//!  "roles": [{"arn": "arn:aws:iam::123456789012:role/PinpointPersonalize",
//!             "assumeRolePolicyDocument": {}, "description": "...",
//!             "permissionsBoundary": "arn:aws:iam::aws:policy/...", "maxSessionDuration": 3600,
//!             "tags": {"k": "v"}, "inlinePolicies": {"name": {}}}]}
//! ```
//!
//! Every key but `arn` is optional; seeding upserts (campaigns and functions by ARN, roles by
//! name).
//!
//! This file holds the settings, the shared state, the router, and what every call goes through
//! (admission, the `POST /` dispatch, AWS-style errors); each service's handlers are in their
//! own module, the `/_emulator/` API in `admin`.

mod admin;
mod faults;
mod iam;
mod iam_rules;
mod lambda;
mod personalize;
mod pinpoint;
mod protocol;
mod resources;
pub mod rules;
pub mod sigv4;
mod store;

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use tokio::{net::TcpListener, sync::Mutex};

pub use faults::Fault;
use protocol::Protocol;
pub use store::Stored;

/// Emulator settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Access key ID -> secret access key.
    pub credentials: HashMap<String, String>,
    /// Recommender configurations per account and Region (Pinpoint's quota is 100).
    pub max_configurations: usize,
    /// The AWS account the callers are in (IAM role ARNs, Lambda function names).
    pub account_id: String,
    /// A seed document (the body of `POST /_emulator/seed`), applied at start and on reset.
    pub seed: Option<serde_json::Value>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            credentials: HashMap::from([("test".to_owned(), "test".to_owned())]),
            max_configurations: 100,
            account_id: "123456789012".to_owned(),
            seed: None,
        }
    }
}

/// Checks a seed document for `account_id`: `Err` names the field at fault.
pub fn check_seed(seed: &serde_json::Value, account_id: &str) -> Result<(), String> {
    resources::parse_seed(seed, account_id).map(|_| ())
}

struct Shared {
    settings: Settings,
    store: Mutex<store::Store>,
    faults: Mutex<faults::Faults>,
    resources: Mutex<resources::Resources>,
}

type AppState = Arc<Shared>;

/// The resources `Settings::seed` describes (none without one).
fn seeded(settings: &Settings) -> Result<resources::Resources, String> {
    let mut resources = resources::Resources::default();
    if let Some(seed) = &settings.seed {
        resources.apply(resources::parse_seed(seed, &settings.account_id)?);
    }
    Ok(resources)
}

fn check_settings(settings: &Settings) -> Result<resources::Resources, String> {
    if settings.account_id.len() != 12 || !settings.account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the account ID {:?} is not 12 digits",
            settings.account_id
        ));
    }
    seeded(settings).map_err(|e| format!("invalid seed: {e}"))
}

/// The whole HTTP application.
///
/// # Panics
///
/// When `settings.account_id` is not 12 digits or `settings.seed` is not a valid seed document
/// (`spawn` returns an error instead).
pub fn router(settings: Settings) -> Router {
    let resources = check_settings(&settings).unwrap_or_else(|e| panic!("{e}"));
    let state = Arc::new(Shared {
        settings,
        store: Mutex::default(),
        faults: Mutex::default(),
        resources: Mutex::new(resources),
    });
    Router::new()
        .route("/", post(root))
        .route(
            "/v1/recommenders",
            post(pinpoint::create).get(pinpoint::list),
        )
        .route(
            "/v1/recommenders/{id}",
            get(pinpoint::get_one)
                .put(pinpoint::update)
                .delete(pinpoint::delete),
        )
        .route("/2015-03-31/functions/{name}", get(lambda::get_function))
        .route(
            "/2015-03-31/functions/{name}/policy",
            get(lambda::get_policy),
        )
        .merge(admin::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            drop_responses,
        ))
        .with_state(state)
}

/// Carries out the call, then breaks the connection when a `dropResponse` fault says so.
async fn drop_responses(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // `POST /` is IAM or Personalize by its body or headers: read the body to tell.
    let (request, operation) = if request.method() == Method::POST && request.uri().path() == "/" {
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
            Ok(bytes) => bytes,
            Err(e) => {
                return aws_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLargeException",
                    format!("cannot read the request body: {e}"),
                );
            }
        };
        let operation = faults::operation_for(&parts.method, "/", &parts.headers, &bytes);
        (
            axum::extract::Request::from_parts(parts, Body::from(bytes)),
            operation,
        )
    } else {
        let operation = faults::operation_for(
            request.method(),
            request.uri().path(),
            request.headers(),
            b"",
        );
        (request, operation)
    };
    let drop = match operation {
        Some(operation) => state.faults.lock().await.take_drop_response(operation),
        None => false,
    };
    let response = next.run(request).await;
    if drop { dropped_connection() } else { response }
}

/// The largest request body `POST /` reads.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Binds `addr` and serves in the background; returns the bound address (for port 0).
///
/// Fails with `InvalidInput` when the settings are invalid (account ID, seed document).
pub async fn spawn(addr: SocketAddr, settings: Settings) -> std::io::Result<SocketAddr> {
    check_settings(&settings)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(settings)).await {
            tracing::error!(error = %e, "emulator server stopped");
        }
    });
    Ok(bound)
}

/// An AWS-style error response: the type in `x-amzn-ErrorType` (which the SDKs read first) and
/// in the body's `__type`, with `Message` and `RequestID`.
fn aws_error(status: StatusCode, error_type: &str, message: impl Into<String>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = json!({ "Message": message.into(), "RequestID": request_id, "__type": error_type });
    (
        status,
        [
            ("x-amzn-errortype", error_type.to_owned()),
            ("x-amzn-requestid", request_id),
        ],
        Json(body),
    )
        .into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    aws_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowedException",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

async fn no_route(uri: Uri) -> Response {
    aws_error(
        StatusCode::NOT_FOUND,
        "NotFoundException",
        format!("No resource at {}", uri.path()),
    )
}

/// Everything a call goes through before its handler: call counting, faults and
/// authentication, answered in the operation's protocol. Returns the caller's signing scope,
/// or the response to send instead.
async fn admit(
    state: &Shared,
    operation: &'static str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<sigv4::Scope, Response> {
    let protocol = Protocol::of(operation);
    let fault = {
        let mut faults = state.faults.lock().await;
        faults.count_call(operation);
        faults.take(operation)
    };
    if let Some(fault) = fault {
        if let Some(ms) = fault.latency_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(response) = fault.response(protocol) {
            return Err(response);
        }
    }
    authenticate(state, protocol, method, uri, headers, body)
}

/// Verifies the request's SigV4 signature, scoped to the protocol's service.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response to send, once per call"
)]
fn authenticate(
    state: &Shared,
    protocol: Protocol,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<sigv4::Scope, Response> {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    sigv4::verify(
        protocol.signing_name(),
        method,
        path_and_query,
        headers,
        body,
        |key| state.settings.credentials.get(key).cloned(),
    )
    .map_err(|e| protocol.auth_error(&e))
}

/// What a `POST /` is.
enum RootCall<'a> {
    /// A query-protocol (IAM) call: a form body.
    Iam(iam::Form),
    /// An awsJson call to Personalize, by its X-Amz-Target.
    Personalize(&'a str),
    /// An awsJson call to another service.
    OtherTarget(&'a str),
    Unknown,
}

fn root_call<'a>(headers: &'a HeaderMap, body: &[u8]) -> RootCall<'a> {
    if let Some(target) = headers.get("x-amz-target") {
        let target = target.to_str().unwrap_or_default();
        return if target.starts_with(personalize::TARGET_PREFIX) {
            RootCall::Personalize(target)
        } else {
            RootCall::OtherTarget(target)
        };
    }
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if form {
        RootCall::Iam(iam::Form::parse(body))
    } else {
        RootCall::Unknown
    }
}

/// `POST /`: IAM (form body with `Action`) or Personalize (`X-Amz-Target`).
async fn root(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match root_call(&headers, &body) {
        RootCall::Iam(_) => iam::call(&state, &method, &uri, &headers, &body).await,
        RootCall::Personalize(target) => {
            personalize::call(&state, target, &method, &uri, &headers, &body).await
        }
        RootCall::OtherTarget(target) => aws_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            format!(
                "The emulator serves no X-Amz-Target {target:?}: only {}DescribeCampaign",
                personalize::TARGET_PREFIX
            ),
        ),
        RootCall::Unknown => aws_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "POST / must be an IAM query call (Content-Type: application/x-www-form-urlencoded, \
             body Action=...&Version=2010-05-08) or an Amazon Personalize call (X-Amz-Target: \
             AmazonPersonalize.OPERATION)",
        ),
    }
}

/// A response whose body breaks off: the client sees the connection drop mid-response.
fn dropped_connection() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault: dropped connection",
        ))
    });
    (
        StatusCode::OK,
        [("content-length", "1024")],
        Body::from_stream(stream),
    )
        .into_response()
}
