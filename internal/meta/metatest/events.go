package metatest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// runEvents runs the suite's part on volumes' histories.
func runEvents(t *testing.T, open func(t *testing.T) meta.Store) {
	t.Run("Events", func(t *testing.T) {
		for _, tc := range eventTests {
			t.Run(tc.name, func(t *testing.T) {
				tc.run(t, open(t))
			})
		}
	})
}

// ev is an event as a test expects it: Seq and CreatedAt are checked
// apart.
type ev struct {
	kind              meta.EventKind
	node, parent, old []byte
	version           uint64
}

func (e ev) String() string {
	return fmt.Sprintf("%s node %.4x parent %.4x old %.4x v%d", e.kind, e.node, e.parent, e.old, e.version)
}

// evOf is the ev of a node as it is: an event that left it there.
func evOf(kind meta.EventKind, n *meta.Node) ev {
	return ev{kind: kind, node: n.ID, parent: n.ParentID, version: n.Version}
}

// head returns the volume's latest sequence number.
func (d *drive) head() uint64 {
	d.t.Helper()
	h, err := d.s.EventHead(d.t.Context(), d.vol.ID)
	if err != nil {
		d.t.Fatalf("EventHead: %v", err)
	}
	return h
}

// allEvents returns every event after since, in pages of limit,
// checking that the numbers follow on from since without a gap.
func allEvents(t *testing.T, s meta.Store, volumeID []byte, since uint64, limit int) []meta.Event {
	t.Helper()
	var all []meta.Event
	for {
		list, head, err := s.Events(t.Context(), volumeID, since, limit)
		if err != nil {
			t.Fatalf("Events(after %d, limit %d): %v", since, limit, err)
		}
		if len(list) > limit {
			t.Fatalf("Events(limit %d) returned %d", limit, len(list))
		}
		for _, e := range list {
			if e.Seq != since+1 {
				t.Fatalf("event %d follows %d", e.Seq, since)
			}
			since = e.Seq
			all = append(all, e)
		}
		if since > head {
			t.Fatalf("event %d is past the head %d", since, head)
		}
		if since == head {
			return all
		}
		if len(list) == 0 {
			t.Fatalf("Events(after %d) returned none below the head %d", since, head)
		}
	}
}

// checkEvents checks the volume's events after since: want, numbered
// since+1 onwards, and a head at the last.
func (d *drive) checkEvents(since uint64, want ...ev) {
	d.t.Helper()
	got := allEvents(d.t, d.s, d.vol.ID, since, 1000)
	if len(got) != len(want) {
		d.t.Errorf("%d events after %d, want %d:", len(got), since, len(want))
		for _, e := range got {
			d.t.Errorf("  got %d %v", e.Seq, ev{e.Kind, e.NodeID, e.ParentID, e.OldParentID, e.Version})
		}
		for _, w := range want {
			d.t.Errorf("  want %v", w)
		}
		return
	}
	for i, e := range got {
		g := ev{e.Kind, e.NodeID, e.ParentID, e.OldParentID, e.Version}
		w := want[i]
		if g.kind != w.kind || !bytes.Equal(g.node, w.node) || !bytes.Equal(g.parent, w.parent) ||
			!bytes.Equal(g.old, w.old) || g.version != w.version {
			d.t.Errorf("event %d = %v, want %v", e.Seq, g, w)
		}
		if e.CreatedAt.IsZero() || time.Since(e.CreatedAt) > time.Hour || time.Until(e.CreatedAt) > time.Hour {
			d.t.Errorf("event %d was created at %v, not about now", e.Seq, e.CreatedAt)
		}
	}
	if h := d.head(); h != since+uint64(len(want)) {
		d.t.Errorf("head = %d, want %d", h, since+uint64(len(want)))
	}
}

// moved returns the update that moves n under parent, with a new name.
func moved(n, parent *meta.Node, name string) meta.NodeUpdate {
	u := next(n)
	u.ParentID = parent.ID
	u.NameHash = nameHash(name)
	u.SealedName = []byte("sealed:" + name)
	return u
}

// update applies u to n with UpdateNode and returns n as stored.
func (d *drive) update(n *meta.Node, u meta.NodeUpdate) *meta.Node {
	d.t.Helper()
	if err := d.s.UpdateNode(d.t.Context(), n.ID, u); err != nil {
		d.t.Fatalf("UpdateNode: %v", err)
	}
	return d.node(n.ID)
}

func (d *drive) trash(n *meta.Node, at time.Time) {
	d.t.Helper()
	if err := d.s.TrashNode(d.t.Context(), n.ID, at); err != nil {
		d.t.Fatalf("TrashNode: %v", err)
	}
}

var eventTests = []test{
	{"Empty", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		d.checkEvents(0)
		list, head, err := s.Events(ctx, d.vol.ID, 0, 10)
		if err != nil || len(list) != 0 || head != 0 {
			t.Errorf("Events of a new volume = %d events, head %d, %v", len(list), head, err)
		}
		_, _, err = s.Events(ctx, []byte("no such volume"), 0, 10)
		wantErr(t, "Events of a missing volume", err, meta.ErrNotFound)
		_, err = s.EventHead(ctx, []byte("no such volume"))
		wantErr(t, "EventHead of a missing volume", err, meta.ErrNotFound)
		_, _, err = s.Events(ctx, d.vol.ID, 0, 0)
		wantErr(t, "Events with limit 0", err, meta.ErrInvalid)
	}},
	{"Heads", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		a, b := newDrive(t, s, "alice"), newDrive(t, s, "bob")
		a.create(a.newFolder(a.root, "one"), a.newFolder(a.root, "two"))
		b.create(b.newFolder(b.root, "three"))
		heads, err := s.EventHeads(ctx, [][]byte{a.vol.ID, []byte("no such volume"), b.vol.ID})
		if err != nil {
			t.Fatalf("EventHeads: %v", err)
		}
		want := map[string]uint64{string(a.vol.ID): a.head(), string(b.vol.ID): b.head()}
		if a.head() != 2 || b.head() != 1 || len(heads) != 2 || heads[string(a.vol.ID)] != 2 || heads[string(b.vol.ID)] != 1 {
			t.Errorf("EventHeads = %v, want %v (heads 2 and 1)", heads, want)
		}
		if heads, err := s.EventHeads(ctx, nil); err != nil || len(heads) != 0 {
			t.Errorf("EventHeads of none = %v, %v", heads, err)
		}
		// More volumes than one statement asks for.
		many := make([][]byte, 1234)
		for i := range many {
			many[i] = []byte(fmt.Sprintf("missing %d", i))
		}
		many[1000] = b.vol.ID
		if heads, err := s.EventHeads(ctx, many); err != nil || len(heads) != 1 || heads[string(b.vol.ID)] != 1 {
			t.Errorf("EventHeads of 1,234 volumes, one of them there = %v, %v", heads, err)
		}
	}},
	{"Tree", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dirIt, fileIt := d.newFolder(d.root, "docs"), d.newFile(d.root, "a.txt", d.upload(1000, "b1")...)
		subIt := d.newFolder(dirIt.Node, "sub")
		d.create(dirIt, fileIt, subIt)
		dir, f, sub := dirIt.Node, fileIt.Node, subIt.Node
		d.checkEvents(0, evOf(meta.EventCreate, dir), evOf(meta.EventCreate, f), evOf(meta.EventCreate, sub))
		h := d.head()

		// A rename: same parent, so no old parent.
		renamed := next(f)
		renamed.NameHash, renamed.SealedName = nameHash("b.txt"), []byte("sealed:b.txt")
		f = d.update(f, renamed)
		d.checkEvents(h, ev{meta.EventUpdate, f.ID, d.root.ID, nil, 2})
		h = d.head()

		// A move names both parents.
		f = d.update(f, moved(f, dir, "b.txt"))
		d.checkEvents(h, ev{meta.EventUpdate, f.ID, dir.ID, d.root.ID, 3})
		h = d.head()

		// A revision, then the first one made head again.
		first := f
		f, _ = d.commit(f, 0, "b2")
		d.checkEvents(h, ev{meta.EventRevision, f.ID, dir.ID, nil, 4})
		h = d.head()
		back := next(f)
		back.RevisionID, back.RevisionSeq, back.RevisionDigest = first.RevisionID, first.RevisionSeq, first.RevisionDigest
		f = d.update(f, back)
		d.checkEvents(h, ev{meta.EventUpdate, f.ID, dir.ID, nil, 5})
		h = d.head()

		// A revision that moves the file back to the root.
		revs, err := s.Revisions(ctx, f.ID)
		if err != nil {
			t.Fatalf("Revisions: %v", err)
		}
		r := d.newRevision(f, revs[len(revs)-1].Seq+1, d.upload(1000, "b3")...)
		u := moved(f, d.root, "c.txt")
		u.RevisionID, u.RevisionSeq, u.RevisionDigest = r.ID, r.Seq, hash("digest", string(r.ID))
		if err := s.CommitRevision(ctx, d.owner, f.ID, u, r, 0); err != nil {
			t.Fatalf("CommitRevision: %v", err)
		}
		f = d.node(f.ID)
		d.checkEvents(h, ev{meta.EventRevision, f.ID, d.root.ID, dir.ID, 6})
		h = d.head()

		// Trash and restore: the node only, not its subtree.
		d.trash(dir, t0)
		if err := s.RestoreNode(ctx, dir.ID); err != nil {
			t.Fatalf("RestoreNode: %v", err)
		}
		d.checkEvents(h, evOf(meta.EventTrash, dir), evOf(meta.EventRestore, dir))
		h = d.head()

		// Emptying the trash: one delete per trashed node, the one in a
		// trashed folder too, oldest trashed first; none for the
		// subtree's other nodes.
		d.trash(sub, t0)
		d.trash(dir, t0.Add(time.Second))
		n, err := s.EmptyTrash(ctx, d.vol.ID)
		if err != nil || n != 2 {
			t.Fatalf("EmptyTrash = %d, %v; want 2", n, err)
		}
		d.checkEvents(h, evOf(meta.EventTrash, sub), evOf(meta.EventTrash, dir),
			ev{meta.EventDelete, sub.ID, dir.ID, nil, 0}, ev{meta.EventDelete, dir.ID, d.root.ID, nil, 0})
		h = d.head()

		// Nothing trashed: nothing happens.
		if _, err := s.EmptyTrash(ctx, d.vol.ID); err != nil {
			t.Fatalf("EmptyTrash: %v", err)
		}
		d.checkEvents(h)

		// The whole history pages alike.
		all := allEvents(t, s, d.vol.ID, 0, 1000)
		for _, limit := range []int{1, 2, 3, 7} {
			paged := allEvents(t, s, d.vol.ID, 0, limit)
			if len(paged) != len(all) {
				t.Errorf("in pages of %d: %d events, want %d", limit, len(paged), len(all))
			}
		}
	}},
	{"Shares", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		bob := createUser(t, s, newUser("bob"))
		carol := createUser(t, s, newUser("carol"))
		dir := d.folder(d.root, "shared")
		h := d.head()

		sh := d.newShare("s", dir, 1)
		putShare(t, s, sh, 0, member(bob, meta.RoleEditor))
		d.checkEvents(h, evOf(meta.EventShare, dir))
		h = d.head()

		sh2 := d.newShare("s", dir, 2)
		putShare(t, s, sh2, 1, member(bob, meta.RoleEditor), member(carol, meta.RoleViewer))
		accept(t, s, sh2, bob)
		if err := s.SetShareState(ctx, sh2.ID, carol, meta.ShareDeclined, nil); err != nil {
			t.Fatalf("SetShareState(declined): %v", err)
		}
		d.checkEvents(h, evOf(meta.EventShare, dir), evOf(meta.EventShare, dir), evOf(meta.EventShare, dir))
		h = d.head()

		// Failures record nothing.
		err := s.PutShare(ctx, d.newShare("s", dir, 3), nil, 1)
		wantErr(t, "PutShare with a stale version", err, meta.ErrConflict)
		err = s.SetShareState(ctx, sh2.ID, d.owner, meta.ShareAccepted, []byte("sig"))
		wantErr(t, "SetShareState of a non-member", err, meta.ErrNotFound)
		d.checkEvents(h)

		if err := s.DeleteShare(ctx, sh.ID); err != nil {
			t.Fatalf("DeleteShare: %v", err)
		}
		d.checkEvents(h, evOf(meta.EventShare, dir))
		h = d.head()
		err = s.DeleteShare(ctx, sh.ID)
		wantErr(t, "DeleteShare of a deleted share", err, meta.ErrNotFound)
		d.checkEvents(h)
	}},
	{"Replace", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		bob := createUser(t, s, newUser("bob"))
		dir := d.folder(d.root, "dir")
		f, _ := d.file(dir, "f", "b1")
		sh := d.newShare("s", dir, 1)
		putShare(t, s, sh, 0, member(bob, meta.RoleViewer))
		h := d.head()

		ud, uf := rekey(dir, "r1"), rekey(f, "r1")
		sh2 := d.newShare("s", dir, 2)
		err := s.ReplaceRecords(t.Context(),
			[]meta.NodeReplace{rep(dir, ud), rep(f, uf)},
			[]meta.ShareReplace{{Share: sh2, Members: []meta.ShareMember{member(bob, meta.RoleViewer)}, ExpectVersion: 1}})
		if err != nil {
			t.Fatalf("ReplaceRecords: %v", err)
		}
		d.checkEvents(h, ev{meta.EventUpdate, dir.ID, d.root.ID, nil, 2}, ev{meta.EventUpdate, f.ID, dir.ID, nil, 2},
			ev{meta.EventShare, dir.ID, d.root.ID, nil, 2})
		h = d.head()

		// A replacement that fails records nothing.
		err = s.ReplaceRecords(t.Context(), []meta.NodeReplace{rep(dir, rekey(d.node(dir.ID), "r2")), rep(f, uf)}, nil)
		wantErr(t, "ReplaceRecords with a stale version", err, meta.ErrConflict)
		d.checkEvents(h)
	}},
	{"LinkDrop", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		l, dir := d.uploadLink(0, 0)
		h := d.head()
		b := linkUpload(t, s, l, 1000, "dropped")
		it := d.newDrop(dir, b...)
		if err := s.CreateLinkDrop(t.Context(), l.ID, it, t0); err != nil {
			t.Fatalf("CreateLinkDrop: %v", err)
		}
		d.checkEvents(h, evOf(meta.EventCreate, it.Node))
	}},
	{"FailuresRecordNothing", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		f, _ := d.file(d.root, "f", "b1")
		h := d.head()

		// A batch whose last item fails creates nothing and records
		// nothing.
		err := s.CreateNodes(ctx, d.owner, []meta.NewFile{d.newFolder(d.root, "new"), d.newFolder(d.root, "dir")})
		wantErr(t, "CreateNodes with a taken name", err, meta.ErrExists)
		stale := next(f)
		stale.ExpectVersion = 7
		wantErr(t, "UpdateNode with a stale version", s.UpdateNode(ctx, f.ID, stale), meta.ErrConflict)
		wantErr(t, "UpdateNode into itself", s.UpdateNode(ctx, dir.ID, moved(dir, dir, "x")), meta.ErrInvalid)
		r := d.newRevision(f, 2, blockID("never uploaded"))
		u := next(f)
		u.RevisionID, u.RevisionSeq = r.ID, r.Seq
		wantErr(t, "CommitRevision of missing blocks", s.CommitRevision(ctx, d.owner, f.ID, u, r, 0), meta.ErrMissingBlocks)
		wantErr(t, "TrashNode of the root", s.TrashNode(ctx, d.root.ID, t0), meta.ErrInvalid)
		wantErr(t, "RestoreNode of an active node", s.RestoreNode(ctx, f.ID), meta.ErrInvalid)
		d.checkEvents(h)
	}},
	{"VolumesApart", func(t *testing.T, s meta.Store) {
		a, b := newDrive(t, s, "alice"), newDrive(t, s, "bob")
		ax := a.folder(a.root, "x")
		bx := b.folder(b.root, "x")
		ay := a.folder(a.root, "y")
		a.checkEvents(0, evOf(meta.EventCreate, ax), evOf(meta.EventCreate, ay))
		b.checkEvents(0, evOf(meta.EventCreate, bx))
	}},
	{"Prune", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		other := newDrive(t, s, "bob")
		for i := range 30 {
			d.folder(d.root, fmt.Sprint("f", i))
		}
		other.folder(other.root, "only")

		// Nothing is old enough yet.
		n, err := s.PruneEvents(ctx, time.Now().Add(-time.Hour), 0)
		if err != nil || n != 0 {
			t.Fatalf("PruneEvents of nothing old = %d, %v", n, err)
		}
		_, err = s.PruneEvents(ctx, time.Now(), -1)
		wantErr(t, "PruneEvents keeping -1", err, meta.ErrInvalid)

		// All are old: the newest 10 of each volume stay.
		n, err = s.PruneEvents(ctx, time.Now().Add(time.Hour), 10)
		if err != nil || n != 20 {
			t.Fatalf("PruneEvents = %d, %v; want 20", n, err)
		}
		for _, since := range []uint64{0, 1, 19} {
			_, _, err := s.Events(ctx, d.vol.ID, since, 100)
			wantErr(t, fmt.Sprintf("Events after pruned %d", since), err, meta.ErrCursorExpired)
		}
		if got := allEvents(t, s, d.vol.ID, 20, 3); len(got) != 10 {
			t.Errorf("%d events after 20, want 10", len(got))
		}
		if got := allEvents(t, s, other.vol.ID, 0, 3); len(got) != 1 {
			t.Errorf("the other volume has %d events after 0, want 1", len(got))
		}
		// A cursor past the head: the history was rolled back.
		for _, since := range []uint64{31, 1000} {
			_, _, err := s.Events(ctx, d.vol.ID, since, 100)
			wantErr(t, fmt.Sprintf("Events after %d of 30", since), err, meta.ErrCursorExpired)
		}

		// Keeping none: a reader at the head is fine, one behind it
		// is not, and the history goes on from the head.
		n, err = s.PruneEvents(ctx, time.Now().Add(time.Hour), 0)
		if err != nil || n != 11 {
			t.Fatalf("PruneEvents keeping none = %d, %v; want 11", n, err)
		}
		d.checkEvents(30)
		_, _, err = s.Events(ctx, d.vol.ID, 29, 100)
		wantErr(t, "Events after pruned 29", err, meta.ErrCursorExpired)
		f := d.folder(d.root, "after")
		d.checkEvents(30, evOf(meta.EventCreate, f))
	}},
	{"Watch", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		var mu sync.Mutex
		var heard [][]byte
		stop := s.WatchEvents(func(v []byte) {
			mu.Lock()
			heard = append(heard, bytes.Clone(v))
			mu.Unlock()
		})
		count := func() int {
			mu.Lock()
			defer mu.Unlock()
			for _, v := range heard {
				if !bytes.Equal(v, d.vol.ID) {
					t.Errorf("heard of volume %x, want %x", v, d.vol.ID)
				}
			}
			return len(heard)
		}
		// Heard of once the write returns: the call is made on the
		// writer's goroutine before it does.
		f := d.folder(d.root, "a")
		if n := count(); n != 1 {
			t.Errorf("heard %d times of a write, want 1", n)
		}
		wantErr(t, "RestoreNode of an active node", s.RestoreNode(ctx, f.ID), meta.ErrInvalid)
		if n := count(); n != 1 {
			t.Errorf("heard %d times after a failed write, want 1", n)
		}
		stop()
		d.folder(d.root, "b")
		if n := count(); n != 1 {
			t.Errorf("heard %d times after stop, want 1", n)
		}
	}},
}

// EventsInCommitOrder has writers on all the stores change one volume
// concurrently while a reader follows its history, alternating between
// the stores: the reader must get every event exactly once, numbered
// without a gap, and never find one at or below a number it has passed
// (which Events reports as ErrCursorExpired, as the history's gap it is).
func EventsInCommitOrder(t *testing.T, stores []meta.Store, name string, writers, writes int) {
	ctx := t.Context()
	d := newDrive(t, stores[0], name)
	files := make([]*meta.Node, writers)
	for i := range files {
		files[i] = d.folder(d.root, fmt.Sprint("w", i))
	}
	start := d.head()

	var wg sync.WaitGroup
	var done atomic.Bool
	var failed atomic.Int64
	for w := range writers {
		wg.Go(func() {
			n := files[w]
			for i := range writes {
				u := next(n)
				u.SealedName = []byte(fmt.Sprint("sealed:", w, ":", i))
				s := stores[(w+i)%len(stores)]
				if err := s.UpdateNode(ctx, n.ID, u); err != nil {
					t.Errorf("writer %d, write %d: UpdateNode: %v", w, i, err)
					failed.Add(1)
					return
				}
				n = applied(n, u)
			}
		})
	}

	var got []meta.Event
	readErr := make(chan error, 1)
	go func() {
		defer close(readErr)
		cursor := start
		for i := 0; ; i++ {
			finished := done.Load() // before the read: what it finds then is final
			list, head, err := stores[i%len(stores)].Events(ctx, d.vol.ID, cursor, 1+i%7)
			if err != nil {
				readErr <- fmt.Errorf("read events after %d: %w", cursor, err)
				return
			}
			for _, e := range list {
				if e.Seq != cursor+1 {
					readErr <- fmt.Errorf("event %d after cursor %d", e.Seq, cursor)
					return
				}
				cursor = e.Seq
				got = append(got, e)
			}
			if finished && cursor == head {
				return
			}
		}
	}()
	wg.Wait()
	done.Store(true)
	if err := <-readErr; err != nil {
		if errors.Is(err, meta.ErrCursorExpired) {
			t.Fatalf("the reader found a gap, an event committed out of order: %v", err)
		}
		t.Fatal(err)
	}
	if failed.Load() > 0 {
		return
	}
	if len(got) != writers*writes {
		t.Fatalf("the reader got %d events, want %d", len(got), writers*writes)
	}
	// Each write exactly once: every node's versions 2 to writes+1.
	seen := map[string]bool{}
	for _, e := range got {
		k := fmt.Sprintf("%x/%d", e.NodeID, e.Version)
		if e.Kind != meta.EventUpdate || seen[k] {
			t.Fatalf("event %d: %v of %s, twice or of the wrong kind", e.Seq, e.Kind, k)
		}
		seen[k] = true
	}
	for _, n := range files {
		for v := 2; v <= writes+1; v++ {
			if !seen[fmt.Sprintf("%x/%d", n.ID, v)] {
				t.Errorf("no event for version %d of %x", v, n.ID)
			}
		}
	}
}
