package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
)

// downloadAhead is how many blocks are fetched ahead of the writer.
const downloadAhead = 4

// GetOptions tune Get.
type GetOptions struct {
	// Progress, if set, is called with the plaintext bytes written so far.
	Progress func(total int64)
}

// Get downloads a file or folder to local. If local is an existing folder,
// the download goes inside it. Files are written to a temporary name and
// renamed only once every block and the whole-file hash have checked out,
// so a tampered download never leaves a file behind.
func (d *Drive) Get(ctx context.Context, remote, local string, opt GetOptions) error {
	e, err := d.Resolve(ctx, remote)
	if err != nil {
		return err
	}
	if st, err := os.Stat(local); err == nil && st.IsDir() {
		name := e.Name
		if e.Parent == nil {
			name = "."
		}
		local = filepath.Join(local, name)
	}
	return d.getEntry(ctx, e, local, opt.counter())
}

// counter turns the per-chunk byte counts of parallel downloads into the
// running total that Progress reports, one call at a time.
func (opt GetOptions) counter() func(int) {
	var (
		mu    sync.Mutex
		total int64
	)
	return func(n int) {
		mu.Lock()
		defer mu.Unlock()
		total += int64(n)
		if opt.Progress != nil {
			opt.Progress(total)
		}
	}
}

func (d *Drive) getEntry(ctx context.Context, e *Entry, local string, progress func(int)) error {
	if !e.IsDir() {
		return d.getFile(ctx, e, local, progress)
	}
	if d.link != nil {
		// Through a link the records come unchecked against any earlier
		// view, so a server could serve a folder inside itself.
		if d.link.walked[string(e.ID)] {
			return fmt.Errorf("%s: the folder appears inside itself: %w", e.path, ErrTampered)
		}
		d.link.walked[string(e.ID)] = true
	}
	if err := os.MkdirAll(local, 0o755); err != nil {
		return fmt.Errorf("create folder %s: %w", local, err)
	}
	kids, err := d.List(ctx, e)
	if err != nil {
		return err
	}
	var files []*Entry
	for _, k := range kids {
		// Names are checked when they are opened; this keeps one that
		// is a path on this system (a "\" on Windows) from leaving the
		// target folder.
		if filepath.Base(k.Name) != k.Name || !filepath.IsLocal(k.Name) {
			return fmt.Errorf("%s: the name %q cannot be written on this system", k.path, k.Name)
		}
		if !k.IsDir() {
			files = append(files, k)
		}
	}
	// Files go in groups: the blocks of a group's small files come in one
	// request, then the group's files are written, several at once.
	for len(files) > 0 {
		n := min(len(files), prefetchFiles)
		if err := d.getFiles(ctx, files[:n], local, progress); err != nil {
			return err
		}
		files = files[n:]
	}
	for _, k := range kids {
		if k.IsDir() {
			if err := d.getEntry(ctx, k, filepath.Join(local, k.Name), progress); err != nil {
				return err
			}
		}
	}
	return nil
}

// prefetchFiles is how many files' blocks are asked for in one request.
const prefetchFiles = 256

func (d *Drive) getFiles(ctx context.Context, files []*Entry, local string, progress func(int)) error {
	var (
		small [][]byte
		total int
	)
	for _, f := range files {
		// A batch names no file, so it holds only this account's own
		// blocks; files of a share come one by one.
		if f.via != nil || d.link != nil || len(f.Head.Blocks) != 1 || f.Attrs.Size > smallFile {
			continue
		}
		n := crypto.SealedBlockSize(crypto.PadmeLen(int(f.Attrs.Size))) + 36
		if total+n > api.MaxBatchBytes/2 {
			break // the rest come one by one
		}
		total += n
		small = append(small, f.Head.Blocks[0])
	}
	if len(small) > 1 {
		if err := d.prefetch(ctx, small); err != nil {
			return err
		}
		// Whatever a failure leaves in the cache must not outlive it.
		defer func() {
			for _, id := range small {
				d.cache.Delete(string(id))
			}
		}()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, parallelFiles)
	var wg sync.WaitGroup
	for _, f := range files {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := d.getFile(ctx, f, filepath.Join(local, f.Name), progress); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// prefetch fetches many blocks in one request into the block cache, where
// fetchBlock finds them. Nothing is trusted yet: fetchBlock checks each
// block's hash and opens it as if it had come alone.
func (d *Drive) prefetch(ctx context.Context, ids [][]byte) error {
	var buf bytes.Buffer
	err := d.acc.t.doRawJSON(ctx, http.MethodPost, api.PathBlocksGet, api.BlockIDs{IDs: ids}, &buf, api.MaxBatchBytes)
	if err != nil {
		return fmt.Errorf("fetch blocks: %w", err)
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[string(id)] = true
	}
	b := buf.Bytes()
	for len(b) > 0 {
		if len(b) < 36 {
			return fmt.Errorf("fetch blocks: the answer is cut short: %w", ErrTampered)
		}
		id, n := b[:32], uint64(binary.BigEndian.Uint32(b[32:36]))
		if n > uint64(len(b)-36) {
			return fmt.Errorf("fetch blocks: the answer is cut short: %w", ErrTampered)
		}
		if want[string(id)] {
			d.cache.Store(string(id), b[36:36+n])
		}
		b = b[36+n:]
	}
	return nil
}

// parallelFiles is how many files of a folder download at once.
const parallelFiles = 8

func (d *Drive) getFile(ctx context.Context, e *Entry, local string, progress func(int)) error {
	if _, err := os.Stat(local); err == nil {
		return fmt.Errorf("%s already exists; not overwriting it", local)
	}
	// A short temporary name: the final one may already be 255 bytes.
	tmp, err := os.CreateTemp(filepath.Dir(local), ".coffer-get-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", local, err)
	}
	defer os.Remove(tmp.Name())
	if err := d.stream(ctx, e, tmp, progress); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", local, err)
	}
	mtime := time.Unix(0, e.Attrs.ModTime)
	if err := os.Chtimes(tmp.Name(), mtime, mtime); err != nil {
		return fmt.Errorf("set time of %s: %w", local, err)
	}
	return placeNoReplace(tmp.Name(), local)
}

// placeNoReplace gives the finished file at tmp its final name local,
// never replacing a file there: files of one folder download in parallel,
// and two entries may map to one local name (uploads not yet filed keep
// the names their uploaders gave; a case-insensitive file system folds
// others together). A hard link fails if the name is taken; where links
// are not supported, a check then a rename is the best there is.
func placeNoReplace(tmp, local string) error {
	err := os.Link(tmp, local)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s already exists; not overwriting it", local)
	}
	if _, serr := os.Lstat(local); serr == nil {
		return fmt.Errorf("%s already exists; not overwriting it", local)
	}
	if err := os.Rename(tmp, local); err != nil {
		return fmt.Errorf("write %s: %w", local, err)
	}
	return nil
}

// Cat writes a file's content to w. Every block is authenticated before its
// bytes are written; the whole-file hash is checked at the end.
func (d *Drive) Cat(ctx context.Context, remote string, w io.Writer) error {
	e, err := d.Resolve(ctx, remote)
	if err != nil {
		return err
	}
	if e.IsDir() {
		return fmt.Errorf("%s is a folder", e.path)
	}
	return d.stream(ctx, e, w, func(int) {})
}

type fetched struct {
	plain []byte
	err   error
}

// stream fetches, checks and decrypts a file's blocks, fetching a few ahead
// in parallel, and writes them in order.
func (d *Drive) stream(ctx context.Context, e *Entry, w io.Writer, progress func(int)) error {
	r := e.Head
	ck, err := d.contentKey(e, r)
	if err != nil {
		return fmt.Errorf("%s: %w", e.path, tampered(err))
	}
	// Each block opens under the key of the revision that sealed it:
	// this one, or an earlier one whose block it re-uses (docs/crypto.md
	// 12.6), whose key the record carries.
	opener, err := crypto.NewRevisionOpener(ck, revisionRecord(r))
	if err != nil {
		return fmt.Errorf("%s: %w", e.path, tampered(err))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(r.Blocks)
	results := make([]chan fetched, n)
	for i := range results {
		results[i] = make(chan fetched, 1)
	}
	sem := make(chan struct{}, downloadAhead)
	go func() {
		for i := range n {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				plain, err := d.fetchBlock(ctx, e, opener, r.Blocks[i], i, i == n-1)
				results[i] <- fetched{plain, err}
			}()
		}
	}()
	h := sha256.New()
	remaining := int64(e.Attrs.Size)
	for i := range n {
		var f fetched
		select {
		case f = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-sem
		if f.err != nil {
			return f.err
		}
		chunk := f.plain
		if int64(len(chunk)) > remaining {
			// Padding of the last block; it must be zeros.
			if !allZero(chunk[remaining:]) {
				return fmt.Errorf("%s: block %d: padding is not zero: %w", e.path, i, ErrTampered)
			}
			chunk = chunk[:remaining]
		}
		if i < n-1 && len(chunk) != crypto.BlockSize {
			return fmt.Errorf("%s: block %d is short: %w", e.path, i, ErrTampered)
		}
		h.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			return fmt.Errorf("write %s: %w", e.path, err)
		}
		remaining -= int64(len(chunk))
		progress(len(chunk))
	}
	if remaining != 0 {
		return fmt.Errorf("%s: content is %d bytes short of its recorded size: %w", e.path, remaining, ErrTampered)
	}
	if subtle.ConstantTimeCompare(h.Sum(nil), e.Attrs.SHA256[:]) != 1 {
		return fmt.Errorf("%s: content does not match its recorded SHA-256: %w", e.path, ErrTampered)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// fetchBlock downloads block i, checks it hashes to the ID the signed
// manifest names, and opens it with its index and last-block flag bound.
func (d *Drive) fetchBlock(ctx context.Context, e *Entry, opener *crypto.RevisionOpener, id []byte, i int, last bool) ([]byte, error) {
	// Size the buffer for this block: a small file's only block is small,
	// and zeroing 4 MiB for each of thousands of them costs more than the
	// download.
	want := crypto.BlockSize
	if last {
		want = crypto.PadmeLen(int(e.Attrs.Size - uint64(i)*crypto.BlockSize))
	}
	var data []byte
	if v, ok := d.cache.LoadAndDelete(string(id)); ok {
		data = v.([]byte)
	} else {
		var buf bytes.Buffer
		buf.Grow(crypto.SealedBlockSize(want))
		p := "/v1/blocks/" + hex.EncodeToString(id)
		switch {
		case d.link != nil:
			p = d.link.path("/blocks/"+hex.EncodeToString(id)) + "?node=" + b64(e.ID)
		case e.via != nil:
			// Not this account's block: the server lets a member read
			// it through the shared file it belongs to.
			p += "?node=" + b64(e.ID)
		}
		if err := d.acc.t.doRaw(ctx, http.MethodGet, p, "", nil, 0, &buf); err != nil {
			return nil, fmt.Errorf("%s: fetch block %d: %w", e.path, i, err)
		}
		data = buf.Bytes()
	}
	got := crypto.BlockID(data)
	if subtle.ConstantTimeCompare(got[:], id) != 1 {
		return nil, fmt.Errorf("%s: block %d does not match its ID: %w", e.path, i, ErrTampered)
	}
	plain, err := opener.Open(nil, data, uint64(i), last)
	if err != nil {
		return nil, fmt.Errorf("%s: block %d does not open (swapped, reordered, truncated or from another file): %w", e.path, i, tampered(err))
	}
	return plain, nil
}
