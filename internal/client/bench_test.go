package client_test

import (
	"testing"

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
