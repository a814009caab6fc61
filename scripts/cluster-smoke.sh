#!/usr/bin/env bash
# Smoke test of the project's test cluster (scripts/cluster.sh): builds it (or
# takes it from the cache), starts it in a temporary directory, runs three Argo
# Workflows through it and stops it:
#   - a 2-step DAG that must end Succeeded;
#   - the same DAG whose second step carries opencloud.io/fail: "true": Failed;
#   - a 1-step Workflow with nodeSelector node.opencloud.io/name=node-2, whose
#     pod must land on node-2.
# On failure it prints what it saw and the tail of every log, and exits 1.
# OC_K8S_SMOKE_KEEP=1 leaves the cluster running and its directory in place.
set -euo pipefail
cd "$(dirname "$0")/.."

WF_TIMEOUT=${OC_K8S_WF_TIMEOUT:-90}
NS=smoke
work=$(mktemp -d)
dir=$work/cluster
ok=0

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
scripts/cluster.sh up "$dir"
echo "cluster-smoke: up took $(since "$t0") s"
eval "$(scripts/cluster.sh env "$dir")"

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

# dag NAME SECOND_STEP_ANNOTATIONS: a 2-step DAG, b after a.
dag() {
  cat <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: $1
  namespace: $NS
spec:
  serviceAccountName: workflow
  entrypoint: main
  templates:
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
}

dag smoke-ok "" | run_workflow smoke-ok Succeeded
n=$(kubectl get pods -n "$NS" -l workflows.argoproj.io/workflow=smoke-ok -o name | wc -l)
[ "$n" = 2 ] || fail "smoke-ok ran $n pods, want 2"

dag smoke-fail '"opencloud.io/fail": "true"' | run_workflow smoke-fail Failed
states=$(kubectl get workflow smoke-fail -n "$NS" \
  -o jsonpath='{range .status.nodes.*}{.displayName}={.phase}{"\n"}{end}' | sort | tr '\n' ' ')
case $states in
  *"a=Succeeded"*"b=Failed"*) ;;
  *) fail "smoke-fail: want step a Succeeded and step b Failed, got: $states" ;;
esac

run_workflow smoke-node2 Succeeded <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: smoke-node2
  namespace: $NS
spec:
  serviceAccountName: workflow
  entrypoint: main
  nodeSelector:
    node.opencloud.io/name: node-2
  templates:
  - name: main
    container: {image: busybox, command: [sh, -c, "echo node-2"]}
EOF
node=$(kubectl get pods -n "$NS" -l workflows.argoproj.io/workflow=smoke-node2 -o jsonpath='{.items[0].spec.nodeName}')
[ "$node" = node-2 ] || fail "smoke-node2's pod ran on '$node', want node-2"
echo "cluster-smoke: smoke-node2's pod ran on $node"

report_rss "after the workflows"
t0=$(now)
scripts/cluster.sh down "$dir"
echo "cluster-smoke: down took $(since "$t0") s"
ok=1
echo "cluster-smoke: 3 passed, 0 failed"
