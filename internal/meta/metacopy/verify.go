package metacopy

import (
	"context"
	"fmt"
	"strings"
)

// primaryKey returns the columns of table's primary key in the
// destination, in the key's order. Every table of the schema has one.
func (c *copier) primaryKey(ctx context.Context, table string) ([]string, error) {
	rows, err := c.dst.QueryContext(ctx, `
		SELECT a.attname
		FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = to_regclass($1) AND i.indisprimary
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, table)
	if err != nil {
		return nil, fmt.Errorf("destination: primary key of %s: %w", table, err)
	}
	defer rows.Close()
	var key []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("destination: primary key of %s: %w", table, err)
		}
		key = append(key, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("destination: primary key of %s: %w", table, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("destination: table %s has no primary key to compare its rows by", table)
	}
	return key, nil
}

// verifyContent checks that every row of t holds the same values in
// both databases, column by column: it reads the copied columns of both,
// in primary key order, and walks them side by side, so that memory
// stays flat whatever the table's size. Both engines order the keys
// alike: integers, bytes (memcmp) and text (SQLite's BINARY collation,
// COLLATE "C" in the destination's schema). The values are compared as
// the store reads them (see canonical). The destination's columns the
// source lacks (seq, from an SQLite source) are left out: verifyCount
// and the store's order hold them.
func (c *copier) verifyContent(ctx context.Context, t table) error {
	names, key := c.copied[t.name], c.keys[t.name]
	cols := make([]column, len(names))
	quoted := make([]string, len(names))
	for i, n := range names {
		cols[i] = c.columns[t.name][n]
		quoted[i] = quote(n)
	}
	keyAt := make([]int, len(key))
	order := make([]string, len(key))
	for i, k := range key {
		keyAt[i] = -1
		for j, n := range names {
			if n == k {
				keyAt[i] = j
			}
		}
		if keyAt[i] < 0 {
			return fmt.Errorf("%s: the source has no column %s of the destination's primary key", t.name, k)
		}
		order[i] = quote(k)
	}
	q := "SELECT " + join(quoted) + " FROM " + quote(t.name) + " ORDER BY " + join(order)
	srows, err := c.src.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("read %s in the source: %w", t.name, err)
	}
	defer srows.Close()
	drows, err := c.dst.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("read %s in the destination: %w", t.name, err)
	}
	defer drows.Close()
	sVals, sPtrs := scanTargets(len(names))
	dVals, dPtrs := scanTargets(len(names))
	describeKey := func(vals []any) string {
		parts := make([]string, len(key))
		for i, k := range key {
			parts[i] = k + " " + keyString(vals[keyAt[i]])
		}
		return strings.Join(parts, ", ")
	}
	for n := int64(0); ; n++ {
		sNext, dNext := srows.Next(), drows.Next()
		if !sNext && !dNext {
			break
		}
		if sNext != dNext {
			more := "source"
			if dNext {
				more = "destination"
			}
			return fmt.Errorf("%s: the rows differ: the %s has more than %d", t.name, more, n)
		}
		if err := srows.Scan(sPtrs...); err != nil {
			return fmt.Errorf("read %s in the source: %w", t.name, err)
		}
		if err := drows.Scan(dPtrs...); err != nil {
			return fmt.Errorf("read %s in the destination: %w", t.name, err)
		}
		// Values may be secrets (verifiers, sealed keys): the errors
		// name the row and the column only.
		for _, j := range keyAt {
			if !sameValue(cols[j], sVals[j], dVals[j]) {
				return fmt.Errorf("%s: the rows differ (%s in the source, %s in the destination)", t.name, describeKey(sVals), describeKey(dVals))
			}
		}
		for i := range names {
			if !sameValue(cols[i], sVals[i], dVals[i]) {
				return fmt.Errorf("%s.%s of %s: the copy differs from the source", t.name, names[i], describeKey(sVals))
			}
		}
	}
	if err := srows.Err(); err != nil {
		return fmt.Errorf("read %s in the source: %w", t.name, err)
	}
	if err := drows.Err(); err != nil {
		return fmt.Errorf("read %s in the destination: %w", t.name, err)
	}
	return nil
}

func scanTargets(n int) (vals, ptrs []any) {
	vals, ptrs = make([]any, n), make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, ptrs
}

// sameValue reports whether a value read from the source and one read
// from the destination are the same to the store, for the destination's
// column col.
func sameValue(col column, src, dst any) bool {
	return canonical(col, src) == canonical(col, dst)
}

// blobValue is a byte string, kept apart from text.
type blobValue string

// otherValue is a value of a type the schema does not use, as text.
type otherValue string

// canonical returns a comparable form of v, a value the drivers read:
//   - integers as int64, and booleans as 0 or 1, as SQLite stores them;
//   - byte strings as blobValue, NULL alike with the empty string in a
//     bytea column: the SQLite driver reads a zero-length BLOB as nil,
//     and the store reads NULL and empty alike (sqlmeta.nullBlob);
//   - text as string; anything else as its printed form.
func canonical(col column, v any) any {
	switch x := v.(type) {
	case nil:
		if col.bytea {
			return blobValue("")
		}
		return nil
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case []byte:
		return blobValue(x)
	case string:
		return x
	default:
		return otherValue(fmt.Sprintf("%T %v", v, v))
	}
}
