//! Many AWS accounts from one cluster, end to end on the real API server with RBAC, against an
//! emulator holding the operator's own account and three more. Namespaces are bound to roles in
//! two of them (one with an external ID); the third account's role does not trust the operator;
//! an unbound namespace is refused, then, after the tenancy file changes, uses the operator's own
//! account. Sessions last seconds, so credentials expire (and are replaced) during the test.
//!
//! Needs the tools from `bash scripts/tools.sh` and `cargo build --workspace --bins`.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    cluster::{text, wait_until},
    env::TestEnv,
    table::named,
};

const OWN: &str = "123456789012";
const TEAM_A: &str = "111111111111";
const TEAM_B: &str = "222222222222";
const UNTRUSTING: &str = "333333333333";
const TARGET_ROLE: &str = "recommender-operator-target";

/// A valid model named `name`, with its campaign and roles in `account`.
fn model_in(name: &str, account: &str) -> Value {
    let text = named(name, "model value, every field set")
        .to_string()
        .replace(OWN, account);
    serde_json::from_str(&text).expect("the model is still JSON")
}

/// The examples' campaigns, roles and functions, made in `account`, and the role the operator
/// assumes there, trusting `trusted` (an account), with `external_id` when given.
fn seed_for(account: &str, trusted: &str, external_id: Option<&str>) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/emulator/account.json"
    );
    let text = std::fs::read_to_string(path)
        .expect("read the examples' seed")
        .replace(OWN, account);
    let mut seed: Value = serde_json::from_str(&text).expect("the seed is JSON");
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{trusted}:root")},
        "Action": "sts:AssumeRole",
    });
    if let Some(id) = external_id {
        statement["Condition"] = json!({"StringEquals": {"sts:ExternalId": id}});
    }
    seed["roles"]
        .as_array_mut()
        .expect("the seed has roles")
        .push(json!({
            "arn": format!("arn:aws:iam::{account}:role/{TARGET_ROLE}"),
            "assumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        }));
    seed
}

fn tenancy(unbound: &str, namespaces: &[String; 3]) -> String {
    format!(
        "accounts:\n  bindings:\n    - namespace: {}\n      roleArn: arn:aws:iam::{TEAM_A}:role/{TARGET_ROLE}\n      externalId: team-a-secret\n    - namespace: {}\n      roleArn: arn:aws:iam::{TEAM_B}:role/{TARGET_ROLE}\n    - namespace: {}\n      roleArn: arn:aws:iam::{UNTRUSTING}:role/{TARGET_ROLE}\n  unbound: {unbound}\n",
        namespaces[0], namespaces[1], namespaces[2]
    )
}

#[test]
fn namespaces_publish_into_their_own_accounts() {
    let env = TestEnv::with_emulator_args(
        "accounts",
        &[
            "--account",
            &format!("{TEAM_A}=AKIDTEAMA:secret-a"),
            "--account",
            &format!("{TEAM_B}=AKIDTEAMB:secret-b"),
            "--account",
            &format!("{UNTRUSTING}=AKIDTEAMC:secret-c"),
            // One configuration per account and Region: each account's quota counts alone.
            "--max-configurations",
            "1",
            // Sessions end after 6 s: the test outlives several.
            "--sts-session-seconds",
            "6",
        ],
    );
    env.admin
        .seed_in(TEAM_A, seed_for(TEAM_A, OWN, Some("team-a-secret")));
    env.admin.seed_in(TEAM_B, seed_for(TEAM_B, OWN, None));
    // This account's role trusts someone else only.
    env.admin
        .seed_in(UNTRUSTING, seed_for(UNTRUSTING, "444444444444", None));

    let teams: [String; 3] = ["a", "b", "c"].map(|t| format!("e2e-accounts-team-{t}"));
    for ns in &teams {
        env.plane.fresh_namespace(ns);
    }
    let path = env.write_tenancy(&tenancy("refuse", &teams));
    // The test's own namespace is watched already (spawn_operator names it).
    let watched = format!("--namespace={}", teams.join(","));
    let config = format!("--tenancy-config={}", path.display());
    let mut operator = env.spawn_operator(&[&watched, &config]);
    operator.wait_for_log("controller started", Duration::from_secs(60));

    let apply_in = |ns: &str, object: &Value| {
        let out = env
            .plane
            .kubectl_stdin(&["-n", ns, "apply", "-f", "-"], &object.to_string());
        assert!(out.status.success(), "apply in {ns}: {}", text(&out.stderr));
    };
    let get_in = |ns: &str, name: &str| env.plane.get_json(&["-n", ns, "recommendermodel", name]);
    let ready_reason = |ns: &str, name: &str| -> String {
        get_in(ns, name)["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["reason"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let wait_reason = |ns: &str, name: &str, reason: &str| {
        wait_until(
            Duration::from_secs(120),
            &format!("{ns}/{name} is {reason}"),
            || ready_reason(ns, name) == reason,
        );
    };

    // Two namespaces publish a configuration of the same name into two accounts.
    apply_in(&teams[0], &model_in("recs", TEAM_A));
    apply_in(&teams[1], &model_in("recs", TEAM_B));
    wait_reason(&teams[0], "recs", "Ready");
    wait_reason(&teams[1], "recs", "Ready");
    for (ns, account) in [(&teams[0], TEAM_A), (&teams[1], TEAM_B)] {
        let object = get_in(ns, "recs");
        assert_eq!(object["status"]["accountId"], account);
        let stored = env.admin.configurations_in(account);
        assert_eq!(
            stored.len(),
            1,
            "one configuration in {account}: {stored:?}"
        );
        assert_eq!(stored[0]["id"], object["status"]["configurationId"]);
    }
    assert!(
        env.admin.configurations().is_empty(),
        "nothing in the operator's own account"
    );
    let wide = env
        .plane
        .kubectl_ok(&["-n", &teams[0], "get", "recmodel", "recs", "-o", "wide"]);
    assert!(wide.contains("ACCOUNT") && wide.contains(TEAM_A), "{wide}");

    // The account whose role does not trust the operator: its model says so, the others stay
    // Ready.
    apply_in(&teams[2], &model_in("recs", UNTRUSTING));
    wait_reason(&teams[2], "recs", "AccountUnavailable");
    let message = get_in(&teams[2], "recs")["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("AccessDenied: User: arn:aws:iam::123456789012:user/")
            && message.contains("is not authorized to perform: sts:AssumeRole")
            && message.len() < 400,
        "STS's words, and only those: {message}"
    );
    assert!(env.admin.configurations_in(UNTRUSTING).is_empty());
    assert_eq!(ready_reason(&teams[0], "recs"), "Ready");

    // A campaign of another account than the namespace's: refused before any call.
    apply_in(&teams[1], &model_in("elsewhere", TEAM_A));
    wait_reason(&teams[1], "elsewhere", "AccountMismatch");

    // Each account's quota counts alone: team A's second model waits, team B is not affected.
    apply_in(&teams[0], &model_in("second", TEAM_A));
    wait_reason(&teams[0], "second", "QuotaExceeded");
    assert_eq!(ready_reason(&teams[1], "recs"), "Ready");

    // The unbound namespace is refused, and publishes in the operator's own account once the
    // tenancy file lets unbound namespaces do so.
    apply_in(&env.namespace, &model_in("mine", OWN));
    wait_reason(&env.namespace, "mine", "AccountNotBound");
    assert!(env.admin.configurations().is_empty());
    env.write_tenancy(&tenancy("operator", &teams));
    wait_reason(&env.namespace, "mine", "Ready");
    assert_eq!(get_in(&env.namespace, "mine")["status"]["accountId"], OWN);
    assert_eq!(env.admin.configurations().len(), 1);

    // Credentials expire every 6 s: edits after several sessions still go through, with no
    // call refused for an expired token (none of team A's calls was denied).
    let assumed_before = env.admin.calls_in(OWN, "AssumeRole");
    std::thread::sleep(Duration::from_secs(8)); // outlive the current session
    for round in 0..2 {
        let description = format!("round {round}");
        let patch = json!({"spec": {"description": description}}).to_string();
        env.plane.kubectl_ok(&[
            "-n",
            &teams[0],
            "patch",
            "recmodel",
            "recs",
            "--type=merge",
            "-p",
            &patch,
        ]);
        wait_until(Duration::from_secs(60), "the edit is published", || {
            env.admin.configurations_in(TEAM_A)[0]["configuration"]["Description"] == description
        });
        std::thread::sleep(Duration::from_secs(7));
    }
    assert!(
        env.admin.calls_in(OWN, "AssumeRole") > assumed_before,
        "the credentials were replaced"
    );
    let (_, metrics) = env.get_from(&mut operator, "metrics", "/metrics");
    let refused: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("recommender_operator_pinpoint_requests_total")
                && l.contains(&format!("account=\"{TEAM_A}\""))
                && l.contains("outcome=\"access_denied\"")
        })
        .collect();
    assert!(
        refused.is_empty(),
        "denied calls in team A's account: {refused:?}"
    );
    assert!(
        metrics.contains(&format!(
            "recommender_operator_pinpoint_requests_total{{operation=\"UpdateRecommenderConfiguration\",outcome=\"success\",account=\"{TEAM_A}\"}} 2"
        )),
        "both edits were one successful Update each:\n{metrics}"
    );
    assert_eq!(ready_reason(&teams[0], "recs"), "Ready");
    operator.stop();
}
