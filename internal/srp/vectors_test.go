package srp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors/srp.json from the implementation")

// vectorPath is the shared vector file, relative to this package.
var vectorPath = filepath.Join("..", "..", "testdata", "vectors", "srp.json")

const vectorDescription = "Coffer SRP-6a login test vectors: RFC 5054 SRP-6a in the RFC 5054 " +
	"Appendix A 3072-bit group (g = 5) with SHA-256; k = H(N | PAD(g)), " +
	"u = H(PAD(A) | PAD(B)), K = H(PAD(S)), proofs M1 and M2 as in RFC 2945 " +
	"with PAD(g); x is an input (Coffer derives it from the password with Argon2id and HKDF)."

const vectorConstruction = "" +
	"Notation: H = SHA-256; '|' is byte concatenation; every integer is an unsigned big-endian byte string; " +
	"PAD(z) is z left-padded with zero bytes to len(N) = 384 bytes; all arithmetic is modulo N. " +
	"Inputs: I = the UTF-8 bytes of 'identity'; s = the bytes of 'salt'; x, a and b are integers given as 32-byte big-endian strings " +
	"(in Coffer x comes from Argon2id and HKDF, a and b are 256 random bits). " +
	"Formulas: k = H(N | PAD(g)); v = g^x mod N; A = g^a mod N; B = (k*v + g^b) mod N; u = H(PAD(A) | PAD(B)); " +
	"S = (B - k*g^x)^(a + u*x) mod N (client) = (A * v^u)^b mod N (server); K = H(PAD(S)); " +
	"M1 = H((H(N) XOR H(PAD(g))) | H(I) | s | PAD(A) | PAD(B) | K); M2 = H(PAD(A) | M1 | K). " +
	"In H(N) and H(N | ...), N is its own 384 bytes; H(PAD(g)) hashes 383 zero bytes and 0x05. " +
	"k and u are used as integers (the 32-byte digests read big-endian); u = 0 is refused, as are A and B not in [1, N-1]. " +
	"Output encoding: lowercase hex; v, A, B and S are listed padded to 384 bytes; k, u, K, M1 and M2 are the 32-byte digests. " +
	"The vector 'leading-zeros' was chosen so that v, A, B and S each begin with a zero byte, to catch missing padding."

// vectorFile is the layout of srp.json.
type vectorFile struct {
	Description  string      `json:"description"`
	Construction string      `json:"construction"`
	Group        vectorGroup `json:"group"`
	Vectors      []vector    `json:"vectors"`
}

type vectorGroup struct {
	Name string `json:"name"`
	N    string `json:"N"`
	G    string `json:"g"`
	Hash string `json:"hash"`
}

// vector is one handshake. The JSON names are the protocol's; a and A (b
// and B) differ only in case, which encoding/json resolves by preferring
// the exact match.
type vector struct {
	Name     string `json:"name"`
	Identity string `json:"identity"`
	Salt     string `json:"salt"`
	X        string `json:"x"`
	SecretA  string `json:"a"`
	SecretB  string `json:"b"`
	K        string `json:"k"`
	V        string `json:"v"`
	A        string `json:"A"`
	B        string `json:"B"`
	U        string `json:"u"`
	S        string `json:"S"`
	Key      string `json:"K"`
	M1       string `json:"M1"`
	M2       string `json:"M2"`
}

// vectorInput derives a fixed test input from a label, so the inputs are
// visibly arbitrary.
func vectorInput(label string, size int) []byte {
	h := sha256.Sum256([]byte("coffer srp test vector " + label))
	return h[:size]
}

// vectorInputs returns the inputs of each vector. The counters of
// "leading-zeros" were found by trying 0, 1, 2, ... until v, A, and then
// B and S together, began with a zero byte; TestVectors checks that they
// still do.
func vectorInputs() []vector {
	const xCounter, aCounter, bCounter = 41, 139, 7755
	return []vector{
		{
			Name:     "basic",
			Identity: "alice@example.com",
			Salt:     hex.EncodeToString(vectorInput("basic/salt", 16)),
			X:        hex.EncodeToString(vectorInput("basic/x", 32)),
			SecretA:  hex.EncodeToString(vectorInput("basic/a", 32)),
			SecretB:  hex.EncodeToString(vectorInput("basic/b", 32)),
		},
		{
			Name:     "leading-zeros",
			Identity: "zoë@example.com",
			Salt:     hex.EncodeToString(vectorInput("leading-zeros/salt", 32)),
			X:        hex.EncodeToString(vectorInput("leading-zeros/x/"+strconv.Itoa(xCounter), 32)),
			SecretA:  hex.EncodeToString(vectorInput("leading-zeros/a/"+strconv.Itoa(aCounter), 32)),
			SecretB:  hex.EncodeToString(vectorInput("leading-zeros/b/"+strconv.Itoa(bCounter), 32)),
		},
	}
}

// runVector fills in the outputs of in by running the package's client and
// server with the vector's fixed secrets.
func runVector(t *testing.T, g *Group, in vector) vector {
	t.Helper()
	identity := []byte(in.Identity)
	salt, x := unhex(t, in.Salt), unhex(t, in.X)
	a, b := unhex(t, in.SecretA), unhex(t, in.SecretB)

	tr, err := g.VectorTranscript(identity, salt, x, a, b)
	if err != nil {
		t.Fatalf("%s: %v", in.Name, err)
	}

	out := in
	out.K = hex.EncodeToString(g.hash(g.nBytes, g.gPad))
	out.V = hex.EncodeToString(tr.V)
	out.A = hex.EncodeToString(tr.A)
	out.B = hex.EncodeToString(tr.B)
	out.U = hex.EncodeToString(tr.U)
	out.S = hex.EncodeToString(tr.S)
	out.Key = hex.EncodeToString(tr.K)
	out.M1 = hex.EncodeToString(tr.M1)
	out.M2 = hex.EncodeToString(tr.M2)
	return out
}

// referenceVector computes the outputs of in from the formulas in
// vectorConstruction with plain math/big, sharing no code with the package,
// as a browser implementation would.
func referenceVector(t *testing.T, grp vectorGroup, in vector) vector {
	t.Helper()
	N := new(big.Int).SetBytes(unhex(t, grp.N))
	gen := new(big.Int).SetBytes(unhex(t, grp.G))
	size := len(unhex(t, grp.N))
	num := func(h string) *big.Int { return new(big.Int).SetBytes(unhex(t, h)) }
	padded := func(z *big.Int) []byte { return z.FillBytes(make([]byte, size)) }
	H := func(parts ...[]byte) []byte {
		h := sha256.New()
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	mod := func(z *big.Int) *big.Int { return z.Mod(z, N) }

	x, a, b := num(in.X), num(in.SecretA), num(in.SecretB)
	kBytes := H(padded(N), padded(gen))
	k := new(big.Int).SetBytes(kBytes)
	v := new(big.Int).Exp(gen, x, N)
	A := new(big.Int).Exp(gen, a, N)
	B := mod(new(big.Int).Add(new(big.Int).Mul(k, v), new(big.Int).Exp(gen, b, N)))
	uBytes := H(padded(A), padded(B))
	u := new(big.Int).SetBytes(uBytes)
	base := mod(new(big.Int).Sub(B, new(big.Int).Mul(k, new(big.Int).Exp(gen, x, N))))
	S := new(big.Int).Exp(base, new(big.Int).Add(a, new(big.Int).Mul(u, x)), N)
	serverS := new(big.Int).Exp(mod(new(big.Int).Mul(A, new(big.Int).Exp(v, u, N))), b, N)
	if S.Cmp(serverS) != 0 {
		t.Fatalf("%s: reference client and server S differ", in.Name)
	}
	K := H(padded(S))
	hN, hg := H(padded(N)), H(padded(gen))
	for i := range hN {
		hN[i] ^= hg[i]
	}
	m1 := H(hN, H([]byte(in.Identity)), unhex(t, in.Salt), padded(A), padded(B), K)
	m2 := H(padded(A), m1, K)

	out := in
	out.K = hex.EncodeToString(kBytes)
	out.V = hex.EncodeToString(padded(v))
	out.A = hex.EncodeToString(padded(A))
	out.B = hex.EncodeToString(padded(B))
	out.U = hex.EncodeToString(uBytes)
	out.S = hex.EncodeToString(padded(S))
	out.Key = hex.EncodeToString(K)
	out.M1 = hex.EncodeToString(m1)
	out.M2 = hex.EncodeToString(m2)
	return out
}

func generateVectors(t *testing.T) vectorFile {
	g := Group3072()
	f := vectorFile{
		Description:  vectorDescription,
		Construction: vectorConstruction,
		Group: vectorGroup{
			Name: "rfc5054-3072-sha256",
			N:    hex.EncodeToString(g.nBytes),
			G:    "05",
			Hash: "SHA-256",
		},
	}
	for _, in := range vectorInputs() {
		f.Vectors = append(f.Vectors, runVector(t, g, in))
	}
	return f
}

// TestVectors checks testdata/vectors/srp.json against the implementation
// and against an independent math/big computation of the documented
// formulas. With -update it rewrites the file first.
func TestVectors(t *testing.T) {
	want := generateVectors(t)
	if *update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", vectorPath)
	}

	data, err := os.ReadFile(vectorPath)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/srp -run TestVectors -update to create it)", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var got vectorFile
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("parsing %s: %v", vectorPath, err)
	}

	if got.Description != want.Description {
		t.Errorf("description = %q, want %q", got.Description, want.Description)
	}
	if got.Construction != want.Construction {
		t.Errorf("construction = %q, want %q", got.Construction, want.Construction)
	}
	if got.Group != want.Group {
		t.Errorf("group = %+v, want %+v", got.Group, want.Group)
	}
	if len(got.Vectors) != len(want.Vectors) {
		t.Fatalf("%d vectors, want %d", len(got.Vectors), len(want.Vectors))
	}
	for i, gv := range got.Vectors {
		wv := want.Vectors[i]
		compareVector(t, "file vs implementation", gv, wv)
		// Recompute from the inputs in the file, not ours, so the file
		// is checked as the browser will read it.
		compareVector(t, "file vs reference", gv, referenceVector(t, got.Group, gv))
	}

	// The padding vector must keep testing padding.
	lz := got.Vectors[1]
	for _, f := range []struct{ name, value string }{{"v", lz.V}, {"A", lz.A}, {"B", lz.B}, {"S", lz.S}} {
		if len(f.value) < 2 || f.value[:2] != "00" {
			t.Errorf("leading-zeros: %s does not begin with a zero byte", f.name)
		}
	}
}

// compareVector reports every field of got that differs from want.
func compareVector(t *testing.T, what string, got, want vector) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		field := gv.Type().Field(i)
		if g, w := gv.Field(i).String(), wv.Field(i).String(); g != w {
			t.Errorf("%s: vector %q: %s = %s, want %s", what, want.Name, field.Tag.Get("json"), g, w)
		}
	}
}
