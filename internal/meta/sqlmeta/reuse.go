package sqlmeta

import (
	"context"
	"encoding/binary"
	"strings"

	"github.com/coffer-drive/coffer/internal/meta"
)

// A revision that re-uses blocks of earlier revisions of its file
// (docs/crypto.md 12.6) carries its origins and one origin per block. The
// store does not look into them: they are kept in one column,
// revisions.origins, NULL for a revision that re-uses nothing, as
//
//	u32(k) || k × (LP(revision ID) || LP(sealed key)) || n × u32(origin)
//
// (LP(x) = u32(len(x)) || x, big-endian), n being the revision's block
// count.

// encodeOrigins returns the origins column of rev, nil for none.
func encodeOrigins(rev *meta.Revision) []byte {
	if len(rev.Origins) == 0 && len(rev.BlockOrigins) == 0 {
		return nil
	}
	n := 4 + 4*len(rev.BlockOrigins)
	for _, o := range rev.Origins {
		n += 8 + len(o.RevisionID) + len(o.SealedKey)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(rev.Origins)))
	for _, o := range rev.Origins {
		b = binary.BigEndian.AppendUint32(b, uint32(len(o.RevisionID)))
		b = append(b, o.RevisionID...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(o.SealedKey)))
		b = append(b, o.SealedKey...)
	}
	for _, o := range rev.BlockOrigins {
		b = binary.BigEndian.AppendUint32(b, o)
	}
	return b
}

// decodeOrigins sets r's Origins and BlockOrigins from its origins column
// b. The column is the store's own writing; should it not parse, r gets
// none, and the client, which checks every revision against its signed
// record, refuses it.
func decodeOrigins(r *meta.Revision, b []byte) {
	r.Origins, r.BlockOrigins = nil, nil
	if len(b) == 0 {
		return
	}
	next := func(n int) ([]byte, bool) {
		if n < 0 || n > len(b) {
			return nil, false
		}
		v := b[:n:n]
		b = b[n:]
		return v, true
	}
	u32 := func() (int, bool) {
		v, ok := next(4)
		if !ok {
			return 0, false
		}
		return int(binary.BigEndian.Uint32(v)), true
	}
	k, ok := u32()
	if !ok || k > len(b)/8 {
		return
	}
	origins := make([]meta.RevisionOrigin, k)
	for j := range origins {
		n, ok := u32()
		if ok {
			origins[j].RevisionID, ok = next(n)
		}
		if ok {
			n, ok = u32()
		}
		if ok {
			origins[j].SealedKey, ok = next(n)
		}
		if !ok {
			return
		}
	}
	if len(b)%4 != 0 {
		return
	}
	per := make([]uint32, len(b)/4)
	for i := range per {
		per[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	r.Origins, r.BlockOrigins = origins, per
}

// reusedBlocks returns the set of those of ids (rev's, distinct) that
// ownerID holds and that a revision of node nodeID references: blocks rev
// re-uses from an earlier revision of the node. They were claimed by
// ownerID when that revision was committed, so a member re-using them
// neither claims them again nor pays for them. A revision without origins
// re-uses nothing (an honest client names its origins), and costs no
// query.
func reusedBlocks(ctx context.Context, q queryer, ownerID int64, nodeID []byte, rev *meta.Revision, ids [][]byte) (map[string]struct{}, error) {
	found := make(map[string]struct{})
	if len(rev.Origins) == 0 {
		return found, nil
	}
	for chunk := range chunks(ids, maxParams-2) {
		args := make([]any, 0, 2+len(chunk))
		args = append(args, ownerID, nodeID)
		for _, id := range chunk {
			args = append(args, blob(id))
		}
		rows, err := q.QueryContext(ctx, `
			SELECT DISTINCT b.id FROM blocks AS b
			JOIN block_refs AS br ON br.block_id = b.id
			JOIN revisions AS r ON r.id = br.revision_id
			WHERE b.owner_id = ? AND r.node_id = ? AND b.id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		if err := collectIDs(rows, found); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// unclaimed returns ids without those in reused, in order.
func unclaimed(ids [][]byte, reused map[string]struct{}) [][]byte {
	if len(reused) == 0 {
		return ids
	}
	out := make([][]byte, 0, len(ids))
	for _, id := range ids {
		if _, ok := reused[string(id)]; !ok {
			out = append(out, id)
		}
	}
	return out
}
