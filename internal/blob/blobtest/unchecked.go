package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
)

// Unchecked is a store opened unchecked, as replicated.Location needs it:
// it keeps whatever bytes it is given under whatever ID, without checking
// that they hash to it, and can scan its blocks one ID prefix at a time.
type Unchecked interface {
	blob.Store
	blob.BatchPutter
	// Scan calls fn for every stored block whose ID starts with prefix,
	// in ascending order of ID. If fn returns an error, Scan stops and
	// returns it unwrapped.
	Scan(ctx context.Context, prefix byte, fn func(blob.Info) error) error
}

// UncheckedHooks are what only the implementation's own test can do for
// RunUnchecked.
type UncheckedHooks struct {
	// Checked opens a checked store on the same place as s. If nil, the
	// test that a checked store sees through unchecked blocks is skipped.
	Checked func(t *testing.T, s Unchecked) blob.Store
}

// RunUnchecked runs the suite for unchecked stores. Every subtest calls
// open for a store of its own, which must be empty; open is responsible
// for closing it (with t.Cleanup).
func RunUnchecked(t *testing.T, open func(t *testing.T) Unchecked, h UncheckedHooks) {
	for _, tc := range uncheckedTests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needs&needChecked != 0 && h.Checked == nil {
				t.Skip("no Checked hook")
			}
			tc.run(t, open(t), h)
		})
	}
}

const needChecked need = 1 << 8

type uncheckedTest struct {
	name  string
	needs need
	run   func(t *testing.T, s Unchecked, h UncheckedHooks)
}

// NamedID returns an ID of the caller's choosing, for an unchecked store:
// first byte a, second byte b, last byte n, zeros between.
func NamedID(a, b, n byte) blob.ID {
	var id blob.ID
	id[0], id[1], id[len(id)-1] = a, b, n
	return id
}

var uncheckedTests = []uncheckedTest{
	{name: "Put", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		// Bytes under an ID they do not hash to, of every size, through
		// a reader that can write itself out and one that cannot.
		var ids []blob.ID
		for i, n := range sizes {
			data := bytesOf(n, byte(i))
			id := blob.Sum([]byte(fmt.Sprint("the block ", i)))
			var r io.Reader = bytes.NewReader(data)
			if i%2 == 1 {
				r = iotest.HalfReader(readerOnly{r})
			}
			if err := s.Put(t.Context(), id, r); err != nil {
				t.Fatalf("unchecked Put of %d bytes that do not hash to the ID: %v", n, err)
			}
			checkRaw(t, s, id, data)
			ids = append(ids, id)
		}
		checkList(t, s, ids...)
	}},
	{name: "PutBatch", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		var blocks []blob.Block
		for i := range 20 {
			blocks = append(blocks, blob.Block{ID: NamedID(0x42, byte(i), 0), Data: []byte(fmt.Sprint("shard ", i))})
		}
		blocks = append(blocks, blob.Block{ID: NamedID(0x43, 0, 0), Data: bytesOf(MaxBlock, 1)})
		if err := s.PutBatch(t.Context(), blocks); err != nil {
			t.Fatalf("unchecked PutBatch: %v", err)
		}
		var ids []blob.ID
		for _, b := range blocks {
			checkRaw(t, s, b.ID, b.Data)
			ids = append(ids, b.ID)
		}
		checkList(t, s, ids...)
	}},
	{name: "Overwrite", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		// Putting other bytes under an ID replaces them, as a new shard
		// would, by Put and by PutBatch.
		id := NamedID(0x10, 0x20, 1)
		putRaw(t, s, id, bytesOf(600_000, 1))
		putRaw(t, s, id, []byte("other"))
		checkRaw(t, s, id, []byte("other"))
		if err := s.PutBatch(t.Context(), []blob.Block{{ID: id, Data: []byte("third, longer")}}); err != nil {
			t.Fatalf("PutBatch: %v", err)
		}
		checkRaw(t, s, id, []byte("third, longer"))
		checkList(t, s, id)
	}},
	{name: "GetMissing", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		putRaw(t, s, NamedID(0xab, 0xcd, 2), []byte("beside"))
		id := NamedID(0xab, 0xcd, 1)
		checkMissing(t, s, id)
		_, err := s.Get(t.Context(), id)
		if name := fmt.Sprintf("%x", id[:8]); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Get of a missing block: %v, want an error naming %s", err, name)
		}
	}},
	{name: "GetCancelled", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		id := NamedID(0xab, 0xcd, 1)
		putRaw(t, s, id, bytes.Repeat([]byte("x"), 1<<20))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if rc, err := s.Get(ctx, id); !errors.Is(err, context.Canceled) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Get with a cancelled context: %v, want context.Canceled", err)
		}

		ctx, cancel = context.WithCancel(t.Context())
		defer cancel()
		rc, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer rc.Close()
		if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
			t.Fatalf("read: %v", err)
		}
		cancel()
		for _, how := range []string{"ReadAll", "Copy"} {
			_, err = readVia(how, rc)
			if name := fmt.Sprintf("%x", id[:8]); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s after the context ended: %v, want context.Canceled naming %s", how, err, name)
			}
		}
	}},
	{name: "Checked", needs: needChecked, run: func(t *testing.T, s Unchecked, h UncheckedHooks) {
		// A checked store on the same place sees the mismatch, and
		// still refuses bytes under the wrong ID.
		id := blob.Sum([]byte("the block"))
		shard := bytes.Repeat([]byte("shard "), 100_000)
		putRaw(t, s, id, shard)
		c := h.Checked(t, s)
		rc, err := c.Get(t.Context(), id)
		if err != nil {
			t.Fatalf("checked Get: %v", err)
		}
		_, err = io.ReadAll(rc)
		rc.Close()
		wantErr(t, "checked Get of an unchecked block", err, blob.ErrCorrupt)
		err = c.Put(t.Context(), id, bytes.NewReader(shard))
		wantErr(t, "checked Put under the wrong ID", err, blob.ErrCorrupt)
		if bp, ok := c.(blob.BatchPutter); ok {
			err := bp.PutBatch(t.Context(), []blob.Block{{ID: id, Data: shard}})
			wantErr(t, "checked PutBatch under the wrong ID", err, blob.ErrCorrupt)
		}
	}},
	{name: "Scan", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		// Some file systems and S3 keep modification times to the
		// second or coarser.
		start := time.Now().Add(-2 * time.Second)
		var blocks []blob.Block
		for i := range 300 {
			blocks = append(blocks, block(bytes.Repeat([]byte{byte(i), byte(i >> 8)}, i)))
		}
		// Many blocks under one prefix, more than a listing page would
		// hold if pages were small, put in a scrambled order.
		for i := range 40 {
			blocks = append(blocks, blob.Block{ID: NamedID(0x42, byte(i*37), byte(i)), Data: bytes.Repeat([]byte{1}, i)})
		}
		// Some through Put, the rest through PutBatch.
		for _, b := range blocks[:50] {
			putRaw(t, s, b.ID, b.Data)
		}
		if err := s.PutBatch(t.Context(), blocks[50:]); err != nil {
			t.Fatalf("PutBatch: %v", err)
		}
		end := time.Now().Add(2 * time.Second)

		var all []blob.ID
		for p := range 256 {
			var want []blob.ID
			sizes := make(map[blob.ID]int64)
			for _, b := range blocks {
				if b.ID[0] == byte(p) {
					want = append(want, b.ID)
					sizes[b.ID] = int64(len(b.Data))
				}
			}
			slices.SortFunc(want, cmpID)
			var ids []blob.ID
			for _, in := range scanAll(t, s, byte(p)) {
				ids = append(ids, in.ID)
				if in.Size != sizes[in.ID] {
					t.Errorf("Scan %02x: block %x has size %d, want %d", p, in.ID[:8], in.Size, sizes[in.ID])
				}
				if in.ModTime.Before(start) || in.ModTime.After(end) {
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
	}},
	{name: "ScanEmpty", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		for p := range 256 {
			if got := scanAll(t, s, byte(p)); len(got) != 0 {
				t.Errorf("Scan %02x of an empty store yielded %v", p, got)
			}
		}
		// A prefix between two that hold blocks, and one whose only
		// block was deleted.
		putRaw(t, s, NamedID(0x41, 0, 1), []byte("a"))
		putRaw(t, s, NamedID(0x43, 0, 1), []byte("c"))
		putRaw(t, s, NamedID(0x44, 0, 1), []byte("d"))
		if err := s.Delete(t.Context(), NamedID(0x44, 0, 1)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		for _, p := range []byte{0x42, 0x44} {
			if got := scanAll(t, s, p); len(got) != 0 {
				t.Errorf("Scan %02x yielded %v, want nothing", p, got)
			}
		}
	}},
	{name: "ScanStopsOnError", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		for i := range 10 {
			putRaw(t, s, NamedID(0x42, byte(i%3), byte(i)), []byte{byte(i)})
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
		if err != stop || !errors.Is(err, stop) {
			t.Errorf("Scan whose fn fails on call 3 returned %v, want fn's error unwrapped", err)
		}
		if calls != 3 {
			t.Errorf("Scan called fn %d times, after it failed on call 3", calls)
		}
	}},
	{name: "ScanDeleteFromFn", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		// fn deletes every block it is given, and the first time one
		// further on; that one may or may not be seen, but the scan
		// goes on and yields every other block once, in order.
		var ids []blob.ID
		for i := range 6 {
			id := NamedID(0x42, 0x07, byte(i))
			putRaw(t, s, id, []byte{byte(i)})
			ids = append(ids, id)
		}
		putRaw(t, s, NamedID(0x43, 0, 0), []byte("other prefix"))
		var seen []blob.ID
		err := s.Scan(t.Context(), 0x42, func(in blob.Info) error {
			seen = append(seen, in.ID)
			if in.ID == ids[0] {
				return s.Delete(t.Context(), ids[3])
			}
			return s.Delete(t.Context(), in.ID)
		})
		if err != nil {
			t.Fatalf("Scan deleting blocks: %v", err)
		}
		want := slices.Delete(slices.Clone(ids), 3, 4)
		if !slices.Equal(seen, want) && !slices.Equal(seen, ids) {
			t.Errorf("Scan yielded %v,\nwant %v, with or without %v", seen, want, ids[3])
		}
		checkList(t, s, ids[0], NamedID(0x43, 0, 0))
	}},
	{name: "ScanCancelled", run: func(t *testing.T, s Unchecked, _ UncheckedHooks) {
		for i := range 5 {
			putRaw(t, s, NamedID(0x42, byte(i), 0), []byte("x"))
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Scan(ctx, 0x42, func(blob.Info) error {
			t.Error("Scan with a cancelled context called fn")
			return nil
		})
		wantErr(t, "Scan with a cancelled context", err, context.Canceled)

		// Cancelled by fn, midway through.
		ctx, cancel = context.WithCancel(t.Context())
		defer cancel()
		calls := 0
		err = s.Scan(ctx, 0x42, func(blob.Info) error {
			calls++
			cancel()
			return nil
		})
		wantErr(t, fmt.Sprintf("Scan whose context ends midway, after %d calls", calls), err, context.Canceled)
	}},
}

// putRaw stores data under id, whether or not it hashes to id.
func putRaw(t *testing.T, s blob.Store, id blob.ID, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), id, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put %x: %v", id[:8], err)
	}
}

// checkRaw checks that block id is stored with exactly data, by Stat and
// by Get read both with io.ReadAll and with io.Copy.
func checkRaw(t *testing.T, s blob.Store, id blob.ID, data []byte) {
	t.Helper()
	if size, err := s.Stat(t.Context(), id); err != nil || size != int64(len(data)) {
		t.Errorf("Stat %x: %d, %v; want %d", id[:8], size, err, len(data))
	}
	for _, how := range []string{"ReadAll", "Copy"} {
		rc, err := s.Get(t.Context(), id)
		if err != nil {
			t.Errorf("Get %x: %v", id[:8], err)
			return
		}
		got, err := readVia(how, rc)
		if cerr := rc.Close(); cerr != nil {
			t.Errorf("Close: %v", cerr)
		}
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("Get %x, %s: %d bytes, %v; want the %d put", id[:8], how, len(got), err, len(data))
		}
	}
}

// scanAll returns what Scan yields for prefix.
func scanAll(t *testing.T, s Unchecked, prefix byte) []blob.Info {
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
