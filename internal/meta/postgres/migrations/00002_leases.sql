-- SQLite's 00008: leases on background passes.

-- +goose Up
CREATE TABLE leases (
    name       TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    holder     TEXT   COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
