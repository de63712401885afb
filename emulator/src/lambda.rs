//! AWS Lambda's GetFunction and GetPolicy on restJson1.

use std::sync::LazyLock;

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use regex::Regex;
use serde_json::json;

use crate::{
    AppState,
    accounts::Caller,
    protocol::{Protocol, validation_message},
    resources::Function,
    rules::re,
};

/// The path prefix of the functions API.
pub const FUNCTIONS: &str = "/2015-03-31/functions/";

/// A FunctionName as Lambda takes it: a name, a partial ARN (`ACCOUNT:function:NAME`) or a full
/// ARN, each optionally with a `:QUALIFIER`.
static FUNCTION_NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:arn:(aws[a-zA-Z-]*):lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):)?(?:(\d{12}):)?(?:function:)?([a-zA-Z0-9_-]{1,64})(?::(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$",
    )
});

#[derive(serde::Deserialize)]
pub struct QualifierQuery {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
}

/// The function `name` refers to for `caller` (in its account and Region), or the error to
/// answer `operation` with.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response to send, once per call"
)]
fn resolve<'a>(
    functions: Option<&'a crate::resources::Resources>,
    operation: &str,
    name: &str,
    qualifier: Option<&str>,
    caller: &Caller,
) -> Result<&'a Function, Response> {
    let account = caller.identity.account.as_str();
    let captures = FUNCTION_NAME
        .captures(name)
        .filter(|_| name.len() <= 170)
        .ok_or_else(|| {
            Protocol::Lambda.error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                validation_message(
                    Some(name),
                    "functionName",
                    r"must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
                ),
            )
        })?;
    let partition = captures.get(1).map_or("aws", |m| m.as_str());
    let region = captures
        .get(2)
        .map_or(caller.region.as_str(), |m| m.as_str());
    let owner = captures.get(3).map_or(account, |m| m.as_str());
    let function = &captures[4];
    let qualifier = captures.get(5).map(|m| m.as_str()).or(qualifier);
    let arn = format!("arn:{partition}:lambda:{region}:{owner}:function:{function}");
    if owner != account {
        // Another account's function: only its resource-based policy could grant this, and the
        // emulator grants nothing across accounts.
        let action = format!("lambda:{operation}");
        return Err(Protocol::Lambda.error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: {action} on resource: {arn} because no \
                 resource-based policy allows the {action} action",
                caller.identity.arn
            ),
        ));
    }
    let not_found = |arn: &str| {
        Protocol::Lambda.error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {arn}"),
        )
    };
    // A function lives in one Region: a client signed for another Region does not see it.
    let found = functions
        .and_then(|f| f.function(&arn))
        .filter(|f| f.region == caller.region)
        .ok_or_else(|| not_found(&arn))?;
    match qualifier {
        None | Some("$LATEST") => Ok(found),
        Some(q) => Err(not_found(&format!("{arn}:{q}"))),
    }
}

/// The operations served here, by the names faults and call counts use.
pub const OPERATIONS: [&str; 2] = ["GetFunction", "GetPolicy"];

/// What both operations do first: admit the call, then find the function it names in the
/// caller's Region and account.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response to send, once per call"
)]
async fn admitted_function(
    state: &AppState,
    operation: &'static str,
    name: &str,
    query: &QualifierQuery,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Function, Response> {
    let caller = crate::admit(state, operation, method, uri, headers, b"").await?;
    let resources = state.resources.lock().await;
    resolve(
        resources.get(&caller.identity.account),
        operation,
        name,
        query.qualifier.as_deref(),
        &caller,
    )
    .cloned()
}

/// `GET /2015-03-31/functions/{FunctionName}`.
pub async fn get_function(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<QualifierQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let function = admitted_function(
        &state,
        "GetFunction",
        &name,
        &query,
        &method,
        &uri,
        &headers,
    )
    .await?;
    Ok(Json(function.get_function()).into_response())
}

/// `GET /2015-03-31/functions/{FunctionName}/policy`.
pub async fn get_policy(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<QualifierQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let function =
        admitted_function(&state, "GetPolicy", &name, &query, &method, &uri, &headers).await?;
    match &function.policy {
        Some(policy) => Ok(Json(json!({
            "Policy": policy,
            "RevisionId": function.revision_id,
        }))
        .into_response()),
        None => Err(Protocol::Lambda.error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
        )),
    }
}
