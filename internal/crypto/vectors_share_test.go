package crypto

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func (c vcase) shareList(t *testing.T) *ShareList {
	t.Helper()
	l := &ShareList{
		Share:       c.hex(t, "share_hex"),
		Volume:      c.hex(t, "volume_hex"),
		Node:        c.hex(t, "node_hex"),
		Owner:       c.str(t, "owner"),
		Version:     c.u64(t, "version"),
		KeyCheck:    c.key32(t, "key_check_hex"),
		InboxPublic: c.hex(t, "inbox_public_hex"),
	}
	if len(l.InboxPublic) == 0 {
		l.InboxPublic = nil
	}
	ms, ok := c["members"].([]any)
	if !ok {
		t.Fatal("vector field members missing or not a list")
	}
	for _, e := range ms {
		m, ok := e.(map[string]any)
		if !ok {
			t.Fatal("member is not an object")
		}
		mc := vcase(m)
		role, err := ParseRole(mc.str(t, "role"))
		if err != nil {
			t.Fatal(err)
		}
		if uint64(role) != mc.u64(t, "role_code") {
			t.Fatal("role and role_code disagree")
		}
		l.Members = append(l.Members, ShareMember{Name: mc.str(t, "member"), Fingerprint: mc.key32(t, "fingerprint_hex"), Role: role})
	}
	return l
}

func (c vcase) grantRef(t *testing.T) GrantRef {
	t.Helper()
	return GrantRef{Share: c.hex(t, "share_hex"), Volume: c.hex(t, "volume_hex"), Node: c.hex(t, "node_hex"),
		Member: c.str(t, "member"), KeyCheck: c.key32(t, "key_check_hex")}
}

func (c vcase) recipient(t *testing.T) *AccountKeys {
	t.Helper()
	k, err := NewAccountKeysFromSeeds(make([]byte, SeedSize), c.hex(t, "encryption_seed_hex"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (c vcase) acceptance(t *testing.T) *Acceptance {
	t.Helper()
	return &Acceptance{Share: c.hex(t, "share_hex"), Volume: c.hex(t, "volume_hex"), Node: c.hex(t, "node_hex"),
		Owner: c.str(t, "owner"), Member: c.str(t, "member")}
}

func TestVectorsShare(t *testing.T) {
	doc := loadVectors(t, "share.json")

	fps := map[string][32]byte{}
	for _, c := range cases(t, doc, "members") {
		name := c.str(t, "member")
		keys, err := NewAccountKeysFromSeeds(c.hex(t, "identity_seed_hex"), c.hex(t, "encryption_seed_hex"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := OpenBundle(c.hex(t, "bundle_hex"), name)
		if err != nil || !keys.MatchesBundle(b) {
			t.Fatalf("bundle of %s: %v", name, err)
		}
		fp := b.FingerprintBytes()
		eqHex(t, "fingerprint", fp[:], c.hex(t, "fingerprint_hex"))
		fps[name] = fp
	}

	for _, c := range cases(t, doc, "key_check") {
		share, volume, node := c.hex(t, "share_hex"), c.hex(t, "volume_hex"), c.hex(t, "node_hex")
		eqHex(t, "info", tagged(labelShareKeyCheck, idFields(share, volume, node)), c.hex(t, "info_hex"))
		kc, err := ShareKeyCheck(share, volume, node, NodeKey(c.key32(t, "node_key_hex")))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "key check", kc[:], c.hex(t, "key_check_hex"))
	}

	g := split(t, doc, "share_list")
	for _, c := range g["cases"] {
		l := c.shareList(t)
		for _, m := range l.Members {
			if fps[m.Name] != m.Fingerprint {
				t.Errorf("member %s: fingerprint is not its bundle's", m.Name)
			}
		}
		marshaled := c.hex(t, "marshaled_hex")
		eqHex(t, "marshaled", l.Marshal(), marshaled)
		p, err := ParseShareList(marshaled)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "reparsed", p.Marshal(), marshaled)
		keys, err := NewAccountKeysFromSeeds(c.hex(t, "signer_identity_seed_hex"), make([]byte, SeedSize))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "owner public", keys.IdentityPublic(), c.hex(t, "owner_public_hex"))
		sig, err := l.Sign(keys)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "signature", sig, c.hex(t, "signature_hex"))
		if err := p.Verify(c.hex(t, "owner_public_hex"), c.hex(t, "signature_hex")); err != nil {
			t.Errorf("verify vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		l, err := ParseShareList(c.hex(t, "marshaled_hex"))
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Errorf("must_fail %q: parse error = %v", c.str(t, "why"), err)
			}
			continue
		}
		if err := l.Verify(c.hex(t, "owner_public_hex"), c.hex(t, "signature_hex")); !errors.Is(err, ErrBadSignature) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "share_grant")
	for _, c := range g["cases"] {
		keys, ref := c.recipient(t), c.grantRef(t)
		eqHex(t, "public key", keys.EncryptionPublic(), c.hex(t, "encryption_public_hex"))
		info, err := ref.info()
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "info", tagged(labelShareGrant, info), c.hex(t, "info_hex"))
		nfc, err := NormalizeName(c.str(t, "name_typed"))
		if err != nil || nfc != c.str(t, "name") {
			t.Fatalf("name %q does not normalise to %q", c.str(t, "name_typed"), c.str(t, "name"))
		}
		key := NodeKey(c.key32(t, "node_key_hex"))
		eqHex(t, "plaintext", append(append([]byte{0x01}, key[:]...), namePlaintext(nfc)...), c.hex(t, "plaintext_hex"))
		got, name, err := OpenShareGrant(keys, ref, c.hex(t, "sealed_hex"))
		if err != nil || got != key || name != nfc {
			t.Errorf("open grant vector: %q, %v", name, err)
		}
		// Sealing anew (randomized) gives a grant that opens the same way.
		s, err := SealShareGrant(keys.EncryptionPublic(), ref, key, c.str(t, "name_typed"))
		if err != nil {
			t.Fatal(err)
		}
		if got, name, err := OpenShareGrant(keys, ref, s); err != nil || got != key || name != nfc {
			t.Errorf("reseal: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		k, name, err := OpenShareGrant(c.recipient(t), c.grantRef(t), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) || k != (NodeKey{}) || name != "" {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "acceptance")
	for _, c := range g["cases"] {
		a := c.acceptance(t)
		msg, err := a.message()
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "message", msg, c.hex(t, "message_hex"))
		keys, err := NewAccountKeysFromSeeds(c.hex(t, "signer_identity_seed_hex"), make([]byte, SeedSize))
		if err != nil {
			t.Fatal(err)
		}
		sig, err := a.Sign(keys)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "signature", sig, c.hex(t, "signature_hex"))
		if err := a.Verify(c.hex(t, "member_public_hex"), c.hex(t, "signature_hex")); err != nil {
			t.Errorf("verify vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		if err := c.acceptance(t).Verify(c.hex(t, "member_public_hex"), c.hex(t, "signature_hex")); !errors.Is(err, ErrBadSignature) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "inbox_key")
	for _, c := range g["cases"] {
		fk := c.key32(t, "folder_node_key_hex")
		wrap, err := hkdf32(fk[:], labelInboxKeyWrap, "")
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "inbox key wrap", wrap[:], c.hex(t, "inbox_key_wrap_hex"))
		k, err := newInboxKey(c.hex(t, "inbox_seed_hex"))
		if err != nil {
			t.Fatal(err)
		}
		pub := c.hex(t, "inbox_public_hex")
		eqHex(t, "inbox public", k.Public(), pub)
		volume, node := c.hex(t, "volume_hex"), c.hex(t, "node_hex")
		fields, err := inboxKeyFields(volume, node, pub)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "ad", envelopeAD(labelInboxKey, fields), c.hex(t, "ad_hex"))
		folder := c.nodeKeys(t, "folder_node_key_hex")
		sealed, err := sealInboxKey(folder, volume, node, k, c.nonce(t))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		got, err := OpenInboxKey(folder, volume, node, pub, c.hex(t, "sealed_hex"))
		if err != nil || got.seed != k.seed {
			t.Errorf("open inbox key vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		k, err := OpenInboxKey(c.nodeKeys(t, "folder_node_key_hex"), c.hex(t, "volume_hex"), c.hex(t, "node_hex"),
			c.hex(t, "inbox_public_hex"), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) || k != nil {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}
}

// TestVectorShareUserNames keeps share.json to account names the API
// accepts, as TestVectorUserNames does for the other files. In share.json
// "name" is the name a node is shared under; "owner", "member" and
// "author" (of drop records) are account names.
func TestVectorShareUserNames(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectorDir, "share.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(v any, bad bool)
	walk = func(v any, bad bool) {
		switch v := v.(type) {
		case map[string]any:
			// A must_fail case may carry a bad name on purpose.
			_, why := v["why"]
			bad = bad || why
			for k, e := range v {
				if s, ok := e.(string); ok && (k == "owner" || k == "member" || k == "author") {
					n++
					if !bad && !apiUserName.MatchString(s) {
						t.Errorf("account name %q is not a valid account name", s)
					}
				}
				walk(e, bad)
			}
		case []any:
			for _, e := range v {
				walk(e, bad)
			}
		}
	}
	walk(doc, false)
	if n == 0 {
		t.Error("no account names found")
	}
}
