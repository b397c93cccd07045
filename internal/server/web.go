package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/webui"
)

// WebCSP is the Content-Security-Policy of every response of the web
// client. Everything comes from this origin; nothing is inline.
// 'wasm-unsafe-eval' lets the page compile WebAssembly (hash-wasm's
// Argon2id, shipped inside the page's own script) and nothing else: eval
// and inline scripts stay refused. frame-src 'self' is for the hidden
// frame through which the service worker hands a download to the browser.
const WebCSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; worker-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// notBuiltMessage is the answer for the link page when the binary was
// built without the web client.
const notBuiltMessage = "the web client is not built: run make web\n"

// webFile is one file of the built client, read once at start.
type webFile struct {
	data        []byte
	etag        string
	contentType string
}

// webClient serves the built browser client: the link page at /s/{id}
// (and /s/{id}/), its
// service worker at /s/sw.js (scope /s/, so that it can answer the
// download URLs /s/_dl/...) and its assets under /app/.
type webClient struct {
	built bool
	files map[string]webFile
}

func loadWebClient(fsys fs.FS) *webClient {
	wc := &webClient{files: map[string]webFile{}}
	if fsys == nil || !webui.Built(fsys) {
		return wc
	}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		wc.files[p] = webFile{data: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`, contentType: ct}
		return nil
	})
	_, ok := wc.files["index.html"]
	wc.built = err == nil && ok
	return wc
}

// routeWeb adds the web client's routes to mux.
func (s *Server) routeWeb(mux *http.ServeMux) {
	fsys := s.opts.Web
	if fsys == nil {
		fsys = webui.FS()
	}
	wc := loadWebClient(fsys)
	mux.HandleFunc("GET /s/{id}", wc.handlePage)
	// The link's URL with a trailing slash is the same link
	// (docs/crypto.md 13.13); {$} keeps it from taking the paths below.
	mux.HandleFunc("GET /s/{id}/{$}", wc.handlePage)
	mux.HandleFunc("GET /s/sw.js", wc.handleServiceWorker)
	mux.HandleFunc("GET /s/_dl/{token}", wc.handleStaleDownload)
	mux.HandleFunc("GET /app/{path...}", wc.handleAsset)
}

// setWebHeaders sets the headers every response of the web client carries.
func setWebHeaders(h http.Header) {
	h.Set("Content-Security-Policy", WebCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

func webText(w http.ResponseWriter, status int, msg string) {
	setWebHeaders(w.Header())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

func (wc *webClient) serve(w http.ResponseWriter, r *http.Request, name, cacheControl string) {
	f, ok := wc.files[name]
	if !ok {
		webText(w, http.StatusNotFound, "not found\n")
		return
	}
	h := w.Header()
	setWebHeaders(h)
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

// handlePage serves the link page for any link ID: the page itself asks
// the API about the link, with the secret from the URL fragment, which
// browsers never send. The log holds only the route pattern, not the ID.
func (wc *webClient) handlePage(w http.ResponseWriter, r *http.Request) {
	if !wc.built {
		webText(w, http.StatusServiceUnavailable, notBuiltMessage)
		return
	}
	wc.serve(w, r, "index.html", "no-store")
}

// handleServiceWorker serves the download service worker. Its URL is its
// identity, so it is not hashed: browsers check it for updates themselves,
// and no-cache makes every check reach the server.
func (wc *webClient) handleServiceWorker(w http.ResponseWriter, r *http.Request) {
	wc.serve(w, r, "sw.js", "no-cache")
}

// handleStaleDownload answers a download URL that the service worker did
// not take (it was stopped, or the page was opened without it). The URL
// carries only a random one-time token, never a name.
func (wc *webClient) handleStaleDownload(w http.ResponseWriter, r *http.Request) {
	webText(w, http.StatusNotFound, "This download has expired. Start it again from the link page.\n")
}

// handleAsset serves the files under /app/: hashed names under assets/
// are cached for good, anything else is revalidated.
func (wc *webClient) handleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	if !fs.ValidPath(name) || name == "index.html" || name == "sw.js" {
		webText(w, http.StatusNotFound, "not found\n")
		return
	}
	cc := "no-cache"
	if strings.HasPrefix(name, "assets/") {
		cc = "public, max-age=31536000, immutable"
	}
	wc.serve(w, r, name, cc)
}
