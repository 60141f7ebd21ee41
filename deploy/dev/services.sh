#!/usr/bin/env bash
# services.sh obtains a PostgreSQL and a Redis for the tests ("test" flavour) or
# for local development ("dev" flavour).
#
# Sourced (test.sh and dev.sh do this):
#
#   . deploy/dev/services.sh
#   trap services_down EXIT
#   services_up test        # exports TEST_DATABASE_URL and TEST_REDIS_URL
#   services_up dev         # exports DATABASE_URL and REDIS_URL
#
# Executed:
#
#   deploy/dev/services.sh test|dev [command [args...]]
#
#   obtains the services, runs the command with the URLs in its environment
#   (without a command: prints the URLs), then stops whatever it started.
#
# Each service is obtained in this order:
#   1. the URL from the environment (TEST_DATABASE_URL/TEST_REDIS_URL for test,
#      DATABASE_URL/REDIS_URL for dev), checked to answer;
#   2. a server already on the default local port (postgres@127.0.0.1:5432 that
#      may create databases; 127.0.0.1:6379 answering PING); skipped when
#      DEALCTX_PRIVATE_SERVICES=1;
#   3. a private server started from the installed binaries (installed with
#      apt-get when missing, if running as root on Debian): for test in a temp
#      directory removed at exit; for dev under .dev/, reused on the next run;
#      for dev only, when no binaries can be had, docker compose;
#   4. otherwise a one-line error and a non-zero status.
#
# Also defined here and used by test.sh: services_find_binaries (exports
# POSTGRES_BIN_DIR and REDIS_SERVER_BIN), services_install (apt-get, root on
# Debian only), spawn_group and stop_group (run a command in its own process
# group so that an interrupt stops all of it).

_svc_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

_svc_pg_base=""      # private PostgreSQL: directory holding data/, run/, logs
_svc_pg_user=""      # private PostgreSQL: system user that owns it ("" = us)
_svc_pg_started=""   # 1 when we must stop the private PostgreSQL
_svc_redis_base=""   # private Redis: directory holding the pid file and log
_svc_compose=()      # docker compose services we started
_svc_remove=()       # directories to remove at services_down
_svc_apt_updated=""
_svc_url=""          # set by the functions that obtain a service

_svc_log() { printf 'services: %s\n' "$*" >&2; }
_svc_fail() { printf 'services: %s\n' "$*" >&2; return 1; }

# _svc_redact hides the password in a URL.
_svc_redact() { printf '%s\n' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:xxxxx@#'; }

_svc_is_root() { [[ $(id -u) -eq 0 ]]; }
_svc_can_apt() { _svc_is_root && [[ -f /etc/debian_version ]] && command -v apt-get >/dev/null; }

# services_install installs Debian packages; it fails when not root on Debian.
services_install() {
	(($#)) || return 0
	_svc_can_apt || return 1
	_svc_log "installing $* with apt-get"
	if [[ -z $_svc_apt_updated ]]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
		_svc_apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# services_find_binaries sets and exports POSTGRES_BIN_DIR (holding initdb,
# pg_ctl and postgres) and REDIS_SERVER_BIN when they can be found; it fails
# when either cannot.
services_find_binaries() {
	local d found=""
	if [[ -n ${POSTGRES_BIN_DIR:-} && -x ${POSTGRES_BIN_DIR}/initdb ]]; then
		found=$POSTGRES_BIN_DIR
	else
		# Debian keeps the server programs off PATH, one directory per major version.
		while IFS= read -r d; do
			if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
				found=$d
				break
			fi
		done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
		if [[ -z $found ]] && command -v initdb >/dev/null; then
			found=$(dirname "$(command -v initdb)")
		fi
	fi
	if [[ -n $found ]]; then
		export POSTGRES_BIN_DIR=$found
	fi
	if [[ -z ${REDIS_SERVER_BIN:-} || ! -x ${REDIS_SERVER_BIN} ]]; then
		REDIS_SERVER_BIN=$(command -v redis-server || true)
	fi
	if [[ -n $REDIS_SERVER_BIN ]]; then
		export REDIS_SERVER_BIN
	fi
	[[ -n $found && -n $REDIS_SERVER_BIN ]]
}

# _svc_timeout runs a command with a time limit where timeout(1) exists.
_svc_timeout() {
	if command -v timeout >/dev/null; then
		timeout "$@"
	else
		shift
		"$@"
	fi
}

# _svc_psql_bin prints the path of psql.
_svc_psql_bin() {
	if command -v psql; then
		return
	elif [[ -n ${POSTGRES_BIN_DIR:-} && -x $POSTGRES_BIN_DIR/psql ]]; then
		printf '%s\n' "$POSTGRES_BIN_DIR/psql"
	else
		return 1
	fi
}

# _svc_pg_answers URL [createdb] succeeds when the URL accepts a query and,
# with "createdb", when its role may also create databases (the tests need that).
_svc_pg_answers() {
	local psql out query="select 'ok'"
	psql=$(_svc_psql_bin) || return 1
	if [[ ${2:-} == createdb ]]; then
		query+=" from pg_roles where rolname = current_user and (rolsuper or rolcreatedb)"
	fi
	out=$(PGCONNECT_TIMEOUT=3 _svc_timeout 10 "$psql" "$1" -XAtq -c "$query" 2>/dev/null) || return 1
	[[ $out == ok ]]
}

# _svc_pg_dev_database turns the admin URL in _svc_url into one for the
# database "dealctx", creating it when missing, so that make dev never fills
# the server's "postgres" database with tables.
_svc_pg_dev_database() {
	local psql
	psql=$(_svc_psql_bin) || _svc_fail "psql is needed to create the dev database" || return 1
	if [[ $("$psql" "$_svc_url" -XAtq -c "select 1 from pg_database where datname = 'dealctx'") != 1 ]]; then
		_svc_log "PostgreSQL: creating the database dealctx"
		"$psql" "$_svc_url" -XAtq -c 'create database dealctx' >/dev/null || return 1
	fi
	_svc_url=${_svc_url/\/postgres\?//dealctx?}
}

# _svc_tcp_redis_ping sends PING to host:port with bash's /dev/tcp; a server
# asking for a password still counts as a Redis that answers.
_svc_tcp_redis_ping() {
	local reply
	reply=$(
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf 'PING\r\n' >&3
		IFS= read -r -t 3 line <&3 || true
		printf '%s' "$line"
	) 2>/dev/null || return 1
	[[ $reply == +PONG* || $reply == -NOAUTH* ]]
}

# _svc_redis_answers succeeds when the Redis URL answers PING.
_svc_redis_answers() {
	local url=$1 hostport host port
	if command -v redis-cli >/dev/null && [[ $url == redis://* ]]; then
		[[ $(_svc_timeout 10 redis-cli -u "$url" --no-auth-warning ping 2>/dev/null) == PONG ]]
		return
	fi
	hostport=${url#*://}
	hostport=${hostport##*@}
	hostport=${hostport%%/*}
	host=${hostport%:*}
	port=${hostport##*:}
	[[ $port == "$hostport" ]] && port=6379
	_svc_tcp_redis_ping "$host" "$port"
}

_svc_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# _svc_free_port prints a port nobody listens on, trying $1 first when given.
_svc_free_port() {
	local port=${1:-}
	if [[ -n $port ]] && _svc_port_free "$port"; then
		printf '%s\n' "$port"
		return
	fi
	for _ in {1..50}; do
		port=$((20000 + RANDOM % 30000))
		if _svc_port_free "$port"; then
			printf '%s\n' "$port"
			return
		fi
	done
	return 1
}

# spawn_group runs a command in the background in its own process group and
# sets spawned_pid. Signals for the group (stop_group) reach everything the
# command starts, such as test binaries and their servers, while a Ctrl-C on
# the terminal reaches only the script, which decides what to forward.
spawn_group() {
	set -m
	"$@" </dev/null &
	spawned_pid=$!
	set +m
}

# stop_group SIGNAL PID... sends SIGNAL once to each process group led by a PID,
# waits up to 35 s for all of them (the app finishes shutting down within the
# platforms' 30 s), then kills whatever is left.
stop_group() {
	local sig=$1 pid alive
	shift
	for pid in "$@"; do
		kill -"$sig" -- "-$pid" 2>/dev/null || true
	done
	for _ in {1..350}; do
		alive=""
		for pid in "$@"; do
			kill -0 -- "-$pid" 2>/dev/null && alive=1
		done
		[[ -n $alive ]] || break
		sleep 0.1
	done
	for pid in "$@"; do
		kill -KILL -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# services_need_go puts the usual Go install on PATH when go is not on it.
services_need_go() {
	command -v go >/dev/null && return 0
	[[ -x /usr/local/go/bin/go ]] || _svc_fail "go is not installed: see https://go.dev/dl/" || return 1
	PATH=/usr/local/go/bin:$PATH
}

# services_trap makes an EXIT stop the services this script started, and an
# INT or TERM first stop the group run_in_group is waiting for: the test or
# benchmark binaries and any servers they started, not just `go`.
services_trap() {
	_svc_child=""
	trap services_down EXIT
	trap '_svc_on_signal INT 130' INT
	trap '_svc_on_signal TERM 143' TERM
}

# shellcheck disable=SC2317 # called by the traps
_svc_on_signal() {
	[[ -z ${_svc_child:-} ]] || stop_group "$1" "$_svc_child"
	exit "$2"
}

# run_in_group CMD... runs CMD in its own process group, waits for it, and
# returns its status.
run_in_group() {
	local rc=0
	spawn_group "$@"
	_svc_child=$spawned_pid
	wait "$_svc_child" || rc=$?
	_svc_child=""
	return "$rc"
}

# --- private PostgreSQL ---------------------------------------------------

# _svc_as_pg runs a PostgreSQL program as the user that owns the data directory;
# initdb and postgres refuse to run as root. It runs from the base directory,
# since pg_ctl fails in a working directory that user cannot read.
_svc_as_pg() {
	if [[ -n $_svc_pg_user ]]; then
		(cd "$_svc_pg_base" && runuser -u "$_svc_pg_user" -- "$@")
	else
		(cd "$_svc_pg_base" && "$@")
	fi
}

# _svc_pg_user_can_use succeeds when the server's user may write in dir.
_svc_pg_user_can_use() {
	[[ -z $_svc_pg_user ]] || runuser -u "$_svc_pg_user" -- test -w "$1" -a -x "$1" 2>/dev/null
}

# _svc_pg_choose_base sets _svc_pg_base for the flavour, owned by the server's
# user. As root, a directory under a 0700 home (a clone under /root) is out of
# the postgres user's reach: then the data lives under /tmp instead, linked
# from .dev/ for dev so that the next run finds it.
_svc_pg_choose_base() {
	local flavour=$1 link target
	if _svc_is_root; then
		_svc_pg_user=postgres
		if ! id -u postgres >/dev/null 2>&1; then
			_svc_log "creating the system user postgres to run the private server"
			useradd --system --user-group --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin postgres ||
				_svc_fail "cannot create the postgres user that initdb needs when run as root" || return 1
		fi
		command -v runuser >/dev/null || _svc_fail "runuser (util-linux) is needed to run PostgreSQL as root" || return 1
	fi

	if [[ $flavour == test ]]; then
		_svc_pg_base=$(mktemp -d "${TMPDIR:-/tmp}/dealctx-pg.XXXXXX")
		_svc_remove+=("$_svc_pg_base")
		[[ -z $_svc_pg_user ]] || chown "$_svc_pg_user:" "$_svc_pg_base"
		if ! _svc_pg_user_can_use "$_svc_pg_base"; then
			rmdir "$_svc_pg_base"
			_svc_pg_base=$(mktemp -d /tmp/dealctx-pg.XXXXXX)
			_svc_remove+=("$_svc_pg_base")
			chown "$_svc_pg_user:" "$_svc_pg_base"
		fi
		return
	fi

	link=$_svc_repo/.dev/postgres
	mkdir -p "$_svc_repo/.dev"
	if [[ -L $link ]]; then
		target=$(readlink "$link")
		mkdir -p "$target"
		[[ -z $_svc_pg_user ]] || chown "$_svc_pg_user:" "$target"
		_svc_pg_base=$target
		return
	fi
	mkdir -p "$link"
	[[ -z $_svc_pg_user ]] || chown "$_svc_pg_user:" "$link"
	if _svc_pg_user_can_use "$link"; then
		_svc_pg_base=$link
		return
	fi
	if [[ -e $link/data ]]; then
		_svc_fail "$link holds data the postgres user cannot reach; move it away or set DATABASE_URL"
		return 1
	fi
	rmdir "$link"
	target=/tmp/dealctx-dev-postgres-$(printf '%s' "$_svc_repo" | cksum | cut -d' ' -f1)
	# A predictable name in /tmp: take it over only if it is ours.
	if [[ -L $target ]] || { [[ -e $target ]] && [[ $(stat -c %U "$target") != "$_svc_pg_user" ]]; }; then
		_svc_fail "$target exists and is not the postgres user's directory; remove it"
		return 1
	fi
	mkdir -p "$target"
	chown "$_svc_pg_user:" "$target"
	chmod 0700 "$target"
	ln -s "$target" "$link"
	_svc_log "$link links to $target (the postgres user cannot reach $_svc_repo)"
	_svc_pg_base=$target
}

# _svc_pg_private starts a private PostgreSQL and sets _svc_url.
_svc_pg_private() {
	local flavour=$1 bin=$POSTGRES_BIN_DIR data sock port attempt want have server_opts
	local -a initdb_opts
	_svc_pg_choose_base "$flavour" || return 1
	data=$_svc_pg_base/data

	# A dev server left running by an earlier run that was killed: adopt it.
	if [[ -f $data/postmaster.pid ]] && _svc_as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		port=$(sed -n 4p "$data/postmaster.pid")
		_svc_pg_started=1
		_svc_log "PostgreSQL: reusing the private server in $data on port $port"
		_svc_url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
		return
	fi

	if [[ -f $data/PG_VERSION ]]; then
		want=$(cat "$data/PG_VERSION")
		have=$("$bin/postgres" --version | sed -E 's/.* ([0-9]+)[.].*/\1/')
		if [[ $want != "$have" ]]; then
			_svc_fail "$data was made by PostgreSQL $want but $bin is $have; remove it (rm -rf .dev) or set POSTGRES_BIN_DIR"
			return 1
		fi
	else
		_svc_log "PostgreSQL: initdb in $data"
		initdb_opts=(-D "$data" -U postgres -A trust -E UTF8 --no-locale)
		if [[ $flavour == test ]]; then
			initdb_opts+=(--no-sync)
		fi
		if ! _svc_as_pg "$bin/initdb" "${initdb_opts[@]}" >"$_svc_pg_base/initdb.log" 2>&1; then
			cat "$_svc_pg_base/initdb.log" >&2
			_svc_fail "initdb failed"
			return 1
		fi
	fi

	# The socket path must stay under the kernel's 107-byte limit.
	sock=$_svc_pg_base/run
	if ((${#sock} > 80)); then
		sock=$(mktemp -d /tmp/dealctx-pgsock.XXXXXX)
		_svc_remove+=("$sock")
	else
		mkdir -p "$sock"
	fi
	[[ -z $_svc_pg_user ]] || chown "$_svc_pg_user:" "$sock"

	server_opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories='$sock' -c max_connections=300"
	if [[ $flavour == test ]]; then
		# Durability buys nothing in a throwaway test server.
		server_opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	for attempt in 1 2 3 4 5; do
		if [[ $flavour == dev && $attempt == 1 ]]; then
			port=$(_svc_free_port 55432) || break
		else
			port=$(_svc_free_port) || break
		fi
		if _svc_as_pg "$bin/pg_ctl" -D "$data" -l "$_svc_pg_base/postgres.log" -w -t 60 \
			-o "-p $port $server_opts" start >/dev/null 2>&1; then
			_svc_pg_started=1
			_svc_log "PostgreSQL: private server on 127.0.0.1:$port (log: $_svc_pg_base/postgres.log)"
			_svc_url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			return
		fi
		# Most likely someone took the port in between; try another.
	done
	tail -n 20 "$_svc_pg_base/postgres.log" >&2 2>/dev/null || true
	_svc_fail "could not start a private PostgreSQL (log: $_svc_pg_base/postgres.log)"
}

_svc_pg_stop() {
	[[ -n $_svc_pg_started ]] || return 0
	_svc_pg_started=""
	_svc_as_pg "$POSTGRES_BIN_DIR/pg_ctl" -D "$_svc_pg_base/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
		_svc_as_pg "$POSTGRES_BIN_DIR/pg_ctl" -D "$_svc_pg_base/data" -m immediate -w stop >/dev/null 2>&1 ||
		_svc_log "could not stop the private PostgreSQL in $_svc_pg_base"
}

# --- private Redis --------------------------------------------------------

# _svc_redis_pid prints the pid of the private Redis when it runs.
_svc_redis_pid() {
	local pid
	[[ -n $_svc_redis_base && -f $_svc_redis_base/redis.pid ]] || return 1
	pid=$(cat "$_svc_redis_base/redis.pid")
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	printf '%s\n' "$pid"
}

# _svc_redis_private starts a private Redis and sets _svc_url.
_svc_redis_private() {
	local flavour=$1 port attempt pid
	if [[ $flavour == test ]]; then
		_svc_redis_base=$(mktemp -d "${TMPDIR:-/tmp}/dealctx-redis.XXXXXX")
		_svc_remove+=("$_svc_redis_base")
	else
		_svc_redis_base=$_svc_repo/.dev/redis
		mkdir -p "$_svc_redis_base"
		# Nothing is persisted, so a server left by a killed run is replaced.
		_svc_redis_stop
	fi
	for attempt in 1 2 3 4 5; do
		if [[ $flavour == dev && $attempt == 1 ]]; then
			port=$(_svc_free_port 56379) || break
		else
			port=$(_svc_free_port) || break
		fi
		rm -f "$_svc_redis_base/redis.pid"
		"$REDIS_SERVER_BIN" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize yes --pidfile "$_svc_redis_base/redis.pid" \
			--logfile "$_svc_redis_base/redis.log" --dir "$_svc_redis_base" >/dev/null 2>&1 || continue
		for _ in {1..50}; do
			if pid=$(_svc_redis_pid) && _svc_redis_answers "redis://127.0.0.1:$port/0"; then
				# Make sure the server answering is ours, not one that took the port first.
				if ! command -v redis-cli >/dev/null ||
					redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$pid"; then
					_svc_log "Redis: private server on 127.0.0.1:$port (log: $_svc_redis_base/redis.log)"
					_svc_url="redis://127.0.0.1:$port/0"
					return
				fi
				break
			fi
			sleep 0.1
		done
		_svc_redis_stop
	done
	tail -n 20 "$_svc_redis_base/redis.log" >&2 2>/dev/null || true
	_svc_fail "could not start a private Redis (log: $_svc_redis_base/redis.log)"
}

_svc_redis_stop() {
	local pid
	pid=$(_svc_redis_pid) || return 0
	kill "$pid" 2>/dev/null || true
	for _ in {1..100}; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$_svc_redis_base/redis.pid"
}

# --- docker compose (dev only, when no binaries can be had) --------------

_svc_docker_ok() {
	command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1
}

_svc_compose_up() {
	local svc=$1
	_svc_log "$svc: starting it with docker compose"
	docker compose -f "$_svc_repo/deploy/compose.yaml" up -d --wait "$svc" >&2 || return 1
	_svc_compose+=("$svc")
}

# --- per-service acquisition ----------------------------------------------

# _svc_obtain_pg sets _svc_url to a PostgreSQL URL for the flavour.
_svc_obtain_pg() {
	local flavour=$1 var=$2 url need=""
	[[ $flavour == test ]] && need=createdb
	url=${!var:-}
	if [[ -n $url ]]; then
		if _svc_pg_answers "$url" "$need"; then
			_svc_log "PostgreSQL: using $var from the environment"
		elif command -v psql >/dev/null; then
			_svc_fail "$var=$(_svc_redact "$url") does not answer, or its role may not create databases"
			return 1
		else
			_svc_log "PostgreSQL: using $var from the environment (not checked: no psql)"
		fi
		_svc_url=$url
		return
	fi
	url='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
	if [[ ${DEALCTX_PRIVATE_SERVICES:-} != 1 ]] && _svc_pg_answers "$url" createdb; then
		_svc_log "PostgreSQL: using the server on 127.0.0.1:5432"
		_svc_url=$url
		if [[ $flavour == dev ]]; then
			_svc_pg_dev_database || return 1
		fi
		return
	fi
	services_find_binaries >/dev/null || true
	if [[ -z ${POSTGRES_BIN_DIR:-} ]]; then
		if services_install postgresql; then
			services_find_binaries >/dev/null || true
		fi
	fi
	if [[ -n ${POSTGRES_BIN_DIR:-} ]]; then
		_svc_pg_private "$flavour" || return 1
		if [[ $flavour == dev ]]; then
			_svc_pg_dev_database || return 1
		fi
		return
	fi
	if [[ $flavour == dev ]] && _svc_docker_ok; then
		_svc_compose_up postgres || return 1
		_svc_url='postgres://postgres:postgres@127.0.0.1:55432/dealctx?sslmode=disable'
		return
	fi
	_svc_fail "no PostgreSQL: install it (Debian: apt-get install postgresql; macOS: brew install postgresql) or set $var"
}

# _svc_obtain_redis sets _svc_url to a Redis URL for the flavour.
_svc_obtain_redis() {
	local flavour=$1 var=$2 url
	url=${!var:-}
	if [[ -n $url ]]; then
		if [[ $url == rediss://* ]]; then
			_svc_log "Redis: using $var from the environment (TLS: not checked)"
		elif _svc_redis_answers "$url"; then
			_svc_log "Redis: using $var from the environment"
		else
			_svc_fail "$var=$(_svc_redact "$url") does not answer PING"
			return 1
		fi
		_svc_url=$url
		return
	fi
	url='redis://127.0.0.1:6379/0'
	if [[ ${DEALCTX_PRIVATE_SERVICES:-} != 1 ]] && _svc_redis_answers "$url"; then
		_svc_log "Redis: using the server on 127.0.0.1:6379"
		_svc_url=$url
		return
	fi
	services_find_binaries >/dev/null || true
	if [[ -z ${REDIS_SERVER_BIN:-} ]]; then
		if services_install redis-server; then
			services_find_binaries >/dev/null || true
		fi
	fi
	if [[ -n ${REDIS_SERVER_BIN:-} ]]; then
		_svc_redis_private "$flavour"
		return
	fi
	if [[ $flavour == dev ]] && _svc_docker_ok; then
		_svc_compose_up redis || return 1
		_svc_url='redis://127.0.0.1:56379/0'
		return
	fi
	_svc_fail "no Redis: install it (Debian: apt-get install redis-server; macOS: brew install redis) or set $var"
}

# services_up obtains both services for the flavour (test or dev) and exports
# their URLs: TEST_DATABASE_URL and TEST_REDIS_URL, or DATABASE_URL and REDIS_URL.
# Call services_down (from an EXIT trap) to stop what it started.
services_up() {
	local flavour=$1 pgvar redisvar
	case $flavour in
	test) pgvar=TEST_DATABASE_URL redisvar=TEST_REDIS_URL ;;
	dev) pgvar=DATABASE_URL redisvar=REDIS_URL ;;
	*) _svc_fail "unknown flavour '$flavour' (want test or dev)" || return 1 ;;
	esac
	_svc_obtain_pg "$flavour" "$pgvar" || return 1
	export "$pgvar=$_svc_url"
	_svc_obtain_redis "$flavour" "$redisvar" || return 1
	export "$redisvar=$_svc_url"
}

# services_down stops what services_up started and removes its temp dirs.
services_down() {
	local d
	_svc_pg_stop
	_svc_redis_stop
	if ((${#_svc_compose[@]})); then
		docker compose -f "$_svc_repo/deploy/compose.yaml" stop "${_svc_compose[@]}" >&2 || true
		_svc_compose=()
	fi
	for d in "${_svc_remove[@]}"; do
		rm -rf "$d"
	done
	_svc_remove=()
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	flavour=${1:-}
	[[ $flavour == test || $flavour == dev ]] || {
		echo "usage: $0 test|dev [command [args...]]" >&2
		exit 2
	}
	shift
	trap services_down EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	services_up "$flavour"
	if (($# == 0)); then
		if [[ $flavour == test ]]; then
			printf 'TEST_DATABASE_URL=%s\nTEST_REDIS_URL=%s\n' \
				"$(_svc_redact "$TEST_DATABASE_URL")" "$(_svc_redact "$TEST_REDIS_URL")"
		else
			printf 'DATABASE_URL=%s\nREDIS_URL=%s\n' \
				"$(_svc_redact "$DATABASE_URL")" "$(_svc_redact "$REDIS_URL")"
		fi
		exit 0
	fi
	spawn_group "$@"
	trap 'stop_group INT "$spawned_pid"; exit 130' INT
	trap 'stop_group TERM "$spawned_pid"; exit 143' TERM
	wait "$spawned_pid"
fi
