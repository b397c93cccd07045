package metatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

var volumeTests = []test{
	{"CreateAndGet", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		got, err := s.VolumeByOwner(t.Context(), d.owner)
		if err != nil {
			t.Fatalf("VolumeByOwner: %v", err)
		}
		checkTime(t, "CreatedAt", got.CreatedAt, d.vol.CreatedAt)
		if !slices.Equal(got.ID, d.vol.ID) || got.OwnerID != d.owner || !slices.Equal(got.RootID, d.root.ID) {
			t.Errorf("VolumeByOwner = %+v, want %+v", got, d.vol)
		}
		d.checkStored(d.root)
		d.checkChildren(d.root)
		d.checkTrash()
	}},
	{"OnePerAccount", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		v := &meta.Volume{ID: d.id("volume"), OwnerID: d.owner, CreatedAt: t0}
		root := d.newNode(nil, "", folderKind)
		root.VolumeID = v.ID
		v.RootID = root.ID
		wantErr(t, "second CreateVolume", s.CreateVolume(ctx, v, root), meta.ErrExists)
		// Nothing of the refused volume was left behind.
		_, err := s.Node(ctx, root.ID)
		wantErr(t, "Node of the refused root", err, meta.ErrNotFound)
		got, err := s.VolumeByOwner(ctx, d.owner)
		if err != nil {
			t.Fatalf("VolumeByOwner: %v", err)
		}
		if !slices.Equal(got.ID, d.vol.ID) {
			t.Errorf("VolumeByOwner = %x, want the first volume %x", got.ID, d.vol.ID)
		}
	}},
	{"Missing", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		uid := createUser(t, s, newUser("bob"))
		_, err := s.VolumeByOwner(ctx, uid)
		wantErr(t, "VolumeByOwner without a volume", err, meta.ErrNotFound)
		_, err = s.VolumeByOwner(ctx, 4242)
		wantErr(t, "VolumeByOwner of a missing account", err, meta.ErrNotFound)
		_, err = s.Node(ctx, []byte("nope"))
		wantErr(t, "Node of a missing ID", err, meta.ErrNotFound)

		// A volume for an account that does not exist.
		d := &drive{t: t, s: s, name: "ghost"}
		d.vol = &meta.Volume{ID: d.id("volume"), OwnerID: 4242, CreatedAt: t0}
		root := d.newNode(nil, "", folderKind)
		d.vol.RootID = root.ID
		wantErr(t, "CreateVolume for a missing account", s.CreateVolume(ctx, d.vol, root), meta.ErrNotFound)
	}},
	{"Separate", func(t *testing.T, s meta.Store) {
		a := newDrive(t, s, "alice")
		b := newDrive(t, s, "bob")
		fa := a.folder(a.root, "docs")
		fb := b.folder(b.root, "docs")
		a.checkChildren(a.root, fa)
		b.checkChildren(b.root, fb)
		got, err := s.VolumeByOwner(t.Context(), b.owner)
		if err != nil {
			t.Fatalf("VolumeByOwner: %v", err)
		}
		if !slices.Equal(got.ID, b.vol.ID) || !slices.Equal(got.RootID, b.root.ID) {
			t.Errorf("bob's volume = %x with root %x, want %x with %x", got.ID, got.RootID, b.vol.ID, b.root.ID)
		}
	}},
}

var nodeTests = []test{
	{"CreateTree", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		docs := d.newFolder(d.root, "docs")
		work := d.newFolder(docs.Node, "work")
		blocks := d.upload(1000, "b1", "b2", "b3")
		report := d.newFile(work.Node, "report.pdf", blocks[0], blocks[1], blocks[0])
		notes := d.newFile(docs.Node, "notes.txt", blocks[2])
		empty := d.newFile(d.root, "empty")
		// A folder and its contents in one call, parents first.
		d.create(docs, work, report, notes, empty)

		for _, n := range []*meta.Node{docs.Node, work.Node, report.Node, notes.Node, empty.Node} {
			d.checkStored(n)
		}
		d.checkChildren(d.root, docs.Node, empty.Node)
		d.checkChildren(docs.Node, work.Node, notes.Node)
		d.checkChildren(work.Node, report.Node)
		d.checkChildren(report.Node) // a file has no children

		got, err := s.ChildByNameHash(ctx, docs.Node.ID, nameHash("notes.txt"))
		if err != nil {
			t.Fatalf("ChildByNameHash: %v", err)
		}
		checkNode(t, got, notes.Node)
		_, err = s.ChildByNameHash(ctx, d.root.ID, nameHash("notes.txt"))
		wantErr(t, "ChildByNameHash in another folder", err, meta.ErrNotFound)

		// Revisions come back whole, blocks in order, repeats included.
		for _, f := range []meta.NewFile{report, notes, empty} {
			rev, err := s.Revision(ctx, f.Revision.ID)
			if err != nil {
				t.Fatalf("Revision: %v", err)
			}
			checkRevision(t, rev, f.Revision)
			d.checkRevisions(f.Node, f.Revision)
		}
		d.checkRevisions(docs.Node) // a folder has none
		checkGarbage(t, s, []string{"b1", "b2", "b3"})
	}},
	{"Missing", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		_, err := s.Children(ctx, []byte("nope"))
		wantErr(t, "Children of a missing folder", err, meta.ErrNotFound)
		_, err = s.ChildByNameHash(ctx, d.root.ID, nameHash("nope"))
		wantErr(t, "ChildByNameHash of a missing name", err, meta.ErrNotFound)
		_, err = s.Revision(ctx, []byte("nope"))
		wantErr(t, "Revision of a missing ID", err, meta.ErrNotFound)
		_, err = s.Revisions(ctx, []byte("nope"))
		wantErr(t, "Revisions of a missing node", err, meta.ErrNotFound)
	}},
	{"AllFieldsRoundTrip", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		f := d.newFile(d.root, "big", d.upload(1<<20, "b")...)
		f.Node.SealedName = bytesOf(4096, 1)
		f.Node.SealedKey = bytesOf(1<<16, 2)
		f.Node.Signature = bytesOf(1<<16, 3)
		f.Node.Author = "Zoë 雪 🐈 O'Brien \"x\""
		f.Node.Version = 1<<63 + 5 // beyond int64
		f.Node.CreatedAt = time.Date(1999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
		f.Node.UpdatedAt = t0.Add(time.Millisecond)
		f.Revision.Seq = 1<<64 - 1
		f.Node.RevisionSeq = f.Revision.Seq
		f.Revision.SealedAttrs = bytesOf(1<<16, 4)
		f.Revision.Size = 1 << 20
		d.create(f)
		d.checkStored(f.Node)
		d.checkRevisions(f.Node, f.Revision)
	}},
	{"EmptyAndNilBytes", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		var got [2]*meta.Node
		var revs [2]*meta.Revision
		for i, b := range [][]byte{nil, {}} {
			f := d.newFile(d.root, fmt.Sprint(i))
			f.Node.SealedName, f.Node.SealedKey, f.Node.Signature = b, b, b
			f.Revision.SealedContentKey, f.Revision.SealedAttrs, f.Revision.Signature = b, b, b
			f.Revision.Blocks = [][]byte{}
			if i == 0 {
				f.Revision.Blocks = nil
			}
			d.create(f)
			got[i] = d.node(f.Node.ID)
			var err error
			if revs[i], err = s.Revision(t.Context(), f.Revision.ID); err != nil {
				t.Fatalf("Revision: %v", err)
			}
		}
		checkZeroLength(t, got[0].SealedName, got[1].SealedName)
		checkZeroLength(t, got[0].SealedKey, got[1].SealedKey)
		checkZeroLength(t, got[0].Signature, got[1].Signature)
		checkZeroLength(t, revs[0].SealedContentKey, revs[1].SealedContentKey)
		checkZeroLength(t, revs[0].Signature, revs[1].Signature)
		if len(revs[0].Blocks) != 0 || len(revs[1].Blocks) != 0 || (revs[0].Blocks == nil) != (revs[1].Blocks == nil) {
			t.Errorf("empty block lists came back as %v and %v", revs[0].Blocks, revs[1].Blocks)
		}
		// A folder names no revision, and a root no parent.
		if d.root.ParentID != nil || d.node(d.root.ID).ParentID != nil {
			t.Errorf("root's ParentID = %x, want nil", d.node(d.root.ID).ParentID)
		}
		if r := d.node(d.folder(d.root, "f").ID).RevisionID; r != nil {
			t.Errorf("folder's RevisionID = %x, want nil", r)
		}
	}},
	{"NamesUniquePerFolder", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		a := d.folder(d.root, "a")
		b := d.folder(d.root, "b")
		x := d.folder(a, "x")
		// The same name in another folder is fine.
		xb := d.folder(b, "x")

		for _, it := range []meta.NewFile{d.newFolder(a, "x"), d.newFile(a, "x")} {
			err := s.CreateNodes(ctx, d.owner, []meta.NewFile{it})
			wantErr(t, "CreateNodes with a taken name", err, meta.ErrExists)
		}
		// Two of one name in one batch.
		err := s.CreateNodes(ctx, d.owner, []meta.NewFile{d.newFolder(b, "y"), d.newFolder(b, "y")})
		wantErr(t, "CreateNodes with a name twice", err, meta.ErrExists)
		d.checkChildren(a, x)
		d.checkChildren(b, xb)

		// A trashed node's name is free again, and restoring it then fails.
		if err := s.TrashNode(ctx, x.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		x2 := d.folder(a, "x")
		d.checkChildren(a, x2)
		wantErr(t, "RestoreNode under a taken name", s.RestoreNode(ctx, x.ID), meta.ErrExists)
		d.checkTrash(x)
		got, err := s.ChildByNameHash(ctx, a.ID, nameHash("x"))
		if err != nil {
			t.Fatalf("ChildByNameHash: %v", err)
		}
		checkNode(t, got, x2)

		// Once the new one is renamed, the old one comes back.
		u := next(x2)
		u.NameHash = nameHash("x2")
		if err := s.UpdateNode(ctx, x2.ID, u); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
		if err := s.RestoreNode(ctx, x.ID); err != nil {
			t.Fatalf("RestoreNode: %v", err)
		}
		d.checkChildren(a, x, x2)
	}},
	{"DuplicateIDs", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f := d.newFile(d.root, "f")
		d.create(f)
		dupNode := d.newFolder(d.root, "other")
		dupNode.Node.ID = f.Node.ID
		wantErr(t, "CreateNodes with a taken node ID",
			s.CreateNodes(ctx, d.owner, []meta.NewFile{dupNode}), meta.ErrExists)
		dupRev := d.newFile(d.root, "other")
		dupRev.Revision.ID = f.Revision.ID
		dupRev.Node.RevisionID = f.Revision.ID
		wantErr(t, "CreateNodes with a taken revision ID",
			s.CreateNodes(ctx, d.owner, []meta.NewFile{dupRev}), meta.ErrExists)
		d.checkChildren(d.root, f.Node)
		d.checkStored(f.Node)
	}},
	{"InvalidParent", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		file, _ := d.file(d.root, "file")
		trashed := d.folder(d.root, "trashed")
		inTrashed := d.folder(trashed, "inside")
		if err := s.TrashNode(ctx, trashed.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		bobs := bob.folder(bob.root, "bobs")
		missing := d.newNode(d.root, "missing", folderKind)

		for _, c := range []struct {
			name   string
			parent *meta.Node
		}{
			{"a file", file},
			{"a trashed folder", trashed},
			{"a folder in a trashed folder", inTrashed},
			{"a folder of another volume", bobs},
			{"a missing folder", missing},
		} {
			for _, it := range []meta.NewFile{d.newFolder(c.parent, "new"), d.newFile(c.parent, "new")} {
				err := s.CreateNodes(ctx, d.owner, []meta.NewFile{it})
				wantErr(t, "CreateNodes under "+c.name, err, meta.ErrInvalid)
			}
		}
		// Only CreateVolume makes roots.
		err := s.CreateNodes(ctx, d.owner, []meta.NewFile{d.newFolder(nil, "root2")})
		wantErr(t, "CreateNodes without a parent", err, meta.ErrInvalid)

		d.checkChildren(d.root, file)
		d.checkChildren(trashed, inTrashed)
		d.checkChildren(inTrashed)
		bob.checkChildren(bobs)
	}},
	{"MissingBlocks", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		own := d.upload(1000, "mine")
		foreign := bob.upload(1000, "bobs")
		for _, c := range []struct {
			name   string
			blocks [][]byte
		}{
			{"a block never uploaded", [][]byte{own[0], blockID("never")}},
			{"another account's block", [][]byte{foreign[0], own[0]}},
			{"a malformed block ID", [][]byte{own[0], []byte("short")}},
		} {
			f := d.newFile(d.root, "f", c.blocks...)
			err := s.CreateNodes(ctx, d.owner, []meta.NewFile{f})
			wantErr(t, "CreateNodes naming "+c.name, err, meta.ErrMissingBlocks)
			_, err = s.Node(ctx, f.Node.ID)
			wantErr(t, "Node of a refused file", err, meta.ErrNotFound)
			_, err = s.Revision(ctx, f.Revision.ID)
			wantErr(t, "Revision of a refused file", err, meta.ErrNotFound)
		}
		d.checkChildren(d.root)
		checkGarbage(t, s, []string{"mine", "bobs"}, "mine", "bobs")
	}},
	{"BatchIsAtomic", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		taken := d.folder(d.root, "taken")
		file, _ := d.file(d.root, "file")
		blocks := d.upload(1000, "b1", "b2")
		bad := map[string]func(parent *meta.Node) (meta.NewFile, error){
			"missing block": func(p *meta.Node) (meta.NewFile, error) {
				return d.newFile(p, "third", blockID("never")), meta.ErrMissingBlocks
			},
			"taken name": func(*meta.Node) (meta.NewFile, error) {
				return d.newFolder(d.root, "taken"), meta.ErrExists
			},
			"file as parent": func(*meta.Node) (meta.NewFile, error) {
				return d.newFolder(file, "third"), meta.ErrInvalid
			},
		}
		for name, third := range bad {
			folder := d.newFolder(d.root, "new "+name)
			child := d.newFile(folder.Node, "child", blocks...)
			it, want := third(folder.Node)
			err := s.CreateNodes(ctx, d.owner, []meta.NewFile{folder, child, it})
			wantErr(t, "CreateNodes with a bad third item ("+name+")", err, want)
			d.checkGone(folder.Node, child.Node, it.Node)
			_, err = s.Revision(ctx, child.Revision.ID)
			wantErr(t, "Revision of the refused batch", err, meta.ErrNotFound)
		}
		d.checkChildren(d.root, taken, file)
		// The refused revisions reference nothing.
		checkGarbage(t, s, []string{"b1", "b2"}, "b1", "b2")
	}},
	{"MislabelledRecords", func(t *testing.T, s meta.Store) {
		// The IDs a record carries must agree with where it goes.
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		other, _ := d.file(d.root, "other")
		for name, spoil := range map[string]func(f meta.NewFile){
			"node in another volume":         func(f meta.NewFile) { f.Node.VolumeID = bob.vol.ID },
			"revision of another node":       func(f meta.NewFile) { f.Revision.NodeID = other.ID },
			"revision in another volume":     func(f meta.NewFile) { f.Revision.VolumeID = bob.vol.ID },
			"node naming another head":       func(f meta.NewFile) { f.Node.RevisionID = other.RevisionID },
			"node naming another head's seq": func(f meta.NewFile) { f.Node.RevisionSeq = 7 },
		} {
			f := d.newFile(d.root, "f")
			spoil(f)
			wantErr(t, "CreateNodes of a "+name, s.CreateNodes(ctx, d.owner, []meta.NewFile{f}), meta.ErrInvalid)
			d.checkGone(f.Node)
		}

		f, r1 := d.file(d.root, "f")
		for name, spoil := range map[string]func(u *meta.NodeUpdate, r *meta.Revision){
			"revision of another node":   func(_ *meta.NodeUpdate, r *meta.Revision) { r.NodeID = other.ID },
			"revision in another volume": func(_ *meta.NodeUpdate, r *meta.Revision) { r.VolumeID = bob.vol.ID },
			"record naming another head": func(u *meta.NodeUpdate, _ *meta.Revision) { u.RevisionID = r1.ID },
			"record naming another seq":  func(u *meta.NodeUpdate, _ *meta.Revision) { u.RevisionSeq = 9 },
		} {
			r := d.newRevision(f, 2)
			u := next(f)
			u.RevisionID, u.RevisionSeq = r.ID, r.Seq
			spoil(&u, r)
			wantErr(t, "CommitRevision of a "+name, s.CommitRevision(ctx, d.owner, f.ID, u, r, 0), meta.ErrInvalid)
		}
		d.checkStored(f)
		d.checkRevisions(f, r1)
	}},
	{"UnknownKind", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		folderWithRev := d.newFile(d.root, "a")
		folderWithRev.Node.Kind = folderKind
		fileWithoutRev := d.newFolder(d.root, "b")
		fileWithoutRev.Node.Kind = fileKind
		odd := d.newFolder(d.root, "c")
		odd.Node.Kind = 7
		for _, it := range []meta.NewFile{folderWithRev, fileWithoutRev, odd} {
			err := s.CreateNodes(t.Context(), d.owner, []meta.NewFile{it})
			wantErr(t, fmt.Sprintf("CreateNodes of kind %d with revision %v", it.Node.Kind, it.Revision != nil), err, meta.ErrInvalid)
		}
		d.checkChildren(d.root)
	}},
	{"ManyChildren", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		var items []meta.NewFile
		var want []*meta.Node
		for i := range 500 {
			it := d.newFolder(dir, fmt.Sprint(i))
			if i%2 == 1 {
				it = d.newFile(dir, fmt.Sprint(i))
			}
			items = append(items, it)
			want = append(want, it.Node)
		}
		d.create(items...)
		for _, n := range want[:10] {
			if err := s.TrashNode(t.Context(), n.ID, t0); err != nil {
				t.Fatalf("TrashNode: %v", err)
			}
		}
		list, err := s.Children(t.Context(), dir.ID)
		if err != nil {
			t.Fatalf("Children: %v", err)
		}
		if got, w := ids(list), hexIDs(want[10:]...); !slices.Equal(got, w) {
			t.Fatalf("Children returned %d nodes, want the %d active ones", len(got), len(w))
		}
		byID := make(map[string]*meta.Node)
		for _, n := range want {
			byID[string(n.ID)] = n
		}
		for i := range list {
			checkNode(t, &list[i], byID[string(list[i].ID)])
		}
	}},
}

var updateTests = []test{
	{"Rename", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, _ := d.file(d.root, "old")
		u := next(f)
		u.NameHash, u.SealedName, u.SealedKey, u.Author = nameHash("new"), []byte("sealed:new"), bytesOf(48, 99), "alice@phone"
		if err := s.UpdateNode(ctx, f.ID, u); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
		got := d.node(f.ID)
		want := applied(f, u)
		want.UpdatedAt = got.UpdatedAt // the interface leaves the time to the store
		checkNode(t, got, want)
		if _, err := s.ChildByNameHash(ctx, d.root.ID, nameHash("old")); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("ChildByNameHash of the old name: %v, want ErrNotFound", err)
		}
		if got, err := s.ChildByNameHash(ctx, d.root.ID, nameHash("new")); err != nil || !slices.Equal(got.ID, f.ID) {
			t.Errorf("ChildByNameHash of the new name = %v, %v", got, err)
		}
		// The root can be renamed too.
		if err := s.UpdateNode(ctx, d.root.ID, next(d.root)); err != nil {
			t.Errorf("UpdateNode of the root: %v", err)
		}
	}},
	{"RenameTaken", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		a := d.folder(d.root, "a")
		b, _ := d.file(d.root, "b")
		u := next(b)
		u.NameHash = a.NameHash
		wantErr(t, "UpdateNode to a taken name", s.UpdateNode(ctx, b.ID, u), meta.ErrExists)
		d.checkStored(b)
		// Keeping one's own name is no clash.
		if err := s.UpdateNode(ctx, b.ID, next(b)); err != nil {
			t.Errorf("UpdateNode keeping the name: %v", err)
		}
	}},
	{"Move", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		a := d.folder(d.root, "a")
		b := d.folder(d.root, "b")
		sub := d.folder(a, "sub")
		f, _ := d.file(sub, "f")
		u := next(sub)
		u.ParentID = b.ID
		if err := s.UpdateNode(ctx, sub.ID, u); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
		d.checkChildren(a)
		d.checkChildren(b, sub)
		d.checkChildren(sub, f) // the subtree moves along
		got := d.node(sub.ID)
		if !slices.Equal(got.ParentID, b.ID) || got.Version != 2 {
			t.Errorf("moved node has parent %x version %d, want %x version 2", got.ParentID, got.Version, b.ID)
		}

		// Moving into a folder where the name is taken.
		clash := d.folder(a, "sub")
		u = next(got)
		u.ParentID = a.ID
		wantErr(t, "UpdateNode moving onto a taken name", s.UpdateNode(ctx, sub.ID, u), meta.ErrExists)
		d.checkChildren(a, clash)
		// With a new name it goes.
		u.NameHash = nameHash("sub2")
		if err := s.UpdateNode(ctx, sub.ID, u); err != nil {
			t.Fatalf("UpdateNode moving under a new name: %v", err)
		}
		d.checkChildren(a, clash, sub)
	}},
	{"MoveCycle", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		a := d.folder(d.root, "a")
		b := d.folder(a, "b")
		c := d.folder(b, "c")
		for _, target := range []*meta.Node{a, b, c} {
			u := next(a)
			u.ParentID = target.ID
			wantErr(t, "UpdateNode moving a folder into its own subtree", s.UpdateNode(ctx, a.ID, u), meta.ErrInvalid)
		}
		u := next(b)
		u.ParentID = c.ID
		wantErr(t, "UpdateNode moving a folder into its child", s.UpdateNode(ctx, b.ID, u), meta.ErrInvalid)
		// The root moves nowhere, not even into its own descendants.
		u = next(d.root)
		u.ParentID = a.ID
		wantErr(t, "UpdateNode moving the root", s.UpdateNode(ctx, d.root.ID, u), meta.ErrInvalid)
		// Nor does a node lose its parent.
		u = next(a)
		u.ParentID = nil
		wantErr(t, "UpdateNode to no parent", s.UpdateNode(ctx, a.ID, u), meta.ErrInvalid)

		d.checkStored(a)
		d.checkStored(b)
		d.checkChildren(d.root, a)
		d.checkChildren(a, b)
		d.checkChildren(b, c)
		// Moving up is fine.
		u = next(c)
		u.ParentID = d.root.ID
		if err := s.UpdateNode(ctx, c.ID, u); err != nil {
			t.Fatalf("UpdateNode moving up: %v", err)
		}
		d.checkChildren(d.root, a, c)
	}},
	{"TrashNodeIf", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, _ := d.file(d.root, "f")
		if err := s.TrashNodeIf(ctx, f.ID, f.Version+1, 0, t0); !errors.Is(err, meta.ErrConflict) {
			t.Fatalf("TrashNodeIf with a version the node does not have: %v, want ErrConflict", err)
		}
		if n, err := s.Node(ctx, f.ID); err != nil || n.State != meta.NodeActive {
			t.Fatalf("a refused trash changed the node: %v, %v", n, err)
		}
		if err := s.TrashNodeIf(ctx, f.ID, f.Version, 0, t0); err != nil {
			t.Fatalf("TrashNodeIf with the node's version: %v", err)
		}
		if n, err := s.Node(ctx, f.ID); err != nil || n.State != meta.NodeTrashed {
			t.Fatalf("after TrashNodeIf: %v, %v", n, err)
		}
	}},
	{"TrashNodeIfUnchangedSince", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		sub := d.folder(dir, "sub")
		f, _ := d.file(sub, "f", "b1")
		other := d.folder(d.root, "other")
		moved, _ := d.file(other, "moved", "b2")
		at := d.head()
		refused := func(what string, since uint64) {
			t.Helper()
			if err := s.TrashNodeIf(ctx, dir.ID, dir.Version, since, t0); !errors.Is(err, meta.ErrConflict) {
				t.Fatalf("TrashNodeIf after %s: %v, want ErrConflict", what, err)
			}
			if n, err := s.Node(ctx, dir.ID); err != nil || n.State != meta.NodeActive {
				t.Fatalf("a refused trash changed the folder: %v, %v", n, err)
			}
		}
		// A change elsewhere in the volume is no reason to refuse.
		d.commit(moved, 0, "b3")
		if err := s.TrashNodeIf(ctx, sub.ID, sub.Version, at, t0); err != nil {
			t.Fatalf("TrashNodeIf with a change outside the folder: %v", err)
		}
		if err := s.RestoreNode(ctx, sub.ID); err != nil {
			t.Fatal(err)
		}
		at = d.head()
		// An edit two levels down.
		d.commit(f, 0, "b4")
		refused("an edit inside", at)
		at = d.head()
		// A file moved in.
		m := next(d.node(moved.ID))
		m.ParentID = sub.ID
		if err := s.UpdateNode(ctx, moved.ID, m); err != nil {
			t.Fatal(err)
		}
		refused("a move in", at)
		at = d.head()
		// A new folder inside.
		d.folder(sub, "new")
		refused("a creation inside", at)
		// A cursor past all of it; a cursor before what is kept.
		if _, err := s.PruneEvents(ctx, t0.Add(time.Hour), 1); err != nil {
			t.Fatal(err)
		}
		refused("the history it names was pruned", 1)
		refused("a cursor past the history", d.head()+1)
		if err := s.TrashNodeIf(ctx, dir.ID, dir.Version, d.head(), t0); err != nil {
			t.Fatalf("TrashNodeIf with nothing changed since: %v", err)
		}
	}},
	{"MoveInvalidTarget", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		f, _ := d.file(d.root, "f")
		file, _ := d.file(d.root, "file")
		trashed := d.folder(d.root, "trashed")
		inTrashed := d.folder(trashed, "in")
		if err := s.TrashNode(ctx, trashed.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		bobs := bob.folder(bob.root, "bobs")
		for _, c := range []struct {
			name   string
			target []byte
		}{
			{"a file", file.ID},
			{"a trashed folder", trashed.ID},
			{"a folder in a trashed folder", inTrashed.ID},
			{"another volume", bobs.ID},
			{"another volume's root", bob.root.ID},
			{"a missing folder", []byte("missing")},
		} {
			u := next(f)
			u.ParentID = c.target
			wantErr(t, "UpdateNode moving into "+c.name, s.UpdateNode(ctx, f.ID, u), meta.ErrInvalid)
		}
		d.checkStored(f)
		bob.checkChildren(bobs)
	}},
	{"VersionConflict", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, _ := d.file(d.root, "f")
		first := next(f)
		first.NameHash = nameHash("first")
		if err := s.UpdateNode(ctx, f.ID, first); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
		stale := next(f)
		stale.NameHash = nameHash("stale")
		wantErr(t, "UpdateNode with a stale version", s.UpdateNode(ctx, f.ID, stale), meta.ErrConflict)
		ahead := next(f)
		ahead.ExpectVersion, ahead.Version = 5, 6
		wantErr(t, "UpdateNode with a version ahead", s.UpdateNode(ctx, f.ID, ahead), meta.ErrConflict)
		got := d.node(f.ID)
		want := applied(f, first)
		want.UpdatedAt = got.UpdatedAt
		checkNode(t, got, want)

		// The new record's version is the next one.
		for _, v := range []uint64{got.Version, got.Version + 2, 0} {
			u := next(got)
			u.Version = v
			wantErr(t, fmt.Sprintf("UpdateNode from version %d to %d", got.Version, v), s.UpdateNode(ctx, f.ID, u), meta.ErrInvalid)
		}
		checkNode(t, d.node(f.ID), want)

		wantErr(t, "UpdateNode of a missing node", s.UpdateNode(ctx, []byte("nope"), next(f)), meta.ErrNotFound)
	}},
	{"RestoreOldRevision", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "b1")
		f, r2 := d.commit(f, 0, "b2")
		other, otherRev := d.file(d.root, "other", "b3")

		u := next(f)
		u.RevisionID, u.RevisionSeq = r1.ID, r1.Seq
		if err := s.UpdateNode(ctx, f.ID, u); err != nil {
			t.Fatalf("UpdateNode to an old revision: %v", err)
		}
		got := d.node(f.ID)
		if !slices.Equal(got.RevisionID, r1.ID) || got.RevisionSeq != r1.Seq {
			t.Errorf("head = %x seq %d, want %x seq %d", got.RevisionID, got.RevisionSeq, r1.ID, r1.Seq)
		}
		d.checkRevisions(f, r1, r2)
		checkGarbage(t, s, []string{"b1", "b2", "b3"})

		for _, c := range []struct {
			name string
			id   []byte
			seq  uint64
		}{
			{"another file's revision", otherRev.ID, otherRev.Seq},
			{"a missing revision", []byte("nope"), 1},
			{"no revision", nil, 0},
		} {
			u := next(got)
			u.RevisionID, u.RevisionSeq = c.id, c.seq
			wantErr(t, "UpdateNode to "+c.name, s.UpdateNode(ctx, f.ID, u), meta.ErrInvalid)
		}
		// A folder has no revisions to name.
		folder := d.folder(d.root, "dir")
		u = next(folder)
		u.RevisionID, u.RevisionSeq = otherRev.ID, otherRev.Seq
		wantErr(t, "UpdateNode of a folder naming a revision", s.UpdateNode(ctx, folder.ID, u), meta.ErrInvalid)
		checkNode(t, d.node(f.ID), got)
		d.checkStored(other)
	}},
}

var revisionTests = []test{
	{"HeadRevisions", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		sub := d.folder(d.root, "sub")
		a, _ := d.file(d.root, "a", "b1")
		a, ra2 := d.commit(a, 0, "b2")
		_, rb := d.file(d.root, "b", "b3")
		trashed, _ := d.file(d.root, "gone", "b4")
		d.file(sub, "deeper", "b5")
		if err := s.TrashNode(ctx, trashed.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		got, err := s.HeadRevisions(ctx, d.root.ID)
		if err != nil {
			t.Fatalf("HeadRevisions: %v", err)
		}
		if len(got) != 2 {
			t.Fatalf("HeadRevisions returned %d revisions, want the heads of a and b", len(got))
		}
		byNode := map[string]*meta.Revision{}
		for i := range got {
			byNode[string(got[i].NodeID)] = &got[i]
		}
		checkRevision(t, byNode[string(a.ID)], ra2)
		checkRevision(t, byNode[string(rb.NodeID)], rb)
		if got, err := s.HeadRevisions(ctx, sub.ID); err != nil || len(got) != 1 {
			t.Fatalf("HeadRevisions of sub = %d, %v; want 1", len(got), err)
		}
	}},
	{"Commit", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "b1", "b2")
		r2 := d.newRevision(f, 2, d.upload(1000, "b2", "b3")...)
		u := next(f)
		u.RevisionID, u.RevisionSeq = r2.ID, r2.Seq
		u.SealedKey = bytesOf(48, 77)
		if err := s.CommitRevision(ctx, d.owner, f.ID, u, r2, 0); err != nil {
			t.Fatalf("CommitRevision: %v", err)
		}
		got := d.node(f.ID)
		want := applied(f, u)
		want.UpdatedAt = got.UpdatedAt // the interface leaves the time to the store
		checkNode(t, got, want)
		d.checkRevisions(f, r1, r2)
		rev, err := s.Revision(ctx, r2.ID)
		if err != nil {
			t.Fatalf("Revision: %v", err)
		}
		checkRevision(t, rev, r2)
		checkGarbage(t, s, []string{"b1", "b2", "b3"})
	}},
	{"KeepAll", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "b1")
		f, r2 := d.commit(f, 0, "b2")
		f, r3 := d.commit(f, 0, "b3")
		_, r4 := d.commit(f, 0, "b4")
		d.checkRevisions(f, r1, r2, r3, r4)
		checkGarbage(t, s, []string{"b1", "b2", "b3", "b4"})
	}},
	{"Retention", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		all := []string{"b1", "shared", "b2", "b3", "b4"}
		f, r1 := d.file(d.root, "f", "b1", "shared")
		f, r2 := d.commit(f, 2, "b2")
		d.checkRevisions(f, r1, r2)
		checkGarbage(t, s, all)

		// The third revision pushes out the first; its blocks are
		// garbage unless the new head uses them too.
		f, r3 := d.commit(f, 2, "b3", "shared")
		d.checkRevisions(f, r2, r3)
		_, err := s.Revision(ctx, r1.ID)
		wantErr(t, "Revision of a pruned revision", err, meta.ErrNotFound)
		checkGarbage(t, s, all, "b1")
		checkUsage(t, s, d.owner, 4000, 0)

		ok, err := s.DeleteBlock(ctx, blockID("shared"))
		if err != nil || ok {
			t.Errorf("DeleteBlock of a referenced block = %v, %v; want false, nil", ok, err)
		}
		ok, err = s.DeleteBlock(ctx, blockID("b1"))
		if err != nil || !ok {
			t.Errorf("DeleteBlock of a garbage block = %v, %v; want true, nil", ok, err)
		}
		ok, err = s.DeleteBlock(ctx, blockID("b1"))
		if err != nil || ok {
			t.Errorf("DeleteBlock of a deleted block = %v, %v; want false, nil", ok, err)
		}
		checkGarbage(t, s, all)
		checkUsage(t, s, d.owner, 3000, 0)
		missing, err := s.MissingBlocks(ctx, d.owner, [][]byte{blockID("b1"), blockID("shared")})
		if err != nil {
			t.Fatalf("MissingBlocks: %v", err)
		}
		if want := [][]byte{blockID("b1")}; !slices.EqualFunc(missing, want, slices.Equal) {
			t.Errorf("MissingBlocks after DeleteBlock = %x, want %x", missing, want)
		}

		// The head is never pruned, even when it is the oldest.
		u := next(f)
		u.RevisionID, u.RevisionSeq = r2.ID, r2.Seq
		if err := s.UpdateNode(ctx, f.ID, u); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
		f = d.node(f.ID)
		f, r4 := d.commit(f, 1, "b4")
		d.checkRevisions(f, r4)
		checkGarbage(t, s, all, "shared", "b2", "b3")
	}},
	{"SeqTaken", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "b1")
		r := d.newRevision(f, r1.Seq, d.upload(1000, "b2")...)
		u := next(f)
		u.RevisionID, u.RevisionSeq = r.ID, r.Seq
		wantErr(t, "CommitRevision with a taken seq", s.CommitRevision(ctx, d.owner, f.ID, u, r, 0), meta.ErrExists)
		d.checkStored(f)
		d.checkRevisions(f, r1)
		checkGarbage(t, s, []string{"b1", "b2"}, "b2")
	}},
	{"VersionConflict", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "b1")
		f2, r2 := d.commit(f, 0, "b2")
		r := d.newRevision(f, 3, d.upload(1000, "b3")...)
		u := next(f) // made from the stale record
		u.RevisionID, u.RevisionSeq = r.ID, r.Seq
		wantErr(t, "CommitRevision with a stale version", s.CommitRevision(ctx, d.owner, f.ID, u, r, 1), meta.ErrConflict)
		d.checkStored(f2)
		d.checkRevisions(f, r1, r2)
		checkGarbage(t, s, []string{"b1", "b2", "b3"}, "b3")
	}},
	{"MissingBlocks", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		f, r1 := d.file(d.root, "f", "b1")
		foreign := bob.upload(1000, "bobs")
		for _, blocks := range [][][]byte{{blockID("never")}, foreign, {blockID("b1"), foreign[0]}} {
			r := d.newRevision(f, 2, blocks...)
			u := next(f)
			u.RevisionID, u.RevisionSeq = r.ID, r.Seq
			wantErr(t, "CommitRevision naming blocks not uploaded",
				s.CommitRevision(ctx, d.owner, f.ID, u, r, 1), meta.ErrMissingBlocks)
		}
		d.checkStored(f)
		d.checkRevisions(f, r1)
		checkGarbage(t, s, []string{"b1", "bobs"}, "bobs")
	}},
	{"NotAFile", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		r := d.newRevision(dir, 1)
		u := next(dir)
		u.RevisionID, u.RevisionSeq = r.ID, r.Seq
		wantErr(t, "CommitRevision to a folder", s.CommitRevision(ctx, d.owner, dir.ID, u, r, 0), meta.ErrInvalid)
		d.checkStored(dir)
		wantErr(t, "CommitRevision to a missing node",
			s.CommitRevision(ctx, d.owner, []byte("nope"), u, r, 0), meta.ErrNotFound)
		_, err := s.Revision(ctx, r.ID)
		wantErr(t, "Revision of a refused commit", err, meta.ErrNotFound)
	}},
}

var trashTests = []test{
	{"TrashAndRestore", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		sub := d.folder(dir, "sub")
		f, r := d.file(sub, "f", "b1")
		keep := d.folder(d.root, "keep")

		now := t0.Add(time.Hour)
		if err := s.TrashNode(ctx, dir.ID, now); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		d.checkChildren(d.root, keep)
		want := *dir
		want.State, want.TrashedAt = meta.NodeTrashed, now
		d.checkRecord(&want)
		// Only the node itself is listed; its subtree went with it and
		// is still there.
		d.checkTrash(dir)
		d.checkStored(sub)
		d.checkStored(f)
		d.checkChildren(dir, sub)
		d.checkRevisions(f, r)
		checkGarbage(t, s, []string{"b1"})

		if err := s.RestoreNode(ctx, dir.ID); err != nil {
			t.Fatalf("RestoreNode: %v", err)
		}
		d.checkRecord(dir)
		d.checkChildren(d.root, keep, dir)
		d.checkTrash()
	}},
	{"Refused", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		f, _ := d.file(dir, "f")
		wantErr(t, "TrashNode of the root", s.TrashNode(ctx, d.root.ID, t0), meta.ErrInvalid)
		wantErr(t, "RestoreNode of an active node", s.RestoreNode(ctx, f.ID), meta.ErrInvalid)
		wantErr(t, "TrashNode of a missing node", s.TrashNode(ctx, []byte("nope"), t0), meta.ErrNotFound)
		wantErr(t, "RestoreNode of a missing node", s.RestoreNode(ctx, []byte("nope")), meta.ErrNotFound)
		if err := s.TrashNode(ctx, dir.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		wantErr(t, "TrashNode of a trashed node", s.TrashNode(ctx, dir.ID, t0.Add(time.Hour)), meta.ErrInvalid)
		wantErr(t, "TrashNode of a node in a trashed folder", s.TrashNode(ctx, f.ID, t0), meta.ErrInvalid)
		wantErr(t, "RestoreNode of a node in a trashed folder", s.RestoreNode(ctx, f.ID), meta.ErrInvalid)
		want := *dir
		want.State, want.TrashedAt = meta.NodeTrashed, t0
		d.checkRecord(&want)
		d.checkStored(f)
		d.checkTrash(dir)
	}},
	{"NestedTrash", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		f, _ := d.file(dir, "f")
		g, _ := d.file(dir, "g")
		// f goes to the trash on its own, then its folder.
		if err := s.TrashNode(ctx, f.ID, t0); err != nil {
			t.Fatalf("TrashNode(f): %v", err)
		}
		d.checkTrash(f)
		if err := s.TrashNode(ctx, dir.ID, t0.Add(time.Minute)); err != nil {
			t.Fatalf("TrashNode(dir): %v", err)
		}
		d.checkTrash(dir)
		wantErr(t, "RestoreNode of a node whose folder is trashed", s.RestoreNode(ctx, f.ID), meta.ErrInvalid)
		// Restoring the folder leaves f where it was: in the trash.
		if err := s.RestoreNode(ctx, dir.ID); err != nil {
			t.Fatalf("RestoreNode(dir): %v", err)
		}
		d.checkTrash(f)
		d.checkChildren(dir, g)
		if err := s.RestoreNode(ctx, f.ID); err != nil {
			t.Fatalf("RestoreNode(f): %v", err)
		}
		d.checkChildren(dir, f, g)
		d.checkTrash()
	}},
	{"EmptyTrash", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		blocks := []string{"b1", "b2", "b3", "shared", "kept", "bobs"}
		dir := d.folder(d.root, "dir")
		sub := d.folder(dir, "sub")
		f1, r1 := d.file(sub, "f1", "b1", "shared")
		f1, r2 := d.commit(f1, 0, "b2")
		f2, _ := d.file(dir, "f2", "b3")
		loose, _ := d.file(d.root, "loose")
		kept, _ := d.file(d.root, "kept", "kept")
		keptDir := d.folder(d.root, "keptDir")
		other, _ := d.file(keptDir, "other", "shared")
		bobDir := bob.folder(bob.root, "dir")
		bobFile, _ := bob.file(bobDir, "f", "bobs")
		// Trashed separately inside a trashed folder: deleted once.
		if err := s.TrashNode(ctx, f2.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		for _, n := range []*meta.Node{dir, loose} {
			if err := s.TrashNode(ctx, n.ID, t0.Add(time.Minute)); err != nil {
				t.Fatalf("TrashNode: %v", err)
			}
		}
		if err := s.TrashNode(ctx, bobDir.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		checkUsage(t, s, d.owner, 5000, 0)

		n, err := s.EmptyTrash(ctx, d.vol.ID)
		if err != nil {
			t.Fatalf("EmptyTrash: %v", err)
		}
		if n != 5 {
			t.Errorf("EmptyTrash = %d, want 5 (dir, sub, f1, f2, loose)", n)
		}
		d.checkGone(dir, sub, f1, f2, loose)
		for _, r := range []*meta.Revision{r1, r2} {
			_, err := s.Revision(ctx, r.ID)
			wantErr(t, "Revision of a deleted file", err, meta.ErrNotFound)
		}
		d.checkTrash()
		d.checkChildren(d.root, kept, keptDir)
		d.checkStored(kept)
		d.checkStored(other)
		// Bob's trash is his own.
		bob.checkTrash(bobDir)
		bob.checkStored(bobFile)

		// The deleted files' blocks are garbage, those still used not;
		// the account pays for them until they are deleted.
		checkGarbage(t, s, blocks, "b1", "b2", "b3")
		checkUsage(t, s, d.owner, 5000, 0)
		for _, name := range []string{"b1", "b2", "b3"} {
			if ok, err := s.DeleteBlock(ctx, blockID(name)); err != nil || !ok {
				t.Errorf("DeleteBlock(%s) = %v, %v; want true, nil", name, ok, err)
			}
		}
		checkUsage(t, s, d.owner, 2000, 0)
		checkGarbage(t, s, blocks)

		if n, err := s.EmptyTrash(ctx, d.vol.ID); err != nil || n != 0 {
			t.Errorf("EmptyTrash of an empty trash = %d, %v; want 0, nil", n, err)
		}
		// Names of deleted nodes are free.
		d.folder(d.root, "dir")
	}},
	{"DeepTree", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		const depth = 300
		items := make([]meta.NewFile, 0, depth)
		parent := d.root
		for i := range depth {
			it := d.newFolder(parent, fmt.Sprint(i))
			items = append(items, it)
			parent = it.Node
		}
		d.create(items...)
		f, _ := d.file(parent, "leaf", "b")
		// A move near the top still finds the cycle at the bottom.
		u := next(items[0].Node)
		u.ParentID = f.ParentID
		wantErr(t, "UpdateNode moving a folder under its deepest descendant", s.UpdateNode(ctx, items[0].Node.ID, u), meta.ErrInvalid)
		if err := s.TrashNode(ctx, items[0].Node.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		err := s.CreateNodes(ctx, d.owner, []meta.NewFile{d.newFolder(parent, "new")})
		wantErr(t, "CreateNodes deep inside a trashed folder", err, meta.ErrInvalid)
		n, err := s.EmptyTrash(ctx, d.vol.ID)
		if err != nil {
			t.Fatalf("EmptyTrash: %v", err)
		}
		if n != depth+1 {
			t.Errorf("EmptyTrash = %d, want %d", n, depth+1)
		}
		d.checkChildren(d.root)
		checkGarbage(t, s, []string{"b"}, "b")
	}},
}

var blockTests = []test{
	{"AddBlocksAllOrNothing", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		if err := s.SetQuota(ctx, d.owner, 2500); err != nil {
			t.Fatalf("SetQuota: %v", err)
		}
		ok := []meta.BlockInfo{{ID: blockID("x1"), Size: 1000}, {ID: blockID("x2"), Size: 1000}}
		if err := s.AddBlocks(ctx, d.owner, ok, t0); err != nil {
			t.Fatalf("AddBlocks: %v", err)
		}
		checkUsage(t, s, d.owner, 2000, 2500)
		// The third block of this batch does not fit: none is recorded.
		over := []meta.BlockInfo{{ID: blockID("y1"), Size: 100}, {ID: blockID("x1"), Size: 1000}, {ID: blockID("y2"), Size: 1000}}
		wantErr(t, "AddBlocks over quota", s.AddBlocks(ctx, d.owner, over, t0), meta.ErrQuota)
		checkUsage(t, s, d.owner, 2000, 2500)
		missing, err := s.MissingBlocks(ctx, d.owner, [][]byte{blockID("y1"), blockID("y2"), blockID("x1")})
		if err != nil || len(missing) != 2 {
			t.Fatalf("MissingBlocks after a refused batch = %d, %v; want y1 and y2", len(missing), err)
		}
		// UnknownBlocks sees every account's blocks: bob's is known.
		bob := newDrive(t, s, "bob")
		if err := s.AddBlock(ctx, bob.owner, blockID("z"), 10, t0); err != nil {
			t.Fatalf("AddBlock: %v", err)
		}
		unknown, err := s.UnknownBlocks(ctx, [][]byte{blockID("y1"), blockID("z"), blockID("x1")})
		if err != nil || len(unknown) != 1 || !bytes.Equal(unknown[0], blockID("y1")) {
			t.Fatalf("UnknownBlocks = %x, %v; want only y1", unknown, err)
		}
	}},
	{"AddAndOwn", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		a := newDrive(t, s, "alice")
		b := newDrive(t, s, "bob")
		a.upload(100, "x", "y")
		b.upload(1000, "z")
		// Adding a known block again is no error and no charge.
		a.upload(100, "x")
		checkUsage(t, s, a.owner, 200, 0)
		checkUsage(t, s, b.owner, 1000, 0)

		for _, c := range []struct {
			owner int64
			block string
			want  bool
		}{
			{a.owner, "x", true}, {a.owner, "z", false}, {b.owner, "z", true},
			{b.owner, "x", false}, {a.owner, "never", false},
		} {
			got, err := s.BlockOwned(ctx, c.owner, blockID(c.block))
			if err != nil {
				t.Fatalf("BlockOwned: %v", err)
			}
			if got != c.want {
				t.Errorf("BlockOwned(%d, %s) = %v, want %v", c.owner, c.block, got, c.want)
			}
		}

		ask := [][]byte{blockID("never"), blockID("x"), blockID("z"), blockID("never"), blockID("y")}
		missing, err := s.MissingBlocks(ctx, a.owner, ask)
		if err != nil {
			t.Fatalf("MissingBlocks: %v", err)
		}
		if want := [][]byte{blockID("never"), blockID("z")}; !slices.EqualFunc(missing, want, slices.Equal) {
			t.Errorf("MissingBlocks = %x, want %x", missing, want)
		}
		if missing, err := s.MissingBlocks(ctx, a.owner, nil); err != nil || len(missing) != 0 {
			t.Errorf("MissingBlocks of none = %x, %v", missing, err)
		}
		// Many at once.
		var many [][]byte
		for i := range 2000 {
			many = append(many, blockID(fmt.Sprint("many", i)))
		}
		many = append(many, blockID("x"))
		if missing, err := s.MissingBlocks(ctx, a.owner, many); err != nil || len(missing) != 2000 {
			t.Errorf("MissingBlocks of 2001 = %d missing, %v; want 2000", len(missing), err)
		}
	}},
	{"OtherAccountsBlock", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		a := newDrive(t, s, "alice")
		b := newDrive(t, s, "bob")
		a.upload(100, "x")
		// Uploading a block with an ID another account holds must not
		// make it the uploader's.
		err := s.AddBlock(ctx, b.owner, blockID("x"), 100, t0)
		wantErr(t, "AddBlock of another account's block", err, meta.ErrExists)
		if ok, err := s.BlockOwned(ctx, b.owner, blockID("x")); err != nil || ok {
			t.Errorf("BlockOwned by the second uploader = %v, %v; want false, nil", ok, err)
		}
		checkUsage(t, s, a.owner, 100, 0)
		checkUsage(t, s, b.owner, 0, 0)
	}},
	{"OwnedByReference", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		a := newDrive(t, s, "alice")
		b := newDrive(t, s, "bob")
		// Bob's block in a file of Alice's volume: Alice may read it.
		f := a.newFile(a.root, "f", b.upload(100, "z")...)
		if err := s.CreateNodes(ctx, b.owner, []meta.NewFile{f}); err != nil {
			t.Fatalf("CreateNodes: %v", err)
		}
		if ok, err := s.BlockOwned(ctx, a.owner, blockID("z")); err != nil || !ok {
			t.Errorf("BlockOwned via a revision = %v, %v; want true, nil", ok, err)
		}
		checkUsage(t, s, b.owner, 100, 0)
		checkUsage(t, s, a.owner, 0, 0)
	}},
	{"Quota", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		a := newDrive(t, s, "alice")
		b := newDrive(t, s, "bob")
		checkUsage(t, s, a.owner, 0, 0)
		if err := s.SetQuota(ctx, a.owner, 1000); err != nil {
			t.Fatalf("SetQuota: %v", err)
		}
		a.upload(600, "x")
		err := s.AddBlock(ctx, a.owner, blockID("y"), 401, t0)
		wantErr(t, "AddBlock over the quota", err, meta.ErrQuota)
		checkUsage(t, s, a.owner, 600, 1000)
		a.upload(400, "y") // exactly up to the quota
		checkUsage(t, s, a.owner, 1000, 1000)
		wantErr(t, "AddBlock of 1 byte at the quota", s.AddBlock(ctx, a.owner, blockID("z"), 1, t0), meta.ErrQuota)
		a.upload(0, "empty")
		a.upload(600, "x") // known: costs nothing
		missing, err := s.MissingBlocks(ctx, a.owner, [][]byte{blockID("z")})
		if err != nil || len(missing) != 1 {
			t.Errorf("MissingBlocks of a refused block = %x, %v", missing, err)
		}
		// Other accounts have quotas of their own.
		b.upload(5000, "big")

		// Deleting garbage makes room.
		if ok, err := s.DeleteBlock(ctx, blockID("x")); err != nil || !ok {
			t.Fatalf("DeleteBlock = %v, %v", ok, err)
		}
		checkUsage(t, s, a.owner, 400, 1000)
		a.upload(600, "z")

		// A quota below the use is allowed and refuses everything.
		if err := s.SetQuota(ctx, a.owner, 100); err != nil {
			t.Fatalf("SetQuota: %v", err)
		}
		wantErr(t, "AddBlock over a lowered quota", s.AddBlock(ctx, a.owner, blockID("w"), 1, t0), meta.ErrQuota)
		// Blocks are charged at upload, so creating files with them
		// still works.
		a.create(a.newFile(a.root, "f", blockID("z"), blockID("y")))
		checkUsage(t, s, a.owner, 1000, 100)

		// Zero is no limit.
		if err := s.SetQuota(ctx, a.owner, 0); err != nil {
			t.Fatalf("SetQuota: %v", err)
		}
		a.upload(1<<40, "huge")
		checkUsage(t, s, a.owner, 1000+1<<40, 0)

		wantErr(t, "SetQuota of a missing account", s.SetQuota(ctx, 4242, 1), meta.ErrNotFound)
		_, err = s.Usage(ctx, 4242)
		wantErr(t, "Usage of a missing account", err, meta.ErrNotFound)
		wantErr(t, "AddBlock for a missing account", s.AddBlock(ctx, 4242, blockID("q"), 1, t0), meta.ErrNotFound)
	}},
	{"Garbage", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		for i, name := range []string{"old", "mid", "new"} {
			if err := s.AddBlock(ctx, d.owner, blockID(name), 10, t0.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Fatalf("AddBlock: %v", err)
			}
		}
		d.upload(10, "used")
		d.create(d.newFile(d.root, "f", blockID("used")))

		check := func(olderThan time.Time, limit int, want ...string) {
			t.Helper()
			got, err := s.GarbageBlocks(ctx, olderThan, limit)
			if err != nil {
				t.Fatalf("GarbageBlocks: %v", err)
			}
			wantIDs := make([][]byte, len(want))
			for i, name := range want {
				wantIDs[i] = blockID(name)
			}
			slices.SortFunc(got, slices.Compare)
			slices.SortFunc(wantIDs, slices.Compare)
			if !slices.EqualFunc(got, wantIDs, slices.Equal) {
				t.Errorf("GarbageBlocks(%v, %d) = %d blocks, want %q", olderThan, limit, len(got), want)
			}
		}
		// Uploaded before olderThan, not at it.
		check(t0, 10)
		check(t0.Add(time.Millisecond), 10, "old")
		check(t0.Add(90*time.Minute), 10, "old", "mid")
		check(farFuture, 10, "old", "mid", "new")
		got, err := s.GarbageBlocks(ctx, farFuture, 2)
		if err != nil || len(got) != 2 {
			t.Errorf("GarbageBlocks with limit 2 = %d blocks, %v", len(got), err)
		}

		// Uploading a block again counts as a new upload: it is not
		// taken for abandoned.
		if err := s.AddBlock(ctx, d.owner, blockID("old"), 10, t0.Add(5*time.Hour)); err != nil {
			t.Fatalf("AddBlock again: %v", err)
		}
		check(t0.Add(90*time.Minute), 10, "mid")

		if ok, err := s.DeleteBlock(ctx, blockID("never")); err != nil || ok {
			t.Errorf("DeleteBlock of a missing block = %v, %v; want false, nil", ok, err)
		}
	}},
}

var driveConcurrencyTests = []test{
	{"CreateSameName", func(t *testing.T, s meta.Store) {
		CreateSameNameConcurrently(t, []meta.Store{s}, "alice", 20)
	}},
	{"CommitSameVersion", func(t *testing.T, s meta.Store) {
		CommitConcurrently(t, []meta.Store{s}, "alice", 20)
	}},
	{"CrossedMoves", func(t *testing.T, s meta.Store) {
		// Moving a into b and b into a at once would make a cycle cut
		// off from the root; at most one of the two may succeed.
		d := newDrive(t, s, "alice")
		for round := range 10 {
			a := d.folder(d.root, fmt.Sprint("a", round))
			b := d.folder(d.root, fmt.Sprint("b", round))
			ua, ub := next(a), next(b)
			ua.ParentID, ub.ParentID = b.ID, a.ID
			var errA, errB error
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { <-start; errA = s.UpdateNode(t.Context(), a.ID, ua) })
			wg.Go(func() { <-start; errB = s.UpdateNode(t.Context(), b.ID, ub) })
			close(start)
			wg.Wait()
			if errA == nil && errB == nil {
				t.Fatalf("round %d: both crossed moves succeeded", round)
			}
			for _, err := range []error{errA, errB} {
				if err != nil && !errors.Is(err, meta.ErrInvalid) {
					t.Errorf("round %d: UpdateNode: %v, want nil or ErrInvalid", round, err)
				}
			}
		}
	}},
	{"CanceledContext", func(t *testing.T, s meta.Store) {
		live := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		f, r := d.file(dir, "f", "b1")
		d.upload(10, "loose")

		ctx, cancel := context.WithCancel(live)
		cancel()
		u := next(f)
		calls := []struct {
			name string
			call func() error
		}{
			{"CreateVolume", func() error {
				v := &meta.Volume{ID: []byte("v2"), OwnerID: d.owner, RootID: []byte("r2")}
				root := d.newNode(nil, "", folderKind)
				root.ID, root.VolumeID = v.RootID, v.ID
				return s.CreateVolume(ctx, v, root)
			}},
			{"VolumeByOwner", func() error { _, err := s.VolumeByOwner(ctx, d.owner); return err }},
			{"Node", func() error { _, err := s.Node(ctx, f.ID); return err }},
			{"Children", func() error { _, err := s.Children(ctx, dir.ID); return err }},
			{"ChildByNameHash", func() error { _, err := s.ChildByNameHash(ctx, dir.ID, f.NameHash); return err }},
			{"CreateNodes", func() error { return s.CreateNodes(ctx, d.owner, []meta.NewFile{d.newFolder(dir, "new")}) }},
			{"UpdateNode", func() error { return s.UpdateNode(ctx, f.ID, u) }},
			{"CommitRevision", func() error {
				r := d.newRevision(f, 2)
				u := next(f)
				u.RevisionID, u.RevisionSeq = r.ID, r.Seq
				return s.CommitRevision(ctx, d.owner, f.ID, u, r, 1)
			}},
			{"Revisions", func() error { _, err := s.Revisions(ctx, f.ID); return err }},
			{"Revision", func() error { _, err := s.Revision(ctx, r.ID); return err }},
			{"TrashNode", func() error { return s.TrashNode(ctx, dir.ID, t0) }},
			{"RestoreNode", func() error { return s.RestoreNode(ctx, dir.ID) }},
			{"Trash", func() error { _, err := s.Trash(ctx, d.vol.ID); return err }},
			{"EmptyTrash", func() error { _, err := s.EmptyTrash(ctx, d.vol.ID); return err }},
			{"AddBlock", func() error { return s.AddBlock(ctx, d.owner, blockID("new"), 1, t0) }},
			{"MissingBlocks", func() error { _, err := s.MissingBlocks(ctx, d.owner, [][]byte{blockID("b1")}); return err }},
			{"BlockOwned", func() error { _, err := s.BlockOwned(ctx, d.owner, blockID("b1")); return err }},
			{"GarbageBlocks", func() error { _, err := s.GarbageBlocks(ctx, farFuture, 10); return err }},
			{"DeleteBlock", func() error { _, err := s.DeleteBlock(ctx, blockID("loose")); return err }},
			{"Usage", func() error { _, err := s.Usage(ctx, d.owner); return err }},
			{"SetQuota", func() error { return s.SetQuota(ctx, d.owner, 1) }},
		}
		for _, c := range calls {
			done := make(chan error, 1)
			go func() { done <- c.call() }()
			select {
			case err := <-done:
				wantErr(t, c.name+" with a canceled context", err, context.Canceled)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s with a canceled context still running after 10s", c.name)
			}
		}
		d.checkStored(f)
		d.checkStored(dir)
		d.checkChildren(d.root, dir)
		d.checkRevisions(f, r)
		checkUsage(t, s, d.owner, 1010, 0)
		checkGarbage(t, s, []string{"b1", "loose", "new"}, "loose")
	}},
}

// CreateSameNameConcurrently creates the account name with a volume and a
// folder, then has n goroutines, spread over stores (which must share one
// database), each create a node of one name in the folder at once, and
// checks that exactly one succeeds and the rest fail with meta.ErrExists.
// It is exported for implementations' own tests with several stores.
func CreateSameNameConcurrently(t *testing.T, stores []meta.Store, name string, n int) {
	t.Helper()
	d := newDrive(t, stores[0], name)
	dir := d.folder(d.root, "dir")
	items := make([]meta.NewFile, n)
	for i := range items {
		if i%2 == 0 {
			items[i] = d.newFolder(dir, "same")
		} else {
			items[i] = d.newFile(dir, "same")
		}
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = stores[i%len(stores)].CreateNodes(t.Context(), d.owner, []meta.NewFile{items[i]})
		})
	}
	close(start)
	wg.Wait()
	var won []int
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, i)
		case !errors.Is(err, meta.ErrExists):
			t.Errorf("CreateNodes #%d: %v, want nil or ErrExists", i, err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d concurrent CreateNodes of one name succeeded (%v), want 1", len(won), won)
	}
	d.checkChildren(dir, items[won[0]].Node)
}

// CommitConcurrently creates the account name with a volume and a file,
// then has n goroutines, spread over stores (which must share one
// database), each commit a revision expecting the file's current version,
// and checks that exactly one succeeds, the rest fail with
// meta.ErrConflict, and the losers' blocks stay unreferenced. It is
// exported for implementations' own tests with several stores.
func CommitConcurrently(t *testing.T, stores []meta.Store, name string, n int) {
	t.Helper()
	d := newDrive(t, stores[0], name)
	first := name + "/b0" // block names are global to the store
	f, r1 := d.file(d.root, "f", first)
	revs := make([]*meta.Revision, n)
	names := make([]string, n)
	for i := range revs {
		names[i] = fmt.Sprint(name, "/b", i+1)
		// The same seq for all, as rival clients would pick.
		revs[i] = d.newRevision(f, 2, d.upload(1000, names[i])...)
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			u := next(f)
			u.RevisionID, u.RevisionSeq = revs[i].ID, revs[i].Seq
			errs[i] = stores[i%len(stores)].CommitRevision(t.Context(), d.owner, f.ID, u, revs[i], 2)
		})
	}
	close(start)
	wg.Wait()
	var won []int
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, i)
		case !errors.Is(err, meta.ErrConflict):
			t.Errorf("CommitRevision #%d: %v, want nil or ErrConflict", i, err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d concurrent CommitRevision with one version succeeded (%v), want 1", len(won), won)
	}
	w := won[0]
	got := d.node(f.ID)
	if got.Version != 2 || !slices.Equal(got.RevisionID, revs[w].ID) {
		t.Errorf("node at version %d with head %x, want 2 with the winner's %x", got.Version, got.RevisionID, revs[w].ID)
	}
	d.checkRevisions(f, r1, revs[w])
	var wantGarbage []string
	for i, b := range names {
		if i != w {
			wantGarbage = append(wantGarbage, b)
		}
	}
	checkGarbage(t, stores[0], append([]string{first}, names...), wantGarbage...)
}
