package metacopy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// RetiredSuffix is added to the name of an SQLite database whose
// metadata was copied to PostgreSQL: meta.db becomes meta.db.migrated.
const RetiredSuffix = ".migrated"

// sqliteCompanions are the files SQLite keeps beside a database in WAL
// mode, named after it.
var sqliteCompanions = []string{"-wal", "-shm"}

// Renamed is one file RetireSQLite renamed.
type Renamed struct {
	From, To string
}

// retiredNames returns the files of the SQLite database at path and the
// names RetireSQLite gives them: the database first, then its -wal and
// -shm files, renamed alike so that SQLite still finds them beside it.
func retiredNames(path string) []Renamed {
	to := path + RetiredSuffix
	names := []Renamed{{path, to}}
	for _, c := range sqliteCompanions {
		names = append(names, Renamed{path + c, to + c})
	}
	return names
}

// CheckRetire reports an error if RetireSQLite(path) would refuse to
// rename: a file of the new names exists already. Run it before the copy,
// so that a copy is not committed with a source that cannot be put aside.
func CheckRetire(path string) error {
	for _, r := range retiredNames(path) {
		if _, err := os.Lstat(r.To); err == nil {
			return fmt.Errorf("%s exists already (an earlier migration?): move it away first, since the source %s is to be renamed to it after the copy", r.To, path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", r.To, err)
		}
	}
	return nil
}

// RetireSQLite renames the SQLite database at path, which must be closed,
// and its -wal and -shm files if any, adding RetiredSuffix to their names,
// and returns what it renamed. It never overwrites a file: it fails if one
// of the new names exists.
//
// Once a deployment's metadata is in PostgreSQL, the SQLite file is stale.
// A server or operator command started on the data folder without --db
// would otherwise open it, and a storage repair would delete every block
// uploaded after the migration as unknown to it. Renamed, the file is
// gone for them (operator commands then fail with "no metadata at", and a
// new, empty database made by coffer serve does not own the block
// locations), and is still there as a backup.
func RetireSQLite(path string) ([]Renamed, error) {
	if err := CheckRetire(path); err != nil {
		return nil, err
	}
	var done []Renamed
	for _, r := range retiredNames(path) {
		if _, err := os.Lstat(r.From); errors.Is(err, fs.ErrNotExist) && r.From != path {
			continue // no -wal or -shm: SQLite removed them on closing
		}
		if err := os.Rename(r.From, r.To); err != nil {
			return done, fmt.Errorf("put the source aside: %w", err)
		}
		done = append(done, r)
	}
	return done, nil
}
