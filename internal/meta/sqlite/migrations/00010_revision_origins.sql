-- +goose Up
-- A revision may re-use blocks that earlier revisions of its file sealed
-- (docs/crypto.md 12.6). Which revisions those are, with their content
-- keys sealed by the client, and one origin per block, are opaque to the
-- server and kept in one column (encoded as internal/meta/sqlmeta/reuse.go
-- says); NULL for a revision that re-uses nothing. A re-used block is in
-- the revision's blocks and block_refs like any other, so it stays
-- stored while any revision names it.
ALTER TABLE revisions ADD COLUMN origins BLOB;

-- +goose Down
ALTER TABLE revisions DROP COLUMN origins;
