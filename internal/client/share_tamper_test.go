package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

// The malicious-server suite, for sharing: each attack makes the client
// fail closed with an error naming what was tampered with.

// via opens user's drive through a tampering proxy.
func (se *shareEnv) via(t *testing.T, user string, proxy *servertest.Tamper) (*client.Drive, error) {
	t.Helper()
	return client.New(se.cfgs[user], redirectTo(t, proxy.URL)).Drive(ctx)
}

// forgedBundle is a bundle for user under keys the server made up.
func forgedBundle(t *testing.T, user string) []byte {
	t.Helper()
	keys, err := crypto.GenerateAccountKeys()
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.SignBundle(user, 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := json.Marshal(api.BundleResponse{User: user, PublicBundle: b})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sharedTeam makes alice's /team, shared with each of members in its role
// and accepted.
func sharedTeam(t *testing.T, se *shareEnv, members map[string]crypto.Role) {
	t.Helper()
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team", true); err != nil {
		t.Fatal(err)
	}
	se.put(t, "alice", "/team/plan.txt", []byte("the plan"), false)
	for u, role := range members {
		if _, err := se.drive(t, "alice").ShareAdd(ctx, "/team", u, role); err != nil {
			t.Fatal(err)
		}
		se.accept(t, u, "alice")
	}
}

// TestShareTamperKeySwap: the server presents another key for a member.
// Once the member's key is pinned, sharing stops with ErrKeyChanged; on
// first use, the member's own client sees that the list names a key that
// is not its own, and the grant is not for its key.
func TestShareTamperKeySwap(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	sharedTeam(t, se, map[string]crypto.Role{"bob": crypto.RoleViewer})
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/other", false); err != nil {
		t.Fatal(err)
	}
	proxy := servertest.NewTamper(t, se.env.URL)
	proxy.On("/v1/users/bob/bundle", func([]byte) []byte { return forgedBundle(t, "bob") })
	proxy.On("/v1/users/carol/bundle", func([]byte) []byte { return forgedBundle(t, "carol") })
	a, err := se.via(t, "alice", proxy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ShareAdd(ctx, "/other", "bob", crypto.RoleViewer); !errors.Is(err, client.ErrKeyChanged) || !strings.Contains(err.Error(), "coffer verify bob") {
		t.Fatalf("pinned key swapped: %v", err)
	}
	// Carol was never pinned: the swap gets past alice, not past carol.
	if _, err := a.ShareAdd(ctx, "/other", "carol", crypto.RoleViewer); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := se.drive(t, "carol").Shared(ctx); !errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), "another key for you") {
		t.Fatalf("carol's client: %v", err)
	}
}

// editList rewrites the signed member list inside an answer.
func editList(t *testing.T, raw []byte, edit func(*crypto.ShareList)) []byte {
	l, err := crypto.ParseShareList(raw)
	if err != nil {
		t.Errorf("parse list: %v", err)
		return raw
	}
	edit(l)
	out := l.Marshal()
	if out == nil {
		t.Error("edited list does not marshal")
		return raw
	}
	return out
}

// TestShareTamperList: the server adds a member to the signed list or
// changes a role, in the owner's view and in a member's.
func TestShareTamperList(t *testing.T) {
	// Role checks off, so that the viewer's modified client can put a
	// record in that only a tampered list would make acceptable.
	se := newShareEnv(t, server.Options{UnsafeSkipRoleChecks: true}, "alice", "bob", "mallory")
	sharedTeam(t, se, map[string]crypto.Role{"bob": crypto.RoleViewer})
	bob := se.drive(t, "bob")
	client.SkipLocalChecks(bob)
	if _, err := bob.Mkdir(ctx, "/shared/alice/team/injected", false); err != nil {
		t.Fatal(err)
	}
	// mallory is an account the server controls.
	malloryFP := [32]byte{1}
	edits := map[string]func(*crypto.ShareList){
		"role raised": func(l *crypto.ShareList) { l.Members[0].Role = crypto.RoleEditor },
		"member added": func(l *crypto.ShareList) {
			l.Members = append(l.Members, crypto.ShareMember{Name: "mallory", Fingerprint: malloryFP, Role: crypto.RoleEditor})
		},
		"version raised": func(l *crypto.ShareList) { l.Version += 5 },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			proxy := servertest.NewTamper(t, se.env.URL)
			proxy.On(api.PathShares, servertest.EditJSON(func(sl *api.ShareList) {
				for i := range sl.Shares {
					sl.Shares[i].List = editList(t, sl.Shares[i].List, edit)
				}
			}))
			ownerRefuses(t, se, proxy, "not signed by its owner", `signed by "bob", who may not write here`)
			proxy.Reset()
			proxy.On(api.PathShared, servertest.EditJSON(func(sl *api.SharedList) {
				for i := range sl.Items {
					sl.Items[i].Share.List = editList(t, sl.Items[i].Share.List, edit)
				}
			}))
			b, err := se.via(t, "bob", proxy)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Resolve(ctx, "/shared/alice/team"); !errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), "not signed by its owner") {
				t.Fatalf("member's view: %v", err)
			}
		})
	}
}

// TestShareTamperInjected: the server marks a share accepted that the
// member never accepted; it must not appear in the member's tree.
func TestShareTamperInjected(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob")
	if _, err := se.drive(t, "alice").Mkdir(ctx, "/team", false); err != nil {
		t.Fatal(err)
	}
	if _, err := se.drive(t, "alice").ShareAdd(ctx, "/team", "bob", crypto.RoleViewer); err != nil {
		t.Fatal(err)
	}
	for name, sig := range map[string][]byte{"no consent": nil, "forged consent": bytes.Repeat([]byte{7}, 64)} {
		t.Run(name, func(t *testing.T) {
			proxy := servertest.NewTamper(t, se.env.URL)
			proxy.On(api.PathShared, servertest.EditJSON(func(sl *api.SharedList) {
				for i := range sl.Items {
					sl.Items[i].Member.State = api.StateAccepted
					sl.Items[i].Member.Acceptance = sig
				}
			}))
			b, err := se.via(t, "bob", proxy)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Resolve(ctx, "/shared/alice/team"); !errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), "never accepted") {
				t.Fatalf("injected share: %v", err)
			}
		})
	}
	// Without tampering it is still pending and absent.
	if _, err := se.drive(t, "bob").Resolve(ctx, "/shared/alice/team"); !errors.Is(err, client.ErrNotExist) {
		t.Fatalf("pending share: %v", err)
	}
}

// TestShareTamperRollback: after a revoke, the server serves the member
// list from before it, which still names the revoked editor.
func TestShareTamperRollback(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol")
	sharedTeam(t, se, map[string]crypto.Role{"bob": crypto.RoleViewer, "carol": crypto.RoleEditor})
	proxy := servertest.NewTamper(t, se.env.URL)
	var mu sync.Mutex
	var old []byte
	proxy.On(api.PathShares, func(b []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		old = bytes.Clone(b)
		return b
	})
	if _, err := se.via(t, "alice", proxy); err != nil {
		t.Fatal(err)
	}
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "carol", false); err != nil {
		t.Fatal(err)
	}
	proxy.On(api.PathShares, func([]byte) []byte { return old })
	ownerRefuses(t, se, proxy, "rolled back", "")
	// Bob saw the new list too; the old one, served to him, is refused.
	if _, err := se.drive(t, "bob").Resolve(ctx, "/shared/alice/team"); err != nil {
		t.Fatal(err)
	}
	// The owner's old answer holds the old list, as bob would get it.
	var oldList api.ShareList
	if err := json.Unmarshal(old, &oldList); err != nil || len(oldList.Shares) != 1 {
		t.Fatalf("old answer: %v", err)
	}
	proxy.Reset()
	proxy.On(api.PathShared, servertest.EditJSON(func(sl *api.SharedList) {
		for i := range sl.Items {
			o := oldList.Shares[0]
			sl.Items[i].Share.List, sl.Items[i].Share.Signature, sl.Items[i].Share.Version = o.List, o.Signature, o.Version
		}
	}))
	b, err := se.via(t, "bob", proxy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Resolve(ctx, "/shared/alice/team"); !errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("member, old list: %v", err)
	}
}

// TestShareTamperGrant: the server hands a member a grant of a key of its
// own (anyone can seal to a public key), hoping to read what an editor
// writes; or a grant flipped in one bit.
func TestShareTamperGrant(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob")
	sharedTeam(t, se, map[string]crypto.Role{"bob": crypto.RoleEditor})
	own, err := client.New(se.cfgs["bob"], nil).Fingerprint(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	pb := own.Bundle
	fake, err := crypto.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	for name, rewrite := range map[string]func(l *crypto.ShareList, g []byte) []byte{
		"server's own key": func(l *crypto.ShareList, _ []byte) []byte {
			ref := l.GrantRef("bob")
			ref.KeyCheck, err = crypto.ShareKeyCheck(l.Share, l.Volume, l.Node, fake)
			if err != nil {
				t.Error(err)
			}
			g, err := crypto.SealShareGrant(pb.Encryption, ref, fake, "team")
			if err != nil {
				t.Error(err)
			}
			return g
		},
		"flipped bit": func(_ *crypto.ShareList, g []byte) []byte { return servertest.FlipBit(g, 8*len(g)-3) },
	} {
		t.Run(name, func(t *testing.T) {
			proxy := servertest.NewTamper(t, se.env.URL)
			proxy.On(api.PathShared, servertest.EditJSON(func(sl *api.SharedList) {
				for i := range sl.Items {
					l, err := crypto.ParseShareList(sl.Items[i].Share.List)
					if err != nil {
						t.Error(err)
						return
					}
					sl.Items[i].Member.Grant = rewrite(l, sl.Items[i].Member.Grant)
				}
			}))
			b, err := se.via(t, "bob", proxy)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Shared(ctx); !errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), "grant does not open") {
				t.Fatalf("bad grant: %v", err)
			}
		})
	}
}

// ownerRefuses checks how the owner's client, through proxy, treats a
// share of /team whose list does not verify: the drive opens, the share is
// reported with the reason, changing it is refused, and nobody but the
// owner is a writer below it: listing /team fails with wantList if it is
// set (a member's record is there), and succeeds otherwise.
func ownerRefuses(t *testing.T, se *shareEnv, proxy *servertest.Tamper, why, wantList string) {
	t.Helper()
	a, err := se.via(t, "alice", proxy)
	if err != nil {
		t.Fatalf("owner's drive: %v", err)
	}
	shares, err := a.Shares(ctx, "/team")
	if err != nil || len(shares) != 1 || len(shares[0].Problems) != 1 || !strings.Contains(shares[0].Problems[0], why) {
		t.Fatalf("owner's share ls: %+v, %v", shares, err)
	}
	if _, err := a.ShareAdd(ctx, "/team", "bob", crypto.RoleEditor); !errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), why) {
		t.Fatalf("owner changes the share: %v", err)
	}
	e, err := a.Resolve(ctx, "/team")
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.List(ctx, e)
	switch {
	case wantList == "" && err != nil:
		t.Fatalf("owner lists /team: %v", err)
	case wantList != "" && (!errors.Is(err, client.ErrTampered) || !strings.Contains(err.Error(), wantList)):
		t.Fatalf("owner lists /team: %v, want %q", err, wantList)
	}
}
