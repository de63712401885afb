#!/usr/bin/env bash
# Every test, in one command (the README's test command; .ci/run runs exactly this):
# formatting, the module shape, dependency licenses, bans and sources (cargo deny), lints, unit
# tests, the validation table (Rust, CEL, and a real API server), the emulator through the AWS SDK,
# the reconciler against the emulator, and the end-to-end tests against a real etcd +
# kube-apiserver with kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "pinned Kubernetes tools (built once, cached outside the repository)"
RECOMMENDER_TOOLS_BIN=$(bash scripts/tools.sh | tail -n 1)
export RECOMMENDER_TOOLS_BIN

step "pinned Python test tools (a virtualenv cached outside the repository)"
venv=${RECOMMENDER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/recommender-operator/venv-$(sha256sum scripts/requirements-test.txt | cut -c1-12)}
if [[ ! -x "$venv/bin/pytest" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi

step "cargo fmt"
cargo fmt --all -- --check

step "module shape: no import cycle, no file over 600 lines, layers import only upward"
python3 scripts/modcheck.py

step "cargo deny: dependency licenses, banned crates, sources (scripts/deny.toml)"
# Never `check advisories` (nor a bare `check`, which includes it): the advisory database is
# fetched from GitHub, and our machines and CI reach no network but the package registries.
# cargo-deny itself is pinned and built once into a cache outside the repository
# (scripts/cargo-tools.sh). `cargo fetch` downloads the manifests of every target's dependencies
# from crates.io (cargo metadata needs them all, and a build fetches only this target's); after it,
# --frozen keeps cargo deny off the network and Cargo.lock unchanged.
cargo_tools_bin=$(bash scripts/cargo-tools.sh | tail -n 1)
cargo fetch --locked --quiet
"$cargo_tools_bin/cargo-deny" deny --frozen --manifest-path Cargo.toml --config scripts/deny.toml \
  check --hide-inclusion-graph licenses bans sources

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build the binaries the end-to-end tests run"
cargo build --workspace --bins --locked

step "cargo test"
cargo test --workspace --locked

step "Helm chart, kustomize base, Argo CD health check files"
"$venv/bin/pytest" -q deploy

step "Dockerfile lint"
"$venv/bin/hadolint" Dockerfile && echo "hadolint: Dockerfile is clean"
