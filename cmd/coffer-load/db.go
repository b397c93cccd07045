package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// database is the metadata database of one run, as the servers are told
// about it.
type database struct {
	// flag is the value of `coffer serve --db`; empty for the embedded
	// SQLite database in the server's --data folder.
	flag string
	// describe names the database in the report, without any password.
	describe string
	// drop removes what the run created; nil when the database lives in
	// the run folder, which is removed anyway.
	drop func() error
}

// dropTimeout bounds dropping a run's PostgreSQL database, which happens
// after the run's context may have been cancelled (Ctrl-C).
const dropTimeout = 30 * time.Second

// prepareDB makes the run's database. raw is -db:
//
//   - "": SQLite. One instance keeps it in its data folder, as `coffer
//     serve` does by default; two share one file in runDir, which SQLite's
//     locking allows on one machine.
//   - postgres://…: a fresh database, coffer_load_ and 8 random hex digits,
//     is created on that server through the URL's own database, and the
//     servers get the same URL naming the new one. drop removes it.
//   - anything else (sqlite:///path) is passed to the servers as it is.
func prepareDB(ctx context.Context, raw, runDir string, instances int) (*database, error) {
	switch {
	case raw == "" && instances == 1:
		return &database{describe: "SQLite (embedded, in the data folder)"}, nil
	case raw == "":
		p := filepath.Join(runDir, "meta.db")
		return &database{flag: "sqlite://" + p, describe: "SQLite " + p + " (shared file)"}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return createPostgres(ctx, raw)
	default:
		return &database{flag: raw, describe: raw}, nil
	}
}

// createPostgres creates a fresh database on the PostgreSQL server raw
// points at and returns it, with drop set.
func createPostgres(ctx context.Context, raw string) (*database, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold a password.
		return nil, errors.New("-db is not a valid postgres:// URL")
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("name the database: %w", err)
	}
	name := "coffer_load_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{name}.Sanitize()
	if err := pgExec(ctx, raw, "CREATE DATABASE "+ident); err != nil {
		return nil, fmt.Errorf("create database %s on %s: %w", name, u.Redacted(), err)
	}
	run := *u
	run.Path = "/" + name
	run.RawPath = ""
	return &database{
		flag:     run.String(),
		describe: "PostgreSQL " + run.Redacted(),
		drop: func() error {
			// The run's context may be cancelled by now; the database
			// must go anyway, within a bound.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dropTimeout)
			defer cancel()
			// FORCE ends sessions a server killed uncleanly left open.
			if err := pgExec(ctx, raw, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
				return fmt.Errorf("drop database %s on %s: %w", name, u.Redacted(), err)
			}
			return nil
		},
	}, nil
}

// pgExec runs one statement on its own connection to raw. CREATE and DROP
// DATABASE cannot run inside a transaction, so no pool or transaction is
// involved.
func pgExec(ctx context.Context, raw, sql string) error {
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return err
	}
	return nil
}
