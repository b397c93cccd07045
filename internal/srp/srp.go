// Package srp implements the SRP-6a password-authenticated key exchange of
// RFC 5054, which Coffer uses so that login never shows the server the
// password or anything it could test password guesses against offline.
//
// With H the group's hash, | concatenation, PAD(z) the big-endian encoding
// of z left-padded with zero bytes to the byte length of N, and arithmetic
// modulo N:
//
//	k  = H(N | PAD(g))
//	v  = g^x
//	A  = g^a                                 a: 256 random bits, client
//	B  = k*v + g^b                           b: 256 random bits, server
//	u  = H(PAD(A) | PAD(B))
//	S  = (B - k*g^x)^(a + u*x)               client
//	   = (A * v^u)^b                         server
//	K  = H(PAD(S))
//	M1 = H((H(N) XOR H(PAD(g))) | H(I) | s | PAD(A) | PAD(B) | K)
//	M2 = H(PAD(A) | M1 | K)
//
// k, u and S are as in RFC 5054. RFC 5054 leaves the proofs to TLS, so M1
// and M2 follow RFC 2945 instead, except that g is padded inside M1 (as it
// is in k) and K is a plain hash of PAD(S). The private key x is an input:
// Coffer derives it from the password with Argon2id and HKDF outside this
// package, where RFC 5054 would use H(s | H(I | ":" | P)). The file
// testdata/vectors/srp.json at the repository root holds test vectors for
// other implementations.
//
// A login runs as follows. The client sends I and A (NewClient, Client.A);
// the server answers with s and B (NewServer, Server.B) and keeps the state
// from Server.MarshalState; the client sends M1 (Client.Finish); the server
// restores its state (UnmarshalServerState), checks M1 and answers with M2
// (Server.Verify); the client checks M2 (Client.VerifyServer). Only then do
// both sides hold the shared key K (Client.Key, Server.Key).
//
// All modular arithmetic uses filippo.io/bigmod, whose operations take time
// independent of the values involved, so neither side's timing reveals b,
// v, a or x. Proofs are compared with crypto/subtle.
package srp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"filippo.io/bigmod"
)

var (
	// ErrIllegalParameter reports a public value that SRP-6a requires the
	// receiver to refuse, such as A or B equal to zero modulo N, or u = 0.
	// Accepting one would let the peer fix the shared secret.
	ErrIllegalParameter = errors.New("srp: illegal parameter")

	// ErrBadProof reports that M1 or M2 did not match. It deliberately
	// carries no detail, so that a wrong password, an unknown account and
	// a tampered message all look alike.
	ErrBadProof = errors.New("srp: bad proof")

	// ErrMalformedState reports server state that UnmarshalServerState
	// cannot accept.
	ErrMalformedState = errors.New("srp: malformed server state")
)

// secretSize is the length in bytes of the ephemeral secrets a and b:
// RFC 5054 section 2.5.4 asks for at least 256 bits.
const secretSize = 32

// Group holds the SRP parameters: the safe prime N, the generator g and the
// hash function H. A Group is immutable and safe for concurrent use.
type Group struct {
	n       *bigmod.Modulus
	nBytes  []byte // N, big-endian; its length is the PAD length
	gPad    []byte // PAD(g)
	kPad    []byte // PAD(k)
	hNxorHg []byte // H(N) XOR H(PAD(g)), the constant prefix of M1
	newHash func() hash.Hash
}

// The RFC 5054 Appendix A primes, written as in the RFC. The 3072-bit prime
// is also RFC 3526 group 15; its tests check both descriptions.
const (
	rfc5054N1024 = "" +
		"EEAF0AB9 ADB38DD6 9C33F80A FA8FC5E8 60726187 75FF3C0B 9EA2314C" +
		"9C256576 D674DF74 96EA81D3 383B4813 D692C6E0 E0D5D8E2 50B98BE4" +
		"8E495C1D 6089DAD1 5DC7D7B4 6154D6B6 CE8EF4AD 69B15D49 82559B29" +
		"7BCF1885 C529F566 660E57EC 68EDBC3C 05726CC0 2FD4CBF4 976EAA9A" +
		"FD5138FE 8376435B 9FC61D2F C0EB06E3"

	rfc5054N3072 = "" +
		"FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08" +
		"8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B" +
		"302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9" +
		"A637ED6B 0BFF5CB6 F406B7ED EE386BFB 5A899FA5 AE9F2411 7C4B1FE6" +
		"49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8" +
		"FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D" +
		"670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B E39E772C" +
		"180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718" +
		"3995497C EA956AE5 15D22618 98FA0510 15728E5A 8AAAC42D AD33170D" +
		"04507A33 A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D" +
		"B3970F85 A6E1E4C7 ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226" +
		"1AD2EE6B F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C" +
		"BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31 43DB5BFC" +
		"E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF"
)

// Group3072 returns the 3072-bit group of RFC 5054 Appendix A (g = 5) with
// SHA-256. It is the group Coffer uses.
func Group3072() *Group {
	return mustGroup(rfc5054N3072, 5, sha256.New)
}

// Group1024SHA1 returns the 1024-bit group of RFC 5054 Appendix A (g = 2)
// with SHA-1, the parameters of the RFC 5054 Appendix B test vectors. It is
// too weak for anything but reproducing those vectors.
func Group1024SHA1() *Group {
	return mustGroup(rfc5054N1024, 2, sha1.New)
}

// mustGroup builds one of the fixed groups above; failure would be a typo
// in this file, not bad input, so it panics.
func mustGroup(nHex string, g byte, newHash func() hash.Hash) *Group {
	n, err := hex.DecodeString(strings.ReplaceAll(nHex, " ", ""))
	if err != nil {
		panic("srp: internal error: bad group prime: " + err.Error())
	}
	grp, err := newGroup(n, []byte{g}, newHash)
	if err != nil {
		panic("srp: internal error: " + err.Error())
	}
	return grp
}

// newGroup checks the parameters and precomputes what every handshake
// needs. It does not test N for primality: that is the job of the tests
// of the fixed groups.
func newGroup(n, g []byte, newHash func() hash.Hash) (*Group, error) {
	if len(n) == 0 || n[0] == 0 || n[len(n)-1]&1 == 0 {
		return nil, errors.New("group prime must be odd and have no leading zero bytes")
	}
	if newHash == nil {
		return nil, errors.New("group needs a hash function")
	}
	// k and u are hash outputs used as numbers below N; a hash as long as
	// N could produce values that do not fit.
	if newHash().Size() >= len(n) {
		return nil, errors.New("group prime is not longer than the hash")
	}
	m, err := bigmod.NewModulus(n)
	if err != nil {
		return nil, fmt.Errorf("group prime: %w", err)
	}
	if len(g) > len(n) {
		return nil, errors.New("generator is longer than the prime")
	}
	grp := &Group{
		n:       m,
		nBytes:  append([]byte(nil), n...),
		gPad:    pad(g, len(n)),
		newHash: newHash,
	}
	gn, err := grp.nat(grp.gPad)
	if err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	if gn.IsZero() == 1 || gn.IsOne() == 1 || gn.IsMinusOne(m) == 1 {
		return nil, errors.New("generator has order 1 or 2")
	}
	grp.kPad = pad(grp.hash(grp.nBytes, grp.gPad), len(n))
	hN, hg := grp.hash(grp.nBytes), grp.hash(grp.gPad)
	grp.hNxorHg = make([]byte, len(hN))
	subtle.XORBytes(grp.hNxorHg, hN, hg)
	return grp, nil
}

// Size returns the length in bytes of N. A, B and verifiers produced by
// this package are always this long.
func (g *Group) Size() int {
	return len(g.nBytes)
}

// Verifier returns the password verifier v = g^x mod N, padded to Size
// bytes, for the private key x (big-endian). The server stores v in place
// of the password.
func (g *Group) Verifier(x []byte) []byte {
	return g.expG(x)
}

// hash returns H(parts[0] | parts[1] | ...).
func (g *Group) hash(parts ...[]byte) []byte {
	h := g.newHash()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// nat parses b, which must be shorter than N or as long and less than N.
func (g *Group) nat(b []byte) (*bigmod.Nat, error) {
	if len(b) > len(g.nBytes) {
		return nil, errors.New("value is longer than N")
	}
	z, err := bigmod.NewNat().SetBytes(b, g.n)
	if err != nil {
		return nil, errors.New("value is not less than N")
	}
	return z, nil
}

// expG returns PAD(g^e mod N).
func (g *Group) expG(e []byte) []byte {
	gn, err := g.nat(g.gPad)
	if err != nil {
		panic("srp: internal error: generator does not parse")
	}
	return bigmod.NewNat().Exp(gn, e, g.n).Bytes(g.n)
}

// parsePublic checks a peer's public value (A or B) as SRP-6a requires and
// returns it padded. A value must be 1 to Size bytes long and in [1, N):
// zero modulo N would let the peer fix S, and refusing values of N or more
// outright leaves a single encoding for every value, which keeps u, M1 and
// M2 well defined.
func (g *Group) parsePublic(name string, b []byte) ([]byte, error) {
	if len(b) == 0 || len(b) > g.Size() {
		return nil, fmt.Errorf("%w: %s is %d bytes long, want 1 to %d", ErrIllegalParameter, name, len(b), g.Size())
	}
	z, err := g.nat(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not less than N", ErrIllegalParameter, name)
	}
	if z.IsZero() == 1 {
		return nil, fmt.Errorf("%w: %s is zero", ErrIllegalParameter, name)
	}
	return z.Bytes(g.n), nil
}

// scramble returns u = H(PAD(A) | PAD(B)); A and B must be padded already.
func (g *Group) scramble(pubA, pubB []byte) []byte {
	return g.hash(pubA, pubB)
}

// clientProof returns M1 = H((H(N) XOR H(PAD(g))) | H(I) | s | PAD(A) |
// PAD(B) | K).
func (g *Group) clientProof(identity, salt, pubA, pubB, key []byte) []byte {
	return g.hash(g.hNxorHg, g.hash(identity), salt, pubA, pubB, key)
}

// serverProof returns M2 = H(PAD(A) | M1 | K).
func (g *Group) serverProof(pubA, m1, key []byte) []byte {
	return g.hash(pubA, m1, key)
}

// clientSecret returns PAD(S) with S = (B - k*g^x)^(a + u*x) mod N,
// computed as (B - k*g^x)^a * ((B - k*g^x)^u)^x so that every step is a
// constant-time bigmod exponentiation and a + u*x never has to be formed.
// pubB must have passed parsePublic.
func (g *Group) clientSecret(a, x, pubB, u []byte) ([]byte, error) {
	if allZero(u) == 1 {
		return nil, fmt.Errorf("%w: u is zero", ErrIllegalParameter)
	}
	bn, err := g.nat(pubB)
	if err != nil {
		return nil, fmt.Errorf("B: %w", err)
	}
	kn, err := g.nat(g.kPad)
	if err != nil {
		return nil, fmt.Errorf("k: %w", err)
	}
	gx, err := g.nat(g.expG(x))
	if err != nil {
		return nil, fmt.Errorf("g^x: %w", err)
	}
	base := bn.Sub(kn.Mul(gx, g.n), g.n)
	left := bigmod.NewNat().Exp(base, a, g.n)
	right := bigmod.NewNat().Exp(base, u, g.n)
	right = bigmod.NewNat().Exp(right, x, g.n)
	return left.Mul(right, g.n).Bytes(g.n), nil
}

// serverSecret returns PAD(S) with S = (A * v^u)^b mod N. pubA must have
// passed parsePublic and v must be reduced modulo N.
func (g *Group) serverSecret(v, pubA, b, u []byte) ([]byte, error) {
	if allZero(u) == 1 {
		return nil, fmt.Errorf("%w: u is zero", ErrIllegalParameter)
	}
	an, err := g.nat(pubA)
	if err != nil {
		return nil, fmt.Errorf("A: %w", err)
	}
	vn, err := g.nat(v)
	if err != nil {
		return nil, fmt.Errorf("v: %w", err)
	}
	vu := bigmod.NewNat().Exp(vn, u, g.n)
	return bigmod.NewNat().Exp(an.Mul(vu, g.n), b, g.n).Bytes(g.n), nil
}

// usableVerifier returns 1 if v can authenticate anyone, and 0 if it is 0,
// 1 or N-1 modulo N. For those values S can be computed without knowing x
// (S = 0 whatever the client sends when v = 0, and x is 0 or (N-1)/2
// otherwise), so a fake verifier that happened to be one of them would let
// anyone log in as a missing account. It runs in constant time because v
// is secret.
func (g *Group) usableVerifier(v []byte) int {
	vn, err := g.nat(v)
	if err != nil {
		return 0
	}
	bad := vn.IsZero() | vn.IsOne() | vn.IsMinusOne(g.n)
	return int(1 ^ bad)
}

// pad left-pads b with zero bytes to n bytes; b must not be longer.
func pad(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}

// allZero returns 1 if b holds only zero bytes and 0 otherwise, without
// stopping early, since it also looks at secrets.
func allZero(b []byte) int {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return subtle.ConstantTimeByteEq(acc, 0)
}
