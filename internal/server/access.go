package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/meta"
)

// Who may do what with a node. The owner of a volume may do anything in
// it. Other accounts reach a node only through a share they accepted on
// the node or one of its ancestors, with the share's role:
//
//	          read  add child  change content  rename/move/trash
//	viewer    yes   no         no              no
//	editor    yes   yes        yes             below the shared node
//	uploader  no    files, in the shared folder only
//
// The shared node itself can be renamed, moved or trashed only by its
// owner: its name and key are sealed under the owner's parent folder,
// which members cannot open anyway. These checks are the server's half of
// the roles; clients enforce the other half by rejecting records signed by
// anyone the owner's signed member list does not make a writer
// (docs/crypto.md, sharing).

// need is what a request wants to do with a node.
type need int

const (
	// needRead: the node, its children, its revisions and their blocks.
	needRead need = iota + 1
	// needAdd: new children in the folder.
	needAdd
	// needContent: a new head revision, or a new record that keeps the
	// node's place, name and key.
	needContent
	// needChange: rename, move, trash or restore the node.
	needChange
)

// nodeAccess is how the caller reaches a node.
type nodeAccess struct {
	node    *meta.Node
	ownerID int64 // the owner of the node's volume
	owner   bool  // the caller is that owner
	via     []meta.Access
}

// uploaderOnly reports whether the caller reaches the node only as an
// uploader of the share on the node itself (the only place an uploader
// may add to).
func (a *nodeAccess) uploaderHere() bool {
	for _, v := range a.via {
		if v.Role == meta.RoleUploader && v.Depth == 0 {
			return true
		}
	}
	return false
}

// allows reports whether the access permits n, without the server's
// role checks when skipRoles is set (tests of the clients' own checks).
func (a *nodeAccess) allows(n need, skipRoles bool) bool {
	if a.owner {
		return true
	}
	if skipRoles {
		return len(a.via) > 0
	}
	for _, v := range a.via {
		switch v.Role {
		case meta.RoleViewer:
			if n == needRead {
				return true
			}
		case meta.RoleEditor:
			if n != needChange || v.Depth > 0 {
				return true
			}
		case meta.RoleUploader:
			if n == needAdd && v.Depth == 0 {
				return true
			}
		}
	}
	return false
}

// forbidden explains a refusal by role.
func (a *nodeAccess) forbidden(n need) error {
	msg := "your role in this share does not allow that"
	best := 0
	for _, v := range a.via {
		best = max(best, v.Role)
	}
	switch {
	case a.uploaderHere() || best == meta.RoleUploader:
		msg = "you are an uploader of this share: you can add files to the shared folder, not list, read or change anything"
	case best == meta.RoleViewer:
		msg = "you are a viewer of this share: you can read, not change anything"
	case best == meta.RoleEditor && n == needChange:
		msg = "only the owner can rename, move or trash the shared item itself"
	}
	return &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: msg}
}

func parseNodeID(raw string) ([]byte, error) {
	id, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(id) != idSize {
		return nil, badRequest("node ID must be %d bytes in unpadded base64url", idSize)
	}
	return id, nil
}

// reach finds how the caller reaches node id. A node the caller cannot
// reach at all answers like one that does not exist.
func (s *Server) reach(ctx context.Context, sess *meta.Session, id []byte) (*nodeAccess, error) {
	n, err := s.store.Node(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errNoSuchNode()
	}
	if err != nil {
		return nil, fmt.Errorf("load node: %w", err)
	}
	v, err := s.store.VolumeByOwner(ctx, sess.UserID)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return nil, fmt.Errorf("load volume: %w", err)
	}
	if err == nil && string(v.ID) == string(n.VolumeID) {
		return &nodeAccess{node: n, ownerID: sess.UserID, owner: true}, nil
	}
	via, err := s.store.Accesses(ctx, sess.UserID, id)
	if err != nil {
		return nil, fmt.Errorf("check shares: %w", err)
	}
	if len(via) == 0 {
		return nil, errNoSuchNode()
	}
	sh, err := s.store.Share(ctx, via[0].ShareID)
	if err != nil {
		return nil, fmt.Errorf("load share: %w", err)
	}
	return &nodeAccess{node: n, ownerID: sh.OwnerID, via: via}, nil
}

// nodeFor loads node rawID for an operation, or answers why not.
func (s *Server) nodeFor(ctx context.Context, sess *meta.Session, rawID string, n need) (*nodeAccess, error) {
	id, err := parseNodeID(rawID)
	if err != nil {
		return nil, err
	}
	return s.nodeForID(ctx, sess, id, n)
}

func (s *Server) nodeForID(ctx context.Context, sess *meta.Session, id []byte, n need) (*nodeAccess, error) {
	a, err := s.reach(ctx, sess, id)
	if err != nil {
		return nil, err
	}
	if !a.allows(n, s.opts.UnsafeSkipRoleChecks) {
		return nil, a.forbidden(n)
	}
	return a, nil
}
