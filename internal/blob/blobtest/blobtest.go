// Package blobtest is the conformance suite for blob.Store. Every
// implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blob.Store { ... }, blobtest.Hooks{...})
//	}
//
// The suite uses only the blob.Store interface (and blob.BatchPutter, when
// the store has it), so it pins down the behaviour callers may rely on
// whatever holds the blocks.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/coffer-drive/coffer/internal/blob"
)

// MaxBlock is the size of the largest block the client writes: 4 MiB of
// plaintext plus the encryption overhead.
const MaxBlock = 4<<20 + 29

// Hooks are what only the implementation's own test can do for the suite.
type Hooks struct {
	// Corrupt changes one byte of every stored copy of block id in s,
	// behind the store's back (the block is at least one byte long). If
	// nil, the tests of rotted blocks are skipped.
	Corrupt func(t *testing.T, s blob.Store, id blob.ID)
}

// Run runs the suite. Every subtest calls open for a store of its own,
// which must be empty; open is responsible for closing it (with t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) blob.Store, h Hooks) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Put", putTests},
		{"Get", getTests},
		{"Delete", deleteTests},
		{"List", listTests},
		{"Concurrency", concurrencyTests},
		{"Context", contextTests},
		{"Rot", rotTests},
		{"Batch", batchTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					if tc.needs&needCorrupt != 0 && h.Corrupt == nil {
						t.Skip("no Corrupt hook")
					}
					s := open(t)
					if tc.needs&needBatch != 0 {
						if _, ok := s.(blob.BatchPutter); !ok {
							t.Skip("store is not a blob.BatchPutter")
						}
					}
					tc.run(t, s, h)
				})
			}
		})
	}
}

type need int

const (
	needCorrupt need = 1 << iota
	needBatch
)

type test struct {
	name  string
	needs need
	run   func(t *testing.T, s blob.Store, h Hooks)
}

// sizes are the block sizes every round-trip test covers: empty, one byte,
// around the copy buffers stores are likely to use, and the largest.
var sizes = []int{0, 1, 32<<10 + 1, 1<<20 - 1, MaxBlock}

var putTests = []test{
	{name: "RoundTrip", run: func(t *testing.T, s blob.Store, _ Hooks) {
		for i, n := range sizes {
			data := bytesOf(n, byte(i))
			id := put(t, s, data)
			checkBlock(t, s, id, data)
		}
	}},
	{name: "RoundTripSmallReads", run: func(t *testing.T, s blob.Store, _ Hooks) {
		// A reader that returns little at a time and cannot write
		// itself out, like an HTTP request body.
		data := bytesOf(MaxBlock, 3)
		id := blob.Sum(data)
		r := iotest.HalfReader(readerOnly{bytes.NewReader(data)})
		if err := s.Put(t.Context(), id, r); err != nil {
			t.Fatalf("Put: %v", err)
		}
		checkBlock(t, s, id, data)
	}},
	{name: "WrongID", run: func(t *testing.T, s blob.Store, _ Hooks) {
		for i, n := range sizes {
			data := bytesOf(n, byte(i))
			id := blob.Sum(bytesOf(n+1, byte(i)))
			err := s.Put(t.Context(), id, bytes.NewReader(data))
			wantErr(t, fmt.Sprintf("Put of %d bytes under the wrong ID", n), err, blob.ErrCorrupt)
			checkMissing(t, s, id)
			checkMissing(t, s, blob.Sum(data))
		}
		checkList(t, s)
	}},
	{name: "Truncated", run: func(t *testing.T, s blob.Store, _ Hooks) {
		data := bytesOf(MaxBlock, 4)
		id := blob.Sum(data)
		err := s.Put(t.Context(), id, bytes.NewReader(data[:len(data)-1]))
		wantErr(t, "Put of a block missing its last byte", err, blob.ErrCorrupt)
		checkMissing(t, s, id)
	}},
	{name: "WrongIDOfStoredBlock", run: func(t *testing.T, s blob.Store, _ Hooks) {
		// Bad bytes offered under the ID of a stored block must not
		// replace it.
		data := bytesOf(1000, 5)
		id := put(t, s, data)
		err := s.Put(t.Context(), id, bytes.NewReader(bytesOf(1000, 6)))
		wantErr(t, "Put of other bytes under a stored block's ID", err, blob.ErrCorrupt)
		checkBlock(t, s, id, data)
	}},
	{name: "Idempotent", run: func(t *testing.T, s blob.Store, _ Hooks) {
		data := bytesOf(MaxBlock, 7)
		id := put(t, s, data)
		if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
			t.Fatalf("second Put of the same block: %v", err)
		}
		checkBlock(t, s, id, data)
		checkList(t, s, id)
	}},
	{name: "ReaderError", run: func(t *testing.T, s blob.Store, _ Hooks) {
		data := bytesOf(MaxBlock, 8)
		id := blob.Sum(data)
		boom := errors.New("connection reset by the test")
		for _, after := range []int{0, 1, 1 << 20, len(data)} {
			r := io.MultiReader(bytes.NewReader(data[:after]), iotest.ErrReader(boom))
			err := s.Put(t.Context(), id, r)
			wantErr(t, fmt.Sprintf("Put whose reader fails after %d bytes", after), err, boom)
			checkMissing(t, s, id)
		}
		checkList(t, s)
	}},
	{name: "ErrorNamesBlock", run: func(t *testing.T, s blob.Store, _ Hooks) {
		id := blob.Sum([]byte("x"))
		err := s.Put(t.Context(), id, bytes.NewReader([]byte("y")))
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(fmt.Sprintf("%x", id[:4]))) {
			t.Errorf("Put error %q does not name block %v", err, id)
		}
		_, err = s.Get(t.Context(), id)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(fmt.Sprintf("%x", id[:4]))) {
			t.Errorf("Get error %q does not name block %v", err, id)
		}
	}},
}

var getTests = []test{
	{name: "Missing", run: func(t *testing.T, s blob.Store, _ Hooks) {
		checkMissing(t, s, blob.Sum([]byte("never stored")))
	}},
	{name: "MissingBesideStored", run: func(t *testing.T, s blob.Store, _ Hooks) {
		// An ID differing from a stored one only in its last byte, so
		// it lands in the same place of any prefix-based layout.
		id := put(t, s, []byte("stored"))
		other := id
		other[len(other)-1] ^= 1
		checkMissing(t, s, other)
	}},
	{name: "CloseEarly", run: func(t *testing.T, s blob.Store, _ Hooks) {
		data := bytesOf(MaxBlock, 9)
		id := put(t, s, data)
		rc, err := s.Get(t.Context(), id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
			t.Fatalf("read: %v", err)
		}
		if err := rc.Close(); err != nil {
			t.Errorf("Close after a partial read: %v", err)
		}
		checkBlock(t, s, id, data)
	}},
	{name: "SmallReads", run: func(t *testing.T, s blob.Store, _ Hooks) {
		data := bytesOf(100<<10+3, 10)
		id := put(t, s, data)
		rc, err := s.Get(t.Context(), id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer rc.Close()
		if err := iotest.TestReader(rc, data); err != nil {
			t.Errorf("reader: %v", err)
		}
	}},
}

var deleteTests = []test{
	{name: "ThenGet", run: func(t *testing.T, s blob.Store, _ Hooks) {
		keep := put(t, s, []byte("keep"))
		gone := put(t, s, []byte("gone"))
		if err := s.Delete(t.Context(), gone); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		checkMissing(t, s, gone)
		checkBlock(t, s, keep, []byte("keep"))
		checkList(t, s, keep)
	}},
	{name: "Missing", run: func(t *testing.T, s blob.Store, _ Hooks) {
		id := blob.Sum([]byte("never stored"))
		if err := s.Delete(t.Context(), id); err != nil {
			t.Errorf("Delete of a missing block: %v", err)
		}
		put(t, s, []byte("a"))
		if err := s.Delete(t.Context(), blob.Sum([]byte("b"))); err != nil {
			t.Errorf("Delete of a missing block in a non-empty store: %v", err)
		}
	}},
	{name: "Twice", run: func(t *testing.T, s blob.Store, _ Hooks) {
		id := put(t, s, []byte("x"))
		for i := range 2 {
			if err := s.Delete(t.Context(), id); err != nil {
				t.Errorf("Delete #%d: %v", i+1, err)
			}
		}
		checkMissing(t, s, id)
	}},
	{name: "PutAgain", run: func(t *testing.T, s blob.Store, _ Hooks) {
		data := bytesOf(5000, 11)
		id := put(t, s, data)
		if err := s.Delete(t.Context(), id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		put(t, s, data)
		checkBlock(t, s, id, data)
	}},
}

var listTests = []test{
	{name: "Empty", run: func(t *testing.T, s blob.Store, _ Hooks) {
		checkList(t, s)
	}},
	{name: "Exact", run: func(t *testing.T, s blob.Store, _ Hooks) {
		var ids []blob.ID
		for i := range 300 {
			ids = append(ids, put(t, s, []byte(fmt.Sprintf("block %d", i))))
		}
		checkList(t, s, ids...)
		for _, id := range ids[:100] {
			if err := s.Delete(t.Context(), id); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		checkList(t, s, ids[100:]...)
	}},
	{name: "StopsOnError", run: func(t *testing.T, s blob.Store, _ Hooks) {
		for i := range 10 {
			put(t, s, []byte{byte(i)})
		}
		stop := errors.New("enough")
		calls := 0
		err := s.List(t.Context(), func(blob.ID) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Errorf("List returned %v, want fn's error unwrapped", err)
		}
		if calls != 3 {
			t.Errorf("List called fn %d times after it failed on call 3", calls)
		}
	}},
	{name: "DeleteFromFn", run: func(t *testing.T, s blob.Store, _ Hooks) {
		for i := range 20 {
			put(t, s, []byte{byte(i)})
		}
		err := s.List(t.Context(), func(id blob.ID) error {
			return s.Delete(t.Context(), id)
		})
		if err != nil {
			t.Fatalf("List deleting every block: %v", err)
		}
		checkList(t, s)
	}},
}

var concurrencyTests = []test{
	{name: "Puts", run: func(t *testing.T, s blob.Store, _ Hooks) {
		// Every goroutine puts the same shared block and blocks of its
		// own, which also share with some others.
		const workers = 16
		shared := bytesOf(MaxBlock, 12)
		var wg sync.WaitGroup
		errs := make(chan error, workers*10)
		for w := range workers {
			wg.Go(func() {
				for i := range 4 {
					data := []byte(fmt.Sprintf("block %d", (w+i)%workers))
					if err := s.Put(t.Context(), blob.Sum(data), bytes.NewReader(data)); err != nil {
						errs <- err
					}
				}
				if err := s.Put(t.Context(), blob.Sum(shared), bytes.NewReader(shared)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent Put: %v", err)
		}
		want := []blob.ID{blob.Sum(shared)}
		for i := range workers {
			data := []byte(fmt.Sprintf("block %d", i))
			checkBlock(t, s, blob.Sum(data), data)
			want = append(want, blob.Sum(data))
		}
		checkBlock(t, s, blob.Sum(shared), shared)
		checkList(t, s, want...)
	}},
	{name: "GetDuringPut", run: func(t *testing.T, s blob.Store, _ Hooks) {
		// A reader never sees part of a block: it finds nothing, or
		// all of it.
		data := bytesOf(MaxBlock, 13)
		id := blob.Sum(data)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
					t.Errorf("Put: %v", err)
				}
			})
		}
		for range 20 {
			rc, err := s.Get(t.Context(), id)
			if errors.Is(err, blob.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Errorf("Get during Put: %v", err)
				continue
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("Get during Put read %d bytes (err %v), want all %d", len(got), err, len(data))
			}
		}
		wg.Wait()
		checkBlock(t, s, id, data)
	}},
	{name: "PutDelete", run: func(t *testing.T, s blob.Store, _ Hooks) {
		// Racing Put and Delete of one block must both succeed and
		// leave the block either whole or absent.
		data := bytesOf(64<<10, 14)
		id := blob.Sum(data)
		var wg sync.WaitGroup
		wg.Go(func() {
			for range 20 {
				if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				if err := s.Delete(t.Context(), id); err != nil {
					t.Errorf("Delete: %v", err)
				}
			}
		})
		wg.Wait()
		if _, err := s.Stat(t.Context(), id); errors.Is(err, blob.ErrNotFound) {
			return
		}
		checkBlock(t, s, id, data)
	}},
}

var contextTests = []test{
	{name: "Cancelled", run: func(t *testing.T, s blob.Store, _ Hooks) {
		stored := put(t, s, []byte("stored"))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		data := []byte("new")
		id := blob.Sum(data)

		wantErr(t, "Put", s.Put(ctx, id, bytes.NewReader(data)), context.Canceled)
		_, err := s.Get(ctx, stored)
		wantErr(t, "Get", err, context.Canceled)
		_, err = s.Stat(ctx, stored)
		wantErr(t, "Stat", err, context.Canceled)
		wantErr(t, "Delete", s.Delete(ctx, stored), context.Canceled)
		err = s.List(ctx, func(blob.ID) error { return nil })
		wantErr(t, "List", err, context.Canceled)

		checkMissing(t, s, id)
		checkBlock(t, s, stored, []byte("stored"))
	}},
	{name: "CancelledDuringPut", run: func(t *testing.T, s blob.Store, _ Hooks) {
		data := bytesOf(MaxBlock, 15)
		id := blob.Sum(data)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// The reader gives half the block, then cancels, then gives
		// the rest: the store must notice before it stores anything.
		r := io.MultiReader(
			bytes.NewReader(data[:len(data)/2]),
			readerFunc(func([]byte) (int, error) { cancel(); return 0, io.EOF }),
			readerOnly{bytes.NewReader(data[len(data)/2:])},
		)
		wantErr(t, "Put cancelled midway", s.Put(ctx, id, r), context.Canceled)
		checkMissing(t, s, id)
		checkList(t, s)
	}},
}

var rotTests = []test{
	{name: "GetFails", needs: needCorrupt, run: func(t *testing.T, s blob.Store, h Hooks) {
		for i, n := range []int{1, 100, MaxBlock} {
			data := bytesOf(n, byte(20+i))
			id := put(t, s, data)
			h.Corrupt(t, s, id)
			for _, how := range []string{"ReadAll", "Copy"} {
				rc, err := s.Get(t.Context(), id)
				if err != nil {
					// Failing up front is as good as failing at the end.
					wantErr(t, fmt.Sprintf("Get of a rotted %d-byte block", n), err, blob.ErrCorrupt)
					continue
				}
				got, err := readVia(how, rc)
				rc.Close()
				if err == nil && bytes.Equal(got, data) {
					continue // served from a sound copy
				}
				wantErr(t, fmt.Sprintf("%s of a rotted %d-byte block", how, n), err, blob.ErrCorrupt)
			}
		}
	}},
	{name: "PutHeals", needs: needCorrupt, run: func(t *testing.T, s blob.Store, h Hooks) {
		data := bytesOf(MaxBlock, 30)
		id := put(t, s, data)
		h.Corrupt(t, s, id)
		if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
			t.Fatalf("Put over a rotted copy: %v", err)
		}
		checkBlock(t, s, id, data)
	}},
}

var batchTests = []test{
	{name: "RoundTrip", needs: needBatch, run: func(t *testing.T, s blob.Store, _ Hooks) {
		var blocks []blob.Block
		for i := range 500 {
			blocks = append(blocks, block(bytesOf(4096, byte(i))))
		}
		for i, n := range sizes {
			blocks = append(blocks, block(bytesOf(n, byte(100+i))))
		}
		putBatch(t, s, blocks)
		var ids []blob.ID
		for _, b := range blocks {
			checkBlock(t, s, b.ID, b.Data)
			ids = append(ids, b.ID)
		}
		checkList(t, s, ids...)
	}},
	{name: "Empty", needs: needBatch, run: func(t *testing.T, s blob.Store, _ Hooks) {
		putBatch(t, s, nil)
		checkList(t, s)
	}},
	{name: "DuplicatesAndStored", needs: needBatch, run: func(t *testing.T, s blob.Store, _ Hooks) {
		a := block([]byte("a"))
		b := block([]byte("b"))
		put(t, s, a.Data)
		putBatch(t, s, []blob.Block{a, b, b, a, b})
		checkBlock(t, s, a.ID, a.Data)
		checkBlock(t, s, b.ID, b.Data)
		checkList(t, s, a.ID, b.ID)
	}},
	{name: "CorruptStoresNone", needs: needBatch, run: func(t *testing.T, s blob.Store, _ Hooks) {
		var blocks []blob.Block
		for i := range 50 {
			blocks = append(blocks, block(bytesOf(100, byte(i))))
		}
		bad := blocks[37].ID
		blocks[37].Data = bytesOf(100, 200)
		err := s.(blob.BatchPutter).PutBatch(t.Context(), blocks)
		wantErr(t, "PutBatch with one wrong ID", err, blob.ErrCorrupt)
		if err != nil && !bytes.Contains([]byte(err.Error()), []byte(fmt.Sprintf("%x", bad[:4]))) {
			t.Errorf("PutBatch error %q does not name the bad block %v", err, bad)
		}
		checkList(t, s)
	}},
	{name: "Cancelled", needs: needBatch, run: func(t *testing.T, s blob.Store, _ Hooks) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		b := block([]byte("x"))
		wantErr(t, "PutBatch", s.(blob.BatchPutter).PutBatch(ctx, []blob.Block{b}), context.Canceled)
		checkList(t, s)
	}},
	{name: "Concurrent", needs: needBatch, run: func(t *testing.T, s blob.Store, _ Hooks) {
		// Overlapping batches and single Puts, all at once.
		var all []blob.Block
		for i := range 200 {
			all = append(all, block(bytesOf(1000+i, byte(i))))
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				if err := s.(blob.BatchPutter).PutBatch(t.Context(), all[w*40:w*40+80]); err != nil {
					t.Errorf("PutBatch: %v", err)
				}
			})
			wg.Go(func() {
				for _, b := range all[w*50 : w*50+50] {
					if err := s.Put(t.Context(), b.ID, bytes.NewReader(b.Data)); err != nil {
						t.Errorf("Put: %v", err)
					}
				}
			})
		}
		wg.Wait()
		var ids []blob.ID
		for _, b := range all {
			checkBlock(t, s, b.ID, b.Data)
			ids = append(ids, b.ID)
		}
		checkList(t, s, ids...)
	}},
	{name: "Helper", run: func(t *testing.T, s blob.Store, _ Hooks) {
		// blob.PutBatch works on every store, batching or not, and
		// keeps the all-or-nothing promise about corrupt blocks.
		good := []blob.Block{block([]byte("1")), block([]byte("2"))}
		bad := append(slices.Clone(good), blob.Block{ID: blob.Sum([]byte("3")), Data: []byte("4")})
		wantErr(t, "blob.PutBatch with a wrong ID", blob.PutBatch(t.Context(), s, bad), blob.ErrCorrupt)
		checkList(t, s)
		if err := blob.PutBatch(t.Context(), s, good); err != nil {
			t.Fatalf("blob.PutBatch: %v", err)
		}
		checkList(t, s, good[0].ID, good[1].ID)
	}},
}
