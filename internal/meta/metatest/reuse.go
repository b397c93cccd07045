package metatest

import (
	"errors"
	"testing"

	"github.com/coffer-drive/coffer/internal/meta"
)

// Revisions that re-use blocks of earlier revisions of their file
// (docs/crypto.md 12.6): the store keeps their origins as given, and a
// re-used block is a block of the new revision like any other.

// reusing returns a revision of f (seq) naming blocks (already stored)
// with origins: one origin, the revision origin, for the blocks whose
// entry in per is 1.
func (d *drive) reusing(f *meta.Node, seq uint64, origin []byte, per []uint32, blocks ...[]byte) (*meta.Revision, meta.NodeUpdate) {
	r := d.newRevision(f, seq, blocks...)
	r.Origins = []meta.RevisionOrigin{{RevisionID: origin, SealedKey: bytesOf(61, byte(seq))}}
	r.BlockOrigins = per
	u := next(f)
	u.RevisionID, u.RevisionSeq, u.RevisionDigest = r.ID, r.Seq, hash("digest", string(r.ID))
	return r, u
}

var reuseTests = []test{
	{"OriginsKept", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "a", "b", "c")
		r2, u := d.reusing(f, 2, r1.ID, []uint32{1, 0, 1}, blockID("a"), d.upload(1000, "b2")[0], blockID("c"))
		r2.Origins = append(r2.Origins, meta.RevisionOrigin{RevisionID: d.id("revision"), SealedKey: []byte{0}})
		r2.BlockOrigins = []uint32{1, 2, 1}
		if err := s.CommitRevision(ctx, d.owner, f.ID, u, r2, 0); err != nil {
			t.Fatalf("CommitRevision: %v", err)
		}
		d.checkRevisions(f, r1, r2)
		got, err := s.Revision(ctx, r2.ID)
		if err != nil {
			t.Fatalf("Revision: %v", err)
		}
		checkRevision(t, got, r2)
		heads, err := s.HeadRevisions(ctx, d.root.ID)
		if err != nil || len(heads) != 1 {
			t.Fatalf("HeadRevisions = %d, %v", len(heads), err)
		}
		checkRevision(t, &heads[0], r2)
		// A revision without origins reads back without them.
		if got, err := s.Revision(ctx, r1.ID); err != nil || got.Origins != nil || got.BlockOrigins != nil {
			t.Errorf("Revision(r1) = %+v, %v; want no origins", got, err)
		}
	}},
	{"ReusedBlocksOutliveTheirRevision", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "a", "b", "c")
		checkUsage(t, s, d.owner, 3000, 0)
		// Only b changes; a and c are r1's, named again.
		r2, u := d.reusing(f, 2, r1.ID, []uint32{1, 0, 1}, blockID("a"), d.upload(1000, "b2")[0], blockID("c"))
		// keep = 1: r1 goes with this commit.
		if err := s.CommitRevision(ctx, d.owner, f.ID, u, r2, 1); err != nil {
			t.Fatalf("CommitRevision: %v", err)
		}
		d.checkRevisions(f, r2)
		// Each block counts once, however many revisions name it.
		checkUsage(t, s, d.owner, 4000, 0)
		names := []string{"a", "b", "c", "b2"}
		checkGarbage(t, s, names, "b")
		f = d.node(f.ID)
		// r3 re-uses r2's own block and, through r2, r1's a.
		r3, u := d.reusing(f, 3, r2.ID, []uint32{0, 1, 0}, d.upload(1000, "a3")[0], blockID("b2"), blockID("c"))
		r3.Origins = append(r3.Origins, meta.RevisionOrigin{RevisionID: r1.ID, SealedKey: bytesOf(61, 9)})
		r3.BlockOrigins = []uint32{0, 1, 2}
		if err := s.CommitRevision(ctx, d.owner, f.ID, u, r3, 1); err != nil {
			t.Fatalf("CommitRevision: %v", err)
		}
		d.checkRevisions(f, r3)
		checkGarbage(t, s, append(names, "a3"), "a", "b")
		for _, id := range r3.Blocks {
			if ok, err := s.BlockOwned(ctx, d.owner, id); err != nil || !ok {
				t.Errorf("BlockOwned(%x) = %v, %v", id, ok, err)
			}
		}
		// Trashing the file and emptying the trash lets every block go.
		if err := s.TrashNode(ctx, f.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		checkGarbage(t, s, append(names, "a3"), "a", "b")
		if _, err := s.EmptyTrash(ctx, d.vol.ID); err != nil {
			t.Fatalf("EmptyTrash: %v", err)
		}
		checkGarbage(t, s, append(names, "a3"), "a", "b", "c", "b2", "a3")
	}},
	{"MemberReusesOwnersBlocks", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "a", "b")
		d.file(d.root, "other", "o")
		checkUsage(t, s, d.owner, 3000, 0)
		// Bob, a member, re-uses a (alice's, named by r1) and uploads
		// his own b2: he pays for nothing, alice for b2 once committed.
		b2 := bob.upload(1000, "b2")[0]
		r2, u := d.reusing(f, 2, r1.ID, []uint32{1, 0}, blockID("a"), b2)
		r2.UploaderID = bob.owner
		if err := s.CommitRevision(ctx, d.owner, f.ID, u, r2, 0); err != nil {
			t.Fatalf("CommitRevision: %v", err)
		}
		checkUsage(t, s, d.owner, 4000, 0)
		checkUsage(t, s, bob.owner, 0, 0)
		f = d.node(f.ID)
		// A block of another file is not re-usable: it is no block of
		// this node's revisions, and not bob's.
		r3, u := d.reusing(f, 3, r1.ID, []uint32{1, 0}, blockID("a"), blockID("o"))
		r3.UploaderID = bob.owner
		if err := s.CommitRevision(ctx, d.owner, f.ID, u, r3, 0); !errors.Is(err, meta.ErrMissingBlocks) {
			t.Errorf("CommitRevision naming another file's block = %v, want ErrMissingBlocks", err)
		}
		checkUsage(t, s, d.owner, 4000, 0)
	}},
}
