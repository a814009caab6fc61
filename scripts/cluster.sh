#!/usr/bin/env bash
# The project's own Kubernetes test cluster: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok (fake nodes whose pods
# complete or fail on demand) and Argo's workflow-controller, built from the
# Go modules under tools/k8s and run as plain processes on 127.0.0.1.
# tools/k8s/README.md tells the pieces, versions, ports and figures.
#
#   scripts/cluster.sh build          build (or find in the cache) every binary
#   scripts/cluster.sh up DIR         start a cluster whose state lives in DIR
#   scripts/cluster.sh down DIR       stop it (--clean also removes DIR)
#   scripts/cluster.sh status DIR     what runs, and whether the API answers
#   scripts/cluster.sh env DIR        export lines for a shell: eval "$(scripts/cluster.sh env DIR)"
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/tools/k8s
cache_root=${OC_K8S_CACHE:-$HOME/.cache/opencloud/k8s}

K8S_VERSION=v1.31.4
ARGO_VERSION=v3.6.2
# The order pieces start in, and the reverse of the order they stop in.
PIECES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok workflow-controller)
read -r -a NODES <<<"${OC_K8S_NODES:-node-1 node-2}"
ARGO_NAMESPACE=argo
UP_TIMEOUT=${OC_K8S_UP_TIMEOUT:-60}
STOP_GRACE=${OC_K8S_STOP_GRACE:-10}

say() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

usage() {
  sed -n '8,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The key of the binary cache: everything that decides what the binaries are.
cache_key() {
  (
    cd "$tools"
    cat etcd/go.mod etcd/go.sum etcd/*.go kube/go.mod kube/go.sum kube/*.go \
      argo/go.mod argo/go.sum argo/*.go kwok/go.mod kwok/go.sum kwok/*.go
    go version
  ) | sha256sum | cut -c1-16
}

bin_dir() { echo "$cache_root/$(cache_key)/bin"; }

build_piece() {
  local name=$1 dir=$2; shift 2
  local t0; t0=$(now)
  say "building $name ..."
  (cd "$tools/$dir" && go build -trimpath "$@")
  say "built $name in $(since "$t0") s"
}

cmd_build() {
  command -v go >/dev/null || die "go is not on PATH"
  local key; key=$(cache_key)
  local out=$cache_root/$key
  if [ -f "$out/bin/.complete" ]; then
    say "binaries cached in $out/bin"
    return
  fi
  local t0; t0=$(now)
  local tmp=$out/bin.tmp
  rm -rf "$tmp" && mkdir -p "$tmp"
  # The tool modules live inside the repository but outside go.work.
  export GOWORK=off
  local kv=${K8S_VERSION#v} mv
  mv=${kv%.*}; mv=${mv#*.}
  local kflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=${kv%%.*} -X $pkg.gitMinor=$mv"
    kflags+=" -X $pkg.gitTreeState=clean"
  done
  # One after another: a 2-core machine, and kube alone peaks near 2 GB.
  build_piece etcd etcd -ldflags "-s -w" -o "$tmp/etcd" .
  build_piece "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl" kube \
    -ldflags "$kflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  build_piece workflow-controller argo \
    -ldflags "-s -w -X github.com/argoproj/argo-workflows/v3.version=$ARGO_VERSION" \
    -o "$tmp/workflow-controller" .
  build_piece kwok kwok -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok

  # Argo's minimal CRDs (the full ones are refused by a real apiserver), kept
  # beside the binaries so that `up` needs neither go nor the module cache.
  local argo_dir
  argo_dir=$(cd "$tools/argo" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-workflows/v3)
  mkdir -p "$tmp/crds/argo"
  cp "$argo_dir"/manifests/base/crds/minimal/argoproj.io_*.yaml "$tmp/crds/argo/"
  chmod -R u+w "$tmp/crds"

  touch "$tmp/.complete"
  rm -rf "${out:?}/bin" && mv "$tmp" "$out/bin"
  say "built everything in $(since "$t0") s; binaries in $out/bin ($(du -sh "$out/bin" | cut -f1))"
}

# --- up -------------------------------------------------------------------

# Free ports on 127.0.0.1, all held open together so that none repeats.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# start NAME ARGS...: runs a piece in the background, its output in logs/NAME.log.
start() {
  local name=$1; shift
  "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$dir/pids"
}

pid_of() { awk -v n="$1" '$1 == n { print $2 }' "$dir/pids" 2>/dev/null; }

alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && running "$pid"; }

fail_with_log() {
  local name=$1 why=$2
  echo "cluster: $why" >&2
  echo "---- last lines of $dir/logs/$name.log" >&2
  tail -n 30 "$dir/logs/$name.log" >&2 || true
  echo "----" >&2
  cmd_down 0 >/dev/null
  echo "cluster: stopped the pieces already started; every log is in $dir/logs" >&2
  exit 1
}

# wait_for NAME WHAT CHECK...: polls CHECK every 0.2 s until it passes, the
# piece dies, or UP_TIMEOUT runs out.
wait_for() {
  local name=$1 what=$2; shift 2
  local deadline=$((SECONDS + UP_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    alive "$name" || fail_with_log "$name" "$name exited while waiting for $what"
    [ $SECONDS -lt $deadline ] || fail_with_log "$name" "timed out after ${UP_TIMEOUT}s waiting for $what"
    sleep 0.2
  done
}

kc() { "$bin/kubectl" --kubeconfig "$dir/kubeconfig" "$@"; }

write_kubeconfig() {
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: opencloud-test
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $token
contexts:
- name: opencloud-test
  context:
    cluster: opencloud-test
    user: admin
current-context: opencloud-test
EOF
  chmod 600 "$dir/kubeconfig"
}

node_manifest() {
  local i=$1 name=$2
  cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $name
    kubernetes.io/role: agent
    type: kwok
    node.opencloud.io/name: $name
    topology.kubernetes.io/zone: zone-$i
spec: {}
status:
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: fake
    kubeProxyVersion: fake
EOF
}

argo_configmap() {
  cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: workflow-controller-configmap
  namespace: $ARGO_NAMESPACE
data:
  # One key, config: metrics and telemetry given as separate keys make the
  # controller exit. Both are off: they would listen on every interface.
  config: |
    metricsConfig:
      enabled: false
    telemetryConfig:
      enabled: false
EOF
}

cmd_up() {
  local t0; t0=$(now)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pids" ]; then
    local p
    for p in "${PIECES[@]}"; do
      alive "$p" && die "a cluster already runs in $dir ($p is up); stop it with: scripts/cluster.sh down $dir"
    done
  fi
  bin=$(bin_dir)
  [ -f "$bin/.complete" ] || die "no binaries in $bin for these tool modules: run scripts/cluster.sh build first"
  command -v openssl >/dev/null || die "openssl is not on PATH"

  rm -rf "$dir/etcd" "$dir/pki" "$dir/logs"
  : >"$dir/pids"
  mkdir -p "$dir/logs" "$dir/pki/apiserver" "$dir/etcd"
  chmod 700 "$dir/etcd" "$dir/pki"

  read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT ARGO_HEALTHZ_PORT \
    <<<"$(free_ports 6)"
  ETCD_PORT=${OC_K8S_ETCD_PORT:-$ETCD_PORT}
  ETCD_PEER_PORT=${OC_K8S_ETCD_PEER_PORT:-$ETCD_PEER_PORT}
  APISERVER_PORT=${OC_K8S_APISERVER_PORT:-$APISERVER_PORT}
  KCM_PORT=${OC_K8S_KCM_PORT:-$KCM_PORT}
  SCHEDULER_PORT=${OC_K8S_SCHEDULER_PORT:-$SCHEDULER_PORT}
  ARGO_HEALTHZ_PORT=${OC_K8S_ARGO_HEALTHZ_PORT:-$ARGO_HEALTHZ_PORT}
  cat >"$dir/ports" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
APISERVER_PORT=$APISERVER_PORT
KCM_PORT=$KCM_PORT
SCHEDULER_PORT=$SCHEDULER_PORT
ARGO_HEALTHZ_PORT=$ARGO_HEALTHZ_PORT
EOF

  local pki=$dir/pki token
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  token=$(openssl rand -hex 24)
  echo "$token,admin,admin,\"system:masters\"" >"$pki/tokens.csv"
  chmod 600 "$pki/tokens.csv" "$pki/sa.key"
  write_kubeconfig
  cp "$tools/kwok/stages.yaml" "$dir/kwok-stages.yaml"

  local etcd_url=http://127.0.0.1:$ETCD_PORT peer_url=http://127.0.0.1:$ETCD_PEER_PORT
  start etcd "$bin/etcd" --name=oc --data-dir="$dir/etcd" \
    --listen-client-urls="$etcd_url" --advertise-client-urls="$etcd_url" \
    --listen-peer-urls="$peer_url" --initial-advertise-peer-urls="$peer_url" \
    --initial-cluster="oc=$peer_url" --unsafe-no-fsync --log-level=warn
  wait_for etcd "etcd on $etcd_url" curl -fsS "$etcd_url/health"

  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers="$etcd_url" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --cert-dir="$pki/apiserver" \
    --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --token-auth-file="$pki/tokens.csv" \
    --authorization-mode=Node,RBAC --allow-privileged=true
  wait_for kube-apiserver "kube-apiserver /readyz on 127.0.0.1:$APISERVER_PORT" \
    curl -fsSk -H "Authorization: Bearer $token" "https://127.0.0.1:$APISERVER_PORT/readyz"

  local kubeflags=(--kubeconfig="$dir/kubeconfig" --authentication-kubeconfig="$dir/kubeconfig"
    --authorization-kubeconfig="$dir/kubeconfig" --bind-address=127.0.0.1 --leader-elect=false)
  start kube-controller-manager "$bin/kube-controller-manager" "${kubeflags[@]}" \
    --secure-port="$KCM_PORT" \
    --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/apiserver/apiserver.crt"
  start kube-scheduler "$bin/kube-scheduler" "${kubeflags[@]}" --secure-port="$SCHEDULER_PORT"

  start kwok "$bin/kwok" --kubeconfig="$dir/kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --config="$dir/kwok-stages.yaml"

  # CRDs, the fake nodes and Argo's namespace, while the others start.
  kc apply --server-side -f "$bin/crds/argo" >"$dir/logs/apply.log" 2>&1 ||
    fail_with_log apply "applying Argo's CRDs failed"
  local admiralty=${OC_ADMIRALTY_CRDS:-$root/../shared/k8s/admiralty-crds}
  if [ -d "$admiralty" ]; then
    kc apply --server-side -f "$admiralty" >>"$dir/logs/apply.log" 2>&1 ||
      fail_with_log apply "applying Admiralty's CRDs from $admiralty failed"
  fi
  local i=0 n
  for n in "${NODES[@]}"; do
    i=$((i + 1))
    node_manifest "$i" "$n"
    echo "---"
  done | kc apply -f - >>"$dir/logs/apply.log" 2>&1 || fail_with_log apply "creating the fake nodes failed"
  { kc create namespace "$ARGO_NAMESPACE" --dry-run=client -o yaml; echo "---"; argo_configmap; } |
    kc apply -f - >>"$dir/logs/apply.log" 2>&1 || fail_with_log apply "creating Argo's namespace and ConfigMap failed"
  kc wait --for=condition=Established crd/workflows.argoproj.io crd/workflowtaskresults.argoproj.io \
    --timeout="${UP_TIMEOUT}s" >>"$dir/logs/apply.log" 2>&1 ||
    fail_with_log apply "Argo's CRDs were not established"

  LEADER_ELECTION_DISABLE=true DEFAULT_REQUEUE_TIME=1s start workflow-controller \
    "$bin/workflow-controller" --kubeconfig="$dir/kubeconfig" --namespace="$ARGO_NAMESPACE" \
    --executor-image="quay.io/argoproj/argoexec:$ARGO_VERSION" \
    --healthz-addr="127.0.0.1:$ARGO_HEALTHZ_PORT"

  wait_for kube-controller-manager "the default ServiceAccount in namespace default" \
    kc get serviceaccount default -n default
  wait_for kwok "nodes ${NODES[*]} Ready" nodes_ready
  wait_for kube-scheduler "kube-scheduler /healthz on 127.0.0.1:$SCHEDULER_PORT" \
    curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz"
  wait_for workflow-controller "the Argo controller's /healthz on 127.0.0.1:$ARGO_HEALTHZ_PORT" \
    curl -fsS "http://127.0.0.1:$ARGO_HEALTHZ_PORT/healthz"

  say "up in $(since "$t0") s: API https://127.0.0.1:$APISERVER_PORT, nodes ${NODES[*]}"
  say "export KUBECONFIG=$dir/kubeconfig"
}

nodes_ready() {
  local n
  for n in "${NODES[@]}"; do
    [ "$(kc get node "$n" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] || return 1
  done
}

# --- down, status, env ----------------------------------------------------

# running PID: the process exists and has not exited. The pieces are not our
# children, so an exited one may linger as a zombie until init reaps it.
running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

stop_pid() {
  local name=$1 pid=$2
  running "$pid" || return 0
  # A PID from an old pids file may belong to another program by now.
  if [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" != "$name" ]; then
    say "pid $pid is no longer $name: left alone"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_GRACE))
  while running "$pid"; do
    if [ $SECONDS -ge $deadline ]; then
      say "$name ($pid) still runs after ${STOP_GRACE}s: KILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.05
  done
  while running "$pid"; do sleep 0.05; done
}

cmd_down() {
  local clean=$1
  [ -d "$dir" ] || die "no cluster directory $dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pids" ]; then
    local i name pid
    for ((i = ${#PIECES[@]} - 1; i >= 0; i--)); do
      name=${PIECES[$i]}
      pid=$(pid_of "$name")
      [ -n "$pid" ] && stop_pid "$name" "$pid"
    done
    rm -f "$dir/pids"
    say "stopped the cluster in $dir"
  else
    say "nothing runs in $dir"
  fi
  if [ "$clean" = 1 ]; then
    rm -rf "$dir"
    say "removed $dir"
  fi
}

cmd_status() {
  [ -f "$dir/pids" ] || { say "no cluster in $dir"; return 1; }
  dir=$(cd "$dir" && pwd)
  local name pid rc=0 rss
  for name in "${PIECES[@]}"; do
    pid=$(pid_of "$name")
    if [ -n "$pid" ] && running "$pid"; then
      rss=$(awk '/VmRSS/ { printf "%d MB", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || true)
      printf '  %-24s running  pid %-8s %s\n' "$name" "$pid" "$rss"
    else
      printf '  %-24s stopped\n' "$name"
      rc=1
    fi
  done
  if [ -f "$dir/kubeconfig" ] && bin=$(bin_dir) && [ -x "$bin/kubectl" ]; then
    kc get nodes 2>&1 | sed 's/^/  /' || rc=1
  fi
  return $rc
}

cmd_env() {
  [ -f "$dir/kubeconfig" ] || die "no cluster in $dir"
  dir=$(cd "$dir" && pwd)
  echo "export KUBECONFIG=$dir/kubeconfig"
  echo "export PATH=$(bin_dir):\$PATH"
  sed 's/^/export OC_K8S_/' "$dir/ports"
}

[ $# -ge 1 ] || usage
sub=$1; shift
case $sub in
  build) [ $# -eq 0 ] || usage; cmd_build ;;
  up) [ $# -eq 1 ] || usage; dir=$1; cmd_up ;;
  down)
    clean=0
    [ "${1:-}" = --clean ] && { clean=1; shift; }
    [ "${1:-}" != "" ] || usage
    dir=$1; shift
    [ "${1:-}" = --clean ] && { clean=1; shift; }
    [ $# -eq 0 ] || usage
    cmd_down "$clean" ;;
  status) [ $# -eq 1 ] || usage; dir=$1; cmd_status ;;
  env) [ $# -eq 1 ] || usage; dir=$1; cmd_env ;;
  *) usage ;;
esac
