package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/replicated"
	"github.com/coffer-drive/coffer/internal/lease"
	"github.com/coffer-drive/coffer/internal/meta/metadb"
)

// Config is what `coffer serve` is started with.
type Config struct {
	DataDir string // holds meta.db (without DB) and blocks/ (without Storage.Stores)
	// DB is the metadata database URL (see metadb.Parse); empty means the
	// embedded SQLite database in DataDir.
	DB     string
	Listen string // host:port; port 0 picks a free one
	// Storage says where blocks are kept.
	Storage StorageConfig
	// MetricsListen, if set, is the host:port serving Prometheus metrics
	// at /metrics, apart from the API so it need not be public.
	MetricsListen string
	TLSCert       string // both set: serve HTTPS
	TLSKey        string
	Options       Options
	// Ready, if set, is called with the base URL once the server accepts
	// connections.
	Ready func(url string)
	// Out receives the "serving on" line (default os.Stdout).
	Out io.Writer
}

// Run serves until ctx is cancelled, then shuts down gracefully: it stops
// accepting, lets requests in flight finish (up to 30 s) and closes the store.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	log = slog.New(withRequestID(log.Handler())) // for the storage's logs too
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	target, err := metadb.Parse(cfg.DB, cfg.DataDir)
	if err != nil {
		return err
	}
	store, err := metadb.Open(ctx, target)
	if err != nil {
		return fmt.Errorf("open metadata store: %w", err)
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	blobs, err := OpenStorage(ctx, cfg.Storage, cfg.DataDir, store, log, reg)
	if err != nil {
		return fmt.Errorf("open block storage: %w", err)
	}
	defer blobs.Close()
	// Several instances may share the database: the background passes
	// each run in one of them at a time, under leases kept there.
	holder := lease.Holder()
	// The background work stops before the store closes (defers run last
	// first).
	bgCtx, stopBG := context.WithCancel(ctx)
	bgDone := make(chan struct{})
	defer func() { stopBG(); <-bgDone }()
	go func() {
		defer close(bgDone)
		blobs.Run(bgCtx, replicated.RunOptions{
			RepairInterval: cfg.Storage.RepairInterval,
			ScrubInterval:  cfg.Storage.ScrubInterval,
			ScrubRate:      cfg.Storage.ScrubRate,
			FirstRepair:    10 * time.Second,
			Leases:         store,
			Holder:         holder,
		})
	}()
	log.Info("block storage", "locations", len(blobs.Locations()), "policy", blobs.Policy().String())

	cfg.Options.Metrics = reg // served at /metrics with the storage's
	srv, err := New(ctx, store, blobs, log, cfg.Options)
	if err != nil {
		return err
	}
	// No WriteTimeout: it would cut block downloads on slow links and
	// the events feed's long-polls (api.MaxEventsWait).
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	// Long-polls answer at once when the shutdown begins, rather than
	// holding it up.
	hs.RegisterOnShutdown(srv.StopWaiters)
	scheme := "http"
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if hs.TLSConfig != nil {
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	url := scheme + "://" + ln.Addr().String()
	out := cfg.Out
	if out == nil {
		out = os.Stdout
	}
	fmt.Fprintf(out, "coffer: serving on %s (data in %s)\n", url, cfg.DataDir)
	log.Info("serving", "url", url, "data", cfg.DataDir)

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("listen for metrics on %s: %w", cfg.MetricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		defer ms.Close()
		go func() {
			if err := ms.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
		fmt.Fprintf(out, "coffer: metrics on http://%s/metrics\n", mln.Addr())
	}
	go srv.sweep(ctx)
	if cfg.Ready != nil {
		cfg.Ready(url)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// sweep deletes expired sessions, challenges and stale throttle counters
// every few minutes, and collects garbage blocks and old events.
func (s *Server) sweep(ctx context.Context) {
	// Instances sharing the database take turns at collecting garbage,
	// under a lease; the other sweeps are idempotent deletes.
	holder := lease.Holder()
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.store.DeleteExpiredSessions(ctx, s.now()); err != nil {
				s.log.Warn("sweep expired sessions", "err", err)
			} else if n > 0 {
				s.log.Info("swept expired sessions", "count", n)
			}
			if _, err := lease.Run(ctx, s.store, "garbage-collection", holder, func(ctx context.Context) error {
				s.collectGarbage(ctx)
				s.pruneEvents(ctx)
				return nil
			}); err != nil {
				s.log.Warn("garbage collection lease", "err", err)
			}
			// A counter idle for Forget counts from zero anyway (charge).
			if _, err := s.store.DeleteStaleThrottles(ctx, s.now().Add(-s.throttle.Forget)); err != nil {
				s.log.Warn("sweep stale throttles", "err", err)
			}
		}
	}
}

// collectGarbage deletes blocks that no revision references and that were
// uploaded longer ago than GarbageAge: abandoned uploads, and blocks of
// revisions that expired or were emptied from the trash. The metadata row
// goes first, in a transaction that re-checks it is unreferenced, so a
// block a commit just claimed is never deleted.
func (s *Server) collectGarbage(ctx context.Context) {
	for {
		ids, err := s.store.GarbageBlocks(ctx, s.now().Add(-s.opts.GarbageAge), 500)
		if err != nil {
			s.log.Warn("list garbage blocks", "err", err)
			return
		}
		for _, raw := range ids {
			gone, err := s.store.DeleteBlock(ctx, raw)
			if err != nil {
				s.log.Warn("forget garbage block", "err", err)
				return
			}
			if !gone {
				continue
			}
			var id blob.ID
			copy(id[:], raw)
			if err := s.blobs.Delete(ctx, id); err != nil {
				s.log.Warn("delete garbage block", "block", id.String(), "err", err)
			}
		}
		if len(ids) < 500 {
			return
		}
	}
}
