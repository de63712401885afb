#!/usr/bin/env bash
# Builds the pinned Kubernetes tools the tests and the demo need (etcd, kube-apiserver, kubectl,
# helm) from the Go module proxy into a cache outside the repository, keyed by version.
# A second run finds them and does nothing. Prints the bin directory on its last line.
#
# Why these versions: Kubernetes 1.37 is the newest release the module proxy serves that builds
# with the Go on our machines; etcd 3.6 is the line kubeadm pairs with Kubernetes 1.34+; helm 3.22
# is the newest v3 (v4 changes flags that users' scripts rely on).
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v3.22.0}

CACHE=${RECOMMENDER_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recommender-operator/tools}
BIN="$CACHE/bin"
mkdir -p "$BIN"

say() { echo "tools: $*" >&2; }
die() { echo "tools: error: $*" >&2; exit 1; }

command -v go >/dev/null || die "Go is not installed; install Go 1.26 or newer (apt-get install golang, or https://go.dev/dl) and run again"
if [[ ! -x "$BIN/kube-apiserver-$KUBE_VERSION" || ! -x "$BIN/kubectl-$KUBE_VERSION" ]]; then
  # The Kubernetes build needs about 4 GB of module cache and build cache.
  avail_kb=$(df -Pk "$CACHE" | awk 'NR==2 {print $4}')
  [[ ${avail_kb:-0} -gt 4000000 ]] || die "less than 4 GB free under $CACHE (and Go's caches); free some disk or set RECOMMENDER_TOOLS_CACHE"
fi

# build NAME VERSION CMD...: runs CMD (which writes $out) unless $BIN/NAME-VERSION exists.
build() {
  local name=$1 version=$2; shift 2
  local target="$BIN/$name-$version"
  if [[ -x "$target" ]]; then
    ln -sf "$name-$version" "$BIN/$name"
    return
  fi
  say "building $name $version (first run only; this takes minutes on 2 cores)"
  local work; work=$(mktemp -d)
  out="$work/$name" "$@" || { rm -rf "$work"; die "building $name $version failed (see the Go output above)"; }
  mv "$work/$name" "$target"
  rm -rf "$work"
  ln -sf "$name-$version" "$BIN/$name"
  say "built $target"
}

# `go install pkg@version` builds with the module's own go.mod, exactly as released.
go_install() {
  local pkg=$1 dir; dir=$(mktemp -d)
  GOBIN="$dir" go install -trimpath -ldflags=-s "$pkg" && mv "$dir"/* "$out" && rmdir "$dir"
}
build_etcd() { go_install "go.etcd.io/etcd/server/v3@$ETCD_VERSION"; }
build_helm() { go_install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; }

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths, so
# a wrapper module pins each one to the matching v0.X.Y release instead.
kube_module_dir() {
  local dir=$CACHE/src/kubernetes-$KUBE_VERSION
  if [[ ! -f "$dir/.ready" ]]; then
    rm -rf "$dir"; mkdir -p "$dir"
    local gomod staging
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [[ -f "$gomod" ]] || { say "could not fetch k8s.io/kubernetes@$KUBE_VERSION from the module proxy"; return 1; }
    staging="v0.${KUBE_VERSION#v1.}"
    {
      echo "module tools.local/kubernetes"
      grep -E '^go [0-9]' "$gomod"
      echo "require k8s.io/kubernetes $KUBE_VERSION"
      grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" |
        awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
    } > "$dir/go.mod"
    printf 'package tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\t_ "k8s.io/kubectl/pkg/cmd"\n)\n' > "$dir/tools.go"
    (cd "$dir" && go mod tidy >&2) || return 1
    touch "$dir/.ready"
  fi
  echo "$dir"
}

build_kube_apiserver() {
  local dir; dir=$(kube_module_dir) || return 1
  (cd "$dir" && go build -trimpath -ldflags=-s -o "$out" k8s.io/kubernetes/cmd/kube-apiserver)
}

build_kubectl() {
  local dir; dir=$(kube_module_dir) || return 1
  (cd "$dir" && go build -trimpath -ldflags=-s -o "$out" k8s.io/kubernetes/cmd/kubectl)
}

build etcd "$ETCD_VERSION" build_etcd
build helm "$HELM_VERSION" build_helm
build kube-apiserver "$KUBE_VERSION" build_kube_apiserver
build kubectl "$KUBE_VERSION" build_kubectl
echo "$BIN"
