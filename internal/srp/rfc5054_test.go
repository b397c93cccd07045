package srp

import (
	"bytes"
	"encoding/hex"
	"hash"
	"math/big"
	"strings"
	"testing"
)

// rfc5054X is the RFC 5054 private key x = H(s | H(I | ":" | P)). Coffer
// derives x differently (Argon2id and HKDF); this exists to reproduce the
// RFC's test vectors.
func rfc5054X(newHash func() hash.Hash, salt []byte, identity, password string) []byte {
	inner := newHash()
	inner.Write([]byte(identity + ":" + password))
	outer := newHash()
	outer.Write(salt)
	outer.Write(inner.Sum(nil))
	return outer.Sum(nil)
}

// unhex decodes hex written as in the RFC, with spaces and line breaks.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// checkNum compares got with the hex value want as numbers of the group's
// size, so that the RFC's unpadded values compare with padded ones.
func checkNum(t *testing.T, name string, got []byte, want string) {
	t.Helper()
	g, w := new(big.Int).SetBytes(got), new(big.Int).SetBytes(unhex(t, want))
	if g.Cmp(w) != 0 {
		t.Errorf("%s = %x, want %x", name, g, w)
	}
}

// RFC 5054 Appendix B, copied from the RFC.
const (
	rfcI    = "alice"
	rfcP    = "password123"
	rfcSalt = "BEB25379 D1A8581E B5A72767 3A2441EE"
	rfcK    = "7556AA04 5AEF2CDD 07ABAF0F 665C3E81 8913186F"
	rfcX    = "94B7555A ABE9127C C58CCF49 93DB6CF8 4D16C124"
	rfcV    = `
		7E273DE8 696FFC4F 4E337D05 B4B375BE B0DDE156 9E8FA00A 9886D812
		9BADA1F1 822223CA 1A605B53 0E379BA4 729FDC59 F105B478 7E5186F5
		C671085A 1447B52A 48CF1970 B4FB6F84 00BBF4CE BFBB1681 52E08AB5
		EA53D15C 1AFF87B2 B9DA6E04 E058AD51 CC72BFC9 033B564E 26480D78
		E955A5E2 9E7AB245 DB2BE315 E2099AFB`
	rfcA = "60975527 035CF2AD 1989806F 0407210B C81EDC04 E2762A56 AFD529DD DA2D4393"
	rfcB = "E487CB59 D31AC550 471E81F0 0F6928E0 1DDA08E9 74A004F4 9E61F5D1 05284D20"
	// Upper-case names are the public values, as in the RFC.
	rfcPubA = `
		61D5E490 F6F1B795 47B0704C 436F523D D0E560F0 C64115BB 72557EC4
		4352E890 3211C046 92272D8B 2D1A5358 A2CF1B6E 0BFCF99F 921530EC
		8E393561 79EAE45E 42BA92AE ACED8251 71E1E8B9 AF6D9C03 E1327F44
		BE087EF0 6530E69F 66615261 EEF54073 CA11CF58 58F0EDFD FE15EFEA
		B349EF5D 76988A36 72FAC47B 0769447B`
	rfcPubB = `
		BD0C6151 2C692C0C B6D041FA 01BB152D 4916A1E7 7AF46AE1 05393011
		BAF38964 DC46A067 0DD125B9 5A981652 236F99D9 B681CBF8 7837EC99
		6C6DA044 53728610 D0C6DDB5 8B318885 D7D82C7F 8DEB75CE 7BD4FBAA
		37089E6F 9C6059F3 88838E7A 00030B33 1EB76840 910440B1 B27AAEAE
		EB4012B7 D7665238 A8E3FB00 4B117B58`
	rfcU = "CE38B959 3487DA98 554ED47D 70A7AE5F 462EF019"
	rfcS = `
		B0DC82BA BCF30674 AE450C02 87745E79 90A3381F 63B387AA F271A10D
		233861E3 59B48220 F7C4693C 9AE12B0A 6F67809F 0876E2D0 13800D6C
		41BB59B6 D5979B5C 00A172B4 A2A5903A 0BDCAF8A 709585EB 2AFAFA8F
		3499B200 210DCC1F 10EB3394 3CD67FC8 8A2F39A4 BE5BEC4E C0A3212D
		C346D7E4 74B29EDE 8A469FFE CA686E5A`
)

func TestRFC5054AppendixB(t *testing.T) {
	g := Group1024SHA1()
	salt := unhex(t, rfcSalt)

	checkNum(t, "k", g.kPad, rfcK)
	x := rfc5054X(g.newHash, salt, rfcI, rfcP)
	checkNum(t, "x", x, rfcX)
	v := g.Verifier(x)
	checkNum(t, "v", v, rfcV)
	if len(v) != g.Size() {
		t.Errorf("len(v) = %d, want %d", len(v), g.Size())
	}

	c, err := newClientWithSecret(g, unhex(t, rfcA))
	if err != nil {
		t.Fatal(err)
	}
	checkNum(t, "A", c.A(), rfcPubA)

	s, err := newServerWithSecret(g, v, c.A(), unhex(t, rfcB))
	if err != nil {
		t.Fatal(err)
	}
	checkNum(t, "B", s.B(), rfcPubB)

	u := g.scramble(c.A(), s.B())
	checkNum(t, "u", u, rfcU)

	clientS, err := g.clientSecret(unhex(t, rfcA), x, s.B(), u)
	if err != nil {
		t.Fatal(err)
	}
	checkNum(t, "client S", clientS, rfcS)
	serverS, err := g.serverSecret(v, c.A(), unhex(t, rfcB), u)
	if err != nil {
		t.Fatal(err)
	}
	checkNum(t, "server S", serverS, rfcS)

	// The RFC gives no M1 or M2; the full handshake must still agree.
	m1, err := c.Finish([]byte(rfcI), salt, x, s.B())
	if err != nil {
		t.Fatal(err)
	}
	m2, err := s.Verify([]byte(rfcI), salt, m1)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := c.VerifyServer(m2); err != nil {
		t.Fatalf("VerifyServer: %v", err)
	}
	wantK := g.hash(pad(unhex(t, rfcS), g.Size()))
	if !bytes.Equal(c.Key(), wantK) || !bytes.Equal(s.Key(), wantK) {
		t.Errorf("keys %x and %x, want H(PAD(S)) = %x", c.Key(), s.Key(), wantK)
	}
}

// TestGroupPrimes checks that each N is a safe prime, so that a typo in the
// hex cannot go unnoticed, and that g is as RFC 5054 says.
func TestGroupPrimes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group *Group
		bits  int
		g     int64
	}{
		{"3072", Group3072(), 3072, 5},
		{"1024", Group1024SHA1(), 1024, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := new(big.Int).SetBytes(tc.group.nBytes)
			if n.BitLen() != tc.bits || tc.group.Size()*8 != tc.bits {
				t.Errorf("N has %d bits (Size %d), want %d", n.BitLen(), tc.group.Size(), tc.bits)
			}
			if !n.ProbablyPrime(20) {
				t.Fatal("N is not prime")
			}
			q := new(big.Int).Rsh(n, 1) // (N-1)/2, as N is odd
			if !q.ProbablyPrime(20) {
				t.Fatal("(N-1)/2 is not prime")
			}
			if got := new(big.Int).SetBytes(tc.group.gPad); got.Cmp(big.NewInt(tc.g)) != 0 {
				t.Errorf("g = %v, want %d", got, tc.g)
			}
		})
	}
}

// TestGroup3072IsRFC3526 rebuilds the 3072-bit prime from its definition in
// RFC 3526 (group 15), independently of the hex copied from RFC 5054:
// N = 2^3072 - 2^3008 - 1 + 2^64 * (floor(2^2942 * pi) + 1690314).
func TestGroup3072IsRFC3526(t *testing.T) {
	const guard = 64
	piFixed := machinPi(2942 + guard) // floor(pi * 2^(2942+guard)), give or take a few units
	piFloor := new(big.Int).Rsh(piFixed, guard)

	n := new(big.Int).Lsh(big.NewInt(1), 3072)
	n.Sub(n, new(big.Int).Lsh(big.NewInt(1), 3008))
	n.Sub(n, big.NewInt(1))
	term := new(big.Int).Add(piFloor, big.NewInt(1690314))
	n.Add(n, term.Lsh(term, 64))

	if got := new(big.Int).SetBytes(Group3072().nBytes); got.Cmp(n) != 0 {
		t.Errorf("Group3072 N =\n%x\nwant\n%x", got, n)
	}
}

// machinPi returns pi * 2^prec, truncated, from Machin's formula
// pi = 16 arctan(1/5) - 4 arctan(1/239). Each term is truncated, so the
// result is a few units low; the caller's guard bits absorb that.
func machinPi(prec uint) *big.Int {
	one := new(big.Int).Lsh(big.NewInt(1), prec)
	arctanInv := func(x int64) *big.Int {
		// arctan(1/x) = sum over k of (-1)^k / ((2k+1) x^(2k+1))
		sum := new(big.Int)
		power := new(big.Int).Div(one, big.NewInt(x)) // one / x^(2k+1)
		x2 := big.NewInt(x * x)
		term := new(big.Int)
		for k := int64(0); power.Sign() != 0; k++ {
			term.Div(power, big.NewInt(2*k+1))
			if k%2 == 0 {
				sum.Add(sum, term)
			} else {
				sum.Sub(sum, term)
			}
			power.Div(power, x2)
		}
		return sum
	}
	pi := new(big.Int).Mul(big.NewInt(16), arctanInv(5))
	return pi.Sub(pi, new(big.Int).Mul(big.NewInt(4), arctanInv(239)))
}
