package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLILinkJourney: an owner makes every kind of link from the CLI;
// someone with no account and no config downloads through them with
// `coffer get URL` and uploads into a file request with `coffer put FILE
// URL`; the owner receives the uploads; expired, used-up and revoked
// links refuse in words; and nothing the server wrote holds a link
// secret, a password, a name or content.
func TestCLILinkJourney(t *testing.T) {
	srv := startServer(t)
	alice := map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": "alice", "COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "alice"), "COFFER_PASSWORD": "link journey pw alice"}
	mustOK(t, cli(t, alice, "signup"), "signup")
	// A stranger: no server, no account, no config of its own.
	stranger := map[string]string{"COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "nobody")}
	marker := "LINK-CONTENT-MARKER-9f27c4"
	names := []string{"Peregrine-Report.txt", "Merlin-Folder", "Goshawk-Inner.bin", "Harrier-Requests", "Kite-Dropped.txt", "Shrike-Second.txt"}
	linkPassword := "Link-Pass-Phrase-7731"
	local := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(local, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	report := []byte(marker + " report")
	inner := bytes.Repeat([]byte(marker+" inner "), 700000) // several blocks
	mustOK(t, cli(t, alice, "put", write(names[0], report), "/"), "put report")
	mustOK(t, cli(t, alice, "mkdir", "/"+names[1]), "mkdir")
	mustOK(t, cli(t, alice, "put", write(names[2], inner), "/"+names[1]+"/"), "put inner")
	mustOK(t, cli(t, alice, "mkdir", "/"+names[3]), "mkdir requests")

	create := func(args ...string) string {
		t.Helper()
		r := mustOK(t, cli(t, alice, append([]string{"link", "create"}, args...)...), "link create "+strings.Join(args, " "))
		u := strings.TrimSpace(r.stdout)
		if !strings.HasPrefix(u, srv.url+"/s/") || !strings.Contains(u, "#") {
			t.Fatalf("link create printed %q", r.stdout)
		}
		if frag := u[strings.Index(u, "#")+1:]; len(frag) != 43 {
			t.Fatalf("secret %q is not 43 base64url characters", frag)
		}
		return u
	}
	fileURL := create("/" + names[0])
	folderURL := create("/" + names[1])
	withPW := map[string]string{"COFFER_LINK_PASSWORD": linkPassword}
	for k, v := range alice {
		withPW[k] = v
	}
	r := mustOK(t, cli(t, withPW, "link", "create", "/"+names[0], "--password"), "link create --password")
	pwURL := strings.TrimSpace(r.stdout)
	onceURL := create("/"+names[0], "--max-downloads", "1")
	shortURL := create("/"+names[0], "--expires", "3s")
	revokedURL := create("/" + names[0])
	uploadURL := create("/"+names[3], "--upload-only", "--max-files", "2")
	secrets := []string{linkPassword}
	for _, u := range []string{fileURL, folderURL, pwURL, onceURL, shortURL, revokedURL, uploadURL} {
		secrets = append(secrets, u[strings.Index(u, "#")+1:])
	}

	// A file link and a folder link, with no account.
	out := t.TempDir()
	mustOK(t, cli(t, stranger, "get", fileURL, filepath.Join(out, "a.txt")), "get file link")
	mustEqualFile(t, filepath.Join(out, "a.txt"), report)
	mustOK(t, cli(t, stranger, "get", folderURL, out), "get folder link")
	mustEqualFile(t, filepath.Join(out, names[1], names[2]), inner)

	// A password: refused without it and with a wrong one, then opened.
	mustFail(t, cli(t, stranger, "get", pwURL, filepath.Join(out, "p1")), 1, "password link without password")
	r = mustFail(t, cli(t, map[string]string{"COFFER_CONFIG_DIR": stranger["COFFER_CONFIG_DIR"], "COFFER_LINK_PASSWORD": "wrong"}, "get", pwURL, filepath.Join(out, "p1")), 1, "wrong link password")
	if !strings.Contains(r.stderr, "wrong link password") {
		t.Fatalf("wrong password: %q", r.stderr)
	}
	mustOK(t, cli(t, map[string]string{"COFFER_CONFIG_DIR": stranger["COFFER_CONFIG_DIR"], "COFFER_LINK_PASSWORD": linkPassword}, "get", pwURL, filepath.Join(out, "p2")), "right link password")
	mustEqualFile(t, filepath.Join(out, "p2"), report)

	// One download, then used up.
	mustOK(t, cli(t, stranger, "get", onceURL, filepath.Join(out, "once")), "first download")
	r = mustFail(t, cli(t, stranger, "get", onceURL, filepath.Join(out, "twice")), 1, "second download")
	if !strings.Contains(r.stderr, "download limit") {
		t.Fatalf("used-up link: %q", r.stderr)
	}
	// Revoked.
	var links []map[string]any
	r = mustOK(t, cli(t, alice, "link", "ls", "--json"), "link ls")
	if err := json.Unmarshal([]byte(r.stdout), &links); err != nil || len(links) != 7 {
		t.Fatalf("link ls --json: %v\n%s", err, r.stdout)
	}
	var revokedID string
	for _, l := range links {
		if l["url"] == revokedURL {
			revokedID = l["id"].(string)
		}
		if l["url"] == pwURL && l["password"] != true {
			t.Fatalf("password link listed without password: %v", l)
		}
		if l["url"] == onceURL && (l["downloads"] != float64(1) || l["state"] != "exhausted") {
			t.Fatalf("used-up link listed as %v", l)
		}
		if l["url"] == fileURL && l["path"] != "/"+names[0] {
			t.Fatalf("file link listed as %v", l)
		}
	}
	if revokedID == "" {
		t.Fatalf("link ls does not show the URL again: %s", r.stdout)
	}
	mustOK(t, cli(t, alice, "link", "rm", revokedID), "link rm")
	r = mustFail(t, cli(t, stranger, "get", revokedURL, filepath.Join(out, "rev")), 1, "revoked link")
	if !strings.Contains(r.stderr, "turned off") {
		t.Fatalf("revoked link: %q", r.stderr)
	}
	// Expired.
	time.Sleep(4 * time.Second)
	r = mustFail(t, cli(t, stranger, "get", shortURL, filepath.Join(out, "exp")), 1, "expired link")
	if !strings.Contains(r.stderr, "expired") {
		t.Fatalf("expired link: %q", r.stderr)
	}
	for _, p := range []string{"rev", "exp", "twice", "p1"} {
		if _, err := os.Stat(filepath.Join(out, p)); err == nil {
			t.Fatalf("a refused link left %s behind", p)
		}
	}

	// A file request: a stranger uploads two files, sees nothing, and the
	// owner receives them, shown as anonymous.
	kite := []byte(marker + " dropped by a stranger")
	shrike := bytes.Repeat([]byte(marker+" second "), 600000)
	mustOK(t, cli(t, stranger, "put", write(names[4], kite), write(names[5], shrike), uploadURL), "put into file request")
	mustFail(t, cli(t, stranger, "get", uploadURL, filepath.Join(out, "peek")), 1, "download from a file request")
	r = mustFail(t, cli(t, stranger, "put", write("third.txt", []byte("3")), uploadURL), 1, "third file past --max-files 2")
	if !strings.Contains(r.stderr, "at most 2 files") {
		t.Fatalf("past --max-files: %q", r.stderr)
	}
	mustFail(t, cli(t, stranger, "get", fileURL+"x", filepath.Join(out, "bad")), 1, "a mangled URL")
	r = mustOK(t, cli(t, alice, "ls", "-l", "/"+names[3]), "owner lists the requests")
	if !strings.Contains(r.stdout, names[4]) || !strings.Contains(r.stdout, names[5]) || strings.Count(r.stdout, "anonymous (link ") != 2 {
		t.Fatalf("owner's listing of the file request: %q", r.stdout)
	}
	got := t.TempDir()
	mustOK(t, cli(t, alice, "get", "/"+names[3], got), "owner downloads the requests")
	mustEqualFile(t, filepath.Join(got, names[3], names[4]), kite)
	mustEqualFile(t, filepath.Join(got, names[3], names[5]), shrike)

	srv.stop(t)
	needles := [][]byte{[]byte(marker)}
	for _, n := range names {
		needles = append(needles, []byte(n))
	}
	for i, s := range secrets {
		needles = append(needles, encodings([]byte(s))...)
		if i > 0 { // a fragment: the raw secret too
			raw, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			needles = append(needles, encodings(raw)...)
		}
	}
	assertAbsent(t, serverHaystacks(srv), needles)
}

func mustEqualFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d uploaded", path, len(got), len(want))
	}
}
