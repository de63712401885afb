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
    time::{Duration, Instant},
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
use tokio::sync::{Semaphore, broadcast};
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
        let n = failures.entry(key.clone()).or_insert(0);
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
    ctx.metrics.workqueue.retry(&key, Instant::now() + delay);
    // Outside the reconcile span: name the model here, as controller-runtime's "Reconciler error" does.
    warn!(
        namespace = model.metadata.namespace.as_deref().unwrap_or_default(),
        name = model.metadata.name.as_deref().unwrap_or_default(),
        error = %error,
        reason = error.reason(),
        attempt,
        retry_in = ?delay,
        "reconcile failed"
    );
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

/// Runs the controller until SIGTERM or Ctrl-C: one watch per namespace in `--namespace` (or one
/// for all), each with its own store, and every model reconciled again whenever `reloads` fires
/// (the tenancy settings changed). The stores are shared through the context, so the claims
/// check sees every watched namespace; a semaphore keeps `--concurrency` across all of them.
pub async fn run(ctx: Arc<Context>, reloads: broadcast::Sender<()>) -> anyhow::Result<()> {
    let apis: Vec<Api<CachedModel>> = if ctx.settings.namespaces.is_empty() {
        vec![Api::all(ctx.client.clone())]
    } else {
        ctx.settings
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(ctx.client.clone(), ns))
            .collect()
    };
    // Fail fast with a clear message when the CRD is missing or RBAC forbids listing.
    for api in &apis {
        api.list(&kube::api::ListParams::default().limit(1)).await.map_err(|e| {
            anyhow::anyhow!("cannot list RecommenderModels ({e}); is the CRD installed (kubectl apply -f crds/) and may the operator list them in every watched namespace?")
        })?;
    }
    ctx.metrics.set_ready(true);

    let writers: Vec<_> = apis
        .iter()
        .map(|_| reflector::store::Writer::default())
        .collect();
    let _ = ctx.objects.set(
        writers
            .iter()
            .map(reflector::store::Writer::as_reader)
            .collect(),
    );
    let permits = Arc::new(Semaphore::new(usize::from(ctx.settings.concurrency)));
    info!(namespaces = ?ctx.settings.namespaces, concurrency = ctx.settings.concurrency, "controller started");
    let watches = apis.into_iter().zip(writers).map(|(api, writer)| {
        watch(
            api,
            writer,
            ctx.clone(),
            reloads.subscribe(),
            permits.clone(),
        )
    });
    futures::future::join_all(watches).await;
    info!("controller stopped");
    Ok(())
}

/// One watch and its reconcile loop.
async fn watch(
    api: Api<CachedModel>,
    writer: reflector::store::Writer<CachedModel>,
    ctx: Arc<Context>,
    reloads: broadcast::Receiver<()>,
    permits: Arc<Semaphore>,
) {
    let reader = writer.as_reader();
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .inspect_ok({
            let (reader, ctx) = (reader.clone(), ctx.clone());
            move |event| {
                note_arrival(event, &reader, &ctx.create_once);
                if let watcher::Event::Delete(model) = event {
                    ctx.metrics.workqueue.forget(&ObjectRef::from_obj(model));
                }
            }
        })
        .reflect(writer)
        .applied_objects()
        .predicate_filter(relevant_change, PredicateConfig::default())
        .inspect_ok({
            let ctx = ctx.clone();
            move |model| {
                ctx.metrics
                    .workqueue
                    .add(&ObjectRef::from_obj(model), Instant::now());
            }
        });
    // Each reload queues every model the store holds.
    let reload_all = futures::stream::unfold(reloads, |mut rx| async move {
        // A missed reload (lagged) still means "reconcile everything"; a closed channel, never again.
        match rx.recv().await {
            Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => Some(((), rx)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
    .inspect({
        let (reader, ctx) = (reader.clone(), ctx.clone());
        move |()| {
            let now = Instant::now();
            for model in reader.state() {
                ctx.metrics
                    .workqueue
                    .add(&ObjectRef::from_obj(&*model), now);
            }
        }
    });
    let config = ControllerConfig::default().concurrency(ctx.settings.concurrency);
    Controller::for_stream_with(stream, reader, ())
        .with_config(config)
        .reconcile_all_on(reload_all)
        .shutdown_on_signal()
        .run(
            move |model, ctx: Arc<Context>| {
                let key = ObjectRef::from_obj(&*model);
                // controller-runtime's reconcile log fields, so log queries written for other
                // operators work here too.
                let span = info_span!(
                    "reconcile",
                    object = %key,
                    namespace = key.namespace.as_deref(),
                    name = %key.name,
                    reconcileID = %uuid::Uuid::new_v4(),
                    reason = field::Empty,
                    otel.status_code = field::Empty,
                );
                let permits = permits.clone();
                async move {
                    let _permit = permits.acquire().await;
                    ctx.metrics.workqueue.started(&key);
                    let result = reconcile(model, ctx.clone()).await;
                    ctx.metrics.workqueue.finished(&key);
                    match &result {
                        Ok(action) => {
                            lock(&ctx.failures).remove(&key);
                            ctx.metrics.reconcile_success();
                            // The only requeue a success asks for is the resync.
                            if *action == Action::requeue(ctx.settings.resync) {
                                ctx.metrics
                                    .workqueue
                                    .add(&key, Instant::now() + ctx.settings.resync);
                            }
                        }
                        Err(e) => {
                            let span = tracing::Span::current();
                            span.record("reason", e.reason());
                            span.record("otel.status_code", "ERROR");
                        }
                    }
                    result
                }
                .instrument(span)
            },
            error_policy,
            ctx,
        )
        .for_each(|result| {
            match result {
                Ok((object, _)) => tracing::debug!(%object, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile failed"),
            }
            futures::future::ready(())
        })
        .await;
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
