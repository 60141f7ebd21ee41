package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

func TestPrintUsageListsOnlyTheVariablesTheProcessReads(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := PrintUsage(&out, "Usage: worker\n", config.ProcWorker); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "Usage: worker\n") {
		t.Errorf("usage: got %q, want it to start with the text", out.String())
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(out.String(), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = true
		}
	}
	for _, v := range config.Variables {
		if got, want := lines[v.Name], v.ReadBy&config.ProcWorker != 0; got != want {
			t.Errorf("%s listed: got %v, want %v", v.Name, got, want)
		}
	}
}

// logRedisLine makes go-redis log one line of its own through its
// process-wide logger: a client with an unknown caching strategy.
func logRedisLine(t *testing.T) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ClientSideCacheStrategy: 99})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// Not parallel: it watches the process-wide logger.
func TestRedisLinesFollowLogFormatAndTheNewestRunningRun(t *testing.T) {
	first, second := &testserver.LogBuffer{}, &testserver.LogBuffer{}
	stopFirst := RouteRedisLogs(logging.New(first, "text", slog.LevelInfo))
	stopSecond := RouteRedisLogs(logging.New(second, "json", slog.LevelInfo))

	logRedisLine(t)
	if got := second.String(); !strings.Contains(got, `"level":"WARN"`) || !strings.Contains(got, "unknown ClientSideCacheStrategy") {
		t.Errorf("newest run's stderr: got %q, want go-redis' line as JSON", got)
	}
	if got := first.String(); got != "" {
		t.Errorf("older run's stderr: got %q, want nothing while a newer run is running", got)
	}

	stopSecond()
	logRedisLine(t)
	if got := first.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "unknown ClientSideCacheStrategy") {
		t.Errorf("remaining run's stderr: got %q, want go-redis' line in LOG_FORMAT=text", got)
	}
	stopFirst()
	n := len(first.String())
	logRedisLine(t)
	if len(first.String()) != n || strings.Count(second.String(), "\n") != 1 {
		t.Errorf("after both runs returned: got lines in their stderr, want none")
	}
}
