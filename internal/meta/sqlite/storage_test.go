package sqlite

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// Another server process uploads while this one walks the catalog: the
// walk must not hold SQLite's write lock, which the upload would wait
// for, busyTimeout long, and then fail.
func TestWalkWhileAnotherProcessWrites(t *testing.T) {
	const blockPageSize = 1000 // sqlmeta's page of the catalog walk
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
