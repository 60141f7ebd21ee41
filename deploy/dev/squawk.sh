#!/usr/bin/env bash
# squawk.sh lints every migration with squawk (the npm package squawk-cli,
# pinned), as goose runs them: each file in one transaction. A finding is
# fixed in the migration or justified there with a squawk-ignore comment
# that says why. The first run installs squawk with npm under
# ~/.cache/dealctx/ (and npm itself with apt-get when it is missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

SQUAWK_VERSION=2.66.0
dir="${XDG_CACHE_HOME:-$HOME/.cache}/dealctx/squawk-$SQUAWK_VERSION"
squawk="$dir/node_modules/.bin/squawk"
if [[ ! -x $squawk ]]; then
	if ! command -v npm >/dev/null; then
		if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
			echo "squawk.sh: installing npm with apt-get" >&2
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
		else
			echo "squawk.sh: npm not found (Debian: apt-get install npm)" >&2
			exit 1
		fi
	fi
	echo "squawk.sh: installing squawk-cli@$SQUAWK_VERSION with npm" >&2
	mkdir -p "$dir"
	npm install --silent --no-save --no-audit --no-fund --prefix "$dir" "squawk-cli@$SQUAWK_VERSION" >&2
fi
"$squawk" --assume-in-transaction --reporter gcc migrations/*.sql
echo "squawk.sh: migrations/*.sql: no findings"
