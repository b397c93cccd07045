-- Accounts, sessions, login handshakes, rate-limit counters and server
-- secrets.
--
-- Conventions for this and later migrations:
--   * Tables are STRICT, so a value of the wrong type is an error rather
--     than silently stored.
--   * Times are INTEGER Unix microseconds (UTC): the precision PostgreSQL
--     keeps, and a range that still holds the zero time.Time.
--   * Byte strings are BLOB NOT NULL; the Go side stores nil as an empty
--     BLOB and reads an empty BLOB back as nil.

-- +goose Up
CREATE TABLE users (
    -- AUTOINCREMENT so an ID is never handed out twice, even after the
    -- newest account is deleted: other records may name an ID long after.
    id                   INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name                 TEXT    NOT NULL UNIQUE,
    created_at           INTEGER NOT NULL,
    salt                 BLOB    NOT NULL,
    kdf_memory_kib       INTEGER NOT NULL,
    kdf_iterations       INTEGER NOT NULL,
    kdf_parallelism      INTEGER NOT NULL,
    verifier             BLOB    NOT NULL,
    sealed_keys          BLOB    NOT NULL,
    epoch                INTEGER NOT NULL,
    recovery_sealed_keys BLOB    NOT NULL,
    recovery_auth_pub    BLOB    NOT NULL,
    public_bundle        BLOB    NOT NULL
) STRICT;

CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB    NOT NULL,
    device_name  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    unlock_key   BLOB    NOT NULL
) STRICT;

-- Every authenticated request looks a session up by its token hash.
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
-- Listing an account's sessions oldest first, and deleting them all on a
-- password change.
CREATE INDEX sessions_user_id_created_at ON sessions (user_id, created_at);
-- The periodic sweep of expired sessions.
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE challenges (
    id         TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    -- 0 when user_name names no account, so deliberately not a foreign
    -- key: a handshake for an unknown name must look like any other.
    user_id    INTEGER NOT NULL,
    epoch      INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX challenges_expires_at ON challenges (expires_at);

CREATE TABLE devices (
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    BLOB    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, token_hash)
) STRICT, WITHOUT ROWID;

CREATE TABLE throttles (
    key           TEXT    NOT NULL PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE secrets (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      BLOB    NOT NULL,
    -- When the secret was generated, for operators deciding on rotation.
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE secrets;
DROP TABLE throttles;
DROP TABLE devices;
DROP TABLE challenges;
DROP TABLE sessions;
DROP TABLE users;
