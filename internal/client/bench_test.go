package client_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
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

// BenchmarkRotate1k measures `coffer share rm --rotate` of a shared folder
// of 1,000 files in 10 folders with two members left: the walk, a new key
// per node, a new grant per member, and the one server transaction.
func BenchmarkRotate1k(b *testing.B) {
	env := servertest.Start(b, server.Options{})
	cfgs := map[string]*client.Config{}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		c, cfg := newClient(b)
		if _, err := c.Signup(ctx, env.URL, u, []byte("pw")); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Login(ctx, env.URL, u, []byte("pw")); err != nil {
			b.Fatal(err)
		}
		cfgs[u] = cfg
	}
	drive := func(u string) *client.Drive {
		d, err := client.New(cfgs[u], nil).Drive(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	dir := filepath.Join(b.TempDir(), "team")
	for i := range 1000 {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%10), fmt.Sprintf("f%04d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := drive("alice").Put(ctx, []string{dir}, "/", client.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, u := range []string{"bob", "carol", "dave"} {
		if _, err := drive("alice").ShareAdd(ctx, "/team", u, crypto.RoleViewer); err != nil {
			b.Fatal(err)
		}
	}
	removed := []string{"dave", "carol", "bob"}
	i := 0
	for b.Loop() {
		if i == len(removed) {
			b.Fatal("run with -benchtime 3x or less")
		}
		if _, err := drive("alice").ShareRemove(ctx, "/team", removed[i], true); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
