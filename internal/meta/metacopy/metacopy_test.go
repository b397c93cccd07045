package metacopy_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/meta/metacopy"
	"github.com/coffer-drive/coffer/internal/meta/metadb"
	"github.com/coffer-drive/coffer/internal/meta/postgres"
	"github.com/coffer-drive/coffer/internal/meta/postgres/pgtest"
	"github.com/coffer-drive/coffer/internal/meta/sqlite"
)

func openSQLite(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawSQLite opens the database file directly, to do what the store
// never would.
func rawSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// compare checks that both stores read back alike.
func compare(t *testing.T, src, dst meta.Store, fx *fixture) {
	t.Helper()
	want, got := snapshot(t, src, fx), snapshot(t, dst, fx)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !reflect.DeepEqual(want[k], got[k]) {
			t.Errorf("%s differs after the copy:\n source: %+v\n copy:   %+v", k, want[k], got[k])
		}
	}
}

func counts(rep metacopy.Report) map[string]int64 {
	m := map[string]int64{}
	for _, tc := range rep.Tables {
		m[tc.Table] = tc.Rows
	}
	return m
}

// allTables are every table copied.
var allTables = []string{"users", "sessions", "challenges", "devices", "throttles", "secrets", "volumes", "nodes",
	"revisions", "blocks", "block_refs", "shares", "share_members", "links", "link_sessions", "link_blocks",
	"storage_locations", "storage_layout", "events"}

// checkEmpty checks that every table copied to holds no row.
func checkEmpty(t *testing.T, dst *postgres.Store) {
	t.Helper()
	for _, table := range allTables {
		var n int64
		if err := dst.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("destination table %s holds %d rows after a failed copy", table, n)
		}
	}
}

func TestCopySQLiteToPostgres(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	src := openSQLite(t, path)
	fx := populate(t, src, 250)
	// The newest account goes: its ID must never be handed out again.
	dave := newDrive(t, src, newFixture(), "dave")
	raw := rawSQLite(t, path)
	exec(t, raw, "DELETE FROM volumes WHERE owner_id = ?", dave.owner)
	exec(t, raw, "DELETE FROM users WHERE id = ?", dave.owner)

	url := pgtest.URL(t)
	dst := openPostgres(t, url)
	var progress []string
	rep, err := metacopy.Copy(ctx, src, dst, metacopy.Options{
		BatchRows: 7, // many batches, and a last one that is not full
		Progress:  func(table string, rows int64) { progress = append(progress, fmt.Sprint(table, rows)) },
	})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	c := counts(rep)
	want := map[string]int64{"users": 3, "sessions": 5, "challenges": 2, "devices": 2, "throttles": 2, "secrets": 2,
		"volumes": 3,
		// roots; alice's folders, files; bob's; carol's folders, files
		"nodes": 3 + 14 + 6 + 2 + 3 + 250,
		// deep.txt's 3; empty, old, in-share, by-bob, the drop, report.pdf; bulk
		"revisions": 3 + 6 + 250,
		// alice's d1-d5, o1, abandoned, s1; bob's bob1, r1-r3; the link's 3; bulk
		"blocks": 8 + 4 + 3 + 250,
		// deep.txt's 2+1+2; old, in-share, by-bob, the drop; report.pdf's 3; bulk
		"block_refs": 5 + 4 + 3 + 250,
		"shares":     1, "share_members": 2, "links": 4, "link_sessions": 2,
		"link_blocks": 2, "storage_locations": 3, "storage_layout": 1}
	// Every change made an event, none was pruned, and the numbers have
	// no gaps: the volumes' counters add up to the events.
	var events int64
	if err := raw.QueryRowContext(ctx, "SELECT sum(event_seq) FROM volumes").Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events < 250 {
		t.Errorf("the source holds %d events, want one per node created at least", events)
	}
	want["events"] = events
	for table, n := range want {
		if got, ok := c[table]; !ok || got != n {
			t.Errorf("%s: %d rows copied (reported: %v), want %d", table, got, ok, n)
		}
	}
	for table := range c {
		if _, ok := want[table]; !ok {
			t.Errorf("table %s copied, which the test expects no rows of", table)
		}
	}
	if len(rep.Tables) != len(want) {
		t.Errorf("%d tables copied, want %d: %+v", len(rep.Tables), len(want), rep.Tables)
	}
	// The reported counts are the rows in both databases.
	for table, n := range want {
		var inSrc, inDst int64
		if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&inSrc); err != nil {
			t.Fatal(err)
		}
		if err := dst.DB().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&inDst); err != nil {
			t.Fatal(err)
		}
		if inSrc != n || inDst != n {
			t.Errorf("%s: %d rows in the source, %d in the copy, want %d", table, inSrc, inDst, n)
		}
	}
	if len(progress) != len(rep.Tables) || rep.Rows == 0 || rep.Duration <= 0 {
		t.Errorf("progress %q, report %+v", progress, rep)
	}
	var sum int64
	for _, tc := range rep.Tables {
		sum += tc.Rows
	}
	if sum != rep.Rows {
		t.Errorf("report total %d, tables add up to %d", rep.Rows, sum)
	}
	compare(t, src, dst, fx)

	// Challenges are consumed once, so read last.
	for _, id := range fx.challenges {
		a, errA := src.TakeChallenge(ctx, id, strings.TrimPrefix(id, "challenge-"), t0)
		b, errB := dst.TakeChallenge(ctx, id, strings.TrimPrefix(id, "challenge-"), t0)
		if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("challenge %s: source %+v, %v; copy %+v, %v", id, a, errA, b, errB)
		}
	}
	// No lease came along.
	if ok, err := dst.AcquireLease(ctx, "repair", "other:2", t0, time.Hour); err != nil || !ok {
		t.Errorf("lease on the copy: %v, %v; want it free", ok, err)
	}

	// The sequences continue after the copied values, as the source's
	// would: the next account gets the ID after dave's, and new sessions
	// and links sort after the copied ones of the same time.
	both := []meta.Store{src, dst}
	var ids []int64
	for _, s := range both {
		id, err := newDriveID(t, s)
		if err != nil {
			t.Fatalf("CreateUser after the copy: %v", err)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] || ids[0] <= dave.owner {
		t.Errorf("next account ID: source %d, copy %d (dave had %d)", ids[0], ids[1], dave.owner)
	}
	for _, s := range both {
		sess := &meta.Session{ID: "after", UserID: fx.userIDs["alice"], TokenHash: hash("after"), DeviceName: "new",
			CreatedAt: t0, LastSeenAt: t0, ExpiresAt: farFuture, UnlockKey: bytesOf(32, 9)}
		if err := s.CreateSession(ctx, sess, 1); err != nil {
			t.Fatalf("CreateSession after the copy: %v", err)
		}
		list, err := s.ListSessions(ctx, fx.userIDs["alice"])
		if err != nil || list[len(list)-1].ID != "after" {
			t.Errorf("sessions after the copy: %v, %v", list, err)
		}
	}
	writeBoth(t, src, dst, fx)
	compare(t, src, dst, fx)

	// A second copy into the same database is refused, and changes nothing.
	_, err = metacopy.Copy(ctx, src, dst, metacopy.Options{})
	if !errors.Is(err, metacopy.ErrNotEmpty) || !strings.Contains(err.Error(), "destination is not empty") {
		t.Fatalf("second Copy: %v, want ErrNotEmpty", err)
	}
	compare(t, src, dst, fx)
}

// newDriveID creates one more account and returns its ID.
func newDriveID(t *testing.T, s meta.Store) (int64, error) {
	return s.CreateUser(t.Context(), &meta.User{Name: "erin", CreatedAt: t0, Credentials: meta.Credentials{
		Salt: bytesOf(16, 1), Verifier: bytesOf(384, 2), SealedKeys: bytesOf(120, 3), Epoch: 1}})
}

// A copy whose verification fails, or that fails half way, leaves the
// destination empty, and a good copy can follow.
func TestCopyFailureRollsBack(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	src := openSQLite(t, path)
	fx := populate(t, src, 0)
	dst := openPostgres(t, pgtest.URL(t))
	raw := rawSQLite(t, path)

	// A counter the source's triggers got wrong: the destination's
	// count differs, after every row was written.
	exec(t, raw, "UPDATE users SET used_bytes = used_bytes + 1 WHERE name = 'bob'")
	_, err := metacopy.Copy(ctx, src, dst, metacopy.Options{})
	if err == nil || !strings.Contains(err.Error(), "users.used_bytes of id") {
		t.Fatalf("Copy with a wrong counter: %v", err)
	}
	checkEmpty(t, dst)
	exec(t, raw, "UPDATE users SET used_bytes = used_bytes - 1 WHERE name = 'bob'")
	exec(t, raw, "UPDATE blocks SET refs = refs + 2 WHERE id = (SELECT min(id) FROM blocks)")
	if _, err := metacopy.Copy(ctx, src, dst, metacopy.Options{}); err == nil || !strings.Contains(err.Error(), "blocks.refs of id") {
		t.Fatalf("Copy with a wrong block count: %v", err)
	}
	checkEmpty(t, dst)
	exec(t, raw, "UPDATE blocks SET refs = refs - 2 WHERE id = (SELECT min(id) FROM blocks)")

	// A table the destination cannot take, half way through.
	exec(t, raw, "ALTER TABLE shares RENAME COLUMN list TO member_list")
	_, err = metacopy.Copy(ctx, src, dst, metacopy.Options{})
	if err == nil || !strings.Contains(err.Error(), "shares.member_list") {
		t.Fatalf("Copy with a renamed column: %v", err)
	}
	checkEmpty(t, dst)
	exec(t, raw, "ALTER TABLE shares RENAME COLUMN member_list TO list")

	// A table the copy does not know would be left behind: refused.
	exec(t, raw, "CREATE TABLE extra (x INTEGER)")
	if _, err := metacopy.Copy(ctx, src, dst, metacopy.Options{}); err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Fatalf("Copy with an unknown table: %v", err)
	}
	exec(t, raw, "DROP TABLE extra")

	// Cancelled: nothing either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := metacopy.Copy(cctx, src, dst, metacopy.Options{}); err == nil {
		t.Fatal("Copy with a cancelled context succeeded")
	}
	checkEmpty(t, dst)

	if _, err := metacopy.Copy(ctx, src, dst, metacopy.Options{}); err != nil {
		t.Fatalf("Copy after the failures: %v", err)
	}
	compare(t, src, dst, fx)
	writeBoth(t, src, dst, fx)
	compare(t, src, dst, fx)
}

// A value the copy got wrong, in any column of any type, fails the
// verification: the destination keeps nothing, and the error names the
// row and column but never the value.
func TestCopyVerifiesContent(t *testing.T) {
	ctx := t.Context()
	src := openSQLite(t, filepath.Join(t.TempDir(), "meta.db"))
	fx := populate(t, src, 0)
	dst := openPostgres(t, pgtest.URL(t))
	for _, c := range []struct{ tamper, want string }{
		{`UPDATE nodes SET sealed_name = sealed_name || '\x00'::bytea WHERE id = (SELECT id FROM nodes ORDER BY id DESC LIMIT 1)`, "nodes.sealed_name of id "},
		{`UPDATE nodes SET key_history = NULL WHERE key_history IS NOT NULL`, "nodes.key_history of id "},
		{`UPDATE nodes SET sealed_name = '\x00'::bytea WHERE sealed_name = ''::bytea`, "nodes.sealed_name of id "},
		{`UPDATE links SET password = NOT password WHERE password`, "links.password of id "},
		{`UPDATE links SET revoked_at = revoked_at + 1 WHERE id = (SELECT id FROM links ORDER BY id LIMIT 1)`, "links.revoked_at of id "},
		{`UPDATE users SET name = 'mallory' WHERE name = 'carol'`, "users.name of id "},
		{`UPDATE sessions SET device_name = 'other' WHERE id = 'sess-3-carol'`, "sessions.device_name of id sess-3-carol"},
		{`UPDATE share_members SET role = 1 WHERE role = 3`, "share_members.role of share_id "},
		{`UPDATE storage_layout SET layout = '{}'`, "storage_layout.layout of id 1"},
		{`UPDATE devices SET token_hash = '\x01'::bytea WHERE token_hash = (SELECT token_hash FROM devices ORDER BY 1 LIMIT 1)`, "devices: the rows differ"},
		{`UPDATE blocks SET created_at = created_at + 1 WHERE id = (SELECT id FROM blocks ORDER BY id DESC LIMIT 1)`, "blocks.created_at of id "},
	} {
		restore := metacopy.SetHookCopied(func(ctx context.Context, dst *sql.Tx) error {
			res, err := dst.ExecContext(ctx, c.tamper)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				t.Errorf("%s: changed no row", c.tamper)
			}
			return nil
		})
		_, err := metacopy.Copy(ctx, src, dst, metacopy.Options{})
		restore()
		if err == nil {
			t.Fatalf("Copy with %s succeeded", c.tamper)
		}
		if !strings.Contains(err.Error(), "verify: "+c.want) {
			t.Errorf("Copy with %s: %v, want %q", c.tamper, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "mallory") || strings.Contains(err.Error(), "other")) {
			t.Errorf("the error shows a value: %v", err)
		}
		checkEmpty(t, dst)
	}
	if _, err := metacopy.Copy(ctx, src, dst, metacopy.Options{}); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	compare(t, src, dst, fx)
}

// The copy holds the SQLite source's write lock: a server that was not
// stopped can commit nothing the copy would miss, and one that holds the
// lock makes the copy fail, with nothing copied.
func TestCopyLocksSQLiteSource(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	src := openSQLite(t, path)
	fx := populate(t, src, 0)
	dst := openPostgres(t, pgtest.URL(t))
	// Another process's connection, which waits briefly for locks.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(100)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)

	// It holds the write lock: the copy waits LockWait, then gives up.
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = metacopy.Copy(ctx, src, dst, metacopy.Options{LockWait: 300 * time.Millisecond})
	if !errors.Is(err, metacopy.ErrSourceBusy) || !strings.Contains(err.Error(), "stop the servers first") {
		t.Errorf("Copy while another process holds the write lock: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
		t.Errorf("Copy gave up after %v, want about 300ms", d)
	}
	checkEmpty(t, dst)
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	// During the copy, the other process cannot write.
	write := func() error {
		_, err := other.ExecContext(ctx, "UPDATE throttles SET failures = failures + 1")
		return err
	}
	restore := metacopy.SetHookCopied(func(context.Context, *sql.Tx) error {
		if err := write(); err == nil || !strings.Contains(err.Error(), "locked") {
			t.Errorf("a write during the copy: %v, want the database locked", err)
		}
		return nil
	})
	defer restore()
	if _, err := metacopy.Copy(ctx, src, dst, metacopy.Options{}); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	compare(t, src, dst, fx)
	// After it, writes go on; and the store's own writes too.
	if err := write(); err != nil {
		t.Errorf("a write after the copy: %v", err)
	}
	if err := src.AddBlock(ctx, fx.userIDs["bob"], hash("block after the lock"), 1, t0); err != nil {
		t.Errorf("AddBlock after the copy: %v", err)
	}
}

// RetireSQLite renames the database and the files SQLite keeps beside
// it, never over an existing file.
func TestRetireSQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meta.db")
	s := openSQLite(t, path)
	populate(t, s, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A -wal file left by a crash, say.
	if err := os.WriteFile(path+"-wal", []byte("wal"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := metacopy.CheckRetire(path); err != nil {
		t.Fatalf("CheckRetire: %v", err)
	}
	renamed, err := metacopy.RetireSQLite(path)
	if err != nil {
		t.Fatalf("RetireSQLite: %v", err)
	}
	want := []metacopy.Renamed{{path, path + ".migrated"}, {path + "-wal", path + ".migrated-wal"}}
	if !reflect.DeepEqual(renamed, want) {
		t.Errorf("renamed %+v, want %+v", renamed, want)
	}
	for _, gone := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want it gone", gone, err)
		}
	}
	if b, err := os.ReadFile(path + ".migrated-wal"); err != nil || string(b) != "wal" {
		t.Errorf("the renamed -wal: %q, %v", b, err)
	}
	// The renamed database is whole: a backup to go back to.
	os.Remove(path + ".migrated-wal")
	old := openSQLite(t, path+".migrated")
	if _, err := old.UserByName(t.Context(), "alice"); err != nil {
		t.Errorf("the renamed database: %v", err)
	}
	old.Close()

	// A second migration's source is not renamed over the first's.
	if err := os.WriteFile(path, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := metacopy.CheckRetire(path); err == nil || !strings.Contains(err.Error(), "meta.db.migrated exists already") {
		t.Errorf("CheckRetire over an earlier one: %v", err)
	}
	if _, err := metacopy.RetireSQLite(path); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("RetireSQLite over an earlier one: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "second" {
		t.Errorf("the source after a refused rename: %q, %v", b, err)
	}
	if _, err := metacopy.RetireSQLite(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("RetireSQLite of a missing file succeeded")
	}
}

// writeBoth makes the same changes to both stores, through the
// counting triggers, which the copy switched off for its rows only.
func writeBoth(t *testing.T, src, dst meta.Store, fx *fixture) {
	t.Helper()
	ctx := t.Context()
	for _, s := range []meta.Store{src, dst} {
		if err := s.AddBlock(ctx, fx.userIDs["bob"], hash("block after the copy"), 777, t0); err != nil {
			t.Fatalf("AddBlock after the copy: %v", err)
		}
		if err := s.AddLinkBlock(ctx, fx.links[2], meta.BlockInfo{ID: hash("link block after the copy"), Size: 555}, t0); err != nil {
			t.Fatalf("AddLinkBlock after the copy: %v", err)
		}
		if err := s.TrashNode(ctx, fx.files[0], t0); err != nil {
			t.Fatalf("TrashNode after the copy: %v", err)
		}
		if _, err := s.EmptyTrash(ctx, fx.volumes["alice"].ID); err != nil {
			t.Fatalf("EmptyTrash after the copy: %v", err)
		}
		if n, err := s.DeleteBlock(ctx, hash("block", "alice", "abandoned")); err != nil || !n {
			t.Fatalf("DeleteBlock after the copy: %v, %v", n, err)
		}
	}
}

// A PostgreSQL deployment copies to another database too (moving
// servers), its seq columns and sequences with it.
func TestCopyPostgresToPostgres(t *testing.T) {
	ctx := t.Context()
	src := openPostgres(t, pgtest.URL(t))
	fx := populate(t, src, 10)
	dst := openPostgres(t, pgtest.URL(t))
	if _, err := metacopy.Copy(ctx, src, dst, metacopy.Options{}); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	compare(t, src, dst, fx)
	for _, s := range []meta.Store{src, dst} {
		l := &meta.Link{ID: hash("new link")[:16], OwnerID: fx.userIDs["bob"], VolumeID: fx.volumes["bob"].ID,
			NodeID: fx.volumes["bob"].RootID, Kind: meta.LinkRead, Salt: bytesOf(16, 1), Verifier: bytesOf(384, 2),
			Payload: bytesOf(10, 3), OwnerRecord: bytesOf(10, 4), CreatedAt: t0}
		if err := s.PutLink(ctx, l); err != nil {
			t.Fatalf("PutLink after the copy: %v", err)
		}
	}
	compare(t, src, dst, fx)
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "meta.db")
	src := openSQLite(t, path)
	fx := populate(t, src, 0)
	src.Close()

	url := pgtest.URL(t)
	from, err := metadb.Parse("", dir)
	if err != nil {
		t.Fatal(err)
	}
	to, err := metadb.Parse(url, dir)
	if err != nil {
		t.Fatal(err)
	}
	// Only into PostgreSQL, only from a database that exists.
	if _, err := metacopy.Migrate(ctx, from, from, metacopy.Options{}); err == nil || !strings.Contains(err.Error(), "not a PostgreSQL database") {
		t.Errorf("Migrate to SQLite: %v", err)
	}
	missing, _ := metadb.Parse("", t.TempDir())
	if _, err := metacopy.Migrate(ctx, missing, to, metacopy.Options{}); err == nil || !strings.Contains(err.Error(), "no metadata at") {
		t.Errorf("Migrate from a missing file: %v", err)
	}
	// A PostgreSQL source with no schema is refused before anything is
	// created in it, and the password is never quoted.
	empty := pgtest.URL(t)
	withPW := strings.Replace(empty, "postgres@", "postgres:hunter2secret@", 1)
	emptyTarget, err := metadb.Parse(withPW, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = metacopy.Migrate(ctx, emptyTarget, to, metacopy.Options{})
	if err == nil || !strings.Contains(err.Error(), "holds no Coffer metadata") || strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("Migrate from an empty PostgreSQL database: %v", err)
	}
	if _, err := metadb.OpenExisting(ctx, emptyTarget); err == nil {
		t.Error("OpenExisting of an empty PostgreSQL database succeeded")
	}
	var created bool
	if err := openPostgresRaw(t, empty).QueryRowContext(ctx, "SELECT to_regclass('users') IS NOT NULL").Scan(&created); err != nil || created {
		t.Errorf("the empty database got a schema: %v, %v", created, err)
	}

	rep, err := metacopy.Migrate(ctx, from, to, metacopy.Options{})
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if c := counts(rep); c["users"] != 3 || c["links"] != 4 {
		t.Errorf("report: %+v", rep)
	}
	src = openSQLite(t, path)
	dst, err := metadb.OpenExisting(ctx, to)
	if err != nil {
		t.Fatalf("OpenExisting of the copy: %v", err)
	}
	defer dst.Close()
	compare(t, src, dst, fx)
	if _, err := metacopy.Migrate(ctx, from, to, metacopy.Options{}); !errors.Is(err, metacopy.ErrNotEmpty) {
		t.Errorf("second Migrate: %v", err)
	}
}

func openPostgresRaw(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestCopyTiming times a copy of a drive of COFFER_COPY_FILES files
// (default 2000), in folders of 100, each file one revision of one block:
//
//	COFFER_COPY_FILES=10000 go test ./internal/meta/metacopy -run Timing -v
func TestCopyTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	n := 2000
	if v := os.Getenv("COFFER_COPY_FILES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("COFFER_COPY_FILES: %v", err)
		}
	}
	path := filepath.Join(t.TempDir(), "meta.db")
	src := openSQLite(t, path)
	start := time.Now()
	populate(t, src, n)
	built := time.Since(start)
	dst := openPostgres(t, pgtest.URL(t))
	last := time.Now()
	rep, err := metacopy.Copy(t.Context(), src, dst, metacopy.Options{Progress: func(table string, rows int64) {
		t.Logf("%-18s %6d rows in %v", table, rows, time.Since(last).Round(time.Millisecond))
		last = time.Now()
	}})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	t.Logf("verified and committed in %v", time.Since(last).Round(time.Millisecond))
	c := counts(rep)
	t.Logf("built %d files in %v; copied %d rows (%d nodes, %d revisions, %d blocks) in %v",
		n, built.Round(time.Millisecond), rep.Rows, c["nodes"], c["revisions"], c["blocks"], rep.Duration.Round(time.Millisecond))
	if !slices.ContainsFunc(rep.Tables, func(tc metacopy.TableCount) bool { return tc.Table == "nodes" && tc.Rows > int64(n) }) {
		t.Errorf("report: %+v", rep)
	}
}
