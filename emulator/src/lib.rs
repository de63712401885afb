//! An in-memory Amazon Pinpoint that speaks the recommender-configuration API on the real wire
//! protocol (SigV4-signed restJson1), applies the service's rules with its own code, and injects
//! faults on request. Tests and the local demo point the operator at it.
//!
//! The same listener serves the few IAM, Personalize, Lambda and STS operations the operator
//! uses, each on its own wire protocol:
//!
//! - IAM (query protocol, XML): `POST /` with a form body `Action=CreateRole&...`: CreateRole,
//!   GetRole, DeleteRole, PutRolePolicy, GetRolePolicy, DeleteRolePolicy, ListRolePolicies.
//! - STS (query protocol, XML, signed for `sts`): `POST /` with a form body
//!   `Action=AssumeRole&Version=2011-06-15&RoleArn=...&RoleSessionName=...` (optional
//!   `ExternalId`, `DurationSeconds`), and `Action=GetCallerIdentity`.
//! - Personalize (awsJson1_1): `POST /` with `X-Amz-Target: AmazonPersonalize.DescribeCampaign`.
//! - Lambda (restJson1): `GET /2015-03-31/functions/{name}` (GetFunction) and
//!   `GET /2015-03-31/functions/{name}/policy` (GetPolicy).
//!
//! # Accounts
//!
//! The default account (`Settings::account_id`, 123456789012) is signed for with
//! `Settings::credentials` (`test`/`test`); `Settings::accounts` (`--account
//! ID=ACCESS_KEY_ID:SECRET`) adds further accounts, each with its own long-term key. Every
//! account has its own configurations (and its own quota of `max_configurations` per Region),
//! IAM roles, campaigns and functions: a request is served in the account of the credentials
//! that signed it and sees nothing of the others. A Personalize campaign ARN or a Lambda
//! function ARN that names another account is refused as AWS refuses a call without
//! cross-account permission (`AccessDeniedException`: 400 on Personalize, 403 on Lambda), and a
//! configuration ID of another account is not found (`NotFoundException`). Long-term
//! credentials are the IAM user `arn:aws:iam::ACCOUNT:user/emulator` (a session token sent
//! with them is ignored, as before accounts). An unknown access key is
//! `UnrecognizedClientException` (JSON protocols) or `InvalidClientTokenId` (query), 403.
//!
//! # STS
//!
//! AssumeRole checks, as STS does: `RoleSessionName` 2 to 64 of `[\w+=,.@-]`, `ExternalId` 2 to
//! 1224 of `[\w+=,.@:/-]`, `DurationSeconds` 900 to 43200 and at most the role's
//! `maxSessionDuration` (at most 3600 when the caller is itself a role session), all
//! `ValidationError` (400); then the role must exist in the account its ARN names and its trust
//! policy must let the caller in (see `trust`: an Allow of `sts:AssumeRole` to `*`, the
//! caller's account ID or `arn:aws:iam::CALLER:root` or the caller's ARN, with `StringEquals`
//! `sts:ExternalId` checked when present), else `AccessDenied` (403, "User: CALLER_ARN is not
//! authorized to perform: sts:AssumeRole on resource: ROLE_ARN"). The answer's temporary
//! credentials (`ASIA...` key, secret, session token, `Expiration`) sign requests to every
//! service, served in the role's account as `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`,
//! but only with the matching `X-Amz-Security-Token` (else `UnrecognizedClientException` /
//! `InvalidClientTokenId`), and only until they expire: then `ExpiredTokenException` (JSON
//! protocols) or `ExpiredToken` (query), 403, "The security token included in the request is
//! expired". `Settings::sts_max_session_seconds` (`--sts-session-seconds`, or `POST
//! /_emulator/sts`) caps every session's lifetime, and the Expiration answered is the capped one.
//!
//! # Seeds
//!
//! Campaigns, functions and roles are seeded with `POST /_emulator/seed` (or `Settings::seed`;
//! `POST /_emulator/seed?account=ID` or `Account::seed` for another account, whose ARNs must
//! then name that account):
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
//! name). A role seeded without a trust policy trusts `pinpoint.amazonaws.com` only.
//!
//! # Admin API
//!
//! Unsigned, under `/_emulator/` (see `admin`). Every endpoint takes `?account=ID`; without it
//! an endpoint means the default account, except `calls` (every account's calls added up, as
//! before accounts), `faults` (every fault) and `reset` (everything: every account, faults,
//! calls, sessions, the session cap). `GET /_emulator/accounts` lists the accounts; a fault may
//! name an `"account"` to hit only calls signed by that account's credentials;
//! `GET|POST /_emulator/sts` reads or sets `{"sessionSeconds": N}` (null: no cap) and lists the
//! sessions.
//!
//! This file holds the settings, the shared state, the router, and what every call goes through
//! (admission, the `POST /` dispatch, AWS-style errors); each service's handlers are in their
//! own module (what IAM and STS share, on the query protocol, in `query`), the `/_emulator/` API
//! in `admin`, the accounts in `accounts`.

mod accounts;
mod admin;
mod faults;
mod iam;
mod iam_rules;
mod lambda;
mod personalize;
mod pinpoint;
mod protocol;
mod query;
mod resources;
pub mod rules;
mod seed;
pub mod sigv4;
mod store;
mod sts;
mod trust;

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};

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

pub use accounts::Account;
pub use faults::Fault;
use protocol::Protocol;
pub use store::Stored;

/// Emulator settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The default account's long-term credentials: access key ID -> secret access key.
    pub credentials: HashMap<String, String>,
    /// Recommender configurations per account and Region (Pinpoint's quota is 100).
    pub max_configurations: usize,
    /// The default account: the one `credentials` sign for, and the one the admin API means
    /// without `?account=`.
    pub account_id: String,
    /// The default account's seed document (the body of `POST /_emulator/seed`), applied at
    /// start and on reset.
    pub seed: Option<serde_json::Value>,
    /// Further accounts, each with its own long-term credentials, configurations, roles,
    /// campaigns and functions.
    pub accounts: Vec<Account>,
    /// A cap on every STS session's lifetime, in seconds (at least 1), below the
    /// DurationSeconds asked for: how tests see temporary credentials expire.
    pub sts_max_session_seconds: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            credentials: HashMap::from([("test".to_owned(), "test".to_owned())]),
            max_configurations: 100,
            account_id: "123456789012".to_owned(),
            seed: None,
            accounts: Vec::new(),
            sts_max_session_seconds: None,
        }
    }
}

impl Settings {
    /// Every account ID, the default one first.
    fn account_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.account_id.as_str()).chain(self.accounts.iter().map(|a| a.id.as_str()))
    }

    fn has_account(&self, id: &str) -> bool {
        self.account_ids().any(|a| a == id)
    }
}

/// Checks a seed document for `account_id`: `Err` names the field at fault.
pub fn check_seed(seed: &serde_json::Value, account_id: &str) -> Result<(), String> {
    seed::parse(seed, account_id).map(|_| ())
}

struct Shared {
    settings: Settings,
    /// Every account's long-term access keys.
    keys: HashMap<String, accounts::LongTermKey>,
    /// The configurations, by account.
    store: Mutex<BTreeMap<String, store::Store>>,
    faults: Mutex<faults::Faults>,
    /// Roles, campaigns and functions, by account.
    resources: Mutex<BTreeMap<String, resources::Resources>>,
    sessions: Mutex<sts::Sessions>,
}

type AppState = Arc<Shared>;

/// The resources the settings seed `account` with (none without a seed).
fn seeded_account(settings: &Settings, account: &str) -> Result<resources::Resources, String> {
    let seed = if account == settings.account_id {
        settings.seed.as_ref()
    } else {
        settings
            .accounts
            .iter()
            .find(|a| a.id == account)
            .and_then(|a| a.seed.as_ref())
    };
    let mut resources = resources::Resources::default();
    if let Some(seed) = seed {
        resources.apply(seed::parse(seed, account)?);
    }
    Ok(resources)
}

/// The resources of every account, as the settings seed them.
fn seeded(settings: &Settings) -> Result<BTreeMap<String, resources::Resources>, String> {
    settings
        .account_ids()
        .map(|id| {
            let resources = seeded_account(settings, id).map_err(|e| {
                if id == settings.account_id {
                    format!("invalid seed: {e}")
                } else {
                    format!("invalid seed of account {id}: {e}")
                }
            })?;
            Ok((id.to_owned(), resources))
        })
        .collect()
}

type Checked = (
    HashMap<String, accounts::LongTermKey>,
    BTreeMap<String, resources::Resources>,
);

fn check_settings(settings: &Settings) -> Result<Checked, String> {
    let keys = accounts::long_term_keys(
        &settings.account_id,
        &settings.credentials,
        &settings.accounts,
    )?;
    if settings.sts_max_session_seconds == Some(0) {
        return Err("sts_max_session_seconds must be at least 1".into());
    }
    Ok((keys, seeded(settings)?))
}

/// The whole HTTP application.
///
/// # Panics
///
/// When the settings are invalid: an account ID that is not 12 digits or given twice, an access
/// key of two accounts, a seed document that is not valid, a session cap of 0 (`spawn` returns
/// an error instead).
pub fn router(settings: Settings) -> Router {
    let (keys, resources) = check_settings(&settings).unwrap_or_else(|e| panic!("{e}"));
    let state = Arc::new(Shared {
        keys,
        store: Mutex::default(),
        faults: Mutex::default(),
        resources: Mutex::new(resources),
        sessions: Mutex::new(sts::Sessions::new(settings.sts_max_session_seconds)),
        settings,
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
    // `POST /` is IAM, STS or Personalize by its body or headers: read the body to tell.
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
        Some(operation) => {
            let account = claimed_account(&state, request.headers()).await;
            state
                .faults
                .lock()
                .await
                .take_drop_response(operation, account.as_deref())
        }
        None => false,
    };
    let response = next.run(request).await;
    if drop { dropped_connection() } else { response }
}

/// The largest request body `POST /` reads.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Binds `addr` and serves in the background; returns the bound address (for port 0).
///
/// Fails with `InvalidInput` when the settings are invalid (accounts, keys, seed documents).
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

/// The account a request's access key belongs to (temporary credentials: the role's), before
/// any check of the signature: what call counts and account-scoped faults go by.
async fn claimed_account(state: &Shared, headers: &HeaderMap) -> Option<String> {
    let key = sigv4::claimed_access_key(headers)?;
    if let Some(key) = state.keys.get(key) {
        return Some(key.account.clone());
    }
    state.sessions.lock().await.account_of(key)
}

/// Everything a call goes through before its handler: call counting, faults and
/// authentication, answered in the operation's protocol. Returns the verified caller, or the
/// response to send instead.
async fn admit(
    state: &Shared,
    operation: &'static str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<accounts::Caller, Response> {
    let protocol = Protocol::of(operation);
    let account = claimed_account(state, headers).await;
    let fault = {
        let mut faults = state.faults.lock().await;
        faults.count_call(operation, account.as_deref());
        faults.take(operation, account.as_deref())
    };
    if let Some(fault) = fault {
        if let Some(ms) = fault.latency_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(response) = fault.response(protocol) {
            return Err(response);
        }
    }
    authenticate(state, protocol, method, uri, headers, body).await
}

/// A service whose calls name their operation in the request, not in its path (IAM and STS by
/// `Action`, Personalize by `X-Amz-Target`): its protocol, and the operations served of it.
struct Catalog {
    protocol: Protocol,
    operations: &'static [&'static str],
}

/// Admits a call of `name`, as `admit` does, when the catalog serves it: the operation and the
/// caller. `None` when it does not, once the signature has been checked as for any call (an
/// unsigned call of an unknown operation is refused as unsigned, as AWS does); the service then
/// answers with its own error.
async fn admit_named(
    state: &Shared,
    catalog: &Catalog,
    name: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<(&'static str, accounts::Caller)>, Response> {
    let Some(operation) = catalog.operations.iter().copied().find(|o| *o == name) else {
        authenticate(state, catalog.protocol, method, uri, headers, body).await?;
        return Ok(None);
    };
    let caller = admit(state, operation, method, uri, headers, body).await?;
    Ok(Some((operation, caller)))
}

/// Verifies the request's SigV4 signature, scoped to the protocol's service, with a long-term key
/// of an account or the temporary credentials of a live role session.
async fn authenticate(
    state: &Shared,
    protocol: Protocol,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<accounts::Caller, Response> {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let sessions = state.sessions.lock().await;
    let now = chrono::Utc::now();
    sigv4::verify_with(
        protocol.signing_name(),
        method,
        path_and_query,
        headers,
        body,
        |key, token| match state.keys.get(key) {
            // A long-term key signs with or without a session token, as it always has here.
            Some(long_term) => Ok((
                long_term.secret.clone(),
                accounts::Identity::user(&long_term.account, key),
            )),
            None => sessions.identify(key, token, now),
        },
    )
    .map(|(scope, identity)| accounts::Caller {
        identity,
        region: scope.region,
    })
    .map_err(|e| protocol.auth_error(&e))
}

/// What a `POST /` is.
enum RootCall<'a> {
    /// A query-protocol (IAM or STS) call: a form body.
    Query(query::Form),
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
        RootCall::Query(query::Form::parse(body))
    } else {
        RootCall::Unknown
    }
}

/// `POST /`: IAM or STS (form body with `Action`: STS by its actions, or by a signature for
/// `sts`) or Personalize (`X-Amz-Target`).
async fn root(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match root_call(&headers, &body) {
        RootCall::Query(form) => {
            let action = form.get("Action").unwrap_or_default();
            let sts =
                sts::ACTIONS.contains(&action) || sigv4::claimed_service(&headers) == Some("sts");
            let service = if sts { &sts::SERVICE } else { &iam::SERVICE };
            match query::admit(&state, service, &form, &method, &uri, &headers, &body).await {
                Ok((operation, caller)) if sts => sts::call(&state, operation, caller, &form).await,
                Ok((operation, caller)) => iam::call(&state, operation, caller, &form).await,
                Err(refused) => refused,
            }
        }
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
            "POST / must be an IAM or STS query call (Content-Type: \
             application/x-www-form-urlencoded, body Action=...&Version=...) or an Amazon \
             Personalize call (X-Amz-Target: AmazonPersonalize.OPERATION)",
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
