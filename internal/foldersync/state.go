package foldersync

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the state database's driver
)

// Kinds of entries, as the state database stores them.
const (
	kindFolder = 1
	kindFile   = 2
)

// base is what both sides agreed a path held after the last sync that
// touched it: the remote node and revision, the content's hashes, and
// how the local file looked on disk then (so an unchanged file is known
// by its size, time and inode, without reading it again).
type base struct {
	Path    string
	Kind    int
	Node    []byte
	Version uint64 // the node record's version
	Rev     []byte // the head revision (files)
	SHA     [32]byte
	Blocks  []byte // SHA-256 of each 4 MiB plaintext block, 32 bytes each
	Size    int64
	MTime   int64 // local modification time, Unix nanoseconds
	Ino     uint64
}

// state is a pair's SQLite database in the client's config folder. Each
// change is written at once (one statement, one transaction), so a sync
// killed at any moment finds every action it finished recorded.
type state struct {
	db   *sql.DB
	path string
}

const schema = `
CREATE TABLE IF NOT EXISTS base (
	path    TEXT PRIMARY KEY,
	kind    INTEGER NOT NULL,
	node    BLOB NOT NULL,
	version INTEGER NOT NULL,
	rev     BLOB,
	sha     BLOB,
	blocks  BLOB,
	size    INTEGER NOT NULL,
	mtime   INTEGER NOT NULL,
	ino     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);`

// Keys of the kv table.
const (
	keyServer    = "server"
	keyUser      = "user"
	keyLocal     = "local"
	keyRemote    = "remote"
	keyVolume    = "volume"
	keyCursor    = "cursor"
	keyLast      = "last_event" // the identity of the event at the cursor
	keyLastSync  = "last_sync"  // RFC 3339 time of the last pass that finished
	keyLastError = "last_error" // the last pass's error, "" if it finished
	keyPending   = "pending"    // changes the last pass left undone
	keyRunning   = "running"    // "pid start-time" of a running sync
	keyHeartbeat = "heartbeat"  // RFC 3339 time a running sync last said it lives
)

// stateName is the database file of a pair: one per server, account,
// local folder and remote folder, so pairs never share state.
func stateName(server, user, local, remote string) string {
	h := sha256.Sum256([]byte(server + "\x00" + user + "\x00" + local + "\x00" + remote))
	return hex.EncodeToString(h[:12]) + ".db"
}

func openState(ctx context.Context, path string) (*state, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL in WAL mode can lose the last transactions on power loss,
	// never corrupt: the next pass then finds those paths changed on both
	// sides with equal hashes and records them again.
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sync state %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sync state %s: %w", path, err)
	}
	// The database holds file names and hashes: the user's, but private.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sync state %s: %w", path, err)
	}
	return &state{db: db, path: path}, nil
}

func (s *state) close() error { return s.db.Close() }

func (s *state) get(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read sync state %s: %w", key, err)
	}
	return v, nil
}

func (s *state) set(ctx context.Context, key, value string) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("write sync state %s: %w", key, err)
	}
	return nil
}

// all returns every base entry by path.
func (s *state) all(ctx context.Context) (map[string]*base, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT path, kind, node, version, rev, sha, blocks, size, mtime, ino FROM base`)
	if err != nil {
		return nil, fmt.Errorf("read sync state: %w", err)
	}
	defer rows.Close()
	out := map[string]*base{}
	for rows.Next() {
		var (
			b   base
			sha []byte
			ino int64
		)
		if err := rows.Scan(&b.Path, &b.Kind, &b.Node, &b.Version, &b.Rev, &sha, &b.Blocks, &b.Size, &b.MTime, &ino); err != nil {
			return nil, fmt.Errorf("read sync state: %w", err)
		}
		copy(b.SHA[:], sha)
		b.Ino = uint64(ino)
		out[b.Path] = &b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sync state: %w", err)
	}
	return out, nil
}

func (s *state) put(ctx context.Context, b *base) error {
	var sha []byte
	if b.Kind == kindFile {
		sha = b.SHA[:]
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO base (path, kind, node, version, rev, sha, blocks, size, mtime, ino)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET kind = excluded.kind, node = excluded.node, version = excluded.version,
			rev = excluded.rev, sha = excluded.sha, blocks = excluded.blocks, size = excluded.size,
			mtime = excluded.mtime, ino = excluded.ino`,
		b.Path, b.Kind, b.Node, b.Version, b.Rev, sha, b.Blocks, b.Size, b.MTime, int64(b.Ino))
	if err != nil {
		return fmt.Errorf("record %s in sync state: %w", b.Path, err)
	}
	return nil
}

// putMany records many entries in one transaction: an initial sync of
// thousands of files would otherwise pay one commit each.
func (s *state) putMany(ctx context.Context, bs []*base) error {
	if len(bs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write sync state: %w", err)
	}
	defer tx.Rollback()
	for _, b := range bs {
		var sha []byte
		if b.Kind == kindFile {
			sha = b.SHA[:]
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO base (path, kind, node, version, rev, sha, blocks, size, mtime, ino)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET kind = excluded.kind, node = excluded.node, version = excluded.version,
			rev = excluded.rev, sha = excluded.sha, blocks = excluded.blocks, size = excluded.size,
			mtime = excluded.mtime, ino = excluded.ino`,
			b.Path, b.Kind, b.Node, b.Version, b.Rev, sha, b.Blocks, b.Size, b.MTime, int64(b.Ino)); err != nil {
			return fmt.Errorf("record %s in sync state: %w", b.Path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write sync state: %w", err)
	}
	return nil
}

// Paths below dir sort, byte-wise as SQLite compares TEXT, between
// dir+"/" and dir+"0" ('0' follows '/').
const subtree = `path = ? OR (path >= ? AND path < ?)`

func subtreeArgs(dir string) []any { return []any{dir, dir + "/", dir + "0"} }

// remove forgets path and, for a folder, everything below it.
func (s *state) remove(ctx context.Context, path string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM base WHERE `+subtree, subtreeArgs(path)...); err != nil {
		return fmt.Errorf("forget %s in sync state: %w", path, err)
	}
	return nil
}

// clear forgets every entry.
func (s *state) clear(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM base`); err != nil {
		return fmt.Errorf("clear sync state: %w", err)
	}
	return nil
}

// rename moves the entries at and below from to to, in one transaction;
// whatever was recorded at and below to goes.
func (s *state) rename(ctx context.Context, from, to string) error {
	if from == "" {
		return fmt.Errorf("move the synced folder itself in sync state")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write sync state: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT path FROM base WHERE `+subtree, subtreeArgs(from)...)
	if err != nil {
		return fmt.Errorf("move %s in sync state: %w", from, err)
	}
	var moving []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return fmt.Errorf("move %s in sync state: %w", from, err)
		}
		moving = append(moving, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("move %s in sync state: %w", from, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM base WHERE `+subtree, subtreeArgs(to)...); err != nil {
		return fmt.Errorf("move %s in sync state: %w", from, err)
	}
	for _, p := range moving {
		if _, err := tx.ExecContext(ctx, `UPDATE base SET path = ? WHERE path = ?`, to+p[len(from):], p); err != nil {
			return fmt.Errorf("move %s in sync state: %w", from, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write sync state: %w", err)
	}
	return nil
}

// under reports whether p is dir or below it ("" is the root, above all).
func under(p, dir string) bool {
	return dir == "" || p == dir || strings.HasPrefix(p, dir+"/")
}
