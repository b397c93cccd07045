//go:build race

package crypto

// raceEnabled reports whether the race detector is on. It makes sync.Pool
// drop items on purpose, so allocation counts are not meaningful then.
const raceEnabled = true
