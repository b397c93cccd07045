// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the test server's database, dropped when the test ends.
//
// The server is the one in COFFER_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). Where it does
// not answer, tests skip, except in CI (CI=true), where they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the test server's database when COFFER_TEST_POSTGRES is
// not set: the project's machines run PostgreSQL there, trusting local
// connections.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerURL returns the test server's database URL, failing the test in CI
// and skipping it elsewhere when the server does not answer.
func ServerURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("COFFER_TEST_POSTGRES")
	if base == "" {
		base = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is needed in CI and does not answer at %s: %v", redact(base), err)
		}
		t.Skipf("PostgreSQL does not answer at %s (set COFFER_TEST_POSTGRES): %v", redact(base), err)
	}
	conn.Close(ctx)
	return base
}

// URL returns the URL of a new, empty schema on the test server, which is
// dropped with everything in it when the test and its cleanups are done.
// Several connections, in this process or others, see the same schema.
func URL(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	var raw [8]byte
	rand.Read(raw[:])
	schema := "coffer_test_" + hex.EncodeToString(raw[:])
	exec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("COFFER_TEST_POSTGRES is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(t testing.TB, base, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
