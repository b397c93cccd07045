-- Shares: an owner gives other accounts access to one node of its volume,
-- and so to its subtree, and the members answer. Conventions as in
-- 00001_accounts.sql and 00002_drive.sql.
--
-- The member list is signed by the owner's client and kept opaque
-- (shares.list, shares.signature); share_members repeats the roles so
-- that the server can enforce them, and holds what only the server
-- learns: each member's answer.
--
-- Blocks uploaded by a member into someone else's share pass to the
-- volume's owner when the revision is committed, so that they count
-- against the owner's quota. users.used_bytes follows the change of hands
-- by a trigger, like every other change to it (see 00002_drive.sql).

-- +goose Up
CREATE TABLE shares (
    id                   BLOB    NOT NULL PRIMARY KEY,
    volume_id            BLOB    NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    -- One share per node. The cascade lets emptying the trash delete the
    -- share of a deleted node with it; UNIQUE gives the index that the
    -- cascade, ShareOfNode and Accesses look shares up by.
    node_id              BLOB    NOT NULL UNIQUE REFERENCES nodes (id) ON DELETE CASCADE,
    -- The volume's owner, repeated so that reads name it without
    -- visiting the volume.
    owner_id             INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version              INTEGER NOT NULL, -- uint64, stored as its int64 bit pattern
    list                 BLOB    NOT NULL,
    signature            BLOB    NOT NULL,
    -- Empty unless the share has uploaders.
    inbox_public         BLOB    NOT NULL,
    sealed_inbox_private BLOB    NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;

-- The owner's listing, by creation time; also the cascade from volumes.
CREATE INDEX shares_volume_id_created_at ON shares (volume_id, created_at);
-- The foreign key's lookup when an account is deleted.
CREATE INDEX shares_owner_id ON shares (owner_id);

CREATE TABLE share_members (
    share_id     BLOB    NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         INTEGER NOT NULL CHECK (role IN (1, 2, 3)), -- viewer, editor, uploader
    -- The grant sealed to the member (the node's key and name; for an
    -- uploader, the name only). Not named "grant", a reserved word in
    -- standard SQL and PostgreSQL.
    sealed_grant BLOB    NOT NULL,
    state        INTEGER NOT NULL CHECK (state IN (0, 1, 2)), -- pending, accepted, declined
    -- The member's signed consent: there if and only if accepted.
    acceptance   BLOB    NOT NULL CHECK ((state = 1) = (length(acceptance) > 0)),
    created_at   INTEGER NOT NULL,
    -- Also Accesses' lookup, from a share found up the parent chain to
    -- the caller's membership of it.
    PRIMARY KEY (share_id, user_id)
) STRICT, WITHOUT ROWID;

-- What is shared with an account (SharedWith), and the foreign key's
-- lookup when an account is deleted.
CREATE INDEX share_members_user_id ON share_members (user_id);

-- A block changing hands moves its size from one account's use to the
-- other's. The WHEN clause keeps an UPDATE that leaves the owner as it was
-- from counting anything.
-- +goose StatementBegin
CREATE TRIGGER blocks_update_owner AFTER UPDATE OF owner_id ON blocks
WHEN OLD.owner_id <> NEW.owner_id BEGIN
    UPDATE users SET used_bytes = used_bytes - OLD.size WHERE id = OLD.owner_id;
    UPDATE users SET used_bytes = used_bytes + NEW.size WHERE id = NEW.owner_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER blocks_update_owner;
DROP TABLE share_members;
DROP TABLE shares;
