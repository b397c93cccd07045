-- What the server remembers about each block location between runs: the
-- scrubber's and the repair worker's progress. Conventions as in
-- 00001_accounts.sql; a time that may be unset holds the zero time.Time,
-- as nodes.trashed_at does.
--
-- The catalog of blocks they walk is the blocks table of 00002_drive.sql,
-- paged through by its primary key, so it needs nothing new here.

-- +goose Up
CREATE TABLE storage_locations (
    -- The location's URL as the operator gave it. BINARY collation (the
    -- default), so that the listing is in Go's string order; PostgreSQL
    -- needs COLLATE "C" for the same.
    name        TEXT    NOT NULL PRIMARY KEY,
    scrubbed_at INTEGER NOT NULL,
    -- The first block ID prefix the scrub pass in progress has not done;
    -- 0 or 256 when none is in progress.
    scrub_next  INTEGER NOT NULL CHECK (scrub_next BETWEEN 0 AND 256),
    repaired_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- How blocks are laid out over the locations ("replicas", or "erasure
-- K+M"): one row, so that a server started with another layout refuses
-- to run instead of reading shards as copies (or the reverse).
CREATE TABLE storage_layout (
    id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    layout TEXT    NOT NULL CHECK (layout <> '')
) STRICT;

-- +goose Down
DROP TABLE storage_layout;
DROP TABLE storage_locations;
