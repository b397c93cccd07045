package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

const userColumns = `id, name, created_at, salt, kdf_memory_kib, kdf_iterations,
	kdf_parallelism, verifier, sealed_keys, epoch, recovery_sealed_keys,
	recovery_auth_pub, public_bundle`

// CreateUser inserts a new account and returns its ID. u.ID is ignored.
func (s *Store) CreateUser(ctx context.Context, u *meta.User) (int64, error) {
	var id int64
	err := s.w.QueryRowContext(ctx, `
		INSERT INTO users (name, created_at, salt, kdf_memory_kib, kdf_iterations,
			kdf_parallelism, verifier, sealed_keys, epoch, recovery_sealed_keys,
			recovery_auth_pub, public_bundle)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		u.Name, micros(u.CreatedAt), blob(u.Salt), u.KDF.MemoryKiB, u.KDF.Iterations,
		u.KDF.Parallelism, blob(u.Verifier), blob(u.SealedKeys), u.Epoch,
		blob(u.RecoverySealedKeys), blob(u.RecoveryAuthPub), blob(u.PublicBundle),
	).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create user: %w", s.dbErr(err))
	}
	return id, nil
}

// UserByName returns the account with exactly this name (compared byte for
// byte), or meta.ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (*meta.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if err != nil {
		return nil, fmt.Errorf("user by name: %w", s.dbErr(err))
	}
	return u, nil
}

// UserByID returns the account with this ID, or meta.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (*meta.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, s.dbErr(err))
	}
	return u, nil
}

func scanUser(row *sql.Row) (*meta.User, error) {
	var u meta.User
	err := row.Scan(&u.ID, &u.Name, timeCol{&u.CreatedAt}, blobCol{&u.Salt},
		&u.KDF.MemoryKiB, &u.KDF.Iterations, &u.KDF.Parallelism,
		blobCol{&u.Verifier}, blobCol{&u.SealedKeys}, &u.Epoch,
		blobCol{&u.RecoverySealedKeys}, blobCol{&u.RecoveryAuthPub}, blobCol{&u.PublicBundle})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// ReplaceCredentials swaps the account's credentials if its epoch is still
// expectEpoch, and deletes its sessions other than keepSessionID and all its
// devices in the same transaction. It returns meta.ErrConflict if the epoch moved on and
// meta.ErrNotFound if there is no such account. c.Epoch is stored as given.
func (s *Store) ReplaceCredentials(ctx context.Context, userID int64, expectEpoch uint32, c meta.Credentials, keepSessionID string) error {
	// The UPDATE locks the account's row, which CreateSession holds
	// shared while it checks the epoch and inserts: once it has the
	// lock, every session proven against the old epoch is committed,
	// and the DELETE below sees it; every later one will see the new
	// epoch.
	err := s.writeLocking(ctx, func(tx txn) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE users SET salt = ?, kdf_memory_kib = ?, kdf_iterations = ?,
				kdf_parallelism = ?, verifier = ?, sealed_keys = ?, epoch = ?
			WHERE id = ? AND epoch = ?`,
			blob(c.Salt), c.KDF.MemoryKiB, c.KDF.Iterations, c.KDF.Parallelism,
			blob(c.Verifier), blob(c.SealedKeys), c.Epoch, userID, expectEpoch)
		if err != nil {
			return s.dbErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var epoch uint32
			err := tx.QueryRowContext(ctx, `SELECT epoch FROM users WHERE id = ?`, userID).Scan(&epoch)
			if err != nil {
				return s.dbErr(err)
			}
			return fmt.Errorf("epoch is %d, not %d: %w", epoch, expectEpoch, meta.ErrConflict)
		}
		// A password change must log out every other device: whoever
		// learnt the old password may hold one of those sessions.
		_, err = tx.ExecContext(ctx,
			`DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keepSessionID)
		if err != nil {
			return s.dbErr(err)
		}
		// A known device logs in under a throttle counter of its own,
		// exempt from the account's lockout; whoever logged in with the
		// old password must not keep that standing.
		_, err = tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = ?`, userID)
		return s.dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("replace credentials of user %d: %w", userID, err)
	}
	return nil
}

// AddDevice remembers that the device with this token hash logged in to the
// account. Adding a known device again only records the time. It returns
// meta.ErrNotFound if there is no such account.
func (s *Store) AddDevice(ctx context.Context, userID int64, tokenHash []byte, now time.Time, userEpoch uint32) error {
	// READ COMMITTED behind the lock (see writeLocking): an upload by the
	// same account updates the row (its usage), and a SERIALIZABLE login
	// waiting for it would fail to serialize.
	err := s.writeLocking(ctx, func(tx txn) error {
		// As in CreateSession: the shared lock on the account's row
		// orders this against ReplaceCredentials, which forgets every
		// device, so a device proven with the old password is either
		// forgotten by it or never remembered.
		var epoch uint32
		err := tx.QueryRowContext(ctx, `SELECT epoch FROM users WHERE id = ?`+tx.d.ForShare, userID).Scan(&epoch)
		if err != nil {
			return tx.dbErr(err)
		}
		if epoch != userEpoch {
			return fmt.Errorf("epoch is %d, not %d: %w", epoch, userEpoch, meta.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO devices (user_id, token_hash, first_seen_at, last_seen_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (user_id, token_hash) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
			userID, blob(tokenHash), micros(now), micros(now))
		return tx.dbErr(err)
	})
	if err != nil {
		return fmt.Errorf("add device of user %d: %w", userID, err)
	}
	return nil
}

// DeviceKnown reports whether the device token hash belongs to the account.
func (s *Store) DeviceKnown(ctx context.Context, userID int64, tokenHash []byte) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx,
		`SELECT 1 FROM devices WHERE user_id = ? AND token_hash = ?`,
		userID, blob(tokenHash)).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up device of user %d: %w", userID, err)
	}
	return true, nil
}
