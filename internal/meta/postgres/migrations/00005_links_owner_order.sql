-- The index that lists an owner's links (LinksOfOwner: ORDER BY
-- created_at DESC, seq DESC) in its order. SQLite's links_owner_id_created_at
-- serves that order by itself, as every SQLite index ends with the rowid,
-- the order of insertion that seq stands for here; PostgreSQL's index on
-- (owner_id, created_at) left the tie-break to a sort of all the owner's
-- links. The new index replaces it: its prefix serves what the old one did
-- (the foreign key's cascade from users). No SQLite migration pairs with
-- this one, as SQLite's schema already has the index. TestQueryPlans checks
-- the plan.

-- +goose Up
CREATE INDEX links_owner_id_created_at_seq ON links (owner_id, created_at, seq);
DROP INDEX links_owner_id_created_at;

-- +goose Down
CREATE INDEX links_owner_id_created_at ON links (owner_id, created_at);
DROP INDEX links_owner_id_created_at_seq;
