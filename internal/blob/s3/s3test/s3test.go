// Package s3test runs a real S3 server for tests: versitygw, a small S3
// gateway in Go, serving a temporary folder through its posix backend.
//
// Tests start one with Start, make a bucket per test with NewBucket, put
// the server's credentials in the environment with Env (where the s3
// package reads them) and open the store at URL(bucket):
//
//	srv := s3test.Start(t)
//	srv.Env(t)
//	store, err := s3.Open(ctx, srv.URL(srv.NewBucket(t)), s3.Options{})
//
// versitygw must be installed (go install
// github.com/versity/versitygw/cmd/versitygw@v1.8.0); Start looks for it in
// PATH, then in GOBIN and GOPATH/bin. Without it, tests are skipped, or
// fail when the environment variable CI is true, so that CI cannot pass
// by skipping them.
package s3test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const (
	// installHint is how to get the server when it is missing.
	installHint = "versitygw not found; install it with go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

	// The root credentials of every test server. They guard nothing but
	// a temporary folder on the loopback interface.
	accessKey = "coffer-test-access"
	secretKey = "coffer-test-secret-e1b2c3d4f5a6"

	// startTimeout bounds how long Start waits for the server to answer.
	startTimeout = 20 * time.Second
)

// Server is a running versitygw process, serving on 127.0.0.1.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are the server's root credentials.
	AccessKey, SecretKey string

	bin  string // the versitygw binary
	root string // the folder served: one subfolder per bucket
	addr string // 127.0.0.1:PORT
	log  string // the file the server's output goes to

	buckets atomic.Int64 // for bucket names

	mu   sync.Mutex
	proc *exec.Cmd     // nil while stopped
	done chan struct{} // closed when proc has exited
}

// Start starts a server on a free port of 127.0.0.1, serving a new
// temporary folder, and waits until it answers. t.Cleanup stops it. If
// versitygw is not installed, Start skips the test, or fails it if the
// environment variable CI is true.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(installHint)
		}
		t.Skip(installHint)
	}
	dir := t.TempDir()
	s := &Server{
		AccessKey: accessKey,
		SecretKey: secretKey,
		bin:       bin,
		root:      filepath.Join(dir, "root"),
		log:       filepath.Join(dir, "versitygw.log"),
	}
	if err := os.Mkdir(s.root, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if out, err := os.ReadFile(s.log); err == nil && len(out) > 0 {
				t.Logf("versitygw output:\n%s", out)
			}
		}
	})
	// The port is free when chosen but may be taken before the server
	// binds it; then the server exits, and another port is tried.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("s3test: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", port)
		s.Endpoint = "http://" + s.addr
		err = s.start()
		if err == nil {
			return s
		}
		if attempt == 2 {
			t.Fatalf("s3test: %v", err)
		}
	}
}

// findBinary looks for versitygw in PATH, then in GOBIN and GOPATH/bin.
func findBinary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var dirs []string
	if len(lines) > 0 && lines[0] != "" {
		dirs = append(dirs, lines[0])
	}
	if len(lines) > 1 {
		for _, gp := range filepath.SplitList(lines[1]) {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(installHint)
}

// freePort returns a port of 127.0.0.1 that nothing listens on now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// start runs the server on s.addr and waits until it answers HTTP.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("server is running")
	}
	// The output goes to a file, not a pipe that could fill up and
	// stall the server when nobody reads it.
	logf, err := os.OpenFile(s.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "--port", s.addr, "--quiet", "posix", s.root)
	// The credentials go in the environment rather than on the command
	// line, where every user of the machine could read them.
	cmd.Env = append(cleanEnv(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		// Any HTTP answer (403 without credentials) means it is up.
		resp, err := client.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			s.proc, s.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("versitygw on %s exited at start (%v); its output is in %s", s.addr, cmd.ProcessState, s.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("versitygw on %s did not answer within %v; its output is in %s", s.addr, startTimeout, s.log)
		}
	}
}

// cleanEnv returns the environment without the variables that configure
// versitygw, so that a developer's settings do not change the test server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Stop kills the server, so that its endpoint refuses connections, as a
// location that is down does. The data stays; Restart serves it again.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	// Killed outright: the test wants it gone now, not after a
	// graceful shutdown of several seconds.
	s.proc.Process.Kill()
	<-s.done
	s.proc, s.done = nil, nil
}

// Restart starts a stopped server again, on the same port and folder, and
// waits until it answers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("s3test: restart: %v", err)
	}
}

// Env puts the server's credentials in the environment for the rest of
// the test (with t.Setenv, so not in parallel tests), where the s3 package
// reads them, and clears AWS_SESSION_TOKEN.
func (s *Server) Env(t testing.TB) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
}

// URL returns the URL the s3 package opens bucket on this server with.
func (s *Server) URL(bucket string) string {
	return "s3://" + bucket + "?endpoint=" + s.Endpoint
}

// NewBucket makes a new, empty bucket and returns its name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test-%d", s.buckets.Add(1))
	if err := s.Client(t).MakeBucket(t.Context(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("s3test: make bucket %s: %v", name, err)
	}
	return name
}

// Client returns a client of the server with root credentials, for tests
// that look at or change objects behind a store's back.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.addr, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatalf("s3test: client: %v", err)
	}
	return c
}
