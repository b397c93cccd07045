package foldersync

import (
	"context"
	"fmt"
	"path"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
)

// rnode is a verified node of the remote folder, with its path relative
// to the synced folder ("" for the folder itself).
type rnode struct {
	e    *client.Entry
	path string
	// kids are a folder's children by name; nil for a file.
	kids map[string]*rnode
}

func (n *rnode) kind() int {
	if n.e.IsDir() {
		return kindFolder
	}
	return kindFile
}

// remoteTree is the sync's view of the remote folder. It is built by one
// walk, then kept current by listing again only the folders the events
// feed names.
type remoteTree struct {
	root *rnode
	byID map[string]*rnode
	// above holds the IDs of the folders above the root.
	above map[string]bool
}

func newRemoteTree(root *client.Entry) *remoteTree {
	rn := &rnode{e: root, kids: map[string]*rnode{}}
	return &remoteTree{root: rn, byID: map[string]*rnode{string(root.ID): rn}, above: map[string]bool{}}
}

// walk lists folder n and everything below it.
func (t *remoteTree) walk(ctx context.Context, d *client.Drive, n *rnode) error {
	kids, err := d.List(ctx, n.e)
	if err != nil {
		return err
	}
	t.forgetBelow(n)
	n.kids = make(map[string]*rnode, len(kids))
	var folders []*rnode
	for _, k := range kids {
		if !client.LocalName(k.Name) {
			return fmt.Errorf("%s: the name %q cannot be written on this system", k.Path(), k.Name)
		}
		kn := &rnode{e: k, path: path.Join(n.path, k.Name)}
		if n.path == "" {
			kn.path = k.Name
		}
		n.kids[k.Name] = kn
		t.byID[string(k.ID)] = kn
		if k.IsDir() {
			kn.kids = map[string]*rnode{}
			folders = append(folders, kn)
		}
	}
	for _, f := range folders {
		if err := t.walk(ctx, d, f); err != nil {
			return err
		}
	}
	return nil
}

// forgetBelow drops every node below n from byID, unless byID already
// holds another node for its ID: a folder moved elsewhere in the tree was
// walked again there, and its new nodes stay.
func (t *remoteTree) forgetBelow(n *rnode) {
	for _, k := range n.kids {
		if t.byID[string(k.ID())] == k {
			delete(t.byID, string(k.ID()))
		}
		if k.kids != nil {
			t.forgetBelow(k)
		}
	}
}

// ID returns the node's ID.
func (n *rnode) ID() []byte { return n.e.ID }

// refresh lists folder n again. Children that are new folders, or folders
// renamed, moved or re-keyed (their record changed), are walked whole;
// folders whose record is unchanged keep their subtree.
func (t *remoteTree) refresh(ctx context.Context, d *client.Drive, n *rnode) error {
	kids, err := d.List(ctx, n.e)
	if err != nil {
		return &listError{err}
	}
	old := n.kids
	n.kids = make(map[string]*rnode, len(kids))
	keep := map[string]bool{}
	var walk []*rnode
	for _, k := range kids {
		if !client.LocalName(k.Name) {
			return fmt.Errorf("%s: the name %q cannot be written on this system", k.Path(), k.Name)
		}
		if o := old[k.Name]; o != nil && k.IsDir() && o.kids != nil && string(o.ID()) == string(k.ID) && o.e.Record.Version == k.Record.Version {
			// The same folder, unchanged: it keeps its subtree, and
			// stays the same node, which events may name for a listing
			// of its own.
			o.e = k
			n.kids[k.Name] = o
			keep[k.Name] = true
			continue
		}
		kn := &rnode{e: k, path: path.Join(n.path, k.Name)}
		if n.path == "" {
			kn.path = k.Name
		}
		if k.IsDir() {
			kn.kids = map[string]*rnode{}
			walk = append(walk, kn)
		}
		n.kids[k.Name] = kn
	}
	for name, o := range old {
		if !keep[name] && o.kids != nil {
			t.forgetBelow(o)
		}
		if n.kids[name] == nil || string(n.kids[name].ID()) != string(o.ID()) {
			if cur := t.byID[string(o.ID())]; cur == o {
				delete(t.byID, string(o.ID()))
			}
		}
	}
	for _, kn := range n.kids {
		t.byID[string(kn.ID())] = kn
	}
	for _, kn := range walk {
		if err := t.walk(ctx, d, kn); err != nil {
			return err
		}
	}
	return nil
}

// flat returns every node below the root by path.
func (t *remoteTree) flat() map[string]*rnode {
	out := map[string]*rnode{}
	var add func(n *rnode)
	add = func(n *rnode) {
		for _, k := range n.kids {
			out[k.path] = k
			if k.kids != nil {
				add(k)
			}
		}
	}
	add(t.root)
	return out
}

// folderAt returns the folder at p ("" the root), or nil.
func (t *remoteTree) folderAt(p string) *rnode {
	if p == "" || p == "." {
		return t.root
	}
	n := t.root
	for _, part := range splitPath(p) {
		k := n.kids[part]
		if k == nil || k.kids == nil {
			return nil
		}
		n = k
	}
	return n
}

// affected returns the folders of the tree whose listings the events
// may have changed: each event's parent and former parent, and any
// folder whose own record changed (a rename or a key rotation: its
// children's records are re-keyed too).
func (t *remoteTree) affected(events []api.Event) (folders []*rnode, rootGone bool) {
	seen := map[*rnode]bool{}
	add := func(id []byte) {
		if n := t.byID[string(id)]; n != nil && n.kids != nil && !seen[n] {
			seen[n] = true
			folders = append(folders, n)
		}
	}
	for _, ev := range events {
		if t.above[string(ev.Node)] && (ev.Kind == api.EventTrash || ev.Kind == api.EventDelete) {
			rootGone = true
			continue
		}
		if string(ev.Node) == string(t.root.ID()) {
			switch ev.Kind {
			case "trash", "delete":
				rootGone = true
			case "update":
				add(ev.Node)
			}
			continue
		}
		add(ev.Parent)
		add(ev.OldParent)
		if n := t.byID[string(ev.Node)]; n != nil && n.kids != nil && ev.Kind == "update" {
			add(ev.Node)
		}
	}
	return folders, rootGone
}

// listError is a failure to list the folder a refresh was asked for,
// before anything changed: unlike a failure further down, it leaves the
// view as it was.
type listError struct{ err error }

func (e *listError) Error() string { return e.err.Error() }
func (e *listError) Unwrap() error { return e.err }
