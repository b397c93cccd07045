package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// get downloads a link with no account, through hc (nil: directly).
func getLink(t *testing.T, hc *proxyClient, url, password string) ([]byte, error) {
	t.Helper()
	c := client.New(nil, hc.client(t))
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

// proxyClient sends every request through a tampering proxy, or
// directly when nil.
type proxyClient struct{ p *servertest.Tamper }

func (pc *proxyClient) client(t *testing.T) *http.Client {
	if pc == nil || pc.p == nil {
		return nil
	}
	return redirectTo(t, pc.p.URL)
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
	pc := &proxyClient{p: proxy}
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
	weak := func(err error) bool {
		return errors.Is(err, crypto.ErrWeakKDF) || strings.Contains(err.Error(), "salt")
	}
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
		}, weak},
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
