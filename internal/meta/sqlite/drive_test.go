package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// checkInvariants checks, straight in the database, what the drive
// methods and the triggers must keep true whatever the calls were.
func checkInvariants(t *testing.T, s *Store) {
	t.Helper()
	// Not the test's context: it is done by the time cleanups run.
	ctx := context.Background()
	queries := []struct{ what, query string }{
		{"blocks whose refs is not their number of referencing revisions", `
			SELECT hex(id) FROM blocks AS b
			WHERE refs <> (SELECT count(*) FROM block_refs WHERE block_id = b.id)`},
		{"accounts whose used_bytes is not the size of their blocks", `
			SELECT name FROM users AS u
			WHERE used_bytes <> (SELECT coalesce(sum(size), 0) FROM blocks WHERE owner_id = u.id)`},
		{"volumes without a proper root", `
			SELECT hex(v.id) FROM volumes AS v LEFT JOIN nodes AS n ON n.id = v.root_id
			WHERE n.id IS NULL OR n.volume_id <> v.id OR n.parent_id IS NOT NULL
				OR n.kind <> 1 OR n.state <> 0`},
		{"nodes without a parent that are not a root", `
			SELECT hex(n.id) FROM nodes AS n
			WHERE n.parent_id IS NULL AND NOT EXISTS (SELECT 1 FROM volumes WHERE root_id = n.id)`},
		{"nodes whose parent is not a folder of their volume", `
			SELECT hex(n.id) FROM nodes AS n JOIN nodes AS p ON p.id = n.parent_id
			WHERE p.kind <> 1 OR p.volume_id <> n.volume_id`},
		{"files whose head is not one of their revisions, or folders with a head", `
			SELECT hex(n.id) FROM nodes AS n LEFT JOIN revisions AS r
				ON r.id = n.revision_id AND r.node_id = n.id AND r.seq = n.revision_seq
			WHERE (n.kind = 2 AND r.id IS NULL)
				OR (n.kind = 1 AND (n.revision_id IS NOT NULL OR n.revision_seq <> 0))`},
		{"revisions of folders or of another volume", `
			SELECT hex(r.id) FROM revisions AS r JOIN nodes AS n ON n.id = r.node_id
			WHERE n.kind <> 2 OR r.volume_id <> n.volume_id`},
		{"nodes that do not reach their root", `
			WITH RECURSIVE up (start, id, parent_id) AS (
				SELECT id, id, parent_id FROM nodes
				UNION
				SELECT up.start, n.id, n.parent_id FROM up JOIN nodes AS n ON n.id = up.parent_id
			)
			SELECT hex(id) FROM nodes WHERE id NOT IN (SELECT start FROM up WHERE parent_id IS NULL)`},
		{"trashed nodes without a time, or active ones with one", `
			SELECT hex(id) FROM nodes WHERE (state = 1) = (trashed_at = ` + fmt.Sprint(time.Time{}.UnixMicro()) + `) `},
		{"links whose pending_bytes is not the size of their pending blocks", `
			SELECT hex(id) FROM links AS l
			WHERE pending_bytes <> (SELECT coalesce(sum(size), 0) FROM link_blocks WHERE link_id = l.id)`},
		{"pending link blocks whose size is not the block's", `
			SELECT hex(lb.block_id) FROM link_blocks AS lb JOIN blocks AS b ON b.id = lb.block_id
			WHERE lb.size <> b.size`},
		{"foreign key violations", `SELECT "table" FROM pragma_foreign_key_check`},
		{"integrity problems", `SELECT integrity_check FROM pragma_integrity_check WHERE integrity_check <> 'ok'`},
	}
	for _, q := range queries {
		rows, err := s.r.QueryContext(ctx, q.query)
		if err != nil {
			t.Errorf("invariant query for %s: %v", q.what, err)
			continue
		}
		var bad []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Errorf("invariant query for %s: %v", q.what, err)
			}
			bad = append(bad, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Errorf("invariant query for %s: %v", q.what, err)
		}
		if len(bad) > 0 {
			t.Errorf("%s: %q", q.what, bad)
		}
	}

	// Each revision references exactly the distinct blocks it lists.
	rows, err := s.r.QueryContext(ctx, `
		SELECT r.id, r.blocks, coalesce(group_concat(hex(br.block_id)), '')
		FROM revisions AS r LEFT JOIN block_refs AS br ON br.revision_id = r.id
		GROUP BY r.id`)
	if err != nil {
		t.Fatalf("revisions' references: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, list []byte
		var refs string
		if err := rows.Scan(&id, &list, &refs); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for i := 0; i+blockIDLen <= len(list); i += blockIDLen {
			want[fmt.Sprintf("%X", list[i:i+blockIDLen])] = true
		}
		got := map[string]bool{}
		if refs != "" {
			for _, h := range strings.Split(refs, ",") {
				got[h] = true
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("revision %x lists blocks %v but references %v", id, want, got)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// openChecked opens a store for the conformance suite that checks the
// invariants once the test is done with it.
func openChecked(t *testing.T) meta.Store {
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	// Cleanups run last-in first-out: this one before openTest's Close.
	t.Cleanup(func() { checkInvariants(t, s) })
	return s
}

// The statements on hot or growing paths must use an index, never scan a
// whole table.
// blockIDLen is the length of a block ID, as revisions list them.
const blockIDLen = 32

func TestQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	// Where one plan step is wanted exactly: the walk of the catalog must
	// page along the primary key, as another index would need a sort or
	// a visit to the table for each block's size, and a scan would read
	// the whole catalog for every page.
	exact := map[string]string{
		"BlocksWithPrefix":              "SEARCH blocks USING PRIMARY KEY (id>? AND id<?)",
		"BlocksWithPrefix, last prefix": "SEARCH blocks USING PRIMARY KEY (id>?)",
		"StorageLocation":               "SEARCH storage_locations USING PRIMARY KEY (name=?)",
	}
	for _, q := range dialect.HotQueries() {
		plan := checkPlan(t, s, q.Name, q.Query, q.Args...)
		if want, ok := exact[q.Name]; ok && !slices.Equal(plan, []string{want}) {
			t.Errorf("%s: plan %q, want %q", q.Name, plan, []string{want})
		}
		delete(exact, q.Name)
	}
	if len(exact) > 0 {
		t.Errorf("no hot queries named %v", exact)
	}
}

// checkPlan checks that the query neither scans a table nor sorts, and
// returns the steps of its plan.
func checkPlan(t *testing.T, s *Store, name, query string, args ...any) []string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s: %q", name, plan)
	for _, step := range plan {
		if strings.HasPrefix(step, "SCAN ") || strings.Contains(step, "TEMP B-TREE") {
			t.Errorf("%s: plan %q scans or sorts", name, plan)
		}
	}
	return plan
}

func TestMigrateDownAndUp(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meta.db")
	s := openTest(t, path)
	if _, err := s.CreateUser(ctx, &meta.User{Name: "alice", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(s.w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatalf("migrating down to 1: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrating up again: %v", err)
	}
	if _, err := s.UserByName(ctx, "alice"); err != nil {
		t.Errorf("UserByName after down and up: %v", err)
	}
}

// benchNode returns a child of parent with fields of realistic sizes.
func benchNode(volumeID, parentID []byte, i int) *meta.Node {
	h := sha256.Sum256(fmt.Appendf(nil, "node %d", i))
	return &meta.Node{
		ID:         h[:16],
		VolumeID:   volumeID,
		ParentID:   parentID,
		Kind:       1,
		NameHash:   h[:],
		SealedName: bytes.Repeat(h[:4], 20), // a 40-byte name, sealed
		SealedKey:  bytes.Repeat(h[:8], 12), // a key sealed to the parent's
		Author:     "alice@laptop",
		Version:    1,
		Signature:  bytes.Repeat(h[:], 2), // Ed25519
		CreatedAt:  time.Now(),
		UpdatedAt:  time.Now(),
	}
}

// setupBench creates a store with a folder of 10,000 children, half
// folders and half files, and returns the store and the folder's ID.
func setupBench(b *testing.B) (*Store, []byte) {
	ctx := b.Context()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	uid, err := s.CreateUser(ctx, &meta.User{Name: "alice", CreatedAt: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	volID := []byte("volume")
	root := benchNode(volID, nil, -1)
	if err := s.CreateVolume(ctx, &meta.Volume{ID: volID, OwnerID: uid, RootID: root.ID}, root); err != nil {
		b.Fatal(err)
	}
	dir := benchNode(volID, root.ID, -2)
	if err := s.CreateNodes(ctx, uid, []meta.NewFile{{Node: dir}}); err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	var items []meta.NewFile
	for i := range n {
		node := benchNode(volID, dir.ID, i)
		var rev *meta.Revision
		if i%2 == 1 { // half files, half folders
			node.Kind = 2
			rev = &meta.Revision{ID: append([]byte("rev"), node.ID...), Seq: 1, SealedContentKey: node.SealedKey}
			node.RevisionID, node.RevisionSeq = rev.ID, 1
		}
		items = append(items, meta.NewFile{Node: node, Revision: rev})
	}
	if err := s.CreateNodes(ctx, uid, items); err != nil {
		b.Fatal(err)
	}
	return s, dir.ID
}

func BenchmarkChildren10k(b *testing.B) {
	ctx := b.Context()
	s, dirID := setupBench(b)
	defer s.Close()
	const n = 10_000
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		list, err := s.Children(ctx, dirID)
		if err != nil {
			b.Fatal(err)
		}
		if len(list) != n {
			b.Fatalf("%d children, want %d", len(list), n)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/op")
}
