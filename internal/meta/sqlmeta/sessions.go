package sqlmeta

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

const sessionColumns = `id, user_id, token_hash, device_name, created_at,
	last_seen_at, expires_at, unlock_key`

// CreateSession stores a new session if the account's credential epoch is
// still userEpoch. It returns meta.ErrConflict if the epoch moved on,
// meta.ErrNotFound if the account does not exist and meta.ErrExists if the
// ID or token hash is taken.
func (s *Store) CreateSession(ctx context.Context, sess *meta.Session, userEpoch uint32) error {
	// READ COMMITTED behind the lock taken first (see writeLocking): an
	// upload by the same account updates the row (its usage), and a
	// SERIALIZABLE login waiting for it would fail to serialize.
	err := s.writeLocking(ctx, func(tx txn) error {
		// The check and the insert share one write transaction, so
		// ReplaceCredentials, which deletes the account's sessions in its
		// own, runs wholly before or wholly after both: a session proven
		// against the old credentials is either deleted by it or never
		// stored.
		var epoch uint32
		// The share lock makes ReplaceCredentials wait for the sessions
		// being created, and those that come after it wait for it.
		err := tx.QueryRowContext(ctx, `SELECT epoch FROM users WHERE id = ?`+tx.d.ForShare, sess.UserID).Scan(&epoch)
		if err != nil {
			return s.dbErr(err)
		}
		if epoch != userEpoch {
			return fmt.Errorf("epoch is %d, not %d: %w", epoch, userEpoch, meta.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO sessions (`+sessionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, sess.UserID, blob(sess.TokenHash), sess.DeviceName, micros(sess.CreatedAt),
			micros(sess.LastSeenAt), micros(sess.ExpiresAt), blob(sess.UnlockKey))
		return s.dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("create session %q of user %d: %w", sess.ID, sess.UserID, err)
	}
	return nil
}

// SessionByTokenHash returns the session with this token hash, expired or
// not, or meta.ErrNotFound.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash []byte) (*meta.Session, error) {
	var sess meta.Session
	err := scanSession(s.r.QueryRowContext(ctx,
		`SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`, blob(tokenHash)), &sess)
	if err != nil {
		// The token hash is a credential; keep it out of error messages.
		return nil, fmt.Errorf("session by token hash: %w", s.dbErr(err))
	}
	return &sess, nil
}

// TouchSession sets the session's LastSeenAt and ExpiresAt. It returns
// meta.ErrNotFound if there is no such session.
func (s *Store) TouchSession(ctx context.Context, id string, lastSeen, expires time.Time) error {
	res, err := s.w.ExecContext(ctx,
		`UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`,
		micros(lastSeen), micros(expires), id)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("touch session %q: %w", id, s.dbErr(err))
	}
	return nil
}

// ListSessions returns the account's sessions, oldest first.
func (s *Store) ListSessions(ctx context.Context, userID int64) ([]meta.Session, error) {
	// The insertion order breaks ties between sessions created in the same
	// microsecond.
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+sessionColumns+` FROM sessions WHERE user_id = ? ORDER BY created_at, `+s.d.InsertOrder, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
	}
	defer rows.Close()
	var list []meta.Session
	for rows.Next() {
		var sess meta.Session
		if err := scanSession(rows, &sess); err != nil {
			return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
		}
		list = append(list, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
	}
	return list, nil
}

// DeleteSession removes the session with this ID if it belongs to the
// account, and otherwise returns meta.ErrNotFound, so that one account cannot
// learn or revoke another's session IDs.
func (s *Store) DeleteSession(ctx context.Context, userID int64, id string) error {
	res, err := s.w.ExecContext(ctx,
		`DELETE FROM sessions WHERE id = ? AND user_id = ?`, id, userID)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("delete session %q of user %d: %w", id, userID, s.dbErr(err))
	}
	return nil
}

// DeleteExpiredSessions removes the sessions, link sessions and
// challenges that expired before now and returns how many (account)
// sessions went.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, micros(now))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM link_sessions WHERE expires_at < ?`, micros(now)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM challenges WHERE expires_at < ?`, micros(now))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(n), nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanSession(row scanner, sess *meta.Session) error {
	return row.Scan(&sess.ID, &sess.UserID, blobCol{&sess.TokenHash}, &sess.DeviceName,
		timeCol{&sess.CreatedAt}, timeCol{&sess.LastSeenAt}, timeCol{&sess.ExpiresAt},
		blobCol{&sess.UnlockKey})
}

// PutChallenge stores a pending challenge. It returns meta.ErrExists if the
// ID is taken.
func (s *Store) PutChallenge(ctx context.Context, c *meta.Challenge) error {
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO challenges (id, kind, user_name, user_id, epoch, data, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Kind, c.UserName, c.UserID, c.Epoch, blob(c.Data), micros(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put %s challenge %q: %w", c.Kind, c.ID, s.dbErr(err))
	}
	return nil
}

// TakeChallenge deletes and returns the challenge with this ID and kind. A
// challenge of another kind is left alone. A challenge that expired before
// now is deleted all the same but reported as meta.ErrNotFound.
func (s *Store) TakeChallenge(ctx context.Context, id, kind string, now time.Time) (*meta.Challenge, error) {
	// One DELETE ... RETURNING both claims and reads the row, so of two
	// concurrent takes only one can see it.
	var c meta.Challenge
	var expires int64
	err := s.w.QueryRowContext(ctx, `
		DELETE FROM challenges WHERE id = ? AND kind = ?
		RETURNING id, kind, user_name, user_id, epoch, data, expires_at`,
		id, kind,
	).Scan(&c.ID, &c.Kind, &c.UserName, &c.UserID, &c.Epoch, blobCol{&c.Data}, &expires)
	if err != nil {
		return nil, fmt.Errorf("take %s challenge %q: %w", kind, id, s.dbErr(err))
	}
	// Compare in microseconds, as DeleteExpiredSessions does in SQL, so
	// both agree on the instant a challenge expires.
	if expires < micros(now) {
		return nil, fmt.Errorf("take %s challenge %q: expired: %w", kind, id, meta.ErrNotFound)
	}
	c.ExpiresAt = time.UnixMicro(expires).UTC()
	return &c, nil
}

// mustAffect returns sql.ErrNoRows if res changed no row.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sql.ErrNoRows
	}
	return nil
}
