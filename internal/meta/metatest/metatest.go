// Package metatest is the conformance suite for meta.Store. Every
// implementation runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		metatest.Run(t, func(t *testing.T) meta.Store { ... })
//	}
//
// The suite uses only the meta.Store interface, so it pins down the
// behaviour callers may rely on whatever the database underneath.
package metatest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// Run runs the suite. Every subtest calls open for a store of its own, which
// must be empty; open is responsible for closing it (with t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) meta.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Users", userTests},
		{"ReplaceCredentials", credentialTests},
		{"Challenges", challengeTests},
		{"Sessions", sessionTests},
		{"Devices", deviceTests},
		{"Throttles", throttleTests},
		{"Secret", secretTests},
		{"Leases", leaseTests},
		{"Store", storeTests},
		{"Volumes", volumeTests},
		{"Nodes", nodeTests},
		{"UpdateNode", updateTests},
		{"CommitRevision", revisionTests},
		{"RevisionReuse", reuseTests},
		{"Trash", trashTests},
		{"Blocks", blockTests},
		{"DriveConcurrency", driveConcurrencyTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, open(t))
				})
			}
		})
	}
	runShares(t, open)
	runReplace(t, open)
	runLinks(t, open)
	runStorage(t, open)
	runEvents(t, open)
}

type test struct {
	name string
	run  func(t *testing.T, s meta.Store)
}

// t0 is the suite's "now". It is a whole millisecond so that stores
// keeping only milliseconds still compare equal on boundaries.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

var userTests = []test{
	{"CreateAndGet", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		want := newUser("alice")
		id := createUser(t, s, want)
		if id <= 0 {
			t.Fatalf("CreateUser returned ID %d, want > 0", id)
		}
		want.ID = id

		got, err := s.UserByName(ctx, "alice")
		if err != nil {
			t.Fatalf("UserByName: %v", err)
		}
		checkUser(t, got, want)

		got, err = s.UserByID(ctx, id)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		checkUser(t, got, want)
	}},
	{"AllFieldsRoundTrip", func(t *testing.T, s meta.Store) {
		want := newUser("Zoë 雪 🐈 O'Brien \"x\"")
		want.KDF = meta.KDF{MemoryKiB: math.MaxUint32, Iterations: math.MaxUint32, Parallelism: math.MaxUint32}
		want.Epoch = math.MaxUint32
		want.PublicBundle = bytesOf(1<<20, 9) // larger than any page
		want.ID = createUser(t, s, want)
		got, err := s.UserByID(t.Context(), want.ID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		checkUser(t, got, want)
	}},
	{"DistinctIDs", func(t *testing.T, s meta.Store) {
		a := createUser(t, s, newUser("a"))
		b := createUser(t, s, newUser("b"))
		if a == b {
			t.Fatalf("two users got the same ID %d", a)
		}
	}},
	{"DuplicateName", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		first := newUser("alice")
		first.ID = createUser(t, s, first)

		dup := newUser("alice")
		dup.Salt = []byte("other salt")
		_, err := s.CreateUser(ctx, dup)
		wantErr(t, "CreateUser with a taken name", err, meta.ErrExists)

		got, err := s.UserByName(ctx, "alice")
		if err != nil {
			t.Fatalf("UserByName: %v", err)
		}
		checkUser(t, got, first)
	}},
	{"NameIsExact", func(t *testing.T, s meta.Store) {
		createUser(t, s, newUser("alice"))
		for _, name := range []string{"Alice", "ALICE", "alice ", " alice", "alic", ""} {
			_, err := s.UserByName(t.Context(), name)
			wantErr(t, "UserByName("+name+")", err, meta.ErrNotFound)
		}
	}},
	{"Missing", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		_, err := s.UserByName(ctx, "nobody")
		wantErr(t, "UserByName of a missing name", err, meta.ErrNotFound)
		_, err = s.UserByID(ctx, 4242)
		wantErr(t, "UserByID of a missing ID", err, meta.ErrNotFound)
		id := createUser(t, s, newUser("alice"))
		_, err = s.UserByID(ctx, id+1)
		wantErr(t, "UserByID of the next ID", err, meta.ErrNotFound)
	}},
	{"EmptyAndNilBytes", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		withNil := newUser("nil")
		withEmpty := newUser("empty")
		for i, p := range userBlobs(withNil) {
			*p = nil
			*userBlobs(withEmpty)[i] = []byte{}
		}
		idNil := createUser(t, s, withNil)
		idEmpty := createUser(t, s, withEmpty)
		gotNil, err := s.UserByID(ctx, idNil)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		gotEmpty, err := s.UserByID(ctx, idEmpty)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		fromNil, fromEmpty := userBlobs(gotNil), userBlobs(gotEmpty)
		for i := range fromNil {
			checkZeroLength(t, *fromNil[i], *fromEmpty[i])
		}
	}},
}

var credentialTests = []test{
	{"Replace", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		u := newUser("alice")
		u.ID = createUser(t, s, u)

		c := newCredentials(u.Epoch + 1)
		if err := s.ReplaceCredentials(ctx, u.ID, u.Epoch, c, ""); err != nil {
			t.Fatalf("ReplaceCredentials: %v", err)
		}
		want := *u
		want.Credentials = c
		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		checkUser(t, got, &want)

		// The old epoch is now stale.
		err = s.ReplaceCredentials(ctx, u.ID, u.Epoch, newCredentials(u.Epoch+1), "")
		wantErr(t, "ReplaceCredentials with the old epoch", err, meta.ErrConflict)
	}},
	{"WrongEpoch", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		u := newUser("alice")
		u.ID = createUser(t, s, u)
		createSession(t, s, newSession("s1", u.ID, t0))
		dev := tokenHash("device")
		addDevice(t, s, u.ID, dev)

		err := s.ReplaceCredentials(ctx, u.ID, u.Epoch+1, newCredentials(u.Epoch+2), "")
		wantErr(t, "ReplaceCredentials with a wrong epoch", err, meta.ErrConflict)

		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		checkUser(t, got, u)
		checkSessionIDs(t, s, u.ID, "s1")
		checkDevice(t, s, u.ID, dev, true)
	}},
	{"MissingUser", func(t *testing.T, s meta.Store) {
		err := s.ReplaceCredentials(t.Context(), 4242, 1, newCredentials(2), "")
		wantErr(t, "ReplaceCredentials of a missing user", err, meta.ErrNotFound)
	}},
	{"KeepsOneSession", func(t *testing.T, s meta.Store) {
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		for i, id := range []string{"a1", "a2", "a3"} {
			createSession(t, s, newSession(id, alice, t0.Add(time.Duration(i)*time.Minute)))
		}
		createSession(t, s, newSession("b1", bob, t0))
		createSession(t, s, newSession("b2", bob, t0.Add(time.Minute)))

		if err := s.ReplaceCredentials(t.Context(), alice, 1, newCredentials(2), "a2"); err != nil {
			t.Fatalf("ReplaceCredentials: %v", err)
		}
		checkSessionIDs(t, s, alice, "a2")
		checkSessionIDs(t, s, bob, "b1", "b2")
	}},
	{"KeepsNoSession", func(t *testing.T, s meta.Store) {
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		createSession(t, s, newSession("a1", alice, t0))
		createSession(t, s, newSession("a2", alice, t0.Add(time.Minute)))
		createSession(t, s, newSession("b1", bob, t0))

		if err := s.ReplaceCredentials(t.Context(), alice, 1, newCredentials(2), ""); err != nil {
			t.Fatalf("ReplaceCredentials: %v", err)
		}
		checkSessionIDs(t, s, alice)
		checkSessionIDs(t, s, bob, "b1")
	}},
	{"KeepIDOfAnotherUser", func(t *testing.T, s meta.Store) {
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		createSession(t, s, newSession("a1", alice, t0))
		createSession(t, s, newSession("b1", bob, t0))

		if err := s.ReplaceCredentials(t.Context(), alice, 1, newCredentials(2), "b1"); err != nil {
			t.Fatalf("ReplaceCredentials: %v", err)
		}
		checkSessionIDs(t, s, alice)
		checkSessionIDs(t, s, bob, "b1")
	}},
	{"DeletesDevices", func(t *testing.T, s meta.Store) {
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		laptop, phone, shared := tokenHash("laptop"), tokenHash("phone"), tokenHash("shared")
		for _, h := range [][]byte{laptop, phone, shared} {
			addDevice(t, s, alice, h)
		}
		addDevice(t, s, bob, shared)
		createSession(t, s, newSession("a1", alice, t0))

		// Keeping a session does not keep any device.
		if err := s.ReplaceCredentials(t.Context(), alice, 1, newCredentials(2), "a1"); err != nil {
			t.Fatalf("ReplaceCredentials: %v", err)
		}
		for _, h := range [][]byte{laptop, phone, shared} {
			checkDevice(t, s, alice, h, false)
		}
		checkDevice(t, s, bob, shared, true)
		checkSessionIDs(t, s, alice, "a1")

		// The account can learn devices again.
		addDevice(t, s, alice, laptop)
		checkDevice(t, s, alice, laptop, true)
	}},
	{"ConcurrentCreateSession", func(t *testing.T, s meta.Store) {
		CreateSessionsDuringReplace(t, []meta.Store{s}, "alice", 8)
	}},
	{"ConcurrentOneWins", func(t *testing.T, s meta.Store) {
		u := newUser("alice")
		u.ID = createUser(t, s, u)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c := newCredentials(u.Epoch + 1)
				c.Salt = []byte{byte(i)}
				errs[i] = s.ReplaceCredentials(t.Context(), u.ID, u.Epoch, c, "")
			})
		}
		wg.Wait()
		var won []int
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, i)
			case !errors.Is(err, meta.ErrConflict):
				t.Errorf("ReplaceCredentials #%d: %v, want nil or ErrConflict", i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d concurrent ReplaceCredentials with the same epoch succeeded (%v), want 1", len(won), won)
		}
		got, err := s.UserByID(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		if want := []byte{byte(won[0])}; !slices.Equal(got.Salt, want) {
			t.Errorf("Salt = %x, want the winner's %x", got.Salt, want)
		}
	}},
	{"EmptyAndNilBytes", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		var got [2]*meta.User
		for i, b := range [][]byte{nil, {}} {
			id := createUser(t, s, newUser(string(rune('a'+i))))
			c := meta.Credentials{Salt: b, Verifier: b, SealedKeys: b, Epoch: 2}
			if err := s.ReplaceCredentials(ctx, id, 1, c, ""); err != nil {
				t.Fatalf("ReplaceCredentials: %v", err)
			}
			var err error
			if got[i], err = s.UserByID(ctx, id); err != nil {
				t.Fatalf("UserByID: %v", err)
			}
		}
		checkZeroLength(t, got[0].Salt, got[1].Salt)
		checkZeroLength(t, got[0].Verifier, got[1].Verifier)
		checkZeroLength(t, got[0].SealedKeys, got[1].SealedKeys)
	}},
}

var challengeTests = []test{
	{"PutAndTake", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		uid := createUser(t, s, newUser("alice"))
		known := &meta.Challenge{ID: "c1", Kind: "login", UserName: "alice", UserID: uid,
			Epoch: math.MaxUint32, Data: bytesOf(300, 1), ExpiresAt: t0.Add(time.Minute)}
		unknown := &meta.Challenge{ID: "c2", Kind: "login", UserName: "ghost", UserID: 0,
			Epoch: 0, Data: bytesOf(40, 2), ExpiresAt: t0.Add(time.Minute)}
		for _, c := range []*meta.Challenge{known, unknown} {
			if err := s.PutChallenge(ctx, c); err != nil {
				t.Fatalf("PutChallenge(%s): %v", c.ID, err)
			}
		}
		for _, want := range []*meta.Challenge{known, unknown} {
			got, err := s.TakeChallenge(ctx, want.ID, want.Kind, t0)
			if err != nil {
				t.Fatalf("TakeChallenge(%s): %v", want.ID, err)
			}
			checkChallenge(t, got, want)
			_, err = s.TakeChallenge(ctx, want.ID, want.Kind, t0)
			wantErr(t, "second TakeChallenge", err, meta.ErrNotFound)
		}
	}},
	{"DuplicateID", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		c := newChallenge("c1", "login", t0.Add(time.Minute))
		if err := s.PutChallenge(ctx, c); err != nil {
			t.Fatalf("PutChallenge: %v", err)
		}
		dup := newChallenge("c1", "recover", t0.Add(time.Hour))
		wantErr(t, "PutChallenge with a taken ID", s.PutChallenge(ctx, dup), meta.ErrExists)
		got, err := s.TakeChallenge(ctx, "c1", "login", t0)
		if err != nil {
			t.Fatalf("TakeChallenge: %v", err)
		}
		checkChallenge(t, got, c)
	}},
	{"Missing", func(t *testing.T, s meta.Store) {
		_, err := s.TakeChallenge(t.Context(), "nope", "login", t0)
		wantErr(t, "TakeChallenge of a missing ID", err, meta.ErrNotFound)
	}},
	{"WrongKind", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		c := newChallenge("c1", "passwd", t0.Add(time.Minute))
		if err := s.PutChallenge(ctx, c); err != nil {
			t.Fatalf("PutChallenge: %v", err)
		}
		for _, kind := range []string{"login", "recover", "", "PASSWD"} {
			_, err := s.TakeChallenge(ctx, "c1", kind, t0)
			wantErr(t, "TakeChallenge of kind "+kind, err, meta.ErrNotFound)
		}
		// Asking with the wrong kind does not use the challenge up.
		got, err := s.TakeChallenge(ctx, "c1", "passwd", t0)
		if err != nil {
			t.Fatalf("TakeChallenge with the right kind: %v", err)
		}
		checkChallenge(t, got, c)
	}},
	{"Expired", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		if err := s.PutChallenge(ctx, newChallenge("old", "login", t0.Add(-time.Millisecond))); err != nil {
			t.Fatalf("PutChallenge: %v", err)
		}
		_, err := s.TakeChallenge(ctx, "old", "login", t0)
		wantErr(t, "TakeChallenge of an expired challenge", err, meta.ErrNotFound)

		// Expiring exactly now is not "expired before now".
		edge := newChallenge("edge", "login", t0)
		if err := s.PutChallenge(ctx, edge); err != nil {
			t.Fatalf("PutChallenge: %v", err)
		}
		got, err := s.TakeChallenge(ctx, "edge", "login", t0)
		if err != nil {
			t.Fatalf("TakeChallenge of a challenge expiring now: %v", err)
		}
		checkChallenge(t, got, edge)
	}},
	{"ConcurrentTakeOnce", func(t *testing.T, s meta.Store) {
		c := newChallenge("c1", "login", t0.Add(time.Minute))
		if err := s.PutChallenge(t.Context(), c); err != nil {
			t.Fatalf("PutChallenge: %v", err)
		}
		const n = 20
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				var got *meta.Challenge
				got, errs[i] = s.TakeChallenge(t.Context(), "c1", "login", t0)
				if errs[i] == nil {
					checkChallenge(t, got, c)
				}
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, meta.ErrNotFound):
				t.Errorf("TakeChallenge #%d: %v, want nil or ErrNotFound", i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent TakeChallenge calls succeeded, want 1", ok, n)
		}
	}},
	{"EmptyAndNilBytes", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		var got [2]*meta.Challenge
		for i, b := range [][]byte{nil, {}} {
			c := newChallenge(string(rune('a'+i)), "login", t0)
			c.Data = b
			if err := s.PutChallenge(ctx, c); err != nil {
				t.Fatalf("PutChallenge: %v", err)
			}
			var err error
			if got[i], err = s.TakeChallenge(ctx, c.ID, c.Kind, t0); err != nil {
				t.Fatalf("TakeChallenge: %v", err)
			}
		}
		checkZeroLength(t, got[0].Data, got[1].Data)
	}},
}

var sessionTests = []test{
	{"CreateAndLookUp", func(t *testing.T, s meta.Store) {
		uid := createUser(t, s, newUser("alice"))
		want := newSession("s1", uid, t0)
		createSession(t, s, want)
		got, err := s.SessionByTokenHash(t.Context(), want.TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash: %v", err)
		}
		checkSession(t, got, want)
	}},
	{"LookUpMissing", func(t *testing.T, s meta.Store) {
		uid := createUser(t, s, newUser("alice"))
		createSession(t, s, newSession("s1", uid, t0))
		for _, h := range [][]byte{tokenHash("s2"), tokenHash("s1")[:31], nil} {
			_, err := s.SessionByTokenHash(t.Context(), h)
			wantErr(t, "SessionByTokenHash of an unknown hash", err, meta.ErrNotFound)
		}
	}},
	{"LookUpIgnoresExpiry", func(t *testing.T, s meta.Store) {
		uid := createUser(t, s, newUser("alice"))
		want := newSession("s1", uid, t0.Add(-48*time.Hour))
		want.ExpiresAt = t0.Add(-24 * time.Hour)
		createSession(t, s, want)
		got, err := s.SessionByTokenHash(t.Context(), want.TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash of an expired session: %v", err)
		}
		checkSession(t, got, want)
	}},
	{"DuplicateIDOrTokenHash", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		first := newSession("s1", alice, t0)
		createSession(t, s, first)

		sameID := newSession("s1", bob, t0)
		wantErr(t, "CreateSession with a taken ID", s.CreateSession(ctx, sameID, 1), meta.ErrExists)
		sameHash := newSession("s2", bob, t0)
		sameHash.TokenHash = first.TokenHash
		wantErr(t, "CreateSession with a taken token hash", s.CreateSession(ctx, sameHash, 1), meta.ErrExists)

		checkSessionIDs(t, s, alice, "s1")
		checkSessionIDs(t, s, bob)
		got, err := s.SessionByTokenHash(ctx, first.TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash: %v", err)
		}
		checkSession(t, got, first)
	}},
	{"UnknownUser", func(t *testing.T, s meta.Store) {
		for _, epoch := range []uint32{0, 1} {
			err := s.CreateSession(t.Context(), newSession("s1", 4242, t0), epoch)
			wantErr(t, "CreateSession for a missing user", err, meta.ErrNotFound)
		}
	}},
	{"CurrentEpoch", func(t *testing.T, s meta.Store) {
		u := newUser("alice")
		u.Epoch = math.MaxUint32
		u.ID = createUser(t, s, u)
		want := newSession("s1", u.ID, t0)
		if err := s.CreateSession(t.Context(), want, math.MaxUint32); err != nil {
			t.Fatalf("CreateSession with the current epoch: %v", err)
		}
		got, err := s.SessionByTokenHash(t.Context(), want.TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash: %v", err)
		}
		checkSession(t, got, want)
	}},
	{"StaleEpoch", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		if err := s.ReplaceCredentials(ctx, alice, 1, newCredentials(2), ""); err != nil {
			t.Fatalf("ReplaceCredentials: %v", err)
		}

		// The epoch before the change fails, and so do epochs the
		// account never had.
		sess := newSession("s1", alice, t0)
		for _, epoch := range []uint32{1, 0, 3} {
			err := s.CreateSession(ctx, sess, epoch)
			wantErr(t, "CreateSession with a stale epoch", err, meta.ErrConflict)
		}
		checkSessionIDs(t, s, alice)
		_, err := s.SessionByTokenHash(ctx, sess.TokenHash)
		wantErr(t, "SessionByTokenHash of a refused session", err, meta.ErrNotFound)

		// Nothing of the refused session is left over to clash with.
		if err := s.CreateSession(ctx, sess, 2); err != nil {
			t.Fatalf("CreateSession with the current epoch: %v", err)
		}
		checkSessionIDs(t, s, alice, "s1")

		// The check is per account.
		if err := s.CreateSession(ctx, newSession("b1", bob, t0), 1); err != nil {
			t.Fatalf("CreateSession for bob: %v", err)
		}
		wantErr(t, "CreateSession with another account's epoch",
			s.CreateSession(ctx, newSession("b2", bob, t0), 2), meta.ErrConflict)
		checkSessionIDs(t, s, bob, "b1")
	}},
	{"Touch", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		uid := createUser(t, s, newUser("alice"))
		want := newSession("s1", uid, t0)
		createSession(t, s, want)
		other := newSession("s2", uid, t0)
		createSession(t, s, other)

		want.LastSeenAt = t0.Add(3 * time.Hour)
		want.ExpiresAt = t0.Add(3*time.Hour + 30*24*time.Hour)
		if err := s.TouchSession(ctx, "s1", want.LastSeenAt, want.ExpiresAt); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		got, err := s.SessionByTokenHash(ctx, want.TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash: %v", err)
		}
		checkSession(t, got, want)
		got, err = s.SessionByTokenHash(ctx, other.TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash: %v", err)
		}
		checkSession(t, got, other)

		err = s.TouchSession(ctx, "nope", t0, t0)
		wantErr(t, "TouchSession of a missing session", err, meta.ErrNotFound)
	}},
	{"ListOldestFirst", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		carol := createUser(t, s, newUser("carol"))
		// Created out of order, to tell "oldest first" from "as inserted".
		s3 := newSession("s3", alice, t0.Add(2*time.Hour))
		s1 := newSession("s1", alice, t0)
		s2 := newSession("s2", alice, t0.Add(time.Hour))
		for _, sess := range []*meta.Session{s3, s1, s2} {
			createSession(t, s, sess)
		}
		createSession(t, s, newSession("b1", bob, t0.Add(-time.Hour)))

		got, err := s.ListSessions(ctx, alice)
		if err != nil {
			t.Fatalf("ListSessions: %v", err)
		}
		want := []*meta.Session{s1, s2, s3}
		if len(got) != len(want) {
			t.Fatalf("ListSessions returned %d sessions, want %d", len(got), len(want))
		}
		for i := range want {
			checkSession(t, &got[i], want[i])
		}

		got, err = s.ListSessions(ctx, carol)
		if err != nil {
			t.Fatalf("ListSessions: %v", err)
		}
		if len(got) != 0 {
			t.Errorf("ListSessions of a user without sessions returned %d", len(got))
		}
	}},
	{"DeleteOwn", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		uid := createUser(t, s, newUser("alice"))
		gone := newSession("s1", uid, t0)
		createSession(t, s, gone)
		createSession(t, s, newSession("s2", uid, t0.Add(time.Minute)))

		if err := s.DeleteSession(ctx, uid, "s1"); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		checkSessionIDs(t, s, uid, "s2")
		_, err := s.SessionByTokenHash(ctx, gone.TokenHash)
		wantErr(t, "SessionByTokenHash of a deleted session", err, meta.ErrNotFound)
		wantErr(t, "second DeleteSession", s.DeleteSession(ctx, uid, "s1"), meta.ErrNotFound)
		wantErr(t, "DeleteSession of a missing ID", s.DeleteSession(ctx, uid, "nope"), meta.ErrNotFound)
	}},
	{"DeleteOtherUsers", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		want := newSession("a1", alice, t0)
		createSession(t, s, want)

		err := s.DeleteSession(ctx, bob, "a1")
		wantErr(t, "DeleteSession of another user's session", err, meta.ErrNotFound)
		checkSessionIDs(t, s, alice, "a1")
		got, err := s.SessionByTokenHash(ctx, want.TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash: %v", err)
		}
		checkSession(t, got, want)
	}},
	{"DeleteExpired", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		expiring := func(id string, uid int64, expires time.Time) {
			sess := newSession(id, uid, t0.Add(-72*time.Hour))
			sess.ExpiresAt = expires
			createSession(t, s, sess)
		}
		expiring("a-past", alice, t0.Add(-time.Millisecond))
		expiring("a-now", alice, t0) // expires at now: not before now, so kept
		expiring("a-future", alice, t0.Add(time.Hour))
		expiring("b-past", bob, t0.Add(-time.Hour))

		n, err := s.DeleteExpiredSessions(ctx, t0)
		if err != nil {
			t.Fatalf("DeleteExpiredSessions: %v", err)
		}
		if n != 2 {
			t.Errorf("DeleteExpiredSessions removed %d sessions, want 2", n)
		}
		checkSessionIDs(t, s, alice, "a-now", "a-future")
		checkSessionIDs(t, s, bob)

		if n, err = s.DeleteExpiredSessions(ctx, t0); err != nil || n != 0 {
			t.Errorf("second DeleteExpiredSessions = %d, %v; want 0, nil", n, err)
		}
	}},
	{"DeleteExpiredChallenges", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		old := newChallenge("old", "login", t0.Add(-time.Second))
		live := newChallenge("live", "login", t0.Add(time.Minute))
		for _, c := range []*meta.Challenge{old, live} {
			if err := s.PutChallenge(ctx, c); err != nil {
				t.Fatalf("PutChallenge: %v", err)
			}
		}
		if _, err := s.DeleteExpiredSessions(ctx, t0); err != nil {
			t.Fatalf("DeleteExpiredSessions: %v", err)
		}
		// Taken with a "now" at which it was still valid, so only its
		// removal can make this fail.
		_, err := s.TakeChallenge(ctx, "old", "login", t0.Add(-time.Hour))
		wantErr(t, "TakeChallenge of a swept challenge", err, meta.ErrNotFound)
		got, err := s.TakeChallenge(ctx, "live", "login", t0)
		if err != nil {
			t.Fatalf("TakeChallenge of a live challenge: %v", err)
		}
		checkChallenge(t, got, live)
	}},
	{"EmptyAndNilBytes", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		uid := createUser(t, s, newUser("alice"))
		var got [2]*meta.Session
		for i, b := range [][]byte{nil, {}} {
			sess := newSession(string(rune('a'+i)), uid, t0)
			sess.UnlockKey = b
			createSession(t, s, sess)
			var err error
			if got[i], err = s.SessionByTokenHash(ctx, sess.TokenHash); err != nil {
				t.Fatalf("SessionByTokenHash: %v", err)
			}
		}
		checkZeroLength(t, got[0].UnlockKey, got[1].UnlockKey)
	}},
	{"TimesInUTC", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		uid := createUser(t, s, newUser("alice"))
		zone := time.FixedZone("UTC+5:45", 5*3600+45*60)
		want := newSession("s1", uid, time.Date(2031, 3, 14, 15, 9, 26, 535_897_932, zone))
		want.LastSeenAt = time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, zone)
		want.ExpiresAt = time.Date(2199, 1, 1, 0, 0, 0, 1_000_000, time.FixedZone("west", -7*3600))
		createSession(t, s, want)
		got, err := s.SessionByTokenHash(ctx, want.TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash: %v", err)
		}
		checkSession(t, got, want)

		// A time carrying a monotonic reading, as time.Now does.
		now := time.Now()
		if err := s.TouchSession(ctx, "s1", now, now.Add(time.Hour)); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		if got, err = s.SessionByTokenHash(ctx, want.TokenHash); err != nil {
			t.Fatalf("SessionByTokenHash: %v", err)
		}
		checkTime(t, "LastSeenAt", got.LastSeenAt, now)
		checkTime(t, "ExpiresAt", got.ExpiresAt, now.Add(time.Hour))
	}},
}

var deviceTests = []test{
	{"StaleEpoch", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		u := newUser("alice")
		id := createUser(t, s, u)
		dev := tokenHash("device")
		err := s.AddDevice(ctx, id, dev, t0, u.Epoch+1)
		wantErr(t, "AddDevice with a stale epoch", err, meta.ErrConflict)
		checkDevice(t, s, id, dev, false)
		if err := s.AddDevice(ctx, id, dev, t0, u.Epoch); err != nil {
			t.Fatalf("AddDevice with the current epoch: %v", err)
		}
		checkDevice(t, s, id, dev, true)
		// Seen again: still one device, no error.
		if err := s.AddDevice(ctx, id, dev, t0.Add(time.Hour), u.Epoch); err != nil {
			t.Fatalf("AddDevice again: %v", err)
		}
	}},
	{"AddAndKnown", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		dev := tokenHash("device")
		checkDevice(t, s, alice, dev, false)

		if err := s.AddDevice(ctx, alice, dev, t0, epochOf(t, s, alice)); err != nil {
			t.Fatalf("AddDevice: %v", err)
		}
		checkDevice(t, s, alice, dev, true)
		checkDevice(t, s, bob, dev, false)
		checkDevice(t, s, alice, tokenHash("other"), false)
		checkDevice(t, s, alice, dev[:31], false)
	}},
	{"AddTwice", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		uid := createUser(t, s, newUser("alice"))
		dev := tokenHash("device")
		for i := range 2 {
			if err := s.AddDevice(ctx, uid, dev, t0.Add(time.Duration(i)*time.Hour), epochOf(t, s, uid)); err != nil {
				t.Fatalf("AddDevice #%d: %v", i+1, err)
			}
		}
		checkDevice(t, s, uid, dev, true)
	}},
	{"SameDeviceTwoUsers", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		dev := tokenHash("shared laptop")
		for _, uid := range []int64{alice, bob} {
			if err := s.AddDevice(ctx, uid, dev, t0, epochOf(t, s, uid)); err != nil {
				t.Fatalf("AddDevice: %v", err)
			}
			checkDevice(t, s, uid, dev, true)
		}
	}},
	{"UnknownUser", func(t *testing.T, s meta.Store) {
		err := s.AddDevice(t.Context(), 4242, tokenHash("device"), t0, 1)
		wantErr(t, "AddDevice for a missing user", err, meta.ErrNotFound)
	}},
}

var throttleTests = []test{
	{"GetMissing", func(t *testing.T, s meta.Store) {
		got, err := s.GetThrottle(t.Context(), "ip:192.0.2.1")
		if err != nil {
			t.Fatalf("GetThrottle: %v", err)
		}
		checkThrottle(t, got, meta.Throttle{Key: "ip:192.0.2.1"})
	}},
	{"Update", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		const key = "user:alice"
		want := meta.Throttle{Key: key, Failures: 3, LastFailure: t0, BlockedUntil: t0.Add(time.Minute)}
		got, err := s.UpdateThrottle(ctx, key, func(cur meta.Throttle) meta.Throttle {
			checkThrottle(t, cur, meta.Throttle{Key: key})
			return want
		})
		if err != nil {
			t.Fatalf("UpdateThrottle: %v", err)
		}
		checkThrottle(t, got, want)
		if got, err = s.GetThrottle(ctx, key); err != nil {
			t.Fatalf("GetThrottle: %v", err)
		}
		checkThrottle(t, got, want)

		// fn sees what the last update stored, and may clear the times.
		next := meta.Throttle{Key: key, Failures: 4, LastFailure: t0.Add(time.Second)}
		got, err = s.UpdateThrottle(ctx, key, func(cur meta.Throttle) meta.Throttle {
			checkThrottle(t, cur, want)
			return next
		})
		if err != nil {
			t.Fatalf("UpdateThrottle: %v", err)
		}
		checkThrottle(t, got, next)
		if got, err = s.GetThrottle(ctx, key); err != nil {
			t.Fatalf("GetThrottle: %v", err)
		}
		checkThrottle(t, got, next)

		other, err := s.GetThrottle(ctx, "user:bob")
		if err != nil {
			t.Fatalf("GetThrottle: %v", err)
		}
		checkThrottle(t, other, meta.Throttle{Key: "user:bob"})
	}},
	{"ConcurrentIncrements", func(t *testing.T, s meta.Store) {
		IncrementConcurrently(t, []meta.Store{s}, "ip:198.51.100.7", 50)
	}},
	{"Reset", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		for _, key := range []string{"a", "b"} {
			if _, err := s.UpdateThrottle(ctx, key, increment); err != nil {
				t.Fatalf("UpdateThrottle: %v", err)
			}
		}
		if err := s.ResetThrottle(ctx, "a"); err != nil {
			t.Fatalf("ResetThrottle: %v", err)
		}
		got, err := s.GetThrottle(ctx, "a")
		if err != nil {
			t.Fatalf("GetThrottle: %v", err)
		}
		checkThrottle(t, got, meta.Throttle{Key: "a"})
		if got, err = s.GetThrottle(ctx, "b"); err != nil {
			t.Fatalf("GetThrottle: %v", err)
		}
		if got.Failures != 1 {
			t.Errorf("resetting a also changed b: Failures = %d, want 1", got.Failures)
		}
		if err := s.ResetThrottle(ctx, "a"); err != nil {
			t.Errorf("ResetThrottle of a missing key: %v", err)
		}
		// Counting starts again from zero.
		if got, err = s.UpdateThrottle(ctx, "a", increment); err != nil || got.Failures != 1 {
			t.Errorf("UpdateThrottle after reset = %d, %v; want 1, nil", got.Failures, err)
		}
	}},
	{"DeleteStale", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		set := func(key string, last, blocked time.Time) {
			t.Helper()
			_, err := s.UpdateThrottle(ctx, key, func(th meta.Throttle) meta.Throttle {
				th.Failures = 3
				th.LastFailure = last
				th.BlockedUntil = blocked
				return th
			})
			if err != nil {
				t.Fatalf("UpdateThrottle %s: %v", key, err)
			}
		}
		set("old", t0.Add(-2*time.Hour), time.Time{})
		set("old-unblocked", t0.Add(-2*time.Hour), t0.Add(-time.Hour))
		set("old-but-blocked", t0.Add(-2*time.Hour), t0.Add(time.Hour))
		set("recent", t0.Add(time.Minute), time.Time{})
		n, err := s.DeleteStaleThrottles(ctx, t0)
		if err != nil {
			t.Fatalf("DeleteStaleThrottles: %v", err)
		}
		if n != 2 {
			t.Errorf("DeleteStaleThrottles deleted %d, want 2", n)
		}
		for key, want := range map[string]int{"old": 0, "old-unblocked": 0, "old-but-blocked": 3, "recent": 3} {
			got, err := s.GetThrottle(ctx, key)
			if err != nil {
				t.Fatalf("GetThrottle %s: %v", key, err)
			}
			if got.Failures != want {
				t.Errorf("%s: Failures = %d after the sweep, want %d", key, got.Failures, want)
			}
		}
	}},
}

var secretTests = []test{
	{"GeneratedOnce", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		calls := 0
		gen := func() ([]byte, error) {
			calls++
			return []byte("first value"), nil
		}
		for i := range 3 {
			got, err := s.Secret(ctx, "cookie", gen)
			if err != nil {
				t.Fatalf("Secret #%d: %v", i+1, err)
			}
			if string(got) != "first value" {
				t.Errorf("Secret #%d = %q, want %q", i+1, got, "first value")
			}
		}
		if calls != 1 {
			t.Errorf("gen called %d times, want 1", calls)
		}
	}},
	{"Independent", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		for _, name := range []string{"a", "b"} {
			got, err := s.Secret(ctx, name, func() ([]byte, error) { return []byte(name), nil })
			if err != nil {
				t.Fatalf("Secret(%s): %v", name, err)
			}
			if string(got) != name {
				t.Errorf("Secret(%s) = %q", name, got)
			}
		}
	}},
	{"BytesExact", func(t *testing.T, s meta.Store) {
		want := bytesOf(4096, 7)
		got, err := s.Secret(t.Context(), "k", func() ([]byte, error) { return slices.Clone(want), nil })
		if err != nil {
			t.Fatalf("Secret: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Secret returned other bytes than gen")
		}
		got, err = s.Secret(t.Context(), "k", failGen(t))
		if err != nil {
			t.Fatalf("Secret: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("stored secret differs from the generated one")
		}
	}},
	{"GenError", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		errGen := errors.New("entropy ran out")
		_, err := s.Secret(ctx, "k", func() ([]byte, error) { return []byte("partial"), errGen })
		wantErr(t, "Secret with a failing gen", err, errGen)

		// Nothing was stored: the next call generates afresh.
		calls := 0
		got, err := s.Secret(ctx, "k", func() ([]byte, error) { calls++; return []byte("good"), nil })
		if err != nil {
			t.Fatalf("Secret: %v", err)
		}
		if string(got) != "good" || calls != 1 {
			t.Errorf("Secret after a failed gen = %q with %d gen calls; want %q with 1", got, calls, "good")
		}
	}},
	{"ConcurrentFirstUse", func(t *testing.T, s meta.Store) {
		SecretConcurrently(t, []meta.Store{s}, "cookie", 20)
	}},
}

var storeTests = []test{
	{"Ping", func(t *testing.T, s meta.Store) {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}},
	{"CanceledContext", func(t *testing.T, s meta.Store) {
		live := t.Context()
		u := newUser("alice")
		u.ID = createUser(t, s, u)
		sess := newSession("s1", u.ID, t0)
		createSession(t, s, sess)
		if err := s.PutChallenge(live, newChallenge("c1", "login", t0.Add(time.Hour))); err != nil {
			t.Fatalf("PutChallenge: %v", err)
		}

		ctx, cancel := context.WithCancel(live)
		cancel()
		calls := []struct {
			name string
			call func() error
		}{
			{"CreateUser", func() error { _, err := s.CreateUser(ctx, newUser("bob")); return err }},
			{"UserByName", func() error { _, err := s.UserByName(ctx, "alice"); return err }},
			{"UserByID", func() error { _, err := s.UserByID(ctx, u.ID); return err }},
			{"ReplaceCredentials", func() error { return s.ReplaceCredentials(ctx, u.ID, 1, newCredentials(2), "") }},
			{"PutChallenge", func() error { return s.PutChallenge(ctx, newChallenge("c2", "login", t0)) }},
			{"TakeChallenge", func() error { _, err := s.TakeChallenge(ctx, "c1", "login", t0); return err }},
			{"CreateSession", func() error { return s.CreateSession(ctx, newSession("s2", u.ID, t0), u.Epoch) }},
			{"SessionByTokenHash", func() error { _, err := s.SessionByTokenHash(ctx, sess.TokenHash); return err }},
			{"TouchSession", func() error { return s.TouchSession(ctx, "s1", t0, t0) }},
			{"ListSessions", func() error { _, err := s.ListSessions(ctx, u.ID); return err }},
			{"DeleteSession", func() error { return s.DeleteSession(ctx, u.ID, "s1") }},
			{"DeleteExpiredSessions", func() error { _, err := s.DeleteExpiredSessions(ctx, t0.Add(1000*time.Hour)); return err }},
			{"AddDevice", func() error { return s.AddDevice(ctx, u.ID, tokenHash("d"), t0, u.Epoch) }},
			{"DeviceKnown", func() error { _, err := s.DeviceKnown(ctx, u.ID, tokenHash("d")); return err }},
			{"GetThrottle", func() error { _, err := s.GetThrottle(ctx, "k"); return err }},
			{"UpdateThrottle", func() error { _, err := s.UpdateThrottle(ctx, "k", increment); return err }},
			{"ResetThrottle", func() error { return s.ResetThrottle(ctx, "k") }},
			{"DeleteStaleThrottles", func() error { _, err := s.DeleteStaleThrottles(ctx, t0); return err }},
			{"Secret", func() error {
				_, err := s.Secret(ctx, "k", func() ([]byte, error) { return []byte("x"), nil })
				return err
			}},
			{"Ping", func() error { return s.Ping(ctx) }},
		}
		for _, c := range calls {
			done := make(chan error, 1)
			go func() { done <- c.call() }()
			select {
			case err := <-done:
				wantErr(t, c.name+" with a canceled context", err, context.Canceled)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s with a canceled context still running after 10s", c.name)
			}
		}

		// Nothing the canceled calls would have changed did change.
		got, err := s.UserByID(live, u.ID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		checkUser(t, got, u)
		checkSessionIDs(t, s, u.ID, "s1")
		if _, err := s.TakeChallenge(live, "c1", "login", t0); err != nil {
			t.Errorf("TakeChallenge after a canceled take: %v", err)
		}
		if th, err := s.GetThrottle(live, "k"); err != nil || th.Failures != 0 {
			t.Errorf("GetThrottle after a canceled update = %d, %v; want 0, nil", th.Failures, err)
		}
		if _, err := s.UserByName(live, "bob"); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("UserByName of a user created with a canceled context: %v, want ErrNotFound", err)
		}
	}},
	{"ContextEndsWaitForLock", func(t *testing.T, s meta.Store) {
		// A call waiting for a lock held by a stuck caller must give up
		// when its context ends rather than hang.
		ctx := t.Context()
		const key = "user:alice"
		if _, err := s.UpdateThrottle(ctx, key, increment); err != nil {
			t.Fatalf("UpdateThrottle: %v", err)
		}
		entered := make(chan struct{})
		release := make(chan struct{})
		var once sync.Once
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := s.UpdateThrottle(ctx, key, func(th meta.Throttle) meta.Throttle {
				once.Do(func() { close(entered) })
				<-release
				return increment(th)
			})
			if err != nil {
				t.Errorf("UpdateThrottle holding the lock: %v", err)
			}
		})
		<-entered

		waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := s.UpdateThrottle(waitCtx, key, func(th meta.Throttle) meta.Throttle {
				th.Failures += 1000
				return th
			})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("UpdateThrottle succeeded while another held the counter")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("UpdateThrottle gave up after %v, want about 200ms", d)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("UpdateThrottle still waiting 30s after its context ended")
		}
		close(release)
		wg.Wait()

		got, err := s.GetThrottle(ctx, key)
		if err != nil {
			t.Fatalf("GetThrottle: %v", err)
		}
		if got.Failures != 2 {
			t.Errorf("Failures = %d, want 2", got.Failures)
		}
	}},
}

// IncrementConcurrently has n goroutines, spread over stores (which must
// share one database), each add one failure to key, and checks that every
// increment counted and that each saw a different count before it. It is
// exported for implementations' own tests with several stores, such as two
// processes sharing a file.
func IncrementConcurrently(t *testing.T, stores []meta.Store, key string, n int) {
	t.Helper()
	ctx := t.Context()
	results := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			th, err := stores[i%len(stores)].UpdateThrottle(ctx, key, func(th meta.Throttle) meta.Throttle {
				th.Failures++
				th.LastFailure = t0.Add(time.Duration(i) * time.Millisecond)
				return th
			})
			results[i], errs[i] = th.Failures, err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateThrottle #%d: %v", i, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// Serialised increments return 1, 2, ..., n in some order; a lost
	// update shows up as a repeated value.
	slices.Sort(results)
	for i, got := range results {
		if got != i+1 {
			t.Fatalf("the increments returned counts %v, want 1 to %d once each", results, n)
		}
	}
	for i, s := range stores {
		th, err := s.GetThrottle(ctx, key)
		if err != nil {
			t.Fatalf("GetThrottle via store %d: %v", i, err)
		}
		if th.Failures != n {
			t.Errorf("after %d concurrent increments Failures = %d via store %d", n, th.Failures, i)
		}
	}
}

// CreateSessionsDuringReplace checks that a login proven against old
// credentials can never leave a session behind after a password change. It
// creates the account name; then, in each of several rounds, n goroutines,
// spread over stores (which must share one database), keep creating sessions
// with the account's current epoch while ReplaceCredentials moves the epoch
// on and deletes every session. Every CreateSession that starts after
// ReplaceCredentials returned must fail with meta.ErrConflict, and once all
// are done the account must have no session. It is exported for
// implementations' own tests with several stores, such as two processes
// sharing a file.
func CreateSessionsDuringReplace(t *testing.T, stores []meta.Store, name string, n int) {
	t.Helper()
	ctx := t.Context()
	u := newUser(name)
	u.ID = createUser(t, stores[0], u)
	var seq atomic.Int64 // numbers the sessions, for unique IDs and token hashes
	for round := range 5 {
		old := u.Epoch + uint32(round)
		// The password changes once the goroutines have created n
		// sessions between them, so that it lands among their calls.
		var created atomic.Int32
		enough := make(chan struct{})
		var replaced atomic.Bool // set once ReplaceCredentials returned
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			st := stores[i%len(stores)]
			wg.Go(func() {
				<-start
				for {
					after := replaced.Load()
					id := fmt.Sprintf("%s-%d", name, seq.Add(1))
					err := st.CreateSession(ctx, newSession(id, u.ID, t0), old)
					switch {
					case err == nil && after:
						t.Errorf("round %d: CreateSession %s with epoch %d succeeded after ReplaceCredentials moved it on", round, id, old)
						return
					case err == nil:
						if created.Add(1) == int32(n) {
							close(enough)
						}
					case errors.Is(err, meta.ErrConflict):
						// Before ReplaceCredentials returned, a conflict
						// only means it has committed.
						if after {
							return
						}
					default:
						t.Errorf("round %d: CreateSession %s: %v, want nil or ErrConflict", round, id, err)
						return
					}
				}
			})
		}
		close(start)
		exited := make(chan struct{})
		go func() { wg.Wait(); close(exited) }()
		select {
		case <-enough:
		case <-exited: // all failed; reported above
		case <-time.After(30 * time.Second):
			t.Errorf("round %d: only %d sessions created in 30s, want %d before changing the password", round, created.Load(), n)
		}
		err := stores[0].ReplaceCredentials(ctx, u.ID, old, newCredentials(old+1), "")
		replaced.Store(true)
		wg.Wait()
		if err != nil {
			t.Fatalf("round %d: ReplaceCredentials: %v", round, err)
		}
		for i, st := range stores {
			list, err := st.ListSessions(ctx, u.ID)
			if err != nil {
				t.Fatalf("round %d: ListSessions via store %d: %v", round, i, err)
			}
			if len(list) != 0 {
				ids := make([]string, len(list))
				for j, sess := range list {
					ids[j] = sess.ID
				}
				t.Errorf("round %d: %d sessions created with epoch %d outlived the password change (via store %d): %q",
					round, len(list), old, i, ids)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// SecretConcurrently has n goroutines, spread over stores (which must share
// one database), ask at once for a secret that does not exist yet, each with
// a gen of its own, and checks that all of them get the same value.
func SecretConcurrently(t *testing.T, stores []meta.Store, name string, n int) {
	t.Helper()
	ctx := t.Context()
	var calls atomic.Int32
	gen := func() ([]byte, error) {
		calls.Add(1)
		return []byte(rand.Text()), nil
	}
	got := make([][]byte, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = stores[i%len(stores)].Secret(ctx, name, gen)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Secret #%d: %v", i, err)
		}
	}
	for i := range got {
		if !slices.Equal(got[i], got[0]) {
			t.Fatalf("concurrent first calls got different secrets: %q and %q", got[0], got[i])
		}
	}
	if calls.Load() < 1 {
		t.Fatalf("gen never called")
	}
	// Once settled, the value stays.
	for i, s := range stores {
		v, err := s.Secret(ctx, name, failGen(t))
		if err != nil {
			t.Fatalf("Secret via store %d: %v", i, err)
		}
		if !slices.Equal(v, got[0]) {
			t.Errorf("Secret via store %d = %q, want %q", i, v, got[0])
		}
	}
}

// RunShared runs the concurrency tests that need several stores on one
// database, as several server processes have: every check and update must
// hold across them, not just across one store's goroutines.
func RunShared(t *testing.T, stores []meta.Store) {
	t.Run("Lease", func(t *testing.T) {
		LeaseConcurrently(t, stores, 20)
	})
	t.Run("Quota", func(t *testing.T) {
		QuotaConcurrently(t, stores, "erin", 40)
	})
	t.Run("RevokeWhileOpened", func(t *testing.T) {
		RevokeWhileOpened(t, stores, "frank")
	})
	t.Run("LoginWhileUploading", func(t *testing.T) {
		LoginWhileUploading(t, stores, "grace", 20)
	})
	t.Run("ThrottleIncrements", func(t *testing.T) {
		IncrementConcurrently(t, stores, "ip:203.0.113.9", 100)
	})
	t.Run("Secret", func(t *testing.T) {
		SecretConcurrently(t, stores, "cookie", 20)
	})
	t.Run("CreateSessionsDuringReplace", func(t *testing.T) {
		CreateSessionsDuringReplace(t, stores, "alice", 8)
	})
	t.Run("CreateSameName", func(t *testing.T) {
		CreateSameNameConcurrently(t, stores, "bob", 20)
	})
	t.Run("CommitSameVersion", func(t *testing.T) {
		CommitConcurrently(t, stores, "carol", 20)
	})
	t.Run("CountDownloads", func(t *testing.T) {
		CountDownloadsConcurrently(t, stores, "dave", 40)
	})
	t.Run("EventsInCommitOrder", func(t *testing.T) {
		EventsInCommitOrder(t, stores, "heidi", 8, 10)
	})
	t.Run("TakeChallengeOnce", func(t *testing.T) {
		ctx := t.Context()
		exp := time.Now().Add(time.Hour)
		if err := stores[0].PutChallenge(ctx, &meta.Challenge{ID: "c", Kind: "login", ExpiresAt: exp}); err != nil {
			t.Fatalf("PutChallenge: %v", err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = stores[i%2].TakeChallenge(ctx, "c", "login", time.Now())
			})
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, meta.ErrNotFound):
				t.Errorf("TakeChallenge #%d: %v", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d TakeChallenge calls succeeded, want 1", ok)
		}
	})
}
