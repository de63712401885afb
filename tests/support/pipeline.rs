//! The reconciler's pipeline run in-process, as the controller would run it, and the conditions
//! of the status it gives. Used by `tests/reconciler.rs` and `tests/reconciler_adoption.rs`.

use k8s_openapi::jiff::Timestamp;
use recommender_operator::{
    api::RecommenderModel,
    domain::conditions::find,
    pipeline::{error::Error, sync_unguarded},
};

pub fn condition(
    model_status: &recommender_operator::api::RecommenderModelStatus,
    type_: &str,
) -> (String, String, String) {
    let c = find(&model_status.conditions, type_).unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// Runs `sync` and stores the resulting status on the model, as the controller would.
pub async fn reconcile(
    model: &mut RecommenderModel,
    pinpoint: &impl recommender_operator::aws::pinpoint::Pinpoint,
) -> Result<(), Error> {
    let outcome = sync_unguarded(model, pinpoint, Timestamp::now()).await;
    model.status = Some(outcome.status);
    outcome.result
}
