package crypto

import (
	"errors"
	"testing"
)

func (c vcase) inbox(t *testing.T) *InboxKey {
	t.Helper()
	k, err := newInboxKey(c.hex(t, "inbox_seed_hex"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVectorsInbox checks the inbox_drop, drop_record and uploader_grant
// groups of share.json as another implementation would: from the JSON
// fields alone.
func TestVectorsInbox(t *testing.T) {
	doc := loadVectors(t, "share.json")

	g := split(t, doc, "inbox_drop")
	drops := map[string]NodeKey{}
	for _, c := range g["cases"] {
		inbox, ref := c.inbox(t), c.ref(t)
		eqHex(t, "inbox public", inbox.Public(), c.hex(t, "inbox_public_hex"))
		eqHex(t, "info", tagged(labelInboxDrop, idFields(ref.Volume, ref.Parent, ref.Node)), c.hex(t, "info_hex"))
		nfc, err := NormalizeName(c.str(t, "name_typed"))
		if err != nil || nfc != c.str(t, "name") {
			t.Fatalf("name %q does not normalise to %q", c.str(t, "name_typed"), c.str(t, "name"))
		}
		key := NodeKey(c.key32(t, "node_key_hex"))
		eqHex(t, "plaintext", append(append([]byte{0x01}, key[:]...), namePlaintext(nfc)...), c.hex(t, "plaintext_hex"))
		sealed := c.hex(t, "sealed_hex")
		if !IsSealedInboxDropSize(len(sealed)) {
			t.Errorf("drop of %d bytes", len(sealed))
		}
		got, name, err := OpenInboxDrop(inbox, ref, sealed)
		if err != nil || got != key || name != nfc {
			t.Errorf("open drop vector: %q, %v", name, err)
		}
		drops[string(ref.Node)] = key
		// Sealing anew (randomized) gives a drop that opens the same way.
		s, err := SealInboxDrop(inbox.Public(), ref, key, c.str(t, "name_typed"))
		if err != nil {
			t.Fatal(err)
		}
		if got, name, err := OpenInboxDrop(inbox, ref, s); err != nil || got != key || name != nfc {
			t.Errorf("reseal: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		k, name, err := OpenInboxDrop(c.inbox(t), c.ref(t), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) || k != (NodeKey{}) || name != "" {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "drop_record")
	if len(g["cases"]) != 2 {
		t.Fatal("drop_record: want a drop and its adoption")
	}
	for _, c := range g["cases"] {
		r := c.nodeRecord(t)
		if r.IsDrop() != c.bool(t, "is_drop") {
			t.Errorf("IsDrop = %v", r.IsDrop())
		}
		eqHex(t, "marshaled", r.Marshal(), c.hex(t, "marshaled_hex"))
		sig, err := r.Sign(signer(t, c))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "signature", sig, c.hex(t, "signature_hex"))
		if err := r.Verify(c.hex(t, "author_public_hex"), c.hex(t, "signature_hex")); err != nil {
			t.Errorf("verify vector: %v", err)
		}
		if r.IsDrop() {
			if _, ok := drops[string(r.Node)]; !ok {
				t.Error("the drop record's sealed key is not one of inbox_drop's")
			}
			continue
		}
		// The adoption re-seals the drop's key and name under the parent.
		a := c.sub(t, "adoption")
		parent := a.nodeKeys(t, "parent_node_key_hex")
		key := NodeKey(a.key32(t, "node_key_hex"))
		if drops[string(r.Node)] != key {
			t.Error("adoption: the node key is not the drop's")
		}
		sk, err := wrapNodeKey(parent, r.Ref(), key, (*[nonceSize]byte)(a.hex(t, "key_nonce_hex")))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "adopted sealed key", sk, r.SealedKey)
		sn, err := sealName(parent, r.Ref(), a.str(t, "name"), (*[nonceSize]byte)(a.hex(t, "name_nonce_hex")))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "adopted sealed name", sn, r.SealedName)
		if name, err := OpenRecordName(parent, r); err != nil || name != a.str(t, "name") {
			t.Errorf("adopted name %q, %v", name, err)
		}
	}
	for _, c := range g["must_fail"] {
		r := c.nodeRecord(t)
		if err := r.Verify(c.hex(t, "author_public_hex"), c.hex(t, "signature_hex")); !errors.Is(err, ErrBadSignature) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "uploader_grant")
	for _, c := range g["cases"] {
		keys, ref := c.recipient(t), c.uploaderRef(t)
		eqHex(t, "public key", keys.EncryptionPublic(), c.hex(t, "encryption_public_hex"))
		info, err := ref.fields()
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "info", tagged(labelUploaderGrant, info), c.hex(t, "info_hex"))
		nfc := c.str(t, "name")
		eqHex(t, "plaintext", append([]byte{0x01}, namePlaintext(nfc)...), c.hex(t, "plaintext_hex"))
		name, err := OpenUploaderGrant(keys, ref, c.hex(t, "sealed_hex"))
		if err != nil || name != nfc {
			t.Errorf("open uploader grant vector: %q, %v", name, err)
		}
		s, err := SealUploaderGrant(keys.EncryptionPublic(), ref, c.str(t, "name_typed"))
		if err != nil {
			t.Fatal(err)
		}
		if name, err := OpenUploaderGrant(keys, ref, s); err != nil || name != nfc {
			t.Errorf("reseal: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		name, err := OpenUploaderGrant(c.recipient(t), c.uploaderRef(t), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) || name != "" {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}
}

// uploaderRef is grantRef without a key check, which uploader grants do
// not carry.
func (c vcase) uploaderRef(t *testing.T) GrantRef {
	t.Helper()
	return GrantRef{Share: c.hex(t, "share_hex"), Volume: c.hex(t, "volume_hex"), Node: c.hex(t, "node_hex"), Member: c.str(t, "member")}
}
