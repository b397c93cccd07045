package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestLocalKeys(t *testing.T) {
	keys := mustKeys(t)
	unlock := seq(0xf0, UnlockKeySize)
	const server, user, session = "https://coffer.example", "alice", "s1"
	cache, err := SealLocalKeys(unlock, server, user, session, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(cache) != SealedAccountKeysSize {
		t.Fatalf("cache is %d bytes, want %d", len(cache), SealedAccountKeysSize)
	}
	got, err := OpenLocalKeys(unlock, server, user, session, cache)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Marshal(), keys.Marshal()) {
		t.Fatal("round trip changed the keys")
	}
	tamperAll(t, cache, func(s []byte) error {
		_, err := OpenLocalKeys(unlock, server, user, session, s)
		return err
	})
	// The AD fields are length-prefixed, so moving a byte between them
	// is detected.
	shifted, err := SealLocalKeys(unlock, server+"a", "lice", session, keys)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                  string
		unlock                []byte
		server, user, session string
		cache                 []byte
	}{
		{"other session", unlock, server, user, "s2", cache},
		{"other server", unlock, "https://evil.example", user, session, cache},
		{"other user", unlock, server, "bob", session, cache},
		{"other unlock key", seq(0xf1, UnlockKeySize), server, user, session, cache},
		{"short unlock key", unlock[:31], server, user, session, cache},
		{"nil unlock key", nil, server, user, session, cache},
		{"field boundary moved", unlock, server, user, session, shifted},
		{"password-sealed blob", unlock, server, user, session, mustSeal(t, keys)},
	}
	for _, c := range cases {
		if _, err := OpenLocalKeys(c.unlock, c.server, c.user, c.session, c.cache); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", c.name, err)
		}
	}
	if _, err := SealLocalKeys(unlock[:16], server, user, session, keys); err == nil {
		t.Error("sealed under a 16-byte unlock key")
	}
}

// mustSeal seals keys under a KEK equal to the local KEK of the test unlock
// key, so only the label tells the two slots apart.
func mustSeal(t *testing.T, keys *AccountKeys) []byte {
	t.Helper()
	kek, err := localKEK(seq(0xf0, UnlockKeySize))
	if err != nil {
		t.Fatal(err)
	}
	s, err := SealAccountKeys(kek, "alice", 1, keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
