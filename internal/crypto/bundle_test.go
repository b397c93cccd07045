package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"regexp"
	"strconv"
	"testing"
)

func signed(t testing.TB, k *AccountKeys, user string, created int64) []byte {
	t.Helper()
	b, err := k.SignBundle(user, created)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBundleRoundTrip(t *testing.T) {
	k := mustKeys(t)
	s := signed(t, k, "alice", 1767225600)
	if want := 1 + 4 + 5 + 8 + 4 + 32 + 4 + EncryptionPublicKeySize + 64; len(s) != want {
		t.Fatalf("signed bundle is %d bytes, want %d", len(s), want)
	}
	b, err := OpenBundle(s, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if b.User != "alice" || b.Created != 1767225600 || !bytes.Equal(b.Identity, k.IdentityPublic()) ||
		!bytes.Equal(b.Encryption, k.EncryptionPublic()) {
		t.Fatalf("OpenBundle returned %+v", b)
	}
	if !k.MatchesBundle(b) {
		t.Fatal("keys do not match their own bundle")
	}
	// The body is canonical: re-encoding the fields gives the signed bytes.
	body, err := encodeBundleBody(b.User, b.Created, b.Identity, b.Encryption)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, s[:len(s)-64]) {
		t.Fatal("re-encoded body differs")
	}
	// Returned slices must not alias the input.
	s[len(s)-100] ^= 1
	if !bytes.Equal(b.Encryption, k.EncryptionPublic()) {
		t.Fatal("bundle aliases its input")
	}
	if _, err := OpenBundle(signed(t, k, "", 0), ""); err != nil {
		t.Fatalf("empty user, zero time: %v", err)
	}
	if _, err := k.SignBundle("alice", -1); err == nil {
		t.Fatal("negative creation time signed")
	}
}

func TestOpenBundleRejects(t *testing.T) {
	alice, bob := mustKeys(t), mustKeys(t)
	s := signed(t, alice, "alice", 1767225600)
	body := s[:len(s)-64]
	resign := func(body []byte) []byte {
		return append(bytes.Clone(body), ed25519.Sign(alice.identity, tagged(labelPublicBundle, body))...)
	}
	swappedID, err := encodeBundleBody("alice", 1, bob.IdentityPublic(), alice.EncryptionPublic())
	if err != nil {
		t.Fatal(err)
	}
	swappedEnc, err := encodeBundleBody("alice", 1, alice.IdentityPublic(), bob.EncryptionPublic())
	if err != nil {
		t.Fatal(err)
	}
	lp := func(user string, id, enc []byte) []byte {
		b := []byte{bundleVersion}
		b = appendLP(b, []byte(user))
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 1)
		b = appendLP(b, id)
		return appendLP(b, enc)
	}
	// An all-0xff ML-KEM key fails the modulus check of the encapsulation key.
	badEnc := bytes.Repeat([]byte{0xff}, EncryptionPublicKeySize)
	negTime := bytes.Clone(body)
	negTime[1+4+5] = 0x80

	cases := map[string]struct {
		signed []byte
		user   string
	}{
		"other user":                        {s, "bob"},
		"user prefix":                       {s, "alic"},
		"trailing byte":                     {append(bytes.Clone(s), 0), "alice"},
		"trailing signature":                {append(bytes.Clone(s), s[len(s)-64:]...), "alice"},
		"truncated":                         {s[:len(s)-1], "alice"},
		"body only":                         {body, "alice"},
		"empty":                             {nil, "alice"},
		"version 2 re-signed":               {resign(flip(body, 0, 3)), "alice"},
		"version 0":                         {flip(s, 0, 1), "alice"},
		"identity swapped, signed by alice": {resign(swappedID), "alice"},
		"encryption swapped, not re-signed": {append(swappedEnc, s[len(s)-64:]...), "alice"},
		"signed without label":              {append(bytes.Clone(body), ed25519.Sign(alice.identity, body)...), "alice"},
		"signed by bob":                     {append(bytes.Clone(body), ed25519.Sign(bob.identity, tagged(labelPublicBundle, body))...), "alice"},
		"short identity, re-signed":         {resign(lp("alice", alice.IdentityPublic()[:31], alice.EncryptionPublic())), "alice"},
		"short encryption key, re-signed":   {resign(lp("alice", alice.IdentityPublic(), alice.EncryptionPublic()[:1215])), "alice"},
		"long encryption key, re-signed":    {resign(lp("alice", alice.IdentityPublic(), append(alice.EncryptionPublic(), 0))), "alice"},
		"invalid X-Wing key, re-signed":     {resign(lp("alice", alice.IdentityPublic(), badEnc)), "alice"},
		"user length overflows":             {append([]byte{1, 0xff, 0xff, 0xff, 0xff}, s[5:]...), "alice"},
		"negative creation time, re-signed": {resign(negTime), "alice"},
		"created changed":                   {flip(s, 1+4+5+7, 1), "alice"},
		"signature over body||sig appended": {append(bytes.Clone(s), ed25519.Sign(alice.identity, tagged(labelPublicBundle, s))...), "alice"},
	}
	for i := range s {
		cases["flip byte "+strconv.Itoa(i)] = struct {
			signed []byte
			user   string
		}{flip(s, i, 0x10), "alice"}
	}
	for name, c := range cases {
		if _, err := OpenBundle(c.signed, c.user); !errors.Is(err, ErrBadBundle) {
			t.Errorf("%s: error = %v, want ErrBadBundle", name, err)
		}
	}
}

func TestMatchesBundle(t *testing.T) {
	alice, bob := mustKeys(t), mustKeys(t)
	ab, err := OpenBundle(signed(t, alice, "alice", 1), "alice")
	if err != nil {
		t.Fatal(err)
	}
	bb, err := OpenBundle(signed(t, bob, "bob", 1), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if alice.MatchesBundle(bb) || bob.MatchesBundle(ab) {
		t.Fatal("keys match another user's bundle")
	}
	mixed := *ab
	mixed.Encryption = bb.Encryption
	if alice.MatchesBundle(&mixed) {
		t.Fatal("keys match a bundle with a swapped encryption key")
	}
	mixed = *ab
	mixed.Identity = bb.Identity
	if alice.MatchesBundle(&mixed) {
		t.Fatal("keys match a bundle with a swapped identity key")
	}
	if alice.MatchesBundle(nil) || (*AccountKeys)(nil).MatchesBundle(ab) {
		t.Fatal("nil matched")
	}
}

var fingerprintRE = regexp.MustCompile(`^[0-9]{5}( [0-9]{5}){11}$`)

func TestFingerprint(t *testing.T) {
	alice := mustKeys(t)
	b1, err := OpenBundle(signed(t, alice, "alice", 1), "alice")
	if err != nil {
		t.Fatal(err)
	}
	fp := b1.Fingerprint()
	if !fingerprintRE.MatchString(fp) {
		t.Fatalf("fingerprint %q has the wrong shape", fp)
	}
	fpb := b1.FingerprintBytes()
	s := signed(t, alice, "alice", 1)
	want := sha256Sum(tagged(labelFingerprint, s[:len(s)-64]))
	if fpb != want {
		t.Fatal("FingerprintBytes is not the hash of the signed body")
	}

	fresh := mustKeys(t)
	b2, err := OpenBundle(signed(t, fresh, "alice", 1), "alice")
	if err != nil {
		t.Fatal(err)
	}
	// A self-signed bundle with fresh keys opens fine; only the
	// fingerprint tells it apart, which is why clients pin it.
	if FingerprintEqual(fp, b2.Fingerprint()) || b1.FingerprintBytes() == b2.FingerprintBytes() {
		t.Fatal("a bundle with other keys has the same fingerprint")
	}
	if !FingerprintEqual(fp, "  "+fp+"\n") {
		t.Fatal("whitespace changed equality")
	}
	bare := regexp.MustCompile(`\s`).ReplaceAllString(fp, "")
	if got, err := ParseFingerprint(bare); err != nil || got != fp {
		t.Fatalf("ParseFingerprint(bare) = %q, %v", got, err)
	}
	for name, bad := range map[string]string{
		"59 digits": bare[:59], "61 digits": bare + "0", "letter": "a" + bare[1:],
		"dash": bare[:5] + "-" + bare[5:], "empty": "",
	} {
		if _, err := ParseFingerprint(bad); !errors.Is(err, ErrBadFingerprint) {
			t.Errorf("%s: error = %v, want ErrBadFingerprint", name, err)
		}
		if FingerprintEqual(bad, bad) {
			t.Errorf("%s: invalid fingerprint equals itself", name)
		}
	}
	// A one-digit difference is caught.
	d := []byte(fp)
	d[len(d)-1] = '0' + (d[len(d)-1]-'0'+1)%10
	if FingerprintEqual(fp, string(d)) {
		t.Fatal("different fingerprints compared equal")
	}
	// The fingerprint covers user and creation time as well as keys.
	b3, err := OpenBundle(signed(t, alice, "alice", 2), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if b3.Fingerprint() == fp {
		t.Fatal("fingerprint ignores the creation time")
	}
	var invalid PublicBundle
	if invalid.FingerprintBytes() != ([32]byte{}) {
		t.Fatal("unencodable bundle has a non-zero fingerprint")
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
