package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
)

// balancer is one simulated client's HTTP transport. It plays a load
// balancer in front of the instances: every request goes to the next
// instance in turn, whatever URL the client library built (it always
// builds the first instance's, which is the drive's one public address
// and part of what its session is bound to). It also says, in
// X-Forwarded-For, which address the client has, since all of them really
// come from 127.0.0.1 and would otherwise share the server's per-address
// brute-force counters; the servers trust 127.0.0.1 as a proxy.
//
// It times every request from the moment it is sent until its answer has
// been read and closed, by the route it took, when window says that the
// request started in the measured window.
type balancer struct {
	base    http.RoundTripper
	targets []*url.URL
	next    atomic.Uint64
	addr    string // this client's X-Forwarded-For
	rec     *recorder
	window  func(time.Time) bool
}

func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	t := b.targets[(b.next.Add(1)-1)%uint64(len(b.targets))]
	// A RoundTripper must not change the request it was given.
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = t.Scheme, t.Host, ""
	r.Header.Set("X-Forwarded-For", b.addr)
	start := time.Now()
	resp, err := b.base.RoundTrip(r)
	if !b.window(start) {
		return resp, err
	}
	route := classify(req.Method, req.URL)
	if err != nil {
		b.rec.add(route, 0, true)
		return nil, err
	}
	failed := resp.StatusCode >= 400
	resp.Body = &timedBody{ReadCloser: resp.Body, done: func() {
		b.rec.add(route, time.Since(start), failed)
	}}
	return resp, nil
}

// timedBody calls done once, when the body is closed: the client library
// reads an answer whole before closing it.
type timedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (t *timedBody) Close() error {
	err := t.ReadCloser.Close()
	t.once.Do(t.done)
	return err
}

// routes are the API's paths, literal ones before the patterns they would
// also match ({…} matches one segment).
var routes = []string{
	api.PathInfo, api.PathSignup, api.PathLoginStart, api.PathLoginFinish, api.PathLogout, api.PathMe,
	api.PathVolume, api.PathNodes, api.PathTrash, api.PathUsage,
	api.PathBlocksBatch, api.PathBlocksMissing, api.PathBlocksGet, api.PathBlock,
	api.PathNode, api.PathNodeChildren, api.PathNodeRevisions, api.PathNodeTrash, api.PathNodeRestore,
	api.PathShares, api.PathShared, api.PathShare, api.PathLinks, api.PathLink,
	api.PathSessions, api.PathSession, api.PathUserBundle,
}

// classify names a request by method and route, with the IDs left out:
// "GET /v1/nodes/{id}/children". A children request with a name_hash is a
// lookup of one name, which costs less than listing the folder, so it is
// named apart.
func classify(method string, u *url.URL) string {
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for _, r := range routes {
		if matchRoute(strings.Split(strings.Trim(r, "/"), "/"), segs) {
			if r == api.PathNodeChildren && u.Query().Has("name_hash") {
				return method + " " + r + "?name_hash"
			}
			return method + " " + r
		}
	}
	return method + " (other)"
}

func matchRoute(pattern, segs []string) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, p := range pattern {
		if !strings.HasPrefix(p, "{") && p != segs[i] {
			return false
		}
	}
	return true
}

// newHTTPClient returns the http.Client of one simulated client: its own
// connections, as a client on its own machine would have, sent through a
// balancer over targets.
func newHTTPClient(targets []*url.URL, addr string, rec *recorder, window func(time.Time) bool) *http.Client {
	return &http.Client{
		Transport: &balancer{
			base: &http.Transport{
				MaxIdleConnsPerHost:   4,
				IdleConnTimeout:       90 * time.Second,
				ResponseHeaderTimeout: 2 * time.Minute,
				// Loopback only: no proxy from the environment.
				Proxy: nil,
			},
			targets: targets,
			addr:    addr,
			rec:     rec,
			window:  window,
		},
		// As the client library's own: the API never redirects.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
