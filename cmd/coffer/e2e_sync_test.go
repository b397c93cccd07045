package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/client"
)

// The tests in this file drive `coffer sync` (issue 8) as people would:
// real `coffer serve` processes, and two or three "devices", each a
// config folder (session and sync state) and a local folder of its own,
// logged in to one account and running the real binary.

// syncDevice is one device of the account.
type syncDevice struct {
	name   string
	env    map[string]string
	dir    string // the local folder synced
	remote string // the drive folder it is synced with
}

// syncDevices signs user up on the first device and logs the others in;
// each gets an empty local folder synced with remote.
func syncDevices(t *testing.T, srv *serverProc, user, remote string, names ...string) []*syncDevice {
	t.Helper()
	var devs []*syncDevice
	for i, name := range names {
		d := &syncDevice{
			name:   name,
			env:    map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": user, "COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), name+"-config"), "COFFER_PASSWORD": user + "'s sync password"},
			dir:    filepath.Join(t.TempDir(), name+"-folder"),
			remote: remote,
		}
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := "login"
		if i == 0 {
			cmd = "signup"
		}
		mustOK(t, cli(t, d.env, cmd, "--device", name), name+": "+cmd)
		devs = append(devs, d)
	}
	return devs
}

// syncArgs are the arguments of `coffer sync` for the device's pair.
func (d *syncDevice) syncArgs(extra ...string) []string {
	return append(append([]string{"sync", "--device", d.name}, extra...), d.dir, d.remote)
}

// once runs `coffer sync --once -v` and requires exit 0 (in step).
func (d *syncDevice) once(t *testing.T) syncReport {
	t.Helper()
	r := mustOK(t, cli(t, d.env, d.syncArgs("--once", "-v")...), d.name+": sync --once")
	return parseSyncReport(t, r)
}

func (d *syncDevice) path(rel string) string {
	return filepath.Join(d.dir, filepath.FromSlash(rel))
}

// syncClock gives every write a distinct modification time, as an edit
// made a moment later has: two writes of the same size within one tick
// of the file system's clock would otherwise look alike.
var syncClock = struct {
	sync.Mutex
	t time.Time
}{t: time.Now().Add(-24 * time.Hour).Truncate(time.Second)}

func (d *syncDevice) write(t *testing.T, rel string, data []byte) {
	t.Helper()
	full := d.path(rel)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
	syncClock.Lock()
	syncClock.t = syncClock.t.Add(time.Second)
	m := syncClock.t
	syncClock.Unlock()
	if err := os.Chtimes(full, m, m); err != nil {
		t.Fatal(err)
	}
}

func (d *syncDevice) read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(d.path(rel))
	if err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	return string(b)
}

// tree lists the device's synced files and folders ("dir/" for folders)
// with contents, leaving out the sync's own files (.coffer-*).
func (d *syncDevice) tree(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(d.dir, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.dir, p)
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(de.Name(), ".coffer-") {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel = filepath.ToSlash(rel)
		if de.IsDir() {
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

// leftovers lists the sync's temporary files (half-done downloads) in
// the device's folder.
func (d *syncDevice) leftovers(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(d.dir, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(de.Name(), client.TempPrefix) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func treeKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		out = append(out, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(out)
	return out
}

// sameSyncTrees requires the devices to hold the same files, folders and
// contents, and returns that tree.
func sameSyncTrees(t *testing.T, devs ...*syncDevice) map[string]string {
	t.Helper()
	want := devs[0].tree(t)
	for _, d := range devs[1:] {
		got := d.tree(t)
		same := len(got) == len(want)
		for k, v := range want {
			if w, ok := got[k]; !ok || w != v {
				same = false
			}
		}
		if !same {
			t.Fatalf("%s and %s differ:\n%s: %v\n%s: %v", devs[0].name, d.name, devs[0].name, treeKeys(want), d.name, treeKeys(got))
		}
	}
	return want
}

// syncReport is the summary line `coffer sync` prints after a pass that
// did something: "HH:MM:SS synced: 1 up, 0 down, ...".
type syncReport struct {
	up, down, moved, deleted, folders, conflicts, pending int
	log                                                   string // the -v lines
}

var reportRe = regexp.MustCompile(`synced: (\d+) up, (\d+) down, (\d+) moved, (\d+) deleted, (\d+) folders, (\d+) conflicts, (\d+) pending`)

func parseSyncReport(t *testing.T, r result) syncReport {
	t.Helper()
	rep := syncReport{log: r.stdout}
	ms := reportRe.FindAllStringSubmatch(r.stdout, -1)
	if len(ms) > 1 {
		t.Fatalf("sync --once printed %d summaries:\n%s", len(ms), r.stdout)
	}
	if len(ms) == 1 {
		for i, dst := range []*int{&rep.up, &rep.down, &rep.moved, &rep.deleted, &rep.folders, &rep.conflicts, &rep.pending} {
			*dst, _ = strconv.Atoi(ms[0][i+1])
		}
	}
	return rep
}

func (r syncReport) idle() bool {
	return r.up+r.down+r.moved+r.deleted+r.folders+r.conflicts+r.pending == 0
}

func (r syncReport) String() string {
	return fmt.Sprintf("%d up, %d down, %d moved, %d deleted, %d folders, %d conflicts, %d pending",
		r.up, r.down, r.moved, r.deleted, r.folders, r.conflicts, r.pending)
}

// observer opens the drive as a further device of the account, from the
// test process, to look at node IDs and listings; its config folder is
// its own, so it changes nothing the devices under test keep.
func observer(t *testing.T, srv *serverProc, user string) *client.Drive {
	t.Helper()
	env := map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": user, "COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "observer"), "COFFER_PASSWORD": user + "'s sync password"}
	mustOK(t, cli(t, env, "login", "--device", "observer"), "observer login")
	cfg, err := client.OpenConfig(env["COFFER_CONFIG_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	d, err := client.New(cfg, nil).Drive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// nodeID returns the ID of the node at the drive path p.
func nodeID(t *testing.T, d *client.Drive, p string) []byte {
	t.Helper()
	e, err := d.Resolve(context.Background(), p)
	if err != nil {
		t.Fatalf("resolve %s: %v", p, err)
	}
	return e.ID
}

// remoteNames lists the names in drive folder p ("name/" for folders).
func remoteNames(t *testing.T, d *client.Drive, p string) []string {
	t.Helper()
	e, err := d.Resolve(context.Background(), p)
	if err != nil {
		t.Fatalf("resolve %s: %v", p, err)
	}
	kids, err := d.List(context.Background(), e)
	if err != nil {
		t.Fatalf("list %s: %v", p, err)
	}
	var out []string
	for _, k := range kids {
		n := k.Name
		if k.IsDir() {
			n += "/"
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Ino
}

// syncProc is a `coffer sync` running in the background.
type syncProc struct {
	cmd      *exec.Cmd
	out, err *lockedBuffer
	done     chan struct{}
	exit     error
}

func (d *syncDevice) start(t *testing.T, extra ...string) *syncProc {
	t.Helper()
	cmd := exec.Command(coffer, d.syncArgs(extra...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range d.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &syncProc{cmd: cmd, out: &lockedBuffer{}, err: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.err
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.exit = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitStarted waits until a watching sync has opened the drive and says
// it is syncing.
func (p *syncProc) waitStarted(t *testing.T) {
	t.Helper()
	waitUntil(t, "sync starts", func() bool { return bytes.Contains(p.out.Bytes(), []byte("press Ctrl-C")) || p.exited() },
		func() string { return string(p.err.Bytes()) })
	if p.exited() {
		t.Fatalf("sync exited: %v\n%s", p.exit, p.err.Bytes())
	}
}

func (p *syncProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL, as a crash or a power cut would, and waits.
func (p *syncProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("sync did not die on SIGKILL")
	}
}

// interrupt sends SIGINT (Ctrl-C) and requires a clean exit, status 0.
func (p *syncProc) interrupt(t *testing.T, what string) {
	t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("%s: sync did not stop on SIGINT\nstdout: %s\nstderr: %s", what, p.out.Bytes(), p.err.Bytes())
	}
	if p.exit != nil {
		t.Fatalf("%s: sync exited with %v after SIGINT, want status 0\nstdout: %s\nstderr: %s", what, p.exit, p.out.Bytes(), p.err.Bytes())
	}
	if bytes.Contains(p.err.Bytes(), []byte("panic")) || bytes.Contains(p.err.Bytes(), []byte("goroutine ")) {
		t.Fatalf("%s: sync crashed:\n%s", what, p.err.Bytes())
	}
}

// waitUntil polls cond until it holds, failing after a generous deadline
// (never a timing assertion: the deadline only stops a hung test).
func waitUntil(t *testing.T, what string, cond func() bool, explain func() string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within two minutes; %s", what, explain())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForContent waits until the device's file rel holds want.
func (d *syncDevice) waitForContent(t *testing.T, rel, want string, procs ...*syncProc) {
	t.Helper()
	waitUntil(t, d.name+" gets "+rel, func() bool {
		got, err := os.ReadFile(d.path(rel))
		return err == nil && string(got) == want
	}, func() string {
		got, err := os.ReadFile(d.path(rel))
		var logs []string
		for _, p := range procs {
			logs = append(logs, fmt.Sprintf("stdout:\n%s\nstderr:\n%s", p.out.Bytes(), p.err.Bytes()))
		}
		return fmt.Sprintf("it has %q (%v)\n%s", got, err, strings.Join(logs, "\n---\n"))
	})
}

// syncZeroKnowledge stops the server and searches everything it wrote
// (log, data folder, and the PostgreSQL schema if it uses one) for the
// names and contents the devices synced.
func syncZeroKnowledge(t *testing.T, srv *serverProc, needles []string) {
	t.Helper()
	srv.stop(t)
	haystacks := serverHaystacks(srv)
	if db := dbHaystack(t, srv.data); db != nil {
		haystacks[srv.data+" (PostgreSQL)"] = db
	}
	blocks := 0
	for name := range haystacks {
		if strings.Contains(name, string(filepath.Separator)+"blocks"+string(filepath.Separator)) {
			blocks++
		}
	}
	if blocks == 0 {
		t.Fatal("found no stored block; the search is not looking where blocks are")
	}
	var ns [][]byte
	for _, n := range needles {
		ns = append(ns, []byte(n))
	}
	assertAbsent(t, haystacks, ns)
}

// TestSyncJourney is the README's walkthrough: a new user signs up on a
// laptop, logs in on a desktop, syncs a folder between them and edits,
// renames, moves, deletes and restores on both; each change reaches the
// other device as what it was (a move as a move), and the server learns
// no name and no content.
func TestSyncJourney(t *testing.T) {
	srv := startServer(t)
	devs := syncDevices(t, srv, "alice", "/Ocelot-Documents", "laptop", "desktop")
	a, b := devs[0], devs[1]
	obs := observer(t, srv, "alice")

	names := []string{"Ocelot-Documents", "Nightingale-Plan.txt", "Zebrafish-Report.md", "Zebrafish-Final.md", "Quokka-Measurements.bin", "Axolotl-Empty-Folder", "Pangolin-Notes.txt", "Kinkajou-Draft.txt"}
	contents := map[string]string{
		"plan":   "NIGHTINGALE plan, first version: meet at the harbour",
		"report": "# ZEBRAFISH quarterly report\nrevenue went up",
		"data":   "QUOKKA measurements " + strings.Repeat("0123456789", 200000), // 2 MB: several requests' worth, one file
		"edit":   "NIGHTINGALE plan, edited on the desktop: meet at the station instead",
		"notes":  "PANGOLIN notes written on the laptop",
		"draft":  "KINKAJOU draft written on the desktop at the same time",
	}
	a.write(t, "Nightingale-Plan.txt", []byte(contents["plan"]))
	a.write(t, "docs/Zebrafish-Report.md", []byte(contents["report"]))
	a.write(t, "docs/deep/Quokka-Measurements.bin", []byte(contents["data"]))
	if err := os.MkdirAll(a.path("Axolotl-Empty-Folder"), 0o755); err != nil {
		t.Fatal(err)
	}

	// The first pass of each device: everything goes up, then down.
	if rep := a.once(t); rep.up != 3 || rep.down != 0 || rep.conflicts != 0 {
		t.Fatalf("laptop's first sync: %v, want 3 up\n%s", rep, rep.log)
	}
	if rep := b.once(t); rep.down != 3 || rep.up != 0 || rep.conflicts != 0 {
		t.Fatalf("desktop's first sync: %v, want 3 down\n%s", rep, rep.log)
	}
	tree := sameSyncTrees(t, a, b)
	if _, ok := tree["Axolotl-Empty-Folder/"]; !ok {
		t.Fatalf("the empty folder did not reach the desktop: %v", treeKeys(tree))
	}
	ia, _ := os.Stat(a.path("docs/Zebrafish-Report.md"))
	ib, _ := os.Stat(b.path("docs/Zebrafish-Report.md"))
	if !ia.ModTime().Equal(ib.ModTime()) {
		t.Fatalf("modification time not kept: laptop %v, desktop %v", ia.ModTime(), ib.ModTime())
	}
	// In step: --once exits 0 and does nothing.
	for _, d := range devs {
		if rep := d.once(t); !rep.idle() {
			t.Fatalf("%s: an idle sync did %v\n%s", d.name, rep, rep.log)
		}
	}

	// An edit on the desktop reaches the laptop.
	b.write(t, "Nightingale-Plan.txt", []byte(contents["edit"]))
	if rep := b.once(t); rep.up != 1 {
		t.Fatalf("desktop's edit synced as %v\n%s", rep, rep.log)
	}
	if rep := a.once(t); rep.down != 1 {
		t.Fatalf("laptop got the edit as %v\n%s", rep, rep.log)
	}
	if got := a.read(t, "Nightingale-Plan.txt"); got != contents["edit"] {
		t.Fatalf("the edit did not arrive: %q", got)
	}

	// A rename and a folder moved elsewhere, on the laptop, are moves on
	// the server (the nodes keep their IDs) and on the desktop (its files
	// keep their inodes: nothing is downloaded again).
	reportID := nodeID(t, obs, "/Ocelot-Documents/docs/Zebrafish-Report.md")
	deepID := nodeID(t, obs, "/Ocelot-Documents/docs/deep")
	reportIno := inode(t, b.path("docs/Zebrafish-Report.md"))
	dataIno := inode(t, b.path("docs/deep/Quokka-Measurements.bin"))
	if err := os.Rename(a.path("docs/Zebrafish-Report.md"), a.path("Zebrafish-Final.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a.path("docs/deep"), a.path("Axolotl-Empty-Folder/deep")); err != nil {
		t.Fatal(err)
	}
	if rep := a.once(t); rep.moved != 2 || rep.up+rep.deleted+rep.down != 0 {
		t.Fatalf("laptop's rename and move synced as %v, want 2 moves and nothing else\n%s", rep, rep.log)
	}
	if got := nodeID(t, obs, "/Ocelot-Documents/Zebrafish-Final.md"); !bytes.Equal(got, reportID) {
		t.Fatal("the rename made a new node on the server instead of renaming the old one")
	}
	if got := nodeID(t, obs, "/Ocelot-Documents/Axolotl-Empty-Folder/deep"); !bytes.Equal(got, deepID) {
		t.Fatal("the folder move made a new node on the server instead of moving the old one")
	}
	if rep := b.once(t); rep.moved != 2 || rep.down+rep.up+rep.deleted != 0 {
		t.Fatalf("desktop got the rename and move as %v, want 2 moves and nothing else\n%s", rep, rep.log)
	}
	sameSyncTrees(t, a, b)
	if inode(t, b.path("Zebrafish-Final.md")) != reportIno || inode(t, b.path("Axolotl-Empty-Folder/deep/Quokka-Measurements.bin")) != dataIno {
		t.Fatal("the desktop downloaded the moved files again instead of moving them")
	}

	// A deletion on the laptop goes to the server's trash and to the
	// desktop's .coffer-trash; `coffer trash restore` brings it back to
	// both.
	if err := os.Remove(a.path("Nightingale-Plan.txt")); err != nil {
		t.Fatal(err)
	}
	if rep := a.once(t); rep.deleted != 1 {
		t.Fatalf("laptop's delete synced as %v\n%s", rep, rep.log)
	}
	if r := mustOK(t, cli(t, a.env, "trash", "ls"), "trash ls"); !strings.Contains(r.stdout, "/Ocelot-Documents/Nightingale-Plan.txt") {
		t.Fatalf("the deleted file is not in the server's trash:\n%s", r.stdout)
	}
	if rep := b.once(t); rep.deleted != 1 {
		t.Fatalf("desktop got the delete as %v\n%s", rep, rep.log)
	}
	if _, err := os.Stat(b.path("Nightingale-Plan.txt")); !os.IsNotExist(err) {
		t.Fatalf("the deleted file is still in the desktop's folder (%v)", err)
	}
	if got, err := os.ReadFile(filepath.Join(b.dir, ".coffer-trash", "Nightingale-Plan.txt")); err != nil || string(got) != contents["edit"] {
		t.Fatalf("the desktop's .coffer-trash: %q, %v", got, err)
	}
	mustOK(t, cli(t, a.env, "trash", "restore", "/Ocelot-Documents/Nightingale-Plan.txt"), "trash restore")
	if rep := a.once(t); rep.down != 1 {
		t.Fatalf("laptop got the restored file as %v\n%s", rep, rep.log)
	}
	if rep := b.once(t); rep.down != 1 {
		t.Fatalf("desktop got the restored file as %v\n%s", rep, rep.log)
	}
	sameSyncTrees(t, a, b)
	if got := b.read(t, "Nightingale-Plan.txt"); got != contents["edit"] {
		t.Fatalf("restored file on the desktop: %q", got)
	}

	// A folder deleted on the desktop goes to the trash as one, and comes
	// back whole.
	if err := os.RemoveAll(b.path("Axolotl-Empty-Folder")); err != nil {
		t.Fatal(err)
	}
	if rep := b.once(t); rep.deleted != 1 {
		t.Fatalf("desktop's folder delete synced as %v, want one delete\n%s", rep, rep.log)
	}
	if r := mustOK(t, cli(t, a.env, "trash", "ls"), "trash ls"); !strings.Contains(r.stdout, "/Ocelot-Documents/Axolotl-Empty-Folder/") {
		t.Fatalf("the deleted folder is not in the server's trash:\n%s", r.stdout)
	}
	a.once(t)
	sameSyncTrees(t, a, b)
	if got, err := os.ReadFile(filepath.Join(a.dir, ".coffer-trash", "Axolotl-Empty-Folder", "deep", "Quokka-Measurements.bin")); err != nil || string(got) != contents["data"] {
		t.Fatalf("the laptop's .coffer-trash lacks the deleted folder's file (%v)", err)
	}
	mustOK(t, cli(t, b.env, "trash", "restore", "/Ocelot-Documents/Axolotl-Empty-Folder"), "trash restore folder")
	a.once(t)
	b.once(t)
	tree = sameSyncTrees(t, a, b)
	if tree["Axolotl-Empty-Folder/deep/Quokka-Measurements.bin"] != contents["data"] {
		t.Fatalf("the restored folder is not back whole: %v", treeKeys(tree))
	}

	// Edits on both devices at once, of different files: each reaches
	// the other, nothing conflicts.
	a.write(t, "Pangolin-Notes.txt", []byte(contents["notes"]))
	b.write(t, "Kinkajou-Draft.txt", []byte(contents["draft"]))
	a.once(t)
	b.once(t)
	a.once(t)
	tree = sameSyncTrees(t, a, b)
	want := map[string]string{
		"Nightingale-Plan.txt":       contents["edit"],
		"Zebrafish-Final.md":         contents["report"],
		"docs/":                      "",
		"Axolotl-Empty-Folder/":      "",
		"Axolotl-Empty-Folder/deep/": "",
		"Axolotl-Empty-Folder/deep/Quokka-Measurements.bin": contents["data"],
		"Pangolin-Notes.txt": contents["notes"],
		"Kinkajou-Draft.txt": contents["draft"],
	}
	if len(tree) != len(want) {
		t.Fatalf("final tree %v, want %v", treeKeys(tree), treeKeys(want))
	}
	for k, v := range want {
		if tree[k] != v {
			t.Fatalf("final tree %v, want %v", treeKeys(tree), treeKeys(want))
		}
	}
	for _, d := range devs {
		if rep := d.once(t); !rep.idle() {
			t.Fatalf("%s: the last idle sync did %v\n%s", d.name, rep, rep.log)
		}
	}

	needles := append([]string{}, names...)
	for _, c := range contents {
		needles = append(needles, c[:min(len(c), 40)])
	}
	needles = append(needles, "NIGHTINGALE", "ZEBRAFISH", "QUOKKA", "PANGOLIN", "KINKAJOU", "meet at the station")
	syncZeroKnowledge(t, srv, needles)
}

// conflictRe matches the conflict copy of "plan.txt" made by the desktop.
var conflictRe = regexp.MustCompile(`^plan \(conflict from desktop \d{4}-\d{2}-\d{2} \d{4}\)\.txt$`)

// TestSyncConflicts: the same file edited on two devices before either
// synced keeps both versions on both devices, under exactly one conflict
// copy; a file edited on one device and deleted on the other keeps the
// edit, whichever syncs first.
func TestSyncConflicts(t *testing.T) {
	srv := startServer(t)
	devs := syncDevices(t, srv, "carol", "/Shared-Plans", "laptop", "desktop")
	a, b := devs[0], devs[1]
	obs := observer(t, srv, "carol")

	a.write(t, "plan.txt", []byte("v1 of the plan"))
	a.write(t, "keep-1.txt", []byte("keep one, v1"))
	a.write(t, "keep-2.txt", []byte("keep two, v1"))
	a.once(t)
	b.once(t)
	sameSyncTrees(t, a, b)

	a.write(t, "plan.txt", []byte("the laptop's edit of the plan"))
	b.write(t, "plan.txt", []byte("the desktop's edit of the plan, a longer one"))
	if rep := a.once(t); rep.up != 1 {
		t.Fatalf("laptop's edit synced as %v\n%s", rep, rep.log)
	}
	if rep := b.once(t); rep.conflicts != 1 {
		t.Fatalf("desktop's concurrent edit synced as %v, want one conflict\n%s", rep, rep.log)
	}
	a.once(t)
	for _, d := range devs {
		if rep := d.once(t); !rep.idle() {
			t.Fatalf("%s: a sync after the conflict did %v\n%s", d.name, rep, rep.log)
		}
	}
	tree := sameSyncTrees(t, a, b)
	var copies []string
	for name, content := range tree {
		if conflictRe.MatchString(name) {
			copies = append(copies, name)
			if content != "the desktop's edit of the plan, a longer one" {
				t.Fatalf("conflict copy %s holds %q", name, content)
			}
		} else if strings.Contains(name, "conflict") {
			t.Fatalf("unexpected conflict name %q", name)
		}
	}
	if len(copies) != 1 || tree["plan.txt"] != "the laptop's edit of the plan" || len(tree) != 4 {
		t.Fatalf("after the concurrent edit: %v; want plan.txt with the laptop's edit and one conflict copy with the desktop's", treeKeys(tree))
	}
	if got, want := remoteNames(t, obs, "/Shared-Plans"), sortedKeys(tree); !slices.Equal(got, want) {
		t.Fatalf("the server holds %v, the devices %v", got, want)
	}

	// Edit against delete: the edit wins, in either order of syncs.
	if err := os.Remove(a.path("keep-1.txt")); err != nil {
		t.Fatal(err)
	}
	b.write(t, "keep-1.txt", []byte("keep one, edited on the desktop"))
	a.once(t) // the delete reaches the server first
	b.once(t)
	a.once(t)

	if err := os.Remove(a.path("keep-2.txt")); err != nil {
		t.Fatal(err)
	}
	b.write(t, "keep-2.txt", []byte("keep two, edited on the desktop"))
	b.once(t) // the edit reaches the server first
	a.once(t)
	b.once(t)

	tree = sameSyncTrees(t, a, b)
	if tree["keep-1.txt"] != "keep one, edited on the desktop" || tree["keep-2.txt"] != "keep two, edited on the desktop" {
		t.Fatalf("an edit was lost to a delete: %v", treeKeys(tree))
	}
	if len(tree) != 4 {
		t.Fatalf("after edit against delete: %v", treeKeys(tree))
	}
	syncZeroKnowledge(t, srv, []string{"Shared-Plans", "plan.txt", "keep-1.txt", "laptop's edit", "desktop's edit", "edited on the desktop", "conflict from"})
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// blockCount counts the blocks in the server's data folder.
func blockCount(t *testing.T, srv *serverProc) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(srv.data, "blocks"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() && blockName.MatchString(d.Name()) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSyncKilledMidTransfer kills `coffer sync` (SIGKILL) while it
// uploads a large file, and again while another device downloads it;
// each restarted sync converges: the same tree on both devices, one file
// on the server at that path, no conflict copy, nothing lost, and no
// temporary file left.
func TestSyncKilledMidTransfer(t *testing.T) {
	srv := startServer(t)
	devs := syncDevices(t, srv, "dave", "/Big", "laptop", "desktop")
	a, b := devs[0], devs[1]
	obs := observer(t, srv, "dave")
	a.write(t, "small.txt", []byte("a small file beside the big ones"))
	a.once(t)
	b.once(t)

	const size = 128 << 20
	var name string
	var big []byte
	// The kill must land while the upload is under way: after a block
	// reached the server, before the file was committed. A later kill
	// (the machine was quick) is tried again with another file.
	for attempt := 1; ; attempt++ {
		if attempt > 6 {
			t.Fatal("no kill landed in the middle of an upload in 6 attempts")
		}
		name = fmt.Sprintf("big-%d.bin", attempt)
		big = randomBytes(uint64(800+attempt), size)
		a.write(t, name, big)
		before := blockCount(t, srv)
		p := a.start(t, "--once")
		// A third of the file's 32 blocks in: well under way.
		for blockCount(t, srv) < before+10 && !p.exited() {
			time.Sleep(2 * time.Millisecond)
		}
		p.kill(t)
		_, err := obs.Resolve(context.Background(), "/Big/"+name)
		if errors.Is(err, client.ErrNotExist) {
			t.Logf("attempt %d: killed the upload after %d new block(s)", attempt, blockCount(t, srv)-before)
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("attempt %d: the kill came after the upload finished; again", attempt)
		a.once(t)
	}
	// Restarted, it finishes the upload, once.
	if rep := a.once(t); rep.up != 1 || rep.conflicts != 0 {
		t.Fatalf("the restarted upload synced as %v\n%s", rep, rep.log)
	}
	if rep := a.once(t); !rep.idle() {
		t.Fatalf("a sync after the finished upload did %v\n%s", rep, rep.log)
	}

	// The desktop is killed while it downloads.
	for attempt := 1; ; attempt++ {
		if attempt > 6 {
			t.Fatal("no kill landed in the middle of a download in 6 attempts")
		}
		p := b.start(t, "--once")
		partial := func() bool {
			for _, f := range b.leftovers(t) {
				if info, err := os.Stat(f); err == nil && info.Size() >= size/3 {
					return true
				}
			}
			return false
		}
		for !partial() && !p.exited() {
			time.Sleep(2 * time.Millisecond)
		}
		p.kill(t)
		if _, err := os.Stat(b.path(name)); os.IsNotExist(err) {
			t.Logf("attempt %d: killed the download with %d temporary file(s)", attempt, len(b.leftovers(t)))
			break
		}
		t.Logf("attempt %d: the kill came after the download finished; again", attempt)
		b.once(t)
		name = fmt.Sprintf("big-down-%d.bin", attempt)
		big = randomBytes(uint64(900+attempt), size)
		a.write(t, name, big)
		a.once(t)
	}
	if rep := b.once(t); rep.down < 1 || rep.up != 0 || rep.conflicts != 0 {
		t.Fatalf("the restarted download synced as %v\n%s", rep, rep.log)
	}
	if left := b.leftovers(t); len(left) != 0 {
		t.Fatalf("temporary files left after the restarted sync: %v", left)
	}
	for _, d := range devs {
		if rep := d.once(t); !rep.idle() {
			t.Fatalf("%s: a sync after the restarts did %v (a re-upload, re-download or conflict)\n%s", d.name, rep, rep.log)
		}
	}
	tree := sameSyncTrees(t, a, b)
	if tree[name] != string(big) {
		t.Fatalf("%s differs after the restarts", name)
	}
	for p := range tree {
		if strings.Contains(p, "conflict") {
			t.Fatalf("a conflict copy appeared: %v", treeKeys(tree))
		}
	}
	// The server has exactly what the devices have, each path once.
	if got, want := remoteNames(t, obs, "/Big"), sortedKeys(tree); !slices.Equal(got, want) {
		t.Fatalf("the server holds %v, the devices %v", got, want)
	}
	e, err := obs.Resolve(context.Background(), "/Big/"+name)
	if err != nil {
		t.Fatal(err)
	}
	if e.Attrs.Size != size {
		t.Fatalf("the server's %s has %d bytes, want %d", name, e.Attrs.Size, size)
	}
}

// countSyncedFiles counts the regular files below dir, the sync's own left out.
func countSyncedFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() && !strings.HasPrefix(de.Name(), ".coffer-") {
			n++
		}
		return nil
	})
	return n
}

// TestSyncKilledMidManyFiles kills the sync while it uploads thousands
// of small files (committed to the server batch by batch, recorded in
// the state at the end), and while another device downloads them (put
// in place group by group): the restarted syncs send and fetch only what
// is missing, and neither makes a conflict copy or a duplicate.
func TestSyncKilledMidManyFiles(t *testing.T) {
	srv := startServer(t)
	devs := syncDevices(t, srv, "hugo", "/Many", "laptop", "desktop")
	a, b := devs[0], devs[1]
	obs := observer(t, srv, "hugo")
	const files = 3000
	for i := range files {
		a.write(t, fmt.Sprintf("d%02d/file-%04d.txt", i%30, i), []byte(fmt.Sprintf("small file %d %s", i, strings.Repeat("x", i%1500))))
	}

	before := blockCount(t, srv)
	p := a.start(t, "--once")
	for blockCount(t, srv) < before+files/3 && !p.exited() {
		time.Sleep(5 * time.Millisecond)
	}
	p.kill(t)
	onServer := 0
	for _, f := range remoteNames(t, obs, "/Many") {
		if strings.HasSuffix(f, "/") {
			onServer += len(remoteNames(t, obs, "/Many/"+strings.TrimSuffix(f, "/")))
		}
	}
	t.Logf("killed the upload with %d of %d files on the server", onServer, files)
	rep := a.once(t)
	if rep.up != files-onServer || rep.conflicts != 0 {
		t.Fatalf("the restarted upload synced as %v; want %d up (the %d not on the server yet), no conflict\n%s", rep, files-onServer, files-onServer, rep.log)
	}

	p = b.start(t, "--once")
	for countSyncedFiles(t, b.dir) < files/3 && !p.exited() {
		time.Sleep(5 * time.Millisecond)
	}
	p.kill(t)
	here := countSyncedFiles(t, b.dir)
	t.Logf("killed the download with %d of %d files in place", here, files)
	rep = b.once(t)
	if rep.up != 0 || rep.conflicts != 0 || rep.down > files-here {
		t.Fatalf("the restarted download synced as %v; want at most %d down, nothing up, no conflict\n%s", rep, files-here, rep.log)
	}
	if left := b.leftovers(t); len(left) != 0 {
		t.Fatalf("temporary files left after the restarted sync: %v", left)
	}
	for _, d := range devs {
		if rep := d.once(t); !rep.idle() {
			t.Fatalf("%s: a sync after the restarts did %v\n%s", d.name, rep, rep.log)
		}
	}
	tree := sameSyncTrees(t, a, b)
	if n := countSyncedFiles(t, b.dir); n != files {
		t.Fatalf("the desktop has %d files, want %d", n, files)
	}
	for p := range tree {
		if strings.Contains(p, "conflict") {
			t.Fatalf("a conflict copy appeared: %s", p)
		}
	}
	if got := remoteNames(t, obs, "/Many/d07"); len(got) != files/30 {
		t.Fatalf("the server's d07 holds %d names, want %d", len(got), files/30)
	}
}

// restartServer stops srv and starts a new server process on the same
// data folder and port (the devices' sessions name the server's URL).
func restartServer(t *testing.T, srv *serverProc) *serverProc {
	t.Helper()
	u, err := url.Parse(srv.url)
	if err != nil {
		t.Fatal(err)
	}
	srv.stop(t)
	return startServerAt(t, srv.data, nil, "--listen", u.Host)
}

// TestSyncWatch: with `coffer sync` (no --once) running on both devices,
// a change on one reaches the other without anything else run: the
// watcher sees the local change, the other device's long-poll of the
// events feed the remote one. Ctrl-C ends both with status 0.
func TestSyncWatch(t *testing.T) {
	srv := startServer(t)
	devs := syncDevices(t, srv, "erin", "/Live", "laptop", "desktop")
	a, b := devs[0], devs[1]
	// An hour between rescans: only fsnotify and the feed can carry the
	// changes in this test.
	// The laptop starts first: the account's first use of the drive
	// creates it.
	pa := a.start(t, "--rescan", "1h")
	pa.waitStarted(t)
	pb := b.start(t, "--rescan", "1h")
	pb.waitStarted(t)
	a.write(t, "new folder/hello.txt", []byte("hello from the laptop"))
	b.waitForContent(t, "new folder/hello.txt", "hello from the laptop", pa, pb)
	b.write(t, "new folder/hello.txt", []byte("and hello back from the desktop"))
	a.waitForContent(t, "new folder/hello.txt", "and hello back from the desktop", pa, pb)
	// A rename while both watch arrives as a rename.
	ino := inode(t, b.path("new folder/hello.txt"))
	if err := os.Rename(a.path("new folder/hello.txt"), a.path("new folder/renamed.txt")); err != nil {
		t.Fatal(err)
	}
	b.waitForContent(t, "new folder/renamed.txt", "and hello back from the desktop", pa, pb)
	waitUntil(t, "the old name goes on the desktop", func() bool {
		_, err := os.Stat(b.path("new folder/hello.txt"))
		return os.IsNotExist(err)
	}, func() string { return string(pb.err.Bytes()) })
	if got := inode(t, b.path("new folder/renamed.txt")); got != ino {
		t.Fatal("the desktop downloaded the renamed file again instead of renaming it")
	}
	pa.interrupt(t, "laptop")
	pb.interrupt(t, "desktop")
	sameSyncTrees(t, a, b)
	for _, d := range devs {
		if rep := d.once(t); !rep.idle() {
			t.Fatalf("%s: a sync after the watching ones did %v\n%s", d.name, rep, rep.log)
		}
	}
}

// TestSyncThroughServerRestart: both devices watch; the server stops
// and starts again on the same data and port; a change made after the
// restart still reaches the other device, both ways.
func TestSyncThroughServerRestart(t *testing.T) {
	srv := startServer(t)
	devs := syncDevices(t, srv, "frank", "/Restart", "laptop", "desktop")
	a, b := devs[0], devs[1]
	a.write(t, "before.txt", []byte("written before the restart"))
	a.once(t)
	b.once(t)
	pa, pb := a.start(t, "--rescan", "1h"), b.start(t, "--rescan", "1h")
	a.write(t, "during.txt", []byte("written while both watch"))
	b.waitForContent(t, "during.txt", "written while both watch", pa, pb)

	srv = restartServer(t, srv)
	a.write(t, "after.txt", []byte("written after the restart, on the laptop"))
	b.waitForContent(t, "after.txt", "written after the restart, on the laptop", pa, pb)
	b.write(t, "before.txt", []byte("edited after the restart, on the desktop"))
	a.waitForContent(t, "before.txt", "edited after the restart, on the desktop", pa, pb)

	// Down while a change is made: it goes once the server is back.
	u, _ := url.Parse(srv.url)
	srv.stop(t)
	a.write(t, "while-down.txt", []byte("written while the server was down"))
	startServerAt(t, srv.data, nil, "--listen", u.Host)
	b.waitForContent(t, "while-down.txt", "written while the server was down", pa, pb)

	pa.interrupt(t, "laptop")
	pb.interrupt(t, "desktop")
	sameSyncTrees(t, a, b)
	for _, d := range devs {
		if rep := d.once(t); !rep.idle() {
			t.Fatalf("%s: a sync after the restarts did %v\n%s", d.name, rep, rep.log)
		}
	}
}

// syncStatusJSON is one pair in `coffer sync --status --json`.
type syncStatusJSON struct {
	Local        string    `json:"local"`
	Remote       string    `json:"remote"`
	Server       string    `json:"server"`
	User         string    `json:"user"`
	LastSync     time.Time `json:"last_sync"`
	LastError    string    `json:"last_error"`
	Running      int       `json:"running"`
	Synced       int       `json:"synced"`
	Pending      *int      `json:"pending"`
	LocalChanges *int      `json:"local_changes"`
}

func syncStatus(t *testing.T, env map[string]string, extra ...string) []syncStatusJSON {
	t.Helper()
	r := mustOK(t, cli(t, env, append([]string{"sync", "--status", "--json"}, extra...)...), "sync --status --json")
	var out []syncStatusJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("sync --status --json: %v\n%s", err, r.stdout)
	}
	return out
}

// TestSyncStatusAndUsage: --status shows each pair's last sync, pending
// changes and last error, as text and as JSON; --once exits 0 when in
// step; mistakes get one clear line, not a stack trace.
func TestSyncStatusAndUsage(t *testing.T) {
	srv := startServer(t)
	devs := syncDevices(t, srv, "grace", "/Status", "laptop")
	a := devs[0]

	if r := mustOK(t, cli(t, a.env, "sync", "--status"), "status before any sync"); !strings.Contains(r.stdout, "No folder has been synced yet") {
		t.Fatalf("status before any sync:\n%s", r.stdout)
	}
	if got := syncStatus(t, a.env); len(got) != 0 {
		t.Fatalf("status --json before any sync: %+v", got)
	}

	a.write(t, "one.txt", []byte("one"))
	a.write(t, "sub/two.txt", []byte("two"))
	a.once(t)
	if rep := a.once(t); !rep.idle() {
		t.Fatalf("--once in step did %v", rep)
	}
	r := mustOK(t, cli(t, a.env, "sync", "--status"), "sync --status")
	for _, want := range []string{a.dir + " <-> /Status", "grace", "not running", "last sync:", "pending:", "0 left by the last pass, 0 local change(s)"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("sync --status lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "never") || strings.Contains(r.stdout, "last error") {
		t.Fatalf("sync --status after a good sync:\n%s", r.stdout)
	}
	st := syncStatus(t, a.env)
	if len(st) != 1 || st[0].Local != a.dir || st[0].Remote != "/Status" || st[0].User != "grace" || st[0].Server != srv.url ||
		st[0].LastSync.IsZero() || time.Since(st[0].LastSync) > time.Hour || st[0].LastError != "" ||
		st[0].Pending == nil || *st[0].Pending != 0 || st[0].LocalChanges == nil || *st[0].LocalChanges != 0 || st[0].Synced != 3 || st[0].Running != 0 {
		t.Fatalf("sync --status --json after a good sync: %s", mustJSON(st))
	}

	// A local change not yet synced shows as pending.
	a.write(t, "three.txt", []byte("three"))
	if err := os.Remove(a.path("one.txt")); err != nil {
		t.Fatal(err)
	}
	st = syncStatus(t, a.env, a.dir, "/Status")
	if len(st) != 1 || *st[0].LocalChanges != 2 {
		t.Fatalf("sync --status --json with two local changes: %s", mustJSON(st))
	}
	if r := mustOK(t, cli(t, a.env, "sync", "--status", a.dir, "/Status"), "status of the pair"); !strings.Contains(r.stdout, "2 local change(s)") {
		t.Fatalf("sync --status with two local changes:\n%s", r.stdout)
	}
	a.once(t)
	if st = syncStatus(t, a.env); *st[0].LocalChanges != 0 {
		t.Fatalf("after syncing them: %s", mustJSON(st))
	}

	// A watching sync shows as running.
	p := a.start(t)
	waitUntil(t, "status shows the sync running", func() bool {
		st := syncStatus(t, a.env)
		return len(st) == 1 && st[0].Running == p.cmd.Process.Pid
	}, func() string { return mustJSON(syncStatus(t, a.env)) + string(p.err.Bytes()) })
	if r := mustOK(t, cli(t, a.env, "sync", "--status"), "status while running"); !strings.Contains(r.stdout, fmt.Sprintf("running (pid %d)", p.cmd.Process.Pid)) {
		t.Fatalf("sync --status while running:\n%s", r.stdout)
	}
	// A second sync of the same pair is refused while one runs.
	r = mustFail(t, cli(t, a.env, a.syncArgs("--once")...), 1, "a second sync of the pair")
	oneLine(t, r, "a second sync of the pair")
	p.interrupt(t, "watching sync")

	// Mistakes: a clear line each, no stack trace.
	mustFail(t, cli(t, a.env, "sync", a.dir), 2, "sync with one argument")
	mustFail(t, cli(t, a.env, "sync", "--status", a.dir), 2, "status with one argument")
	missing := filepath.Join(t.TempDir(), "no-such-folder")
	r = mustFail(t, cli(t, a.env, "sync", "--once", missing, "/Status"), 1, "sync of a missing folder")
	oneLine(t, r, "sync of a missing folder")
	if !strings.Contains(r.stderr, "no-such-folder") {
		t.Fatalf("the error does not name the missing folder: %q", r.stderr)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("sync created the missing local folder")
	}
	notDir := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustFail(t, cli(t, a.env, "sync", "--once", notDir, "/Status"), 1, "sync of a local file")
	oneLine(t, r, "sync of a local file")
	mustOK(t, cli(t, a.env, "put", "-q", writeFile(t, "remote-file.txt", []byte("a file, not a folder")), "/remote-file.txt"), "put")
	other := filepath.Join(t.TempDir(), "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	r = mustFail(t, cli(t, a.env, "sync", "--once", other, "/remote-file.txt"), 1, "sync with a remote file")
	oneLine(t, r, "sync with a remote file")
	if !strings.Contains(r.stderr, "/remote-file.txt") || !strings.Contains(r.stderr, "folder") {
		t.Fatalf("the error does not say the remote path is a file: %q", r.stderr)
	}
	r = mustFail(t, cli(t, a.env, "sync", "--once", other, "relative/path"), 1, "sync with a relative remote path")
	oneLine(t, r, "sync with a relative remote path")
	// The failed pass is the pair's last error.
	var failed *syncStatusJSON
	all := syncStatus(t, a.env)
	for i := range all {
		if all[i].Remote == "/remote-file.txt" {
			failed = &all[i]
		}
	}
	if failed == nil || !strings.Contains(failed.LastError, "/remote-file.txt") || !failed.LastSync.IsZero() {
		t.Fatalf("the failed pair's status: %s", mustJSON(failed))
	}
	if r := mustOK(t, cli(t, a.env, "sync", "--status", other, "/remote-file.txt"), "status of the failed pair"); !strings.Contains(r.stdout, "last error:") || !strings.Contains(r.stdout, "never") {
		t.Fatalf("sync --status of the failed pair:\n%s", r.stdout)
	}
	r = mustFail(t, cli(t, a.env, "sync", "--status", other, "/never-synced"), 1, "status of a pair never synced")
	oneLine(t, r, "status of a pair never synced")
	// Not logged in.
	r = mustFail(t, cli(t, map[string]string{"COFFER_CONFIG_DIR": t.TempDir()}, "sync", "--once", other, "/x"), 1, "sync without a session")
	oneLine(t, r, "sync without a session")
}

func mustJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// TestSyncSharedFolder: alice syncs her team folder and shares it with bob
// as an editor; bob syncs it from /shared with the CLI. Edits and new
// files go both ways; carol, a viewer, is refused with a clear message.
func TestSyncSharedFolder(t *testing.T) {
	srv := startServer(t)
	alice := syncDevices(t, srv, "alice", "/team", "alice-laptop")[0]
	bob := syncDevices(t, srv, "bob", "/shared/alice/team", "bob-laptop")[0]
	carol := syncDevices(t, srv, "carol", "/shared/alice/team", "carol-laptop")[0]
	alice.write(t, "plan.txt", []byte("alice's plan"))
	alice.once(t)
	mustOK(t, cli(t, alice.env, "share", "add", "/team", "bob", "--role", "editor"), "share with bob")
	mustOK(t, cli(t, alice.env, "share", "add", "/team", "carol", "--role", "viewer"), "share with carol")
	for _, d := range []*syncDevice{bob, carol} {
		var items []map[string]any
		r := mustOK(t, cli(t, d.env, "shared", "--json"), d.name+": shared")
		if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) != 1 {
			t.Fatalf("%s: shared --json: %v\n%s", d.name, err, r.stdout)
		}
		mustOK(t, cli(t, d.env, "shared", "accept", items[0]["id"].(string)), d.name+": accept")
	}

	if rep := bob.once(t); rep.down != 1 {
		t.Fatalf("bob's first sync: %v", rep)
	}
	bob.write(t, "plan.txt", []byte("bob's edit"))
	bob.write(t, "notes/bob.txt", []byte("from bob"))
	bob.once(t)
	alice.once(t)
	sameSyncTrees(t, alice, bob)
	if got := alice.read(t, "plan.txt"); got != "bob's edit" {
		t.Fatalf("alice's plan.txt after bob's edit: %q", got)
	}
	alice.write(t, "notes/alice.txt", []byte("from alice"))
	alice.once(t)
	bob.once(t)
	sameSyncTrees(t, alice, bob)

	r := cli(t, carol.env, carol.syncArgs("--once")...)
	if r.code != 1 || !strings.Contains(r.stderr, "viewer") || !strings.Contains(r.stderr, "editor role") {
		t.Fatalf("carol's sync as a viewer: exit %d, %q; want 1 and a message naming the roles", r.code, r.stderr)
	}
}
