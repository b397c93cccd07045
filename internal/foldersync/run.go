package foldersync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/coffer-drive/coffer/internal/client"
)

// Timings of the watching sync.
const (
	// settle is how long local changes must be quiet before a pass: an
	// editor saving a file writes, renames and touches it in a burst.
	settle = 500 * time.Millisecond
	// maxSettle bounds the wait for a burst to end.
	maxSettle = 5 * time.Second
	// pendingRetry is the wait before a pass retries what the last one
	// left pending (a file being written, a stale write).
	pendingRetry = 30 * time.Second
	// longPoll is how long one request to the events feed waits.
	longPoll = 30 * time.Second
	// retryAfter is the wait after a failed pass or feed request.
	retryAfter = 5 * time.Second
	// fullWalkEvery is how often a rescan also walks the remote folder
	// whole instead of trusting the events feed alone.
	fullWalkEvery = time.Hour
	// heartbeatEvery is how often a running sync says so in its state.
	heartbeatEvery = 30 * time.Second
	// sharedPoll is how often a watching sync of a folder shared by
	// another account walks it for changes (it has no events feed).
	sharedPoll = 30 * time.Second
)

// RunOptions tune Run.
type RunOptions struct {
	// Rescan is the interval of full passes that do not wait for a
	// change: the safety net under fsnotify, which can drop events.
	Rescan time.Duration
	// Passed, if set, is told of every pass.
	Passed func(Report, error)
}

// Run syncs until ctx ends: a pass at start, then one whenever the local
// folder changes (fsnotify), the server reports a change (the events
// feed, long-polled), or the rescan interval passes.
func (s *Syncer) Run(ctx context.Context, ro RunOptions) error {
	if ro.Rescan <= 0 {
		ro.Rescan = 5 * time.Minute
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", s.opt.Local, err)
	}
	defer w.Close()
	_ = s.st.set(ctx, keyRunning, strconv.Itoa(os.Getpid()))
	defer func() { _ = s.st.set(context.WithoutCancel(ctx), keyRunning, "") }()
	s.heartbeat(ctx)

	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		feedFrom atomic.Uint64 // the cursor of the last pass that finished
		started  = make(chan struct{})
		once     sync.Once
	)
	go s.followFeed(ctx, started, &feedFrom, poke)

	var (
		quiet <-chan time.Time
		burst time.Time // when the current burst of local changes began
	)
	watched := map[string]bool{}
	var retry <-chan time.Time
	pass := func() {
		rep, err := s.Once(ctx)
		if ro.Passed != nil && ctx.Err() == nil {
			ro.Passed(rep, err)
		}
		switch {
		case err != nil:
			retry = time.After(retryAfter)
		case rep.Pending > 0:
			retry = time.After(pendingRetry)
		default:
			retry = nil
		}
		if s.tree != nil {
			feedFrom.Store(s.cursor)
			once.Do(func() { close(started) })
		}
		if s.watchAll(w, watched) > 0 {
			// What was written in a folder before its watch existed
			// (one this pass made, say) is found by one more pass.
			quiet = time.After(settle)
		}
	}
	pass()
	walked := time.Now()
	rescan := time.NewTicker(ro.Rescan)
	defer rescan.Stop()
	beat := time.NewTicker(heartbeatEvery)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("the file watcher stopped")
			}
			if s.watchedChange(ev) {
				// Wait for the burst to end, but not for ever: a file
				// written without pause must not hold back the rest.
				if quiet == nil || time.Since(burst) < maxSettle {
					if quiet == nil {
						burst = time.Now()
					}
					quiet = time.After(settle)
				}
			}
			if ev.Has(fsnotify.Create) {
				if info, err := os.Lstat(ev.Name); err == nil && info.IsDir() && !watched[ev.Name] {
					// Watched at once, so what is written in it next
					// is seen; the pass scans what came before.
					if w.Add(ev.Name) == nil {
						watched[ev.Name] = true
					}
				}
			}
		case err, ok := <-w.Errors:
			if ok && s.opt.Warn != nil {
				s.opt.Warn(fmt.Sprintf("file watcher: %v; relying on rescans", err))
			}
			quiet = time.After(settle)
		case <-quiet:
			quiet = nil
			pass()
		case <-wake:
			pass()
		case <-rescan.C:
			if time.Since(walked) >= fullWalkEvery {
				// The safety net on the server's side: a change the
				// feed did not bring (a bug, a feed withheld) is found
				// by walking the folder again.
				s.tree = nil
				walked = time.Now()
			}
			pass()
		case <-retry:
			pass()
		case <-beat.C:
			s.heartbeat(ctx)
		}
	}
}

func (s *Syncer) heartbeat(ctx context.Context) {
	_ = s.st.set(ctx, keyHeartbeat, time.Now().UTC().Format(time.RFC3339))
}

// watchedChange reports whether a file system event is one a pass should
// look at: not the sync's own temporary files.
func (s *Syncer) watchedChange(ev fsnotify.Event) bool {
	name := filepath.Base(ev.Name)
	return !reserved(name) || name == markerFile
}

// watchAll adds a watch on every local folder not yet watched (fsnotify
// is not recursive), and returns how many it added.
func (s *Syncer) watchAll(w *fsnotify.Watcher, watched map[string]bool) int {
	trash := filepath.Join(s.opt.Local, TrashDir)
	added := 0
	for dir := range watched {
		if _, err := os.Lstat(dir); err != nil {
			delete(watched, dir) // gone: its watch went with it
		}
	}
	_ = filepath.WalkDir(s.opt.Local, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p == trash {
			return filepath.SkipDir
		}
		if watched[p] {
			return nil
		}
		if err := w.Add(p); err != nil {
			s.warnOnce(fmt.Sprintf("cannot watch %s (%v); changes there are found by rescans", p, err))
			return nil
		}
		watched[p] = true
		added++
		return nil
	})
	return added
}

// followFeed long-polls the events feed and pokes the loop when the
// server has something new. It waits from the cursor of the last pass, or
// from what it saw itself if that is newer.
func (s *Syncer) followFeed(ctx context.Context, started <-chan struct{}, from *atomic.Uint64, poke func()) {
	select {
	case <-started:
	case <-ctx.Done():
		return
	}
	if s.shared {
		// No feed for another account's drive: a pass, which walks the
		// folder, every sharedPoll.
		tick := time.NewTicker(sharedPoll)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				poke()
			case <-ctx.Done():
				return
			}
		}
	}
	var cursor uint64
	pause := func() bool {
		select {
		case <-time.After(retryAfter):
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		if c := from.Load(); c > cursor {
			cursor = c
		}
		resp, err := s.d.Events(ctx, cursor, longPoll)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, client.ErrCursorExpired):
			// The next pass rescans and moves the cursor on.
			poke()
			cursor = 0
			if !pause() {
				return
			}
		case err != nil:
			if !pause() {
				return
			}
		case len(resp.Events) > 0:
			cursor = resp.Cursor
			poke()
		}
	}
}
