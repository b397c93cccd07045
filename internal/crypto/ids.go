package crypto

import (
	"crypto/rand"
	"fmt"
)

// IDSize is the length of volume, node and revision IDs. IDs are random,
// not secret: the server stores and indexes them, and every construction
// of the tree and of content binds them in its associated data or
// signature so that an object cannot be moved to another ID.
const IDSize = 16

// NewID returns a fresh random ID of IDSize bytes. 128 random bits make a
// collision between honest clients negligible without any coordination.
func NewID() ([]byte, error) {
	id := make([]byte, IDSize)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("coffer/crypto: generate ID: %w", err)
	}
	return id, nil
}

// checkID reports an ID that is not IDSize bytes. what names the field in
// the error ("volume ID"); the ID itself is public, but its length is all
// the error needs.
func checkID(what string, id []byte) error {
	if len(id) != IDSize {
		return fmt.Errorf("%s is %d bytes, want %d", what, len(id), IDSize)
	}
	return nil
}

// idFields returns LP(id1) || LP(id2) || ... for IDs already checked with
// checkID (so every field fits an LP prefix).
func idFields(ids ...[]byte) []byte {
	n := 0
	for _, id := range ids {
		n += 4 + len(id)
	}
	b := make([]byte, 0, n)
	for _, id := range ids {
		b = appendLP(b, id)
	}
	return b
}
