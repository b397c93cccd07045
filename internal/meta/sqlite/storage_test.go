package sqlite

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// The walk of the catalog must page along the primary key: another index
// would need a sort, or a visit to the table for each block's size, and a
// scan would read the whole catalog for every page.
func TestStorageQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	for _, c := range []struct {
		name, query string
		args        []any
		want        string // the one step the plan must be
	}{
		{"BlocksWithPrefix", blockPageQuery, []any{[]byte{7}, []byte{8}, blockPageSize},
			"SEARCH blocks USING PRIMARY KEY (id>? AND id<?)"},
		{"BlocksWithPrefix, last prefix", lastBlockPageQuery, []any{[]byte{0xff}, blockPageSize},
			"SEARCH blocks USING PRIMARY KEY (id>?)"},
		{"StorageLocation", `SELECT ` + storageLocationColumns + ` FROM storage_locations WHERE name = ?`,
			[]any{"x"}, "SEARCH storage_locations USING PRIMARY KEY (name=?)"},
	} {
		if plan := checkPlan(t, s, c.name, c.query, c.args...); !slices.Equal(plan, []string{c.want}) {
			t.Errorf("%s: plan %q, want %q", c.name, plan, []string{c.want})
		}
	}
}

// Another server process uploads while this one walks the catalog: the
// walk must not hold SQLite's write lock, which the upload would wait
// for, busyTimeout long, and then fail.
func TestWalkWhileAnotherProcessWrites(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	a, b := openTest(t, path), openTest(t, path)
	owner, err := a.CreateUser(ctx, &meta.User{Name: "alice", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2*blockPageSize + 1
	blocks := make([]meta.BlockInfo, n)
	for i := range blocks {
		id := sha256.Sum256(fmt.Appendf(nil, "block %d", i))
		id[0] = 0x42
		blocks[i] = meta.BlockInfo{ID: id[:], Size: 1}
	}
	if err := a.AddBlocks(ctx, owner, blocks, time.Now()); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = a.BlocksWithPrefix(ctx, 0x42, func(id []byte, size int64) error {
		if seen++; seen%blockPageSize == 1 {
			other := sha256.Sum256(fmt.Appendf(nil, "other %d", seen))
			start := time.Now()
			if err := b.AddBlock(ctx, owner, other[:], 1, time.Now()); err != nil {
				return fmt.Errorf("upload by the other process: %w", err)
			}
			if d := time.Since(start); d > busyTimeout/2 {
				t.Errorf("upload by the other process waited %v", d)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("BlocksWithPrefix: %v", err)
	}
	if seen < n {
		t.Errorf("walk saw %d blocks, want at least %d", seen, n)
	}
}
