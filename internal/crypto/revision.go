package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

const revisionRecordVersion = 0x01

// RevisionRecord is the signed manifest of one revision of a file: its
// wrapped content key, the IDs of its blocks in order and its sealed
// attributes. As with NodeRecord, the wire format is JSON and Marshal
// exists only to be signed.
type RevisionRecord struct {
	Volume, Node, Revision []byte
	// Seq is 1 for a file's first revision and rises by 1 with each.
	Seq uint64
	// SealedContentKey is SealContentKey's output.
	SealedContentKey []byte
	// Blocks are the BlockIDs of the sealed blocks, in order.
	Blocks [][32]byte
	// SealedAttrs is SealAttrs's output.
	SealedAttrs []byte
	// Author is the account name of the signer.
	Author string
}

// Validate reports why r cannot be signed or trusted, as an error wrapping
// ErrBadRecord, or nil: the three IDs are IDSize bytes, Seq is at least 1,
// the sealed content key and attributes have their exact sizes, there are
// at most MaxBlocks blocks, and Author is 1 to MaxAuthorLen bytes. Whether
// the block count matches the size is CheckManifest's job, since the size
// is sealed.
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
	if len(r.SealedAttrs) != SealedAttrsSize {
		return fmt.Errorf("sealed attributes are %d bytes, want %d", len(r.SealedAttrs), SealedAttrsSize)
	}
	return checkAuthor(r.Author)
}

// Marshal returns the canonical encoding that Sign signs:
//
//	0x01 || LP(volume) || LP(node) || LP(revision) || u64(seq) ||
//	LP(sealed_content_key) || u32(n) || n × block ID (32 each) ||
//	LP(sealed_attrs) || LP(author)
//
// It returns nil for a record that Validate refuses.
func (r *RevisionRecord) Marshal() []byte {
	if r.validate() != nil {
		return nil
	}
	return r.encode()
}

// encode is Marshal without validation.
func (r *RevisionRecord) encode() []byte {
	return r.appendEncoding(make([]byte, 0, r.encodedLen()))
}

func (r *RevisionRecord) encodedLen() int {
	return 1 + 4*3 + len(r.Volume) + len(r.Node) + len(r.Revision) + 8 + 4 + len(r.SealedContentKey) +
		4 + 32*len(r.Blocks) + 4 + len(r.SealedAttrs) + 4 + len(r.Author)
}

func (r *RevisionRecord) appendEncoding(b []byte) []byte {
	b = append(b, revisionRecordVersion)
	b = appendLP(b, r.Volume)
	b = appendLP(b, r.Node)
	b = appendLP(b, r.Revision)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = appendLP(b, r.SealedContentKey)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Blocks)))
	for i := range r.Blocks {
		b = append(b, r.Blocks[i][:]...)
	}
	b = appendLP(b, r.SealedAttrs)
	return appendLP(b, []byte(r.Author))
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
