package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta/postgres/pgtest"
)

// TestMigrateToPostgres: a deployment on the embedded SQLite database,
// with two accounts, files and folders, a share and links, is stopped,
// moved to PostgreSQL with `coffer admin migrate`, and started again on
// the same --data with --db: logins, sessions, listings, contents, the
// share and the links all carry over, new accounts and uploads work, and
// the operator commands run against PostgreSQL. In CI a missing
// PostgreSQL fails the test (pgtest).
func TestMigrateToPostgres(t *testing.T) {
	dbURL := pgtest.URL(t)
	// The test server trusts local connections, so a password in the
	// URL is accepted and ignored: it must never be printed.
	const dbPassword = "Migrate-DB-Password-4471"
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	dbURL = u.String()

	// The source is SQLite whatever COFFER_TEST_DB says.
	data := filepath.Join(t.TempDir(), "data")
	srv := startServerAt(t, data, nil, "--db", "sqlite://"+filepath.Join(data, "meta.db"))
	envs := map[string]map[string]string{}
	for _, name := range []string{"alice", "bob"} {
		envs[name] = map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": name,
			"COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), name), "COFFER_PASSWORD": "migrate journey pw " + name}
		mustOK(t, cli(t, envs[name], "signup"), "signup "+name)
	}
	alice, bob := envs["alice"], envs["bob"]

	local := t.TempDir()
	big := make([]byte, 9<<20) // several blocks
	rand.Read(big)
	files := map[string][]byte{
		"Projects/plan.txt":          []byte("the plan, before the migration"),
		"Projects/big.bin":           big,
		"Projects/deep/er/notes.md":  []byte("# notes\n"),
		"Projects/deep/empty.txt":    {},
		"Photos/2024/beach.jpg":      bytes.Repeat([]byte("jpeg"), 5000),
		"Photos/2024/summer/sun.raw": bytes.Repeat([]byte{0, 0xff}, 70000),
	}
	for rel, data := range files {
		p := filepath.Join(local, "alice", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustOK(t, cli(t, alice, "put", filepath.Join(local, "alice", "Projects"), "/"), "put Projects")
	mustOK(t, cli(t, alice, "put", filepath.Join(local, "alice", "Photos"), "/"), "put Photos")
	mustOK(t, cli(t, alice, "mkdir", "/Empty Folder"), "mkdir")
	bobFile := filepath.Join(local, "bob.txt")
	if err := os.WriteFile(bobFile, []byte("bob's own file"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustOK(t, cli(t, bob, "put", bobFile, "/"), "bob put")
	// A file deleted: its version lives on in the trash.
	mustOK(t, cli(t, alice, "put", bobFile, "/Projects/"), "put a file to delete")
	mustOK(t, cli(t, alice, "rm", "/Projects/bob.txt"), "rm")

	// Alice shares Projects with bob, who accepts.
	mustOK(t, cli(t, alice, "share", "add", "/Projects", "bob", "--role", "viewer"), "share add")
	var items []map[string]any
	if err := json.Unmarshal([]byte(mustOK(t, cli(t, bob, "shared", "--json"), "shared").stdout), &items); err != nil || len(items) != 1 {
		t.Fatalf("bob's shared: %v %v", err, items)
	}
	mustOK(t, cli(t, bob, "shared", "accept", items[0]["id"].(string)), "accept")

	// Links: a file with a password, a folder without.
	linkPassword := "Migrate-Link-Pass-9025"
	withPW := map[string]string{"COFFER_LINK_PASSWORD": linkPassword}
	for k, v := range alice {
		withPW[k] = v
	}
	pwLink := strings.TrimSpace(mustOK(t, cli(t, withPW, "link", "create", "/Projects/plan.txt", "--password"), "link create --password").stdout)
	folderLink := strings.TrimSpace(mustOK(t, cli(t, alice, "link", "create", "/Photos"), "link create").stdout)
	stranger := map[string]string{"COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "stranger"), "COFFER_LINK_PASSWORD": linkPassword}
	mustOK(t, cli(t, stranger, "get", pwLink, filepath.Join(t.TempDir(), "before")), "link before the migration")

	// What each account sees, to compare after the move.
	views := [][]string{
		{"alice", "ls", "--json", "/"},
		{"alice", "ls", "--json", "/Projects"},
		{"alice", "ls", "--json", "/Projects/deep"},
		{"alice", "ls", "--json", "/Photos/2024"},
		{"alice", "trash", "--json"},
		{"alice", "link", "ls", "--json"},
		{"alice", "share", "ls", "--json"},
		{"bob", "ls", "--json", "/"},
		{"bob", "shared", "--json"},
		{"bob", "ls", "--json", "/shared/alice/Projects"},
	}
	look := func(what string) map[string]string {
		out := map[string]string{}
		for _, v := range views {
			r := mustOK(t, cli(t, envs[v[0]], v[1:]...), what+": "+strings.Join(v, " "))
			out[strings.Join(v, " ")] = r.stdout
		}
		return out
	}
	before := look("before")
	hostPort := strings.TrimPrefix(strings.TrimPrefix(srv.url, "http://"), "https://")
	srv.stop(t)

	metaDB := filepath.Join(srv.data, "meta.db")
	retired := metaDB + ".migrated"
	blocksBefore := countFiles(t, filepath.Join(srv.data, "blocks"))

	// The move. --from defaults to the embedded database of --data.
	r := mustOK(t, cli(t, nil, "admin", "migrate", "--data", srv.data, "--to", dbURL), "admin migrate")
	for _, want := range []string{"users", "nodes", "links", "share_members", "revisions", "block_refs",
		"Checked every table's rows, contents and counters against the source, and committed",
		"Renamed " + metaDB + " to " + retired + ".", "Start the servers, and run every admin command, with --db"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("migrate output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "users                      2 rows copied") {
		t.Errorf("migrate output does not count 2 accounts:\n%s", r.stdout)
	}
	// The counts come before the check, labelled as copied only.
	if strings.Index(r.stdout, "rows copied") > strings.Index(r.stdout, "Checked every table") {
		t.Errorf("migrate output:\n%s", r.stdout)
	}
	// The source is renamed, -wal and -shm with it: nothing run without
	// --db finds the stale metadata any more.
	for _, gone := range []string{metaDB, metaDB + "-wal", metaDB + "-shm"} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s after the migration: %v, want it renamed", gone, err)
		}
	}
	if _, err := os.Stat(retired); err != nil {
		t.Fatalf("the renamed source: %v", err)
	}
	// Again: there is no source any more.
	r2 := mustFail(t, cli(t, nil, "admin", "migrate", "--data", srv.data, "--to", dbURL), 1, "second migrate")
	if !strings.Contains(r2.stderr, "no metadata at "+metaDB) {
		t.Errorf("second migrate: %s", r2.stderr)
	}
	// From the renamed file: refused, the copy is there already, and
	// the file keeps its name.
	r3 := mustFail(t, cli(t, nil, "admin", "migrate", "--from", "sqlite://"+retired, "--to", dbURL), 1, "migrate into the copy")
	if !strings.Contains(r3.stderr, "destination is not empty") {
		t.Errorf("migrate into the copy: %s", r3.stderr)
	}
	if _, err := os.Stat(retired); err != nil {
		t.Errorf("the renamed source after a refused migration: %v", err)
	}
	// Usage mistakes.
	mustFail(t, cli(t, nil, "admin", "migrate", "--data", srv.data), 2, "migrate without --to")
	mustFail(t, cli(t, nil, "admin", "migrate", "--data", srv.data, "--to", "sqlite:///tmp/x.db"), 2, "migrate to SQLite")
	mustFail(t, cli(t, nil, "admin", "migrate", "--data", t.TempDir(), "--to", dbURL), 1, "migrate without a source")
	for _, out := range []string{r.stdout, r.stderr, r2.stdout, r2.stderr, r3.stdout, r3.stderr} {
		if strings.Contains(out, dbPassword) {
			t.Fatalf("the database password was printed: %s", out)
		}
	}

	// An admin command without --db no longer opens the old metadata.
	r = mustFail(t, cli(t, nil, "admin", "--data", srv.data, "user", "quota", "alice", "5GiB"), 1, "admin user quota without --db")
	if !strings.Contains(r.stderr, "no metadata at "+metaDB) {
		t.Errorf("admin user quota without --db: %s", r.stderr)
	}
	if _, err := os.Stat(metaDB); !os.IsNotExist(err) {
		t.Errorf("admin without --db created %s: %v", metaDB, err)
	}
	// A server started without --db refuses to create a new, empty
	// database beside the migrated one (which would not own the block
	// folder anyway), and so does a storage repair. No block is deleted.
	r = serveOnce(t, srv.data)
	if r.code == 0 || !strings.Contains(r.stderr, "was migrated to PostgreSQL") {
		t.Errorf("coffer serve without --db after the migration: exit %d\n%s", r.code, r.stderr)
	}
	r = mustFail(t, cli(t, nil, "admin", "--data", srv.data, "storage", "repair"), 1, "storage repair without --db")
	if !strings.Contains(r.stderr, "no metadata at "+metaDB) {
		t.Errorf("storage repair without --db after the migration: %s", r.stderr)
	}
	if n := countFiles(t, filepath.Join(srv.data, "blocks")); n != blocksBefore {
		t.Errorf("%d block files after the migration, %d before", n, blocksBefore)
	}
	if _, err := os.Stat(metaDB); !os.IsNotExist(err) {
		t.Errorf("a command without --db created %s: %v", metaDB, err)
	}
	// Same address, so that the saved sessions and the link URLs still
	// name the server; same --data, so the blocks are where they were.
	srv2 := startServerAt(t, srv.data, nil, "--listen", hostPort, "--db", dbURL)
	if srv2.url != srv.url {
		t.Fatalf("server moved from %s to %s", srv.url, srv2.url)
	}
	if strings.Contains(string(srv2.log.Bytes()), dbPassword) {
		t.Fatal("the server logged the database password")
	}
	if _, err := os.Stat(filepath.Join(srv.data, "meta.db")); err == nil {
		t.Fatal("the server on PostgreSQL created an SQLite database")
	}

	// The sessions carried over: everything reads as before.
	after := look("after")
	for k, want := range before {
		if after[k] != want {
			t.Errorf("%s differs after the migration:\nbefore: %s\nafter:  %s", k, want, after[k])
		}
	}
	// Fresh logins: SRP against the copied verifiers.
	for _, name := range []string{"alice", "bob"} {
		fresh := map[string]string{}
		for k, v := range envs[name] {
			fresh[k] = v
		}
		fresh["COFFER_CONFIG_DIR"] = filepath.Join(t.TempDir(), name+"-fresh")
		mustOK(t, cli(t, fresh, "login"), "login "+name+" after the migration")
		if r := mustOK(t, cli(t, fresh, "whoami"), "whoami"); !strings.Contains(r.stdout, name) {
			t.Errorf("whoami %s: %s", name, r.stdout)
		}
		envs[name] = fresh
		wrong := map[string]string{}
		for k, v := range fresh {
			wrong[k] = v
		}
		wrong["COFFER_PASSWORD"] = "not the password"
		wrong["COFFER_CONFIG_DIR"] = filepath.Join(t.TempDir(), name+"-wrong")
		mustFail(t, cli(t, wrong, "login"), 1, "login with a wrong password after the migration")
	}
	alice, bob = envs["alice"], envs["bob"]

	// Contents, from the blocks left in --data.
	out := t.TempDir()
	mustOK(t, cli(t, alice, "get", "/Projects", out), "get Projects")
	mustOK(t, cli(t, alice, "get", "/Photos", out), "get Photos")
	for rel, data := range files {
		mustEqualFile(t, filepath.Join(out, rel), data)
	}
	// The member reads the share.
	if r := mustOK(t, cli(t, bob, "cat", "/shared/alice/Projects/plan.txt"), "bob reads the share"); r.stdout != string(files["Projects/plan.txt"]) {
		t.Errorf("bob reads %q", r.stdout)
	}
	// The links, with no account.
	stranger["COFFER_CONFIG_DIR"] = filepath.Join(t.TempDir(), "stranger-after")
	mustOK(t, cli(t, stranger, "get", pwLink, filepath.Join(out, "via-link.txt")), "password link after the migration")
	mustEqualFile(t, filepath.Join(out, "via-link.txt"), files["Projects/plan.txt"])
	wrongLink := map[string]string{"COFFER_CONFIG_DIR": stranger["COFFER_CONFIG_DIR"], "COFFER_LINK_PASSWORD": "wrong"}
	mustFail(t, cli(t, wrongLink, "get", pwLink, filepath.Join(out, "nope")), 1, "wrong link password after the migration")
	linkOut := t.TempDir()
	mustOK(t, cli(t, stranger, "get", folderLink, linkOut), "folder link after the migration")
	mustEqualFile(t, filepath.Join(linkOut, "Photos", "2024", "summer", "sun.raw"), files["Photos/2024/summer/sun.raw"])

	// New writes: an account (its ID after the copied ones), an upload.
	carol := map[string]string{"COFFER_SERVER": srv2.url, "COFFER_USER": "carol",
		"COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "carol"), "COFFER_PASSWORD": "migrate journey pw carol"}
	mustOK(t, cli(t, carol, "signup"), "signup after the migration")
	newFile := filepath.Join(local, "after.txt")
	if err := os.WriteFile(newFile, []byte("written to PostgreSQL"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustOK(t, cli(t, alice, "put", newFile, "/Projects/"), "put after the migration")
	if r := mustOK(t, cli(t, bob, "cat", "/shared/alice/Projects/after.txt"), "bob reads the new file"); r.stdout != "written to PostgreSQL" {
		t.Errorf("new file reads %q", r.stdout)
	}

	// Operator commands on PostgreSQL, while the server runs.
	r = mustOK(t, cli(t, nil, "admin", "--data", srv.data, "--db", dbURL, "user", "quota", "alice", "5GiB"), "admin user quota --db")
	if !strings.Contains(r.stdout, "Quota of alice set to") {
		t.Errorf("quota: %s", r.stdout)
	}
	r = mustFail(t, cli(t, nil, "admin", "--data", srv.data, "--db", dbURL, "user", "quota", "nobody", "1GiB"), 1, "quota of a missing account")
	if strings.Contains(r.stderr, dbPassword) {
		t.Errorf("quota error shows the password: %s", r.stderr)
	}
	r = mustOK(t, cli(t, nil, "admin", "--data", srv.data, "--db", dbURL, "storage", "status", "--json"), "admin storage status --db")
	var status struct {
		Blocks int64 `json:"blocks"`
		Lost   int64 `json:"lost"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &status); err != nil || status.Blocks == 0 || status.Lost != 0 {
		t.Errorf("storage status on PostgreSQL: %v %s", err, r.stdout)
	}
	// Never against a database without Coffer's schema: it would look
	// like a deployment without blocks.
	empty := pgtest.URL(t)
	r = mustFail(t, cli(t, nil, "admin", "--data", srv.data, "--db", empty, "storage", "repair"), 1, "repair against an empty database")
	if !strings.Contains(r.stderr, "holds no Coffer metadata") {
		t.Errorf("repair against an empty database: %s", r.stderr)
	}
	mustFail(t, cli(t, nil, "admin", "--data", srv.data, "--db", empty, "user", "quota", "alice", "1GiB"), 1, "quota against an empty database")
	mustFail(t, cli(t, nil, "admin", "--db", "mysql://x", "user", "quota", "alice", "1GiB"), 2, "admin with a bad --db")
}

// serveOnce runs `coffer serve --data data` with no --db and no
// COFFER_DB, expecting it to exit by itself; one that starts serving is
// stopped, and reported with exit code 0.
func serveOnce(t *testing.T, data string) result {
	t.Helper()
	cmd := exec.Command(coffer, "serve", "--data", data, "--listen", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-done:
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return result{code, string(out.Bytes()), string(errb.Bytes())}
		case <-time.After(50 * time.Millisecond):
			if !strings.Contains(string(out.Bytes()), "serving on") {
				continue
			}
		case <-deadline:
		}
		cmd.Process.Kill()
		<-done
		return result{0, string(out.Bytes()), string(errb.Bytes())}
	}
}

// countFiles counts the regular files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
