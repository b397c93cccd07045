// Package postgres implements meta.Store on PostgreSQL (or a database that
// speaks its protocol), through github.com/jackc/pgx/v5, for deployments
// that run several stateless `coffer serve` instances.
//
// The queries are sqlmeta's, shared with SQLite. Every read-write
// transaction is SERIALIZABLE: PostgreSQL then guarantees what SQLite's
// single writer does, that each transaction sees nothing change between
// its reads and its writes, whatever other instances do. A transaction
// that loses a race is rolled back and run again.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/sqlmeta"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ meta.Store = (*Store)(nil)

const (
	// maxConns caps one instance's connections unless the URL sets
	// pool_max_conns. PostgreSQL's default max_connections is 100; a few
	// instances fit under it with room for operators and backups.
	maxConns = 24
	// connLifetime recycles connections, so that a load balancer or
	// failover in front of PostgreSQL sees them move.
	connLifetime = 30 * time.Minute
)

// Store is a meta.Store on a PostgreSQL database.
type Store struct {
	*sqlmeta.Store
	db *sql.DB
}

// Open connects to the database named by the connection string (a
// postgres:// URL or key=value pairs, as libpq takes) and brings its schema
// up to date. Several instances may open it at once: goose holds an
// advisory lock while it migrates.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := open(ctx, dsn)
	if err != nil {
		// The connection string may hold a password: never quote it.
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	return s, nil
}

func open(ctx context.Context, dsn string) (*Store, error) {
	dsn, conns, err := poolSize(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors quote the connection string, password
		// and all.
		return nil, errors.New("cannot parse the connection string")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(connLifetime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return &Store{Store: sqlmeta.New(db, db, dialect()), db: db}, nil
}

// poolSize takes the pool_max_conns parameter (pgxpool's name for it) out
// of a postgres:// URL, which PostgreSQL would otherwise be sent as an
// unknown setting, and returns the pool size: maxConns by default.
func poolSize(dsn string) (string, int, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn, maxConns, nil // key=value form: pgx reports what is wrong
	}
	q := u.Query()
	raw := q.Get("pool_max_conns")
	if raw == "" {
		return dsn, maxConns, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 1000 {
		return "", 0, fmt.Errorf("pool_max_conns %q: want a number from 1 to 1000", raw)
	}
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}

// newProvider returns goose's migrator for the embedded migrations.
func newProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
}

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// DB returns the store's connection pool, for tools that copy whole
// tables (metacopy).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the connection pool. Calls in progress may fail.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close postgres database: %w", err)
	}
	return nil
}

// PostgreSQL's SQLSTATE codes that the store tells apart.
const (
	uniqueViolation      = "23505"
	foreignKeyViolation  = "23503"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

func dialect() *sqlmeta.Dialect {
	return &sqlmeta.Dialect{
		Name:                    "postgres",
		DollarParams:            true,
		TxOptions:               &sql.TxOptions{Isolation: sql.LevelSerializable},
		LockingTxOptions:        &sql.TxOptions{Isolation: sql.LevelReadCommitted},
		Classify:                classify,
		Retryable:               retryable,
		InsertOrder:             "seq",
		OrderedJoin:             "JOIN",
		ForUpdate:               " FOR UPDATE",
		ForShare:                " FOR SHARE",
		ParkedNameHash:          `'\x00'::bytea || id`,
		FailedStatementAbortsTx: true,
		Ping:                    "SELECT 1",
		LockVolume:              "SELECT pg_advisory_lock(?)",
		UnlockVolume:            "SELECT pg_advisory_unlock(?)",
	}
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// classify maps PostgreSQL's constraint errors to meta's sentinels.
func classify(err error) error {
	switch sqlState(err) {
	case uniqueViolation:
		return meta.ErrExists
	case foreignKeyViolation:
		// As in SQLite: the drive methods check the rows a record names
		// before writing it, so what is left to fail is a missing
		// account.
		return meta.ErrNotFound
	}
	return nil
}

// retryable reports whether a transaction failed only because it raced
// another: run again, it may well succeed.
func retryable(err error) bool {
	switch sqlState(err) {
	case serializationFailure, deadlockDetected:
		return true
	}
	return false
}
