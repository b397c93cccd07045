-- +goose Up
-- The node record signs a digest of its head revision (docs/crypto.md),
-- so clients check a listed file with one signature instead of two.
ALTER TABLE nodes ADD COLUMN revision_digest BLOB NOT NULL DEFAULT x'';

-- +goose Down
ALTER TABLE nodes DROP COLUMN revision_digest;
