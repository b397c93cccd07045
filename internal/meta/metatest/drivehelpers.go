package metatest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// Node kinds.
const (
	folderKind = 1
	fileKind   = 2
)

// farFuture is an olderThan that every block in the suite is older than.
var farFuture = t0.Add(100 * 365 * 24 * time.Hour)

func hash(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return h.Sum(nil)
}

// nameHash stands for the HMAC of a name under its folder's key. It is the
// same in every folder, so that the suite can tell uniqueness per folder
// from uniqueness per volume.
func nameHash(name string) []byte { return hash("name", name) }

// drive is an account with a volume, and a source of fresh IDs in it.
type drive struct {
	t     *testing.T
	s     meta.Store
	name  string
	owner int64
	vol   *meta.Volume
	root  *meta.Node
	seq   int // numbers the IDs handed out
}

// newDrive creates the account name with its volume.
func newDrive(t *testing.T, s meta.Store, name string) *drive {
	t.Helper()
	d := &drive{t: t, s: s, name: name, owner: createUser(t, s, newUser(name))}
	d.vol = &meta.Volume{ID: d.id("volume"), OwnerID: d.owner, CreatedAt: t0}
	d.root = d.newNode(nil, "", folderKind)
	d.vol.RootID = d.root.ID
	if err := s.CreateVolume(t.Context(), d.vol, d.root); err != nil {
		t.Fatalf("CreateVolume(%s): %v", name, err)
	}
	return d
}

// id returns a new 16-byte ID.
func (d *drive) id(kind string) []byte {
	d.seq++
	return hash(d.name, kind, fmt.Sprint(d.seq))[:16]
}

// newNode returns a node record under parent (nil for a root), not stored.
func (d *drive) newNode(parent *meta.Node, name string, kind int) *meta.Node {
	n := &meta.Node{
		ID:         d.id("node"),
		VolumeID:   d.vol.ID,
		Kind:       kind,
		NameHash:   nameHash(name),
		SealedName: []byte("sealed:" + name),
		SealedKey:  bytesOf(48, byte(d.seq)),
		Author:     d.name + "@laptop",
		Version:    1,
		Signature:  bytesOf(64, byte(d.seq+1)),
		CreatedAt:  t0,
		UpdatedAt:  t0,
	}
	if parent != nil {
		n.ParentID = parent.ID
	}
	return n
}

// newFolder returns a folder record under parent, not stored.
func (d *drive) newFolder(parent *meta.Node, name string) meta.NewFile {
	return meta.NewFile{Node: d.newNode(parent, name, folderKind)}
}

// newFile returns a file record under parent with its first revision made
// of blocks, not stored.
func (d *drive) newFile(parent *meta.Node, name string, blocks ...[]byte) meta.NewFile {
	n := d.newNode(parent, name, fileKind)
	r := d.newRevision(n, 1, blocks...)
	n.RevisionID, n.RevisionSeq, n.RevisionDigest = r.ID, r.Seq, hash("digest", string(r.ID))
	return meta.NewFile{Node: n, Revision: r}
}

func (d *drive) newRevision(n *meta.Node, seq uint64, blocks ...[]byte) *meta.Revision {
	return &meta.Revision{
		ID:               d.id("revision"),
		NodeID:           n.ID,
		VolumeID:         n.VolumeID,
		Seq:              seq,
		SealedContentKey: bytesOf(60, byte(seq)),
		SealedAttrs:      bytesOf(90, byte(seq+1)),
		Blocks:           blocks,
		Size:             int64(len(blocks)) * 1000,
		Author:           d.name + "@laptop",
		Signature:        bytesOf(64, byte(seq+2)),
		CreatedAt:        t0.Add(time.Duration(seq) * time.Minute),
	}
}

// create stores items with CreateNodes.
func (d *drive) create(items ...meta.NewFile) {
	d.t.Helper()
	if err := d.s.CreateNodes(d.t.Context(), d.owner, items); err != nil {
		d.t.Fatalf("CreateNodes: %v", err)
	}
}

// folder creates a folder under parent.
func (d *drive) folder(parent *meta.Node, name string) *meta.Node {
	d.t.Helper()
	it := d.newFolder(parent, name)
	d.create(it)
	return it.Node
}

// file creates a file under parent, uploading a block of size 1000 for
// each of blocks (a name) first.
func (d *drive) file(parent *meta.Node, name string, blocks ...string) (*meta.Node, *meta.Revision) {
	d.t.Helper()
	it := d.newFile(parent, name, d.upload(1000, blocks...)...)
	d.create(it)
	return it.Node, it.Revision
}

// upload adds blocks of this size for each name, as the account, and
// returns their IDs.
func (d *drive) upload(size int64, names ...string) [][]byte {
	d.t.Helper()
	var ids [][]byte // nil for none, as a revision without blocks reads back
	if len(names) > 0 {
		ids = make([][]byte, len(names))
	}
	for i, name := range names {
		ids[i] = blockID(name)
		if err := d.s.AddBlock(d.t.Context(), d.owner, ids[i], size, t0); err != nil {
			d.t.Fatalf("AddBlock(%s): %v", name, err)
		}
	}
	return ids
}

// blockID is the ID of the block called name.
func blockID(name string) []byte { return hash("block", name) }

// next returns the update that makes n's record its next version with
// the same contents.
func next(n *meta.Node) meta.NodeUpdate {
	return meta.NodeUpdate{
		ParentID:       n.ParentID,
		NameHash:       n.NameHash,
		SealedName:     n.SealedName,
		SealedKey:      n.SealedKey,
		Author:         n.Author,
		Version:        n.Version + 1,
		RevisionID:     n.RevisionID,
		RevisionSeq:    n.RevisionSeq,
		RevisionDigest: n.RevisionDigest,
		KeyHistory:     n.KeyHistory,
		Signature:      bytesOf(64, byte(n.Version+100)),
		ExpectVersion:  n.Version,
	}
}

// applied returns n with the record of u.
func applied(n *meta.Node, u meta.NodeUpdate) *meta.Node {
	m := *n
	m.ParentID, m.NameHash, m.SealedName, m.SealedKey = u.ParentID, u.NameHash, u.SealedName, u.SealedKey
	m.Author, m.Version, m.Signature = u.Author, u.Version, u.Signature
	m.RevisionID, m.RevisionSeq, m.RevisionDigest = u.RevisionID, u.RevisionSeq, u.RevisionDigest
	m.KeyHistory = u.KeyHistory
	return &m
}

// commit adds a revision of blocks (names, uploaded as 1000 bytes each)
// to the file n, with a seq above all its revisions', and returns the
// node as stored and the revision.
func (d *drive) commit(n *meta.Node, keep int, blocks ...string) (*meta.Node, *meta.Revision) {
	d.t.Helper()
	revs, err := d.s.Revisions(d.t.Context(), n.ID)
	if err != nil {
		d.t.Fatalf("Revisions: %v", err)
	}
	var seq uint64
	for _, r := range revs {
		seq = max(seq, r.Seq)
	}
	r := d.newRevision(n, seq+1, d.upload(1000, blocks...)...)
	u := next(n)
	u.RevisionID, u.RevisionSeq, u.RevisionDigest = r.ID, r.Seq, hash("digest", string(r.ID))
	if err := d.s.CommitRevision(d.t.Context(), d.owner, n.ID, u, r, keep); err != nil {
		d.t.Fatalf("CommitRevision: %v", err)
	}
	return d.node(n.ID), r
}

// node returns the stored node.
func (d *drive) node(id []byte) *meta.Node {
	d.t.Helper()
	n, err := d.s.Node(d.t.Context(), id)
	if err != nil {
		d.t.Fatalf("Node(%x): %v", id, err)
	}
	return n
}

// checkNode compares a node read back with the one expected.
func checkNode(t *testing.T, got, want *meta.Node) {
	t.Helper()
	checkTime(t, "TrashedAt", got.TrashedAt, want.TrashedAt)
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	g, w := *got, *want
	g.TrashedAt, g.CreatedAt, g.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
	w.TrashedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("node differs:\n got %+v\nwant %+v", g, w)
	}
}

// checkStored reads the node want.ID back and compares it with want.
func (d *drive) checkStored(want *meta.Node) {
	d.t.Helper()
	checkNode(d.t, d.node(want.ID), want)
}

// checkRecord is checkStored for changes that leave the time of the
// node's last update to the store: trashing and restoring.
func (d *drive) checkRecord(want *meta.Node) {
	d.t.Helper()
	got := d.node(want.ID)
	w := *want
	w.UpdatedAt = got.UpdatedAt
	checkNode(d.t, got, &w)
}

func checkRevision(t *testing.T, got, want *meta.Revision) {
	t.Helper()
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	g, w := *got, *want
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("revision differs:\n got %+v\nwant %+v", g, w)
	}
}

// checkRevisions checks the IDs of a file's revisions, oldest first.
func (d *drive) checkRevisions(n *meta.Node, want ...*meta.Revision) {
	d.t.Helper()
	list, err := d.s.Revisions(d.t.Context(), n.ID)
	if err != nil {
		d.t.Fatalf("Revisions: %v", err)
	}
	if len(list) != len(want) {
		d.t.Fatalf("file has %d revisions, want %d", len(list), len(want))
	}
	for i := range want {
		checkRevision(d.t, &list[i], want[i])
	}
}

// ids returns the hex IDs of nodes, sorted.
func ids(nodes []meta.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = hex.EncodeToString(n.ID)
	}
	slices.Sort(out)
	return out
}

func hexIDs(nodes ...*meta.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = hex.EncodeToString(n.ID)
	}
	slices.Sort(out)
	return out
}

// checkChildren checks the active children of a folder, in any order.
func (d *drive) checkChildren(parent *meta.Node, want ...*meta.Node) {
	d.t.Helper()
	list, err := d.s.Children(d.t.Context(), parent.ID)
	if err != nil {
		d.t.Fatalf("Children: %v", err)
	}
	if got, w := ids(list), hexIDs(want...); !slices.Equal(got, w) {
		d.t.Errorf("children = %q, want %q", got, w)
	}
}

// checkTrash checks the volume's trash, in any order.
func (d *drive) checkTrash(want ...*meta.Node) {
	d.t.Helper()
	list, err := d.s.Trash(d.t.Context(), d.vol.ID)
	if err != nil {
		d.t.Fatalf("Trash: %v", err)
	}
	if got, w := ids(list), hexIDs(want...); !slices.Equal(got, w) {
		d.t.Errorf("trash = %q, want %q", got, w)
	}
}

// checkGone checks that nodes no longer exist.
func (d *drive) checkGone(nodes ...*meta.Node) {
	d.t.Helper()
	for _, n := range nodes {
		_, err := d.s.Node(d.t.Context(), n.ID)
		wantErr(d.t, fmt.Sprintf("Node(%x)", n.ID), err, meta.ErrNotFound)
	}
}

// garbage returns the unreferenced blocks of the store, by name among
// names: which of names are garbage.
func garbage(t *testing.T, s meta.Store, names ...string) []string {
	t.Helper()
	list, err := s.GarbageBlocks(t.Context(), farFuture, 1<<20)
	if err != nil {
		t.Fatalf("GarbageBlocks: %v", err)
	}
	set := make(map[string]bool, len(list))
	for _, id := range list {
		set[string(id)] = true
	}
	var out []string
	for _, name := range names {
		if set[string(blockID(name))] {
			out = append(out, name)
		}
	}
	return out
}

// checkGarbage checks which of names are unreferenced blocks.
func checkGarbage(t *testing.T, s meta.Store, names []string, want ...string) {
	t.Helper()
	if got := garbage(t, s, names...); !slices.Equal(got, want) {
		t.Errorf("garbage among %q = %q, want %q", names, got, want)
	}
}

// checkUsage checks an account's use and quota.
func checkUsage(t *testing.T, s meta.Store, owner int64, used, quota int64) {
	t.Helper()
	u, err := s.Usage(t.Context(), owner)
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if u.UsedBytes != used || u.QuotaBytes != quota {
		t.Errorf("Usage = %d used of %d, want %d of %d", u.UsedBytes, u.QuotaBytes, used, quota)
	}
}
