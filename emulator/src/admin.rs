//! The admin API under `/_emulator/`: what tests read back (configurations, roles, campaigns,
//! functions, call counts) and what they control (faults, seed, reset). Unsigned: it is the
//! tests' side door, not an AWS API.

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};

use crate::{
    AppState,
    faults::{Fault, Faults},
    resources, seeded,
    store::Store,
};

/// The admin routes, to merge into the application's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/configurations", get(configurations))
        .route("/_emulator/seed", post(seed))
        .route("/_emulator/iam/roles", get(roles))
        .route("/_emulator/personalize/campaigns", get(campaigns))
        .route("/_emulator/lambda/functions", get(functions))
        .route("/_emulator/calls", get(calls))
        .route(
            "/_emulator/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
        .route("/_emulator/reset", post(reset))
}

async fn configurations(State(state): State<AppState>) -> Response {
    Json(state.store.lock().await.all()).into_response()
}

async fn calls(State(state): State<AppState>) -> Response {
    Json(state.faults.lock().await.calls().clone()).into_response()
}

async fn add_fault(State(state): State<AppState>, body: Bytes) -> Response {
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

async fn list_faults(State(state): State<AppState>) -> Response {
    Json(state.faults.lock().await.pending().to_vec()).into_response()
}

async fn clear_faults(State(state): State<AppState>) -> Response {
    state.faults.lock().await.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn reset(State(state): State<AppState>) -> Response {
    *state.store.lock().await = Store::default();
    *state.faults.lock().await = Faults::default();
    // The seed was checked at start: it applies again.
    match seeded(&state.settings) {
        Ok(resources) => *state.resources.lock().await = resources,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn seed(State(state): State<AppState>, body: Bytes) -> Response {
    let seed = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(seed) => seed,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("bad seed: not JSON: {e}")).into_response();
        }
    };
    match resources::parse_seed(&seed, &state.settings.account_id) {
        Ok(seed) => {
            state.resources.lock().await.apply(seed);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("bad seed: {e}")).into_response(),
    }
}

async fn roles(State(state): State<AppState>) -> Response {
    Json(state.resources.lock().await.roles()).into_response()
}

async fn campaigns(State(state): State<AppState>) -> Response {
    Json(state.resources.lock().await.campaigns()).into_response()
}

async fn functions(State(state): State<AppState>) -> Response {
    Json(state.resources.lock().await.functions()).into_response()
}
