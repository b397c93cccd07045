package crypto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func TestRecoveryKeyString(t *testing.T) {
	rk := RecoveryKey(seq(0, 32))
	s := rk.String()
	groups := strings.Split(s, "-")
	if len(groups) != 14 {
		t.Fatalf("%d groups, want 14", len(groups))
	}
	for _, g := range groups {
		if len(g) != 4 || strings.Trim(g, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("bad group %q", g)
		}
	}
	for _, in := range []string{s, strings.ToLower(s), strings.ReplaceAll(s, "-", ""),
		strings.ReplaceAll(s, "-", " "), " " + s + "\n", strings.ReplaceAll(s, "-", " - ")} {
		got, err := ParseRecoveryKey(in)
		if err != nil {
			t.Fatalf("ParseRecoveryKey(%q): %v", in, err)
		}
		if got != rk {
			t.Fatalf("ParseRecoveryKey(%q) = %x, want %x", in, got, rk)
		}
	}

	fresh, err := NewRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseRecoveryKey(fresh.String()); err != nil || got != fresh {
		t.Fatalf("round trip of a fresh key: %v", err)
	}
}

func TestParseRecoveryKeyTypos(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	for _, rk := range []RecoveryKey{{}, RecoveryKey(seq(0, 32)), RecoveryKey(named("recovery key 3"))} {
		bare := strings.ReplaceAll(rk.String(), "-", "")
		// Every single-character substitution by another base32
		// character decodes fine, so only the checksum can catch it.
		for i := range len(bare) {
			for _, c := range []byte(alphabet) {
				if c == bare[i] {
					continue
				}
				typo := bare[:i] + string(c) + bare[i+1:]
				if _, err := ParseRecoveryKey(typo); !errors.Is(err, ErrBadRecoveryKey) {
					t.Fatalf("typo at %d accepted: %v", i, err)
				}
			}
		}
		// Adjacent transpositions.
		for i := 0; i+1 < len(bare); i++ {
			if bare[i] == bare[i+1] {
				continue
			}
			swapped := bare[:i] + string(bare[i+1]) + string(bare[i]) + bare[i+2:]
			if _, err := ParseRecoveryKey(swapped); !errors.Is(err, ErrBadRecoveryKey) {
				t.Fatalf("transposition at %d accepted: %v", i, err)
			}
		}
	}
}

func TestParseRecoveryKeyRejects(t *testing.T) {
	bare := strings.ReplaceAll(RecoveryKey(seq(0, 32)).String(), "-", "")
	cases := map[string]string{
		"empty":         "",
		"55 chars":      bare[:55],
		"57 chars":      bare + "A",
		"twice":         bare + bare,
		"digit 0":       "0" + bare[1:],
		"digit 1":       "1" + bare[1:],
		"digit 8":       bare[:10] + "8" + bare[11:],
		"padding":       bare[:55] + "=",
		"underscore":    bare[:20] + "_" + bare[21:],
		"non-ASCII":     bare[:55] + "É",
		"NUL":           bare[:55] + "\x00",
		"base64 letter": bare[:55] + "+",
	}
	for name, in := range cases {
		_, err := ParseRecoveryKey(in)
		if !errors.Is(err, ErrBadRecoveryKey) {
			t.Errorf("%s: error = %v, want ErrBadRecoveryKey", name, err)
			continue
		}
		// The error must not echo any part of the key.
		msg := err.Error()
		for i := 0; i+4 <= len(bare); i++ {
			if strings.Contains(msg, bare[i:i+4]) {
				t.Errorf("%s: error %q echoes the input", name, msg)
				break
			}
		}
	}
}

func TestRecoveryKeysSeal(t *testing.T) {
	rk, other := RecoveryKey(seq(0, 32)), RecoveryKey(seq(1, 32))
	keys := mustKeys(t)
	sealed, err := SealRecoveryKeys(rk, "alice", keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != SealedAccountKeysSize {
		t.Fatalf("sealed recovery keys are %d bytes, want %d", len(sealed), SealedAccountKeysSize)
	}
	got, err := OpenRecoveryKeys(rk, "alice", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Marshal(), keys.Marshal()) {
		t.Fatal("round trip changed the keys")
	}
	tamperAll(t, sealed, func(s []byte) error {
		_, err := OpenRecoveryKeys(rk, "alice", s)
		return err
	})

	bobSealed, err := SealRecoveryKeys(rk, "bob", mustKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	// The password KEK seals with another label; a blob sealed there must
	// not open here even under the same key bytes.
	recKEK, err := rk.kek("alice")
	if err != nil {
		t.Fatal(err)
	}
	crossLabel, err := SealAccountKeys(recKEK, "alice", 0, keys)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		rk   RecoveryKey
		user string
		blob []byte
	}{
		{"other user", rk, "bob", sealed},
		{"bob's blob", rk, "alice", bobSealed},
		{"other recovery key", other, "alice", sealed},
		{"account-keys label", rk, "alice", crossLabel},
	}
	for _, c := range cases {
		if _, err := OpenRecoveryKeys(c.rk, c.user, c.blob); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", c.name, err)
		}
	}
}

func TestRecoveryAuth(t *testing.T) {
	rk := RecoveryKey(seq(0, 32))
	a1, a2 := rk.AuthKey("alice"), rk.AuthKey("alice")
	if !bytes.Equal(a1, a2) {
		t.Fatal("AuthKey is not deterministic")
	}
	if bytes.Equal(a1, rk.AuthKey("bob")) || bytes.Equal(a1, RecoveryKey(seq(1, 32)).AuthKey("alice")) {
		t.Fatal("AuthKey does not depend on both key and user")
	}
	kek, err := rk.kek("alice")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a1.Seed(), kek[:]) {
		t.Fatal("auth seed equals recovery KEK")
	}
	pub := rk.AuthPublicKey("alice")
	if !bytes.Equal(pub, a1.Public().(ed25519.PublicKey)) {
		t.Fatal("AuthPublicKey does not match AuthKey")
	}

	digest := [32]byte(seq(5, 32))
	challenge := seq(9, 32)
	sig := ed25519.Sign(a1, RecoveryMessage("alice", challenge, digest))
	if !VerifyRecoveryMessage(pub, "alice", challenge, digest, sig) {
		t.Fatal("valid recovery signature rejected")
	}
	otherDigest := digest
	otherDigest[0] ^= 1
	rejects := []struct {
		name      string
		pub       ed25519.PublicKey
		user      string
		challenge []byte
		digest    [32]byte
		sig       []byte
	}{
		{"other user", pub, "bob", challenge, digest, sig},
		{"other challenge (replay)", pub, "alice", seq(10, 32), digest, sig},
		{"other credentials", pub, "alice", challenge, otherDigest, sig},
		{"other auth key", RecoveryKey(seq(1, 32)).AuthPublicKey("alice"), "alice", challenge, digest, sig},
		{"short public key", pub[:31], "alice", challenge, digest, sig},
		{"nil public key", nil, "alice", challenge, digest, sig},
		{"truncated signature", pub, "alice", challenge, digest, sig[:63]},
	}
	for _, r := range rejects {
		if VerifyRecoveryMessage(r.pub, r.user, r.challenge, r.digest, r.sig) {
			t.Errorf("%s: accepted", r.name)
		}
	}
}

func TestRecoveryMessageUnambiguous(t *testing.T) {
	d := [32]byte{}
	if bytes.Equal(RecoveryMessage("ab", []byte("c"), d), RecoveryMessage("a", []byte("bc"), d)) {
		t.Fatal("user/challenge boundary is ambiguous")
	}
}

func TestCredentialsDigest(t *testing.T) {
	salt, ver, sk := seq(0, 16), seq(1, 384), seq(2, 94)
	base := CredentialsDigest("alice", salt, DefaultKDF, ver, sk, 2)
	if base == ([32]byte{}) {
		t.Fatal("zero digest")
	}
	p := DefaultKDF
	variants := map[string][32]byte{
		"user":        CredentialsDigest("alicf", salt, p, ver, sk, 2),
		"salt":        CredentialsDigest("alice", flip(salt, 0, 1), p, ver, sk, 2),
		"memory":      CredentialsDigest("alice", salt, KDFParams{p.MemoryKiB + 1, p.Iterations, p.Parallelism}, ver, sk, 2),
		"iterations":  CredentialsDigest("alice", salt, KDFParams{p.MemoryKiB, p.Iterations + 1, p.Parallelism}, ver, sk, 2),
		"parallelism": CredentialsDigest("alice", salt, KDFParams{p.MemoryKiB, p.Iterations, p.Parallelism + 1}, ver, sk, 2),
		"verifier":    CredentialsDigest("alice", salt, p, flip(ver, 383, 1), sk, 2),
		"sealed keys": CredentialsDigest("alice", salt, p, ver, flip(sk, 50, 1), 2),
		"epoch":       CredentialsDigest("alice", salt, p, ver, sk, 3),
		// Moving a byte across a field boundary must change the digest.
		"boundary": CredentialsDigest("alice", salt[:15], p, append([]byte{salt[15]}, ver...), sk, 2),
	}
	for name, d := range variants {
		if d == base {
			t.Errorf("changing %s did not change the digest", name)
		}
	}
}

func TestPasswdBinding(t *testing.T) {
	key := seq(0, 32)
	d := [32]byte(seq(1, 32))
	mac := PasswdBinding(key, d)
	if len(mac) != 32 {
		t.Fatalf("MAC is %d bytes", len(mac))
	}
	if !VerifyPasswdBinding(key, d, mac) {
		t.Fatal("valid binding rejected")
	}
	other := d
	other[31] ^= 1
	for name, ok := range map[string]bool{
		"other key":       VerifyPasswdBinding(seq(1, 32), d, mac),
		"other digest":    VerifyPasswdBinding(key, other, mac),
		"flipped mac":     VerifyPasswdBinding(key, d, flip(mac, 0, 1)),
		"truncated mac":   VerifyPasswdBinding(key, d, mac[:31]),
		"empty mac":       VerifyPasswdBinding(key, d, nil),
		"appended to mac": VerifyPasswdBinding(key, d, append(bytes.Clone(mac), 0)),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
}
