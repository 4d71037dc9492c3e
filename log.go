package main

import (
	"io"
	"log/slog"
)

// newLogger logs to stderr only (stdout is the child's). Text lines start
// with "kubexit: " so they stand out among the child's.
func newLogger(w io.Writer, cfg config) *slog.Logger {
	if cfg.LogOff {
		return discardLogger()
	}
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts).WithAttrs([]slog.Attr{slog.String("logger", "kubexit")})
	} else {
		h = slog.NewTextHandler(&prefixWriter{w: w, prefix: []byte("kubexit: ")}, opts)
	}
	l := slog.New(h)
	if cfg.Name != "" {
		l = l.With("name", cfg.Name)
	}
	return l
}

// prefixWriter prepends a prefix to each write; slog writes one record, one
// line, per call.
type prefixWriter struct {
	w      io.Writer
	prefix []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	line := make([]byte, 0, len(p.prefix)+len(b))
	line = append(append(line, p.prefix...), b...)
	if _, err := p.w.Write(line); err != nil {
		return 0, err
	}
	return len(b), nil
}
