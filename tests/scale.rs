//! Many models, a throttling or absent Pinpoint, and a full account, against a real API server.
//! A test binary of its own, so its load does not slow the other end-to-end tests.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    cluster::{text, wait_until},
    env::TestEnv,
    table::cases,
};

fn models(count: usize, prefix: &str) -> Vec<Value> {
    let base = cases()
        .into_iter()
        .find(|c| c.name == "model value, every field set")
        .expect("table case")
        .object;
    (0..count)
        .map(|i| {
            let mut m = base.clone();
            let name = format!("{prefix}-{i:03}");
            m["metadata"]["name"] = json!(name);
            m["spec"]["name"] = json!(name);
            m
        })
        .collect()
}

fn apply_all(env: &TestEnv, items: &[Value]) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    let out = env.plane.kubectl_stdin(
        &["-n", &env.namespace, "apply", "--server-side", "-f", "-"],
        &list.to_string(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Names of the models whose Ready condition has `reason`.
fn with_reason(env: &TestEnv, reason: &str) -> Vec<String> {
    let list = env
        .plane
        .get_json(&["-n", &env.namespace, "recommendermodels"]);
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            m["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["reason"] == reason)
            })
        })
        .filter_map(|m| m["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

fn wait_all_ready(env: &TestEnv, timeout: &str) {
    let out = env.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "recommendermodel",
        "--all",
        &format!("--timeout={timeout}"),
    ]);
    assert!(out.status.success(), "not all Ready: {}", text(&out.stderr));
}

#[test]
fn five_hundred_models_reach_ready_while_half_of_all_calls_are_throttled() {
    const N: usize = 500;
    let env = TestEnv::with_emulator_args("throttled", &["--max-configurations=1000"]);
    env.fault(json!({"operation": "*", "status": 429, "every": 2, "message": "Rate exceeded"}));
    let mut operator = env.spawn_operator(&[
        "--concurrency=16",
        "--pinpoint-rate=1000",
        "--pinpoint-burst=1000",
    ]);
    operator.wait_for_log("controller started", Duration::from_secs(60));
    let start = Instant::now();
    apply_all(&env, &models(N, "m"));
    wait_all_ready(&env, "900s");
    let elapsed = start.elapsed();

    assert_eq!(
        env.configurations().len(),
        N,
        "one configuration per model, no duplicates"
    );
    let operations = [
        "CreateRecommenderConfiguration",
        "GetRecommenderConfiguration",
        "GetRecommenderConfigurations",
        "UpdateRecommenderConfiguration",
    ];
    let calls: Vec<(&str, u64)> = operations.iter().map(|op| (*op, env.calls(op))).collect();
    let total: u64 = calls.iter().map(|(_, n)| n).sum();
    let per_model = total as f64 / N as f64;
    eprintln!(
        "{N} models Ready in {elapsed:?} with half of all calls throttled; Pinpoint calls per model: {per_model:.2} ({calls:?})"
    );
    assert!(
        per_model <= 8.0,
        "Pinpoint calls per model are bounded: {per_model:.2}"
    );
    assert_eq!(env.calls("UpdateRecommenderConfiguration"), 0);
}

#[test]
fn a_minute_long_outage_shows_and_heals_without_a_restart() {
    let env = TestEnv::without_operator("outage");
    let mut operator = env.spawn_operator(&[]);
    operator.wait_for_log("controller started", Duration::from_secs(60));
    // Pinpoint goes away: every connection to it breaks (IAM, Personalize and Lambda stay).
    let outage = Instant::now();
    for operation in [
        "CreateRecommenderConfiguration",
        "GetRecommenderConfiguration",
        "GetRecommenderConfigurations",
        "UpdateRecommenderConfiguration",
        "DeleteRecommenderConfiguration",
    ] {
        env.fault(json!({"operation": operation, "drop": true}));
    }
    apply_all(&env, &models(5, "o"));
    wait_until(
        Duration::from_secs(120),
        "every model shows PinpointUnavailable",
        || with_reason(&env, "PinpointUnavailable").len() == 5,
    );
    // The outage lasts a minute (this wait is the scenario, not a synchronisation).
    std::thread::sleep(Duration::from_secs(60).saturating_sub(outage.elapsed()));
    env.clear_faults();
    wait_all_ready(&env, "300s");
    assert_eq!(env.configurations().len(), 5);
    assert!(operator.is_running(), "recovered without a restart");
}

#[test]
fn the_101st_configuration_waits_for_a_free_slot() {
    let env = TestEnv::with_emulator_args("quota", &[]);
    let mut operator = env.spawn_operator(&[
        "--concurrency=16",
        "--pinpoint-rate=1000",
        "--pinpoint-burst=1000",
    ]);
    operator.wait_for_log("controller started", Duration::from_secs(60));
    apply_all(&env, &models(101, "q"));
    wait_until(
        Duration::from_secs(600),
        "100 are Ready and one waits for quota",
        || with_reason(&env, "Ready").len() == 100 && with_reason(&env, "QuotaExceeded").len() == 1,
    );
    let waiting = with_reason(&env, "QuotaExceeded").remove(0);
    let ready = with_reason(&env, "Ready").remove(0);
    let message = env.model(&waiting)["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready").cloned())
        .map(|c| c["message"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert!(
        message.contains("100 recommender configurations"),
        "{message}"
    );

    env.kubectl_ok(&["delete", "recmodel", &ready, "--timeout=120s"]);
    env.wait_condition(&waiting, "Ready", 300);
    assert_eq!(env.configurations().len(), 100);
}

#[test]
fn a_resync_reads_each_region_by_listing_and_still_finds_drift_and_deletion() {
    const N: usize = 30;
    const GET: &str = "GetRecommenderConfiguration";
    const LIST: &str = "GetRecommenderConfigurations";
    let resync = Duration::from_secs(4);
    let env = TestEnv::without_operator("resync-list");
    let mut operator = env.spawn_operator(&[&format!("--resync={}s", resync.as_secs())]);
    operator.wait_for_log("controller started", Duration::from_secs(60));
    apply_all(&env, &models(N, "r"));
    wait_all_ready(&env, "300s");

    // Every model resyncs twice more; its reads come from lists of the Region, not one each.
    let (gets, lists) = (env.calls(GET), env.calls(LIST));
    let reconciled = |log: String| log.matches("reconciled object=").count();
    let before = reconciled(operator.output());
    let start = Instant::now();
    wait_until(
        Duration::from_secs(180),
        "every model resynced twice",
        || reconciled(operator.output()) >= before + 2 * N,
    );
    let periods = (start.elapsed().as_secs_f64() / resync.as_secs_f64()).ceil();
    let (new_gets, new_lists) = (env.calls(GET) - gets, env.calls(LIST) - lists);
    eprintln!(
        "{N} models over {periods} resync periods: {new_lists} lists, {new_gets} single reads"
    );
    assert_eq!(new_gets, 0, "no per-model read at resync");
    assert!(new_lists >= 1, "the resync did read Pinpoint");
    assert!(
        new_lists as f64 <= 2.0 * periods + 1.0,
        "at most two lists per resync period: {new_lists} in {periods}"
    );

    // A change and a deletion made outside the operator are still found and put back.
    let id_of = |name: &str| {
        env.model(name)["status"]["configurationId"]
            .as_str()
            .map(str::to_owned)
            .expect("an ID")
    };
    let (edited_id, deleted_id) = (id_of("r-001"), id_of("r-002"));
    env.edit_outside(&edited_id, |c| {
        c.display_name = Some("Edited by hand".into())
    });
    env.delete_outside(&deleted_id);
    env.wait_reason("r-001", "Published", "DriftCorrected", 60);
    env.wait_reason("r-002", "Published", "Recreated", 60);
    assert_eq!(env.configurations().len(), N);
}
