package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/meta/postgres/pgtest"
	"github.com/coffer-drive/coffer/internal/srp"
)

// coffer is the binary under test, built once by TestMain.
var coffer string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coffer-e2e")
	if err != nil {
		panic(err)
	}
	coffer = filepath.Join(dir, "coffer")
	build := exec.Command("go", "build", "-o", coffer, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build coffer: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// serverProc is a running `coffer serve`.
type serverProc struct {
	url  string
	data string
	cmd  *exec.Cmd
	log  *lockedBuffer // stderr: the server log
	out  *lockedBuffer // stdout
	done chan error
}

func startServer(t *testing.T, extra ...string) *serverProc {
	t.Helper()
	return startServerAt(t, filepath.Join(t.TempDir(), "data"), nil, extra...)
}

// testDBArgs returns the flags that put the metadata of a server on the
// data folder data in PostgreSQL when the tests run with
// COFFER_TEST_DB=postgres: a fresh schema per data folder, whose URL is
// kept in a file beside the folder so that a restarted server, and the
// operator commands, find the same database. On SQLite it returns nil.
func testDBArgs(t *testing.T, data string) []string {
	t.Helper()
	if os.Getenv("COFFER_TEST_DB") != "postgres" {
		return nil
	}
	file := filepath.Clean(data) + ".db-url"
	if b, err := os.ReadFile(file); err == nil {
		return []string{"--db", string(b)}
	}
	url := pgtest.URL(t)
	if err := os.WriteFile(file, []byte(url), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--db", url}
}

// dbHaystack returns every value stored in the PostgreSQL schema of the
// server on data, concatenated, for the zero-knowledge search; nil on
// SQLite, whose database file is in the data folder.
func dbHaystack(t *testing.T, data string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Clean(data) + ".db-url")
	if err != nil {
		return nil
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, string(b))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var hay []byte
	for _, table := range tables {
		rows, err := conn.Query(ctx, `SELECT * FROM `+pgx.Identifier{table}.Sanitize())
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			for _, raw := range rows.RawValues() {
				hay = append(hay, raw...)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return hay
}

// startServerAt starts `coffer serve` on the data folder data (which may
// hold a previous server's data), with env added to the environment.
func startServerAt(t *testing.T, data string, env map[string]string, extra ...string) *serverProc {
	t.Helper()
	if !slices.Contains(extra, "--db") {
		extra = append(testDBArgs(t, data), extra...)
	}
	cmd := exec.Command(coffer, append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--log-level", "debug"}, extra...)...)
	if env != nil {
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{data: data, cmd: cmd, log: logs, out: &lockedBuffer{}, done: make(chan error, 1)}
	lines := bufio.NewScanner(stdout)
	urlRe := regexp.MustCompile(`serving on (https?://\S+)`)
	got := make(chan string, 1)
	go func() {
		for lines.Scan() {
			p.out.Write(append(lines.Bytes(), '\n'))
			if m := urlRe.FindStringSubmatch(lines.Text()); m != nil {
				got <- m[1]
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case p.url = <-got:
	case err := <-p.done:
		t.Fatalf("server exited: %v\n%s", err, logs.Bytes())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("server printed no URL\n%s", logs.Bytes())
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// kill sends SIGKILL, as a crash would, and waits for the process to end.
func (p *serverProc) kill(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not die on SIGKILL")
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serverProc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("server did not exit cleanly on SIGTERM: %v\n%s", err, p.log.Bytes())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("server did not stop on SIGTERM")
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs one coffer command with the given environment (no terminal).
func cli(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	cmd := exec.Command(coffer, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func mustOK(t *testing.T, r result, what string) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.code, r.stdout, r.stderr)
	}
	return r
}

// mustFail checks a failure exits with code and one clear line on stderr.
func mustFail(t *testing.T, r result, code int, what string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "coffer: ") || strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("%s: stderr is not one clear error line: %q", what, r.stderr)
	}
	return r
}

// salt returns the account's current salt and KDF parameters, as any
// client sees them at login.
func salt(t *testing.T, url, user string) ([]byte, crypto.KDFParams) {
	t.Helper()
	sc, err := srp.NewClient(srp.Group3072())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(api.LoginStartRequest{User: user, A: sc.A()})
	resp, err := http.Post(url+api.PathLoginStart, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s api.LoginStartResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.Salt, crypto.KDFParams{MemoryKiB: s.KDF.MemoryKiB, Iterations: s.KDF.Iterations, Parallelism: s.KDF.Parallelism}
}

// TestCLIAccountJourney drives the real binary as a user would, then
// searches everything the server wrote for every secret of the run.
func TestCLIAccountJourney(t *testing.T) {
	srv := startServer(t)
	laptop := map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": "alice", "COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "laptop")}
	desktop := map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": "alice", "COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "desktop")}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var secrets [][]byte
	passwords := []string{"correct horse battery staple", "Tr0ub4dor&3 but longer", "after recovery ünïcode"}
	for _, p := range passwords {
		secrets = append(secrets, []byte(p))
	}
	var kdfInputs []struct {
		pw   string
		salt []byte
		p    crypto.KDFParams
	}
	rememberKEK := func(pw string) {
		s, p := salt(t, srv.url, "alice")
		kdfInputs = append(kdfInputs, struct {
			pw   string
			salt []byte
			p    crypto.KDFParams
		}{pw, s, p})
	}

	// Sign up: the recovery key is printed once.
	r := mustOK(t, cli(t, with(laptop, "COFFER_PASSWORD", passwords[0]), "signup", "--device", "laptop"), "signup")
	rkRe := regexp.MustCompile(`(?m)^\s+([A-Z2-7]{4}(-[A-Z2-7]{4}){13})\s*$`)
	m := rkRe.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("signup printed no recovery key:\n%s", r.stdout)
	}
	rkText := m[1]
	rk, err := crypto.ParseRecoveryKey(rkText)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, []byte(rkText), rk[:])
	rememberKEK(passwords[0])

	if r := mustOK(t, cli(t, laptop, "whoami"), "whoami"); !strings.Contains(r.stdout, "alice") {
		t.Fatalf("whoami: %s", r.stdout)
	}
	// Signing up the same name again fails clearly.
	mustFail(t, cli(t, with(laptop, "COFFER_PASSWORD", "x"), "signup"), 1, "duplicate signup")

	// A second device; list it; revoke it from the first.
	mustOK(t, cli(t, with(desktop, "COFFER_PASSWORD", passwords[0]), "login", "--device", "desktop"), "login desktop")
	r = mustOK(t, cli(t, laptop, "sessions", "ls", "--json"), "sessions ls")
	var sessions []api.Session
	if err := json.Unmarshal([]byte(r.stdout), &sessions); err != nil || len(sessions) != 2 {
		t.Fatalf("sessions --json: %v %s", err, r.stdout)
	}
	var desktopID string
	for _, s := range sessions {
		if s.DeviceName == "desktop" {
			desktopID = s.ID
		}
	}
	if desktopID == "" {
		t.Fatalf("desktop session not listed: %s", r.stdout)
	}
	if r := mustOK(t, cli(t, laptop, "sessions"), "sessions"); !strings.Contains(r.stdout, "desktop") || !strings.Contains(r.stdout, "LAST SEEN") {
		t.Fatalf("sessions table: %s", r.stdout)
	}
	mustOK(t, cli(t, laptop, "sessions", "revoke", desktopID), "revoke")
	mustFail(t, cli(t, desktop, "whoami"), 1, "whoami on a revoked session")

	// Change the password; the old one stops working.
	mustOK(t, cli(t, with(desktop, "COFFER_PASSWORD", passwords[0]), "login"), "login desktop again")
	mustFail(t, cli(t, with(laptop, "COFFER_PASSWORD", "wrong", "COFFER_NEW_PASSWORD", "x"), "passwd"), 1, "passwd with a wrong current password")
	mustOK(t, cli(t, with(laptop, "COFFER_PASSWORD", passwords[0], "COFFER_NEW_PASSWORD", passwords[1]), "passwd"), "passwd")
	rememberKEK(passwords[1])
	mustFail(t, cli(t, desktop, "whoami"), 1, "other session after passwd")
	r = mustFail(t, cli(t, with(desktop, "COFFER_PASSWORD", passwords[0]), "login"), 1, "login with the old password")
	if !strings.Contains(r.stderr, "wrong user name or password") {
		t.Fatalf("wrong password message: %q", r.stderr)
	}
	mustOK(t, cli(t, with(desktop, "COFFER_PASSWORD", passwords[1]), "login"), "login with the new password")

	// Recover with the recovery key.
	mustFail(t, cli(t, with(desktop, "COFFER_RECOVERY_KEY", "AAAA-BBBB", "COFFER_NEW_PASSWORD", "x"), "recover"), 1, "recover with a malformed key")
	mustOK(t, cli(t, with(desktop, "COFFER_RECOVERY_KEY", strings.ToLower(rkText), "COFFER_NEW_PASSWORD", passwords[2]), "recover"), "recover")
	rememberKEK(passwords[2])
	mustFail(t, cli(t, laptop, "whoami"), 1, "laptop after recovery")
	mustOK(t, cli(t, with(laptop, "COFFER_PASSWORD", passwords[2]), "login"), "login after recovery")

	// Fingerprints: bob's as alice sees it equals bob's own; verify pins it.
	bob := map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": "bob", "COFFER_CONFIG_DIR": filepath.Join(t.TempDir(), "bob"), "COFFER_PASSWORD": "bob's password"}
	mustOK(t, cli(t, bob, "signup"), "signup bob")
	var own, seen struct {
		Fingerprint string `json:"fingerprint"`
		Verified    bool   `json:"verified"`
	}
	json.Unmarshal([]byte(mustOK(t, cli(t, bob, "fingerprint", "--json"), "bob fingerprint").stdout), &own)
	json.Unmarshal([]byte(mustOK(t, cli(t, laptop, "fingerprint", "bob", "--json"), "alice sees bob").stdout), &seen)
	if own.Fingerprint == "" || own.Fingerprint != seen.Fingerprint || seen.Verified {
		t.Fatalf("fingerprints: own %+v, seen %+v", own, seen)
	}
	mustFail(t, cli(t, laptop, "verify", "bob", "12345"), 1, "verify with a wrong fingerprint")
	mustOK(t, cli(t, laptop, "verify", "bob", own.Fingerprint), "verify")
	json.Unmarshal([]byte(mustOK(t, cli(t, laptop, "fingerprint", "bob", "--json"), "alice sees bob").stdout), &seen)
	if !seen.Verified {
		t.Fatal("bob's key is not shown as verified after verify")
	}

	// Usage errors exit 2.
	mustFail(t, cli(t, laptop, "verify", "bob"), 2, "verify with one argument")
	mustFail(t, cli(t, laptop, "login", "--no-such-flag"), 2, "unknown flag")
	mustFail(t, cli(t, laptop, "sessions", "revoke"), 2, "revoke without ID")
	// No terminal and no password: a clear error, not a hang.
	mustFail(t, cli(t, map[string]string{"COFFER_SERVER": srv.url, "COFFER_USER": "alice", "COFFER_CONFIG_DIR": t.TempDir()}, "login"), 1, "login without password")

	// Collect the private keys from the laptop's session.
	cfg, err := client.OpenConfig(laptop["COFFER_CONFIG_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	acc, err := client.New(cfg, nil).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keyBytes := acc.Keys.Marshal()
	secrets = append(secrets, keyBytes[1:33], keyBytes[33:])
	for _, in := range kdfInputs {
		pk, err := crypto.DerivePasswordKeys([]byte(in.pw), "alice", in.salt, in.p)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, pk.KEK[:], pk.SRPX)
	}

	mustOK(t, cli(t, laptop, "logout"), "logout")
	mustFail(t, cli(t, laptop, "whoami"), 1, "whoami after logout")
	srv.stop(t)

	// Zero knowledge: nothing the server stored or logged holds a secret.
	haystacks := map[string][]byte{"server log": srv.log.Bytes()}
	filepath.WalkDir(srv.data, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			haystacks[path] = b
		}
		return nil
	})
	if db := dbHaystack(t, srv.data); db != nil {
		haystacks[srv.data+" (PostgreSQL)"] = db
	}
	if len(haystacks) < 2 {
		t.Fatalf("found nothing to search in %s", srv.data)
	}
	// The client's own folder must not hold the password or keys in the clear either.
	for _, dir := range []string{laptop["COFFER_CONFIG_DIR"], desktop["COFFER_CONFIG_DIR"]} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(path)
				haystacks[path] = b
				if info, _ := d.Info(); info.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
				}
			}
			return nil
		})
	}
	// Positive control: the search does see what the server legitimately
	// stores (the account's public bundle), so a miss above means something.
	var sawBundle bool
	for name, hay := range haystacks {
		if strings.HasPrefix(name, srv.data) && bytes.Contains(hay, acc.Session.PublicBundle) {
			sawBundle = true
		}
	}
	if !sawBundle {
		t.Fatal("the search did not find the public bundle in the data folder; it is not reading what the server stores")
	}
	for _, s := range secrets {
		for _, form := range encodings(s) {
			for name, hay := range haystacks {
				if bytes.Contains(hay, form) {
					t.Errorf("a secret (%d bytes) appears in %s", len(s), name)
				}
			}
		}
	}
}

// encodings returns the forms a secret could be written in.
func encodings(s []byte) [][]byte {
	forms := [][]byte{s}
	if len(s) >= 16 {
		forms = append(forms,
			[]byte(hex.EncodeToString(s)),
			[]byte(strings.TrimRight(base64.StdEncoding.EncodeToString(s), "=")),
			[]byte(base64.RawURLEncoding.EncodeToString(s)),
		)
	}
	return forms
}

func TestServeTLSAndHealth(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, cert, key)
	srv := startServer(t, "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("TLS server URL %s", srv.url)
	}
	hc := tlsClientTrusting(t, cert)
	resp, err := hc.Get(srv.url + api.PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
	r := cli(t, nil, "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--tls-cert", cert)
	if r.code != 1 || !strings.Contains(r.stderr, "--tls-key") {
		t.Fatalf("half a TLS config must be refused: %d %q", r.code, r.stderr)
	}
}
