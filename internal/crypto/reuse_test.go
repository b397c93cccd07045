package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func reuseFixtureT(t testing.TB) *reuseFixture {
	t.Helper()
	f, err := newTreeFixture()
	if err != nil {
		t.Fatal(err)
	}
	x, err := newReuseFixture(f)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// failsClosed reports whether err is one of the errors a reader may fail
// with on a tampered revision.
func failsClosed(err error) bool {
	return errors.Is(err, ErrBadRecord) || errors.Is(err, ErrDecrypt) || errors.Is(err, ErrBadManifest)
}

func TestRevisionReuseReads(t *testing.T) {
	x := reuseFixtureT(t)
	for i, r := range x.revs {
		enc := r.rec.Marshal()
		want := byte(revisionRecordVersionReuse)
		if i == 0 {
			want = revisionRecordVersion
		}
		if enc == nil || enc[0] != want {
			t.Fatalf("revision %s: encoding %x", r.name, enc)
		}
		got, err := x.read(enc, x.all)
		if err != nil || !bytes.Equal(got, r.plain) {
			t.Errorf("revision %s: read %v", r.name, err)
		}
	}
	// Chain flattening: C re-uses A's block 2 through B, and names A.
	C := x.revs[2]
	if o, rev := C.rec.BlockSource(2); o != 2 || !bytes.Equal(rev, x.revs[0].id) {
		t.Errorf("C's block 2 comes from origin %d, revision %x", o, rev)
	}
	if o, rev := C.rec.BlockSource(1); o != 1 || !bytes.Equal(rev, x.revs[1].id) {
		t.Errorf("C's block 1 comes from origin %d, revision %x", o, rev)
	}
	if o, rev := C.rec.BlockSource(0); o != 0 || !bytes.Equal(rev, C.id) {
		t.Errorf("C's block 0 comes from origin %d, revision %x", o, rev)
	}
	if o, rev := C.rec.BlockSource(5); o != -1 || rev != nil {
		t.Error("BlockSource out of range")
	}
	// Reading C needs neither A's nor B's record: only the blocks.
	only := map[[32]byte][]byte{}
	for _, id := range C.rec.Blocks {
		only[id] = x.all[id]
	}
	if got, err := x.read(C.rec.Marshal(), only); err != nil || !bytes.Equal(got, C.plain) {
		t.Errorf("C with only its own blocks: %v", err)
	}
}

// TestRevisionReuseTamper: every must_fail case of the vectors fails
// closed, by the record's rules or by the crypto, and none of them
// passes for the genuine record's signature or head digest.
func TestRevisionReuseTamper(t *testing.T) {
	x := reuseFixtureT(t)
	tampers, err := x.tampers()
	if err != nil {
		t.Fatal(err)
	}
	pub := x.f.alice.keys.IdentityPublic()
	for _, tc := range tampers {
		enc, _ := tc.encoding(x.f.alice.keys)
		if _, err := x.read(enc, x.all); !failsClosed(err) {
			t.Errorf("%s: read error = %v", tc.why, err)
		}
		if tc.rec == nil {
			continue
		}
		// The server cannot make these from the genuine record: its
		// signature and the head digest refuse them.
		for _, r := range x.revs {
			if !bytes.Equal(r.id, tc.rec.Revision) {
				continue
			}
			if err := tc.rec.Verify(pub, r.sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s: verify with the genuine signature: %v", tc.why, err)
			}
			head := &NodeRecord{Volume: r.rec.Volume, Node: r.rec.Node, Revision: r.id, RevisionSeq: r.seq, RevisionDigest: r.rec.Digest()}
			if err := tc.rec.MatchesHead(head); !errors.Is(err, ErrBadRecord) {
				t.Errorf("%s: head check: %v", tc.why, err)
			}
		}
	}
}

func TestUnmarshalRevisionRecord(t *testing.T) {
	x := reuseFixtureT(t)
	for _, r := range x.revs {
		enc := r.rec.Marshal()
		got, err := UnmarshalRevisionRecord(enc)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if !bytes.Equal(got.Marshal(), enc) || got.Digest() != r.rec.Digest() {
			t.Errorf("%s: does not re-encode", r.name)
		}
		// Truncated at every byte boundary, and with a byte appended.
		for n := range len(enc) {
			if _, err := UnmarshalRevisionRecord(enc[:n]); !errors.Is(err, ErrBadRecord) {
				t.Errorf("%s truncated to %d bytes: error = %v", r.name, n, err)
			}
		}
		if _, err := UnmarshalRevisionRecord(append(bytes.Clone(enc), 0)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s with a byte appended: error = %v", r.name, err)
		}
		for _, v := range []byte{0, 3, 0xff} {
			if _, err := UnmarshalRevisionRecord(flip(enc, 0, enc[0]^v)); !errors.Is(err, ErrBadRecord) || !errors.Is(err, ErrUnsupportedVersion) {
				t.Errorf("%s with version %#x: error = %v", r.name, v, err)
			}
		}
	}
	// Counts that the rest of the input cannot hold are refused before
	// anything is allocated for them.
	C := x.revs[2].rec.Marshal()
	off := 1 + 3*(4+IDSize) + 8 + 4 + SealedContentKeySize
	for _, k := range []uint32{1 << 31, 0xffffffff} {
		b := bytes.Clone(C)
		b[off], b[off+1], b[off+2], b[off+3] = byte(k>>24), byte(k>>16), byte(k>>8), byte(k)
		if _, err := UnmarshalRevisionRecord(b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("origin count %d: error = %v", k, err)
		}
	}
	if _, err := UnmarshalRevisionRecord(nil); !errors.Is(err, ErrBadRecord) {
		t.Errorf("empty: error = %v", err)
	}
}

func TestRevisionRecordOriginRules(t *testing.T) {
	x := reuseFixtureT(t)
	C := x.revs[2].rec
	edit := func(fn func(r *RevisionRecord)) *RevisionRecord {
		c := *C
		c.Origins = append([]Origin(nil), C.Origins...)
		c.Blocks = append([][32]byte(nil), C.Blocks...)
		c.BlockOrigins = append([]uint32(nil), C.BlockOrigins...)
		fn(&c)
		return &c
	}
	if err := C.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*RevisionRecord{
		"block origins without origins":     edit(func(r *RevisionRecord) { r.Origins = nil }),
		"origins without block origins":     edit(func(r *RevisionRecord) { r.BlockOrigins = nil }),
		"one block origin short":            edit(func(r *RevisionRecord) { r.BlockOrigins = r.BlockOrigins[:4] }),
		"one block origin too many":         edit(func(r *RevisionRecord) { r.BlockOrigins = append(r.BlockOrigins, 0) }),
		"block origin beyond k":             edit(func(r *RevisionRecord) { r.BlockOrigins[4] = 3 }),
		"block origin 2^32-1":               edit(func(r *RevisionRecord) { r.BlockOrigins[4] = 0xffffffff }),
		"origin used by no block":           edit(func(r *RevisionRecord) { r.BlockOrigins[1] = 0 }),
		"origins out of order of first use": edit(func(r *RevisionRecord) { r.BlockOrigins[1], r.BlockOrigins[2] = 2, 1 }),
		"origin duplicated": edit(func(r *RevisionRecord) {
			r.Origins = append(r.Origins, r.Origins[0])
			r.BlockOrigins[3] = 3
		}),
		"origin is the revision":   edit(func(r *RevisionRecord) { r.Origins[0].Revision = r.Revision }),
		"origin ID short":          edit(func(r *RevisionRecord) { r.Origins[0].Revision = r.Origins[0].Revision[:IDSize-1] }),
		"origin ID empty":          edit(func(r *RevisionRecord) { r.Origins[0].Revision = nil }),
		"sealed origin key short":  edit(func(r *RevisionRecord) { r.Origins[1].SealedKey = r.Origins[1].SealedKey[:60] }),
		"sealed origin key long":   edit(func(r *RevisionRecord) { r.Origins[1].SealedKey = append(bytes.Clone(r.Origins[1].SealedKey), 0) }),
		"more origins than blocks": edit(func(r *RevisionRecord) { r.Blocks, r.BlockOrigins = r.Blocks[1:2], r.BlockOrigins[1:2] }),
	} {
		if err := r.Validate(); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Validate = %v", name, err)
		}
		if r.Marshal() != nil || r.Digest() != ([32]byte{}) {
			t.Errorf("%s: Marshal or Digest accepted it", name)
		}
		if _, err := r.Sign(x.f.alice.keys); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Sign = %v", name, err)
		}
		// Its encoding is refused too, unless it is the encoding of
		// another, well-formed record (encode writes what fits).
		if p, err := UnmarshalRevisionRecord(r.encode()); err == nil && len(p.Origins) == len(r.Origins) && len(p.BlockOrigins) == len(r.BlockOrigins) {
			t.Errorf("%s: Unmarshal accepted its encoding", name)
		} else if err != nil && !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Unmarshal = %v", name, err)
		}
		if _, err := r.OpenOriginKeys(x.revs[2].ck); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: OpenOriginKeys = %v", name, err)
		}
	}
	// A record re-using every block (only the time changed) is fine.
	all := edit(func(r *RevisionRecord) { r.BlockOrigins = []uint32{1, 1, 2, 2, 1} })
	if err := all.Validate(); err != nil {
		t.Errorf("every block re-used: %v", err)
	}
}

func TestOriginKey(t *testing.T) {
	tt := newTestTree(t)
	ids := make([][]byte, 3)
	for i := range ids {
		var err error
		if ids[i], err = NewID(); err != nil {
			t.Fatal(err)
		}
	}
	rev, origin, other := ids[0], ids[1], ids[2]
	ck, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	ok, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := SealOriginKey(ck, tt.volume, tt.file, rev, origin, ok)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != SealedOriginKeySize || SealedOriginKeySize != 61 {
		t.Fatalf("sealed origin key is %d bytes", len(sealed))
	}
	if got, err := OpenOriginKey(ck, tt.volume, tt.file, rev, origin, sealed); err != nil || got != ok {
		t.Fatalf("open origin key: %v", err)
	}
	tamperAll(t, sealed, func(b []byte) error {
		_, err := OpenOriginKey(ck, tt.volume, tt.file, rev, origin, b)
		return err
	})
	for name, w := range map[string]struct {
		ck                     ContentKey
		vol, node, rev, origin []byte
	}{
		"other revision":              {ck, tt.volume, tt.file, other, origin},
		"other origin":                {ck, tt.volume, tt.file, rev, other},
		"other file":                  {ck, tt.volume, tt.sibling, rev, origin},
		"other volume":                {ck, tt.archive, tt.file, rev, origin},
		"under the origin's key":      {ok, tt.volume, tt.file, rev, origin},
		"revision and origin swapped": {ck, tt.volume, tt.file, origin, rev},
		"origin is the revision":      {ck, tt.volume, tt.file, rev, rev},
		"short origin ID":             {ck, tt.volume, tt.file, rev, origin[:15]},
	} {
		if _, err := OpenOriginKey(w.ck, w.vol, w.node, w.rev, w.origin, sealed); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", name, err)
		}
	}
	for name, fn := range map[string]func() ([]byte, error){
		"origin is the revision": func() ([]byte, error) { return SealOriginKey(ck, tt.volume, tt.file, rev, rev, ok) },
		"origin key is the revision's own": func() ([]byte, error) {
			return SealOriginKey(ck, tt.volume, tt.file, rev, origin, ck)
		},
		"unset origin key": func() ([]byte, error) {
			return SealOriginKey(ck, tt.volume, tt.file, rev, origin, ContentKey{})
		},
		"short revision ID": func() ([]byte, error) { return SealOriginKey(ck, tt.volume, tt.file, rev[:15], origin, ok) },
	} {
		if _, err := fn(); err == nil {
			t.Errorf("SealOriginKey accepted: %s", name)
		}
	}
	// A sealed key whose plaintext is the revision's own key, or all
	// zeros, is no origin key (only a broken writer makes one).
	for name, pt := range map[string][]byte{"own key": ck[:], "zeros": make([]byte, 32), "31 bytes": ok[:31]} {
		key := [32]byte(ck)
		b, err := sealEnvelope(&key, labelOriginKey, idFields(tt.volume, tt.file, rev, origin), pt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenOriginKey(ck, tt.volume, tt.file, rev, origin, b); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v", name, err)
		}
	}
}

func TestSealOrigins(t *testing.T) {
	tt := newTestTree(t)
	newID := func() []byte {
		id, err := NewID()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	rev, r1, r2 := newID(), newID(), newID()
	ck, k1, k2 := ContentKey{1}, ContentKey{2}, ContentKey{3}
	origins, per, err := SealOrigins(ck, tt.volume, tt.file, rev, make([]ReusedBlock, 4))
	if err != nil || origins != nil || per != nil {
		t.Fatalf("no re-use: %v %v %v", origins, per, err)
	}
	// Origins are numbered in the order of first use.
	origins, per, err = SealOrigins(ck, tt.volume, tt.file, rev, []ReusedBlock{{}, {r2, k2}, {r1, k1}, {r2, k2}, {}})
	if err != nil {
		t.Fatal(err)
	}
	if len(origins) != 2 || !bytes.Equal(origins[0].Revision, r2) || !bytes.Equal(origins[1].Revision, r1) ||
		!equalU32(per, []uint32{0, 1, 2, 1, 0}) {
		t.Fatalf("origins %x, per %v", origins, per)
	}
	r := &RevisionRecord{Volume: tt.volume, Node: tt.file, Revision: rev, Seq: 2, SealedContentKey: make([]byte, SealedContentKeySize),
		Origins: origins, Blocks: make([][32]byte, 5), BlockOrigins: per, SealedAttrs: make([]byte, SealedAttrsSize), Author: "alice"}
	keys, err := r.OpenOriginKeys(ck)
	if err != nil || len(keys) != 2 || keys[0] != k2 || keys[1] != k1 {
		t.Fatalf("OpenOriginKeys: %v", err)
	}
	if _, err := r.OpenOriginKeys(k1); !errors.Is(err, ErrDecrypt) {
		t.Errorf("OpenOriginKeys under another key: %v", err)
	}
	if _, err := NewRevisionOpener(k1, r); !errors.Is(err, ErrDecrypt) {
		t.Errorf("NewRevisionOpener under another key: %v", err)
	}
	if _, _, err := SealOrigins(ck, tt.volume, tt.file, rev, []ReusedBlock{{r1, k1}, {r1, k2}}); err == nil {
		t.Error("one origin with two keys accepted")
	}
	if _, _, err := SealOrigins(ck, tt.volume, tt.file, rev, []ReusedBlock{{rev, k1}}); err == nil {
		t.Error("the revision as its own origin accepted")
	}
	if _, _, err := SealOrigins(ck, tt.volume, tt.file, rev, []ReusedBlock{{r1, ck}}); err == nil {
		t.Error("an origin with the revision's own key accepted")
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRevisionOpenerPositions: a re-used block opens only at the index and
// with the last flag it was sealed with, even where its length would fit
// elsewhere.
func TestRevisionOpenerPositions(t *testing.T) {
	x := reuseFixtureT(t)
	f := x.f
	const bs = vectorTinyBlockSize
	// X: two full blocks, the second the last. Y: three full blocks.
	X := &reuseRevision{id: vectorID("opener X"), ck: ContentKey(named("opener X")), plain: patternBytes(0, 2*bs)}
	Y := &reuseRevision{id: vectorID("opener Y"), ck: ContentKey(named("opener Y")), plain: patternBytes(0, 3*bs)}
	sx, err := newBlockSealer(X.ck, f.volume, f.file, X.id, bs)
	if err != nil {
		t.Fatal(err)
	}
	x0, err := sx.Seal(nil, X.plain[:bs], 0, false)
	if err != nil {
		t.Fatal(err)
	}
	x1, err := sx.Seal(nil, X.plain[bs:], 1, true)
	if err != nil {
		t.Fatal(err)
	}
	origins, per, err := SealOrigins(Y.ck, f.volume, f.file, Y.id, []ReusedBlock{{X.id, X.ck}, {X.id, X.ck}, {}})
	if err != nil {
		t.Fatal(err)
	}
	sck, err := SealContentKey(f.fileKeys, f.volume, f.file, Y.id, Y.ck)
	if err != nil {
		t.Fatal(err)
	}
	rec := &RevisionRecord{Volume: f.volume, Node: f.file, Revision: Y.id, Seq: 9, SealedContentKey: sck, Origins: origins,
		Blocks: [][32]byte{BlockID(x0), BlockID(x1), {}}, BlockOrigins: per, SealedAttrs: make([]byte, SealedAttrsSize), Author: "alice"}
	o, err := newRevisionOpener(Y.ck, rec, bs)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := o.Open(nil, x0, 0, false); err != nil || !bytes.Equal(pt, X.plain[:bs]) {
		t.Fatalf("X's block 0 at index 0: %v", err)
	}
	for name, c := range map[string]struct {
		blk   []byte
		index uint64
		last  bool
	}{
		"X's last block at its index, not last (same length)": {x1, 1, false},
		"X's block 0 at index 1":                              {x0, 1, false},
		"X's block 0 as the last":                             {x0, 0, true},
		"X's block 0 at index 2 (Y's own)":                    {x0, 2, true},
		"index beyond the blocks":                             {x0, 3, false},
		"index 2^64-1":                                        {x0, ^uint64(0), false},
	} {
		if _, err := o.Open(nil, c.blk, c.index, c.last); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v", name, err)
		}
	}
	// The opener keeps its own copy of the block origins.
	rec.BlockOrigins[2] = 7
	if _, err := o.Open(nil, x0, 2, true); !errors.Is(err, ErrDecrypt) {
		t.Errorf("after the record changed: %v", err)
	}
	var nilOpener *RevisionOpener
	if _, err := nilOpener.Open(nil, x0, 0, false); err == nil {
		t.Error("nil opener opened")
	}
}

// TestRevisionRecordV1Unchanged: a record without origins keeps the
// version 0x01 encoding byte for byte, whatever its BlockOrigins says
// when empty.
func TestRevisionRecordV1Unchanged(t *testing.T) {
	x := reuseFixtureT(t)
	A := x.revs[0].rec
	c := *A
	c.BlockOrigins = []uint32{}
	if !bytes.Equal(c.Marshal(), A.Marshal()) || A.Marshal()[0] != 0x01 {
		t.Error("an empty BlockOrigins changes the encoding")
	}
	if o, err := NewRevisionOpener(x.revs[0].ck, A); err != nil || o.origins != nil {
		t.Errorf("opener of a version 0x01 record: %v", err)
	}
	for i := range A.Blocks {
		if o, rev := A.BlockSource(i); o != 0 || !bytes.Equal(rev, A.Revision) {
			t.Errorf("block %d: origin %d", i, o)
		}
	}
}
