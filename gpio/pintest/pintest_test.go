package pintest

import (
	"strings"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
)

func TestClockFiresInDeadlineOrder(t *testing.T) {
	c := NewClock()
	late := c.NewTimer(2 * time.Second)
	early := c.NewTimer(time.Second)
	stopped := c.NewTimer(500 * time.Millisecond)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once")
	}
	var order []string
	c.Advance(1500*time.Millisecond, func() {
		select {
		case at := <-early.C():
			order = append(order, "early "+at.Sub(Epoch).String())
		case <-late.C():
			order = append(order, "late")
		default:
		}
	})
	if strings.Join(order, ",") != "early 1s" || c.Now() != Epoch.Add(1500*time.Millisecond) || c.Pending() != 1 {
		t.Fatalf("fired %v, now %s, pending %d", order, c.Now().Sub(Epoch), c.Pending())
	}
	c.Advance(time.Second, nil)
	if at := <-late.C(); at != Epoch.Add(2*time.Second) {
		t.Fatalf("late fired at %s", at.Sub(Epoch))
	}
}

func TestRecorderRecordsChangesOnly(t *testing.T) {
	c := NewClock()
	r := NewRecorder(c)
	raw, p := r.Pin("relay")
	p.Out(pgpio.Low) // no change from the starting level
	c.Advance(time.Second, nil)
	p.Out(pgpio.High)
	p.Out(pgpio.High)
	c.Advance(250*time.Millisecond, nil)
	p.Out(pgpio.Low)
	if got := strings.Join(r.Lines(), ","); got != "1s relay High,1.25s relay Low" {
		t.Fatalf("recorded %s", got)
	}
	if raw.Read() != pgpio.Low || r.Level("relay") != pgpio.Low {
		t.Fatal("the wrapped pin does not hold the level")
	}
	r.Reset()
	if len(r.Transitions()) != 0 {
		t.Fatal("Reset kept transitions")
	}
}
