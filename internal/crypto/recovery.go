package crypto

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// RecoveryKey is the random 256-bit key shown to the user once at sign-up. It
// seals a second copy of the account keys and proves possession to the
// server when the password is lost.
//
// String returns the key itself in human form, so never format a
// RecoveryKey with %v or %s where the output may be logged.
type RecoveryKey [32]byte

// Recovery key text form: base32 of key || 3 checksum bytes, no padding.
const (
	recoveryChecksumSize = 3
	recoveryTextLen      = (32 + recoveryChecksumSize) * 8 / 5 // 56
	recoveryGroupLen     = 4
)

// ErrBadRecoveryKey reports a recovery key string that does not parse.
var ErrBadRecoveryKey = errors.New("coffer/crypto: invalid recovery key")

// NewRecoveryKey returns a fresh random recovery key.
func NewRecoveryKey() (RecoveryKey, error) {
	var rk RecoveryKey
	if _, err := rand.Read(rk[:]); err != nil {
		return RecoveryKey{}, fmt.Errorf("coffer/crypto: generate recovery key: %w", err)
	}
	return rk, nil
}

func recoveryEncoding() *base32.Encoding {
	return base32.StdEncoding.WithPadding(base32.NoPadding)
}

// recoveryChecksum is the first 3 bytes of
// SHA-256("coffer/v1/recovery-checksum" || 0x00 || key).
func recoveryChecksum(rk *RecoveryKey) [recoveryChecksumSize]byte {
	sum := sha256.Sum256(tagged(labelRecoveryCheck, rk[:]))
	var c [recoveryChecksumSize]byte
	copy(c[:], sum[:])
	return c
}

// String returns the key in the form the user writes down: RFC 4648 base32
// (upper case, no padding) of key || checksum, 56 characters in 14
// dash-separated groups of 4. The checksum catches typos, not attacks.
func (rk RecoveryKey) String() string {
	sum := recoveryChecksum(&rk)
	raw := append(rk[:], sum[:]...)
	defer clear(raw)
	text := recoveryEncoding().EncodeToString(raw)
	var b strings.Builder
	b.Grow(recoveryTextLen + recoveryTextLen/recoveryGroupLen - 1)
	for i := 0; i < len(text); i += recoveryGroupLen {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(text[i : i+recoveryGroupLen])
	}
	return b.String()
}

// ParseRecoveryKey parses the form String produces. It ignores case, spaces
// and dashes, and rejects a wrong length, a character outside the base32
// alphabet, or a checksum mismatch. Its errors never contain the input.
func ParseRecoveryKey(s string) (RecoveryKey, error) {
	clean := make([]byte, 0, recoveryTextLen)
	defer clear(clean)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t' || c == '\n' || c == '\r':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case 'A' <= c && c <= 'Z', '2' <= c && c <= '7':
		default:
			return RecoveryKey{}, fmt.Errorf("%w: character %d is not in the base32 alphabet (A-Z, 2-7)", ErrBadRecoveryKey, len(clean)+1)
		}
		if len(clean) == recoveryTextLen {
			return RecoveryKey{}, fmt.Errorf("%w: more than %d characters", ErrBadRecoveryKey, recoveryTextLen)
		}
		clean = append(clean, c)
	}
	if len(clean) != recoveryTextLen {
		return RecoveryKey{}, fmt.Errorf("%w: %d characters, want %d", ErrBadRecoveryKey, len(clean), recoveryTextLen)
	}
	var raw [32 + recoveryChecksumSize]byte
	defer clear(raw[:])
	n, err := recoveryEncoding().Decode(raw[:], clean)
	if err != nil || n != len(raw) {
		// Unreachable after the alphabet and length checks; err could
		// quote the input, so it is dropped.
		return RecoveryKey{}, fmt.Errorf("%w: not valid base32", ErrBadRecoveryKey)
	}
	var rk RecoveryKey
	copy(rk[:], raw[:32])
	want := recoveryChecksum(&rk)
	if subtle.ConstantTimeCompare(want[:], raw[32:]) != 1 {
		clear(rk[:])
		return RecoveryKey{}, fmt.Errorf("%w: checksum mismatch (check for a typo)", ErrBadRecoveryKey)
	}
	return rk, nil
}

// kek derives the key that seals the recovery copy of the account keys.
func (rk RecoveryKey) kek(user string) ([32]byte, error) {
	return hkdf32(rk[:], labelRecoveryKEK, user)
}

// recoveryKeysAD is the AD fields of sealed recovery keys: LP(user).
func recoveryKeysAD(user string) ([]byte, error) {
	if !fitsLP([]byte(user)) {
		return nil, errors.New("user name too long")
	}
	return appendLP(nil, []byte(user)), nil
}

// SealRecoveryKeys seals keys under a key derived from rk and user. The
// result is stored by the server and handed back during recovery.
func SealRecoveryKeys(rk RecoveryKey, user string, keys *AccountKeys) ([]byte, error) {
	return sealRecoveryKeys(rk, user, keys, nil)
}

func sealRecoveryKeys(rk RecoveryKey, user string, keys *AccountKeys, nonce *[nonceSize]byte) ([]byte, error) {
	if !keys.usable() {
		return nil, errors.New("coffer/crypto: seal recovery keys: no keys")
	}
	fields, err := recoveryKeysAD(user)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal recovery keys: %w", err)
	}
	key, err := rk.kek(user)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: derive recovery KEK: %w", err)
	}
	defer clear(key[:])
	pt := keys.Marshal()
	defer clear(pt)
	var sealed []byte
	if nonce == nil {
		sealed, err = sealEnvelope(&key, labelRecoveryKeys, fields, pt)
	} else {
		sealed, err = sealEnvelopeNonce(&key, nonce, labelRecoveryKeys, fields, pt)
	}
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal recovery keys for %q: %w", user, err)
	}
	return sealed, nil
}

// OpenRecoveryKeys opens keys sealed by SealRecoveryKeys with the same
// recovery key and user. Any mismatch or tampering gives an error wrapping
// ErrDecrypt.
func OpenRecoveryKeys(rk RecoveryKey, user string, sealed []byte) (*AccountKeys, error) {
	fields, err := recoveryKeysAD(user)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open recovery keys: %w", err)
	}
	key, err := rk.kek(user)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: derive recovery KEK: %w", err)
	}
	defer clear(key[:])
	pt, err := openEnvelope(&key, labelRecoveryKeys, fields, sealed)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open recovery keys of %q: %w", user, err)
	}
	defer clear(pt)
	keys, err := UnmarshalAccountKeys(pt)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open recovery keys of %q: %w", user, err)
	}
	return keys, nil
}

// AuthKey returns the Ed25519 key that proves possession of rk to the server
// for user. The server stores only its public half and accepts a recovery
// on a signature over RecoveryMessage, so rk itself never leaves the client.
func (rk RecoveryKey) AuthKey(user string) ed25519.PrivateKey {
	seed, err := hkdf32(rk[:], labelRecoveryAuth, user)
	if err != nil {
		// HKDF-SHA256 fails only for outputs over 8160 bytes or, in FIPS
		// 140-only mode, secrets under 112 bits; a 32-byte secret and a
		// 32-byte output are neither, so this cannot happen.
		panic("coffer/crypto: HKDF-SHA256 failed on fixed-size input: " + err.Error())
	}
	defer clear(seed[:])
	return ed25519.NewKeyFromSeed(seed[:])
}

// AuthPublicKey returns the public half of AuthKey, which the server stores.
func (rk RecoveryKey) AuthPublicKey(user string) ed25519.PublicKey {
	priv := rk.AuthKey(user)
	defer clear(priv)
	pub, _ := priv.Public().(ed25519.PublicKey)
	return pub
}

// CredentialsDigest summarises the credentials a password change or a
// recovery installs:
//
//	SHA-256("coffer/v1/credentials" || 0x00 || LP(user) || LP(salt) ||
//	        m || t || p || LP(verifier) || LP(sealedKeys) || epoch)
//
// with m, t, p and epoch as 4-byte big-endian integers. PasswdBinding and
// RecoveryMessage authorise exactly these credentials, so the server cannot
// be handed different ones than the client approved.
//
// A field of 4 GiB or more cannot be length-prefixed; such input yields the
// all-zero digest, which no honest client ever authorises.
func CredentialsDigest(user string, salt []byte, p KDFParams, verifier, sealedKeys []byte, epoch uint32) [32]byte {
	if !fitsLP([]byte(user), salt, verifier, sealedKeys) {
		return [32]byte{}
	}
	b := tagged(labelCredentials)
	b = appendLP(b, []byte(user))
	b = appendLP(b, salt)
	b = binary.BigEndian.AppendUint32(b, p.MemoryKiB)
	b = binary.BigEndian.AppendUint32(b, p.Iterations)
	b = binary.BigEndian.AppendUint32(b, p.Parallelism)
	b = appendLP(b, verifier)
	b = appendLP(b, sealedKeys)
	b = binary.BigEndian.AppendUint32(b, epoch)
	return sha256.Sum256(b)
}

// RecoveryMessage returns the bytes a client signs with AuthKey to recover
// an account, and the server verifies against the stored public key:
//
//	"coffer/v1/recover" || 0x00 || LP(user) || LP(challenge) || digest
//
// The server's one-time challenge stops replay; digest (CredentialsDigest of
// the new credentials) stops the signature being used for other credentials.
// It returns nil if user or challenge is 4 GiB or longer.
func RecoveryMessage(user string, challenge []byte, digest [32]byte) []byte {
	if !fitsLP([]byte(user), challenge) {
		return nil
	}
	b := tagged(labelRecover)
	b = appendLP(b, []byte(user))
	b = appendLP(b, challenge)
	return append(b, digest[:]...)
}

// VerifyRecoveryMessage reports whether sig is authPub's signature over
// RecoveryMessage(user, challenge, digest). Unlike ed25519.Verify it does
// not panic on a public key of the wrong length, and it refuses an authPub
// that fails CheckEd25519PublicKey (small order or non-canonical), under
// which a trivial signature would verify.
func VerifyRecoveryMessage(authPub ed25519.PublicKey, user string, challenge []byte, digest [32]byte, sig []byte) bool {
	msg := RecoveryMessage(user, challenge, digest)
	if msg == nil {
		return false
	}
	return verifyEd25519(authPub, msg, sig) == nil
}

// PasswdBinding returns HMAC-SHA256(key=srpKey, "coffer/v1/passwd" || 0x00 ||
// digest). srpKey is the session key K of the SRP handshake that authorised
// a password change; the MAC ties the new credentials to that handshake.
func PasswdBinding(srpKey []byte, digest [32]byte) []byte {
	m := hmac.New(sha256.New, srpKey)
	m.Write(tagged(labelPasswd, digest[:]))
	return m.Sum(nil)
}

// VerifyPasswdBinding reports, in constant time, whether mac equals
// PasswdBinding(srpKey, digest).
func VerifyPasswdBinding(srpKey []byte, digest [32]byte, mac []byte) bool {
	return hmac.Equal(PasswdBinding(srpKey, digest), mac)
}
