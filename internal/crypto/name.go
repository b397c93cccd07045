package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Names.
const (
	// MaxNameLen is the longest name in bytes, after NFC: the limit of
	// common file systems, so that every name can be written to disk.
	MaxNameLen = 255
	// namePad is the bucket a sealed name's plaintext is padded to, so
	// that the server learns a name's length only to within 32 bytes.
	namePad = 32
	// minSealedNameSize and maxSealedNameSize bound a sealed name: one to
	// nine buckets (2 + 255 bytes fill nine) plus the envelope.
	minSealedNameSize = envelopeOverhead + namePad
	maxSealedNameSize = envelopeOverhead + (2+MaxNameLen+namePad-1)/namePad*namePad
)

// ErrBadName reports a name that NormalizeName refuses, or a sealed name
// that decrypts but does not hold a canonical, padded, valid name.
var ErrBadName = errors.New("coffer/crypto: invalid name")

// NormalizeName returns name in Unicode NFC, or an error wrapping ErrBadName
// if it cannot be a node name: not valid UTF-8, empty, "." or "..",
// containing '/', NUL or another C0 control character (U+0001..U+001F), or
// longer than MaxNameLen bytes after NFC. NFC makes a name typed as
// composed or decomposed characters (on macOS, Linux or a browser) the
// same name, with the same name hash. Error messages say what is wrong and
// where, but never repeat the name, so they are safe to print and log.
func NormalizeName(name string) (string, error) {
	if !utf8.ValidString(name) {
		for i := 0; i < len(name); {
			r, size := utf8.DecodeRuneInString(name[i:])
			if r == utf8.RuneError && size <= 1 {
				return "", fmt.Errorf("%w: not valid UTF-8 (byte %d)", ErrBadName, i)
			}
			i += size
		}
	}
	// NFC never creates or removes '/' or control characters (they have
	// no decompositions and do not compose), so checking the input gives
	// offsets the caller can relate to what was typed.
	for i, r := range name {
		switch {
		case r == '/':
			return "", fmt.Errorf("%w: contains '/' (byte %d)", ErrBadName, i)
		case r == 0:
			return "", fmt.Errorf("%w: contains NUL (byte %d)", ErrBadName, i)
		case r < 0x20:
			return "", fmt.Errorf("%w: contains control character U+%04X (byte %d)", ErrBadName, r, i)
		}
	}
	n := norm.NFC.String(name)
	switch {
	case n == "":
		return "", fmt.Errorf("%w: empty", ErrBadName)
	case n == "." || n == "..":
		return "", fmt.Errorf("%w: %q is reserved", ErrBadName, n)
	case len(n) > MaxNameLen:
		return "", fmt.Errorf("%w: %d bytes after NFC, limit %d", ErrBadName, len(n), MaxNameLen)
	}
	return n, nil
}

// namePlaintext returns u16(len(name)) || name || zeros, padded to the next
// multiple of 32 bytes.
func namePlaintext(name string) []byte {
	n := (2 + len(name) + namePad - 1) / namePad * namePad
	pt := make([]byte, n)
	binary.BigEndian.PutUint16(pt, uint16(len(name)))
	copy(pt[2:], name)
	return pt
}

// SealName seals a child's name under its parent's name-key: an envelope
// whose plaintext is u16(len) || NFC name || zero padding to the next
// multiple of 32 bytes, with AD = tagged("coffer/v1/node-name",
// LP(volume) || LP(parent) || LP(node)). The name is normalized first and
// refused (ErrBadName) as NormalizeName says. The AD makes a rename by the
// server, a move to another folder or a swap between siblings fail to open.
func SealName(parent *NodeKeys, ref NodeRef, name string) ([]byte, error) {
	return sealName(parent, ref, name, nil)
}

func sealName(parent *NodeKeys, ref NodeRef, name string, nonce *[nonceSize]byte) ([]byte, error) {
	if err := ref.checkChild(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal name: %w", err)
	}
	n, err := NormalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal name of node %x: %w", ref.Node, err)
	}
	if !parent.usable() {
		return nil, fmt.Errorf("coffer/crypto: seal name of node %x: %w", ref.Node, errNoNodeKeys)
	}
	pt := namePlaintext(n)
	sealed, err := sealWith(parent.name, nonce, labelNodeName, ref.fields(), pt)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal name of node %x: %w", ref.Node, err)
	}
	return sealed, nil
}

// OpenName opens a name sealed by SealName under the same parent keys and
// NodeRef. A name sealed for another parent, node or volume, or changed in
// any byte, gives an error wrapping ErrDecrypt. A plaintext that opens but
// is not canonical (wrong bucket, non-zero padding, bad length, or a name
// that NormalizeName would change or refuse) gives an error wrapping
// ErrBadName; only a holder of the folder key can produce one, but the
// client still refuses it so that every implementation shows the same
// names. Errors never contain the name.
func OpenName(parent *NodeKeys, ref NodeRef, sealed []byte) (string, error) {
	if err := ref.checkChild(); err != nil {
		return "", fmt.Errorf("coffer/crypto: open name: %w", err)
	}
	if !parent.usable() {
		return "", fmt.Errorf("coffer/crypto: open name of node %x: %w", ref.Node, errNoNodeKeys)
	}
	pt, err := openWith(parent.name, labelNodeName, ref.fields(), sealed)
	if err != nil {
		return "", fmt.Errorf("coffer/crypto: open name of node %x: %w", ref.Node, err)
	}
	name, err := parseNamePlaintext(pt)
	if err != nil {
		return "", fmt.Errorf("coffer/crypto: open name of node %x: %w: %w", ref.Node, ErrBadName, err)
	}
	return name, nil
}

// parseNamePlaintext checks and strips the padding. Its errors describe the
// encoding only, never the name.
func parseNamePlaintext(pt []byte) (string, error) {
	if len(pt) < 2 {
		return "", errors.New("no length field")
	}
	n := int(binary.BigEndian.Uint16(pt))
	if n > MaxNameLen || 2+n > len(pt) {
		return "", errors.New("length field out of range")
	}
	if len(pt) != (2+n+namePad-1)/namePad*namePad {
		return "", errors.New("not padded to the next multiple of 32 bytes")
	}
	for _, c := range pt[2+n:] {
		if c != 0 {
			return "", errors.New("non-zero padding")
		}
	}
	name := string(pt[2 : 2+n])
	if norm, err := NormalizeName(name); err != nil || norm != name {
		return "", errors.New("not a valid name in NFC")
	}
	return name, nil
}

// NameHash returns HMAC-SHA256(key = the parent's name-hash-key, NFC(name)),
// the value by which the server enforces unique names in a folder without
// learning them. The key is per folder, so equal names in two folders do
// not match. Pass a name NormalizeName accepts; NameHash normalizes again
// so that composed and decomposed spellings hash alike. With nil or
// underived keys it returns all zeros rather than panicking; every such
// call then collides on the server, so the mistake fails closed.
func NameHash(parent *NodeKeys, name string) [32]byte {
	var sum [32]byte
	if !parent.usable() {
		return sum
	}
	m := hmac.New(sha256.New, parent.nameHash[:])
	m.Write([]byte(norm.NFC.String(name)))
	m.Sum(sum[:0])
	return sum
}
