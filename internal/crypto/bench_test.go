package crypto

import "testing"

func BenchmarkDerivePasswordKeys(b *testing.B) {
	salt := seq(0, SaltSize)
	pw := []byte("correct horse battery staple")
	for b.Loop() {
		k, err := DerivePasswordKeys(pw, "alice", salt, DefaultKDF)
		if err != nil {
			b.Fatal(err)
		}
		k.Wipe()
	}
}

func BenchmarkOpenBundle(b *testing.B) {
	k, err := NewAccountKeysFromSeeds(seq(0, 32), seq(32, 32))
	if err != nil {
		b.Fatal(err)
	}
	s, err := k.SignBundle("alice", 1767225600)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := OpenBundle(s, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenAccountKeys(b *testing.B) {
	k, err := NewAccountKeysFromSeeds(seq(0, 32), seq(32, 32))
	if err != nil {
		b.Fatal(err)
	}
	kek := *testKey(1)
	sealed, err := SealAccountKeys(kek, "alice", 1, k)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := OpenAccountKeys(kek, "alice", 1, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFingerprint(b *testing.B) {
	k, err := NewAccountKeysFromSeeds(seq(0, 32), seq(32, 32))
	if err != nil {
		b.Fatal(err)
	}
	s, err := k.SignBundle("alice", 1767225600)
	if err != nil {
		b.Fatal(err)
	}
	bundle, err := OpenBundle(s, "alice")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = bundle.Fingerprint()
	}
}

func benchSealer(b *testing.B) (*BlockSealer, []byte) {
	tt := newTestTree(b)
	r := newTestRevision(b, tt, BlockSize)
	pt := make([]byte, BlockSize)
	for i := range pt {
		pt[i] = byte(i)
	}
	return r.sealer, pt
}

// BenchmarkSealBlock seals one full 4 MiB block; compare with
// BenchmarkRawGCM, plain AES-256-GCM on the same data.
func BenchmarkSealBlock(b *testing.B) {
	s, pt := benchSealer(b)
	dst := make([]byte, 0, SealedBlockSize(BlockSize))
	b.SetBytes(BlockSize)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = s.Seal(dst[:0], pt, 1, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenBlock(b *testing.B) {
	s, pt := benchSealer(b)
	block, err := s.Seal(nil, pt, 1, false)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, BlockSize)
	b.SetBytes(BlockSize)
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = s.Open(dst[:0], block, 1, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawGCM(b *testing.B) {
	aead, err := newGCM(testKey(1))
	if err != nil {
		b.Fatal(err)
	}
	pt := make([]byte, BlockSize)
	dst := make([]byte, 0, BlockSize+tagSize)
	nonce := make([]byte, nonceSize)
	b.SetBytes(BlockSize)
	for b.Loop() {
		dst = aead.Seal(dst[:0], nonce, pt, nil)
	}
}

func BenchmarkOpenName(b *testing.B) {
	tt := newTestTree(b)
	sealed, err := SealName(tt.folderKeys, tt.fileRef(), "IMG_20260101_120000.jpg")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OpenName(tt.folderKeys, tt.fileRef(), sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNameHash(b *testing.B) {
	tt := newTestTree(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = NameHash(tt.folderKeys, "IMG_20260101_120000.jpg")
	}
}

func BenchmarkVerifyNodeRecord(b *testing.B) {
	tt := newTestTree(b)
	r := tt.fileRecord(b)
	sig, err := r.Sign(tt.owner)
	if err != nil {
		b.Fatal(err)
	}
	pub := tt.owner.IdentityPublic()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Verify(pub, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListChild is the per-entry cost of listing a folder: verify the
// child's record, open its name and check its name hash.
func BenchmarkListChild(b *testing.B) {
	tt := newTestTree(b)
	r := tt.fileRecord(b)
	sig, err := r.Sign(tt.owner)
	if err != nil {
		b.Fatal(err)
	}
	pub := tt.owner.IdentityPublic()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Verify(pub, sig); err != nil {
			b.Fatal(err)
		}
		if _, err := OpenRecordName(tt.folderKeys, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListFile is the per-entry cost of listing a file with its
// served head revision: BenchmarkListChild plus the head check, which
// replaces a second signature verification.
func BenchmarkListFile(b *testing.B) {
	tt := newTestTree(b)
	rev, _ := tt.revisionRecord(b, 3)
	r := tt.fileRecordWithHead(b, rev)
	sig, err := r.Sign(tt.owner)
	if err != nil {
		b.Fatal(err)
	}
	pub := tt.owner.IdentityPublic()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Verify(pub, sig); err != nil {
			b.Fatal(err)
		}
		if _, err := OpenRecordName(tt.folderKeys, r); err != nil {
			b.Fatal(err)
		}
		if err := rev.MatchesHead(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevisionDigest is the head check's cost for a 1 GiB file (256
// blocks); a file of a few blocks costs a fraction of it.
func BenchmarkRevisionDigest(b *testing.B) {
	tt := newTestTree(b)
	rev, _ := tt.revisionRecord(b, 256)
	b.ReportAllocs()
	for b.Loop() {
		_ = rev.Digest()
	}
}

func BenchmarkDeriveNodeKeys(b *testing.B) {
	k := NodeKey(*testKey(3))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Derive(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrapNodeKey(b *testing.B) {
	tt := newTestTree(b)
	sealed, err := WrapNodeKey(tt.folderKeys, tt.fileRef(), tt.fileKey)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := UnwrapNodeKey(tt.folderKeys, tt.fileRef(), sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenRootKey(b *testing.B) {
	tt := newTestTree(b)
	sealed, err := SealRootKey(tt.owner.EncryptionPublic(), tt.volume, tt.root, tt.rootKey)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := OpenRootKey(tt.owner, tt.volume, tt.root, sealed); err != nil {
			b.Fatal(err)
		}
	}
}
