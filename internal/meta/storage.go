package meta

import (
	"context"
	"time"
)

// StorageLocation is what the server remembers about one block location
// between runs, so that a restarted server (or another server process on
// the same store) resumes a scrub pass instead of starting over, and
// status can say how long ago each location was last checked.
type StorageLocation struct {
	// Name is the location's URL as the operator gave it. It is shown in
	// status and logs, so it must carry no secrets.
	Name string
	// ScrubbedAt is when the last full scrub pass of the location
	// finished; zero if none ever has.
	ScrubbedAt time.Time
	// ScrubNext is the first block ID prefix (0..256) that the scrub pass
	// in progress has not done yet. 0 and 256 both mean none is in
	// progress: a pass that has done every prefix is indistinguishable
	// from one that has not started.
	ScrubNext int
	// RepairedAt is when the last full repair pass that reached the
	// location finished; zero if none ever has.
	RepairedAt time.Time
}

// StorageStore is the part of the metadata store that the repair worker
// and the scrubber of the block locations need: the catalog of blocks
// that must be kept, and their progress between runs.
type StorageStore interface {
	// BlocksWithPrefix calls fn for every recorded block whose ID starts
	// with prefix, in ascending ID order: every block there is a row for,
	// referenced or not, since a block just uploaded and not committed
	// yet must be kept as well. Splitting the catalog by the first byte
	// lets a pass be done, and resumed, one 256th at a time.
	//
	// The walk is not a snapshot, so that it never holds up uploads:
	// every block recorded for the whole walk is seen exactly once, but a
	// block added or deleted meanwhile may or may not be. fn may call the
	// store's other methods, writes included. The id passed to fn is its
	// own copy, which fn may keep or change. An error from fn stops the
	// walk and is returned as it is, not wrapped. Once ctx is done fn is
	// not called again and the walk returns ctx's error (wrapped), so that
	// a walk cut short never looks complete.
	BlocksWithPrefix(ctx context.Context, prefix byte, fn func(id []byte, size int64) error) error
	// CountBlocks returns the number and total size of the recorded
	// blocks, for status. It may read every block's row: it is not for
	// hot paths.
	CountBlocks(ctx context.Context) (n int64, bytes int64, err error)

	// StorageLocations returns every saved location, in byte order of
	// their names (as Go compares strings), whatever the database's
	// collation, so that every implementation lists them alike.
	StorageLocations(ctx context.Context) ([]StorageLocation, error)
	// StorageLocation returns the location saved under this exact name,
	// or ErrNotFound if none ever was.
	StorageLocation(ctx context.Context, name string) (StorageLocation, error)
	// SaveStorageLocation stores loc whole, replacing what was saved
	// under its name: the record is progress that only moves as one unit.
	// An empty Name or a ScrubNext outside 0..256 is ErrInvalid. Times
	// come back in UTC, to the millisecond at least (a scrub pass may
	// take less than a second); a zero time comes back zero.
	SaveStorageLocation(ctx context.Context, loc StorageLocation) error

	// StorageLayout returns how blocks are laid out over the locations,
	// as last saved (an opaque non-empty string to the store), or
	// ErrNotFound if it never was. A server compares it with its flags
	// before touching any block.
	StorageLayout(ctx context.Context) (string, error)
	// SaveStorageLayout records the layout, replacing any before it. An
	// empty layout is ErrInvalid.
	SaveStorageLayout(ctx context.Context, layout string) error
}
