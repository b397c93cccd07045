package server

import (
	"context"
	"log/slog"
)

// requestIDHandler adds the request ID that logRequests put in the
// context to every record logged with a *Context method, so that every
// line a request causes can be found from its X-Request-Id, without each
// call passing the ID along.
//
// The attribute is added to the record, so it lands in the innermost
// group of a logger made WithGroup; the server's loggers have none.
type requestIDHandler struct {
	slog.Handler
}

// withRequestID wraps h, once: wrapping a wrapped handler returns it as
// is, so Run and New may both wrap without doubling the attribute.
func withRequestID(h slog.Handler) slog.Handler {
	if _, ok := h.(*requestIDHandler); ok {
		return h
	}
	return &requestIDHandler{Handler: h}
}

// Handle implements slog.Handler.
func (h *requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestID(ctx); id != "" {
		// The record is the caller's; change a copy.
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &requestIDHandler{Handler: h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *requestIDHandler) WithGroup(name string) slog.Handler {
	return &requestIDHandler{Handler: h.Handler.WithGroup(name)}
}

// requestID returns the ID of the request ctx belongs to, or "".
func requestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}
