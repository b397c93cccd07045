package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

// dropFixture is dave (an uploader of f.tt.folder) dropping a new file.
type dropFixture struct {
	*shareFixture
	ref    NodeRef
	key    NodeKey
	name   string
	sealed []byte
}

func newDropFixture(t testing.TB) *dropFixture {
	t.Helper()
	d := &dropFixture{shareFixture: newShareFixture(t), name: "upload.txt"}
	node, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	d.ref = NodeRef{Volume: d.tt.volume, Parent: d.tt.folder, Node: node}
	if d.key, err = NewNodeKey(); err != nil {
		t.Fatal(err)
	}
	if d.sealed, err = SealInboxDrop(d.list.InboxPublic, d.ref, d.key, d.name); err != nil {
		t.Fatal(err)
	}
	return d
}

// record returns an unsigned drop record by dave, at version 1, with no
// revision yet.
func (d *dropFixture) record(t testing.TB) *NodeRecord {
	t.Helper()
	var nh [32]byte
	copy(nh[:], randBytesTB(t, 32))
	return &NodeRecord{Volume: d.ref.Volume, Node: d.ref.Node, Parent: d.ref.Parent, Kind: KindFile,
		NameHash: nh, SealedKey: bytes.Clone(d.sealed), Author: "dave", Version: 1}
}

func randBytesTB(t testing.TB, n int) []byte {
	t.Helper()
	id, err := NewNodeKey()
	if err != nil || n > len(id) {
		t.Fatal("random bytes", err)
	}
	return id[:n]
}

func TestInboxDrop(t *testing.T) {
	d := newDropFixture(t)
	if len(d.sealed) != SealedInboxDropMinSize || d.sealed[0] != 0x01 {
		t.Fatalf("drop is %d bytes", len(d.sealed))
	}
	key, name, err := OpenInboxDrop(d.inbox, d.ref, d.sealed)
	if err != nil || key != d.key || name != d.name {
		t.Fatalf("OpenInboxDrop = %x, %q, %v", key, name, err)
	}
	// Whoever holds the folder key opens the inbox key, and with it the drop.
	si, err := SealInboxKey(d.tt.folderKeys, d.tt.volume, d.tt.folder, d.inbox)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := OpenInboxKey(d.tt.folderKeys, d.tt.volume, d.tt.folder, d.list.InboxPublic, si)
	if err != nil {
		t.Fatal(err)
	}
	if key, name, err := OpenInboxDrop(reader, d.ref, d.sealed); err != nil || key != d.key || name != d.name {
		t.Fatalf("drop through the sealed inbox key: %v", err)
	}

	fails := func(what string, inbox *InboxKey, ref NodeRef, sealed []byte) {
		t.Helper()
		key, name, err := OpenInboxDrop(inbox, ref, sealed)
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", what, err)
		}
		if key != (NodeKey{}) || name != "" {
			t.Errorf("%s: returned a key or a name", what)
		}
	}
	s := d.sealed
	for i := range s {
		if i > 8 && i < len(s)-80 && i%13 != 0 {
			continue
		}
		fails("flip byte "+strconv.Itoa(i), d.inbox, d.ref, flip(s, i, 1<<(i%8)))
	}
	for _, n := range []int{0, 1, 100, hpkeOverhead - 1, hpkeOverhead, SealedInboxDropMinSize - 32, len(s) - 1} {
		fails("truncated to "+strconv.Itoa(n), d.inbox, d.ref, s[:n])
	}
	fails("appended byte", d.inbox, d.ref, append(bytes.Clone(s), 0))
	fails("appended bucket", d.inbox, d.ref, append(bytes.Clone(s), make([]byte, 32)...))
	fails("nil", d.inbox, d.ref, nil)
	if _, _, err := OpenInboxDrop(d.inbox, d.ref, flip(s, 0, 0x03)); !errors.Is(err, ErrUnsupportedVersion) || !errors.Is(err, ErrDecrypt) {
		t.Errorf("version 0x02: %v", err)
	}
	with := func(mutate func(r *NodeRef)) NodeRef {
		r := d.ref
		mutate(&r)
		return r
	}
	fails("other volume", d.inbox, with(func(r *NodeRef) { r.Volume = d.tt.archive }), s)
	fails("other parent", d.inbox, with(func(r *NodeRef) { r.Parent = d.tt.sibling }), s)
	fails("other node", d.inbox, with(func(r *NodeRef) { r.Node = d.tt.file }), s)
	fails("parent and node swapped", d.inbox, NodeRef{Volume: d.ref.Volume, Parent: d.ref.Node, Node: d.ref.Parent}, s)
	fails("other inbox key", mustInbox(t), d.ref, s)

	// Label separation: the same plaintext under the same context but
	// another label (a share grant's, an uploader grant's) does not open.
	pt := append(append([]byte{0x01}, d.key[:]...), namePlaintext(d.name)...)
	for _, label := range []string{labelShareGrant, labelUploaderGrant, labelRootKey} {
		o, err := hpkeSeal(d.list.InboxPublic, label, d.ref.fields(), pt)
		if err != nil {
			t.Fatal(err)
		}
		fails("sealed under "+label, d.inbox, d.ref, o)
	}
	// Non-canonical plaintexts sealed correctly are refused; a bad name
	// also wraps ErrBadName.
	for what, pt := range map[string][]byte{
		"version 2":   append(append([]byte{0x02}, d.key[:]...), namePlaintext(d.name)...),
		"no name":     append(append([]byte{0x01}, d.key[:]...), make([]byte, 32)...),
		"bad padding": append(append(append([]byte{0x01}, d.key[:]...), namePlaintext(d.name)...), make([]byte, 32)...),
		"NFD name":    append(append([]byte{0x01}, d.key[:]...), namePlaintext("Cafe\u0301")...),
		"slash":       append(append([]byte{0x01}, d.key[:]...), namePlaintext("a/b")...),
		"short key":   append([]byte{0x01, 1, 2, 3}, make([]byte, 61)...),
	} {
		o, err := hpkeSeal(d.list.InboxPublic, labelInboxDrop, d.ref.fields(), pt)
		if err != nil {
			t.Fatal(err)
		}
		fails(what, d.inbox, d.ref, o)
		if what == "NFD name" || what == "slash" {
			if _, _, err := OpenInboxDrop(d.inbox, d.ref, o); !errors.Is(err, ErrBadName) {
				t.Errorf("%s: %v, want ErrBadName", what, err)
			}
		}
	}

	// Seal and open refuse bad refs; seal refuses a zero key and a bad
	// public key; open refuses a missing inbox key.
	for what, r := range map[string]NodeRef{
		"no parent":     with(func(r *NodeRef) { r.Parent = nil }),
		"own parent":    with(func(r *NodeRef) { r.Parent = r.Node }),
		"short volume":  with(func(r *NodeRef) { r.Volume = r.Volume[:15] }),
		"long node":     with(func(r *NodeRef) { r.Node = append(bytes.Clone(r.Node), 0) }),
		"short parent":  with(func(r *NodeRef) { r.Parent = r.Parent[:1] }),
		"empty volume":  with(func(r *NodeRef) { r.Volume = nil }),
		"empty node ID": with(func(r *NodeRef) { r.Node = nil }),
	} {
		if _, err := SealInboxDrop(d.list.InboxPublic, r, d.key, d.name); err == nil {
			t.Errorf("seal with %s accepted", what)
		}
		if _, _, err := OpenInboxDrop(d.inbox, r, s); err == nil {
			t.Errorf("open with %s accepted", what)
		}
	}
	if _, err := SealInboxDrop(d.list.InboxPublic, d.ref, NodeKey{}, d.name); err == nil {
		t.Error("seal of an all-zero key")
	}
	for what, pub := range map[string][]byte{
		"nil":          nil,
		"short":        d.list.InboxPublic[:100],
		"long":         append(bytes.Clone(d.list.InboxPublic), 0),
		"not X-Wing":   bytes.Repeat([]byte{0xff}, EncryptionPublicKeySize),
		"Ed25519 size": d.tt.owner.IdentityPublic(),
	} {
		if _, err := SealInboxDrop(pub, d.ref, d.key, d.name); err == nil {
			t.Errorf("seal to a %s public key", what)
		}
	}
	var nilInbox *InboxKey
	for what, k := range map[string]*InboxKey{"nil": nilInbox, "zero": {}} {
		if _, _, err := OpenInboxDrop(k, d.ref, s); err == nil {
			t.Errorf("open with a %s inbox key", what)
		}
	}
	// Two drops of the same key and name differ (randomized encapsulation).
	s2, err := SealInboxDrop(d.list.InboxPublic, d.ref, d.key, d.name)
	if err != nil || bytes.Equal(s2, s) {
		t.Fatalf("second seal: equal or %v", err)
	}
}

func TestInboxDropNames(t *testing.T) {
	d := newDropFixture(t)
	sizes := map[string]int{}
	for _, tc := range []struct{ in, want string }{
		{"Cafe\u0301 menu", "Caf\u00e9 menu"},
		{"\u212b", "\u00c5"},
		{strings.Repeat("x", 30), strings.Repeat("x", 30)},
		{strings.Repeat("x", 31), strings.Repeat("x", 31)},
		{strings.Repeat("z", MaxNameLen), strings.Repeat("z", MaxNameLen)},
	} {
		s, err := SealInboxDrop(d.list.InboxPublic, d.ref, d.key, tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		_, name, err := OpenInboxDrop(d.inbox, d.ref, s)
		if err != nil || name != tc.want || name != mustNormalize(t, tc.in) {
			t.Errorf("%q opened as %q, %v; want %q", tc.in, name, err, tc.want)
		}
		if !IsSealedInboxDropSize(len(s)) {
			t.Errorf("%q: size %d not a drop size", tc.in, len(s))
		}
		sizes[tc.in] = len(s)
	}
	if sizes[strings.Repeat("x", 30)] != 1202 || sizes[strings.Repeat("x", 31)] != 1234 || sizes[strings.Repeat("z", MaxNameLen)] != 1458 {
		t.Errorf("sizes: %v", sizes)
	}
	if SealedInboxDropMinSize != 1202 || SealedInboxDropMaxSize != 1458 {
		t.Errorf("bounds %d..%d, want 1202..1458", SealedInboxDropMinSize, SealedInboxDropMaxSize)
	}
	var valid []int
	for n := range 2000 {
		if IsSealedInboxDropSize(n) {
			valid = append(valid, n)
		}
	}
	if len(valid) != 9 || valid[0] != 1202 || valid[8] != 1458 {
		t.Errorf("valid drop sizes %v, want 1170 + 32k, k = 1..9", valid)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a\x00b", "a\tb", "\xff", strings.Repeat("y", MaxNameLen+1)} {
		if _, err := SealInboxDrop(d.list.InboxPublic, d.ref, d.key, bad); !errors.Is(err, ErrBadName) {
			t.Errorf("name %q: %v, want ErrBadName", bad, err)
		}
	}
}

func TestDropRecord(t *testing.T) {
	d := newDropFixture(t)
	r := d.record(t)
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if !r.IsDrop() {
		t.Fatal("drop record is not a drop")
	}
	// The encoding is the ordinary one, with LP of an empty sealed name.
	var want []byte
	want = append(want, 0x01)
	for _, f := range [][]byte{r.Volume, r.Node, r.Parent} {
		want = binary.BigEndian.AppendUint32(want, uint32(len(f)))
		want = append(want, f...)
	}
	want = append(want, byte(KindFile))
	want = append(want, r.NameHash[:]...)
	want = append(want, 0, 0, 0, 0)
	want = binary.BigEndian.AppendUint32(want, uint32(len(r.SealedKey)))
	want = append(want, r.SealedKey...)
	want = binary.BigEndian.AppendUint32(want, 4)
	want = append(want, "dave"...)
	want = binary.BigEndian.AppendUint64(want, 1)
	want = append(want, 0, 0, 0, 0)
	want = binary.BigEndian.AppendUint64(want, 0)
	want = append(want, make([]byte, 32)...)
	if got := r.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("Marshal:\n got %x\nwant %x", got, want)
	}

	// Signed by the uploader, it verifies under its key only.
	head, _ := d.tt.revisionRecord(t, 1)
	withHead := cloneRecord(r)
	withHead.Node = head.Node
	withHead.SealedKey, _ = SealInboxDrop(d.list.InboxPublic, withHead.Ref(), d.key, d.name)
	withHead.Version, withHead.Revision, withHead.RevisionSeq, withHead.RevisionDigest = 2, head.Revision, head.Seq, head.Digest()
	zeroHash := cloneRecord(r)
	zeroHash.NameHash = [32]byte{}
	for name, rec := range map[string]*NodeRecord{"new": r, "with head": withHead, "zero name hash": zeroHash} {
		if err := rec.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sig, err := rec.Sign(d.dave)
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Verify(d.dave.IdentityPublic(), sig); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := rec.Verify(d.tt.owner.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: verified under the owner's key", name)
		}
		if !ed25519.Verify(d.dave.IdentityPublic(), tagged(labelNodeRecord, rec.Marshal()), sig) {
			t.Errorf("%s: not a signature over tagged(node-record, Marshal())", name)
		}
		c := cloneRecord(rec)
		c.SealedKey[len(c.SealedKey)-1] ^= 1
		if err := c.Verify(d.dave.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: sealed drop changed under the signature", name)
		}
		c = cloneRecord(rec)
		c.NameHash[0] ^= 1
		if err := c.Verify(d.dave.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: name hash changed under the signature", name)
		}
	}

	// IsDrop: exactly the non-root records without a sealed name.
	file := d.tt.fileRecord(t)
	root := d.tt.rootRecord(t)
	var nilRec *NodeRecord
	if file.IsDrop() || root.IsDrop() || nilRec.IsDrop() {
		t.Error("IsDrop of an ordinary record, a root or nil")
	}
	folderDrop := cloneRecord(r)
	folderDrop.Kind = KindFolder
	if !folderDrop.IsDrop() {
		t.Error("IsDrop looks at the form only")
	}

	// A drop's name is not opened by OpenRecordName.
	if _, err := OpenRecordName(d.tt.folderKeys, r); !errors.Is(err, ErrDecrypt) {
		t.Errorf("OpenRecordName of a drop: %v", err)
	}

	// Validate refuses each violation of the drop form once.
	bad := map[string]*NodeRecord{}
	add := func(name string, base *NodeRecord, edit func(r *NodeRecord)) {
		c := cloneRecord(base)
		edit(c)
		bad[name] = c
	}
	add("drop of a folder", r, func(r *NodeRecord) { r.Kind = KindFolder })
	add("drop of kind 0", r, func(r *NodeRecord) { r.Kind = 0 })
	add("drop of kind 3", r, func(r *NodeRecord) { r.Kind = 3 })
	add("drop key 1201 bytes", r, func(r *NodeRecord) { r.SealedKey = r.SealedKey[:1201] })
	add("drop key 1203 bytes", r, func(r *NodeRecord) { r.SealedKey = append(r.SealedKey, 0) })
	add("drop key 1170 bytes (no name bucket)", r, func(r *NodeRecord) { r.SealedKey = r.SealedKey[:1170] })
	add("drop key 1490 bytes (ten buckets)", r, func(r *NodeRecord) { r.SealedKey = make([]byte, 1490) })
	add("drop key of a share grant's size but off-bucket (1218)", r, func(r *NodeRecord) { r.SealedKey = make([]byte, 1218) })
	add("drop with a wrapped node key", r, func(r *NodeRecord) { r.SealedKey = file.SealedKey })
	add("drop with a sealed root key", r, func(r *NodeRecord) { r.SealedKey = root.SealedKey })
	add("drop without a key", r, func(r *NodeRecord) { r.SealedKey = nil })
	add("sealed name and a drop-size key", r, func(r *NodeRecord) { r.SealedName = file.SealedName })
	add("ordinary record with a drop-size key", file, func(r *NodeRecord) { r.SealedKey = d.sealed })
	add("root with a drop key", root, func(r *NodeRecord) { r.SealedKey = d.sealed })
	add("drop without a parent (a root)", r, func(r *NodeRecord) { r.Parent = nil })
	add("drop that is its own parent", r, func(r *NodeRecord) { r.Parent = r.Node })
	add("drop with revision but no digest", withHead, func(r *NodeRecord) { r.RevisionDigest = [32]byte{} })
	add("drop with digest but no revision", r, func(r *NodeRecord) { r.RevisionDigest = [32]byte{1} })
	add("drop at version 0", r, func(r *NodeRecord) { r.Version = 0 })
	add("drop without an author", r, func(r *NodeRecord) { r.Author = "" })
	for name, rec := range bad {
		if err := rec.Validate(); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Validate = %v", name, err)
		}
		if rec.Marshal() != nil {
			t.Errorf("%s: Marshal returned bytes", name)
		}
		if _, err := rec.Sign(d.dave); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Sign = %v", name, err)
		}
		sig := ed25519.Sign(d.dave.IdentityKey(), tagged(labelNodeRecord, rec.encode()))
		if err := rec.Verify(d.dave.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Verify = %v", name, err)
		}
	}
	// Every size of the drop form is accepted.
	for k := 1; k <= 9; k++ {
		c := cloneRecord(r)
		c.SealedKey = make([]byte, 1170+32*k)
		if err := c.Validate(); err != nil {
			t.Errorf("drop key of %d bytes: %v", len(c.SealedKey), err)
		}
	}
}

func TestAdoptDrop(t *testing.T) {
	d := newDropFixture(t)
	head, _ := d.tt.revisionRecord(t, 1)
	ref := NodeRef{Volume: d.tt.volume, Parent: d.tt.folder, Node: head.Node}
	sealed, err := SealInboxDrop(d.list.InboxPublic, ref, d.key, "Cafe\u0301.txt")
	if err != nil {
		t.Fatal(err)
	}
	drop := &NodeRecord{Volume: ref.Volume, Node: ref.Node, Parent: ref.Parent, Kind: KindFile, NameHash: [32]byte{9},
		SealedKey: sealed, Author: "dave", Version: 2, Revision: head.Revision, RevisionSeq: head.Seq, RevisionDigest: head.Digest()}
	dropBytes := drop.Marshal()
	_, name, err := OpenInboxDrop(d.inbox, ref, sealed)
	if err != nil {
		t.Fatal(err)
	}
	a, err := AdoptDrop(d.tt.folderKeys, d.inbox, drop, name, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(drop.Marshal(), dropBytes) {
		t.Fatal("AdoptDrop changed the drop")
	}
	if a.IsDrop() || a.Version != 3 || a.Author != "bob" || a.Kind != KindFile ||
		!bytes.Equal(a.Revision, head.Revision) || a.RevisionSeq != head.Seq || a.RevisionDigest != head.Digest() ||
		!bytes.Equal(a.Node, drop.Node) || !bytes.Equal(a.Parent, drop.Parent) || !bytes.Equal(a.Volume, drop.Volume) {
		t.Fatalf("adopted record %+v", a)
	}
	if got, err := OpenRecordName(d.tt.folderKeys, a); err != nil || got != "Caf\u00e9.txt" {
		t.Fatalf("adopted name %q, %v", got, err)
	}
	if k, err := UnwrapNodeKey(d.tt.folderKeys, a.Ref(), a.SealedKey); err != nil || k != d.key {
		t.Fatal("adopted key is not the uploader's key")
	}
	if err := head.MatchesHead(a); err != nil {
		t.Fatalf("the adopted record does not vouch for the uploader's revision: %v", err)
	}
	sig, err := a.Sign(d.bob)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(d.bob.IdentityPublic(), sig); err != nil {
		t.Fatal(err)
	}
	// Renamed on adoption, to resolve a clash.
	if b, err := AdoptDrop(d.tt.folderKeys, d.inbox, drop, "Café (2).txt", "alice"); err != nil {
		t.Fatal(err)
	} else if got, err := OpenRecordName(d.tt.folderKeys, b); err != nil || got != "Café (2).txt" {
		t.Fatalf("renamed adoption: %q, %v", got, err)
	}

	file := d.tt.fileRecord(t)
	maxed := cloneRecord(drop)
	maxed.Version = math.MaxUint64
	for what, fn := range map[string]func() (*NodeRecord, error){
		"ordinary record": func() (*NodeRecord, error) { return AdoptDrop(d.tt.folderKeys, d.inbox, file, "x", "bob") },
		"nil record":      func() (*NodeRecord, error) { return AdoptDrop(d.tt.folderKeys, d.inbox, nil, "x", "bob") },
		"other inbox":     func() (*NodeRecord, error) { return AdoptDrop(d.tt.folderKeys, mustInbox(t), drop, "x", "bob") },
		"bad name":        func() (*NodeRecord, error) { return AdoptDrop(d.tt.folderKeys, d.inbox, drop, "a/b", "bob") },
		"no author":       func() (*NodeRecord, error) { return AdoptDrop(d.tt.folderKeys, d.inbox, drop, "x", "") },
		"no folder keys":  func() (*NodeRecord, error) { return AdoptDrop(nil, d.inbox, drop, "x", "bob") },
		"max version":     func() (*NodeRecord, error) { return AdoptDrop(d.tt.folderKeys, d.inbox, maxed, "x", "bob") },
	} {
		if r, err := fn(); err == nil || r != nil {
			t.Errorf("%s: adopted", what)
		}
	}
}

func TestUploaderGrant(t *testing.T) {
	f := newShareFixture(t)
	ref := f.list.GrantRef("dave")
	sealed, err := SealUploaderGrant(f.dave.EncryptionPublic(), ref, "Inbox")
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != hpkeOverhead+1+32 || sealed[0] != 0x01 {
		t.Fatalf("uploader grant is %d bytes", len(sealed))
	}
	name, err := OpenUploaderGrant(f.dave, ref, sealed)
	if err != nil || name != "Inbox" {
		t.Fatalf("OpenUploaderGrant = %q, %v", name, err)
	}
	// KeyCheck is ignored on both sides.
	noCheck := ref
	noCheck.KeyCheck = [32]byte{}
	if name, err := OpenUploaderGrant(f.dave, noCheck, sealed); err != nil || name != "Inbox" {
		t.Fatalf("open without a key check: %q, %v", name, err)
	}
	s0, err := SealUploaderGrant(f.dave.EncryptionPublic(), noCheck, "Inbox")
	if err != nil {
		t.Fatal(err)
	}
	if name, err := OpenUploaderGrant(f.dave, ref, s0); err != nil || name != "Inbox" {
		t.Fatalf("sealed without a key check: %q, %v", name, err)
	}

	fails := func(what string, keys *AccountKeys, ref GrantRef, sealed []byte) {
		t.Helper()
		name, err := OpenUploaderGrant(keys, ref, sealed)
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", what, err)
		}
		if name != "" {
			t.Errorf("%s: returned a name", what)
		}
	}
	for i := range sealed {
		if i > 8 && i < len(sealed)-80 && i%13 != 0 {
			continue
		}
		fails("flip byte "+strconv.Itoa(i), f.dave, ref, flip(sealed, i, 1<<(i%8)))
	}
	for _, n := range []int{0, 1, hpkeOverhead, minSealedUploaderGrantSize - 1, len(sealed) - 1} {
		fails("truncated to "+strconv.Itoa(n), f.dave, ref, sealed[:n])
	}
	fails("appended byte", f.dave, ref, append(bytes.Clone(sealed), 0))
	fails("nil", f.dave, ref, nil)
	with := func(mutate func(r *GrantRef)) GrantRef {
		r := ref
		mutate(&r)
		return r
	}
	fails("other member", f.dave, with(func(r *GrantRef) { r.Member = "carol" }), sealed)
	fails("other share", f.dave, with(func(r *GrantRef) { r.Share = f.tt.archive }), sealed)
	fails("other node", f.dave, with(func(r *GrantRef) { r.Node = f.tt.sibling }), sealed)
	fails("other volume", f.dave, with(func(r *GrantRef) { r.Volume = f.tt.root }), sealed)
	fails("other recipient", f.carol, ref, sealed)

	// A viewer grant and an uploader grant, to one recipient under one
	// ref, never open as each other.
	cref := f.list.GrantRef("carol")
	viewer, err := SealShareGrant(f.carol.EncryptionPublic(), cref, f.tt.folderKey, "Inbox")
	if err != nil {
		t.Fatal(err)
	}
	fails("a viewer grant opened as an uploader grant", f.carol, cref, viewer)
	up, err := SealUploaderGrant(f.carol.EncryptionPublic(), cref, "Inbox")
	if err != nil {
		t.Fatal(err)
	}
	if k, n, err := OpenShareGrant(f.carol, cref, up); !errors.Is(err, ErrDecrypt) || k != (NodeKey{}) || n != "" {
		t.Errorf("an uploader grant opened as a viewer grant: %v", err)
	}
	// Even with a plaintext shaped like the other's.
	info, _ := cref.fields()
	forged, err := hpkeSeal(f.carol.EncryptionPublic(), labelShareGrant, info, append([]byte{0x01}, namePlaintext("Inbox")...))
	if err != nil {
		t.Fatal(err)
	}
	fails("an uploader grant's plaintext under the share-grant label", f.carol, cref, forged)

	for what, pt := range map[string][]byte{
		"version 2":   append([]byte{0x02}, namePlaintext("Inbox")...),
		"no name":     {0x01},
		"bad padding": append(append([]byte{0x01}, namePlaintext("Inbox")...), make([]byte, 32)...),
		"NFD name":    append([]byte{0x01}, namePlaintext("Cafe\u0301")...),
		"with a key":  append(append([]byte{0x01}, f.tt.folderKey[:]...), namePlaintext("Inbox")...),
	} {
		dinfo, _ := ref.fields()
		s, err := hpkeSeal(f.dave.EncryptionPublic(), labelUploaderGrant, dinfo, pt)
		if err != nil {
			t.Fatal(err)
		}
		fails(what, f.dave, ref, s)
	}

	// Names: normalised, padded, refused as SealName does.
	for _, tc := range []struct {
		in, want string
		size     int
	}{
		{"Cafe\u0301", "Caf\u00e9", 1170},
		{strings.Repeat("x", 30), strings.Repeat("x", 30), 1170},
		{strings.Repeat("x", 31), strings.Repeat("x", 31), 1202},
		{strings.Repeat("z", MaxNameLen), strings.Repeat("z", MaxNameLen), maxSealedUploaderGrantSize},
	} {
		s, err := SealUploaderGrant(f.dave.EncryptionPublic(), ref, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := OpenUploaderGrant(f.dave, ref, s); err != nil || n != tc.want || len(s) != tc.size {
			t.Errorf("%q: %q, %d bytes, %v", tc.in, n, len(s), err)
		}
	}
	if maxSealedUploaderGrantSize != 1426 {
		t.Errorf("max uploader grant %d", maxSealedUploaderGrantSize)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a\x00b", "\xff", strings.Repeat("y", MaxNameLen+1)} {
		if _, err := SealUploaderGrant(f.dave.EncryptionPublic(), ref, bad); !errors.Is(err, ErrBadName) {
			t.Errorf("name %q: %v, want ErrBadName", bad, err)
		}
	}
	for what, r := range map[string]GrantRef{
		"short share": with(func(r *GrantRef) { r.Share = r.Share[:3] }),
		"no volume":   with(func(r *GrantRef) { r.Volume = nil }),
		"long node":   with(func(r *GrantRef) { r.Node = append(bytes.Clone(r.Node), 0) }),
		"no member":   with(func(r *GrantRef) { r.Member = "" }),
		"long member": with(func(r *GrantRef) { r.Member = strings.Repeat("m", MaxAuthorLen+1) }),
	} {
		if _, err := SealUploaderGrant(f.dave.EncryptionPublic(), r, "Inbox"); err == nil {
			t.Errorf("seal with %s accepted", what)
		}
		if _, err := OpenUploaderGrant(f.dave, r, sealed); err == nil {
			t.Errorf("open with %s accepted", what)
		}
	}
	if _, err := SealUploaderGrant(f.dave.EncryptionPublic()[:100], ref, "Inbox"); err == nil {
		t.Error("seal to a short public key")
	}
	if _, err := OpenUploaderGrant(nil, ref, sealed); err == nil {
		t.Error("open with nil keys")
	}
}

// TestInboxErrorsHideSecrets: no error of inbox.go repeats a node key, an
// inbox seed or a name.
func TestInboxErrorsHideSecrets(t *testing.T) {
	d := newDropFixture(t)
	secret := "secret-plan-q3"
	sealed, err := SealInboxDrop(d.list.InboxPublic, d.ref, d.key, secret)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	add := func(err error) {
		if err == nil {
			t.Fatal("expected an error")
		}
		msgs = append(msgs, err.Error())
	}
	_, _, err = OpenInboxDrop(mustInbox(t), d.ref, sealed)
	add(err)
	_, err = SealInboxDrop(d.list.InboxPublic, d.ref, d.key, secret+"/x")
	add(err)
	info := d.ref.fields()
	bad, _ := hpkeSeal(d.list.InboxPublic, labelInboxDrop, info, append(append([]byte{0x01}, d.key[:]...), namePlaintext(secret+"/z")...))
	_, _, err = OpenInboxDrop(d.inbox, d.ref, bad)
	add(err)
	_, err = SealUploaderGrant(d.dave.EncryptionPublic(), d.list.GrantRef("dave"), secret+"/x")
	add(err)
	g, _ := SealUploaderGrant(d.dave.EncryptionPublic(), d.list.GrantRef("dave"), secret)
	_, err = OpenUploaderGrant(d.carol, d.list.GrantRef("dave"), g)
	add(err)
	r := &NodeRecord{Volume: d.ref.Volume, Node: d.ref.Node, Parent: d.ref.Parent, Kind: KindFile, SealedKey: sealed, Author: "dave", Version: 1}
	_, err = AdoptDrop(d.tt.folderKeys, d.inbox, r, secret+"/y", "bob")
	add(err)
	_, err = AdoptDrop(d.tt.folderKeys, mustInbox(t), r, secret, "bob")
	add(err)
	for _, m := range msgs {
		if leaks(m, d.key[:], d.inbox.seed[:]) || strings.Contains(m, secret) {
			t.Errorf("error leaks a secret: %s", m)
		}
	}
}

// FuzzOpenInboxDrop: OpenInboxDrop never panics, and opens nothing but
// the genuine drop (every other input is ErrDecrypt, with no key). The
// genuine drop is share.json's fixed one: fuzz workers rebuild the setup,
// so it must not be sealed anew (HPKE is randomized).
func FuzzOpenInboxDrop(f *testing.F) {
	tf := fuzzTree(f)
	inbox, err := newInboxKey(named("inbox seed"))
	if err != nil {
		f.Fatal(err)
	}
	ref := NodeRef{Volume: tf.volume, Parent: tf.docs, Node: vectorID("dropped scan")}
	key := vectorNodeKey("dropped scan")
	genuine, err := hex.DecodeString(vectorDropScan)
	if err != nil {
		f.Fatal(err)
	}
	if k, _, err := OpenInboxDrop(inbox, ref, genuine); err != nil || k != key {
		f.Fatalf("the fixed drop does not open: %v", err)
	}
	f.Add(genuine)
	f.Add(genuine[:SealedInboxDropMinSize-1])
	f.Add(append(bytes.Clone(genuine), make([]byte, 32)...))
	f.Add([]byte{})
	f.Add([]byte{0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, name, err := OpenInboxDrop(inbox, ref, b)
		if err == nil {
			if !bytes.Equal(b, genuine) || k != key || name != "Scan 2026-01.pdf" {
				t.Fatal("opened a drop other than the genuine one")
			}
			return
		}
		if !errors.Is(err, ErrDecrypt) || k != (NodeKey{}) || name != "" {
			t.Fatalf("error %v, or a key or name with it", err)
		}
	})
}
