package foldersync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// Status is what `coffer sync --status` shows of one pair.
type Status struct {
	Local     string    `json:"local"`
	Remote    string    `json:"remote"`
	Server    string    `json:"server"`
	User      string    `json:"user"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Running is the process ID of a sync of the pair that is running
	// now, 0 if none is.
	Running int `json:"running,omitempty"`
	// Synced counts the entries of the last synced state.
	Synced int `json:"synced"`
	// Pending counts what the last pass left undone.
	Pending int `json:"pending"`
	// LocalChanges counts local paths that look changed since they were
	// last synced (added, deleted, or with a new size, time or inode),
	// found by a scan that reads no file.
	LocalChanges int `json:"local_changes"`
}

// Statuses reports on every pair with state in stateDir.
func Statuses(ctx context.Context, stateDir string) ([]Status, error) {
	names, err := filepath.Glob(filepath.Join(stateDir, "*.db"))
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, name := range names {
		st, err := statusOf(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Local < out[j].Local })
	return out, nil
}

func statusOf(ctx context.Context, name string) (*Status, error) {
	st, err := openState(ctx, name)
	if err != nil {
		return nil, err
	}
	defer st.close()
	var s Status
	for key, dst := range map[string]*string{keyLocal: &s.Local, keyRemote: &s.Remote, keyServer: &s.Server, keyUser: &s.User, keyLastError: &s.LastError} {
		if *dst, err = st.get(ctx, key); err != nil {
			return nil, err
		}
	}
	if v, _ := st.get(ctx, keyLastSync); v != "" {
		s.LastSync, _ = time.Parse(time.RFC3339, v)
	}
	if v, _ := st.get(ctx, keyPending); v != "" {
		s.Pending, _ = strconv.Atoi(v)
	}
	if v, _ := st.get(ctx, keyRunning); v != "" {
		if pid, err := strconv.Atoi(v); err == nil && alive(pid) {
			if hb, _ := st.get(ctx, keyHeartbeat); hb != "" {
				if t, err := time.Parse(time.RFC3339, hb); err == nil && time.Since(t) < 3*heartbeatEvery {
					s.Running = pid
				}
			}
		}
	}
	bases, err := st.all(ctx)
	if err != nil {
		return nil, err
	}
	s.Synced = len(bases)
	if s.Local != "" {
		sy := &Syncer{opt: Options{Local: s.Local}, warned: map[string]bool{}}
		loc, ig, err := sy.scan(ctx)
		if err != nil {
			s.LocalChanges = -1
			s.LastError = fmt.Sprintf("cannot scan the local folder: %v", err)
			return &s, nil
		}
		for p, b := range bases {
			if ig.ignored(p, b.Kind == kindFolder) {
				continue
			}
			if l := loc[p]; l == nil || !l.sameStat(b) {
				s.LocalChanges++
			}
		}
		for p := range loc {
			if bases[p] == nil {
				s.LocalChanges++
			}
		}
	}
	return &s, nil
}

// alive reports whether a process with this ID exists.
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}
