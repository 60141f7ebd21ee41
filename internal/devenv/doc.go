// Package devenv finds, installs and starts the servers that local
// development and the tests need: PostgreSQL, Redis and PgBouncer, plus the
// programs the tests start themselves (Chromium, promtool, redis-cli). It is
// the one implementation behind `make dev`, `make test` (through cmd/devenv)
// and internal/testserver; nothing in it is used in production.
package devenv
