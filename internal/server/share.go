package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/meta"
)

// Shares. The owner's client signs the member list; the server parses it
// to learn the roles it enforces, checks that the request says the same,
// and checks the owner's signature too, so that it never stores a list
// its owner's clients would reject. Clients trust only the signature.

func stateName(s meta.ShareState) string {
	switch s {
	case meta.ShareAccepted:
		return api.StateAccepted
	case meta.ShareDeclined:
		return api.StateDeclined
	}
	return api.StatePending
}

func toAPIShare(sh *meta.Share, members []meta.ShareMember) api.Share {
	out := api.Share{
		ID: sh.ID, Volume: sh.VolumeID, Node: sh.NodeID, Owner: sh.OwnerName, Version: sh.Version,
		List: sh.List, Signature: sh.Signature, InboxPublic: sh.InboxPublic,
		SealedInboxPrivate: sh.SealedInboxPrivate, Members: make([]api.ShareMember, 0, len(members)),
	}
	for _, m := range members {
		out.Members = append(out.Members, toAPIMember(&m))
	}
	return out
}

func toAPIMember(m *meta.ShareMember) api.ShareMember {
	return api.ShareMember{User: m.UserName, Role: m.Role, Grant: m.Grant, State: stateName(m.State), Acceptance: m.Acceptance}
}

func parseShareID(raw string) ([]byte, error) {
	id, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(id) != crypto.IDSize {
		return nil, badRequest("share ID must be %d bytes in unpadded base64url", crypto.IDSize)
	}
	return id, nil
}

// identityOf returns an account's identity key from its stored bundle.
func (s *Server) identityOf(ctx context.Context, name string) (*meta.User, *crypto.PublicBundle, error) {
	u, err := s.store.UserByName(ctx, name)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil, &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: fmt.Sprintf("no user %q", name)}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load user %q: %w", name, err)
	}
	b, err := crypto.OpenBundle(u.PublicBundle, u.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("open the key bundle of %q: %w", name, err)
	}
	return u, b, nil
}

func (s *Server) handlePutShare(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.PutShareRequest
	if err := decodeJSONLimit(w, r, &req, 8<<20); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.putShare(r.Context(), sess, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Empty{})
}

func (s *Server) putShare(ctx context.Context, sess *meta.Session, req *api.PutShareRequest) error {
	ms, members, err := s.checkShare(ctx, sess, req)
	if err != nil {
		return err
	}
	if err := s.store.PutShare(ctx, ms, members, req.ExpectVersion); err != nil {
		if errors.Is(err, meta.ErrExists) {
			return &httpError{status: http.StatusConflict, code: api.CodeConflict, message: "this item is shared already; change that share instead"}
		}
		return driveErr(err, "save share")
	}
	return nil
}

// checkShare checks a new or changed share from its owner and returns it
// as the store keeps it.
func (s *Server) checkShare(ctx context.Context, sess *meta.Session, req *api.PutShareRequest) (*meta.Share, []meta.ShareMember, error) {
	sh := &req.Share
	v, err := s.volumeOf(ctx, sess)
	if err != nil {
		return nil, nil, err
	}
	me, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, nil, fmt.Errorf("load user: %w", err)
	}
	owner, ownerBundle, err := s.identityOf(ctx, me.Name)
	if err != nil {
		return nil, nil, err
	}
	list, err := crypto.ParseShareList(sh.List)
	if err != nil {
		return nil, nil, badRequest("share list: %v", err)
	}
	switch {
	case len(sh.ID) != crypto.IDSize || string(list.Share) != string(sh.ID):
		return nil, nil, badRequest("the share ID must be %d bytes and the one the list names", crypto.IDSize)
	case string(sh.Volume) != string(v.ID) || string(list.Volume) != string(v.ID):
		return nil, nil, &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: "only an item's owner can share it"}
	case string(list.Node) != string(sh.Node):
		return nil, nil, badRequest("the list names another node than the request")
	case list.Owner != owner.Name:
		return nil, nil, &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: "a share's list is signed by its owner"}
	case list.Version != sh.Version || sh.Version == 0:
		return nil, nil, badRequest("the version must be the list's, and at least 1")
	case string(list.InboxPublic) != string(sh.InboxPublic):
		return nil, nil, badRequest("the inbox key must be the list's")
	case (len(sh.InboxPublic) == 0) != (len(sh.SealedInboxPrivate) == 0) || len(sh.SealedInboxPrivate) > 4096:
		return nil, nil, badRequest("an inbox needs its public key and its sealed private key, or neither")
	case len(sh.Members) != len(list.Members):
		return nil, nil, badRequest("the request lists %d members, the signed list %d", len(sh.Members), len(list.Members))
	}
	if err := list.Verify(ownerBundle.Identity, sh.Signature); err != nil {
		return nil, nil, badRequest("the share list's signature does not verify under your key")
	}
	node, err := s.store.Node(ctx, sh.Node)
	if errors.Is(err, meta.ErrNotFound) || (err == nil && string(node.VolumeID) != string(v.ID)) {
		return nil, nil, errNoSuchNode()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load node: %w", err)
	}
	if node.ParentID == nil {
		return nil, nil, badRequest("share a folder or file in your drive, not the whole drive")
	}
	if node.Kind != api.KindFolder && list.InboxPublic != nil {
		return nil, nil, badRequest("only folders can have uploaders")
	}
	var current map[string]bool
	if req.ExpectVersion > 0 {
		old, err := s.store.ShareMembers(ctx, sh.ID)
		if err != nil {
			return nil, nil, driveErr(err, "load share members")
		}
		current = make(map[string]bool, len(old))
		for _, m := range old {
			current[m.UserName] = m.Grant != nil
		}
	}
	members := make([]meta.ShareMember, len(sh.Members))
	for i, m := range sh.Members {
		lm := list.Members[i]
		if m.User != lm.Name || m.Role != int(lm.Role) {
			return nil, nil, badRequest("member %d: the request says %q as %d, the signed list %q as %s", i, m.User, m.Role, lm.Name, lm.Role)
		}
		u, err := s.store.UserByName(ctx, m.User)
		if errors.Is(err, meta.ErrNotFound) {
			return nil, nil, &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: fmt.Sprintf("no user %q", m.User)}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("load user %q: %w", m.User, err)
		}
		switch {
		case m.Grant == nil && !current[m.User]:
			return nil, nil, badRequest("member %q needs a grant", m.User)
		case len(m.Grant) > 4096:
			return nil, nil, badRequest("member %q: the grant is too large", m.User)
		}
		members[i] = meta.ShareMember{ShareID: sh.ID, UserID: u.ID, Role: m.Role, Grant: m.Grant, CreatedAt: s.now()}
	}
	ms := &meta.Share{
		ID: sh.ID, VolumeID: v.ID, NodeID: sh.Node, OwnerID: sess.UserID, Version: sh.Version,
		List: sh.List, Signature: sh.Signature, InboxPublic: nonEmpty(sh.InboxPublic),
		SealedInboxPrivate: nonEmpty(sh.SealedInboxPrivate), CreatedAt: s.now(), UpdatedAt: s.now(),
	}
	return ms, members, nil
}

func (s *Server) handleListShares(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	v, err := s.volumeOf(ctx, sess)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	shares, err := s.store.SharesOfVolume(ctx, v.ID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list shares: %w", err))
		return
	}
	out := api.ShareList{Shares: make([]api.Share, 0, len(shares))}
	for i := range shares {
		ms, err := s.store.ShareMembers(ctx, shares[i].ID)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("list share members: %w", err))
			return
		}
		out.Shares = append(out.Shares, toAPIShare(&shares[i], ms))
	}
	writeJSON(w, http.StatusOK, out)
}

// shareFor loads a share for its owner (all members) or for a member (its
// own entry only). Anyone else gets a 404.
func (s *Server) shareFor(ctx context.Context, sess *meta.Session, rawID string) (*meta.Share, []meta.ShareMember, bool, error) {
	id, err := parseShareID(rawID)
	if err != nil {
		return nil, nil, false, err
	}
	notFound := &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: "no such share"}
	sh, err := s.store.Share(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil, false, notFound
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("load share: %w", err)
	}
	ms, err := s.store.ShareMembers(ctx, id)
	if err != nil {
		return nil, nil, false, fmt.Errorf("load share members: %w", err)
	}
	if sh.OwnerID == sess.UserID {
		return sh, ms, true, nil
	}
	for _, m := range ms {
		if m.UserID == sess.UserID {
			return sh, []meta.ShareMember{m}, false, nil
		}
	}
	return nil, nil, false, notFound
}

func (s *Server) handleGetShare(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	sh, ms, _, err := s.shareFor(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIShare(sh, ms))
}

func (s *Server) handleDeleteShare(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	sh, _, owner, err := s.shareFor(ctx, sess, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !owner {
		s.writeError(w, r, &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: "only the owner can end a share; decline it instead"})
		return
	}
	if err := s.store.DeleteShare(ctx, sh.ID); err != nil {
		s.writeError(w, r, driveErr(err, "delete share"))
		return
	}
	writeJSON(w, http.StatusOK, api.Empty{})
}

func (s *Server) handleShared(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	items, err := s.store.SharedWith(ctx, sess.UserID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list shares: %w", err))
		return
	}
	out := api.SharedList{Items: make([]api.SharedItem, 0, len(items))}
	for i := range items {
		it := &items[i]
		n, err := s.store.Node(ctx, it.Share.NodeID)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("load shared node: %w", err))
			return
		}
		root := toAPINode(n)
		// An uploader gets the record without the head revision (it
		// may not read content; the sealed name is opaque to it).
		if it.Member.Role != meta.RoleUploader {
			if root, err = s.withHead(ctx, n); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		out.Items = append(out.Items, api.SharedItem{
			Share:  toAPIShare(&it.Share, []meta.ShareMember{it.Member}),
			Member: toAPIMember(&it.Member),
			Root:   root,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAcceptShare(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.AcceptShareRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	sh, _, owner, err := s.shareFor(ctx, sess, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if owner {
		s.writeError(w, r, badRequest("you own this share"))
		return
	}
	me, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("load user: %w", err))
		return
	}
	_, b, err := s.identityOf(ctx, me.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	acc := crypto.Acceptance{Share: sh.ID, Volume: sh.VolumeID, Node: sh.NodeID, Owner: sh.OwnerName, Member: me.Name}
	if err := acc.Verify(b.Identity, req.Acceptance); err != nil {
		s.writeError(w, r, badRequest("the acceptance's signature does not verify under your key"))
		return
	}
	if err := s.store.SetShareState(ctx, sh.ID, sess.UserID, meta.ShareAccepted, req.Acceptance); err != nil {
		s.writeError(w, r, driveErr(err, "accept share"))
		return
	}
	writeJSON(w, http.StatusOK, api.Empty{})
}

func (s *Server) handleDeclineShare(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	sh, _, owner, err := s.shareFor(ctx, sess, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if owner {
		s.writeError(w, r, badRequest("you own this share; end it with share rm"))
		return
	}
	if err := s.store.SetShareState(ctx, sh.ID, sess.UserID, meta.ShareDeclined, nil); err != nil {
		s.writeError(w, r, driveErr(err, "decline share"))
		return
	}
	writeJSON(w, http.StatusOK, api.Empty{})
}

// handleRotate replaces the records of a subtree and the member lists of
// the shares in it in one transaction: a key rotation after a revoke. A
// reader sees the old keys everywhere or the new ones everywhere, and an
// interrupted rotation leaves nothing half done.
func (s *Server) handleRotate(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.RotateRequest
	if err := decodeJSONLimit(w, r, &req, 128<<20); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.rotate(r.Context(), sess, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Empty{})
}

func (s *Server) rotate(ctx context.Context, sess *meta.Session, req *api.RotateRequest) error {
	if len(req.Nodes) == 0 || len(req.Nodes) > api.MaxRotateNodes {
		return badRequest("a rotation replaces 1 to %d nodes", api.MaxRotateNodes)
	}
	if len(req.Shares) > api.MaxRotateNodes {
		return badRequest("a rotation replaces at most %d shares", api.MaxRotateNodes)
	}
	v, err := s.volumeOf(ctx, sess)
	if err != nil {
		return err
	}
	name, err := s.userName(ctx, sess)
	if err != nil {
		return err
	}
	nodes := make([]meta.NodeReplace, len(req.Nodes))
	ids := make(map[string]bool, len(req.Nodes))
	for i := range req.Nodes {
		rec := &req.Nodes[i].Node
		if err := checkNode(rec, name); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		if ids[string(rec.ID)] {
			return badRequest("node %d: listed twice", i)
		}
		ids[string(rec.ID)] = true
		cur, err := s.store.Node(ctx, rec.ID)
		if errors.Is(err, meta.ErrNotFound) || (err == nil && string(cur.VolumeID) != string(v.ID)) {
			return fmt.Errorf("node %d: %w", i, errNoSuchNode())
		}
		if err != nil {
			return fmt.Errorf("node %d: load: %w", i, err)
		}
		if string(rec.Volume) != string(v.ID) || rec.Kind != cur.Kind || (cur.ParentID == nil) != (rec.Parent == nil) {
			return badRequest("node %d: a new record keeps the node's volume, kind and place as root or not", i)
		}
		// A rotation must carry every child of every folder it re-keys:
		// a child added since the client looked would stay wrapped under
		// a key that no longer exists. The store checks it in the
		// rotation's own transaction. (A folder in the trash keeps its
		// key; only its own record is re-wrapped.)
		nodes[i] = meta.NodeReplace{ID: rec.ID, Update: toUpdate(rec, req.Nodes[i].ExpectVersion), Complete: req.Nodes[i].Rekeyed}
	}
	shares := make([]meta.ShareReplace, len(req.Shares))
	for i := range req.Shares {
		if req.Shares[i].ExpectVersion == 0 {
			return badRequest("share %d: a rotation changes existing shares only", i)
		}
		ms, members, err := s.checkShare(ctx, sess, &req.Shares[i])
		if err != nil {
			return fmt.Errorf("share %d: %w", i, err)
		}
		shares[i] = meta.ShareReplace{Share: ms, Members: members, ExpectVersion: req.Shares[i].ExpectVersion}
	}
	if err := s.store.ReplaceRecords(ctx, nodes, shares); err != nil {
		return driveErr(err, "rotate keys")
	}
	return nil
}
