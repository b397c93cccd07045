package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIShareJourney: three accounts share folders each way, with each
// role, through the real binary and a real server; the role matrix holds;
// a revoke takes effect; and nothing the server wrote holds a shared name
// or content.
func TestCLIShareJourney(t *testing.T) {
	srv := startServer(t)
	envs := map[string]map[string]string{}
	for _, u := range []string{"alice", "bob", "carol"} {
		envs[u] = map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": u, "COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), u), "COFFER_PASSWORD": "share journey pw " + u}
		mustOK(t, cli(t, envs[u], "signup"), "signup "+u)
	}
	alice, bob, carol := envs["alice"], envs["bob"], envs["carol"]
	marker := "SHARED-CONTENT-MARKER-5be3a1"
	secret := []string{"Falcon-Expedition-Plans", "Heron-Budget-Draft.txt", "Kestrel-Dropbox", "Osprey-Upload.txt", "Bob-Owl-Notes"}
	local := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(local, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	mustOK(t, cli(t, alice, "mkdir", "/"+secret[0]), "mkdir")
	mustOK(t, cli(t, alice, "put", write(secret[1], marker+" budget"), "/"+secret[0]+"/"), "put")
	r := mustOK(t, cli(t, alice, "share", "add", "/"+secret[0], "bob", "--role", "viewer"), "share add viewer")
	if !strings.Contains(r.stderr, "Pinned the key of bob") {
		t.Fatalf("no first-use notice: %q", r.stderr)
	}
	mustOK(t, cli(t, alice, "share", "add", "/"+secret[0], "carol", "--role", "editor"), "share add editor")
	mustOK(t, cli(t, alice, "mkdir", "/"+secret[2]), "mkdir drop")
	mustOK(t, cli(t, alice, "share", "add", "/"+secret[2], "bob", "--role", "uploader"), "share add uploader")
	mustFail(t, cli(t, alice, "share", "add", "/"+secret[0], "bob", "--role", "owner"), 2, "unknown role")
	mustFail(t, cli(t, alice, "share", "add", "/nope", "bob", "--role", "viewer"), 1, "share a missing path")
	mustFail(t, cli(t, alice, "share", "add", "/"+secret[0], "nobody", "--role", "viewer"), 1, "share with a missing user")

	// Bob sees both shares, pending; nothing is in his tree yet.
	var items []map[string]any
	r = mustOK(t, cli(t, bob, "shared", "--json"), "shared --json")
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) != 2 {
		t.Fatalf("shared --json: %v\n%s", err, r.stdout)
	}
	mustFail(t, cli(t, bob, "ls", "/shared/alice/"+secret[0]), 1, "ls before accepting")
	for _, it := range items {
		if it["state"] != "pending" || it["owner"] != "alice" {
			t.Fatalf("item: %v", it)
		}
		// IDs are hex: one starting with "-" would be read as a flag.
		if id, _ := it["id"].(string); len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("share ID %q is not 32 hex digits", id)
		}
		mustOK(t, cli(t, bob, "shared", "accept", it["id"].(string)), "accept")
	}
	r = mustOK(t, cli(t, carol, "shared", "--json"), "carol shared")
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) != 1 {
		t.Fatalf("carol's shared: %v\n%s", err, r.stdout)
	}
	mustOK(t, cli(t, carol, "shared", "accept", items[0]["id"].(string)), "carol accepts")

	// Viewer: reads, changes nothing.
	shared := "/shared/alice/" + secret[0]
	r = mustOK(t, cli(t, bob, "ls", "/shared"), "ls /shared")
	if r.stdout != "alice/\n" {
		t.Fatalf("ls /shared: %q", r.stdout)
	}
	r = mustOK(t, cli(t, bob, "ls", "/shared/alice"), "ls /shared/alice")
	if !strings.Contains(r.stdout, secret[0]+"/") || !strings.Contains(r.stdout, secret[2]+"/") {
		t.Fatalf("ls /shared/alice: %q", r.stdout)
	}
	got := filepath.Join(t.TempDir(), "got")
	mustOK(t, cli(t, bob, "get", shared, got), "viewer gets the folder")
	if b, err := os.ReadFile(filepath.Join(got, secret[1])); err != nil || string(b) != marker+" budget" {
		t.Fatalf("viewer's download: %q, %v", b, err)
	}
	mustFail(t, cli(t, bob, "mkdir", "/shared/x"), 1, "mkdir in /shared")
	mustFail(t, cli(t, alice, "mkdir", "/shared"), 1, "mkdir /shared at the root")
	r = mustOK(t, cli(t, bob, "cat", shared+"/"+secret[1]), "viewer cat")
	if r.stdout != marker+" budget" {
		t.Fatalf("viewer reads %q", r.stdout)
	}
	r = mustFail(t, cli(t, bob, "put", write("x.txt", "x"), shared+"/"), 1, "viewer put")
	if !strings.Contains(r.stderr, "viewer") {
		t.Fatalf("viewer put: %q", r.stderr)
	}
	mustFail(t, cli(t, bob, "rm", shared+"/"+secret[1]), 1, "viewer rm")
	mustFail(t, cli(t, bob, "share", "add", shared, "carol", "--role", "viewer"), 1, "viewer shares further")

	// Editor: writes; everyone sees it, authored by carol.
	mustOK(t, cli(t, carol, "put", write("carol.txt", marker+" from carol"), shared+"/"), "editor put")
	mustOK(t, cli(t, carol, "mv", shared+"/carol.txt", shared+"/carol-renamed.txt"), "editor mv")
	r = mustOK(t, cli(t, alice, "ls", "-l", "/"+secret[0]), "owner ls -l")
	if !strings.Contains(r.stdout, "carol-renamed.txt") || !strings.Contains(r.stdout, "carol") {
		t.Fatalf("owner's listing:\n%s", r.stdout)
	}
	r = mustOK(t, cli(t, bob, "cat", shared+"/carol-renamed.txt"), "viewer reads the editor's file")
	if r.stdout != marker+" from carol" {
		t.Fatalf("viewer reads %q", r.stdout)
	}

	// Uploader: adds, cannot list; the owner's listing files the upload.
	drop := "/shared/alice/" + secret[2]
	mustOK(t, cli(t, bob, "put", write(secret[3], marker+" dropped"), drop+"/"), "uploader put")
	r = mustFail(t, cli(t, bob, "ls", drop), 1, "uploader ls")
	if !strings.Contains(r.stderr, "uploader") {
		t.Fatalf("uploader ls: %q", r.stderr)
	}
	r = mustOK(t, cli(t, alice, "cat", "/"+secret[2]+"/"+secret[3]), "owner reads the upload")
	if r.stdout != marker+" dropped" {
		t.Fatalf("owner reads %q", r.stdout)
	}

	// The other way round: bob shares with alice as an editor.
	mustOK(t, cli(t, bob, "mkdir", "/"+secret[4]), "bob mkdir")
	mustOK(t, cli(t, bob, "share", "add", "/"+secret[4], "alice", "--role", "editor"), "bob shares")
	r = mustOK(t, cli(t, alice, "shared", "--json"), "alice shared")
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) != 1 {
		t.Fatalf("alice's shared: %v\n%s", err, r.stdout)
	}
	mustOK(t, cli(t, alice, "shared", "accept", items[0]["id"].(string)), "alice accepts")
	mustOK(t, cli(t, alice, "put", write("a.txt", marker+" from alice"), "/shared/bob/"+secret[4]+"/"), "alice writes to bob's")
	r = mustOK(t, cli(t, bob, "cat", "/"+secret[4]+"/a.txt"), "bob reads alice's file")
	if r.stdout != marker+" from alice" {
		t.Fatalf("bob reads %q", r.stdout)
	}

	// share ls, then a revoke that takes effect at once.
	r = mustOK(t, cli(t, alice, "share", "ls"), "share ls")
	for _, want := range []string{secret[0], "bob", "viewer", "carol", "editor", "accepted", secret[2], "uploader"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("share ls lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustOK(t, cli(t, alice, "share", "rm", "--rotate", "/"+secret[0], "carol"), "share rm --rotate")
	if !strings.Contains(r.stdout, "Keys rotated") {
		t.Fatalf("share rm --rotate: %q", r.stdout)
	}
	mustFail(t, cli(t, carol, "ls", shared), 1, "revoked editor ls")
	r = mustOK(t, cli(t, bob, "ls", "-l", shared), "viewer ls after the revoke")
	if !strings.Contains(r.stdout, "carol-renamed.txt") {
		t.Fatalf("what carol wrote is gone:\n%s", r.stdout)
	}
	r = mustOK(t, cli(t, bob, "cat", shared+"/"+secret[1]), "viewer reads after the rotation")
	if r.stdout != marker+" budget" {
		t.Fatalf("viewer reads %q after the rotation", r.stdout)
	}
	r = mustFail(t, cli(t, bob, "shared", "decline", items[0]["id"].(string)), 1, "the owner declines their own share")
	if !strings.Contains(r.stderr, "nothing is shared with you under ID") {
		t.Fatalf("the owner declines their own share: %q", r.stderr)
	}
	srv.stop(t)

	// Zero knowledge: no shared name or content in anything the server wrote.
	haystacks := serverHaystacks(srv)
	if len(haystacks) < 5 {
		t.Fatalf("the search found only %d files to look in", len(haystacks))
	}
	var needles [][]byte
	for _, n := range append(secret, marker, "carol-renamed") {
		needles = append(needles, []byte(n))
	}
	assertAbsent(t, haystacks, needles)
}
