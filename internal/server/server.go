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
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/replicated"
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
	// Metrics, if set, receives the API's metrics (see metrics.go). Each
	// Server needs a registry of its own; nil means no metrics.
	Metrics prometheus.Registerer
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
	metrics *httpMetrics // nil: none
	ready   storageReady
	// readyMu guards readyFail, the reasons of the last /readyz that
	// failed ("" since one passed), so a change is logged once rather
	// than at every poll.
	readyMu   sync.Mutex
	readyFail string
	// events wakes the requests long-polling the events feed.
	events *eventHub
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
	m, err := newHTTPMetrics(opts.Metrics)
	if err != nil {
		return nil, fmt.Errorf("register HTTP metrics: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = slog.New(withRequestID(log.Handler()))
	hub, err := newEventHub(opts.Metrics, store.EventHeads, log)
	if err != nil {
		return nil, fmt.Errorf("register events metrics: %w", err)
	}
	// Commits through this process wake its long-polls at once; the
	// store outlives the Server, and a stale watcher costs a map lookup.
	store.WatchEvents(hub.notify)
	return &Server{store: store, blobs: blobs, log: log, opts: opts, now: now, group: srp.Group3072(), throttle: tp, fakeKey: fake, metrics: m, events: hub}, nil
}

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(routeHealth, s.handleHealth)
	mux.HandleFunc(routeReady, s.handleReady)
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
	mux.Handle("GET "+api.PathEvents, s.authed(s.handleEvents))
	s.routeLinks(mux)
	s.routeWeb(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
	})
	return s.logRequests(mux)
}

// The probes' routes, polled by load balancers and orchestrators: their
// lines in the access log are at Debug level.
const (
	routeHealth = "GET " + api.PathHealth
	routeReady  = "GET " + api.PathReady
)

// handleHealth is liveness: it answers whenever the process serves, and
// touches nothing else, so that an outage of the database does not get
// every instance restarted by an orchestrator (readiness takes them out of
// the load balancer instead).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

const (
	// readyTimeout bounds /readyz's checks: a load balancer gives up on a
	// probe after a few seconds anyway.
	readyTimeout = 10 * time.Second
	// storageReadyTTL is how long a verdict on the block storage is
	// reused. Load balancers poll every second or so from each of their
	// nodes, and each verdict costs a call to every location.
	storageReadyTTL = 5 * time.Second
)

// handleReady is readiness: 200 when the metadata store answers a ping and
// the block storage has a write quorum of locations reachable, else 503
// naming what failed. The answer names no host, URL or error text, as it
// is served to anyone; the log gets the detail.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	var public, detail []string
	if err := s.store.Ping(ctx); err != nil {
		public = append(public, "metadata store unreachable")
		detail = append(detail, "metadata store: "+err.Error())
	}
	if err := s.storageReady(ctx); err != nil {
		var qe *replicated.QuorumError
		if errors.As(err, &qe) {
			public = append(public, fmt.Sprintf("block storage: %d of %d locations reachable, and uploads need %d", qe.Reachable, qe.Total, qe.Quorum))
		} else {
			public = append(public, "block storage unreachable")
		}
		detail = append(detail, "block storage: "+err.Error())
	}
	s.noteReadiness(ctx, strings.Join(public, "; "), strings.Join(detail, "; "))
	if len(public) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, api.ErrorBody{Error: api.ErrorDetail{Code: api.CodeInternal, Message: "not ready: " + strings.Join(public, "; ")}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// noteReadiness logs a change of readiness: a new reason to fail at Warn,
// with the detail, and the return to ready at Info. Polls that change
// nothing log nothing beyond their Debug access line.
func (s *Server) noteReadiness(ctx context.Context, fail, detail string) {
	s.readyMu.Lock()
	last := s.readyFail
	s.readyFail = fail
	s.readyMu.Unlock()
	switch {
	case fail == last:
	case fail != "":
		s.log.WarnContext(ctx, "not ready", "reason", detail)
	default:
		s.log.InfoContext(ctx, "ready again")
	}
}

// readiness is a block store that can tell whether it can take writes
// (replicated.Store). A store without it counts as ready.
type readiness interface {
	Ready(ctx context.Context) error
}

// storageReady is the last verdict on the block storage, shared by the
// polls of storageReadyTTL.
type storageReady struct {
	mu  sync.Mutex
	at  time.Time // when err was found; zero: never
	err error
	// running is closed when the check under way ends; nil if none is.
	running chan struct{}
}

// storageReady returns the block storage's verdict, checking at most once
// per storageReadyTTL however many polls come in meanwhile.
func (s *Server) storageReady(ctx context.Context) error {
	rd, ok := s.blobs.(readiness)
	if !ok {
		return nil
	}
	c := &s.ready
	c.mu.Lock()
	if age := s.now().Sub(c.at); !c.at.IsZero() && age >= 0 && age < storageReadyTTL {
		err := c.err
		c.mu.Unlock()
		return err
	}
	if c.running == nil {
		done := make(chan struct{})
		c.running = done
		// The check runs apart from this poll: a poller that hangs up
		// must not leave its cancellation as the verdict for the others.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
		go func() {
			defer cancel()
			err := rd.Ready(cctx)
			c.mu.Lock()
			c.at, c.err, c.running = s.now(), err, nil
			c.mu.Unlock()
			close(done)
		}()
	}
	done := c.running
	c.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("check block storage: %w", ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
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

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests gives every request an ID (in its context, where the log
// handler finds it, and in X-Request-Id), counts it in the metrics, logs
// one line per request and turns a panic into a 500. The line holds the
// method, the route pattern (never the raw path, which may carry names and
// IDs), the status and the duration; never a header or a body, so tokens
// and proofs stay out of the log. The probes' lines are at Debug level, as
// they come every second or so.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.begin()
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.writeError(sw, r, errors.New("panic"))
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK // nothing written: net/http answers 200
			}
			took := time.Since(start)
			s.metrics.end()
			// r.Pattern is set by the mux on this very request.
			s.metrics.observe(r.Method, r.Pattern, status, took)
			level := slog.LevelInfo
			if r.Pattern == routeHealth || r.Pattern == routeReady {
				level = slog.LevelDebug
			}
			s.log.Log(ctx, level, "request", "method", r.Method, "route", r.Pattern,
				"status", status, "duration_ms", took.Milliseconds(), "remote", s.clientIP(r))
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
