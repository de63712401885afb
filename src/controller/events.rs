//! Emitting what a pass did: every note is logged, and those meant for users become Kubernetes
//! Events (best effort).

use kube::{
    Resource, ResourceExt,
    runtime::events::{Event as KubeEvent, EventType},
};
use tracing::{info, warn};

use crate::{api::RecommenderModel, controller::context::Context, pipeline::error::Note};

pub async fn emit_notes(model: &RecommenderModel, notes: &[Note], ctx: &Context) {
    let reference = model.object_ref(&());
    let name = model.name_any();
    for note in notes {
        log_note(&name, note);
        if note.event {
            emit_event(&reference, note, ctx).await;
        }
    }
}

/// Every note is logged, evented or not: what was deleted or kept is in the log too.
pub fn log_note(object: &str, note: &Note) {
    if note.warning {
        warn!(object, reason = note.reason, "{}", note.message);
    } else {
        info!(object, reason = note.reason, "{}", note.message);
    }
}

pub async fn emit_event(
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    note: &Note,
    ctx: &Context,
) {
    let event = KubeEvent {
        type_: if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: note.reason.to_owned(),
        note: Some(note.message.chars().take(1000).collect()),
        action: note.reason.to_owned(),
        secondary: None,
    };
    // Events are best effort: a lost event must not fail the reconcile.
    if let Err(e) = ctx.recorder.publish(&event, reference).await {
        warn!(error = %e, reason = note.reason, "could not emit event");
    }
}
