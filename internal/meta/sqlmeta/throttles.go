package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// GetThrottle returns the counter for key, or a zero Throttle with Key set
// if there is none.
func (s *Store) GetThrottle(ctx context.Context, key string) (meta.Throttle, error) {
	t, err := getThrottle(ctx, s.r, key, "")
	if err != nil {
		return meta.Throttle{}, fmt.Errorf("get throttle: %w", err)
	}
	return t, nil
}

// getThrottle reads the counter for key, with the row lock clause lock
// (see Dialect.ForUpdate) or none.
func getThrottle(ctx context.Context, q queryer, key, lock string) (meta.Throttle, error) {
	t := meta.Throttle{Key: key}
	err := q.QueryRowContext(ctx,
		`SELECT failures, last_failure, blocked_until FROM throttles WHERE key = ?`+lock, key,
	).Scan(&t.Failures, timeCol{&t.LastFailure}, timeCol{&t.BlockedUntil})
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Throttle{Key: key}, nil
	}
	return t, err
}

// UpdateThrottle applies fn to the counter for key and stores the result,
// all under the database write lock, so that concurrent updates from any
// process are applied one after another and none is lost. fn may run while
// other writers wait, so it must be quick. The stored counter always has
// Key key, whatever fn sets.
func (s *Store) UpdateThrottle(ctx context.Context, key string, fn func(meta.Throttle) meta.Throttle) (meta.Throttle, error) {
	var t meta.Throttle
	// The row lock queues concurrent failures on one counter, as SQLite's
	// write lock does; at READ COMMITTED each then reads the counter as
	// the one before it left it, rather than all but one failing to
	// serialize and starting over. The row is created, or locked if it
	// exists, by the first statement, atomically: a reset deleting it in
	// between could otherwise leave nothing to lock.
	err := s.writeLocking(ctx, func(tx txn) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO throttles (key, failures, last_failure, blocked_until)
			VALUES (?, 0, ?, ?) ON CONFLICT (key) DO UPDATE SET key = excluded.key`,
			key, micros(time.Time{}), micros(time.Time{}))
		if err != nil {
			return err
		}
		cur, err := getThrottle(ctx, tx, key, tx.d.ForUpdate)
		if err != nil {
			return err
		}
		t = fn(cur)
		t.Key = key
		_, err = tx.ExecContext(ctx, `
			INSERT INTO throttles (key, failures, last_failure, blocked_until)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
				last_failure = excluded.last_failure, blocked_until = excluded.blocked_until`,
			key, t.Failures, micros(t.LastFailure), micros(t.BlockedUntil))
		return err
	})
	if err != nil {
		return meta.Throttle{}, fmt.Errorf("update throttle: %w", err)
	}
	return t, nil
}

// ResetThrottle deletes the counter for key. A missing counter is not an
// error.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM throttles WHERE key = ?`, key); err != nil {
		return fmt.Errorf("reset throttle: %w", err)
	}
	return nil
}

// DeleteStaleThrottles deletes counters that saw no failure since cutoff and
// are not blocked past it.
func (s *Store) DeleteStaleThrottles(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx,
		`DELETE FROM throttles WHERE last_failure < ? AND blocked_until < ?`, micros(cutoff), micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("delete stale throttles: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete stale throttles: %w", err)
	}
	return int(n), nil
}

// Secret returns the server secret with this name, creating it from gen on
// first use. One value is ever stored, and every caller gets it, even when
// several processes ask at the same moment; gen may then run more than once
// (a transaction that lost the race runs again), its extra results
// discarded. If it fails, nothing is stored.
func (s *Store) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	// Every call after the first is a plain read, without the write lock.
	v, err := getSecret(ctx, s.r, name)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	err = s.write(ctx, func(tx txn) error {
		// Another caller may have created it since the read above; the
		// write lock guarantees no one else can now.
		v, err = getSecret(ctx, tx, name)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if v, err = gen(); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?)`,
			name, blob(v), micros(time.Now()))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	return v, nil
}

func getSecret(ctx context.Context, q queryer, name string) ([]byte, error) {
	var v []byte
	err := q.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(blobCol{&v})
	return v, err
}
