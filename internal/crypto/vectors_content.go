package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strconv"
)

// vectorTinyBlockSize is the block size of the tiny_blocks vectors, which
// show several blocks, padding and the last-block flag in a few bytes.
// Real blocks are BlockSize; only the size differs.
const vectorTinyBlockSize = 64

// patternBytes returns n bytes with byte i = (start + i) mod 251, the
// plaintext rule of the large vectors ("plaintext_rule" in content.json).
func patternBytes(start, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((start + i) % 251)
	}
	return b
}

const patternRule = "byte i = (plaintext_start + i) mod 251, for i = 0 .. plaintext_len - 1"

type vectorRevision struct {
	id     []byte
	seq    uint64
	ck     ContentKey
	plain  []byte
	mtime  int64
	blocks [][]byte
	// nonce of block i is nonce12(nonceBase + i).
	nonceBase byte
}

func vectorRevisions(f *treeFixture) ([]*vectorRevision, error) {
	revs := []*vectorRevision{
		{id: f.rev1, seq: 1, ck: ContentKey(named("content key revision 1")), plain: []byte("Hello, Coffer!\n"),
			mtime: 1767225600_123456789, nonceBase: 0x11},
		{id: f.rev2, seq: 2, ck: ContentKey(named("content key revision 2")), plain: patternBytes(0, BlockSize+100),
			mtime: 1767312000_000000001, nonceBase: 0x21},
	}
	for _, r := range revs {
		s, err := NewBlockSealer(r.ck, f.volume, f.file, r.id)
		if err != nil {
			return nil, err
		}
		for i := 0; i*BlockSize < len(r.plain); i++ {
			end := min((i+1)*BlockSize, len(r.plain))
			b, err := s.seal(nil, r.plain[i*BlockSize:end], uint64(i), end == len(r.plain), nonce12(r.nonceBase+byte(i)))
			if err != nil {
				return nil, err
			}
			r.blocks = append(r.blocks, b)
		}
	}
	return revs, nil
}

// Nonces of the sealed content key and the sealed attributes of revision i
// of report.pdf.
func vectorCKNonce(i int) *[nonceSize]byte    { return nonce12(0xe0 + byte(i)) }
func vectorAttrsNonce(i int) *[nonceSize]byte { return nonce12(0xf0 + byte(i)) }

// vectorContent is report.pdf's content in the vectors: its two revisions,
// their sealed content keys and attributes, and their unsigned revision
// records. tree.json needs it too, since the file's node record carries
// the digest of revision 2's record.
type vectorContent struct {
	revs                   []*vectorRevision
	sealedCKs, sealedAttrs [][]byte
	recs                   []*RevisionRecord
}

func (f *treeFixture) content() (*vectorContent, error) {
	revs, err := vectorRevisions(f)
	if err != nil {
		return nil, err
	}
	c := &vectorContent{revs: revs}
	for i, r := range revs {
		sck, err := sealContentKey(f.fileKeys, f.volume, f.file, r.id, r.ck, vectorCKNonce(i))
		if err != nil {
			return nil, err
		}
		sa, err := sealAttrs(r.ck, f.volume, f.file, r.id, r.attrs(), vectorAttrsNonce(i))
		if err != nil {
			return nil, err
		}
		c.sealedCKs = append(c.sealedCKs, sck)
		c.sealedAttrs = append(c.sealedAttrs, sa)
		c.recs = append(c.recs, &RevisionRecord{
			Volume: f.volume, Node: f.file, Revision: r.id, Seq: r.seq,
			SealedContentKey: sck, Blocks: blockIDs(r.blocks), SealedAttrs: sa, Author: "alice",
		})
	}
	return c, nil
}

func (r *vectorRevision) attrs() Attrs {
	return Attrs{Size: uint64(len(r.plain)), ModTime: r.mtime, SHA256: sha256.Sum256(r.plain)}
}

func blockIDs(blocks [][]byte) [][32]byte {
	ids := make([][32]byte, len(blocks))
	for i, b := range blocks {
		ids[i] = BlockID(b)
	}
	return ids
}

func revisionObj(r *RevisionRecord) obj {
	ids := make([]string, len(r.Blocks))
	for i := range r.Blocks {
		ids[i] = h(r.Blocks[i][:])
	}
	return obj{
		{"volume_hex", h(r.Volume)},
		{"node_hex", h(r.Node)},
		{"revision_hex", h(r.Revision)},
		{"seq", r.Seq},
		{"sealed_content_key_hex", h(r.SealedContentKey)},
		{"blocks_hex", ids},
		{"sealed_attrs_hex", h(r.SealedAttrs)},
		{"author", r.Author},
	}
}

func contentVectors() (obj, error) {
	f, err := newTreeFixture()
	if err != nil {
		return nil, err
	}
	alice, bob := f.alice, f.bob
	content, err := f.content()
	if err != nil {
		return nil, err
	}
	revs, sealedCKs, sealedAttrs := content.revs, content.sealedCKs, content.sealedAttrs
	r1, r2 := revs[0], revs[1]

	// Content keys, wrapped under the file's content-key-wrap sub-key.
	wrapKey, err := hkdf32(f.fileKey[:], labelContentKeyWrap, "")
	if err != nil {
		return nil, err
	}
	var ckCases []obj
	for i, r := range revs {
		nonce, s := vectorCKNonce(i), sealedCKs[i]
		ckCases = append(ckCases, obj{
			{"node_key_hex", h(f.fileKey[:])},
			{"content_key_wrap_hex", h(wrapKey[:])},
			{"volume_hex", h(f.volume)},
			{"node_hex", h(f.file)},
			{"revision_hex", h(r.id)},
			{"nonce_hex", h(nonce[:])},
			{"content_key_hex", h(r.ck[:])},
			{"ad_hex", h(envelopeAD(labelContentKey, idFields(f.volume, f.file, r.id)))},
			{"sealed_hex", h(s)},
		})
	}
	sck := sealedCKs[1]
	ckfail := func(why string, nk NodeKey, vol, node, rev, s []byte) obj {
		return obj{{"why", why}, {"node_key_hex", h(nk[:])}, {"volume_hex", h(vol)}, {"node_hex", h(node)},
			{"revision_hex", h(rev)}, {"sealed_hex", h(s)}}
	}
	fk := f.fileKey
	ckFails := []obj{
		ckfail("revision 1's key served for revision 2", fk, f.volume, f.file, f.rev2, sealedCKs[0]),
		ckfail("other file (node ID changed)", fk, f.volume, f.sibling, f.rev2, sck),
		ckfail("other volume", fk, vectorID("other volume"), f.file, f.rev2, sck),
		ckfail("opened with another node's key (the parent folder's)", f.docsKey, f.volume, f.file, f.rev2, sck),
		ckfail("version byte 0x02", fk, f.volume, f.file, f.rev2, flip(sck, 0, 0x03)),
		ckfail("ciphertext bit flipped", fk, f.volume, f.file, f.rev2, flip(sck, 30, 0x04)),
		ckfail("tag bit flipped", fk, f.volume, f.file, f.rev2, flip(sck, len(sck)-1, 0x01)),
		ckfail("truncated by one byte", fk, f.volume, f.file, f.rev2, sck[:len(sck)-1]),
		ckfail("empty (missing key) [10]", fk, f.volume, f.file, f.rev2, nil),
	}

	// Padmé.
	var padCases []obj
	for _, n := range []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 37, 100, 1000, 1025, 65535, 65537, 1000000, BlockSize - 1, BlockSize} {
		padCases = append(padCases, obj{{"n", n}, {"padded", PadmeLen(n)}})
	}

	// Blocks at the real size.
	blockCase := func(r *vectorRevision, i int, blockSize int) (obj, error) {
		start := i * blockSize
		end := min(start+blockSize, len(r.plain))
		pt := r.plain[start:end]
		last := end == len(r.plain)
		b := r.blocks[i]
		id := BlockID(b)
		o := obj{
			{"content_key_hex", h(r.ck[:])},
			{"volume_hex", h(f.volume)},
			{"node_hex", h(f.file)},
			{"revision_hex", h(r.id)},
			{"block_size", blockSize},
			{"index", i},
			{"last", last},
		}
		if len(pt) > 4096 {
			o = append(o, kv{"plaintext_rule", patternRule}, kv{"plaintext_start", start}, kv{"plaintext_len", len(pt)})
		} else {
			o = append(o, kv{"plaintext_hex", h(pt)})
		}
		o = append(o,
			kv{"padded_len", padmeCapped(len(pt), blockSize)},
			kv{"nonce_hex", h(nonce12(r.nonceBase + byte(i))[:])},
			kv{"ad_hex", h(tagged(labelBlock, idFields(f.volume, f.file, r.id), be64(uint64(i)), boolByte(last)))},
			kv{"block_len", len(b)})
		if len(b) > 4096 {
			o = append(o, kv{"block_head_hex", h(b[:64])}, kv{"block_tail_hex", h(b[len(b)-32:])})
		} else {
			o = append(o, kv{"block_hex", h(b)})
		}
		return append(o, kv{"block_id_hex", h(id[:])}), nil
	}
	var blockCases []obj
	for _, r := range revs {
		for i := range r.blocks {
			o, err := blockCase(r, i, BlockSize)
			if err != nil {
				return nil, err
			}
			blockCases = append(blockCases, o)
		}
	}
	bfail := func(why string, r *vectorRevision, vol, node, rev []byte, blockSize int, index uint64, last bool, b []byte) obj {
		return obj{{"why", why}, {"content_key_hex", h(r.ck[:])}, {"volume_hex", h(vol)}, {"node_hex", h(node)},
			{"revision_hex", h(rev)}, {"block_size", blockSize}, {"index", index}, {"last", last}, {"block_hex", h(b)}}
	}
	hello := r1.blocks[0]
	tail := r2.blocks[1]
	blockFails := []obj{
		bfail("last block opened as a middle block (a block would have to follow)", r1, f.volume, f.file, f.rev1, BlockSize, 0, false, hello),
		bfail("at index 1 (reordered)", r1, f.volume, f.file, f.rev1, BlockSize, 1, true, hello),
		bfail("revision 2's last block at index 0 (the first block dropped)", r2, f.volume, f.file, f.rev2, BlockSize, 0, true, tail),
		bfail("spliced into another revision (same content key, other revision ID) [6]", r1, f.volume, f.file, f.rev2, BlockSize, 0, true, hello),
		bfail("spliced into another file (same content key, other node ID) [6]", r1, f.volume, f.sibling, f.rev1, BlockSize, 0, true, hello),
		bfail("opened with another revision's content key", r2, f.volume, f.file, f.rev1, BlockSize, 0, true, hello),
		bfail("version byte 0x02", r1, f.volume, f.file, f.rev1, BlockSize, 0, true, flip(hello, 0, 0x03)),
		bfail("nonce bit flipped", r1, f.volume, f.file, f.rev1, BlockSize, 0, true, flip(hello, 3, 0x20)),
		bfail("ciphertext bit flipped in the padding", r1, f.volume, f.file, f.rev1, BlockSize, 0, true, flip(hello, 1+nonceSize+15, 0x01)),
		bfail("tag bit flipped", r1, f.volume, f.file, f.rev1, BlockSize, 0, true, flip(hello, len(hello)-1, 0x01)),
		bfail("truncated by one byte (length not a Padmé length)", r1, f.volume, f.file, f.rev1, BlockSize, 0, true, hello[:len(hello)-1]),
		bfail("one byte appended", r1, f.volume, f.file, f.rev1, BlockSize, 0, true, append(bytes.Clone(hello), 0)),
		bfail("only the version byte", r1, f.volume, f.file, f.rev1, BlockSize, 0, true, hello[:1]),
		bfail("empty", r1, f.volume, f.file, f.rev1, BlockSize, 0, true, nil),
	}

	// Tiny blocks: the same construction with a 64-byte block size, two
	// revisions under one content key so that splicing fails by the AD
	// alone.
	tinyCK := ContentKey(named("content key tiny"))
	type tinyFile struct {
		rev    []byte
		plain  []byte
		base   byte
		sealer *BlockSealer
		blocks [][]byte
	}
	tinies := []*tinyFile{
		{rev: vectorID("revision tiny 1"), plain: patternBytes(0, 165), base: 0x40}, // 64 + 64 + 37 (padded to 40)
		{rev: vectorID("revision tiny 2"), plain: patternBytes(7, 128), base: 0x50}, // 64 + 64, the last block full
	}
	var tinyCases []obj
	for _, t := range tinies {
		if t.sealer, err = newBlockSealer(tinyCK, f.volume, f.file, t.rev, vectorTinyBlockSize); err != nil {
			return nil, err
		}
		n := (len(t.plain) + vectorTinyBlockSize - 1) / vectorTinyBlockSize
		for i := range n {
			end := min((i+1)*vectorTinyBlockSize, len(t.plain))
			b, err := t.sealer.seal(nil, t.plain[i*vectorTinyBlockSize:end], uint64(i), i == n-1, nonce12(t.base+byte(i)))
			if err != nil {
				return nil, err
			}
			t.blocks = append(t.blocks, b)
		}
		vr := &vectorRevision{id: t.rev, ck: tinyCK, plain: t.plain, blocks: t.blocks, nonceBase: t.base}
		for i := range t.blocks {
			o, err := blockCase(vr, i, vectorTinyBlockSize)
			if err != nil {
				return nil, err
			}
			tinyCases = append(tinyCases, o)
		}
	}
	ta, tb := tinies[0], tinies[1]
	a, b := ta.blocks, tb.blocks
	// Validly sealed blocks of lengths no block may have.
	rawBlock := func(pt []byte, index uint64, last bool, start byte) []byte {
		p := ta.sealer.ad(index, last)
		defer ta.sealer.ads.Put(p)
		nonce := nonce12(start)
		out := append([]byte{blockVersion}, nonce[:]...)
		return ta.sealer.aead.Seal(out, nonce[:], pt, *p)
	}
	tinyVR := &vectorRevision{ck: tinyCK}
	tf := func(why string, rev []byte, index uint64, last bool, blk []byte) obj {
		return bfail(why, tinyVR, f.volume, f.file, rev, vectorTinyBlockSize, index, last, blk)
	}
	tinyFails := []obj{
		tf("block 1 at index 0 (swapped) [6]", ta.rev, 0, false, a[1]),
		tf("block 0 at index 1 (swapped) [6]", ta.rev, 1, false, a[0]),
		tf("truncated: last block dropped, block 1 opened as the last [6]", ta.rev, 1, true, a[1]),
		tf("appended: the full last block opened as a middle block, as if a block followed [6]", tb.rev, 1, false, b[1]),
		tf("appended: a further block after the last, taken from the other revision [6]", ta.rev, 3, true, b[1]),
		tf("spliced: block 0 of the other revision (same content key) at index 0 [6]", ta.rev, 0, false, b[0]),
		tf("spliced: the other revision's last block as this one's [6]", tb.rev, 2, true, a[2]),
		tf("middle block opened as the last", ta.rev, 0, true, a[0]),
		tf("validly sealed last block of 39 bytes (not a Padmé length)", ta.rev, 2, true, rawBlock(patternBytes(0, 39), 2, true, 0x60)),
		tf("validly sealed middle block of 63 bytes", ta.rev, 0, false, rawBlock(patternBytes(0, 63), 0, false, 0x61)),
		tf("validly sealed middle block of 65 bytes", ta.rev, 0, false, rawBlock(patternBytes(0, 65), 0, false, 0x62)),
		tf("validly sealed empty last block", ta.rev, 0, true, rawBlock(nil, 0, true, 0x63)),
		tf("ciphertext bit flipped", ta.rev, 0, false, flip(a[0], 20, 0x01)),
	}

	// Attributes.
	var attrCases []obj
	for i, r := range revs {
		nonce, at, s := vectorAttrsNonce(i), r.attrs(), sealedAttrs[i]
		o := obj{
			{"content_key_hex", h(r.ck[:])},
			{"volume_hex", h(f.volume)},
			{"node_hex", h(f.file)},
			{"revision_hex", h(r.id)},
			{"size", at.Size},
			{"mod_time", strconv.FormatInt(at.ModTime, 10)},
			{"sha256_hex", h(at.SHA256[:])},
		}
		if len(r.plain) <= 4096 {
			o = append(o, kv{"plaintext_hex", h(r.plain)})
		} else {
			o = append(o, kv{"plaintext_rule", patternRule}, kv{"plaintext_start", 0}, kv{"plaintext_len", len(r.plain)})
		}
		attrCases = append(attrCases, append(o,
			kv{"nonce_hex", h(nonce[:])},
			kv{"plaintext_attrs_hex", h(at.marshal())},
			kv{"ad_hex", h(envelopeAD(labelAttrs, idFields(f.volume, f.file, r.id)))},
			kv{"sealed_hex", h(s)}))
	}
	// A time before 1970, to show the two's complement encoding.
	old := &vectorRevision{id: vectorID("revision from 1969"), ck: r1.ck, plain: []byte("old\n"), mtime: -86_400_000_000_123}
	oldNonce := nonce12(0xf2)
	oldAttrs := old.attrs()
	oldSealed, err := sealAttrs(old.ck, f.volume, f.file, old.id, oldAttrs, oldNonce)
	if err != nil {
		return nil, err
	}
	attrCases = append(attrCases, obj{
		{"content_key_hex", h(old.ck[:])},
		{"volume_hex", h(f.volume)},
		{"node_hex", h(f.file)},
		{"revision_hex", h(old.id)},
		{"size", oldAttrs.Size},
		{"mod_time", strconv.FormatInt(old.mtime, 10)},
		{"sha256_hex", h(oldAttrs.SHA256[:])},
		{"plaintext_hex", h(old.plain)},
		{"nonce_hex", h(oldNonce[:])},
		{"plaintext_attrs_hex", h(oldAttrs.marshal())},
		{"ad_hex", h(envelopeAD(labelAttrs, idFields(f.volume, f.file, old.id)))},
		{"sealed_hex", h(oldSealed)},
	})
	sa := sealedAttrs[1]
	ck2Key := [32]byte(r2.ck)
	rawAttrs := func(pt []byte, start byte) ([]byte, error) {
		return sealEnvelopeNonce(&ck2Key, nonce12(start), labelAttrs, idFields(f.volume, f.file, f.rev2), pt)
	}
	v2Attrs, err := rawAttrs(append([]byte{0x02}, r2.attrs().marshal()[1:]...), 0xf8)
	if err != nil {
		return nil, err
	}
	shortAttrs, err := rawAttrs(r2.attrs().marshal()[:AttrsSize-1], 0xf9)
	if err != nil {
		return nil, err
	}
	afail := func(why string, r *vectorRevision, rev, node, s []byte) obj {
		return obj{{"why", why}, {"content_key_hex", h(r.ck[:])}, {"volume_hex", h(f.volume)}, {"node_hex", h(node)},
			{"revision_hex", h(rev)}, {"sealed_hex", h(s)}}
	}
	attrFails := []obj{
		afail("revision 1's attributes under revision 2's ID, same key [8]", r1, f.rev2, f.file, sealedAttrs[0]),
		afail("revision 1's attributes served for revision 2 [8]", r2, f.rev2, f.file, sealedAttrs[0]),
		afail("other file", r2, f.rev2, f.sibling, sa),
		afail("size field bit flipped [8]", r2, f.rev2, f.file, flip(sa, 1+nonceSize+8, 0x01)),
		afail("mod_time field bit flipped [8]", r2, f.rev2, f.file, flip(sa, 1+nonceSize+12, 0x01)),
		afail("tag bit flipped", r2, f.rev2, f.file, flip(sa, len(sa)-1, 0x01)),
		afail("truncated by one byte", r2, f.rev2, f.file, sa[:len(sa)-1]),
		afail("validly sealed, inner version 0x02", r2, f.rev2, f.file, v2Attrs),
		afail("validly sealed, 48-byte plaintext", r2, f.rev2, f.file, shortAttrs),
	}

	// Revision records.
	recs := content.recs
	var recCases []obj
	var sigs [][]byte
	for i, r := range recs {
		sig, err := r.Sign(alice.keys)
		if err != nil {
			return nil, err
		}
		if err := r.Verify(alice.keys.IdentityPublic(), sig); err != nil {
			return nil, err
		}
		if err := CheckManifest(r, revs[i].attrs()); err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
		o := revisionObj(r)
		d := r.Digest()
		recCases = append(recCases, append(o,
			kv{"signer_identity_seed_hex", h(alice.idSeed)},
			kv{"author_public_hex", h(alice.keys.IdentityPublic())},
			kv{"marshaled_hex", h(r.Marshal())},
			kv{"signature_hex", h(sig)},
			kv{"digest_input_hex", h(tagged(labelRevisionDigest, r.Marshal()))},
			kv{"digest_hex", h(d[:])}))
	}
	rec2, sig2 := recs[1], sigs[1]
	alicePub := alice.keys.IdentityPublic()
	edit := func(fn func(r *RevisionRecord)) *RevisionRecord {
		c := *rec2
		c.Blocks = append([][32]byte(nil), rec2.Blocks...)
		fn(&c)
		return &c
	}
	signRaw := func(r *RevisionRecord) []byte {
		return ed25519.Sign(alice.keys.identity, tagged(labelRevision, r.encode()))
	}
	rvfail := func(why string, r *RevisionRecord, pub, sig []byte) obj {
		o := append(obj{{"why", why}}, revisionObj(r)...)
		return append(o, kv{"author_public_hex", h(pub)}, kv{"signature_hex", h(sig)})
	}
	bobSig, err := rec2.Sign(bob.keys)
	if err != nil {
		return nil, err
	}
	seq0 := edit(func(r *RevisionRecord) { r.Seq = 0 })
	shortCK := edit(func(r *RevisionRecord) { r.SealedContentKey = r.SealedContentKey[:SealedContentKeySize-1] })
	shortRev := edit(func(r *RevisionRecord) { r.Revision = r.Revision[:IDSize-1] })
	revFails := []obj{
		rvfail("block IDs reordered [6]", edit(func(r *RevisionRecord) { r.Blocks[0], r.Blocks[1] = r.Blocks[1], r.Blocks[0] }), alicePub, sig2),
		rvfail("last block ID dropped [6]", edit(func(r *RevisionRecord) { r.Blocks = r.Blocks[:1] }), alicePub, sig2),
		rvfail("block ID appended [6]", edit(func(r *RevisionRecord) { r.Blocks = append(r.Blocks, recs[0].Blocks[0]) }), alicePub, sig2),
		rvfail("block ID replaced by one from revision 1 [6]", edit(func(r *RevisionRecord) { r.Blocks[1] = recs[0].Blocks[0] }), alicePub, sig2),
		rvfail("sequence number lowered [13]", edit(func(r *RevisionRecord) { r.Seq = 1 }), alicePub, sig2),
		rvfail("sealed attributes of revision 1 [8]", edit(func(r *RevisionRecord) { r.SealedAttrs = sealedAttrs[0] }), alicePub, sig2),
		rvfail("sealed content key of revision 1", edit(func(r *RevisionRecord) { r.SealedContentKey = sealedCKs[0] }), alicePub, sig2),
		rvfail("author changed [8]", edit(func(r *RevisionRecord) { r.Author = "bob" }), alicePub, sig2),
		rvfail("other node", edit(func(r *RevisionRecord) { r.Node = f.sibling }), alicePub, sig2),
		rvfail("signed by bob, verified with alice's key [8]", rec2, alicePub, bobSig),
		rvfail("signed as a node record (other label)", rec2, alicePub, ed25519.Sign(alice.keys.identity, tagged(labelNodeRecord, rec2.encode()))),
		rvfail("author key is the identity point (small order); R = identity, S = 0", rec2, append([]byte{1}, make([]byte, 31)...), trivialSignature()),
		rvfail("validly signed, sequence number 0", seq0, alicePub, signRaw(seq0)),
		rvfail("validly signed, 60-byte sealed content key", shortCK, alicePub, signRaw(shortCK)),
		rvfail("validly signed, 15-byte revision ID", shortRev, alicePub, signRaw(shortRev)),
	}

	// Head check: report.pdf's node record (tree.json) names revision 2 by
	// ID, seq and digest. Every revision served against it below is well
	// formed and validly signed by its author; only the head check, and
	// for all but the first only its digest, refuses it.
	nodes, err := f.records()
	if err != nil {
		return nil, err
	}
	fileNode := nodes[2]
	nodeSig, err := fileNode.Sign(alice.keys)
	if err != nil {
		return nil, err
	}
	if fileNode.RevisionDigest != rec2.Digest() {
		return nil, errors.New("report.pdf's node record does not carry revision 2's digest")
	}
	headObj := func(why string, r *RevisionRecord, signer *AccountKeys) (obj, error) {
		sig, err := r.Sign(signer)
		if err != nil {
			return nil, err
		}
		var o obj
		if why != "" {
			o = append(o, kv{"why", why})
		}
		d := r.Digest()
		return append(o,
			kv{"node_record", append(recordObj(fileNode), kv{"author_public_hex", h(alicePub)}, kv{"signature_hex", h(nodeSig)})},
			kv{"revision", append(revisionObj(r),
				kv{"author_public_hex", h(signer.IdentityPublic())}, kv{"signature_hex", h(sig)}, kv{"digest_hex", h(d[:])})},
		), nil
	}
	headIns := []struct {
		why    string
		r      *RevisionRecord
		signer *AccountKeys
	}{
		{"", rec2, alice.keys},
		{"revision 1 served as the head (rollback to an older, validly signed revision) [13]", recs[0], alice.keys},
		{"same revision ID and seq, signed by alice, last block ID replaced by revision 1's [6]",
			edit(func(r *RevisionRecord) { r.Blocks[1] = recs[0].Blocks[0] }), alice.keys},
		{"same revision ID and seq, signed by alice, last block dropped [6]",
			edit(func(r *RevisionRecord) { r.Blocks = r.Blocks[:1] }), alice.keys},
		{"same revision ID and seq, signed by alice, revision 1's sealed attributes [8]",
			edit(func(r *RevisionRecord) { r.SealedAttrs = sealedAttrs[0] }), alice.keys},
		{"same revision ID and seq, signed by alice, revision 1's sealed content key",
			edit(func(r *RevisionRecord) { r.SealedContentKey = sealedCKs[0] }), alice.keys},
		{"same revision ID and seq, author bob, signed by bob [8]",
			edit(func(r *RevisionRecord) { r.Author = "bob" }), bob.keys},
	}
	var headCases, headFails []obj
	for i, in := range headIns {
		o, err := headObj(in.why, in.r, in.signer)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			headCases = append(headCases, o)
		} else {
			headFails = append(headFails, o)
		}
	}

	// Manifest check: block count against the sealed size.
	var manCases []obj
	for _, size := range []uint64{0, 1, 15, BlockSize - 1, BlockSize, BlockSize + 1, BlockSize + 100, 3 * BlockSize, 1 << 40} {
		a := Attrs{Size: size}
		manCases = append(manCases, obj{{"size", size}, {"block_count", a.BlockCount()}, {"last_block_len", a.LastBlockLen()}})
	}
	mfail := func(why string, size uint64, n int) obj {
		return obj{{"why", why}, {"size", size}, {"block_count", n}}
	}
	manFails := []obj{
		mfail("revision 2 (4 MiB + 100 bytes) with its last block dropped, validly signed", BlockSize+100, 1),
		mfail("empty file with one block", 0, 1),
		mfail("one byte, no block", 1, 0),
		mfail("exactly one block's worth with a second block", BlockSize, 2),
	}

	reuse, err := reuseVectors(f)
	if err != nil {
		return nil, err
	}

	return obj{
		{"description", "Coffer content: wrapped content keys, Padmé padding, blocks, sealed attributes, signed revision records, the head check and the manifest check (docs/crypto.md section 12). " +
			"The IDs and node keys are those of tree.json (the file report.pdf and its two revisions)."},
		{"encoding", vectorEncoding},
		{"construction", obj{
			{"content_key", "content_key_wrap = HKDF(ikm=file node key, info=tagged(\"coffer/v1/content-key-wrap\", empty), 32); " +
				"ad = tagged(\"coffer/v1/content-key\", LP(volume) || LP(node) || LP(revision)); " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(key=content_key_wrap, nonce, plaintext=content key (32), ad) = 61 bytes."},
			{"padme", "padded = 1 for n = 1; for 2 <= n <= block_size: E = floor(log2 n), S = floor(log2 E) + 1, mask = 2^(E-S) - 1, " +
				"padded = min((n + mask) & ~mask, block_size)."},
			{"block", "Blocks are block_size = 4194304 plaintext bytes, except the last (1..block_size bytes), which is padded with zeros to padme(n). " +
				"An empty file has no blocks. ad = tagged(\"coffer/v1/block\", LP(volume) || LP(node) || LP(revision) || uint64_be(index) || uint8(last: 1 or 0)); " +
				"block = 0x01 || nonce (12, random) || AES-256-GCM(key=content key, nonce, plaintext=padded block, ad); block_id = SHA-256(block). " +
				"Opening refuses a middle block whose length is not block_size + 29, and a last block whose length minus 29 is not in 1..block_size " +
				"or is not its own padme value. tiny_blocks uses block_size = 64 to show several blocks; nothing else changes."},
			{"attrs", "plaintext_attrs = 0x01 || uint64_be(size) || int64_be(mod_time, unix ns, two's complement) || SHA-256(whole plaintext) (49 bytes); " +
				"mod_time is written in the vectors as a decimal string because it exceeds 2^53; " +
				"ad = tagged(\"coffer/v1/attrs\", LP(volume) || LP(node) || LP(revision)); " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(key=content key, nonce, plaintext_attrs, ad) = 78 bytes. " +
				"Opening refuses a plaintext that is not 49 bytes or whose first byte is not 0x01."},
			{"revision_record", "marshaled = 0x01 || LP(volume) || LP(node) || LP(revision) || uint64_be(seq) || LP(sealed_content_key) || " +
				"uint32_be(n) || n block IDs (32 each) || LP(sealed_attrs) || LP(author); " +
				"signature = Ed25519-Sign(author identity key, tagged(\"coffer/v1/revision\", marshaled)). " +
				"Rules: 16-byte IDs, seq >= 1, a 61-byte sealed content key, a 78-byte sealed attrs, author 1..255 bytes; " +
				"the author key must pass the Ed25519 key check (bundle.json). " +
				"digest = SHA-256(digest_input), digest_input = tagged(\"coffer/v1/revision-digest\", marshaled); " +
				"a file's node record carries its head revision's digest as revision_digest (tree.json)."},
			{"head", "A revision served as the head of a file whose node record (tree.json, node_record) verifies is accepted only if it is " +
				"well formed and its volume, node, revision and seq equal the record's volume, node, revision and revision_seq, " +
				"and its digest equals the record's revision_digest. A client listing a folder checks this instead of verifying " +
				"the revision's own signature (docs/crypto.md section 12.4). Every must_fail case is well formed and validly signed " +
				"by its author: the node record's signature verifies, the revision's signature verifies, and the head check refuses it."},
			{"manifest", "block_count = ceil(size / 4194304) (0 for an empty file); a manifest must list exactly block_count block IDs. " +
				"last_block_len = size - (block_count - 1) * 4194304 (0 for an empty file)."},
			{"revision_reuse", "Block re-use (docs/crypto.md section 12.6), with block_size = 64 as in tiny_blocks (the manifest check uses it too). " +
				"A record with origins is version 0x02: marshaled = 0x02 || LP(volume) || LP(node) || LP(revision) || uint64_be(seq) || LP(sealed_content_key) || " +
				"uint32_be(k) || k x (LP(origin_revision) || LP(sealed_origin_key)) || uint32_be(n) || n x (block_id (32) || uint32_be(origin)) || " +
				"LP(sealed_attrs) || LP(author); a record without origins is version 0x01 as in revision_record. " +
				"sealed_origin_key = 0x01 || nonce (12) || AES-256-GCM(key = this revision's content key, nonce, plaintext = the origin revision's content key, " +
				"ad = tagged(\"coffer/v1/origin-key\", LP(volume) || LP(node) || LP(revision) || LP(origin_revision))) = 61 bytes. " +
				"Rules: k >= 1 in version 0x02; origin IDs 16 bytes, distinct, not the revision itself; sealed origin keys 61 bytes; " +
				"one origin per block, 0 (sealed by this revision) or 1..k; every origin used by a block, origins numbered in the order of their first use. " +
				"Signature and digest as in revision_record, over the whole encoding. " +
				"Reading: open the content key under the file's node key, the attributes, and each origin key under the content key; " +
				"block i (origin j) opens under origin j's key with the AD of the revision that sealed it: " +
				"tagged(\"coffer/v1/block\", LP(volume) || LP(node) || LP(sealed_by) || uint64_be(i) || uint8(last)), last = (i = n - 1) in this revision. " +
				"stored_blocks holds every block by ID; each case's sealed_blocks are the blocks that revision sealed itself (its nonces), " +
				"read gives for each block the revision that sealed it and its AD, and plaintext_hex what the reader must reassemble. " +
				"Every must_fail record is signed by its author (signature_hex verifies under alice's key over marshaled_hex whenever the record is well formed) " +
				"and must still be refused: when parsed, or when its keys or blocks are opened, or by the whole-plaintext SHA-256."},
		}},
		{"content_key", obj{{"cases", ckCases}, {"must_fail", ckFails}}},
		{"padme", padCases},
		{"blocks", obj{{"cases", blockCases}, {"must_fail", blockFails}}},
		{"tiny_blocks", obj{{"cases", tinyCases}, {"must_fail", tinyFails}}},
		{"attrs", obj{{"cases", attrCases}, {"must_fail", attrFails}}},
		{"revision_record", obj{{"cases", recCases}, {"must_fail", revFails}}},
		{"head", obj{{"cases", headCases}, {"must_fail", headFails}}},
		{"manifest", obj{{"cases", manCases}, {"must_fail", manFails}}},
		{"revision_reuse", reuse},
	}, nil
}

// be64 returns uint64_be(v).
func be64(v uint64) []byte {
	var b [8]byte
	for i := range b {
		b[7-i] = byte(v >> (8 * i))
	}
	return b[:]
}

func boolByte(b bool) []byte {
	if b {
		return []byte{1}
	}
	return []byte{0}
}
