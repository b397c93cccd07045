package file

import (
	"bytes"
	"io"
	"os"
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
