-- Events: each volume's ordered history of changes, which sync clients
-- follow instead of walking the whole tree (docs/api.md, Events).
--
-- volumes.event_seq is the volume's latest sequence number. Every write
-- that changes the volume raises it and inserts its events in the same
-- transaction, so two writers of one volume serialize on the volume's
-- row, and the events commit in the order of their numbers: a reader that
-- has seen number N never later finds a new one at or below N.

-- +goose Up
ALTER TABLE volumes ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0 CHECK (event_seq >= 0);

CREATE TABLE events (
    volume_id     BLOB    NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL CHECK (seq > 0),
    -- meta.EventKind: create, revision, update, trash, restore, delete, share.
    kind          INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 7),
    -- Not foreign keys: a delete event outlives its node.
    node_id       BLOB    NOT NULL,
    parent_id     BLOB,
    old_parent_id BLOB,
    version       INTEGER NOT NULL, -- uint64, as nodes.version; 0 once gone
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (volume_id, seq)
) STRICT, WITHOUT ROWID;

-- Pruning finds old events by age. The primary key's columns ride along
-- in the index of a WITHOUT ROWID table, so it covers the search.
CREATE INDEX events_created_at ON events (created_at);

-- +goose Down
DROP TABLE events;
ALTER TABLE volumes DROP COLUMN event_seq;
