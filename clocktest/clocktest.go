// Package clocktest is the fake clock of checkpoint.Clock and
// checkpoint.TimerClock: time moves only when the test moves it.
package clocktest

import (
	"slices"
	"sync"
	"time"

	"checkpoint"
)

// Epoch is where New(time.Time{}) starts: a morning in September 2021.
var Epoch = time.Date(2021, 9, 1, 7, 0, 0, 0, time.UTC)

// Clock is a fake checkpoint.TimerClock, safe for concurrent use. Set and
// Add move the time without firing timers; Advance fires them in order.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

var _ checkpoint.TimerClock = (*Clock)(nil)

// New returns a clock at t (Epoch when t is zero).
func New(t time.Time) *Clock {
	if t.IsZero() {
		t = Epoch
	}
	return &Clock{now: t}
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the time to t, forward or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Add moves the time by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// NewTimer returns a timer that fires when Advance reaches now+d.
func (c *Clock) NewTimer(d time.Duration) checkpoint.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	return t
}

// Pending returns how many timers wait to fire.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the time forward by d, firing the timers that come due in
// deadline order. It calls settle (for example a gpio.Signal's Sync) first
// and after each firing, so that calls made before Advance are handled at
// the current time and timers set in response fire too when they fall
// within d.
func (c *Clock) Advance(d time.Duration, settle func()) {
	if settle != nil {
		settle()
	}
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		slices.SortStableFunc(c.timers, func(a, b *timer) int { return a.at.Compare(b.at) })
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			c.now = end
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		if t.at.After(c.now) {
			c.now = t.at
		}
		t.ch <- c.now
		c.mu.Unlock()
		if settle != nil {
			settle()
		}
	}
}

type timer struct {
	c  *Clock
	at time.Time
	ch chan time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, u := range t.c.timers {
		if u == t {
			t.c.timers = slices.Delete(t.c.timers, i, i+1)
			return true
		}
	}
	return false
}
