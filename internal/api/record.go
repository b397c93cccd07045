package api

import (
	"errors"

	"github.com/coffer-drive/coffer/internal/crypto"
)

// RecordOf rebuilds the signed node record (docs/crypto.md 11.6) of a
// node from the wire, for its form checks and its signature. It refuses
// fixed-size fields of another size rather than cut or pad them.
func RecordOf(n *Node) (*crypto.NodeRecord, error) {
	if len(n.NameHash) != 32 {
		return nil, errors.New("name hash is not 32 bytes")
	}
	if n.RevisionDigest != nil && len(n.RevisionDigest) != 32 {
		return nil, errors.New("revision digest is not 32 bytes")
	}
	r := &crypto.NodeRecord{
		Volume: n.Volume, Node: n.ID, Parent: n.Parent, Kind: crypto.NodeKind(n.Kind),
		SealedName: n.SealedName, SealedKey: n.SealedKey, Author: n.Author, Version: n.Version,
		Revision: n.Revision, RevisionSeq: n.RevisionSeq, KeyHistory: n.KeyHistory,
	}
	copy(r.NameHash[:], n.NameHash)
	copy(r.RevisionDigest[:], n.RevisionDigest)
	return r, nil
}
