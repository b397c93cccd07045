package metatest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// runLinks runs the suite's part on public links, their sessions and the
// files dropped through them.
func runLinks(t *testing.T, open func(t *testing.T) meta.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Links", linkTests},
		{"LinkSessions", linkSessionTests},
		{"LinkUploads", linkUploadTests},
		{"ActiveBelow", activeBelowTests},
		{"BlockInRevision", blockInRevisionTests},
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

// newLink returns a link of kind to node n of d, not stored. Its ID
// depends on name only.
func (d *drive) newLink(name string, n *meta.Node, kind int) *meta.Link {
	return &meta.Link{
		ID:          hash("link", d.name, name)[:16],
		OwnerID:     d.owner,
		VolumeID:    d.vol.ID,
		NodeID:      n.ID,
		Kind:        kind,
		Salt:        bytesOf(16, 50),
		KDF:         meta.KDF{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 1},
		Verifier:    bytesOf(384, 51),
		Payload:     bytesOf(300, 52),
		OwnerRecord: bytesOf(200, 53),
		Password:    true,
		CreatedAt:   t0,
	}
}

// putLink stores l with PutLink.
func putLink(t *testing.T, s meta.Store, l *meta.Link) {
	t.Helper()
	if err := s.PutLink(t.Context(), l); err != nil {
		t.Fatalf("PutLink(%x): %v", l.ID, err)
	}
}

// getLink reads the link id back.
func getLink(t *testing.T, s meta.Store, id []byte) *meta.Link {
	t.Helper()
	l, err := s.Link(t.Context(), id)
	if err != nil {
		t.Fatalf("Link(%x): %v", id, err)
	}
	return l
}

func checkLink(t *testing.T, got, want *meta.Link) {
	t.Helper()
	checkTime(t, "Link.CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "Link.ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, "Link.RevokedAt", got.RevokedAt, want.RevokedAt)
	g, w := *got, *want
	g.CreatedAt, g.ExpiresAt, g.RevokedAt = time.Time{}, time.Time{}, time.Time{}
	w.CreatedAt, w.ExpiresAt, w.RevokedAt = time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("link differs:\n got %+v\nwant %+v", g, w)
	}
}

// linkCounts checks a link's counters.
func linkCounts(t *testing.T, s meta.Store, id []byte, downloads, files, bytes int64) {
	t.Helper()
	l := getLink(t, s, id)
	if l.Downloads != downloads || l.Files != files || l.Bytes != bytes {
		t.Errorf("link counts %d downloads, %d files, %d bytes; want %d, %d, %d",
			l.Downloads, l.Files, l.Bytes, downloads, files, bytes)
	}
}

// linkPending checks the bytes uploaded through a link and not dropped.
func linkPending(t *testing.T, s meta.Store, id []byte, want int64) {
	t.Helper()
	if l := getLink(t, s, id); l.PendingBytes != want {
		t.Errorf("link has %d bytes pending, want %d", l.PendingBytes, want)
	}
}

// collect deletes the blocks called names as garbage collection would.
func collect(t *testing.T, s meta.Store, names ...string) {
	t.Helper()
	for _, name := range names {
		if gone, err := s.DeleteBlock(t.Context(), blockID(name)); err != nil || !gone {
			t.Fatalf("DeleteBlock(%s) = %v, %v; want true", name, gone, err)
		}
	}
}

// newLinkSession returns a session of link id, not stored.
func newLinkSession(name string, id []byte, created time.Time) *meta.LinkSession {
	return &meta.LinkSession{
		TokenHash: tokenHash("link token " + name),
		LinkID:    id,
		CreatedAt: created,
		ExpiresAt: created.Add(time.Hour),
	}
}

var linkTests = []test{
	{"PutAndGet", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		l := d.newLink("a", dir, meta.LinkRead)
		l.ExpiresAt = t0.Add(7 * 24 * time.Hour)
		l.MaxDownloads = 3
		putLink(t, s, l)
		checkLink(t, getLink(t, s, l.ID), l)

		// Counts, revocation and the node's state are the store's:
		// PutLink ignores them.
		up := d.newLink("b", dir, meta.LinkUpload)
		up.Password = false
		up.MaxFiles, up.MaxBytes = 10, 1<<20
		want := *up
		up.Downloads, up.Files, up.Bytes, up.RevokedAt, up.NodeGone = 5, 6, 7, t0, true
		putLink(t, s, up)
		checkLink(t, getLink(t, s, up.ID), &want)

		f, _ := d.file(dir, "f")
		fl := d.newLink("c", f, meta.LinkRead)
		fl.KDF = meta.KDF{MemoryKiB: 1 << 20, Iterations: 16, Parallelism: 8}
		putLink(t, s, fl)
		checkLink(t, getLink(t, s, fl.ID), fl)

		_, err := s.Link(t.Context(), hash("no such link")[:16])
		wantErr(t, "Link of an unknown ID", err, meta.ErrNotFound)
	}},
	{"DuplicateID", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		l := d.newLink("a", dir, meta.LinkRead)
		putLink(t, s, l)
		other := d.newLink("a", d.folder(d.root, "other"), meta.LinkUpload)
		wantErr(t, "PutLink with a taken ID", s.PutLink(t.Context(), other), meta.ErrExists)
		checkLink(t, getLink(t, s, l.ID), l)
		// Many links on one node are fine.
		putLink(t, s, d.newLink("b", dir, meta.LinkRead))
	}},
	{"Refused", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		dir := d.folder(d.root, "dir")
		f, _ := d.file(dir, "f")
		trashed := d.folder(d.root, "trashed")
		below := d.folder(trashed, "below")
		if err := s.TrashNode(t.Context(), trashed.ID, t0); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			edit func(l *meta.Link)
		}{
			{"empty ID", func(l *meta.Link) { l.ID = nil }},
			{"unknown kind", func(l *meta.Link) { l.Kind = 3 }},
			{"negative downloads", func(l *meta.Link) { l.MaxDownloads = -1 }},
			{"negative files", func(l *meta.Link) { l.MaxFiles = -1 }},
			{"negative bytes", func(l *meta.Link) { l.MaxBytes = -1 }},
			{"unknown node", func(l *meta.Link) { l.NodeID = hash("nothing")[:16] }},
			{"node of another volume", func(l *meta.Link) { l.NodeID = bob.root.ID }},
			{"volume of another owner", func(l *meta.Link) { l.OwnerID = bob.owner }},
			{"upload link to a file", func(l *meta.Link) { l.NodeID, l.Kind = f.ID, meta.LinkUpload }},
			{"node in the trash", func(l *meta.Link) { l.NodeID = trashed.ID }},
			{"node below the trash", func(l *meta.Link) { l.NodeID = below.ID }},
		}
		for _, tc := range cases {
			l := d.newLink(tc.name, dir, meta.LinkRead)
			tc.edit(l)
			wantErr(t, tc.name, s.PutLink(t.Context(), l), meta.ErrInvalid)
		}
		if list, err := s.LinksOfOwner(t.Context(), d.owner); err != nil || len(list) != 0 {
			t.Fatalf("LinksOfOwner after refusals = %d links, %v; want none", len(list), err)
		}
	}},
	{"LinksOfOwner", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		if list, err := s.LinksOfOwner(t.Context(), d.owner); err != nil || len(list) != 0 {
			t.Fatalf("LinksOfOwner with none = %v, %v", list, err)
		}
		dir := d.folder(d.root, "dir")
		var want []*meta.Link
		for i, at := range []time.Duration{time.Minute, 3 * time.Minute, 2 * time.Minute, 3 * time.Minute} {
			l := d.newLink(fmt.Sprint(i), dir, meta.LinkRead)
			l.CreatedAt = t0.Add(at)
			putLink(t, s, l)
			want = append(want, l)
		}
		putLink(t, s, bob.newLink("x", bob.folder(bob.root, "b"), meta.LinkRead))
		if err := s.RevokeLink(t.Context(), d.owner, want[0].ID, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want[0].RevokedAt = t0.Add(time.Hour)
		// Newest first; of two made at the same time, the later one.
		order := []*meta.Link{want[3], want[1], want[2], want[0]}
		list, err := s.LinksOfOwner(t.Context(), d.owner)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(order) {
			t.Fatalf("LinksOfOwner = %d links, want %d", len(list), len(order))
		}
		for i := range order {
			checkLink(t, &list[i], order[i])
		}
	}},
	{"NodeGone", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		f, _ := d.file(dir, "f")
		onDir, onFile := d.newLink("dir", dir, meta.LinkUpload), d.newLink("f", f, meta.LinkRead)
		putLink(t, s, onDir)
		putLink(t, s, onFile)
		gone := func(want bool, links ...*meta.Link) {
			t.Helper()
			for _, l := range links {
				if got := getLink(t, s, l.ID).NodeGone; got != want {
					t.Errorf("link %x NodeGone = %v, want %v", l.ID, got, want)
				}
			}
			list, err := s.LinksOfOwner(ctx, d.owner)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range list {
				for _, w := range links {
					if string(l.ID) == string(w.ID) && l.NodeGone != want {
						t.Errorf("LinksOfOwner: link %x NodeGone = %v, want %v", l.ID, l.NodeGone, want)
					}
				}
			}
		}
		gone(false, onDir, onFile)
		// The file goes with its folder, though only the folder is
		// marked as trashed.
		if err := s.TrashNode(ctx, dir.ID, t0); err != nil {
			t.Fatal(err)
		}
		gone(true, onDir, onFile)
		if err := s.RestoreNode(ctx, dir.ID); err != nil {
			t.Fatal(err)
		}
		gone(false, onDir, onFile)
		if err := s.TrashNode(ctx, f.ID, t0); err != nil {
			t.Fatal(err)
		}
		gone(true, onFile)
		gone(false, onDir)
		if _, err := s.EmptyTrash(ctx, d.vol.ID); err != nil {
			t.Fatal(err)
		}
		// Deleted for good: the link stays, and says so.
		gone(true, onFile)
	}},
	{"Revoke", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		dir := d.folder(d.root, "dir")
		l, other := d.newLink("a", dir, meta.LinkRead), d.newLink("b", dir, meta.LinkRead)
		putLink(t, s, l)
		putLink(t, s, other)
		for i, ls := range []*meta.LinkSession{newLinkSession("1", l.ID, t0), newLinkSession("2", l.ID, t0), newLinkSession("3", other.ID, t0)} {
			if err := s.CreateLinkSession(ctx, ls, false); err != nil {
				t.Fatalf("CreateLinkSession %d: %v", i, err)
			}
		}
		// Another account's link is as if it did not exist, and stays.
		wantErr(t, "RevokeLink by another account", s.RevokeLink(ctx, bob.owner, l.ID, t0), meta.ErrNotFound)
		wantErr(t, "RevokeLink of an unknown link", s.RevokeLink(ctx, d.owner, hash("none")[:16], t0), meta.ErrNotFound)
		checkLink(t, getLink(t, s, l.ID), l)
		if _, err := s.LinkSessionByTokenHash(ctx, tokenHash("link token 1")); err != nil {
			t.Fatalf("session after a refused revoke: %v", err)
		}

		at := t0.Add(time.Hour)
		if err := s.RevokeLink(ctx, d.owner, l.ID, at); err != nil {
			t.Fatalf("RevokeLink: %v", err)
		}
		want := *l
		want.RevokedAt = at
		checkLink(t, getLink(t, s, l.ID), &want)
		for _, name := range []string{"1", "2"} {
			_, err := s.LinkSessionByTokenHash(ctx, tokenHash("link token "+name))
			wantErr(t, "session "+name+" of a revoked link", err, meta.ErrNotFound)
		}
		if _, err := s.LinkSessionByTokenHash(ctx, tokenHash("link token 3")); err != nil {
			t.Errorf("session of another link after a revoke: %v", err)
		}
		// Twice is fine, and keeps the first time.
		if err := s.RevokeLink(ctx, d.owner, l.ID, at.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeLink again: %v", err)
		}
		checkLink(t, getLink(t, s, l.ID), &want)
		// No session of a revoked link can be opened again.
		err := s.CreateLinkSession(ctx, newLinkSession("4", l.ID, at), false)
		wantErr(t, "CreateLinkSession of a revoked link", err, meta.ErrLinkClosed)
	}},
}

var linkSessionTests = []test{
	{"CreateAndLookUp", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		l := d.newLink("a", d.folder(d.root, "dir"), meta.LinkRead)
		putLink(t, s, l)
		ls := newLinkSession("1", l.ID, t0)
		if err := s.CreateLinkSession(ctx, ls, false); err != nil {
			t.Fatalf("CreateLinkSession: %v", err)
		}
		got, err := s.LinkSessionByTokenHash(ctx, ls.TokenHash)
		if err != nil {
			t.Fatalf("LinkSessionByTokenHash: %v", err)
		}
		checkTime(t, "CreatedAt", got.CreatedAt, ls.CreatedAt)
		checkTime(t, "ExpiresAt", got.ExpiresAt, ls.ExpiresAt)
		if string(got.TokenHash) != string(ls.TokenHash) || string(got.LinkID) != string(ls.LinkID) {
			t.Errorf("session = %+v, want %+v", got, ls)
		}
		_, err = s.LinkSessionByTokenHash(ctx, tokenHash("other"))
		wantErr(t, "LinkSessionByTokenHash of an unknown hash", err, meta.ErrNotFound)
		// An account session's token hash is not a link session's.
		createSession(t, s, newSession("s1", d.owner, t0))
		_, err = s.LinkSessionByTokenHash(ctx, tokenHash("token s1"))
		wantErr(t, "LinkSessionByTokenHash of an account session", err, meta.ErrNotFound)

		dup := newLinkSession("1", l.ID, t0)
		wantErr(t, "CreateLinkSession with a taken hash", s.CreateLinkSession(ctx, dup, false), meta.ErrExists)
		err = s.CreateLinkSession(ctx, newLinkSession("2", hash("none")[:16], t0), false)
		wantErr(t, "CreateLinkSession of an unknown link", err, meta.ErrNotFound)
		linkCounts(t, s, l.ID, 0, 0, 0)
	}},
	{"Expired", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		l := d.newLink("a", d.folder(d.root, "dir"), meta.LinkRead)
		l.ExpiresAt = t0.Add(time.Hour)
		putLink(t, s, l)
		if err := s.CreateLinkSession(ctx, newLinkSession("1", l.ID, t0.Add(time.Hour-time.Millisecond)), true); err != nil {
			t.Fatalf("CreateLinkSession before expiry: %v", err)
		}
		err := s.CreateLinkSession(ctx, newLinkSession("2", l.ID, t0.Add(time.Hour)), true)
		wantErr(t, "CreateLinkSession at expiry", err, meta.ErrLinkClosed)
		linkCounts(t, s, l.ID, 1, 0, 0)
	}},
	{"NodeGone", func(t *testing.T, s meta.Store) {
		// The node may go between the server's check and the session:
		// the store checks again, in the transaction.
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		top := d.folder(d.root, "top")
		dir := d.folder(top, "dir")
		l := d.newLink("a", dir, meta.LinkRead)
		putLink(t, s, l)
		if err := s.TrashNode(ctx, top.ID, t0); err != nil {
			t.Fatal(err)
		}
		ls := newLinkSession("1", l.ID, t0)
		wantErr(t, "CreateLinkSession below a folder in the trash", s.CreateLinkSession(ctx, ls, true), meta.ErrLinkClosed)
		_, err := s.LinkSessionByTokenHash(ctx, ls.TokenHash)
		wantErr(t, "session refused with its node gone", err, meta.ErrNotFound)
		linkCounts(t, s, l.ID, 0, 0, 0)
		if err := s.RestoreNode(ctx, top.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateLinkSession(ctx, ls, true); err != nil {
			t.Fatalf("CreateLinkSession after the restore: %v", err)
		}
		// Deleted for good.
		if err := s.TrashNode(ctx, top.ID, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EmptyTrash(ctx, d.vol.ID); err != nil {
			t.Fatal(err)
		}
		err = s.CreateLinkSession(ctx, newLinkSession("2", l.ID, t0), true)
		wantErr(t, "CreateLinkSession of a deleted node", err, meta.ErrLinkClosed)
		linkCounts(t, s, l.ID, 1, 0, 0)
	}},
	{"Sweep", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		l := d.newLink("a", d.folder(d.root, "dir"), meta.LinkRead)
		putLink(t, s, l)
		old, fresh := newLinkSession("old", l.ID, t0), newLinkSession("fresh", l.ID, t0.Add(time.Hour))
		for _, ls := range []*meta.LinkSession{old, fresh} {
			if err := s.CreateLinkSession(ctx, ls, false); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.DeleteExpiredSessions(ctx, t0.Add(time.Hour+time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err := s.LinkSessionByTokenHash(ctx, old.TokenHash)
		wantErr(t, "expired link session after the sweep", err, meta.ErrNotFound)
		if _, err := s.LinkSessionByTokenHash(ctx, fresh.TokenHash); err != nil {
			t.Errorf("live link session after the sweep: %v", err)
		}
	}},
	{"CountDownloads", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		l := d.newLink("a", dir, meta.LinkRead)
		l.MaxDownloads = 2
		putLink(t, s, l)
		for i := range 2 {
			if err := s.CreateLinkSession(ctx, newLinkSession(fmt.Sprint(i), l.ID, t0), true); err != nil {
				t.Fatalf("download %d: %v", i, err)
			}
		}
		last := newLinkSession("last", l.ID, t0)
		wantErr(t, "a download past the limit", s.CreateLinkSession(ctx, last, true), meta.ErrLimit)
		_, err := s.LinkSessionByTokenHash(ctx, last.TokenHash)
		wantErr(t, "session refused at the limit", err, meta.ErrNotFound)
		linkCounts(t, s, l.ID, 2, 0, 0)
		// A session that counts nothing is not limited.
		if err := s.CreateLinkSession(ctx, newLinkSession("free", l.ID, t0), false); err != nil {
			t.Fatalf("session without a download: %v", err)
		}
		linkCounts(t, s, l.ID, 2, 0, 0)

		unlimited := d.newLink("b", dir, meta.LinkRead)
		putLink(t, s, unlimited)
		for i := range 5 {
			if err := s.CreateLinkSession(ctx, newLinkSession(fmt.Sprint("u", i), unlimited.ID, t0), true); err != nil {
				t.Fatalf("unlimited download %d: %v", i, err)
			}
		}
		linkCounts(t, s, unlimited.ID, 5, 0, 0)
	}},
	{"CountDownloadsConcurrently", func(t *testing.T, s meta.Store) {
		CountDownloadsConcurrently(t, []meta.Store{s}, "alice", 20)
	}},
}

// CountDownloadsConcurrently opens n sessions of one read link at once,
// through the stores in turn (which share one database), each counting a
// download, and checks that exactly the link's limit of n/4 of them got
// through. The account name is created in the stores' database.
func CountDownloadsConcurrently(t *testing.T, stores []meta.Store, name string, n int) {
	d := newDrive(t, stores[0], name)
	l := d.newLink("a", d.folder(d.root, "dir"), meta.LinkRead)
	l.MaxDownloads = int64(n / 4)
	putLink(t, stores[0], l)
	var ok, limited atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			err := stores[i%len(stores)].CreateLinkSession(t.Context(), newLinkSession(fmt.Sprint(name, i), l.ID, t0), true)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, meta.ErrLimit):
				limited.Add(1)
			default:
				t.Errorf("download %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != l.MaxDownloads || limited.Load() != int64(n)-l.MaxDownloads {
		t.Errorf("%d downloads went through and %d were refused; want %d and %d",
			ok.Load(), limited.Load(), l.MaxDownloads, int64(n)-l.MaxDownloads)
	}
	linkCounts(t, stores[0], l.ID, l.MaxDownloads, 0, 0)
}

// uploadLink makes an upload link of d to a new folder "inbox" with
// these limits, and returns both.
func (d *drive) uploadLink(maxFiles, maxBytes int64) (*meta.Link, *meta.Node) {
	d.t.Helper()
	dir := d.folder(d.root, "inbox")
	l := d.newLink("upload", dir, meta.LinkUpload)
	l.MaxFiles, l.MaxBytes = maxFiles, maxBytes
	putLink(d.t, d.s, l)
	return l, dir
}

// linkUpload adds the blocks called names, of this size each, through
// the link, and returns their IDs.
func linkUpload(t *testing.T, s meta.Store, l *meta.Link, size int64, names ...string) [][]byte {
	t.Helper()
	ids := make([][]byte, len(names))
	for i, name := range names {
		ids[i] = blockID(name)
		if err := s.AddLinkBlock(t.Context(), l.ID, meta.BlockInfo{ID: ids[i], Size: size}, t0); err != nil {
			t.Fatalf("AddLinkBlock(%s): %v", name, err)
		}
	}
	return ids
}

// newDrop returns a drop of a file made of blocks into the folder dir,
// not stored.
func (d *drive) newDrop(dir *meta.Node, blocks ...[]byte) meta.NewFile {
	it := d.newFile(dir, "", blocks...)
	it.Node.SealedName = nil
	it.Node.NameHash = d.id("random name hash")
	it.Node.NameHash = append(it.Node.NameHash, it.Node.NameHash...)
	it.Node.Author, it.Revision.Author = "link:x", "link:x"
	return it
}

var linkUploadTests = []test{
	{"Blocks", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		l, _ := d.uploadLink(0, 2500)
		ids := linkUpload(t, s, l, 1000, "b1", "b2")
		// Pending, not dropped.
		linkCounts(t, s, l.ID, 0, 0, 0)
		linkPending(t, s, l.ID, 2000)
		// The blocks are the owner's from the start.
		checkUsage(t, s, d.owner, 2000, 0)
		for _, id := range ids {
			if ok, err := s.BlockOwned(ctx, d.owner, id); err != nil || !ok {
				t.Errorf("BlockOwned(owner, %x) = %v, %v; want true", id, ok, err)
			}
		}
		// A retried upload counts nothing again.
		linkUpload(t, s, l, 1000, "b1")
		linkPending(t, s, l.ID, 2000)
		// Past the link's limit, nothing is stored or counted.
		err := s.AddLinkBlock(ctx, l.ID, meta.BlockInfo{ID: blockID("b3"), Size: 501}, t0)
		wantErr(t, "AddLinkBlock past MaxBytes", err, meta.ErrLimit)
		if unknown, err := s.UnknownBlocks(ctx, [][]byte{blockID("b3")}); err != nil || len(unknown) != 1 {
			t.Errorf("a block refused at the limit is known: %v %v", unknown, err)
		}
		linkPending(t, s, l.ID, 2000)
		checkUsage(t, s, d.owner, 2000, 0)
		linkUpload(t, s, l, 500, "b3") // exactly to the limit
		linkPending(t, s, l.ID, 2500)
		linkCounts(t, s, l.ID, 0, 0, 0)
	}},
	{"PendingBytes", func(t *testing.T, s meta.Store) {
		// What was dropped counts for good; what was uploaded and not
		// dropped counts until a drop takes it or garbage collection
		// deletes it, so that an abandoned upload does not use up the
		// link.
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		l, dir := d.uploadLink(0, 3000)
		b := linkUpload(t, s, l, 1000, "b1", "b2")
		// A block named twice counts once.
		it := d.newDrop(dir, b[0], b[0])
		if err := s.CreateLinkDrop(ctx, l.ID, it, t0); err != nil {
			t.Fatalf("CreateLinkDrop: %v", err)
		}
		linkCounts(t, s, l.ID, 0, 1, 1000)
		linkPending(t, s, l.ID, 1000)
		// b2 is abandoned, then collected: it leaves the link.
		checkGarbage(t, s, []string{"b1", "b2"}, "b2")
		collect(t, s, "b2")
		linkCounts(t, s, l.ID, 0, 1, 1000)
		linkPending(t, s, l.ID, 0)
		checkUsage(t, s, d.owner, 1000, 0)
		// Its room is free again, up to the limit with what was dropped.
		linkUpload(t, s, l, 2000, "b3")
		linkPending(t, s, l.ID, 2000)
		err := s.AddLinkBlock(ctx, l.ID, meta.BlockInfo{ID: blockID("b4"), Size: 1}, t0)
		wantErr(t, "AddLinkBlock past MaxBytes with drops and pending", err, meta.ErrLimit)
		// A dropped block uploaded again counts nothing: it is in use,
		// and no drop can take it again.
		linkUpload(t, s, l, 1000, "b1")
		linkCounts(t, s, l.ID, 0, 1, 1000)
		linkPending(t, s, l.ID, 2000)
		wantErr(t, "a dropped block dropped again",
			s.CreateLinkDrop(ctx, l.ID, d.newDrop(dir, b[0]), t0), meta.ErrMissingBlocks)
		if err := s.CreateLinkDrop(ctx, l.ID, d.newDrop(dir, blockID("b3")), t0); err != nil {
			t.Fatalf("CreateLinkDrop up to the limit: %v", err)
		}
		linkCounts(t, s, l.ID, 0, 2, 3000)
		linkPending(t, s, l.ID, 0)
		// Deleting the dropped files does not give their bytes back:
		// the link counts what was dropped through it.
		for _, n := range []*meta.Node{it.Node} {
			if err := s.TrashNode(ctx, n.ID, t0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.EmptyTrash(ctx, d.vol.ID); err != nil {
			t.Fatal(err)
		}
		collect(t, s, "b1")
		linkCounts(t, s, l.ID, 0, 2, 3000)
		linkPending(t, s, l.ID, 0)
		err = s.AddLinkBlock(ctx, l.ID, meta.BlockInfo{ID: blockID("b5"), Size: 1}, t0)
		wantErr(t, "AddLinkBlock with the limit dropped", err, meta.ErrLimit)
	}},
	{"BlocksQuotaAndOwners", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		l, dir := d.uploadLink(0, 0)
		if err := s.SetQuota(ctx, d.owner, 1500); err != nil {
			t.Fatal(err)
		}
		linkUpload(t, s, l, 1000, "b1")
		err := s.AddLinkBlock(ctx, l.ID, meta.BlockInfo{ID: blockID("b2"), Size: 1000}, t0)
		wantErr(t, "AddLinkBlock past the owner's quota", err, meta.ErrQuota)
		linkPending(t, s, l.ID, 1000)
		bob.upload(10, "bobs")
		err = s.AddLinkBlock(ctx, l.ID, meta.BlockInfo{ID: blockID("bobs"), Size: 10}, t0)
		wantErr(t, "AddLinkBlock of another account's block", err, meta.ErrExists)
		linkPending(t, s, l.ID, 1000)

		read := d.newLink("read", dir, meta.LinkRead)
		putLink(t, s, read)
		err = s.AddLinkBlock(ctx, read.ID, meta.BlockInfo{ID: blockID("r"), Size: 10}, t0)
		wantErr(t, "AddLinkBlock through a read link", err, meta.ErrInvalid)
		err = s.AddLinkBlock(ctx, hash("none")[:16], meta.BlockInfo{ID: blockID("r"), Size: 10}, t0)
		wantErr(t, "AddLinkBlock through an unknown link", err, meta.ErrNotFound)
		if err := s.RevokeLink(ctx, d.owner, l.ID, t0); err != nil {
			t.Fatal(err)
		}
		err = s.AddLinkBlock(ctx, l.ID, meta.BlockInfo{ID: blockID("late"), Size: 10}, t0)
		wantErr(t, "AddLinkBlock through a revoked link", err, meta.ErrLinkClosed)
		checkUsage(t, s, d.owner, 1000, 1500)
	}},
	{"Drop", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		l, dir := d.uploadLink(0, 0)
		it := d.newDrop(dir, linkUpload(t, s, l, 1000, "b1", "b2")...)
		if err := s.CreateLinkDrop(ctx, l.ID, it, t0); err != nil {
			t.Fatalf("CreateLinkDrop: %v", err)
		}
		d.checkStored(it.Node)
		d.checkRevisions(it.Node, it.Revision)
		d.checkChildren(dir, it.Node)
		linkCounts(t, s, l.ID, 0, 1, 2000)
		linkPending(t, s, l.ID, 0)
		// The drop is the owner's like any file: its blocks are in use.
		checkUsage(t, s, d.owner, 2000, 0)
		checkGarbage(t, s, []string{"b1", "b2"})

		// An empty file needs no blocks.
		empty := d.newDrop(dir)
		if err := s.CreateLinkDrop(ctx, l.ID, empty, t0); err != nil {
			t.Fatalf("CreateLinkDrop of an empty file: %v", err)
		}
		linkCounts(t, s, l.ID, 0, 2, 2000)
	}},
	{"DropRefused", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		l, dir := d.uploadLink(0, 0)
		sub := d.folder(dir, "sub")
		linkUpload(t, s, l, 100, "mine")
		own := d.upload(100, "owners")
		used := linkUpload(t, s, l, 100, "used")
		if err := s.CreateLinkDrop(ctx, l.ID, d.newDrop(dir, used...), t0); err != nil {
			t.Fatal(err)
		}
		read := d.newLink("read", dir, meta.LinkRead)
		putLink(t, s, read)
		other := d.newLink("other", dir, meta.LinkUpload)
		putLink(t, s, other)
		linkUpload(t, s, other, 100, "others")
		cases := []struct {
			name string
			link []byte
			item func() meta.NewFile
			want error
		}{
			{"unknown link", hash("none")[:16], func() meta.NewFile { return d.newDrop(dir) }, meta.ErrNotFound},
			{"read link", read.ID, func() meta.NewFile { return d.newDrop(dir) }, meta.ErrInvalid},
			{"folder", l.ID, func() meta.NewFile {
				it := d.newFolder(dir, "f")
				it.Revision = d.newRevision(it.Node, 1)
				return it
			}, meta.ErrInvalid},
			{"no revision", l.ID, func() meta.NewFile {
				it := d.newDrop(dir)
				it.Revision = nil
				return it
			}, meta.ErrInvalid},
			{"below the folder", l.ID, func() meta.NewFile { return d.newDrop(sub) }, meta.ErrInvalid},
			{"elsewhere", l.ID, func() meta.NewFile { return d.newDrop(d.root) }, meta.ErrInvalid},
			{"another volume", l.ID, func() meta.NewFile {
				it := d.newDrop(dir)
				it.Node.VolumeID = hash("other volume")[:16]
				return it
			}, meta.ErrInvalid},
			{"owner's block", l.ID, func() meta.NewFile { return d.newDrop(dir, blockID("mine"), own[0]) }, meta.ErrMissingBlocks},
			{"another link's block", l.ID, func() meta.NewFile { return d.newDrop(dir, blockID("others")) }, meta.ErrMissingBlocks},
			{"block in use", l.ID, func() meta.NewFile { return d.newDrop(dir, used...) }, meta.ErrMissingBlocks},
			{"unknown block", l.ID, func() meta.NewFile { return d.newDrop(dir, blockID("nothing")) }, meta.ErrMissingBlocks},
		}
		for _, tc := range cases {
			it := tc.item()
			wantErr(t, tc.name, s.CreateLinkDrop(ctx, tc.link, it, t0), tc.want)
			if _, err := s.Node(ctx, it.Node.ID); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("%s: the refused node exists: %v", tc.name, err)
			}
		}
		linkCounts(t, s, l.ID, 0, 1, 100)
		linkPending(t, s, l.ID, 100)
		// The link's own block is still free for a drop.
		if err := s.CreateLinkDrop(ctx, l.ID, d.newDrop(dir, blockID("mine")), t0); err != nil {
			t.Fatalf("CreateLinkDrop after refusals: %v", err)
		}
		linkCounts(t, s, l.ID, 0, 2, 200)
		linkPending(t, s, l.ID, 0)
	}},
	{"DropLimitAndClosed", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		l, dir := d.uploadLink(2, 0)
		for i := range 2 {
			if err := s.CreateLinkDrop(ctx, l.ID, d.newDrop(dir), t0); err != nil {
				t.Fatalf("drop %d: %v", i, err)
			}
		}
		wantErr(t, "a drop past MaxFiles", s.CreateLinkDrop(ctx, l.ID, d.newDrop(dir), t0), meta.ErrLimit)
		linkCounts(t, s, l.ID, 0, 2, 0)

		open := d.newLink("expiring", d.folder(d.root, "box"), meta.LinkUpload)
		open.ExpiresAt = t0.Add(time.Hour)
		putLink(t, s, open)
		box := d.node(open.NodeID)
		wantErr(t, "a drop at expiry", s.CreateLinkDrop(ctx, open.ID, d.newDrop(box), t0.Add(time.Hour)), meta.ErrLinkClosed)
		if err := s.RevokeLink(ctx, d.owner, open.ID, t0); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "a drop through a revoked link", s.CreateLinkDrop(ctx, open.ID, d.newDrop(box), t0), meta.ErrLinkClosed)

		// A folder in the trash, itself or by way of a folder above it,
		// or deleted, takes no drops: the link is closed with its node.
		trash := d.newLink("trash", d.folder(d.root, "trash"), meta.LinkUpload)
		putLink(t, s, trash)
		if err := s.TrashNode(ctx, trash.NodeID, t0); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "a drop into the trash", s.CreateLinkDrop(ctx, trash.ID, d.newDrop(d.node(trash.NodeID)), t0), meta.ErrLinkClosed)
		linkCounts(t, s, trash.ID, 0, 0, 0)
		top := d.folder(d.root, "top")
		below := d.newLink("below", d.folder(top, "in"), meta.LinkUpload)
		putLink(t, s, below)
		in := d.node(below.NodeID)
		if err := s.TrashNode(ctx, top.ID, t0); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "a drop below a folder in the trash", s.CreateLinkDrop(ctx, below.ID, d.newDrop(in), t0), meta.ErrLinkClosed)
		if _, err := s.EmptyTrash(ctx, d.vol.ID); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "a drop into a deleted folder", s.CreateLinkDrop(ctx, below.ID, d.newDrop(in), t0), meta.ErrLinkClosed)
		linkCounts(t, s, below.ID, 0, 0, 0)
	}},
	{"DropsConcurrently", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		l, dir := d.uploadLink(3, 0)
		items := make([]meta.NewFile, 12)
		for i := range items {
			items[i] = d.newDrop(dir)
		}
		var ok atomic.Int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range items {
			wg.Go(func() {
				<-start
				err := s.CreateLinkDrop(t.Context(), l.ID, items[i], t0)
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, meta.ErrLimit):
					t.Errorf("drop %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok.Load() != 3 {
			t.Errorf("%d drops went through, want 3", ok.Load())
		}
		linkCounts(t, s, l.ID, 0, 3, 0)
	}},
}

var activeBelowTests = []test{
	{"Paths", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		top := d.folder(d.root, "top")
		mid := d.folder(top, "mid")
		f, _ := d.file(mid, "f")
		hidden := d.folder(top, "hidden")
		deep, _ := d.file(hidden, "deep")
		trashedFile, _ := d.file(top, "trashed")
		outside, _ := d.file(d.root, "outside")
		for _, n := range []*meta.Node{hidden, trashedFile} {
			if err := s.TrashNode(ctx, n.ID, t0); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			name       string
			node, root *meta.Node
			want       bool
		}{
			{"the root itself", top, top, true},
			{"a child", mid, top, true},
			{"a grandchild", f, top, true},
			{"from the volume's root", f, d.root, true},
			{"a file in the trash", trashedFile, top, false},
			{"a folder in the trash", hidden, top, false},
			{"below a folder in the trash", deep, top, false},
			{"below the trash, from inside it", deep, hidden, false},
			{"outside", outside, top, false},
			{"above", d.root, top, false},
			{"a sibling folder", mid, hidden, false},
		}
		for _, tc := range cases {
			got, err := s.ActiveBelow(ctx, tc.node.ID, tc.root.ID)
			if err != nil || got != tc.want {
				t.Errorf("%s: ActiveBelow = %v, %v; want %v", tc.name, got, err, tc.want)
			}
		}
		if got, err := s.ActiveBelow(ctx, hash("none")[:16], top.ID); err != nil || got {
			t.Errorf("ActiveBelow of an unknown node = %v, %v; want false", got, err)
		}
		// A trashed root reaches nothing, itself included.
		if err := s.TrashNode(ctx, top.ID, t0); err != nil {
			t.Fatal(err)
		}
		for _, n := range []*meta.Node{top, f} {
			if got, err := s.ActiveBelow(ctx, n.ID, top.ID); err != nil || got {
				t.Errorf("ActiveBelow below a trashed root = %v, %v; want false", got, err)
			}
		}
	}},
}

var blockInRevisionTests = []test{
	{"HeadOnly", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "a", "shared")
		g, _ := d.file(d.root, "g", "other")
		f, r2 := d.commit(f, 0, "b")
		cases := []struct {
			name  string
			block string
			rev   []byte
			want  bool
		}{
			{"a block of the head", "b", r2.ID, true},
			{"a block of an older revision, in it", "a", r1.ID, true},
			{"a block of an older revision, in the head", "a", r2.ID, false},
			{"another file's block", "other", f.RevisionID, false},
			{"a block uploaded, in no revision", "nothing", r2.ID, false},
			{"an unknown revision", "b", hash("none")[:16], false},
		}
		d.upload(10, "nothing")
		for _, tc := range cases {
			got, err := s.BlockInRevision(ctx, blockID(tc.block), tc.rev)
			if err != nil || got != tc.want {
				t.Errorf("%s: BlockInRevision = %v, %v; want %v", tc.name, got, err, tc.want)
			}
		}
		if got, err := s.BlockInRevision(ctx, blockID("other"), g.RevisionID); err != nil || !got {
			t.Errorf("BlockInRevision of g's own block = %v, %v; want true", got, err)
		}
	}},
}
