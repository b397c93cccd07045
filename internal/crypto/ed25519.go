package crypto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
)

// ErrBadEd25519Key reports an Ed25519 public key that must not be trusted:
// wrong length, not a point on the curve, not canonically encoded, or of
// small order. Errors from OpenBundle for such a key wrap it as well as
// ErrBadBundle.
var ErrBadEd25519Key = errors.New("coffer/crypto: unacceptable Ed25519 public key")

// CheckEd25519PublicKey reports whether pub may be accepted as an Ed25519
// public key from outside (a bundle, the server, another user). Every
// Ed25519 public key that this package did not derive itself must pass it
// before a signature is verified under it.
//
// It requires 32 bytes that are the canonical encoding of a point on the
// curve (y < 2^255-19, and no sign bit on x = 0: decoding and re-encoding
// gives the same bytes) and that the point does not have small order
// ([8]A is not the identity). crypto/ed25519.Verify checks neither: under
// any of the 8 small-order points, or a non-canonical encoding of one, the
// signature R = identity, S = 0 verifies for many messages, and under the
// identity point for every message, so a key like that proves nothing.
// Honest keys, [a]B for a secret scalar a, always pass.
func CheckEd25519PublicKey(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadEd25519Key, len(pub), ed25519.PublicKeySize)
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return fmt.Errorf("%w: not a point on the curve", ErrBadEd25519Key)
	}
	// SetBytes accepts non-canonical encodings (y >= 2^255-19, or x = 0
	// with the sign bit set); re-encoding exposes them.
	if !bytes.Equal(p.Bytes(), pub) {
		return fmt.Errorf("%w: non-canonical encoding", ErrBadEd25519Key)
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return fmt.Errorf("%w: point of small order", ErrBadEd25519Key)
	}
	return nil
}

// verifyEd25519 checks pub with CheckEd25519PublicKey, then sig over msg
// with crypto/ed25519 (cofactorless equation, S < L required, R compared
// as bytes so a non-canonical R fails). It never panics.
func verifyEd25519(pub, msg, sig []byte) error {
	if err := CheckEd25519PublicKey(pub); err != nil {
		return err
	}
	if !ed25519.Verify(pub, msg, sig) {
		return errors.New("signature does not verify")
	}
	return nil
}

// VerifyKey is an Ed25519 public key that has passed
// CheckEd25519PublicKey. Checking a key costs about a tenth of a signature
// verification; a client listing thousands of records by one author checks
// the key once and verifies every record with VerifyWith.
type VerifyKey struct {
	pub ed25519.PublicKey
}

// NewVerifyKey checks pub and returns it as a VerifyKey.
func NewVerifyKey(pub []byte) (VerifyKey, error) {
	if err := CheckEd25519PublicKey(pub); err != nil {
		return VerifyKey{}, err
	}
	return VerifyKey{pub: bytes.Clone(pub)}, nil
}

// Public returns the key.
func (k VerifyKey) Public() ed25519.PublicKey { return k.pub }

func (k VerifyKey) verify(msg, sig []byte) error {
	if k.pub == nil {
		return errors.New("no key (a zero VerifyKey)")
	}
	if !ed25519.Verify(k.pub, msg, sig) {
		return errors.New("signature does not verify")
	}
	return nil
}
