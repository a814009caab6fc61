#!/usr/bin/env bash
# The benchmarks reported in issue notes:
#  1. idle RSS of the all-in-one binary a few seconds after it is ready;
#  2. the Go benchmarks of every module (store latencies, catalog p50/p99, token verification).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME=${BENCHTIME:-1s}

echo "== all-in-one idle RSS"
go build -o bin/opencloud ./cmd/opencloud
data=$(mktemp -d)
port=${BENCH_PORT:-18765}
OC_DATA=$data OC_HTTP_ADDR=127.0.0.1:$port OC_ADMIN_PASSWORD=bench-password-123 OC_LOG_LEVEL=warn \
  bin/opencloud >"$data/out.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/catalog/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/catalog/readyz" >/dev/null
sleep 5
echo "idle RSS after start: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)"
kill $pid; wait $pid 2>/dev/null || true

echo "== go benchmarks (benchtime $BENCHTIME)"
for m in $(go work edit -json | sed -n 's/.*"DiskPath": "\.\/\(.*\)".*/\1/p'); do
  (cd "$m" && go test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" ./... 2>/dev/null | grep -E '^(Benchmark|ok|goos)' | grep -v '^goos' || true)
done
