//go:build race

package cache

// raceEnabled: the race detector changes allocation counts (and sync.Pool drops items).
const raceEnabled = true
