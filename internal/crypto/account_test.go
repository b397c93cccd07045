package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
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

func TestOpenAccountKeysErrorHidesSecrets(t *testing.T) {
	kek := *testKey(10)
	k := mustKeys(t)
	sealed, err := SealAccountKeys(kek, "alice", 1, k)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenAccountKeys(*testKey(11), "alice", 1, sealed)
	if err == nil {
		t.Fatal("wrong KEK opened")
	}
	msg := err.Error()
	for _, secret := range [][]byte{kek[:], k.Marshal()[1:9]} {
		if bytes.Contains([]byte(msg), secret) || bytes.Contains([]byte(msg), []byte(h(secret))) {
			t.Fatalf("error %q contains secret material", msg)
		}
	}
}
