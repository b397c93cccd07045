package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
)

// fileRecord returns a valid, unsigned record of tt.file in tt.folder,
// whose head is a fresh one-block revision with sequence number 2.
func (tt *testTree) fileRecord(t testing.TB) *NodeRecord {
	t.Helper()
	head, _ := tt.revisionRecord(t, 1)
	head.Seq = 2
	return tt.fileRecordWithHead(t, head)
}

// fileRecordWithHead returns a valid, unsigned record of tt.file in
// tt.folder, at version 3, whose head is rev.
func (tt *testTree) fileRecordWithHead(t testing.TB, rev *RevisionRecord) *NodeRecord {
	t.Helper()
	ref := tt.fileRef()
	key, err := WrapNodeKey(tt.folderKeys, ref, tt.fileKey)
	if err != nil {
		t.Fatal(err)
	}
	name, err := SealName(tt.folderKeys, ref, "report.pdf")
	if err != nil {
		t.Fatal(err)
	}
	return &NodeRecord{
		Volume: tt.volume, Node: tt.file, Parent: tt.folder, Kind: KindFile,
		NameHash: NameHash(tt.folderKeys, "report.pdf"), SealedName: name, SealedKey: key,
		Author: "alice", Version: 3, Revision: rev.Revision, RevisionSeq: rev.Seq, RevisionDigest: rev.Digest(),
	}
}

func (tt *testTree) rootRecord(t testing.TB) *NodeRecord {
	t.Helper()
	sealed, err := SealRootKey(tt.owner.EncryptionPublic(), tt.volume, tt.root, tt.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return &NodeRecord{Volume: tt.volume, Node: tt.root, Kind: KindFolder, SealedKey: sealed, Author: "alice", Version: 1}
}

func cloneRecord(r *NodeRecord) *NodeRecord {
	c := *r
	c.Volume, c.Node, c.Parent = bytes.Clone(r.Volume), bytes.Clone(r.Node), bytes.Clone(r.Parent)
	c.SealedName, c.SealedKey, c.Revision = bytes.Clone(r.SealedName), bytes.Clone(r.SealedKey), bytes.Clone(r.Revision)
	c.KeyHistory = bytes.Clone(r.KeyHistory)
	return &c
}

func TestNodeRecordMarshalLayout(t *testing.T) {
	tt := newTestTree(t)
	r := tt.fileRecord(t)
	var want []byte
	want = append(want, 0x01)
	for _, f := range [][]byte{r.Volume, r.Node, r.Parent} {
		want = binary.BigEndian.AppendUint32(want, uint32(len(f)))
		want = append(want, f...)
	}
	want = append(want, 2)
	want = append(want, r.NameHash[:]...)
	for _, f := range [][]byte{r.SealedName, r.SealedKey, []byte(r.Author)} {
		want = binary.BigEndian.AppendUint32(want, uint32(len(f)))
		want = append(want, f...)
	}
	want = binary.BigEndian.AppendUint64(want, 3)
	want = binary.BigEndian.AppendUint32(want, IDSize)
	want = append(want, r.Revision...)
	want = binary.BigEndian.AppendUint64(want, 2)
	want = append(want, r.RevisionDigest[:]...)
	if r.RevisionDigest == ([32]byte{}) {
		t.Fatal("file record without a revision digest")
	}
	if got := r.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("Marshal:\n got %x\nwant %x", got, want)
	}
}

func TestNodeRecordSignVerify(t *testing.T) {
	tt := newTestTree(t)
	pub := tt.owner.IdentityPublic()
	folder := tt.fileRecord(t)
	folder.Kind, folder.Revision, folder.RevisionSeq, folder.RevisionDigest = KindFolder, nil, 0, [32]byte{}
	newFile := tt.fileRecord(t)
	newFile.Revision, newFile.RevisionSeq, newFile.RevisionDigest = nil, 0, [32]byte{}
	for name, r := range map[string]*NodeRecord{"root": tt.rootRecord(t), "folder": folder, "file": tt.fileRecord(t), "file without revision": newFile} {
		sig, err := r.Sign(tt.owner)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := r.Verify(pub, sig); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := r.Verify(tt.other.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: verified under another user's key: %v", name, err)
		}
		if !ed25519.Verify(pub, tagged(labelNodeRecord, r.Marshal()), sig) {
			t.Errorf("%s: signature is not over tagged(label, Marshal())", name)
		}
	}
}

// TestNodeRecordFieldChanges changes every field of a signed record, one at
// a time: the signature must no longer verify.
func TestNodeRecordFieldChanges(t *testing.T) {
	tt := newTestTree(t)
	r := tt.fileRecord(t)
	sig, err := r.Sign(tt.owner)
	if err != nil {
		t.Fatal(err)
	}
	otherName, err := SealName(tt.folderKeys, tt.fileRef(), "other.pdf")
	if err != nil {
		t.Fatal(err)
	}
	otherRev, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	otherHead, _ := tt.revisionRecord(t, 1)
	otherHead.Revision, otherHead.Seq = r.Revision, r.RevisionSeq
	edits := map[string]func(r *NodeRecord){
		"volume":        func(r *NodeRecord) { r.Volume = tt.archive },
		"node":          func(r *NodeRecord) { r.Node = tt.sibling },
		"parent (move)": func(r *NodeRecord) { r.Parent = tt.archive },
		"kind": func(r *NodeRecord) {
			r.Kind, r.Revision, r.RevisionSeq, r.RevisionDigest = KindFolder, nil, 0, [32]byte{}
		},
		"name hash":            func(r *NodeRecord) { r.NameHash[31] ^= 1 },
		"sealed name (rename)": func(r *NodeRecord) { r.SealedName = otherName },
		"sealed name bit":      func(r *NodeRecord) { r.SealedName[5] ^= 1 },
		"sealed key bit":       func(r *NodeRecord) { r.SealedKey[40] ^= 1 },
		"author":               func(r *NodeRecord) { r.Author = "bob" },
		"version down":         func(r *NodeRecord) { r.Version-- },
		"version up":           func(r *NodeRecord) { r.Version++ },
		"revision":             func(r *NodeRecord) { r.Revision = otherRev },
		"revision seq":         func(r *NodeRecord) { r.RevisionSeq-- },
		"revision digest bit":  func(r *NodeRecord) { r.RevisionDigest[31] ^= 1 },
		// The same revision ID and seq, but another record's digest.
		"revision digest of another head": func(r *NodeRecord) { r.RevisionDigest = otherHead.Digest() },
		"no revision (dropped)": func(r *NodeRecord) {
			r.Revision, r.RevisionSeq, r.RevisionDigest = nil, 0, [32]byte{}
		},
	}
	for name, edit := range edits {
		c := cloneRecord(r)
		edit(c)
		if err := c.Verify(tt.owner.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s changed: error = %v, want ErrBadSignature", name, err)
		}
	}
	// The signature itself.
	for i := range sig {
		if err := r.Verify(tt.owner.IdentityPublic(), flip(sig, i, 1<<(i%8))); !errors.Is(err, ErrBadSignature) {
			t.Errorf("signature byte %d flipped: %v", i, err)
		}
	}
	for _, s := range [][]byte{nil, sig[:63], append(bytes.Clone(sig), 0)} {
		if err := r.Verify(tt.owner.IdentityPublic(), s); !errors.Is(err, ErrBadSignature) {
			t.Errorf("signature of %d bytes: %v", len(s), err)
		}
	}
	// Signed over the same bytes in another context.
	for name, s := range map[string][]byte{
		"no label":       ed25519.Sign(tt.owner.IdentityKey(), r.Marshal()),
		"revision label": ed25519.Sign(tt.owner.IdentityKey(), tagged(labelRevision, r.Marshal())),
	} {
		if err := r.Verify(tt.owner.IdentityPublic(), s); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestNodeRecordWeakAuthorKeys: keys under which crypto/ed25519.Verify
// alone accepts a trivial signature must be refused.
func TestNodeRecordWeakAuthorKeys(t *testing.T) {
	tt := newTestTree(t)
	r := tt.fileRecord(t)
	msg := tagged(labelNodeRecord, r.Marshal())
	for _, k := range []string{
		"0100000000000000000000000000000000000000000000000000000000000000", // identity
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
		"0000000000000000000000000000000000000000000000000000000000000080", // order 4
		"0000000000000000000000000000000000000000000000000000000000000000", // order 4
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // identity, non-canonical
	} {
		key, _ := hex.DecodeString(k)
		sig := trivialSignature()
		if k == "0100000000000000000000000000000000000000000000000000000000000000" && !ed25519.Verify(key, msg, sig) {
			t.Fatal("premise: the trivial signature verifies under the identity point")
		}
		if err := r.Verify(key, sig); !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrBadEd25519Key) {
			t.Errorf("author key %s: error = %v, want ErrBadSignature and ErrBadEd25519Key", k, err)
		}
	}
	if err := r.Verify(nil, trivialSignature()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("nil key: %v", err)
	}
}

func TestNodeRecordValidate(t *testing.T) {
	tt := newTestTree(t)
	file := tt.fileRecord(t)
	root := tt.rootRecord(t)
	bad := map[string]*NodeRecord{}
	add := func(name string, base *NodeRecord, edit func(r *NodeRecord)) {
		c := cloneRecord(base)
		edit(c)
		bad[name] = c
	}
	add("short volume", file, func(r *NodeRecord) { r.Volume = r.Volume[:15] })
	add("empty node", file, func(r *NodeRecord) { r.Node = nil })
	add("long parent", file, func(r *NodeRecord) { r.Parent = append(r.Parent, 0) })
	add("own parent", file, func(r *NodeRecord) { r.Parent = r.Node })
	add("kind 0", file, func(r *NodeRecord) { r.Kind = 0 })
	add("kind 3", file, func(r *NodeRecord) { r.Kind = 3 })
	add("no sealed name", file, func(r *NodeRecord) { r.SealedName = nil })
	add("sealed name 60 bytes", file, func(r *NodeRecord) { r.SealedName = make([]byte, 60) })
	add("sealed name 62 bytes", file, func(r *NodeRecord) { r.SealedName = make([]byte, 62) })
	add("sealed name 349 bytes", file, func(r *NodeRecord) { r.SealedName = make([]byte, 349) })
	add("sealed key 60 bytes", file, func(r *NodeRecord) { r.SealedKey = r.SealedKey[:60] })
	add("root key under a parent", file, func(r *NodeRecord) { r.SealedKey = root.SealedKey })
	add("empty author", file, func(r *NodeRecord) { r.Author = "" })
	add("256-byte author", file, func(r *NodeRecord) { r.Author = string(make([]byte, 256)) })
	add("version 0", file, func(r *NodeRecord) { r.Version = 0 })
	add("revision without seq", file, func(r *NodeRecord) { r.RevisionSeq = 0 })
	add("seq without revision", file, func(r *NodeRecord) { r.Revision = nil })
	add("short revision", file, func(r *NodeRecord) { r.Revision = r.Revision[:8] })
	add("folder with revision", file, func(r *NodeRecord) { r.Kind = KindFolder })
	add("revision without digest", file, func(r *NodeRecord) { r.RevisionDigest = [32]byte{} })
	add("digest without revision or seq", file, func(r *NodeRecord) { r.Revision, r.RevisionSeq = nil, 0 })
	add("digest and seq without revision", file, func(r *NodeRecord) { r.Revision = nil })
	add("digest and revision without seq", file, func(r *NodeRecord) { r.RevisionSeq = 0 })
	add("folder with digest", file, func(r *NodeRecord) { r.Kind, r.Revision, r.RevisionSeq = KindFolder, nil, 0 })
	add("folder with one digest bit", file, func(r *NodeRecord) {
		r.Kind, r.Revision, r.RevisionSeq, r.RevisionDigest = KindFolder, nil, 0, [32]byte{31: 1}
	})
	add("root with digest", root, func(r *NodeRecord) { r.RevisionDigest = file.RevisionDigest })
	add("root with revision", root, func(r *NodeRecord) {
		r.Revision, r.RevisionSeq, r.RevisionDigest = file.Revision, 1, file.RevisionDigest
	})
	add("root file", root, func(r *NodeRecord) { r.Kind = KindFile })
	add("root with name", root, func(r *NodeRecord) { r.SealedName = file.SealedName })
	add("root with name hash", root, func(r *NodeRecord) { r.NameHash[0] = 1 })
	add("root with wrapped key", root, func(r *NodeRecord) { r.SealedKey = file.SealedKey })
	add("root with revision, no digest", root, func(r *NodeRecord) { r.Revision, r.RevisionSeq = file.Revision, 1 })
	for name, r := range bad {
		if err := r.Validate(); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Validate = %v", name, err)
		}
		if r.Marshal() != nil {
			t.Errorf("%s: Marshal returned bytes", name)
		}
		if _, err := r.Sign(tt.owner); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Sign = %v", name, err)
		}
		// Validly signed over its encoding, it is still refused.
		sig := ed25519.Sign(tt.owner.IdentityKey(), tagged(labelNodeRecord, r.encode()))
		if err := r.Verify(tt.owner.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Verify = %v", name, err)
		}
	}
	var nilRec *NodeRecord
	if nilRec.Validate() == nil || nilRec.Marshal() != nil {
		t.Error("nil record validates")
	}
	if err := nilRec.Verify(tt.owner.IdentityPublic(), make([]byte, 64)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("nil record: %v", err)
	}
	if _, err := file.Sign(nil); err == nil {
		t.Error("Sign without keys")
	}
}

// TestVerifyWith: a key checked once verifies like Verify; weak keys never
// become a VerifyKey, and a zero VerifyKey verifies nothing.
func TestVerifyWith(t *testing.T) {
	tt := newTestTree(t)
	r := tt.fileRecord(t)
	sig, err := r.Sign(tt.owner)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewVerifyKey(tt.owner.IdentityPublic())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyWith(k, sig); err != nil {
		t.Fatal(err)
	}
	other, err := NewVerifyKey(tt.other.IdentityPublic())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyWith(other, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another user's key: %v", err)
	}
	changed := *r
	changed.Version++
	if err := changed.VerifyWith(k, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed record: %v", err)
	}
	if err := r.VerifyWith(VerifyKey{}, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("zero key: %v", err)
	}
	identity, _ := hex.DecodeString("0100000000000000000000000000000000000000000000000000000000000000")
	if _, err := NewVerifyKey(identity); !errors.Is(err, ErrBadEd25519Key) {
		t.Fatalf("small-order key accepted: %v", err)
	}
}
