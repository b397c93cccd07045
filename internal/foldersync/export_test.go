package foldersync

import (
	"context"
	"strconv"
)

// SetCursorForTest writes a pair's stored cursor, as a device that saw a
// longer history would have.
func SetCursorForTest(statePath string, cursor uint64) error {
	st, err := openState(context.Background(), statePath)
	if err != nil {
		return err
	}
	defer st.close()
	return st.set(context.Background(), keyCursor, strconv.FormatUint(cursor, 10))
}

// SetLastEventForTest writes the identity a pair remembers for the event
// at its cursor, as if the server had served another one there.
func SetLastEventForTest(statePath, id string) error {
	st, err := openState(context.Background(), statePath)
	if err != nil {
		return err
	}
	defer st.close()
	return st.set(context.Background(), keyLast, id)
}

// TreeDiffForTest compares the syncer's remote view with a fresh walk of
// the server's folder, and describes the difference ("" if none).
func TreeDiffForTest(s *Syncer) string {
	if s.tree == nil {
		return ""
	}
	fresh := newRemoteTree(s.tree.root.e)
	if err := fresh.walk(context.Background(), s.d, fresh.root); err != nil {
		return "walk: " + err.Error()
	}
	a, b := s.tree.flat(), fresh.flat()
	out := ""
	for p, n := range b {
		if m := a[p]; m == nil || string(m.ID()) != string(n.ID()) {
			out += " missing:" + p
		}
	}
	for p := range a {
		if b[p] == nil {
			out += " extra:" + p
		}
	}
	for id, n := range s.tree.byID {
		if f := fresh.byID[id]; f == nil || f.path != n.path {
			if n != s.tree.root {
				out += " byID:" + n.path
			}
		}
	}
	return out
}
