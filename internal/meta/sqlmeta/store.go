// Package sqlmeta implements meta.Store on a SQL database through
// database/sql. The queries are written once, in the SQL that SQLite and
// PostgreSQL share; a Dialect supplies what differs: placeholders, error
// codes, transaction isolation and the few expressions without a common
// spelling. Packages sqlite and postgres open the database, own its schema
// and pick the dialect.
package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

var _ meta.Store = (*Store)(nil)

// Dialect is what a database engine does differently.
type Dialect struct {
	// Name names the engine in error messages.
	Name string
	// DollarParams rewrites the queries' ? and ?N placeholders to $N
	// (PostgreSQL).
	DollarParams bool
	// TxOptions are the options of every read-write transaction.
	TxOptions *sql.TxOptions
	// LockingTxOptions are those of a transaction that first locks the
	// rows its consistency depends on and then reads each row afresh
	// (see Store.writeLocking).
	LockingTxOptions *sql.TxOptions
	// Classify maps a driver error to meta.ErrExists (a unique key is
	// taken) or meta.ErrNotFound (a foreign key names a missing row), or
	// returns nil for any other error.
	Classify func(error) error
	// Retryable reports whether a transaction that failed with err may be
	// run again from the start: a serialization failure or a deadlock
	// under PostgreSQL's SERIALIZABLE isolation. Nil means never.
	Retryable func(error) bool
	// InsertOrder is the column that orders a table's rows by insertion:
	// SQLite's rowid; a serial column in PostgreSQL.
	InsertOrder string
	// ParkedNameHash is the expression that gives a node a name hash no
	// real name has (a zero byte followed by the node's ID), for moving
	// names out of each other's way within a transaction.
	ParkedNameHash string
	// FailedStatementAbortsTx says that after a statement fails, the
	// transaction accepts nothing but a rollback (PostgreSQL), rather
	// than carrying on without the statement (SQLite).
	FailedStatementAbortsTx bool
	// ForUpdate and ForShare are the clauses that lock the rows a query
	// reads in a transaction, exclusively or shared (PostgreSQL), or
	// nothing where the transaction locks the whole database (SQLite).
	// Locking a row that a transaction reads and then changes turns a
	// conflict with a concurrent transaction into a wait instead of a
	// serialization failure and a retry.
	ForUpdate, ForShare string
	// OrderedJoin is the inner join that the planner must take in the
	// order written: SQLite's CROSS JOIN.
	OrderedJoin string
	// Ping is the query that proves the database answers.
	Ping string
	// LockVolume and UnlockVolume take and release a lock on a bigint
	// key (?) for the session, outside any transaction, queueing its
	// takers: PostgreSQL's advisory locks. Writers of one volume take it
	// on the volume before their transaction (see writeEvents), so that
	// they wait their turn instead of failing to serialize on the
	// volume's row again and again. Empty where writers queue anyway
	// (SQLite's single writer).
	LockVolume, UnlockVolume string
}

// Store is a meta.Store on a SQL database.
type Store struct {
	w pool // read-write transactions and single writes
	r pool // single-statement reads
	d *Dialect
	// watch are the functions WatchEvents registered.
	watch *watchers
	// queues are this process's queues of writers per volume.
	queues *volumeQueues
}

// New returns a Store that writes through w and reads through r, which may
// be the same pool. It does not close them: the caller opened them.
func New(w, r *sql.DB, d *Dialect) *Store {
	return &Store{w: pool{w, d}, r: pool{r, d}, d: d, watch: new(watchers), queues: new(volumeQueues)}
}

// Close does nothing: the pools belong to whoever passed them to New. It
// is here so that embedding types may override it.
func (s *Store) Close() error { return nil }

// Ping checks that the database can be queried.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.r.QueryRowContext(ctx, s.d.Ping).Scan(&n); err != nil {
		return fmt.Errorf("ping %s database: %w", s.d.Name, err)
	}
	return nil
}

// maxAttempts bounds how often write runs a transaction that keeps losing
// serialization races. Each retry waits a little longer, with jitter, so
// that contenders spread out.
const maxAttempts = 20

// write runs fn in a read-write transaction. Under SQLite the transaction
// holds the database write lock from BEGIN; under PostgreSQL it is
// SERIALIZABLE. Either way nothing fn reads can change before fn writes. A
// transaction that loses a serialization race is rolled back and fn runs
// again from the start, so fn must only assign, never accumulate into,
// variables outside it.
func (s *Store) write(ctx context.Context, fn func(tx txn) error) error {
	return s.run(ctx, s.d.TxOptions, fn)
}

// writeLocking is write for a transaction whose first statement locks the
// rows that guard everything it then reads and writes, such as an
// account's row for its sessions. Under PostgreSQL it runs at READ
// COMMITTED, so that each later statement reads what was committed while
// it waited for the lock. SERIALIZABLE would read from the snapshot taken
// before the wait and, while other transactions keep committing under
// the same rows' shared locks, fail to serialize again and again.
func (s *Store) writeLocking(ctx context.Context, fn func(tx txn) error) error {
	return s.run(ctx, s.d.LockingTxOptions, fn)
}

func (s *Store) run(ctx context.Context, opts *sql.TxOptions, fn func(tx txn) error) error {
	return s.runOn(ctx, s.w, opts, fn)
}

// beginner is what starts transactions: a pool, or one connection of it.
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// runOn is run with the transactions started by db.
func (s *Store) runOn(ctx context.Context, db beginner, opts *sql.TxOptions, fn func(tx txn) error) error {
	for attempt := 1; ; attempt++ {
		err := s.try(ctx, db, opts, fn)
		if err == nil || s.d.Retryable == nil || !s.d.Retryable(err) || attempt == maxAttempts {
			return err
		}
		wait := min(time.Duration(attempt)*2*time.Millisecond, 50*time.Millisecond)
		wait += rand.N(wait)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (s *Store) try(ctx context.Context, db beginner, opts *sql.TxOptions, fn func(tx txn) error) error {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return s.dbErr(err)
	}
	// Rollback after a successful Commit is a harmless no-op; here it
	// undoes everything when fn fails or panics.
	defer sqlTx.Rollback()
	if err := fn(txn{sqlTx, s.d}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return s.dbErr(err)
	}
	return nil
}

// queryer is what pools and transactions have in common that the store
// needs.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	// dbErr is the dialect's dbErr.
	dbErr(err error) error
}

// pool is a connection pool that speaks the dialect's placeholders.
type pool struct {
	*sql.DB
	d *Dialect
}

func (p pool) dbErr(err error) error { return p.d.dbErr(err) }

func (p pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.DB.ExecContext(ctx, p.d.rebind(query), args...)
}

func (p pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.DB.QueryContext(ctx, p.d.rebind(query), args...)
}

func (p pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.DB.QueryRowContext(ctx, p.d.rebind(query), args...)
}

// txn is a transaction that speaks the dialect's placeholders.
type txn struct {
	*sql.Tx
	d *Dialect
}

func (t txn) dbErr(err error) error { return t.d.dbErr(err) }

func (t txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.d.rebind(query), args...)
}

func (t txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.d.rebind(query), args...)
}

func (t txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, t.d.rebind(query), args...)
}

func (t txn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.Tx.PrepareContext(ctx, t.d.rebind(query))
}

// execSurvivable is ExecContext for a statement whose failure the
// transaction must outlive, for the caller to try something else.
func (t txn) execSurvivable(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if !t.d.FailedStatementAbortsTx {
		return t.ExecContext(ctx, query, args...)
	}
	if _, err := t.Tx.ExecContext(ctx, "SAVEPOINT survivable"); err != nil {
		return nil, err
	}
	res, err := t.ExecContext(ctx, query, args...)
	if err != nil {
		if _, rerr := t.Tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT survivable"); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
	}
	if _, rerr := t.Tx.ExecContext(ctx, "RELEASE SAVEPOINT survivable"); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return res, err
}

// rebind rewrites a query's placeholders for the dialect: ? becomes $N,
// numbering from 1, and ?N becomes $N. Question marks inside quoted
// literals or identifiers are left alone.
func (d *Dialect) rebind(query string) string {
	if !d.DollarParams || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	next := 1
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			b.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			b.WriteByte(c)
		case c == '?':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(query[i+1 : j])
				i = j - 1
			} else {
				b.WriteString(strconv.Itoa(next))
				next++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// dbErr translates the driver errors that callers must be able to tell
// apart into meta's sentinel errors, keeping the driver error in the chain
// for the message.
func (s *Store) dbErr(err error) error {
	return s.d.dbErr(err)
}

func (d *Dialect) dbErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return meta.ErrNotFound
	}
	if d.Classify != nil {
		if sentinel := d.Classify(err); sentinel != nil {
			return fmt.Errorf("%w: %w", sentinel, err)
		}
	}
	return err
}

// micros encodes t for an integer time column.
func micros(t time.Time) int64 {
	return t.UnixMicro()
}

// timeCol scans an integer time column into a UTC time.Time.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	us, ok := src.(int64)
	if !ok {
		return fmt.Errorf("time column holds %T, want int64", src)
	}
	*c.t = time.UnixMicro(us).UTC()
	return nil
}

// blob encodes b for a NOT NULL binary column. Drivers bind a nil slice as
// NULL; callers use nil and empty interchangeably, so both become an empty
// value.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// blobCol scans a binary column, returning a zero-length value as nil so
// that nil and empty slices written by callers read back the same.
type blobCol struct{ b *[]byte }

// Scan implements sql.Scanner.
func (c blobCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.b = nil
	case []byte:
		if len(v) == 0 {
			*c.b = nil
		} else {
			// The driver may reuse v after Scan returns.
			*c.b = append([]byte(nil), v...)
		}
	default:
		return fmt.Errorf("blob column holds %T, want []byte", src)
	}
	return nil
}
