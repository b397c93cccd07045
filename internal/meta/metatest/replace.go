package metatest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-drive/coffer/internal/meta"
)

// runReplace runs the suite's part on the key history of nodes and on
// ReplaceRecords, the one transaction of a key rotation.
func runReplace(t *testing.T, open func(t *testing.T) meta.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"KeyHistory", keyHistoryTests},
		{"ReplaceRecords", replaceTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, open(t))
				})
			}
		})
	}
}

// history returns a sealed key history, different for each seed.
func history(n int, seed byte) []byte { return bytesOf(n, seed) }

// rekey returns the update a key rotation makes to n: a new key, so a
// new sealed name and name hash (tag makes them differ from rotation to
// rotation), and for a file the old key added to its history.
func rekey(n *meta.Node, tag string) meta.NodeUpdate {
	u := next(n)
	u.NameHash = hash("rekeyed", tag, string(n.ID))
	u.SealedName = []byte(fmt.Sprintf("resealed:%s:%x", tag, n.ID[:4]))
	u.SealedKey = hash("key", tag, string(n.ID))
	if n.Kind == fileKind {
		u.KeyHistory = append(slices.Clip(n.SealedKey), n.KeyHistory...)
	}
	return u
}

// checkReplaced checks that the node n now holds the record of u, with a
// time of update left to the store, and returns it as stored.
func (d *drive) checkReplaced(n *meta.Node, u meta.NodeUpdate) *meta.Node {
	d.t.Helper()
	got := d.node(n.ID)
	want := applied(n, u)
	want.UpdatedAt = got.UpdatedAt
	if len(want.KeyHistory) == 0 {
		want.KeyHistory = nil // an empty one is none
	}
	checkNode(d.t, got, want)
	return got
}

// rep is the replacement of n's record by u.
func rep(n *meta.Node, u meta.NodeUpdate) meta.NodeReplace {
	return meta.NodeReplace{ID: n.ID, Update: u}
}

// wantItemErr checks that err is target and names the item: "node
// <hex ID>" or "share <hex ID>".
func wantItemErr(t *testing.T, what string, err, target error, kind string, id []byte) {
	t.Helper()
	wantErr(t, what, err, target)
	if name := fmt.Sprintf("%s %x", kind, id); err != nil && !strings.Contains(err.Error(), name) {
		t.Errorf("%s: error %q does not name %q", what, err, name)
	}
}

var keyHistoryTests = []test{
	{"Create", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		it := d.newFile(dir, "f", d.upload(1000, "b1")...)
		it.Node.KeyHistory = history(200, 1)
		plain := d.newFile(dir, "plain")
		d.create(it, plain)
		d.checkStored(it.Node)
		d.checkStored(plain.Node)
		if got := d.node(plain.Node.ID).KeyHistory; got != nil {
			t.Errorf("KeyHistory of a file without one = %x, want nil", got)
		}

		// Every read of nodes returns it.
		list, err := s.Children(ctx, dir.ID)
		if err != nil {
			t.Fatalf("Children: %v", err)
		}
		if len(list) != 2 {
			t.Fatalf("Children listed %d, want 2", len(list))
		}
		for _, c := range list {
			want := plain.Node
			if slices.Equal(c.ID, it.Node.ID) {
				want = it.Node
			}
			checkNode(t, &c, want)
		}
		got, err := s.ChildByNameHash(ctx, dir.ID, it.Node.NameHash)
		if err != nil {
			t.Fatalf("ChildByNameHash: %v", err)
		}
		checkNode(t, got, it.Node)
		if err := s.TrashNode(ctx, it.Node.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		trash, err := s.Trash(ctx, d.vol.ID)
		if err != nil {
			t.Fatalf("Trash: %v", err)
		}
		if len(trash) != 1 || !slices.Equal(trash[0].KeyHistory, it.Node.KeyHistory) {
			t.Errorf("Trash = %+v, want the file with its key history", trash)
		}

		// Empty is none, and a large one goes through whole.
		empty := d.newFile(dir, "empty")
		empty.Node.KeyHistory = []byte{}
		large := d.newFile(dir, "large")
		large.Node.KeyHistory = history(1<<20, 3)
		d.create(empty, large)
		checkZeroLength(t, d.node(plain.Node.ID).KeyHistory, d.node(empty.Node.ID).KeyHistory)
		d.checkStored(large.Node)
	}},
	{"Volume", func(t *testing.T, s meta.Store) {
		// The store does not care what kind of node carries one.
		u := newUser("alice")
		u.ID = createUser(t, s, u)
		d := &drive{t: t, s: s, name: "alice", owner: u.ID}
		d.vol = &meta.Volume{ID: d.id("volume"), OwnerID: d.owner, CreatedAt: t0}
		d.root = d.newNode(nil, "", folderKind)
		d.root.KeyHistory = history(64, 4)
		d.vol.RootID = d.root.ID
		if err := s.CreateVolume(t.Context(), d.vol, d.root); err != nil {
			t.Fatalf("CreateVolume: %v", err)
		}
		d.checkStored(d.root)
	}},
	{"UpdateNode", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, _ := d.file(d.root, "f")
		for i, h := range [][]byte{history(100, 5), history(150, 6), nil, history(10, 7), {}} {
			u := next(f)
			u.KeyHistory = h
			if err := s.UpdateNode(ctx, f.ID, u); err != nil {
				t.Fatalf("UpdateNode %d: %v", i, err)
			}
			f = d.checkReplaced(f, u)
			if len(h) == 0 && f.KeyHistory != nil {
				t.Errorf("update %d: KeyHistory = %x, want nil", i, f.KeyHistory)
			}
		}
		// A refused update leaves it as it was.
		f = d.node(f.ID)
		u := next(f)
		u.KeyHistory, u.ExpectVersion = history(30, 8), f.Version+1
		wantErr(t, "UpdateNode with a stale version", s.UpdateNode(ctx, f.ID, u), meta.ErrConflict)
		d.checkStored(f)
	}},
	{"CommitRevision", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, _ := d.file(d.root, "f", "b1")
		u := next(f)
		u.KeyHistory = history(120, 9)
		if err := s.UpdateNode(ctx, f.ID, u); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
		f = d.node(f.ID)
		// commit carries the history over, as next does.
		g, _ := d.commit(f, 0, "b2")
		if !slices.Equal(g.KeyHistory, u.KeyHistory) {
			t.Errorf("KeyHistory after a commit keeping it = %x, want %x", g.KeyHistory, u.KeyHistory)
		}
		// A commit replaces it, or clears it.
		for i, h := range [][]byte{history(300, 10), nil} {
			r := d.newRevision(g, g.RevisionSeq+1, d.upload(1000, fmt.Sprint("c", i))...)
			u := next(g)
			u.RevisionID, u.RevisionSeq, u.KeyHistory = r.ID, r.Seq, h
			if err := s.CommitRevision(ctx, d.owner, g.ID, u, r, 0); err != nil {
				t.Fatalf("CommitRevision %d: %v", i, err)
			}
			got := d.node(g.ID)
			want := applied(g, u)
			want.UpdatedAt = r.CreatedAt
			checkNode(t, got, want)
			g = got
		}
	}},
}

// rotation is a folder tree under a share, as a key rotation finds it:
// docs (shared) holding a folder sub and a file f, sub holding a file g;
// and the new records of all four and of the share.
type rotation struct {
	d                *drive
	docs, sub, f, g  *meta.Node
	sh               *meta.Share
	bob, carol, dave *drive
	mb, mc, md       meta.ShareMember
	bobSig           []byte
	nodes            []*meta.Node // docs, sub, f, g
	updates          []meta.NodeUpdate
	replaces         []meta.NodeReplace
	v2               *meta.Share
	members2         []meta.ShareMember
}

// newRotation builds the tree and the share (bob accepted, carol
// declined, dave pending), and the records that rotate every key in it.
func newRotation(t *testing.T, s meta.Store) *rotation {
	t.Helper()
	r := &rotation{
		bob:   newDrive(t, s, "bob"),
		carol: newDrive(t, s, "carol"),
		dave:  newDrive(t, s, "dave"),
		d:     newDrive(t, s, "alice"),
	}
	d := r.d
	r.docs = d.folder(d.root, "docs")
	r.sub = d.folder(r.docs, "sub")
	r.f, _ = d.file(r.docs, "f", "b1")
	r.g, _ = d.file(r.sub, "g", "b2")
	r.sh = d.newShare("docs", r.docs, 1)
	r.mb = member(r.bob.owner, meta.RoleViewer)
	r.mc = member(r.carol.owner, meta.RoleEditor)
	r.md = member(r.dave.owner, meta.RoleViewer)
	putShare(t, s, r.sh, 0, r.mb, r.mc, r.md)
	r.bobSig = accept(t, s, r.sh, r.bob.owner)
	if err := s.SetShareState(t.Context(), r.sh.ID, r.carol.owner, meta.ShareDeclined, nil); err != nil {
		t.Fatalf("SetShareState(declined): %v", err)
	}

	r.nodes = []*meta.Node{r.docs, r.sub, r.f, r.g}
	for _, n := range r.nodes {
		u := rekey(n, "v2")
		r.updates = append(r.updates, u)
		r.replaces = append(r.replaces, meta.NodeReplace{ID: n.ID, Update: u})
	}
	// Everyone gets a grant of the new key.
	r.v2 = d.newShare("docs", r.docs, 2)
	for i, m := range []meta.ShareMember{r.mb, r.mc, r.md} {
		m.Grant = bytesOf(90, byte(100+i))
		r.members2 = append(r.members2, m)
	}
	return r
}

// shares returns the share list of the rotation.
func (r *rotation) shares() []meta.ShareReplace {
	return []meta.ShareReplace{{Share: r.v2, Members: r.members2, ExpectVersion: 1}}
}

// checkOld checks that nothing of the rotation is stored: the old
// records, share and members.
func (r *rotation) checkOld(t *testing.T, s meta.Store) {
	t.Helper()
	for _, n := range r.nodes {
		r.d.checkStored(n)
	}
	r.d.checkChildren(r.docs, r.sub, r.f)
	want := stored(r.sh, "alice")
	checkStoredShare(t, s, want)
	checkMembers(t, s, r.sh.ID,
		stateOf(r.sh, r.mb, "bob", meta.ShareAccepted, r.bobSig),
		stateOf(r.sh, r.mc, "carol", meta.ShareDeclined, nil),
		stateOf(r.sh, r.md, "dave", meta.SharePending, nil))
}

var replaceTests = []test{
	{"Complete", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		a := d.folder(dir, "a")
		b, _ := d.file(dir, "b", "b1")
		gone := d.folder(dir, "gone")
		if err := s.TrashNode(ctx, gone.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		// A child left out of a complete replacement: refused, nothing
		// applied, the error names the folder.
		err := s.ReplaceRecords(ctx, []meta.NodeReplace{
			{ID: dir.ID, Update: rekey(dir, "x"), Complete: true},
			rep(a, rekey(a, "x")),
		}, nil)
		wantItemErr(t, "a child left out", err, meta.ErrConflict, "node", dir.ID)
		d.checkStored(dir)
		d.checkStored(a)
		d.checkStored(b)
		// A child in the trash counts too (it must stay restorable).
		err = s.ReplaceRecords(ctx, []meta.NodeReplace{
			{ID: dir.ID, Update: rekey(dir, "z"), Complete: true},
			rep(a, rekey(a, "z")), rep(b, rekey(b, "z")),
		}, nil)
		wantItemErr(t, "a trashed child left out", err, meta.ErrConflict, "node", dir.ID)
		d.checkStored(dir)
		d.checkStored(a)
		// With every child, it applies.
		err = s.ReplaceRecords(ctx, []meta.NodeReplace{
			{ID: dir.ID, Update: rekey(dir, "y"), Complete: true},
			rep(a, rekey(a, "y")), rep(b, rekey(b, "y")), rep(gone, next(gone)),
		}, nil)
		if err != nil {
			t.Fatalf("complete replacement: %v", err)
		}
		if got := d.node(b.ID); got.Version != b.Version+1 {
			t.Fatalf("b is at version %d, want %d", got.Version, b.Version+1)
		}
	}},
	{"Rotation", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		r := newRotation(t, s)
		d := r.d
		if err := s.ReplaceRecords(ctx, r.replaces, r.shares()); err != nil {
			t.Fatalf("ReplaceRecords: %v", err)
		}
		// Readers see the new records everywhere.
		got := make(map[string]*meta.Node)
		for i, n := range r.nodes {
			got[string(n.ID)] = d.checkReplaced(n, r.updates[i])
		}
		list, err := s.Children(ctx, r.docs.ID)
		if err != nil {
			t.Fatalf("Children: %v", err)
		}
		if len(list) != 2 {
			t.Fatalf("docs has %d children, want 2", len(list))
		}
		for _, c := range list {
			checkNode(t, &c, got[string(c.ID)])
		}
		for i, n := range r.nodes[1:] {
			parent := r.docs.ID
			if n == r.g {
				parent = r.sub.ID
			}
			c, err := s.ChildByNameHash(ctx, parent, r.updates[i+1].NameHash)
			if err != nil {
				t.Fatalf("ChildByNameHash of the new name: %v", err)
			}
			checkNode(t, c, got[string(n.ID)])
			_, err = s.ChildByNameHash(ctx, parent, n.NameHash)
			wantErr(t, "ChildByNameHash of the old name", err, meta.ErrNotFound)
		}
		// The share as PutShare would have left it: new grants, the
		// members' answers kept.
		want := stored(r.v2, "alice")
		want.CreatedAt = r.sh.CreatedAt
		checkStoredShare(t, s, want)
		checkMembers(t, s, r.sh.ID,
			stateOf(r.sh, r.members2[0], "bob", meta.ShareAccepted, r.bobSig),
			stateOf(r.sh, r.members2[1], "carol", meta.ShareDeclined, nil),
			stateOf(r.sh, r.members2[2], "dave", meta.SharePending, nil))
		checkAccesses(t, s, r.bob.owner, r.g.ID, via(r.sh, meta.RoleViewer, 2))
		// Revisions and blocks are untouched.
		checkGarbage(t, s, []string{"b1", "b2"})
	}},
	{"ShareRulesAsPutShare", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		r := newRotation(t, s)
		erin := newDrive(t, s, "erin")
		// Carol is left out (revoked), erin joins, bob's grant is
		// kept (none given) and his role changes.
		mb := r.mb
		mb.Role, mb.Grant = meta.RoleEditor, nil
		me := member(erin.owner, meta.RoleViewer)
		shares := []meta.ShareReplace{{Share: r.v2, Members: []meta.ShareMember{mb, r.members2[2], me}, ExpectVersion: 1}}
		if err := s.ReplaceRecords(ctx, nil, shares); err != nil {
			t.Fatalf("ReplaceRecords: %v", err)
		}
		wb := stateOf(r.sh, r.mb, "bob", meta.ShareAccepted, r.bobSig)
		wb.Role = meta.RoleEditor
		checkMembers(t, s, r.sh.ID,
			wb,
			stateOf(r.sh, r.members2[2], "dave", meta.SharePending, nil),
			stateOf(r.sh, me, "erin", meta.SharePending, nil))
		checkSharedWith(t, s, r.carol.owner)
		// Nodes alone, too.
		if err := s.ReplaceRecords(ctx, r.replaces, nil); err != nil {
			t.Fatalf("ReplaceRecords of nodes only: %v", err)
		}
		r.d.checkReplaced(r.f, r.updates[2])
		// And nothing at all.
		if err := s.ReplaceRecords(ctx, nil, nil); err != nil {
			t.Errorf("ReplaceRecords of nothing: %v", err)
		}
	}},
	{"ConflictInLastNode", func(t *testing.T, s meta.Store) {
		r := newRotation(t, s)
		last := len(r.replaces) - 1
		r.replaces[last].Update.ExpectVersion++
		r.replaces[last].Update.Version++
		err := s.ReplaceRecords(t.Context(), r.replaces, r.shares())
		wantItemErr(t, "ReplaceRecords with a stale last node", err, meta.ErrConflict, "node", r.nodes[last].ID)
		r.checkOld(t, s)
	}},
	{"ConflictInShare", func(t *testing.T, s meta.Store) {
		r := newRotation(t, s)
		// Someone else changed the share meanwhile.
		other := r.d.newShare("docs", r.docs, 2)
		putShare(t, s, other, 1, r.mb, r.mc, r.md)
		r.sh = other
		r.v2 = r.d.newShare("docs", r.docs, 3)
		err := s.ReplaceRecords(t.Context(), r.replaces, []meta.ShareReplace{{Share: r.v2, Members: r.members2, ExpectVersion: 1}})
		wantItemErr(t, "ReplaceRecords with a stale share", err, meta.ErrConflict, "share", r.v2.ID)
		r.checkOld(t, s)
	}},
	{"Refused", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		r := newRotation(t, s)
		d := r.d
		other := newDrive(t, s, "mallory")
		elsewhere := other.folder(other.root, "elsewhere")
		bin := d.folder(d.root, "bin")
		binned := d.folder(bin, "binned")
		if err := s.TrashNode(ctx, bin.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		lone, _ := d.file(d.root, "lone")
		otherRev := d.node(r.g.ID).RevisionID
		missing := hash("missing")[:16]
		for _, c := range []struct {
			name   string
			change func(nodes []meta.NodeReplace, shares []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace)
			err    error
			kind   string
			id     []byte
		}{
			{"a node twice", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				return append(n, n[1]), sh
			}, meta.ErrInvalid, "node", r.sub.ID},
			{"a missing node", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				u := next(lone)
				return append(n, meta.NodeReplace{ID: missing, Update: u}), sh
			}, meta.ErrNotFound, "node", missing},
			{"a version that does not follow", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				n[2].Update.Version += 2
				return n, sh
			}, meta.ErrInvalid, "node", r.f.ID},
			{"a move into the node's own subtree", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				n[0].Update.ParentID = r.sub.ID
				return n, sh
			}, meta.ErrInvalid, "node", r.docs.ID},
			{"a move into another volume", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				n[3].Update.ParentID = elsewhere.ID
				return n, sh
			}, meta.ErrInvalid, "node", r.g.ID},
			{"a move into the trash", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				n[3].Update.ParentID = binned.ID
				return n, sh
			}, meta.ErrInvalid, "node", r.g.ID},
			{"a move into a file", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				n[3].Update.ParentID = r.f.ID
				return n, sh
			}, meta.ErrInvalid, "node", r.g.ID},
			{"another file's revision as head", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				n[2].Update.RevisionID = otherRev
				return n, sh
			}, meta.ErrInvalid, "node", r.f.ID},
			{"a name another node takes", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				u := next(lone)
				u.NameHash = n[0].Update.NameHash // docs's new name, under the root too
				return append(n, meta.NodeReplace{ID: lone.ID, Update: u}), sh
			}, meta.ErrExists, "node", lone.ID},
			{"a missing share", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				ghost := d.newShare("ghost", r.f, 2)
				return n, append(sh, meta.ShareReplace{Share: ghost, ExpectVersion: 1})
			}, meta.ErrNotFound, "share", d.newShare("ghost", r.f, 2).ID},
			{"a share created", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				sh[0].ExpectVersion = 0
				return n, sh
			}, meta.ErrInvalid, "share", r.sh.ID},
			{"a share version not rising", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				sh[0].Share.Version = 1
				return n, sh
			}, meta.ErrInvalid, "share", r.sh.ID},
			{"a share twice", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				return n, append(sh, sh[0])
			}, meta.ErrInvalid, "share", r.sh.ID},
			{"a share moved", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				sh[0].Share.NodeID = r.sub.ID
				return n, sh
			}, meta.ErrInvalid, "share", r.sh.ID},
			{"a share member twice", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				sh[0].Members = append(sh[0].Members, sh[0].Members[0])
				return n, sh
			}, meta.ErrInvalid, "share", r.sh.ID},
			{"a share member missing", func(n []meta.NodeReplace, sh []meta.ShareReplace) ([]meta.NodeReplace, []meta.ShareReplace) {
				sh[0].Members = append(sh[0].Members, member(4242, meta.RoleViewer))
				return n, sh
			}, meta.ErrNotFound, "share", r.sh.ID},
		} {
			// Fresh copies: the changes must not leak into the next case.
			nodes := slices.Clone(r.replaces)
			v2 := *r.v2
			shares := []meta.ShareReplace{{Share: &v2, Members: slices.Clone(r.members2), ExpectVersion: 1}}
			nodes, shares = c.change(nodes, shares)
			err := s.ReplaceRecords(ctx, nodes, shares)
			wantItemErr(t, "ReplaceRecords with "+c.name, err, c.err, c.kind, c.id)
			r.checkOld(t, s)
			d.checkStored(lone)
		}
		if err := s.ReplaceRecords(ctx, nil, []meta.ShareReplace{{}}); !errors.Is(err, meta.ErrInvalid) {
			t.Errorf("ReplaceRecords with a nil share: %v, want ErrInvalid", err)
		}
		// After all that, the rotation itself goes through.
		if err := s.ReplaceRecords(ctx, r.replaces, r.shares()); err != nil {
			t.Fatalf("ReplaceRecords: %v", err)
		}
	}},
	{"MovesInOrder", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		a := d.folder(d.root, "a")
		b := d.folder(d.root, "b")
		x, _ := d.file(a, "x")
		// a into b, then b into a: the second finds a below b by then.
		ua, ub := next(a), next(b)
		ua.ParentID, ub.ParentID = b.ID, a.ID
		err := s.ReplaceRecords(ctx, []meta.NodeReplace{rep(a, ua), rep(b, ub)}, nil)
		wantItemErr(t, "ReplaceRecords crossing moves", err, meta.ErrInvalid, "node", b.ID)
		d.checkStored(a)
		d.checkStored(b)
		d.checkChildren(d.root, a, b)
		// a into b, and x from a into b, by its new parent: both go.
		ux := next(x)
		ux.ParentID = b.ID
		if err := s.ReplaceRecords(ctx, []meta.NodeReplace{rep(a, ua), rep(x, ux)}, nil); err != nil {
			t.Fatalf("ReplaceRecords: %v", err)
		}
		d.checkChildren(d.root, b)
		d.checkChildren(b, a, x)
		d.checkChildren(a)
	}},
	{"SwapNames", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		x, _ := d.file(dir, "x")
		y := d.folder(dir, "y")
		z, _ := d.file(dir, "z")
		// x and y trade names: whichever goes first takes a name the
		// other still holds.
		ux, uy := next(x), next(y)
		ux.NameHash, ux.SealedName = y.NameHash, y.SealedName
		uy.NameHash, uy.SealedName = x.NameHash, x.SealedName
		if err := s.ReplaceRecords(ctx, []meta.NodeReplace{rep(x, ux), rep(y, uy)}, nil); err != nil {
			t.Fatalf("ReplaceRecords swapping two names: %v", err)
		}
		x, y = d.checkReplaced(x, ux), d.checkReplaced(y, uy)
		for _, c := range []struct {
			name string
			want *meta.Node
		}{{"x", y}, {"y", x}, {"z", z}} {
			got, err := s.ChildByNameHash(ctx, dir.ID, nameHash(c.name))
			if err != nil {
				t.Fatalf("ChildByNameHash(%s): %v", c.name, err)
			}
			checkNode(t, got, c.want)
		}
		// Now x is "y", y is "x". A cycle of names with moves: w comes
		// from another folder onto "x", which y leaves for "z", which z
		// leaves for "y", which x leaves for w's old place and name.
		other := d.folder(d.root, "other")
		w, _ := d.file(other, "x")
		uw, uy, uz, ux := next(w), next(y), next(z), next(x)
		uw.ParentID, uw.NameHash = dir.ID, nameHash("x")
		uy.NameHash = nameHash("z")
		uz.NameHash = nameHash("y")
		ux.ParentID, ux.NameHash = other.ID, nameHash("x")
		if err := s.ReplaceRecords(ctx, []meta.NodeReplace{rep(w, uw), rep(y, uy), rep(z, uz), rep(x, ux)}, nil); err != nil {
			t.Fatalf("ReplaceRecords with a cycle of names and moves: %v", err)
		}
		d.checkReplaced(x, ux)
		d.checkReplaced(y, uy)
		d.checkReplaced(z, uz)
		d.checkReplaced(w, uw)
		d.checkChildren(dir, y, z, w)
		d.checkChildren(other, x)
	}},
	{"SameNameRefused", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		x, _ := d.file(dir, "x")
		y := d.folder(dir, "y")
		// Both end with one new name.
		ux, uy := next(x), next(y)
		ux.NameHash, uy.NameHash = nameHash("same"), nameHash("same")
		err := s.ReplaceRecords(ctx, []meta.NodeReplace{rep(x, ux), rep(y, uy)}, nil)
		wantItemErr(t, "ReplaceRecords naming two siblings alike", err, meta.ErrExists, "node", y.ID)
		d.checkStored(x)
		d.checkStored(y)
		// Or one takes the other's, which keeps it.
		ux = next(x)
		ux.NameHash = y.NameHash
		err = s.ReplaceRecords(ctx, []meta.NodeReplace{rep(y, next(y)), rep(x, ux)}, nil)
		wantItemErr(t, "ReplaceRecords taking a kept name", err, meta.ErrExists, "node", x.ID)
		d.checkStored(x)
		d.checkStored(y)
		for _, name := range []string{"x", "y"} {
			if _, err := s.ChildByNameHash(ctx, dir.ID, nameHash(name)); err != nil {
				t.Errorf("ChildByNameHash(%s) after the failures: %v", name, err)
			}
		}
		// A trashed node is not in the way, and may take any name.
		if err := s.TrashNode(ctx, y.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		uy = next(y)
		uy.NameHash = x.NameHash
		if err := s.ReplaceRecords(ctx, []meta.NodeReplace{rep(x, next(x)), rep(y, uy)}, nil); err != nil {
			t.Fatalf("ReplaceRecords of a trashed node: %v", err)
		}
		wantErr(t, "RestoreNode onto a taken name", s.RestoreNode(ctx, y.ID), meta.ErrExists)
	}},
	{"ReadersSeeAllOrNothing", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		const n, rounds = 200, 5
		var items []meta.NewFile
		for i := range n {
			items = append(items, d.newFolder(dir, fmt.Sprint("c", i)))
		}
		d.create(items...)
		done := make(chan struct{})
		var wg sync.WaitGroup
		defer wg.Wait()
		defer close(done)
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				list, err := s.Children(ctx, dir.ID)
				if err != nil {
					t.Errorf("Children: %v", err)
					return
				}
				if len(list) != n {
					t.Errorf("Children listed %d, want %d", len(list), n)
					return
				}
				for _, c := range list {
					if c.Version != list[0].Version {
						t.Errorf("Children mixes versions %d and %d", list[0].Version, c.Version)
						return
					}
				}
			}
		})
		nodes := make([]*meta.Node, n)
		for i := range items {
			nodes[i] = items[i].Node
		}
		for round := range rounds {
			reps := make([]meta.NodeReplace, n)
			for i, c := range nodes {
				u := rekey(c, fmt.Sprint(round))
				reps[i] = meta.NodeReplace{ID: c.ID, Update: u}
				nodes[i] = applied(c, u)
			}
			if err := s.ReplaceRecords(ctx, reps, nil); err != nil {
				t.Fatalf("ReplaceRecords round %d: %v", round, err)
			}
		}
		list, err := s.Children(ctx, dir.ID)
		if err != nil {
			t.Fatalf("Children: %v", err)
		}
		if len(list) != n {
			t.Fatalf("Children listed %d, want %d", len(list), n)
		}
		for _, c := range list {
			if c.Version != rounds+1 {
				t.Fatalf("child %x at version %d, want %d", c.ID, c.Version, rounds+1)
			}
		}
	}},
}
