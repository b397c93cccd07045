package srp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"testing"
)

var (
	testIdentity = []byte("alice@example.com")
	testSalt     = []byte("0123456789abcdef")
)

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// start runs the handshake up to M1: the client uses clientX, the server
// holds verifier.
func start(t testing.TB, g *Group, clientX, verifier []byte) (*Client, *Server, []byte) {
	t.Helper()
	c, err := NewClient(g)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(g, verifier, c.A())
	if err != nil {
		t.Fatal(err)
	}
	m1, err := c.Finish(testIdentity, testSalt, clientX, s.B())
	if err != nil {
		t.Fatal(err)
	}
	return c, s, m1
}

// flip returns a copy of b with one bit inverted.
func flip(b []byte, bit int) []byte {
	out := append([]byte(nil), b...)
	out[bit/8] ^= 1 << (bit % 8)
	return out
}

func TestRoundTrip(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	v := g.Verifier(x)
	if len(v) != g.Size() {
		t.Fatalf("len(v) = %d, want %d", len(v), g.Size())
	}

	c, err := NewClient(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.A()) != g.Size() {
		t.Fatalf("len(A) = %d, want %d", len(c.A()), g.Size())
	}
	s, err := NewServer(g, v, c.A())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.B()) != g.Size() {
		t.Fatalf("len(B) = %d, want %d", len(s.B()), g.Size())
	}
	// The server forgets everything between the two requests.
	state := s.MarshalState()
	m1, err := c.Finish(testIdentity, testSalt, x, s.B())
	if err != nil {
		t.Fatal(err)
	}
	if c.Key() != nil {
		t.Error("client released the key before checking M2")
	}
	s, err = UnmarshalServerState(g, state)
	if err != nil {
		t.Fatal(err)
	}
	if s.Key() != nil {
		t.Error("server released the key before checking M1")
	}
	m2, err := s.Verify(testIdentity, testSalt, m1)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := c.VerifyServer(m2); err != nil {
		t.Fatalf("VerifyServer: %v", err)
	}
	ck, sk := c.Key(), s.Key()
	if len(ck) != 32 || !bytes.Equal(ck, sk) {
		t.Fatalf("client key %x, server key %x", ck, sk)
	}
	// Key must hand out copies: the caller may wipe what it got.
	ck[0] ^= 0xff
	if !bytes.Equal(c.Key(), sk) {
		t.Error("Client.Key returned its internal slice")
	}
}

func TestWrongPassword(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	c, s, m1 := start(t, g, flip(x, 0), g.Verifier(x))
	m2, err := s.Verify(testIdentity, testSalt, m1)
	if !errors.Is(err, ErrBadProof) || m2 != nil {
		t.Fatalf("Verify = %x, %v; want nil, ErrBadProof", m2, err)
	}
	if s.Key() != nil {
		t.Error("server released a key after a bad proof")
	}

	// Even a server that skipped the check and sent the M2 matching its own
	// K must not be accepted: the client's K differs.
	u := g.scramble(s.pubA, s.pubB)
	secret, err := g.serverSecret(s.v, s.pubA, s.b, u)
	if err != nil {
		t.Fatal(err)
	}
	forged := g.serverProof(s.pubA, m1, g.hash(secret))
	if err := c.VerifyServer(forged); !errors.Is(err, ErrBadProof) {
		t.Fatalf("VerifyServer(M2 of the server's K) = %v, want ErrBadProof", err)
	}
	if c.Key() != nil {
		t.Error("client released a key after a bad proof")
	}
}

func TestClientRejectsMissingOrRandomM2(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	for name, m2 := range map[string][]byte{
		"nil":    nil,
		"random": randomBytes(t, 32),
		"short":  randomBytes(t, 31),
	} {
		t.Run(name, func(t *testing.T) {
			c, _, _ := start(t, g, flip(x, 3), g.Verifier(x))
			if err := c.VerifyServer(m2); !errors.Is(err, ErrBadProof) {
				t.Fatalf("VerifyServer = %v, want ErrBadProof", err)
			}
			if c.Key() != nil {
				t.Error("client released a key after a bad proof")
			}
		})
	}
}

func TestTamperedM1(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	v := g.Verifier(x)
	for _, bit := range []int{0, 7, 100, 255} {
		_, s, m1 := start(t, g, x, v)
		state := s.MarshalState()
		if _, err := s.Verify(testIdentity, testSalt, flip(m1, bit)); !errors.Is(err, ErrBadProof) {
			t.Fatalf("bit %d: Verify = %v, want ErrBadProof", bit, err)
		}
		// A failed Server is spent, even for the right proof.
		if _, err := s.Verify(testIdentity, testSalt, m1); err == nil {
			t.Fatalf("bit %d: spent Server accepted a proof", bit)
		}
		// The untampered proof does verify on a fresh copy of the state,
		// so the failure above came from the flipped bit.
		s2, err := UnmarshalServerState(g, state)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s2.Verify(testIdentity, testSalt, m1); err != nil {
			t.Fatalf("bit %d: untampered M1: %v", bit, err)
		}
	}
	// Truncated and extended proofs.
	for _, mod := range []func([]byte) []byte{
		func(m []byte) []byte { return m[:len(m)-1] },
		func(m []byte) []byte { return append(m, 0) },
		func([]byte) []byte { return nil },
	} {
		_, s, m1 := start(t, g, x, v)
		if _, err := s.Verify(testIdentity, testSalt, mod(m1)); !errors.Is(err, ErrBadProof) {
			t.Fatalf("Verify(altered length) = %v, want ErrBadProof", err)
		}
	}
	// The proof binds the identity and the salt.
	_, s, m1 := start(t, g, x, v)
	if _, err := s.Verify([]byte("mallory@example.com"), testSalt, m1); !errors.Is(err, ErrBadProof) {
		t.Fatalf("Verify(other identity) = %v, want ErrBadProof", err)
	}
	_, s, m1 = start(t, g, x, v)
	if _, err := s.Verify(testIdentity, flip(testSalt, 0), m1); !errors.Is(err, ErrBadProof) {
		t.Fatalf("Verify(other salt) = %v, want ErrBadProof", err)
	}
}

func TestTamperedM2(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	v := g.Verifier(x)
	for _, bit := range []int{0, 9, 128, 255} {
		c, s, m1 := start(t, g, x, v)
		m2, err := s.Verify(testIdentity, testSalt, m1)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.VerifyServer(flip(m2, bit)); !errors.Is(err, ErrBadProof) {
			t.Fatalf("bit %d: VerifyServer = %v, want ErrBadProof", bit, err)
		}
		if c.Key() != nil {
			t.Fatal("client released a key after a bad M2")
		}
		// A failed Client is spent, even for the right M2.
		if err := c.VerifyServer(m2); err == nil || c.Key() != nil {
			t.Fatalf("bit %d: spent Client accepted M2", bit)
		}
	}
}

func TestSwappedAB(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	v := g.Verifier(x)

	if bytes.Equal(g.scramble([]byte{1}, []byte{2}), g.scramble([]byte{2}, []byte{1})) {
		t.Fatal("u does not depend on the order of A and B")
	}

	// A client handed its own A in place of B.
	c, err := NewClient(g)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(g, v, c.A())
	if err != nil {
		t.Fatal(err)
	}
	m1, err := c.Finish(testIdentity, testSalt, x, c.A())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(testIdentity, testSalt, m1); !errors.Is(err, ErrBadProof) {
		t.Fatalf("Verify(M1 made with B = A) = %v, want ErrBadProof", err)
	}

	// A server handed the client's B in place of A, and the client's A
	// in place of B.
	c, s, m1 = start(t, g, x, v)
	swapped, err := newServerWithSecret(g, v, s.B(), s.b)
	if err != nil {
		t.Fatal(err)
	}
	swapped.pubB = c.A()
	if _, err := swapped.Verify(testIdentity, testSalt, m1); !errors.Is(err, ErrBadProof) {
		t.Fatalf("Verify with A and B swapped = %v, want ErrBadProof", err)
	}
}

func TestReplayedM1(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	v := g.Verifier(x)
	c, s, m1 := start(t, g, x, v)
	if _, err := s.Verify(testIdentity, testSalt, m1); err != nil {
		t.Fatal(err)
	}

	// Same A, new server ephemeral: the old M1 is worthless.
	s2, err := NewServer(g, v, c.A())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Verify(testIdentity, testSalt, m1); !errors.Is(err, ErrBadProof) {
		t.Fatalf("replay against a new B: %v, want ErrBadProof", err)
	}
	// A whole new handshake by another client.
	_, s3, _ := start(t, g, x, v)
	if _, err := s3.Verify(testIdentity, testSalt, m1); !errors.Is(err, ErrBadProof) {
		t.Fatalf("replay against a new handshake: %v, want ErrBadProof", err)
	}
}

func TestIllegalParameters(t *testing.T) {
	g := Group3072()
	n := new(big.Int).SetBytes(g.nBytes)
	num := func(z *big.Int) []byte { return z.Bytes() }
	padded := func(z *big.Int) []byte { return pad(z.Bytes(), g.Size()) }
	nPlus := func(d int64) *big.Int { return new(big.Int).Add(n, big.NewInt(d)) }

	bad := map[string][]byte{
		"empty":                   nil,
		"zero byte":               {0},
		"zero padded":             make([]byte, g.Size()),
		"N":                       num(n),
		"N+1":                     num(nPlus(1)),
		"2N":                      num(new(big.Int).Lsh(n, 1)),
		"all ones":                bytes.Repeat([]byte{0xff}, g.Size()),
		"one, too long":           pad([]byte{1}, g.Size()+1),
		"valid value, over-wide":  append([]byte{0}, g.Verifier([]byte{7})...),
		"N, over-wide":            append([]byte{0}, padded(n)...),
		"far too long":            make([]byte, 4*g.Size()),
		"zero, one byte too long": make([]byte, g.Size()+1),
	}
	x := randomBytes(t, 32)
	v := g.Verifier(x)
	for name, value := range bad {
		t.Run("A="+name, func(t *testing.T) {
			s, err := NewServer(g, v, value)
			if !errors.Is(err, ErrIllegalParameter) || s != nil {
				t.Fatalf("NewServer = %v, %v; want ErrIllegalParameter", s, err)
			}
		})
		t.Run("B="+name, func(t *testing.T) {
			c, err := NewClient(g)
			if err != nil {
				t.Fatal(err)
			}
			m1, err := c.Finish(testIdentity, testSalt, x, value)
			if !errors.Is(err, ErrIllegalParameter) || m1 != nil {
				t.Fatalf("Finish = %x, %v; want ErrIllegalParameter", m1, err)
			}
			if err := c.VerifyServer(nil); err == nil || c.Key() != nil {
				t.Fatal("Client went on after refusing B")
			}
		})
	}

	// The smallest and largest legal values, short and padded, pass.
	for name, value := range map[string][]byte{
		"1":             {1},
		"1 padded":      pad([]byte{1}, g.Size()),
		"N-1":           num(nPlus(-1)),
		"2 short":       {0, 2},
		"valid, padded": g.Verifier([]byte{9}),
	} {
		if _, err := NewServer(g, v, value); err != nil {
			t.Errorf("NewServer(A=%s) = %v", name, err)
		}
		c, err := NewClient(g)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Finish(testIdentity, testSalt, x, value); err != nil {
			t.Errorf("Finish(B=%s) = %v", name, err)
		}
	}
}

// TestZeroU checks the u = 0 refusal directly, since no one can find A and
// B that hash to zero.
func TestZeroU(t *testing.T) {
	g := Group3072()
	zero := make([]byte, 32)
	x := randomBytes(t, 32)
	secret := randomBytes(t, 32)
	pubA := g.Verifier(randomBytes(t, 32))
	if _, err := g.clientSecret(secret, x, pubA, zero); !errors.Is(err, ErrIllegalParameter) {
		t.Errorf("clientSecret(u = 0) = %v, want ErrIllegalParameter", err)
	}
	if _, err := g.serverSecret(g.Verifier(x), pubA, secret, zero); !errors.Is(err, ErrIllegalParameter) {
		t.Errorf("serverSecret(u = 0) = %v, want ErrIllegalParameter", err)
	}
	// u = 0 in a shorter encoding is still zero, and u = 1 is fine.
	if _, err := g.serverSecret(g.Verifier(x), pubA, secret, []byte{0}); !errors.Is(err, ErrIllegalParameter) {
		t.Errorf("serverSecret(u = 0, one byte) = %v, want ErrIllegalParameter", err)
	}
	if _, err := g.serverSecret(g.Verifier(x), pubA, secret, pad([]byte{1}, 32)); err != nil {
		t.Errorf("serverSecret(u = 1) = %v", err)
	}
}

// TestFakeVerifiers covers the verifiers a server uses for accounts that do
// not exist, and degenerate ones: the handshake must run to the end and
// then refuse, even a client that knows which degenerate value it faces.
func TestFakeVerifiers(t *testing.T) {
	g := Group3072()
	n := new(big.Int).SetBytes(g.nBytes)
	nMinus1 := pad(new(big.Int).Sub(n, big.NewInt(1)).Bytes(), g.Size())
	// g^((N-1)/2) is N-1 if g generates the whole group, so (N-1)/2 is then
	// the private key of the verifier N-1.
	halfOrder := new(big.Int).Rsh(n, 1).Bytes()
	minusOneReachable := bytes.Equal(g.Verifier(halfOrder), nMinus1)

	for _, tc := range []struct {
		name     string
		verifier []byte
		x        []byte // the client's private key
		// attack is set when x matches the verifier, so that only the
		// usable-verifier check stands between the client and a login.
		attack bool
	}{
		{"zero", make([]byte, g.Size()), randomBytes(t, 32), false},
		{"empty", nil, randomBytes(t, 32), false},
		{"N", pad(n.Bytes(), g.Size()), randomBytes(t, 32), false},
		{"one", pad([]byte{1}, g.Size()), nil, true},
		{"N+1", pad(new(big.Int).Add(n, big.NewInt(1)).Bytes(), g.Size()), []byte{0}, true},
		{"N-1", nMinus1, halfOrder, minusOneReachable},
		{"too long", make([]byte, g.Size()+1), randomBytes(t, 32), false},
		{"garbage", bytes.Repeat([]byte{0xa5}, g.Size()), randomBytes(t, 32), false},
		{"random", randomBytes(t, g.Size()), randomBytes(t, 32), false},
		{"fake from x", g.Verifier(randomBytes(t, 32)), randomBytes(t, 32), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(g)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewServer(g, tc.verifier, c.A())
			if err != nil {
				t.Fatalf("NewServer refused a fake verifier: %v", err)
			}
			if len(s.B()) != g.Size() {
				t.Fatalf("len(B) = %d", len(s.B()))
			}
			s2, err := UnmarshalServerState(g, s.MarshalState())
			if err != nil {
				t.Fatalf("state of a fake-verifier server does not restore: %v", err)
			}
			m1, err := c.Finish(testIdentity, testSalt, tc.x, s.B())
			if err != nil {
				t.Fatal(err)
			}
			if tc.attack && !bytes.Equal(m1, expectedProof(t, s)) {
				t.Fatal("test attack does not produce the proof the server computes")
			}
			if _, err := s.Verify(testIdentity, testSalt, m1); !errors.Is(err, ErrBadProof) {
				t.Fatalf("Verify = %v, want ErrBadProof", err)
			}
			if _, err := s2.Verify(testIdentity, testSalt, m1); !errors.Is(err, ErrBadProof) {
				t.Fatalf("Verify after restore = %v, want ErrBadProof", err)
			}
		})
	}

	// With v = 0 an attacker needs to know nothing: S = 0.
	t.Run("zero, S = 0 attack", func(t *testing.T) {
		c, err := NewClient(g)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewServer(g, nil, c.A())
		if err != nil {
			t.Fatal(err)
		}
		key := g.hash(make([]byte, g.Size()))
		m1 := g.clientProof(testIdentity, testSalt, c.A(), s.B(), key)
		if !bytes.Equal(m1, expectedProof(t, s)) {
			t.Fatal("test attack does not produce the proof the server computes")
		}
		if _, err := s.Verify(testIdentity, testSalt, m1); !errors.Is(err, ErrBadProof) {
			t.Fatalf("Verify = %v, want ErrBadProof", err)
		}
	})
}

// expectedProof returns the M1 that s computes from its internals, as
// Verify does, so that a test can tell a proof would have matched but for
// the verifier check.
func expectedProof(t *testing.T, s *Server) []byte {
	t.Helper()
	g := s.group
	secret, err := g.serverSecret(s.v, s.pubA, s.b, g.scramble(s.pubA, s.pubB))
	if err != nil {
		t.Fatal(err)
	}
	return g.clientProof(testIdentity, testSalt, s.pubA, s.pubB, g.hash(secret))
}

func TestStateRoundTrip(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	c, s, m1 := start(t, g, x, g.Verifier(x))
	state := s.MarshalState()
	if want := 1 + 3*g.Size() + 32; len(state) != want {
		t.Fatalf("len(state) = %d, want %d", len(state), want)
	}
	restored, err := UnmarshalServerState(g, bytes.Clone(state))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(restored.MarshalState(), state) {
		t.Fatal("state does not survive a round trip")
	}
	if !bytes.Equal(restored.B(), s.B()) {
		t.Fatal("restored B differs")
	}
	// The restored Server must not alias the caller's buffer.
	buf := bytes.Clone(state)
	aliased, err := UnmarshalServerState(g, buf)
	if err != nil {
		t.Fatal(err)
	}
	clear(buf)
	m2, err := aliased.Verify(testIdentity, testSalt, m1)
	if err != nil {
		t.Fatalf("Verify after restore: %v", err)
	}
	if err := c.VerifyServer(m2); err != nil {
		t.Fatal(err)
	}
	if _, err := restored.Verify(testIdentity, testSalt, m1); err != nil {
		t.Fatalf("second restored copy: %v", err)
	}
}

func TestStateRejectsMalformed(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	_, s, _ := start(t, g, x, g.Verifier(x))
	state := s.MarshalState()
	n := g.Size()
	nBytes := pad(g.nBytes, n)
	with := func(offset int, value []byte) []byte {
		out := bytes.Clone(state)
		copy(out[offset:], value)
		return out
	}
	cases := map[string][]byte{
		"empty":         nil,
		"version only":  {stateVersion},
		"version 0":     with(0, []byte{0}),
		"version 2":     with(0, []byte{2}),
		"one byte more": append(bytes.Clone(state), 0),
		"A zero":        with(1, make([]byte, n)),
		"A = N":         with(1, nBytes),
		"B zero":        with(1+n, make([]byte, n)),
		"B = N":         with(1+n, nBytes),
		"v = N":         with(1+2*n, nBytes),
		"v all ones":    with(1+2*n, bytes.Repeat([]byte{0xff}, n)),
		"b zero":        with(1+3*n, make([]byte, 32)),
		"garbage":       randomBytes(t, len(state)),
		"other group":   mustState(t, Group1024SHA1()),
	}
	for i := 0; i < len(state); i += 37 {
		cases[fmt.Sprintf("truncated to %d", i)] = state[:i]
	}
	for name, data := range cases {
		if name == "garbage" && data[0] == stateVersion {
			data[0] = 0xee
		}
		got, err := UnmarshalServerState(g, data)
		if !errors.Is(err, ErrMalformedState) || got != nil {
			t.Errorf("%s: UnmarshalServerState = %v, %v; want ErrMalformedState", name, got, err)
		}
	}
	if _, err := UnmarshalServerState(nil, state); err == nil {
		t.Error("UnmarshalServerState(nil group) succeeded")
	}
}

func mustState(t *testing.T, g *Group) []byte {
	t.Helper()
	_, s, _ := start(t, g, []byte{1}, g.Verifier([]byte{1}))
	return s.MarshalState()
}

func TestCallOrder(t *testing.T) {
	g := Group3072()
	x := randomBytes(t, 32)
	c, s, m1 := start(t, g, x, g.Verifier(x))
	if _, err := c.Finish(testIdentity, testSalt, x, s.B()); err == nil {
		t.Error("second Finish succeeded")
	}
	m2, err := s.Verify(testIdentity, testSalt, m1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(testIdentity, testSalt, m1); err == nil {
		t.Error("second Verify succeeded")
	}
	if err := c.VerifyServer(m2); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyServer(m2); err == nil {
		t.Error("second VerifyServer succeeded")
	}
	if c.Key() == nil || s.Key() == nil {
		t.Error("misuse after success withdrew the key")
	}

	c2, err := NewClient(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.VerifyServer(m2); err == nil {
		t.Error("VerifyServer before Finish succeeded")
	}

	// Zero values and nil groups must fail cleanly, not panic.
	var zc Client
	if _, err := zc.Finish(testIdentity, testSalt, x, s.B()); err == nil {
		t.Error("zero Client: Finish succeeded")
	}
	if err := zc.VerifyServer(m2); err == nil || zc.Key() != nil {
		t.Error("zero Client: VerifyServer succeeded")
	}
	var zs Server
	if _, err := zs.Verify(testIdentity, testSalt, m1); err == nil || zs.Key() != nil {
		t.Error("zero Server: Verify succeeded")
	}
	if zs.MarshalState() != nil {
		t.Error("zero Server: MarshalState returned data")
	}
	if _, err := NewClient(nil); err == nil {
		t.Error("NewClient(nil) succeeded")
	}
	if _, err := NewServer(nil, nil, c.A()); err == nil {
		t.Error("NewServer(nil) succeeded")
	}
}

func TestFixedSecretsRefuseZero(t *testing.T) {
	g := Group3072()
	if _, err := newClientWithSecret(g, make([]byte, 32)); !errors.Is(err, ErrIllegalParameter) {
		t.Errorf("a = 0: %v", err)
	}
	for _, b := range [][]byte{make([]byte, 32), {1}, make([]byte, 33)} {
		if _, err := newServerWithSecret(g, g.Verifier([]byte{1}), []byte{2}, b); !errors.Is(err, ErrIllegalParameter) {
			t.Errorf("b = %x: %v", b, err)
		}
	}
}

func BenchmarkServerVerify(b *testing.B) {
	g := Group3072()
	x := randomBytes(b, 32)
	_, s, m1 := start(b, g, x, g.Verifier(x))
	state := s.MarshalState()
	// Each iteration restores the state as the stateless server does.
	for b.Loop() {
		s, err := UnmarshalServerState(g, state)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Verify(testIdentity, testSalt, m1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewServer(b *testing.B) {
	g := Group3072()
	v := g.Verifier(randomBytes(b, 32))
	c, err := NewClient(g)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := NewServer(g, v, c.A()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientFinish(b *testing.B) {
	g := Group3072()
	x := randomBytes(b, 32)
	a := randomBytes(b, 32)
	c, err := newClientWithSecret(g, a)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewServer(g, g.Verifier(x), c.A())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		// Finish is single-use; rewind the Client rather than paying for a
		// new A inside the measurement.
		c.a, c.state = bytes.Clone(a), clientStarted
		if _, err := c.Finish(testIdentity, testSalt, x, s.B()); err != nil {
			b.Fatal(err)
		}
	}
}
