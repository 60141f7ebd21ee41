# Every target with a "## " comment is listed by `make help` (the default).
SHELL := bash
.DEFAULT_GOAL := help

# Go from PATH, else the usual install location. The go command fetches the
# toolchain go.mod's toolchain line names (1.27.3: 1.26.8's net/http and
# crypto/x509 have vulnerabilities the code reaches; the go line stays at
# 1.26.8 so a plain `go vet` works with the machine's Go) on first use.
GO ?= $(or $(shell command -v go),/usr/local/go/bin/go)
export GOTOOLCHAIN := go1.27.3

.PHONY: help build test bench dev migrate clean

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  make %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## build bin/api and bin/worker (static binaries)
	CGO_ENABLED=0 $(GO) build -o bin/api ./cmd/api
	CGO_ENABLED=0 $(GO) build -o bin/worker ./cmd/worker

test: ## go vet, staticcheck, golangci-lint and every test (-race) against real PostgreSQL, Redis and Chromium; extra flags: TESTFLAGS=...
	deploy/dev/test.sh

bench: ## benchmarks of the request path and the worker against real PostgreSQL and Redis; writes BENCHMARKS.md (minutes)
	deploy/dev/bench.sh

dev: ## run web and worker on http://localhost:$PORT/ (default 8080) with demo data; Ctrl-C stops everything
	deploy/dev/dev.sh

migrate: build ## apply migrations to the dev database (DATABASE_URL, else the one make dev uses)
	deploy/dev/services.sh dev ./bin/api migrate up

clean: ## remove bin/ (the dev databases under .dev/ stay)
	rm -rf bin

.PHONY: fuzz soak rolling

rolling: ## two apis behind HAProxy under load, each restarted twice as a deploy would; fails on any dropped request
	deploy/dev/rolling.sh

fuzz: ## run every fuzz target for FUZZTIME each (default 20s); crashes land in testdata/fuzz/
	FUZZTIME=$(or $(FUZZTIME),20s) deploy/dev/fuzz.sh

soak: ## the failure drills at full length (SOAK, default 60s): Redis, worker and PostgreSQL killed under load
	SOAK=$(or $(SOAK),60s) deploy/dev/soak.sh
