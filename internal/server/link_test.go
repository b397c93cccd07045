package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
	"github.com/coffer-drive/coffer/internal/srp"
)

// linkEnv is a server with an owner whose drive the tests link.
type linkEnv struct {
	t     *testing.T
	env   *servertest.Env
	drive *client.Drive
	owner *client.SessionFile
	vol   []byte
	root  []byte
}

func newLinkEnv(t *testing.T) *linkEnv {
	t.Helper()
	env := servertest.Start(t, server.Options{})
	c, sess := account(t, env, "alice", "alice password")
	d, err := c.Drive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := &linkEnv{t: t, env: env, drive: d, owner: sess}
	var vr api.VolumeResponse
	e.getJSON("/v1/volume", sess.Token, &vr)
	e.vol, e.root = vr.Volume, vr.Root.ID
	return e
}

// getJSON GETs path with token and decodes a 200 answer into v.
func (e *linkEnv) getJSON(path, token string, v any) {
	e.t.Helper()
	status, _, body := call(e.t, http.MethodGet, e.env.URL+path, "", nil, token)
	if status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
}

func (e *linkEnv) mkdir(p string) *client.Entry {
	e.t.Helper()
	d, err := e.drive.Mkdir(context.Background(), p, true)
	if err != nil {
		e.t.Fatalf("mkdir %s: %v", p, err)
	}
	return d
}

// put uploads content to the file p (a new revision if it exists).
func (e *linkEnv) put(p, content string) *client.Entry {
	e.t.Helper()
	ctx := context.Background()
	local := filepath.Join(e.t.TempDir(), "f")
	if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := e.drive.Put(ctx, []string{local}, p, client.PutOptions{Overwrite: true}); err != nil {
		e.t.Fatalf("put %s: %v", p, err)
	}
	f, err := e.drive.Resolve(ctx, p)
	if err != nil {
		e.t.Fatalf("resolve %s: %v", p, err)
	}
	return f
}

// nodeAction trashes or restores a node as the owner.
func (e *linkEnv) nodeAction(id []byte, action string) {
	e.t.Helper()
	status, _, body := call(e.t, http.MethodPost, e.env.URL+"/v1/nodes/"+b64u(id)+"/"+action, "application/json", nil, e.owner.Token)
	if status != http.StatusOK {
		e.t.Fatalf("%s %x: %d %s", action, id, status, body)
	}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// testLink is a link the test made, with the SRP private value x that
// the owner's client would derive from its secret and password.
type testLink struct {
	id  []byte
	x   []byte
	req api.CreateLinkRequest
}

func (l *testLink) path(suffix string) string { return "/v1/links/" + b64u(l.id) + suffix }

// linkRequest returns a valid request for a link of kind to node, and the
// link's x.
func (e *linkEnv) linkRequest(node []byte, kind int) (api.CreateLinkRequest, []byte) {
	x := randBytes(e.t, 32)
	return api.CreateLinkRequest{
		ID: randBytes(e.t, 16), Volume: e.vol, Node: node, Kind: kind,
		Salt:        randBytes(e.t, 16),
		KDF:         api.KDF{Alg: api.KDFArgon2id, MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 1},
		Verifier:    srp.Group3072().Verifier(x),
		Payload:     randBytes(e.t, 600),
		OwnerRecord: randBytes(e.t, 200),
		Password:    true,
	}, x
}

// link makes a link of kind to node, as edit changes the request.
func (e *linkEnv) link(node []byte, kind int, edit func(*api.CreateLinkRequest)) *testLink {
	e.t.Helper()
	req, x := e.linkRequest(node, kind)
	if edit != nil {
		edit(&req)
	}
	status, _, body := postJSON(e.t, e.env.URL+api.PathLinks, req, e.owner.Token)
	if status != http.StatusCreated {
		e.t.Fatalf("create link: %d %s", status, body)
	}
	return &testLink{id: req.ID, x: x, req: req}
}

// prove runs the link's SRP handshake with x, and returns the finish
// answer and the client, whose VerifyServer the caller may check.
func (e *linkEnv) prove(l *testLink, x []byte) (int, http.Header, []byte, *srp.Client) {
	e.t.Helper()
	sc, err := srp.NewClient(srp.Group3072())
	if err != nil {
		e.t.Fatal(err)
	}
	status, hdr, body := postJSON(e.t, e.env.URL+l.path("/login/start"), api.LinkLoginStartRequest{A: sc.A()}, "")
	if status != http.StatusOK {
		return status, hdr, body, sc
	}
	var start api.LinkLoginStartResponse
	if err := json.Unmarshal(body, &start); err != nil {
		e.t.Fatal(err)
	}
	m1, err := sc.Finish([]byte("link:"+b64u(l.id)), l.req.Salt, x, start.B)
	if err != nil {
		e.t.Fatal(err)
	}
	status, hdr, body = postJSON(e.t, e.env.URL+l.path("/login/finish"), api.LinkLoginFinishRequest{HandshakeID: start.HandshakeID, M1: m1}, "")
	return status, hdr, body, sc
}

// open proves the link's password and returns the session.
func (e *linkEnv) open(l *testLink) api.LinkLoginFinishResponse {
	e.t.Helper()
	status, _, body, sc := e.prove(l, l.x)
	if status != http.StatusOK {
		e.t.Fatalf("open link: %d %s", status, body)
	}
	var fin api.LinkLoginFinishResponse
	if err := json.Unmarshal(body, &fin); err != nil {
		e.t.Fatal(err)
	}
	if err := sc.VerifyServer(fin.M2); err != nil {
		e.t.Fatalf("server proof: %v", err)
	}
	return fin
}

// wrongProof proves a wrong password and returns the answer.
func (e *linkEnv) wrongProof(l *testLink) (int, http.Header, []byte) {
	e.t.Helper()
	status, hdr, body, _ := e.prove(l, randBytes(e.t, 32))
	return status, hdr, body
}

// links returns the owner's links.
func (e *linkEnv) links() []api.Link {
	e.t.Helper()
	var list api.LinkList
	e.getJSON(api.PathLinks, e.owner.Token, &list)
	return list.Links
}

// stateOf returns the state the owner's listing shows for l.
func (e *linkEnv) stateOf(l *testLink) api.Link {
	e.t.Helper()
	for _, x := range e.links() {
		if bytes.Equal(x.ID, l.id) {
			return x
		}
	}
	e.t.Fatalf("link %x not in the owner's list", l.id)
	return api.Link{}
}

// wantError checks an error answer's status and code.
func wantError(t *testing.T, what string, status int, body []byte, wantStatus int, wantCode string) api.ErrorDetail {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d, want %d; body %s", what, status, wantStatus, body)
		return api.ErrorDetail{}
	}
	e := errorBody(t, body)
	if e.Code != wantCode {
		t.Errorf("%s: code %q, want %q (%s)", what, e.Code, wantCode, e.Message)
	}
	return e
}

func TestLinkCreateChecks(t *testing.T) {
	e := newLinkEnv(t)
	dir := e.mkdir("/dir")
	f := e.put("/dir/f.txt", "hello")
	trashed := e.mkdir("/trashed/below")
	e.nodeAction(trashed.Parent, "trash")
	_, bob := account(t, e.env, "bob", "bob password")

	past := e.env.Clock.Now().Add(-time.Second)
	soon := e.env.Clock.Now().Add(time.Hour)
	cases := []struct {
		name   string
		kind   int
		node   []byte
		edit   func(*api.CreateLinkRequest)
		status int
		code   string
	}{
		{"short ID", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.ID = r.ID[:15] }, 400, api.CodeBadRequest},
		{"unknown kind", 3, dir.ID, nil, 400, api.CodeBadRequest},
		{"short salt", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.Salt = r.Salt[:15] }, 400, api.CodeBadRequest},
		{"weak KDF", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.KDF.MemoryKiB = 32 * 1024 }, 400, api.CodeBadRequest},
		{"too few passes", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.KDF.Iterations = 2 }, 400, api.CodeBadRequest},
		{"KDF above the ceiling", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.KDF.MemoryKiB = 2 << 20 }, 400, api.CodeBadRequest},
		{"other KDF", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.KDF.Alg = "scrypt" }, 400, api.CodeBadRequest},
		{"short verifier", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.Verifier = r.Verifier[1:] }, 400, api.CodeBadRequest},
		{"no payload", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.Payload = nil }, 400, api.CodeBadRequest},
		{"payload too large", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.Payload = make([]byte, api.MaxLinkSealed+1) }, 400, api.CodeBadRequest},
		{"owner record too large", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.OwnerRecord = make([]byte, api.MaxLinkSealed+1) }, 400, api.CodeBadRequest},
		{"no owner record", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.OwnerRecord = nil }, 400, api.CodeBadRequest},
		{"expired already", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.ExpiresAt = &past }, 400, api.CodeBadRequest},
		{"negative downloads", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.MaxDownloads = -1 }, 400, api.CodeBadRequest},
		{"read link with a file limit", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.MaxFiles = 1 }, 400, api.CodeBadRequest},
		{"read link with a byte limit", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.MaxBytes = 1 }, 400, api.CodeBadRequest},
		{"upload link with a download limit", api.LinkUpload, dir.ID, func(r *api.CreateLinkRequest) { r.MaxDownloads = 1 }, 400, api.CodeBadRequest},
		{"negative files", api.LinkUpload, dir.ID, func(r *api.CreateLinkRequest) { r.MaxFiles = -1 }, 400, api.CodeBadRequest},
		{"upload link to a file", api.LinkUpload, f.ID, nil, 400, api.CodeBadRequest},
		{"unknown node", api.LinkRead, randBytes(t, 16), nil, 403, api.CodeForbidden},
		{"another volume", api.LinkRead, dir.ID, func(r *api.CreateLinkRequest) { r.Volume = randBytes(t, 16) }, 403, api.CodeForbidden},
		{"node in the trash", api.LinkRead, trashed.Parent, nil, 403, api.CodeForbidden},
		{"node below the trash", api.LinkRead, trashed.ID, nil, 403, api.CodeForbidden},
	}
	for _, tc := range cases {
		req, _ := e.linkRequest(tc.node, tc.kind)
		if tc.edit != nil {
			tc.edit(&req)
		}
		status, _, body := postJSON(t, e.env.URL+api.PathLinks, req, e.owner.Token)
		wantError(t, tc.name, status, body, tc.status, tc.code)
	}
	// Bob has no drive, so nothing of alice's is his to link.
	req, _ := e.linkRequest(dir.ID, api.LinkRead)
	status, _, body := postJSON(t, e.env.URL+api.PathLinks, req, bob.Token)
	wantError(t, "a link by another account", status, body, 403, api.CodeForbidden)
	status, _, body = postJSON(t, e.env.URL+api.PathLinks, req, "")
	wantError(t, "a link without a session", status, body, 401, api.CodeUnauthorized)
	if n := len(e.links()); n != 0 {
		t.Fatalf("refused links were stored: %d", n)
	}

	// A valid one, and its ID again.
	req, _ = e.linkRequest(dir.ID, api.LinkUpload)
	req.ExpiresAt, req.MaxFiles, req.MaxBytes = &soon, 3, 1000
	status, _, body = postJSON(t, e.env.URL+api.PathLinks, req, e.owner.Token)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var got api.Link
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.ID, req.ID) || !bytes.Equal(got.Node, dir.ID) || got.Kind != api.LinkUpload ||
		got.State != api.LinkActive || !got.Password || got.MaxFiles != 3 || got.MaxBytes != 1000 ||
		got.ExpiresAt == nil || !sameTime(*got.ExpiresAt, soon) || got.RevokedAt != nil || !bytes.Equal(got.OwnerRecord, req.OwnerRecord) {
		t.Errorf("created link: %+v", got)
	}
	status, _, body = postJSON(t, e.env.URL+api.PathLinks, req, e.owner.Token)
	wantError(t, "a taken ID", status, body, 409, api.CodeConflict)
	// A read link of a file, at the KDF's ceiling.
	e.link(f.ID, api.LinkRead, func(r *api.CreateLinkRequest) {
		r.KDF = api.KDF{Alg: api.KDFArgon2id, MemoryKiB: 1 << 20, Iterations: 16, Parallelism: 8}
		r.MaxDownloads = 10
	})
}

func TestLinkListAndRevoke(t *testing.T) {
	e := newLinkEnv(t)
	dir := e.mkdir("/dir")
	first := e.link(dir.ID, api.LinkRead, nil)
	e.env.Clock.Advance(time.Second)
	second := e.link(dir.ID, api.LinkUpload, nil)
	list := e.links()
	if len(list) != 2 || !bytes.Equal(list[0].ID, second.id) || !bytes.Equal(list[1].ID, first.id) {
		t.Fatalf("links not newest first: %+v", list)
	}

	// Another account cannot see or revoke alice's links.
	_, bob := account(t, e.env, "bob", "bob password")
	var bobs api.LinkList
	e.getJSON(api.PathLinks, bob.Token, &bobs)
	if len(bobs.Links) != 0 {
		t.Fatalf("bob sees links: %+v", bobs)
	}
	status, _, body := call(t, http.MethodDelete, e.env.URL+first.path(""), "", nil, bob.Token)
	wantError(t, "bob revoking alice's link", status, body, 404, api.CodeNotFound)
	status, _, body = call(t, http.MethodDelete, e.env.URL+"/v1/links/"+b64u(randBytes(t, 16)), "", nil, e.owner.Token)
	wantError(t, "revoking an unknown link", status, body, 404, api.CodeNotFound)
	status, _, body = call(t, http.MethodDelete, e.env.URL+"/v1/links/nope", "", nil, e.owner.Token)
	wantError(t, "revoking a malformed ID", status, body, 400, api.CodeBadRequest)
	if st := e.stateOf(first); st.State != api.LinkActive {
		t.Fatalf("after bob's attempt: %+v", st)
	}

	sess := e.open(first)
	e.env.Clock.Advance(time.Minute)
	for range 2 { // twice is fine
		status, _, body = call(t, http.MethodDelete, e.env.URL+first.path(""), "", nil, e.owner.Token)
		if status != http.StatusNoContent || len(body) != 0 {
			t.Fatalf("revoke: %d %q", status, body)
		}
	}
	st := e.stateOf(first)
	if st.State != api.LinkRevoked || st.RevokedAt == nil || !sameTime(*st.RevokedAt, e.env.Clock.Now()) {
		t.Errorf("revoked link: %+v (now %v)", st, e.env.Clock.Now())
	}
	if st := e.stateOf(second); st.State != api.LinkActive {
		t.Errorf("the other link: %+v", st)
	}
	// It answers 410 everywhere, and its session is gone.
	for _, ep := range []struct{ method, path string }{
		{http.MethodGet, first.path("")},
		{http.MethodPost, first.path("/login/start")},
		{http.MethodPost, first.path("/login/finish")},
		{http.MethodGet, first.path("/nodes/" + b64u(dir.ID))},
	} {
		status, _, body := call(t, ep.method, e.env.URL+ep.path, "application/json", []byte(`{}`), sess.Token)
		e := wantError(t, ep.method+" "+ep.path+" of a revoked link", status, body, 410, api.CodeLinkRevoked)
		if e.Message != "this link was turned off by its owner" {
			t.Errorf("message %q", e.Message)
		}
	}
	h := sha256.Sum256(mustB64u(t, sess.Token))
	if _, err := e.env.Store.LinkSessionByTokenHash(context.Background(), h[:]); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("the revoked link's session is still stored: %v", err)
	}
}

// sameTime reports whether a time the server sent is want, to within the
// microseconds the store keeps.
func sameTime(got, want time.Time) bool {
	d := got.Sub(want)
	return d > -time.Microsecond && d < time.Microsecond
}

func mustB64u(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLinkPublicInfoAndProof(t *testing.T) {
	e := newLinkEnv(t)
	dir := e.mkdir("/dir")
	soon := e.env.Clock.Now().Add(24 * time.Hour)
	l := e.link(dir.ID, api.LinkRead, func(r *api.CreateLinkRequest) { r.ExpiresAt = &soon })
	up := e.link(dir.ID, api.LinkUpload, func(r *api.CreateLinkRequest) { r.MaxFiles, r.MaxBytes, r.Password = 4, 5000, false })

	status, _, body := call(t, http.MethodGet, e.env.URL+l.path(""), "", nil, "")
	if status != http.StatusOK {
		t.Fatalf("info: %d %s", status, body)
	}
	var info api.LinkInfo
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(info.ID, l.id) || info.Kind != api.LinkRead || !info.Password || !bytes.Equal(info.Salt, l.req.Salt) ||
		info.KDF != l.req.KDF || info.ExpiresAt == nil || !sameTime(*info.ExpiresAt, soon) {
		t.Errorf("info: %+v", info)
	}
	// Nothing that is released only after a proof, or only to the owner.
	for _, secret := range [][]byte{l.req.Payload, l.req.OwnerRecord, l.req.Verifier} {
		if bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString(secret))) {
			t.Errorf("public info holds a sealed or secret value: %s", body)
		}
	}
	info = api.LinkInfo{}
	e.getJSON(up.path(""), "", &info)
	if info.Kind != api.LinkUpload || info.Password || info.MaxFiles != 4 || info.MaxBytes != 5000 || info.ExpiresAt != nil {
		t.Errorf("upload link info: %+v", info)
	}
	for _, p := range []string{"/v1/links/" + b64u(randBytes(t, 16)), "/v1/links/" + b64u(randBytes(t, 16)) + "/login/start"} {
		method := http.MethodGet
		if strings.HasSuffix(p, "start") {
			method = http.MethodPost
		}
		status, _, body := call(t, method, e.env.URL+p, "application/json", []byte(`{"a":"AQ=="}`), "")
		if e := wantError(t, "unknown link", status, body, 404, api.CodeNotFound); e.Message != "no such link" {
			t.Errorf("unknown link: message %q", e.Message)
		}
	}

	// A correct proof, by a real SRP client.
	fin := e.open(l)
	if !bytes.Equal(fin.Payload, l.req.Payload) || !bytes.Equal(fin.Volume, e.vol) || !bytes.Equal(fin.Node, dir.ID) ||
		fin.Kind != api.LinkRead || len(mustB64u(t, fin.Token)) != 32 {
		t.Errorf("finish: %+v", fin)
	}
	if want := e.env.Clock.Now().Add(time.Hour); !sameTime(fin.ExpiresAt, want) {
		t.Errorf("session expires at %v, want %v", fin.ExpiresAt, want)
	}
	if st := e.stateOf(l); st.Downloads != 1 {
		t.Errorf("a proof of a read link counts a download: %+v", st)
	}
	// An upload link counts no downloads.
	e.open(up)
	if st := e.stateOf(up); st.Downloads != 0 {
		t.Errorf("a proof of an upload link counted a download: %+v", st)
	}

	// A handshake is good once, for its own link.
	sc, _ := srp.NewClient(srp.Group3072())
	_, _, body = postJSON(t, e.env.URL+l.path("/login/start"), api.LinkLoginStartRequest{A: sc.A()}, "")
	var start api.LinkLoginStartResponse
	if err := json.Unmarshal(body, &start); err != nil {
		t.Fatal(err)
	}
	m1, err := sc.Finish([]byte("link:"+b64u(l.id)), l.req.Salt, l.x, start.B)
	if err != nil {
		t.Fatal(err)
	}
	status, _, body = postJSON(t, e.env.URL+up.path("/login/finish"), api.LinkLoginFinishRequest{HandshakeID: start.HandshakeID, M1: m1}, "")
	wantError(t, "a handshake finished on another link", status, body, 401, api.CodeAuthFailed)
	status, _, body = postJSON(t, e.env.URL+l.path("/login/finish"), api.LinkLoginFinishRequest{HandshakeID: start.HandshakeID, M1: m1}, "")
	wantError(t, "a handshake finished twice", status, body, 401, api.CodeAuthFailed)
	// An account's handshake is not a link's.
	_, _, body = postJSON(t, e.env.URL+api.PathLoginStart, api.LoginStartRequest{User: "alice", A: sc.A()}, "")
	var login api.LoginStartResponse
	if err := json.Unmarshal(body, &login); err != nil {
		t.Fatal(err)
	}
	status, _, body = postJSON(t, e.env.URL+l.path("/login/finish"), api.LinkLoginFinishRequest{HandshakeID: login.HandshakeID, M1: m1}, "")
	wantError(t, "an account's handshake on a link", status, body, 401, api.CodeAuthFailed)
	status, _, body = postJSON(t, e.env.URL+l.path("/login/start"), api.LinkLoginStartRequest{A: []byte{0}}, "")
	wantError(t, "A = 0", status, body, 400, api.CodeBadRequest)
	// A handshake lives 2 minutes.
	_, _, body = postJSON(t, e.env.URL+l.path("/login/start"), api.LinkLoginStartRequest{A: sc.A()}, "")
	if err := json.Unmarshal(body, &start); err != nil {
		t.Fatal(err)
	}
	e.env.Clock.Advance(2*time.Minute + time.Second)
	status, _, body = postJSON(t, e.env.URL+l.path("/login/finish"), api.LinkLoginFinishRequest{HandshakeID: start.HandshakeID, M1: m1}, "")
	wantError(t, "an expired handshake", status, body, 401, api.CodeAuthFailed)
}

func TestLinkWrongPasswordsAreLimitedPerLink(t *testing.T) {
	e := newLinkEnv(t)
	dir := e.mkdir("/dir")
	l := e.link(dir.ID, api.LinkRead, nil)
	for i := range 5 {
		status, _, body := e.wrongProof(l)
		if e := wantError(t, "wrong password", status, body, 401, api.CodeAuthFailed); e.Message != "wrong password" {
			t.Errorf("wrong proof %d: message %q", i, e.Message)
		}
	}
	status, hdr, body := e.wrongProof(l)
	wantError(t, "a sixth wrong password at once", status, body, 429, api.CodeTooManyRequests)
	if ra := hdr.Get("Retry-After"); ra != "12" {
		t.Errorf("Retry-After %q, want 12", ra)
	}
	// Refused at the start too (prove stops there), and for the right
	// password: the limit is per link.
	status, _, body, _ = e.prove(l, l.x)
	wantError(t, "the right password while limited", status, body, 429, api.CodeTooManyRequests)

	// One more every 12 seconds.
	e.env.Clock.Advance(12 * time.Second)
	status, _, body = e.wrongProof(l)
	wantError(t, "a wrong password 12 s later", status, body, 401, api.CodeAuthFailed)
	status, _, body = e.wrongProof(l)
	wantError(t, "another at once", status, body, 429, api.CodeTooManyRequests)
	// A correct proof is taken back: it leaves the allowance as it was.
	e.env.Clock.Advance(12 * time.Second)
	e.open(l)
	status, _, body = e.wrongProof(l)
	wantError(t, "a wrong password after a right one", status, body, 401, api.CodeAuthFailed)
	status, _, body = e.wrongProof(l)
	wantError(t, "and another", status, body, 429, api.CodeTooManyRequests)
}

func TestLinkWrongPasswordsAreLimitedPerAddress(t *testing.T) {
	e := newLinkEnv(t)
	dir := e.mkdir("/dir")
	links := make([]*testLink, 5)
	for i := range links {
		links[i] = e.link(dir.ID, api.LinkRead, nil)
	}
	// 20 at once from one address, over several links.
	for _, l := range links[:4] {
		for range 5 {
			status, _, body := e.wrongProof(l)
			wantError(t, "a wrong password", status, body, 401, api.CodeAuthFailed)
		}
	}
	last := links[4]
	status, hdr, body := e.wrongProof(last)
	wantError(t, "past the address's limit", status, body, 429, api.CodeTooManyRequests)
	if ra := hdr.Get("Retry-After"); ra != "6" {
		t.Errorf("Retry-After %q, want 6", ra)
	}
	// Then one every 6 seconds.
	e.env.Clock.Advance(6 * time.Second)
	status, _, body = e.wrongProof(last)
	wantError(t, "6 s later", status, body, 401, api.CodeAuthFailed)
	status, _, body = e.wrongProof(last)
	wantError(t, "and again at once", status, body, 429, api.CodeTooManyRequests)
	// The last link's own allowance was not used up by the refusals.
	e.env.Clock.Advance(6 * time.Second)
	e.open(last)
}

func TestLinkExpiry(t *testing.T) {
	e := newLinkEnv(t)
	dir := e.mkdir("/dir")
	soon := e.env.Clock.Now().Add(90 * time.Minute)
	l := e.link(dir.ID, api.LinkRead, func(r *api.CreateLinkRequest) { r.ExpiresAt = &soon })
	forever := e.link(dir.ID, api.LinkRead, nil)
	sess, other := e.open(l), e.open(forever)
	nodePath := "/nodes/" + b64u(dir.ID)
	// A session lasts an hour.
	e.env.Clock.Advance(time.Hour)
	for _, x := range []struct {
		l   *testLink
		tok string
	}{{l, sess.Token}, {forever, other.Token}} {
		status, _, body := call(t, http.MethodGet, e.env.URL+x.l.path(nodePath), "", nil, x.tok)
		wantError(t, "an hour-old session", status, body, 401, api.CodeUnauthorized)
	}
	// A session ends with its link.
	sess = e.open(l)
	if !sameTime(sess.ExpiresAt, soon) {
		t.Errorf("a session of a link that expires sooner: until %v, want %v", sess.ExpiresAt, soon)
	}
	e.env.Clock.Advance(30 * time.Minute)
	for _, ep := range []struct{ method, path, tok string }{
		{http.MethodGet, l.path(""), ""},
		{http.MethodPost, l.path("/login/start"), ""},
		{http.MethodGet, l.path(nodePath), sess.Token},
	} {
		status, _, body := call(t, ep.method, e.env.URL+ep.path, "application/json", []byte(`{"a":"AQ=="}`), ep.tok)
		if e := wantError(t, ep.path+" of an expired link", status, body, 410, api.CodeLinkExpired); e.Message != "this link has expired" {
			t.Errorf("message %q", e.Message)
		}
	}
	if st := e.stateOf(l); st.State != api.LinkExpired {
		t.Errorf("expired link state: %+v", st)
	}
	if st := e.stateOf(forever); st.State != api.LinkActive {
		t.Errorf("link without expiry: %+v", st)
	}
}

func TestLinkMaxDownloads(t *testing.T) {
	e := newLinkEnv(t)
	f := e.put("/f.txt", "once or twice")
	l := e.link(f.ID, api.LinkRead, func(r *api.CreateLinkRequest) { r.MaxDownloads = 2 })
	s1, s2 := e.open(l), e.open(l)
	status, _, body, _ := e.prove(l, l.x)
	if e := wantError(t, "a third proof", status, body, 410, api.CodeLinkExhausted); e.Message != "this link has reached its download limit" {
		t.Errorf("message %q", e.Message)
	}
	status, _, body = call(t, http.MethodGet, e.env.URL+l.path(""), "", nil, "")
	wantError(t, "info of a used-up link", status, body, 410, api.CodeLinkExhausted)
	if st := e.stateOf(l); st.State != api.LinkExhausted || st.Downloads != 2 || st.MaxDownloads != 2 {
		t.Errorf("used-up link: %+v", st)
	}
	// The sessions that took the downloads still download.
	block := hex.EncodeToString(f.Head.Blocks[0])
	for _, s := range []string{s1.Token, s2.Token} {
		status, _, body := call(t, http.MethodGet, e.env.URL+l.path("/blocks/"+block+"?node="+b64u(f.ID)), "", nil, s)
		if status != http.StatusOK || len(body) == 0 {
			t.Errorf("download by a session within the limit: %d %s", status, body)
		}
	}
}

func TestLinkGoneWithItsNode(t *testing.T) {
	e := newLinkEnv(t)
	dir := e.mkdir("/dir")
	f := e.put("/dir/f.txt", "x")
	onDir, onFile := e.link(dir.ID, api.LinkRead, nil), e.link(f.ID, api.LinkRead, nil)
	up := e.link(dir.ID, api.LinkUpload, nil)
	sess := e.open(onFile)
	upSess := e.open(up)
	e.nodeAction(dir.ID, "trash")
	for _, l := range []*testLink{onDir, onFile, up} {
		status, _, body := call(t, http.MethodGet, e.env.URL+l.path(""), "", nil, "")
		if e := wantError(t, "a link whose node is in the trash", status, body, 410, api.CodeLinkGone); e.Message != "the shared item was deleted" {
			t.Errorf("message %q", e.Message)
		}
		if st := e.stateOf(l); st.State != api.LinkGone {
			t.Errorf("state %+v", st)
		}
	}
	status, _, body := call(t, http.MethodGet, e.env.URL+onFile.path("/nodes/"+b64u(f.ID)), "", nil, sess.Token)
	wantError(t, "a session of a link whose node is in the trash", status, body, 410, api.CodeLinkGone)
	status, _, body = postJSON(t, e.env.URL+up.path("/drops"), api.LinkDropRequest{}, upSess.Token)
	wantError(t, "a drop into the trash", status, body, 410, api.CodeLinkGone)
	e.nodeAction(dir.ID, "restore")
	if st := e.stateOf(onFile); st.State != api.LinkActive {
		t.Errorf("restored: %+v", st)
	}
	e.nodeAction(f.ID, "trash")
	status, _, body = call(t, http.MethodDelete, e.env.URL+api.PathTrash, "", nil, e.owner.Token)
	if status != http.StatusOK {
		t.Fatalf("empty trash: %d %s", status, body)
	}
	if st := e.stateOf(onFile); st.State != api.LinkGone {
		t.Errorf("deleted for good: %+v", st)
	}
	if st := e.stateOf(onDir); st.State != api.LinkActive {
		t.Errorf("the folder's link: %+v", st)
	}
}

func TestLinkReadIsConfined(t *testing.T) {
	e := newLinkEnv(t)
	e.mkdir("/pub/sub")
	dir, err := e.drive.Resolve(context.Background(), "/pub")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.drive.Resolve(context.Background(), "/pub/sub")
	if err != nil {
		t.Fatal(err)
	}
	old := e.put("/pub/f.txt", "first version")
	f := e.put("/pub/f.txt", "second version")
	g := e.put("/pub/sub/g.txt", "below")
	hidden := e.mkdir("/pub/hidden")
	h := e.put("/pub/hidden/h.txt", "in the trash")
	trashedFile := e.put("/pub/gone.txt", "gone")
	outside := e.put("/outside.txt", "not shared")
	e.nodeAction(hidden.ID, "trash")
	e.nodeAction(trashedFile.ID, "trash")
	if bytes.Equal(old.Head.Blocks[0], f.Head.Blocks[0]) {
		t.Fatal("the two versions share a block")
	}

	l := e.link(dir.ID, api.LinkRead, nil)
	tok := e.open(l).Token
	get := func(p string) (int, []byte) {
		status, _, body := call(t, http.MethodGet, e.env.URL+l.path(p), "", nil, tok)
		return status, body
	}
	owners := func(p string) []byte {
		status, _, body := call(t, http.MethodGet, e.env.URL+p, "", nil, e.owner.Token)
		if status != http.StatusOK {
			t.Fatalf("owner GET %s: %d %s", p, status, body)
		}
		return body
	}
	// What the link reaches answers as the owner's own endpoints do.
	for _, n := range []*client.Entry{dir, sub, f, g} {
		status, body := get("/nodes/" + b64u(n.ID))
		if status != http.StatusOK || !bytes.Equal(body, owners("/v1/nodes/"+b64u(n.ID))) {
			t.Errorf("node %s: %d %s", n.Name, status, body)
		}
	}
	for _, n := range []*client.Entry{dir, sub} {
		status, body := get("/nodes/" + b64u(n.ID) + "/children")
		if status != http.StatusOK || !bytes.Equal(body, owners("/v1/nodes/"+b64u(n.ID)+"/children")) {
			t.Errorf("children of %s: %d %s", n.Name, status, body)
		}
	}
	var list api.NodeList
	if _, body := get("/nodes/" + b64u(dir.ID) + "/children"); json.Unmarshal(body, &list) != nil || len(list.Nodes) != 2 {
		t.Errorf("children of the linked folder: %s", body)
	}
	for _, n := range list.Nodes {
		if n.Kind == api.KindFile && n.Head == nil {
			t.Errorf("a file without its head: %+v", n)
		}
	}
	status, body := get("/nodes/" + b64u(dir.ID) + "/children?name_hash=" + b64u(f.Record.NameHash))
	if status != http.StatusOK || !bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString(f.ID))) {
		t.Errorf("child by name hash: %d %s", status, body)
	}
	// Nothing else: not above, beside, or in the trash below.
	for name, id := range map[string][]byte{
		"the root": e.root, "a file outside": outside.ID, "a folder in the trash": hidden.ID,
		"a file below the trash": h.ID, "a file in the trash": trashedFile.ID, "an unknown node": randBytes(t, 16),
	} {
		for _, suffix := range []string{"", "/children"} {
			status, body := get("/nodes/" + b64u(id) + suffix)
			wantError(t, name+suffix, status, body, 404, api.CodeNotFound)
		}
	}
	status, body = get("/nodes/nope")
	wantError(t, "a malformed node ID", status, body, 400, api.CodeBadRequest)

	// Blocks: of the head revision of a file it reaches, named.
	blockOf := func(e *client.Entry) string { return hex.EncodeToString(e.Head.Blocks[0]) }
	status, body = get("/blocks/" + blockOf(f) + "?node=" + b64u(f.ID))
	if want := owners("/v1/blocks/" + blockOf(f)); status != http.StatusOK || !bytes.Equal(body, want) {
		t.Errorf("block of a linked file: %d, %d bytes", status, len(body))
	}
	status, body = get("/blocks/" + blockOf(g) + "?node=" + b64u(g.ID))
	if status != http.StatusOK || len(body) == 0 {
		t.Errorf("block of a file below: %d %s", status, body)
	}
	refused := []struct{ name, path string }{
		{"an older revision's block", "/blocks/" + blockOf(old) + "?node=" + b64u(f.ID)},
		{"another file's block", "/blocks/" + blockOf(g) + "?node=" + b64u(f.ID)},
		{"a block outside, named as a linked file's", "/blocks/" + blockOf(outside) + "?node=" + b64u(f.ID)},
		{"a block outside, with its file", "/blocks/" + blockOf(outside) + "?node=" + b64u(outside.ID)},
		{"a block in the trash", "/blocks/" + blockOf(h) + "?node=" + b64u(h.ID)},
		{"a folder named as the file", "/blocks/" + blockOf(f) + "?node=" + b64u(dir.ID)},
	}
	for _, c := range refused {
		status, body := get(c.path)
		wantError(t, c.name, status, body, 404, api.CodeNotFound)
	}
	status, body = get("/blocks/" + blockOf(f))
	wantError(t, "a block without its file", status, body, 400, api.CodeBadRequest)

	// A read session cannot upload.
	status, _, body = call(t, http.MethodPut, e.env.URL+l.path("/blocks/"+strings.Repeat("ab", 32)), "application/octet-stream", []byte("x"), tok)
	wantError(t, "a block PUT by a read session", status, body, 403, api.CodeForbidden)
	status, _, body = postJSON(t, e.env.URL+l.path("/drops"), api.LinkDropRequest{}, tok)
	wantError(t, "a drop by a read session", status, body, 403, api.CodeForbidden)

	// A link to a file reaches that file only.
	fl := e.link(f.ID, api.LinkRead, nil)
	ftok := e.open(fl).Token
	status, _, body = call(t, http.MethodGet, e.env.URL+fl.path("/nodes/"+b64u(f.ID)), "", nil, ftok)
	if status != http.StatusOK {
		t.Errorf("the linked file: %d %s", status, body)
	}
	status, _, body = call(t, http.MethodGet, e.env.URL+fl.path("/nodes/"+b64u(dir.ID)), "", nil, ftok)
	wantError(t, "the linked file's folder", status, body, 404, api.CodeNotFound)
	status, _, body = call(t, http.MethodGet, e.env.URL+fl.path("/blocks/"+blockOf(f)+"?node="+b64u(f.ID)), "", nil, ftok)
	if status != http.StatusOK || len(body) == 0 {
		t.Errorf("the linked file's block: %d", status)
	}
}

// dropRequest returns a drop of a file made of blocks through link l into
// the folder dir: an inbox drop by the link, as a link's uploader makes
// it (the signature is the owner's client's to check, so any 64 bytes).
func dropRequest(t *testing.T, l *testLink, vol, dir []byte, blocks ...[]byte) api.LinkDropRequest {
	t.Helper()
	inbox, err := crypto.NewInboxKey()
	if err != nil {
		t.Fatal(err)
	}
	id, rev := randBytes(t, 16), randBytes(t, 16)
	key, err := crypto.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := crypto.SealInboxDrop(inbox.Public(), crypto.NodeRef{Volume: vol, Parent: dir, Node: id}, key, "dropped.txt")
	if err != nil {
		t.Fatal(err)
	}
	author := "link:" + b64u(l.id)
	return api.LinkDropRequest{
		Node: api.Node{
			ID: id, Volume: vol, Parent: dir, Kind: api.KindFile, NameHash: randBytes(t, 32),
			SealedKey: sealed, Author: author, Version: 1, Revision: rev, RevisionSeq: 1,
			RevisionDigest: randBytes(t, 32), Signature: randBytes(t, 64),
		},
		Revision: api.Revision{
			ID: rev, Node: id, Volume: vol, Seq: 1, SealedContentKey: randBytes(t, 80),
			SealedAttrs: randBytes(t, 100), Blocks: blocks, Author: author, Signature: randBytes(t, 64),
		},
	}
}

func TestLinkUploads(t *testing.T) {
	e := newLinkEnv(t)
	inbox := e.mkdir("/inbox")
	other := e.mkdir("/other")
	mine := e.put("/inbox/mine.txt", "the owner's")
	l := e.link(inbox.ID, api.LinkUpload, func(r *api.CreateLinkRequest) { r.MaxFiles, r.MaxBytes = 2, 3000 })
	tok := e.open(l).Token
	if st := e.stateOf(l); st.Downloads != 0 {
		t.Errorf("an upload link counted a download: %+v", st)
	}
	putBlock := func(data []byte) (int, []byte, []byte) {
		sum := sha256.Sum256(data)
		status, _, body := call(t, http.MethodPut, e.env.URL+l.path("/blocks/"+hex.EncodeToString(sum[:])), "application/octet-stream", data, tok)
		return status, body, sum[:]
	}
	drop := func(req api.LinkDropRequest) (int, []byte) {
		status, _, body := postJSON(t, e.env.URL+l.path("/drops"), req, tok)
		return status, body
	}

	// An upload session sees nothing.
	for _, p := range []string{"/nodes/" + b64u(inbox.ID), "/nodes/" + b64u(inbox.ID) + "/children",
		"/blocks/" + hex.EncodeToString(mine.Head.Blocks[0]) + "?node=" + b64u(mine.ID)} {
		status, _, body := call(t, http.MethodGet, e.env.URL+l.path(p), "", nil, tok)
		wantError(t, "an upload session reading "+p, status, body, 403, api.CodeForbidden)
	}

	usage := func() api.Usage {
		var u api.Usage
		e.getJSON(api.PathUsage, e.owner.Token, &u)
		return u
	}
	before := usage()
	status, body, b1 := putBlock(bytes.Repeat([]byte{1}, 1000))
	if status != http.StatusCreated {
		t.Fatalf("put block: %d %s", status, body)
	}
	// Pending, not dropped: it counts against max_bytes, not in bytes.
	if st := e.stateOf(l); st.Bytes != 0 {
		t.Errorf("bytes after one block: %+v", st)
	}
	if got := e.pending(l); got != 1000 {
		t.Errorf("%d bytes pending after one block, want 1000", got)
	}
	if after := usage(); after.UsedBytes != before.UsedBytes+1000 {
		t.Errorf("the owner's use went from %d to %d, want +1000", before.UsedBytes, after.UsedBytes)
	}
	sum := sha256.Sum256([]byte("other"))
	status, _, body = call(t, http.MethodPut, e.env.URL+l.path("/blocks/"+hex.EncodeToString(sum[:])), "application/octet-stream", []byte("not other"), tok)
	wantError(t, "a block under the wrong ID", status, body, 400, api.CodeBadRequest)

	// Drops that break the rules.
	good := func() api.LinkDropRequest { return dropRequest(t, l, e.vol, inbox.ID, b1) }
	cases := []struct {
		name   string
		edit   func(*api.LinkDropRequest)
		status int
		code   string
	}{
		{"another author", func(r *api.LinkDropRequest) { r.Node.Author, r.Revision.Author = "alice", "alice" }, 403, api.CodeForbidden},
		{"another link's author", func(r *api.LinkDropRequest) {
			a := "link:" + b64u(randBytes(t, 16))
			r.Node.Author, r.Revision.Author = a, a
		}, 403, api.CodeForbidden},
		{"another folder", func(r *api.LinkDropRequest) { r.Node.Parent = other.ID }, 403, api.CodeForbidden},
		{"the root", func(r *api.LinkDropRequest) { r.Node.Parent = e.root }, 403, api.CodeForbidden},
		{"another volume", func(r *api.LinkDropRequest) { r.Node.Volume, r.Revision.Volume = randBytes(t, 16), r.Node.Volume }, 403, api.CodeForbidden},
		{"an ordinary record", func(r *api.LinkDropRequest) { r.Node.SealedName = randBytes(t, 93) }, 403, api.CodeForbidden},
		{"a folder", func(r *api.LinkDropRequest) {
			r.Node.Kind, r.Node.Revision, r.Node.RevisionSeq, r.Node.RevisionDigest = api.KindFolder, nil, 0, nil
		}, 403, api.CodeForbidden},
		{"version 2", func(r *api.LinkDropRequest) { r.Node.Version = 2 }, 400, api.CodeBadRequest},
		{"a malformed drop key", func(r *api.LinkDropRequest) { r.Node.SealedKey = r.Node.SealedKey[1:] }, 400, api.CodeBadRequest},
		{"a key history", func(r *api.LinkDropRequest) { r.Node.KeyHistory = randBytes(t, 100) }, 400, api.CodeBadRequest},
		{"a revision of another node", func(r *api.LinkDropRequest) { r.Revision.Node = randBytes(t, 16) }, 400, api.CodeBadRequest},
		{"the owner's block", func(r *api.LinkDropRequest) { r.Revision.Blocks = [][]byte{mine.Head.Blocks[0]} }, 400, api.CodeBadRequest},
		{"an unknown block", func(r *api.LinkDropRequest) { r.Revision.Blocks = [][]byte{randBytes(t, 32)} }, 400, api.CodeBadRequest},
	}
	for _, tc := range cases {
		req := good()
		tc.edit(&req)
		status, body := drop(req)
		wantError(t, tc.name, status, body, tc.status, tc.code)
	}
	if st := e.stateOf(l); st.Files != 0 {
		t.Fatalf("refused drops were counted: %+v", st)
	}

	// A good one lands in the folder, by the link.
	req := good()
	if status, body := drop(req); status != http.StatusCreated {
		t.Fatalf("drop: %d %s", status, body)
	}
	var kids api.NodeList
	e.getJSON("/v1/nodes/"+b64u(inbox.ID)+"/children", e.owner.Token, &kids)
	found := false
	for _, n := range kids.Nodes {
		if bytes.Equal(n.ID, req.Node.ID) {
			found = true
			if n.Author != "link:"+b64u(l.id) || n.Head == nil || n.Head.Author != n.Author || len(n.Head.Blocks) != 1 {
				t.Errorf("the drop as the owner sees it: %+v", n)
			}
		}
	}
	if !found {
		t.Fatalf("the drop is not in the folder: %+v", kids)
	}
	// Its blocks are the owner's to read; they cannot be dropped twice.
	status, _, body = call(t, http.MethodGet, e.env.URL+"/v1/blocks/"+hex.EncodeToString(b1), "", nil, e.owner.Token)
	if status != http.StatusOK || len(body) != 1000 {
		t.Errorf("the owner reading the dropped block: %d", status)
	}
	status, body = drop(good())
	wantError(t, "a block dropped twice", status, body, 400, api.CodeBadRequest)

	if st := e.stateOf(l); st.Bytes != 1000 || e.pending(l) != 0 {
		t.Errorf("after the drop: %+v, %d pending", st, e.pending(l))
	}

	// The byte limit, with what was dropped and what was uploaded and
	// not dropped, then the file limit.
	status, body, _ = putBlock(bytes.Repeat([]byte{2}, 2001))
	wantError(t, "a block past max_bytes", status, body, 413, api.CodeTooLarge)
	status, body, abandoned := putBlock(bytes.Repeat([]byte{4}, 1500))
	if status != http.StatusCreated {
		t.Fatalf("a block to abandon: %d %s", status, body)
	}
	status, body, _ = putBlock(bytes.Repeat([]byte{3}, 2000))
	wantError(t, "a block past max_bytes with one pending", status, body, 413, api.CodeTooLarge)
	// Garbage collection of the abandoned block gives its room back.
	if gone, err := e.env.Store.DeleteBlock(context.Background(), abandoned); err != nil || !gone {
		t.Fatalf("collect the abandoned block: %v %v", gone, err)
	}
	if got := e.pending(l); got != 0 {
		t.Errorf("%d bytes pending after garbage collection, want 0", got)
	}
	status, body, b2 := putBlock(bytes.Repeat([]byte{3}, 2000))
	if status != http.StatusCreated {
		t.Fatalf("a block up to max_bytes: %d %s", status, body)
	}
	if status, body := drop(dropRequest(t, l, e.vol, inbox.ID, b2)); status != http.StatusCreated {
		t.Fatalf("second drop: %d %s", status, body)
	}
	status, body = drop(dropRequest(t, l, e.vol, inbox.ID))
	wantError(t, "a drop past max_files", status, body, 403, api.CodeForbidden)
	st := e.stateOf(l)
	if st.Files != 2 || st.Bytes != 3000 || st.State != api.LinkActive {
		t.Errorf("after the limits: %+v", st)
	}
	var info api.LinkInfo
	e.getJSON(l.path(""), "", &info)
	if info.Files != 2 || info.Bytes != 3000 {
		t.Errorf("public info after uploads: %+v", info)
	}
}

func TestLinkUploadQuota(t *testing.T) {
	e := newLinkEnv(t)
	inbox := e.mkdir("/inbox")
	l := e.link(inbox.ID, api.LinkUpload, nil)
	tok := e.open(l).Token
	var u api.Usage
	e.getJSON(api.PathUsage, e.owner.Token, &u)
	u2, err := e.env.Store.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.env.Store.SetQuota(context.Background(), u2.ID, u.UsedBytes+1500); err != nil {
		t.Fatal(err)
	}
	put := func(data []byte) (int, []byte) {
		sum := sha256.Sum256(data)
		status, _, body := call(t, http.MethodPut, e.env.URL+l.path("/blocks/"+hex.EncodeToString(sum[:])), "application/octet-stream", data, tok)
		return status, body
	}
	if status, body := put(bytes.Repeat([]byte{1}, 1000)); status != http.StatusCreated {
		t.Fatalf("block within the quota: %d %s", status, body)
	}
	status, body := put(bytes.Repeat([]byte{2}, 1000))
	wantError(t, "a block past the owner's quota", status, body, 507, api.CodeQuota)
	status, body = put(bytes.Repeat([]byte{3}, api.MaxBlockBytes+1))
	wantError(t, "an oversized block", status, body, 413, api.CodeTooLarge)
	if st := e.stateOf(l); st.Bytes != 0 || e.pending(l) != 1000 {
		t.Errorf("refused blocks were counted: %+v, %d pending", st, e.pending(l))
	}
}

// pending returns the bytes uploaded through l and not dropped, as the
// store counts them.
func (e *linkEnv) pending(l *testLink) int64 {
	e.t.Helper()
	ml, err := e.env.Store.Link(context.Background(), l.id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ml.PendingBytes
}

func TestLinkLoginStartsAreLimitedPerAddress(t *testing.T) {
	e := newLinkEnv(t)
	dir := e.mkdir("/dir")
	a, b := e.link(dir.ID, api.LinkRead, nil), e.link(dir.ID, api.LinkRead, nil)
	sc, err := srp.NewClient(srp.Group3072())
	if err != nil {
		t.Fatal(err)
	}
	start := func(l *testLink) (int, http.Header, []byte) {
		return postJSON(t, e.env.URL+l.path("/login/start"), api.LinkLoginStartRequest{A: sc.A()}, "")
	}
	// 30 at once from one address, over any links, none finished.
	for i := range 30 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if status, _, body := start(l); status != http.StatusOK {
			t.Fatalf("start %d: %d %s", i, status, body)
		}
	}
	status, hdr, body := start(a)
	wantError(t, "a start past the address's limit", status, body, 429, api.CodeTooManyRequests)
	if ra := hdr.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2", ra)
	}
	status, _, body = start(b)
	wantError(t, "a start of another link past the address's limit", status, body, 429, api.CodeTooManyRequests)
	// Then one every 2 seconds.
	e.env.Clock.Advance(2 * time.Second)
	if status, _, body := start(a); status != http.StatusOK {
		t.Errorf("a start 2 s later: %d %s", status, body)
	}
	status, _, body = start(a)
	wantError(t, "and again at once", status, body, 429, api.CodeTooManyRequests)
	// A handshake begun before the limit still finishes.
	e.env.Clock.Advance(2 * time.Second)
	e.open(a)
}

func TestLinkReadLeavesOutDrops(t *testing.T) {
	e := newLinkEnv(t)
	inbox := e.mkdir("/inbox")
	f := e.put("/inbox/f.txt", "the owner's")
	up := e.link(inbox.ID, api.LinkUpload, nil)
	utok := e.open(up).Token
	data := []byte("dropped")
	sum := sha256.Sum256(data)
	status, _, body := call(t, http.MethodPut, e.env.URL+up.path("/blocks/"+hex.EncodeToString(sum[:])), "application/octet-stream", data, utok)
	if status != http.StatusCreated {
		t.Fatalf("put block: %d %s", status, body)
	}
	req := dropRequest(t, up, e.vol, inbox.ID, sum[:])
	if status, _, body := postJSON(t, e.env.URL+up.path("/drops"), req, utok); status != http.StatusCreated {
		t.Fatalf("drop: %d %s", status, body)
	}
	drop := req.Node.ID

	l := e.link(inbox.ID, api.LinkRead, nil)
	tok := e.open(l).Token
	get := func(p string) (int, []byte) {
		status, _, body := call(t, http.MethodGet, e.env.URL+l.path(p), "", nil, tok)
		return status, body
	}
	var list api.NodeList
	status, body = get("/nodes/" + b64u(inbox.ID) + "/children")
	if status != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Nodes) != 1 || !bytes.Equal(list.Nodes[0].ID, f.ID) {
		t.Errorf("children of the linked folder: %d %s; want the owner's file only", status, body)
	}
	status, body = get("/nodes/" + b64u(inbox.ID) + "/children?name_hash=" + b64u(req.Node.NameHash))
	if status != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Nodes) != 0 {
		t.Errorf("the drop by name hash: %d %s", status, body)
	}
	status, body = get("/nodes/" + b64u(drop))
	wantError(t, "the drop", status, body, 404, api.CodeNotFound)
	status, body = get("/blocks/" + hex.EncodeToString(sum[:]) + "?node=" + b64u(drop))
	wantError(t, "the drop's block", status, body, 404, api.CodeNotFound)
	// The owner sees it.
	var kids api.NodeList
	e.getJSON("/v1/nodes/"+b64u(inbox.ID)+"/children", e.owner.Token, &kids)
	if len(kids.Nodes) != 2 {
		t.Errorf("the owner's listing: %+v", kids)
	}
}

// The API's answers, JSON and blocks, on the origin that serves the link
// page too, are not to be sniffed or run as a page.
func TestAPIAnswersAreNotPages(t *testing.T) {
	e := newLinkEnv(t)
	f := e.put("/f.txt", "content")
	l := e.link(f.ID, api.LinkRead, nil)
	tok := e.open(l).Token
	block := hex.EncodeToString(f.Head.Blocks[0])
	check := func(what string, status int, h http.Header, wantStatus int, sandboxed bool) {
		t.Helper()
		if status != wantStatus {
			t.Errorf("%s: status %d, want %d", what, status, wantStatus)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
		}
		csp := h.Get("Content-Security-Policy")
		if sandboxed && (!strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'")) {
			t.Errorf("%s: Content-Security-Policy %q, want sandbox and default-src 'none'", what, csp)
		}
	}
	status, h, _ := call(t, http.MethodGet, e.env.URL+l.path(""), "", nil, "")
	check("link info", status, h, 200, true)
	status, h, _ = call(t, http.MethodGet, e.env.URL+"/v1/links/"+b64u(randBytes(t, 16)), "", nil, "")
	check("an error", status, h, 404, true)
	status, h, _ = call(t, http.MethodGet, e.env.URL+"/v1/volume", "", nil, e.owner.Token)
	check("the owner's volume", status, h, 200, true)
	status, h, _ = call(t, http.MethodGet, e.env.URL+"/v1/blocks/"+block, "", nil, e.owner.Token)
	check("the owner's block", status, h, 200, true)
	status, h, _ = call(t, http.MethodGet, e.env.URL+l.path("/blocks/"+block+"?node="+b64u(f.ID)), "", nil, tok)
	check("a block through a link", status, h, 200, true)
	status, h, _ = postJSON(t, e.env.URL+api.PathBlocksGet, api.BlockIDs{IDs: f.Head.Blocks}, e.owner.Token)
	check("blocks in a batch", status, h, 200, true)
}

func TestLinkTokensStayApart(t *testing.T) {
	e := newLinkEnv(t)
	dir := e.mkdir("/dir")
	f := e.put("/dir/f.txt", "x")
	a, b := e.link(dir.ID, api.LinkRead, nil), e.link(dir.ID, api.LinkRead, nil)
	up := e.link(dir.ID, api.LinkUpload, nil)
	ta, tb, tu := e.open(a).Token, e.open(b).Token, e.open(up).Token
	block := hex.EncodeToString(f.Head.Blocks[0])

	// An account's token, another link's token or none opens no link
	// session.
	for name, tok := range map[string]string{
		"the owner's session": e.owner.Token, "another link's session": tb, "no token": "",
		"garbage": "not-a-token", "unknown": strings.Repeat("A", 43),
	} {
		for _, ep := range []struct{ method, path string }{
			{http.MethodGet, a.path("/nodes/" + b64u(dir.ID))},
			{http.MethodGet, a.path("/nodes/" + b64u(dir.ID) + "/children")},
			{http.MethodGet, a.path("/blocks/" + block + "?node=" + b64u(f.ID))},
		} {
			status, _, body := call(t, ep.method, e.env.URL+ep.path, "", nil, tok)
			wantError(t, name+" on "+ep.path, status, body, 401, api.CodeUnauthorized)
		}
	}
	for name, tok := range map[string]string{"the owner's session": e.owner.Token, "a read link's session": ta} {
		status, _, body := call(t, http.MethodPut, e.env.URL+up.path("/blocks/"+block), "application/octet-stream", []byte("x"), tok)
		wantError(t, name+" putting a block", status, body, 401, api.CodeUnauthorized)
		status, _, body = postJSON(t, e.env.URL+up.path("/drops"), api.LinkDropRequest{}, tok)
		wantError(t, name+" dropping", status, body, 401, api.CodeUnauthorized)
	}
	// A link's token opens no account endpoint.
	for _, tok := range []string{ta, tu} {
		for _, ep := range authedEndpoints {
			status, _, body := call(t, ep.method, e.env.URL+ep.path, "application/json", []byte(`{}`), tok)
			wantError(t, "a link token on "+ep.method+" "+ep.path, status, body, 401, api.CodeUnauthorized)
		}
		for _, ep := range []struct{ method, path string }{
			{http.MethodGet, "/v1/nodes/" + b64u(dir.ID)},
			{http.MethodGet, "/v1/blocks/" + block},
			{http.MethodGet, api.PathLinks},
			{http.MethodPost, api.PathLinks},
			{http.MethodDelete, a.path("")},
		} {
			status, _, body := call(t, ep.method, e.env.URL+ep.path, "application/json", []byte(`{}`), tok)
			wantError(t, "a link token on "+ep.method+" "+ep.path, status, body, 401, api.CodeUnauthorized)
		}
	}
	// The logs hold no token, payload, owner record or verifier.
	logs := e.env.Log.Bytes()
	for _, secret := range []string{ta, tb, tu, base64.StdEncoding.EncodeToString(a.req.Payload),
		base64.StdEncoding.EncodeToString(a.req.OwnerRecord), base64.StdEncoding.EncodeToString(a.req.Verifier),
		hex.EncodeToString(a.req.Payload[:16]), hex.EncodeToString(a.req.Verifier[:16])} {
		if bytes.Contains(logs, []byte(secret)) {
			t.Errorf("the log holds a secret %.12s…", secret)
		}
	}
}
