#!/usr/bin/env bash
# The failure drills at full length: a mixed load for SOAK (default 60s)
# while Redis is killed and restarted twice and the worker once, then while
# PostgreSQL is restarted once. `make test` runs them for a few seconds.
# cmd/devenv provides the servers and the programs (redis-server, initdb and
# postgres) the drills start themselves.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/dev/services.sh
. deploy/dev/services.sh
build_devenv
exec bin/devenv test go test -race -count=1 -timeout 20m -v -run '^TestSoak' ./cmd/api -soak="${SOAK:-60s}"
