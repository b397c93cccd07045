package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func mustKeys(t testing.TB) *AccountKeys {
	t.Helper()
	k, err := GenerateAccountKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAccountKeysFromSeeds(t *testing.T) {
	id, xw := seq(0x00, 32), seq(0x20, 32)
	k, err := NewAccountKeysFromSeeds(id, xw)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.IdentityPublic(); !bytes.Equal(got, ed25519.NewKeyFromSeed(id).Public().(ed25519.PublicKey)) {
		t.Fatalf("identity public key %x does not come from the seed", got)
	}
	if n := len(k.EncryptionPublic()); n != EncryptionPublicKeySize {
		t.Fatalf("X-Wing public key is %d bytes, want %d", n, EncryptionPublicKeySize)
	}
	// The design relies on the X-Wing private key serialising as its seed.
	b, err := k.EncryptionKey().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, xw) {
		t.Fatalf("X-Wing Bytes() = %x, want the seed %x", b, xw)
	}
	if id := k.EncryptionKey().KEM().ID(); id != 0x647a {
		t.Fatalf("KEM ID %#x, want 0x647a", id)
	}

	for _, bad := range [][2][]byte{{nil, xw}, {id, nil}, {id[:31], xw}, {id, append(bytes.Clone(xw), 0)}} {
		if _, err := NewAccountKeysFromSeeds(bad[0], bad[1]); !errors.Is(err, ErrBadAccountKeys) {
			t.Errorf("seeds of %d and %d bytes: error = %v, want ErrBadAccountKeys", len(bad[0]), len(bad[1]), err)
		}
	}
}

func TestAccountKeysWork(t *testing.T) {
	k := mustKeys(t)
	msg := []byte("hello")
	if !ed25519.Verify(k.IdentityPublic(), msg, ed25519.Sign(k.IdentityKey(), msg)) {
		t.Fatal("identity key does not sign for its public key")
	}
	pub, err := hpke.MLKEM768X25519().NewPublicKey(k.EncryptionPublic())
	if err != nil {
		t.Fatal(err)
	}
	ct, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("info"), msg)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := hpke.Open(k.EncryptionKey(), hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("info"), ct)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pt, msg) {
		t.Fatal("HPKE round trip failed")
	}
}

func TestAccountKeysMarshal(t *testing.T) {
	k := mustKeys(t)
	m := k.Marshal()
	if len(m) != AccountKeysSize || m[0] != accountKeysVersion {
		t.Fatalf("Marshal = %d bytes version %#x", len(m), m[0])
	}
	k2, err := UnmarshalAccountKeys(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.Marshal(), m) || !bytes.Equal(k2.IdentityPublic(), k.IdentityPublic()) ||
		!bytes.Equal(k2.EncryptionPublic(), k.EncryptionPublic()) {
		t.Fatal("Unmarshal(Marshal(k)) differs from k")
	}

	for _, bad := range [][]byte{nil, {}, {accountKeysVersion}, m[:len(m)-1], append(bytes.Clone(m), 0)} {
		if _, err := UnmarshalAccountKeys(bad); !errors.Is(err, ErrBadAccountKeys) {
			t.Errorf("%d bytes: error = %v, want ErrBadAccountKeys", len(bad), err)
		}
	}
	v2 := flip(m, 0, 0x03)
	if _, err := UnmarshalAccountKeys(v2); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("version 2: error = %v, want ErrUnsupportedVersion", err)
	}
}

func TestAccountKeysWipe(t *testing.T) {
	k := mustKeys(t)
	k.Wipe()
	if !bytes.Equal(k.Marshal()[1:], make([]byte, 2*SeedSize)) {
		t.Fatal("Wipe left seed material")
	}
	if !bytes.Equal(k.identity, make([]byte, ed25519.PrivateKeySize)) {
		t.Fatal("Wipe left the identity key")
	}
	var nilKeys *AccountKeys
	nilKeys.Wipe() // must not panic

	// Wiped, zero and nil keys give errors, not panics.
	b, err := OpenBundle(signed(t, mustKeys(t), "alice", 1), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]*AccountKeys{"wiped": k, "zero": {}, "nil": nil} {
		if _, err := k.SignBundle("alice", 1); err == nil {
			t.Errorf("%s: SignBundle succeeded", name)
		}
		if _, err := SealAccountKeys([32]byte{}, "alice", 1, k); err == nil {
			t.Errorf("%s: SealAccountKeys succeeded", name)
		}
		if _, err := SealRecoveryKeys(RecoveryKey{}, "alice", k); err == nil {
			t.Errorf("%s: SealRecoveryKeys succeeded", name)
		}
		if k.IdentityPublic() != nil || k.MatchesBundle(b) {
			t.Errorf("%s: still acts as keys", name)
		}
	}
}

func TestSealAccountKeys(t *testing.T) {
	alice, bob := mustKeys(t), mustKeys(t)
	kek, bobKEK := *testKey(10), *testKey(20)
	sealed, err := SealAccountKeys(kek, "alice", 7, alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != SealedAccountKeysSize {
		t.Fatalf("sealed account keys are %d bytes, want %d", len(sealed), SealedAccountKeysSize)
	}
	got, err := OpenAccountKeys(kek, "alice", 7, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Marshal(), alice.Marshal()) {
		t.Fatal("round trip changed the keys")
	}

	open := func(s []byte) error {
		_, err := OpenAccountKeys(kek, "alice", 7, s)
		return err
	}
	tamperAll(t, sealed, open)

	bobSealed, err := SealAccountKeys(bobKEK, "bob", 7, bob)
	if err != nil {
		t.Fatal(err)
	}
	bobUnderAliceKEK, err := SealAccountKeys(kek, "bob", 7, bob)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := SealAccountKeys(*testKey(99), "alice", 7, mustKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	oldEpoch, err := SealAccountKeys(kek, "alice", 6, alice)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		kek   [32]byte
		user  string
		epoch uint32
		blob  []byte
	}{
		{"older epoch", kek, "alice", 6, sealed},
		{"newer epoch", kek, "alice", 8, sealed},
		{"rolled-back blob at current epoch", kek, "alice", 7, oldEpoch},
		{"other user in AD, same KEK", kek, "bob", 7, sealed},
		{"user prefix", kek, "alic", 7, sealed},
		{"bob's blob", kek, "alice", 7, bobSealed},
		{"bob's blob, same KEK", kek, "alice", 7, bobUnderAliceKEK},
		{"fresh keys under a key the server chose", kek, "alice", 7, fresh},
		{"wrong KEK", bobKEK, "alice", 7, sealed},
		{"zero KEK", [32]byte{}, "alice", 7, sealed},
	}
	for _, c := range cases {
		if _, err := OpenAccountKeys(c.kek, c.user, c.epoch, c.blob); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", c.name, err)
		}
	}

	if _, err := SealAccountKeys(kek, "alice", 1, nil); err == nil {
		t.Error("sealing nil keys succeeded")
	}
}

// secretForms returns the ways any 5- or 6-byte piece of secret could show
// up in an error message: raw, hex (lower, upper, spaced, as %x/%X/% x
// print it), base64 (standard and URL alphabets), base32 and the decimal
// list that %v prints for a []byte. Pieces are taken at every offset, so
// base64 and base32 output is matched whatever its alignment.
func secretForms(secret []byte) []string {
	var forms []string
	for i := 0; i+5 <= len(secret); i++ {
		forms = append(forms, base32.StdEncoding.EncodeToString(secret[i:i+5]))
		if i+6 > len(secret) {
			continue
		}
		w := secret[i : i+6]
		forms = append(forms,
			string(w),
			hex.EncodeToString(w),
			strings.ToUpper(hex.EncodeToString(w)),
			fmt.Sprintf("% x", w),
			base64.StdEncoding.EncodeToString(w),
			base64.URLEncoding.EncodeToString(w),
			strings.Trim(fmt.Sprint(w), "[]"),
		)
	}
	return forms
}

// leaks reports whether msg contains any piece of any secret in any form.
func leaks(msg string, secrets ...[]byte) bool {
	for _, s := range secrets {
		for _, f := range secretForms(s) {
			if strings.Contains(msg, f) {
				return true
			}
		}
	}
	return false
}

func randBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLeaksDetects is the positive control of TestErrorsHideSecrets: the
// detector must catch a secret printed in any of the usual ways, whole or
// in part, so that a passing TestErrorsHideSecrets means something.
func TestLeaksDetects(t *testing.T) {
	secret := randBytes(t, 32)
	for name, msg := range map[string]string{
		"%s":              fmt.Sprintf("open failed: %s", secret),
		"%x":              fmt.Sprintf("open failed: %x", secret),
		"%X":              fmt.Sprintf("open failed: %X", secret),
		"% x":             fmt.Sprintf("open failed: % x", secret),
		"%v":              fmt.Sprintf("open failed: %v", secret),
		"%q":              fmt.Sprintf("open failed: %q", hex.EncodeToString(secret)),
		"base64":          "open failed: " + base64.StdEncoding.EncodeToString(secret),
		"base64 raw URL":  "open failed: " + base64.RawURLEncoding.EncodeToString(secret),
		"base32":          "open failed: " + base32.StdEncoding.EncodeToString(secret),
		"%x of a piece":   fmt.Sprintf("open failed: %x", secret[7:13]),
		"base64 of piece": "open failed: " + base64.StdEncoding.EncodeToString(secret[11:]),
		"base32 of piece": "open failed: " + base32.StdEncoding.EncodeToString(secret[13:]),
	} {
		if !leaks(msg, secret) {
			t.Errorf("%s: leak not detected in %q", name, msg)
		}
	}
	if leaks("coffer/crypto: open account keys of \"alice\" at epoch 1: coffer/crypto: decryption failed", secret) {
		t.Error("false positive on an ordinary error")
	}
}

// TestErrorsHideSecrets checks every error path that holds a key or a
// decrypted plaintext: a wrong key (the envelope fails), and a right key
// whose authenticated plaintext does not parse, where the decrypted seeds
// are in hand when the error is made. No error may carry any piece of a
// key, a derived key or the plaintext, in any encoding.
func TestErrorsHideSecrets(t *testing.T) {
	kek := [32]byte(randBytes(t, 32))
	wrongKEK := [32]byte(randBytes(t, 32))
	rk := RecoveryKey(randBytes(t, 32))
	unlock := randBytes(t, UnlockKeySize)
	wrongUnlock := randBytes(t, UnlockKeySize)
	seeds := randBytes(t, 2*SeedSize)
	keys, err := NewAccountKeysFromSeeds(seeds[:SeedSize], seeds[SeedSize:])
	if err != nil {
		t.Fatal(err)
	}
	recKEK, err := rk.kek("alice")
	if err != nil {
		t.Fatal(err)
	}
	localKey, err := localKEK(unlock)
	if err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{kek[:], wrongKEK[:], rk[:], recKEK[:], unlock, wrongUnlock, localKey[:], seeds}

	// Plaintexts that decrypt but do not parse as account keys.
	badPlain := map[string][]byte{
		"version 2":       append([]byte{2}, seeds...),
		"version missing": seeds,
		"one byte extra":  append(append([]byte{accountKeysVersion}, seeds...), seeds[0]),
	}

	errs := map[string]error{}
	record := func(name string, err error) {
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		errs[name] = err
	}

	acctFields, err := accountKeysAD("alice", 1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := SealAccountKeys(kek, "alice", 1, keys)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenAccountKeys(wrongKEK, "alice", 1, sealed)
	record("account keys, wrong KEK", err)
	_, err = OpenAccountKeys(kek, "alice", 2, sealed)
	record("account keys, wrong epoch", err)

	recFields, err := recoveryKeysAD("alice")
	if err != nil {
		t.Fatal(err)
	}
	recSealed, err := SealRecoveryKeys(rk, "alice", keys)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenRecoveryKeys(RecoveryKey(wrongKEK), "alice", recSealed)
	record("recovery keys, wrong key", err)

	localFields, err := localKeysAD("https://coffer.example", "alice", "s1")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := SealLocalKeys(unlock, "https://coffer.example", "alice", "s1", keys)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenLocalKeys(wrongUnlock, "https://coffer.example", "alice", "s1", cache)
	record("local keys, wrong unlock key", err)
	_, err = OpenLocalKeys(unlock[:31], "https://coffer.example", "alice", "s1", cache)
	record("local keys, short unlock key", err)

	for name, pt := range badPlain {
		s, err := sealEnvelope(&kek, labelAccountKeys, acctFields, pt)
		if err != nil {
			t.Fatal(err)
		}
		_, err = OpenAccountKeys(kek, "alice", 1, s)
		record("account keys, right KEK, plaintext "+name, err)

		s, err = sealEnvelope(&recKEK, labelRecoveryKeys, recFields, pt)
		if err != nil {
			t.Fatal(err)
		}
		_, err = OpenRecoveryKeys(rk, "alice", s)
		record("recovery keys, right key, plaintext "+name, err)

		s, err = sealEnvelope(&localKey, labelLocalKeys, localFields, pt)
		if err != nil {
			t.Fatal(err)
		}
		_, err = OpenLocalKeys(unlock, "https://coffer.example", "alice", "s1", s)
		record("local keys, right key, plaintext "+name, err)

		_, err = UnmarshalAccountKeys(pt)
		record("unmarshal, plaintext "+name, err)
	}

	password := randBytes(t, 24)
	_, err = DerivePasswordKeys(password, "alice", make([]byte, 15), DefaultKDF)
	record("password KDF, short salt", err)
	_, err = DerivePasswordKeys(password, "alice", make([]byte, SaltSize), KDFParams{})
	record("password KDF, weak parameters", err)
	secrets = append(secrets, password)

	for name, err := range errs {
		if leaks(err.Error(), secrets...) {
			t.Errorf("%s: error %q contains secret material", name, err)
		}
	}
}
