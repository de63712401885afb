//! The Kubernetes controller: the watch, the reconcile loop with its backoff, and what it shares.
//! One reconcile is `reconcile`; the pipeline it runs has no Kubernetes in it (`pipeline`).

pub mod cached;
pub mod context;
pub mod create_once;
pub mod events;
pub mod reconcile;
pub mod unreadable;

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
    time::Duration,
};

use futures::{StreamExt, TryStreamExt};
use kube::{
    Api,
    runtime::{
        Controller, PredicateConfig, WatchStreamExt,
        controller::{Action, Config as ControllerConfig},
        reflector::{self, ObjectRef},
        watcher,
    },
};
use tracing::{Instrument, field, info, info_span, warn};

use crate::{
    controller::{
        cached::CachedModel, context::Context, create_once::note_arrival, reconcile::reconcile,
    },
    lock::lock,
    pipeline::error::Error,
};

fn error_policy(model: Arc<CachedModel>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = ObjectRef::from_obj(&*model);
    let attempt = {
        let mut failures = lock(&ctx.failures);
        let n = failures.entry(key).or_insert(0);
        *n += 1;
        *n
    };
    ctx.metrics.reconcile_failure(error.reason());
    // Throttling passes quickly, and the client-side rate limit already spaces calls out: retry
    // it within half a minute rather than letting the backoff grow to minutes.
    let cap = match error {
        Error::Throttled(_) => Duration::from_secs(30),
        _ => Duration::from_secs(300),
    };
    let delay = backoff(attempt, cap);
    warn!(error = %error, reason = error.reason(), attempt, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// Exponential backoff from 1 s up to `cap`, with ±20% jitter so retries of many objects spread
/// out.
pub fn backoff(attempt: u32, cap: Duration) -> Duration {
    let base = Duration::from_secs(1).saturating_mul(1 << attempt.saturating_sub(1).min(9));
    let capped = base.min(cap);
    capped.mul_f64(rand::random_range(0.8..1.2))
}

/// Reconcile only when something the reconciler acts on changed: the spec (generation), the
/// deletion mark, or the finalizers. Our own status writes do not come back as work.
fn relevant_change(model: &CachedModel) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    model.metadata.generation.hash(&mut hasher);
    model
        .metadata
        .deletion_timestamp
        .is_some()
        .hash(&mut hasher);
    model.metadata.finalizers.hash(&mut hasher);
    Some(hasher.finish())
}

/// Runs the controller until SIGTERM or Ctrl-C.
pub async fn run(ctx: Arc<Context>) -> anyhow::Result<()> {
    let api: Api<CachedModel> = match &ctx.settings.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    // Fail fast with a clear message when the CRD is missing or RBAC forbids listing.
    api.list(&kube::api::ListParams::default().limit(1)).await.map_err(|e| {
        anyhow::anyhow!("cannot list RecommenderModels ({e}); is the CRD installed (kubectl apply -f crds/) and may the operator list them?")
    })?;
    ctx.metrics.set_ready(true);

    let writer = reflector::store::Writer::default();
    let reader = writer.as_reader();
    let _ = ctx.objects.set(reader.clone());
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .inspect_ok({
            let (reader, ctx) = (reader.clone(), ctx.clone());
            move |event| note_arrival(event, &reader, &ctx.create_once)
        })
        .reflect(writer)
        .applied_objects()
        .predicate_filter(relevant_change, PredicateConfig::default());
    let config = ControllerConfig::default().concurrency(ctx.settings.concurrency);
    info!(namespace = ?ctx.settings.namespace, concurrency = ctx.settings.concurrency, "controller started");
    Controller::for_stream_with(stream, reader, ())
        .with_config(config)
        .shutdown_on_signal()
        .run(
            move |model, ctx: Arc<Context>| {
                let key = ObjectRef::from_obj(&*model);
                let span = info_span!("reconcile", object = %key, reason = field::Empty);
                async move {
                    let result = reconcile(model, ctx.clone()).await;
                    match &result {
                        Ok(_) => {
                            lock(&ctx.failures).remove(&key);
                            ctx.metrics.reconcile_success();
                        }
                        Err(e) => {
                            tracing::Span::current().record("reason", e.reason());
                        }
                    }
                    result
                }
                .instrument(span)
            },
            error_policy,
            ctx.clone(),
        )
        .for_each(|result| {
            match result {
                Ok((object, _)) => tracing::debug!(%object, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile failed"),
            }
            futures::future::ready(())
        })
        .await;
    info!("controller stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let cap = Duration::from_secs(300);
        for (attempt, base) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (9, 256.0),
            (10, 300.0),
            (50, 300.0),
        ] {
            let d = backoff(attempt, cap).as_secs_f64();
            assert!(d >= base * 0.8 && d <= base * 1.2, "attempt {attempt}: {d}");
        }
        assert!(backoff(20, Duration::from_secs(30)) <= Duration::from_secs(36));
    }
}
