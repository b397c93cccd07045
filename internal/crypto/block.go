package crypto

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Block layout: version || nonce (12, random) || AES-256-GCM(ciphertext || tag).
const (
	blockVersion  = 0x01
	blockOverhead = 1 + nonceSize + tagSize
	// blockADExtra is u64(index) || u8(last), appended to the AD prefix.
	blockADExtra = 8 + 1
)

// BlockOverhead returns the bytes a sealed block adds to its padded
// plaintext: a version byte, a 12-byte nonce and a 16-byte GCM tag (29).
func BlockOverhead() int { return blockOverhead }

// SealedBlockSize returns the length of the sealed block whose plaintext,
// before padding, is plainLen bytes: BlockOverhead() + PadmeLen(plainLen).
// A full block (BlockSize) is never padded, so every block but the last is
// SealedBlockSize(BlockSize) bytes. It returns 0 for a plainLen outside 1 to
// BlockSize, which no block has.
func SealedBlockSize(plainLen int) int {
	if plainLen < 1 || plainLen > BlockSize {
		return 0
	}
	return blockOverhead + PadmeLen(plainLen)
}

// BlockID returns a sealed block's ID: SHA-256 of all its bytes. The server
// checks it on upload; the signed manifest lists it, so a block the server
// swaps is caught before it is even decrypted.
func BlockID(block []byte) [32]byte { return sha256.Sum256(block) }

// BlockSealer seals and opens the blocks of one revision under its content
// key. Create one per revision with NewBlockSealer; Seal and Open then do
// no allocation beyond what dst lacks, and may be called from several
// goroutines at once.
//
// Each block is version 0x01 || nonce || AES-256-GCM(content key, nonce,
// padded plaintext, AD), with a fresh random 96-bit nonce and
//
//	AD = tagged("coffer/v1/block", LP(volume) || LP(node) || LP(revision) || u64(index) || u8(last))
//
// so that a block opens only at its own index, in its own revision, and
// with the right answer to "is this the last block?". Reordering, dropping,
// truncating, appending and splicing blocks between files therefore all
// fail [6].
type BlockSealer struct {
	aead      cipher.AEAD
	adPrefix  []byte // tagged(label, LP(volume) || LP(node) || LP(revision))
	revision  []byte // for error messages
	blockSize int
	// ads holds scratch AD buffers. The AD differs per block and must not
	// be shared between concurrent calls; a pool keeps Seal and Open free
	// of allocation without making the sealer single-threaded.
	ads sync.Pool
}

// NewBlockSealer returns a BlockSealer for one revision.
func NewBlockSealer(ck ContentKey, volume, node, revision []byte) (*BlockSealer, error) {
	return newBlockSealer(ck, volume, node, revision, BlockSize)
}

// newBlockSealer takes the block size as a parameter only so that test
// vectors can show several blocks in a few bytes; everything exported uses
// BlockSize.
func newBlockSealer(ck ContentKey, volume, node, revision []byte, blockSize int) (*BlockSealer, error) {
	fields, err := revisionFields(volume, node, revision)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: block sealer: %w", err)
	}
	key := [32]byte(ck)
	defer clear(key[:])
	aead, err := newGCM(&key)
	if err != nil {
		return nil, err
	}
	prefix := tagged(labelBlock, fields)
	s := &BlockSealer{
		aead:      aead,
		adPrefix:  prefix,
		revision:  slices.Clone(revision),
		blockSize: blockSize,
	}
	s.ads.New = func() any {
		b := make([]byte, 0, len(prefix)+blockADExtra)
		return &b
	}
	return s, nil
}

// ad returns a pooled buffer holding the block's AD; the caller returns it
// with s.ads.Put.
func (s *BlockSealer) ad(index uint64, last bool) *[]byte {
	p, _ := s.ads.Get().(*[]byte)
	if p == nil {
		b := make([]byte, 0, len(s.adPrefix)+blockADExtra)
		p = &b
	}
	b := append((*p)[:0], s.adPrefix...)
	b = binary.BigEndian.AppendUint64(b, index)
	if last {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	*p = b
	return p
}

var errNoSealer = errors.New("coffer/crypto: no block sealer")

// Seal appends the sealed block of plaintext at index to dst and returns
// the extended slice. A block that is not the last must hold exactly
// BlockSize bytes; the last holds 1 to BlockSize bytes and is padded with
// zeros to PadmeLen(len(plaintext)) (the real length is in the sealed
// attributes). An empty file has no blocks at all.
//
// As with cipher.AEAD, plaintext must not overlap the unused capacity of
// dst unless it starts exactly 13 bytes (version and nonce) after len(dst).
// With enough capacity in dst, Seal does not allocate.
func (s *BlockSealer) Seal(dst, plaintext []byte, index uint64, last bool) ([]byte, error) {
	return s.seal(dst, plaintext, index, last, nil)
}

func (s *BlockSealer) seal(dst, plaintext []byte, index uint64, last bool, nonce *[nonceSize]byte) ([]byte, error) {
	if s == nil || s.aead == nil {
		return nil, errNoSealer
	}
	n := len(plaintext)
	if last && (n < 1 || n > s.blockSize) {
		return nil, fmt.Errorf("coffer/crypto: seal block %d of revision %x: last block has %d bytes, want 1 to %d", index, s.revision, n, s.blockSize)
	}
	if !last && n != s.blockSize {
		return nil, fmt.Errorf("coffer/crypto: seal block %d of revision %x: block has %d bytes, want %d", index, s.revision, n, s.blockSize)
	}
	padded := padmeCapped(n, s.blockSize)
	head := len(dst)
	out := slices.Grow(dst, blockOverhead+padded)
	out = append(out, blockVersion)
	out = out[:head+1+nonceSize]
	nonceBytes := out[head+1:]
	if nonce == nil {
		if _, err := rand.Read(nonceBytes); err != nil {
			return nil, fmt.Errorf("coffer/crypto: seal block %d: generate nonce: %w", index, err)
		}
	} else {
		copy(nonceBytes, nonce[:])
	}
	ad := s.ad(index, last)
	defer s.ads.Put(ad)
	if padded == n {
		// Seal appends after len(out), so reading the nonce from out is safe.
		return s.aead.Seal(out, nonceBytes, plaintext, *ad), nil
	}
	// Only a last block is padded: copy it next to its zeros and encrypt
	// in place. copy tolerates any overlap of plaintext with out.
	body := out[len(out) : len(out)+padded]
	copy(body, plaintext)
	clear(body[n:])
	s.aead.Seal(body[:0], nonceBytes, body, *ad)
	return out[:len(out)+padded+tagSize], nil
}

// Open checks and decrypts the sealed block at index, appends its padded
// plaintext to dst and returns the extended slice; for the last block, the
// caller keeps Attrs.LastBlockLen() bytes of it. A block from another
// index, revision, file or volume, the last block opened as a middle one
// or the reverse, a length that no block of that position can have, or any
// changed byte gives an error wrapping ErrDecrypt.
//
// dst must not overlap block. With enough capacity in dst, Open does not
// allocate.
func (s *BlockSealer) Open(dst, block []byte, index uint64, last bool) ([]byte, error) {
	if s == nil || s.aead == nil {
		return nil, errNoSealer
	}
	if len(block) > 0 && block[0] != blockVersion {
		return nil, fmt.Errorf("coffer/crypto: open block %d of revision %x: %w: %w %#02x", index, s.revision, ErrDecrypt, ErrUnsupportedVersion, block[0])
	}
	// The length is public, and checking it first refuses a block of a
	// length only another position could have, e.g. a full middle block
	// presented as the padded last one.
	n := len(block) - blockOverhead
	switch {
	case n < 1 || n > s.blockSize,
		!last && n != s.blockSize,
		last && padmeCapped(n, s.blockSize) != n:
		return nil, fmt.Errorf("coffer/crypto: open block %d of revision %x: %w", index, s.revision, ErrDecrypt)
	}
	ad := s.ad(index, last)
	defer s.ads.Put(ad)
	out, err := s.aead.Open(dst, block[1:1+nonceSize], block[1+nonceSize:], *ad)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open block %d of revision %x: %w", index, s.revision, ErrDecrypt)
	}
	return out, nil
}
