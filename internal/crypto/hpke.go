package crypto

import (
	"crypto/hpke"
	"fmt"
)

// HPKE seal layout: version || enc (X-Wing ciphertext) || AES-256-GCM
// ciphertext || tag, in HPKE base mode with suite X-Wing (KEM 0x647a),
// HKDF-SHA256 (KDF 0x0001) and AES-256-GCM (AEAD 0x0002).
const (
	hpkeVersion = 0x01
	// xwingEncSize is the X-Wing encapsulation: ML-KEM-768 ciphertext
	// (1088 bytes) || X25519 ephemeral public key (32).
	xwingEncSize = 1120
	hpkeOverhead = 1 + xwingEncSize + tagSize
)

// hpkeSeal seals plaintext to the X-Wing public key pub, in HPKE base mode
// with info = tagged(label, ctx) and no AAD: the info is bound into the
// key schedule, so a ciphertext opened under another label or context
// fails. It is the one place where a key is sealed to a public key, so
// that the root key now and shares later are built the same way.
func hpkeSeal(pub []byte, label string, ctx, plaintext []byte) ([]byte, error) {
	pk, err := kem().NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("recipient public key does not parse: %w", err)
	}
	ct, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), tagged(label, ctx), plaintext)
	if err != nil {
		return nil, fmt.Errorf("HPKE seal: %w", err)
	}
	out := make([]byte, 0, 1+len(ct))
	out = append(out, hpkeVersion)
	return append(out, ct...), nil
}

// hpkeOpen opens what hpkeSeal made for priv's public key with the same
// label and ctx. Every failure is ErrDecrypt (an unknown version byte also
// wraps ErrUnsupportedVersion), like an envelope.
func hpkeOpen(priv hpke.PrivateKey, label string, ctx, sealed []byte) ([]byte, error) {
	if len(sealed) > 0 && sealed[0] != hpkeVersion {
		return nil, fmt.Errorf("%w: %w %#02x", ErrDecrypt, ErrUnsupportedVersion, sealed[0])
	}
	if len(sealed) < hpkeOverhead || priv == nil {
		return nil, ErrDecrypt
	}
	pt, err := hpke.Open(priv, hpke.HKDFSHA256(), hpke.AES256GCM(), tagged(label, ctx), sealed[1:])
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
