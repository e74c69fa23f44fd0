// Package backoff is the retry pacing every reconnecting part of the gate
// shares: the camera sources restarting their device and the feed retrying
// a failed sync.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Exponential returns the wait after n failures in a row: first for the
// first failure, doubled for each further one, at most max (n < 1 counts as
// one).
func Exponential(first, max time.Duration, n int) time.Duration {
	if first <= 0 {
		return 0
	}
	d := first << min(max0(n-1), 30)
	if d > max || d <= 0 {
		return max
	}
	return d
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

// Jitter returns d less up to a tenth of it, at random, so that many gates
// that failed together do not retry together.
func Jitter(d time.Duration) time.Duration {
	if d < 10 {
		return d
	}
	return d - rand.N(d/10)
}

// Wait waits for d or until ctx is done, and reports whether d passed.
func Wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
