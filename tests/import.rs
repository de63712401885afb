//! Moving from the console: configurations of every shape made through the SDK, written as
//! models by `recommender-operator import`, applied to the real API server and adopted by the
//! real operator without a single Pinpoint write; `plan` agrees, and names exactly what an edit
//! changes.

mod support;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use recommender_operator::domain::desired::{ENDPOINT_ID, RecommenderConfig, USER_ID};
use serde_json::Value;
use support::{cluster::text, env::TestEnv};

const ACCOUNT: &str = "123456789012";

fn campaign(region: &str) -> String {
    format!("arn:aws:personalize:{region}:{ACCOUNT}:campaign/movies")
}

fn role() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/PinpointRecommendations")
}

fn model_value(name: &str, region: &str) -> RecommenderConfig {
    RecommenderConfig {
        name: name.into(),
        description: Some("Top picks for you".into()),
        campaign_arn: campaign(region),
        role_arn: role(),
        id_type: USER_ID.into(),
        lambda: None,
        display_name: Some("Top picks".into()),
        recommendations_per_message: 1,
        attributes: BTreeMap::new(),
    }
}

fn lambda(name: &str, function: &str, attributes: BTreeMap<String, String>) -> RecommenderConfig {
    RecommenderConfig {
        name: name.into(),
        description: None,
        campaign_arn: campaign("us-east-1"),
        role_arn: role(),
        id_type: ENDPOINT_ID.into(),
        lambda: Some(function.into()),
        display_name: None,
        recommendations_per_message: 3,
        attributes,
    }
}

/// Every shape the console makes, each with the Region it lives in and whether the operator's
/// rules accept it. Seeded through the SDK, as the console's API calls would make them.
fn shapes() -> Vec<(&'static str, RecommenderConfig, bool)> {
    let one_with_prefix = BTreeMap::from([("Recommendations.Title".into(), "Movie title".into())]);
    let ten_without_prefix = (0..10)
        .map(|i| (format!("Attr{i}"), format!("Attribute {i}")))
        .collect();
    let mut no_description = model_value("endpoint_recs", "us-east-1");
    no_description.description = None;
    no_description.id_type = ENDPOINT_ID.into();
    vec![
        ("us-east-1", model_value("movie_recs", "us-east-1"), true),
        ("eu-west-1", model_value("movie_recs", "eu-west-1"), true),
        ("us-east-1", no_description, true),
        (
            "us-east-1",
            lambda("enrich-one", "enrich", one_with_prefix),
            true,
        ),
        (
            "us-east-1",
            lambda(
                "enrich-ten",
                &format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:enrich"),
                ten_without_prefix,
            ),
            true,
        ),
        // The API (and the console) take a space in a name; the operator's rules do not.
        ("us-east-1", model_value("Movie recs", "us-east-1"), false),
    ]
}

fn operator(env: &TestEnv, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recommender-operator"))
        .args(args)
        .arg(format!("--aws-endpoint-url={}", env.emulator_url))
        .envs([
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .output()
        .expect("the operator binary runs")
}

fn plan(env: &TestEnv, files: &[PathBuf], kubeconfig: bool) -> (Option<i32>, String) {
    let mut args = vec!["plan".to_owned()];
    if kubeconfig {
        args.push(format!("--kubeconfig={}", env.plane.kubeconfig.display()));
    }
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = operator(env, &args);
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

fn yaml_file(path: &Path) -> Value {
    let source = std::fs::read_to_string(path).expect("an imported file");
    serde_saphyr::from_str(&source).expect("an imported file is YAML")
}

#[test]
fn import_then_apply_adopts_every_configuration_without_a_write_and_plan_agrees() {
    let mut env = TestEnv::without_operator("import");
    let seeded: Vec<(String, bool)> = shapes()
        .into_iter()
        .map(|(region, config, importable)| (env.create_outside(region, &config), importable))
        .collect();
    let creates = env.calls("CreateRecommenderConfiguration");
    assert_eq!(creates, 6);

    let dir = env.plane.dir.join(format!("{}-import", env.namespace));
    let _ = std::fs::remove_dir_all(&dir);
    let out = operator(
        &env,
        &[
            "import",
            &format!("--namespace={}", env.namespace),
            &format!("--output-dir={}", dir.display()),
        ],
    );
    let log = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one configuration breaks a rule, and the exit code says so:\n{log}"
    );
    assert!(log.contains("eu-west-1: 1 configurations"), "{log}");
    assert!(log.contains("wrote 6 models, 1 with problems"), "{log}");

    // Without --output-dir: one multi-document YAML on standard output, one Region asked for.
    let out = operator(&env, &["import", "--region=eu-west-1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(&text(&out.stdout)).expect("standard output is YAML");
    assert_eq!(documents.len(), 1, "{}", text(&out.stdout));
    assert_eq!(documents[0]["kind"], "RecommenderModel");
    assert_eq!(
        documents[0]["spec"]["campaignArn"],
        campaign("eu-west-1").as_str()
    );

    // Every file adopts its configuration; the one with a space says what to change.
    let mut importable = Vec::new();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the output directory") {
        let path = entry.expect("an entry").path();
        let object = yaml_file(&path);
        let id = object["metadata"]["annotations"]["pinpoint.recommenders.dev/configuration-id"]
            .as_str()
            .expect("the adoption annotation")
            .to_owned();
        assert_eq!(object["spec"]["deletionPolicy"], "Retain");
        let (_, ok) = seeded
            .iter()
            .find(|(s, _)| *s == id)
            .expect("an imported ID is a seeded one");
        let source = std::fs::read_to_string(&path).expect("the file");
        if *ok {
            assert!(!source.contains("NOT READY"), "{source}");
            names.push((
                object["metadata"]["name"]
                    .as_str()
                    .expect("a name")
                    .to_owned(),
                id,
            ));
            importable.push(path);
        } else {
            assert!(
                source.contains("NOT READY TO APPLY") && source.contains("#   spec.name:"),
                "the rule it breaks is named above it:\n{source}"
            );
        }
    }
    assert_eq!(importable.len(), 5, "files: {importable:?}");

    // Before anything is applied, plan reads the adoption annotations: nothing would change.
    let (code, report) = plan(&env, &importable, false);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report.matches("no change").count(), 5, "{report}");

    for path in &importable {
        let out = env.kubectl(&["apply", "-f", &path.display().to_string()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    env.start_operator();
    for (name, id) in &names {
        env.wait_condition(name, "Ready", 120);
        assert_eq!(env.model(name)["status"]["configurationId"], id.as_str());
    }
    assert_eq!(env.calls("CreateRecommenderConfiguration"), creates);
    assert_eq!(env.calls("UpdateRecommenderConfiguration"), 0);
    assert_eq!(env.calls("DeleteRecommenderConfiguration"), 0);
    assert!(env.event_reasons(None).contains("Adopted"));

    // With the cluster's status: still no change.
    let (code, report) = plan(&env, &importable, true);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report.matches("no change").count(), 5, "{report}");

    // An edited copy: exactly the edited fields, old -> new, and exit code 2.
    let edited_dir = dir.join("edited");
    std::fs::create_dir_all(&edited_dir).expect("a directory");
    let source = importable
        .iter()
        .find(|path| {
            let object = yaml_file(path);
            object["spec"]["name"] == "movie_recs"
                && object["spec"]["campaignArn"] == campaign("us-east-1").as_str()
        })
        .expect("movie_recs in us-east-1 was imported");
    let mut edited = yaml_file(source);
    let id = edited["metadata"]["annotations"]["pinpoint.recommenders.dev/configuration-id"]
        .as_str()
        .expect("the adoption annotation")
        .to_owned();
    edited["spec"]["recommendationsPerMessage"] = 2.into();
    edited["spec"]["description"] = "Edited picks".into();
    let edited_path = edited_dir.join("movie-recs.yaml");
    std::fs::write(&edited_path, edited.to_string()).expect("write the edited copy");
    let (code, report) = plan(&env, &[edited_path], true);
    assert_eq!(code, Some(2), "{report}");
    assert!(
        report.contains(&format!("update configuration {id} in us-east-1"))
            && report.contains("Description: \"Top picks for you\" -> \"Edited picks\"")
            && report.contains("RecommendationsPerMessage: 1 -> 2"),
        "{report}"
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("    ")).count(),
        2,
        "exactly the two edited fields:\n{report}"
    );
    assert_eq!(
        env.calls("UpdateRecommenderConfiguration"),
        0,
        "plan writes nothing"
    );
}
