package crypto

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// KDFParams are the Argon2id cost parameters of an account. They are stored
// by the server next to the salt and sent to the client at login, so the
// client must treat them as untrusted and call Check before using them.
type KDFParams struct {
	MemoryKiB   uint32 // memory in KiB (Argon2 m)
	Iterations  uint32 // passes over memory (Argon2 t)
	Parallelism uint32 // lanes (Argon2 p)
}

// The floor below which a client refuses KDF parameters. It is fixed in the
// code, not taken from DefaultKDF, so that no caller can lower it.
const (
	MinKDFMemoryKiB   = 64 * 1024
	MinKDFIterations  = 3
	MinKDFParallelism = 1
)

// The ceiling above which a client refuses KDF parameters: a malicious server
// could otherwise make the client allocate unbounded memory or spin forever.
// At the ceiling one derivation needs 1 GiB of memory and 16 passes over
// it: slow, but bounded.
const (
	MaxKDFMemoryKiB   = 1024 * 1024 // 1 GiB
	MaxKDFIterations  = 16
	MaxKDFParallelism = 8
)

// DefaultKDF holds the parameters used for new accounts: m=64 MiB, t=3, p=1.
// It is a variable only because Go has no struct constants; treat it as
// read-only. Check does not depend on it.
var DefaultKDF = KDFParams{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 1}

// SaltSize is the length in bytes of an account's Argon2id salt.
const SaltSize = 16

// Errors returned by Check.
var (
	// ErrWeakKDF means the parameters are below the floor: a downgrade.
	ErrWeakKDF = errors.New("coffer/crypto: KDF parameters below the minimum")
	// ErrKDFTooCostly means the parameters exceed the ceiling.
	ErrKDFTooCostly = errors.New("coffer/crypto: KDF parameters above the maximum")
)

// Check reports whether p lies between the floor and the ceiling. It returns
// an error wrapping ErrWeakKDF for parameters below the floor and one
// wrapping ErrKDFTooCostly for parameters above the ceiling.
func (p KDFParams) Check() error {
	switch {
	case p.MemoryKiB < MinKDFMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB < %d KiB", ErrWeakKDF, p.MemoryKiB, MinKDFMemoryKiB)
	case p.Iterations < MinKDFIterations:
		return fmt.Errorf("%w: iterations %d < %d", ErrWeakKDF, p.Iterations, MinKDFIterations)
	case p.Parallelism < MinKDFParallelism:
		return fmt.Errorf("%w: parallelism %d < %d", ErrWeakKDF, p.Parallelism, MinKDFParallelism)
	case p.MemoryKiB > MaxKDFMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB > %d KiB", ErrKDFTooCostly, p.MemoryKiB, MaxKDFMemoryKiB)
	case p.Iterations > MaxKDFIterations:
		return fmt.Errorf("%w: iterations %d > %d", ErrKDFTooCostly, p.Iterations, MaxKDFIterations)
	case p.Parallelism > MaxKDFParallelism:
		return fmt.Errorf("%w: parallelism %d > %d", ErrKDFTooCostly, p.Parallelism, MaxKDFParallelism)
	}
	return nil
}

// NewSalt returns a fresh random salt of SaltSize bytes.
func NewSalt() ([]byte, error) {
	s := make([]byte, SaltSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("coffer/crypto: generate salt: %w", err)
	}
	return s, nil
}

// PasswordKeys are the two independent secrets derived from a password.
type PasswordKeys struct {
	// SRPX is the SRP-6a private value x (32 bytes, read as a big-endian
	// integer). The server only ever sees the verifier g^x mod N.
	SRPX []byte
	// KEK is the key-encryption key that seals the account's private keys.
	// Nothing the server receives allows computing it.
	KEK [32]byte
}

// Wipe overwrites both secrets with zeros. It is best effort: the Go runtime
// may have copied them elsewhere.
func (k *PasswordKeys) Wipe() {
	if k == nil {
		return
	}
	clear(k.SRPX)
	clear(k.KEK[:])
}

// DerivePasswordKeys stretches password with Argon2id under salt and p, then
// derives SRPX and KEK from the result with HKDF-SHA256, each bound to user.
// The password is put in Unicode NFC first; the caller's slice is not changed.
// It refuses parameters that fail Check and salts that are not SaltSize long.
func DerivePasswordKeys(password []byte, user string, salt []byte, p KDFParams) (*PasswordKeys, error) {
	// The same password typed on two systems may arrive composed (é) or
	// decomposed (e + ́); NFC makes both derive the same keys.
	// (norm may return the caller's own slice, so it is not cleared here.)
	pw, err := stretch(norm.NFC.Bytes(password), salt, p)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: derive password keys: %w", err)
	}
	defer clear(pw)

	x, err := hkdf32(pw, labelSRPX, user)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: derive SRP secret: %w", err)
	}
	kek, err := hkdf32(pw, labelKEK, user)
	if err != nil {
		clear(x[:])
		return nil, fmt.Errorf("coffer/crypto: derive KEK: %w", err)
	}
	return &PasswordKeys{SRPX: x[:], KEK: kek}, nil
}

// stretch returns Argon2id(input, salt, t, m, p, 32) after refusing
// parameters that fail Check and a salt that is not SaltSize bytes, so
// that a server cannot downgrade the KDF or make the client run an
// unbounded one (docs/crypto.md section 3). The caller clears the result.
func stretch(input, salt []byte, p KDFParams) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if len(salt) != SaltSize {
		return nil, fmt.Errorf("salt is %d bytes, want %d", len(salt), SaltSize)
	}
	// Check bounds Parallelism by MaxKDFParallelism, so the conversion is exact.
	return argon2.IDKey(input, salt, p.Iterations, p.MemoryKiB, uint8(p.Parallelism), 32), nil
}

// hkdf32 returns HKDF-SHA256(ikm=secret, salt=empty, info=label || 0x00 ||
// context, 32 bytes).
func hkdf32(secret []byte, label, context string) ([32]byte, error) {
	var out [32]byte
	k, err := hkdf.Key(sha256.New, secret, nil, label+"\x00"+context, len(out))
	if err != nil {
		return out, err
	}
	copy(out[:], k)
	clear(k)
	return out, nil
}
