package foldersync

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/coffer-drive/coffer/internal/client"
)

func b64(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// treeKey is a path's key for sorting component by component: a folder
// sorts just before what is in it, and that before "a-b" after "a".
func treeKey(p string) string { return strings.ReplaceAll(p, "/", "\x00") }

// sortTree sorts paths component by component.
func sortTree(paths []string) {
	// Keys made once, not in every comparison: a folder of 10,000 files
	// would otherwise allocate two strings per comparison.
	keys := make(map[string]string, len(paths))
	for _, p := range paths {
		keys[p] = treeKey(p)
	}
	sort.Slice(paths, func(i, j int) bool { return keys[paths[i]] < keys[paths[j]] })
}

// full is the local path of a synced path.
func (s *Syncer) full(p string) string {
	return filepath.Join(s.opt.Local, filepath.FromSlash(p))
}

// view is one round's three views of the folder.
type view struct {
	loc   map[string]*local
	bases map[string]*base
	rem   map[string]*rnode
	ig    *ignorer
	// hashes caches the files read this round.
	hashes map[string]*hashed
	// touched holds the files whose content is the base's but whose
	// modification time is not (a touch): sent as a new revision, with
	// the time, if the server's copy did not change meanwhile.
	touched map[string]bool
}

func (s *Syncer) newView(ctx context.Context) (*view, error) {
	loc, ig, err := s.scan(ctx)
	if err != nil {
		return nil, err
	}
	bases, err := s.st.all(ctx)
	if err != nil {
		return nil, err
	}
	rem := s.tree.flat()
	// What the rules ignore is out of play on every side: neither sent,
	// nor fetched, nor deleted because one side stopped showing it.
	for p, r := range rem {
		if ig.ignored(p, r.kids != nil) {
			delete(rem, p)
		}
	}
	for p, b := range bases {
		if ig.ignored(p, b.Kind == kindFolder) {
			delete(bases, p)
		}
	}
	return &view{loc: loc, bases: bases, rem: rem, ig: ig, hashes: map[string]*hashed{}, touched: map[string]bool{}}, nil
}

// hash returns the content of local file p as read now.
func (s *Syncer) hash(ctx context.Context, v *view, p string) (*hashed, error) {
	if h := v.hashes[p]; h != nil {
		return h, nil
	}
	h, err := hashFile(ctx, s.full(p))
	if err != nil {
		return nil, err
	}
	v.hashes[p] = h
	return h, nil
}

// localChanged reports whether local p's content differs from its base.
// A file whose size or inode moved but whose content and time did not
// gets its new look recorded, so it is not read again; one whose time
// moved is marked touched.
func (s *Syncer) localChanged(ctx context.Context, v *view, p string) (bool, error) {
	l, b := v.loc[p], v.bases[p]
	if l == nil || l.Kind != b.Kind {
		return true, nil
	}
	if l.Kind == kindFolder || l.sameStat(b) {
		return false, nil
	}
	h, err := s.hash(ctx, v, p)
	if err != nil {
		return false, err
	}
	if h.SHA != b.SHA {
		return true, nil
	}
	if l.MTime != b.MTime {
		v.touched[p] = true
		return false, nil
	}
	nb := *b
	nb.Size, nb.MTime, nb.Ino = h.Stat.Size, h.Stat.MTime, h.Stat.Ino
	if len(nb.Blocks) == 0 {
		nb.Blocks = h.Blocks
	}
	v.bases[p] = &nb
	return false, s.st.put(ctx, &nb)
}

func remoteChanged(b *base, r *rnode) bool {
	if r == nil || r.kind() != b.Kind || string(r.ID()) != string(b.Node) {
		return true
	}
	return b.Kind == kindFile && string(r.e.Head.ID) != string(b.Rev)
}

// remoteEdited is remoteChanged, but for a new revision of the same bytes
// (a touch on another device): that one does not count against a delete
// made here.
func remoteEdited(b *base, r *rnode) bool {
	return remoteChanged(b, r) && !(r != nil && r.kids == nil && b.Kind == kindFile &&
		string(r.ID()) == string(b.Node) && r.e.Attrs.SHA256 == b.SHA)
}

// work is what the path-by-path walk of a round leaves to do in bulk.
type work struct {
	downloads []string // paths whose remote file replaces or becomes the local one
	uploads   []string // local files new to the server
	revisions []string // local files that are new revisions of their base
}

// itemError is a failure that stops one path, not the pass: it is
// reported, counted as pending and tried again next pass.
func (s *Syncer) itemError(rep *Report, p string, err error) error {
	if errors.Is(err, client.ErrTampered) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	rep.Pending++
	s.warnOnce(fmt.Sprintf("%s: %v (will retry)", p, err))
	return nil
}

func (s *Syncer) reconcile(ctx context.Context) (Report, error) {
	var rep Report
	v, err := s.newView(ctx)
	if err != nil {
		return rep, err
	}
	moved, deferred, err := s.moves(ctx, v, &rep)
	if err != nil || moved {
		return rep, err
	}
	all := map[string]bool{}
	for p := range v.loc {
		all[p] = true
	}
	for p := range v.rem {
		all[p] = true
	}
	for p := range v.bases {
		all[p] = true
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	// Parents sort before their children, and a folder's subtree sorts
	// in one run ("a", "a/b", "a-b": '/' sorts before every other byte),
	// so a subtree settled as a whole is skipped in one stretch.
	sortTree(paths)
	var (
		w    work
		skip string // a subtree settled as a whole
	)
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if skip != "" && under(p, skip) {
			continue
		}
		if deferred[p] {
			continue
		}
		settled, err := s.decide(ctx, v, p, &w, &rep)
		if err != nil {
			if err := s.itemError(&rep, p, err); err != nil {
				return rep, err
			}
			if v.loc[p] != nil && v.loc[p].Kind == kindFolder || v.rem[p] != nil && v.rem[p].kids != nil {
				skip = p // nothing can go below a folder that failed
			}
			continue
		}
		if settled {
			skip = p
		}
	}
	if err := s.download(ctx, v, w.downloads, &rep); err != nil {
		return rep, err
	}
	if err := s.uploadNew(ctx, v, w.uploads, &rep); err != nil {
		return rep, err
	}
	if err := s.uploadRevisions(ctx, v, w.revisions, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// decide settles one path, acting at once on folders, deletions and
// conflicts, and queueing transfers in w. settled means the path's whole
// subtree was dealt with (a folder deleted as one).
func (s *Syncer) decide(ctx context.Context, v *view, p string, w *work, rep *Report) (settled bool, err error) {
	b, l, r := v.bases[p], v.loc[p], v.rem[p]
	if b == nil {
		switch {
		case l == nil && r == nil:
			return false, nil
		case r == nil:
			return false, s.addLocal(ctx, v, p, w, rep)
		case l == nil:
			return false, s.addRemote(ctx, v, p, w, rep)
		}
		return false, s.bothNew(ctx, v, p, w, rep)
	}
	lc, err := s.localChanged(ctx, v, p)
	if err != nil {
		return false, err
	}
	b = v.bases[p]
	rc := remoteChanged(b, r)
	switch {
	case !lc && !rc:
		if v.touched[p] {
			// The same bytes with a new time: a new revision that
			// re-uses every block, so the time reaches the others. A
			// touch does not count as an edit against a change or a
			// delete on the server (those cases below).
			w.revisions = append(w.revisions, p)
		}
		return false, nil
	case lc && !rc:
		if l == nil {
			return s.deleteRemote(ctx, v, p, rep)
		}
		if l.Kind != b.Kind {
			// A file became a folder or the reverse: the old one goes
			// to the trash; the new one is sent next round.
			if _, err := s.deleteRemote(ctx, v, p, rep); err != nil {
				return false, err
			}
			return true, nil
		}
		w.revisions = append(w.revisions, p)
		return false, nil
	case !lc && rc:
		if r == nil {
			return s.deleteLocal(ctx, v, p, rep)
		}
		if r.kids != nil && b.Kind == kindFolder {
			// Another folder of the same name (the old one deleted or
			// moved away, a new one made): a folder holds no content
			// of its own, so it is this one now; what is in it is
			// compared path by path.
			return false, s.record(ctx, v, &base{Path: p, Kind: kindFolder, Node: r.ID(), Version: r.e.Record.Version, Ino: l.Ino})
		}
		if r.kind() != b.Kind || string(r.ID()) != string(b.Node) {
			// Another node now has the path (one deleted, another made):
			// the local one goes to the local trash; the remote one
			// comes next round.
			if _, err := s.deleteLocal(ctx, v, p, rep); err != nil {
				return false, err
			}
			return true, nil
		}
		w.downloads = append(w.downloads, p)
		return false, nil
	}
	// Changed on both sides. If one side's content is still the base's
	// (a new revision with the same bytes, a file touched here), only
	// the other side changed it.
	if l != nil && r != nil && l.Kind == kindFile && r.kids == nil && b.Kind == kindFile && string(r.ID()) == string(b.Node) {
		if r.e.Attrs.SHA256 == b.SHA {
			w.revisions = append(w.revisions, p)
			return false, nil
		}
		h, err := s.hash(ctx, v, p)
		if err != nil {
			return false, err
		}
		if h.SHA == b.SHA {
			w.downloads = append(w.downloads, p)
			return false, nil
		}
	}
	switch {
	case l == nil && r == nil:
		return false, s.st.remove(ctx, p)
	case l == nil && !remoteEdited(b, r):
		// Deleted here, touched there: the delete wins.
		return s.deleteRemote(ctx, v, p, rep)
	case l == nil:
		// Deleted here, changed there: the change wins.
		if err := s.st.remove(ctx, p); err != nil {
			return false, err
		}
		delete(v.bases, p)
		return false, s.addRemote(ctx, v, p, w, rep)
	case r == nil:
		// Changed here, deleted there: the change wins, as a new file.
		if err := s.st.remove(ctx, p); err != nil {
			return false, err
		}
		delete(v.bases, p)
		return false, s.addLocal(ctx, v, p, w, rep)
	}
	return false, s.bothNew(ctx, v, p, w, rep)
}

// addLocal sends a path that only the local side has.
func (s *Syncer) addLocal(ctx context.Context, v *view, p string, w *work, rep *Report) error {
	l := v.loc[p]
	if l.Kind == kindFile {
		w.uploads = append(w.uploads, p)
		return nil
	}
	parent := s.tree.folderAt(parentOf(p))
	if parent == nil {
		return fmt.Errorf("its folder is not on the server yet")
	}
	e, err := s.d.MkdirIn(ctx, parent.e, path.Base(p))
	if err != nil {
		return err
	}
	s.addToTree(parent, e)
	rep.Folders++
	s.logf("created folder %s on the server", p)
	return s.record(ctx, v, &base{Path: p, Kind: kindFolder, Node: e.ID, Version: e.Record.Version, Ino: l.Ino})
}

// addRemote fetches a path that only the remote side has.
func (s *Syncer) addRemote(ctx context.Context, v *view, p string, w *work, rep *Report) error {
	r := v.rem[p]
	if r.kids == nil {
		w.downloads = append(w.downloads, p)
		return nil
	}
	if err := os.Mkdir(s.full(p), 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("create folder: %w", err)
	}
	info, err := os.Lstat(s.full(p))
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("a file appeared where a folder goes")
	}
	rep.Folders++
	s.logf("created folder %s", p)
	return s.record(ctx, v, &base{Path: p, Kind: kindFolder, Node: r.ID(), Version: r.e.Record.Version, Ino: statOf(info).Ino})
}

// bothNew settles a path both sides have and the base does not agree on:
// equal contents are recorded; different ones are a conflict, where the
// local version is kept under a conflict name and the remote one takes
// the path.
func (s *Syncer) bothNew(ctx context.Context, v *view, p string, w *work, rep *Report) error {
	l, r := v.loc[p], v.rem[p]
	if l.Kind == kindFolder && r.kids != nil {
		return s.record(ctx, v, &base{Path: p, Kind: kindFolder, Node: r.ID(), Version: r.e.Record.Version, Ino: l.Ino})
	}
	if l.Kind == kindFile && r.kids == nil {
		h, err := s.hash(ctx, v, p)
		if err != nil {
			return err
		}
		if h.SHA == r.e.Attrs.SHA256 {
			return s.record(ctx, v, &base{Path: p, Kind: kindFile, Node: r.ID(), Version: r.e.Record.Version, Rev: r.e.Head.ID,
				SHA: h.SHA, Blocks: h.Blocks, Size: h.Stat.Size, MTime: h.Stat.MTime, Ino: h.Stat.Ino})
		}
	}
	name, err := s.conflictName(v, p)
	if err != nil {
		return err
	}
	if err := os.Rename(s.full(p), s.full(name)); err != nil {
		return fmt.Errorf("keep the local version as %s: %w", name, err)
	}
	delete(v.loc, p)
	rep.Conflicts++
	s.warnOnce(fmt.Sprintf("conflict: %s changed here and on the server; the local version is kept as %s", p, name))
	if err := s.st.remove(ctx, p); err != nil {
		return err
	}
	delete(v.bases, p)
	if r.kids != nil {
		return s.addRemote(ctx, v, p, w, rep)
	}
	w.downloads = append(w.downloads, p)
	return nil
}

// conflictName names the local version of a conflicting path:
// "name (conflict from DEVICE YYYY-MM-DD HHMM).ext", free on both sides.
func (s *Syncer) conflictName(v *view, p string) (string, error) {
	dir, file := parentOf(p), path.Base(p)
	ext := path.Ext(file)
	if ext == file {
		ext = "" // ".bashrc" has no extension
	}
	stem := strings.TrimSuffix(file, ext)
	stamp := s.opt.Now().Format("2006-01-02 1504")
	for i := 1; i < 1000; i++ {
		n := fmt.Sprintf("%s (conflict from %s %s)%s", stem, s.opt.Device, stamp, ext)
		if i > 1 {
			n = fmt.Sprintf("%s (conflict from %s %s %d)%s", stem, s.opt.Device, stamp, i, ext)
		}
		c := n
		if dir != "" {
			c = dir + "/" + n
		}
		if v.loc[c] == nil && v.rem[c] == nil && v.bases[c] == nil {
			if _, err := os.Lstat(s.full(c)); os.IsNotExist(err) {
				return c, nil
			}
		}
	}
	return "", fmt.Errorf("no free name for a conflict copy of %s", p)
}

// deleteRemote moves to the server's trash what was deleted here. A
// folder goes as one, if nothing below it changed on the server since the
// last sync; else only what did not change goes, one by one, and what
// changed there comes back here.
func (s *Syncer) deleteRemote(ctx context.Context, v *view, p string, rep *Report) (settled bool, err error) {
	r := v.rem[p]
	if r.kids != nil {
		for q, rq := range v.rem {
			if q == p || !under(q, p) {
				continue
			}
			if bq := v.bases[q]; bq == nil || remoteEdited(bq, rq) {
				// Something below changed there: keep the folder. A
				// file that took its name here is kept too, under a
				// conflict name.
				if l := v.loc[p]; l != nil && l.Kind != kindFolder {
					name, err := s.conflictName(v, p)
					if err != nil {
						return false, err
					}
					if err := s.moveLocal(v, p, name); err != nil {
						return false, err
					}
					rep.Conflicts++
				}
				if err := os.MkdirAll(s.full(p), 0o755); err != nil {
					return false, fmt.Errorf("create folder: %w", err)
				}
				info, err := os.Lstat(s.full(p))
				if err != nil {
					return false, err
				}
				v.loc[p] = statOf(info)
				nb := *v.bases[p]
				nb.Ino = v.loc[p].Ino
				return false, s.record(ctx, v, &nb)
			}
		}
	}
	trash := s.d.TrashEntry
	if r.kids != nil && !s.shared && s.cursor > 0 {
		// Checked above against the view at the cursor; the server
		// checks again, atomically, that nothing in it changed since.
		trash = func(ctx context.Context, e *client.Entry) error { return s.d.TrashFolderSince(ctx, e, s.cursor) }
	}
	if err := trash(ctx, r.e); err != nil {
		if client.IsNotFound(err) {
			return true, s.st.remove(ctx, p)
		}
		return false, err
	}
	rep.Deleted++
	s.logf("deleted %s on the server (it is in the trash)", p)
	return true, s.st.remove(ctx, p)
}

// deleteLocal moves to the local trash folder what was deleted on the
// server. A folder goes as one if nothing below it changed here; else
// what changed here stays, to be sent again.
func (s *Syncer) deleteLocal(ctx context.Context, v *view, p string, rep *Report) (settled bool, err error) {
	l := v.loc[p]
	if l.Kind == kindFolder {
		for q, lq := range v.loc {
			if q == p || !under(q, p) {
				continue
			}
			bq := v.bases[q]
			changed := bq == nil || lq.Kind != bq.Kind
			if !changed && lq.Kind == kindFile && !lq.sameStat(bq) {
				// A new time or inode is no edit: the content says (a
				// touched file goes to the local trash with the folder).
				if changed, err = s.localChanged(ctx, v, q); err != nil {
					if ctx.Err() != nil {
						return false, err
					}
					// Unreadable now: kept, as a change would be.
					changed, err = true, nil
				}
			}
			if changed {
				// Something below changed here: keep the folder, which
				// is sent again as a new one. Its new record replaces
				// the old one only once it exists; what is below keeps
				// its records, so unchanged files still go to the trash.
				if v.rem[p] != nil {
					// A file took the name there: the folder is kept
					// under a conflict name, sent whole as new.
					name, err := s.conflictName(v, p)
					if err != nil {
						return false, err
					}
					if err := s.moveLocal(v, p, name); err != nil {
						return false, err
					}
					rep.Conflicts++
					return true, s.st.remove(ctx, p)
				}
				return false, s.addLocal(ctx, v, p, &work{}, rep)
			}
		}
	} else if changed, err := s.stillAsScanned(p, l); err != nil || changed {
		if err == nil {
			err = fmt.Errorf("changed while being synced")
		}
		return false, err
	}
	if err := s.toLocalTrash(p); err != nil {
		return false, err
	}
	rep.Deleted++
	s.logf("deleted %s (deleted on the server; kept in %s)", p, TrashDir)
	return true, s.st.remove(ctx, p)
}

// toLocalTrash moves local p into the trash folder at the same relative
// path; if that place is taken (by an earlier deletion of the same name,
// or a file where a folder would go), under a folder named for the time.
func (s *Syncer) toLocalTrash(p string) error {
	trash := filepath.Join(s.opt.Local, TrashDir)
	dst := filepath.Join(trash, filepath.FromSlash(p))
	if _, err := os.Lstat(dst); err == nil || os.MkdirAll(filepath.Dir(dst), 0o755) != nil {
		stamp := s.opt.Now().Format("2006-01-02 150405.000000000")
		for i := 0; ; i++ {
			dir := filepath.Join(trash, stamp)
			if i > 0 {
				dir += fmt.Sprintf(" %d", i)
			}
			dst = filepath.Join(dir, filepath.FromSlash(p))
			if _, err := os.Lstat(dst); os.IsNotExist(err) {
				break
			}
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("move to %s: %w", TrashDir, err)
		}
	}
	if err := os.Rename(s.full(p), dst); err != nil {
		return fmt.Errorf("move to %s: %w", TrashDir, err)
	}
	return nil
}

// stillAsScanned reports whether local p changed since the round's scan:
// the user may be writing it right now.
func (s *Syncer) stillAsScanned(p string, l *local) (changed bool, err error) {
	info, err := os.Lstat(s.full(p))
	if os.IsNotExist(err) {
		return l != nil, nil
	}
	if err != nil {
		return false, err
	}
	if l == nil {
		return true, nil
	}
	return *statOf(info) != *l, nil
}

// record writes a path's new base, in the state and in the round's view.
func (s *Syncer) record(ctx context.Context, v *view, b *base) error {
	v.bases[b.Path] = b
	return s.st.put(ctx, b)
}

// addToTree puts a node this device just made into the remote view, so
// the rest of the round can place things in it; the events feed brings
// the server's own account of it later.
func (s *Syncer) addToTree(parent *rnode, e *client.Entry) {
	kn := &rnode{e: e, path: path.Join(parent.path, e.Name)}
	if parent.path == "" {
		kn.path = e.Name
	}
	if e.IsDir() {
		kn.kids = map[string]*rnode{}
	}
	parent.kids[e.Name] = kn
	s.tree.byID[string(e.ID)] = kn
}
