#!/usr/bin/env bash
# The local demo in one command: a real control plane (etcd + kube-apiserver, RBAC on), the
# Pinpoint emulator, the operator, and the models in examples/.
#
#   bash scripts/demo.sh         start everything, apply examples/, show the models
#   bash scripts/demo.sh down    stop everything this script started
#
# State (certificates, kubeconfig, logs, pids) lives in $DEMO_DIR, outside the repository.
set -euo pipefail

cd "$(dirname "$0")/.."
DEMO_DIR=${DEMO_DIR:-${XDG_RUNTIME_DIR:-/tmp}/recommender-operator-demo}
ETCD_PORT=${ETCD_PORT:-12379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-12380}
APISERVER_PORT=${APISERVER_PORT:-16443}
EMULATOR_PORT=${EMULATOR_PORT:-14566}
NAMESPACE=${NAMESPACE:-demo}

say() { echo "demo: $*" >&2; }
die() { echo "demo: error: $*" >&2; exit 1; }

down() {
  local pid
  for name in operator emulator kube-apiserver etcd; do
    if [[ -f "$DEMO_DIR/$name.pid" ]]; then
      pid=$(cat "$DEMO_DIR/$name.pid")
      if kill "$pid" 2>/dev/null; then
        say "stopping $name (pid $pid)"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$DEMO_DIR/$name.pid"
    fi
  done
}

# start NAME CMD...: runs CMD in the background with its log in $DEMO_DIR/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" >"$DEMO_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$DEMO_DIR/$name.pid"
}

# wait_for WHAT SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out waiting for $what (logs in $DEMO_DIR)"
    sleep 0.5
  done
}

pki() {
  local d=$DEMO_DIR/pki
  [[ -f $d/admin.crt ]] && return
  command -v openssl >/dev/null || die "openssl is needed for the demo's certificates (apt-get install openssl)"
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -keyout "$d/ca.key" -out "$d/ca.crt" -subj "/CN=recommender-operator-demo-ca" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth') \
    -out "$d/server.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$d/admin.key" -out "$d/admin.csr" -subj "/O=system:masters/CN=admin" 2>/dev/null
  openssl x509 -req -in "$d/admin.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -extfile <(printf 'extendedKeyUsage=clientAuth') -out "$d/admin.crt" 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out "$d/sa.key" 2>/dev/null
  openssl ec -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

kubeconfig() {
  cat > "$DEMO_DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: demo
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$DEMO_DIR/pki/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$DEMO_DIR/pki/admin.crt", client-key: "$DEMO_DIR/pki/admin.key"}
contexts:
- name: demo
  context: {cluster: demo, user: admin, namespace: $NAMESPACE}
current-context: demo
EOF
}

up() {
  down
  mkdir -p "$DEMO_DIR"
  say "building the pinned Kubernetes tools (cached after the first run)"
  BIN=$(bash scripts/tools.sh build etcd kube-apiserver kubectl helm | tail -n 1)
  say "building the operator and the emulator"
  cargo build --workspace --bins --quiet
  local target; target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  pki
  kubeconfig
  export KUBECONFIG=$DEMO_DIR/kubeconfig
  local kubectl="$BIN/kubectl"

  say "starting etcd and kube-apiserver"
  rm -rf "$DEMO_DIR/etcd"
  start etcd "$BIN/etcd" --name=default --data-dir="$DEMO_DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync=true --log-level=warn
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --cert-dir="$DEMO_DIR/certs" --tls-cert-file="$DEMO_DIR/pki/server.crt" --tls-private-key-file="$DEMO_DIR/pki/server.key" \
    --client-ca-file="$DEMO_DIR/pki/ca.crt" --secure-port="$APISERVER_PORT" --bind-address=127.0.0.1 \
    --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true --disable-admission-plugins=ServiceAccount \
    --authorization-mode=RBAC --service-account-issuer="https://127.0.0.1:$APISERVER_PORT/" \
    --service-account-key-file="$DEMO_DIR/pki/sa.pub" --service-account-signing-key-file="$DEMO_DIR/pki/sa.key"
  wait_for "kube-apiserver" 180 "$kubectl" get --raw /readyz

  "$kubectl" apply --server-side -f crds/ >/dev/null
  "$kubectl" wait --for=condition=Established crd/recommendermodels.pinpoint.recommenders.dev --timeout=60s >/dev/null

  say "starting the Pinpoint emulator and the operator"
  # The emulated account holds the campaign, role and Lambda function the examples name.
  start emulator "$target/debug/pinpoint-emulator" --listen "127.0.0.1:$EMULATOR_PORT" \
    --seed examples/emulator/account.json
  wait_for "the emulator" 30 grep -q "listening on" "$DEMO_DIR/emulator.log"
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
    start operator "$target/debug/recommender-operator" run \
    --aws-endpoint-url "http://127.0.0.1:$EMULATOR_PORT" \
    --metrics-bind-address 127.0.0.1:18080 --metrics-secure=false \
    --health-probe-bind-address 127.0.0.1:18081
  wait_for "the operator" 60 grep -q "controller started" "$DEMO_DIR/operator.log"

  say "applying examples/ in namespace $NAMESPACE"
  "$kubectl" create namespace "$NAMESPACE" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
  "$kubectl" apply -n "$NAMESPACE" -f examples/
  "$kubectl" wait -n "$NAMESPACE" --for=condition=Ready --timeout=120s \
    recommendermodel/movie-recs recommendermodel/movie-recs-enriched recommendermodel/series-recs
  "$kubectl" wait -n "$NAMESPACE" --for=condition=Validated=false --timeout=120s recommendermodel/frankfurt-recs
  echo
  "$kubectl" get recommendermodels -A
  cat <<EOF

The control plane, the emulator and the operator are running. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$BIN:\$PATH
  kubectl describe recmodel frankfurt-recs      # every validation error, as conditions and events
  kubectl get recmodel movie-recs -o yaml       # status: configurationId, region, conditions
  curl -s 127.0.0.1:$EMULATOR_PORT/_emulator/configurations   # what "Pinpoint" holds
  curl -s 127.0.0.1:18080/metrics               # the operator's metrics
Logs: $DEMO_DIR/*.log
Stop everything: bash scripts/demo.sh down
EOF
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) die "usage: bash scripts/demo.sh [up|down]" ;;
esac
