// Package servertest starts real Coffer servers for tests: the production
// handler on a loopback port, on a SQLite store in a temporary folder (or,
// with COFFER_TEST_DB=postgres, a fresh PostgreSQL schema), with its log
// captured and its clock under the test's control.
package servertest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
	blobfile "github.com/coffer-drive/coffer/internal/blob/file"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/postgres"
	"github.com/coffer-drive/coffer/internal/meta/postgres/pgtest"
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
	store := OpenStore(t, dir)
	blobs, err := blobfile.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatalf("open block store: %v", err)
	}
	t.Cleanup(func() { blobs.Close() })
	return StartOn(t, store, blobs, dir, opts)
}

// OpenStore opens a new metadata store for a test, closed when the test
// ends: SQLite in dir, or, if the environment variable COFFER_TEST_DB is
// "postgres", a fresh schema on the test PostgreSQL server (see pgtest),
// so that the server's whole test suite runs on either engine.
func OpenStore(t testing.TB, dir string) meta.Store {
	t.Helper()
	var store meta.Store
	var err error
	switch db := os.Getenv("COFFER_TEST_DB"); db {
	case "", "sqlite":
		store, err = sqlite.Open(context.Background(), filepath.Join(dir, "meta.db"))
	case "postgres":
		store, err = postgres.Open(context.Background(), pgtest.URL(t))
	default:
		t.Fatalf("COFFER_TEST_DB=%q: want sqlite or postgres", db)
	}
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	return store
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
