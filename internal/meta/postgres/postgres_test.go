package postgres

import (
	"testing"

	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/metatest"
	"github.com/coffer-drive/coffer/internal/meta/postgres/pgtest"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store { return openTest(t) })
}

// Two stores on one database stand for two server instances.
func TestTwoStoresOneDatabase(t *testing.T) {
	url := pgtest.URL(t)
	var stores []meta.Store
	for range 2 {
		s, err := Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	metatest.RunShared(t, stores)
}

func TestPoolSize(t *testing.T) {
	dsn, n, err := poolSize("postgres://coffer@db/coffer?sslmode=verify-full&pool_max_conns=8")
	if err != nil || n != 8 || dsn != "postgres://coffer@db/coffer?sslmode=verify-full" {
		t.Errorf("poolSize = %q, %d, %v", dsn, n, err)
	}
	if _, n, err := poolSize("postgres://coffer@db/coffer"); err != nil || n != maxConns {
		t.Errorf("default poolSize = %d, %v", n, err)
	}
	for _, bad := range []string{"0", "-1", "x", "5000"} {
		if _, _, err := poolSize("postgres://db/coffer?pool_max_conns=" + bad); err == nil {
			t.Errorf("pool_max_conns=%s accepted", bad)
		}
	}
	// A connection through a URL with pool_max_conns works: the
	// parameter does not reach PostgreSQL.
	s, err := Open(t.Context(), pgtest.URL(t)+"&pool_max_conns=2")
	if err != nil {
		t.Fatalf("Open with pool_max_conns: %v", err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := s.db.Stats().MaxOpenConnections; got != 2 {
		t.Errorf("MaxOpenConnections = %d, want 2", got)
	}
}
