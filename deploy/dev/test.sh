#!/usr/bin/env bash
# test.sh is what `make test` runs: go vet, then every Go test with the race
# detector, against real PostgreSQL and Redis (see services.sh).
#
# It exports for the tests:
#   TEST_DATABASE_URL  PostgreSQL URL whose role may CREATE DATABASE
#   TEST_REDIS_URL     Redis URL
#   POSTGRES_BIN_DIR   directory with initdb, pg_ctl and postgres (fault tests
#                      start their own servers)
#   REDIS_SERVER_BIN   path of redis-server, likewise
#   CHROMIUM_BIN       path of Chromium for the browser tests, when it can be had
# Missing programs are installed with apt-get when running as root on Debian.
# Extra `go test` flags come from TESTFLAGS, e.g. TESTFLAGS='-run TestLogin -v'.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/dev/services.sh
. deploy/dev/services.sh

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

services_need_go || exit 1
# The race detector needs cgo, and cgo a C compiler.
export CGO_ENABLED=1

# Programs the tests need, installed together in one apt-get run.
missing=()
services_find_binaries || true
[[ -n ${POSTGRES_BIN_DIR:-} ]] || missing+=(postgresql)
[[ -n ${REDIS_SERVER_BIN:-} ]] || missing+=(redis-server)
command -v "$(go env CC)" >/dev/null || missing+=(gcc libc6-dev)
if ((${#missing[@]})); then
	services_install "${missing[@]}" ||
		die "missing ${missing[*]}: install them with your package manager (Debian: sudo apt-get install ${missing[*]})"
	services_find_binaries || die "PostgreSQL or Redis binaries still not found after installing them"
fi
log "PostgreSQL binaries: $POSTGRES_BIN_DIR; redis-server: $REDIS_SERVER_BIN"

# find_chromium sets CHROMIUM_BIN to a Chromium or Chrome it finds.
find_chromium() {
	local c
	if [[ -n ${CHROMIUM_BIN:-} && -x $CHROMIUM_BIN ]]; then
		return
	fi
	for c in /usr/bin/chromium chromium chromium-browser google-chrome-stable google-chrome; do
		if c=$(command -v "$c"); then
			CHROMIUM_BIN=$c
			return
		fi
	done
	return 1
}
if ! find_chromium; then
	if services_install chromium; then
		find_chromium || true
	fi
fi
if [[ -n ${CHROMIUM_BIN:-} ]]; then
	export CHROMIUM_BIN
	log "Chromium: $CHROMIUM_BIN"
else
	unset CHROMIUM_BIN
	cat >&2 <<-'EOF'
		################################################################
		test.sh: WARNING: no Chromium found and it could not be installed.
		The browser tests will fail. Install chromium (Debian: apt-get
		install chromium) or set CHROMIUM_BIN to a Chromium or Chrome.
		################################################################
	EOF
fi

# Each step runs in its own process group (see services_trap).
services_trap
run_step() {
	log "$*"
	run_in_group "$@"
}

services_up test

read -r -a testflags <<<"${TESTFLAGS:-}"
run_step go vet ./...
run_step go test -race -count=1 -timeout 30m "${testflags[@]}" ./...
