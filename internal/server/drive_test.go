package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

// driveOf signs up user, uploads one small file to its drive and returns
// the session and the file's entry.
func driveOf(t *testing.T, env *servertest.Env, user string) (*client.SessionFile, *client.Entry) {
	t.Helper()
	c, sess := account(t, env, user, user+" password")
	d, err := c.Drive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(local, []byte("content of "+user), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(context.Background(), []string{local}, "/f.txt", client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e, err := d.Resolve(context.Background(), "/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	return sess, e
}

func TestDriveEndpointsKeepAccountsApart(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	_, aliceFile := driveOf(t, env, "alice")
	bob, _ := driveOf(t, env, "bob")
	id := base64.RawURLEncoding.EncodeToString(aliceFile.ID)
	block := hex.EncodeToString(aliceFile.Head.Blocks[0])

	for _, req := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/nodes/" + id, ""},
		{http.MethodGet, "/v1/nodes/" + id + "/children", ""},
		{http.MethodGet, "/v1/nodes/" + id + "/revisions", ""},
		{http.MethodPost, "/v1/nodes/" + id + "/trash", ""},
		{http.MethodPost, "/v1/nodes/" + id + "/restore", ""},
		{http.MethodGet, "/v1/blocks/" + block, ""},
	} {
		status, _, body := call(t, req.method, env.URL+req.path, "application/json", []byte(req.body), bob.Token)
		if status != http.StatusNotFound {
			t.Errorf("bob %s %s: %d %s, want 404", req.method, req.path, status, body)
		}
	}
	status, _, body := call(t, http.MethodPost, env.URL+api.PathBlocksGet, "application/json", []byte(`{"ids":["`+base64.StdEncoding.EncodeToString(aliceFile.Head.Blocks[0])+`"]}`), bob.Token)
	if status != http.StatusNotFound {
		t.Errorf("bob fetching alice's block in a batch: %d %s", status, body)
	}
	if status, _, body := call(t, http.MethodGet, env.URL+"/v1/nodes/"+id, "", nil, ""); status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", status, body)
	}
	// Alice's blocks count as missing for bob, so he cannot commit a
	// revision that names them.
	status, _, body = call(t, http.MethodPost, env.URL+api.PathBlocksMissing, "application/json", []byte(`{"ids":["`+base64.StdEncoding.EncodeToString(aliceFile.Head.Blocks[0])+`"]}`), bob.Token)
	if status != http.StatusOK || !bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString(aliceFile.Head.Blocks[0]))) {
		t.Fatalf("alice's block must be missing for bob: %d %s", status, body)
	}
}

func TestBlockUploadChecks(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	_, alice := account(t, env, "alice", "pw")
	data := []byte("some ciphertext")
	sum := sha256.Sum256(data)
	put := func(id string, body []byte, ctype string) (int, []byte) {
		status, _, b := call(t, http.MethodPut, env.URL+"/v1/blocks/"+id, ctype, body, alice.Token)
		return status, b
	}
	if st, b := put(hex.EncodeToString(sum[:]), data, "application/octet-stream"); st != http.StatusCreated {
		t.Fatalf("good block: %d %s", st, b)
	}
	if st, b := put(hex.EncodeToString(sum[:]), data, "application/octet-stream"); st != http.StatusCreated {
		t.Fatalf("same block again: %d %s", st, b)
	}
	wrong := sha256.Sum256([]byte("other"))
	if st, b := put(hex.EncodeToString(wrong[:]), data, "application/octet-stream"); st != http.StatusBadRequest {
		t.Fatalf("block under the wrong ID: %d %s", st, b)
	}
	if st, _ := put("nothex", data, "application/octet-stream"); st != http.StatusBadRequest {
		t.Fatalf("bad ID: %d", st)
	}
	big := bytes.Repeat([]byte{1}, api.MaxBlockBytes+1)
	bigSum := sha256.Sum256(big)
	if st, _ := put(hex.EncodeToString(bigSum[:]), big, "application/octet-stream"); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized block: %d", st)
	}
	// The wrongly named block was not stored: the server says it is missing.
	status, _, b := call(t, http.MethodPost, env.URL+api.PathBlocksMissing, "application/json",
		[]byte(`{"ids":["`+base64.StdEncoding.EncodeToString(wrong[:])+`","`+base64.StdEncoding.EncodeToString(sum[:])+`"]}`), alice.Token)
	if status != http.StatusOK || !bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(wrong[:]))) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(sum[:]))) {
		t.Fatalf("missing: %d %s", status, b)
	}
	// Malformed batches are refused.
	for name, body := range map[string][]byte{
		"truncated header": make([]byte, 20),
		"truncated body":   append(append(sum[:], 0, 0, 0, 99), data...),
		"empty":            nil,
	} {
		status, _, b := call(t, http.MethodPost, env.URL+api.PathBlocksBatch, "application/octet-stream", body, alice.Token)
		if status != http.StatusBadRequest {
			t.Errorf("batch %s: %d %s", name, status, b)
		}
	}
	if status, _, _ := call(t, http.MethodPost, env.URL+api.PathBlocksBatch, "application/json", data, alice.Token); status != http.StatusUnsupportedMediaType {
		t.Errorf("batch with a JSON content type: %d", status)
	}
}

func TestDriveBadRecordsRefused(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	c, alice := account(t, env, "alice", "pw")
	d, err := c.Drive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root := d.Root()
	good := api.Node{
		ID: bytes.Repeat([]byte{1}, 16), Volume: root.Record.Volume, Parent: root.ID, Kind: api.KindFolder,
		NameHash: make([]byte, 32), SealedName: []byte{1}, SealedKey: []byte{1}, Author: "alice", Version: 1, Signature: make([]byte, 64),
	}
	for name, edit := range map[string]func(n *api.Node){
		"short ID":             func(n *api.Node) { n.ID = n.ID[:15] },
		"bad kind":             func(n *api.Node) { n.Kind = 9 },
		"someone else signing": func(n *api.Node) { n.Author = "mallory" },
		"no name":              func(n *api.Node) { n.SealedName = nil },
		"folder with revision": func(n *api.Node) { n.Revision = bytes.Repeat([]byte{2}, 16); n.RevisionSeq = 1 },
		"other volume":         func(n *api.Node) { n.Volume = bytes.Repeat([]byte{3}, 16) },
		"no parent":            func(n *api.Node) { n.Parent = nil },
	} {
		n := good
		edit(&n)
		status, _, b := postJSON(t, env.URL+api.PathNodes, api.CreateNodesRequest{Items: []api.NewNode{{Node: n}}}, alice.Token)
		if status < 400 || status >= 500 {
			t.Errorf("%s: %d %s", name, status, b)
		}
	}
	status, _, b := postJSON(t, env.URL+api.PathNodes, api.CreateNodesRequest{}, alice.Token)
	if status != http.StatusBadRequest {
		t.Errorf("empty batch: %d %s", status, b)
	}
}

// TestBatchOverQuotaLeavesNothing: a batch the quota refuses is recorded
// for no block and its bytes are removed from storage.
func TestBatchOverQuotaLeavesNothing(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	_, alice := account(t, env, "alice", "pw")
	u, err := env.Store.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Store.SetQuota(context.Background(), u.ID, 150); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	var ids []blob.ID
	for _, data := range [][]byte{bytes.Repeat([]byte{1}, 100), bytes.Repeat([]byte{2}, 100)} {
		id := blob.Sum(data)
		ids = append(ids, id)
		body.Write(id[:])
		body.Write([]byte{0, 0, 0, byte(len(data))})
		body.Write(data)
	}
	status, _, b := call(t, http.MethodPost, env.URL+api.PathBlocksBatch, "application/octet-stream", body.Bytes(), alice.Token)
	if status != http.StatusInsufficientStorage {
		t.Fatalf("batch over quota: %d %s", status, b)
	}
	for _, id := range ids {
		if _, err := env.Blobs.Stat(context.Background(), id); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("block %s of a refused batch is still stored: %v", id, err)
		}
	}
	if us, _ := env.Store.Usage(context.Background(), u.ID); us.UsedBytes != 0 {
		t.Errorf("a refused batch used %d bytes", us.UsedBytes)
	}
}

// TestTrashQueryChecks: the trash endpoint's conditions are checked before
// anything happens; a bad one is a 400 naming it, and the node stays.
func TestTrashQueryChecks(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	alice, f := driveOf(t, env, "alice")
	id := base64.RawURLEncoding.EncodeToString(f.ID)
	for _, q := range []string{"?expect_version=0", "?expect_version=x", "?expect_version=1&unchanged_since=0",
		"?expect_version=1&unchanged_since=-1", "?unchanged_since=3"} {
		status, _, body := call(t, http.MethodPost, env.URL+"/v1/nodes/"+id+"/trash"+q, "application/json", nil, alice.Token)
		if status != http.StatusBadRequest {
			t.Errorf("trash%s: %d %s, want 400", q, status, body)
		}
	}
	// A cursor past the drive's history is no view of it: a conflict.
	status, _, body := call(t, http.MethodPost, env.URL+"/v1/nodes/"+id+"/trash?expect_version=1&unchanged_since=9999", "application/json", nil, alice.Token)
	if status != http.StatusConflict {
		t.Errorf("trash with a cursor past the history: %d %s, want 409", status, body)
	}
	status, _, body = call(t, http.MethodGet, env.URL+"/v1/nodes/"+id, "", nil, alice.Token)
	if status != http.StatusOK || bytes.Contains(body, []byte(`"trashed"`)) {
		t.Fatalf("the node after refused trashes: %d %s", status, body)
	}
}
