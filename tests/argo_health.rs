//! The Argo CD health check for RecommenderModel, run by Argo CD's own code: `argo-health`
//! (built by `scripts/tools.sh` from `scripts/argo-health` against argo-cd v3.6.1) loads
//! `health.lua` into Argo's `util/lua` VM, with the sandbox and libraries the application
//! controller gives a script from argocd-cm.

mod support;

use std::{path::PathBuf, process::Command};

use serde_json::Value;
use support::cluster::{text, tool};

fn check_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/argocd/pinpoint.recommenders.dev/RecommenderModel")
}

fn cases() -> Vec<Value> {
    let source =
        std::fs::read_to_string(check_dir().join("health_test.yaml")).expect("health_test.yaml");
    let file: Value = serde_saphyr::from_str(&source).expect("health_test.yaml is YAML");
    file["tests"].as_array().expect("a list of tests").clone()
}

/// `argo-health` with `args`, the script first.
fn argo_health(args: &[&str]) -> std::process::Output {
    Command::new(tool("argo-health"))
        .arg(args[0])
        .arg(check_dir().join("health.lua"))
        .args(&args[1..])
        .current_dir(check_dir())
        .output()
        .expect("argo-health runs")
}

/// Every case of `health_test.yaml`, as Argo CD's own resource_customizations tests run theirs:
/// the script alone in Argo's VM, with the controller's default libraries (no `string`).
#[test]
fn every_case_passes_in_argo_cds_lua_vm() {
    let out = argo_health(&["--test", "health_test.yaml"]);
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains(&format!("{} passed, 0 failed", cases().len())),
        "{report}"
    );
}

/// The application controller's whole path (gitops-engine's `GetResourceHealth`): the script's
/// answer for every live model; a model being deleted is judged by Argo before the script runs.
#[test]
fn the_controller_path_gives_the_scripts_answer_except_while_deleting() {
    for case in cases() {
        let input = case["inputPath"].as_str().expect("inputPath");
        let out = Command::new(tool("argo-health"))
            .args(["--engine"])
            .arg(check_dir().join("health.lua"))
            .arg(check_dir().join(input))
            .output()
            .expect("argo-health runs");
        assert!(out.status.success(), "{input}: {}", text(&out.stderr));
        let got: Value = serde_json::from_str(text(&out.stdout).trim()).expect("a JSON line");
        let want = &case["healthStatus"];
        assert_eq!(got["status"], want["status"], "{input}: {got}");
        if input.contains("deleting") {
            assert!(
                got["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Pending deletion")),
                "{input}: {got}"
            );
        } else {
            assert_eq!(got["message"], want["message"], "{input}: {got}");
        }
    }
}

/// Guards the guard: Argo's VM must refuse what the controller's default sandbox lacks, or the
/// cases above would prove nothing about it.
#[test]
fn the_vm_has_no_string_library_by_default() {
    let dir = std::env::temp_dir().join(format!("argo-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let script = dir.join("uses_string.lua");
    std::fs::write(
        &script,
        "return { status = string.format('%s', 'Healthy') }",
    )
    .expect("a script");
    let object = dir.join("object.yaml");
    std::fs::write(
        &object,
        "apiVersion: pinpoint.recommenders.dev/v1alpha1\nkind: RecommenderModel\nmetadata: {name: m}\n",
    )
    .expect("an object");
    let out = Command::new(tool("argo-health"))
        .arg(&script)
        .arg(&object)
        .output()
        .expect("argo-health runs");
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let out = Command::new(tool("argo-health"))
        .arg("--open-libs")
        .arg(&script)
        .arg(&object)
        .output()
        .expect("argo-health runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
