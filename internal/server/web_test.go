package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
	"github.com/coffer-drive/coffer/internal/webui"
)

// fakeWebClient is a built web client as Vite lays it out.
func fakeWebClient() fstest.MapFS {
	return fstest.MapFS{
		".keep":                   {Data: []byte("placeholder")},
		"index.html":              {Data: []byte(`<!doctype html><script type="module" src="/app/assets/index-AbC123.js"></script>`)},
		"sw.js":                   {Data: []byte(`self.addEventListener("fetch",()=>{})`)},
		"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		"assets/index-AbC123.js":  {Data: []byte(`console.log(1)`)},
		"assets/index-DeF456.css": {Data: []byte(`body{}`)},
	}
}

// checkWebHeaders fails the test unless h carries the headers every
// response of the web client must carry.
func checkWebHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy":    server.WebCSP,
		"Referrer-Policy":            "no-referrer",
		"X-Content-Type-Options":     "nosniff",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
	if h.Get("Service-Worker-Allowed") != "" {
		t.Errorf("%s: Service-Worker-Allowed set; the worker's scope is its own folder", what)
	}
}

func TestWebCSPIsStrict(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(server.WebCSP, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		directives[f[0]] = strings.Join(f[1:], " ")
	}
	want := map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self' 'wasm-unsafe-eval'",
		"style-src":       "'self'",
		"connect-src":     "'self'",
		"base-uri":        "'none'",
		"form-action":     "'none'",
		"frame-ancestors": "'none'",
	}
	for k, v := range want {
		if directives[k] != v {
			t.Errorf("CSP %s = %q, want %q", k, directives[k], v)
		}
	}
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:", "blob:"} {
		for _, tok := range strings.Fields(strings.ReplaceAll(server.WebCSP, ";", " ")) {
			if tok == bad {
				t.Errorf("CSP allows %s: %s", bad, server.WebCSP)
			}
		}
	}
}

func TestWebPage(t *testing.T) {
	web := fakeWebClient()
	env := servertest.Start(t, server.Options{Web: web})
	// With a trailing slash too: the URL parser takes it (docs/crypto.md
	// 13.13).
	for _, id := range []string{"AbCdEf0123456789_-xyzw", "x", "AbCdEf0123456789_-xyzw/", "x/"} {
		status, h, body := call(t, http.MethodGet, env.URL+"/s/"+id, "", nil, "")
		if status != http.StatusOK || !bytes.Equal(body, web["index.html"].Data) {
			t.Fatalf("GET /s/%s: %d %q", id, status, body)
		}
		checkWebHeaders(t, "page", h)
		if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("page Content-Type %q", ct)
		}
		if cc := h.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("page Cache-Control %q, want no-store", cc)
		}
	}
	// Nothing deeper is the page.
	for _, p := range []string{"/s/x/y", "/s/x/y/"} {
		status, _, body := call(t, http.MethodGet, env.URL+p, "", nil, "")
		if status == http.StatusOK || bytes.Equal(body, web["index.html"].Data) {
			t.Errorf("GET %s: %d %q, want no page", p, status, body)
		}
	}
	status, h, body := call(t, http.MethodHead, env.URL+"/s/abc", "", nil, "")
	if status != http.StatusOK || len(body) != 0 {
		t.Fatalf("HEAD /s/abc: %d %q", status, body)
	}
	checkWebHeaders(t, "HEAD page", h)
}

func TestWebServiceWorker(t *testing.T) {
	web := fakeWebClient()
	env := servertest.Start(t, server.Options{Web: web})
	status, h, body := call(t, http.MethodGet, env.URL+"/s/sw.js", "", nil, "")
	if status != http.StatusOK || !bytes.Equal(body, web["sw.js"].Data) {
		t.Fatalf("GET /s/sw.js: %d %q", status, body)
	}
	checkWebHeaders(t, "sw.js", h)
	if ct := h.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("sw.js Content-Type %q: a service worker must be JavaScript", ct)
	}
	if cc := h.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("sw.js Cache-Control %q, want no-cache", cc)
	}
	// A download URL that the worker did not take: a plain 404, with the
	// same headers.
	status, h, body = call(t, http.MethodGet, env.URL+"/s/_dl/0123456789abcdef0123456789abcdef", "", nil, "")
	if status != http.StatusNotFound || !strings.Contains(string(body), "expired") {
		t.Fatalf("stale download: %d %q", status, body)
	}
	checkWebHeaders(t, "stale download", h)
}

func TestWebAssets(t *testing.T) {
	web := fakeWebClient()
	env := servertest.Start(t, server.Options{Web: web})
	cases := []struct {
		path, ctype, cache string
	}{
		{"/app/assets/index-AbC123.js", "javascript", "public, max-age=31536000, immutable"},
		{"/app/assets/index-DeF456.css", "text/css", "public, max-age=31536000, immutable"},
		{"/app/favicon.svg", "image/svg+xml", "no-cache"},
	}
	for _, tc := range cases {
		status, h, body := call(t, http.MethodGet, env.URL+tc.path, "", nil, "")
		name := strings.TrimPrefix(tc.path, "/app/")
		if status != http.StatusOK || !bytes.Equal(body, web[name].Data) {
			t.Fatalf("GET %s: %d %q", tc.path, status, body)
		}
		checkWebHeaders(t, tc.path, h)
		if ct := h.Get("Content-Type"); !strings.Contains(ct, tc.ctype) {
			t.Errorf("%s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		if cc := h.Get("Cache-Control"); cc != tc.cache {
			t.Errorf("%s: Cache-Control %q, want %q", tc.path, cc, tc.cache)
		}
		etag := h.Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", tc.path)
		}
		req, _ := http.NewRequest(http.MethodGet, env.URL+tc.path, nil)
		req.Header.Set("If-None-Match", etag)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d, want 304", tc.path, resp.StatusCode)
		}
	}
	for _, p := range []string{"/app/index.html", "/app/sw.js", "/app/.keep", "/app/assets/missing.js", "/app/", "/app/assets/"} {
		status, h, _ := call(t, http.MethodGet, env.URL+p, "", nil, "")
		if status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, status)
		}
		checkWebHeaders(t, p, h)
	}
}

func TestWebNotBuilt(t *testing.T) {
	env := servertest.Start(t, server.Options{Web: fstest.MapFS{".keep": {Data: []byte("placeholder")}}})
	status, h, body := call(t, http.MethodGet, env.URL+"/s/abc", "", nil, "")
	if status != http.StatusServiceUnavailable || string(body) != "the web client is not built: run make web\n" {
		t.Fatalf("GET /s/abc unbuilt: %d %q", status, body)
	}
	checkWebHeaders(t, "unbuilt page", h)
	if ct := h.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("unbuilt page Content-Type %q", ct)
	}
	for _, p := range []string{"/s/sw.js", "/app/assets/index-AbC123.js", "/app/.keep"} {
		if status, _, _ := call(t, http.MethodGet, env.URL+p, "", nil, ""); status != http.StatusNotFound {
			t.Errorf("GET %s unbuilt: %d, want 404", p, status)
		}
	}
	// The API is unaffected.
	if status, _, _ := call(t, http.MethodGet, env.URL+"/healthz", "", nil, ""); status != http.StatusOK {
		t.Errorf("healthz: %d", status)
	}
}

// The binary's own client: served if `make web` ran before the build,
// otherwise the not-built answer. Either way with the same headers.
func TestWebEmbedded(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	status, h, body := call(t, http.MethodGet, env.URL+"/s/abc", "", nil, "")
	checkWebHeaders(t, "embedded page", h)
	if !webui.Built(webui.FS()) {
		if status != http.StatusServiceUnavailable {
			t.Fatalf("unbuilt embedded client: %d %q", status, body)
		}
		return
	}
	if status != http.StatusOK || !bytes.Contains(body, []byte(`src="/app/assets/`)) {
		t.Fatalf("embedded page: %d %q", status, body)
	}
	if bytes.Contains(body, []byte("<script>")) || bytes.Contains(body, []byte("<style")) || bytes.Contains(body, []byte(" style=")) {
		t.Errorf("embedded page has inline script or style, which the CSP refuses: %s", body)
	}
	if status, h, _ := call(t, http.MethodGet, env.URL+"/s/sw.js", "", nil, ""); status != http.StatusOK || !strings.Contains(h.Get("Content-Type"), "javascript") {
		t.Errorf("embedded sw.js: %d %q", status, h.Get("Content-Type"))
	}
}

// The log holds the route pattern, never the link ID, a query string or a
// fragment (which browsers never send anyway).
func TestWebLogsNoPathOrQuery(t *testing.T) {
	env := servertest.Start(t, server.Options{Web: fakeWebClient()})
	const id, query = "LinkIdInTheLog42", "SecretInTheQuery42"
	if status, _, _ := call(t, http.MethodGet, env.URL+"/s/"+id+"?k="+query, "", nil, ""); status != http.StatusOK {
		t.Fatalf("GET page: %d", status)
	}
	call(t, http.MethodGet, env.URL+"/s/_dl/"+id+"?k="+query, "", nil, "")
	logs := env.Log.Bytes()
	if !bytes.Contains(logs, []byte("/s/{id}")) {
		t.Fatalf("no request line for the page in the log:\n%s", logs)
	}
	for _, s := range []string{id, query} {
		if bytes.Contains(logs, []byte(s)) {
			t.Errorf("the log contains %q:\n%s", s, logs)
		}
	}
}
