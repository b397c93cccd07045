package crypto

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

func testKey(b byte) *[32]byte {
	var k [32]byte
	for i := range k {
		k[i] = b + byte(i)
	}
	return &k
}

// mustFailOpen asserts that open fails with ErrDecrypt for sealed.
func mustFailOpen(t *testing.T, what string, open func([]byte) error, sealed []byte) {
	t.Helper()
	if err := open(sealed); !errors.Is(err, ErrDecrypt) {
		t.Errorf("%s: error = %v, want ErrDecrypt", what, err)
	}
}

// tamperAll checks every single-bit flip, every truncation and an appended
// byte of sealed. That covers the version byte, each nonce byte, each
// ciphertext byte and each tag byte.
func tamperAll(t *testing.T, sealed []byte, open func([]byte) error) {
	t.Helper()
	for i := range sealed {
		for bit := range 8 {
			mustFailOpen(t, "flip byte "+strconv.Itoa(i)+" bit "+strconv.Itoa(bit), open, flip(sealed, i, 1<<bit))
		}
	}
	for n := range len(sealed) {
		mustFailOpen(t, "truncate to "+strconv.Itoa(n), open, sealed[:n])
	}
	mustFailOpen(t, "append a byte", open, append(bytes.Clone(sealed), 0))
	mustFailOpen(t, "append a tag's worth", open, append(bytes.Clone(sealed), make([]byte, tagSize)...))
}

func TestEnvelopeRoundTrip(t *testing.T) {
	key := testKey(1)
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("secret"), 100)} {
		sealed, err := sealEnvelope(key, labelAccountKeys, []byte("fields"), pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != envelopeOverhead+len(pt) {
			t.Fatalf("sealed length %d, want %d", len(sealed), envelopeOverhead+len(pt))
		}
		if sealed[0] != envelopeVersion {
			t.Fatalf("version byte %#x", sealed[0])
		}
		got, err := openEnvelope(key, labelAccountKeys, []byte("fields"), sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip: got %x, want %x", got, pt)
		}
	}
}

func TestEnvelopeFreshNonce(t *testing.T) {
	key := testKey(1)
	a, err := sealEnvelope(key, labelAccountKeys, nil, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := sealEnvelope(key, labelAccountKeys, nil, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[1:1+nonceSize], b[1:1+nonceSize]) {
		t.Fatal("two seals used the same nonce")
	}
}

func TestEnvelopeTamper(t *testing.T) {
	key := testKey(1)
	sealed, err := sealEnvelope(key, labelAccountKeys, []byte("fields"), []byte("plaintext"))
	if err != nil {
		t.Fatal(err)
	}
	open := func(s []byte) error {
		_, err := openEnvelope(key, labelAccountKeys, []byte("fields"), s)
		return err
	}
	tamperAll(t, sealed, open)
	mustFailOpen(t, "nil", open, nil)

	wrong := []struct {
		name   string
		key    *[32]byte
		label  string
		fields string
	}{
		{"other key", testKey(2), labelAccountKeys, "fields"},
		{"other label", key, labelRecoveryKeys, "fields"},
		{"other fields", key, labelAccountKeys, "fieldz"},
		{"no fields", key, labelAccountKeys, ""},
		// The 0x00 after the label keeps label and fields apart.
		{"label/fields boundary moved", key, labelAccountKeys + "\x00f", "ields"},
	}
	for _, w := range wrong {
		if _, err := openEnvelope(w.key, w.label, []byte(w.fields), sealed); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", w.name, err)
		}
	}
}

func TestEnvelopeUnsupportedVersion(t *testing.T) {
	key := testKey(1)
	sealed, err := sealEnvelope(key, labelAccountKeys, nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []byte{0x00, 0x02, 0xff} {
		s := bytes.Clone(sealed)
		s[0] = v
		_, err := openEnvelope(key, labelAccountKeys, nil, s)
		if !errors.Is(err, ErrDecrypt) || !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("version %#x: error = %v, want ErrDecrypt and ErrUnsupportedVersion", v, err)
		}
	}
	// A bad tag must not look like a version problem.
	_, err = openEnvelope(key, labelAccountKeys, nil, flip(sealed, len(sealed)-1, 1))
	if errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("bad tag reported as unsupported version: %v", err)
	}
}
