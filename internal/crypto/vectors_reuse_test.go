package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
)

// TestVectorsRevisionReuse reads content.json's revision_reuse group as
// another implementation would: it rebuilds every sealed byte from the
// inputs and reads every revision back from the encoded record and the
// stored blocks.
func TestVectorsRevisionReuse(t *testing.T) {
	doc := loadVectors(t, "content.json")
	var g struct {
		BlockSize    int     `json:"block_size"`
		StoredBlocks []vcase `json:"stored_blocks"`
		Cases        []vcase `json:"cases"`
		MustFail     []vcase `json:"must_fail"`
	}
	if err := json.Unmarshal(doc["revision_reuse"], &g); err != nil {
		t.Fatal(err)
	}
	if g.BlockSize != vectorTinyBlockSize || len(g.Cases) != 3 || len(g.MustFail) == 0 {
		t.Fatalf("unexpected group: block size %d, %d cases, %d must_fail", g.BlockSize, len(g.Cases), len(g.MustFail))
	}
	stored := map[[32]byte][]byte{}
	for _, c := range g.StoredBlocks {
		b := c.hex(t, "block_hex")
		id := BlockID(b)
		eqHex(t, "stored block ID", id[:], c.hex(t, "block_id_hex"))
		stored[id] = b
	}
	var nk *NodeKeys
	for _, c := range g.Cases {
		name := c.str(t, "name")
		nk = c.nodeKeys(t, "node_key_hex")
		vol, node, rev := c.hex(t, "volume_hex"), c.hex(t, "node_hex"), c.hex(t, "revision_hex")
		ck := ContentKey(c.key32(t, "content_key_hex"))
		sck, err := sealContentKey(nk, vol, node, rev, ck, (*[nonceSize]byte)(c.hex(t, "content_key_nonce_hex")))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, name+" sealed content key", sck, c.hex(t, "sealed_content_key_hex"))
		mt, err := strconv.ParseInt(c.str(t, "mod_time"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		plain := c.hex(t, "plaintext_hex")
		a := Attrs{Size: c.u64(t, "size"), ModTime: mt, SHA256: sha256.Sum256(plain)}
		sa, err := sealAttrs(ck, vol, node, rev, a, (*[nonceSize]byte)(c.hex(t, "attrs_nonce_hex")))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, name+" sealed attrs", sa, c.hex(t, "sealed_attrs_hex"))

		// The blocks this revision sealed itself.
		s, err := newBlockSealer(ck, vol, node, rev, g.BlockSize)
		if err != nil {
			t.Fatal(err)
		}
		for _, sb := range vcases(t, c, "sealed_blocks") {
			blk, err := s.seal(nil, sb.hex(t, "plaintext_hex"), sb.u64(t, "index"), sb.bool(t, "last"), sb.nonce(t))
			if err != nil {
				t.Fatal(err)
			}
			eqHex(t, name+" sealed block", blk, sb.hex(t, "block_hex"))
		}

		// Origins, sealed under this revision's content key.
		var origins []Origin
		for _, oc := range vcases(t, c, "origins") {
			orev := oc.hex(t, "revision_hex")
			eqHex(t, name+" origin key AD", envelopeAD(labelOriginKey, idFields(vol, node, rev, orev)), oc.hex(t, "ad_hex"))
			okey := ContentKey(oc.key32(t, "content_key_hex"))
			sealed, err := sealOriginKey(ck, vol, node, rev, orev, okey, oc.nonce(t))
			if err != nil {
				t.Fatal(err)
			}
			eqHex(t, name+" sealed origin key", sealed, oc.hex(t, "sealed_key_hex"))
			if got, err := OpenOriginKey(ck, vol, node, rev, orev, sealed); err != nil || got != okey {
				t.Errorf("%s: open origin key: %v", name, err)
			}
			origins = append(origins, Origin{Revision: orev, SealedKey: sealed})
		}
		var blockOrigins []uint32
		for _, v := range c["block_origins"].([]any) {
			blockOrigins = append(blockOrigins, uint32(v.(float64)))
		}
		rr := &RevisionRecord{Volume: vol, Node: node, Revision: rev, Seq: c.u64(t, "seq"), SealedContentKey: sck,
			Origins: origins, Blocks: c.revisionRecord(t).Blocks, BlockOrigins: blockOrigins, SealedAttrs: sa, Author: c.str(t, "author")}
		enc := c.hex(t, "marshaled_hex")
		eqHex(t, name+" marshaled", rr.Marshal(), enc)
		if int(enc[0]) != c.int(t, "version") {
			t.Errorf("%s: version byte %#x", name, enc[0])
		}
		parsed, err := UnmarshalRevisionRecord(enc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		eqHex(t, name+" re-marshaled", parsed.Marshal(), enc)
		sig, err := rr.Sign(signer(t, c))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, name+" signature", sig, c.hex(t, "signature_hex"))
		if err := parsed.Verify(ed25519.PublicKey(c.hex(t, "author_public_hex")), sig); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		d := parsed.Digest()
		eqHex(t, name+" digest", d[:], c.hex(t, "digest_hex"))

		for _, rc := range vcases(t, c, "read") {
			i := rc.int(t, "index")
			origin, sealedBy := parsed.BlockSource(i)
			if origin != rc.int(t, "origin") || !bytes.Equal(sealedBy, rc.hex(t, "sealed_by_hex")) {
				t.Errorf("%s: block %d: source %d %x", name, i, origin, sealedBy)
			}
			eqHex(t, name+" block AD", tagged(labelBlock, idFields(vol, node, sealedBy), be64(uint64(i)), boolByte(rc.bool(t, "last"))), rc.hex(t, "ad_hex"))
		}
		got, err := readReuse(nk, parsed, stored, g.BlockSize)
		if err != nil {
			t.Fatalf("%s: read: %v", name, err)
		}
		eqHex(t, name+" plaintext", got, plain)
	}
	pub := ed25519.PublicKey(g.Cases[0].hex(t, "author_public_hex"))
	for _, c := range g.MustFail {
		why := c.str(t, "why")
		enc := c.hex(t, "marshaled_hex")
		r, err := UnmarshalRevisionRecord(enc)
		if err == nil {
			// Well formed and validly signed: only reading refuses it.
			if err := r.Verify(pub, c.hex(t, "signature_hex")); err != nil {
				t.Errorf("must_fail %q: signature: %v", why, err)
			}
			_, err = readReuse(nk, r, stored, g.BlockSize)
		}
		if !errors.Is(err, ErrBadRecord) && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrBadManifest) {
			t.Errorf("must_fail %q: error = %v", why, err)
		}
	}
}

// vcases returns the list of objects c[k].
func vcases(t *testing.T, c vcase, k string) []vcase {
	t.Helper()
	list, ok := c[k].([]any)
	if !ok {
		t.Fatalf("vector field %q missing or not a list", k)
	}
	out := make([]vcase, len(list))
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("vector field %q: item %d is not an object", k, i)
		}
		out[i] = vcase(m)
	}
	return out
}
