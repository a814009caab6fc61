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

run: ## run the all-in-one peer on http://localhost:8000 (SQLite store and NATS in ./data)
	go run ./cmd/opencloud

build: ## build the all-in-one binary into bin/opencloud
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

test: tools cluster-build fmt-check vet staticcheck swagger-check test-race fuzz-short readme-check ## the whole test suite (what CI runs)

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

# --- the project's Kubernetes test cluster (scripts/cluster.sh, tools/k8s/README.md) ---
CLUSTER_DIR ?= ./.cluster

.PHONY: cluster-build cluster-up cluster-down cluster-smoke

cluster-build: ## build (or find in the cache) the test cluster's binaries
	@scripts/cluster.sh build

cluster-up: cluster-build ## start the test cluster in CLUSTER_DIR (./.cluster)
	@scripts/cluster.sh up $(CLUSTER_DIR)

cluster-down: ## stop the test cluster in CLUSTER_DIR
	@scripts/cluster.sh down $(CLUSTER_DIR)

cluster-smoke: ## start a throwaway test cluster and run three Argo Workflows through it
	@scripts/cluster-smoke.sh
# --- end of the test cluster's targets ---
