package crypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sizes of the tree's sealed keys.
const (
	// SealedNodeKeySize is the length of a child's node key wrapped under
	// its parent (WrapNodeKey): an envelope of 32 bytes.
	SealedNodeKeySize = envelopeOverhead + 32
	// SealedRootKeySize is the length of a root key sealed to its owner
	// (SealRootKey): version || X-Wing enc (1120) || 32 bytes || GCM tag.
	SealedRootKeySize = hpkeOverhead + 32
)

// NodeKey is the random 256-bit key of one node (folder or file). It never
// encrypts anything itself: Derive expands it into one sub-key per use, so
// that no key is ever used in two constructions.
type NodeKey [32]byte

// NewNodeKey returns a fresh random node key. Clients call it only when
// they create a node, never to replace a key that fails to open: that is
// the "empty key list" attack [10], and it must be an error instead.
func NewNodeKey() (NodeKey, error) {
	var k NodeKey
	if _, err := rand.Read(k[:]); err != nil {
		return NodeKey{}, fmt.Errorf("coffer/crypto: generate node key: %w", err)
	}
	return k, nil
}

// NodeKeys holds the sub-keys derived from one node key, ready to use:
// AES-256-GCM instances whose key schedule is computed once, so that
// listing a folder of many children derives the folder's keys once and
// then spends only an AES-GCM open per child. It is read-only after
// Derive and may be shared between goroutines (Go's AES-GCM keeps no
// per-call state). The zero value and nil hold no keys, and every function
// given one returns an error.
type NodeKeys struct {
	wrap     cipher.AEAD // "coffer/v1/node-key-wrap": children's node keys
	name     cipher.AEAD // "coffer/v1/name-key": children's names
	nameHash [32]byte    // "coffer/v1/name-hash-key": children's name hashes
	content  cipher.AEAD // "coffer/v1/content-key-wrap": this node's content keys
	inbox    cipher.AEAD // "coffer/v1/inbox-key-wrap": this folder's inbox private key (share.go)
	history  cipher.AEAD // "coffer/v1/key-history-wrap": this file's earlier node keys (rotation.go)
}

// Derive computes the node's sub-keys, each
// HKDF-SHA256(ikm = node key, salt = empty, info = tagged(label, "")):
//
//	"coffer/v1/node-key-wrap"    wraps the children's node keys
//	"coffer/v1/name-key"         seals the children's names
//	"coffer/v1/name-hash-key"    HMAC key of the children's name hashes
//	"coffer/v1/content-key-wrap" wraps this node's revision content keys
//	"coffer/v1/inbox-key-wrap"   seals this folder's inbox private key
//	"coffer/v1/key-history-wrap" seals this file's earlier node keys (SealKeyHistory)
func (k NodeKey) Derive() (*NodeKeys, error) {
	var nk NodeKeys
	var err error
	if nk.wrap, err = deriveGCM(k[:], labelNodeKeyWrap); err != nil {
		return nil, err
	}
	if nk.name, err = deriveGCM(k[:], labelNameKey); err != nil {
		return nil, err
	}
	if nk.content, err = deriveGCM(k[:], labelContentKeyWrap); err != nil {
		return nil, err
	}
	if nk.inbox, err = deriveGCM(k[:], labelInboxKeyWrap); err != nil {
		return nil, err
	}
	if nk.history, err = deriveGCM(k[:], labelKeyHistoryWrap); err != nil {
		return nil, err
	}
	if nk.nameHash, err = hkdf32(k[:], labelNameHashKey, ""); err != nil {
		return nil, fmt.Errorf("coffer/crypto: derive name hash key: %w", err)
	}
	return &nk, nil
}

// deriveGCM returns AES-256-GCM under HKDF(ikm, tagged(label, ""), 32).
func deriveGCM(ikm []byte, label string) (cipher.AEAD, error) {
	key, err := hkdf32(ikm, label, "")
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: derive %s: %w", label, err)
	}
	defer clear(key[:])
	return newGCM(&key)
}

// usable reports whether k holds derived keys, so that nil or a zero
// NodeKeys gives an error rather than a nil-interface panic.
func (k *NodeKeys) usable() bool {
	return k != nil && k.wrap != nil && k.name != nil && k.content != nil
}

var errNoNodeKeys = errors.New("no node keys (nil or not derived)")

// NodeRef names a node by its place in the tree: the volume, the parent
// folder and the node itself, each IDSize bytes. Parent is empty only for
// a volume's root folder. Everything sealed under a parent's key for one
// child is bound to the whole NodeRef, so the server cannot move it to
// another folder, another child or another volume.
type NodeRef struct {
	Volume, Parent, Node []byte
}

// checkChild checks a NodeRef of a node that has a parent.
func (ref NodeRef) checkChild() error {
	if err := checkID("volume ID", ref.Volume); err != nil {
		return err
	}
	if err := checkID("parent ID", ref.Parent); err != nil {
		return err
	}
	if err := checkID("node ID", ref.Node); err != nil {
		return err
	}
	if bytes.Equal(ref.Parent, ref.Node) {
		return errors.New("node is its own parent")
	}
	return nil
}

// fields returns LP(volume) || LP(parent) || LP(node).
func (ref NodeRef) fields() []byte { return idFields(ref.Volume, ref.Parent, ref.Node) }

// WrapNodeKey seals a child's node key under its parent folder's
// node-key-wrap sub-key, in an envelope (version, random nonce,
// AES-256-GCM) with AD = tagged("coffer/v1/node-key", LP(volume) ||
// LP(parent) || LP(node)). The result is SealedNodeKeySize bytes.
func WrapNodeKey(parent *NodeKeys, ref NodeRef, child NodeKey) ([]byte, error) {
	return wrapNodeKey(parent, ref, child, nil)
}

func wrapNodeKey(parent *NodeKeys, ref NodeRef, child NodeKey, nonce *[nonceSize]byte) ([]byte, error) {
	if err := ref.checkChild(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: wrap node key: %w", err)
	}
	if !parent.usable() {
		return nil, fmt.Errorf("coffer/crypto: wrap key of node %x: %w", ref.Node, errNoNodeKeys)
	}
	sealed, err := sealWith(parent.wrap, nonce, labelNodeKey, ref.fields(), child[:])
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: wrap key of node %x: %w", ref.Node, err)
	}
	return sealed, nil
}

// UnwrapNodeKey opens a child's node key wrapped by WrapNodeKey under the
// same parent keys and NodeRef. A key moved to another folder, node or
// volume, wrapped under another parent's key, or changed in any byte gives
// an error wrapping ErrDecrypt. The caller must then fail; it must never
// make a new key in its place [10].
func UnwrapNodeKey(parent *NodeKeys, ref NodeRef, sealed []byte) (NodeKey, error) {
	if err := ref.checkChild(); err != nil {
		return NodeKey{}, fmt.Errorf("coffer/crypto: unwrap node key: %w", err)
	}
	if !parent.usable() {
		return NodeKey{}, fmt.Errorf("coffer/crypto: unwrap key of node %x: %w", ref.Node, errNoNodeKeys)
	}
	pt, err := openWith(parent.wrap, labelNodeKey, ref.fields(), sealed)
	if err == nil && len(pt) != len(NodeKey{}) {
		err = ErrDecrypt
	}
	if err != nil {
		clear(pt)
		return NodeKey{}, fmt.Errorf("coffer/crypto: unwrap key of node %x: %w", ref.Node, err)
	}
	k := NodeKey(pt)
	clear(pt)
	return k, nil
}

// rootKeyInfo is LP(volume) || LP(node), the HPKE info context of a root key.
func rootKeyInfo(volume, node []byte) ([]byte, error) {
	if err := checkID("volume ID", volume); err != nil {
		return nil, err
	}
	if err := checkID("node ID", node); err != nil {
		return nil, err
	}
	return idFields(volume, node), nil
}

// SealRootKey seals the node key of a volume's root folder to the owner's
// own X-Wing encryption public key, so that only the owner's account keys
// open it and the server, which stores it, cannot. It is version 0x01 ||
// HPKE base-mode Seal (X-Wing, HKDF-SHA256, AES-256-GCM) with info =
// tagged("coffer/v1/root-key", LP(volume) || LP(node)); SealedRootKeySize
// bytes. Public-key operations stay at the edges of the tree: everything
// below the root is wrapped with symmetric keys.
func SealRootKey(ownerEncryptionPublic []byte, volume, node []byte, key NodeKey) ([]byte, error) {
	info, err := rootKeyInfo(volume, node)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal root key: %w", err)
	}
	sealed, err := hpkeSeal(ownerEncryptionPublic, labelRootKey, info, key[:])
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal root key of volume %x: %w", volume, err)
	}
	return sealed, nil
}

// OpenRootKey opens a root key sealed by SealRootKey to keys' encryption
// key for the same volume and node. A key sealed for another volume or
// node, to another user, or changed in any byte gives an error wrapping
// ErrDecrypt.
func OpenRootKey(keys *AccountKeys, volume, node []byte, sealed []byte) (NodeKey, error) {
	info, err := rootKeyInfo(volume, node)
	if err != nil {
		return NodeKey{}, fmt.Errorf("coffer/crypto: open root key: %w", err)
	}
	if !keys.usable() {
		return NodeKey{}, fmt.Errorf("coffer/crypto: open root key of volume %x: no account keys", volume)
	}
	pt, err := hpkeOpen(keys.encryption, labelRootKey, info, sealed)
	if err == nil && len(pt) != len(NodeKey{}) {
		err = ErrDecrypt
	}
	if err != nil {
		clear(pt)
		return NodeKey{}, fmt.Errorf("coffer/crypto: open root key of volume %x: %w", volume, err)
	}
	k := NodeKey(pt)
	clear(pt)
	return k, nil
}
