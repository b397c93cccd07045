package srp

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"filippo.io/bigmod"
)

// serverState tracks where a Server is in the handshake, so that one b
// never checks two proofs and the key is never released early.
type serverState int

const (
	serverStarted  serverState = iota // B sent, waiting for M1
	serverVerified                    // M1 accepted, K available
	serverFailed                      // Verify ran and failed; the Server is spent
)

// stateVersion is the leading byte of MarshalState's output. A new layout
// gets a new number so that state written by an older release is refused
// rather than misread.
const stateVersion = 1

// Server is the server's side of one SRP-6a handshake. Create it with
// NewServer, or restore it with UnmarshalServerState. A Server is not safe
// for concurrent use and serves a single handshake.
type Server struct {
	group *Group
	v     []byte // verifier, reduced modulo N and padded
	pubA  []byte // PAD(A)
	b     []byte // ephemeral secret, secretSize bytes
	pubB  []byte // PAD(B)
	key   []byte // K, set once Verify accepts M1
	state serverState
}

// NewServer starts the server's side of a handshake for an account with
// the given verifier, after the client sent A. It picks a random ephemeral
// secret b of 256 bits and computes B = (k*v + g^b) mod N.
//
// A must be 1 to g.Size() bytes long and less than N, and must not be zero;
// otherwise NewServer returns an error wrapping ErrIllegalParameter.
//
// The verifier is not checked: so that a login attempt does not reveal
// whether an account exists, the caller passes a fake verifier for unknown
// identities and NewServer treats it exactly like a real one. It should be
// derived like a real one, e.g. g.Verifier(HMAC(server secret, identity)).
// A verifier of the wrong length, or equal to 0, 1 or N-1 modulo N, is
// accepted too, but Verify will then refuse every proof with ErrBadProof.
func NewServer(g *Group, verifier, pubA []byte) (*Server, error) {
	b := make([]byte, secretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("srp: generating server secret: %w", err)
	}
	return newServerWithSecret(g, verifier, pubA, b)
}

// newServerWithSecret is NewServer with a chosen b. Only test vectors may
// choose b: a predictable b gives away the session key and lets the client
// be impersonated.
func newServerWithSecret(g *Group, verifier, pubA, b []byte) (*Server, error) {
	if g == nil {
		return nil, errors.New("srp: nil group")
	}
	if len(b) != secretSize || allZero(b) == 1 {
		return nil, fmt.Errorf("%w: server secret b must be %d bytes and not zero", ErrIllegalParameter, secretSize)
	}
	pubA, err := g.parsePublic("A", pubA)
	if err != nil {
		return nil, err
	}
	v := g.reduceVerifier(verifier)
	vn, err := g.nat(v)
	if err != nil {
		return nil, fmt.Errorf("srp: verifier: %w", err)
	}
	kv, err := g.nat(g.kPad)
	if err != nil {
		return nil, fmt.Errorf("srp: k: %w", err)
	}
	gb, err := g.nat(g.expG(b))
	if err != nil {
		return nil, fmt.Errorf("srp: g^b: %w", err)
	}
	pubB := kv.Mul(vn, g.n).Add(gb, g.n).Bytes(g.n)
	return &Server{
		group: g,
		v:     v,
		pubA:  pubA,
		b:     append([]byte(nil), b...),
		pubB:  pubB,
	}, nil
}

// reduceVerifier returns the verifier as a padded value below N. Values of
// N or more but no longer than N are reduced; anything that does not fit
// becomes zero, which Verify never accepts. Either way the handshake goes
// on and fails only at Verify, as it would for a wrong password.
func (g *Group) reduceVerifier(verifier []byte) []byte {
	if len(verifier) > g.Size() {
		return make([]byte, g.Size())
	}
	vn, err := bigmod.NewNat().SetOverflowingBytes(verifier, g.n)
	if err != nil {
		return make([]byte, g.Size())
	}
	return vn.Bytes(g.n)
}

// B returns the server's public value B, padded to the group's Size, to be
// sent to the client with the salt.
func (s *Server) B() []byte {
	return append([]byte(nil), s.pubB...)
}

// Verify checks the client proof M1 for the given identity and salt (the
// same bytes the client used). On success it returns the server proof M2
// to send back and makes Key available. A wrong M1, or any M1 at all when
// the verifier is unusable, gives ErrBadProof, after the same amount of
// work as a success. Verify may be called only once: whatever its outcome,
// the Server is spent afterwards.
func (s *Server) Verify(identity, salt, m1 []byte) ([]byte, error) {
	if s.group == nil {
		return nil, errors.New("srp: Server not created by NewServer or UnmarshalServerState")
	}
	if s.state != serverStarted {
		return nil, errors.New("srp: Verify called more than once")
	}
	s.state = serverFailed
	g := s.group
	u := g.scramble(s.pubA, s.pubB)
	secret, err := g.serverSecret(s.v, s.pubA, s.b, u)
	if err != nil {
		return nil, fmt.Errorf("srp: computing premaster secret: %w", err)
	}
	key := g.hash(secret)
	want := g.clientProof(identity, salt, s.pubA, s.pubB, key)
	if subtle.ConstantTimeCompare(m1, want)&g.usableVerifier(s.v) != 1 {
		return nil, ErrBadProof
	}
	s.key = key
	s.state = serverVerified
	return g.serverProof(s.pubA, want, key), nil
}

// Key returns the shared session key K = H(PAD(S)) once Verify has
// accepted the client's proof, and nil before that.
func (s *Server) Key() []byte {
	if s.state != serverVerified {
		return nil
	}
	return append([]byte(nil), s.key...)
}

// MarshalState encodes what Verify needs (v, A, b and B), so that a server
// that keeps no memory between requests can store it after sending B and
// restore it with UnmarshalServerState when M1 arrives.
//
// The encoding contains the secret b and the verifier: it must stay on the
// server (or be sealed with an AEAD if it has to leave), and it must be
// restored at most once and only for a short time, like any handshake.
//
// Layout, with n = g.Size(): one version byte (1), then PAD(A), PAD(B) and
// PAD(v) of n bytes each, then b of 32 bytes.
func (s *Server) MarshalState() []byte {
	if s.group == nil {
		return nil
	}
	out := make([]byte, 0, 1+3*s.group.Size()+secretSize)
	out = append(out, stateVersion)
	out = append(out, s.pubA...)
	out = append(out, s.pubB...)
	out = append(out, s.v...)
	out = append(out, s.b...)
	return out
}

// UnmarshalServerState restores a Server from the output of MarshalState in
// the same group, ready for Verify. It returns an error wrapping
// ErrMalformedState if data has the wrong version or length or holds a
// value out of range.
func UnmarshalServerState(g *Group, data []byte) (*Server, error) {
	if g == nil {
		return nil, errors.New("srp: nil group")
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformedState)
	}
	if data[0] != stateVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrMalformedState, data[0])
	}
	n := g.Size()
	if want := 1 + 3*n + secretSize; len(data) != want {
		return nil, fmt.Errorf("%w: %d bytes long, want %d", ErrMalformedState, len(data), want)
	}
	rest := data[1:]
	field := func(size int) []byte {
		f := append([]byte(nil), rest[:size]...)
		rest = rest[size:]
		return f
	}
	pubA, pubB, v, b := field(n), field(n), field(n), field(secretSize)

	// A and B were checked when the state was made; checking again keeps a
	// corrupted record from turning into an out-of-range computation.
	if _, err := g.parsePublic("A", pubA); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedState, err)
	}
	if _, err := g.parsePublic("B", pubB); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedState, err)
	}
	// v was reduced by NewServer, so a value of N or more cannot come from
	// MarshalState; refusing it keeps the encoding canonical.
	if _, err := g.nat(v); err != nil {
		return nil, fmt.Errorf("%w: verifier: %w", ErrMalformedState, err)
	}
	if allZero(b) == 1 {
		return nil, fmt.Errorf("%w: server secret is zero", ErrMalformedState)
	}
	return &Server{group: g, v: v, pubA: pubA, b: b, pubB: pubB}, nil
}
