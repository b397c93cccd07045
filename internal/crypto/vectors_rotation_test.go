package crypto

import (
	"errors"
	"testing"
)

// keyList reads a list of 32-byte hex keys.
func (c vcase) keyList(t *testing.T, k string) []NodeKey {
	t.Helper()
	list, ok := c[k].([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("vector field %q missing, empty or not a list", k)
	}
	keys := make([]NodeKey, len(list))
	for i := range list {
		keys[i] = NodeKey(vcase{"k": list[i]}.key32(t, "k"))
	}
	return keys
}

func TestVectorsRotation(t *testing.T) {
	doc := loadVectors(t, "rotation.json")

	for _, c := range cases(t, doc, "key_history_wrap") {
		k := c.key32(t, "node_key_hex")
		sk, err := hkdf32(k[:], labelKeyHistoryWrap, "")
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "key_history_wrap", sk[:], c.hex(t, "key_history_wrap_hex"))
	}

	g := split(t, doc, "key_history")
	for _, c := range g["cases"] {
		cur := c.nodeKeys(t, "current_node_key_hex")
		vol, node := c.hex(t, "volume_hex"), c.hex(t, "node_hex")
		prev := c.keyList(t, "previous_keys_hex")
		eqHex(t, "ad", envelopeAD(labelKeyHistory, idFields(vol, node)), c.hex(t, "ad_hex"))
		eqHex(t, "plaintext", sealedPlainKeys(prev), c.hex(t, "plaintext_hex"))
		sealed, err := sealKeyHistory(cur, vol, node, prev, c.nonce(t))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		got, err := OpenKeyHistory(cur, vol, node, c.hex(t, "sealed_hex"))
		if err != nil || len(got) != len(prev) {
			t.Fatalf("open %q: %d keys, %v", c.str(t, "why"), len(got), err)
		}
		for i := range got {
			if got[i] != prev[i] {
				t.Errorf("open %q: key %d differs", c.str(t, "why"), i)
			}
		}
	}
	for _, c := range g["must_fail"] {
		keys, err := OpenKeyHistory(c.nodeKeys(t, "current_node_key_hex"), c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) || keys != nil {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "revision_content_key")
	for _, c := range g["cases"] {
		cur := c.nodeKeys(t, "current_node_key_hex")
		vol, node, rev, sck := c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.hex(t, "revision_hex"), c.hex(t, "sealed_content_key_hex")
		hist, err := OpenKeyHistory(cur, vol, node, c.hex(t, "key_history_hex"))
		if err != nil {
			t.Fatal(err)
		}
		// The current key, then each earlier key in order.
		candidates := []*NodeKeys{cur}
		for _, k := range hist {
			d, err := k.Derive()
			if err != nil {
				t.Fatal(err)
			}
			candidates = append(candidates, d)
		}
		which := -1
		var ck ContentKey
		for i, d := range candidates {
			if ck, err = OpenContentKey(d, vol, node, rev, sck); err == nil {
				which = i
				break
			}
		}
		if which != c.int(t, "opened_with") || ck != ContentKey(c.key32(t, "content_key_hex")) {
			t.Errorf("%q: opened with key %d, want %d", c.str(t, "why"), which, c.int(t, "opened_with"))
		}
	}
	for _, c := range g["must_fail"] {
		_, err := OpenContentKey(c.nodeKeys(t, "node_key_hex"), c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.hex(t, "revision_hex"),
			c.hex(t, "sealed_content_key_hex"))
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "node_record")
	for _, c := range g["cases"] {
		r := c.nodeRecord(t)
		m := r.Marshal()
		eqHex(t, "marshaled", m, c.hex(t, "marshaled_hex"))
		if len(m) == 0 || m[0] != 0x02 || len(r.KeyHistory) == 0 {
			t.Fatal("a record with a key history does not encode with 0x02")
		}
		sig, err := r.Sign(signer(t, c))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "signature", sig, c.hex(t, "signature_hex"))
		if err := r.Verify(c.hex(t, "author_public_hex"), c.hex(t, "signature_hex")); err != nil {
			t.Errorf("verify vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		r := c.nodeRecord(t)
		if err := r.Verify(c.hex(t, "author_public_hex"), c.hex(t, "signature_hex")); !errors.Is(err, ErrBadSignature) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}
}
