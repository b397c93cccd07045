package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Vectors of block re-use (docs/crypto.md section 12.6): three revisions
// of report.pdf, cut into the tiny_blocks' 64-byte blocks so that a few
// bytes show every case.
//
//   - revision A (seq 3): 230 bytes, 4 blocks, all its own (version 0x01);
//   - revision B (seq 4): block 1 edited; blocks 0, 2 and 3 re-used from A
//     (the last one too: same index, last flag and length);
//   - revision C (seq 5): block 0 edited and 50 bytes appended; block 1
//     re-used from B, block 2 from A (B had re-used it: C names A, which
//     sealed it, never B), blocks 3 and 4 its own (the old last block is
//     no longer last, and its plaintext changed).

// reuseRevision is one revision of the re-use vectors.
type reuseRevision struct {
	name   string
	id     []byte
	seq    uint64
	ck     ContentKey
	plain  []byte
	mtime  int64
	base   byte           // nonce of the block this revision seals at index i: nonce12(base + i)
	source []int          // per block: -1 sealed here, else the index in reuseFixture.revs that sealed it
	blocks map[int][]byte // the blocks this revision sealed, by index
	ids    [][32]byte
	rec    *RevisionRecord
	sig    []byte
}

type reuseFixture struct {
	f    *treeFixture
	revs []*reuseRevision
	// all holds every block by ID.
	all map[[32]byte][]byte
}

// reuse nonces: content key, attributes and origin keys of revision i.
func reuseCKNonce(i int) *[nonceSize]byte        { return nonce12(0x90 + byte(i)) }
func reuseAttrsNonce(i int) *[nonceSize]byte     { return nonce12(0xa0 + byte(i)) }
func reuseOriginNonce(i, j int) *[nonceSize]byte { return nonce12(0xb0 + byte(4*i+j)) }

func newReuseFixture(f *treeFixture) (*reuseFixture, error) {
	a := patternBytes(0, 230)
	b := bytes.Clone(a)
	copy(b[64:128], patternBytes(100, 64))
	c := append(append(patternBytes(200, 64), b[64:]...), patternBytes(50, 50)...)
	x := &reuseFixture{f: f, all: map[[32]byte][]byte{}}
	x.revs = []*reuseRevision{
		{name: "A", id: vectorID("revision reuse A"), seq: 3, ck: ContentKey(named("content key reuse A")), plain: a,
			mtime: 1767398400_000000003, base: 0x70, source: []int{-1, -1, -1, -1}},
		{name: "B", id: vectorID("revision reuse B"), seq: 4, ck: ContentKey(named("content key reuse B")), plain: b,
			mtime: 1767484800_000000004, base: 0x78, source: []int{0, -1, 0, 0}},
		{name: "C", id: vectorID("revision reuse C"), seq: 5, ck: ContentKey(named("content key reuse C")), plain: c,
			mtime: 1767571200_000000005, base: 0x80, source: []int{-1, 1, 0, -1, -1}},
	}
	for i, r := range x.revs {
		s, err := newBlockSealer(r.ck, f.volume, f.file, r.id, vectorTinyBlockSize)
		if err != nil {
			return nil, err
		}
		n := (len(r.plain) + vectorTinyBlockSize - 1) / vectorTinyBlockSize
		if n != len(r.source) {
			return nil, fmt.Errorf("revision %s: %d blocks, %d sources", r.name, n, len(r.source))
		}
		r.blocks = map[int][]byte{}
		reused := make([]ReusedBlock, n)
		for k := range n {
			end := min((k+1)*vectorTinyBlockSize, len(r.plain))
			pt := r.plain[k*vectorTinyBlockSize : end]
			if src := r.source[k]; src >= 0 {
				o := x.revs[src]
				// What a writer checks before re-using: same index, same
				// last flag, same plaintext.
				oend := min((k+1)*vectorTinyBlockSize, len(o.plain))
				if k >= len(o.ids) || o.blocks[k] == nil || (oend == len(o.plain)) != (end == len(r.plain)) ||
					!bytes.Equal(o.plain[k*vectorTinyBlockSize:oend], pt) {
					return nil, fmt.Errorf("revision %s cannot re-use block %d of %s", r.name, k, o.name)
				}
				reused[k] = ReusedBlock{Revision: o.id, Key: o.ck}
				r.ids = append(r.ids, o.ids[k])
				continue
			}
			blk, err := s.seal(nil, pt, uint64(k), end == len(r.plain), nonce12(r.base+byte(k)))
			if err != nil {
				return nil, err
			}
			r.blocks[k] = blk
			id := BlockID(blk)
			r.ids = append(r.ids, id)
			x.all[id] = blk
		}
		sck, err := sealContentKey(f.fileKeys, f.volume, f.file, r.id, r.ck, reuseCKNonce(i))
		if err != nil {
			return nil, err
		}
		sa, err := sealAttrs(r.ck, f.volume, f.file, r.id, r.attrs(), reuseAttrsNonce(i))
		if err != nil {
			return nil, err
		}
		origins, per, err := sealOrigins(r.ck, f.volume, f.file, r.id, reused, func(j int) *[nonceSize]byte { return reuseOriginNonce(i, j) })
		if err != nil {
			return nil, err
		}
		r.rec = &RevisionRecord{Volume: f.volume, Node: f.file, Revision: r.id, Seq: r.seq, SealedContentKey: sck,
			Origins: origins, Blocks: r.ids, BlockOrigins: per, SealedAttrs: sa, Author: "alice"}
		if r.sig, err = r.rec.Sign(f.alice.keys); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func (r *reuseRevision) attrs() Attrs {
	return Attrs{Size: uint64(len(r.plain)), ModTime: r.mtime, SHA256: sha256.Sum256(r.plain)}
}

// read does what a reader of a revision does, from the record's encoding
// on: parse it, open its content key under the file's keys, its
// attributes and its origins' keys, then every block (by ID from blocks)
// at its index with its last flag, and check the whole plaintext against
// the attributes. The block count is checked against the size with the
// tiny block size.
func (x *reuseFixture) read(encoded []byte, blocks map[[32]byte][]byte) ([]byte, error) {
	r, err := UnmarshalRevisionRecord(encoded)
	if err != nil {
		return nil, err
	}
	return readReuse(x.f.fileKeys, r, blocks, vectorTinyBlockSize)
}

// readReuse reads r's plaintext as read does, with blocks of blockSize.
func readReuse(nk *NodeKeys, r *RevisionRecord, blocks map[[32]byte][]byte, blockSize int) ([]byte, error) {
	ck, err := OpenContentKey(nk, r.Volume, r.Node, r.Revision, r.SealedContentKey)
	if err != nil {
		return nil, err
	}
	a, err := OpenAttrs(ck, r.Volume, r.Node, r.Revision, r.SealedAttrs)
	if err != nil {
		return nil, err
	}
	if want := (a.Size + uint64(blockSize) - 1) / uint64(blockSize); uint64(len(r.Blocks)) != want {
		return nil, fmt.Errorf("%w: %d blocks for %d bytes", ErrBadManifest, len(r.Blocks), a.Size)
	}
	o, err := newRevisionOpener(ck, r, blockSize)
	if err != nil {
		return nil, err
	}
	var out []byte
	for i, id := range r.Blocks {
		blk, ok := blocks[id]
		if !ok || BlockID(blk) != id {
			return nil, fmt.Errorf("block %d missing: %w", i, ErrDecrypt)
		}
		last := i == len(r.Blocks)-1
		pt, err := o.Open(nil, blk, uint64(i), last)
		if err != nil {
			return nil, err
		}
		if last {
			keep := int(a.Size - uint64(i*blockSize))
			if keep > len(pt) || !isZero(pt[keep:]) {
				return nil, ErrDecrypt
			}
			pt = pt[:keep]
		}
		out = append(out, pt...)
	}
	if sha256.Sum256(out) != a.SHA256 {
		return nil, fmt.Errorf("%w: the plaintext does not match its SHA-256", ErrDecrypt)
	}
	return out, nil
}

// reuseTamper is one must_fail case: a revision record, encoded (and
// signed, validly, by its author where Sign allows it), that a reader
// must refuse to read.
type reuseTamper struct {
	why string
	rec *RevisionRecord
	// raw, if set, is the encoding itself (one Marshal cannot make).
	raw []byte
}

// tampers returns the must_fail cases, based on revisions B and C.
func (x *reuseFixture) tampers() ([]reuseTamper, error) {
	f := x.f
	A, B, C := x.revs[0], x.revs[1], x.revs[2]
	edit := func(r *reuseRevision, fn func(r *RevisionRecord)) *RevisionRecord {
		c := *r.rec
		c.Origins = append([]Origin(nil), r.rec.Origins...)
		c.Blocks = append([][32]byte(nil), r.rec.Blocks...)
		c.BlockOrigins = append([]uint32(nil), r.rec.BlockOrigins...)
		fn(&c)
		return &c
	}
	// Origin keys sealed under C's key that a writer could have made,
	// but that are wrong for C.
	sealFor := func(vol, node, rev, origin []byte, key ContentKey, n byte) ([]byte, error) {
		return sealOriginKey(C.ck, vol, node, rev, origin, key, nonce12(n))
	}
	forB, err := sealFor(f.volume, f.file, B.id, A.id, A.ck, 0xc0)
	if err != nil {
		return nil, err
	}
	forSibling, err := sealFor(f.volume, f.sibling, C.id, A.id, A.ck, 0xc1)
	if err != nil {
		return nil, err
	}
	forVolume, err := sealFor(vectorID("other volume"), f.file, C.id, A.id, A.ck, 0xc2)
	if err != nil {
		return nil, err
	}
	bKeyAsA, err := sealFor(f.volume, f.file, C.id, A.id, B.ck, 0xc3)
	if err != nil {
		return nil, err
	}
	// C as version 0x02 with no origins: every block names origin 0.
	noOrigins := edit(C, func(r *RevisionRecord) {})
	var raw []byte
	{
		r := noOrigins
		raw = append(raw, revisionRecordVersionReuse)
		raw = appendLP(raw, r.Volume)
		raw = appendLP(raw, r.Node)
		raw = appendLP(raw, r.Revision)
		raw = binary.BigEndian.AppendUint64(raw, r.Seq)
		raw = appendLP(raw, r.SealedContentKey)
		raw = binary.BigEndian.AppendUint32(raw, 0)
		raw = binary.BigEndian.AppendUint32(raw, uint32(len(r.Blocks)))
		for _, id := range r.Blocks {
			raw = append(raw, id[:]...)
			raw = binary.BigEndian.AppendUint32(raw, 0)
		}
		raw = appendLP(raw, r.SealedAttrs)
		raw = appendLP(raw, []byte(r.Author))
	}
	v1AsV2 := A.rec.encode()
	v1AsV2[0] = revisionRecordVersionReuse
	return []reuseTamper{
		{why: "C: a bit of origin 1's sealed key flipped", rec: edit(C, func(r *RevisionRecord) {
			r.Origins[0].SealedKey = flip(r.Origins[0].SealedKey, 20, 0x01)
		})},
		{why: "C: its two origins swapped, IDs with their keys (blocks 1 and 2 then open under the wrong revision)", rec: edit(C, func(r *RevisionRecord) {
			r.Origins[0], r.Origins[1] = r.Origins[1], r.Origins[0]
		})},
		{why: "C: the sealed keys of its two origins swapped, IDs kept", rec: edit(C, func(r *RevisionRecord) {
			r.Origins[0].SealedKey, r.Origins[1].SealedKey = r.Origins[1].SealedKey, r.Origins[0].SealedKey
		})},
		{why: "B: block 0 (A's) said to be B's own (origin 0)", rec: edit(B, func(r *RevisionRecord) { r.BlockOrigins[0] = 0 })},
		{why: "B: block 1 (B's own) said to be A's (origin 1)", rec: edit(B, func(r *RevisionRecord) { r.BlockOrigins[1] = 1 })},
		{why: "B: A's blocks 0 and 2 swapped (re-used at another index) [6]", rec: edit(B, func(r *RevisionRecord) {
			r.Blocks[0], r.Blocks[2] = r.Blocks[2], r.Blocks[0]
		})},
		{why: "C: A's last block (index 3) in place of C's block 3, which is not the last (another last flag) [6]", rec: edit(C, func(r *RevisionRecord) {
			r.Blocks[3], r.BlockOrigins[3] = A.ids[3], 2
		})},
		{why: "B: the last block dropped, A's block 2 read as the last (truncation) [6]", rec: edit(B, func(r *RevisionRecord) {
			r.Blocks, r.BlockOrigins = r.Blocks[:3], r.BlockOrigins[:3]
		})},
		{why: "C: origin 2 (A) dropped, its block said to be C's own", rec: edit(C, func(r *RevisionRecord) {
			r.Origins, r.BlockOrigins[2] = r.Origins[:1], 0
		})},
		{why: "C: origin 2 (A) dropped, block origins unchanged (malformed)", rec: edit(C, func(r *RevisionRecord) { r.Origins = r.Origins[:1] })},
		{why: "C: origin 1 listed twice (malformed)", rec: edit(C, func(r *RevisionRecord) {
			r.Origins = []Origin{r.Origins[0], r.Origins[0], r.Origins[1]}
			r.BlockOrigins = []uint32{0, 1, 3, 2, 2}
		})},
		{why: "C: origins out of the order of first use (malformed)", rec: edit(C, func(r *RevisionRecord) {
			r.Origins[0], r.Origins[1] = r.Origins[1], r.Origins[0]
			r.BlockOrigins[1], r.BlockOrigins[2] = 2, 1
		})},
		{why: "C: an origin used by no block (malformed)", rec: edit(C, func(r *RevisionRecord) { r.BlockOrigins[2] = 1 })},
		{why: "C: origin 1 is C itself (malformed)", rec: edit(C, func(r *RevisionRecord) { r.Origins[0].Revision = C.id })},
		{why: "C: origin 2's key sealed for revision B instead of C", rec: edit(C, func(r *RevisionRecord) { r.Origins[1].SealedKey = forB })},
		{why: "C: origin 2's key sealed for another file", rec: edit(C, func(r *RevisionRecord) { r.Origins[1].SealedKey = forSibling })},
		{why: "C: origin 2's key sealed for another volume", rec: edit(C, func(r *RevisionRecord) { r.Origins[1].SealedKey = forVolume })},
		{why: "C: origin 2 (A) carries B's content key, validly sealed", rec: edit(C, func(r *RevisionRecord) { r.Origins[1].SealedKey = bKeyAsA })},
		{why: "C: block 2 said to come from B (which re-used it) instead of A (which sealed it); A dropped", rec: edit(C, func(r *RevisionRecord) {
			r.Origins, r.BlockOrigins[2] = r.Origins[:1], 1
		})},
		{why: "C: encoded as version 0x01, origins dropped (every block read under C's key)", rec: edit(C, func(r *RevisionRecord) {
			r.Origins, r.BlockOrigins = nil, nil
		})},
		{why: "C: version 0x02 with no origins (not canonical: refused)", raw: raw},
		{why: "A: a version 0x01 encoding under version byte 0x02", raw: v1AsV2},
	}, nil
}

// encoding returns the bytes of a must_fail case, and its signature by
// alice over them (valid for alice's key even when the record is
// malformed: a reader refuses it without the signature's help).
func (t reuseTamper) encoding(keys *AccountKeys) (enc, sig []byte) {
	enc = t.raw
	if enc == nil {
		enc = t.rec.encode()
	}
	return enc, ed25519.Sign(keys.identity, tagged(labelRevision, enc))
}

func reuseOriginObj(f *treeFixture, x *reuseFixture, i int, r *reuseRevision) []obj {
	out := []obj{}
	for j, o := range r.rec.Origins {
		var ok ContentKey
		for _, s := range x.revs {
			if bytes.Equal(s.id, o.Revision) {
				ok = s.ck
			}
		}
		out = append(out, obj{
			{"revision_hex", h(o.Revision)},
			{"content_key_hex", h(ok[:])},
			{"nonce_hex", h(reuseOriginNonce(i, j)[:])},
			{"ad_hex", h(envelopeAD(labelOriginKey, idFields(f.volume, f.file, r.id, o.Revision)))},
			{"sealed_key_hex", h(o.SealedKey)},
		})
	}
	return out
}

// reuseVectors returns content.json's revision_reuse group.
func reuseVectors(f *treeFixture) (obj, error) {
	x, err := newReuseFixture(f)
	if err != nil {
		return nil, err
	}
	var cases []obj
	for i, r := range x.revs {
		got, err := x.read(r.rec.Marshal(), x.all)
		if err != nil || !bytes.Equal(got, r.plain) {
			return nil, fmt.Errorf("revision %s does not read back: %v", r.name, err)
		}
		if err := r.rec.Verify(f.alice.keys.IdentityPublic(), r.sig); err != nil {
			return nil, err
		}
		ids := make([]string, len(r.ids))
		var readBlocks, sealed []obj
		for k := range r.ids {
			ids[k] = h(r.ids[k][:])
			origin, rev := r.rec.BlockSource(k)
			last := k == len(r.ids)-1
			readBlocks = append(readBlocks, obj{
				{"index", k},
				{"last", last},
				{"origin", origin},
				{"sealed_by_hex", h(rev)},
				{"ad_hex", h(tagged(labelBlock, idFields(f.volume, f.file, rev), be64(uint64(k)), boolByte(last)))},
			})
			if blk, ok := r.blocks[k]; ok {
				end := min((k+1)*vectorTinyBlockSize, len(r.plain))
				sealed = append(sealed, obj{
					{"index", k},
					{"last", last},
					{"plaintext_hex", h(r.plain[k*vectorTinyBlockSize : end])},
					{"nonce_hex", h(nonce12(r.base + byte(k))[:])},
					{"block_hex", h(blk)},
					{"block_id_hex", h(r.ids[k][:])},
				})
			}
		}
		blockOrigins := make([]uint32, 0, len(r.rec.BlockOrigins))
		blockOrigins = append(blockOrigins, r.rec.BlockOrigins...)
		at := r.attrs()
		d := r.rec.Digest()
		enc := r.rec.Marshal()
		cases = append(cases, obj{
			{"name", r.name},
			{"volume_hex", h(f.volume)},
			{"node_hex", h(f.file)},
			{"node_key_hex", h(f.fileKey[:])},
			{"revision_hex", h(r.id)},
			{"seq", r.seq},
			{"content_key_hex", h(r.ck[:])},
			{"content_key_nonce_hex", h(reuseCKNonce(i)[:])},
			{"sealed_content_key_hex", h(r.rec.SealedContentKey)},
			{"size", at.Size},
			{"mod_time", strconv.FormatInt(at.ModTime, 10)},
			{"attrs_nonce_hex", h(reuseAttrsNonce(i)[:])},
			{"sealed_attrs_hex", h(r.rec.SealedAttrs)},
			{"origins", reuseOriginObj(f, x, i, r)},
			{"blocks_hex", ids},
			{"block_origins", blockOrigins},
			{"author", r.rec.Author},
			{"sealed_blocks", sealed},
			{"read", readBlocks},
			{"plaintext_hex", h(r.plain)},
			{"version", int(enc[0])},
			{"marshaled_hex", h(enc)},
			{"signer_identity_seed_hex", h(f.alice.idSeed)},
			{"author_public_hex", h(f.alice.keys.IdentityPublic())},
			{"signature_hex", h(r.sig)},
			{"digest_hex", h(d[:])},
		})
	}
	tampers, err := x.tampers()
	if err != nil {
		return nil, err
	}
	var fails []obj
	for _, t := range tampers {
		enc, sig := t.encoding(f.alice.keys)
		if _, err := x.read(enc, x.all); err == nil {
			return nil, fmt.Errorf("must_fail %q reads", t.why)
		}
		fails = append(fails, obj{{"why", t.why}, {"marshaled_hex", h(enc)}, {"signature_hex", h(sig)}})
	}
	var all []obj
	for _, r := range x.revs {
		for k := range r.ids {
			if blk, ok := r.blocks[k]; ok {
				all = append(all, obj{{"block_id_hex", h(r.ids[k][:])}, {"block_hex", h(blk)}})
			}
		}
	}
	return obj{
		{"block_size", vectorTinyBlockSize},
		{"stored_blocks", all},
		{"cases", cases},
		{"must_fail", fails},
	}, nil
}
