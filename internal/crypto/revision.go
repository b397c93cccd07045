package crypto

import (
	"bytes"
	"crypto/ed25519"
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
	n := 1 + 4*3 + len(r.Volume) + len(r.Node) + len(r.Revision) + 8 + 4 + len(r.SealedContentKey) +
		4 + 32*len(r.Blocks) + 4 + len(r.SealedAttrs) + 4 + len(r.Author)
	b := make([]byte, 0, n)
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
// then opens the content key and attributes, calls CheckManifest, and
// checks that the node record's Revision and RevisionSeq name this
// revision (MatchesHead).
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
// the head revision that the node record n names: same volume and node,
// n.Revision = r.Revision and n.RevisionSeq = r.Seq. A server that serves
// an older, validly signed revision as the head is caught here [13].
func (r *RevisionRecord) MatchesHead(n *NodeRecord) error {
	if r == nil || n == nil {
		return fmt.Errorf("%w: nil record", ErrBadRecord)
	}
	if !bytes.Equal(r.Volume, n.Volume) || !bytes.Equal(r.Node, n.Node) ||
		!bytes.Equal(r.Revision, n.Revision) || r.Seq != n.RevisionSeq {
		return fmt.Errorf("%w: revision %x (sequence %d) is not the head of node %x", ErrBadRecord, r.Revision, r.Seq, n.Node)
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
