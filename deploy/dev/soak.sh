#!/bin/sh
# The failure drills at full length: a mixed load for SOAK (default 60s)
# while Redis is killed and restarted twice and the worker once, then while
# PostgreSQL is restarted once. `make test` runs them for a few seconds.
# Needs redis-server and the PostgreSQL server binaries (initdb, postgres).
set -eu
cd "$(dirname "$0")/../.."
SOAK="${SOAK:-60s}"
exec go test -race -count=1 -timeout 20m -v -run '^TestSoak' ./cmd/api -soak="$SOAK"
