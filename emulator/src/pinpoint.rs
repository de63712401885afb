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
    let region = admit(&state, OP, &method, &uri, &headers, &body)
        .await?
        .region;
    let configuration = validated(&body, &region).map_err(bad_request)?;
    let mut store = state.store.lock().await;
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
    let region = admit(&state, OP, &method, &uri, &headers, b"")
        .await?
        .region;
    Ok(match state.store.lock().await.get(&region, &id) {
        Some(stored) => Json(stored.response()).into_response(),
        None => not_found(&id),
    })
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
    let region = admit(&state, OP, &method, &uri, &headers, b"")
        .await?
        .region;
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
    let store = state.store.lock().await;
    let all = store.in_region(&region);
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
    let region = admit(&state, OP, &method, &uri, &headers, &body)
        .await?
        .region;
    let configuration = validated(&body, &region).map_err(bad_request)?;
    Ok(
        match state
            .store
            .lock()
            .await
            .replace(&region, &id, configuration)
        {
            Some(stored) => Json(stored.response()).into_response(),
            None => not_found(&id),
        },
    )
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    const OP: &str = "DeleteRecommenderConfiguration";
    let region = admit(&state, OP, &method, &uri, &headers, b"")
        .await?
        .region;
    Ok(match state.store.lock().await.remove(&region, &id) {
        Some(stored) => Json(stored.response()).into_response(),
        None => not_found(&id),
    })
}
