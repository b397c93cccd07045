package crypto

import (
	"encoding/binary"
	"math"
)

// Domain-separation labels. Every label is written as label || 0x00 before
// the data it separates, so no label can be confused with a prefix of
// another label's input.
const (
	labelSRPX            = "coffer/v1/srp-x"
	labelKEK             = "coffer/v1/kek"
	labelAccountKeys     = "coffer/v1/account-keys"
	labelRecoveryKEK     = "coffer/v1/recovery-kek"
	labelRecoveryKeys    = "coffer/v1/recovery-keys"
	labelRecoveryAuth    = "coffer/v1/recovery-auth"
	labelRecoveryCheck   = "coffer/v1/recovery-checksum"
	labelCredentials     = "coffer/v1/credentials"
	labelRecover         = "coffer/v1/recover"
	labelPasswd          = "coffer/v1/passwd"
	labelPublicBundle    = "coffer/v1/public-bundle"
	labelFingerprint     = "coffer/v1/fingerprint"
	labelFingerprintDigs = "coffer/v1/fingerprint-digits"
	labelLocalKEK        = "coffer/v1/local-kek"
	labelLocalKeys       = "coffer/v1/local-keys"

	// Tree (docs/crypto.md section 11).
	labelNodeKeyWrap    = "coffer/v1/node-key-wrap"    // HKDF info: sub-key wrapping children's node keys
	labelNameKey        = "coffer/v1/name-key"         // HKDF info: sub-key sealing children's names
	labelNameHashKey    = "coffer/v1/name-hash-key"    // HKDF info: sub-key of children's name hashes
	labelContentKeyWrap = "coffer/v1/content-key-wrap" // HKDF info: sub-key wrapping revision content keys
	labelNodeKey        = "coffer/v1/node-key"         // AD of a wrapped child node key
	labelRootKey        = "coffer/v1/root-key"         // HPKE info of a root key sealed to its owner
	labelNodeName       = "coffer/v1/node-name"        // AD of a sealed name
	labelNodeRecord     = "coffer/v1/node-record"      // signature over a node record

	// Content (docs/crypto.md section 12).
	labelContentKey = "coffer/v1/content-key" // AD of a wrapped content key
	labelBlock      = "coffer/v1/block"       // AD of a content block
	labelAttrs      = "coffer/v1/attrs"       // AD of sealed attributes
	labelRevision   = "coffer/v1/revision"    // signature over a revision record

	labelRevisionDigest = "coffer/v1/revision-digest" // hash of a revision record, bound into its file's node record
	labelOriginKey      = "coffer/v1/origin-key"      // AD of an earlier revision's content key sealed under a revision that re-uses its blocks

	// Sharing (docs/crypto.md section 13).
	labelShareList     = "coffer/v1/share-list"      // signature over a share's member list
	labelShareKeyCheck = "coffer/v1/share-key-check" // HKDF info: the shared node key's check value in the list
	labelShareGrant    = "coffer/v1/share-grant"     // HPKE info of a node key sealed to a member
	labelShareAccept   = "coffer/v1/share-accept"    // signature of a member accepting a share
	labelInboxKeyWrap  = "coffer/v1/inbox-key-wrap"  // HKDF info: sub-key sealing a folder's inbox private key
	labelInboxKey      = "coffer/v1/inbox-key"       // AD of a sealed inbox private key
	labelInboxDrop     = "coffer/v1/inbox-drop"      // HPKE info of an uploaded child's node key and name sealed to its folder's inbox key
	labelUploaderGrant = "coffer/v1/uploader-grant"  // HPKE info of a shared folder's name sealed to an uploader

	// Key rotation (docs/crypto.md sections 11.2, 11.6 and 13.11).
	labelKeyHistoryWrap = "coffer/v1/key-history-wrap" // HKDF info: sub-key sealing a rotated file's earlier node keys
	labelKeyHistory     = "coffer/v1/key-history"      // AD of a file's sealed key history
)

// maxLP is the longest field an LP encoding can carry.
const maxLP = math.MaxUint32

// tagged returns label || 0x00 || data...; it is the one way a label is
// prefixed to data anywhere in this package.
func tagged(label string, data ...[]byte) []byte {
	n := len(label) + 1
	for _, d := range data {
		n += len(d)
	}
	b := make([]byte, 0, n)
	b = append(b, label...)
	b = append(b, 0)
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}

// fitsLP reports whether every field can be length-prefixed with 4 bytes.
func fitsLP(fields ...[]byte) bool {
	for _, f := range fields {
		if uint64(len(f)) > maxLP {
			return false
		}
	}
	return true
}

// appendLP appends uint32_be(len(x)) || x. Callers check fitsLP first: a
// silently truncated length would make two different inputs encode alike.
func appendLP(b, x []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
	return append(b, x...)
}

// reader is a strict cursor over a byte string for parsing untrusted input.
// Every read reports failure instead of panicking on short input.
type reader struct {
	b []byte
}

func (r *reader) bytes(n int) ([]byte, bool) {
	if n < 0 || n > len(r.b) {
		return nil, false
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, true
}

func (r *reader) uint8() (byte, bool) {
	v, ok := r.bytes(1)
	if !ok {
		return 0, false
	}
	return v[0], true
}

func (r *reader) uint32() (uint32, bool) {
	v, ok := r.bytes(4)
	if !ok {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

func (r *reader) uint64() (uint64, bool) {
	v, ok := r.bytes(8)
	if !ok {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// lp reads a length-prefixed field.
func (r *reader) lp() ([]byte, bool) {
	n, ok := r.uint32()
	if !ok || uint64(n) > uint64(len(r.b)) {
		return nil, false
	}
	return r.bytes(int(n))
}

func (r *reader) empty() bool { return len(r.b) == 0 }
