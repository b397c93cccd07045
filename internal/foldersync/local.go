package foldersync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
)

// local is one file or folder found in the synced folder.
type local struct {
	Kind  int
	Size  int64
	MTime int64 // Unix nanoseconds
	Ino   uint64
}

// sameStat reports whether a local file looks as it did when b was
// recorded: then its content is b's, and it is not read again.
func (l *local) sameStat(b *base) bool {
	return l.Kind == b.Kind && (l.Kind == kindFolder || l.Size == b.Size && l.MTime == b.MTime && l.Ino == b.Ino)
}

func statOf(info fs.FileInfo) *local {
	l := &local{Kind: kindFile, Size: info.Size(), MTime: info.ModTime().UnixNano()}
	if info.IsDir() {
		l.Kind, l.Size, l.MTime = kindFolder, 0, 0
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		l.Ino = uint64(st.Ino)
	}
	return l
}

// scan walks the synced folder and returns what it holds by path
// ("/"-separated, relative), leaving out ignored and reserved names,
// symbolic links (with a warning: they are not followed) and names the
// drive cannot hold.
func (s *Syncer) scan(ctx context.Context) (map[string]*local, *ignorer, error) {
	out := map[string]*local{}
	ig := newIgnorer()
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := ig.load(dir, rel); err != nil {
			return err
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			if rel != "" && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked; the next pass sees it
			}
			return fmt.Errorf("read folder %s: %w", dir, err)
		}
		for _, de := range entries {
			name := de.Name()
			p := path.Join(rel, name)
			if rel == "" {
				p = name
			}
			full := filepath.Join(dir, name)
			if reserved(name) {
				if s.tidy && strings.HasPrefix(name, client.TempPrefix) && de.Type().IsRegular() {
					// A download a killed sync left half done.
					_ = os.Remove(full)
				}
				continue
			}
			t := de.Type()
			if t&fs.ModeSymlink != 0 {
				if !ig.ignored(p, false) {
					s.warnOnce("skipping symbolic link " + full + " (links are not followed)")
				}
				continue
			}
			if !t.IsDir() && !t.IsRegular() {
				continue // sockets, pipes, devices
			}
			if ig.ignored(p, t.IsDir()) {
				continue
			}
			if n, err := crypto.NormalizeName(name); err != nil || n != name {
				s.warnOnce(fmt.Sprintf("skipping %s: its name cannot be stored as it is (it must be valid, NFC-normalised UTF-8)", full))
				continue
			}
			info, err := de.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("stat %s: %w", full, err)
			}
			out[p] = statOf(info)
			if t.IsDir() {
				if err := walk(full, p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(s.opt.Local, ""); err != nil {
		return nil, nil, err
	}
	return out, ig, nil
}

// hashed is a file's content as read: its SHA-256, the SHA-256 of each
// 4 MiB block, and how the file looked while it was read.
type hashed struct {
	SHA    [32]byte
	Blocks []byte
	Stat   *local
}

// hashFile reads a file and hashes it. A file that changes while it is
// read (its size, time or inode move) is read again, up to three times,
// so a hash never describes a torn mix of two versions.
func hashFile(ctx context.Context, full string) (*hashed, error) {
	for try := 0; ; try++ {
		h, changed, err := hashOnce(ctx, full)
		if err != nil || !changed {
			return h, err
		}
		if try == 2 {
			return nil, fmt.Errorf("%s keeps changing while it is read; it will be synced once it settles: %w", full, errBusy)
		}
	}
}

// errBusy marks a file that could not be read whole, for now.
var errBusy = errors.New("busy")

func hashOnce(ctx context.Context, full string) (*hashed, bool, error) {
	f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", full, err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", full, err)
	}
	if !before.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s is not a regular file", full)
	}
	whole := sha256.New()
	buf := make([]byte, 256<<10)
	var blocks []byte
	block := sha256.New()
	inBlock := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		n, rerr := f.Read(buf[:min(len(buf), crypto.BlockSize-inBlock)])
		whole.Write(buf[:n])
		block.Write(buf[:n])
		inBlock += n
		if inBlock == crypto.BlockSize {
			blocks = block.Sum(blocks)
			block.Reset()
			inBlock = 0
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, false, fmt.Errorf("read %s: %w", full, rerr)
		}
	}
	if inBlock > 0 {
		blocks = block.Sum(blocks)
	}
	after, err := os.Lstat(full)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", full, err)
	}
	sb, sa := statOf(before), statOf(after)
	if *sb != *sa {
		return nil, true, nil
	}
	h := &hashed{Stat: sb, Blocks: blocks}
	whole.Sum(h.SHA[:0])
	return h, false, nil
}
