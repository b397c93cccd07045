package server

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/blob"
	"github.com/coffer-drive/coffer/internal/meta"
)

// The drive endpoints store records the client sealed and signed; the
// server checks only what it can see: ownership, IDs, sizes, that the tree
// stays a tree, and that blocks hash to their IDs. Clients verify the rest.

const idSize = 16

func errNoSuchNode() *httpError {
	return &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: "no such file or folder"}
}

// driveErr maps store errors of drive operations to answers.
func driveErr(err error, what string) error {
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: what + ": not found"}
	case errors.Is(err, meta.ErrExists):
		return &httpError{status: http.StatusConflict, code: api.CodeConflict, message: what + ": already exists (the name is taken in that folder, or the ID or version is in use)"}
	case errors.Is(err, meta.ErrConflict):
		return &httpError{status: http.StatusConflict, code: api.CodeConflict, message: what + ": it changed meanwhile; read it again"}
	case errors.Is(err, meta.ErrInvalid):
		return badRequest("%s: %v", what, err)
	case errors.Is(err, meta.ErrMissingBlocks):
		return badRequest("%s: %v; upload them first", what, err)
	case errors.Is(err, meta.ErrQuota):
		return &httpError{status: http.StatusInsufficientStorage, code: api.CodeQuota, message: what + ": storage quota exceeded"}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// volumeOf returns the caller's volume, or a clear 404 if it has none yet.
func (s *Server) volumeOf(ctx context.Context, sess *meta.Session) (*meta.Volume, error) {
	v, err := s.store.VolumeByOwner(ctx, sess.UserID)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: "this account has no drive yet"}
	}
	if err != nil {
		return nil, fmt.Errorf("load volume: %w", err)
	}
	return v, nil
}

func toAPINode(n *meta.Node) api.Node {
	return api.Node{
		ID: n.ID, Volume: n.VolumeID, Parent: n.ParentID, Kind: n.Kind, NameHash: n.NameHash,
		SealedName: n.SealedName, SealedKey: n.SealedKey, Author: n.Author, Version: n.Version,
		Revision: n.RevisionID, RevisionSeq: n.RevisionSeq, RevisionDigest: nonEmpty(n.RevisionDigest),
		Signature: n.Signature, Trashed: n.State == meta.NodeTrashed, KeyHistory: nonEmpty(n.KeyHistory),
	}
}

func toAPIRevision(r *meta.Revision) *api.Revision {
	out := &api.Revision{
		ID: r.ID, Node: r.NodeID, Volume: r.VolumeID, Seq: r.Seq, SealedContentKey: r.SealedContentKey,
		SealedAttrs: r.SealedAttrs, Blocks: r.Blocks, Author: r.Author, Signature: r.Signature,
		Size: r.Size, CreatedAt: r.CreatedAt.UTC(), BlockOrigins: r.BlockOrigins,
	}
	for _, o := range r.Origins {
		out.Origins = append(out.Origins, api.Origin{Revision: o.RevisionID, SealedKey: o.SealedKey})
	}
	return out
}

// checkNode validates the shape of a node record from a client. The author
// must be the caller: a client signs as itself.
func checkNode(n *api.Node, author string) error {
	switch {
	case len(n.ID) != idSize || len(n.Volume) != idSize:
		return badRequest("node and volume IDs must be %d bytes", idSize)
	case n.Parent != nil && len(n.Parent) != idSize:
		return badRequest("parent ID must be %d bytes", idSize)
	case n.Kind != api.KindFolder && n.Kind != api.KindFile:
		return badRequest("node kind must be %d (folder) or %d (file)", api.KindFolder, api.KindFile)
	case len(n.NameHash) != 32:
		return badRequest("name hash must be 32 bytes")
	case n.Parent == nil && len(n.SealedName) != 0:
		return badRequest("a root has no name")
	case n.Parent != nil && len(n.SealedName) > 1024:
		return badRequest("sealed name must be 1 to 1024 bytes")
	case n.Parent != nil && len(n.SealedName) == 0 && n.Kind != api.KindFile:
		// Only an uploader's drop, whose name is sealed with its key to
		// the folder's inbox, has no sealed name of its own.
		return badRequest("a folder has a sealed name")
	case len(n.SealedKey) == 0 || len(n.SealedKey) > 4096:
		return badRequest("sealed key must be 1 to 4096 bytes")
	case n.Author != author:
		return &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: fmt.Sprintf("records must be signed by their uploader %q, not %q", author, n.Author)}
	case len(n.Signature) != 64:
		return badRequest("signature must be 64 bytes")
	case n.Kind == api.KindFolder && (n.Revision != nil || n.RevisionSeq != 0 || n.RevisionDigest != nil):
		return badRequest("a folder has no revision")
	case n.RevisionDigest != nil && len(n.RevisionDigest) != 32:
		return badRequest("revision digest must be 32 bytes")
	case len(n.KeyHistory) > 4096:
		return badRequest("key history must be at most 4096 bytes")
	case n.Kind == api.KindFolder && n.KeyHistory != nil:
		return badRequest("a folder has no key history")
	case n.Kind == api.KindFile && (len(n.Revision) != idSize || n.RevisionSeq == 0):
		return badRequest("a file names its head revision")
	}
	return nil
}

func checkRevision(r *api.Revision, n *api.Node) error {
	switch {
	case len(r.ID) != idSize || string(r.Node) != string(n.ID) || string(r.Volume) != string(n.Volume):
		return badRequest("revision IDs do not match its node")
	case string(r.ID) != string(n.Revision) || r.Seq != n.RevisionSeq:
		return badRequest("the node record must name this revision as head")
	case len(r.SealedContentKey) == 0 || len(r.SealedContentKey) > 1024:
		return badRequest("sealed content key must be 1 to 1024 bytes")
	case len(r.SealedAttrs) == 0 || len(r.SealedAttrs) > 1024:
		return badRequest("sealed attributes must be 1 to 1024 bytes")
	case r.Author != n.Author:
		return badRequest("a revision and its node record must have the same author")
	case len(r.Signature) != 64:
		return badRequest("signature must be 64 bytes")
	case len(r.Blocks) > 1<<22:
		return badRequest("too many blocks")
	}
	for _, b := range r.Blocks {
		if len(b) != 32 {
			return badRequest("block IDs must be 32 bytes")
		}
	}
	return checkOrigins(r)
}

// checkOrigins checks the shape of a revision's re-used blocks
// (docs/crypto.md 12.6), which is all the server can check: the origin
// keys are sealed, and the signed record covers the rest. The origin
// revisions need not exist any more (older revisions are deleted); their
// blocks must, as for any block the revision names.
func checkOrigins(r *api.Revision) error {
	k := len(r.Origins)
	switch {
	case k == 0 && len(r.BlockOrigins) != 0:
		return badRequest("block origins without origins")
	case k == 0:
		return nil
	case len(r.BlockOrigins) != len(r.Blocks):
		return badRequest("a revision with origins names one per block")
	case k > len(r.Blocks):
		return badRequest("more origins than blocks")
	}
	for _, o := range r.Origins {
		if len(o.Revision) != idSize || string(o.Revision) == string(r.ID) {
			return badRequest("origin revision IDs must be %d bytes and not the revision's", idSize)
		}
		if len(o.SealedKey) == 0 || len(o.SealedKey) > 1024 {
			return badRequest("sealed origin keys must be 1 to 1024 bytes")
		}
	}
	for _, o := range r.BlockOrigins {
		if uint64(o) > uint64(k) {
			return badRequest("a block names an origin the revision does not list")
		}
	}
	return nil
}

func toMetaNode(n *api.Node) *meta.Node {
	return &meta.Node{
		ID: n.ID, VolumeID: n.Volume, ParentID: n.Parent, Kind: n.Kind, NameHash: n.NameHash,
		SealedName: n.SealedName, SealedKey: n.SealedKey, Author: n.Author, Version: n.Version,
		RevisionID: n.Revision, RevisionSeq: n.RevisionSeq, RevisionDigest: n.RevisionDigest,
		Signature: n.Signature, KeyHistory: nonEmpty(n.KeyHistory),
	}
}

// nonEmpty turns an empty byte string into nil, so it is left out of JSON.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func toMetaRevision(r *api.Revision) *meta.Revision {
	out := &meta.Revision{
		ID: r.ID, NodeID: r.Node, VolumeID: r.Volume, Seq: r.Seq, SealedContentKey: r.SealedContentKey,
		SealedAttrs: r.SealedAttrs, Blocks: r.Blocks, Author: r.Author, Signature: r.Signature,
		BlockOrigins: r.BlockOrigins,
	}
	for _, o := range r.Origins {
		out.Origins = append(out.Origins, meta.RevisionOrigin{RevisionID: o.Revision, SealedKey: o.SealedKey})
	}
	return out
}

func toUpdate(n *api.Node, expect uint64) meta.NodeUpdate {
	return meta.NodeUpdate{
		ParentID: n.Parent, NameHash: n.NameHash, SealedName: n.SealedName, SealedKey: n.SealedKey,
		Author: n.Author, Version: n.Version, RevisionID: n.Revision, RevisionSeq: n.RevisionSeq,
		RevisionDigest: n.RevisionDigest, Signature: n.Signature, ExpectVersion: expect,
		KeyHistory: nonEmpty(n.KeyHistory),
	}
}

func (s *Server) userName(ctx context.Context, sess *meta.Session) (string, error) {
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return "", fmt.Errorf("load user: %w", err)
	}
	return u.Name, nil
}

func (s *Server) handleGetVolume(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	v, err := s.volumeOf(ctx, sess)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	root, err := s.store.Node(ctx, v.RootID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("load root: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, api.VolumeResponse{Volume: v.ID, Root: toAPINode(root)})
}

func (s *Server) handleCreateVolume(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.CreateVolumeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	name, err := s.userName(ctx, sess)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkNode(&req.Root, name); err != nil {
		s.writeError(w, r, err)
		return
	}
	if string(req.Volume) != string(req.Root.Volume) || req.Root.Parent != nil || req.Root.Kind != api.KindFolder {
		s.writeError(w, r, badRequest("the root must be a folder of the new volume with no parent"))
		return
	}
	v := &meta.Volume{ID: req.Volume, OwnerID: sess.UserID, RootID: req.Root.ID, CreatedAt: s.now()}
	root := toMetaNode(&req.Root)
	root.CreatedAt, root.UpdatedAt = s.now(), s.now()
	if err := s.store.CreateVolume(ctx, v, root); err != nil {
		if errors.Is(err, meta.ErrExists) {
			s.writeError(w, r, &httpError{status: http.StatusConflict, code: api.CodeConflict, message: "this account already has a drive"})
			return
		}
		s.writeError(w, r, driveErr(err, "create drive"))
		return
	}
	writeJSON(w, http.StatusCreated, api.Empty{})
}

// withHead fills in the head revision of files.
func (s *Server) withHead(ctx context.Context, n *meta.Node) (api.Node, error) {
	out := toAPINode(n)
	if n.Kind == api.KindFile && n.RevisionID != nil {
		rev, err := s.store.Revision(ctx, n.RevisionID)
		if err != nil {
			return out, fmt.Errorf("load head revision: %w", err)
		}
		out.Head = toAPIRevision(rev)
	}
	return out, nil
}

func (s *Server) handleGetNode(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	a, err := s.nodeFor(r.Context(), sess, r.PathValue("id"), needRead)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.withHead(r.Context(), a.node)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleChildren(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	a, err := s.nodeFor(ctx, sess, r.PathValue("id"), needRead)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.childList(ctx, a.node, r.URL.Query().Get("name_hash"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// childList is the answer of a listing of folder n: its active children,
// files with their heads, or with nameHash (unpadded base64url) set the
// one child with that name hash, or none.
func (s *Server) childList(ctx context.Context, n *meta.Node, nameHash string) (api.NodeList, error) {
	if nameHash != "" {
		hash, err := base64.RawURLEncoding.DecodeString(nameHash)
		if err != nil || len(hash) != 32 {
			return api.NodeList{}, badRequest("name_hash must be 32 bytes in unpadded base64url")
		}
		c, err := s.store.ChildByNameHash(ctx, n.ID, hash)
		if err != nil && !errors.Is(err, meta.ErrNotFound) {
			return api.NodeList{}, fmt.Errorf("look up child: %w", err)
		}
		out := api.NodeList{Nodes: []api.Node{}}
		if err == nil {
			an, err := s.withHead(ctx, c)
			if err != nil {
				return api.NodeList{}, err
			}
			out.Nodes = append(out.Nodes, an)
		}
		return out, nil
	}
	kids, err := s.store.Children(ctx, n.ID)
	if err != nil {
		return api.NodeList{}, fmt.Errorf("list children: %w", err)
	}
	// One query for every head, not one per file.
	heads, err := s.store.HeadRevisions(ctx, n.ID)
	if err != nil {
		return api.NodeList{}, fmt.Errorf("list head revisions: %w", err)
	}
	byID := make(map[string]*meta.Revision, len(heads))
	for i := range heads {
		byID[string(heads[i].ID)] = &heads[i]
	}
	out := api.NodeList{Nodes: make([]api.Node, len(kids))}
	for i := range kids {
		out.Nodes[i] = toAPINode(&kids[i])
		if kids[i].RevisionID != nil {
			h := byID[string(kids[i].RevisionID)]
			if h == nil {
				return api.NodeList{}, fmt.Errorf("head revision of %x is missing", kids[i].ID)
			}
			out.Nodes[i].Head = toAPIRevision(h)
		}
	}
	return out, nil
}

func (s *Server) handleCreateNodes(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.CreateNodesRequest
	if err := decodeJSONLimit(w, r, &req, api.MaxBatchNodes*8192); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Items) == 0 || len(req.Items) > api.MaxBatchNodes {
		s.writeError(w, r, badRequest("a batch creates 1 to %d nodes", api.MaxBatchNodes))
		return
	}
	ctx := r.Context()
	name, err := s.userName(ctx, sess)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	items := make([]meta.NewFile, len(req.Items))
	// A batch writes into one volume: the caller's own, or one it reaches
	// through a share. Parents are existing folders the caller may add
	// to, or folders created earlier in the batch.
	var target *nodeAccess
	parents := make(map[string]*nodeAccess)
	created := make(map[string]bool)
	for i := range req.Items {
		it := &req.Items[i]
		if err := checkNode(&it.Node, name); err != nil {
			s.writeError(w, r, fmt.Errorf("item %d: %w", i, err))
			return
		}
		if it.Node.Parent == nil {
			s.writeError(w, r, badRequest("item %d: nodes go under a folder", i))
			return
		}
		if !created[string(it.Node.Parent)] {
			pa, ok := parents[string(it.Node.Parent)]
			if !ok {
				if pa, err = s.nodeForID(ctx, sess, it.Node.Parent, needAdd); err != nil {
					s.writeError(w, r, fmt.Errorf("item %d: %w", i, err))
					return
				}
				parents[string(it.Node.Parent)] = pa
			}
			if pa.uploaderHere() && !pa.allows(needContent, s.opts.UnsafeSkipRoleChecks) && (it.Node.Kind != api.KindFile || len(it.Node.SealedName) != 0) {
				s.writeError(w, r, &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: fmt.Sprintf("item %d: uploaders add files sealed to the folder's inbox, not folders or readable names", i)})
				return
			}
			if target == nil {
				target = pa
			} else if string(target.node.VolumeID) != string(pa.node.VolumeID) {
				s.writeError(w, r, badRequest("item %d: one batch writes into one drive", i))
				return
			}
		}
		if string(it.Node.Volume) != string(target.node.VolumeID) {
			s.writeError(w, r, badRequest("item %d: the record names another drive than its folder's", i))
			return
		}
		if it.Node.Kind == api.KindFolder {
			created[string(it.Node.ID)] = true
		}
		mn := toMetaNode(&it.Node)
		mn.CreatedAt, mn.UpdatedAt = now, now
		items[i].Node = mn
		if it.Node.Kind == api.KindFile {
			if it.Revision == nil {
				s.writeError(w, r, badRequest("item %d: a file needs its first revision", i))
				return
			}
			if err := checkRevision(it.Revision, &it.Node); err != nil {
				s.writeError(w, r, fmt.Errorf("item %d: %w", i, err))
				return
			}
			mr := toMetaRevision(it.Revision)
			mr.CreatedAt = now
			if !target.owner {
				mr.UploaderID = sess.UserID
			}
			items[i].Revision = mr
		} else if it.Revision != nil {
			s.writeError(w, r, badRequest("item %d: a folder has no revision", i))
			return
		}
	}
	if err := s.store.CreateNodes(ctx, target.ownerID, items); err != nil {
		s.writeError(w, r, driveErr(err, "create"))
		return
	}
	writeJSON(w, http.StatusCreated, api.Empty{})
}

// replacement checks a new record for node rawID from the caller: well
// formed, signed by the caller, same ID, volume and kind, and allowed by
// the caller's access. A record that keeps the node's parent, name and
// key changes only what the node holds (needContent); any other is a
// rename or move (needChange), and a move also needs the right to add to
// the new parent.
func (s *Server) replacement(ctx context.Context, sess *meta.Session, rawID string, rec *api.Node) (*nodeAccess, error) {
	id, err := parseNodeID(rawID)
	if err != nil {
		return nil, err
	}
	a, err := s.reach(ctx, sess, id)
	if err != nil {
		return nil, err
	}
	n := a.node
	name, err := s.userName(ctx, sess)
	if err != nil {
		return nil, err
	}
	if err := checkNode(rec, name); err != nil {
		return nil, err
	}
	if string(rec.ID) != string(n.ID) || string(rec.Volume) != string(n.VolumeID) || rec.Kind != n.Kind {
		return nil, badRequest("a new record keeps the node's ID, volume and kind")
	}
	if (n.ParentID == nil) != (rec.Parent == nil) {
		return nil, badRequest("the root cannot be moved, and nothing can become a root")
	}
	need := needContent
	samePlace := string(rec.Parent) == string(n.ParentID) && string(rec.NameHash) == string(n.NameHash) &&
		string(rec.SealedName) == string(n.SealedName) && string(rec.SealedKey) == string(n.SealedKey)
	if !samePlace {
		need = needChange
	}
	if !a.allows(need, s.opts.UnsafeSkipRoleChecks) {
		return nil, a.forbidden(need)
	}
	if !a.owner && string(rec.Parent) != string(n.ParentID) {
		p, err := s.nodeForID(ctx, sess, rec.Parent, needAdd)
		if err != nil {
			return nil, fmt.Errorf("move into %x: %w", rec.Parent, err)
		}
		if p.uploaderHere() && !p.allows(needContent, s.opts.UnsafeSkipRoleChecks) {
			return nil, p.forbidden(needChange)
		}
	}
	return a, nil
}

func (s *Server) handleUpdateNode(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.UpdateNodeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	a, err := s.replacement(ctx, sess, r.PathValue("id"), &req.Node)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.UpdateNode(ctx, a.node.ID, toUpdate(&req.Node, req.ExpectVersion)); err != nil {
		s.writeError(w, r, driveErr(err, "update"))
		return
	}
	writeJSON(w, http.StatusOK, api.Empty{})
}

func (s *Server) handleCommitRevision(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.CommitRevisionRequest
	if err := decodeJSONLimit(w, r, &req, 16<<20); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	a, err := s.replacement(ctx, sess, r.PathValue("id"), &req.Node)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n := a.node
	if n.Kind != api.KindFile {
		s.writeError(w, r, badRequest("only files have revisions"))
		return
	}
	if err := checkRevision(&req.Revision, &req.Node); err != nil {
		s.writeError(w, r, err)
		return
	}
	rev := toMetaRevision(&req.Revision)
	rev.CreatedAt = s.now()
	if !a.owner {
		// A member's blocks become the owner's: uploads into a share
		// count against the owner's quota.
		rev.UploaderID = sess.UserID
	}
	if err := s.store.CommitRevision(ctx, a.ownerID, n.ID, toUpdate(&req.Node, req.ExpectVersion), rev, s.opts.KeepVersions); err != nil {
		s.writeError(w, r, driveErr(err, "commit revision"))
		return
	}
	writeJSON(w, http.StatusCreated, api.Empty{})
}

func (s *Server) handleRevisions(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	a, err := s.nodeFor(ctx, sess, r.PathValue("id"), needRead)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	revs, err := s.store.Revisions(ctx, a.node.ID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list revisions: %w", err))
		return
	}
	out := api.RevisionList{Revisions: make([]api.Revision, 0, len(revs))}
	for i := range revs {
		out.Revisions = append(out.Revisions, *toAPIRevision(&revs[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleTrashNode(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	// ?expect_version=N trashes the node only if its record is still
	// version N: a syncing device deletes what it saw, not an edit made
	// since. &unchanged_since=C (the events cursor it saw the folder at)
	// also refuses if anything in the subtree changed after C.
	q := r.URL.Query()
	if v := q.Get("expect_version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			s.writeError(w, r, badRequest("expect_version must be a positive integer"))
			return
		}
		var since uint64
		if c := q.Get("unchanged_since"); c != "" {
			if since, err = strconv.ParseUint(c, 10, 64); err != nil || since == 0 {
				s.writeError(w, r, badRequest("unchanged_since must be a positive events cursor"))
				return
			}
		}
		s.nodeActionOn(w, r, sess, "move to trash", func(ctx context.Context, a *nodeAccess) error {
			if since > 0 && !a.owner {
				// The cursor is a point of the owner's history, which a
				// member does not read; and its checks would tell a
				// member how far that history goes.
				return badRequest("unchanged_since is for the drive's owner")
			}
			return s.store.TrashNodeIf(ctx, a.node.ID, n, since, s.now())
		})
		return
	}
	if q.Has("unchanged_since") {
		s.writeError(w, r, badRequest("unchanged_since goes with expect_version"))
		return
	}
	s.nodeAction(w, r, sess, "move to trash", func(ctx context.Context, id []byte) error {
		return s.store.TrashNode(ctx, id, s.now())
	})
}

func (s *Server) handleRestoreNode(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	s.nodeAction(w, r, sess, "restore", s.store.RestoreNode)
}

// nodeAction answers a request that changes the state of node {id} with
// one store operation, which needs the right to rename, move or trash it.
func (s *Server) nodeAction(w http.ResponseWriter, r *http.Request, sess *meta.Session, what string, do func(context.Context, []byte) error) {
	s.nodeActionOn(w, r, sess, what, func(ctx context.Context, a *nodeAccess) error { return do(ctx, a.node.ID) })
}

// nodeActionOn is nodeAction for an action that needs to know how the
// caller reaches the node.
func (s *Server) nodeActionOn(w http.ResponseWriter, r *http.Request, sess *meta.Session, what string, do func(context.Context, *nodeAccess) error) {
	ctx := r.Context()
	a, err := s.nodeFor(ctx, sess, r.PathValue("id"), needChange)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := do(ctx, a); err != nil {
		s.writeError(w, r, driveErr(err, what))
		return
	}
	writeJSON(w, http.StatusOK, api.Empty{})
}

func (s *Server) handleListTrash(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	v, err := s.volumeOf(ctx, sess)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	nodes, err := s.store.Trash(ctx, v.ID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list trash: %w", err))
		return
	}
	out := api.NodeList{Nodes: make([]api.Node, 0, len(nodes))}
	for i := range nodes {
		an, err := s.withHead(ctx, &nodes[i])
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Nodes = append(out.Nodes, an)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleEmptyTrash(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	v, err := s.volumeOf(ctx, sess)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.store.EmptyTrash(ctx, v.ID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("empty trash: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, api.EmptyTrashResponse{Deleted: n})
}

func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	who := sess.UserID
	if raw := r.URL.Query().Get("node"); raw != "" {
		// A member about to add to a share learns whether the owner,
		// who pays for it, has room.
		a, err := s.nodeFor(r.Context(), sess, raw, needAdd)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		who = a.ownerID
	}
	u, err := s.store.Usage(r.Context(), who)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("load usage: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, api.Usage{UsedBytes: u.UsedBytes, QuotaBytes: u.QuotaBytes})
}

func parseBlockID(raw string) (blob.ID, error) {
	id, err := blob.ParseID(raw)
	if err != nil {
		return id, badRequest("block ID must be 64 hex digits")
	}
	return id, nil
}

func (s *Server) handlePutBlock(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	id, err := parseBlockID(r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if r.ContentLength > api.MaxBlockBytes {
		s.writeError(w, r, &httpError{status: http.StatusRequestEntityTooLarge, code: api.CodeTooLarge, message: fmt.Sprintf("a block is at most %d bytes", api.MaxBlockBytes)})
		return
	}
	if err := s.checkRoom(ctx, sess.UserID, r.ContentLength); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.receiveBlock(w, r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.recordBlock(ctx, sess.UserID, id, n); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.Empty{})
}

// receiveBlock stores the request body as block id, durably, if it hashes
// to id and is at most a block's size, and returns its size. The caller
// records it in the store next.
func (s *Server) receiveBlock(w http.ResponseWriter, r *http.Request, id blob.ID) (int64, error) {
	body := &countingReader{r: http.MaxBytesReader(w, r.Body, api.MaxBlockBytes)}
	if err := s.blobs.Put(r.Context(), id, body); err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return 0, &httpError{status: http.StatusRequestEntityTooLarge, code: api.CodeTooLarge, message: fmt.Sprintf("a block is at most %d bytes", api.MaxBlockBytes)}
		case errors.Is(err, blob.ErrCorrupt):
			return 0, badRequest("block %s: its content does not hash to its ID", id)
		default:
			return 0, fmt.Errorf("store block %s: %w", id, err)
		}
	}
	return body.n, nil
}

// checkRoom refuses early, before reading a body, an upload that cannot fit.
func (s *Server) checkRoom(ctx context.Context, userID, size int64) error {
	u, err := s.store.Usage(ctx, userID)
	if err != nil {
		return fmt.Errorf("load usage: %w", err)
	}
	if u.QuotaBytes > 0 && size > 0 && u.UsedBytes+size > u.QuotaBytes {
		return &httpError{status: http.StatusInsufficientStorage, code: api.CodeQuota, message: "storage quota exceeded"}
	}
	return nil
}

// recordBlock counts a stored block against the account. It runs to the
// end even if the client hangs up, and if the block cannot be recorded its
// bytes are removed again, so nothing is stored that nobody is charged for.
func (s *Server) recordBlock(ctx context.Context, userID int64, id blob.ID, size int64) error {
	return s.recordBlocks(ctx, userID, []blob.Block{{ID: id, Data: nil}}, size)
}

// recordBlocks counts a batch of stored blocks in one transaction. If that
// fails, the bytes that no account had before are removed again (never
// another account's). size, if positive, is the size of a single block
// whose Data is not kept.
func (s *Server) recordBlocks(ctx context.Context, userID int64, blocks []blob.Block, size int64) error {
	ctx = context.WithoutCancel(ctx)
	infos := make([]meta.BlockInfo, len(blocks))
	for i, b := range blocks {
		infos[i] = meta.BlockInfo{ID: b.ID[:], Size: int64(len(b.Data))}
		if size > 0 {
			infos[i].Size = size
		}
	}
	return s.settleBlocks(ctx, infos, s.store.AddBlocks(ctx, userID, infos, s.now()))
}

// settleBlocks follows up on recording stored blocks, which failed if
// err is not nil: then the bytes that no account had before are removed
// again (never another account's), and err is turned into an answer.
func (s *Server) settleBlocks(ctx context.Context, infos []meta.BlockInfo, err error) error {
	if err == nil {
		return nil
	}
	ids := make([][]byte, len(infos))
	for i := range infos {
		ids[i] = infos[i].ID
	}
	unknown, uerr := s.store.UnknownBlocks(ctx, ids)
	if uerr != nil {
		s.log.WarnContext(ctx, "find unrecorded blocks", "err", uerr)
	}
	for _, raw := range unknown {
		var id blob.ID
		copy(id[:], raw)
		if derr := s.blobs.Delete(ctx, id); derr != nil {
			s.log.WarnContext(ctx, "remove unrecorded block", "block", id.String(), "err", derr)
		}
	}
	switch {
	case errors.Is(err, meta.ErrQuota):
		return &httpError{status: http.StatusInsufficientStorage, code: api.CodeQuota, message: "storage quota exceeded"}
	case errors.Is(err, meta.ErrExists):
		// With random keys and nonces only a deliberate copy collides.
		return &httpError{status: http.StatusConflict, code: api.CodeConflict, message: "a block with this ID belongs to another account"}
	}
	return fmt.Errorf("record %d block(s): %w", len(infos), err)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// handleBlocksBatch stores many small blocks in one request, so a folder
// of small files does not cost a round trip and an fsync per file. The
// body is a sequence of: 32-byte block ID, 4-byte big-endian length, the
// block's bytes.
func (s *Server) handleBlocksBatch(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/octet-stream" {
		s.writeError(w, r, &httpError{status: http.StatusUnsupportedMediaType, code: api.CodeUnsupported, message: "Content-Type must be application/octet-stream"})
		return
	}
	if err := s.checkRoom(ctx, sess.UserID, r.ContentLength); err != nil {
		s.writeError(w, r, err)
		return
	}
	br := bufio.NewReaderSize(http.MaxBytesReader(w, r.Body, api.MaxBatchBytes), 64<<10)
	var blocks []blob.Block
	for {
		var hdr [36]byte
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			break
		} else if err != nil {
			s.writeError(w, r, badRequest("batch: truncated block header"))
			return
		}
		var b blob.Block
		copy(b.ID[:], hdr[:32])
		n := binary.BigEndian.Uint32(hdr[32:])
		if n > api.MaxBlockBytes {
			s.writeError(w, r, badRequest("batch: block %s is larger than %d bytes", b.ID, api.MaxBlockBytes))
			return
		}
		b.Data = make([]byte, n)
		if _, err := io.ReadFull(br, b.Data); err != nil {
			s.writeError(w, r, badRequest("batch: block %s is truncated", b.ID))
			return
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 {
		s.writeError(w, r, badRequest("batch: no blocks"))
		return
	}
	if err := blob.PutBatch(ctx, s.blobs, blocks); err != nil {
		if errors.Is(err, blob.ErrCorrupt) {
			s.writeError(w, r, badRequest("batch: %v", err))
			return
		}
		s.writeError(w, r, err)
		return
	}
	if err := s.recordBlocks(ctx, sess.UserID, blocks, 0); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.Empty{})
}

// mayReadBlock reports whether the caller may read a block: one it
// uploaded or its revisions reference, or one of a node it reaches through
// a share (via, named by the request, because a block alone does not say
// which node it belongs to).
func (s *Server) mayReadBlock(ctx context.Context, sess *meta.Session, id []byte, via *nodeAccess) (bool, error) {
	ok, err := s.store.BlockOwned(ctx, sess.UserID, id)
	if err != nil || ok || via == nil {
		return ok, err
	}
	return s.store.BlockInNode(ctx, id, via.node.ID)
}

func (s *Server) handleGetBlock(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	id, err := parseBlockID(r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var via *nodeAccess
	if raw := r.URL.Query().Get("node"); raw != "" {
		if via, err = s.nodeFor(ctx, sess, raw, needRead); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	ok, err := s.mayReadBlock(ctx, sess, id[:], via)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("check block %s: %w", id, err))
		return
	}
	if !ok {
		s.writeError(w, r, &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: fmt.Sprintf("no block %s", id)})
		return
	}
	s.sendBlock(w, r, id)
}

// sendBlock answers with the bytes of block id, which the caller may read.
func (s *Server) sendBlock(w http.ResponseWriter, r *http.Request, id blob.ID) {
	ctx := r.Context()
	rc, err := s.blobs.Get(ctx, id)
	if err != nil {
		s.writeError(w, r, s.blockUnreadable(ctx, id, err))
		return
	}
	defer rc.Close()
	if sized, ok := rc.(interface{ Size() int64 }); ok {
		w.Header().Set("Content-Length", fmt.Sprint(sized.Size()))
	} else if size, err := s.blobs.Stat(ctx, id); err == nil {
		w.Header().Set("Content-Length", fmt.Sprint(size))
	}
	setAPIHeaders(w.Header())
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := io.Copy(w, rc); err != nil {
		// Headers are gone; the client sees a short body and its AEAD
		// check fails. The log says why.
		s.log.WarnContext(ctx, "send block", "block", id.String(), "err", err)
	}
}

// blockUnreadable turns a failure to read a recorded block from storage
// into an answer that names the block. Which locations failed, and how,
// is for the operator's log, not for the client.
func (s *Server) blockUnreadable(ctx context.Context, id blob.ID, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.log.ErrorContext(ctx, "block unreadable", "block", id.String(), "err", err)
	if errors.Is(err, blob.ErrNotFound) {
		return &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: fmt.Sprintf("block %s is missing from storage", id)}
	}
	return &httpError{status: http.StatusServiceUnavailable, code: api.CodeInternal, message: fmt.Sprintf("block %s cannot be read: storage holds too few sound copies of it", id)}
}

// handleGetBlocks sends many blocks in one answer, so a folder of small
// files does not cost a request per file. The answer is the batch upload's
// framing: 32-byte ID, 4-byte big-endian length, bytes, for each requested
// block in order. Every block is checked before anything is sent, so an
// error is a clean JSON answer; at most MaxBatchBytes are sent.
func (s *Server) handleGetBlocks(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.BlockIDs
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.IDs) == 0 || len(req.IDs) > api.MaxBatchGet {
		s.writeError(w, r, badRequest("ask for 1 to %d blocks", api.MaxBatchGet))
		return
	}
	ctx := r.Context()
	var via *nodeAccess
	if req.Node != nil {
		var err error
		if via, err = s.nodeForID(ctx, sess, req.Node, needRead); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	ids := make([]blob.ID, len(req.IDs))
	datas := make([][]byte, len(req.IDs))
	var total int64
	for i, raw := range req.IDs {
		if len(raw) != 32 {
			s.writeError(w, r, badRequest("block IDs must be 32 bytes"))
			return
		}
		copy(ids[i][:], raw)
		ok, err := s.mayReadBlock(ctx, sess, raw, via)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("check block %s: %w", ids[i], err))
			return
		}
		if !ok {
			s.writeError(w, r, &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: fmt.Sprintf("no block %s", ids[i])})
			return
		}
		// Read (and check) every block before answering, so that a block
		// storage cannot serve is a clean error naming it, not a cut-short
		// answer. The total is checked as blocks come in, so at most one
		// block more than an answer holds is ever in memory.
		datas[i], err = s.readBlock(ctx, ids[i])
		if err != nil {
			s.writeError(w, r, s.blockUnreadable(ctx, ids[i], err))
			return
		}
		if total += int64(len(datas[i])) + 36; total > api.MaxBatchBytes {
			s.writeError(w, r, badRequest("the blocks asked for exceed %d bytes; ask for fewer", api.MaxBatchBytes))
			return
		}
	}
	setAPIHeaders(w.Header())
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", fmt.Sprint(total))
	for i, id := range ids {
		var hdr [36]byte
		copy(hdr[:32], id[:])
		binary.BigEndian.PutUint32(hdr[32:], uint32(len(datas[i])))
		if _, err := w.Write(hdr[:]); err != nil {
			return
		}
		if _, err := w.Write(datas[i]); err != nil {
			return
		}
	}
}

// readBlock reads a whole block from storage, checked.
func (s *Server) readBlock(ctx context.Context, id blob.ID) ([]byte, error) {
	rc, err := s.blobs.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, api.MaxBlockBytes+1))
	if err == nil && len(data) > api.MaxBlockBytes {
		err = fmt.Errorf("block %s: larger than %d bytes in storage", id, api.MaxBlockBytes)
	}
	return data, err
}

func (s *Server) handleMissingBlocks(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.BlockIDs
	if err := decodeJSONLimit(w, r, &req, 8<<20); err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, id := range req.IDs {
		if len(id) != 32 {
			s.writeError(w, r, badRequest("block IDs must be 32 bytes"))
			return
		}
	}
	missing, err := s.store.MissingBlocks(r.Context(), sess.UserID, req.IDs)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("check blocks: %w", err))
		return
	}
	if missing == nil {
		missing = [][]byte{}
	}
	writeJSON(w, http.StatusOK, api.BlockIDs{IDs: missing})
}
