package webhook

import (
	"context"
	"errors"
	"log/slog"
)

// ErrPermanent marks a handler error that retrying cannot fix (wrap it:
// fmt.Errorf("...: %w", webhook.ErrPermanent)). The job goes straight to the
// dead-letter state instead of spending its attempts.
var ErrPermanent = errors.New("permanent failure")

type loggerKey struct{}

// WithLogger attaches a logger carrying the delivery, installation and job
// so every log line of a handler says what it was working on.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// Logger returns the logger attached by WithLogger, or slog's default.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
