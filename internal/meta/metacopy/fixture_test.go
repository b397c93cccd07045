package metacopy_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// t0 is the fixture's clock.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

// farFuture is after every time in the fixture.
var farFuture = t0.Add(100 * 365 * 24 * time.Hour)

func hash(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return h.Sum(nil)
}

// bytesOf returns n bytes that differ with seed, with 0x00 and 0xff.
func bytesOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	if n > 0 {
		b[0], b[n-1] = 0x00, 0xff
	}
	return b
}

// fixture is a drive built through meta.Store, and the keys to read all
// of it back by.
type fixture struct {
	users      []string
	userIDs    map[string]int64
	volumes    map[string]*meta.Volume
	nodes      [][]byte // every node ever created, roots included
	files      [][]byte
	folders    [][]byte
	links      [][]byte
	shares     [][]byte
	tokens     [][]byte // session token hashes
	linkTokens [][]byte
	devices    map[string][][]byte
	throttles  []string
	secrets    []string
	challenges []string
	locations  []string
}

// builder makes one account's drive.
type builder struct {
	t     testing.TB
	s     meta.Store
	fx    *fixture
	name  string
	owner int64
	vol   *meta.Volume
	root  *meta.Node
	seq   int
}

func (b *builder) id(kind string) []byte {
	b.seq++
	return hash(b.name, kind, fmt.Sprint(b.seq))[:16]
}

func (b *builder) node(parent *meta.Node, name string, kind int) *meta.Node {
	n := &meta.Node{
		ID:         b.id("node"),
		VolumeID:   b.vol.ID,
		Kind:       kind,
		NameHash:   hash("name", name),
		SealedName: []byte("sealed:" + name),
		SealedKey:  bytesOf(48, byte(b.seq)),
		Author:     b.name + "@laptop",
		Version:    1,
		Signature:  bytesOf(64, byte(b.seq+1)),
		CreatedAt:  t0.Add(time.Duration(b.seq) * time.Second),
		UpdatedAt:  t0.Add(time.Duration(b.seq) * time.Second),
	}
	if parent != nil {
		n.ParentID = parent.ID
	}
	return n
}

func (b *builder) revision(n *meta.Node, seq uint64, blocks [][]byte, size int64) *meta.Revision {
	return &meta.Revision{
		ID:               b.id("revision"),
		NodeID:           n.ID,
		VolumeID:         n.VolumeID,
		Seq:              seq,
		SealedContentKey: bytesOf(60, byte(seq)),
		SealedAttrs:      bytesOf(90, byte(seq+1)),
		Blocks:           blocks,
		Size:             size,
		Author:           b.name + "@laptop",
		Signature:        bytesOf(64, byte(seq+2)),
		CreatedAt:        t0.Add(time.Duration(seq) * time.Minute),
	}
}

// upload adds blocks of size bytes, one per name.
func (b *builder) upload(size int64, names ...string) [][]byte {
	b.t.Helper()
	var infos []meta.BlockInfo
	var ids [][]byte
	for _, n := range names {
		id := hash("block", b.name, n)
		ids = append(ids, id)
		infos = append(infos, meta.BlockInfo{ID: id, Size: size})
	}
	if err := b.s.AddBlocks(b.t.Context(), b.owner, infos, t0); err != nil {
		b.t.Fatalf("AddBlocks: %v", err)
	}
	return ids
}

func (b *builder) folder(parent *meta.Node, name string) *meta.Node {
	b.t.Helper()
	n := b.node(parent, name, 1)
	if err := b.s.CreateNodes(b.t.Context(), b.owner, []meta.NewFile{{Node: n}}); err != nil {
		b.t.Fatalf("CreateNodes(folder %s): %v", name, err)
	}
	b.fx.nodes = append(b.fx.nodes, n.ID)
	b.fx.folders = append(b.fx.folders, n.ID)
	return n
}

// file creates a file of blocks (names, 1000 bytes each).
func (b *builder) file(parent *meta.Node, name string, blocks ...string) *meta.Node {
	b.t.Helper()
	n := b.node(parent, name, 2)
	r := b.revision(n, 1, b.upload(1000, blocks...), int64(len(blocks))*1000)
	n.RevisionID, n.RevisionSeq, n.RevisionDigest = r.ID, r.Seq, hash("digest", string(r.ID))
	if err := b.s.CreateNodes(b.t.Context(), b.owner, []meta.NewFile{{Node: n, Revision: r}}); err != nil {
		b.t.Fatalf("CreateNodes(file %s): %v", name, err)
	}
	b.fx.nodes = append(b.fx.nodes, n.ID)
	b.fx.files = append(b.fx.files, n.ID)
	return n
}

func (b *builder) stored(id []byte) *meta.Node {
	b.t.Helper()
	n, err := b.s.Node(b.t.Context(), id)
	if err != nil {
		b.t.Fatalf("Node: %v", err)
	}
	return n
}

func update(n *meta.Node) meta.NodeUpdate {
	return meta.NodeUpdate{
		ParentID: n.ParentID, NameHash: n.NameHash, SealedName: n.SealedName, SealedKey: n.SealedKey,
		Author: n.Author, Version: n.Version + 1, RevisionID: n.RevisionID, RevisionSeq: n.RevisionSeq,
		RevisionDigest: n.RevisionDigest, KeyHistory: n.KeyHistory, Signature: bytesOf(64, byte(n.Version+100)),
		ExpectVersion: n.Version,
	}
}

// commit adds revision seq to file n, of new blocks.
func (b *builder) commit(n *meta.Node, seq uint64, blocks ...string) {
	b.t.Helper()
	n = b.stored(n.ID)
	r := b.revision(n, seq, b.upload(700, blocks...), int64(len(blocks))*700)
	if seq == 3 {
		// A revision that re-uses a block of an earlier one carries its
		// origins (revisions.origins, opaque to the store).
		r.Origins = []meta.RevisionOrigin{{RevisionID: b.id("origin"), SealedKey: bytesOf(61, byte(seq))}}
		r.BlockOrigins = make([]uint32, len(blocks))
		r.BlockOrigins[0] = 1
	}
	u := update(n)
	u.RevisionID, u.RevisionSeq, u.RevisionDigest = r.ID, r.Seq, hash("digest", string(r.ID))
	u.KeyHistory = bytesOf(40, byte(seq))
	if err := b.s.CommitRevision(b.t.Context(), b.owner, n.ID, u, r, 0); err != nil {
		b.t.Fatalf("CommitRevision: %v", err)
	}
}

// newDrive creates the account name with its volume.
func newDrive(t testing.TB, s meta.Store, fx *fixture, name string) *builder {
	t.Helper()
	ctx := t.Context()
	u := &meta.User{
		Name:      name,
		CreatedAt: t0,
		Credentials: meta.Credentials{
			Salt: bytesOf(16, 1), KDF: meta.KDF{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 4},
			Verifier: bytesOf(384, 2), SealedKeys: bytesOf(120, 3), Epoch: 1,
		},
		RecoverySealedKeys: bytesOf(120, 4),
		RecoveryAuthPub:    bytesOf(32, 5),
		PublicBundle:       bytesOf(500, byte(len(name))),
	}
	id, err := s.CreateUser(ctx, u)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	b := &builder{t: t, s: s, fx: fx, name: name, owner: id}
	b.vol = &meta.Volume{ID: b.id("volume"), OwnerID: id, CreatedAt: t0}
	b.root = b.node(nil, "", 1)
	b.vol.RootID = b.root.ID
	if err := s.CreateVolume(ctx, b.vol, b.root); err != nil {
		t.Fatalf("CreateVolume(%s): %v", name, err)
	}
	fx.users = append(fx.users, name)
	fx.userIDs[name] = id
	fx.volumes[name] = b.vol
	fx.nodes = append(fx.nodes, b.root.ID)
	fx.folders = append(fx.folders, b.root.ID)
	return b
}

func newFixture() *fixture {
	return &fixture{userIDs: map[string]int64{}, volumes: map[string]*meta.Volume{}, devices: map[string][][]byte{}}
}

// populate builds a full deployment in s: accounts with sessions and
// devices, nested folders (one moved under a folder created after it),
// files with several revisions, the trash, shares with members, links
// with sessions, uploads pending and dropped, throttles, secrets, the
// storage layout and locations; plus bulk files, in folders of 100.
func populate(t testing.TB, s meta.Store, bulk int) *fixture {
	t.Helper()
	ctx := t.Context()
	fx := newFixture()
	alice := newDrive(t, s, fx, "alice")
	bob := newDrive(t, s, fx, "bob")
	carol := newDrive(t, s, fx, "carol")

	// Sessions, several at one created_at: only the insertion order
	// tells them apart.
	for i, u := range []string{"alice", "bob", "alice", "carol", "alice"} {
		sess := &meta.Session{
			ID: fmt.Sprintf("sess-%d-%s", i, u), UserID: fx.userIDs[u], TokenHash: hash("token", fmt.Sprint(i)),
			DeviceName: "device " + fmt.Sprint(i), CreatedAt: t0, LastSeenAt: t0.Add(time.Minute),
			ExpiresAt: farFuture, UnlockKey: bytesOf(32, byte(i)),
		}
		if err := s.CreateSession(ctx, sess, 1); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		fx.tokens = append(fx.tokens, sess.TokenHash)
	}
	for _, u := range []string{"alice", "bob"} {
		h := hash("device", u)
		if err := s.AddDevice(ctx, fx.userIDs[u], h, t0, 1); err != nil {
			t.Fatalf("AddDevice: %v", err)
		}
		fx.devices[u] = append(fx.devices[u], h)
	}
	for i, kind := range []string{"login", "recover"} {
		c := &meta.Challenge{ID: "challenge-" + kind, Kind: kind, UserName: "alice", UserID: fx.userIDs["alice"],
			Epoch: 1, Data: bytesOf(96, byte(i)), ExpiresAt: farFuture}
		if err := s.PutChallenge(ctx, c); err != nil {
			t.Fatalf("PutChallenge: %v", err)
		}
		fx.challenges = append(fx.challenges, c.ID)
	}
	for i, key := range []string{"ip:192.0.2.1", "user:alice"} {
		_, err := s.UpdateThrottle(ctx, key, func(th meta.Throttle) meta.Throttle {
			th.Failures += i + 1
			th.LastFailure = t0
			th.BlockedUntil = t0.Add(time.Hour)
			return th
		})
		if err != nil {
			t.Fatalf("UpdateThrottle: %v", err)
		}
		fx.throttles = append(fx.throttles, key)
	}
	for _, name := range []string{"fake-accounts", "another"} {
		if _, err := s.Secret(ctx, name, func() ([]byte, error) { return hash("secret", name), nil }); err != nil {
			t.Fatalf("Secret: %v", err)
		}
		fx.secrets = append(fx.secrets, name)
	}
	if err := s.SetQuota(ctx, bob.owner, 10<<30); err != nil {
		t.Fatalf("SetQuota: %v", err)
	}

	// Alice's tree. "moved" is created before "outer" and then moved
	// under it: its row comes before its new parent's.
	moved := alice.folder(alice.root, "moved")
	for i := range 8 { // so that moved and outer go in different batches
		alice.folder(alice.root, fmt.Sprint("filler", i))
	}
	outer := alice.folder(alice.root, "outer")
	mv := update(alice.stored(moved.ID))
	mv.ParentID = outer.ID
	if err := s.UpdateNode(ctx, moved.ID, mv); err != nil {
		t.Fatalf("UpdateNode (move): %v", err)
	}
	deep := alice.folder(alice.folder(moved, "level3"), "level4")
	f1 := alice.file(deep, "deep.txt", "d1", "d2")
	alice.commit(f1, 2, "d3")
	alice.commit(f1, 3, "d4", "d5")
	alice.file(outer, "empty.txt") // a file of no blocks
	trashed := alice.file(alice.root, "old.txt", "o1")
	if err := s.TrashNode(ctx, trashed.ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("TrashNode: %v", err)
	}
	alice.upload(123, "abandoned") // garbage: no revision uses it
	shared := alice.folder(alice.root, "shared")
	alice.file(shared, "in-share.txt", "s1")

	// Alice shares "shared" with bob (accepted) and carol (pending, as
	// uploader, so the share has inbox keys).
	sh := &meta.Share{
		ID: alice.id("share"), VolumeID: alice.vol.ID, NodeID: shared.ID, OwnerID: alice.owner, Version: 1,
		List: bytesOf(300, 1), Signature: bytesOf(64, 2), InboxPublic: bytesOf(32, 3), SealedInboxPrivate: bytesOf(80, 4),
		CreatedAt: t0, UpdatedAt: t0.Add(time.Minute),
	}
	members := []meta.ShareMember{
		{UserID: bob.owner, Role: meta.RoleEditor, Grant: bytesOf(90, 5), CreatedAt: t0},
		{UserID: carol.owner, Role: meta.RoleUploader, Grant: bytesOf(40, 6), CreatedAt: t0},
	}
	if err := s.PutShare(ctx, sh, members, 0); err != nil {
		t.Fatalf("PutShare: %v", err)
	}
	if err := s.SetShareState(ctx, sh.ID, bob.owner, meta.ShareAccepted, bytesOf(64, 7)); err != nil {
		t.Fatalf("SetShareState: %v", err)
	}
	fx.shares = append(fx.shares, sh.ID)
	// Bob writes into alice's share: his blocks pass to alice.
	inShare := alice.node(shared, "by-bob.txt", 2)
	bobBlocks := bob.upload(500, "bob1")
	r := alice.revision(inShare, 1, bobBlocks, 500)
	r.UploaderID = bob.owner
	inShare.RevisionID, inShare.RevisionSeq, inShare.RevisionDigest = r.ID, 1, hash("digest", string(r.ID))
	if err := s.CreateNodes(ctx, alice.owner, []meta.NewFile{{Node: inShare, Revision: r}}); err != nil {
		t.Fatalf("CreateNodes (member upload): %v", err)
	}
	fx.nodes, fx.files = append(fx.nodes, inShare.ID), append(fx.files, inShare.ID)

	// Links: a read link with a password (opened twice, same second),
	// and an upload link with a drop and a pending upload.
	link := func(name string, n *meta.Node, kind int, password bool) *meta.Link {
		l := &meta.Link{
			ID: alice.id("link " + name), OwnerID: alice.owner, VolumeID: alice.vol.ID, NodeID: n.ID, Kind: kind,
			Salt: bytesOf(16, 50), KDF: meta.KDF{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 1},
			Verifier: bytesOf(384, 51), Payload: bytesOf(300, 52), OwnerRecord: bytesOf(200, 53),
			Password: password, CreatedAt: t0, MaxDownloads: 5,
		}
		if kind == meta.LinkUpload {
			l.MaxDownloads, l.MaxFiles, l.MaxBytes = 0, 10, 1<<20
		}
		if err := s.PutLink(ctx, l); err != nil {
			t.Fatalf("PutLink: %v", err)
		}
		fx.links = append(fx.links, l.ID)
		return l
	}
	read := link("read", f1, meta.LinkRead, true)
	link("plain", outer, meta.LinkRead, false)
	for i := range 2 {
		ls := &meta.LinkSession{TokenHash: hash("link token", fmt.Sprint(i)), LinkID: read.ID, CreatedAt: t0, ExpiresAt: farFuture}
		if err := s.CreateLinkSession(ctx, ls, true); err != nil {
			t.Fatalf("CreateLinkSession: %v", err)
		}
		fx.linkTokens = append(fx.linkTokens, ls.TokenHash)
	}
	inbox := alice.folder(alice.root, "inbox")
	up := link("upload", inbox, meta.LinkUpload, false)
	for _, name := range []string{"drop1", "pending1", "pending2"} {
		if err := s.AddLinkBlock(ctx, up.ID, meta.BlockInfo{ID: hash("block", name), Size: 900}, t0); err != nil {
			t.Fatalf("AddLinkBlock: %v", err)
		}
	}
	drop := alice.node(inbox, "", 2)
	drop.SealedName = nil // an empty NOT NULL BLOB
	dr := alice.revision(drop, 1, [][]byte{hash("block", "drop1")}, 900)
	drop.RevisionID, drop.RevisionSeq, drop.RevisionDigest = dr.ID, 1, hash("digest", string(dr.ID))
	if err := s.CreateLinkDrop(ctx, up.ID, meta.NewFile{Node: drop, Revision: dr}, t0); err != nil {
		t.Fatalf("CreateLinkDrop: %v", err)
	}
	fx.nodes, fx.files = append(fx.nodes, drop.ID), append(fx.files, drop.ID)
	revoked := link("revoked", outer, meta.LinkRead, false)
	if err := s.RevokeLink(ctx, alice.owner, revoked.ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeLink: %v", err)
	}

	// Bob's drive, and bulk files for timing.
	bob.file(bob.folder(bob.root, "docs"), "report.pdf", "r1", "r2", "r3")
	var dir *meta.Node
	for i := range bulk {
		if i%100 == 0 {
			dir = carol.folder(carol.root, fmt.Sprint("bulk", i/100))
		}
		carol.file(dir, fmt.Sprint("file", i), fmt.Sprint("bulk", i))
	}

	for _, name := range []string{"file:///b", "file:///a", "s3://bucket/prefix"} {
		loc := meta.StorageLocation{Name: name, ScrubbedAt: t0, ScrubNext: 17, RepairedAt: t0.Add(time.Minute)}
		if err := s.SaveStorageLocation(ctx, loc); err != nil {
			t.Fatalf("SaveStorageLocation: %v", err)
		}
		fx.locations = append(fx.locations, name)
	}
	if err := s.SaveStorageLayout(ctx, `{"deployment":"0123456789abcdef"}`); err != nil {
		t.Fatalf("SaveStorageLayout: %v", err)
	}
	// A lease: left behind by the copy.
	if _, err := s.AcquireLease(ctx, "repair", "host:1", t0, time.Hour); err != nil {
		t.Fatalf("AcquireLease: %v", err)
	}
	return fx
}

// snapshot reads everything fx names back through s, keyed by what was
// read, for comparing two stores.
func snapshot(t testing.TB, s meta.Store, fx *fixture) map[string]any {
	t.Helper()
	ctx := t.Context()
	out := map[string]any{}
	must := func(what string, v any, err error) {
		t.Helper()
		switch {
		case errors.Is(err, meta.ErrNotFound):
			out[what] = "not found"
		case err != nil:
			t.Fatalf("%s: %v", what, err)
		default:
			out[what] = v
		}
	}
	for _, name := range fx.users {
		u, err := s.UserByName(ctx, name)
		must("user "+name, u, err)
		id := fx.userIDs[name]
		v, err := s.UserByID(ctx, id)
		must("user id "+name, v, err)
		sessions, err := s.ListSessions(ctx, id)
		must("sessions of "+name, sessions, err)
		usage, err := s.Usage(ctx, id)
		must("usage of "+name, usage, err)
		vol, err := s.VolumeByOwner(ctx, id)
		must("volume of "+name, vol, err)
		trash, err := s.Trash(ctx, vol.ID)
		must("trash of "+name, trash, err)
		shares, err := s.SharesOfVolume(ctx, vol.ID)
		must("shares of "+name, shares, err)
		with, err := s.SharedWith(ctx, id)
		must("shared with "+name, with, err)
		links, err := s.LinksOfOwner(ctx, id)
		must("links of "+name, links, err)
		head, err := s.EventHead(ctx, vol.ID)
		must("event head of "+name, head, err)
		events, _, err := s.Events(ctx, vol.ID, 0, 1<<20)
		// Both stores write after the copy, each at its own time; the
		// copied times are checked by the copy's verification.
		for i := range events {
			events[i].CreatedAt = time.Time{}
		}
		must("events of "+name, events, err)
		for _, h := range fx.devices[name] {
			known, err := s.DeviceKnown(ctx, id, h)
			must(fmt.Sprintf("device %x of %s", h[:4], name), known, err)
		}
		for _, n := range fx.nodes {
			acc, err := s.Accesses(ctx, id, n)
			must(fmt.Sprintf("accesses of %s to %x", name, n[:4]), acc, err)
		}
	}
	for _, n := range fx.nodes {
		node, err := s.Node(ctx, n)
		must(fmt.Sprintf("node %x", n), node, err)
	}
	for _, n := range fx.folders {
		children, err := s.Children(ctx, n)
		slices.SortFunc(children, func(a, b meta.Node) int { return slices.Compare(a.ID, b.ID) })
		must(fmt.Sprintf("children of %x", n), children, err)
		heads, err := s.HeadRevisions(ctx, n)
		slices.SortFunc(heads, func(a, b meta.Revision) int { return slices.Compare(a.ID, b.ID) })
		must(fmt.Sprintf("head revisions in %x", n), heads, err)
	}
	for _, n := range fx.files {
		revs, err := s.Revisions(ctx, n)
		must(fmt.Sprintf("revisions of %x", n), revs, err)
	}
	for _, id := range fx.shares {
		sh, err := s.Share(ctx, id)
		must(fmt.Sprintf("share %x", id), sh, err)
		members, err := s.ShareMembers(ctx, id)
		must(fmt.Sprintf("members of %x", id), members, err)
	}
	for _, id := range fx.links {
		l, err := s.Link(ctx, id)
		must(fmt.Sprintf("link %x", id), l, err)
	}
	for _, h := range fx.tokens {
		sess, err := s.SessionByTokenHash(ctx, h)
		must(fmt.Sprintf("session %x", h[:4]), sess, err)
	}
	for _, h := range fx.linkTokens {
		ls, err := s.LinkSessionByTokenHash(ctx, h)
		must(fmt.Sprintf("link session %x", h[:4]), ls, err)
	}
	for _, k := range fx.throttles {
		th, err := s.GetThrottle(ctx, k)
		must("throttle "+k, th, err)
	}
	for _, name := range fx.secrets {
		v, err := s.Secret(ctx, name, func() ([]byte, error) { return nil, fmt.Errorf("secret %s is missing", name) })
		must("secret "+name, v, err)
	}
	locs, err := s.StorageLocations(ctx)
	must("storage locations", locs, err)
	layout, err := s.StorageLayout(ctx)
	must("storage layout", layout, err)
	n, size, err := s.CountBlocks(ctx)
	must("block count", [2]int64{n, size}, err)
	garbage, err := s.GarbageBlocks(ctx, farFuture, 1<<20)
	slices.SortFunc(garbage, slices.Compare) // oldest first, and all are as old
	must("garbage", garbage, err)
	var blocks []string
	for p := range 256 {
		err := s.BlocksWithPrefix(ctx, byte(p), func(id []byte, size int64) error {
			blocks = append(blocks, fmt.Sprintf("%x:%d", id, size))
			return nil
		})
		if err != nil {
			t.Fatalf("BlocksWithPrefix: %v", err)
		}
	}
	out["blocks"] = blocks
	return out
}
