// Package gpio drives the gate's outputs: green, yellow and red LEDs, an
// active buzzer and the gate relay. Verdicts become patterns held as data
// (Patterns) that a Signal plays in its own goroutine; drivers (Outputs) set
// the physical outputs: periph.io pins on a Raspberry Pi, a terminal for the
// demo, or nothing.
package gpio

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Output names one of the gate's outputs.
type Output uint8

// The outputs, in the order the config lists them.
const (
	Green  Output = iota // green LED
	Yellow               // yellow LED
	Red                  // red LED
	Buzzer               // active buzzer (on/off)
	Relay                // gate relay: on opens the gate
	NumOutputs
)

var outputNames = [NumOutputs]string{"green", "yellow", "red", "buzzer", "relay"}

// String returns the output's config name: green, yellow, red, buzzer or relay.
func (o Output) String() string {
	if o < NumOutputs {
		return outputNames[o]
	}
	return fmt.Sprintf("output(%d)", uint8(o))
}

// ParseOutput parses an output's config name.
func ParseOutput(s string) (Output, error) {
	for i, n := range outputNames {
		if n == s {
			return Output(i), nil
		}
	}
	return 0, fmt.Errorf("unknown output %q (want one of %s)", s, strings.Join(outputNames[:], ", "))
}

// State is the set of outputs switched on, one bit per Output. The zero
// State is the safe state: everything off, relay released.
type State uint8

// On returns the state with the given outputs on.
func On(outs ...Output) State {
	var s State
	for _, o := range outs {
		s |= 1 << o
	}
	return s
}

// Has reports whether output o is on.
func (s State) Has(o Output) bool { return s&(1<<o) != 0 }

// String lists the outputs that are on, e.g. "green+relay", or "off".
func (s State) String() string {
	if s == 0 {
		return "off"
	}
	var parts []string
	for o := Output(0); o < NumOutputs; o++ {
		if s.Has(o) {
			parts = append(parts, o.String())
		}
	}
	return strings.Join(parts, "+")
}

// Pulse switches one output on from At (since the pattern's start) for For.
type Pulse struct {
	Output Output
	At     time.Duration
	For    time.Duration
}

// Pattern is a set of pulses. A pattern with a Period repeats every Period
// (idle blinks); one without plays once and ends with its last pulse.
type Pattern struct {
	Name   string
	Pulses []Pulse
	Period time.Duration
	// Note is said beside the pattern's word on the terminal ("same
	// person" after an identity check).
	Note string
}

// Length is when the pattern's last pulse ends (or its Period when repeating).
func (p Pattern) Length() time.Duration {
	if p.Period > 0 {
		return p.Period
	}
	var end time.Duration
	for _, u := range p.Pulses {
		end = max(end, u.At+u.For)
	}
	return end
}

// Validate checks that every pulse is well formed and fits the period.
func (p Pattern) Validate() error {
	if p.Period < 0 {
		return fmt.Errorf("pattern %s: negative period", p.Name)
	}
	for i, u := range p.Pulses {
		switch {
		case u.Output >= NumOutputs:
			return fmt.Errorf("pattern %s: pulse %d: unknown output %d", p.Name, i, u.Output)
		case u.At < 0 || u.For <= 0:
			return fmt.Errorf("pattern %s: pulse %d (%s): start must not be negative and length must be positive", p.Name, i, u.Output)
		case p.Period > 0 && u.At+u.For > p.Period:
			return fmt.Errorf("pattern %s: pulse %d (%s) ends after the period %s", p.Name, i, u.Output, p.Period)
		}
	}
	return nil
}

// step is one stretch of constant output state.
type step struct {
	state State
	dur   time.Duration
}

// steps compiles the pulses into stretches of constant state covering
// [0, Length()).
func (p Pattern) steps() []step {
	end := p.Length()
	if end <= 0 {
		return nil
	}
	points := []time.Duration{0, end}
	for _, u := range p.Pulses {
		points = append(points, u.At, u.At+u.For)
	}
	sort.Slice(points, func(i, j int) bool { return points[i] < points[j] })
	var out []step
	for i := 0; i+1 < len(points); i++ {
		t0, t1 := points[i], points[i+1]
		if t1 == t0 || t0 >= end {
			continue
		}
		var s State
		for _, u := range p.Pulses {
			if u.At <= t0 && t0 < u.At+u.For {
				s |= On(u.Output)
			}
		}
		if n := len(out); n > 0 && out[n-1].state == s {
			out[n-1].dur += t1 - t0
			continue
		}
		out = append(out, step{s, t1 - t0})
	}
	return out
}

// Patterns are what a Signal plays for each verdict and idle mode.
type Patterns struct {
	Green  Pattern // verdict green: may pass
	Yellow Pattern // verdict yellow: check manually
	Red    Pattern // verdict red: must not pass
	// Different is the identity check's "different person": the code
	// scanned is not the card holder's (a red verdict, told apart).
	Different Pattern
	Open      Pattern // exit button: open the gate
	Ready     Pattern // idle, all well (usually nothing)
	Stale     Pattern // idle, status cache stale (repeats)
	Fault     Pattern // idle, camera or config fault (repeats)
	// A USB stick's feed: taken, or refused (older than the gate's, not
	// signed by its feed, damaged, pulled too soon).
	StickTaken   Pattern
	StickRefused Pattern
}

// DefaultPatterns returns the patterns of the guide:
//
//	green  green LED 1.5 s + one 100 ms beep + relay pulse 1 s
//	yellow yellow LED 1.5 s + two 100 ms beeps
//	red    red LED 2 s + one 600 ms beep
//	different red LED blinking 3 × 250 ms + three 150 ms beeps (different person)
//	open   relay pulse 1 s
//	stale  slow yellow blink (1 s on, 1 s off)
//	fault  slow red blink (1 s on, 1 s off)
//	stick taken    green and yellow together, three 300 ms blinks, one beep
//	stick refused  red and yellow together, three 300 ms blinks, one long beep
func DefaultPatterns() Patterns {
	ms := time.Millisecond
	p := Patterns{
		Green: Pattern{Name: "green", Pulses: []Pulse{
			{Green, 0, 1500 * ms}, {Buzzer, 0, 100 * ms}, {Relay, 0, 1000 * ms},
		}},
		Yellow: Pattern{Name: "yellow", Pulses: []Pulse{
			{Yellow, 0, 1500 * ms}, {Buzzer, 0, 100 * ms}, {Buzzer, 250 * ms, 100 * ms},
		}},
		Red: Pattern{Name: "red", Pulses: []Pulse{
			{Red, 0, 2000 * ms}, {Buzzer, 0, 600 * ms},
		}},
		Different: Pattern{Name: "different", Pulses: []Pulse{
			{Red, 0, 250 * ms}, {Red, 500 * ms, 250 * ms}, {Red, 1000 * ms, 250 * ms},
			{Buzzer, 0, 150 * ms}, {Buzzer, 500 * ms, 150 * ms}, {Buzzer, 1000 * ms, 150 * ms},
		}},
		Open:  Pattern{Name: "open", Pulses: []Pulse{{Relay, 0, 1000 * ms}}},
		Ready: Pattern{Name: "ready"},
		Stale: Pattern{Name: "stale", Period: 2000 * ms, Pulses: []Pulse{{Yellow, 0, 1000 * ms}}},
		Fault: Pattern{Name: "fault", Period: 2000 * ms, Pulses: []Pulse{{Red, 0, 1000 * ms}}},
	}
	p.StickTaken = Pattern{Name: "stick-taken", Pulses: []Pulse{{Buzzer, 0, 100 * ms}}}
	p.StickRefused = Pattern{Name: "stick-refused", Pulses: []Pulse{{Buzzer, 0, 600 * ms}}}
	for i := range 3 {
		at := time.Duration(i) * 600 * ms
		p.StickTaken.Pulses = append(p.StickTaken.Pulses, Pulse{Green, at, 300 * ms}, Pulse{Yellow, at, 300 * ms})
		p.StickRefused.Pulses = append(p.StickRefused.Pulses, Pulse{Red, at, 300 * ms}, Pulse{Yellow, at, 300 * ms})
	}
	return p
}

// Validate checks every pattern; verdict patterns must play once and idle
// blinks must repeat or be empty.
func (ps Patterns) Validate() error {
	var errs []error
	for _, p := range []Pattern{ps.Green, ps.Yellow, ps.Red, ps.Different, ps.Open, ps.StickTaken, ps.StickRefused} {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		} else if p.Period != 0 {
			errs = append(errs, fmt.Errorf("pattern %s: a verdict pattern plays once and has no period", p.Name))
		}
	}
	for _, p := range []Pattern{ps.Ready, ps.Stale, ps.Fault} {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		} else if p.Period == 0 && len(p.Pulses) > 0 {
			errs = append(errs, fmt.Errorf("pattern %s: an idle pattern with pulses needs a period", p.Name))
		}
	}
	return errors.Join(errs...)
}
