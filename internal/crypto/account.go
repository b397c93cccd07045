package crypto

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes of account key material.
const (
	// SeedSize is the length of both private key seeds.
	SeedSize = 32
	// EncryptionPublicKeySize is the length of an X-Wing public key: an
	// ML-KEM-768 encapsulation key (1184 bytes) || an X25519 point (32).
	EncryptionPublicKeySize = 1216
	// AccountKeysSize is the length of a marshalled AccountKeys.
	AccountKeysSize = 1 + 2*SeedSize
	// SealedAccountKeysSize is the length of sealed account keys, under
	// either the KEK or the recovery key.
	SealedAccountKeysSize = envelopeOverhead + AccountKeysSize
)

const accountKeysVersion = 0x01

// ErrBadAccountKeys reports marshalled account keys that do not parse.
var ErrBadAccountKeys = errors.New("coffer/crypto: malformed account keys")

// kem is the HPKE KEM of account encryption keys: X-Wing (0x647a).
func kem() hpke.KEM { return hpke.MLKEM768X25519() }

// AccountKeys are a user's long-term private keys: an Ed25519 identity key
// that signs, and an HPKE X-Wing key that receives. Both are kept as 32-byte
// seeds, which is all Marshal stores.
type AccountKeys struct {
	identitySeed   [SeedSize]byte
	encryptionSeed [SeedSize]byte
	identity       ed25519.PrivateKey
	encryption     hpke.PrivateKey
	encryptionPub  []byte
}

// GenerateAccountKeys returns fresh random account keys.
func GenerateAccountKeys() (*AccountKeys, error) {
	var seeds [2 * SeedSize]byte
	defer clear(seeds[:])
	if _, err := rand.Read(seeds[:]); err != nil {
		return nil, fmt.Errorf("coffer/crypto: generate account keys: %w", err)
	}
	return NewAccountKeysFromSeeds(seeds[:SeedSize], seeds[SeedSize:])
}

// NewAccountKeysFromSeeds builds account keys from their two 32-byte seeds.
// The identity key is ed25519.NewKeyFromSeed(identitySeed). The encryption
// key is hpke.MLKEM768X25519().NewPrivateKey(encryptionSeed), which expands
// the seed with SHAKE256 as the X-Wing draft specifies; its Bytes method
// returns that same 32-byte seed.
func NewAccountKeysFromSeeds(identitySeed, encryptionSeed []byte) (*AccountKeys, error) {
	if len(identitySeed) != SeedSize || len(encryptionSeed) != SeedSize {
		return nil, fmt.Errorf("%w: seeds must be %d bytes", ErrBadAccountKeys, SeedSize)
	}
	enc, err := kem().NewPrivateKey(encryptionSeed)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: X-Wing key from seed: %w", err)
	}
	k := &AccountKeys{
		identity:      ed25519.NewKeyFromSeed(identitySeed),
		encryption:    enc,
		encryptionPub: enc.PublicKey().Bytes(),
	}
	copy(k.identitySeed[:], identitySeed)
	copy(k.encryptionSeed[:], encryptionSeed)
	return k, nil
}

// usable reports whether k holds keys, so that a nil, zero or wiped value
// yields errors instead of a panic inside crypto/ed25519.
func (k *AccountKeys) usable() bool {
	return k != nil && len(k.identity) == ed25519.PrivateKeySize && k.encryption != nil
}

// IdentityPublic returns the Ed25519 identity public key, or nil if k holds
// no keys (nil, zero value or wiped).
func (k *AccountKeys) IdentityPublic() ed25519.PublicKey {
	if !k.usable() {
		return nil
	}
	pub, _ := k.identity.Public().(ed25519.PublicKey)
	return pub
}

// EncryptionPublic returns the X-Wing public key bytes
// (EncryptionPublicKeySize long).
func (k *AccountKeys) EncryptionPublic() []byte {
	return append([]byte(nil), k.encryptionPub...)
}

// IdentityKey returns the Ed25519 identity private key, for the constructions
// that sign with it. The result is a copy.
func (k *AccountKeys) IdentityKey() ed25519.PrivateKey {
	return append(ed25519.PrivateKey(nil), k.identity...)
}

// EncryptionKey returns the HPKE X-Wing private key, for the constructions
// that receive with it. Its Bytes method exposes the seed without copying;
// callers must not modify the result.
func (k *AccountKeys) EncryptionKey() hpke.PrivateKey {
	return k.encryption
}

// Marshal returns version 0x01 || identity seed || X-Wing seed
// (AccountKeysSize bytes). The result is secret.
func (k *AccountKeys) Marshal() []byte {
	b := make([]byte, 0, AccountKeysSize)
	b = append(b, accountKeysVersion)
	b = append(b, k.identitySeed[:]...)
	return append(b, k.encryptionSeed[:]...)
}

// UnmarshalAccountKeys parses the output of Marshal.
func UnmarshalAccountKeys(b []byte) (*AccountKeys, error) {
	if len(b) > 0 && b[0] != accountKeysVersion {
		return nil, fmt.Errorf("%w: %w %#02x", ErrBadAccountKeys, ErrUnsupportedVersion, b[0])
	}
	if len(b) != AccountKeysSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadAccountKeys, len(b), AccountKeysSize)
	}
	return NewAccountKeysFromSeeds(b[1:1+SeedSize], b[1+SeedSize:])
}

// Wipe zeroes the private seeds and the identity key and drops the X-Wing
// key. It is best effort: the HPKE key's internal state cannot be reached.
// The keys are unusable afterwards.
func (k *AccountKeys) Wipe() {
	if k == nil {
		return
	}
	clear(k.identitySeed[:])
	clear(k.encryptionSeed[:])
	clear(k.identity)
	k.encryption = nil
}

// MatchesBundle reports whether b carries exactly these keys' public halves.
// A client calls it after unsealing its private keys at login, so that a
// server serving another user's sealed keys, or another bundle, is caught.
// It does not check b.User; OpenBundle already did.
func (k *AccountKeys) MatchesBundle(b *PublicBundle) bool {
	if !k.usable() || b == nil {
		return false
	}
	idOK := subtle.ConstantTimeCompare(k.IdentityPublic(), b.Identity)
	encOK := subtle.ConstantTimeCompare(k.encryptionPub, b.Encryption)
	return idOK&encOK == 1
}

// accountKeysAD is the AD fields of sealed account keys: LP(user) || epoch.
func accountKeysAD(user string, epoch uint32) ([]byte, error) {
	if !fitsLP([]byte(user)) {
		return nil, errors.New("user name too long")
	}
	b := appendLP(nil, []byte(user))
	return binary.BigEndian.AppendUint32(b, epoch), nil
}

// SealAccountKeys seals keys under the password KEK for user at credential
// epoch epoch. The epoch rises with every password change, so binding it lets
// a client that remembers the last epoch it saw reject a rolled-back blob.
func SealAccountKeys(kek [32]byte, user string, epoch uint32, keys *AccountKeys) ([]byte, error) {
	return sealAccountKeys(&kek, user, epoch, keys, nil)
}

func sealAccountKeys(kek *[32]byte, user string, epoch uint32, keys *AccountKeys, nonce *[nonceSize]byte) ([]byte, error) {
	if !keys.usable() {
		return nil, errors.New("coffer/crypto: seal account keys: no keys")
	}
	fields, err := accountKeysAD(user, epoch)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal account keys: %w", err)
	}
	pt := keys.Marshal()
	defer clear(pt)
	var sealed []byte
	if nonce == nil {
		sealed, err = sealEnvelope(kek, labelAccountKeys, fields, pt)
	} else {
		sealed, err = sealEnvelopeNonce(kek, nonce, labelAccountKeys, fields, pt)
	}
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal account keys for %q: %w", user, err)
	}
	return sealed, nil
}

// OpenAccountKeys opens keys sealed by SealAccountKeys with the same KEK, user
// and epoch. Any mismatch or tampering gives an error wrapping ErrDecrypt.
func OpenAccountKeys(kek [32]byte, user string, epoch uint32, sealed []byte) (*AccountKeys, error) {
	fields, err := accountKeysAD(user, epoch)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open account keys: %w", err)
	}
	pt, err := openEnvelope(&kek, labelAccountKeys, fields, sealed)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open account keys of %q at epoch %d: %w", user, epoch, err)
	}
	defer clear(pt)
	keys, err := UnmarshalAccountKeys(pt)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open account keys of %q at epoch %d: %w", user, epoch, err)
	}
	return keys, nil
}
