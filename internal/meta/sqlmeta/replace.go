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

// ReplaceRecords replaces node records and share lists in one
// transaction; see meta.DriveStore. The nodes' UpdatedAt becomes the
// store's current time, as with UpdateNode. Share IDs must be distinct
// too (meta.ErrInvalid), and each share must be given (a nil Share is
// meta.ErrInvalid).
//
// Siblings may trade names: the new records are written in two passes.
// The first checks every node's version and head revision and moves each
// active node whose parent or name hash changes out of the way of the
// unique index on names, under a name hash of its own (see parkQuery);
// the second checks the moves, in order, and writes the records. Every
// record written in the second pass is final, and every node not
// replaced keeps its name, so a name taken there is taken indeed
// (meta.ErrExists).
func (s *Store) ReplaceRecords(ctx context.Context, nodes []meta.NodeReplace, shares []meta.ShareReplace) error {
	err := func() error {
		// What needs no database first: a malformed call costs nothing.
		if err := checkReplaceIDs(nodes, shares); err != nil {
			return err
		}
		var hint volumeHint
		if len(nodes) > 0 {
			hint = nodeVolume(nodes[0].ID)
		}
		return s.writeEvents(ctx, hint, func(tx txn, log *eventLog) error {
			if err := replaceNodes(ctx, tx, log, nodes, time.Now()); err != nil {
				return err
			}
			if err := checkComplete(ctx, tx, nodes); err != nil {
				return err
			}
			for _, r := range shares {
				err := updateShare(ctx, tx, r.Share, r.Members, r.ExpectVersion)
				if err == nil {
					err = nodeEvent(ctx, tx, log, meta.EventShare, r.Share.NodeID)
				}
				if err != nil {
					return fmt.Errorf("share %x: %w", r.Share.ID, err)
				}
			}
			return nil
		})
	}()
	if err != nil {
		return fmt.Errorf("replace records: %w", err)
	}
	return nil
}

// checkReplaceIDs checks that the nodes and shares of ReplaceRecords are
// distinct, and the shares what checkShare checks.
func checkReplaceIDs(nodes []meta.NodeReplace, shares []meta.ShareReplace) error {
	seen := make(map[string]struct{}, len(nodes))
	for _, r := range nodes {
		if _, ok := seen[string(r.ID)]; ok {
			return fmt.Errorf("node %x: listed twice: %w", r.ID, meta.ErrInvalid)
		}
		seen[string(r.ID)] = struct{}{}
	}
	clear(seen)
	for i, r := range shares {
		if r.Share == nil {
			return fmt.Errorf("share %d of the list: no share: %w", i, meta.ErrInvalid)
		}
		id := r.Share.ID
		if _, ok := seen[string(id)]; ok {
			return fmt.Errorf("share %x: listed twice: %w", id, meta.ErrInvalid)
		}
		seen[string(id)] = struct{}{}
		if r.ExpectVersion == 0 {
			return fmt.Errorf("share %x: expected version 0: only updates are allowed: %w", id, meta.ErrInvalid)
		}
		if err := checkShare(r.Share, r.Members); err != nil {
			return fmt.Errorf("share %x: %w", id, err)
		}
	}
	return nil
}

// parkQuery moves the nodes whose IDs follow out of the way of the
// unique index on names, between the two passes of ReplaceRecords, under
// a name hash of their own: unique, as their IDs are, and not a real name
// hash (an HMAC, 32 bytes) unless an ID is 31 bytes long. Were a
// sibling's name hash ever to equal one, the replacement would fail with
// meta.ErrExists, and nothing would change. The dialect spells the
// expression.
const parkQuery = `UPDATE nodes SET name_hash = %s WHERE id IN (?`

// rewriteNodeQuery is updateNodeQuery for a node that stays under its
// parent: its arguments are those of updateNodeQuery but the first.
// Leaving parent_id out of the SET list spares SQLite the foreign key's
// check and the update of the index on (parent_id, state).
const rewriteNodeQuery = `
	UPDATE nodes SET name_hash = ?, sealed_name = ?, sealed_key = ?,
		author = ?, version = ?, revision_id = ?, revision_seq = ?, revision_digest = ?,
		key_history = ?, signature = ?, updated_at = ?
	WHERE id = ?`

// inList returns the rest of a statement ending in "IN (?" for n
// parameters.
func inList(n int) string {
	return strings.Repeat(", ?", n-1) + ")"
}

// replaceNodes writes the new records of nodes in tx, in two passes (see
// ReplaceRecords). The nodes are read and parked by the hundred; the
// statements run once per node are prepared once. Each node gets an
// update event, in the order of nodes.
func replaceNodes(ctx context.Context, tx txn, log *eventLog, nodes []meta.NodeReplace, now time.Time) (err error) {
	if len(nodes) == 0 {
		return nil
	}
	var stmts []*sql.Stmt
	defer func() {
		for _, st := range stmts {
			err = errors.Join(err, st.Close())
		}
	}()
	prepare := func(query string) (*sql.Stmt, error) {
		st, err := tx.PrepareContext(ctx, query)
		if err == nil {
			stmts = append(stmts, st)
		}
		return st, err
	}
	head, err := prepare(headQuery)
	if err != nil {
		return err
	}
	update, err := prepare(updateNodeQuery)
	if err != nil {
		return err
	}
	rewrite, err := prepare(rewriteNodeQuery)
	if err != nil {
		return err
	}

	// First pass: read, check, park.
	curs, err := nodeInfos(ctx, tx, nodes)
	if err != nil {
		return err
	}
	var parked [][]byte
	for i := range nodes {
		id, u, cur := nodes[i].ID, &nodes[i].Update, curs[i]
		if cur == nil {
			return fmt.Errorf("node %x: %w", id, meta.ErrNotFound)
		}
		err := checkVersion(cur, u)
		if err == nil {
			err = checkHeadRow(cur.kind, u.RevisionID, u.RevisionSeq, func() *sql.Row {
				return head.QueryRowContext(ctx, u.RevisionID, id)
			})
		}
		if err != nil {
			return fmt.Errorf("node %x: %w", id, err)
		}
		// Only active nodes are in the unique index on names.
		if cur.state == meta.NodeActive &&
			(!bytes.Equal(cur.parentID, u.ParentID) || !bytes.Equal(cur.nameHash, u.NameHash)) {
			parked = append(parked, id)
		}
	}
	if err := park(ctx, tx, parked); err != nil {
		return err
	}

	// Second pass: check the moves in order, and write.
	for i := range nodes {
		id, u, cur := nodes[i].ID, &nodes[i].Update, curs[i]
		// Only this node's own update changes its row, so what the first
		// pass read of it still holds, bar the parked name.
		var err error
		if bytes.Equal(u.ParentID, cur.parentID) {
			_, err = rewrite.ExecContext(ctx, updateNodeArgs(id, u, now)[1:]...)
		} else if err = checkMove(ctx, tx, id, cur, u); err == nil {
			_, err = update.ExecContext(ctx, updateNodeArgs(id, u, now)...)
		}
		if err != nil {
			return fmt.Errorf("node %x: %w", id, tx.dbErr(err))
		}
		log.add(cur.volumeID, meta.EventUpdate, id, u.ParentID, cur.parentID, u.Version)
	}
	return nil
}

// nodeInfos returns the nodeInfo of each of nodes, in order; nil for a
// node that does not exist. The IDs are distinct.
func nodeInfos(ctx context.Context, tx txn, nodes []meta.NodeReplace) ([]*nodeInfo, error) {
	index := make(map[string]int, len(nodes))
	for i, r := range nodes {
		index[string(r.ID)] = i
	}
	infos := make([]*nodeInfo, len(nodes))
	args := make([]any, 0, maxParams)
	for chunk := range chunks(nodes, maxParams) {
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r.ID)
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT id, volume_id, parent_id, name_hash, kind, version, state
			FROM nodes WHERE id IN (?`+inList(len(chunk)), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id []byte
			n := new(nodeInfo)
			err := rows.Scan(blobCol{&id}, blobCol{&n.volumeID}, blobCol{&n.parentID}, blobCol{&n.nameHash},
				intCol[int]{&n.kind}, intCol[uint64]{&n.version}, intCol[meta.NodeState]{&n.state})
			if err != nil {
				rows.Close()
				return nil, err
			}
			infos[index[string(id)]] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return infos, nil
}

// park gives the nodes ids their parked names (see parkQuery).
func park(ctx context.Context, tx txn, ids [][]byte) error {
	args := make([]any, 0, maxParams)
	for chunk := range chunks(ids, maxParams) {
		args = args[:0]
		for _, id := range chunk {
			args = append(args, id)
		}
		_, err := tx.execSurvivable(ctx, sprintfQuery(parkQuery, tx.d.ParkedNameHash)+inList(len(chunk)), args...)
		if err == nil {
			continue
		}
		// A failed statement changes nothing: find the node to blame
		// one by one.
		for _, id := range chunk {
			if _, err1 := tx.execSurvivable(ctx, sprintfQuery(parkQuery, tx.d.ParkedNameHash)+")", id); err1 != nil {
				return fmt.Errorf("node %x: parking its name: %w", id, tx.dbErr(err1))
			}
		}
		return fmt.Errorf("parking names: %w", tx.dbErr(err))
	}
	return nil
}

// checkComplete checks, for each node replaced with Complete, that every
// child of it, active or in the trash, is replaced too.
func checkComplete(ctx context.Context, tx txn, nodes []meta.NodeReplace) error {
	replaced := make(map[string]bool, len(nodes))
	for _, r := range nodes {
		replaced[string(r.ID)] = true
	}
	for _, r := range nodes {
		if !r.Complete {
			continue
		}
		// Children in the trash too: they must stay restorable.
		rows, err := tx.QueryContext(ctx, `SELECT id FROM nodes WHERE parent_id = ?`, r.ID)
		if err != nil {
			return fmt.Errorf("node %x: list children: %w", r.ID, err)
		}
		var missing []byte
		for rows.Next() {
			var id []byte
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("node %x: list children: %w", r.ID, err)
			}
			if !replaced[string(id)] && missing == nil {
				missing = id
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("node %x: list children: %w", r.ID, err)
		}
		if missing != nil {
			return fmt.Errorf("node %x: child %x is not replaced: %w", r.ID, missing, meta.ErrConflict)
		}
	}
	return nil
}

// sprintfQuery fills a dialect's expression into a query template.
func sprintfQuery(template, expr string) string {
	return fmt.Sprintf(template, expr)
}
