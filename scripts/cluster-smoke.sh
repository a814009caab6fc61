#!/usr/bin/env bash
# Smoke test of the project's test cluster (scripts/cluster.sh): builds it (or
# takes it from the cache), starts it in a temporary directory, runs Argo
# Workflows through it and stops it. On kwok's fake nodes:
#   - a 2-step DAG that must end Succeeded;
#   - the same DAG whose second step carries opencloud.io/fail: "true": Failed;
#   - a 1-step Workflow with nodeSelector node.opencloud.io/name=node-2, whose
#     pod must land on node-2.
# On the real node (when this runs as root; OC_K8S_SMOKE_REAL=0 or 1 decides
# otherwise), real containers:
#   - a 2-step DAG whose first step writes /out/x.txt, an S3 artifact kept
#     in gofakes3, and whose second step reads it and prints it: its pod's
#     log must hold what the first step wrote;
#   - a step exiting 3: the Workflow Failed, the step's exit code 3.
# On failure it prints what it saw and the tail of every log, and exits 1.
# OC_K8S_SMOKE_KEEP=1 leaves the cluster running and its directory in place.
set -euo pipefail
cd "$(dirname "$0")/.."

WF_TIMEOUT=${OC_K8S_WF_TIMEOUT:-90}
NS=smoke
work=$(mktemp -d)
dir=$work/cluster
ok=0
passed=0
real=${OC_K8S_SMOKE_REAL:-}
if [ -z "$real" ]; then
  real=0
  [ "$(id -u)" = 0 ] && real=1
fi
s3_pid=

cleanup() {
  if [ "$ok" != 1 ] && [ -d "$dir/logs" ]; then
    echo "cluster-smoke: FAILED; logs of $dir:" >&2
    for f in "$dir"/logs/*.log; do
      echo "---- $f (last 20 lines)" >&2
      tail -n 20 "$f" >&2 || true
    done
  fi
  if [ "${OC_K8S_SMOKE_KEEP:-0}" = 1 ]; then
    echo "cluster-smoke: cluster left running in $dir (scripts/cluster.sh down $dir --clean)"
    return
  fi
  if [ -n "$s3_pid" ]; then kill "$s3_pid" 2>/dev/null || true; fi
  scripts/cluster.sh down "$dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "cluster-smoke: $*" >&2; exit 1; }

t0=$(now)
scripts/cluster.sh build
echo "cluster-smoke: build step took $(since "$t0") s"

t0=$(now)
if [ "$real" = 1 ]; then
  scripts/cluster.sh up "$dir" --real-node
else
  echo "cluster-smoke: no real node (not root, or OC_K8S_SMOKE_REAL=0): its part is skipped"
  scripts/cluster.sh up "$dir"
fi
echo "cluster-smoke: up took $(since "$t0") s"
eval "$(scripts/cluster.sh env "$dir")"
REAL_LABEL=${OC_K8S_REAL_NODE_LABEL:-}
REAL_NODE=${OC_K8S_REAL_NODE_NAME:-}
BUSYBOX_IMAGE=${OC_K8S_REAL_BUSYBOX_IMAGE:-}

# report_rss WHEN: the resident memory of every piece, and their sum.
report_rss() {
  local name pid kb rss=0
  while read -r name pid; do
    kb=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    printf 'cluster-smoke:   %-24s %5d MB\n' "$name" $((kb / 1024))
    rss=$((rss + kb))
  done <"$dir/pids"
  echo "cluster-smoke: RSS of the cluster $1: $((rss / 1024)) MB"
}
report_rss "just after up"

# The namespace, and the service account with the Role Argo's executor needs
# (v3.6 emissary: workflowtaskresults create/patch; pods get/watch/patch for
# the executor's pod annotations fallback).
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: workflow
  namespace: $NS
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: argo-executor
  namespace: $NS
rules:
- apiGroups: [argoproj.io]
  resources: [workflowtaskresults]
  verbs: [create, patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, watch, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: argo-executor
  namespace: $NS
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: argo-executor
subjects:
- kind: ServiceAccount
  name: workflow
  namespace: $NS
EOF

# workflow_head NAME [NODE_SELECTOR]: a Workflow up to its templates, which
# follow; NODE_SELECTOR is a YAML flow mapping.
workflow_head() {
  cat <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: $1
  namespace: $NS
spec:
  serviceAccountName: workflow
  entrypoint: main
  nodeSelector: ${2:-{\}}
  templates:
EOF
}

# dag NAME SECOND_STEP_ANNOTATIONS: a 2-step DAG, b after a.
dag() {
  workflow_head "$1"
  cat <<EOF
  - name: main
    dag:
      tasks:
      - {name: a, template: step}
      - {name: b, template: last, dependencies: [a]}
  - name: step
    container: {image: busybox, command: [sh, -c, "echo a"]}
  - name: last
    metadata:
      annotations: {$2}
    container: {image: busybox, command: [sh, -c, "echo b"]}
EOF
}

# run_workflow NAME WANT: creates the Workflow read on stdin and waits for a
# final phase, which must be WANT.
run_workflow() {
  local name=$1 want=$2 t0 phase deadline
  t0=$(now)
  kubectl create -f - >/dev/null
  deadline=$((SECONDS + WF_TIMEOUT))
  while :; do
    phase=$(kubectl get workflow "$name" -n "$NS" -o jsonpath='{.status.phase}')
    case $phase in Succeeded | Failed | Error) break ;; esac
    [ $SECONDS -lt $deadline ] || { kubectl get workflow,pods -n "$NS" -o wide >&2 || true
      fail "workflow $name still '$phase' after ${WF_TIMEOUT}s"; }
    sleep 0.2
  done
  if [ "$phase" != "$want" ]; then
    kubectl get workflow "$name" -n "$NS" -o yaml >&2 || true
    fail "workflow $name ended $phase, want $want"
  fi
  echo "cluster-smoke: workflow $name $phase in $(since "$t0") s"
  passed=$((passed + 1))
}

# pod_of WORKFLOW STEP: the pod that ran STEP (a DAG task) of WORKFLOW.
pod_of() {
  kubectl get pods -n "$NS" -l "workflows.argoproj.io/workflow=$1" \
    -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.annotations.workflows\.argoproj\.io/node-name}{"\n"}{end}' |
    awk -v n="$1.$2" '$2 == n { print $1 }'
}

real_node_part() {
  local bin port key
  bin=$(scripts/cluster.sh bin)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin/gofakes3" -backend memory -host "127.0.0.1:$port" -initialbucket smoke >"$dir/logs/gofakes3.log" 2>&1 &
  s3_pid=$!
  local deadline=$((SECONDS + 10))
  until curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "gofakes3 did not answer on 127.0.0.1:$port"
    sleep 0.1
  done
  # gofakes3 checks no credential; the executor still reads them from a Secret.
  kubectl create secret generic smoke-s3 -n "$NS" --from-literal=accessKey=smoke \
    --from-literal=secretKey=smoke-secret >/dev/null

  key=smoke-real/$(date +%s%N)/x.txt
  local on_real="{${REAL_LABEL%%=*}: \"${REAL_LABEL#*=}\"}"
  run_workflow smoke-real Succeeded < <(workflow_head smoke-real "$on_real"; cat <<EOF
  - name: main
    dag:
      tasks:
      - {name: write, template: write}
      - name: read
        template: read
        dependencies: [write]
        arguments:
          artifacts:
          - {name: x, from: "{{tasks.write.outputs.artifacts.x}}"}
  - name: write
    container:
      image: $BUSYBOX_IMAGE
      command: [sh, -c, "mkdir -p /out && echo written by step write on \$(hostname) > /out/x.txt"]
    outputs:
      artifacts:
      - name: x
        path: /out/x.txt
        archive: {none: {}}
        s3:
          endpoint: 127.0.0.1:$port
          bucket: smoke
          key: $key
          insecure: true
          accessKeySecret: {name: smoke-s3, key: accessKey}
          secretKeySecret: {name: smoke-s3, key: secretKey}
  - name: read
    inputs:
      artifacts:
      - {name: x, path: /in/x.txt}
    container:
      image: $BUSYBOX_IMAGE
      command: [sh, -c, "cat /in/x.txt"]
EOF
  )
  local pod log want node
  want="written by step write on $(hostname)"
  pod=$(pod_of smoke-real read)
  [ -n "$pod" ] || fail "smoke-real: no pod for step read"
  # Without the executor's own lines (argo=true), as `argo logs` shows it.
  log=$(kubectl logs -n "$NS" "$pod" -c main | grep -v 'argo=true' || true)
  [ "$log" = "$want" ] || fail "smoke-real: step read printed '$log', want '$want'"
  node=$(kubectl get pod -n "$NS" "$pod" -o jsonpath='{.spec.nodeName}')
  [ "$node" = "$REAL_NODE" ] || fail "smoke-real: step read ran on '$node', want the real node $REAL_NODE"
  echo "cluster-smoke: smoke-real's step read printed the artifact of step write: '$log'"

  run_workflow smoke-exit3 Failed < <(workflow_head smoke-exit3 "$on_real"; cat <<EOF
  - name: main
    container:
      image: $BUSYBOX_IMAGE
      command: [sh, -c, "echo failing on purpose; exit 3"]
EOF
  )
  local code
  code=$(kubectl get workflow smoke-exit3 -n "$NS" -o jsonpath='{.status.nodes.*.outputs.exitCode}')
  [ "$code" = 3 ] || fail "smoke-exit3: exit code '$code', want 3"
  echo "cluster-smoke: smoke-exit3's step exited 3"
  kill "$s3_pid" && wait "$s3_pid" 2>/dev/null || true
  s3_pid=
}

run_workflow smoke-ok Succeeded < <(dag smoke-ok "")
n=$(kubectl get pods -n "$NS" -l workflows.argoproj.io/workflow=smoke-ok -o name | wc -l)
[ "$n" = 2 ] || fail "smoke-ok ran $n pods, want 2"
# Beside a real node too, pods that do not ask for it run on the fake ones.
nodes=$(kubectl get pods -n "$NS" -l workflows.argoproj.io/workflow=smoke-ok -o jsonpath='{.items[*].spec.nodeName}')
case " $nodes " in *" $REAL_NODE "*) [ -z "$REAL_NODE" ] || fail "smoke-ok ran on the real node: $nodes" ;; esac

run_workflow smoke-fail Failed < <(dag smoke-fail '"opencloud.io/fail": "true"')
states=$(kubectl get workflow smoke-fail -n "$NS" \
  -o jsonpath='{range .status.nodes.*}{.displayName}={.phase}{"\n"}{end}' | sort | tr '\n' ' ')
case $states in
  *"a=Succeeded"*"b=Failed"*) ;;
  *) fail "smoke-fail: want step a Succeeded and step b Failed, got: $states" ;;
esac

run_workflow smoke-node2 Succeeded < <(workflow_head smoke-node2 "{node.opencloud.io/name: node-2}"; cat <<EOF
  - name: main
    container: {image: busybox, command: [sh, -c, "echo node-2"]}
EOF
)
node=$(kubectl get pods -n "$NS" -l workflows.argoproj.io/workflow=smoke-node2 -o jsonpath='{.items[0].spec.nodeName}')
[ "$node" = node-2 ] || fail "smoke-node2's pod ran on '$node', want node-2"
echo "cluster-smoke: smoke-node2's pod ran on $node"

[ "$real" = 1 ] && real_node_part

report_rss "after the workflows"
t0=$(now)
scripts/cluster.sh down "$dir"
echo "cluster-smoke: down took $(since "$t0") s"
ok=1
echo "cluster-smoke: $passed passed, 0 failed"
