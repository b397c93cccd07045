package client_test

import (
	"bytes"
	"errors"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

// blockPuts returns an HTTP client that counts the blocks uploaded one by
// one (PUT /v1/blocks/ID), as every block of a large file is.
func blockPuts(t *testing.T) (*http.Client, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/blocks/") {
			n.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}, &n
}

func usedBytes(t *testing.T, d *client.Drive) int64 {
	t.Helper()
	u, err := d.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u.UsedBytes
}

func headOf(t *testing.T, d *client.Drive, p string) *api.Revision {
	t.Helper()
	e, err := d.Resolve(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return e.Head
}

// edit returns a copy of b with n bytes from off replaced by fresh random
// ones.
func edit(t *testing.T, b []byte, off, n int) []byte {
	t.Helper()
	c := bytes.Clone(b)
	copy(c[off:off+n], randomBytes(t, n))
	return c
}

// TestReuseUnchangedBlocks: an edit of a large file uploads only the
// blocks whose plaintext changed; the new revision names the revisions
// that sealed the others (the chain flattened), reads back the same from
// any device, and keeps reading once those revisions are deleted.
func TestReuseUnchangedBlocks(t *testing.T) {
	const bs = crypto.BlockSize
	de := newDrive(t, server.Options{KeepVersions: 1})
	hc, puts := blockPuts(t)
	d, err := client.New(de.cfg, hc).Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "big.bin")
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var got client.BlockHashes
	// put uploads content as /big.bin and returns how many blocks went up
	// and how many bytes the account's use grew by.
	put := func(content []byte, base *client.BlockHashes) (int64, int64) {
		t.Helper()
		mtime = mtime.Add(time.Minute)
		writeFile(t, local, content, mtime)
		before, n := usedBytes(t, d), puts.Load()
		opt := client.PutOptions{Overwrite: true, Base: base, Uploaded: func(h client.BlockHashes) { got = h }}
		if err := d.Put(ctx, []string{local}, "/big.bin", opt); err != nil {
			t.Fatal(err)
		}
		want, err := client.HashBlocks(bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatal("Uploaded reported other hashes than HashBlocks computes")
		}
		if c := cat(t, d, "/big.bin"); !bytes.Equal(c, content) {
			t.Fatal("the file reads back different")
		}
		return puts.Load() - n, usedBytes(t, d) - before
	}
	sealed := int64(crypto.SealedBlockSize(bs))

	v1 := randomBytes(t, 2*bs+5000)
	if n, _ := put(v1, nil); n != 3 {
		t.Fatalf("first upload sent %d blocks, want 3", n)
	}
	h1 := got
	r1 := headOf(t, d, "/big.bin")

	// Only the middle block changes: one block goes up.
	v2 := edit(t, v1, bs+100, 10)
	if n, grew := put(v2, &h1); n != 1 || grew != sealed {
		t.Fatalf("edit of the middle block sent %d blocks (use grew by %d), want 1 (%d)", n, grew, sealed)
	}
	h2 := got
	r2 := headOf(t, d, "/big.bin")
	if len(r2.Origins) != 1 || !bytes.Equal(r2.Origins[0].Revision, r1.ID) || !slices.Equal(r2.BlockOrigins, []uint32{1, 0, 1}) ||
		!bytes.Equal(r2.Blocks[0], r1.Blocks[0]) || !bytes.Equal(r2.Blocks[2], r1.Blocks[2]) || bytes.Equal(r2.Blocks[1], r1.Blocks[1]) {
		t.Fatalf("revision 2: origins %x, block origins %v", r2.Origins, r2.BlockOrigins)
	}
	// The server kept one revision: r1 is gone, its blocks that r2
	// names are not garbage, the one it replaced is.
	garbage := func() map[string]bool {
		ids, err := de.env.Store.GarbageBlocks(ctx, time.Now().Add(24*time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, id := range ids {
			m[string(id)] = true
		}
		return m
	}
	if g := garbage(); g[string(r1.Blocks[0])] || g[string(r1.Blocks[2])] || !g[string(r1.Blocks[1])] {
		t.Fatal("garbage after the first revision was deleted: the re-used blocks must stay, the replaced one go")
	}

	// Then the first block: r3 re-uses r2's own block 1 and r1's block 2,
	// which r2 had re-used; it names r1 for it, not r2.
	v3 := edit(t, v2, 7, 1)
	if n, _ := put(v3, &h2); n != 1 {
		t.Fatalf("edit of the first block sent %d blocks, want 1", n)
	}
	h3 := got
	r3 := headOf(t, d, "/big.bin")
	if len(r3.Origins) != 2 || !bytes.Equal(r3.Origins[0].Revision, r2.ID) || !bytes.Equal(r3.Origins[1].Revision, r1.ID) ||
		!slices.Equal(r3.BlockOrigins, []uint32{0, 1, 2}) {
		t.Fatalf("revision 3: origins %x, block origins %v", r3.Origins, r3.BlockOrigins)
	}
	if vs, err := d.Versions(ctx, "/big.bin"); err != nil || len(vs) != 1 {
		t.Fatalf("versions: %d, %v; want only the head", len(vs), err)
	}
	// A device that has seen nothing reads it too, with r1 and r2 gone.
	fc, fcfg := newClient(t)
	if _, err := fc.Login(ctx, de.env.URL, "alice", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	fresh, err := client.New(fcfg, nil).Drive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := cat(t, fresh, "/big.bin"); !bytes.Equal(c, v3) {
		t.Fatal("a fresh device reads another content")
	}

	// Only the time changes: nothing goes up.
	if n, grew := put(v3, &h3); n != 0 || grew != 0 {
		t.Fatalf("unchanged content sent %d blocks (use grew by %d)", n, grew)
	}

	// Hashes of another content than the head's: nothing is re-used.
	v5 := edit(t, v3, 2*bs+1, 1)
	if n, _ := put(v5, &h1); n != 3 {
		t.Fatalf("a stale base sent %d blocks, want 3", n)
	}
	if r := headOf(t, d, "/big.bin"); len(r.Origins) != 0 || r.BlockOrigins != nil {
		t.Fatalf("a stale base re-used blocks: %x", r.Origins)
	}
	h5 := got

	// Hashes of the head's content, but said to be of another revision:
	// nothing is re-used.
	wrong := h5
	wrong.Revision = r3.ID
	if n, _ := put(v5, &wrong); n != 3 {
		t.Fatalf("a base of another revision sent %d blocks, want 3", n)
	}
	h5 = got

	// Cut after two full blocks: block 1 becomes the last, so it cannot
	// be re-used even though its plaintext is the same (its last flag
	// differs); block 0 is.
	v6 := v5[:2*bs]
	if n, _ := put(v6, &h5); n != 1 {
		t.Fatalf("truncation sent %d blocks, want 1 (the new last block)", n)
	}
	if r := headOf(t, d, "/big.bin"); !slices.Equal(r.BlockOrigins, []uint32{1, 0}) {
		t.Fatalf("after truncation: block origins %v", r.BlockOrigins)
	}
	h6 := got
	// Grown by one byte: the old last block is no longer the last.
	v7 := append(bytes.Clone(v6), 1)
	if n, _ := put(v7, &h6); n != 2 {
		t.Fatalf("growth sent %d blocks, want 2", n)
	}
	// Without a base, everything goes up, as before.
	if n, _ := put(v7, nil); n != 3 {
		t.Fatalf("no base sent %d blocks, want 3", n)
	}
}

// reuseRecordOf is the crypto record of a wire revision, origins included.
func reuseRecordOf(r *api.Revision) *crypto.RevisionRecord {
	rr := revisionRecordOf(r)
	rr.BlockOrigins = r.BlockOrigins
	for _, o := range r.Origins {
		rr.Origins = append(rr.Origins, crypto.Origin{Revision: o.Revision, SealedKey: o.SealedKey})
	}
	return rr
}

// TestReuseTamper: a server that changes anything of a revision that
// re-uses blocks, even with the records signed again by their author (as
// a bug or a stolen key could), makes the download fail closed, naming
// the file.
func TestReuseTamper(t *testing.T) {
	const bs = crypto.BlockSize
	de := newDrive(t, server.Options{})
	d := de.drive
	local := filepath.Join(t.TempDir(), "big.bin")
	v1 := randomBytes(t, 2*bs+300)
	writeFile(t, local, v1, time.Time{})
	var h client.BlockHashes
	if err := d.Put(ctx, []string{local}, "/big.bin", client.PutOptions{Uploaded: func(b client.BlockHashes) { h = b }}); err != nil {
		t.Fatal(err)
	}
	v2 := edit(t, v1, bs, 1)
	writeFile(t, local, v2, time.Time{})
	if err := d.Put(ctx, []string{local}, "/big.bin", client.PutOptions{Overwrite: true, Base: &h}); err != nil {
		t.Fatal(err)
	}
	e, err := d.Resolve(ctx, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Head.Origins) != 1 {
		t.Fatal("the second revision re-uses nothing")
	}
	acc, err := de.c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// resign signs the revision and the node record again, as alice.
	resign := func(n *api.Node) {
		rr := reuseRecordOf(n.Head)
		sig, err := rr.Sign(acc.Keys)
		if err != nil {
			t.Fatal(err)
		}
		n.Head.Signature = sig
		dg := rr.Digest()
		n.RevisionDigest = dg[:]
		if n.Signature, err = recordOf(n).Sign(acc.Keys); err != nil {
			t.Fatal(err)
		}
	}
	proxy := servertest.NewTamper(t, de.env.URL)
	head := func(fn func(r *api.Revision), again bool) func() {
		return func() {
			proxy.OnPrefix("/v1/nodes/", tamperList(func(l *api.NodeList) {
				if n := find(l, e.ID); n != nil {
					r := *n.Head
					r.Origins = slices.Clone(r.Origins)
					r.BlockOrigins = slices.Clone(r.BlockOrigins)
					r.Origins[0].SealedKey = bytes.Clone(r.Origins[0].SealedKey)
					fn(&r)
					n.Head = &r
					if again {
						resign(n)
					}
				}
			}))
		}
	}
	for _, tc := range []struct {
		name  string
		setup func()
		fresh bool
	}{
		{"origin key bit flipped", head(func(r *api.Revision) { r.Origins[0].SealedKey[20] ^= 1 }, false), false},
		{"re-used block said to be the revision's own", head(func(r *api.Revision) { r.BlockOrigins[0] = 0 }, false), false},
		{"origins dropped", head(func(r *api.Revision) { r.Origins, r.BlockOrigins = nil, nil }, false), false},
		{"origin key bit flipped, re-signed by the author", head(func(r *api.Revision) { r.Origins[0].SealedKey[20] ^= 1 }, true), true},
		{"origin renamed (its key sealed for another), re-signed", head(func(r *api.Revision) {
			r.Origins[0].Revision = bytes.Repeat([]byte{7}, crypto.IDSize)
		}, true), true},
		{"re-used block said to be the revision's own, re-signed", head(func(r *api.Revision) { r.BlockOrigins[0] = 0 }, true), true},
		{"own block said to be re-used, re-signed", head(func(r *api.Revision) { r.BlockOrigins[1] = 1 }, true), true},
		{"origins dropped, re-signed", head(func(r *api.Revision) { r.Origins, r.BlockOrigins = nil, nil }, true), true},
		{"re-used block served with the bytes of another", func() {
			other := blockBytes(t, de, e.Head.Blocks[1])
			proxy.On("/v1/blocks/"+hexID(e.Head.Blocks[0]), func([]byte) []byte { return other })
		}, false},
	} {
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
			} else {
				td, err = de.via(t, proxy)
			}
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := td.Cat(ctx, "/big.bin", &out)
			if err == nil {
				t.Fatalf("read %d bytes through a tampering server", out.Len())
			}
			t.Log(err)
			if !errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), "big.bin") {
				t.Fatalf("error does not report tampering with big.bin: %v", err)
			}
		})
	}
	proxy.Reset()
	td, err := de.via(t, proxy)
	if err != nil {
		t.Fatal(err)
	}
	if c := cat(t, td, "/big.bin"); !bytes.Equal(c, v2) {
		t.Fatal("honest proxy: big.bin differs")
	}
}

func hexID(id []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(id))
	for _, b := range id {
		out = append(out, digits[b>>4], digits[b&15])
	}
	return string(out)
}

// TestReuseInShareAndAfterRotation: an editor's new version of a shared
// file re-uses the owner's blocks, which the owner keeps paying for once;
// after the owner removes a member and rotates the keys, the next version
// re-uses nothing written before (the removed member could match it),
// and the one after re-uses again.
func TestReuseInShareAndAfterRotation(t *testing.T) {
	const bs = crypto.BlockSize
	se := newShareEnv(t, server.Options{}, "alice", "bob")
	alice := se.drive(t, "alice")
	if _, err := alice.Mkdir(ctx, "/team", false); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "big.bin")
	v1 := randomBytes(t, 2*bs+10)
	writeFile(t, local, v1, time.Time{})
	var h client.BlockHashes
	record := func(b client.BlockHashes) { h = b }
	if err := alice.Put(ctx, []string{local}, "/team/big.bin", client.PutOptions{Uploaded: record}); err != nil {
		t.Fatal(err)
	}
	sharedTeamRoles(t, se, map[string]crypto.Role{"bob": crypto.RoleEditor})
	sealed := int64(crypto.SealedBlockSize(bs))

	// Bob edits the middle block.
	bob := se.drive(t, "bob")
	before := usedBytes(t, alice)
	v2 := edit(t, v1, bs+5, 3)
	writeFile(t, local, v2, time.Time{})
	if err := bob.Put(ctx, []string{local}, "/shared/alice/team/big.bin", client.PutOptions{Overwrite: true, Base: &h, Uploaded: record}); err != nil {
		t.Fatal(err)
	}
	if grew := usedBytes(t, alice) - before; grew != sealed {
		t.Fatalf("alice's use grew by %d, want one block (%d)", grew, sealed)
	}
	if u := usedBytes(t, bob); u != 0 {
		t.Fatalf("bob pays %d bytes", u)
	}
	if got, err := se.cat(t, "alice", "/team/big.bin"); err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("alice reads bob's version: %v", err)
	}
	if r := headOf(t, se.drive(t, "alice"), "/team/big.bin"); len(r.Origins) != 1 || r.Author != "bob" {
		t.Fatalf("bob's revision: author %s, %d origins", r.Author, len(r.Origins))
	}

	// Alice removes bob and rotates. Her next version, of the same
	// content, re-uses nothing.
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "bob", true); err != nil {
		t.Fatal(err)
	}
	alice = se.drive(t, "alice")
	before = usedBytes(t, alice)
	writeFile(t, local, v2, time.Now())
	if err := alice.Put(ctx, []string{local}, "/team/big.bin", client.PutOptions{Overwrite: true, Base: &h, Uploaded: record}); err != nil {
		t.Fatal(err)
	}
	if grew := usedBytes(t, alice) - before; grew != 3*sealed-sealed+int64(crypto.SealedBlockSize(10)) {
		t.Fatalf("the first version after the rotation grew the use by %d: it must upload every block", grew)
	}
	if r := headOf(t, alice, "/team/big.bin"); len(r.Origins) != 0 {
		t.Fatal("the first version after the rotation re-uses blocks")
	}
	// The next one re-uses again.
	before = usedBytes(t, alice)
	writeFile(t, local, v2, time.Now().Add(time.Minute))
	if err := alice.Put(ctx, []string{local}, "/team/big.bin", client.PutOptions{Overwrite: true, Base: &h}); err != nil {
		t.Fatal(err)
	}
	if grew := usedBytes(t, alice) - before; grew != 0 {
		t.Fatalf("an unchanged version after that grew the use by %d", grew)
	}
	if got, err := se.cat(t, "alice", "/team/big.bin"); err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("alice reads her version: %v", err)
	}
}
