package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// shareFixture is an owner sharing tt.folder with three members.
type shareFixture struct {
	tt                     *testTree
	share                  []byte
	bob, carol, dave       *AccountKeys // editor, viewer, uploader
	inbox                  *InboxKey
	list                   *ShareList
	fpBob, fpCarol, fpDave [32]byte
}

func fingerprintOf(t testing.TB, k *AccountKeys, user string) [32]byte {
	t.Helper()
	b, err := OpenBundle(signed(t, k, user, 1700000000), user)
	if err != nil {
		t.Fatal(err)
	}
	return b.FingerprintBytes()
}

func newShareFixture(t testing.TB) *shareFixture {
	t.Helper()
	f := &shareFixture{tt: newTestTree(t), bob: mustKeys(t), carol: mustKeys(t), dave: mustKeys(t)}
	var err error
	if f.share, err = NewID(); err != nil {
		t.Fatal(err)
	}
	if f.inbox, err = NewInboxKey(); err != nil {
		t.Fatal(err)
	}
	f.fpBob = fingerprintOf(t, f.bob, "bob")
	f.fpCarol = fingerprintOf(t, f.carol, "carol")
	f.fpDave = fingerprintOf(t, f.dave, "dave")
	kc, err := ShareKeyCheck(f.share, f.tt.volume, f.tt.folder, f.tt.folderKey)
	if err != nil {
		t.Fatal(err)
	}
	f.list = &ShareList{
		Share: f.share, Volume: f.tt.volume, Node: f.tt.folder, Owner: "alice", Version: 3,
		KeyCheck: kc, InboxPublic: f.inbox.Public(),
		Members: []ShareMember{
			{Name: "bob", Fingerprint: f.fpBob, Role: RoleEditor},
			{Name: "carol", Fingerprint: f.fpCarol, Role: RoleViewer},
			{Name: "dave", Fingerprint: f.fpDave, Role: RoleUploader},
		},
	}
	if err := f.list.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

func cloneShareList(l *ShareList) *ShareList {
	c := *l
	c.Share, c.Volume, c.Node = bytes.Clone(l.Share), bytes.Clone(l.Volume), bytes.Clone(l.Node)
	c.InboxPublic = bytes.Clone(l.InboxPublic)
	c.Members = append([]ShareMember(nil), l.Members...)
	return &c
}

func TestRole(t *testing.T) {
	for _, r := range []Role{RoleViewer, RoleEditor, RoleUploader} {
		if !r.Valid() {
			t.Errorf("%v not valid", r)
		}
		got, err := ParseRole(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %v, %v", r.String(), got, err)
		}
	}
	if RoleViewer.String() != "viewer" || RoleEditor.String() != "editor" || RoleUploader.String() != "uploader" {
		t.Error("role names changed")
	}
	for _, r := range []Role{0, 4, 255} {
		if r.Valid() {
			t.Errorf("role %d valid", r)
		}
		if want := "role(" + strconv.Itoa(int(r)) + ")"; r.String() != want {
			t.Errorf("String = %q, want %q", r.String(), want)
		}
	}
	for _, s := range []string{"", "Viewer", "owner", "role(1)", "1", "editor "} {
		_, err := ParseRole(s)
		if err == nil {
			t.Errorf("ParseRole(%q) accepted", s)
		} else if !strings.Contains(err.Error(), "viewer, editor or uploader") {
			t.Errorf("ParseRole error %q does not list the roles", err)
		}
	}
}

func TestShareListMarshalLayout(t *testing.T) {
	f := newShareFixture(t)
	l := f.list
	lp := func(b, x []byte) []byte { return append(binary.BigEndian.AppendUint32(b, uint32(len(x))), x...) }
	want := []byte{0x01}
	want = lp(want, l.Share)
	want = lp(want, l.Volume)
	want = lp(want, l.Node)
	want = lp(want, []byte("alice"))
	want = binary.BigEndian.AppendUint64(want, 3)
	want = append(want, l.KeyCheck[:]...)
	want = lp(want, l.InboxPublic)
	want = binary.BigEndian.AppendUint32(want, 3)
	for _, m := range l.Members {
		want = lp(want, []byte(m.Name))
		want = append(want, m.Fingerprint[:]...)
		want = append(want, byte(m.Role))
	}
	got := l.Marshal()
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal =\n%x\nwant\n%x", got, want)
	}
	p, err := ParseShareList(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Marshal(), got) {
		t.Fatal("Marshal(Parse(b)) != b")
	}
	if p.Owner != "alice" || p.Version != 3 || len(p.Members) != 3 || p.Members[2].Role != RoleUploader || p.KeyCheck != l.KeyCheck {
		t.Fatalf("parsed %+v", p)
	}
	// Parsed byte fields must not alias the input.
	got[10] ^= 0xff
	if !bytes.Equal(p.Marshal(), want) {
		t.Fatal("parsed list aliases its input")
	}

	// A list without members or inbox key round-trips with nil fields.
	empty := cloneShareList(l)
	empty.Members, empty.InboxPublic = nil, nil
	b := empty.Marshal()
	if b == nil {
		t.Fatal("list without members refused")
	}
	p, err = ParseShareList(b)
	if err != nil || p.Members != nil || p.InboxPublic != nil || !bytes.Equal(p.Marshal(), b) {
		t.Fatalf("empty list: %+v, %v", p, err)
	}
}

func TestShareListValidate(t *testing.T) {
	f := newShareFixture(t)
	long := strings.Repeat("x", MaxAuthorLen+1)
	many := func(n int) []ShareMember {
		ms := make([]ShareMember, n)
		for i := range ms {
			ms[i] = ShareMember{Name: "m" + strconv.Itoa(100000+i), Fingerprint: f.fpBob, Role: RoleViewer}
		}
		return ms
	}
	cases := map[string]func(l *ShareList){
		"short share":              func(l *ShareList) { l.Share = l.Share[:IDSize-1] },
		"no share":                 func(l *ShareList) { l.Share = nil },
		"long volume":              func(l *ShareList) { l.Volume = append(l.Volume, 0) },
		"short node":               func(l *ShareList) { l.Node = l.Node[:1] },
		"no owner":                 func(l *ShareList) { l.Owner = "" },
		"long owner":               func(l *ShareList) { l.Owner = long },
		"version 0":                func(l *ShareList) { l.Version = 0 },
		"no key check":             func(l *ShareList) { l.KeyCheck = [32]byte{} },
		"too many members":         func(l *ShareList) { l.Members = many(MaxShareMembers + 1); l.InboxPublic = nil },
		"unsorted":                 func(l *ShareList) { l.Members[0], l.Members[1] = l.Members[1], l.Members[0] },
		"duplicate":                func(l *ShareList) { l.Members[1].Name = "bob" },
		"owner member":             func(l *ShareList) { l.Members[0].Name = "alice" },
		"empty member name":        func(l *ShareList) { l.Members[0].Name = "" },
		"long member name":         func(l *ShareList) { l.Members[2].Name = long },
		"zero fingerprint":         func(l *ShareList) { l.Members[1].Fingerprint = [32]byte{} },
		"role 0":                   func(l *ShareList) { l.Members[0].Role = 0 },
		"role 4":                   func(l *ShareList) { l.Members[0].Role = 4 },
		"uploader without inbox":   func(l *ShareList) { l.InboxPublic = nil },
		"inbox without uploader":   func(l *ShareList) { l.Members[2].Role = RoleViewer },
		"short inbox key":          func(l *ShareList) { l.InboxPublic = l.InboxPublic[:EncryptionPublicKeySize-1] },
		"inbox key does not parse": func(l *ShareList) { l.InboxPublic = bytes.Repeat([]byte{0xff}, EncryptionPublicKeySize) },
	}
	sig, err := f.list.Sign(f.tt.owner)
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range cases {
		l := cloneShareList(f.list)
		mutate(l)
		if err := l.Validate(); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Validate = %v, want ErrBadRecord", name, err)
		}
		if l.Marshal() != nil {
			t.Errorf("%s: Marshal returned bytes", name)
		}
		if _, err := l.Sign(f.tt.owner); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Sign = %v", name, err)
		}
		if err := l.Verify(f.tt.owner.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Verify = %v", name, err)
		}
		// The same fields encoded anyway must not parse.
		if _, err := ParseShareList(l.encode()); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: ParseShareList = %v", name, err)
		}
	}
	// The limits themselves are accepted.
	l := cloneShareList(f.list)
	l.Members, l.InboxPublic = many(MaxShareMembers), nil
	l.Owner = strings.Repeat("o", MaxAuthorLen)
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if p, err := ParseShareList(l.Marshal()); err != nil || len(p.Members) != MaxShareMembers {
		t.Fatal(err)
	}
	var nilList *ShareList
	if err := nilList.Validate(); !errors.Is(err, ErrBadRecord) {
		t.Fatal(err)
	}
	if nilList.Marshal() != nil {
		t.Fatal("nil list marshals")
	}
}

func TestParseShareListRejects(t *testing.T) {
	f := newShareFixture(t)
	b := f.list.Marshal()
	for n := range len(b) {
		if _, err := ParseShareList(b[:n]); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	for _, extra := range [][]byte{{0}, {1}, make([]byte, 38)} {
		if _, err := ParseShareList(append(bytes.Clone(b), extra...)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("trailing %d bytes: %v", len(extra), err)
		}
	}
	if _, err := ParseShareList(flip(b, 0, 0x03)); !errors.Is(err, ErrBadRecord) || !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("version 2: %v", err)
	}
	// A count larger than the members present, and one above the limit,
	// are refused before anything is allocated for them.
	countAt := len(b) - 3*(4+32+1) - len("bob") - len("carol") - len("dave") - 4
	if binary.BigEndian.Uint32(b[countAt:]) != 3 {
		t.Fatal("count offset")
	}
	for _, c := range []uint32{0, 2, 4, MaxShareMembers + 1, 1 << 31} {
		bad := bytes.Clone(b)
		binary.BigEndian.PutUint32(bad[countAt:], c)
		if _, err := ParseShareList(bad); !errors.Is(err, ErrBadRecord) {
			t.Errorf("count %d: %v", c, err)
		}
	}
	// A non-canonical length prefix (owner length +1, eating a byte of the
	// version) is refused.
	ownerAt := 1 + 3*(4+IDSize)
	bad := bytes.Clone(b)
	binary.BigEndian.PutUint32(bad[ownerAt:], 6)
	if _, err := ParseShareList(bad); !errors.Is(err, ErrBadRecord) {
		t.Errorf("owner length: %v", err)
	}

	type mut struct {
		name   string
		mutate func(l *ShareList)
	}
	for _, m := range []mut{
		{"unsorted", func(l *ShareList) { l.Members[1], l.Members[2] = l.Members[2], l.Members[1] }},
		{"duplicate", func(l *ShareList) { l.Members[1] = l.Members[0] }},
		{"bad role", func(l *ShareList) { l.Members[1].Role = 9 }},
		{"owner listed", func(l *ShareList) { l.Members[0].Name = "alice" }},
		{"uploader without inbox key", func(l *ShareList) { l.InboxPublic = nil }},
		{"inbox key without uploader", func(l *ShareList) { l.Members = l.Members[:2] }},
	} {
		l := cloneShareList(f.list)
		m.mutate(l)
		if _, err := ParseShareList(l.encode()); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %v", m.name, err)
		}
	}
}

func TestShareListSignVerify(t *testing.T) {
	f := newShareFixture(t)
	owner := f.tt.owner
	pub := owner.IdentityPublic()
	sig, err := f.list.Sign(owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != ed25519.SignatureSize {
		t.Fatal("signature size")
	}
	if !ed25519.Verify(pub, tagged("coffer/v1/share-list", f.list.Marshal()), sig) {
		t.Fatal("signature is not over tagged(coffer/v1/share-list, Marshal())")
	}
	vk, err := NewVerifyKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.list.Verify(pub, sig); err != nil {
		t.Fatal(err)
	}
	if err := f.list.VerifyWith(vk, sig); err != nil {
		t.Fatal(err)
	}
	fails := func(what string, l *ShareList, pub ed25519.PublicKey, sig []byte) {
		t.Helper()
		if err := l.Verify(pub, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", what, err)
		}
		if vk, err := NewVerifyKey(pub); err == nil {
			if err := l.VerifyWith(vk, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s: VerifyWith = %v, want ErrBadSignature", what, err)
			}
		}
	}
	// Bit flips in the signed bytes: every byte that still parses must fail
	// to verify; a sample of every 7th byte, plus all of the header.
	b := f.list.Marshal()
	parsed := 0
	for i := range b {
		if i > 120 && i%7 != 0 {
			continue
		}
		for _, mask := range []byte{0x01, 0x80} {
			l, err := ParseShareList(flip(b, i, mask))
			if err != nil {
				if !errors.Is(err, ErrBadRecord) {
					t.Fatalf("byte %d: %v", i, err)
				}
				continue
			}
			parsed++
			fails("flip byte "+strconv.Itoa(i), l, pub, sig)
		}
	}
	if parsed < 50 {
		t.Fatalf("only %d flipped lists parsed; the tamper test tests little", parsed)
	}
	for i := range sig {
		fails("signature byte "+strconv.Itoa(i), f.list, pub, flip(sig, i, 0x04))
	}
	fails("truncated signature", f.list, pub, sig[:63])
	fails("no signature", f.list, pub, nil)

	mutations := map[string]func(l *ShareList){
		"version":      func(l *ShareList) { l.Version++ },
		"version down": func(l *ShareList) { l.Version-- },
		"add a member": func(l *ShareList) {
			l.Members = append(l.Members, ShareMember{Name: "mallory", Fingerprint: f.fpBob, Role: RoleEditor})
		},
		"remove a member":    func(l *ShareList) { l.Members = l.Members[1:] },
		"change a role":      func(l *ShareList) { l.Members[1].Role = RoleEditor },
		"change fingerprint": func(l *ShareList) { l.Members[0].Fingerprint[5] ^= 1 },
		"rename a member":    func(l *ShareList) { l.Members[0].Name = "bobby" },
		"other share":        func(l *ShareList) { l.Share = f.tt.archive },
		"other node":         func(l *ShareList) { l.Node = f.tt.file },
		"other volume":       func(l *ShareList) { l.Volume = f.tt.root },
		"other owner":        func(l *ShareList) { l.Owner = "alicia" },
		"other key check":    func(l *ShareList) { l.KeyCheck[0] ^= 1 },
		"no inbox":           func(l *ShareList) { l.InboxPublic = nil; l.Members[2].Role = RoleViewer },
	}
	for name, mutate := range mutations {
		l := cloneShareList(f.list)
		mutate(l)
		if err := l.Validate(); err != nil {
			t.Fatalf("%s: mutation makes an invalid list: %v", name, err)
		}
		fails(name, l, pub, sig)
	}
	other, err := NewInboxKey()
	if err != nil {
		t.Fatal(err)
	}
	l := cloneShareList(f.list)
	l.InboxPublic = other.Public()
	fails("other inbox key", l, pub, sig)

	// The owner key substituted, including weak keys.
	fails("other owner key", f.list, f.tt.other.IdentityPublic(), sig)
	fails("member key", f.list, f.bob.IdentityPublic(), sig)
	for name, k := range weakKeys(t) {
		fails("weak key "+name, f.list, k, sig)
	}
	if err := f.list.VerifyWith(VerifyKey{}, sig); !errors.Is(err, ErrBadSignature) {
		t.Error("zero VerifyKey accepted")
	}

	// A signature over a list of another share, or another node, does not
	// carry over, and neither does a node record's signature.
	for name, mutate := range map[string]func(l *ShareList){
		"share": func(l *ShareList) { l.Share = f.tt.archive },
		"node":  func(l *ShareList) { l.Node = f.tt.sibling },
	} {
		l := cloneShareList(f.list)
		mutate(l)
		s, err := l.Sign(owner)
		if err != nil {
			t.Fatal(err)
		}
		fails("replayed from another "+name, f.list, pub, s)
	}
	rec := f.tt.rootRecord(t)
	recSig, err := rec.Sign(owner)
	if err != nil {
		t.Fatal(err)
	}
	fails("node record signature", f.list, pub, recSig)

	var nilKeys *AccountKeys
	if _, err := f.list.Sign(nilKeys); err == nil {
		t.Error("Sign with nil keys")
	}
}

func TestShareListMember(t *testing.T) {
	f := newShareFixture(t)
	for _, m := range f.list.Members {
		got, ok := f.list.Member(m.Name)
		if !ok || got != m {
			t.Errorf("Member(%q) = %+v, %v", m.Name, got, ok)
		}
	}
	for _, name := range []string{"alice", "", "bo", "bobb", "zed", "a"} {
		if _, ok := f.list.Member(name); ok {
			t.Errorf("Member(%q) found", name)
		}
	}
	var nilList *ShareList
	if _, ok := nilList.Member("bob"); ok {
		t.Error("nil list has members")
	}
}

func TestShareGrant(t *testing.T) {
	f := newShareFixture(t)
	ref := f.list.GrantRef("bob")
	if ref.KeyCheck != f.list.KeyCheck || !bytes.Equal(ref.Node, f.tt.folder) {
		t.Fatal("GrantRef")
	}
	sealed, err := SealShareGrant(f.bob.EncryptionPublic(), ref, f.tt.folderKey, "Projects")
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != hpkeOverhead+1+32+32 || sealed[0] != 0x01 {
		t.Fatalf("grant is %d bytes", len(sealed))
	}
	key, name, err := OpenShareGrant(f.bob, ref, sealed)
	if err != nil || key != f.tt.folderKey || name != "Projects" {
		t.Fatalf("OpenShareGrant = %x, %q, %v", key, name, err)
	}

	fails := func(what string, keys *AccountKeys, ref GrantRef, sealed []byte) {
		t.Helper()
		key, name, err := OpenShareGrant(keys, ref, sealed)
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", what, err)
		}
		if key != (NodeKey{}) || name != "" {
			t.Errorf("%s: returned a key or a name", what)
		}
	}
	// Sampled bit flips: all of the header and the tail, every 13th byte
	// between.
	for i := range sealed {
		if i > 8 && i < len(sealed)-80 && i%13 != 0 {
			continue
		}
		fails("flip byte "+strconv.Itoa(i), f.bob, ref, flip(sealed, i, 1<<(i%8)))
	}
	for _, n := range []int{0, 1, 100, hpkeOverhead - 1, hpkeOverhead, len(sealed) - 1} {
		fails("truncated to "+strconv.Itoa(n), f.bob, ref, sealed[:n])
	}
	fails("appended byte", f.bob, ref, append(bytes.Clone(sealed), 0))
	fails("nil", f.bob, ref, nil)
	with := func(mutate func(r *GrantRef)) GrantRef {
		r := ref
		mutate(&r)
		return r
	}
	fails("other member", f.bob, with(func(r *GrantRef) { r.Member = "carol" }), sealed)
	fails("other share", f.bob, with(func(r *GrantRef) { r.Share = f.tt.archive }), sealed)
	fails("other node", f.bob, with(func(r *GrantRef) { r.Node = f.tt.sibling }), sealed)
	fails("other volume", f.bob, with(func(r *GrantRef) { r.Volume = f.tt.root }), sealed)
	fails("other key check", f.bob, with(func(r *GrantRef) { r.KeyCheck[3] ^= 1 }), sealed)
	fails("other recipient", f.carol, f.list.GrantRef("bob"), sealed)
	fails("owner", f.tt.owner, ref, sealed)

	// A grant that someone other than the owner sealed, with a key of its
	// own, opens under HPKE but is refused by the key check: that is what
	// stops a server from handing a member a key it knows.
	evil, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	info, _ := ref.info()
	pt := append(append([]byte{0x01}, evil[:]...), namePlaintext("Projects")...)
	forged, err := hpkeSeal(f.bob.EncryptionPublic(), labelShareGrant, info, pt)
	if err != nil {
		t.Fatal(err)
	}
	fails("key not the owner's", f.bob, ref, forged)
	// Non-canonical plaintexts under a valid key are refused too.
	for what, pt := range map[string][]byte{
		"version 2":   append(append([]byte{0x02}, f.tt.folderKey[:]...), namePlaintext("Projects")...),
		"no name":     append([]byte{0x01}, f.tt.folderKey[:]...),
		"bad padding": append(append(append([]byte{0x01}, f.tt.folderKey[:]...), namePlaintext("Projects")...), make([]byte, 32)...),
		"NFD name":    append(append([]byte{0x01}, f.tt.folderKey[:]...), namePlaintext("Cafe\u0301")...),
		"short key":   {0x01, 1, 2, 3},
	} {
		s, err := hpkeSeal(f.bob.EncryptionPublic(), labelShareGrant, info, pt)
		if err != nil {
			t.Fatal(err)
		}
		fails(what, f.bob, ref, s)
	}

	// Seal refuses a ref without a key check, a key that does not match it,
	// bad IDs, a bad member, and a bad public key.
	for what, r := range map[string]GrantRef{
		"no key check": with(func(r *GrantRef) { r.KeyCheck = [32]byte{} }),
		"wrong check":  with(func(r *GrantRef) { r.KeyCheck[0] ^= 1 }),
		"short share":  with(func(r *GrantRef) { r.Share = r.Share[:3] }),
		"no volume":    with(func(r *GrantRef) { r.Volume = nil }),
		"long node":    with(func(r *GrantRef) { r.Node = append(bytes.Clone(r.Node), 0) }),
		"no member":    with(func(r *GrantRef) { r.Member = "" }),
		"long member":  with(func(r *GrantRef) { r.Member = strings.Repeat("m", MaxAuthorLen+1) }),
	} {
		if _, err := SealShareGrant(f.bob.EncryptionPublic(), r, f.tt.folderKey, "Projects"); err == nil {
			t.Errorf("seal with %s accepted", what)
		}
		if _, _, err := OpenShareGrant(f.bob, r, sealed); err == nil {
			t.Errorf("open with %s accepted", what)
		}
	}
	if _, err := SealShareGrant(f.bob.EncryptionPublic()[:100], ref, f.tt.folderKey, "Projects"); err == nil {
		t.Error("seal to a short public key")
	}
	if _, _, err := OpenShareGrant(nil, ref, sealed); err == nil {
		t.Error("open with nil keys")
	}
}

func TestShareGrantNames(t *testing.T) {
	f := newShareFixture(t)
	ref := f.list.GrantRef("carol")
	pub := f.carol.EncryptionPublic()
	sizes := map[string]int{}
	for _, tc := range []struct{ in, want string }{
		{"Cafe\u0301 menu", "Caf\u00e9 menu"},
		{"Caf\u00e9 menu", "Caf\u00e9 menu"},
		{"\u212b", "\u00c5"}, // ANGSTROM SIGN normalises to A WITH RING
		{strings.Repeat("x", 30), strings.Repeat("x", 30)},
		{strings.Repeat("x", 31), strings.Repeat("x", 31)},
		{strings.Repeat("z", MaxNameLen), strings.Repeat("z", MaxNameLen)},
	} {
		s, err := SealShareGrant(pub, ref, f.tt.folderKey, tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		_, name, err := OpenShareGrant(f.carol, ref, s)
		if err != nil || name != tc.want {
			t.Errorf("%q opened as %q, %v; want %q", tc.in, name, err, tc.want)
		}
		if name != mustNormalize(t, tc.in) {
			t.Errorf("%q: grant name differs from NormalizeName", tc.in)
		}
		sizes[tc.in] = len(s)
	}
	// Names pad to 32-byte buckets, as sealed names do.
	if sizes[strings.Repeat("x", 30)] != hpkeOverhead+1+32+32 || sizes[strings.Repeat("x", 31)] != hpkeOverhead+1+32+64 {
		t.Errorf("padding: %v", sizes)
	}
	if sizes[strings.Repeat("z", MaxNameLen)] != maxSealedShareGrantSize {
		t.Errorf("longest name gives %d bytes, want %d", sizes[strings.Repeat("z", MaxNameLen)], maxSealedShareGrantSize)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a\x00b", "a\nb", "\xff", strings.Repeat("y", MaxNameLen+1)} {
		_, err := SealShareGrant(pub, ref, f.tt.folderKey, bad)
		if !errors.Is(err, ErrBadName) {
			t.Errorf("name %q: %v, want ErrBadName", bad, err)
		}
	}
}

func mustNormalize(t *testing.T, s string) string {
	t.Helper()
	n, err := NormalizeName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestShareKeyCheck(t *testing.T) {
	f := newShareFixture(t)
	a, err := ShareKeyCheck(f.share, f.tt.volume, f.tt.folder, f.tt.folderKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]func() ([32]byte, error){
		"other share":  func() ([32]byte, error) { return ShareKeyCheck(f.tt.archive, f.tt.volume, f.tt.folder, f.tt.folderKey) },
		"other volume": func() ([32]byte, error) { return ShareKeyCheck(f.share, f.tt.root, f.tt.folder, f.tt.folderKey) },
		"other node":   func() ([32]byte, error) { return ShareKeyCheck(f.share, f.tt.volume, f.tt.file, f.tt.folderKey) },
		"other key":    func() ([32]byte, error) { return ShareKeyCheck(f.share, f.tt.volume, f.tt.folder, f.tt.fileKey) },
	} {
		b, err := c()
		if err != nil || b == a {
			t.Errorf("%s: same check value (%v)", name, err)
		}
	}
	if _, err := ShareKeyCheck(f.share[:4], f.tt.volume, f.tt.folder, f.tt.folderKey); err == nil {
		t.Error("short share ID accepted")
	}
}

func TestAcceptance(t *testing.T) {
	f := newShareFixture(t)
	a := &Acceptance{Share: f.share, Volume: f.tt.volume, Node: f.tt.folder, Owner: "alice", Member: "bob"}
	sig, err := a.Sign(f.bob)
	if err != nil {
		t.Fatal(err)
	}
	pub := f.bob.IdentityPublic()
	var want []byte
	want = append(want, 0x01)
	want = append(want, idFields(f.share, f.tt.volume, f.tt.folder)...)
	want = appendLP(want, []byte("alice"))
	want = appendLP(want, []byte("bob"))
	if !ed25519.Verify(pub, tagged("coffer/v1/share-accept", want), sig) {
		t.Fatal("acceptance signature is not over the documented message")
	}
	if err := a.Verify(pub, sig); err != nil {
		t.Fatal(err)
	}
	vk, err := NewVerifyKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.VerifyWith(vk, sig); err != nil {
		t.Fatal(err)
	}
	fails := func(what string, a *Acceptance, pub ed25519.PublicKey, sig []byte) {
		t.Helper()
		if err := a.Verify(pub, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: Verify = %v", what, err)
		}
		if vk, err := NewVerifyKey(pub); err == nil {
			if err := a.VerifyWith(vk, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s: VerifyWith = %v", what, err)
			}
		}
	}
	for name, mutate := range map[string]func(a *Acceptance){
		"share":        func(a *Acceptance) { a.Share = f.tt.archive },
		"volume":       func(a *Acceptance) { a.Volume = f.tt.root },
		"node":         func(a *Acceptance) { a.Node = f.tt.file },
		"owner":        func(a *Acceptance) { a.Owner = "alicia" },
		"member":       func(a *Acceptance) { a.Member = "carol" },
		"short share":  func(a *Acceptance) { a.Share = a.Share[:8] },
		"no member":    func(a *Acceptance) { a.Member = "" },
		"owner=member": func(a *Acceptance) { a.Member = "alice" },
		"owner⇄member": func(a *Acceptance) { a.Owner, a.Member = a.Member, a.Owner },
	} {
		c := *a
		mutate(&c)
		fails(name, &c, pub, sig)
	}
	for i := range sig {
		fails("signature byte "+strconv.Itoa(i), a, pub, flip(sig, i, 0x10))
	}
	fails("owner's key", a, f.tt.owner.IdentityPublic(), sig)
	fails("other member's key", a, f.carol.IdentityPublic(), sig)
	for name, k := range weakKeys(t) {
		fails("weak key "+name, a, k, sig)
	}
	// A share-list signature is not an acceptance, even by the same key.
	l := cloneShareList(f.list)
	l.Owner = "bob"
	l.Members = []ShareMember{{Name: "carol", Fingerprint: f.fpCarol, Role: RoleViewer}}
	l.InboxPublic = nil
	ls, err := l.Sign(f.bob)
	if err != nil {
		t.Fatal(err)
	}
	fails("share list signature", a, pub, ls)
	self := &Acceptance{Share: f.share, Volume: f.tt.volume, Node: f.tt.folder, Owner: "bob", Member: "bob"}
	if _, err := self.Sign(f.bob); !errors.Is(err, ErrBadRecord) {
		t.Errorf("an owner accepting its own share: %v", err)
	}
	if _, err := (&Acceptance{Share: f.share}).Sign(f.bob); !errors.Is(err, ErrBadRecord) {
		t.Errorf("signing a malformed acceptance: %v", err)
	}
	if _, err := a.Sign(nil); err == nil {
		t.Error("Sign with nil keys")
	}
	var nilAcc *Acceptance
	if err := nilAcc.Verify(pub, sig); !errors.Is(err, ErrBadSignature) {
		t.Error("nil acceptance")
	}
}

func TestInboxKey(t *testing.T) {
	f := newShareFixture(t)
	tt := f.tt
	k := f.inbox
	pub := k.Public()
	if len(pub) != EncryptionPublicKeySize {
		t.Fatal("public key size")
	}
	pub[0] ^= 1
	if bytes.Equal(pub, k.Public()) {
		t.Fatal("Public returns the internal slice")
	}
	pub = k.Public()
	sealed, err := SealInboxKey(tt.folderKeys, tt.volume, tt.folder, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != SealedInboxKeySize {
		t.Fatalf("sealed inbox key is %d bytes", len(sealed))
	}
	got, err := OpenInboxKey(tt.folderKeys, tt.volume, tt.folder, pub, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Public(), pub) || got.seed != k.seed {
		t.Fatal("opened another key")
	}
	// The opened key receives what is sealed to the public key.
	ct, err := hpkeSeal(pub, "coffer/v1/test", nil, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := hpkeOpen(got.priv, "coffer/v1/test", nil, ct); err != nil || string(pt) != "hello" {
		t.Fatal("opened inbox key does not decrypt")
	}

	open := func(keys *NodeKeys, volume, node, public []byte) func([]byte) error {
		return func(s []byte) error {
			k, err := OpenInboxKey(keys, volume, node, public, s)
			if k != nil {
				t.Error("a key returned with an error")
			}
			return err
		}
	}
	tamperAll(t, sealed, open(tt.folderKeys, tt.volume, tt.folder, pub))
	mustFailOpen(t, "other folder keys", open(tt.fileKeys, tt.volume, tt.folder, pub), sealed)
	mustFailOpen(t, "other volume", open(tt.folderKeys, tt.root, tt.folder, pub), sealed)
	mustFailOpen(t, "other node", open(tt.folderKeys, tt.volume, tt.file, pub), sealed)
	other, err := NewInboxKey()
	if err != nil {
		t.Fatal(err)
	}
	mustFailOpen(t, "other public key", open(tt.folderKeys, tt.volume, tt.folder, other.Public()), sealed)
	mustFailOpen(t, "flipped public key", open(tt.folderKeys, tt.volume, tt.folder, flip(pub, 1200, 1)), sealed)
	for what, fn := range map[string]func([]byte) error{
		"short public": open(tt.folderKeys, tt.volume, tt.folder, pub[:10]),
		"short volume": open(tt.folderKeys, tt.volume[:4], tt.folder, pub),
		"nil keys":     open(nil, tt.volume, tt.folder, pub),
		"zero keys":    open(&NodeKeys{}, tt.volume, tt.folder, pub),
	} {
		if err := fn(sealed); err == nil {
			t.Errorf("%s accepted", what)
		}
	}

	// A seed sealed with the wrong public key in its AD (possible only for
	// a holder of the folder key) is refused at open.
	fields, _ := inboxKeyFields(tt.volume, tt.folder, other.Public())
	mismatched, err := sealWith(tt.folderKeys.inbox, nil, labelInboxKey, fields, k.seed[:])
	if err != nil {
		t.Fatal(err)
	}
	mustFailOpen(t, "seed of another public key", open(tt.folderKeys, tt.volume, tt.folder, other.Public()), mismatched)
	short, err := sealWith(tt.folderKeys.inbox, nil, labelInboxKey, fields, k.seed[:31])
	if err != nil {
		t.Fatal(err)
	}
	mustFailOpen(t, "short seed", open(tt.folderKeys, tt.volume, tt.folder, other.Public()), short)

	// The inbox sub-key is not one of the other sub-keys.
	if s, err := sealWith(tt.folderKeys.wrap, nil, labelInboxKey, fields, k.seed[:]); err != nil {
		t.Fatal(err)
	} else {
		mustFailOpen(t, "sealed under node-key-wrap", open(tt.folderKeys, tt.volume, tt.folder, pub), s)
	}

	if _, err := SealInboxKey(nil, tt.volume, tt.folder, k); err == nil {
		t.Error("seal with nil keys")
	}
	if _, err := SealInboxKey(tt.folderKeys, tt.volume, tt.folder, nil); err == nil {
		t.Error("seal a nil inbox key")
	}
	if _, err := SealInboxKey(tt.folderKeys, tt.volume[:3], tt.folder, k); err == nil {
		t.Error("seal with a short volume ID")
	}
	var nilKey *InboxKey
	if nilKey.Public() != nil {
		t.Error("nil key has a public key")
	}
	if a, b := mustInbox(t), mustInbox(t); bytes.Equal(a.Public(), b.Public()) {
		t.Error("two inbox keys are equal")
	}
}

func mustInbox(t *testing.T) *InboxKey {
	t.Helper()
	k, err := NewInboxKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestShareErrorsHideSecrets checks that no error of this file repeats a
// node key, an inbox seed or a grant's name.
func TestShareErrorsHideSecrets(t *testing.T) {
	f := newShareFixture(t)
	ref := f.list.GrantRef("bob")
	secretName := "secret-plan-q3"
	sealed, err := SealShareGrant(f.bob.EncryptionPublic(), ref, f.tt.folderKey, secretName)
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
	_, _, err = OpenShareGrant(f.carol, ref, sealed)
	add(err)
	bad := ref
	bad.KeyCheck[0] ^= 1
	_, err = SealShareGrant(f.bob.EncryptionPublic(), bad, f.tt.folderKey, secretName)
	add(err)
	_, err = SealShareGrant(f.bob.EncryptionPublic(), ref, f.tt.folderKey, secretName+"/x")
	add(err)
	sk, err := SealInboxKey(f.tt.folderKeys, f.tt.volume, f.tt.folder, f.inbox)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenInboxKey(f.tt.fileKeys, f.tt.volume, f.tt.folder, f.inbox.Public(), sk)
	add(err)
	for _, m := range msgs {
		if leaks(m, f.tt.folderKey[:], f.inbox.seed[:]) || strings.Contains(m, secretName) {
			t.Errorf("error leaks a secret: %s", m)
		}
	}
}

// FuzzParseShareList checks that ParseShareList never panics and is the
// strict inverse of Marshal: whatever it accepts re-encodes to exactly the
// input, so the server and every client read one list one way.
func FuzzParseShareList(f *testing.F) {
	fx := newShareFixture(f)
	f.Add(fx.list.Marshal())
	l := cloneShareList(fx.list)
	l.Members, l.InboxPublic = nil, nil
	f.Add(l.Marshal())
	l.Members = fx.list.Members[:2]
	f.Add(l.Marshal())
	f.Add([]byte{})
	f.Add([]byte{0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseShareList(b)
		if err != nil {
			if l != nil || !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v with a list, or not wrapping ErrBadRecord", err)
			}
			return
		}
		if !bytes.Equal(l.Marshal(), b) {
			t.Fatal("Marshal(ParseShareList(b)) != b")
		}
		if l.Validate() != nil {
			t.Fatal("parsed an invalid list")
		}
	})
}
