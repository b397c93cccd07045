package file

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
