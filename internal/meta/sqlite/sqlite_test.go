package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/metatest"
)

func TestConformance(t *testing.T) {
	metatest.Run(t, openChecked)
}

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
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

// appliedMigrations reads goose's bookkeeping straight from the file.
func appliedMigrations(t *testing.T, path string) (rows, maxVersion int64) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.QueryRowContext(t.Context(),
		`SELECT count(*), max(version_id) FROM goose_db_version WHERE version_id > 0`,
	).Scan(&rows, &maxVersion)
	if err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	return rows, maxVersion
}

func migrationCount(t *testing.T) int64 {
	t.Helper()
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(files))
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	id, err := s.CreateUser(ctx, &meta.User{Name: "alice", CreatedAt: time.Now(), PublicBundle: []byte{0, 1, 2}})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if _, err := s.UpdateThrottle(ctx, "k", func(th meta.Throttle) meta.Throttle { th.Failures = 7; return th }); err != nil {
		t.Fatalf("UpdateThrottle: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rows, version := appliedMigrations(t, path)
	if want := migrationCount(t); rows != want || version != want {
		t.Fatalf("after first Open: %d migrations recorded, version %d; want %d, %d", rows, version, want, want)
	}

	s = openTest(t, path)
	u, err := s.UserByName(ctx, "alice")
	if err != nil {
		t.Fatalf("UserByName after reopening: %v", err)
	}
	if u.ID != id || string(u.PublicBundle) != "\x00\x01\x02" {
		t.Errorf("after reopening got user %d with bundle %x", u.ID, u.PublicBundle)
	}
	if th, err := s.GetThrottle(ctx, "k"); err != nil || th.Failures != 7 {
		t.Errorf("GetThrottle after reopening = %d, %v; want 7, nil", th.Failures, err)
	}
	if r, v := appliedMigrations(t, path); r != rows || v != version {
		t.Errorf("reopening re-ran migrations: %d recorded, version %d; was %d, %d", r, v, rows, version)
	}
}

func TestPragmas(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	ctx := t.Context()
	common := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "10000",
	}
	check := func(t *testing.T, c *sql.Conn, want map[string]string) {
		t.Helper()
		for pragma, want := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", pragma, err)
			}
			if got != want {
				t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
			}
		}
	}

	t.Run("Writer", func(t *testing.T) {
		c, err := s.w.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		check(t, c, common)
		check(t, c, map[string]string{"query_only": "0"})
	})
	t.Run("Readers", func(t *testing.T) {
		// Several at once, to see that every pooled connection is
		// configured, not only the first.
		for i := range 4 {
			c, err := s.r.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			check(t, c, common)
			check(t, c, map[string]string{"query_only": "1"})
			_, err = c.ExecContext(ctx, `DELETE FROM throttles`)
			if err == nil {
				t.Errorf("reader %d: a write succeeded", i)
			}
		}
	})
}

func TestFilePermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := openTest(t, path)
	if _, err := s.UpdateThrottle(t.Context(), "k", func(th meta.Throttle) meta.Throttle { return th }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", filepath.Base(p), perm)
		}
	}
}

// Two Stores on one file stand in for two server processes: they share
// nothing but the file and SQLite's file locks.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	metatest.RunShared(t, []meta.Store{openTest(t, path), openTest(t, path)})
}

// Server processes starting together may all open a new file at once; the
// losers of the race to migrate must not fail.
func TestConcurrentOpenOfNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	const n = 4
	errs := make([]error, n)
	stores := make([]*Store, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
			continue
		}
		if err := stores[i].Ping(t.Context()); err != nil {
			t.Errorf("Ping #%d: %v", i, err)
		}
		stores[i].Close()
	}
	if rows, _ := appliedMigrations(t, path); rows != migrationCount(t) {
		t.Errorf("%d migrations recorded, want %d", rows, migrationCount(t))
	}
}

func TestOpenUnwritablePath(t *testing.T) {
	// A directory that is a regular file defeats even root, unlike
	// permission bits.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(notDir, "meta.db")
	s, err := Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%q) succeeded", path)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path %q", err, path)
	}
	t.Logf("Open(%q): %v", path, err)
}

func TestOpenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err == nil {
		s.Close()
		t.Fatal("Open with a canceled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a canceled context: %v, want context.Canceled", err)
	}
}

func TestPathNeedingEscapes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "meta.db")
	s := openTest(t, path)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created at the given path: %v", err)
	}
}
