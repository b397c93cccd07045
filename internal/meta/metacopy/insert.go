package metacopy

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// maxBatchBytes flushes a batch early once its byte strings add up to
// this much, so that rows with large values (revisions list their
// blocks) do not make one statement of hundreds of megabytes.
const maxBatchBytes = 4 << 20

// maxParams is PostgreSQL's limit on the parameters of one statement.
const maxParams = 65535

// inserter writes rows of one table in multi-row INSERTs: one round trip
// per batch instead of one per row.
type inserter struct {
	tx      *sql.Tx
	head    string // INSERT INTO t (columns) VALUES
	ncols   int
	maxRows int
	full    string // the statement for a full batch, built once
	args    []any
	rows    int
	bytes   int
}

func newInserter(tx *sql.Tx, table string, cols []string, batchRows int) *inserter {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quote(c)
	}
	return &inserter{
		tx:      tx,
		head:    "INSERT INTO " + quote(table) + " (" + join(quoted) + ") VALUES ",
		ncols:   len(cols),
		maxRows: max(1, min(batchRows, maxParams/max(1, len(cols)))),
	}
}

// add queues one row, writing the batch once it is full.
func (in *inserter) add(ctx context.Context, row []any) error {
	in.args = append(in.args, row...)
	in.rows++
	for _, v := range row {
		if b, ok := v.([]byte); ok {
			in.bytes += len(b)
		}
	}
	if in.rows >= in.maxRows || in.bytes >= maxBatchBytes {
		return in.flush(ctx)
	}
	return nil
}

// flush writes the rows queued.
func (in *inserter) flush(ctx context.Context) error {
	if in.rows == 0 {
		return nil
	}
	var q string
	if in.rows == in.maxRows {
		if in.full == "" {
			in.full = in.statement(in.rows)
		}
		q = in.full
	} else {
		q = in.statement(in.rows)
	}
	if _, err := in.tx.ExecContext(ctx, q, in.args...); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	clear(in.args) // let the values go
	in.args, in.rows, in.bytes = in.args[:0], 0, 0
	return nil
}

// statement returns the INSERT of n rows.
func (in *inserter) statement(n int) string {
	var b strings.Builder
	b.WriteString(in.head)
	p := 1
	for r := range n {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range in.ncols {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// quote quotes an identifier for both engines ("name").
func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

func join(s []string) string { return strings.Join(s, ", ") }
