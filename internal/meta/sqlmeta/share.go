package sqlmeta

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/coffer-drive/coffer/internal/meta"
)

// PutShare creates a share (expectVersion 0) or replaces the share whose
// stored version is still expectVersion, with its whole member list, in
// one transaction. See meta.ShareStore for the rules. The shared node
// gets a share event.
func (s *Store) PutShare(ctx context.Context, sh *meta.Share, members []meta.ShareMember, expectVersion uint64) error {
	err := s.writeEvents(ctx, volumeHint{id: sh.VolumeID}, func(tx txn, log *eventLog) error {
		if err := checkShare(sh, members); err != nil {
			return err
		}
		var err error
		if expectVersion == 0 {
			err = createShare(ctx, tx, sh, members)
		} else {
			err = updateShare(ctx, tx, sh, members, expectVersion)
		}
		if err != nil {
			return err
		}
		return nodeEvent(ctx, tx, log, meta.EventShare, sh.NodeID)
	})
	if err != nil {
		return fmt.Errorf("put share %x: %w", sh.ID, err)
	}
	return nil
}

// checkShare checks what can be checked of a share and its members
// without the database.
func checkShare(sh *meta.Share, members []meta.ShareMember) error {
	switch {
	// The length of IDs is the protocol's business (crypto.IDSize),
	// checked by the server; the store, as for nodes, only needs one.
	case len(sh.ID) == 0:
		return fmt.Errorf("empty ID: %w", meta.ErrInvalid)
	case len(sh.VolumeID) == 0 || len(sh.NodeID) == 0:
		return fmt.Errorf("no volume or node: %w", meta.ErrInvalid)
	}
	uploaders := false
	seen := make(map[int64]bool, len(members))
	for _, m := range members {
		switch {
		case len(m.ShareID) != 0 && !bytes.Equal(m.ShareID, sh.ID):
			return fmt.Errorf("member %d is of share %x: %w", m.UserID, m.ShareID, meta.ErrInvalid)
		case m.UserID == sh.OwnerID:
			return fmt.Errorf("the owner %d cannot be a member: %w", m.UserID, meta.ErrInvalid)
		case seen[m.UserID]:
			return fmt.Errorf("member %d listed twice: %w", m.UserID, meta.ErrInvalid)
		case m.Role != meta.RoleViewer && m.Role != meta.RoleEditor && m.Role != meta.RoleUploader:
			return fmt.Errorf("member %d has unknown role %d: %w", m.UserID, m.Role, meta.ErrInvalid)
		}
		seen[m.UserID] = true
		uploaders = uploaders || m.Role == meta.RoleUploader
	}
	inbox := len(sh.InboxPublic) != 0 || len(sh.SealedInboxPrivate) != 0
	switch {
	case uploaders && (len(sh.InboxPublic) == 0 || len(sh.SealedInboxPrivate) == 0):
		return fmt.Errorf("uploaders but no inbox keys: %w", meta.ErrInvalid)
	case !uploaders && inbox:
		return fmt.Errorf("inbox keys but no uploaders: %w", meta.ErrInvalid)
	}
	return nil
}

// createShare inserts a new share with its members.
func createShare(ctx context.Context, tx txn, sh *meta.Share, members []meta.ShareMember) error {
	if sh.Version == 0 {
		return fmt.Errorf("version 0: a share starts at 1: %w", meta.ErrInvalid)
	}
	n, err := getNodeInfo(ctx, tx, sh.NodeID)
	if errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("node %x does not exist: %w", sh.NodeID, meta.ErrInvalid)
	} else if err != nil {
		return err
	}
	if !bytes.Equal(n.volumeID, sh.VolumeID) {
		return fmt.Errorf("node %x is in volume %x, not %x: %w", sh.NodeID, n.volumeID, sh.VolumeID, meta.ErrInvalid)
	}
	if err := checkVolumeOwner(ctx, tx, sh.VolumeID, sh.OwnerID); err != nil {
		return err
	}
	// Sharing something in the trash would hand out what the owner is
	// about to delete.
	active, _, err := ancestry(ctx, tx, sh.NodeID, nil)
	if err != nil {
		return err
	}
	if !active {
		return fmt.Errorf("node %x is in the trash: %w", sh.NodeID, meta.ErrInvalid)
	}
	// Told apart from the UNIQUE violation for the message, and because
	// the caller's next step depends on it.
	var other []byte
	err = tx.QueryRowContext(ctx, `SELECT id FROM shares WHERE node_id = ?`, sh.NodeID).Scan(&other)
	switch {
	case err == nil:
		return fmt.Errorf("node %x is shared already by share %x: %w", sh.NodeID, other, meta.ErrExists)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO shares (id, volume_id, node_id, owner_id, version, list, signature,
			inbox_public, sealed_inbox_private, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sh.ID, sh.VolumeID, sh.NodeID, sh.OwnerID, int64(sh.Version), blob(sh.List),
		blob(sh.Signature), blob(sh.InboxPublic), blob(sh.SealedInboxPrivate),
		micros(sh.CreatedAt), micros(sh.UpdatedAt))
	if err != nil {
		return tx.dbErr(err) // a taken ID is meta.ErrExists
	}
	return putMembers(ctx, tx, sh, members)
}

// updateShare replaces the share's signed list and members if its
// version is still expectVersion.
func updateShare(ctx context.Context, tx txn, sh *meta.Share, members []meta.ShareMember, expectVersion uint64) error {
	var cur struct {
		volumeID, nodeID []byte
		ownerID          int64
		version          uint64
	}
	err := tx.QueryRowContext(ctx,
		`SELECT volume_id, node_id, owner_id, version FROM shares WHERE id = ?`, sh.ID,
	).Scan(blobCol{&cur.volumeID}, blobCol{&cur.nodeID}, &cur.ownerID, intCol[uint64]{&cur.version})
	if err != nil {
		return tx.dbErr(err)
	}
	switch {
	case cur.version != expectVersion:
		return fmt.Errorf("version is %d, not %d: %w", cur.version, expectVersion, meta.ErrConflict)
	case sh.Version <= cur.version:
		return fmt.Errorf("new version %d is not above %d: %w", sh.Version, cur.version, meta.ErrInvalid)
	case !bytes.Equal(sh.VolumeID, cur.volumeID) || !bytes.Equal(sh.NodeID, cur.nodeID):
		return fmt.Errorf("a share cannot move to another node: %w", meta.ErrInvalid)
	case sh.OwnerID != cur.ownerID:
		return fmt.Errorf("the share is user %d's, not %d's: %w", cur.ownerID, sh.OwnerID, meta.ErrInvalid)
	}
	// The node may be in the trash by now: the owner must still be able
	// to revoke members, so its state is not checked.
	_, err = tx.ExecContext(ctx, `
		UPDATE shares SET version = ?, list = ?, signature = ?, inbox_public = ?,
			sealed_inbox_private = ?, updated_at = ?
		WHERE id = ?`,
		int64(sh.Version), blob(sh.List), blob(sh.Signature), blob(sh.InboxPublic),
		blob(sh.SealedInboxPrivate), micros(sh.UpdatedAt), sh.ID)
	if err != nil {
		return err
	}
	return putMembers(ctx, tx, sh, members)
}

// putMembers makes the share's members those of the list: it deletes
// those left out, updates those kept and inserts the new ones.
func putMembers(ctx context.Context, tx txn, sh *meta.Share, members []meta.ShareMember) error {
	// The current members. A share has at most a few thousand (the
	// API's limit); reading them all is one query.
	rows, err := tx.QueryContext(ctx, `SELECT user_id FROM share_members WHERE share_id = ?`, sh.ID)
	if err != nil {
		return err
	}
	current := make(map[int64]bool)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		current[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	kept := make(map[int64]bool, len(members))
	for _, m := range members {
		kept[m.UserID] = true
		if current[m.UserID] {
			// The grant is kept unless replaced: the owner's client
			// seals a new one only for members whose role or key
			// changed, not for everyone on every change of the list.
			_, err = tx.ExecContext(ctx, `
				UPDATE share_members
				SET role = ?1, sealed_grant = CASE WHEN ?5 = 1 THEN ?2 ELSE sealed_grant END
				WHERE share_id = ?3 AND user_id = ?4`,
				m.Role, blob(m.Grant), sh.ID, m.UserID, min(len(m.Grant), 1))
			if err != nil {
				return err
			}
			continue
		}
		var exists bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, m.UserID).Scan(&exists)
		if err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("member %d: no such account: %w", m.UserID, meta.ErrNotFound)
		}
		created := m.CreatedAt
		if created.IsZero() {
			created = sh.UpdatedAt
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO share_members (share_id, user_id, role, sealed_grant, state, acceptance, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			sh.ID, m.UserID, m.Role, blob(m.Grant), int(meta.SharePending), []byte{}, micros(created))
		if err != nil {
			return fmt.Errorf("member %d: %w", m.UserID, tx.dbErr(err))
		}
	}
	for id := range current {
		if kept[id] {
			continue
		}
		_, err := tx.ExecContext(ctx,
			`DELETE FROM share_members WHERE share_id = ? AND user_id = ?`, sh.ID, id)
		if err != nil {
			return fmt.Errorf("revoke member %d: %w", id, err)
		}
	}
	return nil
}

const shareColumns = `s.id, s.volume_id, s.node_id, s.owner_id, u.name, s.version, s.list,
	s.signature, s.inbox_public, s.sealed_inbox_private, s.created_at, s.updated_at`

// shareFrom is the FROM clause for shareColumns.
const shareFrom = ` FROM shares AS s JOIN users AS u ON u.id = s.owner_id`

func shareDest(sh *meta.Share) []any {
	return []any{blobCol{&sh.ID}, blobCol{&sh.VolumeID}, blobCol{&sh.NodeID}, &sh.OwnerID,
		&sh.OwnerName, intCol[uint64]{&sh.Version}, blobCol{&sh.List}, blobCol{&sh.Signature},
		blobCol{&sh.InboxPublic}, blobCol{&sh.SealedInboxPrivate}, timeCol{&sh.CreatedAt},
		timeCol{&sh.UpdatedAt}}
}

const memberColumns = `m.share_id, m.user_id, mu.name, m.role, m.sealed_grant, m.state,
	m.acceptance, m.created_at`

func memberDest(m *meta.ShareMember) []any {
	return []any{blobCol{&m.ShareID}, &m.UserID, &m.UserName, intCol[int]{&m.Role},
		blobCol{&m.Grant}, intCol[meta.ShareState]{&m.State}, blobCol{&m.Acceptance},
		timeCol{&m.CreatedAt}}
}

// Share returns a share by ID, or meta.ErrNotFound.
func (s *Store) Share(ctx context.Context, id []byte) (*meta.Share, error) {
	var sh meta.Share
	err := s.r.QueryRowContext(ctx,
		`SELECT `+shareColumns+shareFrom+` WHERE s.id = ?`, id).Scan(shareDest(&sh)...)
	if err != nil {
		return nil, fmt.Errorf("share %x: %w", id, s.dbErr(err))
	}
	return &sh, nil
}

// ShareOfNode returns the share on a node, or meta.ErrNotFound.
func (s *Store) ShareOfNode(ctx context.Context, nodeID []byte) (*meta.Share, error) {
	var sh meta.Share
	err := s.r.QueryRowContext(ctx,
		`SELECT `+shareColumns+shareFrom+` WHERE s.node_id = ?`, nodeID).Scan(shareDest(&sh)...)
	if err != nil {
		return nil, fmt.Errorf("share of node %x: %w", nodeID, s.dbErr(err))
	}
	return &sh, nil
}

// SharesOfVolume returns the volume's shares, oldest first (by ID among
// those created at the same time).
func (s *Store) SharesOfVolume(ctx context.Context, volumeID []byte) ([]meta.Share, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+shareColumns+shareFrom+` WHERE s.volume_id = ? ORDER BY s.created_at, s.id`, volumeID)
	if err != nil {
		return nil, fmt.Errorf("shares of volume %x: %w", volumeID, err)
	}
	defer rows.Close()
	var list []meta.Share
	for rows.Next() {
		var sh meta.Share
		if err := rows.Scan(shareDest(&sh)...); err != nil {
			return nil, fmt.Errorf("shares of volume %x: %w", volumeID, err)
		}
		list = append(list, sh)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("shares of volume %x: %w", volumeID, err)
	}
	return list, nil
}

// ShareMembers returns a share's members by user name; none if there is
// no such share.
func (s *Store) ShareMembers(ctx context.Context, shareID []byte) ([]meta.ShareMember, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT `+memberColumns+` FROM share_members AS m JOIN users AS mu ON mu.id = m.user_id
		WHERE m.share_id = ? ORDER BY mu.name`, shareID)
	if err != nil {
		return nil, fmt.Errorf("members of share %x: %w", shareID, err)
	}
	defer rows.Close()
	var list []meta.ShareMember
	for rows.Next() {
		var m meta.ShareMember
		if err := rows.Scan(memberDest(&m)...); err != nil {
			return nil, fmt.Errorf("members of share %x: %w", shareID, err)
		}
		list = append(list, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("members of share %x: %w", shareID, err)
	}
	return list, nil
}

// SharedWith returns the shares userID is a member of, in any state, by
// the shares' creation time (then ID).
func (s *Store) SharedWith(ctx context.Context, userID int64) ([]meta.SharedWith, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT `+shareColumns+`, `+memberColumns+shareFrom+`
		JOIN share_members AS m ON m.share_id = s.id
		JOIN users AS mu ON mu.id = m.user_id
		WHERE m.user_id = ? ORDER BY s.created_at, s.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("shares with user %d: %w", userID, err)
	}
	defer rows.Close()
	var list []meta.SharedWith
	for rows.Next() {
		var w meta.SharedWith
		if err := rows.Scan(append(shareDest(&w.Share), memberDest(&w.Member)...)...); err != nil {
			return nil, fmt.Errorf("shares with user %d: %w", userID, err)
		}
		list = append(list, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("shares with user %d: %w", userID, err)
	}
	return list, nil
}

// SetShareState records a member's answer to a share, with a share event
// on the shared node: the owner's view of the share changed.
func (s *Store) SetShareState(ctx context.Context, shareID []byte, userID int64, state meta.ShareState, acceptance []byte) error {
	err := func() error {
		switch state {
		case meta.ShareAccepted:
			if len(acceptance) == 0 {
				return fmt.Errorf("accepted without a signature: %w", meta.ErrInvalid)
			}
		case meta.ShareDeclined:
			// A refusal consents to nothing, and an earlier consent
			// must not outlive it.
			acceptance = nil
		default:
			return fmt.Errorf("cannot set state %d: %w", state, meta.ErrInvalid)
		}
		return s.writeEvents(ctx, shareVolume(shareID), func(tx txn, log *eventLog) error {
			res, err := tx.ExecContext(ctx,
				`UPDATE share_members SET state = ?, acceptance = ? WHERE share_id = ? AND user_id = ?`,
				int(state), blob(acceptance), shareID, userID)
			if err == nil {
				err = mustAffect(res)
			}
			if err != nil {
				return tx.dbErr(err)
			}
			return shareEvent(ctx, tx, log, shareID)
		})
	}()
	if err != nil {
		return fmt.Errorf("set state of user %d in share %x: %w", userID, shareID, err)
	}
	return nil
}

// DeleteShare deletes a share; its members go by cascade. The shared
// node gets a share event.
func (s *Store) DeleteShare(ctx context.Context, id []byte) error {
	err := s.writeEvents(ctx, shareVolume(id), func(tx txn, log *eventLog) error {
		if err := shareEvent(ctx, tx, log, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM shares WHERE id = ?`, id)
		if err == nil {
			err = mustAffect(res)
		}
		return tx.dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("delete share %x: %w", id, err)
	}
	return nil
}

// shareEvent records a share event on the node of the share id, or
// returns meta.ErrNotFound if there is no such share.
func shareEvent(ctx context.Context, tx txn, log *eventLog, id []byte) error {
	var nodeID []byte
	err := tx.QueryRowContext(ctx, `SELECT node_id FROM shares WHERE id = ?`, id).Scan(blobCol{&nodeID})
	if err != nil {
		return tx.dbErr(err)
	}
	return nodeEvent(ctx, tx, log, meta.EventShare, nodeID)
}

// upQuery walks from node ?1 up its parent chain, numbering the nodes by
// their distance from it, at most meta.MaxShareDepth levels. UNION ALL
// with the depth bound rather than UNION: the bound stops a cycle, and
// UNION would have to compare every row with all those before it.
var upQuery = fmt.Sprintf(`
	WITH RECURSIVE up (id, parent_id, depth) AS (
		SELECT id, parent_id, 0 FROM nodes WHERE id = ?1
		UNION ALL
		SELECT n.id, n.parent_id, up.depth + 1 FROM up JOIN nodes AS n ON n.id = up.parent_id
		WHERE up.depth < %d
	)`, meta.MaxShareDepth)

// Accesses returns how userID reaches nodeID through the shares it
// accepted, nearest first.
func (s *Store) Accesses(ctx context.Context, userID int64, nodeID []byte) ([]meta.Access, error) {
	// The ordered join (CROSS JOIN in SQLite) fixes the join order: up
	// the chain first (a few rows), then the share on each node by its
	// unique index, then the membership by its primary key. Left to
	// itself, SQLite's planner may start from all of the user's
	// memberships instead.
	rows, err := s.r.QueryContext(ctx, upQuery+`
		SELECT s.id, s.node_id, s.volume_id, m.role, up.depth
		FROM up `+s.d.OrderedJoin+` shares AS s ON s.node_id = up.id
		`+s.d.OrderedJoin+` share_members AS m ON m.share_id = s.id AND m.user_id = ?2
		WHERE m.state = 1
		ORDER BY up.depth`, nodeID, userID)
	if err != nil {
		return nil, fmt.Errorf("accesses of user %d to node %x: %w", userID, nodeID, err)
	}
	defer rows.Close()
	var list []meta.Access
	for rows.Next() {
		var a meta.Access
		if err := rows.Scan(blobCol{&a.ShareID}, blobCol{&a.ShareNode}, blobCol{&a.VolumeID},
			intCol[int]{&a.Role}, intCol[int]{&a.Depth}); err != nil {
			return nil, fmt.Errorf("accesses of user %d to node %x: %w", userID, nodeID, err)
		}
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accesses of user %d to node %x: %w", userID, nodeID, err)
	}
	return list, nil
}

// InSubtree reports whether nodeID is rootID or below it.
func (s *Store) InSubtree(ctx context.Context, nodeID, rootID []byte) (bool, error) {
	var in bool
	err := s.r.QueryRowContext(ctx, upQuery+`
		SELECT EXISTS (SELECT 1 FROM up WHERE id = ?2)`, nodeID, rootID).Scan(&in)
	if err != nil {
		return false, fmt.Errorf("node %x in subtree of %x: %w", nodeID, rootID, err)
	}
	return in, nil
}

// BlockInNode reports whether some revision of nodeID references the
// block.
func (s *Store) BlockInNode(ctx context.Context, blockID, nodeID []byte) (bool, error) {
	var in bool
	err := s.r.QueryRowContext(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM block_refs AS br JOIN revisions AS r ON r.id = br.revision_id
			WHERE br.block_id = ? AND r.node_id = ?)`,
		blob(blockID), nodeID).Scan(&in)
	if err != nil {
		return false, fmt.Errorf("block %x in node %x: %w", blockID, nodeID, err)
	}
	return in, nil
}
