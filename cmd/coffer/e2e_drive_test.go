package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIDriveJourney drives the file commands of the real binary against
// a real server, then searches everything the server wrote for the names
// and contents it was given.
func TestCLIDriveJourney(t *testing.T) {
	srv := startServer(t)
	env := map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": "alice", "COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "cfg"), "COFFER_PASSWORD": "drive journey pw"}
	mustOK(t, cli(t, env, "signup"), "signup")

	// Distinctive names and contents, to search for afterwards.
	secretNames := []string{"Secret-Project-Nightingale", "Zebrafish-Quarterly-Report-7731.txt", "Ünïcödé-Ledger-Ω.csv"}
	marker := []byte("UNIQUE-CONTENT-MARKER-93f1c0ffee")
	local := t.TempDir()
	src := filepath.Join(local, secretNames[0])
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	big := make([]byte, 6<<20)
	rand.Read(big)
	copy(big, marker)
	files := map[string][]byte{
		secretNames[1]:                         append([]byte("quarterly: "), marker...),
		filepath.Join("sub", secretNames[2]):   bytes.Repeat(marker, 100),
		filepath.Join("sub", "big.bin"):        big,
		filepath.Join("sub", "empty.txt"):      {},
		filepath.Join("sub", "deeper", "x.md"): []byte("# x\n"),
	}
	for rel, data := range files {
		p := filepath.Join(src, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	os.MkdirAll(filepath.Join(src, "emptydir"), 0o755)

	mustOK(t, cli(t, env, "mkdir", "-p", "/backup/2024"), "mkdir -p")
	mustFail(t, cli(t, env, "mkdir", "/backup"), 1, "mkdir of an existing folder")
	mustOK(t, cli(t, env, "put", src, "/backup/2024"), "put folder")
	mustFail(t, cli(t, env, "put", filepath.Join(src, secretNames[1]), "/backup/2024/"+secretNames[0]), 1, "put over an existing file")

	r := mustOK(t, cli(t, env, "ls", "-l", "/backup/2024/"+secretNames[0]+"/sub"), "ls -l")
	for _, want := range []string{secretNames[2], "big.bin", "6291456", "2021-03-0", "alice", "deeper/"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("ls -l lacks %q:\n%s", want, r.stdout)
		}
	}
	var listing []map[string]any
	if err := json.Unmarshal([]byte(mustOK(t, cli(t, env, "ls", "--json", "/backup/2024/"+secretNames[0]), "ls --json").stdout), &listing); err != nil || len(listing) != 3 {
		t.Fatalf("ls --json: %v %v", err, listing)
	}

	// Download and compare everything, mtimes included.
	out := t.TempDir()
	mustOK(t, cli(t, env, "get", "/backup/2024/"+secretNames[0], out), "get folder")
	for rel, data := range files {
		p := filepath.Join(out, secretNames[0], rel)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("downloaded %s differs (%v)", rel, err)
		}
		if st, _ := os.Stat(p); !st.ModTime().Equal(mtime) {
			t.Fatalf("%s: mtime %v", rel, st.ModTime())
		}
	}
	if st, err := os.Stat(filepath.Join(out, secretNames[0], "emptydir")); err != nil || !st.IsDir() {
		t.Fatal("empty folder missing")
	}
	if r := mustOK(t, cli(t, env, "cat", "/backup/2024/"+secretNames[0]+"/"+secretNames[1]), "cat"); r.stdout != "quarterly: "+string(marker) {
		t.Fatalf("cat: %q", r.stdout)
	}

	// Versions, moves, trash.
	v2 := filepath.Join(local, "v2.txt")
	os.WriteFile(v2, []byte("version two"), 0o644)
	target := "/backup/2024/" + secretNames[0] + "/" + secretNames[1]
	mustOK(t, cli(t, env, "put", "--overwrite", v2, target), "put --overwrite")
	r = mustOK(t, cli(t, env, "versions", target), "versions")
	if !strings.Contains(r.stdout, "2 (current)") || !strings.Contains(r.stdout, "\n1 ") {
		t.Fatalf("versions:\n%s", r.stdout)
	}
	mustOK(t, cli(t, env, "restore-version", target, "1"), "restore-version")
	if r := mustOK(t, cli(t, env, "cat", target), "cat"); !strings.Contains(r.stdout, string(marker)) {
		t.Fatal("restore-version did not bring back version 1")
	}
	mustFail(t, cli(t, env, "restore-version", target, "x"), 2, "restore-version with a bad number")
	mustOK(t, cli(t, env, "mv", target, "/backup/moved.txt"), "mv across folders")
	mustOK(t, cli(t, env, "mv", "/backup/moved.txt", "/backup/renamed.txt"), "rename")
	mustFail(t, cli(t, env, "cat", target), 1, "cat of a moved file")
	mustFail(t, cli(t, env, "rm", "/backup/2024"), 1, "rm of a folder without -r")
	mustOK(t, cli(t, env, "rm", "-r", "/backup/2024"), "rm -r")
	mustFail(t, cli(t, env, "ls", "/backup/2024"), 1, "ls of a trashed folder")
	if r := mustOK(t, cli(t, env, "trash", "ls"), "trash ls"); !strings.Contains(r.stdout, "/backup/2024/") {
		t.Fatalf("trash ls:\n%s", r.stdout)
	}
	mustOK(t, cli(t, env, "trash", "restore", "/backup/2024"), "trash restore")
	mustOK(t, cli(t, env, "ls", "/backup/2024/"+secretNames[0]+"/sub/deeper"), "ls after restore")
	mustOK(t, cli(t, env, "rm", "/backup/renamed.txt"), "rm file")
	if r := mustOK(t, cli(t, env, "trash", "empty"), "trash empty"); !strings.Contains(r.stdout, "Deleted 1") {
		t.Fatalf("trash empty: %s", r.stdout)
	}
	mustFail(t, cli(t, env, "ls", "/no/such/folder"), 1, "ls of a missing path")
	mustFail(t, cli(t, env, "ls", "relative"), 1, "relative path")
	mustFail(t, cli(t, env, "mkdir", "/a/../b"), 1, "dot-dot name")
	srv.stop(t)

	// Zero knowledge: no name and no content in anything the server wrote.
	haystacks := serverHaystacks(srv)
	var blocks int
	for name := range haystacks {
		if strings.Contains(name, string(filepath.Separator)+"blocks"+string(filepath.Separator)) {
			blocks++
		}
	}
	if blocks < 3 {
		t.Fatalf("found only %d stored blocks; the search is not looking where blocks are", blocks)
	}
	needles := [][]byte{marker, []byte("quarterly"), big[len(big)/2 : len(big)/2+64]}
	for _, n := range secretNames {
		needles = append(needles, []byte(n), []byte(strings.ToLower(n)))
	}
	assertAbsent(t, haystacks, needles)
}

// serverHaystacks returns everything a stopped server wrote: its log and
// every file of its data folder (database, blocks, temp files).
func serverHaystacks(srv *serverProc) map[string][]byte {
	haystacks := map[string][]byte{"server log": srv.log.Bytes()}
	filepath.WalkDir(srv.data, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			haystacks[path] = b
		}
		return nil
	})
	return haystacks
}

// assertAbsent fails the test for each needle found in a haystack.
func assertAbsent(t *testing.T, haystacks map[string][]byte, needles [][]byte) {
	t.Helper()
	for _, n := range needles {
		for name, hay := range haystacks {
			if bytes.Contains(hay, n) {
				t.Errorf("%q appears in %s", n, name)
			}
		}
	}
}
