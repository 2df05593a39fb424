//go:build race

package target

// raceEnabled: the race detector's sync.Pool drops buffers at random, so
// allocation counts mean nothing under it.
const raceEnabled = true
