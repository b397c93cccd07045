// Package metacopy copies a deployment's metadata, table by table, into a
// new PostgreSQL database: what `coffer admin migrate` does to move an
// embedded SQLite deployment to PostgreSQL without losing anything.
//
// Both databases are opened through their stores, so that each is
// migrated to its latest schema first; the copy then goes below the
// stores, row by row, because the stores' methods cannot recreate rows as
// they are (IDs, counters, times, states). The destination is written in
// one transaction, committed only once every row count, every counter
// kept by the triggers and every value of every row matches the source:
// a copy that fails leaves the destination as empty as it found it.
//
// An SQLite source is read under its write lock, so that a server left
// running cannot commit a write the copy would miss; once the copy is
// committed, RetireSQLite renames the file, so that nothing opens the
// stale metadata again by mistake.
package metacopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/metadb"
	"github.com/coffer-drive/coffer/internal/meta/postgres"
	"github.com/coffer-drive/coffer/internal/meta/sqlite"
)

// TableCount is how many rows of one table were copied.
type TableCount struct {
	Table string
	Rows  int64
}

// Report says what a copy did.
type Report struct {
	// Tables are the copied tables, in the order they were copied.
	Tables []TableCount
	// Rows is the total of Tables' rows.
	Rows int64
	// Duration is how long the copy took, verification included.
	Duration time.Duration
}

// Options tune a copy. The zero value is fine.
type Options struct {
	// Progress, if set, is called after each table is copied, before
	// the copy is verified and committed: the counts are not final until
	// Copy returns without an error.
	Progress func(table string, rows int64)
	// LockWait is how long to wait for SQLite's write lock, which
	// another process (a server still running) may hold, before failing
	// with ErrSourceBusy (default 5 s).
	LockWait time.Duration
	// BatchRows is how many rows go into one INSERT at most (default
	// 500): fewer round trips than one per row, and statements that
	// stay well below PostgreSQL's 65535 parameters.
	BatchRows int
}

// ErrNotEmpty means the destination already holds data: a copy only
// goes into a new database, never over a deployment's metadata.
var ErrNotEmpty = errors.New("destination is not empty")

// ErrSourceBusy means another process kept the SQLite source's write
// lock: a server is still running on it.
var ErrSourceBusy = errors.New("the source is in use, stop the servers first")

// table is one table to copy.
type table struct {
	name string
	// insertOrder: copy the rows in the order they were inserted (the
	// engine's rowid or seq), which the store uses to order ties, and
	// which PostgreSQL's seq identity column then keeps.
	insertOrder bool
	// tree: nodes.parent_id references nodes, so parents go first:
	// rows by their depth below a volume's root.
	tree bool
	// counters are columns the triggers keep (see the migrations),
	// copied as 0, recomputed from the copied rows (see recount) and
	// checked against the source's; key is the primary key they are
	// compared by.
	counters []string
	key      string
	// triggers are the destination's triggers on this table that keep
	// those counters, switched off while the rows are copied.
	triggers []string
}

// tables are every table of the schema that holds state, in an order
// that puts each row after the rows its foreign keys name.
var tables = []table{
	{name: "users", counters: []string{"used_bytes"}, key: "id"},
	{name: "sessions", insertOrder: true},
	{name: "challenges"},
	{name: "devices"},
	{name: "throttles"},
	{name: "secrets"},
	{name: "volumes"},
	{name: "nodes", tree: true},
	{name: "revisions"},
	{name: "blocks", counters: []string{"refs"}, key: "id", triggers: []string{"blocks_usage"}},
	{name: "block_refs", triggers: []string{"block_refs_count"}},
	{name: "shares"},
	{name: "share_members"},
	{name: "links", insertOrder: true, counters: []string{"pending_bytes"}, key: "id"},
	{name: "link_sessions"},
	{name: "link_blocks", triggers: []string{"link_blocks_pending"}},
	{name: "storage_locations"},
	{name: "storage_layout"},
	// Each volume's history, numbered by volumes.event_seq, which comes
	// along with the volumes: the copy's next event follows the
	// source's last, so sync clients carry on with their cursors.
	{name: "events"},
}

// skipped are the tables deliberately left behind.
var skipped = map[string]bool{
	// Leases name the server processes running a background pass; the
	// servers are stopped for the copy, and a lease left behind would
	// only hold the next pass up until it expired.
	"leases": true,
	// Goose's record of the migrations applied: each database has its
	// own, for its own engine's migrations.
	"goose_db_version": true,
}

// engine is what differs between the source's engines.
type engine struct {
	name string
	// insertOrder is the column holding the insertion order of sessions
	// and links (sqlmeta.Dialect.InsertOrder).
	insertOrder string
	// txOptions give one consistent snapshot for the whole read, for a
	// PostgreSQL source (an SQLite source is read under its write lock).
	txOptions *sql.TxOptions
	// listTables lists the tables of the store's schema.
	listTables string
	// usersHighWater returns the highest users.id ever handed out,
	// deleted accounts included: no ID may be handed out twice.
	usersHighWater string
}

var (
	sqliteEngine = engine{
		name:        "sqlite",
		insertOrder: "rowid",
		listTables:  `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`,
		// users.id is AUTOINCREMENT: sqlite_sequence keeps the
		// highest ID used, which is above every row's once the newest
		// account is deleted.
		usersHighWater: `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'users'), 0)`,
	}
	postgresEngine = engine{
		name:           "postgres",
		insertOrder:    "seq",
		txOptions:      &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
		listTables:     `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`,
		usersHighWater: `SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass), 0)`,
	}
)

// Migrate opens the store at from (which must exist: see
// metadb.OpenExisting) and the PostgreSQL database at to (creating its
// schema if it has none), and copies the one into the other with Copy.
func Migrate(ctx context.Context, from, to metadb.Target, opts Options) (Report, error) {
	if to.Driver != "postgres" {
		return Report{}, fmt.Errorf("the destination %s is not a PostgreSQL database: give a postgres:// URL", to)
	}
	src, err := metadb.OpenExisting(ctx, from)
	if err != nil {
		return Report{}, fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, err := metadb.Open(ctx, to)
	if err != nil {
		return Report{}, fmt.Errorf("destination: %w", err)
	}
	defer dst.Close()
	pg, ok := dst.(*postgres.Store)
	if !ok {
		return Report{}, fmt.Errorf("destination %s: not a PostgreSQL store", to)
	}
	return Copy(ctx, src, pg, opts)
}

// Copy copies every table of src (an SQLite or PostgreSQL store) into
// dst, which must hold no rows in any of them (ErrNotEmpty). Both must
// be at their latest schema, as opening them makes them. Nobody may
// write to src meanwhile: the copy reads one snapshot, and writes after
// it would be lost. An SQLite source is read under its write lock
// (sqlite.Store.LockWrites), so that no write can commit during the
// copy: if another process keeps the lock for opts.LockWait, Copy fails
// with ErrSourceBusy. dst's tables are locked against writers for the
// whole copy.
//
// On any error the destination is left as it was: the copy is one
// transaction, committed after the verification.
func Copy(ctx context.Context, src meta.Store, dst *postgres.Store, opts Options) (Report, error) {
	start := time.Now()
	if opts.BatchRows <= 0 {
		opts.BatchRows = 500
	}
	if opts.LockWait <= 0 {
		opts.LockWait = 5 * time.Second
	}
	var (
		srcTx *sql.Tx
		eng   engine
	)
	switch s := src.(type) {
	case *sqlite.Store:
		eng = sqliteEngine
		tx, release, err := s.LockWrites(ctx, opts.LockWait)
		if errors.Is(err, sqlite.ErrWriteLocked) {
			return Report{}, fmt.Errorf("%w: %w", ErrSourceBusy, err)
		}
		if err != nil {
			return Report{}, fmt.Errorf("source: %w", err)
		}
		defer release()
		srcTx = tx
	case *postgres.Store:
		eng = postgresEngine
		tx, err := s.DB().BeginTx(ctx, eng.txOptions)
		if err != nil {
			return Report{}, fmt.Errorf("source: begin: %w", err)
		}
		defer tx.Rollback()
		srcTx = tx
	default:
		return Report{}, fmt.Errorf("cannot copy from a %T", src)
	}
	dstTx, err := dst.DB().BeginTx(ctx, nil)
	if err != nil {
		return Report{}, fmt.Errorf("destination: begin: %w", err)
	}
	defer dstTx.Rollback()

	c := &copier{src: srcTx, dst: dstTx, eng: eng, opts: opts}
	rep, err := c.run(ctx)
	if err != nil {
		return Report{}, err
	}
	if err := dstTx.Commit(); err != nil {
		// The connection may have dropped after PostgreSQL committed:
		// the caller cannot tell the operator nothing was copied.
		return Report{}, fmt.Errorf("%w: %w", ErrCommitUnknown, err)
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// ErrCommitUnknown means the destination's COMMIT failed, which may or
// may not have committed the copy.
var ErrCommitUnknown = errors.New("destination: commit failed, and whether the copy was committed is unknown")

// copier is one copy in progress.
type copier struct {
	src, dst *sql.Tx
	eng      engine
	opts     Options
	// columns are the destination's columns, by table and name.
	columns map[string]map[string]column
	// keys are the destination's primary key columns, by table.
	keys map[string][]string
	// copied are the columns copied, by table: the source's.
	copied map[string][]string
}

// testHookCopied, if set (by tests), runs on the destination's
// transaction once every table is copied, before the verification.
var testHookCopied func(ctx context.Context, dst *sql.Tx) error

func (c *copier) run(ctx context.Context) (Report, error) {
	if err := c.checkSourceTables(ctx); err != nil {
		return Report{}, err
	}
	if err := c.loadColumns(ctx); err != nil {
		return Report{}, err
	}
	if err := c.lockAndCheckEmpty(ctx); err != nil {
		return Report{}, err
	}
	if err := c.switchTriggers(ctx, "DISABLE"); err != nil {
		return Report{}, err
	}
	var rep Report
	for _, t := range tables {
		n, err := c.copyTable(ctx, t)
		if err != nil {
			return Report{}, fmt.Errorf("copy %s: %w", t.name, err)
		}
		rep.Tables = append(rep.Tables, TableCount{Table: t.name, Rows: n})
		rep.Rows += n
		if c.opts.Progress != nil {
			c.opts.Progress(t.name, n)
		}
	}
	if testHookCopied != nil {
		if err := testHookCopied(ctx, c.dst); err != nil {
			return Report{}, err
		}
	}
	if err := c.recount(ctx); err != nil {
		return Report{}, err
	}
	if err := c.switchTriggers(ctx, "ENABLE"); err != nil {
		return Report{}, err
	}
	for _, tc := range rep.Tables {
		if err := c.verifyCount(ctx, tc); err != nil {
			return Report{}, fmt.Errorf("verify: %w", err)
		}
	}
	for _, t := range tables {
		for _, col := range t.counters {
			if err := c.verifyCounter(ctx, t, col); err != nil {
				return Report{}, fmt.Errorf("verify: %w", err)
			}
		}
	}
	for _, t := range tables {
		if err := c.verifyContent(ctx, t); err != nil {
			return Report{}, fmt.Errorf("verify: %w", err)
		}
	}
	if err := c.setSequences(ctx); err != nil {
		return Report{}, err
	}
	// Statistics now, so that the servers' first queries are planned
	// for the tables as they are, not as the empty tables they were.
	// ANALYZE counts this transaction's rows.
	for _, t := range tables {
		if _, err := c.dst.ExecContext(ctx, "ANALYZE "+quote(t.name)); err != nil {
			return Report{}, fmt.Errorf("destination: analyze %s: %w", t.name, err)
		}
	}
	return rep, nil
}

// switchTriggers disables or enables the destination's counting
// triggers. Fired once per row, they update one account's row once per
// block, and PostgreSQL walks every version of a row the transaction
// made to find the latest: quadratic, 20 s for 40,000 blocks of one
// account (measured), hours for millions. ALTER TABLE is transactional:
// no other session ever sees them off, and a failed copy rolls the
// switch back with everything else. It needs the role that owns the
// tables, which the one that created them by migrating does.
func (c *copier) switchTriggers(ctx context.Context, how string) error {
	for _, t := range tables {
		for _, tr := range t.triggers {
			if _, err := c.dst.ExecContext(ctx, "ALTER TABLE "+quote(t.name)+" "+how+" TRIGGER "+quote(tr)); err != nil {
				return fmt.Errorf("destination: %s trigger %s on %s for the copy (the tables' owner must run it): %w", strings.ToLower(how), tr, t.name, err)
			}
		}
	}
	return nil
}

// recount sets the counters the switched-off triggers would have kept,
// from the copied rows, one statement each: what the triggers of the
// migrations maintain, row by row. verifyCounter then holds them to the
// source's, so that a counter whose meaning a later migration changed
// fails the copy instead of coming out wrong.
func (c *copier) recount(ctx context.Context) error {
	for _, q := range []struct{ counter, stmt string }{
		{"users.used_bytes", `UPDATE users u SET used_bytes = b.total
			FROM (SELECT owner_id, sum(size) AS total FROM blocks GROUP BY owner_id) b
			WHERE u.id = b.owner_id`},
		{"blocks.refs", `UPDATE blocks b SET refs = r.n
			FROM (SELECT block_id, count(*) AS n FROM block_refs GROUP BY block_id) r
			WHERE b.id = r.block_id`},
		{"links.pending_bytes", `UPDATE links l SET pending_bytes = p.total
			FROM (SELECT link_id, sum(size) AS total FROM link_blocks GROUP BY link_id) p
			WHERE l.id = p.link_id`},
	} {
		if _, err := c.dst.ExecContext(ctx, q.stmt); err != nil {
			return fmt.Errorf("destination: count %s: %w", q.counter, err)
		}
	}
	return nil
}

// checkSourceTables refuses a source holding a table this package does
// not know, which a copy would silently leave behind: a migration added
// it and this list was not brought up to date.
func (c *copier) checkSourceTables(ctx context.Context) error {
	rows, err := c.src.QueryContext(ctx, c.eng.listTables)
	if err != nil {
		return fmt.Errorf("source: list tables: %w", err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("source: list tables: %w", err)
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("source: list tables: %w", err)
	}
	for name := range have {
		if !skipped[name] && !slices.ContainsFunc(tables, func(t table) bool { return t.name == name }) {
			return fmt.Errorf("source: table %q is unknown to this version of the copy, which would leave it behind", name)
		}
	}
	for _, t := range tables {
		if !have[t.name] {
			return fmt.Errorf("source: no table %q: is it a Coffer database at its latest schema?", t.name)
		}
	}
	return nil
}

// column is what the copy needs to know of a destination column.
type column struct {
	boolean bool // PostgreSQL boolean, an INTEGER 0 or 1 in SQLite
	bytea   bool
	notNull bool
}

// loadColumns reads the destination's columns and primary keys, looking
// the tables up through the search_path as the store's own queries do.
func (c *copier) loadColumns(ctx context.Context) error {
	c.columns = map[string]map[string]column{}
	c.keys = map[string][]string{}
	c.copied = map[string][]string{}
	for _, t := range tables {
		key, err := c.primaryKey(ctx, t.name)
		if err != nil {
			return err
		}
		c.keys[t.name] = key
		rows, err := c.dst.QueryContext(ctx, `
			SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
			FROM pg_attribute a
			WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, t.name)
		if err != nil {
			return fmt.Errorf("destination: columns of %s: %w", t.name, err)
		}
		cols := map[string]column{}
		for rows.Next() {
			var (
				name, typ string
				notNull   bool
			)
			if err := rows.Scan(&name, &typ, &notNull); err != nil {
				rows.Close()
				return fmt.Errorf("destination: columns of %s: %w", t.name, err)
			}
			cols[name] = column{boolean: typ == "boolean", bytea: typ == "bytea", notNull: notNull}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("destination: columns of %s: %w", t.name, err)
		}
		if len(cols) == 0 {
			return fmt.Errorf("destination: no table %q", t.name)
		}
		c.columns[t.name] = cols
	}
	return nil
}

// lockAndCheckEmpty locks the destination's tables against writers
// (readers may go on) for the rest of the transaction, so that nothing
// slips in between the check and the commit, and refuses a destination
// that holds any row.
func (c *copier) lockAndCheckEmpty(ctx context.Context) error {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = quote(t.name)
	}
	if _, err := c.dst.ExecContext(ctx, "LOCK TABLE "+join(names)+" IN EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("destination: lock tables: %w", err)
	}
	for _, t := range tables {
		var found bool
		if err := c.dst.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(t.name)+")").Scan(&found); err != nil {
			return fmt.Errorf("destination: check %s: %w", t.name, err)
		}
		if found {
			return fmt.Errorf("%w: table %s has rows (a copy goes into a new database only)", ErrNotEmpty, t.name)
		}
	}
	return nil
}

// selectQuery reads table t from the source in the order it must be
// inserted.
func (c *copier) selectQuery(t table) string {
	switch {
	case t.tree:
		// Breadth first from the roots: every parent before its
		// children. A node no root reaches (impossible through the
		// store) is left out, and the row counts then differ.
		return `WITH RECURSIVE tree (id, depth) AS (
				SELECT id, 0 FROM nodes WHERE parent_id IS NULL
				UNION ALL
				SELECT n.id, tree.depth + 1 FROM nodes n JOIN tree ON n.parent_id = tree.id
			)
			SELECT nodes.* FROM tree JOIN nodes ON nodes.id = tree.id ORDER BY tree.depth`
	case t.insertOrder:
		return "SELECT * FROM " + quote(t.name) + " ORDER BY " + c.eng.insertOrder
	default:
		return "SELECT * FROM " + quote(t.name)
	}
}

// copyTable streams table t from the source into the destination, in
// batches, and returns how many rows it copied.
func (c *copier) copyTable(ctx context.Context, t table) (int64, error) {
	rows, err := c.src.QueryContext(ctx, c.selectQuery(t))
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	c.copied[t.name] = names
	convs := make([]converter, len(names))
	for i, name := range names {
		col, ok := c.columns[t.name][name]
		if !ok {
			return 0, fmt.Errorf("the destination has no column %s.%s: are both databases at their latest schema?", t.name, name)
		}
		convs[i] = converter{col: col, zero: slices.Contains(t.counters, name)}
	}
	ins := newInserter(c.dst, t.name, names, c.opts.BatchRows)
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, fmt.Errorf("read: %w", err)
		}
		row := make([]any, len(names))
		for i, v := range vals {
			if row[i], err = convs[i].convert(v); err != nil {
				return n, fmt.Errorf("column %s: %w", names[i], err)
			}
		}
		if err := ins.add(ctx, row); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("read: %w", err)
	}
	if err := ins.flush(ctx); err != nil {
		return n, err
	}
	return n, nil
}

// converter turns a value read from the source into one for the
// destination's column.
type converter struct {
	col  column
	zero bool // a trigger-kept counter: 0, for the triggers to count up
}

func (cv converter) convert(v any) (any, error) {
	switch {
	case cv.zero:
		return int64(0), nil
	case cv.col.boolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case int64:
			if b == 0 || b == 1 {
				return b == 1, nil
			}
			return nil, fmt.Errorf("holds %d, want 0 or 1", b)
		default:
			return nil, fmt.Errorf("holds a %T, want 0 or 1", v)
		}
	case cv.col.bytea && cv.col.notNull:
		// SQLite's driver reads a zero-length BLOB as a nil []byte,
		// which pgx writes as NULL. A NOT NULL column never held NULL;
		// in the others the store reads NULL and empty alike
		// (sqlmeta.nullBlob), so NULL may stay NULL there.
		if b, ok := v.([]byte); v == nil || ok && b == nil {
			return []byte{}, nil
		}
	}
	return v, nil
}

// verifyCount checks that the destination holds as many rows of a table
// as the source, and as were copied.
func (c *copier) verifyCount(ctx context.Context, tc TableCount) error {
	q := "SELECT count(*) FROM " + quote(tc.Table)
	var have, got int64
	if err := c.src.QueryRowContext(ctx, q).Scan(&have); err != nil {
		return fmt.Errorf("count %s in the source: %w", tc.Table, err)
	}
	if err := c.dst.QueryRowContext(ctx, q).Scan(&got); err != nil {
		return fmt.Errorf("count %s in the destination: %w", tc.Table, err)
	}
	if have != got || got != tc.Rows {
		return fmt.Errorf("%s: the source has %d rows, the destination %d after copying %d", tc.Table, have, got, tc.Rows)
	}
	return nil
}

// verifyCounter checks that the destination's triggers counted column
// col of every row of t to what the source holds, walking both in key
// order side by side. Bytes compare alike in both engines (memcmp).
func (c *copier) verifyCounter(ctx context.Context, t table, col string) error {
	q := "SELECT " + quote(t.key) + ", " + quote(col) + " FROM " + quote(t.name) + " ORDER BY " + quote(t.key)
	srows, err := c.src.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("%s.%s in the source: %w", t.name, col, err)
	}
	defer srows.Close()
	// The two transactions are on two connections: both cursors stay
	// open side by side.
	drows, err := c.dst.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("%s.%s in the destination: %w", t.name, col, err)
	}
	defer drows.Close()
	for {
		sNext, dNext := srows.Next(), drows.Next()
		if !sNext || !dNext {
			if sNext != dNext {
				return fmt.Errorf("%s: the rows differ", t.name)
			}
			break
		}
		var (
			sKey, dKey any
			sVal, dVal int64
		)
		if err := srows.Scan(&sKey, &sVal); err != nil {
			return fmt.Errorf("%s.%s in the source: %w", t.name, col, err)
		}
		if err := drows.Scan(&dKey, &dVal); err != nil {
			return fmt.Errorf("%s.%s in the destination: %w", t.name, col, err)
		}
		if !sameKey(sKey, dKey) {
			return fmt.Errorf("%s: the rows differ (%s %s in the source, %s in the destination)", t.name, t.key, keyString(sKey), keyString(dKey))
		}
		if sVal != dVal {
			return fmt.Errorf("%s.%s of %s %s: the source holds %d, the destination's triggers counted %d", t.name, col, t.key, keyString(sKey), sVal, dVal)
		}
	}
	if err := srows.Err(); err != nil {
		return fmt.Errorf("%s.%s in the source: %w", t.name, col, err)
	}
	if err := drows.Err(); err != nil {
		return fmt.Errorf("%s.%s in the destination: %w", t.name, col, err)
	}
	return nil
}

func sameKey(a, b any) bool {
	switch a := a.(type) {
	case int64:
		b, ok := b.(int64)
		return ok && a == b
	case []byte:
		b, ok := b.([]byte)
		return ok && string(a) == string(b)
	}
	return false
}

func keyString(k any) string {
	if b, ok := k.([]byte); ok {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprint(k)
}

// setSequences moves the destination's identity sequences past the
// copied values, which were inserted explicitly (users.id) or may have
// been (seq, copying from PostgreSQL), so that the next account, session
// or link gets a new value, after every copied one.
func (c *copier) setSequences(ctx context.Context) error {
	var usersHW int64
	if err := c.src.QueryRowContext(ctx, c.eng.usersHighWater).Scan(&usersHW); err != nil {
		return fmt.Errorf("source: highest account ID: %w", err)
	}
	for _, s := range []struct {
		table, col string
		floor      int64
	}{
		{"users", "id", usersHW},
		{"sessions", "seq", 0},
		{"links", "seq", 0},
	} {
		var high int64
		q := "SELECT COALESCE(max(" + quote(s.col) + "), 0) FROM " + quote(s.table)
		if err := c.dst.QueryRowContext(ctx, q).Scan(&high); err != nil {
			return fmt.Errorf("destination: highest %s.%s: %w", s.table, s.col, err)
		}
		high = max(high, s.floor)
		if high == 0 {
			continue // nothing copied: the sequence starts at 1
		}
		if _, err := c.dst.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), $3)`, s.table, s.col, high); err != nil {
			return fmt.Errorf("destination: set the sequence of %s.%s: %w", s.table, s.col, err)
		}
	}
	return nil
}
