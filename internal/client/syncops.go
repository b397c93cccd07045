package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
)

// The operations below act on verified entries rather than on paths. The
// folder sync (internal/foldersync) keeps its own view of the tree, so it
// neither walks paths again for every change nor acts on a node that a
// path names now but did not when it decided.

// IsConflict reports whether err is the server refusing a write because
// what it was based on changed meanwhile: the node has a newer record
// (another device wrote first), or the name was taken.
func IsConflict(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusConflict
}

// IsNotFound reports whether err is the server answering that a node does
// not exist (any more).
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.Is(err, ErrNotExist) || errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Under returns a copy of e at its name in folder parent, for a caller
// that keeps the entries of a tree in which a folder above e moved since
// e was listed. The operations here resolve the folders above an entry by
// its path (to check where it moves, and who may write there), so an
// entry kept with the path it had before would name a folder that is no
// longer there, or another one.
func (e *Entry) Under(parent *Entry) *Entry {
	c := *e
	c.path = path.Join(parent.path, e.Name)
	return &c
}

// ReloadShares reads again the shares of the account's own drive, which
// say who else may write where in it: a drive kept open for long (a
// running sync) takes an editor added since it was opened for an intruder
// until it does. Entries verified before keep the writers they had: list
// them again.
func (d *Drive) ReloadShares(ctx context.Context) error {
	return d.loadOwnedShares(ctx)
}

// CanWrite returns nil if this account may change what is in folder e:
// an error saying why not for a folder it reaches as a viewer or an
// uploader of another account's share, or for /shared itself.
func (d *Drive) CanWrite(e *Entry) error {
	return d.writable(e, e.path)
}

// MkdirIn creates the folder name in parent and returns it.
func (d *Drive) MkdirIn(ctx context.Context, parent *Entry, name string) (*Entry, error) {
	e, err := d.mkdirIn(ctx, parent, name)
	if err != nil {
		return nil, err
	}
	return e, d.seen.save()
}

// TrashEntry moves e (and so everything below it) to the trash, if e's
// record is still the server's (else a conflict, see IsConflict). A
// folder's record does not change when its children do.
func (d *Drive) TrashEntry(ctx context.Context, e *Entry) error {
	return d.trashEntry(ctx, e, 0)
}

// TrashFolderSince is TrashEntry for a folder seen as it was at events
// cursor since (see Events): it is a conflict too if anything in it
// changed after that point (a file edited or added by another device),
// which would otherwise go to the trash with the folder.
func (d *Drive) TrashFolderSince(ctx context.Context, e *Entry, since uint64) error {
	return d.trashEntry(ctx, e, since)
}

func (d *Drive) trashEntry(ctx context.Context, e *Entry, since uint64) error {
	if err := d.writable(e, "remove "+e.path); err != nil {
		return err
	}
	if e.Parent == nil || isShareRoot(e) {
		return fmt.Errorf("%s cannot be removed from here", e.path)
	}
	// Only the record e holds: an edit made since is a conflict, not
	// something to throw away.
	q := "?expect_version=" + strconv.FormatUint(e.Record.Version, 10)
	if since > 0 && e.via == nil {
		// The cursor is of this account's own drive's history: it says
		// nothing of another account's drive, reached through a share.
		q += "&unchanged_since=" + strconv.FormatUint(since, 10)
	}
	if err := d.acc.t.do(ctx, http.MethodPost, "/v1/nodes/"+b64(e.ID)+"/trash"+q, nil, nil); err != nil {
		return fmt.Errorf("remove %s: %w", e.path, err)
	}
	return nil
}

// Uploads collects new files for a folder sync: small ones travel many
// to a request and are committed together on Flush, large ones are sent
// at once.
type Uploads struct {
	u *uploader
	// done holds the entries of small files committed by flushes.
	done []*Entry
}

// NewUploads starts a set of uploads with opt's progress and warnings.
func (d *Drive) NewUploads(opt PutOptions) *Uploads {
	up := &Uploads{}
	up.u = &uploader{d: d, opt: opt, b: &batch{created: map[string]*Entry{}}}
	up.u.committed = func(files []*Entry) { up.done = append(up.done, files...) }
	return up
}

// AddFile uploads the regular file local as the new file name in parent.
// A small file joins the batch and is committed by a later Flush (or an
// AddFile that fills the batch); a large one is committed before AddFile
// returns. Committed files are handed out by Done.
func (up *Uploads) AddFile(ctx context.Context, local string, parent *Entry, name string) error {
	info, err := os.Lstat(local)
	if err != nil {
		return fmt.Errorf("read %s: %w", local, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", local)
	}
	if err := up.u.d.writable(parent, "create "+path.Join(parent.path, name)); err != nil {
		return err
	}
	if info.Size() <= smallFile {
		return up.dropOnError(up.u.putSmall(ctx, local, info, parent, name))
	}
	if err := up.dropOnError(up.u.flush(ctx)); err != nil {
		return err
	}
	if err := up.u.putLarge(ctx, local, parent, name, nil); err != nil {
		return err
	}
	e, err := up.u.d.child(ctx, parent, name)
	if err != nil {
		return fmt.Errorf("read back %s: %w", path.Join(parent.path, name), err)
	}
	up.done = append(up.done, e)
	return nil
}

// SmallFile is the size up to which AddData takes a file's content.
const SmallFile = smallFile

// AddData uploads data, read by the caller, as the new file name in
// parent with modification time modTime; it joins the batch. The caller
// reads the file once, so what it hashed is what is sent, even if the
// file changes meanwhile.
func (up *Uploads) AddData(ctx context.Context, data []byte, modTime time.Time, parent *Entry, name string) error {
	if len(data) > smallFile {
		return fmt.Errorf("%s: %d bytes is too large for AddData", path.Join(parent.path, name), len(data))
	}
	if err := up.u.d.writable(parent, "create "+path.Join(parent.path, name)); err != nil {
		return err
	}
	return up.dropOnError(up.u.putSmallData(ctx, data, modTime, parent, name))
}

// dropOnError empties the batch after a failed send: its files are not
// committed, and the caller sends them again.
func (up *Uploads) dropOnError(err error) error {
	if err != nil {
		b := up.u.b
		b.blocks.Reset()
		b.nblock = 0
		b.items = b.items[:0]
		b.files = b.files[:0]
	}
	return err
}

// Flush commits the batch.
func (up *Uploads) Flush(ctx context.Context) error {
	if err := up.dropOnError(up.u.flush(ctx)); err != nil {
		return err
	}
	return up.u.d.seen.save()
}

// Done returns, and forgets, the files committed so far: entries as a
// listing would show them. A caller compares their attributes with what
// it meant to upload.
func (up *Uploads) Done() []*Entry {
	out := up.done
	up.done = nil
	return out
}

// UploadRevision uploads the regular file local as a new revision of e, a
// file in folder parent, refused by the server if e's record is no longer
// the newest (see IsConflict), and returns the file's entry as the server
// now holds it.
func (d *Drive) UploadRevision(ctx context.Context, local string, parent, e *Entry, opt PutOptions) (*Entry, error) {
	if e.IsDir() {
		return nil, fmt.Errorf("%s is a folder", e.path)
	}
	if err := d.writable(e, "replace "+e.path); err != nil {
		return nil, err
	}
	if string(parent.ID) != string(e.Parent) {
		return nil, fmt.Errorf("%s is not in %s", e.path, parent.path)
	}
	u := &uploader{d: d, opt: opt, b: &batch{created: map[string]*Entry{}}}
	if err := u.putLarge(ctx, local, parent, e.Name, e); err != nil {
		return nil, err
	}
	if err := d.seen.save(); err != nil {
		return nil, err
	}
	now, err := d.child(ctx, parent, e.Name)
	if err != nil {
		return nil, fmt.Errorf("read back %s: %w", e.path, err)
	}
	return now, nil
}

// Folder loads and verifies the folder with this ID, walking up to the
// root.
func (d *Drive) Folder(ctx context.Context, id []byte) (*Entry, error) {
	return d.byID(ctx, id)
}

// DownloadTemp writes e's content, checked, to a new file in dir whose
// name starts with TempPrefix, gives it e's modification time, and
// returns its path: the caller moves it into place, or removes it. The
// file is not flushed to disk: a caller that needs it to survive a power
// cut before its new name does flushes it first (many at once, with
// syncfs, costs far less than one fsync each).
func (d *Drive) DownloadTemp(ctx context.Context, e *Entry, dir string, progress func(int)) (string, error) {
	if e.IsDir() || e.Head == nil {
		return "", fmt.Errorf("%s is not a file", e.path)
	}
	if progress == nil {
		progress = func(int) {}
	}
	tmp, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("download %s: %w", e.path, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := d.stream(ctx, e, tmp, progress); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	mtime := time.Unix(0, e.Attrs.ModTime)
	if err := os.Chtimes(tmp.Name(), mtime, mtime); err != nil {
		return "", fmt.Errorf("set time of %s: %w", tmp.Name(), err)
	}
	ok = true
	return tmp.Name(), nil
}

// TempPrefix starts the names of DownloadTemp's files: only the folder
// sync uses it, so a sync may delete such files that a killed run left.
const TempPrefix = ".coffer-sync-get-"

// Prefetch fetches the blocks of many small files in one request, so the
// DownloadTemp calls that follow need none. release drops the blocks no
// download took.
func (d *Drive) Prefetch(ctx context.Context, files []*Entry) (release func(), err error) {
	var (
		ids   [][]byte
		total int
	)
	for _, f := range files {
		if f.via != nil || d.link != nil || f.Head == nil || len(f.Head.Blocks) != 1 || f.Attrs.Size > smallFile {
			continue
		}
		n := crypto.SealedBlockSize(crypto.PadmeLen(int(f.Attrs.Size))) + 36
		if total+n > api.MaxBatchBytes/2 {
			break
		}
		total += n
		ids = append(ids, f.Head.Blocks[0])
	}
	release = func() {
		for _, id := range ids {
			d.cache.Delete(string(id))
		}
	}
	if len(ids) < 2 {
		return func() {}, nil
	}
	if err := d.prefetch(ctx, ids); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// LocalName reports whether name, as the server holds it, can be written
// as one file name on this system.
func LocalName(name string) bool {
	return filepath.Base(name) == name && filepath.IsLocal(name)
}

// Account returns the server URL and the account name the drive belongs
// to.
func (d *Drive) Account() (server, user string) {
	return d.acc.Session.Server, d.acc.Session.User
}

// ConfigDir is the client's config folder.
func (d *Drive) ConfigDir() string { return d.cfg.Dir() }
