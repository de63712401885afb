//! The limit: a minimal client that does only the unavoidable work per model (one Create and one
//! status patch; one Update and one status patch per edit), timed like the operator.

use std::{
    collections::BTreeMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, ensure};
use futures::StreamExt;
use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use recommender_operator::lock::lock;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    accounts::{Account, REGION, campaign_arn, role_arn},
    bench::Bench,
    edits::{Edit, edit_each},
    numbers::EditTimes,
    support,
    watch::{Tracker, synced_watch, wait_for},
    workload::{APPLY_PARALLELISM, GROUP, KIND, Spread, VERSION, apply_models},
};

/// Field manager of the limit's status patches.
const LIMIT_MANAGER: &str = "convergence-limit";

#[derive(Serialize, Debug)]
pub struct LimitResult {
    /// From the first apply to the last Ready, as the operator is timed.
    pub seconds: f64,
    /// The Creates and status patches alone, on models applied beforehand.
    pub work_seconds: f64,
    /// CPU seconds of etcd + kube-apiserver during the timed part.
    pub control_plane_cpu_s: f64,
    pub pinpoint_calls: BTreeMap<String, u64>,
    /// The same single edits: the Update and status patch alone after each apply.
    pub edit: EditTimes,
}

impl Bench {
    /// The limit, timed like the operator: from the first apply until the benchmark's watch sees
    /// the last model Ready. As each apply is answered, one of `concurrency` workers makes the
    /// model's one Create on a fresh emulator and its one status patch; nothing else. The same
    /// applies and the same watch run in both timings, so the ratio compares like with like.
    /// `work_seconds` also times the Creates and patches alone, on models applied beforehand.
    /// With the models spread over accounts, each account's are created with its own key.
    pub async fn limit_run(&self, n: usize, run: usize) -> Result<LimitResult> {
        let label = format!("bench-limit-{n}-{run}");
        let spread = self.spread(&label, n, &[]).await?;
        let (mut emulator, emulator_url) = self.start_emulator(&label, n)?;
        let (tracker, watch) = synced_watch(spread.tenants.iter().map(|t| &t.api)).await?;

        let clients = pinpoint_clients(&spread, &emulator_url);
        eprintln!(
            "limit: applying {n} models, each then created and patched at concurrency {}",
            self.concurrency
        );
        let plane_cpu0 = self.control_plane_cpu();
        let t0 = Instant::now();
        let (applied_tx, applied_rx) = futures::channel::mpsc::unbounded();
        let work = limit_each(applied_rx, &clients, &spread, self.concurrency);
        let deadline = Duration::from_secs(60) + Duration::from_millis(200 * n as u64);
        let (applied, done) = tokio::time::timeout(deadline, async {
            tokio::join!(
                apply_models(&spread, APPLY_PARALLELISM, Some(applied_tx)),
                work
            )
        })
        .await
        .map_err(|_| anyhow!("the limit did not finish {n} models in {deadline:?}"))?;
        applied?;
        let failures: Vec<String> = done
            .into_iter()
            .filter_map(|r| r.err().map(|e| format!("{e:#}")))
            .collect();
        ensure!(
            failures.is_empty(),
            "{} of {n} limit tasks failed, first: {}",
            failures.len(),
            failures[0]
        );
        wait_for(deadline, "the limit's models are all Ready", || {
            lock(&tracker).ready_at.len() >= n
        })
        .await?;
        let seconds = {
            let t = lock(&tracker);
            let last_ready = t.ready_at.values().max().copied().unwrap_or(t0);
            (last_ready - t0).as_secs_f64()
        };
        let control_plane_cpu_s = self.control_plane_cpu() - plane_cpu0;
        let pinpoint_calls = self.calls(&emulator_url).await?;
        // The same single edits: one Update and one status patch each, timed the same way.
        let edit_ms = edit_each(&spread, self.edits, &tracker, |edit| {
            let tenant = &spread.tenants[edit.tenant];
            limit_edit(
                &clients[edit.tenant],
                &tenant.api,
                tenant.account_id(),
                &tracker,
                edit,
            )
        })
        .await?;
        watch.abort();
        tokio::task::block_in_place(|| emulator.stop());
        eprintln!("limit: {seconds:.2} s");

        let work_seconds = self.limit_work_only(n, run).await?;
        Ok(LimitResult {
            seconds,
            edit: EditTimes::of(edit_ms),
            work_seconds,
            control_plane_cpu_s,
            pinpoint_calls,
        })
    }

    /// The Creates and status patches alone, `concurrency` at a time, on models applied
    /// beforehand (untimed) and with no watch running.
    async fn limit_work_only(&self, n: usize, run: usize) -> Result<f64> {
        let label = format!("bench-limit-work-{n}-{run}");
        let spread = self.spread(&label, n, &[]).await?;
        let (mut emulator, emulator_url) = self.start_emulator(&label, n)?;
        apply_models(&spread, APPLY_PARALLELISM, None).await?;
        let clients = pinpoint_clients(&spread, &emulator_url);
        let t0 = Instant::now();
        let results = limit_each(
            futures::stream::iter(0..spread.len()),
            &clients,
            &spread,
            self.concurrency,
        )
        .await;
        let seconds = t0.elapsed().as_secs_f64();
        tokio::task::block_in_place(|| emulator.stop());
        for result in results {
            result?;
        }
        eprintln!("limit, work only: {seconds:.2} s");
        Ok(seconds)
    }
}

/// The limit's work for each model (an index into `spread.models`) the stream yields,
/// `concurrency` at a time; `clients` holds one Pinpoint client per tenant.
async fn limit_each(
    models: impl futures::Stream<Item = usize>,
    clients: &[aws_sdk_pinpoint::Client],
    spread: &Spread,
    concurrency: usize,
) -> Vec<Result<()>> {
    models
        .map(|index| async move {
            let placed = &spread.models[index];
            let tenant = spread.tenant(placed);
            limit_one(
                &clients[placed.tenant],
                &tenant.api,
                &placed.name,
                tenant.account_id(),
            )
            .await
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// A Pinpoint client for each tenant of `spread`, on the emulator at `url`.
fn pinpoint_clients(spread: &Spread, url: &str) -> Vec<aws_sdk_pinpoint::Client> {
    spread
        .tenants
        .iter()
        .map(|t| pinpoint_client(url, t.account.as_ref()))
        .collect()
}

/// A Pinpoint SDK client for the emulator at `url`, signing with `account`'s key (the default
/// account's `test`/`test` when `None`).
fn pinpoint_client(url: &str, account: Option<&Account>) -> aws_sdk_pinpoint::Client {
    let sdk = support::emulator::sdk_config(1);
    let mut config = aws_sdk_pinpoint::config::Builder::from(&sdk).endpoint_url(url);
    if let Some(account) = account {
        config = config.credentials_provider(aws_sdk_pinpoint::config::Credentials::new(
            &account.key,
            &account.secret,
            None,
            None,
            "convergence-bench",
        ));
    }
    aws_sdk_pinpoint::Client::from_conf(config.build())
}

async fn limit_one(
    pinpoint: &aws_sdk_pinpoint::Client,
    api: &Api<DynamicObject>,
    name: &str,
    account: &str,
) -> Result<()> {
    use aws_sdk_pinpoint::types::CreateRecommenderConfigurationShape;
    let shape = CreateRecommenderConfigurationShape::builder()
        .name(name)
        .description("Weekly picks")
        .recommendation_provider_uri(campaign_arn(account))
        .recommendation_provider_role_arn(role_arn(account))
        .recommendation_provider_id_type("PINPOINT_ENDPOINT_ID")
        .recommendations_display_name("Top movies")
        .recommendations_per_message(3)
        .build();
    let output = pinpoint
        .create_recommender_configuration()
        .create_recommender_configuration(shape)
        .send()
        .await
        .with_context(|| format!("create the configuration of {name}"))?;
    let published = output
        .recommender_configuration_response()
        .ok_or_else(|| anyhow!("Create returned no configuration for {name}"))?;
    let status = limit_status(
        published.id().unwrap_or_default(),
        1,
        account,
        published.creation_date(),
        published.last_modified_date(),
    );
    api.patch_status(
        name,
        &PatchParams::apply(LIMIT_MANAGER).force(),
        &Patch::Apply(&status),
    )
    .await
    .with_context(|| format!("patch the status of {name}"))?;
    Ok(())
}

/// The limit's edit: the one Update and the one status patch an edit needs, nothing else.
async fn limit_edit(
    pinpoint: &aws_sdk_pinpoint::Client,
    api: &Api<DynamicObject>,
    account: &str,
    tracker: &Mutex<Tracker>,
    edit: Edit,
) -> Result<()> {
    use aws_sdk_pinpoint::types::UpdateRecommenderConfigurationShape;
    let id = lock(tracker)
        .ids
        .get(&edit.name)
        .cloned()
        .ok_or_else(|| anyhow!("no configuration ID seen for {}", edit.name))?;
    let shape = UpdateRecommenderConfigurationShape::builder()
        .name(&edit.name)
        .description(&edit.description)
        .recommendation_provider_uri(campaign_arn(account))
        .recommendation_provider_role_arn(role_arn(account))
        .recommendation_provider_id_type("PINPOINT_ENDPOINT_ID")
        .recommendations_display_name("Top movies")
        .recommendations_per_message(3)
        .build();
    let output = pinpoint
        .update_recommender_configuration()
        .recommender_id(&id)
        .update_recommender_configuration(shape)
        .send()
        .await
        .with_context(|| format!("update the configuration of {}", edit.name))?;
    let published = output
        .recommender_configuration_response()
        .ok_or_else(|| anyhow!("Update returned no configuration for {}", edit.name))?;
    let status = limit_status(
        &id,
        edit.generation,
        account,
        published.creation_date(),
        published.last_modified_date(),
    );
    api.patch_status(
        &edit.name,
        &PatchParams::apply(LIMIT_MANAGER).force(),
        &Patch::Apply(&status),
    )
    .await
    .with_context(|| format!("patch the status of {}", edit.name))?;
    Ok(())
}

/// The status the limit writes: what the operator's says of a published model.
fn limit_status(
    id: &str,
    generation: i64,
    account: &str,
    creation_date: Option<&str>,
    last_modified_date: Option<&str>,
) -> Value {
    let now = Time(Timestamp::now());
    let condition = |type_: &str, reason: &str, message: String| Condition {
        type_: type_.to_owned(),
        status: "True".to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: Some(generation),
        last_transition_time: now.clone(),
    };
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": KIND,
        "status": {
            "observedGeneration": generation,
            "configurationId": id,
            "region": REGION,
            "roleArn": role_arn(account),
            "creationDate": creation_date,
            "lastModifiedDate": last_modified_date,
            "conditions": [
                condition("Validated", "Valid", "the spec passed every check".into()),
                condition(
                    "Published",
                    "Published",
                    format!("recommender configuration {id} is published in {REGION}"),
                ),
                condition(
                    "Ready",
                    "Ready",
                    "the recommender model is ready to use in messages".into(),
                ),
            ],
        },
    })
}
