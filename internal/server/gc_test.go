package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
	blobfile "github.com/coffer-drive/coffer/internal/blob/file"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/sqlite"
)

// TestGarbageCollection: an uploaded block that nothing references is
// deleted once it is older than GarbageAge, from the metadata and from
// storage; a younger one is kept, so an interrupted upload can resume.
func TestGarbageCollection(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	blobs, err := blobfile.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	now := time.Now()
	s, err := New(ctx, store, blobs, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: func() time.Time { return now }, GarbageAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	uid, err := store.CreateUser(ctx, &meta.User{Name: "alice", CreatedAt: now, Credentials: meta.Credentials{Salt: []byte{1}, Verifier: []byte{1}, SealedKeys: []byte{1}, Epoch: 1}, RecoverySealedKeys: []byte{1}, RecoveryAuthPub: []byte{1}, PublicBundle: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	put := func(data []byte, at time.Time) blob.ID {
		id := blob.ID(sha256.Sum256(data))
		if err := blobs.Put(ctx, id, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := store.AddBlock(ctx, uid, id[:], int64(len(data)), at); err != nil {
			t.Fatal(err)
		}
		return id
	}
	old := put([]byte("abandoned upload"), now.Add(-2*time.Hour))
	young := put([]byte("upload in progress"), now.Add(-time.Minute))

	s.collectGarbage(ctx)

	if _, err := blobs.Stat(ctx, old); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("old unreferenced block still stored: %v", err)
	}
	if missing, _ := store.MissingBlocks(ctx, uid, [][]byte{old[:]}); len(missing) != 1 {
		t.Fatal("old unreferenced block still recorded")
	}
	if _, err := blobs.Stat(ctx, young); err != nil {
		t.Fatalf("young block was collected: %v", err)
	}
	if u, _ := store.Usage(ctx, uid); u.UsedBytes != int64(len("upload in progress")) {
		t.Fatalf("usage after collection: %d", u.UsedBytes)
	}
}
