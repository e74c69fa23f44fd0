package web

import (
	"checkpoint/clocktest"
	"context"
	"sync"
	"time"

	"checkpoint"
)

// The fakes of the parts the server reads.

// newFakeClock is the fake clock the rigs start with.
func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC))
}

// fakeScanner reports settable stats.
type fakeScanner struct {
	mu sync.Mutex
	st checkpoint.ScannerStats
}

func (f *fakeScanner) Stats() checkpoint.ScannerStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeScanner) set(st checkpoint.ScannerStats) {
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
}

// fakeCamera reports settable stats.
type fakeCamera struct{ st checkpoint.SourceStats }

func (f *fakeCamera) Stats() checkpoint.SourceStats { return f.st }

// fakeCache is a cache with a feed time, a staleness limit and a ping error.
type fakeCache struct {
	feed    time.Time
	maxAge  time.Duration
	pingErr error
	version int64
}

func (f *fakeCache) Version() int64 { return f.version }

func (f *fakeCache) FeedTime() time.Time { return f.feed }

func (f *fakeCache) Stale(now time.Time) bool { return f.feed.IsZero() || now.Sub(f.feed) > f.maxAge }

func (f *fakeCache) Ping(context.Context) error { return f.pingErr }

var (
	_ Scanner   = (*fakeScanner)(nil)
	_ Camera    = (*fakeCamera)(nil)
	_ Cache     = (*fakeCache)(nil)
	_ Pinger    = (*fakeCache)(nil)
	_ Versioner = (*fakeCache)(nil)
)
