package file

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
		// Write the folders out, as on a server that made them long
		// ago, so that the first batch's flushes do not pay for them.
		// (Where syncfs is missing, so is the need.)
		if d, err := os.Open(dir); err == nil {
			syncFS(d)
			d.Close()
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

// BenchmarkGroupCommit compares PutBatch's two ways of making a batch
// durable, on batches of a few blocks, to choose minGroup: "each" fsyncs
// every temp file and folder, "group" flushes the whole filesystem twice.
// The Busy variants run while another writer keeps the same filesystem
// dirty (a 64 MiB file rewritten over and over, never fsynced), where each
// syncfs must also write out that writer's data.
func BenchmarkGroupCommit(b *testing.B) {
	if !openTest(b, b.TempDir()).syncfs {
		b.Skip("no syncfs on this filesystem")
	}
	counts := map[int][]int{
		smallBlock: {1, 2, 4, 16, 64, 500},
		// A batch holds at most 32 MiB (api.MaxBatchBytes).
		blobtest.MaxBlock: {1, 2, 4, 7},
	}
	for _, busy := range []bool{false, true} {
		for _, size := range []int{smallBlock, blobtest.MaxBlock} {
			for _, count := range counts[size] {
				for _, group := range []bool{false, true} {
					name := fmt.Sprintf("Quiet/%dKiB/%d/each", size>>10, count)
					if busy {
						name = strings.Replace(name, "Quiet", "Busy", 1)
					}
					if group {
						name = strings.Replace(name, "each", "group", 1)
					}
					b.Run(name, func(b *testing.B) {
						benchGroupCommit(b, size, count, group, busy)
					})
				}
			}
		}
	}
}

func benchGroupCommit(b *testing.B, size, count int, group, busy bool) {
	s := openTest(b, b.TempDir())
	if busy {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			dirty(b, filepath.Join(b.TempDir(), "other"), stop)
		}()
		b.Cleanup(func() { close(stop); <-done })
	}
	blocks := make([]*blob.Block, count)
	var n uint64
	b.SetBytes(int64(size * count))
	for b.Loop() {
		b.StopTimer()
		for j := range blocks {
			n++
			blk := benchBlock(size, n)
			blocks[j] = &blk
		}
		b.StartTimer()
		var err error
		if group {
			err = s.putGroup(b.Context(), blocks)
		} else {
			err = s.putEach(b.Context(), blocks)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "blocks/s")
}

// dirty rewrites a 64 MiB file at name in 1 MiB writes until stop closes.
func dirty(b *testing.B, name string, stop <-chan struct{}) {
	f, err := os.Create(name)
	if err != nil {
		b.Error(err)
		return
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if _, err := f.WriteAt(buf, int64(i%64)<<20); err != nil {
			b.Error(err)
			return
		}
	}
}
