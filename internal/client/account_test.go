package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

var ctx = context.Background()

func newClient(t testing.TB) (*client.Client, *client.Config) {
	t.Helper()
	cfg, err := client.OpenConfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return client.New(cfg, nil), cfg
}

func signup(t *testing.T, url, user, pw string) (*client.Client, crypto.RecoveryKey) {
	t.Helper()
	c, _ := newClient(t)
	rk, err := c.Signup(ctx, url, user, []byte(pw))
	if err != nil {
		t.Fatalf("signup %s: %v", user, err)
	}
	if _, err := c.Login(ctx, url, user, []byte(pw)); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c, rk
}

func wantAPIError(t *testing.T, err error, status int) {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != status {
		t.Fatalf("got %v, want an API error with status %d", err, status)
	}
}

func TestAccountLifecycle(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	laptop, rk := signup(t, env.URL, "alice", "first password")

	if _, err := laptop.Signup(ctx, env.URL, "alice", []byte("x")); err == nil {
		t.Fatal("a taken name must be refused")
	}
	acc, err := laptop.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Session.User != "alice" || !acc.Keys.MatchesBundle(acc.Bundle) {
		t.Fatal("opened account does not hold alice's keys")
	}

	// A second device, listed, then revoked from the first: cut off at once.
	desktop, _ := newClient(t)
	desktop.DeviceName = "desktop"
	dsess, err := desktop.Login(ctx, env.URL, "alice", []byte("first password"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := laptop.Sessions(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("sessions: %v %+v", err, list)
	}
	var sawDesktop, sawCurrent bool
	for _, s := range list {
		sawDesktop = sawDesktop || (s.ID == dsess.SessionID && s.DeviceName == "desktop" && !s.CreatedAt.IsZero() && !s.LastSeenAt.IsZero())
		sawCurrent = sawCurrent || (s.Current && s.ID == acc.Session.SessionID)
	}
	if !sawDesktop || !sawCurrent {
		t.Fatalf("session list lacks the desktop or the current session: %+v", list)
	}
	if err := laptop.RevokeSession(ctx, dsess.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := desktop.Open(ctx); err == nil {
		t.Fatal("a revoked session must stop working")
	}

	// Wrong password: refused, identically to an unknown user.
	other, _ := newClient(t)
	_, errWrong := other.Login(ctx, env.URL, "alice", []byte("wrong"))
	wantAPIError(t, errWrong, http.StatusUnauthorized)
	_, errUnknown := other.Login(ctx, env.URL, "nosuchuser", []byte("wrong"))
	wantAPIError(t, errUnknown, http.StatusUnauthorized)
	var a1, a2 *client.APIError
	errors.As(errWrong, &a1)
	errors.As(errUnknown, &a2)
	if a1.Code != a2.Code || a1.Message != a2.Message {
		t.Fatalf("wrong password and unknown user must look the same: %+v vs %+v", a1, a2)
	}

	// Change the password: other sessions go, this one stays.
	if _, err := desktop.Login(ctx, env.URL, "alice", []byte("first password")); err != nil {
		t.Fatal(err)
	}
	if err := laptop.ChangePassword(ctx, []byte("not it"), []byte("second password")); err == nil {
		t.Fatal("a wrong current password must not change the password")
	}
	if err := laptop.ChangePassword(ctx, []byte("first password"), []byte("second password")); err != nil {
		t.Fatal(err)
	}
	if _, err := laptop.Open(ctx); err != nil {
		t.Fatalf("the session that changed the password must survive: %v", err)
	}
	if _, err := desktop.Open(ctx); err == nil {
		t.Fatal("other sessions must be revoked by a password change")
	}
	if _, err := other.Login(ctx, env.URL, "alice", []byte("first password")); err == nil {
		t.Fatal("the old password must no longer work")
	}
	acc2, err := other.Login(ctx, env.URL, "alice", []byte("second password"))
	if err != nil {
		t.Fatalf("the new password must work: %v", err)
	}
	if acc2.Epoch != 2 {
		t.Fatalf("epoch after one change: %d", acc2.Epoch)
	}

	// Recovery: a wrong key fails; the right one sets a new password and
	// logs out every session.
	wrongKey, _ := crypto.NewRecoveryKey()
	rescuer, _ := newClient(t)
	if _, err := rescuer.Recover(ctx, env.URL, "alice", wrongKey, []byte("third password")); err == nil {
		t.Fatal("a wrong recovery key must fail")
	}
	if _, err := rescuer.Recover(ctx, env.URL, "nosuchuser", rk, []byte("third password")); err == nil {
		t.Fatal("recovering an unknown user must fail")
	}
	if _, err := rescuer.Recover(ctx, env.URL, "alice", rk, []byte("third password")); err != nil {
		t.Fatalf("recover: %v", err)
	}
	if _, err := laptop.Open(ctx); err == nil {
		t.Fatal("recovery must log out every earlier session")
	}
	if _, err := other.Login(ctx, env.URL, "alice", []byte("third password")); err != nil {
		t.Fatalf("the recovered password must work: %v", err)
	}
	// The keys are the same keys: the fingerprint did not change.
	acc3, err := other.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if acc3.Bundle.Fingerprint() != acc.Bundle.Fingerprint() {
		t.Fatal("recovery must keep the account keys")
	}

	if err := other.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(ctx); !errors.Is(err, client.ErrNotLoggedIn) {
		t.Fatalf("after logout: %v", err)
	}
}

// TestTamperedLoginFailsClosed puts a malicious layer between the client
// and the server and checks that each change makes login fail, with no
// session saved.
func TestTamperedLoginFailsClosed(t *testing.T) {
	// Many logins in a row: a lenient throttle keeps a 429 from passing
	// for a detected tampering.
	lenient := server.DefaultThrottlePolicy()
	lenient.FreeAccount, lenient.FreeIP, lenient.FreeDevice = 1000, 1000, 1000
	env := servertest.Start(t, server.Options{Throttle: &lenient})
	signup(t, env.URL, "alice", "alice pw")
	signup(t, env.URL, "bob", "bob pw")
	bob, err := env.Store.UserByName(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	proxy := servertest.NewTamper(t, env.URL)
	// A validly signed bundle that names alice, but with keys the server made.
	evil, err := crypto.GenerateAccountKeys()
	if err != nil {
		t.Fatal(err)
	}
	forgedAlice, err := evil.SignBundle("alice", time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}

	finish := func(edit func(*api.LoginFinishResponse)) func([]byte) []byte {
		return servertest.EditJSON(edit)
	}
	cases := []struct {
		name string
		path string
		rule func([]byte) []byte
		want error // nil: any error
	}{
		{"sealed keys bit flip", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.SealedKeys = servertest.FlipBit(r.SealedKeys, 200) }), nil},
		{"sealed keys truncated", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.SealedKeys = r.SealedKeys[:len(r.SealedKeys)-1] }), nil},
		{"sealed keys version byte", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.SealedKeys = servertest.FlipBit(r.SealedKeys, 0) }), nil},
		{"sealed keys empty", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.SealedKeys = nil }), nil},
		{"sealed keys of another user", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.SealedKeys = bob.SealedKeys }), nil},
		{"epoch changed", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.Epoch++ }), nil},
		{"bundle of another user", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.PublicBundle = bob.PublicBundle }), nil},
		{"bundle for alice with other keys", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.PublicBundle = forgedAlice }), nil},
		{"bundle bit flip", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.PublicBundle = servertest.FlipBit(r.PublicBundle, 800) }), nil},
		{"bundle missing", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.PublicBundle = nil }), nil},
		{"server proof bit flip", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.M2 = servertest.FlipBit(r.M2, 3) }), client.ErrServerProof},
		{"server proof missing", api.PathLoginFinish, finish(func(r *api.LoginFinishResponse) { r.M2 = nil }), client.ErrServerProof},
		{"KDF memory downgraded", api.PathLoginStart, servertest.EditJSON(func(r *api.LoginStartResponse) { r.KDF.MemoryKiB = 32 * 1024 }), crypto.ErrWeakKDF},
		{"KDF iterations downgraded", api.PathLoginStart, servertest.EditJSON(func(r *api.LoginStartResponse) { r.KDF.Iterations = 1 }), crypto.ErrWeakKDF},
		{"KDF algorithm swapped", api.PathLoginStart, servertest.EditJSON(func(r *api.LoginStartResponse) { r.KDF.Alg = "pbkdf2" }), nil},
		{"KDF absurdly costly", api.PathLoginStart, servertest.EditJSON(func(r *api.LoginStartResponse) { r.KDF.MemoryKiB = 1 << 31 }), crypto.ErrKDFTooCostly},
		{"salt swapped", api.PathLoginStart, servertest.EditJSON(func(r *api.LoginStartResponse) { r.Salt = bob.Salt }), nil},
		{"B zero", api.PathLoginStart, servertest.EditJSON(func(r *api.LoginStartResponse) { r.B = make([]byte, len(r.B)) }), nil},
		{"protocol version", api.PathInfo, servertest.EditJSON(func(r *api.Info) { r.Version = 2 }), nil},
		{"SRP group", api.PathInfo, servertest.EditJSON(func(r *api.Info) { r.SRP = "rfc5054-1024-sha1" }), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy.Reset()
			proxy.On(tc.path, tc.rule)
			c, cfg := newClient(t)
			_, err := c.Login(ctx, proxy.URL, "alice", []byte("alice pw"))
			if err == nil {
				t.Fatal("login through a tampering server succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// Except where the change breaks the proof the honest server
			// then checks (a swapped salt), the client itself must catch it.
			var ae *client.APIError
			if errors.As(err, &ae) && (tc.name != "salt swapped" || ae.Code != api.CodeAuthFailed) {
				t.Fatalf("the failure came from the server (%v), not from the client's own checks", err)
			}
			if _, serr := cfg.Session(); !errors.Is(serr, client.ErrNotLoggedIn) {
				t.Fatalf("a failed login must save no session (%v)", serr)
			}
		})
	}
	// The same client logs in fine once the tampering stops.
	proxy.Reset()
	c, _ := newClient(t)
	if _, err := c.Login(ctx, proxy.URL, "alice", []byte("alice pw")); err != nil {
		t.Fatalf("honest proxy: %v", err)
	}
}

// TestRollbackOfCredentialsDetected: a server restores an account's old
// credentials (as from an old backup). A device that saw the newer ones
// refuses the older, even with the old password.
func TestRollbackOfCredentialsDetected(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	c, _ := signup(t, env.URL, "alice", "old pw")
	old, err := env.Store.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ChangePassword(ctx, []byte("old pw"), []byte("new pw")); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.ReplaceCredentials(ctx, old.ID, 2, old.Credentials, ""); err != nil {
		t.Fatal(err)
	}
	_, err = c.Login(ctx, env.URL, "alice", []byte("old pw"))
	if !errors.Is(err, client.ErrRollback) {
		t.Fatalf("got %v, want ErrRollback", err)
	}
	// A sealed blob relabelled with the newer epoch does not open either.
	proxy := servertest.NewTamper(t, env.URL)
	proxy.On(api.PathLoginFinish, servertest.EditJSON(func(r *api.LoginFinishResponse) { r.Epoch = 2 }))
	if _, err := c.Login(ctx, proxy.URL, "alice", []byte("old pw")); err == nil || errors.Is(err, client.ErrRollback) {
		t.Fatalf("relabelled epoch: got %v, want a decryption failure", err)
	}
}

func TestFingerprintPinning(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	alice, aliceCfg := newClient(t)
	if _, err := alice.Signup(ctx, env.URL, "alice", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Login(ctx, env.URL, "alice", []byte("a")); err != nil {
		t.Fatal(err)
	}
	bobC, _ := signup(t, env.URL, "bob", "b")
	signup(t, env.URL, "carol", "c")

	bobOwn, err := bobC.Fingerprint(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	seen, err := alice.Fingerprint(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if seen.Pinned || seen.Fingerprint != bobOwn.Fingerprint {
		t.Fatalf("alice sees %+v, bob shows %s", seen, bobOwn.Fingerprint)
	}
	if _, err := alice.Verify(ctx, "bob", "00000 11111 22222 33333 44444 55555 66666 77777 88888 99999 00000 11111"); err == nil {
		t.Fatal("verify with a wrong fingerprint must fail")
	}
	if _, err := alice.Verify(ctx, "bob", bobOwn.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if pk, err := alice.Fingerprint(ctx, "bob"); err != nil || !pk.Pinned {
		t.Fatalf("after verify: %+v %v", pk, err)
	}

	proxy := servertest.NewTamper(t, env.URL)
	viaProxy := func(t *testing.T) *client.Client {
		// Alice's config, but talking through the tampering proxy.
		return client.New(aliceCfg, redirectTo(t, proxy.URL))
	}
	carol, err := env.Store.UserByName(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("another user's bundle", func(t *testing.T) {
		proxy.On("/v1/users/bob/bundle", servertest.EditJSON(func(r *api.BundleResponse) { r.PublicBundle = carol.PublicBundle }))
		if _, err := viaProxy(t).Fingerprint(ctx, "bob"); err == nil {
			t.Fatal("carol's bundle served as bob's must be refused")
		}
	})
	t.Run("swapped key for bob", func(t *testing.T) {
		evil, err := crypto.GenerateAccountKeys()
		if err != nil {
			t.Fatal(err)
		}
		forged, err := evil.SignBundle("bob", time.Now().Unix())
		if err != nil {
			t.Fatal(err)
		}
		proxy.On("/v1/users/bob/bundle", servertest.EditJSON(func(r *api.BundleResponse) { r.PublicBundle = forged }))
		_, err = viaProxy(t).Fingerprint(ctx, "bob")
		if !errors.Is(err, client.ErrKeyChanged) {
			t.Fatalf("got %v, want ErrKeyChanged", err)
		}
	})
	t.Run("bundle bit flip", func(t *testing.T) {
		proxy.On("/v1/users/bob/bundle", servertest.EditJSON(func(r *api.BundleResponse) { r.PublicBundle = servertest.FlipBit(r.PublicBundle, 500) }))
		if _, err := viaProxy(t).Fingerprint(ctx, "bob"); err == nil {
			t.Fatal("a flipped bundle must be refused")
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// redirectTo returns an HTTP client that sends every request to target,
// as if the network between client and server were hostile.
func redirectTo(t *testing.T, target string) *http.Client {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

// TestPasswordChangeWaitsForServerProof: a server that cannot prove it
// knows the account (wrong M2) gets nothing derived from the new password,
// and the password stays as it was.
func TestPasswordChangeWaitsForServerProof(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	_, cfg := newClient(t)
	honest := client.New(cfg, nil)
	if _, err := honest.Signup(ctx, env.URL, "alice", []byte("old pw")); err != nil {
		t.Fatal(err)
	}
	if _, err := honest.Login(ctx, env.URL, "alice", []byte("old pw")); err != nil {
		t.Fatal(err)
	}
	proxy := servertest.NewTamper(t, env.URL)
	var sawNewCredentials bool
	proxy.On(api.PathPasswordProof, servertest.EditJSON(func(r *api.PasswordProofResponse) { r.M2 = servertest.FlipBit(r.M2, 9) }))
	proxy.On(api.PathPassword, func(b []byte) []byte { sawNewCredentials = true; return b })
	err := client.New(cfg, redirectTo(t, proxy.URL)).ChangePassword(ctx, []byte("old pw"), []byte("new pw"))
	if !errors.Is(err, client.ErrServerProof) {
		t.Fatalf("got %v, want ErrServerProof", err)
	}
	if sawNewCredentials {
		t.Fatal("new credentials were sent before the server proved itself")
	}
	other, _ := newClient(t)
	if _, err := other.Login(ctx, env.URL, "alice", []byte("old pw")); err != nil {
		t.Fatalf("the password must be unchanged: %v", err)
	}
}
