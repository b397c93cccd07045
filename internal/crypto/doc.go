// Package crypto implements the cryptographic constructions of Coffer, as
// specified normatively in docs/crypto.md: the password KDF, the account key
// pair, the AEAD envelope that seals private keys, the recovery key, the
// self-signed public key bundle with its fingerprint, and the drive: node
// keys, wrapped child keys, root keys sealed with HPKE, sealed names and
// name hashes, signed node records (the tree), and content keys, padded
// blocks, sealed attributes and signed revision manifests (content).
//
// The server is the adversary. Every stored object therefore carries a
// version byte and is bound, through associated data or a signature, to a
// domain-separation label of the form "coffer/v1/<name>" and to the object
// it belongs to (user name and epoch; volume, parent, node and revision
// IDs; block index), so that a server that swaps, replays or edits an
// object is detected by the client.
//
// The package does no I/O and keeps no global mutable state (a BlockSealer
// pools scratch buffers for its own associated data); all randomness comes
// from crypto/rand. Only the Go standard library,
// golang.org/x/crypto/argon2, golang.org/x/text/unicode/norm and
// filippo.io/edwards25519 (to check Ed25519 public keys for small order and
// canonical encoding, which crypto/ed25519 does not) are used; no primitive
// is implemented here.
//
// User names are treated as opaque bytes (the UTF-8 encoding of the Go
// string). Canonicalising them is the job of the API layer, which must do it
// before calling into this package, because every derivation is bound to the
// exact bytes.
package crypto
