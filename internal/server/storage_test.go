package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-drive/coffer/internal/meta/sqlite"
)

// A server started with another layout than the blocks were stored with
// refuses to start, saying which flags to give; adding locations is fine.
func TestStorageLayoutKept(t *testing.T) {
	dir := t.TempDir()
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	loc := func(name string) string {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		return "file://" + filepath.Join(dir, name)
	}
	open := func(cfg StorageConfig) error {
		s, err := OpenStorage(t.Context(), cfg, dir, store, nil, nil)
		if err == nil {
			s.Close()
		}
		return err
	}
	six := []string{loc("a"), loc("b"), loc("c"), loc("d"), loc("e"), loc("f")}
	if err := open(StorageConfig{Stores: six, Erasure: "4+2"}); err != nil {
		t.Fatal(err)
	}
	err = open(StorageConfig{Stores: six})
	if err == nil || !strings.Contains(err.Error(), "start with --erasure 4+2") {
		t.Fatalf("reopening 4+2 blocks as replicas: %v, want a refusal naming --erasure 4+2", err)
	}
	err = open(StorageConfig{Stores: six, Erasure: "3+3"})
	if err == nil || !strings.Contains(err.Error(), "stored as erasure coding 4+2") {
		t.Fatalf("reopening 4+2 blocks as 3+3: %v, want a refusal", err)
	}
	err = open(StorageConfig{Stores: append(six, loc("g")), Erasure: "4+2"})
	if err == nil || !strings.Contains(err.Error(), "exactly these locations") {
		t.Fatalf("adding a seventh location to 4+2: %v, want a refusal", err)
	}

	for _, tc := range []struct {
		cfg  StorageConfig
		want string
	}{
		{StorageConfig{Stores: []string{"ftp://x"}}, "unknown scheme"},
		{StorageConfig{Stores: []string{"/srv/blocks"}}, "want file:///path"},
		{StorageConfig{Stores: []string{"file://host/srv"}}, "file:///absolute/path"},
		{StorageConfig{Stores: six, Erasure: "4"}, "want K+M"},
		{StorageConfig{Stores: six, Erasure: "4+2", Replicas: 2}, "exclude each other"},
		{StorageConfig{Stores: []string{loc("a"), loc("a")}}, "given twice"},
		{StorageConfig{Stores: []string{"file://" + filepath.Join(dir, "typo")}}, "typo does not exist: create it"},
	} {
		if err := open(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenStorage(%+v) = %v, want an error saying %q", tc.cfg, err, tc.want)
		}
	}
}

// Metadata other than the locations' own (a mistyped --data, a new
// database) is refused before repair could take every block for unneeded.
func TestStorageOtherDeploymentRefused(t *testing.T) {
	dir := t.TempDir()
	blocks := filepath.Join(dir, "blocks")
	if err := os.Mkdir(blocks, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := StorageConfig{Stores: []string{"file://" + blocks}}
	for i, want := range []string{"", "belongs to another Coffer deployment"} {
		store, err := sqlite.Open(t.Context(), filepath.Join(dir, fmt.Sprintf("meta%d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := OpenStorage(t.Context(), cfg, dir, store, nil, nil)
		if want == "" && err != nil {
			t.Fatal(err)
		}
		if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Fatalf("second metadata store over the same location: %v, want %q", err, want)
		}
		if s != nil {
			s.Close()
		}
		store.Close()
	}
}
