//! The admin API under `/_emulator/`: what tests read back (configurations, roles, campaigns,
//! functions, call counts, sessions) and what they control (faults, seed, reset, the STS session
//! cap). Unsigned: it is the tests' side door, not an AWS API.
//!
//! Every endpoint takes `?account=ID` (a 12-digit account of the settings; 404 otherwise).
//! Without it, an endpoint means the default account, except:
//!
//! - `GET /_emulator/calls`: every account's calls added up (and unsigned ones);
//! - `GET|DELETE /_emulator/faults`: every fault (with it: the faults naming that account);
//! - `POST /_emulator/reset`: everything (every account, faults, calls, sessions, the session
//!   cap); with it: that account's configurations, roles, campaigns and functions (back to its
//!   seed), calls, the faults naming it, and the sessions of its roles;
//! - `GET /_emulator/sts`: every session (with it: the sessions of that account's roles).
//!
//! `POST /_emulator/faults?account=ID` names the account in the fault (as its `account` field
//! does).

use axum::{
    Json, Router,
    body::Bytes,
    extract::{FromRequestParts, Query, State},
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::json;

use crate::{AppState, faults::Fault, seed, seeded, seeded_account, store::Store, sts};

/// The admin routes, to merge into the application's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/accounts", get(accounts))
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
        .route("/_emulator/sts", get(sts_state).post(set_sts))
}

/// The `?account=ID` every endpoint takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountQuery {
    account: Option<String>,
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, message).into_response()
}

/// The account `?account=ID` names, if any, checked to be one of the settings' (404
/// otherwise).
struct Named(Option<String>);

/// The account `?account=ID` names, checked as `Named`, or the default one.
struct OrDefault(String);

impl FromRequestParts<AppState> for Named {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Query(q) = Query::<AccountQuery>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match q.account {
            None => Ok(Self(None)),
            Some(id) if state.settings.has_account(&id) => Ok(Self(Some(id))),
            Some(id) => Err((
                StatusCode::NOT_FOUND,
                format!(
                    "no account {id:?}: the emulator's accounts are {}",
                    state.settings.account_ids().collect::<Vec<_>>().join(", ")
                ),
            )
                .into_response()),
        }
    }
}

impl FromRequestParts<AppState> for OrDefault {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Named(named) = Named::from_request_parts(parts, state).await?;
        Ok(Self(
            named.unwrap_or_else(|| state.settings.account_id.clone()),
        ))
    }
}

async fn accounts(State(state): State<AppState>) -> Response {
    let list: Vec<_> = state
        .settings
        .account_ids()
        .map(|id| {
            let keys: Vec<&String> = {
                let mut keys: Vec<&String> = state
                    .keys
                    .iter()
                    .filter(|(_, k)| k.account == id)
                    .map(|(key, _)| key)
                    .collect();
                keys.sort();
                keys
            };
            json!({
                "accountId": id,
                "accessKeyIds": keys,
                "default": id == state.settings.account_id,
            })
        })
        .collect();
    Json(list).into_response()
}

async fn configurations(State(state): State<AppState>, OrDefault(account): OrDefault) -> Response {
    let stores = state.store.lock().await;
    Json(stores.get(&account).map(Store::all).unwrap_or_default()).into_response()
}

async fn calls(State(state): State<AppState>, Named(account): Named) -> Response {
    Json(state.faults.lock().await.calls(account.as_deref())).into_response()
}

async fn add_fault(State(state): State<AppState>, Named(named): Named, body: Bytes) -> Response {
    let mut fault = match serde_json::from_slice::<Fault>(&body) {
        Ok(fault) => fault,
        Err(e) => return bad_request(format!("bad fault: {e}")),
    };
    if let Err(why) = fault.validate() {
        return bad_request(format!("bad fault: {why}"));
    }
    match (&fault.account, named) {
        (Some(a), Some(b)) if *a != b => {
            return bad_request(format!(
                "bad fault: it names account {a}, the query account {b}"
            ));
        }
        (None, named) => fault.account = named,
        _ => {}
    }
    if let Some(a) = &fault.account
        && !state.settings.has_account(a)
    {
        return bad_request(format!("bad fault: the emulator has no account {a:?}"));
    }
    state.faults.lock().await.add(fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn list_faults(State(state): State<AppState>, Named(account): Named) -> Response {
    Json(state.faults.lock().await.pending(account.as_deref())).into_response()
}

async fn clear_faults(State(state): State<AppState>, Named(account): Named) -> Response {
    state.faults.lock().await.clear(account.as_deref());
    StatusCode::NO_CONTENT.into_response()
}

async fn reset(State(state): State<AppState>, Named(account): Named) -> Response {
    // The seeds were checked at start: they apply again.
    let Some(account) = account else {
        let resources = match seeded(&state.settings) {
            Ok(resources) => resources,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        };
        *state.store.lock().await = Default::default();
        *state.faults.lock().await = Default::default();
        *state.resources.lock().await = resources;
        *state.sessions.lock().await = sts::Sessions::new(state.settings.sts_max_session_seconds);
        return StatusCode::NO_CONTENT.into_response();
    };
    let resources = match seeded_account(&state.settings, &account) {
        Ok(resources) => resources,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    };
    state.store.lock().await.remove(&account);
    state.faults.lock().await.reset_account(&account);
    state
        .resources
        .lock()
        .await
        .insert(account.clone(), resources);
    state.sessions.lock().await.forget_account(&account);
    StatusCode::NO_CONTENT.into_response()
}

async fn seed(
    State(state): State<AppState>,
    OrDefault(account): OrDefault,
    body: Bytes,
) -> Response {
    let seed = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(seed) => seed,
        Err(e) => return bad_request(format!("bad seed: not JSON: {e}")),
    };
    match seed::parse(&seed, &account) {
        Ok(seed) => {
            let mut resources = state.resources.lock().await;
            resources.entry(account).or_default().apply(seed);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(format!("bad seed: {e}")),
    }
}

/// One account's roles, campaigns or functions, as `list` shows them.
async fn listed(
    state: &AppState,
    account: &str,
    list: fn(&crate::resources::Resources) -> Vec<serde_json::Value>,
) -> Response {
    let resources = state.resources.lock().await;
    Json(resources.get(account).map(list).unwrap_or_default()).into_response()
}

async fn roles(State(state): State<AppState>, OrDefault(account): OrDefault) -> Response {
    listed(&state, &account, crate::resources::Resources::roles).await
}

async fn campaigns(State(state): State<AppState>, OrDefault(account): OrDefault) -> Response {
    listed(&state, &account, crate::resources::Resources::campaigns).await
}

async fn functions(State(state): State<AppState>, OrDefault(account): OrDefault) -> Response {
    listed(&state, &account, crate::resources::Resources::functions).await
}

async fn sts_state(State(state): State<AppState>, Named(account): Named) -> Response {
    let sessions = state.sessions.lock().await;
    Json(json!({
        "sessionSeconds": sessions.cap(),
        "sessions": sessions.admin(account.as_deref()),
    }))
    .into_response()
}

/// `POST /_emulator/sts`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StsSettings {
    /// The cap on every new session's lifetime; null: none.
    session_seconds: Option<u64>,
}

async fn set_sts(
    State(state): State<AppState>,
    Query(q): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    if q.account.is_some() {
        return bad_request(
            "the STS session cap is the same for every account: no ?account=".into(),
        );
    }
    let settings = match serde_json::from_slice::<StsSettings>(&body) {
        Ok(settings) => settings,
        Err(e) => return bad_request(format!("bad STS settings: {e}")),
    };
    if settings.session_seconds == Some(0) {
        return bad_request("bad STS settings: sessionSeconds must be at least 1".into());
    }
    state
        .sessions
        .lock()
        .await
        .set_cap(settings.session_seconds);
    StatusCode::NO_CONTENT.into_response()
}
