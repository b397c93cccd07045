//go:build unix

package client

import (
	"os"
	"syscall"
)

// openNoFollow opens a local file for reading, refusing a symbolic link:
// the file was checked to be a regular file, and a link swapped in since
// must not be followed.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
