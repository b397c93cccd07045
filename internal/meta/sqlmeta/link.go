package sqlmeta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// PutLink creates a link. See meta.LinkStore for the rules.
func (s *Store) PutLink(ctx context.Context, l *meta.Link) error {
	err := s.write(ctx, func(tx txn) error {
		if err := checkLink(l); err != nil {
			return err
		}
		if err := checkLinkNode(ctx, tx, l); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO links (`+linkColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 0, ?, 0, 0)`,
			l.ID, l.OwnerID, l.VolumeID, l.NodeID, l.Kind, blob(l.Salt), int64(l.KDF.MemoryKiB),
			int64(l.KDF.Iterations), int64(l.KDF.Parallelism), blob(l.Verifier), blob(l.Payload),
			blob(l.OwnerRecord), l.Password, micros(l.CreatedAt), micros(l.ExpiresAt),
			micros(time.Time{}), l.MaxDownloads, l.MaxFiles, l.MaxBytes)
		return s.dbErr(err) // a taken ID is meta.ErrExists
	})
	if err != nil {
		return fmt.Errorf("put link: %w", err)
	}
	return nil
}

// checkLink checks what can be checked of a new link without the
// database.
func checkLink(l *meta.Link) error {
	switch {
	// As for shares, the length of IDs is the protocol's business.
	case len(l.ID) == 0:
		return fmt.Errorf("empty ID: %w", meta.ErrInvalid)
	case len(l.VolumeID) == 0 || len(l.NodeID) == 0:
		return fmt.Errorf("no volume or node: %w", meta.ErrInvalid)
	case l.Kind != meta.LinkRead && l.Kind != meta.LinkUpload:
		return fmt.Errorf("unknown kind %d: %w", l.Kind, meta.ErrInvalid)
	case l.MaxDownloads < 0 || l.MaxFiles < 0 || l.MaxBytes < 0:
		return fmt.Errorf("negative limit: %w", meta.ErrInvalid)
	}
	return nil
}

// checkLinkNode checks that the link's node is an active node of its
// volume, the volume its owner's, and a folder for an upload link.
func checkLinkNode(ctx context.Context, tx txn, l *meta.Link) error {
	n, err := getNodeInfo(ctx, tx, l.NodeID)
	if errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("node %x does not exist: %w", l.NodeID, meta.ErrInvalid)
	} else if err != nil {
		return err
	}
	if !bytes.Equal(n.volumeID, l.VolumeID) {
		return fmt.Errorf("node %x is in volume %x, not %x: %w", l.NodeID, n.volumeID, l.VolumeID, meta.ErrInvalid)
	}
	if err := checkVolumeOwner(ctx, tx, l.VolumeID, l.OwnerID); err != nil {
		return err
	}
	if l.Kind == meta.LinkUpload && n.kind != kindFolder {
		return fmt.Errorf("node %x of an upload link is not a folder: %w", l.NodeID, meta.ErrInvalid)
	}
	active, _, err := ancestry(ctx, tx, l.NodeID, nil)
	if err != nil {
		return err
	}
	if !active {
		return fmt.Errorf("node %x is in the trash: %w", l.NodeID, meta.ErrInvalid)
	}
	return nil
}

const linkColumns = `id, owner_id, volume_id, node_id, kind, salt, kdf_memory_kib,
	kdf_iterations, kdf_parallelism, verifier, payload, owner_record, password, created_at,
	expires_at, revoked_at, max_downloads, downloads, max_files, files, max_bytes, bytes,
	pending_bytes`

func linkDest(l *meta.Link) []any {
	return []any{blobCol{&l.ID}, &l.OwnerID, blobCol{&l.VolumeID}, blobCol{&l.NodeID},
		intCol[int]{&l.Kind}, blobCol{&l.Salt}, &l.KDF.MemoryKiB, &l.KDF.Iterations,
		&l.KDF.Parallelism, blobCol{&l.Verifier}, blobCol{&l.Payload}, blobCol{&l.OwnerRecord},
		&l.Password, timeCol{&l.CreatedAt}, timeCol{&l.ExpiresAt}, timeCol{&l.RevokedAt},
		&l.MaxDownloads, &l.Downloads, &l.MaxFiles, &l.Files, &l.MaxBytes, &l.Bytes,
		&l.PendingBytes}
}

// finishLink fills in what reads derive: unset times as the zero
// time.Time, and whether the link's node is gone.
func finishLink(ctx context.Context, q queryer, l *meta.Link) error {
	for _, t := range []*time.Time{&l.ExpiresAt, &l.RevokedAt} {
		if t.IsZero() {
			*t = time.Time{}
		}
	}
	active, _, err := ancestry(ctx, q, l.NodeID, nil)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		l.NodeGone = true
	case err != nil:
		return fmt.Errorf("state of node %x: %w", l.NodeID, err)
	default:
		l.NodeGone = !active
	}
	return nil
}

// Link returns a link by ID, or meta.ErrNotFound.
func (s *Store) Link(ctx context.Context, id []byte) (*meta.Link, error) {
	var l meta.Link
	err := s.r.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM links WHERE id = ?`, id).Scan(linkDest(&l)...)
	if err == nil {
		err = finishLink(ctx, s.r, &l)
	}
	if err != nil {
		return nil, fmt.Errorf("link: %w", s.dbErr(err))
	}
	return &l, nil
}

// LinksOfOwner returns the owner's links, newest first (the later
// inserted first among those created at the same time).
func (s *Store) LinksOfOwner(ctx context.Context, ownerID int64) ([]meta.Link, error) {
	list, err := s.linksOfOwner(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("links of user %d: %w", ownerID, err)
	}
	return list, nil
}

func (s *Store) linksOfOwner(ctx context.Context, ownerID int64) ([]meta.Link, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+linkColumns+` FROM links
		WHERE owner_id = ? ORDER BY created_at DESC, `+s.d.InsertOrder+` DESC`, ownerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []meta.Link
	for rows.Next() {
		var l meta.Link
		if err := rows.Scan(linkDest(&l)...); err != nil {
			return nil, err
		}
		list = append(list, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// An owner has a handful of links; one walk up the tree each.
	for i := range list {
		if err := finishLink(ctx, s.r, &list[i]); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// RevokeLink revokes the owner's link and deletes its sessions.
func (s *Store) RevokeLink(ctx context.Context, ownerID int64, id []byte, now time.Time) error {
	// The link's row, locked first, orders this against the sessions
	// being created (CreateLinkSession locks it too): at READ COMMITTED
	// the DELETE below then sees every session committed before, and
	// those after see the link revoked. Under SERIALIZABLE a revoke
	// waiting behind a stream of opens would fail to serialize every
	// time, and the owner could not revoke a link someone keeps opening.
	err := s.writeLocking(ctx, func(tx txn) error {
		var owner int64
		err := tx.QueryRowContext(ctx, `SELECT owner_id FROM links WHERE id = ?`+tx.d.ForUpdate, id).Scan(&owner)
		if err != nil {
			return s.dbErr(err)
		}
		if owner != ownerID {
			// Another account's link answers as one that does not exist.
			return meta.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE links SET revoked_at = ? WHERE id = ? AND revoked_at = ?`,
			micros(now), id, micros(time.Time{}))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM link_sessions WHERE link_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke link of user %d: %w", ownerID, err)
	}
	return nil
}

// openLink is what the writes through a link need to know of it.
type openLink struct {
	ownerID                              int64
	volumeID, nodeID                     []byte
	kind                                 int
	maxDownloads, downloads              int64
	maxFiles, files, maxBytes, linkBytes int64
	pendingBytes                         int64
}

// liveLink reads the link id in tx, and refuses with meta.ErrLinkClosed
// one that was revoked or has expired at now.
func liveLink(ctx context.Context, tx txn, id []byte, now time.Time) (*openLink, error) {
	var l openLink
	var expires, revoked int64
	err := tx.QueryRowContext(ctx, `
		SELECT owner_id, volume_id, node_id, kind, expires_at, revoked_at, max_downloads,
			downloads, max_files, files, max_bytes, bytes, pending_bytes
		FROM links WHERE id = ?`+tx.d.ForUpdate, id,
	).Scan(&l.ownerID, blobCol{&l.volumeID}, blobCol{&l.nodeID}, intCol[int]{&l.kind}, &expires,
		&revoked, &l.maxDownloads, &l.downloads, &l.maxFiles, &l.files, &l.maxBytes, &l.linkBytes,
		&l.pendingBytes)
	if err != nil {
		return nil, tx.dbErr(err)
	}
	zero := micros(time.Time{})
	switch {
	case revoked != zero:
		return nil, fmt.Errorf("revoked: %w", meta.ErrLinkClosed)
	case expires != zero && micros(now) >= expires:
		// Compared in microseconds, as stored, so that every reader
		// agrees on the instant the link expires.
		return nil, fmt.Errorf("expired: %w", meta.ErrLinkClosed)
	}
	return &l, nil
}

// liveLinkNode refuses with meta.ErrLinkClosed, in tx, a link whose node
// was deleted or is in the trash, itself or by way of a folder above it:
// the server checks this before, but the node may go meanwhile.
func liveLinkNode(ctx context.Context, tx txn, l *openLink) error {
	active, _, err := ancestry(ctx, tx, l.nodeID, nil)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return fmt.Errorf("node %x deleted: %w", l.nodeID, meta.ErrLinkClosed)
	case err != nil:
		return err
	case !active:
		return fmt.Errorf("node %x in the trash: %w", l.nodeID, meta.ErrLinkClosed)
	}
	return nil
}

// CreateLinkSession stores a link session, counting a download if asked,
// in one transaction with the checks of the link.
func (s *Store) CreateLinkSession(ctx context.Context, ls *meta.LinkSession, countDownload bool) error {
	// A popular link is opened by many at once. Its row, locked by
	// liveLink's first statement, queues them; at READ COMMITTED each
	// then reads the counter as the one before it left it, rather than
	// all but one failing to serialize and starting over. What else it
	// reads (the node's state) no concurrent writer reads back from it.
	err := s.writeLocking(ctx, func(tx txn) error {
		l, err := liveLink(ctx, tx, ls.LinkID, ls.CreatedAt)
		if err != nil {
			return err
		}
		if err := liveLinkNode(ctx, tx, l); err != nil {
			return err
		}
		if countDownload {
			if l.maxDownloads > 0 && l.downloads >= l.maxDownloads {
				return fmt.Errorf("%d of %d downloads used: %w", l.downloads, l.maxDownloads, meta.ErrLimit)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE links SET downloads = downloads + 1 WHERE id = ?`, ls.LinkID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO link_sessions (token_hash, link_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			blob(ls.TokenHash), ls.LinkID, micros(ls.CreatedAt), micros(ls.ExpiresAt))
		return s.dbErr(err)
	})
	if err != nil {
		// The token hash is a credential; keep it out of error messages.
		return fmt.Errorf("create link session: %w", err)
	}
	return nil
}

// LinkSessionByTokenHash returns the link session with this token hash,
// expired or not, or meta.ErrNotFound.
func (s *Store) LinkSessionByTokenHash(ctx context.Context, tokenHash []byte) (*meta.LinkSession, error) {
	var ls meta.LinkSession
	err := s.r.QueryRowContext(ctx, `
		SELECT token_hash, link_id, created_at, expires_at FROM link_sessions WHERE token_hash = ?`,
		blob(tokenHash),
	).Scan(blobCol{&ls.TokenHash}, blobCol{&ls.LinkID}, timeCol{&ls.CreatedAt}, timeCol{&ls.ExpiresAt})
	if err != nil {
		return nil, fmt.Errorf("link session by token hash: %w", s.dbErr(err))
	}
	return &ls, nil
}

// AddLinkBlock records a block uploaded through an upload link as the
// link owner's, and counts it as pending against the link's byte limit
// until a drop takes it or it is collected as garbage.
func (s *Store) AddLinkBlock(ctx context.Context, linkID []byte, b meta.BlockInfo, now time.Time) error {
	err := s.write(ctx, func(tx txn) error {
		l, err := liveLink(ctx, tx, linkID, now)
		if err != nil {
			return err
		}
		if l.kind != meta.LinkUpload {
			return fmt.Errorf("not an upload link: %w", meta.ErrInvalid)
		}
		// A block the link added already (a retried upload), or that a
		// revision uses (of the owner's, or a drop's: no drop can take it
		// again), counts nothing again: only the upload time moves, or
		// addBlock refuses another account's block.
		var known bool
		err = tx.QueryRowContext(ctx, `
			SELECT EXISTS (SELECT 1 FROM link_blocks WHERE link_id = ?1 AND block_id = ?2)
				OR EXISTS (SELECT 1 FROM blocks WHERE id = ?2 AND refs > 0)`,
			linkID, blob(b.ID)).Scan(&known)
		if err != nil {
			return err
		}
		if known {
			return addBlock(ctx, tx, l.ownerID, b.ID, b.Size, now)
		}
		// Written so as not to overflow, as in addBlock: the table's
		// check holds bytes + pending_bytes <= max_bytes anyway.
		if l.maxBytes > 0 && b.Size > l.maxBytes-l.linkBytes-l.pendingBytes {
			return fmt.Errorf("%d of %d bytes dropped and %d pending, block of %d: %w",
				l.linkBytes, l.maxBytes, l.pendingBytes, b.Size, meta.ErrLimit)
		}
		if err := addBlock(ctx, tx, l.ownerID, b.ID, b.Size, now); err != nil {
			return err
		}
		// The size as recorded (the first one, were it recorded before);
		// the trigger on link_blocks adds it to links.pending_bytes.
		_, err = tx.ExecContext(ctx, `
			INSERT INTO link_blocks (link_id, block_id, size) SELECT ?, id, size FROM blocks WHERE id = ?`,
			linkID, blob(b.ID))
		return s.dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("add block %x through a link: %w", b.ID, err)
	}
	return nil
}

// CreateLinkDrop creates a file dropped through an upload link, in one
// transaction with the checks of the link, its limit and its blocks.
func (s *Store) CreateLinkDrop(ctx context.Context, linkID []byte, item meta.NewFile, now time.Time) error {
	err := s.writeEvents(ctx, linkVolume(linkID), func(tx txn, log *eventLog) error {
		l, err := liveLink(ctx, tx, linkID, now)
		if err != nil {
			return err
		}
		if err := liveLinkNode(ctx, tx, l); err != nil {
			return err
		}
		if err := checkLinkDrop(l, item); err != nil {
			return err
		}
		ids := distinct(item.Revision.Blocks)
		size, err := checkLinkBlocks(ctx, tx, linkID, l.ownerID, ids)
		if err != nil {
			return err
		}
		// The blocks were pending, so they fit already; checked again all
		// the same, as the table's check would.
		if l.maxBytes > 0 && size > l.maxBytes-l.linkBytes {
			return fmt.Errorf("%d of %d bytes dropped, drop of %d: %w", l.linkBytes, l.maxBytes, size, meta.ErrLimit)
		}
		// The blocks are the owner's already: the revision is the
		// owner's to create, with no uploader to take them from.
		rev := *item.Revision
		rev.UploaderID = 0
		if err := createNode(ctx, tx, log, l.ownerID, meta.NewFile{Node: item.Node, Revision: &rev}, map[string][]byte{}); err != nil {
			return err
		}
		// The drop takes its blocks: the trigger on link_blocks takes
		// their size off pending_bytes, and it goes to bytes.
		if err := takeLinkBlocks(ctx, tx, linkID, ids); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE links SET files = files + 1, bytes = bytes + ? WHERE id = ?`, size, linkID)
		return err
	})
	if err != nil {
		return fmt.Errorf("drop through a link: %w", err)
	}
	return nil
}

// checkLinkDrop checks what a drop through the link l may be.
func checkLinkDrop(l *openLink, item meta.NewFile) error {
	n := item.Node
	switch {
	case l.kind != meta.LinkUpload:
		return fmt.Errorf("not an upload link: %w", meta.ErrInvalid)
	case l.maxFiles > 0 && l.files >= l.maxFiles:
		return fmt.Errorf("%d of %d files dropped: %w", l.files, l.maxFiles, meta.ErrLimit)
	case n == nil || item.Revision == nil:
		return fmt.Errorf("a drop is a file with its revision: %w", meta.ErrInvalid)
	case n.Kind != kindFile:
		return fmt.Errorf("node %x of kind %d is not a file: %w", n.ID, n.Kind, meta.ErrInvalid)
	case !bytes.Equal(n.ParentID, l.nodeID):
		return fmt.Errorf("node %x is not directly in the linked folder %x: %w", n.ID, l.nodeID, meta.ErrInvalid)
	case len(n.VolumeID) != 0 && !bytes.Equal(n.VolumeID, l.volumeID):
		return fmt.Errorf("node %x is for volume %x, not the link's %x: %w", n.ID, n.VolumeID, l.volumeID, meta.ErrInvalid)
	}
	return nil
}

// checkLinkBlocks checks that every block of ids (distinct) came through
// the link and no drop took it yet, is still the owner's, and is
// referenced by no revision yet. It returns their total size.
func checkLinkBlocks(ctx context.Context, tx txn, linkID []byte, ownerID int64, ids [][]byte) (int64, error) {
	var found, total int64
	for chunk := range chunks(ids, maxParams-2) {
		args := make([]any, 0, 2+len(chunk))
		args = append(args, linkID, ownerID)
		for _, id := range chunk {
			args = append(args, blob(id))
		}
		var n, size int64
		err := tx.QueryRowContext(ctx, `
			SELECT count(*), CAST(coalesce(sum(lb.size), 0) AS BIGINT)
			FROM link_blocks AS lb JOIN blocks AS b ON b.id = lb.block_id
			WHERE lb.link_id = ? AND b.owner_id = ? AND b.refs = 0
				AND lb.block_id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...).Scan(&n, &size)
		if err != nil {
			return 0, err
		}
		found += n
		total += size
	}
	if missing := int64(len(ids)) - found; missing > 0 {
		return 0, fmt.Errorf("%d of %d blocks not uploaded through this link, or in use already: %w",
			missing, len(ids), meta.ErrMissingBlocks)
	}
	return total, nil
}

// takeLinkBlocks forgets that the blocks ids (distinct) are pending on
// the link: a drop took them.
func takeLinkBlocks(ctx context.Context, tx txn, linkID []byte, ids [][]byte) error {
	for chunk := range chunks(ids, maxParams-1) {
		args := make([]any, 0, 1+len(chunk))
		args = append(args, linkID)
		for _, id := range chunk {
			args = append(args, blob(id))
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM link_blocks WHERE link_id = ? AND block_id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return err
		}
	}
	return nil
}

// BlockInRevision reports whether the revision references the block: one
// lookup in block_refs' primary key.
func (s *Store) BlockInRevision(ctx context.Context, blockID, revisionID []byte) (bool, error) {
	var in bool
	err := s.r.QueryRowContext(ctx, blockInRevisionQuery, revisionID, blob(blockID)).Scan(&in)
	if err != nil {
		return false, fmt.Errorf("block %x in revision %x: %w", blockID, revisionID, err)
	}
	return in, nil
}

// As TestQueryPlans checks, a search of block_refs' primary key.
const blockInRevisionQuery = `SELECT EXISTS (SELECT 1 FROM block_refs WHERE revision_id = ? AND block_id = ?)`

// ActiveBelow reports whether nodeID is rootID or below it, with every
// node from nodeID up to rootID active.
func (s *Store) ActiveBelow(ctx context.Context, nodeID, rootID []byte) (bool, error) {
	// The walk stops at rootID, so that only the path between the two
	// is checked; it never reaches rootID if nodeID is not below it.
	var ok bool
	err := s.r.QueryRowContext(ctx, activeBelowQuery, nodeID, rootID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("node %x active below %x: %w", nodeID, rootID, err)
	}
	return ok, nil
}

var activeBelowQuery = fmt.Sprintf(`
	WITH RECURSIVE up (id, parent_id, state, depth) AS (
		SELECT id, parent_id, state, 0 FROM nodes WHERE id = ?1
		UNION ALL
		SELECT n.id, n.parent_id, n.state, up.depth + 1 FROM up JOIN nodes AS n ON n.id = up.parent_id
		WHERE up.id <> ?2 AND up.depth < %d
	)
	SELECT EXISTS (SELECT 1 FROM up WHERE id = ?2) AND NOT EXISTS (SELECT 1 FROM up WHERE state <> 0)`,
	meta.MaxShareDepth)
