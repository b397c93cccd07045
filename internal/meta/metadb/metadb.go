// Package metadb opens the metadata store a deployment names: the embedded
// SQLite database in the data folder, an SQLite file given by URL, or a
// PostgreSQL database.
package metadb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/postgres"
	"github.com/coffer-drive/coffer/internal/meta/sqlite"
)

// Target is a parsed database URL.
type Target struct {
	// Driver is "sqlite" or "postgres".
	Driver string
	// Path is the SQLite file; DSN the PostgreSQL connection string.
	Path, DSN string
}

// String describes the target without any password it holds.
func (t Target) String() string {
	if t.Driver == "sqlite" {
		return "sqlite:" + t.Path
	}
	u, err := url.Parse(t.DSN)
	if err != nil {
		return "postgres (unparsable URL)"
	}
	// libpq also takes the password as a query parameter.
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

// Parse reads a database URL: "" (the embedded SQLite database under
// dataDir), sqlite:///absolute/path, sqlite:relative/path, a bare file path,
// or postgres://… (postgresql://… too).
func Parse(raw, dataDir string) (Target, error) {
	switch {
	case raw == "":
		return Target{Driver: "sqlite", Path: filepath.Join(dataDir, "meta.db")}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			// url.Error quotes the URL, which may hold a password.
			return Target{}, errors.New("database URL is not a valid postgres:// URL")
		}
		return Target{Driver: "postgres", DSN: raw}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if p == "" {
			return Target{}, errors.New("database URL sqlite:// names no file: write sqlite:///path/to/meta.db")
		}
		return Target{Driver: "sqlite", Path: p}, nil
	case strings.HasPrefix(raw, "sqlite:"):
		return Target{Driver: "sqlite", Path: strings.TrimPrefix(raw, "sqlite:")}, nil
	case strings.Contains(raw, "://"):
		scheme, _, _ := strings.Cut(raw, "://")
		return Target{}, fmt.Errorf("database URL scheme %q: want postgres:// or sqlite://", scheme)
	case strings.Contains(raw, "="):
		// libpq's key=value form ("host=db user=coffer …"): taken as a
		// file name, it would give each server an empty database of
		// its own, named after the password.
		return Target{}, errors.New("database: a key=value connection string is not accepted; write it as a postgres:// URL, or a file as sqlite:///path")
	default:
		return Target{Driver: "sqlite", Path: raw}, nil
	}
}

// Open opens (creating and migrating if needed) the store t names.
func Open(ctx context.Context, t Target) (meta.Store, error) {
	switch t.Driver {
	case "sqlite":
		if err := notMigrated(t.Path); err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, t.Path)
	case "postgres":
		return postgres.Open(ctx, t.DSN)
	default:
		return nil, fmt.Errorf("database %s: driver %q is not supported", t, t.Driver)
	}
}

// OpenExisting is Open for operator commands, which must never run against
// a new, empty database: against one, every block would look unneeded and
// every account missing. For SQLite it checks that the file exists; for
// PostgreSQL, that the database holds Coffer's schema, before Open would
// create it.
func OpenExisting(ctx context.Context, t Target) (meta.Store, error) {
	switch t.Driver {
	case "sqlite":
		if _, err := os.Stat(t.Path); err != nil {
			return nil, fmt.Errorf("no metadata at %s (no such database file): give the server's --data or --db", t.Path)
		}
	case "postgres":
		if err := checkSchema(ctx, t); err != nil {
			return nil, err
		}
	}
	return Open(ctx, t)
}

// checkSchema reports an error unless the PostgreSQL database t holds
// Coffer's tables. It looks in the connection's search_path, as the store
// does.
func checkSchema(ctx context.Context, t Target) error {
	cfg, err := pgx.ParseConfig(t.DSN)
	if err != nil {
		// pgconn's parse errors quote the connection string, password
		// and all.
		return fmt.Errorf("database %s: cannot parse the connection string", t)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	var ok bool
	err = db.QueryRowContext(ctx,
		`SELECT to_regclass('goose_db_version') IS NOT NULL AND to_regclass('users') IS NOT NULL`).Scan(&ok)
	if err != nil {
		return fmt.Errorf("open postgres database %s: %w", t, err)
	}
	if !ok {
		return fmt.Errorf("database %s holds no Coffer metadata: give the server's --db (operator commands never set up a new database; coffer serve does)", t)
	}
	return nil
}

// notMigrated refuses to create an SQLite database where coffer admin
// migrate moved one away (renaming it with the suffix .migrated): a server
// or operator command that lost its --db would otherwise start on a new,
// empty catalog beside the deployment's blocks.
func notMigrated(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(path + ".migrated"); err == nil {
		return fmt.Errorf("the metadata in %s was migrated to PostgreSQL (the old file is %s.migrated): give the server's --db", path, filepath.Base(path))
	}
	return nil
}
