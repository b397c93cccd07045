-- SQLite's 00010: the origins of a revision's re-used blocks. See there.

-- +goose Up
ALTER TABLE revisions ADD COLUMN origins BYTEA;

-- +goose Down
ALTER TABLE revisions DROP COLUMN origins;
