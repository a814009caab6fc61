# OpenCloud — the two commands of the README are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/opencloud/tools
SWAG_VERSION := v1.16.6
STATICCHECK_VERSION := v0.8.2
SWAG := $(TOOLS_DIR)/swag-$(SWAG_VERSION)
STATICCHECK := $(TOOLS_DIR)/staticcheck-$(STATICCHECK_VERSION)
FUZZTIME ?= 5s
# every module of go.work
MODULES := $(shell go work edit -json | sed -n 's/.*"DiskPath": "\.\/\(.*\)".*/\1/p')
SERVICES := auth catalog workspace workflow scheduler schedulerd monitord datacenter peer

.PHONY: help run build tools test fmt-check vet staticcheck swagger swagger-check test-race fuzz-short readme-check bench deploy-check clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: web ## run the all-in-one peer on http://localhost:8000 (SQLite store and NATS in ./data)
	go run ./cmd/opencloud

build: web ## build the all-in-one binary into bin/opencloud (web front-end included)
	go build -o bin/opencloud ./cmd/opencloud

tools: $(SWAG) $(STATICCHECK) ## install the pinned tools into the cache

$(SWAG):
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR)/swag.tmp go install github.com/swaggo/swag/cmd/swag@$(SWAG_VERSION)
	mv $(TOOLS_DIR)/swag.tmp/swag $@ && rmdir $(TOOLS_DIR)/swag.tmp

$(STATICCHECK):
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR)/sc.tmp go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS_DIR)/sc.tmp/staticcheck $@ && rmdir $(TOOLS_DIR)/sc.tmp

test: tools cluster-build web-check fmt-check vet staticcheck swagger-check test-race fuzz-short readme-check web-e2e ## the whole test suite (what CI runs)

fmt-check: ## fail on unformatted Go files
	@out=$$(gofmt -l $(MODULES) tools); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet every module
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done

staticcheck: $(STATICCHECK) ## staticcheck every module
	@for m in $(MODULES); do (cd $$m && $(STATICCHECK) ./...) || exit 1; done

swagger: $(SWAG) ## regenerate every service's Swagger docs
	@SWAG=$(SWAG) scripts/swagger.sh

swagger-check: $(SWAG) ## fail when the committed Swagger docs are stale
	@SWAG=$(SWAG) scripts/swagger.sh --check

# Under make test the cluster is built first, so a test needing it fails
# rather than skips (OC_TEST_CLUSTER=required); run alone, it skips them
# when the cluster is not built.
test-race: ## go test -race every module
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -race -count=1 -timeout 20m ./...) || exit 1; done

test: export OC_TEST_CLUSTER = required

fuzz-short: ## run every fuzz target for FUZZTIME (seeds in testdata/fuzz)
	@FUZZTIME=$(FUZZTIME) scripts/fuzz-short.sh $(MODULES)

readme-check: ## run the README's curl steps against a fresh peer
	@scripts/readme-check.sh

bench: ## idle RSS of the all-in-one peer and the reported benchmarks
	@scripts/bench.sh

deploy-check: ## check deploy/ without a Docker engine: static builds, config files, upstream parsers
	@deploy/check.sh

clean: ## remove build outputs (not ./data)
	rm -rf bin

# --- web front-end (web/: TypeScript, React, Vite; embedded by cmd/opencloud) ---
# Node.js 20.19+ and npm; `npm ci` installs the committed lock. The build goes
# into cmd/opencloud/webapp/dist, which `go build` embeds: a binary built
# without it serves a page saying to run `make web`.
WEB_DIST := cmd/opencloud/webapp/dist
WEB_DEPS := web/node_modules/.package-lock.json
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
CHROMIUM ?= /usr/bin/chromium
# 1: the browser tests' workflow runs on the test cluster's real node; 0: on a kwok node.
OC_E2E_REAL_NODE ?= 1

.PHONY: web web-check web-e2e web-chromium

$(WEB_DEPS): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "the web front-end needs Node.js 20.19+ and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund

$(WEB_DIST)/index.html: $(WEB_DEPS) $(WEB_SRC)
	cd web && npm run build

web: $(WEB_DIST)/index.html ## build the web front-end into cmd/opencloud/webapp/dist (go build embeds it)

web-check: $(WEB_DEPS) ## the web front-end's type check, lint and unit tests (tsc, eslint, vitest)
	cd web && npm run typecheck && npm run lint && npm test

web-chromium: ## Debian's Chromium for the browser tests, installed when missing
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@$(CHROMIUM) --version

web-e2e: build web-chromium cluster-build ## the browser tests: Playwright drives Chromium against bin/opencloud on the test cluster
	cd web && OC_E2E_BINARY=$(CURDIR)/bin/opencloud CHROMIUM=$(CHROMIUM) OC_E2E_REAL_NODE=$(OC_E2E_REAL_NODE) npx playwright test
# --- end of the web front-end's targets ---

# --- the project's Kubernetes test cluster (scripts/cluster.sh, tools/k8s/README.md) ---
CLUSTER_DIR ?= ./.cluster

.PHONY: cluster-build cluster-up cluster-down cluster-smoke image-import

cluster-build: ## build (or find in the cache) the test cluster's binaries
	@scripts/cluster.sh build

cluster-up: cluster-build ## start the test cluster in CLUSTER_DIR (./.cluster); REAL_NODE=1 adds a real node
	@scripts/cluster.sh up $(CLUSTER_DIR) $(if $(filter 1,$(REAL_NODE)),--real-node)

cluster-down: ## stop the test cluster in CLUSTER_DIR
	@scripts/cluster.sh down $(CLUSTER_DIR)

cluster-smoke: ## start a throwaway test cluster and run Argo Workflows through it (real containers too, as root)
	@scripts/cluster-smoke.sh

image-import: ## import a step image into the real node of CLUSTER_DIR: make image-import IMAGE=name FILE=tarball
	@test -n "$(FILE)" || { echo "usage: make image-import IMAGE=name FILE=tarball (docker save or OCI archive) [CLUSTER_DIR=...]" >&2; exit 2; }
	@scripts/cluster.sh image-import $(CLUSTER_DIR) $(FILE) $(IMAGE)
# --- end of the test cluster's targets ---
