"""Runs the Argo CD health check for RecommenderModel against its own test cases.

Argo CD runs health scripts in gopher-lua (Lua 5.1) with only the base, table, package and a
safe os library: the string library (and so string methods such as ("x"):sub) is loaded only for
argocd-cm scripts that opt in. The sandbox below gives the script the same, so a script that
passes here also runs in Argo CD, whichever way it is installed.

    pip install lupa pyyaml pytest
    pytest deploy/argocd
"""

import datetime
import pathlib

import pytest
import yaml

try:
    from lupa.lua51 import LuaRuntime  # lupa >= 2.0 ships Lua 5.1 as its own module
except ImportError:  # older lupa: one runtime, LuaJIT or 5.x, still 5.1-compatible
    from lupa import LuaRuntime

HERE = pathlib.Path(__file__).resolve().parent
CHECK_DIR = HERE / "pinpoint.recommenders.dev" / "RecommenderModel"
SCRIPT = (CHECK_DIR / "health.lua").read_text()
CM_KEY = "resource.customizations.health.pinpoint.recommenders.dev_RecommenderModel"
VALID_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

# Runs `src` with only what Argo CD gives a script that did not opt in to the standard library.
SANDBOX = """
local src, obj = ...
local env = { obj = obj, table = table, _VERSION = _VERSION }
for _, name in ipairs({ "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
    "print", "rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring",
    "type", "unpack", "xpcall" }) do
  env[name] = _G[name]
end
env._G = env
-- Without the string library strings have no metatable, so ("x"):sub(...) fails as in Argo CD.
debug.setmetatable("", nil)
local fn, err
if setfenv then
  fn, err = loadstring(src, "=health.lua")
  if fn then setfenv(fn, env) end
else
  fn, err = load(src, "=health.lua", "t", env)
end
if not fn then error(err) end
return fn()
"""


def to_lua(lua, value):
    """Converts a YAML value the way Argo CD hands an object to Lua (JSON types only)."""
    if isinstance(value, dict):
        table = lua.table()
        for k, v in value.items():
            table[k] = to_lua(lua, v)
        return table
    if isinstance(value, list):
        table = lua.table()
        for i, v in enumerate(value, start=1):
            table[i] = to_lua(lua, v)
        return table
    if isinstance(value, datetime.datetime):  # PyYAML parses unquoted timestamps
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def run(script, obj):
    lua = LuaRuntime(unpack_returned_tuples=True)
    result = lua.execute(SANDBOX, script, to_lua(lua, obj))
    assert lua.eval("type")(result) == "table", f"the script returned {result!r}, not a table"
    return dict(result.items())


def cases():
    tests = yaml.safe_load((CHECK_DIR / "health_test.yaml").read_text())["tests"]
    return [pytest.param(t, id=pathlib.Path(t["inputPath"]).stem) for t in tests]


@pytest.mark.parametrize("case", cases())
def test_health(case):
    obj = yaml.safe_load((CHECK_DIR / case["inputPath"]).read_text())
    got = run(SCRIPT, obj)
    assert got["status"] in VALID_STATUSES
    assert got == case["healthStatus"]


def test_every_testdata_file_is_a_case():
    used = {t["inputPath"] for t in yaml.safe_load((CHECK_DIR / "health_test.yaml").read_text())["tests"]}
    present = {f"testdata/{p.name}" for p in (CHECK_DIR / "testdata").glob("*.yaml")}
    assert present == used


def test_required_outcomes_are_covered():
    tests = yaml.safe_load((CHECK_DIR / "health_test.yaml").read_text())["tests"]
    statuses = {t["healthStatus"]["status"] for t in tests}
    assert {"Healthy", "Progressing", "Degraded"} <= statuses


def test_sandbox_has_no_string_library():
    # Guards the guard: if the sandbox let string methods through, test_health would prove nothing.
    with pytest.raises(Exception):
        run('return { status = ("x"):upper() }', {})
    with pytest.raises(Exception):
        run("return { status = string.upper('x') }", {})


def test_argocd_cm_matches_health_lua():
    cm = yaml.safe_load((HERE / "argocd-cm.yaml").read_text())
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm"
    assert cm["data"][CM_KEY] == SCRIPT, (
        "argocd-cm.yaml's script differs from health.lua: regenerate it from health.lua"
    )
