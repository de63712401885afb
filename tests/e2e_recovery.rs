//! End to end, the way users run it: a real kube-apiserver and etcd with RBAC on, real
//! `kubectl`, the real operator binary and the real emulator binary as processes. What the
//! operator does after something went wrong: a restart that makes no writes, leader election and
//! a standby taking over, crashes between the Create and recording its ID (with and without the
//! finalizer policy), a lost Create response, changes made outside the operator, and adoption by
//! ID. A model's ordinary life is in `e2e.rs`.
//!
//! Needs the tools from `bash scripts/tools.sh` and `cargo build --workspace --bins`; a missing
//! tool fails the test with that instruction.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    cluster::Process,
    env::{TestEnv, condition, status},
    table::named as model,
};

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
