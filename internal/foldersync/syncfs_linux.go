package foldersync

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the file system that holds dir: one call for a whole
// group of downloads instead of an fsync each.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("flush downloads: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("flush downloads: %w", err)
	}
	return nil
}
