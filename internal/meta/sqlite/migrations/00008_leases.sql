-- Leases: which server process runs a background pass (repair, scrub,
-- garbage collection) while several share the database.

-- +goose Up
CREATE TABLE leases (
    name       TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE leases;
