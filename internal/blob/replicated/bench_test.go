package replicated

import (
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/klauspost/reedsolomon"

	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/blob/file"
)

// The benchmarks here measure what several locations cost per 4 MiB block
// (the largest, crypto.BlockSize), over real folders, for the layouts
// cmd/coffer-bench compares end to end. They only measure: no test asserts
// a time. The folders are under b.TempDir(), so on the disk of TMPDIR.

const benchBlockSize = 4 << 20

// benchLayouts are the layouts compared: one location, three replicas
// (write quorum 2) and 4+2 erasure coding (write quorum 5).
var benchLayouts = []struct {
	name   string
	n      int
	policy Policy
}{
	{"1", 1, Policy{}},
	{"3x", 3, Policy{}},
	{"4+2", 6, Policy{DataShards: 4, ParityShards: 2}},
}

// benchStore opens a Store over n fresh folders, without a catalog or
// metrics, as the server opens its --store folders (unchecked).
func benchStore(b *testing.B, n int, p Policy) *Store {
	b.Helper()
	dir := b.TempDir()
	var locs []NamedLocation
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("loc%d", i))
		fs, err := file.OpenUnchecked(d)
		if err != nil {
			b.Fatal(err)
		}
		locs = append(locs, NamedLocation{Name: "file://" + d, Location: fs})
	}
	s, err := New(Config{Locations: locs, Policy: p})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchBlocks returns n distinct 4 MiB blocks of random bytes, made (and
// hashed) before the clock starts.
func benchBlocks(n int) []blob.Block {
	rng := rand.NewChaCha8([32]byte{'c', 'o', 'f', 'f', 'e', 'r'})
	blocks := make([]blob.Block, n)
	for i := range blocks {
		data := make([]byte, benchBlockSize)
		_, _ = rng.Read(data)
		blocks[i] = blob.Block{ID: blob.Sum(data), Data: data}
	}
	return blocks
}

// BenchmarkPutBatch stores one 4 MiB block per call, one call at a time,
// as a single-block upload (PUT /v1/blocks/ID) does. Each call hashes the
// block (CheckBatch), erasure-codes it in 4+2, and returns once the write
// quorum holds it, each copy or shard fsynced; the clock also covers the
// writes still going on after the last call.
func BenchmarkPutBatch(b *testing.B) { benchPut(b, 1) }

// BenchmarkPutBatchParallel is BenchmarkPutBatch with four calls in
// flight, as the server sees a big file's upload (the client sends four
// blocks at a time).
func BenchmarkPutBatchParallel(b *testing.B) { benchPut(b, 4) }

// benchPut runs b.N single-block PutBatch calls, inFlight at a time, over
// 16 blocks made before the clock starts (a block put again is written
// again: the folders do not skip blocks they hold).
func benchPut(b *testing.B, inFlight int) {
	for _, l := range benchLayouts {
		b.Run(l.name, func(b *testing.B) {
			s := benchStore(b, l.n, l.policy)
			blocks := benchBlocks(16)
			b.SetBytes(benchBlockSize)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range inFlight {
				wg.Go(func() {
					for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
						if err := s.PutBatch(b.Context(), blocks[i%int64(len(blocks)):][:1]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			s.bg.Wait()
		})
	}
}

// BenchmarkGet reads 4 MiB blocks back, checked: a replica against the
// block's ID; in 4+2 the four data shards (each against its header's
// checksum), joined and the block checked against its ID. The 16 blocks
// read (64 MiB per location) stay in the page cache, so this is the CPU
// and copying cost of a read, not the disk's.
func BenchmarkGet(b *testing.B) {
	for _, l := range benchLayouts {
		b.Run(l.name, func(b *testing.B) {
			s := benchStore(b, l.n, l.policy)
			blocks := benchBlocks(16)
			for _, blk := range blocks {
				if err := s.PutBatch(b.Context(), []blob.Block{blk}); err != nil {
					b.Fatal(err)
				}
			}
			s.bg.Wait()
			b.SetBytes(benchBlockSize)
			i := 0
			for b.Loop() {
				rc, err := s.Get(b.Context(), blocks[i%len(blocks)].ID)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
				i++
			}
		})
	}
}

// BenchmarkErasureEncode cuts a 4 MiB block into 4+2 shard objects in
// memory: "objects" is what a 4+2 PutBatch does before writing (copy into
// the stripe, Reed-Solomon parity, a SHA-256 header per shard, 6 MiB
// hashed), "parity" the Reed-Solomon step alone on shards already cut.
func BenchmarkErasureEncode(b *testing.B) {
	g := geometry{k: 4, m: 2}
	enc, err := reedsolomon.New(g.k, g.m)
	if err != nil {
		b.Fatal(err)
	}
	blk := benchBlocks(1)[0]
	b.Run("objects", func(b *testing.B) {
		b.SetBytes(benchBlockSize)
		for b.Loop() {
			if _, err := g.encode(enc, blk.ID, blk.Data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parity", func(b *testing.B) {
		shards, err := enc.Split(blk.Data)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(benchBlockSize)
		for b.Loop() {
			if err := enc.Encode(shards); err != nil {
				b.Fatal(err)
			}
		}
	})
}
