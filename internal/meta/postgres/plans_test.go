package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The statements on hot or growing paths must use an index, never scan a
// whole table nor sort: sqlmeta.HotQueries lists them, and the SQLite
// package checks the same list with EXPLAIN QUERY PLAN.
//
// On the test's tiny tables PostgreSQL's planner rightly prefers a
// sequential scan to any index, so the plans are taken with sequential
// scans and sorts disabled (see planTx). The planner then still picks one
// where no index serves the query, at a prohibitive cost, and the plan
// shows it. Each query's plan is checked twice: for its sample arguments,
// and the generic plan that serves any arguments.
func TestQueryPlans(t *testing.T) {
	s := openTest(t)
	tx := planTx(t, s.db)
	// Where the index is wanted exactly, as in SQLite's test: the walk of
	// the catalog must page along the primary key, whose order is the
	// walk's, and a location is found by its name.
	exact := map[string][]string{
		"BlocksWithPrefix":              {"Index Scan using blocks_pkey on blocks"},
		"BlocksWithPrefix, last prefix": {"Index Scan using blocks_pkey on blocks"},
		"StorageLocation":               {"Index Scan using storage_locations_pkey on storage_locations"},
	}
	for i, q := range dialect().HotQueries() {
		// The plan for the sample arguments, and the generic plan, which
		// PostgreSQL may take for any arguments once pgx's cached
		// statement has run a few times.
		for _, kind := range []string{"custom", "generic"} {
			if _, err := tx.ExecContext(t.Context(), `SAVEPOINT plan`); err != nil {
				t.Fatal(err)
			}
			var plan *planNode
			var raw string
			var err error
			if kind == "custom" {
				plan, raw, err = explain(t.Context(), tx, q.Query, q.Args...)
			} else {
				plan, raw, err = explainGeneric(t.Context(), tx, fmt.Sprintf("hot_%d", i), q.Query, len(q.Args))
			}
			if err != nil {
				t.Errorf("%s: EXPLAIN (%s plan): %v\n%s", q.Name, kind, err, q.Query)
				// The error aborted the transaction: carry on after it.
				if _, err := tx.ExecContext(t.Context(), `ROLLBACK TO SAVEPOINT plan`); err != nil {
					t.Fatal(err)
				}
				continue
			}
			t.Logf("%s (%s plan):\n%s", q.Name, kind, plan.text())
			if problems := plan.problems(); len(problems) > 0 {
				t.Errorf("%s: the %s plan %s\nquery:%s\nplan:\n%s\nJSON: %s",
					q.Name, kind, strings.Join(problems, "; "), q.Query, plan.text(), raw)
			}
			if want, ok := exact[q.Name]; ok {
				if got := plan.scans(); !slices.Equal(got, want) {
					t.Errorf("%s: the %s plan reads %q, want %q\nplan:\n%s", q.Name, kind, got, want, plan.text())
				}
			}
		}
		delete(exact, q.Name)
	}
	if len(exact) > 0 {
		t.Errorf("no hot queries named %v", exact)
	}
}

// The check itself finds a scan, a sort and a whole index read, where
// the schema has no index for the query, in both kinds of plan.
func TestQueryPlansCheck(t *testing.T) {
	s := openTest(t)
	tx := planTx(t, s.db)
	for _, c := range []struct {
		query string
		args  []any
		want  string
	}{
		// No index has size.
		{`SELECT id FROM blocks WHERE size = $1`, []any{1}, "Seq Scan on blocks"},
		// The index on owner_id gives no order of size.
		{`SELECT id FROM blocks WHERE owner_id = $1 ORDER BY size`, []any{1}, "Sort"},
		// In order along the primary key, but all of it.
		{`SELECT id FROM blocks ORDER BY id`, nil, "reads a whole index: Index Only Scan using blocks_pkey on blocks"},
	} {
		custom, _, err := explain(t.Context(), tx, c.query, c.args...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", c.query, err)
		}
		generic, _, err := explainGeneric(t.Context(), tx, "plan_check", c.query, len(c.args))
		if err != nil {
			t.Fatalf("EXPLAIN generic %s: %v", c.query, err)
		}
		for _, plan := range []*planNode{custom, generic} {
			problems := plan.problems()
			t.Logf("%s: %q", c.query, problems)
			if len(problems) == 0 || !strings.Contains(strings.Join(problems, "; "), c.want) {
				t.Errorf("%s: problems %q, want one naming %q\nplan:\n%s", c.query, problems, c.want, plan.text())
			}
		}
	}
}

// planTx returns a transaction, rolled back when the test ends, in which
// the planner takes an index wherever one serves the query.
func planTx(t *testing.T, db *sql.DB) *sql.Tx {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	for _, set := range []string{
		`SET LOCAL enable_seqscan = off`,
		// Else a sort of the few rows expected from an empty table
		// looks cheaper than reading an index in order.
		`SET LOCAL enable_sort = off`,
		`SET LOCAL enable_incremental_sort = off`,
		// A bitmap scan reads the same indexes as an index scan, but the
		// planner's guesses for empty tables make it combine whole
		// partial indexes (blocks_garbage) where production's statistics
		// would take the primary key.
		`SET LOCAL enable_bitmapscan = off`,
	} {
		if _, err := tx.ExecContext(t.Context(), set); err != nil {
			t.Fatalf("%s: %v", set, err)
		}
	}
	return tx
}

// disableCost is what PostgreSQL adds to the cost of a step it was told
// not to take (disable_cost in costsize.c): a plan that costs more took
// one, for want of another way.
const disableCost = 1e10

// planNode is a step of a plan, as EXPLAIN (FORMAT JSON) gives it.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	Alias        string     `json:"Alias"`
	IndexName    string     `json:"Index Name"`
	IndexCond    string     `json:"Index Cond"`
	Filter       string     `json:"Filter"`
	SortKey      []string   `json:"Sort Key"`
	TotalCost    float64    `json:"Total Cost"`
	Plans        []planNode `json:"Plans"`
}

// explain returns the plan PostgreSQL makes for the query with the
// arguments (a custom plan for those values), and the plan's JSON.
func explain(ctx context.Context, tx *sql.Tx, query string, args ...any) (*planNode, string, error) {
	var raw string
	if err := tx.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) `+query, args...).Scan(&raw); err != nil {
		return nil, "", err
	}
	var out []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, raw, err
	}
	if len(out) != 1 {
		return nil, raw, fmt.Errorf("EXPLAIN gave %d plans, want 1", len(out))
	}
	return &out[0].Plan, raw, nil
}

// explainGeneric returns the generic plan PostgreSQL makes for the query
// with nargs parameters, whatever their values, and the plan's JSON: the
// query is prepared as name, and its plan explained under plan_cache_mode
// = force_generic_plan. (PostgreSQL 16 says it in one statement, EXPLAIN
// (GENERIC_PLAN); 15 does not.)
func explainGeneric(ctx context.Context, tx *sql.Tx, name, query string, nargs int) (*planNode, string, error) {
	if _, err := tx.ExecContext(ctx, `PREPARE `+name+` AS `+query); err != nil {
		return nil, "", err
	}
	// Prepared statements outlive the transaction, in the connection.
	defer tx.ExecContext(ctx, `DEALLOCATE `+name)
	if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
		return nil, "", err
	}
	defer tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = auto`)
	// A generic plan does not depend on the values: NULL will do.
	nulls := strings.TrimSuffix(strings.Repeat("NULL, ", nargs), ", ")
	execute := `EXECUTE ` + name
	if nargs > 0 {
		execute += `(` + nulls + `)`
	}
	return explain(ctx, tx, execute)
}

// walk calls f on n and every step below it, depth first.
func (n *planNode) walk(f func(n *planNode, depth int)) {
	var rec func(n *planNode, depth int)
	rec = func(n *planNode, depth int) {
		f(n, depth)
		for i := range n.Plans {
			rec(&n.Plans[i], depth+1)
		}
	}
	rec(n, 0)
}

// label names a step: its type, its index and its table.
func (n *planNode) label() string {
	s := n.NodeType
	if n.IndexName != "" {
		s += " using " + n.IndexName
	}
	if n.RelationName != "" {
		s += " on " + n.RelationName
	}
	return s
}

// problems returns what is wrong with the plan: a table read whole
// (sequentially, or along an index with no condition), a sort, or a step
// the planner was told not to take.
func (n *planNode) problems() []string {
	var list []string
	n.walk(func(n *planNode, _ int) {
		switch n.NodeType {
		case "Seq Scan":
			list = append(list, "scans: "+n.label())
		case "Sort", "Incremental Sort":
			list = append(list, fmt.Sprintf("sorts: %s by %s", n.NodeType, strings.Join(n.SortKey, ", ")))
		case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
			// Under enable_seqscan = off an index read from end to end
			// stands in for a scan of the table.
			if n.IndexCond == "" {
				list = append(list, "reads a whole index: "+n.label())
			}
		}
	})
	if n.TotalCost >= disableCost && len(list) == 0 {
		list = append(list, fmt.Sprintf("costs %g, so it takes a disabled step", n.TotalCost))
	}
	return list
}

// scans returns the plan's reads of tables and indexes, in order.
func (n *planNode) scans() []string {
	var list []string
	n.walk(func(n *planNode, _ int) {
		if strings.HasSuffix(n.NodeType, "Scan") {
			list = append(list, n.label())
		}
	})
	return list
}

// text shows the plan as an indented tree, as EXPLAIN's text does.
func (n *planNode) text() string {
	var b strings.Builder
	n.walk(func(n *planNode, depth int) {
		fmt.Fprintf(&b, "%s-> %s (cost %g)", strings.Repeat("  ", depth+1), n.label(), n.TotalCost)
		if n.IndexCond != "" {
			fmt.Fprintf(&b, " Index Cond: %s", n.IndexCond)
		}
		if n.Filter != "" {
			fmt.Fprintf(&b, " Filter: %s", n.Filter)
		}
		if len(n.SortKey) > 0 {
			fmt.Fprintf(&b, " Sort Key: %s", strings.Join(n.SortKey, ", "))
		}
		b.WriteByte('\n')
	})
	return b.String()
}
