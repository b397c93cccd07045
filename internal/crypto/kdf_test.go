package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestKDFParamsCheck(t *testing.T) {
	tests := []struct {
		name string
		p    KDFParams
		want error
	}{
		{"default", DefaultKDF, nil},
		{"floor exactly", KDFParams{MinKDFMemoryKiB, MinKDFIterations, MinKDFParallelism}, nil},
		{"ceiling exactly", KDFParams{MaxKDFMemoryKiB, MaxKDFIterations, MaxKDFParallelism}, nil},
		{"downgrade memory 32 MiB", KDFParams{32 * 1024, 3, 1}, ErrWeakKDF},
		{"downgrade memory one below", KDFParams{MinKDFMemoryKiB - 1, 3, 1}, ErrWeakKDF},
		{"downgrade iterations 2", KDFParams{64 * 1024, 2, 1}, ErrWeakKDF},
		{"downgrade both", KDFParams{32 * 1024, 2, 1}, ErrWeakKDF},
		{"zero parallelism", KDFParams{64 * 1024, 3, 0}, ErrWeakKDF},
		{"zero value", KDFParams{}, ErrWeakKDF},
		// The ceiling as documented in docs/crypto.md section 3, written
		// as literals so that raising the constants fails this test.
		{"ceiling literally 1 GiB, t=16, p=8", KDFParams{1048576, 16, 8}, nil},
		{"memory one above 1 GiB", KDFParams{1048577, 3, 1}, ErrKDFTooCostly},
		{"memory 2 GiB", KDFParams{2 * 1024 * 1024, 3, 1}, ErrKDFTooCostly},
		{"memory 4 GiB (the old ceiling)", KDFParams{4 * 1024 * 1024, 3, 1}, ErrKDFTooCostly},
		{"memory above the ceiling", KDFParams{MaxKDFMemoryKiB + 1, 3, 1}, ErrKDFTooCostly},
		{"memory max uint32", KDFParams{^uint32(0), 3, 1}, ErrKDFTooCostly},
		{"iterations 17", KDFParams{64 * 1024, 17, 1}, ErrKDFTooCostly},
		{"iterations 64 (the old ceiling)", KDFParams{64 * 1024, 64, 1}, ErrKDFTooCostly},
		{"parallelism 9", KDFParams{64 * 1024, 3, 9}, ErrKDFTooCostly},
		{"parallelism 16 (the old ceiling)", KDFParams{64 * 1024, 3, 16}, ErrKDFTooCostly},
		{"parallelism 256 (would wrap uint8)", KDFParams{64 * 1024, 3, 256}, ErrKDFTooCostly},
		{"all three at the old ceiling", KDFParams{4 * 1024 * 1024, 64, 16}, ErrKDFTooCostly},
		{"floor literally 64 MiB, t=3, p=1", KDFParams{65536, 3, 1}, nil},
		{"memory one below 64 MiB", KDFParams{65535, 16, 8}, ErrWeakKDF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDerivePasswordKeysRefusesBadInput(t *testing.T) {
	salt := make([]byte, SaltSize)
	pw := []byte("password")
	// None of these may reach Argon2: the weak ones would be a downgrade,
	// the costly ones would allocate gigabytes.
	for _, p := range []KDFParams{
		{32 * 1024, 3, 1}, {64 * 1024, 2, 1}, {32 * 1024, 2, 1},
		{MaxKDFMemoryKiB + 1, 3, 1}, {64 * 1024, 1000, 1}, {64 * 1024, 3, 255},
		{64 * 1024, 17, 1}, {64 * 1024, 3, 9}, {4 * 1024 * 1024, 64, 16},
	} {
		_, err := DerivePasswordKeys(pw, "alice", salt, p)
		if !errors.Is(err, ErrWeakKDF) && !errors.Is(err, ErrKDFTooCostly) {
			t.Errorf("DerivePasswordKeys(%+v) error = %v, want ErrWeakKDF or ErrKDFTooCostly", p, err)
		}
	}
	for _, n := range []int{0, 8, 15, 17, 32} {
		if _, err := DerivePasswordKeys(pw, "alice", make([]byte, n), DefaultKDF); err == nil {
			t.Errorf("DerivePasswordKeys with %d-byte salt succeeded", n)
		}
	}
}

func TestDerivePasswordKeysBinding(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, SaltSize)
	base, err := DerivePasswordKeys([]byte("hunter2"), "alice", salt, DefaultKDF)
	if err != nil {
		t.Fatal(err)
	}
	if len(base.SRPX) != 32 {
		t.Fatalf("len(SRPX) = %d, want 32", len(base.SRPX))
	}
	if bytes.Equal(base.SRPX, base.KEK[:]) {
		t.Fatal("SRPX and KEK are equal; they must be independent")
	}
	again, err := DerivePasswordKeys([]byte("hunter2"), "alice", salt, DefaultKDF)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.SRPX, base.SRPX) || again.KEK != base.KEK {
		t.Fatal("derivation is not deterministic")
	}
	otherSalt := bytes.Clone(salt)
	otherSalt[0] ^= 1
	for name, in := range map[string]struct {
		pw   string
		user string
		salt []byte
	}{
		"password": {"hunter3", "alice", salt},
		"user":     {"hunter2", "alicf", salt},
		"salt":     {"hunter2", "alice", otherSalt},
	} {
		k, err := DerivePasswordKeys([]byte(in.pw), in.user, in.salt, DefaultKDF)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(k.SRPX, base.SRPX) || k.KEK == base.KEK {
			t.Errorf("changing the %s did not change both keys", name)
		}
	}

	base.Wipe()
	if !bytes.Equal(base.SRPX, make([]byte, 32)) || base.KEK != [32]byte{} {
		t.Error("Wipe left key material")
	}
	var nilKeys *PasswordKeys
	nilKeys.Wipe() // must not panic
}

func TestNewSalt(t *testing.T) {
	a, err := NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != SaltSize || len(b) != SaltSize {
		t.Fatalf("salt lengths %d, %d, want %d", len(a), len(b), SaltSize)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two salts are equal")
	}
}

func TestPasswordIsNFCNormalised(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, SaltSize)
	composed := []byte("caf\u00e9")
	decomposed := []byte("cafe\u0301")
	a, err := DerivePasswordKeys(composed, "alice", salt, DefaultKDF)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DerivePasswordKeys(decomposed, "alice", salt, DefaultKDF)
	if err != nil {
		t.Fatal(err)
	}
	if a.KEK != b.KEK || !bytes.Equal(a.SRPX, b.SRPX) {
		t.Fatal("composed and decomposed forms of one password must derive the same keys")
	}
	if string(decomposed) != "cafe\u0301" {
		t.Fatal("the caller's password slice must not be changed")
	}
}
