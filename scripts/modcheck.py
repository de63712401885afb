#!/usr/bin/env python3
"""The shape check the test command runs: in the operator (`src/`) and the emulator
(`emulator/src/`), no two modules import each other (directly or round a longer cycle), no source
file is over 600 lines, and the operator's layers import only the layers above them.

Imports are read from the source text (`crate::`, `super::`, `self::` paths and `use`s of sibling
modules), which is enough for code that writes its paths out, as this project does.

Usage: python3 scripts/modcheck.py   (exit 1 with one line per problem)
"""
import os
import re
import sys

MAX_LINES = 600

# The operator's layers, top first, as `src/lib.rs` lists them: a module may import its own
# layer and the ones before it.
LAYERS = [
    {"api"},
    {"domain"},
    {"lock", "telemetry"},
    {"aws"},
    {"pipeline"},
    {"controller"},
    {"runtime", "cli"},
    {"main", "lib"},
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sources(src):
    out = {}
    for root, _, names in os.walk(src):
        for name in sorted(names):
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as f:
                    out[path] = f.read()
    return out


def module_of(src, path):
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main") and len(parts) > 1:
        parts = parts[:-1]
    return tuple(parts)


def expand(tree):
    """`a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`."""
    tree = tree.strip()
    m = re.match(r"^([\w:]*?)\{(.*)\}$", tree, re.S)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    out, depth, cur = [], 0, ""
    for ch in inner + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            if cur.strip():
                out += [prefix + x for x in expand(cur)]
            cur = ""
        else:
            cur += ch
    return out


def paths_in(text):
    """Every module path the text names, as written."""
    text = re.sub(r"//[^\n]*", "", text)
    found = []
    for m in re.finditer(r"\buse\s+([^;]+);", text, re.S):
        found += expand(re.sub(r"\s+", "", m.group(1)))
    found += re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", text)
    return found


def graph(src):
    files = sources(src)
    mods = {module_of(src, p): p for p in files}
    edges = {p: set() for p in files}
    for path, text in files.items():
        here = module_of(src, path)
        is_dir_module = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
        base = here if is_dir_module else here[:-1]
        for written in paths_in(text):
            parts = written.split("::")
            if parts[0] == "crate":
                parts = parts[1:]
            elif parts[0] == "self":
                parts = list(base) + parts[1:]
            elif parts[0] == "super":
                up = list(base)
                while parts and parts[0] == "super":
                    up, parts = up[:-1], parts[1:]
                parts = up + parts
            else:
                parts = list(base) + parts  # a sibling module named without a prefix
            for i in range(len(parts), 0, -1):
                target = mods.get(tuple(parts[:i]))
                if target:
                    if target != path and not is_parent(mods, target, path, src):
                        edges[path].add(target)
                    break
    return files, edges


def is_parent(mods, target, path, src):
    """A module's own `mod.rs` declares it; that is not an import."""
    child = module_of(src, path)
    return module_of(src, target) == child[:-1] and os.path.basename(target) == "mod.rs"


def cycles(edges):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def layer_of(src, path):
    top = module_of(src, path)[0]
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    return None


def check(src, layered):
    problems = []
    files, edges = graph(src)
    rel = lambda p: os.path.relpath(p, ROOT)
    for comp in cycles(edges):
        problems.append("cycle: " + " -> ".join(rel(p) for p in comp))
    for path, text in files.items():
        n = text.count("\n")
        if n > MAX_LINES:
            problems.append(f"{rel(path)}: {n} lines (at most {MAX_LINES})")
    if layered:
        for path, targets in edges.items():
            mine = layer_of(src, path)
            if mine is None:
                problems.append(f"{rel(path)}: in no layer of scripts/modcheck.py")
                continue
            for t in targets:
                theirs = layer_of(src, t)
                if theirs is not None and theirs > mine:
                    problems.append(f"{rel(path)} imports {rel(t)}, a layer below it")
    edge_count = sum(len(t) for t in edges.values())
    print(f"modcheck: {rel(src)}: {len(files)} files, {edge_count} imports")
    return problems


def main():
    problems = check(os.path.join(ROOT, "src"), layered=True)
    problems += check(os.path.join(ROOT, "emulator", "src"), layered=False)
    for p in problems:
        print(f"modcheck: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
