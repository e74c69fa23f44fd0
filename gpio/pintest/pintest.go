// Package pintest helps tests watch the gate's outputs: the fake clock of
// package clocktest that steps pattern playback deterministically, and a Recorder that logs every
// level change of periph.io gpiotest pins with its time offset.
//
// A test of the whole loop wires them like this:
//
//	clk := pintest.NewClock()
//	rec := pintest.NewRecorder(clk)
//	pins, _ := gpio.NewPins(rec.Outputs())        // five gpiotest pins, named after their outputs
//	sig := gpio.New(pins, gpio.Options{Clock: clk})
//	defer sig.Close()
//	... sig.Show(checkpoint.Green) (or the scanner calls it) ...
//	clk.Advance(3*time.Second, sig.Sync)          // play the pattern to its end
//	rec.Lines() // ["0s green High", "0s buzzer High", "0s relay High", "100ms buzzer Low", ...]
//
// To see each verdict's whole pattern in a scanner test, call
// clk.Advance(3*time.Second, sig.Sync) from an Observer's Verdict method:
// it runs in the frame loop, so the next frame waits until the pattern has
// played out in fake time.
package pintest

import (
	"fmt"
	"sync"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"checkpoint/clocktest"
	"checkpoint/gpio"
)

// Epoch is the fake clock's starting time.
var Epoch = clocktest.Epoch

// Clock is the fake clock pattern playback runs on (clocktest.Clock).
type Clock = clocktest.Clock

// NewClock returns a fake clock at Epoch.
func NewClock() *Clock { return clocktest.New(Epoch) }

// Transition is one level change of a recorded pin.
type Transition struct {
	At    time.Duration // since the recorder was made
	Pin   string        // the name the pin was recorded under
	Level pgpio.Level
}

// String formats the transition as "1.5s green Low".
func (t Transition) String() string { return fmt.Sprintf("%s %s %s", t.At, t.Pin, t.Level) }

// Recorder records every level change of the pins it wraps, in order.
type Recorder struct {
	now   func() time.Time
	start time.Time
	mu    sync.Mutex
	log   []Transition
	pins  map[string]*gpiotest.Pin
}

// NewRecorder returns a recorder whose offsets are read from clock (nil:
// the machine's clock).
func NewRecorder(clock interface{ Now() time.Time }) *Recorder {
	now := time.Now
	if clock != nil {
		now = clock.Now
	}
	return &Recorder{now: now, start: now(), pins: map[string]*gpiotest.Pin{}}
}

// Wrap returns p recording its level changes under name. The pin's level
// when wrapped is the starting point: only changes are recorded.
func (r *Recorder) Wrap(name string, p pgpio.PinIO) pgpio.PinIO {
	return &recPin{PinIO: p, r: r, name: name, last: p.Read()}
}

// Pin returns a new gpiotest pin named name (starting Low, with an edge
// channel for inputs), recorded under name.
func (r *Recorder) Pin(name string) (*gpiotest.Pin, pgpio.PinIO) {
	p := &gpiotest.Pin{N: name, EdgesChan: make(chan pgpio.Level, 16)}
	r.mu.Lock()
	r.pins[name] = p
	r.mu.Unlock()
	return p, r.Wrap(name, p)
}

// Outputs returns one recorded gpiotest pin for each output, named after the
// output (green, yellow, red, buzzer, relay), ready for gpio.NewPins. The
// outputs listed in activeLow are active-low.
func (r *Recorder) Outputs(activeLow ...gpio.Output) []gpio.Pin {
	var pins []gpio.Pin
	for o := gpio.Output(0); o < gpio.NumOutputs; o++ {
		_, io := r.Pin(o.String())
		low := false
		for _, a := range activeLow {
			low = low || a == o
		}
		pins = append(pins, gpio.Pin{Output: o, Name: o.String(), IO: io, ActiveLow: low})
	}
	return pins
}

// Level returns the current level of the pin recorded under name.
func (r *Recorder) Level(name string) pgpio.Level {
	r.mu.Lock()
	p := r.pins[name]
	r.mu.Unlock()
	if p == nil {
		return pgpio.Low
	}
	return p.Read()
}

// Transitions returns every transition so far, in order.
func (r *Recorder) Transitions() []Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Transition(nil), r.log...)
}

// Lines returns the transitions formatted as by Transition.String.
func (r *Recorder) Lines() []string {
	var out []string
	for _, t := range r.Transitions() {
		out = append(out, t.String())
	}
	return out
}

// Reset forgets the transitions recorded so far and restarts the offsets.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = nil
	r.start = r.now()
}

func (r *Recorder) record(name string, l pgpio.Level) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, Transition{At: r.now().Sub(r.start), Pin: name, Level: l})
}

// recPin records the level changes of the pin it wraps.
type recPin struct {
	pgpio.PinIO
	r    *Recorder
	name string
	mu   sync.Mutex
	last pgpio.Level
}

// Out records a change of level, then sets it.
func (p *recPin) Out(l pgpio.Level) error {
	p.mu.Lock()
	changed := l != p.last
	p.last = l
	p.mu.Unlock()
	if changed {
		p.r.record(p.name, l)
	}
	return p.PinIO.Out(l)
}

// Real returns the wrapped pin.
func (p *recPin) Real() pgpio.PinIO { return p.PinIO }

// Chip is a fake gpio.Chip: a GPIO controller with a label and named
// gpiotest lines, for tests of the pin lookup across several chips (a Pi 5
// has its header pins on its second chip).
type Chip struct {
	Name  string
	Lines map[string]*gpiotest.Pin
}

var _ gpio.Chip = (*Chip)(nil)

// NewChip returns a chip labelled label with one gpiotest line per name.
func NewChip(label string, names ...string) *Chip {
	c := &Chip{Name: label, Lines: map[string]*gpiotest.Pin{}}
	for i, n := range names {
		c.Lines[n] = &gpiotest.Pin{N: n, Num: i, EdgesChan: make(chan pgpio.Level, 16)}
	}
	return c
}

// Label returns the chip's label.
func (c *Chip) Label() string { return c.Name }

// Line returns the line named name, or nil.
func (c *Chip) Line(name string) pgpio.PinIO {
	if p, ok := c.Lines[name]; ok {
		return p
	}
	return nil
}
