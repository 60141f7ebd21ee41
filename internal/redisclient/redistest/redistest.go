// Package redistest gives tests the shared test Redis, as pgtest gives them
// PostgreSQL: TEST_REDIS_URL (which `make test` sets from the services it
// starts), else a Redis on localhost. It imports testing, so only tests
// import it; the binaries never link it.
package redistest

import (
	"net/url"
	"os"
	"strconv"
	"testing"

	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/redis/go-redis/v9"
)

// URL is the shared test Redis's URL.
func URL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// APIURL is URL with database db instead, for an api under test. The api
// enqueues asynq wake-ups that no worker consumes in tests, and asynq keys
// cannot be prefixed: database db keeps them out of database 0, where a
// developer's `make dev` worker would pick them up.
func APIURL(db int) string {
	u, err := url.Parse(URL())
	if err != nil {
		return URL() // a malformed TEST_REDIS_URL fails where it is used
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String()
}

// New opens a client on URL with the api's settings, closed when the test
// ends. Tests share the server: each keeps to a key prefix of its own.
func New(t testing.TB) *redis.Client {
	t.Helper()
	rdb, err := redisclient.New(URL(), false)
	if err != nil {
		t.Fatalf("test redis: %v", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}
