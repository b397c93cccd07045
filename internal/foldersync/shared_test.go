package foldersync_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/foldersync"
)

// member signs bob up, has alice share the world's folder with him in
// role, and has him accept it; it returns bob's drive, his config folder
// and where the share appears to him (/shared/alice/NAME).
func (w *world) member(t *testing.T, role crypto.Role) (*client.Drive, string, string) {
	t.Helper()
	ad, _ := logIn(t, w.url, "alice", "pw", false)
	if _, err := ad.Mkdir(ctx, w.remote, true); err != nil && !client.IsConflict(err) {
		t.Fatal(err)
	}
	bd, bcfgDir := logIn(t, w.url, "bob", "pw-bob", true)
	if _, err := ad.ShareAdd(ctx, w.remote, "bob", role); err != nil {
		t.Fatal(err)
	}
	list, err := bd.Shared(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("bob's shares: %v, %v", list, err)
	}
	info, err := bd.Accept(ctx, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return bd, bcfgDir, info.Path
}

// memberDevice is bob's device syncing the folder alice shares with him.
func (w *world) memberDevice(t *testing.T, role crypto.Role) *device {
	t.Helper()
	d, cfgDir, at := w.member(t, role)
	dev := &device{name: "bobs-laptop", dir: t.TempDir(), drive: d}
	shared := *w
	shared.remote = at
	dev.open(t, &shared, cfgDir)
	return dev
}

// An editor of a shared folder syncs it both ways with the owner's
// devices: edits, new files, moves (as moves), deletions to the owner's
// trash, and a conflict kept as a copy.
func TestSyncFolderSharedAsEditor(t *testing.T) {
	w := newWorld(t)
	a := w.device(t, "laptop")
	a.write(t, "doc.txt", "from alice")
	a.write(t, "sub/x.txt", "moved by bob")
	a.write(t, "old.txt", "deleted by bob")
	a.sync(t)
	m := w.memberDevice(t, crypto.RoleEditor)
	if rep := m.sync(t); rep.Downloaded != 3 {
		t.Fatalf("bob's first sync: %+v, want 3 downloads", rep)
	}
	sameTrees(t, a, m)

	m.write(t, "doc.txt", "edited by bob")
	m.write(t, "new/from-bob.txt", "new from bob")
	if err := os.Rename(m.path("sub/x.txt"), m.path("sub/y.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m.path("old.txt")); err != nil {
		t.Fatal(err)
	}
	if rep := m.sync(t); rep.Moved != 1 || rep.Deleted != 1 {
		t.Fatalf("bob's changes: %+v, want one move and one deletion", rep)
	}
	before := ino(t, a.path("sub/x.txt"))
	a.sync(t)
	sameTrees(t, a, m)
	if ino(t, a.path("sub/y.txt")) != before {
		t.Fatal("bob's rename reached alice as a new file, not a move")
	}
	if got, err := os.ReadFile(filepath.Join(a.dir, foldersync.TrashDir, "old.txt")); err != nil || string(got) != "deleted by bob" {
		t.Fatalf("alice's .coffer-trash/old.txt: %q, %v", got, err)
	}

	// Both edit: one conflict copy, both contents kept.
	a.write(t, "doc.txt", "alice again")
	m.write(t, "doc.txt", "bob again")
	a.sync(t)
	m.sync(t)
	a.sync(t)
	sameTrees(t, a, m)
	contents := map[string]bool{}
	for _, c := range a.tree(t) {
		contents[c] = true
	}
	if !contents["alice again"] || !contents["bob again"] {
		t.Fatalf("a concurrent edit was lost: %v", a.tree(t))
	}
	if rep := m.sync(t); rep != (foldersync.Report{}) {
		t.Fatalf("an idle pass of bob's sync did %+v", rep)
	}
}

// A viewer's or an uploader's sync is refused before anything is compared,
// saying why; so is /shared/OWNER, which is no folder of its own.
func TestSyncFolderSharedReadOnlyIsRefused(t *testing.T) {
	for _, role := range []crypto.Role{crypto.RoleViewer, crypto.RoleUploader} {
		w := newWorld(t)
		a := w.device(t, "laptop")
		a.write(t, "doc.txt", "from alice")
		a.sync(t)
		m := w.memberDevice(t, role)
		_, err := m.s.Once(ctx)
		if err == nil || !strings.Contains(err.Error(), "editor") {
			t.Errorf("%v: sync of the shared folder: %v, want a refusal naming the editor role", role, err)
		}
		if entries, _ := os.ReadDir(m.dir); len(entries) > 1 { // the marker at most
			t.Errorf("%v: the refused sync wrote %d entries", role, len(entries))
		}
	}

	w := newWorld(t)
	d, cfgDir, _ := w.member(t, crypto.RoleEditor)
	_, err := foldersync.Open(ctx, d, foldersync.Options{Local: t.TempDir(), Remote: "/shared/alice",
		StateDir: filepath.Join(cfgDir, "sync"), Server: w.url, User: "bob"})
	if err == nil || !strings.Contains(err.Error(), "/shared/OWNER/NAME") {
		t.Errorf("sync of /shared/alice: %v, want a refusal", err)
	}

	// Spelt with a double slash, the path still names the share, and a
	// viewer is still refused.
	w = newWorld(t)
	a := w.device(t, "laptop")
	a.write(t, "doc.txt", "from alice")
	a.sync(t)
	vd, vcfg, at := w.member(t, crypto.RoleViewer)
	s, err := foldersync.Open(ctx, vd, foldersync.Options{Local: t.TempDir(), Remote: "/" + at,
		StateDir: filepath.Join(vcfg, "sync"), Server: w.url, User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Once(ctx); err == nil || !strings.Contains(err.Error(), "editor") {
		t.Errorf("a viewer's sync of /%s: %v, want a refusal naming the editor role", at, err)
	}
}
