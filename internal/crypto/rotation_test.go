package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"testing"
)

// newKeys returns n fresh node keys and their derived keys.
func newKeys(t testing.TB, n int) ([]NodeKey, []*NodeKeys) {
	t.Helper()
	keys := make([]NodeKey, n)
	derived := make([]*NodeKeys, n)
	for i := range keys {
		var err error
		if keys[i], err = NewNodeKey(); err != nil {
			t.Fatal(err)
		}
		if derived[i], err = keys[i].Derive(); err != nil {
			t.Fatal(err)
		}
	}
	return keys, derived
}

func TestKeyHistorySubKey(t *testing.T) {
	tt := newTestTree(t)
	seen := map[[32]byte]string{}
	for _, l := range []string{labelNodeKeyWrap, labelNameKey, labelNameHashKey, labelContentKeyWrap, labelInboxKeyWrap, labelKeyHistoryWrap} {
		s, err := hkdf32(tt.fileKey[:], l, "")
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := seen[s]; ok {
			t.Fatalf("sub-keys %s and %s are equal", prev, l)
		}
		seen[s] = l
	}
	// What the history sub-key seals, no other sub-key opens.
	sealed, err := SealKeyHistory(tt.fileKeys, tt.volume, tt.file, []NodeKey{tt.folderKey})
	if err != nil {
		t.Fatal(err)
	}
	k := tt.fileKeys
	for _, other := range []interface {
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
	}{k.wrap, k.name, k.content, k.inbox} {
		if _, err := other.Open(nil, sealed[1:13], sealed[13:], envelopeAD(labelKeyHistory, idFields(tt.volume, tt.file))); err == nil {
			t.Error("another sub-key opened a key history")
		}
	}
}

func TestKeyHistoryRoundTrip(t *testing.T) {
	tt := newTestTree(t)
	for _, n := range []int{1, 2, 3, MaxKeyHistory} {
		prev, _ := newKeys(t, n)
		sealed, err := SealKeyHistory(tt.fileKeys, tt.volume, tt.file, prev)
		if err != nil {
			t.Fatalf("%d keys: %v", n, err)
		}
		if want := envelopeOverhead + 1 + 32*n; len(sealed) != want || !IsSealedKeyHistorySize(len(sealed)) {
			t.Fatalf("%d keys: sealed %d bytes, want %d", n, len(sealed), want)
		}
		got, err := OpenKeyHistory(tt.fileKeys, tt.volume, tt.file, sealed)
		if err != nil {
			t.Fatalf("%d keys: %v", n, err)
		}
		if len(got) != n {
			t.Fatalf("%d keys: opened %d", n, len(got))
		}
		for i := range got {
			if got[i] != prev[i] {
				t.Fatalf("%d keys: key %d differs (order not kept)", n, i)
			}
		}
		again, err := SealKeyHistory(tt.fileKeys, tt.volume, tt.file, prev)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(again[1:13], sealed[1:13]) {
			t.Error("two seals used the same nonce")
		}
	}
	if SealedKeyHistoryMinSize != 62 || SealedKeyHistoryMaxSize != 2078 {
		t.Errorf("sizes %d..%d, want 62..2078", SealedKeyHistoryMinSize, SealedKeyHistoryMaxSize)
	}
	for n, want := range map[int]bool{0: false, 61: false, 62: true, 63: false, 93: false, 94: true, 2077: false, 2078: true, 2110: false} {
		if IsSealedKeyHistorySize(n) != want {
			t.Errorf("IsSealedKeyHistorySize(%d) = %v", n, !want)
		}
	}
}

func TestKeyHistoryTamper(t *testing.T) {
	tt := newTestTree(t)
	prev, _ := newKeys(t, 3)
	sealed, err := SealKeyHistory(tt.fileKeys, tt.volume, tt.file, prev)
	if err != nil {
		t.Fatal(err)
	}
	open := func(keys *NodeKeys, vol, node, s []byte) error {
		got, err := OpenKeyHistory(keys, vol, node, s)
		if got != nil {
			t.Error("keys returned with an error")
		}
		return err
	}
	// Every byte, one bit each (the envelope is short).
	for i := range sealed {
		if err := open(tt.fileKeys, tt.volume, tt.file, flip(sealed, i, 1<<(i%8))); !errors.Is(err, ErrDecrypt) {
			t.Errorf("byte %d flipped: %v", i, err)
		}
	}
	_, prevKeys := newKeys(t, 1)
	for name, err := range map[string]error{
		"other node":                open(tt.fileKeys, tt.volume, tt.sibling, sealed),
		"other volume":              open(tt.fileKeys, tt.archive, tt.file, sealed),
		"other current key":         open(tt.folderKeys, tt.volume, tt.file, sealed),
		"an earlier key":            open(prevKeys[0], tt.volume, tt.file, sealed),
		"truncated by one byte":     open(tt.fileKeys, tt.volume, tt.file, sealed[:len(sealed)-1]),
		"truncated by one key":      open(tt.fileKeys, tt.volume, tt.file, sealed[:len(sealed)-32]),
		"one key appended":          open(tt.fileKeys, tt.volume, tt.file, append(bytes.Clone(sealed), make([]byte, 32)...)),
		"one byte appended":         open(tt.fileKeys, tt.volume, tt.file, append(bytes.Clone(sealed), 0)),
		"empty":                     open(tt.fileKeys, tt.volume, tt.file, nil),
		"envelope overhead only":    open(tt.fileKeys, tt.volume, tt.file, sealed[:envelopeOverhead]),
		"version byte 0x02":         open(tt.fileKeys, tt.volume, tt.file, flip(sealed, 0, 0x03)),
		"a wrapped node key (61)":   open(tt.fileKeys, tt.volume, tt.file, mustWrapFileKey(t, tt)),
		"sealed as a content key":   open(tt.fileKeys, tt.volume, tt.file, sealRaw(tt.fileKeys.content, nonce12(1), labelKeyHistory, idFields(tt.volume, tt.file), sealedPlainKeys(prev))),
		"sealed with another label": open(tt.fileKeys, tt.volume, tt.file, sealRaw(tt.fileKeys.history, nonce12(1), labelContentKey, idFields(tt.volume, tt.file), sealedPlainKeys(prev))),
	} {
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", name, err)
		}
	}
	if err := open(tt.fileKeys, tt.volume, tt.file, flip(sealed, 0, 0x03)); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("version byte 0x02: %v, want ErrUnsupportedVersion too", err)
	}
	// IDs of the wrong size and missing keys are errors, not panics.
	for name, err := range map[string]error{
		"short volume": open(tt.fileKeys, tt.volume[:15], tt.file, sealed),
		"empty node":   open(tt.fileKeys, tt.volume, nil, sealed),
		"nil keys":     open(nil, tt.volume, tt.file, sealed),
		"zero keys":    open(&NodeKeys{}, tt.volume, tt.file, sealed),
	} {
		if err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

func mustWrapFileKey(t *testing.T, tt *testTree) []byte {
	t.Helper()
	s, err := WrapNodeKey(tt.folderKeys, tt.fileRef(), tt.fileKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKeyHistoryMalformedPlaintext: validly sealed plaintexts that are not
// key histories (only a holder of the current key can make one) are
// refused as ErrDecrypt.
func TestKeyHistoryMalformedPlaintext(t *testing.T) {
	tt := newTestTree(t)
	prev, _ := newKeys(t, MaxKeyHistory+1)
	a := prev[0]
	fields := idFields(tt.volume, tt.file)
	raw := func(pt []byte) []byte { return sealRaw(tt.fileKeys.history, nonce12(9), labelKeyHistory, fields, pt) }
	for name, pt := range map[string][]byte{
		"empty plaintext":      nil,
		"version only":         {keyHistoryVersion},
		"version 0x02":         append([]byte{0x02}, a[:]...),
		"version 0x00":         append([]byte{0x00}, a[:]...),
		"no version byte":      append(a[:], a[:]...)[:32],
		"31-byte key":          sealedPlainKeys(prev[:1])[:32],
		"33 bytes after 0x01":  append(sealedPlainKeys(prev[:1]), 0),
		"all-zero key":         sealedPlainKeys([]NodeKey{{}}),
		"all-zero second key":  sealedPlainKeys([]NodeKey{a, {}}),
		"duplicate key":        sealedPlainKeys([]NodeKey{a, prev[1], a}),
		"65 keys":              sealedPlainKeys(prev),
		"65 keys, last repeat": sealedPlainKeys(append(prev[:MaxKeyHistory:MaxKeyHistory], a)),
	} {
		keys, err := OpenKeyHistory(tt.fileKeys, tt.volume, tt.file, raw(pt))
		if !errors.Is(err, ErrDecrypt) || keys != nil {
			t.Errorf("%s: error = %v, keys %d", name, err, len(keys))
		}
	}
}

func TestSealKeyHistoryRefuses(t *testing.T) {
	tt := newTestTree(t)
	prev, _ := newKeys(t, MaxKeyHistory+1)
	for name, in := range map[string][]NodeKey{
		"no keys":              nil,
		"empty list":           {},
		"65 keys":              prev,
		"all-zero key":         {prev[0], {}},
		"duplicate key":        {prev[0], prev[1], prev[0]},
		"the current key":      {prev[0], tt.fileKey},
		"only the current key": {tt.fileKey},
	} {
		if s, err := SealKeyHistory(tt.fileKeys, tt.volume, tt.file, in); err == nil || s != nil {
			t.Errorf("%s: sealed", name)
		}
	}
	for name, f := range map[string]func() ([]byte, error){
		"nil keys":     func() ([]byte, error) { return SealKeyHistory(nil, tt.volume, tt.file, prev[:1]) },
		"zero keys":    func() ([]byte, error) { return SealKeyHistory(&NodeKeys{}, tt.volume, tt.file, prev[:1]) },
		"short volume": func() ([]byte, error) { return SealKeyHistory(tt.fileKeys, tt.volume[:8], tt.file, prev[:1]) },
		"long node": func() ([]byte, error) {
			return SealKeyHistory(tt.fileKeys, tt.volume, append(bytes.Clone(tt.file), 0), prev[:1])
		},
	} {
		if s, err := f(); err == nil || s != nil {
			t.Errorf("%s: sealed", name)
		}
	}
}

// openAnyContentKey opens a revision's content key as a reader of a
// rotated file does: the current key first, then each earlier key in the
// history's order.
func openAnyContentKey(t *testing.T, current *NodeKeys, history []NodeKey, r *RevisionRecord) (ContentKey, int, error) {
	t.Helper()
	ck, err := OpenContentKey(current, r.Volume, r.Node, r.Revision, r.SealedContentKey)
	if err == nil {
		return ck, 0, nil
	}
	for i, k := range history {
		nk, err := k.Derive()
		if err != nil {
			t.Fatal(err)
		}
		if ck, err := OpenContentKey(nk, r.Volume, r.Node, r.Revision, r.SealedContentKey); err == nil {
			return ck, i + 1, nil
		}
	}
	return ContentKey{}, -1, err
}

// TestKeyRotationRevisions rotates a file twice, with a revision written
// under each key, and checks that every revision opens with the current
// keys and the history, that the history opens only under the current
// key, and that a revision written after a rotation opens under no
// earlier key.
func TestKeyRotationRevisions(t *testing.T) {
	tt := newTestTree(t)
	keys, derived := newKeys(t, 3) // K0 (the file's first key), K1, K2
	write := func(k *NodeKeys) (*RevisionRecord, ContentKey) {
		rev, err := NewID()
		if err != nil {
			t.Fatal(err)
		}
		ck, err := NewContentKey()
		if err != nil {
			t.Fatal(err)
		}
		sck, err := SealContentKey(k, tt.volume, tt.file, rev, ck)
		if err != nil {
			t.Fatal(err)
		}
		return &RevisionRecord{Volume: tt.volume, Node: tt.file, Revision: rev, SealedContentKey: sck}, ck
	}
	r0, ck0 := write(derived[0])
	// First rotation: K1, history [K0].
	h1, err := SealKeyHistory(derived[1], tt.volume, tt.file, []NodeKey{keys[0]})
	if err != nil {
		t.Fatal(err)
	}
	r1, ck1 := write(derived[1])
	// Second rotation: K2, history = K1 prepended to the opened old history.
	old, err := OpenKeyHistory(derived[1], tt.volume, tt.file, h1)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := SealKeyHistory(derived[2], tt.volume, tt.file, append([]NodeKey{keys[1]}, old...))
	if err != nil {
		t.Fatal(err)
	}
	r2, ck2 := write(derived[2])

	hist, err := OpenKeyHistory(derived[2], tt.volume, tt.file, h2)
	if err != nil || len(hist) != 2 || hist[0] != keys[1] || hist[1] != keys[0] {
		t.Fatalf("history after two rotations: %v", err)
	}
	for i, c := range []struct {
		r     *RevisionRecord
		ck    ContentKey
		which int
	}{{r0, ck0, 2}, {r1, ck1, 1}, {r2, ck2, 0}} {
		got, which, err := openAnyContentKey(t, derived[2], hist, c.r)
		if err != nil || got != c.ck || which != c.which {
			t.Errorf("revision %d: opened with key %d (want %d): %v", i, which, c.which, err)
		}
	}
	// A former member holds K0 (and K1 if removed after the first
	// rotation): neither opens the current history nor what was written
	// after.
	for i := range 2 {
		if _, err := OpenKeyHistory(derived[i], tt.volume, tt.file, h2); !errors.Is(err, ErrDecrypt) {
			t.Errorf("K%d opened the current history: %v", i, err)
		}
		if _, err := OpenContentKey(derived[i], tt.volume, tt.file, r2.Revision, r2.SealedContentKey); !errors.Is(err, ErrDecrypt) {
			t.Errorf("K%d opened a revision written after the rotation: %v", i, err)
		}
	}
	if _, err := OpenContentKey(derived[0], tt.volume, tt.file, r1.Revision, r1.SealedContentKey); !errors.Is(err, ErrDecrypt) {
		t.Errorf("K0 opened a revision written after the first rotation: %v", err)
	}
	// The history of another node does not open for this one.
	if _, err := OpenKeyHistory(derived[2], tt.volume, tt.sibling, h2); !errors.Is(err, ErrDecrypt) {
		t.Errorf("history opened for another node: %v", err)
	}
	// A previous history of the same node, sealed under K1, does not open
	// under K2 (a rollback of the history alone).
	if _, err := OpenKeyHistory(derived[2], tt.volume, tt.file, h1); !errors.Is(err, ErrDecrypt) {
		t.Errorf("the older history opened under the new key: %v", err)
	}
}

// rotatedFileRecord returns tt's file record after a rotation: new key K1
// wrapped under the folder, history [tt.fileKey], version + 1.
func (tt *testTree) rotatedFileRecord(t testing.TB) (*NodeRecord, NodeKey) {
	t.Helper()
	r := tt.fileRecord(t)
	k1, d1 := newKeys(t, 1)
	var err error
	if r.SealedKey, err = WrapNodeKey(tt.folderKeys, tt.fileRef(), k1[0]); err != nil {
		t.Fatal(err)
	}
	if r.KeyHistory, err = SealKeyHistory(d1[0], tt.volume, tt.file, []NodeKey{tt.fileKey}); err != nil {
		t.Fatal(err)
	}
	r.Version++
	return r, k1[0]
}

func TestNodeRecordKeyHistory(t *testing.T) {
	tt := newTestTree(t)
	r, _ := tt.rotatedFileRecord(t)
	pub := tt.owner.IdentityPublic()
	sig, err := r.Sign(tt.owner)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(pub, sig); err != nil {
		t.Fatal(err)
	}
	// Encoding: 0x02, the version-1 body, LP(key_history).
	v1 := cloneRecord(r)
	v1.KeyHistory = nil
	body := v1.Marshal()
	if body[0] != 0x01 {
		t.Fatal("a record without a history does not start with 0x01")
	}
	want := append([]byte{0x02}, body[1:]...)
	want = binary.BigEndian.AppendUint32(want, uint32(len(r.KeyHistory)))
	want = append(want, r.KeyHistory...)
	if got := r.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("marshal:\n got %x\nwant %x", got, want)
	}
	if !ed25519.Verify(pub, tagged(labelNodeRecord, want), sig) {
		t.Error("signature is not over tagged(label, Marshal())")
	}
	// Any change to the history, or its removal, breaks the signature.
	_, other := newKeys(t, 1)
	otherHist, err := SealKeyHistory(other[0], tt.volume, tt.file, []NodeKey{tt.fileKey})
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(r *NodeRecord){
		"history removed (downgrade to 0x01)": func(r *NodeRecord) { r.KeyHistory = nil },
		"history bit flipped":                 func(r *NodeRecord) { r.KeyHistory[20] ^= 1 },
		"history tag bit flipped":             func(r *NodeRecord) { r.KeyHistory[len(r.KeyHistory)-1] ^= 0x80 },
		"another history":                     func(r *NodeRecord) { r.KeyHistory = otherHist },
		"one key longer": func(r *NodeRecord) {
			r.KeyHistory = append(r.KeyHistory, make([]byte, 32)...)
		},
	} {
		c := cloneRecord(r)
		edit(c)
		if err := c.Verify(pub, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: error = %v", name, err)
		}
	}
	for i := 0; i < len(r.KeyHistory); i += 7 {
		c := cloneRecord(r)
		c.KeyHistory[i] ^= 1 << (i % 8)
		if err := c.Verify(pub, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("history byte %d flipped: %v", i, err)
		}
	}
	// The version-1 record's signature does not verify the rotated record
	// and the other way round.
	v1sig, err := v1.Sign(tt.owner)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(pub, v1sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("the record without history's signature verified the record with it: %v", err)
	}
	if err := v1.Verify(pub, sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("the rotated record's signature verified the record without history: %v", err)
	}
	// A move keeps the history: it binds volume and node, not the parent.
	if _, err := OpenKeyHistory(mustDerive(t, mustUnwrap(t, tt, r)), r.Volume, r.Node, r.KeyHistory); err != nil {
		t.Errorf("history of the rotated record: %v", err)
	}
	// Cloning copies the history.
	if c := cloneNodeRecord(r); !bytes.Equal(c.KeyHistory, r.KeyHistory) || (len(c.KeyHistory) > 0 && &c.KeyHistory[0] == &r.KeyHistory[0]) {
		t.Error("cloneNodeRecord does not copy KeyHistory")
	}
}

func mustUnwrap(t *testing.T, tt *testTree, r *NodeRecord) NodeKey {
	t.Helper()
	k, err := UnwrapNodeKey(tt.folderKeys, r.Ref(), r.SealedKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustDerive(t *testing.T, k NodeKey) *NodeKeys {
	t.Helper()
	d, err := k.Derive()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNodeRecordKeyHistoryValidate(t *testing.T) {
	tt := newTestTree(t)
	file, _ := tt.rotatedFileRecord(t)
	root := tt.rootRecord(t)
	folder := cloneRecord(file)
	folder.Kind, folder.Revision, folder.RevisionSeq, folder.RevisionDigest = KindFolder, nil, 0, [32]byte{}
	d := newDropFixture(t)
	drop := d.record(t)
	hist := file.KeyHistory
	full := make([]byte, SealedKeyHistoryMaxSize)
	full[0] = envelopeVersion
	bad := map[string]*NodeRecord{}
	add := func(name string, base *NodeRecord, edit func(r *NodeRecord)) {
		c := cloneRecord(base)
		edit(c)
		bad[name] = c
	}
	add("folder with a history", folder, func(r *NodeRecord) { r.KeyHistory = hist })
	add("root with a history", root, func(r *NodeRecord) { r.KeyHistory = hist })
	add("inbox drop with a history", drop, func(r *NodeRecord) { r.KeyHistory = hist })
	add("history of 65 keys", file, func(r *NodeRecord) { r.KeyHistory = append(bytes.Clone(full), make([]byte, 32)...) })
	add("history one byte short", file, func(r *NodeRecord) { r.KeyHistory = hist[:len(hist)-1] })
	add("history one byte long", file, func(r *NodeRecord) { r.KeyHistory = append(bytes.Clone(hist), 0) })
	add("history of no key (30 bytes)", file, func(r *NodeRecord) { r.KeyHistory = full[:envelopeOverhead+1] })
	add("a wrapped node key as history", file, func(r *NodeRecord) { r.KeyHistory = r.SealedKey })
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
		sig := ed25519.Sign(tt.owner.IdentityKey(), tagged(labelNodeRecord, r.encode()))
		if err := r.Verify(tt.owner.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Verify = %v", name, err)
		}
	}
	// The largest history, and a file without a head, are fine.
	for name, r := range map[string]*NodeRecord{
		"64 keys": func() *NodeRecord { c := cloneRecord(file); c.KeyHistory = full; return c }(),
		"no head": func() *NodeRecord {
			c := cloneRecord(file)
			c.Revision, c.RevisionSeq, c.RevisionDigest = nil, 0, [32]byte{}
			return c
		}(),
	} {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzOpenKeyHistory: OpenKeyHistory never panics and opens nothing but
// the genuine history (everything else is ErrDecrypt, with no keys). The
// setup is fixed, since fuzz workers rebuild it.
func FuzzOpenKeyHistory(f *testing.F) {
	tf := fuzzTree(f)
	prev := []NodeKey{vectorNodeKey("report before rotation"), tf.docsKey}
	genuine, err := sealKeyHistory(tf.fileKeys, tf.volume, tf.file, prev, nonce12(0x33))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine)
	f.Add(genuine[:len(genuine)-1])
	f.Add(append(bytes.Clone(genuine), make([]byte, 32)...))
	f.Add([]byte{})
	f.Add([]byte{0x02})
	f.Add(sealRaw(tf.fileKeys.history, nonce12(1), labelKeyHistory, idFields(tf.volume, tf.file), sealedPlainKeys([]NodeKey{prev[0], prev[0]})))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := OpenKeyHistory(tf.fileKeys, tf.volume, tf.file, b)
		if err == nil {
			if !bytes.Equal(b, genuine) || len(keys) != 2 || keys[0] != prev[0] || keys[1] != prev[1] {
				t.Fatal("opened a history other than the genuine one")
			}
			return
		}
		if !errors.Is(err, ErrDecrypt) || keys != nil {
			t.Fatalf("error %v, or keys with it", err)
		}
	})
}
