package sqlmeta

// HotQuery is a query on a hot path: listings, uploads, commits, link
// downloads and the storage catalog walk. Each must be answered from an
// index, without scanning a table or sorting; the engines' packages test
// their plans.
type HotQuery struct {
	Name  string
	Query string // in the dialect's placeholders
	Args  []any
}

// HotQueries returns the hot queries with sample arguments.
func (d *Dialect) HotQueries() []HotQuery {
	id := make([]byte, 32)
	list := []HotQuery{
		{"Children", `SELECT ` + nodeColumns + ` FROM nodes WHERE parent_id = ? AND state = 0`, []any{id}},
		{"ChildByNameHash", `SELECT ` + nodeColumns + ` FROM nodes WHERE parent_id = ? AND name_hash = ? AND state = 0`, []any{id, id}},
		{"GarbageBlocks", `SELECT id FROM blocks WHERE refs = 0 AND created_at < ? ORDER BY created_at LIMIT ?`, []any{1, 1}},
		{"ownedBlocks", `SELECT id FROM blocks WHERE owner_id = ? AND id IN (?, ?)`, []any{1, id, id}},
		{"Trash", `SELECT id FROM nodes WHERE volume_id = ? AND state = 1`, []any{id}},
		{"BlockOwned", `
			SELECT 1 FROM block_refs AS br
			JOIN revisions AS r ON r.id = br.revision_id
			JOIN volumes AS v ON v.id = r.volume_id
			WHERE br.block_id = ?1 AND v.owner_id = ?2`, []any{id, 1}},
		{"Revisions", `SELECT ` + revisionColumns + ` FROM revisions WHERE node_id = ? ORDER BY seq`, []any{id}},
		{"ReplaceRecords reads", `SELECT id, volume_id FROM nodes WHERE id IN (?, ?)`, []any{id, id}},
		{"ReplaceRecords parks", sprintfQuery(parkQuery, d.ParkedNameHash) + inList(2), []any{id, id}},
		{"LinksOfOwner", `SELECT ` + linkColumns + ` FROM links WHERE owner_id = ? ORDER BY created_at DESC, ` + d.InsertOrder + ` DESC`, []any{1}},
		{"LinkSessionByTokenHash", `SELECT link_id FROM link_sessions WHERE token_hash = ?`, []any{id}},
		{"RevokeLink sessions", `SELECT token_hash FROM link_sessions WHERE link_id = ?`, []any{id}},
		{"link block cascade", `SELECT link_id FROM link_blocks WHERE block_id = ?`, []any{id}},
		{"checkLinkBlocks", `
			SELECT count(*), CAST(coalesce(sum(lb.size), 0) AS BIGINT) FROM link_blocks AS lb JOIN blocks AS b ON b.id = lb.block_id
			WHERE lb.link_id = ? AND b.owner_id = ? AND b.refs = 0 AND lb.block_id IN (?, ?)`, []any{id, 1, id, id}},
		{"takeLinkBlocks", `SELECT size FROM link_blocks WHERE link_id = ? AND block_id IN (?, ?)`, []any{id, id, id}},
		{"pending link block trigger", `SELECT pending_bytes FROM links WHERE id = ?`, []any{id}},
		{"BlockInRevision", `SELECT 1 FROM block_refs WHERE revision_id = ? AND block_id = ?`, []any{id, id}},
		{"BlocksWithPrefix", blockPageQuery, []any{[]byte{7}, []byte{8}, blockPageSize}},
		{"BlocksWithPrefix, last prefix", lastBlockPageQuery, []any{[]byte{0xff}, blockPageSize}},
		{"StorageLocation", `SELECT ` + storageLocationColumns + ` FROM storage_locations WHERE name = ?`, []any{"x"}},
		{"Events", eventsPageQuery, []any{id, 1, 1000}},
		{"EventHeads", eventHeadsQuery + inList(2), []any{id, id}},
	}
	for i := range list {
		list[i].Query = d.rebind(list[i].Query)
	}
	return list
}
