package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/server"
)

// oldKeys is what a member could keep from its time in a share: the keys
// of everything it could open.
type oldKeys map[string]crypto.NodeKey

func keep(t *testing.T, d *client.Drive, paths ...string) oldKeys {
	t.Helper()
	k := oldKeys{}
	for _, p := range paths {
		e, err := d.Resolve(ctx, p)
		if err != nil {
			t.Fatalf("resolve %s: %v", p, err)
		}
		k[p] = client.EntryKey(e)
	}
	return k
}

// TestShareRotate: after a revoke with rotation, the former member's old
// keys open nothing written afterwards (new files, new versions, even
// handed over by the server), while the remaining members and the owner
// read everything, old versions included.
func TestShareRotate(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team/sub", true); err != nil {
		t.Fatal(err)
	}
	se.put(t, "alice", "/team/sub/f.txt", []byte("version one"), false)
	se.put(t, "alice", "/team/sub/f.txt", []byte("version two"), true)
	sharedTeamRoles(t, se, map[string]crypto.Role{"bob": crypto.RoleEditor, "carol": crypto.RoleViewer})
	se.put(t, "bob", "/shared/alice/team/bob.txt", []byte("bob wrote this"), false)
	// A folder with content in the trash must stay restorable.
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team/old", false); err != nil {
		t.Fatal(err)
	}
	se.put(t, "alice", "/team/old/x.txt", []byte("trashed"), false)
	if err := se.drive(t, "alice").Remove(ctx, "/team/old", true); err != nil {
		t.Fatal(err)
	}
	bobs := keep(t, se.drive(t, "bob"), "/shared/alice/team", "/shared/alice/team/sub", "/shared/alice/team/sub/f.txt")

	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "bob", true); err != nil {
		t.Fatal(err)
	}
	se.put(t, "alice", "/team/sub/new.txt", []byte("written after the rotation"), false)
	se.put(t, "alice", "/team/sub/f.txt", []byte("version three"), true)

	// Everything written afterwards is out of reach of bob's old keys,
	// even with the records and blocks in hand.
	a := se.drive(t, "alice")
	for folder, child := range map[string]string{"/team/sub": "new.txt", "/team": "sub"} {
		e, err := a.Resolve(ctx, folder+"/"+child)
		if err != nil {
			t.Fatal(err)
		}
		old, err := bobs["/shared/alice"+folder].Derive()
		if err != nil {
			t.Fatal(err)
		}
		ref := crypto.NodeRef{Volume: e.Record.Volume, Parent: e.Record.Parent, Node: e.ID}
		if _, err := crypto.UnwrapNodeKey(old, ref, e.Record.SealedKey); !errors.Is(err, crypto.ErrDecrypt) {
			t.Errorf("bob's old key of %s opens the key of %s: %v", folder, child, err)
		}
		if _, err := crypto.OpenName(old, ref, e.Record.SealedName); err == nil {
			t.Errorf("bob's old key of %s opens the name of %s", folder, child)
		}
	}
	f, err := a.Resolve(ctx, "/team/sub/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	oldFile, err := bobs["/shared/alice/team/sub/f.txt"].Derive()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.OpenContentKey(oldFile, f.Record.Volume, f.ID, f.Head.ID, f.Head.SealedContentKey); !errors.Is(err, crypto.ErrDecrypt) {
		t.Errorf("bob's old file key opens the version written after the rotation: %v", err)
	}

	// The owner and the remaining viewer read everything, old versions
	// (sealed under the earlier keys) included.
	for u, p := range map[string]string{"alice": "/team/sub/f.txt", "carol": "/shared/alice/team/sub/f.txt"} {
		vs, err := se.drive(t, u).Versions(ctx, p)
		if err != nil || len(vs) != 3 || vs[0].Attrs.Size != uint64(len("version one")) {
			t.Fatalf("%s: versions: %+v, %v", u, vs, err)
		}
		if b, err := se.cat(t, u, p); err != nil || string(b) != "version three" {
			t.Fatalf("%s reads %q, %v", u, b, err)
		}
		bp := strings.Replace(p, "sub/f.txt", "bob.txt", 1)
		if b, err := se.cat(t, u, bp); err != nil || string(b) != "bob wrote this" {
			t.Fatalf("%s reads %s: %q, %v", u, bp, b, err)
		}
	}
	if err := se.drive(t, "alice").RestoreFromTrash(ctx, "/team/old"); err != nil {
		t.Fatalf("restore from the trash after the rotation: %v", err)
	}
	if b, err := se.cat(t, "carol", "/shared/alice/team/old/x.txt"); err != nil || string(b) != "trashed" {
		t.Fatalf("restored: %q, %v", b, err)
	}
	if err := se.drive(t, "alice").RestoreVersion(ctx, "/team/sub/f.txt", 1); err != nil {
		t.Fatal(err)
	}
	if b, err := se.cat(t, "carol", "/shared/alice/team/sub/f.txt"); err != nil || string(b) != "version one" {
		t.Fatalf("old version restored: %q, %v", b, err)
	}
	if _, err := se.cat(t, "bob", "/shared/alice/team/sub/new.txt"); err == nil {
		t.Fatal("bob's session still reads")
	}
}

func sharedTeamRoles(t *testing.T, se *shareEnv, members map[string]crypto.Role) {
	t.Helper()
	for u, role := range members {
		if _, err := se.drive(t, "alice").ShareAdd(ctx, "/team", u, role); err != nil {
			t.Fatal(err)
		}
		se.accept(t, u, "alice")
	}
}

// TestShareRotateInterrupted: a rotation cut off before the server
// commits changes nothing; one whose answer is lost after the commit is
// complete; either way running it again finishes, and every member left
// reads the tree.
func TestShareRotateInterrupted(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team/sub", true); err != nil {
		t.Fatal(err)
	}
	se.put(t, "alice", "/team/sub/f.txt", []byte("data"), false)
	sharedTeamRoles(t, se, map[string]crypto.Role{"bob": crypto.RoleEditor, "carol": crypto.RoleViewer})

	cut := func(afterCommit bool) *http.Client {
		return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path != api.PathRotate {
				return http.DefaultTransport.RoundTrip(r)
			}
			if !afterCommit {
				return nil, errors.New("connection reset (test)")
			}
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil {
				resp.Body.Close()
			}
			return nil, errors.New("connection reset after the request was sent (test)")
		})}
	}
	check := func(what string) {
		t.Helper()
		for u, p := range map[string]string{"alice": "/team/sub/f.txt", "carol": "/shared/alice/team/sub/f.txt"} {
			if b, err := se.cat(t, u, p); err != nil || string(b) != "data" {
				t.Fatalf("%s: %s reads %q, %v", what, u, b, err)
			}
		}
	}

	d, err := client.New(se.cfgs["alice"], cut(false)).Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ShareRemove(ctx, "/team", "bob", true); err == nil {
		t.Fatal("a cut-off rotation reported success")
	}
	check("cut before the commit")
	if b, err := se.cat(t, "bob", "/shared/alice/team/sub/f.txt"); err != nil || string(b) != "data" {
		t.Fatalf("nothing applied, so bob is still a member: %q, %v", b, err)
	}

	d, err = client.New(se.cfgs["alice"], cut(true)).Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ShareRemove(ctx, "/team", "bob", true); err == nil {
		t.Fatal("a rotation whose answer was lost reported success")
	}
	check("answer lost after the commit")
	if _, err := se.cat(t, "bob", "/shared/alice/team/sub/f.txt"); err == nil {
		t.Fatal("the committed rotation left bob in")
	}
	// Running it again: bob is gone already, so only the rotation runs.
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "bob", true); err != nil {
		t.Fatal(err)
	}
	check("run again")
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "bob", false); err == nil || !strings.Contains(err.Error(), "not shared with bob") {
		t.Fatalf("revoke without rotation of a non-member: %v", err)
	}
}

// TestShareRotateIncomplete: a rotation that leaves out an item of a
// folder it re-keys (one added after the client looked) is refused whole.
func TestShareRotateIncomplete(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team/sub", true); err != nil {
		t.Fatal(err)
	}
	se.put(t, "alice", "/team/sub/f.txt", []byte("data"), false)
	sharedTeamRoles(t, se, map[string]crypto.Role{"bob": crypto.RoleViewer})
	drop := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == api.PathRotate {
			var req api.RotateRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				return nil, err
			}
			req.Nodes = req.Nodes[:len(req.Nodes)-1]
			b, _ := json.Marshal(req)
			r = r.Clone(r.Context())
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	d, err := client.New(se.cfgs["alice"], drop).Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ae *client.APIError
	if _, err := d.ShareRemove(ctx, "/team", "bob", true); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("incomplete rotation: %v", err)
	}
	if b, err := se.cat(t, "bob", "/shared/alice/team/sub/f.txt"); err != nil || string(b) != "data" {
		t.Fatalf("nothing applied: %q, %v", b, err)
	}
}

// TestShareRotateUploader: a rotation gives the folder a new inbox; the
// remaining uploader writes to it, the owner reads what it wrote.
func TestShareRotateUploader(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team", true); err != nil {
		t.Fatal(err)
	}
	sharedTeamRoles(t, se, map[string]crypto.Role{"bob": crypto.RoleEditor, "carol": crypto.RoleUploader})
	se.put(t, "carol", "/shared/alice/team/before.txt", []byte("before"), false)
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "bob", true); err != nil {
		t.Fatal(err)
	}
	se.put(t, "carol", "/shared/alice/team/after.txt", []byte("after"), false)
	for _, n := range []string{"before", "after"} {
		if b, err := se.cat(t, "alice", "/team/"+n+".txt"); err != nil || string(b) != n {
			t.Fatalf("alice reads %s: %q, %v", n, b, err)
		}
	}
}
