#!/usr/bin/env bash
# dev.sh is what `make dev` runs: cmd/devenv's whole stack. It finds or
# starts PostgreSQL and Redis (private servers keep their data under
# .dev/<PORT>/), chooses the ports (PORT, default 8080; the worker's metrics,
# a private PostgreSQL and Redis at fixed distances from it, or free ones),
# runs make build, the Procfile's release command (migrations) and the demo
# data, then every other Procfile process with its output prefixed by name,
# and prints the URL, the ports and the demo logins. Ctrl-C stops everything.
#
# Environment: PORT, WORKER_METRICS_PORT, LOG_FORMAT (default text),
# DATABASE_URL and REDIS_URL to use servers of your own,
# DEALCTX_PRIVATE_SERVICES=1 to ignore the servers on the default local
# ports, PROCFILE (default Procfile).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/dev/services.sh
. deploy/dev/services.sh
build_devenv
exec bin/devenv dev
