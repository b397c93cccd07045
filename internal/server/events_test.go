package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	blobfile "github.com/coffer-drive/coffer/internal/blob/file"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/server"
	"github.com/coffer-drive/coffer/internal/servertest"
)

// eventsUser is an account with its drive, for the events tests.
type eventsUser struct {
	t     *testing.T
	url   string // the server asked for events
	sess  *client.SessionFile
	c     *client.Client
	drive *client.Drive
}

func newEventsUser(t *testing.T, env *servertest.Env, name string) *eventsUser {
	t.Helper()
	c, sess := account(t, env, name, name+" password")
	d, err := c.Drive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &eventsUser{t: t, url: env.URL, sess: sess, c: c, drive: d}
}

// get asks for the events with the query and returns the status and the
// answer or the error.
func (u *eventsUser) get(ctx context.Context, query string) (int, *api.EventsResponse, api.ErrorDetail) {
	u.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.url+api.PathEvents+query, nil)
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+u.sess.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		u.t.Fatalf("GET events%s: %v", query, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		u.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, errorBody(u.t, body.Bytes())
	}
	var out api.EventsResponse
	if err := json.Unmarshal(body.Bytes(), &out); err != nil {
		u.t.Fatalf("GET events%s: %v: %s", query, err, body.Bytes())
	}
	if !bytes.Equal(out.Volume, u.drive.Root().Record.Volume) {
		u.t.Errorf("GET events%s: volume %x, want the caller's %x", query, out.Volume, u.drive.Root().Record.Volume)
	}
	if out.Events == nil {
		u.t.Errorf("GET events%s: events is null, want a list", query)
	}
	return resp.StatusCode, &out, api.ErrorDetail{}
}

// head returns the cursor of the head.
func (u *eventsUser) head() uint64 {
	u.t.Helper()
	status, resp, e := u.get(context.Background(), "")
	if status != http.StatusOK || len(resp.Events) != 0 {
		u.t.Fatalf("GET events without since: %d %+v %+v", status, resp, e)
	}
	return resp.Cursor
}

// after returns the events after since, checking the numbering and the
// cursor, and the new cursor.
func (u *eventsUser) after(since uint64) ([]api.Event, uint64) {
	u.t.Helper()
	status, resp, e := u.get(context.Background(), fmt.Sprintf("?since=%d", since))
	if status != http.StatusOK {
		u.t.Fatalf("GET events after %d: %d %+v", since, status, e)
	}
	for i, ev := range resp.Events {
		if ev.Seq != since+uint64(i)+1 {
			u.t.Fatalf("event %d of the answer after %d has seq %d", i, since, ev.Seq)
		}
		if ev.Time.IsZero() {
			u.t.Errorf("event %d has no time", ev.Seq)
		}
	}
	want := since + uint64(len(resp.Events))
	if resp.Cursor != want || resp.More {
		u.t.Fatalf("cursor %d, more %v after %d events after %d; want %d and no more", resp.Cursor, resp.More, len(resp.Events), since, want)
	}
	return resp.Events, resp.Cursor
}

// expect checks that the events after *cursor are want, and moves the
// cursor past them.
func (u *eventsUser) expect(what string, cursor *uint64, want ...api.Event) {
	u.t.Helper()
	got, next := u.after(*cursor)
	*cursor = next
	if len(got) != len(want) {
		u.t.Errorf("%s: %d events %s, want %d %s", what, len(got), kinds(got), len(want), kinds(want))
		return
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.Kind || !bytes.Equal(g.Node, w.Node) || !bytes.Equal(g.Parent, w.Parent) ||
			!bytes.Equal(g.OldParent, w.OldParent) || (w.Version != 0 && g.Version != w.Version) {
			u.t.Errorf("%s: event %d = %s %x parent %x old %x v%d; want %s %x parent %x old %x v%d", what, g.Seq,
				g.Kind, g.Node, g.Parent, g.OldParent, g.Version, w.Kind, w.Node, w.Parent, w.OldParent, w.Version)
		}
		if w.Kind == api.EventDelete && g.Version != 0 {
			u.t.Errorf("%s: delete event %d has version %d, want 0", what, g.Seq, g.Version)
		}
	}
}

func kinds(list []api.Event) []string {
	var out []string
	for _, e := range list {
		out = append(out, e.Kind)
	}
	return out
}

func (u *eventsUser) resolve(p string) *client.Entry {
	u.t.Helper()
	e, err := u.drive.Resolve(context.Background(), p)
	if err != nil {
		u.t.Fatalf("resolve %s: %v", p, err)
	}
	return e
}

func (u *eventsUser) put(remote, content string, overwrite bool) *client.Entry {
	u.t.Helper()
	local := filepath.Join(u.t.TempDir(), "f")
	if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
		u.t.Fatal(err)
	}
	if err := u.drive.Put(context.Background(), []string{local}, remote, client.PutOptions{Overwrite: overwrite}); err != nil {
		u.t.Fatalf("put %s: %v", remote, err)
	}
	return u.resolve(remote)
}

// TestEventsOfEveryChange: each change to a drive shows in its feed, in
// order, with the node, its parents and its version.
func TestEventsOfEveryChange(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t, server.Options{})
	alice := newEventsUser(t, env, "alice")
	bob := newEventsUser(t, env, "bob")
	root := alice.drive.Root().ID
	cursor := alice.head()

	docs, err := alice.drive.Mkdir(ctx, "/docs", false)
	if err != nil {
		t.Fatal(err)
	}
	alice.expect("mkdir", &cursor, api.Event{Kind: api.EventCreate, Node: docs.ID, Parent: root, Version: docs.Record.Version})

	f := alice.put("/docs/a.txt", "one", false)
	alice.expect("put", &cursor, api.Event{Kind: api.EventCreate, Node: f.ID, Parent: docs.ID, Version: f.Record.Version})

	f = alice.put("/docs/a.txt", "two", true)
	alice.expect("overwrite", &cursor, api.Event{Kind: api.EventRevision, Node: f.ID, Parent: docs.ID, Version: f.Record.Version})

	if err := alice.drive.Move(ctx, "/docs/a.txt", "/b.txt"); err != nil {
		t.Fatal(err)
	}
	f = alice.resolve("/b.txt")
	alice.expect("move", &cursor, api.Event{Kind: api.EventUpdate, Node: f.ID, Parent: root, OldParent: docs.ID, Version: f.Record.Version})

	if err := alice.drive.Move(ctx, "/b.txt", "/c.txt"); err != nil {
		t.Fatal(err)
	}
	f = alice.resolve("/c.txt")
	alice.expect("rename", &cursor, api.Event{Kind: api.EventUpdate, Node: f.ID, Parent: root, Version: f.Record.Version})

	if err := alice.drive.Remove(ctx, "/c.txt", false); err != nil {
		t.Fatal(err)
	}
	alice.expect("trash", &cursor, api.Event{Kind: api.EventTrash, Node: f.ID, Parent: root, Version: f.Record.Version})
	if err := alice.drive.RestoreFromTrash(ctx, "/c.txt"); err != nil {
		t.Fatal(err)
	}
	alice.expect("restore", &cursor, api.Event{Kind: api.EventRestore, Node: f.ID, Parent: root, Version: f.Record.Version})
	if err := alice.drive.Remove(ctx, "/c.txt", false); err != nil {
		t.Fatal(err)
	}
	if n, err := alice.drive.EmptyTrash(ctx); err != nil || n != 1 {
		t.Fatalf("empty trash: %d, %v", n, err)
	}
	alice.expect("empty trash", &cursor, api.Event{Kind: api.EventTrash, Node: f.ID, Parent: root},
		api.Event{Kind: api.EventDelete, Node: f.ID, Parent: root})

	// Sharing, and the member's answer, change the owner's view of the
	// shared folder.
	if _, err := alice.drive.ShareAdd(ctx, "/docs", "bob", crypto.RoleViewer); err != nil {
		t.Fatal(err)
	}
	got, next := alice.after(cursor)
	if len(got) == 0 || !slices.ContainsFunc(got, func(e api.Event) bool { return e.Kind == api.EventShare && bytes.Equal(e.Node, docs.ID) }) {
		t.Errorf("share: events %s, want a share event on /docs", kinds(got))
	}
	cursor = next
	bobCursor := bob.head()
	shared, err := bob.drive.Shared(ctx)
	if err != nil || len(shared) != 1 {
		t.Fatalf("bob's shares: %v, %v", shared, err)
	}
	if _, err := bob.drive.Accept(ctx, shared[0].ID); err != nil {
		t.Fatal(err)
	}
	alice.expect("accept", &cursor, api.Event{Kind: api.EventShare, Node: docs.ID, Parent: root})

	// None of it is bob's: his feed is his volume's only.
	if got, _ := bob.after(0); len(got) != 0 {
		t.Errorf("bob's feed holds %d events of alice's drive: %s", len(got), kinds(got))
	}
	if h := bob.head(); h != bobCursor || h != 0 {
		t.Errorf("bob's head moved from %d to %d", bobCursor, h)
	}
}

// TestEventsLongPoll: a long-poll answers with the change that another
// request commits meanwhile, through this instance (which wakes it) or
// through another one (which it finds by polling the database).
func TestEventsLongPoll(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	// A second instance on the same database that hears of no commit:
	// the store it is given keeps quiet, as another process's would.
	other := servertest.StartOn(t, quietStore{env.Store}, env.Blobs, env.Dir, server.Options{})
	alice := newEventsUser(t, env, "alice")
	for i, via := range []string{env.URL, other.URL} {
		cursor := alice.head()
		poller := *alice
		poller.url = via
		type answer struct {
			status int
			resp   *api.EventsResponse
		}
		done := make(chan answer, 1)
		// Generous: the answer must come with the event, not at the end
		// of the wait, but the test asserts no time.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		go func() {
			status, resp, _ := poller.get(ctx, fmt.Sprintf("?since=%d&wait=%d", cursor, api.MaxEventsWait))
			done <- answer{status, resp}
		}()
		dir, err := alice.drive.Mkdir(context.Background(), fmt.Sprint("/waited", i), false)
		if err != nil {
			t.Fatal(err)
		}
		a := <-done
		if a.status != http.StatusOK || len(a.resp.Events) != 1 || !bytes.Equal(a.resp.Events[0].Node, dir.ID) ||
			a.resp.Events[0].Kind != api.EventCreate || a.resp.Cursor != cursor+1 {
			t.Errorf("long-poll via %s: %d %+v, want the new folder's create event", via, a.status, a.resp)
		}
	}

	// Without a change, a short wait answers with no events and the same
	// cursor.
	cursor := alice.head()
	status, resp, _ := alice.get(context.Background(), fmt.Sprintf("?since=%d&wait=1", cursor))
	if status != http.StatusOK || len(resp.Events) != 0 || resp.Cursor != cursor || resp.More {
		t.Errorf("an idle wait: %d %+v", status, resp)
	}
}

// quietStore is a store whose commits wake no long-poll.
type quietStore struct{ meta.Store }

func (quietStore) WatchEvents(func([]byte)) func() { return func() {} }

// TestEventsStopWaiters: a server shutting down answers its long-polls
// at once, with no events, rather than holding the shutdown up.
func TestEventsStopWaiters(t *testing.T) {
	dir := t.TempDir()
	store := servertest.OpenStore(t, dir)
	blobs, err := blobfile.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	srv, err := server.New(context.Background(), store, blobs, slog.New(slog.DiscardHandler), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	alice := newEventsUser(t, &servertest.Env{URL: hs.URL}, "alice")
	cursor := alice.head()
	done := make(chan *api.EventsResponse, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		status, resp, e := alice.get(ctx, fmt.Sprintf("?since=%d&wait=%d", cursor, api.MaxEventsWait))
		if status != http.StatusOK {
			t.Errorf("long-poll at shutdown: %d %+v", status, e)
		}
		done <- resp
	}()
	srv.StopWaiters()
	if resp := <-done; resp != nil && (len(resp.Events) != 0 || resp.Cursor != cursor) {
		t.Errorf("long-poll at shutdown: %+v, want no events", resp)
	}
	// Later ones do not wait either.
	status, resp, _ := alice.get(ctx, fmt.Sprintf("?since=%d&wait=%d", cursor, api.MaxEventsWait))
	if status != http.StatusOK || len(resp.Events) != 0 {
		t.Errorf("long-poll after shutdown: %d %+v", status, resp)
	}
}

// TestEventsCursorExpired: a cursor whose events were pruned, or that is
// ahead of the history, is 410 Gone with its code.
func TestEventsCursorExpired(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t, server.Options{})
	alice := newEventsUser(t, env, "alice")
	for _, p := range []string{"/a", "/b", "/c"} {
		if _, err := alice.drive.Mkdir(ctx, p, false); err != nil {
			t.Fatal(err)
		}
	}
	head := alice.head()
	if _, err := env.Store.PruneEvents(ctx, time.Now().Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	for _, since := range []uint64{0, head - 2, head + 1, head + 1000} {
		status, _, e := alice.get(ctx, fmt.Sprintf("?since=%d&wait=5", since))
		if status != http.StatusGone || e.Code != api.CodeCursorExpired || e.Message != "cursor too old; do a full rescan" {
			t.Errorf("since %d of %d: %d %+v, want 410 %s", since, head, status, e, api.CodeCursorExpired)
		}
	}
	if got, _ := alice.after(head - 1); len(got) != 1 {
		t.Errorf("after %d: %d events, want the one kept", head-1, len(got))
	}
}

// TestEventsBadRequests: malformed parameters are 400, and the feed needs
// a session.
func TestEventsBadRequests(t *testing.T) {
	env := servertest.Start(t, server.Options{})
	alice := newEventsUser(t, env, "alice")
	for _, q := range []string{"?since=-1", "?since=x", "?since=", "?since=18446744073709551616",
		"?since=0&wait=61", "?since=0&wait=-1", "?since=0&wait=1.5", "?since=0&wait="} {
		status, _, e := alice.get(context.Background(), q)
		if status != http.StatusBadRequest || e.Code != api.CodeBadRequest {
			t.Errorf("%s: %d %+v, want 400", q, status, e)
		}
	}
	if status, _, body := call(t, http.MethodGet, env.URL+api.PathEvents+"?since=0", "", nil, ""); status != http.StatusUnauthorized {
		t.Errorf("no session: %d %s", status, body)
	}
	// An account without a drive has no feed.
	_, sess := account(t, env, "nodrive", "nodrive password")
	if status, _, body := call(t, http.MethodGet, env.URL+api.PathEvents+"?since=0", "", nil, sess.Token); status != http.StatusNotFound {
		t.Errorf("no drive: %d %s", status, body)
	}
}

// TestTrashUnchangedSinceIsTheOwners: a member who may trash in a shared
// folder cannot send unchanged_since (a point of the owner's history,
// which would also tell the member how far it goes); the owner can.
func TestTrashUnchangedSinceIsTheOwners(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t, server.Options{})
	alice, bob := newEventsUser(t, env, "alice"), newEventsUser(t, env, "bob")
	if _, err := alice.drive.Mkdir(ctx, "/team/inner", true); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.drive.ShareAdd(ctx, "/team", "bob", crypto.RoleEditor); err != nil {
		t.Fatal(err)
	}
	list, err := bob.drive.Shared(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("bob's shares: %v, %v", list, err)
	}
	if _, err := bob.drive.Accept(ctx, list[0].ID); err != nil {
		t.Fatal(err)
	}
	inner, err := alice.drive.Resolve(ctx, "/team/inner")
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("%s/v1/nodes/%s/trash?expect_version=%d&unchanged_since=%d", env.URL,
		base64.RawURLEncoding.EncodeToString(inner.ID), inner.Record.Version, alice.head())
	status, _, body := call(t, http.MethodPost, path, "application/json", nil, bob.sess.Token)
	if status != http.StatusBadRequest || !bytes.Contains(body, []byte("owner")) {
		t.Fatalf("bob's trash with unchanged_since: %d %s, want 400", status, body)
	}
	status, _, body = call(t, http.MethodPost, path, "application/json", nil, alice.sess.Token)
	if status != http.StatusOK {
		t.Fatalf("alice's trash with unchanged_since: %d %s", status, body)
	}
}
