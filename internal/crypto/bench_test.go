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
