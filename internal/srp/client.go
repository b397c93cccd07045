package srp

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
)

// clientState tracks where a Client is in the handshake, so that a proof
// is never computed twice and the key is never released early.
type clientState int

const (
	clientStarted  clientState = iota // A sent, waiting for s and B
	clientFinished                    // M1 sent, waiting for M2
	clientVerified                    // M2 checked, K available
	clientFailed                      // a check failed; the Client is spent
)

// Client is the password holder's side of one SRP-6a handshake. Create it
// with NewClient. A Client is not safe for concurrent use and serves a
// single handshake.
type Client struct {
	group *Group
	a     []byte // ephemeral secret
	pubA  []byte // PAD(A)
	m2    []byte // the server proof we expect, set by Finish
	key   []byte // K, set by Finish, released by Key after VerifyServer
	state clientState
}

// NewClient starts a handshake in group g with a fresh random ephemeral
// secret a of 256 bits.
func NewClient(g *Group) (*Client, error) {
	a := make([]byte, secretSize)
	if _, err := rand.Read(a); err != nil {
		return nil, fmt.Errorf("srp: generating client secret: %w", err)
	}
	return newClientWithSecret(g, a)
}

// newClientWithSecret starts a handshake with a chosen a. Only test
// vectors may choose a: a predictable a gives away the session key.
func newClientWithSecret(g *Group, a []byte) (*Client, error) {
	if g == nil {
		return nil, errors.New("srp: nil group")
	}
	if allZero(a) == 1 {
		return nil, fmt.Errorf("%w: client secret a is zero", ErrIllegalParameter)
	}
	return &Client{
		group: g,
		a:     append([]byte(nil), a...),
		pubA:  g.expG(a),
	}, nil
}

// A returns the client's public value A = g^a mod N, padded to the group's
// Size, to be sent to the server with the identity.
func (c *Client) A() []byte {
	return append([]byte(nil), c.pubA...)
}

// Finish takes the server's answer, the salt s and public value B, together
// with the identity I and the private key x (big-endian) derived from the
// password, and returns the client proof M1 to send to the server.
//
// It returns an error wrapping ErrIllegalParameter if B is out of range or
// zero modulo N, or if u is zero; the handshake must then be abandoned.
// Finish may be called only once.
func (c *Client) Finish(identity, salt, x, pubB []byte) ([]byte, error) {
	if c.group == nil {
		return nil, errors.New("srp: Client not created by NewClient")
	}
	if c.state != clientStarted {
		return nil, errors.New("srp: Finish called more than once")
	}
	c.state = clientFailed
	g := c.group
	pubB, err := g.parsePublic("B", pubB)
	if err != nil {
		return nil, err
	}
	u := g.scramble(c.pubA, pubB)
	secret, err := g.clientSecret(c.a, x, pubB, u)
	if err != nil {
		return nil, fmt.Errorf("srp: computing premaster secret: %w", err)
	}
	// a has done its job; dropping it keeps it from outliving the handshake
	// in a long-lived Client.
	clear(c.a)
	c.a = nil
	key := g.hash(secret)
	m1 := g.clientProof(identity, salt, c.pubA, pubB, key)
	c.m2 = g.serverProof(c.pubA, m1, key)
	c.key = key
	c.state = clientFinished
	return m1, nil
}

// VerifyServer checks the server proof M2 in constant time. It returns
// ErrBadProof if M2 is wrong, which means the server does not know the
// verifier or the messages were tampered with. After an error the Client
// is spent and Key stays nil.
func (c *Client) VerifyServer(m2 []byte) error {
	if c.state != clientFinished {
		if c.state == clientFailed {
			return ErrBadProof
		}
		return errors.New("srp: VerifyServer called before Finish or more than once")
	}
	if subtle.ConstantTimeCompare(m2, c.m2) != 1 {
		c.state = clientFailed
		c.key = nil
		return ErrBadProof
	}
	c.state = clientVerified
	return nil
}

// Key returns the shared session key K = H(PAD(S)) once VerifyServer has
// accepted the server's proof, and nil before that: a key from a handshake
// whose server was never authenticated must not be used.
func (c *Client) Key() []byte {
	if c.state != clientVerified {
		return nil
	}
	return append([]byte(nil), c.key...)
}

// UnverifiedKey returns K as soon as Finish has run, before the server has
// proven itself. It exists only to MAC data sent together with M1 (a
// password change binds its new credentials to the handshake this way):
// a server that cannot derive K learns nothing from such a MAC. Use Key
// for anything that needs an authenticated server.
func (c *Client) UnverifiedKey() []byte {
	if c.state != clientFinished && c.state != clientVerified {
		return nil
	}
	return append([]byte(nil), c.key...)
}
