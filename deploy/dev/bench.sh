#!/usr/bin/env bash
# bench.sh is what `make bench` runs: the benchmarks of internal/bench
# (build tag bench) against real PostgreSQL and Redis, obtained the way the
# tests obtain them (cmd/devenv test), writing BENCHMARKS.md at the repo root.
#
# Extra flags for the benchmark program come from BENCHFLAGS, e.g.
# BENCHFLAGS='-bench.hotrounds=1 -bench.rounds=1 -bench.rows=100000' for a quick look.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/dev/services.sh
. deploy/dev/services.sh
build_devenv

read -r -a benchflags <<<"${BENCHFLAGS:-}"
printf 'bench.sh: running internal/bench; this takes a few minutes\n' >&2
bin/devenv test go test -tags bench -run '^TestBench$' -count=1 -timeout 15m -v ./internal/bench \
	-args -bench.out="$(pwd)/BENCHMARKS.md" "${benchflags[@]}"
printf 'bench.sh: wrote BENCHMARKS.md\n' >&2
