//! End to end, the way users run it: a real kube-apiserver and etcd with RBAC on, real
//! `kubectl`, the real operator binary and the real emulator binary as processes. A model's
//! life (validation, publishing, updates, deletion, Pinpoint's faults, the roles a namespace may
//! use) and the operator's endpoints; crashes, restarts, leader election and changes made outside
//! the operator are in `e2e_recovery.rs`.
//!
//! Needs the tools from `bash scripts/tools.sh` and `cargo build --workspace --bins`; a missing
//! tool fails the test with that instruction.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    cluster::{control_plane, text},
    env::{TestEnv, condition, status},
    table::{cases, named as model},
};

#[test]
fn the_api_server_applies_the_validation_table() {
    let plane = control_plane();
    plane.install_crd();
    let namespace = "e2e-validation-table";
    let _ = plane.kubectl(&["create", "namespace", namespace]);
    let mut failures = Vec::new();
    for case in cases() {
        let mut object = case.object.clone();
        object["metadata"]["namespace"] = json!(namespace);
        let out = plane.kubectl_stdin(
            &["create", "--dry-run=server", "-f", "-"],
            &object.to_string(),
        );
        let stderr = text(&out.stderr);
        match (case.cel_errors.is_empty(), out.status.success()) {
            (true, true) => {}
            (true, false) => failures.push(format!(
                "{}: rejected, expected admitted:\n{stderr}",
                case.name
            )),
            (false, true) => failures.push(format!(
                "{}: admitted, expected rejected naming {:?}",
                case.name, case.cel_errors
            )),
            (false, false) => {
                for field in &case.cel_errors {
                    if !stderr.contains(&format!("{field}:")) {
                        failures.push(format!(
                            "{}: the server's message does not name {field}:\n{stderr}",
                            case.name
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "the API server disagrees with the table:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_model_is_published_updated_in_place_and_deleted() {
    let mut env = TestEnv::new("lifecycle");
    env.apply_ok(&model("movie-recs", "model value, every field set"));
    env.wait_condition("movie-recs", "Ready", 120);

    let object = env.model("movie-recs");
    let id = status(&object, "configurationId")
        .as_str()
        .expect("configuration ID in status")
        .to_owned();
    assert_eq!(status(&object, "region"), "us-east-1");
    // The operator's own account, as STS names it.
    assert_eq!(status(&object, "accountId"), "123456789012");
    assert_eq!(status(&object, "observedGeneration"), 1);
    assert_eq!(condition(&object, "Validated")["status"], "True");
    assert_eq!(condition(&object, "Published")["status"], "True");
    assert_eq!(
        object["metadata"]["finalizers"],
        json!(["pinpoint.recommenders.dev/configuration"])
    );
    let stored = env.configurations();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], json!(id));
    assert_eq!(
        stored[0]["configuration"],
        support::table::model_value_wire_body()
    );
    let printed = env.kubectl_ok(&["get", "recmodel", "movie-recs"]);
    assert!(
        printed.contains(&id) && printed.contains("True") && printed.contains("Ready"),
        "{printed}"
    );

    // Edit the spec: the same configuration changes, and observedGeneration follows.
    env.kubectl_ok(&[
        "patch",
        "recmodel",
        "movie-recs",
        "--type=merge",
        "-p",
        r#"{"spec":{"description":"Fresh picks","identifier":"UserId"}}"#,
    ]);
    env.wait_condition("movie-recs", "Ready", 120);
    let object = env.model("movie-recs");
    assert_eq!(status(&object, "observedGeneration"), 2);
    assert_eq!(status(&object, "configurationId"), &json!(id));
    let stored = env.configurations();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["configuration"]["Description"], "Fresh picks");
    assert_eq!(
        stored[0]["configuration"]["RecommendationProviderIdType"],
        "PINPOINT_USER_ID"
    );
    assert_eq!(env.calls("CreateRecommenderConfiguration"), 1);
    assert_eq!(env.calls("UpdateRecommenderConfiguration"), 1);

    let events = env.event_reasons(Some("involvedObject.name=movie-recs"));
    assert!(
        events.contains("Updated") && !events.contains("Created"),
        "events: {events}"
    );

    // The endpoints: probes answer, metrics count the work with the names dashboards know.
    assert_eq!(env.operator_get("probes", "/healthz").0, 200);
    assert_eq!(env.operator_get("probes", "/readyz").0, 200);
    let (code, metrics) = env.operator_get("metrics", "/metrics");
    assert_eq!(code, 200);
    for needle in [
        r#"controller_runtime_reconcile_total{controller="recommendermodel",result="success"}"#,
        "controller_runtime_reconcile_time_seconds_bucket",
        // The operator's own account: an empty account label on calls, its ID on models.
        r#"recommender_operator_pinpoint_requests_total{operation="CreateRecommenderConfiguration",outcome="success",account=""} 1"#,
        r#"recommender_operator_pinpoint_requests_total{operation="UpdateRecommenderConfiguration",outcome="success",account=""} 1"#,
        r#"recommender_operator_models{ready="True",reason="Ready",account="123456789012"} 1"#,
        r#"recommender_operator_aws_attempts_total{service="Pinpoint",operation="CreateRecommenderConfiguration",status="201"} 1"#,
        r#"leader_election_master_status{name="recommender-operator"} 1"#,
        // The status writes and the finalizer went through the counted client.
        r#"rest_client_requests_total{code="200",method="PATCH",host="#,
        r#"rest_client_requests_total{code="200",method="GET",host="#,
        r#"workqueue_adds_total{controller="recommendermodel",name="recommendermodel"}"#,
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack {needle}:\n{metrics}"
        );
    }
    // Every family the usual controller-runtime dashboards read, each with a sample.
    for family in [
        "workqueue_depth",
        "workqueue_adds_total",
        "workqueue_queue_duration_seconds_bucket",
        "workqueue_work_duration_seconds_bucket",
        "workqueue_retries_total",
        "workqueue_unfinished_work_seconds",
        "workqueue_longest_running_processor_seconds",
        "rest_client_requests_total",
        "rest_client_request_duration_seconds_bucket",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "process_threads",
        "tokio_alive_tasks",
        "tokio_workers",
        "leader_election_master_status",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' '])),
            "no {family} sample in:\n{metrics}"
        );
    }
    // Two updates of the one model went through the queue; nothing is left waiting.
    let sample = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
    };
    let queue = r#"{controller="recommendermodel",name="recommendermodel"}"#;
    assert!(sample(&format!("workqueue_adds_total{queue}")) >= 2.0);
    assert!(sample(&format!("workqueue_work_duration_seconds_count{queue}")) >= 2.0);
    assert!(sample("process_resident_memory_bytes") > 1e6);

    // Delete (policy Delete): the configuration goes, then the object.
    env.kubectl_ok(&["delete", "recmodel", "movie-recs", "--timeout=120s"]);
    assert!(env.configurations().is_empty());
    let gone = env.kubectl(&["get", "recmodel", "movie-recs"]);
    assert!(!gone.status.success(), "the object is gone");
}

#[test]
fn retain_leaves_the_configuration_in_pinpoint() {
    let env = TestEnv::new("retain");
    let mut object = model("kept", "lambda by ARN");
    object["spec"]["deletionPolicy"] = json!("Retain");
    env.apply_ok(&object);
    env.wait_condition("kept", "Ready", 120);
    let id = status(&env.model("kept"), "configurationId").clone();
    env.kubectl_ok(&["delete", "recmodel", "kept", "--timeout=120s"]);
    let stored = env.configurations();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], id);
    assert_eq!(env.calls("DeleteRecommenderConfiguration"), 0);
}

#[test]
fn a_controller_only_check_reports_the_field_and_publishes_nothing() {
    let env = TestEnv::new("controller-only");
    let case = cases()
        .into_iter()
        .find(|c| !c.is_valid() && c.cel_errors.is_empty())
        .expect("a controller-only case");
    let mut object = case.object.clone();
    object["metadata"]["name"] = json!("frankfurt");
    env.apply_ok(&object);
    env.wait_condition("frankfurt", "Validated=false", 120);
    let object = env.model("frankfurt");
    let errors = status(&object, "validationErrors")
        .as_array()
        .cloned()
        .unwrap_or_default();
    let fields: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
    let expected: Vec<&str> = case.errors.iter().map(String::as_str).collect();
    assert_eq!(fields, expected);
    assert!(
        errors
            .iter()
            .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
    );
    assert_eq!(condition(&object, "Validated")["reason"], "InvalidSpec");
    assert_eq!(condition(&object, "Ready")["status"], "False");
    assert_eq!(condition(&object, "Ready")["reason"], "InvalidSpec");
    assert!(
        condition(&object, "Ready")["message"]
            .as_str()
            .unwrap_or_default()
            .contains("spec.campaignArn")
    );
    let events = env.event_reasons(Some("type=Warning"));
    assert!(events.contains("InvalidSpec"), "warning events: {events}");
    assert!(env.configurations().is_empty());
    assert_eq!(env.calls("CreateRecommenderConfiguration"), 0);

    // Fixing the spec is all it takes.
    env.kubectl_ok(&[
        "patch",
        "recmodel",
        "frankfurt",
        "--type=merge",
        "-p",
        r#"{"spec":{"campaignArn":"arn:aws:personalize:eu-west-1:123456789012:campaign/movies"}}"#,
    ]);
    env.wait_condition("frankfurt", "Ready", 120);
    assert_eq!(
        status(&env.model("frankfurt"), "validationErrors"),
        &Value::Null
    );
}

#[test]
fn pinpoint_faults_show_as_conditions_and_models_recover_by_themselves() {
    let env = TestEnv::new("faults");
    env.fault(json!({"operation": "CreateRecommenderConfiguration", "status": 429, "message": "Rate exceeded"}));
    env.apply_ok(&model("busy", "model value, every field set"));
    env.wait_reason("busy", "Ready", "Throttled", 120);
    let object = env.model("busy");
    assert_eq!(condition(&object, "Published")["reason"], "Throttled");
    assert!(
        condition(&object, "Ready")["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Rate exceeded")
    );

    env.clear_faults();
    env.fault(json!({"operation": "CreateRecommenderConfiguration", "status": 500}));
    env.wait_reason("busy", "Ready", "PinpointUnavailable", 120);

    env.clear_faults();
    env.wait_condition("busy", "Ready", 180);
    assert_eq!(
        env.configurations().len(),
        1,
        "exactly one configuration after the retries"
    );
}

#[test]
fn a_namespace_may_use_only_the_roles_the_operator_allows_it() {
    let env = TestEnv::without_operator("tenants");
    let mut operator = env.spawn_operator(&[
        "--allowed-roles=e2e-tenants=arn:aws:iam::123456789012:role/tenants-*",
        "--allowed-roles=other-team=arn:aws:iam::123456789012:role/PinpointPersonalize",
    ]);
    operator.wait_for_log("controller started", Duration::from_secs(60));
    env.apply_ok(&model("foreign-role", "model value, every field set"));
    env.wait_reason("foreign-role", "Published", "RoleNotAllowed", 60);
    let mut own = model("own-role", "model value, every field set");
    own["spec"]["role"]["arn"] = json!("arn:aws:iam::123456789012:role/tenants-recs");
    env.apply_ok(&own);
    env.wait_condition("own-role", "Ready", 120);
    assert_eq!(
        env.configurations().len(),
        1,
        "nothing was sent for the refused role"
    );
    assert_eq!(env.calls("CreateRecommenderConfiguration"), 1);
}
