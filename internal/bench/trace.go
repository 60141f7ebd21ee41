// Package bench measures the request path and the worker: HTTP load on the
// real api beside a floor server, Go benchmarks of the middleware with their
// database and Redis round trips counted, the worker's jobs over a million
// rows, and the api's memory. `make bench` runs it (bench_test.go, build tag
// bench) and writes BENCHMARKS.md; the helpers here are always compiled.
package bench

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// QueryCounter is a pgx.QueryTracer that counts the statements sent to
// PostgreSQL, the transactions they belong to, and the longest statement.
// Install it as the pool's ConnConfig.Tracer.
type QueryCounter struct {
	queries atomic.Int64
	txs     atomic.Int64

	mu      sync.Mutex
	longest time.Duration
	slowSQL string
}

type queryStartKey struct{}

// TraceQueryStart counts the statement, and a transaction when the
// connection was not inside one (an autocommit statement or a BEGIN).
func (c *QueryCounter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	if conn.PgConn().TxStatus() == 'I' {
		c.txs.Add(1)
	}
	return context.WithValue(ctx, queryStartKey{}, time.Now())
}

// TraceQueryEnd records the statement's duration.
func (c *QueryCounter) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	start, ok := ctx.Value(queryStartKey{}).(time.Time)
	if !ok {
		return
	}
	d := time.Since(start)
	c.mu.Lock()
	if d > c.longest {
		c.longest = d
		c.slowSQL = firstLine(data.CommandTag.String())
	}
	c.mu.Unlock()
}

// Queries is the number of statements sent so far.
func (c *QueryCounter) Queries() int64 { return c.queries.Load() }

// Transactions is the number of transactions begun so far, implicit ones
// (a statement outside BEGIN) included.
func (c *QueryCounter) Transactions() int64 { return c.txs.Load() }

// Longest is the longest statement so far, start to result, and its command
// tag (e.g. "DELETE 1000").
func (c *QueryCounter) Longest() (time.Duration, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.longest, c.slowSQL
}

// Reset zeroes the counts and the longest statement.
func (c *QueryCounter) Reset() {
	c.queries.Store(0)
	c.txs.Store(0)
	c.mu.Lock()
	c.longest, c.slowSQL = 0, ""
	c.mu.Unlock()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// RedisCounter is a go-redis hook that counts commands, and among them the
// ones that may write (anything but a known read). Add it with AddHook.
type RedisCounter struct {
	commands atomic.Int64
	writes   atomic.Int64
	// writeTrips counts round trips that may write: a command that may,
	// or a pipeline holding one.
	writeTrips atomic.Int64
}

// readOnly are the commands the api's stores use that never write.
var readOnly = map[string]bool{
	"get": true, "mget": true, "exists": true, "ttl": true, "pttl": true, "ping": true,
	"info": true, "hello": true, "client": true, "scan": true, "type": true, "strlen": true,
}

// count counts cmd and reports whether it may write.
func (c *RedisCounter) count(cmd redis.Cmder) bool {
	c.commands.Add(1)
	if readOnly[strings.ToLower(cmd.Name())] {
		return false
	}
	c.writes.Add(1)
	return true
}

// DialHook passes dials through.
func (c *RedisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts one command.
func (c *RedisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if c.count(cmd) {
			c.writeTrips.Add(1)
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts each command of a pipeline.
func (c *RedisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		writes := false
		for _, cmd := range cmds {
			writes = c.count(cmd) || writes
		}
		if writes {
			c.writeTrips.Add(1)
		}
		return next(ctx, cmds)
	}
}

// Commands is the number of commands sent so far.
func (c *RedisCounter) Commands() int64 { return c.commands.Load() }

// Writes is the number of commands sent so far that may write.
func (c *RedisCounter) Writes() int64 { return c.writes.Load() }

// WriteTrips is the number of round trips so far that may write (a
// pipeline is one).
func (c *RedisCounter) WriteTrips() int64 { return c.writeTrips.Load() }

// Reset zeroes the counts.
func (c *RedisCounter) Reset() {
	c.commands.Store(0)
	c.writes.Store(0)
	c.writeTrips.Store(0)
}
