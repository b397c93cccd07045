package sqlite

import (
	"testing"
)

func BenchmarkPackedExperiment(b *testing.B) {
	ctx := b.Context()
	// reuse setup from BenchmarkChildren10k by running a tiny copy
	s, dirID := setupBench(b)
	defer s.Close()
	q := `SELECT unhex(printf('%08x%08x%08x%08x%08x%08x%016x%016x%016x%016x%016x', length(id), length(name_hash), length(sealed_name), length(sealed_key), length(signature), length(coalesce(revision_id, x'')), kind, version, revision_seq, created_at, updated_at)) || id || name_hash || sealed_name || sealed_key || signature || coalesce(revision_id, x'') || CAST(author AS BLOB) FROM nodes WHERE parent_id = ? AND state = 0`
	b.ResetTimer()
	for b.Loop() {
		rows, err := s.r.QueryContext(ctx, q, dirID)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		var a arena
		for rows.Next() {
			var p []byte
			if err := rows.Scan(arenaCol{&a, &p}); err != nil {
				b.Fatal(err)
			}
			n++
		}
		rows.Close()
		if n != 10000 {
			b.Fatal(n)
		}
	}
}
