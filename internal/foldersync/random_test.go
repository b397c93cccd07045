package foldersync_test

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/foldersync"
)

// TestRandomOperations runs seeded random operations on three devices
// (create, edit, touch, delete, rename, move, mkdir, rm -r, on a few names, so
// that they collide), each device syncing at random points, then syncs
// all three to quiescence, and checks that every device and the server
// hold the same tree and that no content written by anyone is missing,
// unless a device that held it removed it.
//
// COFFER_SYNC_SEED replays one seed; COFFER_SYNC_STEPS sets the number
// of steps (30 by default) and COFFER_SYNC_RUNS the number of new seeds
// drawn from the clock (without it, the fixed regressionSeeds run);
// COFFER_SYNC_VERBOSE=1 logs each operation, and each change a sync
// makes, as it happens.
func TestRandomOperations(t *testing.T) {
	steps, runs := 0, 0 // 0: each seed's own, else 30
	if v := os.Getenv("COFFER_SYNC_STEPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("COFFER_SYNC_STEPS=%q: want a positive number", v)
		}
		steps = n
	}
	if v := os.Getenv("COFFER_SYNC_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("COFFER_SYNC_RUNS=%q: want a positive number", v)
		}
		runs = n
	}
	// Without COFFER_SYNC_RUNS the seeds are fixed, so that a run in CI
	// is the same every time; the exploration of new seeds is asked for.
	seeds := regressionSeeds
	if v := os.Getenv("COFFER_SYNC_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("COFFER_SYNC_SEED=%q: want a number", v)
		}
		seeds = []randomRun{{seed: s}}
	} else if runs > 0 {
		seeds = make([]randomRun, runs)
		for i := range seeds {
			seeds[i].seed = uint64(time.Now().UnixNano()) + uint64(i)
		}
	}
	for _, run := range seeds {
		n := cmp.Or(steps, run.steps, 30)
		t.Run(fmt.Sprintf("seed=%d", run.seed), func(t *testing.T) {
			t.Logf("seed %d, %d steps (replay: COFFER_SYNC_SEED=%d COFFER_SYNC_STEPS=%d go test ./internal/foldersync -run TestRandomOperations)", run.seed, n, run.seed, n)
			runRandom(t, run.seed, n)
		})
	}
}

// randomRun is a seed and its number of steps (0: 30).
type randomRun struct {
	seed  uint64
	steps int
}

// regressionSeeds run by default: a few plain ones, and seeds that once
// failed (each such bug also has a plain test).
var regressionSeeds = []randomRun{{seed: 1}, {seed: 2}, {seed: 3}, {seed: 4}, {seed: 5}, {seed: 6},
	{seed: 1795531858982851040}, {seed: 1795535664690557042, steps: 80}}

// rnd is one random run: the devices, the oracle's record of contents,
// and a log of every operation, printed if the run fails.
type rnd struct {
	t    *testing.T
	rng  *rand.Rand
	w    *world
	devs []*device
	seq  int
	// written holds every content written, by whom and when.
	written map[string]string
	// removed holds the contents a device holding them deleted or
	// overwrote: they may be gone at the end.
	removed map[string]string
	log     []string
	// stateDirs are the devices' state folders, by name.
	stateDirs map[string]string
	// verbose logs each operation as it happens (COFFER_SYNC_VERBOSE=1),
	// for replays that end in a panic.
	verbose bool
}

func (r *rnd) logf(format string, args ...any) {
	r.log = append(r.log, fmt.Sprintf(format, args...))
	if r.verbose {
		r.t.Log(r.log[len(r.log)-1])
	}
}

func runRandom(t *testing.T, seed uint64, steps int) {
	w := newWorld(t)
	r := &rnd{
		t:       t,
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		w:       w,
		written: map[string]string{},
		removed: map[string]string{},
		verbose: os.Getenv("COFFER_SYNC_VERBOSE") != "",

		stateDirs: map[string]string{},
	}
	for _, name := range []string{"laptop", "desktop", "phone"} {
		dev, stateDir := rndDevice(t, w, name)
		r.devs = append(r.devs, dev)
		r.stateDirs[name] = stateDir
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d; operations:\n%s", seed, strings.Join(r.log, "\n"))
		}
	})

	for step := range steps {
		for _, i := range r.rng.Perm(len(r.devs)) {
			dev := r.devs[i]
			for range 1 + r.rng.IntN(3) {
				r.op(dev)
			}
			if r.rng.IntN(2) == 0 {
				r.syncOnce(dev, fmt.Sprintf("step %d", step))
			}
		}
	}

	// Quiescence: rounds of the three until one full round changes
	// nothing and leaves nothing pending.
	const maxRounds = 8
	for round := 0; ; round++ {
		if round == maxRounds {
			t.Fatalf("no quiescence after %d rounds of syncs of the three devices:\n%s", maxRounds, r.diagnose())
		}
		quiet := true
		for _, dev := range r.devs {
			if !r.syncOnce(dev, fmt.Sprintf("final round %d", round)) {
				quiet = false
			}
		}
		if quiet {
			break
		}
	}

	sameTrees(t, r.devs...)
	final := r.devs[0].tree(t)
	r.sameAsServer(final)

	// The oracle: every content written is in the final tree (at its
	// path, elsewhere, or in a conflict copy) unless a device that held
	// it removed it.
	present := map[string]bool{}
	at := map[string]string{}
	for p, c := range final {
		if strings.HasSuffix(p, "/") {
			continue
		}
		present[c] = true
		// Nothing is copied: a move moves, a conflict copy is the
		// local version renamed. One content, one path.
		if q, dup := at[c]; dup {
			t.Fatalf("%s and %s hold the same content (%.30q...): a duplicate", q, p, c)
		}
		at[c] = p
	}
	var missing []string
	for c, who := range r.written {
		if !present[c] && r.removed[c] == "" {
			missing = append(missing, fmt.Sprintf("%q (written by %s)", c, who))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("%d content(s) lost, though no device that held them removed them:\n%s\nfinal tree: %v", len(missing), strings.Join(missing, "\n"), keys(final))
	}
	t.Logf("%d operations, %d contents written, %d removed on purpose, final tree of %d entries", len(r.log), len(r.written), len(r.removed), len(final))
}

// rndClock is the devices' clock in random runs: it moves on by a second
// at every reading, as a real one moves between two passes, so that what
// the sync names after the time (conflict copies, names in the local
// trash) is not the same twice, yet a run replays the same.
type rndClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rndClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// rndDevice logs a new device in, as world.device does, with a clock
// that moves.
func rndDevice(t *testing.T, w *world, name string) (*device, string) {
	t.Helper()
	clk := &rndClock{t: time.Date(2026, 11, 24, 15, 30, 0, 0, time.Local)}
	return w.deviceWith(t, name, func(o *foldersync.Options) {
		o.Now = clk.now
		if os.Getenv("COFFER_SYNC_VERBOSE") != "" {
			o.Log = func(m string) { t.Logf("%s did: %s", name, m) }
		}
	})
}

// diagnose runs one more pass of each device with a fresh Syncer (the
// old one tells each warning once only) and returns what each says.
func (r *rnd) diagnose() string {
	var out []string
	for _, dev := range r.devs {
		dev.s.Close()
		var msgs []string
		var mu sync.Mutex
		note := func(m string) { mu.Lock(); msgs = append(msgs, m); mu.Unlock() }
		s, err := foldersync.Open(ctx, dev.drive, foldersync.Options{
			Local: dev.dir, Remote: r.w.remote, StateDir: r.stateDirs[dev.name],
			Server: r.w.url, User: "alice", Device: dev.name,
			Warn: func(m string) { note("warning: " + m) },
			Log:  func(m string) { note("did: " + m) },
		})
		if err != nil {
			out = append(out, fmt.Sprintf("%s: reopen: %v", dev.name, err))
			continue
		}
		dev.s = s
		rep, err := s.Once(ctx)
		out = append(out, fmt.Sprintf("%s: one more pass: %v, %v\n  %s\n  tree: %v", dev.name, rep, err, strings.Join(msgs, "\n  "), keys(dev.tree(r.t))))
		// What the server's folder shows this device, and what its
		// drive left out.
		remote, err := r.serverTree(dev.drive)
		out = append(out, fmt.Sprintf("  the server's folder as %s lists it: %v, %v; drive warnings: %q", dev.name, keys(remote), err, dev.drive.Warnings()))
	}
	return strings.Join(out, "\n")
}

// syncOnce runs one pass of dev and reports whether it did nothing and
// left nothing pending. An error is a failure: the devices take turns,
// so nothing races a pass.
func (r *rnd) syncOnce(dev *device, when string) bool {
	r.t.Helper()
	defer func() {
		if p := recover(); p != nil {
			r.t.Fatalf("%s: %s: sync panicked: %v\n%s", when, dev.name, p, debug.Stack())
		}
	}()
	rep, err := dev.s.Once(ctx)
	r.logf("%s: %s sync: %v", when, dev.name, rep)
	if err != nil {
		r.t.Fatalf("%s: %s: sync: %v; warnings: %v", when, dev.name, err, dev.warns)
	}
	return rep == (foldersync.Report{})
}

// Names come from a small set, so devices collide; "a" is both a folder
// and a file name.
var (
	rndFolders = []string{"a", "b", "c"}
	rndFiles   = []string{"x.txt", "y", "a", "notes.md"}
)

// entries lists dev's folder: files with their contents, and folders.
func (r *rnd) entries(dev *device) (files map[string]string, folders []string) {
	files = map[string]string{}
	for p, c := range dev.tree(r.t) {
		if strings.HasSuffix(p, "/") {
			folders = append(folders, strings.TrimSuffix(p, "/"))
		} else {
			files[p] = c
		}
	}
	sort.Strings(folders)
	return files, folders
}

func sortedFiles(files map[string]string) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (r *rnd) pick(list []string) string { return list[r.rng.IntN(len(list))] }

// randomFolder returns a folder path of depth 0 to 2 ("" is the top).
func (r *rnd) randomFolder() string {
	p := ""
	for range r.rng.IntN(3) {
		p = path.Join(p, r.pick(rndFolders))
	}
	return p
}

// blocked reports whether a file sits where p or one of its parents
// would go.
func blocked(dev *device, p string) bool {
	for q := p; q != "." && q != ""; q = path.Dir(q) {
		if info, err := os.Lstat(dev.path(q)); err == nil && !info.IsDir() {
			return true
		}
	}
	return false
}

// content returns a new content, never written before: its writer,
// a sequence number, and some padding so sizes differ.
func (r *rnd) content(dev *device) string {
	r.seq++
	return fmt.Sprintf("content %d by %s%s", r.seq, dev.name, strings.Repeat(".", r.rng.IntN(300)))
}

// write writes a new content at p, noting the old one, if any, as
// removed by dev, which holds it.
func (r *rnd) write(dev *device, p, what string) {
	if old, err := os.ReadFile(dev.path(p)); err == nil {
		r.removed[string(old)] = dev.name
	}
	c := r.content(dev)
	dev.write(r.t, p, c)
	r.written[c] = dev.name
	r.logf("%s: %s %s = content %d", dev.name, what, p, r.seq)
}

// removeAll notes every content below p as removed by dev.
func (r *rnd) removeAll(dev *device, p string, files map[string]string) {
	for q, c := range files {
		if q == p || strings.HasPrefix(q, p+"/") {
			r.removed[c] = dev.name
		}
	}
}

// op does one random operation on dev's folder.
func (r *rnd) op(dev *device) {
	t := r.t
	files, folders := r.entries(dev)
	names := sortedFiles(files)
	switch k := r.rng.IntN(100); {
	case k < 30: // create (or overwrite, if the name is taken)
		p := path.Join(r.randomFolder(), r.pick(rndFiles))
		if info, err := os.Lstat(dev.path(p)); blocked(dev, path.Dir(p)) || err == nil && info.IsDir() {
			return
		}
		r.write(dev, p, "create")
	case k < 45: // edit
		if len(names) == 0 {
			return
		}
		r.write(dev, r.pick(names), "edit")
	case k < 50: // touch: a new time, the same bytes
		if len(names) == 0 {
			return
		}
		p := r.pick(names)
		bump(t, dev.path(p))
		r.logf("%s: touch %s", dev.name, p)
	case k < 60: // delete
		if len(names) == 0 {
			return
		}
		p := r.pick(names)
		r.removed[files[p]] = dev.name
		if err := os.Remove(dev.path(p)); err != nil {
			t.Fatal(err)
		}
		r.logf("%s: delete %s", dev.name, p)
	case k < 70: // rename in place
		if len(names) == 0 {
			return
		}
		p := r.pick(names)
		q := path.Join(path.Dir(p), r.pick(rndFiles))
		if _, err := os.Lstat(dev.path(q)); err == nil {
			return
		}
		if err := os.Rename(dev.path(p), dev.path(q)); err != nil {
			t.Fatal(err)
		}
		r.logf("%s: rename %s to %s", dev.name, p, q)
	case k < 82: // move a file or a folder to another folder
		all := append(append([]string{}, names...), folders...)
		if len(all) == 0 {
			return
		}
		p := r.pick(all)
		dir := ""
		if len(folders) > 0 && r.rng.IntN(4) != 0 {
			dir = r.pick(folders)
		}
		q := path.Join(dir, path.Base(p))
		if q == p || strings.HasPrefix(q+"/", p+"/") {
			return // onto itself, or into itself
		}
		if _, err := os.Lstat(dev.path(q)); err == nil {
			return
		}
		if err := os.Rename(dev.path(p), dev.path(q)); err != nil {
			t.Fatal(err)
		}
		r.logf("%s: move %s to %s", dev.name, p, q)
	case k < 92: // mkdir -p
		p := path.Join(r.randomFolder(), r.pick(rndFolders))
		if blocked(dev, p) {
			return
		}
		if err := os.MkdirAll(dev.path(p), 0o755); err != nil {
			t.Fatal(err)
		}
		r.logf("%s: mkdir %s", dev.name, p)
	default: // rm -r
		if len(folders) == 0 {
			return
		}
		p := r.pick(folders)
		r.removeAll(dev, p, files)
		if err := os.RemoveAll(dev.path(p)); err != nil {
			t.Fatal(err)
		}
		r.logf("%s: rm -r %s", dev.name, p)
	}
}

// serverTree lists the server's folder through d: folders ("dir/") and
// files with the SHA-256 of their contents, in hex.
func (r *rnd) serverTree(d *client.Drive) (map[string]string, error) {
	root, err := d.Resolve(ctx, r.w.remote)
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	var walk func(e *client.Entry, rel string) error
	walk = func(e *client.Entry, rel string) error {
		kids, err := d.List(ctx, e)
		if err != nil {
			return err
		}
		for _, k := range kids {
			p := path.Join(rel, k.Name)
			if k.IsDir() {
				got[p+"/"] = ""
				if err := walk(k, p); err != nil {
					return err
				}
				continue
			}
			got[p] = fmt.Sprintf("%x", k.Attrs.SHA256)
		}
		return nil
	}
	return got, walk(root, "")
}

// sameAsServer checks the server's folder holds the final tree: the same
// folders, and files of the same contents.
func (r *rnd) sameAsServer(final map[string]string) {
	t := r.t
	got, err := r.serverTree(r.devs[0].drive)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for p, c := range final {
		if strings.HasSuffix(p, "/") {
			want[p] = ""
			continue
		}
		want[p] = fmt.Sprintf("%x", sha256.Sum256([]byte(c)))
	}
	if !mapsEqual(got, want) {
		t.Fatalf("the server's folder differs from the devices':\nserver:  %v\ndevices: %v", keys(got), keys(want))
	}
}

// The cases below are ones the random runs found, kept as plain tests.

// syncCatching runs one pass of dev, turning a panic into a failure.
func syncCatching(t *testing.T, dev *device) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s: sync panicked: %v\n%s", dev.name, p, debug.Stack())
		}
	}()
	dev.sync(t)
}

// A move made on the server onto a path where this device has just
// moved another synced file: the other file is kept under a conflict
// name, and nothing is lost.
func TestMoveOntoPlaceOfLocalMove(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "b/x.txt", "one")
	a.write(t, "x.txt", "two")
	if err := os.MkdirAll(a.path("c/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t)
	if err := os.Rename(a.path("b/x.txt"), a.path("c/b/x.txt")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	if err := os.Rename(b.path("x.txt"), b.path("c/b/x.txt")); err != nil {
		t.Fatal(err)
	}
	syncCatching(t, b)
	syncCatching(t, a)
	syncCatching(t, b)
	sameTrees(t, a, b)
	contents := map[string]bool{}
	for _, c := range a.tree(t) {
		contents[c] = true
	}
	if !contents["one"] || !contents["two"] {
		t.Fatalf("a file was lost: %v", keys(a.tree(t)))
	}
}

// A file deleted on another device goes to .coffer-trash even when an
// earlier deletion left a file in .coffer-trash where its folder goes.
func TestLocalTrashHoldsFileWhereFolderGoes(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "d", "d was a file")
	a.sync(t)
	b.sync(t)
	if err := os.Remove(a.path("d")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t) // .coffer-trash/d is that file now
	a.write(t, "d/f.txt", "then a folder")
	a.sync(t)
	b.sync(t)
	if err := os.Remove(a.path("d/f.txt")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t)
	sameTrees(t, a, b)
	if got, err := os.ReadFile(filepath.Join(b.dir, foldersync.TrashDir, "d")); err != nil || string(got) != "d was a file" {
		t.Fatalf("the first deleted file in .coffer-trash: %q, %v", got, err)
	}
}

// A folder replaced on the server by a new one of the same name, while
// this device added a file in it: the new file is kept and sent, the new
// folder's files arrive.
func TestFolderReplacedOnServerWhileAddedTo(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "f/one.txt", "one")
	a.sync(t)
	b.sync(t)
	if err := os.RemoveAll(a.path("f")); err != nil {
		t.Fatal(err)
	}
	a.sync(t) // the folder goes to the server's trash
	a.write(t, "f/two.txt", "two")
	a.sync(t) // a new folder f
	b.write(t, "f/new.txt", "added on the desktop")
	b.sync(t)
	a.sync(t)
	b.sync(t)
	sameTrees(t, a, b)
	contents := map[string]bool{}
	for _, c := range a.tree(t) {
		contents[c] = true
	}
	if !contents["two"] || !contents["added on the desktop"] {
		t.Fatalf("a file was lost: %v", keys(a.tree(t)))
	}
}

// Two devices whose first syncs of a new drive folder run at once: both
// find the folder missing and make it; the one whose creation comes
// second finds the other's folder and syncs with it. Tried on ten
// folders, as which one loses the race is up to the scheduler.
func TestFirstSyncsOfTwoDevicesAtOnce(t *testing.T) {
	w := newWorld(t)
	for i := range 10 {
		w.remote = fmt.Sprintf("/race-%d", i)
		a, b := w.device(t, "laptop"), w.device(t, "desktop")
		a.write(t, "from-laptop.txt", "laptop")
		b.write(t, "from-desktop.txt", "desktop")
		errs := make(chan error, 2)
		for _, dev := range []*device{a, b} {
			go func() {
				_, err := dev.s.Once(ctx)
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("%s: a first sync beside another device's: %v", w.remote, err)
			}
		}
		a.sync(t)
		b.sync(t)
		a.sync(t)
		sameTrees(t, a, b)
	}
}

// One file moved to two places on two devices, the first onto a name
// another file took on the server meanwhile: the file is still one file
// (the server's move wins on the second device), not two copies.
func TestConcurrentMovesOfOneFileKeepOneCopy(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "f.txt", "the file moved twice")
	if err := os.MkdirAll(a.path("moved"), 0o755); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t)
	b.write(t, "dst.txt", "another file, made on the desktop")
	b.sync(t)
	if err := os.Rename(b.path("f.txt"), b.path("moved/f.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a.path("f.txt"), a.path("dst.txt")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t)
	a.sync(t)
	sameTrees(t, a, b)
	var at []string
	for p, c := range a.tree(t) {
		if c == "the file moved twice" {
			at = append(at, p)
		}
	}
	if len(at) != 1 {
		t.Fatalf("the file moved on both devices is at %v, want one place; tree: %v", at, keys(a.tree(t)))
	}
}

// One file moved on two devices, the server's move onto the name of a
// file deleted there meanwhile, which this device still holds: the old
// file goes to the local trash and the server's move wins, so the moved
// file is one file, not two copies.
func TestServerMoveOntoNameOfDeletedFile(t *testing.T) {
	w := newWorld(t)
	a, b := w.device(t, "laptop"), w.device(t, "desktop")
	a.write(t, "old.txt", "deleted on the laptop")
	a.write(t, "f.txt", "the file moved twice")
	if err := os.MkdirAll(a.path("moved"), 0o755); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	b.sync(t)
	if err := os.Remove(a.path("old.txt")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	if err := os.Rename(a.path("f.txt"), a.path("old.txt")); err != nil {
		t.Fatal(err)
	}
	a.sync(t)
	if err := os.Rename(b.path("f.txt"), b.path("moved/f.txt")); err != nil {
		t.Fatal(err)
	}
	b.sync(t)
	a.sync(t)
	sameTrees(t, a, b)
	var at []string
	for p, c := range a.tree(t) {
		if c == "the file moved twice" {
			at = append(at, p)
		}
	}
	if len(at) != 1 || at[0] != "old.txt" {
		t.Fatalf("the file moved on both devices is at %v, want old.txt only; tree: %v", at, keys(a.tree(t)))
	}
	if got, err := os.ReadFile(filepath.Join(b.dir, foldersync.TrashDir, "old.txt")); err != nil || string(got) != "deleted on the laptop" {
		t.Fatalf("the deleted file in the desktop's .coffer-trash: %q, %v", got, err)
	}
}
