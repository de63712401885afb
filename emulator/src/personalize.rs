//! Amazon Personalize's DescribeCampaign on awsJson1_1 (`X-Amz-Target:
//! AmazonPersonalize.DescribeCampaign`).

use std::sync::LazyLock;

use axum::{
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use regex::Regex;
use serde_json::{Value, json};

use crate::{Shared, protocol::Protocol};

/// The X-Amz-Target prefix of every Personalize operation.
pub const TARGET_PREFIX: &str = "AmazonPersonalize.";

/// The Personalize operations the emulator serves.
pub const OPERATIONS: [&str; 1] = ["DescribeCampaign"];

static ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:([a-z\d-]+):personalize:.*:.*:.+$").expect("static pattern")
});

fn invalid_input(message: impl Into<String>) -> Response {
    Protocol::Personalize.error(StatusCode::BAD_REQUEST, "InvalidInputException", message)
}

/// Serves one call whose X-Amz-Target is `target`.
pub async fn call(
    state: &Shared,
    target: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
    let Some(operation) = OPERATIONS.iter().copied().find(|o| *o == operation) else {
        if let Err(refused) =
            crate::authenticate(state, Protocol::Personalize, method, uri, headers, body).await
        {
            return refused;
        }
        return Protocol::Personalize.error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            format!("The emulator does not serve the Personalize operation {operation}"),
        );
    };
    let caller = match crate::admit(state, operation, method, uri, headers, body).await {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    let request: Value = match serde_json::from_slice(body) {
        Ok(value @ Value::Object(_)) => value,
        _ => {
            return Protocol::Personalize.error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "The request body is not a JSON object",
            );
        }
    };
    let arn = match request.get("campaignArn") {
        Some(Value::String(arn)) => arn,
        None | Some(Value::Null) => {
            return invalid_input(
                "1 validation error detected: Value null at 'campaignArn' failed to satisfy \
                 constraint: Member must not be null",
            );
        }
        Some(_) => {
            return Protocol::Personalize.error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "campaignArn must be a string",
            );
        }
    };
    if arn.len() > 256 || !ARN.is_match(arn) {
        return invalid_input(format!(
            "1 validation error detected: Value '{arn}' at 'campaignArn' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             arn:([a-z\\d-]+):personalize:.*:.*:.+"
        ));
    }
    // Personalize has no resource-based policies: another account's campaign is out of reach.
    if let Some(owner) = arn.split(':').nth(4)
        && crate::accounts::is_account_id(owner)
        && owner != caller.identity.account
    {
        return Protocol::Personalize.error(
            StatusCode::BAD_REQUEST,
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: personalize:DescribeCampaign on \
                 resource: {arn}",
                caller.identity.arn
            ),
        );
    }
    let resources = state.resources.lock().await;
    // A campaign lives in one Region: a client signed for another Region does not see it.
    let campaign = resources
        .get(&caller.identity.account)
        .and_then(|r| r.campaign(arn))
        .filter(|c| c.region == caller.region);
    match campaign {
        Some(campaign) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            json!({ "campaign": campaign.describe() }).to_string(),
        )
            .into_response(),
        None => Protocol::Personalize.error(
            StatusCode::BAD_REQUEST,
            "ResourceNotFoundException",
            format!("Could not find resource with ARN {arn}"),
        ),
    }
}
