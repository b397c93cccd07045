package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
)

// Node record encodings: 0x01 for a record without a key history (every
// record before key rotation, byte for byte as before), 0x02 for a rotated
// file's record, which appends LP(key_history).
const (
	nodeRecordVersion        = 0x01
	nodeRecordVersionHistory = 0x02
)

// MaxAuthorLen is the longest author (account) name a record may carry.
// Account names are at most 64 bytes (docs/api.md); this package treats
// them as opaque bytes and only bounds them.
const MaxAuthorLen = 255

var (
	// ErrBadSignature reports a node or revision record whose signature
	// does not verify under the given author key, whose author key is
	// unacceptable (it then also wraps ErrBadEd25519Key), or whose fields
	// are malformed (it then also wraps ErrBadRecord). Callers treat all
	// of these alike: the record is not the author's.
	ErrBadSignature = errors.New("coffer/crypto: bad record signature")
	// ErrBadRecord reports a node or revision record whose fields break
	// the rules of docs/crypto.md (ID lengths, kind, sizes, counters), so
	// that it can be neither signed nor trusted.
	ErrBadRecord = errors.New("coffer/crypto: malformed record")
)

// NodeKind says whether a node is a folder or a file.
type NodeKind uint8

// Node kinds. Zero is not a kind, so a record left unset is refused.
const (
	KindFolder NodeKind = 1
	KindFile   NodeKind = 2
)

// NodeRecord is the signed description of one node: where it is in the
// tree, its sealed name and key, and (for files) its head revision. The
// server stores the fields and serves them as JSON; the client rebuilds the
// record, calls Verify with the identity key of the author it expects, and
// checks that Volume and Parent are the folder it asked about and that
// Version and RevisionSeq never go back (docs/crypto.md section 11.6).
type NodeRecord struct {
	Volume, Node, Parent []byte
	Kind                 NodeKind
	// NameHash is NameHash(parent keys, name); all zeros for a root. For
	// an inbox drop (IsDrop) it is 32 random bytes chosen by the uploader,
	// who cannot compute the folder's name hash; readers ignore it.
	NameHash [32]byte
	// SealedName is SealName's output; empty for a root, which has no
	// name, and for an inbox drop, whose name is sealed in SealedKey.
	SealedName []byte
	// SealedKey is WrapNodeKey's output, SealRootKey's for a root, or
	// SealInboxDrop's (node key and name) for an inbox drop.
	SealedKey []byte
	// Author is the account name of the signer.
	Author string
	// Version starts at 1 and rises by 1 on every change of this record
	// (rename, move, new revision), so a client can refuse an older one.
	Version uint64
	// Revision is the head revision's ID for a file; empty for a folder
	// and for a file whose first revision is not yet committed.
	Revision []byte
	// RevisionSeq is the head revision's sequence number: 0 exactly when
	// Revision is empty.
	RevisionSeq uint64
	// RevisionDigest is the head revision record's Digest: all zeros
	// exactly when Revision is empty. Because the signature covers it, a
	// client that has verified this record can trust the served head
	// revision by comparing digests (RevisionRecord.MatchesHead) instead of
	// verifying the revision's own signature (docs/crypto.md sections 11.6
	// and 12.4).
	RevisionDigest [32]byte
	// KeyHistory is SealKeyHistory's output: the node's earlier node keys,
	// newest first, sealed under its current one; empty for a node never
	// rotated. Only a file (not an inbox drop) may have one: a rotated
	// file's earlier revisions keep their content keys wrapped under the
	// keys it had then (docs/crypto.md sections 12.1 and 13.11). A record
	// with a KeyHistory encodes with version byte 0x02; one without, with
	// 0x01, exactly as before key rotation existed.
	KeyHistory []byte
}

// Validate reports why r cannot be signed or trusted, as an error wrapping
// ErrBadRecord, or nil. The rules (docs/crypto.md section 11.6):
//
//   - Volume and Node are IDSize bytes; Parent is IDSize bytes and differs
//     from Node, or is empty for a volume's root;
//   - Kind is KindFolder or KindFile; a root is a folder;
//   - a root has no SealedName, an all-zero NameHash and a SealedKey of
//     SealedRootKeySize bytes;
//   - any other node is either ordinary, with a SealedName of 61 to 317
//     bytes (one to nine 32-byte buckets in an envelope) and a SealedKey of
//     SealedNodeKeySize bytes, or an inbox drop (IsDrop, docs/crypto.md
//     section 13.9): a file with no SealedName, a SealedKey of a sealed
//     inbox drop's size (IsSealedInboxDropSize) and any NameHash;
//   - Author is 1 to MaxAuthorLen bytes; Version is at least 1;
//   - a folder has no Revision, RevisionSeq 0 and an all-zero
//     RevisionDigest; a file has either a Revision of IDSize bytes,
//     RevisionSeq >= 1 and a RevisionDigest that is not all zeros, or
//     none of the three;
//   - KeyHistory is empty, or the record is a file that is not an inbox
//     drop and KeyHistory is a sealed key history's size
//     (IsSealedKeyHistorySize: 1 to MaxKeyHistory keys).
func (r *NodeRecord) Validate() error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	return nil
}

func (r *NodeRecord) validate() error {
	if r == nil {
		return errors.New("nil node record")
	}
	if err := checkID("volume ID", r.Volume); err != nil {
		return err
	}
	if err := checkID("node ID", r.Node); err != nil {
		return err
	}
	if r.Kind != KindFolder && r.Kind != KindFile {
		return fmt.Errorf("unknown node kind %d", r.Kind)
	}
	if len(r.Parent) == 0 {
		if r.Kind != KindFolder {
			return errors.New("a root must be a folder")
		}
		if len(r.SealedName) != 0 || r.NameHash != [32]byte{} {
			return errors.New("a root has no name")
		}
		if len(r.SealedKey) != SealedRootKeySize {
			return fmt.Errorf("sealed root key is %d bytes, want %d", len(r.SealedKey), SealedRootKeySize)
		}
	} else {
		if err := checkID("parent ID", r.Parent); err != nil {
			return err
		}
		if bytes.Equal(r.Parent, r.Node) {
			return errors.New("node is its own parent")
		}
		if len(r.SealedName) == 0 {
			// An inbox drop: name and key sealed together to the
			// folder's inbox key; the name hash is random.
			if r.Kind != KindFile {
				return errors.New("an inbox drop (no sealed name) must be a file")
			}
			if n := len(r.SealedKey); !IsSealedInboxDropSize(n) {
				return fmt.Errorf("inbox drop (no sealed name) has a sealed key of %d bytes, not a sealed inbox drop's size", n)
			}
		} else {
			if n := len(r.SealedName); n < minSealedNameSize || n > maxSealedNameSize || (n-envelopeOverhead)%namePad != 0 {
				return fmt.Errorf("sealed name is %d bytes, not a sealed name's size", n)
			}
			if len(r.SealedKey) != SealedNodeKeySize {
				return fmt.Errorf("sealed node key is %d bytes, want %d", len(r.SealedKey), SealedNodeKeySize)
			}
		}
	}
	if n := len(r.KeyHistory); n != 0 {
		switch {
		case r.Kind != KindFile:
			return errors.New("a folder has no key history")
		case r.IsDrop():
			return errors.New("an inbox drop has no key history")
		case !IsSealedKeyHistorySize(n):
			return fmt.Errorf("key history is %d bytes, not a sealed key history's size (1 to %d keys)", n, MaxKeyHistory)
		}
	}
	if err := checkAuthor(r.Author); err != nil {
		return err
	}
	if r.Version == 0 {
		return errors.New("version 0 (versions start at 1)")
	}
	switch {
	case len(r.Revision) == 0 && r.RevisionSeq == 0:
		if r.RevisionDigest != ([32]byte{}) {
			if r.Kind == KindFolder {
				return errors.New("a folder has no revision digest")
			}
			return errors.New("revision digest without a revision")
		}
	case r.Kind == KindFolder:
		return errors.New("a folder has no revision")
	case len(r.Revision) == 0 || r.RevisionSeq == 0:
		return errors.New("revision ID and revision sequence number must be set together")
	default:
		if err := checkID("revision ID", r.Revision); err != nil {
			return err
		}
		if r.RevisionDigest == ([32]byte{}) {
			return errors.New("revision without a revision digest")
		}
	}
	return nil
}

func checkAuthor(author string) error {
	if len(author) == 0 || len(author) > MaxAuthorLen {
		return fmt.Errorf("author name is %d bytes, want 1 to %d", len(author), MaxAuthorLen)
	}
	return nil
}

// Marshal returns the canonical encoding that Sign signs:
//
//	0x01 || LP(volume) || LP(node) || LP(parent) || u8(kind) || name_hash (32) ||
//	LP(sealed_name) || LP(sealed_key) || LP(author) || u64(version) ||
//	LP(revision) || u64(revision_seq) || revision_digest (32)
//
// for a record without a key history, and for a record with one (a
// rotated file) the same fields after the version byte 0x02, followed by
// LP(key_history). A version 0x02 encoding always has a non-empty history,
// so each record has one encoding and no two records share one.
//
// It returns nil for a record that Validate refuses, so that a malformed
// record can never be signed or verified. The wire format is JSON; this
// encoding exists only to be signed.
func (r *NodeRecord) Marshal() []byte {
	if r.validate() != nil {
		return nil
	}
	return r.encode()
}

// encode is Marshal without validation, for Marshal and for vectors that
// show validly signed but malformed records being refused.
func (r *NodeRecord) encode() []byte {
	n := 1 + 4*6 + len(r.Volume) + len(r.Node) + len(r.Parent) + 1 + 32 +
		len(r.SealedName) + len(r.SealedKey) + len(r.Author) + 8 + len(r.Revision) + 8 + 32
	version := byte(nodeRecordVersion)
	if len(r.KeyHistory) != 0 {
		version = nodeRecordVersionHistory
		n += 4 + len(r.KeyHistory)
	}
	b := make([]byte, 0, n)
	b = append(b, version)
	b = appendLP(b, r.Volume)
	b = appendLP(b, r.Node)
	b = appendLP(b, r.Parent)
	b = append(b, byte(r.Kind))
	b = append(b, r.NameHash[:]...)
	b = appendLP(b, r.SealedName)
	b = appendLP(b, r.SealedKey)
	b = appendLP(b, []byte(r.Author))
	b = binary.BigEndian.AppendUint64(b, r.Version)
	b = appendLP(b, r.Revision)
	b = binary.BigEndian.AppendUint64(b, r.RevisionSeq)
	b = append(b, r.RevisionDigest[:]...)
	if version == nodeRecordVersionHistory {
		b = appendLP(b, r.KeyHistory)
	}
	return b
}

// Sign returns Ed25519-Sign(identity key, tagged("coffer/v1/node-record",
// Marshal())), after checking the record with Validate. The caller sets
// Author to its own account name.
func (r *NodeRecord) Sign(keys *AccountKeys) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: sign node record: %w", err)
	}
	if !keys.usable() {
		return nil, fmt.Errorf("coffer/crypto: sign node record %x: no account keys", r.Node)
	}
	return ed25519.Sign(keys.identity, tagged(labelNodeRecord, r.encode())), nil
}

// Verify checks that sig is author's signature over the record. author is
// the identity key of r.Author, taken from that account's pinned bundle,
// never from the server alongside the record. Every failure wraps
// ErrBadSignature: a malformed record (also ErrBadRecord), an unacceptable
// key such as one of small order (also ErrBadEd25519Key, via the check of
// CheckEd25519PublicKey), or a signature that does not verify.
//
// A valid signature proves authorship, not placement or freshness: the
// caller still compares Volume and Parent with the folder it listed, the
// author with those allowed to write there, and Version and RevisionSeq
// with the highest it has seen for this node. For a file, the served head
// revision is then trusted through RevisionRecord.MatchesHead, which
// compares it with RevisionDigest.
func (r *NodeRecord) Verify(author ed25519.PublicKey, sig []byte) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if err := verifyEd25519(author, tagged(labelNodeRecord, r.encode()), sig); err != nil {
		return fmt.Errorf("%w: node record %x by %q: %w", ErrBadSignature, r.Node, r.Author, err)
	}
	return nil
}

// VerifyWith is Verify with a key checked once beforehand.
func (r *NodeRecord) VerifyWith(author VerifyKey, sig []byte) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if err := author.verify(tagged(labelNodeRecord, r.encode()), sig); err != nil {
		return fmt.Errorf("%w: node record %x by %q: %w", ErrBadSignature, r.Node, r.Author, err)
	}
	return nil
}

// IsDrop reports whether r has the form of an inbox drop: it has a parent
// and no sealed name (its name and node key are sealed together to the
// folder's inbox key in SealedKey; docs/crypto.md section 13.9). It looks
// at the form only: Validate checks the rest of a drop (a file, and a
// SealedKey of a sealed drop's size), and Verify the signature; a client
// then checks that the author may add files to the folder. Open a drop with
// OpenInboxDrop, not OpenRecordName and UnwrapNodeKey.
func (r *NodeRecord) IsDrop() bool {
	return r != nil && len(r.Parent) != 0 && len(r.SealedName) == 0
}

// Ref returns the record's NodeRef, for UnwrapNodeKey and OpenName.
func (r *NodeRecord) Ref() NodeRef {
	return NodeRef{Volume: r.Volume, Parent: r.Parent, Node: r.Node}
}

// OpenRecordName opens r's sealed name under the parent folder's keys and
// checks that r.NameHash is that name's hash, so that two children with the
// same name cannot slip past the server's uniqueness check with different
// hashes. It does not verify the signature; call Verify first.
func OpenRecordName(parent *NodeKeys, r *NodeRecord) (string, error) {
	if r == nil {
		return "", errors.New("coffer/crypto: open record name: nil record")
	}
	if r.IsDrop() {
		return "", fmt.Errorf("coffer/crypto: node record %x is an inbox drop, whose name is sealed to the folder's inbox key (OpenInboxDrop): %w", r.Node, ErrDecrypt)
	}
	name, err := OpenName(parent, r.Ref(), r.SealedName)
	if err != nil {
		return "", err
	}
	want := NameHash(parent, name)
	if !hmac.Equal(want[:], r.NameHash[:]) {
		return "", fmt.Errorf("coffer/crypto: node record %x: %w: name hash does not match the sealed name", r.Node, ErrBadName)
	}
	return name, nil
}
