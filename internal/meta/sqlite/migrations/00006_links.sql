-- Public links: an owner gives one node of its volume to anyone with the
-- link's URL, gated by SRP (docs/crypto.md 13.13). Conventions as in
-- 00001_accounts.sql and 00002_drive.sql; a time that may be unset
-- (expires_at, revoked_at) holds the zero time.Time, as nodes.trashed_at
-- does.
--
-- Blocks uploaded through an upload link belong to the link's owner from
-- the start (the link has no account to charge), so users.used_bytes
-- follows them by the triggers of 00002_drive.sql. link_blocks remembers
-- which link added which block and no drop has taken yet, so that a drop
-- names only blocks of its own link. Kept right by the triggers below,
-- whatever the code does:
--   * links.pending_bytes is the total size of the link's link_blocks
--     rows: blocks uploaded through it and not dropped. A drop moves its
--     blocks' sizes from pending_bytes to bytes (what was dropped); a
--     block collected as garbage takes its row, and its size, with it, so
--     that an abandoned upload does not use up the link for good.

-- +goose Up
CREATE TABLE links (
    id              BLOB    NOT NULL PRIMARY KEY,
    owner_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    volume_id       BLOB    NOT NULL,
    -- Not a foreign key: a link outlives its node, and then answers that
    -- the shared item was deleted.
    node_id         BLOB    NOT NULL,
    kind            INTEGER NOT NULL CHECK (kind IN (1, 2)), -- read, upload
    salt            BLOB    NOT NULL,
    kdf_memory_kib  INTEGER NOT NULL,
    kdf_iterations  INTEGER NOT NULL,
    kdf_parallelism INTEGER NOT NULL,
    verifier        BLOB    NOT NULL,
    payload         BLOB    NOT NULL,
    owner_record    BLOB    NOT NULL,
    password        INTEGER NOT NULL CHECK (password IN (0, 1)),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER NOT NULL,
    -- 0 is no limit. The store counts only below a limit; the checks
    -- hold it to that whatever the code does.
    max_downloads   INTEGER NOT NULL CHECK (max_downloads >= 0),
    downloads       INTEGER NOT NULL CHECK (downloads >= 0 AND (max_downloads = 0 OR downloads <= max_downloads)),
    max_files       INTEGER NOT NULL CHECK (max_files >= 0),
    files           INTEGER NOT NULL CHECK (files >= 0 AND (max_files = 0 OR files <= max_files)),
    max_bytes       INTEGER NOT NULL CHECK (max_bytes >= 0),
    bytes           INTEGER NOT NULL CHECK (bytes >= 0),
    pending_bytes   INTEGER NOT NULL CHECK (pending_bytes >= 0),
    CHECK (max_bytes = 0 OR bytes + pending_bytes <= max_bytes)
) STRICT;

-- The owner's listing, newest first; also the foreign key's lookup when
-- an account is deleted.
CREATE INDEX links_owner_id_created_at ON links (owner_id, created_at);

-- Sessions opened by a correct proof of a link's password. Only the
-- SHA-256 of the token is kept.
CREATE TABLE link_sessions (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    link_id    BLOB    NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Revoking a link deletes its sessions; also the cascade from links.
CREATE INDEX link_sessions_link_id ON link_sessions (link_id);
-- The periodic sweep of expired sessions.
CREATE INDEX link_sessions_expires_at ON link_sessions (expires_at);

-- Which blocks came through which upload link, until a drop takes them.
-- size is the block's (blocks.size). A block collected as garbage takes
-- its rows with it.
CREATE TABLE link_blocks (
    link_id  BLOB    NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    block_id BLOB    NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    size     INTEGER NOT NULL CHECK (size >= 0),
    PRIMARY KEY (link_id, block_id)
) STRICT, WITHOUT ROWID;

-- The cascade from blocks when garbage is collected.
CREATE INDEX link_blocks_block_id ON link_blocks (block_id);

-- +goose StatementBegin
CREATE TRIGGER link_blocks_insert AFTER INSERT ON link_blocks BEGIN
    UPDATE links SET pending_bytes = pending_bytes + NEW.size WHERE id = NEW.link_id;
END;
-- +goose StatementEnd

-- Fires for the cascade from blocks (garbage collection) too.
-- +goose StatementBegin
CREATE TRIGGER link_blocks_delete AFTER DELETE ON link_blocks BEGIN
    UPDATE links SET pending_bytes = pending_bytes - OLD.size WHERE id = OLD.link_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE link_blocks;
DROP TABLE link_sessions;
DROP TABLE links;
