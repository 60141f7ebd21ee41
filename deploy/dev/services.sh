#!/usr/bin/env bash
# services.sh runs a command with PostgreSQL and Redis for the tests or for
# make dev:
#
#   deploy/dev/services.sh test|dev [command [args...]]
#
# All the work is cmd/devenv's (its usage: deploy/dev/services.sh): it finds
# or starts the servers, puts their URLs (and for test the programs the tests
# start) in the command's environment, and stops what it started when the
# command ends, also on Ctrl-C. Sourced, this file only defines build_devenv,
# which the other scripts use.

# Every script sources this file: the toolchain go.mod names, fetched by the
# go command from the module proxy (a machine's own Go would refuse go.mod).
export GOTOOLCHAIN=go1.27.3

# build_devenv puts Go on PATH when it is only in its usual place, and builds
# bin/devenv (quick once built: go build only redoes what changed).
build_devenv() {
	if ! command -v go >/dev/null; then
		if [[ ! -x /usr/local/go/bin/go ]]; then
			echo "go is not installed: see https://go.dev/dl/ (the version in go.mod)" >&2
			return 1
		fi
		PATH=/usr/local/go/bin:$PATH
	fi
	if [[ ! -x bin/devenv ]]; then
		echo "building bin/devenv, which starts the servers (the first build downloads and compiles Go modules: a minute or more)" >&2
	fi
	go build -o bin/devenv ./cmd/devenv
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	cd "$(dirname "$0")/../.."
	build_devenv
	exec bin/devenv "$@"
fi
