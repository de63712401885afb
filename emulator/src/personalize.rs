//! Amazon Personalize's DescribeCampaign on awsJson1_1 (`X-Amz-Target:
//! AmazonPersonalize.DescribeCampaign`).

use std::sync::LazyLock;

use axum::{
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use regex::Regex;
use serde_json::{Value, json};

use crate::{
    Catalog, Shared,
    protocol::{Protocol, validation_message},
    rules::re,
};

/// The X-Amz-Target prefix of every Personalize operation.
pub const TARGET_PREFIX: &str = "AmazonPersonalize.";

/// The Personalize operations the emulator serves.
pub const OPERATIONS: [&str; 1] = ["DescribeCampaign"];

const CATALOG: Catalog = Catalog {
    protocol: Protocol::Personalize,
    operations: &OPERATIONS,
};

static ARN: LazyLock<Regex> = LazyLock::new(|| re(r"^arn:([a-z\d-]+):personalize:.*:.*:.+$"));

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
    let name = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
    let caller = match crate::admit_named(state, &CATALOG, name, method, uri, headers, body).await {
        Ok(Some((_, caller))) => caller,
        Ok(None) => {
            return Protocol::Personalize.error(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                format!("The emulator does not serve the Personalize operation {name}"),
            );
        }
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
            return invalid_input(validation_message(None, "campaignArn", "must not be null"));
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
        return invalid_input(validation_message(
            Some(arn),
            "campaignArn",
            r"must satisfy regular expression pattern: arn:([a-z\d-]+):personalize:.*:.*:.+",
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
