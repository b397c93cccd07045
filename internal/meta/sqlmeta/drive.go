package sqlmeta

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// Node kinds, as in meta.Node.Kind.
const (
	kindFolder = 1
	kindFile   = 2
)

// CreateVolume creates the account's volume with its root folder, which
// must be a folder without a parent. v.RootID must be root.ID and
// root.VolumeID must be v.ID (either may be left empty to mean that). The
// root is created active whatever root.State says. It returns
// meta.ErrExists if the account has a volume or an ID is taken, and
// meta.ErrNotFound if the account does not exist.
func (s *Store) CreateVolume(ctx context.Context, v *meta.Volume, root *meta.Node) error {
	err := s.write(ctx, func(tx txn) error {
		switch {
		case len(v.ID) == 0 || len(root.ID) == 0:
			return fmt.Errorf("empty ID: %w", meta.ErrInvalid)
		case len(v.RootID) != 0 && !bytes.Equal(v.RootID, root.ID):
			return fmt.Errorf("volume names root %x, not %x: %w", v.RootID, root.ID, meta.ErrInvalid)
		case len(root.VolumeID) != 0 && !bytes.Equal(root.VolumeID, v.ID):
			return fmt.Errorf("root is in volume %x: %w", root.VolumeID, meta.ErrInvalid)
		case len(root.ParentID) != 0:
			return fmt.Errorf("root has a parent: %w", meta.ErrInvalid)
		case root.Kind != kindFolder:
			return fmt.Errorf("root is of kind %d, not a folder: %w", root.Kind, meta.ErrInvalid)
		case len(root.RevisionID) != 0 || root.RevisionSeq != 0:
			return fmt.Errorf("root names a revision: %w", meta.ErrInvalid)
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO volumes (id, owner_id, root_id, created_at) VALUES (?, ?, ?, ?)`,
			v.ID, v.OwnerID, root.ID, micros(v.CreatedAt))
		if err != nil {
			return s.dbErr(err)
		}
		return insertNode(ctx, tx, root, v.ID, nil, 0)
	})
	if err != nil {
		return fmt.Errorf("create volume %x of user %d: %w", v.ID, v.OwnerID, err)
	}
	return nil
}

// VolumeByOwner returns the account's volume, or meta.ErrNotFound.
func (s *Store) VolumeByOwner(ctx context.Context, ownerID int64) (*meta.Volume, error) {
	var v meta.Volume
	err := s.r.QueryRowContext(ctx,
		`SELECT id, owner_id, root_id, created_at FROM volumes WHERE owner_id = ?`, ownerID,
	).Scan(blobCol{&v.ID}, &v.OwnerID, blobCol{&v.RootID}, timeCol{&v.CreatedAt})
	if err != nil {
		return nil, fmt.Errorf("volume of user %d: %w", ownerID, s.dbErr(err))
	}
	return &v, nil
}

const nodeColumns = `id, volume_id, parent_id, kind, name_hash, sealed_name, sealed_key,
	author, version, revision_id, revision_seq, revision_digest, key_history, signature, state,
	trashed_at, created_at, updated_at`

// nodeRow scans rows of nodeColumns. It is reused from row to row: the
// destinations are built once, and the byte strings come from one arena.
type nodeRow struct {
	n    meta.Node
	a    arena
	dest []any
}

func newNodeRow() *nodeRow {
	r := &nodeRow{}
	n, a := &r.n, &r.a
	r.dest = []any{
		arenaCol{a, &n.ID}, arenaCol{a, &n.VolumeID}, arenaCol{a, &n.ParentID},
		intCol[int]{&n.Kind}, arenaCol{a, &n.NameHash}, arenaCol{a, &n.SealedName},
		arenaCol{a, &n.SealedKey}, &n.Author, intCol[uint64]{&n.Version},
		arenaCol{a, &n.RevisionID}, intCol[uint64]{&n.RevisionSeq}, arenaCol{a, &n.RevisionDigest},
		arenaCol{a, &n.KeyHistory}, arenaCol{a, &n.Signature},
		intCol[meta.NodeState]{&n.State}, timeCol{&n.TrashedAt}, timeCol{&n.CreatedAt},
		timeCol{&n.UpdatedAt},
	}
	return r
}

// scanNodes reads all of rows, which select nodeColumns, and closes it.
func scanNodes(rows *sql.Rows) ([]meta.Node, error) {
	defer rows.Close()
	r := newNodeRow()
	var list []meta.Node
	for rows.Next() {
		if err := rows.Scan(r.dest...); err != nil {
			return nil, err
		}
		list = append(list, r.n)
	}
	return list, rows.Err()
}

// Node returns a node in any state, or meta.ErrNotFound.
func (s *Store) Node(ctx context.Context, id []byte) (*meta.Node, error) {
	r := newNodeRow()
	err := s.r.QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE id = ?`, id).Scan(r.dest...)
	if err != nil {
		return nil, fmt.Errorf("node %x: %w", id, s.dbErr(err))
	}
	return &r.n, nil
}

// childColumns are the columns of nodeColumns that differ between the
// active children of a folder: their parent, volume, state and trash time
// are the same for all. Each column costs a few calls into SQLite per row,
// and listing a large folder is on the hot path.
const childColumns = `id, kind, name_hash, sealed_name, sealed_key, author, version,
	revision_id, revision_seq, revision_digest, key_history, signature, created_at, updated_at`

// Children returns the active children of a folder, in no set order, or
// meta.ErrNotFound if there is no such node. The children of a folder in
// the trash are listed too, so that the trash can be browsed; those of a
// file are none.
func (s *Store) Children(ctx context.Context, parentID []byte) ([]meta.Node, error) {
	list, err := s.children(ctx, parentID)
	if err != nil {
		return nil, fmt.Errorf("children of %x: %w", parentID, err)
	}
	return list, nil
}

func (s *Store) children(ctx context.Context, parentID []byte) ([]meta.Node, error) {
	// First the folder's volume, which its children share, and their
	// number, to allocate the list once. Both come from an index. Were a
	// child added or moved before the second statement, the list would
	// only grow or have room to spare.
	var volumeID []byte
	var n int
	err := s.r.QueryRowContext(ctx, `
		SELECT volume_id, (SELECT count(*) FROM nodes WHERE parent_id = ?1 AND state = 0)
		FROM nodes WHERE id = ?1`, parentID,
	).Scan(blobCol{&volumeID}, &n)
	if err != nil {
		return nil, s.dbErr(err)
	}
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+childColumns+` FROM nodes WHERE parent_id = ? AND state = 0`, parentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var c meta.Node
	var a arena
	dest := []any{
		arenaCol{&a, &c.ID}, intCol[int]{&c.Kind}, arenaCol{&a, &c.NameHash},
		arenaCol{&a, &c.SealedName}, arenaCol{&a, &c.SealedKey}, &c.Author,
		intCol[uint64]{&c.Version}, arenaCol{&a, &c.RevisionID}, intCol[uint64]{&c.RevisionSeq},
		arenaCol{&a, &c.RevisionDigest}, arenaCol{&a, &c.KeyHistory}, arenaCol{&a, &c.Signature},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt},
	}
	c.State = meta.NodeActive
	list := make([]meta.Node, 0, n)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		c.ParentID = a.copy(parentID)
		c.VolumeID = a.copy(volumeID)
		list = append(list, c)
	}
	return list, rows.Err()
}

// nodeExists returns nil if the node exists, else meta.ErrNotFound.
func nodeExists(ctx context.Context, q queryer, id []byte) error {
	var one int
	return q.dbErr(q.QueryRowContext(ctx, `SELECT 1 FROM nodes WHERE id = ?`, id).Scan(&one))
}

// ChildByNameHash returns the active child of the folder with this name
// hash, or meta.ErrNotFound.
func (s *Store) ChildByNameHash(ctx context.Context, parentID, nameHash []byte) (*meta.Node, error) {
	r := newNodeRow()
	err := s.r.QueryRowContext(ctx,
		`SELECT `+nodeColumns+` FROM nodes WHERE parent_id = ? AND name_hash = ? AND state = 0`,
		parentID, blob(nameHash),
	).Scan(r.dest...)
	if err != nil {
		return nil, fmt.Errorf("child of %x by name hash: %w", parentID, s.dbErr(err))
	}
	return &r.n, nil
}

// insertNode inserts n as an active node of volumeID with head revision
// revID (nil for a folder).
func insertNode(ctx context.Context, tx txn, n *meta.Node, volumeID, revID []byte, revSeq uint64) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO nodes (`+nodeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
		n.ID, volumeID, nullBlob(n.ParentID), n.Kind, blob(n.NameHash), blob(n.SealedName),
		blob(n.SealedKey), n.Author, int64(n.Version), nullBlob(revID), int64(revSeq),
		blob(n.RevisionDigest), nullBlob(n.KeyHistory), blob(n.Signature), micros(time.Time{}),
		micros(n.CreatedAt), micros(n.UpdatedAt))
	return tx.dbErr(err)
}

// nodeInfo is what the checks of a write need to know of a node.
type nodeInfo struct {
	volumeID []byte
	parentID []byte
	nameHash []byte
	kind     int
	version  uint64
	state    meta.NodeState
}

// nodeInfoQuery selects a node's nodeInfo by ID; see scanNodeInfo.
const nodeInfoQuery = `SELECT volume_id, parent_id, name_hash, kind, version, state FROM nodes WHERE id = ?`

func getNodeInfo(ctx context.Context, q queryer, id []byte) (*nodeInfo, error) {
	var n nodeInfo
	err := q.QueryRowContext(ctx, nodeInfoQuery, id).Scan(blobCol{&n.volumeID}, blobCol{&n.parentID}, blobCol{&n.nameHash},
		intCol[int]{&n.kind}, intCol[uint64]{&n.version}, intCol[meta.NodeState]{&n.state})
	if err != nil {
		return nil, q.dbErr(err)
	}
	return &n, nil
}

// ancestry walks from the node start up to its volume's root. It reports
// whether start and all its ancestors are active, so that start is not in
// the trash even by way of a folder above it, and whether node is start
// or one of its ancestors. It returns meta.ErrNotFound if start does not
// exist.
func ancestry(ctx context.Context, q queryer, start, node []byte) (active, contains bool, err error) {
	var n, trashed, found, root int64
	// UNION rather than UNION ALL: were there ever a cycle, the walk
	// would stop at the first node seen twice, and find no root.
	err = q.QueryRowContext(ctx, `
		WITH RECURSIVE up (id, parent_id, state) AS (
			SELECT id, parent_id, state FROM nodes WHERE id = ?1
			UNION
			SELECT n.id, n.parent_id, n.state FROM nodes AS n JOIN up ON n.id = up.parent_id
		)
		SELECT count(*), coalesce(max(CASE WHEN state <> 0 THEN 1 ELSE 0 END), 0),
			coalesce(max(CASE WHEN id = ?2 THEN 1 ELSE 0 END), 0),
			coalesce(max(CASE WHEN parent_id IS NULL THEN 1 ELSE 0 END), 0)
		FROM up`,
		start, nullBlob(node),
	).Scan(&n, &trashed, &found, &root)
	switch {
	case err != nil:
		return false, false, err
	case n == 0:
		return false, false, meta.ErrNotFound
	case root == 0:
		return false, false, fmt.Errorf("node %x: no root above it", start)
	}
	return trashed == 0, found != 0, nil
}

// activeFolder checks that id is an active folder, not in the trash by
// way of a folder above it, and that it is neither node nor below node (a
// nil node is none). It returns the folder's volume.
func activeFolder(ctx context.Context, q queryer, id, node []byte) (volumeID []byte, err error) {
	p, err := getNodeInfo(ctx, q, id)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, fmt.Errorf("parent %x does not exist: %w", id, meta.ErrInvalid)
	} else if err != nil {
		return nil, err
	}
	if p.kind != kindFolder {
		return nil, fmt.Errorf("parent %x is not a folder: %w", id, meta.ErrInvalid)
	}
	active, contains, err := ancestry(ctx, q, id, node)
	switch {
	case err != nil:
		return nil, err
	case contains:
		return nil, fmt.Errorf("parent %x is the node itself or below it: %w", id, meta.ErrInvalid)
	case !active:
		return nil, fmt.Errorf("parent %x is in the trash: %w", id, meta.ErrInvalid)
	}
	return p.volumeID, nil
}

// CreateNodes creates folders and files with their first revisions, in
// order, in one transaction. Besides the checks the interface lists:
// every node needs a parent (only CreateVolume makes roots); a folder
// comes without a revision and a file with one (meta.ErrInvalid); a node's
// VolumeID, and a revision's NodeID and VolumeID, must be the ones implied
// or left empty; a file's RevisionID and RevisionSeq must be its
// revision's or left empty; IDs must be free (meta.ErrExists). Nodes are
// created active whatever their State says. Blocks are charged to the
// quota of their uploader when uploaded, so creating files fails with
// meta.ErrQuota only when a revision's UploaderID passes blocks to the
// volume's owner; ownerID must then be the volume's owner indeed
// (meta.ErrInvalid).
func (s *Store) CreateNodes(ctx context.Context, ownerID int64, items []meta.NewFile) error {
	var hint volumeHint
	if len(items) > 0 && items[0].Node != nil {
		hint = nodeVolume(items[0].Node.ParentID)
	}
	err := s.writeEvents(ctx, hint, func(tx txn, log *eventLog) error {
		// Folders known to be fit parents, with their volumes: those
		// checked already and those created by this call.
		folders := make(map[string][]byte)
		for i, it := range items {
			if err := createNode(ctx, tx, log, ownerID, it, folders); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create nodes: %w", err)
	}
	return nil
}

// createNode creates one node of CreateNodes, and records its event.
func createNode(ctx context.Context, tx txn, log *eventLog, ownerID int64, it meta.NewFile, folders map[string][]byte) error {
	n := it.Node
	switch {
	case n == nil:
		return fmt.Errorf("no node: %w", meta.ErrInvalid)
	case len(n.ID) == 0:
		return fmt.Errorf("empty node ID: %w", meta.ErrInvalid)
	case len(n.ParentID) == 0:
		return fmt.Errorf("node %x has no parent: %w", n.ID, meta.ErrInvalid)
	case n.Kind == kindFolder && it.Revision != nil:
		return fmt.Errorf("folder %x with a revision: %w", n.ID, meta.ErrInvalid)
	case n.Kind == kindFolder && (len(n.RevisionID) != 0 || n.RevisionSeq != 0):
		return fmt.Errorf("folder %x names a revision: %w", n.ID, meta.ErrInvalid)
	case n.Kind == kindFile && it.Revision == nil:
		return fmt.Errorf("file %x without a revision: %w", n.ID, meta.ErrInvalid)
	case n.Kind != kindFolder && n.Kind != kindFile:
		return fmt.Errorf("node %x of unknown kind %d: %w", n.ID, n.Kind, meta.ErrInvalid)
	}
	volumeID, ok := folders[string(n.ParentID)]
	if !ok {
		var err error
		if volumeID, err = activeFolder(ctx, tx, n.ParentID, nil); err != nil {
			return err
		}
		folders[string(n.ParentID)] = volumeID
	}
	if len(n.VolumeID) != 0 && !bytes.Equal(n.VolumeID, volumeID) {
		return fmt.Errorf("node %x is for volume %x but its parent is in %x: %w",
			n.ID, n.VolumeID, volumeID, meta.ErrInvalid)
	}
	log.add(volumeID, meta.EventCreate, n.ID, n.ParentID, n.ParentID, n.Version)
	if n.Kind == kindFolder {
		if err := insertNode(ctx, tx, n, volumeID, nil, 0); err != nil {
			return err
		}
		folders[string(n.ID)] = volumeID
		return nil
	}
	rev := it.Revision
	if err := checkNewHead(n.RevisionID, n.RevisionSeq, rev); err != nil {
		return err
	}
	if err := insertNode(ctx, tx, n, volumeID, rev.ID, rev.Seq); err != nil {
		return err
	}
	return insertRevision(ctx, tx, ownerID, n.ID, volumeID, rev)
}

// checkVolumeOwner returns meta.ErrInvalid unless ownerID owns the volume.
func checkVolumeOwner(ctx context.Context, q queryer, volumeID []byte, ownerID int64) error {
	var owner int64
	err := q.QueryRowContext(ctx, `SELECT owner_id FROM volumes WHERE id = ?`, volumeID).Scan(&owner)
	if err != nil {
		return fmt.Errorf("owner of volume %x: %w", volumeID, q.dbErr(err))
	}
	if owner != ownerID {
		return fmt.Errorf("volume %x is user %d's, not user %d's: %w", volumeID, owner, ownerID, meta.ErrInvalid)
	}
	return nil
}

// checkNewHead checks that a node record naming head revision id and seq
// names rev, or leaves them unset.
func checkNewHead(id []byte, seq uint64, rev *meta.Revision) error {
	if len(id) != 0 && !bytes.Equal(id, rev.ID) {
		return fmt.Errorf("record names head %x, not the new revision %x: %w", id, rev.ID, meta.ErrInvalid)
	}
	if seq != 0 && seq != rev.Seq {
		return fmt.Errorf("record names head seq %d, not the new revision's %d: %w", seq, rev.Seq, meta.ErrInvalid)
	}
	return nil
}

// insertRevision inserts rev as a revision of the node, after checking
// that ownerID, the volume's owner, uploaded all its blocks, and records
// its references to them. When rev.UploaderID names another account, the
// blocks must be that account's instead, and pass to ownerID.
func insertRevision(ctx context.Context, tx txn, ownerID int64, nodeID, volumeID []byte, rev *meta.Revision) error {
	switch {
	case len(rev.ID) == 0:
		return fmt.Errorf("empty revision ID: %w", meta.ErrInvalid)
	case len(rev.NodeID) != 0 && !bytes.Equal(rev.NodeID, nodeID):
		return fmt.Errorf("revision %x is of node %x, not %x: %w", rev.ID, rev.NodeID, nodeID, meta.ErrInvalid)
	case len(rev.VolumeID) != 0 && !bytes.Equal(rev.VolumeID, volumeID):
		return fmt.Errorf("revision %x is in volume %x, not %x: %w", rev.ID, rev.VolumeID, volumeID, meta.ErrInvalid)
	}
	ids := distinct(rev.Blocks)
	if rev.UploaderID != 0 && rev.UploaderID != ownerID {
		// The blocks are about to be charged to ownerID: make sure that
		// is the volume's owner, not merely the caller's idea of it.
		if err := checkVolumeOwner(ctx, tx, volumeID, ownerID); err != nil {
			return err
		}
		// Blocks re-used from an earlier revision of the node are the
		// owner's already (docs/crypto.md 12.6).
		reused, err := reusedBlocks(ctx, tx, ownerID, nodeID, rev, ids)
		if err != nil {
			return err
		}
		if err := claimBlocks(ctx, tx, rev.UploaderID, ownerID, unclaimed(ids, reused)); err != nil {
			return fmt.Errorf("revision %x: %w", rev.ID, err)
		}
	} else {
		owned, err := ownedBlocks(ctx, tx, ownerID, ids)
		if err != nil {
			return err
		}
		if missing := len(ids) - len(owned); missing > 0 {
			return fmt.Errorf("revision %x: %d of its %d blocks not uploaded by user %d: %w",
				rev.ID, missing, len(ids), ownerID, meta.ErrMissingBlocks)
		}
	}
	// Every ID is now known to be a stored block, so blockIDLen long.
	list := make([]byte, 0, len(rev.Blocks)*blockIDLen)
	for _, id := range rev.Blocks {
		list = append(list, id...)
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO revisions (id, node_id, volume_id, seq, sealed_content_key, sealed_attrs,
			blocks, size, author, signature, created_at, origins)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rev.ID, nodeID, volumeID, int64(rev.Seq), blob(rev.SealedContentKey), blob(rev.SealedAttrs),
		list, rev.Size, rev.Author, blob(rev.Signature), micros(rev.CreatedAt), encodeOrigins(rev))
	if err != nil {
		return fmt.Errorf("revision %x (seq %d): %w", rev.ID, rev.Seq, tx.dbErr(err))
	}
	// The triggers on block_refs count the references in blocks.refs.
	for chunk := range chunks(ids, maxParams/2) {
		var q strings.Builder
		q.WriteString(`INSERT INTO block_refs (revision_id, block_id) VALUES `)
		args := make([]any, 0, 2*len(chunk))
		for i, id := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?)")
			args = append(args, rev.ID, id)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return tx.dbErr(err)
		}
	}
	return nil
}

// checkVersion checks the optimistic-concurrency condition of an update,
// and that the new record's version is the next one.
func checkVersion(cur *nodeInfo, u *meta.NodeUpdate) error {
	if cur.version != u.ExpectVersion {
		return fmt.Errorf("version is %d, not %d: %w", cur.version, u.ExpectVersion, meta.ErrConflict)
	}
	if u.Version != u.ExpectVersion+1 {
		return fmt.Errorf("new version %d does not follow %d: %w", u.Version, u.ExpectVersion, meta.ErrInvalid)
	}
	return nil
}

// UpdateNode replaces a node's record if its version is still
// u.ExpectVersion (else meta.ErrConflict). Besides the checks the
// interface lists, u.Version must be u.ExpectVersion+1, a volume's root
// cannot move, a file's record must name one of its revisions with that
// revision's seq and a folder's none (all meta.ErrInvalid). A node may be
// renamed or moved in any state; a move needs a target that is active and
// not in the trash by way of a folder above it. UpdatedAt becomes the
// store's current time, as the interface passes none.
func (s *Store) UpdateNode(ctx context.Context, id []byte, u meta.NodeUpdate) error {
	err := s.writeEvents(ctx, nodeVolume(id), func(tx txn, log *eventLog) error {
		cur, err := getNodeInfo(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := checkVersion(cur, &u); err != nil {
			return err
		}
		if err := checkHead(ctx, tx, id, cur.kind, u.RevisionID, u.RevisionSeq); err != nil {
			return err
		}
		log.add(cur.volumeID, meta.EventUpdate, id, u.ParentID, cur.parentID, u.Version)
		return updateNode(ctx, tx, id, cur, &u, time.Now())
	})
	if err != nil {
		return fmt.Errorf("update node %x: %w", id, err)
	}
	return nil
}

// headQuery selects the seq of revision ?1 if it is one of node ?2's.
const headQuery = `SELECT seq FROM revisions WHERE id = ? AND node_id = ?`

// checkHead checks the head revision a node's new record names.
func checkHead(ctx context.Context, q queryer, nodeID []byte, kind int, revID []byte, seq uint64) error {
	return checkHeadRow(kind, revID, seq, func() *sql.Row {
		return q.QueryRowContext(ctx, headQuery, revID, nodeID)
	})
}

// checkHeadRow is checkHead with the query of headQuery left to query,
// which is called only for a file.
func checkHeadRow(kind int, revID []byte, seq uint64, query func() *sql.Row) error {
	if kind == kindFolder {
		if len(revID) != 0 || seq != 0 {
			return fmt.Errorf("a folder has no revisions: %w", meta.ErrInvalid)
		}
		return nil
	}
	if len(revID) == 0 {
		return fmt.Errorf("a file needs a head revision: %w", meta.ErrInvalid)
	}
	var got uint64
	err := query().Scan(intCol[uint64]{&got})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("revision %x is not one of the node's: %w", revID, meta.ErrInvalid)
	case err != nil:
		return err
	case got != seq:
		return fmt.Errorf("revision %x has seq %d, not %d: %w", revID, got, seq, meta.ErrInvalid)
	}
	return nil
}

// updateNode stores the node's new record after checking a move. The
// caller has checked the version and the head revision.
func updateNode(ctx context.Context, tx txn, id []byte, cur *nodeInfo, u *meta.NodeUpdate, now time.Time) error {
	if err := checkMove(ctx, tx, id, cur, u); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, updateNodeQuery, updateNodeArgs(id, u, now)...)
	// A name taken among the new siblings violates the unique index.
	return tx.dbErr(err)
}

// updateNodeQuery writes a node's new record; see updateNodeArgs.
const updateNodeQuery = `
	UPDATE nodes SET parent_id = ?, name_hash = ?, sealed_name = ?, sealed_key = ?,
		author = ?, version = ?, revision_id = ?, revision_seq = ?, revision_digest = ?,
		key_history = ?, signature = ?, updated_at = ?
	WHERE id = ?`

// updateNodeArgs returns the arguments of updateNodeQuery.
func updateNodeArgs(id []byte, u *meta.NodeUpdate, now time.Time) []any {
	return []any{nullBlob(u.ParentID), blob(u.NameHash), blob(u.SealedName), blob(u.SealedKey),
		u.Author, int64(u.Version), nullBlob(u.RevisionID), int64(u.RevisionSeq),
		blob(u.RevisionDigest), nullBlob(u.KeyHistory), blob(u.Signature), micros(now), id}
}

// checkMove checks the node's new parent, if it has one, against the tree
// as it is in tx.
func checkMove(ctx context.Context, tx txn, id []byte, cur *nodeInfo, u *meta.NodeUpdate) error {
	if !bytes.Equal(u.ParentID, cur.parentID) {
		switch {
		case len(cur.parentID) == 0:
			return fmt.Errorf("a volume's root cannot move: %w", meta.ErrInvalid)
		case len(u.ParentID) == 0:
			return fmt.Errorf("only a volume's root has no parent: %w", meta.ErrInvalid)
		}
		volumeID, err := activeFolder(ctx, tx, u.ParentID, id)
		if err != nil {
			return err
		}
		if !bytes.Equal(volumeID, cur.volumeID) {
			return fmt.Errorf("parent %x is in another volume: %w", u.ParentID, meta.ErrInvalid)
		}
	}
	return nil
}

// CommitRevision adds a revision to a file and makes it the head with the
// node's new record, as UpdateNode would store it (moves included), if the
// node's version is still u.ExpectVersion. u's RevisionID and RevisionSeq
// must be rev's or unset. The revision's seq must be new for the node
// (meta.ErrExists). The node's UpdatedAt becomes rev.CreatedAt. With keep
// > 0, the revisions other than the head beyond the newest keep are
// deleted, lowest Seq first.
func (s *Store) CommitRevision(ctx context.Context, ownerID int64, id []byte, u meta.NodeUpdate, rev *meta.Revision, keep int) error {
	err := s.writeEvents(ctx, nodeVolume(id), func(tx txn, log *eventLog) error {
		if rev == nil {
			return fmt.Errorf("no revision: %w", meta.ErrInvalid)
		}
		cur, err := getNodeInfo(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := checkVersion(cur, &u); err != nil {
			return err
		}
		if cur.kind != kindFile {
			return fmt.Errorf("not a file: %w", meta.ErrInvalid)
		}
		if err := checkNewHead(u.RevisionID, u.RevisionSeq, rev); err != nil {
			return err
		}
		u.RevisionID, u.RevisionSeq = rev.ID, rev.Seq
		if err := insertRevision(ctx, tx, ownerID, id, cur.volumeID, rev); err != nil {
			return err
		}
		if err := updateNode(ctx, tx, id, cur, &u, rev.CreatedAt); err != nil {
			return err
		}
		log.add(cur.volumeID, meta.EventRevision, id, u.ParentID, cur.parentID, u.Version)
		if keep <= 0 {
			return nil
		}
		// The head is kept on top of the newest keep-1 others. Deleting
		// a revision deletes its block_refs rows, whose trigger
		// unreferences the blocks.
		// Every other revision no newer than the keep-th newest goes;
		// with fewer than keep, the subquery is NULL and none does.
		_, err = tx.ExecContext(ctx, `
			DELETE FROM revisions WHERE node_id = ?1 AND id <> ?2 AND seq <= (
				SELECT seq FROM revisions WHERE node_id = ?1 AND id <> ?2
				ORDER BY seq DESC LIMIT 1 OFFSET ?3)`,
			id, rev.ID, keep-1)
		return err
	})
	if err != nil {
		return fmt.Errorf("commit revision to node %x: %w", id, err)
	}
	return nil
}

const revisionColumns = `id, node_id, volume_id, seq, sealed_content_key, sealed_attrs,
	blocks, size, author, signature, created_at, origins`

// revisionRow scans rows of revisionColumns, like nodeRow.
type revisionRow struct {
	r      meta.Revision
	blocks []byte
	// origins is the revision's origins column (reuse.go).
	origins []byte
	a       arena
	dest    []any
}

func newRevisionRow() *revisionRow {
	rr := &revisionRow{}
	r, a := &rr.r, &rr.a
	rr.dest = []any{
		arenaCol{a, &r.ID}, arenaCol{a, &r.NodeID}, arenaCol{a, &r.VolumeID},
		intCol[uint64]{&r.Seq}, arenaCol{a, &r.SealedContentKey}, arenaCol{a, &r.SealedAttrs},
		arenaCol{a, &rr.blocks}, intCol[int64]{&r.Size}, &r.Author, arenaCol{a, &r.Signature},
		timeCol{&r.CreatedAt}, arenaCol{a, &rr.origins},
	}
	return rr
}

// revision returns the revision just scanned, its block list split up.
func (rr *revisionRow) revision() meta.Revision {
	r := rr.r
	r.Blocks = nil
	if n := len(rr.blocks) / blockIDLen; n > 0 {
		r.Blocks = make([][]byte, n)
		for i := range r.Blocks {
			r.Blocks[i] = rr.blocks[i*blockIDLen : (i+1)*blockIDLen : (i+1)*blockIDLen]
		}
	}
	decodeOrigins(&r, rr.origins)
	return r
}

// Revisions returns a file's revisions, oldest (lowest Seq) first, or
// meta.ErrNotFound if there is no such node. A folder has none.
func (s *Store) Revisions(ctx context.Context, nodeID []byte) ([]meta.Revision, error) {
	list, err := s.revisions(ctx, nodeID)
	if err == nil && len(list) == 0 {
		err = nodeExists(ctx, s.r, nodeID)
	}
	if err != nil {
		return nil, fmt.Errorf("revisions of %x: %w", nodeID, err)
	}
	return list, nil
}

func (s *Store) revisions(ctx context.Context, nodeID []byte) ([]meta.Revision, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+revisionColumns+` FROM revisions WHERE node_id = ? ORDER BY seq`, nodeID)
	if err != nil {
		return nil, err
	}
	return scanRevisions(rows)
}

// HeadRevisions returns the head revisions of a folder's active children.
func (s *Store) HeadRevisions(ctx context.Context, parentID []byte) ([]meta.Revision, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT r.id, r.node_id, r.volume_id, r.seq, r.sealed_content_key, r.sealed_attrs,
			r.blocks, r.size, r.author, r.signature, r.created_at, r.origins
		FROM nodes n JOIN revisions r ON r.id = n.revision_id
		WHERE n.parent_id = ? AND n.state = 0`, parentID)
	if err != nil {
		return nil, fmt.Errorf("head revisions under %x: %w", parentID, s.dbErr(err))
	}
	list, err := scanRevisions(rows)
	if err != nil {
		return nil, fmt.Errorf("head revisions under %x: %w", parentID, s.dbErr(err))
	}
	return list, nil
}

func scanRevisions(rows *sql.Rows) ([]meta.Revision, error) {
	defer rows.Close()
	rr := newRevisionRow()
	var list []meta.Revision
	for rows.Next() {
		if err := rows.Scan(rr.dest...); err != nil {
			return nil, err
		}
		list = append(list, rr.revision())
	}
	return list, rows.Err()
}

// Revision returns one revision, or meta.ErrNotFound.
func (s *Store) Revision(ctx context.Context, id []byte) (*meta.Revision, error) {
	rr := newRevisionRow()
	err := s.r.QueryRowContext(ctx,
		`SELECT `+revisionColumns+` FROM revisions WHERE id = ?`, id).Scan(rr.dest...)
	if err != nil {
		return nil, fmt.Errorf("revision %x: %w", id, s.dbErr(err))
	}
	r := rr.revision()
	return &r, nil
}

// TrashNode moves an active node, and so its subtree, to the trash. Only
// the node itself is marked; its descendants keep their state and come
// back with it. It returns meta.ErrNotFound if there is no such node and
// meta.ErrInvalid for a volume's root and for a node in the trash already,
// itself or by way of a folder above it. The node's version and UpdatedAt
// do not change: the trash is not part of the signed record.
func (s *Store) TrashNode(ctx context.Context, id []byte, now time.Time) error {
	return s.trashNode(ctx, id, 0, 0, false, now)
}

// TrashNodeIf is TrashNode if the node's version is still expectVersion.
func (s *Store) TrashNodeIf(ctx context.Context, id []byte, expectVersion, unchangedSince uint64, now time.Time) error {
	return s.trashNode(ctx, id, expectVersion, unchangedSince, true, now)
}

// subtreeChangedQuery finds an event after ?3 in volume ?2 that names a
// node of ?1's active subtree as the node or as its parent.
const subtreeChangedQuery = `
	WITH RECURSIVE sub(id) AS (
		SELECT id FROM nodes WHERE id = ?1
		UNION ALL
		SELECT n.id FROM nodes AS n JOIN sub ON n.parent_id = sub.id WHERE n.state = 0
	)
	SELECT 1 FROM events AS e
	WHERE e.volume_id = ?2 AND e.seq > ?3
		AND (e.node_id IN (SELECT id FROM sub) OR e.parent_id IN (SELECT id FROM sub))
	LIMIT 1`

// subtreeChangedSince returns ErrConflict if the subtree of id changed
// after event since of its volume, or if the history kept does not reach
// back that far.
func subtreeChangedSince(ctx context.Context, tx txn, id, volumeID []byte, since uint64) error {
	var head uint64
	if err := tx.QueryRowContext(ctx, `SELECT event_seq FROM volumes WHERE id = ?`, volumeID).Scan(intCol[uint64]{&head}); err != nil {
		return err
	}
	if since > head {
		// Not a point of this history (one restored from a backup?).
		return fmt.Errorf("the history ends at %d, before %d: %w", head, since, meta.ErrConflict)
	}
	var oldest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT min(seq) FROM events WHERE volume_id = ?`, volumeID).Scan(&oldest); err != nil {
		return err
	}
	if oldest.Valid && uint64(oldest.Int64) > since+1 {
		return fmt.Errorf("the history kept starts after %d: %w", since, meta.ErrConflict)
	}
	var one int
	err := tx.QueryRowContext(ctx, subtreeChangedQuery, id, volumeID, int64(since)).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("what is in it changed after %d: %w", since, meta.ErrConflict)
}

func (s *Store) trashNode(ctx context.Context, id []byte, expectVersion, unchangedSince uint64, check bool, now time.Time) error {
	err := s.writeEvents(ctx, nodeVolume(id), func(tx txn, log *eventLog) error {
		cur, err := getNodeInfo(ctx, tx, id)
		if err != nil {
			return err
		}
		if check && cur.version != expectVersion {
			return fmt.Errorf("version is %d, not %d: %w", cur.version, expectVersion, meta.ErrConflict)
		}
		if check && unchangedSince > 0 {
			if err := subtreeChangedSince(ctx, tx, id, cur.volumeID, unchangedSince); err != nil {
				return err
			}
		}
		if len(cur.parentID) == 0 {
			return fmt.Errorf("a volume's root cannot be trashed: %w", meta.ErrInvalid)
		}
		active, _, err := ancestry(ctx, tx, id, nil)
		if err != nil {
			return err
		}
		if !active {
			return fmt.Errorf("already in the trash: %w", meta.ErrInvalid)
		}
		log.add(cur.volumeID, meta.EventTrash, id, cur.parentID, cur.parentID, cur.version)
		_, err = tx.ExecContext(ctx,
			`UPDATE nodes SET state = 1, trashed_at = ? WHERE id = ?`, micros(now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("trash node %x: %w", id, err)
	}
	return nil
}

// RestoreNode brings a trashed node back under its parent. It returns
// meta.ErrNotFound if there is no such node, meta.ErrInvalid if the node
// is not trashed or its parent is in the trash (itself or by way of a
// folder above it), and meta.ErrExists if an active sibling took its
// name meanwhile.
func (s *Store) RestoreNode(ctx context.Context, id []byte) error {
	err := s.writeEvents(ctx, nodeVolume(id), func(tx txn, log *eventLog) error {
		cur, err := getNodeInfo(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.state != meta.NodeTrashed {
			return fmt.Errorf("not in the trash: %w", meta.ErrInvalid)
		}
		active, _, err := ancestry(ctx, tx, cur.parentID, nil)
		if err != nil {
			return err
		}
		if !active {
			return fmt.Errorf("its folder is in the trash: %w", meta.ErrInvalid)
		}
		log.add(cur.volumeID, meta.EventRestore, id, cur.parentID, cur.parentID, cur.version)
		_, err = tx.ExecContext(ctx,
			`UPDATE nodes SET state = 0, trashed_at = ? WHERE id = ?`, micros(time.Time{}), id)
		return s.dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("restore node %x: %w", id, err)
	}
	return nil
}

// Trash returns the volume's trashed nodes, oldest trashed first, leaving
// out those inside a trashed folder: they went to the trash with it, and
// restoring it leaves them trashed, listed here then.
func (s *Store) Trash(ctx context.Context, volumeID []byte) ([]meta.Node, error) {
	// up pairs every trashed node with its ancestors, walking up while
	// they are active; a trashed node with a trashed ancestor is inside a
	// trashed folder.
	rows, err := s.r.QueryContext(ctx, `
		WITH RECURSIVE up (id, ancestor) AS (
			SELECT id, parent_id FROM nodes WHERE volume_id = ?1 AND state = 1
			UNION
			SELECT up.id, n.parent_id FROM up JOIN nodes AS n ON n.id = up.ancestor
			WHERE n.state = 0
		)
		SELECT `+nodeColumns+` FROM nodes
		WHERE volume_id = ?1 AND state = 1 AND id NOT IN (
			SELECT up.id FROM up JOIN nodes AS a ON a.id = up.ancestor WHERE a.state = 1)
		ORDER BY trashed_at, id`,
		volumeID)
	if err != nil {
		return nil, fmt.Errorf("trash of volume %x: %w", volumeID, err)
	}
	list, err := scanNodes(rows)
	if err != nil {
		return nil, fmt.Errorf("trash of volume %x: %w", volumeID, err)
	}
	return list, nil
}

// EmptyTrash deletes the volume's trashed nodes with their subtrees and
// revisions, and returns how many nodes went. Each trashed node gets a
// delete event, those inside a trashed folder too (each had a trash
// event of its own); their descendants do not.
func (s *Store) EmptyTrash(ctx context.Context, volumeID []byte) (int, error) {
	var n int64
	err := s.writeEvents(ctx, volumeHint{id: volumeID}, func(tx txn, log *eventLog) error {
		if err := trashedEvents(ctx, tx, log, volumeID); err != nil {
			return err
		}
		// One statement, so the foreign key from a child to its parent
		// is checked only once the whole subtree is gone. Revisions go
		// by cascade, their block_refs rows with them, and the trigger on
		// those unreferences the blocks.
		res, err := tx.ExecContext(ctx, `
			WITH RECURSIVE doomed (id) AS (
				SELECT id FROM nodes WHERE volume_id = ? AND state = 1
				UNION
				SELECT n.id FROM nodes AS n JOIN doomed AS d ON n.parent_id = d.id
			)
			DELETE FROM nodes WHERE id IN (SELECT id FROM doomed)`,
			volumeID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("empty trash of volume %x: %w", volumeID, err)
	}
	return int(n), nil
}

// trashedEvents records a delete event for each trashed node of the
// volume, oldest trashed first.
func trashedEvents(ctx context.Context, tx txn, log *eventLog, volumeID []byte) error {
	rows, err := tx.QueryContext(ctx,
		`SELECT id, parent_id FROM nodes WHERE volume_id = ? AND state = 1 ORDER BY trashed_at, id`, volumeID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent []byte
		if err := rows.Scan(blobCol{&id}, blobCol{&parent}); err != nil {
			return err
		}
		log.add(volumeID, meta.EventDelete, id, parent, parent, 0)
	}
	return rows.Err()
}
