package crypto

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

// testTree is a fresh random tree for the tests: a root, a folder under
// it, a file and a sibling in the folder, and another folder to move to.
type testTree struct {
	owner, other                                 *AccountKeys
	volume, root, folder, file, sibling, archive []byte
	rootKey, folderKey, fileKey, archiveKey      NodeKey
	rootKeys, folderKeys, fileKeys, archiveKeys  *NodeKeys
}

func newTestTree(t testing.TB) *testTree {
	t.Helper()
	tt := &testTree{}
	var err error
	if tt.owner, err = GenerateAccountKeys(); err != nil {
		t.Fatal(err)
	}
	if tt.other, err = GenerateAccountKeys(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []*[]byte{&tt.volume, &tt.root, &tt.folder, &tt.file, &tt.sibling, &tt.archive} {
		if *id, err = NewID(); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []struct {
		key  *NodeKey
		keys **NodeKeys
	}{{&tt.rootKey, &tt.rootKeys}, {&tt.folderKey, &tt.folderKeys}, {&tt.fileKey, &tt.fileKeys}, {&tt.archiveKey, &tt.archiveKeys}} {
		if *k.key, err = NewNodeKey(); err != nil {
			t.Fatal(err)
		}
		if *k.keys, err = k.key.Derive(); err != nil {
			t.Fatal(err)
		}
	}
	return tt
}

func (tt *testTree) fileRef() NodeRef { return NodeRef{tt.volume, tt.folder, tt.file} }

func TestNewID(t *testing.T) {
	a, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != IDSize || len(b) != IDSize || bytes.Equal(a, b) {
		t.Fatalf("NewID: %x, %x", a, b)
	}
}

// TestNodeKeysSeparate checks that the four sub-keys are independent: what
// one seals, another does not open.
func TestNodeKeysSeparate(t *testing.T) {
	tt := newTestTree(t)
	k := tt.folderKeys
	var subs [][32]byte
	for _, l := range []string{labelNodeKeyWrap, labelNameKey, labelNameHashKey, labelContentKeyWrap} {
		s, err := hkdf32(tt.folderKey[:], l, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, prev := range subs {
			if prev == s {
				t.Fatal("two sub-keys are equal")
			}
		}
		subs = append(subs, s)
	}
	if k.nameHash != subs[2] {
		t.Error("NodeKeys.nameHash is not the name-hash-key")
	}
	sealed, err := sealWith(k.wrap, nil, labelNodeKey, nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []interface {
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
	}{k.name, k.content} {
		if _, err := other.Open(nil, sealed[1:13], sealed[13:], envelopeAD(labelNodeKey, nil)); err == nil {
			t.Error("a sub-key opened what another sealed")
		}
	}
	if _, err := openWith(k.wrap, labelNodeKey, nil, sealed); err != nil {
		t.Error(err)
	}
}

func TestWrapNodeKeyRoundTrip(t *testing.T) {
	tt := newTestTree(t)
	ref := tt.fileRef()
	sealed, err := WrapNodeKey(tt.folderKeys, ref, tt.fileKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != SealedNodeKeySize || SealedNodeKeySize != 61 {
		t.Fatalf("wrapped key is %d bytes, SealedNodeKeySize %d", len(sealed), SealedNodeKeySize)
	}
	got, err := UnwrapNodeKey(tt.folderKeys, ref, sealed)
	if err != nil || got != tt.fileKey {
		t.Fatalf("unwrap: %v", err)
	}
	again, err := WrapNodeKey(tt.folderKeys, ref, tt.fileKey)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again[1:13], sealed[1:13]) {
		t.Error("two wraps used the same nonce")
	}
}

func TestWrapNodeKeyTamper(t *testing.T) {
	tt := newTestTree(t)
	ref := tt.fileRef()
	sealed, err := WrapNodeKey(tt.folderKeys, ref, tt.fileKey)
	if err != nil {
		t.Fatal(err)
	}
	tamperAll(t, sealed, func(b []byte) error {
		_, err := UnwrapNodeKey(tt.folderKeys, ref, b)
		return err
	})
	wrong := map[string]struct {
		keys *NodeKeys
		ref  NodeRef
	}{
		"moved to another folder (same key)":             {tt.folderKeys, NodeRef{tt.volume, tt.archive, tt.file}},
		"moved to another folder (that folder's key)":    {tt.archiveKeys, NodeRef{tt.volume, tt.archive, tt.file}},
		"swapped with a sibling":                         {tt.folderKeys, NodeRef{tt.volume, tt.folder, tt.sibling}},
		"other volume":                                   {tt.folderKeys, NodeRef{tt.archive, tt.folder, tt.file}},
		"opened under another parent's key":              {tt.rootKeys, ref},
		"opened with the child's own key":                {tt.fileKeys, ref},
		"parent and node exchanged (child above parent)": {tt.folderKeys, NodeRef{tt.volume, tt.file, tt.folder}},
	}
	for name, w := range wrong {
		if _, err := UnwrapNodeKey(w.keys, w.ref, sealed); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", name, err)
		}
	}
	// A key wrapped under another parent and served here.
	under, err := WrapNodeKey(tt.archiveKeys, NodeRef{tt.volume, tt.archive, tt.file}, tt.fileKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnwrapNodeKey(tt.folderKeys, ref, under); !errors.Is(err, ErrDecrypt) {
		t.Errorf("key wrapped under another parent: error = %v", err)
	}
	// A validly wrapped plaintext of the wrong length.
	short, err := sealWith(tt.folderKeys.wrap, nil, labelNodeKey, ref.fields(), make([]byte, 31))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnwrapNodeKey(tt.folderKeys, ref, short); !errors.Is(err, ErrDecrypt) {
		t.Errorf("31-byte key: error = %v", err)
	}
}

func TestNodeRefChecks(t *testing.T) {
	tt := newTestTree(t)
	id := tt.file
	bad := map[string]NodeRef{
		"short volume": {id[:15], tt.folder, tt.file},
		"long parent":  {tt.volume, append(bytes.Clone(tt.folder), 0), tt.file},
		"empty parent": {tt.volume, nil, tt.file},
		"empty node":   {tt.volume, tt.folder, nil},
		"own parent":   {tt.volume, tt.file, tt.file},
		"all empty":    {},
	}
	for name, ref := range bad {
		if _, err := WrapNodeKey(tt.folderKeys, ref, tt.fileKey); err == nil {
			t.Errorf("WrapNodeKey accepted %s", name)
		}
		if _, err := UnwrapNodeKey(tt.folderKeys, ref, make([]byte, SealedNodeKeySize)); err == nil {
			t.Errorf("UnwrapNodeKey accepted %s", name)
		}
		if _, err := SealName(tt.folderKeys, ref, "a"); err == nil {
			t.Errorf("SealName accepted %s", name)
		}
		if _, err := OpenName(tt.folderKeys, ref, make([]byte, minSealedNameSize)); err == nil {
			t.Errorf("OpenName accepted %s", name)
		}
	}
	// Nil and underived keys give errors, not panics.
	for _, k := range []*NodeKeys{nil, {}} {
		if _, err := WrapNodeKey(k, tt.fileRef(), tt.fileKey); err == nil {
			t.Error("WrapNodeKey without keys")
		}
		if _, err := UnwrapNodeKey(k, tt.fileRef(), make([]byte, SealedNodeKeySize)); err == nil {
			t.Error("UnwrapNodeKey without keys")
		}
		if _, err := SealName(k, tt.fileRef(), "a"); err == nil {
			t.Error("SealName without keys")
		}
		if _, err := OpenName(k, tt.fileRef(), make([]byte, minSealedNameSize)); err == nil {
			t.Error("OpenName without keys")
		}
		if NameHash(k, "a") != [32]byte{} {
			t.Error("NameHash without keys is not zero")
		}
		if _, err := SealContentKey(k, tt.volume, tt.file, tt.root, ContentKey{}); err == nil {
			t.Error("SealContentKey without keys")
		}
		if _, err := OpenContentKey(k, tt.volume, tt.file, tt.root, make([]byte, SealedContentKeySize)); err == nil {
			t.Error("OpenContentKey without keys")
		}
	}
}

func TestRootKey(t *testing.T) {
	tt := newTestTree(t)
	pub := tt.owner.EncryptionPublic()
	sealed, err := SealRootKey(pub, tt.volume, tt.root, tt.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != SealedRootKeySize || SealedRootKeySize != 1169 {
		t.Fatalf("sealed root key is %d bytes, SealedRootKeySize %d", len(sealed), SealedRootKeySize)
	}
	got, err := OpenRootKey(tt.owner, tt.volume, tt.root, sealed)
	if err != nil || got != tt.rootKey {
		t.Fatalf("open root key: %v", err)
	}
	fail := func(what string, keys *AccountKeys, vol, node, s []byte) {
		t.Helper()
		if _, err := OpenRootKey(keys, vol, node, s); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", what, err)
		}
	}
	fail("other volume", tt.owner, tt.archive, tt.root, sealed)
	fail("other node", tt.owner, tt.volume, tt.folder, sealed)
	fail("volume and node exchanged", tt.owner, tt.root, tt.volume, sealed)
	fail("other user", tt.other, tt.volume, tt.root, sealed)
	// One bit in every byte (every bit would mean 9352 X-Wing
	// decapsulations; one per byte covers every field).
	for i := range sealed {
		fail("flip byte "+strconv.Itoa(i), tt.owner, tt.volume, tt.root, flip(sealed, i, byte(1)<<(i%8)))
	}
	for _, n := range []int{0, 1, hpkeOverhead - 1, hpkeOverhead, len(sealed) - 1} {
		fail("truncate to "+strconv.Itoa(n), tt.owner, tt.volume, tt.root, sealed[:n])
	}
	fail("append a byte", tt.owner, tt.volume, tt.root, append(bytes.Clone(sealed), 0))
	// A validly sealed plaintext of the wrong length.
	info, err := rootKeyInfo(tt.volume, tt.root)
	if err != nil {
		t.Fatal(err)
	}
	short, err := hpkeSeal(pub, labelRootKey, info, make([]byte, 31))
	if err != nil {
		t.Fatal(err)
	}
	fail("31-byte key", tt.owner, tt.volume, tt.root, short)
	// Sealed under another label (as a future share would be).
	other, err := hpkeSeal(pub, labelNodeKey, info, tt.rootKey[:])
	if err != nil {
		t.Fatal(err)
	}
	fail("other label", tt.owner, tt.volume, tt.root, other)

	if _, err := SealRootKey(pub[:100], tt.volume, tt.root, tt.rootKey); err == nil {
		t.Error("SealRootKey accepted a truncated public key")
	}
	if _, err := SealRootKey(pub, tt.volume[:8], tt.root, tt.rootKey); err == nil {
		t.Error("SealRootKey accepted a short volume ID")
	}
	if _, err := OpenRootKey(nil, tt.volume, tt.root, sealed); err == nil {
		t.Error("OpenRootKey without keys")
	}
	if _, err := OpenRootKey(tt.owner, tt.volume, nil, sealed); err == nil {
		t.Error("OpenRootKey accepted an empty node ID")
	}
}

// TestRootKeyNeedsSignedRecord shows why a root key is trusted only from a
// signed root record: HPKE does not authenticate the sender, so the server
// can seal a key of its choosing to the owner's public key, and it opens.
func TestRootKeyNeedsSignedRecord(t *testing.T) {
	tt := newTestTree(t)
	sealed, err := SealRootKey(tt.owner.EncryptionPublic(), tt.volume, tt.root, tt.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rec := &NodeRecord{Volume: tt.volume, Node: tt.root, Kind: KindFolder, SealedKey: sealed, Author: "alice", Version: 1}
	sig, err := rec.Sign(tt.owner)
	if err != nil {
		t.Fatal(err)
	}
	serverKey, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := SealRootKey(tt.owner.EncryptionPublic(), tt.volume, tt.root, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := OpenRootKey(tt.owner, tt.volume, tt.root, forged); err != nil || k != serverKey {
		t.Fatalf("the server's root key does not open (%v): the test premise is wrong", err)
	}
	swapped := *rec
	swapped.SealedKey = forged
	if err := swapped.Verify(tt.owner.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("root record with the server's key: error = %v, want ErrBadSignature", err)
	}
}

// TestNodeKeysConcurrent shares one NodeKeys between goroutines, as a
// listing that works in parallel does; the race detector checks that
// nothing in it is written after Derive.
func TestNodeKeysConcurrent(t *testing.T) {
	tt := newTestTree(t)
	ref := tt.fileRef()
	sealedName, err := SealName(tt.folderKeys, ref, "report.pdf")
	if err != nil {
		t.Fatal(err)
	}
	sealedKey, err := WrapNodeKey(tt.folderKeys, ref, tt.fileKey)
	if err != nil {
		t.Fatal(err)
	}
	want := NameHash(tt.folderKeys, "report.pdf")
	errs := make(chan error, 4)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				if n, err := OpenName(tt.folderKeys, ref, sealedName); err != nil || n != "report.pdf" {
					errs <- errors.New("OpenName failed")
					return
				}
				if k, err := UnwrapNodeKey(tt.folderKeys, ref, sealedKey); err != nil || k != tt.fileKey {
					errs <- errors.New("UnwrapNodeKey failed")
					return
				}
				if NameHash(tt.folderKeys, "report.pdf") != want {
					errs <- errors.New("NameHash differs")
					return
				}
				if _, err := SealName(tt.folderKeys, ref, "x"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
