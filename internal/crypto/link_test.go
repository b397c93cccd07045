package crypto

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-drive/coffer/internal/srp"
)

// testLinkKeys returns a link's keys from a random Argon2id output, so
// that the tests that need many links skip Argon2id.
func testLinkKeys(t *testing.T, id []byte) *LinkKeys {
	t.Helper()
	k, err := linkKeysFromPW(randBytes(t, 32), id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// linkTest is a read link to a file and an upload link to a folder, with
// payloads and owner records.
type linkTest struct {
	volume, file, folder []byte
	owner                *AccountKeys
	read, upload         *LinkKeys
	readID, uploadID     []byte
	readP, uploadP       *LinkPayload
	inbox                *InboxKey
	self                 [32]byte
}

func newLinkTest(t *testing.T) *linkTest {
	t.Helper()
	owner, err := GenerateAccountKeys()
	if err != nil {
		t.Fatal(err)
	}
	ident, err := NewVerifyKey(owner.IdentityPublic())
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := NewInboxKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	lt := &linkTest{volume: randBytes(t, IDSize), file: randBytes(t, IDSize), folder: randBytes(t, IDSize),
		owner: owner, inbox: inbox}
	for _, id := range []*[]byte{&lt.readID, &lt.uploadID} {
		if *id, err = NewLinkID(); err != nil || len(*id) != LinkIDSize {
			t.Fatalf("NewLinkID: %x, %v", *id, err)
		}
	}
	lt.read, lt.upload = testLinkKeys(t, lt.readID), testLinkKeys(t, lt.uploadID)
	lt.readP = &LinkPayload{Kind: LinkRead, Owner: "alice", OwnerIdentity: ident, MinVersion: 3, NodeKey: key, Name: "report.pdf"}
	lt.uploadP = &LinkPayload{Kind: LinkUpload, Owner: "alice", OwnerIdentity: ident, MinVersion: 1,
		InboxPublic: inbox.Public(), Name: "Cafe\u0301 uploads"}
	if lt.self, err = SelfKey(owner, "alice"); err != nil {
		t.Fatal(err)
	}
	return lt
}

func (lt *linkTest) sealRead(t *testing.T) []byte {
	t.Helper()
	s, err := SealLinkPayload(lt.read, lt.readID, lt.volume, lt.file, lt.readP)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (lt *linkTest) sealUpload(t *testing.T) []byte {
	t.Helper()
	s, err := SealLinkPayload(lt.upload, lt.uploadID, lt.volume, lt.folder, lt.uploadP)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustNotOpenPayload(t *testing.T, what string, k *LinkKeys, id, volume, node []byte, kind byte, sealed []byte) {
	t.Helper()
	p, err := OpenLinkPayload(k, id, volume, node, kind, sealed)
	if !errors.Is(err, ErrDecrypt) || p != nil {
		t.Errorf("%s: opened, or error %v is not ErrDecrypt", what, err)
	}
}

func TestLinkURLRoundTrip(t *testing.T) {
	for _, base := range []string{"https://coffer.example", "https://coffer.example/", "http://localhost:8080",
		"http://127.0.0.1:1", "https://[::1]:65535", "https://xn--caf-dma.example", "https://A.B-C.example"} {
		id, err := NewLinkID()
		if err != nil {
			t.Fatal(err)
		}
		secret, err := NewLinkSecret()
		if err != nil || len(secret) != LinkSecretSize {
			t.Fatalf("NewLinkSecret: %v", err)
		}
		u, err := FormatLinkURL(base, id, secret)
		if err != nil {
			t.Fatalf("FormatLinkURL(%q): %v", base, err)
		}
		want := strings.TrimSuffix(base, "/")
		if !strings.HasPrefix(u, want+"/s/") || len(u) != len(want)+3+22+1+43 {
			t.Errorf("FormatLinkURL(%q) = %q", base, u)
		}
		for _, s := range []string{u, strings.Replace(u, "#", "/#", 1)} {
			b, i, sec, err := ParseLinkURL(s)
			if err != nil || b != want || !bytes.Equal(i, id) || !bytes.Equal(sec, secret) {
				t.Errorf("ParseLinkURL(%q) = %q, %x, %v", s, b, i, err)
			}
		}
	}
}

// TestLinkURLMustFail is the URL set of link.json and more; decisions:
// a query string is refused (a link URL never has one, and a '?' in front
// of '#' is not part of the ID), and so are user info, upper-case schemes
// and non-ASCII hosts.
func TestLinkURLMustFail(t *testing.T) {
	id, secret := randBytes(t, LinkIDSize), randBytes(t, LinkSecretSize)
	good, err := FormatLinkURL("https://coffer.example", id, secret)
	if err != nil {
		t.Fatal(err)
	}
	path, frag, _ := strings.Cut(good, "#")
	idPart := strings.TrimPrefix(path, "https://coffer.example/s/")
	for _, s := range []string{
		"", "#", path, path + "#", path + "#" + frag[:42], path + "#" + frag + "A", path + "#" + frag + "=",
		path + "#" + frag[:41] + "==", path + "#%2" + frag[2:], path + "#" + frag[:42] + "%", path + "#" + frag[:10] + "\r" + frag[11:],
		path + "#" + frag[:10] + "+" + frag[11:], path + "#" + frag + "#", path + "?#" + frag, path + "?a=b#" + frag,
		"https://coffer.example/s/" + idPart[:21] + "#" + frag, "https://coffer.example/s/" + idPart + "A#" + frag,
		"https://coffer.example/s/" + idPart + "//#" + frag, "https://coffer.example/s/" + idPart + "/x#" + frag,
		"https://coffer.example/t/" + idPart + "#" + frag, "https://coffer.example#" + frag, "https://coffer.example/#" + frag,
		"ftp://coffer.example/s/" + idPart + "#" + frag, "Https://coffer.example/s/" + idPart + "#" + frag,
		"https:/coffer.example/s/" + idPart + "#" + frag, "coffer.example/s/" + idPart + "#" + frag,
		"https://u:p@coffer.example/s/" + idPart + "#" + frag, "https://coffer.example:99999/s/" + idPart + "#" + frag,
		"https://coffer.example:-1/s/" + idPart + "#" + frag, "https://[::1/s/" + idPart + "#" + frag,
		"https://[127.0.0.1]/s/" + idPart + "#" + frag, "https://caf\u00e9.example/s/" + idPart + "#" + frag,
		"https://coffer.example%2f/s/" + idPart + "#" + frag, "https:// coffer.example/s/" + idPart + "#" + frag,
		"https://coffer.example/s/" + idPart + "#" + frag + "\n",
	} {
		b, i, sec, err := ParseLinkURL(s)
		if !errors.Is(err, ErrBadLinkURL) || b != "" || i != nil || sec != nil {
			t.Errorf("ParseLinkURL(%q) = %q, %x, %v", s, b, i, err)
			continue
		}
		checkNoSecret(t, err, secret)
	}
	// A last character with an unused low bit set decodes to the same
	// bytes under a lax decoder. (Canonical ones have index 4k.)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	lax := frag[:42] + string(alphabet[strings.IndexByte(alphabet, frag[42])|1])
	if _, _, _, err := ParseLinkURL(path + "#" + lax); !errors.Is(err, ErrBadLinkURL) {
		t.Errorf("non-canonical fragment accepted: %v", err)
	}

	for _, base := range []string{"", "https://", "https://coffer.example/app", "https://coffer.example?x", "https://a@b",
		"HTTPS://coffer.example", "ws://coffer.example", "https://coffer.example//"} {
		if _, err := FormatLinkURL(base, id, secret); !errors.Is(err, ErrBadLinkURL) {
			t.Errorf("FormatLinkURL(%q) = %v", base, err)
		}
	}
	for _, in := range []struct{ id, secret []byte }{{id[:15], secret}, {id, secret[:31]}, {nil, secret}, {id, append(bytes.Clone(secret), 0)}} {
		_, err := FormatLinkURL("https://coffer.example", in.id, in.secret)
		if !errors.Is(err, ErrBadLinkURL) {
			t.Errorf("FormatLinkURL with a %d-byte ID and a %d-byte secret: %v", len(in.id), len(in.secret), err)
			continue
		}
		checkNoSecret(t, err, secret)
	}
}

// checkNoSecret fails if err shows any piece of the secret, in any
// encoding (leaks, of TestErrorsHideSecrets).
func checkNoSecret(t *testing.T, err error, secrets ...[]byte) {
	t.Helper()
	if leaks(err.Error(), secrets...) {
		t.Errorf("error shows a secret: %v", err)
	}
}

func TestLinkAuthor(t *testing.T) {
	id := randBytes(t, LinkIDSize)
	a := LinkAuthor(id)
	if !strings.HasPrefix(a, "link:") || len(a) != 27 {
		t.Fatalf("LinkAuthor = %q", a)
	}
	if got, ok := ParseLinkAuthor(a); !ok || !bytes.Equal(got, id) {
		t.Errorf("ParseLinkAuthor(%q) = %x, %v", a, got, ok)
	}
	for _, bad := range []string{"alice", "link:", "link:" + linkB64.EncodeToString(id[:15]), "Link:" + a[5:], a + "A", a[:26] + "\n" + a[26:]} {
		if _, ok := ParseLinkAuthor(bad); ok {
			t.Errorf("ParseLinkAuthor(%q) accepted", bad)
		}
	}
	// A drop record by a link passes Validate, and only the link's key
	// signs it.
	lt := newLinkTest(t)
	k := lt.upload
	node, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	ref := NodeRef{Volume: lt.volume, Parent: lt.folder, Node: randBytes(t, IDSize)}
	drop, err := SealInboxDrop(lt.uploadP.InboxPublic, ref, node, "scan.pdf")
	if err != nil {
		t.Fatal(err)
	}
	r := &NodeRecord{Volume: ref.Volume, Node: ref.Node, Parent: ref.Parent, Kind: KindFile, NameHash: [32]byte(randBytes(t, 32)),
		SealedKey: drop, Author: LinkAuthor(lt.uploadID), Version: 1}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	sig, err := r.SignLink(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(k.SignPublic(), sig); err != nil {
		t.Error(err)
	}
	if err := r.Verify(lt.owner.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) {
		t.Error("a link's signature verifies under the owner's key")
	}
	if _, err := r.SignLink(lt.read); err == nil {
		t.Error("another link's key signed the drop")
	}
	other := cloneNodeRecord(r)
	other.Author = "alice"
	if _, err := other.SignLink(k); err == nil {
		t.Error("a link key signed a record by an account")
	}
	notDrop := cloneNodeRecord(r)
	notDrop.SealedName = make([]byte, minSealedNameSize)
	notDrop.SealedKey = make([]byte, SealedNodeKeySize)
	if _, err := notDrop.SignLink(k); err == nil {
		t.Error("a link key signed an ordinary record")
	}
	if got, _, err := OpenInboxDrop(lt.inbox, ref, drop); err != nil || got != node {
		t.Errorf("the owner cannot open the link's drop: %v", err)
	}
	rev := &RevisionRecord{Volume: ref.Volume, Node: ref.Node, Revision: randBytes(t, IDSize), Seq: 1,
		SealedContentKey: make([]byte, SealedContentKeySize), SealedAttrs: make([]byte, SealedAttrsSize), Author: r.Author}
	rsig, err := rev.SignLink(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := rev.Verify(k.SignPublic(), rsig); err != nil {
		t.Error(err)
	}
	if _, err := rev.SignLink(lt.read); err == nil {
		t.Error("another link's key signed the revision")
	}
	k.Wipe()
	if _, err := r.SignLink(k); err == nil || k.SignPublic() != nil || k.Verifier() != nil {
		t.Error("wiped keys still sign")
	}
}

// derivedLinks are links whose keys come from DeriveLinkKeys at the
// default parameters: Argon2id is slow, so they are made once.
var derivedLinks = sync.OnceValues(func() (map[string]*LinkKeys, error) {
	secret, other := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32)
	id, salt := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)
	out := map[string]*LinkKeys{}
	for name, in := range map[string]struct {
		secret   []byte
		password string
	}{
		"base":           {secret, "Cafe\u0301"},
		"nfc":            {secret, "Caf\u00e9"},
		"wrong password": {secret, "Cafe"},
		"no password":    {secret, ""},
		"wrong secret":   {other, "Cafe\u0301"},
	} {
		k, err := DeriveLinkKeys(in.secret, in.password, id, salt, DefaultKDF)
		if err != nil {
			return nil, err
		}
		out[name] = k
	}
	return out, nil
})

func TestDeriveLinkKeys(t *testing.T) {
	links, err := derivedLinks()
	if err != nil {
		t.Fatal(err)
	}
	base := links["base"]
	if !bytes.Equal(base.SRPX, links["nfc"].SRPX) || base.Key != links["nfc"].Key || !bytes.Equal(base.SignPublic(), links["nfc"].SignPublic()) {
		t.Error("composed and decomposed passwords derive different keys")
	}
	for _, name := range []string{"wrong password", "no password", "wrong secret"} {
		k := links[name]
		if bytes.Equal(k.SRPX, base.SRPX) || k.Key == base.Key || bytes.Equal(k.SignPublic(), base.SignPublic()) {
			t.Errorf("%s: derives the same keys", name)
		}
	}
	if bytes.Equal(base.SRPX, base.Key[:]) || bytes.Equal(base.Key[:], base.sign.Seed()) {
		t.Error("the three keys are not independent")
	}
	eqHex(t, "verifier", base.Verifier(), srp.Group3072().Verifier(base.SRPX))
	if len(base.Verifier()) != 384 || !bytes.Equal(base.ID(), bytes.Repeat([]byte{1}, 16)) {
		t.Error("verifier size or ID")
	}

	// A payload sealed under the base link opens under nothing else.
	lt := newLinkTest(t)
	id, volume := base.ID(), lt.volume
	sealed, err := SealLinkPayload(base, id, volume, lt.file, lt.readP)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLinkPayload(links["nfc"], id, volume, lt.file, LinkRead, sealed); err != nil {
		t.Errorf("NFC password: %v", err)
	}
	for _, name := range []string{"wrong password", "no password", "wrong secret"} {
		mustNotOpenPayload(t, name, links[name], id, volume, lt.file, LinkRead, sealed)
	}

	// A live SRP login of the link: the owner sends the verifier, a
	// recipient proves the secret and password.
	identity, salt := []byte(LinkAuthor(id)), bytes.Repeat([]byte{2}, 16)
	for _, c := range []struct {
		name string
		k    *LinkKeys
		ok   bool
	}{{"right password", links["nfc"], true}, {"wrong password", links["wrong password"], false}} {
		cl, err := srp.NewClient(srp.Group3072())
		if err != nil {
			t.Fatal(err)
		}
		sv, err := srp.NewServer(srp.Group3072(), base.Verifier(), cl.A())
		if err != nil {
			t.Fatal(err)
		}
		m1, err := cl.Finish(identity, salt, c.k.SRPX, sv.B())
		if err != nil {
			t.Fatal(err)
		}
		m2, err := sv.Verify(identity, salt, m1)
		if (err == nil) != c.ok {
			t.Errorf("%s: server Verify: %v", c.name, err)
		}
		if c.ok && cl.VerifyServer(m2) != nil {
			t.Errorf("%s: client refuses M2", c.name)
		}
	}
}

func TestDeriveLinkKeysRefusesBeforeArgon2id(t *testing.T) {
	secret, id, salt := randBytes(t, 32), randBytes(t, 16), randBytes(t, 16)
	kdf := func(fn func(p *KDFParams)) KDFParams {
		p := DefaultKDF
		fn(&p)
		return p
	}
	for _, c := range []struct {
		name     string
		secret   []byte
		password string
		id, salt []byte
		p        KDFParams
		want     error
	}{
		{"memory below the floor", secret, "", id, salt, kdf(func(p *KDFParams) { p.MemoryKiB = MinKDFMemoryKiB - 1 }), ErrWeakKDF},
		{"iterations below the floor", secret, "", id, salt, kdf(func(p *KDFParams) { p.Iterations = MinKDFIterations - 1 }), ErrWeakKDF},
		{"parallelism below the floor", secret, "", id, salt, kdf(func(p *KDFParams) { p.Parallelism = 0 }), ErrWeakKDF},
		{"memory above the ceiling", secret, "", id, salt, kdf(func(p *KDFParams) { p.MemoryKiB = MaxKDFMemoryKiB + 1 }), ErrKDFTooCostly},
		{"iterations above the ceiling", secret, "", id, salt, kdf(func(p *KDFParams) { p.Iterations = MaxKDFIterations + 1 }), ErrKDFTooCostly},
		{"parallelism above the ceiling", secret, "", id, salt, kdf(func(p *KDFParams) { p.Parallelism = MaxKDFParallelism + 1 }), ErrKDFTooCostly},
		{"zero parameters", secret, "", id, salt, KDFParams{}, ErrWeakKDF},
		{"15-byte salt", secret, "", id, salt[:15], DefaultKDF, nil},
		{"17-byte salt", secret, "", id, append(bytes.Clone(salt), 0), DefaultKDF, nil},
		{"no salt", secret, "", id, nil, DefaultKDF, nil},
		{"31-byte secret", secret[:31], "", id, salt, DefaultKDF, nil},
		{"33-byte secret", append(bytes.Clone(secret), 0), "", id, salt, DefaultKDF, nil},
		{"15-byte link ID", secret, "", id[:15], salt, DefaultKDF, nil},
		{"password of 1025 bytes", secret, strings.Repeat("x", 1025), id, salt, DefaultKDF, nil},
		{"password of 900 bytes, 1800 after NFC (U+0958 decomposes)", secret, strings.Repeat("\u0958", 300), id, salt, DefaultKDF, nil},
		{"password not UTF-8", secret, "caf\xe9", id, salt, DefaultKDF, nil},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		k, err := DeriveLinkKeys(c.secret, c.password, c.id, c.salt, c.p)
		runtime.ReadMemStats(&after)
		if err == nil || k != nil {
			t.Errorf("%s: derived keys", c.name)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: error %v does not wrap %v", c.name, err, c.want)
		}
		// Argon2id at the floor allocates 64 MiB; a refusal allocates
		// next to nothing.
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("%s: allocated %d bytes before refusing", c.name, d)
		}
		checkNoSecret(t, err, c.secret, secret, []byte(c.password))
	}
	// At the 1025-byte limit's edge: 1024 bytes is a password.
	if _, err := linkPassword(strings.Repeat("x", 1024)); err != nil {
		t.Error(err)
	}
}

func TestLinkPayloadRoundTrip(t *testing.T) {
	lt := newLinkTest(t)
	p, err := OpenLinkPayload(lt.read, lt.readID, lt.volume, lt.file, LinkRead, lt.sealRead(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != LinkRead || p.Owner != "alice" || !bytes.Equal(p.OwnerIdentity.Public(), lt.owner.IdentityPublic()) ||
		p.MinVersion != 3 || p.NodeKey != lt.readP.NodeKey || p.InboxPublic != nil || p.Name != "report.pdf" {
		t.Errorf("read payload %+v", p)
	}
	p, err = OpenLinkPayload(lt.upload, lt.uploadID, lt.volume, lt.folder, LinkUpload, lt.sealUpload(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != LinkUpload || p.NodeKey != (NodeKey{}) || !bytes.Equal(p.InboxPublic, lt.inbox.Public()) || p.Name != "Caf\u00e9 uploads" {
		t.Errorf("upload payload %+v", p)
	}
	// The opened identity key verifies the owner's records.
	r := &NodeRecord{Volume: lt.volume, Node: lt.file, Parent: lt.folder, Kind: KindFile, SealedName: make([]byte, minSealedNameSize),
		SealedKey: make([]byte, SealedNodeKeySize), Author: "alice", Version: 3}
	sig, err := r.Sign(lt.owner)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyWith(p.OwnerIdentity, sig); err != nil {
		t.Error(err)
	}
}

func TestLinkPayloadTamper(t *testing.T) {
	lt := newLinkTest(t)
	s, up := lt.sealRead(t), lt.sealUpload(t)
	k, id, vol, node := lt.read, lt.readID, lt.volume, lt.file
	// Every byte: version (0), nonce (1..12), ciphertext, tag (last 16).
	for i := range s {
		for _, mask := range []byte{0x01, 0x80} {
			mustNotOpenPayload(t, "flipped byte", k, id, vol, node, LinkRead, flip(s, i, mask))
		}
	}
	for n := range len(s) {
		mustNotOpenPayload(t, "truncated", k, id, vol, node, LinkRead, s[:n])
	}
	for _, extra := range [][]byte{{0}, make([]byte, 32), s} {
		mustNotOpenPayload(t, "extended", k, id, vol, node, LinkRead, append(bytes.Clone(s), extra...))
	}
	// Each field of the AD. The keys are bound to their link's ID, so a
	// copy with another ID shows that the AEAD itself binds it.
	otherID := randBytes(t, LinkIDSize)
	moved := *k
	moved.id = otherID
	mustNotOpenPayload(t, "other link ID", &moved, otherID, vol, node, LinkRead, s)
	mustNotOpenPayload(t, "link ID not the keys'", k, otherID, vol, node, LinkRead, s)
	mustNotOpenPayload(t, "other volume", k, id, randBytes(t, IDSize), node, LinkRead, s)
	mustNotOpenPayload(t, "other node", k, id, vol, lt.folder, LinkRead, s)
	mustNotOpenPayload(t, "kind upgrade (read as upload)", k, id, vol, node, LinkUpload, s)
	mustNotOpenPayload(t, "kind 0", k, id, vol, node, 0, s)
	mustNotOpenPayload(t, "kind 3", k, id, vol, node, 3, s)
	mustNotOpenPayload(t, "15-byte volume", k, id, vol[:15], node, LinkRead, s)
	mustNotOpenPayload(t, "nil keys", nil, id, vol, node, LinkRead, s)
	// Another link's key, and replays of another link's payload.
	mustNotOpenPayload(t, "other link's key", lt.upload, lt.uploadID, vol, node, LinkRead, s)
	mustNotOpenPayload(t, "upload payload replayed to the read link", k, id, vol, node, LinkRead, up)
	mustNotOpenPayload(t, "upload payload replayed to the read link as upload", k, id, vol, node, LinkUpload, up)
	mustNotOpenPayload(t, "kind downgrade (upload as read)", lt.upload, lt.uploadID, vol, lt.folder, LinkRead, up)
	mustNotOpenPayload(t, "upload payload at the read link's node", lt.upload, lt.uploadID, vol, node, LinkUpload, up)
	// A payload resealed for another node by the same link opens only
	// there: the AD, not the plaintext, says which node.
	s2, err := SealLinkPayload(k, id, vol, lt.folder, lt.readP)
	if err != nil {
		t.Fatal(err)
	}
	mustNotOpenPayload(t, "payload of another node of the link", k, id, vol, node, LinkRead, s2)
	// The version byte is public: an unknown one says so.
	if _, err := OpenLinkPayload(k, id, vol, node, LinkRead, flip(s, 0, 0x03)); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("version byte 0x02: %v", err)
	}
}

// TestLinkPayloadPlaintextCanonical seals every one-byte change of a valid
// plaintext under the right key and AD: what opens must reseal to the same
// bytes, so that no two plaintexts mean the same payload.
func TestLinkPayloadPlaintextCanonical(t *testing.T) {
	lt := newLinkTest(t)
	for _, c := range []struct {
		k        *LinkKeys
		id, node []byte
		p        *LinkPayload
	}{{lt.read, lt.readID, lt.file, lt.readP}, {lt.upload, lt.uploadID, lt.folder, lt.uploadP}} {
		fields, err := linkFields(c.id, lt.volume, c.node, c.p.Kind)
		if err != nil {
			t.Fatal(err)
		}
		aead, err := newGCM(&c.k.Key)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := c.p.plain()
		if err != nil {
			t.Fatal(err)
		}
		n := nonce12(0)
		opened := 0
		for i := range pt {
			// Bytes of the inbox key: checking that each change parses or
			// not is ML-KEM's job, and 1216 X-Wing parses are slow.
			if c.p.Kind == LinkUpload && i > 60 && i < 60+EncryptionPublicKeySize-8 {
				continue
			}
			for _, mask := range []byte{0x01, 0x20, 0x80} {
				mut := flip(pt, i, mask)
				p, err := OpenLinkPayload(c.k, c.id, lt.volume, c.node, c.p.Kind, sealRaw(aead, n, labelLinkPayload, fields, mut))
				if err != nil {
					if !errors.Is(err, ErrDecrypt) {
						t.Fatalf("byte %d: error %v", i, err)
					}
					continue
				}
				opened++
				re, err := p.plain()
				if err != nil || !bytes.Equal(re, mut) {
					t.Errorf("byte %d ^ %#x opens but does not reseal to the same plaintext: %v", i, mask, err)
				}
			}
		}
		if opened == 0 {
			t.Error("no change of the owner name or min_version opened")
		}
	}
}

func TestSealLinkPayloadRefuses(t *testing.T) {
	lt := newLinkTest(t)
	badInbox := bytes.Repeat([]byte{0xff}, EncryptionPublicKeySize)
	small, err := NewVerifyKey(lt.owner.IdentityPublic())
	if err != nil {
		t.Fatal(err)
	}
	small.pub = append([]byte{1}, make([]byte, 31)...)
	edit := func(base *LinkPayload, fn func(p *LinkPayload)) *LinkPayload {
		c := *base
		fn(&c)
		return &c
	}
	for _, c := range []struct {
		name string
		p    *LinkPayload
	}{
		{"nil payload", nil},
		{"kind 0", edit(lt.readP, func(p *LinkPayload) { p.Kind = 0 })},
		{"kind 3", edit(lt.readP, func(p *LinkPayload) { p.Kind = 3 })},
		{"empty owner", edit(lt.readP, func(p *LinkPayload) { p.Owner = "" })},
		{"owner of 256 bytes", edit(lt.readP, func(p *LinkPayload) { p.Owner = strings.Repeat("a", 256) })},
		{"owner name not UTF-8", edit(lt.readP, func(p *LinkPayload) { p.Owner = "al\xffce" })},
		{"no owner identity", edit(lt.readP, func(p *LinkPayload) { p.OwnerIdentity = VerifyKey{} })},
		{"owner identity of small order", edit(lt.readP, func(p *LinkPayload) { p.OwnerIdentity = small })},
		{"read without a node key", edit(lt.readP, func(p *LinkPayload) { p.NodeKey = NodeKey{} })},
		{"read with an inbox key", edit(lt.readP, func(p *LinkPayload) { p.InboxPublic = lt.inbox.Public() })},
		{"upload with a node key", edit(lt.uploadP, func(p *LinkPayload) { p.NodeKey = lt.readP.NodeKey })},
		{"upload without an inbox key", edit(lt.uploadP, func(p *LinkPayload) { p.InboxPublic = nil })},
		{"upload with a 1215-byte inbox key", edit(lt.uploadP, func(p *LinkPayload) { p.InboxPublic = p.InboxPublic[:1215] })},
		{"upload with an inbox key that does not parse", edit(lt.uploadP, func(p *LinkPayload) { p.InboxPublic = badInbox })},
		{"empty name", edit(lt.readP, func(p *LinkPayload) { p.Name = "" })},
		{"name with '/'", edit(lt.readP, func(p *LinkPayload) { p.Name = "a/b" })},
		{"name of 256 bytes", edit(lt.readP, func(p *LinkPayload) { p.Name = strings.Repeat("n", 256) })},
	} {
		if _, err := SealLinkPayload(lt.read, lt.readID, lt.volume, lt.file, c.p); err == nil {
			t.Errorf("%s: sealed", c.name)
		}
		if _, err := SealLinkPayload(lt.upload, lt.uploadID, lt.volume, lt.folder, c.p); err == nil {
			t.Errorf("%s: sealed (upload link)", c.name)
		}
	}
	for _, c := range []struct {
		name             string
		k                *LinkKeys
		id, volume, node []byte
	}{
		{"another link's keys", lt.upload, lt.readID, lt.volume, lt.file},
		{"nil keys", nil, lt.readID, lt.volume, lt.file},
		{"15-byte volume", lt.read, lt.readID, lt.volume[:15], lt.file},
		{"no node", lt.read, lt.readID, lt.volume, nil},
	} {
		if _, err := SealLinkPayload(c.k, c.id, c.volume, c.node, lt.readP); err == nil {
			t.Errorf("%s: sealed", c.name)
		}
	}
}

func TestSelfKey(t *testing.T) {
	a, err := GenerateAccountKeys()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateAccountKeys()
	if err != nil {
		t.Fatal(err)
	}
	ka, err := SelfKey(a, "alice")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := SelfKey(a, "alice")
	other, _ := SelfKey(a, "bob")
	kb, _ := SelfKey(b, "alice")
	if ka != again || ka == other || ka == kb || ka == ([32]byte{}) {
		t.Error("the self key is not a function of the encryption seed and the user alone")
	}
	// The same seeds in another identity key give the same self key: it
	// depends on the encryption seed only.
	m := a.Marshal()
	c, err := NewAccountKeysFromSeeds(make([]byte, SeedSize), m[1+SeedSize:])
	if err != nil {
		t.Fatal(err)
	}
	if kc, _ := SelfKey(c, "alice"); kc != ka {
		t.Error("the self key depends on the identity seed")
	}
	if _, err := SelfKey(nil, "alice"); err == nil {
		t.Error("nil keys")
	}
	if _, err := SelfKey(a, ""); err == nil {
		t.Error("empty user")
	}
}

func TestLinkOwnerRecord(t *testing.T) {
	lt := newLinkTest(t)
	bob, err := GenerateAccountKeys()
	if err != nil {
		t.Fatal(err)
	}
	bobSelf, err := SelfKey(bob, "bob")
	if err != nil {
		t.Fatal(err)
	}
	secret := randBytes(t, LinkSecretSize)
	readRec := &LinkOwnerRecord{Secret: secret}
	upRec := &LinkOwnerRecord{Secret: secret, Password: "Cafe\u0301", SignPublic: lt.upload.SignPublic(), InboxSeed: lt.inbox.Seed()}
	rs, err := SealLinkOwnerRecord(lt.self, lt.readID, lt.volume, lt.file, LinkRead, readRec)
	if err != nil {
		t.Fatal(err)
	}
	us, err := SealLinkOwnerRecord(lt.self, lt.uploadID, lt.volume, lt.folder, LinkUpload, upRec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenLinkOwnerRecord(lt.self, lt.readID, lt.volume, lt.file, LinkRead, rs)
	if err != nil || !bytes.Equal(got.Secret, secret) || got.Password != "" || got.SignPublic != nil || got.InboxSeed != nil {
		t.Errorf("read owner record %+v, %v", got, err)
	}
	if _, err := got.InboxKey(); err == nil {
		t.Error("a read link's owner record gives an inbox key")
	}
	got, err = OpenLinkOwnerRecord(lt.self, lt.uploadID, lt.volume, lt.folder, LinkUpload, us)
	if err != nil || got.Password != "Caf\u00e9" || !bytes.Equal(got.SignPublic, lt.upload.SignPublic()) {
		t.Fatalf("upload owner record %+v, %v", got, err)
	}
	inbox, err := got.InboxKey()
	if err != nil || !bytes.Equal(inbox.Public(), lt.inbox.Public()) {
		t.Errorf("inbox key from the owner record: %v", err)
	}

	mustNot := func(what string, key [32]byte, id, volume, node []byte, kind byte, sealed []byte) {
		t.Helper()
		rec, err := OpenLinkOwnerRecord(key, id, volume, node, kind, sealed)
		if !errors.Is(err, ErrDecrypt) || rec != nil {
			t.Errorf("%s: opened, or error %v is not ErrDecrypt", what, err)
		}
	}
	s := us
	for i := range s {
		mustNot("flipped byte", lt.self, lt.uploadID, lt.volume, lt.folder, LinkUpload, flip(s, i, 0x40))
	}
	for n := range len(s) {
		mustNot("truncated", lt.self, lt.uploadID, lt.volume, lt.folder, LinkUpload, s[:n])
	}
	mustNot("extended", lt.self, lt.uploadID, lt.volume, lt.folder, LinkUpload, append(bytes.Clone(s), 0))
	mustNot("other link ID", lt.self, lt.readID, lt.volume, lt.folder, LinkUpload, s)
	mustNot("other volume", lt.self, lt.uploadID, randBytes(t, IDSize), lt.folder, LinkUpload, s)
	mustNot("other node", lt.self, lt.uploadID, lt.volume, lt.file, LinkUpload, s)
	mustNot("other kind", lt.self, lt.uploadID, lt.volume, lt.folder, LinkRead, s)
	mustNot("another account's self key", bobSelf, lt.uploadID, lt.volume, lt.folder, LinkUpload, s)
	mustNot("another link's owner record", lt.self, lt.uploadID, lt.volume, lt.folder, LinkUpload, rs)
	mustNot("a payload as an owner record", lt.self, lt.uploadID, lt.volume, lt.folder, LinkUpload, lt.sealUpload(t))

	for _, c := range []struct {
		name string
		kind byte
		rec  *LinkOwnerRecord
	}{
		{"nil record", LinkRead, nil},
		{"31-byte secret", LinkRead, &LinkOwnerRecord{Secret: secret[:31]}},
		{"password of 1025 bytes", LinkRead, &LinkOwnerRecord{Secret: secret, Password: strings.Repeat("p", 1025)}},
		{"password not UTF-8", LinkRead, &LinkOwnerRecord{Secret: secret, Password: "\xff"}},
		{"read with a signing key", LinkRead, &LinkOwnerRecord{Secret: secret, SignPublic: upRec.SignPublic}},
		{"read with an inbox seed", LinkRead, &LinkOwnerRecord{Secret: secret, InboxSeed: upRec.InboxSeed}},
		{"upload without a signing key", LinkUpload, &LinkOwnerRecord{Secret: secret, InboxSeed: upRec.InboxSeed}},
		{"upload with a small-order signing key", LinkUpload, &LinkOwnerRecord{Secret: secret, InboxSeed: upRec.InboxSeed,
			SignPublic: append([]byte{1}, make([]byte, 31)...)}},
		{"upload without an inbox seed", LinkUpload, &LinkOwnerRecord{Secret: secret, SignPublic: upRec.SignPublic}},
		{"upload with a 31-byte inbox seed", LinkUpload, &LinkOwnerRecord{Secret: secret, SignPublic: upRec.SignPublic, InboxSeed: upRec.InboxSeed[:31]}},
		{"kind 3", 3, &LinkOwnerRecord{Secret: secret}},
	} {
		_, err := SealLinkOwnerRecord(lt.self, lt.uploadID, lt.volume, lt.folder, c.kind, c.rec)
		if err == nil {
			t.Errorf("%s: sealed", c.name)
			continue
		}
		checkNoSecret(t, err, secret)
	}
}

func FuzzParseLinkURL(f *testing.F) {
	id, secret := seq(0x10, LinkIDSize), seq(0x80, LinkSecretSize)
	for _, base := range []string{"https://coffer.example", "http://localhost:8080", "https://[::1]:443"} {
		u, err := FormatLinkURL(base, id, secret)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(u)
		f.Add(strings.Replace(u, "#", "/#", 1))
		f.Add(strings.Replace(u, "#", "?#", 1))
		f.Add(u[:len(u)-1] + "x")
	}
	f.Add("")
	f.Add("https://a/s/#")
	f.Fuzz(func(t *testing.T, s string) {
		base, id, secret, err := ParseLinkURL(s)
		if err != nil {
			if !errors.Is(err, ErrBadLinkURL) || base != "" || id != nil || secret != nil {
				t.Fatalf("error %v with results", err)
			}
			if _, frag, ok := strings.Cut(s, "#"); ok && len(frag) >= 12 && strings.Contains(err.Error(), frag) {
				t.Fatalf("error repeats the fragment: %v", err)
			}
			return
		}
		if len(id) != LinkIDSize || len(secret) != LinkSecretSize {
			t.Fatalf("lengths %d, %d", len(id), len(secret))
		}
		u, err := FormatLinkURL(base, id, secret)
		if err != nil {
			t.Fatalf("an accepted URL does not re-format: %v", err)
		}
		if u != s && strings.Replace(u, "#", "/#", 1) != s {
			t.Fatalf("re-formats as %q", u)
		}
		if b, i, sec, err := ParseLinkURL(u); err != nil || b != base || !bytes.Equal(i, id) || !bytes.Equal(sec, secret) {
			t.Fatalf("the re-formatted URL parses differently: %v", err)
		}
	})
}

// FuzzOpenLinkPayload seals the fuzzer's plaintext under a fixed link key
// and AD, so that it reaches the plaintext checks: whatever opens must
// reseal to the same bytes.
func FuzzOpenLinkPayload(f *testing.F) {
	k, err := linkKeysFromPW(seq(0, 32), seq(0x10, LinkIDSize))
	if err != nil {
		f.Fatal(err)
	}
	accts, err := vectorAccounts()
	if err != nil {
		f.Fatal(err)
	}
	ident, err := NewVerifyKey(accts[0].keys.IdentityPublic())
	if err != nil {
		f.Fatal(err)
	}
	inbox, err := newInboxKey(seq(0x40, 32))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []*LinkPayload{
		{Kind: LinkRead, Owner: "alice", OwnerIdentity: ident, MinVersion: 2, NodeKey: NodeKey(seq(1, 32)), Name: "report.pdf"},
		{Kind: LinkUpload, Owner: "alice", OwnerIdentity: ident, MinVersion: 1, InboxPublic: inbox.Public(), Name: "Documents"},
	} {
		pt, err := p.plain()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pt, p.Kind)
	}
	aead, err := newGCM(&k.Key)
	if err != nil {
		f.Fatal(err)
	}
	volume, node := seq(0x20, IDSize), seq(0x30, IDSize)
	f.Fuzz(func(t *testing.T, pt []byte, kind byte) {
		fields, err := linkFields(k.id, volume, node, kind)
		if err != nil {
			return
		}
		sealed := sealRaw(aead, nonce12(0), labelLinkPayload, fields, pt)
		p, err := OpenLinkPayload(k, k.id, volume, node, kind, sealed)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v is not ErrDecrypt", err)
			}
			return
		}
		re, err := sealLinkPayload(k, k.id, volume, node, p, nonce12(0))
		if err != nil || !bytes.Equal(re, sealed) {
			t.Fatalf("an opened payload does not reseal to the same bytes: %v", err)
		}
	})
}

// An ID spelled with a leading '-' would be read as a flag by
// `coffer link rm ID`; without the re-draw, 2,000 IDs would hold one
// with a probability of 1 - (63/64)^2000, all but certainly.
func TestNewLinkIDNeverLooksLikeAFlag(t *testing.T) {
	for i := 0; i < 2000; i++ {
		id, err := NewLinkID()
		if err != nil || len(id) != LinkIDSize {
			t.Fatalf("NewLinkID: %x, %v", id, err)
		}
		if s := linkB64.EncodeToString(id); strings.HasPrefix(s, "-") {
			t.Fatalf("link ID %s begins with '-'", s)
		}
	}
}
