//! Nothing left behind under crashes and faults, on the real API server with the real operator
//! and emulator processes:
//! - a model deleted while its Create was unrecorded (the operator killed between Create and the
//!   status write) has that configuration deleted, or kept and named under `Retain`;
//! - a seeded random sequence of creates, edits and deletes, with the operator SIGKILLed and
//!   restarted at random points and emulator faults switched on and off, ends with every
//!   invariant holding. `CHAOS_SEEDS=N` (seeds 1..=N) and `CHAOS_STEPS` run it longer;
//!   `CHAOS_SEED=S` re-runs one seed.

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};
use support::{
    cluster::{Process, wait_until},
    env::TestEnv,
};

const MARKER: &str = "pinpoint.recommenders.dev/create-requested-at";

fn messages(env: &TestEnv) -> String {
    env.kubectl_ok(&["get", "events", "-o", "jsonpath={.items[*].message}"])
}

fn gone(env: &TestEnv, name: &str) -> bool {
    let out = env.kubectl(&[
        "get",
        "recommendermodel",
        name,
        "--ignore-not-found",
        "-o",
        "name",
    ]);
    out.status.success() && out.stdout.is_empty()
}

#[test]
fn a_model_deleted_after_an_unrecorded_create_leaves_nothing_behind() {
    for policy in ["Delete", "Retain"] {
        let env = TestEnv::without_operator(&format!("lost-create-{}", policy.to_lowercase()));
        let mut doomed =
            env.spawn_operator_with_env(&[], &[("RECOMMENDER_OPERATOR_FAILPOINT", "after-create")]);
        doomed.wait_for_log("controller started", Duration::from_secs(60));
        let mut object = support::table::named("movie-recs", "model value, every field set");
        object["spec"]["deletionPolicy"] = json!(policy);
        env.apply_ok(&object);
        // Killed after Pinpoint answered the Create and before the ID reached the status.
        doomed.wait_for_exit(Duration::from_secs(120));
        assert!(doomed.output().contains("failpoint after-create"));
        let made = env.configurations();
        assert_eq!(made.len(), 1, "{policy}: the Create took effect");
        let id = made[0]["id"].as_str().unwrap_or_default().to_owned();
        let model = env.model("movie-recs");
        assert!(model["status"]["configurationId"].is_null(), "{model:#}");
        assert!(model["metadata"]["annotations"][MARKER].is_string());

        env.kubectl_ok(&["delete", "recommendermodel", "movie-recs", "--wait=false"]);
        let mut survivor = env.spawn_operator(&[]);
        survivor.wait_for_log("controller started", Duration::from_secs(60));
        wait_until(Duration::from_secs(120), "the model is gone", || {
            gone(&env, "movie-recs")
        });
        let left = env.configurations();
        let events = messages(&env);
        let log = survivor.output();
        if policy == "Delete" {
            assert!(left.is_empty(), "an orphan is left: {left:#?}");
            let said = format!("deleted configuration {id} in us-east-1");
            assert!(events.contains(&said), "no event {said:?}: {events}");
            assert!(log.contains(&said), "no log line {said:?}:\n{log}");
        } else {
            assert_eq!(left.len(), 1, "kept under Retain");
            assert!(
                events.contains(&format!("configuration {id} in us-east-1")),
                "the Retained event names the configuration: {events}"
            );
            assert!(log.contains("Retained"), "{log}");
        }
        assert_eq!(env.calls("CreateRecommenderConfiguration"), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// The randomized fault test

/// One model the sequence made, and what must hold for it at the end.
struct Tracked {
    retain: bool,
    role: bool,
    variant: u32,
    deleted: bool,
    /// Seen with a configuration ID before it was deleted: under `Retain`, exactly one stays.
    published: bool,
}

fn chaos_model(name: &str, m: &Tracked) -> Value {
    let role = if m.role {
        json!({"create": {"name": format!("chaos-{name}")}})
    } else {
        json!({"arn": "arn:aws:iam::123456789012:role/PinpointPersonalize"})
    };
    json!({
        "apiVersion": "pinpoint.recommenders.dev/v1alpha1",
        "kind": "RecommenderModel",
        "metadata": {"name": name},
        "spec": {
            "description": format!("variant {}", m.variant),
            "role": role,
            "campaignArn": "arn:aws:personalize:us-east-1:123456789012:campaign/movies",
            "recommendationsPerMessage": 1 + m.variant % 5,
            "processing": {"modelValue": {"displayName": "Top movies"}},
            "deletionPolicy": if m.retain { "Retain" } else { "Delete" },
        }
    })
}

/// The faults a step may switch on: errors, throttling, dropped connections, responses lost
/// after the call took effect, latency.
fn random_fault(rng: &mut StdRng) -> Value {
    let operation = *[
        "CreateRecommenderConfiguration",
        "UpdateRecommenderConfiguration",
        "DeleteRecommenderConfiguration",
        "GetRecommenderConfiguration",
        "GetRecommenderConfigurations",
        "*",
    ]
    .choose(rng)
    .unwrap_or(&"*");
    let count = rng.random_range(1..=3);
    match rng.random_range(0..5) {
        0 => json!({"operation": operation, "status": 429, "count": count}),
        1 => json!({"operation": operation, "status": 500, "count": count}),
        2 => json!({"operation": operation, "drop": true, "count": count}),
        3 => json!({"operation": operation, "dropResponse": true, "count": count}),
        _ => {
            json!({"operation": operation, "latencyMs": rng.random_range(100..800), "count": count})
        }
    }
}

fn start_operator(env: &TestEnv) -> Process {
    env.spawn_operator(&[])
}

/// Runs one seed's sequence and checks the invariants; panics naming the seed.
fn run_seed(seed: u64, steps: usize) {
    eprintln!("chaos: seed {seed}, {steps} steps (re-run with CHAOS_SEED={seed})");
    let env = TestEnv::without_operator(&format!("chaos-{seed}"));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut models: BTreeMap<String, Tracked> = BTreeMap::new();
    let mut operator = Some(start_operator(&env));
    let mut next = 0;
    let mut journal = Vec::new();

    for step in 0..steps {
        let live: Vec<String> = models
            .iter()
            .filter(|(_, m)| !m.deleted)
            .map(|(n, _)| n.clone())
            .collect();
        let action = rng.random_range(0..100);
        let what = match action {
            0..30 => {
                next += 1;
                let name = format!("m{next}");
                let m = Tracked {
                    retain: rng.random_bool(0.3),
                    role: rng.random_bool(0.25),
                    variant: 0,
                    deleted: false,
                    published: false,
                };
                env.apply_ok(&chaos_model(&name, &m));
                models.insert(name.clone(), m);
                format!("create {name}")
            }
            30..50 if !live.is_empty() => {
                let name = live.choose(&mut rng).cloned().unwrap_or_default();
                let m = models.get_mut(&name).expect("tracked");
                m.variant += 1;
                env.apply_ok(&chaos_model(&name, m));
                format!("edit {name} to variant {}", m.variant)
            }
            50..65 if !live.is_empty() => {
                let name = live.choose(&mut rng).cloned().unwrap_or_default();
                let object = env.model(&name);
                let m = models.get_mut(&name).expect("tracked");
                m.published = !object["status"]["configurationId"].is_null();
                m.deleted = true;
                env.kubectl_ok(&["delete", "recommendermodel", &name, "--wait=false"]);
                format!("delete {name}")
            }
            65..80 => match operator.take() {
                Some(mut running) => {
                    running.kill_hard();
                    if rng.random_bool(0.5) {
                        operator = Some(start_operator(&env));
                        "kill and restart the operator".to_owned()
                    } else {
                        "kill the operator".to_owned()
                    }
                }
                None => {
                    operator = Some(start_operator(&env));
                    "start the operator".to_owned()
                }
            },
            80..92 => {
                let fault = random_fault(&mut rng);
                env.fault(fault.clone());
                format!("fault {fault}")
            }
            _ => {
                env.clear_faults();
                "clear faults".to_owned()
            }
        };
        journal.push(format!("{step}: {what}"));
        // Give the operator a random share of time between steps, so kills land anywhere.
        std::thread::sleep(Duration::from_millis(rng.random_range(0..600)));
    }

    // Faults cleared and one more restart, so no backoff from the faults outlives them.
    env.clear_faults();
    if let Some(mut running) = operator.take() {
        running.kill_hard();
    }
    let final_operator = start_operator(&env);
    let context = |what: &str| {
        format!(
            "seed {seed}: {what}\nsteps:\n{}\noperator log: {}",
            journal.join("\n"),
            final_operator.log.display()
        )
    };
    let settled = || {
        models.iter().all(|(name, m)| {
            if m.deleted {
                return gone(&env, name);
            }
            let object = env.model(name);
            let ready = object["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            ready && object["status"]["observedGeneration"] == object["metadata"]["generation"]
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while !settled() {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            context("the models did not settle in 180 s")
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    check_invariants(&env, &models, &context);
}

fn check_invariants(
    env: &TestEnv,
    models: &BTreeMap<String, Tracked>,
    context: &dyn Fn(&str) -> String,
) {
    let stored = env.configurations();
    let mut by_name: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for c in &stored {
        let name = c["configuration"]["Name"].as_str().unwrap_or_default();
        by_name.entry(name.to_owned()).or_default().push(c);
    }
    let mut accounted_roles = BTreeSet::new();
    for (name, m) in models {
        let held = by_name.get(name).map(Vec::len).unwrap_or(0);
        if !m.deleted {
            assert_eq!(
                held,
                1,
                "{}",
                context(&format!("{name}: configurations {held}"))
            );
            let object = env.model(name);
            let id = &object["status"]["configurationId"];
            let config = &by_name[name][0];
            assert_eq!(
                &config["id"],
                id,
                "{}",
                context(&format!("{name}: recorded ID"))
            );
            let wire = &config["configuration"];
            let expected = chaos_model(name, m);
            assert_eq!(
                wire["Description"],
                expected["spec"]["description"],
                "{}",
                context(name)
            );
            assert_eq!(
                wire["RecommendationsPerMessage"],
                expected["spec"]["recommendationsPerMessage"],
                "{}",
                context(name)
            );
            assert_eq!(
                wire["RecommendationProviderRoleArn"],
                object["status"]["roleArn"],
                "{}",
                context(name)
            );
            if m.role {
                accounted_roles.insert(format!("chaos-{name}"));
            }
        } else if m.retain {
            assert!(held <= 1, "{}", context(&format!("{name}: {held} kept")));
            if m.published {
                assert_eq!(
                    held,
                    1,
                    "{}",
                    context(&format!("{name}: kept under Retain"))
                );
            }
            if m.role {
                accounted_roles.insert(format!("chaos-{name}"));
            }
        } else {
            assert_eq!(
                held,
                0,
                "{}",
                context(&format!("{name}: left behind after Delete"))
            );
        }
    }
    for name in by_name.keys() {
        assert!(
            models.contains_key(name),
            "{}",
            context(&format!("configuration {name} belongs to no model"))
        );
    }
    for role in env.roles() {
        let name = role["name"].as_str().unwrap_or_default();
        if name.starts_with("chaos-") {
            assert!(
                accounted_roles.contains(name),
                "{}",
                context(&format!("role {name} belongs to no model"))
            );
        }
    }
}

#[test]
fn random_creates_edits_deletes_crashes_and_faults_leave_everything_accounted_for() {
    let steps = std::env::var("CHAOS_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let seeds: Vec<u64> = match (std::env::var("CHAOS_SEED"), std::env::var("CHAOS_SEEDS")) {
        (Ok(seed), _) => vec![seed.parse().expect("CHAOS_SEED is a number")],
        (_, Ok(n)) => (1..=n.parse().expect("CHAOS_SEEDS is a number")).collect(),
        // The fixed set the test command runs.
        _ => vec![7, 42],
    };
    for seed in seeds {
        run_seed(seed, steps);
    }
}
