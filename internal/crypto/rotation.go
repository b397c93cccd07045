package crypto

import (
	"crypto/hmac"
	"errors"
	"fmt"
)

// Key rotation (docs/crypto.md sections 11.6, 12.1 and 13.11): when an
// owner revokes a share member it may give every node of the shared subtree
// a new node key. A folder needs nothing more: its children are re-wrapped
// and their names re-sealed under its new key. A file's earlier revisions
// keep their content keys wrapped under the node keys the file had when
// they were written (their revision records are signed and immutable), so
// a rotated file's node record carries its earlier node keys, sealed under
// its current one: its key history.

const keyHistoryVersion = 0x01

// MaxKeyHistory is the most earlier keys a file's key history may hold:
// one per rotation of the file. It bounds a node record (a full history is
// a 2078-byte envelope). A file that already holds MaxKeyHistory earlier
// keys cannot be rotated again: SealKeyHistory refuses a longer list
// rather than drop the oldest key, because that key may be the only one
// that opens the content keys of the file's oldest revisions, which would
// silently become unreadable. The client must instead re-upload the file
// as a new node (a new ID and key, no history) with the revisions worth
// keeping, and delete the old one (docs/crypto.md section 13.11).
const MaxKeyHistory = 64

// Sizes of a sealed key history: an envelope of 0x01 || n keys of 32
// bytes, n = 1..MaxKeyHistory, so 62 + 32(n - 1) bytes.
const (
	// SealedKeyHistoryMinSize is the size of a sealed history of one key.
	SealedKeyHistoryMinSize = envelopeOverhead + 1 + 32
	// SealedKeyHistoryMaxSize is the size of a sealed history of
	// MaxKeyHistory keys.
	SealedKeyHistoryMaxSize = envelopeOverhead + 1 + 32*MaxKeyHistory
)

// IsSealedKeyHistorySize reports whether n is the length of a sealed key
// history (SealKeyHistory): envelope overhead (29) + 1 + 32k bytes for
// k = 1..MaxKeyHistory. NodeRecord.Validate requires it of a non-empty
// KeyHistory.
func IsSealedKeyHistorySize(n int) bool {
	return n >= SealedKeyHistoryMinSize && n <= SealedKeyHistoryMaxSize &&
		(n-SealedKeyHistoryMinSize)%32 == 0
}

// keyHistoryFields checks the IDs and returns LP(volume) || LP(node).
func keyHistoryFields(volume, node []byte) ([]byte, error) {
	if err := checkID("volume ID", volume); err != nil {
		return nil, err
	}
	if err := checkID("node ID", node); err != nil {
		return nil, err
	}
	return idFields(volume, node), nil
}

// checkKeyList reports why keys cannot be a key history: not 1 to
// MaxKeyHistory keys, an all-zero key (a NodeKey left unset), or a key
// listed twice.
func checkKeyList(keys []NodeKey) error {
	if len(keys) == 0 || len(keys) > MaxKeyHistory {
		return fmt.Errorf("%d earlier keys, want 1 to %d", len(keys), MaxKeyHistory)
	}
	for i, k := range keys {
		if k == (NodeKey{}) {
			return fmt.Errorf("earlier key %d is all zeros", i)
		}
		for j := range i {
			if keys[j] == k {
				return fmt.Errorf("earlier keys %d and %d are the same key", j, i)
			}
		}
	}
	return nil
}

// SealKeyHistory seals a file's earlier node keys, newest first, under its
// current node keys (current = the file's new key, Derive'd): an envelope
// (version, random nonce, AES-256-GCM) under the sub-key
// HKDF(current node key, tagged("coffer/v1/key-history-wrap", "")) with
// AD = tagged("coffer/v1/key-history", LP(volume) || LP(node)) of the
// plaintext 0x01 || previous[0] || previous[1] || ... (32 bytes each). The
// result is the KeyHistory of the file's node record, IsSealedKeyHistorySize
// bytes.
//
// On a rotation, previous is the key the file had until now followed by
// the keys of its old history (OpenKeyHistory under that key), so that
// every revision the file ever had still opens (docs/crypto.md section
// 13.11). It must hold 1 to MaxKeyHistory keys, none of them all zeros,
// none twice, and not the current key; otherwise SealKeyHistory refuses,
// and in particular it never drops a key to make room.
//
// The AD binds the volume and node but not the parent, so a move keeps
// the history as it is; it needs no other binding, since each node key
// seals one history only (the one made when that key was made).
func SealKeyHistory(current *NodeKeys, volume, node []byte, previous []NodeKey) ([]byte, error) {
	return sealKeyHistory(current, volume, node, previous, nil)
}

func sealKeyHistory(current *NodeKeys, volume, node []byte, previous []NodeKey, nonce *[nonceSize]byte) ([]byte, error) {
	fields, err := keyHistoryFields(volume, node)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal key history: %w", err)
	}
	if !current.usable() || current.history == nil {
		return nil, fmt.Errorf("coffer/crypto: seal key history of node %x: %w", node, errNoNodeKeys)
	}
	if err := checkKeyList(previous); err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal key history of node %x: %w", node, err)
	}
	// The current key is not held by NodeKeys; its name-hash sub-key is,
	// and equal sub-keys mean equal keys (HKDF is a PRF).
	for i, k := range previous {
		hk, err := hkdf32(k[:], labelNameHashKey, "")
		if err != nil {
			return nil, fmt.Errorf("coffer/crypto: seal key history of node %x: %w", node, err)
		}
		same := hmac.Equal(hk[:], current.nameHash[:])
		clear(hk[:])
		if same {
			return nil, fmt.Errorf("coffer/crypto: seal key history of node %x: earlier key %d is the current key", node, i)
		}
	}
	pt := make([]byte, 0, 1+32*len(previous))
	pt = append(pt, keyHistoryVersion)
	for _, k := range previous {
		pt = append(pt, k[:]...)
	}
	defer clear(pt)
	sealed, err := sealWith(current.history, nonce, labelKeyHistory, fields, pt)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal key history of node %x: %w", node, err)
	}
	return sealed, nil
}

var errBadKeyHistory = errors.New("not a key history")

// OpenKeyHistory opens a key history sealed by SealKeyHistory under the
// same current node keys, volume and node, and returns the earlier keys,
// newest first. A history changed in any byte, truncated or empty, sealed
// for another node or volume, or under another key gives an error wrapping
// ErrDecrypt, and no keys; so does a plaintext that is not 0x01 followed
// by 1 to MaxKeyHistory distinct keys that are not all zeros.
//
// To read a revision of the file, try its sealed content key
// (OpenContentKey) under the current keys first, then under each earlier
// key in this order; the first that opens is the right one (docs/crypto.md
// section 12.1). The caller clears the keys when done.
func OpenKeyHistory(current *NodeKeys, volume, node []byte, sealed []byte) ([]NodeKey, error) {
	fields, err := keyHistoryFields(volume, node)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open key history: %w", err)
	}
	if !current.usable() || current.history == nil {
		return nil, fmt.Errorf("coffer/crypto: open key history of node %x: %w", node, errNoNodeKeys)
	}
	// A history of a size SealKeyHistory never makes is refused before
	// decrypting; an unknown version byte is left to openWith, which
	// reports it as such.
	if n := len(sealed); !IsSealedKeyHistorySize(n) && (n == 0 || sealed[0] == envelopeVersion) {
		return nil, fmt.Errorf("coffer/crypto: open key history of node %x: %w", node, ErrDecrypt)
	}
	pt, err := openWith(current.history, labelKeyHistory, fields, sealed)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open key history of node %x: %w", node, err)
	}
	defer clear(pt)
	if len(pt) < 1+32 || (len(pt)-1)%32 != 0 || pt[0] != keyHistoryVersion {
		return nil, fmt.Errorf("coffer/crypto: open key history of node %x: %w: %w", node, ErrDecrypt, errBadKeyHistory)
	}
	keys := make([]NodeKey, (len(pt)-1)/32)
	for i := range keys {
		keys[i] = NodeKey(pt[1+32*i : 1+32*(i+1)])
	}
	if err := checkKeyList(keys); err != nil {
		clear(keys)
		return nil, fmt.Errorf("coffer/crypto: open key history of node %x: %w: %w: %w", node, ErrDecrypt, errBadKeyHistory, err)
	}
	return keys, nil
}
