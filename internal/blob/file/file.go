// Package file implements blob.Store on a local folder, one file per block.
//
// # Layout
//
// The block with ID 0xabcd… lives at DIR/ab/cd/abcd…, its 64-digit hex ID,
// so no folder holds more than 256 entries plus its share of the blocks
// (about 15 per folder per million blocks). Blocks are written first to
// DIR/tmp, which nothing else reads.
//
// # Durability
//
// Put writes the block to a new file in DIR/tmp, checks its hash, fsyncs
// the file, renames it to its final name and fsyncs the folder holding
// that name. The fsync of the file makes the content durable before any
// name points at it, and rename replaces a name atomically, so after a
// crash the final name holds either nothing or the whole block, never a
// part. The fsync of the folder makes the new name itself durable; only
// then does Put return. A fan-out folder's own name must be durable too:
// Open fsyncs the folders holding the fan-out folders it finds, and the
// first Put into any other folder also fsyncs the two folders above it.
// The temp file's name in DIR/tmp need not be durable: if it comes back
// after a crash, it is garbage that a later Open removes.
//
// PutBatch makes the same promise for every block of a batch, for a few
// flushes shared by the whole batch instead of about three fsyncs per
// block: one for the temp file, one for its leaf folder (with 65,536 of
// them and random IDs, nearly every block of a batch lands in a folder of
// its own) and, while the store is young, the folders above. Where it can
// (see below) it makes a group commit on the whole filesystem:
//
//  1. it writes every block to a temp file, without fsync;
//  2. it calls syncfs(2) on the store's filesystem, which writes out and
//     flushes everything written to it so far, the temp files included;
//  3. it renames every temp file to its final name, making fan-out folders
//     as needed;
//  4. it calls syncfs again, which makes the new names and folders durable,
//     and returns.
//
// Step 2 coming before step 3 is what keeps a final name from pointing at
// part of a block after a crash, as the fsync of the file does for Put.
// Each syncfs is followed by an fsync of the store's folder, which costs a
// drive cache flush at most: the kernel's syncfs flushes the drive's cache
// before writing out the last of the filesystem's metadata buffers, which
// on ext4 without a journal hold the folders' entries.
//
// syncfs flushes the whole filesystem, not just the store: it writes out
// everything any program has written to it and not yet flushed, and waits
// for it. On a filesystem the server has to itself that is the batch and
// little else, and the two flushes cost a few milliseconds. On a disk
// shared with a program that writes a lot (a database, a backup, a build),
// every batch also waits for that program's data, tens or hundreds of
// milliseconds, and flushing it early makes that program's writes cost
// more too; so give the store a filesystem of its own. Failures are not
// lost: since Linux 5.8 syncfs returns the writeback errors (such as EIO)
// the filesystem has met since the handle it is called on was opened, and
// PutBatch opens that handle before writing the batch, so a block that
// could not be written out fails the batch (some other program's failed
// write-back may fail it too, which is harmless: the batch is put again).
//
// PutBatch uses syncfs only on Linux 5.8 or later (earlier kernels drop
// those errors), only on ext2/3/4, XFS, btrfs, F2FS and tmpfs (whose
// syncfs commits their journal or transaction and flushes the drive; on
// network, FUSE or overlay filesystems and on ZFS it may promise less),
// and only for batches of at least minGroup distinct blocks. Otherwise it
// goes through the same steps as Put, in phases: it writes all temp files,
// then fsyncs them all, several at a time so that the filesystem's journal
// commits them together; then it renames all of them; then it fsyncs each
// folder it touched once, again several at a time. Small batches take this
// way because their few fsyncs cost little on a quiet disk while a syncfs
// on a busy one can cost far more (see minGroup).
//
// PutBatch checks every block against its ID before it writes any, so a
// batch with a corrupt block stores nothing, either way.
//
// All of this relies on fsync and syncfs doing what they promise, as they
// do on ext4, XFS and btrfs on Linux (and fsync on ZFS). On macOS fsync
// does not flush the drive's cache, so a power loss can lose blocks Put has
// acknowledged.
//
// Delete is not made durable: a block deleted just before a crash may come
// back, as blob.Store allows.
//
// # Unchecked stores
//
// A store opened with OpenUnchecked treats a block's ID as a name only: it
// stores and returns whatever bytes it is given under it, without hashing
// them. Layout and durability are as above.
//
// Several processes may share one folder. Open removes temp files only
// once they are an hour old, so it does not pull them from under another
// process's Put in progress. A syncfs flushes whatever another process has
// half written, which does it no harm: each process makes its own blocks
// durable before it names them, and names them durable before it returns.
package file

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coffer-drive/coffer/internal/blob"
)

var (
	_ blob.Store       = (*Store)(nil)
	_ blob.BatchPutter = (*Store)(nil)
)

const (
	// tmpDir is the folder, inside the store's, that blocks are written
	// to before they are renamed into place. Its name is not two hex
	// digits, so List never mistakes it for a fan-out folder.
	tmpDir = "tmp"

	// tmpPattern names temp files (see os.CreateTemp).
	tmpPattern = "put-*"

	// staleAge is how old a temp file must be before Open removes it. A
	// Put rewrites its temp file as data arrives and a stalled one fails
	// long before this, so a file this old belongs to no Put in progress.
	staleAge = time.Hour

	// copyBufSize is the buffer Put copies a reader through when the
	// reader cannot write itself out (as bytes.Reader can). Large reads
	// mean few system calls: a 4 MiB block takes four.
	copyBufSize = 1 << 20

	// syncWorkers bounds how many files or folders PutBatch writes or
	// fsyncs at once. Concurrent fsyncs share journal commits; past a few
	// dozen there is little left to share.
	syncWorkers = 32

	// batchChunk bounds how many temp files PutBatch holds open at once,
	// so that a large batch cannot run the process out of descriptors.
	batchChunk = 256

	// fanout is the number of leaf folders: two levels of 256.
	fanout = 1 << 16

	// minGroup is the fewest distinct blocks for which PutBatch flushes
	// the whole filesystem (twice) instead of fsyncing each file and
	// folder. On a quiet filesystem the two flushes already win at four
	// blocks, but below 16 they save a millisecond or two, while on a
	// filesystem another program keeps dirty each syncfs waits for that
	// program's data: with 64 MiB kept dirty, a batch of 1 to 4 small
	// blocks took 60–100 ms instead of 3–6 (BenchmarkGroupCommit). Above
	// this the fsyncs grow with the batch and the two flushes do not.
	minGroup = 16
)

// Store is a blob.Store backed by a local folder. See the package
// documentation for the layout and the durability argument.
type Store struct {
	dir string // absolute path of the store's folder
	tmp string // dir/tmp

	// known has a bit set for every leaf folder DIR/ab/cd that this
	// process has seen exist with its own name and its parent's flushed
	// to disk. Until its bit is set, a Put into the folder fsyncs the
	// folders above it too.
	known [fanout / 64]atomic.Uint64

	// syncfs is set if PutBatch may make blocks durable by flushing the
	// whole filesystem (see groupCommit and canSyncFS).
	syncfs bool

	// unchecked is set for a store opened with OpenUnchecked: Put and
	// PutBatch do not check content against IDs, and Get does not
	// verify what it reads.
	unchecked bool

	bufs sync.Pool // of *[]byte, copyBufSize long

	// parentDev and dirDev are the devices (st_dev) of the filesystems
	// that held the folder above the store's and the store's own folder
	// when it was opened; devOK is false where the platform cannot tell
	// (see deviceOf), and then they are not checked. Before making a
	// missing folder again, createTemp compares them with what it finds
	// then, so that a filesystem unmounted under the store is not
	// silently replaced by an empty folder on the disk below it.
	parentDev, dirDev uint64
	devOK             bool

	// deviceOf returns the device of the filesystem holding a path, as
	// the platform's deviceOf does. It is a field so that tests, which
	// cannot unmount a filesystem, can pretend a path has moved to
	// another one.
	deviceOf func(path string) (dev uint64, ok bool, err error)
}

// Open opens the block store in dir, creating the folder (mode 0700) if
// needed, and removes temp files left over by crashed writers.
func Open(dir string) (*Store, error) {
	return openStore(dir, false)
}

// OpenUnchecked is like Open, but the store it returns treats a block's ID
// only as a name: Put and PutBatch store whatever bytes they are given
// under it, without comparing their SHA-256 with the ID, and Get hands
// back the stored bytes as they are, never failing with blob.ErrCorrupt.
// Layout, durability and the handling of contexts are those of Open.
//
// It is for a caller that checks content itself and must keep under a
// block's ID bytes that do not hash to it, such as a redundancy layer
// storing a block's erasure-code shards: each shard is named by its
// block's ID, and the layer verifies the block once it has put it back
// together. Such a store must not be handed to code that relies on the
// blob.Store promise that Get detects rot.
//
// A folder should be opened one way only: an unchecked store's blocks
// read through a checked one fail as corrupt.
func OpenUnchecked(dir string) (*Store, error) {
	return openStore(dir, true)
}

func openStore(dir string, unchecked bool) (*Store, error) {
	s, err := open(dir)
	if err != nil {
		// Drop the copy of the path an *fs.PathError about dir itself
		// carries; the message names it once already.
		var pe *fs.PathError
		if errors.As(err, &pe) && filepath.Clean(pe.Path) == filepath.Clean(dir) {
			err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
		}
		return nil, fmt.Errorf("open block store %q: %w", dir, err)
	}
	s.unchecked = unchecked
	return s, nil
}

func open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := mkdirDurable(abs); err != nil {
		return nil, err
	}
	s := &Store{dir: abs, tmp: filepath.Join(abs, tmpDir), deviceOf: deviceOf}
	// Note where the folder is mounted, for createTemp's checks.
	if s.parentDev, s.devOK, err = s.deviceOf(filepath.Dir(abs)); err != nil {
		return nil, err
	}
	if s.devOK {
		if s.dirDev, s.devOK, err = s.deviceOf(abs); err != nil {
			return nil, err
		}
	}
	s.bufs.New = func() any {
		b := make([]byte, copyBufSize)
		return &b
	}
	if err := mkdirDurable(s.tmp); err != nil {
		return nil, err
	}
	// Find out now, with a clear error, if the folder cannot be written
	// (a read-only mount, or owned by someone else), rather than at the
	// first upload.
	f, err := os.CreateTemp(s.tmp, tmpPattern)
	if err != nil {
		return nil, fmt.Errorf("folder is not writable: %w", err)
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return nil, err
	}
	if err := s.removeStaleTemps(time.Now().Add(-staleAge)); err != nil {
		return nil, err
	}
	if err := s.learnLeaves(); err != nil {
		return nil, err
	}
	if s.syncfs, err = canSyncFS(s.dir); err != nil {
		return nil, err
	}
	return s, nil
}

// learnLeaves marks the fan-out folders that exist already as known, after
// making their names durable with one fsync per top-level folder and one of
// the store's folder. Without this, a restarted server would pay two extra
// fsyncs on its first Put into each of up to 65,536 folders.
func (s *Store) learnLeaves() error {
	tops, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	tops = slices.DeleteFunc(tops, func(e fs.DirEntry) bool {
		_, ok := hexByte(e.Name())
		return !ok || !e.IsDir()
	})
	found := make([][]int, len(tops))
	err = parallel(context.Background(), len(tops), func(i int) error {
		hi, _ := hexByte(tops[i].Name())
		top := filepath.Join(s.dir, tops[i].Name())
		subs, err := os.ReadDir(top)
		if err != nil {
			return err
		}
		for _, sub := range subs {
			if lo, ok := hexByte(sub.Name()); ok && sub.IsDir() {
				found[i] = append(found[i], hi<<8|lo)
			}
		}
		// The fsync comes after the listing, so it covers every
		// folder listed, even one another process has just made.
		return syncDir(top)
	})
	if err != nil {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	for _, ls := range found {
		for _, l := range ls {
			s.setKnown(l)
		}
	}
	return nil
}

// mkdirDurable creates dir and any missing parents with mode 0700, and
// fsyncs the parent of each folder it creates so the new names survive a
// crash. It fails if dir exists and is not a folder.
func mkdirDurable(dir string) error {
	// Collect the folders that do not exist yet, deepest first.
	var missing []string
	for d := dir; ; {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return &fs.PathError{Op: "open", Path: d, Err: syscall.ENOTDIR}
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(missing) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range missing {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// removeStaleTemps removes the temp files last written before cutoff.
func (s *Store) removeStaleTemps(cutoff time.Time) error {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return err
	}
	for _, e := range entries {
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // another process removed it first
		}
		if err != nil {
			return err
		}
		if !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.tmp, e.Name())); err != nil {
			return fmt.Errorf("remove stale temp file: %w", err)
		}
	}
	return nil
}

// leaf returns the index of the fan-out folder holding id.
func leaf(id blob.ID) int {
	return int(id[0])<<8 | int(id[1])
}

// leafDir returns the path of the fan-out folder holding id.
func (s *Store) leafDir(id blob.ID) string {
	const hexDigits = "0123456789abcdef"
	ab := string([]byte{hexDigits[id[0]>>4], hexDigits[id[0]&15]})
	cd := string([]byte{hexDigits[id[1]>>4], hexDigits[id[1]&15]})
	return filepath.Join(s.dir, ab, cd)
}

// path returns the file name of block id.
func (s *Store) path(id blob.ID) string {
	return filepath.Join(s.leafDir(id), id.String())
}

// createTemp makes a temp file for a block being written. If the store's
// folder has gone (the disk was replaced, or an operator emptied the
// location to have it rebuilt), it makes the folders again and forgets
// which leaf folders exist, so that the location takes blocks again
// without a restart and repair can refill it. It does not if the folder
// has gone because the filesystem holding it was unmounted (see
// checkRemount).
func (s *Store) createTemp() (*os.File, error) {
	f, err := os.CreateTemp(s.tmp, tmpPattern)
	if !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	if err := s.checkRemount(err); err != nil {
		return nil, err
	}
	if err := mkdirDurable(s.dir); err != nil {
		return nil, err
	}
	if err := mkdirDurable(s.tmp); err != nil {
		return nil, err
	}
	for i := range s.known {
		s.known[i].Store(0)
	}
	return os.CreateTemp(s.tmp, tmpPattern)
}

// checkRemount returns an error, wrapping cause (why the store's folders
// were found missing), if making them again would put them on another
// filesystem than the one they were on at open. When the filesystem that
// held them is unmounted (a network share that dropped, a disk that
// failed), the path leads to the empty mount point on the disk below,
// often the server's root disk. Blocks written there would count as
// stored in this location, toward a redundancy layer's write quorum,
// while they are not where the location is meant to be (in another data
// centre, on another disk); they would also fill the root disk. Better
// that Puts fail until an operator remounts it or restarts the server.
//
// It refuses when the folder above the store's is gone or on another
// device than at open, and when the store's folder, if it is still there,
// was the root of a filesystem at open but is now on its parent's (the
// mount point itself left behind by the unmount). The price is that a
// replacement disk mounted above the store's folder, rather than at it,
// takes blocks only after a restart.
func (s *Store) checkRemount(cause error) error {
	if !s.devOK {
		return nil
	}
	parent := filepath.Dir(s.dir)
	pdev, _, err := s.deviceOf(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("block folder %s is gone and so is the folder %s above it (an unmounted disk?): not recreating them: %w", s.dir, parent, cause)
	}
	if err != nil {
		return err
	}
	if pdev != s.parentDev {
		return fmt.Errorf("block folder %s is gone and its parent is now on another filesystem (an unmounted disk?): not recreating it there: %w", s.dir, cause)
	}
	ddev, _, err := s.deviceOf(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the folder itself is gone, from where it was
	}
	if err != nil {
		return err
	}
	if s.dirDev != s.parentDev && ddev == pdev {
		return fmt.Errorf("block folder %s was the root of a filesystem and is now an empty folder on its parent's (an unmounted disk?): not recreating %s there: %w", s.dir, tmpDir, cause)
	}
	return nil
}

func (s *Store) isKnown(l int) bool {
	return s.known[l/64].Load()&(1<<(l%64)) != 0
}

func (s *Store) setKnown(l int) {
	s.known[l/64].Or(1 << (l % 64))
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, id blob.ID, r io.Reader) error {
	if err := s.put(ctx, id, r); err != nil {
		return fmt.Errorf("put block %x: %w", id[:8], err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, id blob.ID, r io.Reader) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := s.createTemp()
	if err != nil {
		return err
	}
	t := temp{id: id, name: f.Name()}
	installing := false
	defer func() {
		// Once install has the temp file, it removes the file itself
		// if it fails: the name may be another Put's by then.
		if err != nil && !installing {
			f.Close()
			os.Remove(t.name)
		}
	}()

	var (
		w io.Writer = f
		h hash.Hash
	)
	if !s.unchecked {
		h = sha256.New()
		w = io.MultiWriter(f, h)
	}
	if _, ok := r.(io.WriterTo); ok {
		// The reader hands over its bytes directly (bytes.Reader does it
		// in one Write), so a buffer would only cost a copy.
		_, err = io.Copy(ctxWriter{ctx, w}, r)
	} else {
		buf := s.bufs.Get().(*[]byte)
		_, err = io.CopyBuffer(ctxWriter{ctx, w}, r, *buf)
		s.bufs.Put(buf)
	}
	if err != nil {
		return err
	}
	if h != nil && blob.ID(h.Sum(nil)) != id {
		return blob.ErrCorrupt
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	installing = true
	return s.install(ctx, []temp{t})
}

// ctxWriter fails writes once ctx is done, so that a Put whose caller gave
// up stops copying at the next chunk.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// temp is a block written and fsynced to a temp file, ready to install.
type temp struct {
	id   blob.ID
	name string // full path in s.tmp
}

// install renames the temp files into place and makes the new names
// durable: it fsyncs every leaf folder it renamed into, once, and the
// folders above any leaf not yet known to be durable. On error it removes
// the temp files it has not renamed.
func (s *Store) install(ctx context.Context, temps []temp) error {
	p, err := s.place(temps)
	if err != nil {
		return err
	}
	list := make([]string, 0, len(p.dirs))
	for d := range p.dirs {
		list = append(list, d)
	}
	// The blocks are in place; finish making them durable even if ctx
	// ends now, since the caller will otherwise put them again anyway.
	err = parallel(context.WithoutCancel(ctx), len(list), func(i int) error {
		return syncDir(list[i])
	})
	if err != nil {
		return err
	}
	s.learn(p.newLeaves)
	return nil
}

// placed is what place did: the folders whose entries it changed, which
// must be flushed before the blocks are durable, and the leaf folders not
// known before, which become known once they are.
type placed struct {
	dirs      map[string]bool
	newLeaves []int
}

// place renames the temp files to their final names, making the fan-out
// folders they need, and flushes nothing. It stops at the first error; it
// then removes the temp files not yet renamed (as only it knows which they
// are) and returns what it did so far with the error.
func (s *Store) place(temps []temp) (p placed, err error) {
	p.dirs = make(map[string]bool)
	seen := make(map[int]bool) // leaf folders made sure of
	done := 0
	defer func() {
		for _, t := range temps[done:] {
			os.Remove(t.name)
		}
	}()
	// made records a leaf folder this call has made sure of. Whether it
	// made the folders or found them, their names may not be on disk
	// yet: flush them along with the blocks'.
	made := func(id blob.ID) {
		l := leaf(id)
		ab := filepath.Dir(s.leafDir(id))
		p.dirs[ab] = true
		p.dirs[filepath.Dir(ab)] = true
		p.newLeaves = append(p.newLeaves, l)
		seen[l] = true
	}
	ensure := func(id blob.ID) error {
		if l := leaf(id); s.isKnown(l) || seen[l] {
			return nil
		}
		if err := mkdirLeaf(s.leafDir(id)); err != nil {
			return err
		}
		made(id)
		return nil
	}
	// Make the missing leaf folders first, several at a time: a mkdir
	// costs more than a rename, and in a young store most blocks need
	// one.
	var need []blob.ID // one block of each leaf folder to make
	for _, t := range temps {
		if l := leaf(t.id); !s.isKnown(l) && !seen[l] {
			seen[l] = true
			need = append(need, t.id)
		}
	}
	err = parallelN(context.Background(), len(need), runtime.GOMAXPROCS(0), func(i int) error {
		return mkdirLeaf(s.leafDir(need[i]))
	})
	if err != nil {
		return p, err
	}
	for _, id := range need {
		made(id)
	}
	for _, t := range temps {
		dst := s.path(t.id)
		err := os.Rename(t.name, dst)
		if errors.Is(err, fs.ErrNotExist) {
			// Someone removed the fan-out folder since this process
			// last looked. Make it again and retry once.
			l := leaf(t.id)
			s.known[l/64].And(^(1 << (l % 64)))
			seen[l] = false
			if err = ensure(t.id); err == nil {
				err = os.Rename(t.name, dst)
			}
		}
		if err != nil {
			return p, err // names the block: the path is its ID
		}
		done++
		p.dirs[filepath.Dir(dst)] = true
	}
	return p, nil
}

// mkdirLeaf makes the leaf folder ld, and the folder above it if that is
// missing too. A folder that exists already is no error. It is
// os.MkdirAll without the Stat calls, since most leaf folders it is asked
// for are missing.
func mkdirLeaf(ld string) error {
	err := os.Mkdir(ld, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		err = os.Mkdir(filepath.Dir(ld), 0o700)
		if err == nil || errors.Is(err, fs.ErrExist) {
			err = os.Mkdir(ld, 0o700)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		// If it is a file rather than a folder, the rename into it
		// fails and says so.
		return nil
	}
	return err
}

// learn marks leaf folders as known, once their names are durable.
func (s *Store) learn(leaves []int) {
	for _, l := range leaves {
		s.setKnown(l)
	}
}

// syncDir fsyncs a folder, making the names in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	return nil
}

// PutBatch implements blob.BatchPutter; see the package documentation for
// how it shares flushes across the batch.
func (s *Store) PutBatch(ctx context.Context, blocks []blob.Block) error {
	// Check every block before writing any, so that a corrupt one stores
	// none of the batch.
	if !s.unchecked {
		if err := blob.CheckBatch(blocks); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put batch of %d blocks: %w", len(blocks), err)
	}
	// Write each distinct block once. (In an unchecked store, two blocks
	// of a batch with one ID but different bytes leave either.)
	seen := make(map[blob.ID]bool, len(blocks))
	uniq := make([]*blob.Block, 0, len(blocks))
	for i := range blocks {
		if b := &blocks[i]; !seen[b.ID] {
			seen[b.ID] = true
			uniq = append(uniq, b)
		}
	}
	if len(uniq) == 0 {
		return nil
	}
	var err error
	if s.groupCommit(uniq) {
		err = s.putGroup(ctx, uniq)
	} else {
		err = s.putEach(ctx, uniq)
	}
	if err != nil {
		return fmt.Errorf("put batch of %d blocks: %w", len(blocks), err)
	}
	return nil
}

// groupCommit reports whether PutBatch should make blocks durable with
// putGroup's two flushes of the whole filesystem rather than with putEach's
// fsyncs of each file and folder. See minGroup.
func (s *Store) groupCommit(blocks []*blob.Block) bool {
	return s.syncfs && len(blocks) >= minGroup
}

// putEach puts blocks with one fsync per temp file and one per folder
// renamed into, several at a time so that they share journal commits.
func (s *Store) putEach(ctx context.Context, blocks []*blob.Block) error {
	var temps []temp
	for start := 0; start < len(blocks); start += batchChunk {
		chunk := blocks[start:min(start+batchChunk, len(blocks))]
		ts, err := s.writeTemps(ctx, chunk, true)
		temps = append(temps, ts...)
		if err != nil {
			removeTemps(temps)
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		removeTemps(temps)
		return err
	}
	return s.install(ctx, temps)
}

// putGroup puts blocks with two flushes of the whole filesystem (syncfs)
// for the batch: the first makes every temp file's content durable before
// any final name points at it, the second makes the final names and any
// new fan-out folders durable. See the package documentation.
func (s *Store) putGroup(ctx context.Context, blocks []*blob.Block) error {
	// Open the handle syncfs goes through before writing anything:
	// syncfs reports the writeback errors the filesystem has seen since
	// the handle was opened, so opening it later could miss an error in
	// writing back a temp file.
	fsys, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer fsys.Close()

	var temps []temp
	for start := 0; start < len(blocks); start += batchChunk {
		chunk := blocks[start:min(start+batchChunk, len(blocks))]
		ts, err := s.writeTemps(ctx, chunk, false)
		temps = append(temps, ts...)
		if err != nil {
			removeTemps(temps)
			return err
		}
	}
	if err := syncFS(fsys); err != nil {
		removeTemps(temps)
		return fmt.Errorf("flush temp files: %w", err)
	}
	if err := ctx.Err(); err != nil {
		removeTemps(temps)
		return err
	}
	p, err := s.place(temps)
	if err != nil {
		return err
	}
	// The blocks are in place. As in install, finish making them durable
	// even if ctx ends now (syncfs cannot be interrupted anyway).
	if err := syncFS(fsys); err != nil {
		return fmt.Errorf("flush new names: %w", err)
	}
	s.learn(p.newLeaves)
	return nil
}

// removeTemps removes temp files that were not renamed into place.
func removeTemps(temps []temp) {
	for _, t := range temps {
		os.Remove(t.name)
	}
}

// writeTemps writes each block to a temp file and, if sync is set, fsyncs
// them all. It returns the temp files it created, also on error, for
// removal.
func (s *Store) writeTemps(ctx context.Context, blocks []*blob.Block, sync bool) ([]temp, error) {
	temps := make([]temp, len(blocks))
	files := make([]*os.File, len(blocks))
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	// Write them all first, then fsync them all at once: concurrent
	// fsyncs share the journal commits (and drive cache flushes) that
	// one after another would each pay for alone. Without fsyncs the
	// writes only use CPU, and more writers than CPUs would only queue
	// for the lock on the temp folder.
	workers := runtime.GOMAXPROCS(0)
	if sync {
		workers = syncWorkers
	}
	err := parallelN(ctx, len(blocks), workers, func(i int) error {
		b := blocks[i]
		f, err := s.createTemp()
		if err != nil {
			return fmt.Errorf("put block %x: %w", b.ID[:8], err)
		}
		files[i] = f
		temps[i] = temp{id: b.ID, name: f.Name()}
		if _, err := f.Write(b.Data); err != nil {
			return fmt.Errorf("put block %x: %w", b.ID[:8], err)
		}
		if !sync {
			files[i] = nil
			if err := f.Close(); err != nil {
				return fmt.Errorf("put block %x: %w", b.ID[:8], err)
			}
		}
		return nil
	})
	if err == nil && sync {
		err = parallel(ctx, len(blocks), func(i int) error {
			f := files[i]
			files[i] = nil
			err := f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("put block %x: %w", blocks[i].ID[:8], err)
			}
			return nil
		})
	}
	// Report only the temp files that exist.
	made := temps[:0]
	for _, t := range temps {
		if t.name != "" {
			made = append(made, t)
		}
	}
	return made, err
}

// parallel calls fn(0) … fn(n-1) on up to syncWorkers goroutines. It stops
// starting calls after the first error, or once ctx is done, and returns
// that error.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	return parallelN(ctx, n, syncWorkers, fn)
}

// parallelN is parallel on up to workers goroutines.
func parallelN(ctx context.Context, n, workers int, fn func(i int) error) error {
	if n == 1 {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(0)
	}
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		failed  atomic.Bool
		wg      sync.WaitGroup
	)
	for range min(n, workers) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := ctx.Err()
				if err == nil {
					err = fn(i)
				}
				if err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, id blob.ID) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get block %x: %w", id[:8], err)
	}
	f, err := os.Open(s.path(id))
	if err != nil {
		return nil, fmt.Errorf("get block %x: %w", id[:8], notFound(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get block %x: %w", id[:8], err)
	}
	if s.unchecked {
		return blob.WithSize(blob.RawReader(ctx, id, f), fi.Size()), nil
	}
	return blob.WithSize(blob.VerifyReader(ctx, id, f), fi.Size()), nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, id blob.ID) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("stat block %x: %w", id[:8], err)
	}
	fi, err := os.Stat(s.path(id))
	if err != nil {
		return 0, fmt.Errorf("stat block %x: %w", id[:8], notFound(err))
	}
	return fi.Size(), nil
}

// Delete implements blob.Store. It leaves the fan-out folders in place:
// removing one could race with a Put renaming a block into it.
func (s *Store) Delete(ctx context.Context, id blob.ID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete block %x: %w", id[:8], err)
	}
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete block %x: %w", id[:8], err)
	}
	return nil
}

// notFound turns the OS's "no such file" into blob.ErrNotFound, keeping
// the OS error's text.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", blob.ErrNotFound, err)
	}
	return err
}

// List implements blob.Store. It yields blocks in ascending order of ID,
// and skips anything in the folder that is not a block in its right place.
func (s *Store) List(ctx context.Context, fn func(blob.ID) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list blocks: %w", err)
	}
	tops, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list blocks: %w", err)
	}
	var names []string
	for _, top := range tops {
		if _, ok := hexByte(top.Name()); ok && top.IsDir() {
			names = append(names, top.Name())
		}
	}
	err = s.walk(ctx, names, func(id blob.ID, _ fs.DirEntry) error {
		if err := fn(id); err != nil {
			return fnError{err}
		}
		return nil
	})
	if fe, ok := err.(fnError); ok {
		return fe.err
	}
	if err != nil {
		return fmt.Errorf("list blocks: %w", err)
	}
	return nil
}

// Scan calls fn for every stored block whose ID starts with the byte
// prefix, in ascending order of ID, with the block's size and the time its
// file was last written. It reads only the 256 fan-out folders under that
// prefix, so scanning the whole store a prefix at a time costs about what
// one List does, plus a stat of each block.
//
// As with List, if fn returns an error Scan stops and returns that error
// unwrapped; blocks put or deleted while Scan runs may or may not be seen
// (a block deleted between the reading of its folder and its stat is
// skipped); and fn may call the store's other methods.
func (s *Store) Scan(ctx context.Context, prefix byte, fn func(blob.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("scan blocks %02x…: %w", prefix, err)
	}
	// As List does, skip the top-level folder if it is anything but a
	// folder (a file, or a link to some other tree).
	top := fmt.Sprintf("%02x", prefix)
	fi, err := os.Lstat(filepath.Join(s.dir, top))
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scan blocks %02x…: %w", prefix, err)
	}
	err = s.walk(ctx, []string{top}, func(id blob.ID, e fs.DirEntry) error {
		// Stat each block only now, just before fn sees it, so that
		// blocks fn deletes further on are skipped, not reported.
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil // replaced by something else since
		}
		if err := fn(blob.Info{ID: id, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return fnError{err}
		}
		return nil
	})
	if fe, ok := err.(fnError); ok {
		return fe.err
	}
	if err != nil {
		return fmt.Errorf("scan blocks %02x…: %w", prefix, err)
	}
	return nil
}

// fnError carries the error of a List or Scan caller's fn out of walk, so
// that they can return it unwrapped while wrapping all other errors.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// walk calls fn for every block in the fan-out folders under the top-level
// folders tops (two-digit names, in ascending order), in ascending order
// of ID, with the block's directory entry. It skips anything that is not a
// block in its right place, and folders that vanish while it runs. It
// stops at fn's first error and returns it as it is.
func (s *Store) walk(ctx context.Context, tops []string, fn func(blob.ID, fs.DirEntry) error) error {
	for _, top := range tops {
		subs, err := readDir(filepath.Join(s.dir, top))
		if err != nil {
			return err
		}
		for _, sub := range subs {
			if _, ok := hexByte(sub.Name()); !ok || !sub.IsDir() {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			prefix := top + sub.Name()
			files, err := readDir(filepath.Join(s.dir, top, sub.Name()))
			if err != nil {
				return err
			}
			for _, f := range files {
				if !f.Type().IsRegular() || f.Name()[:min(4, len(f.Name()))] != prefix {
					continue
				}
				id, err := blob.ParseID(f.Name())
				if err != nil {
					continue
				}
				if err := fn(id, f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readDir is os.ReadDir, but a folder that is gone is empty.
func readDir(dir string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return entries, err
}

// hexByte parses the name of a fan-out folder, two lowercase hex digits.
func hexByte(name string) (int, bool) {
	digit := func(c byte) int {
		switch {
		case '0' <= c && c <= '9':
			return int(c - '0')
		case 'a' <= c && c <= 'f':
			return int(c - 'a' + 10)
		}
		return -1
	}
	if len(name) != 2 {
		return 0, false
	}
	hi, lo := digit(name[0]), digit(name[1])
	if hi < 0 || lo < 0 {
		return 0, false
	}
	return hi<<4 | lo, true
}

// Close implements blob.Store. The store holds no resources between
// calls, so Close does nothing; readers from Get stay usable until closed.
func (s *Store) Close() error {
	return nil
}
