package servertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Tamper is a malicious layer between a client and a real server: it
// forwards every request and lets the test rewrite chosen responses, as a
// compromised server would.
type Tamper struct {
	URL   string
	mu    sync.Mutex
	rules map[string]func(body []byte) []byte
	// prefixRules apply to every path with the prefix, after exact rules.
	prefixRules map[string]func(path string, body []byte) []byte
	// status replaces the status code of answers for a path.
	status map[string]int
}

// NewTamper starts a tampering proxy in front of upstream.
func NewTamper(t testing.TB, upstream string) *Tamper {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &Tamper{rules: map[string]func([]byte) []byte{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		path := resp.Request.URL.Path
		rule := p.rules[path]
		if rule == nil {
			for prefix, pr := range p.prefixRules {
				if strings.HasPrefix(path, prefix) {
					rule = func(b []byte) []byte { return pr(path, b) }
					break
				}
			}
		}
		if code, ok := p.status[path]; ok {
			resp.StatusCode = code
			resp.Status = http.StatusText(code)
		}
		p.mu.Unlock()
		if rule == nil {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = rule(body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	hs := httptest.NewServer(rp)
	t.Cleanup(hs.Close)
	p.URL = hs.URL
	return p
}

// On rewrites every response to requests for path with fn; nil removes the rule.
func (p *Tamper) On(path string, fn func(body []byte) []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fn == nil {
		delete(p.rules, path)
		return
	}
	p.rules[path] = fn
}

// OnPrefix rewrites every response to requests whose path starts with
// prefix (and has no exact rule); fn gets the path too.
func (p *Tamper) OnPrefix(prefix string, fn func(path string, body []byte) []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prefixRules == nil {
		p.prefixRules = map[string]func(string, []byte) []byte{}
	}
	p.prefixRules[prefix] = fn
}

// OnStatus makes every answer for path have status code.
func (p *Tamper) OnStatus(path string, code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status == nil {
		p.status = map[string]int{}
	}
	p.status[path] = code
}

// Reset removes every rule.
func (p *Tamper) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = map[string]func([]byte) []byte{}
	p.prefixRules = nil
	p.status = nil
}

// EditJSON returns a rule that decodes the body into a T, applies edit and
// re-encodes it. A body that is not a T (an error answer) passes unchanged.
func EditJSON[T any](edit func(*T)) func([]byte) []byte {
	return func(body []byte) []byte {
		var v T
		if err := json.Unmarshal(body, &v); err != nil {
			return body
		}
		edit(&v)
		out, err := json.Marshal(&v)
		if err != nil {
			return body
		}
		return out
	}
}

// FlipBit returns a copy of b with one bit flipped.
func FlipBit(b []byte, bit int) []byte {
	out := bytes.Clone(b)
	if len(out) > 0 {
		out[(bit/8)%len(out)] ^= 1 << (bit % 8)
	}
	return out
}
