package foldersync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
)

// parallelDownloads is how many files download at once.
const parallelDownloads = 8

// prefetchGroup is how many small files' blocks are fetched per request.
const prefetchGroup = 256

// download fetches the remote files of paths into place: each is written
// to a temporary file beside its place and checked; then the group is
// flushed to disk at once, and each file renamed over its place, but only
// if the local file is still as this round saw it (the user may be
// editing it: then the next round sees a conflict instead).
func (s *Syncer) download(ctx context.Context, v *view, paths []string, rep *Report) error {
	for len(paths) > 0 {
		n := min(len(paths), prefetchGroup)
		group := paths[:n]
		paths = paths[n:]
		entries := make([]*client.Entry, 0, len(group))
		for _, p := range group {
			if !sameContent(v, p) {
				entries = append(entries, v.rem[p].e)
			}
		}
		release, err := s.d.Prefetch(ctx, entries)
		if err != nil {
			return err
		}
		var (
			mu    sync.Mutex
			temps = map[string]*fetched{}
			first error
		)
		sem := make(chan struct{}, parallelDownloads)
		var wg sync.WaitGroup
		for _, p := range group {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				f, err := s.fetch(ctx, v, p)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if ierr := s.itemError(rep, p, err); ierr != nil && first == nil {
						first = ierr
					}
					return
				}
				temps[p] = f
			})
		}
		wg.Wait()
		release()
		if first == nil && len(temps) > 0 {
			// A renamed file must not turn out empty after a power cut,
			// or the next pass would take the loss for an edit.
			first = syncFS(s.opt.Local)
		}
		var bases []*base
		for _, p := range group {
			f := temps[p]
			if f == nil {
				continue
			}
			if first != nil {
				os.Remove(f.tmp)
				continue
			}
			b, err := s.place(v, p, f)
			if err != nil {
				os.Remove(f.tmp)
				if ierr := s.itemError(rep, p, err); ierr != nil {
					first = ierr
				}
				continue
			}
			bases = append(bases, b)
			rep.Downloaded++
			s.logf("downloaded %s", p)
		}
		if len(bases) > 0 {
			// The new names must be on disk before the record that
			// says the old content is gone: else, after a power cut,
			// the old content would pass for a local edit.
			if err := syncFS(s.opt.Local); err != nil {
				return err
			}
		}
		if err := s.st.putMany(ctx, bases); err != nil {
			return err
		}
		for _, b := range bases {
			v.bases[b.Path] = b
		}
		if first != nil {
			return first
		}
	}
	return nil
}

// fetched is a download waiting to be put in place.
type fetched struct {
	tmp    string
	blocks []byte
}

// sameContent reports whether the remote file at p is a new revision of
// the synced one with the same content (a touch on another device): its
// content can then come from the local copy, if that is still the synced
// content.
func sameContent(v *view, p string) bool {
	b, l, r := v.bases[p], v.loc[p], v.rem[p]
	return b != nil && l != nil && r != nil && b.Kind == kindFile && l.Kind == kindFile && r.kids == nil &&
		string(b.Node) == string(r.ID()) && r.e.Attrs.SHA256 == b.SHA && int64(r.e.Attrs.Size) == b.Size
}

func (s *Syncer) fetch(ctx context.Context, v *view, p string) (*fetched, error) {
	r := v.rem[p]
	dir := filepath.Dir(s.full(p))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create folder: %w", err)
	}
	if sameContent(v, p) {
		tmp, err := s.copyLocal(ctx, p, r.e, dir)
		if err == nil {
			return &fetched{tmp: tmp, blocks: append([]byte(nil), v.bases[p].Blocks...)}, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		// Changed here meanwhile, or unreadable: the download says.
	}
	tmp, err := s.d.DownloadTemp(ctx, r.e, dir, func(n int) { s.count(0, n) })
	if err != nil {
		return nil, err
	}
	blocks := r.e.Attrs.SHA256[:]
	switch {
	case r.e.Attrs.Size == 0:
		blocks = nil
	case r.e.Attrs.Size > crypto.BlockSize:
		// The block hashes let the next edit of this file send only the
		// blocks it changes.
		h, err := hashFile(ctx, tmp)
		if err != nil {
			os.Remove(tmp)
			return nil, err
		}
		blocks = h.Blocks
	}
	return &fetched{tmp: tmp, blocks: append([]byte(nil), blocks...)}, nil
}

// copyLocal makes the temporary file of a download of e from local p,
// whose content e's has (the same SHA-256, checked on the bytes copied),
// with e's modification time: a touch elsewhere costs no transfer.
func (s *Syncer) copyLocal(ctx context.Context, p string, e *client.Entry, dir string) (string, error) {
	src, err := os.OpenFile(s.full(p), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(dir, client.TempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("copy %s: %w", p, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), readerCtx{ctx, src}); err != nil {
		return "", fmt.Errorf("copy %s: %w", p, err)
	}
	if [32]byte(h.Sum(nil)) != e.Attrs.SHA256 {
		return "", fmt.Errorf("%s changed here", p)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("copy %s: %w", p, err)
	}
	mtime := time.Unix(0, e.Attrs.ModTime)
	if err := os.Chtimes(tmp.Name(), mtime, mtime); err != nil {
		return "", fmt.Errorf("copy %s: %w", p, err)
	}
	ok = true
	return tmp.Name(), nil
}

// readerCtx stops a copy when its context ends.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(b)
}

// place renames a finished download over its place.
func (s *Syncer) place(v *view, p string, f *fetched) (*base, error) {
	r := v.rem[p]
	if changed, err := s.stillAsScanned(p, v.loc[p]); err != nil || changed {
		if err == nil {
			err = errors.New("changed here while its new version was downloaded; it will be compared again")
		}
		return nil, err
	}
	// The look recorded is the download's own, taken before it has its
	// name: a write by the user just after the rename must show as a
	// change, not pass for the synced content.
	info, err := os.Lstat(f.tmp)
	if err != nil {
		return nil, err
	}
	st := statOf(info)
	if err := os.Rename(f.tmp, s.full(p)); err != nil {
		return nil, fmt.Errorf("put the download in place: %w", err)
	}
	return &base{Path: p, Kind: kindFile, Node: r.ID(), Version: r.e.Record.Version, Rev: r.e.Head.ID,
		SHA: r.e.Attrs.SHA256, Blocks: f.blocks, Size: st.Size, MTime: st.MTime, Ino: st.Ino}, nil
}

// count adds to the pass's transferred bytes and reports them.
func (s *Syncer) count(up, down int) {
	s.mu.Lock()
	s.up += int64(up)
	s.down += int64(down)
	u, d := s.up, s.down
	s.mu.Unlock()
	if s.opt.Progress != nil {
		s.opt.Progress(u, d)
	}
}

// readSmall reads a small file whole, again if it changed while being
// read, so the bytes sent and hashed are one version of it.
func readSmall(full string) ([]byte, *local, error) {
	for try := 0; try < 3; try++ {
		f, err := os.OpenFile(full, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", full, err)
		}
		before, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		data, err := io.ReadAll(io.LimitReader(f, client.SmallFile+1))
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", full, err)
		}
		after, err := os.Lstat(full)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", full, err)
		}
		sb, sa := statOf(before), statOf(after)
		if *sb == *sa && int64(len(data)) == sb.Size {
			return data, sb, nil
		}
		if sa.Size > client.SmallFile {
			return nil, sa, errTooBig
		}
	}
	return nil, nil, fmt.Errorf("%s keeps changing while it is read; it will be synced once it settles: %w", full, errBusy)
}

var errTooBig = errors.New("grew past the small-file size")

// uploadNew sends local files the server does not have: small ones many
// to a request, large ones one by one.
func (s *Syncer) uploadNew(ctx context.Context, v *view, paths []string, rep *Report) error {
	if len(paths) == 0 {
		return nil
	}
	up := s.d.NewUploads(client.PutOptions{Progress: nil, Warn: s.opt.Warn})
	type sent struct {
		p    string
		sha  [32]byte
		blks []byte
		st   *local
	}
	byPlace := map[string]*sent{}
	settle := func() error {
		var bases []*base
		for _, e := range up.Done() {
			it := byPlace[string(e.Parent)+"/"+e.Name]
			if it == nil || e.Attrs.SHA256 != it.sha {
				continue // changed meanwhile: the next round compares again
			}
			delete(byPlace, string(e.Parent)+"/"+e.Name)
			b := &base{Path: it.p, Kind: kindFile, Node: e.ID, Version: e.Record.Version, Rev: e.Head.ID,
				SHA: it.sha, Blocks: it.blks, Size: it.st.Size, MTime: it.st.MTime, Ino: it.st.Ino}
			bases = append(bases, b)
			if parent := s.tree.folderAt(parentOf(it.p)); parent != nil {
				s.addToTree(parent, e)
			}
			rep.Uploaded++
			s.logf("uploaded %s", it.p)
		}
		if err := s.st.putMany(ctx, bases); err != nil {
			return err
		}
		for _, b := range bases {
			v.bases[b.Path] = b
		}
		return nil
	}
	for _, p := range paths {
		parent := s.tree.folderAt(parentOf(p))
		if parent == nil {
			rep.Pending++
			continue
		}
		name := path.Base(p)
		if parent.kids[name] != nil {
			rep.Pending++ // taken there meanwhile; the next round compares
			continue
		}
		l := v.loc[p]
		var it *sent
		if l.Size <= client.SmallFile {
			data, st, err := readSmall(s.full(p))
			if err == nil {
				sum := sha256.Sum256(data)
				it = &sent{p: p, sha: sum, st: st}
				if len(data) > 0 {
					it.blks = sum[:]
				}
				byPlace[string(parent.ID())+"/"+name] = it
				err = up.AddData(ctx, data, time.Unix(0, st.MTime), parent.e, name)
				s.count(len(data), 0)
			}
			if err != nil && !errors.Is(err, errTooBig) {
				if err := s.itemError(rep, p, err); err != nil {
					return err
				}
				continue
			}
			if err == nil {
				continue
			}
		}
		h, err := s.hash(ctx, v, p)
		if err == nil {
			byPlace[string(parent.ID())+"/"+name] = &sent{p: p, sha: h.SHA, blks: h.Blocks, st: h.Stat}
			err = up.AddFile(ctx, s.full(p), parent.e, name)
			s.count(int(h.Stat.Size), 0)
		}
		if err != nil {
			if client.IsConflict(err) {
				rep.Pending++
				continue
			}
			if err := s.itemError(rep, p, err); err != nil {
				return err
			}
		}
	}
	if err := up.Flush(ctx); err != nil {
		if client.IsConflict(err) {
			// A name of the batch was taken meanwhile: the next round
			// sees it and sends the rest again.
			rep.Pending++
			return settle()
		}
		return err
	}
	return settle()
}

// uploadRevisions sends local edits of synced files as new revisions of
// their base. The server refuses one whose base is no longer the head
// (another device wrote first): the next round then finds the conflict.
func (s *Syncer) uploadRevisions(ctx context.Context, v *view, paths []string, rep *Report) error {
	for _, p := range paths {
		r := v.rem[p]
		parent := s.tree.folderAt(parentOf(p))
		if r == nil || parent == nil {
			rep.Pending++
			continue
		}
		h, err := s.hash(ctx, v, p)
		if err != nil {
			if err := s.itemError(rep, p, err); err != nil {
				return err
			}
			continue
		}
		b := v.bases[p]
		opt := client.PutOptions{Warn: s.opt.Warn, Progress: func(int64) {}}
		setBase(&opt, b)
		e, err := s.d.UploadRevision(ctx, s.full(p), parent.e, r.e, opt)
		if err != nil {
			if client.IsConflict(err) {
				rep.Pending++
				s.logf("%s changed on the server meanwhile; comparing again", p)
				continue
			}
			if err := s.itemError(rep, p, err); err != nil {
				return err
			}
			continue
		}
		s.count(int(h.Stat.Size), 0)
		r.e = e
		if e.Attrs.SHA256 != h.SHA {
			rep.Pending++ // changed again meanwhile
			continue
		}
		nb := &base{Path: p, Kind: kindFile, Node: e.ID, Version: e.Record.Version, Rev: e.Head.ID,
			SHA: h.SHA, Blocks: h.Blocks, Size: h.Stat.Size, MTime: h.Stat.MTime, Ino: h.Stat.Ino}
		if err := s.record(ctx, v, nb); err != nil {
			return err
		}
		rep.Uploaded++
		s.logf("uploaded %s (new version)", p)
	}
	return nil
}
