package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// AsynqLogger adapts a slog logger to asynq's Logger interface, so the
// task server's own lines are structured like the rest.
type AsynqLogger struct{ L *slog.Logger }

func (a AsynqLogger) log(level slog.Level, args ...any) {
	a.L.Log(context.Background(), level, fmt.Sprint(args...), "component", "asynq")
}

// Debug logs at debug level.
func (a AsynqLogger) Debug(args ...any) { a.log(slog.LevelDebug, args...) }

// Info logs at info level.
func (a AsynqLogger) Info(args ...any) { a.log(slog.LevelInfo, args...) }

// Warn logs at warn level.
func (a AsynqLogger) Warn(args ...any) { a.log(slog.LevelWarn, args...) }

// Error logs at error level.
func (a AsynqLogger) Error(args ...any) { a.log(slog.LevelError, args...) }

// Fatal logs at error level and exits with status 1, as asynq's interface
// requires.
func (a AsynqLogger) Fatal(args ...any) {
	a.log(slog.LevelError, args...)
	os.Exit(1)
}
