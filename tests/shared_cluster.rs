//! One operator shared by teams that do not trust each other, on the real API server with RBAC:
//! adoption is a permission of the tenancy file (reloaded while running), `/metrics` answers only
//! a token allowed to get it, and one operator watches a list of namespaces and nothing else.
//!
//! Needs the tools from `bash scripts/tools.sh` and `cargo build --workspace --bins`.

mod support;

use std::time::Duration;

use recommender_operator::{api::RecommenderModel, domain::desired::desired_configuration};
use serde_json::{Value, json};
use support::{
    cluster::{text, wait_until},
    env::TestEnv,
    table::named,
};

/// A valid model from the validation table, named `name`.
fn model(name: &str) -> Value {
    named(name, "model value, every field set")
}

fn status_field(object: &Value, field: &str) -> Option<String> {
    object["status"][field].as_str().map(str::to_owned)
}

#[test]
fn a_namespace_adopts_only_what_the_tenancy_settings_allow_and_a_reload_needs_no_restart() {
    let env = TestEnv::without_operator("adopt-permission");
    // Another team's configuration, made in the console.
    let theirs = model("theirs");
    let typed: RecommenderModel = serde_json::from_value(theirs.clone()).expect("a valid model");
    let role = typed.spec.role.arn.clone().expect("the case names a role");
    let config = desired_configuration(&typed.spec, "console-made", &role);
    let id = env.create_outside("us-east-1", &config);
    let before = env.configurations();
    let writes = [
        "CreateRecommenderConfiguration",
        "UpdateRecommenderConfiguration",
        "DeleteRecommenderConfiguration",
    ];
    // The console's own Create counts too.
    let writes_before: Vec<u64> = writes.iter().map(|w| env.calls(w)).collect();

    let other_team = "adoption:\n  - namespace: someone-else\n    configurationIds: [\"*\"]\n";
    let path = env.write_tenancy(other_team);
    let tenancy_flag = format!("--tenancy-config={}", path.display());
    let mut operator = env.spawn_operator(&[&tenancy_flag]);
    operator.wait_for_log("controller started", Duration::from_secs(60));

    let mut taker = model("taker");
    taker["metadata"]["annotations"] = json!({"pinpoint.recommenders.dev/configuration-id": id});
    env.apply_ok(&taker);
    env.wait_reason("taker", "Stalled", "AdoptionNotAllowed", 60);
    env.wait_reason("taker", "Ready", "AdoptionNotAllowed", 60);
    let refused = env.model("taker");
    assert_eq!(status_field(&refused, "configurationId"), None);
    assert_eq!(
        env.configurations(),
        before,
        "nothing changed in Pinpoint for a refused adoption"
    );
    for (write, before) in writes.iter().zip(&writes_before) {
        assert_eq!(env.calls(write), *before, "{write} was called");
    }

    // The platform team lists this namespace for this one ID: the running operator picks it up.
    env.write_tenancy(&format!(
        "adoption:\n  - namespace: {}\n    configurationIds: [{id}]\n",
        env.namespace
    ));
    env.wait_condition("taker", "Ready", 60);
    assert_eq!(
        status_field(&env.model("taker"), "configurationId").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        env.calls("CreateRecommenderConfiguration"),
        writes_before[0]
    );
    let adopted_events = || {
        env.kubectl_ok(&[
            "get",
            "events",
            "--field-selector",
            "reason=Adopted",
            "-o",
            "jsonpath={.items[*].message}",
        ])
    };
    wait_until(Duration::from_secs(30), "the Adopted event", || {
        adopted_events().contains(&id)
    });
    let adopted = adopted_events();
    assert!(
        adopted.contains(&format!("{:?}", config.name)) && adopted.contains("created 20"),
        "the event names whose configuration was adopted: {adopted}"
    );
    assert!(
        adopted.contains("deletionPolicy Delete"),
        "the user's deletion policy is kept: {adopted}"
    );

    // A bad edit while running is refused, and the settings in force stay.
    env.write_tenancy("adoption:\n  - namespace: x\n    configurationIds: []\n");
    operator.wait_for_log(
        "the changed tenancy settings are invalid",
        Duration::from_secs(30),
    );
    assert!(operator.is_running());
    operator.stop();

    // At start, a bad file stops the operator with the field at fault.
    env.write_tenancy("allowedRoles:\n  - namespace: a\n    roleArn: \"[\"\n");
    let mut refused_start = env.spawn_operator(&[&tenancy_flag]);
    refused_start.wait_for_exit(Duration::from_secs(30));
    let log = refused_start.output();
    assert!(log.contains("allowedRoles[0].roleArn"), "{log}");
}

/// `GET /metrics` over HTTPS with an optional bearer token: the status code.
fn scrape(url: &str, token: Option<&str>) -> u16 {
    let client = reqwest::blocking::Client::builder()
        // The operator's certificate is self-signed; the token is what authenticates.
        .danger_accept_invalid_certs(true)
        .build()
        .expect("an HTTPS client");
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .status()
        .as_u16()
}

#[test]
fn secure_metrics_answer_only_a_token_allowed_to_get_them() {
    let mut env = TestEnv::without_operator("secure-metrics");
    let ns = env.namespace.clone();
    let reader_role = format!("{ns}-metrics-reader");
    let _ = env
        .plane
        .kubectl(&["delete", "clusterrole,clusterrolebinding", &reader_role]);
    env.plane.kubectl_ok(&[
        "create",
        "clusterrole",
        &reader_role,
        "--verb=get",
        "--non-resource-url=/metrics",
    ]);
    for sa in ["scraper", "stranger"] {
        env.kubectl_ok(&["create", "serviceaccount", sa]);
    }
    env.plane.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        &reader_role,
        &format!("--clusterrole={reader_role}"),
        &format!("--serviceaccount={ns}:scraper"),
    ]);
    let token = |sa: &str| env.kubectl_ok(&["create", "token", sa]).trim().to_owned();
    let (allowed, stranger) = (token("scraper"), token("stranger"));

    env.operator = Some(env.spawn_operator(&["--metrics-secure=true"]));
    env.operator()
        .wait_for_log("controller started", Duration::from_secs(60));
    let url = format!("https://{}/metrics", env.operator_addr("metrics"));
    // RBAC changes reach the authorizer's cache within a moment: wait for the allowed scrape.
    wait_until(Duration::from_secs(30), "an allowed scrape", || {
        scrape(&url, Some(&allowed)) == 200
    });
    assert_eq!(
        scrape(&url, Some(&stranger)),
        403,
        "a token without the role"
    );
    assert_eq!(scrape(&url, None), 401, "no token");
    assert_eq!(scrape(&url, Some("not-a-token")), 401, "a made-up token");
    let plain = reqwest::blocking::get(url.replacen("https", "http", 1));
    assert!(
        !plain.is_ok_and(|r| r.status().as_u16() == 200),
        "plain HTTP must not serve metrics"
    );

    let _ = env
        .plane
        .kubectl(&["delete", "clusterrole,clusterrolebinding", &reader_role]);
}

#[test]
fn one_operator_watches_the_listed_namespaces_only_and_claims_span_them() {
    let env = TestEnv::without_operator("watch-list-a");
    let others = ["e2e-watch-list-b", "e2e-watch-list-c"];
    for ns in others {
        env.plane.fresh_namespace(ns);
    }
    let watched = format!("--namespace={}", others[0]);
    let mut operator = env.spawn_operator(&[&watched]);
    operator.wait_for_log("controller started", Duration::from_secs(60));

    let apply_in = |ns: &str, object: &Value| {
        let out = env
            .plane
            .kubectl_stdin(&["-n", ns, "apply", "-f", "-"], &object.to_string());
        assert!(out.status.success(), "apply in {ns}: {}", text(&out.stderr));
    };
    env.apply_ok(&model("in-a"));
    apply_in(others[0], &model("in-b"));
    apply_in(others[1], &model("in-c"));
    env.wait_condition("in-a", "Ready", 120);
    let wait_b = env.plane.kubectl(&[
        "-n",
        others[0],
        "wait",
        "--for=condition=Ready",
        "recommendermodel/in-b",
        "--timeout=120s",
    ]);
    assert!(wait_b.status.success(), "{}", text(&wait_b.stderr));

    // A claim in one watched namespace holds against a model in another.
    let id_in_a = status_field(&env.model("in-a"), "configurationId").expect("an ID");
    let mut rival = model("rival");
    rival["metadata"]["annotations"] =
        json!({"pinpoint.recommenders.dev/configuration-id": id_in_a});
    apply_in(others[0], &rival);
    let rival_refused = env.plane.kubectl(&[
        "-n",
        others[0],
        "wait",
        "--for=jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}=ConfigurationInUse",
        "recommendermodel/rival",
        "--timeout=60s",
    ]);
    assert!(
        rival_refused.status.success(),
        "{}",
        text(&rival_refused.stderr)
    );

    // The third namespace is not watched: its model is never touched.
    let in_c = env
        .plane
        .get_json(&["-n", others[1], "recommendermodel", "in-c"]);
    // (The API server fills in `status.observedGeneration: 0` by itself.)
    assert!(in_c["status"]["conditions"].is_null(), "{in_c:#}");
    assert!(
        in_c["metadata"]["finalizers"].is_null(),
        "no finalizer in an unwatched namespace: {in_c:#}"
    );
    assert_eq!(env.configurations().len(), 2);
    assert_eq!(env.calls("CreateRecommenderConfiguration"), 2);

    for ns in others {
        let _ = env
            .plane
            .kubectl(&["delete", "namespace", ns, "--wait=false"]);
    }
}
