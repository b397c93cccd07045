package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

// linkEnv is alice's drive with two files and a folder, and links to
// them.
type linkEnv struct {
	*shareEnv
	a, b, inner []byte
}

func newLinkEnv(t *testing.T) *linkEnv {
	t.Helper()
	le := &linkEnv{shareEnv: newShareEnv(t, server.Options{}, "alice"),
		a: []byte("the first file, linked"), b: bytes.Repeat([]byte("another file "), 1000), inner: bytes.Repeat([]byte{7}, 5<<20)}
	le.put(t, "alice", "/a.txt", le.a, false)
	le.put(t, "alice", "/b.txt", le.b, false)
	if _, err := le.drive(t, "alice").Mkdir(ctx, "/dir", true); err != nil {
		t.Fatal(err)
	}
	le.put(t, "alice", "/dir/inner.bin", le.inner, false)
	return le
}

func (le *linkEnv) link(t *testing.T, p string, opt client.LinkOptions) string {
	t.Helper()
	info, err := le.drive(t, "alice").CreateLink(ctx, p, opt)
	if err != nil {
		t.Fatalf("link %s: %v", p, err)
	}
	return info.URL
}

// getLink downloads a link with no account, through hc (nil: directly).
func getLink(t *testing.T, hc *http.Client, url, password string) ([]byte, error) {
	t.Helper()
	c := client.New(nil, hc)
	s, err := c.OpenLink(ctx, url, func() (string, error) { return password, nil })
	if err != nil {
		return nil, err
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := s.Get(ctx, out, client.GetOptions{}); err != nil {
		return nil, err
	}
	if s.Root().IsDir() {
		return os.ReadFile(filepath.Join(out, "inner.bin"))
	}
	return os.ReadFile(out)
}

func TestLinkRoundTrip(t *testing.T) {
	le := newLinkEnv(t)
	for _, tc := range []struct {
		path, password string
		want           []byte
	}{
		{"/a.txt", "", le.a},
		{"/b.txt", "pässword", le.b},
		{"/dir", "", le.inner},
	} {
		u := le.link(t, tc.path, client.LinkOptions{Password: tc.password})
		got, err := getLink(t, nil, u, tc.password)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Fatalf("%s: %v (%d bytes)", tc.path, err, len(got))
		}
	}
}

// The malicious-server suite for links: each attack fails closed.
func TestLinkTamper(t *testing.T) {
	le := newLinkEnv(t)
	aURL := le.link(t, "/a.txt", client.LinkOptions{})
	bURL := le.link(t, "/b.txt", client.LinkOptions{})
	dirURL := le.link(t, "/dir", client.LinkOptions{})
	proxy := servertest.NewTamper(t, le.env.URL)
	pc := redirectTo(t, proxy.URL)
	idOf := func(u string) string { return u[strings.Index(u, "/s/")+3 : strings.Index(u, "#")] }
	aID, bID := idOf(aURL), idOf(bURL)

	// What b's link gives, to serve under a's.
	var bFinish api.LinkLoginFinishResponse
	var bNode api.Node
	proxy.OnPrefix("/v1/links/"+bID+"/login/finish", func(_ string, body []byte) []byte {
		_ = json.Unmarshal(body, &bFinish)
		return body
	})
	proxy.OnPrefix("/v1/links/"+bID+"/nodes/", func(_ string, body []byte) []byte {
		_ = json.Unmarshal(body, &bNode)
		return body
	})
	if _, err := getLink(t, pc, bURL, ""); err != nil {
		t.Fatal(err)
	}
	proxy.Reset()

	// want is what the failure must be: tampering detected, or the KDF
	// refused before it runs.
	tamper := func(err error) bool { return errors.Is(err, client.ErrTampered) }
	weak := func(err error) bool { return errors.Is(err, crypto.ErrWeakKDF) }
	shortSalt := func(err error) bool { return strings.Contains(err.Error(), "salt is 8 bytes") }
	cases := []struct {
		name  string
		url   string
		setup func()
		want  func(error) bool
	}{
		{"the payload of another link", aURL, func() {
			proxy.On("/v1/links/"+aID+"/login/finish", servertest.EditJSON(func(f *api.LinkLoginFinishResponse) {
				f.Payload = bFinish.Payload
			}))
		}, tamper},
		{"the payload of another link with its node", aURL, func() {
			proxy.On("/v1/links/"+aID+"/login/finish", servertest.EditJSON(func(f *api.LinkLoginFinishResponse) {
				f.Payload, f.Node, f.Volume = bFinish.Payload, bFinish.Node, bFinish.Volume
			}))
		}, tamper},
		{"a flipped bit in the payload", aURL, func() {
			proxy.On("/v1/links/"+aID+"/login/finish", servertest.EditJSON(func(f *api.LinkLoginFinishResponse) {
				f.Payload = servertest.FlipBit(f.Payload, 8*20)
			}))
		}, tamper},
		{"the kind changed", aURL, func() {
			proxy.On("/v1/links/"+aID+"/login/finish", servertest.EditJSON(func(f *api.LinkLoginFinishResponse) {
				f.Kind = api.LinkUpload
			}))
		}, tamper},
		{"another file's record and key under the link", aURL, func() {
			proxy.OnPrefix("/v1/links/"+aID+"/nodes/", func(_ string, body []byte) []byte {
				b, _ := json.Marshal(bNode)
				return b
			})
		}, tamper},
		{"another file's blocks under the link", aURL, func() {
			proxy.OnPrefix("/v1/links/"+aID+"/blocks/", func(_ string, body []byte) []byte {
				return bytes.Repeat([]byte{1}, len(body))
			})
		}, tamper},
		{"a KDF downgrade", aURL, func() {
			proxy.On("/v1/links/"+aID, servertest.EditJSON(func(i *api.LinkInfo) {
				i.KDF.MemoryKiB = 1024
			}))
		}, weak},
		{"a short salt", aURL, func() {
			proxy.On("/v1/links/"+aID, servertest.EditJSON(func(i *api.LinkInfo) {
				i.Salt = i.Salt[:8]
			}))
		}, shortSalt},
		{"a wrong server proof", aURL, func() {
			proxy.On("/v1/links/"+aID+"/login/finish", servertest.EditJSON(func(f *api.LinkLoginFinishResponse) {
				f.M2 = servertest.FlipBit(f.M2, 3)
			}))
		}, tamper},
		{"a folder child's record flipped", dirURL, func() {
			proxy.OnPrefix("/v1/links/"+idOf(dirURL)+"/nodes/", func(p string, body []byte) []byte {
				if !strings.HasSuffix(p, "/children") {
					return body
				}
				return servertest.EditJSON(func(l *api.NodeList) {
					l.Nodes[0].SealedName = servertest.FlipBit(l.Nodes[0].SealedName, 100)
				})(body)
			})
		}, tamper},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy.Reset()
			tc.setup()
			_, err := getLink(t, pc, tc.url, "")
			if err == nil {
				t.Fatal("the client accepted it")
			}
			if strings.Contains(err.Error(), tc.url[strings.Index(tc.url, "#")+1:]) {
				t.Fatalf("the error shows the secret: %v", err)
			}
			if !tc.want(err) {
				t.Fatalf("failed, but not as an attack: %v", err)
			}
		})
	}
	proxy.Reset()
	if got, err := getLink(t, pc, aURL, ""); err != nil || !bytes.Equal(got, le.a) {
		t.Fatalf("after the attacks: %v", err)
	}
}

// putLink uploads one file named name into a file request, through hc
// (nil: directly).
func putLink(t *testing.T, hc *http.Client, url, name string, data []byte) error {
	t.Helper()
	s, err := client.New(nil, hc).OpenLink(ctx, url, nil)
	if err != nil {
		return err
	}
	local := filepath.Join(t.TempDir(), name)
	writeFile(t, local, data, time.Time{})
	return s.Put(ctx, []string{local}, client.PutOptions{})
}

// TestLinkUploadsCannotBreakTheFolder: whoever holds a file request can
// sign anything as it, and the server cannot check. An upload with a bad
// signature, or many uploads of one name, are left out or left unfiled
// with a warning: they never make the owner's folder unlistable. A read
// link on the same folder leaves out what the owner did not write
// (uploads waiting, and filed ones), as the browser does.
func TestLinkUploadsCannotBreakTheFolder(t *testing.T) {
	le := newLinkEnv(t)
	if _, err := le.drive(t, "alice").Mkdir(ctx, "/req", true); err != nil {
		t.Fatal(err)
	}
	le.put(t, "alice", "/req/mine.txt", []byte("the owner's own"), false)
	up := le.link(t, "/req", client.LinkOptions{Upload: true})
	read := le.link(t, "/req", client.LinkOptions{})
	if err := putLink(t, nil, up, "good.txt", []byte("an honest upload")); err != nil {
		t.Fatal(err)
	}
	forger := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/drops") {
			var req api.LinkDropRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				return nil, err
			}
			req.Node.Signature = servertest.FlipBit(req.Node.Signature, 7)
			b, _ := json.Marshal(req)
			r = r.Clone(r.Context())
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	if err := putLink(t, forger, up, "forged.txt", []byte("a forged upload")); err != nil {
		t.Fatal(err)
	}

	// Through the read link, before the owner looks: only the owner's.
	names := func(dir string) []string {
		var out []string
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	s, err := client.New(nil, nil).OpenLink(ctx, read, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "req")
	if err := s.Get(ctx, out, client.GetOptions{}); err != nil {
		t.Fatalf("a read link over a folder with uploads waiting: %v", err)
	}
	if got := names(out); len(got) != 1 || got[0] != "mine.txt" {
		t.Fatalf("the read link gave %v", got)
	}

	// The owner lists: the honest upload is filed, the forged one left
	// out with a warning.
	d := le.drive(t, "alice")
	dir, err := d.Resolve(ctx, "/req")
	if err != nil {
		t.Fatal(err)
	}
	es, err := d.List(ctx, dir)
	if err != nil {
		t.Fatalf("the owner's listing: %v", err)
	}
	var listed []string
	for _, e := range es {
		listed = append(listed, e.Name+" by "+e.Writer())
	}
	if len(listed) != 2 || !strings.Contains(strings.Join(listed, ","), "good.txt by link:") {
		t.Fatalf("listed %v", listed)
	}
	if w := strings.Join(d.Warnings(), "\n"); !strings.Contains(w, "bad signature") {
		t.Fatalf("warnings: %q", w)
	}

	// Filed, the upload is still not the owner's writing: the read link
	// leaves it out.
	s, err = client.New(nil, nil).OpenLink(ctx, read, nil)
	if err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(t.TempDir(), "req")
	if err := s.Get(ctx, out, client.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := names(out); len(got) != 1 || got[0] != "mine.txt" {
		t.Fatalf("the read link gave %v", got)
	}
	if w := strings.Join(s.Warnings(), "\n"); !strings.Contains(w, "not by the owner") {
		t.Fatalf("warnings: %q", w)
	}
}

// TestLinkManyUploadsOfOneName: a folder whose uploads all carry one name
// still lists; what cannot be numbered stays unfiled, with a warning.
func TestLinkManyUploadsOfOneName(t *testing.T) {
	le := newLinkEnv(t)
	if _, err := le.drive(t, "alice").Mkdir(ctx, "/req", true); err != nil {
		t.Fatal(err)
	}
	up := le.link(t, "/req", client.LinkOptions{Upload: true})
	s, err := client.New(nil, nil).OpenLink(ctx, up, nil)
	if err != nil {
		t.Fatal(err)
	}
	var locals []string
	for i := range 102 {
		p := filepath.Join(t.TempDir(), "same.txt")
		writeFile(t, p, []byte{byte(i)}, time.Time{})
		locals = append(locals, p)
	}
	if err := s.Put(ctx, locals, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	d := le.drive(t, "alice")
	dir, err := d.Resolve(ctx, "/req")
	if err != nil {
		t.Fatal(err)
	}
	es, err := d.List(ctx, dir)
	if err != nil {
		t.Fatalf("the owner's listing: %v", err)
	}
	if len(es) != 102 {
		t.Fatalf("listed %d entries, want 102 (100 filed, 2 waiting)", len(es))
	}
	if w := strings.Join(d.Warnings(), "\n"); strings.Count(w, "is not filed") != 2 {
		t.Fatalf("warnings: %q", w)
	}
}
