package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// fakeHeads is a database's view of volumes' heads, counting the polls.
type fakeHeads struct {
	mu    sync.Mutex
	heads map[string]uint64
	calls [][]string // the volumes asked for, by call
	fail  bool
}

func (f *fakeHeads) read(_ context.Context, ids [][]byte) (map[string]uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var asked []string
	out := map[string]uint64{}
	for _, id := range ids {
		asked = append(asked, string(id))
		if h, ok := f.heads[string(id)]; ok {
			out[string(id)] = h
		}
	}
	f.calls = append(f.calls, asked)
	if f.fail {
		return nil, errors.New("database down")
	}
	return out, nil
}

func (f *fakeHeads) set(id string, head uint64, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heads[id], f.fail = head, fail
}

func (f *fakeHeads) callsSince(n int) [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.calls[n:]...)
}

// woken waits for ch to close; the bound is far above the poll interval,
// so it is reached only if the poller never wakes the waiter.
func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(30 * time.Second):
		return false
	}
}

// TestEventHubPollsOnceForAllVolumes: one poller looks at every waited-for
// volume in one query per interval, wakes only the waiters of a volume
// whose head moved past what they saw, keeps going through a failed
// query, and stops when nobody waits.
func TestEventHubPollsOnceForAllVolumes(t *testing.T) {
	db := &fakeHeads{heads: map[string]uint64{"v1": 10, "v2": 20}}
	h, err := newEventHub(nil, db.read, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	// Three waiters of v1 on two accounts, one of v2.
	for _, j := range []struct {
		user int64
		vol  string
	}{{1, "v1"}, {1, "v1"}, {2, "v1"}, {2, "v2"}} {
		if !h.join(j.user, []byte(j.vol)) {
			t.Fatalf("join %v refused", j)
		}
	}
	c1, c2 := h.changed([]byte("v1")), h.changed([]byte("v2"))
	h.observe([]byte("v1"), 10)
	h.observe([]byte("v1"), 9) // a waiter that read before a commit
	h.observe([]byte("v2"), 20)

	// v1's head is 10, above the 9 one waiter saw: it is woken at the
	// next poll; v2 is not.
	if !woken(c1) {
		t.Fatal("the waiters of v1, which saw 9 while the head is 10, were not woken")
	}
	first := len(db.callsSince(0))
	select {
	case <-c2:
		t.Fatal("the waiters of v2 were woken with no change")
	default:
	}

	// A commit through another instance moves v2 on; a failed poll
	// first changes nothing, the next one wakes v2's waiters.
	c1 = h.changed([]byte("v1"))
	n := len(db.callsSince(0))
	db.set("v2", 21, true)
	for len(db.callsSince(n)) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	db.set("v2", 21, false)
	if !woken(c2) {
		t.Fatal("the waiters of v2 were not woken after its head moved on")
	}
	select {
	case <-c1:
		t.Fatal("the waiters of v1 were woken again with no change")
	default:
	}
	for i, call := range db.callsSince(first) {
		if len(call) != 2 {
			t.Fatalf("poll %d asked for %v: want both waited-for volumes in one query", i, call)
		}
	}

	// Nobody waits: the poller stops.
	for _, j := range []struct {
		user int64
		vol  string
	}{{1, "v1"}, {1, "v1"}, {2, "v1"}, {2, "v2"}} {
		h.leave(j.user, []byte(j.vol))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.mu.Lock()
		polling := h.polling
		h.mu.Unlock()
		if !polling {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the poller still runs with nobody waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
	n = len(db.callsSince(0))
	time.Sleep(2 * eventsPoll)
	if calls := db.callsSince(n); len(calls) != 0 {
		t.Fatalf("the database was polled %d times with nobody waiting", len(calls))
	}
}
