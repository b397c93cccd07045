package foldersync

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// moves finds renames and moves on either side and repeats them on the
// other, so that a moved file is moved there too rather than deleted and
// sent again. On the server a node keeps its ID when it moves; here a
// file keeps its inode. It reports whether it moved anything (the round
// then starts over with fresh views) and which paths wait for a folder
// to be created on the server before their move can be made.
func (s *Syncer) moves(ctx context.Context, v *view, rep *Report) (moved bool, deferred map[string]bool, err error) {
	deferred = map[string]bool{}
	// In the order of where the server has them: a folder moved there
	// is moved here before what the server moved into it, which would
	// otherwise make the folder's new place here first (moveLocal makes
	// missing parents) and take its name.
	paths := make([]string, 0, len(v.bases))
	where := make(map[string]string, len(v.bases))
	for p, b := range v.bases {
		paths = append(paths, p)
		at := p
		if r := s.tree.byID[string(b.Node)]; r != nil {
			at = r.path
		}
		where[p] = treeKey(at) // made once, not in every comparison
	}
	sort.Slice(paths, func(i, j int) bool {
		a, b := where[paths[i]], where[paths[j]]
		if a != b {
			return a < b
		}
		return paths[i] < paths[j]
	})
	// Local paths the base does not know, by inode: where moved files
	// went.
	byIno := map[uint64]string{}
	for p, l := range v.loc {
		if v.bases[p] == nil && l.Ino != 0 {
			byIno[l.Ino] = p
		}
	}
	// The synced children of each folder, by name: whether a folder
	// moved is told by whether it took them along. Made at the first
	// folder that may have moved, not on every (idle) round.
	var kids map[string][]string
	kidsOf := func() map[string][]string {
		if kids == nil {
			kids = map[string][]string{}
			for p := range v.bases {
				i := strings.LastIndexByte(p, '/')
				kids[p[:max(i, 0)]] = append(kids[p[:max(i, 0)]], p[i+1:])
			}
		}
		return kids
	}
	localMove := func(b *base) string {
		if v.loc[b.Path] != nil || b.Ino == 0 {
			return ""
		}
		q, ok := byIno[b.Ino]
		if !ok {
			return ""
		}
		l := v.loc[q]
		if l == nil {
			return "" // moved away this round
		}
		if l.Kind != b.Kind || l.Kind == kindFile && l.Size != b.Size {
			return "" // another file that reused the inode
		}
		if l.Kind == kindFile {
			// A recycled inode with the same size (files unpacked from
			// an archive) is not a move: the content says. The time may
			// differ (a move and a touch); the new time is sent next
			// round.
			if h, err := s.hash(ctx, v, q); err != nil || h.SHA != b.SHA {
				return ""
			}
		} else if !keepsAChild(v, kidsOf(), b.Path, q) || v.rem[q] != nil && v.rem[q].kids != nil {
			// A folder made where one was deleted may get its inode
			// (rm -r c; mkdir d): a move of c would carry c's files
			// there on the server, and then delete them one by one.
			// So may a folder this sync made here for one the server
			// has: that one is no move at all.
			return ""
		}
		return q
	}
	var done []string // paths moved this round; what is below them moved too
	isDone := func(p string) bool {
		for _, d := range done {
			if under(p, d) {
				return true
			}
		}
		return false
	}
	for _, p := range paths {
		b := v.bases[p]
		if b == nil || isDone(p) { // nil: cleared for a move this round
			continue
		}
		r := s.tree.byID[string(b.Node)]
		if r != nil && r.path != p && r.kind() == b.Kind && !v.ig.ignored(r.path, r.kids != nil) {
			// Moved on the server.
			q := localMove(b)
			switch {
			case q == r.path:
				// Moved the same way on both sides (or a move of ours
				// whose record was lost).
			case v.loc[p] != nil || q != "":
				from := p
				if q != "" {
					from = q // moved both ways: the server's move wins
				}
				if o := v.bases[r.path]; o != nil && v.loc[r.path] != nil && s.tree.byID[string(o.Node)] == nil {
					// What had the name here was deleted on the server:
					// it goes now, as the walk would send it, so that the
					// move is made rather than the file sent again as a
					// new one beside the server's copy.
					if err := s.clearDeleted(ctx, v, r.path, rep); err != nil {
						if err := s.itemError(rep, p, err); err != nil {
							return moved, deferred, err
						}
						continue
					}
				}
				if o := v.bases[r.path]; o != nil && v.loc[r.path] != nil && !isDone(r.path) {
					if or := s.tree.byID[string(o.Node)]; or != nil && or.path != r.path {
						// What has the place here moves away later this
						// round (renames in a chain: a to c, then b to
						// a): this move is made in the next round.
						continue
					}
				}
				if v.loc[r.path] != nil && v.bases[r.path] == nil {
					// Something new here has the name: it is kept
					// under a conflict name, and uploaded as such.
					name, err := s.conflictName(v, r.path)
					if err == nil {
						err = s.moveLocal(v, r.path, name)
					}
					if err != nil {
						if err := s.itemError(rep, p, err); err != nil {
							return moved, deferred, err
						}
						continue
					}
					rep.Conflicts++
				}
				if err := s.moveLocal(v, from, r.path); err != nil {
					if err := s.itemError(rep, p, err); err != nil {
						return moved, deferred, err
					}
					continue
				}
				s.logf("moved %s to %s", from, r.path)
			}
			if err := s.st.rename(ctx, p, r.path); err != nil {
				return moved, deferred, err
			}
			nb := *b
			nb.Path, nb.Version = r.path, r.e.Record.Version
			if err := s.st.put(ctx, &nb); err != nil {
				return moved, deferred, err
			}
			rep.Moved++
			moved = true
			done = append(done, p)
			continue
		}
		q := localMove(b)
		if q == "" || r == nil || r.path != p {
			continue
		}
		// Moved here; repeat it on the server.
		if v.rem[q] != nil {
			// The place is taken there: the file keeps its node, under
			// a conflict name here and there, so it is not sent again
			// as a new file (another device may have moved it too).
			name, err := s.conflictName(v, q)
			if err == nil {
				err = s.moveLocal(v, q, name)
			}
			if err != nil {
				if err := s.itemError(rep, p, err); err != nil {
					return moved, deferred, err
				}
				continue
			}
			rep.Conflicts++
			q = name
		}
		parent := s.tree.folderAt(parentOf(q))
		if parent == nil {
			// Its new folder is new: made this round, moved next.
			deferred[p], deferred[q] = true, true
			continue
		}
		if under(q, p) {
			continue
		}
		e, err := s.d.MoveEntry(ctx, r.e, parent.e, path.Base(q))
		if err != nil {
			if err := s.itemError(rep, p, err); err != nil {
				return moved, deferred, err
			}
			deferred[p], deferred[q] = true, true
			continue
		}
		if old := s.tree.folderAt(parentOf(p)); old != nil {
			delete(old.kids, path.Base(p))
		}
		r.e = e
		r.path = q
		parent.kids[e.Name] = r
		s.repath(r)
		if err := s.st.rename(ctx, p, q); err != nil {
			return moved, deferred, err
		}
		nb := *b
		nb.Path, nb.Version = q, e.Record.Version
		if err := s.st.put(ctx, &nb); err != nil {
			return moved, deferred, err
		}
		s.logf("moved %s to %s on the server", p, q)
		rep.Moved++
		moved = true
		done = append(done, p)
	}
	return moved, deferred, nil
}

// clearDeleted takes local p, whose node was deleted on the server, out
// of the way: to the local trash if it is as synced, or under a conflict
// name, to be sent as a new file, if it changed here.
func (s *Syncer) clearDeleted(ctx context.Context, v *view, p string, rep *Report) error {
	changed, err := s.localChanged(ctx, v, p)
	if err != nil {
		return err
	}
	if v.bases[p].Kind == kindFolder || !changed {
		// A folder with changes below goes under a conflict name there.
		if _, err := s.deleteLocal(ctx, v, p, rep); err != nil {
			return err
		}
	} else {
		name, err := s.conflictName(v, p)
		if err == nil {
			err = s.moveLocal(v, p, name)
		}
		if err != nil {
			return err
		}
		rep.Conflicts++
		if err := s.st.remove(ctx, p); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(s.full(p)); err == nil {
		return fmt.Errorf("cannot move a file to %s: the place is taken here", p)
	}
	delete(v.loc, p)
	delete(v.bases, p)
	return nil
}

// keepsAChild reports whether local folder q, a folder at path p of the
// base, holds one of p's synced children (kids, by folder) by name, or p
// had none: what a moved folder does, and a new folder with a recycled
// inode does not.
func keepsAChild(v *view, kids map[string][]string, p, q string) bool {
	for _, name := range kids[p] {
		if v.loc[q+"/"+name] != nil {
			return true
		}
	}
	return len(kids[p]) == 0
}

// repath gives the nodes below a moved folder their new paths, here and
// in their entries (see client.Entry.Under).
func (s *Syncer) repath(n *rnode) {
	for name, k := range n.kids {
		k.path = n.path + "/" + name
		k.e = k.e.Under(n.e)
		if k.kids != nil {
			s.repath(k)
		}
	}
}

// moveLocal renames local from to to, never over something.
func (s *Syncer) moveLocal(v *view, from, to string) error {
	if _, err := os.Lstat(s.full(to)); err == nil {
		return fmt.Errorf("cannot move %s to %s: the place is taken here", from, to)
	}
	if err := os.MkdirAll(filepath.Dir(s.full(to)), 0o755); err != nil {
		return fmt.Errorf("move %s: %w", from, err)
	}
	if err := os.Rename(s.full(from), s.full(to)); err != nil {
		return fmt.Errorf("move %s: %w", from, err)
	}
	delete(v.loc, from)
	return nil
}
