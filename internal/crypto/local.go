package crypto

import (
	"errors"
	"fmt"
)

// UnlockKeySize is the length of a session's unlock key.
const UnlockKeySize = 32

// localKeysAD is the AD fields of the local key cache:
// LP(server) || LP(user) || LP(sessionID).
func localKeysAD(server, user, sessionID string) ([]byte, error) {
	if !fitsLP([]byte(server), []byte(user), []byte(sessionID)) {
		return nil, errors.New("field too long")
	}
	b := appendLP(nil, []byte(server))
	b = appendLP(b, []byte(user))
	return appendLP(b, []byte(sessionID)), nil
}

// localKEK derives the cache key from the unlock key. Deriving, rather than
// using the unlock key directly, keeps the key separate from any other use
// the unlock key might be put to.
func localKEK(unlock []byte) ([32]byte, error) {
	if len(unlock) != UnlockKeySize {
		return [32]byte{}, fmt.Errorf("unlock key is %d bytes, want %d", len(unlock), UnlockKeySize)
	}
	return hkdf32(unlock, labelLocalKEK, "")
}

// SealLocalKeys seals keys for the device's local key cache under a key
// derived from unlock, a random per-session key the server keeps with the
// session. The cache on disk is thus useless once the session is revoked,
// and the server, which holds unlock but never the cache, learns nothing.
// The AD binds the server, user and session the cache belongs to.
func SealLocalKeys(unlock []byte, server, user, sessionID string, keys *AccountKeys) ([]byte, error) {
	return sealLocalKeys(unlock, server, user, sessionID, keys, nil)
}

func sealLocalKeys(unlock []byte, server, user, sessionID string, keys *AccountKeys, nonce *[nonceSize]byte) ([]byte, error) {
	if !keys.usable() {
		return nil, errors.New("coffer/crypto: seal local keys: no keys")
	}
	fields, err := localKeysAD(server, user, sessionID)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal local keys: %w", err)
	}
	key, err := localKEK(unlock)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal local keys: %w", err)
	}
	defer clear(key[:])
	pt := keys.Marshal()
	defer clear(pt)
	var sealed []byte
	if nonce == nil {
		sealed, err = sealEnvelope(&key, labelLocalKeys, fields, pt)
	} else {
		sealed, err = sealEnvelopeNonce(&key, nonce, labelLocalKeys, fields, pt)
	}
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal local keys for %q: %w", user, err)
	}
	return sealed, nil
}

// OpenLocalKeys opens a cache made by SealLocalKeys with the same unlock
// key, server, user and session. Any mismatch, tampering or an unlock key of
// the wrong length gives an error wrapping ErrDecrypt.
func OpenLocalKeys(unlock []byte, server, user, sessionID string, cache []byte) (*AccountKeys, error) {
	fields, err := localKeysAD(server, user, sessionID)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open local keys: %w", err)
	}
	key, err := localKEK(unlock)
	if err != nil {
		// The unlock key comes from the server; a malformed one is
		// treated like any other failure to open.
		return nil, fmt.Errorf("coffer/crypto: open local keys of %q: %w", user, ErrDecrypt)
	}
	defer clear(key[:])
	pt, err := openEnvelope(&key, labelLocalKeys, fields, cache)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open local keys of %q: %w", user, err)
	}
	defer clear(pt)
	keys, err := UnmarshalAccountKeys(pt)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open local keys of %q: %w", user, err)
	}
	return keys, nil
}
