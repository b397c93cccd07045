//go:build !linux || arm

package file

import "os"

// startWriteback does nothing where sync_file_range is not available; the
// concurrent fsyncs of PutBatch still share the filesystem's flushes.
func startWriteback(*os.File) {}
