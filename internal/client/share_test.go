package client_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

// shareEnv is one server with several logged-in accounts.
type shareEnv struct {
	env    *servertest.Env
	cfgs   map[string]*client.Config
	drives map[string]*client.Drive
}

func newShareEnv(t *testing.T, opts server.Options, users ...string) *shareEnv {
	t.Helper()
	se := &shareEnv{env: servertest.Start(t, opts), cfgs: map[string]*client.Config{}, drives: map[string]*client.Drive{}}
	for _, u := range users {
		c, cfg := newClient(t)
		if _, err := c.Signup(ctx, se.env.URL, u, []byte("pw-"+u)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Login(ctx, se.env.URL, u, []byte("pw-"+u)); err != nil {
			t.Fatal(err)
		}
		se.cfgs[u] = cfg
		se.drive(t, u)
	}
	return se
}

// drive opens user's drive afresh, as a new command would.
func (se *shareEnv) drive(t *testing.T, user string) *client.Drive {
	t.Helper()
	d, err := client.New(se.cfgs[user], nil).Drive(ctx)
	if err != nil {
		t.Fatalf("%s: open drive: %v", user, err)
	}
	se.drives[user] = d
	return d
}

func (se *shareEnv) put(t *testing.T, user, remote string, data []byte, overwrite bool) {
	t.Helper()
	local := filepath.Join(t.TempDir(), "f")
	writeFile(t, local, data, time.Time{})
	if err := se.drive(t, user).Put(ctx, []string{local}, remote, client.PutOptions{Overwrite: overwrite}); err != nil {
		t.Fatalf("%s: put %s: %v", user, remote, err)
	}
}

func (se *shareEnv) cat(t *testing.T, user, remote string) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	err := se.drive(t, user).Cat(ctx, remote, &buf)
	return buf.Bytes(), err
}

func (se *shareEnv) names(t *testing.T, user, dir string) ([]string, error) {
	t.Helper()
	d := se.drive(t, user)
	e, err := d.Resolve(ctx, dir)
	if err != nil {
		return nil, err
	}
	list, err := d.List(ctx, e)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range list {
		out = append(out, e.Name+"@"+e.Author)
	}
	return out, nil
}

func (se *shareEnv) accept(t *testing.T, user, owner string) *client.SharedInfo {
	t.Helper()
	d := se.drive(t, user)
	items, err := d.Shared(ctx)
	if err != nil {
		t.Fatalf("%s: shared: %v", user, err)
	}
	for _, it := range items {
		if it.Owner == owner && it.State != "accepted" {
			got, err := d.Accept(ctx, it.ID)
			if err != nil {
				t.Fatalf("%s: accept %s: %v", user, it.ID, err)
			}
			return got
		}
	}
	t.Fatalf("%s: nothing from %s to accept in %+v", user, owner, items)
	return nil
}

func TestShareViewerAndEditor(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	a := se.drive(t, "alice")
	if _, err := a.Mkdir(ctx, "/team", false); err != nil {
		t.Fatal(err)
	}
	se.put(t, "alice", "/team/plan.txt", []byte("the plan"), false)

	info, err := se.drive(t, "alice").ShareAdd(ctx, "/team", "bob", crypto.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if info.FirstUse != "bob" || info.Path != "/team" || len(info.Members) != 1 || info.Members[0].State != "pending" {
		t.Fatalf("share add: %+v", info)
	}
	if _, err := se.drive(t, "alice").ShareAdd(ctx, "/team", "carol", crypto.RoleEditor); err != nil {
		t.Fatal(err)
	}

	items, err := se.drive(t, "bob").Shared(ctx)
	// A pending share's owner is not pinned yet: that happens, and is
	// shown, when the share is accepted.
	if err != nil || len(items) != 1 || items[0].Name != "team" || items[0].Role != crypto.RoleViewer || items[0].State != "pending" || items[0].FirstUse != "" {
		t.Fatalf("bob's shared: %+v, %v", items[0], err)
	}
	// Nothing appears before bob accepts.
	if _, err := se.drive(t, "bob").Resolve(ctx, "/shared/alice/team"); !errors.Is(err, client.ErrNotExist) {
		t.Fatalf("before accepting: %v", err)
	}
	if got := se.accept(t, "bob", "alice"); got.Path != "/shared/alice/team" || got.FirstUse != "alice" || got.FirstUseFingerprint == "" {
		t.Fatalf("accepted: %+v", got)
	}
	se.accept(t, "carol", "alice")

	// The viewer reads.
	if b, err := se.cat(t, "bob", "/shared/alice/team/plan.txt"); err != nil || string(b) != "the plan" {
		t.Fatalf("bob reads %q, %v", b, err)
	}
	// The editor writes, and everyone accepts the editor's records.
	se.put(t, "carol", "/shared/alice/team/notes.txt", []byte("carol's notes"), false)
	if _, err := se.drive(t, "carol").Mkdir(ctx, "/shared/alice/team/drafts", false); err != nil {
		t.Fatal(err)
	}
	se.put(t, "carol", "/shared/alice/team/plan.txt", []byte("the plan, v2"), true)
	for _, u := range []string{"alice", "bob", "carol"} {
		dir := "/shared/alice/team"
		if u == "alice" {
			dir = "/team"
		}
		got, err := se.names(t, u, dir)
		if err != nil {
			t.Fatalf("%s lists %s: %v", u, dir, err)
		}
		want := "drafts@carol notes.txt@carol plan.txt@carol"
		if strings.Join(sorted(got), " ") != want {
			t.Fatalf("%s lists %v, want %s", u, got, want)
		}
		p := dir + "/plan.txt"
		if b, err := se.cat(t, u, p); err != nil || string(b) != "the plan, v2" {
			t.Fatalf("%s reads %q, %v", u, b, err)
		}
	}
	// The editor's upload counts against the owner.
	ua, _ := se.drive(t, "alice").Usage(ctx)
	uc, _ := se.drive(t, "carol").Usage(ctx)
	if uc.UsedBytes != 0 || ua.UsedBytes == 0 {
		t.Fatalf("usage: alice %d, carol %d", ua.UsedBytes, uc.UsedBytes)
	}

	// The viewer is refused, by its own client first.
	bob := se.drive(t, "bob")
	if _, err := bob.Mkdir(ctx, "/shared/alice/team/x", false); err == nil || !strings.Contains(err.Error(), "viewer") {
		t.Fatalf("viewer mkdir: %v", err)
	}
	if err := bob.Remove(ctx, "/shared/alice/team/plan.txt", false); err == nil || !strings.Contains(err.Error(), "viewer") {
		t.Fatalf("viewer rm: %v", err)
	}
	if _, err := bob.ShareAdd(ctx, "/shared/alice/team", "carol", crypto.RoleViewer); err == nil || !strings.Contains(err.Error(), "only its owner") {
		t.Fatalf("viewer shares further: %v", err)
	}
	// The editor cannot rename or trash the shared folder itself.
	carol := se.drive(t, "carol")
	if err := carol.Remove(ctx, "/shared/alice/team", true); err == nil || !strings.Contains(err.Error(), "only they can remove it") {
		t.Fatalf("editor removes the share root: %v", err)
	}
	if err := carol.Move(ctx, "/shared/alice/team/notes.txt", "/shared/alice/team/drafts"); err != nil {
		t.Fatalf("editor moves within the share: %v", err)
	}
	if err := carol.Move(ctx, "/shared/alice/team/drafts/notes.txt", "/mine.txt"); err == nil || !strings.Contains(err.Error(), "different drives") {
		t.Fatalf("editor moves out of the share: %v", err)
	}

	// share ls, as the owner.
	shares, err := se.drive(t, "alice").Shares(ctx, "")
	if err != nil || len(shares) != 1 || len(shares[0].Members) != 2 ||
		shares[0].Members[0].User != "bob" || shares[0].Members[0].State != "accepted" ||
		shares[0].Members[1].User != "carol" || shares[0].Members[1].Role != crypto.RoleEditor {
		t.Fatalf("share ls: %+v, %v", shares, err)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestShareRevoke: after an editor is revoked, the server refuses them at
// once, what they wrote stays readable to the owner (signed again by the
// owner), and nobody's client accepts their records any more.
func TestShareRevoke(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team/sub", true); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bob", "carol"} {
		role := crypto.RoleEditor
		if u == "carol" {
			role = crypto.RoleViewer
		}
		if _, err := se.drive(t, "alice").ShareAdd(ctx, "/team", u, role); err != nil {
			t.Fatal(err)
		}
		se.accept(t, u, "alice")
	}
	se.put(t, "bob", "/shared/alice/team/sub/b.txt", []byte("bob wrote this"), false)
	if _, err := se.drive(t, "bob").Mkdir(ctx, "/shared/alice/team/bobdir", false); err != nil {
		t.Fatal(err)
	}

	info, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "bob", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Members) != 1 || info.Members[0].User != "carol" {
		t.Fatalf("after revoke: %+v", info)
	}
	// Bob's old session is refused by the server at once.
	if _, err := se.cat(t, "bob", "/shared/alice/team/sub/b.txt"); err == nil {
		t.Fatal("revoked editor still reads")
	}
	// The owner and the remaining viewer still read what bob wrote,
	// now signed by the owner.
	for _, u := range []string{"alice", "carol"} {
		p := "/team/sub/b.txt"
		if u == "carol" {
			p = "/shared/alice/team/sub/b.txt"
		}
		if b, err := se.cat(t, u, p); err != nil || string(b) != "bob wrote this" {
			t.Fatalf("%s reads %q, %v", u, b, err)
		}
	}
	got, err := se.names(t, "alice", "/team")
	if err != nil || strings.Join(sorted(got), " ") != "bobdir@alice sub@alice" {
		t.Fatalf("alice lists %v, %v", got, err)
	}
	// Revoking again is a clear error; so is revoking a stranger.
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "bob", false); err == nil || !strings.Contains(err.Error(), "not shared with bob") {
		t.Fatalf("second revoke: %v", err)
	}
}

// roleOps are the operations of the role matrix, each on fresh items the
// owner made for it. Each returns the error the member got.
var roleOps = []struct {
	name string
	run  func(t *testing.T, se *shareEnv, d *client.Drive, file string) error
}{
	{"list", func(t *testing.T, se *shareEnv, d *client.Drive, file string) error {
		e, err := d.Resolve(ctx, "/shared/alice/team")
		if err == nil {
			_, err = d.List(ctx, e)
		}
		return err
	}},
	{"read", func(t *testing.T, se *shareEnv, d *client.Drive, file string) error {
		var buf bytes.Buffer
		return d.Cat(ctx, file, &buf)
	}},
	{"add", func(t *testing.T, se *shareEnv, d *client.Drive, file string) error {
		_, err := d.Mkdir(ctx, file+".dir", false)
		return err
	}},
	{"change", func(t *testing.T, se *shareEnv, d *client.Drive, file string) error {
		local := filepath.Join(t.TempDir(), "f")
		writeFile(t, local, []byte("changed"), time.Time{})
		return d.Put(ctx, []string{local}, file, client.PutOptions{Overwrite: true})
	}},
	{"rename", func(t *testing.T, se *shareEnv, d *client.Drive, file string) error {
		return d.Move(ctx, file, file+".renamed")
	}},
	{"move", func(t *testing.T, se *shareEnv, d *client.Drive, file string) error {
		return d.Move(ctx, file, "/shared/alice/team/sub")
	}},
	{"trash", func(t *testing.T, se *shareEnv, d *client.Drive, file string) error {
		return d.Remove(ctx, file, false)
	}},
	{"share further", func(t *testing.T, se *shareEnv, d *client.Drive, file string) error {
		_, err := d.ShareAdd(ctx, "/shared/alice/team", "carol", crypto.RoleViewer)
		return err
	}},
}

// TestShareRoleMatrix: for each role and operation, the member's client
// allows it or refuses it locally; a modified client that skips its own
// checks gets the same answer from the server (403), never more.
func TestShareRoleMatrix(t *testing.T) {
	allowed := map[crypto.Role]map[string]bool{
		crypto.RoleViewer: {"list": true, "read": true},
		crypto.RoleEditor: {"list": true, "read": true, "add": true, "change": true, "rename": true, "move": true, "trash": true},
	}
	for _, role := range []crypto.Role{crypto.RoleViewer, crypto.RoleEditor} {
		t.Run(role.String(), func(t *testing.T) {
			se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
			if _, err := se.drive(t, "alice").Mkdir(ctx, "/team/sub", true); err != nil {
				t.Fatal(err)
			}
			if _, err := se.drive(t, "alice").ShareAdd(ctx, "/team", "bob", role); err != nil {
				t.Fatal(err)
			}
			se.accept(t, "bob", "alice")
			for i, op := range roleOps {
				for _, modified := range []bool{false, true} {
					name := op.name
					if modified {
						name += " (modified client)"
					}
					file := "/team/" + strings.ReplaceAll(name, " ", "_") + ".txt"
					se.put(t, "alice", file, []byte("original"), false)
					d := se.drive(t, "bob")
					if modified {
						client.SkipLocalChecks(d)
					}
					err := op.run(t, se, d, "/shared/alice"+file)
					var ae *client.APIError
					switch {
					case allowed[role][op.name] && err != nil:
						t.Errorf("%d %s: refused: %v", i, name, err)
					case allowed[role][op.name]:
					case err == nil:
						t.Errorf("%d %s: allowed", i, name)
					case !modified && errors.As(err, &ae):
						t.Errorf("%d %s: the client asked the server instead of refusing itself: %v", i, name, err)
					case modified && (!errors.As(err, &ae) || ae.Status != 403):
						t.Errorf("%d %s: the server did not answer 403: %v", i, name, err)
					}
				}
			}
			// Whatever happened, the owner's view still verifies.
			if _, err := se.names(t, "alice", "/team"); err != nil {
				t.Fatalf("alice lists /team: %v", err)
			}
		})
	}
}

// TestShareViewerWriteRejected: a viewer's modified client, against a
// server whose role checks are off, gets a node in; every other client
// then rejects it, naming the signer.
func TestShareViewerWriteRejected(t *testing.T) {
	se := newShareEnv(t, server.Options{UnsafeSkipRoleChecks: true}, "alice", "bob", "carol")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team", false); err != nil {
		t.Fatal(err)
	}
	for u, role := range map[string]crypto.Role{"bob": crypto.RoleViewer, "carol": crypto.RoleEditor} {
		if _, err := se.drive(t, "alice").ShareAdd(ctx, "/team", u, role); err != nil {
			t.Fatal(err)
		}
		se.accept(t, u, "alice")
	}
	bob := se.drive(t, "bob")
	client.SkipLocalChecks(bob)
	if _, err := bob.Mkdir(ctx, "/shared/alice/team/injected", false); err != nil {
		t.Fatalf("the server without role checks refused: %v", err)
	}
	for u, dir := range map[string]string{"alice": "/team", "carol": "/shared/alice/team", "bob": "/shared/alice/team"} {
		_, err := se.names(t, u, dir)
		if !errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), `signed by "bob", who may not write here`) {
			t.Errorf("%s lists %s: %v", u, dir, err)
		}
	}
}

// TestShareUploader: an uploader adds files to a shared folder and can
// list or read nothing; the owner's next listing files the drops, with a
// number for a taken name; a viewer sees them; the owner pays for them.
func TestShareUploader(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/drop", false); err != nil {
		t.Fatal(err)
	}
	se.put(t, "alice", "/drop/a.txt", []byte("alice's own a.txt"), false)
	for u, role := range map[string]crypto.Role{"carol": crypto.RoleUploader, "bob": crypto.RoleViewer} {
		if _, err := se.drive(t, "alice").ShareAdd(ctx, "/drop", u, role); err != nil {
			t.Fatal(err)
		}
		if got := se.accept(t, u, "alice"); got.Path != "/shared/alice/drop" || got.Role != role {
			t.Fatalf("%s accepted %+v", u, got)
		}
	}
	big := randomBytes(t, 5<<20+123)
	se.put(t, "carol", "/shared/alice/drop/a.txt", []byte("carol's a.txt"), false)
	se.put(t, "carol", "/shared/alice/drop/big.bin", big, false)
	se.put(t, "carol", "/shared/alice/drop/a.txt", []byte("carol's second a.txt"), false)

	carol := se.drive(t, "carol")
	if _, err := se.names(t, "carol", "/shared/alice/drop"); err == nil || !strings.Contains(err.Error(), "uploader") {
		t.Fatalf("uploader lists: %v", err)
	}
	if _, err := carol.Mkdir(ctx, "/shared/alice/drop/sub", false); err == nil || !strings.Contains(err.Error(), "uploader") {
		t.Fatalf("uploader mkdir: %v", err)
	}
	// A modified uploader client gets 403 from the server for both.
	client.SkipLocalChecks(carol)
	var ae *client.APIError
	e, err := carol.Resolve(ctx, "/shared/alice/drop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.List(ctx, e); !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("modified uploader lists: %v", err)
	}
	if _, err := carol.Mkdir(ctx, "/shared/alice/drop/sub", false); !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("modified uploader mkdir: %v", err)
	}

	// The viewer sees the drops as they are: not filed, names as given.
	got, err := se.names(t, "bob", "/shared/alice/drop")
	if err != nil || strings.Join(sorted(got), " ") != "a.txt@alice a.txt@carol a.txt@carol big.bin@carol" {
		t.Fatalf("viewer lists %v, %v", got, err)
	}
	// The owner's listing files them.
	got, err = se.names(t, "alice", "/drop")
	if err != nil || strings.Join(sorted(got), " ") != "a (2).txt@alice a (3).txt@alice a.txt@alice big.bin@alice" {
		t.Fatalf("owner lists %v, %v", got, err)
	}
	contents := map[string]bool{}
	for _, n := range []string{"a.txt", "a (2).txt", "a (3).txt"} {
		b, err := se.cat(t, "bob", "/shared/alice/drop/"+n)
		if err != nil {
			t.Fatalf("bob reads %s: %v", n, err)
		}
		contents[string(b)] = true
	}
	if len(contents) != 3 || !contents["carol's a.txt"] || !contents["carol's second a.txt"] {
		t.Fatalf("contents: %v", contents)
	}
	if b, err := se.cat(t, "alice", "/drop/big.bin"); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("alice reads big.bin: %d bytes, %v", len(b), err)
	}
	if vs, err := se.drive(t, "alice").Versions(ctx, "/drop/big.bin"); err != nil || len(vs) != 1 || vs[0].Author != "carol" || !vs[0].Head {
		t.Fatalf("versions of a filed upload: %+v, %v", vs, err)
	}
	se.put(t, "alice", "/drop/big.bin", []byte("alice's version"), true)
	if vs, err := se.drive(t, "alice").Versions(ctx, "/drop/big.bin"); err != nil || len(vs) != 2 || vs[0].Author != "carol" || vs[0].Head || vs[1].Author != "alice" {
		t.Fatalf("versions of a filed upload with a newer version: %+v, %v", vs, err)
	}
	ua, _ := se.drive(t, "alice").Usage(ctx)
	uc, _ := se.drive(t, "carol").Usage(ctx)
	if uc.UsedBytes != 0 || ua.UsedBytes < int64(len(big)) {
		t.Fatalf("usage: alice %d, carol %d", ua.UsedBytes, uc.UsedBytes)
	}

	// A drop waiting when the uploader leaves is filed first.
	se.put(t, "carol", "/shared/alice/drop/late.txt", []byte("late"), false)
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/drop", "carol", false); err != nil {
		t.Fatal(err)
	}
	if b, err := se.cat(t, "bob", "/shared/alice/drop/late.txt"); err != nil || string(b) != "late" {
		t.Fatalf("after the uploader left: %q, %v", b, err)
	}
	local := filepath.Join(t.TempDir(), "f")
	writeFile(t, local, []byte("x"), time.Time{})
	if err := se.drive(t, "carol").Put(ctx, []string{local}, "/shared/alice/drop/", client.PutOptions{}); err == nil {
		t.Fatal("a removed uploader still uploads")
	}
}

// TestShareQuota: an editor's upload into a share counts against the
// owner's quota, and is refused when the owner has no room, whatever room
// the editor has.
func TestShareQuota(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob")
	sharedTeam(t, se, map[string]crypto.Role{"bob": crypto.RoleEditor})
	u, err := se.env.Store.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	used, err := se.drive(t, "alice").Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := se.env.Store.SetQuota(ctx, u.ID, used.UsedBytes+64<<10); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "big")
	writeFile(t, local, randomBytes(t, 1<<20), time.Time{})
	err = se.drive(t, "bob").Put(ctx, []string{local}, "/shared/alice/team/", client.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "alice, who owns the share, has only") {
		t.Fatalf("upload over the owner's quota: %v", err)
	}
	if got, _ := se.names(t, "alice", "/team"); strings.Join(got, " ") != "plan.txt@alice" {
		t.Fatalf("after the refused upload: %v", got)
	}
	se.put(t, "bob", "/shared/alice/team/small.txt", []byte("fits"), false)
	after, _ := se.drive(t, "alice").Usage(ctx)
	bobs, _ := se.drive(t, "bob").Usage(ctx)
	if after.UsedBytes <= used.UsedBytes || bobs.UsedBytes != 0 {
		t.Fatalf("usage: alice %d → %d, bob %d", used.UsedBytes, after.UsedBytes, bobs.UsedBytes)
	}
}

// TestShareFile: a file shared by itself; the editor adds versions, cannot
// rename or remove it.
func TestShareFile(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob")
	se.put(t, "alice", "/doc.txt", []byte("v1"), false)
	if _, err := se.drive(t, "alice").ShareAdd(ctx, "/doc.txt", "bob", crypto.RoleEditor); err != nil {
		t.Fatal(err)
	}
	se.accept(t, "bob", "alice")
	if b, err := se.cat(t, "bob", "/shared/alice/doc.txt"); err != nil || string(b) != "v1" {
		t.Fatalf("bob reads %q, %v", b, err)
	}
	se.put(t, "bob", "/shared/alice/doc.txt", []byte("v2 by bob"), true)
	if b, err := se.cat(t, "alice", "/doc.txt"); err != nil || string(b) != "v2 by bob" {
		t.Fatalf("alice reads %q, %v", b, err)
	}
	bob := se.drive(t, "bob")
	if err := bob.Move(ctx, "/shared/alice/doc.txt", "/shared/alice/other.txt"); err == nil {
		t.Fatal("the editor renamed the shared file")
	}
	if err := bob.Remove(ctx, "/shared/alice/doc.txt", false); err == nil {
		t.Fatal("the editor removed the shared file")
	}
}

// TestShareUploaderLongNames: two uploads under one 255-byte name are
// filed under that name and a shortened numbered one.
func TestShareUploaderLongNames(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "carol")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/drop", false); err != nil {
		t.Fatal(err)
	}
	if _, err := se.drive(t, "alice").ShareAdd(ctx, "/drop", "carol", crypto.RoleUploader); err != nil {
		t.Fatal(err)
	}
	se.accept(t, "carol", "alice")
	long := strings.Repeat("é", 125) + ".txt" // 254 bytes
	for _, c := range []string{"one", "two"} {
		se.put(t, "carol", "/shared/alice/drop/"+long, []byte(c), false)
	}
	got, err := se.names(t, "alice", "/drop")
	if err != nil || len(got) != 2 {
		t.Fatalf("owner lists %v, %v", got, err)
	}
	for _, n := range got {
		name := strings.TrimSuffix(n, "@alice")
		if len(name) > 255 || !strings.HasSuffix(name, ".txt") {
			t.Fatalf("filed as %q (%d bytes)", name, len(name))
		}
	}
}

// TestShareEditorLeaves: when an editor is demoted or removed (without a
// rotation), everything it wrote, in the trash too, is signed again by the
// owner, and a removal cut off midway is finished by running it again.
func TestShareEditorLeaves(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	sharedTeam(t, se, map[string]crypto.Role{"bob": crypto.RoleEditor, "carol": crypto.RoleEditor})
	for _, u := range []string{"bob", "carol"} {
		if _, err := se.drive(t, u).Mkdir(ctx, "/shared/alice/team/"+u+"-dir", false); err != nil {
			t.Fatal(err)
		}
		se.put(t, u, "/shared/alice/team/"+u+"-dir/in.txt", []byte(u), false)
		se.put(t, u, "/shared/alice/team/"+u+"-trashed.txt", []byte(u), false)
		if err := se.drive(t, u).Remove(ctx, "/shared/alice/team/"+u+"-trashed.txt", false); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string) {
		t.Helper()
		got, err := se.names(t, "alice", "/team")
		if err != nil {
			t.Fatalf("%s: alice lists: %v", what, err)
		}
		if _, err := se.drive(t, "alice").Trash(ctx); err != nil {
			t.Fatalf("%s: alice lists the trash: %v", what, err)
		}
		if _, err := se.names(t, "alice", "/team/bob-dir"); err != nil {
			t.Fatalf("%s: alice lists bob-dir (%v): %v", what, got, err)
		}
	}
	// Demoted to viewer.
	if _, err := se.drive(t, "alice").ShareAdd(ctx, "/team", "bob", crypto.RoleViewer); err != nil {
		t.Fatal(err)
	}
	check("after demoting bob")
	// Carol's removal is cut off after the new list: the server forgets
	// her at once, her records are not all signed again yet.
	cut := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/nodes/") {
			return nil, errors.New("connection reset (test)")
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	d, err := client.New(se.cfgs["alice"], cut).Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ShareRemove(ctx, "/team", "carol", false); err == nil {
		t.Fatal("a cut-off removal reported success")
	}
	check("removal cut off")
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "carol", false); err != nil {
		t.Fatalf("running the removal again: %v", err)
	}
	check("removal finished")
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "carol", false); err == nil || !strings.Contains(err.Error(), "not shared with carol") {
		t.Fatalf("third run: %v", err)
	}
	for _, u := range []string{"bob", "carol"} {
		if err := se.drive(t, "alice").RestoreFromTrash(ctx, "/team/"+u+"-trashed.txt"); err != nil {
			t.Fatalf("restore %s's file: %v", u, err)
		}
	}
}

// TestShareMoveOut: moving what an editor wrote out of the share keeps it
// readable: the owner signs it again on the way.
func TestShareMoveOut(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob")
	sharedTeam(t, se, map[string]crypto.Role{"bob": crypto.RoleEditor})
	if _, err := se.drive(t, "bob").Mkdir(ctx, "/shared/alice/team/bobdir", false); err != nil {
		t.Fatal(err)
	}
	se.put(t, "bob", "/shared/alice/team/bobdir/b.txt", []byte("bob's"), false)
	if err := se.drive(t, "alice").Move(ctx, "/team/bobdir", "/moved"); err != nil {
		t.Fatal(err)
	}
	got, err := se.names(t, "alice", "/moved")
	if err != nil || strings.Join(got, " ") != "b.txt@alice" {
		t.Fatalf("alice lists /moved: %v, %v", got, err)
	}
	if b, err := se.cat(t, "alice", "/moved/b.txt"); err != nil || string(b) != "bob's" {
		t.Fatalf("alice reads %q, %v", b, err)
	}
	// Within the share nothing needs signing again.
	se.put(t, "bob", "/shared/alice/team/b2.txt", []byte("b2"), false)
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team/sub", false); err != nil {
		t.Fatal(err)
	}
	if err := se.drive(t, "alice").Move(ctx, "/team/b2.txt", "/team/sub"); err != nil {
		t.Fatal(err)
	}
	if got, err := se.names(t, "alice", "/team/sub"); err != nil || strings.Join(got, " ") != "b2.txt@alice" {
		t.Fatalf("alice lists /team/sub: %v, %v", got, err)
	}
}

// TestShareBadDrop: an uploader that seals garbage cannot make the
// folder unlistable: the owner's listing leaves that upload out with a
// warning, and the uploader can still be removed.
func TestShareBadDrop(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "carol")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/drop", false); err != nil {
		t.Fatal(err)
	}
	if _, err := se.drive(t, "alice").ShareAdd(ctx, "/drop", "carol", crypto.RoleUploader); err != nil {
		t.Fatal(err)
	}
	se.accept(t, "carol", "alice")
	se.put(t, "carol", "/shared/alice/drop/good.txt", []byte("good"), false)
	// Carol's client, modified: its drop is sealed to an inbox key of its
	// own, so it is validly signed but opens for nobody.
	c := se.drive(t, "carol")
	client.SealDropsToStrangeInbox(t, c)
	local := filepath.Join(t.TempDir(), "bad.txt")
	writeFile(t, local, []byte("bad"), time.Time{})
	if err := c.Put(ctx, []string{local}, "/shared/alice/drop/", client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	a := se.drive(t, "alice")
	e, err := a.Resolve(ctx, "/drop")
	if err != nil {
		t.Fatal(err)
	}
	list, err := a.List(ctx, e)
	if err != nil || len(list) != 1 || list[0].Name != "good.txt" {
		t.Fatalf("owner lists: %v, %v", list, err)
	}
	if w := a.Warnings(); len(w) != 1 || !strings.Contains(w[0], "upload does not open") {
		t.Fatalf("warnings: %q", w)
	}
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/drop", "carol", false); err != nil {
		t.Fatalf("removing the uploader: %v", err)
	}
}

// TestShareGetDuplicateNames: two uploads not yet filed share a name; a
// viewer's download of the folder refuses to write the second over the
// first rather than losing one silently.
func TestShareGetDuplicateNames(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/drop", false); err != nil {
		t.Fatal(err)
	}
	for u, role := range map[string]crypto.Role{"carol": crypto.RoleUploader, "bob": crypto.RoleViewer} {
		if _, err := se.drive(t, "alice").ShareAdd(ctx, "/drop", u, role); err != nil {
			t.Fatal(err)
		}
		se.accept(t, u, "alice")
	}
	for _, c := range []string{"one", "two"} {
		se.put(t, "carol", "/shared/alice/drop/same.txt", []byte(c), false)
	}
	out := t.TempDir()
	err := se.drive(t, "bob").Get(ctx, "/shared/alice/drop", out, client.GetOptions{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("download of two same-named uploads: %v", err)
	}
	b, rerr := os.ReadFile(filepath.Join(out, "drop", "same.txt"))
	if rerr != nil || (string(b) != "one" && string(b) != "two") {
		t.Fatalf("the file that was written: %q, %v", b, rerr)
	}
}

func TestPrintable(t *testing.T) {
	if got := client.Printable("a\u202eb\u009bc\x00d"); got != "abcd" {
		t.Fatalf("Printable: %q", got)
	}
}
