// Package servertest starts real Coffer servers for tests: the production
// handler on a loopback port, on a SQLite store in a temporary folder, with
// its log captured and its clock under the test's control.
package servertest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
	blobfile "github.com/coffer-drive/coffer/internal/blob/file"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/sqlite"
	"github.com/coffer-drive/coffer/internal/server"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Buffer is a bytes.Buffer safe for concurrent writes, for captured logs.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Bytes returns a copy of everything written.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// Env is one running server.
type Env struct {
	URL   string
	Dir   string // the data folder
	Store meta.Store
	Blobs blob.Store
	Clock *Clock
	Log   *Buffer
	HTTP  *httptest.Server
}

// Start runs a server for the test on a fresh data folder. opts may set
// options; its Now is replaced by the Env's clock.
func Start(t testing.TB, opts server.Options) *Env {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	blobs, err := blobfile.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatalf("open block store: %v", err)
	}
	t.Cleanup(func() { blobs.Close() })
	return StartOn(t, store, blobs, dir, opts)
}

// StartOn runs another server instance on an existing store, as a second
// process of the same deployment would.
func StartOn(t testing.TB, store meta.Store, blobs blob.Store, dir string, opts server.Options) *Env {
	t.Helper()
	clock := &Clock{now: time.Now()}
	opts.Now = clock.Now
	logs := &Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), store, blobs, log, opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &Env{URL: hs.URL, Dir: dir, Store: store, Blobs: blobs, Clock: clock, Log: logs, HTTP: hs}
}
