package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/blobtest"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return openTest(t, t.TempDir())
	}, blobtest.Hooks{Corrupt: corrupt})
}

// corrupt flips a bit in the middle of the block's file.
func corrupt(t *testing.T, s blob.Store, id blob.ID) {
	t.Helper()
	p := s.(*Store).path(id)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("corrupt: %v", err)
	}
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatalf("corrupt: %v", err)
	}
}

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func putBytes(t *testing.T, s *Store, data []byte) blob.ID {
	t.Helper()
	id := blob.Sum(data)
	if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	return id
}

func listAll(t *testing.T, s *Store) []blob.ID {
	t.Helper()
	var ids []blob.ID
	if err := s.List(t.Context(), func(id blob.ID) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	return ids
}

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	id := putBytes(t, s, []byte("hello"))
	hex := id.String()
	want := filepath.Join(dir, hex[:2], hex[2:4], hex)
	got, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("block is not at %s: %v", want, err)
	}
	if string(got) != "hello" {
		t.Errorf("%s holds %q", want, got)
	}
	entries, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("tmp holds %d entries after Put, want none", len(entries))
	}
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "blocks")
	s := openTest(t, dir)
	id := putBytes(t, s, []byte("one"))
	if err := s.PutBatch(t.Context(), []blob.Block{{ID: blob.Sum([]byte("two")), Data: []byte("two")}}); err != nil {
		t.Fatalf("PutBatch: %v", err)
	}
	hex := id.String()
	for _, d := range []string{
		filepath.Dir(dir), dir, filepath.Join(dir, tmpDir),
		filepath.Join(dir, hex[:2]), filepath.Join(dir, hex[:2], hex[2:4]),
	} {
		checkMode(t, d, fs.ModeDir|0o700)
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			checkMode(t, p, 0o600)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode(); got != want {
		t.Errorf("%s has mode %v, want %v", p, got, want)
	}
}

func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	id := putBytes(t, s, []byte("kept"))

	// What a crashed writer leaves: temp files in tmp, one old and one
	// recent, and (from some other tool) junk among the blocks.
	old := filepath.Join(dir, tmpDir, "put-123")
	recent := filepath.Join(dir, tmpDir, "put-456")
	stray := blob.Sum([]byte("stray")).String()
	junk := []string{
		filepath.Join(dir, id.String()[:2], id.String()[2:4], "put-789"),
		filepath.Join(dir, id.String()[:2], id.String()[2:4], id.String()+".tmp"),
		filepath.Join(dir, id.String()[:2], id.String()[2:4], stray), // wrong folder
		filepath.Join(dir, "zz", "00", stray),
	}
	for _, p := range append([]string{old, recent}, junk...) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * staleAge)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}

	s2 := openTest(t, dir)
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open left the stale temp file (Stat: %v)", err)
	}
	// A recent temp file may belong to another process's Put.
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("Open removed a recent temp file: %v", err)
	}
	for _, st := range []*Store{s, s2} {
		ids := listAll(t, st)
		if len(ids) != 1 || ids[0] != id {
			t.Errorf("List yielded %v, want only %v", ids, id)
		}
	}
	if _, err := s2.Stat(t.Context(), blob.Sum([]byte("stray"))); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat of a block in the wrong folder: %v, want ErrNotFound", err)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(file, "blocks")} {
		_, err := Open(dir)
		if err == nil {
			t.Errorf("Open(%q) succeeded on a path through a file", dir)
			continue
		}
		if !strings.Contains(err.Error(), dir) && !strings.Contains(err.Error(), file) {
			t.Errorf("Open(%q) error %q does not name the path", dir, err)
		}
		t.Logf("Open(%q): %v", dir, err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write anywhere")
	}
	parent := t.TempDir()
	existing := filepath.Join(parent, "existing")
	openTest(t, existing)
	if err := os.Chmod(parent, 0o500); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(existing, tmpDir), 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(parent, 0o700)
		os.Chmod(filepath.Join(existing, tmpDir), 0o700)
	})
	for _, dir := range []string{filepath.Join(parent, "new"), existing} {
		_, err := Open(dir)
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Open(%q) in a read-only folder: error %v, want permission denied", dir, err)
		}
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	id := putBytes(t, s, bytes.Repeat([]byte("x"), 1000))
	s2 := openTest(t, dir)
	if size, err := s2.Stat(t.Context(), id); err != nil || size != 1000 {
		t.Errorf("Stat after reopen: %d, %v", size, err)
	}
}

// TestMissingFanoutFolder checks that Put recovers when a fan-out folder
// it has used is removed behind its back (by an operator tidying up).
func TestMissingFanoutFolder(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	id := putBytes(t, s, []byte("a"))
	if err := os.RemoveAll(filepath.Join(dir, id.String()[:2])); err != nil {
		t.Fatal(err)
	}
	putBytes(t, s, []byte("a"))
	if _, err := s.Stat(t.Context(), id); err != nil {
		t.Errorf("Stat: %v", err)
	}
}

// TestReopenLearnsFolders checks that Open marks the fan-out folders that
// exist as known, so Puts after a restart do not flush their parents again.
func TestReopenLearnsFolders(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	id := putBytes(t, s, []byte("a"))
	if !s.isKnown(leaf(id)) {
		t.Errorf("leaf of a put block not known")
	}
	s2 := openTest(t, dir)
	if !s2.isKnown(leaf(id)) {
		t.Errorf("leaf of a stored block not known after reopen")
	}
	other := leaf(id) ^ 1
	if s2.isKnown(other) {
		t.Errorf("leaf %04x known but never made", other)
	}
}

// TestFailuresLeaveNoTemps checks that every failed Put and PutBatch
// removes its temp files.
func TestFailuresLeaveNoTemps(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := t.Context()
	data := bytes.Repeat([]byte("z"), 3<<20)
	id := blob.Sum(data)

	if err := s.Put(ctx, blob.Sum(nil), bytes.NewReader(data)); !errors.Is(err, blob.ErrCorrupt) {
		t.Errorf("Put under the wrong ID: %v", err)
	}
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(data[:1<<20]), iotest.ErrReader(boom))
	if err := s.Put(ctx, id, r); !errors.Is(err, boom) {
		t.Errorf("Put with a failing reader: %v", err)
	}

	// Block the fan-out folder of one block of a batch with a file, so
	// that the batch fails after writing its temp files.
	var blocks []blob.Block
	for i := range 20 {
		d := []byte{byte(i)}
		blocks = append(blocks, blob.Block{ID: blob.Sum(d), Data: d})
	}
	hex := blocks[7].ID.String()
	if err := os.WriteFile(filepath.Join(dir, hex[:2]), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBatch(ctx, blocks); err == nil {
		t.Errorf("PutBatch into a blocked folder succeeded")
	} else {
		t.Logf("PutBatch: %v", err)
	}
	if err := s.Put(ctx, blocks[7].ID, bytes.NewReader(blocks[7].Data)); err == nil {
		t.Errorf("Put into a blocked folder succeeded")
	}

	entries, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("temp file %s left behind", e.Name())
	}
}

// bothWays runs test on a store that makes batches durable the way Open
// chose for the filesystem (with syncfs where it can) and on one forced to
// fsync each file and folder, so that both ways are covered on Linux.
func bothWays(t *testing.T, test func(t *testing.T, dir string, open func(dir string) *Store)) {
	t.Run("AsOpened", func(t *testing.T) {
		test(t, t.TempDir(), func(dir string) *Store { return openTest(t, dir) })
	})
	t.Run("Fsync", func(t *testing.T) {
		test(t, t.TempDir(), func(dir string) *Store {
			s := openTest(t, dir)
			s.syncfs = false
			return s
		})
	})
}

// TestConformanceFsync runs the shared suite on a store that never uses
// syncfs, which TestConformance does not reach on Linux.
func TestConformanceFsync(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s := openTest(t, t.TempDir())
		s.syncfs = false
		return s
	}, blobtest.Hooks{Corrupt: corrupt})
}

// smallBlocks returns n distinct blocks of 4 KiB.
func smallBlocks(n int, seed byte) []blob.Block {
	blocks := make([]blob.Block, n)
	for i := range blocks {
		d := bytes.Repeat([]byte{seed, byte(i), byte(i >> 8)}, 4096/3+1)[:4096]
		blocks[i] = blob.Block{ID: blob.Sum(d), Data: d}
	}
	return blocks
}

// checkTmpEmpty fails the test if the temp folder holds anything.
func checkTmpEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("temp file %s left behind", e.Name())
	}
}

// TestPutBatchCorruptInstallsNothing checks that one bad block keeps the
// whole batch out: no block, no fan-out folder, no temp file.
func TestPutBatchCorruptInstallsNothing(t *testing.T) {
	bothWays(t, func(t *testing.T, dir string, open func(string) *Store) {
		s := open(dir)
		blocks := smallBlocks(300, 1)
		bad := blocks[299].ID
		blocks[299].Data = blocks[0].Data
		err := s.PutBatch(t.Context(), blocks)
		if !errors.Is(err, blob.ErrCorrupt) {
			t.Fatalf("PutBatch with a bad block: %v, want ErrCorrupt", err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%x", bad[:8])) {
			t.Errorf("PutBatch error %q does not name block %x", err, bad[:8])
		}
		if ids := listAll(t, s); len(ids) != 0 {
			t.Errorf("List after a failed batch yielded %d blocks", len(ids))
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != tmpDir {
				t.Errorf("%s made by a failed batch", e.Name())
			}
		}
		checkTmpEmpty(t, dir)
	})
}

// TestPutBatchReopen checks that a batch's blocks, small and large, are
// where a new Store on the same folder finds them, and that it knows their
// fan-out folders.
func TestPutBatchReopen(t *testing.T) {
	bothWays(t, func(t *testing.T, dir string, open func(string) *Store) {
		s := open(dir)
		blocks := smallBlocks(600, 2) // more than batchChunk
		for _, n := range []int{0, 1, 3 << 20} {
			d := bytes.Repeat([]byte{byte(n)}, n)
			blocks = append(blocks, blob.Block{ID: blob.Sum(d), Data: d})
		}
		if err := s.PutBatch(t.Context(), blocks); err != nil {
			t.Fatalf("PutBatch: %v", err)
		}
		for _, b := range blocks {
			if !s.isKnown(leaf(b.ID)) {
				t.Errorf("leaf of block %x not known after PutBatch", b.ID[:8])
			}
		}
		checkTmpEmpty(t, dir)

		s2 := open(dir)
		for _, b := range blocks {
			if !s2.isKnown(leaf(b.ID)) {
				t.Errorf("leaf of block %x not known after reopen", b.ID[:8])
			}
			rc, err := s2.Get(t.Context(), b.ID)
			if err != nil {
				t.Errorf("Get after reopen: %v", err)
				continue
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, b.Data) {
				t.Errorf("block %x after reopen: %d bytes, %v; want %d bytes", b.ID[:8], len(got), err, len(b.Data))
			}
		}
		if got := len(listAll(t, s2)); got != len(blocks) {
			t.Errorf("List after reopen yielded %d blocks, want %d", got, len(blocks))
		}
	})
}

// TestPutBatchDuplicatesAndExisting checks a batch that repeats blocks and
// holds blocks already stored, one of them rotted: each is stored once,
// and the rotted copy is replaced by a sound one, as Put does.
func TestPutBatchDuplicatesAndExisting(t *testing.T) {
	bothWays(t, func(t *testing.T, dir string, open func(string) *Store) {
		s := open(dir)
		blocks := smallBlocks(2*minGroup, 3)
		if err := s.PutBatch(t.Context(), blocks[:minGroup]); err != nil {
			t.Fatalf("first PutBatch: %v", err)
		}
		corrupt(t, s, blocks[0].ID)
		batch := append(slices.Clone(blocks), blocks[0], blocks[5], blocks[5], blocks[2])
		if err := s.PutBatch(t.Context(), batch); err != nil {
			t.Fatalf("PutBatch with duplicates and stored blocks: %v", err)
		}
		for _, b := range blocks {
			got, err := os.ReadFile(s.path(b.ID))
			if err != nil || !bytes.Equal(got, b.Data) {
				t.Errorf("block %x: %d bytes, %v; want its %d bytes", b.ID[:8], len(got), err, len(b.Data))
			}
		}
		if got := len(listAll(t, s)); got != len(blocks) {
			t.Errorf("List yielded %d blocks, want %d", got, len(blocks))
		}
		checkTmpEmpty(t, dir)

		// A batch of one block already stored, and an empty batch.
		if err := s.PutBatch(t.Context(), blocks[len(blocks)-1:]); err != nil {
			t.Errorf("PutBatch of one stored block: %v", err)
		}
		if err := s.PutBatch(t.Context(), nil); err != nil {
			t.Errorf("PutBatch of nothing: %v", err)
		}
		checkTmpEmpty(t, dir)
	})
}

// TestPutBatchMissingFanoutFolder checks that PutBatch, like Put, recovers
// when fan-out folders it knows are removed behind its back.
func TestPutBatchMissingFanoutFolder(t *testing.T) {
	bothWays(t, func(t *testing.T, dir string, open func(string) *Store) {
		s := open(dir)
		blocks := smallBlocks(50, 4)
		if err := s.PutBatch(t.Context(), blocks); err != nil {
			t.Fatalf("PutBatch: %v", err)
		}
		for _, b := range blocks[:10] {
			if err := os.RemoveAll(filepath.Join(dir, b.ID.String()[:2])); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutBatch(t.Context(), blocks); err != nil {
			t.Fatalf("PutBatch after folders were removed: %v", err)
		}
		for _, b := range blocks {
			if _, err := s.Stat(t.Context(), b.ID); err != nil {
				t.Errorf("Stat: %v", err)
			}
		}
		checkTmpEmpty(t, dir)
	})
}

// TestPutBatchFailureLeavesNoTemps checks that a batch failing after its
// temp files are written (a fan-out folder blocked by a file) removes them
// all and leaves the store usable.
func TestPutBatchFailureLeavesNoTemps(t *testing.T) {
	bothWays(t, func(t *testing.T, dir string, open func(string) *Store) {
		s := open(dir)
		blocks := smallBlocks(100, 5)
		hex := blocks[60].ID.String()
		if err := os.WriteFile(filepath.Join(dir, hex[:2]), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.PutBatch(t.Context(), blocks); err == nil {
			t.Errorf("PutBatch into a blocked folder succeeded")
		}
		checkTmpEmpty(t, dir)
		if err := os.Remove(filepath.Join(dir, hex[:2])); err != nil {
			t.Fatal(err)
		}
		if err := s.PutBatch(t.Context(), blocks); err != nil {
			t.Fatalf("PutBatch once unblocked: %v", err)
		}
		if got := len(listAll(t, s)); got != len(blocks) {
			t.Errorf("List yielded %d blocks, want %d", got, len(blocks))
		}
	})
}
