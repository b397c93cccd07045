package blobtest

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/coffer-drive/coffer/internal/blob"
)

// bytesOf returns n bytes that differ with seed, so that blocks of the same
// size have different IDs.
func bytesOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i>>8) + seed
	}
	return b
}

func block(data []byte) blob.Block {
	return blob.Block{ID: blob.Sum(data), Data: data}
}

// put stores data and returns its ID.
func put(t *testing.T, s blob.Store, data []byte) blob.ID {
	t.Helper()
	id := blob.Sum(data)
	if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put of %d bytes: %v", len(data), err)
	}
	return id
}

func putBatch(t *testing.T, s blob.Store, blocks []blob.Block) {
	t.Helper()
	if err := s.(blob.BatchPutter).PutBatch(t.Context(), blocks); err != nil {
		t.Fatalf("PutBatch of %d blocks: %v", len(blocks), err)
	}
}

// checkBlock checks that block id is stored with exactly data, by Stat and
// by Get.
func checkBlock(t *testing.T, s blob.Store, id blob.ID, data []byte) {
	t.Helper()
	size, err := s.Stat(t.Context(), id)
	if err != nil {
		t.Errorf("Stat %v: %v", id, err)
	} else if size != int64(len(data)) {
		t.Errorf("Stat %v: size %d, want %d", id, size, len(data))
	}
	rc, err := s.Get(t.Context(), id)
	if err != nil {
		t.Errorf("Get %v: %v", id, err)
		return
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Errorf("read %v: %v", id, err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("Get %v: read %d bytes that differ from the %d put", id, len(got), len(data))
	}
}

// checkMissing checks that block id is not stored, by Stat and by Get.
func checkMissing(t *testing.T, s blob.Store, id blob.ID) {
	t.Helper()
	_, err := s.Stat(t.Context(), id)
	wantErr(t, "Stat of a block that is not stored", err, blob.ErrNotFound)
	rc, err := s.Get(t.Context(), id)
	if err == nil {
		rc.Close()
	}
	wantErr(t, "Get of a block that is not stored", err, blob.ErrNotFound)
}

// checkList checks that List yields exactly the IDs want, each once, in
// any order.
func checkList(t *testing.T, s blob.Store, want ...blob.ID) {
	t.Helper()
	var got []blob.ID
	if err := s.List(t.Context(), func(id blob.ID) error {
		got = append(got, id)
		return nil
	}); err != nil {
		t.Errorf("List: %v", err)
		return
	}
	cmp := func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) }
	slices.SortFunc(got, cmp)
	want = slices.Clone(want)
	slices.SortFunc(want, cmp)
	want = slices.Compact(want)
	if !slices.Equal(got, want) {
		t.Errorf("List yielded %d IDs, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// readerOnly hides every method of a reader but Read, as an HTTP request
// body does, so that stores take their buffered path.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// readVia reads r to its end the way how says: "ReadAll" with io.ReadAll,
// "Copy" with io.Copy, which goes through WriteTo if r has it.
func readVia(how string, r io.Reader) ([]byte, error) {
	if how == "ReadAll" {
		return io.ReadAll(r)
	}
	var buf bytes.Buffer
	_, err := io.Copy(&buf, r)
	return buf.Bytes(), err
}
