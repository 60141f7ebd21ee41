package cli

import (
	"context"
	"log/slog"
	"os"
	"sync"

	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/redis/go-redis/v9"
)

// RouteRedisLogs sends go-redis' own log lines (reconnects, pool and
// Sentinel notices; never credentials) to l, the logger a run() built from
// LOG_FORMAT and LOG_LEVEL over its stderr, until the returned function is
// called; run() defers that call.
//
// go-redis has one logger per process (redis.SetLogger), while tests call
// run() many times at once. So the process gets one router, installed on
// the first call, and every run() registers its logger with it: a line goes
// to the newest run() still running (in a real process the only one), and
// never to the stderr of a run() that has returned. With none running, lines
// go to os.Stderr as JSON.
func RouteRedisLogs(l *slog.Logger) (stop func()) {
	redisLogs.install.Do(func() { redis.SetLogger(redisLogs) })
	return redisLogs.add(l)
}

// redisLogs is this program's one piece of process-wide state, because it
// stands for go-redis' process-wide logger.
var redisLogs = &router{fallback: slog.New(slog.NewJSONHandler(os.Stderr, nil))}

// router is the process's go-redis logger: it forwards each line to the
// newest registered logger.
type router struct {
	install  sync.Once
	fallback *slog.Logger

	mu   sync.Mutex
	live []*slog.Logger // registered, oldest first
}

// add registers l and returns the function that removes it again.
func (r *router) add(l *slog.Logger) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live = append(r.live, l)
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			for i, x := range r.live {
				if x == l {
					r.live = append(r.live[:i:i], r.live[i+1:]...)
					return
				}
			}
		})
	}
}

// Printf implements go-redis' logging interface. It writes under the lock,
// so once a run's stop function returned, no line reaches that run's stderr.
func (r *router) Printf(ctx context.Context, format string, v ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.fallback
	if n := len(r.live); n > 0 {
		l = r.live[n-1]
	}
	redisclient.Logger(l).Printf(ctx, format, v...)
}
