package logging

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/testserver"
)

// The hand-formatted access line is the line slog writes: operators' log
// pipelines parse one shape, whichever path wrote it.
func TestAccessLineIsSlogsLine(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 12, 4, 8, 49, 38, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("X", -5*3600-30*60)),
		time.Date(2026, 1, 2, 3, 4, 5, 1_000_000, time.Local),
	}
	durations := []time.Duration{0, time.Microsecond, 999 * time.Microsecond, 1234567 * time.Microsecond, 3 * time.Hour}
	for _, format := range []string{"json", "text"} {
		for _, tm := range times {
			for _, d := range durations {
				for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
					for _, id := range []string{"", "9f86d081884c7d65"} {
						var want bytes.Buffer
						l := New(&want, format, slog.LevelDebug)
						ctx := context.Background()
						if id != "" {
							ctx = WithRequestID(ctx, id)
						}
						ms := float64(d.Microseconds()) / 1000
						r := slog.NewRecord(tm, level, "request", 0)
						r.AddAttrs(slog.String("method", "GET"), slog.String("route", "/api/deals/{id}"),
							slog.Int("status", 200), slog.Float64("duration_ms", ms), slog.Int64("bytes", 1234))
						if err := l.Handler().Handle(ctx, r); err != nil {
							t.Fatal(err)
						}
						got := appendAccessLine(nil, format == "json", tm, level, "GET", "/api/deals/{id}", 200, ms, 1234, id)
						if string(got) != want.String() {
							t.Errorf("%s:\n got %s\nwant %s", format, got, want.String())
						}
					}
				}
			}
		}
	}
}

// Through an Output, access lines and other lines reach the writer whole,
// in the order they were logged, and Close writes what waits.
func TestOutputKeepsLinesWholeAndInOrder(t *testing.T) {
	var w testserver.LogBuffer
	o := NewOutput(&w)
	l := New(o, "json", slog.LevelInfo)
	access := Access(l)
	ctx := WithRequestID(context.Background(), "abc")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				access.Request(ctx, slog.LevelInfo, "GET", fmt.Sprintf("/r%d/%d", g, i), 200, time.Millisecond, 10)
			}
		}()
	}
	wg.Wait()
	access.Request(ctx, slog.LevelInfo, "GET", "/last-access", 200, time.Millisecond, 10)
	access.Request(ctx, slog.LevelInfo, "GET", `/"odd" route`, 200, time.Millisecond, 10) // slog formats this one
	l.Info("after the access lines")
	access.Request(ctx, slog.LevelDebug, "GET", "/debug-not-logged", 200, time.Millisecond, 10)
	access.Request(ctx, slog.LevelInfo, "GET", "/before-close", 200, time.Millisecond, 10)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	l.Info("after close")

	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 2000+5 {
		t.Fatalf("lines: got %d, want %d", len(lines), 2005)
	}
	next := map[int]int{}
	for _, line := range lines[:2000] {
		var g, i int
		if _, err := fmt.Sscanf(line[strings.Index(line, `"route":"`)+len(`"route":"`):], "/r%d/%d", &g, &i); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: got line %d, want %d", g, i, next[g])
		}
		next[g]++
	}
	for i, want := range []string{`"route":"/last-access"`, `"route":"/\"odd\" route"`, `"msg":"after the access lines"`, `"route":"/before-close"`, `"msg":"after close"`} {
		if !strings.Contains(lines[2000+i], want) {
			t.Errorf("line %d: got %s, want it to hold %s", 2000+i, lines[2000+i], want)
		}
	}
}

// An access line reaches the writer without Close, within about linger,
// also after the writer went idle: the goroutine sleeps when lines stop and
// the next line wakes it.
func TestOutputWritesAccessLinesWithoutClose(t *testing.T) {
	var w testserver.LogBuffer
	o := NewOutput(&w)
	t.Cleanup(func() { _ = o.Close() })
	access := Access(New(o, "json", slog.LevelInfo))
	ctx := context.Background()
	landed := func(route string) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); !strings.Contains(w.String(), `"route":"`+route+`"`); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the line of %s did not reach the writer within 2s", route)
			}
		}
	}
	for round := range 3 {
		route := fmt.Sprintf("/round%d", round)
		access.Request(ctx, slog.LevelInfo, "GET", route, 200, time.Millisecond, 10)
		landed(route)
		time.Sleep(4 * linger) // the goroutine finds nothing more and sleeps
	}
}
