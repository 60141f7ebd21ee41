#!/usr/bin/env bash
# screenshot.sh refreshes docs/deal-page.png, the README's picture of a deal
# page: it starts the system as `make dev` does (PORT, default 8090, so a
# running `make dev` is left alone), walks the "Try it" story in headless
# Chromium (go run ./internal/screenshot), writes the PNG and stops
# everything it started.
#
# Environment: PORT, DATABASE_URL/REDIS_URL (as for make dev), CHROMIUM_BIN.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf 'screenshot.sh: %s\n' "$*" >&2; }

export PORT=${PORT:-8090}
out=docs/deal-page.png
mkdir -p docs

deploy/dev/dev.sh >.dev-screenshot.log 2>&1 &
dev=$!
# shellcheck disable=SC2317 # called by the EXIT trap
stop() {
	kill -TERM "$dev" 2>/dev/null || true
	wait "$dev" 2>/dev/null || true
	rm -f .dev-screenshot.log
}
trap stop EXIT

for _ in $(seq 1 600); do
	if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
		break
	fi
	if ! kill -0 "$dev" 2>/dev/null; then
		cat .dev-screenshot.log >&2
		log "make dev exited before answering"
		exit 1
	fi
	sleep 0.5
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || {
	cat .dev-screenshot.log >&2
	log "no answer on port $PORT"
	exit 1
}
go run ./internal/screenshot -url "http://127.0.0.1:$PORT" -out "$out"
log "wrote $out"
