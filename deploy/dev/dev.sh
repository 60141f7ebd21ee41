#!/usr/bin/env bash
# dev.sh is what `make dev` runs: PostgreSQL and Redis (services.sh, dev
# flavour, data kept under .dev/), make build, the Procfile's release command
# (migrations), demo data, then every other Procfile process together with
# prefixed logs. Ctrl-C or TERM stops everything it started.
#
# Environment: PORT (default 8080), LOG_FORMAT (default text), DATABASE_URL
# and REDIS_URL to use servers of your own, PROCFILE (default Procfile).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/dev/services.sh
. deploy/dev/services.sh

log() { printf 'dev.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

procfile=${PROCFILE:-Procfile}
export PORT=${PORT:-8080}
export LOG_FORMAT=${LOG_FORMAT:-text}
export COOKIE_SECURE=false

# The Procfile is the list of processes: "release" runs once before the others.
release=""
names=()
commands=()
while IFS= read -r line || [[ -n $line ]]; do
	[[ $line =~ ^([A-Za-z0-9_-]+):[[:space:]]*(.*[^[:space:]]) ]] || continue
	if [[ ${BASH_REMATCH[1]} == release ]]; then
		release=${BASH_REMATCH[2]}
	else
		names+=("${BASH_REMATCH[1]}")
		commands+=("${BASH_REMATCH[2]}")
	fi
done <"$procfile"
((${#names[@]})) || die "$procfile lists no processes"

_svc_port_free "$PORT" || die "port $PORT is in use; stop what uses it or run PORT=8081 make dev"

pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$?
	trap '' INT TERM
	if ((${#pids[@]})); then
		log "stopping ${names[*]}"
		stop_group TERM "${pids[@]}"
	fi
	services_down
	log "stopped"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

services_up dev
make build
if [[ -n $release ]]; then
	log "release: $release"
	bash -c "$release"
fi
log "./bin/api seed-demo"
logins=$(./bin/api seed-demo)

# prefix labels each line of a process's output; it ignores INT and TERM so
# that it outlives the process and shows its last words.
prefix() {
	local line
	trap '' INT TERM
	while IFS= read -r line || [[ -n $line ]]; do
		printf '%s | %s\n' "$1" "$line"
	done
}

width=0
for name in "${names[@]}"; do
	if ((${#name} > width)); then
		width=${#name}
	fi
done
for i in "${!names[@]}"; do
	spawn_group bash -c "${commands[i]}" > >(prefix "$(printf "%-${width}s" "${names[i]}")") 2>&1
	pids+=("$spawned_pid")
done

cat >&2 <<EOF

  dealctx is running at http://localhost:$PORT/
  Demo logins:
$(printf '%s\n' "$logins" | sed 's/^/    /')
  Ctrl-C stops everything.

EOF

# Run until Ctrl-C, or until a process exits on its own (then stop the rest).
rc=0
wait -n || rc=$?
for i in "${!pids[@]}"; do
	if ! kill -0 "${pids[i]}" 2>/dev/null; then
		log "${names[i]} exited (status $rc); stopping the rest"
	fi
done
exit 1
