package sqlmeta

import (
	"context"
	"fmt"
	"time"
)

// AcquireLease takes or renews the lease name for holder; see meta.Store.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return false, fmt.Errorf("acquire lease %q: empty name or holder, or ttl %v", name, ttl)
	}
	// One statement, atomic in both engines: the row is written only if
	// it is new, holder's own, or expired.
	res, err := s.w.ExecContext(ctx, `
		INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4`,
		name, holder, micros(now.Add(ttl)), micros(now))
	if err != nil {
		return false, fmt.Errorf("acquire lease %q: %w", name, s.dbErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lease %q: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	if err != nil {
		return fmt.Errorf("release lease %q: %w", name, s.dbErr(err))
	}
	return nil
}
