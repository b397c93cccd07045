-- SQLite's 00009: each volume's ordered history of changes. See there.

-- +goose Up
ALTER TABLE volumes ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0 CHECK (event_seq >= 0);

CREATE TABLE events (
    volume_id     BYTEA  NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL CHECK (seq > 0),
    kind          BIGINT NOT NULL CHECK (kind BETWEEN 1 AND 7),
    node_id       BYTEA  NOT NULL,
    parent_id     BYTEA,
    old_parent_id BYTEA,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (volume_id, seq)
);

-- As SQLite's index, which carries the primary key by itself.
CREATE INDEX events_created_at ON events (created_at) INCLUDE (volume_id, seq);

-- +goose Down
DROP TABLE events;
ALTER TABLE volumes DROP COLUMN event_seq;
