//! One reconcile: the finalizer's apply (run the pipeline, patch the status) and cleanup (delete
//! what the model left), with the create-once protocol around the pipeline.

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        controller::Action,
        finalizer::{Error as FinalizerError, Event as FinalizerEvent, finalizer},
    },
};
use serde_json::json;

use crate::{
    api::{FINALIZER, RecommenderModel, RecommenderModelStatus},
    controller::{
        cached::CachedModel,
        context::{Context, MANAGER, claims_except},
        create_once::add_finalizer,
        events::emit_notes,
        unreadable::unreadable,
    },
    domain::conditions::{ConditionUpdate, READY, set_conditions},
    pipeline::{
        Guards,
        deletion::{Leftovers, delete_leftovers},
        error::{Error, Note},
        sync,
    },
};

pub async fn reconcile(object: Arc<CachedModel>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Objects are cached as raw JSON, so one that this version cannot read (written under an
    // older schema, say) is reported on itself instead of stopping the watch for all.
    let model = match object.decode() {
        Ok(model) => Arc::new(model),
        Err(problem) => return unreadable(&object, problem, &ctx).await,
    };
    reconcile_model(model, ctx).await
}

async fn reconcile_model(model: Arc<RecommenderModel>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_timer();
    let namespace = model.namespace().unwrap_or_default();
    let api: Api<RecommenderModel> = Api::namespaced(ctx.client.clone(), &namespace);
    // Our own writes answer with the whole object; read back in the cached form, which skips
    // the managed fields instead of parsing them.
    let writes: Api<CachedModel> = Api::namespaced(ctx.client.clone(), &namespace);
    if model.metadata.deletion_timestamp.is_none()
        && !model.finalizers().iter().any(|f| f == FINALIZER)
    {
        // First sight: the finalizer and the create marker in one write, before any Create.
        if add_finalizer(&writes, &model).await? {
            ctx.create_once.mark_fresh(&model.uid().unwrap_or_default());
        }
        return Ok(Action::await_change());
    }
    finalizer(&api, FINALIZER, model, |event| async {
        match event {
            FinalizerEvent::Apply(model) => apply(&model, &writes, &ctx).await,
            FinalizerEvent::Cleanup(model) => cleanup(&model, &writes, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        FinalizerError::ApplyFailed(e) | FinalizerError::CleanupFailed(e) => e,
        FinalizerError::AddFinalizer(e) | FinalizerError::RemoveFinalizer(e) => {
            Error::KubernetesError(e)
        }
        other => Error::FinalizerError(other.to_string()),
    })
}

async fn apply(
    model: &RecommenderModel,
    api: &Api<CachedModel>,
    ctx: &Context,
) -> Result<Action, Error> {
    let uid = model.uid().unwrap_or_default();
    let mut model = model.clone();
    let has_id = model
        .status
        .as_ref()
        .is_some_and(|s| s.configuration_id.is_some());
    if !has_id && let Some((region, id)) = ctx.create_once.unrecorded(&uid) {
        let status = model.status.get_or_insert_with(Default::default);
        status.configuration_id = Some(id);
        status.region = Some(region);
    }
    let fresh = ctx.create_once.prepare(&mut model, &uid, has_id);

    let claims = claims_except(ctx.objects.get(), &uid);
    let tenancy = ctx.settings.tenancy.current();
    let namespace = model.namespace().unwrap_or_default();
    // An account that cannot be used is reported by the pipeline, after the spec's own
    // problems; nothing is called in any account.
    let (stack, target) = match ctx.accounts.resolve(&namespace, &tenancy).await {
        Ok((stack, id)) => (stack, Ok(id)),
        Err(refusal) => (ctx.accounts.own().clone(), Err(refusal)),
    };
    let guards = Guards {
        claims: &claims,
        tenancy: &tenancy,
        account: &stack.services,
        target,
    };
    let outcome = sync(&model, stack.pinpoint.as_ref(), Timestamp::now(), &guards).await;
    // A refused Create (throttled, rejected, denied, over quota) made nothing; only an unknown
    // outcome (5xx, timeout, broken connection) may have, and needs the look-up next time.
    let outcome_unknown = matches!(
        outcome.result,
        Err(Error::PinpointUnavailable(_) | Error::KubernetesError(_))
    );
    if fresh && outcome.status.configuration_id.is_none() && !outcome_unknown {
        ctx.create_once.mark_fresh(&uid);
    }
    emit_notes(&model, &outcome.notes, ctx).await;
    if outcome.status.configuration_id.is_some() && !has_id {
        ctx.create_once.remember_unrecorded(
            &uid,
            outcome.status.region.clone().unwrap_or_default(),
            outcome.status.configuration_id.clone().unwrap_or_default(),
        );
    }
    if model.status.as_ref() != Some(&outcome.status) {
        patch_status(api, &model.name_any(), &outcome.status).await?;
    }
    ctx.create_once.recorded(&uid);
    ctx.metrics.observe_ready(&model, &outcome.status);

    match outcome.result {
        Ok(()) => Ok(Action::requeue(ctx.settings.resync)),
        Err(e) if e.waits_for_change() => Ok(Action::await_change()),
        Err(e) => Err(e),
    }
}

async fn cleanup(
    model: &RecommenderModel,
    api: &Api<CachedModel>,
    ctx: &Context,
) -> Result<Action, Error> {
    let uid = model.uid().unwrap_or_default();
    // Deleted in the account the namespace is bound to now; one it cannot reach holds the
    // finalizer (with the reason) until it can.
    let tenancy = ctx.settings.tenancy.current();
    let namespace = model.namespace().unwrap_or_default();
    let resolved = ctx
        .accounts
        .resolve(&namespace, &tenancy)
        .await
        .map_err(Error::from);
    let stack = match resolved {
        Ok((stack, _)) => stack,
        Err(e) => return report_cleanup_failure(model, api, e, ctx).await,
    };
    let mut leftovers = Leftovers::of(model, &stack.services.settings.role_path);
    if leftovers.recorded.is_none() {
        leftovers.recorded = ctx.create_once.unrecorded(&uid);
    }
    if ctx.create_once.is_fresh(&uid) {
        // Seen arriving by this process, which has sent it no Create.
        leftovers.unrecorded = None;
    }
    let claims = claims_except(ctx.objects.get(), &uid);
    let deleted = delete_leftovers(
        &leftovers,
        stack.pinpoint.as_ref(),
        &stack.services,
        &claims,
    );
    match deleted.await {
        Ok(notes) => {
            emit_notes(model, &notes, ctx).await;
            // Deleted before its first Create was tried: the entry would outlive the object.
            ctx.create_once.forget(&uid);
            ctx.metrics.forget(model);
            Ok(Action::await_change())
        }
        Err(e) => report_cleanup_failure(model, api, e, ctx).await,
    }
}

/// Says why deletion is held up; the finalizer stays until it can go on.
async fn report_cleanup_failure(
    model: &RecommenderModel,
    api: &Api<CachedModel>,
    e: Error,
    ctx: &Context,
) -> Result<Action, Error> {
    let mut status = model.status.clone().unwrap_or_default();
    let ready = ConditionUpdate::new(READY, false, e.reason(), format!("deleting failed: {e}"));
    let [reconciling, stalled] = e.progress_conditions("deleting");
    status.conditions = set_conditions(
        &status.conditions,
        &[ready, reconciling, stalled],
        model.metadata.generation,
        Timestamp::now(),
    );
    if model.status.as_ref() != Some(&status) {
        patch_status(api, &model.name_any(), &status).await?;
    }
    emit_notes(
        model,
        &[Note::warning(e.reason(), format!("deleting failed: {e}"))],
        ctx,
    )
    .await;
    Err(e)
}

async fn patch_status(
    api: &Api<CachedModel>,
    name: &str,
    status: &RecommenderModelStatus,
) -> Result<(), Error> {
    let patch = json!({
        "apiVersion": RecommenderModel::api_version(&()),
        "kind": RecommenderModel::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::KubernetesError)?;
    Ok(())
}
