package foldersync_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/foldersync"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

var ctx = context.Background()

// device is one computer syncing alice's folder: its own config folder
// (session, state) and local folder.
type device struct {
	name  string
	dir   string
	drive *client.Drive
	s     *foldersync.Syncer
	mu    sync.Mutex
	warns []string
	// tweak adjusts the sync's options (see world.deviceWith).
	tweak func(*foldersync.Options)
}

type world struct {
	url    string
	remote string
	env    *servertest.Env
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := servertest.Start(t, server.Options{})
	cfg, err := client.OpenConfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(cfg, nil).Signup(ctx, env.URL, "alice", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	return &world{url: env.URL, remote: "/sync", env: env}
}

// device logs a new device in and opens its sync.
func (w *world) device(t *testing.T, name string) *device {
	t.Helper()
	dev, _ := w.deviceWith(t, name, nil)
	return dev
}

// deviceWith is device with the sync's options adjusted by tweak (nil:
// none), which also applies when the sync is opened again; it returns
// the device's state folder too.
func (w *world) deviceWith(t *testing.T, name string, tweak func(*foldersync.Options)) (*device, string) {
	t.Helper()
	d, cfgDir := logIn(t, w.url, "alice", "pw", false)
	dev := &device{name: name, dir: t.TempDir(), drive: d, tweak: tweak}
	dev.open(t, w, cfgDir)
	return dev, filepath.Join(cfgDir, "sync")
}

// logIn logs user in from a new config folder (signing up first if
// signUp) and returns the drive and the folder.
func logIn(tb testing.TB, url, user, password string, signUp bool) (*client.Drive, string) {
	tb.Helper()
	cfg, err := client.OpenConfig(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	c := client.New(cfg, nil)
	if signUp {
		if _, err := c.Signup(ctx, url, user, []byte(password)); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := c.Login(ctx, url, user, []byte(password)); err != nil {
		tb.Fatal(err)
	}
	d, err := c.Drive(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return d, cfg.Dir()
}

func (dev *device) open(t *testing.T, w *world, cfgDir string) {
	t.Helper()
	opt := foldersync.Options{
		Local: dev.dir, Remote: w.remote, StateDir: filepath.Join(cfgDir, "sync"),
		Server: w.url, User: "alice", Device: dev.name,
		Warn: func(m string) { dev.mu.Lock(); dev.warns = append(dev.warns, m); dev.mu.Unlock() },
		Now:  func() time.Time { return time.Date(2026, 11, 24, 15, 30, 0, 0, time.Local) },
	}
	if dev.tweak != nil {
		dev.tweak(&opt)
	}
	s, err := foldersync.Open(ctx, dev.drive, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	dev.s = s
}

// sync runs one pass and requires it to settle everything.
func (dev *device) sync(t *testing.T) foldersync.Report {
	t.Helper()
	rep, err := dev.s.Once(ctx)
	if err != nil {
		t.Fatalf("%s: sync: %v", dev.name, err)
	}
	if rep.Pending != 0 {
		t.Fatalf("%s: sync left %d pending (%v); warnings: %v", dev.name, rep.Pending, rep, dev.warns)
	}
	return rep
}

func (dev *device) path(p string) string { return filepath.Join(dev.dir, filepath.FromSlash(p)) }

func (dev *device) write(t *testing.T, p, content string) {
	t.Helper()
	full := dev.path(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// A distinct time for each write, as a real edit a moment later has:
	// the same size within one clock tick would look unchanged.
	bump(t, full)
}

var clock = struct {
	sync.Mutex
	t time.Time
}{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}

func bump(t *testing.T, full string) {
	clock.Lock()
	clock.t = clock.t.Add(time.Second)
	m := clock.t
	clock.Unlock()
	if err := os.Chtimes(full, m, m); err != nil {
		t.Fatal(err)
	}
}

func (dev *device) read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(dev.path(p))
	if err != nil {
		t.Fatalf("%s: %v", dev.name, err)
	}
	return string(b)
}

// tree lists a device's synced files and folders ("dir/" for folders)
// with contents, leaving out the sync's own files.
func (dev *device) tree(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dev.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dev.dir, p)
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".coffer-") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTrees(t *testing.T, devs ...*device) {
	t.Helper()
	want := devs[0].tree(t)
	for _, d := range devs[1:] {
		got := d.tree(t)
		if !mapsEqual(want, got) {
			t.Fatalf("%s and %s differ:\n%s: %v\n%s: %v", devs[0].name, d.name, devs[0].name, keys(want), d.name, keys(got))
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func ino(t *testing.T, p string) uint64 {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Ino
}

func TestSyncBothWays(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "notes.txt", "first")
	a.write(t, "docs/report.md", "# report")
	a.write(t, "docs/deep/er/file.bin", strings.Repeat("x", 3000))
	if err := os.MkdirAll(a.path("empty/folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	if rep := a.sync(t); rep.Uploaded != 3 {
		t.Fatalf("first sync uploaded %d files, want 3 (%v)", rep.Uploaded, rep)
	}
	if rep := b.sync(t); rep.Downloaded != 3 {
		t.Fatalf("second device downloaded %d files, want 3 (%v)", rep.Downloaded, rep)
	}
	sameTrees(t, a, b)
	ia, _ := os.Stat(a.path("docs/report.md"))
	ib, _ := os.Stat(b.path("docs/report.md"))
	if !ia.ModTime().Equal(ib.ModTime()) {
		t.Fatalf("mtime not kept: %v vs %v", ia.ModTime(), ib.ModTime())
	}
	// Nothing to do: nothing is sent or fetched again.
	if rep := a.sync(t); rep != (foldersync.Report{}) {
		t.Fatalf("idle sync did %v", rep)
	}
	if rep := b.sync(t); rep != (foldersync.Report{}) {
		t.Fatalf("idle sync did %v", rep)
	}

	// An edit on B reaches A.
	b.write(t, "notes.txt", "second, longer")
	b.sync(t)
	a.sync(t)
	if got := a.read(t, "notes.txt"); got != "second, longer" {
		t.Fatalf("edit did not arrive: %q", got)
	}

	// A rename and a move on A are moves on the server and on B: the
	// node keeps its ID, B's file keeps its inode.
	before, err := a.drive.Resolve(ctx, "/sync/docs/report.md")
	if err != nil {
		t.Fatal(err)
	}
	inoB := ino(t, b.path("docs/report.md"))
	if err := os.Rename(a.path("docs/report.md"), a.path("report-final.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a.path("docs/deep"), a.path("empty/deep")); err != nil {
		t.Fatal(err)
	}
	if rep := a.sync(t); rep.Moved != 2 || rep.Uploaded != 0 || rep.Deleted != 0 {
		t.Fatalf("moves synced as %v, want 2 moves and nothing else", rep)
	}
	after, err := a.drive.Resolve(ctx, "/sync/report-final.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.ID, after.ID) {
		t.Fatal("the rename made a new node instead of moving the old one")
	}
	if rep := b.sync(t); rep.Moved != 2 || rep.Downloaded != 0 {
		t.Fatalf("moves arrived as %v, want 2 moves and no download", rep)
	}
	sameTrees(t, a, b)
	if got := ino(t, b.path("report-final.md")); got != inoB {
		t.Fatal("the other device downloaded the renamed file again instead of renaming it")
	}

	// A delete goes to the server's trash and to B's local trash, and can
	// be restored from there.
	if err := os.Remove(a.path("notes.txt")); err != nil {
		t.Fatal(err)
	}
	if rep := a.sync(t); rep.Deleted != 1 {
		t.Fatalf("delete synced as %v", rep)
	}
	trash, err := a.drive.Trash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(trash) != 1 || trash[0].Name != "notes.txt" {
		t.Fatalf("server trash holds %d items, want notes.txt", len(trash))
	}
	b.sync(t)
	if _, err := os.Stat(b.path("notes.txt")); !os.IsNotExist(err) {
		t.Fatal("the deleted file is still on the other device")
	}
	if got, err := os.ReadFile(filepath.Join(b.dir, foldersync.TrashDir, "notes.txt")); err != nil || string(got) != "second, longer" {
		t.Fatalf("the other device's local trash: %q, %v", got, err)
	}
	if err := a.drive.RestoreFromTrash(ctx, "/sync/notes.txt"); err != nil {
		t.Fatal(err)
	}
	b.sync(t)
	a.sync(t)
	sameTrees(t, a, b)
	if got := b.read(t, "notes.txt"); got != "second, longer" {
		t.Fatalf("restored file: %q", got)
	}

	// A folder deleted on B goes as one.
	if err := os.RemoveAll(b.path("empty")); err != nil {
		t.Fatal(err)
	}
	if rep := b.sync(t); rep.Deleted != 1 {
		t.Fatalf("folder delete synced as %v, want one delete", rep)
	}
	a.sync(t)
	sameTrees(t, a, b)
	if _, err := os.Stat(filepath.Join(a.dir, foldersync.TrashDir, "empty", "deep", "er", "file.bin")); err != nil {
		t.Fatalf("the deleted folder is not in the local trash: %v", err)
	}
}

func TestConcurrentEditsKeepBoth(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "plan.txt", "v1")
	a.sync(t)
	b.sync(t)

	a.write(t, "plan.txt", "laptop's edit")
	b.write(t, "plan.txt", "desktop's edit")
	a.sync(t)
	if rep := b.sync(t); rep.Conflicts != 1 {
		t.Fatalf("concurrent edit synced as %v, want one conflict", rep)
	}
	a.sync(t)
	sameTrees(t, a, b)
	tree := a.tree(t)
	copyName := "plan (conflict from desktop 2026-11-24 1530).txt"
	if tree["plan.txt"] != "laptop's edit" || tree[copyName] != "desktop's edit" || len(tree) != 2 {
		t.Fatalf("after the conflict: %v", tree)
	}
}

func TestEditWinsOverDelete(t *testing.T) {
	for _, editFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "delete synced first", true: "edit synced first"}[editFirst], func(t *testing.T) {
			w := newWorld(t)
			a, b := w.device(t, "laptop"), w.device(t, "desktop")
			a.write(t, "keep.txt", "v1")
			a.sync(t)
			b.sync(t)
			if err := os.Remove(a.path("keep.txt")); err != nil {
				t.Fatal(err)
			}
			b.write(t, "keep.txt", "edited on the desktop")
			if editFirst {
				b.sync(t)
				a.sync(t)
			} else {
				a.sync(t)
				b.sync(t)
				a.sync(t)
			}
			b.sync(t)
			sameTrees(t, a, b)
			if got := a.read(t, "keep.txt"); got != "edited on the desktop" {
				t.Fatalf("the edit was lost: %q", got)
			}
		})
	}
}

func TestIgnoreRulesAndLinks(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, ".cofferignore", "*.log\nbuild/\n")
	a.write(t, "src/main.go", "package main")
	a.write(t, "src/debug.log", "noise")
	a.write(t, "build/out.bin", "artefact")
	a.write(t, ".main.go.swp", "vim swap")
	if err := os.Symlink("/etc/passwd", a.path("link")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t)
	got := keys(b.tree(t))
	want := []string{".cofferignore", "src/", "src/main.go"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the other device got %v, want %v", got, want)
	}
	found := false
	for _, m := range a.warns {
		found = found || strings.Contains(m, "symbolic link")
	}
	if !found {
		t.Fatalf("no warning about the link: %v", a.warns)
	}
}

func TestUnmountedFolderIsRefused(t *testing.T) {
	w := newWorld(t)
	a := w.device(t, "laptop")
	a.write(t, "a.txt", "a")
	a.sync(t)
	// The disk goes away: the folder is there, empty, marker and all.
	entries, _ := os.ReadDir(a.dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(a.dir, e.Name()))
	}
	if _, err := a.s.Once(ctx); err == nil || !strings.Contains(err.Error(), "marker") {
		t.Fatalf("sync of an emptied folder: %v", err)
	}
	if _, err := a.drive.Resolve(ctx, "/sync/a.txt"); err != nil {
		t.Fatalf("the server copy was touched: %v", err)
	}
}

// A pass whose record was lost (a crash between an action and its
// record, or --reset) settles by comparing contents: nothing is sent,
// fetched or copied again.
func TestLostStateSettlesWithoutTransfers(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "x/one.txt", "one")
	a.write(t, "two.txt", strings.Repeat("2", 5000))
	a.sync(t)
	b.sync(t)
	cfgDir := filepath.Dir(filepath.Dir(b.s.StatePath()))
	b.s.Close()
	if err := foldersync.Reset(foldersync.Options{Local: b.dir, Remote: w.remote, StateDir: filepath.Join(cfgDir, "sync"), Server: w.url, User: "alice"}); err != nil {
		t.Fatal(err)
	}
	b.open(t, w, cfgDir)
	if err := os.Remove(filepath.Join(b.dir, ".coffer-sync")); err != nil {
		t.Fatal(err)
	}
	rep := b.sync(t)
	if rep.Uploaded+rep.Downloaded+rep.Conflicts != 0 {
		t.Fatalf("a sync with its state lost did %v", rep)
	}
	sameTrees(t, a, b)
}

// Watching: a change on one device reaches the other, both running.
func TestWatchBothWays(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, dev := range []*device{a, b} {
		wg.Go(func() {
			if err := dev.s.Run(runCtx, foldersync.RunOptions{Rescan: time.Hour}); err != nil {
				t.Errorf("%s: run: %v", dev.name, err)
			}
		})
	}
	defer func() { stop(); wg.Wait() }()
	waitFor := func(dev *device, p, want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := os.ReadFile(dev.path(p))
			if err == nil && string(got) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never got %s = %q (has %q, %v); warnings: %v", dev.name, p, want, got, err, dev.warns)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	a.write(t, "live/hello.txt", "from the laptop")
	waitFor(b, "live/hello.txt", "from the laptop")
	b.write(t, "live/hello.txt", "and back from the desktop")
	waitFor(a, "live/hello.txt", "and back from the desktop")
}

// blockFiles counts the blocks the server stores.
func (w *world) blockFiles(t *testing.T) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(w.env.Dir, "blocks"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// An edit to one 4 MiB block of a large file sends that block only; the
// other device gets the whole new version right.
func TestLargeEditSendsChangedBlocksOnly(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	const block = 4 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*block/16+1000) // 3 full blocks and a tail
	a.write(t, "big.bin", string(data))
	a.sync(t)
	b.sync(t)
	before := w.blockFiles(t)
	copy(data[block+100:], "an edit in the second block")
	a.write(t, "big.bin", string(data))
	a.sync(t)
	if added := w.blockFiles(t) - before; added != 1 {
		t.Fatalf("the edit stored %d new blocks, want 1", added)
	}
	b.sync(t)
	if got := b.read(t, "big.bin"); got != string(data) {
		t.Fatal("the other device's copy differs after the edit")
	}
	// And an edit made on the device that downloaded it: the block
	// hashes it keeps come from the download.
	copy(data[3*block+10:], "and one in the tail")
	b.write(t, "big.bin", string(data))
	b.sync(t)
	a.sync(t)
	if got := a.read(t, "big.bin"); got != string(data) {
		t.Fatal("the first device's copy differs after the second edit")
	}
}

// A server restored from an older backup has a shorter history than the
// device saw, or (once written to again) another one: what it lost must
// be sent again, not deleted here.
func TestServerHistoryGoingBackDeletesNothing(t *testing.T) {
	for _, how := range []string{"shorter", "another"} {
		t.Run(how, func(t *testing.T) { testHistoryGoingBack(t, how) })
	}
}

func testHistoryGoingBack(t *testing.T, how string) {
	w := newWorld(t)
	a := w.device(t, "laptop")
	a.write(t, "kept.txt", "kept")
	a.sync(t)
	// Play the restore: the device's cursor is far ahead of the server's
	// history, and the server lacks a file the device synced.
	cfgDir := filepath.Dir(filepath.Dir(a.s.StatePath()))
	a.write(t, "after-backup.txt", "written after the backup")
	a.sync(t)
	if err := a.drive.Remove(ctx, "/sync/after-backup.txt", false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.drive.EmptyTrash(ctx); err != nil {
		t.Fatal(err)
	}
	a.s.Close()
	var err error
	if how == "shorter" {
		err = foldersync.SetCursorForTest(a.s.StatePath(), 1<<40)
	} else {
		err = foldersync.SetLastEventForTest(a.s.StatePath(), "another event")
	}
	if err != nil {
		t.Fatal(err)
	}
	a.open(t, w, cfgDir)
	a.sync(t)
	if got := a.read(t, "after-backup.txt"); got != "written after the backup" {
		t.Fatalf("the file the restored server lacks: %q", got)
	}
	if _, err := a.drive.Resolve(ctx, "/sync/after-backup.txt"); err != nil {
		t.Fatalf("it was not sent again: %v", err)
	}
}

// A device deletes the version it saw: the server refuses to trash a
// file another device edited since (that edit then wins, next pass).
func TestTrashRefusesAnEditMadeMeanwhile(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "f.txt", "v1")
	a.sync(t)
	b.sync(t)
	seen, err := b.drive.Resolve(ctx, "/sync/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	a.write(t, "f.txt", "v2 from the laptop")
	a.sync(t)
	if err := b.drive.TrashEntry(ctx, seen); !client.IsConflict(err) {
		t.Fatalf("trashing the version seen before an edit: %v, want a conflict", err)
	}
	if err := os.Remove(b.path("f.txt")); err != nil {
		t.Fatal(err)
	}
	b.sync(t)
	a.sync(t)
	sameTrees(t, a, b)
	if got := b.read(t, "f.txt"); got != "v2 from the laptop" {
		t.Fatalf("the edit did not win over the delete: %q", got)
	}
}

// A new server revision with the same bytes (another client saved the
// file unchanged) is no conflict with a real edit here: the edit goes up.
func TestSameBytesRevisionIsNoConflict(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "f.txt", "v1")
	a.sync(t)
	b.sync(t)
	same := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(same, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.drive.Put(ctx, []string{same}, "/sync/f.txt", client.PutOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	b.write(t, "f.txt", "the desktop's edit")
	if rep := b.sync(t); rep.Conflicts != 0 || rep.Uploaded != 1 {
		t.Fatalf("sync after a same-bytes revision: %v, want one upload and no conflict", rep)
	}
	a.sync(t)
	sameTrees(t, a, b)
}

// A synced folder replaced here by a file, while the server gained a
// file in that folder: both the new file there and the file here stay.
func TestFolderReplacedByFileWhileServerAddsInside(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "notes/x.txt", "x")
	a.sync(t)
	b.sync(t)
	a.write(t, "notes/new.txt", "added on the laptop")
	a.sync(t)
	if err := os.RemoveAll(b.path("notes")); err != nil {
		t.Fatal(err)
	}
	b.write(t, "notes", "a file now")
	b.sync(t)
	a.sync(t)
	sameTrees(t, a, b)
	tree := b.tree(t)
	if tree["notes/new.txt"] != "added on the laptop" || tree["notes (conflict from desktop 2026-11-24 1530)"] != "a file now" {
		t.Fatalf("after the replace: %v", tree)
	}
}

// The synced folder, or a folder above it, going to the trash stops the
// sync; the local folder is left alone, and once the folder is restored
// the sync goes on.
func TestRemoteFolderTrashedStops(t *testing.T) {
	w := newWorld(t)
	w.remote = "/outer/sync"
	a := w.device(t, "laptop")
	a.write(t, "a.txt", "a")
	a.sync(t)
	for _, gone := range []string{"/outer/sync", "/outer"} {
		if err := a.drive.Remove(ctx, gone, true); err != nil {
			t.Fatal(err)
		}
		if _, err := a.s.Once(ctx); err == nil {
			t.Fatalf("a sync whose folder %s went to the trash did not stop", gone)
		}
		if got := a.read(t, "a.txt"); got != "a" {
			t.Fatalf("the local file was touched: %q", got)
		}
		if err := a.drive.RestoreFromTrash(ctx, gone); err != nil {
			t.Fatal(err)
		}
		a.sync(t)
		if _, err := a.drive.Resolve(ctx, "/outer/sync/a.txt"); err != nil {
			t.Fatal(err)
		}
	}
}

// A touch (the same bytes, a new time) reaches the other device as a new
// revision that re-uses every block, so it stores nothing new, and the
// other device takes the content from its own copy; a touch does not
// keep alive a file deleted on the server meanwhile.
func TestTouchSendsTheTimeNotTheBlocks(t *testing.T) {
	w := newWorld(t)
	var fetched atomic.Int64 // bytes the desktop downloads
	a := w.device(t, "laptop")
	b, _ := w.deviceWith(t, "desktop", func(o *foldersync.Options) {
		o.Progress = func(_, down int64) { fetched.Store(max(fetched.Load(), down)) }
	})
	data := strings.Repeat("touched, not edited. ", 600_000) // 3 blocks
	a.write(t, "big.bin", data)
	a.write(t, "gone.txt", "deleted on the desktop")
	a.sync(t)
	b.sync(t)
	before := w.blockFiles(t)
	later := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(a.path("big.bin"), later, later); err != nil {
		t.Fatal(err)
	}
	if rep := a.sync(t); rep.Uploaded != 1 {
		t.Fatalf("the touch: %+v, want one upload", rep)
	}
	if added := w.blockFiles(t) - before; added != 0 {
		t.Fatalf("the touch stored %d new blocks, want none", added)
	}
	fetched.Store(0)
	if rep := b.sync(t); rep.Downloaded != 1 {
		t.Fatalf("the touch on the other device: %+v, want one download", rep)
	}
	if n := fetched.Load(); n != 0 {
		t.Fatalf("the other device fetched %d bytes for a touch, want none", n)
	}
	info, err := os.Stat(b.path("big.bin"))
	if err != nil || !info.ModTime().Equal(later) || b.read(t, "big.bin") != data {
		t.Fatalf("the other device's copy: %v, %v; want the new time and the same bytes", info.ModTime(), err)
	}
	for _, dev := range []*device{a, b, a} {
		if rep := dev.sync(t); rep != (foldersync.Report{}) {
			t.Fatalf("%s: a pass after the touch did %+v, want nothing", dev.name, rep)
		}
	}

	if err := os.Remove(b.path("gone.txt")); err != nil {
		t.Fatal(err)
	}
	b.sync(t)
	if err := os.Chtimes(a.path("gone.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t)
	if _, err := os.Stat(a.path("gone.txt")); !os.IsNotExist(err) {
		t.Fatalf("a touched file deleted on the other device is still here: %v", err)
	}
	sameTrees(t, a, b)
}

// A folder moved here, then a file moved into a folder two levels below
// it, in the same running sync: the second move names the folders as
// they are now, not as they were when the sync last listed them.
func TestMoveIntoFolderBelowOneMovedBefore(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "x/y/z/q/deep.txt", "deep")
	a.write(t, "f.txt", "moved in later")
	if err := os.MkdirAll(a.path("w"), 0o755); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t)
	if err := os.Rename(a.path("x/y"), a.path("w/y")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	if err := os.Rename(a.path("f.txt"), a.path("w/y/z/q/f.txt")); err != nil {
		t.Fatal(err)
	}
	if rep := a.sync(t); rep.Moved != 1 || rep.Uploaded != 0 {
		t.Fatalf("the move into the moved folder: %+v, want one move", rep)
	}
	b.sync(t)
	sameTrees(t, a, b)
	if got := b.read(t, "w/y/z/q/f.txt"); got != "moved in later" {
		t.Fatalf("the moved file on the other device: %q", got)
	}
}

// A touch on one device does not bring back what another device deleted,
// a file or a whole folder, in either order.
func TestTouchDoesNotReviveDeletes(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "f.txt", "file")
	a.write(t, "d/g.txt", "in a folder")
	a.write(t, "d/h.txt", "beside it")
	a.write(t, "e/i.txt", "in another folder")
	a.sync(t)
	b.sync(t)
	later := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	touch := func(dev *device, p string) {
		t.Helper()
		if err := os.Chtimes(dev.path(p), later, later); err != nil {
			t.Fatal(err)
		}
	}

	// Touched and sent first, deleted on the other device after.
	touch(b, "f.txt")
	touch(b, "d/g.txt")
	b.sync(t)
	if err := os.Remove(a.path("f.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(a.path("d")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t)
	a.sync(t)
	sameTrees(t, a, b)
	if tree := a.tree(t); tree["f.txt"] != "" || tree["d/g.txt"] != "" || tree["d/"] != "" {
		t.Fatalf("a touch brought deleted files back: %v", keys(tree))
	}

	// Deleted and sent first, touched on the other device after.
	if err := os.RemoveAll(a.path("e")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	touch(b, "e/i.txt")
	b.sync(t)
	a.sync(t)
	sameTrees(t, a, b)
	if _, ok := a.tree(t)["e/"]; ok {
		t.Fatalf("a touch brought a deleted folder back: %v", keys(a.tree(t)))
	}
	if got, err := os.ReadFile(filepath.Join(b.dir, foldersync.TrashDir, "e", "i.txt")); err != nil || string(got) != "in another folder" {
		t.Fatalf("the touched file in the desktop's .coffer-trash: %q, %v", got, err)
	}
}

// Renames in a chain on the server (project to project-old, then
// project-new to project, synced by another device while this one was
// away) arrive as two moves, with no warning.
func TestRenameChainArrivesAsMoves(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "project/main.go", "old")
	a.write(t, "project-new/main.go", "new")
	a.sync(t)
	b.sync(t)
	if err := os.Rename(a.path("project"), a.path("project-old")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	if err := os.Rename(a.path("project-new"), a.path("project")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	if rep := b.sync(t); rep.Moved != 2 || rep.Downloaded != 0 || rep.Deleted != 0 {
		t.Fatalf("the rename chain on the desktop: %+v, want two moves", rep)
	}
	sameTrees(t, a, b)
	if got := b.read(t, "project/main.go"); got != "new" {
		t.Fatalf("project/main.go on the desktop: %q", got)
	}
	if len(b.warns) != 0 {
		t.Fatalf("warnings: %v", b.warns)
	}
}
