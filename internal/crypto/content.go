package crypto

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Sizes of content objects.
const (
	// BlockSize is the plaintext length of every block of a revision but
	// the last, which holds 1 to BlockSize bytes before padding.
	BlockSize = 4 << 20
	// SealedContentKeySize is the length of a wrapped content key.
	SealedContentKeySize = envelopeOverhead + 32
	// AttrsSize is the length of the attributes' plaintext.
	AttrsSize = 1 + 8 + 8 + 32
	// SealedAttrsSize is the length of sealed attributes.
	SealedAttrsSize = envelopeOverhead + AttrsSize
	// MaxBlocks is the most blocks a revision may have: the manifest counts
	// them in 32 bits, which also keeps the random block nonces of one
	// content key within the 2^32 messages that NIST allows for GCM with
	// random nonces. That is 16 PiB per revision.
	MaxBlocks = math.MaxUint32
)

const attrsVersion = 0x01

// ErrBadManifest reports a revision whose block list does not match its
// sealed size.
var ErrBadManifest = errors.New("coffer/crypto: manifest does not match attributes")

// ContentKey is the random 256-bit key of one revision of a file. Every
// revision has a fresh one, so a re-uploaded or edited file never shares
// a key with an older revision.
type ContentKey [32]byte

// NewContentKey returns a fresh random content key.
func NewContentKey() (ContentKey, error) {
	var k ContentKey
	if _, err := rand.Read(k[:]); err != nil {
		return ContentKey{}, fmt.Errorf("coffer/crypto: generate content key: %w", err)
	}
	return k, nil
}

// revisionFields checks three IDs and returns LP(volume) || LP(node) ||
// LP(revision).
func revisionFields(volume, node, revision []byte) ([]byte, error) {
	if err := checkID("volume ID", volume); err != nil {
		return nil, err
	}
	if err := checkID("node ID", node); err != nil {
		return nil, err
	}
	if err := checkID("revision ID", revision); err != nil {
		return nil, err
	}
	return idFields(volume, node, revision), nil
}

// SealContentKey wraps a revision's content key under the file's own
// content-key-wrap sub-key (node is the file's NodeKeys, nodeID its ID), in
// an envelope with AD = tagged("coffer/v1/content-key", LP(volume) ||
// LP(node) || LP(revision)). The result is SealedContentKeySize bytes.
func SealContentKey(node *NodeKeys, volume, nodeID, revision []byte, ck ContentKey) ([]byte, error) {
	return sealContentKey(node, volume, nodeID, revision, ck, nil)
}

func sealContentKey(node *NodeKeys, volume, nodeID, revision []byte, ck ContentKey, nonce *[nonceSize]byte) ([]byte, error) {
	fields, err := revisionFields(volume, nodeID, revision)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal content key: %w", err)
	}
	if !node.usable() {
		return nil, fmt.Errorf("coffer/crypto: seal content key of revision %x: %w", revision, errNoNodeKeys)
	}
	sealed, err := sealWith(node.content, nonce, labelContentKey, fields, ck[:])
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal content key of revision %x: %w", revision, err)
	}
	return sealed, nil
}

// OpenContentKey opens a content key wrapped by SealContentKey with the
// same file keys and IDs. A key moved to another revision, file or volume,
// or changed in any byte, gives an error wrapping ErrDecrypt.
func OpenContentKey(node *NodeKeys, volume, nodeID, revision []byte, sealed []byte) (ContentKey, error) {
	fields, err := revisionFields(volume, nodeID, revision)
	if err != nil {
		return ContentKey{}, fmt.Errorf("coffer/crypto: open content key: %w", err)
	}
	if !node.usable() {
		return ContentKey{}, fmt.Errorf("coffer/crypto: open content key of revision %x: %w", revision, errNoNodeKeys)
	}
	pt, err := openWith(node.content, labelContentKey, fields, sealed)
	if err == nil && len(pt) != len(ContentKey{}) {
		err = ErrDecrypt
	}
	if err != nil {
		clear(pt)
		return ContentKey{}, fmt.Errorf("coffer/crypto: open content key of revision %x: %w", revision, err)
	}
	ck := ContentKey(pt)
	clear(pt)
	return ck, nil
}

// Attrs are a revision's plaintext metadata, sealed so that the server
// sees neither the exact size nor the time, and cannot change them [8].
type Attrs struct {
	Size    uint64   // plaintext length in bytes
	ModTime int64    // modification time, unix nanoseconds
	SHA256  [32]byte // SHA-256 of the whole plaintext
}

// BlockCount returns the number of blocks a revision of a.Size bytes has:
// ceil(Size / BlockSize). An empty file has zero blocks: nothing is
// uploaded for it, and its manifest lists no block. A size that would need
// more than MaxBlocks blocks gives -1, which no manifest matches.
func (a Attrs) BlockCount() int {
	n := a.Size / BlockSize
	if a.Size%BlockSize != 0 {
		n++
	}
	if n > MaxBlocks {
		return -1
	}
	return int(n)
}

// LastBlockLen returns the plaintext length of the last block before
// padding (1 to BlockSize), or 0 for an empty file. A reader keeps that
// many bytes of the last opened block and drops the padding.
func (a Attrs) LastBlockLen() int {
	if a.Size == 0 {
		return 0
	}
	if r := a.Size % BlockSize; r != 0 {
		return int(r)
	}
	return BlockSize
}

// marshal returns 0x01 || u64(size) || i64(mod_time) || sha256.
func (a Attrs) marshal() []byte {
	b := make([]byte, 0, AttrsSize)
	b = append(b, attrsVersion)
	b = binary.BigEndian.AppendUint64(b, a.Size)
	b = binary.BigEndian.AppendUint64(b, uint64(a.ModTime))
	return append(b, a.SHA256[:]...)
}

// SealAttrs seals a revision's attributes under its content key, in an
// envelope whose plaintext is 0x01 || u64(size) || i64(mod_time) ||
// sha256 (AttrsSize bytes) with AD = tagged("coffer/v1/attrs", LP(volume)
// || LP(node) || LP(revision)). The result is SealedAttrsSize bytes.
func SealAttrs(ck ContentKey, volume, node, revision []byte, a Attrs) ([]byte, error) {
	return sealAttrs(ck, volume, node, revision, a, nil)
}

func sealAttrs(ck ContentKey, volume, node, revision []byte, a Attrs, nonce *[nonceSize]byte) ([]byte, error) {
	fields, err := revisionFields(volume, node, revision)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal attributes: %w", err)
	}
	key := [32]byte(ck)
	defer clear(key[:])
	var sealed []byte
	if nonce == nil {
		sealed, err = sealEnvelope(&key, labelAttrs, fields, a.marshal())
	} else {
		sealed, err = sealEnvelopeNonce(&key, nonce, labelAttrs, fields, a.marshal())
	}
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal attributes of revision %x: %w", revision, err)
	}
	return sealed, nil
}

// OpenAttrs opens attributes sealed by SealAttrs with the same content key
// and IDs. Attributes from another revision, file or volume, or changed in
// any byte, give an error wrapping ErrDecrypt; so does a plaintext of the
// wrong length or version, which the error does not otherwise describe.
func OpenAttrs(ck ContentKey, volume, node, revision []byte, sealed []byte) (Attrs, error) {
	fields, err := revisionFields(volume, node, revision)
	if err != nil {
		return Attrs{}, fmt.Errorf("coffer/crypto: open attributes: %w", err)
	}
	key := [32]byte(ck)
	defer clear(key[:])
	pt, err := openEnvelope(&key, labelAttrs, fields, sealed)
	if err == nil && len(pt) != AttrsSize {
		err = ErrDecrypt
	}
	if err == nil && pt[0] != attrsVersion {
		err = fmt.Errorf("%w: %w %#02x", ErrDecrypt, ErrUnsupportedVersion, pt[0])
	}
	if err != nil {
		return Attrs{}, fmt.Errorf("coffer/crypto: open attributes of revision %x: %w", revision, err)
	}
	return Attrs{
		Size:    binary.BigEndian.Uint64(pt[1:9]),
		ModTime: int64(binary.BigEndian.Uint64(pt[9:17])),
		SHA256:  [32]byte(pt[17:49]),
	}, nil
}

// PadmeLen returns the length the last block's n plaintext bytes are padded
// to with zeros: Padmé (Nikitin et al., PETS 2019), capped at BlockSize.
// Padmé rounds n up so that only the top floor(log2(E)) + 1 bits of its
// length are free, where E = floor(log2(n)); the overhead is at most 12%
// and a length leaks only O(log log n) bits. n <= 0 gives 0; n above
// BlockSize gives BlockSize.
func PadmeLen(n int) int {
	return padmeCapped(n, BlockSize)
}

// padmeCapped is PadmeLen for a block size of limit.
func padmeCapped(n, limit int) int {
	if n <= 0 {
		return 0
	}
	if n >= limit {
		return limit
	}
	return min(padme(n), limit)
}

// padme is Padmé without the cap: with E = floor(log2 n), S = floor(log2
// E) + 1, it clears the low E - S bits of n, rounding up.
func padme(n int) int {
	if n < 2 {
		return n
	}
	e := bits.Len(uint(n)) - 1
	s := bits.Len(uint(e))
	mask := 1<<(e-s) - 1
	return (n + mask) &^ mask
}
