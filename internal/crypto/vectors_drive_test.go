package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strconv"
	"testing"
)

func (c vcase) u64(t *testing.T, k string) uint64 {
	t.Helper()
	v, ok := c[k].(float64)
	if !ok || v < 0 || v > 1<<53 || v != float64(uint64(v)) {
		t.Fatalf("vector field %q missing or not an integer below 2^53", k)
	}
	return uint64(v)
}

func (c vcase) int(t *testing.T, k string) int {
	t.Helper()
	return int(c.u64(t, k))
}

func (c vcase) bool(t *testing.T, k string) bool {
	t.Helper()
	v, ok := c[k].(bool)
	if !ok {
		t.Fatalf("vector field %q missing or not a boolean", k)
	}
	return v
}

func (c vcase) nodeKeys(t *testing.T, k string) *NodeKeys {
	t.Helper()
	nk, err := NodeKey(c.key32(t, k)).Derive()
	if err != nil {
		t.Fatal(err)
	}
	return nk
}

func (c vcase) nonce(t *testing.T) *[nonceSize]byte {
	t.Helper()
	b := c.hex(t, "nonce_hex")
	if len(b) != nonceSize {
		t.Fatalf("nonce is %d bytes", len(b))
	}
	return (*[nonceSize]byte)(b)
}

func (c vcase) ref(t *testing.T) NodeRef {
	t.Helper()
	return NodeRef{Volume: c.hex(t, "volume_hex"), Parent: c.hex(t, "parent_hex"), Node: c.hex(t, "node_hex")}
}

func (c vcase) nodeRecord(t *testing.T) *NodeRecord {
	t.Helper()
	var history []byte
	if _, ok := c["key_history_hex"]; ok {
		history = c.hex(t, "key_history_hex")
		if len(history) == 0 {
			t.Fatal("key_history_hex is present but empty (an empty history is written by leaving it out)")
		}
	}
	return &NodeRecord{
		KeyHistory:     history,
		Volume:         c.hex(t, "volume_hex"),
		Node:           c.hex(t, "node_hex"),
		Parent:         c.hex(t, "parent_hex"),
		Kind:           NodeKind(c.u64(t, "kind")),
		NameHash:       c.key32(t, "name_hash_hex"),
		SealedName:     c.hex(t, "sealed_name_hex"),
		SealedKey:      c.hex(t, "sealed_key_hex"),
		Author:         c.str(t, "author"),
		Version:        c.u64(t, "version"),
		Revision:       c.hex(t, "revision_hex"),
		RevisionSeq:    c.u64(t, "revision_seq"),
		RevisionDigest: c.key32(t, "revision_digest_hex"),
	}
}

// sub returns the nested object c[k].
func (c vcase) sub(t *testing.T, k string) vcase {
	t.Helper()
	m, ok := c[k].(map[string]any)
	if !ok {
		t.Fatalf("vector field %q missing or not an object", k)
	}
	return vcase(m)
}

func (c vcase) revisionRecord(t *testing.T) *RevisionRecord {
	t.Helper()
	list, ok := c["blocks_hex"].([]any)
	if !ok {
		t.Fatal("vector field blocks_hex missing or not a list")
	}
	var blocks [][32]byte
	for i := range list {
		blocks = append(blocks, vcase{"b": list[i]}.key32(t, "b"))
	}
	return &RevisionRecord{
		Volume:           c.hex(t, "volume_hex"),
		Node:             c.hex(t, "node_hex"),
		Revision:         c.hex(t, "revision_hex"),
		Seq:              c.u64(t, "seq"),
		SealedContentKey: c.hex(t, "sealed_content_key_hex"),
		Blocks:           blocks,
		SealedAttrs:      c.hex(t, "sealed_attrs_hex"),
		Author:           c.str(t, "author"),
	}
}

// plaintext reads plaintext_hex, or rebuilds a large plaintext from
// plaintext_rule as another implementation would.
func (c vcase) plaintext(t *testing.T) []byte {
	t.Helper()
	if _, ok := c["plaintext_hex"]; ok {
		return c.hex(t, "plaintext_hex")
	}
	if c.str(t, "plaintext_rule") != patternRule {
		t.Fatal("unknown plaintext rule")
	}
	start, n := c.int(t, "plaintext_start"), c.int(t, "plaintext_len")
	pt := make([]byte, n)
	for i := range pt {
		pt[i] = byte((start + i) % 251)
	}
	return pt
}

func signer(t *testing.T, c vcase) *AccountKeys {
	t.Helper()
	k, err := NewAccountKeysFromSeeds(c.hex(t, "signer_identity_seed_hex"), make([]byte, SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	eqHex(t, "author public", k.IdentityPublic(), c.hex(t, "author_public_hex"))
	return k
}

func TestVectorsTree(t *testing.T) {
	doc := loadVectors(t, "tree.json")

	for _, c := range cases(t, doc, "node_keys") {
		k := c.key32(t, "node_key_hex")
		for field, label := range map[string]string{
			"node_key_wrap_hex":    labelNodeKeyWrap,
			"name_key_hex":         labelNameKey,
			"name_hash_key_hex":    labelNameHashKey,
			"content_key_wrap_hex": labelContentKeyWrap,
		} {
			sk, err := hkdf32(k[:], label, "")
			if err != nil {
				t.Fatal(err)
			}
			eqHex(t, field, sk[:], c.hex(t, field))
		}
	}

	g := split(t, doc, "wrapped_node_key")
	for _, c := range g["cases"] {
		parent, ref := c.nodeKeys(t, "parent_node_key_hex"), c.ref(t)
		eqHex(t, "ad", envelopeAD(labelNodeKey, ref.fields()), c.hex(t, "ad_hex"))
		child := NodeKey(c.key32(t, "child_node_key_hex"))
		sealed, err := wrapNodeKey(parent, ref, child, c.nonce(t))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		got, err := UnwrapNodeKey(parent, ref, c.hex(t, "sealed_hex"))
		if err != nil || got != child {
			t.Errorf("unwrap vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		if _, err := UnwrapNodeKey(c.nodeKeys(t, "parent_node_key_hex"), c.ref(t), c.hex(t, "sealed_hex")); !errors.Is(err, ErrDecrypt) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "root_key")
	openRoot := func(c vcase) (NodeKey, error) {
		keys, err := NewAccountKeysFromSeeds(make([]byte, SeedSize), c.hex(t, "encryption_seed_hex"))
		if err != nil {
			t.Fatal(err)
		}
		return OpenRootKey(keys, c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.hex(t, "sealed_hex"))
	}
	for _, c := range g["cases"] {
		info, err := rootKeyInfo(c.hex(t, "volume_hex"), c.hex(t, "node_hex"))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "info", tagged(labelRootKey, info), c.hex(t, "info_hex"))
		got, err := openRoot(c)
		if err != nil || got != NodeKey(c.key32(t, "node_key_hex")) {
			t.Errorf("open root key vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		if _, err := openRoot(c); !errors.Is(err, ErrDecrypt) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "name_normalization")
	for _, c := range g["cases"] {
		name := string(c.hex(t, "name_hex"))
		if name != c.str(t, "name") {
			t.Fatal("name and name_hex disagree")
		}
		got, err := NormalizeName(name)
		if err != nil || got != string(c.hex(t, "nfc_hex")) {
			t.Errorf("NormalizeName(%q) = %q, %v", c.str(t, "why"), got, err)
		}
	}
	for _, c := range g["must_fail"] {
		if _, err := NormalizeName(string(c.hex(t, "name_hex"))); !errors.Is(err, ErrBadName) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "sealed_name")
	for _, c := range g["cases"] {
		parent, ref := c.nodeKeys(t, "parent_node_key_hex"), c.ref(t)
		nfc := string(c.hex(t, "nfc_hex"))
		eqHex(t, "ad", envelopeAD(labelNodeName, ref.fields()), c.hex(t, "ad_hex"))
		eqHex(t, "plaintext", namePlaintext(nfc), c.hex(t, "plaintext_hex"))
		sealed, err := sealName(parent, ref, c.str(t, "name"), c.nonce(t))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		got, err := OpenName(parent, ref, c.hex(t, "sealed_hex"))
		if err != nil || got != nfc {
			t.Errorf("open name vector: %q, %v", got, err)
		}
	}
	for _, c := range g["must_fail"] {
		_, err := OpenName(c.nodeKeys(t, "parent_node_key_hex"), c.ref(t), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrBadName) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	for _, c := range cases(t, doc, "name_hash") {
		pk := c.key32(t, "parent_node_key_hex")
		hk, err := hkdf32(pk[:], labelNameHashKey, "")
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "name hash key", hk[:], c.hex(t, "name_hash_key_hex"))
		sum := NameHash(c.nodeKeys(t, "parent_node_key_hex"), c.str(t, "name"))
		eqHex(t, "name hash", sum[:], c.hex(t, "name_hash_hex"))
	}

	g = split(t, doc, "node_record")
	for _, c := range g["cases"] {
		r := c.nodeRecord(t)
		eqHex(t, "marshaled", r.Marshal(), c.hex(t, "marshaled_hex"))
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

func TestVectorsContent(t *testing.T) {
	doc := loadVectors(t, "content.json")

	g := split(t, doc, "content_key")
	for _, c := range g["cases"] {
		nk := c.key32(t, "node_key_hex")
		wk, err := hkdf32(nk[:], labelContentKeyWrap, "")
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "content key wrap", wk[:], c.hex(t, "content_key_wrap_hex"))
		vol, node, rev := c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.hex(t, "revision_hex")
		eqHex(t, "ad", envelopeAD(labelContentKey, idFields(vol, node, rev)), c.hex(t, "ad_hex"))
		keys := c.nodeKeys(t, "node_key_hex")
		ck := ContentKey(c.key32(t, "content_key_hex"))
		sealed, err := sealContentKey(keys, vol, node, rev, ck, c.nonce(t))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		if got, err := OpenContentKey(keys, vol, node, rev, sealed); err != nil || got != ck {
			t.Errorf("open content key vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		_, err := OpenContentKey(c.nodeKeys(t, "node_key_hex"), c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.hex(t, "revision_hex"), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	for _, c := range cases(t, doc, "padme") {
		if got := PadmeLen(c.int(t, "n")); got != c.int(t, "padded") {
			t.Errorf("PadmeLen(%d) = %d, want %d", c.int(t, "n"), got, c.int(t, "padded"))
		}
	}

	sealer := func(c vcase) *BlockSealer {
		s, err := newBlockSealer(ContentKey(c.key32(t, "content_key_hex")), c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.hex(t, "revision_hex"), c.int(t, "block_size"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, group := range []string{"blocks", "tiny_blocks"} {
		g = split(t, doc, group)
		for _, c := range g["cases"] {
			s := sealer(c)
			index, last := c.u64(t, "index"), c.bool(t, "last")
			ad := s.ad(index, last)
			eqHex(t, group+" ad", *ad, c.hex(t, "ad_hex"))
			pt := c.plaintext(t)
			block, err := s.seal(nil, pt, index, last, c.nonce(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(block) != c.int(t, "block_len") {
				t.Errorf("%s: block is %d bytes, want %d", group, len(block), c.int(t, "block_len"))
			}
			if _, ok := c["block_hex"]; ok {
				eqHex(t, group+" block", block, c.hex(t, "block_hex"))
			} else {
				eqHex(t, group+" block head", block[:64], c.hex(t, "block_head_hex"))
				eqHex(t, group+" block tail", block[len(block)-32:], c.hex(t, "block_tail_hex"))
			}
			id := BlockID(block)
			eqHex(t, group+" block ID", id[:], c.hex(t, "block_id_hex"))
			got, err := s.Open(nil, block, index, last)
			if err != nil {
				t.Fatalf("%s: open vector block: %v", group, err)
			}
			padded := c.int(t, "padded_len")
			if len(got) != padded || !bytes.Equal(got[:len(pt)], pt) || !bytes.Equal(got[len(pt):], make([]byte, padded-len(pt))) {
				t.Errorf("%s: opened block is not the plaintext padded with zeros to %d bytes", group, padded)
			}
		}
		for _, c := range g["must_fail"] {
			if _, err := sealer(c).Open(nil, c.hex(t, "block_hex"), c.u64(t, "index"), c.bool(t, "last")); !errors.Is(err, ErrDecrypt) {
				t.Errorf("%s must_fail %q: error = %v", group, c.str(t, "why"), err)
			}
		}
	}

	g = split(t, doc, "attrs")
	ids := func(c vcase) (ContentKey, []byte, []byte, []byte) {
		return ContentKey(c.key32(t, "content_key_hex")), c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.hex(t, "revision_hex")
	}
	for _, c := range g["cases"] {
		ck, vol, node, rev := ids(c)
		mt, err := strconv.ParseInt(c.str(t, "mod_time"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		pt := c.plaintext(t)
		a := Attrs{Size: c.u64(t, "size"), ModTime: mt, SHA256: sha256.Sum256(pt)}
		if a.Size != uint64(len(pt)) {
			t.Error("size is not the plaintext length")
		}
		eqHex(t, "sha256", a.SHA256[:], c.hex(t, "sha256_hex"))
		eqHex(t, "attrs plaintext", a.marshal(), c.hex(t, "plaintext_attrs_hex"))
		eqHex(t, "ad", envelopeAD(labelAttrs, idFields(vol, node, rev)), c.hex(t, "ad_hex"))
		sealed, err := sealAttrs(ck, vol, node, rev, a, c.nonce(t))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed attrs", sealed, c.hex(t, "sealed_hex"))
		if got, err := OpenAttrs(ck, vol, node, rev, sealed); err != nil || got != a {
			t.Errorf("open attrs vector: %+v, %v", got, err)
		}
	}
	for _, c := range g["must_fail"] {
		ck, vol, node, rev := ids(c)
		if _, err := OpenAttrs(ck, vol, node, rev, c.hex(t, "sealed_hex")); !errors.Is(err, ErrDecrypt) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "revision_record")
	for _, c := range g["cases"] {
		r := c.revisionRecord(t)
		eqHex(t, "marshaled", r.Marshal(), c.hex(t, "marshaled_hex"))
		sig, err := r.Sign(signer(t, c))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "signature", sig, c.hex(t, "signature_hex"))
		if err := r.Verify(ed25519.PublicKey(c.hex(t, "author_public_hex")), c.hex(t, "signature_hex")); err != nil {
			t.Errorf("verify vector: %v", err)
		}
		eqHex(t, "digest input", tagged(labelRevisionDigest, r.Marshal()), c.hex(t, "digest_input_hex"))
		sum := sha256.Sum256(c.hex(t, "digest_input_hex"))
		eqHex(t, "digest", sum[:], c.hex(t, "digest_hex"))
		d := r.Digest()
		eqHex(t, "Digest", d[:], c.hex(t, "digest_hex"))
	}
	for _, c := range g["must_fail"] {
		r := c.revisionRecord(t)
		if err := r.Verify(c.hex(t, "author_public_hex"), c.hex(t, "signature_hex")); !errors.Is(err, ErrBadSignature) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	// The head check, as a client listing a folder does it: verify the node
	// record, then compare the served revision with it; the revision's own
	// signature is checked here only to show that it is not what refuses
	// the must_fail cases.
	g = split(t, doc, "head")
	head := func(c vcase) (*NodeRecord, *RevisionRecord) {
		nc, rc := c.sub(t, "node_record"), c.sub(t, "revision")
		n, r := nc.nodeRecord(t), rc.revisionRecord(t)
		if err := n.Verify(nc.hex(t, "author_public_hex"), nc.hex(t, "signature_hex")); err != nil {
			t.Fatalf("head vector: node record: %v", err)
		}
		if err := r.Verify(rc.hex(t, "author_public_hex"), rc.hex(t, "signature_hex")); err != nil {
			t.Fatalf("head vector: revision: %v", err)
		}
		d := r.Digest()
		eqHex(t, "head vector: revision digest", d[:], rc.hex(t, "digest_hex"))
		return n, r
	}
	for _, c := range g["cases"] {
		n, r := head(c)
		if err := r.MatchesHead(n); err != nil {
			t.Errorf("head vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		n, r := head(c)
		if err := r.MatchesHead(n); !errors.Is(err, ErrBadRecord) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "manifest")
	for _, c := range g["cases"] {
		a := Attrs{Size: c.u64(t, "size")}
		if a.BlockCount() != c.int(t, "block_count") || a.LastBlockLen() != c.int(t, "last_block_len") {
			t.Errorf("size %d: BlockCount %d, LastBlockLen %d", a.Size, a.BlockCount(), a.LastBlockLen())
		}
		if err := CheckManifest(&RevisionRecord{Blocks: make([][32]byte, a.BlockCount())}, a); err != nil {
			t.Errorf("size %d: %v", a.Size, err)
		}
	}
	for _, c := range g["must_fail"] {
		rev := &RevisionRecord{Blocks: make([][32]byte, c.int(t, "block_count"))}
		if err := CheckManifest(rev, Attrs{Size: c.u64(t, "size")}); !errors.Is(err, ErrBadManifest) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}
}
