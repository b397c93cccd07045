package srp

import (
	"bytes"
	"errors"
	"fmt"
)

// Transcript is every value of one SRP-6a handshake, as the protocol uses
// them: V, A, B and S padded to the group's Size; U, K, M1 and M2 as hash
// outputs.
type Transcript struct {
	V, A, B, U, S, K, M1, M2 []byte
}

// VectorTranscript runs one complete handshake between this package's
// Client and Server with the chosen ephemeral secrets a and b, and returns
// every value of it. It exists for test vectors (srp.json, and link.json
// of internal/crypto, whose link logins are SRP-6a handshakes too), and
// fails unless client and server compute the same S and key and accept
// each other's proofs.
//
// It cannot take part in a login: it plays both sides itself, so nothing
// it returns answers a real peer. A live handshake must use NewClient and
// NewServer, whose secrets are random.
func (g *Group) VectorTranscript(identity, salt, x, a, b []byte) (*Transcript, error) {
	v := g.Verifier(x)
	c, err := newClientWithSecret(g, a)
	if err != nil {
		return nil, err
	}
	s, err := newServerWithSecret(g, v, c.A(), b)
	if err != nil {
		return nil, err
	}
	u := g.scramble(c.A(), s.B())
	clientS, err := g.clientSecret(a, x, s.B(), u)
	if err != nil {
		return nil, err
	}
	serverS, err := g.serverSecret(v, c.A(), b, u)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(clientS, serverS) {
		return nil, errors.New("srp: client and server S differ")
	}
	m1, err := c.Finish(identity, salt, x, s.B())
	if err != nil {
		return nil, err
	}
	m2, err := s.Verify(identity, salt, m1)
	if err != nil {
		return nil, fmt.Errorf("srp: server refuses the client's proof: %w", err)
	}
	if err := c.VerifyServer(m2); err != nil {
		return nil, fmt.Errorf("srp: client refuses the server's proof: %w", err)
	}
	if !bytes.Equal(c.Key(), s.Key()) {
		return nil, errors.New("srp: client and server keys differ")
	}
	return &Transcript{V: v, A: c.A(), B: s.B(), U: u, S: serverS, K: s.Key(), M1: m1, M2: m2}, nil
}
