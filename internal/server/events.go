package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/meta"
)

// Retention of the events feed, pruned by the garbage-collection sweep.
// A client whose cursor is older than what is kept gets 410 Gone and
// rescans its whole tree: correct, but slow for a large drive. Events
// are small (about 100 bytes), so keeping many costs little.
const (
	// eventsKeepAge: a month of history, so that a device left off
	// through a holiday still catches up from its cursor.
	eventsKeepAge = 30 * 24 * time.Hour
	// eventsKeepMin: the newest events of every volume stay whatever
	// their age: a quiet drive keeps its recent past (about 1 MB), so a
	// device that slept for longer still catches up cheaply when little
	// changed meanwhile.
	eventsKeepMin = 10_000
)

// Long-polls of the events feed.
const (
	// eventsPoll is how often an instance looks at the database for
	// events that other instances committed to the volumes its requests
	// wait for; commits through this one wake them at once (eventHub).
	// One query looks for every waiting volume (by the 500), so the load
	// on the database does not grow with the number of waiting devices.
	eventsPoll = time.Second
	// maxWaitsPerUser bounds the long-polls one account may hold open at
	// once on one instance (a few per device is plenty), so that one
	// account cannot tie up the server's connections and queries.
	maxWaitsPerUser = 32
)

// errCursorExpired answers a cursor the history no longer reaches.
var errCursorExpired = &httpError{status: http.StatusGone, code: api.CodeCursorExpired,
	message: "cursor too old; do a full rescan"}

// eventHub wakes the requests waiting for a volume's events when this
// process commits a change to it. Commits by other server instances are
// found by one poller, which runs while anyone waits and asks the
// database for the heads of all the waited-for volumes at once.
type eventHub struct {
	// heads reads volumes' latest sequence numbers (the store's
	// EventHeads); log reports its failures.
	heads func(ctx context.Context, volumeIDs [][]byte) (map[string]uint64, error)
	log   *slog.Logger

	mu sync.Mutex
	// polling is whether the poller runs.
	polling bool
	// volumes are the volumes someone waits for, by ID.
	volumes map[string]*volumeWaiters
	// users counts each account's waiting requests.
	users map[int64]int
	// closed is closed when the server shuts down, to answer waiters.
	closed    chan struct{}
	closeOnce sync.Once
	// waiting is the metric of waiting requests; nil without metrics.
	waiting prometheus.Gauge
}

type volumeWaiters struct {
	changed chan struct{} // closed at the volume's next change
	n       int           // requests waiting
	// seen is the oldest head a waiter found with nothing after its
	// cursor (valid if observed): the poller wakes the waiters when the
	// database's head passes it.
	seen     uint64
	observed bool
}

func newEventHub(reg prometheus.Registerer, heads func(context.Context, [][]byte) (map[string]uint64, error), log *slog.Logger) (*eventHub, error) {
	h := &eventHub{heads: heads, log: log, volumes: map[string]*volumeWaiters{}, users: map[int64]int{}, closed: make(chan struct{})}
	if reg != nil {
		h.waiting = prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "coffer", Subsystem: "events", Name: "waiting_requests",
			Help: "Requests long-polling the events feed now.",
		})
		if err := reg.Register(h.waiting); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// join registers a request of userID waiting for the volume's events. It
// reports false if the account holds too many already.
func (h *eventHub) join(userID int64, volumeID []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users[userID] >= maxWaitsPerUser {
		return false
	}
	h.users[userID]++
	w := h.volumes[string(volumeID)]
	if w == nil {
		w = &volumeWaiters{changed: make(chan struct{})}
		h.volumes[string(volumeID)] = w
	}
	w.n++
	if h.waiting != nil {
		h.waiting.Inc()
	}
	if !h.polling {
		h.polling = true
		go h.poll()
	}
	return true
}

// observe records that a waiter of the volume found head in the database
// and nothing after its cursor: the poller is to wake it once the head
// moves on. It is called after the waiter took its changed channel and
// read the database, so a change the poller saw before this call either
// was in that read or closed that channel.
func (h *eventHub) observe(volumeID []byte, head uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.volumes[string(volumeID)]
	if !w.observed || head < w.seen {
		w.seen, w.observed = head, true
	}
}

// poll wakes the waiters of the volumes whose head moved on in the
// database (through another instance), once per eventsPoll, for as long
// as anyone waits. A failed look is logged and tried again at the next
// tick: the waiters still answer at their deadline.
func (h *eventHub) poll() {
	tick := time.NewTicker(eventsPoll)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-h.closed:
			h.mu.Lock()
			h.polling = false
			h.mu.Unlock()
			return
		}
		h.mu.Lock()
		if len(h.volumes) == 0 {
			h.polling = false
			h.mu.Unlock()
			return
		}
		ids := make([][]byte, 0, len(h.volumes))
		for id, w := range h.volumes {
			if w.observed {
				ids = append(ids, []byte(id))
			}
		}
		h.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*eventsPoll)
		heads, err := h.heads(ctx, ids)
		cancel()
		if err != nil {
			h.log.Warn("poll the events of waited-for volumes", "volumes", len(ids), "err", err)
			continue
		}
		h.mu.Lock()
		for id, head := range heads {
			if w := h.volumes[id]; w != nil && w.observed && head > w.seen {
				close(w.changed)
				w.changed = make(chan struct{})
				w.seen = head
			}
		}
		h.mu.Unlock()
	}
}

// leave undoes join.
func (h *eventHub) leave(userID int64, volumeID []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users[userID]--; h.users[userID] <= 0 {
		delete(h.users, userID)
	}
	if w := h.volumes[string(volumeID)]; w != nil {
		if w.n--; w.n <= 0 {
			delete(h.volumes, string(volumeID))
		}
	}
	if h.waiting != nil {
		h.waiting.Dec()
	}
}

// changed returns a channel closed at the volume's next change: take it
// before looking at the database, so that no change slips in between.
// The volume must have been joined.
func (h *eventHub) changed(volumeID []byte) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.volumes[string(volumeID)].changed
}

// notify wakes the requests waiting for the volume. It is the store's
// watcher (meta.DriveStore.WatchEvents): it runs on the writer's
// goroutine, and does not block.
func (h *eventHub) notify(volumeID []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.volumes[string(volumeID)]; w != nil {
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

// close answers every waiting request, now and from now on: the server
// is shutting down, and its graceful shutdown waits for requests in
// flight.
func (h *eventHub) close() {
	h.closeOnce.Do(func() { close(h.closed) })
}

// StopWaiters answers the requests that wait for events, and makes later
// ones answer without waiting, so that a graceful shutdown of the HTTP
// server does not wait up to a whole long-poll for them. Register it with
// http.Server.RegisterOnShutdown.
func (s *Server) StopWaiters() {
	s.events.close()
}

// handleEvents is GET /v1/events?since=N&wait=S: the changes to the
// caller's volume after the cursor N, long-polling for up to S seconds
// when there are none yet. Without since, it answers the cursor of the
// volume's head, and no events.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	ctx := r.Context()
	q := r.URL.Query()
	var since uint64
	hasSince := q.Has("since")
	if hasSince {
		var err error
		if since, err = strconv.ParseUint(q.Get("since"), 10, 64); err != nil {
			s.writeError(w, r, badRequest("since must be a cursor: a whole number from 0"))
			return
		}
	}
	var wait time.Duration
	if q.Has("wait") {
		n, err := strconv.Atoi(q.Get("wait"))
		if err != nil || n < 0 || n > api.MaxEventsWait {
			s.writeError(w, r, badRequest("wait must be a whole number of seconds from 0 to %d", api.MaxEventsWait))
			return
		}
		wait = time.Duration(n) * time.Second
	}
	v, err := s.volumeOf(ctx, sess)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !hasSince {
		head, err := s.store.EventHead(ctx, v.ID)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("event head: %w", err))
			return
		}
		writeJSON(w, http.StatusOK, api.EventsResponse{Volume: v.ID, Events: []api.Event{}, Cursor: head})
		return
	}
	resp, err := s.waitEvents(ctx, sess.UserID, v.ID, since, wait)
	switch {
	case errors.Is(err, meta.ErrCursorExpired):
		s.writeError(w, r, errCursorExpired)
	case err != nil && ctx.Err() != nil:
		// The client hung up: nobody reads the answer.
	case err != nil:
		s.writeError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

// waitEvents returns the volume's events after since, waiting up to wait
// for the first if there are none yet.
func (s *Server) waitEvents(ctx context.Context, userID int64, volumeID []byte, since uint64, wait time.Duration) (*api.EventsResponse, error) {
	if wait > 0 {
		if !s.events.join(userID, volumeID) {
			return nil, &httpError{status: http.StatusTooManyRequests, code: api.CodeTooManyRequests,
				message: fmt.Sprintf("this account already waits for events in %d requests", maxWaitsPerUser), retryAfter: 5}
		}
		defer s.events.leave(userID, volumeID)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	waiting := wait > 0
	for {
		var changed <-chan struct{}
		if waiting {
			changed = s.events.changed(volumeID)
		}
		list, head, err := s.store.Events(ctx, volumeID, since, api.MaxEventsPage)
		if err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		if len(list) > 0 || !waiting {
			return eventsResponse(volumeID, since, list, head), nil
		}
		s.events.observe(volumeID, head)
		select {
		case <-changed:
		case <-deadline.C:
			waiting = false // one last look, then answer
		case <-s.events.closed:
			waiting = false
		case <-ctx.Done():
			// The client hung up, or the server is stopping (requests'
			// contexts end with the server's): no events, which a
			// client still there can read.
			return eventsResponse(volumeID, since, nil, since), nil
		}
	}
}

// eventsResponse is the answer carrying list, the events after since.
func eventsResponse(volumeID []byte, since uint64, list []meta.Event, head uint64) *api.EventsResponse {
	resp := &api.EventsResponse{Volume: volumeID, Events: make([]api.Event, len(list)), Cursor: since}
	for i, e := range list {
		resp.Events[i] = api.Event{Seq: e.Seq, Kind: e.Kind.String(), Node: e.NodeID, Parent: e.ParentID,
			OldParent: e.OldParentID, Version: e.Version, Time: e.CreatedAt}
		resp.Cursor = e.Seq
	}
	resp.More = resp.Cursor < head
	return resp
}

// pruneEvents forgets events past the retention (eventsKeepAge,
// eventsKeepMin). It runs in the garbage-collection sweep, under its
// lease.
func (s *Server) pruneEvents(ctx context.Context) {
	n, err := s.store.PruneEvents(ctx, s.now().Add(-eventsKeepAge), eventsKeepMin)
	if err != nil {
		s.log.Warn("prune events", "err", err)
	} else if n > 0 {
		s.log.Info("pruned events", "count", n)
	}
}
