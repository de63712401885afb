//! An object the operator cannot deserialize (written under an older or looser schema) does not
//! stop the watch: it gets a condition saying what is wrong, the others carry on, and it can
//! still be deleted. Its own test binary, because it loosens the CRD on its control plane.

mod support;

use serde_json::{Value, json};
use support::{env::TestEnv, table::named};

fn model(name: &str) -> Value {
    named(name, "model value, every field set")
}

/// The CRD with `spec.recommendationsPerMessage` accepting strings too, as an older, looser
/// schema might have.
fn loosened_crd() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/recommendermodel.yaml");
    let text = std::fs::read_to_string(path).expect("read the CRD");
    let mut crd: Value = serde_saphyr::from_str(&text).expect("the CRD is YAML");
    let field = crd
        .pointer_mut("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/recommendationsPerMessage")
        .expect("the field is in the schema");
    *field = json!({"x-kubernetes-int-or-string": true});
    crd
}

#[test]
fn an_unreadable_object_is_reported_and_does_not_stop_the_others() {
    let env = TestEnv::new("unreadable");
    env.apply_ok(&model("published"));
    env.wait_condition("published", "Ready", 120);
    let id = env.model("published")["status"]["configurationId"].clone();
    assert!(id.is_string());

    let out = env.plane.kubectl_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        &loosened_crd().to_string(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut old = model("old");
    old["spec"]["recommendationsPerMessage"] = json!("five");
    env.apply_ok(&old);
    env.wait_reason("old", "Ready", "Unreadable", 120);
    let object = env.model("old");
    let ready = object["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .expect("a Ready condition");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("spec.recommendationsPerMessage"),
        "{message}"
    );

    // The watch goes on: a new model is published while the bad one sits there.
    env.apply_ok(&model("later"));
    env.wait_condition("later", "Ready", 120);

    // A published model turned unreadable can still be deleted, and its configuration goes.
    env.kubectl_ok(&[
        "patch",
        "recmodel",
        "published",
        "--type=merge",
        "-p",
        r#"{"spec":{"recommendationsPerMessage":"five"}}"#,
    ]);
    env.wait_reason("published", "Ready", "Unreadable", 120);
    assert_eq!(
        env.model("published")["status"]["configurationId"],
        id,
        "the ID is kept"
    );
    env.kubectl_ok(&["delete", "recmodel", "published", "--timeout=120s"]);
    let ids: Vec<Value> = env
        .configurations()
        .into_iter()
        .map(|c| c["id"].clone())
        .collect();
    assert!(
        !ids.contains(&id),
        "the configuration was deleted with the object"
    );
    assert_eq!(ids.len(), 1, "only later's configuration remains");
    env.kubectl_ok(&["delete", "recmodel", "old", "--timeout=60s"]);
}
