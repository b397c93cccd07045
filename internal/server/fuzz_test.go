package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/coffer-drive/coffer/internal/api"
	blobfile "github.com/coffer-drive/coffer/internal/blob/file"
	"github.com/coffer-drive/coffer/internal/meta/sqlite"
	"github.com/coffer-drive/coffer/internal/server"
)

// FuzzRequestDecoders sends arbitrary bodies to every JSON endpoint. The
// server must answer every one with a well-formed JSON reply and never a 500.
func FuzzRequestDecoders(f *testing.F) {
	paths := []string{api.PathSignup, api.PathLoginStart, api.PathLoginFinish, api.PathRecoverStart, api.PathRecoverFinish}
	seeds := []string{
		`{}`, `{"user":"alice","a":"AQ=="}`, `{"user":"alice"}`, `{"handshake_id":"x","m1":"AA==","device_name":"d","unlock_key":""}`,
		`{"user":"a","credentials":{"salt":"AAAAAAAAAAAAAAAAAAAAAA==","kdf":{"alg":"argon2id","memory_kib":65536,"iterations":3,"parallelism":1},"verifier":"AA==","sealed_keys":"AA==","epoch":1}}`,
		`[`, `null`, `"str"`, `{"user":"\ud800"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "meta.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	blobs, err := blobfile.Open(filepath.Join(f.TempDir(), "blocks"))
	if err != nil {
		f.Fatal(err)
	}
	defer blobs.Close()
	srv, err := server.New(context.Background(), store, blobs, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s answered %d: %s", path, rec.Code, rec.Body.Bytes())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s answered with invalid JSON: %q", path, rec.Body.Bytes())
		}
	})
}
