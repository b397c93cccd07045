// Package foldersync keeps a local folder and a folder of the drive in
// step, both ways. It compares three views of every path: the local
// folder, the server's (kept current through the events feed), and what
// both held after the last sync (the base, in a SQLite database in the
// client's config folder). A side that differs from the base changed; a
// path changed on both sides with different contents is a conflict, and
// both versions are kept.
package foldersync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-drive/coffer/internal/client"
)

// Options configure a Syncer.
type Options struct {
	// Local is the local folder; Remote the drive folder (an absolute
	// drive path, created if missing).
	Local, Remote string
	// StateDir holds the state databases (one per pair).
	StateDir string
	// Server and User name the account, to keep pairs of different
	// accounts apart.
	Server, User string
	// Device names this device in the names of conflict copies.
	Device string
	// Warn receives notices that do not stop the sync (skipped links).
	Warn func(msg string)
	// Log, if set, is told of every change made, one line each.
	Log func(msg string)
	// Progress, if set, is told of the bytes moved by the current pass.
	Progress func(up, down int64)
	// Now is the clock, for conflict names (tests set it).
	Now func() time.Time
}

// Report counts what one pass did.
type Report struct {
	Uploaded, Downloaded, Moved, Deleted, Conflicts, Folders int
	// Pending are changes the pass left for the next one (files that
	// kept changing, writes the server refused as stale).
	Pending int
}

func (r *Report) changes() int {
	return r.Uploaded + r.Downloaded + r.Moved + r.Deleted + r.Conflicts + r.Folders
}

func (r Report) String() string {
	return fmt.Sprintf("%d up, %d down, %d moved, %d deleted, %d folders, %d conflicts, %d pending",
		r.Uploaded, r.Downloaded, r.Moved, r.Deleted, r.Folders, r.Conflicts, r.Pending)
}

// Syncer syncs one pair of folders.
type Syncer struct {
	d      *client.Drive
	opt    Options
	st     *state
	unlock func()
	tree   *remoteTree
	cursor uint64
	// last identifies the event at cursor (eventID), "" if unknown.
	last string
	// shared is set for a folder another account shares with this one
	// (under /shared): the events feed covers only the account's own
	// drive, so every round walks the remote folder whole instead.
	shared bool
	warned map[string]bool
	// tidy lets scans delete the temporary files of downloads a killed
	// run left: only the sync holding the pair's lock may (a status
	// scan runs beside a live sync).
	tidy bool
	// up and down count the bytes the current pass moved.
	mu       sync.Mutex
	up, down int64
}

// ErrLocked means another sync of the same pair is running.
var ErrLocked = errors.New("another coffer sync of this folder is running")

// Open prepares a sync of opt.Local with opt.Remote through d.
func Open(ctx context.Context, d *client.Drive, opt Options) (*Syncer, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Device == "" {
		opt.Device = "device"
	}
	if strings.ContainsAny(opt.Device, "/\\\x00") || strings.TrimSpace(opt.Device) != opt.Device || len(opt.Device) > 64 {
		return nil, fmt.Errorf("device name %q cannot be part of a file name: use letters, digits, spaces inside, '-' or '.', at most 64 bytes", opt.Device)
	}
	abs, err := filepath.Abs(opt.Local)
	if err != nil {
		return nil, fmt.Errorf("local folder %s: %w", opt.Local, err)
	}
	opt.Local = abs
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("local folder: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", abs)
	}
	if _, err := client.SplitPath(opt.Remote); err != nil {
		return nil, err
	}
	// From the path as the client resolves it: "//shared/x" is under
	// /shared too.
	parts, _ := client.SplitPath(opt.Remote)
	shared := len(parts) > 0 && parts[0] == client.SharedDir
	if shared && len(parts) < 3 {
		return nil, fmt.Errorf("%s holds what others share with you, not a folder of its own: sync one shared folder (/%s/OWNER/NAME)", opt.Remote, client.SharedDir)
	}
	name := filepath.Join(opt.StateDir, stateName(opt.Server, opt.User, abs, opt.Remote))
	unlock, err := lockFile(name + ".lock")
	if err != nil {
		return nil, err
	}
	st, err := openState(ctx, name)
	if err != nil {
		unlock()
		return nil, err
	}
	s := &Syncer{d: d, opt: opt, st: st, unlock: unlock, warned: map[string]bool{}, tidy: true, shared: shared}
	for k, v := range map[string]string{keyServer: opt.Server, keyUser: opt.User, keyLocal: abs, keyRemote: opt.Remote} {
		if err := st.set(ctx, k, v); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// StatePath is the pair's state database.
func (s *Syncer) StatePath() string { return s.st.path }

// Close releases the state database and the lock.
func (s *Syncer) Close() error {
	err := s.st.close()
	s.unlock()
	return err
}

func (s *Syncer) warnOnce(msg string) {
	if s.warned[msg] {
		return
	}
	s.warned[msg] = true
	if s.opt.Warn != nil {
		s.opt.Warn(msg)
	}
}

func (s *Syncer) logf(format string, args ...any) {
	if s.opt.Log != nil {
		s.opt.Log(fmt.Sprintf(format, args...))
	}
}

// Once runs one pass: it brings the remote view up to date (a full walk
// the first time), scans the local folder, and reconciles the two until
// nothing is left to do.
func (s *Syncer) Once(ctx context.Context) (Report, error) {
	rep, err := s.pass(ctx)
	s.recordPass(ctx, rep, err)
	return rep, err
}

// recordPass notes the pass's outcome for `coffer sync --status`.
func (s *Syncer) recordPass(ctx context.Context, rep Report, err error) {
	ctx = context.WithoutCancel(ctx)
	msg := ""
	if err != nil {
		msg = err.Error()
	} else {
		_ = s.st.set(ctx, keyLastSync, s.opt.Now().UTC().Format(time.RFC3339))
	}
	_ = s.st.set(ctx, keyLastError, msg)
	_ = s.st.set(ctx, keyPending, strconv.Itoa(rep.Pending))
}

// maxRounds bounds the reconcile rounds of one pass: each round acts on
// what the last one could not settle (a move, then the changes below it).
const maxRounds = 6

func (s *Syncer) pass(ctx context.Context) (Report, error) {
	var total Report
	s.up, s.down = 0, 0
	if err := s.checkMarker(ctx); err != nil {
		return total, err
	}
	for round := 0; ; round++ {
		if err := s.catchUp(ctx); err != nil {
			return total, err
		}
		rep, err := s.reconcile(ctx)
		total.Uploaded += rep.Uploaded
		total.Downloaded += rep.Downloaded
		total.Moved += rep.Moved
		total.Deleted += rep.Deleted
		total.Conflicts += rep.Conflicts
		total.Folders += rep.Folders
		total.Pending = rep.Pending
		if err != nil {
			return total, err
		}
		if rep.changes() == 0 || round == maxRounds-1 {
			if rep.changes() != 0 {
				total.Pending += rep.changes()
			}
			return total, nil
		}
	}
}

// checkMarker refuses a local folder that lost its marker while the state
// says it held files (an unmounted disk, a folder replaced), and marks a
// folder on its first sync.
func (s *Syncer) checkMarker(ctx context.Context) error {
	marker := filepath.Join(s.opt.Local, markerFile)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	all, err := s.st.all(ctx)
	if err != nil {
		return err
	}
	if len(all) > 0 {
		return fmt.Errorf("%s has lost its %s marker, but was synced before: is a disk unmounted? Syncing it as it is would delete %d synced entries on the server. Put the folder back, or start over with `coffer sync --reset %s %s`",
			s.opt.Local, markerFile, len(all), s.opt.Local, s.opt.Remote)
	}
	if err := os.WriteFile(marker, []byte("This folder is synced by coffer sync. Do not remove this file.\n"), 0o644); err != nil {
		return fmt.Errorf("mark %s as synced: %w", s.opt.Local, err)
	}
	return nil
}

// Reset forgets a pair's state, so that its next sync starts as a first
// one (comparing contents, deleting nothing).
func Reset(opt Options) error {
	abs, err := filepath.Abs(opt.Local)
	if err != nil {
		return err
	}
	name := filepath.Join(opt.StateDir, stateName(opt.Server, opt.User, abs, opt.Remote))
	unlock, err := lockFile(name + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(name + suffix); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("reset sync state: %w", err)
		}
	}
	return nil
}
