//go:build !unix

package client

import "os"

// openNoFollow opens a local file for reading. Without O_NOFOLLOW the
// regular-file check before it is all there is.
func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
