package crypto

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

const bundleVersion = 0x01

// Fingerprint display: 12 groups of 5 decimal digits, each from 5 bytes.
const (
	fingerprintGroups     = 12
	fingerprintGroupBytes = 5
	fingerprintGroupDigs  = 5
	fingerprintDigits     = fingerprintGroups * fingerprintGroupDigs
)

var (
	// ErrBadBundle reports a public key bundle that does not parse, does
	// not verify or names another user.
	ErrBadBundle = errors.New("coffer/crypto: invalid public key bundle")
	// ErrBadFingerprint reports a fingerprint string that is not 60 digits.
	ErrBadFingerprint = errors.New("coffer/crypto: invalid fingerprint")
)

// PublicBundle is a user's published public keys, as recovered from a signed
// bundle by OpenBundle. The signature only proves that the bundle is
// self-consistent; whose keys they are is established out of band by
// comparing fingerprints and pinning them.
type PublicBundle struct {
	User       string
	Created    int64             // unix seconds, never negative
	Identity   ed25519.PublicKey // 32 bytes
	Encryption []byte            // X-Wing public key, EncryptionPublicKeySize bytes
}

// encodeBundleBody returns the signed-over bytes:
// 0x01 || LP(user) || created (8 bytes BE) || LP(identity) || LP(encryption).
func encodeBundleBody(user string, created int64, identity, encryption []byte) ([]byte, error) {
	if created < 0 {
		return nil, errors.New("negative creation time")
	}
	if uint64(len(user)) > math.MaxUint32 {
		return nil, errors.New("user name too long")
	}
	if len(identity) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("identity key is %d bytes, want %d", len(identity), ed25519.PublicKeySize)
	}
	if len(encryption) != EncryptionPublicKeySize {
		return nil, fmt.Errorf("encryption key is %d bytes, want %d", len(encryption), EncryptionPublicKeySize)
	}
	b := make([]byte, 0, 1+4+len(user)+8+4+len(identity)+4+len(encryption)+ed25519.SignatureSize)
	b = append(b, bundleVersion)
	b = appendLP(b, []byte(user))
	b = binary.BigEndian.AppendUint64(b, uint64(created))
	b = appendLP(b, identity)
	return appendLP(b, encryption), nil
}

// SignBundle returns the signed public key bundle of these keys for user:
//
//	body || Ed25519-Sign(identity, "coffer/v1/public-bundle" || 0x00 || body)
//
// where body is 0x01 || LP(user) || created (8 bytes BE) || LP(identity
// public key) || LP(X-Wing public key). created must not be negative.
func (k *AccountKeys) SignBundle(user string, created int64) ([]byte, error) {
	if !k.usable() {
		return nil, fmt.Errorf("coffer/crypto: sign bundle for %q: no keys", user)
	}
	body, err := encodeBundleBody(user, created, k.IdentityPublic(), k.encryptionPub)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: sign bundle for %q: %w", user, err)
	}
	sig := ed25519.Sign(k.identity, tagged(labelPublicBundle, body))
	return append(body, sig...), nil
}

// OpenBundle parses a signed bundle strictly (version, exact key lengths, a
// valid X-Wing key, no trailing bytes), checks that it names wantUser and
// that the identity key passes CheckEd25519PublicKey, and verifies the
// signature with that identity key. Every failure wraps ErrBadBundle; an
// unacceptable identity key also wraps ErrBadEd25519Key.
func OpenBundle(signed []byte, wantUser string) (*PublicBundle, error) {
	b, err := openBundle(signed, wantUser)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBundle, err)
	}
	return b, nil
}

func openBundle(signed []byte, wantUser string) (*PublicBundle, error) {
	r := reader{b: signed}
	v, ok := r.uint8()
	if !ok {
		return nil, errors.New("empty")
	}
	if v != bundleVersion {
		return nil, fmt.Errorf("%w %#02x", ErrUnsupportedVersion, v)
	}
	user, ok := r.lp()
	if !ok {
		return nil, errors.New("truncated user name")
	}
	created, ok := r.uint64()
	if !ok {
		return nil, errors.New("truncated creation time")
	}
	if created > math.MaxInt64 {
		return nil, errors.New("negative creation time")
	}
	identity, ok := r.lp()
	if !ok {
		return nil, errors.New("truncated identity key")
	}
	if len(identity) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("identity key is %d bytes, want %d", len(identity), ed25519.PublicKeySize)
	}
	encryption, ok := r.lp()
	if !ok {
		return nil, errors.New("truncated encryption key")
	}
	if len(encryption) != EncryptionPublicKeySize {
		return nil, fmt.Errorf("encryption key is %d bytes, want %d", len(encryption), EncryptionPublicKeySize)
	}
	// The signature covers exactly the parsed fields, not "all but the last
	// 64 bytes", so bytes appended after the signature cannot shift it.
	body := signed[:len(signed)-len(r.b)]
	sig, ok := r.bytes(ed25519.SignatureSize)
	if !ok {
		return nil, errors.New("truncated signature")
	}
	if !r.empty() {
		return nil, errors.New("trailing bytes after signature")
	}
	if string(user) != wantUser {
		return nil, errors.New("bundle names another user")
	}
	if _, err := kem().NewPublicKey(encryption); err != nil {
		return nil, fmt.Errorf("encryption key does not parse: %w", err)
	}
	// The identity key is checked for small order and canonical encoding
	// first: under a small-order key a trivial signature verifies.
	if err := verifyEd25519(identity, tagged(labelPublicBundle, body), sig); err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	return &PublicBundle{
		User:       wantUser,
		Created:    int64(created),
		Identity:   append(ed25519.PublicKey(nil), identity...),
		Encryption: append([]byte(nil), encryption...),
	}, nil
}

// FingerprintBytes returns SHA-256("coffer/v1/fingerprint" || 0x00 || body),
// body being the signed-over bytes of the bundle (everything but the
// signature). Because the encoding is canonical, body is re-encoded from
// the fields. For a bundle that OpenBundle did not produce and that cannot be
// encoded, it returns all zeros, which matches no real bundle.
func (b *PublicBundle) FingerprintBytes() [32]byte {
	body, err := encodeBundleBody(b.User, b.Created, b.Identity, b.Encryption)
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(tagged(labelFingerprint, body))
}

// Fingerprint returns the fingerprint for people to compare: 12 groups of 5
// decimal digits separated by spaces. SHA-256 has only 32 bytes and 12
// groups need 60, so the digits come from
// HKDF-SHA256(ikm=FingerprintBytes, salt=empty,
// info="coffer/v1/fingerprint-digits" || 0x00, 60 bytes); group i is bytes
// [5i, 5i+5) read as a big-endian integer, mod 100000, zero-padded.
func (b *PublicBundle) Fingerprint() string {
	fp := b.FingerprintBytes()
	return fingerprintText(&fp)
}

func fingerprintText(fp *[32]byte) string {
	stream, err := hkdf.Key(sha256.New, fp[:], nil, labelFingerprintDigs+"\x00", fingerprintGroups*fingerprintGroupBytes)
	if err != nil {
		// 60 bytes from a 32-byte secret is within HKDF's limits.
		return ""
	}
	var sb strings.Builder
	sb.Grow(fingerprintDigits + fingerprintGroups - 1)
	for i := range fingerprintGroups {
		chunk := stream[i*fingerprintGroupBytes : (i+1)*fingerprintGroupBytes]
		var n uint64
		for _, c := range chunk {
			n = n<<8 | uint64(c)
		}
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%05d", n%100000)
	}
	return sb.String()
}

// ParseFingerprint normalises a fingerprint typed or pasted by a person: it
// drops all whitespace and requires exactly 60 decimal digits, and returns
// them in the canonical form Fingerprint produces.
func ParseFingerprint(s string) (string, error) {
	digits := make([]byte, 0, fingerprintDigits)
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0':
			continue
		case '0' <= r && r <= '9':
			if len(digits) == fingerprintDigits {
				return "", fmt.Errorf("%w: more than %d digits", ErrBadFingerprint, fingerprintDigits)
			}
			digits = append(digits, byte(r))
		default:
			return "", fmt.Errorf("%w: contains a character that is not a digit", ErrBadFingerprint)
		}
	}
	if len(digits) != fingerprintDigits {
		return "", fmt.Errorf("%w: %d digits, want %d", ErrBadFingerprint, len(digits), fingerprintDigits)
	}
	var sb strings.Builder
	sb.Grow(fingerprintDigits + fingerprintGroups - 1)
	for i := 0; i < fingerprintDigits; i += fingerprintGroupDigs {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.Write(digits[i : i+fingerprintGroupDigs])
	}
	return sb.String(), nil
}

// FingerprintEqual reports whether a and b are the same valid fingerprint,
// ignoring whitespace. The comparison is constant time; an invalid string
// equals nothing.
func FingerprintEqual(a, b string) bool {
	na, errA := ParseFingerprint(a)
	nb, errB := ParseFingerprint(b)
	if errA != nil || errB != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(na), []byte(nb)) == 1
}
