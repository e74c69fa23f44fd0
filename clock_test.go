package checkpoint_test

import (
	"checkpoint"
	"checkpoint/clocktest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunningFloorClock(t *testing.T) {
	feed := time.Date(2021, 10, 1, 8, 0, 0, 0, time.UTC)
	var floor atomic.Pointer[time.Time]
	floor.Store(&time.Time{})
	wall := clocktest.New(time.Time{})
	wall.Set(time.Date(1970, 1, 1, 0, 0, 10, 0, time.UTC)) // a Pi without RTC, before any time source
	c := &checkpoint.RunningFloorClock{Clock: wall, Floor: func() time.Time { return *floor.Load() }}

	if got := c.Now(); !got.Equal(wall.Now()) {
		t.Errorf("no floor yet: %v, want the wall clock %v", got, wall.Now())
	}
	floor.Store(&feed)
	first := c.Now()
	if first.Before(feed) || first.After(feed.Add(time.Second)) {
		t.Fatalf("behind the floor: %v, want the floor %v", first, feed)
	}
	// The wall clock stands still behind the floor; the floor keeps running.
	time.Sleep(20 * time.Millisecond)
	if second := c.Now(); second.Sub(first) < 20*time.Millisecond {
		t.Errorf("after 20ms the clock moved %v: it stands still at the floor", second.Sub(first))
	}
	// A newer floor (a sync) is taken from the moment it is seen.
	newer := feed.Add(time.Hour)
	floor.Store(&newer)
	if got := c.Now(); got.Before(newer) || got.After(newer.Add(time.Second)) {
		t.Errorf("after a newer floor: %v, want %v", got, newer)
	}
	// A wall clock ahead of the floor is the time.
	ahead := newer.Add(24 * time.Hour)
	wall.Set(ahead)
	if got := c.Now(); !got.Equal(ahead) {
		t.Errorf("wall clock ahead: %v, want %v", got, ahead)
	}
	// Stepping back (a time server correcting a clock that ran ahead) is
	// allowed down to the running floor, never below it.
	wall.Set(newer.Add(-time.Hour))
	if got := c.Now(); got.Before(newer) {
		t.Errorf("wall clock stepped back: %v is earlier than the floor %v", got, newer)
	}
	var _ checkpoint.Clock = c
	if got := (&checkpoint.RunningFloorClock{Clock: wall}).Now(); !got.Equal(wall.Now()) {
		t.Errorf("nil floor: %v", got)
	}
}
