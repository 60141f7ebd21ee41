#!/bin/sh
# Runs every fuzz target for FUZZTIME each (default 20s). `make test` runs
# only their seed corpora; this searches for new crashes. A crash is saved
# under the package's testdata/fuzz/<target>/ — commit it with the fix.
# Usage: FUZZTIME=2m deploy/dev/fuzz.sh [target ...]
set -eu
cd "$(dirname "$0")/../.."
FUZZTIME="${FUZZTIME:-20s}"

# package target
TARGETS='
./internal/web FuzzParseID
./internal/httpapi FuzzRequests
./internal/httpapi FuzzDecodeRequests
./internal/httpapi FuzzPageRequests
./internal/auth FuzzParseRememberToken
./internal/session FuzzSessionPayload
./internal/session FuzzValidToken
./internal/config FuzzLoad
'

echo "$TARGETS" | while read -r pkg target; do
	[ -n "$pkg" ] || continue
	if [ $# -gt 0 ]; then
		case " $* " in *" $target "*) ;; *) continue ;; esac
	fi
	echo "== $target ($pkg) for $FUZZTIME"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
done
