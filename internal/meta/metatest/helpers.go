package metatest

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// precision is the coarsest time resolution a store may keep.
const precision = time.Millisecond

// bytesOf returns n bytes that differ with seed and include 0x00 and 0xff,
// the values most likely to be mangled by text handling.
func bytesOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	if n > 0 {
		b[0] = 0x00
		b[n-1] = 0xff
	}
	return b
}

func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newCredentials(epoch uint32) meta.Credentials {
	seed := byte(epoch * 16)
	return meta.Credentials{
		Salt:       bytesOf(16, seed+1),
		KDF:        meta.KDF{MemoryKiB: 64 * 1024, Iterations: 3 + epoch, Parallelism: 4},
		Verifier:   bytesOf(384, seed+2),
		SealedKeys: bytesOf(120, seed+3),
		Epoch:      epoch,
	}
}

func newUser(name string) *meta.User {
	return &meta.User{
		Name:               name,
		CreatedAt:          t0,
		Credentials:        newCredentials(1),
		RecoverySealedKeys: bytesOf(120, 4),
		RecoveryAuthPub:    bytesOf(32, 5),
		PublicBundle:       bytesOf(500, 6),
	}
}

// userBlobs points at every byte-slice field of u.
func userBlobs(u *meta.User) []*[]byte {
	return []*[]byte{&u.Salt, &u.Verifier, &u.SealedKeys,
		&u.RecoverySealedKeys, &u.RecoveryAuthPub, &u.PublicBundle}
}

func newSession(id string, userID int64, created time.Time) *meta.Session {
	return &meta.Session{
		ID:         id,
		UserID:     userID,
		TokenHash:  tokenHash("token " + id),
		DeviceName: "laptop of " + id,
		CreatedAt:  created,
		LastSeenAt: created.Add(time.Minute),
		ExpiresAt:  created.Add(30 * 24 * time.Hour),
		UnlockKey:  bytesOf(32, byte(len(id))),
	}
}

func newChallenge(id, kind string, expires time.Time) *meta.Challenge {
	return &meta.Challenge{
		ID:        id,
		Kind:      kind,
		UserName:  "alice",
		UserID:    0,
		Epoch:     1,
		Data:      bytesOf(96, 8),
		ExpiresAt: expires,
	}
}

func createUser(t *testing.T, s meta.Store, u *meta.User) int64 {
	t.Helper()
	id, err := s.CreateUser(t.Context(), u)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Name, err)
	}
	return id
}

// createSession stores sess under its account's current credential epoch.
func createSession(t *testing.T, s meta.Store, sess *meta.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess, epochOf(t, s, sess.UserID)); err != nil {
		t.Fatalf("CreateSession(%q): %v", sess.ID, err)
	}
}

// epochOf returns the account's current credential epoch.
func epochOf(t *testing.T, s meta.Store, userID int64) uint32 {
	t.Helper()
	u, err := s.UserByID(t.Context(), userID)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", userID, err)
	}
	return u.Epoch
}

func addDevice(t *testing.T, s meta.Store, userID int64, hash []byte) {
	t.Helper()
	if err := s.AddDevice(t.Context(), userID, hash, t0, epochOf(t, s, userID)); err != nil {
		t.Fatalf("AddDevice(user %d): %v", userID, err)
	}
}

// increment is the throttle update of one failed attempt.
func increment(th meta.Throttle) meta.Throttle {
	th.Failures++
	th.LastFailure = t0
	return th
}

// failGen is a Secret generator for calls that must find the secret stored.
func failGen(t *testing.T) func() ([]byte, error) {
	return func() ([]byte, error) {
		t.Errorf("gen called for a secret that exists")
		return nil, errors.New("unexpected gen call")
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// checkTime checks that got is want, in UTC, to within the store's
// precision.
func checkTime(t *testing.T, field string, got, want time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", field, got.Location())
	}
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", field, got)
		}
		return
	}
	if d := got.Sub(want); d <= -precision || d >= precision {
		t.Errorf("%s = %v, want %v (off by %v)", field, got, want.UTC(), d)
	}
}

// checkZeroLength checks the round trip of a nil and an empty slice: both
// must come back empty, and in the same form, so that no caller ever needs
// to tell them apart.
func checkZeroLength(t *testing.T, fromNil, fromEmpty []byte) {
	t.Helper()
	if len(fromNil) != 0 || len(fromEmpty) != 0 {
		t.Errorf("zero-length slices came back as %x and %x", fromNil, fromEmpty)
	}
	if (fromNil == nil) != (fromEmpty == nil) {
		t.Errorf("nil came back as %#v but empty as %#v", fromNil, fromEmpty)
	}
}

func checkUser(t *testing.T, got, want *meta.User) {
	t.Helper()
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	g, w := *got, *want
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("user differs:\n got %+v\nwant %+v", summarise(g), summarise(w))
	}
}

// summarise shortens a user's byte slices for error messages.
func summarise(u meta.User) meta.User {
	for _, p := range userBlobs(&u) {
		if len(*p) > 16 {
			*p = append((*p)[:16:16], "..."...)
		}
	}
	return u
}

func checkSession(t *testing.T, got, want *meta.Session) {
	t.Helper()
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "LastSeenAt", got.LastSeenAt, want.LastSeenAt)
	checkTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	g, w := *got, *want
	g.CreatedAt, g.LastSeenAt, g.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
	w.CreatedAt, w.LastSeenAt, w.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("session differs:\n got %+v\nwant %+v", g, w)
	}
}

func checkChallenge(t *testing.T, got, want *meta.Challenge) {
	t.Helper()
	checkTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	g, w := *got, *want
	g.ExpiresAt, w.ExpiresAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("challenge differs:\n got %+v\nwant %+v", g, w)
	}
}

func checkThrottle(t *testing.T, got, want meta.Throttle) {
	t.Helper()
	checkTime(t, "LastFailure", got.LastFailure, want.LastFailure)
	checkTime(t, "BlockedUntil", got.BlockedUntil, want.BlockedUntil)
	if got.Key != want.Key || got.Failures != want.Failures {
		t.Errorf("throttle = %q with %d failures, want %q with %d", got.Key, got.Failures, want.Key, want.Failures)
	}
}

// checkSessionIDs checks the IDs of the account's sessions, oldest first.
func checkSessionIDs(t *testing.T, s meta.Store, userID int64, want ...string) {
	t.Helper()
	list, err := s.ListSessions(t.Context(), userID)
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	got := make([]string, len(list))
	for i, sess := range list {
		got[i] = sess.ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("sessions of user %d = %q, want %q", userID, got, want)
	}
}

func checkDevice(t *testing.T, s meta.Store, userID int64, hash []byte, want bool) {
	t.Helper()
	got, err := s.DeviceKnown(t.Context(), userID, hash)
	if err != nil {
		t.Fatalf("DeviceKnown: %v", err)
	}
	if got != want {
		t.Errorf("DeviceKnown(user %d, %x) = %v, want %v", userID, hash[:4], got, want)
	}
}
