package crypto

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
)

// Block re-use (docs/crypto.md section 12.6). An edit to a large file
// changes few of its 4 MiB blocks; a new revision may then reference the
// blocks whose plaintext did not change instead of sealing and uploading
// them again. A block is sealed under the content key of the revision
// that made it, with that revision's ID, its index and its last flag in
// the AD, so it can be re-used only by a revision of the same file, at
// the same index, with the same last flag, and the reader must know the
// key and ID of the revision that sealed it: its origin. The re-using
// revision's record names its origins and carries their content keys,
// each sealed under its own content key, so that reading it never needs
// an older revision record (older revisions are deleted).

// SealedOriginKeySize is the length of a sealed origin key
// (SealOriginKey): an envelope of a 32-byte content key.
const SealedOriginKeySize = envelopeOverhead + 32

// originFields checks the IDs and returns LP(volume) || LP(node) ||
// LP(revision) || LP(origin).
func originFields(volume, node, revision, origin []byte) ([]byte, error) {
	if _, err := revisionFields(volume, node, revision); err != nil {
		return nil, err
	}
	if err := checkID("origin revision ID", origin); err != nil {
		return nil, err
	}
	if bytes.Equal(origin, revision) {
		return nil, errors.New("a revision is not its own origin")
	}
	return idFields(volume, node, revision, origin), nil
}

// SealOriginKey seals originKey, the content key of revision origin of
// the file, under ck, the content key of revision revision of the same
// file, which re-uses blocks origin sealed: an envelope with AD =
// tagged("coffer/v1/origin-key", LP(volume) || LP(node) || LP(revision)
// || LP(origin)). The result is SealedOriginKeySize bytes and goes in
// revision's record (Origin.SealedKey).
//
// origin must not be revision, and the two keys must differ and not be
// all zeros (a key never made): a content key seals one revision only.
func SealOriginKey(ck ContentKey, volume, node, revision, origin []byte, originKey ContentKey) ([]byte, error) {
	return sealOriginKey(ck, volume, node, revision, origin, originKey, nil)
}

func sealOriginKey(ck ContentKey, volume, node, revision, origin []byte, originKey ContentKey, nonce *[nonceSize]byte) ([]byte, error) {
	fields, err := originFields(volume, node, revision, origin)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal origin key: %w", err)
	}
	if originKey == (ContentKey{}) || ck == (ContentKey{}) || originKey == ck {
		return nil, fmt.Errorf("coffer/crypto: seal origin key of revision %x in revision %x: a content key is unset, or is the revision's own", origin, revision)
	}
	key := [32]byte(ck)
	defer clear(key[:])
	var sealed []byte
	if nonce == nil {
		sealed, err = sealEnvelope(&key, labelOriginKey, fields, originKey[:])
	} else {
		sealed, err = sealEnvelopeNonce(&key, nonce, labelOriginKey, fields, originKey[:])
	}
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal origin key of revision %x in revision %x: %w", origin, revision, err)
	}
	return sealed, nil
}

// OpenOriginKey opens an origin key sealed by SealOriginKey with the same
// content key and IDs. A key moved to another revision, origin, file or
// volume, changed in any byte, or that would be ck itself or all zeros
// gives an error wrapping ErrDecrypt.
func OpenOriginKey(ck ContentKey, volume, node, revision, origin []byte, sealed []byte) (ContentKey, error) {
	fields, err := originFields(volume, node, revision, origin)
	if err != nil {
		return ContentKey{}, fmt.Errorf("coffer/crypto: open origin key: %w: %w", ErrDecrypt, err)
	}
	key := [32]byte(ck)
	defer clear(key[:])
	pt, err := openEnvelope(&key, labelOriginKey, fields, sealed)
	if err == nil && (len(pt) != len(ContentKey{}) || subtle.ConstantTimeCompare(pt, key[:]) == 1 || isZero(pt)) {
		err = ErrDecrypt
	}
	if err != nil {
		clear(pt)
		return ContentKey{}, fmt.Errorf("coffer/crypto: open origin key of revision %x in revision %x: %w", origin, revision, err)
	}
	ok := ContentKey(pt)
	clear(pt)
	return ok, nil
}

func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// OpenOriginKeys opens the content keys of r's origins (OpenOriginKey)
// with ck, r's own content key, in the order of r.Origins. A record
// without origins gives none. r must be well formed (ErrBadRecord
// otherwise). The caller clears the keys when done.
func (r *RevisionRecord) OpenOriginKeys(ck ContentKey) ([]ContentKey, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if len(r.Origins) == 0 {
		return nil, nil
	}
	keys := make([]ContentKey, len(r.Origins))
	for j, o := range r.Origins {
		k, err := OpenOriginKey(ck, r.Volume, r.Node, r.Revision, o.Revision, o.SealedKey)
		if err != nil {
			clear(keys)
			return nil, err
		}
		keys[j] = k
	}
	return keys, nil
}

// BlockSource returns the ID of the revision that sealed block i of r and
// its origin: 0 and r.Revision for a block r sealed itself, j and
// r.Origins[j-1].Revision for one it re-uses. r must be well formed and i
// in range; otherwise it returns -1 and nil.
func (r *RevisionRecord) BlockSource(i int) (origin int, revision []byte) {
	if r.validate() != nil || i < 0 || i >= len(r.Blocks) {
		return -1, nil
	}
	if len(r.Origins) == 0 || r.BlockOrigins[i] == 0 {
		return 0, r.Revision
	}
	j := int(r.BlockOrigins[i])
	return j, r.Origins[j-1].Revision
}

// RevisionOpener opens the blocks of one revision, each with the content
// key and revision ID of the revision that sealed it (its own, or an
// origin's). Create one per revision with NewRevisionOpener after checking
// the record (Verify or MatchesHead); Open may then be called from several
// goroutines at once.
type RevisionOpener struct {
	// sealers[0] is the revision's own; sealers[j] origin j's.
	sealers []*BlockSealer
	// origins is the record's BlockOrigins, nil if it has none.
	origins  []uint32
	n        int
	revision []byte
}

// NewRevisionOpener returns the opener of r's blocks, with ck r's content
// key (OpenContentKey). It opens r's origin keys: a record that Validate
// refuses gives an error wrapping ErrBadRecord, an origin key that does
// not open one wrapping ErrDecrypt.
func NewRevisionOpener(ck ContentKey, r *RevisionRecord) (*RevisionOpener, error) {
	return newRevisionOpener(ck, r, BlockSize)
}

// newRevisionOpener takes the block size as a parameter only for the
// test vectors (newBlockSealer).
func newRevisionOpener(ck ContentKey, r *RevisionRecord, blockSize int) (*RevisionOpener, error) {
	keys, err := r.OpenOriginKeys(ck)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: revision opener: %w", err)
	}
	defer clear(keys)
	o := &RevisionOpener{sealers: make([]*BlockSealer, 1+len(keys)), n: len(r.Blocks), revision: r.Revision}
	if len(r.Origins) != 0 {
		// A copy: the caller may change r afterwards, and Open indexes
		// the sealers by what Validate checked.
		o.origins = slices.Clone(r.BlockOrigins)
	}
	if o.sealers[0], err = newBlockSealer(ck, r.Volume, r.Node, r.Revision, blockSize); err != nil {
		return nil, err
	}
	for j, k := range keys {
		if o.sealers[j+1], err = newBlockSealer(k, r.Volume, r.Node, r.Origins[j].Revision, blockSize); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Open checks and decrypts block index of the revision, as
// BlockSealer.Open does, under the key and with the revision ID of the
// revision that sealed it: the index and last flag are the block's in this
// revision, which re-uses a block only at the index and with the last flag
// it was sealed with. An index outside the record's blocks, or any
// failure to open, gives an error wrapping ErrDecrypt.
func (o *RevisionOpener) Open(dst, block []byte, index uint64, last bool) ([]byte, error) {
	if o == nil || len(o.sealers) == 0 {
		return nil, errNoSealer
	}
	if index >= uint64(o.n) {
		return nil, fmt.Errorf("coffer/crypto: open block %d of revision %x, which has %d: %w", index, o.revision, o.n, ErrDecrypt)
	}
	s := o.sealers[0]
	if o.origins != nil {
		s = o.sealers[o.origins[index]]
	}
	return s.Open(dst, block, index, last)
}

// ReusedBlock is, for SealOrigins, a block that a new revision takes from
// an earlier revision of the file: the ID and content key of the revision
// that sealed it. A zero ReusedBlock (nil Revision) stands for a block the
// new revision seals itself.
type ReusedBlock struct {
	Revision []byte
	Key      ContentKey
}

// SealOrigins returns the Origins and BlockOrigins of a new revision of a
// file (revision, with content key ck) whose block i is reused[i]: a
// block that reused[i].Revision sealed at index i, or, for a zero
// ReusedBlock, one the new revision seals. Origins come in the order of
// their first use, each sealed with SealOriginKey. A block re-used from a
// revision that itself re-used it must name the revision that sealed it
// (RevisionRecord.BlockSource), never the one it was found in: reading
// needs no older record.
//
// If no block is re-used it returns nil, nil: the record is then encoded
// as version 0x01. The same revision named with two keys, or the new
// revision named as an origin, is an error.
func SealOrigins(ck ContentKey, volume, node, revision []byte, reused []ReusedBlock) ([]Origin, []uint32, error) {
	return sealOrigins(ck, volume, node, revision, reused, nil)
}

func sealOrigins(ck ContentKey, volume, node, revision []byte, reused []ReusedBlock, nonce func(j int) *[nonceSize]byte) ([]Origin, []uint32, error) {
	var (
		origins []Origin
		keys    []ContentKey
		index   map[string]uint32
		per     []uint32
	)
	defer clear(keys)
	for i, b := range reused {
		if b.Revision == nil {
			continue
		}
		if per == nil {
			per = make([]uint32, len(reused))
			index = map[string]uint32{}
		}
		j, ok := index[string(b.Revision)]
		if !ok {
			var n *[nonceSize]byte
			if nonce != nil {
				n = nonce(len(origins))
			}
			sealed, err := sealOriginKey(ck, volume, node, revision, b.Revision, b.Key, n)
			if err != nil {
				return nil, nil, err
			}
			origins = append(origins, Origin{Revision: bytes.Clone(b.Revision), SealedKey: sealed})
			keys = append(keys, b.Key)
			j = uint32(len(origins))
			index[string(b.Revision)] = j
		} else if keys[j-1] != b.Key {
			return nil, nil, fmt.Errorf("coffer/crypto: seal origins of revision %x: block %d names revision %x with another content key", revision, i, b.Revision)
		}
		per[i] = j
	}
	return origins, per, nil
}
