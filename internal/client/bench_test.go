package client_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

// BenchmarkLogin measures a whole login as `coffer login` runs it against a
// real server on loopback: protocol check, SRP start, Argon2id (64 MiB,
// t=3), SRP proof, server proof check, unsealing and checking the keys,
// and saving the session. The design target is under 0.5 s.
func BenchmarkLogin(b *testing.B) {
	env := servertest.Start(b, server.Options{})
	c, _ := newClient(b)
	if _, err := c.Signup(ctx, env.URL, "alice", []byte("benchmark password")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Login(ctx, env.URL, "alice", []byte("benchmark password")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList10k lists a folder of 10,000 files as `coffer ls` does:
// one request, then every entry's signature, name, key and head checked on
// all cores. The design target is under 0.3 s.
func BenchmarkList10k(b *testing.B) {
	env := servertest.Start(b, server.Options{})
	c, _ := newClient(b)
	if _, err := c.Signup(ctx, env.URL, "alice", []byte("pw")); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Login(ctx, env.URL, "alice", []byte("pw")); err != nil {
		b.Fatal(err)
	}
	d, err := c.Drive(ctx)
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), "many")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d.txt", i)), []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Put(ctx, []string{dir}, "/", client.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	e, err := d.Resolve(ctx, "/many")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		list, err := d.List(ctx, e)
		if err != nil || len(list) != 10000 {
			b.Fatalf("%d entries, %v", len(list), err)
		}
	}
}
