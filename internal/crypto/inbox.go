package crypto

import (
	"bytes"
	"fmt"
	"math"
)

// Inbox uploads into a write-only folder, and uploader grants
// (docs/crypto.md sections 13.9 and 13.10).

const (
	inboxDropVersion     = 0x01
	uploaderGrantVersion = 0x01
)

// Sizes of inbox drops and uploader grants.
const (
	// SealedInboxDropMinSize and SealedInboxDropMaxSize bound a sealed
	// inbox drop (SealInboxDrop), the SealedKey of a drop record: HPKE
	// overhead (1137) || version || node key (32) || a padded name of one
	// to nine 32-byte buckets, so 1170 + 32k bytes for k = 1..9. Only
	// those ten sizes occur (IsSealedInboxDropSize).
	SealedInboxDropMinSize = hpkeOverhead + 1 + 32 + namePad
	SealedInboxDropMaxSize = hpkeOverhead + 1 + 32 + (2+MaxNameLen+namePad-1)/namePad*namePad
	// minSealedUploaderGrantSize and maxSealedUploaderGrantSize bound an
	// uploader grant: HPKE overhead || version || a padded name of one to
	// nine buckets, 1138 + 32k bytes for k = 1..9.
	minSealedUploaderGrantSize = hpkeOverhead + 1 + namePad
	maxSealedUploaderGrantSize = hpkeOverhead + 1 + (2+MaxNameLen+namePad-1)/namePad*namePad
)

// IsSealedInboxDropSize reports whether n is the length of a sealed inbox
// drop: 1170 + 32k bytes for k = 1..9 (1202 to 1458). NodeRecord.Validate
// requires it of a drop record's SealedKey.
func IsSealedInboxDropSize(n int) bool {
	return n >= SealedInboxDropMinSize && n <= SealedInboxDropMaxSize &&
		(n-SealedInboxDropMinSize)%namePad == 0
}

// SealInboxDrop seals a new child's node key and name to its folder's
// inbox public key (ShareList.InboxPublic of the verified list), for an
// uploader who may add files to the folder but not read it:
// 0x01 || HPKE base-mode Seal (same suite as SealShareGrant) with info =
// tagged("coffer/v1/inbox-drop", LP(volume) || LP(parent) || LP(node)) of
// the plaintext 0x01 || node key (32) || u16(len) || NFC name || zero
// padding to the next multiple of 32 bytes. The name is normalised and
// refused (ErrBadName) as SealName does; an all-zero key (a NodeKey left
// unset) is refused. The result is SealedInboxDropMinSize to
// SealedInboxDropMaxSize bytes and is the SealedKey of a drop record
// (NodeRecord.IsDrop), whose SealedName is empty.
//
// The uploader makes the child's node key itself (NewNodeKey), wraps its
// revisions' content keys under it as usual, and keeps it: it can read
// what it wrote, and nothing else in the folder.
func SealInboxDrop(inboxPublic []byte, ref NodeRef, key NodeKey, name string) ([]byte, error) {
	if err := ref.checkChild(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal inbox drop: %w", err)
	}
	n, err := NormalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal inbox drop of node %x: %w", ref.Node, err)
	}
	if key == (NodeKey{}) {
		return nil, fmt.Errorf("coffer/crypto: seal inbox drop of node %x: all-zero node key", ref.Node)
	}
	if len(inboxPublic) != EncryptionPublicKeySize {
		return nil, fmt.Errorf("coffer/crypto: seal inbox drop of node %x: inbox public key is %d bytes, want %d", ref.Node, len(inboxPublic), EncryptionPublicKeySize)
	}
	pt := make([]byte, 0, 1+len(key)+2+len(n)+namePad)
	pt = append(pt, inboxDropVersion)
	pt = append(pt, key[:]...)
	pt = append(pt, namePlaintext(n)...)
	defer clear(pt)
	sealed, err := hpkeSeal(inboxPublic, labelInboxDrop, ref.fields(), pt)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal inbox drop of node %x: %w", ref.Node, err)
	}
	return sealed, nil
}

// OpenInboxDrop opens a drop sealed by SealInboxDrop with the folder's
// inbox key (OpenInboxKey) under the same NodeRef, and returns the child's
// node key and name. A drop changed in any byte, sealed for another
// volume, parent or node, or to another inbox key, or whose plaintext is
// not canonical, gives an error wrapping ErrDecrypt (a non-canonical name
// also ErrBadName), and no key.
//
// HPKE does not authenticate the sender: anyone who knows the inbox public
// key, the server included, can seal a drop that opens. A drop is trusted
// only as the SealedKey of a drop record that verifies under the pinned
// key of a member allowed to add files to the folder (docs/crypto.md
// section 13.9), never on its own.
func OpenInboxDrop(inbox *InboxKey, ref NodeRef, sealed []byte) (NodeKey, string, error) {
	if err := ref.checkChild(); err != nil {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open inbox drop: %w", err)
	}
	if !inbox.usable() {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open inbox drop of node %x: no inbox key", ref.Node)
	}
	// A drop of a size SealInboxDrop never makes is refused before the
	// X-Wing decapsulation; an unknown version byte is left to hpkeOpen,
	// which reports it as such.
	if n := len(sealed); !IsSealedInboxDropSize(n) && (n == 0 || sealed[0] == hpkeVersion) {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open inbox drop of node %x: %w", ref.Node, ErrDecrypt)
	}
	pt, err := hpkeOpen(inbox.priv, labelInboxDrop, ref.fields(), sealed)
	if err != nil {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open inbox drop of node %x: %w", ref.Node, err)
	}
	defer clear(pt)
	if len(pt) < 1+32 || pt[0] != inboxDropVersion {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open inbox drop of node %x: %w", ref.Node, ErrDecrypt)
	}
	name, err := parseNamePlaintext(pt[1+32:])
	if err != nil {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open inbox drop of node %x: %w: %w: %w", ref.Node, ErrDecrypt, ErrBadName, err)
	}
	return NodeKey(pt[1 : 1+32]), name, nil
}

// AdoptDrop turns a verified drop record into the ordinary record that a
// writer of the folder (owner or editor) signs to adopt it: it opens the
// drop with the folder's inbox key, re-wraps the same node key under the
// folder's keys (WrapNodeKey; never a new key), seals name (the dropped
// name, or another one to resolve a clash) with SealName and its
// NameHash, sets Author to author and Version to the drop's Version + 1,
// and keeps the head revision fields, so that the record vouches for the
// uploader's revision through RevisionDigest. The caller verifies the drop
// record and its author first, and then signs the result.
func AdoptDrop(folder *NodeKeys, inbox *InboxKey, drop *NodeRecord, name, author string) (*NodeRecord, error) {
	if err := drop.Validate(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: adopt drop: %w", err)
	}
	if !drop.IsDrop() {
		return nil, fmt.Errorf("coffer/crypto: adopt drop: node record %x is not an inbox drop: %w", drop.Node, ErrBadRecord)
	}
	if drop.Version == math.MaxUint64 {
		return nil, fmt.Errorf("coffer/crypto: adopt drop %x: version would overflow: %w", drop.Node, ErrBadRecord)
	}
	ref := drop.Ref()
	key, _, err := OpenInboxDrop(inbox, ref, drop.SealedKey)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: adopt drop: %w", err)
	}
	defer clear(key[:])
	n, err := NormalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: adopt drop %x: %w", drop.Node, err)
	}
	sealedKey, err := WrapNodeKey(folder, ref, key)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: adopt drop: %w", err)
	}
	sealedName, err := SealName(folder, ref, n)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: adopt drop: %w", err)
	}
	r := cloneNodeRecord(drop)
	r.NameHash = NameHash(folder, n)
	r.SealedName, r.SealedKey = sealedName, sealedKey
	r.Author, r.Version = author, drop.Version+1
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: adopt drop: %w", err)
	}
	return r, nil
}

// SealUploaderGrant seals the name a folder is shared under to an
// uploader's X-Wing encryption public key (from the uploader's pinned
// bundle), so that the uploader can show it: 0x01 || HPKE base-mode Seal
// (same suite as SealShareGrant) with info =
// tagged("coffer/v1/uploader-grant", LP(share) || LP(volume) || LP(node)
// || LP(member)) of the plaintext 0x01 || u16(len) || NFC name || zero
// padding to the next multiple of 32 bytes. It carries no key: an
// uploader never holds the folder's node key, and ref.KeyCheck is ignored
// (it may be zero or the list's). The name is normalised and refused
// (ErrBadName) as SealName does.
//
// Its label differs from a share grant's, so neither opens as the other.
func SealUploaderGrant(memberEncryptionPublic []byte, ref GrantRef, name string) ([]byte, error) {
	info, err := ref.fields()
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal uploader grant: %w", err)
	}
	n, err := NormalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal uploader grant of share %x: %w", ref.Share, err)
	}
	pt := make([]byte, 0, 1+2+len(n)+namePad)
	pt = append(pt, uploaderGrantVersion)
	pt = append(pt, namePlaintext(n)...)
	defer clear(pt)
	sealed, err := hpkeSeal(memberEncryptionPublic, labelUploaderGrant, info, pt)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal uploader grant of share %x for %q: %w", ref.Share, ref.Member, err)
	}
	return sealed, nil
}

// OpenUploaderGrant opens an uploader grant sealed by SealUploaderGrant to
// keys' encryption key under the same share, volume, node and member
// (ref.KeyCheck is ignored), and returns the name. A grant changed in any
// byte, sealed under another ref or to another recipient, or whose
// plaintext is not canonical gives an error wrapping ErrDecrypt (a
// non-canonical name also ErrBadName).
//
// HPKE base mode does not authenticate the sender and the grant holds no
// key to check, so the name is only a label that anyone, the server
// included, could have sealed. Everything that matters to an upload (the
// share, volume, folder and inbox public key) comes from the verified
// share list, never from this grant.
func OpenUploaderGrant(keys *AccountKeys, ref GrantRef, sealed []byte) (string, error) {
	info, err := ref.fields()
	if err != nil {
		return "", fmt.Errorf("coffer/crypto: open uploader grant: %w", err)
	}
	if !keys.usable() {
		return "", fmt.Errorf("coffer/crypto: open uploader grant of share %x: no account keys", ref.Share)
	}
	n := len(sealed)
	sizeOK := n >= minSealedUploaderGrantSize && n <= maxSealedUploaderGrantSize && (n-minSealedUploaderGrantSize)%namePad == 0
	if !sizeOK && (n == 0 || sealed[0] == hpkeVersion) {
		return "", fmt.Errorf("coffer/crypto: open uploader grant of share %x: %w", ref.Share, ErrDecrypt)
	}
	pt, err := hpkeOpen(keys.encryption, labelUploaderGrant, info, sealed)
	if err != nil {
		return "", fmt.Errorf("coffer/crypto: open uploader grant of share %x: %w", ref.Share, err)
	}
	defer clear(pt)
	if len(pt) < 1 || pt[0] != uploaderGrantVersion {
		return "", fmt.Errorf("coffer/crypto: open uploader grant of share %x: %w", ref.Share, ErrDecrypt)
	}
	name, err := parseNamePlaintext(pt[1:])
	if err != nil {
		return "", fmt.Errorf("coffer/crypto: open uploader grant of share %x: %w: %w: %w", ref.Share, ErrDecrypt, ErrBadName, err)
	}
	return name, nil
}

// cloneNodeRecord returns a deep copy of r.
func cloneNodeRecord(r *NodeRecord) *NodeRecord {
	c := *r
	c.Volume, c.Node, c.Parent = bytes.Clone(r.Volume), bytes.Clone(r.Node), bytes.Clone(r.Parent)
	c.SealedName, c.SealedKey, c.Revision = bytes.Clone(r.SealedName), bytes.Clone(r.SealedKey), bytes.Clone(r.Revision)
	c.KeyHistory = bytes.Clone(r.KeyHistory)
	return &c
}
