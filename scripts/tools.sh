#!/usr/bin/env bash
# Builds the pinned tools the tests and the demo need from the Go module proxy into a cache outside
# the repository: etcd, kube-apiserver, kubectl, helm; kube-controller-manager (the tests run it for
# ClusterRole aggregation); promtool (checks the chart's alert rules); kstatus (Flux's status
# library run on objects, from scripts/kstatus); argo-health (Argo CD's own Lua health-check code,
# from scripts/argo-health).
#
#   bash scripts/tools.sh [build [TOOL...]]  build what is missing (default: every tool), check
#                                            versions, print the bin directory
#   bash scripts/tools.sh check              check that every built binary reports its pinned version
#   bash scripts/tools.sh bin-dir            print the bin directory without building anything
#
# Each tool has a directory of its own, named by a hash of its recipe: the bash functions that
# build it (as bash prints them, so any edit to them counts), its pinned version, the Go version and
# the source of our own program it builds. A change to how one tool is built rebuilds that tool,
# from empty, on every machine, CI's included: a warm cache can never hide a broken build step,
# and adding a tool does not rebuild the others. The bin directory (named by the hash of all the
# recipes) holds relative links to the tools' binaries.
#
# Why these versions: Kubernetes 1.37 is the newest release the module proxy serves that builds
# with the Go on our machines; etcd 3.6 is the line kubeadm pairs with Kubernetes 1.34+; helm 3.22
# is the newest v3 (v4 changes flags that users' scripts rely on); cli-utils v0.37.2 holds the
# kstatus that Flux 2.7 computes health with; argo-cd v3.6.1 is the newest Argo CD, and needs
# Go 1.27, which the go command fetches from the module proxy for that one build (GOTOOLCHAIN);
# Prometheus 3.16 (module v0.316.0) is the newest the module proxy serves.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
KSTATUS_VERSION=${KSTATUS_VERSION:-v0.37.2}
ARGO_CD_VERSION=${ARGO_CD_VERSION:-v3.6.1}
ARGO_GO=go1.27.3
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v3.16.0}
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KSTATUS_SOURCE=$SCRIPTS/kstatus/main.go
# A module of our own with a go.mod (argo-cd's replace directives copied in: without them its
# k8s.io requirements at v0.0.0 cannot be fetched) and a go.sum, so the build is reproducible.
ARGO_HEALTH_SOURCE=$SCRIPTS/argo-health

say() { echo "tools: $*" >&2; }
die() { echo "tools: error: $*" >&2; exit 1; }

command -v go >/dev/null || die "Go is not installed; install Go 1.26 or newer (apt-get install golang, or https://go.dev/dl) and run again"

ROOT=${RECOMMENDER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recommender-operator/tools}
GO_VERSION=$(go env GOVERSION)
ALL_TOOLS=(etcd helm kube-apiserver kubectl kube-controller-manager promtool kstatus argo-health)
TOOLS=("${ALL_TOOLS[@]}")

# The version line each binary must print, and the command that prints it.
expected_version() {
  case $1 in
    etcd) echo "etcd Version: ${ETCD_VERSION#v}" ;;
    kube-apiserver | kube-controller-manager) echo "Kubernetes $KUBE_VERSION" ;;
    kubectl) echo "Client Version: $KUBE_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    promtool) echo "promtool, version ${PROMETHEUS_VERSION#v}" ;;
    kstatus) echo "cli-utils $KSTATUS_VERSION" ;;
    argo-health) echo "argo-cd $ARGO_CD_VERSION" ;;
  esac
}
# Whole output read (sed, not head), so a tool that prints more lines never dies of SIGPIPE.
reported_version() {
  case $1 in
    etcd) "$BIN/etcd" --version | sed -n 1p ;;
    kube-apiserver | kube-controller-manager) "$BIN/$1" --version ;;
    kubectl) "$BIN/kubectl" version --client | sed -n 1p ;;
    helm) "$BIN/helm" version --template '{{.Version}}' ;;
    promtool) "$BIN/promtool" --version | sed -n '1s/ (.*//p' ;;
    kstatus) "$BIN/kstatus" --version ;;
    argo-health) "$BIN/argo-health" --version ;;
  esac
}

# build NAME: runs build_NAME (which writes $out, with Go's chatter in $log) unless the tool's
# directory already holds it, checks the version the new binary reports, and links it into $BIN.
build() {
  local name=$1 started=$SECONDS
  local dir; dir=$(tool_dir "$name")
  if [[ ! -x "$dir/bin/$name" ]]; then
    mkdir -p "$dir/bin" "$dir/logs"
    local work; work=$(mktemp -d)
    log=$dir/logs/$name.log out=$work/$name src=$dir/src
    say "building $name $(expected_version "$name" | grep -oE '[0-9][0-9.]*$') (first run only; log: $log)"
    if ! "build_${name//-/_}" >"$log" 2>&1; then
      rm -rf "$work"
      tail -n 20 "$log" >&2
      die "building $name failed after $((SECONDS - started)) s; the whole Go output is in $log"
    fi
    mv "$out" "$dir/bin/$name"
    rm -rf "$work"
    built=1
  fi
  ln -sfn "../$(basename "$dir")/bin/$name" "$BIN/$name"
  if ! check_one "$name"; then
    rm -f "$dir/bin/$name" "$BIN/$name"
    die "the $name just built is not the pinned version"
  fi
  [[ -z ${built:-} ]] || say "built $name in $((SECONDS - started)) s"
  built=
}

# wrapper_module DIR PACKAGE@VERSION: a module of our own that requires PACKAGE's module at
# VERSION, with the checksums of everything PACKAGE imports. Building through it works where
# `go install PACKAGE@VERSION` is refused because the module's go.mod has replace directives
# (etcd's server module does in every 3.5 and 3.6 release).
wrapper_module() {
  local dir=$1 require=$2
  if [[ ! -f "$dir/.ready" ]]; then
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$dir" && go mod init "tools.local/$(basename "$dir")" && go get "$require") || return 1
    touch "$dir/.ready"
  fi
}

build_etcd() {
  wrapper_module "$src/etcd" "go.etcd.io/etcd/server/v3@$ETCD_VERSION" || return 1
  (cd "$src/etcd" && go build -trimpath -ldflags=-s -o "$out" go.etcd.io/etcd/server/v3)
}

build_helm() {
  wrapper_module "$src/helm" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" || return 1
  # Helm's release build stamps its version this way; without it `helm version` says "v3.N".
  (cd "$src/helm" && go build -trimpath -o "$out" \
    -ldflags="-s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" helm.sh/helm/v3/cmd/helm)
}

# Prometheus 3.X.Y is published as the Go module version v0.3XX.Y; its release build stamps the
# version through prometheus/common, without which promtool reports an empty one.
build_promtool() {
  local minor=${PROMETHEUS_VERSION#v3.}; minor=${minor%%.*}
  local module_version="v0.3$(printf '%02d' "$minor").${PROMETHEUS_VERSION##*.}"
  wrapper_module "$src/promtool" "github.com/prometheus/prometheus/cmd/promtool@$module_version" || return 1
  (cd "$src/promtool" && go build -trimpath -o "$out" \
    -ldflags="-s -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}" \
    github.com/prometheus/prometheus/cmd/promtool)
}

# Our own program against the pinned cli-utils: a module made fresh from scripts/kstatus.
build_kstatus() {
  rm -rf "$src"; mkdir -p "$src"
  cp "$KSTATUS_SOURCE" "$src/main.go"
  (cd "$src" && go mod init tools.local/kstatus && go get "sigs.k8s.io/cli-utils@$KSTATUS_VERSION" &&
    go mod tidy && go build -trimpath -ldflags=-s -o "$out" .)
}

# Checked in with its go.sum; built with the Go that argo-cd needs, fetched by the go command
# from the module proxy for this build only.
build_argo_health() {
  rm -rf "$src"; mkdir -p "$src"
  cp "$ARGO_HEALTH_SOURCE"/{main.go,go.mod,go.sum} "$src/"
  (cd "$src" && GOTOOLCHAIN=$ARGO_GO go build -trimpath -ldflags=-s -o "$out" .)
}

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths, so
# its wrapper module also pins each one to the matching v0.X.Y release.
kube_module_dir() {
  local dir=$src/kubernetes
  if [[ ! -f "$dir/.ready" ]]; then
    rm -rf "$dir"; mkdir -p "$dir"
    local gomod staging
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [[ -f "$gomod" ]] || { echo "could not fetch k8s.io/kubernetes@$KUBE_VERSION from the module proxy"; return 1; }
    staging="v0.${KUBE_VERSION#v1.}"
    {
      echo "module tools.local/kubernetes"
      grep -E '^go [0-9]' "$gomod"
      echo "require k8s.io/kubernetes $KUBE_VERSION"
      grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" |
        awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
    } > "$dir/go.mod"
    printf 'package tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"\n\t_ "k8s.io/kubectl/pkg/cmd"\n)\n' > "$dir/tools.go"
    (cd "$dir" && go mod tidy) || return 1
    touch "$dir/.ready"
  fi
}

# Kubernetes' release build stamps the version into both version packages; without it the
# binaries say v0.0.0-master.
kube_ldflags() {
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  local pkg flags="-s"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$flags"
}

build_kube() {
  kube_module_dir || return 1
  (cd "$src/kubernetes" && go build -trimpath -ldflags="$(kube_ldflags)" -o "$out" "k8s.io/kubernetes/cmd/$1")
}
build_kube_apiserver() { build_kube kube-apiserver; }
build_kubectl() { build_kube kubectl; }
build_kube_controller_manager() { build_kube kube-controller-manager; }

# recipe NAME: everything that decides how NAME is built. Functions are hashed as bash prints them.
recipe() {
  local name=$1
  echo "$name $(expected_version "$name") $GO_VERSION"
  declare -f build "build_${name//-/_}"
  case $name in
    etcd | helm | promtool) declare -f wrapper_module ;;
    kube-apiserver | kubectl | kube-controller-manager) declare -f build_kube kube_module_dir kube_ldflags ;;
    kstatus) cat "$KSTATUS_SOURCE" ;;
    argo-health) echo "$ARGO_GO"; cat "$ARGO_HEALTH_SOURCE"/{main.go,go.mod,go.sum} ;;
  esac
}
tool_dir() { echo "$ROOT/$1-$(recipe "$1" | sha256sum | cut -c1-16)"; }
BIN=$ROOT/bin-$(for name in "${ALL_TOOLS[@]}"; do tool_dir "$name"; done | sha256sum | cut -c1-16)

# check_one NAME: fails clearly unless $BIN/NAME exists and reports the pinned version.
check_one() {
  local name=$1 want got
  want=$(expected_version "$name")
  [[ -x "$BIN/$name" ]] || { say "$name is not built at $BIN/$name: run 'bash scripts/tools.sh'"; return 1; }
  got=$(reported_version "$name" 2>&1) || { say "$name does not run: $got"; return 1; }
  [[ $got == "$want" ]] || { say "$name reports '$got', pinned '$want' ($BIN/$name)"; return 1; }
}

# check_all [quiet]: every tool; prints each version unless quiet.
check_all() {
  local name failed=0
  for name in "${TOOLS[@]}"; do
    if check_one "$name"; then [[ ${1:-} == quiet ]] || say "$name: $(expected_version "$name")"; else failed=1; fi
  done
  ((failed == 0)) || die "a built tool does not match its pin; run 'bash scripts/tools.sh' (a wrong binary: remove its directory under $ROOT)"
}

case "${1:-build}" in
  bin-dir) echo "$BIN"; exit 0 ;;
  check) check_all; echo "$BIN"; exit 0 ;;
  build)
    if (($# > 1)); then
      TOOLS=("${@:2}")
      for name in "${TOOLS[@]}"; do
        [[ " ${ALL_TOOLS[*]} " == *" $name "* ]] || die "unknown tool '$name'; the tools are: ${ALL_TOOLS[*]}"
      done
    fi
    ;;
  *) die "usage: bash scripts/tools.sh [build [TOOL...]|check|bin-dir]" ;;
esac

mkdir -p "$BIN"
# Building Kubernetes needs about 4 GB of module cache and build cache.
for name in kube-apiserver kubectl kube-controller-manager; do
  if [[ " ${TOOLS[*]} " == *" $name "* && ! -x "$(tool_dir "$name")/bin/$name" ]]; then
    avail_kb=$(df -Pk "$ROOT" | awk 'NR==2 {print $4}')
    [[ ${avail_kb:-0} -gt 4000000 ]] || die "less than 4 GB free under $ROOT (and Go's caches); free some disk or set RECOMMENDER_TOOLS_CACHE"
    break
  fi
done

for name in "${TOOLS[@]}"; do
  build "$name"
done
check_all quiet
echo "$BIN"
