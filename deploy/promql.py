"""What the alerts and the dashboard may read: the metrics the operator exports (read from the
`register` calls in src/, as a scrape sees them), and a PromQL lexer that finds the metric names
and matchers a query uses. promtool checks the alert rules' grammar fully; this finds the names.
"""

import functools
import re

from chart import REPO

SRC = REPO / "src"
# Prometheus' own series, and the kubelet's cAdvisor ones (the container's CPU and memory).
NOT_THE_OPERATORS = {"up", "container_cpu_usage_seconds_total", "container_memory_working_set_bytes"}
# What prometheus-client's OpenMetrics text encoder writes for each metric type it registers.
SUFFIXES = {"Counter": ["_total"], "Gauge": [""], "Histogram": ["_bucket", "_sum", "_count"], "Info": ["_info"]}
REGISTER = re.compile(r"\.register(_with_unit)?\s*\(")


def call_args(text, start):
    """The top-level, comma-separated arguments of the call whose `(` is at text[start - 1]."""
    args, depth, current, i = [], 0, "", start
    while i < len(text):
        ch = text[i]
        if ch == '"':
            end = text.index('"', i + 1)
            while text[end - 1] == "\\":
                end = text.index('"', end + 1)
            current += text[i : end + 1]
            i = end + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return [a.strip() for a in [*args, current] if a.strip()]
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(current)
            current = ""
            i += 1
            continue
        current += ch
        i += 1
    raise AssertionError(f"unclosed call at {text[start - 40 : start]!r}")


def metric_type(text, arg):
    """The prometheus-client type of a metric argument: named in the expression, else in the
    `let` that binds its variable, else in the struct field of that name."""
    kinds = "|".join(SUFFIXES)
    found = re.search(rf"\b({kinds})\b", arg)
    if not found:
        # `x`, `self.x`, `queue.x.clone()`: the variable or field is the last name of the path.
        var = re.sub(r"\.clone\(\)$", "", arg.strip("& ")).split(".")[-1]
        found = re.search(rf"\blet\s+(?:mut\s+)?{var}\b[^;]*?\b({kinds})\b", text, re.S) or re.search(
            rf"\b{var}\s*:\s*[^;=\n]*?\b({kinds})\b", text
        )
    assert found, f"cannot tell the metric type of {arg!r}"
    return found.group(1)


@functools.cache
def registered_metrics():
    """{family name: type} for every metric src/ registers with prometheus-client."""
    families = {}
    for path in sorted(SRC.rglob("*.rs")):
        text = path.read_text()
        assert "sub_registry_with_prefix" not in text, f"{path}: prefixes are not understood here; teach registered_metrics()"
        for m in REGISTER.finditer(text):
            args = call_args(text, m.end())
            if not args or not args[0].startswith('"'):
                continue  # some other register()
            name = args[0].strip('"')
            if m.group(1):  # register_with_unit(name, help, unit, metric): the unit is appended
                unit = re.fullmatch(r"Unit::(\w+)(?:\(\s*\"(\w+)\"\s*\))?", args[2])
                assert unit, f"{path}: unit {args[2]!r}"
                name += "_" + (unit.group(2) or unit.group(1).lower())
            families[name] = metric_type(text, args[-1])
    return families


@functools.cache
def exported_metrics():
    """Every sample name the operator's /metrics can carry."""
    return {name + suffix for name, kind in registered_metrics().items() for suffix in SUFFIXES[kind]}


PROMQL_FUNCTIONS = set(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max
    clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv exp
    floor histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
    histogram_sum holt_winters double_exponential_smoothing hour idelta increase irate label_join label_replace
    last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
    present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
    sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp
    vector year""".split()
)
PROMQL_AGGREGATIONS = set("sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio".split())
PROMQL_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
PROMQL_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|(?P<number>[0-9][0-9a-zA-Z_.]*)"""
    r"""|(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)|(?P<var>\$\w+|\$\{\w+\})"""
    r"""|(?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>(){}\[\],:@=]))"""
)


def promql_selectors(expr):
    """[(metric name, label matchers)] of every vector selector in a PromQL expression, after
    checking what a lexer can: known functions and keywords, balanced brackets, well-formed label
    matchers and ranges. promtool checks the alert rules' grammar fully; this finds the names."""
    tokens, pos, expr = [], 0, expr.strip()
    while pos < len(expr):
        m = PROMQL_TOKEN.match(expr, pos)
        assert m and m.end() > pos, f"cannot read {expr[pos:]!r} in {expr!r}"
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    selectors, depth, i = [], 0, 0

    def matchers(i):
        """Reads `{a="x", b!~"y"}` from tokens[i] (the `{`); returns the text and the next index."""
        assert tokens[i] == ("op", "{")
        i += 1
        out = []
        while tokens[i] != ("op", "}"):
            (k1, label), (k2, op), (k3, value) = tokens[i : i + 3]
            assert k1 == "ident" and op in ("=", "!=", "=~", "!~") and k3 == "string", f"bad matcher in {expr!r}"
            out.append(f"{label}{op}{value}")
            i += 3
            if tokens[i] == ("op", ","):
                i += 1
        return out, i + 1

    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else (None, None)
        if kind == "ident" and text in PROMQL_GROUPING:
            i += 1
            if following == ("op", "("):  # a list of label names
                i += 1
                while tokens[i] != ("op", ")"):
                    assert tokens[i][0] == "ident" or tokens[i] == ("op", ","), f"bad label list in {expr!r}"
                    i += 1
                i += 1
            continue
        if kind == "ident" and text in PROMQL_AGGREGATIONS and following in (("ident", "by"), ("ident", "without")):
            pass  # sum by (a) (...): the grouping comes first
        elif kind == "ident" and following == ("op", "("):
            assert text in PROMQL_FUNCTIONS | PROMQL_AGGREGATIONS, f"unknown function {text}() in {expr!r}"
        elif kind == "ident" and text.lower() not in PROMQL_WORDS:
            i += 1
            labels = []
            if i < len(tokens) and tokens[i] == ("op", "{"):
                labels, i = matchers(i)
            selectors.append((text, labels))
            continue
        elif kind == "op" and text == "{":  # a selector without a name
            labels, i = matchers(i)
            selectors.append((None, labels))
            continue
        elif kind == "op" and text == "[":  # a range or subquery: durations and variables only
            i += 1
            while tokens[i] != ("op", "]"):
                assert tokens[i][0] in ("number", "var") or tokens[i] == ("op", ":"), f"bad range in {expr!r}"
                i += 1
        elif kind == "op" and text == "(":
            depth += 1
        elif kind == "op" and text == ")":
            depth -= 1
            assert depth >= 0, f"unbalanced ) in {expr!r}"
        elif kind == "var":
            raise AssertionError(f"a variable outside a range or string in {expr!r}")
        i += 1
    assert depth == 0, f"unbalanced ( in {expr!r}"
    return selectors


def check_metrics_exported(expr, required_matchers):
    """Every metric the expression reads is exported (or Prometheus' or the kubelet's), and every
    selector of an operator metric carries the matchers that keep other operators' series out."""
    exported = exported_metrics()
    selectors = promql_selectors(expr)
    assert selectors, expr
    for name, labels in selectors:
        assert name in exported | NOT_THE_OPERATORS, f"{name} is not a metric the operator exports (src/telemetry.rs): {expr}"
        if name in exported or name == "up":
            missing = [m for m in required_matchers if m not in labels]
            assert not missing, f"{name} lacks {missing} in {expr}"
