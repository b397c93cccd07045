package crypto

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fuzzTree is a fixed tree for the fuzz targets: they must be
// deterministic, so nothing is random.
func fuzzTree(f *testing.F) *treeFixture {
	tf, err := newTreeFixture()
	if err != nil {
		f.Fatal(err)
	}
	return tf
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"report.pdf", "cafe\u0301", "", ".", "..", "a/b", "\x00", "\xff", strings.Repeat("\u0958", 85)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeName(s)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("error %v does not wrap ErrBadName", err)
			}
			return
		}
		if !utf8.ValidString(n) || !norm.NFC.IsNormalString(n) || len(n) == 0 || len(n) > MaxNameLen ||
			n == "." || n == ".." || strings.ContainsAny(n, "/") {
			t.Fatalf("accepted a bad name %q", n)
		}
		for _, r := range n {
			if r < 0x20 {
				t.Fatalf("accepted a control character in %q", n)
			}
		}
		if again, err := NormalizeName(n); err != nil || again != n {
			t.Fatalf("not idempotent on %q", n)
		}
	})
}

func FuzzOpenName(f *testing.F) {
	tf := fuzzTree(f)
	ref := NodeRef{tf.volume, tf.docs, tf.file}
	seed, err := sealName(tf.docsKeys, ref, "report.pdf", nonce12(0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, "report.pdf")
	f.Add([]byte{}, "")
	f.Add([]byte{1}, "cafe\u0301")
	f.Add(seed[:40], "a/b")
	f.Fuzz(func(t *testing.T, sealed []byte, name string) {
		got, err := OpenName(tf.docsKeys, ref, sealed)
		if err == nil {
			if !bytes.Equal(sealed, seed) || got != "report.pdf" {
				t.Fatalf("forged sealed name opened: %x", sealed)
			}
		} else if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrBadName) {
			t.Fatalf("error %v wraps neither ErrDecrypt nor ErrBadName", err)
		}
		// Any name SealName accepts round-trips to its NFC form, and
		// hashes like it.
		s, err := SealName(tf.docsKeys, ref, name)
		if err != nil {
			if _, nerr := NormalizeName(name); nerr == nil {
				t.Fatalf("SealName refused a valid name: %v", err)
			}
			return
		}
		back, err := OpenName(tf.docsKeys, ref, s)
		want, _ := NormalizeName(name)
		if err != nil || back != want {
			t.Fatalf("round trip of %q: %q, %v", name, back, err)
		}
		if NameHash(tf.docsKeys, name) != NameHash(tf.docsKeys, back) {
			t.Fatal("name and its NFC form hash differently")
		}
	})
}

func FuzzOpenBlock(f *testing.F) {
	tf := fuzzTree(f)
	ck := ContentKey(named("fuzz content key"))
	s, err := newBlockSealer(ck, tf.volume, tf.file, tf.rev1, vectorTinyBlockSize)
	if err != nil {
		f.Fatal(err)
	}
	mid, err := s.seal(nil, patternBytes(0, 64), 0, false, nonce12(1))
	if err != nil {
		f.Fatal(err)
	}
	last, err := s.seal(nil, patternBytes(0, 37), 1, true, nonce12(2))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mid, uint64(0), false, []byte("plaintext"))
	f.Add(last, uint64(1), true, []byte{})
	f.Add(last, uint64(1), false, patternBytes(0, 64))
	f.Add([]byte{1}, uint64(0), true, []byte{0})
	f.Fuzz(func(t *testing.T, block []byte, index uint64, isLast bool, pt []byte) {
		got, err := s.Open(nil, block, index, isLast)
		if err == nil {
			switch {
			case bytes.Equal(block, mid) && index == 0 && !isLast:
				if !bytes.Equal(got, patternBytes(0, 64)) {
					t.Fatal("seed opened to the wrong plaintext")
				}
			case bytes.Equal(block, last) && index == 1 && isLast:
				if !bytes.Equal(got[:37], patternBytes(0, 37)) || !bytes.Equal(got[37:], make([]byte, 3)) {
					t.Fatal("seed opened to the wrong plaintext")
				}
			default:
				t.Fatalf("forged block opened at index %d last=%v: %x", index, isLast, block)
			}
		} else if !errors.Is(err, ErrDecrypt) {
			t.Fatalf("error %v does not wrap ErrDecrypt", err)
		}
		// Sealing any plaintext of an allowed length round-trips, and
		// fails at any other position.
		if len(pt) == 0 || len(pt) > vectorTinyBlockSize || (!isLast && len(pt) != vectorTinyBlockSize) {
			if _, err := s.Seal(nil, pt, index, isLast); err == nil {
				t.Fatalf("sealed %d bytes with last=%v", len(pt), isLast)
			}
			return
		}
		b, err := s.Seal(nil, pt, index, isLast)
		if err != nil {
			t.Fatal(err)
		}
		back, err := s.Open(nil, b, index, isLast)
		if err != nil || !bytes.Equal(back[:len(pt)], pt) || len(back) != padmeCapped(len(pt), vectorTinyBlockSize) {
			t.Fatalf("round trip failed: %v", err)
		}
		if _, err := s.Open(nil, b, index+1, isLast); !errors.Is(err, ErrDecrypt) {
			t.Fatal("opened at the next index")
		}
	})
}

func FuzzOpenAttrs(f *testing.F) {
	tf := fuzzTree(f)
	ck := ContentKey(named("fuzz content key"))
	seed, err := sealAttrs(ck, tf.volume, tf.file, tf.rev1, Attrs{Size: 5, ModTime: -3}, nonce12(0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, uint64(1), int64(2))
	f.Add([]byte{}, uint64(0), int64(0))
	f.Add(seed[:50], uint64(1<<63), int64(-1))
	f.Fuzz(func(t *testing.T, sealed []byte, size uint64, mtime int64) {
		got, err := OpenAttrs(ck, tf.volume, tf.file, tf.rev1, sealed)
		if err == nil {
			if !bytes.Equal(sealed, seed) || got != (Attrs{Size: 5, ModTime: -3}) {
				t.Fatalf("forged attributes opened: %x", sealed)
			}
		} else if !errors.Is(err, ErrDecrypt) {
			t.Fatalf("error %v does not wrap ErrDecrypt", err)
		}
		a := Attrs{Size: size, ModTime: mtime, SHA256: [32]byte(named("x"))}
		s, err := SealAttrs(ck, tf.volume, tf.file, tf.rev1, a)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := OpenAttrs(ck, tf.volume, tf.file, tf.rev1, s); err != nil || back != a {
			t.Fatalf("round trip: %+v, %v", back, err)
		}
	})
}

// FuzzNodeRecordVerify builds records from arbitrary fields: Verify must
// never panic, must accept only the genuine record, and Marshal must
// return bytes exactly for records that Validate accepts.
func FuzzNodeRecordVerify(f *testing.F) {
	tf := fuzzTree(f)
	recs, err := tf.records()
	if err != nil {
		f.Fatal(err)
	}
	genuine := recs[2]
	sig, err := genuine.Sign(tf.alice.keys)
	if err != nil {
		f.Fatal(err)
	}
	pub := tf.alice.keys.IdentityPublic()
	for _, r := range recs {
		f.Add(r.Volume, r.Node, r.Parent, uint8(r.Kind), r.SealedName, r.SealedKey, r.Author, r.Version, r.Revision, r.RevisionSeq,
			r.RevisionDigest[:], []byte{}, []byte(pub))
	}
	f.Add([]byte{}, []byte{}, []byte{}, uint8(0), []byte{}, []byte{}, "", uint64(0), []byte{}, uint64(0), []byte{}, []byte{}, []byte{})
	// The inbox drop form: no sealed name, a sealed drop's size of key.
	f.Add(tf.volume, tf.file, tf.docs, uint8(KindFile), []byte{}, make([]byte, SealedInboxDropMinSize), "dave", uint64(1),
		[]byte{}, uint64(0), make([]byte, 32), []byte{}, []byte(pub))
	// A rotated file: a key history of one key (encoded with 0x02).
	g := recs[2]
	f.Add(g.Volume, g.Node, g.Parent, uint8(g.Kind), g.SealedName, g.SealedKey, g.Author, g.Version, g.Revision, g.RevisionSeq,
		g.RevisionDigest[:], make([]byte, SealedKeyHistoryMinSize), []byte(pub))
	f.Fuzz(func(t *testing.T, vol, node, parent []byte, kind uint8, sealedName, sealedKey []byte, author string,
		version uint64, rev []byte, seq uint64, digest, history, key []byte) {
		r := &NodeRecord{Volume: vol, Node: node, Parent: parent, Kind: NodeKind(kind), NameHash: genuine.NameHash,
			SealedName: sealedName, SealedKey: sealedKey, Author: author, Version: version, Revision: rev, RevisionSeq: seq,
			KeyHistory: history}
		copy(r.RevisionDigest[:], digest)
		if (r.Validate() == nil) != (r.Marshal() != nil) {
			t.Fatal("Marshal and Validate disagree")
		}
		if r.Validate() == nil && r.IsDrop() && (r.Kind != KindFile || !IsSealedInboxDropSize(len(r.SealedKey))) {
			t.Fatal("Validate accepted a drop that is not a file with a sealed drop's size of key")
		}
		if m := r.Marshal(); m != nil && (m[0] == nodeRecordVersionHistory) != (len(history) != 0) {
			t.Fatal("version byte 0x02 without a key history, or a key history without it")
		}
		if r.Validate() == nil && len(history) != 0 && (r.Kind != KindFile || r.IsDrop() || !IsSealedKeyHistorySize(len(history))) {
			t.Fatal("Validate accepted a key history on a folder or drop, or of a wrong size")
		}
		err := r.Verify(key, sig)
		if err == nil {
			if !bytes.Equal(r.Marshal(), genuine.Marshal()) || !bytes.Equal(key, pub) {
				t.Fatal("a record other than the signed one verified")
			}
		} else if !errors.Is(err, ErrBadSignature) {
			t.Fatalf("error %v does not wrap ErrBadSignature", err)
		}
	})
}

func FuzzRevisionRecordVerify(f *testing.F) {
	tf := fuzzTree(f)
	genuine := &RevisionRecord{Volume: tf.volume, Node: tf.file, Revision: tf.rev1, Seq: 1,
		SealedContentKey: make([]byte, SealedContentKeySize), Blocks: [][32]byte{{1}, {2}},
		SealedAttrs: make([]byte, SealedAttrsSize), Author: "alice"}
	sig, err := genuine.Sign(tf.alice.keys)
	if err != nil {
		f.Fatal(err)
	}
	// A record that re-uses a block (version 0x02), signed too.
	reusing := *genuine
	reusing.Origins = []Origin{{Revision: tf.rev2, SealedKey: make([]byte, SealedOriginKeySize)}}
	reusing.BlockOrigins = []uint32{1, 0}
	rsig, err := reusing.Sign(tf.alice.keys)
	if err != nil {
		f.Fatal(err)
	}
	pub := tf.alice.keys.IdentityPublic()
	f.Add(genuine.Volume, genuine.Node, genuine.Revision, uint64(1), genuine.SealedContentKey, []byte{1, 2}, genuine.SealedAttrs, "alice", []byte{}, []byte{})
	f.Add([]byte{}, []byte{}, []byte{}, uint64(0), []byte{}, []byte{}, []byte{}, "", []byte{}, []byte{})
	f.Add(genuine.Volume, genuine.Node, genuine.Revision, uint64(1), genuine.SealedContentKey, []byte{1, 2}, genuine.SealedAttrs, "alice", []byte{2}, []byte{1, 0})
	f.Add(genuine.Volume, genuine.Node, genuine.Revision, uint64(1), genuine.SealedContentKey, []byte{1, 2}, genuine.SealedAttrs, "alice", []byte{2, 3}, []byte{1, 2})
	// origins: one origin per byte b, with ID tf.rev2 if b = 2, the
	// revision's own ID if b = 1, else 16 bytes b; its sealed key is
	// zeros, SealedOriginKeySize long unless b = 0. blockOrigins: one
	// origin index per byte.
	f.Fuzz(func(t *testing.T, vol, node, rev []byte, seq uint64, sck, blockBytes, sa []byte, author string, origins, blockOrigins []byte) {
		var blocks [][32]byte
		for _, b := range blockBytes {
			blocks = append(blocks, [32]byte{b})
		}
		r := &RevisionRecord{Volume: vol, Node: node, Revision: rev, Seq: seq, SealedContentKey: sck,
			Blocks: blocks, SealedAttrs: sa, Author: author}
		for _, b := range origins {
			o := Origin{Revision: bytes.Repeat([]byte{b}, IDSize), SealedKey: make([]byte, SealedOriginKeySize)}
			switch b {
			case 0:
				o.SealedKey = o.SealedKey[:1]
			case 1:
				o.Revision = rev
			case 2:
				o.Revision = tf.rev2
			}
			r.Origins = append(r.Origins, o)
		}
		for _, b := range blockOrigins {
			r.BlockOrigins = append(r.BlockOrigins, uint32(b))
		}
		if (r.Validate() == nil) != (r.Marshal() != nil) {
			t.Fatal("Marshal and Validate disagree")
		}
		if (r.Validate() == nil) != (r.Digest() != [32]byte{}) {
			t.Fatal("Digest and Validate disagree")
		}
		if m := r.Marshal(); m != nil {
			if (m[0] == revisionRecordVersionReuse) != (len(r.Origins) != 0) {
				t.Fatal("version byte 0x02 without origins, or origins without it")
			}
			// The decoder gives back exactly this record.
			p, err := UnmarshalRevisionRecord(m)
			if err != nil || !bytes.Equal(p.Marshal(), m) || p.Digest() != r.Digest() {
				t.Fatalf("a valid record does not decode to itself: %v", err)
			}
		}
		for _, g := range []struct {
			r   *RevisionRecord
			sig []byte
		}{{genuine, sig}, {&reusing, rsig}} {
			if r.Digest() == g.r.Digest() && !bytes.Equal(r.Marshal(), g.r.Marshal()) {
				t.Fatal("two records share a digest")
			}
			head := &NodeRecord{Volume: tf.volume, Node: tf.file, Revision: tf.rev1, RevisionSeq: 1, RevisionDigest: g.r.Digest()}
			if r.MatchesHead(head) == nil && !bytes.Equal(r.Marshal(), g.r.Marshal()) {
				t.Fatal("a revision other than the head matched it")
			}
			err := r.Verify(pub, g.sig)
			if err == nil {
				if !bytes.Equal(r.Marshal(), g.r.Marshal()) {
					t.Fatal("a revision other than the signed one verified")
				}
			} else if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("error %v does not wrap ErrBadSignature", err)
			}
		}
	})
}

// FuzzUnmarshalRevisionRecord feeds arbitrary bytes to the decoder of both
// record versions: it must never panic, must return ErrBadRecord for
// everything but a valid record's canonical encoding, and a record it
// returns must re-encode to the same bytes; opening its blocks with some
// key must fail closed, never panic.
func FuzzUnmarshalRevisionRecord(f *testing.F) {
	x, err := newReuseFixture(fuzzTree(f))
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range x.revs {
		f.Add(r.rec.Marshal())
	}
	tampers, err := x.tampers()
	if err != nil {
		f.Fatal(err)
	}
	for _, tc := range tampers {
		enc, _ := tc.encoding(x.f.alice.keys)
		f.Add(enc)
	}
	f.Add([]byte{})
	f.Add([]byte{revisionRecordVersionReuse})
	ck := x.revs[2].ck
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := UnmarshalRevisionRecord(b)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v does not wrap ErrBadRecord", err)
			}
			return
		}
		if r.Validate() != nil || !bytes.Equal(r.Marshal(), b) {
			t.Fatal("decoded record is not valid or does not re-encode to its input")
		}
		if len(r.Origins) == 0 && r.BlockOrigins != nil {
			t.Fatal("block origins without origins")
		}
		o, err := newRevisionOpener(ck, r, vectorTinyBlockSize)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("opener: error %v does not wrap ErrDecrypt", err)
			}
			return
		}
		for i := range r.Blocks {
			if _, err := o.Open(nil, b, uint64(i), i == len(r.Blocks)-1); err == nil {
				t.Fatal("opened a block that is a record")
			}
		}
	})
}
