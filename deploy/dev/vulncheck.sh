#!/usr/bin/env bash
# vulncheck.sh runs govulncheck (pinned) over every package and fails on a
# vulnerability the code reaches. Its online database cannot be reached from
# every machine, so the database is built offline from the golang.org/x/vulndb
# module (pinned; its cmd/indexdb turns the module's OSV files into a v1
# database) and kept under ~/.cache/dealctx/ for later runs. Bumping
# VULNDB_VERSION picks up newer reports.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

db="${XDG_CACHE_HOME:-$HOME/.cache}/dealctx/vulndb-$VULNDB_VERSION"
if [[ ! -f $db/index/db.json ]]; then
	echo "vulncheck.sh: building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION (once: a few minutes)" >&2
	src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	tmp=$(mktemp -d "$db.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$tmp"
	rm -rf "$db"
	mv "$tmp" "$db"
fi
go run "$GOVULNCHECK" -db "file://$db" ./...
