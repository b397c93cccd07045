package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/coffer-drive/coffer/internal/api"
)

// APIError is an error answered by the server.
type APIError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter string // the Retry-After header, if any
}

func (e *APIError) Error() string {
	return "server: " + Printable(e.Message)
}

// maxResponse bounds a JSON response, so a hostile server cannot make the
// client buffer without limit. A folder listing takes about 1.1 KiB per
// entry, so this allows folders of about 100,000 entries.
const maxResponse = 128 << 20

// transport speaks JSON to one server.
type transport struct {
	base  string
	token string
	http  *http.Client
}

// normalizeServer checks a server URL and strips a trailing slash.
func normalizeServer(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("no server given: pass --server URL or set COFFER_SERVER")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("server %q is not an http:// or https:// URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("server %q must not carry a query, fragment or credentials", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Printable drops control characters from text the server chose, so a
// hostile server cannot drive the user's terminal with escape sequences.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, s)
}

func newTransport(server, token string, hc *http.Client) *transport {
	if hc == nil {
		hc = &http.Client{
			// No overall timeout: a block download may take long on a
			// slow link; the dial and header timeouts below catch a dead
			// server.
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				MaxIdleConnsPerHost:   16,
				IdleConnTimeout:       90 * time.Second,
				TLSHandshakeTimeout:   10 * time.Second,
				ResponseHeaderTimeout: 2 * time.Minute,
				ForceAttemptHTTP2:     true,
			},
			// A redirect could carry the bearer token to another scheme
			// or host; the API never redirects, so none is followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &transport{base: server, token: token, http: hc}
}

// do sends in as JSON (if not nil) and decodes the answer into out (if not nil).
func (t *transport) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach server %s: %w", t.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if len(data) > maxResponse {
		return fmt.Errorf("the answer of %s %s is larger than %d bytes; refusing it", method, path, maxResponse)
	}
	if resp.StatusCode >= 300 {
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
			return &APIError{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("%s %s answered %s", method, path, resp.Status)}
		}
		return &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, RetryAfter: resp.Header.Get("Retry-After")}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// doRaw sends body (if not nil) as contentType and, for a 2xx answer,
// copies the answer into out (if not nil). Errors come back as *APIError.
func (t *transport) doRaw(ctx context.Context, method, path, contentType string, body io.Reader, size int64, out io.Writer) error {
	return t.doRawLimit(ctx, method, path, contentType, body, size, out, api.MaxBlockBytes+1)
}

// doRawJSON sends in as JSON and copies a binary answer of at most limit
// bytes into out.
func (t *transport) doRawJSON(ctx context.Context, method, path string, in any, out io.Writer, limit int64) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	return t.doRawLimit(ctx, method, path, "application/json", bytes.NewReader(b), int64(len(b)), out, limit)
}

func (t *transport) doRawLimit(ctx context.Context, method, path, contentType string, body io.Reader, size int64, out io.Writer, limit int64) error {
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", contentType)
	}
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach server %s: %w", t.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
			return &APIError{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("%s %s answered %s", method, path, resp.Status)}
		}
		return &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, RetryAfter: resp.Header.Get("Retry-After")}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	// A block is bounded; a server sending more is cut off rather than
	// buffered without end.
	if _, err := io.Copy(out, io.LimitReader(resp.Body, limit)); err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	return nil
}
