package sqlmeta

import "testing"

func TestRebind(t *testing.T) {
	d := &Dialect{DollarParams: true}
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{`UPDATE t SET a = ?1 WHERE b = ?2 OR c = ?1`, `UPDATE t SET a = $1 WHERE b = $2 OR c = $1`},
		{`SELECT '?' || "a?b", ? FROM t`, `SELECT '?' || "a?b", $1 FROM t`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`SELECT ?10`, `SELECT $10`},
	} {
		if got := d.rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	sqlite := &Dialect{}
	if q := `SELECT ?1, ?`; sqlite.rebind(q) != q {
		t.Errorf("a dialect with ? placeholders rewrote %q", q)
	}
}
