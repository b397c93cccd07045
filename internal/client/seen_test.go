package client

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// seenID is a node ID for tests.
func seenID(i int) []byte { return binary.BigEndian.AppendUint64([]byte("node"), uint64(i)) }

// seenFP is a made-up fingerprint for tests.
func seenFP(i int, v uint64) string { return fmt.Sprintf("fp-%d-%d", i, v) }

// newSeenForTest opens the seen versions of a fixed account in dir.
func newSeenForTest(tb testing.TB, dir string) *seenVersions {
	tb.Helper()
	cfg, err := OpenConfig(dir)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := loadSeen(cfg, &SessionFile{Server: "https://coffer.test", User: "alice"}, []byte("volume"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// seenPath is the file s keeps.
func seenPath(s *seenVersions) string { return filepath.Join(s.cfg.dir, s.name) }

func readSeenFile(t *testing.T, s *seenVersions) []byte {
	t.Helper()
	b, err := os.ReadFile(seenPath(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustSave(t *testing.T, s *seenVersions) {
	t.Helper()
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
}

func appendToFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSeenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := newSeenForTest(t, dir)
	for i := range 5 {
		if err := s.check(seenID(i), 3, seenFP(i, 3)); err != nil {
			t.Fatal(err)
		}
	}
	s.record(seenID(1), 4, seenFP(1, 4))
	s.record(seenID(9), 1, seenFP(9, 1))
	mustSave(t, s)

	r := newSeenForTest(t, dir)
	if !maps.Equal(r.v, s.v) {
		t.Fatalf("reloaded %v, want %v", r.v, s.v)
	}
	for _, c := range []struct {
		i    int
		v    uint64
		want bool
	}{{0, 3, true}, {1, 3, false}, {1, 4, true}, {9, 1, true}, {9, 2, false}, {7, 1, false}} {
		if got := r.known(seenID(c.i), c.v, seenFP(c.i, c.v)); got != c.want {
			t.Errorf("known(%d, %d) = %v after reload, want %v", c.i, c.v, got, c.want)
		}
	}
	if err := r.check(seenID(1), 3, seenFP(1, 3)); err == nil {
		t.Error("rollback to an older version accepted after reload")
	}
	if err := r.check(seenID(0), 3, "another record"); err == nil {
		t.Error("fork (same version, other record) accepted after reload")
	}
	if err := r.check(seenID(0), 3, seenFP(0, 3)); err != nil {
		t.Errorf("record seen before refused after reload: %v", err)
	}
	if err := r.check(seenID(0), 4, seenFP(0, 4)); err != nil {
		t.Errorf("newer record refused after reload: %v", err)
	}
}

func TestSeenLinkViewKeepsNothing(t *testing.T) {
	s := &seenVersions{v: map[string]seenRecord{}} // as link.go makes it
	if err := s.check(seenID(1), 1, "a"); err != nil {
		t.Fatal(err)
	}
	s.record(seenID(2), 1, "b")
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	if len(s.dirty) != 0 {
		t.Errorf("link view tracks %d changes", len(s.dirty))
	}
}

func TestSeenSaveAppendsOnlyChanges(t *testing.T) {
	s := newSeenForTest(t, t.TempDir())
	for i := range 100 {
		s.record(seenID(i), 1, seenFP(i, 1))
	}
	mustSave(t, s)
	before := readSeenFile(t, s)
	if n := bytes.Count(before, []byte("\n")); n != 100 {
		t.Fatalf("first save wrote %d lines, want 100", n)
	}

	// Nothing changed (a record seen before is not a change): no write.
	if err := s.check(seenID(5), 1, seenFP(5, 1)); err != nil {
		t.Fatal(err)
	}
	mustSave(t, s)
	if got := readSeenFile(t, s); !bytes.Equal(got, before) {
		t.Fatalf("a save with nothing changed wrote %d bytes", len(got)-len(before))
	}

	for _, i := range []int{3, 50, 99} {
		s.record(seenID(i), 2, seenFP(i, 2))
	}
	s.record(seenID(50), 3, seenFP(50, 3)) // twice before a save: one line
	mustSave(t, s)
	after := readSeenFile(t, s)
	if !bytes.HasPrefix(after, before) {
		t.Fatal("save rewrote earlier lines instead of appending")
	}
	added := after[len(before):]
	if n := bytes.Count(added, []byte("\n")); n != 3 {
		t.Fatalf("save of 3 changed nodes appended %d lines:\n%s", n, added)
	}
	if len(added) > 3*100 {
		t.Errorf("save of 3 changed nodes appended %d bytes", len(added))
	}
	if fi, err := os.Stat(seenPath(s)); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fi.Mode().Perm())
	}
	if r := newSeenForTest(t, s.cfg.dir); !maps.Equal(r.v, s.v) {
		t.Fatal("reloaded state differs")
	}
}

func TestSeenTornLastLine(t *testing.T) {
	for _, torn := range []string{
		`{"k":"bm9kZQ","v":`,     // crash mid-append
		"\x00\x00\x00\x00",       // zeros past the last write
		`{"k":"bm9kZQ","v":7,"f`, // cut in a field name
		"not json at all\n",      // unparsable, but whole
	} {
		s := newSeenForTest(t, t.TempDir())
		for i := range 10 {
			s.record(seenID(i), 2, seenFP(i, 2))
		}
		mustSave(t, s)
		appendToFile(t, seenPath(s), torn)

		r := newSeenForTest(t, s.cfg.dir)
		if !maps.Equal(r.v, s.v) {
			t.Fatalf("torn last line %q: reloaded %d entries, want %d", torn, len(r.v), len(s.v))
		}
		// The next save must not glue its lines to the torn one.
		r.record(seenID(3), 3, seenFP(3, 3))
		mustSave(t, r)
		b := readSeenFile(t, r)
		if _, _, clean, err := parseSeen(b); err != nil || !clean {
			t.Fatalf("torn last line %q: after a save, clean %v, err %v:\n%s", torn, clean, err, b)
		}
		if again := newSeenForTest(t, s.cfg.dir); !maps.Equal(again.v, r.v) {
			t.Fatalf("torn last line %q: state lost after the next save", torn)
		}
	}
}

func TestSeenDamagedJournal(t *testing.T) {
	s := newSeenForTest(t, t.TempDir())
	for i := range 10 {
		s.record(seenID(i), 2, seenFP(i, 2))
	}
	mustSave(t, s)
	appendToFile(t, seenPath(s), "garbage\n")
	s.record(seenID(20), 1, seenFP(20, 1))
	mustSave(t, s) // a valid line after the garbage

	r := newSeenForTest(t, s.cfg.dir)
	if len(r.v) != 0 {
		t.Fatalf("damaged journal loaded %d entries, want none", len(r.v))
	}
	// Starting again: the next save replaces the damaged file.
	if err := r.check(seenID(1), 2, seenFP(1, 2)); err != nil {
		t.Fatal(err)
	}
	mustSave(t, r)
	if again := newSeenForTest(t, s.cfg.dir); len(again.v) != 1 || !again.known(seenID(1), 2, seenFP(1, 2)) {
		t.Fatalf("after a damaged journal, the next save kept %v", again.v)
	}

	for _, junk := range []string{"\x00\x01\x02\nmore\n", "{", "{\n}\n{}", "[1,2]\n{}\n"} {
		if err := os.WriteFile(seenPath(s), []byte(junk), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := newSeenForTest(t, s.cfg.dir); len(r.v) != 0 {
			t.Errorf("junk %q loaded %v", junk, r.v)
		}
	}
}

func TestSeenCompaction(t *testing.T) {
	s := newSeenForTest(t, t.TempDir())
	const nodes = 20
	for i := range nodes {
		s.record(seenID(i), 1, seenFP(i, 1))
	}
	mustSave(t, s)
	var largest int64
	shrank := false
	for n := range 1200 {
		i, v := n%nodes, uint64(2+n/nodes)
		s.record(seenID(i), v, seenFP(i, v))
		mustSave(t, s)
		fi, err := os.Stat(seenPath(s))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() < largest {
			shrank = true
			if lines := bytes.Count(readSeenFile(t, s), []byte("\n")); lines != nodes {
				t.Fatalf("compacted journal has %d lines, want %d", lines, nodes)
			}
			if r := newSeenForTest(t, s.cfg.dir); !maps.Equal(r.v, s.v) {
				t.Fatal("state after compaction differs")
			}
			largest = fi.Size()
			continue
		}
		largest = fi.Size()
		if lines := bytes.Count(readSeenFile(t, s), []byte("\n")); lines > max(2*nodes, seenCompactMin) {
			t.Fatalf("journal has %d lines, not compacted", lines)
		}
	}
	if !shrank {
		t.Fatal("journal never compacted")
	}
	if r := newSeenForTest(t, s.cfg.dir); !maps.Equal(r.v, s.v) {
		t.Fatal("reloaded state differs")
	}
}

func TestSeenOldFormat(t *testing.T) {
	s := newSeenForTest(t, t.TempDir())
	old := map[string]seenRecord{}
	for i := range 10 {
		old[b64(seenID(i))] = seenRecord{V: uint64(i + 1), F: seenFP(i, uint64(i+1))}
	}
	if err := s.cfg.write(s.name, old); err != nil { // as the code before the journal did
		t.Fatal(err)
	}
	r := newSeenForTest(t, s.cfg.dir)
	if !maps.Equal(r.v, old) {
		t.Fatalf("old format loaded %v, want %v", r.v, old)
	}
	if err := r.check(seenID(4), 4, seenFP(4, 4)); err == nil {
		t.Error("rollback accepted after loading the old format")
	}
	// The next save converts it, even with nothing changed.
	mustSave(t, r)
	b := readSeenFile(t, r)
	if _, lines, clean, err := parseSeen(b); err != nil || !clean || lines != 10 {
		t.Fatalf("not converted: lines %d, clean %v, err %v:\n%s", lines, clean, err, b)
	}
	if again := newSeenForTest(t, s.cfg.dir); !maps.Equal(again.v, old) {
		t.Fatal("converted state differs")
	}
	// Then it is appended to.
	r.record(seenID(0), 9, seenFP(0, 9))
	mustSave(t, r)
	if got := readSeenFile(t, r); !bytes.HasPrefix(got, b) || bytes.Count(got, []byte("\n")) != 11 {
		t.Fatalf("not appended after conversion:\n%s", got)
	}
}

func TestSeenReplayRules(t *testing.T) {
	s := newSeenForTest(t, t.TempDir())
	x, y, z := b64(seenID(1)), b64(seenID(2)), b64(seenID(3))
	journal := fmt.Sprintf(`{"k":%q,"v":5,"f":"a"}
{"k":%q,"v":6,"f":"b"}
{"k":%q,"v":5,"f":"c"}
{"k":%q,"v":3,"f":"first"}
{"k":%q,"v":3,"f":"second"}
{"k":%q,"v":1,"f":"whole but for its newline"}`, x, x, x, y, y, z)
	if err := os.WriteFile(seenPath(s), []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newSeenForTest(t, s.cfg.dir)
	want := map[string]seenRecord{x: {V: 6, F: "b"}, y: {V: 3, F: "second"}, z: {V: 1, F: "whole but for its newline"}}
	if !maps.Equal(r.v, want) {
		t.Fatalf("replayed %v, want %v", r.v, want)
	}
	if !r.rewrite {
		t.Error("a last line without its newline would be appended to")
	}
}

// TestSeenRecordSameVersion: record replaces the record at an equal
// version; the reloaded journal must agree, or the record the server
// accepted would read as a fork.
func TestSeenRecordSameVersion(t *testing.T) {
	s := newSeenForTest(t, t.TempDir())
	s.record(seenID(1), 5, "first")
	mustSave(t, s)
	s.record(seenID(1), 5, "second")
	mustSave(t, s)
	r := newSeenForTest(t, s.cfg.dir)
	if err := r.check(seenID(1), 5, "second"); err != nil {
		t.Fatalf("record accepted last refused after reload: %v", err)
	}
}

// TestSeenTwoProcesses: two processes share the file; neither loses the
// other's saved entries, across appends and a compaction.
func TestSeenTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	a, b := newSeenForTest(t, dir), newSeenForTest(t, dir)
	a.record(seenID(1), 1, seenFP(1, 1))
	mustSave(t, a)
	b.record(seenID(2), 1, seenFP(2, 1))
	b.record(seenID(1), 2, seenFP(1, 2)) // b moved node 1 since
	mustSave(t, b)
	a.record(seenID(3), 1, seenFP(3, 1))
	a.rewrite = true // compact now
	mustSave(t, a)
	b.record(seenID(4), 1, seenFP(4, 1)) // lands in the compacted file
	mustSave(t, b)

	r := newSeenForTest(t, dir)
	want := map[string]seenRecord{}
	for _, e := range []struct {
		i int
		v uint64
	}{{1, 2}, {2, 1}, {3, 1}, {4, 1}} {
		want[b64(seenID(e.i))] = seenRecord{V: e.v, F: seenFP(e.i, e.v)}
	}
	if !maps.Equal(r.v, want) {
		t.Fatalf("merged %v, want %v", r.v, want)
	}
	// a's own map is not raised by what b saw: no false rollback for a
	// record a had in flight.
	if err := a.check(seenID(1), 1, seenFP(1, 1)); err != nil {
		t.Fatal(err)
	}
}

// TestSeenConcurrentProcesses races two processes appending and
// compacting the same file. Entries may be lost to a compaction (a weaker
// check), but what loads must never refuse the newest record either saw.
func TestSeenConcurrentProcesses(t *testing.T) {
	dir := t.TempDir()
	const nodes, rounds = 50, 40
	var wg sync.WaitGroup
	for p := range 2 {
		s := newSeenForTest(t, dir)
		wg.Go(func() {
			for n := range rounds * nodes {
				i, v := n%nodes, uint64(1+n/nodes)
				if p == 1 {
					i = nodes - 1 - i
				}
				s.record(seenID(i), v, seenFP(i, v))
				if n%3 == p {
					if err := s.save(); err != nil {
						t.Error(err)
						return
					}
				}
			}
			if err := s.save(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	b, err := os.ReadFile(filepath.Join(dir, newSeenForTest(t, dir).name))
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(b, []byte("\n")); lines >= 2*rounds*nodes {
		t.Errorf("%d lines: never compacted", lines) // the race was not run
	}
	r := newSeenForTest(t, dir)
	for i := range nodes {
		if got := r.v[b64(seenID(i))]; got.V > rounds || (got.V > 0 && got.F != seenFP(i, got.V)) {
			t.Errorf("node %d loaded as %+v, which nobody recorded", i, got)
		}
		if err := r.check(seenID(i), rounds, seenFP(i, rounds)); err != nil {
			t.Errorf("node %d: newest record refused: %v", i, err)
		}
	}
}

// BenchmarkSeenSave measures a save after one change with 10,000 nodes
// known: what every move of `coffer sync` pays.
func BenchmarkSeenSave(b *testing.B) {
	const nodes = 10000
	s := newSeenForTest(b, b.TempDir())
	for i := range nodes {
		s.record(seenID(i), 1, seenFP(i, 1))
	}
	if err := s.save(); err != nil {
		b.Fatal(err)
	}
	v := uint64(1)
	for i := 0; b.Loop(); i++ {
		if i%nodes == 0 {
			v++
		}
		s.record(seenID(i%nodes), v, seenFP(i%nodes, v))
		if err := s.save(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSeenAppendAfterOthersTornLine: a line torn by another process (a
// full disk, a crash) or the old format written whole by an older client
// while this one runs is not appended to, which would glue the lines.
func TestSeenAppendAfterOthersTornLine(t *testing.T) {
	for name, spoil := range map[string]func(s *seenVersions){
		"torn line": func(s *seenVersions) { appendToFile(t, seenPath(s), `{"k":"bm9kZQ","v":`) },
		"old format": func(s *seenVersions) {
			if err := s.cfg.write(s.name, map[string]seenRecord{b64(seenID(7)): {V: 2, F: seenFP(7, 2)}}); err != nil {
				t.Fatal(err)
			}
		},
	} {
		s := newSeenForTest(t, t.TempDir())
		s.record(seenID(1), 1, seenFP(1, 1))
		mustSave(t, s)
		spoil(s)
		s.record(seenID(2), 1, seenFP(2, 1))
		mustSave(t, s)
		b := readSeenFile(t, s)
		v, _, clean, err := parseSeen(b)
		if err != nil || !clean {
			t.Fatalf("%s: after a save, clean %v, err %v:\n%s", name, clean, err, b)
		}
		for _, i := range []int{1, 2} {
			if v[b64(seenID(i))].V != 1 {
				t.Errorf("%s: node %d lost", name, i)
			}
		}
	}
}

// TestSeenNoCompactionStorm: a file holding many more nodes than this
// process knows (another process's, a sync of a large folder) is not
// compacted at every save of this one: compactions stay rare.
func TestSeenNoCompactionStorm(t *testing.T) {
	dir := t.TempDir()
	big, small := newSeenForTest(t, dir), newSeenForTest(t, dir)
	for i := range 5000 {
		big.record(seenID(i), 1, seenFP(i, 1))
	}
	mustSave(t, big)
	// A compaction replaces the file: a new inode.
	compactions := 0
	var last os.FileInfo
	for n := range 3000 {
		i, v := 10_000+n%10, uint64(1+n/10)
		small.record(seenID(i), v, seenFP(i, v))
		mustSave(t, small)
		fi, err := os.Stat(seenPath(small))
		if err != nil {
			t.Fatal(err)
		}
		if last != nil && !os.SameFile(fi, last) {
			compactions++
		}
		last = fi
	}
	// small knew of no file when it opened: it compacts once, past
	// seenCompactMin lines, and learns of the 5,000 entries then.
	if compactions > 1 {
		t.Fatalf("%d compactions in 3,000 saves of 10 nodes beside 5,000 others, want at most 1", compactions)
	}
	r := newSeenForTest(t, dir)
	if len(r.v) != 5010 {
		t.Fatalf("reloaded %d nodes, want 5,010", len(r.v))
	}
}
