package client_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

// driveEnv is a server with one logged-in account and its drive.
type driveEnv struct {
	env   *servertest.Env
	cfg   *client.Config
	c     *client.Client
	drive *client.Drive
}

func newDrive(t *testing.T, opts server.Options) *driveEnv {
	t.Helper()
	env := servertest.Start(t, opts)
	c, cfg := newClient(t)
	if _, err := c.Signup(ctx, env.URL, "alice", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, env.URL, "alice", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	d, err := c.Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &driveEnv{env: env, cfg: cfg, c: c, drive: d}
}

// via returns alice's drive as seen through a tampering proxy.
func (de *driveEnv) via(t *testing.T, proxy *servertest.Tamper) (*client.Drive, error) {
	return client.New(de.cfg, redirectTo(t, proxy.URL)).Drive(ctx)
}

func writeFile(t *testing.T, path string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func cat(t *testing.T, d *client.Drive, p string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := d.Cat(ctx, p, &buf); err != nil {
		t.Fatalf("cat %s: %v", p, err)
	}
	return buf.Bytes()
}

func names(t *testing.T, d *client.Drive, p string) []string {
	t.Helper()
	e, err := d.Resolve(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	list, err := d.List(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.Name)
	}
	return out
}

func TestDriveRoundTrip(t *testing.T) {
	de := newDrive(t, server.Options{})
	d := de.drive
	local := t.TempDir()
	mtime := time.Date(2020, 5, 17, 10, 30, 0, 123456789, time.UTC)

	small := []byte("hello, coffer")
	big := randomBytes(t, 2*crypto.BlockSize+12345) // three blocks, the last one short
	writeFile(t, filepath.Join(local, "small.txt"), small, mtime)
	writeFile(t, filepath.Join(local, "big.bin"), big, mtime)
	writeFile(t, filepath.Join(local, "tree", "sub", "deep.txt"), []byte("deep"), mtime)
	writeFile(t, filepath.Join(local, "tree", "empty.txt"), nil, mtime)
	if err := os.MkdirAll(filepath.Join(local, "tree", "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}

	if _, err := d.Mkdir(ctx, "/docs/2024", false); err == nil {
		t.Fatal("mkdir without -p of a missing parent must fail")
	}
	if _, err := d.Mkdir(ctx, "/docs/2024", true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Mkdir(ctx, "/docs", false); err == nil {
		t.Fatal("mkdir of an existing folder must fail")
	}
	if err := d.Put(ctx, []string{filepath.Join(local, "small.txt"), filepath.Join(local, "big.bin"), filepath.Join(local, "tree")}, "/docs", client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, d, "/docs/small.txt"); !bytes.Equal(got, small) {
		t.Fatalf("small: %q", got)
	}
	if got := cat(t, d, "/docs/big.bin"); !bytes.Equal(got, big) {
		t.Fatal("big file differs")
	}
	if got := cat(t, d, "/docs/tree/sub/deep.txt"); string(got) != "deep" {
		t.Fatalf("deep: %q", got)
	}
	if got := cat(t, d, "/docs/tree/empty.txt"); len(got) != 0 {
		t.Fatalf("empty: %q", got)
	}
	e, err := d.Resolve(ctx, "/docs/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if e.Attrs.Size != uint64(len(big)) || e.Attrs.ModTime != mtime.UnixNano() || e.Author != "alice" {
		t.Fatalf("attributes: %+v author %s", e.Attrs, e.Author)
	}
	if got := strings.Join(names(t, d, "/docs/tree"), ","); !sameSet(got, "sub,empty.txt,emptydir") {
		t.Fatalf("tree holds %s", got)
	}

	// A fresh client (new process, empty cache) sees the same.
	other := client.New(de.cfg, nil)
	d2, err := other.Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cat(t, d2, "/docs/big.bin"); !bytes.Equal(got, big) {
		t.Fatal("big file differs for a second client")
	}

	// Download a folder and compare, mtimes included.
	out := t.TempDir()
	if err := d.Get(ctx, "/docs", out, client.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string][]byte{"small.txt": small, "big.bin": big, "tree/sub/deep.txt": []byte("deep"), "tree/empty.txt": nil} {
		p := filepath.Join(out, "docs", rel)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %v", rel, err)
		}
		st, _ := os.Stat(p)
		if !st.ModTime().Equal(mtime) {
			t.Fatalf("%s: mtime %v, want %v", rel, st.ModTime(), mtime)
		}
	}
	if st, err := os.Stat(filepath.Join(out, "docs", "tree", "emptydir")); err != nil || !st.IsDir() {
		t.Fatal("empty folder not downloaded")
	}
	if err := d.Get(ctx, "/docs/small.txt", filepath.Join(out, "docs", "small.txt"), client.GetOptions{}); err == nil {
		t.Fatal("get must not overwrite a local file")
	}

	// Names: existing refused, bad ones refused, NFC equivalent.
	if err := d.Put(ctx, []string{filepath.Join(local, "small.txt")}, "/docs", client.PutOptions{}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("put over an existing file: %v", err)
	}
	for _, bad := range []string{"/docs/..", "/docs/a\x00b", "/" + strings.Repeat("x", 256), "docs"} {
		if _, err := d.Mkdir(ctx, bad, true); err == nil {
			t.Fatalf("mkdir %q succeeded", bad)
		}
	}
	if _, err := d.Mkdir(ctx, "/caf\u00e9", false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Resolve(ctx, "/cafe\u0301"); err != nil {
		t.Fatalf("decomposed name must find the composed folder: %v", err)
	}
	if _, err := d.Mkdir(ctx, "/cafe\u0301", false); err == nil {
		t.Fatal("an NFC-equal name must count as taken")
	}

	// Move and rename, across folders.
	if err := d.Move(ctx, "/docs/small.txt", "/docs/2024"); err != nil {
		t.Fatal(err)
	}
	if err := d.Move(ctx, "/docs/2024/small.txt", "/docs/2024/renamed.txt"); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, d, "/docs/2024/renamed.txt"); !bytes.Equal(got, small) {
		t.Fatal("moved file differs")
	}
	if _, err := d.Resolve(ctx, "/docs/small.txt"); !errors.Is(err, client.ErrNotExist) {
		t.Fatalf("old path after move: %v", err)
	}
	if err := d.Move(ctx, "/docs", "/docs/2024"); err == nil {
		t.Fatal("moving a folder into itself must fail")
	}

	// Versions.
	v2 := []byte("second version")
	writeFile(t, filepath.Join(local, "v2"), v2, time.Time{})
	if err := d.Put(ctx, []string{filepath.Join(local, "v2")}, "/docs/2024/renamed.txt", client.PutOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, d, "/docs/2024/renamed.txt"); !bytes.Equal(got, v2) {
		t.Fatalf("after overwrite: %q", got)
	}
	vs, err := d.Versions(ctx, "/docs/2024/renamed.txt")
	if err != nil || len(vs) != 2 || !vs[1].Head || vs[0].Attrs.Size != uint64(len(small)) {
		t.Fatalf("versions: %v %+v", err, vs)
	}
	if err := d.RestoreVersion(ctx, "/docs/2024/renamed.txt", 1); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, d, "/docs/2024/renamed.txt"); !bytes.Equal(got, small) {
		t.Fatalf("after restore-version: %q", got)
	}

	// Trash.
	if err := d.Remove(ctx, "/docs/tree", false); err == nil {
		t.Fatal("rm of a folder without -r must fail")
	}
	if err := d.Remove(ctx, "/docs/tree", true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Resolve(ctx, "/docs/tree/sub/deep.txt"); err == nil {
		t.Fatal("trashed subtree still resolves")
	}
	items, err := d.Trash(ctx)
	if err != nil || len(items) != 1 || items[0].Path() != "/docs/tree" {
		t.Fatalf("trash: %v %+v", err, items)
	}
	if err := d.RestoreFromTrash(ctx, "/docs/tree"); err != nil {
		t.Fatal(err)
	}
	if got := cat(t, d, "/docs/tree/sub/deep.txt"); string(got) != "deep" {
		t.Fatal("restored subtree lost content")
	}
	if err := d.Remove(ctx, "/docs/big.bin", false); err != nil {
		t.Fatal(err)
	}
	if n, err := d.EmptyTrash(ctx); err != nil || n != 1 {
		t.Fatalf("empty trash: %d %v", n, err)
	}
	if _, err := d.Resolve(ctx, "/docs/big.bin"); !errors.Is(err, client.ErrNotExist) {
		t.Fatalf("emptied file: %v", err)
	}
}

func sameSet(got, want string) bool {
	g, w := strings.Split(got, ","), strings.Split(want, ",")
	if len(g) != len(w) {
		return false
	}
	m := map[string]bool{}
	for _, x := range g {
		m[x] = true
	}
	for _, x := range w {
		if !m[x] {
			return false
		}
	}
	return true
}

func TestQuotaRefusesBeforeSending(t *testing.T) {
	de := newDrive(t, server.Options{})
	u, err := de.env.Store.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := de.env.Store.SetQuota(ctx, u.ID, 3<<20); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "big")
	writeFile(t, local, randomBytes(t, 5<<20), time.Time{})
	err = de.drive.Put(ctx, []string{local}, "/big", client.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "quota") {
		t.Fatalf("over quota: %v", err)
	}
	if us, _ := de.drive.Usage(ctx); us.UsedBytes != 0 {
		t.Fatalf("a refused upload used %d bytes", us.UsedBytes)
	}
}

// tamperList edits the children listing of one folder.
func tamperList(edit func(l *api.NodeList)) func(string, []byte) []byte {
	return func(path string, body []byte) []byte {
		if !strings.HasSuffix(path, "/children") {
			return body
		}
		var l api.NodeList
		if json.Unmarshal(body, &l) != nil {
			return body
		}
		edit(&l)
		out, _ := json.Marshal(l)
		return out
	}
}

func find(l *api.NodeList, id []byte) *api.Node {
	for i := range l.Nodes {
		if bytes.Equal(l.Nodes[i].ID, id) {
			return &l.Nodes[i]
		}
	}
	return nil
}

// TestMaliciousServerDrive puts a tampering layer between the client and a
// real server. Every change must make the client fail closed with an
// error that names the object, and never return wrong data.
func TestMaliciousServerDrive(t *testing.T) {
	de := newDrive(t, server.Options{})
	d := de.drive
	local := t.TempDir()
	a := randomBytes(t, 2*crypto.BlockSize+100)
	b := randomBytes(t, crypto.BlockSize+7)
	writeFile(t, filepath.Join(local, "a.bin"), a, time.Time{})
	writeFile(t, filepath.Join(local, "b.bin"), b, time.Time{})
	writeFile(t, filepath.Join(local, "c.txt"), []byte("sibling"), time.Time{})
	if _, err := d.Mkdir(ctx, "/other", false); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, []string{filepath.Join(local, "a.bin"), filepath.Join(local, "b.bin"), filepath.Join(local, "c.txt")}, "/", client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	ea, _ := d.Resolve(ctx, "/a.bin")
	eb, _ := d.Resolve(ctx, "/b.bin")
	ec, _ := d.Resolve(ctx, "/c.txt")
	// An older revision of a.bin, to replay later.
	oldA := ea.Record
	writeFile(t, filepath.Join(local, "a2.bin"), []byte("newer"), time.Time{})
	if err := d.Put(ctx, []string{filepath.Join(local, "a2.bin")}, "/a.bin", client.PutOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	// Keys of a stranger, to forge with.
	evil, err := crypto.GenerateAccountKeys()
	if err != nil {
		t.Fatal(err)
	}

	// Alice's own keys: a server that could get a record re-signed (or a
	// bug that signs the wrong thing) must still be caught by the AEAD
	// bindings of names, keys and blocks, so those cases re-sign.
	acc, err := de.c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resign := func(n *api.Node) {
		sig, err := recordOf(n).Sign(acc.Keys)
		if err != nil {
			t.Fatal(err)
		}
		n.Signature = sig
	}
	proxy := servertest.NewTamper(t, de.env.URL)
	blockPath := func(id []byte) string { return "/v1/blocks/" + hex.EncodeToString(id) }
	bBlocks := eb.Head.Blocks

	cases := []struct {
		name  string
		setup func()
		op    string // "cat PATH" or "ls PATH"
		// fresh runs the case on a device that has seen nothing yet, so
		// that a re-signed record gets past the fork check and the layer
		// the case is about is reached.
		fresh bool
	}{
		{"block with a flipped bit", func() {
			proxy.On(blockPath(bBlocks[0]), func(body []byte) []byte { return servertest.FlipBit(body, 4000) })
		}, "cat /b.bin", false},
		{"two blocks swapped", func() {
			b0, b1 := blockBytes(t, de, bBlocks[0]), blockBytes(t, de, bBlocks[1])
			proxy.On(blockPath(bBlocks[0]), func([]byte) []byte { return b1 })
			proxy.On(blockPath(bBlocks[1]), func([]byte) []byte { return b0 })
		}, "cat /b.bin", false},
		{"manifest with blocks swapped", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, eb.ID); n != nil {
					n.Head.Blocks[0], n.Head.Blocks[1] = n.Head.Blocks[1], n.Head.Blocks[0]
				}
			}))
		}, "cat /b.bin", false},
		{"block from another file", func() {
			proxy.On(blockPath(bBlocks[1]), func([]byte) []byte { return blockBytes(t, de, ea.Head.Blocks[1]) })
		}, "cat /b.bin", false},
		{"blocks reordered in a re-signed manifest (index binding)", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, eb.ID); n != nil {
					n.Head.Blocks[0], n.Head.Blocks[1] = n.Head.Blocks[1], n.Head.Blocks[0]
					rr := revisionRecordOf(n.Head)
					n.Head.Signature, _ = rr.Sign(acc.Keys)
					d := rr.Digest()
					n.RevisionDigest = d[:]
					resign(n)
				}
			}))
		}, "cat /b.bin", true},
		{"block ID cut to 31 bytes", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, eb.ID); n != nil {
					n.Head.Blocks[1] = n.Head.Blocks[1][:31]
				}
			}))
		}, "cat /b.bin", false},
		{"last block dropped", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, eb.ID); n != nil {
					n.Head.Blocks = n.Head.Blocks[:1]
				}
			}))
		}, "cat /b.bin", false},
		{"extra block appended", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, eb.ID); n != nil {
					n.Head.Blocks = append(n.Head.Blocks, bBlocks[0])
				}
			}))
		}, "cat /b.bin", false},
		{"manifest of an older revision", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, ea.ID); n != nil {
					n.Head = ea.Head
				}
			}))
		}, "cat /a.bin", false},
		{"name sealed for another folder (moved by the server)", func() {
			other, _ := d.Resolve(ctx, "/other")
			proxy.OnPrefix("/v1/nodes/"+base64.RawURLEncoding.EncodeToString(other.ID), tamperList(func(l *api.NodeList) {
				moved := ec.Record
				moved.Parent = other.ID
				moved.Head = ec.Head
				resign(&moved)
				l.Nodes = append(l.Nodes, moved)
			}))
		}, "ls /other", false},
		{"names swapped between siblings", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				x, y := find(l, eb.ID), find(l, ec.ID)
				if x != nil && y != nil {
					x.SealedName, y.SealedName = y.SealedName, x.SealedName
					x.NameHash, y.NameHash = y.NameHash, x.NameHash
					resign(x)
					resign(y)
				}
			}))
		}, "ls /", false},
		{"attributes of another revision (size, mtime)", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, eb.ID); n != nil {
					n.Head.SealedAttrs = ec.Head.SealedAttrs
				}
			}))
		}, "ls /", false},
		{"node signed by an unknown key", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, ec.ID); n != nil {
					rec := recordOf(n)
					sig, _ := rec.Sign(evil)
					n.Signature = sig
				}
			}))
		}, "ls /", false},
		{"child injected by the server", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				fake := ec.Record
				fake.ID = []byte("0123456789abcdef")
				fake.Head = nil
				fake.Kind, fake.Revision, fake.RevisionSeq, fake.RevisionDigest = api.KindFolder, nil, 0, nil
				rec := recordOf(&fake)
				fake.Signature, _ = rec.Sign(evil)
				l.Nodes = append(l.Nodes, fake)
			}))
		}, "ls /", false},
		{"node key replaced with a fresh one", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, ec.ID); n != nil {
					n.SealedKey = bytes.Repeat([]byte{7}, len(n.SealedKey))
					n.SealedKey[0] = 1 // a valid version byte, so the AEAD itself refuses
					resign(n)
				}
			}))
		}, "ls /", false},
		{"empty key list", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, ec.ID); n != nil {
					n.SealedKey = nil
				}
			}))
		}, "ls /", false},
		{"a different record under a version already seen (fork)", func() {
			// A validly signed twin of c.txt's record: same version, its
			// key wrapped again under a fresh nonce. Only the device's
			// memory of what it saw can tell.
			root := d.Root()
			rootKey, err := crypto.OpenRootKey(acc.Keys, root.Record.Volume, root.ID, root.Record.SealedKey)
			if err != nil {
				t.Fatal(err)
			}
			rk, err := rootKey.Derive()
			if err != nil {
				t.Fatal(err)
			}
			ref := crypto.NodeRef{Volume: root.Record.Volume, Parent: root.ID, Node: ec.ID}
			key, err := crypto.UnwrapNodeKey(rk, ref, ec.Record.SealedKey)
			if err != nil {
				t.Fatal(err)
			}
			twin, err := crypto.WrapNodeKey(rk, ref, key)
			if err != nil {
				t.Fatal(err)
			}
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, ec.ID); n != nil {
					n.SealedKey = twin
					resign(n)
				}
			}))
		}, "ls /", false},
		{"malformed record replaying a verified record's fingerprint", func() {
			// Marshal of a malformed record is empty; its "signature"
			// carries the real record's bytes and signature, so an
			// unframed fingerprint would equal the one already verified.
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, ec.ID); n != nil {
					real := recordOf(n).Marshal()
					n.Signature = append(append([]byte{}, real...), n.Signature...)
					n.Kind = 9
				}
			}))
		}, "ls /", false},
		{"rolled back to an older record", func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, ea.ID); n != nil {
					*n = oldA
					n.Head = ea.Head
				}
			}))
		}, "ls /", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy.Reset()
			tc.setup()
			var td *client.Drive
			if tc.fresh {
				fc, fcfg := newClient(t)
				if _, err := fc.Login(ctx, de.env.URL, "alice", []byte("pw")); err != nil {
					t.Fatal(err)
				}
				td, err = client.New(fcfg, redirectTo(t, proxy.URL)).Drive(ctx)
				if err != nil {
					t.Fatal(err)
				}
			} else if td, err = de.via(t, proxy); err != nil {
				t.Fatal(err)
			}
			op, p, _ := strings.Cut(tc.op, " ")
			switch op {
			case "cat":
				var out bytes.Buffer
				err = td.Cat(ctx, p, &out)
				if err == nil {
					t.Fatalf("cat %s through a tampering server returned %d bytes and no error", p, out.Len())
				}
			case "ls":
				var e *client.Entry
				if e, err = td.Resolve(ctx, p); err == nil {
					_, err = td.List(ctx, e)
				}
				if err == nil {
					t.Fatalf("ls %s through a tampering server succeeded", p)
				}
			}
			t.Log(err)
			if !errors.Is(err, client.ErrTampered) {
				t.Fatalf("error does not report tampering: %v", err)
			}
			if !strings.Contains(err.Error(), "/") {
				t.Fatalf("error does not name the object: %v", err)
			}
		})
	}
	// A server that claims the drive is gone, or swaps in another one, is
	// not believed by a device that has seen the drive.
	proxy.Reset()
	proxy.On(api.PathVolume, func([]byte) []byte { return []byte(`{"error":{"code":"not_found","message":"no drive"}}`) })
	proxy.OnStatus(api.PathVolume, http.StatusNotFound)
	if _, err := de.via(t, proxy); err == nil || !errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), "no drive") {
		t.Fatalf("a vanished drive: %v", err)
	}
	proxy.Reset()
	proxy.On(api.PathVolume, servertest.EditJSON(func(v *api.VolumeResponse) { v.Volume = bytes.Repeat([]byte{9}, 16) }))
	if _, err := de.via(t, proxy); err == nil || !errors.Is(err, client.ErrTampered) {
		t.Fatalf("a swapped drive: %v", err)
	}

	// The honest server still serves everything.
	proxy.Reset()
	td, err := de.via(t, proxy)
	if err != nil {
		t.Fatal(err)
	}
	if got := cat(t, td, "/b.bin"); !bytes.Equal(got, b) {
		t.Fatal("honest proxy: b.bin differs")
	}
}

func revisionRecordOf(r *api.Revision) *crypto.RevisionRecord {
	rr := &crypto.RevisionRecord{
		Volume: r.Volume, Node: r.Node, Revision: r.ID, Seq: r.Seq,
		SealedContentKey: r.SealedContentKey, SealedAttrs: r.SealedAttrs, Author: r.Author,
		Blocks: make([][32]byte, len(r.Blocks)),
	}
	for i, b := range r.Blocks {
		copy(rr.Blocks[i][:], b)
	}
	return rr
}

func recordOf(n *api.Node) *crypto.NodeRecord {
	r := &crypto.NodeRecord{
		Volume: n.Volume, Node: n.ID, Parent: n.Parent, Kind: crypto.NodeKind(n.Kind),
		SealedName: n.SealedName, SealedKey: n.SealedKey, Author: n.Author, Version: n.Version,
		Revision: n.Revision, RevisionSeq: n.RevisionSeq,
	}
	copy(r.NameHash[:], n.NameHash)
	copy(r.RevisionDigest[:], n.RevisionDigest)
	return r
}

// blockBytes reads a stored block straight from the server's block store.
func blockBytes(t *testing.T, de *driveEnv, id []byte) []byte {
	t.Helper()
	var bid [32]byte
	copy(bid[:], id)
	rc, err := de.env.Blobs.Get(ctx, bid)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestInterruptedPutResumes: an upload cut off midway is run again and
// sends only the blocks the server does not have; the file then reads back
// whole. Nothing of the broken attempt is visible meanwhile.
func TestInterruptedPutResumes(t *testing.T) {
	de := newDrive(t, server.Options{})
	local := filepath.Join(t.TempDir(), "big.bin")
	data := randomBytes(t, 6*crypto.BlockSize+999) // 7 blocks
	writeFile(t, local, data, time.Time{})

	target, err := url.Parse(de.env.URL)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	puts, failAfter := 0, 3
	rp := httputil.NewSingleHostReverseProxy(target)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/blocks/") {
			mu.Lock()
			puts++
			fail := failAfter >= 0 && puts > failAfter
			mu.Unlock()
			if fail {
				http.Error(w, `{"error":{"code":"internal","message":"connection lost"}}`, http.StatusServiceUnavailable)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	defer flaky.Close()

	d1, err := client.New(de.cfg, redirectTo(t, flaky.URL)).Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d1.Put(ctx, []string{local}, "/big.bin", client.PutOptions{}); err == nil {
		t.Fatal("the interrupted upload reported success")
	}
	if _, err := de.drive.Resolve(ctx, "/big.bin"); !errors.Is(err, client.ErrNotExist) {
		t.Fatalf("a half-uploaded file is visible: %v", err)
	}
	mu.Lock()
	stored := failAfter
	puts, failAfter = 0, -1
	mu.Unlock()

	d2, err := client.New(de.cfg, redirectTo(t, flaky.URL)).Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Put(ctx, []string{local}, "/big.bin", client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sent := puts
	mu.Unlock()
	if sent != 7-stored {
		t.Fatalf("the resumed upload sent %d blocks; %d of 7 were already stored", sent, stored)
	}
	if got := cat(t, de.drive, "/big.bin"); !bytes.Equal(got, data) {
		t.Fatal("resumed file differs")
	}

	// A changed file is not resumed: it starts afresh.
	local2 := filepath.Join(t.TempDir(), "other.bin")
	writeFile(t, local2, randomBytes(t, 3*crypto.BlockSize), time.Time{})
	mu.Lock()
	puts, failAfter = 0, 1
	mu.Unlock()
	if err := d2.Put(ctx, []string{local2}, "/other.bin", client.PutOptions{}); err == nil {
		t.Fatal("interrupted upload reported success")
	}
	changed := randomBytes(t, 3*crypto.BlockSize)
	writeFile(t, local2, changed, time.Now().Add(time.Minute))
	mu.Lock()
	puts, failAfter = 0, -1
	mu.Unlock()
	if err := d2.Put(ctx, []string{local2}, "/other.bin", client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sentChanged := puts
	mu.Unlock()
	if sentChanged != 3 {
		t.Fatalf("a changed file must be sent whole: %d of 3 blocks sent", sentChanged)
	}
	if got := cat(t, de.drive, "/other.bin"); !bytes.Equal(got, changed) {
		t.Fatal("changed file differs")
	}
}

// TestFolderDownloadBatchesSmallFiles: the small files of a folder come in
// one request, and a server that tampers with that answer is caught for
// each file as if it had come alone.
func TestFolderDownloadBatchesSmallFiles(t *testing.T) {
	de := newDrive(t, server.Options{})
	src := filepath.Join(t.TempDir(), "many")
	want := map[string][]byte{}
	for i := range 12 {
		name := fmt.Sprintf("f%02d.txt", i)
		want[name] = randomBytes(t, 100+i*300)
		writeFile(t, filepath.Join(src, name), want[name], time.Time{})
	}
	if err := de.drive.Put(ctx, []string{src}, "/", client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy := servertest.NewTamper(t, de.env.URL)
	var batches, singles int
	var mu sync.Mutex
	proxy.OnPrefix("/v1/blocks/", func(path string, body []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		if path == api.PathBlocksGet {
			batches++
		} else {
			singles++
		}
		return body
	})
	d, err := de.via(t, proxy)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := d.Get(ctx, "/many", out, client.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(out, "many", name))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s differs (%v)", name, err)
		}
	}
	if batches != 1 || singles != 0 {
		t.Fatalf("%d batch and %d single block requests; want the folder's blocks in one batch", batches, singles)
	}

	for name, edit := range map[string]func(path string, body []byte) []byte{
		"bit flip in a block": func(path string, body []byte) []byte {
			if path != api.PathBlocksGet {
				return body
			}
			return servertest.FlipBit(body, 8*(len(body)-5))
		},
		"blocks swapped between files": func(path string, body []byte) []byte {
			if path != api.PathBlocksGet || len(body) < 72 {
				return body
			}
			// Give the first block's ID the second block's bytes.
			n1 := int(binary.BigEndian.Uint32(body[32:36]))
			second := body[36+n1:]
			n2 := int(binary.BigEndian.Uint32(second[32:36]))
			out := append([]byte{}, body[:32]...)
			out = binary.BigEndian.AppendUint32(out, uint32(n2))
			out = append(out, second[36:36+n2]...)
			return append(out, second...)
		},
		"answer cut short": func(path string, body []byte) []byte {
			if path != api.PathBlocksGet {
				return body
			}
			return body[:len(body)-10]
		},
	} {
		t.Run(name, func(t *testing.T) {
			proxy.Reset()
			proxy.OnPrefix("/v1/blocks/", edit)
			d, err := de.via(t, proxy)
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			err = d.Get(ctx, "/many", out, client.GetOptions{})
			if !errors.Is(err, client.ErrTampered) {
				t.Fatalf("got %v, want a tampering error", err)
			}
		})
	}
}

// TestListNamesStillVerifies: a names-only listing skips file contents but
// still refuses a tampered name.
func TestListNamesStillVerifies(t *testing.T) {
	de := newDrive(t, server.Options{})
	local := filepath.Join(t.TempDir(), "a.txt")
	writeFile(t, local, []byte("a"), time.Time{})
	if err := de.drive.Put(ctx, []string{local}, "/", client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := de.drive.ListNames(ctx, de.drive.Root())
	if err != nil || len(list) != 1 || list[0].Name != "a.txt" {
		t.Fatalf("ListNames: %v %v", list, err)
	}
	proxy := servertest.NewTamper(t, de.env.URL)
	proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
		for i := range l.Nodes {
			l.Nodes[i].SealedName = servertest.FlipBit(l.Nodes[i].SealedName, 100)
		}
	}))
	d, err := de.via(t, proxy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ListNames(ctx, d.Root()); !errors.Is(err, client.ErrTampered) {
		t.Fatalf("tampered name in a names-only listing: %v", err)
	}
}
