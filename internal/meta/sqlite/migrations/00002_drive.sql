-- Drives: one volume per account, a tree of nodes under its root folder,
-- the revisions of files, the encrypted blocks they are made of, and the
-- account's quota. Conventions as in 00001_accounts.sql; IDs chosen by
-- clients are BLOBs, and a column that may name nothing is NULL rather than
-- an empty BLOB.
--
-- Two counters are kept by triggers rather than by the Go code, so that no
-- path that adds or deletes rows (including foreign-key cascades) can leave
-- them wrong:
--   * blocks.refs is the number of revisions referencing the block, that
--     is its rows in block_refs;
--   * users.used_bytes is the total size of the account's blocks.

-- +goose Up
ALTER TABLE users ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0);
ALTER TABLE users ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0);

CREATE TABLE volumes (
    id         BLOB    NOT NULL PRIMARY KEY,
    owner_id   INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    -- Not a foreign key: SQLite would then search volumes for every node
    -- deleted. The root is created with the volume and can never be
    -- trashed, so it goes only with the volume.
    root_id    BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE nodes (
    id           BLOB    NOT NULL PRIMARY KEY,
    volume_id    BLOB    NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    -- NULL for a volume's root only. No cascade: a subtree is deleted in
    -- one statement (see EmptyTrash), and a cascade would recurse once per
    -- level, up to SQLite's trigger depth limit.
    parent_id    BLOB    REFERENCES nodes (id),
    kind         INTEGER NOT NULL CHECK (kind IN (1, 2)), -- 1 folder, 2 file
    name_hash    BLOB    NOT NULL,
    sealed_name  BLOB    NOT NULL,
    sealed_key   BLOB    NOT NULL,
    author       TEXT    NOT NULL,
    version      INTEGER NOT NULL, -- uint64, stored as its int64 bit pattern
    -- The head revision of a file, NULL for a folder. Not a foreign key,
    -- for the same reason as volumes.root_id; the code checks it.
    revision_id  BLOB,
    revision_seq INTEGER NOT NULL,
    signature    BLOB    NOT NULL,
    state        INTEGER NOT NULL CHECK (state IN (0, 1)), -- 0 active, 1 trashed
    trashed_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- Names are unique among the active children of a folder only, so that a
-- name is free again once its node is in the trash. Also serves
-- ChildByNameHash.
CREATE UNIQUE INDEX nodes_parent_id_name_hash ON nodes (parent_id, name_hash) WHERE state = 0;
-- Listing a folder's children; also the foreign key's lookup of children.
CREATE INDEX nodes_parent_id_state ON nodes (parent_id, state);
-- Listing and emptying a volume's trash.
CREATE INDEX nodes_volume_id_state ON nodes (volume_id, state);

CREATE TABLE revisions (
    id                 BLOB    NOT NULL PRIMARY KEY,
    node_id            BLOB    NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    -- The node's volume, so that BlockOwned can go from a block to the
    -- account without visiting the node.
    volume_id          BLOB    NOT NULL,
    seq                INTEGER NOT NULL,
    sealed_content_key BLOB    NOT NULL,
    sealed_attrs       BLOB    NOT NULL,
    -- The block IDs in order, 32 bytes each, concatenated.
    blocks             BLOB    NOT NULL CHECK (length(blocks) % 32 = 0),
    size               INTEGER NOT NULL CHECK (size >= 0),
    author             TEXT    NOT NULL,
    signature          BLOB    NOT NULL,
    created_at         INTEGER NOT NULL,
    UNIQUE (node_id, seq)
) STRICT;

CREATE TABLE blocks (
    id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 32),
    -- No cascade: the stored bytes must be deleted with the row, so an
    -- account cannot be deleted until its blocks have been collected.
    owner_id   INTEGER NOT NULL REFERENCES users (id),
    size       INTEGER NOT NULL CHECK (size >= 0),
    refs       INTEGER NOT NULL DEFAULT 0 CHECK (refs >= 0),
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Garbage collection: unreferenced blocks, oldest first. Partial, so that
-- it holds only the garbage and referencing a block again takes it out.
CREATE INDEX blocks_garbage ON blocks (created_at) WHERE refs = 0;
-- An account's blocks, and the foreign key's check when deleting one.
CREATE INDEX blocks_owner_id ON blocks (owner_id);

-- Which revisions reference which blocks: each pair once, however often
-- the revision lists the block.
CREATE TABLE block_refs (
    revision_id BLOB NOT NULL REFERENCES revisions (id) ON DELETE CASCADE,
    block_id    BLOB NOT NULL REFERENCES blocks (id),
    PRIMARY KEY (revision_id, block_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX block_refs_block_id ON block_refs (block_id);

-- +goose StatementBegin
CREATE TRIGGER block_refs_insert AFTER INSERT ON block_refs BEGIN
    UPDATE blocks SET refs = refs + 1 WHERE id = NEW.block_id;
END;
-- +goose StatementEnd

-- Fires for the cascade from revisions too.
-- +goose StatementBegin
CREATE TRIGGER block_refs_delete AFTER DELETE ON block_refs BEGIN
    UPDATE blocks SET refs = refs - 1 WHERE id = OLD.block_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER blocks_insert AFTER INSERT ON blocks BEGIN
    UPDATE users SET used_bytes = used_bytes + NEW.size WHERE id = NEW.owner_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER blocks_delete AFTER DELETE ON blocks BEGIN
    UPDATE users SET used_bytes = used_bytes - OLD.size WHERE id = OLD.owner_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE block_refs;
DROP TABLE blocks;
DROP TABLE revisions;
DROP TABLE nodes;
DROP TABLE volumes;
ALTER TABLE users DROP COLUMN used_bytes;
ALTER TABLE users DROP COLUMN quota_bytes;
