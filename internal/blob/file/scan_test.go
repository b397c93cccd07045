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
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
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

// namedID returns an ID of the caller's choosing, for an unchecked store:
// first byte a, second byte b, last byte n, zeros between.
func namedID(a, b, n byte) blob.ID {
	var id blob.ID
	id[0], id[1], id[len(id)-1] = a, b, n
	return id
}

// putRaw stores data under id in an unchecked store.
func putRaw(t *testing.T, s *Store, id blob.ID, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put %x: %v", id[:8], err)
	}
}

// scanAll returns what Scan yields for prefix.
func scanAll(t *testing.T, s *Store, prefix byte) []blob.Info {
	t.Helper()
	var got []blob.Info
	if err := s.Scan(t.Context(), prefix, func(in blob.Info) error {
		got = append(got, in)
		return nil
	}); err != nil {
		t.Fatalf("Scan %02x: %v", prefix, err)
	}
	return got
}

func cmpID(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) }

// TestScan checks that Scan of every prefix yields exactly the blocks
// starting with it, in ascending order, with their sizes and recent
// modification times, and skips what is not a block.
func TestScan(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	start := time.Now()
	sizes := make(map[blob.ID]int64)
	var blocks []blob.Block
	for i := range 700 {
		d := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, i)
		blocks = append(blocks, blob.Block{ID: blob.Sum(d), Data: d})
		sizes[blob.Sum(d)] = int64(len(d))
	}
	// Some through Put, the rest through PutBatch.
	for _, b := range blocks[:50] {
		putBytes(t, s, b.Data)
	}
	if err := s.PutBatch(t.Context(), blocks[50:]); err != nil {
		t.Fatalf("PutBatch: %v", err)
	}
	end := time.Now()

	// Junk beside a block in its folder, and a file where a fan-out
	// folder of an unused prefix would be.
	hex := blocks[0].ID.String()
	for _, p := range []string{
		filepath.Join(dir, hex[:2], hex[2:4], hex+".tmp"),
		filepath.Join(dir, hex[:2], hex[2:4], "put-1"),
	} {
		if err := os.WriteFile(p, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	used := make(map[byte]bool)
	for _, b := range blocks {
		used[b.ID[0]] = true
	}
	for p := range 256 {
		if !used[byte(p)] {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02x", p)), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			break
		}
	}

	var all []blob.ID
	for p := range 256 {
		got := scanAll(t, s, byte(p))
		var want []blob.ID
		for _, b := range blocks {
			if b.ID[0] == byte(p) {
				want = append(want, b.ID)
			}
		}
		slices.SortFunc(want, cmpID)
		var ids []blob.ID
		for _, in := range got {
			ids = append(ids, in.ID)
			if in.Size != sizes[in.ID] {
				t.Errorf("Scan %02x: block %x has size %d, want %d", p, in.ID[:8], in.Size, sizes[in.ID])
			}
			// File times may be a little coarser than the clock.
			if in.ModTime.Before(start.Add(-2*time.Second)) || in.ModTime.After(end.Add(2*time.Second)) {
				t.Errorf("Scan %02x: block %x modified at %v, not between %v and %v", p, in.ID[:8], in.ModTime, start, end)
			}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("Scan %02x yielded %v,\nwant %v", p, ids, want)
		}
		all = append(all, ids...)
	}
	if !slices.IsSortedFunc(all, cmpID) || len(all) != len(blocks) {
		t.Errorf("Scans of every prefix yielded %d blocks, want %d in ascending order", len(all), len(blocks))
	}
}

func TestScanEmpty(t *testing.T) {
	s := openTest(t, t.TempDir())
	for p := range 256 {
		if got := scanAll(t, s, byte(p)); len(got) != 0 {
			t.Errorf("Scan %02x of an empty store yielded %v", p, got)
		}
	}

	// A prefix between two that hold blocks, and one whose top-level
	// folder holds only an empty fan-out folder.
	u := openUncheckedTest(t, t.TempDir())
	putRaw(t, u, namedID(0x41, 0, 1), []byte("a"))
	putRaw(t, u, namedID(0x43, 0, 1), []byte("c"))
	putRaw(t, u, namedID(0x44, 0, 1), []byte("d"))
	if err := u.Delete(t.Context(), namedID(0x44, 0, 1)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []byte{0x42, 0x44} {
		if got := scanAll(t, u, p); len(got) != 0 {
			t.Errorf("Scan %02x yielded %v, want nothing", p, got)
		}
	}
}

func TestScanStopsOnError(t *testing.T) {
	s := openUncheckedTest(t, t.TempDir())
	for i := range 10 {
		putRaw(t, s, namedID(0x42, byte(i%3), byte(i)), []byte{byte(i)})
	}
	stop := errors.New("enough")
	calls := 0
	err := s.Scan(t.Context(), 0x42, func(blob.Info) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("Scan returned %v, want fn's error unwrapped", err)
	}
	if calls != 3 {
		t.Errorf("Scan called fn %d times after it failed on call 3", calls)
	}
}

// TestScanDeleteFromFn checks that fn may delete blocks, and that a block
// deleted after its folder was read is skipped rather than reported or
// failing the scan.
func TestScanDeleteFromFn(t *testing.T) {
	s := openUncheckedTest(t, t.TempDir())
	var ids []blob.ID
	for i := range 6 {
		id := namedID(0x42, 0x07, byte(i)) // all in one leaf folder
		putRaw(t, s, id, []byte{byte(i)})
		ids = append(ids, id)
	}
	var seen []blob.ID
	err := s.Scan(t.Context(), 0x42, func(in blob.Info) error {
		seen = append(seen, in.ID)
		if in.ID == ids[0] {
			// Delete a block further on in the same folder.
			return s.Delete(t.Context(), ids[3])
		}
		return s.Delete(t.Context(), in.ID)
	})
	if err != nil {
		t.Fatalf("Scan deleting blocks: %v", err)
	}
	want := slices.Delete(slices.Clone(ids), 3, 4)
	if !slices.Equal(seen, want) {
		t.Errorf("Scan yielded %v,\nwant %v", seen, want)
	}
	if got := listAll(t, s); len(got) != 1 || got[0] != ids[0] {
		t.Errorf("List after the scan yielded %v, want only %v", got, ids[0])
	}
}

func TestScanCancelled(t *testing.T) {
	s := openUncheckedTest(t, t.TempDir())
	putRaw(t, s, namedID(0x42, 0, 0), []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Scan(ctx, 0x42, func(blob.Info) error {
		t.Error("Scan with a cancelled context called fn")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Scan with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestUnchecked checks that an unchecked store keeps and returns bytes
// under an ID they do not hash to, through every path, while a checked
// store on the same folder still refuses them.
func TestUnchecked(t *testing.T) {
	dir := t.TempDir()
	s := openUncheckedTest(t, dir)
	id := blob.Sum([]byte("the block"))
	shard := bytes.Repeat([]byte("shard "), 100_000) // past the copy buffers
	// A reader that cannot write itself out, so that Put takes its
	// buffered path.
	if err := s.Put(t.Context(), id, iotest.HalfReader(bytes.NewReader(shard))); err != nil {
		t.Fatalf("unchecked Put of bytes that do not hash to the ID: %v", err)
	}
	if size, err := s.Stat(t.Context(), id); err != nil || size != int64(len(shard)) {
		t.Errorf("Stat: %d, %v; want %d", size, err, len(shard))
	}
	for _, how := range []string{"ReadAll", "Copy"} {
		rc, err := s.Get(t.Context(), id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		var got []byte
		if how == "ReadAll" {
			got, err = io.ReadAll(rc)
		} else {
			var buf bytes.Buffer
			_, err = io.Copy(&buf, rc)
			got = buf.Bytes()
		}
		if cerr := rc.Close(); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		if err != nil || !bytes.Equal(got, shard) {
			t.Errorf("%s: %d bytes, %v; want the %d put", how, len(got), err, len(shard))
		}
	}
	if got := listAll(t, s); len(got) != 1 || got[0] != id {
		t.Errorf("List yielded %v, want %v", got, id)
	}

	// Putting other bytes replaces them, as a new shard would.
	putRaw(t, s, id, []byte("other"))
	rc, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got, err := io.ReadAll(rc); err != nil || string(got) != "other" {
		t.Errorf("Get after a second Put: %q, %v", got, err)
	}
	rc.Close()

	// A checked store on the same folder sees the mismatch.
	c := openTest(t, dir)
	rc, err = c.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("checked Get: %v", err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, blob.ErrCorrupt) {
		t.Errorf("checked Get of an unchecked block: %v, want ErrCorrupt", err)
	}
	rc.Close()
	if err := c.Put(t.Context(), id, bytes.NewReader(shard)); !errors.Is(err, blob.ErrCorrupt) {
		t.Errorf("checked Put under the wrong ID: %v, want ErrCorrupt", err)
	}
	if err := c.PutBatch(t.Context(), []blob.Block{{ID: id, Data: shard}}); !errors.Is(err, blob.ErrCorrupt) {
		t.Errorf("checked PutBatch under the wrong ID: %v, want ErrCorrupt", err)
	}
}

// TestUncheckedGetErrors checks that an unchecked Get still reports a
// missing block, honours its context and names the block in its errors.
func TestUncheckedGetErrors(t *testing.T) {
	s := openUncheckedTest(t, t.TempDir())
	id := namedID(0xab, 0xcd, 1)
	name := fmt.Sprintf("%x", id[:8])
	_, err := s.Get(t.Context(), id)
	if !errors.Is(err, blob.ErrNotFound) || !bytes.Contains([]byte(err.Error()), []byte(name)) {
		t.Errorf("Get of a missing block: %v, want ErrNotFound naming %s", err, name)
	}
	putRaw(t, s, id, bytes.Repeat([]byte("x"), 1<<20))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Get(ctx, id); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	rc, err := s.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatalf("read: %v", err)
	}
	cancel()
	for _, how := range []string{"Read", "Copy"} {
		if how == "Read" {
			_, err = rc.Read(make([]byte, 10))
		} else {
			_, err = io.Copy(io.Discard, rc)
		}
		if !errors.Is(err, context.Canceled) || !bytes.Contains([]byte(err.Error()), []byte(name)) {
			t.Errorf("%s after the context ended: %v, want context.Canceled naming %s", how, err, name)
		}
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
			id := namedID(0x10, 0x20, 1)
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
				blocks[i].ID = namedID(0x30, byte(i), byte(i))
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
