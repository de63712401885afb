"""Checks the packaged chart (`helm package`) and its Artifact Hub metadata: the package holds the
chart's files and nothing else, lints and renders, and its annotations match the CRD, the example,
the image and the crate's license.

Needs helm (see chart.py).

    pytest deploy/test_packaging.py
"""

import re
import tarfile

import pytest
import yaml

from chart import CHART, CRD, NAMESPACE, RELEASE, REPO, RULE_VALUES, helm, values_file

ARTIFACTHUB_CHANGE_KINDS = {"added", "changed", "deprecated", "removed", "fixed", "security"}


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    helm("package", str(CHART), "--destination", str(out))
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    (tgz,) = out.glob("*.tgz")
    assert tgz.name == f"{chart['name']}-{chart['version']}.tgz"
    return tgz


def test_package_holds_the_chart(package):
    with tarfile.open(package) as tar:
        names = set(tar.getnames())
    root = "recommender-operator/"
    for path in ["Chart.yaml", "values.yaml", "values.schema.json", "files/recommendermodel.yaml", "files/dashboards/recommender-operator.json"]:
        assert root + path in names, path
    templates = {root + "templates/" + p.name for p in (CHART / "templates").iterdir()}
    assert templates <= names, templates - names
    assert root + "templates/crd.yaml" in names
    # Nothing but the chart's own files (.helmignore keeps editor and OS leftovers out).
    own = {root + str(p.relative_to(CHART)) for p in CHART.rglob("*") if p.is_file()}
    assert names - {root + ".helmignore"} <= own, names - own


def test_package_lints_and_renders(package, tmp_path):
    lint = helm("lint", "--strict", str(package), check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    kinds = {d["kind"] for d in yaml.safe_load_all(helm("template", RELEASE, str(package), "--namespace", NAMESPACE).stdout) if d}
    assert {"CustomResourceDefinition", "Deployment", "ServiceAccount"} <= kinds
    out = helm("template", RELEASE, str(package), "--namespace", NAMESPACE, *values_file(tmp_path, RULE_VALUES)).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(out) if d}
    assert {"PrometheusRule", "ConfigMap"} <= kinds
    # The package's CRD is the repository's.
    (crd,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "CustomResourceDefinition"]
    assert crd["spec"] == yaml.safe_load(CRD.read_text())["spec"]


def test_artifact_hub_annotations(package):
    chart = yaml.safe_load(helm("show", "chart", str(package)).stdout)
    notes = chart["annotations"]
    crd = yaml.safe_load(CRD.read_text())
    (listed,) = yaml.safe_load(notes["artifacthub.io/crds"])
    assert set(listed) == {"kind", "version", "name", "displayName", "description"}
    assert listed["kind"] == crd["spec"]["names"]["kind"]
    assert listed["name"] == crd["metadata"]["name"]
    assert listed["version"] in [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]
    assert listed["description"].strip()
    # The example is examples/movie-recs.yaml, so it stays one the operator accepts.
    (example,) = yaml.safe_load(notes["artifacthub.io/crdsExamples"])
    assert example == yaml.safe_load((REPO / "examples" / "movie-recs.yaml").read_text())
    assert example["apiVersion"] == f"{crd['spec']['group']}/{listed['version']}"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    (image,) = yaml.safe_load(notes["artifacthub.io/images"])
    assert image["image"] == f"{values['image']['repository']}:{chart['appVersion']}"
    license = re.search(r'^license\s*=\s*"([^"]+)"', (REPO / "Cargo.toml").read_text(), re.M).group(1)
    assert notes["artifacthub.io/license"] == license == "Apache-2.0"
    links = yaml.safe_load(notes["artifacthub.io/links"])
    assert {link["name"] for link in links} >= {"Source", "Documentation"}
    assert all(link["url"].startswith("https://") for link in links)
    changes = yaml.safe_load(notes["artifacthub.io/changes"])
    assert changes and all(c["kind"] in ARTIFACTHUB_CHANGE_KINDS and c["description"] for c in changes)
    assert notes["artifacthub.io/operator"] == "true"
    assert chart["maintainers"] and chart["home"].startswith("https://") and chart["sources"]
    assert "icon" not in chart or chart["icon"].startswith("https://")
