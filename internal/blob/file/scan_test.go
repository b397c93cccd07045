package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/blobtest"
)

func openUncheckedTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := OpenUnchecked(dir)
	if err != nil {
		t.Fatalf("OpenUnchecked: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformanceUnchecked(t *testing.T) {
	blobtest.RunUnchecked(t, func(t *testing.T) blobtest.Unchecked {
		return openUncheckedTest(t, t.TempDir())
	}, blobtest.UncheckedHooks{Checked: func(t *testing.T, s blobtest.Unchecked) blob.Store {
		return openTest(t, s.(*Store).dir)
	}})
}

// putRaw stores data under id in an unchecked store.
func putRaw(t *testing.T, s *Store, id blob.ID, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put %x: %v", id[:8], err)
	}
}

// TestScanSkips checks that Scan passes over what is not a block: junk
// beside a block in its folder, a file where a fan-out folder would be,
// and a block deleted by fn after its folder was read.
func TestScanSkips(t *testing.T) {
	dir := t.TempDir()
	s := openUncheckedTest(t, dir)
	var ids []blob.ID
	for i := range 6 {
		id := blobtest.NamedID(0x42, 0x07, byte(i)) // all in one leaf folder
		putRaw(t, s, id, []byte{byte(i)})
		ids = append(ids, id)
	}
	hex := ids[0].String()
	for _, p := range []string{
		filepath.Join(dir, hex[:2], hex[2:4], hex+".tmp"),
		filepath.Join(dir, hex[:2], hex[2:4], "put-1"),
		filepath.Join(dir, "41"),
	} {
		if err := os.WriteFile(p, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []byte{0x41, 0x43} {
		if err := s.Scan(t.Context(), p, func(in blob.Info) error {
			return fmt.Errorf("Scan %02x yielded %v", p, in.ID)
		}); err != nil {
			t.Error(err)
		}
	}
	var seen []blob.ID
	if err := s.Scan(t.Context(), 0x42, func(in blob.Info) error {
		seen = append(seen, in.ID)
		if in.ID == ids[0] {
			return s.Delete(t.Context(), ids[3])
		}
		return nil
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if want := slices.Delete(slices.Clone(ids), 3, 4); !slices.Equal(seen, want) {
		t.Errorf("Scan yielded %v,\nwant %v: the blocks but the one fn deleted ahead", seen, want)
	}
}

// TestUncheckedDurable checks that an unchecked store writes blocks the
// way a checked one does: at their place in the layout, through temp files
// that failures leave none of, with their fan-out folders recorded as
// durable, whether batches fsync each file or flush the filesystem.
func TestUncheckedDurable(t *testing.T) {
	for _, syncfs := range []bool{true, false} {
		t.Run(fmt.Sprintf("syncfs=%v", syncfs), func(t *testing.T) {
			dir := t.TempDir()
			s := openUncheckedTest(t, dir)
			s.syncfs = s.syncfs && syncfs

			// A Put whose reader fails, and one cancelled midway,
			// store nothing and leave no temp file.
			id := blobtest.NamedID(0x10, 0x20, 1)
			data := bytes.Repeat([]byte("d"), 3<<20)
			boom := errors.New("boom")
			r := io.MultiReader(bytes.NewReader(data[:1<<20]), iotest.ErrReader(boom))
			if err := s.Put(t.Context(), id, r); !errors.Is(err, boom) {
				t.Errorf("Put with a failing reader: %v, want %v", err, boom)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r = io.MultiReader(
				bytes.NewReader(data[:1<<20]),
				readerFunc(func([]byte) (int, error) { cancel(); return 0, io.EOF }),
				struct{ io.Reader }{bytes.NewReader(data[1<<20:])},
			)
			if err := s.Put(ctx, id, r); !errors.Is(err, context.Canceled) {
				t.Errorf("Put cancelled midway: %v, want context.Canceled", err)
			}
			if _, err := s.Stat(t.Context(), id); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Stat after failed Puts: %v, want ErrNotFound", err)
			}
			checkTmpEmpty(t, dir)

			// A Put and a batch big enough for a group commit, of
			// blocks under IDs that are not their hashes.
			putRaw(t, s, id, data)
			blocks := smallBlocks(2*minGroup, 9)
			for i := range blocks {
				blocks[i].ID = blobtest.NamedID(0x30, byte(i), byte(i))
			}
			if err := s.PutBatch(t.Context(), blocks); err != nil {
				t.Fatalf("unchecked PutBatch: %v", err)
			}
			blocks = append(blocks, blob.Block{ID: id, Data: data})
			checkTmpEmpty(t, dir)

			s2 := openUncheckedTest(t, dir)
			for _, b := range blocks {
				hex := b.ID.String()
				got, err := os.ReadFile(filepath.Join(dir, hex[:2], hex[2:4], hex))
				if err != nil || !bytes.Equal(got, b.Data) {
					t.Errorf("block %x in the layout: %d bytes, %v; want %d", b.ID[:8], len(got), err, len(b.Data))
				}
				if !s.isKnown(leaf(b.ID)) || !s2.isKnown(leaf(b.ID)) {
					t.Errorf("leaf of block %x not known after Put and after reopen", b.ID[:8])
				}
				rc, err := s2.Get(t.Context(), b.ID)
				if err != nil {
					t.Errorf("Get after reopen: %v", err)
					continue
				}
				got, err = io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, b.Data) {
					t.Errorf("block %x after reopen: %d bytes, %v", b.ID[:8], len(got), err)
				}
			}
		})
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
