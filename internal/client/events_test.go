package client_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

func TestEvents(t *testing.T) {
	de := newDrive(t, server.Options{})
	d := de.drive
	head, err := d.EventsHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var made [][]byte
	for _, p := range []string{"/a", "/b", "/c"} {
		e, err := d.Mkdir(ctx, p, false)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, e.ID)
	}
	resp, err := d.Events(ctx, head, 0)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(resp.Events) != 3 || resp.Cursor != head+3 || resp.More {
		t.Fatalf("Events after %d: %+v", head, resp)
	}
	for i, e := range resp.Events {
		if e.Kind != api.EventCreate || !bytes.Equal(e.Node, made[i]) || !bytes.Equal(e.Parent, d.Root().ID) {
			t.Errorf("event %d: %+v, want the creation of folder %d", e.Seq, e, i)
		}
	}
	if h, err := d.EventsHead(ctx); err != nil || h != head+3 {
		t.Errorf("EventsHead = %d, %v; want %d", h, err, head+3)
	}

	// A long-poll answers with the change made meanwhile; no time is
	// asserted, only a generous bound on the whole.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	type answer struct {
		resp *api.EventsResponse
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := d.Events(wctx, head+3, time.Minute)
		done <- answer{resp, err}
	}()
	e, err := d.Mkdir(ctx, "/d", false)
	if err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil || len(a.resp.Events) != 1 || !bytes.Equal(a.resp.Events[0].Node, e.ID) || a.resp.Cursor != head+4 {
		t.Fatalf("long-poll: %+v, %v; want the creation of /d", a.resp, a.err)
	}

	// Expired cursors: ahead of the history, or pruned.
	if _, err := d.Events(ctx, head+100, 0); !errors.Is(err, client.ErrCursorExpired) {
		t.Errorf("Events ahead of the head: %v, want ErrCursorExpired", err)
	}
	if _, err := de.env.Store.PruneEvents(ctx, time.Now().Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Events(ctx, head, 0); !errors.Is(err, client.ErrCursorExpired) {
		t.Errorf("Events after pruned events: %v, want ErrCursorExpired", err)
	}
	if resp, err := d.Events(ctx, head+3, 0); err != nil || len(resp.Events) != 1 {
		t.Errorf("Events after the one kept: %+v, %v", resp, err)
	}
}

// TestEventsTampered: a server that reorders, replays or redirects the
// feed is caught.
func TestEventsTampered(t *testing.T) {
	de := newDrive(t, server.Options{})
	for _, p := range []string{"/a", "/b", "/c"} {
		if _, err := de.drive.Mkdir(ctx, p, false); err != nil {
			t.Fatal(err)
		}
	}
	proxy := servertest.NewTamper(t, de.env.URL)
	d, err := de.via(t, proxy)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := d.Events(ctx, 0, 0); err != nil || len(resp.Events) != 3 {
		t.Fatalf("untampered: %+v, %v", resp, err)
	}
	for name, edit := range map[string]func(*api.EventsResponse){
		"reordered":         func(r *api.EventsResponse) { slices.Reverse(r.Events) },
		"replayed":          func(r *api.EventsResponse) { r.Events = append(r.Events, r.Events[0]) },
		"another volume":    func(r *api.EventsResponse) { r.Volume = bytes.Repeat([]byte{7}, len(r.Volume)) },
		"no volume":         func(r *api.EventsResponse) { r.Volume = nil },
		"cursor back":       func(r *api.EventsResponse) { r.Cursor = 1 },
		"cursor ahead":      func(r *api.EventsResponse) { r.Cursor += 5 },
		"unknown kind":      func(r *api.EventsResponse) { r.Events[1].Kind = "explode" },
		"no node":           func(r *api.EventsResponse) { r.Events[2].Node = nil },
		"more, but nothing": func(r *api.EventsResponse) { r.Events, r.Cursor, r.More = []api.Event{}, 0, true },
	} {
		proxy.On(api.PathEvents, servertest.EditJSON(edit))
		if _, err := d.Events(ctx, 0, 0); !errors.Is(err, client.ErrTampered) {
			t.Errorf("%s: %v, want ErrTampered", name, err)
		}
	}
	// Events at or below the cursor given are old news a server replays.
	proxy.On(api.PathEvents, nil)
	resp, err := d.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	replay := resp.Events
	proxy.On(api.PathEvents, servertest.EditJSON(func(r *api.EventsResponse) { r.Events, r.Cursor = replay, 3 }))
	if _, err := d.Events(ctx, 2, 0); !errors.Is(err, client.ErrTampered) {
		t.Errorf("events at or below the cursor: %v, want ErrTampered", err)
	}
	proxy.On(api.PathEvents, servertest.EditJSON(func(r *api.EventsResponse) { r.Volume = nil }))
	if _, err := d.EventsHead(ctx); !errors.Is(err, client.ErrTampered) {
		t.Errorf("EventsHead of another volume: %v, want ErrTampered", err)
	}
	proxy.On(api.PathEvents, servertest.EditJSON(func(r *api.EventsResponse) { r.Events = replay }))
	if _, err := d.EventsHead(ctx); !errors.Is(err, client.ErrTampered) {
		t.Errorf("EventsHead with events: %v, want ErrTampered", err)
	}
}

// TestTrashFolderSince: a folder trashed as seen at a cursor is refused
// (a conflict) once something in it changed after that cursor, and goes
// to the trash when nothing did.
func TestTrashFolderSince(t *testing.T) {
	de := newDrive(t, server.Options{})
	d := de.drive
	dir, err := d.Mkdir(ctx, "/dir/sub", true)
	if err != nil {
		t.Fatal(err)
	}
	top, err := d.Resolve(ctx, "/dir")
	if err != nil {
		t.Fatal(err)
	}
	seen, err := d.EventsHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another device adds a folder inside after the cursor.
	if _, err := d.MkdirIn(ctx, dir, "added"); err != nil {
		t.Fatal(err)
	}
	if err := d.TrashFolderSince(ctx, top, seen); !client.IsConflict(err) {
		t.Fatalf("trash of a folder changed since the cursor: %v, want a conflict", err)
	}
	if _, err := d.Resolve(ctx, "/dir/sub/added"); err != nil {
		t.Fatalf("after the refused trash: %v", err)
	}
	now, err := d.EventsHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.TrashFolderSince(ctx, top, now); err != nil {
		t.Fatalf("trash of a folder unchanged since the cursor: %v", err)
	}
	if _, err := d.Resolve(ctx, "/dir"); !errors.Is(err, client.ErrNotExist) {
		t.Fatalf("after the trash, /dir: %v", err)
	}
}
