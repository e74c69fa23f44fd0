package clocktest

import (
	"testing"
	"time"
)

func TestAdvanceFiresInOrder(t *testing.T) {
	c := New(time.Time{})
	if !c.Now().Equal(Epoch) {
		t.Fatalf("starts at %v, want %v", c.Now(), Epoch)
	}
	late, early, stopped := c.NewTimer(3*time.Second), c.NewTimer(time.Second), c.NewTimer(2*time.Second)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop: want true once, then false")
	}
	var fired []time.Duration
	settle := func() {
		for _, tm := range []struct {
			d  time.Duration
			tm interface{ C() <-chan time.Time }
		}{{time.Second, early}, {3 * time.Second, late}} {
			select {
			case at := <-tm.tm.C():
				fired = append(fired, at.Sub(Epoch))
			default:
			}
		}
	}
	c.Advance(2*time.Second, settle)
	if len(fired) != 1 || fired[0] != time.Second || c.Pending() != 1 {
		t.Fatalf("after 2s fired %v, pending %d; want [1s] and 1", fired, c.Pending())
	}
	c.Advance(time.Hour, settle)
	if len(fired) != 2 || fired[1] != 3*time.Second || !c.Now().Equal(Epoch.Add(time.Hour+2*time.Second)) {
		t.Fatalf("fired %v at %v", fired, c.Now())
	}
	c.Set(Epoch)
	c.Add(time.Minute)
	if !c.Now().Equal(Epoch.Add(time.Minute)) {
		t.Fatalf("Set and Add: %v", c.Now())
	}
}
