"""Checks the chart's alerts and Grafana dashboard, without a cluster: the metrics they read are the
ones the operator exports (promql.py reads the queries and src/'s metrics), the alert rules are
complete and take their tunables, promtool accepts them (`check rules`) and they fire, or not, on
series (`test rules`), the dashboard's ConfigMap and panels, and the schema of the monitoring
values.

Needs helm and promtool (see chart.py).

    pytest deploy/test_monitoring.py
"""

import json
import re
import subprocess

import pytest
import yaml

from chart import CHART, NAMESPACE, RELEASE, REPO, RULE_VALUES, assert_rejected_by_schema, helm, render, tool, values_file
from promql import check_metrics_exported, exported_metrics, promql_selectors, registered_metrics


def test_registered_metrics_are_read_as_scrapes_see_them():
    families = registered_metrics()
    assert families["controller_runtime_reconcile"] == "Counter"
    assert families["controller_runtime_reconcile_time_seconds"] == "Histogram"
    assert families["recommender_operator_models"] == "Gauge"
    # Every metric the end-to-end tests read off a real /metrics is one this parser finds.
    scraped = set()
    for path in (REPO / "tests").rglob("*.rs"):
        scraped |= set(re.findall(r"\b((?:recommender_operator|controller_runtime|leader_election|workqueue|rest_client)_\w+)[{ ]", path.read_text()))
    assert scraped, "the end-to-end tests no longer read any metric by name"
    assert scraped <= exported_metrics(), scraped - exported_metrics()


def test_promql_reader():
    assert promql_selectors('sum by (a) (rate(x_total{job="j",o=~"a|b"}[5m])) / ignoring(o) group_left sum(y) > 0.1') == [
        ("x_total", ['job="j"', 'o=~"a|b"']),
        ("y", []),
    ]
    assert promql_selectors('absent(up{job="j"} == 1) unless on() vector(0) or z offset 5m') == [("up", ['job="j"']), ("z", [])]
    for bad in ["sum(x", "rat(x[5m])", 'x{job=j}', "x[5 m]", "x $y"]:
        with pytest.raises(AssertionError):
            promql_selectors(bad)


ALERTS = {
    "RecommenderOperatorDown",
    "RecommenderOperatorReplicaDown",
    "RecommenderOperatorNoLeader",
    "RecommenderModelsNotReady",
    "RecommenderModelsQuotaExceeded",
    "RecommenderModelsNearPinpointQuota",
    "RecommenderOperatorPinpointErrors",
    "RecommenderOperatorPinpointThrottled",
    "RecommenderOperatorReconcileErrors",
}
DEFAULT_SELECTOR = [f'job="{RELEASE}-metrics"', f'namespace="{NAMESPACE}"']
DURATION = re.compile(r"([0-9]+(ms|s|m|h|d|w|y))+")


def prometheus_rule(*args):
    (rule,) = [d for d in render("--set", "metrics.prometheusRule.enabled=true", *args) if d["kind"] == "PrometheusRule"]
    return rule


def alerts(rule):
    (group,) = rule["spec"]["groups"]
    return {r["alert"]: r for r in group["rules"]}


def test_monitoring_objects_off_by_default():
    docs = render()
    assert not [d for d in docs if d["kind"] == "PrometheusRule"]
    assert not [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]


def test_alert_rules_are_complete_and_read_exported_metrics():
    rule = prometheus_rule()
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == NAMESPACE
    rules = alerts(rule)
    assert set(rules) == ALERTS
    for name, r in rules.items():
        assert set(r) == {"alert", "expr", "for", "labels", "annotations"}, name
        assert DURATION.fullmatch(r["for"]), name
        assert r["labels"]["severity"] in ("critical", "warning"), name
        notes = r["annotations"]
        assert notes["summary"].strip() and notes["description"].strip(), name
        assert notes["runbook_url"].startswith("https://"), name
        for text in notes.values():
            # Prometheus' templates survived Helm; Helm's left nothing behind.
            assert "<no value>" not in text and "%!" not in text, (name, text)
            opened = len(re.findall(r"\{\{-? *(?:if|with|range)\b", text))
            assert opened == len(re.findall(r"\{\{-? *end *-?\}\}", text)), (name, text)
            assert text.count("{{") == text.count("}}"), (name, text)
        check_metrics_exported(r["expr"], DEFAULT_SELECTOR)
    assert rules["RecommenderOperatorDown"]["labels"]["severity"] == "critical"
    assert rules["RecommenderOperatorNoLeader"]["labels"]["severity"] == "critical"
    # Each hint names the condition reasons it is about.
    description = rules["RecommenderModelsNotReady"]["annotations"]["description"]
    for reason in ["InvalidSpec", "AccessDenied", "Throttled", "QuotaExceeded", "PinpointUnavailable", "RoleNotAllowed"]:
        assert f'"{reason}"' in description, reason
    assert "QuotaExceeded" in rules["RecommenderModelsQuotaExceeded"]["annotations"]["description"]
    assert 'reason="QuotaExceeded"' in rules["RecommenderModelsQuotaExceeded"]["expr"]
    assert 'outcome="throttled"' in rules["RecommenderOperatorPinpointThrottled"]["expr"]


def test_alert_rules_take_their_tunables(tmp_path):
    rule = [d for d in render(*values_file(tmp_path, RULE_VALUES)) if d["kind"] == "PrometheusRule"][0]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules = alerts(rule)
    selector = ['job="recommender-operator"', 'namespace="operators"']
    for name, r in rules.items():
        assert r["labels"]["team"] == "platform", name
        assert r["annotations"]["runbook_url"] == "https://wiki.example.com/recommender-operator"
        check_metrics_exported(r["expr"], selector)
    fors = {name: r["for"] for name, r in rules.items()}
    assert fors == {
        "RecommenderOperatorDown": "2m",
        "RecommenderOperatorReplicaDown": "2m",
        "RecommenderOperatorNoLeader": "3m",
        "RecommenderModelsNotReady": "30m",
        "RecommenderModelsQuotaExceeded": "10m",
        "RecommenderModelsNearPinpointQuota": "1h",
        "RecommenderOperatorPinpointErrors": "20m",
        "RecommenderOperatorPinpointThrottled": "30m",
        "RecommenderOperatorReconcileErrors": "45m",
    }
    assert rules["RecommenderModelsNearPinpointQuota"]["expr"].endswith(">= 80")
    assert rules["RecommenderOperatorPinpointErrors"]["expr"].endswith("> 0.25")
    assert rules["RecommenderOperatorPinpointThrottled"]["expr"].endswith("> 0.02")
    assert rules["RecommenderOperatorReconcileErrors"]["expr"].endswith("> 0.3")
    # The one alert that can be turned off, and the runbook link.
    rules = alerts(prometheus_rule("--set", "metrics.prometheusRule.quotaWarningModels=0,metrics.prometheusRule.runbookUrl="))
    assert set(rules) == ALERTS - {"RecommenderModelsNearPinpointQuota"}
    assert not [r for r in rules.values() if "runbook_url" in r["annotations"]]
    # additionalLabels cannot take severity from the alerts.
    result = helm("template", "r", str(CHART), "--set", "metrics.prometheusRule.additionalLabels.severity=page", check=False)
    assert result.returncode != 0 and "schema" in result.stderr


def promtool(*args, cwd):
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, cwd=cwd)


def test_alert_rules_pass_promtool(tmp_path):
    for name, args in [("default", []), ("tuned", values_file(tmp_path, RULE_VALUES))]:
        path = tmp_path / f"{name}.rules.yaml"
        path.write_text(yaml.safe_dump(prometheus_rule(*args)["spec"]))
        result = promtool("check", "rules", path.name, cwd=tmp_path)
        assert result.returncode == 0, f"promtool check rules ({name} values):\n{result.stdout}{result.stderr}"
        assert "SUCCESS: 9 rules found" in result.stdout, result.stdout


# promtool's rule unit tests: series the operator would export, and the alerts that must (and must
# not) fire on them with the chart's default thresholds. The rules are tested without their
# annotations (promtool would compare every rendered description word for word).
SERIES = 'job="recommender-operator-metrics",namespace="recommender-operator",pod="op-0"'
RULE_TESTS = f"""
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'recommender_operator_models{{{SERIES},reason="Throttled",ready="False"}}'
        values: '3x40'
      - series: 'recommender_operator_models{{{SERIES},reason="Published",ready="True"}}'
        values: '10x40'
      - series: 'leader_election_master_status{{{SERIES},name="recommender-operator"}}'
        values: '0x40'
      - series: 'up{{{SERIES}}}'
        values: '1x40'
    alert_rule_test:
      - {{alertname: RecommenderModelsNotReady, eval_time: 10m, exp_alerts: []}}
      - alertname: RecommenderModelsNotReady
        eval_time: 20m
        exp_alerts: [{{exp_labels: {{severity: warning, reason: Throttled}}}}]
      - alertname: RecommenderOperatorNoLeader
        eval_time: 20m
        exp_alerts: [{{exp_labels: {{severity: critical}}}}]
      - {{alertname: RecommenderOperatorDown, eval_time: 20m, exp_alerts: []}}
      - {{alertname: RecommenderModelsQuotaExceeded, eval_time: 20m, exp_alerts: []}}
  - interval: 1m
    input_series:
      - series: 'recommender_operator_models{{{SERIES},reason="Published",ready="True"}}'
        values: '10x40'
      - series: 'leader_election_master_status{{{SERIES},name="recommender-operator"}}'
        values: '1x40'
      - series: 'up{{{SERIES}}}'
        values: '0x40'
    alert_rule_test:
      - alertname: RecommenderOperatorDown
        eval_time: 20m
        exp_alerts: [{{exp_labels: {{severity: critical}}}}]
      - {{alertname: RecommenderModelsNotReady, eval_time: 20m, exp_alerts: []}}
"""


def test_alert_rules_fire_on_series(tmp_path):
    spec = prometheus_rule()["spec"]
    for group in spec["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "tests.yaml").write_text(RULE_TESTS)
    result = promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode == 0, f"promtool test rules:\n{result.stdout}{result.stderr}"


DASHBOARD = CHART / "files" / "dashboards" / "recommender-operator.json"


def dashboard_targets(dashboard):
    """(panel title, query) of every panel, rows' panels included; Grafana's $__rate_interval
    read as 5m, so that the query is plain PromQL."""
    found = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    found.append((p["title"], t["expr"].replace("$__rate_interval", "5m")))
            walk(p.get("panels", []))

    walk(dashboard["panels"])
    return found


def test_dashboard_config_map_for_the_grafana_sidecar():
    docs = render(
        "--set", "metrics.grafanaDashboard.enabled=true",
        "--set", "metrics.grafanaDashboard.namespace=monitoring",
        "--set", "metrics.grafanaDashboard.annotations.grafana_folder=Operators",
    )
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Operators"}
    assert json.loads(cm["data"]["recommender-operator.json"]) == json.loads(DASHBOARD.read_text())


def test_dashboard_reads_exported_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "recommender-operator"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "job"):
        (metric, _), *_ = promql_selectors(re.fullmatch(r"label_values\((.*), \w+\)", variables[name]["definition"]).group(1))
        assert metric in exported_metrics(), name
    ids = []

    def walk(ps):
        for p in ps:
            ids.append(p["id"])
            if p["type"] != "row":
                assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
                assert p["targets"], p["title"]
            walk(p.get("panels", []))

    walk(dashboard["panels"])
    assert len(ids) == len(set(ids)), "panel ids are unique"
    read = set()
    for title, expr in dashboard_targets(dashboard):
        check_metrics_exported(expr, ['namespace="$namespace"', 'job="$job"'])
        read |= {name for name, _ in promql_selectors(expr)}
    # The panels the dashboard is for: models by reason, reconciles (rate, errors, duration),
    # Pinpoint calls by operation and outcome, throttling, leader, CPU and memory.
    assert {
        "recommender_operator_models",
        "controller_runtime_reconcile_total",
        "recommender_operator_reconcile_errors_by_reason_total",
        "controller_runtime_reconcile_time_seconds_bucket",
        "recommender_operator_pinpoint_requests_total",
        "recommender_operator_pinpoint_request_duration_seconds_bucket",
        "recommender_operator_aws_attempts_total",
        "leader_election_master_status",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    } <= read


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "metrics.prometheusRule.bogus=1"],
        ["--set", "metrics.prometheusRule.enable=true"],
        ["--set", "metrics.prometheusRule.notReadyFor=15 minutes"],
        ["--set", "metrics.prometheusRule.notReadyFor=15"],
        ["--set", "metrics.prometheusRule.pinpointErrorRatio=2"],
        ["--set", "metrics.prometheusRule.pinpointThrottledRatio=1"],
        ["--set", "metrics.prometheusRule.reconcileErrorRatio=0"],
        ["--set", "metrics.prometheusRule.quotaWarningModels=-1"],
        ["--set", "metrics.prometheusRule.additionalLabels.team=1"],
        ["--set-string", "metrics.prometheusRule.selector=job=recommender-operator"],
        ["--set", "metrics.prometheusRule.runbookUrl=wiki/recommender"],
        ["--set", "metrics.prometheusRule.labels.release.name=x"],
        ["--set", "metrics.grafanaDashboard.bogus=1"],
        ["--set", "metrics.grafanaDashboard.labelValue=true"],
        ["--set", "metrics.grafanaDashboard.label="],
        ["--set", "metrics.grafanaDashboard.namespace=Monitoring"],
        ["--set", "metrics.grafanaDashboard.annotations.grafana_folder.name=x"],
        ["--set", "metrics.grafanaDashboard.folder=Operators"],
    ],
    ids=lambda a: a[-1],
)
def test_schema_rejects_monitoring_values(args):
    assert_rejected_by_schema(args)


def test_monitoring_values_lint_strictly(tmp_path):
    lint = helm("lint", "--strict", str(CHART), *values_file(tmp_path, RULE_VALUES), check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
