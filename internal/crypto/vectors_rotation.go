package crypto

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
)

// Key rotation vectors (rotation.json, docs/crypto.md sections 11.6, 12.1
// and 13.11). They continue tree.json and content.json: report.pdf, whose
// node key is vectorNodeKey("report") and whose head is revision 2, is
// rotated once to vectorNodeKey("report rotated 1") and then again to
// vectorNodeKey("report rotated 2"). Every nonce is fixed, so every byte
// can be reproduced.

// keyHistoryObj returns the JSON form of a list of keys.
func keyHistoryObj(keys []NodeKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = h(k[:])
	}
	return out
}

func rotationVectors() (obj, error) {
	f, err := newTreeFixture()
	if err != nil {
		return nil, err
	}
	alice := f.alice
	k0, k1, k2 := f.fileKey, vectorNodeKey("report rotated 1"), vectorNodeKey("report rotated 2")
	d1, err := k1.Derive()
	if err != nil {
		return nil, err
	}
	d2, err := k2.Derive()
	if err != nil {
		return nil, err
	}

	// The sub-key.
	var subCases []obj
	for _, k := range []NodeKey{k0, k1, k2} {
		sk, err := hkdf32(k[:], labelKeyHistoryWrap, "")
		if err != nil {
			return nil, err
		}
		subCases = append(subCases, obj{{"node_key_hex", h(k[:])}, {"key_history_wrap_hex", h(sk[:])}})
	}

	// Sealed key histories.
	var many []NodeKey
	for i := range MaxKeyHistory {
		many = append(many, vectorNodeKey(fmt.Sprintf("history %d", i)))
	}
	type histIn struct {
		why      string
		current  NodeKey
		keys     *NodeKeys
		node     []byte
		previous []NodeKey
		nonce    *[nonceSize]byte
	}
	fields := idFields(f.volume, f.file)
	histIns := []histIn{
		{"report.pdf after its first rotation: the key it had before", k1, d1, f.file, []NodeKey{k0}, nonce12(0x10)},
		{"report.pdf after its second rotation: the previous key prepended to the opened old history", k2, d2, f.file, []NodeKey{k1, k0}, nonce12(0x20)},
		{"MaxKeyHistory (64) earlier keys, the most a history holds", k2, d2, f.file, many, nonce12(0x30)},
	}
	var histCases []obj
	var sealedHist [][]byte
	for _, in := range histIns {
		s, err := sealKeyHistory(in.keys, f.volume, in.node, in.previous, in.nonce)
		if err != nil {
			return nil, err
		}
		sealedHist = append(sealedHist, s)
		histCases = append(histCases, obj{
			{"why", in.why},
			{"current_node_key_hex", h(in.current[:])},
			{"volume_hex", h(f.volume)},
			{"node_hex", h(in.node)},
			{"nonce_hex", h(in.nonce[:])},
			{"previous_keys_hex", keyHistoryObj(in.previous)},
			{"plaintext_hex", h(sealedPlainKeys(in.previous))},
			{"ad_hex", h(envelopeAD(labelKeyHistory, fields))},
			{"sealed_hex", h(s)},
		})
	}
	s1, s2 := sealedHist[0], sealedHist[1]
	hfail := func(why string, current NodeKey, vol, node, s []byte) obj {
		return obj{{"why", why}, {"current_node_key_hex", h(current[:])}, {"volume_hex", h(vol)}, {"node_hex", h(node)}, {"sealed_hex", h(s)}}
	}
	raw := func(pt []byte, start byte) []byte {
		return sealRaw(d1.history, nonce12(start), labelKeyHistory, fields, pt)
	}
	var tooMany []NodeKey
	tooMany = append(tooMany, many...)
	tooMany = append(tooMany, vectorNodeKey("history 64"))
	histFails := []obj{
		hfail("opened with the earlier key (a former member's) [the point of rotation]", k0, f.volume, f.file, s1),
		hfail("opened with the previous current key: the second history under the first rotation's key", k1, f.volume, f.file, s2),
		hfail("the first history served under the second key (rollback of the history)", k2, f.volume, f.file, s1),
		hfail("moved to another node (notes.txt)", k1, f.volume, f.sibling, s1),
		hfail("other volume", k1, vectorID("other volume"), f.file, s1),
		hfail("version byte 0x02", k1, f.volume, f.file, flip(s1, 0, 0x03)),
		hfail("nonce bit flipped", k1, f.volume, f.file, flip(s1, 3, 0x01)),
		hfail("ciphertext bit flipped (version byte of the plaintext)", k1, f.volume, f.file, flip(s1, 13, 0x01)),
		hfail("ciphertext bit flipped (a key)", k1, f.volume, f.file, flip(s1, 30, 0x40)),
		hfail("tag bit flipped", k1, f.volume, f.file, flip(s1, len(s1)-1, 0x80)),
		hfail("truncated by one byte", k1, f.volume, f.file, s1[:len(s1)-1]),
		hfail("truncated by one key (32 bytes)", k2, f.volume, f.file, s2[:len(s2)-32]),
		hfail("one byte appended", k1, f.volume, f.file, append(bytes.Clone(s1), 0)),
		hfail("empty", k1, f.volume, f.file, nil),
		hfail("validly sealed, plaintext version 0x02", k1, f.volume, f.file, raw(append([]byte{0x02}, k0[:]...), 0x40)),
		hfail("validly sealed, no key (plaintext 0x01 only)", k1, f.volume, f.file, raw([]byte{keyHistoryVersion}, 0x41)),
		hfail("validly sealed, empty plaintext", k1, f.volume, f.file, raw(nil, 0x42)),
		hfail("validly sealed, one byte after the last key", k1, f.volume, f.file, raw(append(sealedPlainKeys([]NodeKey{k0}), 0), 0x43)),
		hfail("validly sealed, all-zero key", k1, f.volume, f.file, raw(sealedPlainKeys([]NodeKey{k0, {}}), 0x44)),
		hfail("validly sealed, a key listed twice", k1, f.volume, f.file, raw(sealedPlainKeys([]NodeKey{k0, k2, k0}), 0x45)),
		hfail("validly sealed, 65 keys (more than MaxKeyHistory)", k1, f.volume, f.file, raw(sealedPlainKeys(tooMany), 0x46)),
	}

	// Reading revisions of the rotated file: revision 1 and 2 (content.json)
	// have their content keys wrapped under k0; revision 3, written after
	// the second rotation, under k2.
	content, err := f.content()
	if err != nil {
		return nil, err
	}
	rev3, ck3 := vectorID("revision 3"), ContentKey(named("content key revision 3"))
	sck3, err := sealContentKey(d2, f.volume, f.file, rev3, ck3, nonce12(0x50))
	if err != nil {
		return nil, err
	}
	type readIn struct {
		why   string
		rev   []byte
		ck    ContentKey
		sck   []byte
		which int // 0: the current key, i: key i-1 of the history
	}
	readIns := []readIn{
		{"revision 1, written before the rotations: opens with the history's second key (k0)", f.rev1, content.revs[0].ck, content.sealedCKs[0], 2},
		{"revision 2, the head, written before the rotations: opens with the history's second key (k0)", f.rev2, content.revs[1].ck, content.sealedCKs[1], 2},
		{"revision 3, written after the second rotation: opens with the current key", rev3, ck3, sck3, 0},
	}
	var readCases []obj
	for _, in := range readIns {
		readCases = append(readCases, obj{
			{"why", in.why},
			{"current_node_key_hex", h(k2[:])},
			{"key_history_hex", h(s2)},
			{"volume_hex", h(f.volume)},
			{"node_hex", h(f.file)},
			{"revision_hex", h(in.rev)},
			{"sealed_content_key_hex", h(in.sck)},
			{"opened_with", in.which},
			{"content_key_hex", h(in.ck[:])},
		})
	}
	rdfail := func(why string, key NodeKey, rev, sck []byte) obj {
		return obj{{"why", why}, {"node_key_hex", h(key[:])}, {"volume_hex", h(f.volume)}, {"node_hex", h(f.file)},
			{"revision_hex", h(rev)}, {"sealed_content_key_hex", h(sck)}}
	}
	readFails := []obj{
		rdfail("revision 3 (after the rotations) opened with k0, the key a former member holds", k0, rev3, sck3),
		rdfail("revision 3 (after the rotations) opened with k1, the key a member removed at the second rotation holds", k1, rev3, sck3),
		rdfail("revision 1 opened with the current key alone (without the history)", k2, f.rev1, content.sealedCKs[0]),
	}

	// Node records of the rotated file: k2 wrapped under Documents, the
	// second history, version 4 (the fixture's record is version 2, each
	// rotation adds 1), the head unchanged.
	recs, err := f.records()
	if err != nil {
		return nil, err
	}
	base := recs[2]
	ref := NodeRef{f.volume, f.docs, f.file}
	wrapped, err := wrapNodeKey(f.docsKeys, ref, k2, nonce12(0x60))
	if err != nil {
		return nil, err
	}
	rot := cloneNodeRecord(base)
	rot.SealedKey, rot.KeyHistory, rot.Version = wrapped, s2, base.Version+2
	sig, err := rot.Sign(alice.keys)
	if err != nil {
		return nil, err
	}
	alicePub := alice.keys.IdentityPublic()
	if err := rot.Verify(alicePub, sig); err != nil {
		return nil, err
	}
	o := recordObj(rot)
	o = append(o,
		kv{"signer_identity_seed_hex", h(alice.idSeed)},
		kv{"author_public_hex", h(alicePub)},
		kv{"marshaled_hex", h(rot.Marshal())},
		kv{"signature_hex", h(sig)})
	recCases := []obj{o}
	rfail := func(why string, r *NodeRecord, s []byte) obj {
		o := obj{{"why", why}}
		o = append(o, recordObj(r)...)
		return append(o, kv{"author_public_hex", h(alicePub)}, kv{"signature_hex", h(s)})
	}
	edit := func(fn func(r *NodeRecord)) *NodeRecord {
		c := cloneNodeRecord(rot)
		fn(c)
		return c
	}
	signRaw := func(r *NodeRecord) []byte {
		return ed25519.Sign(alice.keys.identity, tagged(labelNodeRecord, r.encode()))
	}
	noHist := edit(func(r *NodeRecord) { r.KeyHistory = nil })
	folder := edit(func(r *NodeRecord) {
		r.Kind, r.Revision, r.RevisionSeq, r.RevisionDigest = KindFolder, nil, 0, [32]byte{}
	})
	drop := edit(func(r *NodeRecord) { r.SealedName, r.SealedKey = nil, make([]byte, SealedInboxDropMinSize) })
	long := edit(func(r *NodeRecord) { r.KeyHistory = raw(sealedPlainKeys(tooMany), 0x46) })
	short := edit(func(r *NodeRecord) { r.KeyHistory = r.KeyHistory[:len(r.KeyHistory)-1] })
	v1sig, err := base.Sign(alice.keys) // tree.json's signature of the record before rotation
	if err != nil {
		return nil, err
	}
	recFails := []obj{
		rfail("key history removed: the record encodes with 0x01 and the signature fails (downgrade)", noHist, sig),
		rfail("key history bit flipped", edit(func(r *NodeRecord) { r.KeyHistory = flip(r.KeyHistory, 40, 0x01) }), sig),
		rfail("key history replaced by the first rotation's (rollback)", edit(func(r *NodeRecord) { r.KeyHistory = s1 }), sig),
		rfail("version lowered to 3 [13]", edit(func(r *NodeRecord) { r.Version = 3 }), sig),
		rfail("the signature of the record before rotation (tree.json, version 2) on the rotated record", rot, v1sig),
		rfail("validly signed, folder with a key history", folder, signRaw(folder)),
		rfail("validly signed, inbox drop (no sealed name) with a key history", drop, signRaw(drop)),
		rfail("validly signed, key history of 65 keys (2110 bytes)", long, signRaw(long)),
		rfail("validly signed, key history of 125 bytes (not 62 + 32k)", short, signRaw(short)),
	}

	return obj{
		{"description", "Coffer key rotation: a rotated file's key history and its node record (version 0x02), and which key opens " +
			"a revision's content key (docs/crypto.md sections 11.6, 12.1 and 13.11). It continues tree.json and content.json: " +
			"report.pdf (node key k0 = tree.json's) is rotated to k1, then to k2."},
		{"encoding", vectorEncoding},
		{"construction", obj{
			{"key_history_wrap", "key_history_wrap = HKDF(ikm=node key, info=tagged(\"coffer/v1/key-history-wrap\", empty), 32)."},
			{"key_history", "plaintext = 0x01 || previous_keys[0] || previous_keys[1] || ... (32 bytes each, newest first, 1..64 keys); " +
				"ad = tagged(\"coffer/v1/key-history\", LP(volume) || LP(node)); " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(key=key_history_wrap of the file's current node key, nonce, plaintext, ad) " +
				"= 62 + 32(n - 1) bytes. Opening refuses a sealed size that is not 62 + 32k (k = 0..63), a plaintext that does not start " +
				"with 0x01 or is not 1 + 32n bytes with n = 1..64, an all-zero key and a key listed twice. " +
				"On a rotation, previous_keys = the file's key until then, followed by the keys of its old history."},
			{"revision_content_key", "A revision's sealed content key (content.json, content_key) is opened under the current node key, " +
				"then under each key of the history in order; opened_with = 0 for the current key, i for history key i - 1 (1-based). " +
				"New revisions always use the current key."},
			{"node_record", "A record with an empty key history encodes exactly as tree.json's node_record (version byte 0x01). " +
				"A record with a key history: marshaled = 0x02 || the same fields as version 0x01 || LP(key_history); " +
				"signature = Ed25519-Sign(author identity key, tagged(\"coffer/v1/node-record\", marshaled)). " +
				"Rules: those of tree.json, and a key history only on a file that is not an inbox drop (it has a sealed name), " +
				"of 62 + 32k bytes (k = 0..63)."},
		}},
		{"key_history_wrap", subCases},
		{"key_history", obj{{"cases", histCases}, {"must_fail", histFails}}},
		{"revision_content_key", obj{{"cases", readCases}, {"must_fail", readFails}}},
		{"node_record", obj{{"cases", recCases}, {"must_fail", recFails}}},
	}, nil
}

// sealedPlainKeys returns a key history's plaintext: 0x01 || keys.
func sealedPlainKeys(keys []NodeKey) []byte {
	pt := make([]byte, 0, 1+32*len(keys))
	pt = append(pt, keyHistoryVersion)
	for _, k := range keys {
		pt = append(pt, k[:]...)
	}
	return pt
}
