package gpio

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3"
)

// Wiring says which pin drives each output, and which reads the optional
// button. Pins are BCM names such as GPIO17; an empty name is not driven.
type Wiring struct {
	Green, Yellow, Red, Buzzer, Relay string
	// ActiveLow names the outputs driven low when on (green, yellow, red,
	// buzzer, relay): most relay boards are.
	ActiveLow []string
	// Button, when set, is an input whose debounced press pulses the relay.
	Button          string
	ButtonActiveLow bool
	Debounce        time.Duration
}

// DefaultWiring is the standard gate wiring: green LED GPIO17, yellow
// GPIO27, red GPIO22, buzzer GPIO23, relay GPIO24, all active-high, no
// button.
func DefaultWiring() Wiring {
	return Wiring{Green: "GPIO17", Yellow: "GPIO27", Red: "GPIO22", Buzzer: "GPIO23", Relay: "GPIO24", Debounce: 50 * time.Millisecond}
}

// Open builds the Signal of a driver: "periph" (real pins as wired,
// initialising periph.io's host drivers), "terminal" (lines on w) or
// "none". With a button wired (periph only), a debounced press pulses the
// relay.
func Open(driver string, wr Wiring, w io.Writer, log *slog.Logger) (*Signal, error) {
	switch driver {
	case "periph":
		if _, err := host.Init(); err != nil {
			return nil, fmt.Errorf("gpio: initialise periph.io host drivers: %w", err)
		}
		chips, err := kernelChips()
		if err != nil {
			return nil, err
		}
		if log != nil {
			log.Debug("gpio chips", "chips", chips.Labels())
		}
		return OpenPins(wr, chips.ByName, Options{Logger: log})
	case "terminal":
		return New(NewTerminal(w, ColorEnabled(w, nil)), Options{Logger: log}), nil
	case "none", "":
		return New(None{}, Options{Logger: log}), nil
	}
	return nil, fmt.Errorf("gpio.driver: %q is not periph, terminal or none", driver)
}

// OpenPins claims the wired pins through byName (gpioreg.ByName on a gate; a
// map of gpiotest pins in tests) and starts a Signal on them, watching the
// button when one is wired.
func OpenPins(wr Wiring, byName func(string) pgpio.PinIO, opts Options) (*Signal, error) {
	pins, err := wr.Pins(byName)
	if err != nil {
		return nil, err
	}
	ps, err := NewPins(pins)
	if err != nil {
		return nil, err
	}
	s := New(ps, opts)
	if wr.Button != "" {
		if err := s.WatchPress(wr.Button, wr.ButtonActiveLow, wr.Debounce, byName, s.Open); err != nil {
			s.Close()
			return nil, fmt.Errorf("gpio.button: %w", err)
		}
	}
	return s, nil
}

// Pins looks up the wired output pins by name. A pin that does not exist is
// an error naming its output and pin.
func (wr Wiring) Pins(byName func(string) pgpio.PinIO) ([]Pin, error) {
	names := [NumOutputs]string{wr.Green, wr.Yellow, wr.Red, wr.Buzzer, wr.Relay}
	for _, n := range wr.ActiveLow {
		if _, err := ParseOutput(n); err != nil {
			return nil, fmt.Errorf("gpio.active_low: %w", err)
		}
	}
	var pins []Pin
	for o := Output(0); o < NumOutputs; o++ {
		name := names[o]
		if name == "" {
			continue
		}
		pin := byName(name)
		if pin == nil {
			return nil, fmt.Errorf("gpio.%s: pin %s not found (pins are BCM names such as GPIO17)", o, name)
		}
		pins = append(pins, Pin{Output: o, Name: name, IO: pin, ActiveLow: slices.Contains(wr.ActiveLow, o.String())})
	}
	return pins, nil
}

// WatchPress calls onPress on each debounced press of the button on pin
// (a BCM name, found through byName: gpioreg.ByName on a gate), such as a
// handheld's trigger. The watch ends when the Signal closes.
func (s *Signal) WatchPress(pin string, activeLow bool, debounce time.Duration, byName func(string) pgpio.PinIO, onPress func()) error {
	in := byName(pin)
	if in == nil {
		return fmt.Errorf("pin %s not found (pins are BCM names such as GPIO6)", pin)
	}
	return s.WatchButton(Button{Name: pin, IO: in, ActiveLow: activeLow, Debounce: debounce}, func(pressed bool) {
		if pressed {
			onPress()
		}
	})
}

// PinByName finds a pin of the gate by name on whichever kernel GPIO chip
// has it (Open with the periph driver has initialised periph.io); nil when
// none has.
func PinByName(name string) pgpio.PinIO {
	chips, err := kernelChips()
	if err != nil {
		return nil
	}
	return chips.ByName(name)
}
