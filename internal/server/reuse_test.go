package server

import (
	"bytes"
	"testing"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/meta"
)

// TestCheckOrigins: the server checks only the shape of a revision's
// re-used blocks (docs/crypto.md 12.6), and passes them on unchanged.
func TestCheckOrigins(t *testing.T) {
	id := func(b byte) []byte { return bytes.Repeat([]byte{b}, idSize) }
	good := func() *api.Revision {
		return &api.Revision{
			ID:           id(1),
			Blocks:       [][]byte{make([]byte, 32), make([]byte, 32), make([]byte, 32)},
			Origins:      []api.Origin{{Revision: id(2), SealedKey: make([]byte, 61)}},
			BlockOrigins: []uint32{1, 0, 1},
		}
	}
	if err := checkOrigins(good()); err != nil {
		t.Fatalf("a revision with an origin: %v", err)
	}
	if err := checkOrigins(&api.Revision{ID: id(1)}); err != nil {
		t.Fatalf("a revision without origins: %v", err)
	}
	for name, edit := range map[string]func(r *api.Revision){
		"block origins without origins": func(r *api.Revision) { r.Origins = nil },
		"origins without block origins": func(r *api.Revision) { r.BlockOrigins = nil },
		"one block origin short":        func(r *api.Revision) { r.BlockOrigins = r.BlockOrigins[:2] },
		"an origin beyond the list":     func(r *api.Revision) { r.BlockOrigins[1] = 2 },
		"more origins than blocks": func(r *api.Revision) {
			r.Blocks, r.BlockOrigins = r.Blocks[:1], []uint32{1}
			r.Origins = append(r.Origins, api.Origin{Revision: id(3), SealedKey: []byte{1}})
		},
		"a short origin ID":          func(r *api.Revision) { r.Origins[0].Revision = id(2)[:15] },
		"the revision as its origin": func(r *api.Revision) { r.Origins[0].Revision = id(1) },
		"an empty sealed key":        func(r *api.Revision) { r.Origins[0].SealedKey = nil },
		"a huge sealed key":          func(r *api.Revision) { r.Origins[0].SealedKey = make([]byte, 1025) },
	} {
		r := good()
		edit(r)
		if err := checkOrigins(r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Both ways between the wire and the store keep them.
	r := good()
	m := toMetaRevision(r)
	if len(m.Origins) != 1 || !bytes.Equal(m.Origins[0].RevisionID, id(2)) || len(m.BlockOrigins) != 3 {
		t.Fatalf("toMetaRevision: %+v", m)
	}
	back := toAPIRevision(m)
	if len(back.Origins) != 1 || !bytes.Equal(back.Origins[0].SealedKey, r.Origins[0].SealedKey) || back.BlockOrigins[2] != 1 {
		t.Fatalf("toAPIRevision: %+v", back)
	}
	if out := toAPIRevision(&meta.Revision{}); out.Origins != nil || out.BlockOrigins != nil {
		t.Error("a revision without origins gains some on the wire")
	}
}
