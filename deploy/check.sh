#!/usr/bin/env bash
# Checks what can be checked of the compose deployment without a Docker engine:
#   1. builds every image's binary with the very command deploy/Dockerfile runs,
#      from a copy of the build context (.dockerignore applied by hand), and
#      checks each binary is static, rejects a bad configuration naming the
#      variable, and (services) serves /<prefix>/healthz and the Go memory
#      metrics on the path Prometheus scrapes;
#   2. parses the compose, Traefik, Prometheus and Grafana files and checks
#      they agree with each other and with services/;
#   3. loads the compose file with compose-go (what `docker compose config`
#      uses), the Dockerfile with BuildKit's parser, the Prometheus
#      configuration and every PromQL expression of the dashboard with
#      Prometheus's own code (needs the Go module proxy; skipped with a warning
#      when unreachable).
# Usage: deploy/check.sh            (from anywhere; needs go, python3 + PyYAML, git, file)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== build context (git-visible files minus .dockerignore'd directories)"
mkdir -p "$work/src" "$work/out"
# A file git tracks but the working tree has deleted is not in Docker's context either.
(cd "$root" && git ls-files -co --exclude-standard | grep -vE '^(\.git|\.cache|bin|data|deploy)/' |
	while IFS= read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done | tar -cf - -T -) | tar -xf - -C "$work/src"

# oc-auth and oc-peer require the keys sealing their keys; the others ignore them.
keys_key=$(head -c 32 /dev/urandom | base64)

targets=(cmd/opencloud)
for d in "$root"/services/oc-*/; do targets+=("services/$(basename "$d")"); done

for t in "${targets[@]}"; do
	name=$(basename "$t")
	# The RUN line of deploy/Dockerfile; GOFLAGS and GOWORK are unset in golang:1.26.
	(cd "$work/src" && env -u GOFLAGS -u GOWORK CGO_ENABLED=0 \
		go build -trimpath -ldflags="-s -w" -o "$work/out/$name" "./$t") || fail "go build ./$t"
	file "$work/out/$name" | grep -q 'statically linked' || fail "$name is not statically linked"
	if ldd "$work/out/$name" >/dev/null 2>&1; then fail "$name: ldd sees a dynamic executable"; fi

	if [ "$name" = opencloud ]; then bad=OC_LOG_FORMAT; else bad=OC_STORE; fi
	set +e
	msg=$(env -i "$bad=bad" OC_AUTH_KEYS_KEY="$keys_key" OC_PEER_KEYS_KEY="$keys_key" "$work/out/$name" 2>&1)
	rc=$?
	set -e
	[ "$rc" -ne 0 ] && grep -q "$bad=\"bad\"" <<<"$msg" || fail "$name with $bad=bad: rc=$rc, output: $msg"
	printf '  %-14s static, %s MB, rejects %s=bad (rc=%d)\n' "$name" \
		"$(( $(stat -c %s "$work/out/$name") / 1048576 ))" "$bad" "$rc"
done

echo "== each service alone (SQLite, NATS unreachable): healthz and the metrics Prometheus scrapes"
# One SQLite file, oc-peer first: the other services read the peer id there,
# where oc-peer publishes it on its first start.
alone=(services/oc-peer)
for t in "${targets[@]}"; do
	case "$t" in cmd/opencloud | services/oc-peer) ;; *) alone+=("$t") ;; esac
done
for t in "${alone[@]}"; do
	name=$(basename "$t")
	prefix=/${name#oc-}
	log="$work/$name.log"
	: >"$log" # exists before the service starts writing it, for the loop below to read
	env -i OC_STORE=sqlite OC_SQLITE_PATH="$work/store.db" OC_NATS_URL=nats://127.0.0.1:1 \
		OC_HTTP_ADDR=127.0.0.1:0 OC_LOG_FORMAT=json OC_ADMIN_PASSWORD=check-password-123 \
		OC_AUTH_KEYS_KEY="$keys_key" OC_PEER_KEYS_KEY="$keys_key" "$work/out/$name" >"$log" 2>&1 &
	pid=$!
	pids+=("$pid")
	addr=
	for _ in $(seq 100); do
		addr=$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$log")
		[ -n "$addr" ] && break
		kill -0 "$pid" 2>/dev/null || fail "$name exited: $(cat "$log")"
		sleep 0.1
	done
	[ -n "$addr" ] || fail "$name did not listen: $(cat "$log")"
	curl -fsS "http://$addr$prefix/healthz" >/dev/null || fail "$name: $prefix/healthz"
	metrics=$(curl -fsS "http://$addr$prefix/metrics") || fail "$name: $prefix/metrics"
	for m in go_memstats_heap_inuse_bytes process_resident_memory_bytes; do
		grep -q "^$m " <<<"$metrics" || fail "$name: $prefix/metrics has no $m"
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	printf '  %-14s %s/healthz 200, %s/metrics has the Go memory metrics\n' "$name" "$prefix" "$prefix"
done

echo "== configuration files"
CHECK_WORK="$work" python3 - "$root" <<'EOF'
import json, os, re, sys
import yaml

root = sys.argv[1]
dep = os.path.join(root, "deploy")
def load(p):
    with open(os.path.join(dep, p)) as f:
        return yaml.safe_load(f)
errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)

services = sorted(d for d in os.listdir(os.path.join(root, "services")) if d.startswith("oc-"))
public = [s for s in services if s not in ("oc-schedulerd", "oc-monitord")]

compose = load("docker-compose.yml")
cs = compose["services"]
volumes = compose.get("volumes") or {}
mongo_uri = ("mongodb://${MONGO_INITDB_ROOT_USERNAME:?set MONGO_INITDB_ROOT_USERNAME (see deploy/README.md)}:"
             "${MONGO_INITDB_ROOT_PASSWORD:?set MONGO_INITDB_ROOT_PASSWORD (see deploy/README.md)}@mongo:27017/?authSource=admin")
want_env = {"OC_STORE": "mongo", "OC_MONGO_URI": mongo_uri, "OC_NATS_URL": "nats://nats:4222",
            "OC_PUBLIC_URL": "http://localhost:8000", "OC_AUTH_INTERNAL_URL": "http://oc-auth:8080",
            "OC_LOG_FORMAT": "json"}
for s in services:
    c = cs.get(s)
    check(c is not None, f"compose: no service {s}")
    if c is None:
        continue
    b = c.get("build", {})
    check(b.get("context") == ".." and b.get("dockerfile") == "deploy/Dockerfile"
          and b.get("args", {}).get("TARGET") == f"services/{s}", f"compose: {s} build {b}")
    check(os.path.isfile(os.path.join(root, "services", s, "main.go")), f"{s}: no main.go")
    env = c.get("environment", {})
    for k, v in want_env.items():
        check(env.get(k) == v, f"compose: {s} {k}={env.get(k)!r}, want {v!r}")
    check(c.get("restart") == "unless-stopped", f"compose: {s} restart")
    check(str(c.get("image", "")).startswith(f"opencloud/{s}:"), f"compose: {s} image {c.get('image')}")
check(str(cs["oc-auth"]["environment"].get("OC_ADMIN_PASSWORD", "")).startswith("${OC_ADMIN_PASSWORD:?"),
      "compose: OC_ADMIN_PASSWORD must be required")
# MongoDB runs with authentication: its root user from the environment
# (required), and a health check that signs in with it.
mongo_env = cs.get("mongo", {}).get("environment") or {}
for k in ("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"):
    check(str(mongo_env.get(k, "")).startswith("${" + k + ":?"), f"compose: mongo {k} must be required")
health = " ".join(cs.get("mongo", {}).get("healthcheck", {}).get("test", []))
for arg in ('--username "$$MONGO_INITDB_ROOT_USERNAME"', '--password "$$MONGO_INITDB_ROOT_PASSWORD"',
            "--authenticationDatabase admin", "authenticatedUsers"):
    check(arg in health, f"compose: the mongo health check does not sign in ({arg} missing)")
check(not any(p for p in cs.get("mongo", {}).get("ports", [])), "compose: mongo publishes a port")
for name, c in cs.items():
    for p in c.get("ports", []):
        check(str(p).startswith("127.0.0.1:"), f"compose: {name} publishes {p} beyond 127.0.0.1")
    for d in (c.get("depends_on") or {}):
        check(d in cs, f"compose: {name} depends on unknown {d}")
    for v in c.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith("."):
            check(os.path.exists(os.path.join(dep, src)), f"compose: {name} mounts missing {src}")
        elif not src.startswith("/"):
            check(src in volumes, f"compose: {name} uses undeclared volume {src}")
for infra in ("mongo", "nats", "traefik", "prometheus", "cadvisor", "grafana"):
    check(infra in cs, f"compose: no {infra}")
check("-js" in cs["nats"]["command"], "compose: NATS without JetStream")

traefik = load("traefik/dynamic.yml")["http"]
routed = {}
for r, v in traefik["routers"].items():
    check(v.get("entryPoints") == ["web"], f"traefik: router {r} entryPoints")
    if r == "web":
        # The web front-end takes what no service claims.
        check(v["rule"] == "PathPrefix(`/`)" and v.get("priority") == 1 and v["service"] == "web", f"traefik: router web {v}")
        check(traefik["services"]["web"]["loadBalancer"]["servers"][0]["url"] == "http://web:8080", "traefik: service web")
        check(cs.get("web", {}).get("build", {}).get("dockerfile") == "deploy/web/Dockerfile", "compose: web build")
        continue
    m = re.fullmatch(r"Path\(`(/[a-z]+)`\) \|\| PathPrefix\(`(/[a-z]+)/`\)", v["rule"])
    check(bool(m) and m.group(1) == m.group(2), f"traefik: router {r} rule {v['rule']}")
    url = traefik["services"][v["service"]]["loadBalancer"]["servers"][0]["url"]
    host = re.fullmatch(r"http://([a-z-]+):8080", url).group(1)
    check(host in cs, f"traefik: {r} goes to unknown {host}")
    if m:
        routed[host] = m.group(1)
check(routed == {s: "/" + s[3:] for s in public}, f"traefik: routes {routed}, want every public service")

prom = load("prometheus/prometheus.yml")
jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
for s in services:
    j = jobs.get(s)
    check(j is not None and j.get("metrics_path") == f"/{s[3:]}/metrics"
          and j["static_configs"][0]["targets"] == [f"{s}:8080"], f"prometheus: job {s} {j}")
check(jobs.get("cadvisor", {}).get("static_configs", [{}])[0].get("targets") == ["cadvisor:8080"],
      "prometheus: cadvisor job")

ds = load("grafana/provisioning/datasources/prometheus.yml")["datasources"]
uids = {d["uid"] for d in ds}
prov = load("grafana/provisioning/dashboards/opencloud.yml")["providers"][0]
mounts = [v.split(":")[1] for v in cs["grafana"]["volumes"] if v.startswith("./grafana/dashboards")]
check(mounts == [prov["options"]["path"]], f"grafana: dashboards mounted at {mounts}, provider reads {prov['options']['path']}")
with open(os.path.join(dep, "grafana/dashboards/opencloud-memory.json")) as f:
    dash = json.load(f)
ids = [p["id"] for p in dash["panels"]]
check(len(ids) == len(set(ids)), "dashboard: duplicate panel ids")
exprs = []
for p in dash["panels"]:
    for t in p["targets"]:
        check(t["datasource"]["uid"] in uids, f"dashboard: panel {p['title']} datasource {t['datasource']}")
        exprs.append(t["expr"])
with open(os.path.join(os.environ.get("CHECK_WORK", "/tmp"), "exprs.json"), "w") as f:
    json.dump(exprs, f)

# The container-name regex of the stack panels, on the names compose gives.
stack = re.search(r'name=~"([^"]+)"', exprs[0]).group(1)
monitord = re.search(r'image=~"([^"]+)"', dash["panels"][1]["targets"][0]["expr"]).group(1)
for n in [f"opencloud-{s}-1" for s in services if s != "oc-monitord"] + ["opencloud-mongo-1", "opencloud-nats-1", "opencloud-traefik-1"]:
    check(re.fullmatch(stack, n), f"dashboard: stack regex misses {n}")
for n in ["opencloud-oc-monitord-1", "opencloud-prometheus-1", "opencloud-grafana-1", "opencloud-cadvisor-1", "mongo-express"]:
    check(not re.fullmatch(stack, n), f"dashboard: stack regex matches {n}")
for img in ["opencloud/oc-monitord:dev", "docker.io/opencloud/oc-monitord:1.2", "opencloud/oc-monitord@sha256:ab"]:
    check(re.fullmatch(monitord, img), f"dashboard: monitord regex misses {img}")
check(not re.fullmatch(monitord, "opencloud/oc-schedulerd:dev"), "dashboard: monitord regex matches schedulerd")

if errors:
    print("\n".join("  FAIL " + e for e in errors))
    sys.exit(1)
print(f"  compose ({len(cs)} services), traefik ({len(routed)} routes), prometheus ({len(jobs)} jobs), "
      f"grafana provisioning and dashboard ({len(exprs)} queries): parsed and consistent")
EOF

echo "== upstream loaders: Compose (compose-go), BuildKit's Dockerfile parser, Prometheus"
# The libraries behind `docker compose config`, `docker build` and promtool,
# fetched through the Go module proxy into a throw-away module.
mkdir -p "$work/upstream"
cat >"$work/upstream/main.go" <<'EOF'
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	dfparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/promql/parser"
)

func loadCompose(file string, env []string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv(env), cli.WithName("opencloud"))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

func main() {
	dep := os.Args[1]
	fail := func(format string, a ...any) { fmt.Printf("  FAIL "+format+"\n", a...); os.Exit(1) }

	compose := filepath.Join(dep, "docker-compose.yml")
	// Every variable the compose file requires (${NAME:?message}), with a
	// stand-in value; MongoDB's are fixed to check the URI built from them.
	raw, err := os.ReadFile(compose)
	if err != nil {
		fail("%v", err)
	}
	required := map[string]string{}
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+):\?`).FindAllStringSubmatch(string(raw), -1) {
		required[m[1]] = "check-value-0123456789abcdef0123456789"
	}
	required["MONGO_INITDB_ROOT_USERNAME"] = "checkroot"
	required["MONGO_INITDB_ROOT_PASSWORD"] = "0123456789abcdef0123456789abcdef"
	envWithout := func(skip string) []string {
		var env []string
		for k, v := range required {
			if k != skip {
				env = append(env, k+"="+v)
			}
		}
		return env
	}
	project, err := loadCompose(compose, envWithout(""))
	if err != nil {
		fail("docker-compose.yml: %v", err)
	}
	for k := range required {
		if _, err := loadCompose(compose, envWithout(k)); err == nil || !strings.Contains(err.Error(), "set "+k) {
			fail("docker-compose.yml without %s: %v", k, err)
		}
	}
	wantURI := "mongodb://checkroot:0123456789abcdef0123456789abcdef@mongo:27017/?authSource=admin"
	mongoUsers := 0
	for _, svc := range project.Services {
		if !strings.HasPrefix(svc.Name, "oc-") {
			continue
		}
		if uri := svc.Environment["OC_MONGO_URI"]; uri == nil || *uri != wantURI {
			fail("docker-compose.yml: %s reaches MongoDB without its credentials", svc.Name)
		}
		mongoUsers++
	}
	for _, k := range []string{"OC_ADMIN_PASSWORD", "OC_SERVICE_CLIENT_SECRET", "MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"} {
		if _, ok := required[k]; !ok {
			fail("docker-compose.yml does not require %s", k)
		}
	}
	names := slices.Sorted(maps.Keys(required))
	fmt.Printf("  docker-compose.yml loads (schema, interpolation, merge keys); %d services reach MongoDB with its root user's credentials; without any of %s it stops with the message\n",
		mongoUsers, strings.Join(names, ", "))

	for _, name := range []string{"Dockerfile", "web/Dockerfile"} {
		f, err := os.Open(filepath.Join(dep, name))
		if err != nil {
			fail("%v", err)
		}
		res, err := dfparser.Parse(f)
		f.Close()
		if err != nil {
			fail("%s: %v", name, err)
		}
		stages, _, err := instructions.Parse(res.AST, nil)
		if err != nil {
			fail("%s: %v", name, err)
		}
		fmt.Printf("  %s parses: %d stages, final FROM %s\n", name, len(stages), stages[len(stages)-1].BaseName)
	}

	if _, err := config.LoadFile(filepath.Join(dep, "prometheus/prometheus.yml"), false, slog.New(slog.DiscardHandler)); err != nil {
		fail("prometheus.yml: %v", err)
	}
	var exprs []string
	b, err := os.ReadFile(os.Args[2])
	if err == nil {
		err = json.Unmarshal(b, &exprs)
	}
	if err != nil {
		fail("%v", err)
	}
	for _, e := range exprs {
		if _, err := parser.ParseExpr(e); err != nil {
			fail("%q: %v", e, err)
		}
	}
	fmt.Printf("  prometheus.yml loads; the dashboard's %d PromQL expressions parse\n", len(exprs))
}
EOF
printf 'module upstreamcheck\n\ngo 1.26\n' >"$work/upstream/go.mod"
if (cd "$work/upstream" && export GOWORK=off GOFLAGS=-mod=mod &&
	go get github.com/compose-spec/compose-go/v2@v2.16.2 github.com/moby/buildkit@v0.34.2 \
		github.com/prometheus/prometheus@v0.305.0 >"$work/upstream.log" 2>&1 &&
	go build -o upstreamcheck . >>"$work/upstream.log" 2>&1); then
	"$work/upstream/upstreamcheck" "$root/deploy" "$work/exprs.json"
else
	echo "  WARNING: could not build the upstream loaders (Go module proxy unreachable?); skipped:"
	tail -3 "$work/upstream.log" | sed 's/^/    /'
fi
echo "OK"
