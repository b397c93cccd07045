package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// ErrWriteLocked means another connection, most likely a running server,
// held the database's write lock for longer than LockWrites would wait.
var ErrWriteLocked = errors.New("another process holds the database's write lock")

// LockWrites begins a transaction that holds SQLite's write lock (BEGIN
// IMMEDIATE on the store's writing connection) until release is called:
// every read in it sees one state of the file, and no other connection,
// in this process or another, can commit a write meanwhile. For tools
// that copy the whole database (metacopy); the transaction is meant for
// reading, and release rolls it back.
//
// It waits at most wait for a writer holding the lock to finish (the
// store's own busy timeout if wait is 0 or less), then fails with
// ErrWriteLocked. Another process's writes wait for the store's busy
// timeout, then fail, while the lock is held.
func (s *Store) LockWrites(ctx context.Context, wait time.Duration) (tx *sql.Tx, release func(), err error) {
	if wait <= 0 {
		wait = busyTimeout
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("lock writes: %w", err)
	}
	setTimeout := func(ctx context.Context, d time.Duration) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", max(1, d.Milliseconds())))
		return err
	}
	giveBack := func() {
		// The connection goes back to the store's pool: with the DSN's
		// timeout, or not at all.
		if err := setTimeout(context.Background(), busyTimeout); err != nil {
			// driver.ErrBadConn from Raw makes database/sql close it.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}
	if err := setTimeout(ctx, wait); err != nil {
		giveBack()
		return nil, nil, fmt.Errorf("lock writes: %w", err)
	}
	// The writing pool's DSN has _txlock=immediate: BEGIN IMMEDIATE.
	tx, err = conn.BeginTx(ctx, nil)
	if err != nil {
		giveBack()
		if isBusy(err) {
			return nil, nil, fmt.Errorf("%w (waited %s)", ErrWriteLocked, wait)
		}
		return nil, nil, fmt.Errorf("lock writes: %w", err)
	}
	return tx, func() {
		tx.Rollback()
		giveBack()
	}, nil
}
