package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// revisionRecordVersion encodes a record whose blocks were all sealed
	// by its own revision.
	revisionRecordVersion = 0x01
	// revisionRecordVersionReuse encodes a record that re-uses blocks of
	// earlier revisions (docs/crypto.md section 12.6). It always has at
	// least one origin, so that each record has exactly one encoding.
	revisionRecordVersionReuse = 0x02
)

// RevisionRecord is the signed manifest of one revision of a file: its
// wrapped content key, the IDs of its blocks in order and its sealed
// attributes. As with NodeRecord, the wire format is JSON and Marshal
// exists only to be signed.
//
// A revision may re-use blocks that earlier revisions of the same file
// sealed, at the same index (docs/crypto.md section 12.6): Origins names
// those revisions with their content keys, sealed under this revision's,
// and BlockOrigins says, per block, which revision sealed it.
type RevisionRecord struct {
	Volume, Node, Revision []byte
	// Seq is 1 for a file's first revision and rises by 1 with each.
	Seq uint64
	// SealedContentKey is SealContentKey's output.
	SealedContentKey []byte
	// Origins are the earlier revisions whose blocks this one re-uses,
	// in the order their blocks first appear; empty if it re-uses none.
	Origins []Origin
	// Blocks are the BlockIDs of the sealed blocks, in order.
	Blocks [][32]byte
	// BlockOrigins has one entry per block when Origins is not empty,
	// and is empty otherwise: 0 for a block this revision sealed, j for a
	// block that Origins[j-1] sealed at the same index.
	BlockOrigins []uint32
	// SealedAttrs is SealAttrs's output.
	SealedAttrs []byte
	// Author is the account name of the signer.
	Author string
}

// Origin is an earlier revision of the same file whose blocks a revision
// re-uses: its ID, and its content key sealed under the re-using
// revision's content key (SealOriginKey).
type Origin struct {
	Revision  []byte
	SealedKey []byte
}

// Validate reports why r cannot be signed or trusted, as an error wrapping
// ErrBadRecord, or nil: the three IDs are IDSize bytes, Seq is at least 1,
// the sealed content key and attributes have their exact sizes, there are
// at most MaxBlocks blocks, and Author is 1 to MaxAuthorLen bytes. Whether
// the block count matches the size is CheckManifest's job, since the size
// is sealed.
//
// A record with origins must also have: origin IDs of IDSize bytes, none
// equal to the revision and none twice; sealed origin keys of
// SealedOriginKeySize bytes; one BlockOrigins entry per block, each 0 or
// an origin's index; and every origin used by a block, the origins in the
// order of their first use (so the encoding of a given assignment of
// blocks to revisions is unique).
func (r *RevisionRecord) Validate() error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	return nil
}

func (r *RevisionRecord) validate() error {
	if r == nil {
		return errors.New("nil revision record")
	}
	if _, err := revisionFields(r.Volume, r.Node, r.Revision); err != nil {
		return err
	}
	if r.Seq == 0 {
		return errors.New("revision sequence number 0 (sequence numbers start at 1)")
	}
	if len(r.SealedContentKey) != SealedContentKeySize {
		return fmt.Errorf("sealed content key is %d bytes, want %d", len(r.SealedContentKey), SealedContentKeySize)
	}
	if uint64(len(r.Blocks)) > MaxBlocks {
		return fmt.Errorf("%d blocks, limit %d", len(r.Blocks), uint64(MaxBlocks))
	}
	if err := r.validateOrigins(); err != nil {
		return err
	}
	if len(r.SealedAttrs) != SealedAttrsSize {
		return fmt.Errorf("sealed attributes are %d bytes, want %d", len(r.SealedAttrs), SealedAttrsSize)
	}
	return checkAuthor(r.Author)
}

// validateOrigins checks Origins and BlockOrigins (docs/crypto.md 12.6).
func (r *RevisionRecord) validateOrigins() error {
	k := len(r.Origins)
	if k == 0 {
		if len(r.BlockOrigins) != 0 {
			return fmt.Errorf("%d block origins without origins", len(r.BlockOrigins))
		}
		return nil
	}
	if len(r.BlockOrigins) != len(r.Blocks) {
		return fmt.Errorf("%d block origins for %d blocks", len(r.BlockOrigins), len(r.Blocks))
	}
	// Each origin is used by a block, so there are no more than blocks.
	if k > len(r.Blocks) {
		return fmt.Errorf("%d origins for %d blocks", k, len(r.Blocks))
	}
	seen := make(map[[IDSize]byte]int, k)
	for j, o := range r.Origins {
		if err := checkID("origin revision ID", o.Revision); err != nil {
			return fmt.Errorf("origin %d: %w", j+1, err)
		}
		if bytes.Equal(o.Revision, r.Revision) {
			return fmt.Errorf("origin %d is the revision itself", j+1)
		}
		id := [IDSize]byte(o.Revision)
		if i, dup := seen[id]; dup {
			return fmt.Errorf("origins %d and %d are the same revision", i, j+1)
		}
		seen[id] = j + 1
		if len(o.SealedKey) != SealedOriginKeySize {
			return fmt.Errorf("origin %d: sealed key is %d bytes, want %d", j+1, len(o.SealedKey), SealedOriginKeySize)
		}
	}
	// next is the origin whose first use is due; an origin used before
	// it breaks the order, and one never used leaves next at or below k.
	next := uint32(1)
	for i, o := range r.BlockOrigins {
		switch {
		case uint64(o) > uint64(k):
			return fmt.Errorf("block %d names origin %d of %d", i, o, k)
		case o == next:
			next++
		case o > next:
			return fmt.Errorf("block %d names origin %d before any block names origin %d", i, o, next)
		}
	}
	if uint64(next) <= uint64(k) {
		return fmt.Errorf("origin %d is used by no block", next)
	}
	return nil
}

// Marshal returns the canonical encoding that Sign signs. A record
// without origins is encoded as
//
//	0x01 || LP(volume) || LP(node) || LP(revision) || u64(seq) ||
//	LP(sealed_content_key) || u32(n) || n × block ID (32 each) ||
//	LP(sealed_attrs) || LP(author)
//
// and a record with k origins (k ≥ 1) as
//
//	0x02 || LP(volume) || LP(node) || LP(revision) || u64(seq) ||
//	LP(sealed_content_key) ||
//	u32(k) || k × (LP(origin_revision) || LP(sealed_origin_key)) ||
//	u32(n) || n × (block ID (32) || u32(origin)) ||
//	LP(sealed_attrs) || LP(author)
//
// It returns nil for a record that Validate refuses.
func (r *RevisionRecord) Marshal() []byte {
	if r.validate() != nil {
		return nil
	}
	return r.encode()
}

// encode is Marshal without validation, for Marshal and for tests and
// vectors that show validly signed but malformed records being refused.
func (r *RevisionRecord) encode() []byte {
	return r.appendEncoding(make([]byte, 0, r.encodedLen()))
}

func (r *RevisionRecord) encodedLen() int {
	n := 1 + 4*3 + len(r.Volume) + len(r.Node) + len(r.Revision) + 8 + 4 + len(r.SealedContentKey) +
		4 + 32*len(r.Blocks) + 4 + len(r.SealedAttrs) + 4 + len(r.Author)
	if len(r.Origins) != 0 {
		n += 4 + 4*len(r.Blocks)
		for _, o := range r.Origins {
			n += 8 + len(o.Revision) + len(o.SealedKey)
		}
	}
	return n
}

func (r *RevisionRecord) appendEncoding(b []byte) []byte {
	reuse := len(r.Origins) != 0
	if reuse {
		b = append(b, revisionRecordVersionReuse)
	} else {
		b = append(b, revisionRecordVersion)
	}
	b = appendLP(b, r.Volume)
	b = appendLP(b, r.Node)
	b = appendLP(b, r.Revision)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = appendLP(b, r.SealedContentKey)
	if reuse {
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Origins)))
		for _, o := range r.Origins {
			b = appendLP(b, o.Revision)
			b = appendLP(b, o.SealedKey)
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Blocks)))
	for i := range r.Blocks {
		b = append(b, r.Blocks[i][:]...)
		if reuse {
			var o uint32
			if i < len(r.BlockOrigins) {
				o = r.BlockOrigins[i]
			}
			b = binary.BigEndian.AppendUint32(b, o)
		}
	}
	b = appendLP(b, r.SealedAttrs)
	return appendLP(b, []byte(r.Author))
}

// UnmarshalRevisionRecord parses the canonical encoding of a revision
// record (Marshal), of either version, and returns the record, which
// Validate accepts. Anything else, including trailing bytes, a version 0x02
// encoding without origins and a record that breaks the rules, gives an
// error wrapping ErrBadRecord (an unknown version byte also wraps
// ErrUnsupportedVersion). Marshal of the result gives b back.
//
// Records travel as JSON; this is for implementations and tests that
// hold the encoding itself (the vectors, the fuzz targets).
func UnmarshalRevisionRecord(b []byte) (*RevisionRecord, error) {
	r, err := parseRevisionRecord(b)
	if err == nil {
		err = r.validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	return r, nil
}

var errTruncated = errors.New("truncated or malformed encoding")

func parseRevisionRecord(b []byte) (*RevisionRecord, error) {
	in := &reader{b: b}
	version, ok := in.uint8()
	if !ok {
		return nil, errTruncated
	}
	if version != revisionRecordVersion && version != revisionRecordVersionReuse {
		return nil, fmt.Errorf("%w %#02x", ErrUnsupportedVersion, version)
	}
	reuse := version == revisionRecordVersionReuse
	r := &RevisionRecord{}
	var author []byte
	if r.Volume, ok = in.lp(); !ok {
		return nil, errTruncated
	}
	if r.Node, ok = in.lp(); !ok {
		return nil, errTruncated
	}
	if r.Revision, ok = in.lp(); !ok {
		return nil, errTruncated
	}
	if r.Seq, ok = in.uint64(); !ok {
		return nil, errTruncated
	}
	if r.SealedContentKey, ok = in.lp(); !ok {
		return nil, errTruncated
	}
	if reuse {
		k, ok := in.uint32()
		// Each origin takes at least 8 bytes: refuse a count the rest
		// cannot hold before allocating for it.
		if !ok || uint64(k) > uint64(len(in.b))/8 {
			return nil, errTruncated
		}
		if k == 0 {
			return nil, errors.New("version 0x02 record without origins")
		}
		r.Origins = make([]Origin, k)
		for j := range r.Origins {
			o := &r.Origins[j]
			if o.Revision, ok = in.lp(); !ok {
				return nil, errTruncated
			}
			if o.SealedKey, ok = in.lp(); !ok {
				return nil, errTruncated
			}
		}
	}
	n, ok := in.uint32()
	per := uint64(32)
	if reuse {
		per += 4
	}
	if !ok || uint64(n) > uint64(len(in.b))/per {
		return nil, errTruncated
	}
	r.Blocks = make([][32]byte, n)
	if reuse {
		r.BlockOrigins = make([]uint32, n)
	}
	for i := range r.Blocks {
		id, _ := in.bytes(32)
		r.Blocks[i] = [32]byte(id)
		if reuse {
			r.BlockOrigins[i], _ = in.uint32()
		}
	}
	if r.SealedAttrs, ok = in.lp(); !ok {
		return nil, errTruncated
	}
	if author, ok = in.lp(); !ok || !in.empty() {
		return nil, errTruncated
	}
	r.Author = string(author)
	if n == 0 {
		r.Blocks = nil
	}
	return r, nil
}

// Digest returns SHA-256(tagged("coffer/v1/revision-digest", Marshal())),
// the value that the file's node record carries as RevisionDigest while r
// is its head. The encoding is canonical and covers every field (IDs, seq,
// content key, blocks, attributes, author), so two records with the same
// digest are the same record.
//
// It returns all zeros for a record that Validate refuses. A node record
// with a head revision never carries all zeros (NodeRecord.Validate), so a
// malformed revision can never match a head.
func (r *RevisionRecord) Digest() [32]byte {
	if r.validate() != nil {
		return [32]byte{}
	}
	return r.digest()
}

// digest is Digest without validation.
func (r *RevisionRecord) digest() [32]byte {
	b := make([]byte, 0, len(labelRevisionDigest)+1+r.encodedLen())
	b = append(b, labelRevisionDigest...)
	b = append(b, 0)
	return sha256.Sum256(r.appendEncoding(b))
}

// Sign returns Ed25519-Sign(identity key, tagged("coffer/v1/revision",
// Marshal())), after checking the record with Validate.
func (r *RevisionRecord) Sign(keys *AccountKeys) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: sign revision record: %w", err)
	}
	if !keys.usable() {
		return nil, fmt.Errorf("coffer/crypto: sign revision %x: no account keys", r.Revision)
	}
	return ed25519.Sign(keys.identity, tagged(labelRevision, r.encode())), nil
}

// Verify checks that sig is author's signature over the record, exactly as
// NodeRecord.Verify does (every failure wraps ErrBadSignature). The caller
// then opens the content key and attributes and calls CheckManifest; for a
// head revision it also calls MatchesHead.
//
// A head revision served with a verified node record need not be verified
// here: MatchesHead's digest check ties it to that record's signature
// (docs/crypto.md section 12.4). Verify is for revisions that are not the
// head, such as those of `coffer versions`, and for a head whose author is
// not the node record's author.
func (r *RevisionRecord) Verify(author ed25519.PublicKey, sig []byte) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if err := verifyEd25519(author, tagged(labelRevision, r.encode()), sig); err != nil {
		return fmt.Errorf("%w: revision %x by %q: %w", ErrBadSignature, r.Revision, r.Author, err)
	}
	return nil
}

// MatchesHead reports, as an error wrapping ErrBadRecord, whether r is not
// the head revision that the node record n names: r is well formed, has
// the same volume and node, n.Revision = r.Revision, n.RevisionSeq = r.Seq,
// and n.RevisionDigest = r.Digest(). n must already be verified
// (NodeRecord.Verify) under its author's pinned key.
//
// When r.Author = n.Author, this check is a substitute for r.Verify: n's
// signature covers the digest, and the digest covers every field of r, so
// a server can serve no record here but the one n's author committed,
// whether an older revision [13] or a validly signed record with another
// block list, attributes, content key or author [6][8]. When the authors
// differ, the caller verifies r as well, so that no writer can vouch for a
// revision in another's name. The digests are public, so they are
// compared in variable time.
func (r *RevisionRecord) MatchesHead(n *NodeRecord) error {
	if r == nil || n == nil {
		return fmt.Errorf("%w: nil record", ErrBadRecord)
	}
	if err := r.validate(); err != nil {
		return fmt.Errorf("%w: revision %x: %w", ErrBadRecord, r.Revision, err)
	}
	if !bytes.Equal(r.Volume, n.Volume) || !bytes.Equal(r.Node, n.Node) ||
		!bytes.Equal(r.Revision, n.Revision) || r.Seq != n.RevisionSeq {
		return fmt.Errorf("%w: revision %x (sequence %d) is not the head of node %x", ErrBadRecord, r.Revision, r.Seq, n.Node)
	}
	if r.digest() != n.RevisionDigest {
		return fmt.Errorf("%w: revision %x (sequence %d) is not the record that node %x names as its head: digest differs",
			ErrBadRecord, r.Revision, r.Seq, n.Node)
	}
	return nil
}

// CheckManifest reports, as an error wrapping ErrBadManifest, whether the
// manifest lists a number of blocks other than a.BlockCount() for the
// sealed size a (opened with OpenAttrs). With the per-block AD this catches
// a manifest whose author listed blocks that do not make up the file. The
// error gives block counts, never the size.
func CheckManifest(rev *RevisionRecord, a Attrs) error {
	if rev == nil {
		return fmt.Errorf("%w: nil revision", ErrBadManifest)
	}
	want := a.BlockCount()
	if want < 0 || len(rev.Blocks) != want {
		// The block count is public (the server stores the blocks), and
		// ceil(size / BlockSize) says less than the blocks' own lengths.
		return fmt.Errorf("%w: revision %x lists %d blocks, its sealed size needs %d", ErrBadManifest, rev.Revision, len(rev.Blocks), want)
	}
	return nil
}
