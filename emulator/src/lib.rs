//! An in-memory Amazon Pinpoint that speaks the recommender-configuration API on the real wire
//! protocol (SigV4-signed restJson1), applies the service's rules with its own code, and injects
//! faults on request. Tests and the local demo point the operator at it.

mod faults;
pub mod rules;
pub mod sigv4;
mod store;

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use tokio::{net::TcpListener, sync::Mutex};

pub use faults::Fault;
use rules::ConfigurationBody;
pub use store::Stored;

/// Emulator settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Access key ID -> secret access key.
    pub credentials: HashMap<String, String>,
    /// Recommender configurations per account and Region (Pinpoint's quota is 100).
    pub max_configurations: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            credentials: HashMap::from([("test".to_owned(), "test".to_owned())]),
            max_configurations: 100,
        }
    }
}

struct Shared {
    settings: Settings,
    store: Mutex<store::Store>,
    faults: Mutex<faults::Faults>,
}

type AppState = Arc<Shared>;

/// The whole HTTP application.
pub fn router(settings: Settings) -> Router {
    let state = Arc::new(Shared {
        settings,
        store: Mutex::default(),
        faults: Mutex::default(),
    });
    Router::new()
        .route("/v1/recommenders", post(create).get(list))
        .route(
            "/v1/recommenders/{id}",
            get(get_one).put(update).delete(delete),
        )
        .route("/_emulator/configurations", get(admin_configurations))
        .route("/_emulator/calls", get(admin_calls))
        .route(
            "/_emulator/faults",
            post(admin_add_fault)
                .delete(admin_clear_faults)
                .get(admin_faults),
        )
        .route("/_emulator/reset", post(admin_reset))
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
    let drop = match faults::operation_for(request.method(), request.uri().path()) {
        Some(operation) => state.faults.lock().await.take_drop_response(operation),
        None => false,
    };
    let response = next.run(request).await;
    if drop { dropped_connection() } else { response }
}

/// Binds `addr` and serves in the background; returns the bound address (for port 0).
pub async fn spawn(addr: SocketAddr, settings: Settings) -> std::io::Result<SocketAddr> {
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

/// Everything a Pinpoint call goes through before its handler: call counting, faults and
/// authentication. Returns the caller's Region, or the response to send instead.
async fn admit(
    state: &Shared,
    operation: &'static str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Response> {
    let fault = {
        let mut faults = state.faults.lock().await;
        faults.count_call(operation);
        faults.take(operation)
    };
    if let Some(fault) = fault {
        if let Some(ms) = fault.latency_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(response) = fault.response() {
            return Err(response);
        }
    }
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    sigv4::verify(method, path_and_query, headers, body, |key| {
        state.settings.credentials.get(key).cloned()
    })
    .map(|scope| scope.region)
    .map_err(|e| aws_error(StatusCode::FORBIDDEN, e.error_type(), e.message()))
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

async fn create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    const OP: &str = "CreateRecommenderConfiguration";
    let region = admit(&state, OP, &method, &uri, &headers, &body).await?;
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

async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    const OP: &str = "GetRecommenderConfiguration";
    let region = admit(&state, OP, &method, &uri, &headers, b"").await?;
    Ok(match state.store.lock().await.get(&region, &id) {
        Some(stored) => Json(stored.response()).into_response(),
        None => not_found(&id),
    })
}

#[derive(serde::Deserialize)]
struct ListQuery {
    #[serde(rename = "page-size")]
    page_size: Option<String>,
    token: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    const OP: &str = "GetRecommenderConfigurations";
    let region = admit(&state, OP, &method, &uri, &headers, b"").await?;
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

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    const OP: &str = "UpdateRecommenderConfiguration";
    let region = admit(&state, OP, &method, &uri, &headers, &body).await?;
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

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    const OP: &str = "DeleteRecommenderConfiguration";
    let region = admit(&state, OP, &method, &uri, &headers, b"").await?;
    Ok(match state.store.lock().await.remove(&region, &id) {
        Some(stored) => Json(stored.response()).into_response(),
        None => not_found(&id),
    })
}

async fn admin_configurations(State(state): State<AppState>) -> Response {
    Json(state.store.lock().await.all()).into_response()
}

async fn admin_calls(State(state): State<AppState>) -> Response {
    Json(state.faults.lock().await.calls().clone()).into_response()
}

async fn admin_add_fault(State(state): State<AppState>, body: Bytes) -> Response {
    let fault = match serde_json::from_slice::<Fault>(&body) {
        Ok(fault) => fault,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad fault: {e}")).into_response(),
    };
    if let Err(why) = fault.validate() {
        return (StatusCode::BAD_REQUEST, format!("bad fault: {why}")).into_response();
    }
    state.faults.lock().await.add(fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_faults(State(state): State<AppState>) -> Response {
    Json(state.faults.lock().await.pending().to_vec()).into_response()
}

async fn admin_clear_faults(State(state): State<AppState>) -> Response {
    state.faults.lock().await.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_reset(State(state): State<AppState>) -> Response {
    *state.store.lock().await = store::Store::default();
    *state.faults.lock().await = faults::Faults::default();
    StatusCode::NO_CONTENT.into_response()
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
