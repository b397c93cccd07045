package sqlmeta

import (
	"context"
	"fmt"

	"github.com/coffer-drive/coffer/internal/meta"
)

// blockPageSize is how many blocks BlocksWithPrefix reads per statement:
// enough that the statements cost little next to fn, few enough that a
// page is read, and its read transaction over, in about a millisecond.
const blockPageSize = 1000

// The statements reading one page of BlocksWithPrefix, searched by the
// primary key (TestStorageQueryPlans). The lower bound is inclusive; the upper
// one is the next prefix, which the last prefix (0xff) does not have.
const (
	blockPageQuery     = `SELECT id, size FROM blocks WHERE id >= ? AND id < ? ORDER BY id LIMIT ?`
	lastBlockPageQuery = `SELECT id, size FROM blocks WHERE id >= ? ORDER BY id LIMIT ?`
)

// blockRow is one block read by BlocksWithPrefix.
type blockRow struct {
	id   []byte
	size int64
}

// BlocksWithPrefix calls fn for every block whose ID starts with prefix,
// in ascending ID order. See meta.StorageStore.
//
// It reads a page at a time on the reading pool, each page a statement of
// its own, and calls fn only once a page is read and its statement done:
// the walk holds no lock and no read transaction while fn runs, so fn may
// write (the writing connection is free), and a long walk neither holds
// up writers nor keeps the WAL from being checkpointed. Each page starts
// just past the last ID of the one before (keyset pagination), so blocks
// added or deleted between pages shift nothing.
func (s *Store) BlocksWithPrefix(ctx context.Context, prefix byte, fn func(id []byte, size int64) error) error {
	// A blob sorts after every proper prefix of it, so the 1-byte prefix
	// is below every 32-byte ID that starts with it, and the next 1-byte
	// prefix above them all.
	from := []byte{prefix}
	var to []byte
	if prefix < 0xff {
		to = []byte{prefix + 1}
	}
	page := make([]blockRow, 0, blockPageSize)
	for {
		var err error
		page, err = s.blockPage(ctx, page[:0], from, to)
		if err != nil {
			return fmt.Errorf("blocks with prefix %02x: %w", prefix, err)
		}
		more := len(page) == blockPageSize
		if more {
			// The least blob above the last ID is that ID with a zero
			// byte appended: nothing lies between the two. So the next
			// page starts just after it with the same inclusive
			// statement. Built before fn runs, since fn owns the IDs it
			// is given and may change them.
			last := page[len(page)-1].id
			from = append(append(make([]byte, 0, len(last)+1), last...), 0)
		}
		for _, b := range page {
			// A walk cut short must not look complete: once ctx is
			// done, fn is not called again and the walk fails.
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("blocks with prefix %02x: %w", prefix, err)
			}
			if err := fn(b.id, b.size); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// blockPage appends to page the blocks from from (inclusive) up to to
// (exclusive; nil for no bound), at most blockPageSize of them.
func (s *Store) blockPage(ctx context.Context, page []blockRow, from, to []byte) ([]blockRow, error) {
	query, args := blockPageQuery, []any{from, to, blockPageSize}
	if to == nil {
		query, args = lastBlockPageQuery, []any{from, blockPageSize}
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var b blockRow
		// blobCol copies the ID, which fn may keep.
		if err := rows.Scan(blobCol{&b.id}, intCol[int64]{&b.size}); err != nil {
			return nil, err
		}
		page = append(page, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Close now rather than at return, so that an error closing (ending
	// the statement's read transaction) is reported.
	return page, rows.Close()
}

// CountBlocks returns the number and total size of the recorded blocks.
// It reads every row of blocks, in one statement: a consistent count, at
// the cost of a scan, which status can afford and hot paths must not use.
func (s *Store) CountBlocks(ctx context.Context) (n int64, bytes int64, err error) {
	err = s.r.QueryRowContext(ctx,
		`SELECT count(*), CAST(coalesce(sum(size), 0) AS BIGINT) FROM blocks`).Scan(&n, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("count blocks: %w", err)
	}
	return n, bytes, nil
}

// storageLocationColumns are the columns of storage_locations in the
// order scanStorageLocation reads them.
const storageLocationColumns = `name, scrubbed_at, scrub_next, repaired_at`

// StorageLocations returns every saved location, in byte order of their
// names: the BINARY collation of the primary key, which also serves the
// ORDER BY.
func (s *Store) StorageLocations(ctx context.Context) ([]meta.StorageLocation, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+storageLocationColumns+` FROM storage_locations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("storage locations: %w", err)
	}
	defer rows.Close()
	var list []meta.StorageLocation
	for rows.Next() {
		var loc meta.StorageLocation
		if err := rows.Scan(storageLocationDest(&loc)...); err != nil {
			return nil, fmt.Errorf("storage locations: %w", err)
		}
		list = append(list, loc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage locations: %w", err)
	}
	return list, nil
}

// StorageLocation returns the location saved under name, or
// meta.ErrNotFound.
func (s *Store) StorageLocation(ctx context.Context, name string) (meta.StorageLocation, error) {
	var loc meta.StorageLocation
	err := s.r.QueryRowContext(ctx,
		`SELECT `+storageLocationColumns+` FROM storage_locations WHERE name = ?`, name,
	).Scan(storageLocationDest(&loc)...)
	if err != nil {
		return meta.StorageLocation{}, fmt.Errorf("storage location %q: %w", name, s.dbErr(err))
	}
	return loc, nil
}

// storageLocationDest returns the scan destinations of
// storageLocationColumns into loc.
func storageLocationDest(loc *meta.StorageLocation) []any {
	return []any{&loc.Name, timeCol{&loc.ScrubbedAt}, intCol[int]{&loc.ScrubNext}, timeCol{&loc.RepairedAt}}
}

// SaveStorageLocation inserts loc, or replaces the location saved under
// its name, in one statement.
func (s *Store) SaveStorageLocation(ctx context.Context, loc meta.StorageLocation) error {
	// Checked here too, not only by the table's CHECK, so that the caller
	// gets meta.ErrInvalid rather than a constraint error.
	switch {
	case loc.Name == "":
		return fmt.Errorf("save storage location: empty name: %w", meta.ErrInvalid)
	case loc.ScrubNext < 0 || loc.ScrubNext > 256:
		return fmt.Errorf("save storage location %q: scrub prefix %d outside 0..256: %w",
			loc.Name, loc.ScrubNext, meta.ErrInvalid)
	}
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO storage_locations (`+storageLocationColumns+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET scrubbed_at = excluded.scrubbed_at,
			scrub_next = excluded.scrub_next, repaired_at = excluded.repaired_at`,
		loc.Name, micros(loc.ScrubbedAt), loc.ScrubNext, micros(loc.RepairedAt))
	if err != nil {
		return fmt.Errorf("save storage location %q: %w", loc.Name, err)
	}
	return nil
}

// StorageLayout returns the saved layout, or meta.ErrNotFound.
func (s *Store) StorageLayout(ctx context.Context) (string, error) {
	var layout string
	err := s.r.QueryRowContext(ctx, `SELECT layout FROM storage_layout WHERE id = 1`).Scan(&layout)
	if err != nil {
		return "", fmt.Errorf("storage layout: %w", s.dbErr(err))
	}
	return layout, nil
}

// SaveStorageLayout records the layout in the table's one row.
func (s *Store) SaveStorageLayout(ctx context.Context, layout string) error {
	if layout == "" {
		return fmt.Errorf("save storage layout: empty: %w", meta.ErrInvalid)
	}
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO storage_layout (id, layout) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET layout = excluded.layout`, layout)
	if err != nil {
		return fmt.Errorf("save storage layout: %w", err)
	}
	return nil
}
