package logging

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dealctx/dealctx/internal/jsonstr"
)

// AccessLog writes the access log: one line per request, message "request",
// with the method, route, status, duration and bytes of the response. A
// logger built over an Output (New) writes it batched (Output.Async) and
// formats it by hand, byte for byte the line slog would write (tested),
// at a fraction of slog's cost on the hot path; any other logger writes it
// through slog, synchronously.
type AccessLog struct {
	l    *slog.Logger
	side *accessSide // nil: every line through l
}

// Access returns l's access log.
func Access(l *slog.Logger) *AccessLog {
	if h, ok := l.Handler().(contextHandler); ok && h.access != nil {
		return &AccessLog{l: slog.New(contextHandler{Handler: h.access.handler}), side: h.access}
	}
	return &AccessLog{l: l}
}

// Request logs one request at level.
func (a *AccessLog) Request(ctx context.Context, level slog.Level, method, route string, status int, d time.Duration, bytes int64) {
	if !a.l.Enabled(ctx, level) {
		return
	}
	ms := float64(d.Microseconds()) / 1000
	id := RequestID(ctx)
	if a.side == nil || !plain(method) || !plain(route) || (id != "" && !plain(id)) {
		a.l.LogAttrs(ctx, level, "request",
			slog.String("method", method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", ms),
			slog.Int64("bytes", bytes),
		)
		return
	}
	bp := lineBuffers.Get().(*[]byte)
	*bp = appendAccessLine((*bp)[:0], a.side.json, time.Now(), level, method, route, status, ms, bytes, id)
	_, _ = a.side.w.Write(*bp) // a failed log write has nowhere to be reported
	lineBuffers.Put(bp)
}

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendAccessLine appends the line slog's JSON (or text) handler writes for
// the record "request" at level and time t with these attributes and the
// request id (when not empty). Every string must be plain.
func appendAccessLine(b []byte, json bool, t time.Time, level slog.Level, method, route string, status int, ms float64, bytes int64, id string) []byte {
	if json {
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"`...)
		b = append(b, level.String()...)
		b = append(b, `","msg":"request","method":"`...)
		b = append(b, method...)
		b = append(b, `","route":"`...)
		b = append(b, route...)
		b = append(b, `","status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"duration_ms":`...)
		b = strconv.AppendFloat(b, ms, 'f', -1, 64) // encoding/json's form for 1e-6 ≤ ms < 1e21, and 0
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, bytes, 10)
		if id != "" {
			b = append(b, `,"request_id":"`...)
			b = append(b, id...)
			b = append(b, '"')
		}
		return append(b, "}\n"...)
	}
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, t)
	b = append(b, " level="...)
	b = append(b, level.String()...)
	b = append(b, " msg=request method="...)
	b = append(b, method...)
	b = append(b, " route="...)
	b = append(b, route...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " duration_ms="...)
	b = strconv.AppendFloat(b, ms, 'g', -1, 64)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, bytes, 10)
	if id != "" {
		b = append(b, " request_id="...)
		b = append(b, id...)
	}
	return append(b, '\n')
}

// appendRFC3339Millis is how slog's text handler writes a time: RFC 3339
// with exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the fourth digit
}

// plain reports whether s can be written as is in both formats: not empty,
// written unchanged by JSON (jsonstr.Plain), and without the space or '='
// that make slog's text handler quote a value.
func plain(s string) bool {
	return s != "" && jsonstr.Plain(s) && !strings.ContainsAny(s, " =")
}
