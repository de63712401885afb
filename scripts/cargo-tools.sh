#!/usr/bin/env bash
# Installs the pinned cargo tools the test command runs (today only cargo-deny) from crates.io into
# a cache outside the repository, once, and prints their bin directory on the last line.
#
#   bash scripts/cargo-tools.sh    install what is missing, check the version, print the bin directory
#
# The install directory is named by the pinned version, so changing the version installs anew. It
# is not named by the Rust toolchain: a built cargo-deny keeps working when rustc changes.
#
# Why this version: cargo-deny 0.20.2 is the newest on crates.io and needs Rust 1.88 or newer
# (we build with the workspace's rust-version, 1.94, or newer). It has no cargo features to trim:
# the one build does licenses, bans, sources (and advisories, which we never run: see test.sh).
set -euo pipefail

CARGO_DENY_VERSION=0.20.2

say() { echo "cargo-tools: $*" >&2; }
die() { echo "cargo-tools: error: $*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo is not installed; install Rust 1.94 or newer (rustup) and run again"

ROOT=${RECOMMENDER_CARGO_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recommender-operator}
DIR=$ROOT/cargo-deny-$CARGO_DENY_VERSION
WANT="cargo-deny $CARGO_DENY_VERSION"

installed() { [[ -x $DIR/bin/cargo-deny ]] && [[ $("$DIR/bin/cargo-deny" --version 2>/dev/null) == "$WANT" ]]; }

if ! installed; then
  say "installing $WANT from crates.io into $DIR (once; about 4 minutes on 2 cores)"
  mkdir -p "$ROOT"
  # Build into a scratch root and move it into place only when done, so an interrupted install is
  # never taken for a finished one.
  tmp=$(mktemp -d "$ROOT/.cargo-deny-$CARGO_DENY_VERSION.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  start=$SECONDS
  if ! cargo install --locked --quiet cargo-deny --version "=$CARGO_DENY_VERSION" --root "$tmp/root" \
    >"$tmp/install.log" 2>&1; then
    tail -n 40 "$tmp/install.log" >&2
    die "could not install $WANT with $(cargo --version) (log above): it needs Rust 1.88 or newer and crates.io"
  fi
  rm -rf "$DIR"
  mv "$tmp/root" "$DIR"
  installed || die "$DIR/bin/cargo-deny does not report '$WANT'"
  say "installed $WANT in $((SECONDS - start)) s"
fi

echo "$DIR/bin"
