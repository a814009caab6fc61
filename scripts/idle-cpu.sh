#!/usr/bin/env bash
# CPU an idle all-in-one peer with no cluster uses while many executions are
# due and wait (oc-schedulerd cannot prepare them): it books them through
# the REST API a few seconds ahead, waits until every one is due and tried,
# then reads the peer's user + system CPU time over a minute.
#
#   scripts/idle-cpu.sh [BINARY]     (default: builds bin/opencloud)
#
# IDLE_EXECUTIONS (1000, a multiple of 40), IDLE_SECONDS (60) and BENCH_PORT
# (18766) tune it. The peer binds 127.0.0.1 and is stopped by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-}
if [ -z "$bin" ]; then
  go build -o bin/opencloud ./cmd/opencloud
  bin=bin/opencloud
fi
n=${IDLE_EXECUTIONS:-1000}
secs=${IDLE_SECONDS:-60}
port=${BENCH_PORT:-18766}
base=http://127.0.0.1:$port
password=bench-password-123
per=40 # executions per booking request: one a second for 40 s
data=$(mktemp -d)

OC_DATA=$data OC_HTTP_ADDR=127.0.0.1:$port OC_PUBLIC_URL=$base OC_ADMIN_PASSWORD=$password OC_LOG_LEVEL=error \
  "$bin" >"$data/out.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do
  curl -fsS "$base/scheduler/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/scheduler/readyz" >/dev/null

token=$(OC_URL=$base scripts/login.sh admin "$password")
api() { # METHOD PATH [curl arguments]
  local method=$1 path=$2
  shift 2
  curl -fsS -X "$method" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$base$path" "$@"
}
id() { sed -n 's/^{"id":"\([^"]*\)".*/\1/p'; }
cputime() { # user + system seconds of the peer
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$pid/stat"
}

# One step on a compute large enough for every execution at once.
step=$(api POST /catalog/resources -d '{"kind": "processing", "name": "idle", "visibility": "private",
  "processing": {"image": "busybox:1.36", "open_source": true, "requests": {"cpu_millicores": 10}}}' | id)
compute=$(api POST /catalog/resources -d '{"kind": "compute", "name": "big", "visibility": "private",
  "compute": {"cluster_ref": "local", "architecture": "amd64", "cpu_cores": 1000}}' | id)
wf=$(api POST /workflow/workflows -d '{"name": "idle", "graph": {"nodes": [
  {"id": "a", "kind": "processing", "resource": {"id": "'"$step"'"}},
  {"id": "k8s", "kind": "compute", "resource": {"id": "'"$compute"'"}}],
  "links": [{"id": "ak", "kind": "compute", "from": "a", "to": "k8s"}]}}' | id)
[ -n "$step" ] && [ -n "$compute" ] && [ -n "$wf" ] || { echo "idle-cpu: could not create the workflow" >&2; exit 1; }

# n executions, per a second from a few seconds ahead, each holding its
# window for an hour (so that none is missed while it is measured).
at=$(date -u -d '+15 seconds' +%s)
last=$((at + per - 1))
for _ in $(seq 1 $((n / per))); do
  api POST "/scheduler/$wf" -o /dev/null -d '{"mode": 1, "cron": "* * * * * *",
    "start": "'"$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)"'", "end": "'"$(date -u -d "@$last" +%Y-%m-%dT%H:%M:%SZ)"'",
    "duration_seconds": 3600}'
done
booked=$(api GET "/scheduler/executions?workflow=$wf&limit=1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
echo "booked $booked executions, due from $(date -u -d "@$at" +%T) to $(date -u -d "@$last" +%T) UTC"

# Every one due, and tried at least once.
sleep $((last - $(date -u +%s) + 20))
waiting=$(api GET "/scheduler/executions?workflow=$wf&state=scheduled&limit=1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
said=$(api GET "/scheduler/executions?workflow=$wf&state=scheduled&limit=1" | grep -o '"reason":"[^"]*"' | head -n1 || true)
echo "$waiting due executions waiting ($said)"

before=$(cputime)
sleep "$secs"
after=$(cputime)
echo "idle peer with $waiting waiting executions: $(awk -v a="$after" -v b="$before" -v s="$secs" 'BEGIN { printf "%.2f", (a - b) * 60 / s }') CPU seconds per minute"
