package client

import "github.com/coffer-drive/coffer/internal/crypto"

// SkipLocalChecks makes d behave as a modified client that does not
// refuse by role what the server may refuse, for tests of the server's
// checks and of other clients' rejection of what gets through.
func SkipLocalChecks(d *Drive) { d.skipLocalChecks = true }

// EntryKey returns an entry's node key, for tests that play a former
// member who kept the keys it once held.
func EntryKey(e *Entry) crypto.NodeKey { return e.key }
