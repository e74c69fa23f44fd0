package gpio

import (
	"errors"
	"fmt"
	"sync"

	pgpio "periph.io/x/conn/v3/gpio"
)

// Pin assigns a periph.io pin to an output.
type Pin struct {
	Output    Output
	Name      string // the pin's name as configured, e.g. GPIO17 (for errors)
	IO        pgpio.PinOut
	ActiveLow bool // the output is on when the pin is driven low
}

// Pins drives outputs through periph.io pins. Outputs without a pin are not
// driven.
type Pins struct {
	mu     sync.Mutex
	pins   [NumOutputs]*Pin
	state  State
	closed bool
}

var _ Outputs = (*Pins)(nil)

// level is the pin level that switches a pin's output on or off.
func (p *Pin) level(on bool) pgpio.Level {
	return pgpio.Level(on != p.ActiveLow)
}

// NewPins claims each pin by driving it to its output's safe level (off). A
// pin that cannot be driven is an error naming it; the pins claimed before
// it are left off.
func NewPins(pins []Pin) (*Pins, error) {
	ps := &Pins{}
	for i := range pins {
		p := pins[i]
		if p.Output >= NumOutputs {
			return nil, fmt.Errorf("gpio: pin %s: unknown output %d", p.Name, p.Output)
		}
		if p.IO == nil {
			return nil, fmt.Errorf("gpio %s: pin %s: no pin", p.Output, p.Name)
		}
		if prev := ps.pins[p.Output]; prev != nil {
			return nil, fmt.Errorf("gpio %s: pin %s: output already has pin %s", p.Output, p.Name, prev.Name)
		}
		if err := p.IO.Out(p.level(false)); err != nil {
			return nil, fmt.Errorf("gpio %s: claim pin %s as output: %w", p.Output, p.Name, err)
		}
		ps.pins[p.Output] = &p
	}
	return ps, nil
}

// Set drives the pins whose output changes to s.
func (ps *Pins) Set(s State) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return errClosed
	}
	return ps.set(s, false)
}

func (ps *Pins) set(s State, all bool) error {
	var errs []error
	// Outputs going off switch first (break before make).
	for _, on := range []bool{false, true} {
		for o := Output(0); o < NumOutputs; o++ {
			p := ps.pins[o]
			if p == nil || s.Has(o) != on || (!all && on == ps.state.Has(o)) {
				continue
			}
			if err := p.IO.Out(p.level(on)); err != nil {
				errs = append(errs, fmt.Errorf("gpio %s: set pin %s: %w", o, p.Name, err))
				continue
			}
			ps.state = ps.state&^On(o) | s&On(o)
		}
	}
	return errors.Join(errs...)
}

// Close drives every pin to its safe level (off, relay released), whatever
// the driver believes their state is. The pins stay claimed and driven.
func (ps *Pins) Close() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil
	}
	ps.closed = true
	return ps.set(0, true)
}

// Pin returns the pin of output o, or nil.
func (ps *Pins) Pin(o Output) *Pin {
	if o >= NumOutputs {
		return nil
	}
	return ps.pins[o]
}
