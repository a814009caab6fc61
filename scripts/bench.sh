#!/usr/bin/env bash
# The project's reported benchmarks, each with a bounded run time:
#  1. idle RSS of the all-in-one binary a few seconds after it is ready;
#  2. a whole peer under a fixed load of 8 clients (catalog p50/p99, req/s);
#  3. token verification, in full and cached;
#  4. the catalog service in-process (p50/p99);
#  5. store latencies at 1k and 10k documents on both backends;
#  6. workflow validation: 1,000 and 10,000 nodes in the domain, 1,000 through HTTP;
#  7. rendering and validating the Argo Workflow of a 20-step execution;
#  8. memory per concurrently followed execution, process and in-process
#     launchers side by side (20 executions on the test cluster: make cluster-build);
# 10. search across three partnered peers of 1,000 resources each (p50/p99:
#     all up, one stopped, one unreachable), the time an area shared by two
#     peers takes to converge after a partition with 1,000 changes on each
#     side, and the cost of verifying one signed peer call;
#  9. CPU of an idle all-in-one peer with no cluster while 1,000 executions
#     are due and wait (scripts/idle-cpu.sh, about three minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

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
echo "idle RSS 5 s after ready: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)"
kill $pid; wait $pid 2>/dev/null || true

bench() { # module, package, pattern, benchtime
  echo "== $1 $2 $3"
  (cd "$1" && go test -run '^$' -bench "$3" -benchmem -benchtime "$4" "$2" | grep -E '^Benchmark')
}
bench cmd/opencloud . PeerUnderLoad 3000x
bench cmd/opencloud . FederatedSearch 200x
bench cmd/opencloud . AreaConvergence 1x
bench libs ./peercall 'Verify$' 2000x
bench services/oc-auth ./service VerifyToken 1s
bench services/oc-catalog ./service . 2000x
bench libs ./store/sqlitestore . 500x
bench libs ./store/mongostore . "${MONGO_BENCHTIME:-20x}"
bench services/oc-workflow ./internal/workflow Validate 1s
bench services/oc-workflow ./service ValidateHTTP 2s
bench services/oc-monitord ./internal/render RenderValidate20 2s
bench services/oc-schedulerd ./service WorkerMemory 1x
echo "== all-in-one idle CPU with 1,000 executions waiting"
scripts/idle-cpu.sh bin/opencloud
