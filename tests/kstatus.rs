//! What Flux, kpt and other rollout tools see: every model judged by kstatus's own code
//! (`sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute`, built by `scripts/tools.sh` from
//! `scripts/kstatus`) as the real API server serves it, while the real operator works on it.

mod support;

use std::{process::Command, time::Duration};

use serde_json::{Value, json};
use support::{
    cluster::{text, tool, wait_until, with_stdin},
    env::TestEnv,
    table::{cases, named},
};

const VALID: &str = "model value, every field set";
const WAIT: Duration = Duration::from_secs(120);

/// kstatus's verdict on one model: its status (`Current`, `InProgress`, `Failed`, `Terminating`,
/// `NotFound`) and message.
fn kstatus(env: &TestEnv, name: &str) -> (String, String) {
    let out = env.kubectl(&["get", "recommendermodel", name, "-o", "json"]);
    if !out.status.success() && text(&out.stderr).contains("NotFound") {
        return ("NotFound".into(), String::new());
    }
    let object = text(&out.stdout);
    let judged = with_stdin(&mut Command::new(tool("kstatus")), &object);
    assert!(
        judged.status.success(),
        "kstatus failed:\n{}",
        text(&judged.stderr)
    );
    let line: Value =
        serde_json::from_str(text(&judged.stdout).trim()).expect("kstatus prints JSON");
    let field = |k: &str| line[k].as_str().unwrap_or_default().to_owned();
    (field("status"), field("message"))
}

/// Waits until kstatus says `want` of the model, with a message that contains `needle`.
fn wait_for(env: &TestEnv, name: &str, want: &str, needle: &str) -> String {
    let mut last = (String::new(), String::new());
    wait_until(
        WAIT,
        &format!("kstatus says {want} ({needle}) of {name}"),
        || {
            last = kstatus(env, name);
            last.0 == want && last.1.contains(needle)
        },
    );
    last.1
}

#[test]
fn a_new_model_is_in_progress_from_its_first_moment_then_current() {
    let mut env = TestEnv::without_operator("kstatus-new");
    env.apply_ok(&named("movie-recs", VALID));
    // No operator has seen it yet: the CRD's default status says generation 0 was observed.
    let (status, message) = kstatus(&env, "movie-recs");
    assert_eq!(status, "InProgress", "{message}");
    assert_eq!(env.model("movie-recs")["status"]["observedGeneration"], 0);

    env.start_operator();
    wait_for(&env, "movie-recs", "Current", "");
    let object = env.model("movie-recs");
    let types: Vec<&str> = object["status"]["conditions"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(types, ["Validated", "Published", "Ready"], "{object:#}");

    // An edit is in progress until the operator has published it.
    env.kubectl_ok(&[
        "patch",
        "recommendermodel",
        "movie-recs",
        "--type=merge",
        "-p",
        r#"{"spec":{"description":"Second take"}}"#,
    ]);
    wait_for(&env, "movie-recs", "Current", "");
    assert_eq!(
        env.model("movie-recs")["status"]["observedGeneration"],
        env.model("movie-recs")["metadata"]["generation"]
    );
}

#[test]
fn an_invalid_model_fails_at_once_with_its_reason_and_field() {
    let env = TestEnv::new("kstatus-invalid");
    let case = cases()
        .into_iter()
        .find(|c| !c.is_valid() && c.cel_errors.is_empty())
        .expect("a controller-only case");
    let mut object = case.object.clone();
    object["metadata"]["name"] = json!("doomed");
    env.apply_ok(&object);
    let message = wait_for(&env, "doomed", "Failed", "InvalidSpec");
    for field in &case.errors {
        assert!(message.contains(field.as_str()), "{field} not in {message}");
    }
    let stalled = &env.model("doomed")["status"]["conditions"];
    assert!(
        stalled
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Stalled"
                && c["status"] == "True"
                && c["reason"] == "InvalidSpec")),
        "{stalled:#}"
    );
    assert!(env.configurations().is_empty());
}

#[test]
fn a_throttled_model_is_in_progress_and_current_once_throttling_stops() {
    let env = TestEnv::new("kstatus-throttled");
    env.fault(
        json!({"operation": "CreateRecommenderConfiguration", "status": 429, "count": 100000}),
    );
    env.apply_ok(&named("busy", VALID));
    let message = wait_for(&env, "busy", "InProgress", "Throttled");
    assert!(message.contains("retrying"), "{message}");
    env.clear_faults();
    wait_for(&env, "busy", "Current", "");
    let conditions = env.model("busy")["status"]["conditions"].clone();
    assert!(
        conditions
            .as_array()
            .is_some_and(|cs| cs.iter().all(|c| c["type"] != "Reconciling")),
        "Reconciling is gone once Ready: {conditions:#}"
    );
    assert_eq!(env.configurations().len(), 1);
}

#[test]
fn a_model_being_deleted_is_terminating_until_it_is_gone() {
    let env = TestEnv::new("kstatus-deleting");
    env.apply_ok(&named("leaving", VALID));
    wait_for(&env, "leaving", "Current", "");
    env.fault(
        json!({"operation": "DeleteRecommenderConfiguration", "status": 503, "count": 100000}),
    );
    env.kubectl_ok(&["delete", "recommendermodel", "leaving", "--wait=false"]);
    wait_for(&env, "leaving", "Terminating", "");
    // The operator says why deletion is held up, and keeps at it.
    wait_until(WAIT, "Reconciling says deletion is retried", || {
        env.model("leaving")["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["type"] == "Reconciling"
                        && c["status"] == "True"
                        && c["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("deleting"))
                })
            })
    });
    env.clear_faults();
    wait_for(&env, "leaving", "NotFound", "");
    assert!(env.configurations().is_empty());
}
