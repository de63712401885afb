//! The `validate` and `crd` commands, run as the real binary.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recommender-operator"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("the binary finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/");

#[test]
fn valid_examples_exit_zero() {
    for file in [
        "movie-recs.yaml",
        "movie-recs-enriched.yaml",
        "series-recs-own-role.yaml",
    ] {
        let out = run(&["validate", &format!("{EXAMPLES}{file}")], "");
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stdout(&out));
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn every_error_of_every_document_is_one_line() {
    let yaml = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
---
apiVersion: pinpoint.recommenders.dev/v1alpha1
kind: RecommenderModel
metadata: {name: bad, namespace: marketing}
spec:
  name: has space
  description: "wow!"
  role: {arn: "arn:aws:iam::123456789012:role/R"}
  campaignArn: arn:aws:personalize:us-east-1:123456789012:campaign/movies
  processing: {modelValue: {displayName: Top}}
---
apiVersion: pinpoint.recommenders.dev/v1alpha1
kind: RecommenderModel
metadata: {name: typed}
spec:
  role: {arn: "arn:aws:iam::123456789012:role/R"}
  campaignArn: arn:aws:personalize:us-east-1:123456789012:campaign/movies
  recommendationsPerMessage: many
  processing: {modelValue: {displayName: Top}}
"#;
    let out = run(&["validate", "-"], yaml);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("-: marketing/bad: spec.name: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("-: marketing/bad: spec.description: "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("-: default/typed: spec.recommendationsPerMessage: "),
        "{}",
        lines[2]
    );
}

#[test]
fn missing_fields_are_named_at_their_own_paths() {
    let yaml = r#"
apiVersion: pinpoint.recommenders.dev/v1alpha1
kind: RecommenderModel
metadata: {name: sparse, namespace: marketing}
spec:
  processing:
    lambda:
      function: enrich
      attributes: [{name: Title}]
---
apiVersion: pinpoint.recommenders.dev/v1alpha1
kind: RecommenderModel
metadata: {name: empty}
"#;
    let out = run(&["validate", "-"], yaml);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        [
            "-: marketing/sparse: spec.campaignArn: Required value",
            "-: marketing/sparse: spec.role: Required value",
            "-: marketing/sparse: spec.processing.lambda.attributes[0].displayName: Required value",
            "-: default/empty: spec: Required value",
        ],
    );
}

#[test]
fn unparsable_input_exits_two_with_line_and_column() {
    let out = run(&["validate", "-"], "apiVersion: v1\nkind: [unclosed\n");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2 column 7"), "{stderr}");

    let out = run(&["validate", "/nonexistent/models.yaml"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn crd_prints_the_checked_in_crd() {
    let out = run(&["crd"], "");
    assert!(out.status.success());
    let checked_in = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crds/recommendermodel.yaml"
    ))
    .expect("read CRD");
    assert_eq!(stdout(&out), checked_in);
}
