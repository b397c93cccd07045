package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
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
// unique index on names, under a name hash of its own (see parkedName);
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
		return s.write(ctx, func(tx *sql.Tx) error {
			if err := replaceNodes(ctx, tx, nodes, time.Now()); err != nil {
				return err
			}
			for _, r := range shares {
				if err := updateShare(ctx, tx, r.Share, r.Members, r.ExpectVersion); err != nil {
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

// parkedName is the name hash a node holds between the two passes of
// ReplaceRecords: unique, as the node's ID is, and not a real name hash
// (an HMAC, 32 bytes) unless the ID is 31 bytes long. Were a sibling's
// name hash ever to equal it, the replacement would fail with
// meta.ErrExists, and nothing would change.
func parkedName(id []byte) []byte {
	return append([]byte{0}, id...)
}

// replaceNodes writes the new records of nodes in tx, in two passes (see
// ReplaceRecords). The statements run once per node are prepared once.
func replaceNodes(ctx context.Context, tx *sql.Tx, nodes []meta.NodeReplace, now time.Time) (err error) {
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
	info, err := prepare(nodeInfoQuery)
	if err != nil {
		return err
	}
	head, err := prepare(headQuery)
	if err != nil {
		return err
	}
	park, err := prepare(`UPDATE nodes SET name_hash = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	update, err := prepare(updateNodeQuery)
	if err != nil {
		return err
	}

	curs := make([]*nodeInfo, len(nodes))
	for i := range nodes {
		id, u := nodes[i].ID, &nodes[i].Update
		cur, err := scanNodeInfo(info.QueryRowContext(ctx, id))
		if err == nil {
			err = checkVersion(cur, u)
		}
		if err == nil {
			err = checkHeadRow(cur.kind, u.RevisionID, u.RevisionSeq, func() *sql.Row {
				return head.QueryRowContext(ctx, u.RevisionID, id)
			})
		}
		// Only active nodes are in the unique index on names.
		if err == nil && cur.state == meta.NodeActive &&
			(!bytes.Equal(cur.parentID, u.ParentID) || !bytes.Equal(cur.nameHash, u.NameHash)) {
			_, err = park.ExecContext(ctx, parkedName(id), id)
			err = dbErr(err)
		}
		if err != nil {
			return fmt.Errorf("node %x: %w", id, err)
		}
		curs[i] = cur
	}
	for i := range nodes {
		id, u := nodes[i].ID, &nodes[i].Update
		// Only this node's own update changes its row, so what the first
		// pass read of it still holds, bar the parked name.
		err := checkMove(ctx, tx, id, curs[i], u)
		if err == nil {
			_, err = update.ExecContext(ctx, updateNodeArgs(id, u, now)...)
			err = dbErr(err)
		}
		if err != nil {
			return fmt.Errorf("node %x: %w", id, err)
		}
	}
	return nil
}
