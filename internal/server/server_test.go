package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
	"github.com/coffer-drive/coffer/internal/srp"
)

// call sends a raw request and returns the status, the headers and the body.
func call(t *testing.T, method, url, contentType string, body []byte, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func postJSON(t *testing.T, url string, v any, token string) (int, http.Header, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return call(t, http.MethodPost, url, "application/json", b, token)
}

// errorBody decodes the API error shape, failing the test if the body has
// another shape.
func errorBody(t *testing.T, b []byte) api.ErrorDetail {
	t.Helper()
	var eb api.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("body is not the API error shape: %q (%v)", b, err)
	}
	return eb.Error
}

// account signs up user with password and logs in with a fresh config
// folder, returning the client and its session.
func account(t *testing.T, env *servertest.Env, user, password string) (*client.Client, *client.SessionFile) {
	t.Helper()
	cfg, err := client.OpenConfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(cfg, nil)
	ctx := context.Background()
	if _, err := c.Signup(ctx, env.URL, user, []byte(password)); err != nil {
		t.Fatalf("signup %s: %v", user, err)
	}
	sess, err := c.Login(ctx, env.URL, user, []byte(password))
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c, sess
}

func TestBadInputGets4xxNotPanic(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	valid := `{"user":"alice","a":"AQ=="}`
	cases := []struct {
		name, path, ctype, body string
		status                  int
	}{
		{"wrong content type", api.PathLoginStart, "text/plain", valid, http.StatusUnsupportedMediaType},
		{"no content type", api.PathLoginStart, "", valid, http.StatusUnsupportedMediaType},
		{"malformed JSON", api.PathLoginStart, "application/json", `{"user":`, http.StatusBadRequest},
		{"not an object", api.PathLoginStart, "application/json", `[1,2]`, http.StatusBadRequest},
		{"unknown field", api.PathLoginStart, "application/json", `{"user":"alice","a":"AQ==","admin":true}`, http.StatusBadRequest},
		{"trailing data", api.PathLoginStart, "application/json", valid + `{}`, http.StatusBadRequest},
		{"non-UTF-8", api.PathLoginStart, "application/json", "{\"user\":\"al\xffice\",\"a\":\"AQ==\"}", http.StatusBadRequest},
		{"upper-case name", api.PathLoginStart, "application/json", `{"user":"Alice","a":"AQ=="}`, http.StatusBadRequest},
		{"path in name", api.PathLoginStart, "application/json", `{"user":"../etc","a":"AQ=="}`, http.StatusBadRequest},
		{"NUL in name", api.PathLoginStart, "application/json", `{"user":"a\u0000b","a":"AQ=="}`, http.StatusBadRequest},
		{"bad base64", api.PathLoginStart, "application/json", `{"user":"alice","a":"!!"}`, http.StatusBadRequest},
		{"A zero", api.PathLoginStart, "application/json", `{"user":"alice","a":"AA=="}`, http.StatusBadRequest},
		{"oversized", api.PathSignup, "application/json", `{"user":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
		{"signup empty", api.PathSignup, "application/json", `{}`, http.StatusBadRequest},
		{"finish unknown handshake", api.PathLoginFinish, "application/json", `{"handshake_id":"nope","m1":"AQ==","device_name":"d","unlock_key":"` + strings.Repeat("A", 43) + `="}`, http.StatusUnauthorized},
		{"recover finish unknown", api.PathRecoverFinish, "application/json", `{"challenge_id":"nope"}`, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := call(t, http.MethodPost, env.URL+tc.path, tc.ctype, []byte(tc.body), "")
			if status != tc.status {
				t.Fatalf("status %d, want %d; body %s", status, tc.status, body)
			}
			errorBody(t, body)
		})
	}
	t.Run("unknown endpoint", func(t *testing.T) {
		status, _, body := call(t, http.MethodGet, env.URL+"/v1/nope", "", nil, "")
		if status != http.StatusNotFound {
			t.Fatalf("status %d", status)
		}
		errorBody(t, body)
	})
	t.Run("wrong method", func(t *testing.T) {
		status, _, body := call(t, http.MethodGet, env.URL+api.PathSignup, "", nil, "")
		if status != http.StatusNotFound {
			t.Fatalf("status %d", status)
		}
		errorBody(t, body)
	})
	if bytes.Contains(env.Log.Bytes(), []byte("panic")) {
		t.Fatalf("server panicked:\n%s", env.Log.Bytes())
	}
}

func TestHealthAndInfo(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	if status, _, body := call(t, http.MethodGet, env.URL+api.PathHealth, "", nil, ""); status != http.StatusOK {
		t.Fatalf("healthz: %d %s", status, body)
	}
	status, _, body := call(t, http.MethodGet, env.URL+api.PathInfo, "", nil, "")
	var info api.Info
	if status != http.StatusOK || json.Unmarshal(body, &info) != nil || info.Version != api.Version || info.SRP != api.SRPGroup {
		t.Fatalf("info: %d %s", status, body)
	}
}

// authedEndpoints lists every endpoint that needs a session.
var authedEndpoints = []struct{ method, path string }{
	{http.MethodGet, api.PathMe},
	{http.MethodGet, api.PathSessions},
	{http.MethodDelete, "/v1/sessions/some-id"},
	{http.MethodPost, api.PathLogout},
	{http.MethodPost, api.PathPasswordProof},
	{http.MethodPost, api.PathPassword},
	{http.MethodGet, "/v1/users/alice/bundle"},
	{http.MethodGet, api.PathVolume},
	{http.MethodPost, api.PathVolume},
	{http.MethodPost, api.PathNodes},
	{http.MethodGet, "/v1/nodes/AAAAAAAAAAAAAAAAAAAAAA"},
	{http.MethodPut, "/v1/nodes/AAAAAAAAAAAAAAAAAAAAAA"},
	{http.MethodGet, "/v1/nodes/AAAAAAAAAAAAAAAAAAAAAA/children"},
	{http.MethodGet, "/v1/nodes/AAAAAAAAAAAAAAAAAAAAAA/revisions"},
	{http.MethodPost, "/v1/nodes/AAAAAAAAAAAAAAAAAAAAAA/revisions"},
	{http.MethodPost, "/v1/nodes/AAAAAAAAAAAAAAAAAAAAAA/trash"},
	{http.MethodPost, "/v1/nodes/AAAAAAAAAAAAAAAAAAAAAA/restore"},
	{http.MethodGet, api.PathTrash},
	{http.MethodDelete, api.PathTrash},
	{http.MethodPut, "/v1/blocks/" + strings.Repeat("ab", 32)},
	{http.MethodGet, "/v1/blocks/" + strings.Repeat("ab", 32)},
	{http.MethodPost, api.PathBlocksBatch},
	{http.MethodPost, api.PathBlocksMissing},
	{http.MethodPost, api.PathBlocksGet},
	{http.MethodGet, api.PathUsage},
}

func TestEveryAuthedEndpointRefusesBadTokens(t *testing.T) {
	env := servertest.Start(t, server.Options{SessionIdle: time.Hour})
	aliceC, alice := account(t, env, "alice", "alice password")
	_, bob := account(t, env, "bob", "bob password")
	ctx := context.Background()

	// A second session of alice's, revoked from the first.
	cfg2, _ := client.OpenConfig(t.TempDir())
	revoked, err := client.New(cfg2, nil).Login(ctx, env.URL, "alice", []byte("alice password"))
	if err != nil {
		t.Fatal(err)
	}
	if err := aliceC.RevokeSession(ctx, revoked.SessionID); err != nil {
		t.Fatal(err)
	}

	tokens := map[string]string{
		"missing":   "",
		"garbage":   "not-a-token",
		"too short": "AAAA",
		"unknown":   strings.Repeat("A", 43),
		"revoked":   revoked.Token,
	}
	for _, ep := range authedEndpoints {
		for name, tok := range tokens {
			status, _, body := call(t, ep.method, env.URL+ep.path, "application/json", []byte(`{}`), tok)
			if status != http.StatusUnauthorized {
				t.Errorf("%s %s with %s token: status %d, want 401", ep.method, ep.path, name, status)
				continue
			}
			if e := errorBody(t, body); e.Code != api.CodeUnauthorized {
				t.Errorf("%s %s with %s token: code %q", ep.method, ep.path, name, e.Code)
			}
		}
	}

	// Bob's token cannot revoke alice's session: it is as if it did not exist.
	status, _, _ := call(t, http.MethodDelete, env.URL+"/v1/sessions/"+alice.SessionID, "", nil, bob.Token)
	if status != http.StatusNotFound {
		t.Fatalf("bob revoking alice's session: status %d, want 404", status)
	}
	if _, err := aliceC.Open(ctx); err != nil {
		t.Fatalf("alice's session must survive bob's attempt: %v", err)
	}
	// Bob's token shows bob, never alice.
	status, _, body := call(t, http.MethodGet, env.URL+api.PathMe, "", nil, bob.Token)
	var me api.Me
	if status != http.StatusOK || json.Unmarshal(body, &me) != nil || me.User != "bob" {
		t.Fatalf("bob's /me: %d %s", status, body)
	}
	// Bob's proof cannot change alice's password even with his own token:
	// the handshake is for alice and the token is bob's.
	sc, err := srp.NewClient(srp.Group3072())
	if err != nil {
		t.Fatal(err)
	}
	_, _, body = postJSON(t, env.URL+api.PathLoginStart, api.LoginStartRequest{User: "alice", A: sc.A()}, "")
	var start api.LoginStartResponse
	if err := json.Unmarshal(body, &start); err != nil {
		t.Fatal(err)
	}
	status, _, _ = postJSON(t, env.URL+api.PathPasswordProof, api.PasswordProofRequest{HandshakeID: start.HandshakeID, M1: make([]byte, 32)}, bob.Token)
	if status != http.StatusUnauthorized {
		t.Fatalf("bob proving alice's password: status %d, want 401", status)
	}

	// Expiry: after the idle time without activity, the token is dead.
	env.Clock.Advance(time.Hour + time.Minute)
	for _, ep := range authedEndpoints {
		status, _, _ := call(t, ep.method, env.URL+ep.path, "application/json", []byte(`{}`), alice.Token)
		if status != http.StatusUnauthorized {
			t.Errorf("%s %s with expired token: status %d, want 401", ep.method, ep.path, status)
		}
	}
}

func TestSessionActivityExtendsExpiry(t *testing.T) {
	env := servertest.Start(t, server.Options{SessionIdle: time.Hour})
	_, alice := account(t, env, "alice", "pw one")
	for range 3 {
		env.Clock.Advance(50 * time.Minute)
		if status, _, body := call(t, http.MethodGet, env.URL+api.PathMe, "", nil, alice.Token); status != http.StatusOK {
			t.Fatalf("active session expired: %d %s", status, body)
		}
	}
}

// loginStart begins a raw SRP handshake.
func loginStart(t *testing.T, url, user string, device []byte) (int, http.Header, api.LoginStartResponse) {
	t.Helper()
	sc, err := srp.NewClient(srp.Group3072())
	if err != nil {
		t.Fatal(err)
	}
	status, hdr, body := postJSON(t, url+api.PathLoginStart, api.LoginStartRequest{User: user, A: sc.A(), DeviceToken: device}, "")
	var resp api.LoginStartResponse
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
	}
	return status, hdr, resp
}

// wrongProof runs a handshake with a wrong M1 and returns the finish status and error.
func wrongProof(t *testing.T, url, user string) (int, api.ErrorDetail) {
	t.Helper()
	status, _, start := loginStart(t, url, user, nil)
	if status != http.StatusOK {
		return status, api.ErrorDetail{}
	}
	req := api.LoginFinishRequest{HandshakeID: start.HandshakeID, M1: make([]byte, 32), DeviceName: "attacker", UnlockKey: make([]byte, 32)}
	status, _, body := postJSON(t, url+api.PathLoginFinish, req, "")
	return status, errorBody(t, body)
}

func TestUnknownUsersLookLikeRealOnes(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	account(t, env, "alice", "right password")

	_, _, a1 := loginStart(t, env.URL, "nobody", nil)
	_, _, a2 := loginStart(t, env.URL, "nobody", nil)
	_, _, other := loginStart(t, env.URL, "somebody", nil)
	_, _, real := loginStart(t, env.URL, "alice", nil)
	if !bytes.Equal(a1.Salt, a2.Salt) || a1.KDF != a2.KDF {
		t.Fatal("fake salt for an unknown user must be stable")
	}
	if bytes.Equal(a1.Salt, other.Salt) {
		t.Fatal("fake salts must differ per name")
	}
	if len(a1.Salt) != len(real.Salt) || a1.KDF != real.KDF || len(a1.B) != len(real.B) {
		t.Fatalf("fake answer differs in shape from a real one: %+v vs %+v", a1, real)
	}
	// A second instance on the same store answers the same.
	env2 := servertest.StartOn(t, env.Store, env.Blobs, env.Dir, server.Options{})
	_, _, a3 := loginStart(t, env2.URL, "nobody", nil)
	if !bytes.Equal(a1.Salt, a3.Salt) {
		t.Fatal("instances sharing a store must give the same fake salt")
	}

	sUnknown, eUnknown := wrongProof(t, env.URL, "nobody")
	sWrong, eWrong := wrongProof(t, env.URL, "alice")
	if sUnknown != sWrong || eUnknown != eWrong {
		t.Fatalf("unknown user (%d %+v) and wrong password (%d %+v) must get the same answer", sUnknown, eUnknown, sWrong, eWrong)
	}
}

func TestThrottleBlocksGuessingButNotKnownDevices(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	ownerC, _ := account(t, env, "alice", "right password")
	policy := server.DefaultThrottlePolicy()

	// Every attempt is counted when it starts; the first FreeAccount+1 are
	// answered, and the last of them sets a 1 s block.
	for i := range policy.FreeAccount + 1 {
		if status, e := wrongProof(t, env.URL, "alice"); status != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d %+v", i, status, e)
		}
	}
	status, hdr, _ := loginStart(t, env.URL, "alice", nil)
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "1" {
		t.Fatalf("blocked account: status %d, Retry-After %q; want 429 with Retry-After 1", status, hdr.Get("Retry-After"))
	}
	// The block lives in the store: another instance enforces it too.
	env2 := servertest.StartOn(t, env.Store, env.Blobs, env.Dir, server.Options{})
	env2.Clock.Advance(env.Clock.Now().Sub(env2.Clock.Now()))
	if status, _, _ := loginStart(t, env2.URL, "alice", nil); status != http.StatusTooManyRequests {
		t.Fatalf("second instance: status %d, want 429", status)
	}
	// A new device cannot log in, even with the right password...
	cfg, _ := client.OpenConfig(t.TempDir())
	_, err := client.New(cfg, nil).Login(context.Background(), env.URL, "alice", []byte("right password"))
	var ae *client.APIError
	if err == nil || !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests {
		t.Fatalf("new device during block: %v, want 429", err)
	}
	// ...but the owner's known device still can, and can change the password.
	if _, err := ownerC.Login(context.Background(), env.URL, "alice", []byte("right password")); err != nil {
		t.Fatalf("known device must not be locked out: %v", err)
	}
	// The next attempt after the block doubles it.
	env.Clock.Advance(time.Second)
	if status, _ := wrongProof(t, env.URL, "alice"); status != http.StatusUnauthorized {
		t.Fatalf("after the block: status %d", status)
	}
	if status, hdr, _ := loginStart(t, env.URL, "alice", nil); status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "2" {
		t.Fatalf("second block: status %d, Retry-After %q; want 429 with 2", status, hdr.Get("Retry-After"))
	}
	// It ends by itself.
	env.Clock.Advance(policy.Max + time.Second)
	if status, _, _ := loginStart(t, env.URL, "alice", nil); status != http.StatusOK {
		t.Fatalf("after the block: status %d", status)
	}
}

// TestThrottleHoldsUnderParallelAttempts opens many handshakes at once:
// counting happens atomically with the check, so no more than the allowed
// number get through.
func TestThrottleHoldsUnderParallelAttempts(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	account(t, env, "alice", "pw")
	policy := server.DefaultThrottlePolicy()
	const attempts = 30
	statuses := make(chan int, attempts)
	var wg sync.WaitGroup
	for range attempts {
		wg.Go(func() {
			status, _, _ := loginStart(t, env.URL, "alice", nil)
			statuses <- status
		})
	}
	wg.Wait()
	close(statuses)
	var ok, blocked int
	for st := range statuses {
		switch st {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			blocked++
		default:
			t.Errorf("status %d", st)
		}
	}
	if ok > policy.FreeAccount+1 || ok+blocked != attempts {
		t.Fatalf("%d of %d parallel attempts got through; the limit is %d", ok, attempts, policy.FreeAccount+1)
	}
}

func TestThrottlePerIP(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	policy := server.DefaultThrottlePolicy()
	// Spread over many names, so no account counter trips first.
	for i := range policy.FreeIP + 1 {
		name := "user" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if status, _ := wrongProof(t, env.URL, name); status != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d", i, status)
		}
	}
	if status, _, _ := loginStart(t, env.URL, "yetanother", nil); status != http.StatusTooManyRequests {
		t.Fatalf("IP over its limit: status %d, want 429", status)
	}
}

// TestForwardedForOnlyFromTrustedProxies: behind a trusted proxy each
// client address has its own counter, taken from the last hop, which the
// client cannot forge; from anyone else the header is ignored.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	start := func(url, user string, xff ...string) int {
		sc, _ := srp.NewClient(srp.Group3072())
		b, _ := json.Marshal(api.LoginStartRequest{User: user, A: sc.A()})
		req, _ := http.NewRequest(http.MethodPost, url+api.PathLoginStart, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		for _, v := range xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	policy := server.DefaultThrottlePolicy()
	name := func(i int) string { return "n" + string(rune('a'+i%26)) + string(rune('a'+i/26)) }

	behind := servertest.Start(t, server.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for i := range policy.FreeIP + 1 {
		// A forged first line, and the proxy's own appended line.
		if st := start(behind.URL, name(i), "6.6.6."+string(rune('0'+i%10)), "203.0.113.7"); st != http.StatusOK {
			t.Fatalf("attempt %d: %d", i, st)
		}
	}
	if st := start(behind.URL, "another", "9.9.9.9", "203.0.113.7"); st != http.StatusTooManyRequests {
		t.Fatalf("the real client address must be blocked whatever it forges: %d", st)
	}
	if st := start(behind.URL, "another", "203.0.113.8"); st != http.StatusOK {
		t.Fatalf("another client behind the same proxy must not be blocked: %d", st)
	}

	direct := servertest.Start(t, server.Options{})
	for i := range policy.FreeIP + 1 {
		start(direct.URL, name(i), "198.51.100."+string(rune('0'+i%10)))
	}
	if st := start(direct.URL, "another", "198.51.100.200"); st != http.StatusTooManyRequests {
		t.Fatalf("without a trusted proxy the header must be ignored: %d", st)
	}
}

// TestHandshakeGoesStaleOnPasswordChange: a proof begun against the old
// credentials cannot finish after they changed, even if it is correct.
func TestHandshakeGoesStaleOnPasswordChange(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	account(t, env, "alice", "pw")
	ctx := context.Background()
	u, err := env.Store.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := srp.NewClient(srp.Group3072())
	if err != nil {
		t.Fatal(err)
	}
	_, _, body := postJSON(t, env.URL+api.PathLoginStart, api.LoginStartRequest{User: "alice", A: sc.A()}, "")
	var start api.LoginStartResponse
	if err := json.Unmarshal(body, &start); err != nil {
		t.Fatal(err)
	}
	pk, err := crypto.DerivePasswordKeys([]byte("pw"), "alice", start.Salt, crypto.DefaultKDF)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := sc.Finish([]byte("alice"), start.Salt, pk.SRPX, start.B)
	if err != nil {
		t.Fatal(err)
	}
	// Same verifier and salt, next epoch: only the epoch check can refuse.
	next := u.Credentials
	next.Epoch++
	if err := env.Store.ReplaceCredentials(ctx, u.ID, u.Epoch, next, ""); err != nil {
		t.Fatal(err)
	}
	req := api.LoginFinishRequest{HandshakeID: start.HandshakeID, M1: m1, DeviceName: "d", UnlockKey: make([]byte, 32)}
	status, _, body := postJSON(t, env.URL+api.PathLoginFinish, req, "")
	if status != http.StatusUnauthorized {
		t.Fatalf("stale handshake: %d %s", status, body)
	}
	if list, _ := env.Store.ListSessions(ctx, u.ID); len(list) != 0 {
		t.Fatalf("a stale proof left %d session(s)", len(list))
	}
}

// TestRecoveryRevealsNothingBeforeProof: before a valid recovery proof, a
// real account and a name with none get answers of the same shape.
func TestRecoveryRevealsNothingBeforeProof(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	account(t, env, "alice", "pw")
	startFor := func(user string) (int, api.RecoverChallenge, []byte) {
		status, _, body := postJSON(t, env.URL+api.PathRecoverStart, api.RecoverStartRequest{User: user}, "")
		var rc api.RecoverChallenge
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rc); err != nil {
			t.Fatalf("recover/start answer %s: %v", body, err)
		}
		return status, rc, body
	}
	s1, real, _ := startFor("alice")
	s2, fake, _ := startFor("nobody")
	if s1 != s2 || len(real.Challenge) != len(fake.Challenge) || len(real.ChallengeID) != len(fake.ChallengeID) {
		t.Fatalf("recover/start differs: %d %+v vs %d %+v", s1, real, s2, fake)
	}
	unlock := func(id string) (int, []byte) {
		status, _, body := postJSON(t, env.URL+api.PathRecoverUnlock, api.RecoverUnlockRequest{ChallengeID: id, Signature: make([]byte, 64)}, "")
		return status, body
	}
	u1, b1 := unlock(real.ChallengeID)
	u2, b2 := unlock(fake.ChallengeID)
	if u1 != http.StatusUnauthorized || u1 != u2 || !bytes.Equal(b1, b2) {
		t.Fatalf("recover/unlock with a bad signature differs: %d %s vs %d %s", u1, b1, u2, b2)
	}
	// A used challenge cannot be tried again.
	if st, _ := unlock(real.ChallengeID); st != http.StatusUnauthorized {
		t.Fatalf("replayed challenge: %d", st)
	}
}

func TestSessionMaxLifetime(t *testing.T) {
	env := servertest.Start(t, server.Options{SessionIdle: time.Hour, SessionMax: 2 * time.Hour})
	_, alice := account(t, env, "alice", "pw")
	for range 2 {
		env.Clock.Advance(50 * time.Minute)
		if status, _, _ := call(t, http.MethodGet, env.URL+api.PathMe, "", nil, alice.Token); status != http.StatusOK {
			t.Fatalf("active session ended early: %d", status)
		}
	}
	env.Clock.Advance(21 * time.Minute)
	if status, _, _ := call(t, http.MethodGet, env.URL+api.PathMe, "", nil, alice.Token); status != http.StatusUnauthorized {
		t.Fatalf("session past its maximum lifetime: %d, want 401", status)
	}
}
