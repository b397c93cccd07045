package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"

	"filippo.io/edwards25519"
)

// smallOrderPoints are the canonical encodings of the 8 points of order
// dividing 8 (the torsion subgroup of edwards25519). TestSmallOrderPoints
// recomputes them.
var smallOrderPoints = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity, order 1
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = -1, order 2
	"0000000000000000000000000000000000000000000000000000000000000000", // y = 0, order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // y = 0, order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nonCanonicalEncodings returns every 32-byte string that
// edwards25519.Point.SetBytes (and so crypto/ed25519.Verify) accepts
// although it is not the canonical encoding of its point: y + p for the
// y < 19 that are on the curve, with either sign bit, and x = 0 with the
// sign bit set. It checks both properties of each.
func nonCanonicalEncodings(t testing.TB) [][]byte {
	t.Helper()
	// p = 2^255 - 19, little-endian: ed ff ... ff 7f.
	p := bytes.Repeat([]byte{0xff}, 32)
	p[0], p[31] = 0xed, 0x7f
	var cands [][]byte
	for y := range byte(19) { // y + p < 2^255 exactly for y <= 18
		for _, sign := range []byte{0, 0x80} {
			b := bytes.Clone(p)
			b[0] += y
			b[31] |= sign
			cands = append(cands, b)
		}
	}
	// x = 0 with the sign bit set: the identity (y = 1) and y = -1.
	cands = append(cands,
		mustHex(t, "0100000000000000000000000000000000000000000000000000000000000080"),
		mustHex(t, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"))
	var out [][]byte
	for _, b := range cands {
		pt, err := new(edwards25519.Point).SetBytes(b)
		if err != nil {
			continue // y + p is not on the curve
		}
		if bytes.Equal(pt.Bytes(), b) {
			t.Fatalf("%x is canonical", b)
		}
		out = append(out, b)
	}
	if len(out) < 8 {
		t.Fatalf("only %d non-canonical encodings found", len(out))
	}
	return out
}

func isSmallOrder(t testing.TB, b []byte) bool {
	t.Helper()
	pt, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return new(edwards25519.Point).MultByCofactor(pt).Equal(edwards25519.NewIdentityPoint()) == 1
}

// TestSmallOrderPoints checks the table: the 8 multiples of an order-8
// point are exactly the 8 listed encodings, each canonical.
func TestSmallOrderPoints(t *testing.T) {
	want := map[string]bool{}
	for _, s := range smallOrderPoints {
		want[s] = true
	}
	if len(want) != 8 {
		t.Fatal("table has duplicates")
	}
	gen, err := new(edwards25519.Point).SetBytes(mustHex(t, smallOrderPoints[6]))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	acc := edwards25519.NewIdentityPoint()
	for range 8 {
		got[hex.EncodeToString(acc.Bytes())] = true
		acc.Add(acc, gen)
	}
	if acc.Equal(edwards25519.NewIdentityPoint()) != 1 || len(got) != 8 {
		t.Fatalf("generator does not have order 8 (%d distinct multiples)", len(got))
	}
	for s := range got {
		if !want[s] {
			t.Errorf("small-order point %s missing from the table", s)
		}
	}
}

func TestCheckEd25519PublicKey(t *testing.T) {
	// Honest keys pass.
	for i := range 32 {
		pub := ed25519.NewKeyFromSeed(seq(byte(i), 32)).Public().(ed25519.PublicKey)
		if err := CheckEd25519PublicKey(pub); err != nil {
			t.Fatalf("honest key %x: %v", pub, err)
		}
	}
	if err := CheckEd25519PublicKey(mustKeys(t).IdentityPublic()); err != nil {
		t.Fatalf("generated identity key: %v", err)
	}

	reject := func(name string, b []byte) {
		t.Helper()
		if err := CheckEd25519PublicKey(b); !errors.Is(err, ErrBadEd25519Key) {
			t.Errorf("%s %x: error = %v, want ErrBadEd25519Key", name, b, err)
		}
	}
	for _, s := range smallOrderPoints {
		reject("small-order point", mustHex(t, s))
	}
	sawLargeOrder := false
	for _, b := range nonCanonicalEncodings(t) {
		reject("non-canonical encoding", b)
		if isSmallOrder(t, b) {
			continue
		}
		// The point itself is fine; only its encoding is refused.
		pt, _ := new(edwards25519.Point).SetBytes(b)
		if err := CheckEd25519PublicKey(pt.Bytes()); err != nil {
			t.Errorf("canonical form %x of a large-order point: %v", pt.Bytes(), err)
		}
		sawLargeOrder = true
	}
	if !sawLargeOrder {
		t.Error("no non-canonical encoding of a large-order point was tested")
	}
	for _, n := range []int{0, 31, 33, 64} {
		reject("wrong length", make([]byte, n))
	}
	reject("nil", nil)
	// A y with no x on the curve.
	notOnCurve := false
	for y := range byte(255) {
		b := make([]byte, 32)
		b[0] = y
		if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
			reject("not on the curve", b)
			notOnCurve = true
			break
		}
	}
	if !notOnCurve {
		t.Error("no off-curve encoding was tested")
	}
}

// weakKeys are the identity keys OpenBundle must refuse although
// ed25519.Verify accepts a trivial signature under them.
func weakKeys(t testing.TB) map[string][]byte {
	keys := map[string][]byte{}
	for _, s := range smallOrderPoints {
		keys["small order "+s] = mustHex(t, s)
	}
	for _, b := range nonCanonicalEncodings(t) {
		if isSmallOrder(t, b) {
			keys["non-canonical small order "+hex.EncodeToString(b)] = b
		}
	}
	return keys
}

func TestOpenBundleRejectsWeakIdentityKey(t *testing.T) {
	enc := mustKeys(t).EncryptionPublic()
	keys := weakKeys(t)
	if len(keys) < 8+4 {
		t.Fatalf("only %d weak keys", len(keys))
	}
	for name, pub := range keys {
		s, err := forgeBundle("alice", 1767225600, pub, enc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Without the key check the forgery would open: prove it.
		body := s[:len(s)-ed25519.SignatureSize]
		if !ed25519.Verify(pub, tagged(labelPublicBundle, body), trivialSignature()) {
			t.Fatalf("%s: ed25519.Verify rejects the forgery; the test proves nothing", name)
		}
		_, err = OpenBundle(s, "alice")
		if !errors.Is(err, ErrBadBundle) || !errors.Is(err, ErrBadEd25519Key) {
			t.Errorf("%s: error = %v, want ErrBadBundle wrapping ErrBadEd25519Key", name, err)
		}
	}
}

// TestOpenBundleRejectsNonCanonicalKey covers non-canonical encodings of
// large-order points, which need the canonicality check alone (no one
// knows their discrete log, so no signature can be made for them).
func TestOpenBundleRejectsNonCanonicalKey(t *testing.T) {
	alice := mustKeys(t)
	tested := 0
	for _, pub := range nonCanonicalEncodings(t) {
		if isSmallOrder(t, pub) {
			continue
		}
		body, err := encodeBundleBody("alice", 1, pub, alice.EncryptionPublic())
		if err != nil {
			t.Fatal(err)
		}
		s := append(body, ed25519.Sign(alice.identity, tagged(labelPublicBundle, body))...)
		if _, err := OpenBundle(s, "alice"); !errors.Is(err, ErrBadEd25519Key) {
			t.Errorf("%x: error = %v, want ErrBadEd25519Key", pub, err)
		}
		tested++
	}
	if tested == 0 {
		t.Fatal("no large-order non-canonical encoding tested")
	}
}

func TestVerifyRecoveryMessageRejectsWeakKey(t *testing.T) {
	digest := [32]byte(seq(5, 32))
	for name, pub := range weakKeys(t) {
		// Find a challenge under which the trivial signature verifies.
		var challenge []byte
		for i := range 256 {
			c := []byte{byte(i)}
			if ed25519.Verify(pub, RecoveryMessage("alice", c, digest), trivialSignature()) {
				challenge = c
				break
			}
		}
		if challenge == nil {
			t.Fatalf("%s: no challenge found", name)
		}
		if VerifyRecoveryMessage(pub, "alice", challenge, digest, trivialSignature()) {
			t.Errorf("%s: trivial signature accepted", name)
		}
	}
}
