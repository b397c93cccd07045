package sqlmeta

import (
	"fmt"
)

// intCol scans an INTEGER column into an integer of any width or
// signedness. A uint64 is stored as its int64 bit pattern and comes back
// unchanged. It spares database/sql's generic conversion, which formats
// and parses every integer, on the listing hot path.
type intCol[T ~int | ~int64 | ~uint64] struct{ p *T }

// Scan implements sql.Scanner.
func (c intCol[T]) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("integer column holds %T, want int64", src)
	}
	*c.p = T(v)
	return nil
}

// arena hands out copies of scanned byte strings carved from a few large
// buffers instead of one allocation each, for listings of many rows. The
// copies are capped, so appending to one never overwrites another.
type arena struct{ buf []byte }

const (
	arenaFirst = 1 << 10  // the first buffer: one row or a few
	arenaMax   = 64 << 10 // buffers grow by doubling up to this
)

func (a *arena) copy(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		size := min(max(2*cap(a.buf), arenaFirst), arenaMax)
		if len(b) > size/4 {
			// Large values get their own allocation rather than
			// wasting the rest of a buffer.
			return append([]byte(nil), b...)
		}
		a.buf = make([]byte, 0, size)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// arenaCol scans a BLOB column, which may be NULL, into a copy from an
// arena. As with blobCol, NULL and a zero-length value both read as nil.
type arenaCol struct {
	a *arena
	b *[]byte
}

// Scan implements sql.Scanner.
func (c arenaCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.b = nil
	case []byte:
		// The driver may reuse v after Scan returns.
		*c.b = c.a.copy(v)
	default:
		return fmt.Errorf("blob column holds %T, want []byte", src)
	}
	return nil
}

// nullBlob encodes b for a BLOB column that holds NULL when there is
// nothing, such as a root's parent.
func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
