//go:build !linux

package file

import (
	"errors"
	"os"
)

// canSyncFS reports whether PutBatch may flush the whole filesystem instead
// of fsyncing each file and folder. Only Linux has syncfs(2), so elsewhere
// PutBatch keeps the fsyncs.
func canSyncFS(string) (bool, error) {
	return false, nil
}

// syncFS is never called where canSyncFS reports false.
func syncFS(*os.File) error {
	return errors.ErrUnsupported
}

// deviceOf reports that it cannot tell which filesystem holds a path, so
// createTemp makes a missing store folder again without checking that it
// is still on the filesystem it was opened on.
func deviceOf(string) (uint64, bool, error) {
	return 0, false, nil
}
