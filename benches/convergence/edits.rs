//! Single edits, one at a time with every model Ready and idle, each timed from its apply until
//! the benchmark's watch sees the model Ready at the new generation.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use kube::api::{Patch, PatchParams};
use recommender_operator::lock::lock;
use serde_json::json;

use crate::{
    watch::{Tracker, wait_for},
    workload::{BENCH_MANAGER, Spread},
};

/// One single edit: the model (its tenant, an index into `Spread::tenants`), its new generation
/// and description.
pub struct Edit {
    pub tenant: usize,
    pub name: String,
    pub generation: i64,
    pub description: String,
}

/// `count` single edits one at a time, spread over the run's models and accounts: each applies a new
/// description, runs `work` (nothing for the operator, which does its own; the limit's Update and
/// status patch), and is timed from the apply until the watch sees the model Ready at the new
/// generation.
pub async fn edit_each<F, Fut>(
    spread: &Spread,
    count: usize,
    tracker: &Mutex<Tracker>,
    work: F,
) -> Result<Vec<f64>>
where
    F: Fn(Edit) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let params = PatchParams::apply(BENCH_MANAGER);
    let mut times = Vec::new();
    let models = &spread.models;
    let count = count.min(models.len());
    let tenants = spread.tenants.len();
    for k in 0..count {
        // Evenly spaced over the models, and one account after another when they are spread
        // (the models are dealt round-robin, so even spacing alone may land in one account).
        let placed = &models[(k * models.len() / count + k % tenants) % models.len()];
        let name = &placed.name;
        let description = format!("Edited picks {k}");
        let mut object = spread.object(placed);
        object["spec"]["description"] = json!(description);
        let start = Instant::now();
        let applied = spread
            .tenant(placed)
            .api
            .patch(name, &params, &Patch::Apply(&object))
            .await
            .with_context(|| format!("edit {name}"))?;
        let generation = applied.metadata.generation.unwrap_or(0);
        work(Edit {
            tenant: placed.tenant,
            name: name.clone(),
            generation,
            description,
        })
        .await?;
        let mut seen = None;
        wait_for(
            Duration::from_secs(120),
            &format!("{name} is Ready at generation {generation}"),
            || {
                seen = lock(tracker)
                    .ready_generation
                    .get(name)
                    .filter(|(g, _)| *g >= generation)
                    .map(|(_, at)| *at);
                seen.is_some()
            },
        )
        .await?;
        let ready = seen.unwrap_or_else(Instant::now);
        times.push(ready.saturating_duration_since(start).as_secs_f64() * 1000.0);
    }
    Ok(times)
}
