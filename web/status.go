package web

import (
	"context"
	"time"

	"checkpoint"
)

// The web server reads the rest of the daemon through these small
// interfaces. Each is optional: a nil value means the part is absent, and the
// page, /metrics and /healthz say so.

// Scanner reports the frame loop's counters; *checkpoint.Scanner satisfies it.
type Scanner interface {
	Stats() checkpoint.ScannerStats
}

// Camera reports the frame source's counters; every checkpoint.Source
// satisfies it.
type Camera interface {
	Stats() checkpoint.SourceStats
}

// Cache is what the server needs of the status cache: the newest verified
// feed time (zero before the first sync) and whether the cache is stale.
type Cache interface {
	FeedTime() time.Time
	Stale(now time.Time) bool
}

// Pinger is optionally implemented by a Cache: /healthz calls Ping and reports
// the cache as not open when it fails.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Versioner is optionally implemented by a Cache: the feed version applied,
// reported when no Sync is given.
type Versioner interface {
	Version() int64
}

// SyncStats are the background sync's counters, as /metrics and the page
// show them.
type SyncStats struct {
	Version     int64     // feed version applied to the cache; 0 when none
	Errors      uint64    // failed sync attempts
	LastSuccess time.Time // zero before the first successful sync
	Stick       string    // the last USB stick's result, in words; empty: none
	// Firmware is the firmware's state in words (the last version rolled
	// back, and why); empty: nothing to say. FirmwareFailures counts the
	// versions rolled back on this gate.
	Firmware         string
	FirmwareFailures int
}

// Compile-time checks that the scanner and sources fit.
var (
	_ Scanner = (*checkpoint.Scanner)(nil)
	_ Camera  = checkpoint.Source(nil)
)
