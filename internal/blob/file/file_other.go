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
