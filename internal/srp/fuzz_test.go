package srp

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzUnmarshalServerState feeds arbitrary records to UnmarshalServerState.
// It must never panic; whatever it accepts must re-encode to the same bytes
// and must still refuse a proof that was not made for it.
func FuzzUnmarshalServerState(f *testing.F) {
	g := Group3072()
	c, err := newClientWithSecret(g, vectorInput("fuzz/a", 32))
	if err != nil {
		f.Fatal(err)
	}
	s, err := newServerWithSecret(g, g.Verifier([]byte{1, 2, 3}), c.A(), vectorInput("fuzz/b", 32))
	if err != nil {
		f.Fatal(err)
	}
	valid := s.MarshalState()
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(append(bytes.Clone(valid), 0))
	f.Add([]byte{})
	f.Add([]byte{stateVersion})
	f.Add(append([]byte{2}, valid[1:]...))

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := UnmarshalServerState(g, data)
		if err != nil {
			if !errors.Is(err, ErrMalformedState) || s != nil {
				t.Fatalf("UnmarshalServerState = %v, %v", s, err)
			}
			return
		}
		if !bytes.Equal(s.MarshalState(), data) {
			t.Fatal("accepted state does not re-encode to the same bytes")
		}
		m2, err := s.Verify(testIdentity, testSalt, make([]byte, 32))
		if !errors.Is(err, ErrBadProof) || m2 != nil || s.Key() != nil {
			t.Fatalf("Verify(zero proof) = %x, %v", m2, err)
		}
	})
}

// FuzzServer runs NewServer and Verify on arbitrary A, verifier and M1. It
// must never panic, must refuse A only with ErrIllegalParameter, and must
// refuse every proof it is given with ErrBadProof.
func FuzzServer(f *testing.F) {
	g := Group3072()
	v := g.Verifier([]byte{4, 5, 6})
	c, err := newClientWithSecret(g, vectorInput("fuzz/a", 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.A(), v, make([]byte, 32))
	f.Add([]byte{0}, v, []byte{})
	f.Add(g.nBytes, v, []byte{1})
	f.Add([]byte{1}, []byte{}, make([]byte, 32))
	f.Add(append([]byte{0}, c.A()...), bytes.Repeat([]byte{0xff}, g.Size()+1), []byte("M1"))

	f.Fuzz(func(t *testing.T, pubA, verifier, m1 []byte) {
		s, err := NewServer(g, verifier, pubA)
		if err != nil {
			if !errors.Is(err, ErrIllegalParameter) || s != nil {
				t.Fatalf("NewServer = %v, %v", s, err)
			}
			return
		}
		if len(s.B()) != g.Size() {
			t.Fatalf("len(B) = %d", len(s.B()))
		}
		// b is fresh and random, so no input can hold the matching proof.
		m2, err := s.Verify(testIdentity, testSalt, m1)
		if !errors.Is(err, ErrBadProof) || m2 != nil || s.Key() != nil {
			t.Fatalf("Verify = %x, %v", m2, err)
		}
	})
}
