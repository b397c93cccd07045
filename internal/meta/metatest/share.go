package metatest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// runShares runs the suite's part on shares and on uploads by members
// into someone else's volume.
func runShares(t *testing.T, open func(t *testing.T) meta.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Shares", shareTests},
		{"ShareAccess", accessTests},
		{"MemberUploads", memberUploadTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, open(t))
				})
			}
		})
	}
}

// newShare returns a share of node n at version, owned by d, not stored.
// Its ID depends on name only, so that two calls can name one share.
func (d *drive) newShare(name string, n *meta.Node, version uint64) *meta.Share {
	return &meta.Share{
		ID:        hash("share", d.name, name)[:16],
		VolumeID:  d.vol.ID,
		NodeID:    n.ID,
		OwnerID:   d.owner,
		Version:   version,
		List:      bytesOf(300, byte(version)),
		Signature: bytesOf(64, byte(version+1)),
		CreatedAt: t0,
		UpdatedAt: t0.Add(time.Duration(version) * time.Minute),
	}
}

// withInbox gives sh the inbox keys a share with uploaders needs.
func withInbox(sh *meta.Share) *meta.Share {
	sh.InboxPublic = bytesOf(32, 40)
	sh.SealedInboxPrivate = bytesOf(80, 41)
	return sh
}

// member returns a member entry as PutShare takes it, with a grant: an
// uploader's, which carries no key, is shorter.
func member(userID int64, role int) meta.ShareMember {
	m := meta.ShareMember{UserID: userID, Role: role, CreatedAt: t0.Add(time.Second)}
	m.Grant = bytesOf(90, byte(userID))
	if role == meta.RoleUploader {
		m.Grant = bytesOf(40, byte(userID))
	}
	return m
}

// putShare stores sh with PutShare.
func putShare(t *testing.T, s meta.Store, sh *meta.Share, expect uint64, members ...meta.ShareMember) {
	t.Helper()
	if err := s.PutShare(t.Context(), sh, members, expect); err != nil {
		t.Fatalf("PutShare(version %d, expect %d): %v", sh.Version, expect, err)
	}
}

// stored returns the share as reads return it: with its owner's name.
func stored(sh *meta.Share, ownerName string) *meta.Share {
	w := *sh
	w.OwnerName = ownerName
	return &w
}

// stateOf returns the member entry m of share sh as reads return it, in
// state st with acceptance acc.
func stateOf(sh *meta.Share, m meta.ShareMember, name string, st meta.ShareState, acc []byte) meta.ShareMember {
	m.ShareID, m.UserName, m.State, m.Acceptance = sh.ID, name, st, acc
	return m
}

func checkShare(t *testing.T, got, want *meta.Share) {
	t.Helper()
	checkTime(t, "Share.CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "Share.UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	g, w := *got, *want
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("share differs:\n got %+v\nwant %+v", g, w)
	}
}

func checkMember(t *testing.T, got, want meta.ShareMember) {
	t.Helper()
	checkTime(t, "ShareMember.CreatedAt", got.CreatedAt, want.CreatedAt)
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("member differs:\n got %+v\nwant %+v", got, want)
	}
}

// checkStoredShare reads the share back by ID and by node and compares it
// with want.
func checkStoredShare(t *testing.T, s meta.Store, want *meta.Share) {
	t.Helper()
	got, err := s.Share(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("Share: %v", err)
	}
	checkShare(t, got, want)
	got, err = s.ShareOfNode(t.Context(), want.NodeID)
	if err != nil {
		t.Fatalf("ShareOfNode: %v", err)
	}
	checkShare(t, got, want)
}

// checkMembers checks a share's members, in the order ShareMembers gives.
func checkMembers(t *testing.T, s meta.Store, shareID []byte, want ...meta.ShareMember) {
	t.Helper()
	list, err := s.ShareMembers(t.Context(), shareID)
	if err != nil {
		t.Fatalf("ShareMembers: %v", err)
	}
	if len(list) != len(want) {
		t.Fatalf("share has %d members %+v, want %d", len(list), list, len(want))
	}
	for i := range want {
		checkMember(t, list[i], want[i])
	}
}

// checkNoShare checks that neither the share nor a share on its node
// exists.
func checkNoShare(t *testing.T, s meta.Store, sh *meta.Share) {
	t.Helper()
	_, err := s.Share(t.Context(), sh.ID)
	wantErr(t, "Share", err, meta.ErrNotFound)
	_, err = s.ShareOfNode(t.Context(), sh.NodeID)
	wantErr(t, "ShareOfNode", err, meta.ErrNotFound)
	checkMembers(t, s, sh.ID)
}

// checkSharedWith checks the IDs of the shares userID is a member of, in
// order.
func checkSharedWith(t *testing.T, s meta.Store, userID int64, want ...*meta.Share) {
	t.Helper()
	list, err := s.SharedWith(t.Context(), userID)
	if err != nil {
		t.Fatalf("SharedWith: %v", err)
	}
	var got, w []string
	for _, sw := range list {
		got = append(got, fmt.Sprintf("%x", sw.Share.ID[:4]))
	}
	for _, sh := range want {
		w = append(w, fmt.Sprintf("%x", sh.ID[:4]))
	}
	if !slices.Equal(got, w) {
		t.Errorf("SharedWith(%d) = %q, want %q", userID, got, w)
	}
}

// accept records userID's acceptance of the share.
func accept(t *testing.T, s meta.Store, sh *meta.Share, userID int64) []byte {
	t.Helper()
	sig := bytesOf(64, byte(userID+50))
	if err := s.SetShareState(t.Context(), sh.ID, userID, meta.ShareAccepted, sig); err != nil {
		t.Fatalf("SetShareState(accepted): %v", err)
	}
	return sig
}

// via is the access expected through share sh at depth.
func via(sh *meta.Share, role, depth int) meta.Access {
	return meta.Access{ShareID: sh.ID, ShareNode: sh.NodeID, VolumeID: sh.VolumeID, Role: role, Depth: depth}
}

// checkAccesses checks how userID reaches node, in order.
func checkAccesses(t *testing.T, s meta.Store, userID int64, node []byte, want ...meta.Access) {
	t.Helper()
	got, err := s.Accesses(t.Context(), userID, node)
	if err != nil {
		t.Fatalf("Accesses: %v", err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Accesses(user %d, node %x) =\n %+v\nwant\n %+v", userID, node[:4], got, want)
	}
}

func checkInSubtree(t *testing.T, s meta.Store, node, root []byte, want bool) {
	t.Helper()
	got, err := s.InSubtree(t.Context(), node, root)
	if err != nil {
		t.Fatalf("InSubtree: %v", err)
	}
	if got != want {
		t.Errorf("InSubtree(%x, %x) = %v, want %v", node[:4], root[:4], got, want)
	}
}

var shareTests = []test{
	{"CreateAndRead", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		// Created before bob, so that user IDs and names sort apart.
		carol := newDrive(t, s, "carol")
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		docs := d.folder(d.root, "docs")
		inbox := d.folder(d.root, "inbox")

		sh := d.newShare("docs", docs, 1)
		mc, mb := member(carol.owner, meta.RoleEditor), member(bob.owner, meta.RoleViewer)
		putShare(t, s, sh, 0, mc, mb)
		want := stored(sh, "alice")
		checkStoredShare(t, s, want)
		// By user name, whatever the order given; pending, without
		// acceptance.
		checkMembers(t, s, sh.ID,
			stateOf(sh, mb, "bob", meta.SharePending, nil),
			stateOf(sh, mc, "carol", meta.SharePending, nil))

		// A share with an uploader keeps its inbox keys.
		up := withInbox(d.newShare("inbox", inbox, 7))
		up.List = bytesOf(1<<16, 3)
		up.Version = 1<<63 + 7 // beyond int64
		mu := member(bob.owner, meta.RoleUploader)
		putShare(t, s, up, 0, mu)
		checkStoredShare(t, s, stored(up, "alice"))
		checkMembers(t, s, up.ID, stateOf(up, mu, "bob", meta.SharePending, nil))

		// A share without members is allowed: the owner may revoke all.
		lone := d.folder(d.root, "lone")
		alone := d.newShare("lone", lone, 1)
		putShare(t, s, alone, 0)
		checkStoredShare(t, s, stored(alone, "alice"))
		checkMembers(t, s, alone.ID)

		_, err := s.Share(ctx, hash("no such share")[:16])
		wantErr(t, "Share of a missing ID", err, meta.ErrNotFound)
		_, err = s.ShareOfNode(ctx, d.root.ID)
		wantErr(t, "ShareOfNode of a node not shared", err, meta.ErrNotFound)
		if list, err := s.ShareMembers(ctx, hash("no such share")[:16]); err != nil || len(list) != 0 {
			t.Errorf("ShareMembers of a missing share = %v, %v; want none", list, err)
		}
	}},
	{"EmptyAndNilBytes", func(t *testing.T, s meta.Store) {
		d := newDrive(t, s, "alice")
		bob := newDrive(t, s, "bob")
		var got [2]*meta.Share
		for i, b := range [][]byte{nil, {}} {
			sh := d.newShare(fmt.Sprint(i), d.folder(d.root, fmt.Sprint(i)), 1)
			sh.List, sh.Signature = b, b
			putShare(t, s, sh, 0, member(bob.owner, meta.RoleViewer))
			var err error
			if got[i], err = s.Share(t.Context(), sh.ID); err != nil {
				t.Fatalf("Share: %v", err)
			}
		}
		checkZeroLength(t, got[0].List, got[1].List)
		checkZeroLength(t, got[0].Signature, got[1].Signature)
		checkZeroLength(t, got[0].InboxPublic, got[1].InboxPublic)
		if got[0].InboxPublic != nil || got[0].SealedInboxPrivate != nil {
			t.Errorf("inbox keys of a share without uploaders = %x, %x; want nil", got[0].InboxPublic, got[0].SealedInboxPrivate)
		}
		m, err := s.ShareMembers(t.Context(), got[0].ID)
		if err != nil || len(m) != 1 {
			t.Fatalf("ShareMembers = %v, %v", m, err)
		}
		if m[0].Acceptance != nil {
			t.Errorf("Acceptance of a pending member = %x, want nil", m[0].Acceptance)
		}
	}},
	{"OnePerNode", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		docs := d.folder(d.root, "docs")
		other := d.folder(d.root, "other")
		sh := d.newShare("docs", docs, 1)
		mb := member(bob.owner, meta.RoleViewer)
		putShare(t, s, sh, 0, mb)

		// Another share of the same node: the caller must update the
		// existing one instead.
		again := d.newShare("docs again", docs, 1)
		wantErr(t, "PutShare creating a second share of a node",
			s.PutShare(ctx, again, []meta.ShareMember{member(bob.owner, meta.RoleEditor)}, 0), meta.ErrExists)
		// The same share created again, even with a higher version.
		dup := d.newShare("docs", docs, 2)
		wantErr(t, "PutShare creating a share that exists", s.PutShare(ctx, dup, nil, 0), meta.ErrExists)
		// The same ID on another node.
		moved := d.newShare("docs", other, 1)
		wantErr(t, "PutShare creating a share with a taken ID", s.PutShare(ctx, moved, nil, 0), meta.ErrExists)

		checkStoredShare(t, s, stored(sh, "alice"))
		checkMembers(t, s, sh.ID, stateOf(sh, mb, "bob", meta.SharePending, nil))
		_, err := s.Share(ctx, again.ID)
		wantErr(t, "Share of the refused share", err, meta.ErrNotFound)
		_, err = s.ShareOfNode(ctx, other.ID)
		wantErr(t, "ShareOfNode of the refused node", err, meta.ErrNotFound)
	}},
	{"CreateRefused", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		docs := d.folder(d.root, "docs")
		trashed := d.folder(d.root, "trashed")
		inTrashed := d.folder(trashed, "in")
		if err := s.TrashNode(ctx, trashed.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		bobs := bob.folder(bob.root, "bobs")
		mb := member(bob.owner, meta.RoleViewer)
		ok := []meta.ShareMember{mb}

		for _, c := range []struct {
			name    string
			change  func(sh *meta.Share) []meta.ShareMember
			wantErr error
		}{
			{"a missing node", func(sh *meta.Share) []meta.ShareMember {
				sh.NodeID = []byte("missing")
				return ok
			}, meta.ErrInvalid},
			{"a trashed node", func(sh *meta.Share) []meta.ShareMember {
				sh.NodeID = trashed.ID
				return ok
			}, meta.ErrInvalid},
			{"a node in a trashed folder", func(sh *meta.Share) []meta.ShareMember {
				sh.NodeID = inTrashed.ID
				return ok
			}, meta.ErrInvalid},
			{"another volume's node", func(sh *meta.Share) []meta.ShareMember {
				sh.NodeID = bobs.ID
				return ok
			}, meta.ErrInvalid},
			{"another owner", func(sh *meta.Share) []meta.ShareMember {
				sh.OwnerID = bob.owner
				return nil
			}, meta.ErrInvalid},
			{"version 0", func(sh *meta.Share) []meta.ShareMember {
				sh.Version = 0
				return ok
			}, meta.ErrInvalid},
			{"an empty ID", func(sh *meta.Share) []meta.ShareMember {
				sh.ID = nil
				return ok
			}, meta.ErrInvalid},
			{"the owner as a member", func(*meta.Share) []meta.ShareMember {
				return []meta.ShareMember{mb, member(d.owner, meta.RoleEditor)}
			}, meta.ErrInvalid},
			{"a missing account", func(*meta.Share) []meta.ShareMember {
				return []meta.ShareMember{mb, member(4242, meta.RoleViewer)}
			}, meta.ErrNotFound},
			{"a member twice", func(*meta.Share) []meta.ShareMember {
				return []meta.ShareMember{mb, member(bob.owner, meta.RoleEditor)}
			}, meta.ErrInvalid},
			{"an unknown role", func(*meta.Share) []meta.ShareMember {
				return []meta.ShareMember{member(bob.owner, 4)}
			}, meta.ErrInvalid},
			{"an uploader without inbox keys", func(sh *meta.Share) []meta.ShareMember {
				return []meta.ShareMember{member(bob.owner, meta.RoleUploader)}
			}, meta.ErrInvalid},
			{"inbox keys without uploaders", func(sh *meta.Share) []meta.ShareMember {
				withInbox(sh)
				return ok
			}, meta.ErrInvalid},
		} {
			sh := d.newShare("docs", docs, 1)
			members := c.change(sh)
			wantErr(t, "PutShare with "+c.name, s.PutShare(ctx, sh, members, 0), c.wantErr)
			_, err := s.ShareOfNode(ctx, sh.NodeID)
			wantErr(t, "ShareOfNode after PutShare with "+c.name, err, meta.ErrNotFound)
		}
		checkSharedWith(t, s, bob.owner)
		// The same share is fine once right.
		sh := d.newShare("docs", docs, 1)
		putShare(t, s, sh, 0, mb)
		checkMembers(t, s, sh.ID, stateOf(sh, mb, "bob", meta.SharePending, nil))
	}},
	{"Update", func(t *testing.T, s meta.Store) {
		bob := newDrive(t, s, "bob")
		carol := newDrive(t, s, "carol")
		dave := newDrive(t, s, "dave")
		erin := newDrive(t, s, "erin")
		d := newDrive(t, s, "alice")
		docs := d.folder(d.root, "docs")

		sh := d.newShare("docs", docs, 1)
		mb, mc := member(bob.owner, meta.RoleViewer), member(carol.owner, meta.RoleEditor)
		me := member(erin.owner, meta.RoleViewer)
		putShare(t, s, sh, 0, mb, mc, me)
		bobSig := accept(t, s, sh, bob.owner)
		if err := s.SetShareState(t.Context(), sh.ID, erin.owner, meta.ShareDeclined, nil); err != nil {
			t.Fatalf("SetShareState(declined): %v", err)
		}

		// Version 2: bob becomes an editor keeping his grant, carol is
		// revoked, dave is added (CreatedAt left to the store), erin
		// stays as she was.
		v2 := d.newShare("docs", docs, 2)
		v2.CreatedAt = t0.Add(time.Hour) // not stored: the share keeps its first
		nb := member(bob.owner, meta.RoleEditor)
		nb.Grant = nil
		nb.CreatedAt = t0.Add(time.Hour) // not stored either
		md := member(dave.owner, meta.RoleUploader)
		md.CreatedAt = time.Time{}
		withInbox(v2)
		putShare(t, s, v2, 1, nb, md, me)

		want := stored(v2, "alice")
		want.CreatedAt = sh.CreatedAt
		checkStoredShare(t, s, want)
		wb := stateOf(sh, mb, "bob", meta.ShareAccepted, bobSig)
		wb.Role = meta.RoleEditor
		wd := stateOf(sh, md, "dave", meta.SharePending, nil)
		wd.CreatedAt = v2.UpdatedAt
		we := stateOf(sh, me, "erin", meta.ShareDeclined, nil)
		checkMembers(t, s, sh.ID, wb, wd, we)
		checkSharedWith(t, s, carol.owner)
		checkAccesses(t, s, bob.owner, docs.ID, via(sh, meta.RoleEditor, 0))

		// Version 3: a new grant replaces bob's; dave goes; erin becomes
		// an uploader with the grant that goes with it. The inbox keys
		// stay, for erin.
		v3 := withInbox(d.newShare("docs", docs, 3))
		nb.Grant = bytesOf(90, 77)
		ne := member(erin.owner, meta.RoleUploader)
		ne.Grant = bytesOf(40, 78)
		putShare(t, s, v3, 2, nb, ne)
		want = stored(v3, "alice")
		want.CreatedAt = sh.CreatedAt
		checkStoredShare(t, s, want)
		wb.Grant = nb.Grant
		we.Role, we.Grant = meta.RoleUploader, ne.Grant
		checkMembers(t, s, sh.ID, wb, we)
		checkSharedWith(t, s, dave.owner)

		// Version 4: no uploaders, no inbox keys; erin's role changes
		// and, given none, her grant stays.
		v4 := d.newShare("docs", docs, 4)
		ne.Role, ne.Grant = meta.RoleEditor, nil
		putShare(t, s, v4, 3, nb, ne)
		want = stored(v4, "alice")
		want.CreatedAt = sh.CreatedAt
		checkStoredShare(t, s, want)
		we.Role = meta.RoleEditor
		checkMembers(t, s, sh.ID, wb, we)

		// Versions need not follow one another, only rise.
		v9 := d.newShare("docs", docs, 9)
		putShare(t, s, v9, 4, nb)
		checkMembers(t, s, sh.ID, wb)
	}},
	{"UpdateRefused", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		carol := newDrive(t, s, "carol")
		d := newDrive(t, s, "alice")
		docs := d.folder(d.root, "docs")
		other := d.folder(d.root, "other")
		sh := d.newShare("docs", docs, 3)
		mb := member(bob.owner, meta.RoleViewer)
		putShare(t, s, sh, 0, mb)
		sig := accept(t, s, sh, bob.owner)
		mc := member(carol.owner, meta.RoleEditor)

		for _, c := range []struct {
			name    string
			version uint64
			expect  uint64
			change  func(sh *meta.Share)
			members []meta.ShareMember
			wantErr error
		}{
			{"an old expected version", 4, 2, nil, []meta.ShareMember{mc}, meta.ErrConflict},
			{"a newer expected version", 5, 4, nil, []meta.ShareMember{mc}, meta.ErrConflict},
			{"the same version", 3, 3, nil, []meta.ShareMember{mc}, meta.ErrInvalid},
			{"a lower version", 2, 3, nil, []meta.ShareMember{mc}, meta.ErrInvalid},
			{"another node", 4, 3, func(sh *meta.Share) { sh.NodeID = other.ID }, []meta.ShareMember{mc}, meta.ErrInvalid},
			{"another owner", 4, 3, func(sh *meta.Share) { sh.OwnerID = carol.owner }, nil, meta.ErrInvalid},
			{"a missing account", 4, 3, nil, []meta.ShareMember{mc, member(4242, meta.RoleViewer)}, meta.ErrNotFound},
			{"the owner as a member", 4, 3, nil, []meta.ShareMember{mc, member(d.owner, meta.RoleViewer)}, meta.ErrInvalid},
		} {
			u := d.newShare("docs", docs, c.version)
			if c.change != nil {
				c.change(u)
			}
			wantErr(t, "PutShare with "+c.name, s.PutShare(ctx, u, c.members, c.expect), c.wantErr)
		}
		// A share that does not exist cannot be updated.
		missing := d.newShare("missing", other, 2)
		wantErr(t, "PutShare updating a missing share", s.PutShare(ctx, missing, nil, 1), meta.ErrNotFound)
		_, err := s.ShareOfNode(ctx, other.ID)
		wantErr(t, "ShareOfNode after updating a missing share", err, meta.ErrNotFound)

		// Nothing changed, not even by the refusals that came after
		// writing part of the list.
		checkStoredShare(t, s, stored(sh, "alice"))
		checkMembers(t, s, sh.ID, stateOf(sh, mb, "bob", meta.ShareAccepted, sig))
		checkSharedWith(t, s, carol.owner)
	}},
	{"UpdateTrashedNode", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		carol := newDrive(t, s, "carol")
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		docs := d.folder(dir, "docs")
		sh := d.newShare("docs", docs, 1)
		mb, mc := member(bob.owner, meta.RoleViewer), member(carol.owner, meta.RoleViewer)
		putShare(t, s, sh, 0, mb, mc)
		if err := s.TrashNode(ctx, dir.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		// The owner can still revoke a member of a share in the trash.
		putShare(t, s, d.newShare("docs", docs, 2), 1, mc)
		checkMembers(t, s, sh.ID, stateOf(sh, mc, "carol", meta.SharePending, nil))
		checkSharedWith(t, s, bob.owner)
	}},
	{"AcceptAndDecline", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		carol := newDrive(t, s, "carol")
		d := newDrive(t, s, "alice")
		docs := d.folder(d.root, "docs")
		sh := d.newShare("docs", docs, 1)
		mb := member(bob.owner, meta.RoleEditor)
		putShare(t, s, sh, 0, mb)

		sig := accept(t, s, sh, bob.owner)
		checkMembers(t, s, sh.ID, stateOf(sh, mb, "bob", meta.ShareAccepted, sig))
		// Declining withdraws the consent, whatever comes with it.
		if err := s.SetShareState(ctx, sh.ID, bob.owner, meta.ShareDeclined, []byte("ignored")); err != nil {
			t.Fatalf("SetShareState(declined): %v", err)
		}
		checkMembers(t, s, sh.ID, stateOf(sh, mb, "bob", meta.ShareDeclined, nil))
		// A member may change its mind.
		sig2 := bytesOf(64, 99)
		if err := s.SetShareState(ctx, sh.ID, bob.owner, meta.ShareAccepted, sig2); err != nil {
			t.Fatalf("SetShareState(accepted again): %v", err)
		}
		checkMembers(t, s, sh.ID, stateOf(sh, mb, "bob", meta.ShareAccepted, sig2))

		for _, c := range []struct {
			name    string
			share   []byte
			user    int64
			state   meta.ShareState
			sig     []byte
			wantErr error
		}{
			{"a non-member", sh.ID, carol.owner, meta.ShareAccepted, sig, meta.ErrNotFound},
			{"the owner", sh.ID, d.owner, meta.ShareDeclined, nil, meta.ErrNotFound},
			{"a missing share", hash("missing")[:16], bob.owner, meta.ShareAccepted, sig, meta.ErrNotFound},
			{"an acceptance without a signature", sh.ID, bob.owner, meta.ShareAccepted, nil, meta.ErrInvalid},
			{"back to pending", sh.ID, bob.owner, meta.SharePending, nil, meta.ErrInvalid},
			{"an unknown state", sh.ID, bob.owner, 7, sig, meta.ErrInvalid},
		} {
			wantErr(t, "SetShareState of "+c.name, s.SetShareState(ctx, c.share, c.user, c.state, c.sig), c.wantErr)
		}
		checkMembers(t, s, sh.ID, stateOf(sh, mb, "bob", meta.ShareAccepted, sig2))
		checkSharedWith(t, s, carol.owner)
	}},
	{"SharedWith", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		carol := newDrive(t, s, "carol")
		dave := newDrive(t, s, "dave")
		d := newDrive(t, s, "alice")
		docs := d.folder(d.root, "docs")
		pics := d.folder(d.root, "pics")
		cdir := carol.folder(carol.root, "c")

		// Created in an order other than their creation times.
		late := d.newShare("docs", docs, 1)
		late.CreatedAt = t0.Add(2 * time.Hour)
		putShare(t, s, late, 0, member(bob.owner, meta.RoleViewer))
		early := carol.newShare("c", cdir, 1)
		putShare(t, s, early, 0, member(bob.owner, meta.RoleEditor), member(dave.owner, meta.RoleViewer))
		mid := d.newShare("pics", pics, 1)
		mid.CreatedAt = t0.Add(time.Hour)
		putShare(t, s, mid, 0, member(dave.owner, meta.RoleViewer))
		sig := accept(t, s, early, bob.owner)

		// Every state counts.
		checkSharedWith(t, s, bob.owner, early, late)
		checkSharedWith(t, s, dave.owner, early, mid)
		checkSharedWith(t, s, d.owner) // the owner is no member
		checkSharedWith(t, s, 4242)

		// Each entry is the share and the member's own entry.
		list, err := s.SharedWith(ctx, bob.owner)
		if err != nil || len(list) != 2 {
			t.Fatalf("SharedWith = %v, %v", list, err)
		}
		checkShare(t, &list[0].Share, stored(early, "carol"))
		checkMember(t, list[0].Member, stateOf(early, member(bob.owner, meta.RoleEditor), "bob", meta.ShareAccepted, sig))
		checkShare(t, &list[1].Share, stored(late, "alice"))
		checkMember(t, list[1].Member, stateOf(late, member(bob.owner, meta.RoleViewer), "bob", meta.SharePending, nil))
	}},
	{"SharesOfVolume", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		a := d.folder(d.root, "a")
		b := d.folder(d.root, "b")
		f, _ := d.file(a, "f")
		later := d.newShare("a", a, 1)
		later.CreatedAt = t0.Add(time.Hour)
		putShare(t, s, later, 0, member(bob.owner, meta.RoleViewer))
		first := d.newShare("b", b, 1)
		putShare(t, s, first, 0)
		file := d.newShare("f", f, 1)
		file.CreatedAt = t0.Add(30 * time.Minute)
		putShare(t, s, file, 0, member(bob.owner, meta.RoleEditor))
		bobs := bob.newShare("root", bob.folder(bob.root, "x"), 1)
		putShare(t, s, bobs, 0)

		list, err := s.SharesOfVolume(ctx, d.vol.ID)
		if err != nil {
			t.Fatalf("SharesOfVolume: %v", err)
		}
		want := []*meta.Share{first, file, later}
		if len(list) != len(want) {
			t.Fatalf("SharesOfVolume = %d shares, want %d", len(list), len(want))
		}
		for i := range want {
			checkShare(t, &list[i], stored(want[i], "alice"))
		}
		if list, err := s.SharesOfVolume(ctx, []byte("no such volume")); err != nil || len(list) != 0 {
			t.Errorf("SharesOfVolume of a missing volume = %v, %v; want none", list, err)
		}
	}},
	{"DeleteShare", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		docs := d.folder(d.root, "docs")
		pics := d.folder(d.root, "pics")
		sh := d.newShare("docs", docs, 1)
		putShare(t, s, sh, 0, member(bob.owner, meta.RoleViewer))
		accept(t, s, sh, bob.owner)
		kept := d.newShare("pics", pics, 1)
		mk := member(bob.owner, meta.RoleEditor)
		putShare(t, s, kept, 0, mk)

		if err := s.DeleteShare(ctx, sh.ID); err != nil {
			t.Fatalf("DeleteShare: %v", err)
		}
		checkNoShare(t, s, sh)
		checkSharedWith(t, s, bob.owner, kept)
		checkAccesses(t, s, bob.owner, docs.ID)
		wantErr(t, "DeleteShare again", s.DeleteShare(ctx, sh.ID), meta.ErrNotFound)
		checkStoredShare(t, s, stored(kept, "alice"))
		checkMembers(t, s, kept.ID, stateOf(kept, mk, "bob", meta.SharePending, nil))

		// The node can be shared anew, the members starting over.
		putShare(t, s, sh, 0, member(bob.owner, meta.RoleViewer))
		checkMembers(t, s, sh.ID, stateOf(sh, member(bob.owner, meta.RoleViewer), "bob", meta.SharePending, nil))
		checkAccesses(t, s, bob.owner, docs.ID)
	}},
	{"EmptyTrashDeletesShares", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		sub := d.folder(dir, "sub")
		f, _ := d.file(sub, "f", "b1")
		keptDir := d.folder(d.root, "kept")
		onDir := d.newShare("dir", dir, 1)
		onSub := d.newShare("sub", sub, 1)
		onFile := d.newShare("f", f, 1)
		kept := d.newShare("kept", keptDir, 1)
		for i, sh := range []*meta.Share{onDir, onSub, onFile, kept} {
			sh.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
			putShare(t, s, sh, 0, member(bob.owner, meta.RoleViewer))
			accept(t, s, sh, bob.owner)
		}
		if err := s.TrashNode(ctx, dir.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		// In the trash, the shares remain (the server decides what they
		// allow), and so does access through them.
		checkSharedWith(t, s, bob.owner, onDir, onSub, onFile, kept)
		checkAccesses(t, s, bob.owner, f.ID,
			via(onFile, meta.RoleViewer, 0), via(onSub, meta.RoleViewer, 1), via(onDir, meta.RoleViewer, 2))

		n, err := s.EmptyTrash(ctx, d.vol.ID)
		if err != nil {
			t.Fatalf("EmptyTrash: %v", err)
		}
		if n != 3 {
			t.Errorf("EmptyTrash = %d, want 3 (dir, sub, f)", n)
		}
		d.checkGone(dir, sub, f)
		for _, sh := range []*meta.Share{onDir, onSub, onFile} {
			checkNoShare(t, s, sh)
		}
		checkSharedWith(t, s, bob.owner, kept)
		checkStoredShare(t, s, stored(kept, "alice"))
		checkGarbage(t, s, []string{"b1"}, "b1")
		// The deleted shares' IDs are free again.
		putShare(t, s, d.newShare("dir", d.folder(d.root, "new"), 1), 0)
	}},
	{"CanceledContext", func(t *testing.T, s meta.Store) {
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		docs := d.folder(d.root, "docs")
		f, _ := d.file(docs, "f", "b")
		sh := d.newShare("docs", docs, 1)
		mb := member(bob.owner, meta.RoleViewer)
		putShare(t, s, sh, 0, mb)

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		calls := []struct {
			name string
			call func() error
		}{
			{"PutShare", func() error { return s.PutShare(ctx, d.newShare("docs", docs, 2), nil, 1) }},
			{"Share", func() error { _, err := s.Share(ctx, sh.ID); return err }},
			{"ShareOfNode", func() error { _, err := s.ShareOfNode(ctx, docs.ID); return err }},
			{"SharesOfVolume", func() error { _, err := s.SharesOfVolume(ctx, d.vol.ID); return err }},
			{"ShareMembers", func() error { _, err := s.ShareMembers(ctx, sh.ID); return err }},
			{"SharedWith", func() error { _, err := s.SharedWith(ctx, bob.owner); return err }},
			{"SetShareState", func() error {
				return s.SetShareState(ctx, sh.ID, bob.owner, meta.ShareAccepted, []byte("sig"))
			}},
			{"DeleteShare", func() error { return s.DeleteShare(ctx, sh.ID) }},
			{"Accesses", func() error { _, err := s.Accesses(ctx, bob.owner, f.ID); return err }},
			{"InSubtree", func() error { _, err := s.InSubtree(ctx, f.ID, docs.ID); return err }},
			{"BlockInNode", func() error { _, err := s.BlockInNode(ctx, blockID("b"), f.ID); return err }},
		}
		for _, c := range calls {
			done := make(chan error, 1)
			go func() { done <- c.call() }()
			select {
			case err := <-done:
				wantErr(t, c.name+" with a canceled context", err, context.Canceled)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s with a canceled context still running after 10s", c.name)
			}
		}
		checkStoredShare(t, s, stored(sh, "alice"))
		checkMembers(t, s, sh.ID, stateOf(sh, mb, "bob", meta.SharePending, nil))
	}},
}

var accessTests = []test{
	{"Accesses", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		carol := newDrive(t, s, "carol")
		dave := newDrive(t, s, "dave")
		d := newDrive(t, s, "alice")
		a := d.folder(d.root, "a")
		b := d.folder(a, "b")
		c := d.folder(b, "c")
		f, _ := d.file(c, "f", "b1")
		sibling := d.folder(d.root, "sibling")
		onA := d.newShare("a", a, 1)
		putShare(t, s, onA, 0, member(bob.owner, meta.RoleViewer),
			member(carol.owner, meta.RoleEditor), member(dave.owner, meta.RoleViewer))
		onB := d.newShare("b", b, 1)
		putShare(t, s, onB, 0, member(bob.owner, meta.RoleEditor))
		onF := d.newShare("f", f, 1)
		putShare(t, s, onF, 0, member(carol.owner, meta.RoleViewer))

		// Pending shares give nothing.
		checkAccesses(t, s, bob.owner, f.ID)
		accept(t, s, onA, bob.owner)
		accept(t, s, onB, bob.owner)
		// Nearest first, from the node itself up.
		checkAccesses(t, s, bob.owner, f.ID, via(onB, meta.RoleEditor, 2), via(onA, meta.RoleViewer, 3))
		checkAccesses(t, s, bob.owner, c.ID, via(onB, meta.RoleEditor, 1), via(onA, meta.RoleViewer, 2))
		checkAccesses(t, s, bob.owner, b.ID, via(onB, meta.RoleEditor, 0), via(onA, meta.RoleViewer, 1))
		checkAccesses(t, s, bob.owner, a.ID, via(onA, meta.RoleViewer, 0))
		// Not above the shared node, nor beside it, nor anywhere else.
		checkAccesses(t, s, bob.owner, d.root.ID)
		checkAccesses(t, s, bob.owner, sibling.ID)
		checkAccesses(t, s, bob.owner, carol.root.ID)
		checkAccesses(t, s, bob.owner, []byte("missing"))

		// Carol accepted only the share of the file.
		accept(t, s, onF, carol.owner)
		checkAccesses(t, s, carol.owner, f.ID, via(onF, meta.RoleViewer, 0))
		checkAccesses(t, s, carol.owner, c.ID)
		// Declining gives nothing either.
		if err := s.SetShareState(ctx, onA.ID, carol.owner, meta.ShareDeclined, nil); err != nil {
			t.Fatalf("SetShareState: %v", err)
		}
		checkAccesses(t, s, carol.owner, f.ID, via(onF, meta.RoleViewer, 0))
		accept(t, s, onA, carol.owner)
		checkAccesses(t, s, carol.owner, f.ID, via(onF, meta.RoleViewer, 0), via(onA, meta.RoleEditor, 3))
		accept(t, s, onA, dave.owner)
		if err := s.SetShareState(ctx, onA.ID, dave.owner, meta.ShareDeclined, nil); err != nil {
			t.Fatalf("SetShareState: %v", err)
		}
		checkAccesses(t, s, dave.owner, f.ID)
		// Bob's acceptances are his: the owner and others get nothing.
		checkAccesses(t, s, d.owner, f.ID)
		checkAccesses(t, s, 4242, f.ID)

		// A trashed node is still reached: the server decides what for.
		if err := s.TrashNode(ctx, b.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		checkAccesses(t, s, bob.owner, f.ID, via(onB, meta.RoleEditor, 2), via(onA, meta.RoleViewer, 3))

		// A new role applies at once; revocation ends access at once.
		putShare(t, s, d.newShare("b", b, 2), 1, member(bob.owner, meta.RoleViewer))
		checkAccesses(t, s, bob.owner, f.ID, via(onB, meta.RoleViewer, 2), via(onA, meta.RoleViewer, 3))
		putShare(t, s, d.newShare("a", a, 2), 1, member(carol.owner, meta.RoleEditor))
		checkAccesses(t, s, bob.owner, f.ID, via(onB, meta.RoleViewer, 2))
		checkAccesses(t, s, carol.owner, f.ID, via(onF, meta.RoleViewer, 0), via(onA, meta.RoleEditor, 3))
	}},
	{"DeepChain", func(t *testing.T, s meta.Store) {
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		const depth = 300
		items := make([]meta.NewFile, 0, depth)
		parent := d.root
		for i := range depth {
			it := d.newFolder(parent, fmt.Sprint(i))
			items = append(items, it)
			parent = it.Node
		}
		d.create(items...)
		f, _ := d.file(parent, "leaf")
		top := d.newShare("top", items[0].Node, 1)
		mid := d.newShare("mid", items[150].Node, 1)
		for _, sh := range []*meta.Share{top, mid} {
			putShare(t, s, sh, 0, member(bob.owner, meta.RoleEditor))
			accept(t, s, sh, bob.owner)
		}
		// The file is one below items[depth-1], so depth-k below items[k].
		checkAccesses(t, s, bob.owner, f.ID, via(mid, meta.RoleEditor, depth-150), via(top, meta.RoleEditor, depth))
		checkAccesses(t, s, bob.owner, items[149].Node.ID, via(top, meta.RoleEditor, 149))
		checkInSubtree(t, s, f.ID, items[0].Node.ID, true)
		checkInSubtree(t, s, f.ID, d.root.ID, true)
		checkInSubtree(t, s, items[0].Node.ID, f.ID, false)
	}},
	{"InSubtree", func(t *testing.T, s meta.Store) {
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		a := d.folder(d.root, "a")
		b := d.folder(a, "b")
		c := d.folder(b, "c")
		f, _ := d.file(c, "f")
		sibling := d.folder(d.root, "sibling")
		missing := []byte("missing")
		for _, tc := range []struct {
			node, root []byte
			want       bool
		}{
			{c.ID, a.ID, true}, {f.ID, a.ID, true}, {a.ID, a.ID, true}, {f.ID, f.ID, true},
			{a.ID, d.root.ID, true}, {f.ID, d.root.ID, true},
			{a.ID, c.ID, false}, {d.root.ID, a.ID, false}, {sibling.ID, a.ID, false},
			{a.ID, sibling.ID, false}, {missing, a.ID, false}, {a.ID, missing, false},
			{bob.root.ID, d.root.ID, false}, {f.ID, bob.root.ID, false},
		} {
			checkInSubtree(t, s, tc.node, tc.root, tc.want)
		}
		// A node in the trash is still where it was.
		if err := s.TrashNode(t.Context(), b.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		checkInSubtree(t, s, f.ID, a.ID, true)
		checkInSubtree(t, s, f.ID, b.ID, true)
		// A move changes the answer.
		if err := s.RestoreNode(t.Context(), b.ID); err != nil {
			t.Fatalf("RestoreNode: %v", err)
		}
		u := next(c)
		u.ParentID = sibling.ID
		if err := s.UpdateNode(t.Context(), c.ID, u); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
		checkInSubtree(t, s, f.ID, a.ID, false)
		checkInSubtree(t, s, f.ID, sibling.ID, true)
	}},
	{"BlockInNode", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "dir")
		f, _ := d.file(dir, "f", "b1", "b2")
		f, _ = d.commit(f, 0, "b3")
		g, _ := d.file(dir, "g", "b4")
		d.upload(1000, "loose")
		check := func(block string, node *meta.Node, want bool) {
			t.Helper()
			got, err := s.BlockInNode(ctx, blockID(block), node.ID)
			if err != nil {
				t.Fatalf("BlockInNode: %v", err)
			}
			if got != want {
				t.Errorf("BlockInNode(%s, %x) = %v, want %v", block, node.ID[:4], got, want)
			}
		}
		// Any revision's blocks, not only the head's.
		check("b1", f, true)
		check("b2", f, true)
		check("b3", f, true)
		check("b4", f, false)
		check("b4", g, true)
		check("loose", f, false)
		check("never", f, false)
		// Not a folder's, even of the folder holding the file.
		check("b1", dir, false)
		// Once the revision is gone, its blocks are not the node's.
		f, _ = d.commit(f, 1, "b5")
		check("b1", f, false)
		check("b3", f, false)
		check("b5", f, true)
	}},
}

// memberRevision returns a revision of blocks for the file f of d's
// volume, uploaded by uploader, with the update that makes it the head.
func (d *drive) memberRevision(f *meta.Node, seq uint64, uploader int64, blocks ...[]byte) (*meta.Revision, meta.NodeUpdate) {
	r := d.newRevision(f, seq, blocks...)
	r.UploaderID = uploader
	r.Author = "member@laptop"
	u := next(f)
	u.RevisionID, u.RevisionSeq, u.RevisionDigest = r.ID, r.Seq, hash("digest", string(r.ID))
	return r, u
}

var memberUploadTests = []test{
	{"ChargedToOwner", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "shared")
		f, r1 := d.file(dir, "f", "a1")
		checkUsage(t, s, d.owner, 1000, 0)

		// Bob's upload is his until the revision is committed.
		ids := bob.upload(1000, "x", "y")
		checkUsage(t, s, bob.owner, 2000, 0)
		r, u := d.memberRevision(f, 2, bob.owner, ids...)
		if err := s.CommitRevision(ctx, d.owner, f.ID, u, r, 0); err != nil {
			t.Fatalf("CommitRevision with bob's blocks: %v", err)
		}
		checkUsage(t, s, d.owner, 3000, 0)
		checkUsage(t, s, bob.owner, 0, 0)
		// The blocks are alice's now.
		if missing, err := s.MissingBlocks(ctx, d.owner, ids); err != nil || len(missing) != 0 {
			t.Errorf("MissingBlocks(alice) = %x, %v; want none", missing, err)
		}
		if missing, err := s.MissingBlocks(ctx, bob.owner, ids); err != nil || len(missing) != 2 {
			t.Errorf("MissingBlocks(bob) = %x, %v; want both", missing, err)
		}
		// The uploader is not kept: the blocks changed hands.
		want := *r
		want.UploaderID = 0
		d.checkRevisions(f, r1, &want)
		f = d.node(f.ID)

		// The same with a new file.
		it := d.newFile(dir, "new", bob.upload(500, "z")...)
		it.Revision.UploaderID = bob.owner
		if err := s.CreateNodes(ctx, d.owner, []meta.NewFile{it}); err != nil {
			t.Fatalf("CreateNodes with bob's blocks: %v", err)
		}
		checkUsage(t, s, d.owner, 3500, 0)
		checkUsage(t, s, bob.owner, 0, 0)
		d.checkStored(it.Node)

		// The owner as the uploader is the owner.
		r3, u3 := d.memberRevision(f, 3, d.owner, d.upload(1000, "a2")...)
		if err := s.CommitRevision(ctx, d.owner, f.ID, u3, r3, 0); err != nil {
			t.Fatalf("CommitRevision with UploaderID the owner: %v", err)
		}
		checkUsage(t, s, d.owner, 4500, 0)

		// Bob's other uploads stay his; alice pays for what bob put in
		// her volume until she deletes it.
		bob.upload(100, "own")
		if err := s.TrashNode(ctx, dir.ID, t0); err != nil {
			t.Fatalf("TrashNode: %v", err)
		}
		if _, err := s.EmptyTrash(ctx, d.vol.ID); err != nil {
			t.Fatalf("EmptyTrash: %v", err)
		}
		all := []string{"a1", "a2", "x", "y", "z", "own"}
		checkGarbage(t, s, all, "a1", "a2", "x", "y", "z", "own")
		for _, name := range []string{"a1", "a2", "x", "y", "z"} {
			if ok, err := s.DeleteBlock(ctx, blockID(name)); err != nil || !ok {
				t.Errorf("DeleteBlock(%s) = %v, %v", name, ok, err)
			}
		}
		checkUsage(t, s, d.owner, 0, 0)
		checkUsage(t, s, bob.owner, 100, 0)
	}},
	{"OwnerQuota", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		d := newDrive(t, s, "alice")
		dir := d.folder(d.root, "shared")
		f, r1 := d.file(dir, "f", "a1")
		if err := s.SetQuota(ctx, d.owner, 2500); err != nil {
			t.Fatalf("SetQuota: %v", err)
		}
		ids := bob.upload(1000, "x", "y")
		// Bob's own quota does not matter: the bytes are alice's.
		if err := s.SetQuota(ctx, bob.owner, 1); err != nil {
			t.Fatalf("SetQuota: %v", err)
		}

		r, u := d.memberRevision(f, 2, bob.owner, ids...)
		wantErr(t, "CommitRevision over the owner's quota", s.CommitRevision(ctx, d.owner, f.ID, u, r, 0), meta.ErrQuota)
		// In a batch, one file over the quota refuses them all.
		ok := d.newFile(dir, "ok", ids[0])
		ok.Revision.UploaderID = bob.owner
		over := d.newFile(dir, "over", ids[1])
		over.Revision.UploaderID = bob.owner
		wantErr(t, "CreateNodes over the owner's quota",
			s.CreateNodes(ctx, d.owner, []meta.NewFile{ok, over}), meta.ErrQuota)
		checkUsage(t, s, d.owner, 1000, 2500)
		checkUsage(t, s, bob.owner, 2000, 1)
		d.checkStored(f)
		d.checkRevisions(f, r1)
		d.checkChildren(dir, f)
		checkGarbage(t, s, []string{"a1", "x", "y"}, "x", "y")

		// Up to the quota exactly.
		if err := s.SetQuota(ctx, d.owner, 3000); err != nil {
			t.Fatalf("SetQuota: %v", err)
		}
		if err := s.CommitRevision(ctx, d.owner, f.ID, u, r, 0); err != nil {
			t.Fatalf("CommitRevision up to the owner's quota: %v", err)
		}
		checkUsage(t, s, d.owner, 3000, 3000)
		checkUsage(t, s, bob.owner, 0, 1)
	}},
	{"BlocksNotTheUploaders", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		carol := newDrive(t, s, "carol")
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "a1")
		// A block another revision of f names is the owner's and may be
		// re-used (see RevisionReuse); one of another file may not.
		g, _ := d.file(d.root, "g", "g1")
		d.upload(1000, "a2")
		x := bob.upload(1000, "x")[0]
		bob.file(bob.root, "mine", "used")
		c := carol.upload(1000, "c")[0]

		for _, tc := range []struct {
			name   string
			blocks [][]byte
		}{
			{"the owner's block", [][]byte{x, blockID("a2")}},
			{"the owner's block another file uses", [][]byte{blockID("g1")}},
			{"a third account's block", [][]byte{x, c}},
			{"a block never uploaded", [][]byte{x, blockID("never")}},
			// Else alice would pay for bob's own file, and keep paying
			// after deleting hers.
			{"a block the uploader's own file uses", [][]byte{x, blockID("used")}},
		} {
			r, u := d.memberRevision(f, 2, bob.owner, tc.blocks...)
			wantErr(t, "CommitRevision with "+tc.name,
				s.CommitRevision(ctx, d.owner, f.ID, u, r, 0), meta.ErrMissingBlocks)
			it := d.newFile(d.root, "new", tc.blocks...)
			it.Revision.UploaderID = bob.owner
			wantErr(t, "CreateNodes with "+tc.name,
				s.CreateNodes(ctx, d.owner, []meta.NewFile{it}), meta.ErrMissingBlocks)
		}
		d.checkStored(f)
		d.checkRevisions(f, r1)
		d.checkChildren(d.root, f, g)
		checkUsage(t, s, d.owner, 3000, 0)
		checkUsage(t, s, bob.owner, 2000, 0)
		checkUsage(t, s, carol.owner, 1000, 0)
		if missing, err := s.MissingBlocks(ctx, bob.owner, [][]byte{x, blockID("used")}); err != nil || len(missing) != 0 {
			t.Errorf("MissingBlocks(bob) = %x, %v; want none", missing, err)
		}
	}},
	{"OwnerMustOwnTheVolume", func(t *testing.T, s meta.Store) {
		ctx := t.Context()
		bob := newDrive(t, s, "bob")
		carol := newDrive(t, s, "carol")
		d := newDrive(t, s, "alice")
		f, r1 := d.file(d.root, "f", "a1")
		ids := bob.upload(1000, "x")
		// The bytes would go to carol, who does not own the volume.
		r, u := d.memberRevision(f, 2, bob.owner, ids...)
		wantErr(t, "CommitRevision charging another account than the owner",
			s.CommitRevision(ctx, carol.owner, f.ID, u, r, 0), meta.ErrInvalid)
		it := d.newFile(d.root, "new", ids...)
		it.Revision.UploaderID = bob.owner
		wantErr(t, "CreateNodes charging another account than the owner",
			s.CreateNodes(ctx, carol.owner, []meta.NewFile{it}), meta.ErrInvalid)
		d.checkRevisions(f, r1)
		checkUsage(t, s, d.owner, 1000, 0)
		checkUsage(t, s, bob.owner, 1000, 0)
		checkUsage(t, s, carol.owner, 0, 0)
	}},
}
