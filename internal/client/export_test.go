package client

// SkipLocalChecks makes d behave as a modified client that does not
// refuse by role what the server may refuse, for tests of the server's
// checks and of other clients' rejection of what gets through.
func SkipLocalChecks(d *Drive) { d.skipLocalChecks = true }
