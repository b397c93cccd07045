package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// blockIDLen is the length of a block ID.
const blockIDLen = 32

// maxParams caps the parameters of one statement, well below SQLite's
// limit (32766 by default), for statements built from lists.
const maxParams = 500

// AddBlock records a block that ownerID uploaded and charges its size to
// the account. Adding a block the account uploaded already changes
// nothing but the upload time, which moves forward, so that garbage
// collection does not take a block being uploaded again for abandoned;
// the size stays the one first recorded (block IDs name their content).
// It returns meta.ErrQuota if the account's quota is set and the block
// would take its use over it, meta.ErrExists if another account uploaded
// a block with this ID, and meta.ErrNotFound if there is no such account.
func (s *Store) AddBlock(ctx context.Context, ownerID int64, id []byte, size int64, now time.Time) error {
	err := s.write(ctx, func(tx txn) error {
		return addBlock(ctx, tx, ownerID, id, size, now)
	})
	if err != nil {
		return fmt.Errorf("add block %x of user %d: %w", id, ownerID, err)
	}
	return nil
}

// AddBlocks records many uploaded blocks in one transaction: all or none.
func (s *Store) AddBlocks(ctx context.Context, ownerID int64, blocks []meta.BlockInfo, now time.Time) error {
	err := s.write(ctx, func(tx txn) error {
		for _, b := range blocks {
			if err := addBlock(ctx, tx, ownerID, b.ID, b.Size, now); err != nil {
				return fmt.Errorf("block %x: %w", b.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add %d blocks of user %d: %w", len(blocks), ownerID, err)
	}
	return nil
}

func addBlock(ctx context.Context, tx txn, ownerID int64, id []byte, size int64, now time.Time) error {
	if len(id) != blockIDLen {
		return fmt.Errorf("block ID is %d bytes, want %d", len(id), blockIDLen)
	}
	if size < 0 {
		return fmt.Errorf("negative size %d", size)
	}
	var owner int64
	err := tx.QueryRowContext(ctx, `SELECT owner_id FROM blocks WHERE id = ?`, id).Scan(&owner)
	switch {
	case err == nil && owner == ownerID:
		_, err := tx.ExecContext(ctx,
			`UPDATE blocks SET created_at = ? WHERE id = ? AND created_at < ?`, micros(now), id, micros(now))
		return err
	case err == nil:
		return fmt.Errorf("uploaded by another account: %w", meta.ErrExists)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	var quota, used int64
	err = tx.QueryRowContext(ctx,
		`SELECT quota_bytes, used_bytes FROM users WHERE id = ?`+tx.d.ForUpdate, ownerID).Scan(&quota, &used)
	if err != nil {
		return tx.dbErr(err)
	}
	// Written so as not to overflow: used <= quota unless the quota
	// was lowered, and then any block is refused.
	if quota > 0 && size > quota-used {
		return fmt.Errorf("%d of %d bytes used, block of %d: %w", used, quota, size, meta.ErrQuota)
	}
	// The trigger on blocks adds the size to users.used_bytes.
	_, err = tx.ExecContext(ctx,
		`INSERT INTO blocks (id, owner_id, size, refs, created_at) VALUES (?, ?, ?, 0, ?)`,
		id, ownerID, size, micros(now))
	return tx.dbErr(err)
}

// distinct returns ids without repeats, in order of first appearance.
func distinct(ids [][]byte) [][]byte {
	seen := make(map[string]struct{}, len(ids))
	out := make([][]byte, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[string(id)]; !ok {
			seen[string(id)] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// chunks splits list into runs of at most n.
func chunks[T any](list []T, n int) iter.Seq[[]T] {
	return func(yield func([]T) bool) {
		for len(list) > 0 {
			k := min(n, len(list))
			if !yield(list[:k:k]) {
				return
			}
			list = list[k:]
		}
	}
}

// ownedBlocks returns the set of those of ids that ownerID uploaded.
func ownedBlocks(ctx context.Context, q queryer, ownerID int64, ids [][]byte) (map[string]struct{}, error) {
	owned := make(map[string]struct{}, len(ids))
	for chunk := range chunks(ids, maxParams-1) {
		args := make([]any, 0, 1+len(chunk))
		args = append(args, ownerID)
		for _, id := range chunk {
			args = append(args, blob(id))
		}
		rows, err := q.QueryContext(ctx, `SELECT id FROM blocks WHERE owner_id = ? AND id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		if err := collectIDs(rows, owned); err != nil {
			return nil, err
		}
	}
	return owned, nil
}

// collectIDs adds the IDs of a one-column result to set, and closes rows.
func collectIDs(rows *sql.Rows, set map[string]struct{}) error {
	defer rows.Close()
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			return err
		}
		set[string(id)] = struct{}{}
	}
	return rows.Err()
}

// claimBlocks passes the blocks ids (distinct) from uploaderID to
// ownerID, for a revision that uploaderID commits into ownerID's volume.
// Every block must have been uploaded by uploaderID and be referenced by
// no revision yet, else meta.ErrMissingBlocks: a block one of the
// uploader's own files uses must stay charged to the uploader, or the
// owner would pay for it, and keep paying after deleting the shared
// file. ownerID must have room for them under its quota, else
// meta.ErrQuota. The trigger on blocks moves the sizes between the two
// accounts' used_bytes.
func claimBlocks(ctx context.Context, tx txn, uploaderID, ownerID int64, ids [][]byte) error {
	if len(ids) == 0 {
		return nil
	}
	var found, total int64
	for chunk := range chunks(ids, maxParams-1) {
		args := make([]any, 0, 1+len(chunk))
		args = append(args, uploaderID)
		for _, id := range chunk {
			args = append(args, blob(id))
		}
		var n, size int64
		err := tx.QueryRowContext(ctx, `
			SELECT count(*), CAST(coalesce(sum(size), 0) AS BIGINT) FROM blocks
			WHERE owner_id = ? AND refs = 0 AND id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`,
			args...).Scan(&n, &size)
		if err != nil {
			return err
		}
		found += n
		total += size
	}
	if missing := int64(len(ids)) - found; missing > 0 {
		return fmt.Errorf("%d of %d blocks not uploaded by user %d, or in use already: %w",
			missing, len(ids), uploaderID, meta.ErrMissingBlocks)
	}
	var quota, used int64
	err := tx.QueryRowContext(ctx,
		`SELECT quota_bytes, used_bytes FROM users WHERE id = ?`+tx.d.ForUpdate, ownerID).Scan(&quota, &used)
	if err != nil {
		return fmt.Errorf("user %d: %w", ownerID, tx.dbErr(err))
	}
	// As in addBlock, written so as not to overflow.
	if quota > 0 && total > quota-used {
		return fmt.Errorf("owner %d uses %d of %d bytes, revision adds %d: %w",
			ownerID, used, quota, total, meta.ErrQuota)
	}
	for chunk := range chunks(ids, maxParams-2) {
		args := make([]any, 0, 2+len(chunk))
		args = append(args, ownerID, uploaderID)
		for _, id := range chunk {
			args = append(args, blob(id))
		}
		_, err := tx.ExecContext(ctx, `
			UPDATE blocks SET owner_id = ? WHERE owner_id = ? AND id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return tx.dbErr(err)
		}
	}
	return nil
}

// MissingBlocks returns those of ids that ownerID has not uploaded, each
// once, in the order of ids.
func (s *Store) MissingBlocks(ctx context.Context, ownerID int64, ids [][]byte) ([][]byte, error) {
	ids = distinct(ids)
	owned, err := ownedBlocks(ctx, s.r, ownerID, ids)
	if err != nil {
		return nil, fmt.Errorf("missing blocks of user %d: %w", ownerID, err)
	}
	var missing [][]byte
	for _, id := range ids {
		if _, ok := owned[string(id)]; !ok {
			missing = append(missing, append([]byte(nil), id...))
		}
	}
	return missing, nil
}

// UnknownBlocks returns those of ids that no account has uploaded.
func (s *Store) UnknownBlocks(ctx context.Context, ids [][]byte) ([][]byte, error) {
	var unknown [][]byte
	for _, id := range distinct(ids) {
		var known bool
		if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM blocks WHERE id = ?)`, blob(id)).Scan(&known); err != nil {
			return nil, fmt.Errorf("unknown blocks: %w", err)
		}
		if !known {
			unknown = append(unknown, append([]byte(nil), id...))
		}
	}
	return unknown, nil
}

// BlockOwned reports whether ownerID may read the block: it uploaded it,
// or a revision in its volume references it.
func (s *Store) BlockOwned(ctx context.Context, ownerID int64, id []byte) (bool, error) {
	var ok bool
	err := s.r.QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM blocks WHERE id = ?1 AND owner_id = ?2)
			OR EXISTS (
				SELECT 1 FROM block_refs AS br
				JOIN revisions AS r ON r.id = br.revision_id
				JOIN volumes AS v ON v.id = r.volume_id
				WHERE br.block_id = ?1 AND v.owner_id = ?2)`,
		blob(id), ownerID,
	).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("block %x owned by user %d: %w", id, ownerID, err)
	}
	return ok, nil
}

// GarbageBlocks returns up to limit blocks that no revision references and
// that were uploaded before olderThan, oldest first.
func (s *Store) GarbageBlocks(ctx context.Context, olderThan time.Time, limit int) ([][]byte, error) {
	if limit <= 0 {
		return nil, nil
	}
	// refs = 0 as a literal, so that the partial index applies.
	rows, err := s.r.QueryContext(ctx,
		`SELECT id FROM blocks WHERE refs = 0 AND created_at < ? ORDER BY created_at LIMIT ?`,
		micros(olderThan), limit)
	if err != nil {
		return nil, fmt.Errorf("garbage blocks: %w", err)
	}
	defer rows.Close()
	var ids [][]byte
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("garbage blocks: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("garbage blocks: %w", err)
	}
	return ids, nil
}

// DeleteBlock forgets a block, and takes its size off its account's use,
// if no revision references it. It reports whether it did; a block that
// does not exist is not an error.
func (s *Store) DeleteBlock(ctx context.Context, id []byte) (bool, error) {
	// One statement is one transaction; the trigger on blocks updates
	// users.used_bytes in it.
	res, err := s.w.ExecContext(ctx, `DELETE FROM blocks WHERE id = ? AND refs = 0`, blob(id))
	if err != nil {
		return false, fmt.Errorf("delete block %x: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete block %x: %w", id, err)
	}
	return n > 0, nil
}

// Usage returns an account's storage use, the total size of the blocks it
// uploaded that have not been deleted, and its quota. It returns
// meta.ErrNotFound if there is no such account.
func (s *Store) Usage(ctx context.Context, ownerID int64) (meta.Usage, error) {
	var u meta.Usage
	err := s.r.QueryRowContext(ctx,
		`SELECT used_bytes, quota_bytes FROM users WHERE id = ?`, ownerID,
	).Scan(&u.UsedBytes, &u.QuotaBytes)
	if err != nil {
		return meta.Usage{}, fmt.Errorf("usage of user %d: %w", ownerID, s.dbErr(err))
	}
	return u, nil
}

// SetQuota sets an account's quota in bytes (0: no limit). A quota below
// the current use is allowed; it refuses further uploads. It returns
// meta.ErrNotFound if there is no such account.
func (s *Store) SetQuota(ctx context.Context, ownerID int64, bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("set quota of user %d: negative quota %d", ownerID, bytes)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE users SET quota_bytes = ? WHERE id = ?`, bytes, ownerID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("set quota of user %d: %w", ownerID, s.dbErr(err))
	}
	return nil
}
