package metacopy

import "testing"

func TestSameValue(t *testing.T) {
	var (
		plain    = column{}
		boolean  = column{boolean: true}
		bytea    = column{bytea: true}
		required = column{bytea: true, notNull: true}
	)
	for _, c := range []struct {
		col      column
		src, dst any
		same     bool
	}{
		{plain, int64(7), int64(7), true},
		{plain, int64(7), int64(8), false},
		{plain, int64(7), int32(7), true},
		{plain, int64(0), nil, false},
		{plain, nil, nil, true},
		// SQLite's INTEGER 0 and 1 are PostgreSQL's booleans.
		{boolean, int64(1), true, true},
		{boolean, int64(0), false, true},
		{boolean, int64(1), false, false},
		{boolean, int64(0), true, false},
		{boolean, true, true, true},
		// SQLite's driver reads a zero-length BLOB as nil.
		{required, []byte(nil), []byte{}, true},
		{required, nil, []byte{}, true},
		{bytea, nil, []byte{}, true},
		{bytea, nil, []byte{0}, false},
		{bytea, []byte{1, 2}, []byte{1, 2}, true},
		{bytea, []byte{1, 2}, []byte{1, 3}, false},
		{bytea, []byte{1, 2}, []byte{1, 2, 0}, false},
		// Text is not bytes, and not NULL when empty.
		{plain, "alice", "alice", true},
		{plain, "alice", "alicE", false},
		{plain, "", nil, false},
		{plain, "ab", []byte("ab"), false},
		{plain, int64(1), "1", false},
		{plain, 1.5, 1.5, true},
		{plain, 1.5, 2.5, false},
	} {
		if got := sameValue(c.col, c.src, c.dst); got != c.same {
			t.Errorf("sameValue(%+v, %#v, %#v) = %v, want %v", c.col, c.src, c.dst, got, c.same)
		}
	}
}
