//! End to end, the way users run it: a real kube-apiserver and etcd with RBAC on, real
//! `kubectl`, the real operator binary and the real emulator binary as processes.
//!
//! Needs the tools from `bash scripts/tools.sh` and `cargo build --workspace --bins`; a missing
//! tool fails the test with that instruction.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    cluster::{Process, control_plane, text},
    env::TestEnv,
    table::cases,
};

fn model(name: &str, case: &str) -> Value {
    support::table::named(name, case)
}

fn status<'a>(object: &'a Value, field: &str) -> &'a Value {
    &object["status"][field]
}

fn condition<'a>(object: &'a Value, type_: &str) -> &'a Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

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
fn a_restarted_operator_makes_no_writes() {
    let mut env = TestEnv::new("restart");
    env.apply_ok(&model("first", "model value, every field set"));
    env.apply_ok(&model("second", "lambda by name"));
    env.wait_condition("first", "Ready", 120);
    env.wait_condition("second", "Ready", 120);
    let before: Vec<Value> = ["first", "second"].iter().map(|n| env.model(n)).collect();
    let gets = env.calls("GetRecommenderConfiguration");
    let lists = env.calls("GetRecommenderConfigurations");
    let creates = env.calls("CreateRecommenderConfiguration");

    env.start_operator();
    // Wait until both reconciles have finished (a status write would come before this line).
    for name in ["first", "second"] {
        let needle = format!(
            "reconciled object=RecommenderModel.v1alpha1.pinpoint.recommenders.dev/{name}.{}",
            env.namespace
        );
        env.operator()
            .wait_for_log(&needle, Duration::from_secs(60));
    }
    // Both were re-read from Pinpoint with one list of their Region, not a read each.
    assert_eq!(env.calls("GetRecommenderConfiguration"), gets);
    assert_eq!(env.calls("GetRecommenderConfigurations"), lists + 1);
    let after: Vec<Value> = ["first", "second"].iter().map(|n| env.model(n)).collect();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(
            b["metadata"]["resourceVersion"], a["metadata"]["resourceVersion"],
            "no write to {}",
            b["metadata"]["name"]
        );
    }
    assert_eq!(env.calls("CreateRecommenderConfiguration"), creates);
    assert_eq!(env.calls("UpdateRecommenderConfiguration"), 0);
    assert_eq!(env.configurations().len(), 2);
}

#[test]
fn with_leader_election_exactly_one_replica_reconciles_and_a_standby_takes_over() {
    let env = TestEnv::without_operator("leader");
    let election = [
        "--leader-elect",
        "--leader-election-namespace=e2e-leader",
        "--leader-election-lease=recommender-operator-e2e",
        "--lease-duration=6s",
    ];
    let mut first = env.spawn_operator(&election);
    first.wait_for_log("controller started", Duration::from_secs(60));
    let mut second = env.spawn_operator(&election);
    second.wait_for_log("waiting for leadership", Duration::from_secs(60));

    env.apply_ok(&model("one", "model value, every field set"));
    env.wait_condition("one", "Ready", 120);
    assert!(
        first.output().contains("reconciled"),
        "the leader reconciles"
    );
    assert!(
        !second.output().contains("controller started"),
        "the standby waits:\n{}",
        second.output()
    );
    assert!(
        !second.output().contains("reconciled"),
        "only the leader writes"
    );
    let holder = env.kubectl_ok(&[
        "get",
        "lease",
        "recommender-operator-e2e",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert!(!holder.is_empty(), "the lease has a holder");

    // The leader dies without releasing its lease: the standby takes over once it runs out.
    first.kill_hard();
    second.wait_for_log("controller started", Duration::from_secs(60));
    env.apply_ok(&model("two", "lambda by name"));
    env.wait_condition("two", "Ready", 120);
    let new_holder = env.kubectl_ok(&[
        "get",
        "lease",
        "recommender-operator-e2e",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert_ne!(new_holder, holder);
    assert_eq!(env.configurations().len(), 2, "no duplicate configurations");
    assert_eq!(env.calls("CreateRecommenderConfiguration"), 2);
}

/// After a crash between Create and status: a new operator brings `name` to Ready on the one
/// configuration the first one made (or makes it, if none was), never a second. The returned
/// operator keeps running.
fn restart_and_find_one_configuration(env: &TestEnv, name: &str, what: &str) -> Process {
    let mut survivor = env.spawn_operator(&[]);
    survivor.wait_for_log("controller started", Duration::from_secs(60));
    env.wait_condition(name, "Ready", 120);
    let stored = env.configurations();
    assert_eq!(stored.len(), 1, "{what}: exactly one configuration");
    assert_eq!(
        status(&env.model(name), "configurationId"),
        &stored[0]["id"]
    );
    assert_eq!(
        env.calls("CreateRecommenderConfiguration"),
        1,
        "{what}: none created twice"
    );
    survivor
}

#[test]
fn a_crash_between_create_and_recording_the_id_never_makes_a_second_configuration() {
    // The operator dies (abort, as SIGKILL would) just before the Create is sent, or just after
    // Pinpoint answered it and before the ID reached the status.
    for (point, created_before_restart) in [("before-create", 0), ("after-create", 1)] {
        let env = TestEnv::without_operator(&format!("crash-{point}"));
        let mut doomed =
            env.spawn_operator_with_env(&[], &[("RECOMMENDER_OPERATOR_FAILPOINT", point)]);
        doomed.wait_for_log("controller started", Duration::from_secs(60));
        env.apply_ok(&model("movie-recs", "model value, every field set"));
        doomed.wait_for_exit(Duration::from_secs(120));
        assert!(
            doomed.output().contains(&format!("failpoint {point}")),
            "{}",
            doomed.output()
        );
        assert_eq!(
            env.configurations().len(),
            created_before_restart,
            "{point}"
        );
        let object = env.model("movie-recs");
        assert_eq!(
            status(&object, "configurationId"),
            &Value::Null,
            "{point}: nothing recorded"
        );
        assert!(
            object["metadata"]["annotations"]["pinpoint.recommenders.dev/create-requested-at"]
                .is_string(),
            "the marker was written before the Create"
        );

        let _survivor = restart_and_find_one_configuration(&env, "movie-recs", point);
    }
}

/// With the install's admission policy the finalizer arrives with the object: a model the
/// operator sees arrive costs one write (the status) and no look-up, and a crash after the Create
/// still makes no second configuration, although no create marker was ever written.
#[test]
fn with_the_finalizer_policy_a_new_model_costs_one_write_and_a_crash_no_duplicate() {
    let env = TestEnv::without_operator("finalizer-policy");
    env.bind_finalizer_policy(&model("probe", "model value, every field set"));

    let mut doomed =
        env.spawn_operator_with_env(&[], &[("RECOMMENDER_OPERATOR_FAILPOINT", "after-create")]);
    doomed.wait_for_log("controller started", Duration::from_secs(60));
    env.apply_ok(&model("movie-recs", "model value, every field set"));
    doomed.wait_for_exit(Duration::from_secs(120));
    assert!(doomed.output().contains("failpoint after-create"));
    assert_eq!(env.configurations().len(), 1);
    let object = env.model("movie-recs");
    assert_eq!(status(&object, "configurationId"), &Value::Null);
    assert_eq!(
        object["metadata"]["finalizers"],
        json!(["pinpoint.recommenders.dev/configuration"]),
        "the policy added the finalizer"
    );
    assert!(
        object["metadata"]["annotations"]["pinpoint.recommenders.dev/create-requested-at"]
            .is_null(),
        "the operator wrote nothing before its Create"
    );

    // The next operator did not see the model arrive, so it looks before creating.
    let _survivor = restart_and_find_one_configuration(&env, "movie-recs", "policy");
    let events = env.event_reasons(None);
    assert!(events.contains("Adopted"), "events: {events}");

    // A model it sees arrive: no look-up, and its only write is the status.
    let lists = env.calls("GetRecommenderConfigurations");
    env.apply_ok(&model("series-recs", "model value, every field set"));
    env.wait_condition("series-recs", "Ready", 120);
    assert_eq!(env.calls("CreateRecommenderConfiguration"), 2);
    assert_eq!(
        env.calls("GetRecommenderConfigurations"),
        lists,
        "no look-up"
    );
    let object = env.plane.get_json(&[
        "-n",
        &env.namespace,
        "recommendermodel",
        "series-recs",
        "--show-managed-fields",
    ]);
    let writers: Vec<(&str, &str)> = object["metadata"]["managedFields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter(|f| !f["manager"].as_str().unwrap_or("").starts_with("kubectl"))
                .map(|f| {
                    (
                        f["manager"].as_str().unwrap_or(""),
                        f["subresource"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(writers, [("recommender-operator", "status")], "{object:#}");
}

#[test]
fn a_lost_create_response_is_adopted() {
    let env = TestEnv::new("lost-response");
    env.fault(
        json!({"operation": "CreateRecommenderConfiguration", "dropResponse": true, "count": 1}),
    );
    env.apply_ok(&model("movie-recs", "model value, every field set"));
    env.wait_condition("movie-recs", "Ready", 120);
    let stored = env.configurations();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        status(&env.model("movie-recs"), "configurationId"),
        &stored[0]["id"]
    );
    assert_eq!(env.calls("CreateRecommenderConfiguration"), 1);
    let events = env.event_reasons(None);
    assert!(events.contains("Adopted"), "events: {events}");
}

#[test]
fn changes_made_outside_the_operator_are_put_back_within_one_and_a_half_resync_periods() {
    let env = TestEnv::without_operator("drift");
    let mut operator = env.spawn_operator(&["--resync=2s"]);
    operator.wait_for_log("controller started", Duration::from_secs(60));
    env.apply_ok(&model("movie-recs", "model value, every field set"));
    env.wait_condition("movie-recs", "Ready", 120);
    let id = status(&env.model("movie-recs"), "configurationId")
        .as_str()
        .map(str::to_owned)
        .expect("id");

    // Someone edits the configuration in the console, then deletes it.
    env.edit_outside(&id, |c| c.display_name = Some("Edited by hand".into()));
    env.wait_reason("movie-recs", "Published", "DriftCorrected", 60);
    assert_eq!(
        env.configurations()[0]["configuration"]["RecommendationsDisplayName"],
        "Top movies"
    );

    env.delete_outside(&id);
    env.wait_reason("movie-recs", "Published", "Recreated", 60);
    let stored = env.configurations();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0]["id"], json!(id));
    assert_eq!(
        status(&env.model("movie-recs"), "configurationId"),
        &stored[0]["id"]
    );
    let events = env.event_reasons(Some("type=Warning"));
    assert!(
        events.contains("DriftCorrected") && events.contains("Recreated"),
        "warning events: {events}"
    );
}

#[test]
fn a_configuration_is_adopted_by_id_by_one_model_only_and_picked_up_again_after_retain() {
    let env = TestEnv::new("adoption");
    let mut keeper = model("keeper", "model value, every field set");
    keeper["spec"]["deletionPolicy"] = json!("Retain");
    env.apply_ok(&keeper);
    env.wait_condition("keeper", "Ready", 120);
    let id = status(&env.model("keeper"), "configurationId")
        .as_str()
        .map(str::to_owned)
        .expect("id");

    // A second model asking for the same configuration is refused, naming the first.
    let mut rival = model("rival", "model value, every field set");
    rival["metadata"]["annotations"] = json!({"pinpoint.recommenders.dev/configuration-id": id});
    env.apply_ok(&rival);
    env.wait_reason("rival", "Published", "ConfigurationInUse", 60);
    let message = condition(&env.model("rival"), "Published")["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("e2e-adoption/keeper"), "{message}");
    env.kubectl_ok(&["delete", "recmodel", "rival", "--timeout=60s"]);

    // Retain, delete, apply again with the ID: the same configuration comes back under management.
    env.kubectl_ok(&["delete", "recmodel", "keeper", "--timeout=60s"]);
    assert_eq!(env.configurations().len(), 1);
    keeper["metadata"]["annotations"] = json!({"pinpoint.recommenders.dev/configuration-id": id});
    env.apply_ok(&keeper);
    env.wait_condition("keeper", "Ready", 120);
    assert_eq!(status(&env.model("keeper"), "configurationId"), &json!(id));
    assert_eq!(env.configurations().len(), 1);
    assert_eq!(env.calls("CreateRecommenderConfiguration"), 1);
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
