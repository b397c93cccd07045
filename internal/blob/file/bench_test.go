package file

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"sync/atomic"
	"testing"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/blobtest"
)

// benchBlock returns block number i of size n: distinct for every i, so
// that every Put creates a new file as uploads do.
func benchBlock(n int, i uint64) blob.Block {
	data := make([]byte, n)
	for j := range data {
		data[j] = byte(j * 13)
	}
	binary.LittleEndian.PutUint64(data, i)
	return blob.Block{ID: blob.Sum(data), Data: data}
}

// BenchmarkPut4MiB puts the largest blocks one at a time, each fsynced.
func BenchmarkPut4MiB(b *testing.B) {
	s := openTest(b, b.TempDir())
	blk := benchBlock(blobtest.MaxBlock, 0)
	b.SetBytes(int64(len(blk.Data)))
	var i uint64
	for b.Loop() {
		b.StopTimer()
		i++
		binary.LittleEndian.PutUint64(blk.Data, i)
		blk.ID = blob.Sum(blk.Data)
		b.StartTimer()
		// Hide bytes.Reader's WriteTo, as a request body would.
		if err := s.Put(b.Context(), blk.ID, readerOnly{bytes.NewReader(blk.Data)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut4MiBParallel puts the largest blocks four at a time, as the
// server does with several uploads in flight. The blocks (and their
// hashes) are made before the clock starts.
func BenchmarkPut4MiBParallel(b *testing.B) {
	s := openTest(b, b.TempDir())
	var blocks []blob.Block
	for i := range 64 {
		blocks = append(blocks, benchBlock(blobtest.MaxBlock, uint64(i)))
	}
	b.SetBytes(blobtest.MaxBlock)
	b.SetParallelism(2) // 4 goroutines on 2 cores
	var next atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			blk := blocks[next.Add(1)%uint64(len(blocks))]
			if err := s.Put(b.Context(), blk.ID, readerOnly{bytes.NewReader(blk.Data)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGet4MiB reads the largest blocks back, checking their hashes.
func BenchmarkGet4MiB(b *testing.B) {
	s := openTest(b, b.TempDir())
	var ids []blob.ID
	for i := range 16 {
		blk := benchBlock(blobtest.MaxBlock, uint64(i))
		if err := s.Put(b.Context(), blk.ID, bytes.NewReader(blk.Data)); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, blk.ID)
	}
	b.SetBytes(blobtest.MaxBlock)
	i := 0
	for b.Loop() {
		rc, err := s.Get(b.Context(), ids[i%len(ids)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
		i++
	}
}

const smallBlock = 4 << 10

// storeKinds runs a benchmark on a fresh store, where most Puts create a
// fan-out folder, and on a warm one, where all 65,536 exist as they soon
// do on a server in use.
func storeKinds(b *testing.B, bench func(b *testing.B, s *Store)) {
	b.Run("Fresh", func(b *testing.B) {
		bench(b, openTest(b, b.TempDir()))
	})
	b.Run("Warm", func(b *testing.B) {
		dir := b.TempDir()
		for l := range fanout {
			var id blob.ID
			id[0], id[1] = byte(l>>8), byte(l)
			if err := os.MkdirAll((&Store{dir: dir}).leafDir(id), 0o700); err != nil {
				b.Fatal(err)
			}
		}
		bench(b, openTest(b, dir))
	})
}

// BenchmarkPutSmall puts small blocks one Put each, the baseline for
// BenchmarkPutBatch.
func BenchmarkPutSmall(b *testing.B) {
	storeKinds(b, func(b *testing.B, s *Store) {
		blk := benchBlock(smallBlock, 0)
		var n uint64
		for b.Loop() {
			b.StopTimer()
			n++
			binary.LittleEndian.PutUint64(blk.Data, n)
			blk.ID = blob.Sum(blk.Data)
			b.StartTimer()
			if err := s.Put(b.Context(), blk.ID, bytes.NewReader(blk.Data)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "blocks/s")
	})
}

// BenchmarkPutBatch puts small blocks 500 to a PutBatch.
func BenchmarkPutBatch(b *testing.B) {
	storeKinds(b, func(b *testing.B, s *Store) {
		const batch = 500
		blocks := make([]blob.Block, batch)
		var n uint64
		for b.Loop() {
			b.StopTimer()
			for j := range blocks {
				n++
				blocks[j] = benchBlock(smallBlock, n)
			}
			b.StartTimer()
			if err := s.PutBatch(b.Context(), blocks); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "blocks/s")
	})
}

// readerOnly hides every method of a reader but Read.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
