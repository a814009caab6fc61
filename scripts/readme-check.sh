#!/usr/bin/env bash
# Runs the README's curl steps, as written, against a freshly started
# all-in-one peer, and checks what it answers: the README stays true.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pid=
# peers: the PIDs of the processes running this check's own binary.
peers() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$work/opencloud" ] && echo "${p#/proc/}"
  done
  return 0
}
cleanup() {
  local rc=$? left
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  # The peer stopped is the one started: no process of this check's binary
  # may be left running.
  left=$(peers)
  if [ -n "$left" ]; then
    echo "readme-check: the peer was left running (pid $left)" >&2
    rc=1
  fi
  scripts/cluster.sh down "$work/cluster" --clean >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

go build -o "$work/opencloud" ./cmd/opencloud
# The last steps run a workflow on the project's test cluster, on its real
# node (make cluster-build; as root).
scripts/cluster.sh up "$work/cluster" --real-node >"$work/cluster.log" 2>&1 || { cat "$work/cluster.log"; echo "readme-check: the test cluster did not start" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://localhost:$port"

# The password is the one the README starts the peer with.
password=$(sed -n "s/^OC_ADMIN_PASSWORD='\([^']*\)' make run$/\1/p" README.md)
[ -n "$password" ] || { echo "readme-check: the README no longer starts the peer with OC_ADMIN_PASSWORD=... make run" >&2; exit 1; }
# exec: the subshell becomes the peer, so $! is the peer's own PID.
(cd "$work" && exec env OC_HTTP_ADDR=127.0.0.1:$port OC_PUBLIC_URL=$url OC_ADMIN_PASSWORD=$password OC_LOG_LEVEL=warn \
  OC_KUBECONFIG=$work/cluster/kubeconfig \
  ./opencloud >"$work/peer.log" 2>&1) &
pid=$!
for _ in $(seq 1 100); do curl -fsS "$url/catalog/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

# The README's block, with this peer's URL instead of the default one.
python3 - "$work/block.sh" <<'PY'
import sys
s = open("README.md").read()
i = s.index("```sh\n", s.index("## First steps with curl"))
i = s.index("```sh\n", i + 1) + len("```sh\n")  # the second block: the steps themselves
block = s[i:s.index("```\n", i)]
j = s.index("```sh\n", s.index("## Design a workflow with curl")) + len("```sh\n")  # continues the steps
block += "echo '== design'\n" + s[j:s.index("```\n", j)]
k = s.index("```sh\n", s.index("## Run a workflow on the test cluster"))
k = s.index("```sh\n", k + 1) + len("```sh\n")  # the second block: the steps (the first starts the peer)
block += "echo '== run'\n" + s[k:s.index("```\n", k)]
open(sys.argv[1], "w").write(block)
PY
sed -i "s#^export OC_URL=http://localhost:8000\$#export OC_URL=$url#" "$work/block.sh"
out=$(bash "$work/block.sh" 2>&1) || { echo "$out"; echo "readme-check: the README's steps failed" >&2; exit 1; }

expect() {
  if ! grep -qF -- "$1" <<<"$out"; then
    printf '%s\n' "$out" | cut -c1-200 >&2
    echo "readme-check: the README's steps did not answer $2" >&2
    exit 1
  fi
}
expect "\"issuer\":\"$url/auth\"" "the discovery document"
expect '"total":1,"limit":20,"offset":0}' "the list with the created resource"
expect '"description":"2025 campaign"' "the patched resource"
expect '"code":"version_conflict"' "a 409 on the stale If-Match"
[ "$(sed -n '/^== design$/{x;p;q};h' <<<"$out")" = 204 ] || { echo "readme-check: the delete did not answer 204" >&2; exit 1; }
expect '"name":"ndvi-paris_workspace"' "the workflow's own workspace"
expect '"code":"dangling_link"' "the dangling link of the draft"
expect '"code":"no_compute"' "the processing without compute of the draft"
expect '"type":"item.shared"' "the area's history with the shared workflow"
grep -qx 200 <<<"$out" || { echo "readme-check: sharing the workflow in the area did not answer 200" >&2; exit 1; }
grep -qx 201 <<<"$out" || { echo "readme-check: booking the workflow did not answer 201" >&2; exit 1; }
expect '"code":"booking_conflict"' "a 409 on the same booking again"
expect '"total":3,' "the three booked executions"
expect '"from":"running","to":"succeeded","at"' "the live stream of the run ending succeeded"
expect '"node":"c","state":"succeeded"' "the run's last step succeeded"
expect '"line":"step b on ' "step b's real output on the live stream"
expect '"line":"step c done"' "the last step's last line kept with the execution"
expect '"step":"b","items":[' "a page of step b's log"
echo "readme-check: the README's curl steps run as written"
