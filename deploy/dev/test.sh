#!/usr/bin/env bash
# test.sh is what `make test` runs: go vet, staticcheck and golangci-lint,
# then every Go test with the race detector, against real PostgreSQL and
# Redis. cmd/devenv provides them and exports for the tests:
#   TEST_DATABASE_URL  PostgreSQL URL whose role may CREATE DATABASE
#   TEST_REDIS_URL     Redis URL
#   POSTGRES_BIN_DIR   directory with initdb and postgres (fault tests start
#                      their own servers), REDIS_SERVER_BIN, REDIS_CLI_BIN,
#                      PGBOUNCER_BIN, CHROMIUM_BIN, PROMTOOL_BIN likewise
#   AXE_CORE_JS        axe-core's axe.min.js (pinned release, fetched with
#                      npm into ~/.cache/dealctx/) for the accessibility test
# installing missing programs with apt-get when running as root on Debian.
# Also: squawk over the migrations and govulncheck over the code (pinned).
# Every step runs even when one fails; the status says whether all passed.
# Extra `go test` flags come from TESTFLAGS, e.g. TESTFLAGS='-run TestLogin -v';
# LINT=0 skips staticcheck and golangci-lint.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The linters, at pinned versions: `go run` fetches them on a fresh machine.
staticcheck=honnef.co/go/tools/cmd/staticcheck@v0.8.2
golangci_lint=github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

if [[ ${1:-} != --with-services ]]; then
	# shellcheck source=deploy/dev/services.sh
	. deploy/dev/services.sh
	build_devenv
	exec bin/devenv test "$(pwd)/deploy/dev/test.sh" --with-services
fi

log() { printf 'test.sh: %s\n' "$*" >&2; }
# Ctrl-C (forwarded by cmd/devenv) ends the run instead of starting the next step.
trap 'exit 130' INT
trap 'exit 143' TERM
failed=()
step() {
	log "$*"
	"$@" || failed+=("$*")
}

step go vet ./...
# The benchmarks (build tag bench, run by `make bench`) are type-checked here
# too, so a change cannot leave them broken until the next benchmark run.
step go vet -tags bench ./...
# Migrations are linted as a live database would meet them (no lock that
# blocks a busy table for more than a moment), and the code is checked for
# known vulnerabilities it reaches (both pinned; both fetch once, then run
# from ~/.cache/dealctx/).
step deploy/dev/squawk.sh
step deploy/dev/vulncheck.sh
if [[ ${LINT:-1} != 0 ]]; then
	log "staticcheck and golangci-lint (their first run downloads and builds them: a few minutes)"
	step go run "$staticcheck" ./...
	step go run "$golangci_lint" run --max-issues-per-linter=0 --max-same-issues=0 ./...
fi
read -r -a testflags <<<"${TESTFLAGS:-}"
log "the tests compile with -race before running (the first time: a few minutes)"
step go test -race -count=1 -timeout 30m "${testflags[@]}" ./...

if ((${#failed[@]})); then
	log "FAILED: $(printf '%s; ' "${failed[@]}")"
	exit 1
fi
log "all passed"
