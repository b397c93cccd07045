// Package meta defines the metadata store the server keeps its state in:
// accounts, sessions, pending login handshakes, throttle counters and server
// secrets. Implementations live in sub-packages (sqlite, and later postgres)
// and all pass the shared suite in metatest.
//
// Everything that matters across requests lives here rather than in process
// memory, so several server instances can share one store.
package meta

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every Store implementation. Callers test them with errors.Is.
var (
	// ErrNotFound means the requested record does not exist (or has expired).
	ErrNotFound = errors.New("not found")
	// ErrExists means a record with the same unique key already exists.
	ErrExists = errors.New("already exists")
	// ErrConflict means an optimistic-concurrency check failed: the record
	// changed since the caller read it.
	ErrConflict = errors.New("conflict")
)

// KDF holds the password-hashing parameters of an account (Argon2id).
type KDF struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint32
}

// Credentials is everything that changes when a password changes. It is
// replaced as one unit.
type Credentials struct {
	Salt       []byte // Argon2id salt
	KDF        KDF
	Verifier   []byte // SRP verifier v, big-endian, padded to the group size
	SealedKeys []byte // account private keys sealed under the password KEK
	Epoch      uint32 // increases by one on every password change or recovery
}

// User is one account.
type User struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	Credentials
	RecoverySealedKeys []byte // private keys sealed under the recovery key
	RecoveryAuthPub    []byte // Ed25519 public key proving possession of the recovery key
	PublicBundle       []byte // signed public key bundle, opaque to the server
}

// Session is one logged-in device. Only the SHA-256 of the bearer token is kept.
type Session struct {
	ID         string // public identifier, shown in `coffer sessions`
	UserID     int64
	TokenHash  []byte
	DeviceName string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // moves forward on activity (idle timeout)
	// UnlockKey wraps the client's local cache of its private keys. The
	// server holds it so that revoking the session makes that cache useless.
	UnlockKey []byte
}

// Challenge is the server-side state of a pending multi-step exchange (an
// SRP handshake or a recovery challenge). It is consumed exactly once.
type Challenge struct {
	ID        string
	Kind      string // "login", "passwd", "recover"
	UserName  string // as given by the client; may name no account
	UserID    int64  // 0 when the name names no account
	Epoch     uint32 // the account's credential epoch when the challenge was made
	Data      []byte // opaque server state (for SRP: A, B and the secret b)
	ExpiresAt time.Time
}

// Throttle is the failure counter behind one rate-limit key (an account, an
// IP address or a device).
type Throttle struct {
	Key          string
	Failures     int
	LastFailure  time.Time
	BlockedUntil time.Time
}

// Store is the metadata store. All methods are safe for concurrent use, also
// across processes sharing the same database.
type Store interface {
	DriveStore
	ShareStore
	LinkStore
	StorageStore
	// CreateUser inserts a new account and returns its ID. ErrExists if the name is taken.
	CreateUser(ctx context.Context, u *User) (int64, error)
	// UserByName returns the account with this exact name, or ErrNotFound.
	UserByName(ctx context.Context, name string) (*User, error)
	// UserByID returns the account with this ID, or ErrNotFound.
	UserByID(ctx context.Context, id int64) (*User, error)
	// ReplaceCredentials atomically swaps the account's credentials if its
	// current epoch is still expectEpoch (else ErrConflict), and in the same
	// transaction deletes every session of the account except keepSessionID
	// ("" keeps none) and every device of the account, so that nothing
	// granted under the old password outlives it.
	ReplaceCredentials(ctx context.Context, userID int64, expectEpoch uint32, c Credentials, keepSessionID string) error

	// PutChallenge stores a pending challenge. ErrExists if the ID is taken.
	PutChallenge(ctx context.Context, c *Challenge) error
	// TakeChallenge deletes and returns the challenge with this ID and kind.
	// It returns ErrNotFound if there is none, or if it expired before now.
	// Two concurrent calls never both succeed.
	TakeChallenge(ctx context.Context, id, kind string, now time.Time) (*Challenge, error)

	// CreateSession stores a new session if the account's credential epoch
	// is still userEpoch, checked in the same transaction (else ErrConflict),
	// so that a login proven against old credentials can never leave a
	// session behind after ReplaceCredentials. ErrExists if the ID or token
	// hash is taken; ErrNotFound if the account does not exist.
	CreateSession(ctx context.Context, s *Session, userEpoch uint32) error
	// SessionByTokenHash returns the session with this token hash, or
	// ErrNotFound. It does not check expiry; the caller does.
	SessionByTokenHash(ctx context.Context, tokenHash []byte) (*Session, error)
	// TouchSession records activity: it sets LastSeenAt and ExpiresAt.
	TouchSession(ctx context.Context, id string, lastSeen, expires time.Time) error
	// ListSessions returns the account's sessions, oldest first.
	ListSessions(ctx context.Context, userID int64) ([]Session, error)
	// DeleteSession removes one session of the account, or returns ErrNotFound.
	DeleteSession(ctx context.Context, userID int64, id string) error
	// DeleteExpiredSessions removes sessions and link sessions whose
	// ExpiresAt is before now, and challenges that expired; it returns
	// how many (account) sessions went.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// AddDevice remembers a device token hash that has logged in to the
	// account, if the account's credential epoch is still userEpoch (else
	// ErrConflict), checked atomically like CreateSession's.
	AddDevice(ctx context.Context, userID int64, tokenHash []byte, now time.Time, userEpoch uint32) error
	// DeviceKnown reports whether the device token hash belongs to the account.
	DeviceKnown(ctx context.Context, userID int64, tokenHash []byte) (bool, error)

	// GetThrottle returns the counter for key; a zero Throttle (with Key set) if none.
	GetThrottle(ctx context.Context, key string) (Throttle, error)
	// UpdateThrottle reads the counter for key, applies fn and stores the
	// result, all in one transaction, so concurrent failures are all counted.
	UpdateThrottle(ctx context.Context, key string, fn func(Throttle) Throttle) (Throttle, error)
	// ResetThrottle deletes the counter for key.
	ResetThrottle(ctx context.Context, key string) error
	// DeleteStaleThrottles deletes counters whose last failure is before
	// cutoff and that are not blocked at or after cutoff, so one row per
	// address ever seen does not pile up; it returns how many went.
	DeleteStaleThrottles(ctx context.Context, cutoff time.Time) (int, error)

	// Secret returns the server secret with this name, creating it from gen
	// on first use. Every instance sharing the store gets the same value.
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)

	// AcquireLease takes the lease name for holder until now+ttl, if it
	// is free, expired or already holder's (then it is renewed), and
	// reports whether holder has it. Leases let one of several server
	// processes at a time run a background pass; now comes from the
	// caller's clock, so ttl must dwarf the skew between machines.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder has it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}
