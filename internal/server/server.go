// Package server implements Coffer's HTTP API. It sees only what the
// zero-knowledge protocol lets it see: SRP verifiers, sealed key blobs,
// signed public bundles and session token hashes. It keeps all state in a
// meta.Store, so several instances can serve one deployment.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/srp"
)

// Options tune a Server. The zero value of each field picks the default.
type Options struct {
	// SessionIdle is how long a session lives without activity (default 30 days).
	SessionIdle time.Duration
	// Now returns the current time (default time.Now); tests move it.
	Now func() time.Time
	// SessionMax bounds a session's whole life, active or not (default 365 days).
	SessionMax time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// names the real client address.
	TrustedProxies []netip.Prefix
	// Throttle is the brute-force policy (default DefaultThrottlePolicy).
	Throttle *ThrottlePolicy
	// KeepVersions is how many revisions of a file are kept (0: all).
	KeepVersions int
	// GarbageAge is how long an uploaded block may stay unreferenced
	// before it is deleted (default 24 hours), so an interrupted upload
	// can be resumed.
	GarbageAge time.Duration
	// UnsafeSkipRoleChecks lets share members do anything their share
	// reaches, whatever their role. It exists only so that tests can show
	// that clients reject what a viewer writes even when the server lets
	// it through; nothing else sets it.
	UnsafeSkipRoleChecks bool
	// Web is the built browser client served at /s/ and /app/ (default:
	// the one embedded by package webui). Tests set their own.
	Web fs.FS
}

// Server serves the API. Create it with New.
type Server struct {
	store    meta.Store
	blobs    blob.Store
	log      *slog.Logger
	opts     Options
	now      func() time.Time
	group    *srp.Group
	throttle ThrottlePolicy
	// fakeKey derives the stand-in salt, verifier and key blobs shown for
	// names that hold no account. It is shared by all instances through
	// the store, so every instance answers the same for the same name.
	fakeKey []byte
}

// New returns a Server keeping metadata in store and blocks in blobs. It loads (or creates) the server secrets.
func New(ctx context.Context, store meta.Store, blobs blob.Store, log *slog.Logger, opts Options) (*Server, error) {
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 30 * 24 * time.Hour
	}
	if opts.GarbageAge <= 0 {
		opts.GarbageAge = 24 * time.Hour
	}
	if opts.SessionMax <= 0 {
		opts.SessionMax = 365 * 24 * time.Hour
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	tp := DefaultThrottlePolicy()
	if opts.Throttle != nil {
		tp = *opts.Throttle
	}
	fake, err := store.Secret(ctx, "fake-accounts", func() ([]byte, error) { return randomBytes(32) })
	if err != nil {
		return nil, fmt.Errorf("load server secret: %w", err)
	}
	return &Server{store: store, blobs: blobs, log: log, opts: opts, now: now, group: srp.Group3072(), throttle: tp, fakeKey: fake}, nil
}

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathHealth, s.handleHealth)
	mux.HandleFunc("GET "+api.PathInfo, s.handleInfo)
	mux.HandleFunc("POST "+api.PathSignup, s.handleSignup)
	mux.HandleFunc("POST "+api.PathLoginStart, s.handleLoginStart)
	mux.HandleFunc("POST "+api.PathLoginFinish, s.handleLoginFinish)
	mux.HandleFunc("POST "+api.PathRecoverStart, s.handleRecoverStart)
	mux.HandleFunc("POST "+api.PathRecoverUnlock, s.handleRecoverUnlock)
	mux.HandleFunc("POST "+api.PathRecoverFinish, s.handleRecoverFinish)
	mux.Handle("POST "+api.PathLogout, s.authed(s.handleLogout))
	mux.Handle("GET "+api.PathMe, s.authed(s.handleMe))
	mux.Handle("GET "+api.PathSessions, s.authed(s.handleSessions))
	mux.Handle("DELETE "+api.PathSession, s.authed(s.handleRevokeSession))
	mux.Handle("POST "+api.PathPasswordProof, s.authed(s.handlePasswordProof))
	mux.Handle("POST "+api.PathPassword, s.authed(s.handlePassword))
	mux.Handle("GET "+api.PathUserBundle, s.authed(s.handleUserBundle))
	mux.Handle("GET "+api.PathVolume, s.authed(s.handleGetVolume))
	mux.Handle("POST "+api.PathVolume, s.authed(s.handleCreateVolume))
	mux.Handle("POST "+api.PathNodes, s.authed(s.handleCreateNodes))
	mux.Handle("GET "+api.PathNode, s.authed(s.handleGetNode))
	mux.Handle("PUT "+api.PathNode, s.authed(s.handleUpdateNode))
	mux.Handle("GET "+api.PathNodeChildren, s.authed(s.handleChildren))
	mux.Handle("GET "+api.PathNodeRevisions, s.authed(s.handleRevisions))
	mux.Handle("POST "+api.PathNodeRevisions, s.authed(s.handleCommitRevision))
	mux.Handle("POST "+api.PathNodeTrash, s.authed(s.handleTrashNode))
	mux.Handle("POST "+api.PathNodeRestore, s.authed(s.handleRestoreNode))
	mux.Handle("GET "+api.PathTrash, s.authed(s.handleListTrash))
	mux.Handle("DELETE "+api.PathTrash, s.authed(s.handleEmptyTrash))
	mux.Handle("PUT "+api.PathBlock, s.authed(s.handlePutBlock))
	mux.Handle("GET "+api.PathBlock, s.authed(s.handleGetBlock))
	mux.Handle("POST "+api.PathBlocksBatch, s.authed(s.handleBlocksBatch))
	mux.Handle("POST "+api.PathBlocksMissing, s.authed(s.handleMissingBlocks))
	mux.Handle("POST "+api.PathBlocksGet, s.authed(s.handleGetBlocks))
	mux.Handle("GET "+api.PathUsage, s.authed(s.handleUsage))
	mux.Handle("GET "+api.PathShares, s.authed(s.handleListShares))
	mux.Handle("POST "+api.PathShares, s.authed(s.handlePutShare))
	mux.Handle("GET "+api.PathShare, s.authed(s.handleGetShare))
	mux.Handle("DELETE "+api.PathShare, s.authed(s.handleDeleteShare))
	mux.Handle("GET "+api.PathShared, s.authed(s.handleShared))
	mux.Handle("POST "+api.PathSharedAccept, s.authed(s.handleAcceptShare))
	mux.Handle("POST "+api.PathSharedDecline, s.authed(s.handleDeclineShare))
	mux.Handle("POST "+api.PathRotate, s.authed(s.handleRotate))
	s.routeLinks(mux)
	s.routeWeb(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
	})
	return s.logRequests(mux)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ping(r.Context()); err != nil {
		s.log.ErrorContext(r.Context(), "health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, api.ErrorBody{Error: api.ErrorDetail{Code: api.CodeInternal, Message: "metadata store unreachable"}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Info{Version: api.Version, SRP: api.SRPGroup})
}

type ctxKey int

const requestIDKey ctxKey = iota

// statusWriter records the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logRequests gives every request an ID, logs one line per request and turns
// a panic into a 500. The line holds the method, the route pattern (never
// the raw path, which may carry names), the status and the duration; never a
// header or a body, so tokens and proofs stay out of the log.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(ctx, "panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.writeError(sw, r, errors.New("panic"))
				}
			}
			s.log.InfoContext(ctx, "request", "request_id", id, "method", r.Method, "route", r.Pattern,
				"status", sw.status, "duration_ms", time.Since(start).Milliseconds(), "remote", s.clientIP(r))
		}()
		next.ServeHTTP(sw, r)
	})
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return b, nil
}
