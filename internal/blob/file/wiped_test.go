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

	"github.com/coffer-drive/coffer/internal/blob"
)

// A store whose folder is deleted under it (a replaced disk, a location
// emptied to be rebuilt) takes blocks again without being reopened.
func TestFolderWipedUnderStore(t *testing.T) {
	dir := t.TempDir() + "/blocks"
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := []byte("before the wipe")
	if err := s.Put(t.Context(), blob.Sum(before), bytes.NewReader(before)); err != nil {
		t.Fatal(err)
	}
	for round, put := range []func(data []byte) error{
		func(data []byte) error { return s.Put(t.Context(), blob.Sum(data), bytes.NewReader(data)) },
		func(data []byte) error {
			return s.PutBatch(t.Context(), []blob.Block{{ID: blob.Sum(data), Data: data}, {ID: blob.Sum(before), Data: before}})
		},
	} {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		data := []byte{byte(round), 'a', 'f', 't', 'e', 'r'}
		if err := put(data); err != nil {
			t.Fatalf("round %d: put after the folder was deleted: %v", round, err)
		}
		rc, err := s.Get(t.Context(), blob.Sum(data))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round %d: read back %q, %v", round, got, err)
		}
	}
}

// A store whose folder is gone because the filesystem holding it was
// unmounted does not make it again on the disk under the mount point:
// Puts fail, and succeed again once the filesystem is back. The test
// cannot unmount anything, so it makes the store see paths as moved to
// another device, or the folders as they are left by an unmount.
func TestFolderUnmountedUnderStore(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt")
	dir := filepath.Join(mnt, "blocks")
	for _, tc := range []struct {
		name string
		// unmount changes the store and its folders to look as they
		// would after an unmount, and returns what undoes it.
		unmount func(t *testing.T, s *Store) (remount func())
		want    string
		gone    string // a folder that must not be made again
	}{{
		// DIR is gone, and DIR/.. is on another device than at open:
		// the filesystem mounted at DIR/.. was unmounted.
		name: "parent on another device",
		unmount: func(t *testing.T, s *Store) func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			real := s.deviceOf
			s.deviceOf = func(path string) (uint64, bool, error) {
				dev, ok, err := real(path)
				if path == mnt {
					dev++
				}
				return dev, ok, err
			}
			return func() { s.deviceOf = real }
		},
		want: "its parent is now on another filesystem",
		gone: dir,
	}, {
		// DIR/.. is gone too: the filesystem was mounted higher up.
		name: "parent gone",
		unmount: func(t *testing.T, s *Store) func() {
			if err := os.RemoveAll(mnt); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := os.Mkdir(mnt, 0o700); err != nil {
					t.Fatal(err)
				}
			}
		},
		want: "so is the folder " + mnt + " above it",
		gone: mnt,
	}, {
		// DIR is still there but DIR/tmp is not, and DIR is on its
		// parent's device although it was the root of a filesystem at
		// open: an unmount left the mount point behind.
		name: "mount point left behind",
		unmount: func(t *testing.T, s *Store) func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			dirDev := s.dirDev
			s.dirDev = s.parentDev + 1
			return func() { s.dirDev = dirDev }
		},
		want: "was the root of a filesystem",
		gone: filepath.Join(dir, tmpDir),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !s.devOK {
				t.Skip("the platform does not tell which filesystem holds a folder")
			}
			remount := tc.unmount(t, s)
			data := []byte("while unmounted")
			for _, put := range []func() error{
				func() error { return s.Put(t.Context(), blob.Sum(data), bytes.NewReader(data)) },
				func() error { return s.PutBatch(t.Context(), []blob.Block{{ID: blob.Sum(data), Data: data}}) },
			} {
				err := put()
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("put while unmounted: got error %v, want one saying %q", err, tc.want)
				}
				if errors.Is(err, blob.ErrNotFound) {
					t.Errorf("put while unmounted: %v is blob.ErrNotFound", err)
				}
				if _, err := os.Stat(tc.gone); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("%s was made again on the disk under the mount point (stat: %v)", tc.gone, err)
				}
			}

			// Once the filesystem is back (here, empty, as if a new
			// disk), the store takes blocks again.
			remount()
			if err := s.Put(t.Context(), blob.Sum(data), bytes.NewReader(data)); err != nil {
				t.Fatalf("put after remount: %v", err)
			}
			if _, err := s.Stat(t.Context(), blob.Sum(data)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
