package client_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/client"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/server"
)

// wantStatus checks that err is the server's answer with the status code,
// and that its message (if want is set) says why.
func wantStatus(t *testing.T, what string, err error, status int, want string) {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != status || !strings.Contains(ae.Message, want) {
		t.Errorf("%s: %v, want %d %q", what, err, status, want)
	}
}

// TestShareServerChecks asks the server directly, as a modified client
// would, what the clients also refuse locally: the server must refuse it
// too (docs/crypto.md 13.12).
func TestShareServerChecks(t *testing.T) {
	se := newShareEnv(t, server.Options{}, "alice", "bob", "carol", "dave", "erin")
	a := se.drive(t, "alice")
	if _, err := a.Mkdir(ctx, "/team/sub", true); err != nil {
		t.Fatal(err)
	}
	for u, role := range map[string]crypto.Role{"bob": crypto.RoleEditor, "carol": crypto.RoleUploader, "erin": crypto.RoleViewer} {
		if _, err := se.drive(t, "alice").ShareAdd(ctx, "/team", u, role); err != nil {
			t.Fatal(err)
		}
		if u != "erin" {
			se.accept(t, u, "alice")
		}
	}
	team, err := se.drive(t, "alice").Resolve(ctx, "/team")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := se.drive(t, "alice").Resolve(ctx, "/team/sub")
	if err != nil {
		t.Fatal(err)
	}
	shares, err := se.drive(t, "alice").Shares(ctx, "/team")
	if err != nil || len(shares) != 1 {
		t.Fatal(shares, err)
	}
	raw, err := hex.DecodeString(shares[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	share := "/v1/shares/" + client.RawID(raw)
	shared := "/v1/shared/" + client.RawID(raw)
	node := "/v1/nodes/" + client.RawID(team.ID)

	// Only the owner trashes the shared node itself, even for an editor.
	bob := se.drive(t, "bob")
	wantStatus(t, "editor trashes the shared folder", client.Raw(ctx, bob, http.MethodPost, node+"/trash", nil, nil), 403, "only the owner")
	// An uploader adds to the shared folder only, not below it.
	carol := se.drive(t, "carol")
	var u api.Usage
	if err := client.Raw(ctx, carol, http.MethodGet, "/v1/usage?node="+client.RawID(team.ID), nil, &u); err != nil {
		t.Errorf("uploader asks for room in the shared folder: %v", err)
	}
	wantStatus(t, "uploader asks for room below the shared folder", client.Raw(ctx, carol, http.MethodGet, "/v1/usage?node="+client.RawID(sub.ID), nil, &u), 403, "uploader")
	wantStatus(t, "uploader lists", client.Raw(ctx, carol, http.MethodGet, node+"/children", nil, nil), 403, "uploader")
	// A pending member reaches nothing yet.
	erin := se.drive(t, "erin")
	wantStatus(t, "pending member lists", client.Raw(ctx, erin, http.MethodGet, node+"/children", nil, nil), 404, "")

	// The share endpoints: strangers see nothing, members cannot end it,
	// and consent must be the member's own signature.
	dave := se.drive(t, "dave")
	wantStatus(t, "stranger reads the share", client.Raw(ctx, dave, http.MethodGet, share, nil, nil), 404, "no such share")
	wantStatus(t, "stranger ends the share", client.Raw(ctx, dave, http.MethodDelete, share, nil, nil), 404, "no such share")
	wantStatus(t, "stranger accepts", client.Raw(ctx, dave, http.MethodPost, shared+"/accept", api.AcceptShareRequest{Acceptance: bytes.Repeat([]byte{7}, 64)}, nil), 404, "no such share")
	wantStatus(t, "stranger declines", client.Raw(ctx, dave, http.MethodPost, shared+"/decline", nil, nil), 404, "no such share")
	wantStatus(t, "stranger lists", client.Raw(ctx, dave, http.MethodGet, node+"/children", nil, nil), 404, "")
	wantStatus(t, "member ends the share", client.Raw(ctx, bob, http.MethodDelete, share, nil, nil), 403, "only the owner")
	wantStatus(t, "forged consent", client.Raw(ctx, erin, http.MethodPost, shared+"/accept", api.AcceptShareRequest{Acceptance: bytes.Repeat([]byte{7}, 64)}, nil), 400, "does not verify")
	var got api.Share
	if err := client.Raw(ctx, bob, http.MethodGet, share, nil, &got); err != nil || len(got.Members) != 1 || got.Members[0].User != "bob" {
		t.Errorf("a member sees only its own entry: %+v, %v", got.Members, err)
	}
	items, err := se.drive(t, "erin").Shared(ctx)
	if err != nil || len(items) != 1 || items[0].State != "pending" {
		t.Errorf("after forged consent: %+v, %v", items, err)
	}

	// A revoked member's session is refused by the server at once, on
	// nodes it knew.
	if _, err := se.drive(t, "alice").ShareRemove(ctx, "/team", "bob", false); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "revoked member lists", client.Raw(ctx, bob, http.MethodGet, node+"/children", nil, nil), 404, "")
	wantStatus(t, "revoked member reads a node", client.Raw(ctx, bob, http.MethodGet, "/v1/nodes/"+client.RawID(sub.ID), nil, nil), 404, "")
}
