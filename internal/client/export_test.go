package client

import (
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
