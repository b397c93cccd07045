package metadb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		raw, driver, path, dsn string
	}{
		{"", "sqlite", "data/meta.db", ""},
		{"sqlite:///srv/coffer/meta.db", "sqlite", "/srv/coffer/meta.db", ""},
		{"sqlite:rel/meta.db", "sqlite", "rel/meta.db", ""},
		{"/srv/my data/meta.db", "sqlite", "/srv/my data/meta.db", ""},
		{"postgres://coffer@db/coffer", "postgres", "", "postgres://coffer@db/coffer"},
		{"postgresql://coffer@db/coffer", "postgres", "", "postgresql://coffer@db/coffer"},
	} {
		got, err := Parse(c.raw, "data")
		if err != nil || got.Driver != c.driver || got.Path != c.path || got.DSN != c.dsn {
			t.Errorf("Parse(%q) = %+v, %v", c.raw, got, err)
		}
	}
	for _, raw := range []string{
		"host=db user=coffer password=hunter2 dbname=coffer",
		"mysql://db/coffer",
		"sqlite://",
	} {
		if _, err := Parse(raw, "data"); err == nil {
			t.Errorf("Parse(%q) accepted it", raw)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Parse(%q): error %q holds the password", raw, err)
		}
	}
}

func TestStringHidesPasswords(t *testing.T) {
	for _, raw := range []string{
		"postgres://coffer:hunter2@db/coffer",
		"postgres://coffer@db/coffer?password=hunter2&sslmode=verify-full",
		"postgres://coffer@db/coffer?sslpassword=hunter2",
	} {
		tg, err := Parse(raw, "")
		if err != nil {
			t.Fatal(err)
		}
		if s := tg.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, "db/coffer") {
			t.Errorf("String of %q = %q", raw, s)
		}
	}
}

func TestOpenRefusesMigratedFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "meta.db.migrated"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	tg, err := Parse("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := Open(t.Context(), tg); err == nil {
		st.Close()
		t.Fatal("Open created a new database beside meta.db.migrated")
	} else if !strings.Contains(err.Error(), "--db") {
		t.Errorf("error %q does not say what to do", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "meta.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("meta.db exists after the refusal: %v", err)
	}
}
