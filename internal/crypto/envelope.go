package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Envelope layout: version || nonce || AES-256-GCM(ciphertext || tag).
const (
	envelopeVersion  = 0x01
	nonceSize        = 12
	tagSize          = 16
	envelopeOverhead = 1 + nonceSize + tagSize
)

var (
	// ErrDecrypt is the one error for a sealed object that does not open:
	// wrong key, wrong associated data, tampered or truncated bytes. Callers
	// must not try to tell these apart, and the package gives them no way
	// to, so errors cannot serve as an oracle.
	ErrDecrypt = errors.New("coffer/crypto: decryption failed")
	// ErrUnsupportedVersion reports a version byte this code does not know.
	// Errors that wrap it also wrap ErrDecrypt or ErrBadBundle, so a check
	// for those fails closed on unknown versions too.
	ErrUnsupportedVersion = errors.New("coffer/crypto: unsupported version")
)

// envelopeAD is the associated data of an envelope: label || 0x00 || fields.
func envelopeAD(label string, fields []byte) []byte {
	return tagged(label, fields)
}

// sealEnvelope seals plaintext under key with a fresh random nonce. A random
// 96-bit nonce is safe here because each key seals only a handful of
// objects over its life (one per password change or recovery).
func sealEnvelope(key *[32]byte, label string, fields, plaintext []byte) ([]byte, error) {
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	return sealEnvelopeNonce(key, &nonce, label, fields, plaintext)
}

// sealEnvelopeNonce is sealEnvelope with a caller-chosen nonce. It exists
// only so that test vectors are deterministic; nothing exported reaches it
// with a fixed nonce except GenerateVectors.
func sealEnvelopeNonce(key *[32]byte, nonce *[nonceSize]byte, label string, fields, plaintext []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return sealWith(aead, nonce, label, fields, plaintext)
}

// openEnvelope opens an envelope made by sealEnvelope with the same key,
// label and fields. Every failure is ErrDecrypt; an unknown version byte
// additionally wraps ErrUnsupportedVersion, which reveals nothing secret
// because the version byte is public.
func openEnvelope(key *[32]byte, label string, fields, sealed []byte) ([]byte, error) {
	if len(sealed) > 0 && sealed[0] != envelopeVersion {
		return nil, fmt.Errorf("%w: %w %#02x", ErrDecrypt, ErrUnsupportedVersion, sealed[0])
	}
	if len(sealed) < envelopeOverhead {
		return nil, ErrDecrypt
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return openWith(aead, label, fields, sealed)
}

// sealWith seals an envelope with an AES-256-GCM instance the caller keeps
// (NodeKeys holds its sub-keys this way, so that a listing does not redo
// the AES key schedule per child). The nonce is random unless nonce is
// non-nil, which only the vector generator does.
func sealWith(aead cipher.AEAD, nonce *[nonceSize]byte, label string, fields, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, envelopeOverhead+len(plaintext))
	out[0] = envelopeVersion
	if nonce == nil {
		if _, err := rand.Read(out[1:]); err != nil {
			return nil, fmt.Errorf("generate nonce: %w", err)
		}
	} else {
		copy(out[1:], nonce[:])
	}
	// Seal appends after len(out), so reading the nonce from out is safe.
	return aead.Seal(out, out[1:1+nonceSize], plaintext, envelopeAD(label, fields)), nil
}

// openWith is openEnvelope with a caller-kept AES-256-GCM instance.
func openWith(aead cipher.AEAD, label string, fields, sealed []byte) ([]byte, error) {
	if len(sealed) > 0 && sealed[0] != envelopeVersion {
		return nil, fmt.Errorf("%w: %w %#02x", ErrDecrypt, ErrUnsupportedVersion, sealed[0])
	}
	if len(sealed) < envelopeOverhead {
		return nil, ErrDecrypt
	}
	pt, err := aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], envelopeAD(label, fields))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func newGCM(key *[32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: AES: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: GCM: %w", err)
	}
	return aead, nil
}
