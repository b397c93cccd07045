-- +goose Up
-- A node record may carry the node's earlier keys, sealed by the client
-- and covered by the record's signature (files only; the server does not
-- check that). NULL when there is none, as for any column that may name
-- nothing (see 00002_drive.sql).
ALTER TABLE nodes ADD COLUMN key_history BLOB;

-- +goose Down
ALTER TABLE nodes DROP COLUMN key_history;
