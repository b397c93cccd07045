package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzUnmarshalAccountKeys(f *testing.F) {
	f.Add(append([]byte{accountKeysVersion}, make([]byte, 2*SeedSize)...))
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := UnmarshalAccountKeys(b)
		if err != nil {
			if !errors.Is(err, ErrBadAccountKeys) {
				t.Fatalf("error %v does not wrap ErrBadAccountKeys", err)
			}
			return
		}
		if !bytes.Equal(k.Marshal(), b) {
			t.Fatal("Marshal(Unmarshal(b)) != b")
		}
	})
}

func FuzzOpenBundle(f *testing.F) {
	k, err := NewAccountKeysFromSeeds(seq(0, 32), seq(32, 32))
	if err != nil {
		f.Fatal(err)
	}
	s, err := k.SignBundle("alice", 1767225600)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s, "alice")
	f.Add(s[:100], "alice")
	f.Add([]byte{1, 0, 0, 0, 5}, "alice")
	// A bundle under the identity point, which ed25519.Verify alone accepts.
	forged, err := forgeBundle("alice", 1767225600, append([]byte{1}, make([]byte, 31)...), k.EncryptionPublic())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(forged, "alice")
	f.Fuzz(func(t *testing.T, b []byte, user string) {
		bundle, err := OpenBundle(b, user)
		if err != nil {
			if !errors.Is(err, ErrBadBundle) {
				t.Fatalf("error %v does not wrap ErrBadBundle", err)
			}
			return
		}
		// Anything that opens must re-encode to exactly the same bytes:
		// the encoding is canonical.
		body, err := encodeBundleBody(bundle.User, bundle.Created, bundle.Identity, bundle.Encryption)
		if err != nil || !bytes.Equal(body, b[:len(b)-64]) {
			t.Fatalf("opened bundle does not re-encode canonically: %v", err)
		}
		if err := CheckEd25519PublicKey(bundle.Identity); err != nil {
			t.Fatalf("opened bundle has an unacceptable identity key: %v", err)
		}
	})
}

func FuzzParseRecoveryKey(f *testing.F) {
	f.Add(RecoveryKey(seq(0, 32)).String())
	f.Add("")
	f.Add("aaaa-aaaa")
	f.Fuzz(func(t *testing.T, s string) {
		rk, err := ParseRecoveryKey(s)
		if err != nil {
			if !errors.Is(err, ErrBadRecoveryKey) {
				t.Fatalf("error %v does not wrap ErrBadRecoveryKey", err)
			}
			return
		}
		again, err := ParseRecoveryKey(rk.String())
		if err != nil || again != rk {
			t.Fatalf("accepted key does not round-trip: %v", err)
		}
	})
}

func FuzzOpenEnvelope(f *testing.F) {
	key := testKey(1)
	sealed, err := sealEnvelopeNonce(key, nonce12(0), labelAccountKeys, []byte("ad"), []byte("plaintext"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, []byte("ad"), []byte("plaintext"))
	f.Add([]byte{}, []byte{}, []byte{})
	f.Add([]byte{1}, []byte("ad"), []byte{0})
	f.Fuzz(func(t *testing.T, b, fields, pt []byte) {
		// Arbitrary input never opens (forging a GCM tag is infeasible)
		// except the one valid seed; it must fail with ErrDecrypt.
		got, err := openEnvelope(key, labelAccountKeys, fields, b)
		if err == nil {
			if !bytes.Equal(b, sealed) || !bytes.Equal(fields, []byte("ad")) {
				t.Fatalf("forged envelope opened: %x", b)
			}
			if !bytes.Equal(got, []byte("plaintext")) {
				t.Fatal("seed envelope opened to the wrong plaintext")
			}
		} else if !errors.Is(err, ErrDecrypt) {
			t.Fatalf("error %v does not wrap ErrDecrypt", err)
		}
		// And sealing any plaintext under any fields round-trips.
		s, err := sealEnvelope(key, labelAccountKeys, fields, pt)
		if err != nil {
			t.Fatal(err)
		}
		back, err := openEnvelope(key, labelAccountKeys, fields, s)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}
