package replicated

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/reedsolomon"

	"github.com/coffer-drive/coffer/internal/blob"
)

func testStripe(t testing.TB, g geometry, data []byte) (blob.ID, [][]byte) {
	t.Helper()
	enc, err := reedsolomon.New(g.k, g.m)
	if err != nil {
		t.Fatal(err)
	}
	id := blob.Sum(data)
	objs, err := g.encode(enc, id, data)
	if err != nil {
		t.Fatal(err)
	}
	return id, objs
}

// Every shard opens, says where it goes, and any K of them rebuild the block.
func TestShardRoundTrip(t *testing.T) {
	g := geometry{k: 4, m: 2}
	enc, _ := reedsolomon.New(4, 2)
	for _, n := range []int{0, 1, 3, 4, 5, 4096, 4<<20 + 29} {
		data := bytes.Repeat([]byte{byte(n), 7, 9}, n/3+1)[:n]
		id, objs := testStripe(t, g, data)
		for i, obj := range objs {
			info, err := g.openShard(id, obj)
			if err != nil || info.index != i || info.size != int64(n) {
				t.Fatalf("%d bytes: shard %d opens as %+v, %v", n, i, info, err)
			}
			if int64(len(obj)) != g.objectLen(int64(n)) {
				t.Fatalf("%d bytes: shard object of %d bytes, want %d", n, len(obj), g.objectLen(int64(n)))
			}
		}
		// Drop every pair of shards in turn: any 4 rebuild the block.
		for a := range 6 {
			for b := a + 1; b < 6; b++ {
				shards := make([][]byte, 6)
				for i, obj := range objs {
					if i != a && i != b {
						shards[i] = bytes.Clone(obj[shardHeaderLen:])
					}
				}
				if err := enc.ReconstructData(shards); err != nil {
					t.Fatal(err)
				}
				got, err := g.join(id, int64(n), shards)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%d bytes without shards %d and %d: %v", n, a, b, err)
				}
			}
		}
	}
}

// A shard that has been changed in any way is refused on its own, before
// any reconstruction.
func TestShardTamper(t *testing.T) {
	g := geometry{k: 4, m: 2}
	data := bytes.Repeat([]byte("coffer shard "), 1000)
	id, objs := testStripe(t, g, data)
	obj := objs[1]
	refuse := func(what string, id blob.ID, b []byte) {
		t.Helper()
		if _, err := g.openShard(id, b); !errors.Is(err, errBadShard) {
			t.Errorf("%s: openShard = %v, want errBadShard", what, err)
		}
	}
	// Flip every bit of the header and a sample of the shard.
	for i := 0; i < len(obj); i++ {
		if i >= shardHeaderLen && i%97 != 0 {
			continue
		}
		for bit := range 8 {
			b := bytes.Clone(obj)
			b[i] ^= 1 << bit
			refuse("bit flipped", id, b)
		}
	}
	refuse("truncated by one byte", id, obj[:len(obj)-1])
	refuse("header only", id, obj[:shardHeaderLen])
	refuse("short header", id, obj[:shardHeaderLen-1])
	refuse("empty", id, nil)
	refuse("a byte appended", id, append(bytes.Clone(obj), 0))
	other, otherObjs := testStripe(t, g, []byte("another block entirely, of another size"))
	refuse("another block's shard under this ID", id, otherObjs[1])
	refuse("this block's shard under another ID", other, obj)
	// The same block cut for another geometry is not taken for this one.
	_, objs32 := testStripe(t, geometry{k: 3, m: 2}, data)
	refuse("shard of a 3+2 stripe", id, objs32[1])
	// A plain copy of the block (replica mode) is not a shard.
	refuse("whole block", id, data)

	// Swapping two shards' places is caught by their index, which the
	// reader trusts over the place: the header says which shard it is.
	info, err := g.openShard(id, objs[2])
	if err != nil || info.index != 2 {
		t.Fatalf("shard 2 opens as %+v, %v", info, err)
	}
}

// Shards that each pass their checksum but do not make the block (forged
// by someone who can recompute the checksum) are refused as corrupt,
// never returned.
func TestShardForgedStripe(t *testing.T) {
	g := geometry{k: 2, m: 1}
	data := []byte("the real block content, which the ID names")
	id, objs := testStripe(t, g, data)
	forged := bytes.Clone(objs[0])
	forged[shardHeaderLen] ^= 0xff
	g.sealHeader(forged, 0, id, int64(len(data)))
	if _, err := g.openShard(id, forged); err != nil {
		t.Fatalf("resealed shard: %v", err)
	}
	shards := [][]byte{forged[shardHeaderLen:], objs[1][shardHeaderLen:], nil}
	if got, err := g.join(id, int64(len(data)), shards); !errors.Is(err, blob.ErrCorrupt) || got != nil {
		t.Fatalf("join of a forged stripe = %q, %v; want ErrCorrupt and nothing", got, err)
	}
}

func FuzzOpenShard(f *testing.F) {
	g := geometry{k: 4, m: 2}
	id, objs := testStripe(f, g, []byte("seed block"))
	for _, obj := range objs {
		f.Add(obj)
	}
	f.Add([]byte(shardMagic))
	f.Fuzz(func(t *testing.T, obj []byte) {
		info, err := g.openShard(id, obj)
		if err != nil {
			if !errors.Is(err, errBadShard) {
				t.Fatalf("error %v is not errBadShard", err)
			}
			return
		}
		if info.index < 0 || info.index >= 6 || int64(len(info.shard)) != int64(g.shardLen(info.size)) {
			t.Fatalf("accepted shard %+v of %d bytes", info, len(obj))
		}
	})
}
