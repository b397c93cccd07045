//go:build linux

package file

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// canSyncFS reports whether syncfs(2) on dir's filesystem makes everything
// written to it durable, and reports writeback errors, so that PutBatch may
// rely on it instead of fsyncing each file and folder.
//
// That takes Linux 5.8 or later: before, syncfs returned 0 even when the
// writeback it started had failed, and a batch could be acknowledged with
// a block lost to an I/O error that fsync would have reported. And it takes
// a local filesystem whose sync_fs commits its journal or transaction; on
// others (network filesystems, FUSE, overlays) syncfs may return before
// the data is on stable storage, so they keep the fsyncs.
func canSyncFS(dir string) (bool, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return false, fmt.Errorf("uname: %w", err)
	}
	if !kernelAtLeast(unix.ByteSliceToString(uts.Release[:]), 5, 8) {
		return false, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	switch uint32(st.Type) {
	case unix.EXT4_SUPER_MAGIC, // also ext2 and ext3
		unix.XFS_SUPER_MAGIC,
		unix.BTRFS_SUPER_MAGIC,
		unix.F2FS_SUPER_MAGIC,
		unix.TMPFS_MAGIC: // nothing survives a reboot; syncfs is cheap
		return true, nil
	}
	return false, nil
}

// kernelAtLeast reports whether the kernel release, as in "6.1.0-13-amd64",
// is major.minor or later. A release it cannot parse counts as older.
func kernelAtLeast(release string, major, minor int) bool {
	fields := strings.SplitN(release, ".", 3)
	if len(fields) < 2 {
		return false
	}
	maj, err := strconv.Atoi(fields[0])
	if err != nil {
		return false
	}
	// The minor number may run into a suffix ("8-rc1", "8+").
	m := fields[1]
	if i := strings.IndexFunc(m, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		m = m[:i]
	}
	mnr, err := strconv.Atoi(m)
	if err != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}

// syncFS flushes the whole filesystem holding f, a handle on the store's
// folder, to stable storage with syncfs(2). It returns any writeback error
// the filesystem has recorded since f was opened.
//
// It then fsyncs f, which is nearly free but closes a gap: sync_filesystem
// in the kernel asks the filesystem to flush the drive's cache before it
// writes out the last dirty metadata buffers, and ext4 without a journal
// keeps directory blocks in exactly those buffers. The fsync flushes the
// cache again, after them.
func syncFS(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "syncfs", Path: f.Name(), Err: serr}
	}
	return f.Sync()
}

// deviceOf returns the device (st_dev) of the filesystem holding path, so
// that createTemp can tell whether the store's folder is still on the
// filesystem it was opened on.
func deviceOf(path string) (uint64, bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false, nil
	}
	return uint64(st.Dev), true, nil // uint32 on some architectures
}
