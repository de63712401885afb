#!/usr/bin/env bash
# Every test, in one command (the README's test command; .ci/run runs exactly this):
# formatting, lints, unit tests, the validation table (Rust, CEL, and a real API server), the
# emulator through the AWS SDK, the reconciler against the emulator, and the end-to-end tests
# against a real etcd + kube-apiserver with kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "pinned Kubernetes tools (built once, cached outside the repository)"
bash scripts/tools.sh >/dev/null

step "cargo fmt"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build the binaries the end-to-end tests run"
cargo build --workspace --bins --locked

step "cargo test"
cargo test --workspace --locked
