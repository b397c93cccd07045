package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-drive/coffer/internal/meta/postgres/pgtest"
)

// roundRobin is a load balancer that sends each request to the next
// instance in turn, and counts what each one served.
type roundRobin struct {
	targets []*url.URL
	next    atomic.Uint64
	served  []atomic.Int64
}

func newRoundRobin(t *testing.T, urls ...string) (*roundRobin, *httptest.Server) {
	t.Helper()
	rr := &roundRobin{served: make([]atomic.Int64, len(urls))}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		rr.targets = append(rr.targets, pu)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := int((rr.next.Add(1) - 1) % uint64(len(rr.targets)))
			rr.served[i].Add(1)
			r.SetURL(rr.targets[i])
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
	}
	ts := httptest.NewServer(proxy)
	t.Cleanup(ts.Close)
	return rr, ts
}

// TestTwoInstances runs two `coffer serve` processes on one PostgreSQL
// database and one set of block locations (two folders and an S3 bucket),
// behind a load balancer that alternates between them request by request.
// Every feature works across them, and concurrent writes through both keep
// the invariants: one file per name, downloads counted once, shared
// throttle counters, and the database's own counters.
func TestTwoInstances(t *testing.T) {
	dbURL := pgtest.URL(t)
	s := newStorage(t, 2, true, "--replicas", "2")
	var procs []*serverProc
	for i := range 2 {
		data := filepath.Join(t.TempDir(), fmt.Sprintf("instance%d", i))
		args := append(s.storeArgs(), "--db", dbURL, "--scrub-interval", "0", "--repair-interval", "1h")
		procs = append(procs, startServerAt(t, data, s.env, args...))
	}
	rr, lb := newRoundRobin(t, procs[0].url, procs[1].url)

	envs := map[string]map[string]string{}
	for _, u := range []string{"alice", "bob"} {
		envs[u] = map[string]string{"COFFER_SERVER": lb.URL, "COFFER_USER": u,
			"COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), u), "COFFER_PASSWORD": u + " two instances pw"}
		mustOK(t, cli(t, envs[u], "signup"), "signup "+u)
	}
	alice, bob := envs["alice"], envs["bob"]
	local := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(local, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The drive: folders, a multi-block file and small ones, read back.
	big := bytes.Repeat([]byte("two instances, one drive. "), 400_000) // ~10 MiB: several blocks
	mustOK(t, cli(t, alice, "mkdir", "-p", "/projects/shared"), "mkdir -p")
	mustOK(t, cli(t, alice, "put", write("big.bin", big), "/projects/"), "put big")
	mustOK(t, cli(t, alice, "put", write("notes.txt", []byte("notes")), "/projects/shared/"), "put notes")
	out := t.TempDir()
	mustOK(t, cli(t, alice, "get", "/projects/big.bin", filepath.Join(out, "big.bin")), "get big")
	if got, _ := os.ReadFile(filepath.Join(out, "big.bin")); !bytes.Equal(got, big) {
		t.Fatal("the big file came back different")
	}
	if r := mustOK(t, cli(t, alice, "ls", "/projects"), "ls"); !strings.Contains(r.stdout, "big.bin") || !strings.Contains(r.stdout, "shared/") {
		t.Fatalf("ls /projects:\n%s", r.stdout)
	}

	// Sharing across instances: bob accepts and writes as an editor.
	mustOK(t, cli(t, alice, "share", "add", "/projects/shared", "bob", "--role", "editor"), "share add")
	var items []map[string]any
	if err := json.Unmarshal([]byte(mustOK(t, cli(t, bob, "shared", "--json"), "shared").stdout), &items); err != nil || len(items) != 1 {
		t.Fatalf("bob's shares: %v %v", err, items)
	}
	mustOK(t, cli(t, bob, "shared", "accept", items[0]["id"].(string)), "accept")
	mustOK(t, cli(t, bob, "put", write("from-bob.txt", []byte("hello from bob")), "/shared/alice/shared/"), "bob puts")
	if r := mustOK(t, cli(t, alice, "cat", "/projects/shared/from-bob.txt"), "alice reads bob's file"); r.stdout != "hello from bob" {
		t.Fatalf("cat: %q", r.stdout)
	}

	// Concurrent uploads of one name through both instances: exactly one
	// wins; the others are told the name is taken.
	const racers = 8
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range racers {
		p := write(fmt.Sprintf("racer%d.txt", i), fmt.Appendf(nil, "racer %d", i))
		wg.Go(func() {
			dst := "/projects/same-name.txt"
			if r := cli(t, alice, "put", p, dst); r.code == 0 {
				wins.Add(1)
			} else if !strings.Contains(r.stderr, "exist") {
				t.Errorf("losing racer: %q", r.stderr)
			}
		})
	}
	// Meanwhile distinct names, all of which must land.
	for i := range racers {
		p := write(fmt.Sprintf("distinct%d.txt", i), fmt.Appendf(nil, "distinct %d", i))
		wg.Go(func() { mustOKAsync(t, cli(t, alice, "put", p, "/projects/"), "put distinct") })
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d uploads of one name succeeded, want 1", wins.Load())
	}
	var listing []map[string]any
	if err := json.Unmarshal([]byte(mustOK(t, cli(t, alice, "ls", "--json", "/projects"), "ls --json").stdout), &listing); err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, e := range listing {
		names[e["name"].(string)]++
	}
	for i := range racers {
		if n := names[fmt.Sprintf("distinct%d.txt", i)]; n != 1 {
			t.Errorf("distinct%d.txt listed %d times, want once", i, n)
		}
	}
	if names["same-name.txt"] != 1 {
		t.Errorf("same-name.txt listed %d times, want once", names["same-name.txt"])
	}

	// A link with a download limit, used concurrently through both
	// instances: the counter lives in the database, so the limit holds.
	link := strings.TrimSpace(mustOK(t, cli(t, alice, "link", "create", "/projects/shared/notes.txt", "--max-downloads", "3"), "link create").stdout)
	stranger := map[string]string{"COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "stranger")}
	var downloads atomic.Int32
	for i := range 6 {
		wg.Go(func() {
			dst := filepath.Join(t.TempDir(), fmt.Sprintf("n%d.txt", i))
			if r := cli(t, stranger, "get", link, dst); r.code == 0 {
				downloads.Add(1)
				if got, _ := os.ReadFile(dst); string(got) != "notes" {
					t.Errorf("link download got %q", got)
				}
			}
		})
	}
	wg.Wait()
	if downloads.Load() != 3 {
		t.Errorf("%d downloads through a 3-download link succeeded, want 3", downloads.Load())
	}

	// A password change through one instance logs out bob's other
	// sessions, whichever instance they talk to.
	laptop := map[string]string{}
	for k, v := range bob {
		laptop[k] = v
	}
	laptop["COFFER_CONFIG_DIR"] = filepath.Join(t.TempDir(), "bob-laptop")
	mustOK(t, cli(t, laptop, "login"), "bob logs in on a laptop")
	bob["COFFER_NEW_PASSWORD"] = "bob's new two instances pw"
	mustOK(t, cli(t, bob, "passwd"), "passwd")
	for range 2 { // once through each instance
		mustFail(t, cli(t, laptop, "whoami"), 1, "whoami on a logged-out laptop")
	}

	// The login throttle counts failures in the database: six wrong
	// passwords alternating between instances make one counter of six,
	// not two of three.
	wrong := map[string]string{"COFFER_SERVER": lb.URL, "COFFER_USER": "bob",
		"COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "attacker"), "COFFER_PASSWORD": "not bob's password"}
	for range 6 {
		if r := cli(t, wrong, "login"); r.code == 0 {
			t.Fatal("login with a wrong password succeeded")
		}
	}

	syncAcrossInstances(t, alice, lb.URL)

	for i, p := range procs {
		p.stop(t)
		if n := rr.served[i].Load(); n < 50 {
			t.Errorf("instance %d served %d requests; the test did not exercise it", i, n)
		}
	}

	checkPostgresInvariants(t, dbURL)
}

// mustOKAsync is mustOK for goroutines, which must not call t.Fatal.
func mustOKAsync(t *testing.T, r result, what string) {
	t.Helper()
	if r.code != 0 {
		t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.code, r.stdout, r.stderr)
	}
}

// checkPostgresInvariants checks what the database's counters and the
// throttle must hold once the servers are stopped.
func checkPostgresInvariants(t *testing.T, dbURL string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, c := range []struct{ what, query string }{
		{"accounts whose used_bytes is not the size of their blocks", `
			SELECT count(*) FROM users AS u
			WHERE used_bytes <> (SELECT coalesce(sum(size), 0) FROM blocks WHERE owner_id = u.id)`},
		{"blocks whose refs is not their number of references", `
			SELECT count(*) FROM blocks AS b
			WHERE refs <> (SELECT count(*) FROM block_refs WHERE block_id = b.id)`},
		{"links whose pending_bytes is not the size of their pending blocks", `
			SELECT count(*) FROM links AS l
			WHERE pending_bytes <> (SELECT coalesce(sum(size), 0) FROM link_blocks WHERE link_id = l.id)`},
		{"files whose head is not their newest revision", `
			SELECT count(*) FROM nodes AS n
			WHERE kind = 2 AND revision_seq <> (SELECT max(seq) FROM revisions WHERE node_id = n.id)`},
	} {
		var n int64
		if err := conn.QueryRow(ctx, c.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}
	var failures int64
	if err := conn.QueryRow(ctx, `SELECT failures FROM throttles WHERE key = 'user:bob'`).Scan(&failures); err != nil {
		t.Fatal(err)
	}
	if failures != 6 {
		t.Errorf("bob's throttle counter holds %d failures after six wrong logins through two instances, want 6", failures)
	}
	var downloads int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(downloads), 0) FROM links`).Scan(&downloads); err != nil {
		t.Fatal(err)
	}
	if downloads != 3 {
		t.Errorf("the link's download counter is %d, want 3", downloads)
	}
}

// syncAcrossInstances syncs a folder between two devices of one account
// whose requests alternate between the instances: each one's events feed
// must show what the other instance committed, in order, and a long-poll
// waiting on one instance must wake for a change made through the other.
func syncAcrossInstances(t *testing.T, laptop map[string]string, url string) {
	t.Helper()
	desktop := map[string]string{}
	for k, v := range laptop {
		desktop[k] = v
	}
	desktop["COFFER_CONFIG_DIR"] = filepath.Join(t.TempDir(), "alice-desktop")
	mustOK(t, cli(t, desktop, "login"), "alice logs in on a desktop")
	dirA, dirB := t.TempDir(), t.TempDir()
	for i := range 20 {
		p := filepath.Join(dirA, fmt.Sprintf("d%d", i%4), fmt.Sprintf("f%d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("file %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustOK(t, cli(t, laptop, "sync", "--once", "--device", "laptop", dirA, "/synced"), "sync laptop")
	mustOK(t, cli(t, desktop, "sync", "--once", "--device", "desktop", dirB, "/synced"), "sync desktop")
	if got, err := os.ReadFile(filepath.Join(dirB, "d3", "f19.txt")); err != nil || string(got) != "file 19" {
		t.Fatalf("the desktop did not get the laptop's files: %q, %v", got, err)
	}

	// The desktop watches; the laptop's change goes through whichever
	// instance the balancer picks.
	cmd := exec.Command(coffer, "sync", "--device", "desktop", "--rescan", "1h", dirB, "/synced")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range desktop {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dirA, "d0", "f0.txt"), []byte(fmt.Sprintf("edit %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		mustOK(t, cli(t, laptop, "sync", "--once", "--device", "laptop", dirA, "/synced"), "sync laptop edit")
		want := fmt.Sprintf("edit %d", i)
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, _ := os.ReadFile(filepath.Join(dirB, "d0", "f0.txt"))
			if string(got) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the watching desktop never got %q (has %q); its stderr:\n%s", want, got, errb.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
