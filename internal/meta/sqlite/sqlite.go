// Package sqlite implements meta.Store on a single SQLite database file,
// using the pure-Go driver modernc.org/sqlite.
//
// Several processes may open the same file: every transaction that reads
// before it writes takes SQLite's write lock at BEGIN, so read-modify-write
// operations stay atomic across processes as well as goroutines.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/sqlmeta"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ meta.Store = (*Store)(nil)

const (
	// busyTimeout bounds how long a statement waits for another process
	// to release the write lock. The driver also gives up as soon as the
	// call's context is done.
	busyTimeout = 10 * time.Second

	// maxReaders caps the pool of reading connections. Past a handful,
	// more connections only cost file descriptors and page cache.
	maxReaders = 16

	// migrateAttempts is how often Open runs the migrations before giving
	// up; see migrate.
	migrateAttempts = 10
)

// Store is a meta.Store backed by an SQLite database file: sqlmeta's
// queries on SQLite's two pools.
//
// It keeps two pools on the file: one connection for all writes and a few
// for plain reads. SQLite admits one writer at a time anyway; queueing this
// process's writers for the single connection makes them wait in turn, for
// as long as their contexts allow, instead of all polling SQLite's lock with
// backoff, which under load starves some of them past busyTimeout. The busy
// timeout is then only ever spent waiting for other processes.
type Store struct {
	*sqlmeta.Store
	w *sql.DB // the single writing connection
	r *sql.DB // read-only connections, for single-statement reads
}

// Open opens (creating if needed) the SQLite database at path and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %q: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// SQLite would create the file world-readable (less the umask), and its
	// -wal and -shm files after it. It holds password verifiers, sealed
	// keys and server secrets, so create it owner-only first; SQLite gives
	// the -wal and -shm files the database file's permissions. This also
	// turns a bad path into a plain OS error rather than SQLite's
	// "unable to open database file".
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		// Drop the *fs.PathError's copy of the path, which Open adds.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("create: %w", err)
	}
	f.Close()

	w, err := openPool(ctx, abs, true)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	r, err := openPool(ctx, abs, false)
	if err != nil {
		w.Close()
		return nil, err
	}
	return &Store{Store: sqlmeta.New(w, r, &dialect), w: w, r: r}, nil
}

// openPool opens the writing pool (of one connection) or the reading pool
// on the database file at the absolute path abs.
func openPool(ctx context.Context, abs string, write bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dataSourceName(abs, write))
	if err != nil {
		return nil, err
	}
	if write {
		db.SetMaxOpenConns(1)
	} else {
		db.SetMaxOpenConns(maxReaders)
		db.SetMaxIdleConns(maxReaders)
	}
	// sql.Open connects lazily; ping so that a bad file or a failing
	// pragma is reported by Open rather than by the first request.
	//
	// Switching a new file to WAL takes an exclusive lock that SQLite does
	// not wait for with the busy timeout: processes opening a new file at
	// once can get SQLITE_BUSY at once. They try again, shortly.
	for attempt := range openAttempts {
		if err = db.PingContext(ctx); err == nil || !isBusy(err) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openAttempts is how often openPool tries a file that is busy.
const openAttempts = 20

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// dataSourceName builds the modernc DSN for the database file at the
// absolute path abs. The pragmas go in the DSN rather than being executed
// once after opening so that every pooled connection gets them, including
// those the pool opens later.
func dataSourceName(abs string, write bool) string {
	// The path goes in a file: URI, percent-encoded, so that names
	// containing '?' or '#' are not taken for query parameters.
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	// WAL lets readers proceed while a write is in progress.
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL syncs the WAL on every commit; NORMAL, the usual WAL choice,
	// can lose the last acknowledged transactions on a power cut.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	if write {
		// BEGIN IMMEDIATE takes the write lock up front. A deferred
		// transaction that reads and then writes instead fails with
		// SQLITE_BUSY, without waiting, when another process wrote in
		// between.
		q.Set("_txlock", "immediate")
	} else {
		// Catch a write sent to the wrong pool: it would bypass the
		// queue for the writing connection.
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// newProvider returns goose's migrator for the embedded migrations.
func newProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true))
}

// migrate applies the embedded migrations that the database lacks.
func migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	// goose has no lock for SQLite: two processes opening a new file at
	// once can both see a migration as pending, and the second one's
	// transaction then fails because the first already applied it. SQLite
	// DDL is transactional, so the failure leaves nothing behind and
	// running goose again finds the migration applied.
	for attempt := 1; ; attempt++ {
		_, err := p.Up(ctx)
		if err == nil {
			return nil
		}
		if pending, perr := p.HasPending(ctx); perr == nil && !pending {
			return nil
		}
		if attempt == migrateAttempts || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
	}
}

// DB returns the store's pool of read-only connections, for tools that
// copy whole tables (metacopy). Its transactions read one consistent
// snapshot of the file; writes must go through the store's methods, which
// queue them on the single writing connection.
func (s *Store) DB() *sql.DB { return s.r }

// Close closes the database. Calls in progress may fail.
func (s *Store) Close() error {
	if err := errors.Join(s.r.Close(), s.w.Close()); err != nil {
		return fmt.Errorf("close sqlite database: %w", err)
	}
	return nil
}

// dialect is SQLite's: ? placeholders, the write lock taken at BEGIN
// (_txlock=immediate), so no transaction ever needs a retry.
var dialect = sqlmeta.Dialect{
	Name:           "sqlite",
	Classify:       classify,
	InsertOrder:    "rowid",
	OrderedJoin:    "CROSS JOIN",
	ParkedNameHash: "CAST(x'00' || id AS BLOB)", // || makes TEXT of BLOBs, byte for byte; CAST makes a BLOB again
	// The driver's own ping is "SELECT 1", which never reads the file.
	Ping: "SELECT count(*) FROM sqlite_schema",
}

// classify maps SQLite's constraint errors to meta's sentinels.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return meta.ErrExists
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			// The drive methods check the nodes, revisions and blocks a
			// record names before writing it, so the only references
			// left to fail are those to users: the account is missing.
			return meta.ErrNotFound
		}
	}
	return nil
}
