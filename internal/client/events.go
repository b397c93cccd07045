package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
)

// ErrCursorExpired means the server no longer holds every change after
// the cursor given: they were pruned, or the server's history went back
// (restored from a backup). The caller must take a new cursor
// (EventsHead), rescan the whole tree, and follow the events from that
// cursor.
var ErrCursorExpired = errors.New("the server no longer has the changes since this cursor; a full rescan is needed")

// eventsGrace is how much longer than its wait a long-poll may take
// before the client gives up on the server.
const eventsGrace = 30 * time.Second

// Events returns the changes to the account's own drive after the cursor
// since, up to api.MaxEventsPage of them (More is then set: ask again at
// once), waiting up to wait (whole seconds, at most api.MaxEventsWait)
// for the first when there is none yet; an answer without events is
// normal. Pass the answer's Cursor as since next time.
//
// The events are only hints of where to look: the server chose them,
// and may leave changes out (a periodic rescan catches those). What the
// client checks is that the answer is about its own volume and moves
// forward: the events' numbers above since and rising, and the cursor at
// the last one. Anything else wraps ErrTampered. A cursor the server can
// no longer serve wraps ErrCursorExpired.
func (d *Drive) Events(ctx context.Context, since uint64, wait time.Duration) (*api.EventsResponse, error) {
	secs := min((wait+time.Second-1)/time.Second, api.MaxEventsWait)
	if secs < 0 {
		secs = 0
	}
	path := api.PathEvents + "?since=" + strconv.FormatUint(since, 10)
	if secs > 0 {
		path += "&wait=" + strconv.FormatInt(int64(secs), 10)
	}
	resp, err := d.events(ctx, path, time.Duration(secs)*time.Second)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusGone && ae.Code == api.CodeCursorExpired {
		return nil, fmt.Errorf("events after %d: %w", since, ErrCursorExpired)
	}
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", since, err)
	}
	if err := d.checkEvents(resp, since); err != nil {
		return nil, fmt.Errorf("events after %d: %w", since, err)
	}
	return resp, nil
}

// EventsHead returns the cursor of the drive's latest change. To start
// following the events, take it first, then scan the tree, then ask for
// the events after it: whatever changed during the scan comes again.
func (d *Drive) EventsHead(ctx context.Context) (uint64, error) {
	resp, err := d.events(ctx, api.PathEvents, 0)
	if err != nil {
		return 0, fmt.Errorf("events head: %w", err)
	}
	if err := d.checkVolume(resp); err != nil {
		return 0, fmt.Errorf("events head: %w", err)
	}
	if len(resp.Events) != 0 {
		return 0, fmt.Errorf("events head: %w", tampered(errors.New("the answer carries events")))
	}
	return resp.Cursor, nil
}

// events asks for path, which waits up to wait on the server.
func (d *Drive) events(ctx context.Context, path string, wait time.Duration) (*api.EventsResponse, error) {
	t := d.acc.t.forWait(wait + eventsGrace)
	// Given up on past the wait, in case the server holds the answer
	// back: the default client has no overall timeout.
	ctx, cancel := context.WithTimeout(ctx, wait+eventsGrace)
	defer cancel()
	var resp api.EventsResponse
	if err := t.do(ctx, http.MethodGet, path, nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// forWait returns the transport for a request that may take d: t itself,
// or a copy whose HTTP client has no overall timeout if t's would cut
// the request short. Its per-request deadline is then the caller's.
func (t *transport) forWait(d time.Duration) *transport {
	if t.http.Timeout == 0 || t.http.Timeout >= d {
		return t
	}
	hc := *t.http
	hc.Timeout = 0
	return &transport{base: t.base, token: t.token, http: &hc}
}

// checkVolume checks that an answer of the events feed is about the
// account's own volume.
func (d *Drive) checkVolume(resp *api.EventsResponse) error {
	if !bytes.Equal(resp.Volume, d.root.vol) {
		return tampered(fmt.Errorf("the answer is about volume %x, not this account's %x", resp.Volume, d.root.vol))
	}
	return nil
}

// knownEvents are the event kinds of this protocol version.
var knownEvents = map[string]bool{
	api.EventCreate: true, api.EventRevision: true, api.EventUpdate: true, api.EventTrash: true,
	api.EventRestore: true, api.EventDelete: true, api.EventShare: true,
}

// checkEvents checks an answer to the events after since: the account's
// volume, numbers above since and rising, known kinds, and the cursor at
// the last event (since without one). A server that reorders or replays
// the feed fails here.
func (d *Drive) checkEvents(resp *api.EventsResponse, since uint64) error {
	if err := d.checkVolume(resp); err != nil {
		return err
	}
	last := since
	for _, e := range resp.Events {
		switch {
		case e.Seq <= last:
			return tampered(fmt.Errorf("event %d comes after %d", e.Seq, last))
		case !knownEvents[e.Kind]:
			return tampered(fmt.Errorf("event %d is of unknown kind %q", e.Seq, Printable(e.Kind)))
		case len(e.Node) == 0:
			return tampered(fmt.Errorf("event %d names no node", e.Seq))
		}
		last = e.Seq
	}
	if resp.Cursor != last {
		return tampered(fmt.Errorf("the cursor %d is not the last event's %d", resp.Cursor, last))
	}
	if resp.More && len(resp.Events) == 0 {
		return tampered(errors.New("more events announced, but none given"))
	}
	return nil
}
