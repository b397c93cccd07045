package replicated

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/reedsolomon"

	"github.com/coffer-drive/coffer/internal/blob"
)

// A shard object is what a location holds under a block's ID in erasure
// mode: a fixed header, then one shard of the block. The header names the
// block, the shard's place in the stripe and the block's size, and ends
// with a CRC-32C over itself and the shard, so a shard is checked on its
// own, before any reconstruction, and a shard of another block or another
// stripe geometry is never taken for this one.
//
//	0   4  magic "CFS1"
//	4   1  K, data shards
//	5   1  M, parity shards
//	6   1  index of this shard, 0..K+M-1 (data shards first)
//	7   1  zero
//	8   8  block size, big-endian
//	16 32  block ID
//	48  4  CRC-32C (Castagnoli) of bytes 0..47 and the shard, big-endian
//	52     the shard: ceil(size/K) bytes (at least 1), the last data
//	       shard padded with zeros
//
// The checksum is there to find rot, and which shard has it; it is not
// what makes a read right. That is the block's own ID, a SHA-256 that the
// block rebuilt from any shards must match, so a forger who recomputes
// the checksum gains nothing. CRC-32C runs at memory speed where SHA-256
// would cost as much again as the rest of the write.
const (
	shardMagic     = "CFS1"
	shardHeaderLen = 52
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errBadShard = errors.New("not a sound shard")

// geometry is an erasure stripe's shape.
type geometry struct {
	k, m int
}

// shardLen is the length of each shard of a block of size bytes.
func (g geometry) shardLen(size int64) int {
	n := int((size + int64(g.k) - 1) / int64(g.k))
	// reedsolomon refuses empty shards, and an empty block is legal.
	return max(n, 1)
}

// objectLen is the size of each shard object of a block of size bytes.
func (g geometry) objectLen(size int64) int64 {
	return shardHeaderLen + int64(g.shardLen(size))
}

// encode splits block data into K+M shard objects, ready to store.
func (g geometry) encode(enc reedsolomon.Encoder, id blob.ID, data []byte) ([][]byte, error) {
	n := g.shardLen(int64(len(data)))
	objLen := shardHeaderLen + n
	buf := make([]byte, (g.k+g.m)*objLen)
	objs := make([][]byte, g.k+g.m)
	shards := make([][]byte, g.k+g.m)
	for i := range objs {
		objs[i] = buf[i*objLen : (i+1)*objLen : (i+1)*objLen]
		shards[i] = objs[i][shardHeaderLen:]
		if i < g.k {
			lo := min(i*n, len(data))
			copy(shards[i], data[lo:min(lo+n, len(data))])
		}
	}
	if err := enc.Encode(shards); err != nil {
		return nil, fmt.Errorf("erasure-code block %s: %w", id, err)
	}
	for i, obj := range objs {
		g.sealHeader(obj, i, id, int64(len(data)))
	}
	return objs, nil
}

// sealHeader writes the header of shard object obj, whose shard is in place.
func (g geometry) sealHeader(obj []byte, index int, id blob.ID, size int64) {
	copy(obj[0:4], shardMagic)
	obj[4], obj[5], obj[6], obj[7] = byte(g.k), byte(g.m), byte(index), 0
	binary.BigEndian.PutUint64(obj[8:16], uint64(size))
	copy(obj[16:48], id[:])
	binary.BigEndian.PutUint32(obj[48:52], shardSum(obj))
}

// shardSum is the checksum of a shard object, header included.
func shardSum(obj []byte) uint32 {
	return crc32.Update(crc32.Checksum(obj[:48], castagnoli), castagnoli, obj[shardHeaderLen:])
}

// shardInfo is what a sound shard object says about itself.
type shardInfo struct {
	index int
	size  int64
	shard []byte // aliases the object
}

// openShard checks a shard object read back under id and returns what it
// holds. Anything amiss (rot, truncation, a shard of another block, or one
// cut for another geometry) is errBadShard.
func (g geometry) openShard(id blob.ID, obj []byte) (shardInfo, error) {
	info, err := g.parseShard(id, obj)
	if err == nil && binary.BigEndian.Uint32(obj[48:52]) != shardSum(obj) {
		err = fmt.Errorf("block %s: %w: shard %d does not match its checksum", id, errBadShard, info.index)
	}
	return info, err
}

// parseShard is openShard without the checksum: enough for a read whose
// result the block's ID checks anyway.
func (g geometry) parseShard(id blob.ID, obj []byte) (shardInfo, error) {
	if len(obj) < shardHeaderLen || string(obj[0:4]) != shardMagic {
		return shardInfo{}, fmt.Errorf("block %s: %w: no shard header", id, errBadShard)
	}
	if int(obj[4]) != g.k || int(obj[5]) != g.m || obj[7] != 0 {
		return shardInfo{}, fmt.Errorf("block %s: %w: cut for %d+%d, not %d+%d", id, errBadShard, obj[4], obj[5], g.k, g.m)
	}
	index := int(obj[6])
	size := binary.BigEndian.Uint64(obj[8:16])
	if index >= g.k+g.m || size > 1<<40 || !bytes.Equal(obj[16:48], id[:]) {
		return shardInfo{}, fmt.Errorf("block %s: %w: header names another shard", id, errBadShard)
	}
	if int64(len(obj)) != g.objectLen(int64(size)) {
		return shardInfo{}, fmt.Errorf("block %s: %w: %d bytes, want %d", id, errBadShard, len(obj), g.objectLen(int64(size)))
	}
	return shardInfo{index: index, size: int64(size), shard: obj[shardHeaderLen:]}, nil
}

// join rebuilds the block from a full set of data shards (shards[0:K]
// present) and checks it against its ID: sound shards that do not make
// the block mean a shard was forged with a matching checksum.
func (g geometry) join(id blob.ID, size int64, shards [][]byte) ([]byte, error) {
	data := make([]byte, 0, size)
	for i := 0; i < g.k && int64(len(data)) < size; i++ {
		data = append(data, shards[i][:min(int64(len(shards[i])), size-int64(len(data)))]...)
	}
	if int64(len(data)) != size || blob.Sum(data) != id {
		return nil, fmt.Errorf("read block %s: shards pass their checksums but do not make the block: %w", id, blob.ErrCorrupt)
	}
	return data, nil
}
