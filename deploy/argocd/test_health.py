"""Checks the Argo CD health check's files: every testdata file is a case, the cases cover the
outcomes, and argocd-cm.yaml carries health.lua unchanged. The cases themselves run in Argo CD's
own Lua VM (tests/argo_health.rs, with argo-health built by scripts/tools.sh).

    pytest deploy/argocd
"""

import pathlib

import yaml

HERE = pathlib.Path(__file__).resolve().parent
CHECK_DIR = HERE / "pinpoint.recommenders.dev" / "RecommenderModel"
SCRIPT = (CHECK_DIR / "health.lua").read_text()
CM_KEY = "resource.customizations.health.pinpoint.recommenders.dev_RecommenderModel"


def test_every_testdata_file_is_a_case():
    used = {t["inputPath"] for t in yaml.safe_load((CHECK_DIR / "health_test.yaml").read_text())["tests"]}
    present = {f"testdata/{p.name}" for p in (CHECK_DIR / "testdata").glob("*.yaml")}
    assert present == used


def test_required_outcomes_are_covered():
    tests = yaml.safe_load((CHECK_DIR / "health_test.yaml").read_text())["tests"]
    statuses = {t["healthStatus"]["status"] for t in tests}
    assert {"Healthy", "Progressing", "Degraded"} <= statuses


def test_argocd_cm_matches_health_lua():
    cm = yaml.safe_load((HERE / "argocd-cm.yaml").read_text())
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm"
    assert cm["data"][CM_KEY] == SCRIPT, (
        "argocd-cm.yaml's script differs from health.lua: regenerate it from health.lua"
    )
