#!/usr/bin/env bash
# The project's own Kubernetes test cluster: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok (fake nodes whose pods
# complete or fail on demand) and Argo's workflow-controller, built from the
# Go modules under tools/k8s and run as plain processes on 127.0.0.1; on
# request also a real node (containerd and a kubelet) whose pods really run.
# tools/k8s/README.md tells the pieces, versions, ports and figures.
#
#   scripts/cluster.sh build                   build (or find in the cache) every binary
#   scripts/cluster.sh up DIR [--real-node]    start a cluster whose state lives in DIR
#   scripts/cluster.sh down DIR                stop it (--clean also removes DIR)
#   scripts/cluster.sh status DIR              what runs, and whether the API answers
#   scripts/cluster.sh env DIR                 export lines for a shell: eval "$(scripts/cluster.sh env DIR)"
#   scripts/cluster.sh image-import DIR FILE [NAME]   import an image tarball into the real node
#   scripts/cluster.sh bin                     print the directory of the built binaries
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/tools/k8s
cache_root=${OC_K8S_CACHE:-$HOME/.cache/opencloud/k8s}

K8S_VERSION=v1.31.4
ARGO_VERSION=v3.6.2
# The tool modules under tools/k8s, each built with GOWORK=off.
TOOL_MODULES=(etcd kube argo argoexec kwok images gofakes3 minio)
# Part of the cache key: bump it when the way `build` builds changes.
BUILD_RECIPE=3
# The order pieces start in, and the reverse of the order they stop in.
# containerd and kubelet run only with a real node.
PIECES=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubelet workflow-controller)
REAL_PIECES=(containerd kubelet)
read -r -a NODES <<<"${OC_K8S_NODES:-node-1 node-2}"
[ "${NODES[*]}" != none ] || NODES=()
ARGO_NAMESPACE=argo
UP_TIMEOUT=${OC_K8S_UP_TIMEOUT:-60}
STOP_GRACE=${OC_K8S_STOP_GRACE:-10}

# The real node: images imported into its containerd (none can be pulled),
# its name (the kubelet's --hostname-override) and its label.
IMAGE_DOMAIN=opencloud.local
PAUSE_IMAGE=$IMAGE_DOMAIN/pause:1
BUSYBOX_IMAGE=$IMAGE_DOMAIN/busybox:1
EXECUTOR_IMAGE=$IMAGE_DOMAIN/argoexec:$ARGO_VERSION
REAL_NODE_NAME=127.0.0.1
REAL_NODE_LABEL=node.opencloud.io/real=true
REAL_NODE_PACKAGES=(containerd runc containernetworking-plugins busybox-static)
BUSYBOX=${OC_K8S_BUSYBOX:-/bin/busybox}
CNI_BIN_DIRS=(/usr/lib/cni /opt/cni/bin)
# Host paths the kubelet, containerd and the CNI plugins write to whatever
# their flags say. The real node runs in its own mount namespace where each
# is a bind mount of a directory under DIR/node/host, so nothing lands there.
MASKED_PATHS=(/var/lib/kubelet /var/lib/cni /var/log/pods /var/log/containers /run/containerd)
# Host sysctls the kubelet sets when it starts; restored when the last real
# node of the machine stops.
KUBELET_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes)
# What real nodes share on this machine: the original sysctls, the mount
# points created, and one entry per running real node.
HOST_STATE=${OC_K8S_HOST_STATE:-/run/opencloud-k8s}
real=0

say() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

usage() {
  sed -n '9,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The key of the binary cache: everything that decides what the binaries are.
cache_key() {
  (
    cd "$tools"
    echo "recipe $BUILD_RECIPE"
    find "${TOOL_MODULES[@]}" -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) |
      LC_ALL=C sort | while read -r f; do echo "== $f"; cat "$f"; done
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

# The real node's Debian packages, installed with apt-get when missing and
# this runs as root; otherwise `up --real-node` says what is missing.
ensure_packages() {
  local missing; missing=$(missing_packages)
  [ -n "$missing" ] || return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "the real node needs the Debian packages: $missing (apt-get install them as root); the cluster without it does not"
    return 0
  fi
  local t0; t0=$(now)
  say "installing $missing (apt-get) ..."
  # shellcheck disable=SC2086 # one word per package
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } \
    >"${TMPDIR:-/tmp}/opencloud-apt.log" 2>&1 ||
    die "apt-get install $missing failed: see ${TMPDIR:-/tmp}/opencloud-apt.log"
  say "installed $missing in $(since "$t0") s"
}

missing_packages() {
  local out=()
  command -v containerd >/dev/null && command -v ctr >/dev/null &&
    command -v containerd-shim-runc-v2 >/dev/null || out+=(containerd)
  command -v runc >/dev/null || out+=(runc)
  cni_bin_dir >/dev/null || out+=(containernetworking-plugins)
  if command -v dpkg-query >/dev/null && [ "$BUSYBOX" = /bin/busybox ]; then
    [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] || out+=(busybox-static)
  else
    [ -x "$BUSYBOX" ] || out+=(busybox-static)
  fi
  echo "${out[*]}"
}

cni_bin_dir() {
  local d
  for d in "${CNI_BIN_DIRS[@]}"; do
    [ -x "$d/loopback" ] && { echo "$d"; return 0; }
  done
  return 1
}

# build_argoexec OUT: Argo's executor. Upstream's
# workflow/executor/os-specific/signal_linux.go is a symlink to the darwin
# file, and module zips drop symlinks: build from a copy of the module with
# that file restored, through a replace in a copy of the tool module's go.mod.
build_argoexec() {
  local out=$1 work src mod=github.com/argoproj/argo-workflows/v3
  work=$(mktemp -d)
  src=$(cd "$tools/argoexec" && go mod download "$mod" && go list -m -f '{{.Dir}}' "$mod")
  cp -R "$src" "$work/argo-workflows"
  chmod -R u+w "$work/argo-workflows"
  local os_dir=$work/argo-workflows/workflow/executor/os-specific
  [ -e "$os_dir/signal_linux.go" ] || cp "$os_dir/signal_darwin.go" "$os_dir/signal_linux.go"
  mkdir "$work/mod"
  { cat "$tools/argoexec/go.mod"; printf '\nreplace %s => %s\n' "$mod" "$work/argo-workflows"; } >"$work/mod/go.mod"
  cp "$tools/argoexec/go.sum" "$work/mod/go.sum"
  # Static: it runs in an image that holds nothing else.
  CGO_ENABLED=0 build_piece argoexec argoexec -modfile="$work/mod/go.mod" \
    -ldflags "-s -w -X $mod.version=$ARGO_VERSION" -o "$out/argoexec" "$mod/cmd/argoexec"
  rm -rf "$work"
}

cmd_build() {
  command -v go >/dev/null || die "go is not on PATH"
  ensure_packages
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
  build_piece "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet" kube \
    -ldflags "$kflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet
  # Static like argoexec, which then finds most of its packages compiled
  # (Go's build cache keeps apart what is built with and without cgo).
  CGO_ENABLED=0 build_piece workflow-controller argo \
    -ldflags "-s -w -X github.com/argoproj/argo-workflows/v3.version=$ARGO_VERSION" \
    -o "$tmp/workflow-controller" .
  build_argoexec "$tmp"
  build_piece kwok kwok -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
  build_piece gofakes3 gofakes3 -ldflags "-s -w" -o "$tmp/gofakes3" github.com/johannesboyne/gofakes3/cmd/gofakes3
  build_piece minio minio -ldflags "-s -w" -o "$tmp/minio" github.com/minio/minio
  CGO_ENABLED=0 build_piece "pause, mkimage" images -ldflags "-s -w" -o "$tmp/" ./pause ./mkimage

  # The images that do not depend on this machine; busybox's is made by up.
  "$tmp/mkimage" -out "$tmp/images" -pause "$PAUSE_IMAGE=$tmp/pause" \
    -argoexec "$EXECUTOR_IMAGE=$tmp/argoexec" >/dev/null

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

cmd_bin() {
  local bin; bin=$(bin_dir)
  [ -f "$bin/.complete" ] || die "no binaries in $bin for these tool modules: run scripts/cluster.sh build first"
  echo "$bin"
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
  [ "$real" = 1 ] || return 0
  # The real node: the executor image is imported, never pulled; pods reach
  # the API server on 127.0.0.1 (no kube-proxy behind the kubernetes
  # Service); every pod uses the host's network (no pod network).
  cat <<EOF
    executor:
      imagePullPolicy: Never
      env:
      - name: KUBERNETES_SERVICE_HOST
        value: 127.0.0.1
      - name: KUBERNETES_SERVICE_PORT
        value: "$APISERVER_PORT"
    workflowDefaults:
      spec:
        hostNetwork: true
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
  node_paths
  if [ "$real" = 1 ]; then realnode_check; fi

  rm -rf "$dir/etcd" "$dir/pki" "$dir/logs" "$dir/realnode" "$node"
  : >"$dir/pids"
  mkdir -p "$dir/logs" "$dir/pki/apiserver" "$dir/etcd"
  chmod 700 "$dir/etcd" "$dir/pki"

  read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT ARGO_HEALTHZ_PORT \
    KUBELET_PORT KUBELET_HEALTHZ_PORT <<<"$(free_ports 8)"
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
  if [ "$real" = 1 ]; then
    KUBELET_PORT=${OC_K8S_KUBELET_PORT:-$KUBELET_PORT}
    KUBELET_HEALTHZ_PORT=${OC_K8S_KUBELET_HEALTHZ_PORT:-$KUBELET_HEALTHZ_PORT}
    printf 'KUBELET_PORT=%s\nKUBELET_HEALTHZ_PORT=%s\n' "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" >>"$dir/ports"
  fi

  local pki=$dir/pki token
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  token=$(openssl rand -hex 24)
  echo "$token,admin,admin,\"system:masters\"" >"$pki/tokens.csv"
  chmod 600 "$pki/tokens.csv" "$pki/sa.key"
  write_kubeconfig
  cp "$tools/kwok/stages.yaml" "$dir/kwok-stages.yaml"

  # The real node's containerd first: its images import while the control
  # plane starts.
  local apiserver_real=() import_pid=
  if [ "$real" = 1 ]; then
    kubelet_pki
    apiserver_real=(--kubelet-client-certificate="$pki/kubelet-client.crt"
      --kubelet-client-key="$pki/kubelet-client.key")
    start_containerd
    import_images
  fi

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
    --authorization-mode=Node,RBAC --allow-privileged=true "${apiserver_real[@]}"
  wait_for kube-apiserver "kube-apiserver /readyz on 127.0.0.1:$APISERVER_PORT" \
    curl -fsSk -H "Authorization: Bearer $token" "https://127.0.0.1:$APISERVER_PORT/readyz"

  local kubeflags=(--kubeconfig="$dir/kubeconfig" --authentication-kubeconfig="$dir/kubeconfig"
    --authorization-kubeconfig="$dir/kubeconfig" --bind-address=127.0.0.1 --leader-elect=false)
  start kube-controller-manager "$bin/kube-controller-manager" "${kubeflags[@]}" \
    --secure-port="$KCM_PORT" \
    --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/apiserver/apiserver.crt"
  if [ "$real" = 1 ]; then
    # Pods that do not ask for the real node prefer the fake ones, so that
    # what runs on kwok alone runs the same beside a real node.
    write_scheduler_config
    start kube-scheduler "$bin/kube-scheduler" --config="$dir/scheduler.yaml" \
      --authentication-kubeconfig="$dir/kubeconfig" --authorization-kubeconfig="$dir/kubeconfig" \
      --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT"
  else
    start kube-scheduler "$bin/kube-scheduler" "${kubeflags[@]}" --secure-port="$SCHEDULER_PORT"
  fi
  if [ "$real" = 1 ]; then start_kubelet; fi

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
  if [ ${#NODES[@]} -gt 0 ]; then
    for n in "${NODES[@]}"; do
      i=$((i + 1))
      node_manifest "$i" "$n"
      echo "---"
    done | kc apply -f - >>"$dir/logs/apply.log" 2>&1 || fail_with_log apply "creating the fake nodes failed"
  fi
  { kc create namespace "$ARGO_NAMESPACE" --dry-run=client -o yaml; echo "---"; argo_configmap; } |
    kc apply -f - >>"$dir/logs/apply.log" 2>&1 || fail_with_log apply "creating Argo's namespace and ConfigMap failed"
  kc wait --for=condition=Established crd/workflows.argoproj.io crd/workflowtaskresults.argoproj.io \
    --timeout="${UP_TIMEOUT}s" >>"$dir/logs/apply.log" 2>&1 ||
    fail_with_log apply "Argo's CRDs were not established"

  LEADER_ELECTION_DISABLE=true DEFAULT_REQUEUE_TIME=1s start workflow-controller \
    "$bin/workflow-controller" --kubeconfig="$dir/kubeconfig" --namespace="$ARGO_NAMESPACE" \
    --executor-image="$EXECUTOR_IMAGE" \
    --healthz-addr="127.0.0.1:$ARGO_HEALTHZ_PORT"

  wait_for kube-controller-manager "the default ServiceAccount in namespace default" \
    kc get serviceaccount default -n default
  wait_for kwok "nodes ${NODES[*]} Ready" nodes_ready "${NODES[@]}"
  if [ "$real" = 1 ]; then
    wait_for kubelet "the real node $REAL_NODE_NAME Ready" nodes_ready "$REAL_NODE_NAME"
  fi
  wait_for kube-scheduler "kube-scheduler /healthz on 127.0.0.1:$SCHEDULER_PORT" \
    curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz"
  wait_for workflow-controller "the Argo controller's /healthz on 127.0.0.1:$ARGO_HEALTHZ_PORT" \
    curl -fsS "http://127.0.0.1:$ARGO_HEALTHZ_PORT/healthz"
  if [ "$real" = 1 ]; then
    wait "$import_pid" || fail_with_log images "importing the images into the real node failed"
    write_realnode
  fi

  say "up in $(since "$t0") s: API https://127.0.0.1:$APISERVER_PORT, nodes $(all_nodes)"
  say "export KUBECONFIG=$dir/kubeconfig"
}

all_nodes() {
  if [ "$real" = 1 ]; then
    echo "${NODES[*]:+${NODES[*]} }$REAL_NODE_NAME (real, containerd at $sock)"
  else
    echo "${NODES[*]}"
  fi
}

nodes_ready() {
  local n
  for n in "$@"; do
    [ "$(kc get node "$n" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] || return 1
  done
}

# --- the real node ----------------------------------------------------------
#
# containerd and a kubelet, both in a mount namespace of their own (made by
# unshare when containerd starts, joined by the kubelet with nsenter): every
# mount they and their pods make lives and dies with it, and the host paths
# they write to whatever their flags say (MASKED_PATHS) are bind mounts of
# directories under DIR/node/host there. Pods run in a cgroup root of their
# own (/opencloud-<hash of DIR>), so that clusters side by side do not meet.
# Only hostNetwork pods: the CNI configuration holds the loopback plugin only.

# node_paths: the real node's files in DIR.
node_paths() {
  node=$dir/node
  sock=$node/containerd.sock
  cgroot=opencloud-$(printf '%s' "$dir" | sha256sum | cut -c1-12)
  host_entry=$HOST_STATE/nodes/$cgroot
}

write_scheduler_config() {
  cat >"$dir/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $dir/kubeconfig
leaderElection:
  leaderElect: false
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: NodeAffinity
    args:
      addedAffinity:
        preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          preference:
            matchExpressions:
            - {key: ${REAL_NODE_LABEL%%=*}, operator: DoesNotExist}
EOF
}

# realnode_check: what the real node needs, or a message saying what is
# missing ("real node unavailable" is what testenv looks for).
realnode_check() {
  local why=()
  [ "$(id -u)" = 0 ] || why+=("it must run as root (cgroups, mounts)")
  local missing; missing=$(missing_packages)
  [ -z "$missing" ] || why+=("Debian packages missing: $missing (scripts/cluster.sh build installs them as root)")
  command -v unshare >/dev/null && command -v nsenter >/dev/null || why+=("unshare and nsenter (util-linux) are needed")
  [ -x "$bin/kubelet" ] && [ -f "$bin/images/argoexec.tar" ] || why+=("no kubelet in $bin: run scripts/cluster.sh build")
  local p
  for p in "${MASKED_PATHS[@]}"; do
    case $dir/ in "$p"/*) why+=("DIR must not be under $p") ;; esac
  done
  # A unix socket path holds at most 107 bytes.
  [ ${#sock} -le 100 ] || why+=("DIR is too long for containerd's socket path ($sock)")
  if [ ${#why[@]} -gt 0 ]; then
    printf 'cluster: real node unavailable: %s\n' "${why[@]}" >&2
    exit 1
  fi
}

write_containerd_config() {
  local cni; cni=$(cni_bin_dir)
  cat >"$node/containerd/config.toml" <<EOF
version = 2
root = "$node/containerd/root"
state = "$node/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$node/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The machine may not let anyone lower oom_score_adj (no CAP_SYS_RESOURCE
  # in its bounding set): the sandbox's -998 would make runc fail.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "$node/containerd/runc"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "$cni"
  conf_dir = "$node/containerd/cni"
EOF
  cat >"$node/containerd/cni/10-loopback.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "loopback", "plugins": [{"type": "loopback"}]}
EOF
}

# kubelet_pki: a CA the kubelet trusts for client certificates, and the
# client certificate the API server shows it (logs, exec).
kubelet_pki() {
  local pki=$dir/pki
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj /CN=opencloud-kubelet-ca -keyout "$pki/kubelet-ca.key" -out "$pki/kubelet-ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj /CN=kube-apiserver-kubelet-client -keyout "$pki/kubelet-client.key" -out "$pki/kubelet-client.csr" 2>/dev/null
  openssl x509 -req -in "$pki/kubelet-client.csr" -CA "$pki/kubelet-ca.crt" -CAkey "$pki/kubelet-ca.key" \
    -CAcreateserial -days 3650 -out "$pki/kubelet-client.crt" 2>/dev/null
  chmod 600 "$pki/kubelet-ca.key" "$pki/kubelet-client.key"
}

write_kubelet_config() {
  cat >"$node/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$dir/pki/kubelet-ca.crt"}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$sock
cgroupDriver: cgroupfs
cgroupRoot: /$cgroot
makeIPTablesUtilChains: false
failSwapOn: false
oomScoreAdj: 0
# Imported images cannot be pulled again: never collect them, and never
# evict for disk pressure (eviction would collect images too).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 1Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
serializeImagePulls: false
EOF
}

# host_enter: registers this node among the machine's real nodes. The
# first one records the sysctls the kubelet will change; every one makes
# the mount points of MASKED_PATHS that do not exist, noting them.
host_enter() {
  mkdir -p "$HOST_STATE/nodes"
  (
    flock 9
    prune_host_entries
    if [ ! -f "$HOST_STATE/sysctl.orig" ]; then
      local k
      for k in "${KUBELET_SYSCTLS[@]}"; do
        [ -f "/proc/sys/$k" ] && echo "$k $(cat "/proc/sys/$k")"
      done >"$HOST_STATE/sysctl.orig"
    fi
    local p
    for p in "${MASKED_PATHS[@]}"; do
      if [ ! -d "$p" ]; then
        mkdir -p "$p"
        echo "$p" >>"$HOST_STATE/created"
      fi
    done
    echo "$dir $$" >"$host_entry"
  ) 9>"$HOST_STATE/lock"
}

# host_leave: the last real node of the machine to leave restores the
# sysctls and removes the mount points it made (empty: nothing was ever
# written there from outside the namespaces).
host_leave() {
  [ -d "$HOST_STATE/nodes" ] || return 0
  (
    flock 9
    rm -f "$host_entry"
    prune_host_entries
    [ -z "$(ls -A "$HOST_STATE/nodes")" ] || exit 0
    local k v p
    if [ -f "$HOST_STATE/sysctl.orig" ]; then
      while read -r k v; do
        [ "$(cat "/proc/sys/$k")" = "$v" ] || echo "$v" >"/proc/sys/$k" ||
          say "could not restore sysctl $k to $v"
      done <"$HOST_STATE/sysctl.orig"
      rm -f "$HOST_STATE/sysctl.orig"
    fi
    if [ -f "$HOST_STATE/created" ]; then
      sort -ru "$HOST_STATE/created" | while read -r p; do rmdir "$p" 2>/dev/null || true; done
      rm -f "$HOST_STATE/created"
    fi
  ) 9>"$HOST_STATE/lock"
}

# prune_host_entries: forgets real nodes whose containerd and kubelet are
# gone (a cluster that was never brought down), unless the `up` that
# registered them still runs.
prune_host_entries() {
  local e d pid
  for e in "$HOST_STATE"/nodes/*; do
    [ -f "$e" ] || continue
    read -r d pid <"$e"
    running "$pid" || dir=$d alive containerd || dir=$d alive kubelet || rm -f "$e"
  done
}

# cgroup_mounts: every cgroup hierarchy of the machine (v1 and v2).
cgroup_mounts() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) ~ /^cgroup2?$/) print $5; break } }' \
    /proc/self/mountinfo
}

cgroup_create() {
  local m
  for m in $(cgroup_mounts); do
    mkdir -p "$m/$cgroot"
    if [ -f "$m/cpuset.cpus" ] && [ -f "$m/$cgroot/cpuset.cpus" ] && [ -z "$(cat "$m/$cgroot/cpuset.cpus")" ]; then
      cat "$m/cpuset.cpus" >"$m/$cgroot/cpuset.cpus"
      cat "$m/cpuset.mems" >"$m/$cgroot/cpuset.mems"
    fi
  done
}

# cgroup_pids: the processes of the node's pods.
cgroup_pids() {
  local m
  for m in $(cgroup_mounts); do
    if [ -d "$m/$cgroot" ]; then find "$m/$cgroot" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done | sort -un
}

# shim_pids: containerd's shims of this node (they outlive containerd).
shim_pids() {
  local exe p args
  for exe in $(find /proc/[0-9]*/exe -maxdepth 0 -lname '*/containerd-shim-runc-v2' 2>/dev/null); do
    p=${exe%/exe}
    args=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    if [[ $args == *" -address $sock "* ]]; then echo "${p#/proc/}"; fi
  done
}

# kill_all SIGNAL LISTER: sends SIGNAL to what LISTER prints until it
# prints nothing (5 s at most).
kill_all() {
  local sig=$1 lister=$2 pids deadline=$((SECONDS + 5))
  while pids=$($lister) && [ -n "$pids" ]; do
    # shellcheck disable=SC2086 # one word per PID
    kill "-$sig" $pids 2>/dev/null || true
    [ $SECONDS -lt $deadline ] || { say "still running after KILL: $pids"; return 1; }
    sleep 0.1
  done
}

cgroup_remove() {
  local m
  for m in $(cgroup_mounts); do
    [ -d "$m/$cgroot" ] || continue
    find "$m/$cgroot" -depth -type d -exec rmdir {} + 2>/dev/null ||
      say "could not remove every cgroup under $m/$cgroot"
  done
}

start_containerd() {
  rm -rf "$node"
  mkdir -p "$node/containerd/cni" "$node/kubelet" "$node/images"
  write_containerd_config
  host_enter
  local p binds=()
  for p in "${MASKED_PATHS[@]}"; do
    mkdir -p "$node/host${p//\//-}"
    binds+=("$node/host${p//\//-}" "$p")
  done
  # unshare and bash exec, so the recorded PID is containerd's.
  start containerd unshare --mount --propagation private -- bash -c '
    set -e
    while [ "$1" != -- ]; do mount --bind "$1" "$2"; shift 2; done
    shift
    exec "$@"' binds "${binds[@]}" -- containerd --config "$node/containerd/config.toml"
  wait_for containerd "containerd on $sock" ctr --address "$sock" version
  printf 'MNT_NS=%s\n' "$(readlink "/proc/$(pid_of containerd)/ns/mnt")" >"$node/state"
}

# import_image FILE: imports a docker-save or OCI tarball into the node's
# containerd, for the kubelet (namespace k8s.io); prints the image names.
import_image() {
  local out
  out=$(ctr --address "$sock" -n k8s.io images import "$1" 2>&1) || { echo "$out" >&2; return 1; }
  echo "$out" | sed -n 's/^unpacking \([^ ]*\) .*/\1/p'
}

# import_images: the pause, busybox and executor images, in the background
# while the control plane starts; the job's PID in import_pid.
import_images() {
  "$bin/mkimage" -out "$node/images" -busybox "$BUSYBOX_IMAGE=$BUSYBOX" >/dev/null 2>"$dir/logs/images.log" ||
    fail_with_log images "making the busybox image from $BUSYBOX failed"
  (
    set -e
    for f in "$bin/images/pause.tar" "$bin/images/argoexec.tar" "$node/images/busybox.tar"; do
      import_image "$f"
    done
  ) >>"$dir/logs/images.log" 2>&1 &
  import_pid=$!
}

start_kubelet() {
  cgroup_create
  printf 'CGROUP_ROOT=/%s\n' "$cgroot" >>"$node/state"
  write_kubelet_config
  start kubelet nsenter --mount="/proc/$(pid_of containerd)/ns/mnt" -- "$bin/kubelet" \
    --config="$node/kubelet.yaml" --kubeconfig="$dir/kubeconfig" \
    --hostname-override="$REAL_NODE_NAME" --node-labels="$REAL_NODE_LABEL" \
    --root-dir="$node/kubelet" --cert-dir="$node/kubelet/pki" \
    --pod-infra-container-image="$PAUSE_IMAGE"
}

# write_realnode: what tests and people need to know of the node.
write_realnode() {
  cat >"$dir/realnode" <<EOF
NODE_NAME=$REAL_NODE_NAME
NODE_LABEL=$REAL_NODE_LABEL
CONTAINERD_ADDRESS=$sock
CTR=$(command -v ctr)
CGROUP_ROOT=/$cgroot
BUSYBOX_IMAGE=$BUSYBOX_IMAGE
EXECUTOR_IMAGE=$EXECUTOR_IMAGE
EOF
}

# realnode_cleanup: after the kubelet and containerd are stopped, what they
# leave: the pods' processes, the shims, the cgroups, the host's state. The
# mounts went with the namespace once its last process was gone.
realnode_cleanup() {
  node_paths
  kill_all KILL cgroup_pids || true
  kill_all TERM shim_pids || kill_all KILL shim_pids || true
  kill_all KILL cgroup_pids || true
  cgroup_remove
  host_leave
  local ns left
  ns=$(sed -n 's/^MNT_NS=mnt:\[\([0-9]*\)\]$/\1/p' "$node/state" 2>/dev/null)
  if [ -n "$ns" ]; then
    left=$({ find /proc/[0-9]*/ns/mnt -maxdepth 0 -lname "mnt:\\[$ns\\]" 2>/dev/null || true; } | cut -d/ -f3 | tr '\n' ' ')
    [ -z "$left" ] || say "processes still in the real node's mount namespace, left alone: $left"
  fi
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
  node_paths
  if [ -f "$dir/pids" ]; then
    local i name pid
    for ((i = ${#PIECES[@]} - 1; i >= 0; i--)); do
      name=${PIECES[$i]}
      pid=$(pid_of "$name")
      [ -n "$pid" ] && stop_pid "$name" "$pid"
      # The kubelet gone, nothing restarts the pods' containers.
      if [ "$name" = kubelet ] && [ -d "$node" ]; then kill_all KILL cgroup_pids || true; fi
    done
    rm -f "$dir/pids"
    say "stopped the cluster in $dir"
  else
    say "nothing runs in $dir"
  fi
  if [ -d "$node" ]; then realnode_cleanup; fi
  if [ "$clean" = 1 ]; then
    rm -rf "$dir"
    say "removed $dir"
  fi
}

cmd_status() {
  [ -f "$dir/pids" ] || { say "no cluster in $dir"; return 1; }
  dir=$(cd "$dir" && pwd)
  node_paths
  local name pid rc=0 rss
  for name in "${PIECES[@]}"; do
    if [ ! -d "$node" ] && [[ " ${REAL_PIECES[*]} " == *" $name "* ]]; then continue; fi
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
  if [ -f "$dir/realnode" ]; then sed 's/^/export OC_K8S_REAL_/' "$dir/realnode"; fi
}

# cmd_image_import FILE [NAME]: imports an image tarball (docker save, or an
# OCI archive) into the real node; with NAME, the image is also given that
# name (which must then be the only image in FILE).
cmd_image_import() {
  local file=$1 name=${2:-}
  [ -f "$dir/realnode" ] || die "no real node in $dir: start it with scripts/cluster.sh up $dir --real-node"
  dir=$(cd "$dir" && pwd)
  node_paths
  alive containerd || die "the real node's containerd does not run in $dir"
  [ -f "$file" ] || die "no file $file"
  local names
  names=$(import_image "$file") || die "importing $file failed"
  [ -n "$names" ] || die "$file holds no named image: give NAME"
  if [ -n "$name" ]; then
    name=$(normalize_image "$name")
    if ! grep -qxF "$name" <<<"$names"; then
      [ "$(wc -l <<<"$names")" = 1 ] || die "$file holds several images ($(echo $names)): NAME must be one of them"
      ctr --address "$sock" -n k8s.io images tag --force "$names" "$name" >/dev/null ||
        die "naming $names $name failed"
      names=$name
    fi
  fi
  local n
  for n in $names; do say "imported $n into the real node"; done
  say "a step using it must not pull: a tag other than latest, or imagePullPolicy: IfNotPresent"
}

# normalize_image NAME: the full reference containerd keeps (busybox:1 is
# docker.io/library/busybox:1).
normalize_image() {
  local ref=$1 first=${1%%/*}
  if [ "$first" = "$ref" ]; then
    ref=docker.io/library/$ref
  elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then
    ref=docker.io/$ref
  fi
  [[ ${ref##*/} == *:* || $ref == *@* ]] || ref=$ref:latest
  echo "$ref"
}

[ $# -ge 1 ] || usage
sub=$1; shift
case $sub in
  build) [ $# -eq 0 ] || usage; cmd_build ;;
  up)
    real=${OC_K8S_REAL_NODE:-0}
    [ "${1:-}" = --real-node ] && { real=1; shift; }
    [ "${1:-}" != "" ] || usage
    dir=$1; shift
    [ "${1:-}" = --real-node ] && { real=1; shift; }
    [ $# -eq 0 ] || usage
    [ "$real" = 1 ] || real=0
    cmd_up ;;
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
  image-import) [ $# -eq 2 ] || [ $# -eq 3 ] || usage; dir=$1; cmd_image_import "$2" "${3:-}" ;;
  bin) [ $# -eq 0 ] || usage; cmd_bin ;;
  *) usage ;;
esac
