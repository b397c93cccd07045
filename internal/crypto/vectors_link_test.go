package crypto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/coffer-drive/coffer/internal/srp"
)

// vectorLinkKeys returns LinkKeys holding only what a vector gives: the
// link ID, link_key and, if present, the signing seed. The SRP value is
// zeros; nothing here uses it.
func vectorLinkKeys(t *testing.T, id []byte, key [32]byte, signSeed []byte) *LinkKeys {
	t.Helper()
	if signSeed == nil {
		signSeed = make([]byte, ed25519.SeedSize)
	}
	return &LinkKeys{SRPX: make([]byte, 32), Key: key, id: id, sign: ed25519.NewKeyFromSeed(signSeed)}
}

func (c vcase) kdf(t *testing.T) KDFParams {
	t.Helper()
	return KDFParams{c.u32(t, "memory_kib"), c.u32(t, "iterations"), c.u32(t, "parallelism")}
}

func (c vcase) kind(t *testing.T) byte {
	t.Helper()
	k := c.u64(t, "kind")
	if k > 255 {
		t.Fatalf("kind %d", k)
	}
	return byte(k)
}

// TestVectorsLink checks link.json as another implementation would: from
// the JSON fields alone, recomputing every byte.
func TestVectorsLink(t *testing.T) {
	doc := loadVectors(t, "link.json")

	// url
	g := split(t, doc, "url")
	for _, c := range g["cases"] {
		base, id, secret := c.str(t, "base"), c.hex(t, "link_id_hex"), c.hex(t, "secret_hex")
		u, err := FormatLinkURL(base, id, secret)
		if err != nil || u != c.str(t, "url") {
			t.Errorf("FormatLinkURL(%q) = %q, %v; want %q", base, u, err, c.str(t, "url"))
		}
		if u, err := FormatLinkURL(base+"/", id, secret); err != nil || u != c.str(t, "url") {
			t.Errorf("FormatLinkURL(%q/) = %q, %v", base, u, err)
		}
		b, i, s, err := ParseLinkURL(c.str(t, "url"))
		if err != nil || b != base || !bytes.Equal(i, id) || !bytes.Equal(s, secret) {
			t.Errorf("ParseLinkURL(%q) = %q, %x, %v", c.str(t, "url"), b, i, err)
		}
	}
	for _, c := range g["also_parses"] {
		b, i, s, err := ParseLinkURL(c.str(t, "url"))
		if err != nil || b != c.str(t, "base") || !bytes.Equal(i, c.hex(t, "link_id_hex")) || !bytes.Equal(s, c.hex(t, "secret_hex")) {
			t.Errorf("also_parses %q: %q, %x, %v", c.str(t, "why"), b, i, err)
			continue
		}
		if u, err := FormatLinkURL(b, i, s); err != nil || u != c.str(t, "formats_as") {
			t.Errorf("also_parses %q formats as %q, %v", c.str(t, "why"), u, err)
		}
	}
	for _, c := range g["must_fail"] {
		u := c.str(t, "url")
		b, i, s, err := ParseLinkURL(u)
		if !errors.Is(err, ErrBadLinkURL) || b != "" || i != nil || s != nil {
			t.Errorf("must_fail %q: ParseLinkURL = %q, %x, %v", c.str(t, "why"), b, i, err)
			continue
		}
		if _, frag, ok := strings.Cut(u, "#"); ok && len(frag) >= 8 && strings.Contains(err.Error(), frag) {
			t.Errorf("must_fail %q: the error repeats the fragment: %v", c.str(t, "why"), err)
		}
	}

	// keys
	g = split(t, doc, "keys")
	linkKeys := map[string]vcase{}
	for _, c := range g["cases"] {
		id, secret, password, salt := c.hex(t, "link_id_hex"), c.hex(t, "secret_hex"), c.str(t, "password"), c.hex(t, "salt_hex")
		p := c.kdf(t)
		if p != DefaultKDF {
			t.Errorf("keys %q: not at the default parameters", c.str(t, "link"))
		}
		nfc := norm.NFC.String(password)
		eqHex(t, "password NFC", []byte(nfc), c.hex(t, "password_nfc_hex"))
		eqHex(t, "Argon2id input", append(bytes.Clone(secret), nfc...), c.hex(t, "argon2id_input_hex"))
		k, err := DeriveLinkKeys(secret, password, id, salt, p)
		if err != nil {
			t.Fatal(err)
		}
		// The HKDF half, from the file's Argon2id output.
		fromPW, err := linkKeysFromPW(c.hex(t, "argon2id_hex"), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, kk := range []*LinkKeys{k, fromPW} {
			eqHex(t, "srp_x", kk.SRPX, c.hex(t, "srp_x_hex"))
			eqHex(t, "link_key", kk.Key[:], c.hex(t, "link_key_hex"))
			eqHex(t, "sign_seed", kk.sign.Seed(), c.hex(t, "sign_seed_hex"))
			eqHex(t, "sign_public", kk.SignPublic(), c.hex(t, "sign_public_hex"))
			eqHex(t, "verifier", kk.Verifier(), c.hex(t, "verifier_hex"))
		}
		eqHex(t, "sign_public from seed", ed25519.NewKeyFromSeed(c.hex(t, "sign_seed_hex")).Public().(ed25519.PublicKey), c.hex(t, "sign_public_hex"))
		if LinkAuthor(id) != c.str(t, "identity") {
			t.Errorf("LinkAuthor = %q, want %q", LinkAuthor(id), c.str(t, "identity"))
		}
		linkKeys[string(id)] = c
	}
	for _, c := range g["must_fail"] {
		_, err := DeriveLinkKeys(c.hex(t, "secret_hex"), c.str(t, "password"), c.hex(t, "link_id_hex"), c.hex(t, "salt_hex"), c.kdf(t))
		if err == nil {
			t.Errorf("must_fail %q: derived keys", c.str(t, "why"))
		}
	}
	keysOf := func(id []byte) vcase {
		t.Helper()
		c, ok := linkKeys[string(id)]
		if !ok {
			t.Fatalf("link %x is not in the keys group", id)
		}
		return c
	}

	// payload
	g = split(t, doc, "payload")
	for _, c := range g["cases"] {
		id, volume, node, kind := c.hex(t, "link_id_hex"), c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.kind(t)
		eqHex(t, "link_key (keys group)", c.hex(t, "link_key_hex"), keysOf(id).hex(t, "link_key_hex"))
		k := vectorLinkKeys(t, id, c.key32(t, "link_key_hex"), nil)
		fields, err := linkFields(id, volume, node, kind)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "ad", envelopeAD(labelLinkPayload, fields), c.hex(t, "ad_hex"))
		ident, err := NewVerifyKey(c.hex(t, "owner_identity_hex"))
		if err != nil {
			t.Fatal(err)
		}
		p := &LinkPayload{Kind: kind, Owner: c.str(t, "owner"), OwnerIdentity: ident, MinVersion: c.u64(t, "min_version"),
			InboxPublic: c.hex(t, "inbox_public_hex"), Name: c.str(t, "name")}
		if nk := c.hex(t, "node_key_hex"); len(nk) != 0 {
			p.NodeKey = NodeKey(c.key32(t, "node_key_hex"))
		}
		if len(p.InboxPublic) == 0 {
			p.InboxPublic = nil
		}
		pt, err := p.plain()
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "plaintext", pt, c.hex(t, "plaintext_hex"))
		sealed, err := sealLinkPayload(k, id, volume, node, p, c.nonce(t))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		got, err := OpenLinkPayload(k, id, volume, node, kind, c.hex(t, "sealed_hex"))
		if err != nil {
			t.Fatalf("open vector: %v", err)
		}
		if got.Kind != p.Kind || got.Owner != p.Owner || !bytes.Equal(got.OwnerIdentity.Public(), ident.Public()) ||
			got.MinVersion != p.MinVersion || got.NodeKey != p.NodeKey || !bytes.Equal(got.InboxPublic, p.InboxPublic) || got.Name != p.Name {
			t.Errorf("opened payload %+v, want %+v", got, p)
		}
	}
	for _, c := range g["must_fail"] {
		id := c.hex(t, "link_id_hex")
		k := vectorLinkKeys(t, id, c.key32(t, "link_key_hex"), nil)
		p, err := OpenLinkPayload(k, id, c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.kind(t), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) || p != nil {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	// self_key
	selfKeys := map[string][32]byte{}
	for _, c := range cases(t, doc, "self_key") {
		keys, err := NewAccountKeysFromSeeds(make([]byte, SeedSize), c.hex(t, "encryption_seed_hex"))
		if err != nil {
			t.Fatal(err)
		}
		user := c.str(t, "user")
		eqHex(t, "info", tagged(labelSelfKey, []byte(user)), c.hex(t, "info_hex"))
		k, err := SelfKey(keys, user)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "self key", k[:], c.hex(t, "self_key_hex"))
		selfKeys[user] = k
	}

	// owner_record
	g = split(t, doc, "owner_record")
	for _, c := range g["cases"] {
		self := c.key32(t, "self_key_hex")
		if selfKeys[c.str(t, "user")] != self {
			t.Error("owner record: self key is not the self_key group's")
		}
		id, volume, node, kind := c.hex(t, "link_id_hex"), c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.kind(t)
		fields, err := linkFields(id, volume, node, kind)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "ad", envelopeAD(labelLinkOwner, fields), c.hex(t, "ad_hex"))
		rec := &LinkOwnerRecord{Secret: c.hex(t, "secret_hex"), Password: c.str(t, "password_typed"),
			SignPublic: c.hex(t, "sign_public_hex"), InboxSeed: c.hex(t, "inbox_seed_hex")}
		eqHex(t, "secret (keys group)", rec.Secret, keysOf(id).hex(t, "secret_hex"))
		if kind == LinkUpload {
			eqHex(t, "sign_public (keys group)", rec.SignPublic, keysOf(id).hex(t, "sign_public_hex"))
		}
		password := c.str(t, "password")
		if norm.NFC.String(rec.Password) != password {
			t.Error("password is not the NFC of password_typed")
		}
		eqHex(t, "plaintext", linkOwnerPlain(rec.Secret, password, rec.SignPublic, rec.InboxSeed), c.hex(t, "plaintext_hex"))
		sealed, err := sealLinkOwnerRecord(&self, id, volume, node, kind, rec, c.nonce(t))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		got, err := OpenLinkOwnerRecord(self, id, volume, node, kind, c.hex(t, "sealed_hex"))
		if err != nil {
			t.Fatalf("open vector: %v", err)
		}
		if !bytes.Equal(got.Secret, rec.Secret) || got.Password != password || !bytes.Equal(got.SignPublic, rec.SignPublic) ||
			!bytes.Equal(got.InboxSeed, rec.InboxSeed) {
			t.Errorf("opened owner record %+v", got)
		}
	}
	for _, c := range g["must_fail"] {
		rec, err := OpenLinkOwnerRecord(c.key32(t, "self_key_hex"), c.hex(t, "link_id_hex"), c.hex(t, "volume_hex"),
			c.hex(t, "node_hex"), c.kind(t), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) || rec != nil {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	testVectorsLinkDrop(t, split(t, doc, "drop_record"), keysOf)

	// srp
	for _, c := range cases(t, doc, "srp") {
		identity := c.str(t, "identity")
		id, ok := ParseLinkAuthor(identity)
		if !ok {
			t.Fatalf("srp identity %q is not a link's", identity)
		}
		kc := keysOf(id)
		eqHex(t, "x (keys group)", c.hex(t, "x_hex"), kc.hex(t, "srp_x_hex"))
		eqHex(t, "salt (keys group)", c.hex(t, "salt_hex"), kc.hex(t, "salt_hex"))
		eqHex(t, "verifier (keys group)", c.hex(t, "verifier_hex"), kc.hex(t, "verifier_hex"))
		tr, err := srp.Group3072().VectorTranscript([]byte(identity), c.hex(t, "salt_hex"), c.hex(t, "x_hex"), c.hex(t, "a_hex"), c.hex(t, "b_hex"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			k   string
			got []byte
		}{{"verifier_hex", tr.V}, {"A_hex", tr.A}, {"B_hex", tr.B}, {"u_hex", tr.U}, {"S_hex", tr.S}, {"K_hex", tr.K}, {"M1_hex", tr.M1}, {"M2_hex", tr.M2}} {
			eqHex(t, "srp "+f.k, f.got, c.hex(t, f.k))
		}
	}
}

// testVectorsLinkDrop checks the drop_record group: an anonymous drop and
// its head revision, signed with a link's key.
func testVectorsLinkDrop(t *testing.T, g map[string][]vcase, keysOf func([]byte) vcase) {
	t.Helper()
	for _, c := range g["cases"] {
		r := c.nodeRecord(t)
		id := c.hex(t, "link_id_hex")
		if got, ok := ParseLinkAuthor(r.Author); !ok || !bytes.Equal(got, id) || r.Author != LinkAuthor(id) {
			t.Errorf("author %q is not the link's", r.Author)
		}
		eqHex(t, "sign seed (keys group)", c.hex(t, "sign_seed_hex"), keysOf(id).hex(t, "sign_seed_hex"))
		if r.IsDrop() != c.bool(t, "is_drop") || !r.IsDrop() {
			t.Error("the link's record is not a drop")
		}
		eqHex(t, "marshaled", r.Marshal(), c.hex(t, "marshaled_hex"))
		k := vectorLinkKeys(t, id, [32]byte{}, c.hex(t, "sign_seed_hex"))
		eqHex(t, "author public", k.SignPublic(), c.hex(t, "author_public_hex"))
		sig, err := r.SignLink(k)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "signature", sig, c.hex(t, "signature_hex"))
		if err := r.Verify(c.hex(t, "author_public_hex"), c.hex(t, "signature_hex")); err != nil {
			t.Errorf("verify vector: %v", err)
		}

		d := c.sub(t, "drop")
		inbox, err := newInboxKey(d.hex(t, "inbox_seed_hex"))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "drop info", tagged(labelInboxDrop, r.Ref().fields()), d.hex(t, "info_hex"))
		nodeKey := NodeKey(d.key32(t, "node_key_hex"))
		eqHex(t, "drop plaintext", append(append([]byte{inboxDropVersion}, nodeKey[:]...), namePlaintext(d.str(t, "name"))...), d.hex(t, "plaintext_hex"))
		key, name, err := OpenInboxDrop(inbox, r.Ref(), r.SealedKey)
		if err != nil || key != nodeKey || name != d.str(t, "name") {
			t.Errorf("open the link drop: %q, %v", name, err)
		}

		rc := c.sub(t, "revision")
		rev := rc.revisionRecord(t)
		if rev.Author != r.Author {
			t.Error("the revision's author is not the drop's")
		}
		eqHex(t, "revision marshaled", rev.Marshal(), rc.hex(t, "marshaled_hex"))
		digest := rev.Digest()
		eqHex(t, "revision digest", digest[:], rc.hex(t, "digest_hex"))
		if err := rev.MatchesHead(r); err != nil {
			t.Error(err)
		}
		rsig, err := rev.SignLink(k)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "revision signature", rsig, rc.hex(t, "signature_hex"))
		if err := rev.Verify(c.hex(t, "author_public_hex"), rc.hex(t, "signature_hex")); err != nil {
			t.Errorf("verify revision vector: %v", err)
		}
		nk, err := nodeKey.Derive()
		if err != nil {
			t.Fatal(err)
		}
		ck, err := OpenContentKey(nk, rev.Volume, rev.Node, rev.Revision, rev.SealedContentKey)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "content key", ck[:], rc.hex(t, "content_key_hex"))
		a, err := OpenAttrs(ck, rev.Volume, rev.Node, rev.Revision, rev.SealedAttrs)
		if err != nil {
			t.Fatal(err)
		}
		plain := []byte(rc.str(t, "plaintext"))
		if a.Size != rc.u64(t, "size") || a.Size != uint64(len(plain)) || strconv.FormatInt(a.ModTime, 10) != rc.str(t, "mtime") {
			t.Errorf("attributes %+v", a)
		}
		eqHex(t, "sha256", a.SHA256[:], rc.hex(t, "sha256_hex"))
		if err := CheckManifest(rev, a); err != nil {
			t.Error(err)
		}
		block := rc.hex(t, "sealed_block_hex")
		if len(rev.Blocks) != 1 || BlockID(block) != rev.Blocks[0] {
			t.Fatal("the sealed block is not the revision's")
		}
		bs, err := NewBlockSealer(ck, rev.Volume, rev.Node, rev.Revision)
		if err != nil {
			t.Fatal(err)
		}
		out, err := bs.Open(nil, block, 0, true)
		if err != nil || !bytes.Equal(out[:a.LastBlockLen()], plain) {
			t.Errorf("open block: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		if err := c.nodeRecord(t).Verify(c.hex(t, "author_public_hex"), c.hex(t, "signature_hex")); !errors.Is(err, ErrBadSignature) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}
	if len(g["revision_must_fail"]) == 0 {
		t.Error("drop_record has no revision_must_fail")
	}
	for _, c := range g["revision_must_fail"] {
		if err := c.revisionRecord(t).Verify(c.hex(t, "author_public_hex"), c.hex(t, "signature_hex")); !errors.Is(err, ErrBadSignature) {
			t.Errorf("revision_must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}
}
