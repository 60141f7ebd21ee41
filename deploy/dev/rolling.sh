#!/usr/bin/env bash
# rolling.sh is what `make rolling` runs: two apis behind HAProxy
# (deploy/haproxy/haproxy.cfg, installed with apt-get when missing) under
# steady load, each restarted in turn twice as a deploy would (SIGTERM, then
# the new process), counting every failed request and reset; it fails on any.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/dev/services.sh
. deploy/dev/services.sh
build_devenv
exec bin/devenv test go test -count=1 -v -run '^TestRollingRestartBehindHAProxyDropsNothing$' ./cmd/api
