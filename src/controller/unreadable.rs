//! An object this version cannot decode: reported on itself (once), never published, and still
//! deletable through the one deletion path.

use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::controller::Action,
};
use serde_json::json;
use tracing::warn;

use crate::{
    api::FINALIZER,
    controller::{
        cached::CachedModel,
        context::{Context, claims_except},
        events::{emit_event, log_note},
    },
    domain::conditions::{READY, STALLED, VALIDATED},
    pipeline::{
        deletion::{Leftovers, delete_leftovers},
        error::{Error, Note},
    },
};

/// An object this version cannot read: say so on it (once), publish nothing, and still let it
/// be deleted, reading just the few fields deletion needs from the raw object.
pub async fn unreadable(
    object: &CachedModel,
    problem: String,
    ctx: &Context,
) -> Result<Action, Error> {
    let namespace = object.namespace().unwrap_or_default();
    // The cached form: the answers to these patches do not decode as a model either.
    let api: Api<CachedModel> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = object.name_any();
    let spec = object.spec_value().unwrap_or_default();
    let status = object.status_value().unwrap_or_default();
    let reference = object.object_ref(&());

    if object.metadata.deletion_timestamp.is_some() {
        if !object.finalizers().iter().any(|f| f == FINALIZER) {
            return Ok(Action::await_change());
        }
        let tenancy = ctx.settings.tenancy.current();
        let (stack, _) = ctx
            .accounts
            .resolve(&namespace, &tenancy)
            .await
            .map_err(Error::from)?;
        let leftovers = Leftovers::read(
            &object.metadata,
            &spec,
            &status,
            &stack.services.settings.role_path,
        );
        let uid = object.metadata.uid.clone().unwrap_or_default();
        let claims = claims_except(ctx.objects.get(), &uid);
        let notes = delete_leftovers(
            &leftovers,
            stack.pinpoint.as_ref(),
            &stack.services,
            &claims,
        )
        .await?;
        for note in &notes {
            log_note(&name, note);
            emit_event(&reference, note, ctx).await;
        }
        let finalizers: Vec<&String> = object
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER)
            .collect();
        let patch = json!({ "metadata": { "resourceVersion": object.resource_version(), "finalizers": finalizers } });
        api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(Error::KubernetesError)?;
        return Ok(Action::await_change());
    }

    let error = Error::Unreadable(problem);
    let message = error.to_string();
    let ready = status
        .get("conditions")
        .and_then(|c| c.as_array())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(READY))
        });
    let already_said = ready.is_some_and(|c| {
        c.get("reason").and_then(|r| r.as_str()) == Some(error.reason())
            && c.get("message").and_then(|m| m.as_str()) == Some(message.as_str())
    });
    if !already_said {
        let now = Timestamp::now().to_string();
        let condition = |type_: &str, status: &str| {
            json!({
                "type": type_, "status": status, "reason": error.reason(), "message": message,
                "observedGeneration": object.metadata.generation, "lastTransitionTime": now,
            })
        };
        // A merge patch: it leaves the rest of the status (the configuration ID) alone.
        let patch = json!({ "status": {
            "observedGeneration": object.metadata.generation,
            "conditions": [
                condition(VALIDATED, "False"),
                condition(READY, "False"),
                condition(STALLED, "True"),
            ],
        }});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(Error::KubernetesError)?;
        emit_event(&reference, &Note::warning(error.reason(), message), ctx).await;
    }
    warn!(object = %name, error = %error, "cannot read the object; waiting for it to change");
    Ok(Action::await_change())
}
