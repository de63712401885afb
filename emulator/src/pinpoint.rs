//! Amazon Pinpoint's recommender-configuration operations on restJson1: create, get, list,
//! update and delete, each configuration checked against `rules` first.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    AppState, admit, aws_error,
    rules::{self, ConfigurationBody},
};

fn bad_request(message: impl Into<String>) -> Response {
    aws_error(StatusCode::BAD_REQUEST, "BadRequestException", message)
}

fn not_found(id: &str) -> Response {
    aws_error(
        StatusCode::NOT_FOUND,
        "NotFoundException",
        format!("Recommender configuration {id} not found"),
    )
}

/// The request body as a configuration that passes the service's rules, or the message of the
/// BadRequestException that refuses it.
fn validated(body: &[u8], region: &str) -> Result<ConfigurationBody, String> {
    let configuration: ConfigurationBody = serde_json::from_slice(body)
        .map_err(|e| format!("The request body is not a valid recommender configuration: {e}"))?;
    let problems = rules::check(&configuration, region);
    if problems.is_empty() {
        Ok(configuration)
    } else {
        Err(problems.join("; "))
    }
}

pub async fn create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    const OP: &str = "CreateRecommenderConfiguration";
    let caller = admit(&state, OP, &method, &uri, &headers, &body).await?;
    let region = caller.region;
    let configuration = validated(&body, &region).map_err(bad_request)?;
    let mut stores = state.store.lock().await;
    // Configurations, and the quota, are the caller's account's.
    let store = stores.entry(caller.identity.account).or_default();
    if store.count(&region) >= state.settings.max_configurations {
        return Err(bad_request(format!(
            "Exceeded the limit of {} recommender configurations for this account in {region}",
            state.settings.max_configurations
        )));
    }
    let stored = store.insert(&region, configuration);
    Ok((StatusCode::CREATED, Json(stored.response())).into_response())
}

pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    const OP: &str = "GetRecommenderConfiguration";
    let caller = admit(&state, OP, &method, &uri, &headers, b"").await?;
    let (account, region) = (caller.identity.account, caller.region);
    let stores = state.store.lock().await;
    Ok(
        match stores.get(&account).and_then(|s| s.get(&region, &id)) {
            Some(stored) => Json(stored.response()).into_response(),
            None => not_found(&id),
        },
    )
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    #[serde(rename = "page-size")]
    page_size: Option<String>,
    token: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    const OP: &str = "GetRecommenderConfigurations";
    let caller = admit(&state, OP, &method, &uri, &headers, b"").await?;
    let (account, region) = (caller.identity.account, caller.region);
    let page_size = match query.page_size.as_deref().map(str::parse::<usize>) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return Err(bad_request("page-size must be a number from 1 to 100")),
    };
    let start = match query.token.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err(bad_request("The pagination token is invalid")),
    };
    let stores = state.store.lock().await;
    let all = stores
        .get(&account)
        .map(|s| s.in_region(&region))
        .unwrap_or_default();
    let items: Vec<_> = all
        .iter()
        .skip(start)
        .take(page_size)
        .map(|s| s.response())
        .collect();
    let mut body = json!({ "Item": items });
    // The token comes from the client: a huge one must not overflow.
    let next = start.saturating_add(page_size);
    if next < all.len() {
        body["NextToken"] = json!(next.to_string());
    }
    Ok(Json(body).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    const OP: &str = "UpdateRecommenderConfiguration";
    let caller = admit(&state, OP, &method, &uri, &headers, &body).await?;
    let (account, region) = (caller.identity.account, caller.region);
    let configuration = validated(&body, &region).map_err(bad_request)?;
    let mut stores = state.store.lock().await;
    let replaced = stores
        .get_mut(&account)
        .and_then(|s| s.replace(&region, &id, configuration));
    Ok(match replaced {
        Some(stored) => Json(stored.response()).into_response(),
        None => not_found(&id),
    })
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    const OP: &str = "DeleteRecommenderConfiguration";
    let caller = admit(&state, OP, &method, &uri, &headers, b"").await?;
    let (account, region) = (caller.identity.account, caller.region);
    let mut stores = state.store.lock().await;
    Ok(
        match stores
            .get_mut(&account)
            .and_then(|s| s.remove(&region, &id))
        {
            Some(stored) => Json(stored.response()).into_response(),
            None => not_found(&id),
        },
    )
}
