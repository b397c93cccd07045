package sqlite

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// BenchmarkReplaceRecords10k rotates the keys of a folder's 10,000
// children, half folders and half files, in one call: every child gets a
// new name hash, sealed name, key and signature, and the files a key
// history.
func BenchmarkReplaceRecords10k(b *testing.B) {
	ctx := b.Context()
	s, dirID := setupBench(b)
	defer s.Close()
	children, err := s.Children(ctx, dirID)
	if err != nil {
		b.Fatal(err)
	}
	nodes := make([]meta.NodeReplace, len(children))
	round := 0
	b.ReportAllocs()
	for b.Loop() {
		round++
		for i := range children {
			c := &children[i]
			h := sha256.Sum256(fmt.Appendf(nil, "round %d node %d", round, i))
			u := meta.NodeUpdate{
				ParentID: c.ParentID, NameHash: h[:], SealedName: bytes.Repeat(h[:4], 20),
				SealedKey: bytes.Repeat(h[:8], 12), Author: c.Author, Version: c.Version + 1,
				RevisionID: c.RevisionID, RevisionSeq: c.RevisionSeq, RevisionDigest: c.RevisionDigest,
				Signature: bytes.Repeat(h[:], 2), ExpectVersion: c.Version,
			}
			if c.Kind == 2 /* file */ {
				u.KeyHistory = c.SealedKey // the previous key: a history of one
			}
			nodes[i] = meta.NodeReplace{ID: c.ID, Update: u}
			c.Version, c.SealedKey, c.KeyHistory = u.Version, u.SealedKey, u.KeyHistory
		}
		if err := s.ReplaceRecords(ctx, nodes, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/op")
}

// A sibling whose name hash is a node's parked name (see parkQuery) makes
// the replacement fail, naming the node, and change nothing.
func TestReplaceRecordsParkedNameTaken(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	t.Cleanup(func() { checkInvariants(t, s) })
	uid, err := s.CreateUser(ctx, &meta.User{Name: "alice", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	volID := []byte("volume")
	root := benchNode(volID, nil, -1)
	if err := s.CreateVolume(ctx, &meta.Volume{ID: volID, OwnerID: uid, RootID: root.ID}, root); err != nil {
		t.Fatal(err)
	}
	x := benchNode(volID, root.ID, 1)
	y := benchNode(volID, root.ID, 2)
	y.NameHash = append([]byte{0}, x.ID...)
	if err := s.CreateNodes(ctx, uid, []meta.NewFile{{Node: x}, {Node: y}}); err != nil {
		t.Fatal(err)
	}
	u := meta.NodeUpdate{ParentID: root.ID, NameHash: []byte("new name"), Version: 2, ExpectVersion: 1}
	err = s.ReplaceRecords(ctx, []meta.NodeReplace{{ID: x.ID, Update: u}}, nil)
	if !errors.Is(err, meta.ErrExists) || !strings.Contains(err.Error(), fmt.Sprintf("node %x", x.ID)) {
		t.Errorf("ReplaceRecords with x's parked name taken: %v, want ErrExists naming node %x", err, x.ID)
	}
	got, err := s.Node(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || !bytes.Equal(got.NameHash, x.NameHash) {
		t.Errorf("x changed: version %d, name hash %x", got.Version, got.NameHash)
	}
}
