//! `scripts/tools.sh check`: every built tool reports the version the script pins, and a binary
//! that reports another version is refused with a message that names it.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Command};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tools.sh");

fn tools(cache: Option<&Path>, arg: &str) -> std::process::Output {
    let mut command = Command::new("bash");
    command.args([SCRIPT, arg]);
    if let Some(cache) = cache {
        command.env("RECOMMENDER_TOOLS_CACHE", cache);
    }
    command
        .output()
        .expect("run scripts/tools.sh (bash and Go are needed)")
}

#[test]
fn the_built_tools_report_their_pinned_versions() {
    let out = tools(None, "check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the pinned tools are missing or differ from their pins; run `bash scripts/tools.sh`:\n{stderr}"
    );
    for line in [
        "tools: etcd: etcd Version: 3.",
        "tools: kube-apiserver: Kubernetes v1.",
        "tools: kubectl: Client Version: v1.",
        "tools: helm: v3.",
    ] {
        assert!(stderr.contains(line), "no `{line}` in:\n{stderr}");
    }
}

#[test]
fn a_tool_that_reports_another_version_is_refused() {
    let cache = std::env::temp_dir().join(format!("tools-check-{}", std::process::id()));
    let bin = String::from_utf8_lossy(&tools(Some(&cache), "bin-dir").stdout)
        .trim()
        .to_owned();
    std::fs::create_dir_all(&bin).expect("create the fake bin directory");
    // Stand-ins that answer like the real tools, one of them with the wrong version.
    for (name, answer) in [
        ("etcd", "etcd Version: 3.5.0"),
        ("kube-apiserver", "Kubernetes v1.37.2"),
        ("kubectl", "Client Version: v1.37.2"),
        ("helm", "v3.22.0"),
    ] {
        let path = Path::new(&bin).join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho '{answer}'\n")).expect("write stand-in");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("make stand-in executable");
    }
    let out = tools(Some(&cache), "check");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = std::fs::remove_dir_all(&cache);
    assert!(
        !out.status.success(),
        "a wrong etcd passed the check:\n{stderr}"
    );
    assert!(
        stderr.contains("etcd reports 'etcd Version: 3.5.0', pinned 'etcd Version: 3.6."),
        "{stderr}"
    );
    assert!(stderr.contains("does not match its pin"), "{stderr}");
}
