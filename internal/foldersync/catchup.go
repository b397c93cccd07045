package foldersync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
)

// keyRoot holds the remote folder's node ID: a folder of the same name
// made anew is another folder, and syncing it as if it were the old one
// would see every synced file as deleted there.
const keyRoot = "root"

// catchUp brings the remote view up to date: a full walk the first time
// (or when the feed cannot replay what was missed), else a new listing
// of just the folders the events since the cursor touched.
func (s *Syncer) catchUp(ctx context.Context) error {
	if s.tree == nil || s.shared {
		return s.fullScan(ctx)
	}
	var events []api.Event
	cursor := s.cursor
	// The feed is read from one event back: the event at the cursor must
	// be the one this device saw there, or the server's history is
	// another one (restored from a backup, then written to).
	since := cursor
	if s.last != "" && cursor > 0 {
		since = cursor - 1
	}
	for {
		resp, err := s.d.Events(ctx, since, 0)
		if errors.Is(err, client.ErrCursorExpired) {
			s.logf("the server's history no longer reaches back to this device's last sync; rescanning")
			s.tree = nil
			return s.fullScan(ctx)
		}
		if err != nil {
			return fmt.Errorf("read changes from the server: %w", err)
		}
		evs := resp.Events
		if since < cursor {
			if len(evs) == 0 || eventID(evs[0]) != s.last {
				return s.restored(ctx, cursor)
			}
			evs = evs[1:]
			since = cursor
		}
		events = append(events, evs...)
		if len(resp.Events) > 0 {
			cursor = resp.Cursor
			since = cursor
		}
		if !resp.More {
			break
		}
	}
	if len(events) == 0 {
		return nil
	}
	for _, ev := range events {
		if ev.Kind == api.EventShare {
			// Who may write where may have changed: entries verified
			// before carry the old writers, so the view is made again.
			s.tree = nil
			return s.fullScan(ctx)
		}
	}
	folders, rootGone := s.tree.affected(events)
	if rootGone {
		// The next pass looks again from the path: the folder may have
		// been restored by then.
		s.tree = nil
		return fmt.Errorf("the remote folder %s was removed (is it in the trash?); stopping without touching the local folder", s.opt.Remote)
	}
	// Parents first: a parent's new listing may replace a child folder's
	// subtree, which then needs no listing of its own.
	sort.Slice(folders, func(i, j int) bool { return depth(folders[i].path) < depth(folders[j].path) })
	for _, f := range folders {
		if f != s.tree.root && s.tree.byID[string(f.ID())] != f {
			continue // replaced by its parent's new listing
		}
		if err := s.tree.refresh(ctx, s.d, f); err != nil {
			var le *listError
			if errors.As(err, &le) && client.IsNotFound(err) {
				// Gone since the event; its parent's listing says so.
				continue
			}
			// A refresh cut short leaves part of the view new and part
			// stale, and the events that would mend it are behind the
			// cursor's next reading: the next pass walks it all again.
			s.tree = nil
			return err
		}
	}
	return s.setCursor(ctx, cursor, eventID(events[len(events)-1]))
}

// remoteParts is REMOTE_DIR's path split into names.
func (s *Syncer) remoteParts() []string {
	parts, _ := client.SplitPath(s.opt.Remote)
	return parts
}

// eventID names an event well enough to tell it from another one with
// the same number.
func eventID(ev api.Event) string {
	return fmt.Sprintf("%d %s %s %d", ev.Seq, ev.Kind, b64(ev.Node), ev.Version)
}

// setCursor records how far the view has read the feed, and the event
// found there.
func (s *Syncer) setCursor(ctx context.Context, cursor uint64, last string) error {
	s.cursor, s.last = cursor, last
	if err := s.st.set(ctx, keyLast, last); err != nil {
		return err
	}
	return s.st.set(ctx, keyCursor, strconv.FormatUint(cursor, 10))
}

// lastEventAt returns the ID of the event numbered seq, "" for none.
func (s *Syncer) lastEventAt(ctx context.Context, seq uint64) (string, error) {
	if seq == 0 {
		return "", nil
	}
	resp, err := s.d.Events(ctx, seq-1, 0)
	if errors.Is(err, client.ErrCursorExpired) {
		return "", nil // pruned: nothing to compare with later
	}
	if err != nil {
		return "", fmt.Errorf("read the server's history: %w", err)
	}
	if len(resp.Events) == 0 || resp.Events[0].Seq != seq {
		return "", nil
	}
	return eventID(resp.Events[0]), nil
}

// restored handles a server whose history is not the one this device
// followed: it was restored from a backup. What it lost would look
// deleted there and be deleted here; forgetting the base makes the next
// walk compare contents instead, sending it again and deleting nothing.
func (s *Syncer) restored(ctx context.Context, cursor uint64) error {
	if err := s.st.clear(ctx); err != nil {
		return err
	}
	s.warnOnce(fmt.Sprintf("the server's history is not the one this device followed (change %d differs or is gone: restored from a backup?); comparing contents, deleting nothing", cursor))
	s.tree = nil
	return s.fullScan(ctx)
}

func depth(p string) int {
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

// fullScan walks the whole remote folder. The cursor is read before the
// walk, so any change made during it is replayed after: listing a folder
// again is harmless.
func (s *Syncer) fullScan(ctx context.Context) error {
	var head uint64
	if !s.shared {
		var err error
		if head, err = s.d.EventsHead(ctx); err != nil {
			return fmt.Errorf("read the server's history: %w", err)
		}
		// The shares of the drive say whose records to accept in it; a
		// share made since the drive was opened must count. (A folder
		// shared with this account is read afresh at each walk.)
		if err := s.d.ReloadShares(ctx); err != nil {
			return fmt.Errorf("read the drive's shares: %w", err)
		}
	}
	was, err := s.st.get(ctx, keyRoot)
	if err != nil {
		return err
	}
	root, err := s.d.Resolve(ctx, s.opt.Remote)
	if errors.Is(err, client.ErrNotExist) && s.shared && len(s.remoteParts()) == 3 {
		return fmt.Errorf("%s is not shared with you, or not accepted yet (see `coffer shared ls`), or no longer shared; the local folder is left as it is", s.opt.Remote)
	}
	if errors.Is(err, client.ErrNotExist) {
		if was != "" {
			if s.shared {
				return fmt.Errorf("the shared folder %s is gone: the owner may have moved it to the trash or stopped sharing it (see `coffer shared ls`); the local folder is left as it is", s.opt.Remote)
			}
			return fmt.Errorf("the remote folder %s is gone (is it, or a folder above it, in the trash?); restore it, or start over with `coffer sync --reset %s %s`", s.opt.Remote, s.opt.Local, s.opt.Remote)
		}
		root, err = s.d.Mkdir(ctx, s.opt.Remote, true)
		if client.IsConflict(err) {
			// Another device made it at the same moment.
			root, err = s.d.Resolve(ctx, s.opt.Remote)
		}
	}
	if err != nil {
		return err
	}
	if !root.IsDir() {
		return fmt.Errorf("%s is a file; sync needs a folder", s.opt.Remote)
	}
	if s.shared {
		// Before anything is compared: a sync that could not write would
		// fail on every local change, and one of an uploader cannot list.
		if err := s.d.CanWrite(root); err != nil {
			return fmt.Errorf("%w; syncing a shared folder needs the editor role (`coffer get` copies it)", err)
		}
	}
	id := b64(root.ID)
	if was != "" && was != id {
		all, err := s.st.all(ctx)
		if err != nil {
			return err
		}
		if len(all) > 0 {
			return fmt.Errorf("%s on the server is not the folder this device synced before (it was replaced); syncing would take every synced file as deleted there. Start over with `coffer sync --reset %s %s`", s.opt.Remote, s.opt.Local, s.opt.Remote)
		}
	}
	if err := s.st.set(ctx, keyRoot, id); err != nil {
		return err
	}
	if s.shared {
		// No history to follow: what changed is found by comparing.
		t := newRemoteTree(root)
		if err := t.walk(ctx, s.d, t.root); err != nil {
			return err
		}
		s.tree = t
		return nil
	}
	// Is the server's history still the one this device followed? It
	// is not if it is shorter than what was seen, or if the event seen
	// last has another identity now.
	prev, err := s.st.get(ctx, keyCursor)
	if err != nil {
		return err
	}
	if n, err := strconv.ParseUint(prev, 10, 64); err == nil && n > 0 {
		last, err := s.st.get(ctx, keyLast)
		if err != nil {
			return err
		}
		now := ""
		if head >= n && last != "" {
			if now, err = s.lastEventAt(ctx, n); err != nil {
				return err
			}
		}
		if head < n || last != "" && now != "" && now != last {
			if err := s.st.clear(ctx); err != nil {
				return err
			}
			s.warnOnce(fmt.Sprintf("the server's history is not the one this device followed (change %d differs or is gone: restored from a backup?); comparing contents, deleting nothing", n))
		}
	}
	headID, err := s.lastEventAt(ctx, head)
	if err != nil {
		return err
	}
	t := newRemoteTree(root)
	// The folders above REMOTE_DIR: if one goes to the trash, so does
	// the synced folder, though no event names it.
	parts, _ := client.SplitPath(s.opt.Remote)
	for i := range parts {
		e, err := s.d.Resolve(ctx, "/"+strings.Join(parts[:i], "/"))
		if err != nil {
			return err
		}
		t.above[string(e.ID)] = true
	}
	if err := t.walk(ctx, s.d, t.root); err != nil {
		return err
	}
	s.tree = t
	return s.setCursor(ctx, head, headID)
}
