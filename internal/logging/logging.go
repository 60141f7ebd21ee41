// Package logging builds the processes' slog loggers and carries the request
// id through contexts so every line of a request names it.
package logging

import (
	"context"
	"io"
	"log/slog"
)

type ctxKey struct{}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a logger writing format ("json" or "text") at level to w. Every
// record logged with a context that carries a request id gets a request_id
// attribute. When w is an *Output, the logger's lines are written before the
// call returns, and Access derives from it an access log whose lines are
// batched.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	handler := func(w io.Writer) slog.Handler {
		opts := &slog.HandlerOptions{Level: level}
		if format == "text" {
			return slog.NewTextHandler(w, opts)
		}
		return slog.NewJSONHandler(w, opts)
	}
	if o, ok := w.(*Output); ok {
		async := o.Async()
		return slog.New(contextHandler{Handler: handler(o), access: &accessSide{
			handler: handler(async), w: async, json: format != "text",
		}})
	}
	return slog.New(contextHandler{Handler: handler(w)})
}

// contextHandler adds the request id; access, when set, is where the access
// log of a logger built over an Output writes.
type contextHandler struct {
	slog.Handler
	access *accessSide
}

// accessSide is the batching side of an Output: the same handler over
// Output.Async, and what formatting a line by hand needs.
type accessSide struct {
	handler slog.Handler
	w       io.Writer // Output.Async
	json    bool
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	// A logger with attributes of its own has no hand-formatted access
	// lines: those know only the access line's attributes.
	return contextHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{Handler: h.Handler.WithGroup(name)}
}
