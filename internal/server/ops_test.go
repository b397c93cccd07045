package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/blob"
	blobfile "github.com/coffer-drive/coffer/internal/blob/file"
	"github.com/coffer-drive/coffer/internal/blob/replicated"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/metadb"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
	"github.com/coffer-drive/coffer/internal/srp"
)

// opsClock is a settable clock for a server built by startOps.
type opsClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *opsClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *opsClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// opsEnv is a server with its own metrics registry and a JSON log, as
// `coffer serve --log-format json` writes it.
type opsEnv struct {
	url   string
	store meta.Store
	reg   *prometheus.Registry
	logs  *servertest.Buffer
	clock *opsClock
}

// startOps runs a server on a fresh SQLite store, keeping blocks in blobs
// (nil: a folder). The log is at level, in JSON.
func startOps(t *testing.T, opts server.Options, blobs blob.Store, level slog.Level) *opsEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	target, err := metadb.Parse("", dir)
	if err != nil {
		t.Fatal(err)
	}
	store, err := metadb.Open(ctx, target)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	if blobs == nil {
		fs, err := blobfile.Open(filepath.Join(dir, "blocks"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		blobs = fs
	}
	e := &opsEnv{store: store, reg: prometheus.NewRegistry(), logs: &servertest.Buffer{}, clock: &opsClock{now: time.Now()}}
	opts.Metrics, opts.Now = e.reg, e.clock.Now
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(ctx, store, blobs, log, opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e.url = hs.URL
	return e
}

// lines returns the log's records.
func (e *opsEnv) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range bytes.Lines(e.logs.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// series returns every sample of the registry as "name{labels} value"
// lines, for searching.
func (e *opsEnv) series(t *testing.T) string {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			b.WriteString(mf.GetName() + "{")
			for _, l := range m.GetLabel() {
				b.WriteString(l.GetName() + "=" + l.GetValue() + ",")
			}
			b.WriteString("}\n")
		}
	}
	return b.String()
}

// requests is coffer_http_requests_total for the labels.
func (e *opsEnv) requests(t *testing.T, method, route, code string) float64 {
	t.Helper()
	return e.counter(t, "coffer_http_requests_total", map[string]string{"method": method, "route": route, "code": code})
}

// counter is the value of the counter or gauge name with exactly labels,
// or 0 if there is none.
func (e *opsEnv) counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func TestHTTPMetrics(t *testing.T) {
	e := startOps(t, server.Options{}, nil, slog.LevelInfo)
	nodeID := b64u(randBytes(t, 16))
	for range 3 {
		if status, _, body := call(t, http.MethodGet, e.url+api.PathInfo, "", nil, ""); status != http.StatusOK {
			t.Fatalf("info: %d %s", status, body)
		}
	}
	if status, _, _ := call(t, http.MethodGet, e.url+"/v1/nodes/"+nodeID, "", nil, ""); status != http.StatusUnauthorized {
		t.Fatalf("node without a session: %d", status)
	}
	if status, _, _ := call(t, http.MethodGet, e.url+"/no/such/"+nodeID, "", nil, ""); status != http.StatusNotFound {
		t.Fatalf("unknown path: %d", status)
	}
	if status, _, _ := call(t, "BREW", e.url+api.PathInfo, "", nil, ""); status == http.StatusOK {
		t.Fatal("BREW answered 200")
	}

	if n := e.requests(t, "GET", "GET "+api.PathInfo, "200"); n != 3 {
		t.Errorf("info requests counted: %v, want 3", n)
	}
	if n := e.requests(t, "GET", "GET "+api.PathNode, "401"); n != 1 {
		t.Errorf("node requests counted under the route pattern: %v, want 1", n)
	}
	if n := e.requests(t, "GET", "other", "404"); n != 1 {
		t.Errorf("unknown path counted as route other: %v, want 1", n)
	}
	all := e.series(t)
	if !strings.Contains(all, "coffer_http_requests_total{code=404,method=other,route=other,}") {
		t.Errorf("an unknown method is not counted as method other:\n%s", all)
	}
	if strings.Contains(all, nodeID) || strings.Contains(all, "BREW") || strings.Contains(all, "/no/such") {
		t.Fatalf("a raw path or method is a label value:\n%s", all)
	}
	if !strings.Contains(all, "coffer_http_request_duration_seconds{method=GET,route=GET /v1/info,}") {
		t.Errorf("no duration histogram for info:\n%s", all)
	}
	if n := e.counter(t, "coffer_http_requests_in_flight", nil); n != 0 {
		t.Errorf("requests in flight after all were answered: %v", n)
	}
	for _, k := range []string{"signup", "login", "recover", "link"} {
		if !strings.Contains(all, "coffer_throttle_rejections_total{kind="+k+",}") {
			t.Errorf("throttle rejections of kind %s are not shown before the first one", k)
		}
	}
}

// Two servers in one process keep their metrics apart, each in its own
// registry; registering one twice is an error, not a panic.
func TestHTTPMetricsPerServer(t *testing.T) {
	a := startOps(t, server.Options{}, nil, slog.LevelInfo)
	b := startOps(t, server.Options{}, nil, slog.LevelInfo)
	call(t, http.MethodGet, a.url+api.PathInfo, "", nil, "")
	call(t, http.MethodGet, a.url+api.PathInfo, "", nil, "")
	call(t, http.MethodGet, b.url+api.PathInfo, "", nil, "")
	if na, nb := a.requests(t, "GET", "GET "+api.PathInfo, "200"), b.requests(t, "GET", "GET "+api.PathInfo, "200"); na != 2 || nb != 1 {
		t.Fatalf("info requests: %v and %v, want 2 and 1", na, nb)
	}
	_, err := server.New(context.Background(), a.store, nil, nil, server.Options{Metrics: a.reg})
	if err == nil {
		t.Fatal("a second server registered its metrics on a registry that has them")
	}
}

func TestThrottleRejectionsCounted(t *testing.T) {
	policy := server.DefaultThrottlePolicy()
	policy.FreeAccount = 1
	e := startOps(t, server.Options{Throttle: &policy}, nil, slog.LevelInfo)
	refused := 0
	for range 4 {
		sc, err := srp.NewClient(srp.Group3072())
		if err != nil {
			t.Fatal(err)
		}
		status, _, _ := postJSON(t, e.url+api.PathLoginStart, api.LoginStartRequest{User: "mallory-target", A: sc.A()}, "")
		if status == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no login refused: the test's policy is not in force")
	}
	if n := e.counter(t, "coffer_throttle_rejections_total", map[string]string{"kind": "login"}); n != float64(refused) {
		t.Fatalf("login rejections counted: %v, want %d", n, refused)
	}

	// Wrong link passwords, past the link's limit.
	c, sess := account(t, &servertest.Env{URL: e.url}, "alice", "alice password")
	d, err := c.Drive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	le := &linkEnv{t: t, env: &servertest.Env{URL: e.url}, drive: d, owner: sess}
	var vr api.VolumeResponse
	le.getJSON(api.PathVolume, sess.Token, &vr)
	le.vol, le.root = vr.Volume, vr.Root.ID
	dir := le.mkdir("/linked")
	l := le.link(dir.ID, api.LinkRead, nil)
	refused = 0
	for range 7 {
		if status, _, _ := le.wrongProof(l); status == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no wrong link password refused")
	}
	if n := e.counter(t, "coffer_throttle_rejections_total", map[string]string{"kind": "link"}); n != float64(refused) {
		t.Fatalf("link rejections counted: %v, want %d", n, refused)
	}
	if n := e.counter(t, "coffer_throttle_rejections_total", map[string]string{"kind": "other"}); n != 0 {
		t.Fatalf("rejections counted as other: %v", n)
	}
	if strings.Contains(e.series(t), "mallory") {
		t.Fatal("a user name is in the metrics")
	}
}

// downable is a block location a test can take down: every Stat fails.
type downable struct {
	replicated.Location
	down  atomic.Bool
	stats atomic.Int64
}

func (d *downable) Stat(ctx context.Context, id blob.ID) (int64, error) {
	d.stats.Add(1)
	if d.down.Load() {
		return 0, errors.New("connection refused (test)")
	}
	return d.Location.Stat(ctx, id)
}

func TestHealthAndReadiness(t *testing.T) {
	var locs []*downable
	var named []replicated.NamedLocation
	secretDir := t.TempDir() // the locations' names must not be served
	for i := range 3 {
		dir := filepath.Join(secretDir, "loc"+string(rune('a'+i)))
		fs, err := blobfile.OpenUnchecked(dir)
		if err != nil {
			t.Fatal(err)
		}
		d := &downable{Location: fs}
		locs = append(locs, d)
		named = append(named, replicated.NamedLocation{Name: "file://" + dir, Location: d})
	}
	rs, err := replicated.New(replicated.Config{Locations: named, Policy: replicated.Policy{Replicas: 3}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	e := startOps(t, server.Options{}, rs, slog.LevelInfo)

	get := func(path string) (int, []byte) {
		t.Helper()
		status, _, body := call(t, http.MethodGet, e.url+path, "", nil, "")
		return status, body
	}
	wantOK := func(path string) {
		t.Helper()
		if status, body := get(path); status != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
			t.Fatalf("%s: %d %s, want 200 {\"status\":\"ok\"}", path, status, body)
		}
	}
	wantNotReady := func(reason string) {
		t.Helper()
		status, body := get(api.PathReady)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("readyz: %d %s, want 503", status, body)
		}
		if d := errorBody(t, body); !strings.Contains(d.Message, reason) {
			t.Fatalf("readyz says %q, want it to say %q", d.Message, reason)
		}
		if bytes.Contains(body, []byte(secretDir)) {
			t.Fatalf("readyz shows a location's name: %s", body)
		}
	}
	stats := func() int64 {
		var n int64
		for _, d := range locs {
			n += d.stats.Load()
		}
		return n
	}

	wantOK(api.PathHealth)
	wantOK(api.PathReady)
	// Polls within storageReadyTTL reuse the verdict: no location is
	// asked again, and a location going down is not seen yet.
	probes := stats()
	if probes != 3 {
		t.Fatalf("first readiness check made %d calls to the 3 locations, want 3", probes)
	}
	locs[0].down.Store(true)
	locs[1].down.Store(true)
	for range 5 {
		wantOK(api.PathReady)
	}
	if n := stats(); n != probes {
		t.Fatalf("polls within the cache's life made %d calls to the locations", n-probes)
	}
	e.clock.Advance(6 * time.Second)
	wantNotReady("block storage: 1 of 3 locations reachable, and uploads need 2")
	wantNotReady("block storage")
	wantOK(api.PathHealth) // liveness does not depend on storage

	locs[0].down.Store(false)
	locs[1].down.Store(false)
	e.clock.Advance(6 * time.Second)
	wantOK(api.PathReady)

	// The metadata store gone: not ready, but alive.
	e.store.Close()
	wantNotReady("metadata store unreachable")
	wantOK(api.PathHealth)

	// The probes are counted, but their access lines are at Debug level,
	// below this log's; a change of readiness is logged once, not at
	// every poll.
	if n := e.requests(t, "GET", "GET "+api.PathReady, "503"); n != 3 {
		t.Errorf("failed readiness polls counted: %v, want 3", n)
	}
	if n := e.requests(t, "GET", "GET "+api.PathHealth, "200"); n != 3 {
		t.Errorf("health polls counted: %v, want 3", n)
	}
	var notReady, again int
	for _, l := range e.lines(t) {
		switch l["msg"] {
		case "request":
			t.Errorf("a probe's access line at Info level: %v", l)
		case "not ready":
			notReady++
		case "ready again":
			again++
		}
	}
	if notReady != 2 || again != 1 {
		t.Errorf("logged %d 'not ready' and %d 'ready again', want 2 (storage, then database) and 1", notReady, again)
	}
}

// A blob store that cannot tell its readiness counts as ready.
func TestReadinessWithPlainBlobStore(t *testing.T) {
	e := startOps(t, server.Options{}, nil, slog.LevelDebug)
	status, _, body := call(t, http.MethodGet, e.url+api.PathReady, "", nil, "")
	if status != http.StatusOK {
		t.Fatalf("readyz: %d %s", status, body)
	}
	var probeLines int
	for _, l := range e.lines(t) {
		if l["msg"] == "request" && l["route"] == "GET "+api.PathReady {
			if l["level"] != "DEBUG" {
				t.Fatalf("probe access line at %v", l["level"])
			}
			probeLines++
		}
	}
	if probeLines != 1 {
		t.Fatalf("%d access lines for one probe", probeLines)
	}
}

// TestLogsCarryRequestIDAndNoSecrets runs an account's life (sign-up,
// login, a wrong password, upload, a link with a password, its opening and
// download, logout) against a server logging JSON at Debug level, then
// checks that every line carries the ID of the request it was logged in,
// and that no name, password, token or link secret of the run is there.
func TestLogsCarryRequestIDAndNoSecrets(t *testing.T) {
	e := startOps(t, server.Options{}, nil, slog.LevelDebug)
	const (
		user         = "zebulon-ops"
		password     = "correct horse battery staple"
		fileName     = "quarterly-secret-plan.txt"
		linkPassword = "link password of the plan"
	)
	ctx := context.Background()
	content := bytes.Repeat([]byte("the plan "), 1000)
	cfg, err := client.OpenConfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(cfg, nil)
	if _, err := c.Signup(ctx, e.url, user, []byte(password)); err != nil {
		t.Fatalf("signup: %v", err)
	}
	if _, err := c.Login(ctx, e.url, user, []byte("not the password")); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	sess, err := c.Login(ctx, e.url, user, []byte(password))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	d, err := c.Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), fileName)
	if err := os.WriteFile(local, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, []string{local}, "/"+fileName, client.PutOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	info, err := d.CreateLink(ctx, "/"+fileName, client.LinkOptions{Password: linkPassword})
	if err != nil {
		t.Fatalf("create link: %v", err)
	}
	_, linkID, linkSecret, err := crypto.ParseLinkURL(info.URL)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := client.New(nil, nil).OpenLink(ctx, info.URL, func() (string, error) { return linkPassword, nil })
	if err != nil {
		t.Fatalf("open link: %v", err)
	}
	var got bytes.Buffer
	if err := ls.Cat(ctx, &got); err != nil || !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("link download: %v (%d bytes)", err, got.Len())
	}
	// A request that fails inside the server logs its error too.
	if status, _, _ := call(t, http.MethodGet, e.url+"/v1/nodes/"+b64u(randBytes(t, 16)), "", nil, sess.Token); status != http.StatusNotFound {
		t.Fatalf("unknown node: %d", status)
	}

	lines := e.lines(t)
	requests := map[string]bool{}
	for _, l := range lines {
		if id, _ := l["request_id"].(string); l["msg"] == "request" && id != "" {
			requests[id] = true
		}
	}
	var login bool
	for _, l := range lines {
		id, _ := l["request_id"].(string)
		if id == "" || !requests[id] {
			t.Errorf("a line without the ID of a request it was logged in: %v", l)
		}
		if l["msg"] == "login" {
			login = true
			if _, ok := l["user_id"]; !ok {
				t.Errorf("the login line does not say which account: %v", l)
			}
		}
	}
	if !login || len(requests) < 10 {
		t.Fatalf("the log holds %d requests and login %v: the flow did not run as meant\n%s", len(requests), login, e.logs.Bytes())
	}

	tokenHash := sha256.Sum256(mustB64u(t, sess.Token))
	secrets := map[string]string{
		"user name":                  user,
		"password":                   password,
		"wrong password":             "not the password",
		"bearer token":               sess.Token,
		"token hash (hex)":           hex.EncodeToString(tokenHash[:]),
		"token hash (base64)":        base64.StdEncoding.EncodeToString(tokenHash[:]),
		"file name":                  fileName,
		"link ID":                    b64u(linkID),
		"link ID (base64)":           base64.StdEncoding.EncodeToString(linkID),
		"link secret":                b64u(linkSecret),
		"link password":              linkPassword,
		"file content":               "the plan the plan",
		"the link's URL":             info.URL,
		"the user name, JSON-quoted": `"` + user + `"`,
	}
	logs := e.logs.Bytes()
	for what, s := range secrets {
		if bytes.Contains(logs, []byte(s)) {
			t.Errorf("the log holds the %s", what)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}
