package client

import (
	"context"
	"testing"

	"github.com/coffer-drive/coffer/internal/crypto"
)

// SkipLocalChecks makes d behave as a modified client that does not
// refuse by role what the server may refuse, for tests of the server's
// checks and of other clients' rejection of what gets through.
func SkipLocalChecks(d *Drive) { d.skipLocalChecks = true }

// EntryKey returns an entry's node key, for tests that play a former
// member who kept the keys it once held.
func EntryKey(e *Entry) crypto.NodeKey { return e.key }

// SealDropsToStrangeInbox makes d play an uploader's client that seals its
// uploads to an inbox key of its own: validly signed, openable by nobody.
func SealDropsToStrangeInbox(t testing.TB, d *Drive) {
	k, err := crypto.NewInboxKey()
	if err != nil {
		t.Fatal(err)
	}
	d.dropInbox = k.Public()
}

// Raw sends one request with d's session, as a modified client could, so
// that tests reach the server's own checks.
func Raw(ctx context.Context, d *Drive, method, path string, in, out any) error {
	return d.acc.t.do(ctx, method, path, in, out)
}

// RawID is how share and node IDs appear in API paths.
func RawID(id []byte) string { return b64(id) }
